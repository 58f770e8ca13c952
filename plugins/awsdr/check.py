"""The invariant checker: what must hold after any run, however it ended (reads only).

``python -m awsdr.check`` (or :func:`check`) confirms, for every plan and kind of the policy:

- **one point** per resource, window and region (``duplicate-point``), also where a duplicate
  would hide from the kind's listing (DynamoDB backups of one name, AMI copies without tags);
- **one copy** per point and DR region (``duplicate-copy``; with ``copies_complete``, also
  ``missing-copy`` for an available point that has none);
- **no point lost** (``lost-point``, ``lost-copy``): every point and copy a window manifest
  records exists, or an audited retention decision deleted it;
- **no leftover** verify or drill resource (``leftover``): restored volumes, instances, DB
  instances and clusters, tables tagged ``awsdr:verify-run`` or ``awsdr:drill``, drill points;
- **the audit agrees with AWS** (``audit``): nothing audited as deleted still exists, and every
  retention intent has its outcome.

It only reads (Describe*/List*/Get* and catalog GETs), so it is safe against production: through
the ``aws_default`` connection when Airflow is installed, or boto3's default credentials
(``--boto3``), with the policy from ``AWSDR_POLICY`` (or ``--policy``). Exit status 1 and a
readable list on any violation. No Airflow import unless the connection is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from awsdr.aws.context import tag_dict
from awsdr.catalog import manifests_prefix
from awsdr.kinds import kind_for
from awsdr.kinds.base import AVAILABLE, FAILED, MISSING, RecoveryPoint
from awsdr.retention import AUDIT_PREFIX
from awsdr.windows import TAG_COPY_OF, TAG_DRILL, TAG_VERIFY_RUN, format_window

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext
    from awsdr.catalog import Catalog
    from awsdr.policy import Policy

#: retention outcomes that mean "the point is gone"
_GONE_OUTCOMES = ("deleted", "absent", "deleted (reconciled)")
#: tag keys of resources that verification and drills make and must tear down
LEFTOVER_TAGS = (TAG_VERIFY_RUN, TAG_DRILL)
_LIVE = (AVAILABLE, "creating")


@dataclass
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass
class Report:
    """What :func:`check` found: violations, and counts of what it looked at."""

    violations: list[Violation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, rule: str, detail: str) -> None:
        self.violations.append(Violation(rule, detail))

    def render(self) -> str:
        seen = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        if self.ok:
            return f"OK: every invariant holds ({seen})"
        lines = [f"{len(self.violations)} violation(s) ({seen}):"]
        lines += [f"- {v}" for v in self.violations]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": dict(self.counts),
            "violations": [{"rule": v.rule, "detail": v.detail} for v in self.violations],
        }


def _live(p: RecoveryPoint) -> bool:
    return p.status not in (FAILED, MISSING)


def _audited(catalog: Catalog, report: Report) -> dict[tuple[str, str, str], str]:
    """``{(kind, region, point_id): outcome}`` of every retention outcome; open intents reported."""
    keys = catalog.list_keys(AUDIT_PREFIX)
    outcomes = {k[: -len(".outcome.json")] for k in keys if k.endswith(".outcome.json")}
    for k in keys:
        if k.endswith(".intent.json") and k[: -len(".intent.json")] not in outcomes:
            report.add(
                "audit", f"retention intent {k} has no outcome (a killed run; the next run reconciles)"
            )
    gone: dict[tuple[str, str, str], str] = {}
    for base in sorted(outcomes):
        doc = catalog.get_json(base + ".outcome.json") or {}
        for pid, outcome in (doc.get("outcomes") or {}).items():
            if outcome in _GONE_OUTCOMES:
                gone[(str(doc.get("kind")), str(doc.get("region")), pid)] = outcome
    report.counts["audited deletions"] = len(gone)
    return gone


def check(
    ctx: AwsContext,
    policy: Policy,
    *,
    plans: list[str] | None = None,
    copies_complete: bool = False,
) -> Report:
    """Check every invariant for ``plans`` (default: all) of ``policy``; reads only."""
    from awsdr.catalog import Catalog

    report = Report()
    catalog = Catalog(ctx, policy.catalog_bucket, policy.catalog_region)
    gone = _audited(catalog, report)
    regions = [policy.primary_region, *policy.dr_regions]
    listed: dict[tuple[str, str], list[RecoveryPoint]] = {}
    for plan_name in plans or sorted(policy.plans):
        plan = policy.plan(plan_name)
        for kind_name in plan.select.types:
            kind = kind_for(kind_name, policy, plan_name)
            for region in regions:
                key = (kind_name, region)
                if key not in listed:
                    listed[key] = kind.list_points(ctx, region, None)
            _check_points(report, policy, plan_name, kind_name, listed, copies_complete)
        _check_manifests(report, catalog, plan_name, listed, gone)
    for (kind_name, region, pid), outcome in sorted(gone.items()):
        still = [p for p in listed.get((kind_name, region), []) if p.point_id == pid and _live(p)]
        if still:
            report.add("audit", f"{kind_name} {pid} in {region} is audited as {outcome} but exists")
    for region in regions:
        _check_raw_duplicates(report, ctx, region)
        _check_leftovers(report, ctx, region)
    for (kind_name, region), points in sorted(listed.items()):
        for p in points:
            if TAG_DRILL in p.tags:
                report.add(
                    "leftover",
                    f"drill point {kind_name} {p.point_id} in {region} ({TAG_DRILL}={p.tags[TAG_DRILL]})",
                )
    return report


def _check_points(
    report: Report,
    policy: Policy,
    plan: str,
    kind: str,
    listed: dict[tuple[str, str], list[RecoveryPoint]],
    copies_complete: bool,
) -> None:
    primary = [
        p
        for p in listed[(kind, policy.primary_region)]
        if p.plan == plan and TAG_COPY_OF not in p.tags and TAG_DRILL not in p.tags
    ]
    report.counts["points"] += len(primary)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in primary:
        if _live(p):
            groups[(p.source_id, format_window(p.window))].append(p.point_id)
    for (source, window), ids in sorted(groups.items()):
        if len(ids) > 1:
            report.add(
                "duplicate-point",
                f"{plan}/{kind} {source} window {window} in {policy.primary_region}: {len(ids)} points {sorted(ids)}",
            )
    for region in policy.dr_regions:
        copies = [
            c
            for c in listed[(kind, region)]
            if c.plan == plan and TAG_COPY_OF in c.tags and TAG_DRILL not in c.tags and _live(c)
        ]
        report.counts["copies"] += len(copies)
        by_source: dict[str, list[str]] = defaultdict(list)
        for c in copies:
            by_source[c.tags[TAG_COPY_OF]].append(c.point_id)
        for src, ids in sorted(by_source.items()):
            if len(ids) > 1:
                report.add(
                    "duplicate-copy", f"{plan}/{kind} {src} -> {region}: {len(ids)} copies {sorted(ids)}"
                )
        if copies_complete:
            for p in primary:
                if p.status == AVAILABLE and p.point_id not in by_source and p.arn not in by_source:
                    report.add(
                        "missing-copy",
                        f"{plan}/{kind} {p.point_id} ({p.source_id}, {format_window(p.window)}) has no copy in {region}",
                    )


def _check_manifests(
    report: Report,
    catalog: Catalog,
    plan: str,
    listed: dict[tuple[str, str], list[RecoveryPoint]],
    gone: dict[tuple[str, str, str], str],
) -> None:
    def exists(kind: str, region: str, pid: str) -> bool:
        return any(p.point_id == pid or p.arn == pid for p in listed.get((kind, region), []) if _live(p))

    for key in catalog.list_keys(manifests_prefix(plan)):
        doc = catalog.get_json(key) or {}
        report.counts["manifests"] += 1
        for entry in doc.get("protected", []):
            kind, region, pid = entry.get("kind"), entry.get("region"), entry.get("point_id")
            if (kind, region) not in listed or not pid:
                continue
            if not exists(kind, region, pid) and (kind, region, pid) not in gone:
                report.add(
                    "lost-point",
                    f"{key}: {kind} {pid} of {entry.get('source')} in {region} is gone without an audited deletion",
                )
        for rec in doc.get("copies", []):
            kind = next(
                (e["kind"] for e in doc.get("protected", []) if e.get("point_id") == rec.get("copy_of")), None
            )
            region, cid = rec.get("region"), rec.get("copy_id")
            if kind is None or (kind, region) not in listed or not cid:
                continue
            if not exists(kind, region, cid) and (kind, region, cid) not in gone:
                report.add(
                    "lost-copy",
                    f"{key}: {kind} copy {cid} of {rec.get('copy_of')} in {region} is gone without an audited deletion",
                )


def _check_raw_duplicates(report: Report, ctx: AwsContext, region: str) -> None:
    """Duplicates a kind's listing cannot show: a second DynamoDB backup of one name (only one has
    the tags sidecar), a second AMI copy of one point (moto drops CopyImage's tags)."""
    ddb = ctx.client("dynamodb", region)
    names: dict[str, list[str]] = defaultdict(list)
    for page in ddb.get_paginator("list_backups").paginate(BackupType="USER"):
        for b in page.get("BackupSummaries", []):
            if str(b.get("BackupName", "")).startswith("awsdr-") and b.get("BackupStatus") != "DELETED":
                names[f"{b.get('TableName')}/{b['BackupName']}"].append(b["BackupArn"])
    for name, arns in sorted(names.items()):
        if len(arns) > 1:
            report.add(
                "duplicate-point", f"dynamodb backup {name} in {region}: {len(arns)} backups {sorted(arns)}"
            )
    images: dict[str, list[str]] = defaultdict(list)
    pages = ctx.client("ec2", region).get_paginator("describe_images").paginate(Owners=["self"])
    for image in (i for page in pages for i in page["Images"]):
        desc = str(image.get("Description") or "")
        if desc.startswith("awsdr copy of ") and image.get("State") not in (
            "failed",
            "deregistered",
            "error",
        ):
            images[desc.split()[3]].append(image["ImageId"])
    for src, ids in sorted(images.items()):
        if len(ids) > 1:
            report.add("duplicate-copy", f"ec2 {src} -> {region}: {len(ids)} AMI copies {sorted(ids)}")


def _check_leftovers(report: Report, ctx: AwsContext, region: str) -> None:
    """Resources restored by verification or drills that are still there."""
    ec2 = ctx.client("ec2", region)
    found: list[str] = []
    tag_filter = [{"Name": "tag-key", "Values": list(LEFTOVER_TAGS)}]
    for page in ec2.get_paginator("describe_volumes").paginate(Filters=tag_filter):
        found += [
            f"volume {v['VolumeId']}"
            for v in page["Volumes"]
            if v.get("State") not in ("deleting", "deleted")
        ]
    for page in ec2.get_paginator("describe_instances").paginate(Filters=tag_filter):
        for r in page["Reservations"]:
            found += [
                f"instance {i['InstanceId']}"
                for i in r["Instances"]
                if (i.get("State") or {}).get("Name") not in ("terminated", "shutting-down")
            ]
    rds = ctx.client("rds", region)
    for page in rds.get_paginator("describe_db_instances").paginate():
        for d in page["DBInstances"]:
            if _tagged(d.get("TagList")) and d.get("DBInstanceStatus") != "deleting":
                found.append(f"DB instance {d['DBInstanceIdentifier']}")
    for page in rds.get_paginator("describe_db_clusters").paginate():
        for c in page["DBClusters"]:
            if _tagged(c.get("TagList")) and c.get("Status") != "deleting":
                found.append(f"DB cluster {c['DBClusterIdentifier']}")
    ddb = ctx.client("dynamodb", region)
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            desc = ddb.describe_table(TableName=name)["Table"]
            if desc.get("TableStatus") == "DELETING":
                continue
            tags = ddb.list_tags_of_resource(ResourceArn=desc["TableArn"]).get("Tags", [])
            if _tagged(tags):
                found.append(f"table {name}")
    for item in found:
        report.add("leftover", f"{item} in {region} carries {' or '.join(LEFTOVER_TAGS)}")


def _tagged(tags: list[dict[str, str]] | None) -> bool:
    return any(k in LEFTOVER_TAGS for k in tag_dict(tags))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m awsdr.check",
        description="Check the DR invariants (reads only); exit 1 on any violation.",
    )
    parser.add_argument("--policy", help="policy file (default: AWSDR_POLICY or include/dr_policy.yaml)")
    parser.add_argument("--plan", action="append", help="only this plan (repeatable)")
    parser.add_argument(
        "--copies-complete", action="store_true", help="also require every available point's copies"
    )
    parser.add_argument(
        "--boto3", action="store_true", help="boto3 default credentials instead of aws_default"
    )
    parser.add_argument("--endpoint-url", help="with --boto3: one endpoint for every service (an emulator)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from awsdr.aws.context import AwsContext
    from awsdr.policy import load_policy

    policy = load_policy(args.policy)
    if args.boto3:
        ctx = AwsContext.from_boto3(endpoint_url=args.endpoint_url)
    else:
        ctx = AwsContext.from_connection("aws_default")
    report = check(ctx, policy, plans=args.plan, copies_complete=args.copies_complete)
    print(json.dumps(report.to_dict(), indent=1) if args.json else report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
