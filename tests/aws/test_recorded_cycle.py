"""One recorded cycle on the emulator, run with recognisable secrets; two proofs from it.

The cycle (``dag.test()`` against moto, the recorder on after seeding): ``dr_backup_gold``,
``dr_copy_gold``, ``dr_restore_verify``, ``dr_retention``,
``dr_failover_drill`` (restores, standby copies, drill records, teardown, SNS notification). A
live failover and failback are left out: on this shared machine they made the cycle take over
20 minutes; their operations are covered by the static scan (``test_iam.py``).

- IAM (issue 12, item 4): every operation the emulator saw is in the reviewed table the IAM
  policies are generated from, and in the static scan of the code (``test_iam.py`` proves the
  table equals the scan, so operations the emulator cannot run are covered there).
- No secret in any log (item 5): the AWS connection's secret key and session token are canary
  values; neither may appear in any task's output, in the log folder, in any object version of the
  catalog bucket, or in any request body or URL the product sent to AWS (catalog writes and SNS
  messages included). The SQL validation connection's password cannot ride the emulator cycle
  (a restored RDS endpoint on moto is no database, and verification would fail), so it is
  checked on verification's SQL path against the machine's PostgreSQL, success and failure.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import re
import subprocess
import sys
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from conftest import DR, PRIMARY, ROOT, reset_moto

from awsdr.iam.actions import OPERATIONS
from awsdr.iam.recording import parse
from awsdr.iam.scan import scan
from awsdr.policy import DEFAULT_POLICY_PATH

SERVICES = tuple(sorted({svc for svc, _ in OPERATIONS}))
AWS_SECRET = "CanaryAwsSecretKey0Zq7xK3mP9vT2wR5"
AWS_TOKEN = "CanarySessionToken0Hn4jL8sD1fG6"
SQL_PASSWORD = "CanarySqlPassword0Wb5cY2eU7iO3"
CANARIES = (AWS_SECRET, AWS_TOKEN)


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).read()


def _psql(db: str, sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def _captured(path):
    """What Airflow prints while ``dag.test()`` runs (its log handlers' streams, stdout, stderr) into ``path``.

    Airflow's logging handlers keep the stream they were configured with (pytest's capture), so
    their streams are swapped for the file, as are ``sys.stdout`` and ``sys.stderr``.
    """
    import logging

    with path.open("w") as out:
        handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
        handlers = [h for h in handlers if not isinstance(h, logging.FileHandler)]
        previous = [h.setStream(out) for h in handlers]
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                yield
        finally:
            for h, stream in zip(handlers, previous, strict=True):
                if stream is not None:
                    h.setStream(stream)


@pytest.fixture(scope="module")
def cycle(moto_server, airflow_db, tmp_path_factory):
    from failover_support import widen_pitr

    from awsdr.aws.context import AwsContext

    tmp = tmp_path_factory.mktemp("cycle")
    mp = pytest.MonkeyPatch()
    reset_moto(moto_server)
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    Seeder(moto_server).run()
    ctx = AwsContext.from_boto3(endpoint_url=moto_server)
    topic = ctx.client("sns", PRIMARY).create_topic(Name="awsdr-alerts")["TopicArn"]
    policy = tmp / "policy.yaml"
    policy.write_text(DEFAULT_POLICY_PATH.read_text() + f"\nnotifications: {{sns_topic_arn: {topic}}}\n")
    extra = {"endpoint_url": moto_server, "region_name": PRIMARY, "aws_session_token": AWS_TOKEN}
    aws = {"conn_type": "aws", "login": "AKIACANARYKEYID", "password": AWS_SECRET, "extra": extra}
    mp.setenv("AWSDR_POLICY", str(policy))
    mp.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
    widen_pitr(mp)
    import dr_backup
    import dr_copy
    import dr_failover
    import dr_restore_verify
    import dr_retention

    backup, copy, verify, retention, failover = (
        importlib.reload(m) for m in (dr_backup, dr_copy, dr_restore_verify, dr_retention, dr_failover)
    )
    states: dict[str, str] = {}
    output = tmp / "task-output.log"
    _post(f"{moto_server}/moto-api/recorder/reset-recording")
    _post(f"{moto_server}/moto-api/recorder/start-recording")
    started = datetime.now(tz=UTC)
    try:
        with _captured(output):
            states["backup"] = str(
                backup.dr_backup_gold.test(logical_date=started.replace(microsecond=0)).state
            )
            states["copy"] = str(copy.dr_copy_gold.test().state)
            states["verify"] = str(verify.dag.test(run_conf={"plan": "gold"}).state)
            states["retention"] = str(retention.dag.test(run_conf={"plan": "gold", "dry_run": False}).state)
            states["drill"] = str(failover.dr_failover_drill.test().state)
        _post(f"{moto_server}/moto-api/recorder/stop-recording")
        recording = urllib.request.urlopen(f"{moto_server}/moto-api/recorder/download-recording", timeout=60)
        yield {
            "states": states,
            "seconds": (datetime.now(tz=UTC) - started).total_seconds(),
            "recording": recording.read().decode(),
            "output": output.read_text(errors="replace"),
            "ctx": ctx,
        }
    finally:
        _post(f"{moto_server}/moto-api/recorder/stop-recording")
        mp.undo()
        reset_moto(moto_server)


def test_the_cycle_ran(cycle):
    """The protection half must succeed (it writes the catalog under Object Lock); the drill's own
    correctness is ``tests/dags/test_failover_dag.py``'s: here its calls are checked."""
    print(f"recorded cycle: {cycle['seconds']:.0f} s, {cycle['states']}")
    protection = ("backup", "copy", "verify", "retention")
    assert {k: cycle["states"][k] for k in protection} == dict.fromkeys(protection, "success"), cycle[
        "states"
    ]


