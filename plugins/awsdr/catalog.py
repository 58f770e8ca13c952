"""The catalog bucket (first DR region): window manifests, results and audit records.

Key layout (stable; the README documents it):

- ``manifests/<plan>/<window stamp>.json``        what a backup window protected and what failed
- ``points/s3/<plan>/<bucket>/<window stamp>.json`` S3 object-version manifests (the S3 recovery points)
- ``points/<kind>/.../<resource>/index.json``       listing index of the documents in that folder
  (S3 manifests, DynamoDB sidecars: :func:`point_index_key`), a cache checked against the listing
- ``audit/<yyyy>/<mm>/<dd>/<run id>/<seq>.json``   deletions and failover steps, one record per event
- ``results/...``, ``posture/...``                 verification results and posture documents

Records cannot be rewritten: documents under :data:`LOCKED_PREFIXES` (retention's intents and
outcomes, failover/failback/drill plans and audits, retention reports with their legal-hold
decisions) are written under S3 Object Lock, in the policy's ``audit.object_lock`` mode
(``governance`` by default, ``compliance`` as an option) until ``audit.retention`` from the write
(default P2557D, about 7 years). A re-write makes a new version; the locked one stays. The bucket
is created with Object Lock; an existing bucket without it gets it enabled (AWS allows that on a
versioned bucket) the first time a record is written, and if that is refused the write fails with
the command that enables it: no record is ever written unlocked.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code
from awsdr.policy import AuditLock
from awsdr.windows import window_stamp

if TYPE_CHECKING:
    from collections.abc import Callable

    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

#: Catalog prefixes of records: written under S3 Object Lock (retention, failover, legal holds).
LOCKED_PREFIXES = ("audit/", "failover/", "retention/reports/")


def is_record(key: str) -> bool:
    """Whether ``key`` is an audit record (written locked)."""
    return key.startswith(LOCKED_PREFIXES)


class AuditLockError(RuntimeError):
    """The catalog bucket has no S3 Object Lock and it could not be enabled."""


def manifest_key(plan: str, window: datetime) -> str:
    return f"manifests/{plan}/{window_stamp(window)}.json"


#: File name of a folder's listing index (one per plan and resource, and per region for copies).
POINT_INDEX = "index.json"


def point_index_key(doc_key: str) -> str:
    """The listing index of the folder holding the point document ``doc_key``.

    ``points/s3/<plan>/<bucket>/<stamp>.json`` -> ``points/s3/<plan>/<bucket>/index.json``; the
    same beside DR manifests (``points/s3-dr/<region>/<plan>/<bucket>/``) and DynamoDB sidecars
    (``points/dynamodb/<plan>/<table>/``, ``points/dynamodb-dr/<region>/<plan>/<table>/``).
    Each entry is keyed by the document's key and names the document's ETag: a listing uses an
    entry only when that is the ETag it lists (so a rewritten, re-created or hand-edited document
    is read again), and reads documents without a valid entry one by one, as before the index.
    """
    folder, _, _name = doc_key.rpartition("/")
    return f"{folder}/{POINT_INDEX}"


class Catalog:
    """JSON documents in the catalog bucket.

    :param ctx: AWS clients.
    :param bucket: the policy's ``catalog_bucket``.
    :param region: the first DR region (where the bucket lives).
    :param audit: the policy's ``audit`` (Object Lock of the records); default governance, P2557D.
    :param clock: the time records are locked from (tests); default the present.
    """

    def __init__(
        self,
        ctx: AwsContext,
        bucket: str,
        region: str,
        *,
        audit: AuditLock | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ctx = ctx
        self.bucket = bucket
        self.region = region
        self.audit = audit or AuditLock()
        self._clock = clock or (lambda: datetime.now(tz=UTC))
        self._lock_enabled = False
        self._guard = threading.Lock()

    @property
    def s3(self) -> Any:
        return self.ctx.client("s3", self.region)

    def ensure(self) -> None:
        """Create the bucket if it is missing: Object Lock, versioned, encrypted, no public access.

        An existing bucket gets Object Lock enabled if it lacks it (:meth:`ensure_lock`).
        """
        try:
            self.s3.head_bucket(Bucket=self.bucket)
            self.ensure_lock()
            return
        except ClientError as err:
            if error_code(err) not in ("404", "NoSuchBucket", "NotFound"):
                raise
        log.info("Creating catalog bucket %s in %s (S3 Object Lock enabled)", self.bucket, self.region)
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.s3.create_bucket(**kwargs)
        except ClientError as err:
            if error_code(err) not in ("BucketAlreadyOwnedByYou",):
                raise
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.ensure_lock()

    def ensure_lock(self) -> None:
        """S3 Object Lock on the bucket: checked once per catalog, enabled if missing.

        :raises AuditLockError: the bucket has none and enabling it was refused.
        """
        if self._lock_enabled:
            return
        with self._guard:
            if self._lock_enabled:
                return
            try:
                conf = self.s3.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
                enabled = conf.get("ObjectLockEnabled") == "Enabled"
            except ClientError as err:
                if error_code(err) != "ObjectLockConfigurationNotFoundError":
                    raise
                enabled = False
            if not enabled:
                log.warning("Catalog bucket %s has no S3 Object Lock: enabling it", self.bucket)
                try:
                    self.s3.put_bucket_versioning(
                        Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
                    )
                    self.s3.put_object_lock_configuration(
                        Bucket=self.bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
                    )
                except ClientError as err:
                    raise AuditLockError(
                        f"catalog bucket {self.bucket} has no S3 Object Lock and enabling it failed "
                        f"({error_code(err)}): audit records are never written unlocked. Enable it with "
                        f"`aws s3api put-object-lock-configuration --bucket {self.bucket} "
                        "--object-lock-configuration ObjectLockEnabled=Enabled` (the bucket must be versioned)"
                    ) from err
            self._lock_enabled = True

    def put_json(self, key: str, doc: Any) -> None:
        """Write a document; a record (:func:`is_record`) under Object Lock."""
        body = json.dumps(doc, indent=1, sort_keys=True, default=str).encode()
        lock: dict[str, Any] = {}
        if is_record(key):
            self.ensure_lock()
            lock = {
                "ObjectLockMode": self.audit.mode.upper(),
                "ObjectLockRetainUntilDate": self._clock() + self.audit.retention,
            }
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **lock)

    def get_json(self, key: str) -> Any | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if error_code(err) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return json.loads(body)

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys
