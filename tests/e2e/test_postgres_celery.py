"""Production-shaped: PostgreSQL metadata DB and CeleryExecutor (Redis broker), each component its
own process, as a platform team deploys it.

A fresh database per run (dropped afterwards), a private Celery queue, free ports. A backup run
triggered through the REST API must succeed on a Celery worker, and its Asset must start the copy
DAG by itself, which must put an encrypted copy of every EBS point in the DR region.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

import boto3
import pytest
from conftest import DR, PRIMARY, VENV_BIN, free_port, start_moto
from test_standalone_cycle import Api, _env, _health_ok, _runs, _wait

from awsdr.windows import TAG_COPY_OF

pytestmark = pytest.mark.e2e

PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def _psql(sql: str) -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            PG["host"],
            "-p",
            PG["port"],
            "-U",
            PG["user"],
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def prod_stack():
    try:
        _psql("select 1")
    except (
        OSError,
        subprocess.CalledProcessError,
    ) as err:  # pragma: no cover - machines of this kind have it
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for this test: {err}")
    suffix = uuid.uuid4().hex[:8]
    db = f"awsdr_e2e_{suffix}"
    _psql(f"CREATE DATABASE {db}")
    home = Path(tempfile.mkdtemp(prefix="awsdr-e2e-pg-"))
    moto_port, api_port = free_port(), free_port()
    moto_proc = start_moto(moto_port, home / "moto.log")
    moto_url = f"http://127.0.0.1:{moto_port}"
    env = _env(home, moto_url, api_port)
    queue = f"awsdr-{suffix}"
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS", None)  # SQLite's busy timeout, not for Postgres
    env.update(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{db}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        }
    )
    subprocess.run(
        [
            str(VENV_BIN / "python"),
            str(Path(__file__).parents[2] / "scripts/seed_demo.py"),
            "--endpoint",
            moto_url,
        ],
        env=env,
        check=True,
    )
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    procs = []
    for name, args in [
        ("api-server", ["api-server", "--port", str(api_port), "--host", "127.0.0.1"]),
        ("scheduler", ["scheduler"]),
        ("dag-processor", ["dag-processor"]),
        ("triggerer", ["triggerer"]),
        ("worker", ["celery", "worker", "--queues", queue, "--concurrency", "4"]),
    ]:
        log = (home / f"{name}.log").open("wb")
        procs.append(
            (
                name,
                subprocess.Popen(
                    [str(VENV_BIN / "airflow"), *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
            )
        )
    api = Api(api_port)
    try:
        _wait(lambda: _health_ok(api) is not None, 240, "api-server")
        api.login()
        yield {"api": api, "moto": moto_url, "procs": procs, "home": home}
    finally:
        for _, p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for _, p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        moto_proc.terminate()
        moto_proc.wait(timeout=10)
        _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def test_backup_on_celery_triggers_copy_through_asset(prod_stack):
    api, moto_url = prod_stack["api"], prod_stack["moto"]
    _wait(lambda: _runs(api, "dr_backup_silver") or None, 300, "dr_backup_silver to be parsed and scheduled")
    done = _wait(
        lambda: [r for r in _runs(api, "dr_backup_silver") if r["state"] == "success"],
        600,
        "a successful dr_backup_silver run on the Celery worker",
        interval=5,
    )
    assert done
    copies = _wait(
        lambda: [
            r
            for r in _runs(api, "dr_copy_silver")
            if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")
        ],
        600,
        "dr_copy_silver to start from the backup's Asset and finish",
        interval=5,
    )
    assert copies[0]["state"] == "success", copies[0]
    ec2p = boto3.client(
        "ec2", region_name=PRIMARY, endpoint_url=moto_url, aws_access_key_id="x", aws_secret_access_key="x"
    )
    ec2d = boto3.client(
        "ec2", region_name=DR, endpoint_url=moto_url, aws_access_key_id="x", aws_secret_access_key="x"
    )
    flt = [{"Name": "tag:awsdr:plan", "Values": ["silver"]}]
    points = ec2p.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]
    dr = ec2d.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]
    copied = {t["Value"] for s in dr for t in s.get("Tags", []) if t["Key"] == TAG_COPY_OF}
    assert points
    assert {p["SnapshotId"] for p in points} <= copied
    assert all(s["Encrypted"] for s in dr)
    health = api.get("/api/v2/monitor/health")
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", (component, health)
    for name, p in prod_stack["procs"]:
        assert p.poll() is None, f"{name} exited"
