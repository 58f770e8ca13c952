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
6. ``no-dr-copy``      a completed primary point whose ``point_id`` is not the ``copy_of`` of any
                       completed managed DR point (in any DR region): deleting it would lose data
                       that exists nowhere else. The copy may itself expire in the same plan: that
                       is the DR retention speaking, not a copy still pending.
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

Breaker
=======
If, for a group, the plan would delete more than ``max_delete_fraction`` of the group's managed
points (``deleted / total > fraction``), nothing in that group is deleted unless ``force``: those
points are kept with ``rule="breaker"`` and the group is recorded in ``RetentionPlan.blocked`` with
the counts. The caller fails loudly when ``blocked`` is non-empty. With ``force`` the deletes go
ahead and the groups are recorded in ``RetentionPlan.forced`` for the audit trail.

Cost: O(n log n); each distinct window is converted into ``tz`` once (windows repeat across
resources), so 100,000 points plan in well under a second.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "GRANULARITIES",
    "Decision",
    "Gfs",
    "PointInfo",
    "RetentionPlan",
    "RetentionRule",
    "plan_retention",
]

PRIMARY = "primary"
DR = "dr"
REGION_CLASSES = (PRIMARY, DR)

#: GFS granularities, coarsest first: the order of ``gfs:*`` rules in ``Decision.reasons``.
GRANULARITIES = ("yearly", "monthly", "weekly", "daily", "hourly")

#: Incomplete points younger than this (by window) are kept; older ones are ``failed-stale``.
DEFAULT_INCOMPLETE_GRACE = timedelta(days=7)

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


@dataclass(frozen=True)
class Decision:
    """What happens to one point.

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
    """

    decisions: list[Decision]
    blocked: dict[tuple[str, str], str]
    forced: dict[tuple[str, str], str] = field(default_factory=dict)

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
) -> RetentionPlan:
    """Decide every point; see the module docstring for the rules and their order.

    :param rules: ``{"primary": <rule>, "dr": <rule>}``; a rule is needed for every region class
        that has points.
    :param tz: IANA zone the GFS periods are computed in.
    :param now: the run's window (the planner never reads the clock).
    :param existing_sources: the sources that still exist; ``None`` means "unknown": no orphans.
    :param vanished_at: when each orphan was first seen missing (absent: ``now``).
    :param orphan_grace: how long an orphan's points are all kept.
    :param max_delete_fraction: the breaker's limit per ``(source_id, region)`` group, in [0, 1].
    :param force: delete even in groups over the limit (recorded in ``forced``).
    :param incomplete_grace: how long a point that is not completed is kept (by window age).
    :raises ValueError: naive datetimes, an unknown zone or region class, a missing or invalid rule,
        a duplicate ``point_id``, a group mixing region classes, a fraction outside [0, 1].
    """
    _require_aware(now, "now")
    if not 0.0 <= max_delete_fraction <= 1.0:
        raise ValueError(f"max_delete_fraction={max_delete_fraction!r} must be within [0, 1]")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {tz!r}") from err

    pts = points if isinstance(points, list) else list(points)
    n = len(pts)

    # --- validation and grouping ----------------------------------------------------------------
    seen_ids: set[str] = set()
    groups: dict[tuple[str, str], list[int]] = {}  # managed points only
    group_class: dict[tuple[str, str], str] = {}
    copied: set[str] = set()  # point ids that have a completed, managed DR copy
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
        if p.region_class == DR and p.completed and p.managed and p.copy_of:
            copied.add(p.copy_of)
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

    gfs_counts: dict[str, tuple[int, ...]] = {}
    for cls in set(group_class.values()):
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

    # --- per-point periods, converted once per distinct window ---------------------------------
    period_cache: dict[datetime, tuple[Any, ...]] = {}

    def periods(window: datetime) -> tuple[Any, ...]:
        found = period_cache.get(window)
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
            period_cache[window] = found
        return found

    # --- keep reasons for managed points --------------------------------------------------------
    def order(i: int) -> tuple[datetime, str]:
        return (pts[i].window, pts[i].point_id)

    def verified_order(i: int) -> tuple[datetime | None, datetime, str]:
        return (pts[i].verified_at, pts[i].window, pts[i].point_id)

    masks = [0] * n
    young_cutoff = now - incomplete_grace
    for key, members in groups.items():
        counts = gfs_counts[group_class[key]]
        orphan_bit = _ORPHAN if in_grace.get(key[0], False) else 0
        is_primary = group_class[key] == PRIMARY
        completed: list[int] = []
        for i in members:
            p = pts[i]
            mask = orphan_bit
            if p.legal_hold:
                mask |= _HOLD
            if p.completed:
                completed.append(i)
                if is_primary and p.point_id not in copied:
                    mask |= _NO_COPY
            elif p.window > young_cutoff:
                mask |= _INCOMPLETE
            masks[i] = mask
        if not completed:
            continue
        masks[max(completed, key=order)] |= _NEWEST
        verified = [i for i in completed if pts[i].verified_at is not None]
        if verified:
            masks[max(verified, key=verified_order)] |= _VERIFIED

        active = [(g, count, _GFS_BITS[g]) for g, count in enumerate(counts) if count > 0]
        if not active:
            continue
        best: list[dict[Any, int]] = [{} for _ in active]
        for i in completed:
            keys = periods(pts[i].window)
            here = order(i)
            for slot, (g, _count, _bit) in enumerate(active):
                reps = best[slot]
                current = reps.get(keys[g])
                if current is None or here > order(current):
                    reps[keys[g]] = i
        for slot, (_g, count, bit) in enumerate(active):
            for i in heapq.nlargest(count, best[slot].values(), key=order):
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
            why = names(mask)
            decisions.append(Decision(p, True, why[0], why))
            continue
        decisions.append(Decision(p, False, "expired" if p.completed else "failed-stale"))
        deletes.setdefault((p.source_id, p.region), []).append(i)

    # --- breaker --------------------------------------------------------------------------------
    blocked: dict[tuple[str, str], str] = {}
    forced: dict[tuple[str, str], str] = {}
    for key, doomed in deletes.items():
        total = len(groups[key])
        if len(doomed) / total <= max_delete_fraction:
            continue
        message = (
            f"{key[0]} in {key[1]}: the plan would delete {len(doomed)} of {total} managed points "
            f"({len(doomed) / total:.0%}), more than max_delete_fraction={max_delete_fraction:g}"
        )
        if force:
            forced[key] = message + "; forced"
            continue
        blocked[key] = message + "; nothing deleted in this group (re-run with force to override)"
        for i in doomed:
            decisions[i] = Decision(pts[i], True, "breaker", ("breaker",))

    return RetentionPlan(decisions=decisions, blocked=blocked, forced=forced)
