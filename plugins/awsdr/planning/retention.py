"""Retention planner: which recovery points to keep, which to delete, and why.

Pure: no Airflow, no boto3, no clock. The caller lists the points (with their tags already
parsed into :class:`PointInfo`), passes the policy's retention rules and the run's window as
``now``, and gets a :class:`RetentionPlan` back. Deleting is someone else's job; this module only
decides, and every decision names the rule that made it.

How a point is decided
======================
Points are grouped by ``(source_id, region)``. Within a group only *managed* points
(``awsdr:managed=true``) are candidates, and only managed points are *relied upon*: the newest
point, the newest verified copy, the GFS representatives and the DR copy that lets a primary point
go are all managed points.
A point someone else made may vanish at any time, so it never stands in for one of ours.

A managed point is kept when at least one keep rule applies; ``Decision.reasons`` lists them all
and ``Decision.rule`` is the first in this fixed precedence order:

1. ``legal-hold``      the ``awsdr:legal-hold`` tag is present.
2. ``orphan-grace``    its source no longer exists (not in ``existing_sources``) and it vanished
                       less than ``orphan_grace`` ago (``vanished_at``; unknown means "now", so the
                       grace starts on the first run that notices). After the grace the normal rules
                       apply, so an orphan still keeps its newest point (rule 3) for good.
3. ``incomplete``      not completed (still creating, or failed) and its window is younger than
                       ``incomplete_grace`` (7 days).
4. ``newest``          the newest completed point of its group.
5. ``newest-verified`` the completed point with the latest ``verified_at`` in its group (a DR
                       copy that passed restore verification; applied in every region class).
6. ``no-dr-copy``      a completed primary point that some DR region *wants* (see "What the DR
                       region keeps", below) and does not hold yet as a completed managed copy:
                       deleting it would lose data the DR region is still to receive. Points no
                       DR region wants follow the primary rules alone, so primary points are never
                       kept forever when not every point is copied.
7. ``gfs:yearly`` .. ``gfs:hourly``  the representative of one of the last N periods (below),
                       coarsest granularity first: it names the rule that will keep the point longest.

Unmanaged points are kept with ``rule="unmanaged"`` (reasons: ``unmanaged`` and, if held,
``legal-hold``). A managed point no rule keeps is deleted with ``rule="expired"``, or
``rule="failed-stale"`` when it never completed.

Failed points: a point that never completed holds no restorable data, so GFS never picks it, but
it is kept for ``incomplete_grace`` (it may still be creating, and a failure is worth
investigating). Older, it is deletable as ``failed-stale`` if managed and not held, in both region
classes: ``no-dr-copy`` protects data not yet copied, and an incomplete point has none. Without
this, failed snapshots would accumulate forever. The breaker (below) still counts them.

GFS (grandfather-father-son)
============================
Each region class (``primary``, ``dr``) has counts for ``hourly``, ``daily``, ``weekly``,
``monthly`` and ``yearly``. A point's periods come from its *window* (``awsdr:window``), never
from its capture time, so a late capture lands in the period it protects. The window is converted
into ``tz`` (IANA zone, DST-aware):

- hour  = local (date, hour, UTC offset). In the fall-back repeated hour, 01:30 EDT and 01:30 EST
  are two different real hours, so they are two periods: hourly retention counts elapsed hours,
  and merging them would silently drop one real hour's point. The spring-forward missing hour has
  no instants, hence no points and no period.
- day   = local date (23 or 25 hours long on DST days).
- week  = ISO (year, week) of the local date (``isocalendar``; 2026-W53 runs to 2027-01-03).
- month = local (year, month); year = local year.

The representative of a period is its NEWEST completed managed point (ties broken by
``point_id``): it carries the most recent state of that period, and picking it is stable, since a
later point in the same period replaces it exactly once, when it arrives.

"The last N periods" are the N most recent periods THAT HAVE POINTS, not the last N calendar
periods before ``now``: after a gap (a paused plan, an outage) the newest history is kept instead
of everything expiring because the calendar moved on. Periods are ordered by their
representative's window, which is chronological because periods are disjoint intervals of time.

What the DR region keeps (shared with the copy planner)
=====================================================
:func:`dr_wanted` decides, per source and DR region, which primary points the DR region should
hold: the DR rule (newest + GFS representatives) applied to the *union* of the source's completed
primary points and the region's live copies (a copy stands for the point it is a copy of). The
copy planner (:mod:`awsdr.copies`) copies exactly these, and the ``no-dr-copy`` rule above keeps
exactly these in the primary region until their copy exists. Adding points can only push a point
out of a keep set (a newer point in its period, or a newer period), never pull it in, so a copy
that DR retention removed (a newer copy represents its period, or its period aged out) is never
wanted again: no re-copies.

Breaker
=======
The breaker guards against mistakes, not against the policy. It compares each group with the
last applied run (``baseline``: how many completed managed points the group held by a *slot* rule
— ``newest``, ``newest-verified``, ``no-dr-copy``, ``gfs:*`` — after that run; the engine persists
:attr:`RetentionPlan.baseline` after every run that deletes). A group is stopped, nothing in it
deleted (``rule="breaker"``, listed in ``RetentionPlan.blocked``), unless ``force``:

- *shrink*: the group would hold ``lost = baseline - (slot-kept + covered)`` fewer points than
  after the last run, with ``lost > max(max_delete_fraction * baseline, slack)``. ``covered`` are
  primary points deleted while a completed managed DR copy of them exists (their data lives on).
  Steady-state churn (a copy superseded within its day, the oldest period ageing out as a new one
  arrives) keeps the count level, and the ramp-up from an empty account only grows it, so neither
  trips; a policy edit that drops most slots, or window tags collapsing into few periods, does.
  ``slack`` (default 2) absorbs the steps of a level keep set in a small group: a newer
  verification releases the previous newest-verified point, and at a period boundary one new
  point can take the slots of two granularities at once. (Measured: the lifecycle properties in
  ``tests/unit/test_retention_lifecycle.py`` pass over 1,000 simulated lives with a slack of 1;
  2 leaves a margin, and a group of 5 or more points that would keep only its newest and
  newest-verified still trips.) A group with no baseline (new resource, first run) has
  nothing to compare with: only the two checks below apply.
- *future windows*: a managed point whose window is later than ``now`` + ``future_tolerance``
  (1 day): window tags that jumped; GFS would be computed from a bogus calendar.
- *mass vanishing*: more than ``max_delete_fraction`` of the sources with points (at least 3)
  are missing from ``existing_sources`` at once: deletes in those orphans' groups stop (a
  discovery that came back empty, tags removed in bulk), whatever their grace.

With ``force`` the deletes go ahead and the groups are recorded in ``RetentionPlan.forced``.

Cost: O(n log n); each distinct window is converted into ``tz`` once (windows repeat across
resources), so 100,000 points plan in well under a second.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_BREAKER_SLACK",
    "DEFAULT_FUTURE_TOLERANCE",
    "ARCHIVE_RESTORE_TIME",
    "GRANULARITIES",
    "Decision",
    "Gfs",
    "PointInfo",
    "RetentionPlan",
    "RetentionRule",
    "dr_wanted",
    "is_archived",
    "plan_archive",
    "plan_retention",
]

PRIMARY = "primary"
DR = "dr"
REGION_CLASSES = (PRIMARY, DR)

#: GFS granularities, coarsest first: the order of ``gfs:*`` rules in ``Decision.reasons``.
GRANULARITIES = ("yearly", "monthly", "weekly", "daily", "hourly")

#: Incomplete points younger than this (by window) are kept; older ones are ``failed-stale``.
DEFAULT_INCOMPLETE_GRACE = timedelta(days=7)

#: A window later than the run's ``now`` by more than this stops the breaker's group.
DEFAULT_FUTURE_TOLERANCE = timedelta(days=1)

#: The shrink the breaker always allows a group (see "Breaker").
DEFAULT_BREAKER_SLACK = 2

#: Fewest sources for the breaker's mass-vanishing check.
MASS_VANISH_MIN_SOURCES = 3

# Keep reasons for managed points, in precedence order; bit i of a mask is _REASONS[i].
_REASONS = (
    "legal-hold",
    "orphan-grace",
    "incomplete",
    "newest",
    "newest-verified",
    "no-dr-copy",
    *(f"gfs:{g}" for g in GRANULARITIES),
)
_BIT = {name: 1 << i for i, name in enumerate(_REASONS)}
_HOLD = _BIT["legal-hold"]
_ORPHAN = _BIT["orphan-grace"]
_INCOMPLETE = _BIT["incomplete"]
_NEWEST = _BIT["newest"]
_VERIFIED = _BIT["newest-verified"]
_NO_COPY = _BIT["no-dr-copy"]
_GFS_BITS = tuple(_BIT[f"gfs:{g}"] for g in GRANULARITIES)
#: Keep reasons that are the policy's slots (what the breaker counts).
_SLOT_BITS = _NEWEST | _VERIFIED | _NO_COPY
for _b in _GFS_BITS:
    _SLOT_BITS |= _b
_UNMANAGED: tuple[str, ...] = ("unmanaged",)
_UNMANAGED_HELD: tuple[str, ...] = ("unmanaged", "legal-hold")


@dataclass(frozen=True)
class PointInfo:
    """One recovery point as the planner sees it (tags already parsed).

    :param point_id: the point's id or ARN (unique).
    :param source_id: the protected resource's id (``awsdr:source``).
    :param region: the region the point lives in.
    :param region_class: ``"primary"`` or ``"dr"``.
    :param window: the run's window (``awsdr:window``), an aware datetime.
    :param managed: ``awsdr:managed == "true"``.
    :param legal_hold: ``awsdr:legal-hold`` is present.
    :param completed: the point's status is available.
    :param verified_at: ``awsdr:verified-at``: when a restore of it was verified.
    :param copy_of: ``awsdr:copy-of``: for DR copies, the source point's id.
    """

    point_id: str
    source_id: str
    region: str
    region_class: str
    window: datetime
    managed: bool
    legal_hold: bool
    completed: bool
    verified_at: datetime | None = None
    copy_of: str | None = None
    size_bytes: int = 0
    plan: str = ""
    kind: str = ""
    #: ``standard`` or ``archive`` (EBS snapshots; a temporarily restored snapshot is ``archive``)
    storage_tier: str = "standard"


@dataclass(frozen=True)
class Gfs:
    """GFS counts for one region class; any object with these attributes, or a dict, also works."""

    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0

    @classmethod
    def from_rule(cls, rule: RetentionRule) -> Gfs:
        """Normalise a rule: a :class:`Gfs`, a mapping (missing keys are 0) or an object with attributes."""
        if isinstance(rule, Gfs):
            values = {g: getattr(rule, g) for g in GRANULARITIES}
        elif isinstance(rule, Mapping):
            unknown = set(rule) - set(GRANULARITIES)
            if unknown:
                raise ValueError(f"unknown retention granularities {sorted(unknown)}; known: {GRANULARITIES}")
            values = {g: rule.get(g, 0) for g in GRANULARITIES}
        else:
            values = {g: getattr(rule, g, 0) for g in GRANULARITIES}
        for name, value in values.items():
            if value is None:
                values[name] = 0
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"retention count {name}={value!r} must be a non-negative integer")
        return cls(**values)

    def counts(self) -> tuple[int, ...]:
        """The counts in :data:`GRANULARITIES` order (coarsest first)."""
        return tuple(getattr(self, g) for g in GRANULARITIES)


#: A retention rule: a :class:`Gfs`, a ``{"daily": 7, ...}`` mapping, or any object with the
#: attributes ``hourly``, ``daily``, ``weekly``, ``monthly``, ``yearly`` (e.g. the policy model's).
RetentionRule: TypeAlias = Gfs | Mapping[str, int] | Any


class Decision(NamedTuple):
    """What happens to one point (immutable; a named tuple: the planner makes one per point, a
    million in a large estate, and a tuple is made three times faster than a frozen dataclass).

    :param rule: the rule that decided (first applicable keep rule in precedence order,
        ``"breaker"``, or for deletes ``"expired"`` / ``"failed-stale"``).
    :param reasons: every keep rule that applied (empty for deletes).
    """

    point: PointInfo
    keep: bool
    rule: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionPlan:
    """The planner's answer: one decision per input point, in input order.

    :param blocked: ``(source_id, region) -> message`` for groups the breaker stopped.
    :param forced: groups the breaker would have stopped but ``force`` let through (audit).
    :param baseline: per group, the slot-kept count the breaker compares the next run with
        (persisted by the engine after a run that deletes; a blocked group keeps its old one).
    """

    decisions: list[Decision]
    blocked: dict[tuple[str, str], str]
    forced: dict[tuple[str, str], str] = field(default_factory=dict)
    baseline: dict[tuple[str, str], int] = field(default_factory=dict)

    def to_delete(self) -> list[PointInfo]:
        """Points to delete, in input order."""
        return [d.point for d in self.decisions if not d.keep]

    def kept(self) -> list[PointInfo]:
        """Points to keep, in input order."""
        return [d.point for d in self.decisions if d.keep]

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts and bytes: totals, per region and per deciding rule."""
        by_region: dict[str, dict[str, int]] = {}
        by_rule: dict[str, dict[str, int]] = {}
        totals = {"kept": 0, "kept_bytes": 0, "deleted": 0, "deleted_bytes": 0}
        for d in self.decisions:
            p = d.point
            verb = "kept" if d.keep else "deleted"
            region = by_region.setdefault(
                p.region, {"kept": 0, "kept_bytes": 0, "deleted": 0, "deleted_bytes": 0}
            )
            region[verb] += 1
            region[verb + "_bytes"] += p.size_bytes
            totals[verb] += 1
            totals[verb + "_bytes"] += p.size_bytes
            rule = by_rule.setdefault(d.rule, {"keep": int(d.keep), "count": 0, "bytes": 0})
            rule["count"] += 1
            rule["bytes"] += p.size_bytes
        return {
            "points": len(self.decisions),
            **totals,
            "blocked": len(self.blocked),
            "forced": len(self.forced),
            "by_region": dict(sorted(by_region.items())),
            "by_rule": dict(sorted(by_rule.items())),
        }


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value!r} is naive: it must carry a timezone")


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {tz!r}") from err


