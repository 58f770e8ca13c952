"""Creates whose answer is lost (the work done, the client told it failed) make exactly one point.

A rule on the fault proxy answers the *first* request of each create operation with a 500 after
the emulator did the work. Before the fix, botocore resent it and EBS/DynamoDB/AMI got a second
point; now the point is looked up first.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR

from awsdr.aws.idempotent import Backoff, create_or_find, is_transient
from awsdr.testing.fault_proxy import server_error_answer

CREATES = (
    "CreateSnapshot",
    "CopySnapshot",
    "CreateImage",
    "CopyImage",
    "CreateBackup",
    "ExportTableToPointInTime",
    "CreateDBSnapshot",
    "CopyDBSnapshot",
    "CreateDBClusterSnapshot",
    "CopyDBClusterSnapshot",
)


class LoseFirst:
    """Lose the answer of the first successful request of each operation in ``ops``."""

    def __init__(self, ops):
        self.ops = set(ops)
        self.sent: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()

    def after(self, call, answer):
        if call.operation in self.ops:
            self.sent[call.operation] += 1
            if 200 <= answer.status < 300 and not self.lost[call.operation]:
                self.lost[call.operation] += 1
                return server_error_answer(call, unavailable=False)
        return answer


class SpyMutating:
    """Note every mutating request (before it is forwarded)."""

    def __init__(self, seen):
        self.seen = seen

    def before(self, call):
        if call.mutating and not call.path.startswith("/moto-api"):
            self.seen.append(call.operation)


def test_lost_create_answers_then_a_storm_make_one_point_and_one_copy_on_all_six_kinds(
    proxy, demo_estate, fast_retries
):
    """Window 1: the first answer of every create is lost. Window 2: 20 % throttling, 25 % of the
    mutating answers lost (fixed seed). Both windows back up and copy every kind; the invariant
    checker passes after each (it finds the duplicates botocore's resends used to make)."""
    from awsdr.aws.context import AwsContext
    from awsdr.check import check
    from awsdr.policy import load_policy
    from awsdr.testing.fault_proxy import Faults
    from chaos.conftest import FULL, record_row
    from chaos.harness import backup_window, copy_window

    policy = load_policy()
    rule = LoseFirst(CREATES)
    p = proxy(rules=[rule])
    faulty = AwsContext.from_boto3(endpoint_url=p.url)
    window = datetime.now(tz=UTC).replace(microsecond=0)
    manifest, failed = backup_window(faulty, policy, "gold", window)
    assert failed == []
    copies, copy_failed = copy_window(faulty, policy, "gold")
    assert copy_failed == []
    report = check(demo_estate, policy, plans=["gold"], copies_complete=True)
    record_row(
        "lost first create answers", f"{sum(rule.lost.values())} lost", "0", "pass" if report.ok else "FAIL"
    )
    assert report.ok, report.render()
    assert copies == len(manifest["protected"]) > 0
    assert {"CreateSnapshot", "CopySnapshot", "CreateImage", "CreateBackup", "CreateDBSnapshot"} <= set(
        rule.lost
    )
    by_kind = Counter(e["kind"] for e in manifest["protected"])
    # no blind resend: one request per point for the creates without a token
    assert rule.sent["CreateSnapshot"] == rule.sent["CopySnapshot"] == by_kind["ebs"]
    assert rule.sent["CreateBackup"] == by_kind["dynamodb"]
    # RDS identifiers are unique: botocore's resend is refused (AlreadyExists) and the point found
    assert rule.sent["CreateDBSnapshot"] == by_kind["rds"] + 1

    storm = Faults(throttle=0.3 if FULL else 0.2, lost=0.35 if FULL else 0.25, seed=11)
    p.set_faults(storm)
    before = p.injected()
    window2 = window + timedelta(seconds=1)
    _, failed = backup_window(faulty, policy, "gold", window2)
    copies2, copy_failed = copy_window(faulty, policy, "gold")
    report = check(demo_estate, policy, plans=["gold"], copies_complete=True)
    injected = {k: v for k, v in p.stats.items() if k != "forwarded"}
    record_row(
        f"storm: {storm.throttle:.0%} throttled, {storm.lost:.0%} mutating answers lost",
        f"{p.injected() - before} {injected}",
        "0",
        "pass" if report.ok and not failed and not copy_failed else "FAIL",
    )
    assert failed == []
    assert copy_failed == []
    assert report.ok, report.render()
    assert p.stats["throttle"] > 0
    assert p.stats["lost"] > 0
    assert copies2 == 2 * copies
    # the checker only reads: through the proxy, not one mutating request
    mutating: list[str] = []
    p.set_faults(Faults())
    p.rules.append(SpyMutating(mutating))
    assert check(faulty, policy, copies_complete=True).ok
    assert mutating == []


class _Err(Exception):
    def __init__(self, code, status=400):
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


def test_create_or_find_looks_up_before_every_second_attempt():
    calls = []

    def create():
        calls.append("create")
        raise _Err("InternalError", 500)

    def find():
        calls.append("find")
        return "snap-1" if calls.count("find") == 2 else None

    got = create_or_find(create, find, what="t", backoff=Backoff(attempts=5, base=0), sleep=lambda s: None)
    assert got == "snap-1"
    assert calls == ["create", "find", "create", "find"]


def test_create_or_find_raises_bad_input_at_once_and_the_last_error_when_exhausted():
    with pytest.raises(_Err):
        create_or_find(
            lambda: (_ for _ in ()).throw(_Err("InvalidVolume.NotFound")),
            lambda: pytest.fail("no look-up after a non-transient error"),
            what="t",
        )
    seen = []
    with pytest.raises(_Err):
        create_or_find(
            lambda: (_ for _ in ()).throw(_Err("RequestLimitExceeded", 503)),
            lambda: seen.append(1),
            what="t",
            backoff=Backoff(attempts=3, base=0),
            sleep=lambda s: None,
        )
    assert len(seen) == 3  # before attempts 2 and 3, and once more at the end
    assert is_transient(_Err("Throttling"))
    assert is_transient(_Err("Whatever", 503))
    assert not is_transient(_Err("AccessDenied", 403))


def test_the_create_client_sends_once_and_the_read_client_retries(proxy, ctx, fast_retries):
    from awsdr.aws.context import AwsContext
    from awsdr.testing.fault_proxy import Faults

    p = proxy(Faults(server_error=1.0))
    faulty = AwsContext.from_boto3(endpoint_url=p.url)
    with pytest.raises(Exception, match="InternalError|ServiceUnavailable"):
        faulty.create_client("ec2", DR).describe_volumes()
    assert p.stats["server_error"] == 1
    with pytest.raises(Exception, match="InternalError|ServiceUnavailable"):
        faulty.client("ec2", DR).describe_volumes()
    assert p.stats["server_error"] > 2  # botocore retried the read
