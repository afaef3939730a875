# The README's commands. Everything installs into $(VENV) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= var

.PHONY: install install-locust-lowest chromium test-programs load ui serve test test-locust-lowest lint bench-server \
	bench-generator bench-scale bench-accuracy bench-report docs clean test-blas test-serial

$(BIN)/chatload: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
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

# Programs some tests drive, installed with apt-get when missing: Chromium (the
# report and the web UI, checked as a person sees them), libfaketime (a worker
# whose wall clock is wrong), Prometheus (scraping a run's metrics) and PostgreSQL
# (a history store in a database; pg_ctlcluster is how its package shows).
TEST_PROGRAMS := chromium:chromium faketime:faketime prometheus:prometheus \
	pg_ctlcluster:postgresql

test-programs:
	@missing=""; for pair in $(TEST_PROGRAMS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
	[ -z "$$missing" ] || { \
	  command -v apt-get >/dev/null || { echo "install$$missing for the tests"; exit 0; }; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  echo "installing$$missing (apt-get) for the tests"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }

chromium: test-programs

# Two workers for the tests that check what happens; then, alone, the few whose
# figures are timing-sensitive (marked serial), so that neither disturbs the other.
# SERIAL=no leaves those out (CI runs them once, on the oldest Python: they check
# figures, which do not depend on the Python version); MARKS picks the others.
SERIAL ?= yes
MARKS ?= not serial
# LINT=no leaves ruff and mypy out (CI runs them once: mypy checks as Python 3.11).
LINT ?= yes
# Three test processes on two cores: those tests mostly wait on runs of people who
# think for seconds (three kept 1.1 cores busy and took 9.5 min, against 12.5 with
# two; four, 8.7 min, and a driver not connected in a fixed wait, since mended).
TEST_WORKERS ?= 3
# PYTEST_ARGS: more of pytest's options (CI: no cache, beside another pytest).
PYTEST_ARGS ?=
test: install $(if $(filter no,$(LINT)),,lint) test-programs
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "$(MARKS)" --durations=15 $(PYTEST_ARGS)
	@if [ "$(SERIAL)" = yes ]; then $(MAKE) --no-print-directory test-serial; fi

# The timing-sensitive tests alone, one at a time.
test-serial: install test-programs
	$(BIN)/pytest -m serial --durations=0

# The numeric units (fits, intervals, significance, the search's and the SLOs'
# decisions) once more under another OpenBLAS kernel than the one this processor
# picks by itself: their results must not depend on it. BLAS_KERNEL names one
# (OPENBLAS_CORETYPE: Haswell, SandyBridge, Prescott, SkylakeX, Zen, ...).
NUMERIC_TESTS := tests/analysis/test_usl.py tests/analysis/test_significance.py \
	tests/analysis/test_capacity.py tests/analysis/test_compare.py \
	tests/analysis/test_search_report.py tests/test_drift.py tests/test_search.py \
	tests/test_slo.py tests/test_sequential.py tests/records/test_hdr.py
test-blas: install
	@kernel="$(BLAS_KERNEL)"; \
	if [ -z "$$kernel" ]; then kernel=$$($(BIN)/python -c 'import numpy, threadpoolctl; \
	  own = {p.get("architecture") for p in threadpoolctl.threadpool_info()}; \
	  print("SandyBridge" if "Haswell" in own else "Haswell")'); fi; \
	echo "numeric tests under OPENBLAS_CORETYPE=$$kernel"; \
	OPENBLAS_CORETYPE=$$kernel $(BIN)/pytest -n 2 -p no:cacheprovider $(NUMERIC_TESTS)

# The lowest Locust that pyproject.toml allows, in a venv of its own pinned by
# constraints-locust-lowest.txt: the tests of what leans on Locust's internals and
# a few whole runs (make test covers the newest, pinned in constraints.txt).
LOWEST_VENV ?= .venv-locust-lowest
LOCUST_TESTS := tests/loadgen/wiring/test_embedded.py tests/loadgen/wiring/test_locust_csv.py \
	tests/loadgen/test_environment.py tests/loadgen/test_locustfile.py \
	tests/loadgen/test_distributed.py tests/loadgen/engine/test_options.py

$(LOWEST_VENV)/bin/chatload: pyproject.toml constraints-locust-lowest.txt
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(LOWEST_VENV)/bin/pip install --quiet --disable-pip-version-check \
		-c constraints-locust-lowest.txt -e '.[test]'
	touch $@

install-locust-lowest: $(LOWEST_VENV)/bin/chatload

test-locust-lowest: test-programs install-locust-lowest
	$(LOWEST_VENV)/bin/python -c 'import locust; print("Locust", locust.__version__)'
	$(LOWEST_VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" $(PYTEST_ARGS) \
		$(LOCUST_TESTS)

# The generated parts of docs/ (options, CSV columns), written from the code.
docs: install
	$(BIN)/python -m chatload.docgen

bench-server: install
	$(BIN)/chatload bench-server

bench-generator: install
	$(BIN)/chatload bench-generator

bench-scale: install
	$(BIN)/chatload bench-scale

bench-accuracy: install
	$(BIN)/chatload bench-accuracy

bench-report: install
	$(BIN)/chatload bench-report

clean:
	rm -rf $(VENV) .ci-venv* $(LOWEST_VENV) $(DATA) results .pytest_cache .mypy_cache .ruff_cache
