# Source me: the Airflow configuration `make run` uses (and the end-to-end test reuses).
# Inputs (env): AIRFLOW_HOME (default <repo>/.airflow), AWSDR_ENDPOINT (moto URL; empty = real AWS),
#               AWSDR_API_PORT (default 8080), AWSDR_REGION (default ap-northeast-2).
_awsdr_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$_awsdr_root/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$_awsdr_root/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$_awsdr_root/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
# SQLite allows one writer: few task instances at once keep the scheduler, triggerer and
# dag-processor from dying of "database is locked" (seen with the default parallelism of 32).
case "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in
  sqlite*) export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=awsdr.sqlite_settings.CONNECT_ARGS ;;  # 30 s busy timeout
esac
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-4}"
export AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG:-2}"
export AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY=16
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
