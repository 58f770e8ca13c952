"""EBS copies started by the copy queue trust the planner's listing: no DescribeSnapshots per copy,
and a copy whose answer was lost is still found by its ``awsdr:copy-of`` tag, not made twice."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError
from conftest import DR, PRIMARY

from awsdr.copies import CopyJob, start_copies
from awsdr.kinds import get_kind
from awsdr.windows import TAG_COPY_OF, point_tags

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)


def _points(ctx, n):
    kind = get_kind("ebs")
    ec2 = ctx.client("ec2", PRIMARY)
    out = []
    for _ in range(n):
        vid = ec2.create_volume(AvailabilityZone=f"{PRIMARY}a", Size=1)["VolumeId"]
        [res] = kind.describe(ctx, PRIMARY, [f"arn:aws:ec2:{PRIMARY}:123456789012:volume/{vid}"])
        tags = point_tags(plan="gold", window=W, source=vid, captured_at=CAP, kind="ebs")
        out.append(kind.capture(ctx, res, "gold", W, tags))
    return out


def _key(ctx):
    kms = ctx.client("kms", DR)
    key = kms.create_key(Description="awsdr DR key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/awsdr", TargetKeyId=key["KeyId"])


def _count_describes(ctx):
    calls: list[dict] = []
    ctx.client("ec2", DR).meta.events.register(
        "before-call.ec2.DescribeSnapshots", lambda **kw: calls.append(kw["params"])
    )
    return calls


def _copies_in_dr(ctx):
    snaps = ctx.client("ec2", DR).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag-key", "Values": [TAG_COPY_OF]}]
    )["Snapshots"]
    return sorted({t["Value"] for s in snaps for t in s["Tags"] if t["Key"] == TAG_COPY_OF}), len(snaps)


def test_queue_copies_make_no_describe_per_copy_when_the_destination_was_listed(ctx):
    _key(ctx)
    points = _points(ctx, 6)
    calls = _count_describes(ctx)
    jobs = [CopyJob(point=p, dest_region=DR) for p in points]
    result = start_copies(
        ctx, get_kind("ebs"), jobs, quota=20, in_flight={}, kms_keys={DR: "alias/awsdr"}, listed=True
    )
    assert len(result.started) == 6
    assert not result.failures
    assert calls == []
    # without the listing, each copy looks its destination up first (the old path)
    more = _points(ctx, 3)
    start_copies(
        ctx,
        get_kind("ebs"),
        [CopyJob(point=p, dest_region=DR) for p in more],
        quota=20,
        in_flight={},
        kms_keys={DR: "alias/awsdr"},
    )
    assert len(calls) == 3
    ids, n = _copies_in_dr(ctx)
    assert ids == sorted(p.point_id for p in points + more)
    assert n == 9


class _LosesCopyAnswers:
    """An EC2 create client whose CopySnapshot does the work, then answers 503 (answer lost)."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def copy_snapshot(self, **kw):
        self._real.copy_snapshot(**kw)
        raise ClientError(
            {
                "Error": {"Code": "ServiceUnavailable", "Message": "lost"},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            },
            "CopySnapshot",
        )


def test_a_listed_copy_whose_answer_was_lost_is_found_not_made_twice(ctx, monkeypatch):
    _key(ctx)
    [point] = _points(ctx, 1)
    real = ctx.create_client
    monkeypatch.setattr(ctx, "create_client", lambda svc, region: _LosesCopyAnswers(real(svc, region)))
    calls = _count_describes(ctx)
    result = start_copies(
        ctx,
        get_kind("ebs"),
        [CopyJob(point=point, dest_region=DR)],
        quota=20,
        in_flight={},
        kms_keys={DR: "alias/awsdr"},
        listed=True,
    )
    assert not result.failures
    [copy] = result.started
    assert copy.tags[TAG_COPY_OF] == point.point_id
    assert len(calls) >= 1  # the look-up after the doubtful answer
    assert _copies_in_dr(ctx) == ([point.point_id], 1)
