"""The posture computation and alert transitions (pure: no AWS, no Airflow)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from awsdr.kinds.base import AVAILABLE, CREATING, RecoveryPoint
from awsdr.posture import (
    PlanTarget,
    alert_transitions,
    compute_posture,
    format_event,
    targets_from_policy,
)
from awsdr.windows import format_window

PRIMARY = "ap-northeast-2"
DR = "ap-northeast-1"
DR2 = "us-west-2"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
GOLD = PlanTarget(name="gold", rpo=H, rto=timedelta(minutes=30), kinds=("ebs", "rds"))
PLANS = {"gold": GOLD}

_seq = iter(range(1_000_000))


def point(
    source: str,
    window: datetime,
    *,
    region: str = PRIMARY,
    copy: bool = False,
    status: str = AVAILABLE,
    kind: str = "ebs",
    plan: str = "gold",
    late: bool = False,
) -> RecoveryPoint:
    pid = f"snap-{next(_seq)}"
    tags = {
        "awsdr:managed": "true",
        "awsdr:plan": plan,
        "awsdr:window": format_window(window),
        "awsdr:source": source,
    }
    if copy:
        tags["awsdr:copy-of"] = f"snap-src-{pid}"
    if late:
        tags["awsdr:late"] = "true"
    return RecoveryPoint(kind, pid, pid, source, region, plan, window, status, tags)


def verified(source: str, *, seconds: float = 600, passed: bool = True, kind: str = "ebs") -> dict:
    return {
        "plan": "gold",
        "kind": kind,
        "source": source,
        "copy_id": "snap-x",
        "region": DR,
        "window": "2026-11-24T03:00:00Z",
        "verified_at": "2026-11-24T03:20:00Z",
        "seconds": seconds,
        "passed": passed,
        "reason": None if passed else "size 9 GiB != captured 8 GiB",
        "rto_seconds": 1800,
        "within_rto": seconds <= 1800,
    }


def posture(points, now=NOW, dr_regions=(DR,), **kwargs):
    return compute_posture(
        now=now, primary_region=PRIMARY, dr_regions=dr_regions, plans=PLANS, points=points, **kwargs
    )


def by_source(doc: dict) -> dict[str, dict]:
    return {r["source"]: r for r in doc["resources"]}


def test_rpo_is_measured_on_dr_copies_not_primary_points():
    doc = posture(
        [
            point("vol-1", NOW - timedelta(minutes=10)),  # fresh primary point
            point("vol-1", NOW - 3 * H, region=DR, copy=True),  # but the newest copy is 3h old
            point("vol-1", NOW - timedelta(minutes=20), region=DR),  # no copy-of tag: not a copy
            point("vol-1", NOW - timedelta(minutes=5), region=DR, copy=True, status=CREATING),  # in flight
        ]
    )
    res = by_source(doc)["vol-1"]
    assert res["newest_primary_window"] == "2026-11-24T11:50:00Z"
    assert res["dr"][DR]["newest_copy_window"] == "2026-11-24T09:00:00Z"
    assert res["dr"][DR]["rpo_age_seconds"] == 3 * 3600
    assert res["dr"][DR]["within_rpo"] is False
    assert res["worst_rpo_age_seconds"] == 3 * 3600
    assert res["breach_rpo"] is True
    json.dumps(doc)  # JSON-safe as it is


def test_fresh_copy_is_within_rpo_and_every_dr_region_counts():
    fresh = [
        point("vol-1", NOW - timedelta(minutes=30)),
        point("vol-1", NOW - timedelta(minutes=30), region=DR, copy=True),
    ]
    ok = by_source(posture(fresh))["vol-1"]
    assert ok["breach_rpo"] is False
    assert ok["dr"][DR] == {
        "newest_copy_window": "2026-11-24T11:30:00Z",
        "copies": 1,
        "rpo_age_seconds": 1800,
        "within_rpo": True,
        "no_copy": False,
        "missing_copies": 0,
        "newest_usable_archived": False,
        "archive_extra_rto_seconds": 0,
    }
    # a second DR region without any copy: a breach, aged from the oldest primary point
    two = by_source(posture(fresh, dr_regions=(DR, DR2)))["vol-1"]
    assert two["breach_rpo"] is True
    assert two["dr"][DR2]["no_copy"] is True
    assert two["dr"][DR2]["within_rpo"] is False
    assert two["dr"][DR2]["rpo_age_seconds"] == 1800
    assert two["missing_copies"] == 1


def test_missing_copies_counts_available_primary_points_newer_than_the_newest_copy():
    points = [point("vol-1", NOW - i * H) for i in range(5)]  # windows now, -1h, ... -4h
    points.append(point("vol-1", NOW - timedelta(minutes=15), status=CREATING))  # not available
    points.append(point("vol-1", NOW - 2 * H, region=DR, copy=True))
    points.append(point("vol-1", NOW - 4 * H, region=DR, copy=True))
    res = by_source(posture(points))["vol-1"]
    assert res["missing_copies"] == 2  # now and -1h
    assert res["primary_points"] == 5
    assert res["dr"][DR]["copies"] == 2
    assert posture(points)["plans"]["gold"]["summary"]["missing_copies"] == 2


def test_late_captures_count_primary_points_of_the_last_seven_days():
    points = [
        point("vol-1", NOW - H, late=True),
        point("vol-1", NOW - 6 * 24 * H, late=True),
        point("vol-1", NOW - 8 * 24 * H, late=True),  # too old
        point("vol-1", NOW - H, region=DR, copy=True, late=True),  # copies carry the tag too
    ]
    assert by_source(posture(points))["vol-1"]["late_captures"] == 2


def test_orphans_are_listed_with_their_first_seen_missing_time():
    points = [
        point("vol-gone", NOW - 50 * H),
        point("vol-gone", NOW - 50 * H, region=DR, copy=True),
        point("vol-1", NOW - H),
        point("vol-1", NOW - H, region=DR, copy=True),
    ]
    doc = posture(points, orphans={("gold", "ebs"): {"vol-gone": "2026-11-22T10:00:00Z", "vol-x": "..."}})
    res = by_source(doc)
    assert res["vol-gone"]["orphan"] == {"since": "2026-11-22T10:00:00Z"}
    assert res["vol-1"]["orphan"] is None
    assert doc["plans"]["gold"]["summary"]["orphans"] == 1
    assert "vol-x" not in res  # an orphan without points is not a resource any more


@pytest.mark.parametrize(
    ("results", "breach", "within", "reason"),
    [
        ([verified("vol-1", seconds=600)], False, True, None),
        ([verified("vol-1", seconds=2400)], True, False, "over-rto"),  # passed, but slower than 30 min
        ([verified("vol-1", passed=False)], True, True, "verify-failed"),  # failed validation
        ([], True, None, "never-verified"),
        ([verified("vol-1", kind="rds")], True, None, "never-verified"),  # another kind's result
    ],
)
def test_verify_results_map_to_rto_breach(results, breach, within, reason):
    points = [point("vol-1", NOW - H), point("vol-1", NOW - H, region=DR, copy=True)]
    res = by_source(posture(points, verify_results=results))["vol-1"]
    assert res["breach_rto"] is breach
    assert res["breach_rto_reason"] == reason
    if within is None:
        assert res["last_verified"] is None
    else:
        lv = res["last_verified"]
        assert lv["within_rto"] is within
        assert lv["at"] == "2026-11-24T03:20:00Z"
        assert lv["age_seconds"] == int((NOW - datetime(2026, 11, 24, 3, 20, tzinfo=UTC)).total_seconds())


def test_rto_is_judged_against_the_current_policy_not_the_result_file():
    points = [point("vol-1", NOW - H), point("vol-1", NOW - H, region=DR, copy=True)]
    result = verified("vol-1", seconds=1500)  # within the 30 min RTO it was verified against
    strict = {"gold": PlanTarget(name="gold", rpo=H, rto=timedelta(minutes=20), kinds=("ebs",))}
    doc = compute_posture(
        now=NOW,
        primary_region=PRIMARY,
        dr_regions=(DR,),
        plans=strict,
        points=points,
        verify_results=[result],
    )
    assert by_source(doc)["vol-1"]["breach_rto"] is True


def test_points_of_other_plans_and_unselected_kinds_are_ignored():
    doc = posture(
        [
            point("vol-1", NOW - H, plan="bronze"),
            point("tbl-1", NOW - H, kind="dynamodb"),
            point("db-1", NOW - H, kind="rds"),
        ]
    )
    assert [(r["kind"], r["source"]) for r in doc["resources"]] == [("rds", "db-1")]
    assert doc["plans"]["gold"]["summary"]["resources"] == 1
    assert doc["schema"] == 1
    assert doc["window"] == "2026-11-24T12:00:00Z"


def _estate(now: datetime, copy_window: datetime) -> dict:
    return posture(
        [
            point("vol-1", now - timedelta(minutes=5)),
            point("vol-1", copy_window, region=DR, copy=True),
            point("vol-2", now - timedelta(minutes=5)),
            point("vol-2", now - timedelta(minutes=5), region=DR, copy=True),
        ],
        now=now,
        verify_results=[verified("vol-1"), verified("vol-2")],
    )


def test_breach_entry_and_recovery_each_produce_exactly_one_event_over_three_runs():
    state: dict[str, str] = {}
    copy_window = NOW - 2 * H  # vol-1's newest copy is 2h old: outside the 1h RPO
    events_per_run = []
    for run in range(3):
        now = NOW + run * timedelta(minutes=15)
        if run == 2:
            copy_window = now - timedelta(minutes=10)  # the copy caught up
        state, events = alert_transitions(state, _estate(now, copy_window))
        events_per_run.append([(e["key"], e["event"]) for e in events])
    assert events_per_run == [
        [("gold/ebs/vol-1/rpo", "breach")],
        [],  # still in breach: nothing new
        [("gold/ebs/vol-1/rpo", "recovered")],
    ]
    assert state == {
        "gold/ebs/vol-1/rpo": "ok",
        "gold/ebs/vol-1/rto": "ok",
        "gold/ebs/vol-2/rpo": "ok",
        "gold/ebs/vol-2/rto": "ok",
    }


def test_sources_with_slashes_round_trip_through_alert_keys():
    arn = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/orders"
    doc = posture([point(arn, NOW - H, kind="rds")])
    state, events = alert_transitions({}, doc)
    assert {e["key"] for e in events} == {f"gold/rds/{arn}/rpo", f"gold/rds/{arn}/rto"}
    assert state[f"gold/rds/{arn}/rpo"] == "breach"


def test_a_kind_not_assessed_keeps_its_alert_states_and_vanished_resources_are_forgotten():
    previous = {
        "gold/rds/db-1/rpo": "breach",
        "gold/ebs/vol-old/rpo": "breach",
        "gold/ebs/vol-1/rpo": "ok",
        "gold/ebs/vol-1/rto": "ok",
    }
    doc = posture(
        [
            point("db-1", NOW - H, kind="rds"),
            point("vol-1", NOW - H),
            point("vol-1", NOW - H, region=DR, copy=True),
        ],
        verify_results=[verified("vol-1")],
        unlisted={"rds": "ap-northeast-1: AccessDenied: no"},
    )
    assert doc["plans"]["gold"]["kinds"]["rds"] == {
        "assessed": False,
        "reason": "ap-northeast-1: AccessDenied: no",
        "selected": None,
    }
    assert [r["source"] for r in doc["resources"]] == ["vol-1"]
    state, events = alert_transitions(previous, doc)
    assert events == []  # no "recovered" for rds just because it could not be listed
    assert state == {"gold/rds/db-1/rpo": "breach", "gold/ebs/vol-1/rpo": "ok", "gold/ebs/vol-1/rto": "ok"}


def test_format_event_names_the_resource_and_the_lagging_region():
    doc = _estate(NOW, NOW - 3 * H)
    _, events = alert_transitions({}, doc)
    subject, message = format_event(events[0], doc["plans"]["gold"])
    assert subject == "[AWSDR] RPO breach: gold/ebs/vol-1"
    assert f"{DR}: newest copy 2026-11-24T09:00:00Z, age 3h00m, OUTSIDE RPO" in message
    assert "RPO 1h00m, RTO 30m00s" in message


def test_targets_from_policy_reads_rpo_rto_and_kinds():
    from awsdr.policy import load_policy

    targets = targets_from_policy(load_policy())
    assert targets["gold"].rpo == H
    assert targets["gold"].rto == timedelta(minutes=30)
    assert "ebs" in targets["silver"].kinds


# --- what the plans select (discovery) ------------------------------------------------------------


def test_a_selected_resource_without_any_point_is_an_rpo_breach_and_alerts_once():
    """Every capture of a newly tagged resource failed: no point anywhere, still a breach."""
    selected = {("gold", "ebs"): ["vol-1", "vol-new"], ("gold", "rds"): []}
    fresh = NOW - timedelta(minutes=10)
    points = [point("vol-1", fresh), point("vol-1", fresh, region=DR, copy=True)]
    doc = posture(points, verify_results=[verified("vol-1")], selected=selected)
    res = by_source(doc)
    new = res["vol-new"]
    assert new["selected"] is True
    assert new["breach_rpo"] is True
    assert new["breach_rpo_reason"] == "never-captured"
    assert new["primary_points"] == 0
    assert new["newest_primary_window"] is None
    assert new["dr"][DR] == {
        "newest_copy_window": None,
        "copies": 0,
        "rpo_age_seconds": None,
        "within_rpo": False,
        "no_copy": True,
        "missing_copies": 0,
        "newest_usable_archived": False,
        "archive_extra_rto_seconds": 0,
    }
    assert new["breach_rto_reason"] == "never-verified"
    assert new["orphan"] is None
    assert res["vol-1"]["breach_rpo"] is False
    assert res["vol-1"]["breach_rpo_reason"] is None
    summary = doc["plans"]["gold"]["summary"]
    assert (summary["resources"], summary["selected"], summary["never_captured"]) == (2, 2, 1)
    assert summary["breaches_rpo"] == 1
    assert doc["plans"]["gold"]["kinds"]["ebs"] == {"assessed": True, "reason": None, "selected": 2}
    assert doc["plans"]["gold"]["kinds"]["rds"] == {"assessed": True, "reason": None, "selected": 0}
    json.dumps(doc)

    state, events = alert_transitions({}, doc)
    assert [(e["key"], e["event"]) for e in events] == [
        ("gold/ebs/vol-new/rpo", "breach"),
        ("gold/ebs/vol-new/rto", "breach"),
    ]
    subject, message = format_event(events[0], doc["plans"]["gold"])
    assert subject == "[AWSDR] RPO breach: gold/ebs/vol-new"
    assert "Reason: never-captured: the plan selects it but no available recovery point" in message
    assert f"{DR}: NO COPY" in message
    # still never captured a run later: nothing new; once a copy lands: one recovery
    later = NOW + timedelta(minutes=15)
    state, events = alert_transitions(state, posture(points, now=later, selected=selected))
    assert [e["key"] for e in events if e["type"] == "rpo"] == []
    caught_up = [
        *points,
        point("vol-new", later - timedelta(minutes=5)),
        point("vol-new", later - timedelta(minutes=5), region=DR, copy=True),
    ]
    _, events = alert_transitions(state, posture(caught_up, now=later, selected=selected))
    assert [(e["key"], e["event"]) for e in events if e["type"] == "rpo"] == [
        ("gold/ebs/vol-new/rpo", "recovered")
    ]


def test_a_selected_resource_captured_in_the_primary_only_is_a_breach_without_dr_copy():
    doc = posture(
        [point("vol-1", NOW - timedelta(minutes=5)), point("vol-1", NOW - 2 * H)],
        selected={("gold", "ebs"): ["vol-1"]},
    )
    res = by_source(doc)["vol-1"]
    assert res["breach_rpo"] is True
    assert res["breach_rpo_reason"] == "no-dr-copy"
    assert res["dr"][DR]["no_copy"] is True
    assert res["dr"][DR]["rpo_age_seconds"] == 2 * 3600  # at least since the oldest primary point
    assert res["missing_copies"] == 2
    assert doc["plans"]["gold"]["summary"]["never_captured"] == 0
    # one DR region copied, another not: still no-dr-copy (the worse reason wins over rpo-exceeded)
    two = posture(
        [point("vol-1", NOW - 3 * H), point("vol-1", NOW - 3 * H, region=DR, copy=True)],
        dr_regions=(DR, DR2),
        selected={("gold", "ebs"): ["vol-1"]},
    )
    assert by_source(two)["vol-1"]["breach_rpo_reason"] == "no-dr-copy"
    stale = posture([point("vol-1", NOW - 3 * H), point("vol-1", NOW - 3 * H, region=DR, copy=True)])
    assert by_source(stale)["vol-1"]["breach_rpo_reason"] == "rpo-exceeded"


def test_a_failed_discovery_is_not_assessed_and_keeps_alert_states():
    """AccessDenied on gold's EBS discovery: no false breach, no false recovery, nothing else hidden."""
    plans = {
        "gold": GOLD,
        "silver": PlanTarget(name="silver", rpo=24 * H, rto=4 * H, kinds=("ebs",)),
    }
    previous = {"gold/ebs/vol-1/rpo": "breach", "gold/ebs/vol-1/rto": "ok", "gold/rds/db-1/rpo": "breach"}
    doc = compute_posture(
        now=NOW,
        primary_region=PRIMARY,
        dr_regions=(DR,),
        plans=plans,
        points=[
            point("vol-1", NOW - H),  # would look fine or orphaned: it must not be judged at all
            point("vol-1", NOW - H, region=DR, copy=True),
            point("vol-9", NOW - H, plan="silver"),
        ],
        verify_results=[verified("vol-1")],
        selected={("gold", "rds"): ["db-1"], ("silver", "ebs"): ["vol-9", "vol-8"]},
        undiscovered={("gold", "ebs"): "discovery in ap-northeast-2: AccessDenied: not allowed"},
    )
    assert doc["plans"]["gold"]["kinds"]["ebs"] == {
        "assessed": False,
        "reason": "discovery in ap-northeast-2: AccessDenied: not allowed",
        "selected": None,
    }
    assert [(r["plan"], r["kind"], r["source"]) for r in doc["resources"]] == [
        ("gold", "rds", "db-1"),
        ("silver", "ebs", "vol-8"),
        ("silver", "ebs", "vol-9"),
    ]
    state, events = alert_transitions(previous, doc)
    assert state["gold/ebs/vol-1/rpo"] == "breach"  # kept, no "recovered"
    assert state["gold/ebs/vol-1/rto"] == "ok"
    assert not [e for e in events if e["kind"] == "ebs" and e["plan"] == "gold"]
    assert ("gold/rds/db-1/rpo", "breach") not in [(e["key"], e["event"]) for e in events]  # stays put
    assert ("silver/ebs/vol-8/rpo", "breach") in [(e["key"], e["event"]) for e in events]


