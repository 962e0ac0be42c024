# Quick start: `make demo` (sets up, runs a synthetic cycle: dry run then final run)
#              `make test` (sets up, runs the test suite)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STORE  := demo-store

.PHONY: setup demo test check-install lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

demo: setup
	rm -rf $(STORE) $(STORE)-835
	$(PY) -m PaymentProcess.synthetic --db-uri mongomock://$(STORE) --claims 2000 --payees 40 --seed 7
	$(PY) main.py -p PE-SYN-0001 -m dry-run --db-uri mongomock://$(STORE) --remittance-dir $(STORE)-835 2>$(STORE).log
	$(PY) main.py -p PE-SYN-0001 -m final --db-uri mongomock://$(STORE) --remittance-dir $(STORE)-835 2>>$(STORE).log
	@echo "store: $(STORE)/   835 files: $(STORE)-835/   JSON logs: $(STORE).log"

test: setup
	$(PY) -m ruff check .
	$(MAKE) --no-print-directory check-install
	$(PY) -m pytest -q

# The production install: a fresh venv from requirements.txt alone runs every documented command.
check-install:
	PYTHON=$(PYTHON) .ci/check_deployed_install

bench: setup
	$(PY) -m pytest tests/performance -m performance -q -s

clean:
	rm -rf $(VENV) $(STORE) $(STORE)-835 $(STORE).log .pytest_cache .ruff_cache
