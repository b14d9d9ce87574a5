# SQMS — see README.md. `make run` for the demo with the Prefect UI, `make test` for the suite.
SHELL := /bin/bash
# uv is installed with pip when missing; `python3 -m uv` works wherever pip put it.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PREFECT_PORT ?= 4200
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export UV_PYTHON_DOWNLOADS ?= never

.PHONY: install fonts run server test bench deploy doctor clean help

help:
	@echo "make run    - demo on SQLite: migrate, demo data, Prefect UI on http://127.0.0.1:$(PREFECT_PORT), serve deployments"
	@echo "make test   - the whole test suite (SQLite and PostgreSQL)"
	@echo "make bench  - import / KPI / report benchmark against plain pandas"
	@echo "make deploy - production: create the sqms work pool and deploy every process (PREFECT_API_URL)"
	@echo "make doctor - check configuration, database, SMTP, calendar, Prefect and deployments"

.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced fonts

# The PDFs of the reports embed Noto Sans CJK (Debian fonts-noto-cjk); installed with apt when absent.
fonts:
	@fc-list ':lang=zh-cn' family 2>/dev/null | grep -q "Noto Sans CJK" || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing fonts-noto-cjk (CJK font for the PDF reports)"; \
	    apt-get install -y -qq fonts-noto-cjk >/dev/null || { apt-get update -qq && apt-get install -y -qq fonts-noto-cjk; }; \
	  else echo "warning: no Noto Sans CJK font: run 'sudo apt-get install fonts-noto-cjk' (sqms doctor checks it)"; fi; }

run: install
	.venv/bin/sqms init --demo
	./scripts/run-local.sh $(PREFECT_PORT)

test: install
	@mkdir -p $(PREFECT_HOME)
	.venv/bin/pytest $(PYTEST_ARGS)

deploy: install   ## production: work pool + every deployment (needs PREFECT_API_URL)
	.venv/bin/sqms deploy

doctor: install
	.venv/bin/sqms doctor

bench: install
	@mkdir -p $(PREFECT_HOME)
	.venv/bin/python -m benchmarks.bench $(BENCH_ARGS)

clean:
	rm -rf var/ .pytest_cache test-artifacts
