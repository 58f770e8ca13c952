"""
### dr_restore_verify: prove each DR copy restores

Per plan on its `verify.schedule` (default daily), or by hand with a plan, a resource filter
and a sample size.

1. **validate_params**: the form, checked before any AWS call.
2. **prepare** (setup): removes temporary resources left by earlier verification runs that died.
3. **verify_&lt;kind&gt;**: restore the newest DR copy of each selected resource into a
   temporary resource tagged `awsdr:verify-run`, wait (deferred), validate against the window
   manifest (EBS size and encryption; AMI instance running; RDS/Aurora engine, version, storage,
   encryption and optional SQL checks; DynamoDB item count and content digest; S3 versions,
   sizes), measure request-to-validated time against the plan's RTO, record the result in the
   catalog and tag a passing copy `awsdr:verified-at`. A resource whose first copy is still to
   come (never copied, first recovery point younger than the plan's RPO) is not verified and
   not failed: the log says so, and a task with nothing else to verify ends skipped.
4. **teardown** (always runs): removes every resource tagged `awsdr:verify-run`.
5. **report**: fails the run naming each resource that did not verify (a copy that is gone, or
   none within the RPO, is a failure); ends skipped, saying why, when nothing could be verified
   yet because the first copies are still to come (a first start).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, CronTriggerTimetable, MultipleCronTriggerTimetable, Param, TriggerRule, task

from awsdr.operators.backup import run_window
from awsdr.operators.verify import (
    ALL,
    VerifyKindOperator,
    VerifyReportOperator,
    VerifyTeardownOperator,
    resolve_params,
)
from awsdr.policy import load_policy

POLICY = load_policy()
#: seconds between status polls while waiting in the triggerer (the emulator setup shortens it)
POLL_SECONDS = float(os.environ.get("AWSDR_POLL_SECONDS", "30"))
PLANS = POLICY.plan_names
KINDS = POLICY.kinds_in_use
CRONS = POLICY.verify_schedules
SCHEDULE = (
    CronTriggerTimetable(CRONS[0], timezone=POLICY.timezone)
    if len(CRONS) == 1
    else MultipleCronTriggerTimetable(*CRONS, timezone=POLICY.timezone)
)

with DAG(
    dag_id="dr_restore_verify",
    description="Restore the newest DR copies, validate them, measure RTO, tear down",
    doc_md=__doc__,
    schedule=SCHEDULE,
    start_date=POLICY.earliest_start,
    catchup=False,
    max_active_runs=1,
    tags=["awsdr", "verify"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "execution_timeout": timedelta(hours=6)},
    params={
        "plan": Param(
            ALL,
            type="string",
            enum=[ALL, *PLANS],
            values_display={ALL: "All plans", **{p: f"Plan {p}" for p in PLANS}},
            title="Plan",
            description="Verify one plan or all of them.",
        ),
        "resources": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Only these resources",
            description="Optional source ids (one per line). Empty: every resource of the plan.",
        ),
        "sample": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Sample size",
            description="Restore only this many resources (a different subset each window). Empty: the plan's setting.",
        ),
    },
) as dag:

    @task(retries=0)
    def validate_params(**context) -> dict:
        """Which plans this run verifies (a scheduled tick verifies the plans whose schedule it is)."""
        scheduled = None
        if "scheduled" in str(context["dag_run"].run_type).lower():
            tick = run_window(context)
            scheduled = POLICY.plans_verified_at(tick)
        return resolve_params(dict(context["params"]), PLANS, scheduled)

    settings = validate_params()
    prepare = VerifyTeardownOperator(task_id="prepare", kinds=KINDS)
    verifies = [
        VerifyKindOperator(task_id=f"verify_{k}", kind=k, settings=settings, poll_interval=POLL_SECONDS)
        for k in KINDS
    ]
    teardown = VerifyTeardownOperator(task_id="teardown", kinds=KINDS).as_teardown(setups=prepare)
    report = VerifyReportOperator(task_id="report", kinds=KINDS, trigger_rule=TriggerRule.ALL_DONE, retries=0)
    settings >> prepare >> verifies >> teardown >> report
