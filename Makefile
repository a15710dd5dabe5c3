# Two commands on a fresh machine: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench sample clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## run: reconcile the sample MSP and open the dashboard
run: $(STAMP)
	$(PY) -m recon.cli run --data sample_data --out out
	$(PY) -m recon.cli dashboard

## test: lint, type-check and the whole test suite
test: $(STAMP)
	$(PY) -m ruff check recon dashboard tests bench
	$(PY) -m mypy
	$(PY) -m pytest

## bench: engine vs DuckDB at 10k, 100k and 1M invoice lines (SIZES=1M for one size, REPEAT=3 for best/median)
SIZES ?= 10k,100k,1M
REPEAT ?= 1
bench: $(STAMP)
	$(PY) bench/run.py --sizes $(SIZES) --repeat $(REPEAT) --results bench/results.md

## sample: regenerate sample_data/ (on purpose only: tests check its answer key)
sample: $(STAMP)
	$(PY) -m recon.cli sample --out sample_data

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache .hypothesis
