"""EBS volumes: recovery point = EBS snapshot."""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from awsdr.aws.context import error_code, tag_dict, tag_list
from awsdr.aws.idempotent import create_or_find
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
    Restored,
    point_from_tags,
    tag_selected,
)
from awsdr.planning.retention import is_archived
from awsdr.windows import (
    TAG_COPY_OF,
    TAG_KIND,
    TAG_LEGAL_HOLD,
    TAG_MANAGED,
    TAG_PLAN,
    TAG_SOURCE,
    TAG_VALUE,
    TAG_WINDOW,
    format_window,
    point_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

GIB = 1024**3
#: Most concurrent per-point calls (delete, cleanup) one kind makes.
MAX_WORKERS = 8

_STATES = {"pending": CREATING, "completed": AVAILABLE, "error": FAILED, "recoverable": CREATING}
_VOLUME_STATES = {
    "creating": CREATING,
    "available": AVAILABLE,
    "in-use": AVAILABLE,
    "error": FAILED,
    "deleting": MISSING,
    "deleted": MISSING,
}


# --- archive tier ----------------------------------------------------------------------------------

#: DescribeSnapshots ``StorageTier``: ``standard`` is ready for use, ``archive`` must be restored first.
STANDARD = "standard"
ARCHIVE = "archive"
#: Outcomes of :meth:`EbsKind.archive` and :meth:`EbsKind.restore_from_archive` per snapshot.
ARCHIVED = "archived"
ALREADY_ARCHIVED = "already-archived"
WOULD_ARCHIVE = "would-archive"
NOT_COMPLETED = "not-completed"
RESTORE_STARTED = "restore-started"
RESTORE_IN_PROGRESS = "restore-in-progress"
USABLE = "usable"
#: A restore from the archive is temporary: the snapshot stays archived (billed at the archive rate,
#: its 90-day minimum not restarted) and AWS re-archives it after this many days. A restore takes up
#: to 72 hours; the rest leaves days to create the volume from it.
TEMPORARY_RESTORE_DAYS = 7


def _tier_details(snap: dict) -> dict[str, Any]:
    expiry = snap.get("RestoreExpiryTime")
    return {
        "storage_tier": snap.get("StorageTier") or STANDARD,
        "restore_expiry": format_window(expiry) if isinstance(expiry, datetime) else None,
    }


def archived_now(point: RecoveryPoint, now: datetime | None = None) -> bool:
    """True when ``point`` is in the archive tier and not temporarily restored: no volume can be
    created from it before a restore (:meth:`EbsKind.restore_from_archive`, up to 72 hours).

    Points of other kinds, and points listed before tiers were recorded, have no ``storage_tier``:
    they are standard."""
    return is_archived(point.details, now or _now())


def snapshot_point(snap: dict, region: str) -> RecoveryPoint | None:
    """A recovery point from a DescribeSnapshots item; None if it is not ours."""
    tags = tag_dict(snap.get("Tags"))
    size_gib = snap.get("VolumeSize")
    size_bytes = snap.get("FullSnapshotSizeInBytes") or (int(size_gib) * GIB if size_gib else None)
    return point_from_tags(
        "ebs",
        snap["SnapshotId"],
        snap["SnapshotId"],
        region,
        tags,
        _STATES.get(snap.get("State", ""), CREATING),
        created_at=snap.get("StartTime"),
        details={
            "size_gib": size_gib,
            "size_bytes": size_bytes,
            "encrypted": bool(snap.get("Encrypted")),
            "kms_key_id": snap.get("KmsKeyId"),
            "source_volume": snap.get("VolumeId"),
            **_tier_details(snap),
        },
    )


# --- helpers shared with the AMI kind ------------------------------------------------------------


def deletable(tags: dict[str, str]) -> bool:
    """The ownership rule of PRODUCT.md: only ``awsdr:managed=true`` and never under legal hold."""
    return tags.get(TAG_MANAGED) == "true" and TAG_LEGAL_HOLD not in tags


def error_outcome(err: BaseException) -> str:
    """``error: <code> <message>`` for a per-point failure."""
    response = getattr(err, "response", None)
    message = response.get("Error", {}).get("Message", "") if isinstance(response, dict) else str(err)
    return f"error: {error_code(err)} {message}".rstrip()


def client_token(*parts: str) -> str:
    """A deterministic idempotency token (EC2 takes up to 64 ASCII characters)."""
    return "awsdr-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def run_bounded(fn: Callable[[str], Any], items: list[str]) -> dict[str, Any]:
    """``{item: fn(item)}`` with at most :data:`MAX_WORKERS` calls in flight."""
    if not items:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(items))) as pool:
        return dict(zip(items, pool.map(fn, items), strict=True))


