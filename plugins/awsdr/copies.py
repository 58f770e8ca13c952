"""Cross-region copies: which points lack their copy, and starting copies within AWS quotas.

Stateless by design: every pass re-reads the points in the primary region and the copies in each
DR region (one batched listing per kind and region), so a retry, a re-run, a run killed half way
or yesterday's failed copy all come out the same: whatever lacks a complete copy gets one, and
nothing gets two. A copy in flight counts against the destination's quota; a copy that cannot
start now waits for the next slot, the next poll or the next run.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code
from awsdr.aws.idempotent import THROTTLING_CODES
from awsdr.kinds.base import AVAILABLE, CREATING, FAILED, MISSING, CaptureError, RecoveryPoint, RetryLater
from awsdr.planning.retention import dr_wanted
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD, TAG_MANAGED, TAG_VERIFIED_AT, format_window

if TYPE_CHECKING:
    from datetime import datetime

    from awsdr.aws.context import AwsContext
    from awsdr.kinds.base import Kind
    from awsdr.planning.retention import RetentionRule

log = logging.getLogger(__name__)

#: tags that belong to one point and never carry over to its copy
_NOT_INHERITED = (TAG_LEGAL_HOLD, TAG_VERIFIED_AT)


def copy_tags(point: RecoveryPoint) -> dict[str, str]:
    """The copy's tags: the source's ``awsdr:*`` tags (window, captured-at...) plus ``awsdr:copy-of``."""
    tags = {k: v for k, v in point.tags.items() if k.startswith("awsdr:") and k not in _NOT_INHERITED}
    tags[TAG_COPY_OF] = point.point_id
    return tags


def is_copy(point: RecoveryPoint) -> bool:
    return TAG_COPY_OF in point.tags


@dataclass
class CopyJob:
    """One source point that needs a copy in ``dest_region``."""

    point: RecoveryPoint
    dest_region: str
    replaces: RecoveryPoint | None = None


@dataclass
class CopyPlan:
    """What a copy pass found: jobs to start, copies in flight, copies done, and the points the
    DR region does not want (a newer point represents their retention period there)."""

    jobs: list[CopyJob] = field(default_factory=list)
    in_flight: list[RecoveryPoint] = field(default_factory=list)
    done: list[RecoveryPoint] = field(default_factory=list)
    not_wanted: list[CopyJob] = field(default_factory=list)


def plan_copies(
    sources: list[RecoveryPoint],
    copies: dict[str, list[RecoveryPoint]],
    regions: list[str],
    *,
    rule: RetentionRule | None,
    tz: str = "UTC",
) -> CopyPlan:
    """Decide, per source point and DR region, whether a copy is done, in flight, needed or not wanted.

    A point is copied to a region only if the region's retention will keep it
    (:func:`awsdr.planning.retention.dr_wanted` over the source's available points and the region's
    live copies): always the newest point (DR-side RPO), older ones only where the DR rule keeps
    them (a backlog of missed days, for instance), and never one that DR retention removed, since
    a newer copy represents its period. ``rule=None`` copies every point (no DR retention known).
    Only available sources are copied; a copy that failed or vanished is needed again. Jobs come
    oldest window first, so a backlog drains in capture order and the oldest exposure closes first.
    """
    plan = CopyPlan()
    by_region: dict[str, dict[str, RecoveryPoint]] = {}
    for region in regions:
        index: dict[str, RecoveryPoint] = {}
        for c in copies.get(region, []):
            src = c.tags.get(TAG_COPY_OF)
            if not src:
                continue
            prior = index.get(src)
            if prior is None or _rank(c) > _rank(prior):
                index[src] = c
        by_region[region] = index
    candidates = [p for p in sources if p.status == AVAILABLE and not is_copy(p)]
    wanted: dict[tuple[str, str, str], set[str]] = {}
    if rule is not None:
        by_source: dict[tuple[str, str], list[RecoveryPoint]] = defaultdict(list)
        for p in candidates:
            by_source[(p.plan, p.source_id)].append(p)
        for region in regions:
            live: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
            for origin, c in by_region[region].items():
                if c.status in (AVAILABLE, CREATING) and c.tags.get(TAG_MANAGED) == "true":
                    live[(c.plan, c.source_id)].append((origin, c.window))
            for (plan_name, source), points in by_source.items():
                entries = [(p.point_id, p.window) for p in points] + live.get((plan_name, source), [])
                wanted[(region, plan_name, source)] = dr_wanted(entries, rule=rule, tz=tz)
    for point in sorted(candidates, key=lambda p: (p.window, p.source_id)):
        for region in regions:
            existing = by_region[region].get(point.point_id)
            if existing is not None and existing.status == AVAILABLE:
                plan.done.append(existing)
            elif existing is not None and existing.status == CREATING:
                plan.in_flight.append(existing)
            elif rule is not None and point.point_id not in wanted[(region, point.plan, point.source_id)]:
                plan.not_wanted.append(CopyJob(point=point, dest_region=region, replaces=existing))
            else:
                plan.jobs.append(CopyJob(point=point, dest_region=region, replaces=existing))
    return plan


def _rank(p: RecoveryPoint) -> int:
    return {AVAILABLE: 3, CREATING: 2, FAILED: 1, MISSING: 0}.get(p.status, 0)


def in_flight_by_region(copies: dict[str, list[RecoveryPoint]]) -> dict[str, int]:
    """Copies still being made per destination region (all plans: the quota is per account)."""
    return {
        region: sum(1 for c in items if is_copy(c) and c.status == CREATING)
        for region, items in copies.items()
    }


#: AWS answers that mean "not now": a quota or a concurrency limit. The copy goes back to the
#: queue (with backoff), it is not a failure. EBS: ResourceLimitExceeded (concurrent snapshot
#: copies, snapshots per region), SnapshotCopyLimitExceeded; AMI: ResourceLimitExceeded,
#: AMIQuotaExceeded; RDS/Aurora: SnapshotQuotaExceeded (manual snapshots per region), and the
#: concurrent cross-region copy limit answered as SnapshotQuotaExceeded or LimitExceeded;
#: DynamoDB exports: LimitExceededException.
QUOTA_ERROR_CODES = frozenset(
    {
        "ResourceLimitExceeded",
        "SnapshotCopyLimitExceeded",
        "AMIQuotaExceeded",
        "SnapshotQuotaExceeded",
        "SnapshotQuotaExceededFault",
        "DBClusterSnapshotQuotaExceeded",
        "LimitExceeded",
        "LimitExceededException",
        "ConcurrentSnapshotCopyLimitExceeded",
    }
)


def is_quota_error(err: BaseException) -> bool:
    """True when ``err`` (or the AWS error it wraps) is a quota or concurrency limit."""
    seen: BaseException | None = err
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            code = str((response.get("Error") or {}).get("Code") or "")
            if code in QUOTA_ERROR_CODES:
                return True
        text = str(seen).split(":", 1)[0].strip()
        if text in QUOTA_ERROR_CODES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class StartResult:
    """``waiting``: jobs left for a later pass (no free slot, not possible yet, or refused by an AWS
    quota: those are also in ``quota_waits``, by region)."""

    started: list[RecoveryPoint] = field(default_factory=list)
    waiting: list[CopyJob] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    quota_waits: list[CopyJob] = field(default_factory=list)
    #: the jobs not possible yet (``RetryLater``; also in ``waiting``), and the earliest moment
    #: one of them says it will be
    later: list[CopyJob] = field(default_factory=list)
    retry_at: datetime | None = None


def start_copies(
    ctx: AwsContext,
    kind: Kind,
    jobs: list[CopyJob],
    *,
    quota: int,
    in_flight: dict[str, int],
    kms_keys: dict[str, str],
    dest_ctx: AwsContext | None = None,
    listed: bool = False,
) -> StartResult:
    """Start as many ``jobs`` as each destination's free slots allow (``quota`` - in flight).

    The rest wait (returned in ``waiting``). A per-point failure is recorded, never raised.

    :param listed: the jobs were planned from a listing of the destinations made in this pass
        (no healthy copy of any job's point was there); kinds that accept it skip their own look-up.
    """
    result = StartResult()
    lock = threading.Lock()
    # The jobs come from :func:`plan_copies` over a fresh listing of each destination: a kind
    # whose copy can trust that listing (``listed=True``) skips its per-copy look-up.
    extra: dict[str, Any] = {"listed": True} if listed and kind.copy_trusts_listing else {}
    per_region: dict[str, list[CopyJob]] = defaultdict(list)
    for job in jobs:
        per_region[job.dest_region].append(job)
    for region, region_jobs in per_region.items():
        slots = max(0, quota - in_flight.get(region, 0))
        now, later = region_jobs[:slots], region_jobs[slots:]
        result.waiting.extend(later)
        if not now:
            continue

        def _one(
            job: CopyJob, region: str = region
        ) -> RecoveryPoint | dict[str, str] | CopyJob | tuple[str, CopyJob]:
            try:
                return kind.copy(
                    ctx,
                    job.point,
                    dest_region=region,
                    kms_key_id=kms_keys[region],
                    tags=copy_tags(job.point),
                    dest_ctx=dest_ctx,
                    **extra,
                )
            except RetryLater as err:
                log.info("Copy of %s to %s waits: %s", job.point.point_id, region, err)
                if err.retry_at is not None:
                    with lock:
                        result.retry_at = min(filter(None, (result.retry_at, err.retry_at)))
                return job
            except (CaptureError, ClientError) as err:
                # a kind may let AWS's own error through (ecr, lambda): a quota or throttling answer
                # is a wait like any other, anything else fails this copy only, not the pass
                throttled = isinstance(err, ClientError) and error_code(err) in THROTTLING_CODES
                if is_quota_error(err) or throttled:
                    log.info("Copy of %s to %s waits for an AWS quota: %s", job.point.point_id, region, err)
                    return ("quota", job)
                return {
                    "kind": kind.name,
                    "source": job.point.source_id,
                    "point": job.point.point_id,
                    "region": region,
                    "window": format_window(job.point.window),
                    "error": str(err),
                }

        with ThreadPoolExecutor(max_workers=max(1, min(len(now), quota)), thread_name_prefix="copy") as pool:
            for outcome in pool.map(_one, now):
                if isinstance(outcome, RecoveryPoint):
                    result.started.append(outcome)
                elif isinstance(outcome, CopyJob):
                    result.waiting.append(outcome)
                    result.later.append(outcome)
                elif isinstance(outcome, tuple):
                    result.waiting.append(outcome[1])
                    result.quota_waits.append(outcome[1])
                else:
                    log.warning(
                        "Copy of %s to %s failed: %s", outcome["point"], outcome["region"], outcome["error"]
                    )
                    result.failures.append(outcome)
    return result


def summarize(plan: CopyPlan, start: StartResult) -> dict[str, Any]:
    return {
        "done": len(plan.done),
        "in_flight": len(plan.in_flight) + len(start.started),
        "started": len(start.started),
        "waiting": len(start.waiting),
        "quota_waits": len(start.quota_waits),
        "not_wanted": len(plan.not_wanted),
        "failed": len(start.failures),
    }
