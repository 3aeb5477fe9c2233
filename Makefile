# Two commands set up everything: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
REPLICAS ?= 2
PIP := $(BIN)/pip --disable-pip-version-check -q
# Re-install only when the pinned requirements or the package metadata change.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)

.PHONY: setup run serve test lint browser bench models clean

setup: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

run: setup
	$(BIN)/python scripts/app_server.py --server.port $(PORT)

# Several replicas behind nginx on one port: make serve REPLICAS=3 (see docs/deploy.md).
serve: setup
	REPLICAS=$(REPLICAS) PORT=$(PORT) bash scripts/serve.sh

browser:
	@bash scripts/ensure_test_deps.sh

lint: setup
	$(BIN)/ruff check .

# Two pytest-xdist workers, whole files each (their servers, browsers and module fixtures stay together): much of a
# run waits on a browser or a server. On 2 cores: 20m47s with one process, 17m23s with two, 14m42s with two once the
# long browser files (which made the tail) are collected first (tests/conftest.py). TEST_WORKERS=0 runs the tests in
# this process, without workers.
# --durations lists the slowest tests at the end of every run.
TEST_WORKERS ?= 2
test: setup browser lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

# Rebuild every shipped default checkpoint (slow; commit the result only when a model changed).
models: setup
	$(BIN)/seqcore rebuild-defaults

# Run every benchmark; each rewrites its own table in BENCHMARKS.md.
bench: setup
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
