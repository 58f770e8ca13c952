"""The vault connection: the ``aws_dr_vault`` role is assumed and acts in the vault account.

moto cannot copy a snapshot shared from another account (the vault's backend does not see the
primary's snapshots), so the vault copy itself is coded to the AWS documentation and only its
plumbing (role assumption, account check, sharing) is tested here.
"""

from __future__ import annotations

import json

from conftest import DR

from awsdr.operators.copy import vault_context


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
