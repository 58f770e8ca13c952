"""Every AWS operation the product calls, the IAM actions it needs and how far they are granted.

This table is reviewed by hand and proved by tests (``tests/aws/test_iam.py``): it must list
exactly the operations the static scan of the code finds (:mod:`awsdr.iam.scan`), every
operation the emulator sees during a recorded cycle must be in it, and every IAM action must
exist for its service (botocore's service models; IAM-only action names are listed in
:data:`IAM_ONLY`).

Operation names are botocore's (``CreateSnapshot``); IAM names differ in places: S3 most of
all (``ListObjectVersions`` is ``s3:ListBucketVersions``, ``HeadObject`` is ``s3:GetObject``...).
Where AWS needs more than the operation's own action (a restore writes the table's items, a
copy uses the KMS key) the extra actions are listed with the operation.

Scopes (what :mod:`awsdr.iam.generate` turns into statements):

``read``        read-only, ``Resource: *`` in the policy's regions (most describes have no
                resource-level permissions).
``create``      makes a new recovery point, copy or restore (a new resource, nothing existing
                changes), in the policy's regions.
``managed``     deletes or changes an existing resource: only resources tagged
                ``awsdr:managed=true`` (``aws:ResourceTag``).
``verify``      a restore made by verification (``awsdr-v-*`` names) where the service has no
                usable tag condition (DynamoDB tables, S3 buckets).
``failover``    the resources the policy's ``failover`` section names (replicas, global
                clusters, standby groups and services, the DNS zone, fenced databases, tables
                and buckets), by ARN.
``buckets``     objects and settings of the product's own buckets: the catalog, the DR copy
                buckets (``<bucket>-dr-<region>``), the vault buckets, verification restores.
``sources``     reads of the protected buckets (selected by tags, so any bucket).
``kms``         the policy's KMS keys only (``kms:ResourceAliases`` or the key ARNs).
``notify``      the policy's SNS topic.
``untagged``    deletes of points AWS cannot tag or condition (DynamoDB backups): the code
                checks ownership first (the point's sidecar); IAM cannot.
``none``        needs no permission (``sts:GetCallerIdentity``).
"""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = (
    "read",
    "create",
    "managed",
    "verify",
    "failover",
    "buckets",
    "sources",
    "archived",
    "taskdefs",
    "kms",
    "notify",
    "untagged",
    "none",
)

#: IAM action names that are not botocore operation names (checked against this list instead).
IAM_ONLY = frozenset(
    {
        "cloudformation:TagResource",  # tags given to CreateStack/UpdateStack (tag on create)
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListAllMyBuckets",
        "s3:GetObjectVersion",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectVersion",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:ListMultipartUploadParts",
        "s3:BypassGovernanceRetention",
        "dynamodb:RestoreTableFromAwsBackup",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "lambda:InvokeFunction",
        "iam:PassRole",
    }
)


#: S3 operation names that are not IAM actions (IAM names them differently; see OPERATIONS).
NOT_IAM = frozenset(
    f"s3:{op}"
    for op in (
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateMultipartUpload",
        "DeleteBucketLifecycle",
        "DeleteObjects",
        "GetBucketEncryption",
        "GetBucketLifecycleConfiguration",
        "GetBucketReplication",
        "GetObjectLockConfiguration",
        "HeadBucket",
        "HeadObject",
        "ListBuckets",
        "ListObjectVersions",
        "ListObjectsV2",
        "PutBucketEncryption",
        "PutBucketLifecycleConfiguration",
        "PutObjectLockConfiguration",
        "PutPublicAccessBlock",
        "UploadPart",
        "UploadPartCopy",
    )
)


@dataclass(frozen=True)
class Use:
    """How the product uses one operation.

    :param actions: the IAM actions the call needs (the operation's own first).
    :param scope: one of :data:`SCOPES`.
    :param kms: the service encrypts or decrypts with a KMS key on the caller's behalf (copies,
        restores, exports): the caller needs :data:`KMS_DATA` on the key.
    """

    actions: tuple[str, ...]
    scope: str
    kms: bool = False


