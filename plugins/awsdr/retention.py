"""Retention execution: list points, plan (pure planner), audit, delete in batches, reconcile.

Order of every deletion, so a run killed anywhere leaves a trail the next run can finish:

1. an *intent* record for the batch (point, rule, run id, time) is written to the catalog,
2. the batch is deleted (the kind re-reads tags and refuses anything not ours or on hold),
3. an *outcome* record for the batch is written.

:func:`reconcile` looks for intents without outcomes (a run killed between 1 and 3), asks AWS
whether each point still exists, and writes the missing outcome. No Airflow imports here.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from awsdr.aws.context import chunks
from awsdr.kinds.base import AVAILABLE, RecoveryPoint
from awsdr.planning.retention import DR, PRIMARY, PointInfo, RetentionPlan, plan_retention
from awsdr.windows import (
    TAG_COPY_OF,
    TAG_LEGAL_HOLD,
    TAG_MANAGED,
    TAG_VERIFIED_AT,
    format_window,
    parse_window,
)

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext
    from awsdr.catalog import Catalog
    from awsdr.kinds.base import Kind
    from awsdr.policy import Policy

log = logging.getLogger(__name__)

AUDIT_PREFIX = "audit/retention/"
ORPHANS_PREFIX = "retention/orphans/"


def plan_id(region: str, point_id: str) -> str:
    """A point's identity for the planner: ids repeat across regions (an RDS copy keeps its
    snapshot identifier), so the region is part of it."""
    return f"{region}/{point_id}"


def point_info(p: RecoveryPoint, primary_region: str) -> PointInfo:
    """The planner's view of a listed point (ids qualified by region, see :func:`plan_id`)."""
    copy_of = p.tags.get(TAG_COPY_OF)
    verified = p.tags.get(TAG_VERIFIED_AT)
    try:
        verified_at = parse_window(verified) if verified else None
    except ValueError:
        verified_at = None
    return PointInfo(
        point_id=plan_id(p.region, p.point_id),
        source_id=p.source_id,
        region=p.region,
        region_class=PRIMARY if p.region == primary_region else DR,
        window=p.window,
        managed=p.tags.get(TAG_MANAGED) == "true",
        legal_hold=TAG_LEGAL_HOLD in p.tags,
        completed=p.status == AVAILABLE,
        verified_at=verified_at,
        copy_of=plan_id(primary_region, copy_of) if copy_of else None,
        size_bytes=int(p.details.get("size_bytes") or 0),
        plan=p.plan,
        kind=p.kind,
    )


def list_all(ctx: AwsContext, kind: Kind, policy: Policy, plan: str) -> list[RecoveryPoint]:
    """The plan's points of ``kind`` in the primary and every DR region (one listing per region)."""
    regions = [policy.primary_region, *policy.dr_regions]
    with ThreadPoolExecutor(max_workers=len(regions)) as pool:
        listed = list(pool.map(lambda r: kind.list_points(ctx, r, plan), regions))
    return [p for points in listed for p in points]


def update_orphans(
    previous: dict[str, str], sources: set[str], existing: set[str], now: datetime
) -> dict[str, str]:
    """First-seen-missing time per vanished source; a source that came back is forgotten."""
    out = {s: t for s, t in previous.items() if s not in existing and s in sources}
    for s in sources - existing:
        out.setdefault(s, format_window(now))
    return out


@dataclass
class KindRun:
    """What a retention pass over one kind of one plan decided and did."""

    kind: str
    plan: str
    summary: dict[str, Any] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "plan": self.plan,
            "summary": self.summary,
            "blocked": self.blocked,
            "deleted": self.deleted,
            "refused": self.refused,
            "errors": self.errors,
            "orphans": self.orphans,
        }


def decide(
    ctx: AwsContext,
    kind: Kind,
    policy: Policy,
    plan: str,
    *,
    now: datetime,
    force: bool,
    orphan_state: dict[str, str] | None,
) -> tuple[RetentionPlan, list[RecoveryPoint], dict[str, str]]:
    """List, find orphans, plan. Returns the plan, the listed points, the new orphan state."""
    points = list_all(ctx, kind, policy, plan)
    sources = {p.source_id for p in points}
    existing = {r.id for r in kind.discover(ctx, policy.primary_region, policy.plans[plan].select.tags)}
    orphans = update_orphans(orphan_state or {}, sources, existing, now)
    rules = {PRIMARY: policy.plans[plan].retention.primary, DR: policy.plans[plan].retention.dr}
    plan_out = plan_retention(
        [point_info(p, policy.primary_region) for p in points],
        rules=rules,
        tz=policy.timezone,
        now=now,
        existing_sources=existing,
        vanished_at={s: parse_window(t) for s, t in orphans.items()},
        orphan_grace=policy.orphan_grace,
        max_delete_fraction=policy.max_delete_fraction,
        force=force,
    )
    return plan_out, points, orphans


