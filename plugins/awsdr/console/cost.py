"""The cost estimate: storage per region and kind, cross-region transfer per day, standby compute.

Pure: it takes the points posture already listed and the policy; prices come from
``include/prices.json``, which states its date and source. Every figure is an estimate and is
labelled so (the document's ``"estimate": true``):

- **storage**: the points' full sizes (``details.size_gib``) per region and kind, times the
  region's price per GiB-month. Snapshots are incremental on AWS, so this is an upper bound;
  points without a recorded size count in ``unsized``.
- **transfer**: the sizes of the DR copies created in the 24 hours before ``now``, times the
  source (primary) region's inter-region transfer price: the copies of one day.
- **standby compute** per strategy, from the failover section: what runs while standing by
  (the resting sizes for pilot light and warm standby, the full sizes for active-active, nothing
  for backup & restore), and what runs while serving from the DR region (full sizes; for backup &
  restore, the AMI launches). An Auto Scaling group without ``instance_type`` is counted in
  ``unpriced``; ECS services are priced as Fargate tasks of ``vcpu`` and ``memory_gib``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from awsdr.policy import AsgStandby
from awsdr.windows import TAG_COPY_OF

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from awsdr.kinds.base import RecoveryPoint
    from awsdr.policy import Policy

PRICES_PATH = Path(__file__).resolve().parents[3] / "include" / "prices.json"
STRATEGIES = ("backup-restore", "pilot-light", "warm-standby", "active-active")


@cache
def load_prices(path: str | None = None) -> dict[str, Any]:
    """The price table (``include/prices.json`` unless ``path``)."""
    return json.loads(Path(path or PRICES_PATH).read_text())


def _regional(table: Mapping[str, Any], region: str) -> Any:
    return table.get(region, table["default"])


def _price(table: Mapping[str, Any], region: str, name: str) -> float | None:
    regional = table.get(region, {})
    value = regional.get(name, table["default"].get(name))
    return None if value is None else float(value)


def _money(value: float) -> float:
    return round(value, 2)


def storage(points: Iterable[RecoveryPoint], prices: Mapping[str, Any]) -> dict[str, Any]:
    """``{region: {kind: {points, gib, usd_month}}}`` of the available points, and the unsized."""
    gib: dict[tuple[str, str], float] = defaultdict(float)
    count: dict[tuple[str, str], int] = defaultdict(int)
    unsized = 0
    for p in points:
        if p.status != "available":
            continue
        size = p.details.get("size_gib")
        count[(p.region, p.kind)] += 1
        if isinstance(size, int | float) and not isinstance(size, bool):
            gib[(p.region, p.kind)] += float(size)
        else:
            unsized += 1
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for region, kind in sorted(count):
        price = _price(prices["storage_gib_month"], region, kind) or 0.0
        size = gib[(region, kind)]
        out[region][kind] = {
            "points": count[(region, kind)],
            "gib": round(size, 3),
            "usd_month": _money(size * price),
        }
    return {"regions": dict(out), "unsized": unsized}


def transfer(
    points: Iterable[RecoveryPoint], prices: Mapping[str, Any], *, primary_region: str, now: datetime
) -> dict[str, Any]:
    """The copies created in the day before ``now``: GiB and the price of moving them."""
    since = now - timedelta(days=1)
    gib: dict[str, float] = defaultdict(float)
    copies: dict[str, int] = defaultdict(int)
    for p in points:
        if p.region == primary_region or TAG_COPY_OF not in p.tags or p.created_at is None:
            continue
        if not since < p.created_at <= now:
            continue
        size = p.details.get("size_gib")
        copies[p.region] += 1
        if isinstance(size, int | float) and not isinstance(size, bool):
            gib[p.region] += float(size)
    rate = float(_regional(prices["transfer_out_gib"], primary_region))
    per_region = {
        r: {"copies": copies[r], "gib": round(gib[r], 3), "usd_day": _money(gib[r] * rate)}
        for r in sorted(copies)
    }
    return {
        "from": primary_region,
        "usd_per_gib": rate,
        "per_region": per_region,
        "usd_day": _money(sum(gib.values()) * rate),
    }


def _asg_hour(unit: Any, size: int, prices: Mapping[str, Any]) -> float | None:
    if size == 0:
        return 0.0
    if unit.instance_type is None:
        return None
    per = _price(prices["ec2_hour"], unit.region, unit.instance_type)
    return None if per is None else per * size


def _ecs_hour(unit: Any, tasks: int, prices: Mapping[str, Any]) -> float:
    rate = _regional(prices["fargate_hour"], unit.region)
    return tasks * (unit.vcpu * float(rate["vcpu"]) + unit.memory_gib * float(rate["gib"]))


def standby(policy: Policy, prices: Mapping[str, Any]) -> dict[str, Any]:
    """Per strategy: USD per month while standing by and USD per hour while serving from DR."""
    failover = policy.failover
    hours = float(prices.get("hours_per_month", 730))
    out: dict[str, Any] = {}
    for strategy in STRATEGIES:
        resting = serving = 0.0
        unpriced: list[str] = []
        units = [] if failover is None else list(failover.compute)
        for unit in units:
            rest_h: float | None
            full_h: float | None
            if isinstance(unit, AsgStandby):
                rest_h = _asg_hour(unit, unit.resting.desired, prices)
                full_h = _asg_hour(unit, unit.capacity.desired, prices)
                name = f"asg {unit.name} ({unit.region})"
            else:
                rest_h, full_h = _ecs_hour(unit, unit.resting, prices), _ecs_hour(unit, unit.desired, prices)
                name = f"ecs {unit.cluster}/{unit.service} ({unit.region})"
            if strategy == "backup-restore":
                continue  # nothing stands by; the AMI launches below serve
            standing = full_h if strategy == "active-active" else rest_h
            if standing is None or full_h is None:
                unpriced.append(f"{name}: no instance_type")
                continue
            resting += standing
            serving += full_h
        if strategy == "backup-restore" and failover is not None:
            for launch in failover.ami_launch:
                for region in policy.dr_regions:
                    per = _price(prices["ec2_hour"], region, launch.instance_type)
                    if per is None:
                        unpriced.append(f"ami_launch {launch.source}: no price for {launch.instance_type}")
                        continue
                    serving += per * launch.count
                    break
        out[strategy] = {
            "standing_usd_month": _money(resting * hours),
            "serving_usd_hour": round(serving, 4),
            "unpriced": unpriced,
        }
    return out


def estimate(
    policy: Policy, points: Iterable[RecoveryPoint], *, now: datetime, prices: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The cost estimate document (a section of the posture document and of the console)."""
    prices = prices if prices is not None else load_prices()
    points = list(points)
    stored = storage(points, prices)
    moved = transfer(points, prices, primary_region=policy.primary_region, now=now)
    storage_month = sum(k["usd_month"] for r in stored["regions"].values() for k in r.values())
    return {
        "estimate": True,
        "currency": prices.get("currency", "USD"),
        "prices_as_of": prices["as_of"],
        "prices_source": prices["source"],
        "notes": prices.get("notes", ""),
        "storage": stored,
        "storage_usd_month": _money(storage_month),
        "transfer": moved,
        "standby": standby(policy, prices),
    }
