"""The bounded catch-up timetable: scheduler catch-up limited, backfill ranges untouched."""

from __future__ import annotations

from datetime import UTC, datetime

import pendulum
import pytest
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction

import awsdr.timetables as tt
from awsdr.timetables import BoundedCatchupTimetable

NOW = pendulum.datetime(2026, 11, 24, 10, 20, tz="UTC")


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(tt, "utcnow", lambda: NOW)


def test_catchup_after_outage_is_bounded(frozen):
    t = BoundedCatchupTimetable("0 * * * *", timezone="UTC", max_catchup=3)
    last = DataInterval(
        pendulum.datetime(2026, 11, 20, 0, tz="UTC"), pendulum.datetime(2026, 11, 20, 0, tz="UTC")
    )
    info = t.next_dagrun_info(
        last_automated_data_interval=last,
        restriction=TimeRestriction(
            earliest=pendulum.datetime(2026, 11, 1, tz="UTC"), latest=None, catchup=True
        ),
    )
    # newest three windows at 10:20 are 08:00, 09:00, 10:00: the scheduler resumes at 08:00
    assert info.run_after == pendulum.datetime(2026, 11, 24, 8, tz="UTC")


def test_first_run_of_new_plan_starts_at_start_date_when_recent(frozen):
    t = BoundedCatchupTimetable("0 * * * *", timezone="UTC", max_catchup=3)
    info = t.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(
            earliest=pendulum.datetime(2026, 11, 24, 9, 30, tz="UTC"), latest=None, catchup=True
        ),
    )
    assert info.run_after == pendulum.datetime(2026, 11, 24, 10, tz="UTC")


def test_recent_runs_continue_one_by_one(frozen):
    t = BoundedCatchupTimetable("0 * * * *", timezone="UTC", max_catchup=3)
    last = DataInterval(
        pendulum.datetime(2026, 11, 24, 9, tz="UTC"), pendulum.datetime(2026, 11, 24, 9, tz="UTC")
    )
    info = t.next_dagrun_info(
        last_automated_data_interval=last,
        restriction=TimeRestriction(
            earliest=pendulum.datetime(2026, 11, 1, tz="UTC"), latest=None, catchup=True
        ),
    )
    assert info.run_after == pendulum.datetime(2026, 11, 24, 10, tz="UTC")


def test_backfill_range_is_never_bounded(frozen):
    t = BoundedCatchupTimetable("0 0 * * *", timezone="UTC", max_catchup=1)
    restriction = TimeRestriction(
        earliest=pendulum.datetime(2026, 10, 1, tz="UTC"),
        latest=pendulum.datetime(2026, 10, 3, tz="UTC"),
        catchup=True,
    )
    runs: list[DagRunInfo] = []
    info = None
    while True:
        info = t.next_dagrun_info(
            last_automated_data_interval=info and info.data_interval, restriction=restriction
        )
        if info is None:
            break
        runs.append(info)
    assert [r.run_after.day for r in runs] == [1, 2, 3]


def test_serialization_round_trip():
    t = BoundedCatchupTimetable("15 3 * * *", timezone="Asia/Seoul", max_catchup=5)
    back = BoundedCatchupTimetable.deserialize(t.serialize())
    assert back.max_catchup == 5
    assert back.summary == t.summary
    assert back.oldest_catchup_window(datetime(2026, 11, 24, 0, tzinfo=UTC)) == t.oldest_catchup_window(
        datetime(2026, 11, 24, 0, tzinfo=UTC)
    )


def test_max_catchup_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        BoundedCatchupTimetable("0 * * * *", timezone="UTC", max_catchup=0)


def test_the_run_the_scheduler_makes_from_a_stale_stored_window_is_bounded(frozen):
    """The scheduler makes a DAG's next run from ``DagModel.next_dagrun``, stored before the outage
    (not from ``next_dagrun_info``): that first missed window is bounded too. Unbounded, a real
    outage ran it and then the newest ``max_catchup`` (tests/chaos/test_scheduler_outage_live.py)."""
    from airflow.models.dag import DagModel

    t = BoundedCatchupTimetable("0 * * * *", timezone="UTC", max_catchup=2)
    stale = pendulum.datetime(2026, 11, 20, 1, tz="UTC")  # the window after the last run before the outage
    model = DagModel(dag_id="dr_backup_gold")
    model.next_dagrun = stale
    model.next_dagrun_create_after = stale
    model.next_dagrun_data_interval = DataInterval(stale, stale)
    info = t.next_run_info_from_dag_model(dag_model=model)
    # the newest two windows at 10:20 are 09:00 and 10:00: the scheduler resumes at 09:00
    assert info.run_after == info.logical_date == pendulum.datetime(2026, 11, 24, 9, tz="UTC")
    # a recent stored window is the run as it was stored
    recent = pendulum.datetime(2026, 11, 24, 10, tz="UTC")
    model.next_dagrun = model.next_dagrun_create_after = recent
    model.next_dagrun_data_interval = DataInterval(recent, recent)
    assert t.next_run_info_from_dag_model(dag_model=model).run_after == recent
