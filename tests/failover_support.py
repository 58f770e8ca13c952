"""Shared helpers of the failover tests: DR copies of the demo estate, the moto request recorder."""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from conftest import DR, PRIMARY

#: AWS operations that only read.
READ_PREFIXES = ("Describe", "List", "Get", "Head", "Search", "Query", "Scan", "BatchGet")


def widen_pitr(monkeypatch) -> None:
    """moto gap: its PITR period is frozen at the enable instant; give it AWS's moving shape."""
    from awsdr.kinds import dynamodb

    real = dynamodb.pitr_status

    def widened(client, table):
        status = real(client, table)
        if status["pitr_enabled"]:
            status["earliest_restorable"] = (datetime.now(UTC) - timedelta(days=1)).isoformat()
            status["latest_restorable"] = datetime.now(UTC).isoformat()
        return status

    monkeypatch.setattr(dynamodb, "pitr_status", widened)


def make_dr_copies(ctx, kinds=("rds", "aurora", "dynamodb", "ec2"), *, verified: bool = True) -> dict:
    """Capture the gold plan now and copy every point to the DR region (what dr_copy_gold does)."""
    from awsdr.backup import capture_kind, refresh_points
    from awsdr.copies import copy_tags
    from awsdr.kinds import kind_for
    from awsdr.policy import load_policy
    from awsdr.windows import TAG_VERIFIED_AT, format_window

    policy = load_policy()
    window = datetime.now(UTC).replace(microsecond=0)
    made: dict[str, list] = {}
    for name in kinds:
        kind = kind_for(name, policy, "gold")
        result = capture_kind(
            ctx,
            kind,
            plan="gold",
            region=PRIMARY,
            selector={"dr-plan": "gold"},
            window=window,
            captured_at=window,
            late_after=timedelta(minutes=15),
        )
        assert not result.failures, result.failures
        points = refresh_points(ctx, kind, PRIMARY, result.points)
        tags_extra = {TAG_VERIFIED_AT: format_window(window)} if verified else {}
        made[name] = [
            kind.copy(ctx, p, dest_region=DR, kms_key_id="alias/awsdr", tags={**copy_tags(p), **tags_extra})
            for p in points
        ]
    return made


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).read()


class Recorder:
    """moto's request recorder: what the code under test asked AWS."""

    def __init__(self, moto_url: str) -> None:
        self.url = moto_url

    def __enter__(self) -> Recorder:
        _post(f"{self.url}/moto-api/recorder/reset-recording")
        _post(f"{self.url}/moto-api/recorder/start-recording")
        return self

    def __exit__(self, *exc: object) -> None:
        _post(f"{self.url}/moto-api/recorder/stop-recording")

    def calls(self) -> list[tuple[str, str]]:
        """``(operation or "METHOD path", url)`` of every recorded request."""
        log = urllib.request.urlopen(f"{self.url}/moto-api/recorder/download-recording", timeout=30).read()
        out: list[tuple[str, str]] = []
        for line in log.decode().splitlines():
            if not line.strip():
                continue
            req = json.loads(line)
            headers = {k.lower(): v for k, v in (req.get("headers") or {}).items()}
            body = req.get("body") or ""
            if req.get("body_encoded") and body:
                body = base64.b64decode(body).decode("utf-8", "replace")
            target = headers.get("x-amz-target")
            path = urllib.parse.urlparse(req["url"]).path
            if target:
                op = target.rsplit(".", 1)[-1]
            elif "Action=" in body:
                op = urllib.parse.parse_qs(body).get("Action", ["?"])[0]
            else:
                op = f"{req['method']} {path}"
            out.append((op, path))
        return out

    def mutating(self) -> list[tuple[str, str]]:
        """The calls that change something (REST: any method but GET/HEAD)."""
        out = []
        for op, path in self.calls():
            if op.startswith(("GET ", "HEAD ")) or op.startswith(READ_PREFIXES):
                continue
            out.append((op, path))
        return out

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls() if op == operation)


def replica_lag_zero(cloudwatch, ident: str = "orders-db-failback") -> None:
    """moto has no RDS metrics: what CloudWatch reports for a caught-up replica (``cloudwatch``: a
    client in the replica's region)."""
    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Value": 0.0,
                "Timestamp": datetime.now(UTC),
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": ident}],
            }
        ],
    )


def record_value(ctx, name: str = "app.example.com.") -> list[dict]:
    r53 = ctx.client("route53", "us-east-1")
    zone = r53.list_hosted_zones_by_name(DNSName="example.com.")["HostedZones"][0]["Id"]
    sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return [s for s in sets if s["Name"] == name]


class Approver:
    """Answers a runbook's approval as a person would, through the REST API, while ``dag.test()`` runs.

    A thread waits for the ``approval`` task to park in ``awaiting_input``, then PATCHes
    ``/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/approval/-1/hitlDetails`` on Airflow's own
    api-server app (in-process, FastAPI TestClient, the test's metadata database), or, for
    ``answer=None`` (no answer), runs the scheduler's own ``awaiting_input`` timeout sweep once
    the policy's timeout has passed. Not a separate scheduler process: the same code paths.
    """

    def __init__(self, monkeypatch, answer: str | None = "Approve", task_id: str = "approval") -> None:
        monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
        self.answer = answer
        self.task_id = task_id
        self.responses: list[tuple[int, dict]] = []
        self.bodies: list[str] = []
        self._stop = False
        self._thread = None

    def __enter__(self) -> Approver:
        import threading

        # import (and map) the ORM models here: importing them in the thread while dag.test()
        # imports them deadlocks
        from airflow.api_fastapi.app import create_app
        from sqlalchemy.orm import configure_mappers

        configure_mappers()
        self._app = create_app("core")

        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _parked(self):
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        with create_session() as session:
            ti = (
                session.query(TaskInstance)
                .filter_by(task_id=self.task_id, state=TaskInstanceState.AWAITING_INPUT)
                .first()
            )
            return (ti.dag_id, ti.run_id, ti.trigger_timeout) if ti else None

    def _run(self) -> None:
        import time as _time

        while not self._stop:
            parked = self._parked()
            if parked is None:
                _time.sleep(0.3)
                continue
            dag_id, run_id, deadline = parked
            if self.answer is None:
                self._sweep(deadline)
            else:
                self._respond(dag_id, run_id)
            _time.sleep(0.5)

    def _respond(self, dag_id: str, run_id: str) -> None:
        from fastapi.testclient import TestClient

        client = TestClient(self._app)
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{self.task_id}/-1/hitlDetails"
        got = client.get(path)
        if got.status_code == 200:
            self.bodies.append(got.json().get("body") or "")
        answer = client.patch(path, json={"chosen_options": [self.answer], "params_input": {}})
        self.responses.append((answer.status_code, answer.json()))

    def _sweep(self, deadline) -> None:
        import logging
        import time as _time
        import types

        from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
        from airflow.utils import timezone

        if deadline is not None and timezone.utcnow() <= deadline:
            _time.sleep(max(0.0, (deadline - timezone.utcnow()).total_seconds()) + 0.2)
        fake = types.SimpleNamespace(log=logging.getLogger("scheduler-sweep"))
        SchedulerJobRunner.check_awaiting_input_timeouts(fake)
        self.responses.append((0, {"swept": True}))
