"""ECR kind against the moto server: discover, capture, copy, list, delete, prune, restore/validate.

moto gaps: the tagging API lists no ``ecr:repository`` (discover reads the repositories' tags);
GetDownloadUrlForLayer is not implemented (HTTP 500), so tests answer it with a botocore
``before-call`` handler (a fake presigned URL) and stub :func:`awsdr.kinds.ecr.http_download`,
the HTTPS GET; every other call of the copy (BatchGetImage, BatchCheckLayerAvailability,
Initiate/UploadLayerPart/CompleteLayerUpload, PutImage, DescribeImages) goes to moto. moto does
not check a manifest against its digest or its layers on PutImage, so the kind checks blobs itself.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from conftest import DR, PRIMARY

import awsdr.kinds.ecr as ecr_kind
from awsdr.copies import copy_tags
from awsdr.kinds.base import ABSENT, AVAILABLE, DELETED, MISSING, REFUSED, CaptureError
from awsdr.kinds.ecr import EcrKind, dr_point_key, images_digest, point_key
from awsdr.kinds.s3 import get_doc, put_doc
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD, TAG_MANAGED, point_tags, window_stamp

CATALOG = "awsdr-catalog"
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
REPO = "shop/web"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """Blobs pushed to the source (what the stubbed download serves) and the calls counted."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.puts: list[str] = []
        self.corrupt: set[str] = set()


@pytest.fixture
def reg(ctx, monkeypatch):
    """The download stubbed: GetDownloadUrlForLayer answered here, the HTTPS GET served from ``reg.blobs``."""
    registry = Registry()

    class _Http:
        status_code = 200
        headers: dict[str, str] = {}

    def _url(params, **kwargs):
        digest = json.loads(params["body"])["layerDigest"]
        return _Http(), {"downloadUrl": f"https://prod-ecr.s3.example/{digest}", "layerDigest": digest}

    def _download(url, out):
        digest = url.rsplit("/", 1)[-1]
        registry.downloads.append(digest)
        out.write(b"not the blob" if digest in registry.corrupt else registry.blobs[digest])

    def _count_put(params, **kwargs):
        registry.puts.append(json.loads(params["body"]).get("imageDigest"))

    ctx.client("ecr", PRIMARY).meta.events.register("before-call.ecr.GetDownloadUrlForLayer", _url)
    ctx.client("ecr", DR).meta.events.register("before-call.ecr.PutImage", _count_put)
    monkeypatch.setattr(ecr_kind, "http_download", _download)
    return registry


def _kind(ctx):
    ctx.client("s3", DR).create_bucket(Bucket=CATALOG, CreateBucketConfiguration={"LocationConstraint": DR})
    kms = ctx.client("kms", DR)
    key = kms.create_key(Description="awsdr DR key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=key["KeyId"])
    return EcrKind(CATALOG, DR), key["Arn"]


def _repo(ctx, name=REPO, *, region=PRIMARY, tags=None):
    ecr = ctx.client("ecr", region)
    tags = {"dr-plan": "gold"} if tags is None else tags
    ecr.create_repository(repositoryName=name, tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return ecr


def _upload(ecr, repo, blob: bytes) -> str:
    up = ecr.initiate_layer_upload(repositoryName=repo)
    ecr.upload_layer_part(
        repositoryName=repo,
        uploadId=up["uploadId"],
        partFirstByte=0,
        partLastByte=len(blob) - 1,
        layerPartBlob=blob,
    )
    return ecr.complete_layer_upload(repositoryName=repo, uploadId=up["uploadId"], layerDigests=[_sha(blob)])[
        "layerDigest"
    ]


def _config(name: str) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "name": name}).encode()


