"""Readiness: the pre-flight of a runbook, and its state on a schedule (alert once).

:func:`check_readiness` is the read-only pre-flight every runbook starts with (the ``readiness``
task) and that ``dr_failover_readiness`` runs on a schedule: every problem (blocks the run) and
warning, the fencing status of each primary, and the inventory facts the planner needs.

``dr_failover_readiness`` runs the pre-flight of each runbook (failover to, and failback from,
every DR region) every 15 minutes, read-only, so a missing replica, a stale copy or a home-region
KMS key that does not exist is known weeks before the night it matters. Per runbook:

- the document ``posture/failover-readiness.json`` in the catalog: state, problems, warnings,
  since when;
- the CloudWatch metric ``AWSDR/FailoverReady`` (1 ready, 0 not) with the dimensions
  ``Runbook`` (failover/failback) and ``Region``;
- one alert when a runbook becomes not ready and one when it recovers (never one per run).

A fresh install whose only problem is that no DR copy exists yet is ``waiting`` (no alert): the
first copy run changes that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from awsdr.aws import compute, route53
from awsdr.aws.context import error_code
from awsdr.catalog import READINESS_KEY
from awsdr.failover import fencing
from awsdr.failover.common import DEAD_DB_STATES, now_utc, primary_kms_key
from awsdr.kinds import kind_for
from awsdr.kinds.base import (
    BY_CAPTURED,
    CREATING,
    MISSING,
    CaptureError,
    RecoveryPoint,
    Restored,
    captured_time,
)
from awsdr.kinds.base import newest_copies as newest_of
from awsdr.planning import failover as fp
from awsdr.planning.retention import ARCHIVE_RESTORE_TIME, is_archived
from awsdr.policy import AsgStandby
from awsdr.windows import TAG_VERIFIED_AT, format_window, parse_window

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext
    from awsdr.policy import Failover, Policy


class ReadinessError(ValueError):
    """The pre-flight cannot run at all (e.g. the policy has no failover section)."""


READY = "ready"
NOT_READY = "not-ready"
WAITING = "waiting"
DOC_KEY = READINESS_KEY
METRIC_NAMESPACE = "AWSDR"
METRIC_NAME = "FailoverReady"


def runbook_key(direction: str, region: str) -> str:
    return f"{direction}@{region}"


def state_of(report: dict[str, Any]) -> str:
    if not report["problems"]:
        return READY
    return WAITING if report.get("only_missing_copies") else NOT_READY


def transitions(
    prior: dict[str, Any] | None, reports: dict[str, dict[str, Any]], *, now: str
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """The new document and the alerts to send: ``(runbook, "not-ready" | "recovered", entry)``.

    An alert is sent on a change into ``not-ready`` and on a change from ``not-ready`` to
    ``ready``; a runbook that stays where it was sends nothing.
    """
    before = (prior or {}).get("runbooks") or {}
    runbooks: dict[str, Any] = {}
    alerts: list[tuple[str, str, dict[str, Any]]] = []
    for key, report in sorted(reports.items()):
        state = state_of(report)
        old = before.get(key) or {}
        was = old.get("state")
        entry = {
            "state": state,
            "since": old.get("since") if was == state and old.get("since") else now,
            "checked_at": now,
            "problems": report["problems"],
            "warnings": report["warnings"],
            "fencing": report.get("fencing") or [],
        }
        runbooks[key] = entry
        if state == NOT_READY and was != NOT_READY:
            alerts.append((key, "not-ready", entry))
        elif state == READY and was == NOT_READY:
            alerts.append((key, "recovered", entry))
    doc = {"schema": 1, "checked_at": now, "runbooks": runbooks}
    return doc, alerts


def alert_text(key: str, change: str, entry: dict[str, Any]) -> tuple[str, str]:
    """``(subject, message)`` of one alert."""
    if change == "recovered":
        return (
            f"awsdr runbook {key} is ready again",
            f"The {key} runbook is ready again (since {entry['since']}).",
        )
    problems = "\n".join(f"- {p}" for p in entry["problems"])
    return (
        f"awsdr runbook {key} is NOT READY",
        f"The {key} runbook would stop at its pre-flight today ({len(entry['problems'])} problem(s)):\n"
        f"{problems}",
    )


# --- the pre-flight ---------------------------------------------------------------------------------


class Findings:
    """Problems (block the run) and warnings (reported), each naming what and where."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, severity: str, message: str) -> None:
        (self.problems if severity == "error" else self.warnings).append(message)


