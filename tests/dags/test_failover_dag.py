"""dr_failover, dr_failback and dr_failover_drill end to end (``dag.test()``) against moto."""

from __future__ import annotations

import importlib
import json

import pytest
from conftest import DR, PRIMARY
from failover_support import Approver, Recorder, make_dr_copies, record_value, widen_pitr

#: Live runs stop at the approval (issue 10): the tests answer it through the REST API
#: (failover_support.Approver), or the policy variant says ``approval: {required: false}``.
LIVE = {"dry_run": False, "confirm": DR, "target_region": DR, "reason": "test: region outage drill"}


@pytest.fixture
def dags(airflow_db):
    import dr_failback
    import dr_failover

    return importlib.reload(dr_failover), importlib.reload(dr_failback)


@pytest.fixture
def estate(demo_estate, monkeypatch):
    widen_pitr(monkeypatch)
    make_dr_copies(demo_estate)
    return demo_estate


def _variant(tmp_path, monkeypatch, *changes):
    """dr_failover reloaded with a copy of the demo policy edited by ``(old, new)`` pairs."""
    from awsdr.policy import DEFAULT_POLICY_PATH

    text = DEFAULT_POLICY_PATH.read_text()
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    monkeypatch.setenv("AWSDR_POLICY", str(policy))
    import dr_failover

    return importlib.reload(dr_failover)


def _variants(tmp_path, monkeypatch, *changes):
    """``(dr_failover, dr_failback)`` reloaded with the edited demo policy (unchanged if none)."""
    dr_failover = _variant(tmp_path, monkeypatch, *changes)
    import dr_failback

    return dr_failover, importlib.reload(dr_failback)


def _catalog(ctx, run_id, name):
    body = ctx.client("s3", DR).get_object(Bucket="awsdr-catalog", Key=f"failover/{run_id}/{name}")["Body"]
    return json.loads(body.read())


def _states(run):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id).all()
        return {ti.task_id: str(ti.state) for ti in tis}


def _asg(ctx, name="web"):
    g = ctx.client("autoscaling", DR).describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    groups = g["AutoScalingGroups"]
    return (groups[0]["MinSize"], groups[0]["DesiredCapacity"], groups[0]["MaxSize"]) if groups else None


def _ecs_desired(ctx, service="api"):
    svcs = ctx.client("ecs", DR).describe_services(cluster="app", services=[service])["services"]
    live = [s for s in svcs if s["status"] == "ACTIVE"]
    return live[0]["desiredCount"] if live else None


def _cname(ctx, name="app.example.com."):
    sets = record_value(ctx, name)
    return [r["Value"] for s in sets for r in s["ResourceRecords"]]


def test_dry_run_plans_and_changes_nothing(dags, estate, moto):
    ctx = estate
    with Recorder(moto) as rec:
        run = dags[0].dr_failover.test(run_conf={"target_region": DR})
    assert run.state == "success"
    states = _states(run)
    assert states["plan"] == "success"
    for task_id in ("data_layer", "compute", "traffic", "verify", "notify"):
        assert states[task_id] == "skipped", states
    plan = _catalog(ctx, run.run_id, "plan.json")
    assert plan["dry_run"] is True
    assert plan["strategy"] == "pilot-light"
    actions = [s["action"] for s in plan["steps"]]
    assert (
        actions.index("promote_read_replica") < actions.index("scale_asg") < actions.index("upsert_records")
    )
    assert any(
        "rds.promote_read_replica(DBInstanceIdentifier=orders-db-dr)" in c
        for s in plan["steps"]
        for c in s["aws_calls"]
    )
    # the plan in the catalog is the only write
    writes = [c for c in rec.mutating() if not c[1].startswith("/awsdr-catalog/failover/")]
    assert writes == [], writes
    assert _cname(ctx) == ["app.ap-northeast-2.example.com"]
    assert _asg(ctx) == (0, 0, 0)


def test_wrong_confirmation_fails_before_any_aws_call(dags, estate, moto):
    with Recorder(moto) as rec:
        run = dags[0].dr_failover.test(run_conf={**LIVE, "confirm": "ap-northeast-2"})
    assert run.state == "failed"
    states = _states(run)
    assert states["validate_params"] == "failed"
    assert states["readiness"] == "upstream_failed"
    assert rec.calls() == [], rec.calls()[:10]


def _replica_lag_zero(ctx, ident="orders-db-failback"):
    """moto has no RDS metrics: what CloudWatch reports for a caught-up replica."""
    from datetime import UTC, datetime

    ctx.client("cloudwatch", PRIMARY).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Value": 0.0,
                "Timestamp": datetime.now(UTC),
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": ident}],
            }
        ],
    )


