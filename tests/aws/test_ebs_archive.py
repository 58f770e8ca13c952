"""Archive tiers for EBS against moto: the retention run moves old kept DR copies to the archive
tier (ModifySnapshotTier), never the newest of a resource, never a held or unmanaged snapshot,
nothing in a dry run, no call on a second run; a restore from the archive is started
(RestoreSnapshotTier) and the point is usable once restored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.catalog import Catalog
from awsdr.kinds.base import REFUSED
from awsdr.kinds.ebs import (
    ALREADY_ARCHIVED,
    ARCHIVED,
    RESTORE_STARTED,
    USABLE,
    WOULD_ARCHIVE,
    EbsKind,
    archived_now,
)
from awsdr.policy import parse_policy
from awsdr.retention import AUDIT_PREFIX, prune_kind
from awsdr.windows import TAG_LEGAL_HOLD, TAG_MANAGED, point_tags

START = datetime(2026, 9, 1, tzinfo=UTC)
NOW = START + timedelta(days=40)
POLICY_TEXT = """
version: 1
primary_region: ap-northeast-2
dr_regions: [ap-northeast-1]
catalog_bucket: awsdr-catalog
kms_keys: {ap-northeast-1: alias/awsdr}
plans:
  gold:
    schedule: "0 0 * * *"
    rpo: P1D
    rto: PT1H
    select: {tags: {dr-plan: gold}, types: [ebs]}
    retention:
      primary: {daily: 7}
      dr: {daily: 60, archive_after: P10D}
