"""The policy model, loader and validator (``awsdr.policy``): no AWS, no Airflow."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awsdr import policy as policy_mod
from awsdr.policy import (
    DEFAULT_COPY_QUOTAS,
    DEFAULT_POLICY_PATH,
    GFS_CLASSES,
    PLAN_NAME_PATTERN,
    RESOURCE_TYPES,
    Gfs,
    Policy,
    PolicyError,
    format_duration,
    load_policy,
    parse_duration,
    parse_policy,
    policy_json_schema,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "include" / "dr_policy.yaml"
SCHEMA_FILE = ROOT / "include" / "dr_policy.schema.json"

# The minimal policy of PRODUCT.md, verbatim. Line numbers below refer to this text:
#  1 version   2 primary_region   3 dr_regions   4 catalog_bucket   5 kms_keys   6 plans
#  7 gold   8 schedule   9 rpo   10 rto   11 select   12 tags   13 types   14 retention
#  15 primary   16 dr
MINIMAL = """\
version: 1
primary_region: ap-northeast-2
dr_regions: [ap-northeast-1]
catalog_bucket: awsdr-catalog          # in the first DR region: manifests, results, audit
kms_keys: {ap-northeast-1: alias/awsdr}  # DR-region keys that copies are encrypted with
plans:
  gold:
    schedule: "0 * * * *"
    rpo: PT1H                           # ISO-8601 durations
    rto: PT30M
    select:
      tags: {dr-plan: gold}             # resources carrying all these tags
      types: [ebs, ec2, rds, aurora, dynamodb, s3]
    retention:
      primary: {hourly: 24, daily: 7}
      dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}
"""

SILVER = """\
  silver:
    schedule: "0 0 * * *"
    rpo: P1D
    rto: PT4H
    select:
      tags: {dr-plan: silver}
