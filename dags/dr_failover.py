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
4. **go_no_go**: a dry run stops here; everything below is skipped and nobody is asked.
5. **approval**: an Airflow approval (Required Actions, or the REST API): the body shows the
   steps, the RPO of every copy used, the fencing status and the readiness warnings. Reject:
   nothing changes; no answer within `failover.approval.timeout` (PT30M): the run fails, nothing
   changes. Drills are not asked; `failover.approval.required: false` approves by policy.
6. **data_layer**: fence every reachable primary first (DynamoDB: a resource policy denying
   writes; S3: a bucket policy; RDS/Aurora: stopped, the record `databases[].dns` moved to the
   read-only replica; Aurora global: a switchover); an unreachable one is recorded *not fenced*.
   Then promote RDS read replicas, fail over Aurora global databases, otherwise restore RDS,
   Aurora and DynamoDB from the newest DR copies. Every wait is deferred to the triggerer.
7. **compute**: scale the standby ASGs and ECS services (pilot light: from zero; warm standby:
   from resting to full), or launch from the copied AMIs (backup & restore).
8. **traffic**: Route 53 UPSERTs to the DR values (active-active: the failed region's weight to
   0) and each database's record to its DR writer, wait for INSYNC. Runs only if every step above succeeded.
9. **verify**: health checks (Route 53 status or HTTP GET); the RTO is measured from the run's
   start to healthy.
10. **drill_teardown** (drills only; always runs once the gate opened): removes everything tagged
   `awsdr:drill=<run id>`.
11. **notify**: the audit record (who, approver, fencing, when, why, steps, RTO per step and in total) in `failover/<run id>/audit.json`
   and the SNS notification; fails the run if any step failed (it is the one leaf).

Re-triggering after a failure resumes: every step reads the live state first and skips what is
done (a promoted replica, a restored database, a scaled group, a record already pointing at DR).

Drill: first sweeps what a killed drill left behind (tagged `awsdr:drill`); then the same runbook into isolated names (`<name>-drill`, records under `drill.<zone>`);
real replicas, standbys and records are never touched. `dr_failover_drill` runs it on the
policy's `failover.drill.schedule`. Way back: `dr_failback`.
"""

from __future__ import annotations

from awsdr.operators.failover_dag import build_runbook
from awsdr.policy import load_policy

POLICY = load_policy()

DRILL_DOC = """
### dr_failover_drill: rehearse the failover runbook, measure the RTO, leave nothing behind

The `dr_failover` runbook with *drill* on: sweeps what a killed drill left behind, restores from
the newest DR copies into `<name>-drill`, copies of the standby ASGs and ECS services, records
under `drill.<zone>`, health checks, audit with the measured RTO; then **drill_teardown** (always
runs) deletes everything tagged `awsdr:drill=<run id>`. Real replicas, standbys and records are
never touched, so no confirmation or approval is needed and it runs on the policy's
`failover.drill.schedule`. Before the first DR copy exists the run ends *skipped*, saying so.
"""

dr_failover = build_runbook(
    POLICY,
    "dr_failover",
    direction="failover",
    drill=False,
    description="Failover to a DR region: fence, data, compute, then traffic (dry run by default)",
    doc_md=__doc__,
)
dr_failover_drill = build_runbook(
    POLICY,
    "dr_failover_drill",
    direction="failover",
    drill=True,
    description="Failover drill: the runbook into isolated names, torn down",
    doc_md=DRILL_DOC,
)
