"""EBS volumes: recovery point = EBS snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from awsdr.windows import TAG_PLAN, TAG_VALUE, TAG_WINDOW, format_window, point_name

if TYPE_CHECKING:
    from datetime import datetime

    from awsdr.aws.context import AwsContext

_STATES = {"pending": CREATING, "completed": AVAILABLE, "error": FAILED, "recoverable": CREATING}


def snapshot_point(snap: dict, region: str) -> RecoveryPoint | None:
    """A recovery point from a DescribeSnapshots item; None if it is not ours."""
    tags = tag_dict(snap.get("Tags"))
    return point_from_tags(
        "ebs",
        snap["SnapshotId"],
        snap["SnapshotId"],
        region,
        tags,
        _STATES.get(snap.get("State", ""), CREATING),
        created_at=snap.get("StartTime"),
        details={
            "size_gib": snap.get("VolumeSize"),
            "encrypted": bool(snap.get("Encrypted")),
            "kms_key_id": snap.get("KmsKeyId"),
            "source_volume": snap.get("VolumeId"),
        },
    )


class EbsKind(Kind):
    name = "ebs"
    tagging_type = "ec2:volume"

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
        ec2 = ctx.client("ec2", region)
        found: dict[str, RecoveryPoint] = {}
        pages = ec2.get_paginator("describe_snapshots").paginate(
            OwnerIds=["self"],
            Filters=[
                {"Name": f"tag:{TAG_PLAN}", "Values": [plan]},
                {"Name": f"tag:{TAG_WINDOW}", "Values": [format_window(window)]},
                {"Name": "tag:awsdr:kind", "Values": [self.name]},
            ],
        )
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
        ec2 = ctx.client("ec2", resource.region)
        name = point_name(TAG_VALUE, plan, resource.id, window)
        try:
            snap = ec2.create_snapshot(
                VolumeId=resource.id,
                Description=f"awsdr {plan} {resource.id} window {format_window(window)}",
                TagSpecifications=[
                    {"ResourceType": "snapshot", "Tags": tag_list({"Name": name, **tags})},
                ],
            )
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        snap["Tags"] = tag_list({"Name": name, **tags})
        point = snapshot_point(snap, resource.region)
        assert point is not None
        return point

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        ec2 = ctx.client("ec2", region)
        seen: dict[str, dict] = {}
        for batch in self.batches([p.point_id for p in points], self.describe_batch):
            for page in ec2.get_paginator("describe_snapshots").paginate(
                OwnerIds=["self"], Filters=[{"Name": "snapshot-id", "Values": batch}]
            ):
                for snap in page["Snapshots"]:
                    seen[snap["SnapshotId"]] = snap
        for p in points:
            snap = seen.get(p.point_id)
            if snap is None:
                p.status = MISSING
                continue
            p.status = _STATES.get(snap.get("State", ""), CREATING)
            if p.status == FAILED:
                p.error = snap.get("StateMessage") or "snapshot entered state error"
            p.details.update({"size_gib": snap.get("VolumeSize"), "encrypted": bool(snap.get("Encrypted"))})
        return points
