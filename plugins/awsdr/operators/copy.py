"""Airflow glue for ``dr_copy_<plan>``: pre-flight, copy per kind within quotas, record, report."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from awsdr.copies import copy_tags, in_flight_by_region, is_copy, plan_copies, start_copies
from awsdr.kinds import kind_for
from awsdr.kinds.base import AVAILABLE, CREATING, CaptureError, RecoveryPoint, RetryLater
from awsdr.operators.backup import DrBaseOperator
from awsdr.triggers.progress import PointsProgressTrigger, watch_entry
from awsdr.windows import TAG_COPY_OF, format_window, parse_window

if TYPE_CHECKING:
    from airflow.sdk import Context

    from awsdr.aws.context import AwsContext

VAULT_CONN_ID = "aws_dr_vault"


class CopyPreflightOperator(DrBaseOperator):
    """Check, before any copy starts, that every DR key (and the vault) is usable.

    Fails at once (no retries can fix a missing key) with every problem listed.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.aws.kms import check_key

        problems: list[str] = []
        for region in self.policy.dr_regions:
            problems += check_key(self.ctx, region, self.policy.kms_keys[region])
        vault = self.policy.vault
        if vault is not None:
            try:
                vctx = vault_context()
                account = vctx.account_id(vault.regions[0])
            except Exception as err:  # connection missing, role not assumable...
                problems.append(f"vault: cannot use connection {VAULT_CONN_ID!r}: {err}")
            else:
                if account != vault.account_id:
                    problems.append(
                        f"vault: connection {VAULT_CONN_ID!r} acts in account {account}, policy says {vault.account_id}"
                    )
                for region in vault.regions:
                    problems += [f"vault: {p}" for p in check_key(vctx, region, self.policy.kms_keys[region])]
        if problems:
            raise AirflowFailException("Copy pre-flight failed:\n- " + "\n- ".join(problems))
        self.log.info("Pre-flight passed: DR keys usable in %s", ", ".join(self.policy.dr_regions))
        return {"regions": list(self.policy.dr_regions)}


def vault_context() -> AwsContext:
    from awsdr.aws.context import AwsContext

    return AwsContext.from_connection(VAULT_CONN_ID)