def test_points_of_a_source_no_longer_selected_are_an_orphan_and_not_judged():
    points = [
        point("vol-gone", NOW - 50 * H),  # deleted or untagged: copies 50h old
        point("vol-gone", NOW - 50 * H, region=DR, copy=True),
        point("vol-back", NOW - H),  # retention thought it gone, it is selected again
        point("vol-back", NOW - H, region=DR, copy=True),
        point("vol-new-gone", NOW - 2 * H),  # gone since the last retention run
    ]
    doc = posture(
        points,
        verify_results=[verified("vol-back")],
        selected={("gold", "ebs"): ["vol-back"]},
        orphans={("gold", "ebs"): {"vol-gone": "2026-11-22T10:00:00Z", "vol-back": "2026-11-23T00:00:00Z"}},
    )
    res = by_source(doc)
    assert res["vol-gone"]["orphan"] == {"since": "2026-11-22T10:00:00Z"}
    assert res["vol-gone"]["selected"] is False
    assert res["vol-gone"]["breach_rpo"] is False
    assert res["vol-gone"]["breach_rpo_reason"] is None
    assert res["vol-gone"]["breach_rto"] is False
    assert res["vol-gone"]["dr"][DR]["rpo_age_seconds"] == 50 * 3600  # the facts stay visible
    assert res["vol-new-gone"]["orphan"] == {"since": None}
    assert res["vol-back"]["orphan"] is None
    assert res["vol-back"]["selected"] is True
    summary = doc["plans"]["gold"]["summary"]
    assert (summary["orphans"], summary["selected"], summary["breaches_rpo"]) == (2, 1, 0)
    assert summary["worst_rpo_age_seconds"] == 3600  # orphans' ages do not count
    # an orphan's earlier breach is dropped quietly, not announced as a recovery
    state, events = alert_transitions({"gold/ebs/vol-gone/rpo": "breach"}, doc)
    assert events == []
    assert set(state) == {"gold/ebs/vol-back/rpo", "gold/ebs/vol-back/rto"}


