"""A policy with a ``vault``: ``dr_copy`` gives DynamoDB and S3 points their vault copies, and
``dr_retention`` prunes DR bucket versions and vault copies, with ``dag.test()`` against moto.

moto: the vault account is reached by assuming ``aws_dr_vault``'s role (moto keeps one backend
per account); moto enforces no bucket policy or KMS key policy, so the vault role could read the DR
buckets without the statement and grant ``share`` adds (both are asserted as written). moto
cannot copy a snapshot or AMI shared by another account (the vault's EC2/RDS backends do not see
the primary account's resources), so the plan here is DynamoDB and S3 only: the snapshot kinds'
vault copies are coded to the AWS documentation (tests/aws/test_vault.py tests their sharing).
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY, ROOT

from awsdr.windows import TAG_COPY_OF

VAULT = "222222222222"


@pytest.fixture
def vault_policy(tmp_path, monkeypatch, moto):
    text = (ROOT / "include" / "dr_policy.yaml").read_text()
    text = text.replace(
        "kms_keys: {ap-northeast-1: alias/awsdr}",
        "kms_keys: {ap-northeast-1: alias/awsdr}\n"
        f'vault: {{account_id: "{VAULT}", role_arn: "arn:aws:iam::{VAULT}:role/awsdr-vault"}}',
        1,
    )
    text = text.replace(
        "types: [ebs, ec2, rds, aurora, dynamodb, s3]  # default: all six types", "types: [dynamodb, s3]", 1
    )
    text = text.replace("primary: {hourly: 24, daily: 7}", "primary: {daily: 1}", 1)
    text = text.replace("dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}", "dr: {daily: 1}", 1)
    # gold only: dr_retention then has one prune task per kind of gold (fewer tasks to run)
    text = text[: text.index("  silver:")] + text[text.index("failover:") :]
    path = tmp_path / "vault_policy.yaml"
    path.write_text(text)
    monkeypatch.setenv("AWSDR_POLICY", str(path))
    extra = {"endpoint_url": moto, "region_name": DR, "role_arn": f"arn:aws:iam::{VAULT}:role/awsdr-vault"}
    extra["service_config"] = {"sts": {"endpoint_url": moto}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DR_VAULT", json.dumps({"conn_type": "aws", "extra": extra}))
    from awsdr.policy import load_policy

    return load_policy()


@pytest.fixture
def vctx(vault_policy):
    from awsdr.operators.copy import vault_context

    ctx = vault_context()
    kms = ctx.client("kms", DR)
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    return ctx


@pytest.fixture
def dags(airflow_db, vault_policy):
    import dr_backup
    import dr_copy
    import dr_retention

    return {
        "backup": importlib.reload(dr_backup).dr_backup_gold,
        "copy": importlib.reload(dr_copy).dr_copy_gold,
        "retention": importlib.reload(dr_retention).dag,
    }


@pytest.fixture
def small_estate(ctx, moto):
    """The demo estate's gold table and bucket, the catalog and the DR key (the plan is only those)."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    seed = Seeder(moto)
    seed.table("orders", {"dr-plan": "gold", "app": "orders"}, items=20)
    seed.bucket(
        "awsdr-demo-orders-assets", PRIMARY, {"dr-plan": "gold", "app": "orders"}, objects=6, versioned=True
    )
    seed.bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    seed.kms_alias(DR, "alias/awsdr")
    return ctx


def _vault_points(vctx, policy, kind):
    from awsdr.kinds import kind_for

    return kind_for(kind, policy, "gold").vault_points(vctx, DR, "gold")


def _copies(ctx, policy, kind):
    from awsdr.kinds import kind_for

    return [p for p in kind_for(kind, policy, "gold").list_points(ctx, DR, "gold") if TAG_COPY_OF in p.tags]


