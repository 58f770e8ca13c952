"""The DR policy: model, loader and validator.

The policy file (default ``include/dr_policy.yaml``; ``AWSDR_POLICY`` names another) says what
to protect, how often, where to copy it and how long to keep it. This module turns it into frozen
dataclasses (:class:`Policy`, :class:`Plan`, ...) or raises exactly one :class:`PolicyError` that
names the file, the line, the field and what was expected, so a DAG file importing a bad policy
fails with one readable line and nothing touches AWS.

How it works:

1. The YAML is *composed* into nodes (``yaml.compose`` with a ``SafeLoader`` subclass), so every
   key and value keeps its line. Walking the nodes builds plain Python data, rejects duplicate
   keys, non-string keys and unknown tags, and records the line of every path.
2. The data is validated while the dataclasses are built. The first problem raises with the path
   of the offending value (or, for a missing key, the path of its parent mapping).
3. If that passed, the data is also checked against :func:`policy_json_schema` (the JSON Schema
   generated from the same key tables, constants and defaults as the validator), as a second line
   of defence against the two drifting apart.

The key tables below (``_POLICY_KEYS``, ``_PLAN_KEYS``, ...) are the single source of truth for
allowed keys, required keys, defaults and documentation; ``python -m awsdr.policy --schema``
prints the schema committed as ``include/dr_policy.schema.json``.

Pure Python: no Airflow and no boto3 imports.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import CroniterBadDateError, croniter

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AWS_REGIONS",
    "DEFAULT_COPY_QUOTAS",
    "DEFAULT_POLICY_PATH",
    "FAILOVER_STRATEGIES",
    "POLICY_ENV_VAR",
    "RESOURCE_TYPES",
    "AmiLaunch",
    "AsgStandby",
    "AuditLock",
    "Capacity",
    "Dns",
    "DnsRecord",
    "Drill",
    "EcsStandby",
    "Failover",
    "FailoverApproval",
    "FailoverBucket",
    "FailoverDatabase",
    "FailoverReadiness",
    "FailoverVerify",
    "Gfs",
    "HealthCheck",
    "Plan",
    "Policy",
    "PolicyError",
    "Retention",
    "Selector",
    "Vault",
    "Verify",
    "load_policy",
    "parse_duration",
    "parse_policy",
    "policy_json_schema",
]

# --------------------------------------------------------------------------------------------
# Constants (shared by the validator and the JSON Schema)
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

#: Environment variable naming the policy file.
POLICY_ENV_VAR = "AWSDR_POLICY"
#: The policy used when neither a path nor ``AWSDR_POLICY`` is given.
DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[3] / "include" / "dr_policy.yaml"

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

_DURATION_EXPECTED = "an ISO-8601 duration in weeks, days, hours, minutes or seconds, e.g. PT30M, PT1H, P1D"
_CRON_EXPECTED = "a 5-field cron expression (minute hour day month weekday), e.g. '0 * * * *'; quote it"
_DATETIME_EXPECTED = "an ISO-8601 timestamp with a timezone, e.g. 2026-11-01T00:00:00Z"

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


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class FailoverBucket:
    """An S3 bucket applications write to: fenced on failover, its DR writes copied home on failback.

    :param name: the bucket in the primary region.
    :param dr: DR region -> the bucket applications use there (absent: the DR bucket the copies go to).
    """

    name: str
    dr: dict[str, str] = field(default_factory=dict)


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


# --------------------------------------------------------------------------------------------
# Durations
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
# Key tables: allowed keys, required keys, raw defaults, docs and JSON Schema fragments
# --------------------------------------------------------------------------------------------

_ABSENT: Any = object()


@dataclass(frozen=True)
class _Key:
    """One allowed key of a mapping: its schema fragment, documentation and raw YAML default."""

    schema: dict[str, Any]
    doc: str
    required: bool = False
    #: The default as it would be written in YAML (parsed by the same code as user values);
    #: ``_ABSENT`` means the field is None when the key is absent (or, if required, an error).
    default: Any = _ABSENT


def _str_schema(pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        out["pattern"] = pattern
    out.update(extra)
    return out


def _int_schema(minimum: int | None = None, maximum: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def _object_schema(keys: Mapping[str, _Key]) -> dict[str, Any]:
    """The schema of a mapping with a fixed set of keys."""
    props: dict[str, Any] = {}
    for name, spec in keys.items():
        prop = copy.deepcopy(spec.schema)
        prop["description"] = spec.doc
        if spec.default is not _ABSENT:
            prop["default"] = copy.deepcopy(spec.default)
        props[name] = prop
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    required = [name for name, spec in keys.items() if spec.required]
    if required:
        out["required"] = required
    return out


_REGION_SCHEMA = _str_schema(enum=sorted(AWS_REGIONS))
_DURATION_SCHEMA = _str_schema(DURATION_PATTERN)
_CRON_SCHEMA = _str_schema(CRON_PATTERN)
_DATETIME_SCHEMA = _str_schema(DATETIME_PATTERN)
_REGION_LIST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": _REGION_SCHEMA,
    "minItems": 1,
    "uniqueItems": True,
}

#: The shortest ``archive_after``: the archive tier is for points kept for months (AWS bills an
#: archived snapshot for at least 90 days and a restore from it takes up to 72 hours).
MIN_ARCHIVE_AFTER = timedelta(days=1)
#: S3 storage classes ``archive_class`` takes (the archive ones a lifecycle rule can move to)
S3_ARCHIVE_CLASSES: tuple[str, ...] = ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")

_GFS_KEYS: dict[str, _Key] = {
    **{
        name: _Key(
            _int_schema(0), f"how many {name} recovery points to keep (the newest point of each {unit})"
        )
        for name, unit in zip(GFS_CLASSES, ("hour", "day", "ISO week", "month", "year"), strict=True)
    },
    "archive_after": _Key(
        _DURATION_SCHEMA,
        "EBS snapshots kept longer than this (by window, ISO-8601 duration, at least P1D) move to the "
        "archive tier; never the newest point of a resource, never an unmanaged or held one (absent: "
        "never archived). AWS bills an archived snapshot for at least 90 days and a restore from the "
        "archive takes up to 72 hours: choose an age after which points are kept 90 more days. S3, in "
        "dr only: DR bucket object versions no longer current for this long move to archive_class "
        "(a lifecycle rule on the DR buckets this product made; the newest point's versions are "
        "current, so they never move)",
    ),
    "archive_class": _Key(
        {"type": "string", "enum": list(S3_ARCHIVE_CLASSES)},
        "the S3 storage class for archive_after (default GLACIER_IR: read at once, no restore; GLACIER "
        "and DEEP_ARCHIVE are cheaper and need a restore of hours before a copy or a restore reads a "
        "version, which the product requests and waits for)",
    ),
}

_RETENTION_KEYS: dict[str, _Key] = {
    "primary": _Key(
        _object_schema(_GFS_KEYS), "GFS counts for points in the primary region", default={"daily": 7}
    ),
    "dr": _Key(
        _object_schema(_GFS_KEYS),
        "GFS counts for copies in each DR region",
        default={"daily": 14, "weekly": 8, "monthly": 12},
    ),
}

_SELECT_KEYS: dict[str, _Key] = {
    "tags": _Key(
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"minLength": 1, "maxLength": 128},
            "additionalProperties": _str_schema(maxLength=256),
        },
        "resources carrying ALL these tags (key: value) are protected",
        required=True,
    ),
    "types": _Key(
        {"type": "array", "items": {"enum": list(RESOURCE_TYPES)}, "minItems": 1, "uniqueItems": True},
        "resource types to protect (absent: the data types ebs, ec2, rds, aurora, dynamodb, s3; ecr and "
        "lambda are named when wanted)",
        default=list(DEFAULT_TYPES),
    ),
}

_EC2_KEYS: dict[str, _Key] = {
    "reboot": _Key(
        {"type": "boolean"}, "reboot EC2 instances for file-system-consistent images", default=False
    ),
}

_VERIFY_KEYS: dict[str, _Key] = {
    "schedule": _Key(_CRON_SCHEMA, "cron schedule of restore verification", default="0 3 * * *"),
    "sample": _Key(_int_schema(1), "how many resources to restore per run (absent: all)"),
}

_PLAN_KEYS: dict[str, _Key] = {
    "schedule": _Key(_CRON_SCHEMA, "cron schedule of backups (policy timezone)", required=True),
    "copy_schedule": _Key(_CRON_SCHEMA, "cron schedule of cross-region copies", default="30 */6 * * *"),
    "rpo": _Key(_DURATION_SCHEMA, "recovery point objective (ISO-8601 duration)", required=True),
    "rto": _Key(_DURATION_SCHEMA, "recovery time objective (ISO-8601 duration)", required=True),
    "start_date": _Key(_DATETIME_SCHEMA, "first window of this plan (absent: the policy start_date)"),
    "max_catchup": _Key(_int_schema(1), "missed windows to catch up (absent: the policy max_catchup)"),
    "select": _Key(_object_schema(_SELECT_KEYS), "which resources this plan protects", required=True),
    "retention": _Key(
        _object_schema(_RETENTION_KEYS),
        "how many recovery points to keep",
        default={name: spec.default for name, spec in _RETENTION_KEYS.items()},
    ),
    "ec2": _Key(_object_schema(_EC2_KEYS), "EC2 options", default={}),
    "verify": _Key(_object_schema(_VERIFY_KEYS), "restore verification options", default={}),
}

_VAULT_KEYS: dict[str, _Key] = {
    "account_id": _Key(
        {"anyOf": [_str_schema(ACCOUNT_ID_PATTERN), _int_schema(10**11, 10**12 - 1)]},
        "12-digit id of the vault account",
        required=True,
    ),
    "role_arn": _Key(
        _str_schema(ROLE_ARN_PATTERN), "role in the vault account assumed for copies", required=True
    ),
    "regions": _Key(_REGION_LIST_SCHEMA, "DR regions whose copies go to the vault (absent: all)"),
}

_NOTIFICATION_KEYS: dict[str, _Key] = {
    "sns_topic_arn": _Key(_str_schema(SNS_TOPIC_ARN_PATTERN), "SNS topic for alerts (absent: no SNS)"),
}

# --- failover ---------------------------------------------------------------------------------


def _region_map_schema(values: dict[str, Any], min_properties: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "propertyNames": _REGION_SCHEMA, "additionalProperties": values}
    if min_properties:
        out["minProperties"] = min_properties
    return out


_CAPACITY_KEYS: dict[str, _Key] = {
    name: _Key(_int_schema(0), f"{name} size of the group", default=0) for name in ("min", "desired", "max")
}

_DNS_RECORD_KEYS: dict[str, _Key] = {
    "name": _Key(_str_schema(DOMAIN_PATTERN), "the record name, inside the zone", required=True),
    "type": _Key(_str_schema(enum=list(DNS_RECORD_TYPES)), "record type", default="CNAME"),
    "ttl": _Key(_int_schema(0, 2147483647), "TTL in seconds", default=60),
    "primary": _Key(_str_schema(minLength=1), "the value serving from the primary region", required=True),
    "dr": _Key(
        _region_map_schema(_str_schema(minLength=1), 1),
        "DR region -> the value serving from that region",
        required=True,
    ),
    "set_identifiers": _Key(
        _region_map_schema(_str_schema(minLength=1, maxLength=128)),
        "weighted routing: region -> set identifier (absent: the region name)",
        default={},
    ),
    "weights": _Key(
        _region_map_schema(_int_schema(0, 255)),
        "weighted routing: region -> normal weight (absent: 100)",
        default={},
    ),
}

_DNS_KEYS: dict[str, _Key] = {
    "zone": _Key(_str_schema(DOMAIN_PATTERN), "the public or private hosted zone name", required=True),
    "routing": _Key(
        _str_schema(enum=list(DNS_ROUTING)),
        "simple: one record per name; weighted: one per region (active-active)",
        default="simple",
    ),
    "records": _Key(
        {"type": "array", "minItems": 1, "items": _object_schema(_DNS_RECORD_KEYS)},
        "the records traffic moves with",
        required=True,
    ),
}

_HEALTH_CHECK_KEYS: dict[str, _Key] = {
    "url": _Key(_str_schema(HTTP_URL_PATTERN), "an http(s) URL that answers 2xx/3xx when healthy"),
    "id": _Key(_str_schema(HEALTH_CHECK_ID_PATTERN), "a Route 53 health check id"),
    "name": _Key(
        _str_schema(minLength=1, maxLength=255),
        "a Route 53 health check found by its Name tag or caller reference (ids differ per account)",
    ),
    "region": _Key(
        _REGION_SCHEMA, "check it only when this region serves (failover: the DR region; failback: primary)"
    ),
}

_DATABASE_KEYS: dict[str, _Key] = {
    "rds": _Key(_str_schema(RDS_ID_PATTERN), "an RDS DB instance identifier"),
    "aurora": _Key(_str_schema(RDS_ID_PATTERN), "an Aurora DB cluster identifier"),
    "dynamodb": _Key(_str_schema(DYNAMODB_TABLE_PATTERN), "a DynamoDB table name"),
    "replicas": _Key(
        _region_map_schema(_str_schema(minLength=1)),
        "DR region -> standby (read replica, secondary cluster, global-table replica); absent: restore",
        default={},
    ),
    "global_cluster": _Key(
        _str_schema(GLOBAL_CLUSTER_PATTERN), "Aurora only: the global database to fail over"
    ),
    "dns": _Key(
        _str_schema(DOMAIN_PATTERN),
        "RDS/Aurora: the Route 53 CNAME clients reach the database by (moved with the data layer; "
        "the write freeze of a failback)",
    ),
}

_BUCKET_KEYS: dict[str, _Key] = {
    "s3": _Key(_str_schema(BUCKET_PATTERN), "the bucket in the primary region", required=True),
    "dr": _Key(
        _region_map_schema(_str_schema(BUCKET_PATTERN)),
        "DR region -> the bucket applications write to there (absent: the DR copy bucket)",
        default={},
    ),
}

_STACK_KEYS: dict[str, _Key] = {
    "name": _Key(_str_schema(STACK_NAME_PATTERN), "the stack's name in the DR region", required=True),
    "template": _Key(
        _str_schema(minLength=1),
        "an https:// S3 URL of the template, or a template file relative to the policy file",
        required=True,
    ),
    "region": _Key(_str_schema(), "the DR region it is deployed in (absent: the only DR region)"),
    "parameters": _Key(
        {
            "type": "object",
            "propertyNames": {"pattern": STACK_PARAMETER_PATTERN},
            "additionalProperties": {
                "anyOf": [
                    {"type": ["string", "number", "boolean"]},
                    {"type": "array", "items": {"type": ["string", "number"]}},
                ]
            },
        },
        "template parameters: name -> value",
        default={},
    ),
    "capabilities": _Key(
        {"type": "array", "items": {"enum": list(STACK_CAPABILITIES)}},
        "what the template may create that CloudFormation makes you acknowledge (IAM resources, macros)",
        default=[],
    ),
    "role_arn": _Key(
        _str_schema(ROLE_ARN_PATTERN), "the service role CloudFormation uses (absent: the runner's)"
    ),
}

LAMBDA_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ENV_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
_FUNCTION_KEYS: dict[str, _Key] = {
    "name": _Key(
        _str_schema(LAMBDA_NAME_PATTERN),
        "the function's name (a plan protects it: type lambda)",
        required=True,
    ),
    "region": _Key(_str_schema(), "the DR region it is re-created in (absent: the only DR region)"),
    "environment": _Key(
        {
            "type": "object",
            "propertyNames": {"pattern": ENV_NAME_PATTERN},
            "additionalProperties": {"type": "string"},
        },
        "environment variable values in the DR region (points hold names only; no secrets here)",
        default={},
    ),
}

_APPROVAL_KEYS: dict[str, _Key] = {
    "required": _Key(
        {"type": "boolean"},
        "a real failover/failback waits for an Airflow approval (false: approved by policy, audited)",
        default=True,
    ),
    "timeout": _Key(
        _DURATION_SCHEMA, "no answer within this fails the run before any change", default="PT30M"
    ),
}

_ASG_KEYS: dict[str, _Key] = {
    "asg": _Key(_str_schema(ASG_NAME_PATTERN), "the standby Auto Scaling group's name", required=True),
    "region": _Key(_REGION_SCHEMA, "its DR region", required=True),
    "capacity": _Key(_object_schema(_CAPACITY_KEYS), "its size when serving", required=True),
    "resting": _Key(_object_schema(_CAPACITY_KEYS), "its size while standing by", default={}),
    "instance_type": _Key(
        _str_schema(INSTANCE_TYPE_PATTERN), "its instances' type, for the console's cost estimate only"
    ),
}

_ECS_KEYS: dict[str, _Key] = {
    "cluster": _Key(_str_schema(ECS_NAME_PATTERN), "ECS cluster name", required=True),
    "service": _Key(_str_schema(ECS_NAME_PATTERN), "ECS service name", required=True),
    "region": _Key(_REGION_SCHEMA, "its DR region", required=True),
    "desired": _Key(_int_schema(0), "desired task count when serving", required=True),
    "resting": _Key(_int_schema(0), "desired task count while standing by", default=0),
    "vcpu": _Key({"type": "number", "exclusiveMinimum": 0}, "one task's vCPUs (cost estimate)", default=0.25),
    "memory_gib": _Key(
        {"type": "number", "exclusiveMinimum": 0}, "one task's memory in GiB (cost estimate)", default=0.5
    ),
}

_ECS_ITEM_KEYS: dict[str, _Key] = {
    "ecs": _Key(_object_schema(_ECS_KEYS), "a standby ECS service", required=True),
}

_AMI_LAUNCH_KEYS: dict[str, _Key] = {
    "source": _Key(
        _str_schema(minLength=1, maxLength=255), "protected instance id or Name tag", required=True
    ),
    "instance_type": _Key(_str_schema(INSTANCE_TYPE_PATTERN), "instance type to launch", required=True),
    "subnet": _Key(
        {"anyOf": [_str_schema(SUBNET_PATTERN), _region_map_schema(_str_schema(SUBNET_PATTERN))]},
        "subnet id (one DR region) or DR region -> subnet id (absent: default VPC)",
    ),
    "count": _Key(_int_schema(1, 100), "instances to launch", default=1),
}

_DRILL_KEYS: dict[str, _Key] = {
    "schedule": _Key(
        {"anyOf": [_CRON_SCHEMA, {"type": "null"}]},
        "cron schedule of dr_failover_drill (null: manual only)",
        default=None,
    ),
    "zone_prefix": _Key(
        _str_schema(DNS_LABEL_PATTERN), "drill records live under <zone_prefix>.<zone>", default="drill"
    ),
}

_FAILOVER_READINESS_KEYS: dict[str, _Key] = {
    "verified_within": _Key(
        _DURATION_SCHEMA, "a DR copy restore-verified longer ago than this is 'unverified'", default="P7D"
    ),
    "unverified": _Key(
        _str_schema(enum=["warning", "error"]),
        "what an unverified copy is in the pre-flight",
        default="warning",
    ),
    "stale_copies": _Key(
        _str_schema(enum=["warning", "error"]),
        "what a newest DR copy older than its plan's RPO is in the pre-flight",
        default="error",
    ),
}

_FAILOVER_VERIFY_KEYS: dict[str, _Key] = {
    "unknown": _Key(
        _str_schema(enum=["warn", "fail"]),
        "a health check without data (no checker observations): warn and go on, or fail",
        default="warn",
    ),
    "timeout": _Key(_DURATION_SCHEMA, "HTTP health check timeout", default="PT5S"),
}

_FAILOVER_KEYS: dict[str, _Key] = {
    "strategy": _Key(
        _str_schema(enum=list(FAILOVER_STRATEGIES)),
        "default DR strategy of the trigger form",
        default="pilot-light",
    ),
    "dns": _Key(_object_schema(_DNS_KEYS), "Route 53 records moved by the traffic step (absent: none)"),
    "health_checks": _Key(
        {
            "type": "array",
            "items": {
                **_object_schema(_HEALTH_CHECK_KEYS),
                "oneOf": [{"required": [k]} for k in ("url", "id", "name")],
            },
        },
        "checks that must pass after traffic moved: {url: ...}, {id: ...} or {name: ...}",
        default=[],
    ),
    "databases": _Key(
        {
            "type": "array",
            "items": {
                **_object_schema(_DATABASE_KEYS),
                "oneOf": [{"required": [k]} for k in DATABASE_KINDS],
            },
        },
        "databases the data layer brings up",
        default=[],
    ),
    "compute": _Key(
        {"type": "array", "items": {"anyOf": [_object_schema(_ASG_KEYS), _object_schema(_ECS_ITEM_KEYS)]}},
        "standby Auto Scaling groups ({asg: ...}) and ECS services ({ecs: {...}})",
        default=[],
    ),
    "ami_launch": _Key(
        {"type": "array", "items": _object_schema(_AMI_LAUNCH_KEYS)},
        "backup & restore: instances launched from the copied AMIs",
        default=[],
    ),
    "drill": _Key(_object_schema(_DRILL_KEYS), "failover drills", default={}),
    "readiness": _Key(_object_schema(_FAILOVER_READINESS_KEYS), "pre-flight strictness", default={}),
    "verify": _Key(_object_schema(_FAILOVER_VERIFY_KEYS), "health check options", default={}),
    "primary_kms_key": _Key(
        _str_schema(KMS_KEY_PATTERN),
        "failback: key (primary region) the copies sent home are encrypted with (absent: the DR key's alias)",
    ),
    "approval": _Key(_object_schema(_APPROVAL_KEYS), "the go/no-go approval", default={}),
    "buckets": _Key(
        {"type": "array", "items": _object_schema(_BUCKET_KEYS)},
        "S3 buckets applications write to: fenced on failover, DR writes copied home on failback",
        default=[],
    ),
    "stacks": _Key(
        {"type": "array", "items": _object_schema(_STACK_KEYS)},
        "CloudFormation stacks deployed in the DR region first in the compute phase (backup & restore, pilot light)",
        default=[],
    ),
    "functions": _Key(
        {"type": "array", "items": _object_schema(_FUNCTION_KEYS)},
        "Lambda functions re-created in the DR region from their newest DR copy under their own names "
        "(backup & restore, pilot light)",
        default=[],
    ),
}

AUDIT_LOCK_MODES = ("governance", "compliance")
_AUDIT_KEYS: dict[str, _Key] = {
    "object_lock": _Key(
        {"enum": list(AUDIT_LOCK_MODES)},
        "S3 Object Lock mode of the audit records (compliance: nobody, not even root, can delete them early)",
        default="governance",
    ),
    "retention": _Key(_DURATION_SCHEMA, "how long each audit record is locked", default="P2557D"),
}

_COMPLIANCE_KEYS: dict[str, _Key] = {
    "verify_within": _Key(
        _DURATION_SCHEMA,
        "a restore verified at most this long ago passes the compliance control",
        default="P7D",
    ),
    "min_retention": _Key(
        _DURATION_SCHEMA, "every plan keeps points at least this long (primary and DR)", default="P7D"
    ),
}

_POLICY_KEYS: dict[str, _Key] = {
    "version": _Key({"type": "integer", "const": 1}, "policy format version (1)", required=True),
    "timezone": _Key(_str_schema(), "IANA timezone of the cron schedules", default="UTC"),
    "primary_region": _Key(_REGION_SCHEMA, "region of the protected workloads", required=True),
    "dr_regions": _Key(
        _REGION_LIST_SCHEMA, "regions receiving copies; the first holds the catalog", required=True
    ),
    "catalog_bucket": _Key(
        _str_schema(BUCKET_PATTERN), "S3 bucket (first DR region) for manifests and audit", required=True
    ),
    "kms_keys": _Key(
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _REGION_SCHEMA,
            "additionalProperties": _str_schema(KMS_KEY_PATTERN),
        },
        "KMS key (alias/..., key id or ARN) per DR region that copies are encrypted with",
        required=True,
    ),
    "start_date": _Key(_DATETIME_SCHEMA, "first window of every plan", default="2026-01-01T00:00:00Z"),
    "max_catchup": _Key(_int_schema(1), "missed windows the scheduler catches up after an outage", default=3),
    "late_after": _Key(
        _DURATION_SCHEMA, "a capture this long after its window is tagged late", default="PT15M"
    ),
    "copy_quotas": _Key(
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                kind: {**_int_schema(1, 100), "default": quota} for kind, quota in DEFAULT_COPY_QUOTAS.items()
            },
        },
        "concurrent copy jobs per resource type (given types override the defaults)",
        default=dict(DEFAULT_COPY_QUOTAS),
    ),
    "region_concurrency": _Key(_int_schema(1, 100), "concurrent API workers per region", default=10),
    "orphan_grace": _Key(
        _DURATION_SCHEMA, "keep points of vanished resources this long before pruning", default="P90D"
    ),
    "max_delete_fraction": _Key(
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "pruning refuses to delete more than this fraction of a resource's points in one run",
        default=0.5,
    ),
    "notifications": _Key(_object_schema(_NOTIFICATION_KEYS), "where alerts go", default={}),
    "vault": _Key(_object_schema(_VAULT_KEYS), "cross-account vault (absent: copies stay in this account)"),
    "audit": _Key(
        _object_schema(_AUDIT_KEYS), "S3 Object Lock of the audit records in the catalog bucket", default={}
    ),
    "compliance": _Key(
        _object_schema(_COMPLIANCE_KEYS), "thresholds of the compliance report (dr_posture)", default={}
    ),
    "plans": _Key(
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": PLAN_NAME_PATTERN},
            "additionalProperties": _object_schema(_PLAN_KEYS),
        },
        "protection plans by name (lowercase, digits, underscores; at most 40 characters)",
        required=True,
    ),
    "failover": _Key(
        _object_schema(_FAILOVER_KEYS),
        "the failover/failback runbook (absent: dr_failover and dr_failback refuse to run)",
    ),
}


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the policy file, built from the validator's key tables."""
    schema = _object_schema(_POLICY_KEYS)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:awsdr:dr-policy:1",
        "title": "AWS DR Pipelines policy",
        "description": "include/dr_policy.yaml; generated by `python -m awsdr.policy --schema`.",
        **schema,
    }


