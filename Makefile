# Set-up and common tasks. Everything installs into .venv; torch==2.13.0 (CPU) is installed
# only when the interpreter has no torch, so an existing torch is never replaced.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hwnas-installed

.PHONY: setup search test test-all clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

search: $(STAMP)  ## the default search (examples/digits.toml) -> runs/digits
	rm -rf runs/digits
	$(VENV)/bin/hwnas search examples/digits.toml --out runs/digits

test: $(STAMP)  ## the default test suite (what CI runs)
	$(PY) -m pytest -q

test-all: $(STAMP)  ## including the slow tests
	$(PY) -m pytest -q -m ""

clean:
	rm -rf $(VENV) runs .pytest_cache
