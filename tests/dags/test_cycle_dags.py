"""backup -> copy -> verify -> retention with ``dag.test()`` against the moto server."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.windows import TAG_COPY_OF, TAG_VERIFY_RUN, window_stamp


@pytest.fixture
def dags(airflow_db):
    import dr_backup
    import dr_copy
    import dr_restore_verify
    import dr_retention

    return {
        "backup": importlib.reload(dr_backup).dr_backup_gold,
        "copy": importlib.reload(dr_copy).dr_copy_gold,
        "verify": importlib.reload(dr_restore_verify).dag,
        "retention": importlib.reload(dr_retention).dag,
    }


@pytest.fixture
def backed_up(dags, demo_estate):
    window = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    assert dags["backup"].test(logical_date=window).state == "success"
    return window


def _copies(ctx, kind, region=DR):
    from awsdr.kinds import kind_for
    from awsdr.policy import load_policy

    return [
        p
        for p in kind_for(kind, load_policy(), "gold").list_points(ctx, region, "gold")
        if TAG_COPY_OF in p.tags
    ]


def test_copy_dag_copies_every_point_once_encrypted_and_records_them(dags, demo_estate, backed_up):
    ctx = demo_estate
    run = dags["copy"].test()
    assert run.state == "success"
    from awsdr.kinds import kind_for
    from awsdr.policy import load_policy

    policy = load_policy()
    for kind in ("ebs", "ec2", "rds", "aurora", "dynamodb", "s3"):
        points = kind_for(kind, policy, "gold").list_points(ctx, PRIMARY, "gold")
        copies = _copies(ctx, kind)
        assert points, kind
        assert {c.tags[TAG_COPY_OF] for c in copies} == {p.point_id for p in points}, kind
        for c in copies:
            assert c.tags["awsdr:window"] == points[0].tags["awsdr:window"]
    ebs = ctx.client("ec2", DR).describe_snapshots(
        OwnerIds=["self"],
        Filters=[{"Name": "tag-key", "Values": [TAG_COPY_OF]}, {"Name": "tag:awsdr:kind", "Values": ["ebs"]}],
    )["Snapshots"]
    assert len(ebs) == 3
    assert all(s["Encrypted"] for s in ebs)
    assert {s.get("KmsKeyId") for s in ebs} == {"alias/awsdr"}  # moto echoes the alias; AWS returns its ARN
    import json

    body = ctx.client("s3", DR).get_object(
        Bucket="awsdr-catalog", Key=f"manifests/gold/{window_stamp(backed_up)}.json"
    )
    manifest = json.loads(body["Body"].read())
    assert {c["region"] for c in manifest["copies"]} == {DR}
    assert len(manifest["copies"]) == len(manifest["protected"])

    before = {k: len(_copies(ctx, k)) for k in ("ebs", "rds", "dynamodb")}
    assert dags["copy"].test().state == "success"
    assert {k: len(_copies(ctx, k)) for k in ("ebs", "rds", "dynamodb")} == before


def _leftovers(ctx):
    ec2 = ctx.client("ec2", DR)
    vols = ec2.describe_volumes(Filters=[{"Name": "tag-key", "Values": [TAG_VERIFY_RUN]}])["Volumes"]
    insts = [
        i
        for r in ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": [TAG_VERIFY_RUN]}])[
            "Reservations"
        ]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    rds = [
        d
        for d in ctx.client("rds", DR).describe_db_instances()["DBInstances"]
        if any(t["Key"] == TAG_VERIFY_RUN for t in d.get("TagList", []))
    ]
    tables = [t for t in ctx.client("dynamodb", DR).list_tables()["TableNames"] if t.startswith("awsdr-v")]
    return {"volumes": vols, "instances": insts, "rds": rds, "tables": tables}


def test_verify_restores_validates_tags_and_tears_down(dags, demo_estate, backed_up):
    ctx = demo_estate
    assert dags["copy"].test().state == "success"
    # a verification run that died mid-restore left these behind
    from awsdr.kinds import get_kind

    for kind in ("ebs", "rds"):
        dead = get_kind(kind).restore(
            ctx, _copies(ctx, kind)[0], name=f"awsdr-v-deadrun-{kind}", tags={TAG_VERIFY_RUN: "deadrun"}
        )
        assert dead.resource_id
    assert _leftovers(ctx)["volumes"]
    assert _leftovers(ctx)["rds"]
    run = dags["verify"].test(run_conf={"plan": "gold"})
    import json

    from awsdr.catalog import Catalog

    catalog = Catalog(ctx, "awsdr-catalog", DR)
    results = [catalog.get_json(k) for k in catalog.list_keys("verify/latest/gold/")]
    failed = [r for r in results if not r["passed"]]
    assert run.state == "success", json.dumps(failed, indent=1)[:3000]
    assert {r["kind"] for r in results} == {"ebs", "ec2", "rds", "aurora", "dynamodb", "s3"}
    assert all(r["seconds"] is not None and r["rto_seconds"] == 1800 for r in results)
    ebs_copies = _copies(ctx, "ebs")
    assert all("awsdr:verified-at" in c.tags for c in ebs_copies)
    assert _leftovers(ctx) == {"volumes": [], "instances": [], "rds": [], "tables": []}


def test_missing_copy_fails_that_resource_and_teardown_still_cleans(dags, demo_estate, backed_up):
    ctx = demo_estate
    assert dags["copy"].test().state == "success"
    victim = _copies(ctx, "ebs")[0]
    ctx.client("ec2", DR).delete_snapshot(SnapshotId=victim.point_id)
    run = dags["verify"].test(run_conf={"plan": "gold"})
    assert run.state == "failed"
    from awsdr.catalog import Catalog

    catalog = Catalog(ctx, "awsdr-catalog", DR)
    result = catalog.get_json(f"verify/latest/gold/ebs/{victim.source_id}.json")
    assert result["passed"] is False
    assert "no complete DR copy" in result["reason"]
    others = [catalog.get_json(k) for k in catalog.list_keys("verify/latest/gold/rds/")]
    assert all(r["passed"] for r in others)
    assert _leftovers(ctx) == {"volumes": [], "instances": [], "rds": [], "tables": []}


def test_retention_form_dry_run_deletes_nothing(dags, demo_estate, backed_up):
    ctx = demo_estate
    assert dags["copy"].test().state == "success"
    before = _copies(ctx, "ebs")
    run = dags["retention"].test(run_conf={"plan": "gold", "dry_run": True})
    assert run.state == "success"
    assert {c.point_id for c in _copies(ctx, "ebs")} == {c.point_id for c in before}