def test_without_discovery_results_resources_come_from_points_alone():
    doc = posture([point("vol-1", NOW - H)], orphans={("gold", "ebs"): {"vol-1": "2026-11-23T00:00:00Z"}})
    res = by_source(doc)["vol-1"]
    assert res["selected"] is None
    assert res["orphan"] == {"since": "2026-11-23T00:00:00Z"}
    assert doc["plans"]["gold"]["kinds"]["ebs"]["selected"] is None


def test_a_region_whose_copies_are_all_archived_shows_the_extra_rto_and_a_warning():
    fresh = NOW - timedelta(minutes=20)
    archived = point("vol-a", fresh, region=DR, copy=True)
    archived.details["storage_tier"] = "archive"
    older_archived = point("vol-a", fresh - H, region=DR, copy=True)
    older_archived.details["storage_tier"] = "archive"
    # vol-b: its newest copy is archived, an older one is standard: usable without a restore
    b_new = point("vol-b", fresh, region=DR, copy=True)
    b_new.details["storage_tier"] = "archive"
    b_old = point("vol-b", fresh - H, region=DR, copy=True)
    # vol-c: archived, but temporarily restored until tomorrow
    c = point("vol-c", fresh, region=DR, copy=True)
    c.details.update(storage_tier="archive", restore_expiry=format_window(NOW + timedelta(days=1)))
    doc = by_source(posture([archived, older_archived, b_new, b_old, c]))
    a = doc["vol-a"]
    assert a["dr"][DR]["newest_usable_archived"] is True
    assert a["dr"][DR]["archive_extra_rto_seconds"] == 72 * 3600
    assert a["archive_extra_rto_seconds"] == 72 * 3600
    assert len(a["warnings"]) == 1
    assert "archive tier" in a["warnings"][0]
    assert DR in a["warnings"][0]
    assert a["dr"][DR]["within_rpo"] is True  # archived copies still hold the data: RPO unchanged
    for source in ("vol-b", "vol-c"):
        assert doc[source]["dr"][DR]["newest_usable_archived"] is False
        assert doc[source]["archive_extra_rto_seconds"] == 0
        assert doc[source]["warnings"] == []


