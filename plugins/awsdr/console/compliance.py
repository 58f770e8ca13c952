"""The compliance report: controls modelled on AWS Backup Audit Manager's, per resource, with evidence.

Pure: :func:`evaluate` takes the posture document (every selected resource, its DR copies and
its last verification), the points posture listed, the resolved DR keys, the catalog bucket's
Object Lock status and the vault's points, and returns one row per control and resource:
``{control, title, plan, kind, source, region, result: pass|fail|not-assessed, evidence}``.
The evidence names what an auditor checks: point ids, windows, key ARNs, lock modes.

The controls (their AWS Backup Audit Manager counterparts in brackets):

``resource-in-plan``       every selected resource is in exactly one plan; an orphan (a resource
                           with points that no plan selects any more) fails
                           [BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN]
``backup-frequency``       the newest primary point is no older than the plan's largest gap
                           between windows plus ``late_after``, and no two consecutive points of
                           the last 7 days are further apart than that
                           [BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK, frequency]
``retention-minimum``      the plan's primary and DR rules keep points at least the policy's
                           ``compliance.min_retention`` [same control, retention]
``dr-copy``                a complete (available) copy in each DR region, within the plan's RPO
                           [BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION]
``dr-copy-encrypted``      every available DR copy is encrypted with the policy's DR key of its
                           region (customer-managed) [BACKUP_RECOVERY_POINT_ENCRYPTED, with the key checked]
``restore-verified``       a passed restore verification within ``compliance.verify_within``
                           [RESTORE_TIME_FOR_RESOURCES_MEET_TARGET]
``audit-object-lock``      the catalog bucket holds the audit records under S3 Object Lock, in the
                           policy's mode (one row, the catalog bucket)
                           [BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK]
``vault-copy``             where a vault is configured: the newest DR copy has a copy in the vault
                           account [BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT]

A kind posture could not assess (listing or discovery failed) is ``not-assessed``, never a pass.
"""

from __future__ import annotations

import csv
import html
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from awsdr.policy import schedule_gap
from awsdr.windows import TAG_COPY_OF, format_window, parse_window

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from awsdr.kinds.base import RecoveryPoint
    from awsdr.policy import Gfs, Policy

PASS, FAIL, NOT_ASSESSED = "pass", "fail", "not-assessed"

CONTROLS: dict[str, str] = {
    "resource-in-plan": "Every selected resource is protected by exactly one plan",
    "backup-frequency": "Backups at least as frequent as the plan's schedule",
    "retention-minimum": "Retention at least the policy's minimum",
    "dr-copy": "A complete copy in each DR region, within the plan's RPO",
    "dr-copy-encrypted": "DR copies encrypted with the DR region's customer-managed key",
    "restore-verified": "A restore verified within the policy's period",
    "audit-object-lock": "Audit records under S3 Object Lock",
    "vault-copy": "A copy in the vault account",
}
COLUMNS = ("control", "title", "result", "plan", "kind", "source", "region", "evidence")
#: the period over which gaps between consecutive primary points are checked
FREQUENCY_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class LockStatus:
    """The catalog bucket's Object Lock: enabled, default mode and retention (None: no default)."""

    enabled: bool
    mode: str | None = None
    days: int | None = None
    error: str | None = None


def horizon(gfs: Gfs) -> timedelta:
    """How far back a GFS rule keeps points at least (its longest class)."""
    return max(
        timedelta(hours=gfs.hourly),
        timedelta(days=gfs.daily),
        timedelta(weeks=gfs.weekly),
        timedelta(days=28 * gfs.monthly),
        timedelta(days=365 * gfs.yearly),
    )


def _row(
    control: str, result: str, evidence: str, res: Mapping[str, Any] | None = None, region: str = ""
) -> dict:
    return {
        "control": control,
        "title": CONTROLS[control],
        "result": result,
        "plan": "" if res is None else res["plan"],
        "kind": "" if res is None else res["kind"],
        "source": "" if res is None else res["source"],
        "region": region,
        "evidence": evidence,
    }


def _index(points: Iterable[RecoveryPoint]) -> dict[tuple[str, str, str, str], list[RecoveryPoint]]:
    by: dict[tuple[str, str, str, str], list[RecoveryPoint]] = defaultdict(list)
    for p in points:
        if p.status == "available":
            by[(p.plan, p.kind, p.source_id, p.region)].append(p)
    for items in by.values():
        items.sort(key=lambda p: (p.window, p.point_id))
    return by


