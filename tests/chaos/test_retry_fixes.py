"""The two bugs the kill harness found, each pinned by a direct test (fast, no worker).

1. A worker killed between DynamoDB ``CreateBackup`` and the backup's tags sidecar left a backup
   the retry reused as it was: no sidecar, so no listing showed it as the plan's point (never
   copied, never pruned, no content digest). The retry now writes the sidecar, with no second
   ``CreateBackup``.
2. A retention task retried in the same run numbered its audit batches from 0 again and
   overwrote the killed try's intent and reconciled outcome: the deletions the killed try made
   were no longer audited. Batches of a retry now come after the killed try's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import DR, PRIMARY


def test_a_backup_found_without_its_sidecar_gets_it_and_no_second_create(ctx):
    from awsdr.backup import capture_kind
    from awsdr.catalog import Catalog
    from awsdr.kinds import kind_for
    from awsdr.kinds.dynamodb import sidecar_key
    from awsdr.policy import load_policy
    from awsdr.windows import DYNAMODB_NAME, point_name

    policy = load_policy()
    Catalog(ctx, policy.catalog_bucket, policy.catalog_region).ensure()
    ddb = ctx.client("dynamodb", PRIMARY)
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "dr-plan", "Value": "gold"}],
    )
    window = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    # what the killed worker left: the backup, and nothing else
    ddb.create_backup(TableName="orders", BackupName=point_name(DYNAMODB_NAME, "gold", "orders", window))
    kind = kind_for("dynamodb", policy, "gold")
    assert kind.list_points(ctx, PRIMARY, "gold") == []  # not managed: invisible to copy and retention

    creates = []
    ctx.create_client("dynamodb", PRIMARY).meta.events.register(
        "before-call.dynamodb.CreateBackup", lambda **kw: creates.append(1)
    )
    result = capture_kind(
        ctx,
        kind,
        plan="gold",
        region=PRIMARY,
        selector={"dr-plan": "gold"},
        window=window,
        captured_at=datetime.now(tz=UTC),
        late_after=policy.late_after,
    )
    assert result.failures == []
    assert result.reused == ["orders"]
    assert result.created == []
    assert creates == []
    s3 = ctx.client("s3", policy.catalog_region)
    s3.head_object(Bucket=policy.catalog_bucket, Key=sidecar_key("gold", "orders", window))
    listed = kind.list_points(ctx, PRIMARY, "gold")
    assert [p.source_id for p in listed] == ["orders"]
    assert len(ddb.list_backups(TableName="orders")["BackupSummaries"]) == 1


def test_a_retried_retention_run_numbers_its_audit_batches_after_the_killed_try(ctx):
    from awsdr.catalog import Catalog
    from awsdr.retention import audit_key, next_seq

    ctx.client("s3", DR).create_bucket(Bucket="cat", CreateBucketConfiguration={"LocationConstraint": DR})
    cat = Catalog(ctx, "cat", DR)
    run = "scheduled__2026-12-02T02:15:00+00:00"
    assert next_seq(cat, run, "ebs", "gold") == 0
    cat.put_json(audit_key(run, "ebs", 0, "intent", "gold"), {"points": []})
    cat.put_json(audit_key(run, "ebs", 0, "outcome", "gold"), {"outcomes": {}})
    cat.put_json(audit_key(run, "ebs", 1, "intent", "gold"), {"points": []})
    assert next_seq(cat, run, "ebs", "gold") == 2
    assert next_seq(cat, run, "ebs", "silver") == 0
    assert next_seq(cat, run, "vault-ebs", "gold") == 0
    assert next_seq(cat, "scheduled__other", "ebs", "gold") == 0


def test_a_retried_drill_sweep_keeps_its_own_runs_restores_and_removes_a_dead_runs(ctx):
    """3. (kill point ``drill: mid-restore``) A drill's retried ``data_layer`` swept again and
    deleted the restores its killed try had made for this very run, then restored them a second
    time (moto refused the second Aurora restore; on AWS the name is still taken while deleting).
    The sweep keeps what is tagged with its own run id (the plan's ``keep``)."""
    from types import SimpleNamespace

    from awsdr.failover.handlers import sweep_drills
    from awsdr.planning import failover as fp
    from awsdr.policy import load_policy
    from awsdr.windows import TAG_DRILL

    this, dead = "manual__2026-12-03T06:00:00+00:00", "manual__2026-12-02T06:00:00+00:00"
    ddb, ec2, rds = (ctx.client(s, DR) for s in ("dynamodb", "ec2", "rds"))
    for run_id, name in ((this, "orders-drill"), (dead, "orders-drill-old")):
        tags = [{"Key": TAG_DRILL, "Value": run_id}, {"Key": "awsdr:managed", "Value": "true"}]
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=tags,
        )
        rds.create_db_cluster(
            DBClusterIdentifier=f"{name}-cl",
            Engine="aurora-postgresql",
            MasterUsername="dr",
            MasterUserPassword="drill-password-1",
            Tags=tags,
        )
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-db",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="dr",
            MasterUserPassword="drill-password-1",
            Tags=tags,
        )
        ec2.create_volume(
            AvailabilityZone=f"{DR}a",
            Size=1,
            TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
        )
    step = fp.Step(
        id=f"data:{fp.SWEEP_DRILLS}:drills@{DR}",
        phase="data",
        action=fp.SWEEP_DRILLS,
        target=f"drills@{DR}",
        aws_calls=[],
        mutating=True,
        region=DR,
        params={"tag_key": TAG_DRILL, "keep": this, "kinds": ["aurora", "dynamodb", "ebs", "rds"]},
    )
    out = sweep_drills(SimpleNamespace(ctx=ctx, policy=load_policy()), step, {})
    swept = out["swept"]
    assert "dynamodb:orders-drill-old" in swept
    assert "aurora:orders-drill-old-cl" in swept
    assert "rds:orders-drill-old-db" in swept
    assert not any("orders-drill-old" not in s and not s.startswith("ebs:") for s in swept), swept

    def drill_of(tags):
        return {t["Key"]: t["Value"] for t in tags or []}.get(TAG_DRILL)

    assert "orders-drill" in ddb.list_tables()["TableNames"]
    assert "orders-drill-old" not in ddb.list_tables()["TableNames"] or (
        ddb.describe_table(TableName="orders-drill-old")["Table"]["TableStatus"] == "DELETING"
    )
    clusters = {c["DBClusterIdentifier"]: c.get("Status") for c in rds.describe_db_clusters()["DBClusters"]}
    assert clusters.get("orders-drill-cl") not in (None, "deleting")
    instances = {
        d["DBInstanceIdentifier"]: d.get("DBInstanceStatus")
        for d in rds.describe_db_instances()["DBInstances"]
    }
    assert instances.get("orders-drill-db") not in (None, "deleting")
    volumes = {drill_of(v.get("Tags")) for v in ec2.describe_volumes()["Volumes"] if v["State"] != "deleting"}
    assert this in volumes
    assert dead not in volumes


