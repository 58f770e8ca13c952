"""What RDS DB instances and Aurora DB clusters share: the same calls under different names.

Both protect a source (instance or cluster) with a manual snapshot whose identifier is the
deterministic :data:`~awsdr.windows.RDS_SNAPSHOT` name, so a re-run meets ``...AlreadyExists``
and returns the snapshot already there. :class:`RdsFamilyKind` holds the logic; a subclass sets
:class:`RdsShape` (the operation, key and error names) and the per-service facts.

Module-level helpers for failover (:func:`promote_read_replica`, :func:`instance_status`,
:func:`failover_global_cluster`) live here too: they speak the same API and the same status words.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from awsdr.aws.context import chunks, error_code, tag_dict, tag_list
from awsdr.kinds.base import (
    ABSENT,
    AVAILABLE,
    CREATING,
    DELETED,
    FAILED,
    MISSING,
    REFUSED,
    CaptureError,
    Kind,
    RecoveryPoint,
    Resource,
    point_from_tags,
    tag_selected,
)
from awsdr.windows import (
    RDS_SNAPSHOT,
    TAG_COPY_OF,
    TAG_KIND,
    TAG_LEGAL_HOLD,
    TAG_MANAGED,
    TAG_PLAN,
    TAG_WINDOW,
    format_window,
    is_product_made,
    make_name,
    point_name,
    window_stamp,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

#: Bounded concurrency for per-item calls that have no batch form (deletes).
WORKERS = 8

#: RDS ``Filters`` values per describe call.
FILTER_BATCH = 100

#: Set on a DB instance right after :func:`promote_read_replica` promoted it.
TAG_PROMOTED_AT = "awsdr:promoted-at"

#: Snapshot states in which a delete must wait (the snapshot, or a copy of it, is being made).
BUSY_SNAPSHOT_STATES = frozenset({"creating", "copying", "pending"})

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

#: DB instance / DB cluster status -> restore status. Any status not listed (backing-up,
#: modifying, configuring-*, upgrading, starting, ...) is transitional: ``creating``.
RESTORE_FAILED_STATES = frozenset(
    {
        "failed",
        "cloning-failed",
        "migration-failed",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-credentials",
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "restore-error",
        "storage-full",
        "insufficient-capacity",
        "stopped",
        "stopping",
    }
)
RESTORE_GONE_STATES = frozenset({"deleting", "deleted"})


def restore_state(status: str | None) -> str:
    """Normalise a DBInstanceStatus / DBCluster Status for :class:`Restored`."""
    if not status:
        return MISSING
    if status == "available":
        return AVAILABLE
    if status in RESTORE_FAILED_STATES:
        return FAILED
    if status in RESTORE_GONE_STATES:
        return MISSING
    return CREATING


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
    copy_snapshot: str  # copy_db_snapshot
    copy_source_param: str  # SourceDBSnapshotIdentifier
    copy_target_param: str  # TargetDBSnapshotIdentifier
    delete_snapshot: str  # delete_db_snapshot
    snapshot_not_found: frozenset[str]  # DBSnapshotNotFound (wire code) / ...Fault (model name)
    modify_attribute: str  # modify_db_snapshot_attribute
    encrypted_key: str  # Encrypted (DB snapshots) / StorageEncrypted (cluster snapshots)
    arn_type: str  # snapshot / cluster-snapshot (the ARN resource type)


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
    #: CopyDB*Snapshot can encrypt a plaintext source: true for DB snapshots; CopyDBClusterSnapshot
    #: refuses a KmsKeyId for an unencrypted cluster snapshot (API reference, KmsKeyId).
    copy_encrypts_plaintext: ClassVar[bool] = True
    #: DB instance class of restores (Aurora: of the restored cluster's one instance).
    restore_instance_class: str = "db.t3.micro"
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

    def _details(self, snap: dict[str, Any]) -> dict[str, Any]:
        """:meth:`snapshot_details` plus ``size_bytes`` (AllocatedStorage is in GiB)."""
        details = self.snapshot_details(snap)
        size = snap.get("AllocatedStorage")
        if isinstance(size, int):
            details["size_bytes"] = size * 2**30
        return details

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
            details=self._details(snap),
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
            p.details.update(self._details(found))
        return points

    # --- listing -----------------------------------------------------------------------------

    def set_tags(self, ctx: AwsContext, point: RecoveryPoint, tags: dict[str, str]) -> None:
        """Tag the snapshot in place (e.g. ``awsdr:verified-at``)."""
        try:
            ctx.client("rds", point.region).add_tags_to_resource(ResourceName=point.arn, Tags=tag_list(tags))
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        point.tags.update(tags)

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        """Manual snapshots tagged ``awsdr:managed=true`` (points and copies), one paginated listing."""
        rds = ctx.client("rds", region)
        out: list[RecoveryPoint] = []
        for snap in self._snapshots(rds, SnapshotType="manual"):
            # Without TagList (never seen, but the API does not promise it) only our names are asked.
            if "TagList" not in snap and not snap[self.shape.snapshot_id_key].startswith("awsdr-"):
                continue
            tags = self._tags_of(rds, snap)
            if tags.get(TAG_MANAGED) != "true" or (plan is not None and tags.get(TAG_PLAN) != plan):
                continue
            point = self.snapshot_point(snap, region, tags)
            if point is not None:
                out.append(point)
        return out

    # --- copy / share --------------------------------------------------------------------------

    def _arn_of(self, ctx: AwsContext, point: RecoveryPoint) -> str:
        """The source snapshot's ARN (cross-region and shared copies must name it by ARN)."""
        if point.arn.startswith("arn:"):
            return point.arn
        account = ctx.account_id(point.region)
        return f"arn:{partition(point.region)}:rds:{point.region}:{account}:{self.shape.arn_type}:{point.point_id}"

    def copy(
        self,
        ctx: AwsContext,
        point: RecoveryPoint,
        *,
        dest_region: str,
        kms_key_id: str,
        tags: dict[str, str],
        dest_ctx: AwsContext | None = None,
    ) -> RecoveryPoint:
        """CopyDB(Cluster)Snapshot in the destination, by ARN, under the window's deterministic name.

        A name already taken by a copy of this point is that copy (returned; a failed one is
        replaced under the next attempt name); taken by anything else, a :class:`CaptureError`.
        """
        s = self.shape
        if not self.copy_encrypts_plaintext and point.details.get("encrypted") is False:
            raise CaptureError(
                f"{point.point_id} is not encrypted: an unencrypted {self.name} snapshot cannot be "
                f"encrypted by a copy (AWS refuses KmsKeyId for it), and DR copies must be encrypted "
                f"with {kms_key_id}; enable storage encryption on {point.source_id} (restore it from a "
                "snapshot with a KMS key) so its next points can be copied"
            )
        rds = (dest_ctx or ctx).client("rds", dest_region)
        source_arn = self._arn_of(ctx, point)
        ours = {tags.get(TAG_COPY_OF), point.point_id, point.arn} - {None}
        # SourceRegion makes botocore presign the cross-region request; same-region copies
        # (a vault account in the same region) must not carry it.
        extra: dict[str, Any] = {"SourceRegion": point.region} if point.region != dest_region else {}
        names = attempt_names(point.plan, point.source_id, point.window)
        for name in names:
            try:
                snap = getattr(rds, s.copy_snapshot)(
                    **{
                        s.copy_source_param: source_arn,
                        s.copy_target_param: name,
                        "KmsKeyId": kms_key_id,
                        "Tags": tag_list(tags),
                        "CopyTags": False,
                        **extra,
                    }
                )[s.snapshot_key]
            except ClientError as err:
                if error_code(err) != s.exists_code:
                    raise CaptureError(
                        f"copy of {point.point_id} to {dest_region}: {error_code(err)}: {err}"
                    ) from err
            else:
                made = self.snapshot_point(snap, dest_region, tag_dict(snap.get("TagList")) or dict(tags))
                if made is None:
                    raise CaptureError(f"{name}: copy tags lack the awsdr point tags")
                return made
            existing = self._snapshot_named(rds, name)
            if existing is None:
                raise CaptureError(f"{name}: reported as existing in {dest_region} but not found")
            etags = self._tags_of(rds, existing)
            made = self.snapshot_point(existing, dest_region, etags)
            if made is None or etags.get(TAG_COPY_OF) not in ours:
                raise CaptureError(f"{name} exists in {dest_region} but is not a copy of {point.point_id}")
            if made.status not in (FAILED, MISSING):
                return made
        raise CaptureError(f"{point.point_id}: all {len(names)} copy attempts to {dest_region} failed")

    def share(self, ctx: AwsContext, point: RecoveryPoint, account_id: str) -> None:
        """Add ``account_id`` to the snapshot's ``restore`` attribute (it may then copy it).

        Refused before the call when the snapshot is encrypted with an AWS managed key: such a
        key's grants cannot reach another account, so the share would be useless.
        """
        s = self.shape
        rds = ctx.client("rds", point.region)
        snap = self._snapshot_named(rds, point.point_id)
        if snap is None:
            raise CaptureError(f"{point.point_id} not found in {point.region}: nothing to share")
        key = snap.get("KmsKeyId")
        if snap.get(s.encrypted_key) and key and aws_managed_key(ctx, point.region, key):
            raise CaptureError(
                f"{point.point_id} is encrypted with the AWS managed key {key}: snapshots encrypted with "
                "the default aws/rds key cannot be shared with another account; copy it with a "
                "customer-managed KMS key first and share the copy"
            )
        try:
            getattr(rds, s.modify_attribute)(
                **{s.snapshot_id_key: point.point_id, "AttributeName": "restore", "ValuesToAdd": [account_id]}
            )
        except ClientError as err:
            raise CaptureError(
                f"share of {point.point_id} with {account_id}: {error_code(err)}: {err}"
            ) from err

    # --- delete ------------------------------------------------------------------------------

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        s = self.shape
        rds = ctx.client("rds", region)
        ids = list(dict.fromkeys(p.point_id for p in points))
        fresh = describe_by_ids(
            rds, s.describe_snapshots, s.snapshots_key, s.snapshot_filter, s.snapshot_id_key, ids
        )
        seen = {k.lower(): v for k, v in fresh.items()}
        outcomes: dict[str, str] = {}
        todo: list[str] = []
        for pid in ids:
            snap = seen.get(pid.lower())
            if snap is None:
                outcomes[pid] = ABSENT
                continue
            tags = self._tags_of(rds, snap)
            status = str(snap.get("Status", ""))
            if tags.get(TAG_MANAGED) != "true" or TAG_LEGAL_HOLD in tags:
                log.warning("Refusing to delete %s: not managed or under legal hold", pid)
                outcomes[pid] = REFUSED
            elif status == "deleting":
                outcomes[pid] = ABSENT
            elif status in BUSY_SNAPSHOT_STATES:
                outcomes[pid] = f"error: still {status}"
            else:
                todo.append(pid)

        def _one(pid: str) -> str:
            try:
                getattr(rds, s.delete_snapshot)(**{s.snapshot_id_key: pid})
            except ClientError as err:
                code = error_code(err)
                if code in s.snapshot_not_found:
                    return ABSENT
                return f"error: {code} {err.response.get('Error', {}).get('Message', '')}".rstrip()
            return DELETED

        outcomes.update(run_bounded(_one, todo))
        return outcomes

    # --- restore helpers (subclasses) ------------------------------------------------------------

    @staticmethod
    def check_restore_target(name: str, found_tags: dict[str, str], tags: dict[str, str]) -> None:
        """A resource already called ``name`` is reused only if it is a restore (ours), never a stranger."""
        if all(found_tags.get(k) == v for k, v in tags.items()) or is_product_made(found_tags):
            return
        raise CaptureError(
            f"{name} already exists and is not a restore made by this product: choose another name"
        )