def audit_key(run_id: str, kind: str, seq: int, stage: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return f"{AUDIT_PREFIX}{safe}/{kind}/{seq:06d}.{stage}.json"


def execute_deletes(
    ctx: AwsContext,
    kind: Kind,
    catalog: Catalog,
    plan_out: RetentionPlan,
    points: list[RecoveryPoint],
    *,
    run_id: str,
    batch_size: int = 100,
    concurrency: int = 4,
    clock: Any = None,
) -> tuple[list[str], list[str], dict[str, str]]:
    """Delete the planned points: batches per region, intent before and outcome after each batch."""
    now = clock or (lambda: datetime.now(tz=UTC))
    by_id = {plan_id(p.region, p.point_id): p for p in points}
    rule_of = {d.point.point_id: d.rule for d in plan_out.decisions if not d.keep}
    batches: list[tuple[str, list[RecoveryPoint]]] = []
    per_region: dict[str, list[RecoveryPoint]] = {}
    for info in plan_out.to_delete():
        per_region.setdefault(info.region, []).append(by_id[info.point_id])
    for region, items in sorted(per_region.items()):
        batches += [(region, b) for b in chunks(items, batch_size)]

    deleted: list[str] = []
    refused: list[str] = []
    errors: dict[str, str] = {}

    def _batch(arg: tuple[int, tuple[str, list[RecoveryPoint]]]) -> dict[str, str]:
        seq, (region, batch) = arg
        catalog.put_json(
            audit_key(run_id, kind.name, seq, "intent"),
            {
                "run_id": run_id,
                "kind": kind.name,
                "region": region,
                "at": format_window(now()),
                "points": [
                    {
                        "point_id": p.point_id,
                        "source": p.source_id,
                        "window": format_window(p.window),
                        "rule": rule_of[plan_id(region, p.point_id)],
                    }
                    for p in batch
                ],
            },
        )
        outcomes = kind.delete(ctx, region, batch)
        catalog.put_json(
            audit_key(run_id, kind.name, seq, "outcome"),
            {
                "run_id": run_id,
                "kind": kind.name,
                "region": region,
                "at": format_window(now()),
                "outcomes": outcomes,
            },
        )
        return outcomes

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=f"prune-{kind.name}") as pool:
        for outcomes in pool.map(_batch, enumerate(batches)):
            for pid, outcome in outcomes.items():
                if outcome in ("deleted", "absent"):
                    deleted.append(pid)
                elif outcome == "refused":
                    refused.append(pid)
                else:
                    errors[pid] = outcome
    return deleted, refused, errors


def reconcile(
    ctx: AwsContext, kind: Kind, catalog: Catalog, policy: Policy, plan: str | None = None
) -> list[dict]:
    """Finish the audit trail of runs killed between an intent and its outcome.

    For every intent without an outcome, the point is looked up again: gone means the delete
    happened (``deleted (reconciled)``), present means it did not (``not deleted (reconciled)``;
    the normal rules decide again in this run).
    """
    keys = catalog.list_keys(AUDIT_PREFIX)
    intents = {
        k[: -len(".intent.json")] for k in keys if k.endswith(".intent.json") and f"/{kind.name}/" in k
    }
    outcomes = {k[: -len(".outcome.json")] for k in keys if k.endswith(".outcome.json")}
    open_ = sorted(intents - outcomes)
    if not open_:
        return []
    regions = [policy.primary_region, *policy.dr_regions]
    present = {(p.region, p.point_id) for r in regions for p in kind.list_points(ctx, r, plan)}
    done = []
    for base in open_:
        intent = catalog.get_json(base + ".intent.json") or {}
        result = {
            p["point_id"]: (
                "not deleted (reconciled)" if p["point_id"] in present else "deleted (reconciled)"
            )
            for p in intent.get("points", [])
        }
        record = {
            "run_id": intent.get("run_id"),
            "kind": kind.name,
            "region": intent.get("region"),
            "at": format_window(datetime.now(tz=UTC)),
            "outcomes": result,
            "reconciled": True,
        }
        catalog.put_json(base + ".outcome.json", record)
        done.append(record)
    log.info("Reconciled %d interrupted retention batches for %s", len(done), kind.name)
    return done


def prune_kind(
    ctx: AwsContext,
    kind: Kind,
    catalog: Catalog,
    policy: Policy,
    plan: str,
    *,
    now: datetime,
    run_id: str,
    dry_run: bool,
    force: bool,
) -> KindRun:
    """One retention pass: reconcile, decide, and (unless ``dry_run``) delete the planned points."""
    run = KindRun(kind=kind.name, plan=plan)
    if not dry_run:
        reconcile(ctx, kind, catalog, policy, plan)
    orphan_key = f"{ORPHANS_PREFIX}{plan}/{kind.name}.json"
    plan_out, points, orphans = decide(
        ctx, kind, policy, plan, now=now, force=force, orphan_state=catalog.get_json(orphan_key)
    )
    run.summary = plan_out.summary()
    run.blocked = {f"{s}@{r}": msg for (s, r), msg in plan_out.blocked.items()}
    run.orphans = sorted(orphans)
    run.decisions = [
        {"point_id": d.point.point_id, "region": d.point.region, "keep": d.keep, "rule": d.rule}
        for d in plan_out.decisions
    ]
    if dry_run:
        log.info(
            "Dry run %s/%s: would delete %d of %d points",
            plan,
            kind.name,
            len(plan_out.to_delete()),
            len(points),
        )
        return run
    catalog.put_json(orphan_key, orphans)
    run.deleted, run.refused, run.errors = execute_deletes(
        ctx, kind, catalog, plan_out, points, run_id=run_id
    )
    return run
