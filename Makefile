SHELL := /bin/bash
# The two commands of the README:
#   make demo   sets up .venv (if missing) and runs the main job, the synthetic recipe
#   make test   sets up .venv (if missing) and runs the test suite
# Everything is installed from pyproject.toml, pinned by constraints.txt.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.vxt-installed
PYTEST_ARGS ?=
# The suite runs in TEST_JOBS processes (pytest-xdist), a test file to a process; TEST_JOBS=0 runs it in one.
TEST_JOBS ?= 2

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing vxt and its pinned dependencies into $(VENV) (first time: a few minutes)"
	@$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,plot]' 2>&1 \
		| { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }; \
		test "$${PIPESTATUS[0]}" -eq 0
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

test: $(STAMP)
	@$(PY) -m pytest -q $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

bench: $(STAMP)
	@$(PY) bench/decode.py
	@$(PY) bench/score.py

clean:
	rm -rf $(VENV) build *.egg-info
