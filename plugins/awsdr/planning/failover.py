"""The failover and failback runbook as data: ordered steps, each with the exact AWS calls.

Pure: no boto3, no Airflow. :func:`plan_runbook` turns the policy's ``failover`` section, the
trigger form (strategy, target region, direction, drill) and the *inventory facts* the pre-flight
read from AWS into a list of :class:`Step`. The operators execute the steps phase by phase and
re-check live state before every change, so a plan made by an earlier run is safe to resume.

Strategies (AWS whitepaper "Disaster Recovery of Workloads on AWS"):

==================  ==========================================  ====================================
strategy            data layer                                  compute
==================  ==========================================  ====================================
backup-restore      restore every database from its newest      launch instances from the newest
                    DR copy                                     copied AMIs (``ami_launch``)
pilot-light         promote read replicas, fail over Aurora     scale the standby ASGs and ECS
                    global databases, else restore; DynamoDB    services from zero to capacity
                    global tables need nothing
warm-standby        as pilot light                              scale from the resting size up to
                                                                full capacity
active-active       as pilot light (single-writer databases     already serving: topped up to full
                    still move their writer; global tables      capacity
                    need nothing)
==================  ==========================================  ====================================

Traffic then moves: simple routing UPSERTs each record to its DR value; weighted routing (the
active-active shape) sets the failed region's weight to 0. Then wait for INSYNC, verify the
health checks, notify and audit.

Failback reverses it: the DR-side data is captured, copied home and restored next to the
original (``<name>-failback``, never over it), DNS goes back, health is verified and only then
the DR standbys return to their resting size.

Drill: the same runbook into isolated names (``<name>-drill``, records under
``<zone_prefix>.<zone>``), never promoting a replica, scaling a standby or touching a real record;
everything made carries ``awsdr:drill=<run id>`` and teardown steps at the end remove it.

Inventory facts (all optional; missing facts become ``<placeholders>`` in the calls)::

    {
      "databases": {"rds/orders-db": {"newest_copy": {RecoveryPoint.to_dict()} | None,
                                      "replica_status": "available", "promoted": False}},
      "compute": {"asg/web@ap-northeast-1": {"min": 0, "desired": 0, "max": 0} | None,
                  "ecs/app/api@ap-northeast-1": {"desired": 1} | None},
      "amis": {"orders-web-0": {"image_id": "ami-...", "point_id": "ami-...", "instance_id": "i-..."}},
      "dns": {"zone_id": "/hostedzone/Z123"},
      "health_checks": {"awsdr-demo-app-dr": "<health check id>"},
      "account_id": "123456789012",
    }
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from awsdr.policy import FAILOVER_STRATEGIES, AsgStandby, EcsStandby
from awsdr.windows import DYNAMODB_NAME, RDS_INSTANCE, TAG_DRILL, make_name

if TYPE_CHECKING:
    from awsdr.policy import DnsRecord, Failover, FailoverDatabase

PREFLIGHT = "preflight"
DATA = "data"
COMPUTE = "compute"
TRAFFIC = "traffic"
VERIFY = "verify"
NOTIFY = "notify"
TEARDOWN = "teardown"
PHASES: tuple[str, ...] = (PREFLIGHT, DATA, COMPUTE, TRAFFIC, VERIFY, NOTIFY, TEARDOWN)

FAILOVER = "failover"
FAILBACK = "failback"
DIRECTIONS: tuple[str, ...] = (FAILOVER, FAILBACK)

#: Labels of the strategies for forms and reports.
STRATEGY_LABELS: dict[str, str] = {
    "backup-restore": "Backup & restore (restore from DR copies, launch from copied AMIs)",
    "pilot-light": "Pilot light (promote replicas, scale standbys from zero)",
    "warm-standby": "Warm standby (promote replicas, scale standbys to full size)",
    "active-active": "Multi-site active/active (weights of the failed region to zero)",
}

# Actions (what the executors dispatch on).
READINESS = "readiness"
PROMOTE_READ_REPLICA = "promote_read_replica"
PROMOTE_REPLICA_CLUSTER = "promote_replica_cluster"
FAILOVER_GLOBAL_CLUSTER = "failover_global_cluster"
CHECK_GLOBAL_TABLE = "check_global_table"
RESTORE_FROM_COPY = "restore_from_copy"
RESYNC_TO_PRIMARY = "resync_to_primary"
CHECK_COPY = "check_copy"
SCALE_ASG = "scale_asg"
SCALE_ECS = "scale_ecs"
CLONE_ASG = "clone_asg"
CLONE_ECS = "clone_ecs_service"
LAUNCH_FROM_AMI = "launch_from_ami"
TERMINATE_LAUNCHED = "terminate_launched"
UPSERT_RECORDS = "upsert_records"
WAIT_INSYNC = "wait_insync"
CHECK_HEALTH = "check_health"
PUBLISH_SNS = "publish_sns"
WRITE_AUDIT = "write_audit"
CLEANUP_RESTORES = "cleanup_restores"
DELETE_DRILL_COMPUTE = "delete_drill_compute"
DELETE_DRILL_RECORDS = "delete_drill_records"
DELETE_DRILL_POINTS = "delete_drill_points"
SWEEP_DRILLS = "sweep_drills"
# Fencing, write freezes and lossless failback (awsdr.failover).
FENCE_PRIMARY = "fence_primary"
FENCE_BUCKET = "fence_bucket"
MOVE_DB_RECORD = "move_db_record"
RECONCILE_TABLE = "reconcile_table"
SYNC_BUCKET_HOME = "sync_bucket_home"
REVERSE_REPLICA = "reverse_replica"
# CloudFormation stacks of the failover section (awsdr.failover.stacks).
DEPLOY_STACK = "deploy_stack"
DELETE_DRILL_STACKS = "delete_drill_stacks"
# Lambda functions of the failover section, re-created from their DR copies (awsdr.kinds.lambda_).
RESTORE_FUNCTION = "restore_function"
#: strategies whose DR region has no running stack yet: the runbook deploys it
STACK_STRATEGIES = ("backup-restore", "pilot-light")

#: Reachability of a primary resource, as the readiness probe found it.
REACHABLE = "reachable"
UNREACHABLE = "unreachable"
#: TTL of the database records (databases[].dns) the runbook writes.
DB_RECORD_TTL = 30

#: Suffixes of the names restores get in drills and failbacks.
DRILL_SUFFIX = "drill"
FAILBACK_SUFFIX = "failback"


class PlanError(ValueError):
    """The form and the policy do not make a runbook (e.g. a target region that is not a DR region)."""


@dataclass(frozen=True)
class Step:
    """One runbook step.

    :param id: unique within the plan, stable across re-plans (``<phase>:<action>:<target>``).
    :param phase: one of :data:`PHASES`.
    :param action: what the executor does (one of the action constants of this module).
    :param target: what it acts on, e.g. ``rds/orders-db`` or ``app.example.com. CNAME``.
    :param aws_calls: the AWS calls, human readable, with their region.
    :param mutating: whether the step changes anything in AWS.
    :param region: where the step acts.
    :param params: what the executor needs (JSON-safe).
    :param note: why the step looks the way it does (facts, strategy choices).
    """

    id: str
    phase: str
    action: str
    target: str
    aws_calls: list[str]
    mutating: bool
    region: str
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(**data)


# --- names ------------------------------------------------------------------------------------


def restore_name(kind: str, name: str, *, direction: str, drill: bool) -> str:
    """The name a restored database gets.

    Failover: the source's own name (the DR region is another namespace, so clients only swap
    the region); drill: ``<name>-drill``; failback: ``<name>-failback``, next to the original.
    """
    if direction == FAILOVER and not drill:
        return name
    suffix = DRILL_SUFFIX if drill else FAILBACK_SUFFIX
    rule = DYNAMODB_NAME if kind == "dynamodb" else RDS_INSTANCE
    return make_name(rule, name, suffix)


def drill_record_name(record_name: str, zone: str, prefix: str) -> str:
    """``app.example.com.`` in zone ``example.com.`` -> ``app.<prefix>.example.com.``."""
    zone = zone.lower().rstrip(".") + "."
    name = record_name.lower().rstrip(".") + "."
    if name == zone:
        return f"{prefix}.{zone}"
    head = name[: -len(zone)].rstrip(".")
    return f"{head}.{prefix}.{zone}"


def drill_compute_name(name: str) -> str:
    """The drill copy of a standby ASG or ECS service."""
    return f"{name}-{DRILL_SUFFIX}"


def launch_tag_value(direction: str, region: str, source: str, drill_id: str | None) -> str:
    """The ``awsdr:launch-key`` of instances launched for ``source`` (readable; hashed for tokens)."""
    if drill_id:
        return f"drill/{region}/{source}/{drill_id}"[:256]
    return f"{direction}/{region}/{source}"[:256]


#: How a database comes up in a region (see :func:`data_mode`).
MODE_RESTORE = "restore"
MODE_REPLICA = "replica"
MODE_REPLICA_CLUSTER = "replica_cluster"
MODE_GLOBAL_CLUSTER = "global_cluster"
MODE_GLOBAL_TABLE = "global_table"


def data_mode(db: FailoverDatabase, *, strategy: str, region: str, drill: bool) -> str:
    """How ``db`` comes up in ``region``: from its standby there, or restored from a DR copy.

    Drills and backup & restore always restore (a drill never touches a real standby; backup &
    restore keeps none). Otherwise a DynamoDB global-table replica needs nothing, an Aurora
    global database fails over, an Aurora replica cluster or an RDS read replica is promoted,
    and a database without a standby in ``region`` is restored.
    """
    if drill or strategy == "backup-restore":
        return MODE_RESTORE
    replica = db.replicas.get(region)
    if db.kind == "dynamodb" and replica:
        return MODE_GLOBAL_TABLE
    if db.kind == "aurora" and db.global_cluster:
        return MODE_GLOBAL_CLUSTER
    if db.kind == "aurora" and replica:
        return MODE_REPLICA_CLUSTER
    if db.kind == "rds" and replica:
        return MODE_REPLICA
    return MODE_RESTORE


def db_key(db: FailoverDatabase) -> str:
    return f"{db.kind}/{db.name}"


def unit_key(unit: AsgStandby | EcsStandby) -> str:
    if isinstance(unit, AsgStandby):
        return f"asg/{unit.name}@{unit.region}"
    return f"ecs/{unit.cluster}/{unit.service}@{unit.region}"


def _size(cap: dict[str, int] | None) -> str:
    if not cap:
        return "?"
    if "min" in cap:
        return f"{cap['min']}/{cap['desired']}/{cap['max']}"
    return str(cap.get("desired", "?"))


# --- the planner ------------------------------------------------------------------------------


@dataclass
class _Builder:
    steps: list[Step] = field(default_factory=list)

    def add(
        self,
        phase: str,
        action: str,
        target: str,
        calls: list[str],
        *,
        mutating: bool,
        region: str,
        params: dict[str, Any] | None = None,
        note: str = "",
    ) -> None:
        base = f"{phase}:{action}:{target}"
        step_id, n = base, 2
        while any(s.id == step_id for s in self.steps):
            step_id, n = f"{base}#{n}", n + 1
        self.steps.append(
            Step(
                id=step_id,
                phase=phase,
                action=action,
                target=target,
                aws_calls=calls,
                mutating=mutating,
                region=region,
                params=params or {},
                note=note,
            )
        )


def plan_runbook(
    failover: Failover,
    *,
    strategy: str,
    primary_region: str,
    dr_regions: tuple[str, ...],
    target_region: str,
    direction: str = FAILOVER,
    drill: bool = False,
    run_id: str = "",
    facts: dict[str, Any] | None = None,
    kms_key: str | None = None,
    sns_topic_arn: str | None = None,
    catalog: tuple[str, str] | None = None,
) -> list[Step]:
    """The ordered runbook.

    :param failover: the policy's failover section.
    :param strategy: one of :data:`~awsdr.policy.FAILOVER_STRATEGIES`.
    :param primary_region: the policy's primary region (the failed region; home on failback).
    :param dr_regions: the policy's DR regions.
    :param target_region: the DR region traffic moves to (failover) or comes back from (failback).
    :param direction: ``failover`` or ``failback``.
    :param drill: isolated names, real records and standbys untouched, teardown at the end.
    :param run_id: the run (drill tags, catalog keys).
    :param facts: inventory facts (see the module docstring).
    :param kms_key: failback: the key (in the primary region) copies sent home are encrypted with.
    :param sns_topic_arn: where the notification goes (None: no SNS step).
    :param catalog: ``(bucket, region)`` of the catalog the audit record goes to.
    :raises PlanError: the inputs do not make a runbook.
    """
    if strategy not in FAILOVER_STRATEGIES:
        raise PlanError(f"unknown strategy {strategy!r}: one of {', '.join(FAILOVER_STRATEGIES)}")
    if direction not in DIRECTIONS:
        raise PlanError(f"unknown direction {direction!r}: failover or failback")
    if target_region not in dr_regions:
        raise PlanError(f"{target_region} is not a DR region of the policy ({', '.join(dr_regions)})")
    if drill and not run_id:
        raise PlanError("a drill needs the run id (its resources are tagged with it)")
    facts = facts or {}
    b = _Builder()
    home = primary_region
    serving = target_region if direction == FAILOVER else home
    b.add(
        PREFLIGHT,
        READINESS,
        f"{direction} to {serving}",
        _readiness_calls(failover, strategy, target_region, home, direction),
        mutating=False,
        region=target_region,
        note="done by the readiness task before planning; listed for the record",
    )
    if drill and direction == FAILOVER:
        b.add(
            DATA,
            SWEEP_DRILLS,
            f"drills@{target_region}",
            [f"every kind: delete resources tagged {TAG_DRILL}=<another run> in {target_region}"],
            mutating=True,
            region=target_region,
            params={
                "tag_key": TAG_DRILL,
                "keep": run_id,
                "kinds": sorted(
                    {d.kind for d in failover.databases} | ({"lambda"} if failover.functions else set())
                ),
            },
            note="a drill killed mid-way left these behind; swept before this drill starts",
        )
    if direction == FAILOVER:
        if not drill:
            _fencing(b, failover, strategy, target_region, home, facts)
        for db in failover.databases:
            _data_failover(b, db, strategy, target_region, drill, run_id, facts)
        _compute_failover(b, failover, strategy, target_region, drill, run_id, facts)
        _traffic(b, failover, target_region, home, direction, drill, facts)
        if not drill:
            _db_records(b, failover, strategy, target_region, home, direction)
        _verify(b, failover, serving, facts)
    else:
        for db in failover.databases:
            _data_failback(b, db, strategy, target_region, home, drill, run_id, facts, kms_key)
        if not drill:
            _buckets_home(b, failover, target_region, home)
        _traffic(b, failover, target_region, home, direction, drill, facts)
        if not drill:
            _db_records(b, failover, strategy, target_region, home, direction)
        _verify(b, failover, serving, facts)
        _compute_failback(b, failover, strategy, target_region, drill)
    _notify(b, sns_topic_arn, catalog, run_id, direction)
    if drill:
        _teardown(
            b, failover, target_region if direction == FAILOVER else home, target_region, direction, run_id
        )
    return b.steps


def _readiness_calls(failover: Failover, strategy: str, target: str, home: str, direction: str) -> list[str]:
    where = target if direction == FAILOVER else home
    calls = [f"kms.describe_key(KeyId=<the policy key>) in {where}"]
    kinds = sorted({db.kind for db in failover.databases})
    for kind in kinds:
        calls.append(f"{kind}: list the DR copies (awsdr:managed=true) in {target}")
    if any(db.kind == "rds" and db.replicas for db in failover.databases):
        calls.append(f"rds.describe_db_instances(<replicas>) in {target}")
    if strategy == "backup-restore" and failover.ami_launch:
        calls.append(f"ec2.describe_images(Owners=[self], awsdr copies) in {target}")
    if failover.compute and strategy != "backup-restore":
        calls.append(f"autoscaling.describe_auto_scaling_groups / ecs.describe_services in {target}")
    if failover.dns:
        calls.append(f"route53.list_hosted_zones_by_name(DNSName={failover.dns.zone})")
        calls.append("route53.list_resource_record_sets(<each record>)")
    if failover.health_checks:
        calls.append("route53.list_health_checks()")
    return calls


# --- data ---------------------------------------------------------------------------------------


def _restore_calls(kind: str, name: str, point_id: str, region: str) -> list[str]:
    if kind == "rds":
        return [
            f"rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier={name}, "
            f"DBSnapshotIdentifier={point_id}) in {region}",
            f"rds.describe_db_instances(DBInstanceIdentifier={name}) until available in {region}",
        ]
    if kind == "aurora":
        return [
            f"rds.restore_db_cluster_from_snapshot(DBClusterIdentifier={name}, "
            f"SnapshotIdentifier={point_id}) in {region}",
            f"rds.create_db_instance(DBInstanceIdentifier={name}-1, DBClusterIdentifier={name}) in {region}",
            f"rds.describe_db_clusters(DBClusterIdentifier={name}) until available in {region}",
        ]
    if kind == "dynamodb":
        return [
            f"dynamodb.restore_table_from_backup(TargetTableName={name}, BackupArn={point_id}) in {region}",
            f"dynamodb.describe_table(TableName={name}) until ACTIVE in {region}",
        ]
    return [f"{kind}: restore {point_id} as {name} in {region}"]


def _snapshot_calls(kind: str, source: str, region: str) -> str:
    if kind == "rds":
        return f"rds.create_db_snapshot(DBInstanceIdentifier={source}, DBSnapshotIdentifier=awsdr-failback-...) in {region}"
    if kind == "aurora":
        return (
            f"rds.create_db_cluster_snapshot(DBClusterIdentifier={source}, "
            f"DBClusterSnapshotIdentifier=awsdr-failback-...) in {region}"
        )
    return f"dynamodb.create_backup(TableName={source}, BackupName=awsdr-failback-...) in {region}"


def _copy_call(kind: str, source_region: str, dest: str, kms_key: str | None) -> str:
    key = kms_key or "<primary key>"
    if kind == "rds":
        return f"rds.copy_db_snapshot(SourceDBSnapshotIdentifier=<its ARN>, KmsKeyId={key}, SourceRegion={source_region}) in {dest}"
    if kind == "aurora":
        return (
            f"rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=<its ARN>, KmsKeyId={key}, "
            f"SourceRegion={source_region}) in {dest}"
        )
    return f"dynamodb: copy the backup from {source_region} to {dest} (KMS {key})"


def resource_arn(kind: str, region: str, ident: str, account: str | None) -> str:
    acct = account or "<account>"
    part = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    if kind == "aurora":
        return f"arn:{part}:rds:{region}:{acct}:cluster:{ident}"
    if kind == "rds":
        return f"arn:{part}:rds:{region}:{acct}:db:{ident}"
    return f"arn:{part}:dynamodb:{region}:{acct}:table/{ident}"


def _data_failover(
    b: _Builder,
    db: FailoverDatabase,
    strategy: str,
    target: str,
    drill: bool,
    run_id: str,
    facts: dict[str, Any],
) -> None:
    key = db_key(db)
    f = (facts.get("databases") or {}).get(key) or {}
    replica = db.replicas.get(target)
    mode = data_mode(db, strategy=strategy, region=target, drill=drill)
    why_restore = (
        "a drill never promotes or fails over a real standby"
        if drill
        else "backup & restore keeps no standby"
        if strategy == "backup-restore"
        else f"no standby configured in {target}"
    )
    if mode == MODE_GLOBAL_TABLE:
        b.add(
            DATA,
            CHECK_GLOBAL_TABLE,
            key,
            [f"dynamodb.describe_table(TableName={replica}) in {target}: ACTIVE replica"],
            mutating=False,
            region=target,
            params={"kind": db.kind, "table": replica},
            note="a global table: every replica already accepts writes, nothing to promote",
        )
        return
    if mode == MODE_GLOBAL_CLUSTER and db.global_cluster:
        cluster = replica or f"<member of {db.global_cluster} in {target}>"
        arn = resource_arn("aurora", target, cluster, facts.get("account_id"))
        switchover = f.get("primary") == REACHABLE and not drill
        b.add(
            DATA,
            FAILOVER_GLOBAL_CLUSTER,
            key,
            [
                f"rds.failover_global_cluster(GlobalClusterIdentifier={db.global_cluster}, "
                f"TargetDbClusterIdentifier={arn}, {'Switchover' if switchover else 'AllowDataLoss'}=True) "
                f"in {target}",
                f"rds.describe_global_clusters(GlobalClusterIdentifier={db.global_cluster}) "
                f"until {cluster} writes, in {target}",
            ],
            mutating=True,
            region=target,
            params={
                "kind": db.kind,
                "global_cluster": db.global_cluster,
                "cluster": replica,
                "cluster_arn": arn,
                "allow_data_loss": not switchover,
            },
            note="an Aurora global database has one writer: the writer moves to the DR region"
            + (
                "; the primary answers: a switchover (fenced: Aurora makes the old writer read-only first)"
                if switchover
                else "; the primary does not answer: a failover with AllowDataLoss (NOT fenced)"
            )
            + (" (active-active keeps serving reads everywhere)" if strategy == "active-active" else ""),
        )
        return
    if mode == MODE_REPLICA_CLUSTER:
        b.add(
            DATA,
            PROMOTE_REPLICA_CLUSTER,
            key,
            [
                f"rds.promote_read_replica_db_cluster(DBClusterIdentifier={replica}) in {target}",
                f"rds.describe_db_clusters(DBClusterIdentifier={replica}) until available in {target}",
            ],
            mutating=True,
            region=target,
            params={"kind": db.kind, "cluster": replica},
            note="a cross-region Aurora read replica cluster becomes a standalone writer",
        )
        return
    if mode == MODE_REPLICA:
        note = "the cross-region read replica becomes a standalone writer"
        if f.get("promoted"):
            note += "; already promoted (awsdr:promoted-at): skipped at run time"
        elif f.get("replica_status") not in (None, "available"):
            note += f"; the replica is {f.get('replica_status')} now"
        b.add(
            DATA,
            PROMOTE_READ_REPLICA,
            key,
            [
                f"rds.promote_read_replica(DBInstanceIdentifier={replica}) in {target}",
                f"rds.add_tags_to_resource(awsdr:promoted-at) on {replica} in {target}",
                f"rds.describe_db_instances(DBInstanceIdentifier={replica}) until available in {target}",
            ],
            mutating=True,
            region=target,
            params={"kind": db.kind, "db_instance": replica},
            note=note,
        )
        return
    point = f.get("newest_copy")
    name = restore_name(db.kind, db.name, direction=FAILOVER, drill=drill)
    point_id = point["point_id"] if point else f"<newest DR copy of {db.name}>"
    tags = {TAG_DRILL: run_id} if drill else {"awsdr:failover-of": key}
    b.add(
        DATA,
        RESTORE_FROM_COPY,
        key,
        _restore_calls(db.kind, name, point_id, target),
        mutating=True,
        region=target,
        params={"kind": db.kind, "source": db.name, "name": name, "point": point, "tags": tags},
        note=f"restored from the newest DR copy: {why_restore}"
        + ("" if point else "; NO DR copy found (the pre-flight fails)"),
    )


def _data_failback(
    b: _Builder,
    db: FailoverDatabase,
    strategy: str,
    dr: str,
    home: str,
    drill: bool,
    run_id: str,
    facts: dict[str, Any],
    kms_key: str | None,
) -> None:
    key = db_key(db)
    f = (facts.get("databases") or {}).get(key) or {}
    replica = db.replicas.get(dr)
    mode = data_mode(db, strategy=strategy, region=dr, drill=drill)
    if mode == MODE_GLOBAL_TABLE:
        b.add(
            DATA,
            CHECK_GLOBAL_TABLE,
            key,
            [f"dynamodb.describe_table(TableName={db.name}) in {home}: ACTIVE replica"],
            mutating=False,
            region=home,
            params={"kind": db.kind, "table": db.name},
            note="a global table replicates back by itself",
        )
        return
    if mode == MODE_GLOBAL_CLUSTER and db.global_cluster:
        arn = resource_arn("aurora", home, db.name, facts.get("account_id"))
        b.add(
            DATA,
            FAILOVER_GLOBAL_CLUSTER,
            key,
            [
                f"rds.failover_global_cluster(GlobalClusterIdentifier={db.global_cluster}, "
                f"TargetDbClusterIdentifier={arn}, Switchover=True) in {home}",
                f"rds.describe_global_clusters(GlobalClusterIdentifier={db.global_cluster}) "
                f"until {db.name} writes, in {home}",
            ],
            mutating=True,
            region=home,
            params={
                "kind": db.kind,
                "global_cluster": db.global_cluster,
                "cluster": db.name,
                "cluster_arn": arn,
                "allow_data_loss": False,
            },
            note="a planned switchover back (no data loss); the home cluster must have rejoined as a secondary",
        )
        return
    name = restore_name(db.kind, db.name, direction=FAILBACK, drill=drill)
    if drill and db.kind == "dynamodb":
        point = f.get("newest_copy")
        b.add(
            DATA,
            CHECK_COPY,
            key,
            [f"dynamodb: the DR copy {point['point_id'] if point else '<none>'} is available in {dr}"],
            mutating=False,
            region=dr,
            params={"kind": db.kind, "point": point},
            note="drill: a DynamoDB DR copy is an export that cannot be copied again; a real failback "
            "captures the DR table instead. Only the copy's presence is rehearsed.",
        )
        return
    if drill:
        point = f.get("newest_copy")
        point_id = point["point_id"] if point else f"<newest DR copy of {db.name}>"
        calls = [
            _copy_call(db.kind, dr, home, kms_key).replace("<its ARN>", point_id),
            *_restore_calls(db.kind, name, "<the copy>", home),
        ]
        b.add(
            DATA,
            RESYNC_TO_PRIMARY,
            key,
            calls,
            mutating=True,
            region=home,
            params={
                "kind": db.kind,
                "source": db.name,
                "dr_region": dr,
                "dr_writer": None,
                "point": point,
                "name": name,
                "kms_key": kms_key,
                "tags": {TAG_DRILL: run_id},
            },
            note="drill: the newest DR copy is sent home and restored there under a drill name"
            + ("" if point else "; NO DR copy found (the pre-flight fails)"),
        )
        return
    dr_writer = replica if mode in (MODE_REPLICA, MODE_REPLICA_CLUSTER) and replica else db.name
    if db.kind == "dynamodb":
        b.add(
            DATA,
            RECONCILE_TABLE,
            key,
            [
                f"dynamodb.put_resource_policy(<Deny item writes but this runner>) on {dr_writer} in {dr} "
                "(the write freeze)",
                f"dynamodb.create_backup({db.name}, awsdr-final-...) in {home}: the stale table's final "
                "recovery point, tagged awsdr:final-backup",
                f"dynamodb.scan({dr_writer}) in {dr} -> batch_write_item({db.name}) in {home}; "
                "home items DR no longer has are deleted",
                f"dynamodb.delete_resource_policy(<the failover's fence>) on {db.name} in {home}",
            ],
            mutating=True,
            region=home,
            params={"kind": db.kind, "table": db.name, "dr_table": dr_writer, "dr_region": dr},
            note="lossless: every item written in the DR region up to the freeze is in the original "
            f"table {db.name} at home; the DR table stays frozen",
        )
        return
    if db.kind == "rds":
        b.add(
            DATA,
            REVERSE_REPLICA,
            key,
            [
                f"rds.create_db_instance_read_replica({name}, SourceDBInstanceIdentifier=<{dr_writer} ARN>, "
                f"KmsKeyId={kms_key or '<primary key>'}) in {home}",
                f"route53: {db.dns or '<databases[].dns>'} CNAME -> {name} (read-only: the write freeze), "
                f"wait its TTL",
                f"cloudwatch.get_metric_statistics(ReplicaLag of {name}) until 0 in {home}",
                f"rds.promote_read_replica({name}) in {home}, until available",
            ],
            mutating=True,
            region=home,
            params={
                "kind": db.kind,
                "source": db.name,
                "dr_region": dr,
                "dr_writer": dr_writer,
                "name": name,
                "record": db.dns,
                "ttl": DB_RECORD_TTL,
                "kms_key": kms_key,
                "tags": {"awsdr:failback-of": key},
            },
            note=f"reverse replication: {name} at home replicates {dr_writer}; the freeze is the record "
            "moving to it; promoted at zero lag, so nothing written in the DR region is lost",
        )
        return
    freeze = db.kind == "aurora"
    b.add(
        DATA,
        RESYNC_TO_PRIMARY,
        key,
        [
            *(
                [
                    f"ec2.create_security_group(awsdr-freeze-{dr_writer}, no inbound rule) in {dr}",
                    f"rds.modify_db_cluster({dr_writer}, VpcSecurityGroupIds=[awsdr-freeze-{dr_writer}]) "
                    f"and rds.reboot_db_instance(<its writer>) in {dr} (the write freeze)",
                ]
                if freeze
                else []
            ),
            _snapshot_calls(db.kind, dr_writer, dr),
            _copy_call(db.kind, dr, home, kms_key),
            *_restore_calls(db.kind, name, "<the copy>", home),
        ],
        mutating=True,
        region=home,
        params={
            "kind": db.kind,
            "source": db.name,
            "dr_region": dr,
            "dr_writer": dr_writer,
            "point": None,
            "name": name,
            "kms_key": kms_key,
            "tags": {"awsdr:failback-of": key},
            "freeze": freeze,
            "record": db.dns,
        },
        note=(
            f"lossless: {dr_writer} is frozen first (no client can connect: its security groups "
            f"swapped for one with no inbound rule, its writer rebooted), then captured, copied home "
            f"and restored as {name} next to the original (never over it); "
            + (
                f"{db.dns} moves to it with the traffic"
                if db.dns
                else "NO databases[].dns: clients must be pointed at it by hand"
            )
            + "; the DR cluster stays frozen"
            if freeze
            else f"the DR writer {dr_writer} is captured, copied home and restored as {name} next to "
            "the original (never over it)"
        ),
    )


# --- fencing, database records, buckets ----------------------------------------------------------


def fence_method(db: FailoverDatabase, mode: str) -> str:
    """How a reachable primary of ``db`` is fenced (see :mod:`awsdr.failover.fencing`)."""
    if db.kind == "dynamodb":
        return "table policy denies writes"
    if mode == MODE_GLOBAL_CLUSTER:
        return "global switchover"
    stop = "StopDBCluster" if db.kind == "aurora" else "StopDBInstance"
    if mode in (MODE_REPLICA, MODE_REPLICA_CLUSTER):
        how = f"{stop} once the promotion detaches the replica"
        return f"record {db.dns} to the read-only replica, then {how}" if db.dns else how
    return stop


def _fencing(
    b: _Builder, failover: Failover, strategy: str, target: str, home: str, facts: dict[str, Any]
) -> None:
    for db in failover.databases:
        key = db_key(db)
        mode = data_mode(db, strategy=strategy, region=target, drill=False)
        if mode == MODE_GLOBAL_CLUSTER:
            continue  # the switchover step fences (see _data_failover)
        reach = ((facts.get("databases") or {}).get(key) or {}).get("primary") or UNREACHABLE
        method = fence_method(db, mode)
        replica = db.replicas.get(target) if mode in (MODE_REPLICA, MODE_REPLICA_CLUSTER) else None
        calls = (
            [f"{method}: {db.name} in {home}"]
            if reach == REACHABLE
            else [f"none: {db.name} in {home} is {reach} (recorded as not fenced)"]
        )
        b.add(
            DATA,
            FENCE_PRIMARY,
            key,
            calls,
            mutating=reach == REACHABLE,
            region=home,
            params={
                "kind": db.kind,
                "name": db.name,
                "reachable": reach,
                "method": method,
                "record": db.dns,
                "replica": replica,
                "dr_region": target,
                "ttl": DB_RECORD_TTL,
            },
            note="before anything is promoted in the DR region"
            if reach == REACHABLE
            else "NOT FENCED: the primary did not answer the readiness probe",
        )
    for bucket in failover.buckets:
        reach = (facts.get("buckets") or {}).get(bucket.name) or UNREACHABLE
        b.add(
            DATA,
            FENCE_BUCKET,
            f"s3/{bucket.name}",
            [f"s3.put_bucket_policy({bucket.name}, + Deny object writes but this runner) in {home}"]
            if reach == REACHABLE
            else [f"none: {bucket.name} is {reach} (recorded as not fenced)"],
            mutating=reach == REACHABLE,
            region=home,
            params={"bucket": bucket.name, "reachable": reach, "method": "bucket policy denies writes"},
            note="applications write to the DR bucket from now on"
            if reach == REACHABLE
            else "NOT FENCED: the bucket did not answer the readiness probe",
        )


def _buckets_home(b: _Builder, failover: Failover, dr: str, home: str) -> None:
    for bucket in failover.buckets:
        dr_bucket = bucket.dr.get(dr)  # None: the DR copy bucket (resolved at run time)
        shown = dr_bucket or f"<DR copy bucket of {bucket.name}>"
        b.add(
            DATA,
            SYNC_BUCKET_HOME,
            f"s3/{bucket.name}",
            [
                f"s3.put_bucket_policy({shown}, + Deny object writes but this runner) in {dr} "
                "(the write freeze)",
                f"s3.copy_object(every object applications wrote in {shown}) -> {bucket.name} in {home}",
                f"s3.put_bucket_policy({bucket.name}, - the failover's fence) in {home}",
            ],
            mutating=True,
            region=home,
            params={"bucket": bucket.name, "dr_bucket": dr_bucket, "dr_region": dr},
            note="lossless: objects written in the DR bucket during the failover are copied home",
        )


def _db_records(b: _Builder, failover: Failover, strategy: str, dr: str, home: str, direction: str) -> None:
    for db in failover.databases:
        if not db.dns or db.kind == "dynamodb":
            continue
        mode = data_mode(db, strategy=strategy, region=dr, drill=False)
        if direction == FAILOVER:
            region = dr
            writer = (
                db.replicas.get(dr) or db.name
                if mode in (MODE_REPLICA, MODE_REPLICA_CLUSTER, MODE_GLOBAL_CLUSTER)
                else db.name
            )
        else:
            region = home
            writer = (
                db.name
                if mode == MODE_GLOBAL_CLUSTER
                else restore_name(db.kind, db.name, direction=FAILBACK, drill=False)
            )
        b.add(
            TRAFFIC,
            MOVE_DB_RECORD,
            f"{db.dns} CNAME",
            [
                f"rds.describe_db_{'clusters' if db.kind == 'aurora' else 'instances'}({writer}) in {region}: "
                "its writer endpoint",
                f"route53.change_resource_record_sets(UPSERT {db.dns} CNAME {DB_RECORD_TTL} -> <endpoint>)",
            ],
            mutating=True,
            region="global",
            params={"kind": db.kind, "record": db.dns, "writer": writer, "writer_region": region},
            note=f"clients reach {db_key(db)} by {db.dns}: it follows the writer to {region}",
        )


# --- compute ------------------------------------------------------------------------------------


def _compute_failover(
    b: _Builder,
    failover: Failover,
    strategy: str,
    target: str,
    drill: bool,
    run_id: str,
    facts: dict[str, Any],
) -> None:
    tags = {TAG_DRILL: run_id} if drill else {}
    if strategy in STACK_STRATEGIES:
        for stack in failover.stacks:
            if stack.region != target:
                continue
            name = stack_name(stack.name, drill=drill)
            source = stack.template_url or f"<{stack.template_path}>"
            b.add(
                COMPUTE,
                DEPLOY_STACK,
                f"cloudformation/{stack.name}",
                [
                    f"cloudformation.create_stack(StackName={name}, Template={source}) in {target}, "
                    "or update_stack if it exists",
                    f"cloudformation.describe_stacks({name}) until *_COMPLETE in {target} (deferred)",
                ],
                mutating=True,
                region=target,
                params={
                    "name": name,
                    "template_url": stack.template_url,
                    "template_path": stack.template_path,
                    "parameters": dict(stack.parameters),
                    "capabilities": list(stack.capabilities),
                    "role_arn": stack.role_arn,
                    "tags": {**tags, "awsdr:managed": "true", "awsdr:stack-of": stack.name},
                },
                note="first in the compute phase: the other compute steps wait until every stack is complete"
                + ("; a drill's stack is deleted in teardown" if drill else ""),
            )
        for fn in failover.functions:
            if fn.region != target:
                continue
            name = function_name(fn.name, drill=drill)
            b.add(
                COMPUTE,
                RESTORE_FUNCTION,
                f"lambda/{fn.name}",
                [
                    f"lambda.create_function(FunctionName={name}) in {target} from the newest DR copy of "
                    f"{fn.name} (its code zip and configuration), unless it exists",
                    f"lambda.get_function({name}) until Active (deferred)",
                ],
                mutating=True,
                region=target,
                params={
                    "name": name,
                    "source": fn.name,
                    "environment": dict(fn.environment),
                    "tags": {**tags, "awsdr:managed": "true", "awsdr:function-of": fn.name},
                },
                note="re-created under its own name from the lambda type's DR copy"
                + ("; a drill's function is deleted in teardown" if drill else ""),
            )
    if strategy == "backup-restore":
        for launch in failover.ami_launch:
            ami = (facts.get("amis") or {}).get(launch.source) or {}
            image = ami.get("image_id") or f"<newest copied AMI of {launch.source}>"
            name = f"{launch.source}-{DRILL_SUFFIX}" if drill else f"{launch.source}-dr"
            subnet = launch.subnets.get(target)
            b.add(
                COMPUTE,
                LAUNCH_FROM_AMI,
                f"ec2/{launch.source}",
                [
                    f"ec2.run_instances(ImageId={image}, InstanceType={launch.instance_type}, "
                    f"MinCount={launch.count}, MaxCount={launch.count}"
                    + (f", SubnetId={subnet}" if subnet else "")
                    + f") in {target}",
                    f"ec2.describe_instances(<launched>) until running in {target}",
                ],
                mutating=True,
                region=target,
                params={
                    "source": launch.source,
                    "image_id": ami.get("image_id"),
                    "instance_type": launch.instance_type,
                    "count": launch.count,
                    "subnet": subnet,
                    "name": name,
                    "launch_key": launch_tag_value(
                        FAILOVER, target, launch.source, run_id if drill else None
                    ),
                    "tags": tags,
                },
                note="backup & restore: compute comes from the newest copied AMI"
                + ("" if ami.get("image_id") else "; NO copied AMI found (the pre-flight fails)"),
            )
        return
    for unit in failover.compute:
        if unit.region != target:
            continue
        key = unit_key(unit)
        current = (facts.get("compute") or {}).get(key)
        if isinstance(unit, AsgStandby):
            size = unit.capacity.as_dict()
            if drill:
                name = drill_compute_name(unit.name)
                b.add(
                    COMPUTE,
                    CLONE_ASG,
                    key,
                    [
                        f"autoscaling.create_auto_scaling_group(AutoScalingGroupName={name}, "
                        f"<launch template and subnets of {unit.name}>, MinSize={size['min']}, "
                        f"DesiredCapacity={size['desired']}, MaxSize={size['max']}) in {target}",
                        f"autoscaling.describe_auto_scaling_groups([{name}]) until {size['desired']} "
                        f"InService in {target}",
                    ],
                    mutating=True,
                    region=target,
                    params={"source": unit.name, "name": name, "size": size, "tags": tags},
                    note=f"drill: a copy of {unit.name}; the standby itself is not touched",
                )
                continue
            b.add(
                COMPUTE,
                SCALE_ASG,
                key,
                [
                    f"autoscaling.update_auto_scaling_group(AutoScalingGroupName={unit.name}, "
                    f"MinSize={size['min']}, DesiredCapacity={size['desired']}, MaxSize={size['max']}) "
                    f"in {target}",
                    f"autoscaling.describe_auto_scaling_groups([{unit.name}]) until {size['desired']} "
                    f"InService in {target}",
                ],
                mutating=True,
                region=target,
                params={"name": unit.name, "size": size},
                note=_scale_note(strategy, _size(current), _size(size), unit.resting.desired),
            )
        else:
            if drill:
                name = drill_compute_name(unit.service)
                b.add(
                    COMPUTE,
                    CLONE_ECS,
                    key,
                    [
                        f"ecs.create_service(cluster={unit.cluster}, serviceName={name}, "
                        f"taskDefinition=<{unit.service}'s>, desiredCount={unit.desired}) in {target}",
                        f"ecs.describe_services(cluster={unit.cluster}, services=[{name}]) until "
                        f"{unit.desired} running in {target}",
                    ],
                    mutating=True,
                    region=target,
                    params={
                        "cluster": unit.cluster,
                        "source": unit.service,
                        "name": name,
                        "desired": unit.desired,
                        "tags": tags,
                    },
                    note=f"drill: a copy of {unit.service}; the standby itself is not touched",
                )
                continue
            b.add(
                COMPUTE,
                SCALE_ECS,
                key,
                [
                    f"ecs.update_service(cluster={unit.cluster}, service={unit.service}, "
                    f"desiredCount={unit.desired}) in {target}",
                    f"ecs.describe_services(cluster={unit.cluster}, services=[{unit.service}]) until "
                    f"{unit.desired} running in {target}",
                ],
                mutating=True,
                region=target,
                params={"cluster": unit.cluster, "service": unit.service, "desired": unit.desired},
                note=_scale_note(strategy, _size(current), str(unit.desired), unit.resting),
            )


def _scale_note(strategy: str, current: str, wanted: str, resting: int) -> str:
    note = f"from {current} to {wanted}"
    if strategy == "pilot-light" and resting > 0:
        note += "; its resting size is above zero (this standby is warm)"
    elif strategy == "warm-standby" and resting == 0:
        note += "; its resting size is zero (a pilot light: slower to serve)"
    elif strategy == "active-active":
        note += "; already serving, topped up to absorb the failed region's load"
    return note


def _compute_failback(b: _Builder, failover: Failover, strategy: str, dr: str, drill: bool) -> None:
    if drill:
        return  # a drill never scales the real standbys down
    for unit in failover.compute:
        if unit.region != dr or strategy == "backup-restore":
            continue
        key = unit_key(unit)
        if isinstance(unit, AsgStandby):
            size = unit.resting.as_dict()
            b.add(
                COMPUTE,
                SCALE_ASG,
                key,
                [
                    f"autoscaling.update_auto_scaling_group(AutoScalingGroupName={unit.name}, "
                    f"MinSize={size['min']}, DesiredCapacity={size['desired']}, MaxSize={size['max']}) in {dr}",
                    f"autoscaling.describe_auto_scaling_groups([{unit.name}]) until {size['desired']} "
                    f"InService in {dr}",
                ],
                mutating=True,
                region=dr,
                params={"name": unit.name, "size": size},
                note="back to the resting size, after traffic is home and healthy",
            )
        else:
            b.add(
                COMPUTE,
                SCALE_ECS,
                key,
                [
                    f"ecs.update_service(cluster={unit.cluster}, service={unit.service}, "
                    f"desiredCount={unit.resting}) in {dr}",
                    f"ecs.describe_services(cluster={unit.cluster}, services=[{unit.service}]) until "
                    f"{unit.resting} running in {dr}",
                ],
                mutating=True,
                region=dr,
                params={"cluster": unit.cluster, "service": unit.service, "desired": unit.resting},
                note="back to the resting size, after traffic is home and healthy",
            )
    if strategy == "backup-restore":
        for launch in failover.ami_launch:
            value = launch_tag_value(FAILOVER, dr, launch.source, None)
            b.add(
                COMPUTE,
                TERMINATE_LAUNCHED,
                f"ec2/{launch.source}",
                [f"ec2.terminate_instances(<instances tagged awsdr:launch-key={value}>) in {dr}"],
                mutating=True,
                region=dr,
                params={"launch_key": value},
                note="the instances the failover launched from copied AMIs, after traffic is home",
            )


# --- traffic and verification -------------------------------------------------------------------


def _record_specs(
    record: DnsRecord, routing: str, dr: str, home: str, direction: str, drill: bool, zone: str, prefix: str
) -> list[dict[str, Any]]:
    """The record sets to make true (as :class:`awsdr.aws.route53.RecordSpec` keyword dicts)."""
    base = {"type": record.type, "ttl": record.ttl}
    to_dr = direction == FAILOVER
    if drill:
        value = record.dr[dr] if to_dr else record.primary
        return [{**base, "name": drill_record_name(record.name, zone, prefix), "value": value}]
    if routing == "simple":
        return [{**base, "name": record.name, "value": record.dr[dr] if to_dr else record.primary}]
    dr_weight = record.weight(dr) or 100
    return [
        {
            **base,
            "name": record.name,
            "value": record.primary,
            "set_identifier": record.set_identifier(home),
            "weight": 0 if to_dr else record.weight(home),
        },
        {
            **base,
            "name": record.name,
            "value": record.dr[dr],
            "set_identifier": record.set_identifier(dr),
            "weight": dr_weight if to_dr else record.weight(dr),
        },
    ]


def _spec_text(spec: dict[str, Any]) -> str:
    text = f"{spec['name']} {spec['type']} {spec['ttl']} -> {spec['value']}"
    if spec.get("set_identifier") is not None:
        text += f" (set {spec['set_identifier']}, weight {spec['weight']})"
    return text


def _traffic(
    b: _Builder,
    failover: Failover,
    dr: str,
    home: str,
    direction: str,
    drill: bool,
    facts: dict[str, Any],
) -> None:
    dns = failover.dns
    if dns is None:
        return
    zone_id = (facts.get("dns") or {}).get("zone_id") or f"<zone id of {dns.zone}>"
    for record in dns.records:
        if dr not in record.dr:
            raise PlanError(f"DNS record {record.name} has no value for {dr}")
        specs = _record_specs(
            record, dns.routing, dr, home, direction, drill, dns.zone, failover.drill.zone_prefix
        )
        note = (
            "drill: a record under the drill prefix; the real record is not touched"
            if drill
            else "weighted: the failed region's weight goes to 0"
            if dns.routing == "weighted" and direction == FAILOVER
            else "weighted: both regions back to their normal weights"
            if dns.routing == "weighted"
            else f"simple: the record now answers with the {'DR' if direction == FAILOVER else 'primary'} value"
        )
        b.add(
            TRAFFIC,
            UPSERT_RECORDS,
            f"{specs[0]['name']} {record.type}",
            [
                f"route53.change_resource_record_sets(HostedZoneId={zone_id}, UPSERT {_spec_text(s)})"
                for s in specs
            ],
            mutating=True,
            region="global",
            params={"zone": dns.zone, "records": specs},
            note=note,
        )
    b.add(
        TRAFFIC,
        WAIT_INSYNC,
        dns.zone,
        ["route53.get_change(Id=<each change>) until INSYNC"],
        mutating=False,
        region="global",
        params={"zone": dns.zone},
    )


def _verify(b: _Builder, failover: Failover, serving: str, facts: dict[str, Any]) -> None:
    known = facts.get("health_checks") or {}
    for check in failover.health_checks:
        if check.region not in (None, serving):
            continue
        if check.url:
            call = f"HTTP GET {check.url} (timeout {int(failover.verify.timeout.total_seconds())}s)"
            params: dict[str, Any] = {"url": check.url}
        else:
            hc_id = check.id or known.get(check.name or "") or f"<id of {check.name}>"
            call = f"route53.get_health_check_status(HealthCheckId={hc_id})"
            params = {"id": check.id, "name": check.name}
        b.add(
            VERIFY,
            CHECK_HEALTH,
            check.label,
            [call],
            mutating=False,
            region=serving,
            params={**params, "unknown": failover.verify.unknown},
            note=f"unknown status ({'no checker data'}): {failover.verify.unknown}",
        )


def _notify(
    b: _Builder, sns_topic_arn: str | None, catalog: tuple[str, str] | None, run_id: str, direction: str
) -> None:
    if sns_topic_arn:
        region = sns_topic_arn.split(":")[3]
        b.add(
            NOTIFY,
            PUBLISH_SNS,
            sns_topic_arn,
            [f"sns.publish(TopicArn={sns_topic_arn}, Subject=<{direction} outcome>) in {region}"],
            mutating=True,
            region=region,
            params={"topic_arn": sns_topic_arn},
        )
    if catalog:
        bucket, region = catalog
        b.add(
            NOTIFY,
            WRITE_AUDIT,
            f"s3://{bucket}/failover/{run_id or '<run id>'}/audit.json",
            [f"s3.put_object(Bucket={bucket}, Key=failover/{run_id or '<run id>'}/audit.json) in {region}"],
            mutating=True,
            region=region,
            params={"bucket": bucket},
            note="who, when, why, every step's outcome and the measured RTO",
        )


def function_name(name: str, *, drill: bool) -> str:
    """A function's name in the DR region: its own, or ``<name>-drill`` in a drill (64 at most)."""
    return f"{name[: 63 - len(DRILL_SUFFIX)]}-{DRILL_SUFFIX}" if drill else name


