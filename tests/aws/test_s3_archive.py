"""S3's archive tier: the DR bucket lifecycle rule retention keeps, and archived versions restored
before they are copied or restored.

moto stores lifecycle rules but never moves a version by them, honours ``StorageClass`` on
PutObject, refuses to copy a GLACIER version (ObjectNotInActiveTierError; AWS says
InvalidObjectState) and finishes a RestoreObject at once. So an archived version is made here by
writing it in GLACIER, and "the restore is done" is moto's immediate answer; the hours a real
Standard retrieval takes are the copy's RetryLater moment and the restore's ``creating`` state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.catalog import Catalog
from awsdr.copies import copy_tags
from awsdr.kinds import kind_for
from awsdr.kinds.base import AVAILABLE, CREATING, REFUSED, RetryLater
from awsdr.kinds.s3 import ARCHIVE_RULE_ID, read_state
from awsdr.policy import PolicyError, parse_policy
from awsdr.retention import AUDIT_PREFIX, prune_kind
from awsdr.windows import point_tags

SRC = "ledger-data"
DR_BUCKET = "ledger-data-dr-ap-northeast-1"
POLICY_TEXT = """
version: 1
primary_region: ap-northeast-2
dr_regions: [ap-northeast-1]
catalog_bucket: awsdr-catalog
kms_keys: {ap-northeast-1: alias/awsdr}
plans:
  gold:
    schedule: "0 0 * * *"
    rpo: P1D
    rto: PT1H
    select: {tags: {dr-plan: gold}, types: [s3]}
    retention:
      primary: {daily: 3}
      dr: {daily: 3%s}
