"""dr_failover, dr_failback and dr_failover_drill end to end (``dag.test()``) against moto."""

from __future__ import annotations

import importlib
import json

import pytest
from conftest import DR, PRIMARY
from failover_support import Approver, Recorder, make_dr_copies, record_value, replica_lag_zero

#: Live runs stop at the approval (issue 10): the tests answer it through the REST API
#: (failover_support.Approver), or the policy variant says ``approval: {required: false}``.
LIVE = {"dry_run": False, "confirm": DR, "target_region": DR, "reason": "test: region outage drill"}


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


def test_dry_run_plans_and_changes_nothing(failover_dags, failover_estate, moto):
    ctx = failover_estate
    with Recorder(moto) as rec:
        run = failover_dags[0].dr_failover.test(run_conf={"target_region": DR})
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


def test_wrong_confirmation_fails_before_any_aws_call(failover_dags, failover_estate, moto):
    with Recorder(moto) as rec:
        run = failover_dags[0].dr_failover.test(run_conf={**LIVE, "confirm": "ap-northeast-2"})
    assert run.state == "failed"
    states = _states(run)
    assert states["validate_params"] == "failed"
    assert states["readiness"] == "upstream_failed"
    assert rec.calls() == [], rec.calls()[:10]


def _replica_lag_zero(ctx, ident="orders-db-failback"):
    replica_lag_zero(ctx.client("cloudwatch", PRIMARY), ident)


def test_pilot_light_failover_dr_writes_then_lossless_failback(
    failover_dags, failover_estate, moto, monkeypatch
):
    ctx = failover_estate
    from awsdr.kinds.s3 import dr_bucket_name

    make_dr_copies(ctx, ("s3",))
    with Recorder(moto) as rec, Approver(monkeypatch) as approver:
        run = failover_dags[0].dr_failover.test(run_conf=LIVE)
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
        back = failover_dags[1].dr_failback.test(run_conf={**LIVE, "reason": "primary is back"})
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
def test_reject_or_no_answer_changes_nothing(
    airflow_db, failover_estate, moto, monkeypatch, tmp_path, answer
):
    dr_failover = _variant(tmp_path, monkeypatch, ("  drill:\n", "  approval: {timeout: PT2S}\n  drill:\n"))
    with Recorder(moto) as rec, Approver(monkeypatch, answer=answer) as approver:
        run = dr_failover.dr_failover.test(run_conf=LIVE)
    assert approver.responses, "nobody saw the approval"
    states = _states(run)
    assert states["data_layer"] in ("skipped", "upstream_failed"), states
    writes = [c for c in rec.mutating() if not c[1].startswith("/awsdr-catalog/")]
    assert writes == [], writes  # zero mutating calls but the audit record
    audit = _catalog(ctx := failover_estate, run.run_id, "audit.json")
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


def test_missing_replica_stops_the_run_before_any_change(
    airflow_db, failover_estate, moto, tmp_path, monkeypatch
):
    ctx = failover_estate
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


def test_drill_leaves_nothing_behind(failover_dags, failover_estate):
    ctx = failover_estate
    run = failover_dags[0].dr_failover_drill.test()
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
