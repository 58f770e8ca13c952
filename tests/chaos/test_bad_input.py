"""Bad input fails before the first AWS call: malformed policies and bad trigger forms.

Policies: every file under ``policies/`` fails to load with the file, the line, the field and the
message of ``policies/expected.tsv``; loading the DAG files with one (through a proxy that counts
every request) makes no AWS call at all. Forms: every set in ``params/bad_params.json`` fails in
its form's validator (what each DAG's ``validate_params`` task runs) naming the parameter; a
``dag.test()`` of a bad failover form makes no mutating call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from awsdr.policy import PolicyError, load_policy

HERE = Path(__file__).parent
EXPECTED = [
    line.split("\t")
    for line in (HERE / "policies" / "expected.tsv").read_text().splitlines()
    if line and not line.startswith("#")
]
BAD_PARAMS = json.loads((HERE / "params" / "bad_params.json").read_text())
FULL = os.environ.get("AWSDR_CHAOS") == "full"


def test_the_corpus_is_large_and_every_file_has_its_expectation():
    files = {p.stem for p in (HERE / "policies").glob("*.yaml")}
    assert len(files) >= 30
    assert files == {row[0] for row in EXPECTED}
    assert len(BAD_PARAMS) >= 20
    assert {p["form"] for p in BAD_PARAMS} == {
        "backup",
        "retention",
        "verify",
        "failover",
        "failback",
        "drill",
    }


@pytest.mark.parametrize(("name", "line", "field", "message"), EXPECTED, ids=[r[0] for r in EXPECTED])
def test_a_malformed_policy_names_file_line_and_field(name, line, field, message):
    path = HERE / "policies" / f"{name}.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    err = info.value
    assert (err.file, str(err.line), err.field) == (str(path), line, field)
    assert err.message.startswith(message)
    assert str(err).startswith(f"{path}:{line}: {field}: ")


def _validate(form: str, params: dict):
    from awsdr.operators import retention, verify
    from awsdr.operators.backup import parse_only
    from awsdr.operators.failover_params import validate_failover_params

    policy = load_policy(ROOT / "include" / "dr_policy.yaml")
    plans = list(policy.plans)
    if form == "backup":
        return parse_only(params.get("resources"))
    if form == "retention":
        return retention.resolve_params(params, "manual", plans)
    if form == "verify":
        return verify.resolve_params(params, plans, None)
    direction = "failback" if form == "failback" else "failover"
    return validate_failover_params(params, policy, direction=direction, force_drill=form == "drill")


@pytest.mark.parametrize("case", BAD_PARAMS, ids=[f"{c['form']}-{i}" for i, c in enumerate(BAD_PARAMS)])
def test_a_bad_form_fails_naming_the_parameter(case):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=__import__("re").escape(case["expect"])):
        _validate(case["form"], case["params"])


def _import_dags_through(proxy_url: str, policy: Path) -> subprocess.CompletedProcess[str]:
    """Parse every DAG file in a fresh interpreter with ``policy`` and AWS pointed at the proxy."""
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(ROOT / 'dags')!r})\n"
        "print('RESULT', len(bag.import_errors), len(bag.dags))\n"
        "print('ERROR', next(iter(bag.import_errors.values()), ''))\n"
    )
    conn = json.dumps(
        {"conn_type": "aws", "extra": {"endpoint_url": proxy_url, "region_name": "ap-northeast-2"}}
    )
    env = {
        **os.environ,
        "AWSDR_POLICY": str(policy),
        "AIRFLOW_CONN_AWS_DEFAULT": conn,
        "AWS_ENDPOINT_URL": proxy_url,
        "PYTHONPATH": str(ROOT / "plugins"),
    }
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


class Count:
    def __init__(self):
        self.calls: list[tuple[str, bool]] = []

    def before(self, call):
        if not call.path.startswith("/moto-api"):
            self.calls.append((call.operation, call.mutating))


NAMES = [r[0] for r in EXPECTED] if FULL else ["dr-region-equals-primary", "windows-further-apart-than-rpo"]


@pytest.mark.parametrize("name", NAMES)
def test_dag_files_with_a_bad_policy_fail_to_import_without_an_aws_call(proxy, name):
    counter = Count()
    p = proxy(rules=[counter])
    path = HERE / "policies" / f"{name}.yaml"
    done = _import_dags_through(p.url, path)
    result = next((line for line in done.stdout.splitlines() if line.startswith("RESULT ")), "")
    assert result, done.stdout + done.stderr
    errors = result.split()[1]
    assert int(errors) >= 1, done.stdout + done.stderr
    row = next(r for r in EXPECTED if r[0] == name)
    assert f"{path}:{row[1]}: {row[2]}" in done.stdout
    assert counter.calls == []


@pytest.mark.skipif(not FULL, reason="a minute of dag.test(): make chaos (CI checks the validators above)")
def test_a_bad_failover_form_run_makes_no_mutating_call(proxy, airflow_db, monkeypatch):
    import importlib

    counter = Count()
    p = proxy(rules=[counter])
    conn = json.dumps({"conn_type": "aws", "extra": {"endpoint_url": p.url, "region_name": "ap-northeast-2"}})
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", conn)
    import dr_failover

    dag = importlib.reload(dr_failover).dr_failover
    run = dag.test(
        run_conf={
            "strategy": "pilot-light",
            "target_region": "ap-northeast-1",
            "dry_run": False,
            "confirm": "yes",
        }
    )
    assert run.state == "failed"
    assert [c for c in counter.calls if c[1]] == []
