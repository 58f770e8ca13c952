"""Shared helpers of the failover tests: DR copies of the demo estate, the moto request recorder."""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from conftest import DR, PRIMARY

#: AWS operations that only read.
READ_PREFIXES = ("Describe", "List", "Get", "Head", "Search", "Query", "Scan", "BatchGet")


def widen_pitr(monkeypatch) -> None:
    """moto gap: its PITR period is frozen at the enable instant; give it AWS's moving shape."""
    from awsdr.kinds import dynamodb

    real = dynamodb.pitr_status

    def widened(client, table):
        status = real(client, table)
        if status["pitr_enabled"]:
            status["earliest_restorable"] = (datetime.now(UTC) - timedelta(days=1)).isoformat()
            status["latest_restorable"] = datetime.now(UTC).isoformat()
        return status

    monkeypatch.setattr(dynamodb, "pitr_status", widened)


def make_dr_copies(ctx, kinds=("rds", "aurora", "dynamodb", "ec2"), *, verified: bool = True) -> dict:
    """Capture the gold plan now and copy every point to the DR region (what dr_copy_gold does)."""
    from awsdr.backup import capture_kind, refresh_points
    from awsdr.copies import copy_tags
    from awsdr.kinds import kind_for
    from awsdr.policy import load_policy
    from awsdr.windows import TAG_VERIFIED_AT, format_window

    policy = load_policy()
    window = datetime.now(UTC).replace(microsecond=0)
    made: dict[str, list] = {}
    for name in kinds:
        kind = kind_for(name, policy, "gold")
        result = capture_kind(
            ctx,
            kind,
            plan="gold",
            region=PRIMARY,
            selector={"dr-plan": "gold"},
            window=window,
            captured_at=window,
            late_after=timedelta(minutes=15),
        )
        assert not result.failures, result.failures
        points = refresh_points(ctx, kind, PRIMARY, result.points)
        tags_extra = {TAG_VERIFIED_AT: format_window(window)} if verified else {}
        made[name] = [
            kind.copy(ctx, p, dest_region=DR, kms_key_id="alias/awsdr", tags={**copy_tags(p), **tags_extra})
            for p in points
        ]
    return made


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).read()


class Recorder:
    """moto's request recorder: what the code under test asked AWS."""

    def __init__(self, moto_url: str) -> None:
        self.url = moto_url

    def __enter__(self) -> Recorder:
        _post(f"{self.url}/moto-api/recorder/reset-recording")
        _post(f"{self.url}/moto-api/recorder/start-recording")
        return self

    def __exit__(self, *exc: object) -> None:
        _post(f"{self.url}/moto-api/recorder/stop-recording")

    def calls(self) -> list[tuple[str, str]]:
        """``(operation or "METHOD path", url)`` of every recorded request."""
        log = urllib.request.urlopen(f"{self.url}/moto-api/recorder/download-recording", timeout=30).read()
        out: list[tuple[str, str]] = []
        for line in log.decode().splitlines():
            if not line.strip():
                continue
            req = json.loads(line)
            headers = {k.lower(): v for k, v in (req.get("headers") or {}).items()}
            body = req.get("body") or ""
            if req.get("body_encoded") and body:
                body = base64.b64decode(body).decode("utf-8", "replace")
            target = headers.get("x-amz-target")
            path = urllib.parse.urlparse(req["url"]).path
            if target:
                op = target.rsplit(".", 1)[-1]
            elif "Action=" in body:
                op = urllib.parse.parse_qs(body).get("Action", ["?"])[0]
            else:
                op = f"{req['method']} {path}"
            out.append((op, path))
        return out

    def mutating(self) -> list[tuple[str, str]]:
        """The calls that change something (REST: any method but GET/HEAD)."""
        out = []
        for op, path in self.calls():
            if op.startswith(("GET ", "HEAD ")) or op.startswith(READ_PREFIXES):
                continue
            out.append((op, path))
        return out

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls() if op == operation)


def record_value(ctx, name: str = "app.example.com.") -> list[dict]:
    r53 = ctx.client("route53", "us-east-1")
    zone = r53.list_hosted_zones_by_name(DNSName="example.com.")["HostedZones"][0]["Id"]
    sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return [s for s in sets if s["Name"] == name]
