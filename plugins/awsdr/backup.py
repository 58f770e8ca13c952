"""Capture one kind for one plan and window: discover, find existing, create the missing, refresh.

The engine the backup operator drives. It has no Airflow imports, so tests call it directly
against moto. Per-resource failures are collected, never raised: one volume deleted mid-run
does not stop the other nine hundred.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from awsdr.kinds.base import AVAILABLE, CREATING, FAILED, MISSING, CaptureError, RecoveryPoint, Resource
from awsdr.windows import format_window, is_late, point_tags

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime, timedelta

    from awsdr.aws.context import AwsContext
    from awsdr.kinds.base import Kind

log = logging.getLogger(__name__)


@dataclass
class CaptureResult:
    """What one kind's capture produced for a window (JSON-safe through :meth:`to_dict`)."""

    kind: str
    window: datetime
    resources: list[Resource] = field(default_factory=list)
    points: list[RecoveryPoint] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def pending(self) -> list[RecoveryPoint]:
        return [p for p in self.points if p.status == CREATING]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "window": format_window(self.window),
            "resources": [r.to_dict() for r in self.resources],
            "points": [p.to_dict() for p in self.points],
            "created": self.created,
            "reused": self.reused,
            "failures": self.failures,
            "warnings": self.warnings,
        }


def select_resources(resources: Iterable[Resource], only: Iterable[str] | None) -> list[Resource]:
    """Keep resources whose id or ARN is in ``only`` (None or empty: keep all)."""
    wanted = {x.strip() for x in only or [] if x.strip()}
    items = list(resources)
    if not wanted:
        return items
    return [r for r in items if r.id in wanted or r.arn in wanted]


def _half_recorded(ctx: AwsContext, kind: Kind, point: RecoveryPoint) -> bool:
    """A point of the window whose capture died between the create and its record.

    A DynamoDB backup is managed through its tags sidecar in the catalog: a worker killed after
    ``CreateBackup`` and before the sidecar left a backup that no listing shows as the plan's
    point (never copied, never pruned, no content digest for verification). Such a point goes
    back through ``capture()``, which finds the backup by name (no second ``CreateBackup``) and
    writes its sidecar. One HEAD per reused backup.
    """
    bucket = getattr(kind, "catalog_bucket", None)
    if kind.name != "dynamodb" or not bucket:
        return False
    from botocore.exceptions import ClientError

    from awsdr.kinds.dynamodb import sidecar_key

    s3 = ctx.client("s3", getattr(kind, "catalog_region", None) or point.region)
    try:
        s3.head_object(Bucket=bucket, Key=sidecar_key(point.plan, point.source_id, point.window))
    except ClientError:
        return True  # missing (404), or not known: capture() is idempotent, let it make sure
    return False


def capture_kind(
    ctx: AwsContext,
    kind: Kind,
    *,
    plan: str,
    region: str,
    selector: dict[str, str],
    window: datetime,
    captured_at: datetime,
    late_after: timedelta,
    only: Iterable[str] | None = None,
    concurrency: int = 10,
) -> CaptureResult:
    """Make sure every selected resource of ``kind`` has its one recovery point for ``window``.

    Existing points (a retry, a re-run, a run killed half way) are found and reused; only the
    missing ones are created, at most ``concurrency`` calls at a time. A point that ended in
    error is replaced by a new attempt.
    """
    result = CaptureResult(kind=kind.name, window=window)
    resources = select_resources(kind.discover(ctx, region, selector), only)
    result.resources = resources
    for res in resources:
        for warning in res.meta.get("warnings", []):
            result.warnings.append({"source": res.id, "warning": warning})
    existing = kind.find_existing(ctx, region, plan, window)
    todo: list[Resource] = []
    completing: set[str] = set()
    for res in resources:
        point = existing.get(res.id)
        if point is not None and point.status not in (FAILED, MISSING):
            if _half_recorded(ctx, kind, point):
                todo.append(res)  # capture() finds it again (no second create) and records it
                completing.add(res.id)
                continue
            result.points.append(point)
            result.reused.append(res.id)
        else:
            todo.append(res)
    late = is_late(window, captured_at, late_after)

    def _one(res: Resource) -> RecoveryPoint | dict[str, str]:
        tags = point_tags(
            plan=plan, window=window, source=res.id, captured_at=captured_at, kind=kind.name, late=late
        )
        try:
            return kind.capture(ctx, res, plan, window, tags)
        except CaptureError as err:
            return {"kind": kind.name, "source": res.id, "error": str(err)}

    with ThreadPoolExecutor(
        max_workers=max(1, concurrency), thread_name_prefix=f"capture-{kind.name}"
    ) as pool:
        for res, outcome in zip(todo, pool.map(_one, todo), strict=True):
            if isinstance(outcome, RecoveryPoint):
                result.points.append(outcome)
                (result.reused if res.id in completing else result.created).append(res.id)
            else:
                log.warning("Capture of %s %s failed: %s", kind.name, res.id, outcome["error"])
                result.failures.append(outcome)
    log.info(
        "%s %s window %s: %d resources, %d created, %d reused, %d failed%s",
        plan,
        kind.name,
        format_window(window),
        len(resources),
        len(result.created),
        len(result.reused),
        len(result.failures),
        " (late capture)" if late and result.created else "",
    )
    return result


def refresh_points(
    ctx: AwsContext, kind: Kind, region: str, points: list[RecoveryPoint]
) -> list[RecoveryPoint]:
    """One batched status pass over ``points``."""
    if not points:
        return points
    return kind.refresh(ctx, region, points)


def settle(result: CaptureResult) -> None:
    """Move points that ended failed or missing into the failures list."""
    keep: list[RecoveryPoint] = []
    for p in result.points:
        if p.status in (FAILED, MISSING):
            result.failures.append(
                {"kind": p.kind, "source": p.source_id, "error": p.error or f"recovery point {p.status}"}
            )
        else:
            keep.append(p)
    result.points = keep


def all_settled(points: Iterable[RecoveryPoint]) -> bool:
    return all(p.status in (AVAILABLE, FAILED, MISSING) for p in points)
