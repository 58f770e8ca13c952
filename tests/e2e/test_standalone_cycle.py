"""End to end under the real scheduler, dag-processor, triggerer and api-server (PostgreSQL).

Starts exactly what ``make run`` starts (``scripts/airflow_env.sh`` + ``airflow standalone``, the
LocalExecutor on PostgreSQL: the machine's server, a fresh database) on
free ports in a temporary home, against a moto server seeded with the demo estate, then:

1. waits for the scheduler's own catch-up runs of every plan to succeed,
2. triggers a manual run through the REST API (with the form's resource filter and note),
3. backfills three missed windows with ``airflow backfill create``,
4. asserts the recovery points in the emulator (one per resource and window, tagged), and
5. asserts every Airflow component is still alive and healthy afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from conftest import DR, PRIMARY, ROOT, VENV_BIN, free_port, stack_slot, start_moto

from awsdr.windows import window_stamp

pytestmark = pytest.mark.e2e

BACKFILL = ["2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z", "2026-11-12T00:00:00Z"]


def _env(home: Path, moto_url: str, api_port: int) -> dict[str, str]:
    script = (
        f"export AIRFLOW_HOME={home} AWSDR_ENDPOINT={moto_url} AWSDR_API_PORT={api_port} AWSDR_DB=sqlite; "
        f"source {ROOT}/scripts/airflow_env.sh; env -0"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS"))}
    base.pop("AWSDR_POLICY", None)
    out = subprocess.run(["bash", "-c", script], env=base, check=True, capture_output=True).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    return env


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token: str | None = None

    def _req(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def login(self) -> None:
        self.token = self._req("POST", "/auth/token", {"username": "admin", "password": "admin"})[
            "access_token"
        ]

    def get(self, path: str) -> dict:
        return self._req("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._req("POST", path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._req("PATCH", path, body)


def _wait(pred, timeout: float, what: str, interval: float = 3.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")


def _runs(api: Api, dag_id: str) -> list[dict]:
    try:
        return api.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
    except urllib.error.HTTPError as err:
        if err.code == 404:  # not parsed yet
            return []
        raise


def asking_try_exited(home: Path, dag_id: str, run_id: str, task_id: str = "approval") -> bool:
    """The scheduler (in ``standalone``'s log) has read the exit of the try that now awaits an answer.

    Answer a HITL task only after this: an answer in the second between the ask and this read
    resumes the task at once, the LocalExecutor then reports the asking try's exit under the
    resumed try's key, and the scheduler fails the resumed try as "state changed externally"
    (Airflow's race; a person answering never meets it, a script can).
    """
    line = f"TaskInstance Finished: dag_id={dag_id}, task_id={task_id}, run_id={run_id},"
    text = (home / "standalone.log").read_text(errors="replace")
    return any(line in row and "state=awaiting_input" in row for row in text.splitlines())


@contextlib.contextmanager
def standalone(
    home: Path,
    moto_url: str,
    env: dict[str, str],
    *,
    api_port: int,
    health_timeout: float = 600,
    unpause: tuple[str, ...] | None = None,
):
    """Seed the demo estate, migrate, start ``airflow standalone`` (as ``make run`` does), wait for
    the api-server, log in; yields ``(api, proc)`` and stops Airflow afterwards.

    ``unpause``: only these DAGs run (the others are created paused, as
    ``dags_are_paused_at_creation`` does): a test of one flow does not pay for the whole cycle's
    catch-up on a two-core machine. ``None``: every DAG runs, as in ``make run``.
    """
    if unpause is not None:
        env = {**env, "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}
    with stack_slot():
        subprocess.run(
            [str(VENV_BIN / "python"), str(ROOT / "scripts/seed_demo.py"), "--endpoint", moto_url],
            env=env,
            check=True,
        )
        subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
        proc = subprocess.Popen(
            [str(VENV_BIN / "airflow"), "standalone"],
            env=env,
            stdout=(home / "standalone.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            api = Api(api_port)
            _wait(lambda: _health_ok(api) is not None, health_timeout, "api-server")
            api.login()
            for dag_id in unpause or ():
                _wait(
                    lambda d=dag_id: _unpaused(api, d), health_timeout, f"{dag_id} to be parsed and unpaused"
                )
            yield api, proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def stack():
    # make run's default database: PostgreSQL (the machine's server, a fresh database, dropped
    # afterwards), the LocalExecutor. On SQLite the CLI backfill below lost the write lock to the
    # scheduler after the scheduler had read its first runs, and the scheduler died of Airflow's
    # own IntegrityError/ObjectDeletedError (seen in a fresh-clone make test): README, SQLite limits.
    from test_backfill_postgres import _env as pg_env  # (imported here: they import this module)
    from test_postgres_celery import _psql, require_postgres

    require_postgres()
    db = f"awsdr_cycle_{uuid.uuid4().hex[:8]}"
    _psql(f"CREATE DATABASE {db}")
    home = Path(tempfile.mkdtemp(prefix="awsdr-e2e-"))
    moto_port, api_port = free_port(), free_port()
    moto_proc = start_moto(moto_port, home / "moto.log")
    moto_url = f"http://127.0.0.1:{moto_port}"
    db_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
    env = pg_env(home, moto_url, api_port, db_url, ROOT / "include/dr_policy.yaml")
    try:
        with standalone(home, moto_url, env, api_port=api_port, health_timeout=600) as (api, proc):
            yield {"api": api, "env": env, "moto": moto_url, "home": home, "proc": proc}
    finally:
        try:
            moto_proc.terminate()
            moto_proc.wait(timeout=30)
        finally:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _unpaused(api: Api, dag_id: str) -> bool:
    try:
        return api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})["is_paused"] is False
    except urllib.error.HTTPError as err:
        if err.code == 404:  # not parsed yet
            return False
        raise
    except (urllib.error.URLError, TimeoutError):
        return False


def _health_ok(api: Api) -> dict | None:
    try:
        return api.get("/api/v2/monitor/health")
    except Exception:
        return None


def _client(moto_url: str, service: str, region: str = PRIMARY):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=moto_url,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


def _snapshots_by_window(moto_url: str, plan: str) -> dict[str, list[str]]:
    snaps = _client(moto_url, "ec2").describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag:awsdr:plan", "Values": [plan]}]
    )["Snapshots"]
    out: dict[str, list[str]] = {}
    for s in snaps:
        tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        out.setdefault(tags["awsdr:window"], []).append(tags["awsdr:source"])
    return out


def test_full_cycle_under_real_scheduler(stack):
    api, env, moto_url = stack["api"], stack["env"], stack["moto"]

    # 1. the scheduler catches up the newest windows of every plan by itself (DAGs unpaused)
    for dag_id in ("dr_backup_gold", "dr_backup_silver"):
        done = _wait(
            lambda d=dag_id: [r for r in _runs(api, d) if r["state"] == "success"],
            600,
            f"a successful scheduled run of {dag_id}",
            interval=5,
        )
        assert done[0]["run_type"] == "scheduled"

    # 2. a manual run through the REST API, restricted to one volume, with a note
    vols = _client(moto_url, "ec2").describe_volumes(
        Filters=[{"Name": "tag:Name", "Values": ["orders-data-0"]}]
    )
    vol_id = vols["Volumes"][0]["VolumeId"]
    manual = api.post(
        "/api/v2/dags/dr_backup_gold/dagRuns",
        {"logical_date": None, "conf": {"resources": [vol_id], "note": "before schema change"}},
    )
    run_id = manual["dag_run_id"]
    final = _wait(
        lambda: (
            (r := api.get(f"/api/v2/dags/dr_backup_gold/dagRuns/{run_id}"))["state"] in ("success", "failed")
            and r
        ),
        600,
        "the manual run",
        interval=5,
    )
    assert final["state"] == "success"
    run_after = datetime.fromisoformat(final["run_after"].replace("Z", "+00:00")).astimezone(UTC)
    manual_window = run_after.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    gold = _snapshots_by_window(moto_url, "gold")
    assert gold[manual_window] == [vol_id], "the manual run captured only the filtered volume"
    key = f"manifests/gold/{window_stamp(run_after.replace(microsecond=0))}.json"
    body = _client(moto_url, "s3", DR).get_object(Bucket="awsdr-catalog", Key=key)["Body"].read()
    manifest = json.loads(body)
    assert manifest["note"] == "before schema change"
    assert manifest["run_type"].lower().endswith("manual")

    # 3. backfill three missed windows of the daily plan with the CLI
    backfill = subprocess.run(
        [
            str(VENV_BIN / "airflow"),
            "backfill",
            "create",
            "--dag-id",
            "dr_backup_silver",
            "--from-date",
            "2026-11-10",
            "--to-date",
            "2026-11-12",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert backfill.returncode == 0, backfill.stdout[-2000:] + backfill.stderr[-3000:]
    _wait(
        lambda: (
            len(
                [
                    r
                    for r in _runs(api, "dr_backup_silver")
                    if r["run_type"] == "backfill" and r["state"] == "success"
                ]
            )
            == 3
        ),
        900,
        "three successful backfill runs",
        interval=5,
    )
    silver = _snapshots_by_window(moto_url, "silver")
    silver_vols = _client(moto_url, "ec2").describe_volumes(
        Filters=[{"Name": "tag:dr-plan", "Values": ["silver"]}]
    )
    expected = sorted(v["VolumeId"] for v in silver_vols["Volumes"])
    for window in BACKFILL:
        assert sorted(silver[window]) == expected, window
    # exactly one point per (resource, window): no duplicates anywhere
    for by_window in (silver, _snapshots_by_window(moto_url, "gold")):
        for window, sources in by_window.items():
            assert len(sources) == len(set(sources)), window
    # look-alikes were never touched
    untouched = _client(moto_url, "ec2").describe_volumes(
        Filters=[{"Name": "tag:Name", "Values": ["scratch-untagged"]}]
    )
    scratch = untouched["Volumes"][0]["VolumeId"]
    assert not _client(moto_url, "ec2").describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [scratch]}]
    )["Snapshots"]

    # 4. the copy DAG started by itself from the backup's Asset and copied every EBS point
    copy_run = _wait(
        lambda: [
            r
            for r in _runs(api, "dr_copy_gold")
            if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")
        ],
        600,
        "dr_copy_gold to start from the backup's Asset and finish",
        interval=5,
    )
    assert copy_run[0]["state"] == "success", copy_run[0]
    dr_snaps = _client(moto_url, "ec2", DR).describe_snapshots(
        OwnerIds=["self"],
        Filters=[
            {"Name": "tag:awsdr:plan", "Values": ["gold"]},
            {"Name": "tag:awsdr:kind", "Values": ["ebs"]},
        ],
    )["Snapshots"]
    copied = {t["Value"] for s in dr_snaps for t in s.get("Tags", []) if t["Key"] == "awsdr:copy-of"}
    assert copied, "no EBS copies in the DR region"
    assert all(s["Encrypted"] for s in dr_snaps)

    # 5. every component survived the cycle
    health = api.get("/api/v2/monitor/health")
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", (component, health)
    assert stack["proc"].poll() is None, "airflow standalone exited"
    log_text = (stack["home"] / "standalone.log").read_text(errors="replace")
    assert "deadlock detected" not in log_text
