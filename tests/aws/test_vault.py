"""The vault connection: the ``aws_dr_vault`` role is assumed and acts in the vault account.

moto cannot copy a snapshot shared from another account (the vault's backend does not see the
primary's snapshots), so the vault copy itself is coded to the AWS documentation and only its
plumbing (role assumption, account check, sharing) is tested here.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from conftest import DR
from test_dynamodb_lifecycle import W as DDB_WINDOW
from test_dynamodb_lifecycle import _capture as _ddb_capture
from test_dynamodb_lifecycle import _copy as _ddb_copy
from test_dynamodb_lifecycle import _pitr_period, _table
from test_s3_dr_retention import POLICY, estate  # noqa: F401  (the fixture)

from awsdr.copies import copy_tags
from awsdr.kinds.base import AVAILABLE
from awsdr.operators.copy import vault_context
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD


def test_vault_connection_assumes_the_role_into_the_vault_account(moto, monkeypatch):
    extra = {
        "endpoint_url": moto,
        "region_name": DR,
        "role_arn": "arn:aws:iam::222222222222:role/awsdr-vault",
        # the provider never sends AssumeRole to the global endpoint_url; name it for STS
        "service_config": {"sts": {"endpoint_url": moto}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DR_VAULT", json.dumps({"conn_type": "aws", "extra": extra}))
    vctx = vault_context()
    assert vctx.account_id(DR) == "222222222222"


def test_ebs_copy_shared_with_the_vault_is_visible_to_it(ctx, moto, monkeypatch):
    from datetime import UTC, datetime

    from awsdr.kinds.base import RecoveryPoint
    from awsdr.kinds.ebs import EbsKind

    ec2 = ctx.client("ec2", DR)
    vol = ec2.create_volume(AvailabilityZone=f"{DR}a", Size=1)["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
    point = RecoveryPoint("ebs", snap, snap, vol, DR, "gold", datetime(2026, 11, 24, tzinfo=UTC), "available")
    EbsKind().share(ctx, point, "222222222222")
    perms = ec2.describe_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission")
    assert perms["CreateVolumePermissions"] == [{"UserId": "222222222222"}]


# --- S3 and DynamoDB: object copies into a vault-account bucket -----------------------------------
# moto keeps one backend per account, so the copies really land in the vault account; it enforces
# no bucket policy and no KMS key policy or grant, so the statement and grant ``share`` adds are
# asserted as written (on AWS the vault role could not read the DR bucket without them).

VAULT = "222222222222"
VAULT_BUCKET = "awsdr-catalog-vault-ap-northeast-1"


@pytest.fixture
def vctx(moto, monkeypatch):
    extra = {
        "endpoint_url": moto,
        "region_name": DR,
        "role_arn": f"arn:aws:iam::{VAULT}:role/awsdr-vault",
        "service_config": {"sts": {"endpoint_url": moto}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DR_VAULT", json.dumps({"conn_type": "aws", "extra": extra}))
    ctx = vault_context()
    kms = ctx.client("kms", DR)
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    return ctx


def _to_vault(ctx, vctx, kind, point):
    return kind.vault_copy(
        ctx,
        point,
        vault_ctx=vctx,
        account_id=VAULT,
        region=DR,
        kms_key_id="alias/awsdr",
        tags=copy_tags(point),
    )


def _versions(s3, bucket):
    return {(v["Key"], v["VersionId"]) for v in s3.list_object_versions(Bucket=bucket).get("Versions", [])}


def test_s3_vault_copy_is_in_the_vault_account_encrypted_with_its_key_and_made_once(ctx, vctx, estate):  # noqa: F811
    kind = estate["kind"]
    _, c1, _, _ = estate["points"]
    made = _to_vault(ctx, vctx, kind, c1)
    assert made.status == AVAILABLE
    assert made.region == DR
    assert made.tags[TAG_COPY_OF] == c1.point_id
    assert made.point_id == c1.point_id.replace("points/s3-dr/ap-northeast-1/", "points/s3/")
    data = made.details["vault_bucket"]
    vs3 = vctx.client("s3", DR)
    assert {VAULT_BUCKET, data} <= {b["Name"] for b in vs3.list_buckets()["Buckets"]}
    assert data not in {b["Name"] for b in ctx.client("s3", DR).list_buckets()["Buckets"]}
    copied = _versions(vs3, data)
    assert {k for k, _ in copied} == {"a", "b"}
    for key, vid in copied:
        head = vs3.head_object(Bucket=data, Key=key, VersionId=vid)
        assert head["SSEKMSKeyId"].startswith(f"arn:aws:kms:{DR}:{VAULT}:key/")
        assert head["Metadata"]["awsdr-source-version-id"]  # the protected bucket's version
    # the share: a bucket-policy statement and a KMS grant on the DR key, for the vault account
    dr = ctx.client("s3", DR)
    policy = json.loads(dr.get_bucket_policy(Bucket="orders-data-dr-ap-northeast-1")["Policy"])
    [statement] = [s for s in policy["Statement"] if s["Sid"] == "awsdr-vault-read"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{VAULT}:root"}
    assert "s3:GetObjectVersion" in statement["Action"]
    grants = ctx.client("kms", DR).list_grants(KeyId=c1.details["kms_key_id"])["Grants"]
    assert [g["GranteePrincipal"] for g in grants if g.get("Name") == f"awsdr-vault-{VAULT}"] == [
        f"arn:aws:iam::{VAULT}:root"
    ]
    # idempotent: the same point back, nothing copied again
    again = _to_vault(ctx, vctx, kind, c1)
    assert again.point_id == made.point_id
    assert _versions(vs3, data) == copied
    assert [p.point_id for p in kind.vault_points(vctx, DR, "gold")] == [made.point_id]
    assert made.point_id not in {p.point_id for p in kind.list_points(ctx, DR, "gold")}


def test_dynamodb_vault_copy_holds_the_export_objects_in_the_vault_account(ctx, vctx, monkeypatch):
    from awsdr.kinds import get_kind

    ctx.client("s3", DR).create_bucket(
        Bucket="awsdr-catalog", CreateBucketConfiguration={"LocationConstraint": DR}
    )
    kms = ctx.client("kms", DR)
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    kind = get_kind("dynamodb")
    kind.catalog_bucket, kind.catalog_region = "awsdr-catalog", DR
    _table(ctx, "orders")
    point = _ddb_capture(ctx, kind, "orders")
    _pitr_period(monkeypatch, DDB_WINDOW - timedelta(hours=1))
    _ddb_copy(ctx, kind, point)
    [copy] = [p for p in kind.list_points(ctx, DR) if TAG_COPY_OF in p.tags]
    assert copy.status == AVAILABLE
    made = _to_vault(ctx, vctx, kind, copy)
    assert made.status == AVAILABLE
    assert made.tags[TAG_COPY_OF] == copy.point_id
    assert made.point_id == f"s3://{VAULT_BUCKET}/exports/gold/orders/20261124t1000z"
    assert made.details["table_schema"] == copy.details["table_schema"]
    vs3 = vctx.client("s3", DR)
    src = {
        o["Key"][len(copy.details["prefix"]) :]
        for o in ctx.client("s3", DR).list_objects_v2(Bucket=copy.details["bucket"])["Contents"]
    }
    dst = {
        o["Key"][len(made.details["prefix"]) :]
        for o in vs3.list_objects_v2(Bucket=VAULT_BUCKET, Prefix="exports/")["Contents"]
    }
    assert src
    assert dst == src
    again = _to_vault(ctx, vctx, kind, copy)
    assert again.point_id == made.point_id
    assert len(vs3.list_object_versions(Bucket=VAULT_BUCKET, Prefix="exports/")["Versions"]) == len(src)
    assert [p.point_id for p in kind.vault_points(vctx, DR)] == [made.point_id]
    # a held vault copy is refused; released, it is deleted with every object version it had
    sidecar = "points/dynamodb/gold/orders/20261124t1000z.tags.json"
    doc = json.loads(vs3.get_object(Bucket=VAULT_BUCKET, Key=sidecar)["Body"].read())
    doc["tags"][TAG_LEGAL_HOLD] = "case-9"
    vs3.put_object(Bucket=VAULT_BUCKET, Key=sidecar, Body=json.dumps(doc).encode())
    assert kind.vault_delete(vctx, DR, [made]) == {made.point_id: "refused"}
    del doc["tags"][TAG_LEGAL_HOLD]
    vs3.put_object(Bucket=VAULT_BUCKET, Key=sidecar, Body=json.dumps(doc).encode())
    assert kind.vault_delete(vctx, DR, [made]) == {made.point_id: "deleted"}
    assert vs3.list_object_versions(Bucket=VAULT_BUCKET).get("Versions", []) == []
    assert kind.vault_points(vctx, DR) == []


def _vault_hold(vctx, key, hold):
    vs3 = vctx.client("s3", DR)
    doc = json.loads(vs3.get_object(Bucket=VAULT_BUCKET, Key=key)["Body"].read())
    objects = doc.pop("objects")
    if hold:
        doc["tags"][TAG_LEGAL_HOLD] = "case-11"
    else:
        doc["tags"].pop(TAG_LEGAL_HOLD, None)
    doc["objects"] = objects
    vs3.put_object(Bucket=VAULT_BUCKET, Key=key, Body=json.dumps(doc).encode())


def test_vault_retention_prunes_with_the_dr_rules_audited_and_never_held_copies(ctx, vctx, estate):  # noqa: F811
    import dataclasses

    from awsdr.policy import Vault
    from awsdr.retention import AUDIT_PREFIX, prune_kind, prune_vault

    policy = dataclasses.replace(
        POLICY,
        vault=Vault(account_id=VAULT, role_arn=f"arn:aws:iam::{VAULT}:role/awsdr-vault", regions=(DR,)),
    )
    kind, catalog = estate["kind"], estate["catalog"]
    _, c1, _, c2 = estate["points"]
    v1, v2 = _to_vault(ctx, vctx, kind, c1), _to_vault(ctx, vctx, kind, c2)
    vs3 = vctx.client("s3", DR)
    data = v1.details["vault_bucket"]
    before = _versions(vs3, data)
    assert len(before) == 3  # a1, b1, a2

    def run(run_id, dry_run=False):
        common = {"now": estate["now"], "run_id": run_id, "dry_run": dry_run, "force": False}
        prune_kind(ctx, kind, catalog, policy, "gold", **common)
        return prune_vault(ctx, vctx, kind, catalog, policy, "gold", **common)

    dry = run("dry", dry_run=True)
    assert dry.summary["deleted"] == 1
    assert dry.deleted == []
    assert {p.point_id for p in kind.vault_points(vctx, DR)} == {v1.point_id, v2.point_id}
    assert _versions(vs3, data) == before
    assert catalog.list_keys(AUDIT_PREFIX) == []

    _vault_hold(vctx, v1.point_id, True)
    held = run("r1")
    assert held.deleted == []
    assert not held.errors
    assert not held.blocked
    assert {p.point_id for p in kind.vault_points(vctx, DR)} == {v1.point_id, v2.point_id}
    assert _versions(vs3, data) == before, "a held vault copy keeps its versions"

    _vault_hold(vctx, v1.point_id, False)
    done = run("r2")
    assert done.kind == "vault-s3"
    assert done.deleted == [v1.point_id]
    assert not done.errors
    assert [p.point_id for p in kind.vault_points(vctx, DR)] == [v2.point_id]
    assert done.data["deleted"] == 1
    gone = before - _versions(vs3, data)
    assert {k for k, _ in gone} == {"a"}
    assert len(gone) == 1
    # every version of the deleted manifest is gone from the versioned vault bucket
    assert [
        v for v in vs3.list_object_versions(Bucket=VAULT_BUCKET, Prefix=v1.point_id).get("Versions", [])
    ] == []
    keys = catalog.list_keys(AUDIT_PREFIX + "r2/")
    intent = catalog.get_json(next(k for k in keys if "/vault-s3/gold/" in k and k.endswith(".intent.json")))
    assert intent["account"] == VAULT
    assert [p["point_id"] for p in intent["points"]] == [v1.point_id]
    assert intent["points"][0]["rule"] == "expired"
    outcome = catalog.get_json(
        next(k for k in keys if "/vault-s3-data/" in k and k.endswith(".outcome.json"))
    )
    assert list(outcome["outcomes"].values()) == ["deleted"]
