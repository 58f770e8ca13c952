"""The policy's ``failover`` section: model, defaults, line-numbered errors, JSON Schema."""

from __future__ import annotations

from datetime import timedelta

import jsonschema
import pytest
import yaml

from awsdr.policy import (
    DEFAULT_POLICY_PATH,
    AmiLaunch,
    AsgStandby,
    Capacity,
    Drill,
    EcsStandby,
    Failover,
    FailoverDatabase,
    FailoverReadiness,
    FailoverVerify,
    HealthCheck,
    PolicyError,
    load_policy,
    parse_policy,
    policy_json_schema,
)

# Lines 1-16: the minimal policy of PRODUCT.md; the failover section starts at line 17.
BASE = """\
version: 1
primary_region: ap-northeast-2
dr_regions: [ap-northeast-1]
catalog_bucket: awsdr-catalog
kms_keys: {ap-northeast-1: alias/awsdr}
plans:
  gold:
    schedule: "0 * * * *"
    rpo: PT1H
    rto: PT30M
    select:
      tags: {dr-plan: gold}
      types: [ebs, ec2, rds, aurora, dynamodb, s3]
    retention:
      primary: {hourly: 24, daily: 7}
      dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}
"""

# A full failover section; line numbers (17 = "failover:") are noted on the right.
FULL = """\
failover:
  strategy: warm-standby
  dns:
    zone: Example.COM
    routing: weighted
    records:
      - name: app.example.com
        type: CNAME
        ttl: 30
        primary: app.ap-northeast-2.example.com
        dr: {ap-northeast-1: app.ap-northeast-1.example.com}
        set_identifiers: {ap-northeast-2: seoul, ap-northeast-1: tokyo}
        weights: {ap-northeast-1: 50}
  health_checks:
    - url: https://app.ap-northeast-1.example.com/health
      region: ap-northeast-1
    - id: 0b6a8f52-3e8a-4c1e-9d0a-6d8e0f1a2b3c
    - name: app-primary
  databases:
    - rds: orders-db
      replicas: {ap-northeast-1: orders-db-dr}
    - aurora: ledger
      global_cluster: ledger-global
      replicas: {ap-northeast-1: ledger-tokyo}
    - dynamodb: orders
      replicas: {ap-northeast-1: orders}
  compute:
    - asg: web
      region: ap-northeast-1
      capacity: {min: 2, desired: 3, max: 6}
      resting: {min: 1, desired: 1, max: 1}
    - ecs: {cluster: app, service: api, region: ap-northeast-1, desired: 4, resting: 1}
  ami_launch:
    - source: orders-web-0
      instance_type: t3.micro
      subnet: subnet-0123abcd
      count: 2
  drill: {schedule: "0 4 * * 6", zone_prefix: rehearsal}
  readiness: {verified_within: P3D, unverified: error, stale_copies: warning}
  verify: {unknown: fail, timeout: PT10S}
  primary_kms_key: alias/awsdr-home
"""


def with_failover(section: str) -> str:
    return BASE + section


def test_absent_section_is_none_and_empty_section_has_defaults() -> None:
    assert parse_policy(BASE, "p.yaml").failover is None
    fo = parse_policy(with_failover("failover: {}\n"), "p.yaml").failover
    assert fo == Failover()
    assert fo.strategy == "pilot-light"
    assert fo.dns is None
    assert fo.drill == Drill(schedule=None, zone_prefix="drill")
    assert fo.readiness == FailoverReadiness(timedelta(days=7), "warning", "error")
    assert fo.verify == FailoverVerify("warn", timedelta(seconds=5))


def test_full_section_parses_into_the_model() -> None:
    fo = parse_policy(with_failover(FULL), "p.yaml").failover
    assert fo is not None
    assert fo.strategy == "warm-standby"
    assert fo.dns is not None
    assert fo.dns.zone == "example.com."
    assert fo.dns.routing == "weighted"
    record = fo.dns.records[0]
    assert record.name == "app.example.com."
    assert (record.type, record.ttl) == ("CNAME", 30)
    assert record.set_identifier("ap-northeast-2") == "seoul"
    assert record.weight("ap-northeast-1") == 50
    assert record.weight("ap-northeast-2") == 100
    assert fo.health_checks == (
        HealthCheck(url="https://app.ap-northeast-1.example.com/health", region="ap-northeast-1"),
        HealthCheck(id="0b6a8f52-3e8a-4c1e-9d0a-6d8e0f1a2b3c"),
        HealthCheck(name="app-primary"),
    )
    assert fo.databases == (
        FailoverDatabase("rds", "orders-db", {"ap-northeast-1": "orders-db-dr"}),
        FailoverDatabase("aurora", "ledger", {"ap-northeast-1": "ledger-tokyo"}, "ledger-global"),
        FailoverDatabase("dynamodb", "orders", {"ap-northeast-1": "orders"}),
    )
    assert fo.compute == (
        AsgStandby("web", "ap-northeast-1", Capacity(2, 3, 6), Capacity(1, 1, 1)),
        EcsStandby("app", "api", "ap-northeast-1", 4, 1),
    )
    assert fo.ami_launch == (AmiLaunch("orders-web-0", "t3.micro", {"ap-northeast-1": "subnet-0123abcd"}, 2),)
    assert fo.drill == Drill("0 4 * * 6", "rehearsal")
    assert fo.readiness == FailoverReadiness(timedelta(days=3), "error", "warning")
    assert fo.verify == FailoverVerify("fail", timedelta(seconds=10))
    assert fo.primary_kms_key == "alias/awsdr-home"


