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

Tags of a point: the manifest JSON's ``"tags"``, overlaid with the manifest object's tags where S3
keeps them (real AWS; moto refuses tag keys starting with ``aws``). A legal hold on an S3 point is
the tag ``awsdr:legal-hold`` on the manifest object, or the key added to the JSON ``"tags"``
(:meth:`S3Kind.set_tags` does whichever works).

Cross-region copy (:meth:`S3Kind.copy`): the DR bucket is the source bucket's replication
destination when replication points at a bucket in the DR region, else ``<bucket>-dr-<region>``
(made on demand: versioning on, SSE-KMS with the DR key, public access blocked). Every object
version the source manifest names is made present there: a replica (S3 replication keeps version
ids), or a copy made with CopyObject (UploadPartCopy above 5 GiB) carrying the metadata
``awsdr-source-version-id`` / ``awsdr-source-etag``, encrypted with the DR key. Which versions are
already there is decided from the index ``points/s3-dr/<region>/<bucket>/index.json`` (source
version id -> DR version id; ``null:<key>`` for null versions) checked against one listing of the
DR bucket's versions. The copy point is the DR manifest
``points/s3-dr/<region>/<plan>/<bucket>/<window stamp>.json``: the source entries plus
``dr_version_id``, and the copy's tags. Replication, when configured, is also checked and reported
in ``details["replication"]``; the copy does not rely on it (moto does not replicate).

Retention deletes manifests only, never object data of the protected bucket. DR bucket versions
that no remaining DR manifest names are removed by :func:`prune_dr_versions` (only versions this
product copied, i.e. carrying ``awsdr-source-version-id``; replicas are left to the bucket's own
lifecycle). Restore creates nothing: the restored resource is the bucket holding the versions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from awsdr.aws.context import chunks, error_code, jsonable, tag_dict, tag_list
from awsdr.catalog import (
    S3_VAULT_INDEX_PREFIX,
    copies_prefix,
    dr_point_doc_key,
    point_doc_key,
    point_index_key,
    points_prefix,
    s3_copy_index_key,
    s3_vault_index_key,
)
from awsdr.kinds.base import (
    ABSENT,
    AVAILABLE,
    CREATING,
    DELETED,
    MISSING,
    REFUSED,
    CaptureError,
    Kind,
    RecoveryPoint,
    Resource,
    Restored,
    RetryLater,
    point_from_tags,
)
from awsdr.windows import (
    TAG_CAPTURED_AT,
    TAG_LEGAL_HOLD,
    TAG_MANAGED,
    NameRule,
    format_window,
    is_product_made,
    make_name,
    parse_window,
    point_tags,
    to_utc,
    window_stamp,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

#: Most concurrent per-bucket / per-object calls.
WORKERS = 16
MANIFEST_SCHEMA = 1
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
KIND = "s3"
#: Where the manifests of captures and of DR copies are (``points/s3/``, ``points/s3-dr/``).
_PRIMARY, _COPIES = points_prefix(KIND), copies_prefix(KIND)


def manifest_key(plan: str, bucket: str, window: datetime) -> str:
    """``points/s3/<plan>/<bucket>/<window stamp>.json`` (:func:`awsdr.catalog.point_doc_key`)."""
    return point_doc_key(KIND, plan, bucket, window)


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
    """A JSON-safe copy of an AWS response fragment."""
    return jsonable(value, format_window)


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


# --- shared helpers: bucket names, DR buckets, JSON documents, versions (also used by dynamodb) -

#: Bucket names this product makes: 3-63 lowercase letters, digits, hyphens (no dots: they break
#: virtual-hosted TLS), no double hyphen, no trailing hyphen.
BUCKET_NAME = NameRule(max_len=63, min_len=3, allowed="a-z0-9-", lowercase=True, no_double_hyphen=True)
#: CopyObject copies at most 5 GiB; larger objects are copied part by part (UploadPartCopy).
COPY_LIMIT = 5 * 1024**3
#: Part size of a multipart copy (AWS: 5 MiB - 5 GiB per part, at most 10,000 parts).
PART_SIZE = 512 * 1024**2
MAX_PARTS = 10_000
#: DeleteObjects takes at most 1,000 keys.
DELETE_BATCH = 1000
#: Metadata on every object version this product copies into a DR bucket.
META_SOURCE_VERSION = "awsdr-source-version-id"
META_SOURCE_ETAG = "awsdr-source-etag"
#: Metadata of a manifest written without S3 object tags because the catalog refused them
#: (``"false"``): its JSON ``tags`` hold every tag of the point.
META_TAGS_ON_OBJECT = "tags-on-object"
#: A manifest's header (everything before ``"objects"``) is read with one ranged GET of this size.
HEADER_BYTES = 64 * 1024
_OBJECTS_MARK = ',"objects":['
_PRECONDITION = ("PreconditionFailed", "ConditionalRequestConflict")
_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")


def make_bucket_name(*parts: str) -> str:
    """A valid, deterministic bucket name from ``parts`` (long names keep head, digest, tail)."""
    return make_name(BUCKET_NAME, *parts)


def dr_bucket_name(bucket: str, region: str) -> str:
    """``<bucket>-dr-<region>``, shortened with a digest when over 63 characters."""
    return make_bucket_name(bucket, "dr", region)


def dr_manifest_key(region: str, plan: str, bucket: str, window: datetime) -> str:
    """``points/s3-dr/<region>/<plan>/<bucket>/<window stamp>.json`` (the copy point)."""
    return dr_point_doc_key(KIND, region, plan, bucket, window)


def dr_index_key(region: str, bucket: str) -> str:
    """``points/s3-dr/<region>/<bucket>/index.json``: source version id -> DR version id."""
    return s3_copy_index_key(region, bucket)


def index_key_of(entry: dict[str, Any]) -> str:
    """The index key of a manifest entry: its version id (``null:<key>`` for a null version)."""
    version = str(entry["version_id"])
    return f"null:{entry['key']}" if version == "null" else version


def resolve_kms_key(ctx: AwsContext, region: str, key_id: str) -> str:
    """The ARN of ``key_id`` (alias, id or ARN) in ``region``; CaptureError when it does not exist."""
    try:
        meta = ctx.client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as err:
        raise CaptureError(f"KMS key {key_id} in {region}: {error_code(err)}: {err}") from err
    if meta.get("KeyState") not in (None, "Enabled"):
        raise CaptureError(f"KMS key {key_id} in {region} is {meta.get('KeyState')}")
    return str(meta["Arn"])


def ensure_bucket(
    s3: Any,
    bucket: str,
    region: str,
    *,
    kms_key_arn: str,
    tags: dict[str, str] | None = None,
    ready: set[str] | None = None,
) -> None:
    """Make sure ``bucket`` exists in ``region``: versioning on, SSE-KMS with the key, no public access.

    Created when missing (tagged with ``tags`` then); the settings are (re)applied once per
    ``ready`` set, so a bucket half-configured by an interrupted run gets fixed. A bucket of that
    name owned by another account or in another region is a :class:`CaptureError`.

    Copy threads that meet one bucket at once configure it once: the first holds that bucket's
    lock, the others find it ready (other buckets are not held up).
    """
    marker = f"{bucket}|{region}|{kms_key_arn}"
    if ready is None:
        _configure_bucket(s3, bucket, region, kms_key_arn=kms_key_arn, tags=tags)
        return
    if marker in ready:
        return
    with _bucket_lock(marker):
        if marker in ready:
            return
        _configure_bucket(s3, bucket, region, kms_key_arn=kms_key_arn, tags=tags)
        ready.add(marker)


_BUCKET_LOCKS: dict[str, threading.Lock] = {}
_BUCKET_LOCKS_GUARD = threading.Lock()


def _bucket_lock(marker: str) -> threading.Lock:
    with _BUCKET_LOCKS_GUARD:
        return _BUCKET_LOCKS.setdefault(marker, threading.Lock())


def _configure_bucket(
    s3: Any, bucket: str, region: str, *, kms_key_arn: str, tags: dict[str, str] | None
) -> None:
    created = False
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as err:
        code = error_code(err)
        if code in ("403", "AccessDenied", "Forbidden"):
            raise CaptureError(f"bucket {bucket} exists and is not ours ({code})") from err
        if code not in _NO_BUCKET:
            raise CaptureError(f"bucket {bucket}: {code}: {err}") from err
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**kwargs)
            created = True
        except ClientError as err2:
            if error_code(err2) != "BucketAlreadyOwnedByYou":
                raise CaptureError(f"cannot create bucket {bucket}: {error_code(err2)}: {err2}") from err2
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if location != region:
            raise CaptureError(f"bucket {bucket} is in {location}, not {region}")
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": kms_key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        if created and tags:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list(tags)})
    except ClientError as err:
        raise CaptureError(f"cannot configure bucket {bucket}: {error_code(err)}: {err}") from err


def get_doc(s3: Any, bucket: str, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON document and its ETag, or ``(None, None)`` when there is none."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if error_code(err) in _NOT_FOUND:
            return None, None
        raise
    body = response["Body"]
    try:
        doc: dict[str, Any] = json.loads(body.read())
    finally:
        body.close()
    return doc, response.get("ETag")


def put_doc(
    s3: Any,
    bucket: str,
    key: str,
    doc: dict[str, Any],
    *,
    if_none_match: bool = False,
    if_match: str | None = None,
    metadata: dict[str, str] | None = None,
) -> bool:
    """Write a JSON document; False when the condition (``If-None-Match: *`` / ``If-Match``) failed."""
    return (
        put_doc_etag(s3, bucket, key, doc, if_none_match=if_none_match, if_match=if_match, metadata=metadata)
        is not None
    )


def put_doc_etag(
    s3: Any,
    bucket: str,
    key: str,
    doc: dict[str, Any],
    *,
    if_none_match: bool = False,
    if_match: str | None = None,
    metadata: dict[str, str] | None = None,
) -> str | None:
    """:func:`put_doc` returning the written object's ETag ("" if S3 gave none), None when the
    condition failed."""
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": json.dumps(doc, separators=(",", ":")).encode(),
        "ContentType": "application/json",
    }
    if metadata:
        kwargs["Metadata"] = metadata
    if if_none_match:
        kwargs["IfNoneMatch"] = "*"
    if if_match:
        kwargs["IfMatch"] = if_match
    try:
        response = s3.put_object(**kwargs)
    except ClientError as err:
        if error_code(err) in _PRECONDITION:
            return None
        raise
    return str(response.get("ETag") or "")


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix`` (paginated ListObjectsV2)."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def list_objects(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Every key under ``prefix`` with its ETag (paginated ListObjectsV2)."""
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update((o["Key"], str(o.get("ETag") or "")) for o in page.get("Contents", []))
    return found


