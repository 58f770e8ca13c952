"""The failover go/no-go answered through the REST API on a real scheduler (issue 10).

The stack is what ``make run`` starts (``scripts/airflow_env.sh`` + ``airflow standalone``: the
scheduler, dag-processor, triggerer and api-server as separate processes, the LocalExecutor on
PostgreSQL: the machine's server, a fresh database) against a moto server seeded with the demo
estate and DR copies of its gold points. Only ``dr_failover`` and ``dr_failback`` are unpaused. The
policy is the demo one with ``failover.approval.timeout: PT1M``. Live runs, each started through
``POST /api/v2/dags/<dag>/dagRuns`` with the form's typed confirmation and reason:

1. **reject**: ``PATCH .../taskInstances/approval/-1/hitlDetails`` with ``Reject`` as ``admin``;
   the run ends green, the audit says rejected by admin, and moto's recorder shows no mutating
   call but the catalog's own records;
2. **no answer**: the scheduler's own timeout sweep fails the approval after a minute; the run is
   red, the audit says "no answer", and again no mutating call;
3. **approve**: the failover runs to the end: the application record points at the DR region
   and the audit says approved by admin; then the applications write in the DR region (a
   DynamoDB item, an S3 object);
4. **failback, approved**: the same through ``dr_failback``; the record is home again and so are
   the writes made in the DR region.
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.parse
import uuid
from pathlib import Path

import pytest
from conftest import DR, PRIMARY, ROOT, free_port, start_moto
from failover_support import Recorder, make_dr_copies, replica_lag_zero, widen_pitr
from test_backfill_postgres import _env as _pg_env
from test_postgres_celery import _psql, require_postgres, stop_moto
from test_standalone_cycle import Api, _client, _wait, asking_try_exited, standalone

pytestmark = pytest.mark.e2e

UNPAUSED = ("dr_failover", "dr_failback")
TIMEOUT = "PT1M"
#: the catalog's own records (audit, plan): the only writes a runbook that changes nothing makes
CATALOG = "/awsdr-catalog/"


@pytest.fixture(scope="module")
def stack():
    require_postgres()
    db = f"awsdr_hitl_{uuid.uuid4().hex[:8]}"
    _psql(f"CREATE DATABASE {db}")
    home = Path(tempfile.mkdtemp(prefix="awsdr-e2e-hitl-"))
    text = (ROOT / "include/dr_policy.yaml").read_text()
    assert text.count("  drill:\n") == 1
    policy = home / "policy.yaml"
    policy.write_text(text.replace("  drill:\n", f"  approval: {{timeout: {TIMEOUT}}}\n  drill:\n"))
    moto_port, api_port = free_port(), free_port()
    moto_proc = start_moto(moto_port, home / "moto.log")
    moto_url = f"http://127.0.0.1:{moto_port}"
    db_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
    env = _pg_env(home, moto_url, api_port, db_url, policy)
    # rounds 15 s apart, not make run's 5: a trigger that fired before the scheduler had read the
    # deferring try's exit made Airflow fail the try ("state changed externally"), again on each
    # retry, under a loaded CI (Airflow's race, not the runbook's)
    env["AWSDR_POLL_SECONDS"] = "15"
    try:
        with standalone(home, moto_url, env, api_port=api_port, unpause=UNPAUSED) as (api, _proc):
            # the DR copies a failover restores from, made as dr_copy_gold makes them (the
            # backup and copy DAGs stay paused: their runs are other tests')
            from awsdr.aws.context import AwsContext

            with pytest.MonkeyPatch.context() as mp:
                widen_pitr(mp)
                make_dr_copies(
                    AwsContext.from_boto3(endpoint_url=moto_url), ("rds", "aurora", "dynamodb", "ec2", "s3")
                )
            yield {"api": api, "moto": moto_url, "home": home}
    finally:
        try:
            stop_moto(moto_proc)
        finally:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _start(api: Api, dag_id: str, reason: str) -> str:
    conf = {"dry_run": False, "confirm": DR, "reason": reason, "target_region": DR}
    return api.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]


def _hitl_path(dag_id: str, run_id: str) -> str:
    return (
        f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        "/taskInstances/approval/-1/hitlDetails"
    )


def _pending(api: Api, dag_id: str, run_id: str) -> dict | None:
    """The approval's HITL detail once the task waits for its answer."""
    try:
        detail = api.get(_hitl_path(dag_id, run_id))
    except urllib.error.HTTPError as err:
        if err.code == 404:  # the task has not asked yet
            return None
        raise
    except (urllib.error.URLError, TimeoutError):
        return None
    return detail if not detail.get("response_received") else None