def describe_snapshots(ec2: Any, snapshot_ids: Iterable[str], batch: int = 200) -> dict[str, dict]:
    """Own snapshots by id, batched; unknown ids are left out (a filter, not SnapshotIds)."""
    ids = list(dict.fromkeys(snapshot_ids))
    seen: dict[str, dict] = {}
    for i in range(0, len(ids), batch):
        for page in ec2.get_paginator("describe_snapshots").paginate(
            OwnerIds=["self"], Filters=[{"Name": "snapshot-id", "Values": ids[i : i + batch]}]
        ):
            for snap in page["Snapshots"]:
                seen[snap["SnapshotId"]] = snap
    return seen


def kms_key_is_aws_managed(ctx: AwsContext, region: str, key_id: str) -> bool:
    """True when ``key_id`` (id, ARN or alias in ``region``) is an AWS managed key (``alias/aws/*``).

    Snapshots encrypted with an AWS managed key cannot be shared with another account.
    Raises ``ClientError`` when the key cannot be described.
    """
    if key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
        return True
    kms = ctx.client("kms", region)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    if meta.get("KeyManager") == "AWS":
        return True
    # moto 5.2.5 reports KeyManager=CUSTOMER for every key, also the alias/aws/ebs default key it
    # makes. Names under alias/aws/ are reserved for AWS managed keys, so this is exact on AWS too.
    for page in kms.get_paginator("list_aliases").paginate(KeyId=meta["KeyId"]):
        if any(a.get("AliasName", "").startswith("alias/aws/") for a in page.get("Aliases", [])):
            return True
    return False


def check_shareable(ctx: AwsContext, region: str, snapshots: Iterable[dict]) -> None:
    """Raise :class:`CaptureError` if any snapshot is encrypted with an AWS managed key."""
    verdicts: dict[str, bool] = {}
    for snap in snapshots:
        key = snap.get("KmsKeyId")
        if not snap.get("Encrypted") or not key:
            continue
        if key not in verdicts:
            try:
                verdicts[key] = kms_key_is_aws_managed(ctx, region, key)
            except ClientError as err:
                raise CaptureError(f"cannot check KMS key {key}: {error_code(err)}: {err}") from err
        if verdicts[key]:
            raise CaptureError(
                f"snapshot {snap['SnapshotId']} is encrypted with the AWS managed key {key}: snapshots "
                "encrypted with the AWS managed key cannot be shared across accounts; copy it first with "
                "a customer managed key (the DR-region copy already is) and share that copy"
            )


def share_snapshots(ctx: AwsContext, region: str, snapshot_ids: list[str], account_id: str) -> None:
    """Grant ``account_id`` createVolumePermission on own snapshots (after the AWS managed key check)."""
    ec2 = ctx.client("ec2", region)
    found = describe_snapshots(ec2, snapshot_ids)
    missing = [s for s in snapshot_ids if s not in found]
    if missing:
        raise CaptureError(f"InvalidSnapshot.NotFound: snapshot(s) {', '.join(missing)} do not exist")
    check_shareable(ctx, region, found.values())
    for sid in snapshot_ids:  # ModifySnapshotAttribute takes one snapshot per call
        try:
            ec2.modify_snapshot_attribute(
                SnapshotId=sid,
                Attribute="createVolumePermission",
                OperationType="add",
                UserIds=[account_id],
            )
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Ec2TagsMixin:
    """``set_tags`` for points EC2 tags in place (snapshots, images)."""

    def set_tags(self, ctx: AwsContext, point: RecoveryPoint, tags: dict[str, str]) -> None:
        """Tag the point in place (e.g. ``awsdr:verified-at``)."""
        try:
            ctx.client("ec2", point.region).create_tags(Resources=[point.point_id], Tags=tag_list(tags))
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        point.tags.update(tags)


