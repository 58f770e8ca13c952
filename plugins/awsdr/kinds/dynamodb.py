"""DynamoDB tables: recovery point = on-demand backup (CreateBackup); DR copy = PITR export to S3.

Idempotency is by name. CreateBackup takes no tags and backup names are not unique, so before
creating, the table's USER backups are listed and one named
``point_name(DYNAMODB_NAME, plan, table, window)`` that is not DELETED is reused.

Tags live in a sidecar document in the catalog bucket. AWS tags only tables (moto silently ignores
``tag_resource`` on a backup ARN), so :meth:`DynamoDbKind.capture` writes
``points/dynamodb/<plan>/<table>/<window stamp>.tags.json`` =
``{"point_id": <backup ARN>, "region", "tags", "details"}`` (``tag_resource`` on the backup is still
tried, for the day AWS takes it). A backup without a sidecar is not managed: it is listed by
nobody and never deleted. **Legal hold on a DynamoDB point**: add ``"awsdr:legal-hold"`` to the
``tags`` of its sidecar (:meth:`DynamoDbKind.set_tags` does it); :meth:`DynamoDbKind.delete`
re-reads the sidecar right before deleting and deletes the sidecar after the backup.

Cross-region copy: a backup cannot be copied to another region (AWS Backup can, this product does
not use it), so the copy is a point-in-time export (ExportTableToPointInTime) as of the point's
window (or, if the window is outside the PITR period, the backup's creation time) into the DR
bucket ``<catalog bucket>-ddb-<region>`` (SSE-KMS with the DR key) under
``exports/<plan>/<table>/<window stamp>``. PITR must be on. The copy's sidecar is
``points/dynamodb-dr/<region>/<plan>/<table>/<window stamp>.tags.json``; its status is the export's
(DescribeExport answers in the table's region only, recorded as ``source_region``). Deleting a
copy deletes the export's objects (every version) and the sidecar; the export record itself
cannot be deleted (AWS keeps it listed for 90 days).

Restore: a primary point with RestoreTableFromBackup, an export copy with ImportTable from the
export's ``AWSDynamoDB/<export id>/data/`` files (DYNAMODB_JSON, GZIP) using the key schema
recorded at capture (``details["table_schema"]``; local secondary indexes cannot be imported).
Restored tables are tagged with TagResource (retried by :meth:`DynamoDbKind.restore_status` while
the table is still being created).

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
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from awsdr.aws.context import error_code, jsonable, tag_dict, tag_list
from awsdr.aws.idempotent import create_or_find
from awsdr.catalog import copies_prefix, dr_point_doc_key, point_doc_key, point_index_key, points_prefix
from awsdr.kinds.base import (
    ABSENT,
    AVAILABLE,
    CREATING,
    DELETED,
    FAILED,
    MISSING,
    REFUSED,
    CaptureError,
    Kind,
    RecoveryPoint,
    Resource,
    Restored,
    RetryLater,
    point_from_tags,
    tag_selected,
)
from awsdr.kinds.s3 import (
    copy_version,
    deletable,
    delete_versions,
    drop_from_indexes,
    ensure_bucket,
    get_doc,
    grant_vault_read,
    index_entries,
    indexed_listing,
    list_versions,
    make_bucket_name,
    put_doc,
    put_doc_etag,
    resolve_kms_key,
    update_point_index,
    vault_bucket_name,
)
from awsdr.windows import (
    DYNAMODB_NAME,
    TAG_CAPTURED_AT,
    TAG_LEGAL_HOLD,
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
    """A JSON-safe copy of an AWS response fragment."""
    return jsonable(value, _iso)


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
    *,
    kms_key_id: str | None = None,
    bucket_owner: str | None = None,
    attempt: int = 0,
    pitr: dict[str, Any] | None = None,
) -> str:
    """Export the table as it was at ``export_time`` to ``s3://bucket/prefix``; returns the ExportArn.

    ``export_time`` must lie inside the table's PITR window (checked first: :class:`CaptureError`
    otherwise; ``pitr``: the table's :func:`pitr_status` the caller has just read, not read
    again). The bucket may be in another region (``bucket_region``: its owner account is
    looked up there unless ``bucket_owner`` is given). ``kms_key_id`` (a key ARN) encrypts the
    exported objects with SSE-KMS. A deterministic client token makes a retry return the same
    export (AWS keeps tokens 8 hours; moto ignores them); ``attempt`` > 0 starts a fresh export
    after a failed one.
    """
    client = ctx.client("dynamodb", region)
    if export_time.tzinfo is None:
        raise ValueError(f"naive export time {export_time!r}")
    when = export_time.astimezone(UTC)  # sub-second precision kept: PITR bounds have milliseconds
    try:
        status = pitr if pitr is not None else pitr_status(client, table_name_of(table_arn))
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
    seed = f"{table_arn}|{_iso(when)}|{bucket}|{prefix}" + (f"|{attempt}" if attempt else "")
    token = hashlib.sha256(seed.encode()).hexdigest()
    encryption = {"S3SseAlgorithm": "KMS", "S3SseKmsKeyId": kms_key_id} if kms_key_id else {}
    owner = bucket_owner or ctx.account_id(bucket_region)

    def create() -> str:
        response = ctx.create_client("dynamodb", region).export_table_to_point_in_time(
            TableArn=table_arn,
            ExportTime=when,
            ClientToken=token,
            S3Bucket=bucket,
            S3BucketOwner=owner,
            S3Prefix=prefix,
            ExportFormat="DYNAMODB_JSON",
            **encryption,
        )
        return str(response["ExportDescription"]["ExportArn"])

    try:
        # The token dedupes a resend on AWS; moto ignores it, so a doubtful answer is followed by a
        # look-up of an export of this table into the same bucket and prefix first.
        return create_or_find(
            create,
            lambda: _export_into(client, table_arn, bucket, prefix),
            what=f"export of {table_arn} to s3://{bucket}/{prefix}",
        )
    except (ClientError, BotoCoreError) as err:
        raise CaptureError(f"{error_code(err)}: {err}") from err


def _export_into(client: Any, table_arn: str, bucket: str, prefix: str) -> str | None:
    """The ARN of an export of ``table_arn`` into ``s3://bucket/prefix`` that has not failed."""
    kwargs: dict[str, Any] = {"TableArn": table_arn}
    while True:
        page = client.list_exports(**kwargs)
        for summary in page.get("ExportSummaries", []):
            if summary.get("ExportStatus") == "FAILED":
                continue
            desc = client.describe_export(ExportArn=summary["ExportArn"])["ExportDescription"]
            if desc.get("S3Bucket") == bucket and desc.get("S3Prefix") == prefix:
                return str(summary["ExportArn"])
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


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


