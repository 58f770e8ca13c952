"""The DR console and the UI flows people use, in a real browser (issue 15, item 4).

The stack is what ``make run`` starts (``scripts/airflow_env.sh`` + ``airflow standalone`` with the
LocalExecutor on PostgreSQL, free ports, a temporary home) against a moto server seeded with the
demo estate; only the DAGs the flows below drive are unpaused. Playwright drives
Debian's ``chromium`` (``executable_path``, no browser download; ``.ci/run`` installs it):

1. a request to the console without a login is refused, and the plugin is in the UI's navigation;
2. log in through Airflow's login page, open "Disaster Recovery" from the navigation: the
   overview in the embedded frame shows, per plan, the figures of ``posture/latest.json`` in the
   catalog (resources protected, newest primary window); a screenshot is kept;
3. the ``dr_failover`` trigger form, submitted with its defaults (a dry run): the run succeeds
   and its ``plan`` task log holds the runbook, marked DRY RUN;
4. a backfill of ``dr_backup_silver`` started from the trigger dialog's Backfill tab: the
   backfill exists and its runs succeed;
5. a live ``dr_failover`` (started through the REST API, typed confirmation and reason) waits
   for its approval; the approval is answered (rejected) from Required Actions in the browser;
   the run makes no change and the catalog's audit names the rejection.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from conftest import DR, ROOT, free_port, start_moto
from test_backfill_postgres import _env as _pg_env
from test_postgres_celery import _patient, _psql, require_postgres, stop_moto
from test_standalone_cycle import Api, _runs, _wait, asking_try_exited, standalone

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
#: the DAGs this test drives, and the gold backups and copies the failover's readiness needs
#: (a DR copy of every database it restores); retention, verification, readiness and drills stay paused
UNPAUSED = (
    "dr_backup_gold",
    "dr_copy_gold",
    "dr_backup_silver",
    "dr_copy_silver",
    "dr_posture",
    "dr_failover",
)
SILVER_BACKFILL = ("2026/11/20", "2026/11/22")  # three daily windows of silver, midnight UTC


@pytest.fixture(scope="module")
def stack():
    # make run's shape: LocalExecutor on PostgreSQL (the machine's server, a fresh database,
    # dropped afterwards). On SQLite, the UI's backfill request lost the database lock to the
    # scheduler (HTTP 503, the UI repeats it) after the scheduler had read the first attempt's
    # runs, and the scheduler died of ObjectDeletedError (seen in CI): README, SQLite limits.
    require_postgres()
    db = f"awsdr_ui_{uuid.uuid4().hex[:8]}"
    _psql(f"CREATE DATABASE {db}")
    home = Path(tempfile.mkdtemp(prefix="awsdr-e2e-ui-"))
    moto_port, api_port = free_port(), free_port()
    moto_proc = start_moto(moto_port, home / "moto.log")
    moto_url = f"http://127.0.0.1:{moto_port}"
    db_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
    env = _pg_env(home, moto_url, api_port, db_url, ROOT / "include/dr_policy.yaml")
    try:
        # only the DAGs this test drives run: the full cycle is test_standalone_cycle's and
        # test_postgres_celery's (a whole catch-up here only slows a two-core machine down)
        with standalone(home, moto_url, env, api_port=api_port, unpause=UNPAUSED) as (api, _proc):
            yield {"api": api, "base": f"http://127.0.0.1:{api_port}", "moto": moto_url, "home": home}
    finally:
        try:
            stop_moto(moto_proc)
        finally:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _catalog_json(moto_url: str, key: str) -> dict:
    s3 = boto3.client(
        "s3", region_name=DR, endpoint_url=moto_url, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return json.loads(s3.get_object(Bucket="awsdr-catalog", Key=key)["Body"].read())


def _run_done(api: Api, dag_id: str, run_id: str) -> dict | None:
    run = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}")
    return run if run["state"] in ("success", "failed") else None


def test_the_console_refuses_a_request_without_login_and_is_in_the_navigation(stack):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(stack["base"] + "/awsdr-console/", timeout=30)
    assert err.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(stack["base"] + "/awsdr-console/compliance.csv", timeout=30)
    assert err.value.code == 401
    plugins = {p["name"]: p for p in stack["api"].get("/api/v2/plugins")["plugins"]}
    views = plugins["awsdr"]["external_views"]
    assert [v["name"] for v in views] == ["Disaster Recovery"]
    assert views[0]["url_route"] == "disaster-recovery"
    req = urllib.request.Request(
        stack["base"] + "/awsdr-console/api/summary",
        headers={"Authorization": f"Bearer {stack['api'].token}"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200
        assert "totals" in json.loads(resp.read())


def _login(page, base: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin")
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/auth/login" not in u)


def _pick(page, dialog, nth: int, day: str, time: str) -> None:
    dialog.get_by_test_id("datetime-input").nth(nth).click()
    pop = page.locator("[data-scope=popover][data-part=content][data-state=open]").last
    pop.get_by_placeholder("YYYY/MM/DD").fill(day)
    pop.get_by_placeholder("HH:mm").fill(time)
    page.keyboard.press("Escape")


def test_console_failover_form_backfill_and_approval_in_a_real_browser(stack):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it): apt-get install chromium")
    from playwright.sync_api import sync_playwright

    api, base = stack["api"], stack["base"]
    # data for the console: the scheduler's own catch-up backups, then a posture run; and the
    # gold copies a failover restores from (its readiness fails while a database has no DR copy)
    for dag_id in ("dr_backup_silver", "dr_copy_gold"):
        _wait(
            _patient(lambda d=dag_id: [r for r in _runs(api, d) if r["state"] == "success"]),
            900,
            f"a successful {dag_id} run",
            interval=5,
        )
    posture = _wait(
        _patient(lambda: api.post("/api/v2/dags/dr_posture/dagRuns", {"logical_date": None})),
        300,
        "a posture run",
    )
    done = _wait(
        _patient(lambda: _run_done(api, "dr_posture", posture["dag_run_id"])), 600, "dr_posture", interval=5
    )
    assert done["state"] == "success", done
    doc = _catalog_json(stack["moto"], "posture/latest.json")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.set_default_timeout(180_000)
        _login(page, base)

        # 2. the console from the navigation, its figures from the catalog
        page.get_by_role("link", name="Disaster Recovery").click()
        frame = page.frame_locator("iframe")
        table = frame.locator("table").first
        try:
            table.wait_for()
        except Exception:
            page.screenshot(path=str(stack["home"] / "console-failed.png"))
            raise AssertionError(
                "no table in the console frame: " + frame.locator("body").inner_text(timeout=5_000)[:2000]
            ) from None
        for plan, pdoc in doc["plans"].items():
            row = table.locator("tr", has=page.locator(f"td b:text-is('{plan}')"))
            cells = row.locator("td").all_inner_texts()
            assert cells[1] == str(pdoc["summary"]["selected"]), (plan, cells)
            newest = max(
                (
                    r["newest_primary_window"]
                    for r in doc["resources"]
                    if r["plan"] == plan and r["newest_primary_window"]
                ),
                default="–",
            )
            assert cells[2] == newest, (plan, cells)
        shot = stack["home"] / "console-overview.png"
        page.screenshot(path=str(shot))
        if os.environ.get("AWSDR_SCREENSHOTS"):  # the README's pictures, from this real stack
            out = Path(os.environ["AWSDR_SCREENSHOTS"])
            shutil.copy(shot, out / shot.name)
            resource = frame.locator("a[href^='resource/']").first.get_attribute("href")
            for name, path in (("resource", resource), ("compliance", "compliance"), ("charts", "charts")):
                page.goto(f"{base}/awsdr-console/{path}")  # the app itself, with the UI's login
                page.locator("table, svg").first.wait_for()
                page.screenshot(path=str(out / f"console-{name}.png"))

        # 3. dr_failover's form with its defaults: a dry run
        before = {r["dag_run_id"] for r in _runs(api, "dr_failover")}
        page.goto(base + "/dags/dr_failover")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Safety").click()
        assert dialog.locator("input[name=element_dry_run]").is_checked()
        dialog.get_by_role("button", name="Trigger").last.click()
        new = _wait(
            lambda: [r for r in _runs(api, "dr_failover") if r["dag_run_id"] not in before], 120, "the run"
        )
        run_id = new[0]["dag_run_id"]
        run = _wait(lambda: _run_done(api, "dr_failover", run_id), 600, "the dry run", interval=5)
        assert run["state"] == "success", run
        quoted = urllib.request.quote(run_id, safe="")
        log = api.get(
            f"/api/v2/dags/dr_failover/dagRuns/{quoted}/taskInstances/plan/logs/1?full_content=true"
        )
        text = json.dumps(log)
        assert "DRY RUN" in text
        assert "failover runbook" in text

        # 4. a backfill from the trigger dialog
        page.goto(base + "/dags/dr_backup_silver")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Backfill", exact=True).click()
        _pick(page, dialog, 0, SILVER_BACKFILL[0], "00:00")
        _pick(page, dialog, 1, SILVER_BACKFILL[1], "00:00")
        dialog.get_by_role("button", name="Run Backfill").click()
        backfills = _wait(
            lambda: api.get("/api/v2/backfills?dag_id=dr_backup_silver")["backfills"], 120, "the backfill"
        )
        assert len(backfills) == 1
        filled = _wait(
            lambda: (
                rs
                if len(rs := [r for r in _runs(api, "dr_backup_silver") if r["run_type"] == "backfill"]) == 3
                and all(r["state"] in ("success", "failed") for r in rs)
                else None
            ),
            900,
            "3 backfill runs to finish",
            interval=5,
        )
        assert [r["state"] for r in filled] == ["success"] * 3, filled
        assert sorted(r["logical_date"][:10] for r in filled) == ["2026-11-20", "2026-11-21", "2026-11-22"]

        # 5. a live failover's approval answered from Required Actions
        live = api.post(
            "/api/v2/dags/dr_failover/dagRuns",
            {
                "logical_date": None,
                "conf": {
                    "dry_run": False,
                    "confirm": DR,
                    "reason": "browser test: rejected",
                    "target_region": DR,
                },
            },
        )
        # Required Actions lists the pending approval; its subject opens the task's Required
        # Action tab, where the Approve and Reject buttons are
        page.goto(base + "/required_actions")
        subject = page.get_by_text("Approve the failover to").first
        _wait(
            lambda: (page.reload(), subject.count())[1], 600, "the approval in Required Actions", interval=5
        )
        _wait(
            lambda: asking_try_exited(stack["home"], "dr_failover", live["dag_run_id"]),
            300,
            "the scheduler to read the asking try's exit",
            interval=1,
        )
        subject.click()
        page.wait_for_url(lambda u: "/tasks/approval/required_actions" in u)
        assert urllib.request.quote(live["dag_run_id"], safe="") in page.url or live["dag_run_id"] in page.url
        page.get_by_role("button", name="Reject").click()
        run = _wait(
            lambda: _run_done(api, "dr_failover", live["dag_run_id"]),
            600,
            "the rejected failover",
            interval=5,
        )
        browser.close()
    audit = _catalog_json(stack["moto"], f"failover/{live['dag_run_id']}/audit.json")
    assert audit["approval"]["decision"] == "rejected", audit["approval"]
    assert audit["approval"]["by"] == "admin", audit["approval"]
    assert audit["task_states"]["data_layer"] in ("skipped", "upstream_failed"), audit["task_states"]
