"""AWS quota errors are a queue: ``dr_copy``'s copy task puts a refused copy back, with backoff.

The refusal is injected at the client (a ``before-call`` handler answering ``CopySnapshot`` with
AWS's ``ResourceLimitExceeded``, as EC2 does past its concurrent-copy limit): moto enforces no
copy quota.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import TaskDeferred
from conftest import DR, PRIMARY

from awsdr.aws.context import AwsContext
from awsdr.backup import capture_kind
from awsdr.kinds.ebs import EbsKind
from awsdr.operators.copy import CopyOperator

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def refuse_copies(monkeypatch):
    """``state["left"]`` CopySnapshot calls are refused with ResourceLimitExceeded (-1: all)."""
    state = {"left": 0, "refused": 0}

    def handler(**_kwargs):
        if state["left"] == 0:
            return None
        state["left"] -= 1
        state["refused"] += 1
        error = {"Error": {"Code": "ResourceLimitExceeded", "Message": "concurrent snapshot copy limit"}}
        return SimpleNamespace(status_code=400), {**error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    for name in ("client", "create_client"):
        original = getattr(AwsContext, name)

        def wrapped(self, service, region, _original=original):
            client = _original(self, service, region)
            if service == "ec2" and not getattr(client, "_awsdr_quota_hook", False):
                client.meta.events.register("before-call.ec2.CopySnapshot", handler)
                client._awsdr_quota_hook = True
            return client

        monkeypatch.setattr(AwsContext, name, wrapped)
    return state


def _estate(ctx, n: int) -> None:
    ec2 = ctx.client("ec2", PRIMARY)
    for _ in range(n):
        ec2.create_volume(
            AvailabilityZone=f"{PRIMARY}a",
            Size=1,
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "dr-plan", "Value": "gold"}]}],
        )
    kms = ctx.client("kms", DR)
    key = kms.create_key(Description="awsdr DR copies")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=key)
    capture_kind(
        ctx,
        EbsKind(),
        plan="gold",
        region=PRIMARY,
        selector={"dr-plan": "gold"},
        window=W,
        captured_at=W + timedelta(minutes=1),
        late_after=timedelta(minutes=15),
        concurrency=4,
    )


def _operator(ctx, **kw) -> CopyOperator:
    op = CopyOperator(task_id="copy_ebs", plan="gold", kind="ebs", poll_interval=1.0, **kw)
    op.__dict__["ctx"] = ctx  # the cached AWS context: the test's emulator
    return op


def _dr_copies(ctx) -> list[dict]:
    return ctx.client("ec2", DR).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag-key", "Values": ["awsdr:copy-of"]}]
    )["Snapshots"]


def test_quota_refusals_wait_in_the_queue_then_copy(ctx, refuse_copies):
    _estate(ctx, 3)
    refuse_copies["left"] = 2
    op = _operator(ctx)
    before = datetime.now(tz=UTC)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    kwargs = deferred.value.kwargs
    assert refuse_copies["refused"] == 2
    assert kwargs["failures"] == []
    assert kwargs["quota_waits"] == {DR: 1}
    # Backoff: the next pass waits twice the poll interval after one refusal.
    wait = deferred.value.trigger.serialize()[1]["moment"] - before
    assert timedelta(seconds=2) <= wait < timedelta(seconds=10)
    assert len(_dr_copies(ctx)) == 1
    for _ in range(5):  # the started copies are "pending" until the next describe
        try:
            out = op.resume({}, **kwargs)
            break
        except TaskDeferred as again:
            kwargs = again.kwargs
    assert out["failures"] == []
    assert out["quota_waited"] == 0
    assert len(out["copies"]) == 3
    assert len(_dr_copies(ctx)) == 3


def test_a_copy_still_refused_at_the_deadline_fails_saying_so(ctx, refuse_copies):
    _estate(ctx, 2)
    refuse_copies["left"] = -1  # the quota never frees
    out = _operator(ctx, wait_timeout=0).execute({})
    assert out["quota_waited"] == 2
    assert len(out["failures"]) == 2
    assert all("still refused by an AWS quota" in f["error"] for f in out["failures"])
    assert _dr_copies(ctx) == []
