"""Lambda functions in the runbook (issue 16 item 3): ``failover.functions`` are re-created in the
DR region from their newest DR copy (the ``lambda`` type's) under their own names in the compute
phase of backup & restore and pilot light, with the policy's environment values; a drill makes
``<name>-drill`` and its teardown deletes it. moto's Lambda runs no code (no Docker); the
emulator serves the function's zip at its Code.Location (scripts/moto_server.py)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY, ROOT

from awsdr.copies import copy_tags
from awsdr.failover import handlers
from awsdr.failover.steps import run_compute_steps, run_teardown_steps
from awsdr.kinds import kind_for
from awsdr.planning import failover as fp
from awsdr.policy import PolicyError, parse_policy
from awsdr.windows import TAG_DRILL, point_tags

FUNCTIONS = """
  functions:
    - name: orders-api
      environment: {STAGE: dr, TABLE: orders}
"""


def _text(types: str = "[ebs, ec2, rds, aurora, dynamodb, s3, lambda]", functions: str = FUNCTIONS) -> str:
    text = (ROOT / "include" / "dr_policy.yaml").read_text()
    text = text.replace(
        "types: [ebs, ec2, rds, aurora, dynamodb, s3]  # default: all six types", f"types: {types}", 1
    )
    at = text.index("\nfailover:")
    end = text.index("\n", at + 1) + 1
    return text[:end] + functions.lstrip("\n") + text[end:]


@pytest.fixture
def policy():
    return parse_policy(_text(), str(ROOT / "include" / "dr_policy.yaml"))


def _plan(policy, strategy, *, drill=False, run_id="manual__f1"):
    return fp.plan_runbook(
        policy.failover,
        strategy=strategy,
        primary_region=PRIMARY,
        dr_regions=policy.dr_regions,
        target_region=DR,
        drill=drill,
        run_id=run_id,
        facts={},
    )


def test_the_policy_names_functions_a_plan_protects():
    policy = parse_policy(_text(), "p.yaml")
    [fn] = policy.failover.functions
    assert (fn.name, fn.region, fn.environment) == ("orders-api", DR, {"STAGE": "dr", "TABLE": "orders"})
    with pytest.raises(PolicyError, match=r"failover\.functions\[0\].*no plan selects type lambda"):
        parse_policy(_text(types="[ebs, s3]"), "p.yaml")
    with pytest.raises(
        PolicyError, match=r"failover\.functions\[0\]\.environment\.1X.*invalid variable name"
    ):
        parse_policy(_text(functions="  functions: [{name: orders-api, environment: {1X: a}}]\n"), "p.yaml")
    with pytest.raises(PolicyError, match=r"failover\.functions\[0\]\.environment\.N.*quote"):
        parse_policy(_text(functions="  functions: [{name: orders-api, environment: {N: 3}}]\n"), "p.yaml")


def test_functions_are_planned_in_compute_for_backup_restore_and_pilot_light_only(policy):
    for strategy in ("backup-restore", "pilot-light"):
        [step] = [s for s in _plan(policy, strategy) if s.action == fp.RESTORE_FUNCTION]
        assert step.phase == fp.COMPUTE
        assert step.params["name"] == "orders-api"
        assert step.params["environment"] == {"STAGE": "dr", "TABLE": "orders"}
    for strategy in ("warm-standby", "active-active"):  # deployed there already
        assert not [s for s in _plan(policy, strategy) if s.action == fp.RESTORE_FUNCTION]
    drill = _plan(policy, "pilot-light", drill=True)
    step = next(s for s in drill if s.action == fp.RESTORE_FUNCTION)
    assert step.params["name"] == "orders-api-drill"
    assert step.params["tags"][TAG_DRILL] == "manual__f1"
    teardown = [s for s in drill if s.phase == fp.TEARDOWN and s.action == fp.CLEANUP_RESTORES]
    assert any(s.params["kind"] == "lambda" for s in teardown)
    sweep = next(s for s in drill if s.action == fp.SWEEP_DRILLS)
    assert "lambda" in sweep.params["kinds"]


@pytest.fixture
def copied(ctx, moto, policy):
    """orders-api in the primary region, captured and copied to DR (the lambda type's point)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    seed = Seeder(moto)
    seed.bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    seed.kms_alias(DR, "alias/awsdr")
    # its environment in the primary region; the points record the names only
    seed.function("orders-api", {"dr-plan": "gold"}, environment={"STAGE": "prod", "TABLE": "orders"})
    kind = kind_for("lambda", policy, "gold")
    [res] = kind.discover(ctx, PRIMARY, {"dr-plan": "gold"})
    window = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    tags = point_tags(plan="gold", window=window, source="orders-api", captured_at=window, kind="lambda")
    point = kind.capture(ctx, res, "gold", window, tags)
    return kind.copy(ctx, point, dest_region=DR, kms_key_id="alias/awsdr", tags=copy_tags(point))


def _functions(ctx):
    lam = ctx.client("lambda", DR)
    return {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}


def test_failover_recreates_the_function_under_its_own_name_once(ctx, policy, copied):
    steps = [s for s in _plan(policy, "backup-restore") if s.action == fp.RESTORE_FUNCTION]
    memo: dict = {}
    results = run_compute_steps(ctx, policy, steps, memo=memo, run_id="manual__f1")
    [result] = results
    assert result["outcome"] == "done", result
    assert copied.point_id in result["detail"]
    fn = _functions(ctx)["orders-api"]
    assert fn["Runtime"] == "python3.12"
    assert fn["Environment"]["Variables"] == {"STAGE": "dr", "TABLE": "orders"}
    lam = ctx.client("lambda", DR)
    tags = lam.list_tags(Resource=fn["FunctionArn"])["Tags"]
    assert tags["awsdr:managed"] == "true"
    assert tags["awsdr:function-of"] == "orders-api"
    # a re-triggered failover (fresh memo) finds it there and keeps it as it is
    [again] = run_compute_steps(ctx, policy, steps, memo={}, run_id="manual__f2")
    assert again["outcome"] == "already", again
    assert list(_functions(ctx)) == ["orders-api"]


def test_no_dr_copy_fails_the_step_and_says_why(ctx, moto, policy):
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    Seeder(moto).bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    steps = [s for s in _plan(policy, "backup-restore") if s.action == fp.RESTORE_FUNCTION]
    run = handlers.Run(ctx=ctx, policy=policy, run_id="manual__f3")
    with pytest.raises(Exception, match="no DR copy of function orders-api"):
        handlers.HANDLERS[fp.RESTORE_FUNCTION](run, steps[0], {})


def test_a_drill_function_is_made_and_its_teardown_deletes_only_it(ctx, policy, copied):
    lam = ctx.client("lambda", DR)
    drill = _plan(policy, "pilot-light", drill=True, run_id="manual__d1")
    steps = [s for s in drill if s.action == fp.RESTORE_FUNCTION]
    [result] = run_compute_steps(ctx, policy, steps, memo={}, run_id="manual__d1")
    assert result["outcome"] == "done", result
    assert set(_functions(ctx)) == {"orders-api-drill"}
    # a function the team runs in DR themselves is no drill's
    role = _functions(ctx)["orders-api-drill"]["Role"]
    lam.create_function(
        FunctionName="orders-api-own",
        Runtime="python3.12",
        Role=role,
        Handler="h.h",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )
    teardown = [
        s
        for s in drill
        if s.phase == fp.TEARDOWN and s.action == fp.CLEANUP_RESTORES and s.params["kind"] == "lambda"
    ]
    run_teardown_steps(ctx, policy, teardown)
    assert set(_functions(ctx)) == {"orders-api-own"}


def _readiness(ctx, policy, strategy="backup-restore"):
    from awsdr.failover.readiness import check_readiness

    out = check_readiness(
        ctx, policy, strategy=strategy, target_region=DR, direction=fp.FAILOVER, drill=False
    )
    return [p for p in out["problems"] + out["warnings"] if p.startswith("lambda/")], out["checks"]


def test_readiness_wants_a_dr_copy_of_every_function(ctx, moto, policy):
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    Seeder(moto).bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    found, _ = _readiness(ctx, policy)
    assert found == [f"lambda/orders-api: no available DR copy in {DR} to restore from"]
    assert _readiness(ctx, policy, "warm-standby")[0] == []  # deployed there already: not checked


def test_readiness_passes_a_function_with_a_fresh_copy(ctx, policy, copied):
    found, checks = _readiness(ctx, policy)
    # the copy is fresh; it was never verified, which readiness reports as for every kind
    assert [p for p in found if "no available DR copy" in p or "beyond the RPO" in p] == []
    assert f"1 function(s) with a DR copy in {DR}" in checks
