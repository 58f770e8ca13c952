"""The validator: plain policy data (from :mod:`awsdr.policy.source`) to the model, or the first problem.

Every value is checked while the dataclasses are built; the first problem raises :class:`_Invalid`
with the path of the offending value (or, for a missing key, the path of its parent mapping), which
the caller turns into a :class:`PolicyError` with the line of that path. Allowed keys, required keys
and defaults come from the key tables of :mod:`awsdr.policy.schema`.
"""

from __future__ import annotations

import copy
import difflib
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from awsdr.policy.model import (
    ACCOUNT_ID_PATTERN,
    ASG_NAME_PATTERN,
    AUDIT_LOCK_MODES,
    AWS_REGIONS,
    BUCKET_PATTERN,
    DATABASE_KINDS,
    DATETIME_PATTERN,
    DEFAULT_COPY_QUOTAS,
    DNS_LABEL_PATTERN,
    DNS_RECORD_TYPES,
    DNS_ROUTING,
    DOMAIN_PATTERN,
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
    Gfs,
    HealthCheck,
    Plan,
    Policy,
    Retention,
    Selector,
    Vault,
    Verify,
    _largest_gap,
    format_duration,
    parse_duration,
)
from awsdr.policy.schema import (
    _ABSENT,
    _AMI_LAUNCH_KEYS,
    _APPROVAL_KEYS,
    _ASG_KEYS,
    _AUDIT_KEYS,
    _BUCKET_KEYS,
    _CAPACITY_KEYS,
    _COMPLIANCE_KEYS,
    _DATABASE_KEYS,
    _DNS_KEYS,
    _DNS_RECORD_KEYS,
    _DRILL_KEYS,
    _EC2_KEYS,
    _ECS_ITEM_KEYS,
    _ECS_KEYS,
    _FAILOVER_KEYS,
    _FAILOVER_READINESS_KEYS,
    _FAILOVER_VERIFY_KEYS,
    _FUNCTION_KEYS,
    _GFS_KEYS,
    _HEALTH_CHECK_KEYS,
    _NOTIFICATION_KEYS,
    _PLAN_KEYS,
    _POLICY_KEYS,
    _RETENTION_KEYS,
    _SELECT_KEYS,
    _STACK_KEYS,
    _VAULT_KEYS,
    _VERIFY_KEYS,
    _Key,
)
from awsdr.policy.source import _describe, _dotted, _Invalid, _PathT

if TYPE_CHECKING:
    from collections.abc import Mapping

_DURATION_EXPECTED = "an ISO-8601 duration in weeks, days, hours, minutes or seconds, e.g. PT30M, PT1H, P1D"
_CRON_EXPECTED = "a 5-field cron expression (minute hour day month weekday), e.g. '0 * * * *'; quote it"
_DATETIME_EXPECTED = "an ISO-8601 timestamp with a timezone, e.g. 2026-11-01T00:00:00Z"


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
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        raise _Invalid(path, f"unknown timezone {name[:80]!r}", expected) from None


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


def _deploy_region(m: dict[str, Any], path: _PathT, dr_regions: tuple[str, ...]) -> str:
    """The DR region a function or stack is made in: its ``region``, or the only DR region."""
    if "region" in m:
        region = _region(m["region"], (*path, "region"))
        if region not in dr_regions:
            raise _Invalid(
                (*path, "region"), f"{region} is not a DR region", f"one of {', '.join(dr_regions)}"
            )
        return region
    if len(dr_regions) == 1:
        return dr_regions[0]
    raise _Invalid(
        (*path, "region"), "missing: the policy has several DR regions", f"one of {', '.join(dr_regions)}"
    )


def _function(value: Any, path: _PathT, dr_regions: tuple[str, ...]) -> FailoverFunction:
    m = _keyed(value, path, _FUNCTION_KEYS, "a function ({name, region, environment})")
    name = _matching(
        m["name"],
        (*path, "name"),
        LAMBDA_NAME_PATTERN,
        "a Lambda function name: 1-64 letters, digits, - or _",
    )
    region = _deploy_region(m, path, dr_regions)
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
        try:
            size = candidate.stat().st_size if candidate.is_file() else None
        except OSError:  # a name the file system cannot hold (too long), or one it refuses to read
            size = None
        if size is None:
            raise _Invalid(
                tpath,
                f"template file {template[:80]!r} not found (looked at {candidate})",
                "an existing file",
            )
        if size > TEMPLATE_BODY_MAX:
            raise _Invalid(
                tpath,
                f"{template} is {size} bytes, over CloudFormation's {TEMPLATE_BODY_MAX} for a template body",
                "a smaller template, or the template in S3 named by its https:// URL",
            )
        file = str(candidate.resolve())
    region = _deploy_region(m, path, dr_regions)
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
    _explicit_nulls(m)
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


def _explicit_nulls(doc: dict[str, Any]) -> None:
    """Refuse ``null`` for the two optional keys the checks above read as absent.

    ``plans.<name>.verify.sample: null`` and ``failover.compute[i].instance_type: null`` were
    refused only by the JSON Schema check that ran after the validator on every load; the check
    left the load path (it found nothing else the validator lets through) and these two kept its
    message, and its place: after every other check.
    """
    expected = "a document valid against include/dr_policy.schema.json"
    for name, plan in doc["plans"].items():
        if "sample" in plan.get("verify", {}) and plan["verify"]["sample"] is None:
            path: _PathT = ("plans", name, "verify", "sample")
            raise _Invalid(path, "does not match the policy schema: None is not of type 'integer'", expected)
    for i, unit in enumerate(doc.get("failover", {}).get("compute", [])):
        if "instance_type" in unit and unit["instance_type"] is None:
            path = ("failover", "compute", i, "instance_type")
            raise _Invalid(path, "does not match the policy schema: None is not of type 'string'", expected)


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