# --------------------------------------------------------------------------------------------
# YAML: nodes -> plain data, with the line of every path
# --------------------------------------------------------------------------------------------

_PathT = tuple[str | int, ...]
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """Safe loader used to compose nodes (with their marks) and to construct scalars."""


class _Invalid(Exception):
    """A validation failure at ``path``; turned into a :class:`PolicyError` with the path's line."""

    def __init__(self, path: _PathT, message: str, expected: str, *, at_key: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.expected = expected
        self.at_key = at_key


@dataclass
class _Lines:
    """1-based lines of the keys and values of a document, by path."""

    key: dict[_PathT, int] = field(default_factory=dict)
    value: dict[_PathT, int] = field(default_factory=dict)
    collections: set[_PathT] = field(default_factory=set)

    def line_for(self, path: _PathT, *, at_key: bool = False) -> int | None:
        """The key's line (``at_key``, or a mapping/list value), else the value's line.

        A path that does not exist (a missing key) gets the line of its nearest existing parent.
        """
        if path in self.value or path in self.key:
            if path in self.key and (at_key or path in self.collections or path not in self.value):
                return self.key[path]
            return self.value[path]
        parent = path
        while parent:
            parent = parent[:-1]
            if parent in self.key:
                return self.key[parent]
            if parent in self.value:
                return self.value[parent]
        return None

    def absorb(self, other: _Lines, prefix: _PathT, keys: set[str]) -> None:
        """Copy ``other``'s entries under ``prefix + (k,)`` for ``k`` in ``keys`` (merge keys)."""
        n = len(prefix)
        for table, mine in ((other.key, self.key), (other.value, self.value)):
            for p, line in table.items():
                if len(p) > n and p[n] in keys:
                    mine[p] = line
        self.collections |= {p for p in other.collections if len(p) > n and p[n] in keys}


def _dotted(path: _PathT) -> str:
    """``("plans", "gold", "select", "types", 2)`` -> ``plans.gold.select.types[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<document>"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Walker:
    """Turns composed nodes into dicts, lists and scalars, recording the line of every path."""

    def __init__(self) -> None:
        self.ctor = _Loader("")
        self.lines = _Lines()
        self._active: set[int] = set()

    def walk(self, node: yaml.Node, path: _PathT, lines: _Lines | None = None) -> Any:
        lines = self.lines if lines is None else lines
        lines.value[path] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.ctor.construct_object(node, deep=True)
            except yaml.YAMLError as err:
                raise _Invalid(
                    path, f"cannot read value: {_yaml_problem(err)}", "a plain YAML value"
                ) from None
        lines.collections.add(path)
        if id(node) in self._active:
            raise _Invalid(path, "recursive YAML alias", "a document without self-references")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise _Invalid(path, f"unsupported YAML tag {node.tag}", "a plain list")
                return [self.walk(item, (*path, i), lines) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path, lines)
            raise _Invalid(path, "unsupported YAML node", "a mapping, list or scalar")  # pragma: no cover
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: _PathT, lines: _Lines) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            raise _Invalid(path, f"unsupported YAML tag {node.tag}", "a plain mapping")
        out: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self._key(key_node, path, lines)
            kp = (*path, key)
            if key in out:
                first = lines.key[kp]
                lines.key[kp] = key_node.start_mark.line + 1
                raise _Invalid(
                    kp, f"duplicate key {key!r} (first at line {first})", "each key once", at_key=True
                )
            lines.key[kp] = key_node.start_mark.line + 1
            out[key] = self.walk(value_node, kp, lines)
        # YAML merge keys (<<: *base): explicit keys win; earlier merged mappings win over later.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    raise _Invalid(
                        (*path, "<<"), "a merge key must name a mapping", "<<: *anchor", at_key=True
                    )
                sub_lines = _Lines()
                merged = self.walk(src, path, sub_lines)
                new = {k for k in merged if k not in out}
                out.update({k: merged[k] for k in merged if k in new})
                lines.absorb(sub_lines, path, new)
        return out

    def _key(self, key_node: yaml.Node, path: _PathT, lines: _Lines) -> str:
        line = key_node.start_mark.line + 1
        if isinstance(key_node, yaml.ScalarNode):
            key = self.ctor.construct_object(key_node, deep=True)
            if isinstance(key, str):
                return key
            bad: _PathT = (*path, str(key_node.value))
            lines.key[bad] = line
            raise _Invalid(
                bad,
                f"key {key_node.value!r} is read as {_describe(key)}",
                "a string key; quote it",
                at_key=True,
            )
        bad = (*path, "?")
        lines.key[bad] = line
        raise _Invalid(bad, "a mapping key must be a plain string", "a string key", at_key=True)


def _yaml_problem(err: yaml.YAMLError) -> str:
    """``problem`` of a YAML error, after its ``context`` (with the context's line if elsewhere)."""
    if isinstance(err, yaml.MarkedYAMLError):
        context = err.context or ""
        if context and err.context_mark is not None and err.problem_mark is not None:
            if err.context_mark.line != err.problem_mark.line:
                context += f" (from line {err.context_mark.line + 1})"
        parts = [p for p in (context, err.problem) if p]
        return "; ".join(parts) or "invalid YAML"
    return str(err)


def _compose(text: str, source: str) -> tuple[Any, _Lines]:
    """Parse ``text`` into plain data and the lines of its paths; YAML errors raise PolicyError."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError(
            source, line, "<yaml>", f"invalid YAML: {_yaml_problem(err)}", "valid YAML"
        ) from None
    except yaml.reader.ReaderError as err:
        line = text[: err.position].count("\n") + 1
        raise PolicyError(source, line, "<yaml>", f"invalid YAML: {err.reason}", "printable text") from None
    except yaml.YAMLError as err:
        raise PolicyError(source, None, "<yaml>", f"invalid YAML: {err}", "valid YAML") from None
    if node is None:
        raise PolicyError(
            source, 1, "<document>", "the policy is empty", "a mapping with version, plans, ..."
        )
    walker = _Walker()
    try:
        data = walker.walk(node, ())
    except _Invalid as inv:
        raise _to_error(inv, walker.lines, source) from None
    return data, walker.lines


def _to_error(inv: _Invalid, lines: _Lines, source: str) -> PolicyError:
    line = lines.line_for(inv.path, at_key=inv.at_key)
    return PolicyError(source, line, _dotted(inv.path), inv.message, inv.expected)


# --------------------------------------------------------------------------------------------
# Value checks
# --------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, datetime):
        return f"the timestamp {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _suggest(word: str, choices: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _get(m: Mapping[str, Any], name: str, keys: Mapping[str, _Key]) -> Any:
    """``m[name]``, else a fresh copy of the key's raw default (None when it has none)."""
    if name in m:
        return m[name]
    default = keys[name].default
    return None if default is _ABSENT else copy.deepcopy(default)


def _keyed(value: Any, path: _PathT, keys: Mapping[str, _Key], what: str) -> dict[str, Any]:
    """Check that ``value`` is a mapping with known keys only and all required keys."""
    if not isinstance(value, dict):
        raise _Invalid(path, f"got {_describe(value)}", f"{what}: a mapping with keys {', '.join(keys)}")
    for key in value:
        if key not in keys:
            raise _Invalid(
                (*path, key),
                f"unknown key {key!r}{_suggest(key, tuple(keys))}",
                f"one of {', '.join(keys)}",
                at_key=True,
            )
    for name, spec in keys.items():
        if spec.required and name not in value:
            where = f"in {_dotted(path)}" if path else "at the top level"
            raise _Invalid((*path, name), f"missing required key {name!r} {where}", f"{name}: {spec.doc}")
    return value


def _dict(value: Any, path: _PathT, expected: str, *, non_empty: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"got {_describe(value)}", expected)
    if non_empty and not value:
        raise _Invalid(path, "must not be empty", expected)
    return value


def _list(value: Any, path: _PathT, expected: str, *, non_empty: bool = True) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(path, f"got {_describe(value)}", expected)
    if non_empty and not value:
        raise _Invalid(path, "must not be empty", expected)
    return value


def _int(value: Any, path: _PathT, lo: int | None = None, hi: int | None = None) -> int:
    bounds = (
        f"an integer from {lo} to {hi}"
        if lo is not None and hi is not None
        else f"an integer >= {lo}"
        if lo is not None
        else "an integer"
    )
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(path, f"got {_describe(value)}", bounds)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _Invalid(path, f"{value} is out of range", bounds)
    return value


def _str(value: Any, path: _PathT, expected: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(path, f"got {_describe(value)}", expected)
    return value


def _matching(value: Any, path: _PathT, pattern: str, expected: str) -> str:
    text = _str(value, path, expected)
    if re.fullmatch(pattern, text) is None:
        raise _Invalid(path, f"{text!r} is not valid", expected)
    return text


def _bool(value: Any, path: _PathT) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(path, f"got {_describe(value)}", "true or false")
    return value


def _duration(value: Any, path: _PathT, *, allow_zero: bool = False) -> timedelta:
    text = _str(value, path, _DURATION_EXPECTED)
    try:
        result = parse_duration(text)
    except ValueError as err:
        raise _Invalid(path, str(err), _DURATION_EXPECTED) from None
    if not allow_zero and not result:
        raise _Invalid(path, f"{text!r} is zero", "a duration longer than zero")
    return result


def _cron(value: Any, path: _PathT) -> str:
    text = _str(value, path, _CRON_EXPECTED)
    expr = " ".join(text.split())
    if len(text.split()) != 5:
        raise _Invalid(path, f"{text!r} has {len(text.split())} fields, not 5", _CRON_EXPECTED)
    if not croniter.is_valid(expr):
        raise _Invalid(path, f"{text!r} is not a valid cron expression", _CRON_EXPECTED)
    try:
        croniter(expr, datetime(2026, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise _Invalid(path, f"{text!r} never fires", "a cron expression that matches real dates") from None
    return expr


def _datetime(value: Any, path: _PathT, tz: ZoneInfo) -> datetime:
    """An aware UTC datetime from a YAML timestamp, date or ISO string; a date is midnight in ``tz``."""
    if isinstance(value, str):
        if re.fullmatch(DATETIME_PATTERN, value.strip()) is None:
            raise _Invalid(path, f"{value!r} is not an ISO-8601 timestamp", _DATETIME_EXPECTED)
        parsed = datetime.fromisoformat(value.strip())
        value = parsed.date() if len(value.strip()) == 10 else parsed
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _Invalid(path, f"{value.isoformat()} has no timezone", _DATETIME_EXPECTED)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=tz).astimezone(UTC)
    raise _Invalid(path, f"got {_describe(value)}", _DATETIME_EXPECTED)


def _region(value: Any, path: _PathT) -> str:
    expected = "an AWS region name such as ap-northeast-2"
    name = _str(value, path, expected)
    if name not in AWS_REGIONS:
        raise _Invalid(path, f"unknown AWS region {name!r}{_suggest(name, AWS_REGIONS)}", expected)
    return name


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _arn_partition(arn: str) -> str:
    return arn.split(":", 2)[1]


def _timezone(value: Any, path: _PathT) -> ZoneInfo:
    expected = "an IANA timezone name such as UTC or Asia/Seoul"
    name = _str(value, path, expected)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(path, f"unknown timezone {name!r}", expected) from None


# --------------------------------------------------------------------------------------------
# Building the model
# --------------------------------------------------------------------------------------------


def _gfs(value: Any, path: _PathT) -> Gfs:
    m = _keyed(value, path, _GFS_KEYS, "GFS retention counts")
    counts = {name: _int(m[name], (*path, name), 0) for name in GFS_CLASSES if name in m}
    if not any(counts.values()):
        raise _Invalid(
            path,
            "keeps nothing (all counts are zero)",
            "at least one of hourly/daily/weekly/monthly/yearly > 0",
        )
    archive_after = None
    if "archive_after" in m:
        where = (*path, "archive_after")
        archive_after = _duration(m["archive_after"], where)
        if archive_after < MIN_ARCHIVE_AFTER:
            raise _Invalid(
                where,
                f"{m['archive_after']!r} is shorter than a day",
                f"a duration of at least {format_duration(MIN_ARCHIVE_AFTER)}, e.g. P90D",
            )
    archive_class = "GLACIER_IR"
    if "archive_class" in m:
        where = (*path, "archive_class")
        archive_class = _choice(m["archive_class"], where, S3_ARCHIVE_CLASSES)
        if archive_after is None:
            raise _Invalid(
                where, "is set but archive_after is not", "archive_after (e.g. P90D) beside archive_class"
            )
    return Gfs(**counts, archive_after=archive_after, archive_class=archive_class)


def _retention(value: Any, path: _PathT) -> Retention:
    m = _keyed(value, path, _RETENTION_KEYS, "retention")
    return Retention(
        primary=_gfs(_get(m, "primary", _RETENTION_KEYS), (*path, "primary")),
        dr=_gfs(_get(m, "dr", _RETENTION_KEYS), (*path, "dr")),
    )


def _selector(value: Any, path: _PathT) -> Selector:
    m = _keyed(value, path, _SELECT_KEYS, "a selector")
    tags_path = (*path, "tags")
    tags_expected = "at least one tag, e.g. {dr-plan: gold}"
    raw_tags = _dict(m["tags"], tags_path, tags_expected, non_empty=True)
    tags: dict[str, str] = {}
    for key, val in raw_tags.items():
        if len(key) > 128 or not key:
            raise _Invalid(
                (*tags_path, key),
                "tag key length out of range",
                "a tag key of 1 to 128 characters",
                at_key=True,
            )
        text = _str(val, (*tags_path, key), "a string tag value (quote values like yes, 1 or 2026-01-01)")
        if len(text) > 256:
            raise _Invalid(
                (*tags_path, key), "tag value is longer than 256 characters", "a tag value of at most 256"
            )
        tags[key] = text
    types_path = (*path, "types")
    types_expected = f"a non-empty list of resource types from {', '.join(RESOURCE_TYPES)}"
    raw_types = _list(_get(m, "types", _SELECT_KEYS), types_path, types_expected)
    types: list[str] = []
    for i, kind in enumerate(raw_types):
        if not isinstance(kind, str) or kind not in RESOURCE_TYPES:
            problem = (
                f"unknown resource type {kind!r}{_suggest(kind, RESOURCE_TYPES)}"
                if isinstance(kind, str)
                else f"got {_describe(kind)}"
            )
            raise _Invalid((*types_path, i), problem, f"one of {', '.join(RESOURCE_TYPES)}")
        if kind in types:
            raise _Invalid((*types_path, i), f"{kind!r} is listed twice", "each type once")
        types.append(kind)
    return Selector(tags=tags, types=tuple(types))


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


def _plan(name: str, value: Any, path: _PathT, tz: ZoneInfo, start_date: datetime, max_catchup: int) -> Plan:
    m = _keyed(value, path, _PLAN_KEYS, f"plan {name!r}")
    ec2 = _keyed(_get(m, "ec2", _PLAN_KEYS), (*path, "ec2"), _EC2_KEYS, "EC2 options")
    verify = _keyed(_get(m, "verify", _PLAN_KEYS), (*path, "verify"), _VERIFY_KEYS, "verify options")
    sample = verify.get("sample")
    schedule = _cron(m["schedule"], (*path, "schedule"))
    rpo = _duration(m["rpo"], (*path, "rpo"))
    gap = _largest_gap(schedule, rpo)
    if gap > rpo:
        raise _Invalid(
            (*path, "schedule"),
            f"{schedule!r} leaves {format_duration(gap)} between windows, longer than the plan's rpo "
            f"{format_duration(rpo)}: the RPO could never be met",
            "a schedule whose windows are at most the rpo apart (or a longer rpo)",
        )
    return Plan(
        name=name,
        schedule=schedule,
        copy_schedule=_cron(_get(m, "copy_schedule", _PLAN_KEYS), (*path, "copy_schedule")),
        rpo=rpo,
        rto=_duration(m["rto"], (*path, "rto")),
        start_date=_datetime(m["start_date"], (*path, "start_date"), tz) if "start_date" in m else start_date,
        max_catchup=_int(m["max_catchup"], (*path, "max_catchup"), 1) if "max_catchup" in m else max_catchup,
        select=_selector(m["select"], (*path, "select")),
        retention=_retention(_get(m, "retention", _PLAN_KEYS), (*path, "retention")),
        ec2_reboot=_bool(_get(ec2, "reboot", _EC2_KEYS), (*path, "ec2", "reboot")),
        verify=Verify(
            schedule=_cron(_get(verify, "schedule", _VERIFY_KEYS), (*path, "verify", "schedule")),
            sample=None if sample is None else _int(sample, (*path, "verify", "sample"), 1),
        ),
    )


def _dr_regions(value: Any, primary: str) -> tuple[str, ...]:
    path: _PathT = ("dr_regions",)
    raw = _list(value, path, "a non-empty list of AWS regions, e.g. [ap-northeast-1]")
    out: list[str] = []
    for i, item in enumerate(raw):
        region = _region(item, (*path, i))
        if region == primary:
            raise _Invalid(
                (*path, i), f"{region} is the primary region", "DR regions other than primary_region"
            )
        if region in out:
            raise _Invalid((*path, i), f"{region} is listed twice", "each DR region once")
        if _partition(region) != _partition(primary):
            raise _Invalid(
                (*path, i),
                f"{region} is in partition {_partition(region)}, the primary in {_partition(primary)}",
                "DR regions in the primary region's partition",
            )
        out.append(region)
    return tuple(out)


def _kms_keys(value: Any, dr_regions: tuple[str, ...]) -> dict[str, str]:
    path: _PathT = ("kms_keys",)
    expected = "a KMS key alias/..., key id or key ARN for every DR region"
    raw = _dict(value, path, f"a mapping of DR region to {expected[2:]}")
    for region in raw:
        if region not in dr_regions:
            raise _Invalid(
                (*path, region),
                f"{region!r} is not a DR region",
                f"one of {', '.join(dr_regions)}",
                at_key=True,
            )
    out: dict[str, str] = {}
    for region in dr_regions:
        if region not in raw:
            raise _Invalid((*path, region), f"no KMS key for DR region {region}", expected)
        key = _matching(raw[region], (*path, region), KMS_KEY_PATTERN, expected)
        if key.startswith("arn:"):
            arn_region = key.split(":")[3]
            if arn_region != region:
                raise _Invalid(
                    (*path, region), f"the key ARN is in {arn_region}, not {region}", f"a key in {region}"
                )
            if _arn_partition(key) != _partition(region):
                raise _Invalid(
                    (*path, region), "the key ARN is in another partition", f"an {_partition(region)} ARN"
                )
        out[region] = key
    return out


def _copy_quotas(value: Any) -> dict[str, int]:
    path: _PathT = ("copy_quotas",)
    raw = _dict(value, path, f"a mapping of resource type ({', '.join(RESOURCE_TYPES)}) to a count")
    out = dict(DEFAULT_COPY_QUOTAS)
    for kind, count in raw.items():
        if kind not in RESOURCE_TYPES:
            raise _Invalid(
                (*path, kind),
                f"unknown resource type {kind!r}{_suggest(kind, RESOURCE_TYPES)}",
                f"one of {', '.join(RESOURCE_TYPES)}",
                at_key=True,
            )
        out[kind] = _int(count, (*path, kind), 1, 100)
    return out


def _vault(value: Any, dr_regions: tuple[str, ...], primary: str) -> Vault:
    path: _PathT = ("vault",)
    m = _keyed(value, path, _VAULT_KEYS, "vault")
    raw_account = m["account_id"]
    if isinstance(raw_account, int) and not isinstance(raw_account, bool) and len(str(raw_account)) == 12:
        raw_account = str(raw_account)
    account = _matching(
        raw_account, (*path, "account_id"), ACCOUNT_ID_PATTERN, "a 12-digit AWS account id; quote it"
    )
    role_expected = "an IAM role ARN like arn:aws:iam::123456789012:role/awsdr-vault"
    role = _matching(m["role_arn"], (*path, "role_arn"), ROLE_ARN_PATTERN, role_expected)
    role_account = role.split(":")[4]
    if role_account != account:
        raise _Invalid(
            (*path, "role_arn"), f"the role is in account {role_account}", f"a role in account {account}"
        )
    if _arn_partition(role) != _partition(primary):
        raise _Invalid(
            (*path, "role_arn"), "the role ARN is in another partition", f"an {_partition(primary)} ARN"
        )
    regions: tuple[str, ...] = dr_regions
    if "regions" in m:
        rpath = (*path, "regions")
        raw = _list(m["regions"], rpath, f"a non-empty list of DR regions ({', '.join(dr_regions)})")
        picked: list[str] = []
        for i, item in enumerate(raw):
            region = _region(item, (*rpath, i))
            if region not in dr_regions:
                raise _Invalid((*rpath, i), f"{region} is not a DR region", f"one of {', '.join(dr_regions)}")
            if region in picked:
                raise _Invalid((*rpath, i), f"{region} is listed twice", "each region once")
            picked.append(region)
        regions = tuple(picked)
    return Vault(account_id=account, role_arn=role, regions=regions)


def _sns_topic(value: Any, primary: str) -> str | None:
    path: _PathT = ("notifications",)
    m = _keyed(value, path, _NOTIFICATION_KEYS, "notifications")
    if "sns_topic_arn" not in m:
        return None
    tpath = (*path, "sns_topic_arn")
    arn = _matching(m["sns_topic_arn"], tpath, SNS_TOPIC_ARN_PATTERN, "an SNS topic ARN")
    region = arn.split(":")[3]
    if region not in AWS_REGIONS or _partition(region) != _arn_partition(arn):
        raise _Invalid(
            tpath, f"unknown region {region!r} in the topic ARN", "an SNS topic ARN in a real region"
        )
    return arn


# --- failover ---------------------------------------------------------------------------------


def _choice(value: Any, path: _PathT, choices: tuple[str, ...] | list[str]) -> str:
    expected = f"one of {', '.join(choices)}"
    text = _str(value, path, expected)
    if text not in choices:
        raise _Invalid(path, f"unknown value {text!r}{_suggest(text, tuple(choices))}", expected)
    return text


def _dr_region_key(region: str, path: _PathT, dr_regions: tuple[str, ...]) -> None:
    if region not in dr_regions:
        raise _Invalid(path, f"{region!r} is not a DR region", f"one of {', '.join(dr_regions)}", at_key=True)


def _fqdn(value: Any, path: _PathT, expected: str) -> str:
    """A DNS name in Route 53's form: lowercase with the trailing dot."""
    text = _matching(value, path, DOMAIN_PATTERN, expected)
    return text.lower().rstrip(".") + "."


def _capacity(value: Any, path: _PathT) -> Capacity:
    m = _keyed(value, path, _CAPACITY_KEYS, "a group size")
    sizes = {
        name: _int(_get(m, name, _CAPACITY_KEYS), (*path, name), 0) for name in ("min", "desired", "max")
    }
    cap = Capacity(**sizes)
    if not cap.min <= cap.desired <= cap.max:
        raise _Invalid(
            path,
            f"min {cap.min}, desired {cap.desired}, max {cap.max} are out of order",
            "min <= desired <= max",
        )
    return cap


def _dns_record(value: Any, path: _PathT, zone: str, primary: str, dr_regions: tuple[str, ...]) -> DnsRecord:
    m = _keyed(value, path, _DNS_RECORD_KEYS, "a DNS record")
    name = _fqdn(m["name"], (*path, "name"), f"a DNS name inside {zone}")
    if name != zone and not name.endswith("." + zone):
        raise _Invalid((*path, "name"), f"{name} is not inside the zone {zone}", f"a name ending in .{zone}")
    rtype = _choice(_get(m, "type", _DNS_RECORD_KEYS), (*path, "type"), DNS_RECORD_TYPES)
    ttl = _int(_get(m, "ttl", _DNS_RECORD_KEYS), (*path, "ttl"), 0, 2147483647)
    value_expected = "the record value (an IP address or host name)"
    primary_value = _str(m["primary"], (*path, "primary"), value_expected)
    if not primary_value:
        raise _Invalid((*path, "primary"), "must not be empty", value_expected)
    dr_path = (*path, "dr")
    raw_dr = _dict(m["dr"], dr_path, "a mapping of DR region to record value", non_empty=True)
    dr: dict[str, str] = {}
    for region, val in raw_dr.items():
        _dr_region_key(region, (*dr_path, region), dr_regions)
        text = _str(val, (*dr_path, region), value_expected)
        if not text:
            raise _Invalid((*dr_path, region), "must not be empty", value_expected)
        dr[region] = text
    regions = (primary, *dr_regions)
    set_ids: dict[str, str] = {}
    sid_path = (*path, "set_identifiers")
    for region, val in _dict(_get(m, "set_identifiers", _DNS_RECORD_KEYS), sid_path, "region -> id").items():
        if region not in regions:
            raise _Invalid(
                (*sid_path, region), f"{region!r} is not a policy region", ", ".join(regions), at_key=True
            )
        text = _str(val, (*sid_path, region), "a set identifier of 1-128 characters")
        if not 1 <= len(text) <= 128:
            raise _Invalid((*sid_path, region), "length out of range", "a set identifier of 1-128 characters")
        if text in set_ids.values():
            raise _Invalid((*sid_path, region), f"{text!r} is used twice", "one identifier per region")
        set_ids[region] = text
    weights: dict[str, int] = {}
    w_path = (*path, "weights")
    for region, val in _dict(_get(m, "weights", _DNS_RECORD_KEYS), w_path, "region -> weight").items():
        if region not in regions:
            raise _Invalid(
                (*w_path, region), f"{region!r} is not a policy region", ", ".join(regions), at_key=True
            )
        weights[region] = _int(val, (*w_path, region), 0, 255)
    return DnsRecord(
        name=name,
        type=rtype,
        ttl=ttl,
        primary=primary_value,
        dr=dr,
        set_identifiers=set_ids,
        weights=weights,
    )


def _dns(value: Any, path: _PathT, primary: str, dr_regions: tuple[str, ...]) -> Dns:
    m = _keyed(value, path, _DNS_KEYS, "DNS")
    zone = _fqdn(m["zone"], (*path, "zone"), "a hosted zone name such as example.com")
    routing = _choice(_get(m, "routing", _DNS_KEYS), (*path, "routing"), DNS_ROUTING)
    rpath = (*path, "records")
    raw = _list(m["records"], rpath, "a non-empty list of records ({name, type, ttl, primary, dr})")
    records: list[DnsRecord] = []
    for i, item in enumerate(raw):
        record = _dns_record(item, (*rpath, i), zone, primary, dr_regions)
        if any((r.name, r.type) == (record.name, record.type) for r in records):
            raise _Invalid(
                (*rpath, i, "name"), f"{record.name} {record.type} is listed twice", "each record once"
            )
        records.append(record)
    return Dns(zone=zone, routing=routing, records=tuple(records))


def _health_check(value: Any, path: _PathT, regions: tuple[str, ...]) -> HealthCheck:
    m = _keyed(value, path, _HEALTH_CHECK_KEYS, "a health check")
    region = None
    if "region" in m:
        region = _region(m["region"], (*path, "region"))
        if region not in regions:
            raise _Invalid(
                (*path, "region"), f"{region} is not a policy region", f"one of {', '.join(regions)}"
            )
    if len([k for k in m if k != "region"]) != 1:
        raise _Invalid(
            path,
            f"has {len([k for k in m if k != 'region'])} of url/id/name",
            "exactly one of url: <http(s) URL>, id: <Route 53 id> or name: <Route 53 health check name>",
        )
    if "url" in m:
        url = _matching(m["url"], (*path, "url"), HTTP_URL_PATTERN, "an http(s) URL, e.g. https://app/health")
        return HealthCheck(url=url, region=region)
    if "name" in m:
        name = _str(m["name"], (*path, "name"), "a health check name of 1-255 characters")
        if not 1 <= len(name) <= 255:
            raise _Invalid((*path, "name"), "length out of range", "a health check name of 1-255 characters")
        return HealthCheck(name=name, region=region)
    hc_id = _matching(m["id"], (*path, "id"), HEALTH_CHECK_ID_PATTERN, "a Route 53 health check id (a UUID)")
    return HealthCheck(id=hc_id, region=region)


def _database(value: Any, path: _PathT, dr_regions: tuple[str, ...]) -> FailoverDatabase:
    m = _keyed(value, path, _DATABASE_KEYS, "a database")
    kinds = [k for k in DATABASE_KINDS if k in m]
    if len(kinds) != 1:
        raise _Invalid(
            path,
            f"names {len(kinds)} of rds/aurora/dynamodb" + (f" ({', '.join(kinds)})" if kinds else ""),
            "exactly one of rds: <instance>, aurora: <cluster> or dynamodb: <table>",
        )
    kind = kinds[0]
    patterns = {"rds": RDS_ID_PATTERN, "aurora": RDS_ID_PATTERN, "dynamodb": DYNAMODB_TABLE_PATTERN}
    expected = {
        "rds": "an RDS DB instance identifier (letters, digits, hyphens; first a letter)",
        "aurora": "an Aurora DB cluster identifier (letters, digits, hyphens; first a letter)",
        "dynamodb": "a DynamoDB table name of 3-255 letters, digits, _ . -",
    }[kind]
    name = _matching(m[kind], (*path, kind), patterns[kind], expected)
    rpath = (*path, "replicas")
    replicas: dict[str, str] = {}
    for region, val in _dict(
        _get(m, "replicas", _DATABASE_KEYS), rpath, "a mapping of DR region to standby"
    ).items():
        _dr_region_key(region, (*rpath, region), dr_regions)
        ident = _matching(val, (*rpath, region), patterns[kind], expected)
        if kind == "dynamodb" and ident != name:
            raise _Invalid(
                (*rpath, region),
                f"{ident!r} is not {name!r}",
                "the table's own name: a global-table replica is named like the table",
            )
        replicas[region] = ident
    global_cluster = None
    if "global_cluster" in m:
        if kind != "aurora":
            raise _Invalid(
                (*path, "global_cluster"),
                f"a {kind} database has no global cluster",
                "aurora databases only",
                at_key=True,
            )
        global_cluster = _matching(
            m["global_cluster"],
            (*path, "global_cluster"),
            GLOBAL_CLUSTER_PATTERN,
            "a global cluster identifier",
        )
    dns = None
    if "dns" in m:
        if kind == "dynamodb":
            raise _Invalid(
                (*path, "dns"),
                "a DynamoDB table is addressed by its name",
                "rds and aurora only",
                at_key=True,
            )
        dns = _fqdn(m["dns"], (*path, "dns"), "a DNS name such as orders-db.internal.example.com")
    return FailoverDatabase(kind=kind, name=name, replicas=replicas, global_cluster=global_cluster, dns=dns)


def _bucket(value: Any, path: _PathT, dr_regions: tuple[str, ...]) -> FailoverBucket:
    m = _keyed(value, path, _BUCKET_KEYS, "a bucket ({s3: name, dr: {region: bucket}})")
    name = _matching(m["s3"], (*path, "s3"), BUCKET_PATTERN, "an S3 bucket name")
    dr: dict[str, str] = {}
    dpath = (*path, "dr")
    for region, val in _dict(_get(m, "dr", _BUCKET_KEYS), dpath, "a mapping of DR region to bucket").items():
        _dr_region_key(region, (*dpath, region), dr_regions)
        dr[region] = _matching(val, (*dpath, region), BUCKET_PATTERN, "an S3 bucket name")
    return FailoverBucket(name=name, dr=dr)


def _function(value: Any, path: _PathT, dr_regions: tuple[str, ...]) -> FailoverFunction:
    m = _keyed(value, path, _FUNCTION_KEYS, "a function ({name, region, environment})")
    name = _matching(
        m["name"],
        (*path, "name"),
        LAMBDA_NAME_PATTERN,
        "a Lambda function name: 1-64 letters, digits, - or _",
    )
    if "region" in m:
        region = _region(m["region"], (*path, "region"))
        if region not in dr_regions:
            raise _Invalid(
                (*path, "region"), f"{region} is not a DR region", f"one of {', '.join(dr_regions)}"
            )
    elif len(dr_regions) == 1:
        region = dr_regions[0]
    else:
        raise _Invalid(
            (*path, "region"), "missing: the policy has several DR regions", f"one of {', '.join(dr_regions)}"
        )
    epath = (*path, "environment")
    env: dict[str, str] = {}
    for key, val in _dict(
        _get(m, "environment", _FUNCTION_KEYS), epath, "a mapping of name to value"
    ).items():
        if not isinstance(key, str) or re.fullmatch(ENV_NAME_PATTERN, key) is None:
            raise _Invalid(
                (*epath, str(key)),
                f"invalid variable name {key!r}",
                "a letter, then letters, digits, _",
                at_key=True,
            )
        env[key] = _str(val, (*epath, key), "a string (quote numbers and booleans)")
    return FailoverFunction(name=name, region=region, environment=env)


def _stack(value: Any, path: _PathT, dr_regions: tuple[str, ...], base_dir: Path | None) -> FailoverStack:
    m = _keyed(value, path, _STACK_KEYS, "a stack ({name, template, region, parameters})")
    name = _matching(
        m["name"], (*path, "name"), STACK_NAME_PATTERN, "a stack name: a letter, then letters, digits, -"
    )
    tpath = (*path, "template")
    template = _str(m["template"], tpath, "an https:// S3 URL or a path relative to the policy file")
    url: str | None = None
    file: str | None = None
    if template.startswith(("https://", "http://", "s3://")):
        url = _matching(
            template, tpath, TEMPLATE_URL_PATTERN, "an https://<bucket>.s3.<region>.amazonaws.com/<key> URL"
        )
    else:
        candidate = Path(template) if Path(template).is_absolute() else (base_dir or Path.cwd()) / template
        if not candidate.is_file():
            raise _Invalid(
                tpath, f"template file {template!r} not found (looked at {candidate})", "an existing file"
            )
        size = candidate.stat().st_size
        if size > TEMPLATE_BODY_MAX:
            raise _Invalid(
                tpath,
                f"{template} is {size} bytes, over CloudFormation's {TEMPLATE_BODY_MAX} for a template body",
                "a smaller template, or the template in S3 named by its https:// URL",
            )
        file = str(candidate.resolve())
    if "region" in m:
        region = _region(m["region"], (*path, "region"))
        if region not in dr_regions:
            raise _Invalid(
                (*path, "region"), f"{region} is not a DR region", f"one of {', '.join(dr_regions)}"
            )
    elif len(dr_regions) == 1:
        region = dr_regions[0]
    else:
        raise _Invalid(
            (*path, "region"), "missing: the policy has several DR regions", f"one of {', '.join(dr_regions)}"
        )
    ppath = (*path, "parameters")
    params: dict[str, str] = {}
    for key, val in _dict(
        _get(m, "parameters", _STACK_KEYS), ppath, "a mapping of parameter name to value"
    ).items():
        if not isinstance(key, str) or re.fullmatch(STACK_PARAMETER_PATTERN, key) is None:
            raise _Invalid(
                (*ppath, str(key)), f"invalid parameter name {key!r}", "letters and digits", at_key=True
            )
        if isinstance(val, bool):
            params[key] = "true" if val else "false"
        elif isinstance(val, str | int | float):
            params[key] = str(val)
        elif isinstance(val, list) and all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in val
        ):
            params[key] = ",".join(str(v) for v in val)  # a List<...> parameter: comma-delimited
        else:
            raise _Invalid(
                (*ppath, key), f"got {_describe(val)}", "a string, number, boolean or list of them"
            )
    cpath = (*path, "capabilities")
    caps = tuple(
        _choice(c, (*cpath, i), STACK_CAPABILITIES)
        for i, c in enumerate(
            _list(_get(m, "capabilities", _STACK_KEYS), cpath, "a list of capabilities", non_empty=False)
        )
    )
    role = (
        _matching(m["role_arn"], (*path, "role_arn"), ROLE_ARN_PATTERN, "an IAM role ARN")
        if "role_arn" in m
        else None
    )
    return FailoverStack(
        name=name,
        region=region,
        template_url=url,
        template_path=file,
        parameters=params,
        capabilities=caps,
        role_arn=role,
    )


def _compute(value: Any, path: _PathT, dr_regions: tuple[str, ...]) -> AsgStandby | EcsStandby:
    if isinstance(value, dict) and "ecs" in value:
        outer = _keyed(
            value, path, _ECS_ITEM_KEYS, "an ECS standby ({ecs: {cluster, service, region, desired}})"
        )
        epath = (*path, "ecs")
        m = _keyed(outer["ecs"], epath, _ECS_KEYS, "an ECS service")
        region = _region(m["region"], (*epath, "region"))
        if region not in dr_regions:
            raise _Invalid(
                (*epath, "region"), f"{region} is not a DR region", f"one of {', '.join(dr_regions)}"
            )
        desired = _int(m["desired"], (*epath, "desired"), 0)
        resting = _int(_get(m, "resting", _ECS_KEYS), (*epath, "resting"), 0)
        if resting > desired:
            raise _Invalid((*epath, "resting"), f"{resting} is above desired {desired}", "resting <= desired")
        return EcsStandby(
            cluster=_matching(m["cluster"], (*epath, "cluster"), ECS_NAME_PATTERN, "an ECS cluster name"),
            service=_matching(m["service"], (*epath, "service"), ECS_NAME_PATTERN, "an ECS service name"),
            region=region,
            desired=desired,
            resting=resting,
            vcpu=_positive(_get(m, "vcpu", _ECS_KEYS), (*epath, "vcpu")),
            memory_gib=_positive(_get(m, "memory_gib", _ECS_KEYS), (*epath, "memory_gib")),
        )
    m = _keyed(value, path, _ASG_KEYS, "a standby ({asg: name, region, capacity} or {ecs: {...}})")
    region = _region(m["region"], (*path, "region"))
    if region not in dr_regions:
        raise _Invalid((*path, "region"), f"{region} is not a DR region", f"one of {', '.join(dr_regions)}")
    capacity = _capacity(m["capacity"], (*path, "capacity"))
    rest = _capacity(_get(m, "resting", _ASG_KEYS), (*path, "resting"))
    if rest.desired > capacity.desired or rest.min > capacity.min:
        raise _Invalid((*path, "resting"), "is larger than capacity", "a resting size within capacity")
    return AsgStandby(
        name=_matching(m["asg"], (*path, "asg"), ASG_NAME_PATTERN, "an Auto Scaling group name"),
        region=region,
        capacity=capacity,
        resting=rest,
        instance_type=(
            None
            if m.get("instance_type") is None
            else _matching(
                m["instance_type"], (*path, "instance_type"), INSTANCE_TYPE_PATTERN, "an instance type"
            )
        ),
    )


def _positive(value: Any, path: _PathT) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _Invalid(path, f"{value!r} is not a positive number", "a number above 0")
    return float(value)


def _ami_launch(value: Any, path: _PathT, dr_regions: tuple[str, ...]) -> AmiLaunch:
    m = _keyed(value, path, _AMI_LAUNCH_KEYS, "an AMI launch")
    source = _str(m["source"], (*path, "source"), "an instance id (i-...) or Name tag")
    if not 1 <= len(source) <= 255:
        raise _Invalid((*path, "source"), "length out of range", "an instance id (i-...) or Name tag")
    subnets: dict[str, str] = {}
    if "subnet" in m:
        spath = (*path, "subnet")
        raw = m["subnet"]
        if isinstance(raw, dict):
            for region, val in raw.items():
                _dr_region_key(region, (*spath, region), dr_regions)
                subnets[region] = _matching(val, (*spath, region), SUBNET_PATTERN, "a subnet id (subnet-...)")
        else:
            subnet = _matching(
                raw, spath, SUBNET_PATTERN, "a subnet id (subnet-...) or DR region -> subnet id"
            )
            if len(dr_regions) > 1:
                raise _Invalid(
                    spath, "one subnet for several DR regions", "a mapping of DR region to subnet id"
                )
            subnets = {dr_regions[0]: subnet}
    return AmiLaunch(
        source=source,
        instance_type=_matching(
            m["instance_type"],
            (*path, "instance_type"),
            INSTANCE_TYPE_PATTERN,
            "an instance type like t3.micro",
        ),
        subnets=subnets,
        count=_int(_get(m, "count", _AMI_LAUNCH_KEYS), (*path, "count"), 1, 100),
    )


def _failover(
    value: Any, primary: str, dr_regions: tuple[str, ...], base_dir: Path | None = None
) -> Failover:
    path: _PathT = ("failover",)
    m = _keyed(value, path, _FAILOVER_KEYS, "the failover runbook")
    strategy = _choice(_get(m, "strategy", _FAILOVER_KEYS), (*path, "strategy"), FAILOVER_STRATEGIES)
    dns = _dns(m["dns"], (*path, "dns"), primary, dr_regions) if "dns" in m else None

    def items(key: str, what: str) -> list[Any]:
        return _list(_get(m, key, _FAILOVER_KEYS), (*path, key), f"a list of {what}", non_empty=False)

    checks = tuple(
        _health_check(item, (*path, "health_checks", i), (primary, *dr_regions))
        for i, item in enumerate(items("health_checks", "{url: ...} or {id: ...}"))
    )
    databases: list[FailoverDatabase] = []
    for i, item in enumerate(items("databases", "{rds|aurora|dynamodb: name, replicas: {...}}")):
        db = _database(item, (*path, "databases", i), dr_regions)
        if any((d.kind, d.name) == (db.kind, db.name) for d in databases):
            raise _Invalid(
                (*path, "databases", i), f"{db.kind} {db.name} is listed twice", "each database once"
            )
        databases.append(db)
    compute: list[AsgStandby | EcsStandby] = []
    for i, item in enumerate(items("compute", "{asg: ...} or {ecs: {...}}")):
        unit = _compute(item, (*path, "compute", i), dr_regions)
        if any(_unit_key(u) == _unit_key(unit) for u in compute):
            raise _Invalid((*path, "compute", i), f"{_unit_key(unit)} is listed twice", "each standby once")
        compute.append(unit)
    launches = tuple(
        _ami_launch(item, (*path, "ami_launch", i), dr_regions)
        for i, item in enumerate(items("ami_launch", "{source, instance_type}"))
    )
    dpath = (*path, "drill")
    drill = _keyed(_get(m, "drill", _FAILOVER_KEYS), dpath, _DRILL_KEYS, "drill options")
    schedule = drill.get("schedule")
    rpath = (*path, "readiness")
    ready = _keyed(_get(m, "readiness", _FAILOVER_KEYS), rpath, _FAILOVER_READINESS_KEYS, "readiness options")
    vpath = (*path, "verify")
    verify = _keyed(_get(m, "verify", _FAILOVER_KEYS), vpath, _FAILOVER_VERIFY_KEYS, "verify options")
    apath = (*path, "approval")
    approval = _keyed(_get(m, "approval", _FAILOVER_KEYS), apath, _APPROVAL_KEYS, "approval options")
    buckets: list[FailoverBucket] = []
    for i, item in enumerate(items("buckets", "{s3: name}")):
        bucket = _bucket(item, (*path, "buckets", i), dr_regions)
        if any(b.name == bucket.name for b in buckets):
            raise _Invalid((*path, "buckets", i), f"{bucket.name} is listed twice", "each bucket once")
        buckets.append(bucket)
    stacks: list[FailoverStack] = []
    for i, item in enumerate(items("stacks", "{name, template, region, parameters}")):
        stack = _stack(item, (*path, "stacks", i), dr_regions, base_dir)
        if any((s.name, s.region) == (stack.name, stack.region) for s in stacks):
            raise _Invalid(
                (*path, "stacks", i),
                f"stack {stack.name} in {stack.region} is listed twice",
                "each stack once",
            )
        stacks.append(stack)
    functions: list[FailoverFunction] = []
    for i, item in enumerate(items("functions", "{name, region, environment}")):
        fn = _function(item, (*path, "functions", i), dr_regions)
        if any((f.name, f.region) == (fn.name, fn.region) for f in functions):
            raise _Invalid(
                (*path, "functions", i),
                f"function {fn.name} in {fn.region} is listed twice",
                "each function once",
            )
        functions.append(fn)
    primary_key = None
    if "primary_kms_key" in m:
        primary_key = _matching(
            m["primary_kms_key"], (*path, "primary_kms_key"), KMS_KEY_PATTERN, "a KMS key alias, id or ARN"
        )
    return Failover(
        strategy=strategy,
        dns=dns,
        health_checks=checks,
        databases=tuple(databases),
        compute=tuple(compute),
        ami_launch=launches,
        drill=Drill(
            schedule=None if schedule is None else _cron(schedule, (*dpath, "schedule")),
            zone_prefix=_matching(
                _get(drill, "zone_prefix", _DRILL_KEYS),
                (*dpath, "zone_prefix"),
                DNS_LABEL_PATTERN,
                "a lowercase DNS label such as drill",
            ),
        ),
        readiness=FailoverReadiness(
            verified_within=_duration(
                _get(ready, "verified_within", _FAILOVER_READINESS_KEYS), (*rpath, "verified_within")
            ),
            unverified=_choice(
                _get(ready, "unverified", _FAILOVER_READINESS_KEYS),
                (*rpath, "unverified"),
                ("warning", "error"),
            ),
            stale_copies=_choice(
                _get(ready, "stale_copies", _FAILOVER_READINESS_KEYS),
                (*rpath, "stale_copies"),
                ("warning", "error"),
            ),
        ),
        verify=FailoverVerify(
            unknown=_choice(
                _get(verify, "unknown", _FAILOVER_VERIFY_KEYS), (*vpath, "unknown"), ("warn", "fail")
            ),
            timeout=_duration(_get(verify, "timeout", _FAILOVER_VERIFY_KEYS), (*vpath, "timeout")),
        ),
        primary_kms_key=primary_key,
        approval=FailoverApproval(
            required=_bool(_get(approval, "required", _APPROVAL_KEYS), (*apath, "required")),
            timeout=_duration(_get(approval, "timeout", _APPROVAL_KEYS), (*apath, "timeout")),
        ),
        buckets=tuple(buckets),
        stacks=tuple(stacks),
        functions=tuple(functions),
    )


def _unit_key(unit: AsgStandby | EcsStandby) -> str:
    if isinstance(unit, AsgStandby):
        return f"asg {unit.name} in {unit.region}"
    return f"ecs {unit.cluster}/{unit.service} in {unit.region}"


def _build_policy(doc: Any, source: str) -> Policy:
    if not isinstance(doc, dict):
        raise _Invalid((), f"the policy is {_describe(doc)}", "a mapping with version, plans, ...")
    # The version first: a future version may have keys this one does not know.
    if "version" in doc:
        version = doc["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version != 1:
            raise _Invalid(("version",), f"unsupported policy version {version!r}", "version: 1")
    m = _keyed(doc, (), _POLICY_KEYS, "the policy")
    tz = _timezone(_get(m, "timezone", _POLICY_KEYS), ("timezone",))
    primary = _region(m["primary_region"], ("primary_region",))
    dr_regions = _dr_regions(m["dr_regions"], primary)
    catalog_bucket = _matching(
        m["catalog_bucket"],
        ("catalog_bucket",),
        BUCKET_PATTERN,
        "an S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, starting and ending alphanumeric",
    )
    kms_keys = _kms_keys(m["kms_keys"], dr_regions)
    start_date = _datetime(_get(m, "start_date", _POLICY_KEYS), ("start_date",), tz)
    max_catchup = _int(_get(m, "max_catchup", _POLICY_KEYS), ("max_catchup",), 1)
    late_after = _duration(_get(m, "late_after", _POLICY_KEYS), ("late_after",), allow_zero=True)
    copy_quotas = _copy_quotas(_get(m, "copy_quotas", _POLICY_KEYS))
    region_concurrency = _int(_get(m, "region_concurrency", _POLICY_KEYS), ("region_concurrency",), 1, 100)
    orphan_grace = _duration(_get(m, "orphan_grace", _POLICY_KEYS), ("orphan_grace",))
    fraction = _get(m, "max_delete_fraction", _POLICY_KEYS)
    fraction_expected = "a number greater than 0 and at most 1, e.g. 0.5"
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise _Invalid(("max_delete_fraction",), f"got {_describe(fraction)}", fraction_expected)
    if not 0 < fraction <= 1:
        raise _Invalid(("max_delete_fraction",), f"{fraction} is out of range", fraction_expected)
    sns_topic_arn = _sns_topic(_get(m, "notifications", _POLICY_KEYS), primary)
    vault = _vault(m["vault"], dr_regions, primary) if "vault" in m else None
    raw_plans = _dict(m["plans"], ("plans",), "at least one plan, e.g. plans: {gold: {...}}", non_empty=True)
    plans: dict[str, Plan] = {}
    for name, raw in raw_plans.items():
        if re.fullmatch(PLAN_NAME_PATTERN, name) is None:
            raise _Invalid(
                ("plans", name),
                f"invalid plan name {name!r}",
                "a lowercase name of 1-40 letters, digits or underscores starting with a letter",
                at_key=True,
            )
        plans[name] = _plan(name, raw, ("plans", name), tz, start_date, max_catchup)
        unvaulted = [t for t in plans[name].select.types if t in NO_VAULT_TYPES]
        if vault is not None and unvaulted:
            raise _Invalid(
                ("plans", name, "select", "types", plans[name].select.types.index(unvaulted[0])),
                f"{unvaulted[0]!r} points cannot go to the vault account (no cross-account path for "
                "registry images or function code yet)",
                "a plan without ecr and lambda when the policy has a vault (put them in a plan of a "
                "policy without one)",
            )
        for other in list(plans)[:-1]:
            mine, theirs = plans[name].select, plans[other].select
            shared = [t for t in mine.types if t in theirs.types]
            if mine.tags == theirs.tags and shared:
                raise _Invalid(
                    ("plans", name, "select", "tags"),
                    f"the same selector as plans.{other} ({mine.tags}) for {', '.join(shared)}: every such "
                    "resource would be claimed by two plans",
                    "selectors that differ (other tags), or types the other plan does not select",
                )
    failover = (
        _failover(
            m["failover"],
            primary,
            dr_regions,
            Path(source).parent if source and not source.startswith("<") else None,
        )
        if "failover" in m
        else None
    )
    if (
        failover is not None
        and failover.functions
        and not any("lambda" in p.select.types for p in plans.values())
    ):
        raise _Invalid(
            ("failover", "functions", 0),
            "no plan selects type lambda: these functions would have no DR copy to come back from",
            "a plan whose select.types lists lambda (and tags the functions carry)",
        )
    audit = _audit(_get(m, "audit", _POLICY_KEYS))
    compliance = _compliance(_get(m, "compliance", _POLICY_KEYS))
    return Policy(
        source_path=source,
        version=1,
        timezone=tz.key,
        primary_region=primary,
        dr_regions=dr_regions,
        catalog_bucket=catalog_bucket,
        kms_keys=kms_keys,
        start_date=start_date,
        max_catchup=max_catchup,
        late_after=late_after,
        copy_quotas=copy_quotas,
        region_concurrency=region_concurrency,
        orphan_grace=orphan_grace,
        max_delete_fraction=float(fraction),
        sns_topic_arn=sns_topic_arn,
        vault=vault,
        plans=plans,
        failover=failover,
        audit=audit,
        compliance=compliance,
    )


def _compliance(value: Any) -> Compliance:
    m = _keyed(value, ("compliance",), _COMPLIANCE_KEYS, "compliance")
    return Compliance(
        verify_within=_duration(_get(m, "verify_within", _COMPLIANCE_KEYS), ("compliance", "verify_within")),
        min_retention=_duration(_get(m, "min_retention", _COMPLIANCE_KEYS), ("compliance", "min_retention")),
    )


def _audit(value: Any) -> AuditLock:
    m = _keyed(value, ("audit",), _AUDIT_KEYS, "audit")
    mode = _choice(_get(m, "object_lock", _AUDIT_KEYS), ("audit", "object_lock"), AUDIT_LOCK_MODES)
    retention = _duration(_get(m, "retention", _AUDIT_KEYS), ("audit", "retention"))
    return AuditLock(mode=mode, retention=retention)


# --------------------------------------------------------------------------------------------
# The JSON Schema as a second line of defence
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """The document as JSON would hold it (timestamps and dates as ISO strings)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@cache
def _schema_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(policy_json_schema())


def _schema_check(doc: Any, lines: _Lines, source: str) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(_jsonable(doc)))
    if error is None:
        return
    path: _PathT = tuple(error.absolute_path)
    message = _one_line(error.message)
    if len(message) > 200:
        message = message[:197] + "..."
    raise PolicyError(
        source,
        lines.line_for(path),
        _dotted(path),
        f"does not match the policy schema: {message}",
        "a document valid against include/dr_policy.schema.json",
    )


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate policy YAML; ``source`` names the file in messages.

    :raises PolicyError: the first problem found, with its line and field.
    """
    doc, lines = _compose(text, source)
    try:
        policy = _build_policy(doc, source)
    except _Invalid as inv:
        raise _to_error(inv, lines, source) from None
    _schema_check(doc, lines, source)
    return policy


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy from ``path``, else ``$AWSDR_POLICY``, else ``include/dr_policy.yaml``.

    :raises PolicyError: the file cannot be read or is invalid.
    """
    if path is None:
        path = os.environ.get(POLICY_ENV_VAR) or DEFAULT_POLICY_PATH
    file = Path(path)
    source = str(file)
    try:
        data = file.read_bytes()
    except OSError as err:
        raise PolicyError(
            source,
            None,
            "<file>",
            f"cannot read the policy file: {err.strerror or err}",
            f"a readable YAML file (set {POLICY_ENV_VAR} or create include/dr_policy.yaml)",
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise PolicyError(source, line, "<file>", "the file is not UTF-8 text", "a UTF-8 YAML file") from None
    key = (source, hashlib.sha256(data).hexdigest())
    policy = _LOADED.get(key)
    if policy is None:
        policy = parse_policy(text, source)  # raises for an invalid policy: nothing is cached
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = policy
    return policy


#: policies already parsed and validated, by file and content: every DAG file loads the policy at
#: parse, and the DAG processor parses each file again and again; a changed file is read anew
#: (keyed by its bytes, not its modification time, which a quick rewrite can leave unchanged)
_LOADED: dict[tuple[str, str], Policy] = {}
_LOADED_MAX = 16


def main(argv: list[str] | None = None) -> int:
    """``python -m awsdr.policy [--schema] [PATH]``: print the schema, or validate a policy."""
    parser = argparse.ArgumentParser(prog="python -m awsdr.policy", description="Validate a DR policy file.")
    parser.add_argument("--schema", action="store_true", help="print the policy JSON Schema and exit")
    parser.add_argument(
        "path", nargs="?", help=f"policy file (default: ${POLICY_ENV_VAR} or include/dr_policy.yaml)"
    )
    args = parser.parse_args(argv)
    if args.schema:
        print(json.dumps(policy_json_schema(), indent=2, sort_keys=True))
        return 0
    try:
        policy = load_policy(args.path)
    except PolicyError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{policy.source_path}: OK, {len(policy.plans)} plan(s): {', '.join(policy.plans)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
