"""The capture engine across a kind: idempotency, partial failure, late labels, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import PRIMARY

from awsdr.backup import capture_kind, refresh_points, settle
from awsdr.kinds.ebs import EbsKind

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _volumes(ctx, n, tags):
    ec2 = ctx.client("ec2", PRIMARY)
    out = []
    for _ in range(n):
        v = ec2.create_volume(
            AvailabilityZone=f"{PRIMARY}a",
            Size=1,
            TagSpecifications=[
                {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
        )
        out.append(v["VolumeId"])
    return out


def _snapshots(ctx):
    return ctx.client("ec2", PRIMARY).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag:awsdr:managed", "Values": ["true"]}]
    )["Snapshots"]


def _capture(ctx, kind=None, **kw):
    args = {
        "plan": "gold",
        "region": PRIMARY,
        "selector": {"dr-plan": "gold"},
        "window": W,
        "captured_at": W + timedelta(minutes=2),
        "late_after": timedelta(minutes=15),
        "concurrency": 4,
    }
    args.update(kw)
    return capture_kind(ctx, kind or EbsKind(), **args)


def test_rerun_of_window_reuses_every_point(ctx):
    vols = _volumes(ctx, 5, {"dr-plan": "gold"})
    first = _capture(ctx)
    assert sorted(first.created) == sorted(vols)
    assert first.reused == []
    second = _capture(ctx, captured_at=W + timedelta(hours=1))
    assert second.created == []
    assert sorted(second.reused) == sorted(vols)
    assert len(_snapshots(ctx)) == 5
    assert {p.point_id for p in first.points} == {p.point_id for p in second.points}


def test_new_window_gets_new_points_and_late_capture_is_labelled(ctx):
    _volumes(ctx, 2, {"dr-plan": "gold"})
    _capture(ctx)
    late = _capture(ctx, window=W + timedelta(hours=1), captured_at=W + timedelta(hours=5))
    assert len(late.created) == 2
    assert all(p.tags["awsdr:late"] == "true" for p in late.points)
    assert all(p.tags["awsdr:captured-at"] == "2026-11-24T15:00:00Z" for p in late.points)
    assert all(p.tags["awsdr:window"] == "2026-11-24T11:00:00Z" for p in late.points)
    assert len(_snapshots(ctx)) == 4


def test_resource_deleted_between_discovery_and_capture_fails_alone(ctx):
    vols = _volumes(ctx, 3, {"dr-plan": "gold"})
    victim = vols[1]

    class VanishingEbs(EbsKind):
        def discover(self, ctx_, region, tags):
            found = super().discover(ctx_, region, tags)
            ctx_.client("ec2", region).delete_volume(VolumeId=victim)
            return found

    result = _capture(ctx, kind=VanishingEbs())
    assert [f["source"] for f in result.failures] == [victim]
    assert sorted(result.created) == sorted(v for v in vols if v != victim)


def test_failed_point_is_reported_by_settle(ctx):
    _volumes(ctx, 2, {"dr-plan": "gold"})
    result = _capture(ctx)
    ctx.client("ec2", PRIMARY).delete_snapshot(SnapshotId=result.points[0].point_id)
    result.points = refresh_points(ctx, EbsKind(), PRIMARY, result.points)
    settle(result)
    assert len(result.points) == 1
    assert result.failures[0]["error"] == "recovery point missing"


def test_missing_point_is_recaptured_on_rerun(ctx):
    _volumes(ctx, 1, {"dr-plan": "gold"})
    first = _capture(ctx)
    ctx.client("ec2", PRIMARY).delete_snapshot(SnapshotId=first.points[0].point_id)
    again = _capture(ctx)
    assert again.created == first.created
    assert len(_snapshots(ctx)) == 1


def test_filter_and_lookalikes(ctx):
    gold = _volumes(ctx, 3, {"dr-plan": "gold"})
    others = _volumes(ctx, 2, {"dr-plan": "silver"}) + _volumes(ctx, 1, {"app": "x"})
    result = _capture(ctx, only=[gold[0]])
    assert result.created == [gold[0]]
    sources = {t["Value"] for s in _snapshots(ctx) for t in s["Tags"] if t["Key"] == "awsdr:source"}
    assert sources == {gold[0]}
    assert not sources & set(others)