# --- missed backup windows (a scheduler outage) -------------------------------------------------


def _gap_target(schedule="0 * * * *", tz="UTC"):
    from awsdr.posture import PlanTarget

    return PlanTarget(
        "gold", timedelta(hours=1), timedelta(hours=4), ("ebs",), schedule=schedule, timezone=tz
    )


def test_missed_windows_are_the_scheduled_ones_without_a_run_since_the_first_run():
    from awsdr.posture import window_gaps

    now = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    first = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    hours = [first + timedelta(hours=h) for h in range(37)]  # up to 11-24 12:00
    outage = hours[10:16]
    gap = window_gaps(_gap_target(), [h for h in hours if h not in outage], now)
    assert gap["count"] == 6
    assert gap["windows"] == [format_window(w) for w in reversed(outage)]
    assert gap["since"] == format_window(first)
    # the last hour may still be running: 12:00 is not missed at 12:30 even without its run
    assert window_gaps(_gap_target(), hours[:-1], now)["count"] == 0
    # a backfill of the gap closes it
    assert window_gaps(_gap_target(), hours, now)["count"] == 0


def test_a_plan_with_close_windows_waits_three_of_its_windows_not_an_hour():
    from awsdr.posture import window_gaps

    now = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
    first = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    ticks = [first + timedelta(minutes=5 * n) for n in range(13)]  # 11:00 .. 12:00
    ran = [t for t in ticks if t < datetime(2026, 11, 24, 11, 30, tzinfo=UTC)]  # nothing from 11:30
    gap = window_gaps(_gap_target(schedule="*/5 * * * *"), ran, now)
    # 11:30 .. 11:45 are older than three windows (15 minutes): missed; 11:50 .. 12:00 may still run
    assert gap["windows"] == [
        "2026-11-24T11:45:00Z",
        "2026-11-24T11:40:00Z",
        "2026-11-24T11:35:00Z",
        "2026-11-24T11:30:00Z",
    ]
    # an hourly plan keeps its hour: 11:00 is missed at 12:00:30 (three windows would be 3 hours)
    assert window_gaps(_gap_target(), [first - timedelta(hours=1)], now)["windows"] == [
        "2026-11-24T11:00:00Z"
    ]


