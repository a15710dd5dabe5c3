"""A month reconciled on Spark and stored keeps its vendor charges as a local run of the same files does
(PRODUCT.md 4a, 7), and a month reconciled on Spark draws on the stored charges of earlier imports as a local
run does: the next month counts them alike on either engine.

The data: ``tests/fixtures/semantics/ms_anniversary_cycle.txt`` (a Microsoft cycle from the 20th to the 19th:
February's file charges 2/20-3/19, March's 3/20-4/19) with 14 seats in February's cycle, and
``ms_yearly_charge.txt`` (a year of Power BI bought in November 2025 that still holds March 2026's seats)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from recon.cli import app
from recon.store import Store, tables
from tests.recon.test_store_cli import semantic_dir

NOTE = "note: charges stored by earlier imports were not drawn on"


def february_of_fourteen_seats(tmp_path: Path) -> Path:
    """February's files of the anniversary cycle, its cycle (2/20-3/19) for 14 seats instead of 10."""
    february = semantic_dir(tmp_path, "ms_anniversary_cycle", True)
    [usage] = february.glob("usage_*.csv")
    text = usage.read_text()
    changes = {",36.00,10,324.00,0,324.00,": ",36.00,14,453.60,0,453.60,", ",Licenses,,10,": ",Licenses,,14,"}
    for old, new in changes.items():
        assert text.count(old) == 1
        text = text.replace(old, new)
    usage.write_text(text)
    return february


def recon(database: str, *args: str) -> str:
    done = CliRunner().invoke(app, ["--database-url", database, "run", *args])
    assert done.exit_code == 0, done.output
    return done.output


def stored_rows(database: str, model: type) -> pd.DataFrame:
    """Every row of the table of ``model`` in key order (without an id: the rows as the store keeps them)."""
    table = tables.table(model)
    store = Store(database)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings().all()
    finally:
        store.close()
    return pd.DataFrame([dict(row) for row in rows], columns=list(table.c.keys())).drop(columns=["id"],
                                                                                      errors="ignore")


@pytest.mark.spark
def test_a_month_stored_on_spark_counts_the_next_month_as_a_local_one(tmp_path: Path, spark: Any) -> None:
    """February reconciled and stored on either engine, then March on either engine: the same findings,
    figures and keys, the same charges, pairs and imports drawn on stored. February's cycle holds 14 seats
    from 3/1 to 3/19, March's 10 from 3/20: day-weighted 12.4516 seats, 10 billed, 88.26 under-billed.
    Before, the Spark run stored February's import with no charges: March drew on nothing, carried its own
    10 seats back over 3/1-3/19 and found nothing; and March on Spark did not read the stored charges at all
    (the same nothing found, and a note to run it locally)."""
    february = february_of_fourteen_seats(tmp_path)
    march = semantic_dir(tmp_path, "ms_anniversary_cycle", False)
    found: dict[str, dict[str, bytes]] = {}
    charges, pairs, links, drawn = {}, {}, {}, {}
    for engines in (("local", "local"), ("spark", "local"), ("spark", "spark")):
        name = "-".join(engines)
        database = f"sqlite:///{tmp_path / f'{name}.db'}"
        output = recon(database, "--data", str(february), "--out", str(tmp_path / name / "february"),
                       "--period", "2026-02", "--engine", engines[0])
        assert NOTE not in output  # nothing stored before it
        output = recon(database, "--data", str(march), "--out", str(tmp_path / name / "march"),
                       "--period", "2026-03", "--keys", "--engine", engines[1])
        assert NOTE not in output
        [drawn[name]] = [line for line in output.splitlines() if "stored charges drawn on" in line]
        found[name] = {file: (tmp_path / name / "march" / file).read_bytes()
                       for file in ("discrepancies.csv", "summary.json", "keys.csv")}
        charges[name] = stored_rows(database, tables.UsageCharge)
        pairs[name] = stored_rows(database, tables.UsageChargePair)
        links[name] = stored_rows(database, tables.RunImport)
    local = "local-local"
    for name in found:
        assert found[name] == found[local], name
        assert drawn[name] == drawn[local], name
        assert len(charges[name]) == 2  # February's cycle and March's
        pd.testing.assert_frame_equal(charges[name], charges[local])
        pd.testing.assert_frame_equal(pairs[name], pairs[local])
        pd.testing.assert_frame_equal(links[name], links[local])
    assert b"2026-03,Contoso Dental,M365-E3,quantity_under_billed,under,12.4516," in found[local]["discrepancies.csv"]


@pytest.mark.spark
def test_a_spark_run_draws_on_a_year_bought_months_before(tmp_path: Path, spark: Any) -> None:
    """November stored (locally), then March on Spark: the year of Power BI bought in November still holds
    March's seats, as it does for a local run: the same findings, figures and keys, the November import
    among the stored charges drawn on, and no note. March's run names no month: the history is asked for the
    months of its files' rows on either engine. Before, the Spark run left the stored year out (and said so in
    a note to run March locally)."""
    found: dict[str, dict[str, bytes]] = {}
    drawn = {}
    for engine in ("local", "spark"):
        database = f"sqlite:///{tmp_path / f'{engine}.db'}"
        (tmp_path / engine).mkdir()
        recon(database, "--data", str(semantic_dir(tmp_path / engine, "ms_yearly_charge", True)), "--out",
              str(tmp_path / engine / "november"), "--period", "2025-11")
        output = recon(database, "--data", str(semantic_dir(tmp_path / engine, "ms_yearly_charge", False)),
                       "--out", str(tmp_path / engine / "march"), "--keys", "--engine", engine)
        assert NOTE not in output
        [drawn[engine]] = [line for line in output.splitlines() if "stored charges drawn on" in line]
        found[engine] = {file: (tmp_path / engine / "march" / file).read_bytes()
                         for file in ("discrepancies.csv", "summary.json", "keys.csv")}
    assert found["spark"] == found["local"]
    assert drawn["spark"] == drawn["local"]
    assert b"2026-03,Contoso Dental,PBI-PRO," in found["spark"]["keys.csv"]


@pytest.mark.spark
def test_a_spark_run_stored_from_python_needs_its_charges_handed_over(tmp_path: Path, spark: Any) -> None:
    """``store.save_run(run.result)`` of a Spark run would keep its imports without their charges: refused, with
    what to call instead; ``charges=run.charge_chunks()`` stores what a local run of the files stores."""
    from recon import load_directory, reconcile
    from recon.spark import reconcile_on_spark
    from recon.store.tables import UsageCharge

    data = Path(__file__).resolve().parents[2] / "fixtures" / "mini_msp"
    run = reconcile_on_spark(str(data), spark=spark)
    try:
        assert run.result.charges_apart
        database = f"sqlite:///{tmp_path / 'spark.db'}"
        store = Store(database)
        try:
            with pytest.raises(ValueError, match="charge_chunks"):
                store.save_run(run.result)
            store.save_run(run.result, charges=run.charge_chunks())
        finally:
            store.close()
    finally:
        run.close()
    assert len(stored_rows(database, UsageCharge)) == len(reconcile(load_directory(data)).charges) > 0
