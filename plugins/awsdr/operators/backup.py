"""Airflow glue for ``dr_backup_<plan>``: resolve the window, capture a kind, write the manifest."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from awsdr.backup import CaptureResult, all_settled, capture_kind, refresh_points, settle
from awsdr.kinds import kind_for
from awsdr.kinds.base import RecoveryPoint, Resource
from awsdr.windows import format_window, parse_window

if TYPE_CHECKING:
    from airflow.sdk import Context

    from awsdr.aws.context import AwsContext
    from awsdr.policy import Policy


def run_window(context: Context) -> datetime:
    """The window a run protects: its logical date, or ``run_after`` for a manual run without one.

    Never the clock: a retry or a re-run of the same run gets the same window.
    """
    logical = context.get("logical_date")
    if logical is not None:
        return parse_window(format_window(logical))
    dag_run = context["dag_run"]
    return parse_window(format_window(dag_run.run_after))


def parse_only(value: Any) -> list[str]:
    """The trigger form's resource filter: a list, or a comma/whitespace separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        raise AirflowFailException(
            f"params.resources must be a list of resource ids, got {type(value).__name__}"
        )
    bad = [i for i in items if not i or len(i) > 2048 or any(c.isspace() for c in i)]
    if bad:
        raise AirflowFailException(f"params.resources has invalid entries: {bad[:5]}")
    return [i for i in items if i]