def _done(api: Api, dag_id: str, run_id: str) -> dict | None:
    try:
        run = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")
    except (urllib.error.URLError, TimeoutError):
        return None
    return run if run["state"] in ("success", "failed") else None


def _states(api: Api, dag_id: str, run_id: str) -> dict[str, str]:
    tis = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances")
    return {t["task_id"]: t["state"] for t in tis["task_instances"]}


def _why(api: Api, home: Path, dag_id: str, run_id: str) -> str:
    """What a red run did: each task's state, the tail of each failed task's try logs, and the
    scheduler's "state mismatch" events (a try Airflow failed from outside)."""
    lines = [f"{dag_id} {run_id}: {_states(api, dag_id, run_id)}"]
    run_dir = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    for task_id, state in _states(api, dag_id, run_id).items():
        if state in ("success", "skipped"):
            continue
        for log in sorted(run_dir.glob(f"task_id={task_id}/**/attempt=*.log")):
            tail = log.read_text(errors="replace").splitlines()[-25:]
            lines += [f"--- {log.relative_to(run_dir)} ({state})", *tail]
    try:
        events = api.get(f"/api/v2/eventLogs?dag_id={dag_id}&event=state+mismatch&limit=20")["event_logs"]
    except urllib.error.HTTPError as err:
        events = [{"error": str(err)}]
    lines += [
        f"event: {e.get('task_id')} {e.get('extra')}" for e in events if e.get("run_id") in (run_id, None)
    ]
    return "\n".join(lines)


def _audit(moto_url: str, run_id: str) -> dict:
    body = _client(moto_url, "s3", DR).get_object(Bucket="awsdr-catalog", Key=f"failover/{run_id}/audit.json")
    return json.loads(body["Body"].read())


def _cname(moto_url: str, name: str = "app.example.com.") -> list[str]:
    r53 = _client(moto_url, "route53", "us-east-1")
    zone = r53.list_hosted_zones_by_name(DNSName="example.com.")["HostedZones"][0]["Id"]
    sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return [r["Value"] for s in sets if s["Name"] == name for r in s["ResourceRecords"]]


def _replica_caught_up(moto_url: str) -> None:
    replica_lag_zero(_client(moto_url, "cloudwatch", PRIMARY))


def _answer(api: Api, home: Path, dag_id: str, run_id: str, option: str) -> dict:
    """Answer once the question is asked and the scheduler has read the asking try's exit
    (``asking_try_exited``: an answer between the two meets an Airflow race; seen here, it failed
    a failback's approval and so the run)."""
    _wait(lambda: _pending(api, dag_id, run_id), 600, f"the approval of {run_id}", interval=3)
    _wait(
        lambda: asking_try_exited(home, dag_id, run_id),
        300,
        f"the scheduler to read {run_id}'s asking try",
        1,
    )
    return api.patch(_hitl_path(dag_id, run_id), {"chosen_options": [option], "params_input": {}})


