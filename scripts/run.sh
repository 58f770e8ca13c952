#!/usr/bin/env bash
# `make run`: the emulator with the demo estate, the embedded PostgreSQL (AWSDR_DB=sqlite: a SQLite
# file instead), then Airflow standalone on them. Ctrl-C stops everything started here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${AWSDR_MOTO_PORT:-4566}"
export AWSDR_ENDPOINT="http://127.0.0.1:$port"
mkdir -p .run
pids=()
cleanup() {
  # a second Ctrl-C (or make's own TERM) must not cut this short and leave servers running
  trap '' INT TERM
  trap - EXIT
  echo; echo "Stopping (Airflow, then PostgreSQL, then the emulator; up to a minute each)..."
  # newest first: Airflow, then its database, then the emulator; each group gets 60 s, then KILL
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid="${pids[$i]}"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
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
if [ "$AWSDR_DB" = postgres ] && [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
  pg=(.venv/bin/python scripts/pg_embedded.py)
  if url=$("${pg[@]}" url "$AWSDR_PGDATA" 2>/dev/null); then
    echo "PostgreSQL already running on $AWSDR_PGDATA (reusing it)."
  else
    setsid "${pg[@]}" serve "$AWSDR_PGDATA" > .run/postgres.log 2>&1 &
    pids+=($!)
    if ! url=$("${pg[@]}" url "$AWSDR_PGDATA" --wait 120); then
      echo "PostgreSQL did not start; its log (.run/postgres.log):" >&2
      tail -n 30 .run/postgres.log >&2
      exit 1
    fi
    grep '^pg_embedded:' .run/postgres.log || true
  fi
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$url"
  if [ "$fresh_emulator" = 1 ]; then
    # The emulator keeps nothing across restarts: the demo's run history must not outlive it, or the
    # scheduler would skip the windows it remembers and the new estate would get no recovery points.
    echo "Fresh emulator: starting the demo's Airflow history afresh (database airflow recreated)."
    "${pg[@]}" reset "$AWSDR_PGDATA"
  fi
elif [ "$fresh_emulator" = 1 ] && [ -f "$AIRFLOW_HOME/airflow.db" ]; then
  echo "Fresh emulator: starting the demo's Airflow history afresh ($AIRFLOW_HOME/airflow.db)."
  rm -f "$AIRFLOW_HOME/airflow.db"
fi
case "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in
  sqlite*) db_text="SQLite $AIRFLOW_HOME/airflow.db (AWSDR_DB=sqlite: parallelism $AIRFLOW__CORE__PARALLELISM)" ;;
  *) db_text="PostgreSQL ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN##*@} (parallelism $AIRFLOW__CORE__PARALLELISM)" ;;
esac
airflow db migrate > .run/db-migrate.log 2>&1
setsid airflow standalone > .run/airflow.log 2>&1 &
pids+=($!)
for _ in $(seq 1 180); do curl -fsS "http://127.0.0.1:${AIRFLOW__API__PORT}/api/v2/monitor/health" >/dev/null 2>&1 && break; sleep 1; done
cat <<MSG

  Airflow UI:  http://127.0.0.1:${AIRFLOW__API__PORT}   login: admin / admin
  Emulator:    $AWSDR_ENDPOINT (moto, demo estate seeded)
  Database:    $db_text
  Logs:        .run/airflow.log, .run/moto.log, .run/postgres.log, $AIRFLOW_HOME/logs
  DAGs are unpaused: dr_backup_gold / dr_backup_silver catch up their newest windows now.
  Ctrl-C stops everything started here.

MSG
wait "${pids[-1]}"
