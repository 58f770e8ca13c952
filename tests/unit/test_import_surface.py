"""DAG files and the awsdr plugin package import Airflow only through its public surface.

Allowed everywhere: ``airflow.sdk`` (the Task SDK, what DAG authors write against) and
``airflow.providers.*``. Anything else from ``airflow`` must be listed in ``ALLOWLIST`` with the
reason: these are the few places where a class runs inside a core process (scheduler, triggerer,
api-server), not in a task, and the Task SDK has no equivalent. ``airflow._shared`` (Airflow's
private vendored helpers) is never allowed.

The scan is static (AST), so it also sees imports inside functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("dags", "plugins")

PUBLIC_PREFIXES = ("airflow.sdk", "airflow.providers")

# module path (relative to the repo root) -> the non-SDK airflow modules it may import.
ALLOWLIST: dict[str, set[str]] = {
    # A custom timetable runs in the scheduler, which deserializes it through the plugin's
    # ``timetables`` list; the serializer accepts only subclasses of the core Timetable
    # (``airflow.timetables.*`` is listed in "Public Interface for Airflow 3.0+"). The SDK's
    # timetables are declarations only (no next_dagrun_info), so there is nothing to subclass.
    "plugins/awsdr/timetables.py": {"airflow.timetables.base", "airflow.timetables.trigger"},
    # Triggers run in the triggerer; the Task SDK has no BaseTrigger/TriggerEvent (the SDK's own
    # BaseOperator.defer imports them from airflow.triggers.base too).
    "plugins/awsdr/operators/failover_trigger.py": {"airflow.triggers.base"},
    "plugins/awsdr/triggers/progress.py": {"airflow.triggers.base"},
    # The console is a FastAPI app served by the api-server; it reuses the api-server's own
    # authentication dependency, which only exists there.
    "plugins/awsdr/console/app.py": {"airflow.api_fastapi.core_api.security"},
}


def _python_files() -> list[Path]:
    return sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def _airflow_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of an ``airflow`` module in ``path``, at any depth."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "airflow")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "airflow":
                continue
            if node.module == "airflow":
                # ``from airflow import sdk`` / ``from airflow import settings``: the names are modules.
                found.extend((node.lineno, f"airflow.{a.name}") for a in node.names)
            else:
                found.append((node.lineno, node.module))
    return sorted(found)


def _is_public(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in PUBLIC_PREFIXES)


def non_public_imports(files: list[Path]) -> list[str]:
    bad = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        allowed = ALLOWLIST.get(rel, set())
        for line, module in _airflow_imports(path):
            if not _is_public(module) and module not in allowed:
                bad.append(f"{rel}:{line}: {module}")
    return bad


def private_shared_imports(files: list[Path]) -> list[str]:
    bad = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for line, module in _airflow_imports(path):
            if module == "airflow._shared" or module.startswith("airflow._shared."):
                bad.append(f"{rel}:{line}: {module}")
    return bad


def test_the_scan_covers_the_dags_and_the_plugin_package():
    rels = {p.relative_to(ROOT).as_posix() for p in _python_files()}
    assert "dags/dr_backup.py" in rels
    assert "plugins/awsdr_plugin.py" in rels
    assert "plugins/awsdr/timetables.py" in rels
    # Every allowlisted file still exists (a stale entry would silently allow a future file).
    assert set(ALLOWLIST) <= rels


def test_only_public_airflow_imports():
    bad = non_public_imports(_python_files())
    assert not bad, "non-public airflow imports (use airflow.sdk, or allowlist with a reason):\n" + "\n".join(
        bad
    )


def test_no_airflow_shared_imports():
    bad = private_shared_imports(_python_files())
    assert not bad, "airflow._shared is private to Airflow:\n" + "\n".join(bad)


def test_allowlist_entries_are_still_needed():
    """An allowlisted import that is gone should leave the allowlist too."""
    stale = []
    for rel, modules in ALLOWLIST.items():
        imported = {m for _, m in _airflow_imports(ROOT / rel)}
        stale.extend(f"{rel}: {m}" for m in sorted(modules - imported))
    assert not stale, "allowlisted but no longer imported:\n" + "\n".join(stale)


def test_the_scan_flags_core_shared_and_lazy_imports(tmp_path):
    """The checker itself: core and _shared imports are caught, at top level and inside functions."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from airflow.sdk import DAG\n"
        "import airflow.providers.amazon\n"
        "from airflow.task.trigger_rule import TriggerRule\n"
        "def f():\n"
        "    from airflow._shared.timezones import timezone\n"
        "    import airflow.models\n"
        "from airflow import settings\n"
    )
    imports = _airflow_imports(sample)
    assert [(line, m) for line, m in imports if not _is_public(m)] == [
        (3, "airflow.task.trigger_rule"),
        (5, "airflow._shared.timezones"),
        (6, "airflow.models"),
        (7, "airflow.settings"),
    ]
