"""The console's pages for a catalog of N resources (default 2,000): render time per page.

The catalog is in memory (the console's reader interface), the posture document is computed by
the real ``compute_posture`` from synthetic points (24 primary points and 24 DR copies per
resource), and each page is requested through FastAPI's TestClient, as the api-server would
serve it, after the first request has filled the cache (the steady state of page views: the
cache refreshes once a minute at most). Writes ``bench/results/console.json``.

    PYTHONPATH=plugins:tests python bench/bench_console.py [N]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "tests"), str(ROOT / "tests" / "unit")]

from fastapi.testclient import TestClient  # noqa: E402
from test_console import DR, KEY_ARN, MemoryCatalog, healthy, posture_of, user_ok  # noqa: E402

from awsdr.console import compliance, cost  # noqa: E402
from awsdr.console.app import create_app  # noqa: E402
from awsdr.console.compliance import LockStatus  # noqa: E402
from awsdr.console.data import ConsoleData, append_history, history_sample, points_doc  # noqa: E402
from awsdr.policy import load_policy  # noqa: E402
from awsdr.windows import format_window  # noqa: E402


def main(n: int = 2000, repeats: int = 5) -> dict:
    policy = load_policy()
    points = []
    for i in range(n):
        points += healthy(f"vol-{i:05d}", hours=24)
    doc = posture_of(points, selected={("gold", "ebs"): [f"vol-{i:05d}" for i in range(n)]})
    doc["cost"] = cost.estimate(policy, points, now=posture_of.__globals__["NOW"])
    pts = points_doc(points, window=doc["window"])
    history = None
    for _ in range(96):
        history = append_history(
            history, history_sample(doc, pts) | {"window": format_window(posture_of.__globals__["NOW"])}
        )
    rows = compliance.evaluate(
        policy,
        doc,
        points,
        now=posture_of.__globals__["NOW"],
        dr_keys={DR: KEY_ARN},
        lock=LockStatus(enabled=True),
    )
    report = compliance.report(
        rows, window=posture_of.__globals__["NOW"], generated_at=posture_of.__globals__["NOW"]
    )
    reader = MemoryCatalog(
        {
            "posture/latest.json": doc,
            "console/points.json": pts,
            "console/history.json": history,
            "compliance/latest.json": report,
        }
    )
    data = ConsoleData(lambda: reader, ttl=3600)
    client = TestClient(create_app(data, auth=user_ok))
    t0 = time.perf_counter()
    assert client.get("/").status_code == 200
    first = time.perf_counter() - t0
    calls_first_view = reader.calls
    pages = {
        "overview": "/",
        "resource": f"/resource/gold/ebs/vol-{n - 1:05d}",
        "failovers": "/failovers",
        "charts": "/charts",
        "compliance": "/compliance",
        "cost": "/cost",
    }
    timings = {}
    for name, path in pages.items():
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            resp = client.get(path)
            samples.append(time.perf_counter() - t0)
            assert resp.status_code == 200, (path, resp.status_code)
        timings[name] = {"best_s": round(min(samples), 4), "median_s": round(statistics.median(samples), 4)}
    result = {
        "resources": n,
        "points": len(points),
        "compliance_rows": len(rows),
        "first_view_with_catalog_load_s": round(first, 3),
        "pages": timings,
        "catalog_calls_first_view": calls_first_view,
        "catalog_calls_after_first_view": reader.calls - calls_first_view,
        "target_s": 1.0,
        "within_target": all(t["median_s"] < 1.0 for t in timings.values()),
    }
    out = ROOT / "bench" / "results" / "console.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"console: {json.dumps(result, sort_keys=True)}")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
