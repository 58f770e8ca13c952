"""Aurora kind after capture: list, copy, share, delete, restore, validate, cleanup."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from conftest import DR, PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds._rds_common import attempt_names
from awsdr.kinds.aurora import instance_name
from awsdr.kinds.base import (
    ABSENT,
    AVAILABLE,
    CREATING,
    DELETED,
    FAILED,
    MISSING,
    REFUSED,
    CaptureError,
    Restored,
)
from awsdr.windows import RDS_INSTANCE, TAG_COPY_OF, TAG_DRILL, TAG_LEGAL_HOLD, TAG_VERIFY_RUN, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
VAULT = "111122223333"


def _tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def _cluster(ctx, name, tags=None, region=PRIMARY, members=1, **extra):
    rds = ctx.client("rds", region)
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
        DatabaseName="app",
        Tags=_tags(tags or {}),
        **extra,
    )
    for n in range(members):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-{n + 1}",
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r5.large",
        )
    return name


def _keys(ctx):
    """A customer key in the primary (source encryption) and alias/awsdr in DR; returns both ARNs."""
    src = ctx.client("kms", PRIMARY).create_key()["KeyMetadata"]["Arn"]
    kms = ctx.client("kms", DR)
    dr = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=dr["KeyId"])
    return src, dr["Arn"]


def _point(ctx, name="ledger", plan="gold", encrypted_with=None, members=1):
    kind = get_kind("aurora")
    extra = {"StorageEncrypted": True, "KmsKeyId": encrypted_with} if encrypted_with else {}
    _cluster(ctx, name, {"dr-plan": plan}, members=members, **extra)
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": plan}) if r.id == name]
    tags = point_tags(plan=plan, window=W, source=res.id, captured_at=CAP, kind="aurora")
    return kind.capture(ctx, res, plan, W, tags), res


def _copy_tags(point):
    return {**{k: v for k, v in point.tags.items() if k.startswith("awsdr:")}, TAG_COPY_OF: point.point_id}


def _copy(ctx, point):
    return get_kind("aurora").copy(
        ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=_copy_tags(point)
    )


def _snapshots(ctx, region):
    return ctx.client("rds", region).describe_db_cluster_snapshots(SnapshotType="manual")[
        "DBClusterSnapshots"
    ]


class _Ctx:
    def __init__(self, ctx, **clients):
        self._ctx = ctx
        self._clients = clients

    def client(self, service, region):
        return self._clients.get(service) or self._ctx.client(service, region)

    def account_id(self, region):
        return self._ctx.account_id(region)


# --- copy -----------------------------------------------------------------------------------


def test_copy_is_encrypted_with_the_dr_key_tagged_and_idempotent(ctx):
    src_key, dr_key = _keys(ctx)
    point, _ = _point(ctx, encrypted_with=src_key)
    assert point.details["encrypted"] is True
    copy = _copy(ctx, point)
    assert copy.region == DR
    assert copy.point_id == attempt_names("gold", "ledger", W)[0]
    assert copy.arn.endswith(f":cluster-snapshot:{copy.point_id}")
    assert copy.details["encrypted"] is True
    assert copy.details["kms_key_id"] == dr_key
    assert copy.tags == _copy_tags(point)
    [snap] = _snapshots(ctx, DR)
    assert {t["Key"]: t["Value"] for t in snap["TagList"]} == _copy_tags(point)
    assert _copy(ctx, point).point_id == copy.point_id
    assert len(_snapshots(ctx, DR)) == 1


def test_copy_of_an_unencrypted_cluster_snapshot_is_refused_with_the_reason(ctx):
    """AWS refuses KmsKeyId for a plaintext cluster snapshot (moto would encrypt it)."""
    _keys(ctx)
    point, _ = _point(ctx)
    assert point.details["encrypted"] is False
    with pytest.raises(CaptureError, match="cannot be encrypted by a copy"):
        _copy(ctx, point)
    assert _snapshots(ctx, DR) == []


def test_copy_refuses_a_name_taken_by_a_stranger(ctx):
    src_key, _ = _keys(ctx)
    point, _ = _point(ctx, encrypted_with=src_key)
    _cluster(ctx, "dr-cl", region=DR, members=0)
    ctx.client("rds", DR).create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=point.point_id, DBClusterIdentifier="dr-cl"
    )
    with pytest.raises(CaptureError, match="not a copy of"):
        _copy(ctx, point)


# --- list / share / delete --------------------------------------------------------------------


def test_list_points_sees_points_and_copies_but_not_look_alikes(ctx):
    src_key, _ = _keys(ctx)
    point, _ = _point(ctx, encrypted_with=src_key)
    copy = _copy(ctx, point)
    rds = ctx.client("rds", PRIMARY)
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="awsdr-gold-ledger-x", DBClusterIdentifier="ledger"
    )
    kind = get_kind("aurora")
    [only] = kind.list_points(ctx, PRIMARY)
    assert only.point_id == point.point_id
    assert only.details["size_bytes"] == only.details["allocated_storage"] * 2**30
    assert kind.list_points(ctx, PRIMARY, plan="silver") == []
    [dr] = kind.list_points(ctx, DR, plan="gold")
    assert dr.point_id == copy.point_id
    assert dr.tags[TAG_COPY_OF] == point.point_id
    assert get_kind("rds").list_points(ctx, PRIMARY) == []


def _restore_attr(ctx, snapshot_id):
    attrs = ctx.client("rds", PRIMARY).describe_db_cluster_snapshot_attributes(
        DBClusterSnapshotIdentifier=snapshot_id
    )["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    return next((a["AttributeValues"] for a in attrs if a["AttributeName"] == "restore"), [])


def test_share_adds_the_account_and_refuses_the_aws_managed_key(ctx):
    src_key, _ = _keys(ctx)
    point, _ = _point(ctx, encrypted_with=src_key)
    kms = boto3.client("kms", region_name=PRIMARY)
    stub = Stubber(kms)
    stub.add_response(
        "describe_key", {"KeyMetadata": {"KeyId": src_key, "KeyManager": "AWS"}}, {"KeyId": src_key}
    )
    with stub, pytest.raises(CaptureError, match="aws/rds key cannot be shared"):
        get_kind("aurora").share(_Ctx(ctx, kms=kms), point, VAULT)
    assert _restore_attr(ctx, point.point_id) == []
    get_kind("aurora").share(ctx, point, VAULT)  # moto: customer managed
    assert _restore_attr(ctx, point.point_id) == [VAULT]


def test_delete_follows_the_fresh_tags_and_is_idempotent(ctx):
    kind = get_kind("aurora")
    managed, _ = _point(ctx, members=0)
    held, _ = _point(ctx, "held", members=0)
    rds = ctx.client("rds", PRIMARY)
    rds.add_tags_to_resource(ResourceName=held.arn, Tags=[{"Key": TAG_LEGAL_HOLD, "Value": "case-7"}])
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier="hand-made", DBClusterIdentifier="ledger")
    claimed = type(managed).from_dict({**managed.to_dict(), "point_id": "hand-made"})
    out = kind.delete(ctx, PRIMARY, [managed, held, claimed])
    assert out == {managed.point_id: DELETED, held.point_id: REFUSED, "hand-made": REFUSED}
    assert {s["DBClusterSnapshotIdentifier"] for s in _snapshots(ctx, PRIMARY)} == {
        held.point_id,
        "hand-made",
    }
    assert kind.delete(ctx, PRIMARY, [managed]) == {managed.point_id: ABSENT}


# --- restore / validate / cleanup --------------------------------------------------------------


def test_restore_makes_cluster_and_instance_then_available_and_valid(ctx):
    src_key, dr_key = _keys(ctx)
    point, res = _point(ctx, encrypted_with=src_key)
    copy = _copy(ctx, point)
    kind = get_kind("aurora")
    restored = kind.restore(ctx, copy, name="verify-ledger", tags={TAG_VERIFY_RUN: "r1"})
    assert restored.resource_id == "verify-ledger"
    assert restored.region == DR
    assert restored.details["instance_id"] == "verify-ledger-1"
    assert restored.details["engine"] == "aurora-postgresql"
    assert restored.details["kms_key_id"] == dr_key
    assert restored.details["endpoint"]
    assert restored.status == CREATING  # moto: a new cluster reads "creating" once
    rds = ctx.client("rds", DR)
    [cl] = rds.describe_db_clusters(DBClusterIdentifier="verify-ledger")["DBClusters"]
    assert {t["Key"]: t["Value"] for t in cl["TagList"]} == {TAG_VERIFY_RUN: "r1", "Name": "verify-ledger"}
    [inst] = rds.describe_db_instances(DBInstanceIdentifier="verify-ledger-1")["DBInstances"]
    assert inst["DBClusterIdentifier"] == "verify-ledger"
    assert inst["DBInstanceClass"] == "db.r6g.large"
    assert {t["Key"]: t["Value"] for t in inst["TagList"]} == {
        TAG_VERIFY_RUN: "r1",
        "Name": "verify-ledger-1",
    }

    [status] = kind.restore_status(ctx, DR, [restored])
    assert status.status == AVAILABLE
    assert kind.validate(ctx, restored, {"source_meta": res.meta, "details": point.details}) == []

    again = kind.restore(ctx, copy, name="verify-ledger", tags={TAG_VERIFY_RUN: "r1"})
    assert again.resource_id == "verify-ledger"
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]] == ["verify-ledger"]
    assert len(rds.describe_db_instances()["DBInstances"]) == 1


def test_restore_status_needs_the_instance_too(ctx):
    src_key, _ = _keys(ctx)
    point, _ = _point(ctx, encrypted_with=src_key, members=0)
    kind = get_kind("aurora")
    restored = kind.restore(ctx, point, name="drill-ledger", tags={TAG_DRILL: "d1"})
    ctx.client("rds", PRIMARY).delete_db_instance(
        DBInstanceIdentifier="drill-ledger-1", SkipFinalSnapshot=True
    )
    [out] = kind.restore_status(ctx, PRIMARY, [restored])
    assert out.status == FAILED
    assert "drill-ledger-1" in (out.error or "")
    problems = kind.validate(ctx, restored, {})
    assert problems
    assert "not available" in problems[0]
    # a retry of restore finishes the half-made restore
    kind.restore(ctx, point, name="drill-ledger", tags={TAG_DRILL: "d1"})
    assert kind.restore_status(ctx, PRIMARY, [restored])[0].status == AVAILABLE
    gone = Restored("aurora", "drill-gone", PRIMARY, point.point_id, CREATING, CAP)
    assert kind.restore_status(ctx, PRIMARY, [gone])[0].status == MISSING


def test_validate_names_each_mismatch(ctx):
    point, res = _point(ctx, members=0)  # plaintext source restored in place
    kind = get_kind("aurora")
    restored = kind.restore(ctx, point, name="verify-ledger", tags={TAG_VERIFY_RUN: "r1"})
    kind.restore_status(ctx, PRIMARY, [restored])
    expected = {
        "source_meta": {**res.meta, "engine": "aurora-mysql", "engine_version": "8.0.mysql_aurora.3.05.2"}
    }
    problems = kind.validate(ctx, restored, expected)
    text = "\n".join(problems)
    assert len(problems) == 3, problems
    assert "engine is aurora-postgresql, captured aurora-mysql" in text
    assert "captured 8.0.mysql_aurora.3.05.2" in text
    assert "not encrypted" in text


def test_restore_refuses_an_existing_stranger_cluster(ctx):
    point, _ = _point(ctx, members=0)
    _cluster(ctx, "verify-ledger", {"app": "prod"}, members=0)
    with pytest.raises(CaptureError, match="not a restore made by this product"):
        get_kind("aurora").restore(ctx, point, name="verify-ledger", tags={TAG_VERIFY_RUN: "r1"})


def test_cleanup_deletes_tagged_clusters_with_their_instances_only(ctx):
    point, _ = _point(ctx, members=0)
    kind = get_kind("aurora")
    kind.restore(ctx, point, name="verify-a", tags={TAG_VERIFY_RUN: "r1"})
    kind.restore(ctx, point, name="verify-b", tags={TAG_VERIFY_RUN: "r2"})
    _cluster(ctx, "verify-c", {"Name": "verify-c"})  # look-alike without the tag, with a member
    # the RDS kind leaves Aurora members alone
    assert get_kind("rds").cleanup(ctx, PRIMARY, TAG_VERIFY_RUN) == []
    assert kind.cleanup(ctx, PRIMARY, TAG_VERIFY_RUN, "r1") == ["verify-a"]
    assert kind.cleanup(ctx, PRIMARY, TAG_VERIFY_RUN) == ["verify-b"]
    assert kind.cleanup(ctx, PRIMARY, TAG_VERIFY_RUN) == []
    rds = ctx.client("rds", PRIMARY)
    assert {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]} == {
        "ledger",
        "verify-c",
    }
    assert {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]} == {"verify-c-1"}


def test_instance_name_stays_a_valid_identifier():
    assert instance_name("verify-ledger") == "verify-ledger-1"
    long = "v" + "x" * 62
    assert RDS_INSTANCE.is_valid(instance_name(long))
    assert instance_name(long) != long


def test_a_restore_resent_after_a_lost_answer_adopts_the_cluster_it_made(ctx, monkeypatch):
    """Seen in `make chaos` (the storm's drill): the restore's answer was lost and botocore sent it
    again. AWS answers DBClusterAlreadyExistsFault; moto 5.2.5 makes the cluster again and fails
    on its automated snapshot's name (rds:<name>-<minute>). Either way the cluster made by the
    first send is the restore: no failure, no second cluster."""
    import awsdr.kinds.aurora as aurora

    src_key, _ = _keys(ctx)
    point, _ = _point(ctx, encrypted_with=src_key, members=0)
    rds = ctx.client("rds", PRIMARY)
    tags = {TAG_DRILL: "d1", "Name": "drill-ledger"}
    # the first send, whose answer the client never saw
    rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="drill-ledger",
        SnapshotIdentifier=point.point_id,
        Engine="aurora-postgresql",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    real = aurora.describe_clusters
    calls = {"n": 0}

    def before_the_first_send(rds_, ids):
        calls["n"] += 1
        return {} if calls["n"] == 1 else real(rds_, ids)  # the look-up made before that send

    monkeypatch.setattr(aurora, "describe_clusters", before_the_first_send)
    restored = get_kind("aurora").restore(ctx, point, name="drill-ledger", tags={TAG_DRILL: "d1"})
    assert restored.resource_id == "drill-ledger"
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]].count(
        "drill-ledger"
    ) == 1
