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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import chunks, error_code
from awsdr.catalog import (
    RETENTION_AUDIT_PREFIX,
    RETENTION_BASELINE_PREFIX,
    RETENTION_ORPHANS_PREFIX,
    retention_audit_key,
    retention_baseline_key,
    retention_orphans_key,
)
from awsdr.kinds.base import AVAILABLE, MISSING, RecoveryPoint
from awsdr.planning.retention import DR, PRIMARY, PointInfo, RetentionPlan, plan_archive, plan_retention
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

AUDIT_PREFIX = RETENTION_AUDIT_PREFIX
ORPHANS_PREFIX = RETENTION_ORPHANS_PREFIX


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
        storage_tier=(
            "archive"
            if p.details.get("storage_tier") == "archive" or p.details.get("restore_expiry")
            else "standard"
        ),
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
    #: copied data pruned after the points (:func:`prune_data`); empty for kinds without any
    data: dict[str, Any] = field(default_factory=dict)
    #: kept points moved to the archive tier after the deletes (:func:`execute_archive`); empty
    #: for kinds without an archive tier or plans without ``archive_after``
    archive: dict[str, Any] = field(default_factory=dict)

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
            "data": self.data,
            "archive": self.archive,
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
    baseline: dict[tuple[str, str], int] | None = None,
) -> tuple[RetentionPlan, list[RecoveryPoint], dict[str, str]]:
    """List, find orphans, plan. Returns the plan, the listed points, the new orphan state.

    ``baseline`` is the breaker's reference (:func:`load_baseline`): what the last applied run kept.
    """
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
        dr_regions=list(policy.dr_regions),
        baseline=baseline,
    )
    return plan_out, points, orphans


BASELINE_PREFIX = RETENTION_BASELINE_PREFIX
baseline_key = retention_baseline_key


def load_baseline(catalog: Catalog, plan: str, stream: str) -> dict[tuple[str, str], int] | None:
    """The slot-kept count per (source, region) after the last applied run (``None``: first run)."""
    doc = catalog.get_json(baseline_key(plan, stream))
    if not doc:
        return None
    return {(str(s), str(r)): int(n) for s, r, n in doc.get("groups", [])}


def save_baseline(catalog: Catalog, plan: str, stream: str, plan_out: RetentionPlan, now: datetime) -> None:
    """Persist :attr:`RetentionPlan.baseline` after a run that applied its plan (never a dry run)."""
    catalog.put_json(
        baseline_key(plan, stream),
        {
            "plan": plan,
            "stream": stream,
            "window": format_window(now),
            "groups": [[s, r, n] for (s, r), n in sorted(plan_out.baseline.items())],
        },
    )


#: ``audit/retention/<run id>/<stream>[/<plan>]/<seq>.<stage>.json`` (:func:`awsdr.catalog.retention_audit_key`).
audit_key = retention_audit_key


def next_seq(catalog: Catalog, run_id: str, stream: str, plan: str | None = None) -> int:
    """The first batch number this run has not used in ``stream``: a retry of a killed task (the
    same run id) numbers its batches after the killed try's, never over them (an overwritten
    intent or reconciled outcome would leave a deletion unaudited)."""
    prefix = audit_key(run_id, stream, 0, "intent", plan).rsplit("/", 1)[0] + "/"
    used = [k[len(prefix) :].split(".", 1)[0] for k in catalog.list_keys(prefix)]
    return max((int(n) for n in used if n.isdigit()), default=-1) + 1


def _stream_of(key: str) -> str:
    """The stream of an audit key (the segment after the run id)."""
    parts = key[len(AUDIT_PREFIX) :].split("/")
    return parts[1] if len(parts) > 2 else ""


def vault_stream(kind: Kind) -> str:
    return f"vault-{kind.name}"


def data_stream(kind: Kind, vault: bool) -> str:
    return f"vault-{kind.name}-data" if vault else f"{kind.name}-data"


