"""Tests for the retention planner: explicit calendars, one test per safety rule, and properties.

The calendar tests spell their instants out in UTC and say in comments what they are locally, so
a reader can check them against a wall clock. The property tests generate random estates and
check every safety rule (1-7) plus GFS against an independent, naive reference.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awsdr.planning.retention import GRANULARITIES, Gfs, PointInfo, RetentionPlan, plan_retention

if TYPE_CHECKING:
    import random

PRIMARY = "ap-northeast-2"
DR = "ap-northeast-1"
DR2 = "us-west-2"
CLASS_OF = {PRIMARY: "primary", DR: "dr", DR2: "dr"}
NOTHING = Gfs()


def utc(text: str) -> datetime:
    """``2026-11-01T05:30`` -> aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def pt(
    window: datetime | str,
    *,
    source: str = "vol-1",
    region: str = DR,
    pid: str | None = None,
    managed: bool = True,
    hold: bool = False,
    completed: bool = True,
    verified_at: datetime | None = None,
    copy_of: str | None = None,
    size: int = 1,
) -> PointInfo:
    """A point; ids default to ``<source>@<region>@<window>``."""
    w = utc(window) if isinstance(window, str) else window
    return PointInfo(
        point_id=pid or f"{source}@{region}@{w:%Y-%m-%dT%H:%M}",
        source_id=source,
        region=region,
        region_class=CLASS_OF[region],
        window=w,
        managed=managed,
        legal_hold=hold,
        completed=completed,
        verified_at=verified_at,
        copy_of=copy_of,
        size_bytes=size,
    )


def plan(points, *, primary=NOTHING, dr=NOTHING, now=None, **kw) -> RetentionPlan:
    """plan_retention with the breaker off unless asked, ``now`` = a day after the newest window."""
    points = list(points)
    if now is None:
        now = max(p.window for p in points) + timedelta(days=1)
    kw.setdefault("max_delete_fraction", 1.0)
    return plan_retention(points, rules={"primary": primary, "dr": dr}, now=now, **kw)


def by_id(result: RetentionPlan) -> dict[str, object]:
    return {d.point.point_id: d for d in result.decisions}


def kept_windows(result: RetentionPlan) -> list[datetime]:
    return sorted(p.window for p in result.kept())


def hours(start: str, count: int, step: timedelta = timedelta(hours=1)) -> list[datetime]:
    first = utc(start)
    return [first + step * i for i in range(count)]


# --- GFS on explicit calendars ------------------------------------------------------------------


def test_new_york_spring_forward_day_has_23_hours_in_one_daily_period():
    # 2026-03-08 in New York: 00:00 EST = 05:00Z ... 01:59 EST, then 03:00 EDT = 07:00Z;
    # the day ends at 2026-03-09 00:00 EDT = 04:00Z. So 05:00Z..03:00Z next day is 23 points, one day.
    windows = hours("2026-03-08T05:00", 23)
    points = [pt(w) for w in windows] + [pt("2026-03-09T04:00")]  # 00:00 EDT on the 9th
    result = plan(points, dr=Gfs(daily=2), tz="America/New_York")
    assert kept_windows(result) == [utc("2026-03-09T03:00"), utc("2026-03-09T04:00")]
    # In UTC the same instants fall on two dates with different representatives.
    in_utc = plan(points, dr=Gfs(daily=2), tz="UTC")
    assert kept_windows(in_utc) == [utc("2026-03-08T23:00"), utc("2026-03-09T04:00")]


def test_new_york_spring_forward_missing_hour_is_no_period():
    # 06:00Z = 01:00 EST, 07:00Z = 03:00 EDT: local 02:xx never exists, so it is no period and the
    # "last 3 hours that have points" reach back over it.
    points = [pt(w) for w in hours("2026-03-08T04:00", 4)]  # 23:00, 00:00, 01:00 EST, 03:00 EDT
    result = plan(points, dr=Gfs(hourly=3), tz="America/New_York")
    assert kept_windows(result) == [utc("2026-03-08T05:00"), utc("2026-03-08T06:00"), utc("2026-03-08T07:00")]


def test_new_york_fall_back_repeated_hour_is_two_periods():
    # 2026-11-01: 01:00 EDT = 05:00Z, then 01:00 EST = 06:00Z (local 01:xx happens twice).
    points = [
        pt("2026-11-01T04:00"),  # 00:00 EDT
        pt("2026-11-01T05:00"),  # 01:00 EDT
        pt("2026-11-01T05:30"),  # 01:30 EDT
        pt("2026-11-01T06:00"),  # 01:00 EST
        pt("2026-11-01T06:30"),  # 01:30 EST
        pt("2026-11-01T07:00"),  # 02:00 EST
    ]
    result = plan(points, dr=Gfs(hourly=4), tz="America/New_York")
    # Four hours that have points: 02 EST, 01 EST, 01 EDT, 00 EDT; newest point of each.
    assert kept_windows(result) == [
        utc("2026-11-01T04:00"),
        utc("2026-11-01T05:30"),
        utc("2026-11-01T06:30"),
        utc("2026-11-01T07:00"),
    ]
    assert {d.point.window for d in result.decisions if not d.keep} == {
        utc("2026-11-01T05:00"),
        utc("2026-11-01T06:00"),
    }


def test_new_york_fall_back_day_has_25_hours():
    # 2026-11-01 local runs from 04:00Z (00:00 EDT) to 05:00Z on the 2nd (00:00 EST).
    points = [pt("2026-11-01T04:00"), pt("2026-11-02T04:30"), pt("2026-11-02T05:00")]
    result = plan(points, dr=Gfs(daily=1), tz="America/New_York")
    assert kept_windows(result) == [utc("2026-11-02T05:00")]
    result = plan(points, dr=Gfs(daily=2), tz="America/New_York")
    # 04:30Z on the 2nd is 23:30 EST on the 1st: it represents the 1st, not 04:00Z.
    assert kept_windows(result) == [utc("2026-11-02T04:30"), utc("2026-11-02T05:00")]


