"""Least-privilege IAM policies from the DR policy and the reviewed operation table.

:func:`runner_policies` gives the runner role's managed policies (the ``aws_default``
connection, acting in the primary and DR regions), :func:`vault_policy` the vault role's (the
``aws_dr_vault`` connection, in the vault account). Each document stays under IAM's 6,144
character limit for a managed policy (:data:`MAX_CHARS`, whitespace not counted).

Resources come from the policy: its regions, the catalog bucket, the KMS keys, the SNS topic and
everything the ``failover`` section names. The account id is ``*`` unless given.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from awsdr.catalog import LOCKED_PREFIXES
from awsdr.iam.actions import KMS_DATA, OPERATIONS, Use
from awsdr.policy import AsgStandby, EcsStandby

if TYPE_CHECKING:
    from awsdr.policy import Policy

MAX_CHARS = 6144
MANAGED_TAG = "aws:ResourceTag/awsdr:managed"
DRILL_TAG = "aws:ResourceTag/awsdr:drill"
VERIFY_TAG = "aws:ResourceTag/awsdr:verify-run"
#: Tags that make a resource deletable by the runner: never added to an existing instance or volume.
OWNERSHIP_TAGS = ("awsdr:managed", "awsdr:drill", "awsdr:verify-run")
#: Names of the temporary resources restore verification makes (``awsdr.verify.verify_name``).
VERIFY_PREFIX = "awsdr-v"
#: Catalog prefixes written under S3 Object Lock.
AUDIT_PREFIXES = LOCKED_PREFIXES
#: Item-level DynamoDB actions a restore needs on the new table.
TABLE_ITEMS = frozenset(
    f"dynamodb:{a}"
    for a in ("PutItem", "UpdateItem", "DeleteItem", "GetItem", "Query", "Scan", "BatchWriteItem")
)
#: Who may call what, by scope; one managed policy per group.
GROUPS = {
    "discover": ("read", "sources", "archived", "none"),
    "protect": ("create", "managed", "untagged"),
    "store": ("buckets", "kms"),
    "recover": ("verify", "failover", "taskdefs", "notify"),
}


def _actions(uses: list[Use], *scopes: str) -> list[str]:
    return sorted({a for u in uses if u.scope in scopes for a in u.actions})


def _service_actions(actions: list[str], *prefixes: str) -> list[str]:
    return [a for a in actions if a.split(":")[0] in prefixes]


class _Arns:
    def __init__(self, policy: Policy, account: str, partition: str) -> None:
        self.policy = policy
        self.account = account
        self.partition = partition
        self.regions = [policy.primary_region, *policy.dr_regions]

    def each(self, service: str, resource: str, regions: list[str] | None = None) -> list[str]:
        return [
            f"arn:{self.partition}:{service}:{r}:{self.account}:{resource}" for r in (regions or self.regions)
        ]

    def s3(self, *names: str) -> list[str]:
        return [f"arn:{self.partition}:s3:::{n}" for n in names]


def _region(arns: _Arns) -> dict[str, Any]:
    return {"StringEquals": {"aws:RequestedRegion": list(arns.regions)}}


def _statement(
    sid: str, actions: list[str], resources: list[str] | str, condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions))}
    out["Resource"] = resources if isinstance(resources, str) else sorted(set(resources))
    if condition:
        out["Condition"] = condition
    return out


def _product_buckets(arns: _Arns) -> list[str]:
    """The buckets this product writes: the catalog, DR copies, vault buckets, verification restores."""
    names = [arns.policy.catalog_bucket, f"{VERIFY_PREFIX}-*"]
    for r in arns.regions:  # failback copies come home as <bucket>-dr-<primary>
        names += [f"*-dr-{r}", f"*-vault-{r}"]
        if any("lambda" in p.select.types for p in arns.policy.plans.values()):
            names.append(f"{arns.policy.catalog_bucket}-lambda-{r}")  # Lambda code packages
    return names


def _variants(name: str) -> list[str]:
    """A failover resource's names: itself, its drill copy, its failback restore (``planning.failover``)."""
    return [name, f"{name}-drill", f"{name}-failback"]


