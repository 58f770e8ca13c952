"""The copy planner and the retention planner over time: windows, copy passes and daily retention.

A small simulator drives the two real planners (:func:`awsdr.copies.plan_copies` and
:func:`awsdr.planning.retention.plan_retention`, through the engine's :func:`awsdr.retention.point_info`)
the way the DAGs run them: a backup per window, a copy pass after it, retention once a day with
the breaker's baseline carried from one run to the next. Copies complete at once (as on the
emulator). Properties, 250 examples each in `make test` (AWSDR_PROPERTY_EXAMPLES=1000: the long form):

- the policy's own life never trips the breaker: ramp-up from an empty account, steady-state
  churn, days whose copies failed, days retention did not run, verifications, failed captures;
  and nothing retention removed is ever copied again, and the DR side stays bounded;
- an anomaly does trip it (policy edit dropping most slots, window tags collapsing or jumping
  into the future, most resources vanishing at once), unless ``force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from awsdr.copies import plan_copies
from awsdr.kinds.base import AVAILABLE, FAILED, RecoveryPoint
from awsdr.planning.retention import DR, PRIMARY, Gfs, RetentionPlan, plan_retention
from awsdr.retention import plan_id, point_info
from awsdr.windows import TAG_COPY_OF, TAG_MANAGED, TAG_VERIFIED_AT, format_window

HOME = "ap-northeast-2"
AWAY = "ap-northeast-1"
START = datetime(2026, 3, 2, tzinfo=UTC)
#: examples per property: 250 in ``make test``; AWSDR_PROPERTY_EXAMPLES=1000 for the long form
PROPERTY = settings(max_examples=int(os.environ.get("AWSDR_PROPERTY_EXAMPLES", "250")), deadline=None)


def _point(source: str, window: datetime, region: str, *, copy_of: str | None = None, ok: bool = True):
    pid = f"{source}@{region}@{window:%Y%m%dT%H%M}"
    tags = {TAG_MANAGED: "true", "awsdr:window": format_window(window), "awsdr:source": source}
    if copy_of:
        tags[TAG_COPY_OF] = copy_of
    return RecoveryPoint("ebs", pid, pid, source, region, "p", window, AVAILABLE if ok else FAILED, tags=tags)


@dataclass
class Estate:
    """Points in both regions, the breaker's baseline, and what happened."""

    primary_rule: Gfs
    dr_rule: Gfs
    fraction: float
    points: dict[str, RecoveryPoint] = field(default_factory=dict)  # plan id -> point
    baseline: dict[tuple[str, str], int] | None = None
    pruned_copies_of: set[str] = field(default_factory=set)  # origins whose DR copy was pruned
    recopies: int = 0
    copies: int = 0
    runs: list[RetentionPlan] = field(default_factory=list)

    def add(self, p: RecoveryPoint) -> None:
        self.points[plan_id(p.region, p.point_id)] = p

    def region(self, region: str) -> list[RecoveryPoint]:
        return [p for p in self.points.values() if p.region == region]

    def copy_pass(self) -> None:
        plan = plan_copies(self.region(HOME), {AWAY: self.region(AWAY)}, [AWAY], rule=self.dr_rule)
        for job in plan.jobs:
            if job.point.point_id in self.pruned_copies_of:
                self.recopies += 1
            self.copies += 1
            self.add(_point(job.point.source_id, job.point.window, AWAY, copy_of=job.point.point_id))

    def retention(self, now: datetime, **kw) -> RetentionPlan:
        infos = [point_info(p, HOME) for p in self.points.values()]
        kw = {
            "rules": {PRIMARY: self.primary_rule, DR: self.dr_rule},
            "now": now,
            "max_delete_fraction": self.fraction,
            "dr_regions": [AWAY],
            "baseline": self.baseline,
            **kw,
        }
        result = plan_retention(infos, **kw)
        for info in result.to_delete():
            gone = self.points.pop(info.point_id)
            if gone.region == AWAY and gone.tags.get(TAG_COPY_OF):
                self.pruned_copies_of.add(gone.tags[TAG_COPY_OF])
        self.baseline = result.baseline
        self.runs.append(result)
        return result

    def verify_newest(self, source: str, at: datetime) -> None:
        copies = [p for p in self.region(AWAY) if p.source_id == source]
        if copies:
            newest = max(copies, key=lambda p: p.window)
            newest.tags[TAG_VERIFIED_AT] = format_window(at)


rules_primary = st.builds(Gfs, hourly=st.integers(0, 24), daily=st.integers(0, 7), weekly=st.integers(0, 2))
rules_dr = st.builds(
    Gfs,
    hourly=st.integers(0, 4),
    daily=st.integers(1, 14),
    weekly=st.integers(0, 8),
    monthly=st.integers(0, 3),
    yearly=st.integers(0, 1),
)