# --- listing indexes: the documents of a folder of points, read in one GET ------------------------
#
# Listing points of S3 (manifests) and DynamoDB (sidecars) reads documents from the catalog. The
# folder of each resource's documents holds an index (``catalog.point_index_key``):
# ``{"schema": 1, "points": {<document key>: {"etag": <its ETag>, ...what listing needs}}}``,
# updated when a document is written or deleted (read-modify-write under If-Match, re-read on
# conflict). It is a cache, never the truth: the listing of the prefix decides which documents
# exist, an entry is used only when its ETag is the one listed, and any document without a valid
# entry (index missing, written by an older version, lost update, edited by hand) is read itself.

#: schema of a listing index document
POINT_INDEX_SCHEMA = 1
#: read-modify-write attempts of an index update before it is left (listings then read the documents)
INDEX_ATTEMPTS = 12


def _etag(value: Any) -> str:
    return str(value or "").strip('"')


def index_entries(doc: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The entries of an index document ({} for none or an unknown schema)."""
    if not isinstance(doc, dict) or doc.get("schema") != POINT_INDEX_SCHEMA:
        return {}
    points = doc.get("points")
    return dict(points) if isinstance(points, dict) else {}


def update_point_index(
    s3: Any,
    bucket: str,
    index_key: str,
    *,
    put: dict[str, dict[str, Any]] | None = None,
    drop: set[str] | None = None,
    change: Callable[[dict[str, dict[str, Any]]], None] | None = None,
) -> bool:
    """Merge ``put`` (document key -> entry with its ``etag``) into the index, remove ``drop``,
    then apply ``change`` to the entries (in place).

    Optimistic (If-None-Match / If-Match, re-read on conflict) so writers of other documents of
    the same folder lose nothing. Best effort: an index that cannot be written (kept changing,
    access refused) is logged and left, and listings read those documents themselves. Returns
    whether the index holds the change.
    """
    for attempt in range(INDEX_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, 0.02 * 2 ** min(attempt, 5)))  # writers of one folder: spread out
        try:
            doc, etag = get_doc(s3, bucket, index_key)
            entries = index_entries(doc)
            before = dict(entries)
            entries.update(put or {})
            for key in drop or ():
                entries.pop(key, None)
            if change is not None:
                change(entries)
            if entries == before and (doc is not None or not entries):
                return True
            new = {"schema": POINT_INDEX_SCHEMA, "points": entries}
            if put_doc(s3, bucket, index_key, new, if_none_match=doc is None, if_match=etag):
                return True
        except (ClientError, ValueError) as err:
            log.warning("Listing index %s not updated: %s", index_key, err)
            return False
    log.warning("Listing index %s kept changing: not updated (listings read its documents)", index_key)
    return False


def drop_from_indexes(s3: Any, bucket: str, keys: list[str]) -> None:
    """Remove deleted documents from their folders' indexes (one update per folder)."""
    by_index: dict[str, set[str]] = {}
    for key in keys:
        by_index.setdefault(point_index_key(key), set()).add(key)
    for index_key, drop in sorted(by_index.items()):
        update_point_index(s3, bucket, index_key, drop=drop)


def indexed_listing(
    s3: Any, bucket: str, prefix: str, wanted: Callable[[str], bool]
) -> list[tuple[str, dict[str, Any] | None]]:
    """The documents under ``prefix`` that ``wanted`` accepts, each with its valid index entry.

    One listing (keys and ETags), then one GET per folder index present; an entry whose ETag is
    not the listed one is None (the caller reads that document).
    """
    listed = list_objects(s3, bucket, prefix)
    keys = sorted(k for k in listed if wanted(k))
    indexes = sorted({point_index_key(k) for k in keys} & set(listed))

    def _read(index_key: str) -> dict[str, dict[str, Any]]:
        doc, _ = get_doc(s3, bucket, index_key)
        return index_entries(doc)

    entries: dict[str, dict[str, Any]] = {}
    if len(indexes) == 1:
        entries.update(_read(indexes[0]))
    elif indexes:
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(indexes))) as pool:
            for found in pool.map(_read, indexes):
                entries.update(found)
    out: list[tuple[str, dict[str, Any] | None]] = []
    for key in keys:
        entry = entries.get(key)
        valid = isinstance(entry, dict) and _etag(entry.get("etag")) == _etag(listed[key]) != ""
        out.append((key, entry if valid else None))
    return out


def list_versions(
    s3: Any, bucket: str, prefix: str = ""
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every object version and delete marker in ``bucket`` under ``prefix`` (paginated)."""
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions.extend(page.get("Versions", []))
        markers.extend(page.get("DeleteMarkers", []))
    return versions, markers


def delete_versions(s3: Any, bucket: str, items: list[dict[str, str]]) -> list[str]:
    """DeleteObjects in batches of 1,000 (``Key``/``VersionId`` dicts); returns the errors."""
    errors: list[str] = []
    for batch in chunks(items, DELETE_BATCH):
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        errors.extend(
            f"{e.get('Key')}@{e.get('VersionId')}: {e.get('Code')} {e.get('Message')}"
            for e in response.get("Errors", [])
        )
    return errors


def read_header(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """A manifest without its ``objects`` list (one ranged GET), or None when there is none.

    Manifests are written with ``"objects"`` last, so the bytes before ``,"objects":[`` plus ``}``
    are the header as JSON. A manifest written otherwise is read whole.
    """
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}")
    except ClientError as err:
        if error_code(err) in _NOT_FOUND:
            return None
        raise
    body = response["Body"]
    try:
        head = body.read()
    finally:
        body.close()
    text = head.decode("utf-8", errors="replace")
    mark = text.find(_OBJECTS_MARK)
    if mark >= 0:
        try:
            header: dict[str, Any] = json.loads(text[:mark] + "}")
            return header
        except ValueError:
            pass
    doc, _ = get_doc(s3, bucket, key)
    if doc is not None:
        doc.pop("objects", None)
    return doc


def object_tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    """The object's tags ({} when it has none or is gone)."""
    try:
        return tag_dict(s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet"))
    except ClientError as err:
        if error_code(err) in _NOT_FOUND:
            return {}
        raise


def deletable(tags: dict[str, str]) -> bool:
    """PRODUCT.md: only ``awsdr:managed=true`` points without ``awsdr:legal-hold`` are deleted."""
    return tags.get(TAG_MANAGED) == "true" and TAG_LEGAL_HOLD not in tags


def prune_dr_versions(
    ctx: AwsContext, region: str, bucket: str, keep_version_ids: set[str]
) -> list[dict[str, str]]:
    """Delete the DR bucket's object versions this product copied and no DR manifest still names.

    Only versions carrying the ``awsdr-source-version-id`` metadata are candidates (HEAD of each
    version not in ``keep_version_ids``, on a pool of 16): replicas and objects written by anyone
    else are never touched. Returns the deleted ``{"Key", "VersionId"}``.
    """
    s3 = ctx.client("s3", region)
    versions, _ = list_versions(s3, bucket)
    candidates = [v for v in versions if v["VersionId"] not in keep_version_ids]

    def _ours(version: dict[str, Any]) -> dict[str, str] | None:
        try:
            head = s3.head_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        except ClientError as err:
            if error_code(err) in (*_NOT_FOUND, "NoSuchVersion", "405"):
                return None
            raise
        if META_SOURCE_VERSION not in (head.get("Metadata") or {}):
            return None
        return {"Key": version["Key"], "VersionId": version["VersionId"]}

    if not candidates:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(candidates))) as pool:
        doomed = [c for c in pool.map(_ours, candidates) if c is not None]
    errors = delete_versions(s3, bucket, doomed) if doomed else []
    if errors:
        raise CaptureError(f"{len(errors)} DR versions not deleted from {bucket}: {'; '.join(errors[:5])}")
    return doomed


# --- copied data no point names any more; sharing with the vault ----------------------------------

#: Sid of the bucket-policy statement that lets the vault account read a DR bucket.
VAULT_SID = "awsdr-vault-read"


def version_id_of(item: dict[str, str]) -> str:
    """``key@version``: how a deleted object version is named in audit records."""
    return f"{item['Key']}@{item['VersionId']}"


def held(s3: Any, bucket: str, key: str, version_id: str, head: dict[str, Any]) -> bool:
    """A version under legal hold: S3 Object Lock legal hold ON, or an ``awsdr:legal-hold`` object tag.

    (An Object Lock retention period also protects it: S3 refuses the delete, reported as an error.)
    """
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        return True
    if not int(head.get("TagCount") or 0):
        return False
    try:
        tags = tag_dict(s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id).get("TagSet"))
    except ClientError as err:
        if error_code(err) in (*_NOT_FOUND, "NoSuchVersion"):
            return False
        raise
    return TAG_LEGAL_HOLD in tags


def copied_versions_outside(
    s3: Any, bucket: str, keep_version_ids: set[str], keep_origins: set[str]
) -> list[dict[str, str]]:
    """The versions of ``bucket`` this product copied that nothing keeps.

    Candidates: versions not in ``keep_version_ids`` that carry ``awsdr-source-version-id``
    (HEAD of each, pool of 16; replicas and anybody else's objects never qualify) whose origin
    version is not in ``keep_origins`` (a copy still being made names it) and that are not under
    legal hold (:func:`held`).
    """
    versions, _ = list_versions(s3, bucket)
    candidates = [v for v in versions if v["VersionId"] not in keep_version_ids]

    def _one(version: dict[str, Any]) -> dict[str, str] | None:
        key, vid = version["Key"], version["VersionId"]
        try:
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=vid)
        except ClientError as err:
            if error_code(err) in (*_NOT_FOUND, "NoSuchVersion", "405"):
                return None
            raise
        origin = (head.get("Metadata") or {}).get(META_SOURCE_VERSION)
        if origin is None or origin in keep_origins or held(s3, bucket, key, vid, head):
            return None
        return {"Key": key, "VersionId": vid}

    if not candidates:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(candidates))) as pool:
        return [c for c in pool.map(_one, candidates) if c is not None]


