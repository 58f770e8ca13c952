"""
### dr_failover: bring the workload up in a DR region, then move traffic (runbook)

Manually triggered and **safe by default**: the form starts as a *dry run*, which checks
readiness, writes the runbook with its exact AWS calls to the catalog and changes nothing.

1. **validate_params**: strategy, target region, dry run, confirmation, reason, drill. A real
   run needs the target region typed again in *confirm* and a *reason*. Fails before any AWS call.
2. **readiness** (pre-flight, read-only): newest DR copies within the plan's RPO and recently
   restore-verified, read replicas / global databases present, standby ASGs and ECS services,
   the DR KMS key, the hosted zone, the records and the health checks. Fails listing every problem.
3. **plan**: the ordered runbook, logged and written to `failover/<run id>/plan.json`.
4. **go_no_go**: a dry run stops here; everything below is skipped.
5. **data_layer**: promote RDS read replicas, fail over Aurora global databases, otherwise
   restore RDS, Aurora and DynamoDB from the newest DR copies; wait until available.
6. **compute**: scale the standby ASGs and ECS services (pilot light: from zero; warm standby:
   from resting to full), or launch from the copied AMIs (backup & restore).
7. **traffic**: Route 53 UPSERTs to the DR values (active-active: the failed region's weight to
   0), wait for INSYNC. Runs only if every step above succeeded.
8. **verify**: health checks (Route 53 status or HTTP GET); the RTO is measured from the run's
   start to healthy.
9. **drill_teardown** (drills only; always runs once the gate opened): removes everything tagged
   `awsdr:drill=<run id>`.
10. **notify**: the audit record (who, when, why, steps, RTO) in `failover/<run id>/audit.json`
   and the SNS notification; fails the run if any step failed (it is the one leaf).

Re-triggering after a failure resumes: every step reads the live state first and skips what is
done (a promoted replica, a restored database, a scaled group, a record already pointing at DR).

Drill: the same runbook into isolated names (`<name>-drill`, records under `drill.<zone>`);
real replicas, standbys and records are never touched. `dr_failover_drill` runs it on the
policy's `failover.drill.schedule`. Way back: `dr_failback`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, TriggerRule, task

from awsdr.operators.failover import (
    ComputeOperator,
    DataLayerOperator,
    DrillTeardownOperator,
    FailoverPlanOperator,
    FailoverReadinessOperator,
    NotifyOperator,
    TrafficOperator,
    VerifyOperator,
)
from awsdr.operators.failover_params import failover_params, validate_failover_params
from awsdr.policy import load_policy

POLICY = load_policy()

DRILL_DOC = """
### dr_failover_drill: rehearse the failover runbook, measure the RTO, leave nothing behind

The `dr_failover` runbook with *drill* on: restores from the newest DR copies into `<name>-drill`,
copies of the standby ASGs and ECS services, records under `drill.<zone>`, health checks, audit
with the measured RTO; then **drill_teardown** (always runs) deletes everything tagged
`awsdr:drill=<run id>`. Real replicas, standbys and records are never touched, so no confirmation
is needed and it runs on the policy's `failover.drill.schedule`.
"""


def build(dag_id: str, *, drill: bool) -> DAG:
    """``dr_failover`` (``drill=False``) or ``dr_failover_drill``: the same runbook."""
    fo = POLICY.failover
    schedule = fo.drill.schedule if (drill and fo is not None) else None
    with DAG(
        dag_id=dag_id,
        description="Failover drill: the runbook into isolated names, torn down"
        if drill
        else "Failover to a DR region: data, compute, then traffic (dry run by default)",
        doc_md=DRILL_DOC if drill else __doc__,
        schedule=schedule,
        start_date=POLICY.start_date,
        catchup=False,
        max_active_runs=1,
        tags=["awsdr", "failover", "drill"] if drill else ["awsdr", "failover"],
        params=failover_params(POLICY, drill=drill),
        default_args={
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
            "execution_timeout": timedelta(hours=6),
        },
    ) as dag:

        @task(multiple_outputs=True, retries=0)
        def validate_params(**context) -> dict:
            """The form, checked before anything touches AWS."""
            return validate_failover_params(
                context["params"], POLICY, direction="failover", force_drill=drill
            )

        form = validate_params()
        common = {
            "strategy": form["strategy"],
            "target_region": form["target_region"],
            "drill": form["drill"],
            "dry_run_flag": form["dry_run"],
            "reason": form["reason"],
            "direction": "failover",
        }
        readiness = FailoverReadinessOperator(task_id="readiness", **common)
        plan = FailoverPlanOperator(task_id="plan", **common)

        @task.short_circuit
        def go_no_go(dry_run: bool) -> bool:
            """A dry run ends here: the plan is in the catalog, nothing changes."""
            return not dry_run

        gate = go_no_go(form["dry_run"])
        data = DataLayerOperator(task_id="data_layer", **common)
        compute = ComputeOperator(task_id="compute", **common)
        traffic = TrafficOperator(task_id="traffic", **common)  # all_success: never after a failure
        verify = VerifyOperator(task_id="verify", **common)
        notify = NotifyOperator(task_id="notify", trigger_rule=TriggerRule.ALL_DONE, **common)
        teardown = DrillTeardownOperator(task_id="drill_teardown", **common)

        readiness >> plan >> gate >> data >> compute >> traffic >> verify
        # the drill's teardown always runs once the gate let the run go; notify audits it and
        # is the one leaf, so any failure (teardown included) fails the run
        verify >> teardown.as_teardown(setups=gate) >> notify
    return dag


dr_failover = build("dr_failover", drill=False)
dr_failover_drill = build("dr_failover_drill", drill=True)
