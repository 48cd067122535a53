# Saintara Admin. Quick start: `make run` (portal on the embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
ADMIN_EMAIL ?= admin@demo.saintara.id
HOST ?= 127.0.0.1
PORT ?= 5000
PO_FILES := $(shell find app -path '*/translations/*/LC_MESSAGES/*.po')
MO_FILES := $(PO_FILES:.po=.mo)
PYTEST_ARGS ?=
# Worker processes of the suite (pytest-xdist); 0 runs it in this one process.
TEST_WORKERS ?= 2

.PHONY: run test setup dev-setup translations services browser prometheus nginx lint format vendor i18n-extract rate-limit-docs clean

## run: set everything up and serve the portal with demo data at http://127.0.0.1:5000
run: setup
	$(FLASK) db upgrade
	ADMIN_EMAIL="$(ADMIN_EMAIL)" $(FLASK) users create-superadmin --if-missing
	$(FLASK) seed-demo --if-empty
	@echo "Saintara Admin: http://$(HOST):$(PORT)  (sign in as $(ADMIN_EMAIL))"
	$(FLASK) run --host $(HOST) --port $(PORT)

## test: install what the suite needs and run all of it (unit, PostgreSQL/Redis, Chromium, Prometheus, nginx)
test: dev-setup lint services browser prometheus nginx
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --cov --cov-report=term-missing:skip-covered \
		--tracing retain-on-failure --screenshot only-on-failure --output test-results $(PYTEST_ARGS)

setup: $(VENV)/.runtime translations

dev-setup: $(VENV)/.dev translations

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

## translations: compile the message catalogs the portal loads
translations: $(MO_FILES)

%.mo: %.po | $(VENV)/.runtime
	$(BIN)/python -c "from babel.messages.pofile import read_po; from babel.messages.mofile import write_mo; \
	write_mo(open('$@', 'wb'), read_po(open('$<', 'rb')))"

## i18n-extract: add new strings to every catalog (then translate the empty ones)
i18n-extract: $(VENV)/.runtime
	$(BIN)/python scripts/dev/i18n.py extract

## services: make sure PostgreSQL and Redis answer (start them when installed but stopped)
services:
	scripts/dev/ensure-services.sh

## browser: install Debian's Chromium for the end-to-end tests when it is missing
browser:
	scripts/dev/ensure-chromium.sh

## prometheus: install Debian's Prometheus and promtool for the monitoring tests when missing
prometheus:
	scripts/dev/ensure-prometheus.sh

## nginx: install Debian's nginx for the load-test stack and its smoke test when it is missing
nginx:
	scripts/dev/ensure-nginx.sh

## load-smoke: the load test's smoke run alone (stack up, a few users for 40 s through nginx, stack down)
load-smoke: dev-setup services nginx
	$(BIN)/pytest tests/integration/test_load_smoke.py --no-cov -q

## rate-limit-docs: rewrite docs/API_RATE_LIMITS.md from app/security/ratelimits.py
rate-limit-docs: $(VENV)/.runtime
	$(BIN)/python scripts/dev/rate_limit_docs.py

lint: $(VENV)/.dev
	$(BIN)/ruff check app tests scripts migrations

format: $(VENV)/.dev
	$(BIN)/ruff format app tests scripts

## vendor: refresh static/vendor/ from the versions pinned in package.json (needs npm)
vendor:
	npm ci --no-audit --no-fund
	npm run vendor

clean:
	rm -rf $(VENV) test-results .pytest_cache .coverage htmlcov
