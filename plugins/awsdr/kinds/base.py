"""The one protocol every resource kind follows.

Six kinds (ebs, ec2, rds, aurora, dynamodb, s3) go through the same life: discover -> capture ->
find existing -> refresh (batched status) -> copy -> restore -> validate -> delete. Batching,
bounded concurrency, tagging and waiting live in the callers (operators, executors); a kind
module only knows its service's calls. Adding a kind means one new module here and one line in
``kinds/__init__.py``.

No Airflow imports here: kinds are driven by operators and by tests alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from awsdr.aws.context import chunks, tag_dict
from awsdr.planning.retention import is_archived
from awsdr.windows import TAG_CAPTURED_AT, TAG_COPY_OF, format_window, is_product_made, parse_window

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from awsdr.aws.context import AwsContext

# Point status values (normalised across services).
CREATING = "creating"
AVAILABLE = "available"
FAILED = "failed"
MISSING = "missing"


class CaptureError(Exception):
    """A per-resource failure: recorded against the resource, the others go on."""


class RetryLater(CaptureError):
    """Not possible yet, but will be (e.g. a DynamoDB window newer than PITR's latest restorable
    time): the caller queues the work for the next pass instead of recording a failure.

    :param retry_at: when it should be possible (None: unknown), so the caller need not look
        again before then.
    """

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RefusedError(CaptureError):
    """A delete refused by the ownership rules (not ``awsdr:managed=true``, or under legal hold)."""


#: outcomes of :meth:`Kind.delete`
DELETED = "deleted"
ABSENT = "absent"
REFUSED = "refused"


@dataclass
class Resource:
    """A protected resource in the primary region.

    :param kind: policy type name (``ebs``, ``ec2``, ``rds``, ``aurora``, ``dynamodb``, ``s3``).
    :param id: the service's id (volume id, instance id, DB identifier, table or bucket name).
    :param arn: full ARN (used as ``awsdr:source`` where the service speaks ARNs).
    :param meta: JSON-safe facts recorded in the manifest (size, encryption, engine, counts...).
    """

    kind: str
    id: str
    arn: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resource:
        return cls(**data)


@dataclass
class RecoveryPoint:
    """A recovery point (or a copy of one) in one region.

    :param point_id: the service's id: snapshot id, AMI id, DB (cluster) snapshot identifier,
        DynamoDB backup ARN, S3 manifest key.
    :param arn: full ARN where the service has one (RDS copies need it), else same as point_id.
    :param status: one of ``creating``, ``available``, ``failed``, ``missing``.
    :param details: JSON-safe facts: size_gib, encrypted, kms_key_id, item_count, digest...
    """

    kind: str
    point_id: str
    arn: str
    source_id: str
    region: str
    plan: str
    window: datetime
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["window"] = format_window(self.window)
        data["created_at"] = format_window(self.created_at) if self.created_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecoveryPoint:
        values = dict(data)
        values["window"] = parse_window(values["window"])
        values["created_at"] = parse_window(values["created_at"]) if values.get("created_at") else None
        return cls(**values)


def captured_time(point: RecoveryPoint) -> datetime:
    """When a point's data was taken: its ``awsdr:captured-at`` tag, else its creation time, else
    its window (a late capture of an old window holds newer data than the window says)."""
    raw = point.tags.get(TAG_CAPTURED_AT)
    if raw:
        try:
            return parse_window(raw)
        except ValueError:
            pass
    return point.created_at or point.window


#: :func:`newest_copies` orders by window, then point id: the copy of the newest window protected.
BY_WINDOW = "window"
#: :func:`newest_copies` orders by :func:`captured_time`; of equal times the first listed wins.
BY_CAPTURED = "captured"


def newest_copies(
    points: Iterable[RecoveryPoint],
    now: datetime,
    *,
    by: str = BY_WINDOW,
    copies_only: bool = True,
    prefer_standard: bool = True,
    sources: Iterable[str] | None = None,
) -> dict[str, RecoveryPoint]:
    """The newest usable DR copy of each source among ``points`` (one kind, one region).

    Usable: status ``available`` and, with ``copies_only``, tagged ``awsdr:copy-of`` (a DR copy,
    not a point captured in that region). The callers differ on purpose, and say so here:

    - ``by``: :data:`BY_WINDOW` (restore verification, the Lambda re-creation, posture's RPO age:
      the newest window protected) or :data:`BY_CAPTURED` (failover readiness: the newest data,
      a late capture of an old window counting from when it was taken).
    - ``prefer_standard``: a copy in the archive tier (:func:`~awsdr.planning.retention.is_archived`
      at ``now``) is chosen only when every copy of its source is archived: a restore from it
      waits for the archive first (verification, readiness). Posture passes False: its RPO age is
      the newest copy's, whatever the tier (the archive is reported beside it).
    - ``copies_only``: failover readiness passes False (any available point in the region counts).
    - ``sources``: only these sources (default all).

    :returns: source id -> its newest copy; a source without one is absent.
    """
    wanted = set(sources) if sources is not None else None
    best: dict[str, RecoveryPoint] = {}

    def rank(p: RecoveryPoint) -> tuple[Any, ...]:
        standard = not prefer_standard or not is_archived(p.details, now)
        if by == BY_CAPTURED:
            return (standard, captured_time(p))
        return (standard, p.window, p.point_id)

    if by not in (BY_WINDOW, BY_CAPTURED):
        raise ValueError(f"newest_copies: by={by!r} (want {BY_WINDOW!r} or {BY_CAPTURED!r})")
    for p in points:
        if wanted is not None and p.source_id not in wanted:
            continue
        if p.status != AVAILABLE or (copies_only and TAG_COPY_OF not in p.tags):
            continue
        prior = best.get(p.source_id)
        if prior is None or rank(p) > rank(prior):
            best[p.source_id] = p
    return best


class Kind:
    """Base class of a resource kind. Subclasses set the class variables and the methods.

    Every method is batched: it takes lists and makes as few calls as the service allows.
    Every create is idempotent: a name or tag conflict means "already there", never a second copy.
    """

    #: policy type name
    name: ClassVar[str]
    #: Resource Groups Tagging API resource type filter, when the service answers there
    tagging_type: ClassVar[str | None] = None
    #: largest id list one describe call takes
    describe_batch: ClassVar[int] = 200

    # --- discovery ---------------------------------------------------------------------------

    def discover(self, ctx: AwsContext, region: str, tags: dict[str, str]) -> list[Resource]:
        """Every resource of this kind in ``region`` carrying all ``tags``.

        Excludes resources this product made (restores, drills, recovery points).
        The default uses the Resource Groups Tagging API and then :meth:`describe`.
        """
        if self.tagging_type is None:
            raise NotImplementedError(f"{self.name}: discover() must be implemented")
        client = ctx.client("resourcegroupstaggingapi", region)
        found: dict[str, dict[str, str]] = {}
        paginator = client.get_paginator("get_resources")
        for page in paginator.paginate(
            TagFilters=[{"Key": k, "Values": [v]} for k, v in tags.items()],
            ResourceTypeFilters=[self.tagging_type],
            ResourcesPerPage=100,
        ):
            for item in page.get("ResourceTagMappingList", []):
                rtags = tag_dict(item.get("Tags"))
                if is_product_made(rtags):
                    continue
                if all(rtags.get(k) == v for k, v in tags.items()):
                    found[item["ResourceARN"]] = rtags
        if not found:
            return []
        resources = self.describe(ctx, region, list(found))
        for res in resources:
            res.tags = found.get(res.arn, res.tags)
        return resources

    def describe(self, ctx: AwsContext, region: str, arns: list[str]) -> list[Resource]:
        """Batched describe of the resources behind ``arns``; vanished ones are left out."""
        raise NotImplementedError

    # --- capture -----------------------------------------------------------------------------

    def find_existing(
        self, ctx: AwsContext, region: str, plan: str, window: datetime
    ) -> dict[str, RecoveryPoint]:
        """Points already made for (plan, window) in ``region``, keyed by source id.

        One (paginated) call for the whole window, filtered by the ``awsdr:plan`` and
        ``awsdr:window`` tags or the deterministic names.
        """
        raise NotImplementedError

    def capture(
        self, ctx: AwsContext, resource: Resource, plan: str, window: datetime, tags: dict[str, str]
    ) -> RecoveryPoint:
        """Start (or find, on a name conflict) the recovery point of ``resource`` for ``window``.

        ``tags`` is the full PRODUCT.md tag set, to apply in the create call where AWS allows.
        Raises :class:`CaptureError` for a per-resource failure (resource gone, wrong state).
        """
        raise NotImplementedError

    def refresh(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> list[RecoveryPoint]:
        """Batched status of ``points`` (all in ``region``): returns them with status updated.

        A point the service no longer knows comes back with status ``missing``.
        """
        raise NotImplementedError

    # --- listing (retention, posture, copy sweeps) ---------------------------------------------

    def list_points(self, ctx: AwsContext, region: str, plan: str | None = None) -> list[RecoveryPoint]:
        """Every point of this kind in ``region`` tagged ``awsdr:managed=true`` (of ``plan`` if given).

        Includes copies (they carry ``awsdr:copy-of``). Batched and paginated; status normalised;
        ``tags`` are the point's current tags (legal holds and ``awsdr:verified-at`` included);
        ``details["size_bytes"]`` where the service reports a size.
        """
        raise NotImplementedError

    def list_copies(self, ctx: AwsContext, region: str) -> list[RecoveryPoint]:
        """The copies of this kind held in ``region``, of any plan (those carrying ``awsdr:copy-of``):
        what a copy pass needs of a destination (the copies made and those in flight, for the
        quota). Kinds that can list their copies apart from their own points do so."""
        return [p for p in self.list_points(ctx, region, None) if TAG_COPY_OF in p.tags]

    # --- copy (cross-region, cross-account) ----------------------------------------------------

    #: ``copy`` takes ``listed=True`` (the planner has just listed the destination and found no
    #: healthy copy): the kind then skips its own per-copy look-up before the create.
    copy_trusts_listing: bool = False

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
        """Start copying ``point`` (in ``point.region``) to ``dest_region``.

        The copy is encrypted with ``kms_key_id`` (an alias, id or ARN in the destination), also
        when the source is plaintext, and tagged with ``tags`` (the source's awsdr tags plus
        ``awsdr:copy-of``) in the create call where AWS allows. Idempotent by deterministic name
        (or client token): a copy already made or in flight is returned, never a second one.
        ``dest_ctx`` is the destination account's clients (the vault); default ``ctx``.
        Raises :class:`CaptureError` for a per-point failure.
        """
        raise NotImplementedError

    def share(self, ctx: AwsContext, point: RecoveryPoint, account_id: str) -> None:
        """Let ``account_id`` copy ``point`` (vault copies). Kinds that cannot share raise CaptureError."""
        raise CaptureError(f"{self.name} points cannot be shared across accounts")

    # --- vault (a separate account) ------------------------------------------------------------
    # The default is the snapshot model: share the DR copy, copy it with the vault's clients, list
    # and delete in the vault account like anywhere else. Kinds whose points are catalog documents
    # (S3, DynamoDB exports) keep their vault points in the vault account instead and override these.

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
        """Copy the DR copy ``point`` (in ``region``) into the vault account, encrypted with its key."""
        self.share(ctx, point, account_id)
        return self.copy(ctx, point, dest_region=region, kms_key_id=kms_key_id, tags=tags, dest_ctx=vault_ctx)

    def vault_points(
        self, vault_ctx: AwsContext, region: str, plan: str | None = None
    ) -> list[RecoveryPoint]:
        """The vault copies in ``region`` (same contract as :meth:`list_points`)."""
        return self.list_points(vault_ctx, region, plan)

    def vault_delete(self, vault_ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete vault copies (same contract as :meth:`delete`)."""
        return self.delete(vault_ctx, region, points)

    def unreferenced_data(
        self, ctx: AwsContext, region: str, *, vault_ctx: AwsContext | None = None
    ) -> list[tuple[str, list[dict[str, str]]]]:
        """``(bucket, [{"Key", "VersionId"}])`` of copied data no remaining point names any more
        (S3 keeps a copy's data apart from its point), in this account's DR buckets or, with
        ``vault_ctx``, in the vault's; retention deletes it after the points. Default: none
        (deleting a point deletes its data)."""
        return []

    def delete_data(
        self,
        ctx: AwsContext,
        region: str,
        bucket: str,
        items: list[dict[str, str]],
        *,
        vault_ctx: AwsContext | None = None,
    ) -> dict[str, str]:
        """Delete what :meth:`unreferenced_data` returned, re-checked first: ``{"key@version": outcome}``."""
        raise NotImplementedError

    def set_tags(self, ctx: AwsContext, point: RecoveryPoint, tags: dict[str, str]) -> None:
        """Add or overwrite ``tags`` on ``point`` (e.g. ``awsdr:verified-at`` after verification)."""
        raise NotImplementedError

    # --- delete (retention) ----------------------------------------------------------------------

    def delete(self, ctx: AwsContext, region: str, points: list[RecoveryPoint]) -> dict[str, str]:
        """Delete ``points`` (all in ``region``), returning ``{point_id: outcome}``.

        Re-reads each point's tags from AWS in one batched call first and refuses (outcome
        ``refused``) any that is not ``awsdr:managed=true`` or carries ``awsdr:legal-hold``,
        whatever the caller believed. Already gone: ``absent``. Deleted: ``deleted``. Other
        per-point errors: ``error: <code> <message>``.
        """
        raise NotImplementedError

    # --- restore / validate / cleanup (verification, drills, failover) ---------------------------

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        """Start restoring ``point`` (in ``point.region``) into a new resource called ``name``.

        The new resource carries ``tags`` (e.g. ``awsdr:verify-run=<run id>``). Idempotent: if a
        resource called ``name`` already exists it is returned, not made twice.
        """
        raise NotImplementedError

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        """Batched status of restores in ``region`` (creating / available / failed / missing)."""
        raise NotImplementedError

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        """Check a restored resource against what was captured; return problems (empty: pass).

        ``expected`` is the window manifest's entry for the point: ``source_meta`` (the protected
        resource's facts at capture) and ``details`` (the point's facts: item_count, digest, ...).
        """
        raise NotImplementedError

    def cleanup(
        self,
        ctx: AwsContext,
        region: str,
        tag_key: str,
        tag_value: str | None = None,
        *,
        keep: str | None = None,
    ) -> list[str]:
        """Delete every resource of this kind in ``region`` carrying ``tag_key`` (= ``tag_value``),
        except those whose ``tag_key`` is ``keep`` (a drill's sweep keeps its own run's restores).

        Only resources made by :meth:`restore` carry these tags. Idempotent; returns the ids
        deleted or being deleted.
        """
        raise NotImplementedError

    # helpers for subclasses ------------------------------------------------------------------

    @staticmethod
    def batches(items: list[Any], size: int) -> list[list[Any]]:
        return chunks(items, size)


