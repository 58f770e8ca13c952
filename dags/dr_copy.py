"""
### dr_copy_&lt;plan&gt;: every recovery point safe in each DR region, encrypted with the DR key

Runs after each backup of the plan (its Asset) and on the plan's `copy_schedule` as a sweep.

1. **preflight**: the DR KMS keys (and the vault connection and keys) exist and are usable.
2. **copy_&lt;kind&gt;**: every available point of the plan that lacks a complete copy in a DR
   region gets one, oldest window first, at most the policy's `copy_quotas` in flight per
   destination region; waiting happens in the triggerer. Yesterday's failed copy is retried
   here without anyone asking. With a `vault`, complete DR copies are shared with the vault
   account and copied there with its key.
3. **record_copies**: each copy's id, region, key and completion time go into its window manifest.
4. **check_failures**: the run fails naming the copies that failed (the next run tries again).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule

from awsdr.assets import backup_asset
from awsdr.operators.copy import (
    CheckCopyFailuresOperator,
    CopyOperator,
    CopyPreflightOperator,
    RecordCopiesOperator,
)
from awsdr.policy import load_policy

POLICY = load_policy()
#: seconds between status polls while waiting in the triggerer (the emulator setup shortens it)
POLL_SECONDS = float(os.environ.get("AWSDR_POLL_SECONDS", "60"))


def build(plan_name: str) -> DAG:
    plan = POLICY.plans[plan_name]
    with DAG(
        dag_id=f"dr_copy_{plan_name}",
        description=f"Copies of plan {plan_name} into {', '.join(POLICY.dr_regions)}",
        doc_md=__doc__,
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(plan.copy_schedule, timezone=POLICY.timezone),
            assets=backup_asset(plan_name),
        ),
        start_date=plan.start_date,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=4,
        tags=["awsdr", "copy", f"plan:{plan_name}"],
        default_args={
            "retries": 2,
            "retry_delay": timedelta(seconds=60),
            "retry_exponential_backoff": 2.0,
            "execution_timeout": timedelta(hours=6),
        },
    ) as dag:
        preflight = CopyPreflightOperator(task_id="preflight")
        copies = [
            CopyOperator(task_id=f"copy_{kind}", plan=plan_name, kind=kind, poll_interval=POLL_SECONDS)
            for kind in plan.select.types
        ]
        record = RecordCopiesOperator(
            task_id="record_copies",
            plan=plan_name,
            kinds=list(plan.select.types),
            trigger_rule=TriggerRule.ALL_DONE,
        )
        check = CheckCopyFailuresOperator(task_id="check_failures", retries=0)
        preflight >> copies >> record >> check
    return dag


for _plan in POLICY.plans:
    globals()[f"dr_copy_{_plan}"] = build(_plan)
