"""The failover engine: fencing, write freezes, lossless failback, approval text, readiness.

No Airflow here (the operators in :mod:`awsdr.operators.failover` are the glue):

- :mod:`~awsdr.failover.fencing`: is the primary reachable; fence it (failover) or freeze the DR
  writer (failback), per engine; lift a fence.
- :mod:`~awsdr.failover.reconcile`: failback data: DynamoDB items into the original home table,
  S3 objects written in the DR bucket copied home, RDS reverse replication promoted at zero lag.
- :mod:`~awsdr.failover.approval`: the Markdown body of the go/no-go approval.
- :mod:`~awsdr.failover.readiness`: the scheduled readiness of every runbook, its catalog
  document, metric and alert-once state.
"""
