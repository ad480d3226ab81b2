# Vitrylo: set up, run, test.  `make run` and `make test` are all a newcomer needs.
#
# Overridable: PYTHON (the interpreter that creates the venv), VITRYLO_INSTANCE_PATH
# (where `make run` keeps its database and keys), HOST, PORT, PYTEST_ARGS, BENCH_ARGS.

PYTHON ?= python3
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
VITRYLO := $(VENV)/bin/vitrylo
RUFF := $(VENV)/bin/ruff
STAMP := $(VENV)/.installed

VITRYLO_INSTANCE_PATH ?= $(CURDIR)/instance
HOST ?= 127.0.0.1
PORT ?= 5000
ADMIN ?= admin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format bench clean distclean

help:
	@echo "make run      set up and serve the demo on http://$(HOST):$(PORT) (SQLite)"
	@echo "make test     set up and run the test suite (PYTEST_ARGS=... to pass options)"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make format   ruff format + ruff check --fix"
	@echo "make bench    kernel benchmarks (BENCH_ARGS=... to pass options)"
	@echo "make clean    remove caches and build output (keeps .venv and instance/)"
	@echo "make distclean  clean, and remove .venv too"

venv: $(STAMP)

# Re-installs whenever pyproject.toml changes (new dependency, new entry point).
$(STAMP): pyproject.toml
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --upgrade pip
	$(VENV_PY) -m pip install --quiet -e '.[test]'
	@touch $@

# init is idempotent: the first run creates the database, the demo licence and the admin
# account and prints its password; later runs only install what is new.
# Only `run` uses the instance: the tests and the bench make their own throw-away ones.
run: export VITRYLO_INSTANCE_PATH := $(VITRYLO_INSTANCE_PATH)
run: venv
	$(VITRYLO) init --demo --admin '$(ADMIN)'
	@echo "Instance folder: $(VITRYLO_INSTANCE_PATH)"
	$(VITRYLO) serve --host $(HOST) --port $(PORT)

# Exit code 5 means pytest collected nothing: that is a failure, not a pass.
test: venv
	@$(VENV_PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if test $$rc -eq 5; then echo "ERROR: pytest collected no tests (exit code 5)." >&2; fi; \
	  exit $$rc

lint: venv
	$(RUFF) check .
	$(RUFF) format --check .

format: venv
	$(RUFF) format .
	$(RUFF) check --fix .

bench: venv
	$(VENV_PY) bench/bench_kernel.py $(BENCH_ARGS)

clean:
	rm -rf build dist .pytest_cache .ruff_cache test-artifacts *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
