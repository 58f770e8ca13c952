"""
### dr_posture: how recoverable is every protected resource right now (RPO/RTO report and alerts)

Every 15 minutes, one task (**posture**):

1. discovers what every plan selects, with the backup's own discovery (one batched discovery
   per plan and kind in the primary region), lists every kind's points in the primary and every
   DR region (one listing per kind and region), reads the restore verification results
   (`verify/latest/...`) and retention's orphan states from the catalog;
2. computes the posture document and writes it to `posture/latest.json` and
   `posture/<window stamp>.json` in the catalog bucket;
3. publishes CloudWatch metrics in the primary region, namespace `AWSDR`, dimension `Plan`:
   `WorstRpoAgeSeconds`, `RpoBreaches`, `RtoBreaches`, `MissingCopies`, `Orphans`;
4. writes what the DR console shows (`console/points.json`, `console/history.json`), the cost
   estimate (the document's `cost`), and the compliance report `compliance/<window stamp>.json`,
   `.csv`, `.html` and `compliance/latest.*` (8 controls per resource, with evidence);
5. compares the breaches with `posture/alert-state.json` and sends **one** SNS message per
   change (entering an RPO or RTO breach, recovering from it) to `notifications.sns_topic_arn`
   (only logged when the policy has none). A breach that lasts sends nothing more.

All ages are measured from the run's window (its cron tick), so a re-run reports the same thing.

#### The posture document (`"schema": 1`)

```
{schema: 1, window, primary_region, dr_regions: [..], run_id, written_at,
 plans: {<plan>: {rpo_seconds, rto_seconds,
                  kinds: {<kind>: {assessed: bool, reason: str|null, selected: int|null}},
                  summary: {resources, breaches_rpo, breaches_rto, worst_rpo_age_seconds,
                            missing_copies, late_captures, orphans, selected, never_captured},
                  missed_windows: {count, windows: [..], since}|null}},
 totals: {same fields as a plan summary, over every plan},
 resources: [{plan, kind, source, selected: bool|null,
              newest_primary_window, primary_points,
              dr: {<region>: {newest_copy_window, copies, rpo_age_seconds, within_rpo,
                              no_copy, missing_copies}},
              worst_rpo_age_seconds, breach_rpo,
              breach_rpo_reason: never-captured|no-dr-copy|rpo-exceeded|null,
              last_verified: {at, age_seconds, seconds, passed, within_rto, reason,
                              copy_id, region, window} | null,
              breach_rto, breach_rto_reason: never-verified|verify-failed|over-rto|null,
              missing_copies, late_captures,
              orphan: {since: str|null} | null}],
 events: [{key, event: breach|recovered, type: rpo|rto, plan, kind, source}]}
```

- **Every selected resource is reported**, with or without points: a resource the plan's tags
  select whose every capture failed is an RPO breach at once (`breach_rpo_reason:
  never-captured`), one captured in the primary only is `no-dr-copy`.

- **RPO is measured on DR copies** (available, carrying `awsdr:copy-of`), never on primary
  points. `rpo_age_seconds` = window - newest copy's `awsdr:window`; a region without any copy
  has `no_copy: true`, the age of the oldest available primary point, and is a breach.
- `breach_rpo`: some DR region has no copy or a copy older than the plan's `rpo`.
- `breach_rto`: never verified, the latest verification failed, or it took longer than `rto`.
- `missing_copies`: available primary points newer than the newest copy (in the laggiest region).
- `late_captures`: primary points tagged `awsdr:late` in the last 7 days.
- `orphan`: the source has points but the plan no longer selects it (deleted, or its tags
  changed); `since` is when retention first saw it missing (null until retention has run). An
  orphan is not judged (`breach_rpo`/`breach_rto` false, no alerts; its earlier alert states are
  dropped without a "recovered") and its age stays out of the summary's worst age.
- A kind whose listing failed, or a plan's kind whose discovery failed, is `assessed: false`
  with the `reason` (its resources are left out and its alert states kept: no false breach and
  no false recovery); either error also fails the task after everything else is published.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, CronTriggerTimetable

from awsdr.notifiers.sns import AwsDrSnsNotifier
from awsdr.operators.posture import PostureOperator
from awsdr.policy import load_policy

if TYPE_CHECKING:
    from collections.abc import Callable

POLICY = load_policy()

_on_failure: list[Callable[[Any], None]] | None = (
    [
        AwsDrSnsNotifier(
            target_arn=POLICY.sns_topic_arn,
            subject="[AWSDR] dr_posture failed",
            message=(
                "dr_posture run {{ run_id }} failed: the DR posture and its alerts may be stale.\n"
                "Reason: {{ reason }}"
            ),
        )
    ]
    if POLICY.sns_topic_arn
    else None
)

with DAG(
    dag_id="dr_posture",
    description="RPO/RTO posture of every plan: catalog report, CloudWatch metrics, SNS alerts",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("*/15 * * * *", timezone=POLICY.timezone),
    start_date=POLICY.earliest_start,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["awsdr", "posture"],
    on_failure_callback=_on_failure,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=10),
    },
) as dag:
    PostureOperator(task_id="posture")
