"""
### dr_failover_readiness: every runbook's pre-flight, every 15 minutes

Read-only: the `dr_failover` and `dr_failback` pre-flight of each DR region (the DR copies
against their RPO, replicas, standbys, the DR and the home-region KMS keys
(`failover.primary_kms_key`), zones, records, health checks, fencing reachability). A failback
is checked "standing": what it will need although nothing has failed over yet.

Writes `posture/failover-readiness.json` to the catalog, the CloudWatch metric
`AWSDR/FailoverReady` (1 ready, 0 not; dimensions Runbook, Region), and alerts (SNS) once when a
runbook becomes not ready and once when it recovers. Before the first DR copy exists a runbook
is *waiting*, without an alert. The task is green whatever the readiness: it is the monitor.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from awsdr.operators.failover import FailoverReadinessScheduleOperator
from awsdr.policy import load_policy

POLICY = load_policy()

with DAG(
    dag_id="dr_failover_readiness",
    description="Failover and failback readiness every 15 minutes: document, metric, alert once",
    doc_md=__doc__,
    schedule="*/15 * * * *",
    start_date=POLICY.start_date,
    catchup=False,
    max_active_runs=1,
    tags=["awsdr", "failover", "posture"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(minutes=10),
    },
) as dr_failover_readiness:
    FailoverReadinessScheduleOperator(task_id="check_readiness")
