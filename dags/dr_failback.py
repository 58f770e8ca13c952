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
4. **go_no_go**: a dry run stops here (nobody is asked).
5. **approval**: the same Airflow approval as `dr_failover` (Required Actions or the REST API).
6. **data_layer**, lossless: every write made in the DR region up to the write freeze reaches
   home. DynamoDB: the DR table is frozen (a resource policy denies writes), the stale home table
   gets a final backup (`awsdr:final-backup`), then its items are made those of the DR table under
   the original name. S3 (`failover.buckets`): the DR bucket is frozen and the objects applications
   wrote there are copied home. RDS: reverse replication: a read replica of the DR writer at home
   (`<name>-failback`), the record `databases[].dns` moved to it (the freeze: it refuses writes),
   promoted at zero replica lag. Aurora global database: a switchover (no data loss); other
   Aurora clusters: a snapshot restored as `<name>-failback` (not lossless: readiness warns).
   The audit records each freeze's duration and the items, rows or objects reconciled.
7. **traffic**: Route 53 back to the primary values (active-active: both weights back) and each
   database's record to its home writer, INSYNC.
8. **verify**: the primary's health checks; the RTO is measured to healthy.
9. **compute**: only now, the DR standbys go back to their resting size (backup & restore: the
   instances the failover launched are terminated).
10. **drill_teardown** (drills only): removes what the drill made; **notify**: audit record and
   SNS; fails the run if any step failed.

Re-triggering resumes: a restore already at home is not captured or copied again, records
already home and standbys already resting are skipped. A drill sends the newest DR copies
home under `-drill` names and a record under `drill.<zone>`, and tears it all down.
"""

from __future__ import annotations

from awsdr.operators.failover_dag import build_runbook
from awsdr.policy import load_policy

POLICY = load_policy()

dr_failback = build_runbook(
    POLICY,
    "dr_failback",
    direction="failback",
    drill=False,
    description="Failback to the primary region: data home, traffic home, then DR standbys to rest",
    doc_md=__doc__,
)