def delete_copied_versions(s3: Any, bucket: str, items: list[dict[str, str]]) -> dict[str, str]:
    """Delete copied versions after a fresh HEAD of each: ``{"key@version": outcome}``.

    Refused: no ``awsdr-source-version-id`` (not ours) or under legal hold. Already gone: absent.
    """
    outcomes: dict[str, str] = {}

    def _check(item: dict[str, str]) -> tuple[dict[str, str], str | None]:
        try:
            head = s3.head_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
        except ClientError as err:
            if error_code(err) in (*_NOT_FOUND, "NoSuchVersion", "405"):
                return item, ABSENT
            return item, f"error: {error_code(err)} {err}"
        if META_SOURCE_VERSION not in (head.get("Metadata") or {}):
            return item, REFUSED
        if held(s3, bucket, item["Key"], item["VersionId"], head):
            return item, REFUSED
        return item, None

    if not items:
        return outcomes
    todo: list[dict[str, str]] = []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        for item, verdict in pool.map(_check, items):
            if verdict is None:
                todo.append(item)
            else:
                outcomes[version_id_of(item)] = verdict
    failed: dict[str, str] = {}
    for batch in chunks(todo, DELETE_BATCH):
        try:
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        except ClientError as err:
            failed.update({version_id_of(i): f"error: {error_code(err)} {err}" for i in batch})
            continue
        for e in response.get("Errors", []):
            name = f"{e.get('Key')}@{e.get('VersionId')}"
            failed[name] = f"error: {e.get('Code')} {e.get('Message')}"
    for item in todo:
        outcomes[version_id_of(item)] = failed.get(version_id_of(item), DELETED)
    return outcomes


def grant_vault_read(
    ctx: AwsContext, region: str, bucket: str, account_id: str, kms_key_arn: str | None
) -> None:
    """Let ``account_id`` read every object version of ``bucket`` (a DR bucket) and decrypt them.

    A bucket-policy statement ``awsdr-vault-read`` (GetObject/GetObjectVersion/tagging, ListBucket/
    ListBucketVersions; other statements kept, rewritten only when it differs) and a KMS grant named
    ``awsdr-vault-<account>`` on the bucket's key (Decrypt, DescribeKey; the name makes a retry
    return the same grant). The vault role's own IAM policy must allow the same actions on these
    ARNs: cross-account access needs both sides.
    """
    s3 = ctx.client("s3", region)
    partition = _partition_of(region)
    principal = f"arn:{partition}:iam::{account_id}:root"
    statement = {
        "Sid": VAULT_SID,
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetObjectTagging",
            "s3:GetObjectVersionTagging",
            "s3:ListBucket",
            "s3:ListBucketVersions",
        ],
        "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
    }
    try:
        found = _optional(s3.get_bucket_policy, ("NoSuchBucketPolicy",), Bucket=bucket)
        policy: dict[str, Any] = (
            json.loads(found["Policy"]) if found else {"Version": "2012-10-17", "Statement": []}
        )
        statements = [s for s in policy.get("Statement", []) if s.get("Sid") != VAULT_SID]
        if [s for s in policy.get("Statement", []) if s.get("Sid") == VAULT_SID] != [statement]:
            policy["Statement"] = [*statements, statement]
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        if kms_key_arn:
            ctx.client("kms", region).create_grant(
                KeyId=kms_key_arn,
                GranteePrincipal=principal,
                Operations=["Decrypt", "DescribeKey"],
                Name=f"awsdr-vault-{account_id}",
            )
    except ClientError as err:
        raise CaptureError(f"share of {bucket} with {account_id}: {error_code(err)}: {err}") from err


def _partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def vault_bucket_name(catalog_bucket: str, region: str) -> str:
    """The vault account's bucket in ``region``: ``<catalog bucket>-vault-<region>`` (<= 63).

    It holds the vault points (manifests, sidecars, indexes) and the DynamoDB exports' copies.
    """
    return make_bucket_name(catalog_bucket, "vault", region)


def vault_data_bucket_name(bucket: str, region: str) -> str:
    """The vault account's copy of an S3 bucket in ``region``: ``<bucket>-vault-<region>`` (<= 63)."""
    return make_bucket_name(bucket, "vault", region)


# --- archive storage classes ------------------------------------------------------------------
#
# DR bucket versions no longer current for ``archive_after`` move to the plan's ``archive_class``
# by a lifecycle rule this product owns (ID ``awsdr-archive``) on the DR buckets it made; a version
# serves every point that names it, so it moves by its own age, not point by point, and the newest
# point's versions (current ones) never move. GLACIER_IR reads at once; GLACIER and DEEP_ARCHIVE
# (and S3 Intelligent-Tiering's archive tiers, which a user's own bucket may use) need a restore
# first: a copy requests one and waits (RetryLater), a restore for verification requests one and
# is ``creating`` until every version it needs is readable.

#: storage classes whose versions must be restored before they are read
NEEDS_RESTORE = ("GLACIER", "DEEP_ARCHIVE")
#: the lifecycle rule's ID on DR buckets
ARCHIVE_RULE_ID = "awsdr-archive"
#: how long a restored copy of an archived version stays readable (RestoreObject ``Days``)
RESTORE_DAYS = 2
#: when a copy waiting for restores is tried again (a Standard retrieval: 3-5 h from GLACIER, up to
#: 12 h from DEEP_ARCHIVE; the copy looks again every hour until then)
RESTORE_RECHECK = timedelta(hours=1)
#: error codes of a read of an archived version (AWS; moto says ObjectNotInActiveTierError)
ARCHIVED_CODES = ("InvalidObjectState", "ObjectNotInActiveTierError")
READABLE = "readable"
RESTORING = "restoring"
ARCHIVED = "archived"


class ArchivedVersion(CaptureError):
    """An object version in an archive storage class, not restored: it cannot be read yet."""

    def __init__(self, bucket: str, key: str, version_id: str, storage_class: str, state: str) -> None:
        super().__init__(f"{key} ({version_id}) in {bucket} is in {storage_class} ({state})")
        self.bucket, self.key, self.version_id = bucket, key, version_id
        self.storage_class, self.state = storage_class, state


def read_state(head: dict[str, Any]) -> str:
    """Whether a version (a HeadObject answer) can be read: ``readable``, ``restoring`` (a restore
    is running) or ``archived`` (a restore must be requested)."""
    archived = (head.get("StorageClass") or "STANDARD") in NEEDS_RESTORE or bool(head.get("ArchiveStatus"))
    if not archived:
        return READABLE
    restore = str(head.get("Restore") or "")
    if 'ongoing-request="false"' in restore:
        return READABLE
    return RESTORING if 'ongoing-request="true"' in restore else ARCHIVED


def request_restore(
    s3: Any, bucket: str, key: str, version_id: str, *, intelligent: bool = False, tier: str = "Standard"
) -> str:
    """RestoreObject for one archived version (``Days`` = :data:`RESTORE_DAYS`; none for an
    Intelligent-Tiering archive tier, which moves the object back itself); ``requested``, or
    ``restoring`` when one is already running."""
    request: dict[str, Any] = {"GlacierJobParameters": {"Tier": tier}}
    if not intelligent:
        request["Days"] = RESTORE_DAYS
    args: dict[str, Any] = {"Bucket": bucket, "Key": key, "RestoreRequest": request}
    if version_id and version_id != "null":
        args["VersionId"] = version_id
    try:
        s3.restore_object(**args)
    except ClientError as err:
        if error_code(err) == "RestoreAlreadyInProgress":
            return RESTORING
        raise
    return "requested"


def restore_archived(s3: Any, err: ArchivedVersion) -> str:
    """Request the restore ``err`` calls for (unless one runs); the outcome of :func:`request_restore`."""
    if err.state == RESTORING:
        return RESTORING
    return request_restore(
        s3, err.bucket, err.key, err.version_id, intelligent=err.storage_class not in NEEDS_RESTORE
    )


def archive_rule(days: int, storage_class: str) -> dict[str, Any]:
    """The DR bucket lifecycle rule: noncurrent versions move to ``storage_class`` after ``days``."""
    return {
        "ID": ARCHIVE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionTransitions": [{"NoncurrentDays": days, "StorageClass": storage_class}],
    }


def _same_rule(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def facts(rule: dict[str, Any]) -> tuple[Any, ...]:
        moves = [
            (t.get("NoncurrentDays"), t.get("StorageClass"))
            for t in rule.get("NoncurrentVersionTransitions") or []
        ]
        prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
        return (
            rule.get("Status"),
            prefix or "",
            moves,
            bool(rule.get("Transitions") or rule.get("Expiration")),
        )

    return facts(a) == facts(b)


def apply_archive_rule(
    s3: Any, bucket: str, days: int | None, storage_class: str, *, dry_run: bool = False
) -> str:
    """Put (``days``) or take away (None) the ``awsdr-archive`` rule on a DR bucket this product
    made (it carries ``awsdr:dr-bucket-of``), keeping every other rule of the bucket as it is.

    ``applied`` / ``removed`` (``would-apply`` / ``would-remove`` in a dry run), ``unchanged``,
    ``absent`` (no such bucket), ``refused`` (a bucket not made here, e.g. a replication
    destination the user owns: its lifecycle is the user's).
    """
    try:
        btags = tag_dict(s3.get_bucket_tagging(Bucket=bucket).get("TagSet"))
    except ClientError as err:
        code = error_code(err)
        if code in _NO_BUCKET:
            return ABSENT
        if code != "NoSuchTagSet":
            raise
        btags = {}
    if "awsdr:dr-bucket-of" not in btags:
        return REFUSED
    try:
        rules = list(s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules") or [])
    except ClientError as err:
        if error_code(err) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    others = [r for r in rules if r.get("ID") != ARCHIVE_RULE_ID]
    ours = next((r for r in rules if r.get("ID") == ARCHIVE_RULE_ID), None)
    if days is None:
        if ours is None:
            return "unchanged"
        if dry_run:
            return "would-remove"
        if others:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": others})
        else:
            s3.delete_bucket_lifecycle(Bucket=bucket)
        return "removed"
    wanted = archive_rule(days, storage_class)
    if ours is not None and _same_rule(ours, wanted):
        return "unchanged"
    if dry_run:
        return "would-apply"
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [*others, wanted]})
    return "applied"


