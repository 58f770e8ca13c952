"""DynamoDB tables: recovery point = on-demand backup (CreateBackup), plus PITR exports.

Idempotency is by name. CreateBackup takes no tags and backup names are not unique, so before
creating, the table's USER backups are listed and one named
``point_name(DYNAMODB_NAME, plan, table, window)`` that is not DELETED is reused.

Tags: after the backup exists, ``tag_resource`` is tried on the backup ARN. AWS only tags
tables (and moto silently ignores other ARNs), so a refusal is ignored; the full tag set is
still carried on the returned :class:`RecoveryPoint` and the catalog manifest records it. The
point's identity (plan, window, source) lives in the backup name, which is what
:meth:`DynamoDbKind.find_existing` matches.

Content check: :func:`table_digest` scans the table (consistent reads) and hashes its items in
an order-independent way; capture records it so a restore can be compared against it. The scan
runs right after the backup is started, so on a table taking writes it describes the table a
moment after the backup, not the backup itself.

Point-in-time recovery (PITR) should be on: when it is off the table is still backed up, and
``meta["warnings"]`` says so. :func:`pitr_export` exports a table as of an instant inside the
PITR window to S3 (late windows, cross-region copies).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code, tag_list
from awsdr.kinds.base import AVAILABLE, CREATING, FAILED, MISSING, CaptureError, Kind, RecoveryPoint, Resource
from awsdr.windows import (
    DYNAMODB_NAME,
    TAG_CAPTURED_AT,
    format_window,
    point_name,
    point_tags,
    window_stamp,
)

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

_STATES = {"CREATING": CREATING, "AVAILABLE": AVAILABLE, "DELETED": MISSING}
_EXPORT_STATES = {"IN_PROGRESS": CREATING, "COMPLETED": AVAILABLE, "FAILED": FAILED}
_GONE = ("ResourceNotFoundException", "TableNotFoundException")

#: Warning recorded in ``meta["warnings"]`` for a table without point-in-time recovery.
PITR_OFF = "point-in-time recovery is off"
#: Most concurrent DescribeTable calls (DynamoDB has no batch describe).
DESCRIBE_WORKERS = 8
#: Most concurrent DescribeExport calls.
EXPORT_WORKERS = 8


class DigestTooLarge(Exception):
    """The table holds more items than the digest limit; no digest is computed."""


def table_name_of(arn: str) -> str:
    """``orders`` from ``arn:aws:dynamodb:<region>:<account>:table/orders`` (a name stays a name)."""
    return arn.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in arn else arn


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy of an AWS response fragment (datetimes as ISO strings)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _canonical_value(value: dict[str, Any]) -> dict[str, Any]:
    """One attribute value in wire format with binaries base64'd and set members sorted."""
    out: dict[str, Any] = {}
    for type_, inner in value.items():
        if type_ == "B":
            out[type_] = base64.b64encode(inner).decode()
        elif type_ == "BS":
            out[type_] = sorted(base64.b64encode(b).decode() for b in inner)
        elif type_ in ("SS", "NS"):
            out[type_] = sorted(inner)
        elif type_ == "L":
            out[type_] = [_canonical_value(v) for v in inner]
        elif type_ == "M":
            out[type_] = {k: _canonical_value(v) for k, v in inner.items()}
        else:
            out[type_] = inner
    return out


def item_json(item: dict[str, Any]) -> str:
    """Canonical JSON of one item in DynamoDB wire format (keys sorted, no spaces).

    Binary values are base64 (as on the wire) and set members sorted, because DynamoDB does not
    promise an order inside a set.
    """
    canonical = {name: _canonical_value(value) for name, value in item.items()}
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"))


def table_digest(client: Any, table_name: str, *, max_items: int | None = None) -> tuple[int, str]:
    """Exact item count and content digest of a table, independent of item order.

    A paginated, strongly consistent Scan; the digest is the sha256 hex of the sorted canonical
    JSON lines (:func:`item_json`), each followed by ``\\n``. Same contents, same digest, on any
    table in any region. Memory holds one JSON line per item.

    :param client: a boto3 DynamoDB client in the table's region.
    :param max_items: stop and raise :class:`DigestTooLarge` once the table has more items.
    """
    lines: list[str] = []
    pages = client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True)
    for page in pages:
        lines.extend(item_json(item) for item in page.get("Items", []))
        if max_items is not None and len(lines) > max_items:
            raise DigestTooLarge(f"table {table_name} has more than {max_items} items")
    lines.sort()
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return len(lines), digest.hexdigest()


def pitr_status(client: Any, table_name: str) -> dict[str, Any]:
    """``pitr_enabled`` and the earliest/latest restorable times (ISO strings) of a table."""
    desc = client.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
    pitr = desc.get("PointInTimeRecoveryDescription") or {}
    return {
        "pitr_enabled": pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        "earliest_restorable": _iso(pitr.get("EarliestRestorableDateTime")),
        "latest_restorable": _iso(pitr.get("LatestRestorableDateTime")),
    }


