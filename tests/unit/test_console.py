"""The DR console (issue 15): compliance controls, the cost estimate, the pages and their auth.

Pure and in-process: posture documents computed by the real ``compute_posture`` from synthetic
points, an in-memory catalog reader that counts its calls, FastAPI's TestClient.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from awsdr.console import compliance, cost
from awsdr.console.app import create_app
from awsdr.console.compliance import LockStatus
from awsdr.console.data import ConsoleData, append_history, history_sample, points_doc
from awsdr.kinds.base import AVAILABLE, RecoveryPoint
from awsdr.policy import Compliance, load_policy
from awsdr.posture import compute_posture, targets_from_policy
from awsdr.windows import format_window

POLICY = load_policy()
P, DR = POLICY.primary_region, POLICY.dr_regions[0]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
KEY_ARN = f"arn:aws:kms:{DR}:123456789012:key/1111-2222"
_seq = iter(range(1_000_000))


def pt(source, window, *, region=P, copy=False, kind="ebs", plan="gold", size=8.0, key=KEY_ARN, created=None):
    pid = f"snap-{next(_seq)}"
    tags = {
        "awsdr:managed": "true",
        "awsdr:plan": plan,
        "awsdr:window": format_window(window),
        "awsdr:source": source,
    }
    if copy:
        tags["awsdr:copy-of"] = f"snap-src-{pid}"
    details = {"size_gib": size, "encrypted": True, "kms_key_id": key if copy else None}
    return RecoveryPoint(
        kind, pid, pid, source, region, plan, window, AVAILABLE, tags, created or window, details
    )


def healthy(source="vol-1", *, hours=12, kind="ebs", plan="gold", key=KEY_ARN):
    """Hourly primary points and a DR copy of each, up to NOW."""
    out = []
    for h in range(hours):
        w = NOW - h * H
        out.append(pt(source, w, kind=kind, plan=plan))
        out.append(
            pt(
                source,
                w,
                region=DR,
                copy=True,
                kind=kind,
                plan=plan,
                key=key,
                created=w + timedelta(minutes=5),
            )
        )
    return out


def verified(source="vol-1", *, at=NOW - 2 * H, passed=True, kind="ebs", plan="gold"):
    return {
        "plan": plan,
        "kind": kind,
        "source": source,
        "passed": passed,
        "seconds": 600,
        "verified_at": format_window(at),
        "copy_id": "snap-x",
        "region": DR,
        "window": format_window(at),
    }


def posture_of(points, *, selected=None, verify=()):
    return compute_posture(
        now=NOW,
        primary_region=P,
        dr_regions=POLICY.dr_regions,
        plans=targets_from_policy(POLICY),
        points=points,
        verify_results=list(verify),
        orphans={},
        unlisted={},
        selected=selected if selected is not None else {("gold", "ebs"): ["vol-1"]},
        undiscovered={},
    )


LOCKED = LockStatus(enabled=True, mode="GOVERNANCE", days=2557)


def evaluate(points, *, policy=POLICY, lock=LOCKED, **kw):
    doc = posture_of(points, **kw)
    return compliance.evaluate(policy, doc, points, now=NOW, dr_keys={DR: KEY_ARN}, lock=lock)


def results(rows, control):
    return [r["result"] for r in rows if r["control"] == control]


# --- compliance ---------------------------------------------------------------------------------


def test_a_healthy_resource_passes_every_control_with_evidence():
    points = healthy()
    rows = evaluate(points, verify=[verified()])
    assert {r["control"] for r in rows} == set(compliance.CONTROLS) - {"vault-copy"}
    assert all(r["result"] == "pass" for r in rows), [r for r in rows if r["result"] != "pass"]
    freq = next(r for r in rows if r["control"] == "backup-frequency")
    newest = max((p for p in points if p.region == P), key=lambda p: p.window)
    assert newest.point_id in freq["evidence"]
    enc = next(r for r in rows if r["control"] == "dr-copy-encrypted")
    assert KEY_ARN in enc["evidence"]
    assert "12 copies" in enc["evidence"]


def test_a_gap_in_backups_fails_frequency_naming_the_two_points():
    points = [p for p in healthy() if not (p.region == P and NOW - 6 * H <= p.window <= NOW - 4 * H)]
    rows = evaluate(points, verify=[verified()])
    freq = next(r for r in rows if r["control"] == "backup-frequency")
    assert freq["result"] == "fail"
    assert "largest gap in 7 days 4.0h" in freq["evidence"]


def test_stale_newest_point_fails_frequency():
    points = [p for p in healthy() if p.window <= NOW - 3 * H]
    rows = evaluate(points, verify=[verified()])
    assert results(rows, "backup-frequency") == ["fail"]
    assert results(rows, "dr-copy") == ["fail"]  # the newest copy is older than the RPO


def test_a_copy_under_another_key_or_unencrypted_fails_encryption():
    points = healthy()
    bad = next(p for p in points if p.region == DR)
    bad.details["kms_key_id"] = f"arn:aws:kms:{DR}:123456789012:key/other"
    rows = evaluate(points, verify=[verified()])
    enc = next(r for r in rows if r["control"] == "dr-copy-encrypted")
    assert enc["result"] == "fail"
    assert bad.point_id in enc["evidence"]
    assert "1 of 12" in enc["evidence"]
    bad.details["kms_key_id"] = KEY_ARN
    bad.details["encrypted"] = False
    assert results(evaluate(points, verify=[verified()]), "dr-copy-encrypted") == ["fail"]


def test_a_copy_recorded_under_the_policys_alias_passes_and_another_alias_fails():
    alias = POLICY.kms_keys[DR]
    assert alias.startswith("alias/")  # the demo policy names its DR key by alias
    points = healthy()
    copy = next(p for p in points if p.region == DR)
    for recorded in (alias, f"arn:aws:kms:{DR}:123456789012:{alias}"):
        copy.details["kms_key_id"] = recorded  # what the copy was made with (moto records it so)
        assert results(evaluate(points, verify=[verified()]), "dr-copy-encrypted") == ["pass"]
    copy.details["kms_key_id"] = "alias/someone-elses"
    assert results(evaluate(points, verify=[verified()]), "dr-copy-encrypted") == ["fail"]


def test_no_dr_copy_fails_and_never_verified_fails():
    points = [p for p in healthy() if p.region == P]
    rows = evaluate(points)
    assert results(rows, "dr-copy") == ["fail"]
    assert results(rows, "restore-verified") == ["fail"]
    assert "never verified" in next(r for r in rows if r["control"] == "restore-verified")["evidence"]


def test_verification_older_than_the_policy_period_fails_and_the_period_is_the_policys():
    old = verified(at=NOW - timedelta(days=8))
    assert results(evaluate(healthy(), verify=[old]), "restore-verified") == ["fail"]
    lenient = replace(POLICY, compliance=Compliance(verify_within=timedelta(days=10)))
    assert results(evaluate(healthy(), verify=[old], policy=lenient), "restore-verified") == ["pass"]
    assert results(evaluate(healthy(), verify=[verified(passed=False)]), "restore-verified") == ["fail"]


def test_retention_below_the_minimum_fails():
    strict = replace(POLICY, compliance=Compliance(min_retention=timedelta(days=30)))
    rows = evaluate(healthy(), verify=[verified()], policy=strict)
    row = next(r for r in rows if r["control"] == "retention-minimum")
    # gold keeps 7 dailies in the primary region: below 30 days
    assert row["result"] == "fail"
    assert "daily 7" in row["evidence"]


def test_an_orphan_and_a_resource_claimed_by_two_plans_fail_resource_in_plan():
    points = healthy() + healthy("vol-2")
    doc = posture_of(points, selected={("gold", "ebs"): ["vol-1"]})
    rows = compliance.evaluate(
        POLICY, doc, points, now=NOW, dr_keys={DR: KEY_ARN}, lock=LockStatus(enabled=True)
    )
    orphan = [r for r in rows if r["control"] == "resource-in-plan" and r["source"] == "vol-2"]
    assert [r["result"] for r in orphan] == ["fail"]
    # vol-2 is not judged further
    assert not [r for r in rows if r["source"] == "vol-2" and r["control"] != "resource-in-plan"]
    both = healthy() + healthy(plan="silver")
    doc = posture_of(both, selected={("gold", "ebs"): ["vol-1"], ("silver", "ebs"): ["vol-1"]})
    rows = compliance.evaluate(
        POLICY, doc, both, now=NOW, dr_keys={DR: KEY_ARN}, lock=LockStatus(enabled=True)
    )
    claimed = [r for r in rows if r["control"] == "resource-in-plan"]
    assert [r["result"] for r in claimed] == ["fail", "fail"]
    assert "gold, silver" in claimed[0]["evidence"]


def test_audit_lock_control_fails_without_object_lock_and_is_not_assessed_on_error():
    assert results(evaluate(healthy(), lock=LockStatus(enabled=False)), "audit-object-lock") == ["fail"]
    rows = evaluate(healthy(), lock=LockStatus(enabled=False, error="AccessDenied: no"))
    assert results(rows, "audit-object-lock") == ["not-assessed"]


def test_vault_control_needs_a_vault_copy_of_the_newest_dr_copy():
    from awsdr.policy import Vault

    policy = replace(
        POLICY,
        vault=Vault(account_id="210987654321", role_arn="arn:aws:iam::210987654321:role/v", regions=(DR,)),
    )
    points = healthy()
    doc = posture_of(points, verify=[verified()])
    newest = max((p for p in points if p.region == DR), key=lambda p: p.window)
    vault_copy = pt("vol-1", newest.window, region=DR, copy=True)
    kw = {"now": NOW, "dr_keys": {DR: KEY_ARN}, "lock": LockStatus(enabled=True)}
    assert results(
        compliance.evaluate(policy, doc, points, vault_points=[vault_copy], **kw), "vault-copy"
    ) == ["pass"]
    older = pt("vol-1", newest.window - H, region=DR, copy=True)
    assert results(compliance.evaluate(policy, doc, points, vault_points=[older], **kw), "vault-copy") == [
        "fail"
    ]
    assert results(compliance.evaluate(policy, doc, points, vault_points=None, **kw), "vault-copy") == [
        "not-assessed"
    ]


def test_report_csv_and_html_carry_every_row():
    rows = evaluate(healthy(), verify=[verified(passed=False)])
    doc = compliance.report(rows, window=NOW, generated_at=NOW)
    assert doc["compliant"] is False
    assert doc["summary"]["restore-verified"]["fail"] == 1
    parsed = list(csv.DictReader(io.StringIO(compliance.to_csv(rows))))
    assert len(parsed) == len(rows)
    assert parsed[0].keys() == set(compliance.COLUMNS)
    page = compliance.to_html(doc)
    assert page.count("<tr class=") == len(rows)
    assert "NOT compliant" in page


# --- cost ---------------------------------------------------------------------------------------


def test_storage_transfer_and_standby_follow_the_price_table():
    prices = cost.load_prices()
    assert prices["as_of"]
    assert prices["source"]
    points = healthy(hours=3)  # 3 primary + 3 DR copies of 8 GiB, copies created within the day
    doc = cost.estimate(POLICY, points, now=NOW + timedelta(minutes=10), prices=prices)
    assert doc["estimate"] is True
    ebs_p = doc["storage"]["regions"][P]["ebs"]
    assert ebs_p == {
        "points": 3,
        "gib": 24.0,
        "usd_month": round(24 * prices["storage_gib_month"][P]["ebs"], 2),
    }
    assert doc["transfer"]["per_region"][DR]["copies"] == 3
    assert doc["transfer"]["usd_day"] == round(24 * prices["transfer_out_gib"][P], 2)
    # the demo standbys: asg web (t3.micro, resting 0, full 2) and ecs api (resting 1, full 2)
    fargate = prices["fargate_hour"][DR]
    task_h = 0.25 * fargate["vcpu"] + 0.5 * fargate["gib"]
    t3 = prices["ec2_hour"][DR]["t3.micro"]
    pilot = doc["standby"]["pilot-light"]
    assert pilot["standing_usd_month"] == round(1 * task_h * 730, 2)
    assert pilot["serving_usd_hour"] == round(2 * t3 + 2 * task_h, 4)
    assert doc["standby"]["active-active"]["standing_usd_month"] == round((2 * t3 + 2 * task_h) * 730, 2)
    assert doc["standby"]["backup-restore"]["standing_usd_month"] == 0


def test_an_asg_without_instance_type_is_listed_as_unpriced():
    failover = POLICY.failover
    asg = replace(failover.compute[0], instance_type=None)
    policy = replace(POLICY, failover=replace(failover, compute=(asg, *failover.compute[1:])))
    doc = cost.estimate(policy, [], now=NOW)
    assert doc["standby"]["warm-standby"]["unpriced"] == [f"asg web ({DR}): no instance_type"]


# --- data and pages -----------------------------------------------------------------------------


class MemoryCatalog:
    """``list``/``get`` over a dict, counting calls (the console's only AWS access)."""

    def __init__(self, docs: dict[str, object]):
        self.docs = {k: v if isinstance(v, bytes) else json.dumps(v).encode() for k, v in docs.items()}
        self.calls = 0

    def list(self, prefix):
        self.calls += 1
        return [(k, str(hash(v)), 0.0) for k, v in sorted(self.docs.items()) if k.startswith(prefix)]

    def get(self, key):
        self.calls += 1
        return self.docs.get(key)


def catalog_docs(points, verify, selected=None):
    doc = posture_of(points, verify=verify, selected=selected)
    doc["cost"] = cost.estimate(POLICY, points, now=NOW)
    pts = points_doc(points, window=doc["window"])
    history = append_history(None, history_sample(doc, pts))
    rows = compliance.evaluate(
        POLICY, doc, points, now=NOW, dr_keys={DR: KEY_ARN}, lock=LockStatus(enabled=True)
    )
    report = compliance.report(rows, window=NOW, generated_at=NOW)
    return {
        "posture/latest.json": doc,
        "console/points.json": pts,
        "console/history.json": history,
        "compliance/latest.json": report,
        "compliance/latest.csv": compliance.to_csv(rows).encode(),
        "compliance/latest.html": compliance.to_html(report).encode(),
        "posture/failover-readiness.json": {
            "schema": 1,
            "checked_at": format_window(NOW),
            "runbooks": {
                f"failover@{DR}": {
                    "state": "not-ready",
                    "since": "x",
                    "problems": ["no replica"],
                    "warnings": [],
                }
            },
        },
        "failover/manual__1/audit.json": {
            "dag_id": "dr_failover",
            "run_id": "manual__1",
            "direction": "failover",
            "strategy": "pilot-light",
            "target_region": DR,
            "outcome": "success",
            "approval": {"decision": "approved", "by": "alice", "how": "Required Actions"},
            "fencing": [{"target": "orders-db", "status": "fenced"}],
            "rto_seconds": 840,
            "started_at": format_window(NOW),
            "steps": [{"id": "s1", "action": "promote", "status": "done", "seconds": 30}],
        },
        "verify/runs/scheduled__x/ebs.json": verify,
    }


def user_ok():
    return {"name": "tester"}


def client_for(docs, *, auth=user_ok):
    reader = MemoryCatalog(docs)
    data = ConsoleData(lambda: reader, ttl=3600)
    return TestClient(create_app(data, auth=auth)), reader


def test_pages_show_what_the_catalog_holds():
    points = healthy() + [p for p in healthy("vol-2") if p.region == P]
    docs = catalog_docs(
        points, [verified(), verified("vol-2")], selected={("gold", "ebs"): ["vol-1", "vol-2"]}
    )
    client, _ = client_for(docs)
    home = client.get("/")
    assert home.status_code == 200
    text = home.text
    assert "gold" in text
    assert "failover" in text
    assert "no replica" in text
    assert 'href="resource/gold/ebs/vol-1"' in text
    assert "Open alerts (1)" in text  # vol-2 has no DR copy
    res = client.get("/resource/gold/ebs/vol-1")
    assert res.status_code == 200
    assert text.count("<tr>") > 3
    newest = max((p for p in points if p.source_id == "vol-1" and p.region == DR), key=lambda p: p.window)
    assert newest.point_id in res.text
    assert "<svg" in res.text
    assert "passed" in res.text
    assert client.get("/resource/gold/ebs/nope").status_code == 404
    fo = client.get("/failovers").text
    assert "approved by alice" in fo
    assert "14 min" in fo
    assert "orders-db: fenced" in fo
    charts = client.get("/charts").text
    assert charts.count("<polyline") >= 3
    comp = client.get("/compliance")
    assert "NOT compliant" in comp.text  # vol-2 lacks a copy
    csv_resp = client.get("/compliance.csv")
    assert csv_resp.headers["content-type"].startswith("text/csv")
    assert 'dr-copy,"A complete copy' in csv_resp.text
    assert "attachment" in client.get("/compliance.html").headers["content-disposition"]
    cost_page = client.get("/cost").text
    assert "Estimate" in cost_page
    assert "pilot-light" in cost_page


def test_page_views_are_served_from_the_cache():
    client, reader = client_for(catalog_docs(healthy(), [verified()]))
    client.get("/")
    after_first = reader.calls
    for path in ("/", "/charts", "/failovers", "/resource/gold/ebs/vol-1", "/cost", "/compliance"):
        assert client.get(path).status_code == 200
    for path in ("/compliance.csv", "/compliance.html"):  # downloads too: no listing, no read
        assert client.get(path).status_code == 200
    assert reader.calls == after_first  # no catalog call while the snapshot is fresh


def test_a_download_follows_the_catalog_on_refresh_and_reads_only_what_changed():
    reader = MemoryCatalog(catalog_docs(healthy(), [verified()]))
    data = ConsoleData(lambda: reader, ttl=3600)
    client = TestClient(create_app(data, auth=user_ok))
    first = client.get("/compliance.csv").text
    assert "dr-copy" in first
    reader.docs["compliance/latest.csv"] = b"control,resource\nnew-report,vol-9\n"
    assert client.get("/compliance.csv").text == first  # the cached view until its refresh
    reads = data.reads
    data.snapshot(force=True)
    assert data.reads == reads + 1  # only the CSV changed: one GET, the HTML is not read again
    assert "new-report,vol-9" in client.get("/compliance.csv").text
    del reader.docs["compliance/latest.html"]
    data.snapshot(force=True)
    assert client.get("/compliance.html").status_code == 404


def test_every_route_refuses_a_request_without_a_login():
    def refuse():
        raise HTTPException(status_code=401, detail="Not authenticated")

    client, reader = client_for(catalog_docs(healthy(), []), auth=refuse)
    for path in ("/", "/charts", "/failovers", "/compliance", "/compliance.csv", "/cost", "/api/summary"):
        assert client.get(path).status_code == 401, path
    assert reader.calls == 0


def test_the_default_auth_is_airflows_own_and_refuses_no_token():
    """Without a token or cookie, Airflow's ``get_user`` answers 401 before anything is read."""
    reader = MemoryCatalog({})
    client = TestClient(create_app(ConsoleData(lambda: reader)))
    assert client.get("/").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer "}).status_code in (401, 403)
    assert reader.calls == 0


@pytest.mark.parametrize("n", [300])
def test_a_large_catalog_renders(n):
    """A large catalog: every page renders (2,000 resources and the speed: ``make bench``)."""
    points = []
    for i in range(n):
        points += healthy(f"vol-{i}", hours=2)
    selected = {("gold", "ebs"): [f"vol-{i}" for i in range(n)]}
    doc = posture_of(points, selected=selected)
    docs = {"posture/latest.json": doc, "console/points.json": points_doc(points, window=doc["window"])}
    client, _ = client_for(docs)
    home = client.get("/").text
    # never verified: each resource is in the alerts table and in the resources table
    assert f"Resources ({n})" in home
    assert f"Open alerts ({n})" in home
    assert home.count('href="resource/gold/ebs/') == 2 * n
    assert client.get(f"/resource/gold/ebs/vol-{n - 1}").status_code == 200


def test_a_stale_view_is_served_at_once_while_a_background_refresh_reads_the_catalog():
    import time

    docs = catalog_docs(healthy(), [verified()])
    reader = MemoryCatalog(docs)
    data = ConsoleData(lambda: reader, ttl=0)
    first = data.snapshot()
    changed = dict(docs["posture/latest.json"], window="2026-11-24T12:15:00Z")
    reader.docs["posture/latest.json"] = json.dumps(changed).encode()
    assert data.snapshot() is first  # stale, served without waiting
    deadline = time.monotonic() + 10
    while data.snapshot().posture["window"] != "2026-11-24T12:15:00Z":
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.05)


