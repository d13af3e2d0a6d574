# Every target builds its own virtual environment from the project's declared dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench sandbox compile clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[sandbox,test]'
	touch $(STAMP)

# An editable install is not byte-compiled (and PYTHONDONTWRITEBYTECODE may forbid caching),
# so every start would compile the package again; a regular pip install compiles it.
compile: $(STAMP)
	$(BIN)/python -m compileall -q bluegreen_hooks

demo: compile
	$(BIN)/bluegreen demo

test: compile lint typecheck
	$(BIN)/pytest -n 4 --maxschedchunk 2 --durations=25 tests

lint: $(STAMP)
	$(BIN)/ruff check bluegreen_hooks tests bench
	$(BIN)/ruff format --check bluegreen_hooks tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

sandbox: $(STAMP)
	$(BIN)/bluegreen sandbox --app examples/triggers-service

bench: compile
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
