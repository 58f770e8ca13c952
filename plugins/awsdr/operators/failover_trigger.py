"""The trigger a failover phase waits in between two batched status rounds.

A phase (data layer, compute, traffic, verify) runs one round in a worker, then defers: the task
instance is ``deferred`` (no worker slot) and this trigger sleeps in the triggerer until the next
round is due. Its event carries the phase's state (memo, per-step timing, round count) back to
the task, so the state survives whether the runtime hands the deferral's ``kwargs`` back
(a scheduler merges them with the event) or only the event (``dag.test()`` in Airflow 3.x
replaces the kwargs by the event, which is what made the rounds restart from round 1 forever).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class FailoverRoundTrigger(BaseTrigger):
    """Fire at ``moment`` (ISO-8601, UTC) with ``{"state": state, "phase": phase}``.

    :param moment: when the next round is due.
    :param state: the phase's JSON state, handed back untouched.
    :param phase: the phase's name (logs).
    """

    def __init__(self, *, moment: str, state: dict[str, Any], phase: str = "") -> None:
        super().__init__()
        self.moment = moment
        self.state = state
        self.phase = phase

    @classmethod
    def after(cls, seconds: float, state: dict[str, Any], phase: str = "") -> FailoverRoundTrigger:
        moment = datetime.now(UTC) + timedelta(seconds=seconds)
        return cls(moment=moment.isoformat(), state=state, phase=phase)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"moment": self.moment, "state": self.state, "phase": self.phase},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        due = datetime.fromisoformat(self.moment)
        while (left := (due - datetime.now(UTC)).total_seconds()) > 0:
            await asyncio.sleep(min(left, 10.0))  # re-read the clock: a long sleep may drift
        yield TriggerEvent({"state": self.state, "phase": self.phase})