def execute_deletes(
    ctx: AwsContext,
    kind: Kind,
    catalog: Catalog,
    plan_out: RetentionPlan,
    points: list[RecoveryPoint],
    *,
    run_id: str,
    plan: str | None = None,
    vault_ctx: AwsContext | None = None,
    batch_size: int = 100,
    concurrency: int = 4,
    clock: Any = None,
) -> tuple[list[str], list[str], dict[str, str]]:
    """Delete the planned points: batches per region, intent before and outcome after each batch.

    With ``vault_ctx`` the points are vault copies, deleted in the vault account
    (:meth:`Kind.vault_delete`) and audited in the ``vault-<kind>`` stream of this catalog.
    """
    now = clock or (lambda: datetime.now(tz=UTC))
    stream = vault_stream(kind) if vault_ctx is not None else kind.name
    where = {"account": vault_ctx.account_id(points[0].region)} if vault_ctx is not None and points else {}
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
            audit_key(run_id, stream, seq, "intent", plan),
            {
                "run_id": run_id,
                "kind": kind.name,
                "stream": stream,
                "plan": plan,
                "region": region,
                **where,
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
        if vault_ctx is None:
            outcomes = kind.delete(ctx, region, batch)
        else:
            outcomes = kind.vault_delete(vault_ctx, region, batch)
        outcomes = _recheck_errors(kind, vault_ctx or ctx, region, batch, outcomes)
        catalog.put_json(
            audit_key(run_id, stream, seq, "outcome", plan),
            {
                "run_id": run_id,
                "kind": kind.name,
                "stream": stream,
                "plan": plan,
                "region": region,
                **where,
                "at": format_window(now()),
                "outcomes": outcomes,
            },
        )
        return outcomes

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=f"prune-{kind.name}") as pool:
        first = next_seq(catalog, run_id, stream, plan) if batches else 0
        for outcomes in pool.map(_batch, enumerate(batches, start=first)):
            for pid, outcome in outcomes.items():
                if outcome in ("deleted", "absent", RECHECKED_GONE):
                    deleted.append(pid)
                elif outcome == "refused":
                    refused.append(pid)
                else:
                    errors[pid] = outcome
    return deleted, refused, errors


#: a delete answered with an error, found gone when looked at again right after
RECHECKED_GONE = "deleted (reconciled)"


def _recheck_errors(
    kind: Kind, ctx: AwsContext, region: str, batch: list[RecoveryPoint], outcomes: dict[str, str]
) -> dict[str, str]:
    """Look again at the points whose delete answered an error, before the outcome is audited.

    A delete AWS did but whose answer was lost, and whose resend was then refused (throttled until
    the retries ran out), reads as an error although the point is gone: audited so, the audit
    would say "not deleted" for a deletion that happened. One batched status call of the kind
    (:meth:`Kind.refresh`): gone is :data:`RECHECKED_GONE`; present, or a failed look, keeps the
    error (the next run decides again).
    """
    errored = [p for p in batch if str(outcomes.get(p.point_id, "")).startswith("error")]
    if not errored:
        return outcomes
    try:
        fresh = kind.refresh(
            ctx, region, [replace(p, details=dict(p.details), tags=dict(p.tags)) for p in errored]
        )
    except Exception as err:  # a throttled look: the errors stand
        log.warning(
            "%s: the %d failed deletes in %s not looked at again: %s", kind.name, len(errored), region, err
        )
        return outcomes
    out = dict(outcomes)
    for p in fresh:
        if p.status == MISSING:
            log.info(
                "%s %s: the delete answered %s, and it is gone: deleted",
                kind.name,
                p.point_id,
                out[p.point_id],
            )
            out[p.point_id] = RECHECKED_GONE
    return out


def _open_intents(catalog: Catalog, stream: str, plan: str | None) -> list[str]:
    """Audit batches of ``stream`` (this plan's, and those written before keys had a plan) that
    have an intent and no outcome: the run writing them was killed in between."""
    keys = catalog.list_keys(AUDIT_PREFIX)
    outcomes = {k[: -len(".outcome.json")] for k in keys if k.endswith(".outcome.json")}
    intents = set()
    for k in keys:
        if not k.endswith(".intent.json") or _stream_of(k) != stream:
            continue
        scope = k[len(AUDIT_PREFIX) :].split("/")[2:-1]
        if plan is None or scope in ([], [plan]):
            intents.add(k[: -len(".intent.json")])
    return sorted(intents - outcomes)


def _close(catalog: Catalog, base: str, intent: dict[str, Any], result: dict[str, str]) -> dict[str, Any]:
    record = {
        **{k: intent.get(k) for k in ("run_id", "kind", "stream", "plan", "region", "account", "bucket")},
        "at": format_window(datetime.now(tz=UTC)),
        "outcomes": result,
        "reconciled": True,
    }
    catalog.put_json(base + ".outcome.json", {k: v for k, v in record.items() if v is not None})
    return record


