"""``make demo``: one complete headless DR cycle on the emulator, then a printed report.

Starts its own moto server on a free port and a temporary AIRFLOW_HOME (it never touches a
running ``make run``), seeds the demo estate, and runs with ``dag.test()``:
backup (gold) -> copy (gold) -> restore verification -> retention (for real, scheduled-style)
-> failover drill. Airflow's task logs go to ``<home>/demo.log``; the report goes to stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="awsdr-demo-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env_script = (
        f"export AIRFLOW_HOME={home} AWSDR_ENDPOINT={url}; source {ROOT}/scripts/airflow_env.sh; env -0"
    )
    out = subprocess.run(["bash", "-c", env_script], check=True, capture_output=True).stdout
    os.environ.update(dict(i.split("=", 1) for i in out.decode().split("\0") if "=" in i))
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    moto = subprocess.Popen(
        [str(BIN / "python"), str(ROOT / "scripts" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=(home / "moto.log").open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "MOTO_RECORDER_FILEPATH": str(home / "moto.recording")},
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.1)
        subprocess.run(
            [str(BIN / "python"), str(ROOT / "scripts/seed_demo.py"), "--endpoint", url], check=True
        )
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], check=True, capture_output=True)
        status = cycle(home)
        report = "\n".join(REPORT) + "\n"
        target = os.environ.get("AWSDR_DEMO_REPORT")
        if target:
            Path(target).write_text(report)
        else:
            sys.stdout.write(report)
        return status
    finally:
        moto.terminate()
        moto.wait(timeout=10)


REPORT: list[str] = []


def emit(*parts: object) -> None:
    """A report line (Airflow's own logging owns stdout while DAGs run; the report is kept apart)."""
    REPORT.append(" ".join(str(p) for p in parts))


def cycle(home: Path) -> int:
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "dags")]
    log_file = home / "demo.log"
    handler = logging.FileHandler(log_file)
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    from airflow.dag_processing.dagbag import DagBag

    from awsdr.aws.context import AwsContext
    from awsdr.catalog import Catalog
    from awsdr.policy import load_policy

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        print("DAG import errors:", bag.import_errors)
        return 1
    policy = load_policy()
    window = datetime.now(tz=UTC).replace(microsecond=0)
    steps = [
        ("backup", "dr_backup_gold", {"logical_date": window}),
        ("copy", "dr_copy_gold", {}),
        ("verify", "dr_restore_verify", {"run_conf": {"plan": "gold"}}),
        ("retention", "dr_retention", {"run_conf": {"plan": "gold", "dry_run": False}}),
        (
            "failover drill",
            "dr_failover",
            {
                "run_conf": {
                    "strategy": "pilot-light",
                    "target_region": policy.dr_regions[0],
                    "dry_run": False,
                    "confirm": policy.dr_regions[0],
                    "reason": "make demo drill",
                    "drill": True,
                }
            },
        ),
    ]
    results = []
    ok = True
    for label, dag_id, kwargs in steps:
        dag = bag.dags.get(dag_id)
        if dag is None:
            results.append((label, dag_id, "missing", 0.0))
            ok = False
            continue
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            run = dag.test(**kwargs)
        state = str(run.state)
        ok &= state == "success"
        results.append((label, dag_id, state, time.perf_counter() - t0))

    ctx = AwsContext.from_connection("aws_default")
    catalog = Catalog(ctx, policy.catalog_bucket, policy.catalog_region)
    emit("\nAWS DR Pipelines demo cycle")
    emit("=" * 60)
    for label, dag_id, state, secs in results:
        emit(f"{label:16} {dag_id:22} {state:10} {secs:6.1f}s")
    emit("-" * 60)
    from awsdr.kinds import kind_for

    for kind_name in policy.plans["gold"].select.types:
        kind = kind_for(kind_name, policy, "gold")
        primary = kind.list_points(ctx, policy.primary_region, "gold")
        dr = kind.list_points(ctx, policy.dr_regions[0], "gold")
        emit(
            f"{kind_name:10} points in {policy.primary_region}: {len(primary):3}   copies in {policy.dr_regions[0]}: {len(dr):3}"
        )
    verify = [catalog.get_json(k) for k in catalog.list_keys("verify/latest/gold/")]
    passed = sum(1 for v in verify if v and v["passed"])
    emit(f"restore verification: {passed}/{len(verify)} passed")
    for v in verify:
        if v:
            emit(
                f"  {v['kind']:9} {v['source']:28} {'PASS' if v['passed'] else 'FAIL'} {v['seconds']}s (RTO {v['rto_seconds']}s)"
                + (f"  {v['reason']}" if v["reason"] else "")
            )
    reports = catalog.list_keys("retention/reports/")
    if reports:
        rep = catalog.get_json(reports[-1]) or {}
        for kind_name, runs in rep.get("kinds", {}).items():
            for r in runs:
                s = r["summary"]
                emit(
                    f"retention {kind_name:9} kept {s['kept']:3} deleted {s['deleted']:3} blocked {s['blocked']}"
                )
    audits = catalog.list_keys("failover/")
    for key in audits:
        if key.endswith("audit.json"):
            doc = catalog.get_json(key) or {}
            emit(
                f"failover audit {key}: rto_seconds={doc.get('rto_seconds')} steps={len(doc.get('steps', []))}"
            )
    emit(f"\nlogs: {log_file}")
    emit(json.dumps({"ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