def _failover_names(policy: Policy) -> dict[str, list[str]]:
    """What the ``failover`` section names, per resource type (drill and failback names included)."""
    out: dict[str, list[str]] = {"db": [], "table": [], "global": [], "bucket": []}
    fo = policy.failover
    if fo is None:
        return out
    for db in fo.databases:
        if db.kind == "dynamodb":
            out["table"].append(db.name)
        else:
            names = [v for n in (db.name, *db.replicas.values()) for v in _variants(n)]
            # an Aurora cluster restored by a failover has one instance, <cluster>-1: the failback's
            # write freeze reboots it (awsdr.failover.fencing.freeze_cluster)
            out["db"] += names + ([f"{n}-1" for n in names] if db.kind == "aurora" else [])
        if db.global_cluster:
            out["global"].append(db.global_cluster)
    for b in getattr(fo, "buckets", ()):
        out["bucket"] += [b.name, *b.dr.values()]
    return out


def _record_names(policy: Policy) -> list[str]:
    """Route 53's normalized names of the records failover and drills change."""
    fo = policy.failover
    if fo is None or fo.dns is None:
        return []
    zone = fo.dns.zone.rstrip(".").lower()
    names = []
    for rec in fo.dns.records:
        name = rec.name.rstrip(".").lower()
        names.append(name)
        if name.endswith("." + zone):  # dr_failover_drill: app.<zone_prefix>.example.com
            names.append(f"{name[: -len(zone) - 1]}.{fo.drill.zone_prefix}.{zone}")
    return sorted(set(names))