def _push(ctx, reg, name, layers: list[bytes], tags=(), *, region=PRIMARY, repo=REPO) -> str:
    """Push an image (its blobs uploaded, the manifest put by its real digest); returns the digest."""
    ecr = ctx.client("ecr", region)
    config = _config(name)
    for blob in (config, *layers):
        reg.blobs[_sha(blob)] = blob
        _upload(ecr, repo, blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": CONFIG, "size": len(config), "digest": _sha(config)},
            "layers": [{"mediaType": LAYER, "size": len(b), "digest": _sha(b)} for b in layers],
        }
    )
    digest = _sha(manifest.encode())
    for tag in list(tags) or [None]:
        extra = {"imageTag": tag} if tag else {}
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageDigest=digest, **extra)
    return digest


def _push_index(ctx, children: list[str], tag: str, *, repo=REPO) -> str:
    ecr = ctx.client("ecr", PRIMARY)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "digest": d,
                    "size": 100,
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for d, arch in zip(children, ("amd64", "arm64"), strict=False)
            ],
        }
    )
    digest = _sha(manifest.encode())
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageDigest=digest, imageTag=tag)
    return digest


def _pushed_at(ctx, digest, repo=REPO):
    [img] = ctx.client("ecr", PRIMARY).describe_images(
        repositoryName=repo, imageIds=[{"imageDigest": digest}]
    )["imageDetails"]
    return img["imagePushedAt"]


def _next_second():
    time.sleep(1.05 - (time.time() % 1))


def _capture(ctx, kind, window, repo=REPO, captured_at=CAP):
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"}) if r.id == repo]
    tags = point_tags(plan="gold", window=window, source=repo, captured_at=captured_at, kind="ecr")
    return kind.capture(ctx, res, "gold", window, tags)


def _copy(ctx, kind, point):
    return kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(point))


def _dr_digests(ctx, repo=REPO):
    return {
        i["imageDigest"] for i in ctx.client("ecr", DR).describe_images(repositoryName=repo)["imageDetails"]
    }


