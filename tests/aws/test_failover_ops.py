"""The failover operators' cores against moto: readiness, Route 53, compute, data, verify, teardown."""

from __future__ import annotations

import http.server
import threading
from datetime import timedelta

import pytest
from conftest import DR, PRIMARY
from failover_support import make_dr_copies, widen_pitr

from awsdr.aws import compute, route53
from awsdr.operators import failover as ops
from awsdr.planning import failover as fp
from awsdr.policy import load_policy


@pytest.fixture
def policy():
    return load_policy()


@pytest.fixture
def standbys(ctx, moto):
    """Only the failover part of the demo estate (quicker than the whole of it)."""
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    seeder = Seeder(moto)
    seeder.zone("example.com.")
    seeder.health_check("awsdr-demo-app-dr", f"app.{DR}.example.com")
    seeder.standby_asg("web", DR)
    seeder.standby_service("app", "api", DR, desired=1)
    seeder.instance("orders-web-0", {"dr-plan": "gold"})
    return ctx


def _plan(policy, strategy="pilot-light", *, facts=None, drill=False, direction=fp.FAILOVER, run_id="run-1"):
    return fp.plan_runbook(
        policy.failover,
        strategy=strategy,
        primary_region=policy.primary_region,
        dr_regions=policy.dr_regions,
        target_region=DR,
        direction=direction,
        drill=drill,
        run_id=run_id,
        facts=facts,
        kms_key="alias/awsdr",
    )


def _phase(steps, phase):
    return [s for s in steps if s.phase == phase]


def _rounds(call, n=40):
    """Round after round of a phase (the operator defers between them) until nothing waits.

    The first outcome that is not ``waiting`` is a step's (as the operator keeps it).
    """
    memo: dict = {}
    kept: dict = {}
    for _ in range(n):
        results = call(memo)
        for r in results:
            if r["outcome"] != ops.WAITING:
                kept.setdefault(r["id"], r)
        if not any(r["outcome"] == ops.WAITING for r in results):
            return [kept[r["id"]] for r in results]
    raise AssertionError(f"still waiting after {n} rounds: {results}")


def _not_fences(results):
    return [r for r in results if r["action"] not in (fp.FENCE_PRIMARY, fp.FENCE_BUCKET)]


# --- Route 53 -------------------------------------------------------------------------------------


def test_route53_upsert_is_idempotent_weighted_and_deletes_exactly(standbys):
    ctx = standbys
    zone_id = route53.find_zone(ctx, "example.com")
    assert zone_id is not None
    assert route53.find_zone(ctx, "example.org") is None
    simple = [route53.RecordSpec("app.example.com", "CNAME", 60, "app.ap-northeast-1.example.com")]
    ids, changed, already = route53.upsert_records(ctx, zone_id, simple, comment="t")
    assert (len(ids), changed, already) == (1, simple, [])
    assert route53.pending_changes(ctx, ids) == []
    again = route53.upsert_records(ctx, zone_id, simple, comment="t")
    assert again == ([], [], simple), "a record already right is not sent again"

    weighted = [
        route53.RecordSpec("w.example.com.", "A", 30, "10.0.0.1", set_identifier=PRIMARY, weight=0),
        route53.RecordSpec("w.example.com.", "A", 30, "10.1.0.1", set_identifier=DR, weight=100),
    ]
    ids, changed, _ = route53.upsert_records(ctx, zone_id, weighted, comment="t")
    assert len(ids) == 1
    assert len(changed) == 2
    live = route53.find_records(ctx, zone_id, ["w.example.com"])
    assert {s["SetIdentifier"]: s["Weight"] for s in live[("w.example.com.", "A")]} == {PRIMARY: 0, DR: 100}
    assert route53.delete_records(ctx, zone_id, ["w.example.com."], comment="t")
    assert route53.find_records(ctx, zone_id, ["w.example.com."]) == {}
    assert route53.delete_records(ctx, zone_id, ["w.example.com."], comment="t") == []


def test_route53_health_checks_by_name_and_status(standbys):
    ctx = standbys
    found = route53.find_health_checks(ctx, ["awsdr-demo-app-dr", "nope"])
    assert set(found) == {"awsdr-demo-app-dr"}
    status, detail = route53.health_check_status(ctx, found["awsdr-demo-app-dr"])
    assert status in (route53.HEALTHY, route53.UNKNOWN), detail


