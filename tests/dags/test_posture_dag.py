"""dr_posture end to end in-process (``dag.test()``) against the moto server.

The estate gets EBS points and DR copies made directly with the product's tags: one gold volume
whose newest DR copy is 3 hours old (an RPO breach under the 1 hour RPO) and one that is fine.
Two consecutive posture runs must send exactly one SNS message (the breach), observed through an
SQS queue subscribed to the topic.
"""

from __future__ import annotations

import importlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY, ROOT

from awsdr.aws.context import tag_list
from awsdr.windows import format_window, window_stamp

CATALOG = "awsdr-catalog"


def _subscribe_queue(ctx, topic: str) -> str:
    sqs = ctx.client("sqs", PRIMARY)
    url = sqs.create_queue(QueueName="awsdr-alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ctx.client("sns", PRIMARY).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def _drain(ctx, url: str) -> list[dict]:
    """Every message in the queue (SNS envelopes), deleting them."""
    sqs = ctx.client("sqs", PRIMARY)
    out: list[dict] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def alerting(airflow_db, demo_estate, tmp_path, monkeypatch):
    """An SNS topic (with an SQS inbox), a policy naming it, and dr_posture loaded with that policy."""
    ctx = demo_estate
    topic = ctx.client("sns", PRIMARY).create_topic(Name="awsdr-alerts")["TopicArn"]
    inbox = _subscribe_queue(ctx, topic)
    policy = tmp_path / "dr_policy.yaml"
    policy.write_text(
        (ROOT / "include" / "dr_policy.yaml").read_text() + f"\nnotifications:\n  sns_topic_arn: {topic}\n"
    )
    monkeypatch.setenv("AWSDR_POLICY", str(policy))
    import dr_posture

    module = importlib.reload(dr_posture)
    assert module.POLICY.sns_topic_arn == topic
    return module, ctx, topic, inbox


def _gold_volumes(ctx) -> list[str]:
    vols = ctx.client("ec2", PRIMARY).describe_volumes(Filters=[{"Name": "tag:dr-plan", "Values": ["gold"]}])[
        "Volumes"
    ]
    return sorted(v["VolumeId"] for v in vols)


def _tags(volume: str, window: datetime) -> dict[str, str]:
    return {
        "awsdr:managed": "true",
        "awsdr:plan": "gold",
        "awsdr:window": format_window(window),
        "awsdr:source": volume,
        "awsdr:captured-at": format_window(window + timedelta(minutes=1)),
        "awsdr:kind": "ebs",
    }


def _point_and_copy(ctx, volume: str, window: datetime, *, copy: bool = True) -> None:
    """A primary snapshot of ``volume`` for ``window`` and (optionally) its DR copy, both tagged."""
    tags = _tags(volume, window)
    snap = ctx.client("ec2", PRIMARY).create_snapshot(
        VolumeId=volume, TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(tags)}]
    )
    if copy:
        ctx.client("ec2", DR).copy_snapshot(
            SourceSnapshotId=snap["SnapshotId"],
            SourceRegion=PRIMARY,
            TagSpecifications=[
                {"ResourceType": "snapshot", "Tags": tag_list({**tags, "awsdr:copy-of": snap["SnapshotId"]})}
            ],
        )


def _put_verified(ctx, volume: str, at: datetime) -> None:
    result = {
        "plan": "gold",
        "kind": "ebs",
        "source": volume,
        "copy_id": "snap-verified",
        "region": DR,
        "window": format_window(at - timedelta(hours=1)),
        "verified_at": format_window(at),
        "seconds": 420,
        "passed": True,
        "reason": None,
        "rto_seconds": 1800,
        "within_rto": True,
    }
    ctx.client("s3", DR).put_object(
        Bucket=CATALOG, Key=f"verify/latest/gold/ebs/{volume}.json", Body=json.dumps(result).encode()
    )


def _catalog(ctx, key: str) -> dict:
    return json.loads(ctx.client("s3", DR).get_object(Bucket=CATALOG, Key=key)["Body"].read())