def test_every_operation_the_emulator_saw_is_granted(cycle):
    calls = parse(cycle["recording"], SERVICES)
    ops = {(c.service, c.operation) for c in calls}
    assert len(ops) > 60
    assert sorted(ops - set(OPERATIONS)) == [], "called on the emulator, not in the IAM table"
    assert sorted(ops - set(scan().calls)) == [], "called on the emulator, not found by the static scan"
    # the regional statements carry aws:RequestedRegion = the policy's regions
    regional = {c.region for c in calls if c.service not in ("route53", "s3", "sts")}
    assert regional <= {PRIMARY, DR}, regional
    if cycle["states"]["drill"] == "success":
        for op in ("ChangeResourceRecordSets", "CreateAutoScalingGroup", "DeleteAutoScalingGroup", "Publish"):
            assert any(c.operation == op for c in calls), op
    # verification's teardown: the deletes the ownership conditions guard
    for op in ("DeleteVolume", "TerminateInstances", "DeleteDBInstance", "DeleteTable"):
        assert any(c.operation == op for c in calls), op
    # audit records reach the catalog under Object Lock
    locked = ("/awsdr-catalog/failover/", "/awsdr-catalog/retention/reports/", "/awsdr-catalog/audit/")
    records = [c for c in calls if c.operation == "PutObject" and c.path.startswith(locked)]
    assert records
    assert all(dict(c.headers).get("x-amz-object-lock-mode") == "GOVERNANCE" for c in records)
    print(f"emulator covered {len(ops & set(OPERATIONS))} of {len(OPERATIONS)} operations")


def _catalog_texts(ctx) -> list[tuple[str, str]]:
    s3 = ctx.client("s3", DR)
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="awsdr-catalog"):
        for v in page.get("Versions", []):
            body = s3.get_object(Bucket="awsdr-catalog", Key=v["Key"], VersionId=v["VersionId"])[
                "Body"
            ].read()
            out.append((v["Key"], body.decode(errors="replace")))
    return out


def test_no_secret_in_any_log_the_catalog_or_what_was_sent(cycle):
    from airflow.configuration import conf

    output = cycle["output"]
    assert "[DAG TEST] end task task_id=" in output  # the task output was captured
    assert "Connection" in output or "aws_default" in output or "credentials" in output.lower()
    logs = [(str(p), p.read_text(errors="replace")) for p in _files(conf.get("logging", "base_log_folder"))]
    catalog = _catalog_texts(cycle["ctx"])
    assert any(k.startswith("retention/reports/") for k, _ in catalog)
    assert any(k.startswith("verify/") for k, _ in catalog)
    # what the product sent to AWS: bodies and URLs (the session token travels in its own header)
    sent = []
    for line in cycle["recording"].splitlines():
        req = json.loads(line)
        body = req.get("body") or ""
        if req.get("body_encoded") and body:
            body = base64.b64decode(body).decode(errors="replace")
        # cross-region CopySnapshot / CopyDB*Snapshot: botocore adds a presigned URL, signed with
        # the session credentials, for the source region (AWS's protocol, sent to AWS only)
        body = re.sub(r"(^|&)Pre[sS]ignedUrl=[^&]*", r"\1PresignedUrl=<presigned>", body)
        sent.append((req["url"], f"{req['url']} {body}"))
    for where, texts in (("task output", [("output", output)]), ("log files", logs), ("catalog", catalog)):
        for name, text in texts:
            for secret in CANARIES:
                assert secret not in text, f"{secret} in {where} {name}"
    for url, text in sent:
        for secret in CANARIES:
            assert secret not in text, f"{secret} sent to AWS in {url}"


def _files(folder):
    from pathlib import Path

    root = Path(folder)
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


def test_the_sql_validation_connection_password_is_never_logged(capfd, caplog, monkeypatch):
    """Verification's SQL path (``sql_validation``) with a canary password, then a restore that refuses."""
    import logging

    from awsdr.operators.verify import sql_validation

    caplog.set_level(logging.DEBUG)
    db = f"awsdr_canary_{uuid.uuid4().hex[:8]}"
    _psql("postgres", f"CREATE DATABASE {db}")
    try:
        _psql(db, "CREATE TABLE orders (id int primary key, amount_cents bigint, created_at timestamptz)")
        _psql(db, "INSERT INTO orders VALUES (1, 1000, '2026-11-24T09:00Z')")
        uri = f"postgres://postgres:{SQL_PASSWORD}@127.0.0.1:5432/{db}"
        monkeypatch.setenv("AIRFLOW_CONN_AWSDR_SQL_ORDERS_DB", uri)
        window = datetime(2026, 11, 24, 10, tzinfo=UTC)
        assert sql_validation("awsdr_sql_orders_db", "127.0.0.1", window) == []
        with pytest.raises(Exception, match="127.0.0.2") as refused:  # the restored endpoint refuses
            sql_validation("awsdr_sql_orders_db", "127.0.0.2", window)
        texts = [capfd.readouterr().out, caplog.text, str(refused.value), repr(refused.value)]
    finally:
        _psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    for text in texts:
        assert SQL_PASSWORD not in text