"""


def mutate(old: str, new: str) -> str:
    """MINIMAL with the one occurrence of ``old`` replaced by ``new``."""
    assert MINIMAL.count(old) == 1, old
    return MINIMAL.replace(old, new)


def append(extra: str) -> str:
    """MINIMAL with top-level lines appended (the first one is line 17)."""
    return MINIMAL + extra


VAULT_OK = "vault:\n  account_id: '123456789012'\n  role_arn: arn:aws:iam::123456789012:role/awsdr-vault\n"

# (id, policy text, line, field, a word of the message or expectation)
BAD_POLICIES: list[tuple[str, str, int | None, str, str]] = [
    # resource types and selectors
    ("unknown-type", mutate("[ebs, ec2, rds, aurora, dynamodb, s3]", "[ebs, efs]"), 13,
     "plans.gold.select.types[1]", "dynamodb"),
    ("type-not-a-string", mutate("[ebs, ec2, rds, aurora, dynamodb, s3]", "[ebs, 3]"), 13,
     "plans.gold.select.types[1]", "integer"),
    ("duplicate-type", mutate("[ebs, ec2, rds, aurora, dynamodb, s3]", "[ebs, s3, ebs]"), 13,
     "plans.gold.select.types[2]", "once"),
    ("empty-types", mutate("[ebs, ec2, rds, aurora, dynamodb, s3]", "[]"), 13,
     "plans.gold.select.types", "non-empty"),
    ("empty-tags", mutate("{dr-plan: gold}", "{}"), 12, "plans.gold.select.tags", "at least one tag"),
    ("tag-value-bool", mutate("{dr-plan: gold}", "{dr-plan: yes}"), 12,
     "plans.gold.select.tags.dr-plan", "quote"),
    ("duplicate-tag-key", mutate("{dr-plan: gold}", "{dr-plan: gold, dr-plan: silver}"), 12,
     "plans.gold.select.tags.dr-plan", "once"),
    ("select-missing-tags", mutate("      tags: {dr-plan: gold}             # resources carrying all these tags\n",
                                   ""), 11, "plans.gold.select.tags", "tags"),
    # cron
    ("cron-out-of-range", mutate('"0 * * * *"', '"61 * * * *"'), 8, "plans.gold.schedule", "cron"),
    ("cron-4-fields", mutate('"0 * * * *"', '"0 * * *"'), 8, "plans.gold.schedule", "5-field"),
    ("cron-6-fields", mutate('"0 * * * *"', '"0 0 * * * *"'), 8, "plans.gold.schedule", "5-field"),
    ("cron-never-fires", mutate('"0 * * * *"', '"0 0 31 2 *"'), 8, "plans.gold.schedule", "real dates"),
    ("cron-not-string", mutate('"0 * * * *"', "3600"), 8, "plans.gold.schedule", "cron"),
    # durations
    ("bad-duration", mutate("rpo: PT1H ", "rpo: 1 hour "), 9, "plans.gold.rpo", "ISO-8601"),
    ("duration-years", mutate("rpo: PT1H ", "rpo: P1Y "), 9, "plans.gold.rpo", "use days"),
    ("duration-months", mutate("rto: PT30M", "rto: P1M"), 10, "plans.gold.rto", "use days"),
    ("duration-zero-rpo", mutate("rpo: PT1H ", "rpo: PT0S "), 9, "plans.gold.rpo", "longer than zero"),
    ("duration-zero-rto", mutate("rto: PT30M", "rto: P0D"), 10, "plans.gold.rto", "longer than zero"),
    ("duration-empty-time", mutate("rto: PT30M", "rto: PT"), 10, "plans.gold.rto", "ISO-8601"),
    ("duration-fraction", mutate("rto: PT30M", "rto: PT0.5S"), 10, "plans.gold.rto", "ISO-8601"),
    # regions and keys
    ("unknown-primary-region", mutate("primary_region: ap-northeast-2", "primary_region: ap-north-2"), 2,
     "primary_region", "AWS region"),
    ("unknown-dr-region", mutate("dr_regions: [ap-northeast-1]", "dr_regions: [ap-northeast-1, eu-west-9]"), 3,
     "dr_regions[1]", "AWS region"),
    ("dr-equals-primary", mutate("dr_regions: [ap-northeast-1]", "dr_regions: [ap-northeast-2]"), 3,
     "dr_regions[0]", "other than primary"),
    ("duplicate-dr-region",
     mutate("dr_regions: [ap-northeast-1]", "dr_regions: [ap-northeast-1, ap-northeast-1]"), 3,
     "dr_regions[1]", "once"),
    ("dr-other-partition", mutate("dr_regions: [ap-northeast-1]", "dr_regions: [cn-north-1]"), 3,
     "dr_regions[0]", "partition"),
    ("dr-regions-empty", mutate("dr_regions: [ap-northeast-1]", "dr_regions: []"), 3, "dr_regions", "non-empty"),
    ("dr-regions-scalar", mutate("dr_regions: [ap-northeast-1]", "dr_regions: ap-northeast-1"), 3, "dr_regions",
     "list"),
    ("missing-kms-key",
     mutate("dr_regions: [ap-northeast-1]", "dr_regions: [ap-northeast-1, ap-northeast-3]"), 5,
     "kms_keys.ap-northeast-3", "every DR region"),
    ("kms-key-not-dr-region",
     mutate("{ap-northeast-1: alias/awsdr}", "{ap-northeast-1: alias/awsdr, us-east-1: alias/x}"), 5,
     "kms_keys.us-east-1", "ap-northeast-1"),
    ("kms-key-malformed", mutate("{ap-northeast-1: alias/awsdr}", "{ap-northeast-1: awsdr}"), 5,
     "kms_keys.ap-northeast-1", "alias/"),
    ("kms-arn-wrong-region",
     mutate("{ap-northeast-1: alias/awsdr}",
            "{ap-northeast-1: 'arn:aws:kms:us-east-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef'}"),
     5, "kms_keys.ap-northeast-1", "a key in ap-northeast-1"),
    # retention
    ("retention-negative", mutate("{hourly: 24, daily: 7}", "{hourly: -1, daily: 7}"), 15,
     "plans.gold.retention.primary.hourly", ">= 0"),
    ("retention-all-zero", mutate("{daily: 14, weekly: 8, monthly: 12, yearly: 3}", "{daily: 0}"), 16,
     "plans.gold.retention.dr", "> 0"),
    ("retention-empty-class", mutate("{daily: 14, weekly: 8, monthly: 12, yearly: 3}", "{}"), 16,
     "plans.gold.retention.dr", "> 0"),
    ("retention-unknown-class", mutate("{hourly: 24, daily: 7}", "{hourly: 24, dayly: 7}"), 15,
     "plans.gold.retention.primary.dayly", "daily"),
    ("retention-float", mutate("{hourly: 24, daily: 7}", "{hourly: 24, daily: 7.5}"), 15,
     "plans.gold.retention.primary.daily", "integer"),
    ("archive-after-short", mutate("{daily: 14, weekly: 8, monthly: 12, yearly: 3}",
                                   "{daily: 14, monthly: 12, archive_after: PT12H}"), 16,
     "plans.gold.retention.dr.archive_after", "at least P1D"),
    ("archive-after-not-duration", mutate("{hourly: 24, daily: 7}", "{hourly: 24, archive_after: 90}"), 15,
     "plans.gold.retention.primary.archive_after", "ISO-8601"),
    ("archive-after-months", mutate("{daily: 14, weekly: 8, monthly: 12, yearly: 3}",
                                    "{monthly: 12, archive_after: P3M}"), 16,
     "plans.gold.retention.dr.archive_after", "use days"),
    ("archive-after-only", mutate("{daily: 14, weekly: 8, monthly: 12, yearly: 3}", "{archive_after: P90D}"), 16,
     "plans.gold.retention.dr", "> 0"),
    # plans
    ("duplicate-plan", MINIMAL + SILVER.replace("silver:", "gold:", 1), 17, "plans.gold", "once"),
    ("unknown-plan-key", mutate("    rto: PT30M\n", "    rto: PT30M\n    rtoo: PT1H\n"), 11,
     "plans.gold.rtoo", "schedule, copy_schedule"),
    ("plan-missing-rpo", mutate("    rpo: PT1H                           # ISO-8601 durations\n", ""), 7,
     "plans.gold.rpo", "missing"),
    ("plan-name-uppercase", mutate("  gold:", "  Gold:"), 7, "plans.Gold", "lowercase"),
    ("plan-name-too-long", mutate("  gold:", "  " + "g" * 41 + ":"), 7, "plans." + "g" * 41, "1-40"),
    ("plan-name-digit-first", mutate("  gold:", "  '1gold':"), 7, "plans.1gold", "starting with a letter"),
    ("plan-not-mapping", MINIMAL.split("  gold:")[0] + "  gold: [1]\n", 7, "plans.gold", "mapping"),
    ("no-plans", MINIMAL.split("plans:")[0] + "plans: {}\n", 6, "plans", "at least one plan"),
    ("plans-missing", MINIMAL.split("plans:")[0], 1, "plans", "missing"),
    ("plan-max-catchup-zero", mutate("    rto: PT30M\n", "    rto: PT30M\n    max_catchup: 0\n"), 11,
     "plans.gold.max_catchup", ">= 1"),
    ("plan-naive-start-date",
     mutate("    rto: PT30M\n", "    rto: PT30M\n    start_date: 2026-11-01 10:00:00\n"), 11,
     "plans.gold.start_date", "timezone"),
    ("verify-sample-zero", mutate("    rto: PT30M\n", "    rto: PT30M\n    verify: {sample: 0}\n"), 11,
     "plans.gold.verify.sample", ">= 1"),
    ("ec2-reboot-string", mutate("    rto: PT30M\n", "    rto: PT30M\n    ec2: {reboot: 'no'}\n"), 11,
     "plans.gold.ec2.reboot", "true or false"),
    # top level
    ("unknown-top-level-key", mutate("catalog_bucket:", "catalog_buket:"), 4, "catalog_buket", "catalog_bucket"),
    ("missing-top-level-key", mutate("catalog_bucket:", "# catalog_bucket:"), 1, "catalog_bucket", "missing"),
    ("version-2", mutate("version: 1", "version: 2"), 1, "version", "version: 1"),
    ("version-string", mutate("version: 1", "version: '1'"), 1, "version", "version: 1"),
    ("bucket-uppercase", mutate("awsdr-catalog ", "AWSDR_Catalog "), 4, "catalog_bucket", "S3 bucket"),
    ("bucket-ip", mutate("awsdr-catalog ", "192.168.1.10 "), 4, "catalog_bucket", "S3 bucket"),
    ("bucket-too-short", mutate("awsdr-catalog ", "ab "), 4, "catalog_bucket", "S3 bucket"),
    ("max-delete-fraction-0", append("max_delete_fraction: 0\n"), 17, "max_delete_fraction", "greater than 0"),
    ("max-delete-fraction-1.5", append("max_delete_fraction: 1.5\n"), 17, "max_delete_fraction", "at most 1"),
    ("naive-start-date", append("start_date: 2026-11-01 00:00:00\n"), 17, "start_date", "timezone"),
    ("start-date-garbage", append("start_date: next tuesday\n"), 17, "start_date", "ISO-8601"),
    ("max-catchup-zero", append("max_catchup: 0\n"), 17, "max_catchup", ">= 1"),
    ("max-catchup-bool", append("max_catchup: true\n"), 17, "max_catchup", "integer"),
    ("late-after-years", append("late_after: P1Y\n"), 17, "late_after", "use days"),
    ("region-concurrency-high", append("region_concurrency: 101\n"), 17, "region_concurrency", "1 to 100"),
    ("unknown-timezone", append("timezone: Mars/Olympus_Mons\n"), 17, "timezone", "IANA"),
    ("copy-quota-unknown-type", append("copy_quotas: {efs: 5}\n"), 17, "copy_quotas.efs", "resource type"),
    ("copy-quota-zero", append("copy_quotas: {ebs: 0}\n"), 17, "copy_quotas.ebs", "1 to 100"),
    ("sns-arn-malformed", append("notifications: {sns_topic_arn: 'arn:aws:sqs:x'}\n"), 17,
     "notifications.sns_topic_arn", "SNS topic ARN"),
    ("notifications-unknown-key", append("notifications: {slack: '#dr'}\n"), 17, "notifications.slack",
     "sns_topic_arn"),
    ("failover-not-mapping", append("failover: [drill]\n"), 17, "failover", "mapping"),
    ("archive-class-without-archive-after",
     mutate("dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}", "dr: {daily: 14, archive_class: GLACIER}"), 16,
     "plans.gold.retention.dr.archive_class", "archive_after"),
    ("archive-class-unknown",
     mutate("dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}",
            "dr: {daily: 14, archive_after: P90D, archive_class: GLACIER_FLEXIBLE}"), 16,
     "plans.gold.retention.dr.archive_class", "DEEP_ARCHIVE"),
    # vault
    ("vault-with-ecr",
     mutate("[ebs, ec2, rds, aurora, dynamodb, s3]", "[ebs, ecr]") + VAULT_OK, 13,
     "plans.gold.select.types[1]", "vault account"),
    ("vault-role-arn-malformed",
     append("vault:\n  account_id: '123456789012'\n  role_arn: arn:aws:iam::123456789012:user/bob\n"), 19,
     "vault.role_arn", "IAM role ARN"),
    ("vault-role-other-account",
     append("vault:\n  account_id: '123456789012'\n  role_arn: arn:aws:iam::210987654321:role/awsdr\n"), 19,
     "vault.role_arn", "account 123456789012"),
    ("vault-account-short", append("vault:\n  account_id: '1234'\n  role_arn: arn:aws:iam::123456789012:role/x\n"),
     18, "vault.account_id", "12-digit"),
    ("vault-region-not-dr", append(VAULT_OK + "  regions: [ap-northeast-2]\n"), 20, "vault.regions[0]",
     "ap-northeast-1"),
    ("vault-missing-role", append("vault:\n  account_id: '123456789012'\n"), 17, "vault.role_arn", "missing"),
    # YAML itself
    ("yaml-syntax", mutate("rpo: PT1H ", "rpo: PT1H: x "), 9, "<yaml>", "YAML"),
    ("yaml-unclosed-flow", mutate("types: [ebs, ec2, rds, aurora, dynamodb, s3]", "types: [ebs"), 14, "<yaml>",
     "line 13"),
    ("yaml-tab-indent", mutate("    rto: PT30M", "\trto: PT30M"), 10, "<yaml>", "YAML"),
    ("yaml-two-documents", MINIMAL + "---\nversion: 1\n", 17, "<yaml>", "single document"),
    ("yaml-duplicate-top-key", append("version: 1\n"), 17, "version", "first at line 1"),
    ("yaml-bool-key", append("yes: 1\n"), 17, "yes", "quote"),
    ("yaml-custom-tag", append("max_catchup: !foo 3\n"), 17, "max_catchup", "plain YAML value"),
    ("yaml-recursive-alias", append("failover: &loop {again: *loop}\n"), 17, "failover.again", "recursive"),
    ("not-a-mapping", "- version: 1\n- plans: {}\n", 1, "<document>", "mapping"),
    ("scalar-document", "just a string\n", 1, "<document>", "mapping"),
    ("empty-file", "", 1, "<document>", "empty"),
    ("comments-only", "# nothing here\n", 1, "<document>", "empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "field", "word"),
    [pytest.param(text, line, field, word, id=case) for case, text, line, field, word in BAD_POLICIES],
)
def test_bad_policy_names_line_field_and_expectation(text: str, line: int, field: str, word: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "dr_policy.yaml")
    err = info.value
    assert (err.file, err.line, err.field) == ("dr_policy.yaml", line, field), str(err)
    assert word in str(err)
    assert str(err).startswith(f"dr_policy.yaml:{line}: {field}: ")
    assert str(err).endswith(f"(expected {err.expected})")
    assert "\n" not in str(err)


def test_enough_malformed_cases() -> None:
    assert len(BAD_POLICIES) >= 25
    assert len({case for case, *_ in BAD_POLICIES}) == len(BAD_POLICIES)


# --------------------------------------------------------------------------------------------
# Valid policies
# --------------------------------------------------------------------------------------------


def test_minimal_policy_from_product_md_parses_with_defaults() -> None:
    p = parse_policy(MINIMAL, "minimal.yaml")
    assert p.source_path == "minimal.yaml"
    assert p.version == 1
    assert p.timezone == "UTC"
    assert p.primary_region == "ap-northeast-2"
    assert p.dr_regions == ("ap-northeast-1",)
    assert p.catalog_region == "ap-northeast-1"
    assert p.catalog_bucket == "awsdr-catalog"
    assert p.kms_keys == {"ap-northeast-1": "alias/awsdr"}
    assert p.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert p.max_catchup == 3
    assert p.late_after == timedelta(minutes=15)
    assert p.copy_quotas == {
        "ebs": 20,
        "ec2": 20,
        "rds": 20,
        "aurora": 5,
        "dynamodb": 10,
        "s3": 10,
        "ecr": 10,
        "lambda": 10,
    }
    assert p.region_concurrency == 10
    assert p.orphan_grace == timedelta(days=90)
    assert p.max_delete_fraction == 0.5
    assert p.sns_topic_arn is None
    assert p.vault is None
    assert p.failover is None
    assert list(p.plans) == ["gold"]

    gold = p.plan("gold")
    assert gold.name == "gold"
    assert gold.schedule == "0 * * * *"
    assert gold.copy_schedule == "30 */6 * * *"
    assert gold.rpo == timedelta(hours=1)
    assert gold.rto == timedelta(minutes=30)
    assert gold.start_date == p.start_date
    assert gold.max_catchup == 3
    assert gold.select.tags == {"dr-plan": "gold"}
    assert gold.select.types == policy_mod.DEFAULT_TYPES  # MINIMAL lists the six data types
    assert gold.retention.primary == Gfs(hourly=24, daily=7)
    assert gold.retention.dr == Gfs(daily=14, weekly=8, monthly=12, yearly=3)
    assert gold.ec2_reboot is False
    assert gold.verify.schedule == "0 3 * * *"
    assert gold.verify.sample is None


def test_demo_policy_loads() -> None:
    p = load_policy(DEMO)
    assert isinstance(p, Policy)
    assert p.source_path == str(DEMO)
    assert p.start_date == datetime(2026, 11, 1, tzinfo=UTC)
    assert p.max_catchup == 2
    assert list(p.plans) == ["gold", "silver"]
    gold, silver = p.plan("gold"), p.plan("silver")
    assert gold.select.types == policy_mod.DEFAULT_TYPES
    assert gold.retention.primary.as_dict() == {
        "hourly": 24,
        "daily": 7,
        "weekly": 0,
        "monthly": 0,
        "yearly": 0,
    }
    assert gold.retention.dr == Gfs(daily=14, weekly=8, monthly=12, yearly=3)
    assert (gold.start_date, gold.max_catchup) == (p.start_date, 2)
    assert silver.schedule == "0 0 * * *"
    assert (silver.rpo, silver.rto) == (timedelta(days=1), timedelta(hours=4))
    assert silver.select == policy_mod.Selector(
        tags={"dr-plan": "silver"}, types=("ebs", "rds", "dynamodb", "s3")
    )
    assert silver.retention.primary == Gfs(daily=7)
    assert silver.retention.dr == Gfs(daily=14, weekly=4)


def test_defaults_when_types_and_retention_are_absent() -> None:
    text = MINIMAL.split("      types:")[0]  # drop types and retention
    gold = parse_policy(text, "x.yaml").plan("gold")
    # the data types: ecr and lambda only where a plan names them
    assert gold.select.types == ("ebs", "ec2", "rds", "aurora", "dynamodb", "s3")
    assert set(RESOURCE_TYPES) - set(gold.select.types) == {"ecr", "lambda"}
    assert gold.retention.primary == Gfs(daily=7)
    assert gold.retention.dr == Gfs(daily=14, weekly=8, monthly=12)


def test_archive_after_per_region_class() -> None:
    text = mutate(
        "dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}",
        "dr: {daily: 14, monthly: 12, archive_after: P90D}",
    )
    gold = parse_policy(text, "p.yaml").plan("gold")
    assert gold.retention.dr == Gfs(daily=14, monthly=12, archive_after=timedelta(days=90))
    assert gold.retention.primary.archive_after is None  # absent: never archived
    assert gold.retention.dr.as_dict() == {"hourly": 0, "daily": 14, "weekly": 0, "monthly": 12, "yearly": 0}
    both = mutate("primary: {hourly: 24, daily: 7}", "primary: {hourly: 24, daily: 7, archive_after: P1D}")
    assert parse_policy(both, "p.yaml").plan("gold").retention.primary.archive_after == timedelta(days=1)


def test_schema_accepts_archive_after_and_rejects_a_bad_one() -> None:
    schema = policy_json_schema()
    good = _as_json(yaml.safe_load(mutate("yearly: 3}", "yearly: 3, archive_after: P90D}")))
    jsonschema.validate(good, schema, cls=jsonschema.Draft202012Validator)
    bad = _as_json(yaml.safe_load(mutate("yearly: 3}", "yearly: 3, archive_after: 90 days}")))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)


def test_partial_retention_keeps_the_other_class_default() -> None:
    text = mutate("      dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}\n", "")
    gold = parse_policy(text, "x.yaml").plan("gold")
    assert gold.retention.primary == Gfs(hourly=24, daily=7)
    assert gold.retention.dr == Gfs(daily=14, weekly=8, monthly=12)


def test_every_optional_key() -> None:
    text = (
        mutate(
            "    rto: PT30M\n",
            "    rto: PT30M\n"
            '    copy_schedule: "15 * * * *"\n'
            "    start_date: 2026-12-01\n"
            "    max_catchup: 5\n"
            "    ec2: {reboot: true}\n"
            '    verify: {schedule: "0 4 * * 1", sample: 3}\n',
        )
        .replace("dr_regions: [ap-northeast-1]", "dr_regions: [ap-northeast-1, ap-northeast-3]")
        .replace(
            "{ap-northeast-1: alias/awsdr}",
            "{ap-northeast-1: alias/awsdr, "
            "ap-northeast-3: 'arn:aws:kms:ap-northeast-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'}",
        )
        + "timezone: Asia/Seoul\n"
        + "start_date: '2026-11-01T09:00:00+09:00'\n"
        + "max_catchup: 1\n"
        + "late_after: PT0S\n"
        + "copy_quotas: {aurora: 2}\n"
        + "region_concurrency: 4\n"
        + "orphan_grace: P2W\n"
        + "max_delete_fraction: 1\n"
        + "notifications: {sns_topic_arn: 'arn:aws:sns:ap-northeast-2:123456789012:awsdr-alerts'}\n"
        + "vault:\n  account_id: 123456789012\n  role_arn: arn:aws:iam::123456789012:role/dr/awsdr-vault\n"
        + "  regions: [ap-northeast-3]\n"
        + "failover: {strategy: warm-standby}\n"
    )
    p = parse_policy(text, "full.yaml")
    assert p.timezone == "Asia/Seoul"
    assert p.dr_regions == ("ap-northeast-1", "ap-northeast-3")
    assert p.catalog_region == "ap-northeast-1"
    assert p.start_date == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert p.start_date.tzinfo is UTC
    assert p.max_catchup == 1
    assert p.late_after == timedelta(0)
    assert p.copy_quotas == {**DEFAULT_COPY_QUOTAS, "aurora": 2}
    assert p.region_concurrency == 4
    assert p.orphan_grace == timedelta(weeks=2)
    assert p.max_delete_fraction == 1.0
    assert isinstance(p.max_delete_fraction, float)
    assert p.sns_topic_arn == "arn:aws:sns:ap-northeast-2:123456789012:awsdr-alerts"
    assert p.vault is not None
    assert p.vault.account_id == "123456789012"
    assert p.vault.regions == ("ap-northeast-3",)
    assert p.failover == policy_mod.Failover(strategy="warm-standby")
    gold = p.plan("gold")
    assert gold.copy_schedule == "15 * * * *"
    # a bare date is midnight in the policy timezone
    assert gold.start_date == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert gold.max_catchup == 5
    assert gold.ec2_reboot is True
    assert gold.verify == policy_mod.Verify(schedule="0 4 * * 1", sample=3)


def test_vault_regions_default_to_all_dr_regions() -> None:
    p = parse_policy(append(VAULT_OK), "x.yaml")
    assert p.vault == policy_mod.Vault(
        account_id="123456789012",
        role_arn="arn:aws:iam::123456789012:role/awsdr-vault",
        regions=("ap-northeast-1",),
    )


def test_yaml_merge_keys_share_plan_settings_and_keep_lines() -> None:
    text = MINIMAL.replace("  gold:\n", "  gold: &base\n", 1) + (
        "  silver:\n"  # line 17
        "    <<: *base\n"
        "    schedule: '0 0 * * *'\n"
        "    rpo: P1D\n"
        "    select: {tags: {dr-plan: silver}}\n"  # the same selector as gold's is refused
    )
    p = parse_policy(text, "x.yaml")
    silver = p.plan("silver")
    assert silver.schedule == "0 0 * * *"
    assert silver.rpo == timedelta(days=1)
    assert silver.rto == timedelta(minutes=30)
    assert silver.retention == p.plan("gold").retention
    # an error in a merged value points at the anchor's line
    broken = text.replace("rto: PT30M", "rto: P1M")
    with pytest.raises(PolicyError) as info:
        parse_policy(broken, "x.yaml")
    assert (info.value.line, info.value.field) == (10, "plans.gold.rto")


def test_plan_lookup_error_names_the_plans() -> None:
    p = parse_policy(MINIMAL, "x.yaml")
    with pytest.raises(KeyError, match=r"no plan 'bronze' in x.yaml \(plans: gold\)"):
        p.plan("bronze")


def test_policy_is_frozen() -> None:
    p = parse_policy(MINIMAL, "x.yaml")
    with pytest.raises(AttributeError):
        p.version = 2  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def test_load_policy_honours_awsdr_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(MINIMAL.replace("dr-plan: gold", "dr-plan: other"))
    monkeypatch.setenv("AWSDR_POLICY", str(path))
    p = load_policy()
    assert p.source_path == str(path)
    assert p.plan("gold").select.tags == {"dr-plan": "other"}


def test_load_policy_errors_name_the_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(mutate("rto: PT30M", "rto: soon"))
    monkeypatch.setenv("AWSDR_POLICY", str(path))
    with pytest.raises(PolicyError, match=rf"^{path}:10: plans\.gold\.rto: "):
        load_policy()


def test_load_policy_default_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWSDR_POLICY", raising=False)
    assert DEFAULT_POLICY_PATH == DEMO
    assert load_policy().source_path == str(DEMO)


def test_load_policy_explicit_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWSDR_POLICY", str(tmp_path / "missing.yaml"))
    assert load_policy(DEMO).source_path == str(DEMO)


def test_load_policy_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(missing)
    assert (info.value.line, info.value.field) == (None, "<file>")
    assert str(info.value).startswith(f"{missing}: <file>: cannot read")


def test_load_policy_utf8_bom_and_bad_bytes(tmp_path: Path) -> None:
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_policy(bom).version == 1
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    with pytest.raises(PolicyError) as info:
        load_policy(latin)
    assert (info.value.line, info.value.field) == (17, "<file>")


def test_policy_error_is_one_line_and_pickles() -> None:
    err = PolicyError("p.yaml", 3, "plans.gold.rpo", "bad\nvalue", "PT1H")
    assert str(err) == "p.yaml:3: plans.gold.rpo: bad value (expected PT1H)"
    assert isinstance(err, ValueError)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.file, clone.line, clone.field, clone.expected, str(clone)) == (
        "p.yaml",
        3,
        "plans.gold.rpo",
        "PT1H",
        str(err),
    )


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("PT30M", timedelta(minutes=30)),
        ("PT45S", timedelta(seconds=45)),
        ("P1D", timedelta(days=1)),
        ("P90D", timedelta(days=90)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("PT0S", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("P1Y", "use days"),
        ("P6M", "use days"),
        ("P1Y2D", "use days"),
        ("P", "ISO-8601"),
        ("PT", "ISO-8601"),
        ("P1DT", "ISO-8601"),
        ("1H", "ISO-8601"),
        ("PT1.5H", "ISO-8601"),
        ("PT0.5S", "ISO-8601"),
        ("-PT1H", "ISO-8601"),
        ("P1H", "ISO-8601"),
        ("", "ISO-8601"),
        ("P999999999999D", "too long"),
    ],
)
def test_parse_duration_rejects(text: str, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        parse_duration(text)


@pytest.mark.parametrize("text", ["PT1H", "PT30M", "P1D", "P1DT2H3M4S", "PT0S", "P14D"])
def test_format_duration_round_trips(text: str) -> None:
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


# --------------------------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------------------------


def _as_json(data: object) -> object:
    """YAML data as JSON would hold it (timestamps as ISO strings)."""
    return json.loads(json.dumps(data, default=lambda v: v.isoformat()))


def test_committed_schema_is_generated_from_the_model() -> None:
    generated = json.dumps(policy_json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA_FILE.read_text() == generated, (
        "include/dr_policy.schema.json is stale: run "
        "`PYTHONPATH=plugins python -m awsdr.policy --schema > include/dr_policy.schema.json`"
    )


def test_schema_is_a_valid_draft_2020_12_schema_that_accepts_the_demo() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    jsonschema.validate(
        _as_json(yaml.safe_load(DEMO.read_text())), schema, cls=jsonschema.Draft202012Validator
    )
    jsonschema.validate(_as_json(yaml.safe_load(MINIMAL)), schema, cls=jsonschema.Draft202012Validator)


def test_schema_shares_the_model_constants() -> None:
    schema = policy_json_schema()
    plan = schema["properties"]["plans"]["additionalProperties"]
    assert plan["properties"]["select"]["properties"]["types"]["items"]["enum"] == list(RESOURCE_TYPES)
    assert schema["properties"]["plans"]["propertyNames"]["pattern"] == PLAN_NAME_PATTERN
    assert schema["properties"]["primary_region"]["enum"] == sorted(policy_mod.AWS_REGIONS)
    assert schema["required"] == [
        "version",
        "primary_region",
        "dr_regions",
        "catalog_bucket",
        "kms_keys",
        "plans",
    ]
    assert set(plan["properties"]["retention"]["properties"]["primary"]["properties"]) == {
        *GFS_CLASSES,
        "archive_after",
        "archive_class",
    }
    assert schema["properties"]["copy_quotas"]["default"] == dict(DEFAULT_COPY_QUOTAS)


def test_schema_rejects_a_typo_too() -> None:
    schema = policy_json_schema()
    doc = _as_json(yaml.safe_load(append("max_catchupp: 3\n")))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("extra", "line", "field", "kind"),
    [
        ("    verify: {sample: null}\n", 17, "plans.gold.verify.sample", "integer"),
        (
            "failover:\n  compute:\n    - {asg: web, region: ap-northeast-1, capacity: {max: 1},"
            " instance_type: null}\n",
            19,
            "failover.compute[0].instance_type",
            "string",
        ),
    ],
)
def test_the_validator_refuses_what_the_schema_check_on_load_refused(
    extra: str, line: int, field: str, kind: str
) -> None:
    """The JSON Schema is not checked on load: the two nulls only it refused, the validator refuses
    with its message (a search of mutated policies found nothing else the validator let through)."""
    with pytest.raises(PolicyError) as info:
        parse_policy(MINIMAL + extra, "x.yaml")
    assert str(info.value) == (
        f"x.yaml:{line}: {field}: does not match the policy schema: None is not of type '{kind}' "
        "(expected a document valid against include/dr_policy.schema.json)"
    )
    # the schema says the same
    doc = _as_json(yaml.safe_load(MINIMAL + extra))
    with pytest.raises(jsonschema.ValidationError, match=f"None is not of type '{kind}'"):
        jsonschema.validate(doc, policy_json_schema(), cls=jsonschema.Draft202012Validator)


def test_cli_prints_the_schema_and_validates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert policy_mod.main(["--schema"]) == 0
    assert capsys.readouterr().out == SCHEMA_FILE.read_text()
    assert policy_mod.main([str(DEMO)]) == 0
    assert "gold, silver" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(mutate("version: 1", "version: 2"))
    assert policy_mod.main([str(bad)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"{bad}:1: version: unsupported policy version 2 (expected version: 1)"
    )


# --------------------------------------------------------------------------------------------
# Property: valid inputs round-trip
# --------------------------------------------------------------------------------------------

_counts = st.fixed_dictionaries({name: st.integers(0, 1000) for name in GFS_CLASSES}).filter(
    lambda c: any(c.values())
)
_plan = st.fixed_dictionaries(
    {
        "primary": _counts,
        "dr": _counts,
        "types": st.lists(st.sampled_from(RESOURCE_TYPES), min_size=1, max_size=6, unique=True),
        "rpo_minutes": st.integers(60, 60 * 24 * 30),  # the hourly schedule needs an rpo >= PT1H
        "tag": st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-:/ ", min_size=1, max_size=20),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.dictionaries(st.from_regex(PLAN_NAME_PATTERN, fullmatch=True), _plan, min_size=1, max_size=4))
def test_valid_policies_round_trip(plans: dict[str, dict]) -> None:
    doc = {
        "version": 1,
        "primary_region": "ap-northeast-2",
        "dr_regions": ["ap-northeast-1"],
        "catalog_bucket": "awsdr-catalog",
        "kms_keys": {"ap-northeast-1": "alias/awsdr"},
        "plans": {
            name: {
                "schedule": "0 * * * *",
                "rpo": f"PT{spec['rpo_minutes']}M",
                "rto": "PT30M",
                "select": {"tags": {"dr-plan": spec["tag"], "plan": name}, "types": spec["types"]},
                "retention": {
                    "primary": {k: v for k, v in spec["primary"].items() if v},
                    "dr": spec["dr"],
                },
            }
            for name, spec in plans.items()
        },
    }
    p = parse_policy(yaml.safe_dump(doc, sort_keys=False), "generated.yaml")
    assert list(p.plans) == list(plans)
    for name, spec in plans.items():
        plan = p.plan(name)
        assert plan.name == name
        assert plan.rpo == timedelta(minutes=spec["rpo_minutes"])
        assert plan.select.tags == {"dr-plan": spec["tag"], "plan": name}  # one selector per plan
        assert plan.select.types == tuple(spec["types"])
        assert plan.retention.primary.as_dict() == spec["primary"]
        assert plan.retention.dr.as_dict() == spec["dr"]


def test_load_policy_parses_a_file_once_and_a_changed_file_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parsed: list[str] = []
    real = policy_mod.parse_policy

    def counting(text: str, source: str):
        parsed.append(source)
        return real(text, source)

    monkeypatch.setattr(policy_mod, "parse_policy", counting)
    path = tmp_path / "p.yaml"
    path.write_bytes(DEMO.read_bytes())
    first = load_policy(path)
    assert load_policy(path) is first  # every DAG file loads it at parse: validated once
    assert parsed == [str(path)]
    # the same modification time, other bytes: read and validated anew
    stat = path.stat()
    path.write_text(DEMO.read_text().replace("max_catchup: 2 ", "max_catchup: 3 ", 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = load_policy(path)
    assert len(parsed) == 2
    assert second is not first
    assert (first.max_catchup, second.max_catchup) == (2, 3)
    # an invalid file is never cached: it fails on every load
    path.write_text("plans: [")
    for _ in range(2):
        with pytest.raises(PolicyError):
            load_policy(path)
    assert len(parsed) == 4


def test_load_policy_caches_by_file_until_it_changes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parsed: list[str] = []
    real = policy_mod.parse_policy

    def counting(text: str, source: str):
        parsed.append(source)
        return real(text, source)

    monkeypatch.setattr(policy_mod, "parse_policy", counting)
    path = tmp_path / "p.yaml"
    path.write_text(MINIMAL)
    monkeypatch.setenv("AWSDR_POLICY", str(path))  # read at call time
    first = load_policy()
    assert load_policy() is first
    assert load_policy(path) is first
    assert parsed == [str(path)]
    # shared by every caller, so nobody can change it
    with pytest.raises(TypeError):
        first.plans["gold"].select.tags["dr-plan"] = "silver"  # type: ignore[index]
    with pytest.raises(TypeError):
        first.kms_keys.update({"ap-northeast-1": "alias/other"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.max_catchup = 9  # type: ignore[misc]
    assert load_policy(path).plans["gold"].select.tags == {"dr-plan": "gold"}
    # rewritten (other content): read and validated again
    path.write_text(MINIMAL.replace("rto: PT30M", "rto: PT45M"))
    second = load_policy(path)
    assert second is not first
    assert (first.plan("gold").rto, second.plan("gold").rto) == (timedelta(minutes=30), timedelta(minutes=45))
    assert load_policy(path) is second
    assert len(parsed) == 2
    # rewritten with a bad value: fails with file:line:field, and again on the next load
    path.write_text(MINIMAL.replace("rto: PT30M", "rto: 30m"))
    for _ in range(2):
        with pytest.raises(PolicyError) as info:
            load_policy(path)
        assert (info.value.file, info.value.line, info.value.field) == (str(path), 10, "plans.gold.rto")
        assert str(info.value).startswith(f"{path}:10: plans.gold.rto: ")
    assert len(parsed) == 4
    # fixed again: loaded again
    path.write_text(MINIMAL)
    assert load_policy(path).plan("gold").rto == timedelta(minutes=30)
    assert len(parsed) == 5
