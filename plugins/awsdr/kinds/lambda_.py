"""Lambda functions: recovery point = the code package in a DR bucket + a configuration document.

Discovery: the Resource Groups Tagging API (``lambda:function``), then GetFunction per function
(pool of 8). Resource.meta records runtime, handler, memory, timeout, architectures, layer ARNs,
role, package type, code sha256 and size, and the *names* of the environment variables, never
their values (they are often secrets).

**What a point holds, and "as of the window".** Lambda keeps no history of ``$LATEST``: a capture
records the function's ``$LATEST`` configuration and code *as they are when the capture runs*,
not as they were at the window. The document says so: ``captured_at`` (and ``as_of``, equal to
it) is when GetFunction answered, ``last_modified`` is the function's LastModified, and
``modified_after_window`` is true when the function was changed after the window (a late capture
then holds a newer state than the window's; the ``awsdr:late`` tag marks late captures).

**Capture** (:meth:`LambdaKind.capture`): GetFunction, then the code is stored in the DR bucket of
the catalog region, ``<catalog bucket>-lambda-<region>`` (made on demand: versioning, SSE-KMS with
that region's DR key from :attr:`LambdaKind.kms_keys`, public access blocked), under the content
address ``lambda/<function>/<sha256 hex>.zip``, written only if absent (If-None-Match): the same
code across windows is downloaded and stored once. The download (:func:`download_code`, the
presigned ``Code.Location``) is checked against ``CodeSha256`` (base64 of the sha256) before it is
stored, and S3 checks it again (``ChecksumSHA256``). The configuration goes into the catalog
document ``points/lambda/<plan>/<function>/<window stamp>.json`` (If-None-Match: an existing one
is returned, never rewritten) with the point's tags. Image functions (``PackageType: Image``)
are not captured: their code is a container image, protected by the ``ecr`` type; the capture
raises a :class:`CaptureError` naming the image URI.

**Copy** (:meth:`LambdaKind.copy`): the code object is made present in ``dest_region``'s DR bucket
(CopyObject from the capture's bucket when that is another region's; nothing to copy for the
catalog region), checked with HeadObject (sha256 metadata, S3 checksum), then the DR document
``points/lambda-dr/<region>/<plan>/<function>/<window stamp>.json`` is written once with the
copy's tags (``awsdr:copy-of``). Points are synchronous: ``available`` as soon as written.

**Retention** deletes documents only (tags re-read, ``awsdr:managed=true`` and no
``awsdr:legal-hold``). Code objects no remaining document names (held or not) go afterwards
through :meth:`LambdaKind.unreferenced_data` / :meth:`LambdaKind.delete_data`: only objects of
our code buckets carrying our sha256 metadata, older than :attr:`LambdaKind.prune_grace` (a
capture in flight stores its code before its document), not under an S3 legal hold.

**Restore** (:meth:`LambdaKind.restore`): CreateFunction from the stored zip (the code bucket must
be in the restore region, so a DR copy is restored, not a primary point), with the recorded
runtime, handler, memory, timeout, architectures, role, ephemeral storage, tracing mode and the
layers whose ARN is in the restore region (others are left off and reported). Environment
variables: values come from the ``environment`` mapping the caller passes; a recorded name
without a value is created with an empty value, listed in ``details["environment_unset"]``,
and :meth:`LambdaKind.validate` reports it. VPC settings, the environment's KMS key and
reserved concurrency are region- or account-specific and not applied (recorded in the document).

Throttling and quota errors (:data:`PROPAGATE`) are raised as the botocore ClientError; other
per-function failures are :class:`CaptureError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code, jsonable
from awsdr.aws.idempotent import THROTTLING_CODES
from awsdr.catalog import copies_prefix, dr_point_doc_key, point_doc_key, point_index_key, points_prefix
from awsdr.copies import QUOTA_ERROR_CODES
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
    point_from_tags,
    tag_selected,
)
from awsdr.kinds.s3 import (
    DELETE_BATCH,
    deletable,
    drop_from_indexes,
    ensure_bucket,
    get_doc,
    held,
    index_entries,
    indexed_listing,
    list_versions,
    make_bucket_name,
    put_doc_etag,
    resolve_kms_key,
    update_point_index,
    version_id_of,
)
from awsdr.windows import (
    LAMBDA_NAME,
    TAG_CAPTURED_AT,
    format_window,
    parse_window,
    to_utc,
    window_stamp,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

DOC_SCHEMA = 1
#: Object metadata on every code object this product stores (base64 sha256, as Lambda reports it).
META_CODE_SHA = "awsdr-code-sha256"
META_FUNCTION = "awsdr-function"
#: Most concurrent per-function / per-object calls.
WORKERS = 8
#: Largest code package downloaded (Lambda: 250 MB unzipped; a zip is smaller).
MAX_CODE_BYTES = 256 * 1024**2
#: The payload of the verification invoke.
VERIFY_PAYLOAD = {"awsdr": "verify"}
#: Errors raised as they are (the caller backs off and retries): throttling and quotas.
PROPAGATE = THROTTLING_CODES | QUOTA_ERROR_CODES | {"ServiceQuotaExceededException"}
_GONE = ("ResourceNotFoundException", "404")
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")
_STATES = {"Pending": CREATING, "Active": AVAILABLE, "Inactive": AVAILABLE, "Failed": FAILED}
_PRIMARY, _COPIES = points_prefix("lambda"), copies_prefix("lambda")


def download_code(url: str) -> bytes:
    """The code package behind GetFunction's presigned ``Code.Location`` (bounded).

    The one network call outside the AWS SDK. HTTPS only, except an emulator's plain-HTTP URL on a
    loopback host (scripts/moto_server.py serves the zip there; moto's own location is unreachable).
    """
    parsed = urlparse(url)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise CaptureError(f"code location is not an HTTPS URL: {url[:60]}")
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (scheme checked)
        data: bytes = response.read(MAX_CODE_BYTES + 1)
    if len(data) > MAX_CODE_BYTES:
        raise CaptureError(f"code package larger than {MAX_CODE_BYTES} bytes")
    return data


def doc_key(plan: str, function: str, window: datetime) -> str:
    """``points/lambda/<plan>/<function>/<window stamp>.json``: a capture's document."""
    return point_doc_key("lambda", plan, function, window)


def copy_doc_key(region: str, plan: str, function: str, window: datetime) -> str:
    """``points/lambda-dr/<region>/<plan>/<function>/<window stamp>.json``: a DR copy's document."""
    return dr_point_doc_key("lambda", region, plan, function, window)


def sha256_hex(code_sha256: str) -> str:
    """Lambda's ``CodeSha256`` (base64 of the digest) as hex; ValueError when it is not one."""
    try:
        raw = base64.b64decode(code_sha256, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"not a base64 sha256: {code_sha256!r}") from err
    if len(raw) != 32:
        raise ValueError(f"not a base64 sha256: {code_sha256!r}")
    return raw.hex()


def code_key(function: str, code_sha256: str) -> str:
    """``lambda/<function>/<sha256 hex>.zip``: the content address of a code package."""
    return f"lambda/{function}/{sha256_hex(code_sha256)}.zip"


def function_name_of(arn: str) -> str:
    """``fn`` from ``arn:aws:lambda:<region>:<account>:function:fn[:qualifier]`` (a name stays a name)."""
    parts = arn.split(":")
    return parts[6] if len(parts) >= 7 and parts[5] == "function" else arn


def _iso(value: Any) -> Any:
    return format_window(value) if isinstance(value, datetime) else value


def _is_doc_key(key: str, prefix: str, depth: int = 3) -> bool:
    """A point document ``depth`` path segments under ``prefix``, ending ``.json`` (not an index).

    ``points/lambda/`` + ``<plan>/<function>/<stamp>.json`` is depth 3; with the plan in the
    prefix, 2; ``points/lambda-dr/`` + ``<region>/<plan>/<function>/<stamp>.json``, 4.
    """
    if not key.startswith(prefix):
        return False
    rest = key[len(prefix) :].split("/")
    return len(rest) == depth and rest[-1].endswith(".json") and rest[-1] != "index.json"


def _region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[0] == "arn" else None


def _last_modified(value: Any) -> datetime | None:
    """Lambda's LastModified (``2026-11-24T10:00:00.000+0000``) as a datetime; None if unreadable."""
    if not value:
        return None
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def configuration_facts(config: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe facts of a function configuration (environment variable names only)."""
    env = (config.get("Environment") or {}).get("Variables") or {}
    vpc = config.get("VpcConfig") or {}
    return jsonable(
        {
            "function_name": config.get("FunctionName"),
            "function_arn": config.get("FunctionArn"),
            "runtime": config.get("Runtime"),
            "handler": config.get("Handler"),
            "memory_size": config.get("MemorySize"),
            "timeout": config.get("Timeout"),
            "architectures": list(config.get("Architectures") or ["x86_64"]),
            "layers": [layer["Arn"] for layer in config.get("Layers") or []],
            "role": config.get("Role"),
            "package_type": config.get("PackageType") or "Zip",
            "code_sha256": config.get("CodeSha256"),
            "code_size": config.get("CodeSize"),
            "environment_names": sorted(env),
            "description": config.get("Description") or "",
            "ephemeral_storage": (config.get("EphemeralStorage") or {}).get("Size"),
            "tracing_mode": (config.get("TracingConfig") or {}).get("Mode"),
            "kms_key_arn": config.get("KMSKeyArn"),
            "vpc": {
                "subnet_ids": list(vpc.get("SubnetIds") or []),
                "security_group_ids": list(vpc.get("SecurityGroupIds") or []),
            }
            if vpc.get("SubnetIds")
            else None,
            "last_modified": config.get("LastModified"),
            "state": config.get("State"),
            "version": config.get("Version"),
        },
        _iso,
    )


def _propagate(err: ClientError) -> bool:
    return error_code(err) in PROPAGATE


def _fail(err: ClientError, what: str) -> CaptureError:
    """The CaptureError for ``err``, or ``err`` itself raised when it is throttling or a quota."""
    if _propagate(err):
        raise err
    return CaptureError(f"{what}: {error_code(err)}: {err}")


class LambdaKind(Kind):
    """Lambda functions (zip packages): code in a DR bucket, configuration in the catalog.

    :param catalog_bucket: where the documents go (set by ``kinds.kind_for``, like S3Kind's).
    :param catalog_region: the catalog bucket's region (the first DR region): captures store the
        code in that region's code bucket.
    :param kms_keys: DR region -> KMS key (alias, id or ARN) the code buckets are encrypted with
        (the policy's ``kms_keys``); the catalog region's is needed by :meth:`capture`.
    """

    name = "lambda"
    tagging_type = "lambda:function"

    def __init__(
        self,
        catalog_bucket: str | None = None,
        catalog_region: str | None = None,
        kms_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.catalog_bucket = catalog_bucket
        self.catalog_region = catalog_region
        self.kms_keys: dict[str, str] = dict(kms_keys or {})
        #: code objects younger than this are never pruned (a capture stores code, then its document)
        self.prune_grace = timedelta(hours=1)
        self._ready: set[str] = set()

    # --- catalog and code buckets -------------------------------------------------------------------

    def _catalog(self, ctx: AwsContext, region: str) -> tuple[Any, str]:
        if not self.catalog_bucket:
            raise ValueError("LambdaKind.catalog_bucket is not set: Lambda documents have nowhere to go")
        return ctx.client("s3", self.catalog_region or region), self.catalog_bucket

    def code_bucket(self, region: str) -> str:
        """The code bucket of ``region``: ``<catalog bucket>-lambda-<region>`` (<= 63 characters)."""
        if not self.catalog_bucket:
            raise ValueError("LambdaKind.catalog_bucket is not set: no code bucket name")
        return make_bucket_name(self.catalog_bucket, "lambda", region)

    def _ensure_code_bucket(self, ctx: AwsContext, region: str, kms_key_id: str) -> tuple[str, str]:
        """The code bucket of ``region``, made/configured if needed; returns (bucket, key ARN)."""
        kms_arn = resolve_kms_key(ctx, region, kms_key_id)
        bucket = self.code_bucket(region)
        ensure_bucket(
            ctx.client("s3", region),
            bucket,
            region,
            kms_key_arn=kms_arn,
            tags={"awsdr:lambda-code": "true"},
            ready=self._ready,
        )
        return bucket, kms_arn

    @staticmethod
    def _code_present(s3: Any, bucket: str, key: str, code_sha256: str) -> bool | None:
        """True: the object is there with this sha256; False: absent; None: there with another."""
        try:
            head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as err:
            if error_code(err) in _NOT_FOUND:
                return False
            raise
        meta = (head.get("Metadata") or {}).get(META_CODE_SHA)
        checksum = head.get("ChecksumSHA256")
        if meta != code_sha256 or (checksum and checksum != code_sha256):
            return None
        return True

    # --- documents ------------------------------------------------------------------------------------

    def _doc_point(self, key: str, doc: dict[str, Any], status: str = AVAILABLE) -> RecoveryPoint | None:
        """The point of a document; None when its tags do not make a managed point."""
        code = doc.get("code") or {}
        conf = doc.get("configuration") or {}
        when = doc.get("copied_at") or doc.get("captured_at")
        details = {
            "doc_key": key,
            "function": doc.get("function"),
            "function_arn": conf.get("function_arn"),
            "code_bucket": code.get("bucket"),
            "code_key": code.get("key"),
            "code_region": code.get("region"),
            "code_sha256": code.get("sha256"),
            "code_size": code.get("size"),
            "size_bytes": code.get("size"),
            "captured_at": doc.get("captured_at"),
            "as_of": doc.get("as_of"),
            "modified_after_window": doc.get("modified_after_window"),
            "configuration": conf,
        }
        if doc.get("source_point"):
            details["source_point"] = doc["source_point"]
            details["kms_key_id"] = doc.get("kms_key_id")
        point = point_from_tags(
            self.name,
            key,
            f"s3://{self.catalog_bucket}/{key}",
            str(doc.get("region") or ""),
            doc.get("tags") or {},
            status,
            created_at=parse_window(when) if when else None,
            details=details,
        )
        if point is not None:
            point.source_id = doc.get("function") or point.source_id
            point.plan = doc.get("plan") or point.plan
        return point

    def _read_docs(
        self, catalog: Any, bucket: str, prefix: str, depth: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """Every point document ``depth`` segments under ``prefix`` (:func:`_is_doc_key`): one
        listing, the folders' listing indexes, then the documents without a valid index entry
        themselves (pool of 8)."""
        listed = indexed_listing(catalog, bucket, prefix, lambda k: _is_doc_key(k, prefix, depth))
        docs: dict[str, dict[str, Any] | None] = {
            k: e["doc"] for k, e in listed if e is not None and isinstance(e.get("doc"), dict)
        }
        unread = [k for k, _ in listed if k not in docs]
        if unread:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(unread))) as pool:
                docs.update(
                    zip(unread, pool.map(lambda k: get_doc(catalog, bucket, k)[0], unread), strict=True)
                )
        return [(k, d) for k, _ in listed if (d := docs.get(k)) is not None]

    @staticmethod
    def _index_put(catalog: Any, bucket: str, key: str, etag: str | None, doc: dict[str, Any]) -> None:
        """Record a written document in its folder's listing index (best effort)."""
        if etag:
            entry = {"etag": etag.strip('"'), "doc": json.loads(json.dumps(doc))}
            update_point_index(catalog, bucket, point_index_key(key), put={key: entry})

    def _index_heal(self, catalog: Any, bucket: str, key: str, etag: str | None, doc: dict[str, Any]) -> None:
        """An existing document (a retried capture or copy) gets its index entry if it lacks one."""
        try:
            entries = index_entries(get_doc(catalog, bucket, point_index_key(key))[0])
        except (ClientError, ValueError) as err:
            log.warning("Listing index of %s not checked: %s", key, err)
            return
        if str((entries.get(key) or {}).get("etag") or "") != str(etag or "").strip('"'):
            self._index_put(catalog, bucket, key, etag, doc)

    def _existing(self, catalog: Any, bucket: str, key: str) -> RecoveryPoint | None:
        """The point of an already written document (healing its index entry), or None."""
        try:
            doc, etag = get_doc(catalog, bucket, key)
        except ClientError as err:
            raise _fail(err, f"document {key}") from err
        if doc is None:
            return None
        self._index_heal(catalog, bucket, key, etag, doc)
        point = self._doc_point(key, doc)
        if point is None:
            raise CaptureError(f"document {key} exists and is not a managed point")
        return point

    def _write_doc(self, catalog: Any, bucket: str, key: str, doc: dict[str, Any]) -> RecoveryPoint:
        """Write ``doc`` once (If-None-Match); if another run wrote it first, theirs stands."""
        try:
            etag = put_doc_etag(catalog, bucket, key, doc, if_none_match=True)
            if etag is None:
                found = self._existing(catalog, bucket, key)
                if found is not None:
                    return found
                raise CaptureError(f"document {key}: conditional write refused and nothing there")
        except ClientError as err:
            raise _fail(err, f"document {key}") from err
        self._index_put(catalog, bucket, key, etag, doc)
        point = self._doc_point(key, doc)
        if point is None:
            raise CaptureError(f"document {key} does not make a managed point (tags {doc.get('tags')})")
        return point

    # --- discovery ------------------------------------------------------------------------------------

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        """One paginated ListFunctions (50 configurations a page) for all of ``arns``, not a
        GetFunction each; only an image function is looked up again (its image URI is only in
        GetFunction). Vanished ones are left out; tags come from the caller (the tagging API)."""
        if not arns:
            return []
        client = ctx.client("lambda", region)
        wanted = {function_name_of(arn): arn for arn in arns}
        configs: dict[str, dict[str, Any]] = {}
        for page in client.get_paginator("list_functions").paginate():
            for config in page.get("Functions", []):
                if config.get("FunctionName") in wanted:
                    configs[str(config["FunctionName"])] = config
        out: list[Resource] = []
        for name, config in configs.items():
            meta = configuration_facts(config)
            warnings: list[str] = []
            if meta["package_type"] == "Image":
                try:
                    code = client.get_function(FunctionName=name).get("Code") or {}
                except ClientError as err:
                    if error_code(err) in _GONE:
                        continue
                    raise
                meta["image_uri"] = code.get("ImageUri")
                warnings.append(
                    f"image function ({meta['image_uri']}): not captured here, its image is protected "
                    "by the ecr type"
                )
            if meta["environment_names"]:
                warnings.append(
                    "environment variable values are not captured (names only): a restore needs them supplied"
                )
            if meta["vpc"]:
                warnings.append(
                    "VPC configuration is recorded but not applied by a restore in another region"
                )
            if warnings:
                meta["warnings"] = warnings
            out.append(
                Resource(
                    kind=self.name,
                    id=name,
                    arn=str(config.get("FunctionArn") or wanted[name]),
                    region=region,
                    tags={},
                    meta=meta,
                )
            )
        return out

    # --- capture ----------------------------------------------------------------------------------------

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        """The documents of (plan, window) of functions in ``region``: one listing of the plan."""
        catalog, bucket = self._catalog(ctx, region)
        suffix = f"/{window_stamp(window)}.json"
        found: dict[str, RecoveryPoint] = {}
        for key, doc in self._read_docs(catalog, bucket, points_prefix(self.name, plan), 2):
            if not key.endswith(suffix) or doc.get("region") != region:
                continue
            point = self._doc_point(key, doc)
            if point is not None:
                found[point.source_id] = point
        return found

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        """Store the function's ``$LATEST`` code (once per content) and write its document (once).

        The point holds the configuration and code at capture time (see the module docstring:
        Lambda keeps no history of ``$LATEST``), with ``captured_at`` recorded.
        """
        catalog, catalog_bucket = self._catalog(ctx, resource.region)
        function = resource.id
        key = doc_key(plan, function, window)
        existing = self._existing(catalog, catalog_bucket, key)
        if existing is not None:
            return existing
        try:
            response = ctx.client("lambda", resource.region).get_function(FunctionName=function)
        except ClientError as err:
            if error_code(err) in _GONE:
                raise CaptureError(f"function {function} not found in {resource.region}") from err
            raise _fail(err, f"function {function}") from err
        captured_at = datetime.now(UTC)
        config = response["Configuration"]
        facts = configuration_facts(config)
        if facts["package_type"] == "Image":
            uri = (response.get("Code") or {}).get("ImageUri")
            raise CaptureError(
                f"function {function} is an image function ({uri}): its code is a container image, "
                "which the ecr type protects; the lambda type captures zip packages only"
            )
        sha = str(config.get("CodeSha256") or "")
        try:
            object_key = code_key(function, sha)
        except ValueError as err:
            raise CaptureError(f"function {function}: {err}") from err
        region = self.catalog_region or resource.region
        kms_key_id = self.kms_keys.get(region)
        if not kms_key_id:
            raise CaptureError(
                f"no DR KMS key for {region} (kms_keys): the code of {function} has nowhere to go"
            )
        bucket, kms_arn = self._ensure_code_bucket(ctx, region, kms_key_id)
        s3 = ctx.client("s3", region)
        try:
            present = self._code_present(s3, bucket, object_key, sha)
        except ClientError as err:
            raise _fail(err, f"code object s3://{bucket}/{object_key}") from err
        if present is None:
            raise CaptureError(f"s3://{bucket}/{object_key} exists with another sha256: not overwritten")
        stored = False
        if not present:
            location = str((response.get("Code") or {}).get("Location") or "")
            try:
                data = download_code(location)
            except CaptureError:
                raise
            except Exception as err:  # network: one function's failure, the others go on
                raise CaptureError(f"code of {function} not downloaded: {type(err).__name__}: {err}") from err
            got = base64.b64encode(hashlib.sha256(data).digest()).decode()
            if got != sha:
                raise CaptureError(
                    f"code of {function} downloaded with sha256 {got}, Lambda reports {sha}: not stored "
                    "(changed while downloading, or corrupted); retry the capture"
                )
            try:
                s3.put_object(
                    Bucket=bucket,
                    Key=object_key,
                    Body=data,
                    ContentType="application/zip",
                    ChecksumSHA256=sha,
                    Metadata={META_CODE_SHA: sha, META_FUNCTION: function},
                    ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=kms_arn,
                    BucketKeyEnabled=True,
                    IfNoneMatch="*",
                )
                stored = True
            except ClientError as err:
                if error_code(err) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise _fail(err, f"code object s3://{bucket}/{object_key}") from err
                if self._code_present(s3, bucket, object_key, sha) is not True:
                    raise CaptureError(
                        f"s3://{bucket}/{object_key} exists with another sha256: not overwritten"
                    ) from err
        recorded_at = parse_window(tags[TAG_CAPTURED_AT]) if TAG_CAPTURED_AT in tags else captured_at
        modified = _last_modified(config.get("LastModified"))
        doc = {
            "schema": DOC_SCHEMA,
            "kind": self.name,
            "function": function,
            "region": resource.region,
            "plan": plan,
            "window": format_window(window),
            "captured_at": format_window(recorded_at),
            "as_of": format_window(captured_at),
            "as_of_note": "Lambda keeps no history of $LATEST: the configuration and code at captured_at",
            "last_modified": config.get("LastModified"),
            "modified_after_window": bool(modified and modified > to_utc(window)),
            "configuration": facts,
            "code": {
                "bucket": bucket,
                "key": object_key,
                "region": region,
                "sha256": sha,
                "sha256_hex": sha256_hex(sha),
                "size": config.get("CodeSize"),
                "kms_key_id": kms_arn,
            },
            "tags": dict(tags),
        }
        point = self._write_doc(catalog, catalog_bucket, key, doc)
        point.details["code_stored"] = stored
        return point

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        """Per point (pool of 8): its document (gone: ``missing``) and its code object (HeadObject:
        absent or another sha256 is ``failed``)."""
        if not points:
            return points
        catalog, catalog_bucket = self._catalog(ctx, region)

        def _one(point: RecoveryPoint) -> None:
            doc, _ = get_doc(catalog, catalog_bucket, point.point_id)
            if doc is None:
                point.status = MISSING
                return
            code = doc.get("code") or {}
            s3 = ctx.client("s3", code.get("region") or region)
            try:
                present = self._code_present(
                    s3, code.get("bucket", ""), code.get("key", ""), code.get("sha256", "")
                )
            except ClientError as err:
                if error_code(err) not in _NO_BUCKET:
                    raise
                present = False
            if present:
                point.status, point.error = AVAILABLE, None
            else:
                point.status = FAILED
                state = "absent" if present is False else "there with another sha256"
                point.error = f"code object s3://{code.get('bucket')}/{code.get('key')} {state}"

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(points))) as pool:
            list(pool.map(_one, points))
        return points

    # --- listing ------------------------------------------------------------------------------------------

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        """Documents in the catalog: captures of functions in ``region`` and DR copies held there.

        One listing per prefix plus the folders' indexes; status ``available`` (a document exists
        only once its code is stored; :meth:`refresh` checks the code object itself).
        """
        catalog, catalog_bucket = self._catalog(ctx, region)
        depth = 2 if plan else 3
        points: list[RecoveryPoint] = []
        for key, doc in self._read_docs(catalog, catalog_bucket, points_prefix(self.name, plan), depth):
            if doc.get("region") == region and (point := self._doc_point(key, doc)) is not None:
                points.append(point)
        for key, doc in self._read_docs(
            catalog, catalog_bucket, copies_prefix(self.name, region, plan), depth
        ):
            if (point := self._doc_point(key, doc)) is not None:
                points.append(point)
        return [p for p in points if plan is None or p.plan == plan]

    # --- copy -------------------------------------------------------------------------------------------

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
        """Make the code object present in ``dest_region``'s code bucket, then write the DR document.

        The code is copied (CopyObject, SSE-KMS with ``kms_key_id``) only when the capture stored
        it in another region's bucket and it is not there yet; either way HeadObject checks the
        sha256 before the document is written. Idempotent: an existing DR document is returned.
        """
        if point.point_id.startswith(_COPIES):
            raise CaptureError(f"{point.point_id} is already a DR copy")
        dctx = dest_ctx or ctx
        catalog, catalog_bucket = self._catalog(ctx, dest_region)
        key = copy_doc_key(dest_region, point.plan, point.source_id, point.window)
        done = self._existing(catalog, catalog_bucket, key)
        if done is not None:
            return done
        try:
            source, _ = get_doc(catalog, catalog_bucket, point.point_id)
        except ClientError as err:
            raise _fail(err, f"document {point.point_id}") from err
        if source is None:
            raise CaptureError(f"document {point.point_id} not found in {catalog_bucket}")
        code = dict(source.get("code") or {})
        sha, object_key = str(code.get("sha256") or ""), str(code.get("key") or "")
        if not sha or not object_key:
            raise CaptureError(f"document {point.point_id} names no code object")
        bucket, kms_arn = self._ensure_code_bucket(dctx, dest_region, kms_key_id)
        dst = dctx.client("s3", dest_region)
        copied = False
        try:
            present = self._code_present(dst, bucket, object_key, sha)
            if present is None:
                raise CaptureError(f"s3://{bucket}/{object_key} exists with another sha256: not overwritten")
            if not present:
                if code.get("bucket") == bucket:
                    raise CaptureError(f"code object s3://{bucket}/{object_key} of {point.point_id} is gone")
                dst.copy_object(
                    Bucket=bucket,
                    Key=object_key,
                    CopySource={"Bucket": code["bucket"], "Key": object_key},
                    MetadataDirective="COPY",
                    ChecksumAlgorithm="SHA256",
                    ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=kms_arn,
                    BucketKeyEnabled=True,
                )
                copied = True
                if self._code_present(dst, bucket, object_key, sha) is not True:
                    raise CaptureError(f"s3://{bucket}/{object_key}: copied code does not have sha256 {sha}")
        except ClientError as err:
            if error_code(err) in _NOT_FOUND:
                raise CaptureError(
                    f"code object s3://{code.get('bucket')}/{object_key} of {point.point_id} not found"
                ) from err
            raise _fail(err, f"code of {point.point_id} to {dest_region}") from err
        doc = {
            **{k: v for k, v in source.items() if k not in ("tags", "code")},
            "region": dest_region,
            "source_region": point.region,
            "source_point": point.point_id,
            "copied_at": format_window(datetime.now(UTC)),
            "kms_key_id": kms_arn,
            "code": {**code, "bucket": bucket, "region": dest_region, "kms_key_id": kms_arn},
            "tags": dict(tags),
        }
        made = self._write_doc(catalog, catalog_bucket, key, doc)
        made.details["code_copied"] = copied
        return made

    # --- tags / delete ----------------------------------------------------------------------------------

    def set_tags(self, ctx: AwsContext, point: RecoveryPoint, tags: dict[str, str]) -> None:
        """Merge ``tags`` into the document's ``tags`` (If-Match, re-read on conflict)."""
        catalog, bucket = self._catalog(ctx, point.region)
        key = point.point_id
        for _ in range(10):
            doc, etag = get_doc(catalog, bucket, key)
            if doc is None:
                raise CaptureError(f"document {key} not found: not a managed point")
            doc["tags"] = {**(doc.get("tags") or {}), **tags}
            written = put_doc_etag(catalog, bucket, key, doc, if_match=etag)
            if written is not None:
                self._index_put(catalog, bucket, key, written, doc)
                return
        raise CaptureError(f"document {key} kept changing: tags not set")

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete documents after a fresh read of each (refused unless managed and not held).

        Code objects are never deleted here: :meth:`unreferenced_data` finds those no document names.
        """
        if not points:
            return {}
        catalog, catalog_bucket = self._catalog(ctx, region)

        def _one(point: RecoveryPoint) -> str:
            key = point.point_id
            if not (_is_doc_key(key, _PRIMARY, 3) or _is_doc_key(key, _COPIES, 4)):
                return REFUSED
            try:
                doc, _ = get_doc(catalog, catalog_bucket, key)
                if doc is None:
                    return ABSENT
                if not deletable(doc.get("tags") or {}):
                    return REFUSED
                catalog.delete_object(Bucket=catalog_bucket, Key=key)
            except ClientError as err:
                if _propagate(err):
                    raise
                return f"error: {error_code(err)} {err}"
            return DELETED

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(points))) as pool:
            outcomes = dict(zip([p.point_id for p in points], pool.map(_one, points), strict=True))
        drop_from_indexes(catalog, catalog_bucket, [k for k, o in outcomes.items() if o in (DELETED, ABSENT)])
        return outcomes

    # --- code objects no document names (retention) -----------------------------------------------------

    def _referenced(self, ctx: AwsContext, region: str) -> set[tuple[str, str]]:
        """``(bucket, key)`` of every code object any document names (every plan and region,
        managed or not, held or not)."""
        catalog, catalog_bucket = self._catalog(ctx, region)
        docs = self._read_docs(catalog, catalog_bucket, _PRIMARY, 3)
        docs += self._read_docs(catalog, catalog_bucket, _COPIES, 4)
        out: set[tuple[str, str]] = set()
        for _, doc in docs:
            code = doc.get("code") or {}
            if code.get("bucket") and code.get("key"):
                out.add((str(code["bucket"]), str(code["key"])))
        return out

    def unreferenced_data(
        self, ctx: AwsContext, region: str, *, vault_ctx: AwsContext | None = None
    ) -> list[tuple[str, list[dict[str, str]]]]:
        """Versions of code objects in ``region``'s code bucket that no document names.

        Only objects under ``lambda/`` carrying our sha256 metadata, older than
        :attr:`prune_grace`, and not under an S3 legal hold. No vault support (``vault_ctx``: none).
        """
        if vault_ctx is not None:
            return []
        bucket = self.code_bucket(region)
        s3 = ctx.client("s3", region)
        try:
            versions, markers = list_versions(s3, bucket, "lambda/")
        except ClientError as err:
            if error_code(err) in _NO_BUCKET:
                return []
            raise
        keep = {k for b, k in self._referenced(ctx, region) if b == bucket}
        cutoff = datetime.now(UTC) - self.prune_grace
        candidates = [
            v
            for v in versions
            if v["Key"] not in keep and v.get("LastModified") and v["LastModified"] <= cutoff
        ]
        candidates += [m for m in markers if m["Key"] not in keep]

        def _ours(version: dict[str, Any]) -> dict[str, str] | None:
            key, vid = version["Key"], version["VersionId"]
            if version in markers:
                return {"Key": key, "VersionId": vid}
            try:
                head = s3.head_object(Bucket=bucket, Key=key, VersionId=vid)
            except ClientError as err:
                if error_code(err) in (*_NOT_FOUND, "NoSuchVersion", "405"):
                    return None
                raise
            if META_CODE_SHA not in (head.get("Metadata") or {}) or held(s3, bucket, key, vid, head):
                return None
            return {"Key": key, "VersionId": vid}

        if not candidates:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(candidates))) as pool:
            doomed = [c for c in pool.map(_ours, candidates) if c is not None]
        return [(bucket, doomed)] if doomed else []

    def delete_data(
        self,
        ctx: AwsContext,
        region: str,
        bucket: str,
        items: list[dict[str, str]],
        *,
        vault_ctx: AwsContext | None = None,
    ) -> dict[str, str]:
        """Delete code object versions after re-checking each: our code bucket, our metadata, no
        legal hold, and (one fresh read of the documents) still named by no document."""
        if not items:
            return {}
        if vault_ctx is not None or bucket != self.code_bucket(region):
            return {version_id_of(i): REFUSED for i in items}
        s3 = ctx.client("s3", region)
        keep = {k for b, k in self._referenced(ctx, region) if b == bucket}
        outcomes: dict[str, str] = {}

        def _check(item: dict[str, str]) -> tuple[dict[str, str], str | None]:
            if not item["Key"].startswith("lambda/") or item["Key"] in keep:
                return item, REFUSED
            try:
                head = s3.head_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
            except ClientError as err:
                code = error_code(err)
                if code == "405":  # a delete marker: removing it restores nothing we keep
                    return item, None
                if code in (*_NOT_FOUND, "NoSuchVersion"):
                    return item, ABSENT
                return item, f"error: {code} {err}"
            if META_CODE_SHA not in (head.get("Metadata") or {}):
                return item, REFUSED
            if held(s3, bucket, item["Key"], item["VersionId"], head):
                return item, REFUSED
            return item, None

        todo: list[dict[str, str]] = []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            for item, verdict in pool.map(_check, items):
                if verdict is None:
                    todo.append(item)
                else:
                    outcomes[version_id_of(item)] = verdict
        failed: dict[str, str] = {}
        for start in range(0, len(todo), DELETE_BATCH):
            batch = todo[start : start + DELETE_BATCH]
            try:
                response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            except ClientError as err:
                if _propagate(err):
                    raise
                failed.update({version_id_of(i): f"error: {error_code(err)} {err}" for i in batch})
                continue
            for e in response.get("Errors", []):
                failed[f"{e.get('Key')}@{e.get('VersionId')}"] = f"error: {e.get('Code')} {e.get('Message')}"
        for item in todo:
            outcomes[version_id_of(item)] = failed.get(version_id_of(item), DELETED)
        return outcomes

    # --- restore / validate / cleanup ---------------------------------------------------------------------

    def restore(
        self,
        ctx: AwsContext,
        point: RecoveryPoint,
        *,
        name: str,
        tags: dict[str, str],
        environment: Mapping[str, str] | None = None,
    ) -> Restored:
        """CreateFunction ``name`` in ``point.region`` from the stored zip, tagged with ``tags``.

        ``environment``: values of the recorded environment variable names (the point holds names
        only); a name without a value gets ``""`` and is listed in ``details["environment_unset"]``.
        Layers outside the restore region are left off (``details["layers_dropped"]``).
        Idempotent: a function called ``name`` already there (ResourceConflictException) is returned.
        """
        region = point.region
        if not LAMBDA_NAME.is_valid(name):
            raise CaptureError(f"{name!r} is not a valid Lambda function name (1-64 of a-zA-Z0-9_-)")
        catalog, catalog_bucket = self._catalog(ctx, region)
        try:
            doc, _ = get_doc(catalog, catalog_bucket, point.point_id)
        except ClientError as err:
            raise _fail(err, f"document {point.point_id}") from err
        if doc is None:
            raise CaptureError(f"document {point.point_id} not found in {catalog_bucket}")
        code, conf = doc.get("code") or {}, doc.get("configuration") or {}
        if code.get("region") != region:
            raise CaptureError(
                f"{point.point_id}: its code is in {code.get('region')}, not {region} (Lambda reads code "
                "from a bucket in its own region): restore a DR copy held in the restore region"
            )
        values = dict(environment or {})
        names = list(conf.get("environment_names") or [])
        unset = [n for n in names if n not in values]
        layers = [arn for arn in conf.get("layers") or [] if _region_of_arn(arn) == region]
        dropped = [arn for arn in conf.get("layers") or [] if _region_of_arn(arn) != region]
        params: dict[str, Any] = {
            "FunctionName": name,
            "Role": conf.get("role"),
            "Runtime": conf.get("runtime"),
            "Handler": conf.get("handler"),
            "Code": {"S3Bucket": code.get("bucket"), "S3Key": code.get("key")},
            "Description": str(conf.get("description") or "")[:256],
            "Timeout": conf.get("timeout"),
            "MemorySize": conf.get("memory_size"),
            "Publish": False,
            "PackageType": "Zip",
            "Architectures": conf.get("architectures") or ["x86_64"],
            "Tags": dict(tags),
        }
        if layers:
            params["Layers"] = layers
        if names:
            params["Environment"] = {"Variables": {n: values.get(n, "") for n in names}}
        if conf.get("ephemeral_storage"):
            params["EphemeralStorage"] = {"Size": conf["ephemeral_storage"]}
        if conf.get("tracing_mode"):
            params["TracingConfig"] = {"Mode": conf["tracing_mode"]}
        params = {k: v for k, v in params.items() if v is not None}
        started = datetime.now(UTC)
        client = ctx.client("lambda", region)
        created = True
        try:
            client.create_function(**params)
        except ClientError as err:
            if error_code(err) != "ResourceConflictException":
                raise _fail(err, f"create function {name} from {point.point_id}") from err
            created = False
        restored = Restored(
            kind=self.name,
            resource_id=name,
            region=region,
            point_id=point.point_id,
            status=CREATING,
            started_at=started,
            details={
                "created": created,
                "code_sha256": code.get("sha256"),
                "recorded": conf,
                "environment_unset": unset,
                "layers_dropped": dropped,
                "tags": dict(tags),
            },
        )
        return self.restore_status(ctx, region, [restored])[0]

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        """GetFunction per restore (pool of 8): Pending -> creating, Active/Inactive -> available,
        Failed -> failed (with the state reason), not found -> missing."""
        if not items:
            return items
        client = ctx.client("lambda", region)

        def _one(item: Restored) -> None:
            try:
                config = client.get_function(FunctionName=item.resource_id)["Configuration"]
            except ClientError as err:
                if error_code(err) not in _GONE:
                    raise
                item.status = MISSING
                return
            item.status = _STATES.get(str(config.get("State") or "Active"), CREATING)
            item.details["function_arn"] = config.get("FunctionArn")
            if item.status == FAILED:
                item.error = f"{config.get('StateReasonCode')}: {config.get('StateReason')}"

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            list(pool.map(_one, items))
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        """CodeSha256 and configuration of the restored function against the capture's, then one
        Invoke (RequestResponse, ``{"awsdr": "verify"}``): a FunctionError or a status other
        than 200 is a problem. Not invoked when the code differs. Environment variables restored
        without values and layers left off are ``details["notes"]`` (in the verification result),
        not problems: the invoke shows whether the function runs without them."""
        details = expected.get("details") or {}
        meta = expected.get("source_meta") or {}
        recorded = details.get("configuration") or restored.details.get("recorded") or meta
        want_sha = (
            details.get("code_sha256") or restored.details.get("code_sha256") or meta.get("code_sha256")
        )
        client = ctx.client("lambda", restored.region)
        try:
            config = client.get_function(FunctionName=restored.resource_id)["Configuration"]
        except ClientError as err:
            if error_code(err) in _GONE:
                return [f"function {restored.resource_id} not found in {restored.region}"]
            if _propagate(err):
                raise
            return [f"function {restored.resource_id}: {error_code(err)}"]
        problems: list[str] = []
        if not want_sha:
            problems.append("the capture recorded no code sha256: code not checked")
        elif config.get("CodeSha256") != want_sha:
            problems.append(f"code sha256 {config.get('CodeSha256')} != captured {want_sha}")
        got = configuration_facts(config)
        for field in ("runtime", "handler", "memory_size", "timeout", "architectures", "role"):
            if recorded.get(field) is not None and got.get(field) != recorded.get(field):
                problems.append(f"{field} {got.get(field)!r} != captured {recorded.get(field)!r}")
        names = recorded.get("environment_names")
        if names is not None and sorted(got["environment_names"]) != sorted(names):
            problems.append(f"environment variables {got['environment_names']} != captured {sorted(names)}")
        # what the point cannot carry is noted, not failed: the invoke below says whether the
        # function runs without it (a verification that fails every day for a known gap is noise)
        notes = restored.details.setdefault("notes", [])
        if restored.details.get("environment_unset"):
            notes.append(
                "environment variables restored without values (the point holds names only): "
                + ", ".join(restored.details["environment_unset"])
            )
        if restored.details.get("layers_dropped"):
            notes.append(
                "layers outside the restore region left off: " + ", ".join(restored.details["layers_dropped"])
            )
        if want_sha and config.get("CodeSha256") != want_sha:
            return [*problems, "not invoked: the code differs from the captured one"]
        try:
            response = client.invoke(
                FunctionName=restored.resource_id,
                InvocationType="RequestResponse",
                Payload=json.dumps(VERIFY_PAYLOAD).encode(),
            )
        except ClientError as err:
            if _propagate(err):
                raise
            return [*problems, f"invoke failed: {error_code(err)}: {err}"]
        payload = response.get("Payload")
        body = payload.read()[:300] if payload is not None else b""
        if response.get("StatusCode") != 200:
            problems.append(f"invoke answered status {response.get('StatusCode')}")
        if response.get("FunctionError"):
            problems.append(
                f"invoke: function error {response['FunctionError']}: {body.decode(errors='replace')}"
            )
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
        """Delete every function in ``region`` tagged ``tag_key`` (= ``tag_value``), except ``keep``.

        ListFunctions (paginated) + ListTags per function (pool of 8); DeleteFunction.
        """
        client = ctx.client("lambda", region)
        functions: list[tuple[str, str]] = []
        for page in client.get_paginator("list_functions").paginate():
            functions.extend((f["FunctionName"], f["FunctionArn"]) for f in page.get("Functions", []))

        def _one(item: tuple[str, str]) -> str | None:
            name, arn = item
            try:
                tags = client.list_tags(Resource=arn).get("Tags") or {}
                if not tag_selected(tags, tag_key, tag_value, keep):
                    return None
                client.delete_function(FunctionName=name)
            except ClientError as err:
                if error_code(err) in _GONE:
                    return None
                raise
            return name

        if not functions:
            return []
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(functions))) as pool:
            return [n for n in pool.map(_one, functions) if n is not None]
