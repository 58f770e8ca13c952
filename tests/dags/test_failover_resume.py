"""dr_failover resumed after a failed step, and its data layer deferred while AWS works
(``dag.test()``) against moto. A module of its own so that pytest-xdist runs it beside
test_failover_dag.py.
"""

from __future__ import annotations

from failover_support import Approver, Recorder
from test_failover_dag import (
    LIVE,
    _catalog,
    _cname,
    _states,
    _variant,
)


def test_failed_step_stops_before_traffic_and_a_retrigger_resumes(
    failover_dags, failover_estate, moto, monkeypatch
):
    from awsdr.aws import compute

    ctx = failover_estate
    real = compute.scale_ecs

    def broken(*args, **kwargs):
        raise compute.ComputeError("injected: the ECS API is down")

    monkeypatch.setattr(compute, "scale_ecs", broken)
    with Recorder(moto) as rec, Approver(monkeypatch) as approver:
        first = failover_dags[0].dr_failover.test(run_conf=LIVE)
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
        second = failover_dags[0].dr_failover.test(run_conf=LIVE)
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


def test_data_layer_waits_deferred_holding_no_worker_slot(
    airflow_db, failover_estate, moto, tmp_path, monkeypatch
):
    """While AWS still promotes the replica, ``data_layer`` is deferred to this project's trigger:
    not running, no slot of the default pool occupied. (moto promotes at once: the status poll
    answers ``modifying`` for the replica until two deferrals were seen, then the real status.)"""
    from airflow.models.pool import Pool
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.sdk.execution_time import supervisor
    from airflow.utils.session import create_session

    from awsdr.kinds import _rds_common

    ctx = failover_estate
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