class CopyOperator(DrBaseOperator):
    """Give every recovery point of one kind its copy in each DR region (and the vault).

    Each pass re-reads points and copies (batched listings), starts what the destination's quota
    allows, and defers to the triggerer until the copies it waits for are done; the worker slot
    is free while copies run. Jobs that cannot start before ``wait_timeout`` are left for the
    next run (the sweep schedule), not failed.

    :param plan: the policy plan name.
    :param kind: resource type name.
    One pass of a plan's kind runs at a time across every run of the DAG, backfills included
    (``max_active_tis_per_dag=1``): a backfill has its own ``max_active_runs``, so without this a
    backfilled copy run and a scheduled one could list the same missing copy and both start it
    (EBS ``CopySnapshot`` takes no client token). Each pass lists before it starts anything, so
    passes that take turns never duplicate; a deferred pass holds no slot.

    :param poll_interval: the longest wait between two passes while copies are in flight.
    :param wait_timeout: seconds this task keeps waiting for slots and in-flight copies.
    :param progress_seconds: how often the triggerer checks the copies in flight (one batched
        describe per region); the task resumes as soon as one is done, so a slot AWS frees is
        refilled within this time, whatever ``poll_interval`` is.
    """

    ui_color = "#cfe2f3"

    def __init__(
        self,
        *,
        plan: str,
        kind: str,
        poll_interval: float = 60.0,
        wait_timeout: float = 4 * 3600.0,
        progress_seconds: float = 5.0,
        **kwargs,
    ) -> None:
        kwargs.setdefault("max_active_tis_per_dag", 1)
        super().__init__(**kwargs)
        self.plan = plan
        self.kind = kind
        self.poll_interval = poll_interval
        self.progress_seconds = progress_seconds
        self.wait_timeout = wait_timeout

    @functools.cached_property
    def _k(self):
        return kind_for(self.kind, self.policy, self.plan)

    def execute(self, context: Context) -> dict[str, Any]:
        deadline = datetime.now(tz=UTC) + timedelta(seconds=self.wait_timeout)
        return self._pass([], format_window(deadline), {})

    def resume(
        self,
        context: Context,
        event: Any = None,
        failures: list | None = None,
        deadline: str = "",
        quota_waits: dict[str, int] | None = None,
    ) -> Any:
        carry = event.get("carry") if isinstance(event, dict) else None
        if isinstance(carry, dict) and not deadline:
            # dag.test() hands back only the event, not the deferral's kwargs: the trigger carries them
            failures, deadline, quota_waits = carry["failures"], carry["deadline"], carry["quota_waits"]
        return self._pass(list(failures or []), deadline, dict(quota_waits or {}))

    def _pass(
        self, failures: list[dict[str, str]], deadline: str, quota_waits: dict[str, int]
    ) -> dict[str, Any]:
        kind, ctx, policy = self._k, self.ctx, self.policy
        regions = list(policy.dr_regions)
        sources = [p for p in kind.list_points(ctx, policy.primary_region, self.plan) if not is_copy(p)]
        copies = {r: kind.list_copies(ctx, r) for r in regions}
        plan = plan_copies(
            sources, copies, regions, rule=policy.plans[self.plan].retention.dr, tz=policy.timezone
        )
        tried = {(f["point"], f["region"]) for f in failures}
        jobs = [j for j in plan.jobs if (j.point.point_id, j.dest_region) not in tried]
        start = start_copies(
            ctx,
            kind,
            jobs,
            quota=policy.copy_quotas[self.kind],
            in_flight=in_flight_by_region(copies),
            kms_keys=dict(policy.kms_keys),
            listed=True,
        )
        failures = failures + start.failures
        pending = plan.in_flight + [c for c in start.started if c.status == CREATING]
        done = plan.done + [c for c in start.started if c.status == AVAILABLE]
        vault_pending = 0
        if policy.vault is not None and not pending:
            vault_pending, vault_failures = self._vault_pass(
                vault_wanted(done, policy.plans[self.plan].retention.dr, policy.timezone)
            )
            failures += vault_failures
        self.log.info(
            "%s %s: %d copies complete, %d in flight, %d started now, %d waiting for a slot, %d failed",
            self.plan,
            self.kind,
            len(done),
            len(pending),
            len(start.started),
            len(start.waiting),
            len(failures),
        )
        # AWS quota refusals go back to the queue; the pass waits longer after each refusal
        # (exponential backoff per region, at most 15 minutes), and a copy still refused when the
        # deadline comes is reported as a failure that says so.
        quota_regions = {j.dest_region for j in start.quota_waits}
        for region in quota_regions:
            quota_waits[region] = quota_waits.get(region, 0) + 1
        for region in set(quota_waits) - quota_regions:
            quota_waits.pop(region)
        if start.quota_waits:
            self.log.warning(
                "%s %s: %d copies refused by an AWS quota, queued again (%s)",
                self.plan,
                self.kind,
                len(start.quota_waits),
                ", ".join(f"{r}: attempt {n}" for r, n in sorted(quota_waits.items())),
            )
        delay = self.poll_interval * (2 ** min(max(quota_waits.values(), default=0), 6))
        delay = min(delay, max(self.poll_interval, 900.0))
        # a copy not possible yet says when it will be (DynamoDB: PITR's latest restorable time
        # passing the window): no pass before then, and none much later
        wake = self.poll_interval
        only_later = False
        if start.retry_at is not None and not quota_waits:
            soon = max(1.0, (start.retry_at - datetime.now(tz=UTC)).total_seconds())
            if not pending and not vault_pending and len(start.later) == len(start.waiting):
                # nothing in flight, nothing but these to wait for: one timer to that moment (at
                # most 15 minutes), however long the poll interval is (AWS's PITR trails by minutes)
                delay, only_later = min(soon, 900.0), True
            else:
                wake, delay = min(wake, soon), min(delay, soon)
        if (pending or start.waiting or vault_pending) and datetime.now(tz=UTC) < parse_window(deadline):
            carry = {"failures": failures, "deadline": deadline, "quota_waits": quota_waits}
            watch = self._watch(pending, start.waiting, copies) if not quota_waits and not only_later else {}
            if watch:
                # wait in the triggerer for AWS to finish a copy: a freed slot is refilled within
                # progress_seconds, the poll interval is only the longest sleep without a re-read
                trigger: Any = PointsProgressTrigger(
                    kind=self.kind,
                    plan=self.plan,
                    watch=watch,
                    aws_conn_id=self.aws_conn_id,
                    policy_path=self.policy_path,
                    check_every=min(self.progress_seconds, wake),
                    wake_after=wake,
                    carry=carry,
                )
            else:  # quota backoff, copies not possible before a moment, or the vault pass: a timer
                trigger = TimeDeltaTrigger(timedelta(seconds=delay))
            self.defer(trigger=trigger, method_name="resume", kwargs=carry)
        for job in start.quota_waits:
            failures.append(
                {
                    "kind": self.kind,
                    "source": job.point.source_id,
                    "point": job.point.point_id,
                    "region": job.dest_region,
                    "window": format_window(job.point.window),
                    "error": "still refused by an AWS quota when the copy deadline passed "
                    f"({self.wait_timeout:g} s); the next copy run queues it again",
                }
            )
        return {
            "kind": self.kind,
            "copies": [_copy_record(c) for c in done],
            "in_flight": [_copy_record(c) for c in pending],
            "waiting": [
                {"point": j.point.point_id, "region": j.dest_region, "window": format_window(j.point.window)}
                for j in start.waiting
            ],
            "failures": failures,
            "not_wanted": len(plan.not_wanted),
            "quota_waited": len(start.quota_waits),
        }

    @staticmethod
    def _watch(
        pending: list[RecoveryPoint], waiting: list[Any], copies: dict[str, list[RecoveryPoint]]
    ) -> dict[str, list[dict[str, Any]]]:
        """What the trigger watches: this pass's copies in flight, and in each region where a copy
        waits for a slot, every copy in flight there (any plan's: the quota is per account), so a
        slot freed by any of them wakes the task."""
        watch: dict[str, dict[str, dict[str, Any]]] = {}
        for c in pending:
            watch.setdefault(c.region, {})[c.point_id] = watch_entry(c)
        for region in {j.dest_region for j in waiting}:
            for c in copies.get(region, []):
                if is_copy(c) and c.status == CREATING:
                    watch.setdefault(region, {})[c.point_id] = watch_entry(c)
        return {region: list(items.values()) for region, items in watch.items()}

    def _vault_pass(self, dr_copies: list[RecoveryPoint]) -> tuple[int, list[dict[str, str]]]:
        """Copy each complete DR copy into the vault account, encrypted with the vault region's key.

        How depends on the kind (:meth:`Kind.vault_copy`): snapshots and AMIs are shared and copied
        by the vault role; S3 and DynamoDB copies are object versions the vault role copies from
        the DR bucket (readable through a bucket policy and a KMS grant) into a vault-account bucket.
        One listing of the vault per region finds what is already there.
        """
        vault = self.policy.vault
        assert vault is not None
        kind, ctx = self._k, self.ctx
        vctx = vault_context()
        failures: list[dict[str, str]] = []
        pending = 0
        for region in vault.regions:
            try:
                existing = {c.tags.get(TAG_COPY_OF): c for c in kind.vault_points(vctx, region, self.plan)}
            except Exception as err:  # the vault account unreachable: every copy of the region waits
                failures += [
                    _vault_failure(self.kind, c, region, f"vault listing failed: {err}")
                    for c in dr_copies
                    if c.region == region
                ]
                continue
            for dr_copy in (c for c in dr_copies if c.region == region):
                found = existing.get(dr_copy.point_id)
                if found is not None and found.status == AVAILABLE:
                    continue
                if found is not None and found.status == CREATING:
                    pending += 1
                    continue
                try:
                    made = kind.vault_copy(
                        ctx,
                        dr_copy,
                        vault_ctx=vctx,
                        account_id=vault.account_id,
                        region=region,
                        kms_key_id=self.policy.kms_keys[region],
                        tags=copy_tags(dr_copy),
                    )
                    pending += made.status == CREATING
                except RetryLater as err:
                    self.log.info("Vault copy of %s waits: %s", dr_copy.point_id, err)
                    pending += 1
                except CaptureError as err:
                    failures.append(_vault_failure(self.kind, dr_copy, region, str(err)))
        return pending, failures


