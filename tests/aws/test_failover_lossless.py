"""Fencing, write freezes and lossless failback handlers against moto (no DAG: quick).

moto accepts DynamoDB resource policies and S3 bucket policies but does not enforce them: the
tests check the policies are in place and that the data moved, not that AWS refused a write.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import DR, PRIMARY
from failover_support import replica_lag_zero

from awsdr.aws import route53
from awsdr.failover import fencing, handlers, reconcile
from awsdr.planning import failover as fp
from awsdr.policy import load_policy


def _table(ctx, region, name, items):
    ddb = ctx.client("dynamodb", region)
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for key, value in items.items():
        ddb.put_item(TableName=name, Item={"pk": {"S": key}, "v": {"S": value}})


def _items(ctx, region, name):
    scan = ctx.client("dynamodb", region).scan(TableName=name)["Items"]
    return {i["pk"]["S"]: i["v"]["S"] for i in scan}


def _step(action, target, region, **params):
    return fp.Step(
        id=f"data:{action}:{target}",
        phase=fp.DATA,
        action=action,
        target=target,
        aws_calls=[],
        mutating=True,
        region=region,
        params=params,
    )


@pytest.fixture
def run(ctx):
    return handlers.Run(ctx=ctx, policy=load_policy(), run_id="manual__t1")


def _sids(policy_text):
    return [s["Sid"] for s in json.loads(policy_text)["Statement"]]


def test_fence_a_reachable_table_and_record_an_unreachable_one(ctx, run):
    _table(ctx, PRIMARY, "orders", {"a": "1"})
    step = _step(
        fp.FENCE_PRIMARY,
        "dynamodb/orders",
        PRIMARY,
        kind="dynamodb",
        name="orders",
        reachable=fp.REACHABLE,
        method="table policy denies writes",
    )
    got = handlers.HANDLERS[fp.FENCE_PRIMARY](run, step, {})
    assert got["outcome"] == "done"
    assert got["fenced"] is True
    arn = ctx.client("dynamodb", PRIMARY).describe_table(TableName="orders")["Table"]["TableArn"]
    policy = ctx.client("dynamodb", PRIMARY).get_resource_policy(ResourceArn=arn)["Policy"]
    statement = json.loads(policy)["Statement"][0]
    assert statement["Sid"] == fencing.FENCE_SID
    assert statement["Effect"] == "Deny"
    assert "dynamodb:PutItem" in statement["Action"]
    # again: already, nothing sent twice
    assert handlers.HANDLERS[fp.FENCE_PRIMARY](run, step, {})["outcome"] == "already"
    down = _step(
        fp.FENCE_PRIMARY,
        "dynamodb/orders",
        PRIMARY,
        kind="dynamodb",
        name="orders",
        reachable=fp.UNREACHABLE,
        method="x",
    )
    got = handlers.HANDLERS[fp.FENCE_PRIMARY](run, down, {})
    assert got["fenced"] is False
    assert got["detail"].startswith("NOT FENCED")


def test_probe_tells_a_dead_region_from_a_missing_resource(ctx, moto):
    from awsdr.aws.context import AwsContext

    assert fencing.probe(ctx, "dynamodb", PRIMARY, "nope")[0] == "missing"
    dead = AwsContext.from_boto3(endpoint_url="http://127.0.0.1:9")  # nothing listens on port 9
    sent: list[str] = []
    dead.probe_client("rds", PRIMARY).meta.events.register("before-send", lambda **kw: sent.append("x"))
    reach, why = fencing.probe(dead, "rds", PRIMARY, "orders-db")
    assert reach == "unreachable"
    assert "does not answer" in why
    # a dead region costs two attempts per probe, not the ten adaptive retries of every other call
    assert len(sent) == 2, sent


def test_fence_a_reachable_rds_primary_stops_it(ctx, run):
    ctx.client("rds", PRIMARY).create_db_instance(
        DBInstanceIdentifier="solo-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="u",
        MasterUserPassword="password1",
        AllocatedStorage=20,
    )
    step = _step(
        fp.FENCE_PRIMARY,
        "rds/solo-db",
        PRIMARY,
        kind="rds",
        name="solo-db",
        reachable=fp.REACHABLE,
        method="StopDBInstance",
        record=None,
        replica=None,
    )
    got = handlers.HANDLERS[fp.FENCE_PRIMARY](run, step, {})
    assert got["fenced"] is True
    status = ctx.client("rds", PRIMARY).describe_db_instances(DBInstanceIdentifier="solo-db")
    assert status["DBInstances"][0]["DBInstanceStatus"] in ("stopped", "stopping")


def test_dynamodb_failback_freezes_backs_up_and_reconciles_into_the_original_table(ctx, run):
    # home: the stale table (fenced by the failover); DR: the table that served meanwhile
    _table(ctx, PRIMARY, "orders", {"a": "old", "gone-in-dr": "x", "same": "s"})
    fencing.deny_table_writes(ctx, PRIMARY, "orders", fencing.FENCE_SID)
    _table(ctx, DR, "orders", {"a": "new", "same": "s", "written-in-dr": "w"})
    step = _step(
        fp.RECONCILE_TABLE,
        "dynamodb/orders",
        PRIMARY,
        kind="dynamodb",
        table="orders",
        dr_table="orders",
        dr_region=DR,
    )
    memo: dict = {}
    got = None
    for _ in range(5):  # rounds (moto's backup is AVAILABLE at once)
        try:
            got = handlers.HANDLERS[fp.RECONCILE_TABLE](run, step, memo)
            break
        except handlers.StillWaiting:
            continue
    assert got is not None
    assert got["outcome"] == "done"
    assert _items(ctx, PRIMARY, "orders") == {"a": "new", "same": "s", "written-in-dr": "w"}
    assert got["reconciled"] == {"items": 3, "written": 2, "deleted": 1, "unchanged": 1, "dr_items": 3}
    assert got["freeze"]["seconds"] >= 0
    assert got["fence_lifted"] is True
    # the DR table is frozen; the home fence is gone; the stale table's final backup is tagged on it
    assert fencing.table_denies_writes(ctx, DR, "orders", fencing.FREEZE_SID)
    assert not fencing.table_denies_writes(ctx, PRIMARY, "orders", fencing.FENCE_SID)
    ddb = ctx.client("dynamodb", PRIMARY)
    arn = ddb.describe_table(TableName="orders")["Table"]["TableArn"]
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags[reconcile.TAG_FINAL_BACKUP] == got["final_backup"]
    backup = ddb.describe_backup(BackupArn=got["final_backup"])["BackupDescription"]
    assert backup["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    # a later round changes nothing
    again = handlers.HANDLERS[fp.RECONCILE_TABLE](run, step, memo)
    assert again["outcome"] == "already"


def test_s3_failback_copies_the_applications_dr_writes_home(ctx, run):
    s3h, s3d = ctx.client("s3", PRIMARY), ctx.client("s3", DR)
    s3h.create_bucket(Bucket="app-home", CreateBucketConfiguration={"LocationConstraint": PRIMARY})
    s3d.create_bucket(Bucket="app-dr", CreateBucketConfiguration={"LocationConstraint": DR})
    s3h.put_object(Bucket="app-home", Key="old.txt", Body=b"old")
    # the product's copy of old.txt, then what applications wrote during the failover
    s3d.put_object(Bucket="app-dr", Key="old.txt", Body=b"old", Metadata={"awsdr-source-version-id": "v1"})
    s3d.put_object(Bucket="app-dr", Key="new/1.txt", Body=b"one")
    s3d.put_object(Bucket="app-dr", Key="new/2.txt", Body=b"two")
    fencing.deny_bucket_writes(ctx, PRIMARY, "app-home", fencing.FENCE_SID)
    step = _step(
        fp.SYNC_BUCKET_HOME, "s3/app-home", PRIMARY, bucket="app-home", dr_bucket="app-dr", dr_region=DR
    )
    got = handlers.HANDLERS[fp.SYNC_BUCKET_HOME](run, step, {})
    assert got["reconciled"]["objects"] == 2
    assert got["reconciled"]["skipped_product_copies"] == 1
    assert s3h.get_object(Bucket="app-home", Key="new/2.txt")["Body"].read() == b"two"
    assert fencing.bucket_denies_writes(ctx, DR, "app-dr", fencing.FREEZE_SID)
    assert not fencing.bucket_denies_writes(ctx, PRIMARY, "app-home", fencing.FENCE_SID)


def test_rds_failback_reverse_replica_waits_for_the_freeze_and_zero_lag(ctx, run, monkeypatch):
    rds = ctx.client("rds", DR)
    rds.create_db_instance(
        DBInstanceIdentifier="orders-db-dr",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="u",
        MasterUserPassword="password1",
        AllocatedStorage=20,
        BackupRetentionPeriod=1,
    )
    ctx.client("route53", "us-east-1").create_hosted_zone(Name="example.com.", CallerReference="t")
    step = _step(
        fp.REVERSE_REPLICA,
        "rds/orders-db",
        PRIMARY,
        kind="rds",
        source="orders-db",
        dr_region=DR,
        dr_writer="orders-db-dr",
        name="orders-db-failback",
        record="orders-db.example.com.",
        ttl=30,
        kms_key=None,
        tags={},
    )
    memo: dict = {}
    # round 1 creates the home replica and waits for it; round 2 moves the record (the freeze)
    # and waits out its TTL
    with pytest.raises(handlers.StillWaiting, match="creating"):
        handlers.HANDLERS[fp.REVERSE_REPLICA](run, step, memo)
    with pytest.raises(handlers.StillWaiting, match="TTL"):
        handlers.HANDLERS[fp.REVERSE_REPLICA](run, step, memo)
    # the freeze: the record already points at the read-only home replica
    home = ctx.client("rds", PRIMARY).describe_db_instances(DBInstanceIdentifier="orders-db-failback")
    endpoint = home["DBInstances"][0]["Endpoint"]["Address"]
    assert reconcile.record_value(ctx, "orders-db.example.com.") == endpoint
    memo["freeze_started_at"] = "2020-01-01T00:00:00Z"  # the TTL has passed
    with pytest.raises(handlers.StillWaiting, match="ReplicaLag unknown"):
        handlers.HANDLERS[fp.REVERSE_REPLICA](run, step, memo)
    replica_lag_zero(ctx.client("cloudwatch", PRIMARY))
    with pytest.raises(handlers.StillWaiting, match="promoting"):
        handlers.HANDLERS[fp.REVERSE_REPLICA](run, step, memo)
    got = handlers.HANDLERS[fp.REVERSE_REPLICA](run, step, memo)
    assert got["outcome"] == "done"
    assert got["reconciled"]["replica_lag_at_promotion"] == 0.0
    assert got["freeze"]["how"].startswith("orders-db.example.com.")
    zone = route53.zone_for(ctx, "orders-db.example.com")
    assert zone is not None
    assert zone[1] == "example.com."


def test_a_killed_drills_leftovers_are_swept_by_the_next_drill(ctx, run):
    """A drill killed mid-way left a restored table and an instance tagged awsdr:drill=<its run>;
    the next drill's first data step deletes them, leaves untagged resources, and says so once."""
    from awsdr.aws.context import tag_list

    _table(ctx, DR, "orders-drill", {"a": "1"})
    _table(ctx, DR, "orders", {"b": "2"})  # a real table: never swept
    ddb = ctx.client("dynamodb", DR)
    arn = ddb.describe_table(TableName="orders-drill")["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=tag_list({fp.TAG_DRILL: "manual__killed"}))
    ec2 = ctx.client("ec2", DR)
    image = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*x86_64-gp2"]}]
    )["Images"][0]["ImageId"]
    ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": fp.TAG_DRILL, "Value": "manual__killed"}]}
        ],
    )
    step = _step(
        fp.SWEEP_DRILLS, f"drills@{DR}", DR, tag_key=fp.TAG_DRILL, keep="manual__t1", kinds=["dynamodb"]
    )
    memo: dict = {}
    got = handlers.HANDLERS[fp.SWEEP_DRILLS](run, step, memo)
    assert got["outcome"] == "done", got
    assert "dynamodb:orders-drill" in got["swept"], got
    assert any(x.startswith("ec2:") for x in got["swept"]), got
    assert "orders" in ddb.list_tables()["TableNames"]
    assert "orders-drill" not in ddb.list_tables()["TableNames"]
    live = ec2.describe_instances(
        Filters=[
            {"Name": "tag-key", "Values": [fp.TAG_DRILL]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )["Reservations"]
    assert [i for r in live for i in r["Instances"]] == []
    # a later round of the same run does not sweep (by then the tagged restores are its own)
    assert handlers.HANDLERS[fp.SWEEP_DRILLS](run, step, memo)["outcome"] == "already"


def test_aurora_failback_freezes_the_dr_writer_before_its_snapshot_and_restores_it_at_home(ctx):
    """Aurora without a global database: the DR cluster is frozen (security groups swapped for
    one with no inbound rule, writer rebooted) before the snapshot sent home is taken, so every
    write made in the DR region is in ``<name>-failback``; the audit gets the freeze."""
    from awsdr.failover.steps import run_data_steps

    policy = load_policy()
    ec2, rds = ctx.client("ec2", DR), ctx.client("rds", DR)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    app_sg = ec2.create_security_group(GroupName="ledger-app", Description="app", VpcId=vpc)["GroupId"]
    rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        MasterUsername="u",
        MasterUserPassword="password1",
        VpcSecurityGroupIds=[app_sg],
        StorageEncrypted=True,
        KmsKeyId=ctx.client("kms", DR).create_key()["KeyMetadata"]["Arn"],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="ledger-1",
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    home_key = ctx.client("kms", PRIMARY).create_key()["KeyMetadata"]["Arn"]
    plan = fp.plan_runbook(
        policy.failover,
        strategy="backup-restore",
        primary_region=PRIMARY,
        dr_regions=policy.dr_regions,
        target_region=DR,
        direction=fp.FAILBACK,
        run_id="manual__t1",
        facts={},
        kms_key=home_key,
    )
    step = next(s for s in plan if s.target == "aurora/ledger" and s.phase == fp.DATA)
    assert step.action == fp.RESYNC_TO_PRIMARY
    assert step.params["freeze"] is True
    order: list[str] = []
    for op in ("ModifyDBCluster", "RebootDBInstance", "CreateDBClusterSnapshot"):
        rds.meta.events.register(f"before-call.rds.{op}", lambda op=op, **_: order.append(op))
    memo: dict = {}
    window = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    results = run_data_steps(ctx, policy, [step], window=window, run_id="manual__t1", memo=memo)
    assert [r["outcome"] for r in results] in (["done"], ["waiting"]), results[0]["detail"]
    # the freeze comes before the capture: nothing written after the snapshot is left behind
    assert order[:3] == ["ModifyDBCluster", "RebootDBInstance", "CreateDBClusterSnapshot"], order
    cl = rds.describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"][0]
    groups = [g["VpcSecurityGroupId"] for g in cl["VpcSecurityGroups"]]
    freeze = ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]
    assert [g["GroupName"] for g in freeze] == ["awsdr-freeze-ledger"]
    assert freeze[0]["IpPermissions"] == []
    assert freeze[0]["VpcId"] == vpc
    tags = {t["Key"]: t["Value"] for t in cl["TagList"]}
    assert tags[fencing.TAG_FREEZE_GROUPS] == app_sg  # how to lift it
    home = ctx.client("rds", PRIMARY).describe_db_clusters(DBClusterIdentifier="ledger-failback")[
        "DBClusters"
    ]
    assert home
    # until the restore is available the step waits; the next round finds it and carries the freeze
    for _ in range(3):
        if results[0]["outcome"] == "done" or results[0].get("freeze"):
            break
        results = run_data_steps(ctx, policy, [step], window=window, run_id="manual__t1", memo=memo)
    assert results[0]["freeze"]["how"].startswith("ledger in ap-northeast-1: security groups ->")
    assert results[0]["freeze"]["seconds"] >= 0
    assert results[0]["reconciled"] == {"snapshot_after_freeze": True}
    # a second round freezes, captures and restores nothing again
    order.clear()
    again = run_data_steps(ctx, policy, [step], window=window, run_id="manual__t1", memo=memo)
    assert again[0]["outcome"] in ("already", "done")
    assert order == []