def tag_selected(tags: dict[str, str], key: str, value: str | None, keep: str | None = None) -> bool:
    """Whether ``tags`` carry ``key`` (= ``value`` when given), and not with the value ``keep``."""
    return key in tags and (value is None or tags[key] == value) and (keep is None or tags[key] != keep)


@dataclass
class Restored:
    """A resource restored from a recovery point (verification, drill or failover).

    :param resource_id: the new resource's id (volume id, instance id, DB or cluster identifier,
        table name; for S3 the DR bucket name, nothing is created).
    :param started_at: when the restore was requested (RTO is measured from here).
    :param details: JSON-safe facts the validator reads (size, engine, encryption, counts...).
    """

    kind: str
    resource_id: str
    region: str
    point_id: str
    status: str
    started_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = format_window(self.started_at)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Restored:
        values = dict(data)
        values["started_at"] = parse_window(values["started_at"])
        return cls(**values)


def point_from_tags(
    kind: str,
    point_id: str,
    arn: str,
    region: str,
    tags: dict[str, str],
    status: str,
    created_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> RecoveryPoint | None:
    """Build a point from its awsdr tags; None when the tags are not ours or are incomplete."""
    from awsdr.windows import TAG_PLAN, TAG_SOURCE, TAG_WINDOW

    if tags.get("awsdr:managed") != "true" or TAG_WINDOW not in tags or TAG_SOURCE not in tags:
        return None
    try:
        window = parse_window(tags[TAG_WINDOW])
    except ValueError:
        return None
    return RecoveryPoint(
        kind=kind,
        point_id=point_id,
        arn=arn,
        source_id=tags[TAG_SOURCE],
        region=region,
        plan=tags.get(TAG_PLAN, ""),
        window=window,
        status=status,
        tags=tags,
        created_at=created_at,
        details=details or {},
    )
