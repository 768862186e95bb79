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
	@bash scripts/ensure_test_deps.sh
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy src/loopml
	$(BIN)/python -m pytest

PEERS := .venv-peers/.installed

$(PEERS):
	@test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet whylogs 'numpy<2' 'pandas<2.3' 'pyarrow<20' 2>&1 | grep -v "^WARNING: Location" || true
	.venv-peers/bin/python -c "import whylogs" && touch $(PEERS)

bench: $(STAMP) $(PEERS)
	@$(BIN)/python -c "import pandera.polars" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_monitor.py
	$(BIN)/python benchmarks/bench_alert.py
	$(BIN)/python benchmarks/bench_loop.py

clean:
	rm -rf $(VENV) .venv-peers build .loopml .pytest_cache .mypy_cache .ruff_cache
