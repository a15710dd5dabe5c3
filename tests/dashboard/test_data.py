"""dashboard.data: run keys, frame digests and the file bookkeeping of uploads (pure helpers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data
from dashboard.data import InputFile, RunInputs, frame_digest, missing_kinds, run_key
from recon.engine import Mappings
from recon.settings import Settings
from recon.store import Store
from recon.views import with_client_alias
from tests.recon.store.cases import before_fixes

CURRENT = (InputFile("contracts.csv", "contracts", "a", "/data/contracts.csv"),
           InputFile("usage.csv", "usage", "b", "/data/usage.csv"),
           InputFile("invoices.csv", "invoices", "c", "/data/invoices.csv"))


def test_missing_kinds_are_the_required_sources_without_a_file():
    upload = (InputFile("usage_march.csv", "usage", "d"),)
    assert missing_kinds(upload) == ["contracts", "invoices"]
    assert missing_kinds((*CURRENT, *upload)) == []


def test_run_key_follows_files_settings_and_mappings():
    inputs = RunInputs(CURRENT, Settings())
    mappings = Mappings()
    key = run_key(inputs, mappings)
    assert run_key(RunInputs(tuple(reversed(CURRENT)), Settings()), mappings) == key  # order does not matter
    assert run_key(RunInputs(CURRENT, Settings(currency="EUR")), mappings) != key
    assert run_key(inputs, with_client_alias(mappings, "ACME Corp", "Acme Corporation")) != key


def test_frame_digest_sees_every_row():
    frame = pd.DataFrame({"fingerprint": [f"f{index}" for index in range(20_000)], "status": "open"})
    changed = frame.copy()
    changed.loc[12_345, "status"] = "billed"  # Streamlit's own hasher samples frames this large
    assert frame_digest(frame) != frame_digest(changed)
    assert frame_digest(frame) == frame_digest(frame.copy())
    assert frame_digest(None) == frame_digest(frame.iloc[0:0]) == "empty"


def test_pages_only_render():
    """A page reads filters, calls recon (through dashboard.data) and renders: no pandas of its own."""
    pages = sorted((Path(__file__).resolve().parents[2] / "dashboard" / "app_pages").glob("*.py"))
    assert len(pages) == 10  # with the Fixes page
    for page in pages:
        source = page.read_text()
        assert "import pandas" not in source, page.name
        assert not any(call in source for call in (".groupby(", ".merge(", ".pivot", ".agg(")), page.name


def test_stored_runs_are_read_again_only_when_the_store_changes(tmp_path: Path):
    """The Runs page's cached reads are keyed by ``Store.stamp``: the same stamp gives the cached list
    (no read), a run stored since gives a new stamp and a fresh list."""
    store = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    first = store.save_run(before_fixes())
    stamp = store.stamp()
    assert data.run_list(id(store), stamp, store)["id"].tolist() == [first]
    second = store.save_run(before_fixes())
    assert data.run_list(id(store), stamp, store)["id"].tolist() == [first]  # cached
    assert data.run_list(id(store), store.stamp(), store)["id"].tolist() == [second, first]
    assert data.stored_run(id(store), store.stamp(), second, store).id == second
    store.close()


def test_without_the_database_a_session_keeps_its_choices_in_its_own_store(tmp_path: Path):
    """When the database cannot be opened, ``session.store()`` is the session's in-memory store: the
    same interface, so settings and mappings a person saves last for the session."""
    def script() -> None:
        import streamlit as st

        from dashboard import session
        from recon.settings import Settings

        database = session.store()
        if st.button("save", key="save"):
            database.save_settings(Settings(currency="EUR"), by="ann")
            database.save_client_alias("ACME Corp", "Acme Corporation", by="ann")
        st.write(f"{session.current_settings().currency} {len(session.current_mappings().client_aliases)} "
                 f"{session.store() is database} {'workspace.store_error' in st.session_state}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'recon.db'}")
        at = AppTest.from_function(script).run()
        assert at.markdown[0].value == "USD 0 True True"
        at.button(key="save").click().run()
        assert not at.exception
        assert at.markdown[0].value == "EUR 1 True True"


def test_a_recipe_rebuilds_the_same_run_key(tmp_path: Path):
    """The current data as stored (JSON) rebuilds inputs and mappings with the run's own key."""
    import json

    from recon.ingest.profile import SourceEntry

    store = Store(f"sqlite:///{tmp_path / 'recon.db'}")
    store.save_client_alias("ACME Corp", "Acme Corporation")
    store.save_sku_mapping("PX-1", "M365-BP")
    entry = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items", columns={"client": "Company"})
    inputs = RunInputs((*CURRENT, InputFile("pax8.csv", "usage", "e", entry=entry, origin="pulled from pax8")),
                       Settings(currency="EUR"), ("2026-03",), "March")
    for mappings in (store.mappings(), Mappings()):
        rebuilt, again = data.inputs_of(json.loads(json.dumps(data.recipe_of(inputs, mappings))))
        assert rebuilt == inputs
        assert run_key(rebuilt, again) == run_key(inputs, mappings)
