# dropswap developer commands. Everything runs from a venv built from the pinned requirements.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements-stamp
REQS   := requirements-dev.txt requirements-nodeps.txt layers/dropswap/requirements.txt
# The layer's package, as Lambda puts it on the path, plus the repo root for local/ and tests/.
export PYTHONPATH := $(CURDIR)/layers/dropswap:$(CURDIR)
# Lambda's runtime, python3.13: the first that runs, from PATH, else the newest pyenv 3.13 (pyenv's shim is
# on PATH even when 3.13 is not selected, and then fails). Its real path, so its folder can go first on PATH.
ifndef PY313
PY313 := $(shell for p in python3.13 $$(ls -d $(HOME)/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && break; done)
endif
NO_PY313 := python3.13 not found (PATH or ~/.pyenv/versions/3.13*): install it, e.g. 'pyenv install 3.13'
# MiniStack, the local AWS (local/ministack.py), in its own python3.13 venv: it pins its own botocore,
# and the functions run on its interpreter.
MINISTACK := .venvs/ministack/.requirements-stamp
SAM       := .venvs/sam/.requirements-stamp
CHECKOV   := .venvs/checkov/.requirements-stamp
VENV313   := .venvs/py313/.requirements-stamp

.PHONY: help venv ministack-venv envs build unit313 layer-test browser lint typecheck test unit integration demo up bench soak clean

help:
	@echo "make demo   - run the whole pipeline offline on the local stack, write demo-out/index.html"
	@echo "make test   - lint, type-check, template checks and the whole test suite"
	@echo "make up     - start the local stack and leave it running (Ctrl-C stops it)"
	@echo "make build  - sam build without Docker: the arm64 artifact in .aws-sam/build (needs python3.13)"
	@echo "make bench  - benchmarks, writes benchmarks/REPORT.md"
	@echo "make soak   - bounded load + fault + fuzz suite on the local stack"

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r layers/dropswap/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

venv: $(STAMP)

$(MINISTACK): requirements-ministack.txt
	@test -n "$(PY313)" || { echo "python3.13 not found (PATH or ~/.pyenv/versions/3.13*): install it, e.g. 'pyenv install 3.13'" >&2; exit 1; }
	test -x .venvs/ministack/bin/python || $(PY313) -m venv .venvs/ministack
	.venvs/ministack/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-ministack.txt
	touch $@

ministack-venv: $(MINISTACK)

# SAM CLI, in its own venv (its pins are not the dev venv's).
$(SAM): requirements-sam.txt
	@test -n "$(PY313)" || { echo "$(NO_PY313)" >&2; exit 1; }
	test -x .venvs/sam/bin/python || $(PY313) -m venv .venvs/sam
	.venvs/sam/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

# The deployable artifact in .aws-sam/build, without Docker: the functions' python3.13 builder needs
# python3.13 on PATH; the arm64 layer comes from layers/dropswap/Makefile (aarch64 wheels + 3.13 bytecode).
# Quiet when all is well: SAM's progress goes to .dropswap/sam-build.log (and its "requirements.txt file not
# found" for each function, which only means the functions' dependencies are the layer's); shown on failure.
build: $(SAM)
	@test -n "$(PY313)" || { echo "$(NO_PY313)" >&2; exit 1; }
	@mkdir -p .dropswap
	@echo "sam build --no-use-container (log: .dropswap/sam-build.log)"
	@PATH="$(dir $(PY313)):$$PATH" SAM_CLI_TELEMETRY=0 .venvs/sam/bin/sam build --no-use-container \
		> .dropswap/sam-build.log 2>&1 || { cat .dropswap/sam-build.log >&2; echo "sam build failed" >&2; exit 1; }
	@echo "built: .aws-sam/build (the arm64 layer and the four functions); deploy with sam deploy --guided"

# python3.13 (Lambda's runtime) with only what tests/unit need; the dev venv stays on 3.11 for mediapipe.
$(VENV313): requirements-py313.txt
	@test -n "$(PY313)" || { echo "$(NO_PY313)" >&2; exit 1; }
	test -x .venvs/py313/bin/python || $(PY313) -m venv .venvs/py313
	.venvs/py313/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-py313.txt
	touch $@

# On both cores (pytest-xdist), with the layer's branch coverage and its floor (pyproject.toml
# [tool.coverage]): measured here, on Lambda's python3.13, by the unit suite that drives every module.
unit313: $(VENV313)
	.venvs/py313/bin/pytest tests/unit tests/cli -n 2 --cov=dropswap --cov-report=term:skip-covered

# The layer built for this machine by its own make target, every handler imported from it on python3.13
# (bytecode used, nothing written); and make build's arm64 layer. make test runs make build for it:
# SAM CLI costs about a minute to install, and only then does CI prove the Docker-free build works.
layer-test: $(VENV313) build
	.venvs/py313/bin/pytest -m build tests/build

# checkov (template security scan), in its own venv: its pins are not the dev venv's.
$(CHECKOV): requirements-checkov.txt
	test -x .venvs/checkov/bin/python || $(PYTHON) -m venv .venvs/checkov
	.venvs/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# cfn-lint on the SAM-transformed template runs in the tests (tests/template); checkov offline
# (--skip-download), each skipped check justified in its resource's Metadata.
lint: $(STAMP) $(CHECKOV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/cfn-lint template.yaml
	.venvs/checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/dropswap/dropswap dropswap_cli functions local benchmarks tests devkit events

# Every venv and the browser, side by side (make -j): pip and apt mostly wait on disk and unpacking, and a
# fresh clone needs all five.
envs: $(STAMP) $(MINISTACK) $(SAM) $(CHECKOV) $(VENV313) browser

# The dev venv's run. The local stack's tests (one shared stack: each xdist worker would start its own) mostly
# wait on the stack, so the rest of the suites run beside them on one worker, their output kept in
# .dropswap/non-stack-tests.log and shown when both are done; make test fails if either does.
test:
	@$(MAKE) --no-print-directory -j4 -Otarget envs
	@$(MAKE) --no-print-directory lint typecheck unit313 layer-test
	@mkdir -p .dropswap
	@echo "pytest -m 'not integration' (python3.11, in the background: .dropswap/non-stack-tests.log)"
	@$(VENV)/bin/pytest -n 1 -m "not integration" > .dropswap/non-stack-tests.log 2>&1 & other=$$!; \
		$(VENV)/bin/pytest -m integration --durations=8; stack=$$?; \
		wait $$other; rest=$$?; \
		echo "--- pytest -m 'not integration' (python3.11): .dropswap/non-stack-tests.log ---"; \
		if test $$rest = 0; then tail -n 4 .dropswap/non-stack-tests.log; else cat .dropswap/non-stack-tests.log; fi; \
		test $$stack = 0 && test $$rest = 0

# Headless Chromium, for the test that renders the faces preview as a person sees it (Debian's package;
# sudo when not root).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

unit: $(STAMP)
	$(VENV)/bin/pytest tests/unit

integration: $(STAMP) $(MINISTACK)
	$(VENV)/bin/pytest -m integration

demo: $(STAMP) $(MINISTACK)
	$(PY) -m local.demo

up: $(STAMP) $(MINISTACK)
	$(PY) -m local.stack $(ARGS)

bench: $(STAMP) $(MINISTACK) $(VENV313)
	$(PY) -m benchmarks.run

# Load + faults on the local stack (writes the Soak section of benchmarks/REPORT.md), then the fuzz
# tests with the large hypothesis profile, whose result and per-test budgets (hypothesis' statistics) are
# added to that section.
soak: $(STAMP) $(MINISTACK)
	$(PY) -m benchmarks.soak
	HYPOTHESIS_PROFILE=soak $(VENV)/bin/pytest tests/fuzz -q -p no:cacheprovider --junitxml=.dropswap/fuzz-soak.xml \
		--hypothesis-show-statistics > .dropswap/fuzz-soak.txt; status=$$?; cat .dropswap/fuzz-soak.txt; exit $$status
	$(PY) -m benchmarks.soak --record-fuzz .dropswap/fuzz-soak.xml --fuzz-statistics .dropswap/fuzz-soak.txt

clean:
	rm -rf $(VENV) .venvs .pytest_cache .mypy_cache .ruff_cache demo-out .dropswap .aws-sam
