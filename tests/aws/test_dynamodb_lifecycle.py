"""DynamoDB kind after capture: sidecars, export copies, listing, delete, restore, validate, cleanup.

moto gaps worked around here (each named where it is used):
- moto freezes the PITR period at the instant PITR was enabled (earliest == latest), so the copy
  tests widen it with :func:`_pitr_period` (real AWS: earliest = enable time or 35 days ago,
  latest = about 5 minutes ago).
- moto ignores ExportTableToPointInTime's ClientToken: a second call makes a second export. The
  copy's idempotency is therefore checked through the sidecar (one export in ``list_exports``).
- moto writes the export data under a random folder instead of ``AWSDynamoDB/<export id>/data/``;
  the restore finds the folder (the AWS path is tried first).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.copies import copy_tags
from awsdr.kinds import dynamodb, get_kind
from awsdr.kinds.base import (
    ABSENT,
    AVAILABLE,
    CREATING,
    DELETED,
    MISSING,
    REFUSED,
    CaptureError,
    RecoveryPoint,
    RetryLater,
)
from awsdr.kinds.dynamodb import PITR_OFF, PITR_OUTSIDE, copy_sidecar_key, sidecar_key, table_digest
from awsdr.kinds.s3 import get_doc
from awsdr.windows import DYNAMODB_NAME, TAG_COPY_OF, TAG_LEGAL_HOLD, point_name, point_tags

CATALOG = "awsdr-catalog"
W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)


def _kind(ctx):
    ctx.client("s3", DR).create_bucket(Bucket=CATALOG, CreateBucketConfiguration={"LocationConstraint": DR})
    kms = ctx.client("kms", DR)
    key = kms.create_key(Description="awsdr DR key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=key["KeyId"])
    kind = get_kind("dynamodb")
    kind.catalog_bucket, kind.catalog_region = CATALOG, DR
    return kind, key["Arn"]


def _table(ctx, name, *, pitr=True, items=3):
    ddb = ctx.client("dynamodb", PRIMARY)
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "dr-plan", "Value": "gold"}],
    )
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    for i in range(items):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}, "s": {"SS": ["b", "a"]}})
    return ddb


def _capture(ctx, kind, table, window=W):
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"}) if r.id == table]
    tags = point_tags(plan="gold", window=window, source=table, captured_at=CAP, kind="dynamodb")
    return kind.capture(ctx, res, "gold", window, tags)


def _pitr_period(monkeypatch, earliest, latest=None):
    """moto gap: its PITR period is frozen at the enable instant; give it AWS's moving shape."""
    real = dynamodb.pitr_status

    def widened(client, table):
        status = real(client, table)
        if status["pitr_enabled"]:
            status["earliest_restorable"] = earliest.isoformat()
            status["latest_restorable"] = (latest or datetime.now(UTC)).isoformat()
        return status

    monkeypatch.setattr(dynamodb, "pitr_status", widened)


def _wait(fn, until, timeout=5.0):
    deadline = time.monotonic() + timeout
    value = fn()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = fn()
    return value


def _copy(ctx, kind, point):
    made = kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(point))
    _wait(lambda: kind.list_points(ctx, DR), lambda ps: ps and all(p.status == AVAILABLE for p in ps))
    return made


