"""The pure failover planner (``awsdr.planning.failover``) and the trigger form's validation."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException
from hypothesis import given
from hypothesis import strategies as st

from awsdr.operators.failover_params import failover_params, validate_failover_params
from awsdr.planning import failover as fp
from awsdr.policy import FAILOVER_STRATEGIES, parse_policy

PRIMARY, DR = "ap-northeast-2", "ap-northeast-1"

POLICY_TEXT = """\
version: 1
primary_region: ap-northeast-2
dr_regions: [ap-northeast-1, ap-northeast-3]
catalog_bucket: awsdr-catalog
kms_keys: {ap-northeast-1: alias/awsdr, ap-northeast-3: alias/awsdr}
notifications: {sns_topic_arn: 'arn:aws:sns:ap-northeast-1:123456789012:awsdr-alerts'}
plans:
  gold:
    schedule: "0 * * * *"
    rpo: PT1H
    rto: PT30M
    select: {tags: {dr-plan: gold}}
failover:
  dns:
    zone: example.com
    routing: {routing}
    records:
      - name: app.example.com
        primary: app.ap-northeast-2.example.com
        dr: {ap-northeast-1: app.ap-northeast-1.example.com, ap-northeast-3: app.ap-northeast-3.example.com}
      - name: example.com
        type: A
        primary: 10.0.0.1
        dr: {ap-northeast-1: 10.1.0.1, ap-northeast-3: 10.3.0.1}
  health_checks:
    - url: https://app.ap-northeast-1.example.com/health
      region: ap-northeast-1
    - name: app-primary
      region: ap-northeast-2
    - id: 0b6a8f52-3e8a-4c1e-9d0a-6d8e0f1a2b3c
  databases:
    - rds: orders-db
      replicas: {ap-northeast-1: orders-db-dr}
    - aurora: ledger
      global_cluster: ledger-global
      replicas: {ap-northeast-1: ledger-tokyo}
    - aurora: reports
    - dynamodb: orders
      replicas: {ap-northeast-1: orders}
    - dynamodb: sessions
  compute:
    - asg: web
      region: ap-northeast-1
      capacity: {min: 2, desired: 2, max: 4}
    - ecs: {cluster: app, service: api, region: ap-northeast-1, desired: 3, resting: 1}
    - asg: web-osaka
      region: ap-northeast-3
      capacity: {min: 1, desired: 1, max: 2}
  ami_launch:
    - source: orders-web-0
      instance_type: t3.small
      subnet: {ap-northeast-1: subnet-0123abcd}