class DrBaseOperator(BaseOperator):
    """Shared wiring: the policy (read in ``execute``, never at parse) and the AWS clients.

    :param aws_conn_id: the AWS connection (credentials, role, endpoint).
    :param policy_path: a policy file; None reads ``AWSDR_POLICY`` or the default.
    """

    def __init__(self, *, aws_conn_id: str = "aws_default", policy_path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.policy_path = policy_path

    @functools.cached_property
    def policy(self) -> Policy:
        from awsdr.policy import load_policy

        return load_policy(self.policy_path)

    @functools.cached_property
    def ctx(self) -> AwsContext:
        from awsdr.aws.context import AwsContext, default_config

        return AwsContext.from_connection(
            self.aws_conn_id, config=default_config(max_pool=self.policy.region_concurrency + 4)
        )


class CaptureOperator(DrBaseOperator):
    """Give every selected resource of one kind its recovery point for the run's window.

    Creates are batched with bounded concurrency; waiting is deferred: between status polls the
    task releases its worker slot to a ``TimeDeltaTrigger`` in the triggerer, and each poll is one
    batched describe. On resume the points are found again by their tags or names, so a retry, a
    re-run or a run killed while deferred makes no second point.

    :param plan: the policy plan name.
    :param kind: the resource type name (``ebs``, ``ec2``, ``rds``, ``aurora``, ``dynamodb``, ``s3``).
    :param window: the run's window (ISO-8601 UTC), usually from the ``resolve_window`` task.
    :param only: optional resource ids or ARNs to restrict the run to.
    :param poll_interval: seconds between status polls.
    :param wait_timeout: seconds to wait for points to complete before failing the resource.
    """

    template_fields = ("window", "only")
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        plan: str,
        kind: str,
        window: Any,
        only: Any = None,
        poll_interval: float = 30.0,
        wait_timeout: float = 6 * 3600.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.kind = kind
        self.window = window
        self.only = only
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def _kind(self):
        return kind_for(self.kind, self.policy, self.plan)

    def execute(self, context: Context) -> dict[str, Any]:
        window = parse_window(str(self.window))
        plan = self.policy.plans[self.plan]
        if self.kind in ("s3", "dynamodb", "ecr", "lambda"):  # points written to the catalog
            from awsdr.catalog import Catalog

            Catalog(self.ctx, self.policy.catalog_bucket, self.policy.catalog_region).ensure()
        result = capture_kind(
            self.ctx,
            self._kind(),
            plan=self.plan,
            region=self.policy.primary_region,
            selector=plan.select.tags,
            window=window,
            captured_at=datetime.now(tz=UTC),
            late_after=self.policy.late_after,
            only=parse_only(self.only),
            concurrency=self.policy.region_concurrency,
        )
        deadline = datetime.now(tz=UTC) + timedelta(seconds=self.wait_timeout)
        return self._poll(result.to_dict(), deadline)

    def _poll(self, state: dict[str, Any], deadline: datetime) -> dict[str, Any]:
        result = _result_from_dict(state)
        result.points = refresh_points(self.ctx, self._kind(), self.policy.primary_region, result.points)
        if all_settled(result.points):
            settle(result)
            self.log.info(
                "%s: %d points available, %d failed", self.kind, len(result.points), len(result.failures)
            )
            return result.to_dict()
        if datetime.now(tz=UTC) >= deadline:
            for p in result.pending:
                p.status = "failed"
                p.error = f"still {p.status} after {self.wait_timeout:.0f}s"
            settle(result)
            return result.to_dict()
        self.log.info(
            "%s: %d points still creating; polling again in %ss",
            self.kind,
            len(result.pending),
            self.poll_interval,
        )
        self.defer(
            trigger=TimeDeltaTrigger(timedelta(seconds=self.poll_interval)),
            method_name="resume",
            kwargs={"state": result.to_dict(), "deadline": format_window(deadline)},
        )
        raise AssertionError("unreachable: defer raises")  # pragma: no cover

    def resume(
        self, context: Context, event: Any = None, state: dict | None = None, deadline: str = ""
    ) -> Any:
        assert state is not None
        return self._poll(state, parse_window(deadline))


def _result_from_dict(data: dict[str, Any]) -> CaptureResult:
    result = CaptureResult(kind=data["kind"], window=parse_window(data["window"]))
    result.resources = [Resource.from_dict(r) for r in data["resources"]]
    result.points = [RecoveryPoint.from_dict(p) for p in data["points"]]
    result.created = list(data["created"])
    result.reused = list(data["reused"])
    result.failures = list(data["failures"])
    result.warnings = list(data["warnings"])
    return result


def build_manifest(
    *, plan: str, window: datetime, run_id: str, run_type: str, note: str, results: dict[str, dict | None]
) -> dict[str, Any]:
    """The window manifest: what was protected, what failed and why (pure; tested directly)."""
    protected: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    for kind, res in sorted(results.items()):
        if res is None:
            failed.append({"kind": kind, "source": "*", "error": "capture task did not finish"})
            continue
        by_id = {r["id"]: r for r in res["resources"]}
        for p in res["points"]:
            source = by_id.get(p["source_id"], {})
            protected.append(
                {
                    "kind": kind,
                    "source": p["source_id"],
                    "source_arn": source.get("arn"),
                    "point_id": p["point_id"],
                    "point_arn": p["arn"],
                    "region": p["region"],
                    "status": p["status"],
                    "captured_at": p["tags"].get("awsdr:captured-at"),
                    "late": p["tags"].get("awsdr:late") == "true",
                    "tags": p["tags"],
                    "source_meta": source.get("meta", {}),
                    "details": p["details"],
                }
            )
        failed.extend({"kind": kind, **f} for f in res["failures"])
        warnings.extend({"kind": kind, **w} for w in res["warnings"])
    return {
        "schema": 1,
        "plan": plan,
        "window": format_window(window),
        "run_id": run_id,
        "run_type": run_type,
        "note": note,
        "protected": protected,
        "failed": failed,
        "warnings": warnings,
        "counts": {"protected": len(protected), "failed": len(failed), "warnings": len(warnings)},
    }


class WriteManifestOperator(DrBaseOperator):
    """Write the window manifest to the catalog bucket (runs even when a capture task failed).

    :param plan: the policy plan name.
    :param window: the run's window.
    :param kinds: the kinds captured (their task ids are ``capture_<kind>``).
    :param note: the trigger form's note.
    """

    template_fields = ("window", "note")

    def __init__(self, *, plan: str, window: Any, kinds: list[str], note: Any = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.window = window
        self.kinds = kinds
        self.note = note

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog, manifest_key

        if self.window in (None, "", "None"):
            raise AirflowFailException("no window: resolve_window failed, nothing was captured")
        window = parse_window(str(self.window))
        ti = context["ti"]
        results = {k: ti.xcom_pull(task_ids=f"capture_{k}") for k in self.kinds}
        dag_run = context["dag_run"]
        manifest = build_manifest(
            plan=self.plan,
            window=window,
            run_id=dag_run.run_id,
            run_type=str(dag_run.run_type),
            note=str(self.note or ""),
            results=results,
        )
        catalog = Catalog(self.ctx, self.policy.catalog_bucket, self.policy.catalog_region)
        catalog.ensure()
        key = manifest_key(self.plan, window)
        previous = catalog.get_json(key)
        if previous and previous.get("copies"):
            manifest["copies"] = previous["copies"]  # recorded by dr_copy; a re-run must not drop them
        catalog.put_json(key, manifest)
        self.log.info("Wrote s3://%s/%s: %s", catalog.bucket, key, manifest["counts"])
        return {"key": key, "counts": manifest["counts"], "failed": manifest["failed"]}


class CheckFailuresOperator(BaseOperator):
    """Fail the run at the end, naming every resource that has no recovery point for the window."""

    def __init__(self, *, manifest_task_id: str = "write_manifest", **kwargs) -> None:
        super().__init__(**kwargs)
        self.manifest_task_id = manifest_task_id

    def execute(self, context: Context) -> None:
        summary = context["ti"].xcom_pull(task_ids=self.manifest_task_id) or {}
        failed = summary.get("failed", [])
        if failed:
            names = ", ".join(f"{f['kind']}:{f['source']} ({f['error']})" for f in failed[:50])
            more = f" and {len(failed) - 50} more" if len(failed) > 50 else ""
            raise AirflowFailException(f"{len(failed)} resources have no recovery point: {names}{more}")
        self.log.info("Every selected resource has its recovery point: %s", summary.get("counts"))