def test_capture_writes_sidecar_and_list_points_joins_backups_with_it(ctx):
    kind, _ = _kind(ctx)
    ddb = _table(ctx, "orders")
    _table(ctx, "ledger")
    point = _capture(ctx, kind, "orders")
    key = sidecar_key("gold", "orders", W)
    doc, _ = get_doc(ctx.client("s3", DR), CATALOG, key)
    assert doc["point_id"] == point.point_id
    assert doc["region"] == PRIMARY
    assert doc["tags"] == point.tags
    assert doc["details"]["digest"] == point.details["digest"]
    assert point.details["tags_sidecar"] == key
    # look-alikes: a product-named backup without a sidecar, and one whose sidecar is not managed
    ddb.create_backup(TableName="ledger", BackupName=point_name(DYNAMODB_NAME, "gold", "ledger", W))
    other = _capture(ctx, kind, "orders", W + timedelta(hours=1))
    unmanaged_key = sidecar_key("gold", "orders", W + timedelta(hours=1))
    unmanaged, _ = get_doc(ctx.client("s3", DR), CATALOG, unmanaged_key)
    unmanaged["tags"]["awsdr:managed"] = "false"
    ctx.client("s3", DR).put_object(Bucket=CATALOG, Key=unmanaged_key, Body=json.dumps(unmanaged))

    listed = kind.list_points(ctx, PRIMARY)
    assert [p.point_id for p in listed] == [point.point_id]
    [p] = listed
    assert (p.status, p.source_id, p.plan, p.window) == (AVAILABLE, "orders", "gold", W)
    assert p.tags == point.tags
    assert p.details["size_bytes"] is not None
    assert p.details["digest"] == point.details["digest"]
    assert p.details["table_schema"]["key_schema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert kind.list_points(ctx, PRIMARY, plan="silver") == []
    assert kind.list_points(ctx, DR) == []
    assert other.point_id != point.point_id

    # a legal hold set on the sidecar survives a re-capture and shows in the listing
    kind.set_tags(ctx, point, {TAG_LEGAL_HOLD: "case-7"})
    again = _capture(ctx, kind, "orders")
    assert again.point_id == point.point_id
    assert again.tags[TAG_LEGAL_HOLD] == "case-7"
    assert kind.list_points(ctx, PRIMARY)[0].tags[TAG_LEGAL_HOLD] == "case-7"


def test_copy_exports_with_dr_key_tags_and_is_idempotent(ctx, monkeypatch):
    kind, key_arn = _kind(ctx)
    _table(ctx, "orders")
    point = _capture(ctx, kind, "orders")
    _pitr_period(monkeypatch, W - timedelta(hours=1))
    sent = []
    ctx.create_client("dynamodb", PRIMARY).meta.events.register(
        "provide-client-params.dynamodb.ExportTableToPointInTime",
        lambda params, **_: sent.append(dict(params)),
    )
    tags = copy_tags(point)
    made = kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=tags)
    bucket = kind.export_bucket(DR)
    assert bucket == "awsdr-catalog-ddb-ap-northeast-1"
    assert made.region == DR
    assert made.status in (CREATING, AVAILABLE)
    assert made.tags == tags
    assert made.tags[TAG_COPY_OF] == point.point_id
    assert made.tags["awsdr:window"] == "2026-11-24T10:00:00Z"
    assert made.details["bucket"] == bucket
    assert made.details["prefix"] == "exports/gold/orders/20261124t1000z"
    assert made.details["digest"] == point.details["digest"]
    assert made.details["item_count"] == 3
    assert made.details["kms_key_id"] == key_arn
    [params] = sent
    assert params["S3SseAlgorithm"] == "KMS"
    assert params["S3SseKmsKeyId"] == key_arn
    assert params["S3Bucket"] == bucket
    assert params["ExportTime"] == W
    assert params["ExportFormat"] == "DYNAMODB_JSON"
    # the export bucket: DR region, versioned, SSE-KMS with the DR key, no public access
    s3 = ctx.client("s3", DR)
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == DR
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key_arn,
    }
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    sidecar, _ = get_doc(s3, CATALOG, copy_sidecar_key(DR, "gold", "orders", W))
    assert sidecar["point_id"] == made.point_id
    assert sidecar["source_region"] == PRIMARY

    listed = _wait(lambda: kind.list_points(ctx, DR), lambda ps: ps and ps[0].status == AVAILABLE)
    assert [(p.point_id, p.status) for p in listed] == [(made.point_id, AVAILABLE)]
    assert listed[0].tags == tags
    assert [p.point_id for p in kind.list_points(ctx, PRIMARY)] == [point.point_id]
    # a copy pass lists a destination's copies alone: the same copies, and the backups are not
    assert [(p.point_id, p.status, p.tags) for p in kind.list_copies(ctx, DR)] == [
        (made.point_id, AVAILABLE, tags)
    ]
    assert kind.list_copies(ctx, PRIMARY) == []

    again = kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=tags)
    assert again.point_id == made.point_id
    assert len(sent) == 1
    table_arn = ctx.client("dynamodb", PRIMARY).describe_table(TableName="orders")["Table"]["TableArn"]
    assert len(ctx.client("dynamodb", PRIMARY).list_exports(TableArn=table_arn)["ExportSummaries"]) == 1


