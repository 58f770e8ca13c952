"""Production-shaped: PostgreSQL metadata DB and CeleryExecutor (Redis broker), each component its
own process, as a platform team deploys it.

A fresh database per run (dropped afterwards), a private Celery queue, free ports, and TWO Celery
workers (distinct ``--celery-hostname``, own log-server ports). One full cycle of the demo estate
must complete on them: the scheduler's catch-up backups, the copy DAG started by the backup's
Asset (an encrypted copy of every EBS point in the DR region), then a restore verification and a
retention run triggered through the REST API. The test asserts that both workers executed tasks
(each worker's own log names the task instances it ran, cross-checked against the REST API) and
that waits were deferred to the triggerer (its log shows triggers that ran and fired, and the
task instances that deferred resumed through their ``next_method`` on a worker).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import uuid
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from conftest import DR, PRIMARY, VENV_BIN, free_port, stack_slot, start_moto
from test_standalone_cycle import Api, _env, _health_ok, _runs, _wait

from awsdr.windows import TAG_COPY_OF

pytestmark = pytest.mark.e2e

PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
WORKERS = ("w1", "w2")
#: a Celery worker's line for each workload it runs (providers/celery executors/celery_executor_utils)
_EXECUTING = re.compile(
    r"Executing workload in Celery: .*?ti=TaskInstanceDTO\(id=UUID\('([^']+)'\), task_id='([^']+)', "
    r"dag_id='([^']+)', run_id='([^']+)', try_number=(\d+)"
)


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


def require_postgres() -> None:
    try:
        _psql("select 1")
    except (
        OSError,
        subprocess.CalledProcessError,
    ) as err:  # pragma: no cover - machines of this kind have it
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for this test: {err}")


def stop_all(procs: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
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


def stop_moto(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)  # a loaded machine can take more than 10 s
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def prod_stack():
    with stack_slot():  # at most two Airflow stacks at once under xdist
        yield from _prod_stack()


def _prod_stack():
    require_postgres()
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
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,  # private: parallel runs never share a queue
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "3",
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
    components: list[tuple[str, list[str], dict[str, str]]] = [
        ("api-server", ["api-server", "--port", str(api_port), "--host", "127.0.0.1"], {}),
        ("scheduler", ["scheduler"], {}),
        ("dag-processor", ["dag-processor"], {}),
        ("triggerer", ["triggerer"], {}),
    ]
    hostnames = {}
    for w in WORKERS:
        hostnames[w] = f"{w}-{suffix}@localhost"
        components.append(
            (
                w,
                [
                    "celery",
                    "worker",
                    "--queues",
                    queue,
                    "--concurrency",
                    "3",
                    "--celery-hostname",
                    hostnames[w],
                ],
                # each worker serves its task logs on its own port (both on one machine)
                {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
            )
        )
    procs = []
    for name, args, extra in components:
        log = (home / f"{name}.log").open("wb")
        procs.append(
            (
                name,
                subprocess.Popen(
                    [str(VENV_BIN / "airflow"), *args],
                    env={**env, **extra},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
            )
        )
    api = Api(api_port)
    try:
        _wait(lambda: _health_ok(api) is not None, 600, "api-server")  # slow on a loaded machine
        api.login()
        yield {"api": api, "moto": moto_url, "procs": procs, "home": home, "hostnames": hostnames}
    finally:
        try:
            stop_all(procs)
            stop_moto(moto_proc)
        finally:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _patient(pred):
    """A wait predicate that treats a slow or refused API answer as "not yet" (a loaded machine)."""

    def call():
        try:
            return pred()
        except (TimeoutError, ConnectionError, urllib.error.URLError) as err:
            if isinstance(err, urllib.error.HTTPError):
                raise
            return None

    return call


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _finished(api: Api, dag_id: str, run_id: str, timeout: float, what: str) -> dict:
    return _wait(
        _patient(
            lambda: (
                (r := api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))["state"] in ("success", "failed")
                and r
            )
        ),
        timeout,
        what,
        interval=5,
    )


def _task_instances(api: Api, dag_id: str, run_id: str) -> list[dict]:
    return api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")["task_instances"]


def _worker_workloads(home: Path, worker: str) -> list[tuple[str, str, str, str, int]]:
    """(ti id, dag_id, run_id, task_id, try) of every workload this worker's log says it executed."""
    text = (home / f"{worker}.log").read_text(errors="replace")
    return [(m[1], m[3], m[4], m[2], int(m[5])) for m in _EXECUTING.finditer(text)]


