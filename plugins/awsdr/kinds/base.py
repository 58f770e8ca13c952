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
from awsdr.windows import format_window, is_product_made, parse_window

if TYPE_CHECKING:
    from datetime import datetime

    from awsdr.aws.context import AwsContext

# Point status values (normalised across services).
CREATING = "creating"
AVAILABLE = "available"
FAILED = "failed"
MISSING = "missing"


class CaptureError(Exception):
    """A per-resource failure: recorded against the resource, the others go on."""


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

    # helpers for subclasses ------------------------------------------------------------------

    @staticmethod
    def batches(items: list[Any], size: int) -> list[list[Any]]:
        return chunks(items, size)


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
