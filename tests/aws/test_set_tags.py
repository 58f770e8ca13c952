"""Tagging a point in place (verification marks copies ``awsdr:verified-at``)."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import PRIMARY

from awsdr.kinds import get_kind
from awsdr.windows import point_tags

W = datetime(2026, 11, 24, 10, tzinfo=UTC)


def test_ebs_point_gets_verified_at_and_list_sees_it(ctx):
    ec2 = ctx.client("ec2", PRIMARY)
    vol = ec2.create_volume(
        AvailabilityZone=f"{PRIMARY}a",
        Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "dr-plan", "Value": "gold"}]}],
    )["VolumeId"]
    kind = get_kind("ebs")
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point = kind.capture(
        ctx, res, "gold", W, point_tags(plan="gold", window=W, source=vol, captured_at=W, kind="ebs")
    )
    kind.set_tags(ctx, point, {"awsdr:verified-at": "2026-11-25T00:00:00Z"})
    [listed] = kind.list_points(ctx, PRIMARY, "gold")
    assert listed.tags["awsdr:verified-at"] == "2026-11-25T00:00:00Z"


def test_rds_point_gets_verified_at_and_list_sees_it(ctx):
    rds = ctx.client("rds", PRIMARY)
    rds.create_db_instance(
        DBInstanceIdentifier="db1",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="u",
        MasterUserPassword="password-1",
        Tags=[{"Key": "dr-plan", "Value": "gold"}],
    )
    kind = get_kind("rds")
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point = kind.capture(
        ctx, res, "gold", W, point_tags(plan="gold", window=W, source="db1", captured_at=W, kind="rds")
    )
    kind.set_tags(ctx, point, {"awsdr:verified-at": "2026-11-25T00:00:00Z"})
    [listed] = kind.list_points(ctx, PRIMARY, "gold")
    assert listed.tags["awsdr:verified-at"] == "2026-11-25T00:00:00Z"
