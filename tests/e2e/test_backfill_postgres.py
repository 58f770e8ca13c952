"""Backfills while the scheduler is busy, on ``make run``'s shape: ``airflow standalone`` with the
LocalExecutor on PostgreSQL (the machine's server, a fresh database, dropped afterwards; ``make
run``'s embedded server, scripts/pg_embedded.py, is the same engine).

Ten ``airflow backfill create`` commands of six windows each, every one run exactly once (no
repeat on a lock): each must exit 0, must be created while other runs are queued or running
(the demo cycle's catch-up backups and copies, the other backfill, or, when those finished early,
a manual ``dr_backup_gold`` run started for the purpose), and all six of its runs
must succeed with one recovery point per resource and window.

Airflow allows one running backfill per DAG, so the ten alternate between two backup DAGs of the
same kind: the demo policy plus two plans ``backfill_a``/``backfill_b`` (hourly, EBS only, volumes
of the demo estate no other plan selects), written to a temporary policy file. While a backfill
of one runs, the next of the other is created. Keeping them EBS-only keeps the 60 runs to 240 task instances.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, VENV_BIN, free_port, start_moto
from test_postgres_celery import _patient, _psql, require_postgres, stop_moto
from test_standalone_cycle import Api, _client, _runs, _wait, standalone

pytestmark = pytest.mark.e2e

#: the two backfill plans and the demo estate's volumes they select (selectors other plans do not use)
SELECT = {"backfill_a": {"app": "reports"}, "backfill_b": {"dr-plan": "bronze"}}
PLANS = tuple(SELECT)
UNPAUSED = ("dr_backup_gold", "dr_copy_gold", *(f"dr_backup_{p}" for p in PLANS))
LOCK_ERROR = re.compile(r"database is locked|deadlock|\block(s|ed)?\b|LockNotAvailable", re.IGNORECASE)
#: ten 6-hour ranges (6 hourly windows each), alternating between the two plans
RANGES = [(PLANS[i % 2], datetime(2026, 11, 2, tzinfo=UTC) + timedelta(hours=6 * i), 6) for i in range(10)]


def _policy(home: Path) -> Path:
    doc = yaml.safe_load((ROOT / "include/dr_policy.yaml").read_text())
    for name in PLANS:
        doc["plans"][name] = {
            "schedule": "0 * * * *",
            "rpo": "PT1H",
            "rto": "PT4H",
            "max_catchup": 1,
            "select": {"tags": SELECT[name], "types": ["ebs"]},
            "retention": {"primary": {"hourly": 24}, "dr": {"daily": 7}},
        }
    path = home / "dr_policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _env(home: Path, moto_url: str, api_port: int, db_url: str, policy: Path) -> dict[str, str]:
    """``make run``'s configuration (scripts/airflow_env.sh, AWSDR_DB=postgres) on this database."""
    script = (
        f"export AIRFLOW_HOME={home} AWSDR_ENDPOINT={moto_url} AWSDR_API_PORT={api_port} "
        f"AWSDR_DB=postgres AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={db_url} AWSDR_POLICY={policy}; "
        f"source {ROOT}/scripts/airflow_env.sh; env -0"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS"))}
    out = subprocess.run(["bash", "-c", script], env=base, check=True, capture_output=True).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    return env


@pytest.fixture(scope="module")
def pg_stack():
    require_postgres()
    db = f"awsdr_bf_{uuid.uuid4().hex[:8]}"
    _psql(f"CREATE DATABASE {db}")
    home = Path(tempfile.mkdtemp(prefix="awsdr-e2e-bf-"))
    moto_port, api_port = free_port(), free_port()
    moto_proc = start_moto(moto_port, home / "moto.log")
    moto_url = f"http://127.0.0.1:{moto_port}"
    policy = _policy(home)
    env = _env(home, moto_url, api_port, f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}", policy)
    try:
        subprocess.run(
            [str(VENV_BIN / "python"), "-m", "awsdr.policy", str(policy)],
            env=env,
            check=True,
            capture_output=True,
        )
        # the two backfill plans and the demo's gold backups and copies (the load): the rest of
        # the cycle stays paused, it is test_standalone_cycle's and test_postgres_celery's
        with standalone(home, moto_url, env, api_port=api_port, health_timeout=900, unpause=UNPAUSED) as (
            api,
            proc,
        ):
            yield {"api": api, "env": env, "moto": moto_url, "home": home, "proc": proc}
    finally:
        try:
            stop_moto(moto_proc)
        finally:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _busy(api: Api) -> list[str]:
    """Runs the scheduler is working on right now (any DAG)."""
    runs = api.get("/api/v2/dags/~/dagRuns?state=queued&state=running&limit=100")["dag_runs"]
    return [f"{r['dag_id']}/{r['run_type']}" for r in runs]


def _backfill_runs(api: Api, dag_id: str, start: datetime, count: int) -> list[dict]:
    end = start + timedelta(hours=count - 1)
    return [
        r
        for r in _runs(api, dag_id)
        if r["run_type"] == "backfill"
        and start <= datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")) <= end
    ]


def _completed(api: Api, dag_id: str) -> bool:
    backfills = api.get(f"/api/v2/backfills?dag_id={dag_id}&limit=100")["backfills"]
    return all(b["completed_at"] for b in backfills)


def test_ten_backfills_while_the_scheduler_is_busy(pg_stack):
    api, env, moto_url = pg_stack["api"], pg_stack["env"], pg_stack["moto"]
    t0 = time.monotonic()
    for dag_id in ("dr_backup_gold", *(f"dr_backup_{p}" for p in PLANS)):
        _wait(_patient(lambda d=dag_id: _runs(api, d) or None), 600, f"{dag_id} to be parsed and scheduled")

    created: list[dict] = []
    pending: dict[str, int] = {}  # dag_id -> index in created of its running backfill

    def finish(dag_id: str) -> None:
        record = created[pending.pop(dag_id)]
        start, count = record["start"], record["count"]
        runs = _wait(
            _patient(
                lambda: (
                    (rs := _backfill_runs(api, dag_id, start, count))
                    and all(r["state"] in ("success", "failed") for r in rs)
                    and len(rs) == count
                    and rs
                )
            ),
            900,
            f"the {count} runs of the backfill of {dag_id} from {_iso(start)}",
            interval=5,
        )
        assert [r["state"] for r in runs] == ["success"] * count, [
            (r["logical_date"], r["state"]) for r in runs
        ]
        _wait(
            _patient(lambda: _completed(api, dag_id)), 300, f"the backfill of {dag_id} to be marked complete"
        )
        record["done_after"] = time.monotonic() - record["began"]

    for plan, start, count in RANGES:
        dag_id = f"dr_backup_{plan}"
        if dag_id in pending:  # one running backfill per DAG: the previous one must finish first
            finish(dag_id)
        busy = _wait(_patient(lambda: [_busy(api)]), 120, "the list of active runs")[0]
        if not busy:
            # the catch-up and the other backfill finished early (a fast machine): make the scheduler
            # busy on purpose with a manual run of the demo's gold backups (other volumes), so the
            # backfill is always created under load rather than only when the timing allows
            _wait(
                _patient(lambda: api.post("/api/v2/dags/dr_backup_gold/dagRuns", {"logical_date": None})),
                120,
                "a manual dr_backup_gold run",
            )
            busy = _wait(_patient(lambda: [_busy(api)]), 120, "the list of active runs")[0]
        began = time.monotonic()
        cmd = subprocess.run(
            [
                str(VENV_BIN / "airflow"),
                "backfill",
                "create",
                "--dag-id",
                dag_id,
                "--from-date",
                _iso(start),
                "--to-date",
                _iso(start + timedelta(hours=count - 1)),
                "--max-active-runs",
                str(count),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        # exactly one attempt each: no repeat on a lock, no lock error anywhere in its output
        assert cmd.returncode == 0, cmd.stdout[-2000:] + cmd.stderr[-3000:]
        assert not LOCK_ERROR.search(cmd.stdout + cmd.stderr), cmd.stderr[-3000:]
        assert busy, f"the scheduler had nothing queued or running when the backfill of {dag_id} was created"
        pending[dag_id] = len(created)
        created.append(
            {
                "dag_id": dag_id,
                "start": start,
                "count": count,
                "busy": busy,
                "began": began,
                "seconds": time.monotonic() - began,
            }
        )
    for dag_id in list(pending):
        finish(dag_id)

    assert len(created) == 10
    # one recovery point per selected volume and window, tagged with the backfill's window
    for plan in PLANS:
        volumes = _client(moto_url, "ec2").describe_volumes(
            Filters=[{"Name": f"tag:{k}", "Values": [v]} for k, v in SELECT[plan].items()]
        )
        expected = sorted(v["VolumeId"] for v in volumes["Volumes"])
        assert expected
        snaps = _client(moto_url, "ec2").describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": "tag:awsdr:plan", "Values": [plan]}]
        )["Snapshots"]
        by_window: dict[str, list[str]] = {}
        for s in snaps:
            tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
            by_window.setdefault(tags["awsdr:window"], []).append(tags["awsdr:source"])
        for p, start, count in RANGES:
            if p != plan:
                continue
            for h in range(count):
                window = _iso(start + timedelta(hours=h))
                assert sorted(by_window.get(window, [])) == expected, (plan, window)

    for c in created:
        print(
            f"backfill {c['dag_id']} {_iso(c['start'])}: create {c['seconds']:.1f}s, "
            f"6 runs done after {c['done_after']:.0f}s, busy at create: {len(c['busy'])} runs"
        )
    print(f"ten backfills of six windows: {time.monotonic() - t0:.0f}s")
    health = _wait(_patient(lambda: api.get("/api/v2/monitor/health")), 120, "the health endpoint")
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", (component, health)
    assert pg_stack["proc"].poll() is None, "airflow standalone exited"
    log = (pg_stack["home"] / "standalone.log").read_text(errors="replace")
    assert "deadlock detected" not in log
