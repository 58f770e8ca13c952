"""RDS DB instances (not Aurora): recovery point = manual DB snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code, tag_list
from awsdr.kinds._rds_common import (
    RdsFamilyKind,
    RdsShape,
    compare_facts,
    describe_instances,
    has_tag,
    instance_facts,
    instance_status,
    iso,
    resource_tags,
    restore_state,
    run_bounded,
    utc_now,
)
from awsdr.kinds.base import FAILED, MISSING, CaptureError, Restored
from awsdr.windows import RDS_INSTANCE

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext
    from awsdr.kinds.base import RecoveryPoint

#: error codes (wire code and model name) of the calls below
_EXISTS = frozenset({"DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"})
_GONE = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})


class RdsKind(RdsFamilyKind):
    """Single DB instances. Aurora members are the cluster's business (:mod:`awsdr.kinds.aurora`),
    and read replicas are skipped: they are copies, not the source of truth.
    """

    name = "rds"
    tagging_type = "rds:db"
    shape = RdsShape(
        describe_sources="describe_db_instances",
        sources_key="DBInstances",
        source_filter="db-instance-id",
        source_id_key="DBInstanceIdentifier",
        source_arn_key="DBInstanceArn",
        source_status_key="DBInstanceStatus",
        create_snapshot="create_db_snapshot",
        snapshot_key="DBSnapshot",
        describe_snapshots="describe_db_snapshots",
        snapshots_key="DBSnapshots",
        snapshot_filter="db-snapshot-id",
        snapshot_id_key="DBSnapshotIdentifier",
        snapshot_arn_key="DBSnapshotArn",
        exists_code="DBSnapshotAlreadyExists",
        copy_snapshot="copy_db_snapshot",
        copy_source_param="SourceDBSnapshotIdentifier",
        copy_target_param="TargetDBSnapshotIdentifier",
        delete_snapshot="delete_db_snapshot",
        snapshot_not_found=frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"}),
        modify_attribute="modify_db_snapshot_attribute",
        encrypted_key="Encrypted",
        arn_type="snapshot",
    )
    #: DB instance class of restores (verification, drills); set on the instance to change it.
    restore_instance_class: str = "db.t3.micro"

    def keep(self, source: dict[str, Any]) -> bool:
        # DBClusterIdentifier: an Aurora member (or a Multi-AZ DB cluster member, whose
        # snapshots are cluster snapshots). ReadReplicaSource...: a read replica.
        return not (source.get("DBClusterIdentifier") or source.get("ReadReplicaSourceDBInstanceIdentifier"))

    def source_meta(self, source: dict[str, Any]) -> dict[str, Any]:
        return {
            "engine": source.get("Engine"),
            "engine_version": source.get("EngineVersion"),
            "allocated_storage": source.get("AllocatedStorage"),
            "storage_encrypted": bool(source.get("StorageEncrypted")),
            "kms_key_id": source.get("KmsKeyId"),
            "instance_class": source.get("DBInstanceClass"),
            "status": source.get("DBInstanceStatus"),
            "multi_az": bool(source.get("MultiAZ")),
            "backup_retention_period": source.get("BackupRetentionPeriod"),
            "latest_restorable_time": iso(source.get("LatestRestorableTime")),
        }

    def snapshot_details(self, snap: dict[str, Any]) -> dict[str, Any]:
        return {
            "allocated_storage": snap.get("AllocatedStorage"),
            "encrypted": bool(snap.get("Encrypted")),
            "kms_key_id": snap.get("KmsKeyId"),
            "engine": snap.get("Engine"),
            "engine_version": snap.get("EngineVersion"),
            "snapshot_create_time": iso(snap.get("SnapshotCreateTime")),
            "source_db": snap.get("DBInstanceIdentifier"),
        }

    # --- restore / validate / cleanup ------------------------------------------------------------

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        """RestoreDBInstanceFromDBSnapshot into ``name`` (private, single-AZ, no deletion protection)."""
        if not RDS_INSTANCE.is_valid(name):
            raise CaptureError(f"{name!r} is not a valid DB instance identifier")
        rds = ctx.client("rds", point.region)
        all_tags = {**tags, "Name": name}
        db = describe_instances(rds, [name]).get(name)
        started = utc_now()
        if db is None:
            try:
                db = rds.restore_db_instance_from_db_snapshot(
                    DBInstanceIdentifier=name,
                    DBSnapshotIdentifier=point.point_id,
                    DBInstanceClass=self.restore_instance_class,
                    PubliclyAccessible=False,
                    MultiAZ=False,
                    DeletionProtection=False,
                    Tags=tag_list(all_tags),
                )["DBInstance"]
            except ClientError as err:
                if error_code(err) not in _EXISTS:
                    raise CaptureError(
                        f"restore of {point.point_id} as {name}: {error_code(err)}: {err}"
                    ) from err
                db = describe_instances(rds, [name]).get(name)
                if db is None:
                    raise CaptureError(f"{name}: reported as existing but not found") from err
                self.check_restore_target(name, resource_tags(rds, db, "DBInstanceArn"), all_tags)
                started = db.get("InstanceCreateTime") or started
        else:
            self.check_restore_target(name, resource_tags(rds, db, "DBInstanceArn"), all_tags)
            started = db.get("InstanceCreateTime") or started
        return self._restored(db, point.region, point.point_id, started)

    def _restored(self, db: dict[str, Any], region: str, point_id: str, started: Any) -> Restored:
        facts = instance_facts(db)
        item = Restored(
            kind=self.name,
            resource_id=db["DBInstanceIdentifier"],
            region=region,
            point_id=point_id,
            status=restore_state(facts["status"]),
            started_at=started,
            details=facts,
        )
        if item.status == FAILED:
            item.error = f"{item.resource_id} is {facts['status']}"
        return item

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        found = describe_instances(ctx.client("rds", region), [i.resource_id for i in items])
        for item in items:
            db = found.get(item.resource_id)
            if db is None:
                item.status = MISSING
                item.error = f"{item.resource_id} not found in {region}"
                continue
            facts = instance_facts(db)
            item.details.update(facts)
            item.status = restore_state(facts["status"])
            item.error = f"{item.resource_id} is {facts['status']}" if item.status == FAILED else None
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        """Engine and version equal to the source's, storage not smaller, storage encrypted."""
        db = describe_instances(ctx.client("rds", restored.region), [restored.resource_id]).get(
            restored.resource_id
        )
        if db is None:
            return [f"{restored.resource_id}: not found in {restored.region}"]
        facts = instance_facts(db)
        restored.details.update(facts)
        problems = compare_facts(restored.resource_id, facts, expected, check_storage=True)
        if facts["status"] != "available":
            problems.insert(0, f"{restored.resource_id}: status is {facts['status']}, not available")
        return problems

    def cleanup(
        self,
        ctx: AwsContext,
        region: str,
        tag_key: str,
        tag_value: str | None = None,
        *,
        keep: str | None = None,
    ) -> list[str]:
        """Delete (no final snapshot, no retained backups) the instances carrying the tag.

        Aurora members are left to :class:`~awsdr.kinds.aurora.AuroraKind`.
        """
        rds = ctx.client("rds", region)
        done: list[str] = []
        todo: list[str] = []
        for page in rds.get_paginator("describe_db_instances").paginate():
            for db in page["DBInstances"]:
                if db.get("DBClusterIdentifier"):
                    continue
                if not has_tag(resource_tags(rds, db, "DBInstanceArn"), tag_key, tag_value, keep):
                    continue
                ident = db["DBInstanceIdentifier"]
                (done if db.get("DBInstanceStatus") == "deleting" else todo).append(ident)

        def _one(ident: str) -> str:
            try:
                rds.delete_db_instance(
                    DBInstanceIdentifier=ident, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
                )
            except ClientError as err:
                code = error_code(err)
                if code in _GONE:
                    return "gone"
                # InvalidDBInstanceState: "already being deleted" (another cleanup) counts as done.
                if instance_status(ctx, region, [ident])[ident] in ("deleting", MISSING):
                    return "deleted"
                return f"{code}: {err}"
            return "deleted"

        errors = []
        for ident, outcome in run_bounded(_one, todo).items():
            if outcome == "deleted":
                done.append(ident)
            elif outcome != "gone":
                errors.append(f"{ident}: {outcome}")
        if errors:
            raise CaptureError(f"cleanup in {region} left {len(errors)} instance(s): " + "; ".join(errors))
        return done
