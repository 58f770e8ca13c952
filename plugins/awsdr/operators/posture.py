"""Airflow glue for ``dr_posture``: gather, compute the posture, publish it, alert on transitions."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from awsdr.aws.context import chunks, error_code
from awsdr.catalog import (
    CONSOLE_HISTORY_KEY,
    CONSOLE_POINTS_KEY,
    POSTURE_ALERT_STATE_KEY,
    POSTURE_LATEST_KEY,
    RETENTION_ORPHANS_PREFIX,
    VERIFY_LATEST_PREFIX,
    compliance_key,
    compliance_latest_key,
    manifests_prefix,
    posture_key,
    retention_orphans_key,
)
from awsdr.console import compliance, cost
from awsdr.console.compliance import LockStatus
from awsdr.console.data import append_history, history_sample, points_doc
from awsdr.kinds import kind_for
from awsdr.operators.backup import DrBaseOperator, run_window
from awsdr.posture import (
    BREACH,
    GAP_LOOKBACK,
    OK,
    SCHEMA_VERSION,
    alert_transitions,
    compute_posture,
    format_event,
    targets_from_policy,
)
from awsdr.windows import format_window, parse_window_stamp, window_stamp

if TYPE_CHECKING:
    from airflow.sdk import Context

    from awsdr.catalog import Catalog
    from awsdr.kinds.base import RecoveryPoint

LATEST_KEY = POSTURE_LATEST_KEY
ALERT_STATE_KEY = POSTURE_ALERT_STATE_KEY
VERIFY_PREFIX = VERIFY_LATEST_PREFIX
METRIC_NAMESPACE = "AWSDR"
#: PutMetricData takes at most 1000 values per request.
METRIC_BATCH = 1000
#: CloudWatch refuses data points older than two weeks; older windows are published as "now".
_METRIC_MAX_AGE = timedelta(days=13)


def metric_data(doc: dict[str, Any], timestamp: datetime | None) -> list[dict[str, Any]]:
    """The CloudWatch data points of a posture document: five metrics per plan (dimension Plan)."""
    out: list[dict[str, Any]] = []
    for plan, pdoc in sorted(doc["plans"].items()):
        s = pdoc["summary"]
        values = (
            ("WorstRpoAgeSeconds", s["worst_rpo_age_seconds"] or 0, "Seconds"),
            ("RpoBreaches", s["breaches_rpo"], "Count"),
            ("RtoBreaches", s["breaches_rto"], "Count"),
            ("MissingCopies", s["missing_copies"], "Count"),
            ("Orphans", s["orphans"], "Count"),
        )
        for name, value, unit in values:
            datum: dict[str, Any] = {
                "MetricName": name,
                "Dimensions": [{"Name": "Plan", "Value": plan}],
                "Value": float(value),
                "Unit": unit,
            }
            if timestamp is not None:
                datum["Timestamp"] = timestamp
            out.append(datum)
    return out


@dataclass
class PostureInputs:
    """Everything one posture run reads from AWS and the catalog (:meth:`PostureOperator.gather`).

    :param points: every managed point of the selected kinds, primary and DR regions.
    :param unlisted: ``{kind: reason}`` of kinds whose listing failed or is not implemented.
    :param selected: ``{(plan, kind): resource ids}`` the plan's selector discovered.
    :param undiscovered: ``{(plan, kind): reason}`` whose discovery failed or is not implemented.
    :param verify: the latest verification result of every verified resource.
    :param orphans: retention's orphan state per (plan, kind).
    :param errors: AWS failures met while gathering: the task fails with them once all is published.
    """

    points: list[RecoveryPoint] = field(default_factory=list)
    unlisted: dict[str, str] = field(default_factory=dict)
    selected: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    undiscovered: dict[tuple[str, str], str] = field(default_factory=dict)
    verify: list[dict[str, Any]] = field(default_factory=list)
    orphans: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: the vault account's copies (None: no vault, or it could not be listed)
    vault_points: list[RecoveryPoint] | None = None
    #: ``{plan: windows}`` with a backup run (window manifest) since the gap lookback began, plus
    #: the plan's first run ever (posture's ``missed_windows``); a plan left out is not checked
    backup_windows: dict[str, list[datetime]] = field(default_factory=dict)


class PostureOperator(DrBaseOperator):
    """Compute the DR posture of every plan and publish it (catalog, CloudWatch, SNS on transitions).

    1. **gather** (:meth:`gather`), all at once in small thread pools: what each plan selects (the
       backup's own discovery, one batched call per (kind, selector) in the primary region, shared
       by plans with the same selector), each selected kind's points in the primary and every DR
       region (one listing per kind and region, all plans at once), the verification results under
       ``verify/latest/`` and retention's orphan states;
    2. **compute** (:meth:`compute`, i.e. :func:`awsdr.posture.compute_posture`) and write
       ``posture/<window stamp>.json`` and ``posture/latest.json``;
    3. **metrics**: ``AWSDR`` namespace, dimension ``Plan``, in the primary region;
    4. **alerts**: compare with ``posture/alert-state.json`` and send one SNS message per event
       (entry into or recovery from an RPO or RTO breach) to the policy's ``notifications``
       topic, or log the events when there is none. An event whose publish fails is not
       committed, so the next run sends it again; the task then fails after writing the state.

    A kind whose ``list_points`` (or ``discover``) is not implemented is reported as not assessed;
    one whose listing (or a plan's discovery) fails is reported too and fails the task at the end,
    after the rest is published. No call is made per resource by posture itself.

    Another section of the document (e.g. failover readiness) is one more field of
    :class:`PostureInputs` filled in :meth:`gather`, and one more key set in :meth:`compute`.

    :param workers: concurrent listings, discoveries and catalog reads (per pool).
    """

    ui_color = "#fce5cd"

    def __init__(self, *, workers: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workers = workers

    # --- gather -----------------------------------------------------------------------------

    def _kinds(self) -> list[str]:
        kinds: list[str] = []
        for plan in self.policy.plans.values():
            kinds += [k for k in plan.select.types if k not in kinds]
        return kinds

    def _pool(self, jobs: int) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=max(1, min(self.workers, jobs or 1)))

    def list_points(self) -> tuple[list[RecoveryPoint], dict[str, str], list[str]]:
        """Every managed point of the selected kinds; ``{kind: reason}`` of kinds not listed; errors."""
        policy = self.policy
        regions = [policy.primary_region, *policy.dr_regions]
        jobs = [(kind, region) for kind in self._kinds() for region in regions]

        def one(job: tuple[str, str]) -> tuple[str, str, list[RecoveryPoint] | None, str | None, bool]:
            kind, region = job
            try:
                return kind, region, kind_for(kind, policy).list_points(self.ctx, region), None, False
            except NotImplementedError:
                return kind, region, None, "list_points is not implemented for this kind", False
            except Exception as err:
                self.log.exception("Listing %s points in %s failed", kind, region)
                return kind, region, None, f"{region}: {error_code(err)}: {err}", True

        points: list[RecoveryPoint] = []
        unlisted: dict[str, str] = {}
        errors: list[str] = []
        with self._pool(len(jobs)) as pool:
            for kind, region, listed, reason, failed in pool.map(one, jobs):
                if reason is not None:
                    unlisted.setdefault(kind, reason)
                    if failed:
                        errors.append(f"{kind}: {reason}")
                    continue
                assert listed is not None
                self.log.info("Listed %d %s points in %s", len(listed), kind, region)
                points += listed
        for kind, reason in sorted(unlisted.items()):
            self.log.warning("Posture of %s is not assessed: %s", kind, reason)
        return points, unlisted, errors

    def discover_selected(
        self,
    ) -> tuple[dict[tuple[str, str], list[str]], dict[tuple[str, str], str], list[str]]:
        """What each plan selects now: ``{(plan, kind): ids}``, ``{(plan, kind): reason}`` of the
        (plan, kind)s not discovered, and errors.

        The backup's discovery (:meth:`awsdr.kinds.base.Kind.discover` in the primary region), run
        once per (kind, selector): plans selecting by the same tags share one discovery.
        """
        policy = self.policy
        region = policy.primary_region
        groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
        for name, plan in sorted(policy.plans.items()):
            selector = tuple(sorted(plan.select.tags.items()))
            for kind in plan.select.types:
                groups.setdefault((kind, selector), []).append(name)
        jobs = list(groups)

        def one(
            job: tuple[str, tuple[tuple[str, str], ...]],
        ) -> tuple[list[str] | None, str | None, bool]:
            kind, selector = job
            try:
                found = kind_for(kind, policy).discover(self.ctx, region, dict(selector))
                return [r.id for r in found], None, False
            except NotImplementedError:
                return None, "discover is not implemented for this kind", False
            except Exception as err:
                self.log.exception(
                    "Discovering %s resources tagged %s in %s failed", kind, dict(selector), region
                )
                return None, f"discovery in {region}: {error_code(err)}: {err}", True

        selected: dict[tuple[str, str], list[str]] = {}
        undiscovered: dict[tuple[str, str], str] = {}
        errors: list[str] = []
        with self._pool(len(jobs)) as pool:
            for (kind, selector), (ids, reason, failed) in zip(jobs, pool.map(one, jobs), strict=True):
                plans = groups[(kind, selector)]
                if reason is not None:
                    for name in plans:
                        undiscovered[(name, kind)] = reason
                        self.log.warning("Posture of %s/%s is not assessed: %s", name, kind, reason)
                    if failed:
                        errors.append(f"{kind} of plan(s) {', '.join(plans)}: {reason}")
                    continue
                assert ids is not None
                self.log.info(
                    "Discovered %d %s resources tagged %s (plan(s) %s)",
                    len(ids),
                    kind,
                    dict(selector),
                    ", ".join(plans),
                )
                for name in plans:
                    selected[(name, kind)] = ids
        return selected, undiscovered, errors

    def gather(self, catalog: Catalog) -> PostureInputs:
        """Discovery, listings and catalog reads, concurrently; failures are collected, not raised."""
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="posture-gather") as pool:
            discovered = pool.submit(self.discover_selected)
            listed = pool.submit(self.list_points)
            verify = pool.submit(self.verify_results, catalog)
            orphans = pool.submit(self.orphans, catalog)
            vault = pool.submit(self.list_vault_points)
            windows = pool.submit(self.backup_windows, catalog)
            points, unlisted, list_errors = listed.result()
            selected, undiscovered, discover_errors = discovered.result()
            vault_points, vault_errors = vault.result()
            return PostureInputs(
                points=points,
                unlisted=unlisted,
                selected=selected,
                undiscovered=undiscovered,
                verify=verify.result(),
                orphans=orphans.result(),
                errors=list_errors + discover_errors + vault_errors + windows.result()[1],
                vault_points=vault_points,
                backup_windows=windows.result()[0],
            )

    def list_vault_points(self) -> tuple[list[RecoveryPoint] | None, list[str]]:
        """The vault account's copies of every selected kind (the compliance report's vault control)."""
        vault = self.policy.vault
        if vault is None:
            return None, []
        from awsdr.operators.copy import vault_context

        try:
            vault_ctx = vault_context()
            out: list[RecoveryPoint] = []
            for kind in self._kinds():
                for region in vault.regions:
                    out += kind_for(kind, self.policy).vault_points(vault_ctx, region)
        except Exception as err:
            self.log.exception("Listing the vault account's copies failed")
            return None, [f"vault: {error_code(err)}: {err}"]
        return out, []

    def _read_many(self, catalog: Catalog, keys: list[str]) -> dict[str, Any]:
        def one(key: str) -> tuple[str, Any]:
            try:
                return key, catalog.get_json(key)
            except json.JSONDecodeError as err:
                self.log.warning("Skipping unreadable catalog document %s: %s", key, err)
                return key, None

        if not keys:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(keys)))) as pool:
            return {k: v for k, v in pool.map(one, keys) if v is not None}

    def verify_results(self, catalog: Catalog) -> list[dict[str, Any]]:
        """The latest verification result of every verified resource (``verify/latest/...``)."""
        keys = [k for k in catalog.list_keys(VERIFY_PREFIX) if k.endswith(".json")]
        docs = self._read_many(catalog, keys)
        return [d for d in docs.values() if isinstance(d, dict)]

    def backup_windows(self, catalog: Catalog) -> tuple[dict[str, list[datetime]], list[str]]:
        """Per plan, the windows that have a backup run: the window manifests written since the gap
        lookback began (``manifests/<plan>/<stamp>.json`` sort by time: one listing from there),
        and the plan's oldest manifest (the first key: one call), so that a plan is not judged
        for windows before its first run. A plan whose listing fails is left out."""
        now = datetime.now(tz=UTC)
        since = window_stamp(now - GAP_LOOKBACK)
        out: dict[str, list[datetime]] = {}
        errors: list[str] = []

        def stamps(keys: list[str], prefix: str) -> list[datetime]:
            found = []
            for key in keys:
                stem = key[len(prefix) :].removesuffix(".json")
                try:
                    found.append(parse_window_stamp(stem))
                except ValueError:
                    continue
            return found

        for name in self.policy.plans:
            prefix = manifests_prefix(name)
            try:
                first = catalog.s3.list_objects_v2(Bucket=catalog.bucket, Prefix=prefix, MaxKeys=1)
                keys = [o["Key"] for o in first.get("Contents", [])]
                pages = catalog.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=catalog.bucket, Prefix=prefix, StartAfter=prefix + since
                )
                for page in pages:
                    keys.extend(o["Key"] for o in page.get("Contents", []))
            except Exception as err:  # a catalog blip: that plan's gaps are not assessed this run
                errors.append(f"listing {prefix} in the catalog failed: {err}")
                continue
            out[name] = stamps(keys, prefix)
        return out, errors

    def orphans(self, catalog: Catalog) -> dict[tuple[str, str], dict[str, str]]:
        """Retention's orphan state per (plan, kind): ``{source: first-seen-missing}``."""
        wanted = {
            retention_orphans_key(name, kind): (name, kind)
            for name, plan in self.policy.plans.items()
            for kind in plan.select.types
        }
        present = [k for k in catalog.list_keys(RETENTION_ORPHANS_PREFIX) if k in wanted]
        docs = self._read_many(catalog, present)
        return {
            wanted[k]: {str(s): str(t) for s, t in v.items()} for k, v in docs.items() if isinstance(v, dict)
        }

    # --- publish ----------------------------------------------------------------------------

    def put_metrics(self, doc: dict[str, Any], window: datetime) -> int:
        """Publish the plan metrics in the primary region; returns the number of values sent."""
        age = datetime.now(tz=UTC) - window
        timestamp = window if timedelta(hours=-1) < age < _METRIC_MAX_AGE else None
        data = metric_data(doc, timestamp)
        cloudwatch = self.ctx.client("cloudwatch", self.policy.primary_region)
        for batch in chunks(data, METRIC_BATCH):
            cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=batch)
        return len(data)

    def send_events(
        self,
        events: list[dict[str, Any]],
        doc: dict[str, Any],
        previous: dict[str, str],
        state: dict[str, str],
    ) -> list[str]:
        """One SNS message per event (or a log line without a topic); failed ones are uncommitted."""
        from awsdr.notifiers.sns import AwsDrSnsNotifier

        topic = self.policy.sns_topic_arn
        failures: list[str] = []
        for event in events:
            subject, message = format_event(event, doc["plans"].get(event["plan"]))
            if topic is None:
                level = self.log.warning if event["event"] == BREACH else self.log.info
                level("%s (no notifications.sns_topic_arn in the policy, not sent)\n%s", subject, message)
                continue
            notifier = AwsDrSnsNotifier(
                target_arn=topic,
                subject=subject,
                message=message,
                message_attributes={
                    "event": event["event"],
                    "type": event["type"],
                    "plan": event["plan"],
                    "kind": event["kind"],
                },
                aws_conn_id=self.aws_conn_id,
                ctx=self.ctx,
            )
            try:
                notifier.publish()
            except Exception as err:
                self.log.exception("Could not send %s for %s", event["event"], event["key"])
                state[event["key"]] = previous.get(event["key"], OK)
                failures.append(f"{event['key']} {event['event']}: {error_code(err)}")
        return failures

    # --- the console's documents: points, history, compliance ---------------------------------

    def dr_key_arns(self) -> dict[str, str]:
        """The policy's DR keys as ARNs (the compliance report compares copies' keys with them)."""
        from awsdr.aws.kms import key_arn

        out: dict[str, str] = {}
        for region, key in self.policy.kms_keys.items():
            try:
                out[region] = key_arn(self.ctx, region, key)
            except Exception as err:
                self.log.warning("Could not resolve the DR key %s in %s: %s", key, region, error_code(err))
        return out

    def lock_status(self, catalog: Catalog) -> LockStatus:
        try:
            conf = catalog.s3.get_object_lock_configuration(Bucket=catalog.bucket)["ObjectLockConfiguration"]
        except Exception as err:
            code = error_code(err)
            if code in ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"):
                return LockStatus(enabled=False)
            return LockStatus(enabled=False, error=f"{code}: {err}")
        rule = (conf.get("Rule") or {}).get("DefaultRetention") or {}
        days = rule.get("Days") or (rule["Years"] * 365 if rule.get("Years") else None)
        return LockStatus(
            enabled=conf.get("ObjectLockEnabled") == "Enabled", mode=rule.get("Mode"), days=days
        )

    def publish_console(
        self, catalog: Catalog, inputs: PostureInputs, doc: dict[str, Any], window: datetime
    ) -> dict:
        """``console/points.json``, ``console/history.json`` and the compliance report (JSON, CSV, HTML)."""
        points = points_doc(inputs.points, window=doc["window"], vault_points=inputs.vault_points or [])
        catalog.put_json(CONSOLE_POINTS_KEY, points)
        history = append_history(catalog.get_json(CONSOLE_HISTORY_KEY), history_sample(doc, points))
        catalog.put_json(CONSOLE_HISTORY_KEY, history)
        rows = compliance.evaluate(
            self.policy,
            doc,
            inputs.points,
            now=window,
            dr_keys=self.dr_key_arns(),
            lock=self.lock_status(catalog),
            vault_points=inputs.vault_points,
        )
        report = compliance.report(rows, window=window, generated_at=datetime.now(tz=UTC))
        for key in (compliance_key(window, "json"), compliance_latest_key("json")):
            catalog.put_json(key, report)
        for suffix, body, ctype in (
            ("csv", compliance.to_csv(rows), "text/csv"),
            ("html", compliance.to_html(report), "text/html"),
        ):
            for key in (compliance_key(window, suffix), compliance_latest_key(suffix)):
                catalog.s3.put_object(Bucket=catalog.bucket, Key=key, Body=body.encode(), ContentType=ctype)
        self.log.info(
            "Compliance report %s: %s",
            "compliant" if report["compliant"] else "NOT compliant",
            report["summary"],
        )
        return {"compliant": report["compliant"], "summary": report["summary"]}

    # --- compute ----------------------------------------------------------------------------

    def compute(self, inputs: PostureInputs, window: datetime) -> dict[str, Any]:
        """The posture document of ``window`` (without the run's bookkeeping fields)."""
        policy = self.policy
        return compute_posture(
            now=window,
            primary_region=policy.primary_region,
            dr_regions=policy.dr_regions,
            plans=targets_from_policy(policy),
            points=inputs.points,
            verify_results=inputs.verify,
            orphans=inputs.orphans,
            unlisted=inputs.unlisted,
            selected=inputs.selected,
            undiscovered=inputs.undiscovered,
            backup_windows=inputs.backup_windows,
        )

    # --- execute ----------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        from awsdr.catalog import Catalog

        policy = self.policy
        window = run_window(context)
        catalog = Catalog(self.ctx, policy.catalog_bucket, policy.catalog_region)
        catalog.ensure()

        inputs = self.gather(catalog)
        doc = self.compute(inputs, window)

        stored = catalog.get_json(ALERT_STATE_KEY) or {}
        previous: dict[str, str] = dict(stored.get("states", {}) if "schema" in stored else stored)
        state, events = alert_transitions(previous, doc)

        doc["run_id"] = context["dag_run"].run_id
        doc["written_at"] = format_window(datetime.now(tz=UTC))
        doc["cost"] = cost.estimate(policy, inputs.points, now=window)
        doc["events"] = [
            {k: e[k] for k in ("key", "event", "type", "plan", "kind", "source")} for e in events
        ]
        key = posture_key(window)
        catalog.put_json(key, doc)
        catalog.put_json(LATEST_KEY, doc)
        self.log.info("Wrote s3://%s/%s (and %s): totals %s", catalog.bucket, key, LATEST_KEY, doc["totals"])

        compliant = self.publish_console(catalog, inputs, doc, window)

        sent_values = self.put_metrics(doc, window)
        self.log.info(
            "Published %d CloudWatch values in %s/%s", sent_values, policy.primary_region, METRIC_NAMESPACE
        )

        failures = self.send_events(events, doc, previous, state)
        catalog.put_json(
            ALERT_STATE_KEY, {"schema": SCHEMA_VERSION, "window": format_window(window), "states": state}
        )
        self.log.info(
            "%d alert events (%d breaches, %d recoveries)%s",
            len(events),
            sum(1 for e in events if e["event"] == BREACH),
            sum(1 for e in events if e["event"] != BREACH),
            "" if policy.sns_topic_arn else "; no SNS topic configured, logged only",
        )

        problems = inputs.errors + [f"alert not sent: {f}" for f in failures]
        if problems:
            raise AirflowException("dr_posture finished with problems:\n- " + "\n- ".join(problems))
        return {
            "key": key,
            "window": doc["window"],
            "totals": doc["totals"],
            "plans": {p: d["summary"] for p, d in doc["plans"].items()},
            "not_assessed": inputs.unlisted,
            "not_discovered": {f"{p}/{k}": r for (p, k), r in sorted(inputs.undiscovered.items())},
            "events": doc["events"],
            "sent": 0 if policy.sns_topic_arn is None else len(events) - len(failures),
            "compliance": compliant,
            "cost": {
                "storage_usd_month": doc["cost"]["storage_usd_month"],
                "transfer_usd_day": doc["cost"]["transfer"]["usd_day"],
            },
        }
