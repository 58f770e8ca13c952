"""Airflow glue for ``dr_failover``, ``dr_failback`` and ``dr_failover_drill``.

One operator per runbook phase (provider style: keyword-only ``__init__`` that only assigns,
templated fields named like their arguments, all I/O in ``execute``):

- :class:`FailoverReadinessOperator`: pre-flight; fails listing every problem, returns the
  inventory facts the planner needs.
- :class:`FailoverPlanOperator`: the runbook (:mod:`awsdr.planning.failover`), logged and written
  to ``failover/<run id>/plan.json`` in the catalog.
- :class:`DataLayerOperator`, :class:`ComputeOperator`, :class:`TrafficOperator`,
  :class:`VerifyOperator`: execute the plan's steps of their phase. Each step re-reads the live
  state first and is skipped (outcome ``already``) when it is done, so a re-triggered run resumes
  and nothing is done twice. A dry run skips them all.
- :class:`NotifyOperator`: the audit record (who, when, why, every step, measured RTO) in
  ``failover/<run id>/audit.json`` and the SNS notification; fails the run if a step failed.
- :class:`DrillTeardownOperator`: removes everything tagged ``awsdr:drill=<run id>``.

The plain functions (:func:`check_readiness`, :func:`run_data_steps`, ...) take an
:class:`~awsdr.aws.context.AwsContext` and are tested against moto directly.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from botocore.exceptions import BotoCoreError, ClientError

from awsdr.aws import compute, route53
from awsdr.aws.context import error_code
from awsdr.copies import copy_tags
from awsdr.failover import approval as approval_text
from awsdr.failover import fencing, handlers
from awsdr.kinds import kind_for
from awsdr.kinds.base import (
    AVAILABLE,
    CREATING,
    FAILED,
    MISSING,
    CaptureError,
    RecoveryPoint,
    Resource,
    Restored,
)
from awsdr.operators.backup import DrBaseOperator
from awsdr.planning import failover as fp
from awsdr.policy import AsgStandby
from awsdr.windows import (
    TAG_CAPTURED_AT,
    TAG_VERIFIED_AT,
    format_window,
    parse_window,
    point_tags,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from airflow.sdk import Context

    from awsdr.aws.context import AwsContext
    from awsdr.policy import Failover, Policy

log = logging.getLogger(__name__)

# Step outcomes.
DONE = "done"
ALREADY = "already"
SKIPPED = "skipped"
STEP_FAILED = "failed"
UNKNOWN = "unknown"
#: Not done yet: AWS is working; the phase defers and looks again on its next round.
WAITING = "waiting"

#: AWS error codes a retry can fix; every other error of a step is definitive.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "PriorRequestNotComplete",
        "RequestTimeout",
    }
)
#: DB instance states a promotion or restore never comes back from.
DEAD_DB_STATES = frozenset(
    {"failed", "incompatible-restore", "incompatible-parameters", "storage-full", "deleting", MISSING}
)
#: Catalog keys.
PLAN_KEY = "failover/{run_id}/plan.json"
AUDIT_KEY = "failover/{run_id}/audit.json"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(value: datetime | None) -> str | None:
    return format_window(value) if value is not None else None


def _flag(value: Any) -> bool:
    """A templated boolean: XCom gives a bool, a rendered template the text ``True``/``False``."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def is_retryable(err: BaseException) -> bool:
    if isinstance(err, TimeoutError | BotoCoreError):
        return True
    return isinstance(err, ClientError) and error_code(err) in RETRYABLE_CODES


def primary_kms_key(policy: Policy, dr_region: str) -> str | None:
    """The key failback copies are encrypted with in the primary: the policy's, else the DR alias."""
    fo = policy.failover
    if fo is not None and fo.primary_kms_key:
        return fo.primary_kms_key
    key = policy.kms_keys.get(dr_region, "")
    return key if key.startswith("alias/") else None


# ============================================================================================
# Readiness
# ============================================================================================


class Findings:
    """Problems (block the run) and warnings (reported), each naming what and where."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, severity: str, message: str) -> None:
        (self.problems if severity == "error" else self.warnings).append(message)


def _point_time(point: RecoveryPoint) -> datetime:
    raw = point.tags.get(TAG_CAPTURED_AT)
    if raw:
        try:
            return parse_window(raw)
        except ValueError:
            pass
    return point.created_at or point.window


def newest_copies(
    ctx: AwsContext, policy: Policy, kind: str, region: str, sources: list[str]
) -> dict[str, RecoveryPoint | None]:
    """The newest *available* point of each source in ``region`` (one listing per kind)."""
    points = kind_for(kind, policy).list_points(ctx, region, None)
    best: dict[str, RecoveryPoint | None] = dict.fromkeys(sources)
    for point in points:
        if point.source_id not in best or point.status != AVAILABLE:
            continue
        prior = best[point.source_id]
        if prior is None or _point_time(point) > _point_time(prior):
            best[point.source_id] = point
    return best


def _check_copy(
    findings: Findings,
    policy: Policy,
    fo: Failover,
    what: str,
    point: RecoveryPoint | None,
    region: str,
    now: datetime,
) -> None:
    if point is None:
        findings.add("error", f"{what}: no available DR copy in {region} to restore from")
        return
    age = now - _point_time(point)
    plan = policy.plans.get(point.plan)
    rpo = plan.rpo if plan is not None else min((p.rpo for p in policy.plans.values()), default=None)
    if rpo is not None and age > rpo:
        findings.add(
            fo.readiness.stale_copies,
            f"{what}: newest DR copy {point.point_id} is {_age(age)} old, beyond the RPO of "
            f"{_age(rpo)} (plan {point.plan or '?'})",
        )
    verified = point.tags.get(TAG_VERIFIED_AT)
    verified_at = None
    if verified:
        try:
            verified_at = parse_window(verified)
        except ValueError:
            verified_at = None
    if verified_at is None or now - verified_at > fo.readiness.verified_within:
        findings.add(
            fo.readiness.unverified,
            f"{what}: DR copy {point.point_id} has not been restore-verified within "
            f"{_age(fo.readiness.verified_within)} ({TAG_VERIFIED_AT}: {verified or 'none'})",
        )


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds // 60}m"


def _describe_db_instances(ctx: AwsContext, region: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rds = ctx.client("rds", region)
    out: dict[str, dict[str, Any]] = {}
    for page in rds.get_paginator("describe_db_instances").paginate(
        Filters=[{"Name": "db-instance-id", "Values": ids}]
    ):
        for db in page["DBInstances"]:
            out[db["DBInstanceIdentifier"]] = db
    return out


def _describe_cluster(ctx: AwsContext, region: str, cluster: str) -> dict[str, Any] | None:
    try:
        found = ctx.client("rds", region).describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"]
    except ClientError as err:
        if error_code(err) == "DBClusterNotFoundFault":
            return None
        raise
    return found[0] if found else None


def _table_status(ctx: AwsContext, region: str, table: str) -> str:
    try:
        return str(ctx.client("dynamodb", region).describe_table(TableName=table)["Table"]["TableStatus"])
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return MISSING
        raise


def _global_cluster(ctx: AwsContext, region: str, gc: str) -> dict[str, Any] | None:
    try:
        found = ctx.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=gc)[
            "GlobalClusters"
        ]
    except ClientError as err:
        if error_code(err) == "GlobalClusterNotFoundFault":
            return None
        raise
    return found[0] if found else None


def _exists(ctx: AwsContext, policy: Policy, kind: str, region: str, ident: str) -> str:
    """Status of ``ident`` through the kind's batched restore status (``missing`` if absent)."""
    probe = Restored(
        kind=kind, resource_id=ident, region=region, point_id="", status=CREATING, started_at=now_utc()
    )
    return kind_for(kind, policy).restore_status(ctx, region, [probe])[0].status


