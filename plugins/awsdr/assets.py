"""The Assets that tie the DAGs together (data-aware scheduling)."""

from __future__ import annotations

from airflow.sdk import Asset


def backup_asset(plan: str) -> Asset:
    """Updated by each ``dr_backup_<plan>`` run; ``dr_copy_<plan>`` is scheduled on it."""
    return Asset(name=f"awsdr_backup_{plan}", uri=f"awsdr://backup/{plan}")