def test_copy_needs_pitr_and_a_window_inside_its_period(ctx, monkeypatch):
    kind, _ = _kind(ctx)
    _table(ctx, "ledger", pitr=False)
    _table(ctx, "orders")
    ledger = _capture(ctx, kind, "ledger")
    orders = _capture(ctx, kind, "orders")
    with pytest.raises(
        CaptureError, match=f"{PITR_OFF} on ledger: enable it to copy DynamoDB across regions"
    ):
        kind.copy(ctx, ledger, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(ledger))
    recent = datetime.now(UTC) - timedelta(minutes=10)
    _pitr_period(monkeypatch, recent, recent)  # the backup is newer than PITR's latest: wait
    calls: list[str] = []
    for client in (ctx.client("dynamodb", PRIMARY), ctx.client("s3", DR)):
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    with pytest.raises(RetryLater, match="newer than the latest"):
        kind.copy(ctx, orders, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(orders))
    # a copy that waits for PITR reads PITR and nothing else (no sidecar, no DescribeTable)
    assert calls == ["DescribeContinuousBackups"], calls
    calls.clear()
    later = datetime.now(UTC) + timedelta(hours=1)
    _pitr_period(monkeypatch, later, later)  # both are older than PITR's earliest: never possible
    with pytest.raises(CaptureError, match=PITR_OUTSIDE):
        kind.copy(ctx, orders, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(orders))
    assert kind.list_points(ctx, DR) == []


def test_delete_refuses_unmanaged_and_held_points_and_deletes_managed_ones(ctx, monkeypatch):
    kind, _ = _kind(ctx)
    ddb = _table(ctx, "orders")
    _table(ctx, "ledger")
    _table(ctx, "audit")
    _pitr_period(monkeypatch, W - timedelta(hours=1))
    managed = _capture(ctx, kind, "orders")
    held = _capture(ctx, kind, "ledger")
    kind.set_tags(ctx, held, {TAG_LEGAL_HOLD: "case-7"})  # `held` itself still carries the old tags
    backup = ddb.create_backup(TableName="audit", BackupName=point_name(DYNAMODB_NAME, "gold", "audit", W))
    unmanaged = RecoveryPoint(
        kind="dynamodb",
        point_id=backup["BackupDetails"]["BackupArn"],
        arn=backup["BackupDetails"]["BackupArn"],
        source_id="audit",
        region=PRIMARY,
        plan="gold",
        window=W,
        status=AVAILABLE,
        tags=dict(managed.tags, **{"awsdr:source": "audit"}),
    )
    copy = _copy(ctx, kind, managed)
    s3 = ctx.client("s3", DR)
    prefix = copy.details["prefix"] + "/"
    assert s3.list_object_versions(Bucket=copy.details["bucket"], Prefix=prefix).get("Versions")

    outcome = kind.delete(ctx, PRIMARY, [managed, held, unmanaged])
    assert outcome == {managed.point_id: DELETED, held.point_id: REFUSED, unmanaged.point_id: REFUSED}
    left = {b["BackupArn"] for b in ddb.list_backups()["BackupSummaries"]}
    assert left == {held.point_id, unmanaged.point_id}
    assert get_doc(s3, CATALOG, sidecar_key("gold", "orders", W)) == (None, None)
    assert kind.delete(ctx, PRIMARY, [managed]) == {managed.point_id: ABSENT}

    # the copy outlives its source until retention deletes it: export objects (all versions) go
    assert kind.delete(ctx, DR, [copy]) == {copy.point_id: DELETED}
    listing = s3.list_object_versions(Bucket=copy.details["bucket"], Prefix=prefix)
    assert not listing.get("Versions")
    assert not listing.get("DeleteMarkers")
    assert get_doc(s3, CATALOG, copy_sidecar_key(DR, "gold", "orders", W)) == (None, None)
    assert kind.delete(ctx, DR, [copy]) == {copy.point_id: ABSENT}
    assert kind.list_points(ctx, DR) == []