def check_readiness(
    ctx: AwsContext,
    policy: Policy,
    *,
    strategy: str,
    target_region: str,
    direction: str,
    drill: bool,
    now: datetime | None = None,
    standing: bool = False,
) -> dict[str, Any]:
    """The pre-flight: every problem and warning, and the inventory facts for the planner.

    ``standing``: the scheduled check of a failback while serving from the primary (nothing has
    failed over, so the DR-side writers are not expected yet): only what a failback will need
    regardless (the home KMS key, records, zones, health checks, DNS names of the databases).

    Read-only (Describe/List/Get calls only). Problems: a missing standby, replica, zone, record,
    health check or KMS key; no DR copy to restore from; a copy older than its plan's RPO (policy
    ``readiness.stale_copies``, default error). Warnings: a copy not restore-verified within
    ``readiness.verified_within`` (``readiness.unverified``, default warning: a missed
    verification should not block a failover in a real disaster, but it is reported).
    """
    fo = policy.failover
    if fo is None:
        raise AirflowFailException(f"{policy.source_path} has no failover section")
    now = now or now_utc()
    home = policy.primary_region
    target = target_region
    f = Findings()
    facts: dict[str, Any] = {
        "databases": {},
        "compute": {},
        "amis": {},
        "dns": {},
        "health_checks": {},
        "buckets": {},
        "account_id": ctx.account_id(target),
    }
    fencing_status: list[str] = []
    checks: list[str] = []

    # KMS: failover restores use the DR key's copies; failback copies go home under the primary key.
    key_region, key = (
        (target, policy.kms_keys.get(target))
        if direction == fp.FAILOVER
        else (
            home,
            primary_kms_key(policy, target),
        )
    )
    if key is None:
        f.add("error", f"no KMS key for failback copies in {home}: set failover.primary_kms_key")
    else:
        checks.append(f"kms key {key} in {key_region}")
        try:
            meta = ctx.client("kms", key_region).describe_key(KeyId=key)["KeyMetadata"]
            if meta.get("KeyState") != "Enabled":
                f.add("error", f"KMS key {key} in {key_region} is {meta.get('KeyState')}")
        except ClientError as err:
            f.add("error", f"KMS key {key} in {key_region}: {error_code(err)}")

    # Databases.
    restore_region = target
    wanted: dict[str, list[str]] = {}
    modes = {}
    for db in fo.databases:
        mode = fp.data_mode(db, strategy=strategy, region=target, drill=drill)
        modes[fp.db_key(db)] = mode
        if mode == fp.MODE_RESTORE and (direction == fp.FAILOVER or drill):
            wanted.setdefault(db.kind, []).append(db.name)
    copies: dict[str, dict[str, RecoveryPoint | None]] = {}
    for kind, names in wanted.items():
        checks.append(f"{kind} DR copies in {restore_region}")
        try:
            copies[kind] = newest_copies(ctx, policy, kind, restore_region, names)
        except (ClientError, CaptureError, NotImplementedError) as err:
            f.add("error", f"cannot list {kind} DR copies in {restore_region}: {err}")
            copies[kind] = dict.fromkeys(names)
    replica_ids = [db.replicas[target] for db in fo.databases if modes[fp.db_key(db)] == fp.MODE_REPLICA]
    replicas = _describe_db_instances(ctx, target, replica_ids)
    for db in fo.databases:
        key_ = fp.db_key(db)
        mode = modes[key_]
        entry: dict[str, Any] = {"mode": mode}
        facts["databases"][key_] = entry
        replica = db.replicas.get(target)
        if mode == fp.MODE_RESTORE and (direction == fp.FAILOVER or drill):
            point = copies.get(db.kind, {}).get(db.name)
            entry["newest_copy"] = point.to_dict() if point else None
            _check_copy(f, policy, fo, key_, point, restore_region, now)
            if direction == fp.FAILOVER and not drill and point is not None:
                status = _exists(ctx, policy, db.kind, target, db.name)
                entry["restored_status"] = status
                if status != MISSING:
                    checks.append(f"{key_}: {db.name} already in {target} ({status}): a previous run; reused")
        elif mode == fp.MODE_RESTORE and standing:
            pass
        elif mode == fp.MODE_RESTORE:  # failback of a restored database: it serves in the DR region
            status = _exists(ctx, policy, db.kind, target, db.name)
            entry["dr_writer_status"] = status
            if status == MISSING:
                f.add("error", f"{key_}: nothing to fail back, {db.name} does not exist in {target}")
        elif mode == fp.MODE_REPLICA and replica:
            found = replicas.get(replica)
            if found is None:
                f.add("error", f"{key_}: read replica {replica} not found in {target}")
                entry["replica_status"] = MISSING
                continue
            tags = {t["Key"]: t["Value"] for t in found.get("TagList") or []}
            promoted = "awsdr:promoted-at" in tags or not found.get("ReadReplicaSourceDBInstanceIdentifier")
            entry.update(replica_status=found.get("DBInstanceStatus"), promoted=promoted)
            if direction == fp.FAILOVER and found.get("DBInstanceStatus") in DEAD_DB_STATES:
                f.add(
                    "error", f"{key_}: read replica {replica} in {target} is {found.get('DBInstanceStatus')}"
                )
            if direction == fp.FAILBACK and not promoted and not standing:
                f.add(
                    "warning",
                    f"{key_}: {replica} in {target} is still a read replica (was there a failover?)",
                )
        elif mode == fp.MODE_REPLICA_CLUSTER and replica:
            cluster = _describe_cluster(ctx, target, replica)
            entry["replica_status"] = cluster.get("Status") if cluster else MISSING
            if cluster is None:
                f.add("error", f"{key_}: replica cluster {replica} not found in {target}")
        elif mode == fp.MODE_GLOBAL_CLUSTER and db.global_cluster:
            gc = _global_cluster(ctx, target, db.global_cluster)
            where = target if direction == fp.FAILOVER else home
            members = [m["DBClusterArn"] for m in (gc or {}).get("GlobalClusterMembers", [])]
            in_region = [a for a in members if f":{where}:" in a]
            entry["members"] = members
            if gc is None:
                f.add("error", f"{key_}: global cluster {db.global_cluster} not found")
            elif not in_region:
                f.add("error", f"{key_}: global cluster {db.global_cluster} has no member in {where}")
        elif mode == fp.MODE_GLOBAL_TABLE:
            where = target if direction == fp.FAILOVER else home
            status = _table_status(ctx, where, db.name)
            entry["table_status"] = status
            if status != "ACTIVE":
                f.add("error", f"{key_}: global table replica {db.name} in {where} is {status}")

    # Fencing (failover) and the write freeze (failback).
    if direction == fp.FAILOVER and not drill:
        for db in fo.databases:
            key_ = fp.db_key(db)
            reach, why = fencing.probe(ctx, db.kind, home, db.name)
            facts["databases"][key_]["primary"] = reach
            mode = modes[key_]
            how = fp.fence_method(db, mode)
            fencing_status.append(
                f"{key_}: {how}" if reach == fp.REACHABLE else f"{key_}: NOT FENCED ({why})"
            )
            if reach != fp.REACHABLE:
                f.add(
                    "warning", f"{key_}: the primary cannot be fenced ({why}): it is recorded as not fenced"
                )
            elif db.kind != "dynamodb" and mode in (fp.MODE_REPLICA, fp.MODE_REPLICA_CLUSTER) and not db.dns:
                f.add(
                    "warning",
                    f"{key_}: no databases[].dns: {db.name} is stopped only after the promotion; clients "
                    "reaching it directly can write there until then",
                )
        for bucket in fo.buckets:
            reach, why = fencing.probe(ctx, "s3", home, bucket.name)
            facts["buckets"][bucket.name] = reach
            fencing_status.append(
                f"s3/{bucket.name}: bucket policy denies writes"
                if reach == fp.REACHABLE
                else f"s3/{bucket.name}: NOT FENCED ({why})"
            )
    if direction == fp.FAILBACK and not drill:
        for db in fo.databases:
            key_ = fp.db_key(db)
            mode = modes[key_]
            if db.kind == "rds" and not db.dns:
                f.add(
                    "error",
                    f"{key_}: a failback needs databases[].dns (the record clients reach {db.name} by): "
                    f"it is the write freeze in {target} and moves to the home replica",
                )
            elif db.kind == "aurora" and mode != fp.MODE_GLOBAL_CLUSTER:
                f.add(
                    "warning",
                    f"{key_}: not an Aurora global database: the failback restores a snapshot of the DR "
                    "writer, and writes after it stay in the DR region",
                )
            elif db.kind == "dynamodb" and mode == fp.MODE_RESTORE:
                status = _table_status(ctx, home, db.name)
                entry_home = facts["databases"][key_]
                entry_home["home_table_status"] = status
                if status == MISSING:
                    f.add("error", f"{key_}: the home table {db.name} does not exist in {home}")
    for bucket in fo.buckets if not drill else ():
        from awsdr.kinds.s3 import dr_bucket_name

        dr_bucket = bucket.dr.get(target) or dr_bucket_name(bucket.name, target)
        reach, why = fencing.probe(ctx, "s3", target, dr_bucket)
        if reach != fp.REACHABLE and not standing:
            f.add(
                "error" if direction == fp.FAILBACK else "warning",
                f"s3/{bucket.name}: the DR bucket {dr_bucket} ({why}): applications have nowhere to write "
                "in the DR region" + (", and nothing comes home" if direction == fp.FAILBACK else ""),
            )

    # Compute.
    if strategy != "backup-restore":
        units = [u for u in fo.compute if u.region == target]
        asgs = compute.describe_asgs(ctx, target, [u.name for u in units if isinstance(u, AsgStandby)])
        for unit in units:
            ukey = fp.unit_key(unit)
            if isinstance(unit, AsgStandby):
                group = asgs.get(unit.name)
                facts["compute"][ukey] = compute.asg_size(group) if group else None
                if group is None:
                    f.add("error", f"standby Auto Scaling group {unit.name} not found in {target}")
            else:
                svc = compute.describe_services(ctx, target, unit.cluster, [unit.service]).get(unit.service)
                facts["compute"][ukey] = {"desired": svc["desiredCount"]} if svc else None
                if svc is None:
                    f.add("error", f"standby ECS service {unit.cluster}/{unit.service} not found in {target}")
        checks.append(f"{len(units)} standby(s) in {target}")
    elif direction == fp.FAILOVER and fo.ami_launch:
        ids: dict[str, str] = {}
        for launch in fo.ami_launch:
            try:
                resolved = compute.resolve_instance(ctx, home, launch.source)
            except (ClientError, BotoCoreError) as err:
                resolved = None
                f.add(
                    "error",
                    f"ami_launch {launch.source}: cannot resolve the Name tag in {home} ({err}); "
                    "use the instance id in the policy",
                )
            if resolved is None:
                f.add("error", f"ami_launch {launch.source}: no such instance in {home}")
            else:
                ids[launch.source] = resolved
        try:
            amis = newest_copies(ctx, policy, "ec2", target, list(ids.values()))
        except (ClientError, CaptureError, NotImplementedError) as err:
            f.add("error", f"cannot list copied AMIs in {target}: {err}")
            amis = {}
        for source, instance_id in ids.items():
            point = amis.get(instance_id)
            facts["amis"][source] = {
                "instance_id": instance_id,
                "image_id": point.point_id if point else None,
                "point": point.to_dict() if point else None,
            }
            _check_copy(f, policy, fo, f"ec2/{source}", point, target, now)

    # DNS.
    if fo.dns is not None:
        zone_id = route53.find_zone(ctx, fo.dns.zone)
        facts["dns"]["zone_id"] = zone_id
        if zone_id is None:
            f.add("error", f"hosted zone {fo.dns.zone} not found")
        else:
            live = route53.find_records(ctx, zone_id, [r.name for r in fo.dns.records])
            for record in fo.dns.records:
                if target not in record.dr:
                    f.add("error", f"DNS record {record.name} has no value for {target}")
                sets = live.get((record.name, record.type), [])
                if not sets:
                    f.add("error", f"DNS record {record.name} {record.type} not found in {fo.dns.zone}")
                elif fo.dns.routing == "weighted":
                    have = {s.get("SetIdentifier") for s in sets}
                    for region in (home, target):
                        if record.set_identifier(region) not in have:
                            f.add(
                                "error",
                                f"DNS record {record.name} {record.type} has no weighted set "
                                f"{record.set_identifier(region)!r} ({region})",
                            )
            checks.append(f"zone {fo.dns.zone} and {len(fo.dns.records)} record(s)")

    # Health checks (those that apply once traffic has moved).
    serving = target if direction == fp.FAILOVER else home
    names = [c.name for c in fo.health_checks if c.name and c.region in (None, serving)]
    found_checks = route53.find_health_checks(ctx, names)
    facts["health_checks"] = found_checks
    for name in names:
        if name not in found_checks:
            f.add("error", f"Route 53 health check {name!r} not found")

    if policy.sns_topic_arn:
        topic_region = policy.sns_topic_arn.split(":")[3]
        try:
            ctx.client("sns", topic_region).get_topic_attributes(TopicArn=policy.sns_topic_arn)
        except ClientError as err:
            f.add("warning", f"SNS topic {policy.sns_topic_arn}: {error_code(err)} (no notification)")
    no_copy = [p for p in f.problems if "no available DR copy" in p]
    return {
        "problems": f.problems,
        "warnings": f.warnings,
        "checks": checks,
        "facts": facts,
        "fencing": fencing_status,
        "only_missing_copies": bool(no_copy) and len(no_copy) == len(f.problems),
        "checked_at": format_window(now),
    }


