"""Airflow glue for ``dr_failover``, ``dr_failback`` and ``dr_failover_drill``.

One operator per runbook phase (provider style: keyword-only ``__init__`` that only assigns,
templated fields named like their arguments, all I/O in ``execute``):

- :class:`FailoverReadinessOperator`: pre-flight; fails listing every problem, returns the
  inventory facts the planner needs.
- :class:`FailoverPlanOperator`: the runbook (:mod:`awsdr.planning.failover`), logged and written
  to ``failover/<run id>/plan.json`` in the catalog.
- :class:`DataLayerOperator`, :class:`ComputeOperator`, :class:`TrafficOperator`,
  :class:`VerifyOperator`: execute the plan's steps of their phase. Each step re-reads the live
  state first and is skipped (outcome ``already``) when it is done, so a re-triggered run resumes
  and nothing is done twice. A dry run skips them all.
- :class:`NotifyOperator`: the audit record (who, when, why, every step, measured RTO) in
  ``failover/<run id>/audit.json`` and the SNS notification; fails the run if a step failed.
- :class:`DrillTeardownOperator`: removes everything tagged ``awsdr:drill=<run id>``.

The engine is :mod:`awsdr.failover` (no Airflow there): the pre-flight
(:func:`~awsdr.failover.readiness.check_readiness`), the step execution per phase
(:mod:`awsdr.failover.steps`), the handlers registered by action, fencing, reconciliation and the
approval text. Its public names are re-exported here for the callers that import them from this
module.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from botocore.exceptions import ClientError

from awsdr.catalog import failover_audit_key, failover_plan_key
from awsdr.failover import approval as approval_text
from awsdr.failover.common import (  # noqa: F401 - re-exported
    ALREADY,
    DEAD_DB_STATES,
    DONE,
    RETRYABLE_CODES,
    SKIPPED,
    STEP_FAILED,
    UNKNOWN,
    WAITING,
    _iso,
    is_retryable,
    now_utc,
    primary_kms_key,
)
from awsdr.failover.readiness import (  # noqa: F401 - re-exported
    Findings,
    ReadinessError,
    check_readiness,
    newest_copies,
)
from awsdr.failover.steps import (  # noqa: F401 - re-exported
    ensure_pitr,
    http_health,
    run_compute_steps,
    run_data_steps,
    run_teardown_steps,
    run_traffic_steps,
    run_verify_steps,
)
from awsdr.operators.backup import DrBaseOperator
from awsdr.planning import failover as fp
from awsdr.windows import format_window, parse_window

if TYPE_CHECKING:
    from collections.abc import Collection

    from airflow.sdk import Context

    from awsdr.policy import Failover

log = logging.getLogger(__name__)


def _flag(value: Any) -> bool:
    """A templated boolean: XCom gives a bool, a rendered template the text ``True``/``False``."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


# ============================================================================================
# Operators
# ============================================================================================


