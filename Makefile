# SQMS — see README.md. `make run` for the demo with the Prefect UI, `make test` for the suite.
SHELL := /bin/bash
# uv is installed with pip when missing; `python3 -m uv` works wherever pip put it.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PREFECT_PORT ?= 4200
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export UV_PYTHON_DOWNLOADS ?= never
PYTEST_WORKERS ?= 2

.PHONY: install dev ready fonts run server test bench deploy doctor clean help

help:
	@echo "make install - production: the runtime dependencies only (uv.lock, no test tools)"
	@echo "make dev    - the runtime and the dev group (pytest, ruff, playwright, ...)"
	@echo "make run    - demo on SQLite: migrate, demo data, Prefect UI on http://127.0.0.1:$(PREFECT_PORT), serve deployments"
	@echo "make test   - the whole test suite (SQLite and PostgreSQL)"
	@echo "make bench  - import / KPI / report benchmark against plain pandas"
	@echo "make deploy - production: create the sqms work pool and deploy every process (PREFECT_API_URL)"
	@echo "make doctor - check configuration, database, SMTP, calendar, Prefect and deployments"

ENSURE_UV = command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

# `uv sync` makes the environment exact, so each sync invalidates the other's stamp.
.venv/.synced-prod: pyproject.toml uv.lock
	@$(ENSURE_UV)
	$(UV) sync --frozen --no-dev --compile-bytecode
	@# bytecode of our own code too: the CLI starts without compiling anything (even with PYTHONDONTWRITEBYTECODE)
	.venv/bin/python -m compileall -q sqms flows tasks >/dev/null
	@rm -f .venv/.synced-dev
	@touch $@

# The dev environment gets bytecode too: with PYTHONDONTWRITEBYTECODE (set on CI machines) every
# process would compile what it imports (`import prefect` 9 s instead of 1.4 s), and the suite
# starts hundreds (workers, CLIs, flow runs). Edited sources are recompiled in memory as usual.
.venv/.synced-dev: pyproject.toml uv.lock
	@$(ENSURE_UV)
	$(UV) sync --frozen --group dev --compile-bytecode
	.venv/bin/python -m compileall -q sqms flows tasks tests benchmarks >/dev/null
	@rm -f .venv/.synced-prod
	@touch $@

# The PDFs of the reports embed Noto Sans CJK (Debian fonts-noto-cjk), subsetted by HarfBuzz
# (libharfbuzz-subset0: 3-4x faster than the fontTools fallback); installed with apt when absent.
fonts:
	@{ fc-list ':lang=zh-cn' family 2>/dev/null | grep -q "Noto Sans CJK" && ldconfig -p | grep -q libharfbuzz-subset; } || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing fonts-noto-cjk and libharfbuzz-subset0 (CJK font and fast font subsetting for the PDF reports)"; \
	    apt-get install -y -qq fonts-noto-cjk libharfbuzz-subset0 >/dev/null || { apt-get update -qq && apt-get install -y -qq fonts-noto-cjk libharfbuzz-subset0; }; \
	  else echo "warning: run 'sudo apt-get install fonts-noto-cjk libharfbuzz-subset0' (the PDF reports' CJK font; sqms doctor checks it)"; fi; }

install: .venv/.synced-prod fonts

dev: .venv/.synced-dev fonts

# run/doctor/bench/deploy keep whichever environment is there (a developer's stays dev).
ready: fonts
	@if [ -f .venv/.synced-dev ]; then $(MAKE) --no-print-directory .venv/.synced-dev; \
	else $(MAKE) --no-print-directory .venv/.synced-prod; fi

run: ready
	.venv/bin/sqms init --demo
	./scripts/run-local.sh $(PREFECT_PORT)

# two pytest-xdist workers (this machine's two cores); PYTEST_WORKERS=0 runs in one process
test: dev
	@mkdir -p $(PREFECT_HOME)
	.venv/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

deploy: ready   ## production: work pool + every deployment (needs PREFECT_API_URL)
	.venv/bin/sqms deploy

doctor: ready
	.venv/bin/sqms doctor

bench: ready
	@mkdir -p $(PREFECT_HOME)
	.venv/bin/python -m benchmarks.bench $(BENCH_ARGS)

clean:
	rm -rf var/ .pytest_cache test-artifacts
