"""What the console shows, read from the catalog only, cached.

The documents (all written by the DAGs; the console never calls any other AWS API):

- ``posture/latest.json``              dr_posture: every resource, RPO/RTO, the cost estimate
- ``console/points.json``              dr_posture: every point posture listed, compact
- ``console/history.json``             dr_posture: RPO, points and GiB per run (charts)
- ``compliance/latest.json``           dr_posture: the compliance report (CSV and HTML beside it)
- ``posture/failover-readiness.json``  dr_failover_readiness: every runbook's state
- ``failover/<run id>/audit.json``     dr_failover, dr_failback, dr_failover_drill: each run
- ``retention/reports/<run>.json``     dr_retention: the newest one gives each point's rule
- ``verify/runs/<run>/<kind>.json``    dr_restore_verify: the verification history

:class:`ConsoleData` reads them at most once per ``ttl`` seconds (one listing per prefix and
one GET per changed document; documents already read are kept by ETag), so page views make no
AWS call while the cache is fresh, whatever the estate's size.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from awsdr.catalog import (
    COMPLIANCE_PREFIX,
    CONSOLE_HISTORY_KEY,
    CONSOLE_POINTS_KEY,
    CONSOLE_PREFIX,
    FAILOVER_PREFIX,
    POSTURE_LATEST_KEY,
    POSTURE_PREFIX,
    READINESS_KEY,
    RETENTION_REPORTS_PREFIX,
    VERIFY_RUNS_PREFIX,
    compliance_latest_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from awsdr.kinds.base import RecoveryPoint

POINTS_KEY = CONSOLE_POINTS_KEY
HISTORY_KEY = CONSOLE_HISTORY_KEY
#: the documents the console offers for download, read with each refresh of the view
DOWNLOADS = (compliance_latest_key("csv"), compliance_latest_key("html"))
POSTURE_LATEST = POSTURE_LATEST_KEY
RETENTION_REPORTS = RETENTION_REPORTS_PREFIX
VERIFY_RUNS = VERIFY_RUNS_PREFIX
#: samples kept in ``console/history.json``: 30 days of 15-minute posture runs
HISTORY_MAX = 30 * 96
#: point fields in ``console/points.json`` (one list per point, in this order)
POINT_FIELDS = (
    "plan",
    "kind",
    "source",
    "region",
    "point_id",
    "window",
    "status",
    "created_at",
    "copy_of",
    "size_gib",
    "encrypted",
    "kms_key_id",
    "vault",
)


def resource_id(plan: str, kind: str, source: str) -> str:
    return f"{plan}/{kind}/{source}"


def points_doc(
    points: Iterable[RecoveryPoint], *, window: str, vault_points: Iterable[RecoveryPoint] = ()
) -> dict:
    """``console/points.json`` from posture's listing (and the vault's, marked ``vault``)."""
    from awsdr.windows import TAG_COPY_OF, format_window

    rows = []
    for is_vault, items in ((0, points), (1, vault_points)):
        for p in items:
            rows.append(
                [
                    p.plan,
                    p.kind,
                    p.source_id,
                    p.region,
                    p.point_id,
                    format_window(p.window),
                    p.status,
                    format_window(p.created_at) if p.created_at else None,
                    p.tags.get(TAG_COPY_OF),
                    p.details.get("size_gib"),
                    p.details.get("encrypted"),
                    p.details.get("kms_key_id"),
                    is_vault,
                ]
            )
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[5], r[4]))
    return {"schema": 1, "window": window, "fields": list(POINT_FIELDS), "points": rows}


def history_sample(posture: dict[str, Any], points: dict[str, Any]) -> dict[str, Any]:
    """One chart sample: per plan the worst DR-side RPO and breaches; per region points and GiB."""
    regions: dict[str, dict[str, float]] = defaultdict(lambda: {"points": 0, "gib": 0.0})
    for row in points["points"]:
        p = dict(zip(POINT_FIELDS, row, strict=True))
        if p["status"] != "available" or p["vault"]:
            continue
        regions[p["region"]]["points"] += 1
        if isinstance(p["size_gib"], int | float):
            regions[p["region"]]["gib"] += float(p["size_gib"])
    return {
        "window": posture["window"],
        "plans": {
            name: {
                "worst_rpo_age_seconds": doc["summary"]["worst_rpo_age_seconds"],
                "rpo_seconds": doc["rpo_seconds"],
                "breaches_rpo": doc["summary"]["breaches_rpo"],
            }
            for name, doc in posture["plans"].items()
        },
        "regions": {
            r: {"points": v["points"], "gib": round(v["gib"], 3)} for r, v in sorted(regions.items())
        },
    }


def append_history(history: dict[str, Any] | None, sample: dict[str, Any]) -> dict[str, Any]:
    """The history with ``sample`` in window order (a re-run replaces its window), capped."""
    samples = [s for s in (history or {}).get("samples", []) if s["window"] != sample["window"]]
    samples.append(sample)
    samples.sort(key=lambda s: s["window"])
    return {"schema": 1, "samples": samples[-HISTORY_MAX:]}


@dataclass
class Snapshot:
    """Everything the pages show, parsed once per refresh."""

    loaded_at: float
    posture: dict[str, Any] | None
    resources: dict[str, dict[str, Any]]
    points: dict[str, list[dict[str, Any]]]
    history: list[dict[str, Any]]
    compliance: dict[str, Any] | None
    readiness: dict[str, Any] | None
    failovers: list[dict[str, Any]]
    rules: dict[tuple[str, str], dict[str, Any]]
    verifications: dict[str, list[dict[str, Any]]]
    errors: list[str] = field(default_factory=list)
    #: the compliance CSV and HTML by key, read with the rest (a download makes no catalog call)
    downloads: dict[str, str] = field(default_factory=dict)


class CatalogReader:
    """The catalog bucket, read-only: ``list(prefix) -> [(key, etag, last_modified)]`` and ``get``."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def list(self, prefix: str) -> list[tuple[str, str, float]]:
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out.append((obj["Key"], obj.get("ETag", ""), obj["LastModified"].timestamp()))
        return out

    def get(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None


class ConsoleData:
    """The cached view of the catalog. Thread-safe; one refresh at a time."""

    def __init__(
        self, reader_factory: Callable[[], Any], *, ttl: float = 60.0, empty_ttl: float = 5.0
    ) -> None:
        self._factory = reader_factory
        self._reader: Any = None
        self.ttl = ttl
        #: a view without a posture document is re-read after this many seconds, and in the request
        self.empty_ttl = min(ttl, empty_ttl)
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._refreshing = False
        self._docs: dict[str, tuple[str, Any]] = {}  # key -> (etag, parsed)
        self.reads = 0  # GETs made (tests and the benchmark count them)

    def reader(self) -> Any:
        if self._reader is None:
            self._reader = self._factory()
        return self._reader

    def _doc(self, key: str, etag: str) -> Any:
        cached = self._docs.get(key)
        if cached is not None and cached[0] == etag and etag:
            return cached[1]
        body = self.reader().get(key)
        self.reads += 1
        parsed = None if body is None else json.loads(body)
        self._docs[key] = (etag, parsed)
        return parsed

    def _listed(self, prefix: str) -> list[tuple[str, str, float]]:
        return self.reader().list(prefix)

    def _text(self, key: str, etag: str) -> str | None:
        """A text document through the ETag cache: read again only when it changed."""
        cached = self._docs.get(key)
        if cached is not None and cached[0] == etag and etag:
            return cached[1]
        body = self.reader().get(key)
        self.reads += 1
        text = None if body is None else body.decode()
        self._docs[key] = (etag, text)
        return text

    def get_text(self, key: str) -> str | None:
        """A download (the compliance CSV/HTML) from the current view: the catalog was listed and
        the document read, when its ETag changed, by the view's refresh, never by the request."""
        return self.snapshot().downloads.get(key)

    def snapshot(self, *, force: bool = False) -> Snapshot:
        """The current view. A stale one is served while a background thread refreshes it, so
        only the very first view (or ``force``) waits for the catalog.

        A view that has nothing to show (no posture document: the console was opened before
        dr_posture first ran) is never served stale: after ``empty_ttl`` seconds the request reads
        the catalog itself, so the first posture run shows on the next page view rather than one
        refresh later (a stale empty page does not reload itself)."""
        with self._lock:
            snap = self._snapshot
            empty_and_old = (
                snap is not None
                and snap.posture is None
                and time.monotonic() - snap.loaded_at >= self.empty_ttl
            )
            if snap is None or force or empty_and_old:
                self._snapshot = self._load()
                return self._snapshot
            if time.monotonic() - snap.loaded_at >= self.ttl and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="awsdr-console-refresh", daemon=True).start()
            return snap

    def _refresh(self) -> None:
        try:
            fresh = self._load()
            with self._lock:
                self._snapshot = fresh
        finally:
            self._refreshing = False

    def _one(self, listing: list[tuple[str, str, float]], key: str) -> Any:
        for k, etag, _ in listing:
            if k == key:
                return self._doc(k, etag)
        return None

    def _load(self) -> Snapshot:
        errors: list[str] = []
        try:
            posture_list = self._listed(POSTURE_PREFIX)
            console_list = self._listed(CONSOLE_PREFIX)
            compliance_list = self._listed(COMPLIANCE_PREFIX)
            failover_list = self._listed(FAILOVER_PREFIX)
            retention_list = self._listed(RETENTION_REPORTS)
            verify_list = self._listed(VERIFY_RUNS)
        except Exception as err:  # the catalog unreachable: show it, keep the last good view
            if self._snapshot is not None:
                self._snapshot.errors = [f"catalog unreachable: {err}"]
                self._snapshot.loaded_at = time.monotonic()
                return self._snapshot
            return Snapshot(
                time.monotonic(), None, {}, {}, [], None, None, [], {}, {}, [f"catalog unreachable: {err}"]
            )
        posture = self._one(posture_list, POSTURE_LATEST)
        readiness = self._one(posture_list, READINESS_KEY)
        points_raw = self._one(console_list, POINTS_KEY) or {"points": []}
        history = (self._one(console_list, HISTORY_KEY) or {}).get("samples", [])
        compliance = self._one(compliance_list, compliance_latest_key("json"))
        downloads = {}
        for key, etag, _ in compliance_list:
            if key in DOWNLOADS:
                text = self._text(key, etag)
                if text is not None:
                    downloads[key] = text

        resources = {}
        for res in (posture or {}).get("resources", []):
            resources[resource_id(res["plan"], res["kind"], res["source"])] = res
        points: dict[str, list[dict[str, Any]]] = defaultdict(list)
        fields = points_raw.get("fields", list(POINT_FIELDS))
        for row in points_raw["points"]:
            p = dict(zip(fields, row, strict=False))
            points[resource_id(p["plan"], p["kind"], p["source"])].append(p)

        failovers = []
        for key, etag, _ in failover_list:
            if key.endswith("/audit.json"):
                doc = self._doc(key, etag)
                if isinstance(doc, dict):
                    failovers.append(doc)
        failovers.sort(key=lambda d: d.get("started_at") or "", reverse=True)

        rules: dict[tuple[str, str], dict[str, Any]] = {}
        if retention_list:
            key, etag, _ = max(retention_list, key=lambda x: x[2])
            report = self._doc(key, etag) or {}
            for runs in (report.get("kinds") or {}).values():
                for run in runs:
                    for d in run.get("decisions") or []:
                        rules[(d["region"], d["point_id"])] = {
                            "keep": d["keep"],
                            "rule": d["rule"],
                            "report": key,
                        }

        verifications: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for key, etag, _ in sorted(verify_list, key=lambda x: x[2])[-500:]:
            results = self._doc(key, etag)
            for r in results if isinstance(results, list) else []:
                if isinstance(r, dict) and {"plan", "kind", "source"} <= r.keys():
                    verifications[resource_id(r["plan"], r["kind"], r["source"])].append(r)
        if posture is None:
            errors.append("no posture document yet: dr_posture has not run")
        return Snapshot(
            loaded_at=time.monotonic(),
            posture=posture,
            resources=resources,
            points=dict(points),
            history=history,
            compliance=compliance,
            readiness=readiness,
            failovers=failovers,
            rules=rules,
            verifications=dict(verifications),
            errors=errors,
            downloads=downloads,
        )