"""


def _tags(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


@pytest.fixture
def estate(ctx):
    """Volume ``live`` has 40 daily points copied to DR (day 5's copy on legal hold); volume
    ``stopped`` had points on days 0-9 only, so its newest DR copy is 31 days old."""
    ec2p, ec2d = ctx.client("ec2", PRIMARY), ctx.client("ec2", DR)
    dr_vol = ec2d.create_volume(AvailabilityZone=f"{DR}a", Size=1)["VolumeId"]
    out: dict = {"copies": {}, "held": None}
    for name, days in (("live", range(40)), ("stopped", range(10))):
        vol = ec2p.create_volume(
            AvailabilityZone=f"{PRIMARY}a",
            Size=1,
            TagSpecifications=[{"ResourceType": "volume", "Tags": _tags({"dr-plan": "gold"})}],
        )["VolumeId"]
        out[name] = vol
        for day in days:
            window = START + timedelta(days=day)
            tags = point_tags(plan="gold", window=window, source=vol, captured_at=window, kind="ebs")
            snap = ec2p.create_snapshot(
                VolumeId=vol, TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(tags)}]
            )["SnapshotId"]
            copy_tags = {**tags, "awsdr:copy-of": snap}
            if name == "live" and day == 5:
                copy_tags[TAG_LEGAL_HOLD] = "case-7"
            copy = ec2d.create_snapshot(
                VolumeId=dr_vol, TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(copy_tags)}]
            )["SnapshotId"]
            out["copies"][(name, day)] = copy
            if TAG_LEGAL_HOLD in copy_tags:
                out["held"] = copy
    catalog = Catalog(ctx, "awsdr-catalog", DR)
    catalog.ensure()
    out["catalog"] = catalog
    return out


def _count(ctx, region, operation):
    calls: list[dict] = []
    ctx.client("ec2", region).meta.events.register(
        f"before-parameter-build.ec2.{operation}", lambda **kw: calls.append(dict(kw["params"]))
    )
    return calls


def _tiers(ctx, region):
    snaps = ctx.client("ec2", region).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag-key", "Values": ["awsdr:source"]}]
    )["Snapshots"]
    return {s["SnapshotId"]: s.get("StorageTier", "standard") for s in snaps}


def _run(ctx, estate, *, dry_run, run_id="r1", text=POLICY_TEXT):
    return prune_kind(
        ctx,
        EbsKind(),
        estate["catalog"],
        parse_policy(text, "test.yaml"),
        "gold",
        now=NOW,
        run_id=run_id,
        dry_run=dry_run,
        force=False,
    )


def test_retention_archives_old_kept_dr_copies_but_never_the_newest_or_a_held_one(ctx, estate):
    calls = _count(ctx, DR, "ModifySnapshotTier")
    run = _run(ctx, estate, dry_run=False)
    assert not run.archive["errors"]
    tiers = _tiers(ctx, DR)
    archived = {sid for sid, tier in tiers.items() if tier == "archive"}
    copies = estate["copies"]
    # live: days 0..30 are at least 10 days old on day 40; day 5 is held; days 31..39 are younger
    expected = {copies[("live", d)] for d in range(31) if d != 5}
    # stopped: days 0..8; day 9 is its newest point, which must stay restorable within the RTO
    expected |= {copies[("stopped", d)] for d in range(9)}
    assert archived == expected
    assert tiers[copies[("stopped", 9)]] == "standard"
    assert tiers[estate["held"]] == "standard"
    assert sorted(p["SnapshotId"] for p in calls) == sorted(expected)
    assert sorted(run.archive["archived"]) == sorted(expected)
    # the primary region has no archive_after: nothing there is archived
    assert set(_tiers(ctx, PRIMARY).values()) == {"standard"}
    # audited like deletes: an intent before and an outcome after, in the ebs-archive stream
    keys = estate["catalog"].list_keys(f"{AUDIT_PREFIX}r1/ebs-archive/gold/")
    assert any(k.endswith(".intent.json") for k in keys)
    assert any(k.endswith(".outcome.json") for k in keys)
    outcome = estate["catalog"].get_json(next(k for k in keys if k.endswith(".outcome.json")))
    assert set(outcome["outcomes"].values()) == {ARCHIVED}

    # the second run finds them archived already: no ModifySnapshotTier at all
    calls.clear()
    again = _run(ctx, estate, dry_run=False, run_id="r2")
    assert calls == []
    assert again.archive["candidates"] == 0
    assert again.archive["archived"] == []


def test_dry_run_lists_what_it_would_archive_and_changes_nothing(ctx, estate):
    calls = _count(ctx, DR, "ModifySnapshotTier")
    run = _run(ctx, estate, dry_run=True)
    assert calls == []
    assert set(_tiers(ctx, DR).values()) == {"standard"}
    assert len(run.archive["would_archive"]) == 30 + 9
    assert run.archive["archived"] == []
    assert estate["catalog"].list_keys(AUDIT_PREFIX) == []


def test_no_archive_after_no_archive(ctx, estate):
    calls = _count(ctx, DR, "ModifySnapshotTier")
    run = _run(ctx, estate, dry_run=False, text=POLICY_TEXT.replace(", archive_after: P10D", ""))
    assert calls == []
    assert run.archive == {}


def test_the_kind_refuses_unmanaged_and_held_snapshots_and_skips_archived_ones(ctx, estate):
    kind = EbsKind()
    points = {p.point_id: p for p in kind.list_points(ctx, DR, "gold")}
    copies = estate["copies"]
    unmanaged, held, archived, fresh = (
        copies[("live", 1)],
        copies[("live", 2)],
        copies[("live", 3)],
        copies[("live", 4)],
    )
    ec2 = ctx.client("ec2", DR)
    # after the listing, someone takes one snapshot out of our hands and puts another on hold
    ec2.create_tags(Resources=[unmanaged], Tags=_tags({TAG_MANAGED: "false"}))
    ec2.create_tags(Resources=[held], Tags=_tags({TAG_LEGAL_HOLD: "case-9"}))
    ec2.modify_snapshot_tier(SnapshotId=archived, StorageTier="archive")
    batch = [points[s] for s in (unmanaged, held, archived, fresh)]
    calls = _count(ctx, DR, "ModifySnapshotTier")
    assert kind.archive(ctx, DR, batch, dry_run=True) == {
        unmanaged: REFUSED,
        held: REFUSED,
        archived: ALREADY_ARCHIVED,
        fresh: WOULD_ARCHIVE,
    }
    assert calls == []
    assert kind.archive(ctx, DR, batch) == {
        unmanaged: REFUSED,
        held: REFUSED,
        archived: ALREADY_ARCHIVED,
        fresh: ARCHIVED,
    }
    assert [c["SnapshotId"] for c in calls] == [fresh]
    assert _tiers(ctx, DR)[unmanaged] == _tiers(ctx, DR)[held] == "standard"


def test_a_restore_from_the_archive_is_started_and_the_point_becomes_usable(ctx, estate):
    kind = EbsKind()
    sid = estate["copies"][("live", 3)]
    ctx.client("ec2", DR).modify_snapshot_tier(SnapshotId=sid, StorageTier="archive")
    [point] = [p for p in kind.list_points(ctx, DR, "gold") if p.point_id == sid]
    assert point.details["storage_tier"] == "archive"
    assert archived_now(point)
    calls = _count(ctx, DR, "RestoreSnapshotTier")
    assert kind.restore_from_archive(ctx, point) == RESTORE_STARTED
    assert calls == [{"SnapshotId": sid, "TemporaryRestoreDays": 7}]
    # moto completes the temporary restore at once (AWS takes up to 72 hours)
    assert not archived_now(point)
    assert point.details["restore_expiry"]
    # restored: no second restore, and retention does not archive it again
    assert kind.restore_from_archive(ctx, point) == USABLE
    assert len(calls) == 1
    assert kind.archive(ctx, DR, [point]) == {sid: ALREADY_ARCHIVED}
    standard = next(
        p for p in kind.list_points(ctx, DR, "gold") if p.point_id == estate["copies"][("live", 4)]
    )
    assert not archived_now(standard)
    assert kind.restore_from_archive(ctx, standard) == USABLE
    assert len(calls) == 1


def _archive(ctx, *snapshot_ids):
    for sid in snapshot_ids:
        ctx.client("ec2", DR).modify_snapshot_tier(SnapshotId=sid, StorageTier="archive")


def test_verify_and_failover_prefer_a_standard_tier_copy(ctx, estate):
    from awsdr.failover import readiness
    from awsdr.verify import newest_copies

    copies = estate["copies"]
    # live: its newest copy was archived by hand, day 38's is standard; stopped: all archived
    _archive(ctx, copies[("live", 39)], *(copies[("stopped", d)] for d in range(10)))
    listed = EbsKind().list_points(ctx, DR, "gold")
    chosen = newest_copies(listed)
    assert chosen[estate["live"]].point_id == copies[("live", 38)]
    assert not archived_now(chosen[estate["live"]])
    # every copy archived: the newest is chosen, and it is known to be archived
    assert chosen[estate["stopped"]].point_id == copies[("stopped", 9)]
    assert archived_now(chosen[estate["stopped"]])

    policy = parse_policy(POLICY_TEXT, "test.yaml")
    best = readiness.newest_copies(ctx, policy, "ebs", DR, [estate["live"], estate["stopped"]])
    assert best[estate["live"]].point_id == copies[("live", 38)]
    assert best[estate["stopped"]].point_id == copies[("stopped", 9)]
    now = datetime.now(tz=UTC)
    assert readiness.archive_extra_rto(best[estate["live"]], now) == timedelta(0)
    assert readiness.archive_extra_rto(best[estate["stopped"]], now) == timedelta(hours=72)


def test_readiness_warns_when_the_newest_usable_copy_is_archived(ctx, estate):
    from types import SimpleNamespace

    from awsdr.failover import readiness

    copies = estate["copies"]
    _archive(ctx, *(copies[("stopped", d)] for d in range(10)))
    policy = parse_policy(POLICY_TEXT, "test.yaml")
    best = readiness.newest_copies(ctx, policy, "ebs", DR, [estate["live"], estate["stopped"]])
    fo = SimpleNamespace(
        readiness=SimpleNamespace(
            stale_copies="warning", unverified="warning", verified_within=timedelta(days=7)
        )
    )
    warned = []
    for source in (estate["live"], estate["stopped"]):
        findings = readiness.Findings()
        readiness._check_copy(findings, policy, fo, source, best[source], DR, NOW)
        warned.append([w for w in findings.warnings if "archive tier" in w])
    assert warned[0] == []
    assert len(warned[1]) == 1
    assert "up to 72 h beyond the RTO" in warned[1][0]
    assert copies[("stopped", 9)] in warned[1][0]


def test_restore_verification_starts_a_tier_restore_instead_of_restoring_an_archived_copy(
    ctx, estate, tmp_path
):
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowSkipException

    from awsdr.operators.verify import VerifyKindOperator

    copies = estate["copies"]
    _archive(ctx, *(copies[("stopped", d)] for d in range(10)))
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY_TEXT)
    op = VerifyKindOperator(
        task_id="verify_ebs",
        kind="ebs",
        settings={"plans": ["gold"], "only": [estate["stopped"]], "sample": None},
        policy_path=str(policy_file),
    )
    op.__dict__["ctx"] = ctx  # the operator's cached AWS context: the emulator
    restores = _count(ctx, DR, "RestoreSnapshotTier")
    volumes = _count(ctx, DR, "CreateVolume")
    context = {"dag_run": SimpleNamespace(run_id="verify-1", run_after=NOW), "logical_date": NOW}
    with pytest.raises(AirflowSkipException, match="archive tier"):
        op.execute(context)
    assert volumes == []
    assert restores == [{"SnapshotId": copies[("stopped", 9)], "TemporaryRestoreDays": 7}]


def test_the_retention_report_counts_archives_and_fails_on_an_archive_error(ctx, estate, tmp_path):
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from awsdr.operators.retention import RetentionReportOperator

    run = _run(ctx, estate, dry_run=False).to_dict()
    assert len(run["archive"]["archived"]) == 30 + 9
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY_TEXT)
    op = RetentionReportOperator(task_id="report", kinds=["ebs"], policy_path=str(policy_file))
    op.__dict__["ctx"] = ctx
    outputs = {"validate_params": {"plans": ["gold"]}, "prune_ebs": {"kind": "ebs", "runs": [run]}}
    ti = SimpleNamespace(xcom_pull=lambda task_ids: outputs[task_ids])
    assert op.execute({"ti": ti, "dag_run": SimpleNamespace(run_id="r1")}) == {"ok": True}
    report = estate["catalog"].get_json("retention/reports/r1.json")
    assert len(report["kinds"]["ebs"][0]["archive"]["archived"]) == 39
    run["archive"]["errors"] = {"snap-1": "error: IncorrectState busy"}
    with pytest.raises(AirflowFailException, match="archive gold/ebs snap-1"):
        op.execute({"ti": ti, "dag_run": SimpleNamespace(run_id="r2")})
