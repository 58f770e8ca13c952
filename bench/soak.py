"""``make soak``: months of simulated time through every DAG's own code, on the emulator.

Each scenario (a policy and an estate) runs in its own process with its own moto server
(``scripts/moto_server.py``); scenarios run side by side, one per CPU core (``--jobs``). The DAG files are loaded from the DagBag; every DAG runs on its own
schedule from the policy, and each run executes the DAG's real tasks in dependency order with
their trigger rules: the operator is copied for execution as Airflow does
(``prepare_for_execution``), its template fields (XComArgs) are rendered from a per-run XCom
store, ``execute()`` is called with a minimal context, a ``TaskDeferred`` moves the simulated
clock to the trigger's moment and resumes the method it names (the emulator finishes snapshots and
copies at once), and a failure is retried ``retries`` times like the scheduler would (not an
``AirflowFailException``). The clock is simulated twice over: in this process with
``time-machine`` (``datetime.now(tz=UTC)``, ``time.time()``) and in the emulator through its
``/awsdr-api/clock`` endpoint, so snapshot times, S3 versions and DynamoDB's PITR window follow the
simulation.

Schedules: ``dr_backup_<plan>`` on the plan's ``schedule``; ``dr_copy_<plan>`` after every backup
run whose ``write_manifest`` succeeded (the Asset) and on ``copy_schedule``; ``dr_retention`` at
02:15 as a scheduled run (so it deletes); ``dr_restore_verify`` on each plan's
``verify.schedule``; ``dr_posture`` every ``--posture-minutes``: 360 by default, not the deployed
15. Posture only reads the estate and writes ``posture/`` documents no other DAG reads, so its
cadence cannot change what the lifecycle does; each run lists every point of every kind in
every region and costs about as much as a backup run, so at 15 minutes it would be most of the
soak's time. The soak measures DR-side RPO itself (below) and reports
posture's own worst RPO per day beside it.
Runs due at the same instant go backup, copy, retention, verify, posture. Not run: the manual
failover/failback DAGs and the weekly failover drill.

Measured by the harness itself (its own listings, not the DAGs' reports): points per resource
and region before and after each retention run and at the end of each day, copies made and
re-copies of points whose copy retention had deleted (from a DR listing after every copy run),
DR-side RPO (the age of the newest DR copy just before each copy run completes, and at day end),
leftovers of verify runs (a DR listing after every verify run). From the DAGs' XComs: deletes,
breaker trips, copy failures (quota errors among them). Run states: failed retention and copy runs.
Cost: wall and CPU seconds (harness and emulator) and every AWS API call by operation.

Usage::

    python bench/soak.py                 # both scenarios, 90 days each (make soak)
    python bench/soak.py --days 14 --scenarios demo
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent

#: the allowance for copy lag on top of the plan's RPO: the product's own ``late_after`` default.
#: The emulator finishes a copy at once, so the measured lag is the runs' own execution time.
COPY_LAG_ALLOWANCE = timedelta(minutes=15)
#: copy failures that are quota or throttling errors (a queue, never a failure, by design)
QUOTA_ERROR = re.compile(r"quota|limit ?exceeded|throttl|toomany|too many|concurrent\w*limit", re.I)


@dataclass(frozen=True)
class Scenario:
    name: str
    policy: Path
    estate: str  # "demo" (scripts/seed_demo.py) or "small" (one resource of each type, gold)
    description: str


SCENARIOS = {
    "demo": Scenario(
        "demo",
        ROOT / "include" / "dr_policy.yaml",
        "demo",
        "the shipped demo policy (gold hourly, silver daily) on the demo estate",
    ),
    "hourly": Scenario(
        "hourly",
        ROOT / "bench" / "soak_hourly_policy.yaml",
        "demo",
        "hourly windows, DR dailies, one copy slot per type (bench/soak_hourly_policy.yaml)",
    ),
    "ci": Scenario(
        "ci",
        ROOT / "bench" / "soak_ci_policy.yaml",
        "small",
        "the CI soak: 4-hourly windows, small GFS counts, one resource per type (bench/soak_ci_policy.yaml)",
    ),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# the emulator and the clock
# --------------------------------------------------------------------------------------------


def start_emulator(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(BIN / "python"), str(ROOT / "scripts" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "MOTO_RECORDER_FILEPATH": str(log_path.with_suffix(".recording")),
            # moto's few hundred default AMIs (and their snapshots) make every DescribeSnapshots
            # ~40x slower (112 ms against 2.5 ms, measured); the estate launches from its own image
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        },
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/awsdr-api/clock", timeout=1).read()
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"emulator on port {port} did not start; see {log_path}")


class SimClock:
    """One simulated clock for this process (time-machine) and the emulator (its clock endpoint).

    Both tick at the real pace from the instant they were moved to, so a task that takes two
    seconds of real time captures two seconds after its window, as it would in production.
    The clock never goes backwards: a run due while another was still running starts late.
    """

    def __init__(self, endpoint: str, start: datetime) -> None:
        import time_machine

        self.endpoint = endpoint
        self._traveller = time_machine.travel(start, tick=True)
        self._coords = self._traveller.start()
        self._emulator(start)

    def now(self) -> datetime:
        return datetime.now(tz=UTC)

    def advance_to(self, when: datetime) -> datetime:
        if when > self.now():
            self._coords.move_to(when)
            self._emulator(when)
        return self.now()

    def _emulator(self, when: datetime | None) -> None:
        body = json.dumps({"now": when.isoformat() if when else None}).encode()
        req = urllib.request.Request(f"{self.endpoint}/awsdr-api/clock", data=body, method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        self._traveller.stop()
        with contextlib.suppress(OSError):
            self._emulator(None)


# --------------------------------------------------------------------------------------------
# running a DAG run through the DAG's own tasks
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """XCom values go through serialization in Airflow; a JSON round trip keeps us as strict."""
    return json.loads(json.dumps(value, default=str))


class SimTaskInstance:
    """The part of a task instance the operators use: XCom within the run, ids, try number."""

    def __init__(self, store: dict[tuple[str, str], Any], dag_id: str, task_id: str, run_id: str) -> None:
        self._store = store
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = -1
        self.try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        self._store[(self.task_id, key)] = _jsonable(value)

    def xcom_pull(
        self, task_ids: Any = None, key: str = "return_value", default: Any = None, **_: Any
    ) -> Any:
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            return self._store.get((task_ids, key), default)
        return [self._store.get((t, key), default) for t in task_ids]


@dataclass
class SimDagRun:
    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime
    conf: dict[str, Any] = field(default_factory=dict)
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    run_type: str
    at: str
    state: str
    tasks: dict[str, str]
    errors: dict[str, str]
    xcom: dict[str, Any]
    seconds: float
    retries: int
    deferrals: int


FAILED_STATES = ("failed", "upstream_failed")


class DagRunner:
    """Executes DAG runs task by task, like the scheduler and a worker would, without a database."""

    def __init__(self, clock: SimClock, shared: dict[str, Any], max_deferrals: int = 500) -> None:
        self.clock = clock
        self.shared = shared  # cached properties every DrBaseOperator would build: policy, ctx
        self.max_deferrals = max_deferrals

    @staticmethod
    def _order(dag: Any) -> list[Any]:
        tasks = dict(dag.task_dict)
        indeg = {t: len(tasks[t].upstream_task_ids) for t in tasks}
        ready = sorted(t for t, d in indeg.items() if d == 0)
        out = []
        while ready:
            t = ready.pop(0)
            out.append(tasks[t])
            for d in sorted(tasks[t].downstream_task_ids):
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
        return out

    @staticmethod
    def _should_run(task: Any, states: dict[str, str]) -> str | None:
        """None: run it; else the state it gets without running (trigger rules in use here)."""
        ups = [states[u] for u in task.upstream_task_ids]
        rule = str(getattr(task.trigger_rule, "value", task.trigger_rule))
        if rule == "all_done":
            return None
        if rule == "all_done_setup_success":
            setups = [states[u] for u in task.upstream_task_ids if task.dag.task_dict[u].is_setup]
            return None if all(s == "success" for s in setups) else "skipped"
        if rule == "all_success":
            if any(s in FAILED_STATES for s in ups):
                return "upstream_failed"
            if any(s == "skipped" for s in ups):
                return "skipped"
            return None
        raise NotImplementedError(f"{task.task_id}: trigger rule {rule} is not simulated")

    def run(
        self,
        dag: Any,
        *,
        run_type: str,
        logical_date: datetime | None,
        conf: dict[str, Any] | None = None,
    ) -> RunResult:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskDeferred

        started = time.perf_counter()
        now = self.clock.now()
        stamp = (logical_date or now).isoformat()
        run_id = f"{run_type}__{stamp}"
        dag_run = SimDagRun(
            dag_id=dag.dag_id,
            run_id=run_id,
            run_type=run_type,
            logical_date=logical_date,
            run_after=logical_date or now,
            conf=dict(conf or {}),
            data_interval_start=logical_date,
            data_interval_end=logical_date,
        )
        params = {**dag.params.dump(), **(conf or {})}
        store: dict[tuple[str, str], Any] = {}
        states: dict[str, str] = {}
        errors: dict[str, str] = {}
        retries = deferrals = 0
        for task in self._order(dag):
            skip_as = self._should_run(task, states)
            if skip_as is not None:
                states[task.task_id] = skip_as
                continue
            attempts = 1 + max(0, int(task.retries or 0))
            for attempt in range(1, attempts + 1):
                ti = SimTaskInstance(store, dag.dag_id, task.task_id, run_id)
                ti.try_number = attempt
                context: dict[str, Any] = {
                    "dag": dag,
                    "task": task,
                    "ti": ti,
                    "task_instance": ti,
                    "params": dict(params),
                    "dag_run": dag_run,
                    "run_id": run_id,
                    "logical_date": logical_date,
                    "data_interval_start": logical_date,
                    "data_interval_end": logical_date,
                    "ts": stamp,
                    "conf": {},
                    "triggering_asset_events": {},
                }
                op = task.prepare_for_execution()
                for name, value in self.shared.items():
                    if hasattr(type(op), name):
                        op.__dict__[name] = value
                try:
                    op.render_template_fields(context)
                    try:
                        result = op.execute(context)
                    except TaskDeferred as deferred:
                        result, n = self._deferred(op, context, deferred, TaskDeferred)
                        deferrals += n
                    if op.do_xcom_push and result is not None:
                        if getattr(op, "multiple_outputs", False):
                            for k, v in result.items():
                                ti.xcom_push(k, v)
                        ti.xcom_push("return_value", result)
                    states[task.task_id] = "success"
                    break
                except AirflowSkipException:
                    states[task.task_id] = "skipped"
                    break
                except AirflowFailException as err:
                    states[task.task_id] = "failed"
                    errors[task.task_id] = f"{type(err).__name__}: {err}"[:2000]
                    break
                except Exception as err:
                    states[task.task_id] = "failed"
                    errors[task.task_id] = f"{type(err).__name__}: {err}"[:2000]
                    if attempt < attempts:
                        retries += 1
                        delay = task.retry_delay if isinstance(task.retry_delay, timedelta) else timedelta(0)
                        self.clock.advance_to(self.clock.now() + delay)
        leaves = [
            t.task_id for t in dag.tasks if not t.downstream_task_ids and not getattr(t, "is_teardown", False)
        ]
        failed = any(states.get(t) in FAILED_STATES for t in leaves)
        return RunResult(
            dag_id=dag.dag_id,
            run_id=run_id,
            run_type=run_type,
            at=now.isoformat(),
            state="failed" if failed else "success",
            tasks=states,
            errors=errors,
            xcom={t: v for (t, k), v in store.items() if k == "return_value"},
            seconds=time.perf_counter() - started,
            retries=retries,
            deferrals=deferrals,
        )

    def _deferred(
        self, op: Any, context: dict[str, Any], deferred: Any, deferred_type: type
    ) -> tuple[Any, int]:
        """Wait for the trigger in simulated time, then resume the method it names (repeatedly)."""
        n = 0
        while True:
            n += 1
            if n > self.max_deferrals:
                raise RuntimeError(f"{op.task_id}: still deferring after {self.max_deferrals} resumes")
            moment = getattr(deferred.trigger, "moment", None)
            if moment is not None:
                self.clock.advance_to(moment)
            kwargs = _jsonable(deferred.kwargs or {})
            try:
                return op.resume_execution(deferred.method_name, kwargs, context), n
            except deferred_type as again:
                deferred = again


# --------------------------------------------------------------------------------------------
# the schedule
# --------------------------------------------------------------------------------------------

#: order of runs due at the same instant
PRIORITY = {"backup": 0, "copy": 1, "retention": 2, "verify": 3, "posture": 4}


def cron_ticks(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    from zoneinfo import ZoneInfo

    from croniter import croniter

    it = croniter(expr, start.astimezone(ZoneInfo(tz)) - timedelta(seconds=1))
    out = []
    while True:
        t = it.get_next(datetime).astimezone(UTC)
        if t >= end:
            return out
        out.append(t)


def build_schedule(policy: Any, start: datetime, end: datetime, posture_minutes: int) -> list[tuple]:
    """(when, priority, family, dag_id, plan) for every scheduled run in [start, end)."""
    events: list[tuple] = []
    tz = policy.timezone
    for name, plan in policy.plans.items():
        for t in cron_ticks(plan.schedule, tz, max(start, plan.start_date), end):
            events.append((t, PRIORITY["backup"], "backup", f"dr_backup_{name}", name))
        for t in cron_ticks(plan.copy_schedule, tz, start, end):
            events.append((t, PRIORITY["copy"], "copy", f"dr_copy_{name}", name))
    for t in cron_ticks("15 2 * * *", tz, start, end):
        events.append((t, PRIORITY["retention"], "retention", "dr_retention", None))
    for expr in sorted({p.verify.schedule for p in policy.plans.values()}):
        for t in cron_ticks(expr, tz, start, end):
            events.append((t, PRIORITY["verify"], "verify", "dr_restore_verify", None))
    for t in cron_ticks(
        f"*/{posture_minutes} * * * *" if posture_minutes < 60 else "0 * * * *", tz, start, end
    ):
        if posture_minutes <= 60 or (t - start) % timedelta(minutes=posture_minutes) == timedelta(0):
            events.append((t, PRIORITY["posture"], "posture", "dr_posture", None))
    return sorted(set(events), key=lambda e: (e[0], e[1], e[3]))


# --------------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------------


def _size_bytes(p: Any) -> int:
    d = p.details or {}
    if d.get("size_bytes"):
        return int(d["size_bytes"])
    if d.get("size_gib"):
        return int(float(d["size_gib"]) * 2**30)
    return 0


class Observer:
    """The harness's own view of the estate: listings, counts, RPO, copies, leftovers."""

    def __init__(self, policy: Any, ctx: Any) -> None:
        from awsdr.kinds import kind_for

        self.policy = policy
        self.ctx = ctx
        self.regions = [policy.primary_region, *policy.dr_regions]
        self.kinds = sorted({k for p in policy.plans.values() for k in p.select.types})
        self._kind = {k: kind_for(k, policy) for k in self.kinds}
        self.copy_ids: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (region, kind, copy_of)
        self.alive: set[tuple[str, str, str]] = set()  # (region, kind, copy id) last seen
        self.newest_dr: dict[tuple[str, str, str, str], datetime] = {}  # (plan, kind, source, region)
        self.first_copy_at: dict[str, datetime] = {}
        self.days: dict[date, dict[str, Any]] = {}

    def day(self, when: datetime) -> dict[str, Any]:
        d = when.date()
        if d not in self.days:
            self.days[d] = {
                "date": d.isoformat(),
                "samples": [],
                "copies_made": 0,
                "recopies": 0,
                "recopied": [],
                "deletes": {r: 0 for r in self.regions},
                "breaker_trips": 0,
                "breaker_groups": [],
                "retention_runs": [],
                "copy_runs": 0,
                "copy_runs_failed": 0,
                "copy_failures": 0,
                "quota_failures": [],
                "backup_runs_failed": 0,
                "verify_runs": [],
                "verify_leftovers": [],
                "posture_runs": 0,
                "posture_runs_failed": 0,
                "posture_worst_rpo": {},
                "rpo_samples": {},
                "task_errors": [],
                "retries": 0,
                "deferrals": 0,
            }
        return self.days[d]

    # --- listings ------------------------------------------------------------------------------

    def list_region(self, region: str, kinds: list[str] | None = None) -> list[Any]:
        from concurrent.futures import ThreadPoolExecutor

        names = kinds or self.kinds
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            listed = list(pool.map(lambda k: self._kind[k].list_points(self.ctx, region, None), names))
        return [p for points in listed for p in points if p.plan in self.policy.plans]

    def sample(self, when: datetime, label: str) -> dict[str, Any]:
        """Points per (plan, kind, source, region) and storage, from one listing of every region."""
        counts: dict[str, dict[str, list[int]]] = {}
        per_resource: dict[tuple[str, str, str, str], int] = defaultdict(int)
        gib: dict[str, float] = {r: 0.0 for r in self.regions}
        newest: dict[tuple[str, str, str, str], datetime] = {}
        for region in self.regions:
            for p in self.list_region(region):
                per_resource[(p.plan, p.kind, p.source_id, region)] += 1
                gib[region] += _size_bytes(p) / 2**30
                self._see(p, when)
                if (
                    region != self.policy.primary_region
                    and "awsdr:copy-of" in p.tags
                    and p.status == "available"
                ):
                    key = (p.plan, p.kind, p.source_id, region)
                    if key not in newest or p.window > newest[key]:
                        newest[key] = p.window
        self._advance(newest, when)
        for (plan, _kind, _source, region), n in per_resource.items():
            counts.setdefault(plan, {}).setdefault(region, []).append(n)
        out = {
            "at": when.isoformat(),
            "label": label,
            "points": {
                plan: {
                    r: {"max": max(v), "mean": round(sum(v) / len(v), 2), "resources": len(v)}
                    for r, v in by.items()
                }
                for plan, by in counts.items()
            },
            "gib": {r: round(v, 1) for r, v in gib.items()},
        }
        self.day(when)["samples"].append(out)
        return out

    def _see(self, p: Any, when: datetime) -> bool:
        """Track a listed DR copy; True when it is a new copy."""
        copy_of = p.tags.get("awsdr:copy-of")
        if not copy_of or p.region == self.policy.primary_region:
            return False
        key = (p.region, p.kind, copy_of)
        ident = (p.region, p.kind, p.point_id)
        is_new = p.point_id not in self.copy_ids[key]
        if is_new:
            made = p.created_at if p.created_at is not None and p.created_at <= when else when
            day = self.day(made)  # the emulator's clock is the simulated one: creation times are too
            if self.copy_ids[key]:  # an earlier copy of the same point existed and is gone
                day["recopies"] += 1
                day["recopied"].append(f"{p.kind}:{copy_of}@{p.region}")
            self.copy_ids[key].add(p.point_id)
            day["copies_made"] += 1
            self.first_copy_at.setdefault(p.plan, when)
        self.alive.add(ident)
        return is_new

    def after_copy_run(self, plan: str, when: datetime, xcom: dict[str, Any]) -> None:
        """The RPO just before this run's copies completed: the age of the newest copy before it.

        From the copy tasks' own lists of complete copies (a DR listing of every kind after
        every copy run would cost about as much as the runs themselves). The listings before and after each retention run and at day end are the harness's
        own and move the same newest-copy marks, so a copy report that claimed more than AWS
        holds would show there.
        """
        newest: dict[tuple[str, str, str, str], datetime] = {}
        for task, out in xcom.items():
            if not task.startswith("copy_") or not isinstance(out, dict):
                continue
            for c in out.get("copies", []):
                if c.get("status") != "available" or c.get("region") == self.policy.primary_region:
                    continue
                key = (plan, out.get("kind", task[5:]), c["source"], c["region"])
                window = datetime.fromisoformat(c["window"].replace("Z", "+00:00"))
                if key not in newest or window > newest[key]:
                    newest[key] = window
        self._advance(newest, when)

    def _advance(self, newest: dict[tuple[str, str, str, str], datetime], when: datetime) -> None:
        for key, window in newest.items():
            before = self.newest_dr.get(key)
            if before is not None and window > before:
                self._rpo(key[0], when, when - before)  # the sawtooth's peak: just before this copy
            self.newest_dr[key] = max(window, before) if before else window

    def _rpo(self, plan: str, when: datetime, age: timedelta) -> None:
        samples = self.day(when)["rpo_samples"]
        samples[plan] = max(samples.get(plan, 0.0), age.total_seconds())

    def end_of_day(self, when: datetime) -> None:
        self.sample(when, "end of day")
        for (plan, _k, _s, _r), window in self.newest_dr.items():
            self._rpo(plan, when, when - window)

    def leftovers(self) -> list[str]:
        """Temporary resources of verify runs still present in the DR regions (should be none)."""
        found: list[str] = []
        tag = "awsdr:verify-run"
        for region in self.policy.dr_regions:
            ec2 = self.ctx.client("ec2", region)
            for v in ec2.describe_volumes(Filters=[{"Name": "tag-key", "Values": [tag]}])["Volumes"]:
                found.append(f"volume {v['VolumeId']}@{region}")
            for r in ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": [tag]}])["Reservations"]:
                for i in r["Instances"]:
                    if i["State"]["Name"] not in ("terminated", "shutting-down"):
                        found.append(f"instance {i['InstanceId']}@{region}")
            rds = self.ctx.client("rds", region)
            for d in rds.describe_db_instances()["DBInstances"]:
                if any(t["Key"] == tag for t in d.get("TagList", [])):
                    found.append(f"db {d['DBInstanceIdentifier']}@{region}")
            for c in rds.describe_db_clusters()["DBClusters"]:
                if any(t["Key"] == tag for t in c.get("TagList", [])):
                    found.append(f"cluster {c['DBClusterIdentifier']}@{region}")
            for t in self.ctx.client("dynamodb", region).list_tables()["TableNames"]:
                if t.startswith("awsdr-v"):
                    found.append(f"table {t}@{region}")
        return found

    # --- run outcomes (from the runs' states and XComs) ------------------------------------------

    def record(self, family: str, plan: str | None, res: RunResult, when: datetime) -> None:
        day = self.day(when)
        day["retries"] += res.retries
        day["deferrals"] += res.deferrals
        for task, err in res.errors.items():
            if len(day["task_errors"]) < 20:
                day["task_errors"].append(f"{res.dag_id}.{task}: {err[:300]}")
        if family == "backup":
            day["backup_runs_failed"] += res.state == "failed"
        elif family == "copy":
            day["copy_runs"] += 1
            day["copy_runs_failed"] += res.state == "failed"
            for task, out in res.xcom.items():
                if task.startswith("copy_") and isinstance(out, dict):
                    for f in out.get("failures", []):
                        day["copy_failures"] += 1
                        if QUOTA_ERROR.search(str(f.get("error", ""))):
                            day["quota_failures"].append(
                                f"{f.get('kind')}:{f.get('point')}: {f.get('error')}"
                            )
            for task, err in res.errors.items():
                if QUOTA_ERROR.search(err):
                    day["quota_failures"].append(f"{task}: {err[:300]}")
        elif family == "retention":
            blocked = 0
            for task, out in res.xcom.items():
                if not task.startswith("prune_") or not isinstance(out, dict):
                    continue
                for run in out.get("runs", []):
                    blocked += len(run.get("blocked", {}))
                    day["breaker_groups"] += [
                        f"{run['plan']}/{out['kind']} {g}" for g in run.get("blocked", {})
                    ][:20]
                    for region, s in run.get("summary", {}).get("by_region", {}).items():
                        day["deletes"][region] = day["deletes"].get(region, 0) + int(s.get("deleted", 0))
            day["breaker_trips"] += blocked
            day["retention_runs"].append(
                {"state": res.state, "tasks": res.tasks, "seconds": round(res.seconds, 2)}
            )
        elif family == "verify":
            left = self.leftovers()
            day["verify_runs"].append({"state": res.state, "seconds": round(res.seconds, 2)})
            day["verify_leftovers"] += left
        elif family == "posture":
            day["posture_runs"] += 1
            day["posture_runs_failed"] += res.state == "failed"
            out = res.xcom.get("posture") or {}
            for plan_name, summary in (out.get("plans") or {}).items():
                worst = summary.get("worst_rpo_age_seconds") or 0
                prev = day["posture_worst_rpo"].get(plan_name, 0)
                day["posture_worst_rpo"][plan_name] = max(prev, worst)


