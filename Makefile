# The README's commands. Everything installs into $(VENV) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= var

.PHONY: install serve test lint bench-server clean

$(BIN)/chatload: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(BIN)/chatload

# Quick start: a provisioned dataset served by the reference server (Ctrl-C stops it).
serve: install
	mkdir -p $(DATA)
	$(BIN)/chatload provision --db $(DATA)/chat.db --users-out $(DATA)/users.csv --force
	$(BIN)/chatload serve --db $(DATA)/chat.db

lint: install
	$(BIN)/ruff check src tests locustfiles
	$(BIN)/ruff format --check src tests locustfiles
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench-server: install
	$(BIN)/chatload bench-server

clean:
	rm -rf $(VENV) .ci-venv $(DATA) .pytest_cache .mypy_cache .ruff_cache
