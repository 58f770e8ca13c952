"""Aurora DB clusters: recovery point = manual DB cluster snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code, tag_list
from awsdr.kinds._rds_common import (
    RdsFamilyKind,
    RdsShape,
    cluster_facts,
    compare_facts,
    describe_clusters,
    describe_instances,
    has_tag,
    iso,
    resource_tags,
    restore_state,
    run_bounded,
    utc_now,
)
from awsdr.kinds.base import AVAILABLE, CREATING, FAILED, MISSING, CaptureError, Restored
from awsdr.windows import RDS_INSTANCE, make_name

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext
    from awsdr.kinds.base import RecoveryPoint

#: error codes (wire code and model name) of the calls below
_CLUSTER_EXISTS = frozenset({"DBClusterAlreadyExistsFault", "DBClusterAlreadyExists"})
_INSTANCE_EXISTS = frozenset({"DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"})
_CLUSTER_GONE = frozenset({"DBClusterNotFoundFault", "DBClusterNotFound"})
_INSTANCE_GONE = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})


def instance_name(cluster_name: str) -> str:
    """The restored cluster's one instance: ``<cluster>-1`` (kept a valid DB instance identifier)."""
    return make_name(RDS_INSTANCE, cluster_name, "1")


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
        copy_snapshot="copy_db_cluster_snapshot",
        copy_source_param="SourceDBClusterSnapshotIdentifier",
        copy_target_param="TargetDBClusterSnapshotIdentifier",
        delete_snapshot="delete_db_cluster_snapshot",
        snapshot_not_found=frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"}),
        modify_attribute="modify_db_cluster_snapshot_attribute",
        encrypted_key="StorageEncrypted",
        arn_type="cluster-snapshot",
    )
    #: CopyDBClusterSnapshot returns an error for KmsKeyId with an unencrypted source (moto encrypts).
    copy_encrypts_plaintext = False
    #: DB instance class of the restored cluster's instance; set on the instance to change it.
    restore_instance_class: str = "db.r6g.large"

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

    # --- restore / validate / cleanup ------------------------------------------------------------

    def restore(self, ctx: AwsContext, point: RecoveryPoint, *, name: str, tags: dict[str, str]) -> Restored:
        """RestoreDBClusterFromSnapshot into ``name`` plus one instance ``<name>-1``.

        A cluster without an instance cannot serve, so both are made; each step is skipped when
        its resource is already there (a retry finishes a half-made restore). The cluster keeps
        the snapshot's engine, version and KMS key.
        """
        if not RDS_INSTANCE.is_valid(name):
            raise CaptureError(f"{name!r} is not a valid DB cluster identifier")
        rds = ctx.client("rds", point.region)
        cluster_tags = {**tags, "Name": name}
        started = utc_now()
        # Describe first: moto's RestoreDBClusterFromSnapshot silently replaces a cluster of the
        # same name (AWS answers DBClusterAlreadyExistsFault, handled below as well).
        cl = describe_clusters(rds, [name]).get(name)
        if cl is None:
            snap = self._snapshot_named(rds, point.point_id)
            if snap is None:
                raise CaptureError(f"{point.point_id} not found in {point.region}: cannot restore it")
            try:
                cl = rds.restore_db_cluster_from_snapshot(
                    DBClusterIdentifier=name,
                    SnapshotIdentifier=point.point_id,
                    Engine=snap["Engine"],
                    DeletionProtection=False,
                    Tags=tag_list(cluster_tags),
                )["DBCluster"]
            except ClientError as err:
                # A resend of a restore whose answer was lost (botocore retries it): AWS answers
                # DBClusterAlreadyExistsFault; moto 5.2.5 makes the cluster again and fails on its
                # automated snapshot's name (rds:<name>-<minute>). Either way the cluster is there.
                moto_resend = error_code(
                    err
                ) == "DBClusterSnapshotAlreadyExistsFault" and f"rds:{name}-" in str(err)
                if error_code(err) not in _CLUSTER_EXISTS and not moto_resend:
                    raise CaptureError(
                        f"restore of {point.point_id} as {name}: {error_code(err)}: {err}"
                    ) from err
                cl = describe_clusters(rds, [name]).get(name)
                if cl is None:
                    raise CaptureError(f"{name}: reported as existing but not found") from err
                self.check_restore_target(name, resource_tags(rds, cl, "DBClusterArn"), cluster_tags)
        else:
            self.check_restore_target(name, resource_tags(rds, cl, "DBClusterArn"), cluster_tags)
            started = cl.get("ClusterCreateTime") or started
        inst_id = instance_name(name)
        inst = describe_instances(rds, [inst_id]).get(inst_id)
        if inst is None:
            try:
                inst = rds.create_db_instance(
                    DBInstanceIdentifier=inst_id,
                    DBClusterIdentifier=name,
                    Engine=cl["Engine"],
                    DBInstanceClass=self.restore_instance_class,
                    PubliclyAccessible=False,
                    Tags=tag_list({**tags, "Name": inst_id}),
                )["DBInstance"]
            except ClientError as err:
                if error_code(err) not in _INSTANCE_EXISTS:
                    raise CaptureError(f"instance {inst_id} of {name}: {error_code(err)}: {err}") from err
                inst = describe_instances(rds, [inst_id]).get(inst_id)
        if inst is not None and inst.get("DBClusterIdentifier") != name:
            raise CaptureError(
                f"{inst_id} exists but belongs to {inst.get('DBClusterIdentifier')}, not {name}"
            )
        item = Restored(
            kind=self.name,
            resource_id=name,
            region=point.region,
            point_id=point.point_id,
            status=CREATING,
            started_at=started,
        )
        self._apply(item, cl, inst)
        return item

    @staticmethod
    def _apply(item: Restored, cl: dict[str, Any] | None, inst: dict[str, Any] | None) -> None:
        """Status of a restore: available only when the cluster and its instance both are."""
        inst_id = item.details.get("instance_id") or instance_name(item.resource_id)
        item.details["instance_id"] = inst_id
        if cl is None:
            item.status, item.error = MISSING, f"{item.resource_id} not found in {item.region}"
            return
        item.details.update(cluster_facts(cl))
        item.details["instance_status"] = inst.get("DBInstanceStatus") if inst else None
        cluster_state = restore_state(cl.get("Status"))
        inst_state = restore_state(inst.get("DBInstanceStatus")) if inst else MISSING
        item.error = None
        if cluster_state == FAILED:
            item.status, item.error = FAILED, f"{item.resource_id} is {cl.get('Status')}"
        elif cluster_state == MISSING:
            item.status, item.error = MISSING, f"{item.resource_id} is {cl.get('Status')}"
        elif inst is None or inst_state in (FAILED, MISSING):
            state = inst.get("DBInstanceStatus") if inst else "missing"
            item.status, item.error = FAILED, f"instance {inst_id} of {item.resource_id} is {state}"
        elif cluster_state == AVAILABLE and inst_state == AVAILABLE:
            item.status = AVAILABLE
        else:
            item.status = CREATING

    def restore_status(self, ctx: AwsContext, region: str, items: list[Restored]) -> list[Restored]:
        rds = ctx.client("rds", region)
        clusters = describe_clusters(rds, [i.resource_id for i in items])
        inst_ids = [i.details.get("instance_id") or instance_name(i.resource_id) for i in items]
        instances = describe_instances(rds, inst_ids)
        for item, inst_id in zip(items, inst_ids, strict=True):
            self._apply(item, clusters.get(item.resource_id), instances.get(inst_id))
        return items

    def validate(self, ctx: AwsContext, restored: Restored, expected: dict[str, Any]) -> list[str]:
        """Engine and version equal to the source's, storage encrypted, cluster and instance up.

        Aurora storage grows on demand: AllocatedStorage is not compared.
        """
        [fresh] = self.restore_status(ctx, restored.region, [restored])
        if fresh.status == MISSING:
            return [f"{restored.resource_id}: not found in {restored.region}"]
        problems = compare_facts(restored.resource_id, restored.details, expected, check_storage=False)
        if fresh.status != AVAILABLE:
            problems.insert(0, f"{restored.resource_id}: not available ({fresh.error or fresh.status})")
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
        """Delete the clusters carrying the tag: their instances first, then the cluster.

        Every member of a tagged cluster goes with it (a cluster cannot be deleted with members).
        """
        rds = ctx.client("rds", region)
        done: list[str] = []
        todo: dict[str, list[str]] = {}
        for page in rds.get_paginator("describe_db_clusters").paginate():
            for cl in page["DBClusters"]:
                if not has_tag(resource_tags(rds, cl, "DBClusterArn"), tag_key, tag_value, keep):
                    continue
                ident = cl["DBClusterIdentifier"]
                if cl.get("Status") == "deleting":
                    done.append(ident)
                else:
                    todo[ident] = [m["DBInstanceIdentifier"] for m in cl.get("DBClusterMembers") or []]

        def _one(ident: str) -> str:
            for member in todo[ident]:
                try:
                    rds.delete_db_instance(DBInstanceIdentifier=member, SkipFinalSnapshot=True)
                except ClientError as err:
                    code = error_code(err)
                    if code not in _INSTANCE_GONE and not code.startswith("InvalidDBInstanceState"):
                        return f"instance {member}: {code}: {err}"
            try:
                rds.delete_db_cluster(DBClusterIdentifier=ident, SkipFinalSnapshot=True)
            except ClientError as err:
                code = error_code(err)
                if code in _CLUSTER_GONE:
                    return "gone"
                now = describe_clusters(rds, [ident]).get(ident)
                if now is None or now.get("Status") == "deleting":
                    return "deleted"
                return f"{code}: {err}"
            return "deleted"

        errors = []
        for ident, outcome in run_bounded(_one, list(todo)).items():
            if outcome == "deleted":
                done.append(ident)
            elif outcome != "gone":
                errors.append(f"{ident}: {outcome}")
        if errors:
            raise CaptureError(f"cleanup in {region} left {len(errors)} cluster(s): " + "; ".join(errors))
        return done
