"""SIGKILL of the worker at every point of :data:`chaos.kill.KILL_POINTS`, then Airflow's retry.

Each scenario: a clean emulator and a small estate (three gold EBS volumes, an instance, an RDS
instance, an Aurora cluster, a table, a bucket; the demo estate for failover), what the DAG
needs done before it (backups, copies) through the engines, then the DAG run in a forked worker
killed at the point, then a fresh worker on the same run (the retry), then the invariant
checker. The kill must be reached (the worker dies of SIGKILL), the retry must end the run green,
and the checker must pass. ``make chaos`` (``AWSDR_CHAOS=full``) runs every point; CI the ones
marked ``ci``.
"""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from conftest import DR, PRIMARY, ROOT

from chaos.conftest import FULL, record_row
from chaos.kill import KILL_POINTS, KillPoint, hours_ago, kill_then_retry, repeated

if TYPE_CHECKING:
    from pathlib import Path

POINTS = [k for k in KILL_POINTS if FULL or k.ci]

#: creates and starts that must never happen twice for one key across a kill and its retry
ONCE = (
    "CreateSnapshot",
    "CopySnapshot",
    "CreateImage",
    "CopyImage",
    "CreateDBSnapshot",
    "CopyDBSnapshot",
    "CreateDBClusterSnapshot",
    "CopyDBClusterSnapshot",
    "CreateBackup",
    "PromoteReadReplica",
    "RestoreDBClusterFromSnapshot",
    "RestoreTableFromBackup",
    "UpdateAutoScalingGroup",
)


def seed_small(endpoint: str) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from seed_demo import Seeder

    s = Seeder(endpoint)
    gold = {"dr-plan": "gold", "app": "orders"}
    for i in range(3):
        s.volume(f"orders-data-{i}", 8, gold)
    s.volume("scratch-untagged", 2, {"app": "scratch"})
    s.instance("orders-web-0", gold)
    s.rds("orders-db", gold)
    s.aurora("ledger", gold)
    s.table("orders", gold, items=20)
    s.bucket("awsdr-demo-orders-assets", PRIMARY, gold, objects=4, versioned=True)
    s.bucket("awsdr-catalog", DR, None, objects=0, versioned=True)
    s.kms_alias(DR, "alias/awsdr")


def _variant(tmp_path: Path, *changes: tuple[str, str]):
    from awsdr.policy import DEFAULT_POLICY_PATH, load_policy

    text = DEFAULT_POLICY_PATH.read_text()
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return load_policy(path)


def _backup_and_copy(ctx, policy, windows):
    from chaos.harness import backup_window, copy_window

    for w in windows:
        _, failed = backup_window(ctx, policy, "gold", w)
        assert failed == []
    _, failed = copy_window(ctx, policy, "gold")
    assert failed == []


