"""The kill harness: SIGKILL of the task process at a named point, then Airflow's retry.

A DAG run is executed task by task in a **forked child process** (the worker), the way
``bench/soak.py`` does it: the operator is copied for execution, its templates rendered from the
run's XComs, ``execute()`` called with a minimal context, a ``TaskDeferred`` resumed from the
method it names. What a worker would leave in the metadata database (each task's state and try
number, its XComs once it succeeded, the deferral the triggerer holds) is written to a state file
after every step, so a second child picks the run up where the first died:

- a task **killed while running** (in ``execute`` or in a resumed method) is retried from
  ``execute()`` with the next try number: Airflow marks the killed task failed (heartbeat lost),
  clears its ``next_method`` and its XComs, and schedules the retry;
- a task **killed while deferred** (the triggerer died holding its trigger) resumes from the
  deferral: the trigger is run again and fires into the same method with the same kwargs.

The kill is armed by :class:`KillPoint` on the child's botocore calls (one wrapper around
``BaseClient._make_api_call`` sees every client): ``before:<Op>`` kills as the Nth call of an
operation is about to be sent (nothing sent), ``after:<Op>`` as its Nth answer arrives (the
work done, not recorded), ``deferred:<task>`` right after the task's Nth deferral is recorded,
``start:<task>`` as the task starts (between two tasks). Every mutating call of both children
and every task start and end go to a journal (JSON lines) the tests read: what was sent twice,
and in which order.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

#: operation prefixes that only read (the journal keeps the others)
READS = ("Describe", "List", "Get", "Head", "Scan", "Query", "BatchGet", "Lookup", "Search", "Check")
#: parameters that name what a mutating call acts on (journal keys: "done twice" means same key)
ID_PARAMS = (
    "VolumeId",
    "SourceSnapshotId",
    "SnapshotId",
    "InstanceId",
    "InstanceIds",
    "SourceImageId",
    "ImageId",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "DBSnapshotIdentifier",
    "SourceDBSnapshotIdentifier",
    "TargetDBSnapshotIdentifier",
    "DBClusterSnapshotIdentifier",
    "SourceDBClusterSnapshotIdentifier",
    "TargetDBClusterSnapshotIdentifier",
    "TableName",
    "TargetTableName",
    "BackupArn",
    "BackupName",
    "AutoScalingGroupName",
    "cluster",
    "service",
    "Bucket",
    "Key",
    "HostedZoneId",
)


@dataclass(frozen=True)
class KillPoint:
    """Where the worker dies: ``where`` is ``before:Op``, ``after:Op``, ``deferred:task``,
    ``start:task``; ``nth`` counts from 1 within the child."""

    name: str
    dag: str
    where: str
    nth: int = 1
    what: str = ""
    ci: bool = False
    #: ``Op:ListKey:Field=value``: until the task's first deferral, rewrite that answer so the
    #: work reads as still in progress (the emulator finishes at once; AWS takes minutes)
    slow: str = ""
    #: only calls whose journal key contains this (e.g. a manifest's ``Key=manifests/``)
    match: str = ""
    #: operations the retry may send again here, and why (a resend AWS refuses, not a repeat)
    resend: tuple[str, ...] = ()
    resend_why: str = ""
    #: a product bug this point shows and nobody fixed yet (the test is an expected failure)
    known_bug: str = ""

    @property
    def label(self) -> str:
        n = f" #{self.nth}" if self.nth > 1 else ""
        return f"{self.where}{n}"


#: every kill point, one table (``make chaos`` prints it with the results; CI runs ``ci=True``)
KILL_POINTS: tuple[KillPoint, ...] = (
    # --- backup --------------------------------------------------------------------------------
    KillPoint(
        "backup: after CreateSnapshot, before it is recorded",
        "backup",
        "after:CreateSnapshot",
        1,
        "EBS snapshot made, task dies before its point is in XCom or the manifest",
        ci=True,
    ),
    KillPoint(
        "backup: mid-batch (2nd of 3 EBS creates sent)",
        "backup",
        "after:CreateSnapshot",
        2,
        "one batch half done",
    ),
    KillPoint(
        "backup: before the 3rd EBS create is sent",
        "backup",
        "before:CreateSnapshot",
        3,
        "two points made, the third never asked for",
    ),
    KillPoint(
        "backup: after CreateImage, before it is recorded",
        "backup",
        "after:CreateImage",
        1,
        "AMI registered, task dies",
    ),
    KillPoint("backup: after CreateDBSnapshot", "backup", "after:CreateDBSnapshot", 1, "RDS snapshot made"),
    KillPoint(
        "backup: after CreateDBClusterSnapshot",
        "backup",
        "after:CreateDBClusterSnapshot",
        1,
        "Aurora snapshot made",
    ),
    KillPoint(
        "backup: after CreateBackup (DynamoDB)",
        "backup",
        "after:CreateBackup",
        1,
        "DynamoDB backup made, its tags sidecar not yet written",
    ),
    KillPoint(
        "backup: while deferred (EBS wait)",
        "backup",
        "deferred:capture_ebs",
        1,
        "the triggerer dies holding the poll",
        slow="DescribeSnapshots:Snapshots:State=pending",
    ),
    KillPoint(
        "backup: writing the manifest",
        "backup",
        "before:PutObject",
        1,
        "every capture done, the manifest never written",
        match="Key=manifests/",
    ),
    # --- copy ----------------------------------------------------------------------------------
    KillPoint(
        "copy: after CopySnapshot, before it is recorded",
        "copy",
        "after:CopySnapshot",
        1,
        "EBS copy started in the DR region, task dies",
    ),
    KillPoint("copy: mid-batch (2nd EBS copy sent)", "copy", "after:CopySnapshot", 2, "one batch half done"),
    KillPoint("copy: after CopyImage", "copy", "after:CopyImage", 1, "AMI copy started"),
    KillPoint("copy: after CopyDBSnapshot", "copy", "after:CopyDBSnapshot", 1, "RDS copy started"),
    KillPoint(
        "copy: after CopyDBClusterSnapshot", "copy", "after:CopyDBClusterSnapshot", 1, "Aurora copy started"
    ),
    KillPoint(
        "copy: between copies and record_copies",
        "copy",
        "start:record_copies",
        1,
        "every copy made, none recorded in a manifest",
    ),
    # --- retention -----------------------------------------------------------------------------
    KillPoint(
        "retention: mid-delete (after the 1st EBS DeleteSnapshot)",
        "retention",
        "after:DeleteSnapshot",
        1,
        "audit intent written, outcome not",
        ci=True,
    ),
    KillPoint(
        "retention: mid-batch (before the 3rd EBS delete)",
        "retention",
        "before:DeleteSnapshot",
        3,
        "part of a batch deleted",
    ),
    KillPoint(
        "retention: after DeleteDBSnapshot",
        "retention",
        "after:DeleteDBSnapshot",
        1,
        "RDS point deleted, not audited",
    ),
    KillPoint(
        "retention: after DeleteBackup (DynamoDB)",
        "retention",
        "after:DeleteBackup",
        1,
        "DynamoDB backup deleted, not audited",
    ),
    # --- verify --------------------------------------------------------------------------------
    KillPoint(
        "verify: mid-restore (after RestoreDBInstanceFromDBSnapshot)",
        "verify",
        "after:RestoreDBInstanceFromDBSnapshot",
        1,
        "temporary DB instance made, task dies",
    ),
    KillPoint(
        "verify: after CreateVolume (EBS restore)", "verify", "after:CreateVolume", 1, "temporary volume made"
    ),
    KillPoint(
        "verify: after ImportTable (DynamoDB restore)",
        "verify",
        "after:ImportTable",
        1,
        "temporary table made",
    ),
    KillPoint(
        "verify: after RunInstances (AMI restore)",
        "verify",
        "after:RunInstances",
        1,
        "temporary instance launched",
    ),
    KillPoint(
        "verify: before teardown", "verify", "start:teardown", 1, "restores validated, nothing torn down"
    ),
    # --- failover ------------------------------------------------------------------------------
    KillPoint(
        "failover: after PromoteReadReplica",
        "failover",
        "after:PromoteReadReplica",
        1,
        "the replica promoted, the step not recorded",
        resend=("PromoteReadReplica",),
        resend_why=(
            "the retry asks again: moto keeps ReadReplicaSourceDBInstanceIdentifier after a promotion"
            " and the awsdr:promoted-at tag is written after the call; AWS refuses a second"
            " PromoteReadReplica (InvalidDBInstanceState), which promote_read_replica reads as done"
        ),
        ci=False,  # about 4 minutes; make chaos runs it (CI keeps to its 40-minute budget)
    ),
    KillPoint(
        "failover: mid-restore (after RestoreDBClusterFromSnapshot)",
        "failover",
        "after:RestoreDBClusterFromSnapshot",
        1,
        "Aurora restore started",
    ),
    KillPoint(
        "failover: while deferred (data layer wait)",
        "failover",
        "deferred:data_layer",
        1,
        "the triggerer dies holding the wait",
    ),
    KillPoint(
        "failover: between data layer and traffic",
        "failover",
        "start:traffic",
        1,
        "data and compute done, DNS not moved",
    ),
    KillPoint(
        "failover: after the DNS change",
        "failover",
        "after:ChangeResourceRecordSets",
        1,
        "a record UPSERT sent, not recorded",
    ),
    KillPoint(
        "failover: after UpdateAutoScalingGroup",
        "failover",
        "after:UpdateAutoScalingGroup",
        1,
        "standby scaled, not recorded",
    ),
    KillPoint(
        "drill: mid-restore (after ImportTable)",
        "drill",
        "after:ImportTable",
        1,
        "drill table made, task dies (the retry's sweep keeps this run's restores)",
    ),
    KillPoint("drill: in teardown", "drill", "start:drill_teardown", 1, "drill resources made, none removed"),
)


#: the longest a deferral is waited out before it resumes (``AWSDR_RUNNER_MAX_WAIT`` seconds; 0.2
#: by default, so the chaos tests run at once). ``bench/bench_cycle.py`` raises it: a pass that
#: AWS said cannot succeed before a moment (a timer trigger) then resumes at that moment, as the
#: triggerer would, instead of being repeated every 0.2 s and counted each time.
def _resume_after(trigger: Any) -> float:
    cap = float(os.environ.get("AWSDR_RUNNER_MAX_WAIT", "0.2"))
    moment = getattr(trigger, "moment", None)
    if moment is not None:
        from datetime import UTC, datetime

        if isinstance(moment, str):  # this project's round trigger keeps it as ISO text
            try:
                moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
            except ValueError:
                return 0.2
        if not isinstance(moment, datetime):
            return 0.2
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.2, min(cap, (moment - datetime.now(UTC)).total_seconds()))
    # the progress trigger: its first check (the emulator finishes copies at once)
    check = getattr(trigger, "check_every", None)
    return max(0.2, min(cap, float(check))) if check is not None else 0.2


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class _TI:
    """The part of a task instance the operators use."""

    def __init__(
        self,
        store: dict[str, Any],
        dag_id: str,
        task_id: str,
        run_id: str,
        try_number: int,
        states: dict[str, str] | None = None,
    ) -> None:
        self._store = store
        self._states = states if states is not None else {}
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = -1
        self.try_number = try_number
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = _jsonable(value)

    def get_task_states(self, dag_id: str, run_ids: list[str], **_: Any) -> dict[str, dict[str, str]]:
        return {r: dict(self._states) for r in run_ids}

    def xcom_pull(
        self, task_ids: Any = None, key: str = "return_value", default: Any = None, **_: Any
    ) -> Any:
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            if task_ids == self.task_id and key in self.pushed:
                return self.pushed[key]
            return self._store.get(f"{task_ids}|{key}", default)
        return [self._store.get(f"{t}|{key}", default) for t in task_ids]


@dataclass
class _DagRun:
    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime
    conf: dict[str, Any]
    start_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None


class RunState:
    """What the metadata database holds for one DAG run (a JSON file, rewritten atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = json.loads(path.read_text()) if path.exists() else {}
        self.states: dict[str, str] = data.get("states", {})
        self.tries: dict[str, int] = data.get("tries", {})
        self.store: dict[str, Any] = data.get("store", {})
        self.deferred: dict[str, dict[str, Any]] = data.get("deferred", {})
        self.started: str = data.get("started") or datetime.now(tz=UTC).isoformat()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "states": self.states,
                    "tries": self.tries,
                    "store": self.store,
                    "deferred": self.deferred,
                    "started": self.started,
                },
                default=str,
            )
        )
        os.replace(tmp, self.path)


