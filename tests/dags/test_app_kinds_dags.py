"""Container images (``ecr``) and functions (``lambda``) through the DAGs: backup -> copy ->
verify -> retention with ``dag.test()`` against the emulator.

The emulator (scripts/moto_server.py) serves the two downloads AWS hands out as presigned S3 URLs:
ECR layer blobs (moto 5.2.5 has no GetDownloadUrlForLayer) and a function's code zip (moto's
``Code.Location`` points at an unreachable host), so the kinds' real download paths run here.
moto's PutImage checks no layers (ECR does) and its Invoke does not run the function (no Docker):
the copy's own layer checks and digests are what is asserted.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY, ROOT

from awsdr.windows import TAG_COPY_OF, TAG_VERIFY_RUN

REPO = "shop/web"
FUNCTION = "orders-api"


@pytest.fixture
def apps_policy(tmp_path, monkeypatch, moto):
    text = (ROOT / "include" / "dr_policy.yaml").read_text()
    old = "types: [ebs, ec2, rds, aurora, dynamodb, s3]  # default: all six types"
    assert old in text
    text = text.replace(old, "types: [ecr, lambda]", 1)
    text = text.replace("primary: {hourly: 24, daily: 7}", "primary: {daily: 1}", 1)
    text = text.replace("dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}", "dr: {daily: 1}", 1)
    text = text[: text.index("  silver:")] + text[text.index("failover:") :]
    path = tmp_path / "apps_policy.yaml"
    path.write_text(text)
    monkeypatch.setenv("AWSDR_POLICY", str(path))
    from awsdr.policy import load_policy

    return load_policy()


@pytest.fixture
def dags(airflow_db, apps_policy):
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
def apps_estate(ctx, moto):
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    seed = Seeder(moto)
    digests = seed.repository(REPO, {"dr-plan": "gold", "app": "shop"}, images=2)
    seed.repository("not-protected", {"app": "other"}, images=1)
    seed.function(FUNCTION, {"dr-plan": "gold", "app": "orders"})
    seed.bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    seed.kms_alias(DR, "alias/awsdr")
    return ctx, digests


def _points(ctx, policy, kind, region=DR):
    from awsdr.kinds import kind_for

    return kind_for(kind, policy, "gold").list_points(ctx, region, "gold")


def _copies(ctx, policy, kind):
    return [p for p in _points(ctx, policy, kind) if TAG_COPY_OF in p.tags]


def test_images_and_functions_are_backed_up_copied_verified_and_pruned(dags, apps_estate, apps_policy):
    (ctx, digests), policy = apps_estate, apps_policy
    first = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    assert dags["backup"].test(logical_date=first).state == "success"
    primaries = {k: _points(ctx, policy, k, PRIMARY) for k in ("ecr", "lambda")}
    assert [p.source_id for p in primaries["ecr"]] == [REPO]  # the untagged repository is not protected
    assert [p.source_id for p in primaries["lambda"]] == [FUNCTION]
    assert primaries["ecr"][0].details["image_count"] == 2

    assert dags["copy"].test().state == "success"
    # every image is in the DR region by digest, layers and config uploaded there
    ecr_dr = ctx.client("ecr", DR)
    dr_images = ecr_dr.describe_images(repositoryName=REPO)["imageDetails"]
    assert sorted(i["imageDigest"] for i in dr_images) == sorted(digests)
    repo = ecr_dr.describe_repositories(repositoryNames=[REPO])["repositories"][0]
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    tags = {
        t["Key"]: t["Value"] for t in ecr_dr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    }
    assert tags["awsdr:managed"] == "true"
    [fn_copy] = _copies(ctx, policy, "lambda")
    assert fn_copy.source_id == FUNCTION
    assert fn_copy.tags[TAG_COPY_OF] == primaries["lambda"][0].point_id

    run = dags["verify"].test(run_conf={"plan": "gold"})
    from awsdr.catalog import Catalog

    catalog = Catalog(ctx, "awsdr-catalog", DR)
    results = [catalog.get_json(k) for k in catalog.list_keys("verify/latest/gold/")]
    assert run.state == "success", json.dumps([r for r in results if not r["passed"]], indent=1)[:3000]
    assert {r["kind"] for r in results} == {"ecr", "lambda"}
    assert all(r["passed"] for r in results)
    # the verification function was made in the DR region, invoked, and torn down
    lam_dr = ctx.client("lambda", DR)
    left = [
        f["FunctionName"]
        for f in lam_dr.list_functions()["Functions"]
        if TAG_VERIFY_RUN in lam_dr.list_tags(Resource=f["FunctionArn"]).get("Tags", {})
    ]
    assert left == []

    # a day later a new window; retention keeps one point per day
    second = first + timedelta(days=1)
    assert dags["backup"].test(logical_date=second).state == "success"
    assert dags["copy"].test().state == "success"
    assert {len(_copies(ctx, policy, k)) for k in ("ecr", "lambda")} == {2}
    run = dags["retention"].test(logical_date=second + timedelta(hours=1), run_conf={"dry_run": False})
    assert run.state == "success"
    for kind in ("ecr", "lambda"):
        # the first window's primary point expired; its DR copy is the newest verified one, which
        # retention keeps until a newer copy is verified (rule newest-verified)
        assert [p.window for p in _points(ctx, policy, kind, PRIMARY)] == [second], kind
        assert sorted(c.window for c in _copies(ctx, policy, kind)) == [first, second], kind
    # once the second copy is verified the first goes too
    assert dags["verify"].test(run_conf={"plan": "gold"}).state == "success"
    again = dags["retention"].test(logical_date=second + timedelta(hours=2), run_conf={"dry_run": False})
    assert again.state == "success"
    for kind in ("ecr", "lambda"):
        assert [c.window for c in _copies(ctx, policy, kind)] == [second], kind
    # the images are still named by the remaining copy: none of them was pruned from the DR repository
    assert sorted(
        i["imageDigest"] for i in ecr_dr.describe_images(repositoryName=REPO)["imageDetails"]
    ) == sorted(digests)
    audit = catalog.list_keys("audit/retention/")
    streams = {k.split("/")[3] for k in audit if k.endswith(".outcome.json")}
    assert {"ecr", "lambda"} <= streams
