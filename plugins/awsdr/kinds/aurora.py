"""Aurora DB clusters: recovery point = manual DB cluster snapshot."""

from __future__ import annotations

from typing import Any

from awsdr.kinds._rds_common import RdsFamilyKind, RdsShape, iso


class AuroraKind(RdsFamilyKind):
    """Aurora clusters (engines ``aurora*``). Multi-AZ DB clusters (engine ``mysql``/``postgres``)
    and replica clusters (``ReplicationSourceIdentifier`` set: not the source of truth) are skipped.
    """

    name = "aurora"
    tagging_type = "rds:cluster"
    shape = RdsShape(
        describe_sources="describe_db_clusters",
        sources_key="DBClusters",
        source_filter="db-cluster-id",
        source_id_key="DBClusterIdentifier",
        source_arn_key="DBClusterArn",
        source_status_key="Status",
        create_snapshot="create_db_cluster_snapshot",
        snapshot_key="DBClusterSnapshot",
        describe_snapshots="describe_db_cluster_snapshots",
        snapshots_key="DBClusterSnapshots",
        snapshot_filter="db-cluster-snapshot-id",
        snapshot_id_key="DBClusterSnapshotIdentifier",
        snapshot_arn_key="DBClusterSnapshotArn",
        exists_code="DBClusterSnapshotAlreadyExistsFault",
    )

    def keep(self, source: dict[str, Any]) -> bool:
        engine = str(source.get("Engine") or "")
        return engine.startswith("aurora") and not source.get("ReplicationSourceIdentifier")

    def source_meta(self, source: dict[str, Any]) -> dict[str, Any]:
        return {
            "engine": source.get("Engine"),
            "engine_version": source.get("EngineVersion"),
            "engine_mode": source.get("EngineMode"),
            "storage_encrypted": bool(source.get("StorageEncrypted")),
            "kms_key_id": source.get("KmsKeyId"),
            "members": len(source.get("DBClusterMembers") or []),
            "status": source.get("Status"),
            "backup_retention_period": source.get("BackupRetentionPeriod"),
            "latest_restorable_time": iso(source.get("LatestRestorableTime")),
        }

    def snapshot_details(self, snap: dict[str, Any]) -> dict[str, Any]:
        return {
            "allocated_storage": snap.get("AllocatedStorage"),
            "encrypted": bool(snap.get("StorageEncrypted")),
            "kms_key_id": snap.get("KmsKeyId"),
            "engine": snap.get("Engine"),
            "engine_version": snap.get("EngineVersion"),
            "snapshot_create_time": iso(snap.get("SnapshotCreateTime")),
            "source_cluster": snap.get("DBClusterIdentifier"),
        }
