"""EC2 (AMI) kind: list, copy, share, delete, restore, validate, cleanup against the moto server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber
from conftest import DR, PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds.ami import AmiKind
from awsdr.kinds.base import ABSENT, AVAILABLE, DELETED, FAILED, MISSING, REFUSED, CaptureError, RecoveryPoint
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
MOTO_AMI = "ami-12c6146b"
VAULT = "222233334444"


def _tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def _tagdict(items):
    return {t["Key"]: t["Value"] for t in items or []}


def _point(ctx, plan="gold"):
    """An instance in the primary region and its captured AMI point."""
    kind = get_kind("ec2")
    ec2 = ctx.client("ec2", PRIMARY)
    iid = ec2.run_instances(
        ImageId=MOTO_AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags({"dr-plan": plan})}],
    )["Instances"][0]["InstanceId"]
    [res] = kind.describe(ctx, PRIMARY, [f"arn:aws:ec2:{PRIMARY}:123456789012:instance/{iid}"])
    tags = point_tags(plan=plan, window=W, source=iid, captured_at=CAP, kind="ec2")
    point = kind.capture(ctx, res, plan, W, tags)
    [point] = kind.refresh(ctx, PRIMARY, [point])
    return point, res


def _copy(ctx, point, key_id="alias/awsdr"):
    return get_kind("ec2").copy(
        ctx, point, dest_region=DR, kms_key_id=key_id, tags={**point.tags, TAG_COPY_OF: point.point_id}
    )


def _images(ctx, region):
    return ctx.client("ec2", region).describe_images(Owners=["self"])["Images"]


def test_copy_asks_for_encryption_with_the_dr_key(ctx):
    """moto 5.2.5 ignores Encrypted/KmsKeyId on CopyImage: check the request AWS would get."""
    point, _ = _point(ctx)
    assert point.details["encrypted"] is False  # moto images are plaintext
    sent = []
    ctx.create_client("ec2", DR).meta.events.register(
        "provide-client-params.ec2.CopyImage", lambda params, **_: sent.append(dict(params))
    )
    copy = _copy(ctx, point)
    [params] = sent
    assert params["Encrypted"] is True
    assert params["KmsKeyId"] == "alias/awsdr"
    assert params["SourceImageId"] == point.point_id
    assert params["SourceRegion"] == PRIMARY
    assert params["CopyImageTags"] is False
    assert params["Name"] == point.details["name"]
    assert {s["ResourceType"] for s in params["TagSpecifications"]} == {"image", "snapshot"}
    assert copy.details["encrypted"] is True
    assert copy.details["kms_key_id"] == "alias/awsdr"


def test_copy_tags_image_and_snapshots_and_is_idempotent(ctx):
    point, res = _point(ctx)
    copy = _copy(ctx, point)
    assert copy.region == DR
    assert copy.source_id == res.id
    [image] = _images(ctx, DR)
    assert image["ImageId"] == copy.point_id
    assert image["Name"] == point.details["name"]
    tags = _tagdict(image["Tags"])
    assert tags == {**point.tags, TAG_COPY_OF: point.point_id}
    snap_ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]
    snaps = ctx.client("ec2", DR).describe_snapshots(SnapshotIds=snap_ids)["Snapshots"]
    assert snaps
    assert all(_tagdict(s["Tags"]) == tags for s in snaps)
    again = _copy(ctx, point)
    assert again.point_id == copy.point_id
    assert len(_images(ctx, DR)) == 1


def test_copy_adopts_an_untagged_copy_and_refuses_a_foreign_name(ctx):
    point, _ = _point(ctx)
    ec2 = ctx.client("ec2", DR)
    # A copy whose tagging was interrupted: same name, our description, no tags.
    orphan = ec2.copy_image(
        SourceImageId=point.point_id,
        SourceRegion=PRIMARY,
        Name=point.details["name"],
        Description=f"awsdr copy of {point.point_id} ({PRIMARY})",
    )["ImageId"]
    copy = _copy(ctx, point)
    assert copy.point_id == orphan
    assert _tagdict(_images(ctx, DR)[0]["Tags"])[TAG_COPY_OF] == point.point_id

    other, _ = _point(ctx, plan="silver")
    ec2.copy_image(SourceImageId=MOTO_AMI, SourceRegion=DR, Name=other.details["name"])
    with pytest.raises(CaptureError, match="is taken by"):
        _copy(ctx, other)


def test_list_points_sees_points_and_copies_not_look_alikes(ctx):
    kind = get_kind("ec2")
    point, res = _point(ctx)
    silver, _ = _point(ctx, plan="silver")
    copy = _copy(ctx, point)
    ec2 = ctx.client("ec2", PRIMARY)
    ec2.create_image(
        InstanceId=res.id,
        Name="look-alike",
        TagSpecifications=[{"ResourceType": "image", "Tags": _tags({**point.tags, "awsdr:managed": "no"})}],
    )
    listed = kind.list_points(ctx, PRIMARY)
    assert {p.point_id for p in listed} == {point.point_id, silver.point_id}
    assert [p.point_id for p in kind.list_points(ctx, PRIMARY, "gold")] == [point.point_id]
    [gold] = [p for p in listed if p.point_id == point.point_id]
    assert gold.status == AVAILABLE
    assert gold.tags == point.tags
    assert gold.details["size_bytes"] == gold.details["size_gib"] * 1024**3 > 0
    [dr] = kind.list_points(ctx, DR)
    assert dr.point_id == copy.point_id
    assert dr.tags[TAG_COPY_OF] == point.point_id


def test_delete_refuses_unmanaged_and_legal_hold_and_deletes_managed_with_tagged_snapshots(ctx):
    kind = get_kind("ec2")
    managed, _ = _point(ctx)
    held, _ = _point(ctx)
    other, _ = _point(ctx)
    untagged_snap, _ = _point(ctx)
    ec2 = ctx.client("ec2", PRIMARY)
    ec2.create_tags(Resources=[held.point_id], Tags=_tags({TAG_LEGAL_HOLD: "case-42"}))
    ec2.create_tags(Resources=[other.point_id], Tags=_tags({"awsdr:managed": "false"}))
    # An image of ours whose snapshot lost the tag: the image goes, the snapshot stays.
    [keep] = untagged_snap.details["snapshot_ids"]
    ec2.delete_tags(Resources=[keep], Tags=[{"Key": "awsdr:managed"}])

    out = kind.delete(ctx, PRIMARY, [managed, held, other, untagged_snap])
    assert out == {
        managed.point_id: DELETED,
        held.point_id: REFUSED,
        other.point_id: REFUSED,
        untagged_snap.point_id: DELETED,
    }
    images = {i["ImageId"] for i in _images(ctx, PRIMARY)}
    assert images == {held.point_id, other.point_id}
    snaps = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert not set(managed.details["snapshot_ids"]) & snaps
    assert keep in snaps
    assert set(held.details["snapshot_ids"] + other.details["snapshot_ids"]) <= snaps
    assert kind.delete(ctx, PRIMARY, [managed]) == {managed.point_id: ABSENT}


def test_delete_of_an_image_already_gone_finishes_its_snapshots(ctx):
    kind = get_kind("ec2")
    point, _ = _point(ctx)
    ec2 = ctx.client("ec2", PRIMARY)
    ec2.deregister_image(ImageId=point.point_id)  # an earlier run stopped after this step
    assert kind.delete(ctx, PRIMARY, [point]) == {point.point_id: ABSENT}
    snaps = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert not set(point.details["snapshot_ids"]) & snaps


def test_share_grants_launch_and_create_volume_permission(ctx):
    kind = get_kind("ec2")
    point, _ = _point(ctx)
    copy = _copy(ctx, point)
    kind.share(ctx, copy, VAULT)
    ec2 = ctx.client("ec2", DR)
    perms = ec2.describe_image_attribute(ImageId=copy.point_id, Attribute="launchPermission")
    assert {"UserId": VAULT} in perms["LaunchPermissions"]
    [sid] = copy.details["snapshot_ids"]
    snap_perms = ec2.describe_snapshot_attribute(SnapshotId=sid, Attribute="createVolumePermission")
    assert {"UserId": VAULT} in snap_perms["CreateVolumePermissions"]


def test_share_refuses_an_image_under_the_aws_managed_key():
    """moto's images are never encrypted: stubbed client."""
    import boto3

    client = boto3.client("ec2", region_name=PRIMARY)
    stub = Stubber(client)
    image = {
        "ImageId": "ami-0aaaaaaaaaaaaaaaa",
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0aaaaaaaaaaaaaaaa"}}],
    }
    stub.add_response("describe_images", {"Images": [image]})
    snap = {"SnapshotId": "snap-0aaaaaaaaaaaaaaaa", "Encrypted": True, "KmsKeyId": "alias/aws/ebs"}
    stub.add_response("describe_snapshots", {"Snapshots": [snap]})

    class _Ctx:
        def client(self, service, region):
            return client

    point = RecoveryPoint("ec2", image["ImageId"], "arn", "i-1", PRIMARY, "gold", W, AVAILABLE)
    with stub, pytest.raises(CaptureError, match="AWS managed key cannot be shared"):
        AmiKind().share(_Ctx(), point, VAULT)  # type: ignore[arg-type]
    stub.assert_no_pending_responses()  # nothing was modified