# --------------------------------------------------------------------------------------------
# one scenario (runs in a child process)
# --------------------------------------------------------------------------------------------


def child_env(home: Path, endpoint: str, policy: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": "ap-northeast-2"}}
        ),
        "AWS_ACCESS_KEY_ID": "soak",
        "AWS_SECRET_ACCESS_KEY": "soak",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWSDR_POLICY": str(policy),
        "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT / 'dags'}",
    }


def seeder(endpoint: str) -> Any:
    """scripts/seed_demo.py's Seeder on an emulator without moto's default AMIs.

    The estate launches its instances from ``amazon``-owned images; here the answer to that
    one question is an image registered in the region first. Everything else is the demo's.
    """
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    class SoakSeeder(Seeder):
        def c(self, service: str, region: str = "ap-northeast-2") -> Any:
            fresh = (service, region) not in self.clients
            client = super().c(service, region)
            if service == "ec2" and fresh:
                base = client.register_image(
                    Name="awsdr-soak-base",
                    RootDeviceName="/dev/xvda",
                    BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
                )["ImageId"]

                def amazon_images(parsed: dict[str, Any], **_: Any) -> None:
                    if not parsed.get("Images"):
                        parsed["Images"] = [{"ImageId": base}]

                client.meta.events.register("after-call.ec2.DescribeImages", amazon_images)
            return client

    return SoakSeeder(endpoint)


