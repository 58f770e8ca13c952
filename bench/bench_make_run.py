"""``make run`` as a new user meets it: time to the first backup, and one DR cycle, per database.

For each database (``AWSDR_DB=postgres``, the default, and ``sqlite``, the fallback and the old
default) this starts ``make run`` in the given checkout on free ports, with a fresh Airflow home
and a fresh emulator, and measures through the REST API (admin/admin):

- ``first_backup_s``: from ``make run`` to the first successful ``dr_backup_*`` run (the
  scheduler's catch-up of the newest windows), and ``first_copy_s`` to the first successful
  ``dr_copy_*`` run;
- ``cycle_s``: once the catch-up is quiet (no queued or running ``dr_backup_*``/``dr_copy_*``
  run), one cycle of the demo's ``gold`` plan, triggered as a user would from the UI: a manual
  ``dr_backup_gold`` run, the ``dr_copy_gold`` run its Asset starts, then ``dr_retention`` and
  ``dr_restore_verify`` for ``gold`` one after the other; from the first trigger to the last
  run's end, each phase's seconds beside it.

Then it stops ``make run`` with TERM (as Ctrl-C does) and checks that no process of it is left.
Nothing is asserted about speed: the figures are written to ``bench/results/make_run.json``.

    .venv/bin/python bench/bench_make_run.py --checkout /tmp/fresh [--dbs postgres,sqlite]

The checkout needs its ``.venv`` (``make run`` builds it on first use; time that separately).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token: str | None = None

    def req(self, method: str, path: str, body: dict | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def login(self) -> None:
        self.token = self.req("POST", "/auth/token", {"username": "admin", "password": "admin"})[
            "access_token"
        ]

    def runs(self, dag_id: str) -> list[dict]:
        try:
            return self.req("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=200&order_by=-run_after")["dag_runs"]
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return []
            raise
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return []


def wait(pred, timeout: float, what: str, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = pred()
        except (urllib.error.URLError, TimeoutError, ConnectionError, KeyError):
            got = None
        if got:
            return got
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def any_success(api: Api, prefix: str, dag_ids: list[str]) -> bool:
    return any(r["state"] == "success" for d in dag_ids if d.startswith(prefix) for r in api.runs(d))


def finished(api: Api, dag_id: str, run_id: str) -> dict | None:
    run = api.req("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    return run if run["state"] in ("success", "failed") else None


def trigger(api: Api, dag_id: str, conf: dict) -> str:
    now = datetime.now(tz=UTC).isoformat()
    return api.req("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": now, "conf": conf})[
        "dag_run_id"
    ]


def measure(checkout: Path, db: str, timeout: float) -> dict[str, Any]:
    moto_port, api_port = free_port(), free_port()
    home = checkout / ".airflow"
    if home.exists():
        shutil.rmtree(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS"))}
    env.update(AWSDR_MOTO_PORT=str(moto_port), AWSDR_API_PORT=str(api_port), AWSDR_DB=db)
    log = (checkout / f"make-run-{db}.log").open("wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["make", "run"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    out: dict[str, Any] = {"db": db, "moto_port": moto_port, "api_port": api_port}
    try:
        api = Api(api_port)
        wait(lambda: api.req("GET", "/api/v2/monitor/health"), timeout, "the api-server")
        out["api_up_s"] = round(time.monotonic() - t0, 1)
        wait(lambda: (api.login(), True)[1], 120, "login")
        dag_ids = wait(
            lambda: (
                [d["dag_id"] for d in api.req("GET", "/api/v2/dags?limit=200")["dags"]]
                if api.req("GET", "/api/v2/dags?limit=200")["total_entries"] >= 8
                else None
            ),
            timeout,
            "the DAGs to be parsed",
        )
        wait(lambda: any_success(api, "dr_backup_", dag_ids), timeout, "a successful dr_backup_* run")
        out["first_backup_s"] = round(time.monotonic() - t0, 1)
        wait(lambda: any_success(api, "dr_copy_", dag_ids), timeout, "a successful dr_copy_* run")
        out["first_copy_s"] = round(time.monotonic() - t0, 1)

        def quiet() -> bool:
            return not any(
                r["state"] in ("queued", "running")
                for d in dag_ids
                if d.startswith(("dr_backup_", "dr_copy_"))
                for r in api.runs(d)
            )

        wait(quiet, timeout, "the catch-up to finish", interval=5)
        out["catch_up_quiet_s"] = round(time.monotonic() - t0, 1)
        phases: dict[str, float] = {}
        c0 = time.monotonic()
        copies_before = {r["dag_run_id"] for r in api.runs("dr_copy_gold")}
        run_id = trigger(api, "dr_backup_gold", {})
        backup = wait(lambda: finished(api, "dr_backup_gold", run_id), timeout, "the manual backup")
        phases["backup"] = round(time.monotonic() - c0, 1)
        out["backup_state"] = backup["state"]

        def new_copy_done() -> dict | None:
            new = [r for r in api.runs("dr_copy_gold") if r["dag_run_id"] not in copies_before]
            done = [r for r in new if r["state"] in ("success", "failed")]
            return done[0] if done else None

        t = time.monotonic()
        copy = wait(new_copy_done, timeout, "the dr_copy_gold run the backup's Asset starts")
        phases["copy"] = round(time.monotonic() - t, 1)
        out["copy_state"], out["copy_run_type"] = copy["state"], copy.get("run_type")
        for dag_id in ("dr_retention", "dr_restore_verify"):
            t = time.monotonic()
            rid = trigger(api, dag_id, {"plan": "gold"})
            run = wait(lambda d=dag_id, r=rid: finished(api, d, r), timeout, dag_id)
            phases[dag_id.removeprefix("dr_")] = round(time.monotonic() - t, 1)
            out[f"{dag_id}_state"] = run["state"]
        out["cycle_s"] = round(time.monotonic() - c0, 1)
        out["cycle_phases_s"] = phases
        out["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out["stop"] = "killed after 240 s"
        left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
        out["left_after_stop"] = len(left)
        if left:
            os.killpg(proc.pid, signal.SIGKILL)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkout", required=True, help="a clone of this repository, with its .venv")
    parser.add_argument("--dbs", default="postgres,sqlite")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--results", default=str(RESULTS / "make_run.json"))
    args = parser.parse_args()
    checkout = Path(args.checkout).resolve()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True
    )
    results = {"commit": head.stdout.strip(), "cpus": os.cpu_count(), "runs": []}
    for db in args.dbs.split(","):
        print(f"== make run with AWSDR_DB={db}", file=sys.stderr, flush=True)
        try:
            got = measure(checkout, db, args.timeout)
        except TimeoutError as err:
            got = {"db": db, "error": str(err)}
        print(json.dumps(got), file=sys.stderr, flush=True)
        results["runs"].append(got)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if all("error" not in r for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