def describe_exports(
    ctx: AwsContext, region: str, export_arns: list[str]
) -> dict[str, dict[str, Any] | None]:
    """DescribeExport of each ARN (pool of 8, in the table's region); None for an unknown export."""
    client = ctx.client("dynamodb", region)

    def _one(arn: str) -> dict[str, Any] | None:
        try:
            desc: dict[str, Any] = client.describe_export(ExportArn=arn)["ExportDescription"]
        except ClientError as err:
            if error_code(err) in ("ExportNotFoundException", *_GONE):
                return None
            raise
        return desc

    if not export_arns:
        return {}
    with ThreadPoolExecutor(max_workers=min(EXPORT_WORKERS, len(export_arns))) as pool:
        return dict(zip(export_arns, pool.map(_one, export_arns), strict=True))


#: Suffix of the tags sidecars in the catalog.
SIDECAR_SUFFIX = ".tags.json"
#: Most concurrent catalog reads (sidecars).
CATALOG_WORKERS = 16
#: Most concurrent per-point / per-table calls in delete, restore status and cleanup.
WORKERS = 8
PITR_OUTSIDE = "window outside the PITR period: no cross-region copy can hold this point"


def sidecar_key(plan: str, table: str, window: datetime) -> str:
    """``points/dynamodb/<plan>/<table>/<window stamp>.tags.json``: a backup point's tags."""
    return point_doc_key("dynamodb", plan, table, window, SIDECAR_SUFFIX)


def copy_sidecar_key(region: str, plan: str, table: str, window: datetime) -> str:
    """``points/dynamodb-dr/<region>/<plan>/<table>/<window stamp>.tags.json``: an export copy's."""
    return dr_point_doc_key("dynamodb", region, plan, table, window, SIDECAR_SUFFIX)


def export_prefix(plan: str, table: str, window: datetime) -> str:
    """``exports/<plan>/<table>/<window stamp>``: where a copy's export goes in the DR bucket."""
    return f"exports/{plan}/{table}/{window_stamp(window)}"


def is_backup_arn(point_id: str) -> bool:
    """A backup ARN (``...:table/<name>/backup/<id>``) rather than an export ARN."""
    return "/backup/" in point_id


