"""Airflow plugin entry: registers this project's timetable so the scheduler can deserialize it."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from awsdr.timetables import BoundedCatchupTimetable


class AwsDrPlugin(AirflowPlugin):
    name = "awsdr"
    timetables = [BoundedCatchupTimetable]
