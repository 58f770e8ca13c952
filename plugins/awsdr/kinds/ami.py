"""EC2 instances: recovery point = AMI (with one EBS snapshot per attached volume)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

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
from awsdr.kinds.ebs import (
    Ec2TagsMixin,
    client_token,
    deletable,
    describe_snapshots,
    error_outcome,
    run_bounded,
    share_snapshots,
)
from awsdr.windows import (
    AMI_NAME,
    TAG_COPY_OF,
    TAG_KIND,
    TAG_MANAGED,
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
    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)
GIB = 1024**3

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
#: Instance states of a restore, normalised (``stopped`` counts as failed: a restore must run).
_INSTANCE_STATES = {
    "pending": CREATING,
    "running": AVAILABLE,
    "stopping": FAILED,
    "stopped": FAILED,
    "shutting-down": FAILED,
    "terminated": FAILED,
}
#: Instance states that still hold (or will hold) resources.
_NOT_GONE = ("pending", "running", "stopping", "stopped", "shutting-down")


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
    size_gib = sum(int(e.get("VolumeSize") or 0) for e in ebs)
    # The key each EBS volume of the image is under (AWS gives it per mapping; moto 5.2.5 gives
    # none and leaves copies unencrypted). One key: that key. Several: all of them, comma-joined
    # (no single expected key matches, so the encryption control names them).
    keys = sorted({str(e["KmsKeyId"]) for e in ebs if e.get("KmsKeyId")})
    return {
        "name": image.get("Name"),
        "snapshot_ids": snapshot_ids,
        "snapshot_count": len(snapshot_ids),
        "size_gib": size_gib,
        "size_bytes": size_gib * GIB if size_gib else None,
        "encrypted": bool(ebs) and all(bool(e.get("Encrypted")) for e in ebs),
        "kms_key_id": ",".join(keys) if keys else None,
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


class AmiKind(Ec2TagsMixin, Kind):
    """EC2 instances protected by AMIs.

    :param reboot: the policy's ``ec2.reboot``: reboot the instance for a file-system consistent
        image (``NoReboot=False``); the default keeps it running (crash consistent).
    :param restore_instance_type: instance type of restores (verification, drills).
    :param restore_subnet_id: subnet of restores; None launches into the region's default VPC.
    """

    name = "ec2"
    tagging_type = "ec2:instance"

    def __init__(
        self,
        reboot: bool = False,
        *,
        restore_instance_type: str = "t3.micro",
        restore_subnet_id: str | None = None,
    ) -> None:
        self.reboot = reboot
        #: instance type and (optional) subnet of restores; no subnet: the default VPC's
        self.restore_instance_type = restore_instance_type
        self.restore_subnet_id = restore_subnet_id

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
            image_id = self._create_image(ctx, resource, name, plan, window, tags)
        except BotoCoreError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
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
        self,
        ctx: AwsContext,
        resource: Resource,
        name: str,
        plan: str,
        window: datetime,
        tags: dict[str, str],
    ) -> str:
        """CreateImage with the tag set on the image and on its snapshots; returns the image id.

        Sent once per attempt (:func:`create_or_find`): a doubtful answer is followed by a look-up
        of the unique name, never by a blind second CreateImage (moto does not enforce the name).
        """
        ec2, once = ctx.client("ec2", resource.region), ctx.create_client("ec2", resource.region)
        tlist = tag_list(tags)
        args: dict[str, Any] = {
            "InstanceId": resource.id,
            "Name": name,
            "Description": f"awsdr {plan} {resource.id} window {format_window(window)}",
            "NoReboot": not self.reboot,
        }

        def find() -> str | None:
            image = self._images_by_name(ec2, [name]).get(name)
            return str(image["ImageId"]) if image is not None else None

        def create(specs: list[dict[str, Any]]) -> str:
            return create_or_find(
                lambda: str(once.create_image(**args, TagSpecifications=specs)["ImageId"]),
                find,
                what=f"AMI {name} of {resource.id}",
            )

        try:
            return create(
                [{"ResourceType": "image", "Tags": tlist}, {"ResourceType": "snapshot", "Tags": tlist}]
            )
        except ResponseParserError:
            # moto 5.2.5 raises NotImplementedError for snapshot tag specifications and answers
            # with an HTML 500 page. AWS takes both; here tag the snapshots after the fact.
            image_id = create([{"ResourceType": "image", "Tags": tlist}])
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

    # --- listing -------------------------------------------------------------------------------

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        ec2 = ctx.client("ec2", region)
        filters = [{"Name": f"tag:{TAG_MANAGED}", "Values": ["true"]}]
        if plan is not None:
            filters.append({"Name": f"tag:{TAG_PLAN}", "Values": [plan]})
        out: list[RecoveryPoint] = []
        for page in ec2.get_paginator("describe_images").paginate(Owners=["self"], Filters=filters):
            for image in page["Images"]:
                point = image_point(image, region)
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
    ) -> RecoveryPoint:
        ec2 = (dest_ctx or ctx).client("ec2", dest_region)
        pages = ec2.get_paginator("describe_images").paginate(
            Owners=["self"], Filters=[{"Name": f"tag:{TAG_COPY_OF}", "Values": [point.point_id]}]
        )
        for page in pages:
            for image in page["Images"]:
                found = image_point(image, dest_region)
                if found is not None and found.status != FAILED:
                    return found
        name = self._copy_name(ec2, point, tags)
        if isinstance(name, RecoveryPoint):
            return name
        description = f"awsdr copy of {point.point_id} ({point.region}) window {format_window(point.window)}"
        tlist = tag_list(tags)
        once = (dest_ctx or ctx).create_client("ec2", dest_region)

        def find() -> str | None:
            # The token dedupes on AWS; moto ignores it (and the tags): the name and description tell.
            image = self._images_by_name(ec2, [name]).get(name)
            if image is None:
                return None
            ours = tag_dict(image.get("Tags")).get(TAG_COPY_OF) == point.point_id or point.point_id in (
                image.get("Description") or ""
            )
            return str(image["ImageId"]) if ours else None

        try:
            image_id = create_or_find(
                lambda: str(
                    once.copy_image(
                        SourceImageId=point.point_id,
                        SourceRegion=point.region,
                        Name=name,
                        Description=description,
                        Encrypted=True,
                        KmsKeyId=kms_key_id,
                        CopyImageTags=False,
                        TagSpecifications=[
                            {"ResourceType": "image", "Tags": tlist},
                            {"ResourceType": "snapshot", "Tags": tlist},
                        ],
                        # A retry racing this call gets the same image instead of a second one.
                        ClientToken=client_token("ec2-copy", point.point_id, dest_region, name),
                    )["ImageId"]
                ),
                find,
                what=f"copy of {point.point_id} to {dest_region}",
            )
        except (ClientError, BotoCoreError) as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        image = self._ensure_tags(ec2, image_id, tags)
        copied = image_point(image, dest_region) if image is not None else None
        if copied is None:
            # Not yet visible to DescribeImages (eventual consistency): what we know of it.
            copied = point_from_tags(
                self.name,
                image_id,
                f"arn:aws:ec2:{dest_region}::image/{image_id}",
                dest_region,
                dict(tags),
                CREATING,
                details={"name": name},
            )
        if copied is None:
            raise CaptureError(f"copy of {point.point_id}: tags lack the awsdr point tags: {sorted(tags)}")
        copied.details.update(
            {"encrypted": True, "kms_key_id": kms_key_id, "volume_count": point.details.get("volume_count")}
        )
        return copied

    def _copy_name(self, ec2: Any, point: RecoveryPoint, tags: dict[str, str]) -> str | RecoveryPoint:
        """The first free copy name; an untagged copy of ``point`` (tagging interrupted) is adopted."""
        base = point.details.get("name") or point_name(AMI_NAME, point.plan, point.source_id, point.window)
        names = [base] + [make_name(AMI_NAME, base, f"c{n}") for n in range(2, MAX_ATTEMPTS + 1)]
        # AWS refuses a duplicate name (moto 5.2.5 does not): one call checks every candidate.
        taken = self._images_by_name(ec2, names)
        for candidate in names:
            image = taken.get(candidate)
            if image is None:
                return candidate
            itags = tag_dict(image.get("Tags"))
            if itags.get(TAG_COPY_OF) == point.point_id:
                continue  # a failed copy of this point keeps its name
            if TAG_COPY_OF not in itags and point.point_id in (image.get("Description") or ""):
                fixed = self._ensure_tags(ec2, image["ImageId"], tags)
                adopted = image_point(fixed, ec2.meta.region_name) if fixed is not None else None
                if adopted is not None and adopted.status != FAILED:
                    return adopted
                continue
            raise CaptureError(
                f"copy of {point.point_id}: AMI name {candidate!r} is taken by {image['ImageId']}, "
                "which is not a copy of this point"
            )
        raise CaptureError(f"copy of {point.point_id}: all {len(names)} copy attempts failed")

    def _ensure_tags(self, ec2: Any, image_id: str, tags: dict[str, str]) -> dict[str, Any] | None:
        """The image, with ``tags`` on it and on its snapshots (added now where missing).

        AWS applies CopyImage's TagSpecifications; moto 5.2.5 ignores them (and Encrypted/KmsKeyId).
        """
        images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "image-id", "Values": [image_id]}])[
            "Images"
        ]
        if not images:
            return None
        image = images[0]
        current = tag_dict(image.get("Tags"))
        if any(current.get(k) != v for k, v in tags.items()):
            snapshot_ids = image_details(image)["snapshot_ids"]
            ec2.create_tags(Resources=[image_id, *snapshot_ids], Tags=tag_list(tags))
            image["Tags"] = tag_list({**current, **tags})
        return dict(image)

    def share(self, ctx: AwsContext, point: RecoveryPoint, account_id: str) -> None:
        """Launch permission on the image and createVolumePermission on its snapshots.

        Refused (CaptureError) when a snapshot is encrypted with the AWS managed key: share the
        DR-region copy, which is encrypted with the customer managed DR key. The account also
        needs use of that key through the key policy (not managed here).
        """
        ec2 = ctx.client("ec2", point.region)
        images = ec2.describe_images(
            Owners=["self"], Filters=[{"Name": "image-id", "Values": [point.point_id]}]
        )["Images"]
        if not images:
            raise CaptureError(f"InvalidAMIID.NotFound: image {point.point_id} does not exist")
        share_snapshots(ctx, point.region, image_details(images[0])["snapshot_ids"], account_id)
        try:
            ec2.modify_image_attribute(
                ImageId=point.point_id, LaunchPermission={"Add": [{"UserId": account_id}]}
            )
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err

    # --- delete --------------------------------------------------------------------------------

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Deregister images, then delete their snapshots that carry ``awsdr:managed=true`` themselves.

        A snapshot without the tag (or under legal hold) is never deleted. An image already gone
        still gets its tagged snapshots (from the caller's ``details["snapshot_ids"]``) deleted, so a
        delete interrupted between the two steps finishes on the next run.
        """
        ec2 = ctx.client("ec2", region)
        ids = list(dict.fromkeys(p.point_id for p in points))
        believed = {p.point_id: list(p.details.get("snapshot_ids") or []) for p in points}
        fresh: dict[str, dict[str, Any]] = {}
        for batch in self.batches(ids, self.describe_batch):
            for page in ec2.get_paginator("describe_images").paginate(
                Owners=["self"], Filters=[{"Name": "image-id", "Values": batch}]
            ):
                for image in page["Images"]:
                    fresh[image["ImageId"]] = image
        outcomes: dict[str, str] = {}
        snapshots: dict[str, list[str]] = {}
        registered: set[str] = set()
        for iid in ids:
            image = fresh.get(iid)
            if image is None or image.get("State") == "deregistered":
                outcomes[iid] = ABSENT
                snapshots[iid] = believed.get(iid, [])
            elif not deletable(tag_dict(image.get("Tags"))):
                outcomes[iid] = REFUSED
            else:
                registered.add(iid)
                snapshots[iid] = list(
                    dict.fromkeys(image_details(image)["snapshot_ids"] + believed.get(iid, []))
                )
        # One batched read of every candidate snapshot's own tags.
        snap_tags = {
            sid: tag_dict(snap.get("Tags"))
            for sid, snap in describe_snapshots(
                ec2, [s for ss in snapshots.values() for s in ss], self.describe_batch
            ).items()
        }

        def delete_one(iid: str) -> str:
            outcome = ABSENT
            if iid in registered:
                try:
                    ec2.deregister_image(ImageId=iid)
                    outcome = DELETED
                except ClientError as err:
                    if error_code(err) not in ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"):
                        return error_outcome(err)
            failures: list[str] = []
            for sid in snapshots.get(iid, []):
                tags = snap_tags.get(sid)
                if tags is None or not deletable(tags):
                    continue  # gone, not ours, or held: never deleted
                try:
                    ec2.delete_snapshot(SnapshotId=sid)
                except ClientError as err:
                    if error_code(err) != "InvalidSnapshot.NotFound":
                        failures.append(f"{sid}: {error_outcome(err)[len('error: ') :]}")
            if failures and outcome == DELETED:
                return (
                    f"error: SnapshotDeleteFailed image deregistered, snapshot(s) left: {'; '.join(failures)}"
                )
            if failures:
                log.warning("image %s is gone; its snapshots could not be deleted: %s", iid, failures)
            return outcome

        outcomes.update(run_bounded(delete_one, [iid for iid in ids if iid in snapshots]))
        return outcomes

    # --- restore / validate / cleanup ----------------------------------------------------------

    def _restore_instances(self, ec2: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
            for reservation in page["Reservations"]:
                out.extend(reservation["Instances"])
        return out

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        ec2 = ctx.client("ec2", point.region)
        # Ours only: the name, the tags and the image must all match (a look-alike is ignored).
        found = self._restore_instances(
            ec2,
            [
                {"Name": "tag:Name", "Values": [name]},
                {"Name": "image-id", "Values": [point.point_id]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
                *({"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items() if k != "Name"),
            ],
        )
        if found:
            return self._restored(found[0], point.point_id, point.region, found[0].get("LaunchTime"))
        tlist = tag_list({**tags, "Name": name})
        args: dict[str, Any] = {
            "ImageId": point.point_id,
            "InstanceType": self.restore_instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            # Idempotent on AWS: the same token returns the same instance (moto ignores tokens;
            # the Name lookup above covers it there).
            "ClientToken": client_token("ec2-restore", point.region, point.point_id, name),
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tlist},
                {"ResourceType": "volume", "Tags": tlist},
            ],
        }
        if self.restore_subnet_id:
            args["SubnetId"] = self.restore_subnet_id
        started = datetime.now(UTC).replace(microsecond=0)
        try:
            inst = ec2.run_instances(**args)["Instances"][0]
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        return self._restored(inst, point.point_id, point.region, started)

    def _restored(self, inst: dict[str, Any], point_id: str, region: str, started: Any) -> Restored:
        state = (inst.get("State") or {}).get("Name", "pending")
        return Restored(
            kind=self.name,
            resource_id=inst["InstanceId"],
            region=region,
            point_id=point_id,
            status=_INSTANCE_STATES.get(state, CREATING),
            started_at=started if isinstance(started, datetime) else datetime.now(UTC).replace(microsecond=0),
            details=self._instance_details(inst),
            error=f"instance state {state}" if _INSTANCE_STATES.get(state) == FAILED else None,
        )

    @staticmethod
    def _instance_details(inst: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": tag_dict(inst.get("Tags")).get("Name"),
            "instance_type": inst.get("InstanceType"),
            "image_id": inst.get("ImageId"),
            "az": (inst.get("Placement") or {}).get("AvailabilityZone"),
            "state": (inst.get("State") or {}).get("Name"),
            "volume_count": len([m for m in inst.get("BlockDeviceMappings", []) if "Ebs" in m]),
        }

    def _instances_by_id(self, ec2: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for batch in self.batches(list(dict.fromkeys(ids)), self.describe_batch):
            for inst in self._restore_instances(ec2, [{"Name": "instance-id", "Values": batch}]):
                seen[inst["InstanceId"]] = inst
        return seen

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        seen = self._instances_by_id(ctx.client("ec2", region), [r.resource_id for r in items])
        for item in items:
            inst = seen.get(item.resource_id)
            if inst is None:
                item.status = MISSING
                item.error = f"instance {item.resource_id} does not exist"
                continue
            state = (inst.get("State") or {}).get("Name", "pending")
            item.status = _INSTANCE_STATES.get(state, CREATING)
            item.error = f"instance state {state}" if item.status == FAILED else None
            item.details.update(self._instance_details(inst))
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        inst = self._instances_by_id(ctx.client("ec2", restored.region), [restored.resource_id]).get(
            restored.resource_id
        )
        if inst is None:
            return [f"instance {restored.resource_id} does not exist"]
        problems: list[str] = []
        state = (inst.get("State") or {}).get("Name")
        if state != "running":
            problems.append(f"instance {restored.resource_id} is {state}, not running")
        details = expected.get("details") or {}
        want = int(details.get("volume_count") or details.get("snapshot_count") or 1)
        have = len([m for m in inst.get("BlockDeviceMappings", []) if "Ebs" in m])
        if have < want:
            problems.append(f"{have} EBS volume(s) attached != captured {want}")
        if inst.get("ImageId") != restored.point_id:
            problems.append(
                f"instance runs {inst.get('ImageId')}, not the restored image {restored.point_id}"
            )
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
        instances = [
            i
            for i in self._restore_instances(
                ec2, [tag_filter, {"Name": "instance-state-name", "Values": list(_NOT_GONE)}]
            )
            if tag_selected(tag_dict(i.get("Tags")), tag_key, tag_value, keep)
        ]
        going = [i["InstanceId"] for i in instances if (i.get("State") or {}).get("Name") == "shutting-down"]
        todo = [i["InstanceId"] for i in instances if i["InstanceId"] not in going]
        done: list[str] = []
        for batch in self.batches(todo, self.describe_batch):
            try:
                ec2.terminate_instances(InstanceIds=batch)
                done.extend(batch)
            except ClientError as err:
                log.warning("cleanup: cannot terminate %s: %s", batch, error_outcome(err))
        return going + done
