"""The one builder of ``dr_failover``, ``dr_failback`` and ``dr_failover_drill``.

The three DAGs are the same runbook: form -> readiness -> plan -> dry-run gate -> approval ->
the phases that change AWS -> (drill) teardown -> notify. Only the order of the phases differs:
a failover brings data, then compute, then traffic; a failback brings data and traffic home,
verifies, and only then returns the DR standbys to rest.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, TriggerRule, task

from awsdr.operators.failover import (
    ComputeOperator,
    DataLayerOperator,
    DrillTeardownOperator,
    FailoverApprovalOperator,
    FailoverPlanOperator,
    FailoverReadinessOperator,
    NotifyOperator,
    TrafficOperator,
    VerifyOperator,
)
from awsdr.operators.failover_params import failover_params, validate_failover_params
from awsdr.policy import format_duration

if TYPE_CHECKING:
    from awsdr.policy import Policy


def _waits() -> dict[str, Any]:
    """``AWSDR_POLL_SECONDS`` (tests, the emulator) shortens every phase's poll interval."""
    raw = os.environ.get("AWSDR_POLL_SECONDS")
    return {"waiter_delay": float(raw)} if raw else {}


def build_runbook(
    policy: Policy, dag_id: str, *, direction: str, drill: bool, description: str, doc_md: str | None
) -> DAG:
    """The runbook DAG for ``direction`` (``failover`` or ``failback``), a drill or not."""
    fo = policy.failover
    schedule = fo.drill.schedule if (drill and fo is not None) else None
    approval = fo.approval if fo is not None else None
    tags = (
        ["awsdr", "failover"]
        + (["drill"] if drill else [])
        + (["failback"] if direction == "failback" else [])
    )
    with DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=schedule,
        start_date=policy.start_date,
        catchup=False,
        max_active_runs=1,
        tags=tags,
        params=failover_params(policy, direction=direction, drill=drill),
        default_args={
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
            "execution_timeout": timedelta(hours=8 if direction == "failback" else 6),
        },
    ) as dag:

        @task(multiple_outputs=True, retries=0)
        def validate_params(**context: Any) -> dict[str, Any]:
            """The form, checked before anything touches AWS (the first gate: confirm + reason)."""
            return validate_failover_params(context["params"], policy, direction=direction, force_drill=drill)

        form: Any = validate_params()  # XComArg: indexed by key (multiple_outputs)
        common: dict[str, Any] = {
            "strategy": form["strategy"],
            "target_region": form["target_region"],
            "drill": form["drill"],
            "dry_run_flag": form["dry_run"],
            "reason": form["reason"],
            "direction": direction,
        }
        waits = _waits()
        readiness = FailoverReadinessOperator(task_id="readiness", **common)
        plan = FailoverPlanOperator(task_id="plan", **common)

        @task.short_circuit
        def go_no_go(dry_run: bool) -> bool:
            """A dry run ends here: the plan is in the catalog, nothing changes, nobody is asked."""
            return not dry_run

        gate: Any = go_no_go(form["dry_run"])
        approve = FailoverApprovalOperator(
            task_id="approval",
            required=approval.required if approval is not None else True,
            response_timeout=approval.timeout if approval is not None else timedelta(minutes=30),
            drill=form["drill"],
            retries=0,
            execution_timeout=None,
        )
        data = DataLayerOperator(task_id="data_layer", **common, **waits)
        compute = ComputeOperator(task_id="compute", **common, **waits)
        traffic = TrafficOperator(task_id="traffic", **common, **waits)  # all_success: never after a failure
        verify = VerifyOperator(task_id="verify", **common, **waits)
        teardown = DrillTeardownOperator(task_id="drill_teardown", **common)
        phases = (
            ("data_layer", "compute", "traffic", "verify", "drill_teardown")
            if direction == "failover"
            else ("data_layer", "traffic", "verify", "compute", "drill_teardown")
        )
        notify = NotifyOperator(
            task_id="notify",
            trigger_rule=TriggerRule.ALL_DONE,
            phase_task_ids=phases,
            approval_timeout=format_duration(approval.timeout) if approval is not None else "PT30M",
            **common,
        )
        readiness >> plan >> gate >> approve >> data
        if direction == "failover":
            data >> compute >> traffic >> verify
            last: Any = verify
        else:
            data >> traffic >> verify >> compute  # DR standbys rest only once home is healthy
            last = compute
        # the drill's teardown always runs once the gate let the run go; notify audits it and is
        # the one leaf, so any failure (teardown included) fails the run
        last >> teardown.as_teardown(setups=gate) >> notify
    return dag