# --- module helpers ---------------------------------------------------------------------------


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def describe_by_ids(
    rds: Any,
    operation: str,
    result_key: str,
    filter_name: str,
    id_key: str,
    ids: list[str],
    arn_key: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Batched (100 per call), paginated describe through ``Filters``: an unknown id is absent.

    Keyed by ``id_key`` (and by ``arn_key`` too when given: the filters take ARNs as well).
    """
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(list(dict.fromkeys(ids)), FILTER_BATCH):
        for page in rds.get_paginator(operation).paginate(Filters=[{"Name": filter_name, "Values": batch}]):
            for item in page[result_key]:
                found[item[id_key]] = item
                if arn_key and item.get(arn_key):
                    found[item[arn_key]] = item
    return found


def describe_instances(rds: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """DB instances by identifier (and ARN); absent ids are left out."""
    return describe_by_ids(
        rds,
        "describe_db_instances",
        "DBInstances",
        "db-instance-id",
        "DBInstanceIdentifier",
        ids,
        "DBInstanceArn",
    )


def describe_clusters(rds: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """DB clusters by identifier (and ARN); absent ids are left out."""
    return describe_by_ids(
        rds, "describe_db_clusters", "DBClusters", "db-cluster-id", "DBClusterIdentifier", ids, "DBClusterArn"
    )


def resource_tags(rds: Any, item: dict[str, Any], arn_key: str) -> dict[str, str]:
    """A described instance's or cluster's tags: TagList, else one ListTagsForResource."""
    if "TagList" in item:
        return tag_dict(item["TagList"])
    arn = item.get(arn_key)
    return tag_dict(rds.list_tags_for_resource(ResourceName=arn).get("TagList")) if arn else {}


def has_tag(tags: dict[str, str], key: str, value: str | None, keep: str | None = None) -> bool:
    return tag_selected(tags, key, value, keep)


def run_bounded(fn: Callable[[str], str], items: list[str]) -> dict[str, str]:
    """``{item: fn(item)}`` with at most :data:`WORKERS` calls in flight."""
    if not items:
        return {}
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items)), thread_name_prefix="rds") as pool:
        return dict(zip(items, pool.map(fn, items), strict=True))


def aws_managed_key(ctx: AwsContext, region: str, key_id: str) -> bool:
    """Whether ``key_id`` is an AWS managed key (``aws/rds``). Unknown (no access): False.

    moto reports every key, ``alias/aws/rds`` included, as customer managed.
    """
    try:
        meta = ctx.client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as err:
        log.info("Cannot describe KMS key %s in %s (%s): leaving the check to AWS", key_id, region, err)
        return False
    return meta.get("KeyManager") == "AWS"


def instance_facts(db: dict[str, Any]) -> dict[str, Any]:
    """What a validator reads from a DescribeDBInstances item."""
    return {
        "engine": db.get("Engine"),
        "engine_version": db.get("EngineVersion"),
        "allocated_storage": db.get("AllocatedStorage"),
        "storage_encrypted": bool(db.get("StorageEncrypted")),
        "kms_key_id": db.get("KmsKeyId"),
        "endpoint": (db.get("Endpoint") or {}).get("Address"),
        "instance_class": db.get("DBInstanceClass"),
        "status": db.get("DBInstanceStatus"),
    }


def cluster_facts(cl: dict[str, Any]) -> dict[str, Any]:
    """What a validator reads from a DescribeDBClusters item."""
    return {
        "engine": cl.get("Engine"),
        "engine_version": cl.get("EngineVersion"),
        "allocated_storage": cl.get("AllocatedStorage"),
        "storage_encrypted": bool(cl.get("StorageEncrypted")),
        "kms_key_id": cl.get("KmsKeyId"),
        "endpoint": cl.get("Endpoint"),
        "status": cl.get("Status"),
        "members": [m["DBInstanceIdentifier"] for m in cl.get("DBClusterMembers") or []],
    }


def compare_facts(
    resource_id: str, actual: dict[str, Any], expected: dict[str, Any], *, check_storage: bool
) -> list[str]:
    """Problems of a restored instance/cluster against the manifest entry (empty: pass)."""
    meta = expected.get("source_meta") or {}
    details = expected.get("details") or {}
    problems: list[str] = []
    want_engine = meta.get("engine") or details.get("engine")
    if want_engine and actual.get("engine") != want_engine:
        problems.append(f"{resource_id}: engine is {actual.get('engine')}, captured {want_engine}")
    want_version = meta.get("engine_version") or details.get("engine_version")
    if want_version and actual.get("engine_version") != want_version:
        problems.append(
            f"{resource_id}: engine version is {actual.get('engine_version')}, captured {want_version}"
        )
    want_size = meta.get("allocated_storage") or details.get("allocated_storage")
    if check_storage and isinstance(want_size, int):
        got = actual.get("allocated_storage")
        if not isinstance(got, int) or got < want_size:
            problems.append(f"{resource_id}: allocated storage is {got} GiB, captured {want_size} GiB")
    if not actual.get("storage_encrypted"):
        problems.append(f"{resource_id}: storage is not encrypted (every DR restore must be)")
    return problems


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- failover helpers -------------------------------------------------------------------------


def instance_status(ctx: AwsContext, region: str, ids: list[str]) -> dict[str, str]:
    """``{id: DBInstanceStatus}`` for DB instance identifiers (or ARNs); absent ones ``missing``."""
    if not ids:
        return {}
    found = describe_instances(ctx.client("rds", region), ids)
    lowered = {k.lower(): v for k, v in found.items()}
    return {
        i: str((found.get(i) or lowered.get(i.lower()) or {}).get("DBInstanceStatus", MISSING)) for i in ids
    }


def promote_read_replica(
    ctx: AwsContext, region: str, db_instance_id: str, *, backup_retention_days: int | None = None
) -> dict[str, bool]:
    """Promote the read replica ``db_instance_id`` in ``region`` to a standalone instance.

    Idempotent: ``{"promoted": True, "already": False}`` when this call promoted it,
    ``{"promoted": False, "already": True}`` when it was promoted before (our
    ``awsdr:promoted-at`` tag, or no replication source any more). The tag is needed because
    moto keeps ReadReplicaSourceDBInstanceIdentifier after a promotion. Raises CaptureError when
    the instance is missing or cannot be promoted now (e.g. backing-up: retry later).
    """
    rds = ctx.client("rds", region)
    db = describe_instances(rds, [db_instance_id]).get(db_instance_id)
    if db is None:
        raise CaptureError(f"DB instance {db_instance_id} not found in {region}: cannot promote it")
    arn = db["DBInstanceArn"]
    if TAG_PROMOTED_AT in resource_tags(rds, db, "DBInstanceArn") or not db.get(
        "ReadReplicaSourceDBInstanceIdentifier"
    ):
        return {"promoted": False, "already": True}
    args: dict[str, Any] = {"DBInstanceIdentifier": db_instance_id}
    if backup_retention_days is not None:
        args["BackupRetentionPeriod"] = backup_retention_days
    promoted = True
    try:
        rds.promote_read_replica(**args)
    except ClientError as err:
        # InvalidDBInstanceState: promoted meanwhile (no source any more), or busy (retry later).
        again = describe_instances(rds, [db_instance_id]).get(db_instance_id) or {}
        if error_code(err).startswith("InvalidDBInstanceState") and not again.get(
            "ReadReplicaSourceDBInstanceIdentifier"
        ):
            promoted = False
        else:
            raise CaptureError(f"promote {db_instance_id} in {region}: {error_code(err)}: {err}") from err
    rds.add_tags_to_resource(
        ResourceName=arn, Tags=[{"Key": TAG_PROMOTED_AT, "Value": format_window(utc_now())}]
    )
    return {"promoted": promoted, "already": not promoted}


#: FailoverState.Status values of a global cluster failover or switchover under way.
_FAILOVER_BUSY = frozenset({"pending", "failing-over", "switching-over", "cancelling"})


def failover_global_cluster(
    ctx: AwsContext,
    region: str,
    global_cluster_id: str,
    target_cluster_arn: str,
    *,
    allow_data_loss: bool = True,
) -> dict[str, Any]:
    """Make ``target_cluster_arn`` (a secondary cluster) the writer of the Aurora global database.

    Call it in the target's region (the primary's may be down). ``allow_data_loss=True`` is a
    failover (regional disaster: AllowDataLoss); False a switchover (planned, no data loss).
    Idempotent: when the target already writes, or a failover to it is under way, no second
    request is made. Returns ``{"failed_over": bool (this call asked), "already": bool,
    "in_progress": bool, "writer": previous writer ARN, "status": global cluster status}``.
    moto 5.2 has no FailoverGlobalCluster: coded to the API reference.
    """
    rds = ctx.client("rds", region)
    try:
        found = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster_id)["GlobalClusters"]
    except ClientError as err:
        raise CaptureError(f"global cluster {global_cluster_id}: {error_code(err)}: {err}") from err
    if not found:
        raise CaptureError(f"global cluster {global_cluster_id} not found")
    gc = found[0]
    members = gc.get("GlobalClusterMembers") or []
    writer = next((m["DBClusterArn"] for m in members if m.get("IsWriter")), None)
    if target_cluster_arn not in {m["DBClusterArn"] for m in members}:
        raise CaptureError(f"{target_cluster_arn} is not a member of global cluster {global_cluster_id}")
    state = gc.get("FailoverState") or {}
    busy = state.get("Status") in _FAILOVER_BUSY
    result = {
        "failed_over": False,
        "already": True,
        "in_progress": busy,
        "writer": writer,
        "status": gc.get("Status"),
    }
    if writer == target_cluster_arn and not busy:
        return result
    if busy and state.get("ToDbClusterArn") == target_cluster_arn:
        return result
    if busy:
        raise CaptureError(
            f"global cluster {global_cluster_id} is already failing over to {state.get('ToDbClusterArn')}"
        )
    mode: dict[str, Any] = {"AllowDataLoss": True} if allow_data_loss else {"Switchover": True}
    try:
        answer = rds.failover_global_cluster(
            GlobalClusterIdentifier=global_cluster_id, TargetDbClusterIdentifier=target_cluster_arn, **mode
        )["GlobalCluster"]
    except ClientError as err:
        raise CaptureError(f"failover of {global_cluster_id}: {error_code(err)}: {err}") from err
    return {
        "failed_over": True,
        "already": False,
        "in_progress": True,
        "writer": writer,
        "status": answer.get("Status"),
    }