def test_pilot_light_failover_dr_writes_then_lossless_failback(dags, estate, moto, monkeypatch):
    ctx = estate
    from awsdr.kinds.s3 import dr_bucket_name

    make_dr_copies(ctx, ("s3",))
    with Recorder(moto) as rec, Approver(monkeypatch) as approver:
        run = dags[0].dr_failover.test(run_conf=LIVE)
    assert run.state == "success", _states(run)
    assert approver.responses, "nobody saw the approval"
    assert approver.responses[0][0] == 200, approver.responses
    assert "### Fencing" in approver.bodies[0]
    assert rec.count("PromoteReadReplica") == 1
    assert _cname(ctx) == ["app.ap-northeast-1.example.com"]
    assert _asg(ctx) == (2, 2, 4)
    assert _ecs_desired(ctx) == 2
    dr_writer = ctx.client("rds", DR).describe_db_instances(DBInstanceIdentifier="orders-db-dr")
    assert _cname(ctx, "orders-db.example.com.") == [dr_writer["DBInstances"][0]["Endpoint"]["Address"]]
    audit = _catalog(ctx, run.run_id, "audit.json")
    assert audit["outcome"] == "succeeded"
    assert audit["who"] == "dag_test"
    assert audit["approval"]["decision"] == "approved"
    assert audit["approval"]["by"]
    fenced = {f["target"]: f["fenced"] for f in audit["fencing"]}
    assert fenced["dynamodb/orders"] is True
    assert fenced["s3/awsdr-demo-orders-assets"] is True
    assert audit["rto_seconds"] is not None
    assert all(v is not None for v in audit["rto_step_seconds"].values())
    assert {s["outcome"] for s in audit["steps"]} <= {"done", "already", "unknown"}

    # the applications write in the DR region
    ctx.client("dynamodb", DR).put_item(TableName="orders", Item={"pk": {"S": "written-in-dr"}})
    dr_bucket = dr_bucket_name("awsdr-demo-orders-assets", DR)
    ctx.client("s3", DR).put_object(Bucket=dr_bucket, Key="dr/receipt-1.pdf", Body=b"made in DR")
    _replica_lag_zero(ctx)

    with Approver(monkeypatch):
        back = dags[1].dr_failback.test(run_conf={**LIVE, "reason": "primary is back"})
    assert back.state == "success", _states(back)
    # every write is at home, under the original names, and DNS is home
    home = ctx.client("dynamodb", PRIMARY)
    assert home.get_item(TableName="orders", Key=_key_of(ctx))["Item"]
    body = ctx.client("s3", PRIMARY).get_object(Bucket="awsdr-demo-orders-assets", Key="dr/receipt-1.pdf")
    assert body["Body"].read() == b"made in DR"
    assert _cname(ctx) == ["app.ap-northeast-2.example.com"]
    live = ctx.client("rds", PRIMARY).describe_db_instances(DBInstanceIdentifier="orders-db-failback")
    assert live["DBInstances"][0]["DBInstanceStatus"] == "available"
    assert _cname(ctx, "orders-db.example.com.") == [live["DBInstances"][0]["Endpoint"]["Address"]]
    assert _asg(ctx) == (0, 0, 0)
    assert _ecs_desired(ctx) == 1
    audit = _catalog(ctx, back.run_id, "audit.json")
    freezes = {f["target"]: f for f in audit["write_freeze"]}
    assert freezes["dynamodb/orders"]["reconciled"]["written"] >= 1
    assert freezes["s3/awsdr-demo-orders-assets"]["reconciled"]["objects"] == 1
    assert freezes["rds/orders-db"]["reconciled"]["replica_lag_at_promotion"] == 0.0
    assert all(f["seconds"] >= 0 for f in freezes.values())


def _key_of(ctx):
    """The DynamoDB key of the item the test wrote in the DR region (the demo table's own key)."""
    schema = ctx.client("dynamodb", PRIMARY).describe_table(TableName="orders")["Table"]["KeySchema"]
    assert [k["AttributeName"] for k in schema] == ["pk"], schema
    return {"pk": {"S": "written-in-dr"}}


@pytest.mark.parametrize("answer", ["Reject", None])
def test_reject_or_no_answer_changes_nothing(airflow_db, estate, moto, monkeypatch, tmp_path, answer):
    dr_failover = _variant(tmp_path, monkeypatch, ("  drill:\n", "  approval: {timeout: PT2S}\n  drill:\n"))
    with Recorder(moto) as rec, Approver(monkeypatch, answer=answer) as approver:
        run = dr_failover.dr_failover.test(run_conf=LIVE)
    assert approver.responses, "nobody saw the approval"
    states = _states(run)
    assert states["data_layer"] in ("skipped", "upstream_failed"), states
    writes = [c for c in rec.mutating() if not c[1].startswith("/awsdr-catalog/")]
    assert writes == [], writes  # zero mutating calls but the audit record
    audit = _catalog(ctx := estate, run.run_id, "audit.json")
    assert _cname(ctx) == ["app.ap-northeast-2.example.com"]
    if answer == "Reject":
        assert run.state == "success", states
        assert audit["outcome"] == "rejected"
        assert audit["approval"]["decision"] == "rejected"
    else:
        assert run.state == "failed", states
        assert states["approval"] == "failed"
        assert audit["approval"]["decision"] == "no answer"