def pitr_export(
    ctx: AwsContext,
    region: str,
    table_arn: str,
    export_time: datetime,
    bucket: str,
    prefix: str,
    bucket_region: str,
) -> str:
    """Export the table as it was at ``export_time`` to ``s3://bucket/prefix``; returns the ExportArn.

    ``export_time`` must lie inside the table's PITR window (checked first: :class:`CaptureError`
    otherwise). The bucket may be in another region (``bucket_region``: its owner account is
    looked up there). A deterministic client token makes a retry return the same export.
    """
    client = ctx.client("dynamodb", region)
    if export_time.tzinfo is None:
        raise ValueError(f"naive export time {export_time!r}")
    when = export_time.astimezone(UTC)  # sub-second precision kept: PITR bounds have milliseconds
    try:
        status = pitr_status(client, table_name_of(table_arn))
    except ClientError as err:
        raise CaptureError(f"{error_code(err)}: {err}") from err
    if not status["pitr_enabled"]:
        raise CaptureError(f"{PITR_OFF} on {table_arn}: cannot export as of {_iso(when)}")
    earliest = datetime.fromisoformat(status["earliest_restorable"])
    latest = datetime.fromisoformat(status["latest_restorable"])
    if not earliest <= when <= latest:
        raise CaptureError(
            f"{_iso(when)} is outside the PITR window of {table_arn} "
            f"({status['earliest_restorable']} .. {status['latest_restorable']})"
        )
    token = hashlib.sha256(f"{table_arn}|{_iso(when)}|{bucket}|{prefix}".encode()).hexdigest()
    try:
        response = client.export_table_to_point_in_time(
            TableArn=table_arn,
            ExportTime=when,
            ClientToken=token,
            S3Bucket=bucket,
            S3BucketOwner=ctx.account_id(bucket_region),
            S3Prefix=prefix,
            ExportFormat="DYNAMODB_JSON",
        )
    except ClientError as err:
        raise CaptureError(f"{error_code(err)}: {err}") from err
    return str(response["ExportDescription"]["ExportArn"])


def export_status(ctx: AwsContext, region: str, export_arns: list[str]) -> dict[str, str]:
    """Normalised status per export: ``creating``, ``available``, ``failed`` or ``missing``."""
    client = ctx.client("dynamodb", region)

    def _one(arn: str) -> str:
        try:
            desc = client.describe_export(ExportArn=arn)["ExportDescription"]
        except ClientError as err:
            if error_code(err) in ("ExportNotFoundException", *_GONE):
                return MISSING
            raise
        return _EXPORT_STATES.get(desc.get("ExportStatus", ""), CREATING)

    if not export_arns:
        return {}
    with ThreadPoolExecutor(max_workers=min(EXPORT_WORKERS, len(export_arns))) as pool:
        return dict(zip(export_arns, pool.map(_one, export_arns), strict=True))


