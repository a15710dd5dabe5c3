"""A run written while it is computed (``Store.storing``, issue 25), on SQLite and PostgreSQL alike: its files'
charges go in while the engine runs, the run reads back as ``save_run`` stores it, and a run that is not
handed over (the engine failed, or the caller left) leaves nothing behind and the database free."""

from __future__ import annotations

import threading
from contextlib import nullcontext

import pandas as pd
import pytest
import sqlalchemy as sa

from recon.engine import reconcile
from recon.ingest.directory import load_directory
from recon.store import Store, database, tables
from recon.store.fixes import FixLedger
from tests.recon.store.test_charge_history import SAMPLE, november

COUNTED = {name: tables.table(model) for name, model in (
    ("runs", tables.Run), ("imports", tables.ImportFile), ("charges", tables.UsageCharge),
    ("links", tables.RunImport), ("discrepancies", tables.Discrepancy), ("fixes", tables.FixProposal))}


def counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {name: int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for name, table in COUNTED.items()}


def test_the_charges_are_written_before_the_run_is_handed_over(store: Store, monkeypatch) -> None:
    written = threading.Event()
    store_charges = database._store_charges

    def watched(*args, **kwargs) -> None:
        store_charges(*args, **kwargs)
        written.set()

    monkeypatch.setattr(database, "_store_charges", watched)
    sources = november()
    with store.storing(sources) as storing:
        assert written.wait(timeout=60), "the charges were not written while the run was computed"
        result = reconcile(sources, periods=["2025-11"])
        storing.save(result, by="ana", label="november")
    run_id = storing.run_id()
    assert counts(store)["charges"] == len(sources["usage"]) == 1
    stored = store.load_run(run_id)
    assert (stored.by, stored.label) == ("ana", "november")


def test_a_run_stored_while_computed_reads_back_as_save_run_stores_it(store: Store) -> None:
    sources = load_directory(SAMPLE)
    with store.storing(sources) as storing:
        result = reconcile(sources)
        storing.save(result)
    first = store.load_run(storing.run_id())
    second = store.load_run(store.save_run(result))  # the same files again: imports and charges known
    for name in ("discrepancies", "imports"):
        left, right = getattr(first, name), getattr(second, name)
        assert isinstance(left, pd.DataFrame) and len(left)
        pd.testing.assert_frame_equal(left.drop(columns=["run_id"], errors="ignore"),
                                      right.drop(columns=["run_id"], errors="ignore"))
    assert (first.summary, first.periods) == (second.summary, second.periods)
    stored = counts(store)
    assert (stored["runs"], stored["imports"]) == (2, len(sources.imports))  # none twice
    assert stored["charges"] == len(sources["usage"]) and stored["fixes"] == 2 * len(FixLedger(store).fixes(first.id)) > 0


@pytest.mark.parametrize("how", ["the engine failed", "nothing was handed over"])
def test_a_run_not_handed_over_leaves_nothing_and_the_database_free(store: Store, how: str) -> None:
    sources = november()
    before = counts(store)
    with pytest.raises(RuntimeError) if how == "the engine failed" else nullcontext():
        with store.storing(sources):
            if how == "the engine failed":
                raise RuntimeError("the engine failed")
    assert counts(store) == before
    store.save_run(reconcile(sources, periods=["2025-11"]))  # nothing left holding the write lock
    assert counts(store)["runs"] == before["runs"] + 1


def test_an_in_memory_database_writes_the_run_when_handed_over() -> None:
    store = Store("sqlite://")  # one connection shared by every thread: nothing written beside the engine
    sources = november()
    with store.storing(sources) as storing:
        assert counts(store)["imports"] == 0
        storing.save(reconcile(sources, periods=["2025-11"]))
    assert store.load_run(storing.run_id()).imports["file"].tolist() == [record.file for record in sources.imports]
    assert counts(store)["charges"] == 1


def test_a_run_is_handed_over_once(store: Store) -> None:
    sources = november()
    result = reconcile(sources, periods=["2025-11"])
    with store.storing(sources) as storing:
        storing.save(result)
        with pytest.raises(Exception, match="already handed over"):
            storing.save(result)
    storing.run_id()
    assert counts(store)["runs"] == 1

