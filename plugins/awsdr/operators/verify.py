"""Airflow glue for ``dr_restore_verify``: restore newest DR copies, validate, tear down, report."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from awsdr.kinds import kind_for
from awsdr.kinds.base import AVAILABLE, FAILED, MISSING, CaptureError, RecoveryPoint, Restored
from awsdr.operators.backup import DrBaseOperator, parse_only, run_window
from awsdr.planning.retention import is_archived
from awsdr.verify import choose, expected_entry, newest_copies, result, run_key, verify_name, write_results
from awsdr.windows import TAG_PLAN, TAG_VERIFIED_AT, TAG_VERIFY_RUN, format_window, parse_window

if TYPE_CHECKING:
    from airflow.sdk import Context

ALL = "all"
VALIDATION_DIR = Path(__file__).resolve().parents[3] / "include" / "validation"


def resolve_params(
    params: dict[str, Any], plans: list[str], scheduled_plans: list[str] | None
) -> dict[str, Any]:
    """Effective plans, resource filter and sample; fails before any AWS call on bad input."""
    plan = params.get("plan", ALL)
    if plan != ALL and plan not in plans:
        raise AirflowFailException(f"params.plan: unknown plan {plan!r}; expected one of {[ALL, *plans]}")
    sample = params.get("sample")
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 1):
        raise AirflowFailException(f"params.sample must be a whole number >= 1 or empty, got {sample!r}")
    chosen = plans if plan == ALL else [plan]
    if scheduled_plans is not None:
        chosen = [p for p in chosen if p in scheduled_plans]
    return {"plans": chosen, "only": parse_only(params.get("resources")), "sample": sample}


def first_copy_pending(
    points: list[RecoveryPoint], recorded: set[str], *, now: datetime, rpo: timedelta
) -> str | None:
    """Why a resource with no DR copy is not (yet) a verification failure, or None when it is one.

    It is not one while its first copy is still to come: no copy of any of its recovery points was
    ever recorded in a window manifest (a copy that was made and is gone is a failure), and its
    oldest recovery point is younger than the plan's RPO (after that, the DR region has been
    without a copy for longer than the plan allows, which the user must act on).

    :param points: the resource's recovery points in the primary region.
    :param recorded: point ids and ARNs whose copy to the DR region a manifest records.
    """
    if not points or any(p.point_id in recorded or p.arn in recorded for p in points):
        return None
    first = min(p.created_at or p.window for p in points)
    age = now - first
    if age >= rpo:
        return None
    minutes = max(0, int(age.total_seconds() // 60))
    return (
        f"no DR copy yet: its first recovery point ({format_window(first)}, {minutes} min ago) is "
        f"younger than the plan's RPO ({rpo}) and was never copied; the next run verifies it"
    )


def recorded_copies(manifests: list[dict[str, Any] | None], region: str) -> set[str]:
    """Point ids and ARNs whose copy to ``region`` the window manifests record."""
    return {
        c["copy_of"]
        for m in manifests
        if m
        for c in m.get("copies", [])
        if c.get("region") == region and c.get("copy_of")
    }


def sql_validation(
    conn_id: str, endpoint: str | None, window: datetime, sql_dir: Path = VALIDATION_DIR
) -> list[str]:
    """Run every ``*.sql`` in ``sql_dir`` on the source and on the restored database; compare rows.

    The source connection is the Airflow connection ``conn_id``; the restored database is the same
    connection with its host replaced by ``endpoint``. Queries get ``%(window)s`` so they can
    compare only data older than the window, which both databases must hold identically.
    """
    from airflow.sdk import Connection

    from awsdr.verify import sql_checks

    files = sorted(sql_dir.glob("*.sql"))
    if not files:
        return []
    source = Connection.get(conn_id)
    restored_conn = Connection(
        conn_id=f"{conn_id}_restored",
        conn_type=source.conn_type,
        host=endpoint or source.host,
        login=source.login,
        password=source.password,
        schema=source.schema,
        port=source.port,
        extra=source.extra,
    )
    params = {"window": window}
    # hooks look their connection up by id: expose the restored one to this process while it runs
    env_key = f"AIRFLOW_CONN_{restored_conn.conn_id.upper()}"
    previous = os.environ.get(env_key)
    os.environ[env_key] = restored_conn.get_uri()
    try:
        src_hook, dst_hook = source.get_hook(), restored_conn.get_hook()
        src_rows = {f.stem: src_hook.get_records(f.read_text(), parameters=params) for f in files}
        dst_rows = {f.stem: dst_hook.get_records(f.read_text(), parameters=params) for f in files}
    finally:
        if previous is None:
            os.environ.pop(env_key, None)
        else:
            os.environ[env_key] = previous
    return sql_checks(src_rows, dst_rows)


def sql_conn_id(source: str) -> str:
    return "awsdr_sql_" + "".join(c if c.isalnum() else "_" for c in source.lower())


def _has_connection(conn_id: str) -> bool:
    from airflow.sdk import Connection

    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return True
    try:
        Connection.get(conn_id)
    except Exception:
        return False
    return True


class VerifyKindOperator(DrBaseOperator):
    """Restore the newest DR copy of each selected resource of one kind, validate it, record it.

    Restores start together (bounded); waiting is deferred to the triggerer between batched
    status polls. One resource failing (no copy, restore error, a check) fails that resource only.
    Temporary resources carry ``awsdr:verify-run``; the DAG's teardown removes them.

    :param kind: resource type name.
    :param settings: the ``validate_params`` output (plans, only, sample).
    """

    template_fields = ("settings",)

    def __init__(
        self,
        *,
        kind: str,
        settings: Any,
        poll_interval: float = 30.0,
        wait_timeout: float = 3 * 3600.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.settings = settings
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog, manifest_key

        run_id = context["dag_run"].run_id
        window = run_window(context)
        region = self.policy.dr_regions[0]
        catalog = Catalog(self.ctx, self.policy.catalog_bucket, self.policy.catalog_region)
        results: list[dict[str, Any]] = []
        pending: list[str] = []
        jobs: list[dict[str, Any]] = []
        for plan in self.settings["plans"]:
            if self.kind not in self.policy.plans[plan].select.types:
                continue
            kind = kind_for(self.kind, self.policy, plan)
            rto = int(self.policy.plans[plan].rto.total_seconds())
            points: dict[str, list[RecoveryPoint]] = {}
            for p in kind.list_points(self.ctx, self.policy.primary_region, plan):
                points.setdefault(p.source_id, []).append(p)
            sources = set(points)
            copies = newest_copies(kind.list_points(self.ctx, region, plan), datetime.now(tz=UTC))
            sample = self.settings["sample"] or self.policy.plans[plan].verify.sample
            chosen = choose(
                sorted(sources | set(copies)),
                only=set(self.settings["only"]),
                sample=sample,
                seed=format_window(window),
            )
            for source in chosen:
                copy = copies.get(source)
                if copy is None:
                    why = self._first_copy_pending(catalog, plan, points.get(source, []), region)
                    if why:
                        self.log.info("%s %s %s: not verified, %s", plan, self.kind, source, why)
                        pending.append(f"{plan}/{self.kind}/{source}: {why}")
                        continue
                    results.append(
                        result(
                            plan=plan,
                            kind=self.kind,
                            source=source,
                            copy=None,
                            region=region,
                            started=None,
                            finished=datetime.now(tz=UTC),
                            problems=[f"no complete DR copy in {region}"],
                            checks=[],
                            rto_seconds=rto,
                        )
                    )
                    continue
                if is_archived(copy.details, datetime.now(tz=UTC)):
                    # no volume can be made from an archived snapshot: start its restore from the
                    # archive (temporary) and verify it in a later run, once it is usable
                    started_restore = getattr(kind, "restore_from_archive", None)
                    outcome = started_restore(self.ctx, copy) if started_restore else "no restore"
                    why = (
                        f"newest DR copy {copy.point_id} is in the archive tier: restore from the "
                        f"archive {outcome} (AWS takes up to 72 h); verified by a later run"
                    )
                    self.log.info("%s %s %s: not verified, %s", plan, self.kind, source, why)
                    pending.append(f"{plan}/{self.kind}/{source}: {why}")
                    continue
                manifest = catalog.get_json(manifest_key(plan, copy.window))
                jobs.append(
                    {
                        "plan": plan,
                        "copy": copy.to_dict(),
                        "expected": expected_entry(manifest, copy),
                        "rto": rto,
                    }
                )
        started = self._start(jobs, run_id)
        deadline = format_window(datetime.now(tz=UTC) + timedelta(seconds=self.wait_timeout))
        state = {"results": results, "restores": started, "deadline": deadline, "run_id": run_id}
        return self._poll({**state, "pending": pending})

    def _first_copy_pending(
        self, catalog: Any, plan: str, points: list[RecoveryPoint], region: str
    ) -> str | None:
        from awsdr.catalog import manifest_key

        windows = sorted({p.window for p in points})
        manifests = [catalog.get_json(manifest_key(plan, w)) for w in windows]
        return first_copy_pending(
            points,
            recorded_copies(manifests, region),
            now=datetime.now(tz=UTC),
            rpo=self.policy.plans[plan].rpo,
        )

    def _start(self, jobs: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
        def one(job: dict[str, Any]) -> dict[str, Any]:
            copy = RecoveryPoint.from_dict(job["copy"])
            kind = kind_for(self.kind, self.policy, job["plan"])
            name = verify_name(self.kind, run_id, copy.source_id)
            tags = {TAG_VERIFY_RUN: run_key(run_id), TAG_PLAN: job["plan"]}
            started = datetime.now(tz=UTC)
            try:
                restored = kind.restore(self.ctx, copy, name=name, tags=tags)
            except CaptureError as err:
                restored = Restored(
                    self.kind, name, copy.region, copy.point_id, FAILED, started, error=str(err)
                )
            restored.started_at = started
            return {**job, "restored": restored.to_dict()}

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(jobs) or 1))) as pool:
            return list(pool.map(one, jobs))

    def resume(self, context: Context, event: Any = None, state: dict | None = None) -> Any:
        assert state is not None
        return self._poll(state)

    def _poll(self, state: dict[str, Any]) -> dict[str, Any]:
        from awsdr.catalog import Catalog

        results = list(state["results"])
        waiting = []
        region = self.policy.dr_regions[0]
        restores = [r for r in state["restores"] if r["restored"]["status"] not in (FAILED, MISSING)]
        failed_now = [r for r in state["restores"] if r["restored"]["status"] in (FAILED, MISSING)]
        if restores:
            kind = kind_for(self.kind, self.policy)
            fresh = kind.restore_status(
                self.ctx, region, [Restored.from_dict(r["restored"]) for r in restores]
            )
            for job, restored in zip(restores, fresh, strict=True):
                job["restored"] = restored.to_dict()
        for job in restores + failed_now:
            restored = Restored.from_dict(job["restored"])
            if restored.status == AVAILABLE:
                results.append(self._validate(job, restored))
            elif restored.status in (FAILED, MISSING):
                results.append(
                    self._finish(
                        job, restored, [f"restore {restored.status}: {restored.error or ''}".strip()]
                    )
                )
            else:
                waiting.append(job)
        if waiting and datetime.now(tz=UTC) < parse_window(state["deadline"]):
            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds=self.poll_interval)),
                method_name="resume",
                kwargs={"state": {**state, "results": results, "restores": waiting}},
            )
        for job in waiting:
            results.append(
                self._finish(job, Restored.from_dict(job["restored"]), ["restore did not finish in time"])
            )
        catalog = Catalog(self.ctx, self.policy.catalog_bucket, self.policy.catalog_region)
        write_results(catalog, state["run_id"], self.kind, results)
        for r in results:
            self.log.info(
                "%s %s %s: %s in %ss (RTO %ss)%s",
                r["plan"],
                self.kind,
                r["source"],
                "PASS" if r["passed"] else "FAIL",
                r["seconds"],
                r["rto_seconds"],
                f": {r['reason']}" if r["reason"] else "",
            )
        pending = state.get("pending", [])
        if pending and not results:
            raise AirflowSkipException(
                f"Nothing to verify yet: {len(pending)} resources have no DR copy so far (the first "
                "copy of each is still to come, within the plan's RPO) or their newest copy is being "
                "restored from the archive tier:\n- " + "\n- ".join(pending[:100])
            )
        return {"kind": self.kind, "results": results, "pending": pending}

    def _validate(self, job: dict[str, Any], restored: Restored) -> dict[str, Any]:
        copy = RecoveryPoint.from_dict(job["copy"])
        kind = kind_for(self.kind, self.policy, job["plan"])
        checks = [f"{self.kind} restore available"]
        if job["expected"] is None:
            problems = [
                f"no manifest entry for {copy.tags.get('awsdr:copy-of')} in window {format_window(copy.window)}"
            ]
        else:
            problems = kind.validate(self.ctx, restored, job["expected"])
            checks.append(f"{self.kind} checks against the window manifest")
        if not problems and self.kind in ("rds", "aurora") and _has_connection(sql_conn_id(copy.source_id)):
            problems += sql_validation(
                sql_conn_id(copy.source_id), restored.details.get("endpoint"), copy.window
            )
            checks.append("sql validation queries")
        out = self._finish(job, restored, problems, checks)
        if out["passed"]:
            try:
                kind.set_tags(self.ctx, copy, {TAG_VERIFIED_AT: out["verified_at"]})
            except (NotImplementedError, CaptureError) as err:
                self.log.warning("Could not tag %s as verified: %s", copy.point_id, err)
        return out

    def _finish(
        self, job: dict[str, Any], restored: Restored, problems: list[str], checks: list[str] | None = None
    ) -> dict[str, Any]:
        copy = RecoveryPoint.from_dict(job["copy"])
        return result(
            plan=job["plan"],
            kind=self.kind,
            source=copy.source_id,
            copy=copy,
            region=copy.region,
            started=restored.started_at,
            finished=datetime.now(tz=UTC),
            problems=problems,
            checks=checks or [],
            rto_seconds=job["rto"],
            notes=restored.details.get("notes"),
        )


class VerifyTeardownOperator(DrBaseOperator):
    """Remove every temporary verification resource (this run's and leftovers of runs that died)."""

    def __init__(self, *, kinds: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.kinds = kinds

    def execute(self, context: Context) -> dict[str, list[str]]:
        removed: dict[str, list[str]] = {}
        errors = []
        for region in self.policy.dr_regions:
            for k in self.kinds:
                try:
                    removed[f"{k}@{region}"] = kind_for(k, self.policy).cleanup(
                        self.ctx, region, TAG_VERIFY_RUN
                    )
                except Exception as err:  # keep cleaning the other kinds; fail at the end
                    errors.append(f"{k}@{region}: {err}")
        self.log.info("Removed verification resources: %s", removed)
        if errors:
            raise AirflowFailException("Teardown incomplete (will be retried next run): " + "; ".join(errors))
        return removed


class VerifyReportOperator(DrBaseOperator):
    """Fail the run naming every resource whose copy did not verify."""

    def __init__(self, *, kinds: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.kinds = kinds

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        failed, passed, missing, pending, skipped = [], 0, [], [], []
        for k in self.kinds:
            out = ti.xcom_pull(task_ids=f"verify_{k}")
            if out is None:
                missing.append(k)
                continue
            pending += out.get("pending", [])
            for r in out["results"]:
                if r["passed"]:
                    passed += 1
                else:
                    failed.append(f"{r['plan']}/{k}/{r['source']}: {r['reason']}")
        if missing:
            # a verify task skips itself when its first copies are still to come (its log says which)
            states = ti.get_task_states(
                dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=[f"verify_{k}" for k in missing]
            ).get(ti.run_id, {})
            skipped = [k for k in missing if states.get(f"verify_{k}") == "skipped"]
            missing = [k for k in missing if k not in skipped]
        if failed or missing:
            raise AirflowFailException(
                f"{len(failed)} resources failed verification"
                + (f"; tasks did not finish: {missing}" if missing else "")
                + (":\n- " + "\n- ".join(failed[:100]) if failed else "")
            )
        for line in pending:
            self.log.info("Not verified yet: %s", line)
        if not passed and (skipped or pending):
            raise AirflowSkipException(
                "Nothing verified: no DR copy exists yet for the selected resources (kinds "
                f"{sorted(skipped) or '-'} skipped; their logs name each resource). The first copies "
                "are still to come; the next run verifies them."
            )
        return {"passed": passed, "pending": len(pending), "skipped_kinds": skipped}
