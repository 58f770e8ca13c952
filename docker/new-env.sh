#!/usr/bin/env bash
# Print .env.example with every empty secret filled with fresh random values:
#   docker/new-env.sh > .env
set -euo pipefail
cd "$(dirname "$0")/.."
rand() { python3 -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom($1)).decode())"; }
while IFS= read -r line; do
  case "$line" in
    AIRFLOW_FERNET_KEY=) echo "AIRFLOW_FERNET_KEY=$(rand 32)" ;;
    AIRFLOW_JWT_SECRET=|AIRFLOW_API_SECRET_KEY=|POSTGRES_PASSWORD=|AWSDR_ADMIN_PASSWORD=)
      echo "${line}$(rand 24 | tr -d '=_-')" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < .env.example
