"""Audit records under S3 Object Lock in the catalog bucket (moto supports Object Lock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from conftest import DR

from awsdr.catalog import AuditLockError, Catalog, is_record
from awsdr.policy import AuditLock

BUCKET = "awsdr-catalog"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _versions(ctx, key):
    out = ctx.client("s3", DR).list_object_versions(Bucket=BUCKET, Prefix=key)
    return [v for v in out.get("Versions", []) if v["Key"] == key]


def test_records_are_locked_in_governance_by_default_and_cannot_be_deleted(ctx):
    catalog = Catalog(ctx, BUCKET, DR, clock=lambda: NOW)
    catalog.ensure()
    s3 = ctx.client("s3", DR)
    assert s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"][
        "ObjectLockEnabled"
    ] == ("Enabled")
    key = "audit/retention/run_1/ebs/000000.intent.json"
    catalog.put_json(key, {"points": ["snap-1"]})
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == NOW + timedelta(days=2557)
    version = head["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # a re-write is a new version: the locked one stays, readable
    catalog.put_json(key, {"points": ["rewritten"]})
    assert len(_versions(ctx, key)) == 2
    first = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
    assert b"snap-1" in first
    # governance: only a principal allowed s3:BypassGovernanceRetention (never the runner) can
    s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert len(_versions(ctx, key)) == 1


def test_compliance_mode_refuses_even_the_bypass(ctx):
    catalog = Catalog(ctx, BUCKET, DR, audit=AuditLock(mode="compliance", retention=timedelta(days=30)))
    catalog.ensure()
    key = "failover/manual__x/audit.json"
    catalog.put_json(key, {"outcome": "succeeded"})
    s3 = ctx.client("s3", DR)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=head["VersionId"], BypassGovernanceRetention=True)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_only_records_are_locked(ctx):
    catalog = Catalog(ctx, BUCKET, DR)
    catalog.ensure()
    catalog.put_json("manifests/gold/20261201T100000Z.json", {"protected": []})
    head = ctx.client("s3", DR).head_object(Bucket=BUCKET, Key="manifests/gold/20261201T100000Z.json")
    assert "ObjectLockMode" not in head  # manifests are pruned by retention
    assert is_record("retention/reports/run.json")
    assert is_record("failover/run/plan.json")
    assert not is_record("points/s3/gold/b/x.json")


def test_an_existing_bucket_without_object_lock_gets_it_before_the_first_record(ctx):
    s3 = ctx.client("s3", DR)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": DR})  # as seed_demo does
    with pytest.raises(ClientError):
        s3.get_object_lock_configuration(Bucket=BUCKET)
    Catalog(ctx, BUCKET, DR).put_json("audit/retention/r/ebs/000000.intent.json", {})
    conf = s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled"
    head = s3.head_object(Bucket=BUCKET, Key="audit/retention/r/ebs/000000.intent.json")
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_a_record_is_never_written_unlocked(ctx):
    """moto (unlike AWS today) refuses Object Lock on a non-empty bucket: the write must fail."""
    s3 = ctx.client("s3", DR)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": DR})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="manifests/old.json", Body=b"{}")
    with pytest.raises(AuditLockError, match="put-object-lock-configuration --bucket awsdr-catalog"):
        Catalog(ctx, BUCKET, DR).put_json("audit/retention/r/ebs/000000.intent.json", {})
    assert not _versions(ctx, "audit/retention/r/ebs/000000.intent.json")


def test_the_policy_chooses_the_mode_and_the_period(tmp_path):
    from awsdr.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy

    assert load_policy(DEFAULT_POLICY_PATH).audit == AuditLock("governance", timedelta(days=2557))
    text = DEFAULT_POLICY_PATH.read_text()
    path = tmp_path / "policy.yaml"
    path.write_text(text + "\naudit: {object_lock: compliance, retention: P30D}\n")
    assert load_policy(path).audit == AuditLock("compliance", timedelta(days=30))
    path.write_text(text + "\naudit: {object_lock: legal}\n")
    with pytest.raises(PolicyError, match="object_lock"):
        load_policy(path)