def test_sidecar_of_a_vanished_backup_lists_missing_and_is_removed_by_delete(ctx):
    kind, _ = _kind(ctx)
    ddb = _table(ctx, "orders")
    point = _capture(ctx, kind, "orders")
    ddb.delete_backup(BackupArn=point.point_id)
    [listed] = kind.list_points(ctx, PRIMARY)
    assert (listed.point_id, listed.status) == (point.point_id, MISSING)
    assert kind.delete(ctx, PRIMARY, [listed]) == {point.point_id: ABSENT}
    assert kind.list_points(ctx, PRIMARY) == []


def test_held_copy_is_refused(ctx, monkeypatch):
    kind, _ = _kind(ctx)
    _table(ctx, "orders")
    _pitr_period(monkeypatch, W - timedelta(hours=1))
    copy = _copy(ctx, kind, _capture(ctx, kind, "orders"))
    kind.set_tags(ctx, copy, {TAG_LEGAL_HOLD: "audit"})
    assert kind.delete(ctx, DR, [copy]) == {copy.point_id: REFUSED}
    assert ctx.client("s3", DR).list_objects_v2(Bucket=copy.details["bucket"])["KeyCount"] > 0
    assert kind.list_points(ctx, DR)[0].tags[TAG_LEGAL_HOLD] == "audit"