def _vault_failure(kind: str, point: RecoveryPoint, region: str, error: str) -> dict[str, str]:
    return {
        "kind": kind,
        "source": point.source_id,
        "point": point.point_id,
        "region": f"vault:{region}",
        "window": format_window(point.window),
        "error": error,
    }


def vault_wanted(dr_copies: list[RecoveryPoint], rule: Any, tz: str) -> list[RecoveryPoint]:
    """The DR copies the vault should receive: those the DR rule keeps among each resource's DR
    copies in its region (the newest always), the same agreement as DR copies with DR retention,
    so vault retention never prunes what the next pass would copy again."""
    from awsdr.planning.retention import dr_wanted

    groups: dict[tuple[str, str, str], list[RecoveryPoint]] = {}
    for c in dr_copies:
        groups.setdefault((c.region, c.plan, c.source_id), []).append(c)
    keep: set[tuple[str, str]] = set()
    for (region, _plan, _source), members in groups.items():
        wanted = dr_wanted([(c.point_id, c.window) for c in members], rule=rule, tz=tz)
        keep |= {(region, pid) for pid in wanted}
    return [c for c in dr_copies if (c.region, c.point_id) in keep]


def _copy_record(c: RecoveryPoint) -> dict[str, Any]:
    return {
        "copy_id": c.point_id,
        "copy_arn": c.arn,
        "copy_of": c.tags.get("awsdr:copy-of"),
        "source": c.source_id,
        "region": c.region,
        "window": format_window(c.window),
        "status": c.status,
        "kms_key_id": c.details.get("kms_key_id"),
        "completed_at": format_window(c.created_at) if c.created_at else None,
    }


