"""What RDS DB instances and Aurora DB clusters share: the same calls under different names.

Both protect a source (instance or cluster) with a manual snapshot whose identifier is the
deterministic :data:`~awsdr.windows.RDS_SNAPSHOT` name, so a re-run meets ``...AlreadyExists``
and returns the snapshot already there. :class:`RdsFamilyKind` holds the logic; a subclass sets
:class:`RdsShape` (the operation, key and error names) and the per-service facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code, tag_dict, tag_list
from awsdr.kinds.base import (
    AVAILABLE,
    CREATING,
    FAILED,
    MISSING,
    CaptureError,
    Kind,
    RecoveryPoint,
    Resource,
    point_from_tags,
)
from awsdr.windows import (
    RDS_SNAPSHOT,
    TAG_KIND,
    TAG_PLAN,
    TAG_WINDOW,
    format_window,
    make_name,
    point_name,
    window_stamp,
)

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext

#: Attempts per window: a new identifier is used only when the snapshot under the previous one
#: failed or is being deleted (snapshot identifiers are unique per account and region).
MAX_ATTEMPTS = 3

#: Snapshot status -> point status. ``deleting`` counts as gone: a new attempt may be made.
SNAPSHOT_STATES = {
    "creating": CREATING,
    "pending": CREATING,
    "copying": CREATING,
    "available": AVAILABLE,
    "failed": FAILED,
    "error": FAILED,
    "deleting": MISSING,
}


@dataclass(frozen=True)
class RdsShape:
    """The names that differ between the DB instance and the DB cluster snapshot calls."""

    describe_sources: str  # describe_db_instances
    sources_key: str  # DBInstances
    source_filter: str  # db-instance-id (takes identifiers and ARNs)
    source_id_key: str  # DBInstanceIdentifier (also CreateDB*Snapshot's source parameter)
    source_arn_key: str  # DBInstanceArn
    source_status_key: str  # DBInstanceStatus
    create_snapshot: str  # create_db_snapshot
    snapshot_key: str  # DBSnapshot
    describe_snapshots: str  # describe_db_snapshots
    snapshots_key: str  # DBSnapshots
    snapshot_filter: str  # db-snapshot-id
    snapshot_id_key: str  # DBSnapshotIdentifier (also CreateDB*Snapshot's name parameter)
    snapshot_arn_key: str  # DBSnapshotArn
    exists_code: str  # DBSnapshotAlreadyExists


def iso(value: Any) -> str | None:
    """ISO-8601 UTC text of a botocore timestamp (None stays None)."""
    if isinstance(value, datetime):
        return format_window(value)
    return str(value) if value else None


def attempt_names(plan: str, source_id: str, window: datetime) -> list[str]:
    """The snapshot identifiers one window may use, first attempt first."""
    first = point_name(RDS_SNAPSHOT, plan, source_id, window)
    stamp = window_stamp(window)
    return [first] + [
        make_name(RDS_SNAPSHOT, "awsdr", plan, source_id, f"{stamp}-r{n}") for n in range(2, MAX_ATTEMPTS + 1)
    ]


class RdsFamilyKind(Kind):
    """Base of :class:`~awsdr.kinds.rds.RdsKind` and :class:`~awsdr.kinds.aurora.AuroraKind`."""

    shape: ClassVar[RdsShape]
    #: RDS ``Filters`` values: keep each describe to 100 identifiers.
    describe_batch: ClassVar[int] = 100
    #: Source states where a snapshot request cannot succeed: refused without a call. Other
    #: states are left to the service (InvalidDB*State becomes a CaptureError).
    blocked_states: ClassVar[frozenset[str]] = frozenset(
        {
            "creating",
            "deleting",
            "failed",
            "inaccessible-encryption-credentials",
            "inaccessible-encryption-credentials-recoverable",
            "incompatible-restore",
            "restore-error",
        }
    )

    # --- per-service facts (subclasses) ------------------------------------------------------

    def keep(self, source: dict[str, Any]) -> bool:
        """Whether a described source is protected by this kind."""
        return True

    def source_meta(self, source: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def snapshot_details(self, snap: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # --- discovery ---------------------------------------------------------------------------

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        s = self.shape
        rds = ctx.client("rds", region)
        out: list[Resource] = []
        for batch in self.batches(arns, self.describe_batch):
            # Filter instead of the identifier parameter: a vanished source is skipped.
            pages = rds.get_paginator(s.describe_sources).paginate(
                Filters=[{"Name": s.source_filter, "Values": batch}]
            )
            for page in pages:
                for src in page[s.sources_key]:
                    if not self.keep(src):
                        continue
                    out.append(
                        Resource(
                            kind=self.name,
                            id=src[s.source_id_key],
                            arn=src[s.source_arn_key],
                            region=region,
                            tags=tag_dict(src.get("TagList")),
                            meta=self.source_meta(src),
                        )
                    )
        return out

    # --- points ------------------------------------------------------------------------------

    def snapshot_point(self, snap: dict[str, Any], region: str, tags: dict[str, str]) -> RecoveryPoint | None:
        """A recovery point from a DescribeDB*Snapshots item and its tags; None if not ours."""
        s = self.shape
        status = SNAPSHOT_STATES.get(snap.get("Status", ""), CREATING)
        point = point_from_tags(
            self.name,
            snap[s.snapshot_id_key],
            snap.get(s.snapshot_arn_key) or snap[s.snapshot_id_key],
            region,
            tags,
            status,
            created_at=snap.get("SnapshotCreateTime"),
            details=self.snapshot_details(snap),
        )
        if point is not None and status == FAILED:
            point.error = f"snapshot {snap[s.snapshot_id_key]} is {snap.get('Status')}"
        return point

    def _tags_of(self, rds: Any, snap: dict[str, Any]) -> dict[str, str]:
        """The snapshot's tags: from TagList (AWS and moto return it), else one extra call."""
        if "TagList" in snap:
            return tag_dict(snap["TagList"])
        arn = snap.get(self.shape.snapshot_arn_key)
        if not arn:
            return {}
        return tag_dict(rds.list_tags_for_resource(ResourceName=arn).get("TagList"))

    def _snapshots(self, rds: Any, **kwargs: Any) -> list[dict[str, Any]]:
        s = self.shape
        out: list[dict[str, Any]] = []
        for page in rds.get_paginator(s.describe_snapshots).paginate(**kwargs):
            out.extend(page[s.snapshots_key])
        return out

    def _snapshot_named(self, rds: Any, name: str) -> dict[str, Any] | None:
        found = self._snapshots(rds, Filters=[{"Name": self.shape.snapshot_filter, "Values": [name]}])
        return found[0] if found else None

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        """One paginated listing of manual snapshots, matched on the awsdr tags client side.

        RDS has no tag filter on DescribeDB*Snapshots. Should TagList ever be absent, tags are
        fetched only for snapshots whose identifier carries this plan's prefix and window stamp.
        """
        rds = ctx.client("rds", region)
        prefix = make_name(RDS_SNAPSHOT, "awsdr", plan) + "-"
        stamp = window_stamp(window)
        wanted = format_window(window)
        found: dict[str, RecoveryPoint] = {}
        for snap in self._snapshots(rds, SnapshotType="manual"):
            ident = snap[self.shape.snapshot_id_key]
            if "TagList" not in snap and not (ident.startswith(prefix) and stamp in ident):
                continue
            tags = self._tags_of(rds, snap)
            if (
                tags.get(TAG_PLAN) != plan
                or tags.get(TAG_KIND) != self.name
                or tags.get(TAG_WINDOW) != wanted
            ):
                continue
            point = self.snapshot_point(snap, region, tags)
            if point is None:
                continue
            prior = found.get(point.source_id)
            # Prefer a healthy snapshot over a failed (or deleting) attempt of the same window.
            if prior is None or (prior.status in (FAILED, MISSING) and point.status not in (FAILED, MISSING)):
                found[point.source_id] = point
        return found

    # --- capture -----------------------------------------------------------------------------

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        s = self.shape
        status = resource.meta.get("status")
        if status in self.blocked_states:
            raise CaptureError(f"{resource.id} is {status}: no snapshot can be taken")
        rds = ctx.client("rds", resource.region)
        names = attempt_names(plan, resource.id, window)
        for name in names:
            try:
                snap = getattr(rds, s.create_snapshot)(
                    **{s.snapshot_id_key: name, s.source_id_key: resource.id, "Tags": tag_list(tags)}
                )[s.snapshot_key]
            except ClientError as err:
                if error_code(err) != s.exists_code:
                    raise CaptureError(f"{error_code(err)}: {err}") from err
            else:
                made_tags = tag_dict(snap.get("TagList")) or dict(tags)
                point = self.snapshot_point(snap, resource.region, made_tags)
                if point is None:  # pragma: no cover - our own tags always make a point
                    raise CaptureError(f"{name}: created without the awsdr tags")
                return point
            # The identifier is taken: a re-run or retry of this window (or a stranger).
            existing = self._snapshot_named(rds, name)
            if existing is None:
                raise CaptureError(f"{name}: reported as existing but not found (deleted meanwhile?)")
            point = self.snapshot_point(existing, resource.region, self._tags_of(rds, existing))
            if point is None or point.source_id != resource.id:
                raise CaptureError(f"{name} exists but is not this product's point for {resource.id}")
            if point.status not in (FAILED, MISSING):
                return point
        raise CaptureError(
            f"{resource.id}: all {len(names)} snapshot attempts for {format_window(window)} failed"
        )

    # --- status ------------------------------------------------------------------------------

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        s = self.shape
        rds = ctx.client("rds", region)
        seen: dict[str, dict[str, Any]] = {}
        for batch in self.batches([p.point_id for p in points], self.describe_batch):
            # Filters, not the identifier parameter: an unknown snapshot is absent, not an error.
            for snap in self._snapshots(rds, Filters=[{"Name": s.snapshot_filter, "Values": batch}]):
                seen[snap[s.snapshot_id_key]] = snap
        for p in points:
            found = seen.get(p.point_id)
            if found is None:
                p.status = MISSING
                continue
            p.status = SNAPSHOT_STATES.get(found.get("Status", ""), CREATING)
            if p.status == FAILED:
                p.error = f"snapshot {p.point_id} is {found.get('Status')}"
            if p.created_at is None and isinstance(found.get("SnapshotCreateTime"), datetime):
                p.created_at = found["SnapshotCreateTime"]
            p.details.update(self.snapshot_details(found))
        return points