def _empty_catalog(empty_ttl: float):
    """A console opened before dr_posture ever ran: the catalog without its posture document, an
    hour-long ttl; returns the console data, the catalog and the posture document to add later."""
    docs = catalog_docs(healthy(), [verified()])
    posture = docs.pop("posture/latest.json")
    reader = MemoryCatalog(docs)
    data = ConsoleData(lambda: reader, ttl=3600, empty_ttl=empty_ttl)
    assert data.snapshot().posture is None
    return data, reader, posture


def test_an_empty_view_is_never_served_stale_so_the_first_posture_run_shows_at_once():
    data, reader, posture = _empty_catalog(empty_ttl=0)
    reader.docs["posture/latest.json"] = json.dumps(posture).encode()
    # the same request reads the catalog (no background refresh, no wait for the hour-long ttl)
    assert data.snapshot().posture["window"] == posture["window"]
    # once there is a posture document, the ttl holds again: a change is not read in the request
    reader.docs["posture/latest.json"] = json.dumps(dict(posture, window="2026-11-24T12:15:00Z")).encode()
    assert data.snapshot().posture["window"] == posture["window"]


def test_an_empty_view_is_kept_for_its_short_ttl():
    data, reader, posture = _empty_catalog(empty_ttl=3600)
    calls = reader.calls
    reader.docs["posture/latest.json"] = json.dumps(posture).encode()
    assert data.snapshot().posture is None
    assert reader.calls == calls  # within empty_ttl: served from the cache, no catalog call


