"""``dr_retention``'s engine on S3: DR bucket versions go after the DR manifests that name them.

Two windows of one bucket, each captured and copied to DR: ``a`` changed between them, ``b`` did
not. With ``daily: 1`` on both sides the first window's point and copy expire, then the DR version
only they named (``a``'s first version) is deleted, audited; everything still named, anything this
product did not copy and anything under legal hold stays. moto: S3 refuses ``awsdr:*`` object tags,
so the version-level hold tested is S3 Object Lock's legal hold (the ``awsdr:legal-hold`` object tag
is coded to the AWS documentation).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.catalog import Catalog
from awsdr.copies import copy_tags
from awsdr.kinds import kind_for
from awsdr.policy import parse_policy
from awsdr.retention import AUDIT_PREFIX, prune_kind
from awsdr.windows import TAG_LEGAL_HOLD, point_tags

SRC = "orders-data"
DR_BUCKET = "orders-data-dr-ap-northeast-1"
POLICY = parse_policy(
    """
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
      primary: {daily: 1}
      dr: {daily: 1}
""",
    "test.yaml",
)


@pytest.fixture
def estate(ctx):
    """w1: a1, b1; w2 (two days later): a2, b1. Both captured and copied; a foreign DR version."""
    Catalog(ctx, "awsdr-catalog", DR).ensure()
    kms = ctx.client("kms", DR)
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    dr = ctx.client("s3", DR)
    # the DR bucket exists already, with Object Lock on (so a version can be put on legal hold)
    dr.create_bucket(
        Bucket=DR_BUCKET,
        CreateBucketConfiguration={"LocationConstraint": DR},
        ObjectLockEnabledForBucket=True,
    )
    s3 = ctx.client("s3", PRIMARY)
    s3.create_bucket(Bucket=SRC, CreateBucketConfiguration={"LocationConstraint": PRIMARY})
    s3.put_bucket_versioning(Bucket=SRC, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=SRC, Tagging={"TagSet": [{"Key": "dr-plan", "Value": "gold"}]})
    kind = kind_for("s3", POLICY, "gold")
    s3.put_object(Bucket=SRC, Key="a", Body=b"a-one")
    s3.put_object(Bucket=SRC, Key="b", Body=b"b-one")
    listing = s3.list_object_versions(Bucket=SRC)["Versions"]
    w1 = max(v["LastModified"] for v in listing)
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})

    def capture(window):
        tags = point_tags(plan="gold", window=window, source=SRC, captured_at=window, kind="s3")
        point = kind.capture(ctx, res, "gold", window, tags)
        return point, kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(point))

    p1, c1 = capture(w1)
    s3.put_object(Bucket=SRC, Key="a", Body=b"a-two")
    w2 = w1 + timedelta(days=2)
    p2, c2 = capture(w2)
    foreign = dr.put_object(Bucket=DR_BUCKET, Key="a", Body=b"someone else's")["VersionId"]
    dr_of = {(o["key"], o["version_id"]): o["dr_version_id"] for c in (c1, c2) for o in _objects(ctx, c)}
    return {
        "kind": kind,
        "catalog": Catalog(ctx, "awsdr-catalog", DR),
        "points": (p1, c1, p2, c2),
        "now": w2 + timedelta(hours=1),
        "foreign": foreign,
        "a1": next(v for (k, _), v in dr_of.items() if k == "a" and v in _ids(c1, ctx)),
        "kept": {v for v in _ids(c2, ctx)},
    }


def _objects(ctx, copy):
    import json

    body = ctx.client("s3", DR).get_object(Bucket="awsdr-catalog", Key=copy.point_id)["Body"]
    return json.loads(body.read())["objects"]


def _ids(copy, ctx):
    return {o["dr_version_id"] for o in _objects(ctx, copy)}


def _dr_versions(ctx):
    return {v["VersionId"] for v in ctx.client("s3", DR).list_object_versions(Bucket=DR_BUCKET)["Versions"]}


def _manifests(ctx):
    keys = Catalog(ctx, "awsdr-catalog", DR).list_keys("points/")
    return {k for k in keys if not k.endswith("index.json")}


def _prune(ctx, estate, *, dry_run=False, run_id="r1"):
    return prune_kind(
        ctx,
        estate["kind"],
        estate["catalog"],
        POLICY,
        "gold",
        now=estate["now"],
        run_id=run_id,
        dry_run=dry_run,
        force=False,
    )


def test_dr_versions_go_after_the_manifests_that_named_them_with_an_audit_trail(ctx, estate):
    p1, c1, p2, c2 = estate["points"]
    assert estate["a1"] in _dr_versions(ctx)
    run = _prune(ctx, estate)
    assert not run.errors
    assert not run.refused
    assert not run.blocked
    assert set(run.deleted) == {p1.point_id, c1.point_id}
    assert _manifests(ctx) == {p2.point_id, c2.point_id}
    assert run.data["versions"] == 1
    assert run.data["deleted"] == 1
    assert _dr_versions(ctx) == estate["kept"] | {estate["foreign"]}
    keys = estate["catalog"].list_keys(AUDIT_PREFIX + "r1/s3-data/")
    intent = estate["catalog"].get_json(next(k for k in keys if k.endswith(".intent.json")))
    outcome = estate["catalog"].get_json(next(k for k in keys if k.endswith(".outcome.json")))
    assert intent["bucket"] == DR_BUCKET
    assert intent["versions"] == [{"Key": "a", "VersionId": estate["a1"]}]
    assert outcome["outcomes"] == {f"a@{estate['a1']}": "deleted"}
    # the index forgets the deleted version: the next copy re-checks instead of trusting it
    index = estate["catalog"].get_json("points/s3-dr/ap-northeast-1/orders-data/index.json")
    assert estate["a1"] not in index["versions"].values()
    again = _prune(ctx, estate, run_id="r2")
    assert again.deleted == []
    assert again.data["versions"] == 0


def test_a_dry_run_changes_nothing(ctx, estate):
    p1, c1, *_ = estate["points"]
    # the manifests are gone already (an earlier run), so the version is unreferenced now
    assert estate["kind"].delete(ctx, DR, [c1]) == {c1.point_id: "deleted"}
    assert estate["kind"].delete(ctx, PRIMARY, [p1]) == {p1.point_id: "deleted"}
    manifests, versions = _manifests(ctx), _dr_versions(ctx)
    run = _prune(ctx, estate, dry_run=True)
    assert run.data["versions"] == 1, "the dry run reports the version it would delete"
    assert (_manifests(ctx), _dr_versions(ctx)) == (manifests, versions)
    assert estate["catalog"].list_keys(AUDIT_PREFIX) == []


def test_held_and_foreign_versions_survive(ctx, estate):
    p1, c1, *_ = estate["points"]
    dr = ctx.client("s3", DR)
    dr.put_object_legal_hold(Bucket=DR_BUCKET, Key="a", VersionId=estate["a1"], LegalHold={"Status": "ON"})
    run = _prune(ctx, estate)
    assert c1.point_id in run.deleted, "the copy expired; its data is held on its own"
    assert run.data["versions"] == 0
    assert not run.data["errors"]
    assert estate["a1"] in _dr_versions(ctx)
    assert estate["foreign"] in _dr_versions(ctx)
    dr.put_object_legal_hold(Bucket=DR_BUCKET, Key="a", VersionId=estate["a1"], LegalHold={"Status": "OFF"})
    later = _prune(ctx, estate, run_id="r2")
    assert later.data["deleted"] == 1
    assert estate["a1"] not in _dr_versions(ctx)
    assert estate["foreign"] in _dr_versions(ctx)


def test_a_held_dr_copy_keeps_its_versions(ctx, estate):
    p1, c1, *_ = estate["points"]
    estate["kind"].set_tags(ctx, c1, {TAG_LEGAL_HOLD: "case-7"})
    run = _prune(ctx, estate)
    assert c1.point_id not in run.deleted
    assert run.data["versions"] == 0
    assert estate["a1"] in _dr_versions(ctx)
