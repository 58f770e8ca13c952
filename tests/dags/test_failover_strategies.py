"""dr_failover then dr_failback per DR strategy (``dag.test()``) against moto: the DR writes come home.

A module of its own so that pytest-xdist runs it beside test_failover_dag.py (each is minutes).
"""

from __future__ import annotations

import pytest
from conftest import DR, PRIMARY
from failover_support import Approver, Recorder, make_dr_copies, record_value
from test_failover_dag import (
    LIVE,
    _asg,
    _catalog,
    _cname,
    _ecs_desired,
    _key_of,
    _promoted,
    _replica_lag_zero,
    _states,
    _variants,
)


def _weighted_records(ctx):
    """The demo's app record as one weighted set per region (active-active serves from both)."""
    r53 = ctx.client("route53", "us-east-1")
    zone = r53.list_hosted_zones_by_name(DNSName="example.com.")["HostedZones"][0]["Id"]
    old = record_value(ctx)[0]
    changes = [{"Action": "DELETE", "ResourceRecordSet": old}]
    for region in (PRIMARY, DR):
        changes.append(
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": "app.example.com.",
                    "Type": "CNAME",
                    "TTL": 60,
                    "SetIdentifier": region,
                    "Weight": 100,
                    "ResourceRecords": [{"Value": f"app.{region}.example.com"}],
                },
            }
        )
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})


def _dr_writes(ctx):
    """What the applications write in the DR region while it serves."""
    from awsdr.kinds.s3 import dr_bucket_name

    ctx.client("dynamodb", DR).put_item(TableName="orders", Item={"pk": {"S": "written-in-dr"}})
    dr_bucket = dr_bucket_name("awsdr-demo-orders-assets", DR)
    ctx.client("s3", DR).put_object(Bucket=dr_bucket, Key="dr/receipt-1.pdf", Body=b"made in DR")
    _replica_lag_zero(ctx)


def _every_write_home(ctx, back):
    """After the failback: the DR writes under the original names at home, the DB record home."""
    home = ctx.client("dynamodb", PRIMARY)
    assert home.get_item(TableName="orders", Key=_key_of(ctx)).get("Item"), "DynamoDB write lost"
    body = ctx.client("s3", PRIMARY).get_object(Bucket="awsdr-demo-orders-assets", Key="dr/receipt-1.pdf")
    assert body["Body"].read() == b"made in DR"
    live = ctx.client("rds", PRIMARY).describe_db_instances(DBInstanceIdentifier="orders-db-failback")
    assert live["DBInstances"][0]["DBInstanceStatus"] == "available"
    assert _cname(ctx, "orders-db.example.com.") == [live["DBInstances"][0]["Endpoint"]["Address"]]
    audit = _catalog(ctx, back.run_id, "audit.json")
    assert audit["outcome"] == "succeeded"
    freezes = {f["target"]: f for f in audit["write_freeze"]}
    assert freezes["dynamodb/orders"]["reconciled"]["written"] >= 1
    assert freezes["s3/awsdr-demo-orders-assets"]["reconciled"]["objects"] == 1
    assert freezes["rds/orders-db"]["reconciled"]["replica_lag_at_promotion"] == 0.0
    return audit


@pytest.mark.parametrize("strategy", ["backup-restore", "warm-standby", "active-active"])
def test_strategy_round_trip_loses_no_dr_write(
    airflow_db, failover_estate, moto, tmp_path, monkeypatch, strategy
):
    """Per strategy: failover, writes in the DR region, failback: every write home, DNS home."""
    ctx = failover_estate
    make_dr_copies(ctx, ("s3",))
    changes = []
    if strategy == "active-active":
        topic = ctx.client("sns", DR).create_topic(Name="awsdr-alerts")["TopicArn"]
        changes = [
            ("routing: simple ", "routing: weighted "),
            ("\nfailover:", f"\nnotifications: {{sns_topic_arn: '{topic}'}}\nfailover:"),
        ]
        _weighted_records(ctx)
    dr_failover, dr_failback = _variants(tmp_path, monkeypatch, *changes)
    conf = {**LIVE, "strategy": strategy}
    with Recorder(moto) as rec, Approver(monkeypatch):
        run = dr_failover.dr_failover.test(run_conf=conf)
        assert run.state == "success", _states(run)
        published = rec.count("Publish")
    plan = _catalog(ctx, run.run_id, "plan.json")
    actions = [s["action"] for s in plan["steps"]]
    dr_writer = "orders-db" if strategy == "backup-restore" else "orders-db-dr"
    writer = ctx.client("rds", DR).describe_db_instances(DBInstanceIdentifier=dr_writer)["DBInstances"][0]
    assert _cname(ctx, "orders-db.example.com.") == [writer["Endpoint"]["Address"]]
    if strategy == "backup-restore":
        # restored from the DR copies under the source names; compute from the copied AMI
        assert actions.count("restore_from_copy") == 3
        assert "promote_read_replica" not in actions
        assert not _promoted(ctx)
        named = ctx.client("ec2", DR).describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": ["orders-web-0-dr"]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )["Reservations"]
        assert len([i for r in named for i in r["Instances"]]) == 1
        assert _asg(ctx) == (0, 0, 0), "backup & restore keeps no standby to scale"
    else:
        assert "promote_read_replica" in actions
        assert _promoted(ctx)
        assert _asg(ctx) == (2, 2, 4)
        assert _ecs_desired(ctx) == 2
    if strategy == "active-active":
        assert published == 1
        assert {s["SetIdentifier"]: s["Weight"] for s in record_value(ctx)} == {PRIMARY: 0, DR: 100}
        traffic = [s for s in plan["steps"] if s["action"] == "upsert_records"]
        assert "weight 0" in traffic[0]["aws_calls"][0]
    else:
        assert _cname(ctx) == ["app.ap-northeast-1.example.com"]

    _dr_writes(ctx)
    with Approver(monkeypatch):
        back = dr_failback.dr_failback.test(run_conf={**conf, "reason": "primary is back"})
    assert back.state == "success", _states(back)
    _every_write_home(ctx, back)
    if strategy == "active-active":
        assert {s["SetIdentifier"]: s["Weight"] for s in record_value(ctx)} == {PRIMARY: 100, DR: 100}
    else:
        assert _cname(ctx) == ["app.ap-northeast-2.example.com"]
    if strategy == "backup-restore":
        left = ctx.client("ec2", DR).describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": ["orders-web-0-dr"]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )["Reservations"]
        assert [i for r in left for i in r["Instances"]] == [], "the launched instances still run"
    else:
        assert _asg(ctx) == (0, 0, 0)
        assert _ecs_desired(ctx) == 1