def test_a_chart_of_one_posture_run_shows_its_samples():
    from awsdr.console.views import line_chart

    one = line_chart("Points per region", {"ap-northeast-1": [(1000.0, 28.0)]}, unit="points")
    assert one.count("<circle") == 1  # a polyline of one point draws nothing
    many = line_chart("Points", {"r": [(float(t), 1.0) for t in range(200)]}, unit="points")
    assert "<circle" not in many
    assert many.count("<polyline") == 1


def _ami_copy_as_listed(point, *keys, encrypted=True):
    """``point`` (an AMI copy) as a later listing makes it: from DescribeImages, not the copy call."""
    from awsdr.kinds.ami import image_point

    image = {
        "ImageId": f"ami-{point.point_id}",
        "State": "available",
        "Name": f"awsdr-{point.point_id}",
        "CreationDate": format_window(point.created_at),
        "Tags": [{"Key": k, "Value": v} for k, v in {**point.tags, "awsdr:kind": "ec2"}.items()],
        "BlockDeviceMappings": [
            {
                "DeviceName": f"/dev/sd{chr(97 + i)}",
                "Ebs": {"SnapshotId": f"snap-{i}", "VolumeSize": 8, "Encrypted": encrypted, "KmsKeyId": k},
            }
            for i, k in enumerate(keys)
        ],
    }
    listed = image_point(image, point.region)
    assert listed is not None
    return listed


