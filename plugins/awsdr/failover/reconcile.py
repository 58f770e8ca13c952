"""Failback data that loses nothing: every write made in the DR region reaches home.

Per resource, after its write freeze (:mod:`awsdr.failover.fencing`):

- **DynamoDB** (no global table): the stale home table gets a final on-demand backup (its ARN
  tagged on the table as ``awsdr:final-backup``) before anything changes it; then every item of
  the frozen DR table is written into the home table *under its original name* (tables are
  addressed by name), and home items the DR table no longer has are deleted. Counted: written,
  deleted, unchanged.
- **S3**: every object of the frozen DR bucket that this product did not copy there (no
  ``awsdr-source-version-id`` metadata: an application write) and that home lacks or holds an
  older version of is copied home (CopyObject, cross-region). Counted: copied, skipped.
- **RDS**: reverse replication: a cross-region read replica of the DR writer is made at home
  (``<name>-failback``, encrypted with ``failover.primary_kms_key``); the database's record
  (``databases[].dns``) moves to it (it refuses writes: that is the freeze), the runbook waits the
  record's TTL and a ``ReplicaLag`` of zero, then promotes it.

No Airflow; no waiting here: a function that cannot finish yet raises
:class:`~awsdr.aws.compute.StillWaiting` and is called again on the next round.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws import route53
from awsdr.aws.compute import StillWaiting
from awsdr.aws.context import error_code, tag_list
from awsdr.kinds.base import CaptureError
from awsdr.kinds.dynamodb import item_json

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

TAG_FINAL_BACKUP = "awsdr:final-backup"
TAG_FAILBACK_OF = "awsdr:failback-of"
META_SOURCE_VERSION = "awsdr-source-version-id"  # awsdr.kinds.s3.META_SOURCE_VERSION
#: BatchWriteItem takes at most 25 requests.
WRITE_BATCH = 25
SYNC_WORKERS = 8


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- endpoints and database records ------------------------------------------------------------------


def db_endpoint(ctx: AwsContext, kind: str, region: str, ident: str) -> str | None:
    """The writer endpoint of an RDS instance or Aurora cluster (None: absent or not yet known)."""
    rds = ctx.client("rds", region)
    try:
        if kind == "aurora":
            cl = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
            return str(cl["Endpoint"]) if cl.get("Endpoint") else None
        db = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    except ClientError as err:
        if error_code(err) in ("DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault"):
            return None
        raise
    address = (db.get("Endpoint") or {}).get("Address")
    return str(address) if address else None


def move_db_record(ctx: AwsContext, record: str, value: str, *, ttl: int, comment: str) -> list[str]:
    """UPSERT the database's CNAME ``record`` to ``value``; the change ids (empty: already there)."""
    found = route53.zone_for(ctx, record)
    if found is None:
        raise CaptureError(f"no hosted zone holds {record}")
    zone_id, _ = found
    ids, _, _ = route53.upsert_records(
        ctx, zone_id, [route53.RecordSpec(record, "CNAME", ttl, value)], comment=comment
    )
    return ids


def record_value(ctx: AwsContext, record: str) -> str | None:
    found = route53.zone_for(ctx, record)
    if found is None:
        return None
    sets = route53.find_records(ctx, found[0], [record]).get((route53.fqdn(record), "CNAME"), [])
    values = [r["Value"] for s in sets for r in s.get("ResourceRecords", [])]
    return values[0].rstrip(".") if values else None


# --- DynamoDB -------------------------------------------------------------------------------------------


def final_backup(ctx: AwsContext, region: str, table: str, run_id: str) -> tuple[str, str]:
    """The stale home table's final on-demand backup: ``(backup ARN, status)``; made once per run.

    The ARN is tagged on the table (``awsdr:final-backup``), so the table is never changed
    without a recovery point of what it held.
    """
    client = ctx.client("dynamodb", region)
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:10]
    name = f"awsdr-final-{table}"[:40] + f"-{digest}"
    found = [
        b
        for page in client.get_paginator("list_backups").paginate(TableName=table, BackupType="USER")
        for b in page.get("BackupSummaries", [])
        if b["BackupName"] == name
    ]
    if found:
        arn, status = found[0]["BackupArn"], found[0]["BackupStatus"]
    else:
        answer = client.create_backup(TableName=table, BackupName=name)["BackupDetails"]
        arn, status = answer["BackupArn"], answer["BackupStatus"]
        table_arn = client.describe_table(TableName=table)["Table"]["TableArn"]
        client.tag_resource(ResourceArn=table_arn, Tags=tag_list({TAG_FINAL_BACKUP: arn}))
    return str(arn), str(status)


def _key_of(item: dict[str, Any], key_names: list[str]) -> str:
    return item_json({k: item[k] for k in key_names})


def _scan(client: Any, table: str) -> dict[str, dict[str, Any]]:
    desc = client.describe_table(TableName=table)["Table"]
    names = [k["AttributeName"] for k in desc["KeySchema"]]
    out: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            out[_key_of(item, names)] = item
    return out


