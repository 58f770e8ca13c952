#!/usr/bin/env bash
# `make demo`: one headless DR cycle on a private emulator; prints a report.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py