# ============================================================================================
# Step execution
# ============================================================================================


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
                r.update(outcome=WAITING, detail=f"{r['detail']}; {err}", retryable=True)
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
        results.extend(_resync(ctx, policy, resyncs, waits, window=window, run_id=run_id))
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
) -> list[dict[str, Any]]:
    """Failback data: capture the DR writer, copy home, restore there; each stage batched.

    A step whose restored target already exists at home is not captured or copied again.
    """
    results: dict[str, dict[str, Any]] = {}
    todo: list[fp.Step] = []
    for step in steps:
        p = step.params
        status = _exists(ctx, policy, p["kind"], step.region, p["name"])
        if status != MISSING:
            results[step.id] = _result(step, ALREADY, f"{p['name']} already in {step.region} ({status})")
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

    # Stage 1: the DR-side point (a fresh capture of the DR writer, or the newest copy in a drill).
    points: dict[str, RecoveryPoint] = {}
    for step in todo:
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
            results[step.id] = _result(
                step,
                DONE,
                f"{p['dr_writer'] or 'DR copy'} -> {points[step.id].point_id} -> {copies[step.id].point_id} -> "
                f"{item.resource_id}",
                resource=item.resource_id,
            )
        except (CaptureError, ClientError, BotoCoreError, ValueError) as err:
            results[step.id] = _result(step, STEP_FAILED, f"restore: {err}", retryable=is_retryable(err))
    return [results[s.id] for s in steps if s.id in results]


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


