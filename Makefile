# Referflow — `make run` sets everything up and starts the app; `make test` sets everything up and runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.stamp-installed
DEV_INSTALLED := $(VENV)/.stamp-dev-installed
# `make run HOST=0.0.0.0 PORT=9000 DB=...` wins; otherwise the app reads REFERFLOW_HOST, REFERFLOW_PORT and
# REFERFLOW_DB itself (README: command line, then environment, then defaults), so nothing is passed for them here.
DB ?= $(or $(REFERFLOW_DB),data/referflow.db)
SERVE_OPTIONS := $(if $(filter command line,$(origin HOST)),--host $(HOST)) \
	$(if $(filter command line,$(origin PORT)),--port $(PORT))

.PHONY: run test test-fast test-postgres test-browser lint bench assets chromium clean

run: $(INSTALLED) assets
	@mkdir -p $(dir $(DB))
	REFERFLOW_DB=$(DB) $(PY) app.py serve $(strip $(SERVE_OPTIONS))

# The storage, runtime and command-line suites run a second time on PostgreSQL ($$REFERFLOW_TEST_POSTGRES_URL, else
# postgresql+psycopg://postgres@127.0.0.1:5432/postgres), each test in a database of its own; when no server answers,
# those tests are reported as skipped with the reason. The fast suite and that pass each run on TEST_WORKERS processes
# (pytest-xdist, one test file per worker at a time); the browser suite runs alone, in one process.
POSTGRES_SUITES := tests/storage tests/runtime tests/test_cli.py
TEST_WORKERS ?= 2
PARALLEL = -n $(TEST_WORKERS) --dist loadfile

test: $(DEV_INSTALLED) assets chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	@fast=0; postgres=0; browser=0; \
	$(PY) -m pytest $(PARALLEL) -m "not browser" --ignore=tests/e2e tests || fast=$$?; \
	echo "== PostgreSQL pass"; \
	$(PY) -m pytest $(PARALLEL) -m "not browser" --database=postgresql -rs $(POSTGRES_SUITES) || postgres=$$?; \
	echo "== Browser suite"; \
	$(PY) -m pytest -m browser tests/e2e || browser=$$?; \
	if [ $$fast -ne 0 ] || [ $$postgres -ne 0 ] || [ $$browser -ne 0 ]; then \
		echo "make test: fast suite exit $$fast, PostgreSQL pass exit $$postgres, browser suite exit $$browser"; \
		exit 1; fi

test-postgres: $(DEV_INSTALLED)
	$(PY) -m pytest $(PARALLEL) -m "not browser" --database=postgresql -rs $(POSTGRES_SUITES)

test-fast: $(DEV_INSTALLED) assets
	$(PY) -m pytest $(PARALLEL) -m "not browser" --ignore=tests/e2e tests

test-browser: $(DEV_INSTALLED) assets chromium
	$(PY) -m pytest -m browser tests/e2e

lint: $(DEV_INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(DEV_INSTALLED) assets  # every bench/*.py (helpers they start live in bench/support/)
	@set -e; for script in bench/*.py; do echo "== $$script"; $(PY) $$script; done

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(DEV_INSTALLED): pyproject.toml $(INSTALLED)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# Front-end assets: the flow canvas (Vue Flow, bundled by esbuild with `vue` left to NiceGUI) in assets/dist/.
CANVAS_BUNDLE := assets/dist/flow_canvas.js
NPM_INSTALLED := node_modules/.stamp-npm-ci

assets: $(CANVAS_BUNDLE)

$(CANVAS_BUNDLE): $(NPM_INSTALLED) $(wildcard assets/canvas/*)
	node assets/canvas/build.mjs

$(NPM_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests use Debian's Chromium ($$REFERFLOW_CHROMIUM points at another one).
chromium:
	@if [ -n "$$REFERFLOW_CHROMIUM" ]; then \
		[ -x "$$REFERFLOW_CHROMIUM" ] || { echo "REFERFLOW_CHROMIUM=$$REFERFLOW_CHROMIUM is not an executable file."; exit 1; }; \
	elif [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's chromium for the browser tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "The browser tests need Chromium: run 'sudo apt-get install chromium' or set REFERFLOW_CHROMIUM to a Chromium binary."; exit 1; \
		fi; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache test-results