def test_vault_copies_of_dynamodb_and_s3_then_retention_prunes_dr_versions_and_vault_copies(
    dags, small_estate, vault_policy, vctx
):
    ctx, policy = small_estate, vault_policy
    first = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    assert dags["backup"].test(logical_date=first).state == "success"
    assert dags["copy"].test().state == "success"
    for kind in ("dynamodb", "s3"):
        dr = _copies(ctx, policy, kind)
        vault = _vault_points(vctx, policy, kind)
        assert dr, kind
        assert {v.tags[TAG_COPY_OF] for v in vault} == {c.point_id for c in dr}, kind
    # the vault's data is in the vault account, encrypted with the vault region's key
    vs3 = vctx.client("s3", DR)
    vault_buckets = {b["Name"] for b in vs3.list_buckets()["Buckets"]}
    assert "awsdr-catalog-vault-ap-northeast-1" in vault_buckets
    assert vault_buckets.isdisjoint({b["Name"] for b in ctx.client("s3", DR).list_buckets()["Buckets"]})
    [s3_vault, *_] = _vault_points(vctx, policy, "s3")
    data_bucket = s3_vault.details["vault_bucket"]
    some = vs3.list_object_versions(Bucket=data_bucket)["Versions"][0]
    head = vs3.head_object(Bucket=data_bucket, Key=some["Key"], VersionId=some["VersionId"])
    assert head["SSEKMSKeyId"].startswith(f"arn:aws:kms:{DR}:{VAULT}:key/")
    dr_bucket = s3_vault.details["dr_bucket"]
    statement = json.loads(ctx.client("s3", DR).get_bucket_policy(Bucket=dr_bucket)["Policy"])["Statement"]
    assert [s["Principal"] for s in statement if s["Sid"] == "awsdr-vault-read"] == [
        {"AWS": f"arn:aws:iam::{VAULT}:root"}
    ]
    before = {k: len(_vault_points(vctx, policy, k)) for k in ("dynamodb", "s3")}
    # a second window a day later, after an object of the bucket was overwritten: under a policy
    # keeping one point per day the first window's points, copies and vault copies expire
    src = s3_vault.source_id
    key = s3_vault_key = ctx.client("s3", PRIMARY).list_objects_v2(Bucket=src)["Contents"][0]["Key"]
    ctx.client("s3", PRIMARY).put_object(Bucket=src, Key=key, Body=b"overwritten after the first window")
    second = first + timedelta(days=1)
    assert dags["backup"].test(logical_date=second).state == "success"
    assert dags["copy"].test().state == "success"
    assert all(len(_vault_points(vctx, policy, k)) == 2 * before[k] for k in ("dynamodb", "s3"))

    def versions(s3, bucket):
        return {(v["Key"], v["VersionId"]) for v in s3.list_object_versions(Bucket=bucket)["Versions"]}

    dr_s3 = ctx.client("s3", DR)
    state = (versions(dr_s3, dr_bucket), versions(vs3, data_bucket))
    dry = dags["retention"].test(logical_date=second + timedelta(hours=1), run_conf={"dry_run": True})
    assert dry.state == "success"
    assert all(len(_vault_points(vctx, policy, k)) == 2 * before[k] for k in ("dynamodb", "s3"))
    assert (versions(dr_s3, dr_bucket), versions(vs3, data_bucket)) == state

    run = dags["retention"].test(logical_date=second + timedelta(hours=1), run_conf={"dry_run": False})
    assert run.state == "success"
    assert {k: len(_vault_points(vctx, policy, k)) for k in ("dynamodb", "s3")} == before
    assert all(v.window == second for k in ("dynamodb", "s3") for v in _vault_points(vctx, policy, k))
    assert all(c.window == second for k in ("dynamodb", "s3") for c in _copies(ctx, policy, k))
    # the overwritten key's first version is gone from the DR bucket and from the vault; the rest stays
    for s3, bucket, before_versions in ((dr_s3, dr_bucket, state[0]), (vs3, data_bucket, state[1])):
        gone = before_versions - versions(s3, bucket)
        assert {k for k, _ in gone} == {s3_vault_key}, bucket
        assert len(gone) == 1, bucket
    from awsdr.catalog import Catalog

    audit = Catalog(ctx, policy.catalog_bucket, policy.catalog_region).list_keys("audit/retention/")
    streams = {k.split("/")[3] for k in audit if k.endswith(".outcome.json")}
    assert {"s3", "dynamodb", "s3-data", "vault-s3", "vault-dynamodb", "vault-s3-data"} <= streams
