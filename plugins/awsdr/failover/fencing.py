"""Fencing (failover) and write freezes (failback), per engine.

A failover away from a primary that still answers must stop writes there before anything is
promoted in the DR region, or both regions take writes (split brain). A failback must stop writes
in the DR region before the last data is sent home, or those writes are lost. The mechanisms:

==========================  ============================================  =========================================
resource                    fence (failover, in the primary)              freeze (failback, in the DR region)
==========================  ============================================  =========================================
DynamoDB table              resource policy ``Deny`` of every write API   the same policy on the DR table
                            to every principal but this runner
S3 bucket                   bucket policy statement ``Deny`` PutObject /  the same statement on the DR bucket
                            DeleteObject* to every principal but the
                            runner
RDS instance                stopped (``StopDBInstance``); with a cross-   the database's record (``databases[].dns``)
                            region read replica AWS refuses to stop the   moved to the home read replica, which
                            source, so it is stopped right after the      refuses writes until it is promoted at
                            promotion, and the database's record moves    zero lag (reverse replication)
                            to the read-only replica before it
Aurora global database      the switchover itself (``Switchover=True``:   the switchover back (no data loss)
                            Aurora makes the old writer read-only first)
Aurora cluster              stopped (``StopDBCluster``) where AWS allows  security groups replaced by one with no
                            it, else after the promotion, as RDS          inbound rule, writer rebooted (it stays
                                                                          available for the snapshot sent home)
==========================  ============================================  =========================================

An unreachable primary (connection refused or timed out, 5xx) cannot be fenced: it is recorded
as ``not fenced`` and the approval shows it. The policies carry a ``Sid`` of this product
(``awsdr-fence``, ``awsdr-freeze``) and are merged with the resource's own policy, never replace
it; lifting one removes only that statement.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from awsdr.aws.context import error_code

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

FENCE_SID = "awsdr-fence"
FREEZE_SID = "awsdr-freeze"

#: Every DynamoDB API that changes items.
DYNAMODB_WRITES = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
]
#: Every S3 API that writes or deletes objects.
S3_WRITES = [
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:RestoreObject",
]
#: Errors that mean "the region (or service endpoint) does not answer", not "no such resource".
_DOWN_CODES = frozenset(
    {"InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException", "503", "500"}
)
_MISSING_CODES = frozenset(
    {"DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault", "ResourceNotFoundException"}
)
_MISSING_CODES |= {"NoSuchBucket", "404", "NotFound"}


def runner_principal(ctx: AwsContext, region: str) -> str:
    """The ARN fences exempt: this runner's role (an assumed-role session maps to its role)."""
    arn = str(ctx.client("sts", region).get_caller_identity()["Arn"])
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


def probe(ctx: AwsContext, kind: str, region: str, name: str) -> tuple[str, str]:
    """Whether ``name`` in ``region`` answers: ``(reachable | unreachable | missing, detail)``.

    One read-only describe through :meth:`AwsContext.probe_client` (two attempts, short timeouts:
    seconds, not minutes, per resource of a dead region). Connection errors, timeouts and 5xx
    answers are ``unreachable``.
    """
    try:
        if kind == "rds":
            db = ctx.probe_client("rds", region).describe_db_instances(DBInstanceIdentifier=name)[
                "DBInstances"
            ][0]
            return "reachable", f"{name} is {db.get('DBInstanceStatus')}"
        if kind == "aurora":
            cl = ctx.probe_client("rds", region).describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][
                0
            ]
            return "reachable", f"{name} is {cl.get('Status')}"
        if kind == "dynamodb":
            table = ctx.probe_client("dynamodb", region).describe_table(TableName=name)["Table"]
            return "reachable", f"{name} is {table.get('TableStatus')}"
        ctx.probe_client("s3", region).head_bucket(Bucket=name)
        return "reachable", f"bucket {name} answers"
    except ClientError as err:
        code = error_code(err)
        if code in _MISSING_CODES:
            return "missing", f"{name} not found in {region} ({code})"
        if code in _DOWN_CODES:
            return "unreachable", f"{region} answers {code}"
        return "reachable", f"{name} answers {code}"
    except BotoCoreError as err:  # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError...
        return "unreachable", f"{region} does not answer: {type(err).__name__}"