#: Period keys per zone and window, shared by every planner call (windows repeat across sources,
#: regions and passes); cleared when it grows past _PERIOD_CACHE_MAX entries.
_PERIOD_CACHES: dict[ZoneInfo, dict[datetime, tuple[Any, ...]]] = {}
_PERIOD_CACHE_MAX = 1 << 18


def _period_keys(zone: ZoneInfo) -> Callable[[datetime], tuple[Any, ...]]:
    """``window -> (year, month, week, day, hour)`` keys in ``zone``, converted once per window."""
    cache = _PERIOD_CACHES.setdefault(zone, {})
    if len(cache) > _PERIOD_CACHE_MAX:
        cache.clear()

    def periods(window: datetime) -> tuple[Any, ...]:
        found = cache.get(window)
        if found is None:
            local = window.astimezone(zone)
            day = local.date()
            iso = day.isocalendar()
            found = (
                local.year,
                (local.year, local.month),
                (iso[0], iso[1]),
                day,
                (day, local.hour, local.utcoffset()),
            )
            cache[window] = found
        return found

    return periods


def _representatives(
    entries: Iterable[tuple[datetime, str, int]],
    counts: tuple[int, ...],
    periods: Callable[[datetime], tuple[Any, ...]],
) -> tuple[int | None, list[tuple[int, list[int]]]]:
    """The newest entry and, per active granularity (index, bit), the GFS representatives.

    ``entries`` are ``(window, tie-break id, handle)``; returns handles: ``(newest, [(bit, [handles])])``.
    """
    active = [(g, count, _GFS_BITS[g]) for g, count in enumerate(counts) if count > 0]
    best: list[dict[Any, tuple[datetime, str, int]]] = [{} for _ in active]
    newest: tuple[datetime, str, int] | None = None
    # (window, id) compared without slicing: this loop runs once per point and group
    for entry in entries:
        window = entry[0]
        if newest is None or window > newest[0] or (window == newest[0] and entry[1] > newest[1]):
            newest = entry
        if not active:
            continue
        keys = periods(window)
        for slot, (g, _count, _bit) in enumerate(active):
            reps = best[slot]
            key = keys[g]
            current = reps.get(key)
            if current is None or window > current[0] or (window == current[0] and entry[1] > current[1]):
                reps[key] = entry
    out = [
        (bit, [e[2] for e in heapq.nlargest(count, best[slot].values(), key=lambda e: e[:2])])
        for slot, (_g, count, bit) in enumerate(active)
    ]
    return (newest[2] if newest is not None else None), out


