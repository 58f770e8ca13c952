"""docker-compose.yaml: Airflow's CeleryExecutor stack plus the emulator, validated without an engine.

``docker-compose config`` (Debian's ``docker-compose`` 1.29, which validates against the Compose
specification and needs no Docker engine) resolves the file with an ``.env`` made from
``.env.example`` by ``docker/new-env.sh``; the tests read the resolved model.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT

COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(
    COMPOSE is None,
    reason="docker-compose is not installed (Debian: apt-get install -y docker-compose); it validates "
    "docker-compose.yaml without a Docker engine",
)

AIRFLOW = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-cli",
    "flower",
}
#: Long-running Airflow services: each must wait for a migrated database.
AFTER_INIT = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "flower",
}
SECRETS = ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "POSTGRES_PASSWORD")


def _config(env_file, *profiles: str) -> subprocess.CompletedProcess[str]:
    args = [str(COMPOSE), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yaml")]
    args += ["--env-file", str(env_file)]
    for p in profiles:
        args += ["--profile", p]
    # compose lets the shell's variables override .env: run it with none of the test session's
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [*args, "config"], capture_output=True, text=True, timeout=60, check=False, env=clean
    )


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    out = subprocess.run(
        ["bash", str(ROOT / "docker" / "new-env.sh")], capture_output=True, text=True, check=True
    ).stdout
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text(out)
    return path


@pytest.fixture(scope="module")
def stack(env_file):
    done = _config(env_file, "emulator", "flower", "debug")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)["services"]


def test_the_stack_has_airflows_services_and_the_emulator(stack):
    assert set(stack) == AIRFLOW | {"postgres", "redis", "moto", "seed"}
    assert stack["flower"]["profiles"] == ["flower"]
    assert stack["moto"]["profiles"] == stack["seed"]["profiles"] == ["emulator"]
    # `up` without --profile starts only the services that have no profile
    default = {n for n, s in stack.items() if not s.get("profiles")}
    assert default == AIRFLOW - {"flower", "airflow-cli"} | {"postgres", "redis"}


def test_airflow_runs_celery_on_postgres_and_redis_with_one_set_of_secrets(stack, env_file):
    envs = {n: stack[n]["environment"] for n in AIRFLOW}
    secrets = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if re.match(r"^\w+=", line)
    )
    for name, env in envs.items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:"), name
        assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"], name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        # the api-server and every worker sign and check task tokens with the same secret
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["AIRFLOW_JWT_SECRET"], name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == secrets["AIRFLOW_FERNET_KEY"], name
        assert env["AWSDR_POLICY"] == "/opt/airflow/include/dr_policy.yaml", name
        assert env["AIRFLOW_CONN_AWS_DEFAULT"] == secrets["AIRFLOW_CONN_AWS_DEFAULT"], name
    assert stack["postgres"]["environment"]["POSTGRES_PASSWORD"] == secrets["POSTGRES_PASSWORD"]
    assert stack["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert stack["airflow-worker"]["deploy"]["replicas"] >= 2
    assert stack["airflow-worker"]["command"] == "celery worker"
    # the emulator's containers get no Airflow secret
    for name in ("moto", "seed"):
        assert not set(stack[name].get("environment", {})) & {
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "POSTGRES_PASSWORD",
        }


def test_health_checks_and_start_order(stack):
    checks = {n: " ".join(s["healthcheck"]["test"]) for n, s in stack.items() if "healthcheck" in s}
    assert set(checks) == set(stack) - {"airflow-init", "airflow-cli", "seed"}
    assert "pg_isready" in checks["postgres"]
    assert "redis-cli ping" in checks["redis"]
    assert "localhost:8080/api/v2/version" in checks["airflow-apiserver"]
    assert "localhost:8974/health" in checks["airflow-scheduler"]
    assert "--job-type DagProcessorJob" in checks["airflow-dag-processor"]
    assert "--job-type TriggererJob" in checks["airflow-triggerer"]
    assert "inspect ping" in checks["airflow-worker"]
    assert "/moto-api/" in checks["moto"]
    assert stack["airflow-scheduler"]["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"

    def cond(service: str, on: str) -> str | None:
        return stack[service].get("depends_on", {}).get(on, {}).get("condition")

    for name in AIRFLOW:
        assert cond(name, "postgres") == "service_healthy", name
        assert cond(name, "redis") == "service_healthy", name
    for name in AFTER_INIT:
        assert cond(name, "airflow-init") == "service_completed_successfully", name
    assert cond("airflow-worker", "airflow-apiserver") == "service_healthy"
    assert cond("seed", "moto") == "service_healthy"


def test_project_folders_are_mounted_and_the_image_is_built_from_airflow_3_3_2(stack):
    for name in AIRFLOW:
        mounts = set(stack[name]["volumes"])
        for folder in ("dags", "plugins", "include"):
            assert f"{ROOT / folder}:/opt/airflow/{folder}:ro" in mounts, (name, folder)
        assert stack[name]["build"] == {"context": str(ROOT), "dockerfile": "docker/Dockerfile"}
    assert "airflow-auth:/opt/airflow/auth:rw" in stack["airflow-apiserver"]["volumes"]
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    base = re.search(r"^ARG AIRFLOW_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base is not None
    assert base.group(1).startswith("apache/airflow:3.3.2"), base.group(1)
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", dockerfile, re.MULTILINE)
    assert "pip install --no-cache-dir -r /opt/awsdr/requirements.txt" in dockerfile
    assert "apache-airflow==3.3.2" in (ROOT / "requirements.txt").read_text().splitlines()
    # the emulator's entrypoints are files the image copies from the repository
    for name in ("moto", "seed"):
        script = stack[name]["entrypoint"][1]
        assert script.startswith("/opt/awsdr/scripts/")
        assert (ROOT / "scripts" / script.rsplit("/", 1)[1]).is_file()
        assert f"scripts/{script.rsplit('/', 1)[1]}" in dockerfile
    for name, svc in stack.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_secrets_come_only_from_env_and_the_example_holds_none(tmp_path):
    example = (ROOT / ".env.example").read_text()
    for var in SECRETS:
        assert re.search(rf"^{var}=$", example, re.MULTILINE), f"{var} must be empty in .env.example"
    done = _config(ROOT / ".env.example")
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in done.stderr or "in .env (see .env.example)" in done.stderr
    # no secret has a default anywhere in the file: each is required (`:?`) where first used
    text = (ROOT / "docker-compose.yaml").read_text()
    for var in (*SECRETS, "AWSDR_ADMIN_PASSWORD", "AIRFLOW_CONN_AWS_DEFAULT"):
        uses = re.findall(rf"(?<!\$)\$\{{{var}(:[?-])?", text)
        assert uses, var
        assert uses[0] == ":?", (var, uses)
        assert ":-" not in uses, (var, uses)
    # one empty secret is enough to refuse
    filled = subprocess.run(
        ["bash", str(ROOT / "docker" / "new-env.sh")], capture_output=True, text=True, check=True
    ).stdout
    env = tmp_path / ".env"
    env.write_text(re.sub(r"^AIRFLOW_JWT_SECRET=.*$", "AIRFLOW_JWT_SECRET=", filled, flags=re.MULTILINE))
    done = _config(env)
    assert done.returncode != 0
    assert "set AIRFLOW_JWT_SECRET in .env" in done.stderr, done.stderr
