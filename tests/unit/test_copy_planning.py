"""Which points need a copy: pure planning, quota slots, tags carried over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from awsdr.copies import CopyJob, copy_tags, in_flight_by_region, plan_copies, start_copies
from awsdr.kinds.base import AVAILABLE, CREATING, FAILED, CaptureError, Kind, RecoveryPoint
from awsdr.planning.retention import Gfs

W0 = datetime(2026, 11, 24, 0, tzinfo=UTC)
DR1, DR2 = "ap-northeast-1", "ap-southeast-1"


def _point(pid, window, status=AVAILABLE, region="ap-northeast-2", copy_of=None, **tags):
    t = {
        "awsdr:managed": "true",
        "awsdr:window": window.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "awsdr:source": "vol-1",
    }
    if copy_of:
        t["awsdr:copy-of"] = copy_of
    t.update(tags)
    return RecoveryPoint("ebs", pid, pid, "vol-1", region, "gold", window, status, tags=t)


def test_every_point_lacking_a_copy_is_planned_oldest_first():
    sources = [
        _point("snap-3", W0 + timedelta(hours=2)),
        _point("snap-1", W0),
        _point("snap-2", W0 + timedelta(hours=1)),
    ]
    copies = {DR1: [_point("c-2", W0, region=DR1, copy_of="snap-2")], DR2: []}
    plan = plan_copies(sources, copies, [DR1, DR2], rule=None)
    assert [(j.point.point_id, j.dest_region) for j in plan.jobs] == [
        ("snap-1", DR1),
        ("snap-1", DR2),
        ("snap-2", DR2),
        ("snap-3", DR1),
        ("snap-3", DR2),
    ]
    assert [c.point_id for c in plan.done] == ["c-2"]


def test_failed_copy_is_replaced_and_in_flight_is_waited_for():
    sources = [_point("snap-1", W0), _point("snap-2", W0 + timedelta(hours=1))]
    copies = {
        DR1: [
            _point("c-1", W0, region=DR1, status=FAILED, copy_of="snap-1"),
            _point("c-2", W0, region=DR1, status=CREATING, copy_of="snap-2"),
        ]
    }
    plan = plan_copies(sources, copies, [DR1], rule=None)
    assert [(j.point.point_id, j.replaces.point_id) for j in plan.jobs] == [("snap-1", "c-1")]
    assert [c.point_id for c in plan.in_flight] == ["c-2"]


def test_a_good_copy_wins_over_a_failed_attempt_of_the_same_point():
    sources = [_point("snap-1", W0)]
    copies = {
        DR1: [
            _point("c-ok", W0, region=DR1, copy_of="snap-1"),
            _point("c-bad", W0, region=DR1, status=FAILED, copy_of="snap-1"),
        ]
    }
    plan = plan_copies(sources, copies, [DR1], rule=None)
    assert plan.jobs == []
    assert [c.point_id for c in plan.done] == ["c-ok"]


def test_unfinished_sources_and_copies_are_not_copied():
    sources = [_point("snap-1", W0, status=CREATING), _point("c-x", W0, copy_of="snap-0")]
    assert plan_copies(sources, {DR1: []}, [DR1], rule=None).jobs == []


def test_copy_tags_inherit_identity_not_holds():
    src = _point("snap-1", W0, **{"awsdr:legal-hold": "case-7", "awsdr:verified-at": "x", "Name": "n"})
    tags = copy_tags(src)
    assert tags["awsdr:copy-of"] == "snap-1"
    assert tags["awsdr:window"] == "2026-11-24T00:00:00Z"
    assert "awsdr:legal-hold" not in tags
    assert "awsdr:verified-at" not in tags
    assert "Name" not in tags


class _FakeKind(Kind):
    name = "ebs"

    def __init__(self, fail=()):
        self.calls: list[tuple[str, str]] = []
        self.fail = set(fail)

    def copy(self, ctx, point, *, dest_region, kms_key_id, tags, dest_ctx=None):
        self.calls.append((point.point_id, dest_region))
        if point.point_id in self.fail:
            raise CaptureError("InvalidSnapshot.NotFound")
        return _point(
            f"copy-{point.point_id}",
            point.window,
            status=CREATING,
            region=dest_region,
            copy_of=point.point_id,
        )


def test_quota_queue_starts_only_free_slots():
    jobs = [CopyJob(_point(f"snap-{i}", W0 + timedelta(hours=i)), DR1) for i in range(30)]
    kind = _FakeKind()
    result = start_copies(None, kind, jobs, quota=20, in_flight={DR1: 15}, kms_keys={DR1: "alias/awsdr"})
    assert len(result.started) == 5
    assert len(result.waiting) == 25
    assert sorted(kind.calls) == sorted((f"snap-{i}", DR1) for i in range(5))


def test_failures_are_recorded_not_raised():
    jobs = [CopyJob(_point("snap-1", W0), DR1), CopyJob(_point("snap-2", W0), DR1)]
    result = start_copies(None, _FakeKind(fail={"snap-1"}), jobs, quota=5, in_flight={}, kms_keys={DR1: "k"})
    assert [f["point"] for f in result.failures] == ["snap-1"]
    assert [c.tags["awsdr:copy-of"] for c in result.started] == ["snap-2"]


def test_in_flight_counts_only_copies_being_made():
    copies = {
        DR1: [
            _point("c1", W0, region=DR1, status=CREATING, copy_of="a"),
            _point("c2", W0, region=DR1, status=AVAILABLE, copy_of="b"),
            _point("p", W0, region=DR1, status=CREATING),
        ]
    }
    assert in_flight_by_region(copies) == {DR1: 1}


def test_copy_records_merge_into_window_manifests_without_duplicates():
    from awsdr.operators.copy import merge_copies_into_manifests

    w = "2026-11-24T00:00:00Z"
    manifests = {
        w: {
            "window": w,
            "copies": [{"copy_of": "snap-1", "region": DR1, "copy_id": "old", "status": "creating"}],
        }
    }
    rec = {"copy_of": "snap-1", "region": DR1, "copy_id": "c-1", "status": "available", "window": w}
    changed = merge_copies_into_manifests(manifests, [rec, rec, {**rec, "window": "2026-01-01T00:00:00Z"}])
    assert list(changed) == [w]
    assert changed[w]["copies"] == [rec]
    assert merge_copies_into_manifests(changed, [rec]) == {}


def test_retry_later_queues_the_job_instead_of_failing():
    from awsdr.kinds.base import RetryLater

    class NotYet(_FakeKind):
        def copy(self, ctx, point, *, dest_region, kms_key_id, tags, dest_ctx=None):
            raise RetryLater("window newer than PITR latest restorable time")

    job = CopyJob(_point("snap-1", W0), DR1)
    result = start_copies(None, NotYet(), [job], quota=5, in_flight={}, kms_keys={DR1: "k"})
    assert result.failures == []
    assert result.waiting == [job]


def test_only_what_dr_retention_keeps_is_copied():
    # Two days of hourly points; DR keeps 2 dailies: the newest, and day one's last point.
    sources = [_point(f"snap-{h:02d}", W0 + timedelta(hours=h)) for h in range(30)]
    plan = plan_copies(sources, {DR1: []}, [DR1], rule=Gfs(daily=2))
    assert [j.point.point_id for j in plan.jobs] == ["snap-23", "snap-29"]
    assert len(plan.not_wanted) == 28
    # Without a DR rule (rule=None) every point is copied, the behaviour before retention agreed.
    assert len(plan_copies(sources, {DR1: []}, [DR1], rule=None).jobs) == 30


def test_the_newest_is_always_copied_and_a_superseded_copy_is_never_copied_again():
    sources = [_point(f"snap-{h}", W0 + timedelta(hours=h)) for h in range(3)]
    # snap-0 was copied, then superseded by snap-1 (copied) and pruned by DR retention.
    copies = {DR1: [_point("c-1", sources[1].window, region=DR1, copy_of="snap-1")]}
    plan = plan_copies(sources, copies, [DR1], rule=Gfs(daily=7))
    assert [j.point.point_id for j in plan.jobs] == ["snap-2"]
    assert "snap-0" in {j.point.point_id for j in plan.not_wanted}
    # Nothing at all in DR keeps (all counts 0): still the newest, for the DR-side RPO.
    plan = plan_copies(sources, {DR1: []}, [DR1], rule=Gfs())
    assert [j.point.point_id for j in plan.jobs] == ["snap-2"]


def test_a_copy_in_flight_counts_for_what_the_region_holds():
    sources = [_point(f"snap-{h}", W0 + timedelta(hours=h)) for h in range(2)]
    copies = {DR1: [_point("c-1", sources[1].window, region=DR1, status=CREATING, copy_of="snap-1")]}
    plan = plan_copies(sources, copies, [DR1], rule=Gfs(daily=7))
    assert plan.jobs == []
    assert [c.point_id for c in plan.in_flight] == ["c-1"]


def _quota_error(code: str) -> CaptureError:
    err = ClientError({"Error": {"Code": code, "Message": "limit"}}, "CopySnapshot")
    try:
        raise CaptureError(f"{code}: {err}") from err
    except CaptureError as wrapped:
        return wrapped


def test_aws_quota_errors_queue_the_copy_instead_of_failing():
    class Quota(_FakeKind):
        def copy(self, ctx, point, *, dest_region, kms_key_id, tags, dest_ctx=None):
            code = {"snap-1": "ResourceLimitExceeded", "snap-2": "SnapshotQuotaExceeded"}.get(point.point_id)
            if code:
                raise _quota_error(code)
            return super().copy(ctx, point, dest_region=dest_region, kms_key_id=kms_key_id, tags=tags)

    jobs = [CopyJob(_point(f"snap-{i}", W0), DR1) for i in (1, 2, 3)]
    result = start_copies(None, Quota(), jobs, quota=5, in_flight={}, kms_keys={DR1: "k"})
    assert result.failures == []
    assert sorted(j.point.point_id for j in result.quota_waits) == ["snap-1", "snap-2"]
    assert sorted(j.point.point_id for j in result.waiting) == ["snap-1", "snap-2"]
    assert [c.tags["awsdr:copy-of"] for c in result.started] == ["snap-3"]
    # Any other AWS error is a failure, as before.
    failing = start_copies(
        None, _FakeKind(fail={"snap-1"}), jobs[:1], quota=5, in_flight={}, kms_keys={DR1: "k"}
    )
    assert failing.quota_waits == []
    assert len(failing.failures) == 1


def test_the_vault_receives_what_dr_retention_keeps():
    from awsdr.operators.copy import vault_wanted

    # A day of hourly DR copies plus yesterday's last: DR keeps 2 dailies, so the vault gets two.
    dr_copies = [
        _point(f"c-{h}", W0 + timedelta(hours=h), region=DR1, copy_of=f"snap-{h}") for h in range(23, 30)
    ]
    assert [c.point_id for c in vault_wanted(dr_copies, Gfs(daily=2), "UTC")] == ["c-23", "c-29"]