# --- compute ------------------------------------------------------------------------------------


def test_asg_and_ecs_scale_once_and_drill_copies_go_away(standbys):
    ctx = standbys
    size = {"min": 2, "desired": 2, "max": 4}
    assert compute.scale_asg(ctx, DR, "web", size) == compute.SCALED
    assert compute.scale_asg(ctx, DR, "web", size) == compute.ALREADY
    compute.poll(lambda: compute.asgs_not_ready(ctx, DR, {"web": 2}), what="t")
    with pytest.raises(compute.ComputeError, match="not found"):
        compute.scale_asg(ctx, DR, "nope", size)
    assert compute.scale_ecs(ctx, DR, "app", "api", 3) == compute.SCALED
    assert compute.scale_ecs(ctx, DR, "app", "api", 3) == compute.ALREADY
    assert compute.services_not_ready(ctx, DR, "app", {"api": 3}) == []

    tags = {"awsdr:drill": "run-1"}
    assert compute.clone_asg(ctx, DR, "web", "web-drill", size, tags) == compute.CREATED
    assert compute.clone_asg(ctx, DR, "web", "web-drill", size, tags) == compute.ALREADY
    assert compute.clone_service(ctx, DR, "app", "api", "api-drill", 2, tags) == compute.CREATED
    assert compute.clone_service(ctx, DR, "app", "api", "api-drill", 2, tags) == compute.ALREADY
    assert compute.services_not_ready(ctx, DR, "app", {"api-drill": 2}) == []
    assert compute.delete_asgs_tagged(ctx, DR, "awsdr:drill", "run-1") == ["web-drill"]
    assert compute.delete_services_tagged(ctx, DR, ["app"], "awsdr:drill", "run-1") == ["app/api-drill"]
    assert compute.delete_services_tagged(ctx, DR, ["app"], "awsdr:drill", "run-1") == []
    assert set(compute.describe_asgs(ctx, DR, ["web", "web-drill"])) == {"web"}


def test_launch_from_image_is_counted_not_repeated(standbys):
    ctx = standbys
    image = ctx.client("ec2", DR).describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*x86_64-gp2"]}]
    )["Images"][0]["ImageId"]
    args = {
        "image_id": image,
        "instance_type": "t3.micro",
        "key": "failover/x/web",
        "name": "web-dr",
        "tags": {},
    }
    outcome, ids = compute.launch_from_image(ctx, DR, count=2, **args)
    assert outcome == compute.LAUNCHED
    assert len(ids) == 2
    again, same = compute.launch_from_image(ctx, DR, count=2, **args)
    assert (again, sorted(same)) == (compute.ALREADY, sorted(ids))
    assert compute.instances_not_running(ctx, DR, ids) == []
    assert sorted(compute.terminate_tagged(ctx, DR, compute.TAG_LAUNCH_KEY, "failover/x/web")) == sorted(ids)
    assert compute.terminate_tagged(ctx, DR, compute.TAG_LAUNCH_KEY, "failover/x/web") == []
    web0 = compute.resolve_instance(ctx, PRIMARY, "orders-web-0")
    assert web0 is not None
    assert web0.startswith("i-")
    assert compute.resolve_instance(ctx, PRIMARY, "no-such-name") is None


# --- readiness ------------------------------------------------------------------------------------


def test_readiness_lists_every_problem(demo_estate, policy):
    ctx = demo_estate
    ctx.client("autoscaling", DR).delete_auto_scaling_group(AutoScalingGroupName="web", ForceDelete=True)
    r53 = ctx.client("route53", "us-east-1")
    hc = route53.find_health_checks(ctx, ["awsdr-demo-app-dr"])["awsdr-demo-app-dr"]
    r53.delete_health_check(HealthCheckId=hc)
    report = ops.check_readiness(
        ctx, policy, strategy="pilot-light", target_region=DR, direction="failover", drill=False
    )
    problems = "\n".join(report["problems"])
    # no DR copies were made: both restores are blocked; the ASG and the health check are gone
    assert "aurora/ledger: no available DR copy" in problems
    assert "dynamodb/orders: no available DR copy" in problems
    assert "Auto Scaling group web not found" in problems
    assert "'awsdr-demo-app-dr' not found" in problems
    assert len(report["problems"]) == 4, report["problems"]
    facts = report["facts"]
    assert facts["databases"]["rds/orders-db"]["replica_status"] == "available"
    assert facts["compute"]["ecs/app/api@ap-northeast-1"] == {"desired": 1}
    assert facts["dns"]["zone_id"]


