"""B1 (first version): one backup + copy cycle of N resources on moto in server mode.

The cycle is ``dr_backup_gold`` then ``dr_copy_gold``, run by the chaos suite's in-process DAG
runner (``tests/chaos/kill.py``: a forked worker runs each task's ``execute``/``resume`` the way
a worker and the triggerer would), so the operators are the ones the DAGs run. The estate is
EBS-heavy: 80 % volumes, 10 % RDS instances, 10 % DynamoDB tables (``scripts/seed_demo.py``'s
seeder, tagged ``dr-plan: gold``). moto's recorder is on from the first task to the last, and
every AWS call the cycle made is counted by operation.

Not the real scheduler: a deferral is resumed after 0.2 s (the runner's stand-in for the
triggerer), so wall time here is the work, not poll intervals. What this measures is calls per
resource and the number of deferral rounds.

    .venv/bin/python bench/bench_cycle.py 100 300     # -> bench/results/cycle.json

``AWSDR_BENCH_PLUGINS=/path/to/plugins`` runs the cycle on another tree's package (a
``git worktree`` of an older commit, to compare before and after).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PLUGINS = Path(os.environ.get("AWSDR_BENCH_PLUGINS") or ROOT / "plugins")
for _p in (ROOT / "scripts", ROOT / "dags", ROOT / "tests", ROOT / "bench", PLUGINS):
    sys.path.insert(0, str(_p))

import conftest  # noqa: E402  (sets AIRFLOW_HOME, the moto connection, test credentials)
from run_all import _operation, _post  # noqa: E402

sys.path.insert(0, str(PLUGINS))  # run_all put this tree's plugins first
import awsdr  # noqa: E402

MIX = {"ebs": 0.8, "rds": 0.1, "dynamodb": 0.1}


def mix(n: int) -> dict[str, int]:
    rds = max(1, round(n * MIX["rds"]))
    ddb = max(1, round(n * MIX["dynamodb"]))
    return {"ebs": n - rds - ddb, "rds": rds, "dynamodb": ddb}


def seed(endpoint: str, counts: dict[str, int]) -> None:
    from seed_demo import DR, PRIMARY, Seeder

    s = Seeder(endpoint)
    gold = {"dr-plan": "gold", "app": "bench"}
    for i in range(counts["ebs"]):
        s.volume(f"bench-vol-{i}", 1, gold)
    for i in range(counts["rds"]):
        s.rds(f"bench-db-{i}", gold)
    for i in range(counts["dynamodb"]):
        s.table(f"bench-table-{i}", gold, items=2)
    s.bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    s.kms_alias(DR, "alias/awsdr")
    del PRIMARY


def _policy(work: Path) -> Any:
    """The default policy, gold plan narrowed to the bench's three types."""
    from awsdr.policy import DEFAULT_POLICY_PATH, load_policy

    text = DEFAULT_POLICY_PATH.read_text()
    old = "types: [ebs, ec2, rds, aurora, dynamodb, s3]"
    assert text.count(old) == 1
    path = work / "policy.yaml"
    path.write_text(text.replace(old, "types: [ebs, rds, dynamodb]", 1))
    os.environ["AWSDR_POLICY"] = str(path)
    return load_policy(path)


def _calls(endpoint: str) -> Counter[str]:
    log = urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording", timeout=120).read()
    calls: Counter[str] = Counter()
    for line in log.decode().splitlines():
        if line.strip():
            calls[_operation(json.loads(line))] += 1
    return calls


def cycle(n: int) -> dict[str, Any]:
    """Seed N resources on a fresh emulator, run backup then copy, count the calls."""
    from chaos.kill import attempt, hours_ago

    # a deferral on a timer resumes at its moment (at most 30 s), as the triggerer would: a copy
    # waiting for DynamoDB's PITR to pass its window is tried again when it can succeed, not every
    # 0.2 s (tests/chaos/kill.py _resume_after)
    os.environ.setdefault("AWSDR_RUNNER_MAX_WAIT", "30")
    work = Path(tempfile.mkdtemp(prefix=f"awsdr-bench-cycle-{n}-"))
    port = conftest.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": conftest.PRIMARY}}
    )
    proc = conftest.start_moto(port, work / "moto.log")
    try:
        counts = mix(n)
        seed(endpoint, counts)
        policy = _policy(work)
        import dr_backup
        import dr_copy

        # the DAG modules read the policy when imported: another caller (a test module, the
        # previous cycle) may have loaded them with its own
        dr_backup = importlib.reload(dr_backup)
        dr_copy = importlib.reload(dr_copy)

        _post(f"{endpoint}/moto-api/recorder/reset-recording")
        _post(f"{endpoint}/moto-api/recorder/start-recording")
        phases: dict[str, dict[str, Any]] = {}
        t_all = time.perf_counter()
        w = hours_ago(0)
        for name, dag, kw in (
            (
                "backup",
                dr_backup.dr_backup_gold,
                {"run_id": f"scheduled__{w.isoformat()}", "logical_date": w},
            ),
            ("copy", dr_copy.dr_copy_gold, {"run_id": "manual__bench", "run_type": "manual"}),
        ):
            t0 = time.perf_counter()
            result = attempt(dag, work / name, None, endpoint=endpoint, policy=policy, timeout=3600.0, **kw)
            journal = [json.loads(x) for x in (work / name / "journal.jsonl").read_text().splitlines()]
            phases[name] = {
                "state": result.state,
                "seconds": round(time.perf_counter() - t0, 2),
                "deferrals": sum(1 for e in journal if e["event"] == "deferred"),
                "errors": [e.get("error", "")[:300] for e in journal if e["event"] in ("error", "crash")],
            }
        wall = time.perf_counter() - t_all
        _post(f"{endpoint}/moto-api/recorder/stop-recording")
        calls = _calls(endpoint)
        copies = len(
            [
                s
                for page in _dr_snapshots(endpoint)
                for s in page
                if any(t["Key"] == "awsdr:copy-of" for t in s.get("Tags", []))
            ]
        )
        total = sum(calls.values())
        return {
            "n": n,
            "mix": counts,
            "wall_seconds": round(wall, 2),
            "phases": phases,
            "aws_calls": total,
            "calls_per_resource": round(total / n, 2),
            "calls": dict(sorted(calls.items())),
            "ebs_copies_in_dr": copies,
            "describe_snapshots_per_ebs_copy": round(calls.get("DescribeSnapshots", 0) / max(1, copies), 3),
            "awsdr_package": str(Path(awsdr.__file__).parent),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _dr_snapshots(endpoint: str) -> list[list[dict[str, Any]]]:
    import boto3

    ec2 = boto3.client("ec2", region_name=conftest.DR, endpoint_url=endpoint)
    pages = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"])
    return [p["Snapshots"] for p in pages]


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [100, 300]
    out = os.environ.get("AWSDR_BENCH_OUT") or str(RESULTS / "cycle.json")
    runs = [cycle(n) for n in sizes]
    doc = {
        "bench": "B1 backup + copy cycle (in-process DAG runner, moto server mode)",
        "note": "deferrals resumed after 0.2 s, not a poll interval; this machine only",
        "runs": runs,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    for r in runs:
        print(
            f"N={r['n']}: {r['wall_seconds']} s, {r['aws_calls']} calls, {r['calls_per_resource']}/resource, "
            f"DescribeSnapshots={r['calls'].get('DescribeSnapshots', 0)} for {r['ebs_copies_in_dr']} EBS copies, "
            f"phases={ {k: (v['state'], v['deferrals'], len(v['errors'])) for k, v in r['phases'].items()} }"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