def _u(scope: str, *actions: str, kms: bool = False) -> Use:
    return Use(tuple(actions), scope, kms)


#: What an AWS service needs on a KMS key to copy, restore or export encrypted data for the caller.
KMS_DATA = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


#: (boto3 service name, botocore operation) -> use. Keep sorted by service, then operation.
OPERATIONS: dict[tuple[str, str], Use] = {
    # --- Auto Scaling: standby groups (failover) and drill copies (tagged, managed) ---
    # --- CloudFormation: the failover section's stacks (deployed, updated; drill copies deleted) ---
    ("cloudformation", "CreateStack"): _u(
        "failover", "cloudformation:CreateStack", "cloudformation:TagResource"
    ),
    ("cloudformation", "DeleteStack"): _u("failover", "cloudformation:DeleteStack"),
    ("cloudformation", "DescribeStacks"): _u("read", "cloudformation:DescribeStacks"),
    ("cloudformation", "UpdateStack"): _u(
        "failover", "cloudformation:UpdateStack", "cloudformation:TagResource"
    ),
    ("cloudformation", "ValidateTemplate"): _u("read", "cloudformation:ValidateTemplate"),
    ("autoscaling", "CreateAutoScalingGroup"): _u(
        "create", "autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags", "ec2:RunInstances"
    ),
    ("autoscaling", "DeleteAutoScalingGroup"): _u("managed", "autoscaling:DeleteAutoScalingGroup"),
    ("autoscaling", "DescribeAutoScalingGroups"): _u("read", "autoscaling:DescribeAutoScalingGroups"),
    ("autoscaling", "UpdateAutoScalingGroup"): _u("failover", "autoscaling:UpdateAutoScalingGroup"),
    # --- CloudWatch: posture metrics, replication lag ---
    ("cloudwatch", "GetMetricStatistics"): _u("read", "cloudwatch:GetMetricStatistics"),
    ("cloudwatch", "PutMetricData"): _u("create", "cloudwatch:PutMetricData"),
    # --- DynamoDB ---
    ("dynamodb", "BatchWriteItem"): _u("verify", "dynamodb:BatchWriteItem"),
    ("dynamodb", "CreateBackup"): _u("create", "dynamodb:CreateBackup"),
    ("dynamodb", "DeleteBackup"): _u("untagged", "dynamodb:DeleteBackup"),
    ("dynamodb", "DeleteResourcePolicy"): _u("failover", "dynamodb:DeleteResourcePolicy"),
    ("dynamodb", "DeleteTable"): _u("verify", "dynamodb:DeleteTable"),
    ("dynamodb", "DescribeBackup"): _u("read", "dynamodb:DescribeBackup"),
    ("dynamodb", "DescribeContinuousBackups"): _u("read", "dynamodb:DescribeContinuousBackups"),
    ("dynamodb", "DescribeExport"): _u("read", "dynamodb:DescribeExport"),
    ("dynamodb", "DescribeImport"): _u("read", "dynamodb:DescribeImport"),
    ("dynamodb", "DescribeTable"): _u("read", "dynamodb:DescribeTable"),
    # the export writes into the catalog/vault bucket with the caller's permissions
    ("dynamodb", "ExportTableToPointInTime"): _u(
        "create", "dynamodb:ExportTableToPointInTime", "s3:PutObject", "s3:AbortMultipartUpload", kms=True
    ),
    ("dynamodb", "GetResourcePolicy"): _u("read", "dynamodb:GetResourcePolicy"),
    # ImportTable creates the table and reads the export (AWS: s3:GetObject, s3:ListBucket, logs)
    ("dynamodb", "ImportTable"): _u(
        "create",
        "dynamodb:ImportTable",
        "dynamodb:CreateTable",
        "s3:GetObject",
        "s3:ListBucket",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:PutRetentionPolicy",
        kms=True,
    ),
    ("dynamodb", "ListBackups"): _u("read", "dynamodb:ListBackups"),
    ("dynamodb", "ListExports"): _u("read", "dynamodb:ListExports"),
    ("dynamodb", "ListTables"): _u("read", "dynamodb:ListTables"),
    ("dynamodb", "ListTagsOfResource"): _u("read", "dynamodb:ListTagsOfResource"),
    ("dynamodb", "PutResourcePolicy"): _u("failover", "dynamodb:PutResourcePolicy"),
    # a restore writes the new table's items (AWS documents these for RestoreTableFromBackup)
    ("dynamodb", "RestoreTableFromBackup"): _u(
        "create",
        "dynamodb:RestoreTableFromBackup",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        kms=True,
    ),
    ("dynamodb", "Scan"): _u("read", "dynamodb:Scan"),
    ("dynamodb", "TagResource"): _u("verify", "dynamodb:TagResource"),
    ("dynamodb", "UpdateContinuousBackups"): _u("failover", "dynamodb:UpdateContinuousBackups"),
    # --- EC2: EBS snapshots, AMIs, verification volumes and instances ---
    ("ec2", "CopyImage"): _u("create", "ec2:CopyImage", "ec2:CreateTags", kms=True),
    ("ec2", "CopySnapshot"): _u("create", "ec2:CopySnapshot", "ec2:CreateTags", kms=True),
    ("ec2", "CreateImage"): _u("create", "ec2:CreateImage", "ec2:CreateTags", kms=True),
    ("ec2", "CreateSnapshot"): _u("create", "ec2:CreateSnapshot", "ec2:CreateTags", kms=True),
    ("ec2", "CreateSecurityGroup"): _u("create", "ec2:CreateSecurityGroup", "ec2:CreateTags"),
    ("ec2", "CreateTags"): _u("managed", "ec2:CreateTags"),
    ("ec2", "CreateVolume"): _u("create", "ec2:CreateVolume", "ec2:CreateTags", kms=True),
    ("ec2", "DeleteSnapshot"): _u("managed", "ec2:DeleteSnapshot"),
    ("ec2", "DeleteVolume"): _u("managed", "ec2:DeleteVolume"),
    ("ec2", "DeregisterImage"): _u("managed", "ec2:DeregisterImage"),
    ("ec2", "DescribeAvailabilityZones"): _u("read", "ec2:DescribeAvailabilityZones"),
    ("ec2", "DescribeImages"): _u("read", "ec2:DescribeImages"),
    ("ec2", "DescribeInstances"): _u("read", "ec2:DescribeInstances"),
    ("ec2", "DescribeSecurityGroups"): _u("read", "ec2:DescribeSecurityGroups"),
    ("ec2", "DescribeSnapshots"): _u("read", "ec2:DescribeSnapshots"),
    ("ec2", "DescribeVolumes"): _u("read", "ec2:DescribeVolumes"),
    ("ec2", "DescribeVpcs"): _u("read", "ec2:DescribeVpcs"),
    ("ec2", "ModifyImageAttribute"): _u("managed", "ec2:ModifyImageAttribute"),
    ("ec2", "ModifySnapshotAttribute"): _u("managed", "ec2:ModifySnapshotAttribute"),
    ("ec2", "ModifySnapshotTier"): _u("managed", "ec2:ModifySnapshotTier"),
    ("ec2", "RestoreSnapshotTier"): _u("managed", "ec2:RestoreSnapshotTier"),
    ("ec2", "RunInstances"): _u("create", "ec2:RunInstances", "ec2:CreateTags", kms=True),
    ("ec2", "TerminateInstances"): _u("managed", "ec2:TerminateInstances"),
    # --- ECS: standby services (failover) and drill copies (tagged, managed) ---
    ("ecs", "CreateService"): _u("create", "ecs:CreateService", "ecs:TagResource"),
    ("ecs", "DeleteService"): _u("managed", "ecs:DeleteService"),
    ("ecs", "DescribeServices"): _u("read", "ecs:DescribeServices"),
    ("ecs", "DescribeTaskDefinition"): _u("read", "ecs:DescribeTaskDefinition"),
    ("ecs", "ListServices"): _u("read", "ecs:ListServices"),
    # a standby pulling from the primary region's registry gets a revision pointing at the DR copies
    ("ecs", "RegisterTaskDefinition"): _u(
        "taskdefs", "ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole"
    ),
    ("ecs", "UpdateService"): _u("failover", "ecs:UpdateService"),
    # --- KMS: the policy's keys ---
    ("kms", "CreateGrant"): _u("kms", "kms:CreateGrant"),
    ("kms", "DescribeKey"): _u("kms", "kms:DescribeKey"),
    ("kms", "ListAliases"): _u("read", "kms:ListAliases"),
    # --- RDS and Aurora ---
    ("rds", "AddTagsToResource"): _u("managed", "rds:AddTagsToResource"),
    ("rds", "CopyDBClusterSnapshot"): _u(
        "create", "rds:CopyDBClusterSnapshot", "rds:AddTagsToResource", kms=True
    ),
    ("rds", "CopyDBSnapshot"): _u("create", "rds:CopyDBSnapshot", "rds:AddTagsToResource", kms=True),
    ("rds", "CreateDBClusterSnapshot"): _u(
        "create", "rds:CreateDBClusterSnapshot", "rds:AddTagsToResource", kms=True
    ),
    ("rds", "CreateDBInstance"): _u("create", "rds:CreateDBInstance", "rds:AddTagsToResource"),
    ("rds", "CreateDBInstanceReadReplica"): _u("failover", "rds:CreateDBInstanceReadReplica"),
    ("rds", "CreateDBSnapshot"): _u("create", "rds:CreateDBSnapshot", "rds:AddTagsToResource", kms=True),
    ("rds", "DeleteDBCluster"): _u("managed", "rds:DeleteDBCluster"),
    ("rds", "DeleteDBClusterSnapshot"): _u("managed", "rds:DeleteDBClusterSnapshot"),
    ("rds", "DeleteDBInstance"): _u("managed", "rds:DeleteDBInstance"),
    ("rds", "DeleteDBSnapshot"): _u("managed", "rds:DeleteDBSnapshot"),
    ("rds", "DescribeDBClusterSnapshots"): _u("read", "rds:DescribeDBClusterSnapshots"),
    ("rds", "DescribeDBClusters"): _u("read", "rds:DescribeDBClusters"),
    ("rds", "DescribeDBInstances"): _u("read", "rds:DescribeDBInstances"),
    ("rds", "DescribeDBSnapshots"): _u("read", "rds:DescribeDBSnapshots"),
    ("rds", "DescribeDBSubnetGroups"): _u("read", "rds:DescribeDBSubnetGroups"),
    ("rds", "DescribeGlobalClusters"): _u("read", "rds:DescribeGlobalClusters"),
    ("rds", "FailoverGlobalCluster"): _u("failover", "rds:FailoverGlobalCluster"),
    ("rds", "ListTagsForResource"): _u("read", "rds:ListTagsForResource"),
    ("rds", "ModifyDBCluster"): _u("failover", "rds:ModifyDBCluster"),
    ("rds", "ModifyDBClusterSnapshotAttribute"): _u("managed", "rds:ModifyDBClusterSnapshotAttribute"),
    ("rds", "ModifyDBSnapshotAttribute"): _u("managed", "rds:ModifyDBSnapshotAttribute"),
    ("rds", "PromoteReadReplica"): _u("failover", "rds:PromoteReadReplica"),
    ("rds", "PromoteReadReplicaDBCluster"): _u("failover", "rds:PromoteReadReplicaDBCluster"),
    ("rds", "RebootDBInstance"): _u("failover", "rds:RebootDBInstance"),
    ("rds", "RestoreDBClusterFromSnapshot"): _u(
        "create", "rds:RestoreDBClusterFromSnapshot", "rds:AddTagsToResource", kms=True
    ),
    ("rds", "RestoreDBInstanceFromDBSnapshot"): _u(
        "create", "rds:RestoreDBInstanceFromDBSnapshot", "rds:AddTagsToResource", kms=True
    ),
    ("rds", "StopDBCluster"): _u("failover", "rds:StopDBCluster"),
    ("rds", "StopDBInstance"): _u("failover", "rds:StopDBInstance"),
    # --- Resource Groups Tagging API: discovery by tags ---
    ("resourcegroupstaggingapi", "GetResources"): _u("read", "tag:GetResources"),
    # --- Route 53: the traffic step and health checks (global) ---
    ("route53", "ChangeResourceRecordSets"): _u("failover", "route53:ChangeResourceRecordSets"),
    ("route53", "GetChange"): _u("read", "route53:GetChange"),
    ("route53", "GetHealthCheckStatus"): _u("read", "route53:GetHealthCheckStatus"),
    ("route53", "ListHealthChecks"): _u("read", "route53:ListHealthChecks"),
    ("route53", "ListHostedZonesByName"): _u("read", "route53:ListHostedZonesByName"),
    ("route53", "ListResourceRecordSets"): _u("read", "route53:ListResourceRecordSets"),
    ("route53", "ListTagsForResources"): _u("read", "route53:ListTagsForResources"),
    # --- ECR: repositories are read; images go into DR repositories this product made (tagged) ---
    ("ecr", "BatchCheckLayerAvailability"): _u("read", "ecr:BatchCheckLayerAvailability"),
    ("ecr", "BatchDeleteImage"): _u("managed", "ecr:BatchDeleteImage"),
    ("ecr", "BatchGetImage"): _u("read", "ecr:BatchGetImage"),
    ("ecr", "CompleteLayerUpload"): _u("managed", "ecr:CompleteLayerUpload"),
    ("ecr", "CreateRepository"): _u("create", "ecr:CreateRepository", "ecr:TagResource", kms=True),
    ("ecr", "DescribeImages"): _u("read", "ecr:DescribeImages"),
    ("ecr", "DescribeRepositories"): _u("read", "ecr:DescribeRepositories"),
    ("ecr", "GetDownloadUrlForLayer"): _u("read", "ecr:GetDownloadUrlForLayer"),
    ("ecr", "InitiateLayerUpload"): _u("managed", "ecr:InitiateLayerUpload"),
    ("ecr", "ListTagsForResource"): _u("read", "ecr:ListTagsForResource"),
    ("ecr", "PutImage"): _u("managed", "ecr:PutImage", kms=True),
    ("ecr", "UploadLayerPart"): _u("managed", "ecr:UploadLayerPart"),
    # --- Lambda: functions are read; verification makes, invokes and deletes its own ---
    # (CreateFunction also needs iam:PassRole on the function's role, granted to Lambda only)
    ("lambda", "CreateFunction"): _u("create", "lambda:CreateFunction", "lambda:TagResource", "iam:PassRole"),
    ("lambda", "DeleteFunction"): _u("managed", "lambda:DeleteFunction"),
    ("lambda", "GetFunction"): _u("read", "lambda:GetFunction"),
    ("lambda", "Invoke"): _u("verify", "lambda:InvokeFunction"),
    ("lambda", "ListFunctions"): _u("read", "lambda:ListFunctions"),
    ("lambda", "ListTags"): _u("read", "lambda:ListTags"),
    # --- S3: sources are read; only the product's buckets are written ---
    ("s3", "AbortMultipartUpload"): _u("buckets", "s3:AbortMultipartUpload"),
    ("s3", "CompleteMultipartUpload"): _u("buckets", "s3:PutObject"),
    ("s3", "CopyObject"): _u(
        "buckets", "s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObjectTagging", kms=True
    ),
    ("s3", "CreateBucket"): _u("buckets", "s3:CreateBucket", "s3:PutBucketObjectLockConfiguration"),
    ("s3", "CreateMultipartUpload"): _u("buckets", "s3:PutObject"),
    ("s3", "DeleteBucketLifecycle"): _u("buckets", "s3:PutLifecycleConfiguration"),
    ("s3", "DeleteBucketPolicy"): _u("failover", "s3:DeleteBucketPolicy"),
    ("s3", "DeleteObject"): _u("buckets", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("s3", "DeleteObjects"): _u("buckets", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("s3", "GetBucketEncryption"): _u("sources", "s3:GetEncryptionConfiguration"),
    ("s3", "GetBucketLifecycleConfiguration"): _u("buckets", "s3:GetLifecycleConfiguration"),
    ("s3", "GetBucketLocation"): _u("sources", "s3:GetBucketLocation"),
    ("s3", "GetBucketPolicy"): _u("sources", "s3:GetBucketPolicy"),
    ("s3", "GetBucketReplication"): _u("sources", "s3:GetReplicationConfiguration"),
    ("s3", "GetBucketTagging"): _u("sources", "s3:GetBucketTagging"),
    ("s3", "GetBucketVersioning"): _u("sources", "s3:GetBucketVersioning"),
    ("s3", "GetObject"): _u("sources", "s3:GetObject", "s3:GetObjectVersion"),
    ("s3", "GetObjectLockConfiguration"): _u("sources", "s3:GetBucketObjectLockConfiguration"),
    ("s3", "GetObjectTagging"): _u("sources", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    ("s3", "HeadBucket"): _u("sources", "s3:ListBucket"),
    ("s3", "HeadObject"): _u("sources", "s3:GetObject", "s3:GetObjectVersion"),
    ("s3", "ListBuckets"): _u("read", "s3:ListAllMyBuckets"),
    ("s3", "ListObjectVersions"): _u("sources", "s3:ListBucketVersions"),
    ("s3", "ListObjectsV2"): _u("sources", "s3:ListBucket"),
    ("s3", "PutBucketEncryption"): _u("buckets", "s3:PutEncryptionConfiguration"),
    ("s3", "PutBucketLifecycleConfiguration"): _u("buckets", "s3:PutLifecycleConfiguration"),
    ("s3", "PutBucketPolicy"): _u("failover", "s3:PutBucketPolicy"),
    ("s3", "PutBucketTagging"): _u("buckets", "s3:PutBucketTagging"),
    ("s3", "PutBucketVersioning"): _u("buckets", "s3:PutBucketVersioning"),
    ("s3", "PutObject"): _u("buckets", "s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectRetention"),
    ("s3", "PutObjectLockConfiguration"): _u("buckets", "s3:PutBucketObjectLockConfiguration"),
    ("s3", "PutObjectTagging"): _u("buckets", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    ("s3", "PutPublicAccessBlock"): _u("buckets", "s3:PutBucketPublicAccessBlock"),
    # an archived version (GLACIER, DEEP_ARCHIVE) is restored before it is copied or restored: in
    # a source bucket whose own lifecycle archived it, or in a DR bucket by the archive rule
    ("s3", "RestoreObject"): _u("archived", "s3:RestoreObject"),
    ("s3", "UploadPartCopy"): _u("buckets", "s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", kms=True),
    # --- SNS: the policy's topic ---
    ("sns", "GetTopicAttributes"): _u("notify", "sns:GetTopicAttributes"),
    ("sns", "Publish"): _u("notify", "sns:Publish"),
    # --- STS ---
    ("sts", "GetCallerIdentity"): _u("none"),
}

#: IAM service prefix -> boto3 service name (where they differ), for the botocore name check.
SERVICE_OF_PREFIX = {"tag": "resourcegroupstaggingapi", "logs": "logs"}
