"""IAM from the code, proved: the generated policies grant what the product calls, and nothing else.

Three sources are compared:

- the reviewed table :data:`awsdr.iam.actions.OPERATIONS` (operation -> IAM actions, scope) that
  the generator turns into policies;
- the static scan of the package's boto3 calls (:mod:`awsdr.iam.scan`): every operation the code
  *can* call, including the paths the emulator cannot run (Aurora global failover, ...);
- moto's request recorder during one recorded cycle on the emulator (``test_recorded_cycle.py``):
  what the code *did* call, mapped to operations by botocore's models.

The table must equal the scan (so "listed but never called" and "called but not listed" are
both decidable), every recorded operation must be in the table and in the scan, and every IAM
action must exist in botocore's service definitions (or be a documented IAM-only name).
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys

import pytest
from botocore.session import get_session
from conftest import ROOT

from awsdr.iam.actions import IAM_ONLY, KMS_DATA, NOT_IAM, OPERATIONS, SCOPES, SERVICE_OF_PREFIX
from awsdr.iam.generate import MAX_CHARS, documents, runner_policies, size, vault_policy
from awsdr.iam.scan import scan
from awsdr.policy import DEFAULT_POLICY_PATH, load_policy

SERVICES = tuple(sorted({svc for svc, _ in OPERATIONS}))
DESTRUCTIVE = ("Delete", "Terminate", "Deregister", "Modify", "Stop", "Promote", "Update", "Failover")


@pytest.fixture(scope="module")
def scanned():
    return scan()


@pytest.fixture(scope="module")
def docs():
    return documents(load_policy(DEFAULT_POLICY_PATH))


def _statements(docs, effect="Allow"):
    return [st for d in docs.values() for st in d["Statement"] if st["Effect"] == effect]


def _granted(docs) -> set[str]:
    return {a for st in _statements(docs) for a in st["Action"]}


def test_the_table_lists_exactly_the_operations_the_code_calls(scanned):
    assert scanned.unresolved == []
    missing = {op: scanned.calls[op][:3] for op in set(scanned.calls) - set(OPERATIONS)}
    assert missing == {}, "called by the code, not in awsdr.iam.actions.OPERATIONS"
    unused = sorted(set(OPERATIONS) - set(scanned.calls))
    assert unused == [], "in OPERATIONS, never called by the code"
    assert {u.scope for u in OPERATIONS.values()} <= set(SCOPES)


def test_every_action_exists_in_botocore():
    """An action is an operation of its service's model, or a reviewed IAM-only name; S3 operation
    names that IAM spells differently (``NOT_IAM``) are refused."""
    session = get_session()
    models: dict[str, set[str]] = {}

    def exists(action: str) -> bool:
        prefix, name = action.split(":", 1)
        service = SERVICE_OF_PREFIX.get(prefix, prefix)
        if service not in models:
            models[service] = set(session.get_service_model(service).operation_names)
        return action in IAM_ONLY or (name in models[service] and action not in NOT_IAM)

    policy_docs = documents(load_policy(DEFAULT_POLICY_PATH))
    actions = {a for u in OPERATIONS.values() for a in u.actions} | set(KMS_DATA) | _granted(policy_docs)
    actions |= {a for st in _statements(policy_docs, "Deny") for a in st["Action"]}
    assert sorted(a for a in actions if not exists(a)) == []
    # the old hand-written policy named these two: S3 operations, not IAM actions
    assert not exists("s3:GetBucketReplication")
    assert not exists("s3:PutBucketEncryption")
    # the reviewed lists are honest: NOT_IAM are real S3 operations, IAM_ONLY are not operations
    assert {a.split(":")[1] for a in NOT_IAM} <= models["s3"]
    for action in IAM_ONLY:
        prefix, name = action.split(":")
        assert name not in set(
            session.get_service_model(SERVICE_OF_PREFIX.get(prefix, prefix)).operation_names
        )


#: Granted only when the policy configures them (failover.buckets, failover.stacks,
#: notifications.sns_topic_arn).
CONFIGURED = {
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "sns:Publish",
    "sns:GetTopicAttributes",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:TagResource",
}


def test_policies_grant_every_needed_action_and_nothing_else(docs, tmp_path):
    needed = {a for u in OPERATIONS.values() for a in u.actions} | set(KMS_DATA)
    granted = _granted(docs)
    assert needed - granted <= CONFIGURED
    # sts:AssumeRole for the vault role, iam:PassRole for the stack's service role (both configured)
    assert _granted(documents(load_policy(_full_policy(tmp_path)))) == needed | {
        "sts:AssumeRole",
        "iam:PassRole",
    }
    assert sorted(granted - needed) == []
    # the list of actions the old policy missed
    for action in (
        "rds:DescribeGlobalClusters",
        "rds:PromoteReadReplicaDBCluster",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:DescribeImport",
        "kms:ListAliases",
        "autoscaling:CreateAutoScalingGroup",
        "ecs:CreateService",
        "route53:ListHealthChecks",
        "sns:GetTopicAttributes",
        "s3:GetReplicationConfiguration",
        "s3:PutEncryptionConfiguration",
    ):
        assert action in needed, action
    for name, doc in docs.items():
        assert size(doc) <= MAX_CHARS, name
        sids = [st["Sid"] for st in doc["Statement"]]
        assert len(sids) == len(set(sids)), name


def test_the_committed_files_are_what_the_policy_gives():
    done = subprocess.run(
        [sys.executable, "-m", "awsdr.iam", "--check", "--policy", str(DEFAULT_POLICY_PATH)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not (ROOT / "include" / "iam" / "awsdr-runner-policy.json").exists()


def test_no_delete_or_change_is_granted_on_everything(docs):
    """Every destructive action is conditioned on an ownership tag or limited to named resources."""
    ownership = (
        "aws:ResourceTag/awsdr:managed",
        "aws:ResourceTag/awsdr:drill",
        "aws:ResourceTag/awsdr:verify-run",
    )
    for st in _statements(docs):
        destructive = [a for a in st["Action"] if a.split(":")[1].startswith(DESTRUCTIVE)]
        if not destructive:
            continue
        cond = json.dumps(st.get("Condition", {}))
        tagged = any(t in cond for t in ownership)
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        named = "*" not in resources and all(
            r.rsplit(":", 1)[-1] not in ("*", "table/*") and not r.endswith(":::*") for r in resources
        )
        assert tagged or named, (st["Sid"], destructive, resources)
    managed = next(st for st in _statements(docs) if st["Sid"] == "ChangeOrDeleteOnlyManaged")
    assert managed["Condition"]["StringEquals"]["aws:ResourceTag/awsdr:managed"] == "true"
    for action in (
        "rds:DeleteDBInstance",
        "rds:DeleteDBCluster",
        "ec2:TerminateInstances",
        "ec2:DeleteVolume",
    ):
        assert action in managed["Action"]
    # the protected buckets are only read
    sources = next(st for st in _statements(docs) if st["Sid"] == "ReadBuckets")
    assert all(a.split(":")[1].startswith(("Get", "List")) for a in sources["Action"])
    # DynamoDB tables are deleted only under the product's temporary names
    tables = [st for st in _statements(docs) if "dynamodb:DeleteTable" in st["Action"]]
    assert len(tables) == 1
    assert all(r.endswith(("table/awsdr-v-*", "-drill")) for r in tables[0]["Resource"])


def _allows(docs, action: str, resource: str) -> bool:
    def match(st):
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        return action in st["Action"] and any(fnmatch.fnmatchcase(resource, r) for r in resources)

    return any(match(st) for st in _statements(docs)) and not any(
        match(st) for st in _statements(docs, "Deny")
    )


def test_the_runner_cannot_delete_or_unlock_audit_records(docs):
    for key in (
        "audit/retention/run/ebs/000001.intent.json",
        "failover/run/audit.json",
        "retention/reports/r.json",
    ):
        arn = f"arn:aws:s3:::awsdr-catalog/{key}"
        for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"):
            assert not _allows(docs, action, arn), (action, key)
        assert _allows(docs, "s3:PutObject", arn)
        assert _allows(docs, "s3:PutObjectRetention", arn)  # writing a record with its lock
    # what retention prunes stays deletable
    assert _allows(docs, "s3:DeleteObjectVersion", "arn:aws:s3:::awsdr-catalog/manifests/gold/x.json")
    assert not _allows(docs, "s3:DeleteObject", "arn:aws:s3:::orders-assets/data.csv")


def test_kms_is_limited_to_the_policys_keys(docs):
    for st in _statements(docs):
        kms = [a for a in st["Action"] if a.startswith("kms:") and a != "kms:ListAliases"]
        if not kms:
            continue
        cond = st.get("Condition", {})
        aliases = cond.get("ForAnyValue:StringEquals", {}).get("kms:ResourceAliases")
        via = cond.get("StringEquals", {}).get("kms:ViaService")
        assert aliases == ["alias/awsdr"] or via, st["Sid"]
        if via:  # the sources' own keys: only decrypt through the copying services, never encrypt
            assert set(kms) <= {"kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom", "kms:CreateGrant"}
            assert all(v.endswith(".amazonaws.com") for v in via)


def _full_policy(tmp_path):
    """The demo policy plus a topic, a vault, a fenced bucket and a stack."""
    lines = DEFAULT_POLICY_PATH.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("failover:"))
    if not any(line.startswith("  buckets:") for line in lines):
        lines.insert(at + 1, "  buckets: [{s3: awsdr-demo-orders-assets}]")
    if not any(line.startswith("  stacks:") for line in lines):
        lines.insert(
            at + 1,
            "  stacks: [{name: app-dr, template: 'https://tpl.s3.amazonaws.com/app.yaml',"
            " role_arn: 'arn:aws:iam::123456789012:role/cfn-deploy'}]",
        )
    lines += [
        "notifications: {sns_topic_arn: arn:aws:sns:ap-northeast-2:123456789012:awsdr-alerts}",
        "vault: {account_id: '210987654321', role_arn: arn:aws:iam::210987654321:role/awsdr-vault}",
    ]
    path = tmp_path / "full.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_policy_with_vault_topic_and_failover_names_its_resources(tmp_path):
    policy = load_policy(_full_policy(tmp_path))
    runner = runner_policies(policy, account="123456789012")
    statements = {st["Sid"]: st for d in runner.values() for st in d["Statement"]}
    assert statements["NotifyPolicyTopic"]["Resource"] == [policy.sns_topic_arn]
    assert statements["AssumeVaultRole"]["Resource"] == [policy.vault.role_arn]
    assert statements["FailoverNamedDatabases"]["Resource"][0].startswith(
        "arn:aws:rds:ap-northeast-1:123456789012:"
    )
    assert (
        "arn:aws:rds:ap-northeast-1:123456789012:db:orders-db-dr"
        in statements["FailoverNamedDatabases"]["Resource"]
    )
    assert statements["ScaleNamedServices"]["Resource"] == [
        "arn:aws:ecs:ap-northeast-1:123456789012:service/app/api"
    ]
    records = statements["MoveTrafficOfNamedRecords"]["Condition"]["ForAllValues:StringEquals"]
    assert records["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == [
        "app.drill.example.com",
        "app.example.com",
    ]
    vault = vault_policy(policy)
    vs = {st["Sid"]: st for st in vault["Statement"]}
    assert vs["PruneOnlyManaged"]["Condition"]["StringEquals"]["aws:RequestedRegion"] == ["ap-northeast-1"]
    assert all("210987654321" in r for r in vs["VaultPolicyKeysByAlias"]["Resource"])
    assert statements["FenceNamedBuckets"]["Resource"] == ["arn:aws:s3:::awsdr-demo-orders-assets"]
