"""S3 kind after capture: DR bucket copies, listing, delete, restore/validate, pruning.

moto gaps: moto does not replicate, so the replication test sees the destination lagging and the
copy filling it; moto refuses object tag keys starting with ``aws``, so tags (and legal holds) are
in the manifest JSON; objects over 5 GiB are reached by lowering ``copy_limit``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.copies import copy_tags
from awsdr.kinds import get_kind
from awsdr.kinds.base import ABSENT, AVAILABLE, DELETED, MISSING, REFUSED, CaptureError
from awsdr.kinds.s3 import (
    META_SOURCE_VERSION,
    dr_index_key,
    dr_manifest_key,
    get_doc,
    manifest_key,
    prune_dr_versions,
)
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD, point_tags

CATALOG = "awsdr-catalog"
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
SRC = "orders-data"
DR_BUCKET = "orders-data-dr-ap-northeast-1"


def _kind(ctx):
    ctx.client("s3", DR).create_bucket(Bucket=CATALOG, CreateBucketConfiguration={"LocationConstraint": DR})
    kms = ctx.client("kms", DR)
    key = kms.create_key(Description="awsdr DR key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=key["KeyId"])
    kind = get_kind("s3")
    kind.catalog_bucket, kind.catalog_region = CATALOG, DR
    return kind, key["Arn"]


def _bucket(ctx, name, *, region=PRIMARY, tags=None):
    s3 = ctx.client("s3", region)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(
        Bucket=name,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in (tags or {"dr-plan": "gold"}).items()]},
    )
    return s3


def _put(s3, bucket, key, body, **extra):
    return s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)["VersionId"]


def _window(s3, bucket):
    """A window at or after every version written so far (LastModified has whole seconds)."""
    listing = s3.list_object_versions(Bucket=bucket)
    return max(v["LastModified"] for v in listing["Versions"] + listing.get("DeleteMarkers", []))


def _capture(ctx, kind, bucket, window):
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"}) if r.id == bucket]
    tags = point_tags(plan="gold", window=window, source=bucket, captured_at=CAP, kind="s3")
    return kind.capture(ctx, res, "gold", window, tags)


def _copy(ctx, kind, point):
    return kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(point))


def _dr_versions(ctx, bucket=DR_BUCKET):
    return ctx.client("s3", DR).list_object_versions(Bucket=bucket).get("Versions", [])


def _two_windows(ctx, kind):
    """Source bucket with a1,b1 at w1 and a2,b1 at w2; both captured. Returns (s3, p1, p2, versions)."""
    s3 = _bucket(ctx, SRC)
    a1 = _put(s3, SRC, "a", b"a-one", ContentType="text/plain", Metadata={"owner": "ops"})
    b1 = _put(s3, SRC, "b", b"b-one!")
    w1 = _window(s3, SRC)
    p1 = _capture(ctx, kind, SRC, w1)
    a2 = _put(s3, SRC, "a", b"a-two-longer")
    w2 = max(_window(s3, SRC), w1 + timedelta(seconds=1))
    p2 = _capture(ctx, kind, SRC, w2)
    return s3, p1, p2, {"a1": a1, "b1": b1, "a2": a2}


def test_copy_fills_an_encrypted_dr_bucket_from_a_plaintext_source(ctx):
    kind, key_arn = _kind(ctx)
    s3, p1, _, v = _two_windows(ctx, kind)
    tags = copy_tags(p1)
    copy = kind.copy(ctx, p1, dest_region=DR, kms_key_id="alias/awsdr", tags=tags)
    assert copy.point_id == dr_manifest_key(DR, "gold", SRC, p1.window)
    assert (copy.region, copy.source_id, copy.plan, copy.window, copy.status) == (
        DR,
        SRC,
        "gold",
        p1.window,
        AVAILABLE,
    )
    assert copy.tags == tags
    assert copy.tags[TAG_COPY_OF] == p1.point_id
    assert copy.details["dr_bucket"] == DR_BUCKET
    assert copy.details["object_count"] == 2
    assert copy.details["digest"] == p1.details["digest"]
    assert copy.details["kms_key_id"] == key_arn
    assert copy.details["copied"] == 2
    assert copy.details["replication"] is None

    dr = ctx.client("s3", DR)
    assert dr.get_bucket_location(Bucket=DR_BUCKET)["LocationConstraint"] == DR
    assert dr.get_bucket_versioning(Bucket=DR_BUCKET)["Status"] == "Enabled"
    [rule] = dr.get_bucket_encryption(Bucket=DR_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key_arn,
    }
    assert all(dr.get_public_access_block(Bucket=DR_BUCKET)["PublicAccessBlockConfiguration"].values())
    manifest, _ = get_doc(dr, CATALOG, copy.point_id)
    assert manifest["tags"] == tags
    by_key = {o["key"]: o for o in manifest["objects"]}
    assert by_key["a"]["version_id"] == v["a1"]
    for key, source_version in (("a", v["a1"]), ("b", v["b1"])):
        got = dr.get_object(Bucket=DR_BUCKET, Key=key, VersionId=by_key[key]["dr_version_id"])
        assert got["ServerSideEncryption"] == "aws:kms"
        assert got["SSEKMSKeyId"] == key_arn
        assert got["Metadata"][META_SOURCE_VERSION] == source_version
        want = s3.get_object(Bucket=SRC, Key=key, VersionId=source_version)["Body"].read()
        assert got["Body"].read() == want
    head_a = dr.head_object(Bucket=DR_BUCKET, Key="a", VersionId=by_key["a"]["dr_version_id"])
    assert head_a["ContentType"] == "text/plain"
    assert head_a["Metadata"]["owner"] == "ops"
    assert head_a["Metadata"]["awsdr-source-etag"] == by_key["a"]["etag"]
    index, _ = get_doc(dr, CATALOG, dr_index_key(DR, SRC))
    assert index["versions"] == {v["a1"]: by_key["a"]["dr_version_id"], v["b1"]: by_key["b"]["dr_version_id"]}


def test_copy_is_idempotent_and_copies_only_what_is_missing(ctx):
    kind, _ = _kind(ctx)
    _, p1, p2, v = _two_windows(ctx, kind)
    first = _copy(ctx, kind, p1)
    again = _copy(ctx, kind, p1)
    assert again.point_id == first.point_id
    assert len(_dr_versions(ctx)) == 2
    # p2 shares b1 with p1: only a2 is copied
    second = _copy(ctx, kind, p2)
    assert second.details["copied"] == 1
    assert len(_dr_versions(ctx)) == 3
    # an index entry whose DR version is gone is missing: copied again
    index, _ = get_doc(ctx.client("s3", DR), CATALOG, dr_index_key(DR, SRC))
    ctx.client("s3", DR).delete_object(Bucket=DR_BUCKET, Key="b", VersionId=index["versions"][v["b1"]])
    ctx.client("s3", DR).delete_object(Bucket=CATALOG, Key=second.point_id)
    third = _copy(ctx, kind, p2)
    assert third.details["copied"] == 1
    index2, _ = get_doc(ctx.client("s3", DR), CATALOG, dr_index_key(DR, SRC))
    assert index2["versions"][v["b1"]] != index["versions"][v["b1"]]
    assert index2["versions"][v["a2"]] == index["versions"][v["a2"]]


def test_copy_after_a_lost_index_update_does_not_copy_twice(ctx):
    kind, _ = _kind(ctx)
    _, p1, _, _ = _two_windows(ctx, kind)
    first = _copy(ctx, kind, p1)
    dr = ctx.client("s3", DR)
    dr.delete_object(Bucket=CATALOG, Key=dr_index_key(DR, SRC))
    dr.delete_object(Bucket=CATALOG, Key=first.point_id)
    again = _copy(ctx, kind, p1)
    assert again.details["copied"] == 0
    assert len(_dr_versions(ctx)) == 2


def test_large_objects_take_the_multipart_path(ctx):
    kind, key_arn = _kind(ctx)
    _, p1, _, v = _two_windows(ctx, kind)
    kind.copy_limit = 1  # every object is "large": UploadPartCopy (real limit: 5 GiB)
    copy = _copy(ctx, kind, p1)
    dr = ctx.client("s3", DR)
    manifest, _ = get_doc(dr, CATALOG, copy.point_id)
    for entry in manifest["objects"]:
        head = dr.head_object(Bucket=DR_BUCKET, Key=entry["key"], VersionId=entry["dr_version_id"])
        assert head["ETag"].strip('"').endswith("-1")
        assert head["SSEKMSKeyId"] == key_arn
        assert head["Metadata"][META_SOURCE_VERSION] == entry["version_id"]
        assert head["ContentLength"] == entry["size"]
    assert not dr.list_multipart_uploads(Bucket=DR_BUCKET).get("Uploads")


def test_copy_uses_the_replication_destination_and_reports_its_lag(ctx):
    kind, _ = _kind(ctx)
    s3 = _bucket(ctx, SRC)
    _bucket(ctx, "orders-replica", region=DR, tags={"role": "replica"})
    s3.put_bucket_replication(
        Bucket=SRC,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [
                {
                    "ID": "to-dr",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::orders-replica"},
                }
            ],
        },
    )
    _put(s3, SRC, "a", b"one")
    _put(s3, SRC, "b", b"two")
    point = _capture(ctx, kind, SRC, _window(s3, SRC))
    copy = _copy(ctx, kind, point)
    assert copy.details["dr_bucket"] == "orders-replica"
    rep = copy.details["replication"]
    assert (rep["status"], rep["destination"], rep["destination_exists"]) == (
        "Enabled",
        "orders-replica",
        True,
    )
    assert (rep["state"], rep["missing"], rep["missing_keys"]) == ("lagging", 2, ["a", "b"])
    assert len(_dr_versions(ctx, "orders-replica")) == 2  # moto does not replicate: the copy filled it
    assert DR_BUCKET not in {b["Name"] for b in ctx.client("s3", DR).list_buckets()["Buckets"]}


def test_broken_replication_falls_back_to_the_dr_bucket(ctx):
    kind, _ = _kind(ctx)
    s3 = _bucket(ctx, SRC)
    _bucket(ctx, "gone-replica", region=DR)
    s3.put_bucket_replication(
        Bucket=SRC,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [
                {
                    "ID": "to-dr",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::gone-replica"},
                }
            ],
        },
    )
    ctx.client("s3", DR).delete_bucket(Bucket="gone-replica")
    _put(s3, SRC, "a", b"one")
    copy = _copy(ctx, kind, _capture(ctx, kind, SRC, _window(s3, SRC)))
    assert copy.details["dr_bucket"] == DR_BUCKET
    assert copy.details["replication"]["state"] == "broken"
    assert copy.details["replication"]["destination_exists"] is False


def test_copy_of_a_vanished_source_version_fails_and_keeps_progress(ctx):
    kind, _ = _kind(ctx)
    s3, p1, _, v = _two_windows(ctx, kind)
    s3.delete_object(Bucket=SRC, Key="b", VersionId=v["b1"])
    with pytest.raises(CaptureError, match="1 of 2 object versions not copied.*b: source version .* is gone"):
        _copy(ctx, kind, p1)
    index, _ = get_doc(ctx.client("s3", DR), CATALOG, dr_index_key(DR, SRC))
    assert set(index["versions"]) == {v["a1"]}
    assert kind.list_points(ctx, DR) == []


def test_list_points_sees_points_and_copies_and_skips_unmanaged_manifests(ctx):
    kind, _ = _kind(ctx)
    _, p1, p2, _ = _two_windows(ctx, kind)
    copy = _copy(ctx, kind, p1)
    catalog = ctx.client("s3", DR)
    fake = {"schema": 1, "bucket": "other", "region": PRIMARY, "plan": "gold", "tags": {"awsdr:plan": "gold"}}
    catalog.put_object(
        Bucket=CATALOG,
        Key=manifest_key("gold", "other", p1.window),
        Body=json.dumps({**fake, "objects": []}, separators=(",", ":")),
    )
    primary = kind.list_points(ctx, PRIMARY)
    assert sorted(p.point_id for p in primary) == sorted([p1.point_id, p2.point_id])
    got = {p.point_id: p for p in primary}[p1.point_id]
    assert (got.status, got.source_id, got.plan, got.window) == (AVAILABLE, SRC, "gold", p1.window)
    assert got.tags == p1.tags
    assert got.details["size_bytes"] == p1.details["total_bytes"]
    [dr] = kind.list_points(ctx, DR)
    assert (dr.point_id, dr.region, dr.tags, dr.status) == (copy.point_id, DR, copy.tags, AVAILABLE)
    assert dr.details["dr_bucket"] == DR_BUCKET
    assert kind.list_points(ctx, DR, plan="silver") == []
    assert len(kind.list_points(ctx, PRIMARY, plan="gold")) == 2
    # tags are current: a hold set after the fact shows
    kind.set_tags(ctx, copy, {TAG_LEGAL_HOLD: "case-9"})
    assert kind.list_points(ctx, DR)[0].tags[TAG_LEGAL_HOLD] == "case-9"
    manifest, _ = get_doc(catalog, CATALOG, copy.point_id)
    assert len(manifest["objects"]) == 2  # the rewrite kept the manifest whole


def test_delete_removes_managed_manifests_only_and_never_data(ctx):
    kind, _ = _kind(ctx)
    s3, p1, p2, _ = _two_windows(ctx, kind)
    copy = _copy(ctx, kind, p1)
    kind.set_tags(ctx, p2, {TAG_LEGAL_HOLD: "case-1"})  # p2 itself still carries the old tags
    catalog = ctx.client("s3", DR)
    unmanaged_key = manifest_key("gold", "other", p1.window)
    catalog.put_object(
        Bucket=CATALOG,
        Key=unmanaged_key,
        Body=json.dumps({"tags": {"awsdr:managed": "false"}, "objects": []}),
    )
    unmanaged = type(p1)(**{**p1.__dict__, "point_id": unmanaged_key})
    source_versions = len(s3.list_object_versions(Bucket=SRC)["Versions"])
    outcome = kind.delete(ctx, PRIMARY, [p1, p2, unmanaged])
    assert outcome == {p1.point_id: DELETED, p2.point_id: REFUSED, unmanaged_key: REFUSED}
    assert get_doc(catalog, CATALOG, p1.point_id) == (None, None)
    assert get_doc(catalog, CATALOG, p2.point_id)[0] is not None
    assert len(s3.list_object_versions(Bucket=SRC)["Versions"]) == source_versions
    assert kind.delete(ctx, PRIMARY, [p1]) == {p1.point_id: ABSENT}
    assert kind.delete(ctx, DR, [copy]) == {copy.point_id: DELETED}
    assert len(_dr_versions(ctx)) == 2  # DR data stays until pruned
    assert kind.delete(ctx, DR, [copy]) == {copy.point_id: ABSENT}


def test_restore_is_the_dr_bucket_and_validate_checks_every_version(ctx):
    kind, _ = _kind(ctx)
    _, p1, _, _ = _two_windows(ctx, kind)
    copy = _copy(ctx, kind, p1)
    restored = kind.restore(ctx, copy, name="awsdr-v-r1-orders-data", tags={"awsdr:verify-run": "r1"})
    assert (restored.resource_id, restored.region, restored.status) == (DR_BUCKET, DR, AVAILABLE)
    assert kind.restore_status(ctx, DR, [restored])[0].status == AVAILABLE
    expected = {"source_meta": {}, "details": p1.details}
    assert kind.validate(ctx, restored, expected) == []
    assert kind.validate(ctx, restored, {"details": {**p1.details, "digest": "0" * 64}}) == [
        "manifest digest differs from the captured one"
    ]
    # corrupt: the DR manifest claims another size for a; then b's DR version disappears
    catalog = ctx.client("s3", DR)
    manifest, _ = get_doc(catalog, CATALOG, copy.point_id)
    by_key = {o["key"]: o for o in manifest["objects"]}
    by_key["a"]["size"] += 1
    catalog.put_object(Bucket=CATALOG, Key=copy.point_id, Body=json.dumps(manifest, separators=(",", ":")))
    catalog.delete_object(Bucket=DR_BUCKET, Key="b", VersionId=by_key["b"]["dr_version_id"])
    assert kind.validate(ctx, restored, expected) == [
        f"size differs for a: 5 bytes in {DR_BUCKET}, 6 captured",
        f"1 object version missing in {DR_BUCKET}: b",
    ]
    assert kind.cleanup(ctx, DR, "awsdr:verify-run", "r1") == []
    # a primary point restores to the protected bucket itself
    primary = kind.restore(ctx, p1, name="x", tags={})
    assert (primary.resource_id, primary.region) == (SRC, PRIMARY)
    assert kind.validate(ctx, primary, {"details": p1.details}) == []
    ctx.client("s3", DR).delete_objects(
        Bucket=DR_BUCKET,
        Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in _dr_versions(ctx)]},
    )
    ctx.client("s3", DR).delete_bucket(Bucket=DR_BUCKET)
    assert kind.restore_status(ctx, DR, [restored])[0].status == MISSING


def test_prune_removes_only_unreferenced_copied_versions(ctx):
    kind, _ = _kind(ctx)
    _, p1, p2, v = _two_windows(ctx, kind)
    c1 = _copy(ctx, kind, p1)
    _copy(ctx, kind, p2)
    dr = ctx.client("s3", DR)
    foreign = _put(dr, DR_BUCKET, "a", b"written by someone else")
    assert kind.delete(ctx, DR, [c1]) == {c1.point_id: DELETED}
    index, _ = get_doc(dr, CATALOG, dr_index_key(DR, SRC))
    # the primary point p1 still lacks its copy: a copy sweep would reuse a1's DR version
    assert kind.prune_dr(ctx, DR, SRC) == []
    assert kind.delete(ctx, PRIMARY, [p1]) == {p1.point_id: DELETED}
    pruned = kind.prune_dr(ctx, DR, SRC)
    assert pruned == [{"Key": "a", "VersionId": index["versions"][v["a1"]]}]
    left = {x["VersionId"] for x in _dr_versions(ctx)}
    assert left == {index["versions"][v["b1"]], index["versions"][v["a2"]], foreign}
    after, _ = get_doc(dr, CATALOG, dr_index_key(DR, SRC))
    assert set(after["versions"]) == {v["b1"], v["a2"]}
    assert kind.prune_dr(ctx, DR, SRC) == []
    # the function alone, keeping nothing: still only versions this product copied
    gone = prune_dr_versions(ctx, DR, DR_BUCKET, set())
    assert len(gone) == 2
    assert {x["VersionId"] for x in _dr_versions(ctx)} == {foreign}


def test_threads_meeting_one_new_bucket_configure_it_once(ctx):
    """Copy threads that reach one DR bucket together configure it once (the first holds that
    bucket's lock; the others find it ready), not once per thread."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from awsdr.kinds.s3 import ensure_bucket

    key = ctx.client("kms", DR).create_key(Description="awsdr DR key")["KeyMetadata"]["Arn"]
    s3 = ctx.create_client("s3", DR)
    heads = []
    lock = threading.Lock()

    def slow_head(**_):
        with lock:
            heads.append(1)
        time.sleep(0.3)  # long enough for every thread to pass a ready check made without a lock

    s3.meta.events.register("before-call.s3.HeadBucket", slow_head)
    ready: set[str] = set()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(lambda _: ensure_bucket(s3, "awsdr-dr-once", DR, kms_key_arn=key, ready=ready), range(4))
        )
    assert len(heads) == 1
    assert s3.get_bucket_versioning(Bucket="awsdr-dr-once")["Status"] == "Enabled"
    assert ready == {f"awsdr-dr-once|{DR}|{key}"}