def test_full_cycle_on_two_celery_workers_with_deferred_waits(prod_stack):
    api, moto_url, home = prod_stack["api"], prod_stack["moto"], prod_stack["home"]
    t0 = time.monotonic()

    # 1. backup: the scheduler's own catch-up runs (both plans, unpaused at creation)
    _wait(
        _patient(lambda: _runs(api, "dr_backup_silver") or None),
        300,
        "dr_backup_silver to be parsed and scheduled",
    )
    backups = _wait(
        _patient(lambda: [r for r in _runs(api, "dr_backup_silver") if r["state"] == "success"]),
        600,
        "a successful dr_backup_silver run on the Celery workers",
        interval=5,
    )
    assert backups[0]["run_type"] == "scheduled"

    # 2. copy: started by the backup's Asset, every EBS point copied and encrypted
    copies = _wait(
        _patient(
            lambda: [
                r
                for r in _runs(api, "dr_copy_silver")
                if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")
            ]
        ),
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
    first_backup = min(backups, key=lambda r: r["start_date"])
    cycle = (_ts(copies[0]["end_date"]) - _ts(first_backup["start_date"])).total_seconds()
    print(f"\nbackup+copy cycle (silver, first backup start -> copy end): {cycle:.0f}s")

    # 3. verify: a restore of the newest DR copies, triggered through the REST API
    verify = api.post(
        "/api/v2/dags/dr_restore_verify/dagRuns", {"logical_date": None, "conf": {"plan": "silver"}}
    )
    verified = _finished(api, "dr_restore_verify", verify["dag_run_id"], 900, "the verify run")
    assert verified["state"] == "success", verified
    s3d = boto3.client(
        "s3", region_name=DR, endpoint_url=moto_url, aws_access_key_id="x", aws_secret_access_key="x"
    )
    keys = [
        o["Key"]
        for o in s3d.list_objects_v2(Bucket="awsdr-catalog", Prefix="verify/latest/silver/").get(
            "Contents", []
        )
    ]
    assert keys, "the verify run recorded no result"
    results = [json.loads(s3d.get_object(Bucket="awsdr-catalog", Key=k)["Body"].read()) for k in keys]
    assert all(r["passed"] for r in results), [r for r in results if not r["passed"]]
    assert "ebs" in {r["kind"] for r in results}

    # 4. retention: a real (not dry) pruning run through the REST API, with its report
    prune = api.post(
        "/api/v2/dags/dr_retention/dagRuns",
        {"logical_date": None, "conf": {"plan": "silver", "dry_run": False}},
    )
    pruned = _finished(api, "dr_retention", prune["dag_run_id"], 600, "the retention run")
    assert pruned["state"] == "success", pruned
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in prune["dag_run_id"])
    report = json.loads(
        s3d.get_object(Bucket="awsdr-catalog", Key=f"retention/reports/{safe}.json")["Body"].read()
    )
    assert report["kinds"], report
    # the newest point of every resource survives whatever retention decided
    after = ec2p.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]
    assert {t["Value"] for s in after for t in s["Tags"] if t["Key"] == "awsdr:source"} == {
        t["Value"] for s in points for t in s["Tags"] if t["Key"] == "awsdr:source"
    }
    print(f"full cycle (backup, copy, verify, retention) on the stack: {time.monotonic() - t0:.0f}s")

    # 5. both workers executed task instances of the cycle (every run of its DAGs: the catch-up
    #    backups of both plans, their copies, the verify and the retention run), and the API
    #    agrees they succeeded
    cycle_runs = [
        (dag_id, r["dag_run_id"])
        for dag_id in (
            "dr_backup_silver",
            "dr_backup_gold",
            "dr_copy_silver",
            "dr_copy_gold",
            "dr_restore_verify",
            "dr_retention",
        )
        for r in _runs(api, dag_id)
        if r["state"] == "success"
    ]
    assert ("dr_retention", prune["dag_run_id"]) in cycle_runs
    tis = {
        (dag_id, run_id, ti["task_id"]): ti
        for dag_id, run_id in cycle_runs
        for ti in _task_instances(api, dag_id, run_id)
    }
    workloads = {w: _worker_workloads(home, w) for w in WORKERS}
    ran = {w: {(d, r, t) for _, d, r, t, _ in workloads[w]} for w in WORKERS}
    for w in WORKERS:
        assert ran[w], f"worker {w} ran no task at all"
    ran_in_cycle = {w: ran[w] & tis.keys() for w in WORKERS}
    assert all(ran_in_cycle.values()), {w: sorted(v) for w, v in ran_in_cycle.items()}
    for key in ran_in_cycle["w1"] | ran_in_cycle["w2"]:
        assert tis[key]["state"] in ("success", "skipped"), tis[key]
    # every task of the cycle that succeeded ran on one of the two workers
    succeeded = {k for k, ti in tis.items() if ti["state"] == "success"}
    assert succeeded <= ran["w1"] | ran["w2"], succeeded - (ran["w1"] | ran["w2"])
    print({w: len(v) for w, v in ran_in_cycle.items()}, "task instances of the cycle per worker")

    # 6. waits were deferred: the triggerer fired the trigger of a task instance of the cycle
    #    (its trigger log, next to the task's log), and a worker then ran that task instance a
    #    second time in the same try (its next_method), which ended in success
    fired = {}
    for path in (home / "logs").rglob("*.log.trigger.*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"event":"Trigger fired event"' in line:
                rec = json.loads(line)
                fired[rec["ti_id"]] = (rec["dag_id"], rec["run_id"], rec["task_id"], rec["try_number"])
    assert fired, "the triggerer fired no trigger"
    executions: dict[tuple[str, int], list[str]] = {}
    for w in WORKERS:
        for ti_id, _d, _r, _t, attempt in workloads[w]:
            executions.setdefault((ti_id, attempt), []).append(w)
    deferred_in_cycle = {ti_id: key for ti_id, key in fired.items() if key[:3] in tis}
    assert deferred_in_cycle, (fired, sorted(tis))
    for ti_id, (dag_id, run_id, task_id, attempt) in deferred_in_cycle.items():
        assert len(executions.get((ti_id, attempt), [])) >= 2, (task_id, executions.get((ti_id, attempt)))
        assert tis[(dag_id, run_id, task_id)]["state"] == "success", tis[(dag_id, run_id, task_id)]
    print(
        f"triggers fired: {len(fired)}; deferred in the cycle: "
        f"{sorted({(k[0], k[2]): executions[(i, k[3])] for i, k in deferred_in_cycle.items()}.items())}"
    )

    health = api.get("/api/v2/monitor/health")
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", (component, health)
    for name, p in prod_stack["procs"]:
        assert p.poll() is None, f"{name} exited"