def test_readiness_rpo_and_verification(demo_estate, policy, monkeypatch):
    ctx = demo_estate
    widen_pitr(monkeypatch)
    make_dr_copies(ctx, ("aurora", "dynamodb"), verified=False)
    args = {"strategy": "pilot-light", "target_region": DR, "direction": "failover"}
    fresh = ops.check_readiness(ctx, policy, drill=False, **args)
    assert fresh["problems"] == []
    unverified = [w for w in fresh["warnings"] if "restore-verified" in w]
    assert len(unverified) == 2, fresh["warnings"]  # never restore-verified: a warning
    # (and the DR bucket of failover.buckets does not exist yet: no S3 copy in this test)
    assert [w for w in fresh["warnings"] if w not in unverified] == [
        w for w in fresh["warnings"] if "applications have nowhere to write" in w
    ]
    stale = ops.check_readiness(ctx, policy, drill=False, now=ops.now_utc() + timedelta(hours=3), **args)
    assert len(stale["problems"]) == 2
    assert all("beyond the RPO of 1.0h (plan gold)" in p for p in stale["problems"])
    # a drill restores every database from its copies, the replicated one too (never the replica)
    drill = ops.check_readiness(ctx, policy, drill=True, **args)
    assert drill["problems"] == ["rds/orders-db: no available DR copy in ap-northeast-1 to restore from"]


# --- data, traffic, verify, teardown -------------------------------------------------------------


def test_data_layer_promotes_once_and_restores_once(demo_estate, policy, monkeypatch):
    ctx = demo_estate
    widen_pitr(monkeypatch)
    make_dr_copies(ctx, ("aurora", "dynamodb"))
    report = ops.check_readiness(
        ctx, policy, strategy="pilot-light", target_region=DR, direction="failover", drill=False
    )
    assert report["problems"] == []
    steps = _phase(_plan(policy, facts=report["facts"]), "data")
    window = ops.now_utc()
    first = _rounds(lambda m: ops.run_data_steps(ctx, policy, steps, window=window, run_id="r1", memo=m))
    fences = {r["target"]: r for r in first if r["action"] == fp.FENCE_PRIMARY}
    assert fences["dynamodb/orders"]["fenced"] is True  # a reachable primary is fenced
    assert fences["aurora/ledger"]["fenced"] is True
    first = _not_fences(first)
    assert {r["target"]: r["outcome"] for r in first} == {
        "rds/orders-db": "done",
        "aurora/ledger": "done",
        "dynamodb/orders": "done",
    }
    assert (
        "point-in-time recovery enabled"
        in next(r for r in first if r["target"] == "dynamodb/orders")["detail"]
    )
    second = _rounds(lambda m: ops.run_data_steps(ctx, policy, steps, window=window, run_id="r2", memo=m))
    assert {r["outcome"] for r in _not_fences(second)} == {"already"}
    ledger = ctx.client("rds", DR).describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in ledger["TagList"]}["awsdr:failover-of"] == "aurora/ledger"


def test_a_failed_data_step_is_reported_and_the_others_go_on(demo_estate, policy):
    ctx = demo_estate
    steps = _phase(_plan(policy), "data")  # no facts: no DR copy to restore from
    results = _rounds(
        lambda m: ops.run_data_steps(ctx, policy, steps, window=ops.now_utc(), run_id="r", memo=m)
    )
    results = _not_fences(results)
    outcomes = {r["target"]: r["outcome"] for r in results}
    assert outcomes == {"rds/orders-db": "done", "aurora/ledger": "failed", "dynamodb/orders": "failed"}
    assert all(r["retryable"] is False for r in results if r["outcome"] == "failed")


