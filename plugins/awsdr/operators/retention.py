"""Airflow glue for ``dr_retention``: validate the form, prune per kind, report, fail on the breaker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from awsdr.kinds import kind_for
from awsdr.operators.backup import DrBaseOperator, run_window

if TYPE_CHECKING:
    from airflow.sdk import Context

ALL = "all"


def resolve_params(params: dict[str, Any], run_type: str, plans: list[str]) -> dict[str, Any]:
    """The run's effective settings. Scheduled runs always delete (the form's dry_run default of
    true protects people, not the schedule); manual runs do what the form says."""
    plan = params.get("plan", ALL)
    if plan != ALL and plan not in plans:
        raise AirflowFailException(f"params.plan: unknown plan {plan!r}; expected one of {[ALL, *plans]}")
    dry_run = params.get("dry_run", True)
    force = params.get("force", False)
    if not isinstance(dry_run, bool) or not isinstance(force, bool):
        raise AirflowFailException("params.dry_run and params.force must be true or false")
    manual = "manual" in run_type.lower()
    return {
        "plans": plans if plan == ALL else [plan],
        "dry_run": dry_run if manual else False,
        "force": force,
    }


class PruneOperator(DrBaseOperator):
    """Apply the GFS retention rules to one kind's points in every region.

    :param kind: resource type name.
    :param settings: the ``validate_params`` task's output (plans, dry_run, force).
    """

    template_fields = ("settings",)

    def __init__(self, *, kind: str, settings: Any, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.settings = settings

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog
        from awsdr.retention import prune_kind, prune_vault

        settings = self.settings
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        now = run_window(context)
        run_id = context["dag_run"].run_id
        vault_ctx = None
        if self.policy.vault is not None:
            from awsdr.operators.copy import vault_context

            vault_ctx = vault_context()
        runs = []
        for plan in settings["plans"]:
            if self.kind not in self.policy.plans[plan].select.types:
                continue
            kind = kind_for(self.kind, self.policy, plan)
            common = {
                "now": now,
                "run_id": run_id,
                "dry_run": settings["dry_run"],
                "force": settings["force"],
            }
            done = [prune_kind(self.ctx, kind, catalog, self.policy, plan, **common)]
            if vault_ctx is not None:
                done.append(prune_vault(self.ctx, vault_ctx, kind, catalog, self.policy, plan, **common))
            for run in done:
                self._log(plan, run.kind, run.summary, run.data, settings["dry_run"])
                if run.archive:
                    self.log.info(
                        "%s %s%s: %d kept points older than archive_after, %d archived, %d already",
                        plan,
                        run.archive["stream"],
                        " (dry run: none archived)" if settings["dry_run"] else "",
                        run.archive["candidates"],
                        len(run.archive["archived"]),
                        run.archive["already"],
                    )
                runs.append(run.to_dict())
        return {"kind": self.kind, "runs": runs}

    def _log(self, plan: str, kind: str, s: dict[str, Any], data: dict[str, Any], dry_run: bool) -> None:
        self.log.info(
            "%s %s%s: keep %d (%d bytes), delete %d (%d bytes), blocked %d; by rule %s",
            plan,
            kind,
            " (dry run)" if dry_run else "",
            s["kept"],
            s["kept_bytes"],
            s["deleted"],
            s["deleted_bytes"],
            s["blocked"],
            {r: v["count"] for r, v in s["by_rule"].items()},
        )
        if data:
            self.log.info(
                "%s %s: %d copied object versions no point names, %d deleted",
                plan,
                data["stream"],
                data["versions"],
                data["deleted"],
            )


class RetentionReportOperator(DrBaseOperator):
    """Write the run's report (per plan, kind and region) to the catalog; fail on breaker or errors."""

    def __init__(self, *, kinds: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.kinds = kinds

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog, retention_report_key

        ti = context["ti"]
        settings = ti.xcom_pull(task_ids="validate_params") or {}
        report: dict[str, Any] = {"run_id": context["dag_run"].run_id, "settings": settings, "kinds": {}}
        problems: list[str] = []
        for k in self.kinds:
            out = ti.xcom_pull(task_ids=f"prune_{k}")
            if out is None:
                problems.append(f"{k}: prune task did not finish")
                continue
            report["kinds"][k] = out["runs"]
            for run in out["runs"]:
                for group, msg in run["blocked"].items():
                    problems.append(f"breaker {run['plan']}/{run['kind']} {group}: {msg}")
                for pid, err in run["errors"].items():
                    problems.append(f"delete {run['plan']}/{run['kind']} {pid}: {err}")
                for pid in run["refused"]:
                    problems.append(
                        f"refused {run['plan']}/{run['kind']} {pid}: not managed or on legal hold at delete time"
                    )
                archive = run.get("archive") or {}
                for pid, err in archive.get("errors", {}).items():
                    problems.append(f"archive {run['plan']}/{run['kind']} {pid}: {err}")
                data = run.get("data") or {}
                for name, err in data.get("errors", {}).items():
                    problems.append(f"delete {run['plan']}/{data['stream']} {name}: {err}")
                for name in data.get("refused", []):
                    problems.append(
                        f"refused {run['plan']}/{data['stream']} {name}: not copied by this product or "
                        "on legal hold at delete time"
                    )
        catalog = Catalog(
            self.ctx, self.policy.catalog_bucket, self.policy.catalog_region, audit=self.policy.audit
        )
        catalog.put_json(retention_report_key(context["dag_run"].run_id), report)
        if problems:
            raise AirflowFailException(
                f"Retention stopped or failed for {len(problems)} groups (re-run with force=true to override "
                "the breaker after checking):\n- " + "\n- ".join(problems[:100])
            )
        return {"ok": True}
