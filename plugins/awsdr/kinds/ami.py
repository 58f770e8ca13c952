"""EC2 instances: recovery point = AMI (with one EBS snapshot per attached volume)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

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
    AMI_NAME,
    TAG_KIND,
    TAG_PLAN,
    TAG_WINDOW,
    format_window,
    is_product_made,
    make_name,
    parse_window,
    point_name,
    window_stamp,
)

if TYPE_CHECKING:
    from datetime import datetime

    from awsdr.aws.context import AwsContext

#: Instance states worth protecting (CreateImage works on running and stopped instances).
LIVE_STATES = ("pending", "running", "stopping", "stopped")
#: Attempts per window: a new name is used only when the image under the previous one failed.
MAX_ATTEMPTS = 3

_STATES = {
    "pending": CREATING,
    "transient": CREATING,
    "available": AVAILABLE,
    "failed": FAILED,
    "invalid": FAILED,
    "error": FAILED,
    "deregistered": FAILED,
    "disabled": FAILED,
}


def attempt_names(plan: str, instance_id: str, window: datetime) -> list[str]:
    """The AMI names one window may use, first attempt first (AMI names are unique per region)."""
    first = point_name(AMI_NAME, plan, instance_id, window)
    stamp = window_stamp(window)
    return [first] + [
        make_name(AMI_NAME, "awsdr", plan, instance_id, f"{stamp}-r{n}") for n in range(2, MAX_ATTEMPTS + 1)
    ]


def image_details(image: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe facts of an image from its EBS block device mappings."""
    ebs = [m["Ebs"] for m in image.get("BlockDeviceMappings", []) if "Ebs" in m]
    snapshot_ids = [e["SnapshotId"] for e in ebs if e.get("SnapshotId")]
    return {
        "name": image.get("Name"),
        "snapshot_ids": snapshot_ids,
        "snapshot_count": len(snapshot_ids),
        "size_gib": sum(int(e.get("VolumeSize") or 0) for e in ebs),
        "encrypted": bool(ebs) and all(bool(e.get("Encrypted")) for e in ebs),
        "root_device": image.get("RootDeviceName"),
        "source_instance": image.get("SourceInstanceId"),
    }


def _created_at(image: dict[str, Any]) -> datetime | None:
    raw = image.get("CreationDate")
    if not raw:
        return None
    try:
        return parse_window(str(raw))
    except ValueError:
        return None


def image_point(image: dict[str, Any], region: str) -> RecoveryPoint | None:
    """A recovery point from a DescribeImages item; None if it is not ours."""
    image_id = image["ImageId"]
    point = point_from_tags(
        "ec2",
        image_id,
        f"arn:aws:ec2:{region}::image/{image_id}",
        region,
        tag_dict(image.get("Tags")),
        _STATES.get(image.get("State", ""), CREATING),
        created_at=_created_at(image),
        details=image_details(image),
    )
    if point is not None and point.status == FAILED:
        point.error = (image.get("StateReason") or {}).get("Message") or f"AMI state {image.get('State')}"
    return point


def _instance_resource(inst: dict[str, Any], owner: str, region: str) -> Resource:
    volume_ids = [m["Ebs"]["VolumeId"] for m in inst.get("BlockDeviceMappings", []) if "Ebs" in m]
    return Resource(
        kind="ec2",
        id=inst["InstanceId"],
        arn=f"arn:aws:ec2:{region}:{owner}:instance/{inst['InstanceId']}",
        region=region,
        tags=tag_dict(inst.get("Tags")),
        meta={
            "instance_type": inst.get("InstanceType"),
            "az": (inst.get("Placement") or {}).get("AvailabilityZone"),
            "volume_ids": volume_ids,
            "volume_count": len(volume_ids),
            "root_device": inst.get("RootDeviceName"),
            "ami_id": inst.get("ImageId"),
            "state": (inst.get("State") or {}).get("Name"),
        },
    )