def _batch_write(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), WRITE_BATCH):
        pending: dict[str, list[dict[str, Any]]] = {table: requests[start : start + WRITE_BATCH]}
        for _ in range(8):
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
        if pending:
            raise CaptureError(f"{table}: BatchWriteItem left {len(pending.get(table, []))} unprocessed")


def sync_table(ctx: AwsContext, src_region: str, table: str, dest_region: str) -> dict[str, int]:
    """Make the home table ``table`` hold exactly the items of the DR table ``table``.

    Consistent scans of both; only items that differ are written; home items absent in DR are
    deleted. Returns ``{"written", "deleted", "unchanged", "dr_items"}``.
    """
    src = ctx.client("dynamodb", src_region)
    dest = ctx.client("dynamodb", dest_region)
    with ThreadPoolExecutor(max_workers=2) as pool:
        dr_future = pool.submit(_scan, src, table)
        home_future = pool.submit(_scan, dest, table)
        dr_items, home_items = dr_future.result(), home_future.result()
    names = [k["AttributeName"] for k in dest.describe_table(TableName=table)["Table"]["KeySchema"]]
    puts = [
        {"PutRequest": {"Item": item}}
        for key, item in dr_items.items()
        if key not in home_items or item_json(home_items[key]) != item_json(item)
    ]
    deletes = [
        {"DeleteRequest": {"Key": {k: item[k] for k in names}}}
        for key, item in home_items.items()
        if key not in dr_items
    ]
    _batch_write(dest, table, puts + deletes)
    return {
        "written": len(puts),
        "deleted": len(deletes),
        "unchanged": len(dr_items) - len(puts),
        "dr_items": len(dr_items),
    }


# --- S3 -------------------------------------------------------------------------------------------------


def _current_objects(client: Any, bucket: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = obj
    return out


def copy_dr_writes_home(
    ctx: AwsContext, dr_region: str, dr_bucket: str, home_region: str, home_bucket: str
) -> dict[str, Any]:
    """Copy home every object applications wrote in ``dr_bucket`` that home lacks or has older.

    Returns ``{"copied": n, "skipped_product_copies": n, "keys": [first 50 copied]}``.
    """
    src = ctx.client("s3", dr_region)
    dest = ctx.client("s3", home_region)
    dr_objects = _current_objects(src, dr_bucket)
    home_objects = _current_objects(dest, home_bucket)
    candidates = [
        key
        for key, obj in dr_objects.items()
        if key not in home_objects or obj["LastModified"] >= home_objects[key]["LastModified"]
    ]

    def _one(key: str) -> str:
        head = src.head_object(Bucket=dr_bucket, Key=key)
        if META_SOURCE_VERSION in (head.get("Metadata") or {}):
            return "product"
        dest.copy_object(
            Bucket=home_bucket,
            Key=key,
            CopySource={"Bucket": dr_bucket, "Key": key},
            MetadataDirective="COPY",
        )
        return "copied"

    with ThreadPoolExecutor(max_workers=SYNC_WORKERS) as pool:
        outcomes = dict(zip(candidates, pool.map(_one, candidates), strict=True))
    copied = sorted(k for k, v in outcomes.items() if v == "copied")
    return {
        "copied": len(copied),
        "skipped_product_copies": sum(1 for v in outcomes.values() if v == "product"),
        "dr_objects": len(dr_objects),
        "keys": copied[:50],
    }


# --- RDS reverse replication ------------------------------------------------------------------------------


def replica_lag(ctx: AwsContext, region: str, ident: str, *, now: datetime | None = None) -> float | None:
    """The newest ``ReplicaLag`` (seconds) of ``ident`` over the last 5 minutes; None: no data."""
    now = now or now_utc()
    answer = ctx.client("cloudwatch", region).get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": ident}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )
    points = sorted(answer.get("Datapoints") or [], key=lambda d: d["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


def ensure_home_replica(
    ctx: AwsContext,
    *,
    home: str,
    dr: str,
    dr_writer: str,
    name: str,
    kms_key: str | None,
    tags: dict[str, str],
) -> dict[str, Any]:
    """The home read replica of the DR writer: made once; its description (raises StillWaiting)."""
    rds = ctx.client("rds", home)
    try:
        db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    except ClientError as err:
        if error_code(err) not in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
            raise
        source = ctx.client("rds", dr).describe_db_instances(DBInstanceIdentifier=dr_writer)["DBInstances"][0]
        args: dict[str, Any] = {
            "DBInstanceIdentifier": name,
            "SourceDBInstanceIdentifier": source["DBInstanceArn"],
            "SourceRegion": dr,
            "Tags": tag_list(tags),
        }
        if kms_key:
            args["KmsKeyId"] = kms_key
        rds.create_db_instance_read_replica(**args)
        raise StillWaiting("reverse replica", [f"{name} (creating)"]) from None
    if db.get("DBInstanceStatus") != "available":
        raise StillWaiting("reverse replica", [f"{name} ({db.get('DBInstanceStatus')})"])
    return dict(db)
