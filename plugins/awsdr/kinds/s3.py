"""S3 buckets: recovery point = a version manifest written to the catalog bucket.

A bucket with versioning on keeps its own history. The recovery point of a bucket for a window
is the list of object versions that were current *as of the window*: for every key, the newest
version with ``LastModified <= window``; a key whose newest such entry is a delete marker did not
exist at the window and is left out. Because the versions tell the history, this is a true
point-in-time capture even when it runs late, as long as the versions it names have not been
deleted since (lifecycle expiry of noncurrent versions, a permanent delete). A key whose oldest
surviving version is newer than the window simply was not there. S3 LastModified has whole
seconds, like windows: a version written during the window's second counts as current.

The manifest is JSON at ``points/s3/<plan>/<bucket>/<window stamp>.json`` in the catalog bucket,
written once (``If-None-Match: *``; an existing manifest is returned, never rewritten) with the
PRODUCT.md tag set as object tags. Its facts (count, bytes, digest, capture time) are also object
metadata, so a HEAD answers without reading the manifest.

Buckets are discovered with ListBuckets + GetBucketLocation + GetBucketTagging (the tagging API
does not list buckets reliably everywhere), per-bucket calls on a bounded thread pool.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code, tag_dict
from awsdr.kinds.base import AVAILABLE, MISSING, CaptureError, Kind, RecoveryPoint, Resource
from awsdr.windows import (
    TAG_CAPTURED_AT,
    format_window,
    is_product_made,
    parse_window,
    point_tags,
    to_utc,
    window_stamp,
)

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

#: Most concurrent per-bucket / per-object calls.
WORKERS = 16
MANIFEST_SCHEMA = 1
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


def manifest_key(plan: str, bucket: str, window: datetime) -> str:
    """``points/s3/<plan>/<bucket>/<window stamp>.json``."""
    return f"points/s3/{plan}/{bucket}/{window_stamp(window)}.json"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def read_manifest(ctx: AwsContext, catalog_bucket: str, catalog_region: str, key: str) -> dict[str, Any]:
    """The manifest JSON stored at ``key`` in the catalog bucket."""
    body = ctx.client("s3", catalog_region).get_object(Bucket=catalog_bucket, Key=key)["Body"]
    try:
        data: dict[str, Any] = json.loads(body.read())
    finally:
        body.close()
    return data


def manifest_digest(objects: list[dict[str, Any]]) -> str:
    """sha256 hex over the sorted ``key\\tversion\\tetag\\tsize`` lines, each ending in ``\\n``."""
    lines = sorted(f"{o['key']}\t{o['version_id']}\t{o['etag']}\t{o['size']}" for o in objects)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def versions_as_of(client: Any, bucket: str, as_of: datetime) -> list[dict[str, Any]]:
    """Every object version current at ``as_of`` (delete markers drop the key), sorted by key.

    Paginated ListObjectVersions; memory holds one candidate per key. On equal LastModified
    seconds the entry S3 flags as latest wins, else the first listed (the newest).
    """
    limit = to_utc(as_of)
    best: dict[str, tuple[datetime, bool, dict[str, Any] | None]] = {}

    def consider(key: str, modified: datetime, latest: bool, entry: dict[str, Any] | None) -> None:
        prior = best.get(key)
        if prior is None or modified > prior[0] or (modified == prior[0] and latest and not prior[1]):
            best[key] = (modified, latest, entry)

    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            modified = v["LastModified"]
            if modified > limit:
                continue
            entry = {
                "key": v["Key"],
                "version_id": v.get("VersionId") or "null",
                "etag": str(v.get("ETag", "")).strip('"'),
                "size": int(v.get("Size", 0)),
                "last_modified": format_window(modified),
            }
            consider(v["Key"], modified, bool(v.get("IsLatest")), entry)
        for marker in page.get("DeleteMarkers", []):
            if marker["LastModified"] <= limit:
                consider(marker["Key"], marker["LastModified"], bool(marker.get("IsLatest")), None)
    current = (best[k][2] for k in sorted(best))
    return [entry for entry in current if entry is not None]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return format_window(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _optional(call: Any, missing: tuple[str, ...], **kwargs: Any) -> dict[str, Any] | None:
    """The response of ``call``, or None when S3 says the configuration does not exist."""
    try:
        response: dict[str, Any] = call(**kwargs)
    except ClientError as err:
        if error_code(err) in missing:
            return None
        raise
    response.pop("ResponseMetadata", None)
    return response


def _details_from_head(head: dict[str, Any], key: str) -> dict[str, Any]:
    meta = head.get("Metadata") or {}

    def _int(name: str) -> int | None:
        return int(meta[name]) if meta.get(name, "").isdigit() else None

    return {
        "object_count": _int("object-count"),
        "total_bytes": _int("total-bytes"),
        "digest": meta.get("digest"),
        "manifest_key": key,
    }


class S3Kind(Kind):
    """S3 buckets with versioning on; the point is a manifest in the catalog bucket.

    :param catalog_bucket: where manifests go (set by the caller before capture/find/refresh).
    :param catalog_region: the catalog bucket's region (default: the source bucket's region).
    """

    name = "s3"
    tagging_type = None

    def __init__(self, catalog_bucket: str | None = None, catalog_region: str | None = None) -> None:
        self.catalog_bucket = catalog_bucket
        self.catalog_region = catalog_region

    # --- catalog ------------------------------------------------------------------------------

    def _catalog(self, ctx: AwsContext, region: str) -> tuple[Any, str]:
        if not self.catalog_bucket:
            raise ValueError("S3Kind.catalog_bucket is not set: S3 manifests have nowhere to go")
        return ctx.client("s3", self.catalog_region or region), self.catalog_bucket

    def _point(
        self,
        key: str,
        bucket: str,
        region: str,
        plan: str,
        window: datetime,
        status: str,
        tags: dict[str, str],
        created_at: datetime | None,
        details: dict[str, Any],
    ) -> RecoveryPoint:
        return RecoveryPoint(
            kind=self.name,
            point_id=key,
            arn=f"s3://{self.catalog_bucket}/{key}",
            source_id=bucket,
            region=region,
            plan=plan,
            window=window,
            status=status,
            tags=tags,
            created_at=created_at,
            details=details,
        )

    # --- discovery ----------------------------------------------------------------------------

    def discover(self, ctx: AwsContext, region: str, tags: dict[str, str]) -> list[Resource]:
        s3 = ctx.client("s3", region)
        names: list[str] = []
        for page in s3.get_paginator("list_buckets").paginate():
            names.extend(b["Name"] for b in page.get("Buckets", []))

        def _candidate(bucket: str) -> tuple[str, dict[str, str]] | None:
            if bucket == self.catalog_bucket:
                return None
            try:
                location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
                if location == "EU":
                    location = "eu-west-1"
                if location != region:
                    return None
                found = _optional(s3.get_bucket_tagging, ("NoSuchTagSet",), Bucket=bucket)
            except ClientError as err:
                if error_code(err) != "NoSuchBucket":
                    log.warning("Skipping bucket %s: %s", bucket, error_code(err))
                return None
            btags = tag_dict(found.get("TagSet") if found else None)
            if is_product_made(btags) or not all(btags.get(k) == v for k, v in tags.items()):
                return None
            return bucket, btags

        if not names:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(names))) as pool:
            selected = dict(c for c in pool.map(_candidate, names) if c is not None)
        resources = self.describe(ctx, region, [bucket_arn(b) for b in sorted(selected)])
        for res in resources:
            res.tags = selected.get(res.id, res.tags)
        return resources

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        s3 = ctx.client("s3", region)

        def _one(arn: str) -> Resource | None:
            bucket = arn.rsplit(":", 1)[-1]
            try:
                versioning = s3.get_bucket_versioning(Bucket=bucket)
                lock = _optional(
                    s3.get_object_lock_configuration, ("ObjectLockConfigurationNotFoundError",), Bucket=bucket
                )
                replication = _optional(
                    s3.get_bucket_replication, ("ReplicationConfigurationNotFoundError",), Bucket=bucket
                )
                encryption = _optional(
                    s3.get_bucket_encryption,
                    ("ServerSideEncryptionConfigurationNotFoundError",),
                    Bucket=bucket,
                )
            except ClientError as err:
                if error_code(err) == "NoSuchBucket":
                    return None
                raise
            status = versioning.get("Status") or "Disabled"
            lock_conf = (lock or {}).get("ObjectLockConfiguration") or {}
            meta: dict[str, Any] = {
                "versioning": status,
                "mfa_delete": versioning.get("MFADelete") or "Disabled",
                "object_lock": {
                    "enabled": lock_conf.get("ObjectLockEnabled") == "Enabled",
                    "rule": _jsonable(lock_conf.get("Rule")),
                }
                if lock_conf
                else None,
                "replication": _jsonable(replication.get("ReplicationConfiguration"))
                if replication
                else None,
                "encryption": _jsonable(
                    (encryption.get("ServerSideEncryptionConfiguration") or {}).get("Rules", [])
                )
                if encryption
                else None,
            }
            if status != "Enabled":
                meta["warnings"] = [f"versioning is not enabled on bucket {bucket}"]
            return Resource(kind=self.name, id=bucket, arn=bucket_arn(bucket), region=region, meta=meta)

        if not arns:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(arns))) as pool:
            return [r for r in pool.map(_one, arns) if r is not None]

    # --- capture ------------------------------------------------------------------------------

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        catalog, catalog_bucket = self._catalog(ctx, region)
        prefix, suffix = f"points/s3/{plan}/", f"/{window_stamp(window)}.json"
        found: dict[str, RecoveryPoint] = {}
        for page in catalog.get_paginator("list_objects_v2").paginate(Bucket=catalog_bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                bucket = key[len(prefix) : -len(suffix)] if key.endswith(suffix) else ""
                if not bucket or "/" in bucket:
                    continue
                captured = obj.get("LastModified") or window
                tags = point_tags(
                    plan=plan, window=window, source=bucket, captured_at=captured, kind=self.name
                )
                found[bucket] = self._point(
                    key, bucket, region, plan, window, AVAILABLE, tags, captured, {"manifest_key": key}
                )
        return found

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        catalog, catalog_bucket = self._catalog(ctx, resource.region)
        bucket = resource.id
        key = manifest_key(plan, bucket, window)
        existing = self._existing(catalog, catalog_bucket, key, resource.region, bucket, plan, window, tags)
        if existing is not None:
            return existing
        s3 = ctx.client("s3", resource.region)
        try:
            status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
            if status != "Enabled":
                raise CaptureError(
                    f"versioning is not enabled on bucket {bucket} (status {status or 'Disabled'})"
                )
            objects = versions_as_of(s3, bucket, window)
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        captured_at = parse_window(tags[TAG_CAPTURED_AT]) if TAG_CAPTURED_AT in tags else datetime.now(UTC)
        digest = manifest_digest(objects)
        total = sum(o["size"] for o in objects)
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "bucket": bucket,
            "region": resource.region,
            "plan": plan,
            "window": format_window(window),
            "captured_at": format_window(captured_at),
            "as_of": format_window(window),
            "object_count": len(objects),
            "total_bytes": total,
            "digest": digest,
            "tags": tags,
            "objects": objects,
        }
        metadata = {
            "object-count": str(len(objects)),
            "total-bytes": str(total),
            "digest": digest,
            "source-bucket": bucket,
            "window": format_window(window),
            "captured-at": format_window(captured_at),
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        put = {"Bucket": catalog_bucket, "Key": key, "Body": body, "ContentType": "application/json"}
        tags_on_object = True
        try:
            try:
                catalog.put_object(**put, Metadata=metadata, Tagging=urlencode(tags), IfNoneMatch="*")
            except ClientError as err:
                if error_code(err) != "InvalidTag":
                    raise
                # moto refuses any object tag key starting with "aws" (so "awsdr:*"); AWS only
                # reserves "aws:". Keep the manifest: its JSON carries the tags.
                log.warning("Manifest %s written without object tags: %s", key, err)
                tags_on_object = False
                catalog.put_object(**put, Metadata=metadata)
        except ClientError as err:
            if error_code(err) in ("PreconditionFailed", "ConditionalRequestConflict"):
                again = self._existing(
                    catalog, catalog_bucket, key, resource.region, bucket, plan, window, tags
                )
                if again is not None:
                    return again
            raise CaptureError(f"{error_code(err)}: {err}") from err
        details = {
            "object_count": len(objects),
            "total_bytes": total,
            "digest": digest,
            "manifest_key": key,
            "as_of": format_window(window),
            "tags_on_object": tags_on_object,
        }
        return self._point(key, bucket, resource.region, plan, window, AVAILABLE, tags, captured_at, details)

    def _existing(
        self,
        catalog: Any,
        catalog_bucket: str,
        key: str,
        region: str,
        bucket: str,
        plan: str,
        window: datetime,
        tags: dict[str, str],
    ) -> RecoveryPoint | None:
        """The point of an already written manifest (its own capture time kept), or None."""
        try:
            head = catalog.head_object(Bucket=catalog_bucket, Key=key)
        except ClientError as err:
            if error_code(err) in _NOT_FOUND:
                return None
            raise CaptureError(f"{error_code(err)}: {err}") from err
        captured = head.get("LastModified")
        stamp = (head.get("Metadata") or {}).get("captured-at")
        if stamp:
            captured = parse_window(stamp)
        tags = dict(tags)
        if captured is not None:
            tags[TAG_CAPTURED_AT] = format_window(captured)
        return self._point(
            key, bucket, region, plan, window, AVAILABLE, tags, captured, _details_from_head(head, key)
        )

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        if not points:
            return points
        catalog, catalog_bucket = self._catalog(ctx, region)

        def _one(point: RecoveryPoint) -> None:
            try:
                head = catalog.head_object(Bucket=catalog_bucket, Key=point.point_id)
            except ClientError as err:
                if error_code(err) in _NOT_FOUND:
                    point.status = MISSING
                    return
                raise
            point.status = AVAILABLE
            fresh = {k: v for k, v in _details_from_head(head, point.point_id).items() if v is not None}
            point.details.update(fresh)

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(points))) as pool:
            list(pool.map(_one, points))
        return points
