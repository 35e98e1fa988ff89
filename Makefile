# opt-data task runner. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OPT_DATA := $(BIN)/opt-data

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "opt-data needs Python 3.11+; set PYTHON=python3.11" >&2; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group dev
	@touch $(STAMP)

install: $(STAMP) ## create/update .venv and install opt-data with its dev tools

fmt: $(STAMP) ## format the code (ruff)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix --quiet src tests bench

lint: $(STAMP) ## ruff lint + format check + mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: $(STAMP) ## run the test suite
	$(BIN)/pytest -q

update: $(STAMP) ## the daily update for today (17:00 ET, trading days)
	$(OPT_DATA) update

backfill: $(STAMP) ## historical bars: make backfill START=2024-10-01 SYMBOLS=AAPL,MSFT [END=...]
	@test -n "$(START)" || { echo "make backfill needs START=YYYY-MM-DD (and SYMBOLS=A,B)" >&2; exit 2; }
	$(OPT_DATA) backfill --start "$(START)" $(if $(END),--end "$(END)") $(if $(SYMBOLS),--symbols "$(SYMBOLS)")

compact: $(STAMP) ## merge partitions older than DAYS (default 14): make compact DAYS=14
	$(OPT_DATA) compact $(if $(DAYS),--days "$(DAYS)")

sim: $(STAMP) ## run the bundled IB Gateway simulator on 127.0.0.1:7497
	$(OPT_DATA) sim

demo: $(STAMP) ## the daily job against the bundled simulator, in a scratch folder
	$(BIN)/python -m opt_data.demo

bench: $(STAMP) ## benchmarks: print the table, write bench/results/*.json
	$(BIN)/python -m bench

.PHONY: help install fmt lint test update backfill compact sim demo bench