def merge_copies_into_manifests(manifests: dict[str, dict], records: list[dict[str, Any]]) -> dict[str, dict]:
    """Add copy records to window manifests, keyed by (copy_of, region); returns the changed ones."""
    changed: dict[str, dict] = {}
    for rec in records:
        doc = manifests.get(rec["window"])
        if doc is None:
            continue
        current = {(c["copy_of"], c["region"]): c for c in doc.get("copies", [])}
        key = (rec["copy_of"], rec["region"])
        if current.get(key) != rec:
            current[key] = rec
            doc["copies"] = sorted(current.values(), key=lambda c: (c["region"], c["copy_of"] or ""))
            changed[rec["window"]] = doc
    return changed


class RecordCopiesOperator(DrBaseOperator):
    """Write each copy's id, region, key and completion time into its window manifest."""

    def __init__(self, *, plan: str, kinds: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.kinds = kinds

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog, manifest_key

        ti = context["ti"]
        records: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for k in self.kinds:
            out = ti.xcom_pull(task_ids=f"copy_{k}")
            if out is None:
                failures.append(
                    {"kind": k, "source": "*", "region": "*", "error": "copy task did not finish"}
                )
                continue
            records += out["copies"]
            failures += out["failures"]
        catalog = Catalog(self.ctx, self.policy.catalog_bucket, self.policy.catalog_region)
        windows = sorted({r["window"] for r in records})
        manifests = {w: catalog.get_json(manifest_key(self.plan, parse_window(w))) for w in windows}
        changed = merge_copies_into_manifests({w: m for w, m in manifests.items() if m is not None}, records)
        for w, doc in changed.items():
            catalog.put_json(manifest_key(self.plan, parse_window(w)), doc)
        self.log.info("Recorded %d copies in %d window manifests", len(records), len(changed))
        return {"copies": len(records), "manifests": len(changed), "failures": failures}


class CheckCopyFailuresOperator(BaseOperator):
    """Fail the run at the end, naming every point whose copy failed (the next run retries them)."""

    def execute(self, context: Context) -> None:
        out = context["ti"].xcom_pull(task_ids="record_copies") or {}
        failures = out.get("failures", [])
        if failures:
            lines = [f"{f['kind']}:{f['source']} -> {f['region']}: {f['error']}" for f in failures[:50]]
            raise AirflowFailException(f"{len(failures)} copies failed:\n- " + "\n- ".join(lines))
        self.log.info("All copies made or in flight: %s", out)
