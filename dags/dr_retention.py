"""
### dr_retention: grandfather-father-son pruning that cannot lose the last good copy

Daily, and by hand from the form (**dry run by default** there; scheduled runs delete).

For each kind, in the primary and every DR region: list this product's points, decide keep or
delete per point with the pure planner (`awsdr.planning.retention`), then delete in audited
batches. Never deleted, whatever the counts say: points without `awsdr:managed=true`, points
with `awsdr:legal-hold`, the newest completed point of each resource in each region, a primary
point whose DR copy is not complete, the newest verified DR copy, points of a vanished resource
within `orphan_grace`. The breaker stops deletes for any resource that would lose more than
`max_delete_fraction` of its points, unless `force`.

After the points, the copied data no remaining point names goes too: S3 object versions in the
DR buckets that no DR manifest names (only versions this product copied, never one under legal
hold, never one a copy still to be made would reuse). With a `vault` in the policy, the vault
copies are pruned the same way in the vault account (through `aws_dr_vault`): the same planner
with the plan's DR rules, then the vault's unreferenced S3 versions.

After the deletes, with `archive_after` in a plan's retention class, the EBS snapshots retention
keeps and whose window is at least that old move to the archive tier (ModifySnapshotTier): never
the newest point of a resource, never a primary point a DR region still wants, never an unmanaged
or held snapshot, no call for one already archived (stream `ebs-archive`).

Every batch is written to `audit/retention/<run id>/` in the catalog before it is deleted and
its outcome after (streams `<kind>`, `vault-<kind>`, `s3-data`, `vault-s3-data`); an interrupted
run is reconciled by the next one. A dry run changes nothing anywhere. The report goes to
`retention/reports/<run id>.json`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, CronTriggerTimetable, Param, TriggerRule, task

from awsdr.operators.retention import ALL, PruneOperator, RetentionReportOperator, resolve_params
from awsdr.policy import load_policy

POLICY = load_policy()
PLANS = POLICY.plan_names
KINDS = POLICY.kinds_in_use

with DAG(
    dag_id="dr_retention",
    description="GFS retention per region with holds, breaker and audit",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("15 2 * * *", timezone=POLICY.timezone),
    start_date=POLICY.earliest_start,
    catchup=False,
    max_active_runs=1,
    tags=["awsdr", "retention"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "execution_timeout": timedelta(hours=6)},
    params={
        "plan": Param(
            ALL,
            type="string",
            enum=[ALL, *PLANS],
            values_display={ALL: "All plans", **{p: f"Plan {p}" for p in PLANS}},
            title="Plan",
            description="Prune one plan or all of them.",
        ),
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description="Only report what would be deleted (manual runs). Scheduled runs always delete.",
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force past the breaker",
            description="Delete even where a resource would lose more than max_delete_fraction of its points. "
            "Holds, the newest point and uncopied primaries stay protected regardless.",
        ),
    },
) as dag:

    @task(retries=0)
    def validate_params(**context) -> dict:
        """The effective plan list, dry_run and force; fails before any AWS call on bad input."""
        return resolve_params(dict(context["params"]), str(context["dag_run"].run_type), PLANS)

    settings = validate_params()
    prunes = [PruneOperator(task_id=f"prune_{k}", kind=k, settings=settings) for k in KINDS]
    report = RetentionReportOperator(
        task_id="report", kinds=KINDS, trigger_rule=TriggerRule.ALL_DONE, retries=0
    )
    prunes >> report
