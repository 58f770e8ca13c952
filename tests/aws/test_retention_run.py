"""Retention against moto: a year of daily EBS history with DR copies.

Dry run deletes nothing; the breaker blocks a mass delete without force; with force exactly the
planned set remains; holds and foreign snapshots survive; a run killed mid-delete and re-run ends
consistent with its audit log.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.catalog import Catalog
from awsdr.kinds.ebs import EbsKind
from awsdr.policy import parse_policy
from awsdr.retention import AUDIT_PREFIX, decide, prune_kind
from awsdr.windows import point_tags

START = datetime(2025, 11, 25, tzinfo=UTC)
DAYS = 365
NOW = START + timedelta(days=DAYS)
POLICY_TEXT = """
version: 1
primary_region: ap-northeast-2
dr_regions: [ap-northeast-1]
catalog_bucket: awsdr-catalog
kms_keys: {ap-northeast-1: alias/awsdr}
plans:
  gold:
    schedule: "0 0 * * *"
    rpo: P1D
    rto: PT1H
    select: {tags: {dr-plan: gold}, types: [ebs]}
    retention:
      primary: {daily: 7}
      dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}
"""


def _tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


@pytest.fixture
def history(ctx):
    """One protected volume with a year of daily points, each copied to DR; plus a hold and a stranger."""
    ec2p, ec2d = ctx.client("ec2", PRIMARY), ctx.client("ec2", DR)
    vol = ec2p.create_volume(
        AvailabilityZone=f"{PRIMARY}a",
        Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": _tags({"dr-plan": "gold"})}],
    )["VolumeId"]
    dr_vol = ec2d.create_volume(AvailabilityZone=f"{DR}a", Size=1)["VolumeId"]
    held = None
    for day in range(DAYS):
        window = START + timedelta(days=day)
        tags = point_tags(plan="gold", window=window, source=vol, captured_at=window, kind="ebs")
        snap = ec2p.create_snapshot(
            VolumeId=vol, TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(tags)}]
        )
        copy_tags = {**tags, "awsdr:copy-of": snap["SnapshotId"]}
        if day == 100:
            copy_tags["awsdr:legal-hold"] = "case-42"
        c = ec2d.create_snapshot(
            VolumeId=dr_vol, TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(copy_tags)}]
        )
        if day == 100:
            held = c["SnapshotId"]
    # a snapshot somebody else made of our volume, with plan-like tags but not managed
    foreign = ec2p.create_snapshot(
        VolumeId=vol,
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": _tags({"awsdr:plan": "gold", "awsdr:source": vol})}
        ],
    )["SnapshotId"]
    catalog = Catalog(ctx, "awsdr-catalog", DR)
    catalog.ensure()
    return {"vol": vol, "held": held, "foreign": foreign, "catalog": catalog}


def _ids(ctx, region):
    snaps = ctx.client("ec2", region).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag-key", "Values": ["awsdr:source"]}]
    )
    return {s["SnapshotId"] for s in snaps["Snapshots"]}


def _policy(fraction=0.5):
    policy = parse_policy(POLICY_TEXT, "test.yaml")
    return dataclasses.replace(policy, max_delete_fraction=fraction)


def _run(ctx, history, policy, *, dry_run, force, run_id="r1", kind=None):
    return prune_kind(
        ctx,
        kind or EbsKind(),
        history["catalog"],
        policy,
        "gold",
        now=NOW,
        run_id=run_id,
        dry_run=dry_run,
        force=force,
    )


def test_dry_run_deletes_nothing(ctx, history):
    before = _ids(ctx, PRIMARY), _ids(ctx, DR)
    run = _run(ctx, history, _policy(), dry_run=True, force=True)
    assert run.summary["deleted"] > 600
    assert (_ids(ctx, PRIMARY), _ids(ctx, DR)) == before
    assert history["catalog"].list_keys(AUDIT_PREFIX) == []


def test_breaker_blocks_a_mass_delete_after_a_policy_edit_without_force(ctx, history):
    # the first run applies (no baseline yet: the ramp-up to the policy's keep set is not a mistake)
    first = _run(ctx, history, _policy(0.5), dry_run=False, force=False)
    assert not first.blocked
    assert first.deleted
    # then the DR rules are cut to one daily point: most of what the last run kept would go
    shrunk = dataclasses.replace(_policy(0.5), plans={"gold": _shrunk_plan(_policy(0.5).plans["gold"])})
    before = _ids(ctx, PRIMARY), _ids(ctx, DR)
    run = _run(ctx, history, shrunk, dry_run=False, force=False, run_id="r2")
    assert run.blocked, "a policy edit dropping most DR points trips the breaker"
    assert run.deleted == []
    assert (_ids(ctx, PRIMARY), _ids(ctx, DR)) == before


def _shrunk_plan(plan):
    from awsdr.policy import Gfs

    return dataclasses.replace(plan, retention=dataclasses.replace(plan.retention, dr=Gfs(daily=1)))


def test_force_leaves_exactly_the_planned_set_and_spares_holds_and_strangers(ctx, history):
    policy = _policy(0.5)
    planned, _, _ = decide(ctx, EbsKind(), policy, "gold", now=NOW, force=True, orphan_state=None)
    keep = {d.point.point_id.split("/", 1)[1] for d in planned.decisions if d.keep}
    run = _run(ctx, history, policy, dry_run=False, force=True)
    assert not run.errors
    assert not run.refused
    remaining = _ids(ctx, PRIMARY) | _ids(ctx, DR)
    assert remaining == keep | {history["foreign"]}
    assert history["held"] in remaining
    # primary keeps its last 7 days; DR keeps 14 daily + weekly/monthly/yearly representatives
    assert len(keep & _ids(ctx, PRIMARY)) == 7
    assert 14 <= len(keep & _ids(ctx, DR)) <= 14 + 8 + 12 + 3 + 1
    again = _run(ctx, history, policy, dry_run=False, force=True, run_id="r2")
    assert again.deleted == []


def test_killed_run_is_reconciled_and_ends_consistent_with_audit(ctx, history):
    policy = _policy(1.0)

    class Crashing(EbsKind):
        calls = 0

        def delete(self, ctx_, region, points):
            Crashing.calls += 1
            if Crashing.calls == 2:
                # the calls went out, then the worker died before the outcome was written
                super().delete(ctx_, region, points)
                raise KeyboardInterrupt("worker killed")
            return super().delete(ctx_, region, points)

    with pytest.raises(KeyboardInterrupt):
        _run(ctx, history, policy, dry_run=False, force=False, run_id="killed", kind=Crashing())
    keys = history["catalog"].list_keys(AUDIT_PREFIX)
    intents = {k for k in keys if k.endswith(".intent.json")}
    outcomes = {k for k in keys if k.endswith(".outcome.json")}
    assert len(intents) > len(outcomes), "the kill left an intent without its outcome"

    run = _run(ctx, history, policy, dry_run=False, force=False, run_id="next")
    assert not run.errors
    keys = history["catalog"].list_keys(AUDIT_PREFIX)
    intents = {k[: -len(".intent.json")] for k in keys if k.endswith(".intent.json")}
    outcomes = {k[: -len(".outcome.json")] for k in keys if k.endswith(".outcome.json")}
    assert intents == outcomes, "every intent has its outcome after reconciliation"
    present = _ids(ctx, PRIMARY) | _ids(ctx, DR)
    for base in outcomes:
        doc = history["catalog"].get_json(base + ".outcome.json")
        for pid, outcome in doc["outcomes"].items():
            if outcome.startswith("deleted") or outcome == "absent":
                assert pid not in present, (base, pid, outcome)


def test_a_delete_done_whose_answer_was_an_error_is_audited_as_deleted(ctx, history):
    """Seen in `make chaos` (the storm over every DAG): AWS deleted a snapshot, its answer was
    lost, the resend was throttled until the retries ran out, and the outcome said "error"
    although the point was gone: the checker found it "gone without an audited deletion". The
    failed deletes are looked at again before the outcome is written."""
    policy = _policy(1.0)

    class Partial(EbsKind):
        def delete(self, ctx_, region, points):
            kept = points[1]
            done = EbsKind.delete(self, ctx_, region, [p for p in points if p is not kept])
            return {**done, points[0].point_id: "error: Throttling", kept.point_id: "error: Throttling"}

    run = _run(ctx, history, policy, dry_run=False, force=False, run_id="lost", kind=Partial())
    present = _ids(ctx, PRIMARY) | _ids(ctx, DR)
    keys = history["catalog"].list_keys(AUDIT_PREFIX)
    outcomes = {}
    for k in keys:
        if k.endswith(".outcome.json"):
            outcomes.update(history["catalog"].get_json(k)["outcomes"])
    reconciled = [pid for pid, o in outcomes.items() if o == "deleted (reconciled)"]
    still_error = [pid for pid, o in outcomes.items() if o.startswith("error")]
    assert reconciled, outcomes
    assert all(pid not in present for pid in reconciled)
    # the one whose delete was never sent is still there, and still an error: decided again next run
    assert still_error
    assert all(pid in present for pid in still_error)
    assert set(run.errors) == set(still_error)
