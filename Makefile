# Two commands do all the set-up on a fresh machine:
#   make run   start the pipeline on embedded defaults with the demo feed (Ctrl-C stops it)
#   make test  run the whole test suite, slow end-to-end tests included
# For development: make check (lint, format, types, pure tests: under a minute), make lint, make types.
# Both create .venv if it is missing and install okrstream into it (again when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test check lint types bench clean

run: $(INSTALLED)
	$(BIN)/okrstream demo

test: $(INSTALLED)
	$(BIN)/pytest

check: lint types $(INSTALLED)
	$(BIN)/pytest -q -m pure

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(INSTALLED)
	$(BIN)/mypy

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.end_to_end

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .okrstream .pytest_cache .ruff_cache