def test_berlin_spring_forward_and_fall_back():
    # Spring: 2026-03-29 02:00 CET -> 03:00 CEST at 01:00Z. 00:30Z = 01:30 CET, 01:00Z = 03:00 CEST,
    # 01:30Z = 03:30 CEST: two local hours that have points (02:xx never exists), so even hourly=3
    # keeps two points, the newest of each hour.
    spring = [pt("2026-03-29T00:30"), pt("2026-03-29T01:00"), pt("2026-03-29T01:30")]
    result = plan(spring, dr=Gfs(hourly=3), tz="Europe/Berlin")
    assert kept_windows(result) == [utc("2026-03-29T00:30"), utc("2026-03-29T01:30")]
    # Fall: 2026-10-25 03:00 CEST -> 02:00 CET at 01:00Z; 02:xx local happens twice.
    fall = [pt("2026-10-25T00:00"), pt("2026-10-25T00:30"), pt("2026-10-25T01:00"), pt("2026-10-25T01:30")]
    result = plan(fall, dr=Gfs(hourly=2), tz="Europe/Berlin")
    assert kept_windows(result) == [utc("2026-10-25T00:30"), utc("2026-10-25T01:30")]


def test_hourly_periods_follow_half_hour_offsets():
    # Asia/Kolkata is +05:30: local hours start at HH:30Z. 04:20Z = 09:50 IST, 04:40Z = 10:10 IST.
    points = [pt("2026-05-01T04:20"), pt("2026-05-01T04:40"), pt("2026-05-01T04:50")]
    assert kept_windows(plan(points, dr=Gfs(hourly=2), tz="Asia/Kolkata")) == [
        utc("2026-05-01T04:20"),
        utc("2026-05-01T04:50"),
    ]
    assert kept_windows(plan(points, dr=Gfs(hourly=2), tz="UTC")) == [utc("2026-05-01T04:50")]


def test_year_boundary_in_local_time():
    # 2027-01-01T03:00Z is 2026-12-31 22:00 in New York: still 2026 there, already 2027 in UTC.
    points = [pt("2026-06-01T12:00"), pt("2026-12-31T12:00"), pt("2027-01-01T03:00")]
    ny = plan(points, dr=Gfs(yearly=2), tz="America/New_York")
    assert kept_windows(ny) == [utc("2027-01-01T03:00")]  # one local year, newest point
    in_utc = plan(points, dr=Gfs(yearly=2), tz="UTC")
    assert kept_windows(in_utc) == [utc("2026-12-31T12:00"), utc("2027-01-01T03:00")]
    # 2026-12-31T16:00Z is 2027-01-01 01:00 in Tokyo: the new year starts early there.
    tokyo_points = [pt("2026-12-31T14:00"), pt("2026-12-31T16:00"), pt("2027-03-01T00:00")]
    tokyo = plan(tokyo_points, dr=Gfs(yearly=2), tz="Asia/Tokyo")
    assert kept_windows(tokyo) == [utc("2026-12-31T14:00"), utc("2027-03-01T00:00")]


def test_iso_week_53_spans_the_new_year():
    # 2026 starts on a Thursday, so it has an ISO week 53: Mon 2026-12-28 .. Sun 2027-01-03.
    assert datetime(2026, 12, 31).isocalendar()[:2] == (2026, 53)
    assert datetime(2027, 1, 3).isocalendar()[:2] == (2026, 53)
    points = [
        pt("2026-12-27T12:00"),  # Sun, 2026-W52
        pt("2026-12-28T12:00"),  # Mon, 2026-W53
        pt("2027-01-01T12:00"),  # Fri, 2026-W53
        pt("2027-01-03T12:00"),  # Sun, 2026-W53
        pt("2027-01-04T12:00"),  # Mon, 2027-W01
    ]
    result = plan(points, dr=Gfs(weekly=3), tz="UTC")
    assert kept_windows(result) == [utc("2026-12-27T12:00"), utc("2027-01-03T12:00"), utc("2027-01-04T12:00")]


def test_iso_week_boundary_in_local_time_and_2020_week_53():
    # 2020 (leap, starts on a Wednesday) has week 53: 2020-12-28 .. 2021-01-03.
    # 2021-01-04T03:00Z is Sun 2021-01-03 22:00 in New York: still 2020-W53 there.
    points = [pt("2020-12-28T12:00"), pt("2021-01-04T03:00"), pt("2021-01-04T12:00")]
    ny = plan(points, dr=Gfs(weekly=1), tz="America/New_York")
    assert kept_windows(ny) == [utc("2021-01-04T12:00")]
    ny2 = plan(points, dr=Gfs(weekly=2), tz="America/New_York")
    assert kept_windows(ny2) == [utc("2021-01-04T03:00"), utc("2021-01-04T12:00")]
    in_utc = plan(points, dr=Gfs(weekly=2), tz="UTC")
    assert kept_windows(in_utc) == [utc("2020-12-28T12:00"), utc("2021-01-04T12:00")]


def test_leap_day_2028():
    points = [pt("2028-02-28T10:00"), pt("2028-02-29T10:00"), pt("2028-02-29T20:00"), pt("2028-03-01T10:00")]
    daily = plan(points, dr=Gfs(daily=2))
    assert kept_windows(daily) == [utc("2028-02-29T20:00"), utc("2028-03-01T10:00")]
    monthly = plan(points, dr=Gfs(monthly=2))
    # February's representative is its newest point, on the leap day.
    assert kept_windows(monthly) == [utc("2028-02-29T20:00"), utc("2028-03-01T10:00")]


def test_late_point_is_filed_under_its_window_whatever_the_input_order():
    # The 10:00 window was captured late and listed last; its period is still 10:00's day.
    on_time = [pt("2026-11-23T10:00"), pt("2026-11-24T09:00"), pt("2026-11-25T10:00")]
    late = pt("2026-11-24T10:00")
    result = plan([*on_time, late], dr=Gfs(daily=2))
    assert kept_windows(result) == [utc("2026-11-24T10:00"), utc("2026-11-25T10:00")]
    assert by_id(result)[late.point_id].rule == "gfs:daily"
    shuffled = plan([late, *reversed(on_time)], dr=Gfs(daily=2))
    assert {d.point.point_id: (d.keep, d.rule) for d in shuffled.decisions} == {
        d.point.point_id: (d.keep, d.rule) for d in result.decisions
    }


def test_gaps_keep_the_last_n_periods_that_have_points():
    points = [
        pt("2025-01-10T00:00"),
        pt("2025-01-20T00:00"),
        pt("2025-02-10T00:00"),
        pt("2026-10-05T00:00"),
        pt("2026-10-06T00:00"),
    ]
    result = plan(points, dr=Gfs(monthly=3), now=utc("2026-10-07T00:00"))
    # Last three non-empty months: 2026-10, 2025-02, 2025-01 (not Aug-Oct 2026, which are mostly empty).
    assert kept_windows(result) == [utc("2025-01-20T00:00"), utc("2025-02-10T00:00"), utc("2026-10-06T00:00")]