def seed_small(endpoint: str) -> None:
    """One gold resource of each type (the CI soak): the demo seeder's own methods, fewer calls."""
    s = seeder(endpoint)
    from seed_demo import DR, PRIMARY

    gold = {"dr-plan": "gold", "app": "orders"}
    s.volume("orders-data-0", 8, gold)
    s.volume("scratch-untagged", 2, {"app": "scratch"})
    s.instance("orders-web-0", gold)
    s.rds("orders-db", gold)
    s.aurora("ledger", gold)
    s.table("orders", gold, items=20)
    s.bucket("awsdr-demo-orders-assets", PRIMARY, gold, objects=4, versioned=True)
    s.repository("orders/web", gold, images=2)
    s.function("orders-api", gold)
    s.bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    s.kms_alias(DR, "alias/awsdr")


def seed(estate: str, endpoint: str) -> None:
    if estate == "small":
        seed_small(endpoint)
        return
    seeder(endpoint).run()


def simulate(
    *,
    name: str,
    policy_path: Path,
    estate: str,
    endpoint: str,
    start: datetime,
    days: int,
    posture_minutes: int,
    progress: Any = None,
    progress_runs: bool = False,
) -> dict[str, Any]:
    """Run every DAG of the policy on its schedule for ``days`` simulated days; the measurements."""
    logging.disable(logging.WARNING)  # the operators' INFO logs; errors are collected per run
    clock = SimClock(endpoint, start - timedelta(minutes=5))
    try:
        seed(estate, endpoint)
        from airflow.dag_processing.dagbag import DagBag

        from awsdr.aws.context import AwsContext, default_config
        from awsdr.policy import load_policy

        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            bag = DagBag(dag_folder=str(ROOT / "dags"))
        if bag.import_errors:
            raise RuntimeError(f"DAG import errors: {bag.import_errors}")
        policy = load_policy(policy_path)
        ctx = AwsContext.from_connection(
            "aws_default", config=default_config(max_pool=policy.region_concurrency + 4)
        )
        runner = DagRunner(clock, {"policy": policy, "ctx": ctx})
        obs = Observer(policy, ctx)
        end = start + timedelta(days=days)
        events = build_schedule(policy, start, end, posture_minutes)
        counts: dict[str, int] = defaultdict(int)
        seconds: dict[str, float] = defaultdict(float)
        wall0 = time.perf_counter()
        next_day_end = start + timedelta(days=1)

        def run(
            family: str, dag_id: str, plan: str | None, run_type: str, logical: datetime | None
        ) -> RunResult:
            when = clock.now()
            if family == "retention":
                obs.sample(when, "before retention")
            res = runner.run(bag.dags[dag_id], run_type=run_type, logical_date=logical)
            counts[family] += 1
            seconds[family] += res.seconds
            obs.record(family, plan, res, when)
            if family == "copy":
                assert plan is not None
                obs.after_copy_run(plan, clock.now(), res.xcom)
            if progress_runs:
                print(f"  {when:%m-%d %H:%M} {dag_id:20} {res.state:8} {res.seconds:6.2f}s", file=sys.stderr)
            if family == "retention":
                obs.sample(clock.now(), "after retention")
            return res

        for when, _prio, family, dag_id, plan in events:
            while when >= next_day_end:
                clock.advance_to(next_day_end - timedelta(seconds=1))
                obs.end_of_day(clock.now())
                if progress:
                    progress(
                        name,
                        obs.days[(next_day_end - timedelta(seconds=1)).date()],
                        time.perf_counter() - wall0,
                    )
                next_day_end += timedelta(days=1)
            clock.advance_to(when)
            res = run(family, dag_id, plan, "scheduled", when)
            if family == "backup" and res.tasks.get("write_manifest") == "success":
                assert plan is not None
                run("copy", f"dr_copy_{plan}", plan, "asset_triggered", None)  # the backup's Asset
        while next_day_end <= end:
            clock.advance_to(next_day_end - timedelta(seconds=1))
            obs.end_of_day(clock.now())
            if progress:
                progress(
                    name, obs.days[(next_day_end - timedelta(seconds=1)).date()], time.perf_counter() - wall0
                )
            next_day_end += timedelta(days=1)
        wall = time.perf_counter() - wall0
    finally:
        clock.stop()
    return {
        "scenario": name,
        "policy": str(policy_path.relative_to(ROOT))
        if policy_path.is_relative_to(ROOT)
        else str(policy_path),
        "estate": estate,
        "start": start.isoformat(),
        "days": days,
        "posture_minutes": posture_minutes,
        "plans": {
            n: {
                "schedule": p.schedule,
                "copy_schedule": p.copy_schedule,
                "rpo_seconds": p.rpo.total_seconds(),
                "windows_per_day": len(
                    cron_ticks(p.schedule, policy.timezone, start, start + timedelta(days=1))
                ),
                "retention": {
                    "primary": {g: getattr(p.retention.primary, g, 0) or 0 for g in GFS},
                    "dr": {g: getattr(p.retention.dr, g, 0) or 0 for g in GFS},
                },
                "first_copy_at": obs.first_copy_at[n].isoformat() if n in obs.first_copy_at else None,
            }
            for n, p in policy.plans.items()
        },
        "primary_region": policy.primary_region,
        "dr_regions": list(policy.dr_regions),
        "runs": dict(counts),
        "run_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # CPU time of this process (the DAGs' code and the harness; the emulator's is added by the parent)
        "cpu_seconds": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1),
        "days_detail": [obs.days[d] for d in sorted(obs.days)],
    }