def reconcile(
    ctx: AwsContext,
    kind: Kind,
    catalog: Catalog,
    policy: Policy,
    plan: str | None = None,
    *,
    vault_ctx: AwsContext | None = None,
) -> list[dict]:
    """Finish the audit trail of runs killed between an intent and its outcome.

    For every intent without an outcome, the point is looked up again (in the vault with
    ``vault_ctx``): gone means the delete happened (``deleted (reconciled)``), present means it did
    not (``not deleted (reconciled)``; the normal rules decide again in this run).
    """
    stream = vault_stream(kind) if vault_ctx is not None else kind.name
    open_ = _open_intents(catalog, stream, plan)
    if not open_:
        return []
    if vault_ctx is not None:
        assert policy.vault is not None
        listed = [p for r in policy.vault.regions for p in kind.vault_points(vault_ctx, r, None)]
    else:
        listed = [
            p for r in (policy.primary_region, *policy.dr_regions) for p in kind.list_points(ctx, r, None)
        ]
    # a point the listing knows but AWS no longer has (a DynamoDB sidecar whose backup the killed
    # try deleted: MISSING) is gone, not present
    present = {(p.region, p.point_id) for p in listed if p.status != MISSING}
    done = []
    for base in open_:
        intent = catalog.get_json(base + ".intent.json") or {}
        region = intent.get("region")
        result = {
            p["point_id"]: (
                "not deleted (reconciled)" if (region, p["point_id"]) in present else "deleted (reconciled)"
            )
            for p in intent.get("points", [])
        }
        done.append(_close(catalog, base, {"kind": kind.name, **intent}, result))
    log.info("Reconciled %d interrupted retention batches for %s", len(done), stream)
    return done


def reconcile_data(
    ctx: AwsContext, kind: Kind, catalog: Catalog, *, vault_ctx: AwsContext | None = None
) -> list[dict]:
    """The same for copied-data batches: each version is looked up (HEAD) in its bucket."""
    from botocore.exceptions import ClientError

    from awsdr.aws.context import error_code

    done = []
    for base in _open_intents(catalog, data_stream(kind, vault_ctx is not None), None):
        intent = catalog.get_json(base + ".intent.json") or {}
        s3 = (vault_ctx or ctx).client("s3", intent["region"])
        result: dict[str, str] = {}
        present = getattr(kind, "data_present", None)
        if present is not None:
            # data that is not S3 object versions (ECR images): the kind looks it up itself
            found = present(vault_ctx or ctx, intent["region"], intent["bucket"], intent.get("versions", []))
            for name, there in found.items():
                result[name] = "not deleted (reconciled)" if there else "deleted (reconciled)"
            done.append(_close(catalog, base, intent, result))
            continue
        for item in intent.get("versions", []):
            name = f"{item['Key']}@{item['VersionId']}"
            try:
                s3.head_object(Bucket=intent["bucket"], Key=item["Key"], VersionId=item["VersionId"])
                result[name] = "not deleted (reconciled)"
            except ClientError as err:
                if error_code(err) not in (
                    "404",
                    "NoSuchKey",
                    "NotFound",
                    "NoSuchVersion",
                    "NoSuchBucket",
                    "405",
                ):
                    raise
                result[name] = "deleted (reconciled)"
        done.append(_close(catalog, base, intent, result))
    return done


