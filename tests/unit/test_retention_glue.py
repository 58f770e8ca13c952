"""Retention glue that needs no AWS: form resolution, orphan bookkeeping, point mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from awsdr.kinds.base import AVAILABLE, CREATING, RecoveryPoint
from awsdr.operators.retention import resolve_params
from awsdr.retention import point_info, update_orphans

W = datetime(2026, 11, 24, tzinfo=UTC)


def test_manual_runs_default_to_dry_run_and_scheduled_runs_delete():
    assert resolve_params({"plan": "all", "dry_run": True}, "DagRunType.MANUAL", ["gold"])["dry_run"] is True
    assert (
        resolve_params({"plan": "all", "dry_run": True}, "DagRunType.SCHEDULED", ["gold"])["dry_run"] is False
    )
    assert resolve_params({"plan": "gold", "dry_run": False}, "manual", ["gold", "silver"]) == {
        "plans": ["gold"],
        "dry_run": False,
        "force": False,
    }


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"plan": "bronze"}, "unknown plan"),
        ({"dry_run": "yes"}, "true or false"),
        ({"force": 1}, "true or false"),
    ],
)
def test_bad_form_input_is_refused(params, match):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=match):
        resolve_params({"plan": "all", **params}, "manual", ["gold"])


def test_orphans_remember_first_seen_and_forget_returning_sources():
    first = update_orphans({}, {"a", "b", "c"}, {"a"}, W)
    assert first == {"b": "2026-11-24T00:00:00Z", "c": "2026-11-24T00:00:00Z"}
    later = update_orphans(first, {"a", "b", "c"}, {"a", "c"}, datetime(2026, 12, 1, tzinfo=UTC))
    assert later == {"b": "2026-11-24T00:00:00Z"}


def test_point_info_reads_ownership_holds_copies_and_verification():
    tags = {
        "awsdr:managed": "true",
        "awsdr:legal-hold": "case-1",
        "awsdr:copy-of": "snap-1",
        "awsdr:verified-at": "2026-11-25T00:00:00Z",
    }
    p = RecoveryPoint(
        "ebs",
        "snap-2",
        "snap-2",
        "vol-1",
        "ap-northeast-1",
        "gold",
        W,
        AVAILABLE,
        tags=tags,
        details={"size_bytes": 10},
    )
    info = point_info(p, "ap-northeast-2")
    assert info.region_class == "dr"
    assert info.managed
    assert info.legal_hold
    assert info.completed
    assert info.copy_of == "ap-northeast-2/snap-1"
    assert info.verified_at == datetime(2026, 11, 25, tzinfo=UTC)
    assert info.size_bytes == 10
    foreign = RecoveryPoint(
        "ebs", "snap-3", "snap-3", "vol-1", "ap-northeast-2", "gold", W, CREATING, tags={}
    )
    info2 = point_info(foreign, "ap-northeast-2")
    assert info2.region_class == "primary"
    assert not info2.managed
    assert not info2.completed


def test_ids_that_repeat_across_regions_stay_distinct_and_copies_point_at_the_primary():
    src = RecoveryPoint(
        "rds",
        "awsdr-gold-db-1",
        "arn:p",
        "db",
        "ap-northeast-2",
        "gold",
        W,
        AVAILABLE,
        tags={"awsdr:managed": "true"},
    )
    copy = RecoveryPoint(
        "rds",
        "awsdr-gold-db-1",
        "arn:d",
        "db",
        "ap-northeast-1",
        "gold",
        W,
        AVAILABLE,
        tags={"awsdr:managed": "true", "awsdr:copy-of": "awsdr-gold-db-1"},
    )
    a, b = point_info(src, "ap-northeast-2"), point_info(copy, "ap-northeast-2")
    assert a.point_id != b.point_id
    assert b.copy_of == a.point_id
