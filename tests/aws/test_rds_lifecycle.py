"""RDS kind after capture: list, copy, share, delete, restore, validate, cleanup; failover helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from conftest import DR, PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds._rds_common import (
    TAG_PROMOTED_AT,
    attempt_names,
    failover_global_cluster,
    instance_status,
    promote_read_replica,
)
from awsdr.kinds.base import (
    ABSENT,
    AVAILABLE,
    CREATING,
    DELETED,
    FAILED,
    MISSING,
    REFUSED,
    CaptureError,
    RecoveryPoint,
    Restored,
)
from awsdr.windows import TAG_COPY_OF, TAG_LEGAL_HOLD, TAG_VERIFY_RUN, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
VAULT = "111122223333"


def _tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def _db(ctx, name, tags=None, region=PRIMARY, **extra):
    return ctx.client("rds", region).create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
        Tags=_tags(tags or {}),
        **extra,
    )["DBInstance"]


def _dr_key(ctx, region=DR):
    kms = ctx.client("kms", region)
    key = kms.create_key(Description="awsdr")["KeyMetadata"]
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=key["KeyId"])
    return key["Arn"]


def _point(ctx, name="orders-db", plan="gold", **db_extra):
    """A captured point of a new instance ``name`` (plus its Resource)."""
    kind = get_kind("rds")
    _db(ctx, name, {"dr-plan": plan}, **db_extra)
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": plan}) if r.id == name]
    tags = point_tags(plan=plan, window=W, source=res.id, captured_at=CAP, kind="rds")
    return kind.capture(ctx, res, plan, W, tags), res


def _copy_tags(point):
    return {**{k: v for k, v in point.tags.items() if k.startswith("awsdr:")}, TAG_COPY_OF: point.point_id}


def _copy(ctx, point, key="alias/awsdr"):
    return get_kind("rds").copy(ctx, point, dest_region=DR, kms_key_id=key, tags=_copy_tags(point))


def _snapshots(ctx, region):
    return ctx.client("rds", region).describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]


class _Ctx:
    """Delegates to a real context except for the services given stubbed clients."""

    def __init__(self, ctx, **clients):
        self._ctx = ctx
        self._clients = clients

    def client(self, service, region):
        return self._clients.get(service) or self._ctx.client(service, region)

    def account_id(self, region):
        return self._ctx.account_id(region)


# --- copy -----------------------------------------------------------------------------------


def test_copy_of_plaintext_point_is_encrypted_with_the_dr_key_tagged_and_idempotent(ctx):
    key_arn = _dr_key(ctx)
    point, _ = _point(ctx)
    assert point.details["encrypted"] is False
    copy = _copy(ctx, point)
    assert copy.region == DR
    assert copy.point_id == attempt_names("gold", "orders-db", W)[0]
    assert copy.arn.startswith(f"arn:aws:rds:{DR}:")
    assert copy.status == AVAILABLE
    assert copy.details["encrypted"] is True
    assert copy.details["kms_key_id"] == key_arn
    assert copy.details["size_bytes"] == 20 * 2**30
    assert copy.tags == _copy_tags(point)
    [snap] = _snapshots(ctx, DR)
    assert {t["Key"]: t["Value"] for t in snap["TagList"]} == _copy_tags(point)
    assert snap["TagList"]
    assert snap["KmsKeyId"] == key_arn

    again = _copy(ctx, point)
    assert again.point_id == copy.point_id
    assert len(_snapshots(ctx, DR)) == 1


def test_copy_refuses_a_name_taken_by_a_snapshot_that_is_not_this_copy(ctx):
    _dr_key(ctx)
    point, _ = _point(ctx)
    _db(ctx, "dr-db", region=DR)
    ctx.client("rds", DR).create_db_snapshot(
        DBSnapshotIdentifier=point.point_id, DBInstanceIdentifier="dr-db"
    )
    with pytest.raises(CaptureError, match="not a copy of"):
        _copy(ctx, point)


def test_failed_copy_is_replaced_under_the_next_attempt_name():
    """moto never fails a copy: stubbed."""
    client = boto3.client("rds", region_name=DR)
    stub = Stubber(client)
    tags = point_tags(plan="gold", window=W, source="orders-db", captured_at=CAP, kind="rds")
    point = RecoveryPoint(
        kind="rds",
        point_id=attempt_names("gold", "orders-db", W)[0],
        arn=f"arn:aws:rds:{PRIMARY}:123456789012:snapshot:x",
        source_id="orders-db",
        region=PRIMARY,
        plan="gold",
        window=W,
        status=AVAILABLE,
        tags=tags,
    )
    ctags = {**tags, TAG_COPY_OF: point.point_id}
    first, second = attempt_names("gold", "orders-db", W)[:2]
    stub.add_client_error("copy_db_snapshot", "DBSnapshotAlreadyExists", "exists")
    failed = {"DBSnapshotIdentifier": first, "Status": "failed", "TagList": _tags(ctags)}
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [failed]})
    made = {
        "DBSnapshotIdentifier": second,
        "DBSnapshotArn": "arn:c2",
        "Status": "pending",
        "TagList": _tags(ctags),
    }
    stub.add_response(
        "copy_db_snapshot",
        {"DBSnapshot": made},
        {
            "SourceDBSnapshotIdentifier": point.arn,
            "TargetDBSnapshotIdentifier": second,
            "KmsKeyId": "alias/awsdr",
            "Tags": _tags(ctags),
            "CopyTags": False,
            "SourceRegion": PRIMARY,
        },
    )
    with stub:
        copy = get_kind("rds").copy(
            _Ctx(None, rds=client), point, dest_region=DR, kms_key_id="alias/awsdr", tags=ctags
        )
        stub.assert_no_pending_responses()
    assert copy.point_id == second
    assert copy.status == CREATING


# --- list -----------------------------------------------------------------------------------


def test_list_points_sees_points_and_copies_but_not_look_alikes(ctx):
    _dr_key(ctx)
    point, _ = _point(ctx)
    silver, _ = _point(ctx, "silver-db", plan="silver")
    copy = _copy(ctx, point)
    rds = ctx.client("rds", PRIMARY)
    # look-alikes: our naming without our tags, and awsdr tags that say "not managed"
    rds.create_db_snapshot(DBSnapshotIdentifier="awsdr-gold-orders-db-x", DBInstanceIdentifier="orders-db")
    fake = {**point.tags, "awsdr:managed": "false"}
    rds.create_db_snapshot(DBSnapshotIdentifier="fake", DBInstanceIdentifier="orders-db", Tags=_tags(fake))
    kind = get_kind("rds")
    assert sorted(p.point_id for p in kind.list_points(ctx, PRIMARY)) == sorted(
        [point.point_id, silver.point_id]
    )
    [only] = kind.list_points(ctx, PRIMARY, plan="gold")
    assert only.point_id == point.point_id
    assert only.status == AVAILABLE
    assert only.details["size_bytes"] == 20 * 2**30
    [dr] = kind.list_points(ctx, DR)
    assert dr.point_id == copy.point_id
    assert dr.tags[TAG_COPY_OF] == point.point_id
    assert get_kind("aurora").list_points(ctx, PRIMARY) == []


# --- share ----------------------------------------------------------------------------------


def _restore_attr(ctx, snapshot_id):
    attrs = ctx.client("rds", PRIMARY).describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot_id)
    found = attrs["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
    return next((a["AttributeValues"] for a in found if a["AttributeName"] == "restore"), [])


def test_share_adds_the_account_to_the_restore_attribute(ctx):
    key = ctx.client("kms", PRIMARY).create_key()["KeyMetadata"]["Arn"]
    point, _ = _point(ctx, StorageEncrypted=True, KmsKeyId=key)
    get_kind("rds").share(ctx, point, VAULT)
    assert _restore_attr(ctx, point.point_id) == [VAULT]


def test_share_refuses_a_snapshot_under_the_aws_managed_key(ctx):
    """moto reports alias/aws/rds as customer managed: KMS stubbed to answer as AWS does."""
    key = ctx.client("kms", PRIMARY).describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    point, _ = _point(ctx, StorageEncrypted=True, KmsKeyId=key)
    kms = boto3.client("kms", region_name=PRIMARY)
    stub = Stubber(kms)
    stub.add_response("describe_key", {"KeyMetadata": {"KeyId": key, "KeyManager": "AWS"}}, {"KeyId": key})
    with stub, pytest.raises(CaptureError, match="default aws/rds key cannot be shared"):
        get_kind("rds").share(_Ctx(ctx, kms=kms), point, VAULT)
    assert _restore_attr(ctx, point.point_id) == []


def test_share_of_a_vanished_point_is_a_capture_error(ctx):
    point, _ = _point(ctx)
    ctx.client("rds", PRIMARY).delete_db_snapshot(DBSnapshotIdentifier=point.point_id)
    with pytest.raises(CaptureError, match="not found"):
        get_kind("rds").share(ctx, point, VAULT)


# --- delete ---------------------------------------------------------------------------------


def test_delete_follows_the_fresh_tags_and_is_idempotent(ctx):
    kind = get_kind("rds")
    managed, _ = _point(ctx)
    held, _ = _point(ctx, "held-db")
    rds = ctx.client("rds", PRIMARY)
    # the hold is put on after the caller read the point: only a fresh read sees it
    rds.add_tags_to_resource(ResourceName=held.arn, Tags=[{"Key": TAG_LEGAL_HOLD, "Value": "case-7"}])
    stranger = rds.create_db_snapshot(DBSnapshotIdentifier="hand-made", DBInstanceIdentifier="orders-db")
    claimed = RecoveryPoint.from_dict(
        {**managed.to_dict(), "point_id": "hand-made"}
    )  # caller believes managed
    ghost = RecoveryPoint.from_dict({**managed.to_dict(), "point_id": "awsdr-gone"})
    out = kind.delete(ctx, PRIMARY, [managed, held, claimed, ghost])
    assert out == {
        managed.point_id: DELETED,
        held.point_id: REFUSED,
        "hand-made": REFUSED,
        "awsdr-gone": ABSENT,
    }
    left = {s["DBSnapshotIdentifier"] for s in _snapshots(ctx, PRIMARY)}
    assert left == {held.point_id, stranger["DBSnapshot"]["DBSnapshotIdentifier"]}
    assert kind.delete(ctx, PRIMARY, [managed]) == {managed.point_id: ABSENT}


def test_delete_waits_for_a_snapshot_still_being_made():
    """moto snapshots are available at once: stubbed."""
    client = boto3.client("rds", region_name=DR)
    stub = Stubber(client)
    tags = point_tags(plan="gold", window=W, source="orders-db", captured_at=CAP, kind="rds")
    busy = {"DBSnapshotIdentifier": "awsdr-a", "Status": "copying", "TagList": _tags(tags)}
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [busy]})
    point = RecoveryPoint("rds", "awsdr-a", "arn:a", "orders-db", DR, "gold", W, AVAILABLE, tags)
    with stub:
        out = get_kind("rds").delete(_Ctx(None, rds=client), DR, [point])
        stub.assert_no_pending_responses()
    assert out == {"awsdr-a": "error: still copying"}


# --- restore / validate / cleanup --------------------------------------------------------------


def _expected(res, point):
    return {"source_meta": res.meta, "details": point.details}


def test_restore_of_the_dr_copy_becomes_available_and_validates(ctx):
    key_arn = _dr_key(ctx)
    point, res = _point(ctx)
    copy = _copy(ctx, point)
    kind = get_kind("rds")
    restored = kind.restore(ctx, copy, name="verify-orders-db", tags={TAG_VERIFY_RUN: "r1"})
    assert restored.resource_id == "verify-orders-db"
    assert restored.region == DR
    assert restored.point_id == copy.point_id
    assert restored.details["engine"] == "postgres"
    assert restored.details["storage_encrypted"] is True
    assert restored.details["kms_key_id"] == key_arn
    assert restored.details["endpoint"]
    [db] = ctx.client("rds", DR).describe_db_instances(DBInstanceIdentifier="verify-orders-db")["DBInstances"]
    assert {t["Key"]: t["Value"] for t in db["TagList"]} == {TAG_VERIFY_RUN: "r1", "Name": "verify-orders-db"}
    assert db["DBInstanceClass"] == "db.t3.micro"

    [status] = kind.restore_status(ctx, DR, [restored])
    assert status.status == AVAILABLE
    assert kind.validate(ctx, restored, _expected(res, point)) == []

    again = kind.restore(ctx, copy, name="verify-orders-db", tags={TAG_VERIFY_RUN: "r1"})
    assert again.resource_id == restored.resource_id
    assert len(ctx.client("rds", DR).describe_db_instances()["DBInstances"]) == 1


def test_validate_names_each_mismatch(ctx):
    point, res = _point(ctx)  # restored in place: the plaintext primary point
    kind = get_kind("rds")
    restored = kind.restore(ctx, point, name="verify-orders-db", tags={TAG_VERIFY_RUN: "r1"})
    expected = _expected(res, point)
    expected["source_meta"] = {
        **res.meta,
        "engine": "mysql",
        "engine_version": "8.0.36",
        "allocated_storage": 500,
    }
    problems = kind.validate(ctx, restored, expected)
    text = "\n".join(problems)
    assert len(problems) == 4, problems
    assert "engine is postgres, captured mysql" in text
    assert "engine version is" in text
    assert "captured 8.0.36" in text
    assert "allocated storage is 20 GiB, captured 500 GiB" in text
    assert "not encrypted" in text


def test_restore_status_of_a_vanished_restore_is_missing(ctx):
    item = Restored("rds", "verify-gone", DR, "awsdr-x", CREATING, CAP)
    [out] = get_kind("rds").restore_status(ctx, DR, [item])
    assert out.status == MISSING
    assert get_kind("rds").validate(ctx, item, {}) == [f"verify-gone: not found in {DR}"]


def test_restore_refuses_to_adopt_an_existing_stranger(ctx):
    point, _ = _point(ctx)
    _db(ctx, "verify-orders-db", {"app": "prod"})
    with pytest.raises(CaptureError, match="not a restore made by this product"):
        get_kind("rds").restore(ctx, point, name="verify-orders-db", tags={TAG_VERIFY_RUN: "r1"})
    with pytest.raises(CaptureError, match="not a valid"):
        get_kind("rds").restore(ctx, point, name="Bad--name", tags={})


def test_cleanup_deletes_only_restores_with_the_tag(ctx):
    point, _ = _point(ctx)
    kind = get_kind("rds")
    kind.restore(ctx, point, name="verify-a", tags={TAG_VERIFY_RUN: "r1"})
    kind.restore(ctx, point, name="verify-b", tags={TAG_VERIFY_RUN: "r2"})
    _db(ctx, "verify-c", {"Name": "verify-c"})  # look-alike without the tag
    assert kind.cleanup(ctx, PRIMARY, TAG_VERIFY_RUN, "r1") == ["verify-a"]
    assert kind.cleanup(ctx, PRIMARY, TAG_VERIFY_RUN) == ["verify-b"]
    assert kind.cleanup(ctx, PRIMARY, TAG_VERIFY_RUN) == []
    left = {
        d["DBInstanceIdentifier"] for d in ctx.client("rds", PRIMARY).describe_db_instances()["DBInstances"]
    }
    assert left == {"orders-db", "verify-c"}


# --- failover helpers ---------------------------------------------------------------------------


def test_promote_read_replica_is_idempotent_and_instance_status_is_batched(ctx):
    src = _db(ctx, "orders-db")
    dr = ctx.client("rds", DR)
    # moto 5.2 makes cross-region replicas (source given by ARN)
    dr.create_db_instance_read_replica(
        DBInstanceIdentifier="orders-db-dr",
        SourceDBInstanceIdentifier=src["DBInstanceArn"],
        SourceRegion=PRIMARY,
    )
    assert promote_read_replica(ctx, DR, "orders-db-dr") == {"promoted": True, "already": False}
    [db] = dr.describe_db_instances(DBInstanceIdentifier="orders-db-dr")["DBInstances"]
    assert TAG_PROMOTED_AT in {t["Key"] for t in db["TagList"]}
    assert promote_read_replica(ctx, DR, "orders-db-dr") == {"promoted": False, "already": True}
    # an instance that never was a replica is already writable
    assert promote_read_replica(ctx, PRIMARY, "orders-db") == {"promoted": False, "already": True}
    with pytest.raises(CaptureError, match="not found"):
        promote_read_replica(ctx, DR, "nope")

    assert instance_status(ctx, DR, ["orders-db-dr", "nope", db["DBInstanceArn"]]) == {
        "orders-db-dr": "available",
        "nope": MISSING,
        db["DBInstanceArn"]: "available",
    }
    assert instance_status(ctx, DR, []) == {}


_G = "orders-global"
_A = f"arn:aws:rds:{PRIMARY}:123456789012:cluster:orders-a"
_B = f"arn:aws:rds:{DR}:123456789012:cluster:orders-b"


def _global(writer, failover=None):
    gc = {
        "GlobalClusterIdentifier": _G,
        "Status": "available",
        "GlobalClusterMembers": [
            {"DBClusterArn": _A, "IsWriter": writer == _A},
            {"DBClusterArn": _B, "IsWriter": writer == _B},
        ],
    }
    if failover:
        gc["FailoverState"] = failover
    return {"GlobalClusters": [gc]}


def _stubbed_rds():
    client = boto3.client("rds", region_name=DR)
    return client, Stubber(client)


def test_failover_global_cluster_asks_once_with_allow_data_loss():
    """moto 5.2 has no FailoverGlobalCluster: stubbed to the API reference."""
    client, stub = _stubbed_rds()
    stub.add_response("describe_global_clusters", _global(_A), {"GlobalClusterIdentifier": _G})
    stub.add_response(
        "failover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": _G, "Status": "failing-over"}},
        {"GlobalClusterIdentifier": _G, "TargetDbClusterIdentifier": _B, "AllowDataLoss": True},
    )
    with stub:
        out = failover_global_cluster(_Ctx(None, rds=client), DR, _G, _B)
        stub.assert_no_pending_responses()
    assert out == {
        "failed_over": True,
        "already": False,
        "in_progress": True,
        "writer": _A,
        "status": "failing-over",
    }


def test_failover_global_cluster_switchover_mode():
    client, stub = _stubbed_rds()
    stub.add_response("describe_global_clusters", _global(_A))
    stub.add_response(
        "failover_global_cluster",
        {"GlobalCluster": {"Status": "switching-over"}},
        {"GlobalClusterIdentifier": _G, "TargetDbClusterIdentifier": _B, "Switchover": True},
    )
    with stub:
        out = failover_global_cluster(_Ctx(None, rds=client), DR, _G, _B, allow_data_loss=False)
    assert out["failed_over"] is True


@pytest.mark.parametrize(
    ("writer", "failover", "in_progress"),
    [(_B, None, False), (_A, {"Status": "failing-over", "FromDbClusterArn": _A, "ToDbClusterArn": _B}, True)],
)
def test_failover_global_cluster_does_not_ask_twice(writer, failover, in_progress):
    client, stub = _stubbed_rds()
    stub.add_response("describe_global_clusters", _global(writer, failover))
    with stub:
        out = failover_global_cluster(_Ctx(None, rds=client), DR, _G, _B)
        stub.assert_no_pending_responses()
    assert out["failed_over"] is False
    assert out["already"] is True
    assert out["in_progress"] is in_progress


def test_failover_global_cluster_refuses_a_non_member_and_a_missing_cluster():
    client, stub = _stubbed_rds()
    stub.add_response("describe_global_clusters", _global(_A))
    stub.add_client_error("describe_global_clusters", "GlobalClusterNotFoundFault", "no such global cluster")
    with stub:
        with pytest.raises(CaptureError, match="not a member"):
            failover_global_cluster(_Ctx(None, rds=client), DR, _G, _B + "-other")
        with pytest.raises(CaptureError, match="GlobalClusterNotFoundFault"):
            failover_global_cluster(_Ctx(None, rds=client), DR, _G, _B)


def test_failed_status_words_are_failed():
    from awsdr.kinds._rds_common import restore_state

    assert restore_state("available") == AVAILABLE
    assert restore_state("backing-up") == CREATING
    assert restore_state("incompatible-restore") == FAILED
    assert restore_state("deleting") == MISSING
    assert restore_state(None) == MISSING


def test_cleanup_counts_an_instance_already_deleting_as_done():
    """moto removes a deleted instance at once: stubbed."""
    client = boto3.client("rds", region_name=DR)
    stub = Stubber(client)
    tagged = {TAG_VERIFY_RUN: "r1"}
    page = {
        "DBInstances": [
            {"DBInstanceIdentifier": "verify-a", "DBInstanceStatus": "deleting", "TagList": _tags(tagged)},
            {"DBInstanceIdentifier": "other", "DBInstanceStatus": "available", "TagList": []},
        ]
    }
    stub.add_response("describe_db_instances", page)
    with stub:
        assert get_kind("rds").cleanup(_Ctx(None, rds=client), DR, TAG_VERIFY_RUN, "r1") == ["verify-a"]
        stub.assert_no_pending_responses()
