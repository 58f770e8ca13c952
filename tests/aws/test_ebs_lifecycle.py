"""EBS kind: list, copy, share, delete, restore, validate, cleanup against the moto server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import DR, PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds.base import ABSENT, AVAILABLE, DELETED, MISSING, REFUSED, CaptureError
from awsdr.kinds.ebs import kms_key_is_aws_managed
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
VAULT = "222233334444"


def _tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def _dr_key(ctx, region=DR, alias="alias/awsdr"):
    kms = ctx.client("kms", region)
    key = kms.create_key(Description="awsdr DR key")["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key


def _point(ctx, size=8, plan="gold", encrypted=False, kms_key_id=None):
    """A volume in the primary region and its captured point."""
    kind = get_kind("ebs")
    ec2 = ctx.client("ec2", PRIMARY)
    args = {"Encrypted": True, **({"KmsKeyId": kms_key_id} if kms_key_id else {})} if encrypted else {}
    vid = ec2.create_volume(
        AvailabilityZone=f"{PRIMARY}a",
        Size=size,
        TagSpecifications=[{"ResourceType": "volume", "Tags": _tags({"dr-plan": plan})}],
        **args,
    )["VolumeId"]
    [res] = kind.describe(ctx, PRIMARY, [f"arn:aws:ec2:{PRIMARY}:123456789012:volume/{vid}"])
    tags = point_tags(plan=plan, window=W, source=vid, captured_at=CAP, kind="ebs")
    return kind.capture(ctx, res, plan, W, tags), res


def _copy(ctx, point, key_id="alias/awsdr"):
    return get_kind("ebs").copy(
        ctx, point, dest_region=DR, kms_key_id=key_id, tags={**point.tags, TAG_COPY_OF: point.point_id}
    )


def _snap(ctx, region, sid):
    [snap] = ctx.client("ec2", region).describe_snapshots(SnapshotIds=[sid])["Snapshots"]
    return snap


def test_copy_is_encrypted_with_the_dr_key_also_from_a_plaintext_source(ctx):
    key = _dr_key(ctx)
    point, _ = _point(ctx)
    assert point.details["encrypted"] is False
    copy = _copy(ctx, point)
    assert copy.region == DR
    assert copy.details["encrypted"] is True
    snap = _snap(ctx, DR, copy.point_id)
    assert snap["Encrypted"] is True
    # AWS answers with the key ARN; moto 5.2.5 echoes the alias it was given.
    assert snap["KmsKeyId"] in ("alias/awsdr", key["Arn"])


def test_copy_of_an_encrypted_source_is_reencrypted_with_the_dr_key(ctx):
    src_key = _dr_key(ctx, PRIMARY, "alias/app")
    dr_key = _dr_key(ctx)
    point, _ = _point(ctx, encrypted=True, kms_key_id=src_key["Arn"])
    assert point.details["encrypted"] is True
    copy = _copy(ctx, point, dr_key["Arn"])
    snap = _snap(ctx, DR, copy.point_id)
    assert snap["Encrypted"] is True
    assert snap["KmsKeyId"] == dr_key["Arn"]


def test_copy_carries_the_source_tags_and_copy_of(ctx):
    _dr_key(ctx)
    point, res = _point(ctx)
    copy = _copy(ctx, point)
    tags = {t["Key"]: t["Value"] for t in _snap(ctx, DR, copy.point_id)["Tags"]}
    assert tags[TAG_COPY_OF] == point.point_id
    for key in ("awsdr:managed", "awsdr:plan", "awsdr:window", "awsdr:source", "awsdr:captured-at"):
        assert tags[key] == point.tags[key]
    assert tags["Name"].startswith("awsdr-gold-")
    assert copy.source_id == res.id
    assert copy.window == W
    assert copy.tags[TAG_COPY_OF] == point.point_id


def test_copy_twice_returns_the_same_copy(ctx):
    _dr_key(ctx)
    point, _ = _point(ctx)
    first = _copy(ctx, point)
    again = _copy(ctx, point)
    assert again.point_id == first.point_id
    copies = ctx.client("ec2", DR).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": f"tag:{TAG_COPY_OF}", "Values": [point.point_id]}]
    )["Snapshots"]
    assert [s["SnapshotId"] for s in copies] == [first.point_id]


def test_list_points_sees_points_and_copies_not_look_alikes(ctx):
    _dr_key(ctx)
    kind = get_kind("ebs")
    point, res = _point(ctx)
    silver, _ = _point(ctx, plan="silver")
    copy = _copy(ctx, point)
    ec2 = ctx.client("ec2", PRIMARY)
    lookalike = dict(point.tags, **{"awsdr:managed": "false"})
    ec2.create_snapshot(
        VolumeId=res.id, TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(lookalike)}]
    )
    ami_snapshot = dict(point.tags, **{"awsdr:kind": "ec2"})  # an AMI's snapshot: the ec2 kind's
    ec2.create_snapshot(
        VolumeId=res.id, TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(ami_snapshot)}]
    )
    primary = kind.list_points(ctx, PRIMARY)
    assert {p.point_id for p in primary} == {point.point_id, silver.point_id}
    assert [p.point_id for p in kind.list_points(ctx, PRIMARY, "gold")] == [point.point_id]
    [listed] = [p for p in primary if p.point_id == point.point_id]
    assert listed.status == AVAILABLE
    assert listed.details["size_bytes"] == 8 * 1024**3
    assert listed.tags == {**point.tags, "Name": listed.tags["Name"]}
    [dr] = kind.list_points(ctx, DR)
    assert dr.point_id == copy.point_id
    assert dr.tags[TAG_COPY_OF] == point.point_id


def test_delete_refuses_unmanaged_and_legal_hold_and_deletes_managed(ctx):
    kind = get_kind("ebs")
    managed, _ = _point(ctx)
    held, _ = _point(ctx)
    other, _ = _point(ctx)
    ec2 = ctx.client("ec2", PRIMARY)
    ec2.create_tags(Resources=[held.point_id], Tags=_tags({TAG_LEGAL_HOLD: "case-42"}))
    # The caller still believes it is managed; the fresh tags say otherwise.
    ec2.create_tags(Resources=[other.point_id], Tags=_tags({"awsdr:managed": "false"}))
    out = kind.delete(ctx, PRIMARY, [managed, held, other])
    assert out == {managed.point_id: DELETED, held.point_id: REFUSED, other.point_id: REFUSED}
    left = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert managed.point_id not in left
    assert {held.point_id, other.point_id} <= left
    assert kind.delete(ctx, PRIMARY, [managed]) == {managed.point_id: ABSENT}


def test_delete_of_a_snapshot_an_ami_uses_is_an_error(ctx):
    kind = get_kind("ebs")
    point, _ = _point(ctx)
    ec2 = ctx.client("ec2", PRIMARY)
    inst = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    image_id = ec2.create_image(InstanceId=inst["InstanceId"], Name="in-use")["ImageId"]
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    snap_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    ec2.create_tags(Resources=[snap_id], Tags=_tags(point.tags))
    point.point_id = snap_id
    out = kind.delete(ctx, PRIMARY, [point])
    assert out[snap_id].startswith("error: InvalidSnapshot.InUse")


def test_share_grants_create_volume_permission(ctx):
    _dr_key(ctx)
    kind = get_kind("ebs")
    point, _ = _point(ctx)
    copy = _copy(ctx, point)
    kind.share(ctx, copy, VAULT)
    perms = ctx.client("ec2", DR).describe_snapshot_attribute(
        SnapshotId=copy.point_id, Attribute="createVolumePermission"
    )["CreateVolumePermissions"]
    assert {"UserId": VAULT} in perms


def test_share_refuses_a_snapshot_under_the_aws_managed_key(ctx):
    kind = get_kind("ebs")
    point, _ = _point(ctx, encrypted=True)  # no KmsKeyId: moto makes the alias/aws/ebs key
    aws_key = ctx.client("kms", PRIMARY).describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert kms_key_is_aws_managed(ctx, PRIMARY, aws_key["Arn"]) is True
    assert kms_key_is_aws_managed(ctx, PRIMARY, "alias/aws/ebs") is True
    # moto 5.2.5 leaves KmsKeyId off snapshots of encrypted volumes; AWS reports the volume's key.
    # An in-region copy under the AWS managed key stands in for such a snapshot.
    ec2 = ctx.client("ec2", PRIMARY)
    under_aws_key = ec2.copy_snapshot(
        SourceSnapshotId=point.point_id, SourceRegion=PRIMARY, Encrypted=True, KmsKeyId=aws_key["Arn"]
    )["SnapshotId"]
    point.point_id = under_aws_key
    with pytest.raises(CaptureError, match="AWS managed key cannot be shared"):
        kind.share(ctx, point, VAULT)
    perms = ctx.client("ec2", PRIMARY).describe_snapshot_attribute(
        SnapshotId=point.point_id, Attribute="createVolumePermission"
    )["CreateVolumePermissions"]
    assert perms == []
    customer = _dr_key(ctx, PRIMARY, "alias/app")
    assert kms_key_is_aws_managed(ctx, PRIMARY, customer["Arn"]) is False


def _restore(ctx, copy, name="awsdr-verify-r1", run="r1"):
    return get_kind("ebs").restore(ctx, copy, name=name, tags={"awsdr:verify-run": run})


def test_restore_status_and_validate_pass(ctx):
    _dr_key(ctx)
    kind = get_kind("ebs")
    point, res = _point(ctx)
    copy = _copy(ctx, point)
    restored = _restore(ctx, copy)
    assert restored.resource_id.startswith("vol-")
    assert restored.region == DR
    assert restored.point_id == copy.point_id
    assert restored.details["size_gib"] == 8
    assert restored.details["snapshot_id"] == copy.point_id
    again = _restore(ctx, copy)
    assert again.resource_id == restored.resource_id
    # Same name, other run (or a volume made by hand): not this restore.
    assert _restore(ctx, copy, run="r2").resource_id != restored.resource_id
    vols = ctx.client("ec2", DR).describe_volumes(
        Filters=[{"Name": "tag:awsdr:verify-run", "Values": ["r1"]}]
    )["Volumes"]
    assert [v["VolumeId"] for v in vols] == [restored.resource_id]
    tags = {t["Key"]: t["Value"] for t in vols[0]["Tags"]}
    assert tags == {"awsdr:verify-run": "r1", "Name": "awsdr-verify-r1"}
    [status] = kind.restore_status(ctx, DR, [restored])
    assert status.status == AVAILABLE
    assert kind.validate(ctx, restored, {"source_meta": res.meta, "details": copy.details}) == []


def test_validate_reports_wrong_size_and_plaintext(ctx):
    _dr_key(ctx)
    kind = get_kind("ebs")
    point, res = _point(ctx)
    restored = _restore(ctx, _copy(ctx, point))
    problems = kind.validate(ctx, restored, {"source_meta": {**res.meta, "size_gib": 10}, "details": {}})
    assert problems == ["size 8 GiB != captured 10 GiB"]
    # A restore of the plaintext primary point: not encrypted.
    plain = kind.restore(ctx, point, name="plain", tags={"awsdr:verify-run": "r1"})
    problems = kind.validate(ctx, plain, {"source_meta": res.meta, "details": point.details})
    assert len(problems) == 1
    assert "not encrypted" in problems[0]


def test_restore_status_missing_after_cleanup_and_cleanup_only_tagged(ctx):
    _dr_key(ctx)
    kind = get_kind("ebs")
    point, _ = _point(ctx)
    copy = _copy(ctx, point)
    r1 = _restore(ctx, copy, "v-r1", "r1")
    r2 = _restore(ctx, copy, "v-r2", "r2")
    ec2 = ctx.client("ec2", DR)
    lookalike = ec2.create_volume(
        AvailabilityZone=f"{DR}a",
        Size=8,
        TagSpecifications=[{"ResourceType": "volume", "Tags": _tags({"Name": "v-r1"})}],
    )["VolumeId"]
    assert kind.cleanup(ctx, DR, "awsdr:verify-run", "r1") == [r1.resource_id]
    left = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    assert r1.resource_id not in left
    assert {r2.resource_id, lookalike} <= left
    assert kind.cleanup(ctx, DR, "awsdr:verify-run", "r1") == []
    assert kind.cleanup(ctx, DR, "awsdr:verify-run") == [r2.resource_id]
    assert lookalike in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    statuses = kind.restore_status(ctx, DR, [r1, r2])
    assert [s.status for s in statuses] == [MISSING, MISSING]
