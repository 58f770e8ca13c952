SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python

.PHONY: help venv run test lint demo bench schema clean

help:
	@echo "make run    - emulator + demo estate + Airflow UI on http://127.0.0.1:8080 (admin/admin)"
	@echo "make test   - lint, types and the whole test suite"
	@echo "make demo   - one headless DR cycle on the emulator with a printed report"
	@echo "make bench  - benchmarks; JSON results under bench/results/"

venv:
	@bash scripts/bootstrap.sh

run: venv
	@bash scripts/run.sh

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	MYPYPATH=plugins .venv/bin/mypy plugins/awsdr

# Tests run in parallel processes (pytest-xdist --dist loadfile: each module in one process, so its
# fixtures are set up once); at most two Airflow stacks run at once (tests/conftest.py stack_slot).
# The modules that take minutes go first (tests/conftest.py SLOW_FIRST; --no-loadscope-reorder keeps
# that order instead of xdist's most-tests-first). The 25 slowest tests are listed at the end.
# Every test picks free ports and its own Airflow home, database and queue, so they do not meet.
# PYTEST_WORKERS=0: serial.
PYTEST_WORKERS ?= 3
test: venv lint
	.venv/bin/pytest -p no:cacheprovider -q --durations=25 $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

demo: venv
	@bash scripts/demo.sh

bench: venv
	@mkdir -p bench/results
	PYTHONPATH=plugins $(PY) bench/run_all.py

schema: venv
	PYTHONPATH=plugins $(PY) -m awsdr.policy --schema > include/dr_policy.schema.json

.PHONY: soak
soak: venv  ## 90 simulated days through every DAG's code; table, bench/results/soak.{json,png}, invariants
	PYTHONPATH=plugins $(PY) bench/soak.py --progress $(SOAK_ARGS)

.PHONY: chaos
chaos: venv  ## faults (30% throttling, 35% lost answers) on every DAG, SIGKILL at 32 points + retry, a real scheduler outage, bad input; invariants, table
	AWSDR_CHAOS=full .venv/bin/pytest -p no:cacheprovider -q -rs tests/chaos $(PYTEST_ARGS)

.PHONY: iam
iam: venv  ## least-privilege IAM policies from the DR policy (AWSDR_POLICY) into include/iam/
	PYTHONPATH=plugins $(PY) -m awsdr.iam $(if $(AWS_ACCOUNT_ID),--account $(AWS_ACCOUNT_ID))

clean:
	rm -rf .airflow .run .pytest_cache .mypy_cache .ruff_cache