class Journal:
    """Append-only JSON lines shared by every child of one scenario."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, **event: Any) -> None:
        line = json.dumps(event, default=str)
        with self._lock, self.path.open("a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text().splitlines() if x.strip()]


def _die(journal: Journal, kill: KillPoint) -> None:
    journal.write(event="killed", point=kill.name, where=kill.label)
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)  # pragma: no cover - never reached


def _call_key(operation: str, params: dict[str, Any]) -> str:
    parts = []
    for name in ID_PARAMS:
        if name in params:
            parts.append(f"{name}={params[name]}")
    if operation == "ChangeResourceRecordSets":
        changes = (params.get("ChangeBatch") or {}).get("Changes") or []
        names = sorted(f"{c.get('Action')}:{c['ResourceRecordSet']['Name']}" for c in changes)
        parts.append(f"records={','.join(names)}")
    return f"{operation}({'; '.join(parts)})"


#: tasks that deferred in this process (ends a KillPoint's ``slow`` rewrite)
DEFERRED: set[str] = set()


def _slow(kill: KillPoint, operation: str, result: Any) -> None:
    op, key, field_value = kill.slow.split(":", 2)
    name, _, value = field_value.partition("=")
    target = kill.where.partition(":")[2]
    if operation == op and target not in DEFERRED and isinstance(result, dict):
        for item in result.get(key) or []:
            item[name] = value


def arm(journal: Journal, kill: KillPoint | None) -> None:
    """Wrap every botocore call of this process: journal mutating calls, die at ``kill``."""
    from botocore.client import BaseClient

    real = BaseClient._make_api_call
    seen: dict[str, int] = {}
    lock = threading.Lock()
    phase, _, target = kill.where.partition(":") if kill else ("", "", "")

    def wrapped(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        mutating = not operation_name.startswith(READS)
        armed = (
            kill is not None
            and operation_name == target
            and (not kill.match or kill.match in _call_key(operation_name, api_params))
        )
        if armed and phase == "before":
            with lock:
                seen[operation_name] = n = seen.get(operation_name, 0) + 1
            if n == kill.nth:  # type: ignore[union-attr]
                _die(journal, kill)  # type: ignore[arg-type]
        try:
            result = real(self, operation_name, api_params)
        except Exception as err:
            if mutating:
                journal.write(
                    event="call",
                    op=operation_name,
                    key=_call_key(operation_name, api_params),
                    error=type(err).__name__,
                )
            raise
        if mutating:
            journal.write(event="call", op=operation_name, key=_call_key(operation_name, api_params))
        elif kill is not None and kill.slow:
            _slow(kill, operation_name, result)
        if armed and phase == "after":  # the Nth answer that arrived (an error answer is no "after")
            with lock:
                seen[operation_name] = n = seen.get(operation_name, 0) + 1
            if n == kill.nth:  # type: ignore[union-attr]
                _die(journal, kill)  # type: ignore[arg-type]
        return result

    BaseClient._make_api_call = wrapped  # type: ignore[method-assign]


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


FAILED = ("failed", "upstream_failed")


def _should_run(task: Any, states: dict[str, str]) -> str | None:
    ups = [states.get(u, "none") for u in task.upstream_task_ids]
    rule = str(getattr(task.trigger_rule, "value", task.trigger_rule))
    if rule == "all_done":
        return None
    if rule == "all_done_setup_success":
        setups = [states.get(u) for u in task.upstream_task_ids if task.dag.task_dict[u].is_setup]
        return None if all(s == "success" for s in setups) else "skipped"
    if rule == "all_success":
        if any(s in FAILED for s in ups):
            return "upstream_failed"
        if any(s == "skipped" for s in ups):
            return "skipped"
        return None
    raise NotImplementedError(f"{task.task_id}: trigger rule {rule}")


def run_dag(
    dag: Any,
    state: RunState,
    journal: Journal,
    kill: KillPoint | None,
    *,
    run_id: str,
    run_type: str,
    logical_date: datetime | None,
    conf: dict[str, Any],
    shared: dict[str, Any],
) -> str:
    """Run (or resume) one DAG run in this process; the run's state (``success``/``failed``)."""
    from airflow.sdk.exceptions import (
        AirflowFailException,
        AirflowSkipException,
        DownstreamTasksSkipped,
        TaskDeferred,
    )

    params = {**dag.params.dump(), **conf}
    dag_run = _DagRun(
        dag.dag_id,
        run_id,
        run_type,
        logical_date,
        logical_date or datetime.now(tz=UTC),
        dict(conf),
        datetime.fromisoformat(state.started),
        logical_date,
        logical_date,
    )
    phase, _, target = kill.where.partition(":") if kill else ("", "", "")
    for task in _order(dag):
        tid = task.task_id
        if state.states.get(tid) in ("success", "skipped", *FAILED):
            continue
        skip_as = _should_run(task, state.states)
        if skip_as is not None:
            state.states[tid] = skip_as
            state.save()
            continue
        attempts = 1 + max(0, int(task.retries or 0))
        while True:
            pending = state.deferred.get(tid)
            resume = pending is not None and not pending.get("resumed")
            if not resume:
                state.deferred.pop(tid, None)
                state.tries[tid] = state.tries.get(tid, 0) + 1
            state.states[tid] = "running"
            state.save()
            journal.write(event="start", task=tid, attempt=state.tries[tid], resume=resume)
            if phase == "start" and target == tid and not resume:
                _die(journal, kill)  # type: ignore[arg-type]
            ti = _TI(state.store, dag.dag_id, tid, run_id, state.tries[tid], state.states)
            stamp = (logical_date or dag_run.run_after).isoformat()
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
            for name, value in shared.items():
                if hasattr(type(op), name):
                    op.__dict__[name] = value
            deferrals = 0
            try:
                op.render_template_fields(context)
                try:
                    if resume:
                        assert pending is not None
                        raise _Resume(pending["method"], pending["kwargs"])
                    result = op.execute(context)
                except (TaskDeferred, _Resume) as first:
                    again: Any = first
                    while True:
                        if isinstance(again, TaskDeferred):
                            deferrals += 1
                            method, kwargs = again.method_name, _jsonable(again.kwargs or {})
                            state.deferred[tid] = {"method": method, "kwargs": kwargs, "resumed": False}
                            state.states[tid] = "deferred"
                            state.save()
                            journal.write(event="deferred", task=tid, n=deferrals)
                            DEFERRED.add(tid)
                            if phase == "deferred" and target == tid and deferrals == kill.nth:  # type: ignore[union-attr]
                                _die(journal, kill)  # type: ignore[arg-type]
                            time.sleep(_resume_after(again.trigger))
                        else:
                            method, kwargs = again.method, again.kwargs
                        state.deferred[tid] = {"method": method, "kwargs": kwargs, "resumed": True}
                        state.states[tid] = "running"
                        state.save()
                        try:
                            result = op.resume_execution(method, kwargs, context)
                            break
                        except TaskDeferred as nxt:
                            again = nxt
                for k, v in ti.pushed.items():
                    state.store[f"{tid}|{k}"] = v
                if op.do_xcom_push and result is not None:
                    if getattr(op, "multiple_outputs", False):
                        for k, v in result.items():
                            state.store[f"{tid}|{k}"] = _jsonable(v)
                    state.store[f"{tid}|return_value"] = _jsonable(result)
                state.states[tid] = "success"
            except DownstreamTasksSkipped as skip:  # a short circuit: it succeeded, these skip
                state.states[tid] = "success"
                for t in skip.tasks:
                    state.states[t if isinstance(t, str) else t[0]] = "skipped"
            except AirflowSkipException:
                state.states[tid] = "skipped"
            except AirflowFailException as err:
                state.states[tid] = "failed"
                journal.write(event="error", task=tid, error=f"{type(err).__name__}: {err}"[:3000])
            except Exception as err:
                journal.write(
                    event="error",
                    task=tid,
                    error=f"{type(err).__name__}: {err}"[:3000],
                    trace=traceback.format_exc()[-3000:],
                )
                if state.tries[tid] < attempts:
                    state.deferred.pop(tid, None)
                    continue
                state.states[tid] = "failed"
            state.deferred.pop(tid, None)
            state.save()
            journal.write(event="end", task=tid, state=state.states[tid])
            break
    leaves = [t.task_id for t in dag.tasks if not t.downstream_task_ids]
    return "failed" if any(state.states.get(t) in FAILED for t in leaves) else "success"


