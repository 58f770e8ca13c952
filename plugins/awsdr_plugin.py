"""Airflow plugin entry: this project's timetable (so the scheduler can deserialize it) and the
"Disaster Recovery" console (a FastAPI app in the api-server, linked from the UI's navigation)."""

from __future__ import annotations

from airflow.sdk.plugins_manager import AirflowPlugin

from awsdr.console.app import create_app
from awsdr.timetables import BoundedCatchupTimetable

CONSOLE_PREFIX = "/awsdr-console"


class AwsDrPlugin(AirflowPlugin):
    name = "awsdr"
    timetables = [BoundedCatchupTimetable]
    fastapi_apps = [{"app": create_app(), "url_prefix": CONSOLE_PREFIX, "name": "AWS DR console"}]
    external_views = [
        {
            "name": "Disaster Recovery",
            "href": CONSOLE_PREFIX.lstrip("/") + "/",
            "url_route": "disaster-recovery",
            "destination": "nav",
        }
    ]
