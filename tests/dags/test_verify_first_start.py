"""A first start without false alarms: verification before the first DR copy exists ends skipped.

``make run`` schedules ``dr_restore_verify`` at start-up, minutes before the first copies land.
Such a run must not be red; a copy that was made and is gone, or none within the RPO, still is.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest

from awsdr.kinds.base import AVAILABLE, RecoveryPoint
from awsdr.operators.verify import first_copy_pending, recorded_copies

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _point(point_id: str, created: datetime) -> RecoveryPoint:
    return RecoveryPoint(
        kind="ebs",
        point_id=point_id,
        arn=point_id,
        source_id="vol-1",
        region="ap-northeast-2",
        plan="gold",
        window=created.replace(minute=0, second=0),
        status=AVAILABLE,
        created_at=created,
    )


def test_never_copied_and_younger_than_rpo_is_pending_with_the_reason():
    why = first_copy_pending(
        [_point("snap-1", NOW - timedelta(minutes=5))], set(), now=NOW, rpo=timedelta(hours=1)
    )
    assert why is not None
    assert "no DR copy yet" in why
    assert "5 min ago" in why
    assert "RPO" in why


def test_older_than_rpo_without_a_copy_is_a_failure():
    old = _point("snap-1", NOW - timedelta(hours=2))
    assert first_copy_pending([old, _point("snap-2", NOW)], set(), now=NOW, rpo=timedelta(hours=1)) is None


def test_a_copy_that_was_recorded_and_is_gone_is_a_failure():
    manifests = [
        {"copies": [{"copy_of": "snap-1", "region": "ap-northeast-1"}]},
        None,
        {"copies": [{"copy_of": "snap-9", "region": "us-west-2"}]},
    ]
    recorded = recorded_copies(manifests, "ap-northeast-1")
    assert recorded == {"snap-1"}
    young = [_point("snap-1", NOW - timedelta(minutes=1))]
    assert first_copy_pending(young, recorded, now=NOW, rpo=timedelta(hours=1)) is None


@pytest.fixture
def verify_dag(airflow_db):
    import dr_restore_verify

    return importlib.reload(dr_restore_verify).dag


def test_verify_before_the_first_copy_ends_skipped_not_failed(airflow_db, demo_estate, verify_dag, capfd):
    import dr_backup

    backup = importlib.reload(dr_backup).dr_backup_gold
    window = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    assert backup.test(logical_date=window).state == "success"
    # no dr_copy_gold yet: the DR region holds nothing
    capfd.readouterr()
    run = verify_dag.test(run_conf={"plan": "gold"})
    out = "".join(capfd.readouterr())  # task logs (structlog) go to the process's output
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    verify_states = {t: s for t, s in states.items() if t.startswith("verify_")}
    assert verify_states, states
    assert set(verify_states.values()) == {"skipped"}, states
    assert states["report"] == "skipped", states
    assert states["teardown"] == "success", states
    assert "not verified, no DR copy yet" in out  # one line per resource, saying why
    assert "Nothing verified: no DR copy exists yet" in out