def prune_data(
    ctx: AwsContext,
    kind: Kind,
    catalog: Catalog,
    regions: list[str],
    *,
    run_id: str,
    dry_run: bool,
    plan: str | None = None,
    vault_ctx: AwsContext | None = None,
    batch_size: int = 1000,
) -> dict[str, Any]:
    """Delete the copied data no remaining point names (:meth:`Kind.unreferenced_data`), after the
    points: per bucket, in batches of ``batch_size`` versions, intent before and outcome after each
    (stream ``<kind>-data``, or ``vault-<kind>-data`` in the vault). A dry run only counts."""
    stream = data_stream(kind, vault_ctx is not None)
    out: dict[str, Any] = {"stream": stream, "versions": 0, "deleted": 0, "refused": [], "errors": {}}
    if not dry_run:
        reconcile_data(ctx, kind, catalog, vault_ctx=vault_ctx)
    seq = None
    for region in regions:
        for bucket, items in kind.unreferenced_data(ctx, region, vault_ctx=vault_ctx):
            out["versions"] += len(items)
            if dry_run:
                continue
            for batch in chunks(items, batch_size):
                if seq is None:
                    seq = next_seq(catalog, run_id, stream, plan)
                record = {
                    "run_id": run_id,
                    "kind": kind.name,
                    "stream": stream,
                    "region": region,
                    "bucket": bucket,
                }
                if vault_ctx is not None:
                    record["account"] = vault_ctx.account_id(region)
                catalog.put_json(
                    audit_key(run_id, stream, seq, "intent", plan),
                    {
                        **record,
                        "at": format_window(datetime.now(tz=UTC)),
                        "rule": "unreferenced",
                        "versions": batch,
                    },
                )
                outcomes = kind.delete_data(ctx, region, bucket, batch, vault_ctx=vault_ctx)
                catalog.put_json(
                    audit_key(run_id, stream, seq, "outcome", plan),
                    {**record, "at": format_window(datetime.now(tz=UTC)), "outcomes": outcomes},
                )
                seq += 1
                for name, outcome in outcomes.items():
                    if outcome in ("deleted", "absent"):
                        out["deleted"] += 1
                    elif outcome == "refused":
                        out["refused"].append(f"{bucket}/{name}")
                    else:
                        out["errors"][f"{bucket}/{name}"] = outcome
    if out["versions"]:
        log.info(
            "%s%s: %d copied versions no point names, %d deleted",
            stream,
            " (dry run)" if dry_run else "",
            out["versions"],
            out["deleted"],
        )
    return out


def archive_stream(kind: Kind) -> str:
    return f"{kind.name}-archive"


def execute_archive(
    ctx: AwsContext,
    kind: Kind,
    catalog: Catalog,
    todo: list[PointInfo],
    points: list[RecoveryPoint],
    *,
    run_id: str,
    dry_run: bool,
    plan: str | None = None,
    batch_size: int = 100,
) -> dict[str, Any]:
    """Move the planned points (:func:`plan_archive`) to the archive tier, audited like deletes:
    per region and batch an intent before and an outcome after (stream ``<kind>-archive``). A batch
    whose intent has no outcome (a killed run) is closed first from the listing's tiers. A dry run
    only lists what it would archive: no AWS call, no catalog write."""
    stream = archive_stream(kind)
    by_id = {plan_id(p.region, p.point_id): p for p in points}
    out: dict[str, Any] = {
        "stream": stream,
        "candidates": len(todo),
        "archived": [],
        "already": 0,
        "refused": [],
        "errors": {},
    }
    if dry_run:
        out["would_archive"] = [i.point_id for i in todo]
        return out
    tiers = {(p.region, p.point_id): p.details.get("storage_tier") for p in points}
    for base in _open_intents(catalog, stream, plan):
        intent = catalog.get_json(base + ".intent.json") or {}
        region = str(intent.get("region"))
        _close(
            catalog,
            base,
            {"kind": kind.name, **intent},
            {
                q["point_id"]: (
                    "archived (reconciled)"
                    if tiers.get((region, q["point_id"])) == "archive"
                    else "not archived (reconciled)"
                )
                for q in intent.get("points", [])
            },
        )
    per_region: dict[str, list[RecoveryPoint]] = {}
    for info in todo:
        per_region.setdefault(info.region, []).append(by_id[info.point_id])
    seq = next_seq(catalog, run_id, stream, plan) if todo else 0
    for region, items in sorted(per_region.items()):
        for batch in chunks(items, batch_size):
            record = {"run_id": run_id, "kind": kind.name, "stream": stream, "plan": plan, "region": region}
            catalog.put_json(
                audit_key(run_id, stream, seq, "intent", plan),
                {
                    **record,
                    "at": format_window(datetime.now(tz=UTC)),
                    "rule": "archive_after",
                    "points": [
                        {"point_id": p.point_id, "source": p.source_id, "window": format_window(p.window)}
                        for p in batch
                    ],
                },
            )
            outcomes = kind.archive(ctx, region, batch)  # type: ignore[attr-defined]
            catalog.put_json(
                audit_key(run_id, stream, seq, "outcome", plan),
                {**record, "at": format_window(datetime.now(tz=UTC)), "outcomes": outcomes},
            )
            seq += 1
            for pid, outcome in outcomes.items():
                if outcome == "archived":
                    out["archived"].append(pid)
                elif outcome in ("already-archived", "absent", "not-completed"):
                    out["already"] += 1
                elif outcome == "refused":
                    out["refused"].append(pid)
                else:
                    out["errors"][pid] = outcome
    if todo:
        log.info(
            "%s: %d points older than archive_after, %d archived", stream, len(todo), len(out["archived"])
        )
    return out