def test_the_runner_waits_out_every_kind_of_trigger(monkeypatch):
    """The in-process runner resumes a deferral at its trigger's moment (capped by
    AWSDR_RUNNER_MAX_WAIT): Airflow's timers carry a datetime, the failover round trigger ISO
    text (a full make chaos failed all 6 failover kill points on that, before the fix)."""
    from datetime import UTC, datetime, timedelta

    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

    from awsdr.operators.failover_trigger import FailoverRoundTrigger
    from chaos.kill import _resume_after

    monkeypatch.delenv("AWSDR_RUNNER_MAX_WAIT", raising=False)
    rounds = FailoverRoundTrigger.after(5, {}, phase="data_layer")
    timer = TimeDeltaTrigger(timedelta(seconds=5))
    assert isinstance(rounds.moment, str)
    assert _resume_after(rounds) == 0.2  # the chaos default: at once
    assert _resume_after(timer) == 0.2
    monkeypatch.setenv("AWSDR_RUNNER_MAX_WAIT", "30")
    assert 4 <= _resume_after(rounds) <= 5
    assert 4 <= _resume_after(timer) <= 5
    past = FailoverRoundTrigger(moment=(datetime.now(UTC) - timedelta(seconds=9)).isoformat(), state={})
    assert _resume_after(past) == 0.2
