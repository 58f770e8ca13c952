"""A cron timetable whose scheduler catch-up is bounded.

``catchup=True`` makes the scheduler create a run for every window it missed since the last one.
After a long outage (the scheduler down for a week) an hourly plan would then queue 168 late
captures of the same state. :class:`BoundedCatchupTimetable` lets the scheduler catch up only
the newest ``max_catchup`` missed windows; older ones are not created as scheduled runs. They
stay visible as gaps (the posture report) and can still be captured on purpose with
``airflow backfill create`` (backfills pass an explicit date range and are never bounded).

A window is the cron tick itself (``run_after``): this is a trigger timetable, the data interval
has no span.

Why this module imports core ``airflow.timetables`` and not only ``airflow.sdk``: a custom timetable
is not a declaration the DAG processor translates (as it does for ``airflow.sdk.CronTriggerTimetable``)
but code the scheduler runs (``next_dagrun_info``). Airflow serializes a custom timetable only if it
subclasses the core ``airflow.timetables.base.Timetable`` and a plugin registers it (``timetables``
in ``awsdr_plugin.py``); the SDK's timetables have no scheduling logic to extend. ``airflow.timetables``
is part of Airflow's documented public interface; the private ``airflow._shared`` helpers are not, so
time zones come from ``airflow.sdk.timezone`` and pendulum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk.timezone import coerce_datetime, utcnow
from airflow.timetables.base import DagRunInfo
from airflow.timetables.trigger import CronTriggerTimetable

if TYPE_CHECKING:
    from airflow.timetables.base import DataInterval, TimeRestriction
    from pendulum.tz.timezone import FixedTimezone, Timezone


class BoundedCatchupTimetable(CronTriggerTimetable):
    """Cron trigger timetable that catches up at most ``max_catchup`` missed windows.

    :param cron: five-field cron expression.
    :param timezone: zone the cron expression is read in.
    :param max_catchup: how many of the newest missed windows the scheduler creates runs for.
    """

    def __init__(self, cron: str, *, timezone: str | Timezone | FixedTimezone, max_catchup: int) -> None:
        super().__init__(cron, timezone=timezone)
        if max_catchup < 1:
            raise ValueError("max_catchup must be at least 1")
        self.max_catchup = max_catchup

    @property
    def summary(self) -> str:
        return f"{self._expression} (catch-up {self.max_catchup})"

    def serialize(self) -> dict[str, Any]:
        data = super().serialize()
        data["max_catchup"] = self.max_catchup
        return data

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> BoundedCatchupTimetable:
        return cls(
            data["expression"],
            # What core CronTriggerTimetable.deserialize does (parse_timezone wraps this call).
            timezone=pendulum.timezone(data["timezone"]),
            max_catchup=int(data["max_catchup"]),
        )

    def oldest_catchup_window(self, now: Any) -> Any:
        """The oldest window the scheduler may still create, seen at ``now``."""
        oldest = self._align_to_prev(coerce_datetime(now))
        for _ in range(self.max_catchup - 1):
            oldest = self._get_prev(oldest)
        return oldest

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        info = super().next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )
        # Backfills iterate an explicit range (restriction.latest is set): never bounded.
        if info is None or not restriction.catchup or restriction.latest is not None:
            return info
        return self._bounded(info)

    def next_run_info_from_dag_model(self, *, dag_model: Any) -> DagRunInfo | None:
        """The run the scheduler creates next, from the DAG's stored ``next_dagrun``, bounded too.

        The scheduler creates a DAG's next run from the window it stored when it made the previous
        run (``DagModel.next_dagrun``), not by asking :meth:`next_dagrun_info` again. After an outage
        that stored window is the first one missed: unbounded, the scheduler ran it, then the newest
        ``max_catchup`` (found by the real-outage test in ``tests/chaos``: three runs, not two).
        Only this timetable's DAGs use it, and they all catch up (``catchup=True``).
        """
        return self._bounded(super().next_run_info_from_dag_model(dag_model=dag_model))

    def _bounded(self, info: DagRunInfo | None) -> DagRunInfo | None:
        if info is None:
            return None
        oldest = self.oldest_catchup_window(utcnow())
        if info.run_after < oldest:
            return DagRunInfo.interval(oldest - self._interval, oldest)
        return info
