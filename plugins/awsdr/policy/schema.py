"""The key tables and the JSON Schema of the policy file.

The key tables (``_POLICY_KEYS``, ``_PLAN_KEYS``, ...) are the single source of truth for the
allowed keys, the required keys, the defaults and the documentation of every mapping: the validator
(:mod:`awsdr.policy.validate`) checks against them and fills the defaults from them, and
:func:`policy_json_schema` builds the JSON Schema from them (for editors and docs; committed as
``include/dr_policy.schema.json`` by ``python -m awsdr.policy --schema``). The schema is not used
when a policy is loaded: the validator checks everything it says, and more.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from awsdr.policy.model import (
    ACCOUNT_ID_PATTERN,
    ASG_NAME_PATTERN,
    AUDIT_LOCK_MODES,
    AWS_REGIONS,
    BUCKET_PATTERN,
    CRON_PATTERN,
    DATABASE_KINDS,
    DATETIME_PATTERN,
    DEFAULT_COPY_QUOTAS,
    DEFAULT_TYPES,
    DNS_LABEL_PATTERN,
    DNS_RECORD_TYPES,
    DNS_ROUTING,
    DOMAIN_PATTERN,
    DURATION_PATTERN,
    DYNAMODB_TABLE_PATTERN,
    ECS_NAME_PATTERN,
    ENV_NAME_PATTERN,
    FAILOVER_STRATEGIES,
    GFS_CLASSES,
    GLOBAL_CLUSTER_PATTERN,
    HEALTH_CHECK_ID_PATTERN,
    HTTP_URL_PATTERN,
    INSTANCE_TYPE_PATTERN,
    KMS_KEY_PATTERN,
    LAMBDA_NAME_PATTERN,
    PLAN_NAME_PATTERN,
    RDS_ID_PATTERN,
    RESOURCE_TYPES,
    ROLE_ARN_PATTERN,
    S3_ARCHIVE_CLASSES,
    SNS_TOPIC_ARN_PATTERN,
    STACK_CAPABILITIES,
    STACK_NAME_PATTERN,
    STACK_PARAMETER_PATTERN,
    SUBNET_PATTERN,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


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