def _key_shown(point: RecoveryPoint) -> str:
    if point.details.get("kms_key_id"):
        return str(point.details["kms_key_id"])
    return "none: not encrypted" if point.details.get("encrypted") is False else "not recorded"


def _key_matches(recorded: str | None, wanted: str) -> bool:
    if not recorded:
        return False
    if recorded == wanted:
        return True
    if wanted.startswith("alias/"):  # an alias against its ARN: arn:aws:kms:<region>:<acct>:alias/<name>
        return recorded.endswith(":" + wanted)
    # a key id against an ARN (either side): arn:aws:kms:<region>:<acct>:key/<id>
    return recorded.rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1] and not wanted.startswith("alias/")


def evaluate(
    policy: Policy,
    posture: Mapping[str, Any],
    points: Sequence[RecoveryPoint],
    *,
    now: datetime,
    dr_keys: Mapping[str, str],
    lock: LockStatus,
    vault_points: Sequence[RecoveryPoint] | None = None,
) -> list[dict[str, Any]]:
    """Every control's rows. ``dr_keys``: DR region -> the policy key's ARN (resolved by the caller)."""
    rows: list[dict[str, Any]] = []
    assessed = {
        (plan, kind): doc.get("assessed", True)
        for plan, pdoc in posture.get("plans", {}).items()
        for kind, doc in pdoc.get("kinds", {}).items()
    }
    by = _index(points)
    vault_by = None if vault_points is None else _index(vault_points)
    claims: dict[tuple[str, str], list[str]] = defaultdict(list)
    for res in posture.get("resources", []):
        if res.get("selected") and not res.get("orphan"):
            claims[(res["kind"], res["source"])].append(res["plan"])

    for res in sorted(posture.get("resources", []), key=lambda r: (r["plan"], r["kind"], r["source"])):
        plan = policy.plans.get(res["plan"])
        if plan is None:
            rows.append(_row("resource-in-plan", FAIL, f"plan {res['plan']} is not in the policy", res))
            continue
        if not assessed.get((res["plan"], res["kind"]), True):
            for control in ("resource-in-plan", "backup-frequency", "dr-copy", "dr-copy-encrypted"):
                reason = posture["plans"][res["plan"]]["kinds"][res["kind"]].get("reason")
                rows.append(
                    _row(control, NOT_ASSESSED, f"posture could not assess {res['kind']}: {reason}", res)
                )
            continue
        rows += _in_plan(res, claims)
        if res.get("orphan"):
            continue  # not judged further: no plan protects it any more
        rows.append(_frequency(res, plan, policy, by, now))
        rows.append(_retention(res, plan, policy))
        rows += _dr_copies(res, policy, by)
        rows += _encryption(res, policy, by, dr_keys)
        rows.append(_verified(res, policy, now))
        if policy.vault is not None:
            rows += _vault(res, policy, by, vault_by)
    rows.append(_lock(policy, lock))
    return rows


def _in_plan(res: Mapping[str, Any], claims: Mapping[tuple[str, str], list[str]]) -> list[dict]:
    if res.get("orphan"):
        since = (res["orphan"] or {}).get("since")
        return [
            _row(
                "resource-in-plan",
                FAIL,
                f"has recovery points but plan {res['plan']} no longer selects it"
                + (f" (missing since {since})" if since else ""),
                res,
            )
        ]
    plans = sorted(set(claims.get((res["kind"], res["source"]), [])))
    if len(plans) > 1:
        return [_row("resource-in-plan", FAIL, f"selected by {len(plans)} plans: {', '.join(plans)}", res)]
    if res.get("selected") is None:
        return [_row("resource-in-plan", NOT_ASSESSED, "the plan's discovery did not run", res)]
    return [_row("resource-in-plan", PASS, f"selected by plan {res['plan']} only", res)]


