# The two commands of the README, plus lint and bench. Every install step lives here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
ADMIN_EMAIL ?= admin@example.org

.PHONY: run test lint format bench fuzz install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/verenigingen init --admin-email $(ADMIN_EMAIL)
	$(BIN)/verenigingen demo --if-empty
	@echo
	@echo "Administrator: $(ADMIN_EMAIL)"
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

test: lint
	$(BIN)/pytest -q
	$(BIN)/python fuzz/fuzz_api.py --max-examples 20

# The API fuzzed long: schemathesis against a real server, as administrator and as member.
# FUZZ_EXAMPLES cases per operation and phase; FUZZ_SEED picks other inputs (docs/security.md).
FUZZ_EXAMPLES ?= 300
FUZZ_SEED ?= 20261203
fuzz: $(STAMP)
	$(BIN)/python fuzz/fuzz_api.py --max-examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED)

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

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