def _kms_statements(arns: _Arns, uses: list[Use], regions: list[str], prefix: str) -> list[dict[str, Any]]:
    policy = arns.policy
    own = _actions(uses, "kms")
    data = sorted(set(KMS_DATA) | set(own)) if any(u.kms for u in uses) else own
    if not data:
        return []
    keys = {r: k for r, k in policy.kms_keys.items() if r in regions}
    primary_key = policy.failover.primary_kms_key if policy.failover else None
    if policy.primary_region in regions:  # failback copies come home under the primary key
        keys.setdefault(policy.primary_region, primary_key or next(iter(policy.kms_keys.values())))
    aliases = sorted({k for k in keys.values() if k.startswith("alias/")})
    key_arns = sorted({k for k in keys.values() if k.startswith("arn:")})
    key_ids = [f"key/{k}" for k in keys.values() if not k.startswith(("alias/", "arn:"))]
    out = []
    if aliases:
        out.append(
            _statement(
                f"{prefix}PolicyKeysByAlias",
                data,
                [a for r in keys for a in arns.each("kms", "key/*", [r])],
                {"ForAnyValue:StringEquals": {"kms:ResourceAliases": aliases}},
            )
        )
    explicit = key_arns + [a for k in key_ids for a in arns.each("kms", k, list(keys))]
    if explicit:
        out.append(_statement(f"{prefix}PolicyKeys", data, explicit))
    if any(u.kms for u in uses):
        # the sources' own keys (the customer's, not in the policy): only through the services
        # that copy, restore or export them, and grants only for AWS resources
        services = sorted(
            f"{svc}.{r}.amazonaws.com" for svc in ("ec2", "rds", "dynamodb", "s3") for r in arns.regions
        )
        via = {"StringEquals": {"kms:ViaService": services}}
        out.append(
            _statement(
                f"{prefix}SourceKeysViaServices",
                ["kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom"],
                arns.each("kms", "key/*"),
                via,
            )
        )
        out.append(
            _statement(
                f"{prefix}SourceKeyGrantsForServices",
                ["kms:CreateGrant"],
                arns.each("kms", "key/*"),
                {**via, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
    return out


def _discover(arns: _Arns, uses: list[Use]) -> list[dict[str, Any]]:
    read = _actions(uses, "read")
    regional = [a for a in read if not a.startswith(("route53:", "s3:"))]
    out = [_statement("ReadRegional", regional, "*", _region(arns))]
    route53 = _service_actions(read, "route53")
    if route53:
        out.append(_statement("ReadRoute53", route53, "*"))  # a global service
    s3 = _service_actions(read, "s3")
    if s3:
        out.append(_statement("ListBuckets", s3, "*"))
    sources = _actions(uses, "sources")
    if sources:
        # protected buckets are chosen by tags: any bucket can be one; reads only
        out.append(_statement("ReadBuckets", sources, arns.s3("*", "*/*")))
    archived = _actions(uses, "archived")
    if archived:
        # a version in GLACIER or DEEP_ARCHIVE (a source bucket's own lifecycle, or the DR bucket's
        # archive rule) is restored for a while before it is copied or restored: no data changes
        out.append(_statement("RestoreArchivedVersions", archived, arns.s3("*/*")))
    return out


def _protect(arns: _Arns, uses: list[Use]) -> list[dict[str, Any]]:
    create = _actions(uses, "create")
    ec2_creates = sorted(
        {op for (svc, op), u in OPERATIONS.items() if svc == "ec2" and u in uses and u.scope == "create"}
    )
    # what a create needs on other resources is granted where those live: objects in the product's
    # buckets (store), items of restored tables (recover), the import's log group (here)
    elsewhere = {"ec2:CreateTags", "rds:AddTagsToResource", "ecs:TagResource", *TABLE_ITEMS}
    out = [
        _statement(
            "CreatePointsCopiesRestores",
            [a for a in create if a not in elsewhere and not a.startswith(("s3:", "logs:", "iam:"))],
            "*",
            _region(arns),
        )
    ]
    functions = any("lambda" in p.select.types for p in arns.policy.plans.values())
    if "lambda:CreateFunction" in create and functions:
        # a restored function runs as the protected function's own role: passed to Lambda only
        out.append(
            _statement(
                "PassFunctionRolesToLambda",
                ["iam:PassRole"],
                f"arn:{arns.partition}:iam::{arns.account}:role/*",
                {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            )
        )
    logs = _service_actions(create, "logs")
    if logs:
        out.append(_statement("DynamoDbImportLogs", logs, arns.each("logs", "log-group:/aws-dynamodb/*")))
    if "ec2:CreateTags" in create:
        out.append(
            _statement(
                "TagOnCreate", ["ec2:CreateTags"], "*", {"StringEquals": {"ec2:CreateAction": ec2_creates}}
            )
        )
    managed = _actions(uses, "managed")
    rds_tags = [a for a in managed + create if a == "rds:AddTagsToResource"]
    ecs_tags = [a for a in create if a == "ecs:TagResource"]
    managed = [a for a in managed if a != "rds:AddTagsToResource"]
    out.append(
        _statement(
            "ChangeOrDeleteOnlyManaged",
            managed + ecs_tags,
            "*",
            {"StringEquals": {MANAGED_TAG: "true", "aws:RequestedRegion": list(arns.regions)}},
        )
    )
    # the temporary resources of verification and drills carry their run's tag from creation
    teardown = [a for a in managed if a.split(":")[1].startswith(("Delete", "Terminate", "Deregister"))]
    for sid, tag in (("TearDownDrills", DRILL_TAG), ("TearDownVerifyRestores", VERIFY_TAG)):
        out.append(
            _statement(
                sid,
                teardown,
                "*",
                {"Null": {tag: "false"}, "StringEquals": {"aws:RequestedRegion": list(arns.regions)}},
            )
        )
    if rds_tags:
        names = _failover_names(arns.policy)["db"]
        resources = arns.each("rds", "snapshot:*") + arns.each("rds", "cluster-snapshot:*")
        resources += arns.each("rds", f"db:{VERIFY_PREFIX}-*") + arns.each(
            "rds", f"cluster:{VERIFY_PREFIX}-*"
        )
        for n in names:  # restores under the source's name (backup & restore) and promoted replicas
            resources += arns.each("rds", f"db:{n}") + arns.each("rds", f"cluster:{n}")
        out.append(_statement("TagRdsPointsAndRestores", rds_tags, resources))
    untagged = _actions(uses, "untagged")
    if untagged:
        out.append(_statement("DeleteDynamoDbBackups", untagged, arns.each("dynamodb", "table/*/backup/*")))
    out += [
        d for d in _deny_statements(arns, uses) if not d["Sid"].startswith(("DenyRewriting", "DenyBypassing"))
    ]
    return out


def _store(arns: _Arns, uses: list[Use]) -> list[dict[str, Any]]:
    """The product's buckets (catalog, copies), the policy's KMS keys, the audit's protection."""
    out = []
    buckets = _actions(uses, "buckets")
    if buckets:
        names = _product_buckets(arns)
        out.append(_statement("WriteProductBuckets", buckets, arns.s3(*names, *[f"{n}/*" for n in names])))
    out += _kms_statements(arns, uses, arns.regions, "")
    out += [
        d for d in _deny_statements(arns, uses) if d["Sid"].startswith(("DenyRewriting", "DenyBypassing"))
    ]
    return out


def _deny_statements(arns: _Arns, uses: list[Use]) -> list[dict[str, Any]]:
    catalog = arns.policy.catalog_bucket
    out: list[dict[str, Any]] = [
        {
            "Sid": "DenyRewritingTheAudit",
            "Effect": "Deny",
            "Action": ["s3:BypassGovernanceRetention", "s3:DeleteObject", "s3:DeleteObjectVersion"],
            "Resource": arns.s3(*[f"{catalog}/{p}*" for p in AUDIT_PREFIXES]),
        },
        {
            "Sid": "DenyBypassingObjectLock",
            "Effect": "Deny",
            "Action": ["s3:BypassGovernanceRetention", "s3:PutObjectLegalHold"],
            "Resource": "*",
        },
    ]
    if any("ec2:CreateTags" in u.actions for u in uses):
        # ownership cannot be given to production instances or volumes after the fact
        out.append(
            {
                "Sid": "DenyManagingExistingInstancesAndVolumes",
                "Effect": "Deny",
                "Action": ["ec2:CreateTags"],
                "Resource": [
                    *[f"arn:{arns.partition}:ec2:*:*:{t}/*" for t in ("instance", "volume")],
                ],
                "Condition": {
                    "ForAnyValue:StringEquals": {"aws:TagKeys": list(OWNERSHIP_TAGS)},
                    "Null": {"ec2:CreateAction": "true"},
                },
            }
        )
    return out


def _recover(arns: _Arns, uses: list[Use]) -> list[dict[str, Any]]:
    policy = arns.policy
    named = _failover_names(policy)
    out: list[dict[str, Any]] = []
    restores = _actions(uses, "verify") + [a for a in _actions(uses, "create") if a in TABLE_ITEMS]
    if restores:
        tables = [f"table/{VERIFY_PREFIX}-*", *[f"table/{v}" for t in named["table"] for v in _variants(t)]]
        deletes = [a for a in restores if a == "dynamodb:DeleteTable"]
        out.append(
            _statement(
                "RestoredTables",
                [a for a in _service_actions(restores, "dynamodb") if a not in deletes],
                [a for t in tables for a in arns.each("dynamodb", t)],
            )
        )
        if deletes:  # only the temporary tables of verification and drills are ever deleted
            temporary = [f"table/{VERIFY_PREFIX}-*", *[f"table/{t}-drill" for t in named["table"]]]
            out.append(
                _statement(
                    "DeleteTemporaryTables", deletes, [a for t in temporary for a in arns.each("dynamodb", t)]
                )
            )
    invoke = _service_actions(_actions(uses, "verify"), "lambda")
    if invoke:  # verification invokes only the functions it restored, under its own names
        out.append(
            _statement("InvokeVerifyFunctions", invoke, arns.each("lambda", f"function:{VERIFY_PREFIX}-*"))
        )
    fo = _actions(uses, "failover")
    rds = _service_actions(fo, "rds")
    if rds and (named["db"] or named["global"]):
        resources = [a for n in named["db"] for t in ("db", "cluster") for a in arns.each("rds", f"{t}:{n}")]
        resources += [f"arn:{arns.partition}:rds::{arns.account}:global-cluster:{g}" for g in named["global"]]
        out.append(_statement("FailoverNamedDatabases", rds, resources))
    ddb = _service_actions(fo, "dynamodb")
    if ddb and named["table"]:
        out.append(
            _statement(
                "FailoverNamedTables",
                ddb,
                [a for t in named["table"] for a in arns.each("dynamodb", f"table/{t}")],
            )
        )
    s3 = _service_actions(fo, "s3")
    if s3 and named["bucket"]:
        out.append(_statement("FenceNamedBuckets", s3, arns.s3(*named["bucket"])))
    units = policy.failover.compute if policy.failover else ()
    asg = [u for u in units if isinstance(u, AsgStandby)]
    ecs = [u for u in units if isinstance(u, EcsStandby)]
    if asg and _service_actions(fo, "autoscaling"):
        out.append(
            _statement(
                "ScaleNamedGroups",
                _service_actions(fo, "autoscaling"),
                [
                    a
                    for u in asg
                    for a in arns.each(
                        "autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{u.name}", [u.region]
                    )
                ],
            )
        )
    taskdefs = _actions(uses, "taskdefs")
    if ecs and taskdefs:
        # RegisterTaskDefinition takes no resource: a new revision of a standby's own task
        # definition, its roles passed on to ECS tasks only
        registers = [a for a in taskdefs if not a.startswith("iam:")]
        out.append(_statement("RegisterRepointedTaskDefinitions", registers, "*", _region(arns)))
        out.append(
            _statement(
                "PassTaskRolesToEcs",
                ["iam:PassRole"],
                f"arn:{arns.partition}:iam::{arns.account}:role/*",
                {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
    if ecs and _service_actions(fo, "ecs"):
        out.append(
            _statement(
                "ScaleNamedServices",
                _service_actions(fo, "ecs"),
                [a for u in ecs for a in arns.each("ecs", f"service/{u.cluster}/{u.service}", [u.region])],
            )
        )
    stacks = policy.failover.stacks if policy.failover else ()
    if stacks and _service_actions(fo, "cloudformation"):
        # the stacks by name, and their drill copies (<name>-drill, the only ones ever deleted)
        out.append(
            _statement(
                "DeployNamedStacks",
                _service_actions(fo, "cloudformation"),
                [
                    a
                    for st in stacks
                    for n in (st.name, f"{st.name}-drill")
                    for a in arns.each("cloudformation", f"stack/{n}/*", [st.region])
                ],
            )
        )
        roles = sorted({st.role_arn for st in stacks if st.role_arn})
        if roles:
            out.append(_statement("PassStackRoles", ["iam:PassRole"], roles))
    names = _record_names(policy)
    if names and _service_actions(fo, "route53"):
        out.append(
            _statement(
                "MoveTrafficOfNamedRecords",
                _service_actions(fo, "route53"),
                f"arn:{arns.partition}:route53:::hostedzone/*",
                {
                    "ForAllValues:StringEquals": {
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": names
                    }
                },
            )
        )
    notify = _actions(uses, "notify")
    if notify and policy.sns_topic_arn:
        out.append(_statement("NotifyPolicyTopic", notify, [policy.sns_topic_arn]))
    if policy.vault is not None:
        out.append(_statement("AssumeVaultRole", ["sts:AssumeRole"], [policy.vault.role_arn]))
    return out


def used(operations: dict[tuple[str, str], Use] | None = None) -> list[Use]:
    return list((operations or OPERATIONS).values())


def runner_policies(
    policy: Policy, *, account: str = "*", partition: str = "aws"
) -> dict[str, dict[str, Any]]:
    """The runner role's managed policies: ``{"awsdr-runner-<group>": document}``."""
    arns = _Arns(policy, account, partition)
    uses = used()
    build = {"discover": _discover, "protect": _protect, "store": _store, "recover": _recover}
    out: dict[str, dict[str, Any]] = {}
    for group in GROUPS:
        for i, statements in enumerate(_packed(build[group](arns, uses))):
            out[f"awsdr-runner-{group}" + (f"-{i + 1}" if i else "")] = _document(statements)
    return out


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _packed(statements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Statements in as few documents as IAM's size limit allows (a large policy gets -2, -3...)."""
    docs: list[list[dict[str, Any]]] = [[]]
    for st in statements:
        if docs[-1] and size(_document([*docs[-1], st])) > MAX_CHARS:
            docs.append([])
        docs[-1].append(st)
    return docs


def vault_policy(policy: Policy, *, account: str | None = None, partition: str = "aws") -> dict[str, Any]:
    """The vault role (in the vault account): copies into the vault, their tags, their retention.

    The vault's regions are the policy's ``vault.regions`` (default: the DR regions); without a
    ``vault`` section the document is still written (account ``*``) to show what the role needs.
    """
    regions = list(policy.vault.regions) if policy.vault else list(policy.dr_regions)
    arns = _Arns(policy, account or (policy.vault.account_id if policy.vault else "*"), partition)
    arns.regions = regions
    uses = used()
    copy_ops = {op for (svc, op), u in OPERATIONS.items() if u.scope == "create" and "Copy" in op}
    reads = sorted(
        {
            a
            for (svc, op), u in OPERATIONS.items()
            if u.scope == "read" and svc in ("ec2", "rds")
            for a in u.actions
        }
    )
    copies = sorted(
        {
            a
            for (svc, op), u in OPERATIONS.items()
            if op in copy_ops and svc in ("ec2", "rds")
            for a in u.actions
            if a not in ("ec2:CreateTags",)
        }
    )
    deletes = sorted(
        {
            a
            for (svc, op), u in OPERATIONS.items()
            if u.scope == "managed" and svc in ("ec2", "rds") and op.startswith(("Delete", "Deregister"))
            for a in u.actions
        }
    )
    names = [f"*-vault-{r}" for r in regions]
    statements = [
        _statement("ReadVaultPoints", reads, "*", _region(arns)),
        _statement("CopyIntoVault", copies, "*", _region(arns)),
        _statement(
            "TagOnCreate",
            ["ec2:CreateTags"],
            "*",
            {"StringEquals": {"ec2:CreateAction": ["CopyImage", "CopySnapshot"]}},
        ),
        _statement(
            "PruneOnlyManaged",
            deletes,
            "*",
            {"StringEquals": {MANAGED_TAG: "true", "aws:RequestedRegion": regions}},
        ),
        _statement(
            "WriteVaultBuckets",
            _actions(uses, "buckets") + _actions(uses, "sources"),
            arns.s3(*names, *[f"{n}/*" for n in names]),
        ),
        *_kms_statements(arns, uses, regions, "Vault"),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def documents(policy: Policy, *, account: str = "*", partition: str = "aws") -> dict[str, dict[str, Any]]:
    """Every file ``make iam`` writes: ``{file name: document}``."""
    out = {
        f"{name}.json": doc
        for name, doc in runner_policies(policy, account=account, partition=partition).items()
    }
    out["awsdr-vault.json"] = vault_policy(policy, partition=partition)
    return out


def size(doc: dict[str, Any]) -> int:
    """IAM's measure of a policy: characters without whitespace."""
    return len("".join(json.dumps(doc).split()))


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
