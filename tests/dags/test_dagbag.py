"""DAG integrity over the DagBag: imports, ids, tags, retries, no AWS at parse time."""

from __future__ import annotations

import os

import pytest
from conftest import ROOT

#: tasks that validate input or report a final verdict: a retry cannot change their outcome
FAIL_FAST = {"resolve_window", "check_failures", "validate_params", "check_breaker", "report", "approval"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # any AWS call at parse time would fail loudly
    try:
        return DagBag(dag_folder=str(ROOT / "dags"))
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dag_ids(dagbag):
    from awsdr.policy import load_policy

    policy = load_policy()
    for plan in policy.plans:
        assert f"dr_backup_{plan}" in dagbag.dags


@pytest.mark.parametrize("attr", ["tags", "doc_md"])
def test_every_dag_is_tagged_and_documented(dagbag, attr):
    for dag_id, dag in dagbag.dags.items():
        assert getattr(dag, attr), f"{dag_id} has no {attr}"


def test_retries_at_least_two(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            if t.task_id in FAIL_FAST:
                assert t.retries == 0, f"{dag_id}.{t.task_id} validates input; retrying cannot help"
            else:
                assert t.retries >= 2, f"{dag_id}.{t.task_id} has retries={t.retries}"


def test_backup_dags_catch_up_with_bounded_timetable(dagbag):
    from awsdr.timetables import BoundedCatchupTimetable

    for dag_id, dag in dagbag.dags.items():
        if dag_id.startswith("dr_backup_"):
            assert dag.catchup is True
            assert isinstance(dag.timetable, BoundedCatchupTimetable)
            assert dag.max_active_runs <= 2


def test_copy_passes_of_a_kind_take_turns_across_scheduled_and_backfill_runs(dagbag):
    """A backfill has its own max_active_runs; the copy task's own limit is what stops a
    backfilled copy run and a scheduled one from starting the same copy at once. Checked on the
    serialized DAG, the form the scheduler reads."""
    from airflow.serialization.serialized_objects import DagSerialization

    copy_dags = [d for d in dagbag.dags if d.startswith("dr_copy_")]
    assert copy_dags
    for dag_id in copy_dags:
        dag = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags[dag_id]))
        tasks = [t for t in dag.tasks if t.task_id.startswith("copy_")]
        assert tasks, dag_id
        for t in tasks:
            assert t.max_active_tis_per_dag == 1, f"{dag_id}.{t.task_id}"


def test_every_dag_serializes_to_scheduler_timetables(dagbag):
    """DAG files declare airflow.sdk timetables; the DAG processor serializes them and the
    scheduler gets core timetables with the same cron and time zone back (the custom
    BoundedCatchupTimetable only if the plugin registered it)."""
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import Timetable

    cron_dags = 0
    for dag_id, dag in dagbag.dags.items():
        back = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
        assert isinstance(back, Timetable), f"{dag_id}: {type(back)}"
        assert type(back).__name__ == type(dag.timetable).__name__, dag_id
        declared = getattr(dag.timetable, "timetable", dag.timetable)  # AssetOrTimeSchedule wraps one
        restored = getattr(back, "timetable", back)
        if isinstance(declared, Timetable):  # a core timetable declared as such (BoundedCatchupTimetable)
            assert restored.serialize() == declared.serialize(), dag_id
        elif hasattr(declared, "expression"):  # an airflow.sdk cron timetable
            cron_dags += 1
            assert restored._expression == declared.expression, dag_id
            assert restored._timezone.name == str(declared.timezone), dag_id
    assert cron_dags >= 4  # dr_copy_*, dr_posture, dr_retention, dr_restore_verify at least


def test_only_the_plugin_entry_is_loaded_as_a_plugin():
    """plugins/.airflowignore keeps Airflow from importing awsdr's modules as top-level plugins
    (it would register e.g. awsdr/operators/copy.py as the module ``copy``, shadowing the stdlib)."""
    import copy
    import sys

    from airflow import plugins_manager

    timetables = plugins_manager.get_timetables_plugins()
    assert "awsdr.timetables.BoundedCatchupTimetable" in timetables
    assert sys.modules["copy"] is copy
    assert "awsdr" not in (getattr(sys.modules["copy"], "__file__", "") or "")


def test_core_plugins_manager_loads_the_sdk_based_plugin():
    """awsdr_plugin subclasses airflow.sdk's AirflowPlugin (a different class from core's): core
    must still register all of it, the console app and its navigation link as well as the timetable."""
    from airflow import plugins_manager
    from awsdr_plugin import CONSOLE_PREFIX

    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [(a["name"], a["url_prefix"]) for a in apps] == [("AWS DR console", CONSOLE_PREFIX)]
    views, _ = plugins_manager._get_ui_plugins()
    assert [v["url_route"] for v in views] == ["disaster-recovery"]


def test_every_trigger_form_opens_valid(dagbag):
    """The UI sends an empty text field as null: a field that may be empty must allow null, or the
    Trigger button stays disabled until someone types into it (seen on dr_failover's confirm)."""
    for dag_id, dag in dagbag.dags.items():
        dag.params.validate()  # the defaults themselves are valid
        for name, param in dag.params.items():
            schema = dag.params.get_param(name).schema
            types = schema.get("type")
            types = types if isinstance(types, list) else [types]
            if param in ("", None):
                assert "null" in types, f"{dag_id}.params.{name}: empty by default, so it must allow null"
