"""Shared fixtures: a moto server on a free port, Airflow pointed at a temporary home.

Environment is set at import time, before any test module imports airflow: AIRFLOW_HOME is a
fresh temporary directory, the DAGs folder is this project's, and ``aws_default`` points at the
moto server this session starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="awsdr-test-home-"))
MOTO_PORT = free_port()
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"

os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_AIRFLOW_HOME / "logs"),
        "AIRFLOW_CONN_AWS_DEFAULT": (
            f'{{"conn_type": "aws", "extra": {{"endpoint_url": "{MOTO_URL}", "region_name": "ap-northeast-2"}}}}'
        ),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWSDR_POLL_SECONDS": "2",
        "AWSDR_POLICY": os.environ.get("AWSDR_TEST_POLICY", str(ROOT / "include" / "dr_policy.yaml")),
    }
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)

PRIMARY = "ap-northeast-2"
DR = "ap-northeast-1"


def _wait_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def start_moto(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``moto_server`` on 127.0.0.1:port and wait until it answers."""
    log = log_path.open("wb")
    # the request recorder writes to a file: one per server, or parallel servers share it
    env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(log_path.with_suffix(".recording"))}
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            str(ROOT / "scripts" / "moto_server.py"),
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    _wait_http(f"http://127.0.0.1:{port}/moto-api/")
    return proc


@pytest.fixture(scope="session")
def moto_server():
    """The session's moto server URL (one process for the whole run)."""
    proc = start_moto(MOTO_PORT, _AIRFLOW_HOME / "moto.log")
    yield MOTO_URL
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def reset_moto(url: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).read()


@pytest.fixture
def moto(moto_server):
    """A clean emulator for this test."""
    reset_moto(moto_server)
    yield moto_server
    reset_moto(moto_server)


@pytest.fixture
def ctx(moto):
    """An :class:`awsdr.aws.context.AwsContext` talking to the clean emulator."""
    from awsdr.aws.context import AwsContext

    return AwsContext.from_boto3(endpoint_url=moto)


#: Modules that take minutes, longest first. They are scheduled before everything else (the
#: Makefile passes ``--no-loadscope-reorder``; xdist would otherwise order modules by test count,
#: which put these one- and two-test modules last, run after the short ones on a critical path
#: of their own). xdist hands each of the three workers one module, then a second: the four
#: Airflow stacks sit at places 1, 2, 4 and 5, so two run at once from the start (the
#: :data:`STACK_SLOTS`) and the third worker never starts by waiting for a slot.
#: Measured per module with ``make test PYTEST_ARGS=--durations=0``.
SLOW_FIRST = (
    "tests/e2e/test_postgres_celery.py",  # a stack
    "tests/e2e/test_backfill_postgres.py",  # a stack
    "tests/dags/test_failover_dag.py",
    "tests/e2e/test_standalone_cycle.py",  # a stack, after the first on its worker
    "tests/e2e/test_console_browser.py",  # a stack, after the second on its worker
    "tests/e2e/test_approval_rest.py",  # a stack (about 10 min under CI's load)
    "tests/dags/test_failover_strategies.py",
    "tests/soak/test_soak.py",
    "tests/dags/test_cycle_dags.py",
    "tests/aws/test_retention_run.py",
    "tests/aws/test_failover_ops.py",
    "tests/dags/test_failover_resume.py",
    "tests/aws/test_recorded_cycle.py",
    "tests/unit/test_retention_lifecycle.py",
    "tests/unit/test_retention.py",
    "tests/dags/test_backup_dag.py",
    "tests/dags/test_posture_dag.py",
    "tests/dags/test_vault_dags.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable


DAG_MODULES = tuple(p.stem for p in (ROOT / "dags").glob("dr_*.py"))


@pytest.fixture(autouse=True, scope="module")
def _fresh_dag_modules():
    """Each test module imports the DAG modules anew.

    A DAG module reads the policy (``AWSDR_POLICY``) when imported. Under ``--dist loadfile`` one
    process runs several modules: one that loaded ``dr_backup`` with its own policy (the vault
    tests) left it so for the next, whose run then selected none of its resources (CI, stop 19:
    the bench smoke saw no EBS copy). Dropped when each module ends.
    """
    yield
    for name in DAG_MODULES:
        sys.modules.pop(name, None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db():
    """Migrate the SQLite metadata DB once for the session (dag.test() needs it)."""
    subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"], check=True, env=os.environ.copy(), capture_output=True
    )


@pytest.fixture
def demo_estate(ctx, moto):
    """The demo estate of scripts/seed_demo.py on the clean emulator; returns the AwsContext."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    Seeder(moto).run()
    return ctx


@pytest.fixture
def failover_dags(airflow_db):
    """``(dr_failover, dr_failback)`` reloaded with the demo policy (tests/dags/test_failover_*.py)."""
    import importlib

    import dr_failback
    import dr_failover

    return importlib.reload(dr_failover), importlib.reload(dr_failback)


@pytest.fixture
def failover_estate(demo_estate, monkeypatch):
    """The demo estate with DR copies of its points, which a failover restores from."""
    from failover_support import make_dr_copies, widen_pitr

    widen_pitr(monkeypatch)
    make_dr_copies(demo_estate)
    return demo_estate


#: Airflow stacks (scheduler, dag-processor, triggerer, api-server, workers) that may run at once
#: under pytest-xdist: more than two on this machine's two cores starve each other's api-servers.
STACK_SLOTS = 2


@contextlib.contextmanager
def stack_slot():
    """Hold one of :data:`STACK_SLOTS` for the life of an Airflow stack (a lock file per slot,
    shared by the xdist processes of this run); outside xdist, nothing to wait for."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        yield
        return
    import fcntl

    while True:
        for n in range(STACK_SLOTS):
            handle = open(Path(tempfile.gettempdir()) / f"awsdr-stack-{run}-{n}.lock", "w")  # noqa: SIM115
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(2)
