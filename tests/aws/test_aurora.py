"""Aurora DB cluster kind against the moto server."""

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


def _cluster(ctx, name, tags, engine="aurora-postgresql", members=1, **extra):
    rds = ctx.client("rds", PRIMARY)
    args = {"DatabaseName": "app"} if engine.startswith("aurora") else {}
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine=engine,
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        **args,
        **extra,
    )
    for n in range(members):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-{n + 1}",
            DBClusterIdentifier=name,
            Engine=engine,
            DBInstanceClass="db.r5.large",
        )
    return name


def _cluster_snapshots(ctx):
    return ctx.client("rds", PRIMARY).describe_db_cluster_snapshots(SnapshotType="manual")[
        "DBClusterSnapshots"
    ]


def _capture(ctx, kind, res, plan="gold", window=W):
    tags = point_tags(plan=plan, window=window, source=res.id, captured_at=CAP, kind="aurora")
    return kind.capture(ctx, res, plan, window, tags), tags


def test_discover_selects_only_tagged_aurora_clusters(ctx):
    kind = get_kind("aurora")
    gold = _cluster(ctx, "orders-cl", {"dr-plan": "gold", "app": "orders"}, members=2)
    _cluster(ctx, "silver-cl", {"dr-plan": "silver"}, members=0)
    _cluster(ctx, "untagged-cl", {"app": "orders"}, members=0)
    _cluster(ctx, "drill-cl", {"dr-plan": "gold", "awsdr:drill": "d1"}, members=0)  # a failover drill
    _cluster(  # a Multi-AZ DB cluster: not Aurora
        ctx,
        "maz-cl",
        {"dr-plan": "gold"},
        engine="postgres",
        members=0,
        DBClusterInstanceClass="db.m5d.large",
        AllocatedStorage=100,
        StorageType="io1",
        Iops=1000,
    )
    found = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert [r.id for r in found] == [gold]
    res = found[0]
    assert res.arn.endswith(f":cluster:{gold}")
    assert res.meta["engine"] == "aurora-postgresql"
    assert res.meta["members"] == 2
    assert res.meta["status"] == "available"
    assert "storage_encrypted" in res.meta
    assert [r.id for r in kind.describe(ctx, PRIMARY, [res.arn, res.arn + "-gone"])] == [gold]
    # the cluster's member instances are not RDS kind resources
    assert get_kind("rds").discover(ctx, PRIMARY, {"dr-plan": "gold"}) == []


def test_capture_find_refresh_and_tags(ctx):
    kind = get_kind("aurora")
    cl = _cluster(ctx, "orders-cl", {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point, tags = _capture(ctx, kind, res)
    assert point.point_id == attempt_names("gold", cl, W)[0]
    assert RDS_SNAPSHOT.is_valid(point.point_id)
    assert point.arn.endswith(f":cluster-snapshot:{point.point_id}")
    assert point.source_id == cl
    assert point.window == W
    assert point.tags == tags
    assert point.details["engine"] == "aurora-postgresql"
    [snap] = _cluster_snapshots(ctx)
    assert {t["Key"]: t["Value"] for t in snap["TagList"]} == tags

    existing = kind.find_existing(ctx, PRIMARY, "gold", W)
    assert set(existing) == {cl}
    assert existing[cl].point_id == point.point_id
    assert kind.find_existing(ctx, PRIMARY, "gold", W2) == {}
    assert kind.find_existing(ctx, PRIMARY, "silver", W) == {}

    [fresh] = kind.refresh(ctx, PRIMARY, [point])
    assert fresh.status == AVAILABLE
    ctx.client("rds", PRIMARY).delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=point.point_id)
    [gone] = kind.refresh(ctx, PRIMARY, [point])
    assert gone.status == MISSING


def test_capture_twice_is_idempotent(ctx):
    kind = get_kind("aurora")
    _cluster(ctx, "orders-cl", {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    first, _ = _capture(ctx, kind, res)
    again, _ = _capture(ctx, kind, res)
    assert again.point_id == first.point_id
    assert len(_cluster_snapshots(ctx)) == 1


def test_capture_of_deleted_cluster_is_a_capture_error(ctx):
    kind = get_kind("aurora")
    cl = _cluster(ctx, "orders-cl", {"dr-plan": "gold"}, members=0)
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    ctx.client("rds", PRIMARY).delete_db_cluster(DBClusterIdentifier=cl, SkipFinalSnapshot=True)
    with pytest.raises(CaptureError, match="DBClusterNotFound"):
        _capture(ctx, kind, res)
    assert _cluster_snapshots(ctx) == []


def test_long_identifier_and_plan_still_make_a_valid_snapshot_identifier(ctx):
    kind = get_kind("aurora")
    cl = _cluster(ctx, "c" + "l" * 62, {"dr-plan": "gold"}, members=0)
    plan = "gold-" + "x" * 200
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    point, _ = _capture(ctx, kind, res, plan=plan)
    assert len(cl) == 63
    assert RDS_SNAPSHOT.is_valid(point.point_id)
    assert set(kind.find_existing(ctx, PRIMARY, plan, W)) == {cl}
