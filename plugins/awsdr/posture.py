"""The DR posture: how far behind each protected resource is, in every DR region, against its plan.

Pure computation (no AWS and no Airflow imports): the ``dr_posture`` task lists the points, reads
the verification results and orphan states, and hands them to :func:`compute_posture`; the
document it returns is written to the catalog as ``posture/latest.json`` and
``posture/<window stamp>.json``. :func:`alert_transitions` turns two consecutive documents' worth of
breaches into events, once on entry into a breach and once on recovery.

Definitions (``now`` is the posture run's window, never the clock):

- A *primary point* is a point listed in the primary region. Only ``available`` ones count for
  ``newest_primary_window`` and ``missing_copies``.
- A *DR copy* is an ``available`` point in a DR region carrying ``awsdr:copy-of``. RPO is measured
  on DR copies only: a fresh primary point does not make a resource recoverable elsewhere.
- ``rpo_age_seconds`` of a DR region is ``now`` minus the newest copy's window. With no copy at
  all it is the age of the oldest available primary point (how long the region has at least been
  without one; null when there is no primary point either) and ``no_copy`` is true.
- ``breach_rpo``: some DR region has no copy, or its newest copy is older than the plan's RPO.
- ``missing_copies``: available primary points whose window is newer than the newest copy's
  window in the DR region that lags most (all of them when a region has no copy).
- ``late_captures``: primary points tagged ``awsdr:late=true`` with a window in the last 7 days.
- ``breach_rto``: no verification result, or the latest one failed, or it took longer than the
  plan's RTO (re-evaluated against the current policy, whatever the result file says).

A resource appears once any region lists a point of it. A (plan, kind) whose listing failed in
any region is *not assessed*: none of its resources are reported (a half listing would show false
breaches), the plan's ``kinds`` entry says why, and :func:`alert_transitions` keeps its previous
alert states untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from awsdr.kinds.base import AVAILABLE, RecoveryPoint
from awsdr.windows import TAG_COPY_OF, TAG_LATE, format_window, parse_window, to_utc

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "BREACH",
    "BREACH_TYPES",
    "LATE_LOOKBACK",
    "OK",
    "RECOVERED",
    "SCHEMA_VERSION",
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


@dataclass(frozen=True)
class PlanTarget:
    """What posture needs of a plan: its objectives and the kinds it selects."""

    name: str
    rpo: timedelta
    rto: timedelta
    kinds: tuple[str, ...]


def targets_from_policy(policy: Any) -> dict[str, PlanTarget]:
    """The :class:`PlanTarget` of every plan of an :class:`awsdr.policy.Policy`."""
    return {
        name: PlanTarget(name=name, rpo=plan.rpo, rto=plan.rto, kinds=tuple(plan.select.types))
        for name, plan in policy.plans.items()
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
    orphan_since: str | None,
    now: datetime,
) -> dict[str, Any]:
    primary = [p for p in points if p.region == primary_region]
    primary_ok = sorted(to_utc(p.window) for p in primary if p.status == AVAILABLE)
    newest_primary = primary_ok[-1] if primary_ok else None
    oldest_primary = primary_ok[0] if primary_ok else None
    rpo_seconds = plan.rpo.total_seconds()

    dr: dict[str, dict[str, Any]] = {}
    for region in dr_regions:
        copies = [
            to_utc(p.window)
            for p in points
            if p.region == region and p.status == AVAILABLE and p.tags.get(TAG_COPY_OF)
        ]
        newest = max(copies) if copies else None
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
        }

    ages = [d["rpo_age_seconds"] for d in dr.values() if d["rpo_age_seconds"] is not None]
    last_verified = _last_verified(verify, plan.rto, now)
    late_since = now - LATE_LOOKBACK
    return {
        "plan": plan.name,
        "kind": kind,
        "source": source,
        "newest_primary_window": _iso(newest_primary),
        "primary_points": len(primary_ok),
        "dr": dr,
        "worst_rpo_age_seconds": max(ages) if ages else None,
        "breach_rpo": any(not d["within_rpo"] for d in dr.values()),
        "last_verified": last_verified,
        "breach_rto": last_verified is None or not (last_verified["passed"] and last_verified["within_rto"]),
        "missing_copies": max((d["missing_copies"] for d in dr.values()), default=0),
        "late_captures": sum(
            1 for p in primary if p.tags.get(TAG_LATE) == "true" and to_utc(p.window) >= late_since
        ),
        "orphan": {"since": orphan_since} if orphan_since else None,
    }


def _summary(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ages = [r["worst_rpo_age_seconds"] for r in resources if r["worst_rpo_age_seconds"] is not None]
    return {
        "resources": len(resources),
        "breaches_rpo": sum(1 for r in resources if r["breach_rpo"]),
        "breaches_rto": sum(1 for r in resources if r["breach_rto"]),
        "worst_rpo_age_seconds": max(ages) if ages else None,
        "missing_copies": sum(r["missing_copies"] for r in resources),
        "late_captures": sum(r["late_captures"] for r in resources),
        "orphans": sum(1 for r in resources if r["orphan"]),
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
    """
    now = to_utc(now)
    orphans = orphans or {}
    unlisted = unlisted or {}

    grouped: dict[tuple[str, str, str], list[RecoveryPoint]] = {}
    for p in points:
        target = plans.get(p.plan)
        if target is None or p.kind not in target.kinds or p.kind in unlisted:
            continue
        grouped.setdefault((p.plan, p.kind, p.source_id), []).append(p)

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
        resources.append(
            _resource(
                plan=plans[plan_name],
                kind=kind,
                source=source,
                points=pts,
                primary_region=primary_region,
                dr_regions=dr_regions,
                verify=verify.get((plan_name, kind, source)),
                orphan_since=(orphans.get((plan_name, kind)) or {}).get(source),
                now=now,
            )
        )

    plan_docs: dict[str, Any] = {}
    for name, target in sorted(plans.items()):
        mine = [r for r in resources if r["plan"] == name]
        plan_docs[name] = {
            "rpo_seconds": int(target.rpo.total_seconds()),
            "rto_seconds": int(target.rto.total_seconds()),
            "kinds": {
                kind: {"assessed": kind not in unlisted, "reason": unlisted.get(kind)}
                for kind in target.kinds
            },
            "summary": _summary(mine),
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
    that no longer appears (its points are all gone, or its plan or kind was dropped) are forgotten
    without an event.
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
