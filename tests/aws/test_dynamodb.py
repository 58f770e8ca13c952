"""DynamoDB kind against the moto server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from conftest import DR, PRIMARY

from awsdr.kinds import get_kind
from awsdr.kinds.base import AVAILABLE, MISSING, CaptureError
from awsdr.kinds.dynamodb import PITR_OFF, export_status, item_json, pitr_export, table_digest
from awsdr.windows import DYNAMODB_NAME, point_name, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)


def _table(ctx, name, tags, *, pitr=True):
    ddb = ctx.client("dynamodb", PRIMARY)
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    return ddb


def _put(ddb, table, items):
    for item in items:
        ddb.put_item(TableName=table, Item=item)


def _items(n):
    return [
        {"pk": {"S": f"k{i}"}, "n": {"N": str(i)}, "tags": {"SS": ["b", "a"]}, "blob": {"B": b"\x00\x01"}}
        for i in range(n)
    ]


def _capture(ctx, kind, table, window=W):
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"}) if r.id == table]
    tags = point_tags(plan="gold", window=window, source=table, captured_at=CAP, kind="dynamodb")
    return res, kind.capture(ctx, res, "gold", window, tags)


def test_discover_selects_only_tagged_and_warns_without_pitr(ctx):
    kind = get_kind("dynamodb")
    _table(ctx, "orders", {"dr-plan": "gold", "app": "orders"})
    _table(ctx, "ledger", {"dr-plan": "gold"}, pitr=False)
    _table(ctx, "orders-silver", {"dr-plan": "silver"})
    _table(ctx, "orders-untagged", {"app": "orders"})
    _table(ctx, "orders-restore", {"dr-plan": "gold", "awsdr:verify-run": "r1"})
    found = {r.id: r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})}
    assert set(found) == {"orders", "ledger"}
    orders = found["orders"]
    assert orders.arn.endswith(":table/orders")
    assert orders.meta["pitr_enabled"] is True
    assert orders.meta["earliest_restorable"]
    assert orders.meta["latest_restorable"]
    assert orders.meta["key_schema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert orders.meta["billing_mode"] == "PAY_PER_REQUEST"
    assert "warnings" not in orders.meta
    assert found["ledger"].meta["pitr_enabled"] is False
    assert found["ledger"].meta["warnings"] == [PITR_OFF]


def test_capture_find_existing_idempotent_and_refresh(ctx):
    kind = get_kind("dynamodb")
    ddb = _table(ctx, "orders", {"dr-plan": "gold"})
    _put(ddb, "orders", _items(3))
    res, point = _capture(ctx, kind, "orders")
    assert point.source_id == "orders"
    assert point.window == W
    assert point.status == AVAILABLE
    assert point.tags["awsdr:managed"] == "true"
    assert point.details["item_count"] == 3
    assert point.details["item_count_exact"] is True
    assert point.details["digest"] == table_digest(ddb, "orders")[1]
    assert point.details["backup_arn"] == point.arn
    assert point.details["pitr_enabled"] is True
    backups = ddb.list_backups(TableName="orders")["BackupSummaries"]
    assert [b["BackupName"] for b in backups] == [point_name(DYNAMODB_NAME, "gold", "orders", W)]

    again = kind.capture(ctx, res, "gold", W, point.tags)
    assert again.point_id == point.point_id
    assert len(ddb.list_backups(TableName="orders")["BackupSummaries"]) == 1

    existing = kind.find_existing(ctx, PRIMARY, "gold", W)
    assert set(existing) == {"orders"}
    assert existing["orders"].point_id == point.point_id
    assert existing["orders"].tags["awsdr:window"] == "2026-11-24T10:00:00Z"
    assert kind.find_existing(ctx, PRIMARY, "gold", datetime(2026, 11, 24, 11, tzinfo=UTC)) == {}
    assert kind.find_existing(ctx, PRIMARY, "silver", W) == {}

    [fresh] = kind.refresh(ctx, PRIMARY, [point])
    assert fresh.status == AVAILABLE
    ddb.delete_backup(BackupArn=point.point_id)
    [gone] = kind.refresh(ctx, PRIMARY, [point])
    assert gone.status == MISSING
    assert kind.find_existing(ctx, PRIMARY, "gold", W) == {}


def test_digest_is_order_independent_and_content_sensitive(ctx):
    items = _items(5)
    a = _table(ctx, "a", {})
    _table(ctx, "b", {})
    _table(ctx, "c", {})
    _put(a, "a", items)
    _put(a, "b", list(reversed(items)))
    changed = [dict(i) for i in items]
    changed[2] = {**changed[2], "n": {"N": "99"}}
    _put(a, "c", changed)
    assert table_digest(a, "a") == table_digest(a, "b")
    assert table_digest(a, "a")[0] == table_digest(a, "c")[0] == 5
    assert table_digest(a, "a")[1] != table_digest(a, "c")[1]
    # set members are unordered in DynamoDB: the canonical form sorts them
    assert item_json({"s": {"SS": ["b", "a"]}}) == item_json({"s": {"SS": ["a", "b"]}})


def test_digest_skipped_above_limit(ctx):
    kind = get_kind("dynamodb")
    ddb = _table(ctx, "orders", {"dr-plan": "gold"})
    _put(ddb, "orders", _items(3))
    kind.digest_max_items = 2
    _, point = _capture(ctx, kind, "orders")
    assert point.details["digest"] is None
    assert "2" in point.details["digest_skipped"]


def test_capture_of_deleted_table_is_a_capture_error(ctx):
    kind = get_kind("dynamodb")
    ddb = _table(ctx, "orders", {"dr-plan": "gold"})
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    ddb.delete_table(TableName="orders")
    tags = point_tags(plan="gold", window=W, source="orders", captured_at=CAP, kind="dynamodb")
    with pytest.raises(CaptureError, match="NotFound"):
        kind.capture(ctx, res, "gold", W, tags)


def test_pitr_export_inside_window_and_refused_outside(ctx):
    ddb = _table(ctx, "orders", {"dr-plan": "gold"})
    _put(ddb, "orders", _items(2))
    ctx.client("s3", DR).create_bucket(
        Bucket="awsdr-exports", CreateBucketConfiguration={"LocationConstraint": DR}
    )
    arn = ddb.describe_table(TableName="orders")["Table"]["TableArn"]
    pitr = ddb.describe_continuous_backups(TableName="orders")["ContinuousBackupsDescription"]
    inside = pitr["PointInTimeRecoveryDescription"]["LatestRestorableDateTime"]
    export_arn = pitr_export(ctx, PRIMARY, arn, inside, "awsdr-exports", "dynamodb/orders", DR)
    assert export_arn
    status: dict[str, str] = {}
    for _ in range(50):
        status = export_status(ctx, PRIMARY, [export_arn])
        if status[export_arn] != "creating":
            break
        time.sleep(0.1)
    assert status == {export_arn: AVAILABLE}
    keys = [o["Key"] for o in ctx.client("s3", DR).list_objects_v2(Bucket="awsdr-exports")["Contents"]]
    assert keys
    assert all(k.startswith("dynamodb/orders/") for k in keys)
    with pytest.raises(CaptureError, match="outside the PITR window"):
        pitr_export(ctx, PRIMARY, arn, datetime(2020, 1, 1, tzinfo=UTC), "awsdr-exports", "x", DR)
    _table(ctx, "ledger", {}, pitr=False)
    ledger = ddb.describe_table(TableName="ledger")["Table"]["TableArn"]
    with pytest.raises(CaptureError, match=PITR_OFF):
        pitr_export(ctx, PRIMARY, ledger, inside, "awsdr-exports", "x", DR)
