#!/usr/bin/env bash
# `make run`: the emulator with the demo estate, then Airflow standalone on it. Ctrl-C stops both.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${AWSDR_MOTO_PORT:-4566}"
export AWSDR_ENDPOINT="http://127.0.0.1:$port"
mkdir -p .run
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping..."
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

fresh_emulator=0
if curl -fsS "$AWSDR_ENDPOINT/moto-api/" >/dev/null 2>&1; then
  echo "Emulator already answering on $AWSDR_ENDPOINT (reusing it)."
else
  fresh_emulator=1
  MOTO_RECORDER_FILEPATH="$root/.run/moto.recording" setsid .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$port" > .run/moto.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -fsS "$AWSDR_ENDPOINT/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
fi
.venv/bin/python scripts/seed_demo.py --endpoint "$AWSDR_ENDPOINT"

source scripts/airflow_env.sh
export PATH="$root/.venv/bin:$PATH"
if [ "$fresh_emulator" = 1 ] && [ -f "$AIRFLOW_HOME/airflow.db" ]; then
  # The emulator keeps nothing across restarts: the demo's run history must not outlive it, or the
  # scheduler would skip the windows it remembers and the new estate would get no recovery points.
  echo "Fresh emulator: starting the demo's Airflow history afresh ($AIRFLOW_HOME/airflow.db)."
  rm -f "$AIRFLOW_HOME/airflow.db"
fi
airflow db migrate > .run/db-migrate.log 2>&1
setsid airflow standalone > .run/airflow.log 2>&1 &
pids+=($!)
for _ in $(seq 1 180); do curl -fsS "http://127.0.0.1:${AIRFLOW__API__PORT}/api/v2/monitor/health" >/dev/null 2>&1 && break; sleep 1; done
cat <<MSG

  Airflow UI:  http://127.0.0.1:${AIRFLOW__API__PORT}   login: admin / admin
  Emulator:    $AWSDR_ENDPOINT (moto, demo estate seeded)
  Logs:        .run/airflow.log, .run/moto.log, $AIRFLOW_HOME/logs
  DAGs are unpaused: dr_backup_gold / dr_backup_silver catch up their newest windows now.
  Ctrl-C stops everything started here.

MSG
wait "${pids[-1]}"
