# Source me: the Airflow configuration `make run` uses (and the end-to-end test reuses).
# Inputs (env): AIRFLOW_HOME (default <repo>/.airflow), AWSDR_ENDPOINT (moto URL; empty = real AWS),
#               AWSDR_API_PORT (default 8080), AWSDR_REGION (default ap-northeast-2),
#               AWSDR_DB: postgres (default: the embedded server that scripts/run.sh starts from
#               AWSDR_PGDATA, and sets AIRFLOW__DATABASE__SQL_ALCHEMY_CONN for) or sqlite (the
#               fallback: one file, one writer, few tasks at once). An AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
#               given by the caller wins over both.
_awsdr_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$_awsdr_root/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$_awsdr_root/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$_awsdr_root/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AWSDR_DB="${AWSDR_DB:-postgres}"
export AWSDR_PGDATA="${AWSDR_PGDATA:-$AIRFLOW_HOME/postgres}"
case "$AWSDR_DB" in
  postgres) ;;  # scripts/run.sh starts the server and exports the URL (scripts/pg_embedded.py url)
  sqlite) export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}" ;;
  *) echo "AWSDR_DB must be postgres or sqlite, not '$AWSDR_DB'" >&2; return 1 ;;
esac
case "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" in
  sqlite*)
    # SQLite allows one writer: few task instances at once keep the scheduler, triggerer and
    # dag-processor from dying of "database is locked" (seen with the default parallelism of 32).
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=awsdr.sqlite_settings.CONNECT_ARGS  # 30 s busy timeout
    _awsdr_parallelism=4 _awsdr_runs=2 ;;
  *) _awsdr_parallelism=16 _awsdr_runs=4 ;;  # PostgreSQL: row locks, many writers
esac
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-$_awsdr_parallelism}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-$_awsdr_parallelism}"
export AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG:-$_awsdr_runs}"
export AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY=16
# `airflow standalone` starts every component at once; on a busy machine the api-server can take
# longer to answer than the 5 default attempts of a task's first call (~30 s), and the scheduler's
# first tasks failed at start-up with "Connection refused". 12 attempts wait for it for minutes.
export AIRFLOW__WORKERS__EXECUTION_API_RETRIES="${AIRFLOW__WORKERS__EXECUTION_API_RETRIES:-12}"
# ...and an api-server on a loaded machine can take longer than the default 5 s to answer one call:
# a task's heartbeat or state update timing out made the scheduler fail the task (seen at load 35).
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-30}"
# the scheduler's and triggerer's log servers default to the fixed ports 8793 and 8794
_awsdr_free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-$(_awsdr_free_port)}"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-$(_awsdr_free_port)}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
export AIRFLOW__API__HOST="${AWSDR_API_HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AWSDR_API_PORT:-8080}"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:${AWSDR_API_PORT:-8080}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:${AWSDR_API_PORT:-8080}/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
export AWSDR_POLICY="${AWSDR_POLICY:-$_awsdr_root/include/dr_policy.yaml}"
export PYTHONPATH="$_awsdr_root/plugins${PYTHONPATH:+:$PYTHONPATH}"
_awsdr_region="${AWSDR_REGION:-ap-northeast-2}"
if [ -n "${AWSDR_ENDPOINT:-}" ]; then
  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
  unset AWS_SESSION_TOKEN AWS_PROFILE
  export AWSDR_POLL_SECONDS="${AWSDR_POLL_SECONDS:-5}"  # the emulator answers at once
  export AIRFLOW_CONN_AWS_DEFAULT="{\"conn_type\": \"aws\", \"extra\": {\"endpoint_url\": \"$AWSDR_ENDPOINT\", \"region_name\": \"$_awsdr_region\"}}"
fi
mkdir -p "$AIRFLOW_HOME"
[ -f "$AIRFLOW_HOME/passwords.json" ] || echo '{"admin": "admin"}' > "$AIRFLOW_HOME/passwords.json"
