"""The failover engine: fencing, write freezes, lossless failback, approval text, readiness.

No Airflow here (the operators in :mod:`awsdr.operators.failover` are the glue):

- :mod:`~awsdr.failover.fencing`: is the primary reachable; fence it (failover) or freeze the DR
  writer (failback), per engine; lift a fence.
- :mod:`~awsdr.failover.reconcile`: failback data: DynamoDB items into the original home table,
  S3 objects written in the DR bucket copied home, RDS reverse replication promoted at zero lag.
- :mod:`~awsdr.failover.approval`: the Markdown body of the go/no-go approval.
- :mod:`~awsdr.failover.readiness`: the pre-flight (``check_readiness``) and the scheduled
  readiness of every runbook, its catalog document, metric and alert-once state.
- :mod:`~awsdr.failover.steps`: a phase's steps, one batched status round per call (the
  operator defers between rounds); :mod:`~awsdr.failover.handlers`: the actions registered by name.
- :mod:`~awsdr.failover.common`: step outcomes, catalog keys, retryable errors.
"""
