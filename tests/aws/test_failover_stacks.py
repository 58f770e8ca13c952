"""CloudFormation stacks in the runbook (issue 16 item 4): planned first in the compute phase of
backup & restore and pilot light, deployed (created or updated) and waited for in rounds, the
other compute steps held until every stack is complete, drill stacks deleted by the teardown and
the next drill's sweep, templates validated by readiness. moto runs CloudFormation stacks."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import DR, PRIMARY, ROOT

from awsdr.aws.compute import StillWaiting
from awsdr.failover import handlers, stacks
from awsdr.failover.readiness import check_readiness
from awsdr.failover.steps import run_compute_steps, run_teardown_steps
from awsdr.planning import failover as fp
from awsdr.policy import parse_policy
from awsdr.windows import TAG_DRILL

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Env": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Env"}}}},
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
}


@pytest.fixture
def policy():
    """The demo policy with the example stack of include/stacks/dr-app.yaml (as its comment shows)."""
    text = (ROOT / "include" / "dr_policy.yaml").read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  # stacks:"))
    example = "\n".join(line.replace("  # ", "  ", 1) for line in lines[at : at + 4])
    assert "stacks/dr-app.yaml" in example
    text = text.replace("\n".join(lines[at : at + 4]), example.replace("awsdr-demo-app", "app-dr"), 1)
    base = parse_policy(text, str(ROOT / "include" / "dr_policy.yaml"))
    stack = base.failover.stacks[0]
    assert stack.template_path == str(ROOT / "include" / "stacks" / "dr-app.yaml")
    return dataclasses.replace(base, failover=dataclasses.replace(base.failover, stacks=(stack,)))


def _plan(policy, strategy, *, drill=False, run_id="manual__s1"):
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


def test_stacks_come_first_in_compute_for_backup_restore_and_pilot_light_only(policy):
    for strategy in ("backup-restore", "pilot-light"):
        compute = [s for s in _plan(policy, strategy) if s.phase == fp.COMPUTE]
        assert compute[0].action == fp.DEPLOY_STACK
        assert compute[0].params["name"] == "app-dr"
        assert compute[0].params["parameters"] == {"Env": "dr"}
    for strategy in ("warm-standby", "active-active"):
        assert not [s for s in _plan(policy, strategy) if s.action == fp.DEPLOY_STACK]
    drill = _plan(policy, "pilot-light", drill=True)
    deploy = next(s for s in drill if s.action == fp.DEPLOY_STACK)
    assert deploy.params["name"] == "app-dr-drill"
    assert deploy.params["tags"][TAG_DRILL] == "manual__s1"
    assert any(s.action == fp.DELETE_DRILL_STACKS for s in drill if s.phase == fp.TEARDOWN)


def test_the_compute_phase_waits_for_the_stack_before_scaling_then_a_rerun_changes_nothing(ctx, policy):
    steps = [s for s in _plan(policy, "pilot-light") if s.phase == fp.COMPUTE]
    cfn = ctx.client("cloudformation", DR)
    calls: list[tuple[str, str]] = []
    for op in ("CreateStack", "UpdateStack"):
        cfn.meta.events.register(
            f"provide-client-params.cloudformation.{op}",
            lambda params, op=op, **_: calls.append((op, params.get("ClientRequestToken", ""))),
        )
    memo: dict = {}
    first = run_compute_steps(ctx, policy, steps, memo=memo, run_id="manual__s1")
    by_action = {r["action"]: r for r in first}
    assert by_action[fp.DEPLOY_STACK]["outcome"] == "waiting"
    held = [r for r in first if r["action"] != fp.DEPLOY_STACK]
    assert held
    assert {r["outcome"] for r in held} == {"waiting"}
    assert all(r["detail"] == "after the stacks" for r in held)
    stack = stacks.describe(cfn, "app-dr")
    assert stack is not None
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["awsdr:stack-of"] == "app-dr"
    second = run_compute_steps(ctx, policy, steps, memo=memo, run_id="manual__s1")
    deploy = next(r for r in second if r["action"] == fp.DEPLOY_STACK)
    assert deploy["outcome"] == "done"
    assert "created by this run" in deploy["detail"]
    assert all(r["detail"] != "after the stacks" for r in second)
    assert [c[0] for c in calls] == ["CreateStack"]
    # a new run (or a retry that lost its memo): an update with nothing to change is "already"
    again = run_compute_steps(ctx, policy, steps, memo={}, run_id="manual__s2")
    assert next(r for r in again if r["action"] == fp.DEPLOY_STACK)["outcome"] == "already"
    assert [c[0] for c in calls] == ["CreateStack", "UpdateStack"]
    assert len(cfn.describe_stacks()["Stacks"]) == 1


def test_a_lost_create_answer_resent_carries_the_same_token(ctx, policy):
    step = next(s for s in _plan(policy, "backup-restore") if s.action == fp.DEPLOY_STACK)
    tokens: list[str] = []
    ctx.client("cloudformation", DR).meta.events.register(
        "provide-client-params.cloudformation.CreateStack",
        lambda params, **_: tokens.append(params["ClientRequestToken"]),
    )
    with pytest.raises(StillWaiting):
        stacks.deploy(ctx, DR, step.params, "manual__s1", {})
    ctx.client("cloudformation", DR).delete_stack(StackName="app-dr")  # as if the first never landed
    with pytest.raises(StillWaiting):
        stacks.deploy(ctx, DR, step.params, "manual__s1", {})
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]


def test_drill_stacks_are_deleted_by_teardown_and_a_dead_drills_by_the_next_sweep(ctx, policy):
    cfn = ctx.client("cloudformation", DR)
    body = json.dumps(TEMPLATE)
    for name, run in (("app-dr-drill", "manual__dead"), ("app-dr", None), ("someone-elses", None)):
        tags = [{"Key": TAG_DRILL, "Value": run}] if run else []
        cfn.create_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=[{"ParameterKey": "Env", "ParameterValue": name}],
            Tags=tags,
        )
    sweep = next(s for s in _plan(policy, "pilot-light", drill=True) if s.action == fp.SWEEP_DRILLS)
    run = handlers.Run(ctx=ctx, policy=policy, run_id="manual__s1")
    out = handlers.HANDLERS[fp.SWEEP_DRILLS](run, sweep, {})
    assert "cloudformation:app-dr-drill" in out["swept"]
    live = {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert live == {"app-dr", "someone-elses"}
    # this drill's own stack: made, then removed by its teardown; nothing else is touched
    steps = _plan(policy, "pilot-light", drill=True)
    deploy = next(s for s in steps if s.action == fp.DEPLOY_STACK)
    memo: dict = {}
    with pytest.raises(StillWaiting):
        stacks.deploy(ctx, DR, deploy.params, "manual__s1", memo)
    teardown = [s for s in steps if s.action == fp.DELETE_DRILL_STACKS]
    results = run_teardown_steps(ctx, policy, teardown)
    assert results[0]["outcome"] == "done"
    live = {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert live == {"app-dr", "someone-elses"}


def test_readiness_validates_every_template_each_time(ctx, policy, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not a template")
    broken = dataclasses.replace(policy.failover.stacks[0], template_path=str(bad))
    assert stacks.validate(ctx, policy.failover.stacks[0]) is None
    assert stacks.validate(ctx, broken) is not None
    bad_policy = dataclasses.replace(policy, failover=dataclasses.replace(policy.failover, stacks=(broken,)))
    report = check_readiness(
        ctx, bad_policy, strategy="pilot-light", target_region=DR, direction=fp.FAILOVER, drill=False
    )
    assert [m for m in report["problems"] if m.startswith("cloudformation/app-dr: template")], report[
        "problems"
    ]
    good = check_readiness(
        ctx, policy, strategy="pilot-light", target_region=DR, direction=fp.FAILOVER, drill=False
    )
    assert "stack app-dr: template valid" in good["checks"]
    assert not [m for m in good["problems"] if m.startswith("cloudformation/")]