def test_an_ami_copy_listed_from_describe_images_carries_the_key_of_its_volumes():
    """The encryption control on AMI copies (seen failing every one in make run's demo: a listed
    image recorded no key). The key is read from the image's block device mappings."""
    points = healthy(kind="ec2")
    copies = [p for p in points if p.region == DR]
    listed = [_ami_copy_as_listed(p, KEY_ARN, KEY_ARN) for p in copies]
    assert {p.details["kms_key_id"] for p in listed} == {KEY_ARN}
    others = [p for p in points if p.region != DR]
    assert results(evaluate(others + listed, verify=[verified(kind="ec2")]), "dr-copy-encrypted") == ["pass"]
    # one volume of one image under another key: that copy fails, naming both keys
    other = f"arn:aws:kms:{DR}:123456789012:key/other"
    listed[0] = _ami_copy_as_listed(copies[0], KEY_ARN, other)
    rows = evaluate(others + listed, verify=[verified(kind="ec2")])
    enc = next(r for r in rows if r["control"] == "dr-copy-encrypted")
    assert enc["result"] == "fail"
    assert other in enc["evidence"]
    assert "1 of 12" in enc["evidence"]
    # an unencrypted image (what moto 5.2.5 makes of CopyImage): said so, not "not recorded"
    listed[0] = _ami_copy_as_listed(copies[0], None, encrypted=False)
    enc = next(
        r
        for r in evaluate(others + listed, verify=[verified(kind="ec2")])
        if r["control"] == "dr-copy-encrypted"
    )
    assert enc["result"] == "fail"
    assert "not encrypted" in enc["evidence"]
