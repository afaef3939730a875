# The README's commands. Everything installs into $(VENV) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= var

.PHONY: install chromium load ui serve test lint bench-server bench-generator \
	bench-accuracy bench-report clean

$(BIN)/chatload: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(BIN)/chatload

# Quick start: the smoke scenario (a minute, 20 users) on the embedded reference
# server, then its HTML report. The run's exit code (1 on a breached SLO) is kept.
load: install
	mkdir -p results
	$(BIN)/locust -f locustfiles/chat.py --config scenarios/smoke.conf; status=$$?; \
	$(BIN)/chatload report results/smoke -o results/smoke-report || exit $$?; \
	exit $$status

# The same from Locust's web UI (http://localhost:8089).
ui: install
	$(BIN)/locust -f locustfiles/chat.py

# The reference server alone, on a provisioned dataset (Ctrl-C stops it).
serve: install
	mkdir -p $(DATA)
	$(BIN)/chatload provision --db $(DATA)/chat.db --users-out $(DATA)/users.csv --force
	$(BIN)/chatload serve --db $(DATA)/chat.db

lint: install
	$(BIN)/ruff check src tests locustfiles analysis
	$(BIN)/ruff format --check src tests locustfiles analysis
	$(BIN)/mypy

# The report tests open the HTML report in headless Chromium, as a person would.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "install Chromium for the report tests"; exit 0; }; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  echo "installing Chromium (apt-get) for the report tests"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

test: lint chromium
	$(BIN)/pytest

bench-server: install
	$(BIN)/chatload bench-server

bench-generator: install
	$(BIN)/chatload bench-generator

bench-accuracy: install
	$(BIN)/chatload bench-accuracy

bench-report: install
	$(BIN)/chatload bench-report

clean:
	rm -rf $(VENV) .ci-venv $(DATA) results .pytest_cache .mypy_cache .ruff_cache
