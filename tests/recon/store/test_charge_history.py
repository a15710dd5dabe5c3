"""The charge history (PRODUCT.md 4a) on SQLite and PostgreSQL alike: a run's usage rows are kept once per
import, a later run draws on the charges of earlier imports that cover its months (an annual charge bought
in November counts in March), lists the imports it drew on, and never counts the same bytes twice."""

from __future__ import annotations

import gc
import itertools
import shutil
import weakref
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from recon import engine
from recon.cli import app
from recon.engine import reconcile
from recon.ingest.files import load_source
from recon.ingest.profile import SourceEntry
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.sources import Sources, combine
from recon.store import Store, tables
from recon.store.database import _alembic_config
from tests.recon.store.cases import before_fixes
from tests.scenarios import SEMANTICS, _section_files, parse_scenario

KINDS = (*REQUIRED_SOURCES, *OPTIONAL_SOURCES)
SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"
runner = CliRunner()
SCENARIO = parse_scenario((SEMANTICS / "ms_yearly_charge.txt").read_text(encoding="utf-8"), headers=r"[\w -]+")
CHARGE = tables.table(tables.UsageCharge)
RUN_IMPORT = tables.table(tables.RunImport)


NOVEMBER_INVOICE = (b"invoice_number,invoice_date,client,sku,quantity,unit_price,amount,period_start,period_end\n"
                    b"INV-1104,2025-11-10,Contoso Dental,PBI-PRO,4,14.00,56.00,2025-11-10,2025-11-30\n")


def november() -> Sources:
    """November's files: the Microsoft file (a year of Power BI bought on 11/10/2025, 4 seats) and its
    invoice."""
    invoice = load_source(NOVEMBER_INVOICE, "november-invoices.csv",
                          SourceEntry(path="november-invoices.csv", kind="invoices"))
    return combine([*_section_files(SCENARIO, history=True), invoice], KINDS)


def march() -> Sources:
    """March's files: contracts, catalog, invoices and a Microsoft file that does not repeat the year."""
    return combine(_section_files(SCENARIO, history=False), KINDS)


def stored_charges(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(CHARGE)).scalar_one())


def power_bi(result) -> float:
    keys = result.keys
    return float(keys.loc[(keys["client"] == "Contoso Dental") & (keys["sku"] == "PBI-PRO"), "usage_qty"].iloc[0])


def test_a_runs_usage_rows_are_kept_once_per_import(store: Store) -> None:
    result = reconcile(november(), periods=["2025-11"])
    store.save_run(result)
    assert stored_charges(store) == 1
    store.save_run(result)  # the same files again: their rows are stored already
    assert stored_charges(store) == 1


def test_an_annual_charge_from_an_earlier_import_counts_months_later(store: Store) -> None:
    store.save_run(reconcile(november(), periods=["2025-11"]))
    own = march()
    history = store.charge_history(["2026-03"], [record.sha256 for record in own.imports])
    assert history is not None
    [record] = history.imports
    assert record.file.endswith("-usage.csv (stored import 1)") and record.rows_loaded == 1
    [row] = history["usage"].itertuples()
    assert (row.quantity, str(row.period_start.date()), str(row.period_end.date())) == (4.0, "2025-11-10", "2026-11-09")
    assert row.unit_cost == 100_000 and row.row_type == "recurring"  # 120.00 for the year: 10.00 a month

    assert power_bi(reconcile(own, periods=["2026-03"])) == 0.0  # March's file alone: no seats
    result = reconcile(own, periods=["2026-03"], history=history)
    assert power_bi(result) == 4.0
    assert result.discrepancies.empty
    assert [record.file for record in result.history_imports] == [record.file]

    run_id = store.save_run(result)
    imports = store.load_run(run_id).imports
    drawn_on = imports[imports["from_history"]]
    assert list(drawn_on["import_id"]) == [1]
    assert not imports.loc[~imports["from_history"], "import_id"].isin([1]).any()


