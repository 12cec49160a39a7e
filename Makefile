# The two commands of the README: `make demo` (the main job) and `make test` (everything CI checks).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

CDK := npx --yes aws-cdk@2.1148.1

.PHONY: setup demo test test-fast lint typecheck bench bench-burst synth deploy clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

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

synth: setup
	$(CDK) synth --quiet

deploy: setup
	$(CDK) deploy

clean:
	rm -rf $(VENV) cdk.out .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis
