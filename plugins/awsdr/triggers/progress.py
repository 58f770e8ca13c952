"""Wait in the triggerer for AWS to finish something: a deferred task resumes when it has work.

:class:`PointsProgressTrigger` watches recovery points that are still being made (copies in
flight in a destination region) with the kind's own batched status call
(:meth:`awsdr.kinds.base.Kind.refresh`: one describe per region and batch, never one per point),
every ``check_every`` seconds, and fires as soon as one of them leaves ``creating``: a copy slot
AWS freed is refilled within ``check_every`` seconds (5 by default), not a whole poll interval
later. It also fires after ``wake_after`` seconds when nothing changed, so the task re-reads the
estate at least that often (new points, its deadline).

A point the status call cannot see (``missing``: a copy deleted meanwhile) is not a change: such
a wait falls back to ``wake_after``. DynamoDB export copies are described in their table's region
by the kind's ``refresh``, so they wake the task like any other copy.
A failed status call (throttling, a network blip) is logged and retried at the next check; the
trigger never fails the task.

The deferred state holds what the status call needs (id, ARN, region, kind, source, window) and
no tags or details: at most the in-flight copies of the regions being waited on, which the copy
quotas bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

#: the fields of a watched point that the deferred state carries
WATCH_FIELDS = ("kind", "point_id", "arn", "source_id", "region", "plan", "window", "status")


def watch_entry(point: Any) -> dict[str, Any]:
    """The part of a :class:`~awsdr.kinds.base.RecoveryPoint` the trigger needs (JSON-safe)."""
    data = point.to_dict()
    return {k: data[k] for k in WATCH_FIELDS}


class PointsProgressTrigger(BaseTrigger):
    """Fire when a watched point is no longer ``creating``, or after ``wake_after`` seconds.

    :param kind: the kind's name (``ebs``, ``ec2``, ``rds``, ...).
    :param plan: the plan, for the kind's configuration (catalog location, EC2 reboot).
    :param watch: ``{region: [watch_entry(point), ...]}``.
    :param aws_conn_id: the AWS connection the task uses.
    :param policy_path: the task's policy file (None: ``AWSDR_POLICY`` or the default).
    :param check_every: seconds between status calls.
    :param wake_after: seconds after which the trigger fires even when nothing changed.
    :param carry: handed back untouched in the event (``dag.test()`` resumes a task with the
        event only, not with the deferral's kwargs; a scheduler passes both).
    """

    def __init__(
        self,
        *,
        kind: str,
        plan: str,
        watch: dict[str, list[dict[str, Any]]],
        aws_conn_id: str = "aws_default",
        policy_path: str | None = None,
        check_every: float = 5.0,
        wake_after: float = 60.0,
        carry: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.plan = plan
        self.watch = {r: list(items) for r, items in watch.items() if items}
        self.aws_conn_id = aws_conn_id
        self.policy_path = policy_path
        self.check_every = max(0.0, float(check_every))
        self.wake_after = max(self.check_every, float(wake_after))
        self.carry = carry or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "plan": self.plan,
                "watch": self.watch,
                "aws_conn_id": self.aws_conn_id,
                "policy_path": self.policy_path,
                "check_every": self.check_every,
                "wake_after": self.wake_after,
                "carry": self.carry,
            },
        )

    # --- synchronous parts, run in a thread (boto3 and the connection lookup block) -----------

    def _setup(self) -> tuple[Any, Any]:
        from awsdr.aws.context import AwsContext
        from awsdr.kinds import kind_for
        from awsdr.policy import load_policy

        policy = load_policy(self.policy_path)
        return AwsContext.from_connection(self.aws_conn_id), kind_for(self.kind, policy, self.plan)

    def _changed(self, ctx: Any, kind: Any) -> list[dict[str, str]]:
        from awsdr.kinds.base import CREATING, MISSING, RecoveryPoint

        out = []
        for region, items in self.watch.items():
            points = [RecoveryPoint.from_dict({**e, "region": region}) for e in items]
            for p in kind.refresh(ctx, region, points):
                if p.status not in (CREATING, MISSING):
                    out.append({"point": p.point_id, "region": region, "status": p.status})
        return out

    def _event(self, woke: str, checks: int, changed: list[dict[str, str]]) -> dict[str, Any]:
        return {"woke": woke, "checks": checks, "changed": changed, "carry": self.carry}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        started = time.monotonic()
        checks = 0
        if not self.watch:
            await asyncio.sleep(self.wake_after)
            yield TriggerEvent(self._event("timer", 0, []))
            return
        ctx, kind = await sync_to_async(self._setup, thread_sensitive=False)()
        while True:
            left = self.wake_after - (time.monotonic() - started)
            if left <= 0:
                yield TriggerEvent(self._event("timer", checks, []))
                return
            await asyncio.sleep(min(self.check_every, left))
            checks += 1
            try:
                changed = await sync_to_async(self._changed, thread_sensitive=False)(ctx, kind)
            except Exception as err:  # a throttled or failed describe: try again at the next check
                log.warning("%s %s: status check %d failed, retrying: %s", self.plan, self.kind, checks, err)
                continue
            if changed:
                yield TriggerEvent(self._event("progress", checks, changed))
                return
