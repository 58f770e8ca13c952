"""Restore verification: pick the newest DR copy per resource, restore, validate, record, tear down.

No Airflow imports. A resource's result is one dict (stable schema, written to the catalog at
``verify/latest/<plan>/<kind>/<source>.json`` and ``verify/runs/<run>/<kind>.json``)::

    {"plan", "kind", "source", "copy_id", "region", "window", "verified_at", "seconds",
     "passed", "reason", "checks", "rto_seconds", "within_rto"}
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from awsdr.catalog import verify_latest_key, verify_run_key
from awsdr.kinds.base import BY_WINDOW, RecoveryPoint
from awsdr.kinds.base import newest_copies as newest_of
from awsdr.windows import (
    DYNAMODB_NAME,
    LAMBDA_NAME,
    RDS_INSTANCE,
    TAG_COPY_OF,
    TAG_VALUE,
    format_window,
    make_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from awsdr.catalog import Catalog

log = logging.getLogger(__name__)

_NAME_RULES = {"rds": RDS_INSTANCE, "aurora": RDS_INSTANCE, "dynamodb": DYNAMODB_NAME, "lambda": LAMBDA_NAME}


def run_key(run_id: str) -> str:
    """A short, name-safe key for a run id (tag value and name component)."""
    return hashlib.sha256(run_id.encode()).hexdigest()[:10]


def verify_name(kind: str, run_id: str, source: str) -> str:
    """Deterministic name of the temporary resource (a retry finds it again)."""
    rule = _NAME_RULES.get(kind, TAG_VALUE)
    return make_name(rule, "awsdr-v", run_key(run_id), source)


def newest_copies(copies: Iterable[RecoveryPoint], now: datetime | None = None) -> dict[str, RecoveryPoint]:
    """The newest available DR copy per source (:func:`awsdr.kinds.base.newest_copies` by window,
    then point id: verification records and checks the copy of a window), preferring one a volume
    can be made from now: an EBS snapshot in the archive tier is chosen only when every copy of its
    source is archived (the caller then starts a restore from the archive instead of restoring)."""
    return newest_of(copies, now or datetime.now(tz=UTC), by=BY_WINDOW)


def choose(sources: list[str], *, only: set[str], sample: int | None, seed: str) -> list[str]:
    """Which sources to verify: the filter, then a deterministic sample that rotates with ``seed``.

    Sorting by a digest of (seed, source) gives each window a different, reproducible subset,
    so over successive runs every resource gets its turn.
    """
    chosen = sorted(s for s in sources if not only or s in only)
    if sample is not None and sample < len(chosen):
        chosen = sorted(chosen, key=lambda s: hashlib.sha256(f"{seed}|{s}".encode()).hexdigest())[:sample]
    return sorted(chosen)


def expected_entry(manifest: dict[str, Any] | None, copy: RecoveryPoint) -> dict[str, Any] | None:
    """The window manifest's entry for the point this copy was made from."""
    if not manifest:
        return None
    source_point = copy.tags.get(TAG_COPY_OF)
    for entry in manifest.get("protected", []):
        if entry.get("point_id") == source_point or entry.get("point_arn") == source_point:
            return entry
    return None


def result(
    *,
    plan: str,
    kind: str,
    source: str,
    copy: RecoveryPoint | None,
    region: str,
    started: datetime | None,
    finished: datetime,
    problems: list[str],
    checks: list[str],
    rto_seconds: int,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    seconds = round((finished - started).total_seconds(), 1) if started else None
    passed = not problems
    return {
        "plan": plan,
        "kind": kind,
        "source": source,
        "copy_id": copy.point_id if copy else None,
        "region": region,
        "window": format_window(copy.window) if copy else None,
        "verified_at": format_window(finished),
        "seconds": seconds,
        "passed": passed,
        "reason": "; ".join(problems) if problems else None,
        "checks": checks,
        #: what the restore could not carry over and did not fail on (e.g. Lambda environment values)
        "notes": list(notes or []),
        "rto_seconds": rto_seconds,
        "within_rto": bool(passed and seconds is not None and seconds <= rto_seconds),
    }


def write_results(catalog: Catalog, run_id: str, kind: str, results: list[dict[str, Any]]) -> None:
    """``verify/runs/<run id>/<kind>.json`` and, per result, ``verify/latest/<plan>/<kind>/<source>.json``."""
    catalog.put_json(verify_run_key(run_id, kind), results)
    for r in results:
        catalog.put_json(verify_latest_key(r["plan"], r["kind"], r["source"]), r)


def sql_checks(source_rows: dict[str, list[tuple]], restored_rows: dict[str, list[tuple]]) -> list[str]:
    """Compare each validation query's rows between the source and the restored database."""
    problems = []
    for name in sorted(source_rows):
        got = restored_rows.get(name)
        if got is None:
            problems.append(f"sql {name}: not run on the restored database")
        elif sorted(map(tuple, got)) != sorted(map(tuple, source_rows[name])):
            problems.append(
                f"sql {name}: restored rows differ from the source ({len(got)} vs {len(source_rows[name])})"
            )
    return problems
