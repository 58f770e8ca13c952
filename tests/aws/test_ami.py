"""EC2 (AMI) kind against the moto server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber
from conftest import PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds.ami import AmiKind, attempt_names
from awsdr.kinds.base import AVAILABLE, CREATING, MISSING, CaptureError, Resource
from awsdr.windows import AMI_NAME, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
W2 = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
MOTO_AMI = "ami-12c6146b"  # one of moto's built-in images


def _instance(ctx, tags):
    ec2 = ctx.client("ec2", PRIMARY)
    spec = (
        [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
        if tags
        else []
    )
    inst = ec2.run_instances(
        ImageId=MOTO_AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        Placement={"AvailabilityZone": f"{PRIMARY}a"},
        BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 10}}],
        TagSpecifications=spec,
    )
    return inst["Instances"][0]["InstanceId"]


def _own_images(ctx):
    return ctx.client("ec2", PRIMARY).describe_images(Owners=["self"])["Images"]


def _capture(ctx, kind, res, window=W, plan="gold"):
    tags = point_tags(plan=plan, window=window, source=res.id, captured_at=CAP, kind="ec2")
    return kind.capture(ctx, res, plan, window, tags), tags


def test_discover_selects_only_tagged_live_instances(ctx):
    kind = get_kind("ec2")
    gold = _instance(ctx, {"dr-plan": "gold", "app": "orders"})
    _instance(ctx, {"dr-plan": "silver"})
    _instance(ctx, {"app": "orders"})
    _instance(ctx, {"dr-plan": "gold", "awsdr:drill": "d1"})  # a failover drill's instance
    gone = _instance(ctx, {"dr-plan": "gold"})
    ctx.client("ec2", PRIMARY).terminate_instances(InstanceIds=[gone])
    found = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert [r.id for r in found] == [gold]
    meta = found[0].meta
    assert meta["instance_type"] == "t3.micro"
    assert meta["az"] == f"{PRIMARY}a"
    assert meta["ami_id"] == MOTO_AMI
    assert meta["root_device"]
    assert meta["volume_ids"]
    assert meta["volume_count"] == len(meta["volume_ids"])
    assert found[0].arn.endswith(f":instance/{gold}")
    assert [r.id for r in kind.describe(ctx, PRIMARY, [found[0].arn, f"{found[0].arn[:-4]}dead"])] == [gold]


def test_capture_find_refresh_and_tags(ctx):
    kind = get_kind("ec2")
    iid = _instance(ctx, {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point, tags = _capture(ctx, kind, res)
    assert point.point_id.startswith("ami-")
    assert point.status == CREATING
    assert point.source_id == iid
    assert point.window == W
    assert point.tags == tags
    [image] = _own_images(ctx)
    assert image["Name"] == attempt_names("gold", iid, W)[0]
    assert AMI_NAME.is_valid(image["Name"])
    assert {t["Key"]: t["Value"] for t in image["Tags"]} == tags
    snap_ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]
    snaps = ctx.client("ec2", PRIMARY).describe_snapshots(SnapshotIds=snap_ids)["Snapshots"]
    assert snaps
    assert all({t["Key"]: t["Value"] for t in s["Tags"]} == tags for s in snaps)

    existing = kind.find_existing(ctx, PRIMARY, "gold", W)
    assert set(existing) == {iid}
    assert existing[iid].point_id == point.point_id
    assert existing[iid].tags == tags
    assert existing[iid].details["snapshot_ids"] == snap_ids
    assert kind.find_existing(ctx, PRIMARY, "gold", W2) == {}
    assert kind.find_existing(ctx, PRIMARY, "silver", W) == {}

    [fresh] = kind.refresh(ctx, PRIMARY, [point])
    assert fresh.status == AVAILABLE
    assert fresh.details["size_gib"] > 0
    assert fresh.created_at is not None
    ctx.client("ec2", PRIMARY).deregister_image(ImageId=point.point_id)
    [gone] = kind.refresh(ctx, PRIMARY, [point])
    assert gone.status == MISSING


def test_capture_twice_is_idempotent(ctx):
    kind = get_kind("ec2")
    _instance(ctx, {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    first, _ = _capture(ctx, kind, res)
    again, _ = _capture(ctx, kind, res)
    assert again.point_id == first.point_id
    assert len(_own_images(ctx)) == 1
    other, _ = _capture(ctx, kind, res, window=W2)
    assert other.point_id != first.point_id
    assert len(_own_images(ctx)) == 2


def test_reboot_flag_reaches_create_image(ctx):
    kind = AmiKind(reboot=True)
    _instance(ctx, {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point, _ = _capture(ctx, kind, res)
    assert point.details["reboot"] is True
    assert get_kind("ec2").reboot is False


def test_capture_of_terminated_instance_is_a_capture_error(ctx):
    kind = get_kind("ec2")
    iid = _instance(ctx, {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    ctx.client("ec2", PRIMARY).terminate_instances(InstanceIds=[iid])
    with pytest.raises(CaptureError, match="terminated"):
        _capture(ctx, kind, res)
    ghost = Resource(kind="ec2", id="i-0123456789abcdef0", arn="arn", region=PRIMARY)
    with pytest.raises(CaptureError, match="InvalidInstanceID"):
        _capture(ctx, kind, ghost)
    assert _own_images(ctx) == []


def test_duplicate_name_returns_the_existing_image():
    """AWS's InvalidAMIName.Duplicate path (moto does not raise it): stubbed client."""
    import boto3

    iid = "i-0123456789abcdef0"
    res = Resource(kind="ec2", id=iid, arn="arn", region=PRIMARY, meta={"volume_count": 1})
    tags = point_tags(plan="gold", window=W, source=iid, captured_at=CAP, kind="ec2")
    name = attempt_names("gold", iid, W)[0]
    image = {
        "ImageId": "ami-0aaaaaaaaaaaaaaaa",
        "Name": name,
        "State": "pending",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    client = boto3.client("ec2", region_name=PRIMARY)
    stub = Stubber(client)
    stub.add_response("describe_images", {"Images": []})
    running = {"InstanceId": iid, "State": {"Name": "running", "Code": 16}, "BlockDeviceMappings": []}
    stub.add_response("describe_instances", {"Reservations": [{"Instances": [running]}]})
    stub.add_client_error("create_image", "InvalidAMIName.Duplicate", "AMI name is already in use")
    stub.add_response("describe_images", {"Images": [image]})

    class _Ctx:
        def client(self, service, region):
            return client

        create_client = client  # creates go through the no-retry client (one stub serves both)

    with stub:
        point = AmiKind().capture(_Ctx(), res, "gold", W, tags)  # type: ignore[arg-type]
    assert point.point_id == "ami-0aaaaaaaaaaaaaaaa"
    assert point.status == CREATING
    assert point.source_id == iid


def test_failed_image_is_replaced_under_the_next_name():
    """A failed AMI keeps its name; the retry uses ``...-r2`` (moto never fails an image)."""
    import boto3

    iid = "i-0123456789abcdef0"
    res = Resource(kind="ec2", id=iid, arn="arn", region=PRIMARY)
    tags = point_tags(plan="gold", window=W, source=iid, captured_at=CAP, kind="ec2")
    first, second = attempt_names("gold", iid, W)[:2]
    failed = {
        "ImageId": "ami-0fffffffffffffff0",
        "Name": first,
        "State": "failed",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    client = boto3.client("ec2", region_name=PRIMARY)
    stub = Stubber(client)
    stub.add_response("describe_images", {"Images": [failed]})
    running = {"InstanceId": iid, "State": {"Name": "stopped", "Code": 80}, "BlockDeviceMappings": []}
    stub.add_response("describe_instances", {"Reservations": [{"Instances": [running]}]})
    stub.add_response("create_image", {"ImageId": "ami-0bbbbbbbbbbbbbbbb"})

    class _Ctx:
        def client(self, service, region):
            return client

        create_client = client  # creates go through the no-retry client (one stub serves both)

    with stub:
        point = AmiKind().capture(_Ctx(), res, "gold", W, tags)  # type: ignore[arg-type]
    assert point.point_id == "ami-0bbbbbbbbbbbbbbbb"
    assert point.details["name"] == second
