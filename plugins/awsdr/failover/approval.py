"""The go/no-go approval's text: what the approver reads in Required Actions (pure).

The body is Markdown: the runbook's steps, the RPO (age) of every DR copy it restores from, the
fencing status of each primary, the readiness warnings, and what a timeout does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awsdr.windows import TAG_CAPTURED_AT, parse_window

if TYPE_CHECKING:
    from datetime import datetime, timedelta


def _age(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{int(seconds // 60)} min"


def copies_used(plan: dict[str, Any], now: datetime) -> list[str]:
    """``<what>: <point> captured <when> (<age> old)`` for every copy a step restores from."""
    lines: list[str] = []
    for step in plan.get("steps", []):
        point = (step.get("params") or {}).get("point")
        if not point:
            continue
        captured = (
            (point.get("tags") or {}).get(TAG_CAPTURED_AT) or point.get("created_at") or point["window"]
        )
        age = (now - parse_window(captured)).total_seconds()
        lines.append(f"{step['target']}: `{point['point_id']}` captured {captured} (RPO now {_age(age)})")
    return lines


def subject(plan: dict[str, Any]) -> str:
    return (
        f"Approve the {plan['direction']} to {plan['target_region'] if plan['direction'] == 'failover' else plan['primary_region']}"
        f" ({plan['strategy']})?"
    )


def body(plan: dict[str, Any], readiness: dict[str, Any], *, timeout: timedelta, now: datetime) -> str:
    """The Markdown body of the approval."""
    mutating = [s for s in plan.get("steps", []) if s.get("mutating")]
    lines = [
        f"**{plan['direction'].title()}** of `{plan['dag_id']}` run `{plan['run_id']}`: "
        f"strategy **{plan['strategy']}**, primary `{plan['primary_region']}`, DR `{plan['target_region']}`.",
        f"Reason: {plan.get('reason') or '(none)'}",
        "",
        f"Nothing has changed yet. **{len(mutating)} step(s) change AWS** once approved. "
        f"No answer within {int(timeout.total_seconds() // 60)} min fails the run with no change.",
        "",
        "### Fencing",
    ]
    fencing = readiness.get("fencing") or []
    lines += [f"- {f}" for f in fencing] or ["- (not applicable)"]
    lines += ["", "### Copies used (RPO)"]
    lines += [f"- {c}" for c in copies_used(plan, now)] or [
        "- none: replicas, global tables or snapshots taken now"
    ]
    lines += ["", "### Readiness warnings"]
    lines += [f"- {w}" for w in readiness.get("warnings") or []] or ["- none"]
    lines += ["", "### Steps"]
    for n, step in enumerate(plan.get("steps", []), 1):
        flag = "CHANGE" if step.get("mutating") else "read"
        lines.append(f"{n}. [{step['phase']}] `{step['action']}` {step['target']} ({flag}, {step['region']})")
        if step.get("note"):
            lines.append(f"   - {step['note']}")
    return "\n".join(lines)