def test_traffic_then_verify_then_unknown_health(standbys, policy, monkeypatch):
    ctx = standbys
    steps = _plan(policy, facts={"health_checks": {}})
    traffic = [s for s in _phase(steps, "traffic") if s.action != fp.MOVE_DB_RECORD]
    first = _rounds(lambda m: ops.run_traffic_steps(ctx, traffic, run_id="r", memo=m))
    assert [r["outcome"] for r in first] == ["done", "done"]
    again = _rounds(lambda m: ops.run_traffic_steps(ctx, traffic, run_id="r", memo=m))
    assert [r["outcome"] for r in again] == ["already", "done"]
    results, healthy_at = ops.run_verify_steps(ctx, policy.failover, _phase(steps, "verify"), final=True)
    assert healthy_at is not None
    assert [r["outcome"] for r in results] in (["done"], ["unknown"])

    monkeypatch.setattr(route53, "health_check_status", lambda ctx, hc: (route53.UNKNOWN, "no checker data"))
    waiting, _ = ops.run_verify_steps(ctx, policy.failover, _phase(steps, "verify"), final=False)
    assert [r["outcome"] for r in waiting] == ["waiting"], "not the last round: checked again later"
    results, healthy_at = ops.run_verify_steps(ctx, policy.failover, _phase(steps, "verify"), final=True)
    assert [r["outcome"] for r in results] == ["unknown"]
    assert healthy_at is not None, "unknown is recorded, not fatal, with verify.unknown: warn"
    strict = [
        fp.Step.from_dict({**s.to_dict(), "params": {**s.params, "unknown": "fail"}})
        for s in _phase(steps, "verify")
    ]
    results, healthy_at = ops.run_verify_steps(ctx, policy.failover, strict, final=True)
    assert [r["outcome"] for r in results] == ["failed"]
    assert healthy_at is None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_health_checks():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert ops.http_health(f"{base}/health", 2)[0] == route53.HEALTHY
        status, detail = ops.http_health(f"{base}/down", 2)
        assert (status, detail.endswith("HTTP 503")) == (route53.UNHEALTHY, True)
        assert ops.http_health("http://127.0.0.1:9/", 1)[0] == route53.UNHEALTHY
    finally:
        server.shutdown()


def test_drill_compute_and_teardown_leave_nothing(demo_estate, policy, monkeypatch):
    ctx = demo_estate
    widen_pitr(monkeypatch)
    make_dr_copies(ctx, ("rds", "aurora", "dynamodb"))
    report = ops.check_readiness(
        ctx, policy, strategy="pilot-light", target_region=DR, direction="failover", drill=True
    )
    steps = _plan(policy, facts=report["facts"], drill=True)
    data = _rounds(
        lambda m: ops.run_data_steps(
            ctx, policy, _phase(steps, "data"), window=ops.now_utc(), run_id="run-1", memo=m
        )
    )
    assert {r["outcome"] for r in data if r["action"] != fp.SWEEP_DRILLS} == {"done"}
    made = _rounds(lambda m: ops.run_compute_steps(ctx, policy, _phase(steps, "compute")))
    assert {r["outcome"] for r in made} == {"done"}
    traffic = _rounds(lambda m: ops.run_traffic_steps(ctx, _phase(steps, "traffic"), run_id="run-1", memo=m))
    assert traffic[0]["outcome"] == "done"
    assert compute.describe_asgs(ctx, DR, ["web"])["web"]["DesiredCapacity"] == 0, "the standby is untouched"
    gone = ops.run_teardown_steps(ctx, policy, _phase(steps, "teardown"))
    assert {r["outcome"] for r in gone} == {"done"}
    again = ops.run_teardown_steps(ctx, policy, _phase(steps, "teardown"))
    assert {r["outcome"] for r in again} == {"already"}
    rds = ctx.client("rds", DR)
    assert not [
        d for d in rds.describe_db_instances()["DBInstances"] if d["DBInstanceIdentifier"].endswith("-drill")
    ]
    assert "orders-drill" not in ctx.client("dynamodb", DR).list_tables()["TableNames"]
    assert route53.find_records(ctx, route53.find_zone(ctx, "example.com"), ["app.drill.example.com."]) == {}
