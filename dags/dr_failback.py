"""
### dr_failback: bring the workload home to the primary region (runbook)

The reverse of `dr_failover`, with the same form and the same safety: a dry run by default,
the DR region typed again in *confirm* and a *reason* for a real run, nothing in AWS before
the parameters are valid.

1. **validate_params**: the form, checked before any AWS call.
2. **readiness** (read-only): the DR-side writers exist (promoted replicas, restored databases),
   global databases have a home member, the primary KMS key for the copies, the hosted zone and
   records, the standbys and the primary health checks. Fails listing every problem.
3. **plan**: the ordered runbook with its exact AWS calls, in `failover/<run id>/plan.json`.
4. **go_no_go**: a dry run stops here.
5. **data_layer**: capture the DR writer (a snapshot), copy it home under the primary KMS key and
   restore it as `<name>-failback` next to the original (never over it); a global table needs
   nothing; an Aurora global database switches its writer back (no data loss).
6. **traffic**: Route 53 back to the primary values (active-active: both weights back), INSYNC.
7. **verify**: the primary's health checks; the RTO is measured to healthy.
8. **compute**: only now, the DR standbys go back to their resting size (backup & restore: the
   instances the failover launched are terminated).
9. **drill_teardown** (drills only): removes what the drill made; **notify**: audit record and
   SNS; fails the run if any step failed.

Re-triggering resumes: a restore already at home is not captured or copied again, records
already home and standbys already resting are skipped. A drill sends the newest DR copies
home under `-drill` names and a record under `drill.<zone>`, and tears it all down.
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

with DAG(
    dag_id="dr_failback",
    description="Failback to the primary region: data home, traffic home, then DR standbys to rest",
    doc_md=__doc__,
    schedule=None,
    start_date=POLICY.start_date,
    catchup=False,
    max_active_runs=1,
    tags=["awsdr", "failover", "failback"],
    params=failover_params(POLICY, direction="failback"),
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(hours=8),
    },
) as dr_failback:

    @task(multiple_outputs=True, retries=0)
    def validate_params(**context) -> dict:
        """The form, checked before anything touches AWS."""
        return validate_failover_params(context["params"], POLICY, direction="failback")

    form = validate_params()
    common = {
        "strategy": form["strategy"],
        "target_region": form["target_region"],
        "drill": form["drill"],
        "dry_run_flag": form["dry_run"],
        "reason": form["reason"],
        "direction": "failback",
    }
    readiness = FailoverReadinessOperator(task_id="readiness", **common)
    plan = FailoverPlanOperator(task_id="plan", **common)

    @task.short_circuit
    def go_no_go(dry_run: bool) -> bool:
        """A dry run ends here: the plan is in the catalog, nothing changes."""
        return not dry_run

    gate = go_no_go(form["dry_run"])
    data = DataLayerOperator(task_id="data_layer", **common)
    traffic = TrafficOperator(task_id="traffic", **common)
    verify = VerifyOperator(task_id="verify", **common)
    compute = ComputeOperator(task_id="compute", **common)  # DR standbys rest only once home is healthy
    notify = NotifyOperator(
        task_id="notify",
        trigger_rule=TriggerRule.ALL_DONE,
        phase_task_ids=("data_layer", "traffic", "verify", "compute", "drill_teardown"),
        **common,
    )
    teardown = DrillTeardownOperator(task_id="drill_teardown", **common)

    readiness >> plan >> gate >> data >> traffic >> verify >> compute
    compute >> teardown.as_teardown(setups=gate) >> notify  # notify audits the teardown too
