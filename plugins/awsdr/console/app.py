"""The "Disaster Recovery" console: a FastAPI app the Airflow plugin mounts in the api-server.

Every route requires a logged-in Airflow user: the same JWT the Airflow UI holds (its ``_token``
cookie, sent by the browser to the embedded page) or an ``Authorization: Bearer`` token, checked
by Airflow's own ``get_user`` dependency. A request without one is refused (401); plugin
endpoints are otherwise unprotected in Airflow 3.

Data: :class:`~awsdr.console.data.ConsoleData` over the catalog bucket, through the
``aws_default`` connection (``AWSDR_CONSOLE_CONN`` names another), refreshed at most every
``AWSDR_CONSOLE_TTL`` seconds (default 60).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from awsdr.catalog import compliance_latest_key
from awsdr.console import views
from awsdr.console.data import CatalogReader, ConsoleData, resource_id

_bearer = HTTPBearer(auto_error=False)


async def require_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """Airflow's own authentication (``get_user``: bearer token, else the UI's ``_token`` cookie).

    Imported per request, not at plugin load: every Airflow process loads plugins, only the
    api-server serves this app.
    """
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, None, credentials)


def _default_reader() -> CatalogReader:
    from awsdr.aws.context import AwsContext
    from awsdr.policy import load_policy

    policy = load_policy()
    ctx = AwsContext.from_connection(os.environ.get("AWSDR_CONSOLE_CONN", "aws_default"))
    return CatalogReader(ctx.client("s3", policy.catalog_region), policy.catalog_bucket)


def create_app(data: ConsoleData | None = None, *, auth: Any = None) -> FastAPI:
    """The console app. ``data`` and ``auth`` (a dependency callable) are for tests."""
    data = data or ConsoleData(_default_reader, ttl=float(os.environ.get("AWSDR_CONSOLE_TTL", "60")))
    user_dep = auth if auth is not None else require_user
    app = FastAPI(
        title="AWS DR console",
        description="Posture, compliance and cost of the DR estate, from the catalog.",
        dependencies=[Depends(user_dep)],
        docs_url=None,
        redoc_url=None,
    )
    app.state.console_data = data

    def html(text: str) -> HTMLResponse:
        return HTMLResponse(text, headers={"Cache-Control": "no-store"})

    @app.get("/", response_class=HTMLResponse)
    def overview() -> HTMLResponse:
        return html(views.overview(data.snapshot()))

    @app.get("/resource/{plan}/{kind}/{source:path}", response_class=HTMLResponse)
    def resource(plan: str, kind: str, source: str) -> HTMLResponse:
        text = views.resource(data.snapshot(), resource_id(plan, kind, source))
        if text is None:
            raise HTTPException(status_code=404, detail=f"no resource {plan}/{kind}/{source} in the catalog")
        return html(text)

    @app.get("/failovers", response_class=HTMLResponse)
    def failovers() -> HTMLResponse:
        return html(views.failovers(data.snapshot()))

    @app.get("/charts", response_class=HTMLResponse)
    def charts() -> HTMLResponse:
        return html(views.charts(data.snapshot()))

    @app.get("/compliance", response_class=HTMLResponse)
    def compliance() -> HTMLResponse:
        return html(views.compliance(data.snapshot()))

    @app.get("/compliance.csv")
    def compliance_csv() -> Response:
        text = data.get_text(compliance_latest_key("csv"))
        if text is None:
            raise HTTPException(status_code=404, detail="no compliance report yet: dr_posture writes it")
        return PlainTextResponse(
            text,
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="awsdr-compliance.csv"'},
        )

    @app.get("/compliance.html", response_class=HTMLResponse)
    def compliance_html() -> HTMLResponse:
        text = data.get_text(compliance_latest_key("html"))
        if text is None:
            raise HTTPException(status_code=404, detail="no compliance report yet: dr_posture writes it")
        return HTMLResponse(
            text, headers={"Content-Disposition": 'attachment; filename="awsdr-compliance.html"'}
        )

    @app.get("/cost", response_class=HTMLResponse)
    def cost() -> HTMLResponse:
        return html(views.cost(data.snapshot()))

    @app.get("/api/summary")
    def summary() -> JSONResponse:
        snap = data.snapshot()
        posture = snap.posture or {}
        return JSONResponse(
            {
                "window": posture.get("window"),
                "totals": posture.get("totals"),
                "plans": {p: d["summary"] for p, d in posture.get("plans", {}).items()},
                "compliant": (snap.compliance or {}).get("compliant"),
                "failovers": len(snap.failovers),
                "errors": snap.errors,
            }
        )

    return app