def _metric_values(ctx, name: str, start: datetime, end: datetime) -> list[float]:
    out = ctx.client("cloudwatch", PRIMARY).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWSDR",
                        "MetricName": name,
                        "Dimensions": [{"Name": "Plan", "Value": "gold"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=start,
        EndTime=end,
    )
    return out["MetricDataResults"][0]["Values"]


def test_breach_is_alerted_once_over_two_runs_and_posture_is_published(alerting):
    module, ctx, topic, inbox = alerting
    fine, late = _gold_volumes(ctx)[:2]
    first = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=20)
    second = first + timedelta(minutes=15)
    # fine: copied 30 minutes before the first run; late: the newest copy is 3 hours old and the
    # primary point after it has not been copied yet
    _point_and_copy(ctx, fine, first - timedelta(minutes=30))
    _point_and_copy(ctx, late, first - timedelta(hours=3))
    _point_and_copy(ctx, late, first - timedelta(minutes=30), copy=False)
    for vol in (fine, late):
        _put_verified(ctx, vol, first - timedelta(hours=6))

    run = module.dag.test(logical_date=first)
    assert run.state == "success"
    run = module.dag.test(logical_date=second)
    assert run.state == "success"

    messages = _drain(ctx, inbox)
    assert [m["Subject"] for m in messages] == [f"[AWSDR] RPO breach: gold/ebs/{late}"]
    assert messages[0]["MessageAttributes"]["event"]["Value"] == "breach"
    assert f"{DR}: newest copy {format_window(first - timedelta(hours=3))}" in messages[0]["Message"]

    latest = _catalog(ctx, "posture/latest.json")
    assert latest["schema"] == 1
    assert latest["window"] == format_window(second)
    res = {r["source"]: r for r in latest["resources"] if r["plan"] == "gold" and r["kind"] == "ebs"}
    assert set(res) == {fine, late}
    assert res[fine]["breach_rpo"] is False
    assert res[fine]["breach_rto"] is False
    assert res[late]["breach_rpo"] is True
    assert res[late]["dr"][DR]["rpo_age_seconds"] == 3 * 3600 + 15 * 60
    assert res[late]["missing_copies"] == 1
    assert res[late]["last_verified"]["passed"] is True
    assert latest["plans"]["gold"]["summary"]["breaches_rpo"] == 1
    assert latest["events"] == []  # the breach was announced by the first run
    earlier = _catalog(ctx, f"posture/{window_stamp(first)}.json")
    assert [e["key"] for e in earlier["events"]] == [f"gold/ebs/{late}/rpo"]
    state = _catalog(ctx, "posture/alert-state.json")["states"]
    assert state[f"gold/ebs/{late}/rpo"] == "breach"
    assert state[f"gold/ebs/{fine}/rpo"] == "ok"

    listed = ctx.client("cloudwatch", PRIMARY).list_metrics(Namespace="AWSDR")["Metrics"]
    names = {m["MetricName"] for m in listed if {"Name": "Plan", "Value": "gold"} in m["Dimensions"]}
    assert names == {"WorstRpoAgeSeconds", "RpoBreaches", "RtoBreaches", "MissingCopies", "Orphans"}
    breaches = _metric_values(ctx, "RpoBreaches", first - timedelta(minutes=5), second + timedelta(minutes=5))
    assert breaches
    assert max(breaches) == 1.0

    # the copy catches up: the next run announces the recovery, once
    _point_and_copy(ctx, late, second)
    run = module.dag.test(logical_date=second + timedelta(minutes=15))
    assert run.state == "success"
    assert [m["Subject"] for m in _drain(ctx, inbox)] == [f"[AWSDR] RPO recovered: gold/ebs/{late}"]


def test_notifier_renders_as_a_callback_and_publishes_as_given(alerting):
    from awsdr.notifiers.sns import AwsDrSnsNotifier

    _, ctx, topic, inbox = alerting
    AwsDrSnsNotifier(target_arn=topic, subject="run {{ run_id }} failed", message="because {{ reason }}")(
        {"run_id": "manual__1", "reason": "task_failure"}
    )
    AwsDrSnsNotifier(target_arn=topic, subject="literal", message="{{ not rendered }}").notify({})
    deadline = time.monotonic() + 5
    messages: list[dict] = []
    while len(messages) < 2 and time.monotonic() < deadline:
        messages += _drain(ctx, inbox)
    assert [(m["Subject"], m["Message"]) for m in messages] == [
        ("run manual__1 failed", "because task_failure"),
        ("literal", "{{ not rendered }}"),
    ]


def test_an_alert_that_cannot_be_sent_is_not_committed(ctx):
    """A failed publish leaves the key in its previous state, so the next run sends it again."""
    from dataclasses import replace

    from awsdr.operators.posture import PostureOperator
    from awsdr.policy import load_policy
    from awsdr.posture import PlanTarget, alert_transitions, compute_posture

    missing_topic = "arn:aws:sns:ap-northeast-2:123456789012:no-such-topic"
    op = PostureOperator(task_id="posture")
    op.__dict__["policy"] = replace(load_policy(), sns_topic_arn=missing_topic)
    op.__dict__["ctx"] = ctx
    doc = compute_posture(
        now=datetime(2026, 11, 24, tzinfo=UTC),
        primary_region=PRIMARY,
        dr_regions=[DR],
        plans={"gold": PlanTarget("gold", timedelta(hours=1), timedelta(minutes=30), ("ebs",))},
        points=[],
        verify_results=[],
    )
    doc["resources"] = [
        {"plan": "gold", "kind": "ebs", "source": "vol-1", "breach_rpo": True, "breach_rto": False, "dr": {}}
    ]
    previous: dict[str, str] = {}
    state, events = alert_transitions(previous, doc)
    assert state["gold/ebs/vol-1/rpo"] == "breach"
    failures = op.send_events(events, doc, previous, state)
    assert len(failures) == 1
    assert failures[0].startswith("gold/ebs/vol-1/rpo breach: ")
    assert state["gold/ebs/vol-1/rpo"] == "ok"


def test_dag_shape(alerting):
    from airflow.timetables.trigger import CronTriggerTimetable

    from awsdr.notifiers.sns import AwsDrSnsNotifier

    module, _, topic, _ = alerting
    dag = module.dag
    assert dag.dag_id == "dr_posture"
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable._expression == "*/15 * * * *"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert [t.task_id for t in dag.tasks] == ["posture"]
    assert dag.tasks[0].retries == 2
    assert "resources: [{plan, kind, source," in dag.doc_md
    callbacks = dag.on_failure_callback
    assert isinstance(callbacks, list)
    assert isinstance(callbacks[0], AwsDrSnsNotifier)
    assert callbacks[0].target_arn == topic