def test_the_same_bytes_never_count_twice(store: Store) -> None:
    store.save_run(reconcile(november(), periods=["2025-11"]))
    # March's run reads November's file again among its own: the stored copy is left out
    own = combine([*_section_files(SCENARIO, history=False), *_section_files(SCENARIO, history=True)], KINDS)
    history = store.charge_history(["2026-03"], [record.sha256 for record in own.imports])
    assert history is None
    result = reconcile(own, periods=["2026-03"], history=store.charge_history(["2026-03"]))
    assert power_bi(result) == 4.0 and result.history_imports == ()


def test_the_history_for_a_runs_sources_leaves_out_its_own_files(store: Store) -> None:
    """``history_for``, as ``recon run`` and the dashboard ask: the months the sources cover unless given,
    never the sources' own files."""
    store.save_run(reconcile(november(), periods=["2025-11"]))
    own = march()
    drawn = store.history_for(own, ["2026-03"])
    assert drawn is not None and [record.file for record in drawn.imports] == [
        record.file for record in store.charge_history(["2026-03"]).imports]
    assert store.history_for(november()) is None  # its own file, in its own months


def test_charges_far_from_the_runs_months_are_not_drawn_on(store: Store) -> None:
    store.save_run(reconcile(november(), periods=["2025-11"]))
    # the year ended on 11/9/2026: more than HISTORY_DAYS_BEFORE (400) days before 2028-01
    assert store.charge_history(["2028-01"]) is None
    assert store.charge_history([]) is None


def test_the_charge_history_migration_keeps_earlier_runs(store: Store) -> None:
    """Down to the revision before it (0004_sign_in) and up again: the table comes and goes, runs stored
    before stay readable, and their imports were not drawn from history."""
    store.save_run(before_fixes())
    config = _alembic_config()
    before = "0004_sign_in"
    for target in (before, "head"):
        with store.engine.connect() as connection, connection.begin():
            config.attributes["connection"] = connection
            getattr(command, "downgrade" if target == before else "upgrade")(config, target)
            present = "usage_charge" in sa.inspect(connection).get_table_names()
            assert present == (target == "head")
            revision = MigrationContext.configure(connection).get_current_revision()
            assert revision == (before if target == before else ScriptDirectory.from_config(config).get_current_head())
    run = store.load_run(store.latest_run_id() or 0)
    assert len(run.imports) and not run.imports["from_history"].any()
    store.save_run(reconcile(november(), periods=["2025-11"]))
    assert stored_charges(store) == 1


def february_costs_stored(store: Store, *costs: bytes) -> Sources:
    """The charge history another run of February draws on (a corrected re-export, say), after a February run of
    one Pax8 charge per unit cost given. (Usage rows: a run of March reads back only their clients and skus.)"""
    lines = [b"Acme Corp,M365-BP,%d,2026-02-01,Pax8,%s\n" % (number, cost) for number, cost in enumerate(costs, 1)]
    usage = load_source(b"client,sku,quantity,period_start,vendor,unit_cost\n" + b"".join(lines), "usage.csv",
                        SourceEntry(path="usage.csv", kind="usage"))
    store.save_run(reconcile(combine([usage], KINDS), periods=["2026-02"]))
    history = store.charge_history(["2026-02"])
    assert history is not None
    return history


def test_stored_charges_with_and_without_a_cost_read_back(store: Store) -> None:
    """A vendor file whose rows have a cost and rows without one (Pax8 usage lines carry none): the NULL costs
    read back as missing, not as a NaN the next month's run failed on (ValueError)."""
    history = february_costs_stored(store, b"19.80", b"")
    assert history["usage"]["unit_cost"].tolist() == [198_000, pd.NA]


