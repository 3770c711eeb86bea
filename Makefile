# The two commands of the README, plus lint and bench. Every install step lives here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
ADMIN_EMAIL ?= admin@example.org
DEMO_PASSWORD ?= demo-vereniging-2026
LOCALES := src/verenigingen/web/locales

.PHONY: run test lint format bench fuzz load install clean messages browser screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/verenigingen init --admin-email $(ADMIN_EMAIL)
	$(BIN)/verenigingen demo --if-empty --password $(DEMO_PASSWORD)
	@echo
	@echo "Open:          http://$(HOST):$(PORT)"
	@echo "Member portal: lid@example.org / $(DEMO_PASSWORD)"
	@echo "Administrator: $(ADMIN_EMAIL) / $(DEMO_PASSWORD) (the demo password; only if the demo gave it)"
	@echo "API token:     $$($(BIN)/verenigingen users token $(ADMIN_EMAIL))"
	@echo "Try:           curl -H 'Authorization: Bearer <token>' http://$(HOST):$(PORT)/api/v1/members"
	@echo
	$(BIN)/verenigingen serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/ruff format --check src tests bench fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench fuzz
	$(BIN)/ruff format src tests bench fuzz

# The browser tests drive Debian's chromium; install it when it is missing (needs root, as CI is).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else echo "chromium is not installed: the browser tests will be skipped (apt-get install chromium)"; fi; }

# Two test processes (pytest-xdist), each test file's tests in one of them; each process has
# throw-away databases of its own on the servers. TEST_PROCESSES=0 runs them in this one.
TEST_PROCESSES ?= 2
test: lint browser
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist loadfile
	$(BIN)/python fuzz/fuzz_api.py --max-examples 20

# The API fuzzed long: schemathesis against a real server, as administrator and as member.
# FUZZ_EXAMPLES cases per operation and phase; FUZZ_SEED picks other inputs (docs/security.md).
FUZZ_EXAMPLES ?= 300
FUZZ_SEED ?= 20261203
fuzz: $(STAMP)
	$(BIN)/python fuzz/fuzz_api.py --max-examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED)

# The load test: locust, headless and on loopback, against the embedded shape (SQLite, one
# serve) and PostgreSQL + Redis (serve --workers 2, two job workers); its own database
# verenigingen_load and Redis db 13. Not part of `make test`. Figures: docs/benchmarks.md.
LOAD_USERS ?= 8
LOAD_SECONDS ?= 30
load: $(STAMP)
	$(BIN)/python bench/load/run.py --users $(LOAD_USERS) --seconds $(LOAD_SECONDS)

# Every benchmark; those that compare engines also run on PostgreSQL and Redis when
# VERENIGINGEN_TEST_POSTGRES_URL / VERENIGINGEN_TEST_REDIS_URL are set. Figures: docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python bench/demo_load.py
	$(BIN)/python bench/dues_generation.py
	$(BIN)/python bench/capture_overhead.py
	$(BIN)/python bench/payment_history.py
	$(BIN)/python bench/payment_submit.py
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/indexes.py
	$(BIN)/python bench/pages.py

# The pages' text: extract it from the page modules and templates, and merge it into each
# language's catalog (translate the new entries in $(LOCALES)/nl/LC_MESSAGES/messages.po).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project verenigingen \
		--copyright-holder verenigingen -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages --no-wrap \
		--ignore-obsolete

# The README's screenshots of the pages, taken in the browser (docs/screenshots/).
screenshots: $(STAMP) browser
	$(BIN)/python docs/screenshots/take.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
