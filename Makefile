# The two commands of the README: `make demo` (the main job) and `make test` (everything CI checks).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

CDK := npx --yes aws-cdk@2.1148.1

.PHONY: setup demo test lint typecheck bench bench-burst synth deploy clean

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

test: lint typecheck
	$(BIN)/python -m pytest

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
