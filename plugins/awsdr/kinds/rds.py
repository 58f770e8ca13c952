"""RDS DB instances (not Aurora): recovery point = manual DB snapshot."""

from __future__ import annotations

from typing import Any

from awsdr.kinds._rds_common import RdsFamilyKind, RdsShape, iso


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
    )

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
