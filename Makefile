# Quick start: `make demo` (sets up, runs a synthetic cycle: dry run, approval, final run)
#              `make test` (sets up, runs the test suite)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STORE  := demo-store

.PHONY: setup demo test test-server check-install lint bench bench-server clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

NODE_PARSER := tests/node/node_modules/.package-lock.json

# The npm NACHA parser the ACH tests use; without node the test says it is skipped.
$(NODE_PARSER): tests/node/package.json tests/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/node --no-audit --no-fund; \
	else echo "npm not found: the Node.js NACHA parser test will be skipped"; fi

setup: $(VENV)/.installed $(NODE_PARSER)

demo: setup
	rm -rf $(STORE) $(STORE)-835 $(STORE)-bank
	$(PY) -m PaymentProcess.synthetic --db-uri mongomock://$(STORE) --claims 2000 --payees 40 --seed 7
	$(PY) main.py -p PE-SYN-0001 -m dry-run --db-uri mongomock://$(STORE) \
		--remittance-dir $(STORE)-835 --treasury-dir $(STORE)-bank 2>$(STORE).log
	$(PY) -m PaymentProcess.controls approve -p PE-SYN-0001 --db-uri mongomock://$(STORE) \
	  --approver demo-checker --run-id "$$($(PY) -m PaymentProcess.controls history \
	  -p PE-SYN-0001 --db-uri mongomock://$(STORE) --kind DRY_RUN --ids | tail -n 1)"
	$(PY) main.py -p PE-SYN-0001 -m final --db-uri mongomock://$(STORE) \
		--remittance-dir $(STORE)-835 --treasury-dir $(STORE)-bank 2>>$(STORE).log
	$(PY) -m PaymentProcess.controls compare -p PE-SYN-0001 --db-uri mongomock://$(STORE)
	@echo "store: $(STORE)/   835 files: $(STORE)-835/   bank files: $(STORE)-bank/   JSON logs: $(STORE).log"

test: setup
	$(PY) -m ruff check .
	$(MAKE) --no-print-directory check-install
	$(PY) -m pytest -q

# The real-server tier alone (also part of `make test`): SecantusDB started by the tests,
# or PAYMENT_TEST_MONGODB_URI=mongodb://... to run it against a MongoDB deployment.
test-server: setup
	$(PY) -m pytest -q tests/integration/test_real_server_*.py

# The production install: a fresh venv from requirements.txt alone runs every documented command.
check-install:
	PYTHON=$(PYTHON) .ci/check_deployed_install

bench: setup
	$(PY) -m pytest tests/performance -m performance -q -s

# The real-server benchmark (not part of `make test`): dry and final run against the server's
# own floor, on SecantusDB started here or on PAYMENT_TEST_MONGODB_URI; CLAIMS=10000 for more.
CLAIMS ?= 2000
bench-server: setup
	$(PY) -m tests.performance.bench_server --claims $(CLAIMS)

clean:
	rm -rf $(VENV) $(STORE) $(STORE)-835 $(STORE)-bank $(STORE).log .pytest_cache .ruff_cache tests/node/node_modules
