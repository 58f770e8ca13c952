"""dr_posture end to end in-process (``dag.test()``) against the moto server.

The estate gets EBS points and DR copies made directly with the product's tags: one gold volume
whose newest DR copy is 3 hours old (an RPO breach under the 1 hour RPO), one that is fine and
one that is tagged but was never captured. Two consecutive posture runs must send each breach
exactly once, observed through an SQS queue subscribed to the topic.

The operator is also run directly on a small estate of its own: every resource the plan selects
is reported (a tagged volume or database without any point is a breach at once), with one
discovery per (plan, kind), and a discovery that AWS refuses leaves that (plan, kind) unassessed.
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
    text = (ROOT / "include" / "dr_policy.yaml").read_text()
    for types in ("[ebs, ec2, rds, aurora, dynamodb, s3]", "[ebs, rds, dynamodb, s3]"):
        assert f"types: {types}" in text
        text = text.replace(f"types: {types}", "types: [ebs]")  # the alerts below are about volumes
    policy.write_text(text + f"\nnotifications:\n  sns_topic_arn: {topic}\n")
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


def _silver_volumes(ctx) -> list[str]:
    vols = ctx.client("ec2", PRIMARY).describe_volumes(
        Filters=[{"Name": "tag:dr-plan", "Values": ["silver"]}]
    )["Volumes"]
    return sorted(v["VolumeId"] for v in vols)


def test_breach_is_alerted_once_over_two_runs_and_posture_is_published(alerting):
    module, ctx, topic, inbox = alerting
    fine, late, never = _gold_volumes(ctx)
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

    messages = {m["Subject"]: m for m in _drain(ctx, inbox)}
    # every selected volume is judged: the uncaptured ones (gold's third, silver's two) breach too
    uncaptured = [f"gold/ebs/{never}"] + [f"silver/ebs/{v}" for v in _silver_volumes(ctx)]
    assert sorted(messages) == sorted(
        [f"[AWSDR] RPO breach: gold/ebs/{late}"]
        + [f"[AWSDR] {what} breach: {res}" for res in uncaptured for what in ("RPO", "RTO")]
    )
    stale = messages[f"[AWSDR] RPO breach: gold/ebs/{late}"]
    assert stale["MessageAttributes"]["event"]["Value"] == "breach"
    assert f"{DR}: newest copy {format_window(first - timedelta(hours=3))}" in stale["Message"]
    assert "Reason: never-captured" in messages[f"[AWSDR] RPO breach: gold/ebs/{never}"]["Message"]

    latest = _catalog(ctx, "posture/latest.json")
    assert latest["schema"] == 1
    assert latest["window"] == format_window(second)
    res = {r["source"]: r for r in latest["resources"] if r["plan"] == "gold" and r["kind"] == "ebs"}
    assert set(res) == {fine, late, never}
    assert res[never]["breach_rpo_reason"] == "never-captured"
    assert res[never]["selected"] is True
    assert res[fine]["breach_rpo"] is False
    assert res[fine]["breach_rto"] is False
    assert res[late]["breach_rpo"] is True
    assert res[late]["dr"][DR]["rpo_age_seconds"] == 3 * 3600 + 15 * 60
    assert res[late]["missing_copies"] == 1
    assert res[late]["last_verified"]["passed"] is True
    assert latest["plans"]["gold"]["summary"]["breaches_rpo"] == 2
    assert latest["plans"]["gold"]["summary"]["never_captured"] == 1
    assert latest["events"] == []  # the breaches were announced by the first run
    earlier = _catalog(ctx, f"posture/{window_stamp(first)}.json")
    assert sorted(e["key"] for e in earlier["events"] if e["plan"] == "gold") == sorted(
        [f"gold/ebs/{late}/rpo", f"gold/ebs/{never}/rpo", f"gold/ebs/{never}/rto"]
    )
    state = _catalog(ctx, "posture/alert-state.json")["states"]
    assert state[f"gold/ebs/{late}/rpo"] == "breach"
    assert state[f"gold/ebs/{fine}/rpo"] == "ok"

    # what the console reads: the points, the history of both runs, the compliance report
    points = _catalog(ctx, "console/points.json")
    rows = [dict(zip(points["fields"], r, strict=True)) for r in points["points"]]
    assert {r["source"] for r in rows if r["plan"] == "gold"} == {fine, late}
    assert [s["window"] for s in _catalog(ctx, "console/history.json")["samples"]] == [
        format_window(first),
        format_window(second),
    ]
    report = _catalog(ctx, "compliance/latest.json")
    assert report["compliant"] is False
    by = {(r["control"], r["source"]): r["result"] for r in report["rows"] if r["plan"] == "gold"}
    assert by[("dr-copy", fine)] == "pass"
    assert by[("dr-copy", late)] == "fail"
    assert by[("restore-verified", never)] == "fail"
    csv_body = ctx.client("s3", DR).get_object(Bucket=CATALOG, Key="compliance/latest.csv")["Body"].read()
    assert csv_body.decode().count("\n") == len(report["rows"]) + 1
    assert latest["cost"]["estimate"] is True

    listed = ctx.client("cloudwatch", PRIMARY).list_metrics(Namespace="AWSDR")["Metrics"]
    names = {m["MetricName"] for m in listed if {"Name": "Plan", "Value": "gold"} in m["Dimensions"]}
    assert names == {"WorstRpoAgeSeconds", "RpoBreaches", "RtoBreaches", "MissingCopies", "Orphans"}
    breaches = _metric_values(ctx, "RpoBreaches", first - timedelta(minutes=5), second + timedelta(minutes=5))
    assert breaches
    assert max(breaches) == 2.0

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
    from airflow.sdk import CronTriggerTimetable

    from awsdr.notifiers.sns import AwsDrSnsNotifier

    module, _, topic, _ = alerting
    dag = module.dag
    assert dag.dag_id == "dr_posture"
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "*/15 * * * *"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert [t.task_id for t in dag.tasks] == ["posture"]
    assert dag.tasks[0].retries == 2
    assert "resources: [{plan, kind, source, selected: bool|null," in dag.doc_md
    callbacks = dag.on_failure_callback
    assert isinstance(callbacks, list)
    assert isinstance(callbacks[0], AwsDrSnsNotifier)
    assert callbacks[0].target_arn == topic


# --- the operator on an estate of its own: every selected resource is seen ------------------------

_SMALL_POLICY = """\
version: 1
primary_region: ap-northeast-2
dr_regions: [ap-northeast-1]
catalog_bucket: awsdr-catalog
kms_keys: {ap-northeast-1: alias/awsdr}
plans:
  gold:
    schedule: "0 * * * *"
    rpo: PT1H
    rto: PT30M
    select: {tags: {dr-plan: gold}, types: [ebs, rds]}
    retention: {primary: {hourly: 24}, dr: {daily: 14}}
