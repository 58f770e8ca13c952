"""The DR posture: how far behind each protected resource is, in every DR region, against its plan.

Pure computation (no AWS and no Airflow imports): the ``dr_posture`` task discovers what each plan
selects (the backup's own discovery), lists the points, reads the verification results and orphan
states, and hands them to :func:`compute_posture`; the document it returns is written to the
catalog as ``posture/latest.json`` and ``posture/<window stamp>.json``. :func:`alert_transitions`
turns two consecutive documents' worth of breaches into events, once on entry into a breach and
once on recovery.

Definitions (``now`` is the posture run's window, never the clock):

- A *selected* resource is one the plan's selector finds in the primary region now (the
  discovery ``dr_backup_<plan>`` uses). Every selected resource is reported, with or without
  points: a resource whose captures all fail is a breach, not an absence.
- An *orphan* has points but is not selected any more (deleted, or its tags changed). It is
  listed with ``orphan: {since}`` (retention's first-seen-missing time, null until retention has
  seen it) and is not judged against the plan's objectives: ``breach_rpo`` and ``breach_rto``
  are false, its age stays out of the summary's ``worst_rpo_age_seconds`` and its alert states
  are dropped without an event. The ``Orphans`` count shows it.
- A *primary point* is a point listed in the primary region. Only ``available`` ones count for
  ``newest_primary_window`` and ``missing_copies``.
- A *DR copy* is an ``available`` point in a DR region carrying ``awsdr:copy-of``. RPO is measured
  on DR copies only: a fresh primary point does not make a resource recoverable elsewhere.
- ``rpo_age_seconds`` of a DR region is ``now`` minus the newest copy's window. With no copy at
  all it is the age of the oldest available primary point (how long the region has at least been
  without one; null when there is no primary point either) and ``no_copy`` is true.
- ``breach_rpo``: some DR region has no copy, or its newest copy is older than the plan's RPO.
  ``breach_rpo_reason`` says which, worst first: ``never-captured`` (no available point in any
  region), ``no-dr-copy`` (some DR region has no copy), ``rpo-exceeded`` (a copy is too old).
- ``missing_copies``: available primary points whose window is newer than the newest copy's
  window in the DR region that lags most (all of them when a region has no copy).
- ``late_captures``: primary points tagged ``awsdr:late=true`` with a window in the last 7 days.
- ``breach_rto``: no verification result, or the latest one failed, or it took longer than the
  plan's RTO (re-evaluated against the current policy, whatever the result file says);
  ``breach_rto_reason``: ``never-verified``, ``verify-failed`` or ``over-rto``.

Not assessed: a kind whose listing failed in any region, or a (plan, kind) whose discovery failed,
reports none of its resources (a half listing or a missing selection would show false breaches
and false orphans), the plan's ``kinds`` entry says why, and :func:`alert_transitions` keeps its
previous alert states untouched. A (plan, kind) without a discovery result (``selected`` not
given for it) falls back to what the points show: a resource appears once any region lists a
point of it, ``selected`` is null and orphans come from retention's state alone.

The document (``"schema": 1``; fields are only ever added, never renamed or retyped)::

    {schema: 1, window, primary_region, dr_regions: [..], run_id, written_at,
     plans: {<plan>: {rpo_seconds, rto_seconds,
                      kinds: {<kind>: {assessed: bool, reason: str|null, selected: int|null}},
                      summary: {resources, breaches_rpo, breaches_rto, worst_rpo_age_seconds,
                                missing_copies, late_captures, orphans,
                                selected, never_captured},
                      missed_windows: {count, windows: [..], since}|null}},
     totals: {same fields as a plan summary, over every plan},
     resources: [{plan, kind, source, selected: bool|null,
                  newest_primary_window, primary_points,
                  dr: {<region>: {newest_copy_window, copies, rpo_age_seconds, within_rpo,
                                  no_copy, missing_copies, newest_usable_archived,
                                  archive_extra_rto_seconds}},
                  worst_rpo_age_seconds, breach_rpo,
                  breach_rpo_reason: never-captured|no-dr-copy|rpo-exceeded|null,
                  last_verified: {at, age_seconds, seconds, passed, within_rto, reason,
                                  copy_id, region, window} | null,
                  breach_rto, breach_rto_reason: never-verified|verify-failed|over-rto|null,
                  missing_copies, late_captures,
                  orphan: {since: str|null} | null,
                  archive_extra_rto_seconds, warnings: [str]}],
     events: [{key, event: breach|recovered, type: rpo|rto, plan, kind, source}]}

``newest_usable_archived``: every DR copy in the region is an EBS snapshot in the archive tier
(not temporarily restored), so a restore must first come out of the archive:
``archive_extra_rto_seconds`` is then what AWS documents as the longest such restore (72 h), else
0; the resource's ``archive_extra_rto_seconds`` is the largest over its DR regions and its
``warnings`` say which regions.

``kinds.<kind>.selected`` is how many resources the plan's selector found (null when not
discovered); ``summary.selected`` counts the reported resources that are selected and
``summary.never_captured`` those in breach for ``never-captured``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from awsdr.kinds.base import AVAILABLE, RecoveryPoint, newest_copies
from awsdr.planning.retention import ARCHIVE_RESTORE_TIME, is_archived
from awsdr.windows import TAG_COPY_OF, TAG_LATE, format_window, parse_window, to_utc

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "BREACH",
    "BREACH_TYPES",
    "LATE_LOOKBACK",
    "NEVER_CAPTURED",
    "NEVER_VERIFIED",
    "NO_DR_COPY",
    "OK",
    "OVER_RTO",
    "RECOVERED",
    "RPO_EXCEEDED",
    "SCHEMA_VERSION",
    "VERIFY_FAILED",
    "PlanTarget",
    "alert_key",
    "alert_transitions",
    "compute_posture",
    "format_event",
    "targets_from_policy",
]

SCHEMA_VERSION = 1
#: How far back ``late_captures`` counts.
LATE_LOOKBACK = timedelta(days=7)
#: Alert state values and event names.
OK = "ok"
BREACH = "breach"
RECOVERED = "recovered"
#: Breach types, in the order events are emitted for one resource.
BREACH_TYPES = ("rpo", "rto")
#: ``breach_rpo_reason`` values, worst first.
NEVER_CAPTURED = "never-captured"
NO_DR_COPY = "no-dr-copy"
RPO_EXCEEDED = "rpo-exceeded"
#: ``breach_rto_reason`` values.
NEVER_VERIFIED = "never-verified"
VERIFY_FAILED = "verify-failed"
OVER_RTO = "over-rto"


@dataclass(frozen=True)
class PlanTarget:
    """What posture needs of a plan: its objectives, the kinds it selects, its backup schedule."""

    name: str
    rpo: timedelta
    rto: timedelta
    kinds: tuple[str, ...]
    #: the backup cron (policy time zone); None: windows are not checked for gaps
    schedule: str | None = None
    timezone: str = "UTC"


def targets_from_policy(policy: Any) -> dict[str, PlanTarget]:
    """The :class:`PlanTarget` of every plan of an :class:`awsdr.policy.Policy`."""
    return {
        name: PlanTarget(
            name=name,
            rpo=plan.rpo,
            rto=plan.rto,
            kinds=tuple(plan.select.types),
            schedule=plan.schedule,
            timezone=policy.timezone,
        )
        for name, plan in policy.plans.items()
    }


#: how far back posture looks for backup windows that never ran (a scheduler outage)
GAP_LOOKBACK = timedelta(days=7)
#: a window younger than this may still be running: not a gap yet (a plan whose windows are
#: closer together waits three of its own windows instead, see :func:`gap_grace`)
GAP_GRACE = timedelta(hours=1)
#: at most this many missed windows are listed (newest first); ``count`` has them all
GAP_LISTED = 48


def scheduled_windows(cron: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """The cron's ticks in ``[start, end]`` (UTC), evaluated in the policy's time zone."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    it = croniter(cron, to_utc(start).astimezone(ZoneInfo(tz)) - timedelta(seconds=1))
    out: list[datetime] = []
    while True:
        tick = to_utc(it.get_next(datetime))
        if tick > end:
            return out
        out.append(tick)


