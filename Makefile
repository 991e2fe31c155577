# dropswap developer commands. Everything runs from a venv built from the pinned requirements.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements-stamp
REQS   := requirements-dev.txt requirements-nodeps.txt layers/dropswap/requirements.txt
# The layer's package, as Lambda puts it on the path, plus the repo root for local/ and tests/.
export PYTHONPATH := $(CURDIR)/layers/dropswap:$(CURDIR)

.PHONY: help venv lint typecheck test unit integration demo up bench soak clean

help:
	@echo "make demo   - run the whole pipeline offline on the local stack, write demo-out/index.html"
	@echo "make test   - lint, type-check, template checks and the whole test suite"
	@echo "make up     - start the local stack and leave it running (Ctrl-C stops it)"
	@echo "make bench  - benchmarks, writes benchmarks/REPORT.md"
	@echo "make soak   - bounded load + fault + fuzz suite on the local stack"

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/cfn-lint template.yaml

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/dropswap/dropswap functions local benchmarks tests

test: lint typecheck
	$(VENV)/bin/pytest

unit: $(STAMP)
	$(VENV)/bin/pytest tests/unit

integration: $(STAMP)
	$(VENV)/bin/pytest -m integration

demo: $(STAMP)
	$(PY) -m local.demo

up: $(STAMP)
	$(PY) -m local.stack $(ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks.run

# Load + faults on the local stack (writes the Soak section of benchmarks/REPORT.md), then the fuzz
# tests with the large hypothesis profile, whose result is added to that section.
soak: $(STAMP)
	$(PY) -m benchmarks.soak
	HYPOTHESIS_PROFILE=soak $(VENV)/bin/pytest tests/fuzz -q -p no:cacheprovider --junitxml=.dropswap/fuzz-soak.xml
	$(PY) -m benchmarks.soak --record-fuzz .dropswap/fuzz-soak.xml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-out .dropswap