"""
POLICY = parse_policy(POLICY_TEXT % ", archive_after: P30D, archive_class: GLACIER", "test.yaml")


def _estate(ctx, *, glacier: bool = False):
    """A versioned, tagged source bucket with two objects (``cold`` written in GLACIER when
    ``glacier``), the DR key and the catalog; returns the kind, the resource and the window."""
    Catalog(ctx, "awsdr-catalog", DR).ensure()
    kms = ctx.client("kms", DR)
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    s3 = ctx.client("s3", PRIMARY)
    s3.create_bucket(Bucket=SRC, CreateBucketConfiguration={"LocationConstraint": PRIMARY})
    s3.put_bucket_versioning(Bucket=SRC, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=SRC, Tagging={"TagSet": [{"Key": "dr-plan", "Value": "gold"}]})
    s3.put_object(Bucket=SRC, Key="warm", Body=b"warm-one")
    s3.put_object(
        Bucket=SRC, Key="cold", Body=b"cold-one", **({"StorageClass": "GLACIER"} if glacier else {})
    )
    window = max(v["LastModified"] for v in s3.list_object_versions(Bucket=SRC)["Versions"])
    kind = kind_for("s3", POLICY, "gold")
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    return kind, res, window


def _capture(ctx, kind, res, window):
    tags = point_tags(plan="gold", window=window, source=SRC, captured_at=window, kind="s3")
    return kind.capture(ctx, res, "gold", window, tags)


def _copy(ctx, kind, point):
    return kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(point))


def _rules(ctx, bucket=DR_BUCKET):
    return ctx.client("s3", DR).get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]


def test_an_archived_source_version_is_restored_then_copied_once(ctx):
    kind, res, window = _estate(ctx, glacier=True)
    point = _capture(ctx, kind, res, window)
    before = datetime.now(UTC)
    with pytest.raises(RetryLater, match="archive storage class: a restore was requested") as caught:
        _copy(ctx, kind, point)
    # the copy says when to look again (a retrieval takes hours), not the next poll
    assert caught.value.retry_at is not None
    assert caught.value.retry_at >= before + timedelta(minutes=59)
    s3 = ctx.client("s3", PRIMARY)
    cold = s3.head_object(Bucket=SRC, Key="cold")
    assert 'ongoing-request="false"' in cold["Restore"]  # moto: the requested restore is done at once
    dr = ctx.client("s3", DR)
    # the readable version went across in the first pass; the archived one did not
    assert {v["Key"] for v in dr.list_object_versions(Bucket=DR_BUCKET)["Versions"]} == {"warm"}
    copy = _copy(ctx, kind, point)
    assert copy.details["copied"] == 1  # only ``cold`` now: ``warm`` is not copied twice
    keys = sorted(v["Key"] for v in dr.list_object_versions(Bucket=DR_BUCKET)["Versions"])
    assert keys == ["cold", "warm"]


def test_a_restore_waits_for_archived_versions_and_requests_their_restore(ctx):
    kind, res, window = _estate(ctx, glacier=True)
    point = _capture(ctx, kind, res, window)  # a primary point: its holder is the source bucket
    restored = kind.restore(ctx, point, name="unused", tags={})
    assert restored.status == CREATING
    assert restored.details["archived_versions"] == 1
    assert [k for k, _ in restored.details["restoring"]] == ["cold"]
    head = ctx.client("s3", PRIMARY).head_object(Bucket=SRC, Key="cold")
    assert read_state(head) == "readable"  # requested by restore(), finished at once by moto
    [done] = kind.restore_status(ctx, PRIMARY, [restored])
    assert done.status == AVAILABLE
    assert done.details["restoring"] == []
    assert kind.validate(ctx, done, {"details": point.details}) == []


def test_a_restore_of_standard_versions_is_available_at_once(ctx):
    kind, res, window = _estate(ctx)
    point = _capture(ctx, kind, res, window)
    restored = kind.restore(ctx, point, name="unused", tags={})
    assert restored.status == AVAILABLE
    assert "restoring" not in restored.details


def test_read_state_of_each_archive_class_and_restore():
    assert read_state({"StorageClass": "GLACIER_IR"}) == "readable"
    assert read_state({}) == "readable"
    assert read_state({"StorageClass": "DEEP_ARCHIVE"}) == "archived"
    assert read_state({"StorageClass": "GLACIER", "Restore": 'ongoing-request="true"'}) == "restoring"
    assert read_state({"StorageClass": "GLACIER", "Restore": 'ongoing-request="false", expiry-date="x"'}) == (
        "readable"
    )
    assert (
        read_state({"StorageClass": "INTELLIGENT_TIERING", "ArchiveStatus": "DEEP_ARCHIVE_ACCESS"})
        == "archived"
    )


def _run(ctx, kind, policy, *, dry_run=False, run_id="r1"):
    catalog = Catalog(ctx, "awsdr-catalog", DR)
    now = datetime.now(UTC) + timedelta(minutes=5)
    return prune_kind(
        ctx, kind, catalog, policy, "gold", now=now, run_id=run_id, dry_run=dry_run, force=False
    )


def _audits(ctx):
    catalog = ctx.client("s3", DR)
    listing = catalog.list_objects_v2(Bucket="awsdr-catalog", Prefix=AUDIT_PREFIX).get("Contents", [])
    return [o["Key"] for o in listing if "/s3-archive" in o["Key"] or "s3-archive" in o["Key"]]


def test_retention_keeps_the_dr_bucket_archive_rule_as_the_policy_says(ctx):
    kind, res, window = _estate(ctx)
    _copy(ctx, kind, _capture(ctx, kind, res, window))
    dr = ctx.client("s3", DR)
    # a rule of the user's own on the bucket stays whatever retention does to ours
    theirs = {
        "ID": "expire-tmp",
        "Status": "Enabled",
        "Filter": {"Prefix": "tmp/"},
        "Expiration": {"Days": 7},
    }
    dr.put_bucket_lifecycle_configuration(Bucket=DR_BUCKET, LifecycleConfiguration={"Rules": [theirs]})

    dry = _run(ctx, kind, POLICY, dry_run=True, run_id="dry")
    assert dry.archive["buckets"] == {f"{DR}/{DR_BUCKET}": "would-apply"}
    assert [r["ID"] for r in _rules(ctx)] == ["expire-tmp"]  # a dry run changes nothing
    assert _audits(ctx) == []

    run = _run(ctx, kind, POLICY)
    assert run.archive["buckets"] == {f"{DR}/{DR_BUCKET}": "applied"}
    rules = {r["ID"]: r for r in _rules(ctx)}
    assert set(rules) == {"expire-tmp", ARCHIVE_RULE_ID}
    assert rules[ARCHIVE_RULE_ID]["NoncurrentVersionTransitions"] == [
        {"NoncurrentDays": 30, "StorageClass": "GLACIER"}
    ]
    assert "Transitions" not in rules[ARCHIVE_RULE_ID]  # current versions (the newest point's) never move
    assert len(_audits(ctx)) == 1

    again = _run(ctx, kind, POLICY, run_id="r2")
    assert again.archive["buckets"] == {f"{DR}/{DR_BUCKET}": "unchanged"}
    assert len(_audits(ctx)) == 1  # nothing changed, nothing audited

    # the policy drops archive_after: the rule goes, the user's stays
    plain = parse_policy(POLICY_TEXT % "", "test.yaml")
    gone = _run(ctx, kind_for("s3", plain, "gold"), plain, run_id="r3")
    assert gone.archive["buckets"] == {f"{DR}/{DR_BUCKET}": "removed"}
    assert [r["ID"] for r in _rules(ctx)] == ["expire-tmp"]
    assert len(_audits(ctx)) == 2


def test_a_dr_bucket_this_product_did_not_make_is_left_alone(ctx):
    kind, res, window = _estate(ctx)
    copy = _copy(ctx, kind, _capture(ctx, kind, res, window))
    dr = ctx.client("s3", DR)
    dr.delete_bucket_tagging(Bucket=DR_BUCKET)  # as a replication destination the user made
    assert kind.apply_archive_rule(ctx, DR, DR_BUCKET, 30, "GLACIER") == REFUSED
    run = _run(ctx, kind, POLICY)
    assert run.archive["refused"] == [f"{DR}/{copy.details['dr_bucket']}"]
    with pytest.raises(Exception, match="NoSuchLifecycleConfiguration"):
        _rules(ctx)


def test_archive_class_needs_archive_after_and_a_known_class():
    with pytest.raises(PolicyError, match=r"archive_class.*archive_after"):
        parse_policy(POLICY_TEXT % ", archive_class: GLACIER", "test.yaml")
    with pytest.raises(PolicyError, match=r"archive_class.*unknown value 'GLACIER_FLEX'"):
        parse_policy(POLICY_TEXT % ", archive_after: P30D, archive_class: GLACIER_FLEX", "test.yaml")
    assert parse_policy(POLICY_TEXT % ", archive_after: P30D", "test.yaml").plans[
        "gold"
    ].retention.dr.archive_class == ("GLACIER_IR")