def test_reject_and_no_answer_change_nothing_approve_fails_over_and_back(stack):
    api, moto_url, home = stack["api"], stack["moto"], stack["home"]
    assert _cname(moto_url) == [f"app.{PRIMARY}.example.com"]

    # 1. rejected through the REST API: green, audited, nothing changed
    with Recorder(moto_url) as rec:
        run_id = _start(api, "dr_failover", "rest test: rejected")
        answered = _answer(api, home, "dr_failover", run_id, "Reject")
        assert answered["chosen_options"] == ["Reject"], answered
        assert answered["responded_by"]["name"] == "admin", answered
        run = _wait(lambda: _done(api, "dr_failover", run_id), 600, "the rejected failover", interval=5)
    assert run["state"] == "success", _states(api, "dr_failover", run_id)
    states = _states(api, "dr_failover", run_id)
    assert states["data_layer"] in ("skipped", "upstream_failed"), states
    writes = [c for c in rec.mutating() if not c[1].startswith(CATALOG)]
    assert writes == [], writes
    audit = _audit(moto_url, run_id)
    assert audit["outcome"] == "rejected", audit
    assert (audit["approval"]["decision"], audit["approval"]["by"]) == ("rejected", "admin"), audit[
        "approval"
    ]
    assert _cname(moto_url) == [f"app.{PRIMARY}.example.com"]

    # 2. nobody answers: the scheduler's timeout sweep fails it, before any change
    with Recorder(moto_url) as rec:
        run_id = _start(api, "dr_failover", "rest test: nobody answers")
        detail = _wait(
            lambda: _pending(api, "dr_failover", run_id), 600, "the unanswered approval", interval=3
        )
        assert "orders-db" in (detail.get("body") or ""), detail  # the plan is in the approval's body
        run = _wait(lambda: _done(api, "dr_failover", run_id), 900, "the approval to time out", interval=5)
    states = _states(api, "dr_failover", run_id)
    assert run["state"] == "failed", states
    assert states["approval"] == "failed", states
    assert states["data_layer"] in ("skipped", "upstream_failed"), states
    writes = [c for c in rec.mutating() if not c[1].startswith(CATALOG)]
    assert writes == [], writes
    audit = _audit(moto_url, run_id)
    assert audit["approval"]["decision"] == "no answer", audit["approval"]
    assert _cname(moto_url) == [f"app.{PRIMARY}.example.com"]

    # 3. approved through the REST API: the failover runs to the end
    run_id = _start(api, "dr_failover", "rest test: approved")
    _answer(api, home, "dr_failover", run_id, "Approve")
    run = _wait(lambda: _done(api, "dr_failover", run_id), 1200, "the approved failover", interval=5)
    assert run["state"] == "success", _why(api, home, "dr_failover", run_id)
    audit = _audit(moto_url, run_id)
    assert (audit["approval"]["decision"], audit["approval"]["by"]) == ("approved", "admin"), audit[
        "approval"
    ]
    assert audit["outcome"] == "succeeded", audit["outcome"]
    assert _cname(moto_url) == [f"app.{DR}.example.com"]
    # the applications write in the DR region
    from awsdr.kinds.s3 import dr_bucket_name

    _client(moto_url, "dynamodb", DR).put_item(TableName="orders", Item={"pk": {"S": "written-in-dr"}})
    dr_bucket = dr_bucket_name("awsdr-demo-orders-assets", DR)
    _client(moto_url, "s3", DR).put_object(Bucket=dr_bucket, Key="dr/receipt-1.pdf", Body=b"made in DR")

    # 4. the failback, approved the same way: traffic is home again
    run_id = _start(api, "dr_failback", "rest test: home again")
    _answer(api, home, "dr_failback", run_id, "Approve")
    run = _wait(
        lambda: (_replica_caught_up(moto_url), _done(api, "dr_failback", run_id))[1],
        1200,
        "the approved failback",
        interval=5,
    )
    assert run["state"] == "success", _why(api, home, "dr_failback", run_id)
    audit = _audit(moto_url, run_id)
    assert (audit["approval"]["decision"], audit["approval"]["by"]) == ("approved", "admin"), audit[
        "approval"
    ]
    assert _cname(moto_url) == [f"app.{PRIMARY}.example.com"]
    home = _client(moto_url, "dynamodb", PRIMARY)
    assert home.get_item(TableName="orders", Key={"pk": {"S": "written-in-dr"}}).get("Item")
    body = _client(moto_url, "s3", PRIMARY).get_object(
        Bucket="awsdr-demo-orders-assets", Key="dr/receipt-1.pdf"
    )
    assert body["Body"].read() == b"made in DR"
