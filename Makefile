# Two commands for a fresh machine with Python 3.11+ and pip:
#   make demo   - the whole workflow against both sandboxes, on embedded SQLite
#   make test   - the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopbridge demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python bench/worker_throughput.py
	$(BIN)/python bench/shopify_throttle.py
	$(BIN)/python bench/reservation_latency.py
	$(BIN)/python bench/stock_sync.py lag
	$(BIN)/python bench/stock_sync.py oversell
	$(BIN)/python bench/stock_sync.py full --skus 10000

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
