"""The copy queue refills when AWS frees a slot, not when the poll interval ends (issue 13 item 2).

``CopyOperator`` defers to :class:`awsdr.triggers.progress.PointsProgressTrigger`, which checks
the copies in flight from the triggerer (one batched describe per region) and fires as soon as
one is done. The tests give the copy task a poll interval of an hour: a resume that waited for the
interval would never come within the test's 30-second bound, so every pass below was woken by
AWS's progress. The emulator finishes a copy at once, so the first check sees it done.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk.exceptions import TaskDeferred
from conftest import DR
from test_copy_quota import _dr_copies, _estate, _operator, refuse_copies  # noqa: F401  (a fixture)

from awsdr.triggers.progress import PointsProgressTrigger

HOUR = 3600.0


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def _fire(trigger, timeout: float = 30.0) -> dict:
    return asyncio.run(asyncio.wait_for(_first_event(trigger), timeout))


def _through_serialization(trigger: PointsProgressTrigger) -> PointsProgressTrigger:
    """The triggerer rebuilds the trigger from what the task stored: do the same."""
    path, kwargs = trigger.serialize()
    assert path == "awsdr.triggers.progress.PointsProgressTrigger"
    return PointsProgressTrigger(**kwargs)


def test_copies_in_flight_are_watched_in_the_triggerer_and_wake_the_task_when_done(ctx):
    _estate(ctx, 3)
    op = _operator(ctx)
    op.poll_interval = HOUR
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, PointsProgressTrigger)
    assert trigger.wake_after == HOUR
    assert trigger.check_every == 5.0
    watched = {e["point_id"] for e in trigger.watch[DR]}
    assert watched == {s["SnapshotId"] for s in _dr_copies(ctx)}
    assert all(
        set(e) == {"kind", "point_id", "arn", "source_id", "region", "plan", "window", "status"}
        for e in trigger.watch[DR]
    )
    trigger = _through_serialization(trigger)
    trigger.check_every = 0.05  # the test's own cadence; what fires it is the copies' state
    event = _fire(trigger)
    assert event["woke"] == "progress"
    assert {c["point"] for c in event["changed"]} == watched
    out = op.resume({}, event=event)  # dag.test() style: the event only, the trigger carried the rest
    assert len(out["copies"]) == 3
    assert out["failures"] == []


def test_a_slot_freed_by_aws_is_refilled_at_once_within_the_quota(ctx):
    _estate(ctx, 3)
    op = _operator(ctx)
    op.poll_interval = HOUR
    op.__dict__["policy"] = dataclasses.replace(op.policy, copy_quotas={**op.policy.copy_quotas, "ebs": 1})
    woke, copies_seen = [], []
    call = lambda: op.execute({})  # noqa: E731
    for _ in range(6):
        try:
            out = call()
            break
        except TaskDeferred as deferred:
            copies_seen.append(len(_dr_copies(ctx)))
            trigger = _through_serialization(deferred.trigger)
            assert len(trigger.watch[DR]) == 1  # the one copy the quota lets fly
            trigger.check_every = 0.05
            event = _fire(trigger)
            woke.append(event["woke"])
            call = lambda e=event, k=deferred.kwargs: op.resume({}, **k, event=e)  # noqa: E731
    else:
        raise AssertionError("the copies never finished")
    assert copies_seen == [1, 2, 3]  # one more per pass: never over the quota of 1 in flight
    assert woke == ["progress"] * 3
    assert len(out["copies"]) == 3


def test_a_quota_refusal_backs_off_on_a_timer_not_on_progress(ctx, refuse_copies):  # noqa: F811
    _estate(ctx, 2)
    refuse_copies["left"] = 1
    with pytest.raises(TaskDeferred) as deferred:
        _operator(ctx).execute({})
    assert isinstance(deferred.value.trigger, DateTimeTrigger)  # the backoff of the quota queue


def test_a_point_the_status_call_cannot_see_falls_back_to_the_wake_timer(ctx):
    trigger = PointsProgressTrigger(
        kind="ebs",
        plan="gold",
        watch={
            DR: [
                {
                    "kind": "ebs",
                    "point_id": "snap-0123456789abcdef0",
                    "arn": "snap-0123456789abcdef0",
                    "source_id": "vol-1",
                    "region": DR,
                    "plan": "gold",
                    "window": "2026-11-24T10:00:00Z",
                    "status": "creating",
                }
            ]
        },
        check_every=0.05,
        wake_after=0.5,
        carry={"deadline": "x"},
    )
    event = _fire(trigger)
    assert event["woke"] == "timer"
    assert event["checks"] >= 1  # it did look, and found nothing that changed
    assert event["carry"] == {"deadline": "x"}


def test_a_failed_status_call_is_retried_at_the_next_check(ctx, monkeypatch):
    _estate(ctx, 1)
    op = _operator(ctx)
    op.poll_interval = HOUR
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = _through_serialization(deferred.value.trigger)
    trigger.check_every = 0.05
    real, calls = trigger._changed, []

    def flaky(ctx_, kind):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Throttling: Rate exceeded")
        return real(ctx_, kind)

    monkeypatch.setattr(trigger, "_changed", flaky)
    event = _fire(trigger)
    assert event["woke"] == "progress"
    assert len(calls) == 2


def test_a_dynamodb_export_copy_in_flight_is_watched_like_any_other_copy(ctx):
    """A DynamoDB DR copy is a point-in-time export (its id is the export's ARN, described in the
    table's region): the trigger sees it finish and wakes the task, instead of the wake timer."""
    from conftest import PRIMARY

    ddb = ctx.client("dynamodb", PRIMARY)
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    ctx.client("s3", DR).create_bucket(
        Bucket="exports-dr", CreateBucketConfiguration={"LocationConstraint": DR}
    )
    table_arn = ddb.describe_table(TableName="orders")["Table"]["TableArn"]
    from datetime import datetime

    from awsdr.kinds.dynamodb import pitr_export, pitr_status

    latest = datetime.fromisoformat(pitr_status(ddb, "orders")["latest_restorable"])
    export_arn = pitr_export(ctx, PRIMARY, table_arn, latest, "exports-dr", "exports/gold/orders", DR)
    entry = {
        "kind": "dynamodb",
        "point_id": export_arn,
        "arn": export_arn,
        "source_id": "orders",
        "region": DR,
        "plan": "gold",
        "window": "2026-11-24T10:00:00Z",
        "status": "creating",
    }
    trigger = PointsProgressTrigger(
        kind="dynamodb", plan="gold", watch={DR: [entry]}, check_every=0.05, wake_after=HOUR
    )
    event = _fire(trigger)
    assert event["woke"] == "progress"
    assert event["changed"] == [{"point": export_arn, "region": DR, "status": "available"}]


def test_a_copy_not_possible_before_a_moment_waits_for_that_moment_not_the_poll_interval(ctx):
    """A DynamoDB copy of a backup newer than PITR's latest restorable time (a fresh table; on
    AWS PITR trails by minutes) cannot start yet. With nothing else to wait for, the pass defers
    on a timer to the moment the latest restorable time passes it, even with an hour's poll
    interval; the pass then copies."""
    from datetime import UTC, datetime

    from awsdr.backup import capture_kind
    from awsdr.kinds import kind_for
    from awsdr.operators.copy import CopyOperator
    from awsdr.policy import load_policy
    from awsdr.triggers.progress import PointsProgressTrigger as Progress

    policy = load_policy()
    ddb = ctx.client("dynamodb", "ap-northeast-2")
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "dr-plan", "Value": "gold"}],
    )
    ddb.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    kms = ctx.client("kms", DR)
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    window = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    from awsdr.catalog import Catalog

    Catalog(ctx, policy.catalog_bucket, policy.catalog_region).ensure()
    got = capture_kind(
        ctx,
        kind_for("dynamodb", policy, "gold"),
        plan="gold",
        region="ap-northeast-2",
        selector={"dr-plan": "gold"},
        window=window,
        captured_at=datetime.now(UTC),
        late_after=policy.late_after,
    )
    assert got.failures == []
    op = CopyOperator(task_id="copy_dynamodb", plan="gold", kind="dynamodb", poll_interval=HOUR)
    op.__dict__["ctx"] = ctx
    import time

    call = lambda: op.execute({})  # noqa: E731
    waits = []
    for _ in range(8):
        try:
            out = call()
            break
        except TaskDeferred as deferred:
            trigger = deferred.trigger
            assert not isinstance(trigger, Progress)
            assert isinstance(trigger, DateTimeTrigger)
            wait = (trigger.moment - datetime.now(UTC)).total_seconds()
            # the emulator's PITR trails by 5 s (and starts at the table's creation): each wait
            # is seconds, never the hour's poll interval
            assert wait <= 10, wait
            waits.append(wait)
            time.sleep(max(0.0, wait))
            call = lambda k=deferred.kwargs: op.resume({}, **k)  # noqa: E731
    else:
        raise AssertionError(f"still waiting after {waits}")
    assert waits
    assert out["failures"] == []
    assert len(out["copies"]) + len(out["in_flight"]) == 1
