"""The catalog bucket (first DR region): window manifests, results and audit records.

Key layout (stable; the README documents it):

- ``manifests/<plan>/<window stamp>.json``        what a backup window protected and what failed
- ``points/s3/<plan>/<bucket>/<window stamp>.json`` S3 object-version manifests (the S3 recovery points)
- ``points/<kind>/.../<resource>/index.json``       listing index of the documents in that folder
  (S3 manifests, DynamoDB sidecars: :func:`point_index_key`), a cache checked against the listing
- ``audit/<yyyy>/<mm>/<dd>/<run id>/<seq>.json``   deletions and failover steps, one record per event
- ``verify/...``, ``posture/...``, ``console/...``, ``compliance/...``, ``retention/...``, ``failover/...``
  verification results, posture, console, compliance, retention and failover documents

Every key layout is made by one function or constant here (``*_key``, ``*_prefix``, ``*_PREFIX``):
the other modules call them rather than format keys themselves.

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

# --- key layouts: every catalog key is made here (the README documents them) --------------------

#: ``audit/``: deletion and failover event records (retention's under :data:`RETENTION_AUDIT_PREFIX`).
AUDIT_PREFIX = "audit/"
#: ``failover/``: one folder per failover, failback or drill run (:func:`failover_plan_key`).
FAILOVER_PREFIX = "failover/"
#: ``retention/reports/``: one report per retention run (:func:`retention_report_key`).
RETENTION_REPORTS_PREFIX = "retention/reports/"
#: Catalog prefixes of records: written under S3 Object Lock (retention, failover, legal holds).
LOCKED_PREFIXES = (AUDIT_PREFIX, FAILOVER_PREFIX, RETENTION_REPORTS_PREFIX)


def is_record(key: str) -> bool:
    """Whether ``key`` is an audit record (written locked)."""
    return key.startswith(LOCKED_PREFIXES)


class AuditLockError(RuntimeError):
    """The catalog bucket has no S3 Object Lock and it could not be enabled."""


def safe_run_id(run_id: str) -> str:
    """An Airflow run id as one key segment: every character but letters, digits and ``-_.``
    becomes ``_`` (``manual__2026-11-24T10:00:00+00:00`` -> ``manual__2026-11-24T10_00_00_00_00``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)


#: ``manifests/``: the window manifests, one folder per plan.
MANIFESTS_PREFIX = "manifests/"


def manifests_prefix(plan: str) -> str:
    """``manifests/<plan>/``: the folder of a plan's window manifests."""
    return f"{MANIFESTS_PREFIX}{plan}/"


def manifest_key(plan: str, window: datetime) -> str:
    """``manifests/<plan>/<window stamp>.json``: what a backup window protected and what failed."""
    return f"{manifests_prefix(plan)}{window_stamp(window)}.json"


#: ``points/``: point documents of the kinds whose points live in the catalog (s3, dynamodb, ecr, lambda).
POINTS_PREFIX = "points/"


def points_prefix(kind: str, plan: str | None = None) -> str:
    """``points/<kind>/`` (``points/<kind>/<plan>/`` with a plan): a kind's primary point documents."""
    return f"{POINTS_PREFIX}{kind}/" + (f"{plan}/" if plan else "")


def copies_prefix(kind: str, region: str | None = None, plan: str | None = None) -> str:
    """``points/<kind>-dr/`` [``<region>/`` [``<plan>/``]]: a kind's DR copy documents (a plan only
    with a region)."""
    prefix = f"{POINTS_PREFIX}{kind}-dr/"
    if region:
        prefix += f"{region}/" + (f"{plan}/" if plan else "")
    return prefix


def point_doc_key(kind: str, plan: str, resource: str, window: datetime, suffix: str = ".json") -> str:
    """``points/<kind>/<plan>/<resource>/<window stamp><suffix>``: a primary point document
    (S3 manifest, DynamoDB sidecar ``.tags.json``, ECR or Lambda document); ``resource`` is one
    key segment."""
    return f"{points_prefix(kind, plan)}{resource}/{window_stamp(window)}{suffix}"


def dr_point_doc_key(
    kind: str, region: str, plan: str, resource: str, window: datetime, suffix: str = ".json"
) -> str:
    """``points/<kind>-dr/<region>/<plan>/<resource>/<window stamp><suffix>``: a DR copy's document."""
    return f"{copies_prefix(kind, region, plan)}{resource}/{window_stamp(window)}{suffix}"


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


def s3_copy_index_key(region: str, bucket: str) -> str:
    """``points/s3-dr/<region>/<bucket>/index.json``: source version id -> DR version id."""
    return f"{copies_prefix('s3', region)}{bucket}/{POINT_INDEX}"


#: The vault bucket's index of copied versions per source bucket: ``points/s3-index/<bucket>.json``.
S3_VAULT_INDEX_PREFIX = f"{POINTS_PREFIX}s3-index/"


def s3_vault_index_key(bucket: str) -> str:
    """``points/s3-index/<bucket>.json`` (in the vault bucket): the copied versions of a bucket."""
    return f"{S3_VAULT_INDEX_PREFIX}{bucket}.json"