"""


def _volume(ctx, tags: dict[str, str]) -> str:
    return ctx.client("ec2", PRIMARY).create_volume(
        AvailabilityZone=f"{PRIMARY}a",
        Size=4,
        TagSpecifications=[{"ResourceType": "volume", "Tags": tag_list(tags)}],
    )["VolumeId"]


@pytest.fixture
def small_estate(ctx, tmp_path):
    """Four gold volumes (copied, primary only, never captured x2), a gold database never captured,
    an untagged volume, and points of a gold volume deleted since; a posture operator on it."""
    from awsdr.operators.posture import PostureOperator

    gold = {"dr-plan": "gold"}
    vols = {name: _volume(ctx, gold) for name in ("copied", "primary-only", "never-1", "never-2")}
    _volume(ctx, {"app": "scratch"})
    gone = _volume(ctx, gold)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    _point_and_copy(ctx, vols["copied"], now - timedelta(minutes=30))
    _point_and_copy(ctx, vols["primary-only"], now - timedelta(minutes=30), copy=False)
    _point_and_copy(ctx, gone, now - timedelta(hours=5))
    ctx.client("ec2", PRIMARY).delete_volume(VolumeId=gone)
    ctx.client("rds", PRIMARY).create_db_instance(
        DBInstanceIdentifier="orders-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="demo",
        MasterUserPassword="demo-password-1",
        Tags=tag_list(gold),
    )
    policy = tmp_path / "small_policy.yaml"
    policy.write_text(_SMALL_POLICY)
    op = PostureOperator(task_id="posture", policy_path=str(policy))
    op.__dict__["ctx"] = ctx
    return op, ctx, now, vols, gone


def _execute(op, window: datetime) -> dict:
    from types import SimpleNamespace

    return op.execute({"logical_date": window, "dag_run": SimpleNamespace(run_id=f"test__{window}")})


def test_operator_reports_every_selected_resource_with_one_discovery_per_plan_and_kind(small_estate, moto):
    from failover_support import Recorder

    op, ctx, now, vols, gone = small_estate
    with Recorder(moto) as rec:
        out = _execute(op, now)
    doc = _catalog(ctx, "posture/latest.json")
    res = {(r["kind"], r["source"]): r for r in doc["resources"]}
    assert set(res) == {("ebs", v) for v in [*vols.values(), gone]} | {("rds", "orders-db")}
    db = res[("rds", "orders-db")]
    assert (db["selected"], db["breach_rpo"], db["breach_rpo_reason"]) == (True, True, "never-captured")
    for name in ("never-1", "never-2"):
        assert res[("ebs", vols[name])]["breach_rpo_reason"] == "never-captured"
        assert res[("ebs", vols[name])]["primary_points"] == 0
    assert res[("ebs", vols["primary-only"])]["breach_rpo_reason"] == "no-dr-copy"
    assert res[("ebs", vols["copied"])]["breach_rpo"] is False
    orphan = res[("ebs", gone)]
    assert (orphan["selected"], orphan["orphan"], orphan["breach_rpo"]) == (False, {"since": None}, False)
    assert doc["plans"]["gold"]["kinds"] == {
        "ebs": {"assessed": True, "reason": None, "selected": 4},
        "rds": {"assessed": True, "reason": None, "selected": 1},
    }
    summary = doc["plans"]["gold"]["summary"]
    assert (summary["breaches_rpo"], summary["never_captured"], summary["orphans"]) == (4, 3, 1)
    rpo_events = sorted(e["key"] for e in doc["events"] if e["type"] == "rpo")
    assert rpo_events == sorted(
        [f"gold/ebs/{vols[n]}/rpo" for n in ("primary-only", "never-1", "never-2")]
        + ["gold/rds/orders-db/rpo"]
    )
    assert out["events"] == doc["events"]
    assert out["not_discovered"] == {}
    # batched: one tagging query and one describe per (plan, kind), whatever the number of resources
    assert rec.count("GetResources") == 2
    assert rec.count("DescribeVolumes") == 1
    assert rec.count("DescribeDBInstances") == 1

    # a second run a quarter later announces nothing new
    _execute(op, now + timedelta(minutes=15))
    assert _catalog(ctx, "posture/latest.json")["events"] == []


def test_a_refused_discovery_leaves_the_plan_kind_unassessed_and_its_alerts_untouched(
    small_estate, monkeypatch
):
    from botocore.exceptions import ClientError

    from awsdr.kinds.ebs import EbsKind

    op, ctx, now, vols, _ = small_estate
    _execute(op, now)
    before = _catalog(ctx, "posture/alert-state.json")["states"]
    assert before[f"gold/ebs/{vols['never-1']}/rpo"] == "breach"

    def refused(self, ctx, region, tags):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "GetResources")

    monkeypatch.setattr(EbsKind, "discover", refused)
    with pytest.raises(Exception, match="ebs of plan\\(s\\) gold: discovery in ap-northeast-2: AccessDenied"):
        _execute(op, now + timedelta(minutes=15))
    doc = _catalog(ctx, "posture/latest.json")  # published before the task failed
    assert doc["window"] == format_window(now + timedelta(minutes=15))
    kinds = doc["plans"]["gold"]["kinds"]
    assert kinds["ebs"]["assessed"] is False
    assert kinds["ebs"]["reason"].startswith("discovery in ap-northeast-2: AccessDenied")
    assert kinds["rds"]["assessed"] is True
    assert [(r["kind"], r["source"]) for r in doc["resources"]] == [("rds", "orders-db")]
    assert doc["events"] == []  # no "recovered" for volumes that could not be seen
    after = _catalog(ctx, "posture/alert-state.json")["states"]
    assert after == before
