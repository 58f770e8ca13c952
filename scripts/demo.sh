#!/usr/bin/env bash
# `make demo`: one headless DR cycle on a private emulator; prints a report (logs go to a file).
set -uo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp); log=$(mktemp --suffix=.log)
AWSDR_DEMO_REPORT="$report" .venv/bin/python scripts/demo.py > "$log" 2>&1
status=$?
cat "$report"
echo "full log: $log"
rm -f "$report"
exit $status