def test_granularities_combine_and_rule_names_the_coarsest():
    points = [pt(w) for w in hours("2026-06-28T00:00", 24 * 5, timedelta(hours=6))]  # through 2026-07-27
    result = plan(points, dr=Gfs(hourly=2, daily=3, monthly=2, yearly=1))
    decided = {d.point.window: d for d in result.decisions if d.keep}
    newest = utc("2026-07-27T18:00")
    assert decided[newest].rule == "newest"
    assert decided[newest].reasons == ("newest", "gfs:yearly", "gfs:monthly", "gfs:daily", "gfs:hourly")
    june_last = utc("2026-06-30T18:00")
    assert decided[june_last].rule == "gfs:monthly"
    assert decided[june_last].reasons == ("gfs:monthly",)
    assert decided[utc("2026-07-27T12:00")].reasons == ("gfs:hourly",)
    assert decided[utc("2026-07-26T18:00")].reasons == ("gfs:daily",)
    assert len(result.kept()) == 1 + 1 + 1 + 2  # newest, 07-27 12:00, two older days, June


def test_mixed_regions_use_their_own_class_rules():
    primary = [pt(w, region=PRIMARY) for w in hours("2026-05-01T00:00", 48)]
    dr = [pt(p.window, region=DR, copy_of=p.point_id) for p in primary]
    result = plan([*primary, *dr], primary=Gfs(hourly=6), dr=Gfs(daily=2))
    kept = {(p.region, p.window) for p in result.kept()}
    assert sorted(w for r, w in kept if r == PRIMARY) == hours("2026-05-02T18:00", 6)
    assert sorted(w for r, w in kept if r == DR) == [utc("2026-05-01T23:00"), utc("2026-05-02T23:00")]


def test_rules_accept_dicts_and_attribute_objects():
    points = [pt(w) for w in hours("2026-05-01T00:00", 10)]
    as_gfs = plan(points, dr=Gfs(hourly=3))
    as_dict = plan(points, dr={"hourly": 3})
    as_obj = plan(points, dr=SimpleNamespace(hourly=3, daily=0, weekly=0, monthly=0, yearly=None))
    assert (
        kept_windows(as_gfs) == kept_windows(as_dict) == kept_windows(as_obj) == hours("2026-05-01T07:00", 3)
    )


# --- safety rules, each with a case that would delete without it --------------------------------


def test_rule1_unmanaged_points_are_never_deleted_nor_relied_upon():
    managed = pt("2026-05-01T00:00")
    unmanaged = pt("2026-05-02T00:00", managed=False)
    result = plan([managed, unmanaged], dr=Gfs(daily=1))
    decisions = by_id(result)
    assert decisions[unmanaged.point_id].keep
    assert decisions[unmanaged.point_id].rule == "unmanaged"
    # The unmanaged point is newer, but only managed points stand for a period or as newest.
    assert decisions[managed.point_id].keep
    assert decisions[managed.point_id].reasons == ("newest", "gfs:daily")


def test_rule2_legal_hold_is_never_deleted():
    held = pt("2026-05-01T00:00", hold=True)
    result = plan([held, pt("2026-05-02T00:00")])
    assert by_id(result)[held.point_id].keep
    assert by_id(result)[held.point_id].rule == "legal-hold"
    unheld = pt("2026-05-01T00:00")
    assert not by_id(plan([unheld, pt("2026-05-02T00:00")]))[unheld.point_id].keep
    held_unmanaged = pt("2026-05-01T00:00", hold=True, managed=False)
    assert by_id(plan([held_unmanaged]))[held_unmanaged.point_id].reasons == ("unmanaged", "legal-hold")


def test_rule3_newest_completed_is_kept_even_with_no_retention():
    points = [pt(w) for w in hours("2026-05-01T00:00", 5)]
    result = plan(points)  # all counts zero
    assert [p.window for p in result.kept()] == [utc("2026-05-01T04:00")]
    assert by_id(result)[points[-1].point_id].rule == "newest"
    # An incomplete newer point does not displace it.
    creating = pt("2026-05-01T05:00", completed=False)
    result = plan([*points, creating], now=utc("2026-05-01T06:00"))
    assert by_id(result)[points[-1].point_id].rule == "newest"
    assert by_id(result)[creating.point_id].rule == "incomplete"


def test_rule3_incomplete_points_kept_for_seven_days_then_failed_stale():
    now = utc("2026-05-20T00:00")
    young = pt("2026-05-13T00:01", completed=False)
    old = pt("2026-05-13T00:00", completed=False)  # exactly 7 days old: no longer young
    done = pt("2026-05-19T00:00")
    result = plan([young, old, done], now=now)
    decisions = by_id(result)
    assert (decisions[young.point_id].keep, decisions[young.point_id].rule) == (True, "incomplete")
    assert (decisions[old.point_id].keep, decisions[old.point_id].rule) == (False, "failed-stale")
    # Held or unmanaged failed points stay.
    held = pt("2026-01-01T00:00", completed=False, hold=True)
    foreign = pt("2026-01-02T00:00", completed=False, managed=False)
    decisions = by_id(plan([held, foreign, done], now=now))
    assert decisions[held.point_id].keep
    assert decisions[foreign.point_id].keep


def test_rule3_incomplete_points_never_represent_a_period():
    done = pt("2026-05-01T10:00")
    failed_later_same_day = pt("2026-05-01T20:00", completed=False)
    newer_day = pt("2026-05-02T10:00")
    result = plan([done, failed_later_same_day, newer_day], dr=Gfs(daily=2), now=utc("2026-06-01T00:00"))
    decisions = by_id(result)
    assert decisions[done.point_id].rule == "gfs:daily"
    assert decisions[failed_later_same_day.point_id].rule == "failed-stale"


def test_rule4_primary_kept_until_the_dr_region_holds_what_it_wants():
    p_copied = pt("2026-05-01T00:00", region=PRIMARY)
    p_copying = pt("2026-05-01T01:00", region=PRIMARY)
    p_uncopied = pt("2026-05-01T02:00", region=PRIMARY)
    p_newest = pt("2026-05-01T03:00", region=PRIMARY)
    copies = [
        pt("2026-05-01T00:00", copy_of=p_copied.point_id),
        pt("2026-05-01T01:00", copy_of=p_copying.point_id, completed=False),
        pt("2026-05-01T03:00", copy_of=p_newest.point_id),
    ]
    # The DR region keeps 4 hourlies: it wants all four points.
    result = plan(
        [p_copied, p_copying, p_uncopied, p_newest, *copies], dr=Gfs(hourly=4), now=utc("2026-05-02T00:00")
    )
    decisions = by_id(result)
    assert not decisions[p_copied.point_id].keep
    assert decisions[p_copying.point_id].rule == "no-dr-copy"
    assert decisions[p_uncopied.point_id].rule == "no-dr-copy"
    assert decisions[p_newest.point_id].rule == "newest"


def test_rule4_points_the_dr_region_does_not_want_follow_the_primary_rules():
    # 30 hourly points over two days, never copied: DR keeps one daily, so it wants only the
    # newest; the primary keeps 2 hourlies. Nothing is kept forever for want of a copy.
    points = [pt(w, region=PRIMARY) for w in hours("2026-05-01T00:00", 30)]
    result = plan(points, primary=Gfs(hourly=2), dr=Gfs(daily=1), dr_regions=[DR])
    assert [p.window for p in result.kept()] == hours("2026-05-02T04:00", 2)
    assert result.decisions[-1].reasons == ("newest", "no-dr-copy", "gfs:hourly")
    # With two dailies the DR region also wants day one's last point: kept until copied.
    result = plan(points, primary=Gfs(hourly=2), dr=Gfs(daily=2), dr_regions=[DR])
    assert by_id(result)[points[23].point_id].rule == "no-dr-copy"
    assert len(result.kept()) == 3
    copy = pt(points[23].window, copy_of=points[23].point_id)
    result = plan([*points, copy], primary=Gfs(hourly=2), dr=Gfs(daily=2), dr_regions=[DR])
    assert not by_id(result)[points[23].point_id].keep


def test_rule4_an_unmanaged_copy_does_not_count():
    primary = pt("2026-05-01T00:00", region=PRIMARY)
    foreign_copy = pt("2026-05-01T00:00", copy_of=primary.point_id, managed=False)
    newer = [pt("2026-05-02T00:00", region=PRIMARY), pt("2026-05-02T00:00")]
    assert (
        by_id(plan([primary, foreign_copy, *newer], dr=Gfs(daily=7)))[primary.point_id].rule == "no-dr-copy"
    )


def test_rule4_without_dr_regions_nothing_is_wanted():
    points = [pt(w, region=PRIMARY) for w in hours("2026-05-01T00:00", 30)]
    result = plan(points, primary=Gfs(hourly=2))
    assert len(result.kept()) == 2
    assert {d.rule for d in result.decisions if d.keep} == {"newest", "gfs:hourly"}


def test_rule4_every_dr_region_that_wants_a_point_must_hold_it():
    primary = pt("2026-05-01T00:00", region=PRIMARY)
    copy_dr2 = pt("2026-05-01T00:00", region=DR2, copy_of=primary.point_id)
    newer = pt("2026-05-02T00:00", region=PRIMARY)
    newer_copies = [pt(newer.window, region=r, copy_of=newer.point_id) for r in (DR, DR2)]
    result = plan([primary, copy_dr2, newer, *newer_copies], dr=Gfs(daily=7), dr_regions=[DR, DR2])
    assert by_id(result)[primary.point_id].rule == "no-dr-copy"  # DR still lacks it
    copy_dr = pt("2026-05-01T00:00", region=DR, copy_of=primary.point_id)
    result = plan([primary, copy_dr2, copy_dr, newer, *newer_copies], dr=Gfs(daily=7), dr_regions=[DR, DR2])
    assert not by_id(result)[primary.point_id].keep
    assert by_id(result)[copy_dr2.point_id].rule == "gfs:daily"


def test_rule5_newest_verified_dr_copy_is_kept():
    points = [pt(w) for w in hours("2026-05-01T00:00", 6)]
    verified_old = pt("2026-04-30T00:00", verified_at=utc("2026-05-03T00:00"))
    verified_older = pt("2026-04-29T00:00", verified_at=utc("2026-05-02T00:00"))
    # max verified_at wins, even though another verified point has a newer window
    verified_newer_window = pt("2026-04-30T12:00", verified_at=utc("2026-05-01T00:00"))
    result = plan([*points, verified_old, verified_older, verified_newer_window], dr=Gfs(hourly=2))
    decisions = by_id(result)
    assert decisions[verified_old.point_id].rule == "newest-verified"
    assert not decisions[verified_older.point_id].keep
    assert not decisions[verified_newer_window.point_id].keep


def test_rule6_orphans_keep_everything_during_the_grace():
    points = [pt(w, source="vol-gone") for w in hours("2026-05-01T00:00", 10)]
    now = utc("2026-08-01T00:00")
    kw = {"now": now, "existing_sources": {"vol-other"}}
    # Vanished 89 days ago: within 90 days, all kept.
    result = plan(points, vanished_at={"vol-gone": now - timedelta(days=89)}, **kw)
    assert all(d.keep and d.rule == "orphan-grace" for d in result.decisions[:-1])
    assert result.decisions[-1].reasons == ("orphan-grace", "newest")
    # Vanished exactly 90 days ago: grace over, normal rules (the newest is still kept).
    result = plan(points, vanished_at={"vol-gone": now - timedelta(days=90)}, **kw)
    assert [p.window for p in result.kept()] == [utc("2026-05-01T09:00")]
    # Unknown vanishing time: the grace starts now.
    result = plan(points, vanished_at={}, **kw)
    assert len(result.to_delete()) == 0
    # A custom grace.
    result = plan(
        points, vanished_at={"vol-gone": now - timedelta(days=2)}, orphan_grace=timedelta(days=1), **kw
    )
    assert len(result.kept()) == 1
    # Existing sources, or an unknown estate (None), are no orphans.
    assert len(plan(points, now=now, existing_sources={"vol-gone"}).kept()) == 1
    assert len(plan(points, now=now, existing_sources=None, vanished_at={"vol-gone": now}).kept()) == 1


def test_rule7_breaker_stops_a_group_that_shrinks_against_its_baseline():
    big = [pt(w, source="vol-big") for w in hours("2026-05-01T00:00", 10)]
    small = [pt(w, source="vol-small") for w in hours("2026-05-01T00:00", 2)]
    unmanaged = [
        pt(w, source="vol-big", managed=False, pid=f"u{i}")
        for i, w in enumerate(hours("2026-04-01T00:00", 20))
    ]
    # The run that sets the baseline: everything is kept, the baseline counts slot-kept points.
    first = plan([*big, *small, *unmanaged], dr=Gfs(hourly=10), max_delete_fraction=0.5)
    assert first.to_delete() == []
    assert first.baseline == {("vol-big", DR): 10, ("vol-small", DR): 2}
    # A policy edit to 2 hourlies: vol-big would keep 2 of 10 (8 fewer > max(0.5 * 10, slack 2)).
    kw = {"dr": Gfs(hourly=2), "max_delete_fraction": 0.5, "baseline": first.baseline}
    result = plan([*big, *small, *unmanaged], **kw)
    assert list(result.blocked) == [("vol-big", DR)]
    assert "keep 2 of the 10 points the last run kept" in result.blocked[("vol-big", DR)]
    assert result.to_delete() == []
    assert {d.rule for d in result.decisions if d.point.source_id == "vol-big" and d.point.managed} == {
        "breaker",
        "gfs:hourly",
        "newest",
    }
    assert result.summary()["blocked"] == 1
    assert result.baseline[("vol-big", DR)] == 10  # a blocked group keeps its old baseline
    # Force lets it through, records it, and the new count becomes the baseline.
    result = plan([*big, *small, *unmanaged], **kw, force=True)
    assert result.blocked == {}
    assert list(result.forced) == [("vol-big", DR)]
    assert len(result.to_delete()) == 8
    assert result.baseline[("vol-big", DR)] == 2
    # A smaller edit (10 -> 6 slots: 4 fewer, within half of 10) goes through.
    assert (
        plan([*big, *small], dr=Gfs(hourly=6), max_delete_fraction=0.5, baseline=first.baseline).blocked == {}
    )


def test_breaker_slack_lets_small_groups_step():
    points = [pt(w) for w in hours("2026-05-01T00:00", 4)]
    baseline = {("vol-1", DR): 4}
    # 4 -> 2 is 2 fewer: more than a quarter of 4, but within the slack of 2.
    assert plan(points, dr=Gfs(hourly=2), max_delete_fraction=0.25, baseline=baseline).blocked == {}
    # 4 -> 1 is 3 fewer: more than the slack and half: stopped, unless the slack is raised.
    assert list(plan(points, dr=Gfs(hourly=1), max_delete_fraction=0.5, baseline=baseline).blocked)
    assert (
        plan(points, dr=Gfs(hourly=1), max_delete_fraction=0.5, baseline=baseline, breaker_slack=3).blocked
        == {}
    )


def test_breaker_never_trips_on_churn_or_ramp_up():
    # DR keeps 3 dailies; each day brings 24 hourly copies and retention removes 23 of them.
    points: list[PointInfo] = []
    baseline = None
    for day in range(6):
        points += [pt(w) for w in hours(f"2026-05-{day + 1:02d}T00:00", 24)]
        result = plan(points, dr=Gfs(daily=3), max_delete_fraction=0.5, baseline=baseline)
        assert result.blocked == {}, day
        deleted = {p.point_id for p in result.to_delete()}
        assert len(deleted) == (23 if day < 3 else 24)
        points = [p for p in points if p.point_id not in deleted]
        baseline = result.baseline
    assert baseline == {("vol-1", DR): 3}


def test_breaker_stops_windows_in_the_future():
    points = [pt(w) for w in hours("2026-05-01T00:00", 10)]
    now = utc("2026-05-01T12:00")
    jumped = pt("2027-05-01T00:00")
    result = plan([*points, jumped], dr=Gfs(hourly=3), now=now, max_delete_fraction=1.0)
    assert list(result.blocked) == [("vol-1", DR)]
    assert "window tags jumped" in result.blocked[("vol-1", DR)]
    # Up to a day ahead is tolerated (a window just after the run's window).
    result = plan([*points, pt("2026-05-02T00:00")], dr=Gfs(hourly=3), now=now, max_delete_fraction=1.0)
    assert result.blocked == {}


def test_breaker_stops_orphans_when_many_sources_vanish_at_once():
    points = [pt(w, source=f"vol-{i}") for i in range(4) for w in hours("2026-05-01T00:00", 6)]
    kw = {"dr": Gfs(hourly=2), "max_delete_fraction": 0.5, "orphan_grace": timedelta(0)}
    # 3 of 4 vanished: their deletes stop; the survivor's go ahead.
    result = plan(points, existing_sources={"vol-0"}, **kw)
    assert sorted(result.blocked) == [("vol-1", DR), ("vol-2", DR), ("vol-3", DR)]
    assert "3 of 4 sources vanished at once" in result.blocked[("vol-1", DR)]
    assert {p.source_id for p in result.to_delete()} == {"vol-0"}
    # 1 of 4 is no mass vanishing: the orphan follows the normal rules after its grace.
    result = plan(points, existing_sources={"vol-0", "vol-1", "vol-2"}, **kw)
    assert result.blocked == {}
    assert {p.source_id for p in result.to_delete()} == {"vol-0", "vol-1", "vol-2", "vol-3"}


def test_breaker_is_per_region():
    primary = [pt(w, region=PRIMARY) for w in hours("2026-05-01T00:00", 6)]
    dr = [pt(p.window, copy_of=p.point_id) for p in primary]
    baseline = {("vol-1", PRIMARY): 6, ("vol-1", DR): 6}
    result = plan(
        [*primary, *dr], primary=Gfs(hourly=6), dr=Gfs(hourly=1), max_delete_fraction=0.5, baseline=baseline
    )
    assert list(result.blocked) == [("vol-1", DR)]
    assert result.to_delete() == []
    # Primary deletes of points whose copy exists lose nothing: they are "covered", never a shrink.
    result = plan(
        [*primary, *dr], primary=Gfs(hourly=1), dr=Gfs(hourly=6), max_delete_fraction=0.5, baseline=baseline
    )
    assert result.blocked == {}
    assert {p.region for p in result.to_delete()} == {PRIMARY}


# --- plan object and validation -----------------------------------------------------------------


def test_summary_counts_and_bytes():
    primary = [pt(w, region=PRIMARY, size=10) for w in hours("2026-05-01T00:00", 3)]
    dr = [pt(p.window, copy_of=p.point_id, size=100) for p in primary]
    result = plan([*primary, *dr, pt("2026-04-01T00:00", managed=False, pid="x", size=7)])
    summary = result.summary()
    assert summary["points"] == 7
    assert (summary["kept"], summary["deleted"]) == (3, 4)
    assert summary["deleted_bytes"] == 2 * 10 + 2 * 100
    assert summary["by_region"][PRIMARY] == {"kept": 1, "kept_bytes": 10, "deleted": 2, "deleted_bytes": 20}
    assert summary["by_region"][DR] == {"kept": 2, "kept_bytes": 107, "deleted": 2, "deleted_bytes": 200}
    assert summary["by_rule"]["expired"] == {"keep": 0, "count": 4, "bytes": 220}
    assert summary["by_rule"]["unmanaged"] == {"keep": 1, "count": 1, "bytes": 7}
    assert len(result.kept()) + len(result.to_delete()) == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"now": datetime(2026, 1, 1)}, "naive"),
        ({"max_delete_fraction": 1.5}, "max_delete_fraction"),
        ({"rules": {"primary": NOTHING}}, "no retention rule for region class 'dr'"),
        ({"rules": {"primary": NOTHING, "dr": {"daily": -1}}}, "non-negative"),
        ({"rules": {"primary": NOTHING, "dr": {"dayly": 1}}}, "unknown retention granularities"),
        ({"rules": {"primary": NOTHING, "dr": Gfs(daily=True)}}, "non-negative"),
    ],
)
def test_invalid_arguments_are_refused(change, message):
    kw = {"rules": {"primary": NOTHING, "dr": NOTHING}, "now": utc("2026-01-02T00:00")}
    kw.update(change)
    with pytest.raises(ValueError, match=message):
        plan_retention([pt("2026-01-01T00:00")], **kw)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([pt("2026-01-01T00:00", pid="a"), pt("2026-01-02T00:00", pid="a")], "duplicate point_id"),
        ([PointInfo("a", "s", DR, "tertiary", utc("2026-01-01T00:00"), True, False, True)], "region_class"),
        ([PointInfo("a", "s", DR, "dr", datetime(2026, 1, 1), True, False, True)], "naive"),
        (
            [
                pt("2026-01-01T00:00"),
                PointInfo("b", "vol-1", DR, "primary", utc("2026-01-01T00:00"), True, False, True),
            ],
            "region classes",
        ),
    ],
)
def test_invalid_points_are_refused(points, message):
    with pytest.raises(ValueError, match=message):
        plan(points, now=utc("2026-02-01T00:00"))


def test_empty_input_and_generators():
    assert plan_retention([], rules={}, now=utc("2026-01-01T00:00")).decisions == []
    result = plan_retention(
        (pt(w) for w in hours("2026-01-01T00:00", 3)),
        rules={"dr": Gfs(hourly=1)},
        now=utc("2026-01-02T00:00"),
    )
    assert len(result.decisions) == 3


# --- property tests -----------------------------------------------------------------------------

BASE = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_HOURS = 2 * 366 * 24
SOURCES = ("s1", "s2", "s3")
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Apia")
gfs_rules = st.builds(
    Gfs,
    hourly=st.integers(0, 6),
    daily=st.integers(0, 6),
    weekly=st.integers(0, 4),
    monthly=st.integers(0, 4),
    yearly=st.integers(0, 2),
)