#: ``audit/retention/``: retention's intents and outcomes (:func:`retention_audit_key`).
RETENTION_AUDIT_PREFIX = f"{AUDIT_PREFIX}retention/"


def retention_audit_key(run_id: str, stream: str, seq: int, stage: str, plan: str | None = None) -> str:
    """``audit/retention/<run id>/<stream>[/<plan>]/<seq>.<stage>.json`` (run id: :func:`safe_run_id`).

    ``stream`` is the kind (``ebs``), its vault copies (``vault-ebs``) or copied data no point names
    any more (``s3-data``, ``vault-s3-data``); the plan keeps two plans' batches of one run apart.
    """
    scope = f"{stream}/{plan}" if plan else stream
    return f"{RETENTION_AUDIT_PREFIX}{safe_run_id(run_id)}/{scope}/{seq:06d}.{stage}.json"


def retention_report_key(run_id: str) -> str:
    """``retention/reports/<run id>.json``: a retention run's report (run id: :func:`safe_run_id`)."""
    return f"{RETENTION_REPORTS_PREFIX}{safe_run_id(run_id)}.json"


#: ``retention/orphans/``: retention's orphan state per plan and kind.
RETENTION_ORPHANS_PREFIX = "retention/orphans/"


def retention_orphans_key(plan: str, kind: str) -> str:
    """``retention/orphans/<plan>/<kind>.json``: ``{source: first seen missing}`` of one plan and kind."""
    return f"{RETENTION_ORPHANS_PREFIX}{plan}/{kind}.json"


#: ``retention/baseline/``: the breaker's reference counts.
RETENTION_BASELINE_PREFIX = "retention/baseline/"


def retention_baseline_key(plan: str, stream: str) -> str:
    """``retention/baseline/<plan>/<stream>.json``: the breaker's reference for one plan and kind."""
    return f"{RETENTION_BASELINE_PREFIX}{plan}/{stream}.json"


#: ``verify/runs/``: one folder per verification run.
VERIFY_RUNS_PREFIX = "verify/runs/"
#: ``verify/latest/``: the latest verification result per plan, kind and source.
VERIFY_LATEST_PREFIX = "verify/latest/"


def verify_run_key(run_id: str, kind: str) -> str:
    """``verify/runs/<run id>/<kind>.json``: one kind's results of a run (run id: :func:`safe_run_id`)."""
    return f"{VERIFY_RUNS_PREFIX}{safe_run_id(run_id)}/{kind}.json"


def verify_latest_key(plan: str, kind: str, source: str) -> str:
    """``verify/latest/<plan>/<kind>/<source>.json``: the latest result of one source."""
    return f"{VERIFY_LATEST_PREFIX}{plan}/{kind}/{source}.json"


#: ``posture/``: posture documents, their alert state and the failover readiness.
POSTURE_PREFIX = "posture/"
#: ``posture/latest.json``: the newest posture document.
POSTURE_LATEST_KEY = f"{POSTURE_PREFIX}latest.json"
#: ``posture/alert-state.json``: the posture alerts' state between runs.
POSTURE_ALERT_STATE_KEY = f"{POSTURE_PREFIX}alert-state.json"
#: ``posture/failover-readiness.json``: the scheduled failover pre-flight's document.
READINESS_KEY = f"{POSTURE_PREFIX}failover-readiness.json"


def posture_key(window: datetime) -> str:
    """``posture/<window stamp>.json``: the posture document of one run."""
    return f"{POSTURE_PREFIX}{window_stamp(window)}.json"


#: ``console/``: what the posture run prepares for the console.
CONSOLE_PREFIX = "console/"
#: ``console/points.json``: the recovery points the console lists.
CONSOLE_POINTS_KEY = f"{CONSOLE_PREFIX}points.json"
#: ``console/history.json``: the console's posture history samples.
CONSOLE_HISTORY_KEY = f"{CONSOLE_PREFIX}history.json"

#: ``compliance/``: compliance reports (JSON, CSV, HTML) per window and the latest.
COMPLIANCE_PREFIX = "compliance/"
#: ``compliance/latest``: the latest report, without its suffix (``.json``, ``.csv``, ``.html``).
COMPLIANCE_LATEST = f"{COMPLIANCE_PREFIX}latest"


def compliance_key(window: datetime, suffix: str) -> str:
    """``compliance/<window stamp>.<suffix>``: a window's compliance report (json, csv or html)."""
    return f"{COMPLIANCE_PREFIX}{window_stamp(window)}.{suffix}"


def compliance_latest_key(suffix: str) -> str:
    """``compliance/latest.<suffix>``: the latest compliance report (json, csv or html)."""
    return f"{COMPLIANCE_LATEST}.{suffix}"


def failover_plan_key(run_id: str) -> str:
    """``failover/<run id>/plan.json``: a failover, failback or drill run's plan (the run id as it is)."""
    return f"{FAILOVER_PREFIX}{run_id}/plan.json"


def failover_audit_key(run_id: str) -> str:
    """``failover/<run id>/audit.json``: a failover, failback or drill run's audit (the run id as it is)."""
    return f"{FAILOVER_PREFIX}{run_id}/audit.json"


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