class AmiKind(Kind):
    """EC2 instances protected by AMIs.

    :param reboot: the policy's ``ec2.reboot``: reboot the instance for a file-system consistent
        image (``NoReboot=False``); the default keeps it running (crash consistent).
    """

    name = "ec2"
    tagging_type = "ec2:instance"

    def __init__(self, reboot: bool = False) -> None:
        self.reboot = reboot

    # --- discovery ---------------------------------------------------------------------------

    def _instances(self, ctx: AwsContext, region: str, filters: list[dict[str, Any]]) -> list[Resource]:
        ec2 = ctx.client("ec2", region)
        out: list[Resource] = []
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[*filters, {"Name": "instance-state-name", "Values": list(LIVE_STATES)}]
        )
        for page in pages:
            for reservation in page["Reservations"]:
                owner = reservation.get("OwnerId") or ctx.account_id(region)
                for inst in reservation["Instances"]:
                    out.append(_instance_resource(inst, owner, region))
        return out

    def discover(self, ctx: AwsContext, region: str, tags: dict[str, str]) -> list[Resource]:
        """Live instances carrying all ``tags`` (EC2 filters server side), minus product-made ones."""
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
        return [r for r in self._instances(ctx, region, filters) if not is_product_made(r.tags)]

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        ids = [arn.rsplit("/", 1)[-1] for arn in arns]
        out: list[Resource] = []
        for batch in self.batches(ids, self.describe_batch):
            # Filter instead of InstanceIds: a terminated or vanished instance is skipped.
            out.extend(self._instances(ctx, region, [{"Name": "instance-id", "Values": batch}]))
        return out

    # --- capture -----------------------------------------------------------------------------

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        ec2 = ctx.client("ec2", region)
        found: dict[str, RecoveryPoint] = {}
        pages = ec2.get_paginator("describe_images").paginate(
            Owners=["self"],
            Filters=[
                {"Name": f"tag:{TAG_PLAN}", "Values": [plan]},
                {"Name": f"tag:{TAG_WINDOW}", "Values": [format_window(window)]},
                {"Name": f"tag:{TAG_KIND}", "Values": [self.name]},
            ],
        )
        for page in pages:
            for image in page["Images"]:
                point = image_point(image, region)
                if point is None:
                    continue
                prior = found.get(point.source_id)
                # Prefer a healthy image over a failed attempt of the same window.
                if prior is None or (prior.status == FAILED and point.status != FAILED):
                    found[point.source_id] = point
        return found

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        ec2 = ctx.client("ec2", resource.region)
        names = attempt_names(plan, resource.id, window)
        # AWS refuses a second image with the same name (InvalidAMIName.Duplicate, handled below),
        # but moto 5.2.5 does not enforce unique names: look first, so a re-run never makes a
        # second AMI on any endpoint. One call covers every attempt name.
        prior = self._images_by_name(ec2, names)
        name: str | None = None
        for candidate in names:
            image = prior.get(candidate)
            if image is None:
                name = candidate
                break
            point = self._own_point(image, resource)
            if point.status not in (FAILED, MISSING):
                return point
        if name is None:
            raise CaptureError(
                f"{resource.id}: all {len(names)} AMI attempts for {format_window(window)} failed"
            )
        volume_count = self._check_instance(ec2, resource)
        try:
            image_id = self._create_image(ec2, resource, name, plan, window, tags)
        except ClientError as err:
            if error_code(err) == "InvalidAMIName.Duplicate":
                # A concurrent attempt won the name: that image is this window's point.
                image = self._images_by_name(ec2, [name]).get(name)
                if image is not None:
                    return self._own_point(image, resource)
            raise CaptureError(f"{error_code(err)}: {err}") from err
        return RecoveryPoint(
            kind=self.name,
            point_id=image_id,
            arn=f"arn:aws:ec2:{resource.region}::image/{image_id}",
            source_id=resource.id,
            region=resource.region,
            plan=plan,
            window=window,
            status=CREATING,
            tags=dict(tags),
            details={"name": name, "volume_count": volume_count, "reboot": self.reboot},
        )

    def _images_by_name(self, ec2: Any, names: list[str]) -> dict[str, dict[str, Any]]:
        images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": names}])["Images"]
        return {img["Name"]: img for img in images if img.get("State") != "deregistered"}

    def _own_point(self, image: dict[str, Any], resource: Resource) -> RecoveryPoint:
        point = image_point(image, resource.region)
        if point is None or point.source_id != resource.id:
            raise CaptureError(
                f"{resource.id}: AMI name {image.get('Name')!r} is taken by {image['ImageId']}, "
                "which is not this product's point for this instance"
            )
        point.details["volume_count"] = resource.meta.get("volume_count")
        return point

    def _check_instance(self, ec2: Any, resource: Resource) -> int:
        """The instance still exists and is not terminating; returns its EBS volume count.

        AWS refuses CreateImage on a terminated instance; moto 5.2.5 accepts it, so check here.
        """
        try:
            reservations = ec2.describe_instances(InstanceIds=[resource.id])["Reservations"]
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        instances = [i for r in reservations for i in r["Instances"]]
        if not instances:
            raise CaptureError(f"InvalidInstanceID.NotFound: instance {resource.id} does not exist")
        state = (instances[0].get("State") or {}).get("Name", "")
        if state not in LIVE_STATES:
            raise CaptureError(f"IncorrectInstanceState: instance {resource.id} is {state}")
        return len([m for m in instances[0].get("BlockDeviceMappings", []) if "Ebs" in m])

    def _create_image(
        self, ec2: Any, resource: Resource, name: str, plan: str, window: datetime, tags: dict[str, str]
    ) -> str:
        """CreateImage with the tag set on the image and on its snapshots; returns the image id."""
        tlist = tag_list(tags)
        args: dict[str, Any] = {
            "InstanceId": resource.id,
            "Name": name,
            "Description": f"awsdr {plan} {resource.id} window {format_window(window)}",
            "NoReboot": not self.reboot,
        }
        try:
            return str(
                ec2.create_image(
                    **args,
                    TagSpecifications=[
                        {"ResourceType": "image", "Tags": tlist},
                        {"ResourceType": "snapshot", "Tags": tlist},
                    ],
                )["ImageId"]
            )
        except ResponseParserError:
            # moto 5.2.5 raises NotImplementedError for snapshot tag specifications and answers
            # with an HTML 500 page. AWS takes both; here tag the snapshots after the fact.
            made = ec2.create_image(**args, TagSpecifications=[{"ResourceType": "image", "Tags": tlist}])
            image_id = str(made["ImageId"])
        images = ec2.describe_images(Filters=[{"Name": "image-id", "Values": [image_id]}])["Images"]
        snapshot_ids = image_details(images[0])["snapshot_ids"] if images else []
        if snapshot_ids:
            ec2.create_tags(Resources=snapshot_ids, Tags=tlist)
        return image_id

    # --- status ------------------------------------------------------------------------------

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        ec2 = ctx.client("ec2", region)
        seen: dict[str, dict[str, Any]] = {}
        for batch in self.batches([p.point_id for p in points], self.describe_batch):
            # Filter instead of ImageIds: an unknown id is simply absent, not an error.
            for page in ec2.get_paginator("describe_images").paginate(
                Owners=["self"], Filters=[{"Name": "image-id", "Values": batch}]
            ):
                for image in page["Images"]:
                    seen[image["ImageId"]] = image
        for p in points:
            image = seen.get(p.point_id)
            if image is None:
                p.status = MISSING
                continue
            p.status = _STATES.get(image.get("State", ""), CREATING)
            if p.status == FAILED:
                p.error = (image.get("StateReason") or {}).get("Message") or f"AMI state {image.get('State')}"
            if p.created_at is None:
                p.created_at = _created_at(image)
            p.details.update(image_details(image))
        return points