def _transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC hours at which ``zone_name`` changes its offset within the generated span."""
    zone = ZoneInfo(zone_name)
    found, previous = [], None
    for h in range(0, SPAN_HOURS + 24, 1):
        instant = BASE + timedelta(hours=h)
        offset = instant.astimezone(zone).utcoffset()
        if previous is not None and offset != previous:
            found.append(instant)
        previous = offset
    return tuple(found)


TRANSITIONS = {name: _transitions(name) for name in ZONES}
ALL_TRANSITIONS = tuple(sorted(t for ts in TRANSITIONS.values() for t in ts))


SPREAD = st.integers(0, SPAN_HOURS).map(lambda h: BASE + timedelta(hours=h))
CLUSTERED_DAYS = st.tuples(st.integers(0, 8), st.integers(0, 72 * 4)).map(
    lambda t: BASE + timedelta(days=90 * t[0], minutes=15 * t[1])
)


def near(transition: datetime) -> st.SearchStrategy[datetime]:
    """Every 15 minutes within two hours of a DST transition (repeated and missing hours)."""
    return st.integers(-8, 8).map(lambda k: transition + timedelta(minutes=15 * k))


# Groups in an order where any prefix of two or more mixes primary and DR regions.
GROUP_KEYS = (
    ("s1", PRIMARY),
    ("s1", DR),
    ("s2", PRIMARY),
    ("s2", DR),
    ("s1", DR2),
    ("s3", PRIMARY),
    ("s3", DR),
    ("s2", DR2),
    ("s3", DR2),
)


def _point(i: int, group: int, window: datetime, bits: int, primaries: list[str]) -> PointInfo:
    """One random point; ``bits`` == 0 is the plainest point (managed, completed, no tags), so
    hypothesis shrinks towards it."""
    source, region = GROUP_KEYS[group]
    copy_of = None
    if region != PRIMARY and primaries and (bits >> 12) & 3:
        copy_of = primaries[(bits >> 14) % len(primaries)]
    return PointInfo(
        point_id=f"p{i}",
        source_id=source,
        region=region,
        region_class=CLASS_OF[region],
        window=window,
        managed=bits & 7 != 7,
        legal_hold=(bits >> 3) & 15 == 15,
        completed=(bits >> 7) & 7 != 7,
        verified_at=window + timedelta(hours=(bits >> 14) % 500) if (bits >> 10) & 3 == 3 else None,
        copy_of=copy_of,
        size_bytes=bits,
    )


@st.composite
def estates(draw):
    """Random points (up to 40) and planner arguments: returns (points, kwargs)."""
    tz = draw(st.sampled_from(ZONES))
    # One window shape per example, and few groups at times, so periods collide often enough.
    mode = draw(st.sampled_from(("spread", "days", "dst", "mixed")))
    transition = draw(st.sampled_from(TRANSITIONS[tz] or ALL_TRANSITIONS))
    windows = {
        "spread": SPREAD,
        "days": CLUSTERED_DAYS,
        "dst": near(transition),
        "mixed": st.one_of(SPREAD, CLUSTERED_DAYS, near(transition)),
    }[mode]
    group_count = draw(st.integers(1, len(GROUP_KEYS)))
    specs = draw(
        st.lists(st.tuples(st.integers(0, group_count - 1), windows, st.integers(0, 2**22 - 1)), max_size=40)
    )
    primaries: list[str] = []
    points: list[PointInfo] = []
    for i, (group, window, bits) in enumerate(specs):
        point = _point(i, group, window, bits, primaries)
        if point.region_class == "primary":
            primaries.append(point.point_id)
        points.append(point)
    newest = max((p.window for p in points), default=BASE)
    # Often close to the newest window (young incomplete points), sometimes long after.
    now = newest + timedelta(hours=draw(st.integers(0, 24 * 10) | st.integers(0, 24 * 400)))
    existing = draw(st.none() | st.sets(st.sampled_from(SOURCES)))
    vanished = draw(
        st.dictionaries(
            st.sampled_from(SOURCES),
            st.integers(0, 24 * 200).map(lambda h: now - timedelta(hours=h)),
            max_size=3,
        )
    )
    kwargs = {
        "rules": {"primary": draw(gfs_rules), "dr": draw(gfs_rules)},
        "tz": tz,
        "now": now,
        "existing_sources": existing,
        "vanished_at": vanished,
        "orphan_grace": timedelta(days=draw(st.integers(0, 120))),
        # Often 1.0 (breaker off), so the other rules are seen deleting.
        "max_delete_fraction": draw(
            st.just(1.0) | st.sampled_from((0.0, 0.25, 1 / 3, 0.5, 0.75)) | st.floats(0.0, 1.0)
        ),
        "force": draw(st.booleans()),
    }
    return points, kwargs


def groups_of(points, *, managed_only=True):
    out: dict[tuple[str, str], list[PointInfo]] = {}
    for p in points:
        if p.managed or not managed_only:
            out.setdefault((p.source_id, p.region), []).append(p)
    return out


#: examples per property: 250 in ``make test``; AWSDR_PROPERTY_EXAMPLES=1000 for the long form
PROPERTY = settings(max_examples=int(os.environ.get("AWSDR_PROPERTY_EXAMPLES", "250")), deadline=None)


@PROPERTY
@given(estates())
def test_property_rule1_unmanaged_never_deleted(estate):
    points, kw = estate
    result = plan_retention(points, **kw)
    assert len(result.decisions) == len(points)
    assert [d.point for d in result.decisions] == points
    assert all(p.managed for p in result.to_delete())
    assert all(d.rule == "unmanaged" for d in result.decisions if not d.point.managed)


@PROPERTY
@given(estates())
def test_property_rule2_held_never_deleted(estate):
    points, kw = estate
    result = plan_retention(points, **kw)
    assert not any(p.legal_hold for p in result.to_delete())
    for d in result.decisions:
        if d.point.legal_hold and d.point.managed:
            assert d.rule == "legal-hold"


@PROPERTY
@given(estates())
def test_property_rule3_newest_completed_kept_and_incomplete_only_when_stale(estate):
    points, kw = estate
    result = plan_retention(points, **kw)
    deleted = {p.point_id for p in result.to_delete()}
    for members in groups_of(points).values():
        completed = [p for p in members if p.completed]
        if completed:
            newest = max(completed, key=lambda p: (p.window, p.point_id))
            assert newest.point_id not in deleted
            assert max(p.window for p in completed if p.point_id not in deleted) == newest.window
    for p in result.to_delete():
        if not p.completed:
            assert kw["now"] - p.window >= timedelta(days=7)


def _reference_wanted(points, kw) -> dict[tuple[str, str], set[str]]:
    """Naive "what each DR region wants": per source and DR region, the union of the source's
    completed managed primary points and the region's completed managed copies (a copy stands for
    its origin), walked newest first; the newest and the first point seen in each of the last N
    periods per granularity are wanted."""
    regions = sorted({p.region for p in points if p.region_class == "dr"})
    rule = kw["rules"]["dr"]
    out: dict[tuple[str, str], set[str]] = {}
    for source in {p.source_id for p in points if p.region_class == "primary" and p.managed}:
        for region in regions:
            union: dict[str, datetime] = {}
            for p in points:
                if p.region == region and p.source_id == source and p.completed and p.managed and p.copy_of:
                    union[p.copy_of] = max(p.window, union.get(p.copy_of, p.window))
            union.update(
                {
                    p.point_id: p.window
                    for p in points
                    if p.region_class == "primary" and p.source_id == source and p.completed and p.managed
                }
            )
            newest_first = sorted(union.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
            wanted = {newest_first[0][0]} if newest_first else set()
            for granularity in GRANULARITIES:
                seen: set[object] = set()
                for origin, window in newest_first:
                    period = _reference_periods(window, kw["tz"])[granularity]
                    if period not in seen:
                        seen.add(period)
                        if len(seen) <= getattr(rule, granularity):
                            wanted.add(origin)
            out[(source, region)] = wanted
    return out


@PROPERTY
@given(estates())
def test_property_rule4_primary_kept_while_a_dr_region_wants_it_and_lacks_it(estate):
    points, kw = estate
    result = plan_retention(points, **kw)
    wanted = _reference_wanted(points, kw)
    holders: dict[str, set[str]] = {}
    for p in points:
        if p.region_class == "dr" and p.completed and p.managed and p.copy_of:
            holders.setdefault(p.copy_of, set()).add(p.region)
    for d in result.decisions:
        p = d.point
        if p.region_class != "primary" or not p.managed or not p.completed:
            assert "no-dr-copy" not in d.reasons
            continue
        lacking = [
            r
            for (s, r), ids in wanted.items()
            if s == p.source_id and p.point_id in ids
            if r not in holders.get(p.point_id, set())
        ]
        assert ("no-dr-copy" in d.reasons) == bool(lacking), (p.point_id, lacking)
        if not d.keep:
            assert not lacking


@PROPERTY
@given(estates())
def test_property_rule5_newest_verified_kept(estate):
    points, kw = estate
    result = plan_retention(points, **kw)
    deleted = {p.point_id for p in result.to_delete()}
    for members in groups_of(points).values():
        verified = [p for p in members if p.completed and p.verified_at is not None]
        if verified:
            best = max(verified, key=lambda p: (p.verified_at, p.window, p.point_id))
            assert best.point_id not in deleted


@PROPERTY
@given(estates())
def test_property_rule6_orphans_in_grace_keep_everything(estate):
    points, kw = estate
    result = plan_retention(points, **kw)
    existing = kw["existing_sources"]
    if existing is None:
        assert all(d.rule != "orphan-grace" for d in result.decisions)
        return
    now = kw["now"]
    for d in result.decisions:
        source = d.point.source_id
        vanished = kw["vanished_at"].get(source, now)
        if source not in existing and now - vanished < kw["orphan_grace"]:
            assert d.keep
            assert d.point.managed is False or "orphan-grace" in d.reasons
        else:
            assert "orphan-grace" not in d.reasons


SLOT_REASONS = {"newest", "newest-verified", "no-dr-copy", *(f"gfs:{g}" for g in GRANULARITIES)}


@PROPERTY
@given(estates(), st.dictionaries(st.sampled_from(GROUP_KEYS), st.integers(0, 40)) | st.none())
def test_property_rule7_breaker_limits_each_group(estate, baseline):
    points, kw = estate
    kw = {**kw, "baseline": baseline}
    result = plan_retention(points, **kw)
    forced = plan_retention(points, **{**kw, "force": True})
    copied = {p.copy_of for p in points if p.region_class == "dr" and p.completed and p.managed and p.copy_of}
    deleted = groups_of(result.to_delete())
    decided = {d.point.point_id: d for d in result.decisions}
    for key, members in groups_of(points).items():
        if kw["force"]:
            assert key not in result.blocked
            continue
        if key in result.blocked:
            assert key not in deleted
            assert any(decided[p.point_id].rule == "breaker" for p in members)
            assert result.baseline.get(key) == (baseline or {}).get(key)
            continue
        if key not in deleted:
            continue
        # A group that deletes: no window far in the future, and no shrink past the limit.
        assert max(p.window for p in members) <= kw["now"] + timedelta(days=1)
        before = (baseline or {}).get(key)
        if before is not None:
            kept = sum(
                1 for p in members if p.completed and SLOT_REASONS.intersection(decided[p.point_id].reasons)
            )
            covered = sum(
                1
                for p in deleted[key]
                if p.completed and p.region_class == "primary" and p.point_id in copied
            )
            assert before - (kept + covered) <= max(kw["max_delete_fraction"] * before, 2)
    # The breaker only ever turns deletes into keeps: force never keeps more than no force, and
    # force lets through exactly the groups the breaker stopped.
    assert {p.point_id for p in result.to_delete()} <= {p.point_id for p in forced.to_delete()}
    assert forced.blocked == {}
    if not kw["force"]:
        assert set(forced.forced) == set(result.blocked)


def _reference_periods(window: datetime, tz: str) -> dict[str, object]:
    """Independent period keys: wall-clock truncation plus the offset for the hour."""
    local = window.astimezone(ZoneInfo(tz))
    return {
        "yearly": local.strftime("%Y"),
        "monthly": local.strftime("%Y-%m"),
        "weekly": local.strftime("%G-W%V"),
        "daily": local.strftime("%Y-%m-%d"),
        "hourly": local.strftime("%Y-%m-%dT%H%z"),
    }


@PROPERTY
@given(estates())
def test_property_gfs_matches_a_naive_reference(estate):
    points, kw = estate
    kw = {**kw, "existing_sources": None, "force": True}
    result = plan_retention(points, **kw)
    decisions = {d.point.point_id: d for d in result.decisions}
    for members in groups_of(points).values():
        rule = kw["rules"][members[0].region_class]
        newest_first = sorted(
            (p for p in members if p.completed), key=lambda p: (p.window, p.point_id), reverse=True
        )
        for granularity in GRANULARITIES:
            expected: set[str] = set()
            seen: set[object] = set()
            for p in newest_first:  # walk back; the first point seen in a period represents it
                period = _reference_periods(p.window, kw["tz"])[granularity]
                if period not in seen:
                    seen.add(period)
                    if len(seen) <= getattr(rule, granularity):
                        expected.add(p.point_id)
            got = {p.point_id for p in members if f"gfs:{granularity}" in decisions[p.point_id].reasons}
            assert got == expected, granularity
        for p in members:
            d = decisions[p.point_id]
            assert d.keep == bool(d.reasons)
            if d.keep:
                assert d.rule == d.reasons[0]
            else:
                assert d.rule == ("expired" if p.completed else "failed-stale")


@PROPERTY
@given(estates(), st.randoms(use_true_random=False))
def test_property_input_order_does_not_matter(estate, rnd: random.Random):
    points, kw = estate
    first = plan_retention(points, **kw)
    shuffled = list(points)
    rnd.shuffle(shuffled)
    second = plan_retention(shuffled, **kw)
    assert {d.point.point_id: d for d in first.decisions} == {d.point.point_id: d for d in second.decisions}
    assert first.blocked == second.blocked


# --------------------------------------------------------------------------------------------
# Archive tier (plan_archive)
# --------------------------------------------------------------------------------------------


def test_plan_archive_takes_old_kept_points_but_never_the_newest_an_uncopied_primary_or_a_held_one():
    from dataclasses import replace

    from awsdr.planning.retention import plan_archive

    now = utc("2026-06-01T00:00")
    days = [utc("2026-01-01T00:00") + timedelta(days=d) for d in range(120)]
    dr = [pt(w, region=DR, copy_of=f"vol-1@{PRIMARY}@{w:%Y-%m-%dT%H:%M}") for w in days]
    dr[10] = replace(dr[10], legal_hold=True)
    dr[11] = replace(dr[11], storage_tier="archive")  # archived already
    uncopied = pt(utc("2026-05-15T00:00"), region=PRIMARY)  # no DR copy yet, not the newest
    primary = [pt(w, region=PRIMARY) for w in days[-3:]] + [
        uncopied,
        pt(utc("2026-05-31T00:00"), region=PRIMARY),
    ]
    points = dr + primary
    rules = {"primary": Gfs(daily=400), "dr": Gfs(daily=400)}
    planned = plan_retention(points, rules=rules, now=now)
    assert all(d.keep for d in planned.decisions)
    chosen = plan_archive(planned, archive_after={"dr": timedelta(days=30)}, now=now)
    ids = {p.point_id for p in chosen}
    old_enough = {p.point_id for p in dr if now - p.window >= timedelta(days=30)}
    # every DR point is old here, the newest too: it stays in the standard tier
    assert dr[-1].point_id in old_enough
    assert ids == old_enough - {dr[10].point_id, dr[11].point_id, dr[-1].point_id}
    assert all(p.region == DR for p in chosen)  # no archive_after for the primary class
    # primary archive_after: the DR copies of the three old primary points exist, the newest
    # primary point has none (no-dr-copy) and is the newest anyway
    both = plan_archive(planned, archive_after={"primary": timedelta(days=1), "dr": None}, now=now)
    reasons = {d.point.point_id: d.reasons for d in planned.decisions}
    assert "no-dr-copy" in reasons[uncopied.point_id]
    assert {p.point_id for p in both} == {p.point_id for p in primary[:3]}
    # nothing without any archive_after
    assert plan_archive(planned, archive_after={}, now=now) == []