def _tagged(ctx, region=DR):
    """Everything in ``region`` carrying awsdr:drill, by kind (the drill's leftovers)."""
    left = {}
    rds = ctx.client("rds", region)
    left["rds"] = [
        d["DBInstanceIdentifier"]
        for d in rds.describe_db_instances()["DBInstances"]
        if any(t["Key"] == "awsdr:drill" for t in d.get("TagList", []))
    ]
    left["aurora"] = [
        c["DBClusterIdentifier"]
        for c in rds.describe_db_clusters()["DBClusters"]
        if any(t["Key"] == "awsdr:drill" for t in c.get("TagList", []))
    ]
    left["dynamodb"] = [t for t in ctx.client("dynamodb", region).list_tables()["TableNames"] if "drill" in t]
    left["asg"] = [
        g["AutoScalingGroupName"]
        for g in ctx.client("autoscaling", region).describe_auto_scaling_groups()["AutoScalingGroups"]
        if any(t["Key"] == "awsdr:drill" for t in g.get("Tags", []))
    ]
    left["ecs"] = [s for s in ("api-drill",) if _ecs_desired(ctx, s) is not None]
    reservations = ctx.client("ec2", region).describe_instances(
        Filters=[
            {"Name": "tag-key", "Values": ["awsdr:drill"]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )["Reservations"]
    left["ec2"] = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    left["dns"] = [s["Name"] for s in record_value(ctx, "app.drill.example.com.")]
    return {k: v for k, v in left.items() if v}


def _promoted(ctx):
    db = ctx.client("rds", DR).describe_db_instances(DBInstanceIdentifier="orders-db-dr")["DBInstances"][0]
    return any(t["Key"] == "awsdr:promoted-at" for t in db.get("TagList", []))


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
def test_strategy_round_trip_loses_no_dr_write(airflow_db, estate, moto, tmp_path, monkeypatch, strategy):
    """Per strategy: failover, writes in the DR region, failback: every write home, DNS home."""
    ctx = estate
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


def test_missing_replica_stops_the_run_before_any_change(airflow_db, estate, moto, tmp_path, monkeypatch):
    ctx = estate
    # (moto cannot delete a cross-region replica: the policy names one that does not exist)
    dr_failover = _variant(tmp_path, monkeypatch, ("orders-db-dr}", "orders-db-gone}"))
    with Recorder(moto) as rec:
        run = dr_failover.dr_failover.test(run_conf=LIVE)
    assert run.state == "failed"
    states = _states(run)
    assert states["readiness"] == "failed"
    assert states["traffic"] == "upstream_failed"
    assert states["notify"] == "failed"  # fails the run without an AWS call
    assert rec.mutating() == [], rec.mutating()
    assert _cname(ctx) == ["app.ap-northeast-2.example.com"]


def test_failed_step_stops_before_traffic_and_a_retrigger_resumes(dags, estate, moto, monkeypatch):
    from awsdr.aws import compute

    ctx = estate
    real = compute.scale_ecs

    def broken(*args, **kwargs):
        raise compute.ComputeError("injected: the ECS API is down")

    monkeypatch.setattr(compute, "scale_ecs", broken)
    with Recorder(moto) as rec, Approver(monkeypatch) as approver:
        first = dags[0].dr_failover.test(run_conf=LIVE)
        states = _states(first)
        assert first.state == "failed"
        assert (states["data_layer"], states["compute"], states["traffic"]) == (
            "success",
            "failed",
            "upstream_failed",
        )
        assert _cname(ctx) == ["app.ap-northeast-2.example.com"], "traffic moved after a failure"
        audit = _catalog(ctx, first.run_id, "audit.json")
        assert audit["outcome"] == "failed"
        assert "compute" in audit["failed_tasks"]
        assert any(s["id"].startswith("traffic:") for s in [{"id": i} for i in audit["steps_not_run"]])

        monkeypatch.setattr(compute, "scale_ecs", real)
        second = dags[0].dr_failover.test(run_conf=LIVE)
    assert second.state == "success", _states(second)
    approved = [r for r in approver.responses if r[0] == 200]
    assert len(approved) == 2, approver.responses  # each run asked, and answered, once
    assert _cname(ctx) == ["app.ap-northeast-1.example.com"]
    # nothing done twice
    assert rec.count("PromoteReadReplica") == 1
    assert rec.count("RestoreDBClusterFromSnapshot") == 1
    assert rec.count("UpdateAutoScalingGroup") == 1
    outcomes = {s["id"]: s["outcome"] for s in _catalog(ctx, second.run_id, "audit.json")["steps"]}
    assert outcomes["data:promote_read_replica:rds/orders-db"] == "already"
    assert outcomes["data:restore_from_copy:aurora/ledger"] == "already"
    assert outcomes["compute:scale_asg:asg/web@ap-northeast-1"] == "already"
    assert outcomes["compute:scale_ecs:ecs/app/api@ap-northeast-1"] == "done"


def test_drill_leaves_nothing_behind(dags, estate):
    ctx = estate
    run = dags[0].dr_failover_drill.test()
    assert run.state == "success", _states(run)
    audit = _catalog(ctx, run.run_id, "audit.json")
    assert audit["drill"] is True
    assert audit["rto_seconds"] is not None
    teardown = [s for s in audit["steps"] if s["phase"] == "teardown"]
    assert len(teardown) == 5
    assert {r["outcome"] for r in teardown} == {"done"}
    made = {s["detail"].split(" from ")[0] for s in audit["steps"] if s["action"] == "restore_from_copy"}
    assert made == {"orders-db-drill", "ledger-drill", "orders-drill"}
    assert _tagged(ctx) == {}
    # the real standbys, replica and record were never touched
    assert _cname(ctx) == ["app.ap-northeast-2.example.com"]
    assert _asg(ctx) == (0, 0, 0)
    assert _ecs_desired(ctx) == 1
    assert not _promoted(ctx)


def test_data_layer_waits_deferred_holding_no_worker_slot(airflow_db, estate, moto, tmp_path, monkeypatch):
    """While AWS still promotes the replica, ``data_layer`` is deferred to this project's trigger:
    not running, no slot of the default pool occupied. (moto promotes at once: the status poll
    answers ``modifying`` for the replica until two deferrals were seen, then the real status.)"""
    from airflow.models.pool import Pool
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.sdk.execution_time import supervisor
    from airflow.utils.session import create_session

    from awsdr.kinds import _rds_common

    ctx = estate
    dr_failover = _variant(tmp_path, monkeypatch, ("  drill:\n", "  approval: {required: false}\n  drill:\n"))
    seen: list[dict] = []
    polls: list[str] = []  # what the phase's status poll answered for the replica, in order
    real_status = _rds_common.instance_status

    def pending_until_seen_twice(c, region, ids):
        states = real_status(c, region, ids)
        if "orders-db-dr" in states:
            # pending until two deferrals were seen (bounded: a blind spy must not hang the test)
            if len(seen) < 2 and len(polls) < 8:
                states["orders-db-dr"] = "modifying"
            polls.append(states["orders-db-dr"])
        return states

    real_run = supervisor.run_task_in_process

    def spy(*, ti, task):
        result = real_run(ti=ti, task=task)
        state = getattr(result.ti.state, "value", result.ti.state)  # the SDK's enum, or text
        if ti.task_id == "data_layer" and state == "deferred":
            with create_session() as session:
                row = session.query(TaskInstance).filter_by(id=ti.id).one()
                trigger = session.get(Trigger, row.trigger_id) if row.trigger_id else None
                running = (
                    session.query(TaskInstance)
                    .filter_by(dag_id=ti.dag_id, run_id=ti.run_id, state="running")
                    .count()
                )
                pool = session.query(Pool).filter_by(pool=Pool.DEFAULT_POOL_NAME).one()
                seen.append(
                    {
                        "state": str(row.state),
                        "classpath": trigger.classpath if trigger else None,
                        "running": running,
                        "occupied": pool.occupied_slots(session=session),
                        "last_poll": polls[-1] if polls else None,
                    }
                )
        return result

    monkeypatch.setattr(_rds_common, "instance_status", pending_until_seen_twice)
    monkeypatch.setattr(supervisor, "run_task_in_process", spy)
    run = dr_failover.dr_failover.test(run_conf=LIVE)
    assert run.state == "success", _states(run)
    assert len(seen) >= 2, seen
    assert polls[-1] == "available", polls  # and resumed to see it done
    for s in seen[:2]:
        assert s["state"] == "deferred", seen
        assert s["classpath"] == "awsdr.operators.failover_trigger.FailoverRoundTrigger", seen
        assert s["running"] == 0, seen  # nothing holds a worker while AWS works
        assert s["occupied"] == 0, seen
        assert s["last_poll"] == "modifying", seen  # deferred while the promotion was pending
    audit = _catalog(ctx, run.run_id, "audit.json")
    assert audit["approval"]["by"] == "policy"
    assert audit["approval"]["how"] == "approved by policy"
    promote = [s for s in audit["steps"] if s["action"] == "promote_read_replica"]
    assert promote[0]["outcome"] == "done", promote
    assert audit["rto_step_seconds"][promote[0]["id"]] > 0
