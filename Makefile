# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-embedded test-local-pg lint fuzz bench bench-smoke schemas clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m console.assets
	@touch $(STAMP)

## make run: embedded PostgreSQL + Kafka-protocol broker + every process, demo company seeded
run: $(STAMP)
	$(BIN)/dist run

## make test: the whole suite (embedded PostgreSQL unless DATABASE_URL is set)
test: $(STAMP)
	$(BIN)/pytest -q

## make fuzz: schemathesis against the four apps, 25 examples per operation, every check
fuzz: $(STAMP)
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-25} $(BIN)/pytest -q -s tests/integration/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make bench: bare kafka-python on both brokers, the write side and saga (bench), the
## event-driven warnings' event-to-inbox latency, then the read side on a national dataset
bench: $(STAMP)
	$(BIN)/python -m bench.brokers
	$(BIN)/python -m bench
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
	  $(BIN)/python -m bench --kafka apache; \
	else echo "the saga on Apache Kafka skipped: it needs Java 17+ and Maven"; fi
	$(BIN)/python -m bench.warning_latency
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.readmodels $(READMODELS_ARGS)
	$(BIN)/python -m bench.imports

## make bench-smoke: the benchmarks at toy sizes, so CI notices when one stops running
bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke
	$(BIN)/python -m bench.warning_latency --smoke
	$(BIN)/python -m bench.readmodels --smoke
	$(BIN)/python -m bench.imports --smoke

## Re-export the JSON Schemas of the integration events under contracts/schemas
schemas: $(STAMP)
	$(BIN)/dist export-schemas

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache
