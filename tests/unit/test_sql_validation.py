"""Restore verification's SQL checks against the machine's PostgreSQL (two fresh databases)."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime

import pytest

from awsdr.operators.verify import sql_validation
from awsdr.verify import sql_checks

WINDOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


def _psql(db: str, sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def databases(monkeypatch):
    """A source and a 'restored' database with the same orders before the window."""
    suffix = uuid.uuid4().hex[:8]
    src, dst = f"awsdr_src_{suffix}", f"awsdr_dst_{suffix}"
    for db in (src, dst):
        _psql("postgres", f"CREATE DATABASE {db}")
        _psql(db, "CREATE TABLE orders (id int primary key, amount_cents bigint, created_at timestamptz)")
        _psql(db, "INSERT INTO orders VALUES (1, 1000, '2026-11-24T09:00Z'), (2, 2500, '2026-11-24T09:30Z')")
    # the source kept taking orders after the window: the checks must ignore them
    _psql(src, "INSERT INTO orders VALUES (3, 999, '2026-11-24T11:00Z')")
    monkeypatch.setenv("AIRFLOW_CONN_AWSDR_SQL_ORDERS_DB", f"postgres://postgres@127.0.0.1:5432/{src}")
    yield src, dst
    for db in (src, dst):
        _psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def test_rows_before_the_window_match(databases, monkeypatch, tmp_path):
    src, dst = databases
    (tmp_path / "orders.sql").write_text(
        "SELECT count(*), coalesce(sum(amount_cents), 0) FROM orders WHERE created_at < %(window)s"
    )
    problems = _validate(src, dst, tmp_path, monkeypatch)
    assert problems == []


def test_a_missing_row_in_the_restore_is_reported(databases, monkeypatch, tmp_path):
    src, dst = databases
    _psql(dst, "DELETE FROM orders WHERE id = 2")
    (tmp_path / "orders.sql").write_text(
        "SELECT count(*), coalesce(sum(amount_cents), 0) FROM orders WHERE created_at < %(window)s"
    )
    problems = _validate(src, dst, tmp_path, monkeypatch)
    assert len(problems) == 1
    assert "sql orders: restored rows differ" in problems[0]


def _validate(src, dst, sql_dir, monkeypatch):
    """Run sql_validation with the restored side on database ``dst`` of the same server."""
    from airflow.sdk import Connection

    real_init = Connection.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        if kwargs.get("conn_id", "").endswith("_restored"):
            self.schema = dst

    monkeypatch.setattr(Connection, "__init__", init)
    return sql_validation("awsdr_sql_orders_db", "127.0.0.1", WINDOW, sql_dir)


def test_sql_checks_compare_rows_order_independently():
    assert sql_checks({"q": [(1, "a"), (2, "b")]}, {"q": [(2, "b"), (1, "a")]}) == []
    assert sql_checks({"q": [(1,)]}, {}) == ["sql q: not run on the restored database"]
