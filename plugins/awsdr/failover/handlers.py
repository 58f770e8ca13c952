"""One handler per step action, registered by name: fencing, database records, lossless failback.

A handler takes the run, the step and the step's ``memo`` (a JSON dict kept across the operator's
deferrals: freeze start times and the like) and returns the step's result, or raises
:class:`~awsdr.aws.compute.StillWaiting` when AWS is still working; the phase calls it again on
its next round (after a deferral). Handlers re-read live state first, so calling one again after
it finished returns ``already`` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from awsdr.aws.compute import StillWaiting
from awsdr.failover import fencing, reconcile
from awsdr.kinds.base import CaptureError
from awsdr.planning import failover as fp
from awsdr.windows import format_window, parse_window

if TYPE_CHECKING:
    from collections.abc import Callable

    from awsdr.aws.context import AwsContext
    from awsdr.policy import Policy

DONE = "done"
ALREADY = "already"
#: Rounds a fence waits for AWS to detach a promoted replica from the primary before it stops it.
BLOCKED_ROUNDS = 3


@dataclass
class Run:
    """What every handler may use."""

    ctx: AwsContext
    policy: Policy
    run_id: str


HANDLERS: dict[str, Callable[[Run, fp.Step, dict[str, Any]], dict[str, Any]]] = {}


def handler(action: str) -> Callable[[Any], Any]:
    def register(fn: Any) -> Any:
        HANDLERS[action] = fn
        return fn

    return register


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _since(memo: dict[str, Any], key: str) -> datetime:
    """The time stored under ``key`` in the memo (stored now on first use)."""
    if key not in memo:
        memo[key] = format_window(_now())
    return parse_window(str(memo[key]))


def outcome(outcome: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"outcome": outcome, "detail": detail, **extra}


# --- fencing (failover) ---------------------------------------------------------------------------------


@handler(fp.FENCE_PRIMARY)
def fence_primary(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    p = step.params
    region, name, kind = step.region, p["name"], p["kind"]
    if p["reachable"] != fp.REACHABLE:
        return outcome(DONE, f"NOT FENCED: {name} in {region} was {p['reachable']}", fenced=False)
    reach, why = fencing.probe(run.ctx, kind, region, name)
    if reach != fp.REACHABLE:
        return outcome(DONE, f"NOT FENCED: {why}", fenced=False)
    done: list[str] = []
    if kind == "dynamodb":
        changed = fencing.deny_table_writes(run.ctx, region, name, fencing.FENCE_SID)
        memo.setdefault("changed", changed)
        return outcome(
            DONE if memo["changed"] else ALREADY,
            f"{name}: resource policy {fencing.FENCE_SID} denies item writes in {region}",
            fenced=True,
            method=p["method"],
        )
    if p.get("record") and p.get("replica"):
        target = reconcile.db_endpoint(run.ctx, kind, p["dr_region"], p["replica"])
        if target is None:
            raise CaptureError(f"no endpoint for the replica {p['replica']} in {p['dr_region']}")
        ids = reconcile.move_db_record(
            run.ctx, p["record"], target, ttl=int(p["ttl"]), comment=f"awsdr fence {run.run_id}"
        )
        memo.setdefault("record_moved_at", format_window(_now()))
        done.append(f"{p['record']} -> {target}" + ("" if ids else " (already)"))
    stop = fencing.stop_cluster if kind == "aurora" else fencing.stop_instance
    state, detail = stop(run.ctx, region, name)
    if state == fencing.BLOCKED:
        # AWS refuses to stop a source with a read replica: the promotion (this phase) detaches
        # the one this runbook promotes; a replica the strategy does not use (backup & restore)
        # or a busy instance may keep refusing. Bounded: after BLOCKED_ROUNDS more rounds the
        # fence is recorded as partial (the record, if any, moved; the stop refused; fenced only
        # if the record moved) and the runbook goes on: a region outage must not wait on a
        # primary that keeps its replica listed (the emulator never detaches it). The readiness
        # warns of it beforehand, so the approval shows it.
        memo["blocked_rounds"] = int(memo.get("blocked_rounds", 0)) + 1
        if memo["blocked_rounds"] <= BLOCKED_ROUNDS:
            raise StillWaiting("fence", [f"{name}: {detail}"])
        done.append(f"PARTIAL: {detail}; stop {name} by hand")
        return outcome(DONE, "; ".join(done), fenced=bool(p.get("record")), partial=True, method=p["method"])
    done.append(detail)
    memo.setdefault("first", state)
    return outcome(
        DONE if memo["first"] != fencing.STOPPED else ALREADY,
        "; ".join(done),
        fenced=True,
        method=p["method"],
    )


@handler(fp.FENCE_BUCKET)
def fence_bucket(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    p = step.params
    if p["reachable"] != fp.REACHABLE:
        return outcome(DONE, f"NOT FENCED: bucket {p['bucket']} was {p['reachable']}", fenced=False)
    reach, why = fencing.probe(run.ctx, "s3", step.region, p["bucket"])
    if reach != fp.REACHABLE:
        return outcome(DONE, f"NOT FENCED: {why}", fenced=False)
    changed = fencing.deny_bucket_writes(run.ctx, step.region, p["bucket"], fencing.FENCE_SID)
    memo.setdefault("changed", changed)
    return outcome(
        DONE if memo["changed"] else ALREADY,
        f"{p['bucket']}: bucket policy {fencing.FENCE_SID} denies object writes",
        fenced=True,
        method=p["method"],
    )


# --- database records (traffic) -------------------------------------------------------------------------


@handler(fp.MOVE_DB_RECORD)
def move_db_record(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    p = step.params
    endpoint = reconcile.db_endpoint(run.ctx, p["kind"], p["writer_region"], p["writer"])
    if endpoint is None:
        raise CaptureError(f"{p['writer']} has no endpoint in {p['writer_region']}")
    ids = reconcile.move_db_record(
        run.ctx, p["record"], endpoint, ttl=fp.DB_RECORD_TTL, comment=f"awsdr {run.run_id}"
    )
    memo.setdefault("changed", bool(ids))
    return outcome(
        DONE if memo["changed"] else ALREADY, f"{p['record']} -> {endpoint}", change_ids=ids, value=endpoint
    )


# --- failback data ------------------------------------------------------------------------------------------


@handler(fp.RECONCILE_TABLE)
def reconcile_table(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    p = step.params
    home, dr, table = step.region, p["dr_region"], p["table"]
    if "counts" in memo:
        return outcome(ALREADY, memo["detail"], **memo["result"])
    freeze_at = _since(memo, "freeze_started_at")
    fencing.deny_table_writes(run.ctx, dr, p["dr_table"], fencing.FREEZE_SID)
    backup_arn, status = reconcile.final_backup(run.ctx, home, table, run.run_id)
    memo["final_backup"] = backup_arn
    if status != "AVAILABLE":
        raise StillWaiting("final backup", [f"{backup_arn} ({status})"])
    lifted = fencing.allow_table_writes(run.ctx, home, table, fencing.FENCE_SID)
    counts = reconcile.sync_table(run.ctx, dr, table, home)
    ended = _now()
    result = {
        "freeze": {
            "how": f"resource policy {fencing.FREEZE_SID} on {p['dr_table']} in {dr}",
            "started_at": format_window(freeze_at),
            "ended_at": format_window(ended),
            "seconds": (ended - freeze_at).total_seconds(),
        },
        "reconciled": {"items": counts["written"] + counts["deleted"], **counts},
        "final_backup": backup_arn,
        "fence_lifted": lifted,
    }
    detail = (
        f"{table}: {counts['written']} item(s) written, {counts['deleted']} deleted, "
        f"{counts['unchanged']} unchanged; final backup {backup_arn}; DR table frozen"
    )
    memo.update(counts=counts, detail=detail, result=result)
    return outcome(DONE, detail, **result)


@handler(fp.SYNC_BUCKET_HOME)
def sync_bucket_home(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    from awsdr.kinds.s3 import dr_bucket_name

    p = step.params
    home, dr = step.region, p["dr_region"]
    if "counts" in memo:
        return outcome(ALREADY, memo["detail"], **memo["result"])
    dr_bucket = p.get("dr_bucket") or dr_bucket_name(p["bucket"], dr)
    freeze_at = _since(memo, "freeze_started_at")
    fencing.deny_bucket_writes(run.ctx, dr, dr_bucket, fencing.FREEZE_SID)
    # the DR bucket is frozen: lift the failover's fence at home first (S3 evaluates the fence's
    # runner exemption by aws:PrincipalArn; the emulator does not, and refuses the copies)
    lifted = fencing.allow_bucket_writes(run.ctx, home, p["bucket"], fencing.FENCE_SID)
    counts = reconcile.copy_dr_writes_home(run.ctx, dr, dr_bucket, home, p["bucket"])
    ended = _now()
    result = {
        "freeze": {
            "how": f"bucket policy {fencing.FREEZE_SID} on {dr_bucket} in {dr}",
            "started_at": format_window(freeze_at),
            "ended_at": format_window(ended),
            "seconds": (ended - freeze_at).total_seconds(),
        },
        "reconciled": {"objects": counts["copied"], **counts},
        "fence_lifted": lifted,
    }
    detail = f"{counts['copied']} object(s) copied home from {dr_bucket}; DR bucket frozen"
    memo.update(counts=counts, detail=detail, result=result)
    return outcome(DONE, detail, **result)


@handler(fp.REVERSE_REPLICA)
def reverse_replica(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    from awsdr.kinds import _rds_common as rc

    p = step.params
    home, dr, name = step.region, p["dr_region"], p["name"]
    if not p.get("record"):
        raise CaptureError(
            f"{p['source']}: no databases[].dns record: a failback cannot freeze writes in {dr} without one"
        )
    if "promoted" in memo:
        states = rc.instance_status(run.ctx, home, [name])
        if states.get(name) != "available":
            raise StillWaiting("promotion", [f"{name} ({states.get(name)})"])
        ended = _now()
        freeze_at = parse_window(memo["freeze_started_at"])
        result = {
            "freeze": {
                "how": f"{p['record']} -> the read-only replica {name}",
                "started_at": memo["freeze_started_at"],
                "ended_at": format_window(ended),
                "seconds": (ended - freeze_at).total_seconds(),
            },
            "reconciled": {"replica_lag_at_promotion": memo["lag"]},
        }
        return outcome(DONE, f"{p['dr_writer']} -> {name} (reverse replica, promoted at lag 0)", **result)
    db = reconcile.ensure_home_replica(
        run.ctx,
        home=home,
        dr=dr,
        dr_writer=p["dr_writer"],
        name=name,
        kms_key=p.get("kms_key"),
        tags=dict(p.get("tags") or {}),
    )
    endpoint = (db.get("Endpoint") or {}).get("Address")
    if not endpoint:
        raise StillWaiting("reverse replica", [f"{name} (no endpoint yet)"])
    reconcile.move_db_record(
        run.ctx, p["record"], endpoint, ttl=int(p["ttl"]), comment=f"awsdr freeze {run.run_id}"
    )
    freeze_at = _since(memo, "freeze_started_at")
    if (_now() - freeze_at).total_seconds() < int(p["ttl"]):
        raise StillWaiting(
            "write freeze", [f"{p['record']} TTL ({p['ttl']} s) since {memo['freeze_started_at']}"]
        )
    lag = reconcile.replica_lag(run.ctx, home, name)
    if lag is None or lag > 0:
        raise StillWaiting("replication", [f"{name} ReplicaLag {lag if lag is not None else 'unknown'}"])
    memo["lag"] = lag
    rc.promote_read_replica(run.ctx, home, name)
    memo["promoted"] = format_window(_now())
    raise StillWaiting("promotion", [f"{name} (promoting)"])


# --- stacks (compute) ---------------------------------------------------------------------------------------


@handler(fp.DEPLOY_STACK)
def deploy_stack(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    from awsdr.failover import stacks

    changed, detail = stacks.deploy(run.ctx, step.region, step.params, run.run_id, memo)
    return outcome(DONE if changed else ALREADY, detail)


# --- functions (compute) ------------------------------------------------------------------------------------


@handler(fp.RESTORE_FUNCTION)
def restore_function(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    """Re-create a Lambda function in the DR region from its newest DR copy, under its own name
    (``<name>-drill`` in a drill), with the policy's environment values; then wait (deferred)
    until it is Active. A function of that name already there is used as it is (a retry, or one
    the team deployed themselves): never replaced."""
    from awsdr.kinds import kind_for
    from awsdr.kinds.base import AVAILABLE, CREATING, Restored, newest_copies
    from awsdr.windows import TAG_COPY_OF

    p = step.params
    kind = kind_for("lambda", run.policy)
    if "restored" not in memo:
        copies = [
            c
            for c in kind.list_points(run.ctx, step.region, None)
            if c.source_id == p["source"] and TAG_COPY_OF in c.tags and c.status == AVAILABLE
        ]
        if not copies:
            raise CaptureError(
                f"no DR copy of function {p['source']} in {step.region}: nothing to re-create it from"
            )
        newest = newest_copies(copies, datetime.now(tz=UTC))[p["source"]]
        restored = kind.restore(  # type: ignore[call-arg]
            run.ctx, newest, name=p["name"], tags=p["tags"], environment=p.get("environment") or None
        )
        memo["restored"] = restored.to_dict()
        memo["from"] = f"{newest.point_id} (window {format_window(newest.window)})"
    item = Restored.from_dict(memo["restored"])
    [item] = kind.restore_status(run.ctx, step.region, [item])
    if item.status == CREATING:
        raise StillWaiting("function", [f"{p['name']} (Pending)"])
    if item.status != AVAILABLE:
        raise CaptureError(f"function {p['name']} in {step.region} is {item.status}: {item.error or ''}")
    created = bool(item.details.get("created", True))
    detail = f"{p['name']} from {memo['from']}" if created else f"{p['name']} already there (kept as it is)"
    notes = item.details.get("environment_unset") or []
    if notes:
        detail += f"; environment without values: {', '.join(notes)}"
    return outcome(DONE if created else ALREADY, detail)


# --- drills -------------------------------------------------------------------------------------------------


@handler(fp.SWEEP_DRILLS)
def sweep_drills(run: Run, step: fp.Step, memo: dict[str, Any]) -> dict[str, Any]:
    """Delete what a killed drill left behind (restores and instances tagged ``awsdr:drill``).

    Resources tagged with this run's id (``keep``) are kept: a retried ``data_layer`` (its try
    killed after a restore, before the round was recorded) sweeps again, and must not delete the
    restores it is about to use (on AWS a cluster of that name still deleting is then "already
    there"; moto 5.2.5 refuses the second restore's automated snapshot name). Done once per run
    (the memo).
    """
    from awsdr.aws import compute
    from awsdr.kinds import kind_for

    if "swept" in memo:
        return outcome(ALREADY, memo["swept"])
    p = step.params
    gone: list[str] = []
    for kind in p["kinds"]:
        gone += [
            f"{kind}:{x}"
            for x in kind_for(kind, run.policy).cleanup(
                run.ctx, step.region, p["tag_key"], keep=p.get("keep")
            )
        ]
    gone += [
        f"ec2:{x}" for x in compute.terminate_tagged(run.ctx, step.region, p["tag_key"], keep=p.get("keep"))
    ]
    from awsdr.failover import stacks

    gone += [
        f"cloudformation:{x}"
        for x in stacks.delete_tagged(run.ctx, step.region, p["tag_key"], keep=p.get("keep"))
    ]
    memo["swept"] = f"swept {len(gone)} leftover(s) of earlier drills: {', '.join(gone[:20]) or 'none'}"
    return outcome(DONE if gone else ALREADY, memo["swept"], swept=gone)
