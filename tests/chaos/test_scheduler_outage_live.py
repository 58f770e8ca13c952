"""A scheduler outage for real (issue 11, item 4): the stack stopped over several windows, started again.

``make chaos`` only (``AWSDR_CHAOS=full``; about ten minutes of wall time, most of it the outage
itself). CI runs the same story through the serialized timetable in
``tests/dags/test_scheduler_outage.py``.

The stack is what ``make run`` starts (``airflow standalone``: scheduler, dag-processor, triggerer,
api-server; the LocalExecutor on PostgreSQL, a fresh database) on the demo estate, with the demo
policy's ``silver`` plan made to back up its EBS volumes every minute (``max_catchup: 2``,
``late_after: PT30S``). Only ``dr_backup_silver`` and ``dr_posture`` run.

1. the scheduler backs up a few windows on time; then Airflow is stopped (TERM) for five windows;
2. started again on the same database, it runs only the newest ``max_catchup`` windows of the
   outage, not the older ones; the older catch-up run's points are tagged late with the real
   capture time;
3. ``dr_posture`` reports the windows nobody ran as the plan's ``missed_windows``;
4. ``airflow backfill create`` of exactly those windows runs them; posture no longer reports them;
   every window has one point per volume, none twice.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import DR, ROOT, VENV_BIN, free_port, start_moto

from awsdr.windows import TAG_LATE, TAG_WINDOW, format_window
from chaos.conftest import FULL, record_row

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from test_backfill_postgres import _env as _pg_env  # noqa: E402
from test_postgres_celery import _psql, require_postgres, stop_moto  # noqa: E402
from test_standalone_cycle import Api, _client, _runs, _wait, standalone  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not FULL, reason="make chaos only (AWSDR_CHAOS=full): a real outage of minutes"),
]

UNPAUSED = ("dr_backup_silver", "dr_posture")
OUTAGE_WINDOWS = 5
MINUTE = timedelta(minutes=1)


def _policy(home: Path) -> Path:
    text = (ROOT / "include/dr_policy.yaml").read_text()
    edits = (
        ("max_catchup: 2 ", "late_after: PT30S\nmax_catchup: 2 "),
        ('    schedule: "0 0 * * *"               # backups: daily at midnight', '    schedule: "* * * * *"'),
        ("    rpo: P1D\n", "    rpo: PT10M\n"),
        ("      types: [ebs, rds, dynamodb, s3]\n", "      types: [ebs]\n"),
    )
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = home / "policy.yaml"
    path.write_text(text)
    return path


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _scheduled(api: Api) -> dict[datetime, dict]:
    return {
        _when(r["logical_date"]): r
        for r in _runs(api, "dr_backup_silver")
        if r["run_type"] == "scheduled" and r.get("logical_date")
    }


def _points(moto_url: str) -> dict[str, list[dict]]:
    snaps = _client(moto_url, "ec2").describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag:awsdr:plan", "Values": ["silver"]}]
    )["Snapshots"]
    out: dict[str, list[dict]] = {}
    for s in snaps:
        tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        out.setdefault(tags[TAG_WINDOW], []).append(tags)
    return out


def _posture(api: Api, moto_url: str) -> dict:
    import json

    run_id = api.post("/api/v2/dags/dr_posture/dagRuns", {"logical_date": None})["dag_run_id"]
    run = _wait(
        lambda: (
            (r := api.get(f"/api/v2/dags/dr_posture/dagRuns/{run_id}"))["state"] in ("success", "failed")
            and r
        ),
        600,
        "a dr_posture run",
        interval=5,
    )
    assert run["state"] == "success", run
    body = _client(moto_url, "s3", DR).get_object(Bucket="awsdr-catalog", Key="posture/latest.json")["Body"]
    return json.loads(body.read())["plans"]["silver"]["missed_windows"]


def _settled(api: Api, upto: datetime) -> bool:
    runs = [
        r
        for r in _runs(api, "dr_backup_silver")
        if r.get("logical_date") and _when(r["logical_date"]) <= upto
    ]
    return bool(runs) and all(r["state"] in ("success", "failed") for r in runs)


def test_a_real_outage_is_caught_up_bounded_reported_and_closed_by_a_backfill():
    require_postgres()
    db = f"awsdr_outage_{uuid.uuid4().hex[:8]}"
    _psql(f"CREATE DATABASE {db}")
    home = Path(tempfile.mkdtemp(prefix="awsdr-outage-"))
    moto_port, api_port = free_port(), free_port()
    moto_proc = start_moto(moto_port, home / "moto.log")
    moto_url = f"http://127.0.0.1:{moto_port}"
    env = _pg_env(
        home, moto_url, api_port, f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}", _policy(home)
    )
    try:
        # 1. on time, then the outage: stopped while no run is going
        with standalone(home, moto_url, env, api_port=api_port, unpause=UNPAUSED) as (api, _proc):
            _wait(
                lambda: len([r for r in _scheduled(api).values() if r["state"] == "success"]) >= 2,
                900,
                "two scheduled silver runs",
                interval=5,
            )
            _wait(
                lambda: _settled(api, datetime.now(UTC)), 300, "a moment with no silver run going", interval=1
            )
            seen = max(_scheduled(api))
        stopped = datetime.now(UTC)
        # (a run the scheduler made between that look and the stop is the window after ``seen``)
        resume = seen + (OUTAGE_WINDOWS + 1) * MINUTE + timedelta(seconds=5)
        time.sleep(max(0.0, (resume - datetime.now(UTC)).total_seconds()))

        # 2. started again on the same database: only the newest max_catchup windows run
        with standalone(home, moto_url, env, api_port=api_port, unpause=UNPAUSED) as (api, _proc):
            made = _wait(
                lambda: (
                    (runs := _scheduled(api))
                    and any(_when(r["queued_at"]) > stopped for r in runs.values())
                    and runs
                ),
                600,
                "the scheduler to run windows after the outage",
                interval=3,
            )
            before = {w: r for w, r in made.items() if _when(r["queued_at"]) <= stopped}
            last = max(before)
            after = {w: r for w, r in made.items() if w > last}
            first_new = min(after)
            skipped = []
            w = last + MINUTE
            while w < first_new:
                skipped.append(w)
                w += MINUTE
            assert len(skipped) >= OUTAGE_WINDOWS - 2, (last, first_new, stopped)
            assert not set(skipped) & set(_scheduled(api)), "a window older than the newest two ran"
            # the catch-up: when the scheduler made first_new's run, the window after it was due too
            assert _when(after[first_new]["queued_at"]) >= first_new + MINUTE, after[first_new]
            _wait(lambda: _settled(api, first_new + MINUTE), 600, "the catch-up runs", interval=3)
            points = _points(moto_url)
            silver = _client(moto_url, "ec2").describe_volumes(
                Filters=[{"Name": "tag:dr-plan", "Values": ["silver"]}]
            )
            volumes = len(silver["Volumes"])
            assert volumes >= 1
            late = points[format_window(first_new)]
            assert len(late) == volumes
            assert all(
                t[TAG_LATE] == "true" and t["awsdr:captured-at"] > format_window(first_new) for t in late
            )

            # 3. posture reports the gap (once the skipped windows are past the plan's grace)
            grace_over = skipped[-1] + 3 * MINUTE + timedelta(seconds=10)
            time.sleep(max(0.0, (grace_over - datetime.now(UTC)).total_seconds()))
            gap = _posture(api, moto_url)
            assert {format_window(w) for w in skipped} <= set(gap["windows"]), (skipped, gap)

            # 4. a backfill of exactly those windows closes it
            backfill = subprocess.run(
                [
                    str(VENV_BIN / "airflow"),
                    "backfill",
                    "create",
                    "--dag-id",
                    "dr_backup_silver",
                    "--from-date",
                    skipped[0].strftime("%Y-%m-%dT%H:%M:%S"),
                    "--to-date",
                    skipped[-1].strftime("%Y-%m-%dT%H:%M:%S"),
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            assert backfill.returncode == 0, backfill.stdout[-2000:] + backfill.stderr[-3000:]
            filled = _wait(
                lambda: (
                    (b := [r for r in _runs(api, "dr_backup_silver") if r["run_type"] == "backfill"])
                    and len(b) == len(skipped)
                    and all(r["state"] in ("success", "failed") for r in b)
                    and b
                ),
                900,
                "the backfill runs",
                interval=5,
            )
            assert all(r["state"] == "success" for r in filled), filled
            assert sorted(_when(r["logical_date"]) for r in filled) == skipped
            closed = _posture(api, moto_url)
            assert not {format_window(w) for w in skipped} & set(closed["windows"]), closed
            points = _points(moto_url)
            ran = [w for w, r in _scheduled(api).items() if r["state"] == "success" and w <= first_new]
            assert len(ran) >= 3, ran
            for window in [*ran, *skipped]:
                sources = [t["awsdr:source"] for t in points[format_window(window)]]
                assert len(sources) == volumes == len(set(sources)), window
        record_row(
            f"scheduler outage ({len(skipped) + 2} windows, real stack)",
            "-",
            "Airflow stopped",
            f"pass: {len(skipped)} skipped, 2 caught up, gap reported, backfilled",
        )
    finally:
        try:
            stop_moto(moto_proc)
        finally:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