def table_schema(table: dict[str, Any]) -> dict[str, Any]:
    """What ImportTable needs to recreate a table: key schema, key attributes, GSIs (JSON-safe)."""
    gsis = [
        {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g.get("Projection")}
        for g in table.get("GlobalSecondaryIndexes", [])
    ]
    return _jsonable(
        {
            "key_schema": table.get("KeySchema", []),
            "attribute_definitions": table.get("AttributeDefinitions", []),
            "global_secondary_indexes": gsis,
        }
    )


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _when(value: Any) -> datetime | None:
    """A datetime from an ISO string or a datetime (None stays None)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


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

    def __init__(
        self,
        digest_max_items: int = 1_000_000,
        catalog_bucket: str | None = None,
        catalog_region: str | None = None,
    ) -> None:
        self.digest_max_items = digest_max_items
        #: where the tags sidecars go (set by the caller, like S3Kind's)
        self.catalog_bucket = catalog_bucket
        self.catalog_region = catalog_region
        self._ready: set[str] = set()

    def _catalog(self, ctx: AwsContext, region: str) -> tuple[Any, str]:
        if not self.catalog_bucket:
            raise ValueError("DynamoDbKind.catalog_bucket is not set: tags sidecars have nowhere to go")
        return ctx.client("s3", self.catalog_region or region), self.catalog_bucket

    def export_bucket(self, region: str) -> str:
        """The DR bucket of ``region`` that exports go to: ``<catalog bucket>-ddb-<region>`` (<= 63)."""
        if not self.catalog_bucket:
            raise ValueError("DynamoDbKind.catalog_bucket is not set: no export bucket name")
        return make_bucket_name(self.catalog_bucket, "ddb", region)

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
                "table_schema": table_schema(table),
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

        def find() -> dict[str, Any] | None:
            same = [
                b
                for b in _list_backups(client, TableName=resource.id)
                if b.get("BackupName") == backup_name and b.get("BackupStatus") != "DELETED"
            ]
            return min(same, key=lambda b: b.get("BackupCreationDateTime") or window) if same else None

        def create() -> dict[str, Any]:
            made = ctx.create_client("dynamodb", resource.region).create_backup(
                TableName=resource.id, BackupName=backup_name
            )["BackupDetails"]
            return {**made, "TableName": resource.id}

        try:
            summary = find()
            if summary is not None:
                if summary.get("BackupCreationDateTime"):
                    tags[TAG_CAPTURED_AT] = format_window(summary["BackupCreationDateTime"])
            else:
                # CreateBackup has no idempotency token and backup names are not unique: after a
                # doubtful answer the name is looked up before any second CreateBackup.
                summary = create_or_find(create, find, what=f"backup {backup_name}")
        except (ClientError, BotoCoreError) as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        point = _backup_point(summary, resource.region, plan, window, tags)
        try:
            client.tag_resource(ResourceArn=point.arn, Tags=tag_list(tags))
        except ClientError as err:
            log.debug("Backup %s not tagged (%s): tags kept in the catalog", point.arn, error_code(err))
        point.details.update(self._content(client, resource))
        point.details["pitr_enabled"] = resource.meta.get("pitr_enabled")
        point.details["table_schema"] = resource.meta.get("table_schema")
        if point.details.get("size_bytes") is None:
            point.details["size_bytes"] = resource.meta.get("size_bytes")
        self._write_sidecar(ctx, point)
        return point

    def _write_sidecar(self, ctx: AwsContext, point: RecoveryPoint) -> None:
        """Record the point's tags in its sidecar (once: an existing sidecar's tags are kept)."""
        if not self.catalog_bucket:
            log.warning("No catalog bucket set: %s has no tags sidecar and is not managed", point.point_id)
            point.details["tags_sidecar"] = None
            return
        catalog, bucket = self._catalog(ctx, point.region)
        key = sidecar_key(point.plan, point.source_id, point.window)
        doc = {
            "schema": 1,
            "kind": self.name,
            "point_id": point.point_id,
            "region": point.region,
            "table": point.source_id,
            "plan": point.plan,
            "window": format_window(point.window),
            "tags": point.tags,
            "details": _jsonable(point.details),
        }
        try:
            for _ in range(5):
                existing, etag = get_doc(catalog, bucket, key)
                if existing is not None and existing.get("point_id") == point.point_id:
                    point.tags = {**point.tags, **(existing.get("tags") or {})}
                    self._index_heal(catalog, bucket, key, etag, existing)
                    break
                if existing is not None:
                    log.warning("Sidecar %s named %s, now %s", key, existing.get("point_id"), point.point_id)
                written = put_doc_etag(
                    catalog, bucket, key, doc, if_none_match=existing is None, if_match=etag
                )
                if written is not None:
                    self._index_put(catalog, bucket, key, written, doc)
                    break
            else:
                raise CaptureError(f"tags sidecar {key} kept changing")
        except ClientError as err:
            raise CaptureError(f"tags sidecar {key}: {error_code(err)}: {err}") from err
        point.details["tags_sidecar"] = key

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
        """Backups: one ListBackups of ``region``. Export copies (a DR copy's id is its export's
        ARN): DescribeExport in the table's region, where the export runs (pool of 8), so the
        copy queue's trigger sees an export finish like any other copy."""
        exports = [p for p in points if not is_backup_arn(p.point_id) and p.point_id.startswith("arn:")]
        by_region: dict[str, list[RecoveryPoint]] = {}
        for p in exports:
            by_region.setdefault(p.point_id.split(":")[3] or region, []).append(p)
        for export_region, items in by_region.items():
            states = export_status(ctx, export_region, [p.point_id for p in items])
            for p in items:
                p.status = states.get(p.point_id, MISSING)
        backups = [p for p in points if not any(p is e for e in exports)]
        client = ctx.client("dynamodb", region)
        seen = {b["BackupArn"]: b for b in _list_backups(client)} if backups else {}
        for p in backups:
            summary = seen.get(p.point_id)
            if summary is None:
                p.status = MISSING
                continue
            p.status = _STATES.get(summary.get("BackupStatus", ""), CREATING)
            if summary.get("BackupSizeBytes") is not None:
                p.details["size_bytes"] = summary["BackupSizeBytes"]
        return points

    # --- sidecars ---------------------------------------------------------------------------------

    def _read_sidecars(self, catalog: Any, bucket: str, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        """Every sidecar under ``prefix``: one listing, the folders' listing indexes (one GET each),
        then the sidecars without a valid index entry themselves, on a pool of 16."""
        listed = indexed_listing(catalog, bucket, prefix, lambda k: k.endswith(SIDECAR_SUFFIX))
        docs: dict[str, dict[str, Any] | None] = {
            k: e["doc"] for k, e in listed if e is not None and isinstance(e.get("doc"), dict)
        }
        unread = [k for k, _ in listed if k not in docs]
        if unread:
            with ThreadPoolExecutor(max_workers=min(CATALOG_WORKERS, len(unread))) as pool:
                docs.update(
                    zip(unread, pool.map(lambda k: get_doc(catalog, bucket, k)[0], unread), strict=True)
                )
        return [(k, d) for k, _ in listed if (d := docs.get(k)) is not None]

    @staticmethod
    def _index_put(catalog: Any, bucket: str, key: str, etag: str | None, doc: dict[str, Any]) -> None:
        """Record a written sidecar in its folder's listing index (best effort: see kinds/s3.py)."""
        if etag:
            entry = {"etag": etag.strip('"'), "doc": json.loads(json.dumps(doc))}  # as read back
            update_point_index(catalog, bucket, point_index_key(key), put={key: entry})

    def _index_heal(self, catalog: Any, bucket: str, key: str, etag: str | None, doc: dict[str, Any]) -> None:
        """An existing sidecar (a retried capture) gets its index entry if it lacks a valid one."""
        try:
            entries = index_entries(get_doc(catalog, bucket, point_index_key(key))[0])
        except (ClientError, ValueError) as err:
            log.warning("Listing index of %s not checked: %s", key, err)
            return
        if str((entries.get(key) or {}).get("etag") or "") != str(etag or "").strip('"'):
            self._index_put(catalog, bucket, key, etag, doc)

    def _sidecar_of(self, point: RecoveryPoint, region: str) -> str:
        if is_backup_arn(point.point_id):
            return sidecar_key(point.plan, point.source_id, point.window)
        return copy_sidecar_key(region, point.plan, point.source_id, point.window)

    def _sidecar_point(
        self, key: str, doc: dict[str, Any], status: str, created_at: datetime | None, extra: dict[str, Any]
    ) -> RecoveryPoint | None:
        arn = str(doc["point_id"])
        details = {**(doc.get("details") or {}), **extra, "tags_sidecar": key}
        point = point_from_tags(
            self.name, arn, arn, doc["region"], doc.get("tags") or {}, status, created_at, details
        )
        if point is not None:
            point.source_id = doc.get("table") or point.source_id
            point.plan = doc.get("plan") or point.plan
        return point

    # --- listing ----------------------------------------------------------------------------------

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        """Backups in ``region`` joined with their sidecars, plus the export copies held in ``region``.

        One ListBackups (paginated), one catalog listing per prefix, sidecars read on a pool of 16,
        export statuses from DescribeExport in the tables' region (pool of 8). A backup without
        a sidecar is not managed and not listed; a sidecar whose backup is gone is listed as
        ``missing`` (retention then removes the sidecar).
        """
        catalog, bucket = self._catalog(ctx, region)
        client = ctx.client("dynamodb", region)
        backups = {
            b["BackupArn"]: b
            for b in _list_backups(client)
            if str(b.get("BackupName", "")).startswith("awsdr-") and b.get("BackupStatus") != "DELETED"
        }
        points: list[RecoveryPoint] = []
        for key, doc in self._read_sidecars(catalog, bucket, points_prefix(self.name, plan)):
            if doc.get("region") != region or not doc.get("point_id"):
                continue
            summary = backups.get(doc["point_id"])
            status = _STATES.get(summary.get("BackupStatus", ""), CREATING) if summary else MISSING
            extra: dict[str, Any] = {}
            created = None
            if summary:
                created = summary.get("BackupCreationDateTime")
                extra = {"backup_name": summary.get("BackupName"), "backup_arn": summary["BackupArn"]}
                if summary.get("BackupSizeBytes") is not None:
                    extra["size_bytes"] = summary["BackupSizeBytes"]
            point = self._sidecar_point(key, doc, status, created, extra)
            if point is not None:
                points.append(point)
        points += self._export_copies(ctx, region, plan)
        return [p for p in points if plan is None or p.plan == plan]

    def list_copies(self, ctx: AwsContext, region: str) -> list[RecoveryPoint]:
        """The export copies held in ``region`` (any plan): their sidecars and DescribeExport, no
        ListBackups and no read of the region's own backup sidecars (a copy pass lists each DR
        region this way on every round)."""
        return self._export_copies(ctx, region, None)

    def _export_copies(self, ctx: AwsContext, region: str, plan: str | None) -> list[RecoveryPoint]:
        catalog, bucket = self._catalog(ctx, region)
        points: list[RecoveryPoint] = []
        copies = [
            (k, d)
            for k, d in self._read_sidecars(catalog, bucket, copies_prefix(self.name, region, plan))
            if d.get("point_id")
        ]
        by_region: dict[str, list[str]] = {}
        for _, doc in copies:
            by_region.setdefault(doc.get("source_region") or region, []).append(doc["point_id"])
        exports: dict[str, dict[str, Any] | None] = {}
        unreachable: set[str] = set()
        for source_region, arns in by_region.items():
            try:
                exports.update(describe_exports(ctx, source_region, arns))
            except (ClientError, BotoCoreError) as err:
                # The source region is down (a disaster): judge by the export bucket instead.
                log.warning(
                    "DescribeExport in %s failed (%s): status from the export bucket", source_region, err
                )
                unreachable.update(arns)
        for key, doc in copies:
            desc = exports.get(doc["point_id"])
            status = _EXPORT_STATES.get(desc.get("ExportStatus", ""), CREATING) if desc else MISSING
            extra = {}
            if doc["point_id"] in unreachable:
                status = self._status_from_bucket(ctx.client("s3", region), doc)
                extra["status_from"] = "export bucket (source region unreachable)"
            if desc and desc.get("BilledSizeBytes") is not None:
                extra["size_bytes"] = desc["BilledSizeBytes"]
            if desc and desc.get("FailureMessage"):
                extra["failure"] = f"{desc.get('FailureCode')}: {desc['FailureMessage']}"
            point = self._sidecar_point(key, doc, status, _when(doc.get("copied_at")), extra)
            if point is not None:
                if desc and desc.get("FailureMessage"):
                    point.error = extra["failure"]
                points.append(point)
        return [p for p in points if plan is None or p.plan == plan]

    @staticmethod
    def _status_from_bucket(s3: Any, doc: dict[str, Any]) -> str:
        """An export's status without DescribeExport: AWS writes ``manifest-summary.json`` last.

        (moto writes no manifest files, so there a copy judged this way stays ``creating``.)
        """
        details = doc.get("details") or {}
        export_id = str(doc["point_id"]).rsplit("/", 1)[-1]
        summary = (
            f"{str(details.get('prefix', '')).rstrip('/')}/AWSDynamoDB/{export_id}/manifest-summary.json"
        )
        try:
            s3.head_object(Bucket=details.get("bucket", ""), Key=summary)
        except ClientError as err:
            if error_code(err) in ("404", "NoSuchKey", "NotFound"):
                return CREATING
            if error_code(err) == "NoSuchBucket":
                return MISSING
            raise
        return AVAILABLE

    # --- copy ---------------------------------------------------------------------------------------

    def copy(
        self,
        ctx: AwsContext,
        point: RecoveryPoint,
        *,
        dest_region: str,
        kms_key_id: str,
        tags: dict[str, str],
        dest_ctx: AwsContext | None = None,
    ) -> RecoveryPoint:
        """Export the table as of the point into the DR region's export bucket (see module doc).

        Idempotent through the copy's sidecar (and the export's client token): a copy made or in
        flight is returned; a failed or vanished export is started again.
        """
        if not is_backup_arn(point.point_id):
            raise CaptureError(f"{point.point_id} is an export copy: only backups are copied")
        dctx = dest_ctx or ctx
        catalog, catalog_bucket = self._catalog(ctx, dest_region)
        table = point.source_id
        key = copy_sidecar_key(dest_region, point.plan, table, point.window)
        src = ctx.client("dynamodb", point.region)
        # PITR first: while its latest restorable time trails the window (minutes after each
        # backup on AWS), no export of this window can exist yet, and the pass that waits makes
        # this one call (no sidecar read, no DescribeTable)
        try:
            pitr = pitr_status(src, table)
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: table {table}: {err}") from err
        earliest, latest = _when(pitr["earliest_restorable"]), _when(pitr["latest_restorable"])
        export_time = next(
            (
                t
                for t in (point.window, point.created_at)
                if t is not None and earliest is not None and latest is not None and earliest <= t <= latest
            ),
            None,
        )
        if (
            pitr["pitr_enabled"]
            and export_time is None
            and latest is not None
            and any(t is not None and t > latest for t in (point.window, point.created_at))
        ):
            needed = min(t for t in (point.window, point.created_at) if t is not None and t > latest)
            # the latest restorable time moves with the clock, trailing it by a lag: it passes the
            # moment needed that much later (plus a second's margin)
            raise RetryLater(
                f"{table}: window {format_window(point.window)} (or the backup's time) is newer than the latest "
                f"restorable time {pitr['latest_restorable']} (PITR trails the table by minutes); the copy waits",
                retry_at=datetime.now(UTC) + (needed - latest) + timedelta(seconds=1),
            )
        try:
            prior, prior_etag = get_doc(catalog, catalog_bucket, key)
        except ClientError as err:
            raise CaptureError(f"copy sidecar {key}: {error_code(err)}: {err}") from err
        attempt = 0
        if prior is not None:
            found = self._copy_from_sidecar(ctx, key, prior)
            if found is not None and found.status not in (FAILED, MISSING):
                return found
            attempt = int(prior.get("attempt", 0)) + 1
        try:
            desc = src.describe_table(TableName=table)["Table"]
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: table {table}: {err}") from err
        if not pitr["pitr_enabled"]:
            raise CaptureError(f"{PITR_OFF} on {table}: enable it to copy DynamoDB across regions")
        if export_time is None:
            raise CaptureError(
                f"{PITR_OUTSIDE} ({table}: window {format_window(point.window)}, PITR "
                f"{pitr['earliest_restorable']} .. {pitr['latest_restorable']})"
            )
        kms_arn = resolve_kms_key(dctx, dest_region, kms_key_id)
        export_bucket = self.export_bucket(dest_region)
        ensure_bucket(
            dctx.client("s3", dest_region),
            export_bucket,
            dest_region,
            kms_key_arn=kms_arn,
            ready=self._ready,
        )
        prefix = export_prefix(point.plan, table, point.window)
        export_arn = pitr_export(
            ctx,
            point.region,
            desc["TableArn"],
            export_time,
            export_bucket,
            prefix,
            dest_region,
            kms_key_id=kms_arn,
            bucket_owner=dctx.account_id(dest_region),
            attempt=attempt,
            pitr=pitr,
        )
        carried = (prior or {}).get("tags") or {}
        doc_tags = dict(tags)
        if TAG_LEGAL_HOLD in carried:
            doc_tags[TAG_LEGAL_HOLD] = carried[TAG_LEGAL_HOLD]
        details = {
            "export_arn": export_arn,
            "bucket": export_bucket,
            "prefix": prefix,
            "export_time": _iso(export_time),
            "kms_key_id": kms_arn,
            "source_point": point.point_id,
            "table_schema": point.details.get("table_schema") or table_schema(desc),
        }
        for name in ("item_count", "item_count_exact", "digest"):
            if name in point.details:
                details[name] = point.details[name]
        doc = {
            "schema": 1,
            "kind": self.name,
            "point_id": export_arn,
            "region": dest_region,
            "source_region": point.region,
            "table": table,
            "plan": point.plan,
            "window": format_window(point.window),
            "copied_at": format_window(datetime.now(UTC)),
            "attempt": attempt,
            "tags": doc_tags,
            "details": _jsonable(details),
        }
        try:
            etag = put_doc_etag(
                catalog, catalog_bucket, key, doc, if_none_match=prior is None, if_match=prior_etag
            )
            if etag is None:  # another run wrote it first: theirs stands
                other, etag = get_doc(catalog, catalog_bucket, key)
                if other is not None:
                    doc = other
            if etag:
                self._index_put(catalog, catalog_bucket, key, etag, doc)
        except ClientError as err:
            raise CaptureError(f"copy sidecar {key}: {error_code(err)}: {err}") from err
        made = self._copy_from_sidecar(ctx, key, doc)
        if made is None:
            raise CaptureError(f"copy sidecar {key} does not make a managed point (tags {doc_tags})")
        return made

    def _copy_from_sidecar(self, ctx: AwsContext, key: str, doc: dict[str, Any]) -> RecoveryPoint | None:
        arn = str(doc["point_id"])
        desc = describe_exports(ctx, doc.get("source_region") or doc["region"], [arn])[arn]
        status = _EXPORT_STATES.get(desc.get("ExportStatus", ""), CREATING) if desc else MISSING
        extra: dict[str, Any] = {}
        if desc and desc.get("BilledSizeBytes") is not None:
            extra["size_bytes"] = desc["BilledSizeBytes"]
        point = self._sidecar_point(key, doc, status, _when(doc.get("copied_at")), extra)
        if point is not None and desc and desc.get("FailureMessage"):
            point.error = f"{desc.get('FailureCode')}: {desc['FailureMessage']}"
        return point

    # --- vault: the export copy's objects copied into the vault account ---------------------------
    # Layout in the vault account's bucket ``<catalog bucket>-vault-<region>`` (s3.vault_bucket_name):
    # the objects under ``exports/<plan>/<table>/<window stamp>/`` (the DR export's layout, so
    # ImportTable reads them as they are) and the sidecar ``points/dynamodb/<plan>/<table>/<stamp>.tags.json``,
    # written last: a vault point exists only once all its objects do.

    def share(self, ctx: AwsContext, point: RecoveryPoint, account_id: str) -> None:
        """Let ``account_id`` read the export copy's bucket (bucket policy) and decrypt it (KMS grant).

        Backups cannot be shared across accounts (AWS Backup can); their export copies can.
        """
        if is_backup_arn(point.point_id):
            raise CaptureError(f"{point.point_id} is a backup: only export copies are shared with the vault")
        bucket = point.details.get("bucket")
        if not bucket:
            raise CaptureError(f"{point.point_id}: the copy records no export bucket")
        grant_vault_read(ctx, point.region, str(bucket), account_id, point.details.get("kms_key_id"))

    def vault_copy(
        self,
        ctx: AwsContext,
        point: RecoveryPoint,
        *,
        vault_ctx: AwsContext,
        account_id: str,
        region: str,
        kms_key_id: str,
        tags: dict[str, str],
    ) -> RecoveryPoint:
        """Copy a complete export copy's objects into the vault bucket (by the vault role, SSE-KMS
        with the vault's key), then write its sidecar there. Idempotent: an existing sidecar is
        returned; an object already copied (same key and size, origin version in its metadata) is
        not copied again."""
        if is_backup_arn(point.point_id) or point.status != AVAILABLE:
            raise CaptureError(f"{point.point_id}: only complete export copies go to the vault")
        if not self.catalog_bucket:
            raise ValueError("DynamoDbKind.catalog_bucket is not set: no vault bucket name")
        vs3 = vault_ctx.client("s3", region)
        vault_bucket = vault_bucket_name(self.catalog_bucket, region)
        key = sidecar_key(point.plan, point.source_id, point.window)
        try:
            found, _ = get_doc(vs3, vault_bucket, key)
        except ClientError as err:
            if error_code(err) not in ("NoSuchBucket", "404"):
                raise CaptureError(f"vault sidecar {key}: {error_code(err)}: {err}") from err
            found = None
        if found is not None:
            made = self._sidecar_point(key, found, AVAILABLE, _when(found.get("copied_at")), {})
            if made is None:
                raise CaptureError(f"vault sidecar {key} exists and is not a managed point")
            return made
        details = dict(point.details)
        src_bucket, src_prefix = str(details.get("bucket", "")), str(details.get("prefix", "")).rstrip("/")
        if not src_bucket or not src_prefix:
            raise CaptureError(f"{point.point_id}: the copy records no export bucket or prefix")
        kms_arn = resolve_kms_key(vault_ctx, region, kms_key_id)
        ensure_bucket(
            vs3,
            vault_bucket,
            region,
            kms_key_arn=kms_arn,
            tags={"awsdr:vault": "true"},
            ready=self._ready,
        )
        self.share(ctx, point, account_id)
        prefix = export_prefix(point.plan, point.source_id, point.window)
        try:
            versions, _ = list_versions(vs3, src_bucket, src_prefix + "/")
            have, _ = list_versions(vs3, vault_bucket, prefix + "/")
        except ClientError as err:
            raise CaptureError(f"export objects of {point.point_id}: {error_code(err)}: {err}") from err
        sources = [v for v in versions if v.get("IsLatest")]
        if not sources:
            raise CaptureError(f"{point.point_id}: no export objects under s3://{src_bucket}/{src_prefix}/")
        done = {(v["Key"], int(v.get("Size", 0))) for v in have if v.get("IsLatest")}

        def _copy(v: dict[str, Any]) -> tuple[int, str | None]:
            target = prefix + v["Key"][len(src_prefix) :]
            if (target, int(v.get("Size", 0))) in done:
                return int(v.get("Size", 0)), None
            try:
                copy_version(
                    vs3,
                    vs3,
                    src_bucket,
                    v["Key"],
                    str(v["VersionId"]),
                    vault_bucket,
                    kms_arn,
                    origin_version=str(v["VersionId"]),
                    dest_key=target,
                )
            except ClientError as err:
                return 0, f"{v['Key']}: {error_code(err)} {err}"
            return int(v.get("Size", 0)), None

        with ThreadPoolExecutor(max_workers=min(CATALOG_WORKERS, len(sources))) as pool:
            results = list(pool.map(_copy, sources))
        errors = [e for _, e in results if e]
        if errors:
            raise CaptureError(
                f"{len(errors)} of {len(sources)} export objects not copied to the vault: {'; '.join(errors[:5])}"
            )
        vault_details: dict[str, Any] = {
            **{
                k: details[k]
                for k in ("export_arn", "export_time", "table_schema", "item_count", "digest")
                if k in details
            },
            "bucket": vault_bucket,
            "prefix": prefix,
            "kms_key_id": kms_arn,
            "account_id": account_id,
            "source_point": point.point_id,
            "object_count": len(sources),
            "size_bytes": sum(size for size, _ in results),
        }
        doc = {
            "schema": 1,
            "kind": self.name,
            "point_id": f"s3://{vault_bucket}/{prefix}",
            "region": region,
            "table": point.source_id,
            "plan": point.plan,
            "window": format_window(point.window),
            "copied_at": format_window(datetime.now(UTC)),
            "tags": dict(tags),
            "details": _jsonable(vault_details),
        }
        try:
            if not put_doc(vs3, vault_bucket, key, doc, if_none_match=True):
                doc = get_doc(vs3, vault_bucket, key)[0] or doc
        except ClientError as err:
            raise CaptureError(f"vault sidecar {key}: {error_code(err)}: {err}") from err
        made = self._sidecar_point(key, doc, AVAILABLE, _when(doc.get("copied_at")), {})
        if made is None:
            raise CaptureError(f"vault sidecar {key} does not make a managed point (tags {tags})")
        return made

    def vault_points(
        self, vault_ctx: AwsContext, region: str, plan: str | None = None
    ) -> list[RecoveryPoint]:
        """The vault copies in ``region``: one listing and the sidecars of the vault bucket."""
        if not self.catalog_bucket:
            raise ValueError("DynamoDbKind.catalog_bucket is not set: no vault bucket name")
        vs3 = vault_ctx.client("s3", region)
        try:
            docs = self._read_sidecars(
                vs3, vault_bucket_name(self.catalog_bucket, region), points_prefix(self.name, plan)
            )
        except ClientError as err:
            if error_code(err) in ("NoSuchBucket", "404"):
                return []
            raise
        points = [self._sidecar_point(k, d, AVAILABLE, _when(d.get("copied_at")), {}) for k, d in docs]
        return [p for p in points if p is not None and (plan is None or p.plan == plan)]

    def vault_delete(self, vault_ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete vault copies after a fresh read of each sidecar: every object version under the
        copy's prefix, then every version of the sidecar (the vault bucket is versioned)."""
        if not points:
            return {}
        if not self.catalog_bucket:
            raise ValueError("DynamoDbKind.catalog_bucket is not set: no vault bucket name")
        vs3 = vault_ctx.client("s3", region)
        bucket = vault_bucket_name(self.catalog_bucket, region)

        def _one(point: RecoveryPoint) -> str:
            key = sidecar_key(point.plan, point.source_id, point.window)
            try:
                doc, _ = get_doc(vs3, bucket, key)
                if doc is None or doc.get("point_id") != point.point_id:
                    return ABSENT
                if not deletable(doc.get("tags") or {}):
                    return REFUSED
                prefix = str((doc.get("details") or {}).get("prefix", "")).rstrip("/")
                items: list[dict[str, str]] = []
                for where in ([prefix + "/"] if prefix else []) + [key]:
                    versions, markers = list_versions(vs3, bucket, where)
                    items += [
                        {"Key": v["Key"], "VersionId": v["VersionId"]}
                        for v in versions + markers
                        if where != key or v["Key"] == key
                    ]
                errors = delete_versions(vs3, bucket, items)
            except ClientError as err:
                return f"error: {error_code(err)} {err}"
            return f"error: {len(errors)} vault objects not deleted: {errors[0]}" if errors else DELETED

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(points))) as pool:
            return dict(zip([p.point_id for p in points], pool.map(_one, points), strict=True))

    # --- tags / delete ----------------------------------------------------------------------------

    def set_tags(self, ctx: AwsContext, point: RecoveryPoint, tags: dict[str, str]) -> None:
        """Merge ``tags`` into the point's sidecar (e.g. a legal hold, ``awsdr:verified-at``)."""
        catalog, bucket = self._catalog(ctx, point.region)
        key = self._sidecar_of(point, point.region)
        for _ in range(10):
            doc, etag = get_doc(catalog, bucket, key)
            if doc is None or doc.get("point_id") != point.point_id:
                raise CaptureError(f"{point.point_id} has no tags sidecar at {key}: not a managed point")
            doc["tags"] = {**(doc.get("tags") or {}), **tags}
            written = put_doc_etag(catalog, bucket, key, doc, if_match=etag)
            if written is not None:
                self._index_put(catalog, bucket, key, written, doc)
                return
        raise CaptureError(f"tags sidecar {key} kept changing: tags not set")

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete backups and export copies after a fresh read of each sidecar (pool of 8).

        No sidecar (or one naming another point): refused while the backup or export data exists,
        ``absent`` otherwise. A copy's delete removes every object version under its prefix.
        """
        if not points:
            return {}
        catalog, catalog_bucket = self._catalog(ctx, region)
        client, s3 = ctx.client("dynamodb", region), ctx.client("s3", region)

        def _data(bucket: str | None, prefix: str | None) -> list[dict[str, str]]:
            if not bucket or not prefix:
                return []
            try:
                versions, markers = list_versions(s3, bucket, prefix.rstrip("/") + "/")
            except ClientError as err:
                if error_code(err) in ("NoSuchBucket", "404"):
                    return []
                raise
            return [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions + markers]

        def _backup(point: RecoveryPoint, doc: dict[str, Any] | None) -> str:
            if doc is None:
                try:
                    client.describe_backup(BackupArn=point.point_id)
                except ClientError as err:
                    if error_code(err) in ("BackupNotFoundException", *_GONE):
                        return ABSENT
                    raise
                return REFUSED
            if not deletable(doc.get("tags") or {}):
                return REFUSED
            outcome = DELETED
            try:
                client.delete_backup(BackupArn=point.point_id)
            except ClientError as err:
                if error_code(err) not in ("BackupNotFoundException", *_GONE):
                    raise
                outcome = ABSENT
            catalog.delete_object(Bucket=catalog_bucket, Key=self._sidecar_of(point, region))
            return outcome

        def _export(point: RecoveryPoint, doc: dict[str, Any] | None) -> str:
            if doc is None:
                leftover = _data(point.details.get("bucket"), point.details.get("prefix"))
                return REFUSED if leftover else ABSENT
            if not deletable(doc.get("tags") or {}):
                return REFUSED
            details = doc.get("details") or {}
            items = _data(details.get("bucket"), details.get("prefix"))
            errors = delete_versions(s3, details["bucket"], items) if items else []
            if errors:
                return f"error: {len(errors)} export objects not deleted: {errors[0]}"
            catalog.delete_object(Bucket=catalog_bucket, Key=self._sidecar_of(point, region))
            return DELETED if items else ABSENT

        def _one(point: RecoveryPoint) -> str:
            try:
                doc, _ = get_doc(catalog, catalog_bucket, self._sidecar_of(point, region))
                if doc is not None and doc.get("point_id") != point.point_id:
                    doc = None
                return _backup(point, doc) if is_backup_arn(point.point_id) else _export(point, doc)
            except ClientError as err:
                return f"error: {error_code(err)} {err}"

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(points))) as pool:
            outcomes = dict(zip([p.point_id for p in points], pool.map(_one, points), strict=True))
        drop_from_indexes(
            catalog,
            catalog_bucket,
            [self._sidecar_of(p, region) for p in points if outcomes[p.point_id] in (DELETED, ABSENT)],
        )
        return outcomes

    # --- restore / validate / cleanup --------------------------------------------------------------

    def _export_data_prefix(self, s3: Any, bucket: str, prefix: str, export_arn: str) -> str:
        """The export's data folder: ``<prefix>/AWSDynamoDB/<export id>/data/`` as AWS lays it out.

        moto writes the data under a random folder instead of the export id: when the AWS path is
        empty, the one (or newest) ``AWSDynamoDB/*/data/`` folder under the prefix is used.
        """
        root = f"{prefix.rstrip('/')}/AWSDynamoDB/"
        expected = f"{root}{export_arn.rsplit('/', 1)[-1]}/data/"
        if s3.list_objects_v2(Bucket=bucket, Prefix=expected, MaxKeys=1).get("KeyCount", 0):
            return expected
        newest: dict[str, datetime] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
            for obj in page.get("Contents", []):
                head, sep, _ = obj["Key"][len(root) :].partition("/data/")
                if sep and "/" not in head:
                    folder = f"{root}{head}/data/"
                    newest[folder] = max(newest.get(folder, obj["LastModified"]), obj["LastModified"])
        if not newest:
            raise CaptureError(f"no export data under s3://{bucket}/{root}")
        return max(newest, key=lambda f: newest[f])

    def _tag_table(self, client: Any, arn: str, tags: dict[str, str]) -> bool:
        """TagResource on a restored table; False while it cannot be tagged yet (still creating)."""
        try:
            client.tag_resource(ResourceArn=arn, Tags=tag_list(tags))
        except ClientError as err:
            if error_code(err) in ("ResourceInUseException", *_GONE):
                return False
            raise
        return True

    def _table_arn(self, ctx: AwsContext, region: str, name: str) -> str:
        return f"arn:{_partition(region)}:dynamodb:{region}:{ctx.account_id(region)}:table/{name}"

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        """RestoreTableFromBackup (a backup point) or ImportTable (an export copy) into ``name``.

        Idempotent: an existing table called ``name`` is returned. The table is tagged with
        ``tags`` + ``Name``; when it cannot be tagged yet, :meth:`restore_status` tags it later.
        """
        region = point.region
        client = ctx.client("dynamodb", region)
        all_tags = {**tags, "Name": name}
        started = datetime.now(UTC)
        details: dict[str, Any] = {"tags": all_tags}
        try:
            table = client.describe_table(TableName=name)["Table"]
        except ClientError as err:
            if error_code(err) not in _GONE:
                raise CaptureError(f"{error_code(err)}: {err}") from err
            table = None
        if table is None:
            try:
                if is_backup_arn(point.point_id):
                    details["method"] = "restore_table_from_backup"
                    client.restore_table_from_backup(TargetTableName=name, BackupArn=point.point_id)
                else:
                    details.update(self._start_import(ctx, point, name))
            except ClientError as err:
                if error_code(err) not in ("TableAlreadyExistsException", "ResourceInUseException"):
                    raise CaptureError(f"{error_code(err)}: {err}") from err
        arn = self._table_arn(ctx, region, name)
        try:
            details["tags_pending"] = not self._tag_table(client, arn, all_tags)
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: tagging {name}: {err}") from err
        restored = Restored(
            kind=self.name,
            resource_id=name,
            region=region,
            point_id=point.point_id,
            status=CREATING,
            started_at=started,
            details=details,
        )
        return self.restore_status(ctx, region, [restored])[0]

    def _start_import(self, ctx: AwsContext, point: RecoveryPoint, name: str) -> dict[str, Any]:
        details = point.details
        schema = details.get("table_schema") or {}
        if not schema.get("key_schema") or not schema.get("attribute_definitions"):
            raise CaptureError(f"{point.point_id}: no table schema recorded, ImportTable cannot recreate it")
        bucket, prefix = details.get("bucket"), details.get("prefix")
        if not bucket or not prefix:
            raise CaptureError(f"{point.point_id}: export bucket/prefix unknown")
        data = self._export_data_prefix(ctx.client("s3", point.region), bucket, prefix, point.point_id)
        params: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": schema["attribute_definitions"],
            "KeySchema": schema["key_schema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        gsis = [
            {k: v for k, v in g.items() if v is not None}
            for g in schema.get("global_secondary_indexes") or []
        ]
        if gsis:
            params["GlobalSecondaryIndexes"] = gsis
        token = hashlib.sha256(f"{point.point_id}|{name}".encode()).hexdigest()
        response = ctx.client("dynamodb", point.region).import_table(
            ClientToken=token,
            S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": data},
            InputFormat="DYNAMODB_JSON",
            InputCompressionType="GZIP",
            TableCreationParameters=params,
        )
        return {
            "method": "import_table",
            "import_arn": response["ImportTableDescription"]["ImportArn"],
            "data_prefix": data,
        }

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        """DescribeTable per restore (pool of 8): ACTIVE -> available, CREATING -> creating, absent -> missing.

        An import still running (or failed) overrides the table's state; pending tags are applied
        once the table takes them.
        """
        if not items:
            return items
        client = ctx.client("dynamodb", region)

        def _one(item: Restored) -> None:
            import_status, failure = None, None
            if item.details.get("import_arn"):
                try:
                    desc = client.describe_import(ImportArn=item.details["import_arn"])[
                        "ImportTableDescription"
                    ]
                    import_status = desc.get("ImportStatus")
                    failure = desc.get("FailureMessage")
                except ClientError as err:
                    if error_code(err) != "ImportNotFoundException":
                        raise
            try:
                table = client.describe_table(TableName=item.resource_id)["Table"]
            except ClientError as err:
                if error_code(err) not in _GONE:
                    raise
                table = None
            if import_status in ("FAILED", "CANCELLED", "CANCELLING"):
                item.status, item.error = FAILED, f"import {import_status}: {failure or ''}".strip()
            elif table is None:
                item.status = CREATING if import_status == "IN_PROGRESS" else MISSING
            elif import_status == "IN_PROGRESS" or table.get("TableStatus") == "CREATING":
                item.status = CREATING
            elif table.get("TableStatus") in ("ACTIVE", "UPDATING"):
                item.status = AVAILABLE
            elif table.get("TableStatus") == "DELETING":
                item.status = MISSING
            else:
                item.status, item.error = FAILED, f"table status {table.get('TableStatus')}"
            if table is not None and item.details.get("tags_pending"):
                tags = item.details.get("tags") or {}
                item.details["tags_pending"] = not self._tag_table(client, table["TableArn"], tags)

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            list(pool.map(_one, items))
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        """Item count and content digest of the restored table against the capture's."""
        details = expected.get("details") or {}
        want_count = details.get("item_count") if details.get("item_count_exact", True) else None
        want_digest = details.get("digest")
        if want_count is None and not want_digest:
            return ["the capture recorded no exact item count or digest: content not checked"]
        client = ctx.client("dynamodb", restored.region)
        limit = max(self.digest_max_items, (want_count or 0) + 1)
        try:
            count, digest = table_digest(client, restored.resource_id, max_items=limit)
        except DigestTooLarge as err:
            return [str(err)]
        except ClientError as err:
            if error_code(err) in _GONE:
                return [f"table {restored.resource_id} not found in {restored.region}"]
            return [f"scan of {restored.resource_id} failed: {error_code(err)}"]
        problems = []
        if want_count is not None and count != want_count:
            problems.append(f"item count {count} != captured {want_count}")
        if want_digest and digest != want_digest:
            problems.append("content digest differs")
        return problems

    def cleanup(
        self,
        ctx: AwsContext,
        region: str,
        tag_key: str,
        tag_value: str | None = None,
        *,
        keep: str | None = None,
    ) -> list[str]:
        """Delete every table in ``region`` tagged ``tag_key`` (= ``tag_value``); pool of 8.

        A table still being created cannot be deleted yet: it is left for the next cleanup.
        """
        client = ctx.client("dynamodb", region)
        names: list[str] = []
        for page in client.get_paginator("list_tables").paginate():
            names.extend(page.get("TableNames", []))

        def _tags(name: str) -> dict[str, str]:
            arn, token, tags = self._table_arn(ctx, region, name), None, {}
            while True:
                kwargs = {"ResourceArn": arn, **({"NextToken": token} if token else {})}
                try:
                    page = client.list_tags_of_resource(**kwargs)
                except ClientError as err:
                    if error_code(err) in _GONE:
                        return {}
                    raise
                tags.update(tag_dict(page.get("Tags")))
                token = page.get("NextToken")
                if not token:
                    return tags

        def _one(name: str) -> str | None:
            tags = _tags(name)
            if not tag_selected(tags, tag_key, tag_value, keep):
                return None
            try:
                client.delete_table(TableName=name)
            except ClientError as err:
                if error_code(err) in _GONE:
                    return None
                if error_code(err) == "ResourceInUseException":
                    log.info("Table %s is busy (creating or deleting): left for the next cleanup", name)
                    return None
                raise
            return name

        if not names:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(names))) as pool:
            return [n for n in pool.map(_one, names) if n is not None]