def _list_backups(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator("list_backups").paginate(BackupType="USER", **kwargs):
        out.extend(page.get("BackupSummaries", []))
    return out


def _backup_point(
    summary: dict[str, Any], region: str, plan: str, window: datetime, tags: dict[str, str]
) -> RecoveryPoint:
    arn = summary["BackupArn"]
    return RecoveryPoint(
        kind="dynamodb",
        point_id=arn,
        arn=arn,
        source_id=summary["TableName"],
        region=region,
        plan=plan,
        window=window,
        status=_STATES.get(summary.get("BackupStatus", ""), CREATING),
        tags=tags,
        created_at=summary.get("BackupCreationDateTime"),
        details={
            "backup_arn": arn,
            "backup_name": summary.get("BackupName"),
            "size_bytes": summary.get("BackupSizeBytes"),
        },
    )


class DynamoDbKind(Kind):
    """DynamoDB tables found through the tagging API, backed up with CreateBackup.

    :param digest_max_items: tables with more items get no content digest (recorded as None,
        with the reason in ``details["digest_skipped"]``).
    """

    name = "dynamodb"
    tagging_type = "dynamodb:table"

    def __init__(self, digest_max_items: int = 1_000_000) -> None:
        self.digest_max_items = digest_max_items

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        client = ctx.client("dynamodb", region)

        def _one(arn: str) -> Resource | None:
            name = table_name_of(arn)
            try:
                table = client.describe_table(TableName=name)["Table"]
                pitr = pitr_status(client, name)
            except ClientError as err:
                if error_code(err) in _GONE:
                    return None
                raise
            meta: dict[str, Any] = {
                "item_count": table.get("ItemCount"),
                "item_count_note": "DescribeTable ItemCount, refreshed by AWS about every 6 hours",
                "size_bytes": table.get("TableSizeBytes"),
                **pitr,
                "key_schema": _jsonable(table.get("KeySchema", [])),
                "billing_mode": (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
                "sse": _jsonable(table.get("SSEDescription")),
                "table_status": table.get("TableStatus"),
                "deletion_protection": bool(table.get("DeletionProtectionEnabled")),
                "replicas": [r.get("RegionName") for r in table.get("Replicas", [])],
            }
            if not pitr["pitr_enabled"]:
                meta["warnings"] = [PITR_OFF]
            return Resource(kind=self.name, id=name, arn=table["TableArn"], region=region, meta=meta)

        if not arns:
            return []
        with ThreadPoolExecutor(max_workers=min(DESCRIBE_WORKERS, len(arns))) as pool:
            return [r for r in pool.map(_one, arns) if r is not None]

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        client = ctx.client("dynamodb", region)
        prefix, suffix = f"awsdr-{plan}-", f"-{window_stamp(window)}"
        found: dict[str, RecoveryPoint] = {}
        for summary in _list_backups(client):
            backup_name, table = summary.get("BackupName", ""), summary.get("TableName", "")
            if summary.get("BackupStatus") == "DELETED" or not backup_name.startswith(prefix):
                continue
            if not backup_name.endswith(suffix) or backup_name != point_name(
                DYNAMODB_NAME, plan, table, window
            ):
                continue
            created = summary.get("BackupCreationDateTime") or window
            tags = point_tags(plan=plan, window=window, source=table, captured_at=created, kind=self.name)
            point = _backup_point(summary, region, plan, window, tags)
            prior = found.get(table)
            # Two backups of one name (a race): keep the earliest, the one a retry would reuse.
            if prior is None or (
                point.created_at and prior.created_at and point.created_at < prior.created_at
            ):
                found[table] = point
        return found

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        client = ctx.client("dynamodb", resource.region)
        backup_name = point_name(DYNAMODB_NAME, plan, resource.id, window)
        tags = dict(tags)
        try:
            same = [
                b
                for b in _list_backups(client, TableName=resource.id)
                if b.get("BackupName") == backup_name and b.get("BackupStatus") != "DELETED"
            ]
            if same:
                summary = min(same, key=lambda b: b.get("BackupCreationDateTime") or window)
                if summary.get("BackupCreationDateTime"):
                    tags[TAG_CAPTURED_AT] = format_window(summary["BackupCreationDateTime"])
            else:
                summary = client.create_backup(TableName=resource.id, BackupName=backup_name)["BackupDetails"]
                summary["TableName"] = resource.id
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        point = _backup_point(summary, resource.region, plan, window, tags)
        try:
            client.tag_resource(ResourceArn=point.arn, Tags=tag_list(tags))
        except ClientError as err:
            log.debug("Backup %s not tagged (%s): tags kept in the catalog", point.arn, error_code(err))
        point.details.update(self._content(client, resource))
        point.details["pitr_enabled"] = resource.meta.get("pitr_enabled")
        if point.details.get("size_bytes") is None:
            point.details["size_bytes"] = resource.meta.get("size_bytes")
        return point

    def _content(self, client: Any, resource: Resource) -> dict[str, Any]:
        """Exact item count and digest of the table, or the reason there is none."""
        scanned_at = format_window(datetime.now(UTC))
        approx = resource.meta.get("item_count")
        skipped = f"table has about {approx} items, over digest_max_items={self.digest_max_items}"
        if isinstance(approx, int) and approx > self.digest_max_items:
            return {
                "item_count": approx,
                "item_count_exact": False,
                "digest": None,
                "digest_skipped": skipped,
            }
        try:
            count, digest = table_digest(client, resource.id, max_items=self.digest_max_items)
        except DigestTooLarge as err:
            return {
                "item_count": approx,
                "item_count_exact": False,
                "digest": None,
                "digest_skipped": str(err),
            }
        except ClientError as err:
            reason = f"scan failed: {error_code(err)}"
            return {"item_count": approx, "item_count_exact": False, "digest": None, "digest_skipped": reason}
        return {
            "item_count": count,
            "item_count_exact": True,
            "digest": digest,
            "digest_scanned_at": scanned_at,
        }

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        client = ctx.client("dynamodb", region)
        seen = {b["BackupArn"]: b for b in _list_backups(client)} if points else {}
        for p in points:
            summary = seen.get(p.point_id)
            if summary is None:
                p.status = MISSING
                continue
            p.status = _STATES.get(summary.get("BackupStatus", ""), CREATING)
            if summary.get("BackupSizeBytes") is not None:
                p.details["size_bytes"] = summary["BackupSizeBytes"]
        return points
