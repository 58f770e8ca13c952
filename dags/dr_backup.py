"""
### dr_backup_&lt;plan&gt;: one recovery point per protected resource per window

Runbook, per window of the plan's schedule:

1. **resolve_window**: the window is the run's cron tick (or `run_after` for a manual run);
   the trigger form's resource filter is checked before anything touches AWS.
2. **capture_&lt;kind&gt;**: discover the plan's resources by tag, find the points this window
   already has, create the missing ones (batched, bounded concurrency), wait in the triggerer.
3. **write_manifest**: record what was protected and what failed in the catalog bucket; the
   plan's Asset tells `dr_copy_<plan>` there is something to copy.
4. **check_failures**: fail the run naming every resource left without a point.

Re-running a window, retrying a task or backfilling an old window never makes a second point:
points are found again by their `awsdr:plan`/`awsdr:window` tags or deterministic names.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, Param, TriggerRule, task

from awsdr.assets import backup_asset
from awsdr.operators.backup import CaptureOperator, CheckFailuresOperator, WriteManifestOperator, parse_only
from awsdr.operators.backup import run_window as _run_window
from awsdr.policy import load_policy
from awsdr.timetables import BoundedCatchupTimetable
from awsdr.windows import format_window

POLICY = load_policy()
#: seconds between status polls while waiting in the triggerer (the emulator setup shortens it)
POLL_SECONDS = float(os.environ.get("AWSDR_POLL_SECONDS", "30"))


def build(plan_name: str) -> DAG:
    plan = POLICY.plans[plan_name]
    with DAG(
        dag_id=f"dr_backup_{plan_name}",
        description=f"Recovery points for plan {plan_name} ({', '.join(plan.select.types)})",
        doc_md=__doc__,
        schedule=BoundedCatchupTimetable(
            plan.schedule, timezone=POLICY.timezone, max_catchup=plan.max_catchup
        ),
        start_date=plan.start_date,
        catchup=True,
        max_active_runs=2,
        max_active_tasks=4,
        tags=["awsdr", "backup", f"plan:{plan_name}"],
        default_args={
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
            "retry_exponential_backoff": 2.0,
            "execution_timeout": timedelta(hours=8),
        },
        params={
            "resources": Param(
                [],
                type="array",
                items={"type": "string"},
                title="Only these resources",
                description="Optional ids or ARNs (one per line). Empty: every resource the plan selects.",
            ),
            "note": Param(
                None,
                type=["null", "string"],  # optional: the UI sends an empty field as null
                maxLength=256,
                title="Note",
                description="Why this run (recorded in the window manifest), e.g. 'before schema change'.",
            ),
        },
    ) as dag:

        @task(multiple_outputs=True, retries=0)
        def resolve_window(**context) -> dict:
            """The run's window and its validated parameters; fails before any AWS call."""
            params = context["params"]
            only = parse_only(params.get("resources"))
            return {
                "window": format_window(_run_window(context)),
                "only": only,
                "note": params.get("note") or "",
            }

        resolved = resolve_window()
        captures = [
            CaptureOperator(
                task_id=f"capture_{kind}",
                plan=plan_name,
                kind=kind,
                window=resolved["window"],
                only=resolved["only"],
                poll_interval=POLL_SECONDS,
            )
            for kind in plan.select.types
        ]
        manifest = WriteManifestOperator(
            task_id="write_manifest",
            plan=plan_name,
            window=resolved["window"],
            kinds=list(plan.select.types),
            note=resolved["note"],
            trigger_rule=TriggerRule.ALL_DONE,
            outlets=[backup_asset(plan_name)],
        )
        check = CheckFailuresOperator(task_id="check_failures", retries=0)
        captures >> manifest >> check
    return dag


for _plan in POLICY.plans:
    globals()[f"dr_backup_{_plan}"] = build(_plan)
