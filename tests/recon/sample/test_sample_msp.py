"""The committed sample MSP end to end: the engine reports every planted discrepancy of the answer key,
each with the variance the spec defines, and nothing else; the summary matches its snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from recon import load_directory, reconcile
from recon.engine import Reconciliation
from recon.exports.formatting import export_frame

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"
SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "sample_summary.json"
KEY_COLUMNS = ["period", "client", "sku", "type"]


@pytest.fixture(scope="module")
def sample_run() -> Reconciliation:
    return reconcile(load_directory(SAMPLE))


def test_every_planted_discrepancy_and_nothing_else(sample_run: Reconciliation) -> None:
    found = export_frame(sample_run.discrepancies)[[*KEY_COLUMNS, "variance", "direction"]]
    answer = pd.read_csv(SAMPLE / "answer_key.csv", dtype=str, keep_default_na=False)
    compared = found.merge(answer, on=KEY_COLUMNS, how="outer", indicator=True, suffixes=("", "_expected"))
    assert compared["_merge"].eq("both").all(), compared[compared["_merge"] != "both"]
    assert (compared["variance"] == compared["variance_expected"]).all()
    assert (compared["direction"] == compared["direction_expected"]).all()


def test_every_type_is_planted_at_least_three_times(sample_run: Reconciliation) -> None:
    counts = sample_run.discrepancies["type"].value_counts()
    assert len(counts) == 11 and counts.min() >= 3


def test_unmapped_rows_are_exactly_the_planted_noise(sample_run: Reconciliation) -> None:
    planted = pd.read_csv(SAMPLE / "expected_unmapped.csv", dtype=str, keep_default_na=False)
    listed = sample_run.unmapped[["client_raw", "sku_raw", "reason"]].drop_duplicates()
    assert set(listed["client_raw"]) == set(planted["client"])
    assert set(listed["reason"]) <= {"unknown client", "unknown sku"}
    assert not sample_run.discrepancies["client"].isin(planted["client"]).any()
    fuzzy = sample_run.unmapped.dropna(subset=["suggestion"])
    assert len(fuzzy) and (fuzzy["suggestion_score"] >= 70).all()


def test_figures_cover_every_period_and_the_unmapped_rows(sample_run: Reconciliation) -> None:
    overall = sample_run.metrics.overall
    assert overall.mapping_coverage is not None and 0.95 < overall.mapping_coverage < 1
    assert overall.usage_rows - overall.usage_rows_mapped == len(sample_run.unmapped)
    assert sample_run.metrics.by_period["period"].tolist() == list(sample_run.periods)
    assert len(sample_run.periods) == 12


def test_summary_matches_its_snapshot(sample_run: Reconciliation) -> None:
    """Regenerate on purpose only: RECON_UPDATE_SNAPSHOT=1 pytest tests/recon/test_sample_msp.py"""
    summary = json.loads(json.dumps({**sample_run.to_dict(), "imports": None}, default=str))
    if os.environ.get("RECON_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    assert summary == json.loads(SNAPSHOT.read_text())


def test_sample_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    from recon.sample import write_sample

    write_sample(tmp_path)
    for path in sorted(SAMPLE.glob("*.csv")):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
