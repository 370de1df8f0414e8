# Two commands: `make run` and `make test`. Each does all set-up on a fresh machine first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM ?= /usr/bin/chromium
FIREFOX ?= /usr/bin/firefox-esr
WEBKIT_DRIVER ?= /usr/bin/WebKitWebDriver

.PHONY: run test check setup python node system bench bench-mapping bench-pipeline bench-scaleout bench-console bench-forward bench-import fuzz clean

run: setup
	$(BIN)/actions-1flow demo

# Two pytest-xdist workers (one per core; a test file stays in one worker, so its module fixtures are shared), the
# longest files first (tests/conftest.py LONG_FILES).
TEST_WORKERS ?= 2
test: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

# Lint and types (configured in pyproject.toml); CI runs it before the tests.
check: python
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

setup: python node system

python: $(PY_STAMP)
$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

node: $(NODE_STAMP)
$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20 and npm are required"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the tests drive for real: the three browser engines (Chromium; Firefox ESR; WebKitGTK's driver and
# MiniBrowser, under Xvfb), PostgreSQL 15 for the shared store.
PG_BIN ?= /usr/lib/postgresql/15/bin
system:
	@missing=""; \
	test -x $(CHROMIUM) || missing="$$missing chromium"; \
	test -x $(FIREFOX) || missing="$$missing firefox-esr"; \
	test -x $(WEBKIT_DRIVER) || missing="$$missing webkit2gtk-driver"; \
	command -v Xvfb >/dev/null || missing="$$missing xvfb"; \
	test -x $(PG_BIN)/initdb || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Every benchmark against its reference, each measured in one run (numbers recorded in docs/performance.md).
bench: setup
	$(BIN)/python benchmarks/fql_bench.py
	$(BIN)/python benchmarks/mapping_bench.py
	$(BIN)/python benchmarks/kit_bench.py
	$(BIN)/python benchmarks/ingest_bench.py
	$(BIN)/python benchmarks/pipeline_bench.py
	$(BIN)/python benchmarks/scaleout_bench.py
	$(BIN)/python benchmarks/console_bench.py
	$(BIN)/python benchmarks/forward_bench.py
	$(BIN)/python benchmarks/import_bench.py

bench-mapping: setup
	$(BIN)/python benchmarks/mapping_bench.py

bench-pipeline: setup
	$(BIN)/python benchmarks/pipeline_bench.py

# PostgreSQL (a throwaway local cluster): ingest through two servers beside SQLite's, delivery by 1, 2 and 4
# workers, a worker's peak RSS with 1,000,000 events pending. About 2.5 minutes; figures in docs/performance.md.
bench-scaleout: setup
	$(BIN)/python benchmarks/scaleout_bench.py

# The console's queries with 1,000,000 events in SQLite and in PostgreSQL (a throwaway local cluster): counts,
# per-minute activity for 1h/24h/7d, the log's first page, and the admin API's overview and events, p50/p95 of 50
# calls each. A few minutes, most of it filling the stores; figures in docs/performance.md ("Console queries").
bench-console: setup
	$(BIN)/python benchmarks/console_bench.py

# The Segment destination's forwarder against the 1Flow delivery, same run.
bench-forward: setup
	$(BIN)/python benchmarks/forward_bench.py

# `import` on SQLite and PostgreSQL (a throwaway local cluster) against `append` in the same run, and the disk a
# million kept events cost; figures in docs/performance.md ("Import").
bench-import: setup
	$(BIN)/python benchmarks/import_bench.py

# 1,000,000 generated requests through the ASGI app in-process: counts by status, RSS, failures (exit 1 on any).
# A 20,000-request slice of the same run is part of `make test` (tests/fuzzing/). Figures in docs/performance.md.
# The seed comes from the clock unless FUZZ_SEED is given; the run prints it, and each failure its replay command.
FUZZ_REQUESTS ?= 1000000
FUZZ_SEED ?=
fuzz: setup
	$(BIN)/python -m tests.fuzzing.run --requests $(FUZZ_REQUESTS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis var