GFS = ("hourly", "daily", "weekly", "monthly", "yearly")


# --------------------------------------------------------------------------------------------
# invariants, table, plot
# --------------------------------------------------------------------------------------------


def point_bound(plan: dict[str, Any], region_class: str) -> int:
    """What the policy keeps per resource and region, plus the slack (see ``make soak`` notes).

    Kept: at most one point per GFS slot (the sum of the counts; representatives shared between
    granularities only make it smaller) plus the newest verified copy, which rule 5 keeps even
    outside GFS. Slack: the windows of one day, made between two daily retention runs.
    """
    return sum(plan["retention"][region_class].values()) + 1 + plan["windows_per_day"]


def check(result: dict[str, Any]) -> list[str]:
    """Every invariant on every simulated day; returns the violations (empty: all hold)."""
    problems: list[str] = []
    primary = result["primary_region"]
    for day in result["days_detail"]:
        d = day["date"]
        runs = day["retention_runs"]
        if not runs:
            problems.append(f"{d}: no retention run")
        for r in runs:
            if r["state"] != "success":
                failed = {t: s for t, s in r["tasks"].items() if s != "success"}
                problems.append(f"{d}: retention run {r['state']} ({failed})")
        if day["breaker_trips"]:
            problems.append(f"{d}: {day['breaker_trips']} breaker trips, e.g. {day['breaker_groups'][:2]}")
        for s in day["samples"]:
            for plan, by_region in s["points"].items():
                for region, c in by_region.items():
                    cls = "primary" if region == primary else "dr"
                    bound = point_bound(result["plans"][plan], cls)
                    if c["max"] > bound:
                        problems.append(
                            f"{d}: {plan} {region} has {c['max']} points for one resource ({s['label']}), "
                            f"bound {bound}"
                        )
        if day["recopies"]:
            problems.append(f"{d}: {day['recopies']} re-copies of pruned points, e.g. {day['recopied'][:2]}")
        for plan, age in day["rpo_samples"].items():
            first = result["plans"][plan]["first_copy_at"]
            limit = result["plans"][plan]["rpo_seconds"] + COPY_LAG_ALLOWANCE.total_seconds()
            if first and first[:10] <= d and age > limit:
                problems.append(f"{d}: {plan} DR-side RPO {age / 3600:.2f} h > {limit / 3600:.2f} h")
        if day["quota_failures"]:
            problems.append(f"{d}: quota errors reported as failures: {day['quota_failures'][:2]}")
        if day["verify_leftovers"]:
            problems.append(f"{d}: verify leftovers: {day['verify_leftovers'][:3]}")
    return problems