def execute_archive_rules(
    ctx: AwsContext,
    kind: Kind,
    catalog: Catalog,
    policy: Policy,
    plan: str,
    points: list[RecoveryPoint],
    *,
    run_id: str,
    dry_run: bool,
) -> dict[str, Any]:
    """S3's archive tier: the ``awsdr-archive`` lifecycle rule on each DR bucket the plan's DR
    copies live in, as the plan's ``retention.dr`` says (``archive_after``, ``archive_class``), or
    taken away when it says nothing. A version serves every point naming it, so it moves by its
    own age (noncurrent for ``archive_after``), not point by point. Each change is audited (stream
    ``s3-archive``); a dry run reads and reports, and changes nothing. Empty when there is nothing
    to look at (no DR copies, and no archive rule asked for)."""
    from awsdr.kinds.s3 import archive_days

    rule = policy.plans[plan].retention.dr
    days = archive_days(rule.archive_after) if rule.archive_after else None
    dr_regions = set(policy.dr_regions)
    buckets = sorted(
        {
            (p.region, str(p.details["dr_bucket"]))
            for p in points
            if p.region in dr_regions and p.details.get("dr_bucket")
        }
    )
    if not buckets:
        return {}
    stream = f"{kind.name}-archive"
    out: dict[str, Any] = {
        "stream": stream,
        "rule": {"noncurrent_days": days, "storage_class": rule.archive_class if days else None},
        "candidates": len(buckets),
        "archived": [],
        "already": 0,
        "refused": [],
        "errors": {},
        "buckets": {},
    }
    for region, bucket in buckets:
        name = f"{region}/{bucket}"
        try:
            outcome = kind.apply_archive_rule(  # type: ignore[attr-defined]
                ctx, region, bucket, days, rule.archive_class, dry_run=dry_run
            )
        except ClientError as err:
            outcome = f"error: {error_code(err)} {err}"
        out["buckets"][name] = outcome
        if outcome in ("applied", "removed"):
            out["archived"].append(name)
        elif outcome == "refused":
            out["refused"].append(name)
        elif outcome.startswith("error"):
            out["errors"][name] = outcome
        else:
            out["already"] += 1
    changed = {b: o for b, o in out["buckets"].items() if o in ("applied", "removed")}
    if changed and not dry_run:
        catalog.put_json(
            audit_key(run_id, stream, next_seq(catalog, run_id, stream, plan), "outcome", plan),
            {
                "run_id": run_id,
                "kind": kind.name,
                "stream": stream,
                "plan": plan,
                "at": format_window(datetime.now(tz=UTC)),
                "rule": "archive_after",
                "lifecycle_rule": out["rule"],
                "outcomes": changed,
            },
        )
    if changed or out["errors"]:
        log.info("%s: archive rule on %d DR buckets: %s", stream, len(buckets), out["buckets"])
    return out


def _archive_after(policy: Policy, plan: str) -> dict[str, Any]:
    retention = policy.plans[plan].retention
    return {PRIMARY: retention.primary.archive_after, DR: retention.dr.archive_after}


