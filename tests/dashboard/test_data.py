"""dashboard.data: run keys, frame digests and the file bookkeeping of uploads (pure helpers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboard.data import InputFile, RunInputs, frame_digest, merge_files, missing_kinds, run_key
from recon.engine import Mappings
from recon.settings import Settings
from recon.views import with_client_alias

CURRENT = (InputFile("contracts.csv", "contracts", "a", "/data/contracts.csv"),
           InputFile("usage.csv", "usage", "b", "/data/usage.csv"),
           InputFile("invoices.csv", "invoices", "c", "/data/invoices.csv"))


def test_uploads_replace_only_their_kinds():
    upload = (InputFile("usage_march.csv", "usage", "d"),)
    merged = merge_files(CURRENT, upload, replace_kinds=True)
    assert [file.name for file in merged] == ["contracts.csv", "invoices.csv", "usage_march.csv"]
    assert merge_files(CURRENT, upload, replace_kinds=False) == upload
    assert missing_kinds(upload) == ["contracts", "invoices"]
    assert missing_kinds(merged) == []


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
    assert len(pages) == 9
    for page in pages:
        source = page.read_text()
        assert "import pandas" not in source, page.name
        assert not any(call in source for call in (".groupby(", ".merge(", ".pivot", ".agg(")), page.name