"""

FACTS = {
    "databases": {
        "rds/orders-db": {"replica_status": "available", "promoted": False, "newest_copy": None},
        "aurora/reports": {"newest_copy": {"point_id": "awsdr-gold-reports-20261124t1000z", "region": DR}},
        "dynamodb/sessions": {"newest_copy": {"point_id": "arn:aws:dynamodb:x:backup/1", "region": DR}},
        "aurora/ledger": {"newest_copy": {"point_id": "awsdr-gold-ledger-20261124t1000z", "region": DR}},
    },
    "compute": {
        "asg/web@ap-northeast-1": {"min": 0, "desired": 0, "max": 0},
        "ecs/app/api@ap-northeast-1": {"desired": 1},
    },
    "amis": {"orders-web-0": {"image_id": "ami-0copy", "instance_id": "i-0abc"}},
    "dns": {"zone_id": "/hostedzone/Z1"},
    "health_checks": {"app-primary": "11111111-2222-3333-4444-555555555555"},
    "account_id": "123456789012",
}


def policy(routing: str = "simple"):
    return parse_policy(POLICY_TEXT.replace("{routing}", routing), "p.yaml")


def plan(
    strategy: str, *, direction: str = fp.FAILOVER, drill: bool = False, routing: str = "simple", target=DR
):
    p = policy(routing)
    assert p.failover is not None
    return fp.plan_runbook(
        p.failover,
        strategy=strategy,
        primary_region=PRIMARY,
        dr_regions=p.dr_regions,
        target_region=target,
        direction=direction,
        drill=drill,
        run_id="manual__2026-11-25T00:00:00+00:00",
        facts=FACTS,
        kms_key="alias/awsdr",
        sns_topic_arn=p.sns_topic_arn,
        catalog=(p.catalog_bucket, p.catalog_region),
    )


def by_target(steps, phase):
    return {s.target: s for s in steps if s.phase == phase}


def phases(steps):
    out: list[str] = []
    for s in steps:
        if not out or out[-1] != s.phase:
            out.append(s.phase)
    return out


@pytest.mark.parametrize("strategy", FAILOVER_STRATEGIES)
def test_failover_order_is_data_then_compute_then_traffic(strategy: str) -> None:
    steps = plan(strategy)
    assert phases(steps) == ["preflight", "data", "compute", "traffic", "verify", "notify"]
    assert steps[0].mutating is False
    assert len({s.id for s in steps}) == len(steps)
    assert all(s.aws_calls for s in steps)
    assert [s.action for s in steps if s.phase == "traffic"][-1] == fp.WAIT_INSYNC
    for step in steps:
        assert fp.Step.from_dict(step.to_dict()) == step


def test_backup_restore_restores_everything_and_launches_from_copied_amis() -> None:
    steps = plan("backup-restore")
    data = by_target(steps, "data")
    assert {s.action for s in data.values()} == {fp.RESTORE_FROM_COPY}
    assert data["aurora/reports"].params["name"] == "reports"  # the source's own name in DR
    assert "SnapshotIdentifier=awsdr-gold-reports-20261124t1000z" in data["aurora/reports"].aws_calls[0]
    assert "NO DR copy" in data["rds/orders-db"].note
    compute = [s for s in steps if s.phase == "compute"]
    assert [s.action for s in compute] == [fp.LAUNCH_FROM_AMI]
    call = compute[0].aws_calls[0]
    assert "ImageId=ami-0copy" in call
    assert "InstanceType=t3.small" in call
    assert "SubnetId=subnet-0123abcd" in call
    assert compute[0].params["launch_key"] == f"failover/{DR}/orders-web-0"
    assert not any(s.action in (fp.SCALE_ASG, fp.SCALE_ECS) for s in steps)


@pytest.mark.parametrize("strategy", ["pilot-light", "warm-standby"])
def test_pilot_light_and_warm_standby_promote_then_scale(strategy: str) -> None:
    steps = plan(strategy)
    data = by_target(steps, "data")
    assert data["rds/orders-db"].action == fp.PROMOTE_READ_REPLICA
    assert data["rds/orders-db"].aws_calls[0] == (
        f"rds.promote_read_replica(DBInstanceIdentifier=orders-db-dr) in {DR}"
    )
    assert data["aurora/ledger"].action == fp.FAILOVER_GLOBAL_CLUSTER
    assert (
        "arn:aws:rds:ap-northeast-1:123456789012:cluster:ledger-tokyo" in data["aurora/ledger"].aws_calls[0]
    )
    assert data["aurora/reports"].action == fp.RESTORE_FROM_COPY
    assert data["dynamodb/orders"].action == fp.CHECK_GLOBAL_TABLE
    assert data["dynamodb/orders"].mutating is False
    assert data["dynamodb/sessions"].action == fp.RESTORE_FROM_COPY
    compute = by_target(steps, "compute")
    assert set(compute) == {"asg/web@ap-northeast-1", "ecs/app/api@ap-northeast-1"}  # not Osaka's
    assert compute["asg/web@ap-northeast-1"].params["size"] == {"min": 2, "desired": 2, "max": 4}
    assert compute["asg/web@ap-northeast-1"].note.startswith("from 0/0/0 to 2/2/4")
    assert "desiredCount=3" in compute["ecs/app/api@ap-northeast-1"].aws_calls[0]
    if strategy == "pilot-light":
        assert "above zero" in compute["ecs/app/api@ap-northeast-1"].note
    else:
        assert "pilot light" in compute["asg/web@ap-northeast-1"].note
    traffic = by_target(steps, "traffic")
    assert traffic["app.example.com. CNAME"].params["records"] == [
        {"type": "CNAME", "ttl": 60, "name": "app.example.com.", "value": "app.ap-northeast-1.example.com"}
    ]
    assert traffic["example.com. A"].params["records"][0]["value"] == "10.1.0.1"


def test_active_active_moves_weights_and_keeps_global_tables() -> None:
    steps = plan("active-active", routing="weighted")
    data = by_target(steps, "data")
    assert data["dynamodb/orders"].action == fp.CHECK_GLOBAL_TABLE
    assert data["aurora/ledger"].action == fp.FAILOVER_GLOBAL_CLUSTER  # one writer: it moves
    records = by_target(steps, "traffic")["app.example.com. CNAME"].params["records"]
    assert {r["set_identifier"]: r["weight"] for r in records} == {PRIMARY: 0, DR: 100}
    assert "topped up" in by_target(steps, "compute")["asg/web@ap-northeast-1"].note


def test_weighted_failback_restores_both_weights() -> None:
    steps = plan("active-active", routing="weighted", direction=fp.FAILBACK)
    records = by_target(steps, "traffic")["app.example.com. CNAME"].params["records"]
    assert {r["set_identifier"]: r["weight"] for r in records} == {PRIMARY: 100, DR: 100}


def test_failback_resyncs_home_then_moves_traffic_then_rests_the_standbys() -> None:
    steps = plan("pilot-light", direction=fp.FAILBACK)
    assert phases(steps) == ["preflight", "data", "traffic", "verify", "compute", "notify"]
    data = by_target(steps, "data")
    rds = data["rds/orders-db"]
    # RDS fails back losslessly: a home read replica of the DR writer behind the database's
    # record (the write freeze), promoted at zero lag; no snapshot, so no write made after it is lost
    assert rds.action == fp.REVERSE_REPLICA
    assert rds.region == PRIMARY
    assert rds.params["dr_writer"] == "orders-db-dr"
    assert rds.params["name"] == "orders-db-failback"
    assert "rds.create_db_instance_read_replica(orders-db-failback" in rds.aws_calls[0]
    assert "KmsKeyId=alias/awsdr" in rds.aws_calls[0]
    assert "ReplicaLag" in rds.aws_calls[2]
    # Aurora without a global database still comes back from a snapshot (readiness warns)
    assert data["aurora/reports"].action == fp.RESYNC_TO_PRIMARY
    assert data["aurora/reports"].params["dr_writer"] == "reports"  # restored under its own name
    assert data["aurora/ledger"].action == fp.FAILOVER_GLOBAL_CLUSTER
    assert data["aurora/ledger"].params["allow_data_loss"] is False  # a planned switchover
    assert data["dynamodb/orders"].action == fp.CHECK_GLOBAL_TABLE
    traffic = by_target(steps, "traffic")["app.example.com. CNAME"]
    assert traffic.params["records"][0]["value"] == "app.ap-northeast-2.example.com"
    compute = by_target(steps, "compute")
    assert compute["asg/web@ap-northeast-1"].params["size"] == {"min": 0, "desired": 0, "max": 0}
    assert compute["ecs/app/api@ap-northeast-1"].params["desired"] == 1
    verify = [s for s in steps if s.phase == "verify"]
    assert [s.target for s in verify] == [
        "route53 name app-primary",
        "route53:0b6a8f52-3e8a-4c1e-9d0a-6d8e0f1a2b3c",
    ]
    assert "11111111-2222-3333-4444-555555555555" in verify[0].aws_calls[0]


def test_backup_restore_failback_terminates_the_launched_instances() -> None:
    steps = plan("backup-restore", direction=fp.FAILBACK)
    compute = [s for s in steps if s.phase == "compute"]
    assert [s.action for s in compute] == [fp.TERMINATE_LAUNCHED]
    assert compute[0].params["launch_key"] == f"failover/{DR}/orders-web-0"


def test_verify_checks_only_what_applies_to_the_serving_region() -> None:
    targets = [s.target for s in plan("pilot-light") if s.phase == "verify"]
    assert targets == [
        "https://app.ap-northeast-1.example.com/health",
        "route53:0b6a8f52-3e8a-4c1e-9d0a-6d8e0f1a2b3c",
    ]


@pytest.mark.parametrize("strategy", FAILOVER_STRATEGIES)
def test_drill_is_isolated_and_torn_down(strategy: str) -> None:
    steps = plan(strategy, drill=True)
    assert phases(steps) == ["preflight", "data", "compute", "traffic", "verify", "notify", "teardown"]
    data = by_target(steps, "data")
    # a drill never promotes: it restores from copies, after sweeping what a killed drill left
    assert {s.action for s in data.values()} == {fp.RESTORE_FROM_COPY, fp.SWEEP_DRILLS}, (
        "a drill never promotes"
    )
    assert data["rds/orders-db"].params["name"] == "orders-db-drill"
    assert data["dynamodb/orders"].params["name"] == "orders-drill"
    restores = [s for s in data.values() if s.action == fp.RESTORE_FROM_COPY]
    assert all(s.params["tags"] == {"awsdr:drill": "manual__2026-11-25T00:00:00+00:00"} for s in restores)
    sweep = data[f"drills@{DR}"]
    assert sweep.params["tag_key"] == "awsdr:drill"
    assert sweep.params["keep"] == "manual__2026-11-25T00:00:00+00:00"  # never this drill's own restores
    compute = [s for s in steps if s.phase == "compute"]
    assert not any(s.action in (fp.SCALE_ASG, fp.SCALE_ECS) for s in compute), "real standbys untouched"
    if strategy != "backup-restore":
        assert {s.action for s in compute} == {fp.CLONE_ASG, fp.CLONE_ECS}
        assert {s.params["name"] for s in compute} == {"web-drill", "api-drill"}
    traffic = [s for s in steps if s.action == fp.UPSERT_RECORDS]
    names = [r["name"] for s in traffic for r in s.params["records"]]
    assert names == ["app.drill.example.com.", "drill.example.com."]
    assert all("set_identifier" not in r for s in traffic for r in s.params["records"])
    teardown = [s for s in steps if s.phase == "teardown"]
    assert {s.action for s in teardown} == {
        fp.CLEANUP_RESTORES,
        fp.DELETE_DRILL_COMPUTE,
        fp.DELETE_DRILL_RECORDS,
    }
    assert by_target(teardown, "teardown")["example.com."].params["names"] == names
    assert teardown[-1].phase == steps[-1].phase == "teardown"


def test_failback_drill_sends_copies_home_under_drill_names() -> None:
    steps = plan("pilot-light", direction=fp.FAILBACK, drill=True)
    data = by_target(steps, "data")
    assert data["aurora/reports"].action == fp.RESYNC_TO_PRIMARY
    assert data["aurora/reports"].params["name"] == "reports-drill"
    assert data["dynamodb/sessions"].action == fp.CHECK_COPY  # an export copy cannot be copied again
    assert not [s for s in steps if s.phase == "compute"], "a drill never rests the real standbys"
    teardown = {s.action for s in steps if s.phase == "teardown"}
    assert teardown == {fp.CLEANUP_RESTORES, fp.DELETE_DRILL_POINTS, fp.DELETE_DRILL_RECORDS}


def test_missing_facts_become_placeholders() -> None:
    p = policy()
    assert p.failover is not None
    steps = fp.plan_runbook(
        p.failover,
        strategy="backup-restore",
        primary_region=PRIMARY,
        dr_regions=p.dr_regions,
        target_region=DR,
    )
    assert (
        "<newest copied AMI of orders-web-0>" in by_target(steps, "compute")["ec2/orders-web-0"].aws_calls[0]
    )
    assert "<zone id of example.com.>" in by_target(steps, "traffic")["app.example.com. CNAME"].aws_calls[0]
    assert not [s for s in steps if s.phase == "notify"]  # no SNS topic or catalog given


def test_plan_errors() -> None:
    p = policy()
    assert p.failover is not None
    kwargs = {"primary_region": PRIMARY, "dr_regions": p.dr_regions}
    with pytest.raises(fp.PlanError, match="not a DR region"):
        fp.plan_runbook(p.failover, strategy="pilot-light", target_region=PRIMARY, **kwargs)
    with pytest.raises(fp.PlanError, match="unknown strategy"):
        fp.plan_runbook(p.failover, strategy="cold", target_region=DR, **kwargs)
    with pytest.raises(fp.PlanError, match="run id"):
        fp.plan_runbook(p.failover, strategy="pilot-light", target_region=DR, drill=True, **kwargs)


def test_summary_lists_every_call() -> None:
    steps = plan("pilot-light")
    text = fp.summarize(steps)
    assert text.count("\n      - ") == sum(len(s.aws_calls) for s in steps)
    assert " 1. [preflight] readiness" in text


@given(
    st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){0,3}", fullmatch=True), st.sampled_from(["drill", "dr-test"])
)
def test_drill_record_names_stay_inside_the_zone(head: str, prefix: str) -> None:
    zone = "example.com."
    name = fp.drill_record_name(f"{head}.example.com", zone, prefix)
    assert name.endswith(f".{prefix}.{zone}")
    assert name.startswith(head + ".")


def test_restore_names() -> None:
    assert fp.restore_name("rds", "orders-db", direction=fp.FAILOVER, drill=False) == "orders-db"
    assert fp.restore_name("rds", "orders-db", direction=fp.FAILOVER, drill=True) == "orders-db-drill"
    assert fp.restore_name("aurora", "ledger", direction=fp.FAILBACK, drill=False) == "ledger-failback"
    long = "a" * 63
    assert len(fp.restore_name("rds", long, direction=fp.FAILOVER, drill=True)) <= 63


# --- the trigger form -----------------------------------------------------------------------------


def form(**values):
    base = {
        "strategy": "pilot-light",
        "target_region": DR,
        "dry_run": True,
        "confirm": "",
        "reason": "",
        "drill": False,
    }
    return {**base, **values}


def test_form_defaults_are_safe() -> None:
    params = failover_params(policy())
    assert params["dry_run"].value is True
    assert params["drill"].value is False
    assert params["strategy"].value == "pilot-light"
    assert params["strategy"].schema["enum"] == list(FAILOVER_STRATEGIES)
    assert set(params["strategy"].schema["values_display"]) == set(FAILOVER_STRATEGIES)
    assert params["target_region"].schema["enum"] == [DR, "ap-northeast-3"]
    drill = failover_params(policy(), drill=True)
    assert (drill["dry_run"].value, drill["drill"].value) == (False, True)


def test_dry_run_needs_no_confirmation() -> None:
    assert validate_failover_params(form(), policy()) == {
        "strategy": "pilot-light",
        "target_region": DR,
        "dry_run": True,
        "drill": False,
        "reason": "dry run",
        "direction": "failover",
    }


def test_live_run_needs_the_region_typed_again_and_a_reason() -> None:
    ok = validate_failover_params(form(dry_run=False, confirm=f" {DR} ", reason="  region   down "), policy())
    assert ok["dry_run"] is False
    assert ok["reason"] == "region down"
    with pytest.raises(AirflowFailException) as info:
        validate_failover_params(form(dry_run=False, confirm=PRIMARY, reason=""), policy())
    text = str(info.value)
    assert "2 problem(s)" in text
    assert f"type the target region ({DR})" in text
    assert "reason is empty" in text


def test_bad_values_are_all_listed() -> None:
    with pytest.raises(AirflowFailException) as info:
        validate_failover_params(
            form(strategy="cold", target_region=PRIMARY, dry_run="no", drill="yes"), policy()
        )
    text = str(info.value)
    assert "4 problem(s)" in text
    for word in ("strategy 'cold'", f"target_region '{PRIMARY}'", "dry_run must be", "drill must be"):
        assert word in text


def test_drills_need_no_confirmation_and_are_forced_on_the_drill_dag() -> None:
    assert validate_failover_params(form(dry_run=False, drill=True), policy())["drill"] is True
    forced = validate_failover_params(form(dry_run=False), policy(), force_drill=True)
    assert forced["drill"] is True


def test_a_policy_without_failover_is_refused() -> None:
    text = POLICY_TEXT.replace("{routing}", "simple").split("failover:")[0]
    with pytest.raises(AirflowFailException, match="no failover section"):
        validate_failover_params(form(), parse_policy(text, "p.yaml"))