def _has_data(kind: Kind) -> bool:
    """Whether the kind keeps copied data apart from its points (it overrides ``unreferenced_data``)."""
    from awsdr.kinds.base import Kind as BaseKind

    return type(kind).unreferenced_data is not BaseKind.unreferenced_data


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
    """One retention pass: reconcile, decide, and (unless ``dry_run``) delete the planned points;
    then the copied data no remaining point names (S3 DR bucket versions, :func:`prune_data`)."""
    run = KindRun(kind=kind.name, plan=plan)
    if not dry_run:
        reconcile(ctx, kind, catalog, policy, plan)
    orphan_key = retention_orphans_key(plan, kind.name)
    plan_out, points, orphans = decide(
        ctx,
        kind,
        policy,
        plan,
        now=now,
        force=force,
        orphan_state=catalog.get_json(orphan_key),
        baseline=load_baseline(catalog, plan, kind.name),
    )
    _record_plan(run, plan_out)
    run.orphans = sorted(orphans)
    if dry_run:
        log.info(
            "Dry run %s/%s: would delete %d of %d points",
            plan,
            kind.name,
            len(plan_out.to_delete()),
            len(points),
        )
    else:
        catalog.put_json(orphan_key, orphans)
        run.deleted, run.refused, run.errors = execute_deletes(
            ctx, kind, catalog, plan_out, points, run_id=run_id, plan=plan
        )
        save_baseline(catalog, plan, kind.name, plan_out, now)
    if _has_data(kind):
        run.data = prune_data(
            ctx, kind, catalog, list(policy.dr_regions), run_id=run_id, dry_run=dry_run, plan=plan
        )
    ages = _archive_after(policy, plan)
    if getattr(kind, "supports_archive_rules", False):
        run.archive = execute_archive_rules(
            ctx, kind, catalog, policy, plan, points, run_id=run_id, dry_run=dry_run
        )
    elif getattr(kind, "supports_archive", False) and any(ages.values()):
        run.archive = execute_archive(
            ctx,
            kind,
            catalog,
            plan_archive(plan_out, archive_after=ages, now=now),
            points,
            run_id=run_id,
            dry_run=dry_run,
            plan=plan,
        )
    return run


def _record_plan(run: KindRun, plan_out: RetentionPlan) -> None:
    run.summary = plan_out.summary()
    run.blocked = {f"{s}@{r}": msg for (s, r), msg in plan_out.blocked.items()}
    run.decisions = [
        {"point_id": d.point.point_id, "region": d.point.region, "keep": d.keep, "rule": d.rule}
        for d in plan_out.decisions
    ]


def prune_vault(
    ctx: AwsContext,
    vault_ctx: AwsContext,
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
    """Retention of the vault copies of one kind of one plan (the policy has a ``vault``).

    The same pure planner with the plan's DR rules over the vault copies (listed in the vault
    account, one group per resource and vault region: the newest copy, holds, the newest verified
    copy and the breaker protect them as anywhere else; orphans as the account's pass last saw
    them). Deleted through ``vault_ctx`` in audited batches (stream ``vault-<kind>`` of this
    catalog), then the vault's copied data no remaining vault copy names.
    """
    vault = policy.vault
    if vault is None:
        raise ValueError("the policy has no vault")
    run = KindRun(kind=vault_stream(kind), plan=plan)
    if not dry_run:
        reconcile(ctx, kind, catalog, policy, plan, vault_ctx=vault_ctx)
    regions = list(vault.regions)
    with ThreadPoolExecutor(max_workers=len(regions)) as pool:
        listed = list(pool.map(lambda r: kind.vault_points(vault_ctx, r, plan), regions))
    points = [p for found in listed for p in found]
    orphans: dict[str, str] = catalog.get_json(retention_orphans_key(plan, kind.name)) or {}
    sources = {p.source_id for p in points}
    plan_out = plan_retention(
        [point_info(p, policy.primary_region) for p in points],
        rules={DR: policy.plans[plan].retention.dr},
        tz=policy.timezone,
        now=now,
        existing_sources=sources - set(orphans),
        vanished_at={s: parse_window(t) for s, t in orphans.items()},
        orphan_grace=policy.orphan_grace,
        max_delete_fraction=policy.max_delete_fraction,
        force=force,
        baseline=load_baseline(catalog, plan, vault_stream(kind)),
    )
    _record_plan(run, plan_out)
    run.orphans = sorted(set(orphans) & sources)
    if dry_run:
        log.info(
            "Dry run %s/%s: would delete %d of %d vault copies",
            plan,
            kind.name,
            len(plan_out.to_delete()),
            len(points),
        )
    else:
        run.deleted, run.refused, run.errors = execute_deletes(
            ctx, kind, catalog, plan_out, points, run_id=run_id, plan=plan, vault_ctx=vault_ctx
        )
        save_baseline(catalog, plan, vault_stream(kind), plan_out, now)
    if _has_data(kind):
        run.data = prune_data(
            ctx, kind, catalog, regions, run_id=run_id, dry_run=dry_run, plan=plan, vault_ctx=vault_ctx
        )
    return run
