"""The soak's invariants in CI: 14 simulated days through every DAG's own code (bench/soak.py).

The short version of ``make soak``: the CI policy (``bench/soak_ci_policy.yaml``: a window every
12 hours, small GFS counts) on a small estate, its own emulator with the simulated clock. The
invariants are ``make soak``'s, checked on every simulated day; the checker itself is tested on
days that break each one.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import soak  # noqa: E402


def _day(date: str = "2026-11-05") -> dict:
    return {
        "date": date,
        "samples": [
            {
                "at": f"{date}T02:15:00+00:00",
                "label": "before retention",
                "points": {"gold": {"P": {"max": 5, "mean": 5.0, "resources": 1}}},
                "gib": {"P": 1.0, "DR": 1.0},
            }
        ],
        "copies_made": 2,
        "recopies": 0,
        "recopied": [],
        "deletes": {"P": 1, "DR": 1},
        "breaker_trips": 0,
        "breaker_groups": [],
        "retention_runs": [{"state": "success", "tasks": {"report": "success"}, "seconds": 1.0}],
        "copy_runs_failed": 0,
        "quota_failures": [],
        "verify_leftovers": [],
        "rpo_samples": {"gold": 3600.0},
    }


def _result(day: dict) -> dict:
    return {
        "primary_region": "P",
        "dr_regions": ["DR"],
        "plans": {
            "gold": {
                "rpo_seconds": 3600.0,
                "windows_per_day": 2,
                "first_copy_at": "2026-11-01T00:00:05+00:00",
                "retention": {
                    "primary": {"hourly": 4, "daily": 3, "weekly": 0, "monthly": 0, "yearly": 0},
                    "dr": {"hourly": 0, "daily": 3, "weekly": 2, "monthly": 0, "yearly": 0},
                },
            }
        },
        "days_detail": [day],
    }


def test_point_bound_is_the_gfs_counts_plus_the_verified_copy_plus_a_day_of_windows():
    plan = _result(_day())["plans"]["gold"]
    assert soak.point_bound(plan, "primary") == 4 + 3 + 1 + 2
    assert soak.point_bound(plan, "dr") == 3 + 2 + 1 + 2


def _break(path: str, value) -> dict:
    day = _day()
    target = day
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return _result(day)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("retention_runs", [], "no retention run"),
        ("retention_runs.0.state", "failed", "retention run failed"),
        ("breaker_trips", 1, "breaker trips"),
        ("samples.0.points.gold.P.max", 11, "bound 10"),
        ("recopies", 1, "re-copies"),
        ("rpo_samples.gold", 3600.0 + 15 * 60 + 1, "DR-side RPO"),
        ("quota_failures", ["ebs:snap-1: SnapshotCopyLimitExceeded"], "quota errors"),
        ("verify_leftovers", ["volume vol-1@DR"], "verify leftovers"),
    ],
)
def test_check_reports_each_broken_invariant(path, value, expected):
    assert soak.check(_result(_day())) == []
    problems = soak.check(_break(path, value))
    assert len(problems) == 1
    assert expected in problems[0]


def test_rpo_before_the_first_copy_is_not_held_against_the_plan():
    result = _break("rpo_samples.gold", 10 * 3600.0)
    result["plans"]["gold"]["first_copy_at"] = None
    assert soak.check(result) == []
    late = copy.deepcopy(result)
    late["plans"]["gold"]["first_copy_at"] = "2026-11-06T00:00:00+00:00"  # after this day
    assert soak.check(late) == []


def test_quota_error_pattern():
    for text in ("SnapshotCopyLimitExceeded", "Throttling: Rate exceeded", "quota", "TooManyRequests"):
        assert soak.QUOTA_ERROR.search(text), text
    assert not soak.QUOTA_ERROR.search("InvalidSnapshot.NotFound")


def test_fourteen_simulated_days_hold_every_invariant(tmp_path):
    """The CI soak: every DAG on its schedule for 14 days; invariants on every day."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--scenarios", "ci", "--days", "14"]
        + ["--posture-minutes", "720", "--results", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    doc = json.loads((tmp_path / "soak.json").read_text())
    (result,) = doc["scenarios"]
    assert doc["invariant_violations"] == {"ci": []}, proc.stdout[-4000:]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert len(result["days_detail"]) == 14
    # the invariants were not held vacuously: the lifecycle ran in full
    assert result["runs"]["backup"] == 28
    assert result["runs"]["retention"] == 14
    assert result["runs"]["verify"] == 14
    s = soak.summary(result)
    assert s["copies_made"] >= 28 * 4
    assert s["deletes"] > 0
    assert s["backup_runs_failed"] == 0
    assert (tmp_path / "soak.png").stat().st_size > 0