def gap_grace(ticks: list[datetime]) -> timedelta:
    """How long a window's run may still be going: ``GAP_GRACE``, or three of the plan's shortest
    window spacings when that is shorter (a plan every 5 minutes shows a gap after 15, not 60)."""
    spacing = min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=None)
    return GAP_GRACE if spacing is None else min(GAP_GRACE, 3 * spacing)


def window_gaps(target: PlanTarget, ran: Iterable[datetime] | None, now: datetime) -> dict[str, Any] | None:
    """The plan's scheduled backup windows that have no backup run (no window manifest).

    Looked for from ``GAP_LOOKBACK`` ago, but never before the plan's first run (a new plan has
    no gap); the newest ``gap_grace`` is left out (its run may still be going). After a
    scheduler outage the bounded catch-up runs only the newest windows: the older ones are the
    gap, and a backfill of them closes it. None when the plan has no schedule or never ran.
    """
    windows = {to_utc(w) for w in ran or ()}
    if target.schedule is None or not windows:
        return None
    start = max(now - GAP_LOOKBACK, min(windows))
    ticks = scheduled_windows(target.schedule, target.timezone, start, now)
    end = now - gap_grace(ticks)
    missed = [w for w in ticks if w <= end and w not in windows]
    missed.sort(reverse=True)
    return {
        "count": len(missed),
        "windows": [format_window(w) for w in missed[:GAP_LISTED]],
        "since": format_window(start),
    }


