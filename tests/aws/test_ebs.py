"""EBS kind against the moto server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds.base import AVAILABLE, MISSING, CaptureError
from awsdr.windows import point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)


def _volume(ctx, tags):
    ec2 = ctx.client("ec2", PRIMARY)
    vol = ec2.create_volume(
        AvailabilityZone=f"{PRIMARY}a",
        Size=8,
        TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    return vol["VolumeId"]


def test_discover_selects_only_tagged_and_skips_product_made(ctx):
    kind = get_kind("ebs")
    gold = _volume(ctx, {"dr-plan": "gold", "app": "orders"})
    _volume(ctx, {"dr-plan": "silver"})
    _volume(ctx, {"app": "orders"})
    _volume(ctx, {"dr-plan": "gold", "awsdr:verify-run": "r1"})  # a verification restore
    found = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert [r.id for r in found] == [gold]
    assert found[0].meta["size_gib"] == 8


def test_capture_is_found_again_and_refreshes(ctx):
    kind = get_kind("ebs")
    vid = _volume(ctx, {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    tags = point_tags(plan="gold", window=W, source=vid, captured_at=CAP, kind="ebs")
    point = kind.capture(ctx, res, "gold", W, tags)
    assert point.source_id == vid
    assert point.window == W
    existing = kind.find_existing(ctx, PRIMARY, "gold", W)
    assert set(existing) == {vid}
    assert existing[vid].point_id == point.point_id
    assert existing[vid].tags["awsdr:managed"] == "true"
    assert kind.find_existing(ctx, PRIMARY, "gold", datetime(2026, 11, 24, 11, tzinfo=UTC)) == {}
    assert kind.find_existing(ctx, PRIMARY, "silver", W) == {}
    [fresh] = kind.refresh(ctx, PRIMARY, [point])
    assert fresh.status == AVAILABLE
    ctx.client("ec2", PRIMARY).delete_snapshot(SnapshotId=point.point_id)
    [gone] = kind.refresh(ctx, PRIMARY, [point])
    assert gone.status == MISSING


def test_capture_of_deleted_volume_is_a_capture_error(ctx):
    kind = get_kind("ebs")
    vid = _volume(ctx, {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    ctx.client("ec2", PRIMARY).delete_volume(VolumeId=vid)
    tags = point_tags(plan="gold", window=W, source=vid, captured_at=CAP, kind="ebs")
    with pytest.raises(CaptureError, match="InvalidVolume"):
        kind.capture(ctx, res, "gold", W, tags)