class _Resume(Exception):
    def __init__(self, method: str, kwargs: dict[str, Any]) -> None:
        super().__init__(method)
        self.method = method
        self.kwargs = kwargs


@dataclass
class Attempt:
    killed: bool
    exit_code: int | None
    state: str | None


def attempt(
    dag: Any,
    work: Path,
    kill: KillPoint | None,
    *,
    endpoint: str,
    run_id: str,
    run_type: str = "scheduled",
    logical_date: datetime | None = None,
    conf: dict[str, Any] | None = None,
    policy: Any = None,
    timeout: float = 300.0,
) -> Attempt:
    """One worker: a forked child runs (or resumes) the DAG run; SIGKILLed at ``kill``."""
    work.mkdir(parents=True, exist_ok=True)
    state_path = work / f"{run_id.replace(':', '_')}.state.json"
    result_path = work / "result.json"
    result_path.unlink(missing_ok=True)
    journal = Journal(work / "journal.jsonl")
    log = work / "worker.log"
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            from awsdr.aws.context import AwsContext
            from awsdr.policy import load_policy

            arm(journal, kill)
            shared = {"policy": policy or load_policy(), "ctx": AwsContext.from_boto3(endpoint_url=endpoint)}
            st = RunState(state_path)
            final = run_dag(
                dag,
                st,
                journal,
                kill,
                run_id=run_id,
                run_type=run_type,
                logical_date=logical_date,
                conf=dict(conf or {}),
                shared=shared,
            )
            result_path.write_text(json.dumps({"state": final, "states": st.states}))
            code = 0
        except BaseException:
            with contextlib.suppress(Exception):
                journal.write(event="crash", trace=traceback.format_exc()[-4000:])
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"worker for {run_id} still running after {timeout}s (see {log})")
        time.sleep(0.05)
    if os.WIFSIGNALED(status):
        return Attempt(killed=os.WTERMSIG(status) == signal.SIGKILL, exit_code=None, state=None)
    code = os.WEXITSTATUS(status)
    state = json.loads(result_path.read_text())["state"] if result_path.exists() else None
    return Attempt(killed=False, exit_code=code, state=state)


def kill_then_retry(
    dag: Any,
    work: Path,
    kill: KillPoint,
    **kwargs: Any,
) -> tuple[Attempt, Attempt]:
    """The killed worker, then the retry Airflow makes (a fresh worker on the same run)."""
    first = attempt(dag, work, kill, **kwargs)
    second = attempt(dag, work, None, **kwargs)
    return first, second


def repeated(journal: list[dict[str, Any]], ops: tuple[str, ...]) -> dict[str, int]:
    """Mutating calls in ``ops`` that succeeded more than once with the same key."""
    counts: dict[str, int] = {}
    for e in journal:
        if e.get("event") == "call" and e["op"] in ops and "error" not in e:
            counts[e["key"]] = counts.get(e["key"], 0) + 1
    return {k: v for k, v in counts.items() if v > 1}


def hours_ago(n: int) -> datetime:
    now = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=n)
