"""Pure parts of issue 10: fencing and lossless-failback steps in the plan, the approval text,
readiness alert-once transitions, the approval policy keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from awsdr.failover import approval, readiness
from awsdr.planning import failover as fp
from awsdr.policy import PolicyError, load_policy

DR = "ap-northeast-1"
HOME = "ap-northeast-2"


@pytest.fixture
def policy():
    return load_policy()


def _plan(policy, *, direction=fp.FAILOVER, facts=None, strategy="pilot-light", drill=False, fo=None):
    return fp.plan_runbook(
        fo or policy.failover,
        strategy=strategy,
        primary_region=policy.primary_region,
        dr_regions=policy.dr_regions,
        target_region=DR,
        direction=direction,
        drill=drill,
        run_id="run-1",
        facts=facts,
        kms_key="alias/awsdr",
    )


def _reachable(policy):
    dbs = {fp.db_key(d): {"primary": fp.REACHABLE} for d in policy.failover.databases}
    return {"databases": dbs, "buckets": {b.name: fp.REACHABLE for b in policy.failover.buckets}}


def test_a_reachable_primary_is_fenced_before_anything_is_promoted(policy):
    steps = _plan(policy, facts=_reachable(policy))
    actions = [s.action for s in steps]
    fences = [i for i, a in enumerate(actions) if a in (fp.FENCE_PRIMARY, fp.FENCE_BUCKET)]
    changes = [
        i for i, a in enumerate(actions) if a in (fp.PROMOTE_READ_REPLICA, fp.RESTORE_FROM_COPY, fp.SCALE_ASG)
    ]
    assert len(fences) == len(policy.failover.databases) + len(policy.failover.buckets)
    assert max(fences) < min(changes)
    fence = next(s for s in steps if s.action == fp.FENCE_PRIMARY and s.target == "rds/orders-db")
    assert fence.mutating
    assert fence.params["record"] == "orders-db.example.com."
    assert "read-only replica" in fence.params["method"]
    assert next(s for s in steps if s.target == "dynamodb/orders").params["method"] == (
        "table policy denies writes"
    )


def test_an_unreachable_primary_is_recorded_not_fenced(policy):
    steps = _plan(policy, facts={})  # the probe found nothing reachable
    fences = [s for s in steps if s.action in (fp.FENCE_PRIMARY, fp.FENCE_BUCKET)]
    assert fences
    assert all(not s.mutating and s.params["reachable"] == fp.UNREACHABLE for s in fences)
    assert all("NOT FENCED" in s.note for s in fences)


def test_aurora_global_switches_over_when_the_primary_answers(policy):
    fo = policy.failover
    ledger = replace(fo.databases[1], global_cluster="ledger-global", replicas={DR: "ledger-dr"})
    fo = replace(fo, databases=(fo.databases[0], ledger, fo.databases[2]))
    up = _plan(policy, fo=fo, facts={"databases": {"aurora/ledger": {"primary": fp.REACHABLE}}})
    down = _plan(policy, fo=fo, facts={})
    step_up = next(s for s in up if s.action == fp.FAILOVER_GLOBAL_CLUSTER)
    step_down = next(s for s in down if s.action == fp.FAILOVER_GLOBAL_CLUSTER)
    assert step_up.params["allow_data_loss"] is False
    assert "Switchover=True" in step_up.aws_calls[0]
    assert step_down.params["allow_data_loss"] is True
    assert "NOT fenced" in step_down.note
    # the switchover is the fence: no separate fence step for the global database
    assert not [s for s in up if s.action == fp.FENCE_PRIMARY and s.target == "aurora/ledger"]


def test_failback_brings_every_kind_home_without_loss(policy):
    steps = _plan(policy, direction=fp.FAILBACK)
    by_target = {s.target: s for s in steps if s.phase == fp.DATA}
    assert by_target["dynamodb/orders"].action == fp.RECONCILE_TABLE
    assert by_target["dynamodb/orders"].params["table"] == "orders"  # the original name at home
    rds = by_target["rds/orders-db"]
    assert rds.action == fp.REVERSE_REPLICA
    assert rds.params["dr_writer"] == "orders-db-dr"
    assert rds.params["record"] == "orders-db.example.com."
    assert by_target["s3/awsdr-demo-orders-assets"].action == fp.SYNC_BUCKET_HOME
    # aurora without a global database: frozen first, then the snapshot sent home (lossless)
    ledger = by_target["aurora/ledger"]
    assert ledger.action == fp.RESYNC_TO_PRIMARY
    assert ledger.params["freeze"] is True
    assert ledger.note.startswith("lossless: ledger is frozen first")
    freeze_call = next(i for i, c in enumerate(ledger.aws_calls) if "the write freeze" in c)
    snapshot_call = next(i for i, c in enumerate(ledger.aws_calls) if "create_db_cluster_snapshot" in c)
    assert freeze_call < snapshot_call
    # the database record comes home with the traffic, after the data
    record = next(s for s in steps if s.action == fp.MOVE_DB_RECORD)
    assert record.params == {
        "kind": "rds",
        "record": "orders-db.example.com.",
        "writer": "orders-db-failback",
        "writer_region": HOME,
    }
    data_last = max(i for i, s in enumerate(steps) if s.phase == fp.DATA)
    assert steps.index(record) > data_last


def test_failover_moves_the_database_record_to_the_dr_writer(policy):
    steps = _plan(policy, facts=_reachable(policy))
    record = next(s for s in steps if s.action == fp.MOVE_DB_RECORD)
    assert record.params["writer"] == "orders-db-dr"
    assert record.params["writer_region"] == DR


def test_drills_never_fence_and_sweep_first(policy):
    steps = _plan(policy, drill=True, facts=_reachable(policy))
    actions = [s.action for s in steps]
    assert fp.FENCE_PRIMARY not in actions
    assert fp.FENCE_BUCKET not in actions
    assert fp.MOVE_DB_RECORD not in actions
    assert next(s for s in steps if s.phase == fp.DATA).action == fp.SWEEP_DRILLS


def test_approval_body_shows_steps_rpo_fencing_and_warnings(policy):
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    point = {
        "point_id": "snap-ledger-1",
        "window": "2026-12-01T10:00:00Z",
        "created_at": None,
        "tags": {"awsdr:captured-at": "2026-12-01T10:30:00Z"},
    }
    steps = [s.to_dict() for s in _plan(policy, facts=_reachable(policy))]
    for s in steps:
        if s["target"] == "aurora/ledger" and s["action"] == fp.RESTORE_FROM_COPY:
            s["params"]["point"] = point
    plan = {
        "dag_id": "dr_failover",
        "run_id": "r1",
        "direction": "failover",
        "strategy": "pilot-light",
        "primary_region": HOME,
        "target_region": DR,
        "reason": "region down",
        "steps": steps,
    }
    report = {
        "fencing": ["rds/orders-db: StopDBInstance", "dynamodb/orders: NOT FENCED (x)"],
        "warnings": ["w1"],
    }
    text = approval.body(plan, report, timeout=timedelta(minutes=30), now=now)
    assert "`snap-ledger-1` captured 2026-12-01T10:30:00Z (RPO now 1.5 h)" in text
    assert "dynamodb/orders: NOT FENCED (x)" in text
    assert "- w1" in text
    assert "30 min" in text
    assert text.count("`fence_primary`") == len(policy.failover.databases)
    assert approval.subject(plan) == "Approve the failover to ap-northeast-1 (pilot-light)?"


def _report(problems=(), only_missing=False):
    return {"problems": list(problems), "warnings": [], "only_missing_copies": only_missing}


def test_readiness_alerts_once_when_not_ready_and_once_on_recovery():
    key = readiness.runbook_key("failback", DR)
    doc, alerts = readiness.transitions(None, {key: _report()}, now="t0")
    assert alerts == []
    assert doc["runbooks"][key]["state"] == readiness.READY
    bad = _report(["KMS key alias/awsdr in ap-northeast-2: NotFoundException"])
    doc, alerts = readiness.transitions(doc, {key: bad}, now="t1")
    assert [(k, c) for k, c, _ in alerts] == [(key, "not-ready")]
    doc, alerts = readiness.transitions(doc, {key: bad}, now="t2")
    assert alerts == [], "still not ready: no second alert"
    assert doc["runbooks"][key]["since"] == "t1"
    doc, alerts = readiness.transitions(doc, {key: _report()}, now="t3")
    assert [(k, c) for k, c, _ in alerts] == [(key, "recovered")]
    subject, message = readiness.alert_text(key, "not-ready", {"problems": bad["problems"], "since": "t1"})
    assert "NOT READY" in subject
    assert "NotFoundException" in message


def test_readiness_before_the_first_copy_waits_without_alert():
    key = readiness.runbook_key("failover", DR)
    doc, alerts = readiness.transitions(
        None, {key: _report(["rds/x: no available DR copy in r"], only_missing=True)}, now="t0"
    )
    assert alerts == []
    assert doc["runbooks"][key]["state"] == readiness.WAITING


def test_approval_policy_keys(tmp_path):
    from awsdr.policy import DEFAULT_POLICY_PATH

    text = DEFAULT_POLICY_PATH.read_text().replace(
        "  drill:\n", "  approval: {required: false, timeout: PT5M}\n  drill:\n", 1
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    fo = load_policy(path).failover
    assert fo.approval.required is False
    assert fo.approval.timeout == timedelta(minutes=5)
    assert load_policy().failover.approval.timeout == timedelta(minutes=30)
    path.write_text(text.replace("timeout: PT5M", "timeout: 5m"))
    with pytest.raises(PolicyError, match="approval"):
        load_policy(path)
    bad = DEFAULT_POLICY_PATH.read_text().replace(
        "    - dynamodb: orders ", "    - dynamodb: orders\n      dns: o.example.com\n     ", 1
    )
    path.write_text(bad)
    with pytest.raises(PolicyError, match="dns"):
        load_policy(path)