def day_row(result: dict[str, Any], day: dict[str, Any]) -> list[str]:
    primary, dr = result["primary_region"], result["dr_regions"][0]

    def pts(region: str) -> str:
        best = None
        for s in day["samples"]:
            for by in s["points"].values():
                c = by.get(region)
                if c and (best is None or c["max"] > best["max"]):
                    best = c
        return f"{best['max']}/{best['mean']:.1f}" if best else "-"

    gib = max(day["samples"], key=lambda s: sum(s["gib"].values()))["gib"] if day["samples"] else {}
    rpo = " ".join(f"{p}:{v / 3600:.2f}" for p, v in sorted(day["rpo_samples"].items())) or "-"
    failed_ret = sum(r["state"] != "success" for r in day["retention_runs"])
    return [
        day["date"],
        pts(primary),
        pts(dr),
        str(day["copies_made"]),
        str(day["recopies"]),
        f"{day['deletes'].get(primary, 0)}/{sum(v for r, v in day['deletes'].items() if r != primary)}",
        str(day["breaker_trips"]),
        f"{failed_ret}/{day['copy_runs_failed']}",
        rpo,
        f"{gib.get(primary, 0):.0f}/{sum(v for r, v in gib.items() if r != primary):.0f}",
    ]


HEADER = [
    "day",
    "pts P max/mean",
    "pts DR max/mean",
    "copies",
    "recopies",
    "deletes P/DR",
    "breaker",
    "failed ret/copy",
    "DR RPO max (h)",
    "GiB P/DR",
]


