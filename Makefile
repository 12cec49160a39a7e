# The two commands of the README: `make demo` (the main job) and `make test` (everything CI checks).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

# The bytecode compiler for the Lambda runtime's Python (stacks/bytecode, docs/cold-start.md): Pyodide from npm.
BYTECODE := stacks/bytecode
BYTECODE_STAMP := $(BYTECODE)/node_modules/.installed-$(shell sha1sum $(BYTECODE)/package-lock.json | cut -c1-12)

CDK := npx --yes aws-cdk@2.1148.1

.PHONY: setup demo test test-fast lint typecheck bench bench-burst bench-flood bench-preflight bench-revocation bench-tracking bench-notification bench-cold-start synth deploy scan clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

$(BYTECODE_STAMP): $(BYTECODE)/package-lock.json
	npm ci --prefix $(BYTECODE) --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMP) $(BYTECODE_STAMP)

demo: setup
	$(BIN)/python -m doverunner_local.demo

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

# Every tier, on two workers (this machine's two cores); tests/conftest.py groups the tests that share a synthesis or
# a deployment so that each is made once. `make test PYTEST_WORKERS=0` runs them in this process, one after another.
PYTEST_WORKERS ?= 2

test: lint typecheck
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

# The unit tier only (tests/unit: no server, moto, socket or subprocess), in seconds.
test-fast: setup
	$(BIN)/python -m pytest tests/unit -m unit -q

bench: setup
	$(BIN)/python bench/upload_memory.py

bench-burst: setup
	$(BIN)/python bench/burst.py

bench-flood: setup
	$(BIN)/python bench/revocation_flood.py

bench-revocation: setup
	$(BIN)/python bench/revocation_batch.py

bench-tracking: setup
	$(BIN)/python bench/tracking_cost.py

bench-notification: setup
	$(BIN)/python bench/notification_latency.py

bench-cold-start: setup
	$(BIN)/python bench/cold_start.py

bench-preflight: setup
	$(BIN)/python bench/preflight.py

# checkov on the synthesized template (docs/scan.md); not part of `make test`. checkov is pinned in pyproject.toml's
# `scan` extra and lives in a venv of its own under .cache/ (ignored by git): its dependencies (boto3 1.35,
# packaging 23) conflict with the project's pins.
SCAN_VENV := .cache/scan-venv
CHECKOV := $(shell grep -o '"checkov==[^"]*"' pyproject.toml | tr -d '"')
SCAN_STAMP := $(SCAN_VENV)/.installed-$(subst ==,-,$(CHECKOV))
SCAN_OUT := .cache/scan/cdk.out

$(SCAN_STAMP): pyproject.toml
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '$(CHECKOV)'
	@rm -f $(SCAN_VENV)/.installed-* && touch $@

scan: setup $(SCAN_STAMP)
	rm -rf $(SCAN_OUT)
	CDK_OUTDIR=$(SCAN_OUT) $(BIN)/python app.py
	$(SCAN_VENV)/bin/checkov --framework cloudformation --skip-download --compact --quiet \
		-f $(SCAN_OUT)/DoveRunnerDetection.template.json

synth: setup
	$(CDK) synth --quiet

deploy: setup
	$(CDK) deploy

clean:
	rm -rf $(VENV) cdk.out .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis
