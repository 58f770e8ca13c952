"""Executing a runbook's steps, one phase at a time, one batched status round per call (no Airflow).

Each ``run_*_steps`` function starts what is not started and looks once at what AWS is doing
(one describe per kind and region); a step AWS is still working on comes back ``waiting`` and the
operator defers to the triggerer, then calls the function again. Every step re-reads the live
state first, so a second call (or a re-triggered run) finds done work instead of repeating it.
Handlers of the newer actions (fencing, database records, lossless failback, drill sweep) are
registered by name in :mod:`awsdr.failover.handlers`; the rest is here.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from awsdr.aws import compute, route53
from awsdr.aws.context import error_code
from awsdr.copies import copy_tags
from awsdr.failover import fencing, handlers
from awsdr.failover.common import (
    ALREADY,
    DEAD_DB_STATES,
    DONE,
    STEP_FAILED,
    UNKNOWN,
    WAITING,
    is_retryable,
    now_utc,
)
from awsdr.failover.readiness import _describe_cluster, _exists, _global_cluster, _table_status
from awsdr.kinds import kind_for
from awsdr.kinds.base import (
    AVAILABLE,
    FAILED,
    MISSING,
    CaptureError,
    RecoveryPoint,
    Resource,
    Restored,
)
from awsdr.planning import failover as fp
from awsdr.windows import format_window, parse_window, point_tags

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from awsdr.aws.context import AwsContext
    from awsdr.policy import Failover, Policy

log = logging.getLogger(__name__)


def _result(step: fp.Step, outcome: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "id": step.id,
        "phase": step.phase,
        "action": step.action,
        "target": step.target,
        "region": step.region,
        "outcome": outcome,
        "detail": detail,
        "finished_at": format_window(now_utc()),
        **extra,
    }


class _Waits:
    """Pending completions, checked in batches once per round (one describe per kind and region)."""

    def __init__(self, ctx: AwsContext, policy: Policy, delay: float, max_attempts: int) -> None:
        self.ctx = ctx
        self.policy = policy
        self.delay = delay
        self.max_attempts = max_attempts
        #: (kind, region) -> step id -> Restored
        self.restores: dict[tuple[str, str], dict[str, Restored]] = {}
        #: region -> step id -> DB instance id
        self.instances: dict[str, dict[str, str]] = {}
        #: step id -> (region, label, check returning (done, error))
        self.custom: dict[str, tuple[str, Callable[[], tuple[bool, str | None]]]] = {}
        self.failed: dict[str, str] = {}

    def restore(self, step_id: str, item: Restored) -> None:
        self.restores.setdefault((item.kind, item.region), {})[step_id] = item

    def instance(self, step_id: str, region: str, ident: str) -> None:
        self.instances.setdefault(region, {})[step_id] = ident

    def check(self, step_id: str, label: str, fn: Callable[[], tuple[bool, str | None]]) -> None:
        self.custom[step_id] = (label, fn)

    def _round(self) -> list[str]:
        waiting: list[str] = []
        for (kind, region), items in list(self.restores.items()):
            fresh = kind_for(kind, self.policy).restore_status(self.ctx, region, list(items.values()))
            for (step_id, _), item in zip(list(items.items()), fresh, strict=True):
                if item.status == AVAILABLE:
                    del items[step_id]
                elif item.status in (FAILED, MISSING):
                    self.failed[step_id] = item.error or f"{item.resource_id} is {item.status}"
                    del items[step_id]
                else:
                    waiting.append(f"{item.resource_id} ({item.status})")
        for region, idents in list(self.instances.items()):
            from awsdr.kinds._rds_common import instance_status

            states = instance_status(self.ctx, region, list(idents.values()))
            for step_id, ident in list(idents.items()):
                state = states.get(ident, MISSING)
                if state == "available":
                    del idents[step_id]
                elif state in DEAD_DB_STATES:
                    self.failed[step_id] = f"{ident} is {state}"
                    del idents[step_id]
                else:
                    waiting.append(f"{ident} ({state})")
        for step_id, (label, fn) in list(self.custom.items()):
            done, error = fn()
            if error:
                self.failed[step_id] = error
                del self.custom[step_id]
            elif done:
                del self.custom[step_id]
            else:
                waiting.append(label)
        return waiting

    def wait(self) -> None:
        """One batched round; what failed is in :attr:`failed`; StillWaiting when something is pending."""
        compute.poll(self._round, what="failover")


def _run(step: fp.Step, results: list[dict[str, Any]], fn: Callable[[], dict[str, Any]]) -> None:
    """Run one step, turning a per-step exception into a ``failed`` result (the others go on)."""
    try:
        results.append(fn())
    except compute.StillWaiting as err:
        results.append(_result(step, WAITING, str(err), retryable=True))
    except (CaptureError, compute.ComputeError, ClientError, BotoCoreError, TimeoutError, ValueError) as err:
        log.error("Step %s failed: %s", step.id, err)
        results.append(
            _result(step, STEP_FAILED, f"{type(err).__name__}: {err}", retryable=is_retryable(err))
        )


def _apply_waits(waits: _Waits, results: list[dict[str, Any]]) -> None:
    try:
        waits.wait()
    except compute.StillWaiting as err:
        for r in results:
            if r["outcome"] in (DONE, ALREADY) and r["id"] in _pending_ids(waits):
                # ``started``: what this round did (the audit says "done" once it completes)
                r.update(
                    outcome=WAITING, detail=f"{r['detail']}; {err}", retryable=True, started=r["outcome"]
                )
    for r in results:
        if r["id"] in waits.failed and r["outcome"] != STEP_FAILED:
            r.update(outcome=STEP_FAILED, detail=f"{r['detail']}; {waits.failed[r['id']]}", retryable=False)
        r["finished_at"] = format_window(now_utc())


def _pending_ids(waits: _Waits) -> set[str]:
    ids = set(waits.custom)
    for items in waits.restores.values():
        ids |= set(items)
    for idents in waits.instances.values():
        ids |= set(idents)
    return ids


# --- data -----------------------------------------------------------------------------------------


def run_data_steps(
    ctx: AwsContext,
    policy: Policy,
    steps: list[fp.Step],
    *,
    window: datetime,
    run_id: str,
    memo: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Execute (or, on a later round, look again at) the data steps: one batched status round.

    A step AWS is still working on comes back ``waiting``; the operator defers and calls this
    again (every step is idempotent: done work is found, not repeated). ``memo`` keeps what a
    handler must remember across rounds (freeze start times), one dict per step id.

    Promotions and failovers are asked for once (the helpers detect a previous promotion by the
    ``awsdr:promoted-at`` tag or the writer); restores are skipped when the restored resource is
    already there; a failback resync skips capture and copy when its target exists.
    """
    from awsdr.kinds import _rds_common as rc

    results: list[dict[str, Any]] = []
    waits = _Waits(ctx, policy, 0, 1)
    resyncs: list[fp.Step] = []
    memo = memo if memo is not None else {}
    run = handlers.Run(ctx=ctx, policy=policy, run_id=run_id)
    for step in steps:
        p = step.params
        region = step.region
        if step.action in handlers.HANDLERS:
            _run_handler(run, step, results, memo)
        elif step.action == fp.PROMOTE_READ_REPLICA:

            def _promote(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                answer = rc.promote_read_replica(ctx, region, p["db_instance"])
                waits.instance(step.id, region, p["db_instance"])
                return _result(step, ALREADY if answer["already"] else DONE, f"{p['db_instance']} promoted")

            _run(step, results, _promote)
        elif step.action == fp.FAILOVER_GLOBAL_CLUSTER:

            def _global(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                answer = rc.failover_global_cluster(
                    ctx, region, p["global_cluster"], p["cluster_arn"], allow_data_loss=p["allow_data_loss"]
                )

                def _writer(p: dict[str, Any] = p, region: str = region) -> tuple[bool, str | None]:
                    gc = _global_cluster(ctx, region, p["global_cluster"]) or {}
                    writer = next(
                        (m["DBClusterArn"] for m in gc.get("GlobalClusterMembers", []) if m.get("IsWriter")),
                        None,
                    )
                    busy = (gc.get("FailoverState") or {}).get("Status") in (
                        "pending",
                        "failing-over",
                        "switching-over",
                    )
                    return writer == p["cluster_arn"] and not busy, None

                waits.check(step.id, f"{p['global_cluster']} writer", _writer)
                return _result(step, ALREADY if answer["already"] else DONE, f"writer -> {p['cluster_arn']}")

            _run(step, results, _global)
        elif step.action == fp.PROMOTE_REPLICA_CLUSTER:

            def _cluster(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                cluster = _describe_cluster(ctx, region, p["cluster"])
                if cluster is None:
                    raise CaptureError(f"replica cluster {p['cluster']} not found in {region}")
                outcome = ALREADY
                if cluster.get("ReplicationSourceIdentifier"):
                    ctx.client("rds", region).promote_read_replica_db_cluster(
                        DBClusterIdentifier=p["cluster"]
                    )
                    outcome = DONE

                def _ready(p: dict[str, Any] = p, region: str = region) -> tuple[bool, str | None]:
                    cl = _describe_cluster(ctx, region, p["cluster"])
                    if cl is None:
                        return False, f"{p['cluster']} vanished"
                    return cl.get("Status") == "available" and not cl.get("ReplicationSourceIdentifier"), None

                waits.check(step.id, p["cluster"], _ready)
                return _result(step, outcome, f"{p['cluster']} promoted")

            _run(step, results, _cluster)
        elif step.action == fp.CHECK_GLOBAL_TABLE:

            def _table(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                status = _table_status(ctx, region, p["table"])
                if status != "ACTIVE":
                    raise CaptureError(f"global table replica {p['table']} in {region} is {status}")
                return _result(step, ALREADY, f"{p['table']} ACTIVE in {region}: nothing to do")

            _run(step, results, _table)
        elif step.action == fp.RESTORE_FROM_COPY:

            def _restore(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                if not p.get("point"):
                    raise CaptureError(f"no DR copy of {p['source']} in {region} to restore from")
                point = RecoveryPoint.from_dict(p["point"])
                before = _exists(ctx, policy, p["kind"], region, p["name"])
                item = kind_for(p["kind"], policy).restore(ctx, point, name=p["name"], tags=dict(p["tags"]))
                waits.restore(step.id, item)
                outcome = ALREADY if before != MISSING else DONE
                return _result(
                    step, outcome, f"{item.resource_id} from {point.point_id}", resource=item.resource_id
                )

            _run(step, results, _restore)
        elif step.action == fp.RESYNC_TO_PRIMARY:
            resyncs.append(step)
        elif step.action == fp.CHECK_COPY:

            def _copy(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                if not p.get("point"):
                    raise CaptureError(f"no DR copy in {region}")
                point = kind_for(p["kind"], policy).refresh(
                    ctx, region, [RecoveryPoint.from_dict(p["point"])]
                )[0]
                if point.status != AVAILABLE:
                    raise CaptureError(f"DR copy {point.point_id} is {point.status}")
                return _result(step, ALREADY, f"{point.point_id} available")

            _run(step, results, _copy)
        else:
            results.append(_result(step, STEP_FAILED, f"unknown data action {step.action}", retryable=False))
    if resyncs:
        results.extend(_resync(ctx, policy, resyncs, waits, window=window, run_id=run_id, memo=memo))
    _apply_waits(waits, results)
    # A DynamoDB table restored by a real failover is the writer now: point-in-time recovery on,
    # so that backups (and the failback's cross-region export) can cover it.
    by_id = {r["id"]: r for r in results}
    for step in steps:
        p = step.params
        r = by_id.get(step.id, {})
        if (
            step.action == fp.RESTORE_FROM_COPY
            and p.get("kind") == "dynamodb"
            and "awsdr:failover-of" in (p.get("tags") or {})
            and r.get("outcome") in (DONE, ALREADY)
        ):
            try:
                if ensure_pitr(ctx, step.region, p["name"]):
                    r["detail"] += "; point-in-time recovery enabled"
            except ClientError as err:
                r["detail"] += f"; point-in-time recovery NOT enabled: {error_code(err)}"
    return results


def _run_handler(
    run: handlers.Run, step: fp.Step, results: list[dict[str, Any]], memo: dict[str, Any]
) -> None:
    """A registered handler (:mod:`awsdr.failover.handlers`) as one step result."""

    def _one() -> dict[str, Any]:
        answer = handlers.HANDLERS[step.action](run, step, memo.setdefault(step.id, {}))
        outcome, detail = answer.pop("outcome"), answer.pop("detail")
        return _result(step, outcome, detail, **answer)

    _run(step, results, _one)


def ensure_pitr(ctx: AwsContext, region: str, table: str) -> bool:
    """Turn on point-in-time recovery of ``table``; False when it already was."""
    client = ctx.client("dynamodb", region)
    desc = client.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    status = (desc.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
    if status in ("ENABLED", "ENABLING"):
        return False
    client.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    return True


def _resync(
    ctx: AwsContext,
    policy: Policy,
    steps: list[fp.Step],
    waits: _Waits,
    *,
    window: datetime,
    run_id: str,
    memo: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Failback data: freeze the DR writer (``freeze``), capture it, copy home, restore there;
    each stage batched.

    A step whose restored target already exists at home is not frozen, captured or copied again.
    A step whose freeze is not complete is ``waiting``: nothing of it is captured before the
    freeze, so the point sent home holds every write made in the DR region.
    """
    memo = memo if memo is not None else {}
    results: dict[str, dict[str, Any]] = {}
    todo: list[fp.Step] = []
    for step in steps:
        p = step.params
        status = _exists(ctx, policy, p["kind"], step.region, p["name"])
        if status != MISSING:
            results[step.id] = _result(
                step,
                ALREADY,
                f"{p['name']} already in {step.region} ({status})",
                **_freeze_record(memo.get(step.id) or {}),
            )
            waits.restore(
                step.id,
                Restored(
                    kind=p["kind"],
                    resource_id=p["name"],
                    region=step.region,
                    point_id="",
                    status=status,
                    started_at=now_utc(),
                ),
            )
        else:
            todo.append(step)
    stage_delay, stage_attempts = 0.0, 1

    # Stage 0: the write freeze (an Aurora DR writer): the capture below comes after it.
    for step in todo:
        p = step.params
        if not p.get("freeze") or not p.get("dr_writer"):
            continue
        m = memo.setdefault(step.id, {})
        m.setdefault("freeze_started_at", format_window(now_utc()))
        try:
            state, detail = fencing.freeze_cluster(
                ctx, _dr_region_of(step, policy), p["dr_writer"], run_id, m
            )
        except (LookupError, ClientError, BotoCoreError) as err:
            results[step.id] = _result(step, STEP_FAILED, f"freeze: {err}", retryable=is_retryable(err))
            continue
        m["freeze_how"] = (
            f"{p['dr_writer']} in {_dr_region_of(step, policy)}: security groups -> {m.get('group')} "
            "(no inbound rule), writer rebooted"
        )
        if state != fencing.FROZEN:
            results[step.id] = _result(step, WAITING, f"write freeze: {detail}", retryable=True)

    # Stage 1: the DR-side point (a fresh capture of the DR writer, or the newest copy in a drill).
    points: dict[str, RecoveryPoint] = {}
    for step in todo:
        if step.id in results:  # its freeze is not complete (or failed): nothing captured yet
            continue
        p = step.params
        dr_region = _dr_region_of(step, policy)
        try:
            if p.get("point"):
                points[step.id] = RecoveryPoint.from_dict(p["point"])
                continue
            if not p.get("dr_writer"):
                raise CaptureError(f"{p['source']}: no DR copy to send home")
            kind = kind_for(p["kind"], policy)
            if p["kind"] == "dynamodb":
                ensure_pitr(ctx, dr_region, p["dr_writer"])  # the export home needs it
            resource = _resource(ctx, policy, p["kind"], dr_region, p["dr_writer"])
            tags = point_tags(
                plan="failback",
                window=window,
                source=resource.id,
                captured_at=now_utc(),
                kind=p["kind"],
                extra={"awsdr:failback-run": run_id},
            )
            points[step.id] = kind.capture(ctx, resource, "failback", window, tags)
        except (CaptureError, ClientError, BotoCoreError, ValueError) as err:
            results[step.id] = _result(step, STEP_FAILED, f"capture: {err}", retryable=is_retryable(err))
    _wait_points(ctx, policy, points, results, steps, stage_delay, stage_attempts, "DR-side point")

    # Stage 2: copy home.
    copies: dict[str, RecoveryPoint] = {}
    for step in todo:
        if step.id in results or step.id not in points:
            continue
        p = step.params
        point = points[step.id]
        try:
            if not p.get("kms_key"):
                raise CaptureError(f"no KMS key in {step.region} for the copy (set failover.primary_kms_key)")
            tags = copy_tags(point)
            tags.update(p.get("tags") or {})
            copies[step.id] = kind_for(p["kind"], policy).copy(
                ctx, point, dest_region=step.region, kms_key_id=p["kms_key"], tags=tags
            )
        except (CaptureError, ClientError, BotoCoreError, ValueError) as err:
            results[step.id] = _result(step, STEP_FAILED, f"copy: {err}", retryable=is_retryable(err))
    _wait_points(ctx, policy, copies, results, steps, stage_delay, stage_attempts, "copy at home")

    # Stage 3: restore next to the original.
    for step in todo:
        if step.id in results or step.id not in copies:
            continue
        p = step.params
        try:
            item = kind_for(p["kind"], policy).restore(
                ctx, copies[step.id], name=p["name"], tags=dict(p.get("tags") or {})
            )
            waits.restore(step.id, item)
            m = memo.get(step.id) or {}
            if m.get("freeze_how"):
                m.setdefault("freeze_ended_at", format_window(now_utc()))
            results[step.id] = _result(
                step,
                DONE,
                f"{p['dr_writer'] or 'DR copy'} -> {points[step.id].point_id} -> {copies[step.id].point_id} -> "
                f"{item.resource_id}" + ("; DR writer frozen" if m.get("freeze_how") else ""),
                resource=item.resource_id,
                **_freeze_record(m),
            )
        except (CaptureError, ClientError, BotoCoreError, ValueError) as err:
            results[step.id] = _result(step, STEP_FAILED, f"restore: {err}", retryable=is_retryable(err))
    return [results[s.id] for s in steps if s.id in results]


def _freeze_record(m: dict[str, Any]) -> dict[str, Any]:
    """The audit's ``freeze`` of a resync step (how, start, end, seconds), once it has one."""
    if not m.get("freeze_how") or not m.get("freeze_ended_at"):
        return {}
    started, ended = parse_window(m["freeze_started_at"]), parse_window(m["freeze_ended_at"])
    return {
        "freeze": {
            "how": m["freeze_how"],
            "started_at": m["freeze_started_at"],
            "ended_at": m["freeze_ended_at"],
            "seconds": (ended - started).total_seconds(),
        },
        "reconciled": {"snapshot_after_freeze": True},
    }


def _dr_region_of(step: fp.Step, policy: Policy) -> str:
    return str(step.params.get("dr_region") or policy.dr_regions[0])


def _resource(ctx: AwsContext, policy: Policy, kind: str, region: str, ident: str) -> Resource:
    """The DR writer as a :class:`Resource` (described by its kind; a bare one if the kind skips it)."""
    arn = fp.resource_arn(kind, region, ident, ctx.account_id(region))
    found = [r for r in kind_for(kind, policy).describe(ctx, region, [arn]) if r.id == ident]
    if found:
        return found[0]
    # e.g. RdsKind skips read replicas, and moto still reports a promoted replica's source.
    return Resource(kind=kind, id=ident, arn=arn, region=region, meta={})


def _wait_points(
    ctx: AwsContext,
    policy: Policy,
    points: dict[str, RecoveryPoint],
    results: dict[str, dict[str, Any]],
    steps: list[fp.Step],
    delay: float,
    max_attempts: int,
    what: str,
) -> None:
    by_id = {s.id: s for s in steps}
    pending = {sid: p for sid, p in points.items() if sid not in results and p.status != AVAILABLE}

    def _round() -> list[str]:
        groups: dict[tuple[str, str], list[tuple[str, RecoveryPoint]]] = {}
        for sid, point in pending.items():
            groups.setdefault((point.kind, point.region), []).append((sid, point))
        for (kind, region), items in groups.items():
            fresh = kind_for(kind, policy).refresh(ctx, region, [p for _, p in items])
            if any(p.status == MISSING for p in fresh):
                # Some kinds refresh only their own captures (DynamoDB: backups, not export
                # copies); their listing knows every point, copies included.
                listed = {p.point_id: p for p in kind_for(kind, policy).list_points(ctx, region, None)}
                fresh = [listed.get(p.point_id, p) if p.status == MISSING else p for p in fresh]
            for (sid, _), point in zip(items, fresh, strict=True):
                pending[sid] = point
                if point.status == AVAILABLE:
                    del pending[sid]
                elif point.status in (FAILED, MISSING):
                    results[sid] = _result(
                        by_id[sid], STEP_FAILED, f"{what} {point.point_id}: {point.status}"
                    )
                    del pending[sid]
        return [f"{p.point_id} ({p.status})" for p in pending.values()]

    try:
        compute.poll(_round, what=what)
    except compute.StillWaiting as err:
        for sid in pending:
            results[sid] = _result(by_id[sid], WAITING, str(err), retryable=True)


# --- compute ------------------------------------------------------------------------------------


def run_compute_steps(
    ctx: AwsContext,
    policy: Policy,
    steps: list[fp.Step],
    *,
    memo: dict[str, Any] | None = None,
    run_id: str = "",
) -> list[dict[str, Any]]:
    """Deploy the stacks first; then scale, clone, launch or terminate (idempotent), and one
    batched round over every group, service and instance: what is not serving yet comes back
    ``waiting``.

    Until every stack is complete the other steps are not started (they come back ``waiting``):
    a stack may make what they scale.
    """
    results: list[dict[str, Any]] = []
    memo = memo if memo is not None else {}
    stack_steps = [s for s in steps if s.action in handlers.HANDLERS]
    if stack_steps:
        run = handlers.Run(ctx=ctx, policy=policy, run_id=run_id)
        for step in stack_steps:
            _run_handler(run, step, results, memo)
        broken = [r["target"] for r in results if r["outcome"] == STEP_FAILED]
        if broken or any(r["outcome"] not in (DONE, ALREADY) for r in results):
            for step in steps:
                if step not in stack_steps:
                    results.append(
                        _result(
                            step, STEP_FAILED, f"not started: {', '.join(broken)} failed", retryable=False
                        )
                        if broken
                        else _result(step, WAITING, "after the stacks", retryable=True)
                    )
            return results
        steps = [s for s in steps if s not in stack_steps]
    waits = _Waits(ctx, policy, 0, 1)
    asg_targets: dict[str, dict[str, int]] = {}
    ecs_targets: dict[tuple[str, str], dict[str, int]] = {}
    asg_steps: dict[str, list[str]] = {}
    ecs_steps: dict[tuple[str, str], list[str]] = {}
    for step in steps:
        p = step.params
        region = step.region
        if step.action in (fp.SCALE_ASG, fp.CLONE_ASG):

            def _asg(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                if step.action == fp.SCALE_ASG:
                    outcome = compute.scale_asg(ctx, region, p["name"], p["size"])
                else:
                    outcome = compute.clone_asg(ctx, region, p["source"], p["name"], p["size"], p["tags"])
                asg_targets.setdefault(region, {})[p["name"]] = p["size"]["desired"]
                asg_steps.setdefault(region, []).append(step.id)
                size = p["size"]
                return _result(
                    step,
                    ALREADY if outcome == compute.ALREADY else DONE,
                    f"{p['name']} {size['min']}/{size['desired']}/{size['max']}",
                )

            _run(step, results, _asg)
        elif step.action in (fp.SCALE_ECS, fp.CLONE_ECS):

            def _ecs(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                # images from another region's registry (the one that is out) are swapped for their
                # copies here before the service scales (compute.repoint_images)
                if step.action == fp.SCALE_ECS:
                    name = p["service"]
                    moved, images = compute.repoint_images(ctx, region, p["cluster"], name)
                    outcome = compute.scale_ecs(ctx, region, p["cluster"], name, p["desired"])
                else:
                    name = p["name"]
                    outcome = compute.clone_service(
                        ctx, region, p["cluster"], p["source"], name, p["desired"], p["tags"]
                    )
                    moved, images = compute.repoint_images(ctx, region, p["cluster"], name)
                ecs_targets.setdefault((region, p["cluster"]), {})[name] = p["desired"]
                ecs_steps.setdefault((region, p["cluster"]), []).append(step.id)
                detail = f"{p['cluster']}/{name} {p['desired']} task(s)"
                if images:
                    detail += f"; images: {'; '.join(images)}"
                return _result(
                    step,
                    ALREADY if outcome == compute.ALREADY and moved == compute.ALREADY else DONE,
                    detail,
                )

            _run(step, results, _ecs)
        elif step.action == fp.LAUNCH_FROM_AMI:

            def _launch(step: fp.Step = step, p: dict[str, Any] = p, region: str = region) -> dict[str, Any]:
                if not p.get("image_id"):
                    raise compute.ComputeError(f"no copied AMI of {p['source']} in {region}")
                outcome, ids = compute.launch_from_image(
                    ctx,
                    region,
                    image_id=p["image_id"],
                    instance_type=p["instance_type"],
                    count=p["count"],
                    key=p["launch_key"],
                    name=p["name"],
                    tags=p.get("tags") or {},
                    subnet=p.get("subnet"),
                )

                def _running(ids: list[str] = ids, region: str = region) -> tuple[bool, str | None]:
                    try:
                        return not compute.instances_not_running(ctx, region, ids), None
                    except compute.ComputeError as err:
                        return False, str(err)

                waits.check(step.id, f"instances {', '.join(ids)}", _running)
                return _result(
                    step,
                    ALREADY if outcome == compute.ALREADY else DONE,
                    f"{p['name']} from {p['image_id']}: {', '.join(ids)}",
                    resource=ids,
                )

            _run(step, results, _launch)
        elif step.action == fp.TERMINATE_LAUNCHED:

            def _terminate(
                step: fp.Step = step, p: dict[str, Any] = p, region: str = region
            ) -> dict[str, Any]:
                ids = compute.terminate_tagged(ctx, region, compute.TAG_LAUNCH_KEY, p["launch_key"])
                return _result(step, DONE if ids else ALREADY, f"terminated {', '.join(ids) or 'nothing'}")

            _run(step, results, _terminate)
        else:
            results.append(
                _result(step, STEP_FAILED, f"unknown compute action {step.action}", retryable=False)
            )
    groups: dict[str, list[str]] = {}
    for region, targets in asg_targets.items():
        key = f"asg@{region}"
        groups[key] = asg_steps[region]

        def _asgs_ready(region: str = region, targets: dict[str, int] = targets) -> tuple[bool, str | None]:
            return not compute.asgs_not_ready(ctx, region, targets), None

        waits.check(key, f"Auto Scaling groups in {region}", _asgs_ready)
    for (region, cluster), targets in ecs_targets.items():
        key = f"ecs/{cluster}@{region}"
        groups[key] = ecs_steps[(region, cluster)]

        def _services_ready(
            region: str = region, cluster: str = cluster, targets: dict[str, int] = targets
        ) -> tuple[bool, str | None]:
            try:
                return not compute.services_not_ready(ctx, region, cluster, targets), None
            except compute.ComputeError as err:
                return False, str(err)

        waits.check(key, f"ECS services of {cluster} in {region}", _services_ready)
    waiting: str | None = None
    try:
        waits.wait()
    except compute.StillWaiting as err:
        waiting = str(err)
    failed: dict[str, str] = {}
    for key, error in waits.failed.items():
        for sid in groups.get(key, [key]):
            failed[sid] = error
    pending: set[str] = set()
    if waiting:
        for key in waits.custom:
            pending.update(groups.get(key, [key]))
    for r in results:
        if r["outcome"] == STEP_FAILED:
            continue
        if r["id"] in failed:
            r.update(outcome=STEP_FAILED, detail=f"{r['detail']}; {failed[r['id']]}", retryable=False)
        elif r["id"] in pending:
            r.update(
                outcome=WAITING, detail=f"{r['detail']}; {waiting}", retryable=True, started=r["outcome"]
            )
        r["finished_at"] = format_window(now_utc())
    return results


# --- traffic --------------------------------------------------------------------------------------


def run_traffic_steps(
    ctx: AwsContext,
    steps: list[fp.Step],
    *,
    run_id: str,
    policy: Policy | None = None,
    memo: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """UPSERT every record of a zone in one change batch (and each database's record), then one
    INSYNC round: changes still PENDING leave the wait step ``waiting``.

    ``memo`` (kept by the operator across rounds) remembers the change ids of the first round.
    """
    results: list[dict[str, Any]] = []
    memo = memo if memo is not None else {}
    change_ids: list[str] = list(memo.get("change_ids", []))
    if policy is not None:
        run = handlers.Run(ctx=ctx, policy=policy, run_id=run_id)
        for step in steps:
            if step.action in handlers.HANDLERS:
                _run_handler(run, step, results, memo)
        for r in results:
            change_ids.extend(r.get("change_ids") or [])
    by_zone: dict[str, list[fp.Step]] = {}
    for step in steps:
        if step.action == fp.UPSERT_RECORDS:
            by_zone.setdefault(step.params["zone"], []).append(step)
    for zone, zone_steps in by_zone.items():
        zone_id = route53.find_zone(ctx, zone)
        if zone_id is None:
            results.extend(
                _result(s, STEP_FAILED, f"hosted zone {zone} not found", retryable=False) for s in zone_steps
            )
            continue
        specs = {s.id: [route53.RecordSpec(**r) for r in s.params["records"]] for s in zone_steps}
        try:
            ids, changed, _ = route53.upsert_records(
                ctx, zone_id, [x for v in specs.values() for x in v], comment=f"awsdr {run_id}"
            )
        except (ClientError, BotoCoreError) as err:
            results.extend(
                _result(s, STEP_FAILED, f"{error_code(err)}: {err}", retryable=is_retryable(err))
                for s in zone_steps
            )
            continue
        change_ids.extend(ids)
        for s in zone_steps:
            mine = [x for x in specs[s.id] if x in changed]
            outcome = DONE if mine else ALREADY
            detail = "; ".join(
                f"{x.name} -> {x.value}" + (f" w{x.weight}" if x.set_identifier else "") for x in specs[s.id]
            )
            results.append(_result(s, outcome, detail, change_ids=ids))
    memo["change_ids"] = sorted(set(change_ids))
    for step in steps:
        if step.action != fp.WAIT_INSYNC:
            continue
        pending = route53.pending_changes(ctx, memo["change_ids"])
        if pending:
            results.append(
                _result(step, WAITING, f"{len(pending)} change(s) still PENDING: {', '.join(pending)}")
            )
        else:
            results.append(_result(step, DONE, f"{len(memo['change_ids'])} change(s) INSYNC"))
    return results


# --- verify ---------------------------------------------------------------------------------------


def http_health(url: str, timeout: float) -> tuple[str, str]:
    """``(healthy | unhealthy, detail)`` of an HTTP GET: 2xx and 3xx are healthy."""
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "awsdr-failover-verify"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - policy URLs
            code = int(answer.status)
    except urllib.error.HTTPError as err:
        code = int(err.code)
    except (urllib.error.URLError, OSError, ValueError) as err:
        return route53.UNHEALTHY, f"GET {url}: {err}"
    return (route53.HEALTHY if 200 <= code < 400 else route53.UNHEALTHY), f"GET {url}: HTTP {code}"


def run_verify_steps(
    ctx: AwsContext,
    fo: Failover,
    steps: list[fp.Step],
    *,
    final: bool = True,
) -> tuple[list[dict[str, Any]], datetime | None]:
    """One round of every health check.

    Not ``final``: an unhealthy or unknown check comes back ``waiting`` (the operator defers and
    checks again). ``final`` (the last round): a check without data (``unknown``) is recorded and
    the policy's ``verify.unknown`` says whether it fails the run; unhealthy fails. Returns the
    results and when everything was healthy (None if it is not).
    """
    checks = [s for s in steps if s.action == fp.CHECK_HEALTH]
    names = [s.params["name"] for s in checks if s.params.get("name")]
    ids = route53.find_health_checks(ctx, names) if names else {}
    timeout = fo.verify.timeout.total_seconds()
    state: dict[str, tuple[str, str]] = {}

    def _round() -> list[str]:
        for s in checks:
            if state.get(s.id, ("", ""))[0] == route53.HEALTHY:
                continue
            p = s.params
            if p.get("url"):
                state[s.id] = http_health(p["url"], timeout)
            else:
                hc_id = p.get("id") or ids.get(p.get("name") or "")
                if hc_id is None:
                    state[s.id] = (route53.UNHEALTHY, f"health check {p.get('name')!r} not found")
                else:
                    state[s.id] = route53.health_check_status(ctx, hc_id)
        return [f"{s.target} ({state[s.id][0]})" for s in checks if state[s.id][0] != route53.HEALTHY]

    try:
        compute.poll(_round, what="health checks")
    except compute.StillWaiting:
        pass
    results: list[dict[str, Any]] = []
    healthy = True
    for s in checks:
        status, detail = state.get(s.id, (route53.UNKNOWN, "not checked"))
        if status == route53.HEALTHY:
            outcome = DONE
        elif not final:
            outcome = WAITING
            healthy = False
        elif status == route53.UNKNOWN and s.params.get("unknown", "warn") == "warn":
            outcome = UNKNOWN
        else:
            outcome = STEP_FAILED
            healthy = False
        results.append(_result(s, outcome, f"{status}: {detail}", health=status, retryable=False))
    return results, (now_utc() if healthy else None)


def run_teardown_steps(ctx: AwsContext, policy: Policy, steps: list[fp.Step]) -> list[dict[str, Any]]:
    """Delete what a drill made (idempotent: a second run finds nothing)."""
    results: list[dict[str, Any]] = []
    for step in steps:
        p = step.params

        def _one(step: fp.Step = step, p: dict[str, Any] = p) -> dict[str, Any]:
            region = step.region
            if step.action == fp.CLEANUP_RESTORES:
                gone = kind_for(p["kind"], policy).cleanup(ctx, region, p["tag_key"], p["tag_value"])
            elif step.action == fp.DELETE_DRILL_POINTS:
                kind = kind_for(p["kind"], policy)
                points = [
                    pt
                    for pt in kind.list_points(ctx, region, None)
                    if pt.tags.get(p["tag_key"]) == p["tag_value"]
                ]
                outcome = kind.delete(ctx, region, points) if points else {}
                bad = {k: v for k, v in outcome.items() if v not in ("deleted", "absent")}
                if bad:
                    raise CaptureError(f"drill copies not deleted: {bad}")
                gone = list(outcome)
            elif step.action == fp.DELETE_DRILL_COMPUTE:
                gone = compute.delete_asgs_tagged(ctx, region, p["tag_key"], p["tag_value"])
                gone += compute.delete_services_tagged(
                    ctx, region, p["clusters"], p["tag_key"], p["tag_value"]
                )
                gone += compute.terminate_tagged(ctx, region, p["tag_key"], p["tag_value"])
            elif step.action == fp.DELETE_DRILL_STACKS:
                from awsdr.failover import stacks

                gone = stacks.delete_tagged(ctx, region, p["tag_key"], p["tag_value"])
            elif step.action == fp.DELETE_DRILL_RECORDS:
                zone_id = route53.find_zone(ctx, p["zone"])
                gone = (
                    route53.delete_records(ctx, zone_id, p["names"], comment="awsdr drill teardown")
                    if zone_id
                    else []
                )
            else:
                raise ValueError(f"unknown teardown action {step.action}")
            return _result(
                step, DONE if gone else ALREADY, f"removed {len(gone)}: {', '.join(map(str, gone[:20]))}"
            )

        _run(step, results, _one)
    return results
