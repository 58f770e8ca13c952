"""One window of backup and copy through the engines the operators drive (no Airflow), for the
chaos tests and ``make chaos``: capture every kind, wait, write the manifest, copy every point,
wait, record the copies. Nothing here knows about faults: it runs the same against a proxy."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from awsdr.backup import all_settled, capture_kind, refresh_points, settle
from awsdr.catalog import Catalog, manifest_key
from awsdr.copies import in_flight_by_region, is_copy, plan_copies, start_copies
from awsdr.kinds import kind_for
from awsdr.operators.backup import build_manifest
from awsdr.operators.copy import _copy_record, merge_copies_into_manifests

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext
    from awsdr.policy import Policy


def backup_window(
    ctx: AwsContext, policy: Policy, plan: str, window: datetime, *, timeout: float = 120.0
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Capture every kind of ``plan`` for ``window`` and write the window manifest."""
    results: dict[str, dict | None] = {}
    for name in policy.plans[plan].select.types:
        kind = kind_for(name, policy, plan)
        if name in ("s3", "dynamodb"):
            Catalog(ctx, policy.catalog_bucket, policy.catalog_region).ensure()
        result = capture_kind(
            ctx,
            kind,
            plan=plan,
            region=policy.primary_region,
            selector=policy.plans[plan].select.tags,
            window=window,
            captured_at=datetime.now(tz=UTC),
            late_after=policy.late_after,
            concurrency=4,
        )
        deadline = time.monotonic() + timeout
        while True:
            result.points = refresh_points(ctx, kind, policy.primary_region, result.points)
            if all_settled(result.points) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        settle(result)
        results[name] = result.to_dict()
    manifest = build_manifest(
        plan=plan, window=window, run_id="chaos", run_type="manual", note="chaos", results=results
    )
    catalog = Catalog(ctx, policy.catalog_bucket, policy.catalog_region)
    catalog.ensure()
    catalog.put_json(manifest_key(plan, window), manifest)
    return manifest, manifest["failed"]


def copy_window(
    ctx: AwsContext, policy: Policy, plan: str, *, timeout: float = 120.0
) -> tuple[int, list[dict[str, str]]]:
    """Copy every point of ``plan`` to every DR region (passes until none is missing or in flight)."""
    regions = list(policy.dr_regions)
    failures: list[dict[str, str]] = []
    records: list[dict[str, Any]] = []
    for name in policy.plans[plan].select.types:
        kind = kind_for(name, policy, plan)
        tried: set[tuple[str, str]] = set()
        deadline = time.monotonic() + timeout
        while True:
            sources = [p for p in kind.list_points(ctx, policy.primary_region, plan) if not is_copy(p)]
            copies = {r: kind.list_points(ctx, r, None) for r in regions}
            todo = plan_copies(
                sources, copies, regions, rule=policy.plans[plan].retention.dr, tz=policy.timezone
            )
            jobs = [j for j in todo.jobs if (j.point.point_id, j.dest_region) not in tried]
            if not jobs and not todo.in_flight:
                records += [_copy_record(c) for c in todo.done]
                break
            start = start_copies(
                ctx,
                kind,
                jobs,
                quota=policy.copy_quotas[name],
                in_flight=in_flight_by_region(copies),
                kms_keys=dict(policy.kms_keys),
            )
            failures += start.failures
            tried |= {(f["point"], f["region"]) for f in start.failures}
            if time.monotonic() > deadline:
                failures.append({"kind": name, "source": "*", "region": "*", "error": "copy timed out"})
                break
            time.sleep(0.5)
    catalog = Catalog(ctx, policy.catalog_bucket, policy.catalog_region)
    windows = sorted({r["window"] for r in records})
    from awsdr.windows import parse_window

    manifests = {w: catalog.get_json(manifest_key(plan, parse_window(w))) for w in windows}
    changed = merge_copies_into_manifests({w: m for w, m in manifests.items() if m is not None}, records)
    for w, doc in changed.items():
        catalog.put_json(manifest_key(plan, parse_window(w)), doc)
    return len(records), failures
