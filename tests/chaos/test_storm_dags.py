"""The storm over every DAG: 20 % throttling and 25 % lost mutating answers (``make chaos``: 30 %
and 35 %, adaptive retries) on every request of backup, copy, retention, verify, posture, the
failover dry run and the drill, each DAG run through its own tasks in a worker
(:mod:`chaos.kill`, no kill) pointed at the fault proxy; the invariant checker after each, straight
at the emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from conftest import DR

from chaos.conftest import FULL, record_row
from chaos.kill import attempt, hours_ago

if TYPE_CHECKING:
    from pathlib import Path


def _variant(tmp_path: Path):
    from awsdr.policy import DEFAULT_POLICY_PATH, load_policy

    text = DEFAULT_POLICY_PATH.read_text()
    for old, new in (
        ("primary: {hourly: 24, daily: 7}", "primary: {hourly: 1}"),
        ("dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}", "dr: {daily: 1}"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return load_policy(path)


@pytest.mark.skipif(
    not FULL, reason="make chaos only (13 min on a loaded 2-core box); CI runs the backup + copy storm"
)
def test_a_storm_over_every_dag_keeps_every_invariant(
    proxy, demo_estate, fast_retries, tmp_path, monkeypatch
):
    from datetime import UTC, datetime

    import dr_posture
    import dr_restore_verify
    import dr_retention
    from failover_support import widen_pitr

    from awsdr.aws.context import AwsContext
    from awsdr.check import check
    from awsdr.operators.failover_dag import build_runbook
    from awsdr.testing.fault_proxy import Faults
    from chaos.harness import backup_window, copy_window

    widen_pitr(monkeypatch)
    policy = _variant(tmp_path)
    storm = Faults(throttle=0.3 if FULL else 0.2, lost=0.35 if FULL else 0.25, seed=23)
    p = proxy(storm)
    faulty = AwsContext.from_boto3(endpoint_url=p.url)
    label = f"{storm.throttle:.0%} throttled, {storm.lost:.0%} lost"
    results: dict[str, str] = {}

    def row(scenario: str, before: int, ok: bool, detail: str = "") -> None:
        injected = p.injected() - before
        record_row(
            f"storm: {scenario}", f"{injected} ({label})", "0", "pass" if ok else f"FAIL {detail}"[:200]
        )
        results[scenario] = "pass" if ok else detail

    before = p.injected()
    failed: list = []
    for w in (hours_ago(3), hours_ago(2), hours_ago(1)):
        failed += backup_window(faulty, policy, "gold", w)[1]
    copies, copy_failed = copy_window(faulty, policy, "gold")
    # copies only of what DR retention keeps (the variant keeps one daily): no copies_complete
    report = check(demo_estate, policy)
    row("backup x3 windows + copy", before, report.ok and not failed and not copy_failed, report.render())
    assert failed == []
    assert copy_failed == []
    assert report.ok, report.render()
    points = report.counts["points"]

    now = datetime.now(tz=UTC).replace(microsecond=0)
    runs = [
        ("retention", dr_retention.dag, f"scheduled__{now.isoformat()}", "scheduled", now, {"force": True}),
        ("verify", dr_restore_verify.dag, "manual__storm-verify", "manual", None, {"plan": "gold"}),
        ("posture", dr_posture.dag, f"scheduled__{now.isoformat()}", "scheduled", now, {}),
        (
            "failover dry run",
            build_runbook(
                policy, "dr_failover", direction="failover", drill=False, description="", doc_md=None
            ),
            "manual__storm-dry-run",
            "manual",
            None,
            {"target_region": DR},
        ),
        (
            "drill",
            build_runbook(
                policy, "dr_failover_drill", direction="failover", drill=True, description="", doc_md=None
            ),
            "manual__storm-drill",
            "manual",
            None,
            {},
        ),
    ]
    for name, dag, run_id, run_type, logical, conf in runs:
        before = p.injected()
        work = tmp_path / name.replace(" ", "-")
        got = attempt(
            dag,
            work,
            None,
            endpoint=p.url,
            run_id=run_id,
            run_type=run_type,
            logical_date=logical,
            conf=conf,
            policy=policy,
            timeout=600,
        )
        report = check(demo_estate, policy)
        errors = [
            line for line in (work / "journal.jsonl").read_text().splitlines() if '"event": "error"' in line
        ]
        ok = got.state == "success" and report.ok
        row(name, before, ok, f"{got} {report.render()} {errors[-2:]}")
    assert p.stats["throttle"] > 0
    assert p.stats["lost"] > 0
    assert all(v == "pass" for v in results.values()), results
    # retention deleted under the storm (the variant keeps one hourly primary point per resource)
    final = check(demo_estate, policy)
    assert final.counts["audited deletions"] > 0
    assert final.counts["points"] < points
