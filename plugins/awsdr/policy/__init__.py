"""The DR policy: model, loader and validator, as a package.

The policy file (default ``include/dr_policy.yaml``; ``AWSDR_POLICY`` names another) says what
to protect, how often, where to copy it and how long to keep it. :func:`load_policy` turns it into
frozen dataclasses (:class:`Policy`, :class:`Plan`, ...) or raises exactly one :class:`PolicyError`
that names the file, the line, the field and what was expected, so a DAG file importing a bad
policy fails with one readable line and nothing touches AWS.

The modules:

- :mod:`~awsdr.policy.model`: the constants, :class:`PolicyError`, the frozen dataclasses and what
  the DAG files derive from them (:attr:`Policy.plan_names`, :attr:`Policy.kinds_in_use`, ...);
- :mod:`~awsdr.policy.source`: which file, and its YAML composed into plain data with the line of
  every path;
- :mod:`~awsdr.policy.validate`: the validator, plain data to the model or the first problem;
- :mod:`~awsdr.policy.schema`: the key tables (allowed and required keys, defaults, docs) the
  validator checks against, and the JSON Schema built from them (``include/dr_policy.schema.json``,
  for editors and docs: not checked on load, the validator checks all it says);
- :mod:`~awsdr.policy.cli`: ``python -m awsdr.policy [--schema] [PATH]``;
- here: :func:`parse_policy` and :func:`load_policy`, which parses and validates a file once and
  hands every later caller the same :class:`Policy` until the file changes.

Pure Python: no Airflow and no boto3 imports.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from awsdr.policy.cli import main
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
    MIN_ARCHIVE_AFTER,
    NO_VAULT_TYPES,
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
    TEMPLATE_BODY_MAX,
    TEMPLATE_URL_PATTERN,
    AmiLaunch,
    AsgStandby,
    AuditLock,
    Capacity,
    Compliance,
    Dns,
    DnsRecord,
    Drill,
    EcsStandby,
    Failover,
    FailoverApproval,
    FailoverBucket,
    FailoverDatabase,
    FailoverFunction,
    FailoverReadiness,
    FailoverStack,
    FailoverVerify,
    FrozenDict,
    Gfs,
    HealthCheck,
    Plan,
    Policy,
    PolicyError,
    Retention,
    Selector,
    Vault,
    Verify,
    format_duration,
    parse_duration,
    schedule_gap,
)
from awsdr.policy.schema import policy_json_schema
from awsdr.policy.source import DEFAULT_POLICY_PATH, POLICY_ENV_VAR, _compose, _Invalid, _to_error
from awsdr.policy.validate import _build_policy

__all__ = [
    "ACCOUNT_ID_PATTERN",
    "ASG_NAME_PATTERN",
    "AUDIT_LOCK_MODES",
    "AWS_REGIONS",
    "BUCKET_PATTERN",
    "CRON_PATTERN",
    "DATABASE_KINDS",
    "DATETIME_PATTERN",
    "DEFAULT_COPY_QUOTAS",
    "DEFAULT_POLICY_PATH",
    "DEFAULT_TYPES",
    "DNS_LABEL_PATTERN",
    "DNS_RECORD_TYPES",
    "DNS_ROUTING",
    "DOMAIN_PATTERN",
    "DURATION_PATTERN",
    "DYNAMODB_TABLE_PATTERN",
    "ECS_NAME_PATTERN",
    "ENV_NAME_PATTERN",
    "FAILOVER_STRATEGIES",
    "GFS_CLASSES",
    "GLOBAL_CLUSTER_PATTERN",
    "HEALTH_CHECK_ID_PATTERN",
    "HTTP_URL_PATTERN",
    "INSTANCE_TYPE_PATTERN",
    "KMS_KEY_PATTERN",
    "LAMBDA_NAME_PATTERN",
    "MIN_ARCHIVE_AFTER",
    "NO_VAULT_TYPES",
    "PLAN_NAME_PATTERN",
    "POLICY_ENV_VAR",
    "RDS_ID_PATTERN",
    "RESOURCE_TYPES",
    "ROLE_ARN_PATTERN",
    "S3_ARCHIVE_CLASSES",
    "SNS_TOPIC_ARN_PATTERN",
    "STACK_CAPABILITIES",
    "STACK_NAME_PATTERN",
    "STACK_PARAMETER_PATTERN",
    "SUBNET_PATTERN",
    "TEMPLATE_BODY_MAX",
    "TEMPLATE_URL_PATTERN",
    "AmiLaunch",
    "AsgStandby",
    "AuditLock",
    "Capacity",
    "Compliance",
    "Dns",
    "DnsRecord",
    "Drill",
    "EcsStandby",
    "Failover",
    "FailoverApproval",
    "FailoverBucket",
    "FailoverDatabase",
    "FailoverFunction",
    "FailoverReadiness",
    "FailoverStack",
    "FailoverVerify",
    "FrozenDict",
    "Gfs",
    "HealthCheck",
    "Plan",
    "Policy",
    "PolicyError",
    "Retention",
    "Selector",
    "Vault",
    "Verify",
    "format_duration",
    "load_policy",
    "main",
    "parse_duration",
    "parse_policy",
    "policy_json_schema",
    "schedule_gap",
]


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate policy YAML; ``source`` names the file in messages.

    :raises PolicyError: the first problem found, with its line and field.
    """
    doc, lines = _compose(text, source)
    try:
        return _build_policy(doc, source)
    except _Invalid as inv:
        raise _to_error(inv, lines, source) from None


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy from ``path``, else ``$AWSDR_POLICY``, else ``include/dr_policy.yaml``.

    A file is parsed and validated once: while its resolved path, modification time and size stay
    the same, every call returns the same :class:`Policy` (which nobody can change) without reading
    the file again; a changed file is read and validated anew, and an invalid one fails on every
    call (nothing is cached for it). File timestamps are coarse (a tick of the kernel's clock, or
    more), so a file changed at most :data:`_SETTLE_NS` before it was last looked at may have been
    rewritten with the same size and time: until it has settled its bytes are read and compared.

    :raises PolicyError: the file cannot be read or is invalid.
    """
    if path is None:
        path = os.environ.get(POLICY_ENV_VAR) or DEFAULT_POLICY_PATH
    file = Path(path)
    source = str(file)
    resolved = os.path.realpath(file)
    try:
        stat = os.stat(resolved)
    except OSError as err:
        raise _unreadable(source, err) from None
    key = (source, resolved, stat.st_mtime_ns, stat.st_size)
    hit = _LOADED.get(key)
    if hit is not None and hit.settled:
        return hit.policy
    settled = time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _SETTLE_NS
    try:
        data = file.read_bytes()
    except OSError as err:
        raise _unreadable(source, err) from None
    digest = hashlib.sha256(data).digest()
    if hit is not None and hit.digest == digest:
        policy = hit.policy
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise PolicyError(
                source, line, "<file>", "the file is not UTF-8 text", "a UTF-8 YAML file"
            ) from None
        policy = parse_policy(text, source)  # raises for an invalid policy: nothing is cached
    for old in [k for k in _LOADED if k[:2] == key[:2]]:  # the file's earlier versions
        del _LOADED[old]
    if len(_LOADED) >= _LOADED_MAX:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[key] = _Loaded(policy, digest, settled)
    return policy


def _unreadable(source: str, err: OSError) -> PolicyError:
    return PolicyError(
        source,
        None,
        "<file>",
        f"cannot read the policy file: {err.strerror or err}",
        f"a readable YAML file (set {POLICY_ENV_VAR} or create include/dr_policy.yaml)",
    )


@dataclass(frozen=True)
class _Loaded:
    policy: Policy
    #: sha256 of the file's bytes
    digest: bytes
    #: the file had not changed for :data:`_SETTLE_NS` when it was looked at: its path, time and
    #: size alone say it is unchanged
    settled: bool


#: policies already parsed and validated, by (path as given, resolved path, st_mtime_ns, st_size):
#: every DAG file loads the policy at parse, and the DAG processor parses each file again and again
_LOADED: dict[tuple[str, str, int, int], _Loaded] = {}
_LOADED_MAX = 16
#: how long after its last change a file's timestamps are trusted to show a rewrite
_SETTLE_NS = 2_000_000_000
