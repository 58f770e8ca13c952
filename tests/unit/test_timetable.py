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