@st.composite
def lives(draw, *, min_days: int = 2, max_days: int = 7, dr_rules=rules_dr, steps=(1, 2, 3, 6, 12, 24)):
    step = draw(st.sampled_from(steps))
    days = draw(st.integers(min_days, max_days))
    windows = days * 24 // step
    return {
        "estate": Estate(draw(rules_primary), draw(dr_rules), draw(st.sampled_from((0.25, 1 / 3, 0.5)))),
        "sources": [f"vol-{i}" for i in range(draw(st.integers(1, 2)))],
        "step": step,
        "windows": windows,
        "copy_outages": draw(st.sets(st.integers(0, windows - 1), max_size=max(1, windows // 3))),
        "failed_captures": draw(st.sets(st.integers(0, windows - 1), max_size=max(1, windows // 10))),
        "retention_outages": draw(st.sets(st.integers(0, days - 1), max_size=days // 3)),
        "verify_days": draw(st.sets(st.integers(0, days - 1), max_size=days)),
        "retention_hour": draw(st.integers(0, 23)),
    }


def simulate(life, *, until: int | None = None) -> datetime:
    """Run the windows; returns the time of the last one. Asserts nothing trips on the way."""
    estate: Estate = life["estate"]
    step = timedelta(hours=life["step"])
    last = START
    for n in range(life["windows"] if until is None else until):
        window = START + n * step
        for source in life["sources"]:
            estate.add(_point(source, window, HOME, ok=n not in life["failed_captures"]))
        if n not in life["copy_outages"]:
            estate.copy_pass()
        # Retention runs at its hour each day (once per day, whatever the window step).
        day = (window - START).days
        run_at = START + timedelta(days=day, hours=life["retention_hour"])
        if window <= run_at < window + step and day not in life["retention_outages"]:
            if day in life["verify_days"]:
                for source in life["sources"]:
                    estate.verify_newest(source, run_at)
            result = estate.retention(run_at)
            assert result.blocked == {}, (n, result.blocked)
        last = window
    return last


@PROPERTY
@given(lives())
def test_property_the_policy_itself_never_trips_the_breaker(life):
    estate: Estate = life["estate"]
    last = simulate(life)
    # Nothing retention removed was copied again.
    assert estate.recopies == 0
    # After a retention run the DR side holds what the DR rule keeps plus the newest and the
    # newest verified; the primary its own rule plus what DR still wants (copies that failed).
    final = estate.retention(last + timedelta(minutes=30))
    assert final.blocked == {}
    dr, pr = estate.dr_rule, estate.primary_rule
    dr_bound = dr.hourly + dr.daily + dr.weekly + dr.monthly + dr.yearly + 2
    primary_bound = pr.hourly + pr.daily + pr.weekly + 1 + dr_bound + len(life["failed_captures"])
    for source in life["sources"]:
        assert sum(1 for p in estate.region(AWAY) if p.source_id == source) <= dr_bound
        assert sum(1 for p in estate.region(HOME) if p.source_id == source) <= primary_bound


steady_dr = st.builds(
    Gfs,
    hourly=st.integers(0, 4),
    daily=st.integers(8, 14),
    weekly=st.integers(0, 4),
    monthly=st.integers(0, 2),
    yearly=st.integers(0, 1),
)


@st.composite
def anomalies(draw):
    # Several windows a day, so that every day brings deletes (copies superseded within the day).
    life = draw(lives(min_days=9, max_days=9, dr_rules=steady_dr, steps=(2, 3, 6)))
    life["sources"] = ["vol-0", "vol-1", "vol-2"]
    life["retention_outages"] = set()
    life["copy_outages"] = set()
    life["failed_captures"] = set()
    return life, draw(st.sampled_from(("policy-edit", "collapse", "future", "vanish"))), draw(st.booleans())


@PROPERTY
@given(anomalies())
def test_property_an_anomaly_trips_the_breaker_unless_forced(case):
    life, anomaly, force = case
    estate: Estate = life["estate"]
    last = simulate(life)
    # One more day of windows (copies made), then the anomalous retention run.
    step = timedelta(hours=life["step"])
    for n in range(1, 24 // life["step"] + 1):
        for source in life["sources"]:
            estate.add(_point(source, last + n * step, HOME))
        estate.copy_pass()
    now = last + timedelta(days=1, minutes=15)
    kw: dict = {"force": force}
    hit = {(s, AWAY) for s in life["sources"]}
    if anomaly == "policy-edit":
        estate.dr_rule = Gfs(daily=1)  # from 8+ dailies to one
    elif anomaly == "collapse":
        for pid, p in list(estate.points.items()):
            if p.region == AWAY:
                estate.points[pid] = replace(p, window=now - timedelta(hours=1))
    elif anomaly == "future":
        for source in life["sources"]:
            estate.add(_point(source, now + timedelta(days=400), AWAY, copy_of=f"bogus-{source}"))
    else:  # two of three resources vanish; no grace
        kw |= {"existing_sources": {"vol-0"}, "orphan_grace": timedelta(0)}
        hit = {(s, region) for s in ("vol-1", "vol-2") for region in (HOME, AWAY)}
    baseline_before = dict(estate.baseline or {})
    points_before = dict(estate.points)
    result = estate.retention(now, **kw)
    deleting = {
        (p.source_id, p.region)
        for p in plan_retention(
            [point_info(p, HOME) for p in points_before.values()],
            rules={PRIMARY: estate.primary_rule, DR: estate.dr_rule},
            now=now,
            max_delete_fraction=estate.fraction,
            dr_regions=[AWAY],
            baseline=baseline_before,
            force=True,
            **{k: v for k, v in kw.items() if k != "force"},
        ).to_delete()
    }
    expected = hit & deleting
    assert expected, "the anomaly must come with deletes for the breaker to stop"
    if force:
        assert result.blocked == {}
        assert expected <= set(result.forced)
    else:
        assert expected <= set(result.blocked)
        assert not any((p.source_id, p.region) in expected for p in result.to_delete())
        # Nothing in a stopped group was deleted: the group's points are all still there.
        for key in expected:
            assert {k for k, p in points_before.items() if (p.source_id, p.region) == key} <= set(
                estate.points
            )
