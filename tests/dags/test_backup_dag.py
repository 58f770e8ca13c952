"""dr_backup_<plan> end to end in-process (``dag.test()``) against the moto server."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.windows import format_window, window_stamp

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def backup_dags(airflow_db):
    import dr_backup

    return importlib.reload(dr_backup)


def _points(ctx, plan):
    snaps = ctx.client("ec2", PRIMARY).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag:awsdr:plan", "Values": [plan]}]
    )["Snapshots"]
    images = ctx.client("ec2", PRIMARY).describe_images(
        Owners=["self"], Filters=[{"Name": "tag:awsdr:plan", "Values": [plan]}]
    )["Images"]
    return snaps, images


def _manifest(ctx, plan, stamp):
    body = ctx.client("s3", DR).get_object(Bucket="awsdr-catalog", Key=f"manifests/{plan}/{stamp}.json")[
        "Body"
    ]
    return json.loads(body.read())


def test_gold_window_protects_every_selected_resource_once(backup_dags, demo_estate):
    ctx = demo_estate
    dag = backup_dags.dr_backup_gold
    # a window just after the estate was seeded (S3 manifests are as of the window)
    window = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    run = dag.test(logical_date=window)
    assert run.state == "success"
    manifest = _manifest(ctx, "gold", window_stamp(window))
    kinds = sorted({p["kind"] for p in manifest["protected"]})
    assert kinds == ["aurora", "dynamodb", "ebs", "ec2", "rds", "s3"]
    assert manifest["failed"] == []
    by_kind = {}
    for p in manifest["protected"]:
        by_kind.setdefault(p["kind"], []).append(p)
        assert p["tags"]["awsdr:window"] == format_window(window)
        assert p["tags"]["awsdr:managed"] == "true"
    assert len(by_kind["ebs"]) == 3
    assert len(by_kind["ec2"]) == 2
    assert [p["source"] for p in by_kind["rds"]] == ["orders-db"]
    assert [p["source"] for p in by_kind["aurora"]] == ["ledger"]
    assert by_kind["dynamodb"][0]["details"]["item_count"] == 50
    assert by_kind["s3"][0]["details"]["object_count"] == 12

    snaps_before, images_before = _points(ctx, "gold")
    again = dag.test(logical_date=window)  # a re-run of the same window
    assert again.state == "success"
    snaps_after, images_after = _points(ctx, "gold")
    assert {s["SnapshotId"] for s in snaps_after} == {s["SnapshotId"] for s in snaps_before}
    assert {i["ImageId"] for i in images_after} == {i["ImageId"] for i in images_before}
    rds_snaps = ctx.client("rds", PRIMARY).describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert len([s for s in rds_snaps if s["DBInstanceIdentifier"] == "orders-db"]) == 1


def test_old_window_backfill_is_tagged_with_its_window(backup_dags, demo_estate):
    ctx = demo_estate
    old = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    run = backup_dags.dr_backup_silver.test(logical_date=old)
    assert run.state == "success"
    manifest = _manifest(ctx, "silver", "20261110t0000z")
    assert manifest["window"] == "2026-11-10T00:00:00Z"
    ebs = [p for p in manifest["protected"] if p["kind"] == "ebs"]
    assert len(ebs) == 2
    for p in ebs:
        assert p["tags"]["awsdr:window"] == "2026-11-10T00:00:00Z"
        assert p["late"] is True
        assert p["tags"]["awsdr:late"] == "true"
        assert p["tags"]["awsdr:captured-at"] > "2026-11-10T00:15:00Z"
    assert not any(p["source"] == "orders-db" for p in manifest["protected"]), (
        "gold resources are not silver's"
    )


def test_failure_of_one_resource_fails_run_naming_it(backup_dags, demo_estate):
    ctx = demo_estate
    ctx.client("rds", PRIMARY).stop_db_instance(DBInstanceIdentifier="reports-db")
    ctx.client("rds", PRIMARY).delete_db_instance(DBInstanceIdentifier="reports-db", SkipFinalSnapshot=True)
    ctx.client("dynamodb", PRIMARY).tag_resource(
        ResourceArn=ctx.client("dynamodb", PRIMARY).describe_table(TableName="report-runs")["Table"][
            "TableArn"
        ],
        Tags=[{"Key": "dr-plan", "Value": "silver"}],
    )
    run = backup_dags.dr_backup_silver.test(logical_date=W)
    manifest = _manifest(ctx, "silver", "20261124t1000z")
    # the deleted DB simply is no longer selected; everything else is protected
    assert {p["kind"] for p in manifest["protected"]} == {"ebs", "dynamodb", "s3"}
    assert run.state == "success"


def test_bad_trigger_params_fail_before_any_aws_call(backup_dags, demo_estate, moto):
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto}/moto-api/recorder/reset-recording", method="POST")
    ).read()
    urllib.request.urlopen(
        urllib.request.Request(f"{moto}/moto-api/recorder/start-recording", method="POST")
    ).read()
    try:
        run = backup_dags.dr_backup_gold.test(logical_date=W, run_conf={"resources": ["vol-1 bad id"]})
    finally:
        urllib.request.urlopen(
            urllib.request.Request(f"{moto}/moto-api/recorder/stop-recording", method="POST")
        ).read()
    assert run.state == "failed"
    log = urllib.request.urlopen(f"{moto}/moto-api/recorder/download-recording").read().decode()
    assert log.strip() == "", f"AWS was called: {log[:500]}"