def test_a_file_of_more_charges_than_a_batch_is_stored_whole_and_in_order(store: Store, monkeypatch) -> None:
    from recon.store import bulk, database

    sample = Path(__file__).resolve().parents[3] / "sample_data" / "usage_microsoft.csv"
    head = b"".join(sample.read_bytes().splitlines(keepends=True)[:8])  # its header and 7 charges
    usage_file = load_source(head, "usage_microsoft.csv", SourceEntry(path="usage_microsoft.csv", kind="usage"))
    result = reconcile(combine([usage_file], KINDS), periods=["2025-11"])
    for name in ("SQLITE_CHUNK", "SQLITE_ROWS", "COPY_CHUNK", "GENERIC_BATCH"):  # a chunk at a time (issue 25)
        monkeypatch.setattr(bulk, name, 2)
    monkeypatch.setattr(database, "CHARGE_CHUNK", 3)
    store.save_run(result)
    with store.engine.connect() as connection:
        stored = pd.DataFrame(connection.execute(sa.select(CHARGE.c.line, CHARGE.c.client, CHARGE.c.quantity)
                                                 .order_by(CHARGE.c.id)).mappings().all())
    usage = result.charges[result.charges["source_file"].notna()]
    assert len(usage) == 7
    assert stored["line"].tolist() == usage["source_line"].astype(int).tolist()
    assert stored["client"].tolist() == usage["client"].astype(str).tolist()


def test_large_money_reads_back_exactly_beside_a_null(store: Store) -> None:
    """Charges whose cost is NULL in one row and past 2**53 units in another: the history's money column
    read back as floats lost the last digits (9007199254740993 came back ...992)."""
    history = february_costs_stored(store, b"900719925474.0993", b"")
    assert history["usage"]["unit_cost"].tolist() == [9_007_199_254_740_993, pd.NA]


class HandedOver:
    """Watches, while a run is reconciled, whether the engine still holds the stored charges it was handed
    and the usage rows it added them to, at the moment it starts building the keys (where a run peaks)."""

    def __init__(self, monkeypatch) -> None:
        self.held: dict[str, weakref.ref] = {}
        self.alive: dict[str, bool] = {}
        with_history, build_keys = engine._with_history, engine.build_keys

        def watched_with_history(sources: Sources, history: Sources | None):
            combined = with_history(sources, history)
            if history is not None:
                self.held = {"stored charges": weakref.ref(history["usage"]),
                             "usage rows with them": weakref.ref(combined["usage"])}
            return combined

        def watched_build_keys(*args, **kwargs):
            gc.collect()
            self.alive = {name: ref() is not None for name, ref in self.held.items()}
            return build_keys(*args, **kwargs)

        monkeypatch.setattr(engine, "_with_history", watched_with_history)
        monkeypatch.setattr(engine, "build_keys", watched_build_keys)


def test_the_engine_lets_the_stored_charges_go_once_resolved(store: Store, monkeypatch) -> None:
    """A second month at 1M hands the engine a million stored charges: once they are resolved it keeps
    neither them nor the usage rows they were added to (250 MB of its peak, issue 25), when the caller
    hands them over without keeping them."""
    store.save_run(reconcile(november(), periods=["2025-11"]))
    own = march()
    watch = HandedOver(monkeypatch)
    result = engine.reconcile(own, periods=["2026-03"],
                              history=store.charge_history(["2026-03"], [record.sha256 for record in own.imports]))
    assert power_bi(result) == 4.0  # the stored charge counted
    assert watch.alive == {"stored charges": False, "usage rows with them": False}