def newest_copies(
    ctx: AwsContext, policy: Policy, kind: str, region: str, sources: list[str]
) -> dict[str, RecoveryPoint | None]:
    """The newest *available* point of each source in ``region`` (one listing per kind, every
    plan; None: none), by when it was captured (:func:`awsdr.kinds.base.newest_copies` with
    :data:`~awsdr.kinds.base.BY_CAPTURED`: a failover restores the newest data), any available
    point in the region counting (``copies_only=False``), preferring one in the standard tier: an
    archived EBS snapshot is chosen only when every point of its source is archived (a restore from
    it takes up to 72 hours more)."""
    points = kind_for(kind, policy).list_points(ctx, region, None)
    best = newest_of(points, datetime.now(tz=UTC), by=BY_CAPTURED, copies_only=False, sources=sources)
    return {source: best.get(source) for source in sources}


def archive_extra_rto(point: RecoveryPoint | None, now: datetime) -> timedelta:
    """The RTO a restore from ``point`` adds: up to 72 hours when it is in the archive tier."""
    if point is not None and is_archived(point.details, now):
        return ARCHIVE_RESTORE_TIME
    return timedelta(0)


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
    age = now - captured_time(point)
    plan = policy.plans.get(point.plan)
    extra = archive_extra_rto(point, now)
    if extra:
        findings.add(
            "warning",
            f"{what}: the newest usable DR copy {point.point_id} is in the archive tier: it must be "
            f"restored from the archive first, up to {int(extra.total_seconds()) // 3600} h beyond the RTO"
            + (f" of {_age(plan.rto)}" if plan is not None else ""),
        )
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
        raise ReadinessError(f"{policy.source_path} has no failover section")
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
            entry["archive_extra_rto_seconds"] = int(archive_extra_rto(point, now).total_seconds())
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
            elif (
                db.kind == "rds"
                and mode == fp.MODE_RESTORE
                and (
                    held := (_describe_db_instances(ctx, home, [db.name]).get(db.name) or {}).get(
                        "ReadReplicaDBInstanceIdentifiers"
                    )
                )
            ):
                f.add(
                    "warning",
                    f"{key_}: AWS refuses to stop {db.name} while it has read replica(s) {', '.join(held)}, "
                    f"which this strategy does not use: it will be recorded as NOT FENCED (stop it by hand)",
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
            elif db.kind == "aurora" and mode != fp.MODE_GLOBAL_CLUSTER and not db.dns:
                f.add(
                    "warning",
                    f"{key_}: no databases[].dns: the failback freezes the DR writer and restores all of "
                    f"it at home as {fp.restore_name(db.kind, db.name, direction=fp.FAILBACK, drill=False)}, "
                    f"but clients keep reaching the stale {db.name} until they are pointed at it",
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

    # CloudFormation stacks the compute phase deploys: their templates, every time.
    if direction == fp.FAILOVER:
        from awsdr.failover import stacks

        for stack in fo.stacks:
            if stack.region != target:
                continue
            problem = stacks.validate(ctx, stack)
            if problem is not None:
                f.add(
                    "error",
                    f"cloudformation/{stack.name}: template {stack.template} does not validate: {problem}",
                )
            else:
                checks.append(f"stack {stack.name}: template valid")

    # Lambda functions the compute phase re-creates: each needs a DR copy to come back from.
    names = [fn.name for fn in fo.functions if fn.region == target]
    if direction == fp.FAILOVER and strategy in fp.STACK_STRATEGIES and names:
        try:
            functions = newest_copies(ctx, policy, "lambda", target, names)
        except (ClientError, CaptureError, NotImplementedError) as err:
            f.add("error", f"cannot list the function copies in {target}: {err}")
            functions = {}
        for name in names:
            _check_copy(f, policy, fo, f"lambda/{name}", functions.get(name), target, now)
        checks.append(f"{len(names)} function(s) with a DR copy in {target}")

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
