# The two commands: `make demo` and `make test`. Each sets up .venv on first use (quick after).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint setup clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install --quiet -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import loopml" && touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	@bash scripts/ensure_postgres.sh
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy src/loopml
	$(BIN)/python -m pytest

bench: $(STAMP)
	@$(BIN)/python -c "import whylogs, pandera" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python benchmarks/bench_data.py

clean:
	rm -rf $(VENV) .loopml .pytest_cache .mypy_cache .ruff_cache
