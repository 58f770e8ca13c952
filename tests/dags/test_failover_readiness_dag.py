"""dr_failover_readiness (``dag.test()``) on the emulator: a failback that would stop at its
pre-flight (no home-region KMS key) alerts once, stays quiet while it stays so, alerts on recovery."""

from __future__ import annotations

import importlib
import json

from conftest import DR
from failover_support import Recorder


def _dag(tmp_path, monkeypatch, topic, key):
    from awsdr.policy import DEFAULT_POLICY_PATH

    text = DEFAULT_POLICY_PATH.read_text().replace(
        "\nfailover:",
        f"\nnotifications: {{sns_topic_arn: '{topic}'}}\nfailover:\n  primary_kms_key: {key}",
        1,
    )
    path = tmp_path / f"policy-{key.replace('/', '-')}.yaml"
    path.write_text(text)
    monkeypatch.setenv("AWSDR_POLICY", str(path))
    import dr_failover_readiness

    return importlib.reload(dr_failover_readiness).dr_failover_readiness


def test_not_ready_alerts_once_and_recovery_alerts_once(airflow_db, demo_estate, moto, tmp_path, monkeypatch):
    ctx = demo_estate
    topic = ctx.client("sns", DR).create_topic(Name="awsdr-alerts")["TopicArn"]
    broken = _dag(tmp_path, monkeypatch, topic, "alias/awsdr-home-missing")
    with Recorder(moto) as rec:
        assert broken.test().state == "success"
        assert broken.test().state == "success"
    assert rec.count("Publish") == 1, "two not-ready runs, one alert"
    assert rec.count("PutMetricData") == 2
    doc = json.loads(
        ctx.client("s3", DR)
        .get_object(Bucket="awsdr-catalog", Key="posture/failover-readiness.json")["Body"]
        .read()
    )
    failback = doc["runbooks"][f"failback@{DR}"]
    assert failback["state"] == "not-ready"
    assert any("alias/awsdr-home-missing" in p and "NotFoundException" in p for p in failback["problems"])
    fixed = _dag(tmp_path, monkeypatch, topic, "alias/awsdr")
    with Recorder(moto) as rec:
        assert fixed.test().state == "success"
    assert rec.count("Publish") == 1, "recovered: one alert"