def test_recon_run_hands_the_stored_charges_over(tmp_path: Path, monkeypatch) -> None:
    """``recon run`` with a store keeps no reference of its own to the charges it reads back."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.md"))
    first = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    usage = next(data.glob("usage*.csv"))
    usage.write_bytes(usage.read_bytes() + b"\n")  # other bytes: a new import, the first one's charges stored
    watch = HandedOver(monkeypatch)
    second = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "second")])
    assert second.exit_code == 0, second.output
    assert watch.alive == {"stored charges": False, "usage rows with them": False}
    found = [(tmp_path / run / "discrepancies.csv").read_bytes() for run in ("first", "second")]
    assert found[0] == found[1]  # the same charges, read from the new file rather than the stored one


USAGE_HEADER = ("client,sku,quantity,period_start,period_end,vendor,unit_cost,subscription_id,product_name,row_type,"
                "subscription_start,subscription_end,cost_amount\n")


def _usage_file(name: str, row_type: str):  # (a LoadedSource)
    text = USAGE_HEADER + f"Acme Corp,M365-BP,3,2026-03-01,2026-03-31,Microsoft,19.80,M-1,BP,{row_type},,,\n"
    return load_source(text.encode(), name, SourceEntry(path=name, kind="usage"))


@pytest.mark.parametrize("stored_first", ["charge", "refund"])
def test_a_charge_and_its_whole_refund_from_two_imports_cancel_as_when_loaded_together(
        store: Store, stored_first: str) -> None:
    """Three seats charged for March and refunded whole (the same span: a cancellation within the window
    Microsoft refunds in full), each in a file of its own. Loaded together they cancel. Stored by two runs,
    the newer file used to replace the older one's row as if it were the same charge (its type ignored):
    the charge went, leaving a refund without its charge, or the refund went, leaving 3 seats in use."""
    charge, refund = _usage_file("charge.csv", "recurring"), _usage_file("refund.csv", "credit")
    invoice = load_source(b"invoice_number,invoice_date,client,sku,quantity,unit_price,amount,period_start,period_end\n"
                          b"INV-1,2026-03-01,Acme Corp,M365-BP,3,22.00,66.00,2026-03-01,2026-03-31\n",
                          "invoices.csv", SourceEntry(path="invoices.csv", kind="invoices"))
    together = reconcile(combine([charge, refund, invoice], KINDS), periods=["2026-03"])
    for file in ((charge, refund) if stored_first == "charge" else (refund, charge)):
        store.save_run(reconcile(combine([file], KINDS), periods=["2026-03"]))
    own = combine([invoice], KINDS)
    stored = reconcile(own, periods=["2026-03"], history=store.history_for(own, ["2026-03"]))
    facts = ["period", "client", "sku", "usage_qty", "carried_days", "unmatched_credit_rows"]
    assert together.keys[facts].to_dict("records") == stored.keys[facts].to_dict("records")
    assert stored.keys["usage_qty"].tolist() == [0.0] and not len(stored.unmatched_credits)
    assert stored.discrepancies["type"].tolist() == together.discrepancies["type"].tolist()
    assert len(stored.history_imports) == 2


def stored_table(store: Store, table: sa.Table) -> pd.DataFrame:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    return pd.DataFrame([dict(row) for row in rows], columns=list(table.c.keys()))


def test_a_run_whose_charges_come_apart_is_not_stored_without_them(tmp_path: Path) -> None:
    """A Spark run's result holds no usage rows (``charges_apart``): stored from Python without
    ``charges=``, it would keep its imports (their SHA-256) with no charges, and the months after it would lose
    its vendor charges without a word. ``save_run`` refuses it, storing nothing; with the pieces it stores."""
    import dataclasses

    from recon.ingest.directory import load_directory

    local = reconcile(load_directory(SAMPLE))
    apart = dataclasses.replace(local, charges=local.charges.iloc[0:0], charges_apart=True)
    opened = Store(f"sqlite:///{tmp_path / 'apart.db'}")
    try:
        with pytest.raises(ValueError, match=r"save_run\(run\.result, charges=run\.charge_chunks\(\)\)"):
            opened.save_run(apart)
        assert opened.latest_run_id() is None and stored_table(opened, CHARGE).empty
        opened.save_run(apart, charges=iter([local.charges]))
        assert len(stored_table(opened, CHARGE)) == len(local.charges)
    finally:
        opened.close()

def test_charges_given_in_pieces_are_stored_as_the_runs_own_frame(tmp_path: Path, monkeypatch) -> None:
    """``save_run(result, charges=pieces)`` (a Spark run's usage rows, one piece of one file at a time, never
    one frame) keeps the rows, pairs and order ``save_run(result)`` keeps from ``result.charges``: the sample
    MSP's four vendor files in pieces of 50 rows (an empty piece first), written 30 at a time; nothing more
    when the same run is stored again (its imports' charges are kept already)."""
    from recon.ingest.directory import load_directory
    from recon.store import database

    monkeypatch.setattr(database, "CHARGE_CHUNK", 30)
    result = reconcile(load_directory(SAMPLE))
    charges = result.charges
    assert charges["source_file"].nunique() == 4
    pieces = [charges[charges["source_file"] == file].iloc[start:start + 50]
              for file in pd.unique(charges["source_file"])
              for start in range(0, int((charges["source_file"] == file).sum()), 50)]
    stored = {}
    for way in ("frame", "pieces"):
        opened = Store(f"sqlite:///{tmp_path / way}.db")
        try:
            given = iter([charges.iloc[0:0], *pieces]) if way == "pieces" else None
            opened.save_run(result, charges=given)
            opened.save_run(result, charges=iter(pieces) if way == "pieces" else None)  # stored already
            stored[way] = (stored_table(opened, CHARGE), stored_table(opened, tables.table(tables.UsageChargePair)))
        finally:
            opened.close()
    assert len(stored["pieces"][0]) == len(charges)
    for kept, expected in zip(stored["pieces"], stored["frame"], strict=True):
        pd.testing.assert_frame_equal(kept, expected)


def test_a_files_pieces_that_come_apart_are_all_stored_as_the_runs_own_frame(tmp_path: Path, monkeypatch) -> None:
    """A file's pieces need not come one after the other (A, B, A): every piece of each file is stored, in the
    order of the file's rows, with the pairs ``save_run(result)`` keeps from ``result.charges`` (a client and
    sku's monthly spans in pieces apart join into one span, as in one frame). The sample MSP's four vendor
    files in pieces of 40 rows taken in turn from each file, an empty piece among them; the rows are written
    30 at a time. (The pieces of a file after another file's were passed over: 1,487 of 1,647 rows lost;
    storing each run of pieces on its own kept the rows but split the pairs: 762 spans where one frame keeps
    93.)"""
    from recon.ingest.directory import load_directory
    from recon.store import database

    monkeypatch.setattr(database, "CHARGE_CHUNK", 30)
    result = reconcile(load_directory(SAMPLE))
    charges = result.charges
    by_file = [[charges[charges["source_file"] == file].iloc[start:start + 40]
                for start in range(0, int((charges["source_file"] == file).sum()), 40)]
               for file in pd.unique(charges["source_file"])]
    in_turn = [piece for turn in itertools.zip_longest(*by_file) for piece in turn if piece is not None]
    in_turn.insert(5, charges.iloc[0:0])
    assert [piece["source_file"].iloc[0] for piece in in_turn[:2]] != [in_turn[0]["source_file"].iloc[0]] * 2
    stored = {}
    for way in ("frame", "apart"):
        opened = Store(f"sqlite:///{tmp_path / way}.db")
        try:
            opened.save_run(result, charges=iter(in_turn) if way == "apart" else None)
            stored[way] = [stored_table(opened, table).sort_values(["import_id", "id"], kind="stable")
                           .drop(columns="id").reset_index(drop=True)
                           for table in (CHARGE, tables.table(tables.UsageChargePair))]
        finally:
            opened.close()
    assert len(stored["apart"][0]) == len(charges)
    for kept, expected in zip(stored["apart"], stored["frame"], strict=True):
        pd.testing.assert_frame_equal(kept, expected)