def run_compute_steps(ctx: AwsContext, policy: Policy, steps: list[fp.Step]) -> list[dict[str, Any]]:
    """Scale, clone, launch or terminate (idempotent); then one batched round over every group,
    service and instance: what is not serving yet comes back ``waiting``."""
    results: list[dict[str, Any]] = []
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
                if step.action == fp.SCALE_ECS:
                    name = p["service"]
                    outcome = compute.scale_ecs(ctx, region, p["cluster"], name, p["desired"])
                else:
                    name = p["name"]
                    outcome = compute.clone_service(
                        ctx, region, p["cluster"], p["source"], name, p["desired"], p["tags"]
                    )
                ecs_targets.setdefault((region, p["cluster"]), {})[name] = p["desired"]
                ecs_steps.setdefault((region, p["cluster"]), []).append(step.id)
                return _result(
                    step,
                    ALREADY if outcome == compute.ALREADY else DONE,
                    f"{p['cluster']}/{name} {p['desired']} task(s)",
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
            r.update(outcome=WAITING, detail=f"{r['detail']}; {waiting}", retryable=True)
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


# ============================================================================================
# Operators
# ============================================================================================


class FailoverBaseOperator(DrBaseOperator):
    """The trigger form's validated values, and the plan made by the ``plan`` task.

    :param strategy: ``backup-restore``, ``pilot-light``, ``warm-standby`` or ``active-active``.
    :param target_region: the DR region traffic moves to (failover) or comes back from (failback).
    :param direction: ``failover`` or ``failback``.
    :param drill: isolated names, torn down at the end.
    :param dry_run_flag: the form's ``dry_run``: plan only; every executing operator skips
        (``BaseOperator.dry_run`` is a method, hence the name).
    :param reason: why (audited).
    :param plan_task_id: the task whose return value is the plan.
    """

    template_fields: tuple[str, ...] = ("strategy", "target_region", "drill", "dry_run_flag", "reason")
    ui_color = "#fde9d9"

    def __init__(
        self,
        *,
        strategy: Any,
        target_region: Any,
        direction: str = fp.FAILOVER,
        drill: Any = False,
        dry_run_flag: Any = True,
        reason: Any = "",
        plan_task_id: str = "plan",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.strategy = strategy
        self.target_region = target_region
        self.direction = direction
        self.drill = drill
        self.dry_run_flag = dry_run_flag
        self.reason = reason
        self.plan_task_id = plan_task_id

    @property
    def failover(self) -> Failover:
        fo = self.policy.failover
        if fo is None:
            raise AirflowFailException(f"{self.policy.source_path} has no failover section")
        return fo

    def plan_doc(self, context: Context) -> dict[str, Any]:
        doc = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        if not doc:
            raise AirflowFailException(f"no plan from task {self.plan_task_id!r}")
        return dict(doc)

    def steps(self, context: Context, phases: tuple[str, ...]) -> list[fp.Step]:
        return [fp.Step.from_dict(s) for s in self.plan_doc(context)["steps"] if s["phase"] in phases]

    def skip_if_dry_run(self) -> None:
        if _flag(self.dry_run_flag):
            raise AirflowSkipException("dry run: the plan is written, nothing in AWS changes")

    # --- phases that wait: one batched round per call, deferred between rounds ----------------

    waiter_delay: float = 15.0
    waiter_max_attempts: int = 120

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        """Subclasses: start or look again at every step of the phase (idempotent), once."""
        raise NotImplementedError

    def run_rounds(self, context: Context, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One round; defers to the triggerer (:class:`FailoverRoundTrigger`) while a step is
        ``waiting``.

        No worker slot is held between rounds. The state (memo, per-step timing) travels in the
        trigger and comes back in its event (and in the deferral's kwargs). After ``waiter_delay * waiter_max_attempts`` seconds the last round is
        final: what still waits fails (retryable). Each result gets its measured ``seconds``.
        """
        from awsdr.operators.failover_trigger import FailoverRoundTrigger

        now = now_utc()
        state = state or {"memo": {}, "timing": {}, "rounds": 0, "started_at": format_window(now)}
        started = parse_window(state["started_at"])
        final = (now - started).total_seconds() >= self.waiter_delay * self.waiter_max_attempts
        results = self.one_round(context, state["memo"], final)
        state["rounds"] += 1
        timing: dict[str, dict[str, Any]] = state["timing"]
        for r in results:
            t = timing.setdefault(r["id"], {"started_at": state["started_at"]})
            if r["outcome"] == WAITING:
                continue
            if "outcome" not in t:
                t.update(outcome=r["outcome"], finished_at=r["finished_at"])
                t["seconds"] = (
                    parse_window(r["finished_at"]) - parse_window(t["started_at"])
                ).total_seconds()
            elif t["outcome"] == DONE and r["outcome"] == ALREADY:
                r["outcome"] = DONE  # done by an earlier round of this run
            r["finished_at"] = t["finished_at"]
            r["seconds"] = t["seconds"]
        waiting = [r for r in results if r["outcome"] == WAITING]
        if waiting and not final:
            self.log.info(
                "Round %d: %d step(s) waiting (%s); deferring %ss",
                state["rounds"],
                len(waiting),
                "; ".join(f"{r['id']}: {r['detail']}" for r in waiting)[:2000],
                self.waiter_delay,
            )
            self.defer(
                trigger=FailoverRoundTrigger.after(self.waiter_delay, state, phase=self.task_id),
                method_name="resume_rounds",
                kwargs={"state": state},
            )
        for r in waiting:
            r.update(
                outcome=STEP_FAILED,
                detail=f"{r['detail']}; still waiting after {state['rounds']} round(s)",
                retryable=True,
            )
        self.log.info("Phase done in %d round(s)", state["rounds"])
        return results

    def resume_rounds(self, context: Context, event: Any = None, state: dict[str, Any] | None = None) -> Any:
        if state is None and isinstance(event, dict):
            state = event.get("state")  # dag.test() hands back the event only
        if state is None:
            # never restart at round 1 here (that loop never ends): fail this try; the retry starts
            # the phase over (every step is idempotent)
            raise AirflowException("resumed without the phase's state: retrying the phase from the start")
        return self.complete(context, self.run_rounds(context, state))

    def complete(self, context: Context, results: list[dict[str, Any]]) -> Any:
        """Subclasses: push and check the results (after the last round)."""
        raise NotImplementedError

    def finish(self, context: Context, results: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        """Push the results (the audit reads them even when this task fails), then fail if any step did."""
        context["ti"].xcom_push(key="results", value=results)
        for r in results:
            level = logging.ERROR if r["outcome"] == STEP_FAILED else logging.INFO
            took = f", {r['seconds']:.0f} s" if r.get("seconds") is not None else ""
            self.log.log(
                level, "%s %s: %s (%s%s)", r["outcome"].upper(), r["id"], r["detail"], r["region"], took
            )
        failed = [r for r in results if r["outcome"] == STEP_FAILED]
        if failed:
            text = f"{len(failed)} {what} step(s) failed: " + "; ".join(
                f"{r['id']}: {r['detail']}" for r in failed
            )
            if any(r.get("retryable") for r in failed):
                raise AirflowException(text)
            raise AirflowFailException(text)
        return results


class FailoverReadinessOperator(FailoverBaseOperator):
    """Pre-flight: fails (no retry: waiting does not create a replica) listing every problem.

    Checks the DR copies' age against their plan's RPO and their restore verification, the read
    replicas, global clusters and tables, the standby ASGs and ECS services, the KMS key, the
    hosted zone, the records and the health checks. Read-only. Returns the inventory facts.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        report = check_readiness(
            self.ctx,
            self.policy,
            strategy=str(self.strategy),
            target_region=str(self.target_region),
            direction=self.direction,
            drill=_flag(self.drill),
        )
        for check in report["checks"]:
            self.log.info("checked: %s", check)
        for warning in report["warnings"]:
            self.log.warning("WARNING: %s", warning)
        for line in report.get("fencing") or []:
            self.log.info("fencing: %s", line)
        if report["problems"] and _flag(self.drill) and report.get("only_missing_copies"):
            # A fresh install: the drill is scheduled before the first DR copy exists. Not red.
            raise AirflowSkipException(
                "no DR copy to rehearse with yet (the first dr_copy_<plan> run makes them): "
                + "; ".join(report["problems"])
            )
        if report["problems"]:
            for problem in report["problems"]:
                self.log.error("PROBLEM: %s", problem)
            raise AirflowFailException(
                f"not ready to {self.direction} to {self.target_region}: {len(report['problems'])} problem(s): "
                + "; ".join(f"({n}) {p}" for n, p in enumerate(report["problems"], 1))
            )
        self.log.info("Ready: %d warning(s)", len(report["warnings"]))
        return report


class FailoverApprovalOperator(ApprovalOperator):
    """The go/no-go: an Airflow approval (Required Actions, or the REST API's HITL endpoints).

    Asked in every real failover and failback, after the plan and before the first change: the
    body shows the steps, the RPO of every copy used, the fencing status and the readiness
    warnings (:mod:`awsdr.failover.approval`). A drill is not asked; ``failover.approval.required:
    false`` approves by policy (audited so). Reject: every change is skipped and the audit says who
    rejected. No answer within ``failover.approval.timeout``: the task fails and nothing changes.
    The return value (the audit's ``approval``) names the responder.

    :param required: the policy's ``failover.approval.required``.
    :param drill: the form's drill flag (templated).
    :param plan_task_id: the task whose return value is the plan.
    :param readiness_task_id: the task whose return value is the readiness report.
    :param audit_task_id: never skipped on a rejection (it audits it).
    """

    template_fields: Collection[str] = (*ApprovalOperator.template_fields, "drill")

    def __init__(
        self,
        *,
        required: bool = True,
        drill: Any = False,
        plan_task_id: str = "plan",
        readiness_task_id: str = "readiness",
        audit_task_id: str = "notify",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subject", "Approve the failover runbook?")
        super().__init__(**kwargs)
        self.required = required
        self.drill = drill
        self.plan_task_id = plan_task_id
        self.readiness_task_id = readiness_task_id
        self.audit_task_id = audit_task_id

    def execute(self, context: Context) -> Any:
        if _flag(self.drill):
            self.log.info("A drill is not approved: it changes nothing real")
            return {"decision": "not asked", "by": None, "how": "drill"}
        if not self.required:
            self.log.warning("failover.approval.required is false: approved by policy")
            return {
                "decision": "approved",
                "by": "policy",
                "how": "approved by policy",
                "at": _iso(now_utc()),
            }
        ti = context["ti"]
        plan = ti.xcom_pull(task_ids=self.plan_task_id) or {}
        readiness = ti.xcom_pull(task_ids=self.readiness_task_id) or {}
        if not plan:
            raise AirflowFailException(f"no plan from task {self.plan_task_id!r}: nothing to approve")
        timeout = self.response_timeout or timedelta(minutes=30)
        self.subject = approval_text.subject(plan)
        self.body = approval_text.body(plan, readiness, timeout=timeout, now=now_utc())
        self.log.info("Asking for approval (%s):\n%s", self.subject, self.body)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        answer = HITLOperator.execute_complete(self, context=context, event=event)
        chosen = answer["chosen_options"][0]
        user = answer.get("responded_by_user") or {}
        decision: dict[str, Any] = {
            "decision": "approved" if chosen == self.APPROVE else "rejected",
            "by": user.get("name") or user.get("id") or "unknown",
            "by_id": user.get("id"),
            "at": answer["responded_at"].isoformat() if answer.get("responded_at") else None,
            "how": "Required Actions",
        }
        self.log.info("%s by %s", decision["decision"].upper(), decision["by"])
        if chosen != self.APPROVE:
            # skip() ends this method (Airflow 3 raises DownstreamTasksSkipped): the audit reads
            # the decision from XCom, so push it first.
            context["ti"].xcom_push(key="return_value", value=decision)
            skip = [
                t
                for t in context["task"].get_flat_relatives(upstream=False)
                if not t.is_teardown and t.task_id != self.audit_task_id
            ]
            self.skip(ti=context["ti"], tasks=skip)
        return decision


class FailoverPlanOperator(FailoverBaseOperator):
    """Build the runbook, log it and write it to ``failover/<run id>/plan.json`` in the catalog.

    :param readiness_task_id: the task whose return value holds the inventory facts.
    """

    def __init__(self, *, readiness_task_id: str = "readiness", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.readiness_task_id = readiness_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog

        report = context["ti"].xcom_pull(task_ids=self.readiness_task_id) or {}
        dag_run = context["dag_run"]
        target = str(self.target_region)
        try:
            steps = fp.plan_runbook(
                self.failover,
                strategy=str(self.strategy),
                primary_region=self.policy.primary_region,
                dr_regions=self.policy.dr_regions,
                target_region=target,
                direction=self.direction,
                drill=_flag(self.drill),
                run_id=dag_run.run_id,
                facts=report.get("facts"),
                kms_key=primary_kms_key(self.policy, target),
                sns_topic_arn=self.policy.sns_topic_arn,
                catalog=(self.policy.catalog_bucket, self.policy.catalog_region),
            )
        except fp.PlanError as err:
            raise AirflowFailException(str(err)) from err
        doc = {
            "schema": 1,
            "dag_id": dag_run.dag_id,
            "run_id": dag_run.run_id,
            "direction": self.direction,
            "strategy": str(self.strategy),
            "target_region": target,
            "primary_region": self.policy.primary_region,
            "drill": _flag(self.drill),
            "dry_run": _flag(self.dry_run_flag),
            "reason": str(self.reason or ""),
            "planned_at": format_window(now_utc()),
            "warnings": report.get("warnings", []),
            "mutating_steps": sum(1 for s in steps if s.mutating),
            "steps": [s.to_dict() for s in steps],
        }
        self.log.info(
            "%s runbook (%s, %s, %s%s):\n%s",
            self.direction,
            self.strategy,
            target,
            "DRY RUN" if doc["dry_run"] else "LIVE",
            ", drill" if doc["drill"] else "",
            fp.summarize(steps),
        )
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        key = PLAN_KEY.format(run_id=dag_run.run_id)
        catalog.put_json(key, doc)
        self.log.info("Wrote s3://%s/%s", catalog.bucket, key)
        return doc


class DataLayerOperator(FailoverBaseOperator):
    """Fence the primary, promote replicas, fail over global databases or restore from the newest
    DR copies (failover); freeze the DR writers and bring every write home (failback).

    Deferrable: each round starts what is not started and polls what AWS is doing in one batch;
    between rounds the task waits in the triggerer, holding no worker slot.

    :param waiter_delay: seconds between batched status polls.
    :param waiter_max_attempts: rounds before giving up (the task then retries: waiting resumes).
    """

    def __init__(self, *, waiter_delay: float = 30.0, waiter_max_attempts: int = 240, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        dag_run = context["dag_run"]
        return run_data_steps(
            self.ctx,
            self.policy,
            self.steps(context, (fp.DATA,)),
            window=parse_window(format_window(dag_run.run_after)),
            run_id=dag_run.run_id,
            memo=memo,
        )

    def complete(self, context: Context, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.finish(context, results, "data")


class ComputeOperator(FailoverBaseOperator):
    """Scale the standby ASGs and ECS services, or launch from the copied AMIs; wait (deferred)
    until serving.

    :param waiter_delay: seconds between batched status polls.
    :param waiter_max_attempts: rounds before giving up.
    """

    def __init__(self, *, waiter_delay: float = 15.0, waiter_max_attempts: int = 120, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        return run_compute_steps(self.ctx, self.policy, self.steps(context, (fp.COMPUTE,)))

    def complete(self, context: Context, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.finish(context, results, "compute")


class TrafficOperator(FailoverBaseOperator):
    """Route 53 UPSERTs (one change batch per zone, and each database's record), then INSYNC
    (deferred between polls).

    Runs only when everything upstream succeeded (``all_success``): a failed data or compute
    step never moves traffic.
    """

    def __init__(self, *, waiter_delay: float = 5.0, waiter_max_attempts: int = 120, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        return run_traffic_steps(
            self.ctx,
            self.steps(context, (fp.TRAFFIC,)),
            run_id=context["dag_run"].run_id,
            policy=self.policy,
            memo=memo,
        )

    def complete(self, context: Context, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.finish(context, results, "traffic")


class VerifyOperator(FailoverBaseOperator):
    """Health checks (Route 53 status or HTTP GET), re-checked (deferred) until healthy; records
    when all are healthy and the RTO.

    The RTO is measured from the run's start to the moment every check passed.
    """

    def __init__(self, *, waiter_delay: float = 10.0, waiter_max_attempts: int = 6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> dict[str, Any]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        results, healthy_at = run_verify_steps(
            self.ctx, self.failover, self.steps(context, (fp.VERIFY,)), final=final
        )
        memo["healthy_at"] = _iso(healthy_at)
        if not results:
            memo["healthy_at"] = format_window(now_utc())
        return results

    def complete(self, context: Context, results: list[dict[str, Any]]) -> dict[str, Any]:
        healthy = all(r["outcome"] in (DONE, UNKNOWN) for r in results)
        healthy_at = (
            max((parse_window(r["finished_at"]) for r in results), default=now_utc()) if healthy else None
        )
        start = context["dag_run"].start_date
        rto = (healthy_at - start).total_seconds() if healthy_at is not None and start is not None else None
        summary = {"healthy_at": _iso(healthy_at), "rto_seconds": rto}
        context["ti"].xcom_push(key="summary", value=summary)
        if not results:
            self.log.warning("No health checks apply: RTO measured to the end of the traffic step")
        if rto is not None:
            self.log.info("Healthy at %s: measured RTO %.0f s", summary["healthy_at"], rto)
        self.finish(context, results, "verify")
        return {**summary, "results": results}


class NotifyOperator(FailoverBaseOperator):
    """The audit record and the SNS notification; fails the run when any step failed.

    Runs whatever happened upstream (``all_done``). When the run never got past the go/no-go
    gate (bad parameters, not ready) it makes no AWS call at all and only fails the run; a dry
    run never reaches it. Audit: who (the triggering user, or ``conf.requested_by``), when, why,
    the form, every step's outcome, the measured RTO.

    :param gate_task_id: the go/no-go task (short circuit on dry run).
    :param phase_task_ids: the executing tasks whose results are audited, in runbook order.
    :param verify_task_id: the task whose summary holds the measured RTO.
    """

    def __init__(
        self,
        *,
        gate_task_id: str = "go_no_go",
        phase_task_ids: tuple[str, ...] = ("data_layer", "compute", "traffic", "verify", "drill_teardown"),
        verify_task_id: str = "verify",
        approval_task_id: str = "approval",
        approval_timeout: str = "PT30M",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.approval_task_id = approval_task_id
        self.approval_timeout = approval_timeout
        self.gate_task_id = gate_task_id
        self.phase_task_ids = phase_task_ids
        self.verify_task_id = verify_task_id

    def _states(self, context: Context) -> dict[str, str]:
        ti = context["ti"]
        dag_run = context["dag_run"]
        answer = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])  # type: ignore[attr-defined]
        states = answer.get(dag_run.run_id, answer)
        return {k: str(v) for k, v in states.items()}

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog

        states = self._states(context)
        me = context["ti"].task_id
        failed = sorted(t for t, s in states.items() if t != me and s in ("failed", "upstream_failed"))
        if states.get(self.gate_task_id) != "success":
            # Never past validation / readiness / planning: nothing changed; no AWS call here either.
            if failed:
                raise AirflowFailException(f"the runbook stopped before any change: {', '.join(failed)}")
            raise AirflowSkipException("the runbook did not run (a dry run, or nothing to rehearse yet)")
        ti = context["ti"]
        dag_run = context["dag_run"]
        plan = self.plan_doc(context)
        results: list[dict[str, Any]] = []
        for task_id in self.phase_task_ids:
            results.extend(ti.xcom_pull(task_ids=task_id, key="results") or [])
        summary = ti.xcom_pull(task_ids=self.verify_task_id, key="summary") or {}
        done = {r["id"] for r in results}
        not_run = [
            s["id"]
            for s in plan["steps"]
            if s["phase"] not in (fp.PREFLIGHT, fp.NOTIFY, fp.TEARDOWN) and s["id"] not in done
        ]
        conf = dag_run.conf or {}
        who = conf.get("requested_by") or getattr(dag_run, "triggering_user_name", None) or "unknown"
        approval = ti.xcom_pull(task_ids=self.approval_task_id) or {}
        approval_state = states.get(self.approval_task_id)
        if approval_state == "failed" and not approval:
            approval = {
                "decision": "no answer",
                "by": None,
                "how": f"no answer within {self.approval_timeout}: nothing was changed",
            }
        rejected = approval.get("decision") == "rejected"
        outcome = "rejected" if rejected else "failed" if failed else "succeeded"
        fencing_audit = [
            {
                "target": r["target"],
                "fenced": r.get("fenced"),
                "detail": r["detail"],
                "partial": r.get("partial"),
            }
            for r in results
            if r["action"] in (fp.FENCE_PRIMARY, fp.FENCE_BUCKET)
        ]
        freezes = [
            {"target": r["target"], **r["freeze"], "reconciled": r.get("reconciled")}
            for r in results
            if r.get("freeze")
        ]
        rto_steps = {r["id"]: r.get("seconds") for r in results}
        audit = {
            "schema": 1,
            "dag_id": dag_run.dag_id,
            "run_id": dag_run.run_id,
            "direction": self.direction,
            "who": who,
            "reason": str(self.reason or ""),
            "strategy": plan["strategy"],
            "target_region": plan["target_region"],
            "primary_region": plan["primary_region"],
            "drill": plan["drill"],
            "started_at": _iso(dag_run.start_date),
            "finished_at": format_window(now_utc()),
            "healthy_at": summary.get("healthy_at"),
            "rto_seconds": summary.get("rto_seconds"),
            "outcome": outcome,
            "approval": approval,
            "fencing": fencing_audit,
            "write_freeze": freezes,
            "rto_step_seconds": rto_steps,
            "failed_tasks": failed,
            "task_states": states,
            "steps": results,
            "steps_not_run": not_run,
            "plan_key": PLAN_KEY.format(run_id=dag_run.run_id),
        }
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        key = AUDIT_KEY.format(run_id=dag_run.run_id)
        catalog.put_json(key, audit)
        self.log.info("Wrote s3://%s/%s: %s, RTO %s s", catalog.bucket, key, outcome, audit["rto_seconds"])
        if self.policy.sns_topic_arn:
            topic = self.policy.sns_topic_arn
            rto = audit["rto_seconds"]
            message = (
                f"{'DRILL ' if audit['drill'] else ''}{self.direction} to {audit['target_region']} "
                f"({audit['strategy']}) {outcome}. Reason: {audit['reason']}. By: {who}. "
                f"RTO: {f'{rto:.0f}s' if rto is not None else 'n/a'}. "
                f"Failed: {', '.join(failed) or 'none'}. Audit: s3://{catalog.bucket}/{key}"
            )
            try:
                self.ctx.client("sns", topic.split(":")[3]).publish(
                    TopicArn=topic, Subject=f"awsdr {self.direction} {outcome}"[:100], Message=message
                )
            except ClientError as err:
                self.log.error("SNS publish to %s failed: %s", topic, err)
        if rejected:
            raise AirflowSkipException(
                f"the {self.direction} was rejected by {approval.get('by')}: nothing changed"
            )
        if failed:
            raise AirflowFailException(
                f"the {self.direction} did not complete: failed tasks {', '.join(failed)}"
            )
        return {"key": key, "outcome": outcome, "rto_seconds": audit["rto_seconds"]}


class DrillTeardownOperator(FailoverBaseOperator):
    """Remove everything a drill made: restores, copies, ASG/ECS copies, instances, drill records.

    Everything carries ``awsdr:drill=<run id>``; nothing else is touched. Not a drill, or a dry
    run: skips without an AWS call. The outcome is added to the audit record.
    """

    def execute(self, context: Context) -> list[dict[str, Any]]:
        if not _flag(self.drill) or _flag(self.dry_run_flag):
            raise AirflowSkipException("not a drill (or a dry run): nothing to tear down")
        dag_run = context["dag_run"]
        doc = context["ti"].xcom_pull(task_ids=self.plan_task_id) or {}
        if doc.get("steps"):
            steps = [fp.Step.from_dict(s) for s in doc["steps"] if s["phase"] == fp.TEARDOWN]
        else:
            steps = [
                s
                for s in fp.plan_runbook(
                    self.failover,
                    strategy=str(self.strategy),
                    primary_region=self.policy.primary_region,
                    dr_regions=self.policy.dr_regions,
                    target_region=str(self.target_region),
                    direction=self.direction,
                    drill=True,
                    run_id=dag_run.run_id,
                )
                if s.phase == fp.TEARDOWN
            ]
        results = run_teardown_steps(self.ctx, self.policy, steps)
        return self.finish(context, results, "teardown")


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


class FailoverReadinessScheduleOperator(DrBaseOperator):
    """Every runbook's pre-flight on a schedule (``dr_failover_readiness``); see
    :mod:`awsdr.failover.readiness`. Read-only but for the document, the metric and the alerts.

    Succeeds whatever the readiness (it is a monitor: the alert, the document and the metric say
    it); fails only when a check itself cannot run.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog
        from awsdr.failover import readiness as sched

        fo = self.policy.failover
        if fo is None:
            raise AirflowSkipException(f"{self.policy.source_path} has no failover section")
        reports: dict[str, dict[str, Any]] = {}
        for region in self.policy.dr_regions:
            for direction in fp.DIRECTIONS:
                report = check_readiness(
                    self.ctx,
                    self.policy,
                    strategy=fo.strategy,
                    target_region=region,
                    direction=direction,
                    drill=False,
                    standing=direction == fp.FAILBACK,
                )
                key = sched.runbook_key(direction, region)
                reports[key] = report
                self.log.info(
                    "%s: %s (%d problem(s), %d warning(s))",
                    key,
                    sched.state_of(report),
                    len(report["problems"]),
                    len(report["warnings"]),
                )
                for problem in report["problems"]:
                    self.log.warning("%s PROBLEM: %s", key, problem)
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        prior = catalog.get_json(sched.DOC_KEY)
        doc, alerts = sched.transitions(prior, reports, now=format_window(now_utc()))
        catalog.put_json(sched.DOC_KEY, doc)
        metrics = [
            {
                "MetricName": sched.METRIC_NAME,
                "Dimensions": [
                    {"Name": "Runbook", "Value": key.split("@")[0]},
                    {"Name": "Region", "Value": key.split("@")[1]},
                ],
                "Value": 1.0 if entry["state"] == sched.READY else 0.0,
                "Unit": "Count",
            }
            for key, entry in doc["runbooks"].items()
        ]
        self.ctx.client("cloudwatch", self.policy.catalog_region).put_metric_data(
            Namespace=sched.METRIC_NAMESPACE, MetricData=metrics
        )
        topic = self.policy.sns_topic_arn
        for key, change, entry in alerts:
            subject, message = sched.alert_text(key, change, entry)
            self.log.warning("ALERT %s", subject)
            if topic:
                self.ctx.client("sns", topic.split(":")[3]).publish(
                    TopicArn=topic, Subject=subject[:100], Message=message
                )
        return {"runbooks": {k: v["state"] for k, v in doc["runbooks"].items()}, "alerts": len(alerts)}