def table(result: dict[str, Any]) -> str:
    rows = [HEADER] + [day_row(result, d) for d in result["days_detail"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 3, figsize=(16, 4 * len(results)), squeeze=False)
    for row, result in zip(axes, results, strict=True):
        days = [d["date"][5:] for d in result["days_detail"]]
        x = range(len(days))
        primary = result["primary_region"]
        for region in [primary, *result["dr_regions"]]:
            peak = [
                max(
                    (c[region]["max"] for s in d["samples"] for c in s["points"].values() if region in c),
                    default=0,
                )
                for d in result["days_detail"]
            ]
            row[0].plot(x, peak, label=f"max points/resource {region}")
        row[0].set_title(f"{result['scenario']}: points per resource (daily max)")
        row[1].bar(x, [d["copies_made"] for d in result["days_detail"]], label="copies made", alpha=0.6)
        row[1].bar(x, [sum(d["deletes"].values()) for d in result["days_detail"]], label="deletes", alpha=0.6)
        row[1].plot(x, [d["breaker_trips"] for d in result["days_detail"]], "r.-", label="breaker trips")
        row[1].set_title(f"{result['scenario']}: copies, deletes, breaker trips per day")
        for plan in result["plans"]:
            row[2].plot(
                x, [d["rpo_samples"].get(plan, 0) / 3600 for d in result["days_detail"]], label=f"{plan}"
            )
            limit = (result["plans"][plan]["rpo_seconds"] + COPY_LAG_ALLOWANCE.total_seconds()) / 3600
            row[2].axhline(limit, linestyle="--", linewidth=0.8)
        row[2].set_title(f"{result['scenario']}: DR-side RPO max (h), dashed: RPO + copy lag")
        for ax in row:
            ax.legend(fontsize=7)
            ax.set_xticks(list(x)[:: max(1, len(days) // 10)])
            ax.set_xticklabels(days[:: max(1, len(days) // 10)], fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Totals over the whole run (for the README and the report)."""
    days = result["days_detail"]
    primary = result["primary_region"]
    out: dict[str, Any] = {
        "days": len(days),
        "copies_made": sum(d["copies_made"] for d in days),
        "recopies": sum(d["recopies"] for d in days),
        "deletes": sum(sum(d["deletes"].values()) for d in days),
        "breaker_trips": sum(d["breaker_trips"] for d in days),
        "days_with_breaker_trips": sum(1 for d in days if d["breaker_trips"]),
        "retention_runs_failed": sum(r["state"] != "success" for d in days for r in d["retention_runs"]),
        "copy_runs_failed": sum(d["copy_runs_failed"] for d in days),
        "backup_runs_failed": sum(d["backup_runs_failed"] for d in days),
        "posture_runs_failed": sum(d["posture_runs_failed"] for d in days),
        "quota_failures": sum(len(d["quota_failures"]) for d in days),
        "verify_leftovers": sum(len(d["verify_leftovers"]) for d in days),
        "rpo_max_hours": {
            p: round(max((d["rpo_samples"].get(p, 0) for d in days), default=0) / 3600, 2)
            for p in result["plans"]
        },
    }
    for region in [primary, *result["dr_regions"]]:
        out[f"points_max_{region}"] = max(
            (
                c[region]["max"]
                for d in days
                for s in d["samples"]
                for c in s["points"].values()
                if region in c
            ),
            default=0,
        )
    if days and days[-1]["samples"]:
        out["gib_last_day"] = days[-1]["samples"][-1]["gib"]
    return out


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def count_requests() -> dict[str, int]:
    """Count every AWS API call this process makes, by ``service.Operation`` (filled in place)."""
    import threading

    from botocore.client import BaseClient

    counts: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        with lock:
            counts[f"{self.meta.service_model.endpoint_prefix}.{operation_name}"] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
    return counts


def run_child(args: argparse.Namespace) -> int:
    sc = SCENARIOS[args.child]
    start = datetime.fromisoformat(args.start)
    requests = count_requests()

    def progress(name: str, day: dict[str, Any], wall: float) -> None:
        print(f"[{name}] {day['date']} done after {wall:6.0f}s wall", file=sys.stderr, flush=True)

    result = simulate(
        name=sc.name,
        policy_path=sc.policy,
        estate=args.estate or sc.estate,
        endpoint=args.endpoint,
        start=start,
        days=args.days,
        posture_minutes=args.posture_minutes,
        progress=progress if args.progress else None,
        progress_runs=bool(os.environ.get("AWSDR_SOAK_TRACE")),
    )
    result["requests"] = dict(sorted(requests.items(), key=lambda kv: -kv[1]))
    result["requests_total"] = sum(requests.values())
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    return 0


def run_scenario(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One scenario in a child process with its own emulator and AIRFLOW_HOME."""
    sc = SCENARIOS[name]
    home = work / name
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = start_emulator(port, home / "moto.log")
    out = home / "result.json"
    t0 = time.perf_counter()
    try:
        env = {**os.environ, **child_env(home, endpoint, sc.policy)}
        for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            env.pop(var, None)
        cmd = [
            str(BIN / "python"),
            str(Path(__file__).resolve()),
            "--child",
            name,
            "--endpoint",
            endpoint,
            "--start",
            args.start,
            "--days",
            str(args.days),
            "--posture-minutes",
            str(args.posture_minutes),
            "--out",
            str(out),
            *(["--estate", args.estate] if args.estate else []),
            *(["--progress"] if args.progress else []),
        ]
        with (home / "child.log").open("wb") as log:  # the operators' own task logs
            proc = subprocess.run(cmd, env=env, check=False, stdout=log)
        if proc.returncode != 0:
            tail = (home / "child.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"scenario {name} failed (exit {proc.returncode}):\n{tail}")
        result = json.loads(out.read_text())
        import psutil

        with contextlib.suppress(psutil.Error):
            emulator = psutil.Process(moto.pid)
            result["emulator_rss_mib"] = round(emulator.memory_info().rss / 2**20, 1)
            times = emulator.cpu_times()
            result["emulator_cpu_seconds"] = round(times.user + times.system, 1)
    finally:
        moto.terminate()
        try:
            moto.wait(timeout=10)
        except subprocess.TimeoutExpired:
            moto.kill()
    result["elapsed_seconds"] = round(time.perf_counter() - t0, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", default="demo,hourly", help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--start", default="2026-11-01T00:00:00+00:00", help="first simulated instant (UTC)")
    parser.add_argument(
        "--posture-minutes",
        type=int,
        default=360,
        help="dr_posture cadence (deployed: 15; the soak's default 360, see the module docstring)",
    )
    parser.add_argument("--estate", choices=["demo", "small"], default=None, help="override the estate")
    parser.add_argument("--results", default=str(RESULTS), help="where soak.json and soak.png go")
    parser.add_argument("--progress", action="store_true", help="one line per simulated day on stderr")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="scenarios run side by side (default: one per CPU core)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # a SIGTERM (timeout, Ctrl-C from make) unwinds, so the emulators this started are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.child:
        return run_child(args)

    t0 = time.perf_counter()
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    jobs = max(1, min(args.jobs, len(names)))
    with tempfile.TemporaryDirectory(prefix="awsdr-soak-") as tmp:
        # each scenario is its own child process and emulator: they share nothing, so run side by side
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(lambda n: run_scenario(n, args, Path(tmp)), names))
    elapsed = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures: dict[str, list[str]] = {}
    for result in results:
        print(f"\n== {result['scenario']}: {SCENARIOS[result['scenario']].description}")
        print(
            f"   {result['days']} simulated days from {result['start']}, posture every "
            f"{result['posture_minutes']} min; runs: {result['runs']}"
        )
        print(table(result))
        result["summary"] = summary(result)
        failures[result["scenario"]] = check(result)
        print(f"summary: {json.dumps(result['summary'])}")
        print(
            f"wall {result['wall_seconds']}s simulating ({result['elapsed_seconds']}s with start-up), "
            f"peak RSS {result['peak_rss_mib']} MiB (emulator at the end {result.get('emulator_rss_mib')} MiB); "
            f"CPU {result.get('cpu_seconds')}s harness + {result.get('emulator_cpu_seconds')}s emulator; "
            f"{result.get('requests_total')} AWS API calls (by operation in soak.json)"
        )
    doc = {
        "schema": 1,
        "command": "make soak",
        "written_at": datetime.now(tz=UTC).isoformat(),
        "elapsed_seconds": round(elapsed, 1),
        "peak_rss_mib_children": round(children.ru_maxrss / 1024, 1),
        "copy_lag_allowance_seconds": COPY_LAG_ALLOWANCE.total_seconds(),
        "invariant_violations": failures,
        "scenarios": results,
    }
    (out_dir / "soak.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    plot(results, out_dir / "soak.png")
    print(f"\nwrote {out_dir / 'soak.json'} and {out_dir / 'soak.png'}; {elapsed:.0f}s in all")
    ok = True
    for name, problems in failures.items():
        if problems:
            ok = False
            print(f"\nINVARIANTS VIOLATED in {name} ({len(problems)}):")
            for p in problems[:40]:
                print(f"  - {p}")
            if len(problems) > 40:
                print(f"  ... and {len(problems) - 40} more (all in soak.json)")
        else:
            print(f"\n{name}: every invariant held on every simulated day")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
