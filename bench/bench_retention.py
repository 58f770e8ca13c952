"""Benchmark: the retention planner on 100,000 and on 1,000,000 synthetic recovery points.

``retention_planner_100k``: 500 resources x 2 regions (primary + DR) x 100 hourly windows, kept by
the demo's GFS rules (most points go).

``retention_planner_1m`` (issue 13's B3): 5,000 resources x 2 regions x 100 hourly windows, in
steady state: the rules keep 99 hourly points per resource and region, so one window ages out of
each: about 10,000 deletes in a million points.

In both: Every DR point is a completed copy
of the primary point of the same window, one in ten DR copies carries ``verified_at``, a few
points are held, incomplete or unmanaged, and the GFS periods are computed in Europe/Berlin
across the 2026 autumn DST fall-back, so the zone conversions are real work.

Timing: best and median of 5 runs with ``time.perf_counter`` (tracemalloc off); the peak memory
the planner allocates is measured in a separate run under ``tracemalloc``.

Run: ``PYTHONPATH=plugins .venv/bin/python bench/bench_retention.py``; writes
``bench/results/retention.json``.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from awsdr.planning.retention import Gfs, PointInfo, plan_retention

RESOURCES = 500
RESOURCES_1M = 5_000
WINDOWS = 100
REPEATS = 5
TZ = "Europe/Berlin"
# 100 hourly windows ending the day after the Berlin fall-back (2026-10-25 01:00Z).
FIRST_WINDOW = datetime(2026, 10, 22, 0, 0, tzinfo=UTC)
RULES = {
    "primary": Gfs(hourly=24, daily=7),
    "dr": Gfs(daily=14, weekly=8, monthly=12, yearly=3),
}
#: B3's steady state: one window ages out of each resource and region
RULES_1M = {"primary": Gfs(hourly=WINDOWS - 1), "dr": Gfs(hourly=WINDOWS - 1)}
OUT = Path(__file__).resolve().parent / "results" / "retention.json"


def build_points(resources: int = RESOURCES) -> list[PointInfo]:
    """The synthetic estate: ``resources * 2 * WINDOWS`` points."""
    windows = [FIRST_WINDOW + timedelta(hours=h) for h in range(WINDOWS)]
    points: list[PointInfo] = []
    for r in range(resources):
        source = f"vol-{r:08x}"
        for w, window in enumerate(windows):
            primary_id = f"arn:aws:ec2:ap-northeast-2::snapshot/snap-{r:06d}{w:04d}p"
            points.append(
                PointInfo(
                    point_id=primary_id,
                    source_id=source,
                    region="ap-northeast-2",
                    region_class="primary",
                    window=window,
                    managed=(r + w) % 97 != 0,
                    legal_hold=(r * 31 + w) % 211 == 0,
                    completed=(r + w * 7) % 53 != 0,
                    size_bytes=8 << 30,
                    plan="gold",
                    kind="ebs",
                )
            )
            points.append(
                PointInfo(
                    point_id=f"arn:aws:ec2:ap-northeast-1::snapshot/snap-{r:06d}{w:04d}d",
                    source_id=source,
                    region="ap-northeast-1",
                    region_class="dr",
                    window=window,
                    managed=True,
                    legal_hold=False,
                    completed=True,
                    verified_at=window + timedelta(hours=2) if (r + w) % 10 == 0 else None,
                    copy_of=primary_id,
                    size_bytes=8 << 30,
                    plan="gold",
                    kind="ebs",
                )
            )
    return points


def run(points: list[PointInfo], now: datetime, existing: set[str], rules: dict[str, Gfs] = RULES):
    return plan_retention(
        points,
        rules=rules,
        tz=TZ,
        now=now,
        existing_sources=existing,
        vanished_at={},
        max_delete_fraction=0.9,
    )


def measure(name: str, resources: int, rules: dict[str, Gfs], repeats: int) -> dict:
    """Best and median of ``repeats`` timed plans, then one plan under tracemalloc for the peak."""
    points = build_points(resources)
    now = FIRST_WINDOW + timedelta(hours=WINDOWS)
    # One resource in fifty has vanished (grace starts now: all its points kept).
    existing = {f"vol-{r:08x}" for r in range(resources) if r % 50}

    times: list[float] = []
    plan = None
    for _ in range(repeats):
        start = time.perf_counter()
        plan = run(points, now, existing, rules)
        times.append(time.perf_counter() - start)
    assert plan is not None

    tracemalloc.start()
    run(points, now, existing, rules)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    summary = plan.summary()
    return {
        "name": name,
        "points": len(points),
        "seconds_best": round(min(times), 4),
        "seconds_median": round(statistics.median(times), 4),
        "peak_mib": round(peak / 2**20, 2),
        "repeats": repeats,
        "tz": TZ,
        "kept": summary["kept"],
        "deleted": summary["deleted"],
        "blocked_groups": summary["blocked"],
    }


def main() -> None:
    result = measure("retention_planner_100k", RESOURCES, RULES, REPEATS)
    result["b3_1m"] = measure("retention_planner_1m", RESOURCES_1M, RULES_1M, 3)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
