"""The failover/failback trigger form and its validation (no AWS: it runs before anything else).

The form (``dr_failover``, ``dr_failback``, ``dr_failover_drill``) is safe by default: a dry run
plans and changes nothing. A real run needs the target region typed again in ``confirm`` and a
``reason`` (audited). A drill needs neither: it only makes isolated, tagged resources and tears
them down, so it can run on a schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from awsdr.planning.failover import FAILBACK, FAILOVER, STRATEGY_LABELS
from awsdr.policy import FAILOVER_STRATEGIES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from awsdr.policy import Policy

RUNBOOK = "Runbook"
SAFETY = "Safety"
DRILL = "Drill"
REASON_MAX = 1024


def failover_params(policy: Policy, *, direction: str = FAILOVER, drill: bool = False) -> dict[str, Param]:
    """The trigger form.

    :param policy: the loaded policy (defaults and choices come from it).
    :param direction: ``failover`` or ``failback`` (wording only).
    :param drill: the form of ``dr_failover_drill``: a drill, not a dry run, by default.
    """
    fo = policy.failover
    default_strategy = fo.strategy if fo is not None else "pilot-light"
    regions = list(policy.dr_regions)
    towards = "moves to" if direction == FAILOVER else "comes back from"
    params: dict[str, Param] = {
        "strategy": Param(
            default_strategy,
            type="string",
            enum=list(FAILOVER_STRATEGIES),
            values_display=dict(STRATEGY_LABELS),
            title="DR strategy",
            description="How the DR region is brought up (AWS DR whitepaper). Default: the policy's "
            f"failover.strategy ({default_strategy}).",
            section=RUNBOOK,
        ),
        "target_region": Param(
            regions[0],
            type="string",
            enum=regions,
            values_display={r: f"{r} (DR region {i + 1})" for i, r in enumerate(regions)},
            title="Target region" if direction == FAILOVER else "DR region to fail back from",
            description=f"The DR region traffic {towards}. The primary is {policy.primary_region}.",
            section=RUNBOOK,
        ),
        "dry_run": Param(
            not drill,
            type="boolean",
            title="Dry run",
            description="Plan only: check readiness, write the runbook with its exact AWS calls to the "
            "catalog and stop. Nothing in AWS changes.",
            section=SAFETY,
        ),
        "confirm": Param(
            None,
            type=["null", "string"],  # empty is valid: the form must allow a dry run as it opens
            maxLength=64,
            title="Type the target region to confirm",
            description="Required when Dry run is off (not for drills): the target region, typed again.",
            section=SAFETY,
        ),
        "reason": Param(
            "scheduled drill" if drill else None,
            type=["null", "string"],
            maxLength=REASON_MAX,
            title="Reason",
            description="Why (recorded in the audit record and the notification). Required when Dry run "
            "is off.",
            section=SAFETY,
        ),
        "drill": Param(
            drill,
            type="boolean",
            title="Drill",
            description="Rehearse: the same runbook into isolated names (-drill, records under the "
            "drill prefix), real standbys and records untouched, everything torn down at the end.",
            section=DRILL,
        ),
    }
    return params


def validate_failover_params(
    params: Mapping[str, Any], policy: Policy, *, direction: str = FAILOVER, force_drill: bool = False
) -> dict[str, Any]:
    """Check the form; every problem is listed in one :class:`AirflowFailException`.

    Pure: no AWS call, so a wrong confirmation or bad parameters fail before the first mutation.

    :param params: the run's params (the form, or ``dag_run.conf`` merged into it).
    :param policy: the loaded policy.
    :param direction: ``failover`` or ``failback``.
    :param force_drill: ``dr_failover_drill``: the run is a drill whatever the form says.
    :return: the validated values: strategy, target_region, dry_run, drill, reason, direction.
    """
    problems: list[str] = []
    if direction not in (FAILOVER, FAILBACK):
        problems.append(f"direction {direction!r} is neither failover nor failback")
    if policy.failover is None:
        problems.append(f"{policy.source_path} has no failover section: there is no runbook to run")
    strategy = params.get("strategy")
    if strategy not in FAILOVER_STRATEGIES:
        problems.append(f"strategy {strategy!r} is not one of {', '.join(FAILOVER_STRATEGIES)}")
    target = params.get("target_region")
    if target not in policy.dr_regions:
        problems.append(
            f"target_region {target!r} is not a DR region of the policy ({', '.join(policy.dr_regions)})"
        )
    dry_run = params.get("dry_run", True)
    if not isinstance(dry_run, bool):
        problems.append(f"dry_run must be true or false, got {dry_run!r}")
        dry_run = True
    drill = params.get("drill", False)
    if not isinstance(drill, bool):
        problems.append(f"drill must be true or false, got {drill!r}")
        drill = False
    drill = drill or force_drill
    reason = params.get("reason") or ""
    if not isinstance(reason, str):
        problems.append(f"reason must be text, got {type(reason).__name__}")
        reason = ""
    reason = " ".join(reason.split())
    if len(reason) > REASON_MAX:
        problems.append(f"reason is longer than {REASON_MAX} characters")
    confirm = params.get("confirm") or ""
    if not isinstance(confirm, str):
        problems.append(f"confirm must be text, got {type(confirm).__name__}")
        confirm = ""
    if not dry_run and not drill:
        if confirm.strip() != target:
            problems.append(
                f"confirm is {confirm.strip()!r}: type the target region ({target}) to run a real {direction}, "
                "or keep Dry run on"
            )
        if not reason:
            problems.append(f"reason is empty: say why this {direction} runs (it is audited)")
    if problems:
        raise AirflowFailException(
            f"{len(problems)} problem(s) with the {direction} parameters, nothing was done: "
            + "; ".join(f"({n}) {p}" for n, p in enumerate(problems, 1))
        )
    return {
        "strategy": strategy,
        "target_region": target,
        "dry_run": dry_run,
        "drill": drill,
        "reason": reason or ("drill" if drill else "dry run"),
        "direction": direction,
    }