def _frequency(res: Mapping[str, Any], plan: Any, policy: Policy, by: Mapping, now: datetime) -> dict:
    allowed = schedule_gap(plan.schedule, plan.rpo) + policy.late_after
    mine = by.get((res["plan"], res["kind"], res["source"], policy.primary_region), [])
    if not mine:
        return _row(
            "backup-frequency", FAIL, "no available point in the primary region", res, policy.primary_region
        )
    newest = mine[-1]
    age = now - newest.window
    recent = [p for p in mine if p.window >= now - FREQUENCY_LOOKBACK]
    worst: tuple[timedelta, RecoveryPoint, RecoveryPoint] | None = None
    for a, b in zip(recent, recent[1:], strict=False):
        if worst is None or b.window - a.window > worst[0]:
            worst = (b.window - a.window, a, b)
    evidence = f"newest {newest.point_id} window {format_window(newest.window)} ({_dur(age)} old; allowed {_dur(allowed)})"
    if worst is not None:
        evidence += (
            f"; largest gap in 7 days {_dur(worst[0])} between {worst[1].point_id} and {worst[2].point_id}"
        )
    ok = age <= allowed and (worst is None or worst[0] <= allowed)
    return _row("backup-frequency", PASS if ok else FAIL, evidence, res, policy.primary_region)


def _retention(res: Mapping[str, Any], plan: Any, policy: Policy) -> dict:
    minimum = policy.compliance.min_retention
    primary, dr = horizon(plan.retention.primary), horizon(plan.retention.dr)
    ok = primary >= minimum and dr >= minimum
    evidence = (
        f"primary keeps {_counts(plan.retention.primary)} ({_dur(primary)}), DR keeps "
        f"{_counts(plan.retention.dr)} ({_dur(dr)}); minimum {_dur(minimum)}"
    )
    return _row("retention-minimum", PASS if ok else FAIL, evidence, res)


def _dr_copies(res: Mapping[str, Any], policy: Policy, by: Mapping) -> list[dict]:
    out = []
    for region in policy.dr_regions:
        copies = [
            p for p in by.get((res["plan"], res["kind"], res["source"], region), []) if TAG_COPY_OF in p.tags
        ]
        doc = res.get("dr", {}).get(region, {})
        if not copies:
            out.append(_row("dr-copy", FAIL, "no available copy in this DR region", res, region))
            continue
        newest = copies[-1]
        within = doc.get("within_rpo")
        evidence = (
            f"newest copy {newest.point_id} of {newest.tags.get(TAG_COPY_OF)} window "
            f"{format_window(newest.window)}; age {_dur(timedelta(seconds=doc.get('rpo_age_seconds') or 0))}"
        )
        out.append(
            _row(
                "dr-copy",
                PASS if within else FAIL,
                evidence + ("" if within else ": older than the RPO"),
                res,
                region,
            )
        )
    return out


