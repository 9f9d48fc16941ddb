# Two commands on a fresh machine: `make rehearse` and `make test`. Each builds .venv from
# pyproject.toml first if it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: rehearse watch test lint check qr bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job: the seed event rehearsed offline with 75 simulated participants, no token.
rehearse: $(STAMP)
	$(BIN)/python -m bot rehearse

## The same rehearsal at an event minute a second, its walls and console served on
## 127.0.0.1:8080: open the printed links in a browser.
watch: $(STAMP)
	$(BIN)/python -m bot rehearse --serve --speed 60

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

## Style, types and the layers' import contracts (pyproject's [tool.importlinter]), as CI
## checks them.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Validate an event file: make check EVENT=prompts/events/my-event.yaml
check: $(STAMP)
	$(BIN)/python -m bot check $(EVENT)

## Benchmarks (about 11 minutes): prints the figures of issues 9, 14 and 16, writes bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache rehearsal-output qr-codes
