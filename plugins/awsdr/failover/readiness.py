"""Readiness of every runbook on a schedule: the document, the metric, alert once (pure).

``dr_failover_readiness`` runs the pre-flight of each runbook (failover to, and failback from,
every DR region) every 15 minutes, read-only, so a missing replica, a stale copy or a home-region
KMS key that does not exist is known weeks before the night it matters. Per runbook:

- the document ``posture/failover-readiness.json`` in the catalog: state, problems, warnings,
  since when;
- the CloudWatch metric ``AWSDR/FailoverReady`` (1 ready, 0 not) with the dimensions
  ``Runbook`` (failover/failback) and ``Region``;
- one alert when a runbook becomes not ready and one when it recovers (never one per run).

A fresh install whose only problem is that no DR copy exists yet is ``waiting`` (no alert): the
first copy run changes that.
"""

from __future__ import annotations

from typing import Any

READY = "ready"
NOT_READY = "not-ready"
WAITING = "waiting"
DOC_KEY = "posture/failover-readiness.json"
METRIC_NAMESPACE = "AWSDR"
METRIC_NAME = "FailoverReady"


def runbook_key(direction: str, region: str) -> str:
    return f"{direction}@{region}"


def state_of(report: dict[str, Any]) -> str:
    if not report["problems"]:
        return READY
    return WAITING if report.get("only_missing_copies") else NOT_READY


def transitions(
    prior: dict[str, Any] | None, reports: dict[str, dict[str, Any]], *, now: str
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """The new document and the alerts to send: ``(runbook, "not-ready" | "recovered", entry)``.

    An alert is sent on a change into ``not-ready`` and on a change from ``not-ready`` to
    ``ready``; a runbook that stays where it was sends nothing.
    """
    before = (prior or {}).get("runbooks") or {}
    runbooks: dict[str, Any] = {}
    alerts: list[tuple[str, str, dict[str, Any]]] = []
    for key, report in sorted(reports.items()):
        state = state_of(report)
        old = before.get(key) or {}
        was = old.get("state")
        entry = {
            "state": state,
            "since": old.get("since") if was == state and old.get("since") else now,
            "checked_at": now,
            "problems": report["problems"],
            "warnings": report["warnings"],
            "fencing": report.get("fencing") or [],
        }
        runbooks[key] = entry
        if state == NOT_READY and was != NOT_READY:
            alerts.append((key, "not-ready", entry))
        elif state == READY and was == NOT_READY:
            alerts.append((key, "recovered", entry))
    doc = {"schema": 1, "checked_at": now, "runbooks": runbooks}
    return doc, alerts


def alert_text(key: str, change: str, entry: dict[str, Any]) -> tuple[str, str]:
    """``(subject, message)`` of one alert."""
    if change == "recovered":
        return (
            f"awsdr runbook {key} is ready again",
            f"The {key} runbook is ready again (since {entry['since']}).",
        )
    problems = "\n".join(f"- {p}" for p in entry["problems"])
    return (
        f"awsdr runbook {key} is NOT READY",
        f"The {key} runbook would stop at its pre-flight today ({len(entry['problems'])} problem(s)):\n"
        f"{problems}",
    )