def dr_wanted(
    candidates: Iterable[tuple[str, datetime]],
    *,
    rule: RetentionRule,
    tz: str | ZoneInfo = "UTC",
) -> set[str]:
    """Which points one DR region should hold of one source (see "What the DR region keeps").

    :param candidates: ``(origin id, window)``: the source's completed primary points (origin = the
        point's id) and the region's live copies (origin = the ``awsdr:copy-of`` id, so a point and
        its copy are one candidate).
    :param rule: the DR retention rule.
    :returns: the origin ids that the DR rule keeps: the newest and every GFS representative.
    """
    unique = dict(candidates)
    if not unique:
        return set()
    counts = Gfs.from_rule(rule).counts()
    ids = list(unique)
    newest, reps = _representatives(
        ((unique[o], o, i) for i, o in enumerate(ids)), counts, _period_keys(_zone(tz))
    )
    wanted = {ids[newest]} if newest is not None else set()
    for _bit, handles in reps:
        wanted.update(ids[h] for h in handles)
    return wanted


def plan_retention(
    points: Iterable[PointInfo],
    *,
    rules: Mapping[str, RetentionRule],
    tz: str = "UTC",
    now: datetime,
    existing_sources: set[str] | None = None,
    vanished_at: Mapping[str, datetime] | None = None,
    orphan_grace: timedelta = timedelta(days=90),
    max_delete_fraction: float = 0.5,
    force: bool = False,
    incomplete_grace: timedelta = DEFAULT_INCOMPLETE_GRACE,
    dr_regions: Sequence[str] | None = None,
    baseline: Mapping[tuple[str, str], int] | None = None,
    breaker_slack: int | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> RetentionPlan:
    """Decide every point; see the module docstring for the rules and their order.

    :param rules: ``{"primary": <rule>, "dr": <rule>}``; a rule is needed for every region class
        that has points (and ``"dr"`` whenever primary points are planned with DR regions).
    :param tz: IANA zone the GFS periods are computed in.
    :param now: the run's window (the planner never reads the clock).
    :param existing_sources: the sources that still exist; ``None`` means "unknown": no orphans.
    :param vanished_at: when each orphan was first seen missing (absent: ``now``).
    :param orphan_grace: how long an orphan's points are all kept.
    :param max_delete_fraction: the breaker's limit, in [0, 1] (see "Breaker").
    :param force: delete even in groups the breaker stops (recorded in ``forced``).
    :param incomplete_grace: how long a point that is not completed is kept (by window age).
    :param dr_regions: the DR regions primary points are copied to (``None``: the regions of the
        DR points given).
    :param baseline: per group, :attr:`RetentionPlan.baseline` of the last applied run.
    :param breaker_slack: the shrink the breaker always allows (default :data:`DEFAULT_BREAKER_SLACK`).
    :param future_tolerance: how far past ``now`` a window may lie before the breaker stops its group.
    :raises ValueError: naive datetimes, an unknown zone or region class, a missing or invalid rule,
        a duplicate ``point_id``, a group mixing region classes, a fraction outside [0, 1].
    """
    _require_aware(now, "now")
    if not 0.0 <= max_delete_fraction <= 1.0:
        raise ValueError(f"max_delete_fraction={max_delete_fraction!r} must be within [0, 1]")
    zone = _zone(tz)

    pts = points if isinstance(points, list) else list(points)
    n = len(pts)

    # --- validation and grouping ----------------------------------------------------------------
    seen_ids: set[str] = set()
    groups: dict[tuple[str, str], list[int]] = {}  # managed points only
    group_class: dict[tuple[str, str], str] = {}
    copied: dict[str, set[str]] = {}  # point id -> DR regions holding a completed, managed copy
    live_copies: dict[tuple[str, str], list[int]] = {}  # (source, DR region) -> completed managed copies
    regions_seen: set[str] = set()
    checked_windows: set[datetime] = set()
    for i, p in enumerate(pts):
        if p.point_id in seen_ids:
            raise ValueError(f"duplicate point_id {p.point_id!r}")
        seen_ids.add(p.point_id)
        if p.region_class not in REGION_CLASSES:
            raise ValueError(
                f"point {p.point_id!r}: region_class {p.region_class!r} is not one of {REGION_CLASSES}"
            )
        if p.window not in checked_windows:  # naive and aware never compare equal: safe cache
            _require_aware(p.window, f"point {p.point_id!r}: window")
            checked_windows.add(p.window)
        if p.verified_at is not None:
            _require_aware(p.verified_at, f"point {p.point_id!r}: verified_at")
        if p.region_class == DR:
            regions_seen.add(p.region)
            if p.completed and p.managed and p.copy_of:
                copied.setdefault(p.copy_of, set()).add(p.region)
                live_copies.setdefault((p.source_id, p.region), []).append(i)
        if not p.managed:
            continue
        key = (p.source_id, p.region)
        members = groups.get(key)
        if members is None:
            groups[key] = [i]
            group_class[key] = p.region_class
        else:
            if group_class[key] != p.region_class:
                raise ValueError(
                    f"group {key}: points of region classes {group_class[key]!r} and {p.region_class!r}"
                )
            members.append(i)
    targets = tuple(dr_regions) if dr_regions is not None else tuple(sorted(regions_seen))

    gfs_counts: dict[str, tuple[int, ...]] = {}
    needed = set(group_class.values())
    if targets and PRIMARY in needed:
        needed.add(DR)
    for cls in needed:
        if cls not in rules:
            raise ValueError(f"no retention rule for region class {cls!r}")
        gfs_counts[cls] = Gfs.from_rule(rules[cls]).counts()

    # --- orphans ------------------------------------------------------------------------------
    in_grace: dict[str, bool] = {}
    if existing_sources is not None:
        for source, _region in groups:
            if source in in_grace:
                continue
            if source in existing_sources:
                in_grace[source] = False
                continue
            vanished = vanished_at.get(source, now) if vanished_at else now
            _require_aware(vanished, f"vanished_at[{source!r}]")
            in_grace[source] = now - vanished < orphan_grace

    periods = _period_keys(zone)

    def order(i: int) -> tuple[datetime, str]:
        return (pts[i].window, pts[i].point_id)

    def verified_order(i: int) -> tuple[datetime | None, datetime, str]:
        return (pts[i].verified_at, pts[i].window, pts[i].point_id)

    # --- what each DR region still wants of each primary group (shared with the copy planner) ---
    def still_wanted(source: str, completed: list[int]) -> set[int]:
        """Completed primary points some DR region wants and does not hold yet."""
        out: set[int] = set()
        dr_counts = gfs_counts.get(DR, ())
        for region in targets:
            entries = [(pts[i].window, pts[i].point_id, i) for i in completed]
            entries += [
                (pts[c].window, pts[c].copy_of or "", -1) for c in live_copies.get((source, region), ())
            ]
            newest, reps = _representatives(_by_origin(entries), dr_counts, periods)
            wanted = {newest} if newest is not None else set()
            for _bit, handles in reps:
                wanted.update(handles)
            out.update(i for i in wanted if i >= 0 and region not in copied.get(pts[i].point_id, ()))
        return out

    # --- keep reasons for managed points --------------------------------------------------------
    masks = [0] * n
    young_cutoff = now - incomplete_grace
    for key, members in groups.items():
        counts = gfs_counts[group_class[key]]
        orphan_bit = _ORPHAN if in_grace.get(key[0], False) else 0
        completed: list[int] = []
        for i in members:
            p = pts[i]
            mask = orphan_bit
            if p.legal_hold:
                mask |= _HOLD
            if p.completed:
                completed.append(i)
            elif p.window > young_cutoff:
                mask |= _INCOMPLETE
            masks[i] = mask
        if not completed:
            continue
        if group_class[key] == PRIMARY and targets:
            for i in still_wanted(key[0], completed):
                masks[i] |= _NO_COPY
        masks[max(completed, key=order)] |= _NEWEST
        verified = [i for i in completed if pts[i].verified_at is not None]
        if verified:
            masks[max(verified, key=verified_order)] |= _VERIFIED
        _newest, reps = _representatives(
            ((pts[i].window, pts[i].point_id, i) for i in completed), counts, periods
        )
        for bit, handles in reps:
            for i in handles:
                masks[i] |= bit

    # --- decisions ------------------------------------------------------------------------------
    reason_names: dict[int, tuple[str, ...]] = {}

    def names(mask: int) -> tuple[str, ...]:
        found = reason_names.get(mask)
        if found is None:
            found = tuple(name for name in _REASONS if mask & _BIT[name])
            reason_names[mask] = found
        return found

    decisions: list[Decision] = []
    deletes: dict[tuple[str, str], list[int]] = {}
    for i, p in enumerate(pts):
        if not p.managed:
            decisions.append(Decision(p, True, "unmanaged", _UNMANAGED_HELD if p.legal_hold else _UNMANAGED))
            continue
        mask = masks[i]
        if mask:
            why = reason_names.get(mask) or names(mask)
            decisions.append(Decision(p, True, why[0], why))
            continue
        decisions.append(Decision(p, False, "expired" if p.completed else "failed-stale"))
        deletes.setdefault((p.source_id, p.region), []).append(i)

    # --- breaker --------------------------------------------------------------------------------
    slot_kept = {
        key: sum(1 for i in members if pts[i].completed and masks[i] & _SLOT_BITS)
        for key, members in groups.items()
    }
    sources = {source for source, _region in groups}
    vanished_now = sources - existing_sources if existing_sources is not None else set()
    mass_vanish = (
        len(sources) >= MASS_VANISH_MIN_SOURCES and len(vanished_now) / len(sources) > max_delete_fraction
    )
    future_limit = now + future_tolerance
    blocked: dict[tuple[str, str], str] = {}
    forced: dict[tuple[str, str], str] = {}
    for key, doomed in deletes.items():
        members = groups[key]
        reasons: list[str] = []
        future = [pts[i].window for i in members if pts[i].window > future_limit]
        if future:
            reasons.append(
                f"{len(future)} points have windows after the run's window {now.isoformat()} "
                f"(latest {max(future).isoformat()}): window tags jumped"
            )
        if mass_vanish and key[0] in vanished_now:
            reasons.append(
                f"{len(vanished_now)} of {len(sources)} sources vanished at once "
                f"(more than max_delete_fraction={max_delete_fraction:g})"
            )
        before = baseline.get(key) if baseline else None
        if before is not None:
            covered = sum(
                1
                for i in doomed
                if pts[i].completed and group_class[key] == PRIMARY and pts[i].point_id in copied
            )
            lost = before - (slot_kept[key] + covered)
            slack = DEFAULT_BREAKER_SLACK if breaker_slack is None else breaker_slack
            if lost > max(max_delete_fraction * before, slack):
                reasons.append(
                    f"it would keep {slot_kept[key] + covered} of the {before} points the last run kept "
                    f"({lost} fewer: more than max_delete_fraction={max_delete_fraction:g} and the slack "
                    f"of {slack})"
                )
        if not reasons:
            continue
        message = (
            f"{key[0]} in {key[1]}: the plan would delete {len(doomed)} of {len(members)} managed points and "
            + "; ".join(reasons)
        )
        if force:
            forced[key] = message + "; forced"
            continue
        blocked[key] = message + "; nothing deleted in this group (re-run with force to override)"
        for i in doomed:
            decisions[i] = Decision(pts[i], True, "breaker", ("breaker",))

    new_baseline: dict[tuple[str, str], int] = {}
    for key in groups:
        if key in blocked:
            if baseline and key in baseline:
                new_baseline[key] = baseline[key]
            continue
        new_baseline[key] = slot_kept[key]

    return RetentionPlan(decisions=decisions, blocked=blocked, forced=forced, baseline=new_baseline)


def _by_origin(entries: list[tuple[datetime, str, int]]) -> list[tuple[datetime, str, int]]:
    """One entry per origin id: a primary point (handle >= 0) wins over its copies (-1); of two
    copies of one origin (never made by this product, but possible by hand), the newer window."""
    out: dict[str, tuple[datetime, str, int]] = {}
    for entry in entries:
        prior = out.get(entry[1])
        if (
            prior is None
            or (prior[2] < 0 <= entry[2])
            or (prior[2] < 0 and entry[2] < 0 and entry[0] > prior[0])
        ):
            out[entry[1]] = entry
    return list(out.values())


#: What AWS documents as the longest restore from the EBS archive tier: the extra RTO of a point
#: that is archived (and not temporarily restored) when it is needed.
ARCHIVE_RESTORE_TIME = timedelta(hours=72)


def is_archived(details: Mapping[str, Any], now: datetime) -> bool:
    """True when a point's ``details`` say it is in the archive tier and not temporarily restored
    (``storage_tier == "archive"`` and no ``restore_expiry`` later than ``now``): nothing can be
    restored from it before a restore from the archive. Points without a tier are standard."""
    if details.get("storage_tier", "standard") != "archive":
        return False
    expiry = details.get("restore_expiry")
    if not expiry:
        return True
    return datetime.fromisoformat(str(expiry).replace("Z", "+00:00")) <= now


#: Keep reasons that forbid archiving: the newest point must stay restorable within the RTO, a
#: primary point a DR region still wants must stay copyable (an archived snapshot cannot be
#: copied), and a point that never completed has nothing to archive.
_NO_ARCHIVE_REASONS = frozenset({"newest", "no-dr-copy", "incomplete", "breaker"})


def plan_archive(
    plan: RetentionPlan, *, archive_after: Mapping[str, timedelta | None], now: datetime
) -> list[PointInfo]:
    """The points to move to the archive tier, in input order.

    A point is archived when retention keeps it, it is managed, not on legal hold, completed, still
    in the standard tier, its region class has an ``archive_after`` (``{"primary": .., "dr": ..}``;
    ``None`` or absent: never) and its window is at least that old, and none of the keep reasons
    that need it at hand applies: never the ``newest`` point of its group (it must stay restorable
    within the RTO), never a ``no-dr-copy`` primary point, never an ``incomplete`` one, never one
    only the ``breaker`` keeps (it is on its way out; AWS bills archived snapshots for 90 days).
    """
    _require_aware(now, "now")
    out: list[PointInfo] = []
    for d in plan.decisions:
        p = d.point
        age = archive_after.get(p.region_class)
        if age is None or not d.keep or not p.managed or p.legal_hold or not p.completed:
            continue
        if p.storage_tier != "standard" or _NO_ARCHIVE_REASONS.intersection(d.reasons):
            continue
        if now - p.window >= age:
            out.append(p)
    return out
