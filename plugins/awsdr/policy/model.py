"""The policy model: constants, :class:`PolicyError` and the frozen dataclasses.

:class:`Policy` is what :func:`awsdr.policy.load_policy` returns: validated, every default filled
in, and shared by every caller (it is cached), so nothing in it can be changed: the dataclasses are
frozen and their mappings are :class:`FrozenDict`. :func:`dataclasses.replace` makes a changed
copy. Pure Python: no Airflow, no boto3, no YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from croniter import croniter

if TYPE_CHECKING:
    from collections.abc import Mapping

# --------------------------------------------------------------------------------------------
# Constants (shared by the validator and the JSON Schema)
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------

#: Resource types a plan can select, in a stable order.
RESOURCE_TYPES: tuple[str, ...] = ("ebs", "ec2", "rds", "aurora", "dynamodb", "s3", "ecr", "lambda")
#: The types a plan selects when it names none: the data types. Container images (``ecr``) and
#: functions (``lambda``) are selected by name, so a policy written before they existed keeps
#: protecting what it protected.
DEFAULT_TYPES: tuple[str, ...] = ("ebs", "ec2", "rds", "aurora", "dynamodb", "s3")
#: Types whose points cannot go to a vault account (their data is images in a registry or code in
#: the product's bucket, which no vault path copies yet): a plan with a vault refuses them at load.
NO_VAULT_TYPES: tuple[str, ...] = ("ecr", "lambda")

#: Real AWS region names: commercial, GovCloud and China partitions.
AWS_REGIONS: frozenset[str] = frozenset(
    {
        # North America
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "ca-west-1",
        "mx-central-1",
        # South America
        "sa-east-1",
        # Europe
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-south-2",
        "eu-north-1",
        # Middle East and Africa
        "il-central-1",
        "me-south-1",
        "me-central-1",
        "af-south-1",
        # Asia Pacific
        "ap-east-1",
        "ap-east-2",
        "ap-south-1",
        "ap-south-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        # GovCloud (US)
        "us-gov-west-1",
        "us-gov-east-1",
        # China
        "cn-north-1",
        "cn-northwest-1",
    }
)

#: Concurrent cross-region copy jobs per resource type (AWS service quotas are per region).
DEFAULT_COPY_QUOTAS: Mapping[str, int] = {
    "ebs": 20,
    "ec2": 20,
    "rds": 20,
    "aurora": 5,
    "dynamodb": 10,
    "s3": 10,
    "ecr": 10,
    "lambda": 10,
}

GFS_CLASSES: tuple[str, ...] = ("hourly", "daily", "weekly", "monthly", "yearly")

# Patterns are written so that Python's ``re`` and ECMA-262 (JSON Schema) agree: ASCII classes,
# no named groups, no Python-only anchors. The validator uses ``re.fullmatch`` with them.
PLAN_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
DURATION_PATTERN = r"^P(?!$)([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?$"
CRON_PATTERN = r"^\s*\S+(\s+\S+){4}\s*$"
DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
BUCKET_PATTERN = (
    r"^(?!xn--|sthree-|amzn-s3-demo-)"
    r"(?!.*(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$)"
    r"(?![0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$)"
    r"(?!.*(\.\.|\.-|-\.))"
    r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
)
_KEY_ID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
KMS_KEY_PATTERN = (
    rf"^({_ALIAS}|{_KEY_ID}|arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{{12}}:(key/{_KEY_ID}|{_ALIAS}))$"
)
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
ROLE_ARN_PATTERN = (
    r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$"
)
SNS_TOPIC_ARN_PATTERN = r"^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"

# --- failover ---------------------------------------------------------------------------------

#: The four DR strategies of the AWS DR whitepaper, cheapest (slowest) first.
FAILOVER_STRATEGIES: tuple[str, ...] = ("backup-restore", "pilot-light", "warm-standby", "active-active")
#: Route 53 routing of the failover records: one record per name (simple) or one per region (weighted).
DNS_ROUTING: tuple[str, ...] = ("simple", "weighted")
DNS_RECORD_TYPES: tuple[str, ...] = ("A", "AAAA", "CNAME")
DATABASE_KINDS: tuple[str, ...] = ("rds", "aurora", "dynamodb")
#: A DNS name (zone or record), trailing dot optional.
DOMAIN_PATTERN = r"^(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
HEALTH_CHECK_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
HTTP_URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$"
RDS_ID_PATTERN = r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$"
GLOBAL_CLUSTER_PATTERN = r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$"
DYNAMODB_TABLE_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
ASG_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/@+=-]{0,254}$"
ECS_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
INSTANCE_TYPE_PATTERN = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
SUBNET_PATTERN = r"^subnet-[0-9a-f]{8,17}$"
STACK_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,127}$"
#: a template in S3, as CloudFormation's TemplateURL takes it
TEMPLATE_URL_PATTERN = r"^https://[A-Za-z0-9.-]+\.amazonaws\.com(\.cn)?/\S+$"
STACK_PARAMETER_PATTERN = r"^[A-Za-z0-9]{1,255}$"
#: CloudFormation's limit on a template passed in the request (larger ones go to S3, by URL)
TEMPLATE_BODY_MAX = 51_200
STACK_CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")

#: The shortest ``archive_after``: the archive tier is for points kept for months (AWS bills an
#: archived snapshot for at least 90 days and a restore from it takes up to 72 hours).
MIN_ARCHIVE_AFTER = timedelta(days=1)
#: S3 storage classes ``archive_class`` takes (the archive ones a lifecycle rule can move to)
S3_ARCHIVE_CLASSES: tuple[str, ...] = ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")

LAMBDA_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ENV_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
AUDIT_LOCK_MODES = ("governance", "compliance")


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenDict(dict[_K, _V]):
    """A dict that cannot be changed: the mappings of a loaded policy, which every caller shares.

    It is a ``dict`` for everything that reads (equality, ``json.dumps``, ``{**m}``, ``m | other``
    and ``m.copy()``, which give plain dicts); every change raises :class:`TypeError`.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "a loaded policy is shared by every caller and cannot be changed "
            "(make a changed copy with dataclasses.replace)"
        )

    def __setitem__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __delitem__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __ior__(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def clear(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def pop(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def popitem(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def setdefault(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy.deepcopy rebuild it from a plain dict (not item by item)
        return (type(self), (dict(self),))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _freeze_mappings(obj: object) -> None:
    """Replace the plain dicts in the fields of the frozen dataclass ``obj`` by :class:`FrozenDict`."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if type(value) is dict:
            object.__setattr__(obj, f.name, FrozenDict(value))


class PolicyError(ValueError):
    """An invalid policy: one line naming the file, the line, the field and what was expected.

    ``str(err)`` is ``f"{file}:{line}: {field}: {message} (expected {expected})"``; when the line is
    unknown (e.g. the file cannot be read) the ``:{line}`` part is left out.
    """

    def __init__(self, file: str, line: int | None, field: str, message: str, expected: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = _one_line(message)
        self.expected = _one_line(expected)
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {field}: {self.message} (expected {self.expected})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.file, self.line, self.field, self.message, self.expected))


@dataclass(frozen=True)
class Gfs:
    """Grandfather-father-son retention: how many recovery points to keep per class.

    A point is kept if it is among the newest ``n`` of any class it belongs to (the newest point of
    each hour, day, ISO week, month, year).
    """

    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    #: points of this region class older than this (by window) go to the archive tier (EBS
    #: snapshots: ModifySnapshotTier); for S3 in the DR region class, DR bucket object versions no
    #: longer current for this long move to :attr:`archive_class` (a lifecycle rule); None: never
    archive_after: timedelta | None = None
    #: the S3 storage class DR bucket versions move to (``GLACIER_IR`` needs no restore before a
    #: read; ``GLACIER`` and ``DEEP_ARCHIVE`` do: hours, requested before a copy or a restore)
    archive_class: str = "GLACIER_IR"

    def as_dict(self) -> dict[str, int]:
        """The counts by class name, zeros included, in :data:`GFS_CLASSES` order."""
        return {name: getattr(self, name) for name in GFS_CLASSES}


@dataclass(frozen=True)
class Retention:
    """Retention in the primary region and in the DR regions."""

    primary: Gfs
    dr: Gfs


@dataclass(frozen=True)
class Selector:
    """Which resources a plan protects: those carrying *all* ``tags``, of one of ``types``."""

    tags: dict[str, str]
    types: tuple[str, ...]

    def __post_init__(self) -> None:
        _freeze_mappings(self)


@dataclass(frozen=True)
class Verify:
    """Restore verification: when it runs and how many resources it restores (None: all)."""

    schedule: str = "0 3 * * *"
    sample: int | None = None


@dataclass(frozen=True)
class Vault:
    """A separate account whose vault receives cross-account copies (``aws_dr_vault``)."""

    account_id: str
    role_arn: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """One protection plan; becomes ``dr_backup_<name>`` and ``dr_copy_<name>``.

    ``start_date`` and ``max_catchup`` are always set: a plan that does not give them inherits the
    policy-level values at load time.
    """

    name: str
    schedule: str
    copy_schedule: str
    rpo: timedelta
    rto: timedelta
    start_date: datetime
    max_catchup: int
    select: Selector
    retention: Retention
    ec2_reboot: bool
    verify: Verify


@dataclass(frozen=True)
class Capacity:
    """An Auto Scaling group size: ``min <= desired <= max``."""

    min: int = 0
    desired: int = 0
    max: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"min": self.min, "desired": self.desired, "max": self.max}


@dataclass(frozen=True)
class DnsRecord:
    """One Route 53 record the runbook moves: its value in the primary and in each DR region.

    With ``routing: weighted`` there is one record set per region, told apart by its set
    identifier (default: the region name) and weighted ``weights[region]`` (default 100).
    """

    name: str
    type: str
    ttl: int
    primary: str
    dr: dict[str, str]
    set_identifiers: dict[str, str] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze_mappings(self)

    def set_identifier(self, region: str) -> str:
        """The weighted set identifier of ``region``'s record set."""
        return self.set_identifiers.get(region, region)

    def weight(self, region: str) -> int:
        """The normal (not failed over) weight of ``region``'s record set."""
        return self.weights.get(region, 100)


@dataclass(frozen=True)
class Dns:
    """The hosted zone and the records traffic moves with."""

    zone: str
    routing: str
    records: tuple[DnsRecord, ...]


@dataclass(frozen=True)
class HealthCheck:
    """A Route 53 health check (by ``id``, or by ``name``: its Name tag or caller reference), or a
    URL that must answer HTTP 2xx/3xx (``url``). Exactly one is set.
    """

    url: str | None = None
    id: str | None = None
    name: str | None = None
    #: checked only when this region serves (None: always)
    region: str | None = None

    @property
    def label(self) -> str:
        if self.url:
            return self.url
        return f"route53:{self.id}" if self.id else f"route53 name {self.name}"


@dataclass(frozen=True)
class FailoverDatabase:
    """A database the data layer brings up in the DR region.

    :param kind: ``rds``, ``aurora`` or ``dynamodb``.
    :param name: its identifier (table name) in the primary region.
    :param replicas: DR region -> the standby there (RDS read replica, Aurora secondary cluster,
        DynamoDB global-table replica); empty: restored from the newest DR copy.
    :param global_cluster: the Aurora global database to fail over (Aurora only).
    :param dns: RDS/Aurora: the Route 53 record (CNAME) clients reach the database by; the runbook
        moves it with the data layer (failover: to the DR writer; failback: to the home writer) and
        uses it as the write freeze of a failback.
    """

    kind: str
    name: str
    replicas: dict[str, str] = field(default_factory=dict)
    global_cluster: str | None = None
    dns: str | None = None

    def __post_init__(self) -> None:
        _freeze_mappings(self)


@dataclass(frozen=True)
class FailoverBucket:
    """An S3 bucket applications write to: fenced on failover, its DR writes copied home on failback.

    :param name: the bucket in the primary region.
    :param dr: DR region -> the bucket applications use there (absent: the DR bucket the copies go to).
    """

    name: str
    dr: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze_mappings(self)


@dataclass(frozen=True)
class FailoverStack:
    """A CloudFormation stack the runbook deploys in the DR region (backup & restore, pilot light)
    as the first step of the compute phase; a drill deploys it as ``<name>-drill`` and deletes it.

    :param template_url: the template in S3 (``TemplateURL``), or
    :param template_path: a template file (absolute; written relative to the policy file), sent as
        ``TemplateBody`` (at most 51,200 bytes).
    """

    name: str
    region: str
    template_url: str | None = None
    template_path: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    role_arn: str | None = None

    def __post_init__(self) -> None:
        _freeze_mappings(self)

    @property
    def template(self) -> str:
        return self.template_url or self.template_path or ""


@dataclass(frozen=True)
class FailoverApproval:
    """The go/no-go of a real failover or failback: an Airflow approval (Required Actions).

    :param required: False for runbooks started by automation (audited as "approved by policy").
    :param timeout: no answer within it fails the run before any change.
    """

    required: bool = True
    timeout: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class AsgStandby:
    """A standby Auto Scaling group in a DR region: full ``capacity`` and its ``resting`` size."""

    name: str
    region: str
    capacity: Capacity
    resting: Capacity = field(default_factory=Capacity)
    #: for the cost estimate only (the group's launch template decides what runs)
    instance_type: str | None = None

    kind = "asg"


@dataclass(frozen=True)
class EcsStandby:
    """A standby ECS service in a DR region: full ``desired`` count and its ``resting`` count."""

    cluster: str
    service: str
    region: str
    desired: int
    resting: int = 0
    #: one task's size, for the cost estimate only (Fargate pricing; the task definition decides)
    vcpu: float = 0.25
    memory_gib: float = 0.5

    kind = "ecs"


@dataclass(frozen=True)
class AmiLaunch:
    """Backup & restore compute: launch ``count`` instances from the newest copied AMI of ``source``.

    :param source: the protected instance's id, or its ``Name`` tag.
    :param subnets: DR region -> subnet (absent: the region's default VPC).
    """

    source: str
    instance_type: str
    subnets: dict[str, str] = field(default_factory=dict)
    count: int = 1

    def __post_init__(self) -> None:
        _freeze_mappings(self)


@dataclass(frozen=True)
class Drill:
    """Failover drills: ``schedule`` (None: manual only) and the DNS label drills live under."""

    schedule: str | None = None
    zone_prefix: str = "drill"


@dataclass(frozen=True)
class FailoverReadiness:
    """How strict the pre-flight is: ``error`` blocks the failover, ``warning`` is reported."""

    verified_within: timedelta = timedelta(days=7)
    unverified: str = "warning"
    stale_copies: str = "error"


@dataclass(frozen=True)
class FailoverVerify:
    """Health checks after traffic moved: what an unknown status means and the HTTP timeout."""

    unknown: str = "warn"
    timeout: timedelta = timedelta(seconds=5)


@dataclass(frozen=True)
class FailoverFunction:
    """A Lambda function the runbook re-creates in the DR region from its newest DR copy (the
    ``lambda`` type's), under its own name (backup & restore, pilot light; ``<name>-drill`` in a
    drill, deleted in teardown).

    :param environment: values of the function's environment variables there (the points hold
        names only). Not for secrets: a function should read those at run time.
    """

    name: str
    region: str
    environment: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze_mappings(self)


@dataclass(frozen=True)
class Failover:
    """The failover/failback runbook (``dr_failover``, ``dr_failback``, ``dr_failover_drill``)."""

    strategy: str = "pilot-light"
    dns: Dns | None = None
    health_checks: tuple[HealthCheck, ...] = ()
    databases: tuple[FailoverDatabase, ...] = ()
    compute: tuple[AsgStandby | EcsStandby, ...] = ()
    ami_launch: tuple[AmiLaunch, ...] = ()
    drill: Drill = field(default_factory=Drill)
    readiness: FailoverReadiness = field(default_factory=FailoverReadiness)
    verify: FailoverVerify = field(default_factory=FailoverVerify)
    primary_kms_key: str | None = None
    approval: FailoverApproval = field(default_factory=FailoverApproval)
    buckets: tuple[FailoverBucket, ...] = ()
    stacks: tuple[FailoverStack, ...] = ()
    functions: tuple[FailoverFunction, ...] = ()


@dataclass(frozen=True)
class AuditLock:
    """S3 Object Lock of the audit records (``audit``): failover, failback, retention, legal holds.

    :param mode: ``governance`` (only principals allowed ``s3:BypassGovernanceRetention`` can
        delete a record early; the runner is not) or ``compliance`` (nobody can).
    :param retention: how long each record version stays locked (default about 7 years).
    """

    mode: str = "governance"
    retention: timedelta = timedelta(days=2557)


@dataclass(frozen=True)
class Compliance:
    """Thresholds of the compliance report: restores verified within ``verify_within``; every
    plan's retention keeps points at least ``min_retention`` in the primary and the DR regions."""

    verify_within: timedelta = timedelta(days=7)
    min_retention: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Policy:
    """The whole policy file, validated, with every default filled in."""

    source_path: str
    version: int
    timezone: str
    primary_region: str
    dr_regions: tuple[str, ...]
    catalog_bucket: str
    kms_keys: dict[str, str]
    start_date: datetime
    max_catchup: int
    late_after: timedelta
    copy_quotas: dict[str, int]
    region_concurrency: int
    orphan_grace: timedelta
    max_delete_fraction: float
    sns_topic_arn: str | None
    vault: Vault | None
    plans: dict[str, Plan]
    failover: Failover | None = field(default=None)
    audit: AuditLock = field(default_factory=AuditLock)
    compliance: Compliance = field(default_factory=Compliance)

    def __post_init__(self) -> None:
        _freeze_mappings(self)

    @property
    def catalog_region(self) -> str:
        """The region of the catalog bucket: the first DR region."""
        return self.dr_regions[0]

    def plan(self, name: str) -> Plan:
        """The plan called ``name``; ``KeyError`` naming the defined plans if there is none."""
        try:
            return self.plans[name]
        except KeyError:
            known = ", ".join(self.plans) or "none"
            raise KeyError(f"no plan {name!r} in {self.source_path} (plans: {known})") from None

    # What the DAG files build from the policy (each call gives a new list).

    @property
    def plan_names(self) -> list[str]:
        """The plans' names, sorted (the choices of a trigger form's ``plan``)."""
        return sorted(self.plans)

    @property
    def kinds_in_use(self) -> list[str]:
        """The resource types some plan selects, in :data:`RESOURCE_TYPES` order."""
        return [k for k in RESOURCE_TYPES if any(k in p.select.types for p in self.plans.values())]

    @property
    def verify_schedules(self) -> list[str]:
        """The plans' restore verification cron schedules, each once, sorted."""
        # (indexed, not a bare loop name: the IAM scan reads ``x.verify`` on an unknown name as KMS Verify)
        return sorted({self.plans[n].verify.schedule for n in self.plans})

    @property
    def earliest_start(self) -> datetime:
        """The first window of any plan (the start of the DAGs that serve every plan)."""
        return min(p.start_date for p in self.plans.values())

    def plans_verified_at(self, tick: datetime) -> list[str]:
        """The plans whose verify schedule fires at ``tick``, in policy order."""
        return [n for n in self.plans if croniter.match(self.plans[n].verify.schedule, tick)]


# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------

_DURATION_RE = re.compile(DURATION_PATTERN)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration such as ``PT30M``, ``PT1H``, ``P1D``, ``P1W`` or ``P1DT2H``.

    Only units of fixed length are accepted (weeks, days, hours, minutes, whole seconds). Years and
    months (``P1Y``, ``P6M``) are refused because their length varies: write days instead.

    :raises ValueError: with a message saying what is wrong.
    """
    if not isinstance(text, str):
        raise ValueError(f"not a duration: {text!r}")
    raw = text.strip()
    date_part = raw[1:].split("T", 1)[0] if raw.startswith("P") else ""
    if "Y" in date_part or "M" in date_part:
        unit = "years" if "Y" in date_part else "months"
        raise ValueError(
            f"{text!r} uses {unit}, which have no fixed length; use days instead, e.g. P365D or P30D"
        )
    match = _DURATION_RE.fullmatch(raw)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO-8601 duration")
    weeks, days, _, hours, minutes, seconds = (
        int(g[:-1]) if g and g[0] != "T" else 0 for g in match.groups()
    )
    try:
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def format_duration(value: timedelta) -> str:
    """The ISO-8601 form of a whole-second ``timedelta`` (``P1DT2H``, ``PT30M``, ``PT0S``)."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{seconds}S" if seconds else "")
    )
    if clock or not days:
        out += "T" + (clock or "0S")
    return out


# --------------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------------


def schedule_gap(expr: str, limit: timedelta) -> timedelta:
    """The largest gap between two consecutive ticks of the cron ``expr`` (searched up to ``limit``)."""
    return _largest_gap(expr, limit)


def _largest_gap(expr: str, limit: timedelta) -> timedelta:
    """The longest time between two consecutive ticks of ``expr`` (wall clock, DST ignored).

    Without a day-of-month or month restriction the ticks repeat every week and the gaps are
    computed from the expanded fields (no iteration); otherwise ticks are walked for a year (at most
    400 ticks: such schedules are sparse), stopping as soon as a gap exceeds ``limit``.
    """
    minutes, hours, dom, month, dow = croniter(expr).expanded
    if dom == ["*"] and month == ["*"]:
        every = list(range(60)), list(range(24)), list(range(7))
        ms, hs = (every[0] if minutes == ["*"] else minutes), (every[1] if hours == ["*"] else hours)
        days = every[2] if dow == ["*"] else sorted({int(d) % 7 for d in dow})
        ticks = sorted(d * 1440 + int(h) * 60 + int(m) for d in days for h in hs for m in ms)
        gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)] + [ticks[0] + 7 * 1440 - ticks[-1]]
        return timedelta(minutes=max(gaps))
    it = croniter(expr, datetime(2026, 1, 1))
    prev = it.get_next(datetime)
    end = prev + timedelta(days=366)
    largest = timedelta(0)
    for _ in range(400):
        tick = it.get_next(datetime)
        largest = max(largest, tick - prev)
        if largest > limit or tick > end:
            break
        prev = tick
    return largest