def _deny_statement(sid: str, actions: list[str], resources: list[str], exempt: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resources,
        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": exempt}},
    }


def _merged(policy: str | None, statement: dict[str, Any]) -> tuple[str, bool]:
    doc: dict[str, Any] = json.loads(policy) if policy else {"Version": "2012-10-17", "Statement": []}
    statements = [s for s in doc.get("Statement", []) if s.get("Sid") != statement["Sid"]]
    changed = len(statements) == len(doc.get("Statement", []))
    doc["Statement"] = [*statements, statement]
    return json.dumps(doc, sort_keys=True), changed


def _without(policy: str | None, sid: str) -> tuple[str | None, bool]:
    if not policy:
        return None, False
    doc = json.loads(policy)
    statements = doc.get("Statement", [])
    kept = [s for s in statements if s.get("Sid") != sid]
    if len(kept) == len(statements):
        return policy, False
    if not kept:
        return None, True
    doc["Statement"] = kept
    return json.dumps(doc, sort_keys=True), True


# --- DynamoDB -------------------------------------------------------------------------------------


def _table_policy(client: Any, arn: str) -> str | None:
    try:
        return str(client.get_resource_policy(ResourceArn=arn)["Policy"])
    except ClientError as err:
        if error_code(err) in ("PolicyNotFoundException", "ResourceNotFoundException"):
            return None
        raise


def deny_table_writes(ctx: AwsContext, region: str, table: str, sid: str) -> bool:
    """Deny item writes on ``table`` to all but this runner; False when the statement was there."""
    client = ctx.client("dynamodb", region)
    arn = str(client.describe_table(TableName=table)["Table"]["TableArn"])
    current = _table_policy(client, arn)
    statement = _deny_statement(sid, DYNAMODB_WRITES, [arn, f"{arn}/*"], runner_principal(ctx, region))
    doc, changed = _merged(current, statement)
    if changed:
        client.put_resource_policy(ResourceArn=arn, Policy=doc)
    return changed


def table_denies_writes(ctx: AwsContext, region: str, table: str, sid: str) -> bool:
    client = ctx.client("dynamodb", region)
    arn = str(client.describe_table(TableName=table)["Table"]["TableArn"])
    current = _table_policy(client, arn)
    return bool(current) and any(
        s.get("Sid") == sid for s in json.loads(current or "{}").get("Statement", [])
    )


def allow_table_writes(ctx: AwsContext, region: str, table: str, sid: str) -> bool:
    """Remove this product's statement ``sid``; False when it was not there."""
    client = ctx.client("dynamodb", region)
    arn = str(client.describe_table(TableName=table)["Table"]["TableArn"])
    doc, changed = _without(_table_policy(client, arn), sid)
    if not changed:
        return False
    if doc is None:
        client.delete_resource_policy(ResourceArn=arn)
    else:
        client.put_resource_policy(ResourceArn=arn, Policy=doc)
    return True


# --- S3 -------------------------------------------------------------------------------------------