def alert_key(plan: str, kind: str, source: str, breach_type: str) -> str:
    """``gold/ebs/vol-1/rpo``: the alert state key of one resource and breach type."""
    return f"{plan}/{kind}/{source}/{breach_type}"


def _split_key(key: str) -> tuple[str, str, str, str] | None:
    parts = key.split("/")
    if len(parts) < 4:
        return None
    return parts[0], parts[1], "/".join(parts[2:-1]), parts[-1]


def _seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))


def _iso(value: datetime | None) -> str | None:
    return format_window(value) if value is not None else None


def _parse_opt(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_window(value)
    except ValueError:
        return None


def _last_verified(result: Mapping[str, Any] | None, rto: timedelta, now: datetime) -> dict[str, Any] | None:
    """The resource's latest verification, with ``within_rto`` judged against the current RTO."""
    if result is None:
        return None
    at = _parse_opt(result.get("verified_at"))
    raw_seconds = result.get("seconds")
    seconds = (
        float(raw_seconds)
        if isinstance(raw_seconds, int | float) and not isinstance(raw_seconds, bool)
        else None
    )
    passed = result.get("passed") is True
    if seconds is not None:
        within = seconds <= rto.total_seconds()
    else:
        within = result.get("within_rto") is True
    return {
        "at": _iso(at),
        "age_seconds": _seconds(now - at) if at is not None else None,
        "seconds": seconds,
        "passed": passed,
        "within_rto": within,
        "reason": result.get("reason"),
        "copy_id": result.get("copy_id"),
        "region": result.get("region"),
        "window": result.get("window"),
    }


def _resource(
    *,
    plan: PlanTarget,
    kind: str,
    source: str,
    points: Sequence[RecoveryPoint],
    primary_region: str,
    dr_regions: Sequence[str],
    verify: Mapping[str, Any] | None,
    selected: bool | None,
    orphan: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    primary = [p for p in points if p.region == primary_region]
    primary_ok = sorted(to_utc(p.window) for p in primary if p.status == AVAILABLE)
    newest_primary = primary_ok[-1] if primary_ok else None
    oldest_primary = primary_ok[0] if primary_ok else None
    rpo_seconds = plan.rpo.total_seconds()

    dr: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for region in dr_regions:
        in_region = [
            p for p in points if p.region == region and p.status == AVAILABLE and p.tags.get(TAG_COPY_OF)
        ]
        copies = [to_utc(p.window) for p in in_region]
        # the newest copy's window, whatever its tier (the archive is reported beside it)
        newest_copy = newest_copies(in_region, now, prefer_standard=False).get(source)
        newest = to_utc(newest_copy.window) if newest_copy is not None else None
        # every copy in the archive tier: the newest usable one must come out of it first
        all_archived = bool(in_region) and all(is_archived(p.details, now) for p in in_region)
        extra = _seconds(ARCHIVE_RESTORE_TIME) if all_archived else 0
        if all_archived:
            warnings.append(
                f"{region}: every DR copy is in the archive tier; a restore takes up to "
                f"{extra // 3600} h more than the RTO"
            )
        if newest is not None:
            age: int | None = _seconds(now - newest)
            within = age is not None and age <= rpo_seconds
            missing = sum(1 for w in primary_ok if w > newest)
        else:
            age = _seconds(now - oldest_primary) if oldest_primary is not None else None
            within = False
            missing = len(primary_ok)
        dr[region] = {
            "newest_copy_window": _iso(newest),
            "copies": len(copies),
            "rpo_age_seconds": age,
            "within_rpo": within,
            "no_copy": newest is None,
            "missing_copies": missing,
            "newest_usable_archived": all_archived,
            "archive_extra_rto_seconds": extra,
        }

    ages = [d["rpo_age_seconds"] for d in dr.values() if d["rpo_age_seconds"] is not None]
    last_verified = _last_verified(verify, plan.rto, now)
    late_since = now - LATE_LOOKBACK
    # An orphan is no longer under the plan's objectives: reported, never judged.
    rpo_reason = (
        None
        if orphan
        else _rpo_reason(dr, any_point=bool(primary_ok) or any(d["copies"] for d in dr.values()))
    )
    rto_reason = None if orphan else _rto_reason(last_verified)
    return {
        "plan": plan.name,
        "kind": kind,
        "source": source,
        "selected": selected,
        "newest_primary_window": _iso(newest_primary),
        "primary_points": len(primary_ok),
        "dr": dr,
        "worst_rpo_age_seconds": max(ages) if ages else None,
        "breach_rpo": rpo_reason is not None,
        "breach_rpo_reason": rpo_reason,
        "last_verified": last_verified,
        "breach_rto": rto_reason is not None,
        "breach_rto_reason": rto_reason,
        "missing_copies": max((d["missing_copies"] for d in dr.values()), default=0),
        "late_captures": sum(
            1 for p in primary if p.tags.get(TAG_LATE) == "true" and to_utc(p.window) >= late_since
        ),
        "orphan": orphan,
        "archive_extra_rto_seconds": max((d["archive_extra_rto_seconds"] for d in dr.values()), default=0),
        "warnings": warnings,
    }


def _rpo_reason(dr: Mapping[str, Mapping[str, Any]], *, any_point: bool) -> str | None:
    """Why the resource is outside its RPO, worst first; None when every DR region is within."""
    if not any_point:
        return NEVER_CAPTURED
    if any(d["no_copy"] for d in dr.values()):
        return NO_DR_COPY
    if any(not d["within_rpo"] for d in dr.values()):
        return RPO_EXCEEDED
    return None


def _rto_reason(last_verified: Mapping[str, Any] | None) -> str | None:
    if last_verified is None:
        return NEVER_VERIFIED
    if not last_verified["passed"]:
        return VERIFY_FAILED
    if not last_verified["within_rto"]:
        return OVER_RTO
    return None


def _summary(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ages = [
        r["worst_rpo_age_seconds"]
        for r in resources
        if r["worst_rpo_age_seconds"] is not None and not r["orphan"]
    ]
    return {
        "resources": len(resources),
        "breaches_rpo": sum(1 for r in resources if r["breach_rpo"]),
        "breaches_rto": sum(1 for r in resources if r["breach_rto"]),
        "worst_rpo_age_seconds": max(ages) if ages else None,
        "missing_copies": sum(r["missing_copies"] for r in resources),
        "late_captures": sum(r["late_captures"] for r in resources),
        "orphans": sum(1 for r in resources if r["orphan"]),
        "selected": sum(1 for r in resources if r["selected"]),
        "never_captured": sum(1 for r in resources if r["breach_rpo_reason"] == NEVER_CAPTURED),
    }


def _kind_doc(
    plan: str,
    kind: str,
    unlisted: Mapping[str, str],
    undiscovered: Mapping[tuple[str, str], str],
    chosen: Mapping[tuple[str, str], set[str]],
) -> dict[str, Any]:
    reason = unlisted.get(kind) or undiscovered.get((plan, kind))
    ids = chosen.get((plan, kind))
    return {
        "assessed": reason is None,
        "reason": reason,
        "selected": len(ids) if ids is not None and reason is None else None,
    }


def compute_posture(
    *,
    now: datetime,
    primary_region: str,
    dr_regions: Sequence[str],
    plans: Mapping[str, PlanTarget],
    points: Iterable[RecoveryPoint],
    verify_results: Iterable[Mapping[str, Any]] = (),
    orphans: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    unlisted: Mapping[str, str] | None = None,
    selected: Mapping[tuple[str, str], Iterable[str]] | None = None,
    undiscovered: Mapping[tuple[str, str], str] | None = None,
    backup_windows: Mapping[str, Iterable[datetime]] | None = None,
) -> dict[str, Any]:
    """The posture document (JSON-safe, ``"schema": 1``).

    :param now: the posture run's window; every age is measured from it.
    :param plans: the policy's plans (:func:`targets_from_policy`).
    :param points: every listed point of every kind, primary and DR regions together; points of
        plans or kinds the policy no longer selects are ignored.
    :param verify_results: the ``verify/latest/<plan>/<kind>/<source>.json`` documents.
    :param orphans: ``{(plan, kind): {source: first-seen-missing ISO}}`` (retention's state).
    :param unlisted: ``{kind: reason}`` for kinds whose listing failed in some region; their
        resources are not assessed.
    :param selected: ``{(plan, kind): resource ids}`` the plan's selector discovered (the ids
        points carry in ``awsdr:source``). Each is reported, with or without points; a source with
        points but not among them is an orphan. A (plan, kind) left out falls back to the points.
    :param undiscovered: ``{(plan, kind): reason}`` whose discovery failed: not assessed.
    :param backup_windows: ``{plan: windows}`` that have a backup run (a window manifest in the
        catalog); each plan's scheduled windows without one are its ``missed_windows``. A plan
        left out is not checked (``missed_windows`` null).
    """
    now = to_utc(now)
    orphans = orphans or {}
    unlisted = unlisted or {}
    undiscovered = undiscovered or {}
    chosen = {key: set(ids) for key, ids in (selected or {}).items()}

    def assessed(plan: str, kind: str) -> bool:
        target = plans.get(plan)
        return (
            target is not None
            and kind in target.kinds
            and kind not in unlisted
            and (plan, kind) not in undiscovered
        )

    grouped: dict[tuple[str, str, str], list[RecoveryPoint]] = {}
    for p in points:
        if assessed(p.plan, p.kind):
            grouped.setdefault((p.plan, p.kind, p.source_id), []).append(p)
    for (plan_name, kind), ids in chosen.items():
        if assessed(plan_name, kind):
            for source in ids:
                grouped.setdefault((plan_name, kind, source), [])

    verify: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for result in verify_results:
        try:
            key = (str(result["plan"]), str(result["kind"]), str(result["source"]))
        except (KeyError, TypeError):
            continue
        prior = verify.get(key)
        if prior is None or str(result.get("verified_at") or "") >= str(prior.get("verified_at") or ""):
            verify[key] = result

    resources: list[dict[str, Any]] = []
    for (plan_name, kind, source), pts in sorted(grouped.items()):
        since = (orphans.get((plan_name, kind)) or {}).get(source)
        found = chosen.get((plan_name, kind))
        is_selected = None if found is None else source in found
        orphan: dict[str, Any] | None
        if is_selected is None:
            orphan = {"since": since} if since else None
        else:
            # discovery is fresher than retention's daily state: a source that came back is not one
            orphan = None if is_selected else {"since": since}
        resources.append(
            _resource(
                plan=plans[plan_name],
                kind=kind,
                source=source,
                points=pts,
                primary_region=primary_region,
                dr_regions=dr_regions,
                verify=verify.get((plan_name, kind, source)),
                selected=is_selected,
                orphan=orphan,
                now=now,
            )
        )

    plan_docs: dict[str, Any] = {}
    for name, target in sorted(plans.items()):
        mine = [r for r in resources if r["plan"] == name]
        plan_docs[name] = {
            "rpo_seconds": int(target.rpo.total_seconds()),
            "rto_seconds": int(target.rto.total_seconds()),
            "kinds": {kind: _kind_doc(name, kind, unlisted, undiscovered, chosen) for kind in target.kinds},
            "summary": _summary(mine),
            "missed_windows": window_gaps(target, (backup_windows or {}).get(name), now),
        }
    return {
        "schema": SCHEMA_VERSION,
        "window": format_window(now),
        "primary_region": primary_region,
        "dr_regions": list(dr_regions),
        "plans": plan_docs,
        "totals": _summary(resources),
        "resources": resources,
    }


def alert_transitions(
    previous_state: Mapping[str, str], current: Mapping[str, Any]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The new alert state and the events between ``previous_state`` and the ``current`` document.

    A key (:func:`alert_key`) going ``ok`` -> ``breach`` (or appearing in breach) yields one
    ``breach`` event; ``breach`` -> ``ok`` yields one ``recovered`` event; staying put yields none.
    Keys of a (plan, kind) the document did not assess keep their previous state; keys of a resource
    that no longer appears (its points are all gone, or its plan or kind was dropped) or that is an
    orphan (no longer selected: not judged) are forgotten without an event.
    """
    not_assessed = {
        (plan, kind)
        for plan, doc in (current.get("plans") or {}).items()
        for kind, info in (doc.get("kinds") or {}).items()
        if not info.get("assessed", True)
    }
    state: dict[str, str] = {}
    for key, value in previous_state.items():
        parts = _split_key(key)
        if parts is not None and (parts[0], parts[1]) in not_assessed:
            state[key] = value

    events: list[dict[str, Any]] = []
    for res in current.get("resources") or []:
        if res.get("orphan"):
            continue
        for breach_type in BREACH_TYPES:
            key = alert_key(res["plan"], res["kind"], res["source"], breach_type)
            now_value = BREACH if res[f"breach_{breach_type}"] else OK
            before = previous_state.get(key, OK)
            state[key] = now_value
            if now_value == before:
                continue
            events.append(
                {
                    "key": key,
                    "event": BREACH if now_value == BREACH else RECOVERED,
                    "type": breach_type,
                    "plan": res["plan"],
                    "kind": res["kind"],
                    "source": res["source"],
                    "window": current.get("window"),
                    "resource": res,
                }
            )
    return state, events


#: The alert text of each breach reason.
_REASON_TEXT = {
    NEVER_CAPTURED: "the plan selects it but no available recovery point of it exists in any region "
    "(no backup has completed: check dr_backup_<plan> for capture failures)",
    NO_DR_COPY: "a DR region has no copy of it",
    RPO_EXCEEDED: "the newest DR copy is older than the RPO",
    NEVER_VERIFIED: "no restore verification result",
    VERIFY_FAILED: "the latest restore verification failed",
    OVER_RTO: "the latest restore took longer than the RTO",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_event(event: Mapping[str, Any], plan_doc: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """``(subject, message)`` of an alert event: a one-line subject and a plain-text body."""
    res = event["resource"]
    what = "RPO" if event["type"] == "rpo" else "RTO"
    head = "breach" if event["event"] == BREACH else "recovered"
    subject = f"[AWSDR] {what} {head}: {event['plan']}/{event['kind']}/{event['source']}"
    lines = [
        f"{what} {head} for {event['kind']} {event['source']} (plan {event['plan']}) "
        f"at posture window {event.get('window')}.",
        "",
    ]
    if plan_doc is not None:
        lines.append(
            f"Objectives: RPO {_duration(plan_doc.get('rpo_seconds'))}, RTO {_duration(plan_doc.get('rto_seconds'))}"
        )
    reason = res.get(f"breach_{event['type']}_reason")
    if event["event"] == BREACH and reason:
        lines.append(f"Reason: {reason}: {_REASON_TEXT.get(reason, reason)}.")
    if event["type"] == "rpo":
        lines.append(f"Newest primary point: {res.get('newest_primary_window') or 'none'}")
        for region, d in sorted(res.get("dr", {}).items()):
            if d.get("no_copy"):
                state = "NO COPY"
            else:
                state = f"newest copy {d.get('newest_copy_window')}"
            lines.append(
                f"  {region}: {state}, age {_duration(d.get('rpo_age_seconds'))}, "
                f"{'within' if d.get('within_rpo') else 'OUTSIDE'} RPO, "
                f"{d.get('missing_copies', 0)} point(s) not yet copied"
            )
    else:
        lv = res.get("last_verified")
        if lv is None:
            lines.append("Never verified by a restore.")
        else:
            verdict = "passed" if lv.get("passed") else f"FAILED ({lv.get('reason') or 'no reason given'})"
            lines.append(
                f"Last verification {lv.get('at')}: {verdict}, restore took {_duration(lv.get('seconds'))} "
                f"({'within' if lv.get('within_rto') else 'OUTSIDE'} RTO), copy {lv.get('copy_id')} "
                f"in {lv.get('region')}"
            )
    if res.get("orphan"):
        lines.append(f"The source has been missing from the primary region since {res['orphan']['since']}.")
    lines += ["", "Posture document: posture/latest.json in the catalog bucket."]
    return subject, "\n".join(lines)