@pytest.mark.parametrize(
    "kill",
    [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=k.known_bug)) if k.known_bug else k
        for k in POINTS
    ],
    ids=[k.name for k in POINTS],
)
def test_a_killed_worker_and_its_retry_keep_every_invariant(
    kill: KillPoint, moto, ctx, tmp_path, monkeypatch
):
    from awsdr.check import check
    from awsdr.policy import load_policy

    policy = load_policy()
    run = {"endpoint": moto, "policy": policy}
    if kill.dag in ("failover", "drill"):
        sys.path.insert(0, str(ROOT / "scripts"))
        from failover_support import make_dr_copies, widen_pitr
        from seed_demo import Seeder

        from awsdr.operators.failover_dag import build_runbook

        Seeder(moto).run()
        widen_pitr(monkeypatch)
        make_dr_copies(ctx)
        policy = _variant(tmp_path, ("  drill:\n", "  approval: {required: false}\n  drill:\n"))
        drill = kill.dag == "drill"
        dag = build_runbook(
            policy,
            "dr_failover_drill" if drill else "dr_failover",
            direction="failover",
            drill=drill,
            description="",
            doc_md=None,
        )
        conf = (
            {} if drill else {"dry_run": False, "confirm": DR, "target_region": DR, "reason": "chaos: kill"}
        )
        run.update(
            policy=policy, run_id=f"manual__chaos-{kill.dag}", run_type="manual", logical_date=None, conf=conf
        )
    else:
        seed_small(moto)
        if kill.dag == "backup":
            import dr_backup

            dr_backup = importlib.reload(dr_backup)  # another module may have loaded it with its own policy

            dag = dr_backup.dr_backup_gold
            w = hours_ago(0)
            run.update(run_id=f"scheduled__{w.isoformat()}", logical_date=w)
        elif kill.dag == "copy":
            import dr_copy

            dr_copy = importlib.reload(dr_copy)

            _backup_and_copy_windows = [hours_ago(0)]
            from chaos.harness import backup_window

            for w in _backup_and_copy_windows:
                assert backup_window(ctx, policy, "gold", w)[1] == []
            dag = dr_copy.dr_copy_gold
            run.update(run_id="asset_triggered__chaos", run_type="asset_triggered", logical_date=None)
        elif kill.dag == "retention":
            import dr_retention

            dr_retention = importlib.reload(dr_retention)

            policy = _variant(
                tmp_path,
                ("primary: {hourly: 24, daily: 7}", "primary: {hourly: 1}"),
                ("dr: {daily: 14, weekly: 8, monthly: 12, yearly: 3}", "dr: {daily: 1}"),
            )
            _backup_and_copy(ctx, policy, [hours_ago(3), hours_ago(2), hours_ago(1)])
            dag = dr_retention.dag
            now = datetime.now(tz=UTC).replace(microsecond=0)
            run.update(
                policy=policy, run_id=f"scheduled__{now.isoformat()}", logical_date=now, conf={"force": True}
            )
        elif kill.dag == "verify":
            import dr_restore_verify

            dr_restore_verify = importlib.reload(dr_restore_verify)

            _backup_and_copy(ctx, policy, [hours_ago(0)])
            dag = dr_restore_verify.dag
            run.update(
                run_id="manual__chaos-verify", run_type="manual", logical_date=None, conf={"plan": "gold"}
            )
        else:
            raise AssertionError(kill.dag)

    work = tmp_path / "work"
    first, second = kill_then_retry(dag, work, kill, **run)
    journal = [__import__("json").loads(x) for x in (work / "journal.jsonl").read_text().splitlines()]
    errors = [e for e in journal if e["event"] in ("error", "crash")]
    assert first.killed, f"the kill point was never reached: {first} {errors[-3:]}"
    assert second.state == "success", f"the retry did not end green: {second} {errors[-3:]}"
    report = check(ctx, policy, plans=["gold"], copies_complete=kill.dag == "copy")
    twice = repeated(journal, tuple(op for op in ONCE if op not in kill.resend))
    resent = repeated(journal, kill.resend)
    (work / "report.txt").write_text(f"{report.render()}\ndone twice: {twice}\n")
    note = f" ({sum(resent.values()) - len(resent)} resend, see KILL_POINTS)" if resent else ""
    record_row(
        f"kill: {kill.name}", "SIGKILL", kill.label, ("pass" if report.ok and not twice else "FAIL") + note
    )
    assert report.ok, report.render()
    assert twice == {}, f"done twice across the kill and the retry: {twice}"
    if kill.dag == "failover":
        _assert_failover_order(journal)


def _assert_failover_order(journal) -> None:
    """DNS (the traffic task's record changes) never before the data layer succeeded."""
    data_done = False
    for e in journal:
        if e["event"] == "end" and e["task"] == "data_layer" and e["state"] == "success":
            data_done = True
        if e["event"] == "call" and e["op"] == "ChangeResourceRecordSets" and "app.example.com" in e["key"]:
            assert data_done, f"DNS moved before the data layer was done: {e}"