def test_demo_policy_failover_matches_the_seeded_estate() -> None:
    fo = load_policy(DEFAULT_POLICY_PATH).failover
    assert fo is not None
    assert fo.strategy == "pilot-light"
    assert fo.dns is not None
    assert [r.name for r in fo.dns.records] == ["app.example.com."]
    assert {(d.kind, d.name) for d in fo.databases} == {
        ("rds", "orders-db"),
        ("aurora", "ledger"),
        ("dynamodb", "orders"),
    }
    assert fo.databases[0].replicas == {"ap-northeast-1": "orders-db-dr"}
    assert [u.kind for u in fo.compute] == ["asg", "ecs"]
    assert fo.drill.schedule is not None


def test_model_is_frozen() -> None:
    fo = parse_policy(with_failover(FULL), "p.yaml").failover
    assert fo is not None
    with pytest.raises(AttributeError):
        fo.strategy = "active-active"  # type: ignore[misc]


def _mutate(old: str, new: str) -> str:
    assert FULL.count(old) == 1, old
    return with_failover(FULL.replace(old, new))


# (id, policy text, line, field, a word of the message)
BAD: list[tuple[str, str, int, str, str]] = [
    ("not-a-mapping", with_failover("failover: [drill]\n"), 17, "failover", "mapping"),
    ("unknown-key", with_failover("failover: {stratgy: pilot-light}\n"), 17, "failover.stratgy", "strategy"),
    ("unknown-strategy", _mutate("strategy: warm-standby", "strategy: pilot_light"), 18, "failover.strategy",
     "pilot-light"),
    ("zone-not-a-name", _mutate("zone: Example.COM", "zone: not a zone"), 20, "failover.dns.zone", "zone"),
    ("routing-unknown", _mutate("routing: weighted", "routing: latency"), 21, "failover.dns.routing", "weighted"),
    ("records-empty", with_failover("failover:\n  dns: {zone: example.com, records: []}\n"), 18,
     "failover.dns.records", "non-empty"),
    ("record-outside-zone", _mutate("- name: app.example.com", "- name: app.example.org"), 23,
     "failover.dns.records[0].name", "inside the zone"),
    ("record-type", _mutate("type: CNAME", "type: MX"), 24, "failover.dns.records[0].type", "CNAME"),
    ("record-ttl-negative", _mutate("ttl: 30", "ttl: -1"), 25, "failover.dns.records[0].ttl", "integer"),
    ("record-missing-primary", _mutate("        primary: app.ap-northeast-2.example.com\n", ""), 23,
     "failover.dns.records[0].primary", "missing"),
    ("record-dr-not-dr-region", _mutate("dr: {ap-northeast-1: app", "dr: {us-east-1: app"), 27,
     "failover.dns.records[0].dr.us-east-1", "not a DR region"),
    ("weight-too-big", _mutate("weights: {ap-northeast-1: 50}", "weights: {ap-northeast-1: 500}"), 29,
     "failover.dns.records[0].weights.ap-northeast-1", "0 to 255"),
    ("set-id-twice", _mutate("ap-northeast-1: tokyo}", "ap-northeast-1: seoul}"), 28,
     "failover.dns.records[0].set_identifiers.ap-northeast-1", "twice"),
    ("health-check-two-kinds",
     _mutate("    - name: app-primary\n", "    - name: app-primary\n      url: https://x.example.com/\n"), 34,
     "failover.health_checks[2]", "exactly one"),
    ("health-check-bad-id", _mutate("id: 0b6a8f52-3e8a-4c1e-9d0a-6d8e0f1a2b3c", "id: hc-1"), 33,
     "failover.health_checks[1].id", "UUID"),
    ("health-check-bad-url", _mutate("url: https://app.ap-northeast-1.example.com/health", "url: ftp://x"), 31,
     "failover.health_checks[0].url", "http"),
    ("database-two-kinds", _mutate("    - rds: orders-db\n", "    - rds: orders-db\n      dynamodb: orders\n"), 36,
     "failover.databases[0]", "exactly one"),
    ("database-no-kind", _mutate("    - rds: orders-db\n      replicas", "    - replicas"), 36,
     "failover.databases[0]", "exactly one"),
    ("database-bad-rds-id", _mutate("rds: orders-db", "rds: 1orders"), 36, "failover.databases[0].rds",
     "identifier"),
    ("replica-not-dr-region", _mutate("replicas: {ap-northeast-1: orders-db-dr}", "replicas: {eu-west-1: x}"), 37,
     "failover.databases[0].replicas.eu-west-1", "not a DR region"),
    ("global-table-other-name", _mutate("replicas: {ap-northeast-1: orders}", "replicas: {ap-northeast-1: other}"),
     42, "failover.databases[2].replicas.ap-northeast-1", "global-table"),
    ("global-cluster-on-rds",
     _mutate("    - rds: orders-db\n", "    - rds: orders-db\n      global_cluster: g\n"), 37,
     "failover.databases[0].global_cluster", "aurora"),
    ("database-twice", _mutate("    - dynamodb: orders\n      replicas: {ap-northeast-1: orders}\n",
                               "    - rds: orders-db\n"), 41, "failover.databases[2]", "twice"),
    ("asg-region-not-dr", _mutate("      region: ap-northeast-1\n      capacity", "      region: ap-northeast-2\n      capacity"),
     45, "failover.compute[0].region", "ap-northeast-1"),
    ("capacity-out-of-order", _mutate("capacity: {min: 2, desired: 3, max: 6}", "capacity: {min: 2, desired: 1, max: 6}"),
     46, "failover.compute[0].capacity", "min <= desired <= max"),
    ("resting-above-capacity", _mutate("resting: {min: 1, desired: 1, max: 1}", "resting: {min: 1, desired: 5, max: 6}"),
     47, "failover.compute[0].resting", "within capacity"),
    ("asg-missing-capacity", _mutate("      capacity: {min: 2, desired: 3, max: 6}\n", ""), 44,
     "failover.compute[0].capacity", "missing"),
    ("ecs-missing-desired", _mutate("region: ap-northeast-1, desired: 4, resting: 1}", "region: ap-northeast-1}"),
     48, "failover.compute[1].ecs.desired", "missing"),
    ("ecs-resting-above", _mutate("desired: 4, resting: 1}", "desired: 4, resting: 9}"), 48,
     "failover.compute[1].ecs.resting", "resting <= desired"),
    ("compute-unknown-key", _mutate("    - asg: web\n", "    - asg: web\n      lambda: fn\n"), 45,
     "failover.compute[0].lambda", "unknown key"),
    ("ami-instance-type", _mutate("instance_type: t3.micro", "instance_type: big"), 51,
     "failover.ami_launch[0].instance_type", "t3.micro"),
    ("ami-subnet", _mutate("subnet: subnet-0123abcd", "subnet: sn-1"), 52, "failover.ami_launch[0].subnet",
     "subnet-"),
    ("ami-count-zero", _mutate("count: 2", "count: 0"), 53, "failover.ami_launch[0].count", "1 to 100"),
    ("drill-schedule-bad", _mutate('schedule: "0 4 * * 6"', 'schedule: "weekly"'), 54, "failover.drill.schedule",
     "cron"),
    ("drill-prefix-bad", _mutate("zone_prefix: rehearsal", "zone_prefix: Drill_Zone"), 54,
     "failover.drill.zone_prefix", "DNS label"),
    ("readiness-duration", _mutate("verified_within: P3D", "verified_within: 3 days"), 55,
     "failover.readiness.verified_within", "ISO-8601"),
    ("readiness-severity", _mutate("unverified: error", "unverified: fatal"), 55, "failover.readiness.unverified",
     "warning"),
    ("verify-unknown", _mutate("unknown: fail", "unknown: ignore"), 56, "failover.verify.unknown", "warn"),
    ("primary-kms-key", _mutate("primary_kms_key: alias/awsdr-home", "primary_kms_key: awsdr-home"), 57,
     "failover.primary_kms_key", "KMS"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "field", "word"), [pytest.param(t, ln, f, w, id=case) for case, t, ln, f, w in BAD]
)
def test_bad_failover_section_names_line_and_field(text: str, line: int, field: str, word: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "dr_policy.yaml")
    err = info.value
    assert (err.file, err.line, err.field) == ("dr_policy.yaml", line, field), str(err)
    assert word in str(err), str(err)
    assert str(err).startswith(f"dr_policy.yaml:{line}: {field}: ")
    assert "\n" not in str(err)


def test_the_full_section_is_valid_against_the_schema() -> None:
    doc = yaml.safe_load(with_failover(FULL))
    jsonschema.validate(doc, policy_json_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_describes_the_failover_keys() -> None:
    schema = policy_json_schema()["properties"]["failover"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["strategy"]["enum"] == [
        "backup-restore",
        "pilot-light",
        "warm-standby",
        "active-active",
    ]
    assert schema["properties"]["strategy"]["default"] == "pilot-light"
    assert schema["properties"]["drill"]["properties"]["zone_prefix"]["default"] == "drill"
    for bad in (
        {"strategy": "cold"},
        {"compute": [{"lambda": "x"}]},
        {"databases": [{"rds": "a", "dynamodb": "b"}]},
    ):
        doc = yaml.safe_load(BASE)
        doc["failover"] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, policy_json_schema(), cls=jsonschema.Draft202012Validator)