def archive_days(after: timedelta) -> int:
    """Whole days of ``archive_after`` (a lifecycle rule counts days), at least one."""
    return max(1, -(-int(after.total_seconds()) // 86400))


def copy_version(
    src: Any,
    dst: Any,
    source_bucket: str,
    key: str,
    version_id: str,
    dest_bucket: str,
    kms_arn: str,
    *,
    origin_version: str,
    origin_etag: str = "",
    dest_key: str | None = None,
    copy_limit: int = COPY_LIMIT,
    part_size: int = PART_SIZE,
) -> str:
    """Copy one object version into ``dest_bucket`` (same key unless ``dest_key``), SSE-KMS with
    ``kms_arn``, metadata kept plus ``awsdr-source-version-id=origin_version``; returns the new
    version id. CopyObject up to ``copy_limit``, UploadPartCopy above (aborted on failure)."""
    target = dest_key or key
    source = {"Bucket": source_bucket, "Key": key, "VersionId": version_id}
    head = src.head_object(Bucket=source_bucket, Key=key, VersionId=version_id)
    state = read_state(head)
    if state != READABLE:
        raise ArchivedVersion(
            source_bucket, key, version_id, str(head.get("StorageClass") or "ARCHIVE"), state
        )
    metadata = dict(head.get("Metadata") or {})
    metadata[META_SOURCE_VERSION] = origin_version
    metadata[META_SOURCE_ETAG] = origin_etag
    common: dict[str, Any] = {
        "Bucket": dest_bucket,
        "Key": target,
        "Metadata": metadata,
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": kms_arn,
        "BucketKeyEnabled": True,
    }
    for name in ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage"):
        if head.get(name):
            common[name] = head[name]
    size = int(head.get("ContentLength", 0))
    if size <= copy_limit:
        response = dst.copy_object(CopySource=source, MetadataDirective="REPLACE", **common)
        return str(response["VersionId"])
    upload = dst.create_multipart_upload(**common)["UploadId"]
    part = max(part_size, -(-size // MAX_PARTS))
    parts: list[dict[str, Any]] = []
    try:
        for number, start in enumerate(range(0, size, part), start=1):
            end = min(start + part, size) - 1
            result = dst.upload_part_copy(
                Bucket=dest_bucket,
                Key=target,
                UploadId=upload,
                PartNumber=number,
                CopySource=source,
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
        done = dst.complete_multipart_upload(
            Bucket=dest_bucket, Key=target, UploadId=upload, MultipartUpload={"Parts": parts}
        )
    except Exception:
        try:
            dst.abort_multipart_upload(Bucket=dest_bucket, Key=target, UploadId=upload)
        except ClientError as err:
            log.warning("Abort of multipart copy %s failed: %s", target, error_code(err))
        raise
    return str(done["VersionId"])


#: The vault bucket's index of copied versions per source bucket: ``points/s3-index/<bucket>.json``.
VAULT_INDEX_PREFIX = S3_VAULT_INDEX_PREFIX
vault_index_key = s3_vault_index_key


def vault_manifest_key(region: str, dr_key: str) -> str:
    """The vault manifest of the DR manifest ``dr_key``: ``points/s3/<plan>/<bucket>/<stamp>.json``
    in the vault bucket (the DR key without ``points/s3-dr/<region>/``)."""
    return _PRIMARY + dr_key[len(copies_prefix(KIND, region)) :]


def _delete_manifests(
    catalog: Any,
    catalog_bucket: str,
    points: list[RecoveryPoint],
    *,
    all_versions: bool,
    indexed: bool = False,
) -> dict[str, str]:
    """Delete manifests after re-reading their tags (refused unless managed and not held).

    ``all_versions``: in a versioned bucket (the vault's) delete every version of the key, so
    nothing is left behind as a noncurrent version. ``indexed``: then drop the deleted (or
    absent) manifests from their folders' listing indexes.
    """
    if not points:
        return {}

    def _one(point: RecoveryPoint) -> str:
        key = point.point_id
        try:
            header = read_header(catalog, catalog_bucket, key)
            if header is None:
                return ABSENT
            tags = {**(header.get("tags") or {}), **object_tags(catalog, catalog_bucket, key)}
            if not deletable(tags):
                return REFUSED
            if not all_versions:
                catalog.delete_object(Bucket=catalog_bucket, Key=key)
                return DELETED
            versions, markers = list_versions(catalog, catalog_bucket, key)
            items = [
                {"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions + markers if v["Key"] == key
            ]
            errors = delete_versions(catalog, catalog_bucket, items)
            if errors:
                return f"error: {errors[0]}"
        except ClientError as err:
            return f"error: {error_code(err)} {err}"
        return DELETED

    with ThreadPoolExecutor(max_workers=min(8, len(points))) as pool:
        outcomes = dict(zip([p.point_id for p in points], pool.map(_one, points), strict=True))
    if indexed:
        drop_from_indexes(catalog, catalog_bucket, [k for k, o in outcomes.items() if o in (DELETED, ABSENT)])
    return outcomes


def _is_listing_key(key: str, prefix: str, depth: int) -> bool:
    """A manifest key under ``prefix`` with exactly ``depth`` path segments after it, ending .json."""
    if not key.startswith(prefix):
        return False
    rest = key[len(prefix) :].split("/")
    return len(rest) == depth and rest[-1].endswith(".json") and rest[-1] != "index.json"


def manifest_header(doc: dict[str, Any]) -> dict[str, Any]:
    """What :func:`read_header` reads of a manifest: everything but ``objects``."""
    return {k: v for k, v in doc.items() if k != "objects"}


def _listing_keys(keys: list[str], prefix: str, depth: int) -> list[str]:
    """Manifest keys under ``prefix`` with exactly ``depth`` path segments after it, ending .json."""
    out = []
    for key in keys:
        rest = key[len(prefix) :].split("/")
        if len(rest) == depth and rest[-1].endswith(".json") and rest[-1] != "index.json":
            out.append(key)
    return out


def _few(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _archived_problem(s3: Any, arch: ArchivedVersion, archived: list[str]) -> str | None:
    """Request the restore an archived source version needs and note it in ``archived``; a
    problem string only when the request itself failed."""
    try:
        restore_archived(s3, arch)
    except ClientError as err:
        return f"{arch.key}: archived in {arch.storage_class}, restore refused: {error_code(err)} {err}"
    archived.append(arch.key)
    return None


def _raise_unplaced(errors: list[str], archived: list[str], total: int, where: str) -> None:
    """After a copy pass: a CaptureError for failures, else RetryLater while archived versions are
    being restored (the copy is tried again; versions already copied are not copied twice)."""
    if errors:
        extra = f" ({len(archived)} more being restored from an archive class)" if archived else ""
        raise CaptureError(
            f"{len(errors)} of {total} object versions not copied to {where}{extra}: " + "; ".join(errors[:5])
        )
    if archived:
        raise RetryLater(
            f"{len(archived)} of {total} object versions are in an archive storage class: a restore "
            f"was requested (Standard retrieval, hours); copied to {where} once readable: {_few(sorted(archived))}",
            retry_at=datetime.now(UTC) + RESTORE_RECHECK,
        )


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
        #: objects above this size are copied part by part (tests lower it to reach that path)
        self.copy_limit = COPY_LIMIT
        self.part_size = PART_SIZE
        self._ready: set[str] = set()

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
        prefix, suffix = points_prefix(KIND, plan), f"/{window_stamp(window)}.json"
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
                written = catalog.put_object(
                    **put, Metadata=metadata, Tagging=urlencode(tags), IfNoneMatch="*"
                )
            except ClientError as err:
                if error_code(err) != "InvalidTag":
                    raise
                # moto refuses any object tag key starting with "aws" (so "awsdr:*"); AWS only
                # reserves "aws:". Keep the manifest: its JSON carries the tags.
                log.warning("Manifest %s written without object tags: %s", key, err)
                tags_on_object = False
                written = catalog.put_object(**put, Metadata={**metadata, META_TAGS_ON_OBJECT: "false"})
        except ClientError as err:
            if error_code(err) in ("PreconditionFailed", "ConditionalRequestConflict"):
                again = self._existing(
                    catalog, catalog_bucket, key, resource.region, bucket, plan, window, tags
                )
                if again is not None:
                    return again
            raise CaptureError(f"{error_code(err)}: {err}") from err
        self._index_put(
            catalog, catalog_bucket, key, written.get("ETag"), manifest_header(manifest), tags_on_object
        )
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
        self._index_heal(catalog, catalog_bucket, key, head)
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

    # --- listing --------------------------------------------------------------------------------

    def _header_point(
        self,
        catalog: Any,
        catalog_bucket: str,
        key: str,
        region: str,
        header: dict[str, Any] | None = None,
        *,
        read_tags: bool = True,
    ) -> RecoveryPoint | None:
        """The point of the manifest at ``key`` with its current tags; None when not a managed point.

        ``header``: the manifest's header when known (from the listing index), else it is read.
        ``read_tags``: overlay the manifest object's S3 tags (False only for a manifest in a
        catalog that refused its object tags, whose JSON ``tags`` hold every tag of the point).
        """
        if header is None:
            header = read_header(catalog, catalog_bucket, key)
        if header is None:
            return None
        is_copy = "dr_bucket" in header
        if not is_copy and header.get("region") != region:
            return None
        on_object = object_tags(catalog, catalog_bucket, key) if read_tags else {}
        tags = {**(header.get("tags") or {}), **on_object}
        when = header.get("copied_at") if is_copy else header.get("captured_at")
        total = header.get("total_bytes")
        details: dict[str, Any] = {
            "manifest_key": key,
            "object_count": header.get("object_count"),
            "total_bytes": total,
            "size_bytes": total,
            "digest": header.get("digest"),
        }
        if is_copy:
            details.update(
                {
                    "dr_bucket": header["dr_bucket"],
                    "kms_key_id": header.get("kms_key_id"),
                    "source_manifest": header.get("source_manifest"),
                    "replication": header.get("replication"),
                }
            )
            if header.get("vault_bucket"):
                details["vault_bucket"] = header["vault_bucket"]
                details["account_id"] = header.get("account_id")
        point = point_from_tags(
            self.name,
            key,
            f"s3://{catalog_bucket}/{key}",
            header.get("region") or region,
            tags,
            AVAILABLE,
            created_at=parse_window(when) if when else None,
            details=details,
        )
        if point is not None:
            point.source_id = header.get("bucket") or point.source_id
            point.plan = header.get("plan") or point.plan
        return point

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        """Manifests in the catalog: primary points of ``region`` and DR copies held in ``region``.

        One listing per prefix; each manifest's header is one ranged GET plus its object tags
        (pool of 16). Only ``awsdr:managed=true`` manifests are points.
        """
        catalog, catalog_bucket = self._catalog(ctx, region)
        primary, copies = points_prefix(KIND, plan), copies_prefix(KIND, region, plan)
        depth = 2 if plan else 3
        listed = indexed_listing(
            catalog, catalog_bucket, primary, lambda k: _is_listing_key(k, primary, depth)
        )
        listed += indexed_listing(
            catalog, catalog_bucket, copies, lambda k: _is_listing_key(k, copies, depth)
        )
        if not listed:
            return []

        def _one(item: tuple[str, dict[str, Any] | None]) -> RecoveryPoint | None:
            key, entry = item
            header = entry.get("header") if entry else None
            if not isinstance(header, dict):
                return self._header_point(catalog, catalog_bucket, key, region)
            on_object = entry.get("object_tags") is not False if entry else True
            point = self._header_point(catalog, catalog_bucket, key, region, header, read_tags=on_object)
            if point is not None:
                point.details["tags_on_object"] = on_object
            return point

        def _reads(item: tuple[str, dict[str, Any] | None]) -> bool:
            entry = item[1]
            return (
                not entry
                or not isinstance(entry.get("header"), dict)
                or entry.get("object_tags") is not False
            )

        found = {item[0]: _one(item) for item in listed if not _reads(item)}
        remote = [item for item in listed if _reads(item)]
        if remote:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(remote))) as pool:
                found.update(zip([k for k, _ in remote], pool.map(_one, remote), strict=True))
        points = [found[k] for k, _ in listed]
        return [p for p in points if p is not None and (plan is None or p.plan == plan)]

    # --- the listing index ------------------------------------------------------------------------

    def _index_put(
        self,
        catalog: Any,
        catalog_bucket: str,
        key: str,
        etag: str | None,
        header: dict[str, Any],
        tags_on_object: bool | None,
    ) -> None:
        """Record a written manifest in its folder's listing index (best effort, see the helpers).

        ``tags_on_object``: whether listings read the object's S3 tags; None: as the entry it
        replaces said (True without one).
        """
        if not etag:
            return
        entry = {"etag": _etag(etag), "header": json.loads(json.dumps(header))}  # as read back

        def put(entries: dict[str, dict[str, Any]]) -> None:
            prev = entries.get(key)
            flag = tags_on_object
            if flag is None:
                flag = not (isinstance(prev, dict) and prev.get("object_tags") is False)
            entries[key] = {**entry, "object_tags": flag}

        update_point_index(catalog, catalog_bucket, point_index_key(key), change=put)

    def _index_heal(self, catalog: Any, catalog_bucket: str, key: str, head: dict[str, Any]) -> None:
        """An existing manifest (a retried capture) gets its index entry if it lacks a valid one."""
        try:
            entries = index_entries(get_doc(catalog, catalog_bucket, point_index_key(key))[0])
            if _etag((entries.get(key) or {}).get("etag")) == _etag(head.get("ETag")):
                return
            header = read_header(catalog, catalog_bucket, key)
        except (ClientError, ValueError) as err:
            log.warning("Listing index of %s not checked: %s", key, err)
            return
        if header is not None:
            on_object = (head.get("Metadata") or {}).get(META_TAGS_ON_OBJECT) != "false"
            self._index_put(catalog, catalog_bucket, key, head.get("ETag"), header, on_object)

    # --- copy -----------------------------------------------------------------------------------

    def _dr_bucket(
        self, src: Any, dst: Any, bucket: str, dest_region: str
    ) -> tuple[str, dict[str, Any] | None]:
        """The DR bucket (replication destination in ``dest_region`` if any) and the replication facts."""
        try:
            conf = _optional(
                src.get_bucket_replication, ("ReplicationConfigurationNotFoundError",), Bucket=bucket
            )
        except ClientError as err:
            log.warning("Replication of %s not readable (%s): copying alone", bucket, error_code(err))
            conf = None
        rules = ((conf or {}).get("ReplicationConfiguration") or {}).get("Rules") or []
        if not rules:
            return dr_bucket_name(bucket, dest_region), None
        report: dict[str, Any] | None = None
        for rule in sorted(rules, key=lambda r: -int(r.get("Priority") or 0)):
            target = str((rule.get("Destination") or {}).get("Bucket", "")).rsplit(":", 1)[-1]
            if not target:
                continue
            try:
                location = dst.get_bucket_location(Bucket=target).get("LocationConstraint") or "us-east-1"
                exists = True
            except ClientError as err:
                location, exists = None, False
                if error_code(err) not in _NO_BUCKET:
                    log.warning("Replication destination %s not readable: %s", target, error_code(err))
            info = {
                "configured": True,
                "rule": rule.get("ID"),
                "status": rule.get("Status"),
                "destination": target,
                "destination_region": location,
                "destination_exists": exists,
            }
            if exists and location == dest_region:
                return target, {**info, "used_as_dr_bucket": True}
            report = report or {**info, "used_as_dr_bucket": False}
        if report is not None:
            report["state"] = "broken" if not report["destination_exists"] else "elsewhere"
        return dr_bucket_name(bucket, dest_region), report

    def _copy_version(
        self, src: Any, dst: Any, source_bucket: str, dr_bucket: str, entry: dict[str, Any], kms_arn: str
    ) -> str:
        """Copy one source version into the DR bucket; returns the DR version id."""
        return copy_version(
            src,
            dst,
            source_bucket,
            entry["key"],
            str(entry["version_id"]),
            dr_bucket,
            kms_arn,
            origin_version=str(entry["version_id"]),
            origin_etag=str(entry.get("etag", "")),
            copy_limit=self.copy_limit,
            part_size=self.part_size,
        )

    def _save_index(
        self,
        catalog: Any,
        catalog_bucket: str,
        key: str,
        bucket: str,
        dr_bucket: str,
        placed: dict[str, str],
        drop: set[str] | None = None,
    ) -> None:
        """Merge ``placed`` into the index (optimistic: If-Match, re-read on conflict)."""
        for _ in range(10):
            doc, etag = get_doc(catalog, catalog_bucket, key)
            versions = (
                dict((doc or {}).get("versions", {})) if (doc or {}).get("dr_bucket") == dr_bucket else {}
            )
            before = dict(versions)
            versions.update(placed)
            for k in drop or ():
                versions.pop(k, None)
            if doc is not None and versions == before:
                return
            new = {"schema": 1, "bucket": bucket, "dr_bucket": dr_bucket, "versions": versions}
            if put_doc(catalog, catalog_bucket, key, new, if_none_match=doc is None, if_match=etag):
                return
        raise CaptureError(f"index {key} kept changing: not updated")

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
        """Make the DR bucket hold every version the manifest names; the copy is a DR manifest.

        Versions already there (index entry confirmed by the DR listing, a replica with the same
        version id, or the latest DR version carrying this source version in its metadata) are
        not copied again. Copies run on a pool of 16; any failure (after the others are done and
        recorded in the index) is a :class:`CaptureError`, so a retry copies only the rest.
        """
        if point.point_id.startswith(_COPIES):
            raise CaptureError(f"{point.point_id} is already a DR copy")
        dctx = dest_ctx or ctx
        catalog, catalog_bucket = self._catalog(ctx, dest_region)
        bucket = point.source_id
        key = dr_manifest_key(dest_region, point.plan, bucket, point.window)
        done = self._header_point(catalog, catalog_bucket, key, dest_region)
        if done is not None:
            return done
        try:
            manifest, _ = get_doc(catalog, catalog_bucket, point.point_id)
        except ClientError as err:
            raise CaptureError(f"manifest {point.point_id}: {error_code(err)}: {err}") from err
        if manifest is None:
            raise CaptureError(f"manifest {point.point_id} not found in {catalog_bucket}")
        src, dst = ctx.client("s3", point.region), dctx.client("s3", dest_region)
        kms_arn = resolve_kms_key(dctx, dest_region, kms_key_id)
        dr_bucket, replication = self._dr_bucket(src, dst, bucket, dest_region)
        if not (replication or {}).get("used_as_dr_bucket"):
            ensure_bucket(
                dst,
                dr_bucket,
                dest_region,
                kms_key_arn=kms_arn,
                tags={"awsdr:dr-bucket-of": bucket},
                ready=self._ready,
            )
        index_key = dr_index_key(dest_region, bucket)
        try:
            index_doc, _ = get_doc(catalog, catalog_bucket, index_key)
            versions, _markers = list_versions(dst, dr_bucket)
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        index = (
            (index_doc or {}).get("versions", {}) if (index_doc or {}).get("dr_bucket") == dr_bucket else {}
        )
        present = {(v["Key"], v["VersionId"]) for v in versions}
        latest = {v["Key"]: v["VersionId"] for v in versions if v.get("IsLatest")}
        entries: list[dict[str, Any]] = list(manifest.get("objects", []))
        placed: dict[str, str] = {}
        todo: list[dict[str, Any]] = []
        not_replicated: list[str] = []
        for e in entries:
            ik, vid = index_key_of(e), str(e["version_id"])
            if vid != "null" and (e["key"], vid) not in present:
                not_replicated.append(e["key"])
            if index.get(ik) and (e["key"], index[ik]) in present:
                placed[ik] = index[ik]
            elif vid != "null" and (e["key"], vid) in present:
                placed[ik] = vid  # a replica: S3 replication keeps the version id
            else:
                todo.append(e)

        def _latest_is_ours(e: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
            """A copy made by a run whose index update was lost: the key's latest DR version."""
            dr_vid = latest.get(e["key"])
            if dr_vid is None:
                return e, None
            try:
                head = dst.head_object(Bucket=dr_bucket, Key=e["key"], VersionId=dr_vid)
            except ClientError:
                return e, None
            same = (head.get("Metadata") or {}).get(META_SOURCE_VERSION) == str(e["version_id"])
            return e, dr_vid if same else None

        archived: list[str] = []

        def _copy(e: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
            try:
                return e, self._copy_version(src, dst, bucket, dr_bucket, e, kms_arn), None
            except ArchivedVersion as arch:
                # the source bucket's own lifecycle archived it: restore it, copy it when readable
                return e, None, _archived_problem(src, arch, archived)
            except ClientError as err:
                code = error_code(err)
                if code in ("NoSuchVersion", "NoSuchKey", "404"):
                    return e, None, f"{e['key']}: source version {e['version_id']} is gone"
                if code in ARCHIVED_CODES:
                    gone = ArchivedVersion(bucket, e["key"], str(e["version_id"]), "GLACIER", ARCHIVED)
                    return e, None, _archived_problem(src, gone, archived)
                return e, None, f"{e['key']}: {code} {err}"

        errors: list[str] = []
        copied = 0
        if todo:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(todo))) as pool:
                still: list[dict[str, Any]] = []
                for e, dr_vid in pool.map(_latest_is_ours, todo):
                    if dr_vid:
                        placed[index_key_of(e)] = dr_vid
                    else:
                        still.append(e)
                for e, dr_vid, problem in pool.map(_copy, still):
                    if dr_vid:
                        placed[index_key_of(e)] = dr_vid
                        copied += 1
                    elif problem:
                        errors.append(problem)
        if placed:
            self._save_index(catalog, catalog_bucket, index_key, bucket, dr_bucket, placed)
        _raise_unplaced(errors, archived, len(entries), dr_bucket)
        if replication is not None:
            replication["missing"] = len(not_replicated) if replication.get("used_as_dr_bucket") else None
            replication["missing_keys"] = not_replicated[:10] if replication.get("used_as_dr_bucket") else []
            if "state" not in replication:
                broken = replication.get("status") != "Enabled" or not replication.get("destination_exists")
                replication["state"] = "broken" if broken else ("lagging" if not_replicated else "ok")
        copied_at = datetime.now(UTC)
        doc = {
            "schema": MANIFEST_SCHEMA,
            "kind": "s3-dr",
            "bucket": bucket,
            "dr_bucket": dr_bucket,
            "region": dest_region,
            "source_region": point.region,
            "source_manifest": point.point_id,
            "plan": point.plan,
            "window": format_window(point.window),
            "captured_at": manifest.get("captured_at"),
            "copied_at": format_window(copied_at),
            "object_count": len(entries),
            "total_bytes": sum(int(e.get("size", 0)) for e in entries),
            "digest": manifest.get("digest") or manifest_digest(entries),
            "kms_key_id": kms_arn,
            "copied": copied,
            "replication": replication,
            "tags": dict(tags),
            "objects": [{**e, "dr_version_id": placed[index_key_of(e)]} for e in entries],
        }
        # a catalog that refused the source manifest's S3 tags: the copy's tags are in its JSON too
        on_object = point.details.get("tags_on_object") is not False
        try:
            etag = put_doc_etag(
                catalog,
                catalog_bucket,
                key,
                doc,
                if_none_match=True,
                metadata=None if on_object else {META_TAGS_ON_OBJECT: "false"},
            )
        except ClientError as err:
            raise CaptureError(f"DR manifest {key}: {error_code(err)}: {err}") from err
        written = etag is not None
        if written:
            # a new object carries no S3 tags: its point is the header just written
            self._index_put(catalog, catalog_bucket, key, etag, manifest_header(doc), on_object)
            made = self._header_point(
                catalog,
                catalog_bucket,
                key,
                dest_region,
                json.loads(json.dumps(manifest_header(doc))),
                read_tags=False,
            )
        else:
            made = self._header_point(catalog, catalog_bucket, key, dest_region)
        if made is None:
            why = (
                "exists and is not a managed point"
                if not written
                else f"does not make a managed point ({tags})"
            )
            raise CaptureError(f"DR manifest {key} {why}")
        made.details["copied"] = copied
        return made

    # --- tags / delete ----------------------------------------------------------------------------

    def set_tags(self, ctx: AwsContext, point: RecoveryPoint, tags: dict[str, str]) -> None:
        """Object tags on the manifest where S3 takes them, else the manifest JSON's ``tags``."""
        catalog, catalog_bucket = self._catalog(ctx, point.region)
        key = point.point_id
        current: dict[str, str] = {}
        try:
            current = tag_dict(catalog.get_object_tagging(Bucket=catalog_bucket, Key=key).get("TagSet"))
            catalog.put_object_tagging(
                Bucket=catalog_bucket, Key=key, Tagging={"TagSet": tag_list({**current, **tags})}
            )
            self._index_tags_on_object(catalog, catalog_bucket, key)
            return
        except ClientError as err:
            if error_code(err) in _NOT_FOUND:
                raise CaptureError(f"manifest {key} not found") from err
            # moto: InvalidTag for "aws*" keys; AWS: BadRequest above 10 tags per object
            if error_code(err) not in ("InvalidTag", "InvalidTagError", "BadRequest"):
                raise
        for _ in range(10):
            response = catalog.get_object(Bucket=catalog_bucket, Key=key)
            body = response["Body"]
            try:
                doc = json.loads(body.read())
            finally:
                body.close()
            objects = doc.pop("objects", [])
            doc["tags"] = {**(doc.get("tags") or {}), **tags}
            doc["objects"] = objects  # keep "objects" last: headers are read by range
            etag = put_doc_etag(
                catalog,
                catalog_bucket,
                key,
                doc,
                if_match=response["ETag"],
                metadata=response.get("Metadata"),
            )
            if etag is not None:
                # S3 tags the object still has (refused ones are in the JSON now) are read on listing
                refused = (response.get("Metadata") or {}).get(META_TAGS_ON_OBJECT) == "false"
                on_object = True if current else (False if refused else None)
                self._index_put(catalog, catalog_bucket, key, etag, manifest_header(doc), on_object)
                return
        raise CaptureError(f"manifest {key} kept changing: tags not set")

    def _index_tags_on_object(self, catalog: Any, catalog_bucket: str, key: str) -> None:
        """The manifest object now has S3 tags: listings read them (index entry marked)."""

        def mark(entries: dict[str, dict[str, Any]]) -> None:
            entry = entries.get(key)
            if isinstance(entry, dict) and entry.get("object_tags") is False:
                entries[key] = {**entry, "object_tags": True}

        update_point_index(catalog, catalog_bucket, point_index_key(key), change=mark)

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete manifests (primary points and DR copies); object data is never deleted here.

        DR bucket versions no remaining manifest names go later (:meth:`unreferenced_data`).
        """
        catalog, catalog_bucket = self._catalog(ctx, region)
        return _delete_manifests(catalog, catalog_bucket, points, all_versions=False, indexed=True)

    # --- data no point names any more (retention) --------------------------------------------------

    def _dr_manifests(self, catalog: Any, catalog_bucket: str, region: str) -> dict[str, list[str]]:
        """Source bucket -> its DR manifest keys in ``region`` (every plan; buckets with only an index too)."""
        prefix = copies_prefix(KIND, region)
        keys = list_keys(catalog, catalog_bucket, prefix)
        out: dict[str, list[str]] = {}
        for key in keys:
            rest = key[len(prefix) :].split("/")
            if len(rest) == 2 and rest[1] == "index.json":
                out.setdefault(rest[0], [])
        for key in _listing_keys(keys, prefix, 3):
            out.setdefault(key.split("/")[4], []).append(key)
        return out

    def unreferenced_data(
        self, ctx: AwsContext, region: str, *, vault_ctx: AwsContext | None = None
    ) -> list[tuple[str, list[dict[str, str]]]]:
        """Copied versions (DR buckets, or the vault's with ``vault_ctx``) that nothing keeps.

        Kept: every version a manifest names (managed or not, held or not: a manifest retention
        keeps keeps its data), every version whose origin a copy still to be made would reuse
        (a point without its copy in this region, read from its manifest), versions under legal
        hold, and anything this product did not copy (no ``awsdr-source-version-id``).
        """
        catalog, catalog_bucket = self._catalog(ctx, region)
        dr = self._dr_manifests(catalog, catalog_bucket, region)
        if vault_ctx is None:
            s3 = ctx.client("s3", region)
            primary = list_keys(catalog, catalog_bucket, _PRIMARY)
            copies_of = {k[len(copies_prefix(KIND, region)) :] for keys in dr.values() for k in keys}
            pending = [k for k in _listing_keys(primary, _PRIMARY, 3) if k[len(_PRIMARY) :] not in copies_of]
            holders = {b: (keys, catalog, catalog_bucket) for b, keys in dr.items()}
            index_of = {b: dr_index_key(region, b) for b in dr}
            index_in = (catalog, catalog_bucket)
        else:
            s3 = vault_ctx.client("s3", region)
            vault_catalog = vault_bucket_name(self._catalog_name(), region)
            try:
                vault_keys = list_keys(s3, vault_catalog, _PRIMARY)
            except ClientError as err:
                if error_code(err) in _NO_BUCKET:
                    return []
                raise
            vaulted = _listing_keys(vault_keys, _PRIMARY, 3)
            have = {k[len(_PRIMARY) :] for k in vaulted}
            pending = [
                k for keys in dr.values() for k in keys if k[len(copies_prefix(KIND, region)) :] not in have
            ]
            by_bucket: dict[str, list[str]] = {}
            for k in vaulted:
                by_bucket.setdefault(k.split("/")[3], []).append(k)
            for k in vault_keys:
                if k.startswith(VAULT_INDEX_PREFIX) and k.endswith(".json"):
                    by_bucket.setdefault(k[len(VAULT_INDEX_PREFIX) : -len(".json")], [])
            holders = {b: (keys, s3, vault_catalog) for b, keys in by_bucket.items()}
            index_of = {b: vault_index_key(b) for b in by_bucket}
            index_in = (s3, vault_catalog)
        origins: dict[str, set[str]] = {}
        for key in pending:
            source = key.split("/")[-2]
            if source not in holders:
                continue
            doc, _ = get_doc(catalog, catalog_bucket, key)
            origins.setdefault(source, set()).update(
                str(o["version_id"]) for o in (doc or {}).get("objects", [])
            )
        out: list[tuple[str, list[dict[str, str]]]] = []
        for source, (keys, reader, reader_bucket) in sorted(holders.items()):
            index_doc, _ = get_doc(index_in[0], index_in[1], index_of[source])
            data_bucket = (index_doc or {}).get("dr_bucket")
            keep: set[str] = set()
            for key in keys:
                doc, _ = get_doc(reader, reader_bucket, key)
                if doc is None:
                    continue
                data_bucket = data_bucket or doc.get("vault_bucket") or doc.get("dr_bucket")
                field_name = "vault_version_id" if vault_ctx is not None else "dr_version_id"
                keep.update(str(o[field_name]) for o in doc.get("objects", []) if o.get(field_name))
            if not data_bucket:
                continue
            try:
                doomed = copied_versions_outside(s3, data_bucket, keep, origins.get(source, set()))
            except ClientError as err:
                if error_code(err) in _NO_BUCKET:
                    continue
                raise
            if doomed:
                out.append((data_bucket, doomed))
        return out

    def delete_data(
        self,
        ctx: AwsContext,
        region: str,
        bucket: str,
        items: list[dict[str, str]],
        *,
        vault_ctx: AwsContext | None = None,
    ) -> dict[str, str]:
        """Delete copied versions of ``bucket`` (re-checked: ours, not held) and drop them from its index."""
        s3 = (vault_ctx or ctx).client("s3", region)
        outcomes = delete_copied_versions(s3, bucket, items)
        gone = {i["VersionId"] for i in items if outcomes.get(version_id_of(i)) in (DELETED, ABSENT)}
        if not gone:
            return outcomes
        if vault_ctx is None:
            index_in, index_bucket = self._catalog(ctx, region)
            prefix = copies_prefix(KIND, region)
            index_keys = [
                k
                for k in list_keys(index_in, index_bucket, prefix)
                if k.endswith("/index.json") and k.count("/") == prefix.count("/") + 1
            ]
        else:
            index_in, index_bucket = s3, vault_bucket_name(self._catalog_name(), region)
            index_keys = [
                k for k in list_keys(index_in, index_bucket, VAULT_INDEX_PREFIX) if k.endswith(".json")
            ]
        for key in index_keys:
            doc, _ = get_doc(index_in, index_bucket, key)
            if doc is None or doc.get("dr_bucket") != bucket:
                continue
            stale = {k for k, v in doc.get("versions", {}).items() if v in gone}
            if stale:
                self._save_index(index_in, index_bucket, key, str(doc.get("bucket")), bucket, {}, drop=stale)
        return outcomes

    def prune_dr(self, ctx: AwsContext, region: str, bucket: str) -> list[dict[str, str]]:
        """Remove ``bucket``'s DR versions in ``region`` that nothing keeps (see
        :meth:`unreferenced_data`), unaudited; retention goes through the audited path instead."""
        catalog, catalog_bucket = self._catalog(ctx, region)
        index_doc, _ = get_doc(catalog, catalog_bucket, dr_index_key(region, bucket))
        pruned: list[dict[str, str]] = []
        for data_bucket, items in self.unreferenced_data(ctx, region):
            if data_bucket != (index_doc or {}).get("dr_bucket", dr_bucket_name(bucket, region)):
                continue
            outcomes = self.delete_data(ctx, region, data_bucket, items)
            pruned += [i for i in items if outcomes[version_id_of(i)] == DELETED]
        return pruned

    # --- vault: the DR copy's versions copied into the vault account ----------------------------

    def _catalog_name(self) -> str:
        if not self.catalog_bucket:
            raise ValueError("S3Kind.catalog_bucket is not set: no vault bucket name")
        return self.catalog_bucket

    def share(self, ctx: AwsContext, point: RecoveryPoint, account_id: str) -> None:
        """Let ``account_id`` read the DR copy's bucket (bucket policy) and decrypt it (KMS grant)."""
        if not point.point_id.startswith(_COPIES):
            raise CaptureError(f"{point.point_id} is not a DR copy: only DR copies are shared with the vault")
        catalog, catalog_bucket = self._catalog(ctx, point.region)
        header = read_header(catalog, catalog_bucket, point.point_id)
        if header is None or not header.get("dr_bucket"):
            raise CaptureError(f"DR manifest {point.point_id} not found: nothing to share")
        grant_vault_read(ctx, point.region, header["dr_bucket"], account_id, header.get("kms_key_id"))

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
        """Copy every version the DR manifest names into ``<bucket>-vault-<region>`` in the vault
        account (SSE-KMS with the vault's key; the copy is made by the vault role, reading the DR
        bucket through :meth:`share`), then write the vault manifest in the vault bucket.

        Idempotent like :meth:`copy`: versions already in the vault (its index, confirmed by one
        listing) are not copied again, and an existing vault manifest is returned.
        """
        if not point.point_id.startswith(copies_prefix(KIND, region)):
            raise CaptureError(
                f"{point.point_id} is not a DR copy in {region}: only DR copies go to the vault"
            )
        catalog, catalog_bucket = self._catalog(ctx, region)
        vs3 = vault_ctx.client("s3", region)
        vault_catalog = vault_bucket_name(self._catalog_name(), region)
        key = vault_manifest_key(region, point.point_id)
        try:
            done = self._header_point(vs3, vault_catalog, key, region)
        except ClientError as err:
            if error_code(err) not in _NO_BUCKET:
                raise CaptureError(f"vault manifest {key}: {error_code(err)}: {err}") from err
            done = None
        if done is not None:
            return done
        try:
            manifest, _ = get_doc(catalog, catalog_bucket, point.point_id)
        except ClientError as err:
            raise CaptureError(f"DR manifest {point.point_id}: {error_code(err)}: {err}") from err
        if manifest is None or not manifest.get("dr_bucket"):
            raise CaptureError(f"DR manifest {point.point_id} not found in {catalog_bucket}")
        bucket, dr_bucket = str(manifest["bucket"]), str(manifest["dr_bucket"])
        kms_arn = resolve_kms_key(vault_ctx, region, kms_key_id)
        data_bucket = vault_data_bucket_name(bucket, region)
        for name, btags in (
            (vault_catalog, {"awsdr:vault": "true"}),
            (data_bucket, {"awsdr:vault-of": bucket}),
        ):
            ensure_bucket(vs3, name, region, kms_key_arn=kms_arn, tags=btags, ready=self._ready)
        self.share(ctx, point, account_id)
        index_key = vault_index_key(bucket)
        try:
            index_doc, _ = get_doc(vs3, vault_catalog, index_key)
            versions, _markers = list_versions(vs3, data_bucket)
        except ClientError as err:
            raise CaptureError(f"{error_code(err)}: {err}") from err
        index = (
            (index_doc or {}).get("versions", {}) if (index_doc or {}).get("dr_bucket") == data_bucket else {}
        )
        present = {(v["Key"], v["VersionId"]) for v in versions}
        entries: list[dict[str, Any]] = list(manifest.get("objects", []))
        placed = {
            index_key_of(e): index[index_key_of(e)]
            for e in entries
            if index.get(index_key_of(e)) and (e["key"], index[index_key_of(e)]) in present
        }

        def _copy(e: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
            try:
                vid = copy_version(
                    vs3,
                    vs3,
                    dr_bucket,
                    e["key"],
                    str(e["dr_version_id"]),
                    data_bucket,
                    kms_arn,
                    origin_version=str(e["version_id"]),
                    origin_etag=str(e.get("etag", "")),
                    copy_limit=self.copy_limit,
                    part_size=self.part_size,
                )
                return e, vid, None
            except ArchivedVersion as arch:
                # the DR bucket's archive rule moved it: restored by the DR account, which owns it
                return e, None, _archived_problem(ctx.client("s3", region), arch, archived)
            except ClientError as err:
                if error_code(err) in ARCHIVED_CODES:
                    gone = ArchivedVersion(dr_bucket, e["key"], str(e["dr_version_id"]), "GLACIER", ARCHIVED)
                    return e, None, _archived_problem(ctx.client("s3", region), gone, archived)
                return e, None, f"{e['key']}: {error_code(err)} {err}"

        todo = [e for e in entries if index_key_of(e) not in placed]
        archived: list[str] = []
        errors: list[str] = []
        if todo:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(todo))) as pool:
                for e, vid, problem in pool.map(_copy, todo):
                    if vid:
                        placed[index_key_of(e)] = vid
                    elif problem:
                        errors.append(problem)
        if placed:
            self._save_index(vs3, vault_catalog, index_key, bucket, data_bucket, placed)
        _raise_unplaced(errors, archived, len(entries), f"the vault bucket {data_bucket}")
        doc = {
            "schema": MANIFEST_SCHEMA,
            "kind": "s3-vault",
            "bucket": bucket,
            "vault_bucket": data_bucket,
            "dr_bucket": dr_bucket,
            "account_id": account_id,
            "region": region,
            "source_manifest": point.point_id,
            "plan": point.plan,
            "window": format_window(point.window),
            "captured_at": manifest.get("captured_at"),
            "copied_at": format_window(datetime.now(UTC)),
            "object_count": len(entries),
            "total_bytes": sum(int(e.get("size", 0)) for e in entries),
            "digest": manifest.get("digest") or manifest_digest(entries),
            "kms_key_id": kms_arn,
            "tags": dict(tags),
            "objects": [
                {
                    k: v
                    for k, v in {**e, "vault_version_id": placed[index_key_of(e)]}.items()
                    if k != "dr_version_id"
                }
                for e in entries
            ],
        }
        try:
            written = put_doc(vs3, vault_catalog, key, doc, if_none_match=True)
        except ClientError as err:
            raise CaptureError(f"vault manifest {key}: {error_code(err)}: {err}") from err
        made = self._header_point(vs3, vault_catalog, key, region)
        if made is None:
            why = (
                "exists and is not a managed point"
                if not written
                else f"does not make a managed point ({tags})"
            )
            raise CaptureError(f"vault manifest {key} {why}")
        return made

    def vault_points(
        self, vault_ctx: AwsContext, region: str, plan: str | None = None
    ) -> list[RecoveryPoint]:
        """The vault manifests in ``<catalog bucket>-vault-<region>`` (managed ones only)."""
        vs3 = vault_ctx.client("s3", region)
        vault_catalog = vault_bucket_name(self._catalog_name(), region)
        prefix = points_prefix(KIND, plan)
        try:
            keys = _listing_keys(list_keys(vs3, vault_catalog, prefix), prefix, 2 if plan else 3)
        except ClientError as err:
            if error_code(err) in _NO_BUCKET:
                return []
            raise
        if not keys:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(keys))) as pool:
            found = pool.map(lambda k: self._header_point(vs3, vault_catalog, k, region), keys)
            return [p for p in found if p is not None and (plan is None or p.plan == plan)]

    def vault_delete(self, vault_ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete vault manifests (every version of each; tags re-read first). Their object versions
        go afterwards, when no remaining vault manifest names them (:meth:`unreferenced_data`)."""
        vs3 = vault_ctx.client("s3", region)
        return _delete_manifests(
            vs3, vault_bucket_name(self._catalog_name(), region), points, all_versions=True
        )

    # --- archive tier ------------------------------------------------------------------------------

    #: retention keeps the ``awsdr-archive`` lifecycle rule of each DR bucket as the plan says
    #: (:func:`awsdr.retention.execute_archive_rules`), not an archive call per point
    supports_archive_rules = True

    def apply_archive_rule(
        self,
        ctx: AwsContext,
        region: str,
        bucket: str,
        days: int | None,
        storage_class: str,
        *,
        dry_run: bool = False,
    ) -> str:
        """:func:`apply_archive_rule` on the DR bucket ``bucket`` in ``region``."""
        return apply_archive_rule(ctx.client("s3", region), bucket, days, storage_class, dry_run=dry_run)

    # --- restore / validate / cleanup --------------------------------------------------------------

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        """Nothing is created: the restored resource is the bucket holding the point's versions.

        The DR bucket for a copy, the protected bucket itself for a primary point. ``name`` and
        ``tags`` are not used (no resource is made, so there is nothing to clean up).
        """
        catalog, catalog_bucket = self._catalog(ctx, point.region)
        try:
            header = read_header(catalog, catalog_bucket, point.point_id)
        except ClientError as err:
            raise CaptureError(f"manifest {point.point_id}: {error_code(err)}: {err}") from err
        if header is None:
            raise CaptureError(f"manifest {point.point_id} not found in {catalog_bucket}")
        holder = header.get("dr_bucket") or header.get("bucket") or point.source_id
        started = datetime.now(UTC)
        restoring = self._restore_archived(
            ctx, catalog, catalog_bucket, point, holder, is_copy="dr_bucket" in header
        )
        return Restored(
            kind=self.name,
            resource_id=holder,
            region=point.region,
            point_id=point.point_id,
            status=CREATING if restoring else AVAILABLE,
            started_at=started,
            details={
                "bucket": holder,
                "manifest_key": point.point_id,
                "created": False,
                **({"restoring": restoring, "archived_versions": len(restoring)} if restoring else {}),
            },
        )

    def _restore_archived(
        self,
        ctx: AwsContext,
        catalog: Any,
        catalog_bucket: str,
        point: RecoveryPoint,
        bucket: str,
        *,
        is_copy: bool,
    ) -> list[list[str]]:
        """The point's versions in ``bucket`` that are archived (GLACIER, DEEP_ARCHIVE) and not yet
        readable, each with its restore requested: ``[[key, version id], ...]``. One version
        listing, then a HEAD only of the archived ones (the listing has no restore state)."""
        s3 = ctx.client("s3", point.region)
        try:
            versions, _ = list_versions(s3, bucket)
        except ClientError as err:
            if error_code(err) in _NO_BUCKET:
                return []
            raise
        archived = {(v["Key"], v["VersionId"]) for v in versions if v.get("StorageClass") in NEEDS_RESTORE}
        if not archived:
            return []
        manifest, _ = get_doc(catalog, catalog_bucket, point.point_id)
        wanted = [
            (str(e["key"]), str(e.get("dr_version_id") if is_copy else e["version_id"]))
            for e in (manifest or {}).get("objects", [])
        ]
        todo = [kv for kv in wanted if kv in archived]

        def _one(kv: tuple[str, str]) -> list[str] | None:
            head = s3.head_object(Bucket=bucket, Key=kv[0], VersionId=kv[1])
            state = read_state(head)
            if state == READABLE:
                return None
            if state == ARCHIVED:
                request_restore(s3, bucket, kv[0], kv[1])
            return [kv[0], kv[1]]

        if not todo:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(todo))) as pool:
            pending = [r for r in pool.map(_one, todo) if r is not None]
        if pending:
            log.info(
                "%s: %d archived versions in %s, restore requested", point.point_id, len(pending), bucket
            )
        return pending

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        if not items:
            return items
        s3 = ctx.client("s3", region)

        def _one(item: Restored) -> None:
            try:
                s3.head_bucket(Bucket=item.resource_id)
                item.status = AVAILABLE
            except ClientError as err:
                if error_code(err) not in _NO_BUCKET:
                    raise
                item.status = MISSING
                return
            pending = []
            for key, version in item.details.get("restoring") or []:
                try:
                    head = s3.head_object(Bucket=item.resource_id, Key=key, VersionId=version)
                except ClientError as err:
                    if error_code(err) in (*_NOT_FOUND, "NoSuchVersion"):
                        continue  # gone: validate reports it missing
                    raise
                if read_state(head) != READABLE:
                    pending.append([key, version])
            if item.details.get("restoring"):
                item.details["restoring"] = pending
                if pending:
                    item.status = CREATING

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            list(pool.map(_one, items))
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        """Every version the manifest names is in the bucket with its size (one version listing).

        For a DR copy a version counts when it is the one the DR manifest or the index names, a
        replica (same version id), or (HEAD, only then) a version of the key whose
        ``awsdr-source-version-id`` metadata names it.
        """
        catalog, catalog_bucket = self._catalog(ctx, restored.region)
        try:
            manifest, _ = get_doc(catalog, catalog_bucket, restored.point_id)
        except ClientError as err:
            return [f"manifest {restored.point_id} unreadable: {error_code(err)}"]
        if manifest is None:
            return [f"manifest {restored.point_id} not found in {catalog_bucket}"]
        problems: list[str] = []
        details = expected.get("details") or {}
        if details.get("digest") and manifest.get("digest") != details["digest"]:
            problems.append("manifest digest differs from the captured one")
        if (
            details.get("object_count") is not None
            and manifest.get("object_count") != details["object_count"]
        ):
            problems.append(
                f"object count {manifest.get('object_count')} != captured {details['object_count']}"
            )
        bucket = restored.resource_id
        s3 = ctx.client("s3", restored.region)
        try:
            versions, _ = list_versions(s3, bucket)
        except ClientError as err:
            return [*problems, f"bucket {bucket}: {error_code(err)}"]
        sizes = {(v["Key"], v["VersionId"]): int(v.get("Size", 0)) for v in versions}
        by_key: dict[str, list[str]] = {}
        for v in versions:
            by_key.setdefault(v["Key"], []).append(v["VersionId"])
        is_copy = "dr_bucket" in manifest
        index: dict[str, str] = {}
        if is_copy:
            index_doc, _ = get_doc(catalog, catalog_bucket, dr_index_key(restored.region, manifest["bucket"]))
            index = (index_doc or {}).get("versions") or {}

        def _find(e: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
            key, vid = e["key"], str(e["version_id"])
            candidates = [e.get("dr_version_id"), index.get(index_key_of(e))] if is_copy else []
            if vid != "null" or not is_copy:
                candidates.append(vid)
            for c in candidates:
                if c and (key, c) in sizes:
                    return e, c
            if not is_copy:
                return e, None
            for other in by_key.get(key, []):
                try:
                    head = s3.head_object(Bucket=bucket, Key=key, VersionId=other)
                except ClientError:
                    continue
                if (head.get("Metadata") or {}).get(META_SOURCE_VERSION) == vid:
                    return e, other
            return e, None

        entries = manifest.get("objects", [])
        missing: list[str] = []
        if entries:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(entries))) as pool:
                for e, found in pool.map(_find, entries):
                    if found is None:
                        missing.append(e["key"])
                    elif sizes[(e["key"], found)] != int(e.get("size", 0)):
                        problems.append(
                            f"size differs for {e['key']}: {sizes[(e['key'], found)]} bytes in {bucket}, "
                            f"{e.get('size')} captured"
                        )
        if missing:
            noun = "version" if len(missing) == 1 else "versions"
            problems.append(f"{len(missing)} object {noun} missing in {bucket}: {_few(sorted(missing))}")
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
        """S3 restores create nothing, so there is nothing to clean up."""
        return []