def test_restore_from_backup_validates_and_cleanup_removes_only_tagged_tables(ctx):
    kind, _ = _kind(ctx)
    _table(ctx, "orders")
    point = _capture(ctx, kind, "orders")
    tags = {"awsdr:verify-run": "r1", "awsdr:plan": "gold"}
    restored = kind.restore(ctx, point, name="awsdr-v-r1-orders", tags=tags)
    assert restored.resource_id == "awsdr-v-r1-orders"
    assert restored.region == PRIMARY
    assert restored.details["method"] == "restore_table_from_backup"
    [status] = _wait(lambda: kind.restore_status(ctx, PRIMARY, [restored]), lambda r: r[0].status != CREATING)
    assert status.status == AVAILABLE
    ddb = ctx.client("dynamodb", PRIMARY)
    arn = ddb.describe_table(TableName="awsdr-v-r1-orders")["Table"]["TableArn"]
    table_tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert table_tags == {**tags, "Name": "awsdr-v-r1-orders"}
    again = kind.restore(ctx, point, name="awsdr-v-r1-orders", tags=tags)
    assert again.resource_id == restored.resource_id
    assert again.status == AVAILABLE

    expected = {"source_meta": {}, "details": point.details}
    assert kind.validate(ctx, restored, expected) == []
    wrong = {"details": {**point.details, "item_count": 4, "digest": "0" * 64}}
    assert kind.validate(ctx, restored, wrong) == ["item count 3 != captured 4", "content digest differs"]
    ddb.delete_item(TableName="awsdr-v-r1-orders", Key={"pk": {"S": "k0"}})
    assert kind.validate(ctx, restored, expected) == ["item count 2 != captured 3", "content digest differs"]

    # look-alikes: same name shape without the tag, and another run's restore
    _table(ctx, "awsdr-v-r2-orders")
    _table(ctx, "awsdr-v-r3-orders")
    arn3 = ddb.describe_table(TableName="awsdr-v-r3-orders")["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn3, Tags=[{"Key": "awsdr:verify-run", "Value": "r3"}])
    assert kind.cleanup(ctx, PRIMARY, "awsdr:verify-run", "r1") == ["awsdr-v-r1-orders"]
    left = set(ddb.list_tables()["TableNames"])
    assert left == {"orders", "awsdr-v-r2-orders", "awsdr-v-r3-orders"}
    assert kind.cleanup(ctx, PRIMARY, "awsdr:verify-run", "r1") == []
    assert kind.cleanup(ctx, PRIMARY, "awsdr:verify-run") == ["awsdr-v-r3-orders"]
    assert kind.restore_status(ctx, PRIMARY, [restored])[0].status == MISSING


def test_restore_of_an_export_copy_imports_it_in_the_dr_region(ctx, monkeypatch):
    kind, _ = _kind(ctx)
    ddb = _table(ctx, "orders", items=5)
    ddb.put_item(
        TableName="orders", Item={"pk": {"S": "bin"}, "b": {"B": b"\x00\x01"}, "l": {"L": [{"N": "1"}]}}
    )
    point = _capture(ctx, kind, "orders")
    _pitr_period(monkeypatch, W - timedelta(hours=1))
    copy = _copy(ctx, kind, point)
    [listed] = kind.list_points(ctx, DR)
    tags = {"awsdr:verify-run": "r1"}
    restored = kind.restore(ctx, listed, name="awsdr-v-r1-orders", tags=tags)
    assert restored.region == DR
    assert restored.details["method"] == "import_table"
    assert restored.details["data_prefix"].startswith(copy.details["prefix"] + "/AWSDynamoDB/")
    assert restored.details["data_prefix"].endswith("/data/")
    [status] = _wait(lambda: kind.restore_status(ctx, DR, [restored]), lambda r: r[0].status != CREATING)
    assert status.status == AVAILABLE
    assert status.details["tags_pending"] is False
    dr = ctx.client("dynamodb", DR)
    assert table_digest(dr, "awsdr-v-r1-orders") == (6, point.details["digest"])
    assert kind.validate(ctx, restored, {"details": point.details}) == []
    arn = dr.describe_table(TableName="awsdr-v-r1-orders")["Table"]["TableArn"]
    assert {t["Key"] for t in dr.list_tags_of_resource(ResourceArn=arn)["Tags"]} == {
        "awsdr:verify-run",
        "Name",
    }
    assert kind.cleanup(ctx, DR, "awsdr:verify-run", "r1") == ["awsdr-v-r1-orders"]


def test_dr_listing_survives_an_unreachable_source_region(ctx, monkeypatch):
    """DescribeExport answers only in the table's region; in a disaster the export bucket decides."""
    from botocore.exceptions import EndpointConnectionError

    kind, _ = _kind(ctx)
    _table(ctx, "orders")
    _pitr_period(monkeypatch, W - timedelta(hours=1))
    copy = _copy(ctx, kind, _capture(ctx, kind, "orders"))

    def down(ctx, region, arns):
        raise EndpointConnectionError(endpoint_url=f"https://dynamodb.{region}.amazonaws.com")

    monkeypatch.setattr(dynamodb, "describe_exports", down)
    [listed] = kind.list_points(ctx, DR)
    assert (listed.point_id, listed.status) == (copy.point_id, CREATING)  # moto writes no manifest files
    export_id = copy.point_id.rsplit("/", 1)[-1]
    summary = f"{copy.details['prefix']}/AWSDynamoDB/{export_id}/manifest-summary.json"
    ctx.client("s3", DR).put_object(Bucket=copy.details["bucket"], Key=summary, Body=b"{}")
    [listed] = kind.list_points(ctx, DR)
    assert listed.status == AVAILABLE
    assert listed.details["status_from"] == "export bucket (source region unreachable)"