def _bucket_policy(client: Any, bucket: str) -> str | None:
    try:
        return str(client.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as err:
        if error_code(err) in ("NoSuchBucketPolicy",):
            return None
        raise


def deny_bucket_writes(ctx: AwsContext, region: str, bucket: str, sid: str) -> bool:
    """Deny object writes and deletes in ``bucket`` to all but this runner."""
    client = ctx.client("s3", region)
    arn = f"arn:aws:s3:::{bucket}/*"
    statement = _deny_statement(sid, S3_WRITES, [arn], runner_principal(ctx, region))
    doc, changed = _merged(_bucket_policy(client, bucket), statement)
    if changed:
        client.put_bucket_policy(Bucket=bucket, Policy=doc)
    return changed


def bucket_denies_writes(ctx: AwsContext, region: str, bucket: str, sid: str) -> bool:
    current = _bucket_policy(ctx.client("s3", region), bucket)
    return bool(current) and any(
        s.get("Sid") == sid for s in json.loads(current or "{}").get("Statement", [])
    )


def allow_bucket_writes(ctx: AwsContext, region: str, bucket: str, sid: str) -> bool:
    client = ctx.client("s3", region)
    doc, changed = _without(_bucket_policy(client, bucket), sid)
    if not changed:
        return False
    if doc is None:
        client.delete_bucket_policy(Bucket=bucket)
    else:
        client.put_bucket_policy(Bucket=bucket, Policy=doc)
    return True


# --- RDS / Aurora -----------------------------------------------------------------------------------

STOPPED = "stopped"
STOPPING = "stopping"
BLOCKED = "blocked"


def stop_instance(ctx: AwsContext, region: str, ident: str) -> tuple[str, str]:
    """Stop the DB instance ``ident``: ``(stopped | stopping | blocked, detail)``.

    ``blocked``: AWS refuses now (it still has a read replica, or is busy); the caller tries again
    on its next round.
    """
    rds = ctx.client("rds", region)
    db = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    status = db.get("DBInstanceStatus")
    if status == "stopped":
        return STOPPED, f"{ident} is stopped"
    if status == "stopping":
        return STOPPING, f"{ident} is stopping"
    replicas = db.get("ReadReplicaDBInstanceIdentifiers") or []
    if replicas:
        return BLOCKED, f"{ident} still has read replica(s) {', '.join(replicas)} (AWS refuses to stop it)"
    try:
        rds.stop_db_instance(DBInstanceIdentifier=ident)
    except ClientError as err:
        return BLOCKED, f"StopDBInstance {ident}: {error_code(err)}"
    return STOPPING, f"StopDBInstance {ident}"


def stop_cluster(ctx: AwsContext, region: str, ident: str) -> tuple[str, str]:
    """Stop the Aurora cluster ``ident`` (same outcomes as :func:`stop_instance`)."""
    rds = ctx.client("rds", region)
    cl = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
    status = cl.get("Status")
    if status == "stopped":
        return STOPPED, f"{ident} is stopped"
    if status == "stopping":
        return STOPPING, f"{ident} is stopping"
    replicas = cl.get("ReadReplicaIdentifiers") or []
    if replicas:
        return BLOCKED, f"{ident} still has replica cluster(s) {', '.join(replicas)}"
    try:
        rds.stop_db_cluster(DBClusterIdentifier=ident)
    except ClientError as err:
        return BLOCKED, f"StopDBCluster {ident}: {error_code(err)}"
    return STOPPING, f"StopDBCluster {ident}"


# --- Aurora write freeze (failback without a global database) ---------------------------------------

#: The security groups a frozen cluster had, comma-joined ("none"), to lift the freeze by hand.
TAG_FREEZE_GROUPS = "awsdr:freeze-groups"
#: The run that froze the cluster.
TAG_FROZEN_BY = "awsdr:frozen-by"
FROZEN = "frozen"
FREEZING = "freezing"


def freeze_group_name(cluster: str) -> str:
    return f"awsdr-freeze-{cluster}"[:255]


def _cluster_vpc(ctx: AwsContext, region: str, cluster: dict[str, Any]) -> str | None:
    """The VPC of an Aurora cluster: its subnet group's, else its security groups', else the default."""
    rds, ec2 = ctx.client("rds", region), ctx.client("ec2", region)
    group = cluster.get("DBSubnetGroup")
    if group:
        try:
            found = rds.describe_db_subnet_groups(DBSubnetGroupName=group)["DBSubnetGroups"]
            if found and found[0].get("VpcId"):
                return str(found[0]["VpcId"])
        except ClientError as err:
            log.warning(
                "subnet group %s of %s: %s", group, cluster.get("DBClusterIdentifier"), error_code(err)
            )
    ids = [
        g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups") or [] if g.get("VpcSecurityGroupId")
    ]
    if ids:
        groups = ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"]
        if groups and groups[0].get("VpcId"):
            return str(groups[0]["VpcId"])
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return str(vpcs[0]["VpcId"]) if vpcs else None


def _freeze_group(ctx: AwsContext, region: str, vpc: str | None, cluster: str) -> str:
    """The freeze security group of ``cluster`` (no inbound rule), found by name or made once."""
    ec2 = ctx.client("ec2", region)
    name = freeze_group_name(cluster)
    filters = [{"Name": "group-name", "Values": [name]}] + (
        [{"Name": "vpc-id", "Values": [vpc]}] if vpc else []
    )
    found = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    if found:
        return str(found[0]["GroupId"])
    kwargs: dict[str, Any] = {
        "GroupName": name,
        "Description": f"awsdr write freeze of {cluster}: no inbound rule",
        "TagSpecifications": [
            {
                "ResourceType": "security-group",
                "Tags": [
                    {"Key": "awsdr:managed", "Value": "true"},
                    {"Key": "awsdr:freeze-of", "Value": cluster},
                ],
            }
        ],
    }
    if vpc:
        kwargs["VpcId"] = vpc
    try:
        return str(ec2.create_security_group(**kwargs)["GroupId"])
    except ClientError as err:
        if error_code(err) != "InvalidGroup.Duplicate":
            raise
        return str(ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"])


def freeze_cluster(
    ctx: AwsContext, region: str, cluster: str, run_id: str, memo: dict[str, Any]
) -> tuple[str, str]:
    """Stop every client write to the Aurora cluster ``cluster`` while it stays available.

    A cluster must be ``available`` for a snapshot, so it is not stopped: its VPC security groups
    are replaced by ``awsdr-freeze-<cluster>`` (no inbound rule; the originals are kept in the
    cluster's tag ``awsdr:freeze-groups``), so no client can connect, and its writer is rebooted
    once so that the sessions already open end. ``(frozen | freezing, detail)``: frozen when the
    cluster and its writer are available again under the freeze group alone. Idempotent; ``memo``
    (one per step and run) holds the reboot and the start time.
    """
    from awsdr.kinds._rds_common import describe_clusters, describe_instances, resource_tags

    rds = ctx.client("rds", region)
    cl = describe_clusters(rds, [cluster]).get(cluster)
    if cl is None:
        raise LookupError(f"Aurora cluster {cluster} not found in {region}: nothing to freeze")
    current = [
        g["VpcSecurityGroupId"] for g in cl.get("VpcSecurityGroups") or [] if g.get("VpcSecurityGroupId")
    ]
    group = memo.get("group") or _freeze_group(ctx, region, _cluster_vpc(ctx, region, cl), cluster)
    memo["group"] = group
    tags = resource_tags(rds, cl, "DBClusterArn")
    original = tags.get(TAG_FREEZE_GROUPS) or ",".join(g for g in current if g != group) or "none"
    done: list[str] = []
    if current != [group]:
        # the originals first (a retry after a kill here finds them in the tag, not the freeze group)
        rds.add_tags_to_resource(
            ResourceName=cl["DBClusterArn"],
            Tags=[{"Key": TAG_FREEZE_GROUPS, "Value": original}, {"Key": TAG_FROZEN_BY, "Value": run_id}],
        )
        rds.modify_db_cluster(DBClusterIdentifier=cluster, VpcSecurityGroupIds=[group], ApplyImmediately=True)
        done.append(f"security groups {original} -> {group} (no inbound rule)")
    memo.setdefault("original_groups", original)
    members = cl.get("DBClusterMembers") or []
    writer = next((m["DBInstanceIdentifier"] for m in members if m.get("IsClusterWriter")), None)
    if writer and "rebooted" not in memo:
        try:
            rds.reboot_db_instance(DBInstanceIdentifier=writer)
        except ClientError as err:
            if not error_code(err).startswith("InvalidDBInstanceState"):
                raise
            return FREEZING, "; ".join([*done, f"{writer} not rebootable yet ({error_code(err)})"])
        memo["rebooted"] = writer
        done.append(f"writer {writer} rebooted (open sessions end)")
    cl = describe_clusters(rds, [cluster]).get(cluster) or cl
    status = (
        describe_instances(rds, [writer]).get(writer, {}).get("DBInstanceStatus") if writer else "available"
    )
    if cl.get("Status") != "available" or status != "available":
        return FREEZING, "; ".join([*done, f"{cluster} {cl.get('Status')}, writer {writer} {status}"])
    return FROZEN, (
        f"{cluster}: only {group} (no inbound rule) since its writer {writer or '-'} rebooted; "
        f"its own groups ({memo['original_groups']}) are in the tag {TAG_FREEZE_GROUPS}"
    )
