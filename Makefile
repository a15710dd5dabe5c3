# Two commands on a fresh machine: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# what `pip install -e ".[$(EXTRAS)]"` adds: CI adds spark (pyspark, for recon run --engine spark)
EXTRAS ?= test

.PHONY: run test lint bench bench-spark sample clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

## run: open the dashboard; on first start it reconciles the sample MSP (http://localhost:8501)
run: $(STAMP)
	$(PY) -m recon.cli dashboard --port 8501

## test: lint, type-check and the whole suite; sets up Debian's Chromium and a local PostgreSQL first
## (where the machine allows it; otherwise those tests skip with their reason, or fail under CI's REQUIRE flags)
test: $(STAMP)
	$(PY) -m ruff check recon dashboard tests bench
	$(PY) -m mypy
	-scripts/install-chromium.sh
	RECON_TEST_POSTGRES_URL="$${RECON_TEST_POSTGRES_URL:-$$(scripts/start-postgres.sh || true)}" $(PY) -m pytest

## bench: engine vs DuckDB at 10k, 100k and 1M invoice lines, then recon run end to end vs a DuckDB floor
## (SIZES=1M for one size, REPEAT=3 for best/median)
SIZES ?= 10k,100k,1M
REPEAT ?= 1
bench: $(STAMP)
	$(PY) bench/run.py --sizes $(SIZES) --repeat $(REPEAT) --results bench/results.md

## bench-spark: the Spark engine against the local one on Parquet MSPs (needs pip install -e ".[spark]"
## and Java 17): make bench-spark SIZES=1M,10M
bench-spark: $(STAMP)
	$(PY) bench/spark.py --sizes $(SIZES)

## sample: regenerate sample_data/ (on purpose only: tests check its answer key)
sample: $(STAMP)
	$(PY) -m recon.cli sample --out sample_data

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache .hypothesis test-artifacts