def stack_name(name: str, *, drill: bool) -> str:
    """A stack's name in the DR region: its own, or ``<name>-drill`` in a drill (128 at most)."""
    return f"{name[: 127 - len(DRILL_SUFFIX)]}-{DRILL_SUFFIX}" if drill else name


def _teardown(b: _Builder, failover: Failover, where: str, dr: str, direction: str, run_id: str) -> None:
    kinds = sorted({db.kind for db in failover.databases})
    if direction == FAILOVER and any(f.region == dr for f in failover.functions):
        b.add(
            TEARDOWN,
            CLEANUP_RESTORES,
            f"lambda@{dr}",
            [f"lambda: delete every function tagged {TAG_DRILL}={run_id} in {dr}"],
            mutating=True,
            region=dr,
            params={"kind": "lambda", "tag_key": TAG_DRILL, "tag_value": run_id},
        )
    if direction == FAILOVER and any(s.region == dr for s in failover.stacks):
        b.add(
            TEARDOWN,
            DELETE_DRILL_STACKS,
            f"cloudformation@{dr}",
            [f"cloudformation.delete_stack(<stacks tagged {TAG_DRILL}={run_id}>) in {dr}"],
            mutating=True,
            region=dr,
            params={"tag_key": TAG_DRILL, "tag_value": run_id},
        )
    for kind in kinds:
        b.add(
            TEARDOWN,
            CLEANUP_RESTORES,
            f"{kind}@{where}",
            [f"{kind}: delete every restore tagged {TAG_DRILL}={run_id} in {where}"],
            mutating=True,
            region=where,
            params={"kind": kind, "tag_key": TAG_DRILL, "tag_value": run_id},
        )
    if direction == FAILBACK:
        for kind in kinds:
            b.add(
                TEARDOWN,
                DELETE_DRILL_POINTS,
                f"{kind}@{where}",
                [f"{kind}: delete the copies tagged {TAG_DRILL}={run_id} in {where}"],
                mutating=True,
                region=where,
                params={"kind": kind, "tag_key": TAG_DRILL, "tag_value": run_id},
            )
    if direction == FAILOVER:
        clusters = sorted(
            {u.cluster for u in failover.compute if isinstance(u, EcsStandby) and u.region == dr}
        )
        b.add(
            TEARDOWN,
            DELETE_DRILL_COMPUTE,
            f"compute@{dr}",
            [
                f"autoscaling.delete_auto_scaling_group(<groups tagged {TAG_DRILL}={run_id}>, ForceDelete=True) in {dr}",
                f"ecs.delete_service(<services tagged {TAG_DRILL}={run_id}>, force=True) in {dr}",
                f"ec2.terminate_instances(<instances tagged {TAG_DRILL}={run_id}>) in {dr}",
            ],
            mutating=True,
            region=dr,
            params={"clusters": clusters, "tag_key": TAG_DRILL, "tag_value": run_id},
        )
    dns = failover.dns
    if dns is not None:
        names = [drill_record_name(r.name, dns.zone, failover.drill.zone_prefix) for r in dns.records]
        b.add(
            TEARDOWN,
            DELETE_DRILL_RECORDS,
            dns.zone,
            [f"route53.change_resource_record_sets(DELETE {', '.join(names)})"],
            mutating=True,
            region="global",
            params={"zone": dns.zone, "names": names},
        )


def summarize(steps: list[Step]) -> str:
    """The plan as a numbered runbook (for the task log and the audit)."""
    lines: list[str] = []
    for n, step in enumerate(steps, 1):
        flag = "CHANGE" if step.mutating else "read"
        lines.append(f"{n:2d}. [{step.phase}] {step.action} {step.target} ({flag}, {step.region})")
        lines.extend(f"      - {call}" for call in step.aws_calls)
        if step.note:
            lines.append(f"      note: {step.note}")
    return "\n".join(lines)
