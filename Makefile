# Coffre — two commands on a fresh machine: `make run` and `make test`.
# Both install what they need (uv from PyPI, then the locked workspace).

SHELL := /bin/bash
UV_VERSION := 0.13.8
BOOTSTRAP := .bootstrap
UV := $(shell command -v uv >/dev/null 2>&1 && uv --version 2>/dev/null | grep -q "$(UV_VERSION)" && command -v uv || echo $(BOOTSTRAP)/bin/uv)
PYTEST_ARGS ?=

.PHONY: help install run test lint typecheck unit integration bench docs system-deps clean

help:
	@echo "make run        start the whole platform on the embedded broker and Postgres"
	@echo "make test       lint, type-check and run every test (unit + integration)"
	@echo "make bench      print throughput and latency figures"
	@echo "make unit       unit tests only (seconds, no servers)"
	@echo "make docs       write the AsyncAPI document of every event to docs/asyncapi.json"

$(BOOTSTRAP)/bin/uv:
	python3 -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

system-deps:
	@command -v xmlsec1 >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing xmlsec1 (SAML signatures)"; \
	    (apt-get install -y -qq xmlsec1 >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq xmlsec1 >/dev/null)); \
	  else echo "warning: xmlsec1 is missing; install it for SAML single sign-on"; fi; }
	@command -v pdfsig >/dev/null 2>&1 && command -v qpdf >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing poppler-utils and qpdf (external checks of sealed receipts)"; \
	    (apt-get install -y -qq poppler-utils qpdf >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq poppler-utils qpdf >/dev/null)); \
	  else echo "warning: pdfsig/qpdf are missing; install poppler-utils and qpdf"; fi; }
	@command -v softhsm2-util >/dev/null 2>&1 && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing softhsm2 and fonts-dejavu-core (archive: HSM seal tests, e-mail body font)"; \
	    (apt-get install -y -qq softhsm2 fonts-dejavu-core >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq softhsm2 fonts-dejavu-core >/dev/null)); \
	  else echo "warning: softhsm2 is missing; the archive's PKCS#11 seal tests will be skipped"; fi; }
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing promtool (alert and dashboard checks)"; \
	    (apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null)); \
	  else echo "warning: promtool is missing; the alert-rule tests will be skipped"; fi; }

# Bytecode is compiled at install (dependencies by uv, the workspace's own sources by compileall;
# both skip what is already fresh): an environment with PYTHONDONTWRITEBYTECODE=1 (CI images
# often set it) otherwise compiles every module again in every process it starts (~4 s of CPU
# for each service or CLI start here, minutes of wall time on a loaded machine).
install: $(if $(findstring $(BOOTSTRAP),$(UV)),$(BOOTSTRAP)/bin/uv) system-deps
	$(UV) sync --all-packages --frozen --quiet --compile-bytecode $(if $(filter containers,$(COFFRE_TEST_INFRA)),--group containers)
	$(UV) run --frozen --no-sync python -m compileall -q -j 0 libs/*/src services/*/src tools/*/src

run: install
	$(UV) run --frozen coffre-dev run

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

typecheck: install
	$(UV) run --frozen mypy --strict libs/common/src libs/testing/src tools/devstack/src \
	  tools/sandbox-bank/src $(wildcard services/*/src)

unit: install
	$(UV) run --frozen pytest -m unit -q $(PYTEST_ARGS)

integration: install
	$(UV) run --frozen pytest -m integration -q $(PYTEST_ARGS)

# The suite runs in TEST_WORKERS pytest-xdist processes, each test module whole in one worker
# (module-scoped brokers stay single); every worker starts its own Postgres and brokers.
# Tracebacks are Python's own: pytest's long format can fail on a frame without a line number
# (seen on Python 3.11), which kills the worker and hides which test failed.
TEST_WORKERS ?= 4

test: lint typecheck
	$(UV) run --frozen pytest -q -n $(TEST_WORKERS) --dist loadfile --tb=native $(PYTEST_ARGS)

bench: install
	$(UV) run --frozen coffre-dev bench

docs: install
	mkdir -p docs
	$(UV) run --frozen python -m common.asyncapi > docs/asyncapi.json

clean:
	rm -rf .state .bench .pytest_cache .mypy_cache .ruff_cache
