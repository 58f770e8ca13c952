"""Lambda kind: discover, capture (code once, document once), copy, delete, pruning, restore,
validate (with the invoke), cleanup.

moto gaps worked around here (each named where it is used):
- GetFunction's ``Code.Location`` is ``https://awslambda-<region>-tasks.s3.<region>.amazonaws.com/...``,
  a host nobody answers: :func:`awsdr.kinds.lambda_.download_code` is replaced by a stub serving the
  zip the test deployed (or other bytes, for the sha256 check).
- moto runs Invoke in Docker, and there is no Docker engine here: the ``lambda_simple`` fixture sets
  ``{"lambda": {"use_docker": false}}`` through ``/moto-api/config`` before any function is made
  (moto then keeps functions in its Docker-less backend, which echoes the payload with status 200)
  and puts the previous setting back after the test (the setting outlives ``/moto-api/reset``).
- moto cannot make an invoke answer a FunctionError: that case replaces the client's ``invoke``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from conftest import DR, PRIMARY

from awsdr.copies import copy_tags
from awsdr.kinds import lambda_
from awsdr.kinds.base import ABSENT, AVAILABLE, DELETED, MISSING, REFUSED, CaptureError
from awsdr.kinds.lambda_ import LambdaKind, code_key, copy_doc_key, doc_key
from awsdr.kinds.s3 import get_doc
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD, TAG_VERIFY_RUN, point_tags

CATALOG = "awsdr-catalog"
CODE_BUCKET = "awsdr-catalog-lambda-ap-northeast-1"
THIRD = "us-west-2"
W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)


def _zip(body: str = "def handler(event, context):\n    return event\n") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        # a fixed entry time: the same body is the same zip (writestr with a name stamps the
        # current second, so functions made a second apart had other code: CI flake on 1e8ced2)
        z.writestr(zipfile.ZipInfo("app.py", date_time=(2026, 1, 1, 0, 0, 0)), body)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _moto_config(url: str, config: dict | None = None) -> dict:
    req = urllib.request.Request(
        f"{url}/moto-api/config",
        data=json.dumps(config).encode() if config is not None else None,
        method="POST" if config is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


@pytest.fixture
def lambda_simple(moto):
    """moto answers Invoke without Docker for this test (set before any function is made)."""
    before = _moto_config(moto)["lambda"]
    _moto_config(moto, {"lambda": {"use_docker": False}})
    yield moto
    _moto_config(moto, {"lambda": before})


@pytest.fixture
def served(monkeypatch):
    """moto gap: Code.Location cannot be reached. Serves the zip deployed last per function."""
    store: dict[str, bytes] = {}
    calls: list[str] = []

    def fake(url: str) -> bytes:
        calls.append(url)
        return store["override"] if "override" in store else store["current"]

    monkeypatch.setattr(lambda_, "download_code", fake)
    return store, calls


@pytest.fixture
def env(ctx, lambda_simple, served):
    """Catalog, DR keys (DR and a third region), an execution role, a kind configured like kind_for."""
    ctx.client("s3", DR).create_bucket(Bucket=CATALOG, CreateBucketConfiguration={"LocationConstraint": DR})
    for region in (DR, THIRD):
        kms = ctx.client("kms", region)
        key = kms.create_key(Description="awsdr DR key")["KeyMetadata"]
        kms.create_alias(AliasName="alias/awsdr", TargetKeyId=key["KeyId"])
    role = ctx.client("iam", PRIMARY).create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    kind = LambdaKind(
        catalog_bucket=CATALOG, catalog_region=DR, kms_keys={DR: "alias/awsdr", THIRD: "alias/awsdr"}
    )
    store, calls = served
    return {"ctx": ctx, "kind": kind, "role": role, "store": store, "calls": calls}


def _function(env, name, *, code=None, tags=None, environment=None, **extra):
    data = code or _zip()
    env["store"]["current"] = data
    return (
        env["ctx"]
        .client("lambda", PRIMARY)
        .create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=env["role"],
            Handler="app.handler",
            Code={"ZipFile": data},
            MemorySize=256,
            Timeout=30,
            Tags={"dr-plan": "gold"} if tags is None else tags,
            Environment={"Variables": environment or {"DB_PASSWORD": "hunter2", "STAGE": "prod"}},
            **extra,
        )
    )


def _new_code(env, name, body):
    data = _zip(body)
    env["store"]["current"] = data
    env["ctx"].client("lambda", PRIMARY).update_function_code(FunctionName=name, ZipFile=data)
    return data


def _capture(env, name, window=W):
    kind, ctx = env["kind"], env["ctx"]
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"}) if r.id == name]
    tags = point_tags(plan="gold", window=window, source=name, captured_at=CAP, kind="lambda")
    return kind.capture(ctx, res, "gold", window, tags)


def _copy(env, point, region=DR):
    return env["kind"].copy(
        env["ctx"], point, dest_region=region, kms_key_id="alias/awsdr", tags=copy_tags(point)
    )


def _code_versions(ctx, bucket=CODE_BUCKET, region=DR):
    return ctx.client("s3", region).list_object_versions(Bucket=bucket, Prefix="lambda/").get("Versions", [])


def test_discover_by_tags_skips_product_made_and_records_env_names_only(env):
    ctx, kind = env["ctx"], env["kind"]
    made = _function(env, "orders-api")
    _function(env, "billing", tags={"dr-plan": "silver"})
    _function(env, "awsdr-v-123-orders-api", tags={"dr-plan": "gold", TAG_VERIFY_RUN: "r1"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert (res.kind, res.id, res.arn, res.region) == ("lambda", "orders-api", made["FunctionArn"], PRIMARY)
    assert res.tags == {"dr-plan": "gold"}
    meta = res.meta
    assert (meta["runtime"], meta["handler"], meta["memory_size"], meta["timeout"]) == (
        "python3.12",
        "app.handler",
        256,
        30,
    )
    assert meta["architectures"] == ["x86_64"]
    assert meta["role"] == env["role"]
    assert meta["package_type"] == "Zip"
    assert meta["code_sha256"] == _sha(env["store"]["current"])
    assert meta["environment_names"] == ["DB_PASSWORD", "STAGE"]
    assert "hunter2" not in json.dumps(res.to_dict())


def test_capture_stores_code_once_and_document_once(env):
    ctx, kind, calls = env["ctx"], env["kind"], env["calls"]
    _function(env, "orders-api")
    data = env["store"]["current"]
    point = _capture(env, "orders-api")
    key = doc_key("gold", "orders-api", W)
    assert point.point_id == key
    assert (point.status, point.source_id, point.plan, point.window, point.region) == (
        AVAILABLE,
        "orders-api",
        "gold",
        W,
        PRIMARY,
    )
    assert len(calls) == 1
    # the code, content-addressed in the catalog region's code bucket, with its sha256
    object_key = code_key("orders-api", _sha(data))
    assert object_key == f"lambda/orders-api/{hashlib.sha256(data).hexdigest()}.zip"
    s3 = ctx.client("s3", DR)
    assert s3.get_object(Bucket=CODE_BUCKET, Key=object_key)["Body"].read() == data
    head = s3.head_object(Bucket=CODE_BUCKET, Key=object_key)
    assert head["Metadata"]["awsdr-code-sha256"] == _sha(data)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert s3.get_bucket_versioning(Bucket=CODE_BUCKET)["Status"] == "Enabled"
    # the document: configuration facts (names, never values), the code's address, the tags
    doc, etag = get_doc(s3, CATALOG, key)
    assert doc["code"] == {
        "bucket": CODE_BUCKET,
        "key": object_key,
        "region": DR,
        "sha256": _sha(data),
        "sha256_hex": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "kms_key_id": doc["code"]["kms_key_id"],
    }
    assert doc["configuration"]["environment_names"] == ["DB_PASSWORD", "STAGE"]
    assert "hunter2" not in json.dumps(doc)
    assert doc["tags"] == point.tags
    assert doc["captured_at"] == "2026-11-24T10:03:00Z"
    assert doc["as_of"]
    modified = lambda_._last_modified(doc["last_modified"])
    assert modified is not None
    assert doc["modified_after_window"] is (modified > W)
    assert point.details["code_sha256"] == _sha(data)
    assert point.details["configuration"]["runtime"] == "python3.12"

    # a second capture of the window returns the document, nothing downloaded or rewritten
    again = _capture(env, "orders-api")
    assert again.point_id == key
    assert get_doc(s3, CATALOG, key)[1] == etag
    assert len(calls) == 1
    assert kind.find_existing(ctx, PRIMARY, "gold", W)["orders-api"].point_id == key

    # a later window with the same code: a second document, no second code object
    later = _capture(env, "orders-api", W + timedelta(hours=1))
    assert later.point_id == doc_key("gold", "orders-api", W + timedelta(hours=1))
    assert later.details["code_key"] == object_key
    assert len(calls) == 1
    assert [v["Key"] for v in _code_versions(ctx)] == [object_key]
    assert sorted(p.point_id for p in kind.list_points(ctx, PRIMARY, "gold")) == sorted([key, later.point_id])
    assert kind.list_points(ctx, DR) == []
    assert [p.status for p in kind.refresh(ctx, PRIMARY, [later])] == [AVAILABLE]


def test_sha256_mismatch_of_the_download_fails_that_capture(env):
    ctx, kind = env["ctx"], env["kind"]
    _function(env, "orders-api")
    env["store"]["override"] = _zip("tampered = True\n")
    with pytest.raises(CaptureError, match=r"sha256 .* Lambda reports .*not stored"):
        _capture(env, "orders-api")
    assert get_doc(ctx.client("s3", DR), CATALOG, doc_key("gold", "orders-api", W)) == (None, None)
    assert _code_versions(ctx) == []
    assert kind.list_points(ctx, PRIMARY) == []


def test_throttling_propagates_as_the_client_error(env, monkeypatch):
    ctx = env["ctx"]
    _function(env, "orders-api")
    [res] = env["kind"].discover(ctx, PRIMARY, {"dr-plan": "gold"})

    def throttled(**kwargs):
        raise ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "GetFunction"
        )

    monkeypatch.setattr(ctx.client("lambda", PRIMARY), "get_function", throttled)
    tags = point_tags(plan="gold", window=W, source=res.id, captured_at=CAP, kind="lambda")
    with pytest.raises(ClientError, match="TooManyRequestsException"):
        env["kind"].capture(ctx, res, "gold", W, tags)


def test_image_function_is_left_to_the_ecr_type(env):
    ctx, kind = env["ctx"], env["kind"]
    uri = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/orders:latest"
    ctx.client("lambda", PRIMARY).create_function(
        FunctionName="orders-img",
        Role=env["role"],
        PackageType="Image",
        Code={"ImageUri": uri},
        Tags={"dr-plan": "gold"},
    )
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    assert res.meta["package_type"] == "Image"
    assert res.meta["image_uri"] == uri
    tags = point_tags(plan="gold", window=W, source=res.id, captured_at=CAP, kind="lambda")
    with pytest.raises(CaptureError, match=r"image function .*orders:latest.*ecr type"):
        kind.capture(ctx, res, "gold", W, tags)


def test_copy_checks_the_code_object_and_is_idempotent(env):
    ctx, kind = env["ctx"], env["kind"]
    _function(env, "orders-api")
    point = _capture(env, "orders-api")
    copy = _copy(env, point)
    key = copy_doc_key(DR, "gold", "orders-api", W)
    assert copy.point_id == key
    assert (copy.region, copy.source_id, copy.status) == (DR, "orders-api", AVAILABLE)
    assert copy.tags[TAG_COPY_OF] == point.point_id
    assert copy.details["code_copied"] is False  # the capture stored it in this region already
    s3 = ctx.client("s3", DR)
    doc, etag = get_doc(s3, CATALOG, key)
    assert doc["source_point"] == point.point_id
    assert doc["code"]["bucket"] == CODE_BUCKET
    assert doc["tags"] == copy.tags
    assert _copy(env, point).point_id == key
    assert get_doc(s3, CATALOG, key)[1] == etag
    assert [p.point_id for p in kind.list_points(ctx, DR, "gold")] == [key]

    # a second DR region: the code is copied there (CopyObject), checked, then the document
    third = _copy(env, point, THIRD)
    assert third.details["code_copied"] is True
    bucket = kind.code_bucket(THIRD)
    object_key = point.details["code_key"]
    head = ctx.client("s3", THIRD).head_object(Bucket=bucket, Key=object_key)
    assert head["Metadata"]["awsdr-code-sha256"] == point.details["code_sha256"]
    assert _copy(env, point, THIRD).point_id == third.point_id
    assert len(_code_versions(ctx, bucket, THIRD)) == 1

    # no document without its code: the object gone from the capture's bucket, the copy fails
    later = _capture(env, "orders-api", W + timedelta(hours=1))
    for v in _code_versions(ctx):
        s3.delete_object(Bucket=CODE_BUCKET, Key=v["Key"], VersionId=v["VersionId"])
    with pytest.raises(CaptureError, match="gone"):
        _copy(env, later)
    assert get_doc(s3, CATALOG, copy_doc_key(DR, "gold", "orders-api", later.window)) == (None, None)
    assert kind.refresh(ctx, PRIMARY, [later])[0].status == "failed"


def test_delete_refuses_unmanaged_and_held_documents(env):
    ctx, kind = env["ctx"], env["kind"]
    _function(env, "orders-api")
    held = _capture(env, "orders-api")
    free = _capture(env, "orders-api", W + timedelta(hours=1))
    unmanaged = _capture(env, "orders-api", W + timedelta(hours=2))
    kind.set_tags(ctx, held, {TAG_LEGAL_HOLD: "case-7"})
    s3 = ctx.client("s3", DR)
    doc, _ = get_doc(s3, CATALOG, unmanaged.point_id)
    doc["tags"]["awsdr:managed"] = "false"
    s3.put_object(Bucket=CATALOG, Key=unmanaged.point_id, Body=json.dumps(doc))
    listed = {p.point_id: p for p in kind.list_points(ctx, PRIMARY)}
    assert listed[held.point_id].tags[TAG_LEGAL_HOLD] == "case-7"
    assert unmanaged.point_id not in listed

    # the caller believes all three deletable: the documents' own tags decide
    outcomes = kind.delete(ctx, PRIMARY, [held, free, unmanaged])
    assert outcomes == {held.point_id: REFUSED, free.point_id: DELETED, unmanaged.point_id: REFUSED}
    assert kind.delete(ctx, PRIMARY, [free]) == {free.point_id: ABSENT}
    assert get_doc(s3, CATALOG, held.point_id)[0] is not None
    assert [p.point_id for p in kind.list_points(ctx, PRIMARY)] == [held.point_id]
    assert kind.refresh(ctx, PRIMARY, [free])[0].status == MISSING
    # code objects are never deleted by delete()
    assert len(_code_versions(ctx)) == 1


def test_unreferenced_code_objects_are_pruned_referenced_ones_kept(env):
    ctx, kind = env["ctx"], env["kind"]
    kind.prune_grace = timedelta(0)  # the code objects were just written
    _function(env, "orders-api")
    first = _capture(env, "orders-api")
    first_copy = _copy(env, first)
    _new_code(env, "orders-api", "def handler(e, c):\n    return 2\n")
    second = _capture(env, "orders-api", W + timedelta(hours=1))
    _new_code(env, "orders-api", "def handler(e, c):\n    return 3\n")
    third = _capture(env, "orders-api", W + timedelta(hours=2))
    kind.set_tags(ctx, second, {TAG_LEGAL_HOLD: "case-9"})
    assert len({p.details["code_key"] for p in (first, second, third)}) == 3
    # someone else's object in the bucket is never ours to delete
    s3 = ctx.client("s3", DR)
    s3.put_object(Bucket=CODE_BUCKET, Key="lambda/other/readme.zip", Body=b"not ours")
    assert kind.unreferenced_data(ctx, DR) == []  # every code object is still named

    assert kind.delete(ctx, PRIMARY, [first]) == {first.point_id: DELETED}
    assert kind.unreferenced_data(ctx, DR) == []  # the DR copy still names the first code
    assert kind.delete(ctx, DR, [first_copy]) == {first_copy.point_id: DELETED}
    [(bucket, items)] = kind.unreferenced_data(ctx, DR)
    assert bucket == CODE_BUCKET
    assert [i["Key"] for i in items] == [first.details["code_key"]]
    # re-checked: a referenced object handed in is refused, the unreferenced one deleted
    referenced = next(v for v in _code_versions(ctx) if v["Key"] == third.details["code_key"])
    outcomes = kind.delete_data(
        ctx, DR, bucket, [*items, {"Key": referenced["Key"], "VersionId": referenced["VersionId"]}]
    )
    assert outcomes[f"{items[0]['Key']}@{items[0]['VersionId']}"] == DELETED
    assert outcomes[f"{referenced['Key']}@{referenced['VersionId']}"] == REFUSED
    assert kind.delete_data(ctx, DR, "somebody-elses-bucket", items) == {
        f"{items[0]['Key']}@{items[0]['VersionId']}": REFUSED
    }
    left = sorted(v["Key"] for v in _code_versions(ctx))
    assert left == sorted([second.details["code_key"], third.details["code_key"], "lambda/other/readme.zip"])
    assert kind.unreferenced_data(ctx, DR) == []
    # the held point keeps its code: its document stays, so does the object
    assert kind.delete(ctx, PRIMARY, [second]) == {second.point_id: REFUSED}
    assert kind.unreferenced_data(ctx, DR) == []


def _restorable(env, name="orders-api"):
    _function(env, name)
    point = _capture(env, name)
    return point, _copy(env, point)


def test_restore_creates_the_function_from_the_zip_once(env):
    ctx, kind = env["ctx"], env["kind"]
    point, copy = _restorable(env)
    tags = {TAG_VERIFY_RUN: "r1", "awsdr:plan": "gold"}
    restored = kind.restore(ctx, copy, name="awsdr-v-r1-orders-api", tags=tags)
    assert (restored.kind, restored.resource_id, restored.region, restored.status) == (
        "lambda",
        "awsdr-v-r1-orders-api",
        DR,
        AVAILABLE,
    )
    assert restored.details["created"] is True
    assert restored.details["environment_unset"] == ["DB_PASSWORD", "STAGE"]
    lam = ctx.client("lambda", DR)
    got = lam.get_function(FunctionName="awsdr-v-r1-orders-api")
    config = got["Configuration"]
    assert config["CodeSha256"] == point.details["code_sha256"]
    assert (config["Runtime"], config["Handler"], config["MemorySize"], config["Timeout"]) == (
        "python3.12",
        "app.handler",
        256,
        30,
    )
    assert config["Role"] == env["role"]
    assert config["Environment"]["Variables"] == {"DB_PASSWORD": "", "STAGE": ""}
    assert got["Tags"] == tags
    # made from the stored zip: the emulator (scripts/moto_server.py) serves the function's code
    # at its Code.Location; its sha256 is the content address the capture stored it under
    with urllib.request.urlopen(got["Code"]["Location"]) as response:
        served = response.read()
    assert point.details["code_key"].endswith(f"/{hashlib.sha256(served).hexdigest()}.zip")

    again = kind.restore(ctx, copy, name="awsdr-v-r1-orders-api", tags=tags)
    assert (again.resource_id, again.status, again.details["created"]) == (
        "awsdr-v-r1-orders-api",
        AVAILABLE,
        False,
    )
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["awsdr-v-r1-orders-api"]
    # a primary point's code is in another region than the function would be
    with pytest.raises(CaptureError, match="restore a DR copy"):
        kind.restore(ctx, point, name="awsdr-v-r1-x", tags=tags)
    with pytest.raises(CaptureError, match="not a valid Lambda function name"):
        kind.restore(ctx, copy, name="awsdr-v:r1", tags=tags)
    lam.delete_function(FunctionName="awsdr-v-r1-orders-api")
    assert kind.restore_status(ctx, DR, [again])[0].status == MISSING


def test_validate_passes_a_correct_restore_and_detects_a_code_mismatch(env, monkeypatch):
    ctx, kind = env["ctx"], env["kind"]
    point, copy = _restorable(env)
    expected = {"source_meta": {}, "details": point.details}
    values = {"DB_PASSWORD": "from-secrets-manager", "STAGE": "prod"}
    good = kind.restore(
        ctx, copy, name="awsdr-v-r1-orders-api", tags={TAG_VERIFY_RUN: "r1"}, environment=values
    )
    assert good.details["environment_unset"] == []
    assert kind.validate(ctx, good, expected) == []  # includes the invoke (status 200, no FunctionError)

    assert good.details["notes"] == []

    # names restored without values: noted in the result, not failed (the invoke decides)
    bare = kind.restore(ctx, copy, name="awsdr-v-r2-orders-api", tags={TAG_VERIFY_RUN: "r2"})
    assert kind.validate(ctx, bare, expected) == []
    assert bare.details["notes"] == [
        "environment variables restored without values (the point holds names only): DB_PASSWORD, STAGE"
    ]

    # the function answers with an error: reported (moto gap: its Docker-less invoke never errs)
    lam = ctx.client("lambda", DR)

    def failing(**kwargs):
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": io.BytesIO(b'{"errorMessage": "boom"}'),
        }

    with monkeypatch.context() as patch:
        patch.setattr(lam, "invoke", failing)
        [problem] = kind.validate(ctx, good, expected)
    assert problem.startswith("invoke: function error Unhandled")
    assert "boom" in problem

    # other code under the restored name: the sha256 differs, and it is not invoked
    other = _zip("def handler(e, c):\n    return 'other'\n")
    lam.update_function_code(FunctionName="awsdr-v-r1-orders-api", ZipFile=other)
    problems = kind.validate(ctx, good, expected)
    assert problems == [
        f"code sha256 {_sha(other)} != captured {point.details['code_sha256']}",
        "not invoked: the code differs from the captured one",
    ]


def test_cleanup_deletes_only_tagged_functions_except_keep(env):
    ctx, kind = env["ctx"], env["kind"]
    _, copy = _restorable(env)
    kind.restore(ctx, copy, name="awsdr-v-r1-orders-api", tags={TAG_VERIFY_RUN: "r1"})
    kind.restore(ctx, copy, name="awsdr-v-r2-orders-api", tags={TAG_VERIFY_RUN: "r2"})
    lam = ctx.client("lambda", DR)
    data = _zip()
    lam.create_function(
        FunctionName="someone-elses",
        Runtime="python3.12",
        Role=env["role"],
        Handler="app.handler",
        Code={"ZipFile": data},
        Tags={"team": "payments"},
    )
    assert kind.cleanup(ctx, DR, TAG_VERIFY_RUN, keep="r2") == ["awsdr-v-r1-orders-api"]
    left = sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])
    assert left == ["awsdr-v-r2-orders-api", "someone-elses"]
    assert kind.cleanup(ctx, DR, TAG_VERIFY_RUN, "r2") == ["awsdr-v-r2-orders-api"]
    assert kind.cleanup(ctx, DR, TAG_VERIFY_RUN) == []
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["someone-elses"]
    # the source region's function is never touched
    assert [f["FunctionName"] for f in ctx.client("lambda", PRIMARY).list_functions()["Functions"]] == [
        "orders-api"
    ]