def _encryption(
    res: Mapping[str, Any], policy: Policy, by: Mapping, dr_keys: Mapping[str, str]
) -> list[dict]:
    out = []
    for region in policy.dr_regions:
        copies = [
            p for p in by.get((res["plan"], res["kind"], res["source"], region), []) if TAG_COPY_OF in p.tags
        ]
        if not copies:
            continue  # dr-copy already fails
        wanted = dr_keys.get(region) or policy.kms_keys.get(region, "")
        # the key's ARN (resolved by the caller) or the policy's own reference to it (an alias):
        # a copy made with KmsKeyId=alias/... may record the alias (the emulator does)
        accepted = {wanted, policy.kms_keys.get(region, "")} - {""}
        bad = [
            p
            for p in copies
            if p.details.get("encrypted") is False
            or not any(_key_matches(p.details.get("kms_key_id"), w) for w in accepted)
        ]
        if bad:
            shown = ", ".join(f"{p.point_id} (key {_key_shown(p)})" for p in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            out.append(
                _row(
                    "dr-copy-encrypted",
                    FAIL,
                    f"{len(bad)} of {len(copies)} copies not under {wanted}: {shown}{more}",
                    res,
                    region,
                )
            )
        else:
            out.append(_row("dr-copy-encrypted", PASS, f"{len(copies)} copies under {wanted}", res, region))
    return out


def _verified(res: Mapping[str, Any], policy: Policy, now: datetime) -> dict:
    within = policy.compliance.verify_within
    last = res.get("last_verified")
    if not last or not last.get("at"):
        return _row("restore-verified", FAIL, "never verified", res)
    at = parse_window(last["at"])
    age = now - at
    evidence = (
        f"{'passed' if last.get('passed') else 'failed'} at {last['at']} ({_dur(age)} ago, allowed {_dur(within)}) "
        f"from {last.get('copy_id') or '?'} in {last.get('region') or '?'}"
    )
    ok = bool(last.get("passed")) and age <= within
    return _row("restore-verified", PASS if ok else FAIL, evidence, res, last.get("region") or "")


def _vault(res: Mapping[str, Any], policy: Policy, by: Mapping, vault_by: Mapping | None) -> list[dict]:
    assert policy.vault is not None
    out = []
    for region in policy.vault.regions:
        if vault_by is None:
            out.append(_row("vault-copy", NOT_ASSESSED, "the vault account was not listed", res, region))
            continue
        dr = [
            p for p in by.get((res["plan"], res["kind"], res["source"], region), []) if TAG_COPY_OF in p.tags
        ]
        vault = vault_by.get((res["plan"], res["kind"], res["source"], region), [])
        if not dr:
            out.append(_row("vault-copy", FAIL, "no DR copy to send to the vault", res, region))
            continue
        newest = dr[-1]
        match = [v for v in vault if v.window == newest.window]
        if match:
            out.append(
                _row(
                    "vault-copy",
                    PASS,
                    f"vault copy {match[-1].point_id} of window {format_window(newest.window)}",
                    res,
                    region,
                )
            )
        else:
            out.append(
                _row(
                    "vault-copy",
                    FAIL,
                    f"no vault copy of {newest.point_id} (window {format_window(newest.window)})",
                    res,
                    region,
                )
            )
    return out


def _lock(policy: Policy, lock: LockStatus) -> dict:
    res = {"plan": "", "kind": "s3", "source": policy.catalog_bucket}
    if lock.error:
        return _row(
            "audit-object-lock",
            NOT_ASSESSED,
            f"could not read the Object Lock configuration: {lock.error}",
            res,
            policy.catalog_region,
        )
    if not lock.enabled:
        return _row(
            "audit-object-lock",
            FAIL,
            "Object Lock is not enabled on the catalog bucket",
            res,
            policy.catalog_region,
        )
    evidence = (
        f"Object Lock enabled; records written in {policy.audit.mode} mode for {_dur(policy.audit.retention)}"
        + (f"; bucket default {lock.mode} {lock.days} days" if lock.mode else "")
    )
    return _row("audit-object-lock", PASS, evidence, res, policy.catalog_region)


def _counts(gfs: Gfs) -> str:
    parts = [f"{name} {n}" for name, n in gfs.as_dict().items() if n]
    return ", ".join(parts) or "nothing beyond the newest"


def _dur(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400}d"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds // 60}m"


def summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """``{control: {pass, fail, not-assessed}}``."""
    out: dict[str, dict[str, int]] = {c: {PASS: 0, FAIL: 0, NOT_ASSESSED: 0} for c in CONTROLS}
    for r in rows:
        out[r["control"]][r["result"]] += 1
    return out


def report(rows: Sequence[Mapping[str, Any]], *, window: datetime, generated_at: datetime) -> dict[str, Any]:
    """The JSON document written to ``compliance/``."""
    return {
        "schema": 1,
        "window": format_window(window),
        "generated_at": format_window(generated_at),
        "controls": CONTROLS,
        "summary": summary(rows),
        "compliant": all(r["result"] == PASS for r in rows),
        "rows": list(rows),
    }


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c, "") for c in COLUMNS})
    return buf.getvalue()


def to_html(doc: Mapping[str, Any]) -> str:
    """A self-contained HTML report (no scripts, no external assets)."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS if c != "title")
    body = "".join(
        f'<tr class="{esc(r["result"])}">'
        + "".join(f"<td>{esc(str(r.get(c, '')))}</td>" for c in COLUMNS if c != "title")
        + "</tr>"
        for r in doc["rows"]
    )
    summ = "".join(
        f"<tr><td>{esc(c)}</td><td>{esc(CONTROLS[c])}</td><td>{s[PASS]}</td><td>{s[FAIL]}</td><td>{s[NOT_ASSESSED]}</td></tr>"
        for c, s in doc["summary"].items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>AWS DR compliance report</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;text-align:left}"
        "tr.fail td{background:#fde2e1}tr.not-assessed td{background:#fff4ce}</style></head><body>"
        f"<h1>AWS DR compliance report</h1><p>Window {esc(doc['window'])}, generated {esc(doc['generated_at'])}. "
        f"Overall: <b>{'compliant' if doc['compliant'] else 'NOT compliant'}</b>.</p>"
        "<h2>Controls</h2><table><tr><th>control</th><th>title</th><th>pass</th><th>fail</th><th>not assessed</th></tr>"
        f"{summ}</table><h2>Evidence</h2><table><tr>{head}</tr>{body}</table></body></html>"
    )
