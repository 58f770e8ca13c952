"""RDS DB instance kind against the moto server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds._rds_common import attempt_names
from awsdr.kinds.base import AVAILABLE, MISSING, CaptureError
from awsdr.windows import RDS_SNAPSHOT, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
W2 = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)


def _db(ctx, name, tags, **extra):
    ctx.client("rds", PRIMARY).create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        **extra,
    )
    return name


def _manual_snapshots(ctx):
    return ctx.client("rds", PRIMARY).describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]


def _capture(ctx, kind, res, plan="gold", window=W):
    tags = point_tags(plan=plan, window=window, source=res.id, captured_at=CAP, kind="rds")
    return kind.capture(ctx, res, plan, window, tags), tags


def test_discover_selects_only_tagged_source_instances(ctx):
    kind = get_kind("rds")
    rds = ctx.client("rds", PRIMARY)
    gold = _db(ctx, "orders-db", {"dr-plan": "gold", "app": "orders"})
    _db(ctx, "silver-db", {"dr-plan": "silver"})
    _db(ctx, "untagged-db", {"app": "orders"})
    _db(ctx, "verify-db", {"dr-plan": "gold", "awsdr:verify-run": "r1"})  # a verification restore
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="orders-db-replica",
        SourceDBInstanceIdentifier=gold,
        Tags=[{"Key": "dr-plan", "Value": "gold"}],
    )
    rds.create_db_cluster(
        DBClusterIdentifier="aurora-cl",
        Engine="aurora-postgresql",
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
    )
    rds.create_db_instance(
        DBInstanceIdentifier="aurora-cl-1",
        DBClusterIdentifier="aurora-cl",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r5.large",
        Tags=[{"Key": "dr-plan", "Value": "gold"}],
    )
    found = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert [r.id for r in found] == [gold]
    res = found[0]
    assert res.arn.endswith(f":db:{gold}")
    assert res.tags == {"dr-plan": "gold", "app": "orders"}
    assert res.meta["engine"] == "postgres"
    assert res.meta["allocated_storage"] == 20
    assert res.meta["instance_class"] == "db.t3.micro"
    assert res.meta["status"] == "available"
    assert isinstance(res.meta["latest_restorable_time"], str)
    # a vanished instance is left out of describe, not an error
    assert [r.id for r in kind.describe(ctx, PRIMARY, [res.arn, res.arn + "-gone"])] == [gold]


def test_capture_find_refresh_and_tags(ctx):
    kind = get_kind("rds")
    db = _db(ctx, "orders-db", {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point, tags = _capture(ctx, kind, res)
    assert point.point_id == attempt_names("gold", db, W)[0]
    assert RDS_SNAPSHOT.is_valid(point.point_id)
    assert point.arn.endswith(f":snapshot:{point.point_id}")
    assert point.source_id == db
    assert point.window == W
    assert point.tags == tags
    assert point.details["engine"] == "postgres"
    assert point.details["allocated_storage"] == 20
    [snap] = _manual_snapshots(ctx)
    assert {t["Key"]: t["Value"] for t in snap["TagList"]} == tags

    _db(ctx, "other-db", {})
    ctx.client("rds", PRIMARY).create_db_snapshot(
        DBSnapshotIdentifier="hand-made", DBInstanceIdentifier="other-db"
    )
    existing = kind.find_existing(ctx, PRIMARY, "gold", W)
    assert set(existing) == {db}
    assert existing[db].point_id == point.point_id
    assert kind.find_existing(ctx, PRIMARY, "gold", W2) == {}
    assert kind.find_existing(ctx, PRIMARY, "silver", W) == {}
    assert get_kind("aurora").find_existing(ctx, PRIMARY, "gold", W) == {}

    [fresh] = kind.refresh(ctx, PRIMARY, [point])
    assert fresh.status == AVAILABLE
    assert fresh.details["snapshot_create_time"]
    ctx.client("rds", PRIMARY).delete_db_snapshot(DBSnapshotIdentifier=point.point_id)
    [gone] = kind.refresh(ctx, PRIMARY, [point])
    assert gone.status == MISSING


def test_capture_twice_is_idempotent(ctx):
    kind = get_kind("rds")
    _db(ctx, "orders-db", {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    first, tags = _capture(ctx, kind, res)
    again, _ = _capture(ctx, kind, res)
    assert again.point_id == first.point_id
    assert again.tags == tags
    assert len(_manual_snapshots(ctx)) == 1
    _capture(ctx, kind, res, window=W2)
    assert len(_manual_snapshots(ctx)) == 2


def test_name_taken_by_a_stranger_is_a_capture_error(ctx):
    kind = get_kind("rds")
    db = _db(ctx, "orders-db", {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    name = attempt_names("gold", db, W)[0]
    ctx.client("rds", PRIMARY).create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=db)
    with pytest.raises(CaptureError, match="not this product's point"):
        _capture(ctx, kind, res)


def test_capture_of_deleted_or_creating_instance_is_a_capture_error(ctx):
    kind = get_kind("rds")
    db = _db(ctx, "orders-db", {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    ctx.client("rds", PRIMARY).delete_db_instance(DBInstanceIdentifier=db, SkipFinalSnapshot=True)
    with pytest.raises(CaptureError, match="DBInstanceNotFound"):
        _capture(ctx, kind, res)
    res.meta["status"] = "creating"
    with pytest.raises(CaptureError, match="creating"):
        _capture(ctx, kind, res)
    assert _manual_snapshots(ctx) == []


def test_stopped_instance_can_be_captured(ctx):
    kind = get_kind("rds")
    db = _db(ctx, "orders-db", {"dr-plan": "gold"})
    ctx.client("rds", PRIMARY).stop_db_instance(DBInstanceIdentifier=db)
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert res.meta["status"] == "stopped"
    point, _ = _capture(ctx, kind, res)
    assert point.source_id == db


def test_long_identifier_and_plan_still_make_a_valid_snapshot_identifier(ctx):
    kind = get_kind("rds")
    db = _db(ctx, "d" + "b" * 62, {"dr-plan": "gold"})
    plan = "gold-" + "x" * 200
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point, _ = _capture(ctx, kind, res, plan=plan)
    assert len(db) == 63
    assert RDS_SNAPSHOT.is_valid(point.point_id)
    assert len(point.point_id) <= 255
    assert point.point_id.endswith("20261124t1000z")
    assert all(RDS_SNAPSHOT.is_valid(n) for n in attempt_names(plan, db, W))
    assert set(kind.find_existing(ctx, PRIMARY, plan, W)) == {db}


class _OneClient:
    """An AwsContext stand-in that hands out one (stubbed) client."""

    def __init__(self, client):
        self._client = client

    def client(self, service, region):
        return self._client


def _stubbed():
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("rds", region_name=PRIMARY)
    return client, Stubber(client)


def test_failed_snapshot_is_replaced_under_the_next_name():
    """A failed attempt keeps its identifier; the retry uses ``...-r2`` (moto never fails one)."""
    from awsdr.kinds.base import CREATING, Resource

    client, stub = _stubbed()
    res = Resource(kind="rds", id="orders-db", arn="arn:aws:rds:x:1:db:orders-db", region=PRIMARY)
    tags = point_tags(plan="gold", window=W, source=res.id, captured_at=CAP, kind="rds")
    tag_items = [{"Key": k, "Value": v} for k, v in tags.items()]
    first, second = attempt_names("gold", res.id, W)[:2]
    stub.add_client_error("create_db_snapshot", "DBSnapshotAlreadyExists", "exists")
    failed = {"DBSnapshotIdentifier": first, "Status": "failed", "TagList": tag_items}
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [failed]})
    made = {
        "DBSnapshotIdentifier": second,
        "DBSnapshotArn": "arn:s2",
        "Status": "creating",
        "TagList": tag_items,
    }
    stub.add_response(
        "create_db_snapshot",
        {"DBSnapshot": made},
        {"DBSnapshotIdentifier": second, "DBInstanceIdentifier": res.id, "Tags": tag_items},
    )
    with stub:
        point = get_kind("rds").capture(_OneClient(client), res, "gold", W, tags)  # type: ignore[arg-type]
    assert point.point_id == second
    assert point.status == CREATING


def test_find_existing_without_taglist_fetches_tags_only_for_our_names():
    client, stub = _stubbed()
    tags = point_tags(plan="gold", window=W, source="orders-db", captured_at=CAP, kind="rds")
    ours = attempt_names("gold", "orders-db", W)[0]
    listing = [
        {"DBSnapshotIdentifier": "someone-elses", "DBSnapshotArn": "arn:other", "Status": "available"},
        {"DBSnapshotIdentifier": ours, "DBSnapshotArn": "arn:ours", "Status": "available"},
    ]
    stub.add_response("describe_db_snapshots", {"DBSnapshots": listing}, {"SnapshotType": "manual"})
    stub.add_response(
        "list_tags_for_resource",
        {"TagList": [{"Key": k, "Value": v} for k, v in tags.items()]},
        {"ResourceName": "arn:ours"},
    )
    with stub:
        found = get_kind("rds").find_existing(_OneClient(client), PRIMARY, "gold", W)  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
    assert set(found) == {"orders-db"}
    assert found["orders-db"].point_id == ours