def test_discover_selects_tagged_repositories_never_product_made(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    _repo(ctx, "shop/api", tags={"dr-plan": "silver"})
    _repo(ctx, "scratch", tags={})
    _repo(ctx, "shop/restored", tags={"dr-plan": "gold", TAG_MANAGED: "true"})
    _push(ctx, reg, "a", [b"layer-a"], ["v1"])
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert (res.kind, res.id, res.region) == ("ecr", REPO, PRIMARY)
    assert res.arn.endswith(f":repository/{REPO}")
    assert res.tags == {"dr-plan": "gold"}
    assert res.meta["repository_uri"].endswith(f".dkr.ecr.{PRIMARY}.amazonaws.com/{REPO}")
    assert res.meta["image_count"] == 1
    assert res.meta["encryption"]["type"] == "AES256"
    assert res.meta["image_tag_mutability"] == "MUTABLE"
    assert res.meta["scan_on_push"] is False
    assert [r.id for r in kind.describe(ctx, PRIMARY, [res.arn])] == [REPO]


def test_capture_is_as_of_the_window_and_written_once(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    a = _push(ctx, reg, "a", [b"layer-a"], ["v1", "stable"])
    window = _pushed_at(ctx, a)
    _next_second()
    _push(ctx, reg, "b", [b"layer-b"], ["v2"])
    point = _capture(ctx, kind, window)
    assert (
        point.point_id
        == point_key("gold", REPO, window)
        == f"points/ecr/gold/shop!web/{window_stamp(window)}.json"
    )
    assert (point.source_id, point.plan, point.region, point.status) == (REPO, "gold", PRIMARY, AVAILABLE)
    assert point.details["image_count"] == 1
    s3 = ctx.client("s3", DR)
    doc, etag = get_doc(s3, CATALOG, point.point_id)
    [entry] = doc["images"]
    assert entry["digest"] == a
    assert entry["tags"] == ["stable", "v1"]
    assert entry["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert doc["digest"] == point.details["digest"] == images_digest([{"digest": a}])
    assert doc["tags"][TAG_MANAGED] == "true"

    writes: list[str] = []
    s3.meta.events.register(
        "before-call.s3.PutObject", lambda params, **kw: writes.append(params["url_path"])
    )
    again = _capture(ctx, kind, window, captured_at=datetime(2026, 11, 24, 11, 0, tzinfo=UTC))
    assert writes == []
    assert again.point_id == point.point_id
    assert again.created_at == point.created_at == CAP
    assert get_doc(s3, CATALOG, point.point_id)[1] == etag
    assert kind.find_existing(ctx, PRIMARY, "gold", window)[REPO].point_id == point.point_id
    assert kind.find_existing(ctx, PRIMARY, "silver", window) == {}


def test_copy_makes_an_encrypted_managed_repository_holding_every_image_by_digest(ctx, reg):
    kind, key_arn = _kind(ctx)
    _repo(ctx)
    shared = b"base-layer" * 100
    a = _push(ctx, reg, "a", [shared, b"app-a"], ["v1"])
    b = _push(ctx, reg, "b", [shared, b"app-b"])  # untagged
    point = _capture(ctx, kind, _pushed_at(ctx, b))
    copy = _copy(ctx, kind, point)
    assert copy.point_id == dr_point_key(DR, "gold", REPO, point.window)
    assert (copy.region, copy.source_id, copy.status) == (DR, REPO, AVAILABLE)
    assert copy.tags[TAG_COPY_OF] == point.point_id
    assert copy.details["copied"] == 2
    assert copy.details["already_present"] == 0
    assert copy.details["blobs_uploaded"] == 5  # 2 configs, the shared layer once, 2 app layers
    assert copy.details["dr_repository_managed"] is True
    assert copy.details["kms_key_id"] == key_arn
    assert sorted(reg.downloads) == sorted(set(reg.downloads))

    dr = ctx.client("ecr", DR)
    [repo] = dr.describe_repositories(repositoryNames=[REPO])["repositories"]
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": key_arn}
    tags = {
        t["Key"]: t["Value"] for t in dr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    }
    assert tags[TAG_MANAGED] == "true"
    assert _dr_digests(ctx) == {a, b}
    [img_a] = dr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": a}])["imageDetails"]
    assert img_a["imageTags"] == ["v1"]
    blobs = [_sha(x) for x in (shared, b"app-a", b"app-b")]
    check = dr.batch_check_layer_availability(repositoryName=REPO, layerDigests=blobs)
    assert {x["layerDigest"] for x in check["layers"]} == set(blobs)
    doc, _ = get_doc(ctx.client("s3", DR), CATALOG, copy.point_id)
    assert {e["digest"] for e in doc["images"] if e["verified"]} == {a, b}
    assert doc["tags"] == copy.tags

    reg.downloads.clear()
    reg.puts.clear()
    again = _copy(ctx, kind, point)
    assert again.point_id == copy.point_id
    assert (reg.downloads, reg.puts) == ([], [])

    _next_second()
    c = _push(ctx, reg, "c", [shared, b"app-c"], ["v3"])
    second = _capture(ctx, kind, _pushed_at(ctx, c))
    later = _copy(ctx, kind, second)
    assert (later.details["copied"], later.details["already_present"]) == (1, 2)
    assert reg.puts == [c]
    assert sorted(reg.downloads) == sorted([_sha(b"app-c"), _sha(_config("c"))])  # the shared layer is there


def test_an_image_already_in_dr_is_not_copied_again(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    a = _push(ctx, reg, "a", [b"layer-a"], ["v1"])
    b = _push(ctx, reg, "b", [b"layer-b"], ["v2"])
    point = _capture(ctx, kind, _pushed_at(ctx, b))
    # ECR replication made the DR repository (not ours, AES256) and replicated image a
    _repo(ctx, region=DR, tags={})
    _push(ctx, Registry(), "a", [b"layer-a"], ["v1"], region=DR)
    reg.puts.clear()
    copy = _copy(ctx, kind, point)
    assert reg.puts == [b]
    assert _sha(b"layer-a") not in reg.downloads
    assert (copy.details["copied"], copy.details["already_present"]) == (1, 1)
    assert copy.details["dr_repository_managed"] is False
    assert any("AES256" in w for w in copy.details["warnings"])
    assert _dr_digests(ctx) == {a, b}


def test_a_multi_arch_index_is_copied_after_its_children(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    amd = _push(ctx, reg, "amd", [b"amd-layer"])
    arm = _push(ctx, reg, "arm", [b"arm-layer"])
    index = _push_index(ctx, [amd, arm], "multi")
    point = _capture(ctx, kind, _pushed_at(ctx, index))
    copy = _copy(ctx, kind, point)
    assert reg.puts[-1] == index
    assert set(reg.puts) == {amd, arm, index}
    assert _dr_digests(ctx) == {amd, arm, index}
    doc, _ = get_doc(ctx.client("s3", DR), CATALOG, copy.point_id)
    [entry] = [e for e in doc["images"] if e["digest"] == index]
    assert sorted(entry["children"]) == sorted([amd, arm])


def test_a_per_image_failure_is_a_capture_error_and_throttling_propagates(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    good = _push(ctx, reg, "good", [b"good-layer"], ["ok"])
    bad = _push(ctx, reg, "bad", [b"bad-layer"], ["broken"])
    point = _capture(ctx, kind, _pushed_at(ctx, bad))
    reg.corrupt.add(_sha(b"bad-layer"))
    with pytest.raises(CaptureError) as err:
        _copy(ctx, kind, point)
    assert bad in str(err.value)
    assert "hash to" in str(err.value)
    assert _dr_digests(ctx) == {good}
    assert get_doc(ctx.client("s3", DR), CATALOG, dr_point_key(DR, "gold", REPO, point.window))[0] is None

    reg.corrupt.clear()

    class _Throttled:
        status_code = 400
        headers: dict[str, str] = {}

    def _throttle(**kwargs):
        return _Throttled(), {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}

    ctx.client("ecr", DR).meta.events.register("before-call.ecr.PutImage", _throttle)
    with pytest.raises(ClientError) as throttled:
        _copy(ctx, kind, point)
    assert not isinstance(throttled.value, CaptureError)
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"


def test_list_points_and_refresh(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    a = _push(ctx, reg, "a", [b"layer-a" * 10], ["v1"])
    point = _capture(ctx, kind, _pushed_at(ctx, a))
    copy = _copy(ctx, kind, point)
    [primary] = kind.list_points(ctx, PRIMARY, "gold")
    assert primary.point_id == point.point_id
    assert TAG_COPY_OF not in primary.tags
    assert kind.list_points(ctx, PRIMARY, "silver") == []
    [dr_point] = kind.list_points(ctx, DR)
    assert dr_point.point_id == copy.point_id
    assert dr_point.tags[TAG_COPY_OF] == point.point_id
    assert dr_point.status == AVAILABLE
    assert dr_point.details["size_bytes"] == point.details["total_bytes"]
    ctx.client("s3", DR).delete_object(Bucket=CATALOG, Key=point.point_id)
    [gone, there] = kind.refresh(ctx, PRIMARY, [point, copy])
    assert (gone.status, there.status) == (MISSING, AVAILABLE)


def test_delete_refuses_unmanaged_and_held_documents(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    a = _push(ctx, reg, "a", [b"layer-a"], ["v1"])
    point = _capture(ctx, kind, _pushed_at(ctx, a))
    copy = _copy(ctx, kind, point)
    kind.set_tags(ctx, copy, {TAG_LEGAL_HOLD: "case-7"})
    [listed] = kind.list_points(ctx, DR)
    assert listed.tags[TAG_LEGAL_HOLD] == "case-7"
    s3 = ctx.client("s3", DR)
    # a document somebody wrote without awsdr:managed
    foreign_key = point_key("gold", "shop/other", point.window)
    put_doc(
        s3, CATALOG, foreign_key, {"repository": "shop/other", "region": PRIMARY, "tags": {}, "images": []}
    )
    foreign = point.__class__.from_dict(
        {**point.to_dict(), "point_id": foreign_key, "source_id": "shop/other"}
    )
    # the caller believes the copy is deletable: the tags in the catalog decide
    believed = copy.__class__.from_dict({**copy.to_dict(), "tags": copy_tags(point)})
    outcomes = kind.delete(ctx, DR, [believed, foreign, point])
    assert outcomes == {copy.point_id: REFUSED, foreign_key: REFUSED, point.point_id: DELETED}
    assert get_doc(s3, CATALOG, copy.point_id)[0] is not None
    assert kind.delete(ctx, DR, [point]) == {point.point_id: ABSENT}


def test_unreferenced_images_of_our_repository_are_pruned_never_anybody_elses(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    a = _push(ctx, reg, "a", [b"layer-a"], ["v1"])
    p1 = _capture(ctx, kind, _pushed_at(ctx, a))
    c1 = _copy(ctx, kind, p1)
    _next_second()
    b = _push(ctx, reg, "b", [b"layer-b"], ["v2"])
    ctx.client("ecr", PRIMARY).batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": a}])
    p2 = _capture(ctx, kind, _pushed_at(ctx, b))
    c2 = _copy(ctx, kind, p2)
    assert _dr_digests(ctx) == {a, b}
    # a repository in DR this product did not make, with an image no document names
    _repo(ctx, "team/cache", region=DR, tags={"owner": "team"})
    _push(ctx, reg, "cache", [b"cache-layer"], ["latest"], region=DR, repo="team/cache")

    assert kind.unreferenced_data(ctx, DR) == []  # every image is named by a document
    assert kind.delete(ctx, DR, [c1, p1]) == {c1.point_id: DELETED, p1.point_id: DELETED}
    found = kind.unreferenced_data(ctx, DR)
    assert found == [(REPO, [{"Key": a, "VersionId": ""}])]
    outcomes = kind.delete_data(ctx, DR, REPO, [{"Key": a, "VersionId": ""}, {"Key": b, "VersionId": ""}])
    assert outcomes == {f"{a}@": DELETED, f"{b}@": REFUSED}  # b: still named by the window-2 copy
    assert _dr_digests(ctx) == {b}
    assert kind.delete_data(ctx, DR, "team/cache", [{"Key": b, "VersionId": ""}]) == {f"{b}@": REFUSED}
    assert len(_dr_digests(ctx, "team/cache")) == 1
    # a held copy keeps its images
    kind.set_tags(ctx, c2, {TAG_LEGAL_HOLD: "case-9"})
    assert kind.delete(ctx, DR, [c2]) == {c2.point_id: REFUSED}
    assert kind.unreferenced_data(ctx, DR) == []


def test_restore_is_the_dr_repository_and_validate_reports_a_missing_digest(ctx, reg):
    kind, _ = _kind(ctx)
    _repo(ctx)
    _push(ctx, reg, "a", [b"layer-a"], ["v1"])
    b = _push(ctx, reg, "b", [b"layer-b"], ["v2"])
    point = _capture(ctx, kind, _pushed_at(ctx, b))
    copy = _copy(ctx, kind, point)
    restored = kind.restore(ctx, copy, name="ignored", tags={"awsdr:verify-run": "r1"})
    assert (restored.resource_id, restored.region, restored.status) == (REPO, DR, AVAILABLE)
    assert restored.details["created"] is False
    expected = {"details": {"image_count": 2, "digest": point.details["digest"]}}
    assert kind.validate(ctx, restored, expected) == []
    assert [r.status for r in kind.restore_status(ctx, DR, [restored])] == [AVAILABLE]
    ctx.client("ecr", DR).batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": b}])
    problems = kind.validate(ctx, restored, expected)
    assert any("1 image missing" in p and b in p for p in problems)
    assert any("1 of the point's images" in p for p in problems)
    assert kind.cleanup(ctx, DR, "awsdr:verify-run", "r1") == []
