"""``make run``'s database: the embedded PostgreSQL (scripts/pg_embedded.py) and the configuration
that picks it (scripts/airflow_env.sh), with SQLite only when asked for (``AWSDR_DB=sqlite``)."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
from conftest import ROOT, VENV_BIN

PG = [str(VENV_BIN / "python"), str(ROOT / "scripts/pg_embedded.py")]


def start_embedded_pg(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``make run``'s PostgreSQL (scripts/pg_embedded.py) on ``home/postgres``; returns (process, URL)."""
    pgdata = home / "postgres"
    proc = subprocess.Popen(
        [str(VENV_BIN / "python"), str(ROOT / "scripts/pg_embedded.py"), "serve", str(pgdata)],
        stdout=(home / "postgres.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while True:
        url = subprocess.run(
            [str(VENV_BIN / "python"), str(ROOT / "scripts/pg_embedded.py"), "url", str(pgdata)],
            capture_output=True,
            text=True,
        )
        if url.returncode == 0:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            raise AssertionError((home / "postgres.log").read_text()[-3000:])
        time.sleep(1)
    return proc, url.stdout.strip()


def stop_embedded_pg(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # fast shutdown of the server, then the wrapper exits
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _config(**env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWSDR"))}
    out = subprocess.run(
        ["bash", "-c", f"source {ROOT}/scripts/airflow_env.sh && env -0"],
        env={**base, "AIRFLOW_HOME": "/tmp/awsdr-home", **env},
        check=True,
        capture_output=True,
    ).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def test_default_is_postgres_sized_for_it_and_sqlite_only_when_asked():
    pg = _config()
    assert pg["AWSDR_DB"] == "postgres"
    assert pg["AWSDR_PGDATA"] == "/tmp/awsdr-home/postgres"  # data under the Airflow home
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in pg  # scripts/run.sh sets it, never a silent SQLite
    assert int(pg["AIRFLOW__CORE__PARALLELISM"]) >= 16
    assert pg["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] != "8793"
    lite = _config(AWSDR_DB="sqlite")
    assert lite["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "sqlite:////tmp/awsdr-home/airflow.db"
    assert lite["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert lite["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] == "awsdr.sqlite_settings.CONNECT_ARGS"
    with pytest.raises(subprocess.CalledProcessError):
        _config(AWSDR_DB="mysql")


def test_embedded_server_own_port_password_restart_and_clean_stop():
    home = Path(tempfile.mkdtemp(prefix="awsdr-pg-"))
    proc, url = start_embedded_pg(home)
    try:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert url.startswith("postgresql+psycopg2://airflow:")
        assert port != 5432
        assert not list((home / "postgres").glob(".s.PGSQL.*"))  # no Unix socket to collide on
        assert (home / "postgres.password").stat().st_mode & 0o077 == 0
        secret = (home / "postgres.password").read_text().strip()
        with pytest.raises(psycopg2.OperationalError):  # a password is required
            psycopg2.connect(host="127.0.0.1", port=port, user="airflow", password="wrong", dbname="airflow")
        conn = psycopg2.connect(
            host="127.0.0.1", port=port, user="airflow", password=secret, dbname="airflow"
        )
        conn.close()
        if os.geteuid() == 0:  # PostgreSQL refuses root: the server runs as an unprivileged user
            owner = pwd.getpwuid((home / "postgres").stat().st_uid).pw_name
            assert owner == "awsdr-postgres"
        # a second server on the same data directory is refused, the first keeps running
        again = subprocess.run([*PG, "serve", str(home / "postgres")], capture_output=True, text=True)
        assert again.returncode == 3, again.stderr
        assert subprocess.run([*PG, "url", str(home / "postgres")], capture_output=True).returncode == 0
        subprocess.run([*PG, "reset", str(home / "postgres")], check=True)
    finally:
        stop_embedded_pg(proc)
    assert proc.returncode == 0
    assert not (home / "postgres" / "postmaster.pid").exists()
    assert subprocess.run([*PG, "url", str(home / "postgres")], capture_output=True).returncode == 1
    # the cluster is kept: the next start reuses it
    proc, url2 = start_embedded_pg(home)
    try:
        assert url2.split("@")[0] == url.split("@")[0]  # same role and password
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