def _restore(ctx, copy, name="awsdr-verify-r1", run="r1"):
    return get_kind("ec2").restore(ctx, copy, name=name, tags={"awsdr:verify-run": run})


def test_restore_status_and_validate(ctx):
    kind = get_kind("ec2")
    point, res = _point(ctx)
    copy = _copy(ctx, point)
    restored = _restore(ctx, copy)
    assert restored.resource_id.startswith("i-")
    assert restored.region == DR
    assert restored.details["instance_type"] == "t3.micro"
    assert _restore(ctx, copy).resource_id == restored.resource_id
    ec2 = ctx.client("ec2", DR)
    [inst] = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert _tagdict(inst["Tags"]) == {"awsdr:verify-run": "r1", "Name": "awsdr-verify-r1"}
    assert inst["ImageId"] == copy.point_id
    [status] = kind.restore_status(ctx, DR, [restored])
    assert status.status == AVAILABLE
    [dr_copy] = kind.list_points(ctx, DR)
    assert kind.validate(ctx, restored, {"source_meta": res.meta, "details": dr_copy.details}) == []
    problems = kind.validate(ctx, restored, {"source_meta": res.meta, "details": {"volume_count": 3}})
    assert problems == ["1 EBS volume(s) attached != captured 3"]
    ec2.stop_instances(InstanceIds=[restored.resource_id])
    [stopped] = kind.restore_status(ctx, DR, [restored])
    assert stopped.status == FAILED
    assert any("not running" in p for p in kind.validate(ctx, restored, {"details": dr_copy.details}))