class EbsKind(Ec2TagsMixin, Kind):
    name = "ebs"
    tagging_type = "ec2:volume"
    copy_trusts_listing = True

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        ec2 = ctx.client("ec2", region)
        ids = [arn.rsplit("/", 1)[-1] for arn in arns]
        out: list[Resource] = []
        for batch in self.batches(ids, self.describe_batch):
            # Filter instead of VolumeIds: a volume deleted since tagging is skipped, not an error.
            pages = ec2.get_paginator("describe_volumes").paginate(
                Filters=[{"Name": "volume-id", "Values": batch}]
            )
            for page in pages:
                for vol in page["Volumes"]:
                    out.append(
                        Resource(
                            kind=self.name,
                            id=vol["VolumeId"],
                            arn=f"arn:aws:ec2:{region}:{ctx.account_id(region)}:volume/{vol['VolumeId']}",
                            region=region,
                            tags=tag_dict(vol.get("Tags")),
                            meta={
                                "size_gib": vol["Size"],
                                "encrypted": bool(vol.get("Encrypted")),
                                "kms_key_id": vol.get("KmsKeyId"),
                                "volume_type": vol.get("VolumeType"),
                                "az": vol.get("AvailabilityZone"),
                            },
                        )
                    )
        return out

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        return self._window_points(ctx.client("ec2", region), region, plan, window)

    def _window_points(
        self, ec2: Any, region: str, plan: str, window: datetime, source: str | None = None
    ) -> dict[str, RecoveryPoint]:
        """This kind's snapshots of (plan, window) by source id (of ``source`` only, if given)."""
        found: dict[str, RecoveryPoint] = {}
        filters = [
            {"Name": f"tag:{TAG_PLAN}", "Values": [plan]},
            {"Name": f"tag:{TAG_WINDOW}", "Values": [format_window(window)]},
            {"Name": "tag:awsdr:kind", "Values": [self.name]},
        ]
        if source is not None:
            filters.append({"Name": f"tag:{TAG_SOURCE}", "Values": [source]})
        pages = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=filters)
        for page in pages:
            for snap in page["Snapshots"]:
                point = snapshot_point(snap, region)
                if point is None:
                    continue
                prior = found.get(point.source_id)
                # Prefer a healthy point over a failed one when a retry made a second attempt.
                if prior is None or (prior.status == FAILED and point.status != FAILED):
                    found[point.source_id] = point
        return found

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        region = resource.region
        all_tags = {"Name": point_name(TAG_VALUE, plan, resource.id, window), **tags}

        def create() -> RecoveryPoint:
            snap = ctx.create_client("ec2", region).create_snapshot(
                VolumeId=resource.id,
                Description=f"awsdr {plan} {resource.id} window {format_window(window)}",
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(all_tags)}],
            )
            snap["Tags"] = tag_list(all_tags)
            point = snapshot_point(snap, region)
            assert point is not None
            return point

        def find() -> RecoveryPoint | None:
            # CreateSnapshot has no idempotency token: the tags set in the call identify the point.
            point = self._window_points(ctx.client("ec2", region), region, plan, window, resource.id).get(
                resource.id
            )
            return point if point is not None and point.status != FAILED else None

        try:
            return create_or_find(create, find, what=f"snapshot of {resource.id} for {format_window(window)}")
        except (ClientError, BotoCoreError) as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        ec2 = ctx.client("ec2", region)
        seen = describe_snapshots(ec2, [p.point_id for p in points], self.describe_batch)
        for p in points:
            snap = seen.get(p.point_id)
            if snap is None:
                p.status = MISSING
                continue
            p.status = _STATES.get(snap.get("State", ""), CREATING)
            if p.status == FAILED:
                p.error = snap.get("StateMessage") or "snapshot entered state error"
            p.details.update(
                {
                    "size_gib": snap.get("VolumeSize"),
                    "encrypted": bool(snap.get("Encrypted")),
                    **_tier_details(snap),
                }
            )
        return points

    # --- listing -------------------------------------------------------------------------------

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        ec2 = ctx.client("ec2", region)
        # Always filter on the awsdr tag: an account (and moto) holds many other own snapshots.
        filters = [{"Name": f"tag:{TAG_MANAGED}", "Values": ["true"]}]
        if plan is not None:
            filters.append({"Name": f"tag:{TAG_PLAN}", "Values": [plan]})
        out: list[RecoveryPoint] = []
        for page in ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=filters):
            for snap in page["Snapshots"]:
                point = snapshot_point(snap, region)
                # An AMI's snapshots carry the AMI's tags (awsdr:kind=ec2): they belong to that kind.
                if point is not None and point.tags.get(TAG_KIND, self.name) == self.name:
                    out.append(point)
        return out

    # --- copy / share --------------------------------------------------------------------------

    def copy(
        self,
        ctx: AwsContext,
        point: RecoveryPoint,
        *,
        dest_region: str,
        kms_key_id: str,
        tags: dict[str, str],
        dest_ctx: AwsContext | None = None,
        listed: bool = False,
    ) -> RecoveryPoint:
        """CopySnapshot into ``dest_region``, tagged ``awsdr:copy-of``; a healthy copy there is returned.

        :param listed: the caller has just listed the destination (the copy planner's one batched
            listing per region) and found no healthy copy of ``point``: the per-copy look-up before
            the create is skipped. After a doubtful answer (a lost response) the copy is still looked
            up by its ``awsdr:copy-of`` tag before any retry, so it is found, never made twice.
        """
        ec2 = (dest_ctx or ctx).client("ec2", dest_region)
        if not listed:
            existing = self._copies_of(ec2, point.point_id, dest_region)
            if existing is not None:
                return existing
        name = point_name(TAG_VALUE, point.plan, point.source_id, point.window)
        all_tags = {"Name": name, **tags}
        if point_from_tags(self.name, "-", "-", dest_region, all_tags, CREATING) is None:
            raise CaptureError(f"copy of {point.point_id}: tags lack the awsdr point tags: {sorted(tags)}")

        def create() -> RecoveryPoint:
            made = (
                (dest_ctx or ctx)
                .create_client("ec2", dest_region)
                .copy_snapshot(
                    SourceSnapshotId=point.point_id,
                    SourceRegion=point.region,
                    Encrypted=True,
                    KmsKeyId=kms_key_id,
                    Description=(
                        f"awsdr copy of {point.point_id} ({point.region}) window {format_window(point.window)}"
                    ),
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(all_tags)}],
                )
            )
            copied = point_from_tags(
                self.name,
                made["SnapshotId"],
                made["SnapshotId"],
                dest_region,
                all_tags,
                CREATING,
                details={
                    "size_gib": point.details.get("size_gib"),
                    "size_bytes": point.details.get("size_bytes"),
                    "encrypted": True,
                    "kms_key_id": kms_key_id,
                    "source_volume": point.details.get("source_volume"),
                },
            )
            assert copied is not None  # the tags were checked above
            return copied

        try:
            # CopySnapshot has no idempotency token: the awsdr:copy-of tag identifies the copy.
            return create_or_find(
                create,
                lambda: self._copies_of(ec2, point.point_id, dest_region),
                what=f"copy of {point.point_id} to {dest_region}",
            )
        except (ClientError, BotoCoreError) as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err

    def _copies_of(self, ec2: Any, point_id: str, region: str) -> RecoveryPoint | None:
        """A healthy copy of ``point_id`` already in the destination, if any."""
        pages = ec2.get_paginator("describe_snapshots").paginate(
            OwnerIds=["self"], Filters=[{"Name": f"tag:{TAG_COPY_OF}", "Values": [point_id]}]
        )
        for page in pages:
            for snap in page["Snapshots"]:
                found = snapshot_point(snap, region)
                if found is not None and found.status != FAILED:
                    return found
        return None

    def share(self, ctx: AwsContext, point: RecoveryPoint, account_id: str) -> None:
        """Grant ``account_id`` createVolumePermission; refuses AWS-managed-key snapshots."""
        share_snapshots(ctx, point.region, [point.point_id], account_id)

    # --- delete --------------------------------------------------------------------------------

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        ec2 = ctx.client("ec2", region)
        ids = list(dict.fromkeys(p.point_id for p in points))
        fresh = describe_snapshots(ec2, ids, self.describe_batch)
        outcomes: dict[str, str] = {}
        todo: list[str] = []
        for sid in ids:
            snap = fresh.get(sid)
            if snap is None:
                outcomes[sid] = ABSENT
            elif not deletable(tag_dict(snap.get("Tags"))):
                outcomes[sid] = REFUSED
            else:
                todo.append(sid)

        def delete_one(sid: str) -> str:
            try:
                ec2.delete_snapshot(SnapshotId=sid)
            except ClientError as err:
                if error_code(err) == "InvalidSnapshot.NotFound":
                    return ABSENT
                # InvalidSnapshot.InUse: an AMI is registered on it; the AMI's kind deletes it.
                return error_outcome(err)
            return DELETED

        outcomes.update(run_bounded(delete_one, todo))
        return outcomes

    # --- archive tier -------------------------------------------------------------------------

    #: retention may move this kind's points to an archive tier (``archive_after`` in the policy)
    supports_archive = True

    def archive(
        self, ctx: AwsContext, region: str, points: list[RecoveryPoint], *, dry_run: bool = False
    ) -> dict[str, str]:
        """Move snapshots to the archive tier (ModifySnapshotTier ``StorageTier=archive``).

        The snapshots are described again first: one that is gone is ``absent``, one not
        ``awsdr:managed=true`` or under ``awsdr:legal-hold`` is ``refused``, one not completed is
        ``not-completed``, one already archived (or temporarily restored, which AWS re-archives by
        itself) is ``already-archived``: no call is made for any of them. A ``dry_run`` makes no
        call at all and answers ``would-archive`` for the rest.
        """
        ec2 = ctx.client("ec2", region)
        ids = list(dict.fromkeys(p.point_id for p in points))
        fresh = describe_snapshots(ec2, ids, self.describe_batch)
        outcomes: dict[str, str] = {}
        todo: list[str] = []
        for sid in ids:
            snap = fresh.get(sid)
            if snap is None:
                outcomes[sid] = ABSENT
            elif not deletable(tag_dict(snap.get("Tags"))):
                outcomes[sid] = REFUSED
            elif snap.get("State") != "completed":
                outcomes[sid] = NOT_COMPLETED
            elif snap.get("StorageTier") == ARCHIVE or snap.get("RestoreExpiryTime"):
                outcomes[sid] = ALREADY_ARCHIVED
            elif dry_run:
                outcomes[sid] = WOULD_ARCHIVE
            else:
                todo.append(sid)

        def archive_one(sid: str) -> str:
            try:
                ec2.modify_snapshot_tier(SnapshotId=sid, StorageTier=ARCHIVE)
            except ClientError as err:
                if error_code(err) == "InvalidSnapshot.NotFound":
                    return ABSENT
                return error_outcome(err)
            return ARCHIVED

        outcomes.update(run_bounded(archive_one, todo))
        for p in points:
            if outcomes.get(p.point_id) in (ARCHIVED, ALREADY_ARCHIVED):
                p.details["storage_tier"] = ARCHIVE
        return outcomes

    def restore_from_archive(
        self, ctx: AwsContext, point: RecoveryPoint, *, days: int = TEMPORARY_RESTORE_DAYS
    ) -> str:
        """Start a temporary restore of an archived snapshot (RestoreSnapshotTier
        ``TemporaryRestoreDays=days``); ``usable`` when no restore is needed (standard tier, or
        restored and not yet re-archived), ``restore-in-progress`` when one is already running.

        Temporary, not permanent: a verification or failover needs the snapshot only until its
        volume exists; the snapshot stays archived (no new 90-day minimum, no return to the
        standard rate) and the next retention run has nothing to archive again.
        """
        ec2 = ctx.client("ec2", point.region)
        snap = describe_snapshots(ec2, [point.point_id]).get(point.point_id)
        if snap is None:
            return ABSENT
        point.details.update(_tier_details(snap))
        if not archived_now(point):
            return USABLE
        try:
            ec2.restore_snapshot_tier(SnapshotId=point.point_id, TemporaryRestoreDays=days)
        except ClientError as err:
            # a restore already under way: AWS answers IncorrectState
            if error_code(err) == "IncorrectState":
                return RESTORE_IN_PROGRESS
            return error_outcome(err)
        # the tier as it is now (a restore completes in hours on AWS; the emulator completes it at once)
        again = describe_snapshots(ec2, [point.point_id]).get(point.point_id)
        if again is not None:
            point.details.update(_tier_details(again))
        return RESTORE_STARTED

    # --- restore / validate / cleanup ----------------------------------------------------------

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        ec2 = ctx.client("ec2", point.region)
        # Ours only: the name, the tags and the snapshot must all match (a look-alike is ignored).
        found = self._volumes(
            ec2,
            [
                {"Name": "tag:Name", "Values": [name]},
                {"Name": "snapshot-id", "Values": [point.point_id]},
                {"Name": "status", "Values": ["creating", "available", "in-use", "error"]},
                *({"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items() if k != "Name"),
            ],
        )
        if found:
            # Prefer a healthy volume if an earlier attempt also left a failed one.
            found.sort(key=lambda v: v.get("State") == "error")
            return self._restored(found[0], point.point_id, point.region, found[0].get("CreateTime"))
        started = _now()
        try:
            vol = ec2.create_volume(
                SnapshotId=point.point_id,
                AvailabilityZone=self._first_az(ec2, point.region),
                TagSpecifications=[{"ResourceType": "volume", "Tags": tag_list({**tags, "Name": name})}],
                # AWS keeps the token for a while: a retry racing this call gets the same volume.
                ClientToken=client_token("ebs-restore", point.region, point.point_id, name),
            )
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        return self._restored(vol, point.point_id, point.region, started)

    def _first_az(self, ec2: Any, region: str) -> str:
        zones = ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])
        names = sorted(
            z["ZoneName"]
            for z in zones.get("AvailabilityZones", [])
            if z.get("ZoneType", "availability-zone") == "availability-zone"
        )
        if not names:
            raise CaptureError(f"no available availability zone in {region}")
        return names[0]

    def _volumes(self, ec2: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in ec2.get_paginator("describe_volumes").paginate(Filters=filters):
            out.extend(page["Volumes"])
        return out

    def _restored(self, vol: dict[str, Any], point_id: str, region: str, started: Any) -> Restored:
        state = vol.get("State", "creating")
        return Restored(
            kind=self.name,
            resource_id=vol["VolumeId"],
            region=region,
            point_id=point_id,
            status=_VOLUME_STATES.get(state, CREATING),
            started_at=started if isinstance(started, datetime) else _now(),
            details=self._volume_details(vol),
            error=f"volume state {state}" if state == "error" else None,
        )

    @staticmethod
    def _volume_details(vol: dict[str, Any]) -> dict[str, Any]:
        return {
            "size_gib": vol.get("Size"),
            "encrypted": bool(vol.get("Encrypted")),
            "kms_key_id": vol.get("KmsKeyId"),
            "snapshot_id": vol.get("SnapshotId"),
            "az": vol.get("AvailabilityZone"),
            "name": tag_dict(vol.get("Tags")).get("Name"),
        }

    def _volumes_by_id(self, ec2: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for batch in self.batches(list(dict.fromkeys(ids)), self.describe_batch):
            for vol in self._volumes(ec2, [{"Name": "volume-id", "Values": batch}]):
                seen[vol["VolumeId"]] = vol
        return seen

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        seen = self._volumes_by_id(ctx.client("ec2", region), [r.resource_id for r in items])
        for item in items:
            vol = seen.get(item.resource_id)
            if vol is None:
                item.status = MISSING
                item.error = f"volume {item.resource_id} does not exist"
                continue
            state = vol.get("State", "creating")
            item.status = _VOLUME_STATES.get(state, CREATING)
            item.error = f"volume state {state}" if item.status in (FAILED, MISSING) else None
            item.details.update(self._volume_details(vol))
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        vol = self._volumes_by_id(ctx.client("ec2", restored.region), [restored.resource_id]).get(
            restored.resource_id
        )
        if vol is None:
            return [f"volume {restored.resource_id} does not exist"]
        problems: list[str] = []
        state = vol.get("State")
        if state not in ("available", "in-use"):
            problems.append(f"volume {restored.resource_id} is {state}, not available")
        size = vol.get("Size")
        captured = (expected.get("source_meta") or {}).get("size_gib")
        if captured is None:
            problems.append("captured size unknown: the manifest entry has no source_meta.size_gib")
        elif size != captured:
            problems.append(f"size {size} GiB != captured {captured} GiB")
        point_size = (expected.get("details") or {}).get("size_gib")
        if point_size is not None and size != point_size:
            problems.append(f"size {size} GiB != snapshot's {point_size} GiB")
        if not vol.get("Encrypted"):
            problems.append(f"volume {restored.resource_id} is not encrypted (DR copies always are)")
        if vol.get("SnapshotId") and vol["SnapshotId"] != restored.point_id:
            problems.append(f"volume was made from {vol['SnapshotId']}, not from {restored.point_id}")
        return problems

    def cleanup(
        self,
        ctx: AwsContext,
        region: str,
        tag_key: str,
        tag_value: str | None = None,
        *,
        keep: str | None = None,
    ) -> list[str]:
        ec2 = ctx.client("ec2", region)
        tag_filter = (
            {"Name": "tag-key", "Values": [tag_key]}
            if tag_value is None
            else {"Name": f"tag:{tag_key}", "Values": [tag_value]}
        )
        volumes = [
            v
            for v in self._volumes(ec2, [tag_filter])
            if tag_selected(tag_dict(v.get("Tags")), tag_key, tag_value, keep)
        ]
        gone = [v["VolumeId"] for v in volumes if v.get("State") in ("deleting", "deleted")]
        in_use = [v["VolumeId"] for v in volumes if v.get("State") == "in-use"]
        if in_use:
            log.warning("cleanup %s=%s: volumes still attached, skipped: %s", tag_key, tag_value, in_use)
        todo = [v["VolumeId"] for v in volumes if v.get("State") not in ("deleting", "deleted", "in-use")]

        def delete_one(vid: str) -> bool:
            try:
                ec2.delete_volume(VolumeId=vid)
            except ClientError as err:
                if error_code(err) == "InvalidVolume.NotFound":
                    return True
                log.warning("cleanup: cannot delete volume %s: %s", vid, error_outcome(err))
                return False
            return True

        done = run_bounded(delete_one, todo)
        return gone + [vid for vid in todo if done[vid]]
