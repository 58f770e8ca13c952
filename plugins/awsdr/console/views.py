"""The console's pages: server-rendered HTML with inline SVG charts (no scripts, no external assets).

Every function takes a :class:`~awsdr.console.data.Snapshot` and returns a page; nothing here
reads the catalog. Links are relative, so the pages work under any prefix and inside the
Airflow UI's frame.

Colours: an RPO age is green within 75 % of the plan's RPO, amber up to the RPO, red beyond it or
with no copy; a restore time green within the plan's RTO, red beyond it or failed; grey: no data.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from awsdr.console.data import Snapshot

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"
AMBER_SHARE = 0.75

_CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{background:#0b3d5c;color:#fff;padding:10px 18px}header a{color:#fff;margin-right:18px;text-decoration:none}
main{padding:14px 18px}table{border-collapse:collapse;margin:8px 0 18px}
td,th{border:1px solid #d0d7de;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.green{background:#dafbe1}.amber{background:#fff8c5}.red{background:#ffebe9}
.grey{background:#eaeef2}.pill{padding:1px 6px;border-radius:8px}.muted{color:#57606a}
.estimate{border:1px dashed #9a6700;padding:6px 10px;display:inline-block;background:#fff8c5}
.err{color:#cf222e}h2{margin-top:22px}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def page(title: str, body: str, *, errors: Sequence[str] = ()) -> str:
    nav = "".join(
        f'<a href="{href}">{esc(name)}</a>'
        for name, href in (
            ("Overview", "./"),
            ("Failovers and drills", "failovers"),
            ("Charts", "charts"),
            ("Compliance", "compliance"),
            ("Cost", "cost"),
        )
    )
    errs = "".join(f'<p class="err">{esc(e)}</p>' for e in errors)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)} · Disaster Recovery</title>"
        f"<style>{_CSS}</style></head><body><header><b>Disaster Recovery</b> &nbsp; {nav}</header>"
        f"<main><h1>{esc(title)}</h1>{errs}{body}</main></body></html>"
    )


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    if s >= 86400:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s // 60} min"
    return f"{s} s"


def rpo_colour(age: float | None, rpo: float, *, no_copy: bool = False) -> str:
    if no_copy:
        return RED
    if age is None:
        return GREY
    if age > rpo:
        return RED
    return AMBER if age > AMBER_SHARE * rpo else GREEN


def rto_colour(last: dict[str, Any] | None, rto: float) -> str:
    if not last or last.get("at") is None:
        return GREY
    if not last.get("passed"):
        return RED
    seconds = last.get("seconds")
    return RED if seconds is not None and seconds > rto else GREEN


def _cell(text: str, colour: str) -> str:
    return f'<td class="{colour}">{text}</td>'


def _link(res: dict[str, Any]) -> str:
    href = "resource/" + "/".join(quote(res[k], safe="") for k in ("plan", "kind", "source"))
    return f'<a href="{href}">{esc(res["source"])}</a>'


def _newest(values: Iterable[str | None]) -> str | None:
    present = [v for v in values if v]
    return max(present) if present else None


# --- overview -----------------------------------------------------------------------------------


def overview(snap: Snapshot) -> str:
    posture = snap.posture
    if posture is None:
        return page(
            "Overview",
            "<p>Nothing to show yet: the posture document is written by dr_posture.</p>",
            errors=snap.errors,
        )
    dr_regions = posture["dr_regions"]
    by_plan: dict[str, list[dict[str, Any]]] = {}
    for res in posture["resources"]:
        by_plan.setdefault(res["plan"], []).append(res)
    rows = []
    for name, pdoc in sorted(posture["plans"].items()):
        mine = [r for r in by_plan.get(name, []) if not r.get("orphan")]
        rpo, rto = pdoc["rpo_seconds"], pdoc["rto_seconds"]
        newest_primary = _newest(r.get("newest_primary_window") for r in mine)
        cells = [
            f"<td><b>{esc(name)}</b></td>",
            f"<td>{pdoc['summary']['selected']}</td>",
            f"<td>{esc(newest_primary or '–')}</td>",
        ]
        for region in dr_regions:
            docs = [r["dr"].get(region, {}) for r in mine]
            newest = _newest(d.get("newest_copy_window") for d in docs)
            ages = [d.get("rpo_age_seconds") for d in docs if d.get("rpo_age_seconds") is not None]
            worst = max(ages) if ages else None
            no_copy = any(d.get("no_copy") for d in docs)
            colour = rpo_colour(worst, rpo, no_copy=no_copy)
            cells.append(f"<td>{esc(newest or '–')}</td>")
            cells.append(
                _cell(
                    f"{duration(worst)} / {duration(rpo)}" + (" (a resource has no copy)" if no_copy else ""),
                    colour,
                )
            )
        verified = [r["last_verified"] for r in mine if r.get("last_verified")]
        last = max(verified, key=lambda v: v.get("at") or "") if verified else None
        worst_rto = None
        if verified:
            failing = [v for v in verified if rto_colour(v, rto) == RED]
            worst_rto = failing[0] if failing else last
        colour = RED if any(r.get("breach_rto") for r in mine) else rto_colour(worst_rto, rto)
        text = (
            "never"
            if last is None
            else f"{esc(last.get('at'))}: {duration(last.get('seconds'))} / {duration(rto)}"
        )
        cells.append(_cell(text, colour))
        alerts = sum(1 for r in mine if r.get("breach_rpo") or r.get("breach_rto"))
        cells.append(_cell(str(alerts), RED if alerts else GREEN))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    region_heads = "".join(
        f"<th>newest copy {esc(r)}</th><th>DR-side RPO {esc(r)} (worst / plan)</th>" for r in dr_regions
    )
    plans = (
        f"<p class='muted'>Posture of {esc(posture['window'])} (primary {esc(posture['primary_region'])}). "
        "Green: within 75 % of the RPO; amber: within the RPO; red: beyond it or no copy.</p>"
        "<table><tr><th>plan</th><th>resources protected</th><th>newest point (primary)</th>"
        f"{region_heads}<th>last verified restore: time / RTO</th><th>open alerts</th></tr>{''.join(rows)}</table>"
    )
    body = plans + _readiness(snap) + _alerts(posture) + _resources(posture)
    return page("Overview", body, errors=snap.errors)


def _readiness(snap: Snapshot) -> str:
    doc = snap.readiness
    if not doc:
        return "<h2>Failover readiness</h2><p class='muted'>dr_failover_readiness has not run yet.</p>"
    strategy = doc.get("strategy") or (snap.posture or {}).get("failover_strategy") or "the policy's default"
    rows = []
    for key, entry in sorted(doc.get("runbooks", {}).items()):
        state = entry.get("state")
        colour = GREEN if state == "ready" else AMBER if state == "waiting" else RED
        problems = "<br>".join(esc(p) for p in entry.get("problems") or []) or "–"
        warnings = "<br>".join(esc(w) for w in entry.get("warnings") or []) or "–"
        fencing = (
            "<br>".join(
                esc(f if isinstance(f, str) else f.get("status", f)) for f in entry.get("fencing") or []
            )
            or "–"
        )
        direction, _, region = key.partition("@")
        rows.append(
            f"<tr><td>{esc(direction)}</td><td>{esc(region)}</td>{_cell(esc(state), colour)}"
            f"<td>{esc(entry.get('since'))}</td><td>{problems}</td><td>{warnings}</td><td>{fencing}</td></tr>"
        )
    return (
        f"<h2>Failover readiness</h2><p class='muted'>Checked {esc(doc.get('checked_at'))}, strategy {esc(strategy)}.</p>"
        "<table><tr><th>runbook</th><th>target region</th><th>state</th><th>since</th><th>problems</th>"
        f"<th>warnings</th><th>fencing</th></tr>{''.join(rows)}</table>"
    )


def _alerts(posture: dict[str, Any]) -> str:
    open_ = [r for r in posture["resources"] if r.get("breach_rpo") or r.get("breach_rto")]
    if not open_:
        return "<h2>Open alerts</h2><p>None.</p>"
    rows = "".join(
        f"<tr><td>{esc(r['plan'])}</td><td>{esc(r['kind'])}</td><td>{_link(r)}</td>"
        f"<td>{esc(r.get('breach_rpo_reason') or '')}</td><td>{esc(r.get('breach_rto_reason') or '')}</td></tr>"
        for r in sorted(open_, key=lambda r: (r["plan"], r["kind"], r["source"]))
    )
    return f"<h2>Open alerts ({len(open_)})</h2><table><tr><th>plan</th><th>kind</th><th>resource</th><th>RPO</th><th>RTO</th></tr>{rows}</table>"


def _resources(posture: dict[str, Any]) -> str:
    rows = []
    for r in sorted(posture["resources"], key=lambda r: (r["plan"], r["kind"], r["source"])):
        rpo = posture["plans"][r["plan"]]["rpo_seconds"]
        colour = (
            GREY
            if r.get("orphan")
            else rpo_colour(
                r.get("worst_rpo_age_seconds"),
                rpo,
                no_copy=r.get("breach_rpo_reason") in ("no-dr-copy", "never-captured"),
            )
        )
        rows.append(
            f"<tr><td>{esc(r['plan'])}</td><td>{esc(r['kind'])}</td><td>{_link(r)}</td><td>{r['primary_points']}</td>"
            + _cell(
                duration(r.get("worst_rpo_age_seconds")) + (" (orphan)" if r.get("orphan") else ""), colour
            )
            + f"<td>{r.get('missing_copies', 0)}</td></tr>"
        )
    return (
        f"<h2>Resources ({len(rows)})</h2><table><tr><th>plan</th><th>kind</th><th>resource</th>"
        f"<th>primary points</th><th>worst DR-side RPO</th><th>points not yet copied</th></tr>{''.join(rows)}</table>"
    )


# --- resource -----------------------------------------------------------------------------------


def resource(snap: Snapshot, rid: str) -> str | None:
    res = snap.resources.get(rid)
    points = snap.points.get(rid, [])
    if res is None and not points:
        return None
    plan, kind, source = rid.split("/", 2)
    body = []
    if res is not None:
        rpo = (snap.posture or {}).get("plans", {}).get(plan, {}).get("rpo_seconds", 0)
        copies = "".join(
            f"<tr><td>{esc(region)}</td><td>{esc(d.get('newest_copy_window') or '–')}</td><td>{d.get('copies')}</td>"
            + _cell(
                duration(d.get("rpo_age_seconds")),
                rpo_colour(d.get("rpo_age_seconds"), rpo, no_copy=bool(d.get("no_copy"))),
            )
            + f"<td>{d.get('missing_copies')}</td></tr>"
            for region, d in sorted(res.get("dr", {}).items())
        )
        body.append(
            f"<p>Plan <b>{esc(plan)}</b>, {esc(kind)}; newest primary window {esc(res.get('newest_primary_window') or '–')}; "
            f"RPO breach: {esc(res.get('breach_rpo_reason') or 'no')}; RTO breach: {esc(res.get('breach_rto_reason') or 'no')}."
            + (" <b>Orphan</b>: no plan selects it any more." if res.get("orphan") else "")
            + "</p><h2>Copies</h2><table><tr><th>DR region</th><th>newest copy window</th><th>copies</th>"
            f"<th>copy lag (RPO age)</th><th>points not yet copied</th></tr>{copies}</table>"
        )
    body.append("<h2>Points on a timeline</h2>" + timeline(points))
    rows = []
    for p in sorted(points, key=lambda p: (p["window"], p["region"]), reverse=True):
        decided = snap.rules.get((p["region"], p["point_id"]))
        where = "vault " + p["region"] if p.get("vault") else p["region"]
        rule = (
            "–" if decided is None else f"{'keep' if decided['keep'] else 'delete'}: {esc(decided['rule'])}"
        )
        rows.append(
            f"<tr><td>{esc(p['window'])}</td><td>{esc(where)}</td><td>{esc(p['point_id'])}</td><td>{esc(p['status'])}</td>"
            f"<td>{esc(p.get('copy_of') or '')}</td><td>{esc(p.get('size_gib'))}</td><td>{esc(p.get('kms_key_id') or '')}</td><td>{rule}</td></tr>"
        )
    body.append(
        "<h2>Points</h2><p class='muted'>Retention decision and rule from the newest dr_retention report.</p>"
        "<table><tr><th>window</th><th>region</th><th>point</th><th>status</th><th>copy of</th><th>GiB</th>"
        f"<th>KMS key</th><th>retention</th></tr>{''.join(rows)}</table>"
    )
    ver = sorted(snap.verifications.get(rid, []), key=lambda v: v.get("verified_at") or "", reverse=True)
    vrows = "".join(
        f"<tr><td>{esc(v.get('verified_at'))}</td>"
        + _cell("passed" if v.get("passed") else "failed", GREEN if v.get("passed") else RED)
        + f"<td>{duration(v.get('seconds'))}</td><td>{esc(v.get('copy_id'))}</td><td>{esc(v.get('region'))}</td><td>{esc(v.get('reason') or '')}</td></tr>"
        for v in ver
    )
    body.append(
        "<h2>Verification history</h2><table><tr><th>at</th><th>result</th><th>restore time</th><th>copy</th>"
        f"<th>region</th><th>reason</th></tr>{vrows or '<tr><td colspan=6>never verified</td></tr>'}</table>"
    )
    return page(f"{source}", "".join(body), errors=snap.errors)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def timeline(points: Sequence[dict[str, Any]], *, width: int = 900) -> str:
    """One row per region (primary, DR, vault), a mark per point at its window."""
    if not points:
        return "<p class='muted'>No points.</p>"
    lanes = sorted(
        {("vault " if p.get("vault") else "") + p["region"] for p in points},
        key=lambda s: (s.startswith("vault"), s),
    )
    times = [_ts(p["window"]) for p in points]
    lo, hi = min(times), max(times)
    span = max(hi - lo, 1.0)
    left, lane_h = 150, 26
    marks = []
    for p, t in zip(points, times, strict=True):
        lane = lanes.index(("vault " if p.get("vault") else "") + p["region"])
        x = left + (t - lo) / span * (width - left - 10)
        colour = (
            "#1a7f37" if p["status"] == "available" else "#cf222e" if p["status"] == "failed" else "#9a6700"
        )
        marks.append(
            f'<circle cx="{x:.1f}" cy="{lane * lane_h + 13}" r="4" fill="{colour}"><title>{esc(p["point_id"])} {esc(p["window"])} {esc(p["status"])}</title></circle>'
        )
    labels = "".join(
        f'<text x="4" y="{i * lane_h + 17}" font-size="12">{esc(name)}</text>' for i, name in enumerate(lanes)
    )
    height = len(lanes) * lane_h + 18
    axis = (
        f'<text x="{left}" y="{height - 2}" font-size="11">{esc(_fmt(lo))}</text>'
        f'<text x="{width - 160}" y="{height - 2}" font-size="11">{esc(_fmt(hi))}</text>'
    )
    return f'<svg width="{width}" height="{height}" role="img" aria-label="points timeline">{labels}{"".join(marks)}{axis}</svg>'


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")


# --- failovers ----------------------------------------------------------------------------------


def failovers(snap: Snapshot) -> str:
    rows = []
    for run in snap.failovers:
        approval = run.get("approval") or {}
        approver = (
            f"{approval.get('decision', '?')} by {approval['by']}"
            if approval.get("by")
            else approval.get("decision") or "–"
        )
        fencing = run.get("fencing") or []
        fenced = (
            "<br>".join(
                esc(f if isinstance(f, str) else f"{f.get('target', '')}: {f.get('status', '')}")
                for f in fencing
            )
            or "–"
        )
        steps = "".join(
            f"<li>{esc(s.get('id'))} {esc(s.get('action', ''))}: {esc(s.get('status', s.get('state', '')))}"
            f" ({duration(s.get('seconds'))})</li>"
            for s in run.get("steps") or []
        )
        outcome = run.get("outcome")
        rows.append(
            f"<tr><td>{esc(run.get('dag_id'))}</td><td>{esc(run.get('run_id'))}</td><td>{esc(run.get('direction'))}"
            f"{' (drill)' if run.get('drill') else ''}</td><td>{esc(run.get('strategy'))}</td><td>{esc(run.get('target_region'))}</td>"
            + _cell(esc(outcome), GREEN if outcome in ("success", "succeeded") else RED)
            + f"<td>{esc(approver)}</td><td>{fenced}</td><td>{duration(run.get('rto_seconds'))}</td>"
            f"<td><details><summary>{len(run.get('steps') or [])} steps</summary><ul>{steps}</ul></details></td></tr>"
        )
    table = (
        "<table><tr><th>DAG</th><th>run</th><th>direction</th><th>strategy</th><th>target</th><th>outcome</th>"
        f"<th>approver</th><th>fencing</th><th>measured RTO</th><th>steps</th></tr>{''.join(rows)}</table>"
        if rows
        else "<p>No failover, failback or drill has run yet.</p>"
    )
    return page("Failovers and drills", table, errors=snap.errors)


# --- charts -------------------------------------------------------------------------------------

_PALETTE = ("#0969da", "#1a7f37", "#9a6700", "#cf222e", "#8250df", "#bf3989")


#: samples per series up to which each sample is drawn as a dot too (posture runs every 15 minutes)
CHART_MARKERS_UP_TO = 48


def line_chart(
    title: str,
    series: dict[str, list[tuple[float, float]]],
    *,
    unit: str,
    width: int = 860,
    height: int = 220,
) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return f"<h3>{esc(title)}</h3><p class='muted'>No data yet.</p>"
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1e-9)
    xs, ys = max(x1 - x0, 1.0), y1
    left, bottom = 60, 24
    paths, legend = [], []
    for i, (name, data) in enumerate(sorted(series.items())):
        colour = _PALETTE[i % len(_PALETTE)]
        xy = [
            (left + (x - x0) / xs * (width - left - 10), (height - bottom) - y / ys * (height - bottom - 10))
            for x, y in sorted(data)
        ]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        paths.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        if len(xy) <= CHART_MARKERS_UP_TO:  # a line of one sample draws nothing: mark each sample
            paths.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in xy)
        legend.append(f'<tspan fill="{colour}">■ {esc(name)}</tspan> ')
    axis = (
        f'<text x="2" y="14" font-size="11">{y1:.1f} {esc(unit)}</text><text x="2" y="{height - bottom}" font-size="11">0</text>'
        f'<text x="{left}" y="{height - 4}" font-size="11">{esc(_fmt(x0))}</text>'
        f'<text x="{width - 130}" y="{height - 4}" font-size="11">{esc(_fmt(x1))}</text>'
    )
    return (
        f"<h3>{esc(title)}</h3><svg width='{width}' height='{height + 18}' role='img' aria-label='{esc(title)}'>"
        f"{''.join(paths)}{axis}<text x='{left}' y='{height + 14}' font-size='12'>{''.join(legend)}</text></svg>"
    )


def charts(snap: Snapshot) -> str:
    rpo: dict[str, list[tuple[float, float]]] = {}
    pts: dict[str, list[tuple[float, float]]] = {}
    gib: dict[str, list[tuple[float, float]]] = {}
    for s in snap.history:
        t = _ts(s["window"])
        for plan, d in s["plans"].items():
            if d.get("worst_rpo_age_seconds") is not None:
                rpo.setdefault(plan, []).append((t, d["worst_rpo_age_seconds"] / 3600))
            rpo.setdefault(f"{plan} RPO target", []).append((t, d["rpo_seconds"] / 3600))
        for region, d in s["regions"].items():
            pts.setdefault(region, []).append((t, d["points"]))
            gib.setdefault(region, []).append((t, d["gib"]))
    body = (
        line_chart("DR-side RPO per plan (worst resource)", rpo, unit="h")
        + line_chart("Points per region", pts, unit="points")
        + line_chart("Storage per region", gib, unit="GiB")
    )
    return page("Charts", body, errors=snap.errors)


# --- compliance and cost ------------------------------------------------------------------------


def compliance(snap: Snapshot) -> str:
    doc = snap.compliance
    if doc is None:
        return page("Compliance", "<p>No report yet: dr_posture writes it.</p>", errors=snap.errors)
    summ = "".join(
        f"<tr><td>{esc(c)}</td><td>{esc(doc['controls'][c])}</td>"
        + _cell(str(s["pass"]), GREEN if s["pass"] else GREY)
        + _cell(str(s["fail"]), RED if s["fail"] else GREEN)
        + f"<td>{s['not-assessed']}</td></tr>"
        for c, s in doc["summary"].items()
    )
    failing = [r for r in doc["rows"] if r["result"] != "pass"]
    rows = "".join(
        f"<tr class='{'red' if r['result'] == 'fail' else 'amber'}'><td>{esc(r['control'])}</td><td>{esc(r['plan'])}</td>"
        f"<td>{esc(r['kind'])}</td><td>{esc(r['source'])}</td><td>{esc(r['region'])}</td><td>{esc(r['evidence'])}</td></tr>"
        for r in failing
    )
    body = (
        f"<p>Report of {esc(doc['window'])} (generated {esc(doc['generated_at'])}): "
        f"<b>{'compliant' if doc['compliant'] else 'NOT compliant'}</b>. "
        "Download: <a href='compliance.csv'>CSV</a> · <a href='compliance.html'>HTML</a> (every row with its evidence).</p>"
        "<table><tr><th>control</th><th>title</th><th>pass</th><th>fail</th><th>not assessed</th></tr>"
        f"{summ}</table><h2>Failing and not assessed ({len(failing)})</h2>"
        "<table><tr><th>control</th><th>plan</th><th>kind</th><th>resource</th><th>region</th><th>evidence</th></tr>"
        f"{rows}</table>"
    )
    return page("Compliance", body, errors=snap.errors)


def cost(snap: Snapshot) -> str:
    doc = (snap.posture or {}).get("cost")
    if not doc:
        return page("Cost estimate", "<p>No estimate yet: dr_posture writes it.</p>", errors=snap.errors)
    cur = esc(doc["currency"])
    storage = "".join(
        f"<tr><td>{esc(region)}</td><td>{esc(kind)}</td><td>{v['points']}</td><td>{v['gib']}</td><td>{v['usd_month']:.2f}</td></tr>"
        for region, kinds in sorted(doc["storage"]["regions"].items())
        for kind, v in sorted(kinds.items())
    )
    moved = doc["transfer"]
    standby = "".join(
        f"<tr><td>{esc(s)}</td><td>{v['standing_usd_month']:.2f}</td><td>{v['serving_usd_hour']:.4f}</td><td>{esc('; '.join(v['unpriced']) or '–')}</td></tr>"
        for s, v in doc["standby"].items()
    )
    body = (
        f"<p class='estimate'><b>Estimate</b>, {cur}, from the price table of {esc(doc['prices_as_of'])}: "
        f"{esc(doc['prices_source'])}<br>{esc(doc['notes'])}</p>"
        f"<h2>Storage: {doc['storage_usd_month']:.2f} {cur} per month</h2>"
        "<table><tr><th>region</th><th>kind</th><th>points</th><th>GiB</th><th>per month</th></tr>"
        f"{storage}</table><p class='muted'>{doc['storage']['unsized']} points without a recorded size are not counted.</p>"
        f"<h2>Cross-region transfer: {moved['usd_day']:.2f} {cur} per day</h2>"
        f"<p>{sum(v['copies'] for v in moved['per_region'].values())} copies in the last 24 h from {esc(moved['from'])} "
        f"at {moved['usd_per_gib']} {cur}/GiB.</p>"
        "<h2>Standby compute per strategy</h2><table><tr><th>strategy</th><th>standing by, per month</th>"
        f"<th>serving from DR, per hour</th><th>not priced</th></tr>{standby}</table>"
    )
    return page("Cost estimate", body, errors=snap.errors)