class FailoverBaseOperator(DrBaseOperator):
    """The trigger form's validated values, and the plan made by the ``plan`` task.

    :param strategy: ``backup-restore``, ``pilot-light``, ``warm-standby`` or ``active-active``.
    :param target_region: the DR region traffic moves to (failover) or comes back from (failback).
    :param direction: ``failover`` or ``failback``.
    :param drill: isolated names, torn down at the end.
    :param dry_run_flag: the form's ``dry_run``: plan only; every executing operator skips
        (``BaseOperator.dry_run`` is a method, hence the name).
    :param reason: why (audited).
    :param plan_task_id: the task whose return value is the plan.
    """

    template_fields: tuple[str, ...] = ("strategy", "target_region", "drill", "dry_run_flag", "reason")
    ui_color = "#fde9d9"

    def __init__(
        self,
        *,
        strategy: Any,
        target_region: Any,
        direction: str = fp.FAILOVER,
        drill: Any = False,
        dry_run_flag: Any = True,
        reason: Any = "",
        plan_task_id: str = "plan",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.strategy = strategy
        self.target_region = target_region
        self.direction = direction
        self.drill = drill
        self.dry_run_flag = dry_run_flag
        self.reason = reason
        self.plan_task_id = plan_task_id

    @property
    def failover(self) -> Failover:
        fo = self.policy.failover
        if fo is None:
            raise AirflowFailException(f"{self.policy.source_path} has no failover section")
        return fo

    def plan_doc(self, context: Context) -> dict[str, Any]:
        doc = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        if not doc:
            raise AirflowFailException(f"no plan from task {self.plan_task_id!r}")
        return dict(doc)

    def steps(self, context: Context, phases: tuple[str, ...]) -> list[fp.Step]:
        return [fp.Step.from_dict(s) for s in self.plan_doc(context)["steps"] if s["phase"] in phases]

    def skip_if_dry_run(self) -> None:
        if _flag(self.dry_run_flag):
            raise AirflowSkipException("dry run: the plan is written, nothing in AWS changes")

    # --- phases that wait: one batched round per call, deferred between rounds ----------------

    waiter_delay: float = 15.0
    waiter_max_attempts: int = 120

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        """Subclasses: start or look again at every step of the phase (idempotent), once."""
        raise NotImplementedError

    def run_rounds(self, context: Context, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One round; defers to the triggerer (:class:`FailoverRoundTrigger`) while a step is
        ``waiting``.

        No worker slot is held between rounds. The state (memo, per-step timing) travels in the
        trigger and comes back in its event (and in the deferral's kwargs). After ``waiter_delay * waiter_max_attempts`` seconds the last round is
        final: what still waits fails (retryable). Each result gets its measured ``seconds``.
        """
        from awsdr.operators.failover_trigger import FailoverRoundTrigger

        now = now_utc()
        state = state or {"memo": {}, "timing": {}, "rounds": 0, "started_at": format_window(now)}
        started = parse_window(state["started_at"])
        final = (now - started).total_seconds() >= self.waiter_delay * self.waiter_max_attempts
        results = self.one_round(context, state["memo"], final)
        state["rounds"] += 1
        timing: dict[str, dict[str, Any]] = state["timing"]
        for r in results:
            t = timing.setdefault(r["id"], {"started_at": state["started_at"]})
            if r["outcome"] == WAITING:
                if r.get("started") == DONE:
                    t["did"] = True  # this run started it; later rounds find it "already"
                continue
            if "outcome" not in t:
                if t.get("did") and r["outcome"] == ALREADY:
                    r["outcome"] = DONE
                t.update(outcome=r["outcome"], finished_at=r["finished_at"])
                t["seconds"] = (
                    parse_window(r["finished_at"]) - parse_window(t["started_at"])
                ).total_seconds()
            elif t["outcome"] == DONE and r["outcome"] == ALREADY:
                r["outcome"] = DONE  # done by an earlier round of this run
            r["finished_at"] = t["finished_at"]
            r["seconds"] = t["seconds"]
        waiting = [r for r in results if r["outcome"] == WAITING]
        if waiting and not final:
            self.log.info(
                "Round %d: %d step(s) waiting (%s); deferring %ss",
                state["rounds"],
                len(waiting),
                "; ".join(f"{r['id']}: {r['detail']}" for r in waiting)[:2000],
                self.waiter_delay,
            )
            self.defer(
                trigger=FailoverRoundTrigger.after(self.waiter_delay, state, phase=self.task_id),
                method_name="resume_rounds",
                kwargs={"state": state},
            )
        for r in waiting:
            r.update(
                outcome=STEP_FAILED,
                detail=f"{r['detail']}; still waiting after {state['rounds']} round(s)",
                retryable=True,
            )
        self.log.info("Phase done in %d round(s)", state["rounds"])
        return results

    def resume_rounds(self, context: Context, event: Any = None, state: dict[str, Any] | None = None) -> Any:
        if state is None and isinstance(event, dict):
            state = event.get("state")  # dag.test() hands back the event only
        if state is None:
            # never restart at round 1 here (that loop never ends): fail this try; the retry starts
            # the phase over (every step is idempotent)
            raise AirflowException("resumed without the phase's state: retrying the phase from the start")
        return self.complete(context, self.run_rounds(context, state))

    def complete(self, context: Context, results: list[dict[str, Any]]) -> Any:
        """Subclasses: push and check the results (after the last round)."""
        raise NotImplementedError

    def finish(self, context: Context, results: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
        """Push the results (the audit reads them even when this task fails), then fail if any step did."""
        context["ti"].xcom_push(key="results", value=results)
        for r in results:
            level = logging.ERROR if r["outcome"] == STEP_FAILED else logging.INFO
            took = f", {r['seconds']:.0f} s" if r.get("seconds") is not None else ""
            self.log.log(
                level, "%s %s: %s (%s%s)", r["outcome"].upper(), r["id"], r["detail"], r["region"], took
            )
        failed = [r for r in results if r["outcome"] == STEP_FAILED]
        if failed:
            text = f"{len(failed)} {what} step(s) failed: " + "; ".join(
                f"{r['id']}: {r['detail']}" for r in failed
            )
            if any(r.get("retryable") for r in failed):
                raise AirflowException(text)
            raise AirflowFailException(text)
        return results


class FailoverReadinessOperator(FailoverBaseOperator):
    """Pre-flight: fails (no retry: waiting does not create a replica) listing every problem.

    Checks the DR copies' age against their plan's RPO and their restore verification, the read
    replicas, global clusters and tables, the standby ASGs and ECS services, the KMS key, the
    hosted zone, the records and the health checks. Read-only. Returns the inventory facts.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            report = check_readiness(
                self.ctx,
                self.policy,
                strategy=str(self.strategy),
                target_region=str(self.target_region),
                direction=self.direction,
                drill=_flag(self.drill),
            )
        except ReadinessError as err:
            raise AirflowFailException(str(err)) from err
        for check in report["checks"]:
            self.log.info("checked: %s", check)
        for warning in report["warnings"]:
            self.log.warning("WARNING: %s", warning)
        for line in report.get("fencing") or []:
            self.log.info("fencing: %s", line)
        if report["problems"] and _flag(self.drill) and report.get("only_missing_copies"):
            # A fresh install: the drill is scheduled before the first DR copy exists. Not red.
            raise AirflowSkipException(
                "no DR copy to rehearse with yet (the first dr_copy_<plan> run makes them): "
                + "; ".join(report["problems"])
            )
        if report["problems"]:
            for problem in report["problems"]:
                self.log.error("PROBLEM: %s", problem)
            raise AirflowFailException(
                f"not ready to {self.direction} to {self.target_region}: {len(report['problems'])} problem(s): "
                + "; ".join(f"({n}) {p}" for n, p in enumerate(report["problems"], 1))
            )
        self.log.info("Ready: %d warning(s)", len(report["warnings"]))
        return report


class FailoverApprovalOperator(ApprovalOperator):
    """The go/no-go: an Airflow approval (Required Actions, or the REST API's HITL endpoints).

    Asked in every real failover and failback, after the plan and before the first change: the
    body shows the steps, the RPO of every copy used, the fencing status and the readiness
    warnings (:mod:`awsdr.failover.approval`). A drill is not asked; ``failover.approval.required:
    false`` approves by policy (audited so). Reject: every change is skipped and the audit says who
    rejected. No answer within ``failover.approval.timeout``: the task fails and nothing changes.
    The return value (the audit's ``approval``) names the responder.

    :param required: the policy's ``failover.approval.required``.
    :param drill: the form's drill flag (templated).
    :param plan_task_id: the task whose return value is the plan.
    :param readiness_task_id: the task whose return value is the readiness report.
    :param audit_task_id: never skipped on a rejection (it audits it).
    """

    template_fields: Collection[str] = (*ApprovalOperator.template_fields, "drill")

    def __init__(
        self,
        *,
        required: bool = True,
        drill: Any = False,
        plan_task_id: str = "plan",
        readiness_task_id: str = "readiness",
        audit_task_id: str = "notify",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subject", "Approve the failover runbook?")
        super().__init__(**kwargs)
        self.required = required
        self.drill = drill
        self.plan_task_id = plan_task_id
        self.readiness_task_id = readiness_task_id
        self.audit_task_id = audit_task_id

    def execute(self, context: Context) -> Any:
        if _flag(self.drill):
            self.log.info("A drill is not approved: it changes nothing real")
            return {"decision": "not asked", "by": None, "how": "drill"}
        if not self.required:
            self.log.warning("failover.approval.required is false: approved by policy")
            return {
                "decision": "approved",
                "by": "policy",
                "how": "approved by policy",
                "at": _iso(now_utc()),
            }
        ti = context["ti"]
        plan = ti.xcom_pull(task_ids=self.plan_task_id) or {}
        readiness = ti.xcom_pull(task_ids=self.readiness_task_id) or {}
        if not plan:
            raise AirflowFailException(f"no plan from task {self.plan_task_id!r}: nothing to approve")
        timeout = self.response_timeout or timedelta(minutes=30)
        self.subject = approval_text.subject(plan)
        self.body = approval_text.body(plan, readiness, timeout=timeout, now=now_utc())
        self.log.info("Asking for approval (%s):\n%s", self.subject, self.body)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        answer = HITLOperator.execute_complete(self, context=context, event=event)
        chosen = answer["chosen_options"][0]
        user = answer.get("responded_by_user") or {}
        decision: dict[str, Any] = {
            "decision": "approved" if chosen == self.APPROVE else "rejected",
            "by": user.get("name") or user.get("id") or "unknown",
            "by_id": user.get("id"),
            "at": answer["responded_at"].isoformat() if answer.get("responded_at") else None,
            "how": "Required Actions",
        }
        self.log.info("%s by %s", decision["decision"].upper(), decision["by"])
        if chosen != self.APPROVE:
            # skip() ends this method (Airflow 3 raises DownstreamTasksSkipped): the audit reads
            # the decision from XCom, so push it first.
            context["ti"].xcom_push(key="return_value", value=decision)
            skip = [
                t
                for t in context["task"].get_flat_relatives(upstream=False)
                if not t.is_teardown and t.task_id != self.audit_task_id
            ]
            self.skip(ti=context["ti"], tasks=skip)
        return decision


class FailoverPlanOperator(FailoverBaseOperator):
    """Build the runbook, log it and write it to ``failover/<run id>/plan.json`` in the catalog.

    :param readiness_task_id: the task whose return value holds the inventory facts.
    """

    def __init__(self, *, readiness_task_id: str = "readiness", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.readiness_task_id = readiness_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog

        report = context["ti"].xcom_pull(task_ids=self.readiness_task_id) or {}
        dag_run = context["dag_run"]
        target = str(self.target_region)
        try:
            steps = fp.plan_runbook(
                self.failover,
                strategy=str(self.strategy),
                primary_region=self.policy.primary_region,
                dr_regions=self.policy.dr_regions,
                target_region=target,
                direction=self.direction,
                drill=_flag(self.drill),
                run_id=dag_run.run_id,
                facts=report.get("facts"),
                kms_key=primary_kms_key(self.policy, target),
                sns_topic_arn=self.policy.sns_topic_arn,
                catalog=(self.policy.catalog_bucket, self.policy.catalog_region),
            )
        except fp.PlanError as err:
            raise AirflowFailException(str(err)) from err
        doc = {
            "schema": 1,
            "dag_id": dag_run.dag_id,
            "run_id": dag_run.run_id,
            "direction": self.direction,
            "strategy": str(self.strategy),
            "target_region": target,
            "primary_region": self.policy.primary_region,
            "drill": _flag(self.drill),
            "dry_run": _flag(self.dry_run_flag),
            "reason": str(self.reason or ""),
            "planned_at": format_window(now_utc()),
            "warnings": report.get("warnings", []),
            "mutating_steps": sum(1 for s in steps if s.mutating),
            "steps": [s.to_dict() for s in steps],
        }
        self.log.info(
            "%s runbook (%s, %s, %s%s):\n%s",
            self.direction,
            self.strategy,
            target,
            "DRY RUN" if doc["dry_run"] else "LIVE",
            ", drill" if doc["drill"] else "",
            fp.summarize(steps),
        )
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        key = failover_plan_key(dag_run.run_id)
        catalog.put_json(key, doc)
        self.log.info("Wrote s3://%s/%s", catalog.bucket, key)
        return doc


class DataLayerOperator(FailoverBaseOperator):
    """Fence the primary, promote replicas, fail over global databases or restore from the newest
    DR copies (failover); freeze the DR writers and bring every write home (failback).

    Deferrable: each round starts what is not started and polls what AWS is doing in one batch;
    between rounds the task waits in the triggerer, holding no worker slot.

    :param waiter_delay: seconds between batched status polls.
    :param waiter_max_attempts: rounds before giving up (the task then retries: waiting resumes).
    """

    def __init__(self, *, waiter_delay: float = 30.0, waiter_max_attempts: int = 240, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        dag_run = context["dag_run"]
        return run_data_steps(
            self.ctx,
            self.policy,
            self.steps(context, (fp.DATA,)),
            window=parse_window(format_window(dag_run.run_after)),
            run_id=dag_run.run_id,
            memo=memo,
        )

    def complete(self, context: Context, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.finish(context, results, "data")


class ComputeOperator(FailoverBaseOperator):
    """Scale the standby ASGs and ECS services, or launch from the copied AMIs; wait (deferred)
    until serving.

    :param waiter_delay: seconds between batched status polls.
    :param waiter_max_attempts: rounds before giving up.
    """

    def __init__(self, *, waiter_delay: float = 15.0, waiter_max_attempts: int = 120, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        return run_compute_steps(
            self.ctx,
            self.policy,
            self.steps(context, (fp.COMPUTE,)),
            memo=memo,
            run_id=context["dag_run"].run_id,
        )

    def complete(self, context: Context, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.finish(context, results, "compute")


class TrafficOperator(FailoverBaseOperator):
    """Route 53 UPSERTs (one change batch per zone, and each database's record), then INSYNC
    (deferred between polls).

    Runs only when everything upstream succeeded (``all_success``): a failed data or compute
    step never moves traffic.
    """

    def __init__(self, *, waiter_delay: float = 5.0, waiter_max_attempts: int = 120, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        return run_traffic_steps(
            self.ctx,
            self.steps(context, (fp.TRAFFIC,)),
            run_id=context["dag_run"].run_id,
            policy=self.policy,
            memo=memo,
        )

    def complete(self, context: Context, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.finish(context, results, "traffic")


class VerifyOperator(FailoverBaseOperator):
    """Health checks (Route 53 status or HTTP GET), re-checked (deferred) until healthy; records
    when all are healthy and the RTO.

    The RTO is measured from the run's start to the moment every check passed.
    """

    def __init__(self, *, waiter_delay: float = 10.0, waiter_max_attempts: int = 6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> dict[str, Any]:
        self.skip_if_dry_run()
        return self.complete(context, self.run_rounds(context))

    def one_round(self, context: Context, memo: dict[str, Any], final: bool) -> list[dict[str, Any]]:
        results, healthy_at = run_verify_steps(
            self.ctx, self.failover, self.steps(context, (fp.VERIFY,)), final=final
        )
        memo["healthy_at"] = _iso(healthy_at)
        if not results:
            memo["healthy_at"] = format_window(now_utc())
        return results

    def complete(self, context: Context, results: list[dict[str, Any]]) -> dict[str, Any]:
        healthy = all(r["outcome"] in (DONE, UNKNOWN) for r in results)
        healthy_at = (
            max((parse_window(r["finished_at"]) for r in results), default=now_utc()) if healthy else None
        )
        start = context["dag_run"].start_date
        rto = (healthy_at - start).total_seconds() if healthy_at is not None and start is not None else None
        summary = {"healthy_at": _iso(healthy_at), "rto_seconds": rto}
        context["ti"].xcom_push(key="summary", value=summary)
        if not results:
            self.log.warning("No health checks apply: RTO measured to the end of the traffic step")
        if rto is not None:
            self.log.info("Healthy at %s: measured RTO %.0f s", summary["healthy_at"], rto)
        self.finish(context, results, "verify")
        return {**summary, "results": results}


class NotifyOperator(FailoverBaseOperator):
    """The audit record and the SNS notification; fails the run when any step failed.

    Runs whatever happened upstream (``all_done``). When the run never got past the go/no-go
    gate (bad parameters, not ready) it makes no AWS call at all and only fails the run; a dry
    run never reaches it. Audit: who (the triggering user, or ``conf.requested_by``), when, why,
    the form, every step's outcome, the measured RTO.

    :param gate_task_id: the go/no-go task (short circuit on dry run).
    :param phase_task_ids: the executing tasks whose results are audited, in runbook order.
    :param verify_task_id: the task whose summary holds the measured RTO.
    """

    def __init__(
        self,
        *,
        gate_task_id: str = "go_no_go",
        phase_task_ids: tuple[str, ...] = ("data_layer", "compute", "traffic", "verify", "drill_teardown"),
        verify_task_id: str = "verify",
        approval_task_id: str = "approval",
        approval_timeout: str = "PT30M",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.approval_task_id = approval_task_id
        self.approval_timeout = approval_timeout
        self.gate_task_id = gate_task_id
        self.phase_task_ids = phase_task_ids
        self.verify_task_id = verify_task_id

    def _states(self, context: Context) -> dict[str, str]:
        ti = context["ti"]
        dag_run = context["dag_run"]
        answer = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])  # type: ignore[attr-defined]
        states = answer.get(dag_run.run_id, answer)
        return {k: str(v) for k, v in states.items()}

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog

        states = self._states(context)
        me = context["ti"].task_id
        failed = sorted(t for t, s in states.items() if t != me and s in ("failed", "upstream_failed"))
        if states.get(self.gate_task_id) != "success":
            # Never past validation / readiness / planning: nothing changed; no AWS call here either.
            if failed:
                raise AirflowFailException(f"the runbook stopped before any change: {', '.join(failed)}")
            raise AirflowSkipException("the runbook did not run (a dry run, or nothing to rehearse yet)")
        ti = context["ti"]
        dag_run = context["dag_run"]
        plan = self.plan_doc(context)
        results: list[dict[str, Any]] = []
        for task_id in self.phase_task_ids:
            results.extend(ti.xcom_pull(task_ids=task_id, key="results") or [])
        summary = ti.xcom_pull(task_ids=self.verify_task_id, key="summary") or {}
        done = {r["id"] for r in results}
        not_run = [
            s["id"]
            for s in plan["steps"]
            if s["phase"] not in (fp.PREFLIGHT, fp.NOTIFY, fp.TEARDOWN) and s["id"] not in done
        ]
        conf = dag_run.conf or {}
        who = conf.get("requested_by") or getattr(dag_run, "triggering_user_name", None) or "unknown"
        approval = ti.xcom_pull(task_ids=self.approval_task_id) or {}
        approval_state = states.get(self.approval_task_id)
        if approval_state == "failed" and not approval:
            approval = {
                "decision": "no answer",
                "by": None,
                "how": f"no answer within {self.approval_timeout}: nothing was changed",
            }
        rejected = approval.get("decision") == "rejected"
        outcome = "rejected" if rejected else "failed" if failed else "succeeded"
        fencing_audit = [
            {
                "target": r["target"],
                "fenced": r.get("fenced"),
                "detail": r["detail"],
                "partial": r.get("partial"),
            }
            for r in results
            if r["action"] in (fp.FENCE_PRIMARY, fp.FENCE_BUCKET)
        ]
        freezes = [
            {"target": r["target"], **r["freeze"], "reconciled": r.get("reconciled")}
            for r in results
            if r.get("freeze")
        ]
        rto_steps = {r["id"]: r.get("seconds") for r in results}
        audit = {
            "schema": 1,
            "dag_id": dag_run.dag_id,
            "run_id": dag_run.run_id,
            "direction": self.direction,
            "who": who,
            "reason": str(self.reason or ""),
            "strategy": plan["strategy"],
            "target_region": plan["target_region"],
            "primary_region": plan["primary_region"],
            "drill": plan["drill"],
            "started_at": _iso(dag_run.start_date),
            "finished_at": format_window(now_utc()),
            "healthy_at": summary.get("healthy_at"),
            "rto_seconds": summary.get("rto_seconds"),
            "outcome": outcome,
            "approval": approval,
            "fencing": fencing_audit,
            "write_freeze": freezes,
            "rto_step_seconds": rto_steps,
            "failed_tasks": failed,
            "task_states": states,
            "steps": results,
            "steps_not_run": not_run,
            "plan_key": failover_plan_key(dag_run.run_id),
        }
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        key = failover_audit_key(dag_run.run_id)
        catalog.put_json(key, audit)
        self.log.info("Wrote s3://%s/%s: %s, RTO %s s", catalog.bucket, key, outcome, audit["rto_seconds"])
        if self.policy.sns_topic_arn:
            topic = self.policy.sns_topic_arn
            rto = audit["rto_seconds"]
            message = (
                f"{'DRILL ' if audit['drill'] else ''}{self.direction} to {audit['target_region']} "
                f"({audit['strategy']}) {outcome}. Reason: {audit['reason']}. By: {who}. "
                f"RTO: {f'{rto:.0f}s' if rto is not None else 'n/a'}. "
                f"Failed: {', '.join(failed) or 'none'}. Audit: s3://{catalog.bucket}/{key}"
            )
            try:
                self.ctx.client("sns", topic.split(":")[3]).publish(
                    TopicArn=topic, Subject=f"awsdr {self.direction} {outcome}"[:100], Message=message
                )
            except ClientError as err:
                self.log.error("SNS publish to %s failed: %s", topic, err)
        if rejected:
            raise AirflowSkipException(
                f"the {self.direction} was rejected by {approval.get('by')}: nothing changed"
            )
        if failed:
            raise AirflowFailException(
                f"the {self.direction} did not complete: failed tasks {', '.join(failed)}"
            )
        return {"key": key, "outcome": outcome, "rto_seconds": audit["rto_seconds"]}


class DrillTeardownOperator(FailoverBaseOperator):
    """Remove everything a drill made: restores, copies, ASG/ECS copies, instances, drill records.

    Everything carries ``awsdr:drill=<run id>``; nothing else is touched. Not a drill, or a dry
    run: skips without an AWS call. The outcome is added to the audit record.
    """

    def execute(self, context: Context) -> list[dict[str, Any]]:
        if not _flag(self.drill) or _flag(self.dry_run_flag):
            raise AirflowSkipException("not a drill (or a dry run): nothing to tear down")
        dag_run = context["dag_run"]
        doc = context["ti"].xcom_pull(task_ids=self.plan_task_id) or {}
        if doc.get("steps"):
            steps = [fp.Step.from_dict(s) for s in doc["steps"] if s["phase"] == fp.TEARDOWN]
        else:
            steps = [
                s
                for s in fp.plan_runbook(
                    self.failover,
                    strategy=str(self.strategy),
                    primary_region=self.policy.primary_region,
                    dr_regions=self.policy.dr_regions,
                    target_region=str(self.target_region),
                    direction=self.direction,
                    drill=True,
                    run_id=dag_run.run_id,
                )
                if s.phase == fp.TEARDOWN
            ]
        results = run_teardown_steps(self.ctx, self.policy, steps)
        return self.finish(context, results, "teardown")


class FailoverReadinessScheduleOperator(DrBaseOperator):
    """Every runbook's pre-flight on a schedule (``dr_failover_readiness``); see
    :mod:`awsdr.failover.readiness`. Read-only but for the document, the metric and the alerts.

    Succeeds whatever the readiness (it is a monitor: the alert, the document and the metric say
    it); fails only when a check itself cannot run.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog
        from awsdr.failover import readiness as sched

        fo = self.policy.failover
        if fo is None:
            raise AirflowSkipException(f"{self.policy.source_path} has no failover section")
        reports: dict[str, dict[str, Any]] = {}
        for region in self.policy.dr_regions:
            for direction in fp.DIRECTIONS:
                report = check_readiness(
                    self.ctx,
                    self.policy,
                    strategy=fo.strategy,
                    target_region=region,
                    direction=direction,
                    drill=False,
                    standing=direction == fp.FAILBACK,
                )
                key = sched.runbook_key(direction, region)
                reports[key] = report
                self.log.info(
                    "%s: %s (%d problem(s), %d warning(s))",
                    key,
                    sched.state_of(report),
                    len(report["problems"]),
                    len(report["warnings"]),
                )
                for problem in report["problems"]:
                    self.log.warning("%s PROBLEM: %s", key, problem)
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        prior = catalog.get_json(sched.DOC_KEY)
        doc, alerts = sched.transitions(prior, reports, now=format_window(now_utc()))
        catalog.put_json(sched.DOC_KEY, doc)
        metrics = [
            {
                "MetricName": sched.METRIC_NAME,
                "Dimensions": [
                    {"Name": "Runbook", "Value": key.split("@")[0]},
                    {"Name": "Region", "Value": key.split("@")[1]},
                ],
                "Value": 1.0 if entry["state"] == sched.READY else 0.0,
                "Unit": "Count",
            }
            for key, entry in doc["runbooks"].items()
        ]
        self.ctx.client("cloudwatch", self.policy.catalog_region).put_metric_data(
            Namespace=sched.METRIC_NAMESPACE, MetricData=metrics
        )
        topic = self.policy.sns_topic_arn
        for key, change, entry in alerts:
            subject, message = sched.alert_text(key, change, entry)
            self.log.warning("ALERT %s", subject)
            if topic:
                self.ctx.client("sns", topic.split(":")[3]).publish(
                    TopicArn=topic, Subject=subject[:100], Message=message
                )
        return {"runbooks": {k: v["state"] for k, v in doc["runbooks"].items()}, "alerts": len(alerts)}