def test_restore_instance_type_is_settable(ctx):
    point, _ = _point(ctx)
    kind = AmiKind(restore_instance_type="m5.large")
    restored = kind.restore(ctx, _copy(ctx, point), name="big", tags={"awsdr:drill": "d1"})
    assert restored.details["instance_type"] == "m5.large"


def test_cleanup_terminates_only_tagged_restores(ctx):
    kind = get_kind("ec2")
    point, _ = _point(ctx)
    copy = _copy(ctx, point)
    r1 = _restore(ctx, copy, "i-r1", "r1")
    r2 = _restore(ctx, copy, "i-r2", "r2")
    ec2 = ctx.client("ec2", DR)
    lookalike = ec2.run_instances(
        ImageId=copy.point_id,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags({"Name": "i-r1"})}],
    )["Instances"][0]["InstanceId"]

    def state(iid):
        [inst] = [
            i for r in ec2.describe_instances(InstanceIds=[iid])["Reservations"] for i in r["Instances"]
        ]
        return inst["State"]["Name"]

    assert kind.cleanup(ctx, DR, "awsdr:verify-run", "r1") == [r1.resource_id]
    assert state(r1.resource_id) == "terminated"
    assert state(r2.resource_id) == "running"
    assert kind.cleanup(ctx, DR, "awsdr:verify-run", "r1") == []
    assert kind.cleanup(ctx, DR, "awsdr:verify-run") == [r2.resource_id]
    assert state(lookalike) == "running"
    statuses = kind.restore_status(ctx, DR, [r1, r2])
    assert [s.status for s in statuses] == [FAILED, FAILED]
    assert (
        MISSING
        == kind.restore_status(
            ctx, DR, [r1.__class__(**{**r1.__dict__, "resource_id": "i-0123456789abcdef0"})]
        )[0].status
    )
