# The two commands a newcomer needs: `make run` and `make test`.
# Each creates .venv and installs the project into it when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench system-deps postgres-check clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/chatserver serve

# axe-core for the accessibility tests, at the version tests/axe/package-lock.json pins (npm ci
# checks its hash). Without npm the accessibility tests are skipped, saying why.
AXE := tests/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/axe/package.json tests/axe/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "installing axe-core (pinned in tests/axe/package-lock.json) for the accessibility tests"; \
	  npm ci --prefix tests/axe --silent --no-audit --no-fund && touch $(AXE); \
	else echo "npm is missing: the accessibility tests (axe-core) will be skipped"; fi

# Two workers, each taking a whole test file at a time (module-scoped servers stay shared).
test: $(STAMP) system-deps postgres-check $(AXE)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# make bench SCALE=quick: a look in about 3 minutes (docs/performance.md); standard by default
bench: $(STAMP)
	$(BIN)/python -m bench $(if $(SCALE),--scale $(SCALE))

# Browser tests drive Debian's Chromium (never a downloaded browser); cluster tests start their
# own redis-server. Whichever is missing is named with the tests that need it; as root it is
# then installed with apt-get, otherwise those tests are skipped. `make test SYSTEM_DEPS=`
# skips this step: nothing is installed, tests whose package is missing are skipped.
SYSTEM_DEPS := chromium:chromium redis-server:redis-server npm:npm
system-deps:
	@missing=""; for pair in $(SYSTEM_DEPS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "system-deps: installing with apt-get (you are root):"; \
	  else echo "system-deps: missing system packages (their tests will be skipped):"; fi; \
	  for package in $$missing; do case $$package in \
	    chromium) echo "  chromium      the browser tests drive it headless (widget, console, admin pages)";; \
	    redis-server) echo "  redis-server  the cluster tests start their own Redis servers";; \
	    npm) echo "  npm           installs axe-core, pinned, for the accessibility tests";; \
	    *) echo "  $$package";; esac; done; \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "  (make test SYSTEM_DEPS= skips this and those tests)"; \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "  to install them: sudo apt-get install$$missing, or sudo make system-deps;" \
	    "make test SYSTEM_DEPS= skips this message"; fi; fi

# The store's contract tests run on SQLite and on PostgreSQL. They use the server at
# 127.0.0.1:5432 (user postgres, trust authentication; TEST_POSTGRES_URL names another),
# creating and dropping databases of their own. Without one, the PostgreSQL cases are skipped,
# each saying why, and this says so up front.
postgres-check: $(STAMP)
	@$(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" \
	  2>/dev/null || echo "postgres-check: no PostgreSQL at 127.0.0.1:5432: the PostgreSQL" \
	  "cases of the store tests will be skipped (see tests/databases.py)"

clean:
	rm -rf $(VENV) data .pytest_cache tests/axe/node_modules