def test_no_gap_before_a_plan_first_ran_nor_beyond_the_lookback_nor_without_a_schedule():
    from awsdr.posture import GAP_LOOKBACK, window_gaps

    now = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    assert window_gaps(_gap_target(), [], now) is None  # never ran: nothing to judge yet
    assert window_gaps(_gap_target(schedule=None), [now - timedelta(days=1)], now) is None
    # ran once 30 days ago, nothing since: only the lookback's windows are counted
    gap = window_gaps(_gap_target(schedule="0 0 * * *"), [now - timedelta(days=30)], now)
    assert gap["count"] == GAP_LOOKBACK.days
    assert gap["since"] == format_window(now - GAP_LOOKBACK)


def test_missed_windows_follow_the_policy_time_zone():
    from awsdr.posture import window_gaps

    # daily at 00:00 in Seoul = 15:00 UTC the day before
    now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    ran = [datetime(2026, 11, 20, 15, 0, tzinfo=UTC), datetime(2026, 11, 23, 15, 0, tzinfo=UTC)]
    gap = window_gaps(_gap_target(schedule="0 0 * * *", tz="Asia/Seoul"), ran, now)
    # Seoul's 11-25 00:00 (11-24 15:00 UTC) is due by now too; its UTC midnights never are windows
    assert gap["windows"] == ["2026-11-24T15:00:00Z", "2026-11-22T15:00:00Z", "2026-11-21T15:00:00Z"]
