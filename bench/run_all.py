"""``make bench``: every benchmark, each writing JSON under ``bench/results/``.

- ``retention.json``: the retention planner on 100,000 points and on 1,000,000 (B3) (``bench_retention.py``).
- ``policy_parse.json``: parsing and validating a policy with 50 plans.
- ``capture_scale.json``: capturing N EBS volumes in one task against a local moto server:
  wall time, peak memory of the engine, and the AWS calls made by operation (from moto's
  request recorder) — the point is that describes are batched, not one per resource.
- ``console.json``: the DR console's pages for a catalog of 2,000 resources (``bench_console.py``).
- ``cycle.json``: B1, a backup + copy cycle of 100 and 300 resources (``bench_cycle.py``): wall,
  AWS calls by operation, calls per resource.

Figures are for this machine only; compare runs on the same machine.
"""

from __future__ import annotations

import base64
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "tests"))


def write(name: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"{name}: {json.dumps(data, sort_keys=True)}")


def policy_text(plans: int) -> str:
    """A valid policy with ``plans`` plans (3 types each)."""
    body = [
        "version: 1",
        "primary_region: ap-northeast-2",
        "dr_regions: [ap-northeast-1]",
        "catalog_bucket: awsdr-catalog",
        "kms_keys: {ap-northeast-1: alias/awsdr}",
        "plans:",
    ]
    for i in range(plans):
        body += [
            f"  plan_{i:02d}:",
            f'    schedule: "{i % 60} * * * *"',
            "    rpo: PT1H",
            "    rto: PT30M",
            f"    select: {{tags: {{dr-plan: p{i}}}, types: [ebs, rds, s3]}}",
            "    retention: {primary: {hourly: 24}, dr: {daily: 14, weekly: 8}}",
        ]
    return "\n".join(body) + "\n"


def bench_dag_parse(plans: int = 50) -> None:
    """Parse every DAG file with a 50-plan policy in a fresh interpreter (what a dag-processor does)."""
    home = Path(tempfile.mkdtemp(prefix="awsdr-bench-parse-"))
    (home / "policy.yaml").write_text(policy_text(plans))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AWSDR_POLICY": str(home / "policy.yaml"),
        "PYTHONPATH": str(ROOT / "plugins"),
    }
    code = (
        "import time; t0 = time.perf_counter()\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "t1 = time.perf_counter(); bag = DagBag(dag_folder={!r})\n"
        "t2 = time.perf_counter()\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(len(bag.dags), round(t2 - t1, 3))\n".format(str(ROOT / "dags"))
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    dags, seconds = out.stdout.split()[-2:]
    write("dag_parse", {"plans": plans, "dags": int(dags), "seconds": float(seconds)})


def bench_policy(plans: int = 50, repeats: int = 5) -> None:
    from awsdr.policy import parse_policy

    text = policy_text(plans)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        policy = parse_policy(text, "bench.yaml")
        times.append(time.perf_counter() - t0)
    assert len(policy.plans) == plans
    write(
        "policy_parse",
        {
            "plans": plans,
            "seconds_best": round(min(times), 4),
            "seconds_median": round(statistics.median(times), 4),
        },
    )


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=60).read()


def _operation(rec: dict) -> str:
    """The AWS operation of a recorded request (query protocol ``Action=`` or JSON target)."""
    target = rec.get("headers", {}).get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    body = str(rec.get("body") or "")
    if rec.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    for source in (body, str(rec.get("url") or "")):
        for part in source.replace("?", "&").split("&"):
            if part.startswith("Action="):
                return part.split("=", 1)[1]
    return f"{rec.get('method', '?')} {rec.get('url', '')}"[:60]


def bench_capture(volumes: int = 1000) -> None:
    from conftest import free_port, start_moto

    from awsdr.aws.context import AwsContext
    from awsdr.backup import capture_kind
    from awsdr.kinds.ebs import EbsKind

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="awsdr-bench-"))
    proc = start_moto(port, home / "moto.log")
    url = f"http://127.0.0.1:{port}"
    try:
        ctx = AwsContext.from_boto3(endpoint_url=url)
        ec2 = ctx.client("ec2", "ap-northeast-2")
        for _ in range(volumes):
            ec2.create_volume(
                AvailabilityZone="ap-northeast-2a",
                Size=1,
                TagSpecifications=[
                    {"ResourceType": "volume", "Tags": [{"Key": "dr-plan", "Value": "bench"}]}
                ],
            )
        _post(f"{url}/moto-api/recorder/reset-recording")
        _post(f"{url}/moto-api/recorder/start-recording")
        window = datetime(2026, 11, 24, 10, tzinfo=UTC)
        tracemalloc.start()
        t0 = time.perf_counter()
        result = capture_kind(
            ctx,
            EbsKind(),
            plan="bench",
            region="ap-northeast-2",
            selector={"dr-plan": "bench"},
            window=window,
            captured_at=window + timedelta(minutes=1),
            late_after=timedelta(minutes=15),
            concurrency=10,
        )
        points = EbsKind().refresh(ctx, "ap-northeast-2", result.points)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        _post(f"{url}/moto-api/recorder/stop-recording")
        log = (
            urllib.request.urlopen(f"{url}/moto-api/recorder/download-recording", timeout=60).read().decode()
        )
        calls: Counter[str] = Counter()
        for line in log.splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            calls[_operation(rec)] += 1
        assert len(points) == volumes
        assert not result.failures
        write(
            "capture_scale",
            {
                "volumes": volumes,
                "seconds": round(elapsed, 2),
                "peak_mib": round(peak / 2**20, 2),
                "calls": dict(sorted(calls.items())),
                "note": "moto server on this machine; per-call latency is local, not AWS",
            },
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    runpy.run_path(str(ROOT / "bench" / "bench_retention.py"), run_name="__main__")
    bench_policy()
    bench_dag_parse()
    bench_capture(int(os.environ.get("AWSDR_BENCH_VOLUMES", "1000")))
    runpy.run_path(str(ROOT / "bench" / "bench_console.py"), run_name="__main__")
    # B1: backup + copy cycle, calls per resource (bench_cycle.py); its own subprocess, since it
    # points Airflow's connection at its own emulator
    subprocess.run([sys.executable, str(ROOT / "bench" / "bench_cycle.py"), "100", "300"], check=True)
    print(f"results in {RESULTS}")


if __name__ == "__main__":
    main()
