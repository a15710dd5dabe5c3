"""Issues 17 and 18, "done when": one MSP's March in the vendors' and PSAs' own shapes (Microsoft's NCE
reconciliation files, Pax8 invoice items, ConnectWise's Agreement Additions and Time Entries list views
and REST records flattened with dots, Autotask ContractServiceUnits with the company name) beside correct
invoices, read from a directory as a user drops them there, reconciles to the true findings only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon import load_directory, reconcile
from recon.cli import app
from recon.engine import Reconciliation
from recon.exports.formatting import export_frame
from recon.ingest.directory import inspect_directory
from tests.fixtures import make_semantics

MONTH = make_semantics.REAL_MONTH
KEY = ["period", "client", "sku", "type"]
PRESETS = {
    "microsoft-recon-2026-02.csv": "microsoft-nce-recon", "microsoft-recon-2026-03.csv": "microsoft-nce-recon",
    "pax8-invoice-items-2026-03.csv": "pax8-invoice-items",
    "connectwise-agreement-additions-northwind.csv": "connectwise-additions",
    "connectwise-additions-alpine.csv": "connectwise-additions-api",
    "connectwise-invoice-lines-alpine.csv": "connectwise-invoice-lines-api",
    "connectwise-time-list-view.csv": "connectwise-time", "connectwise-time-entries-api.csv": "connectwise-time-api",
    "autotask-contract-service-units.csv": "autotask-contract-units",
}


@pytest.fixture(scope="module")
def march() -> Reconciliation:
    return reconcile(load_directory(MONTH))


def findings(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[*KEY, "variance"]].astype(str).sort_values(KEY).reset_index(drop=True)


def expected() -> pd.DataFrame:
    return findings(pd.read_csv(MONTH / "expected.csv", dtype=str, keep_default_na=False))


def test_the_directory_is_what_the_builder_writes(tmp_path: Path) -> None:
    make_semantics.write(tmp_path / "semantics", tmp_path / "month")
    written = {path.name: path.read_text(encoding="utf-8") for path in (tmp_path / "month").iterdir()}
    committed = {path.name: path.read_text(encoding="utf-8") for path in MONTH.iterdir()}
    assert written == committed, "run python tests/fixtures/make_semantics.py (tests/fixtures/real_month is stale)"


def test_every_file_is_read_whole_by_the_preset_of_its_shape() -> None:
    inspection = inspect_directory(MONTH)
    reports = {report.file: report for report in inspection.reports}
    assert not inspection.refused
    for name, preset in PRESETS.items():
        assert f"({preset})" in reports[name].read_as, (name, reports[name].read_as)
    assert all(report.rows_used == report.rows_in and report.rows_in for report in reports.values())
    assert sorted(entry.split(":")[0] for entry in inspection.ignored) == ["absent.csv", "expected.csv"]


def test_the_month_raises_its_true_findings_and_nothing_else(march: Reconciliation) -> None:
    assert march.periods == ("2026-03",)  # February's file and the charges reaching April add no month
    assert march.quarantine.empty and march.unmapped.empty and march.unmatched_credits.empty
    found = export_frame(march.discrepancies)
    pd.testing.assert_frame_equal(findings(found), expected())
    assert found.loc[found["sku"] == "ONBOARD", "variance"].tolist() == ["-150.00"]  # never -4.85


def test_none_of_the_false_findings_of_the_issues(march: Reconciliation) -> None:
    absent = pd.read_csv(MONTH / "absent.csv", dtype=str, keep_default_na=False)
    raised = march.discrepancies[KEY].astype(str).merge(absent, on=KEY)
    assert raised.empty, raised


def test_the_realities_are_read_as_they_are(march: Reconciliation) -> None:
    keys = march.keys.set_index(["client", "sku"])
    assert keys.loc[("Contoso Dental", "M365-E3"), "usage_qty"] == 10.0  # cycles 2/20-3/19 and 3/20-4/19
    assert keys.loc[("Contoso Dental", "M365-E3"), "carried_days"] == 0
    assert keys.loc[("Contoso Dental", "M365-BP"), "usage_qty"] == 11.0968  # (14 x 10 + 17 x 12) / 31
    assert keys.loc[("Contoso Dental", "TEAMS-PREM"), "trial_qty"] > 0
    assert keys.loc[("Fabrikam Legal", "EDR"), "vendor_unit_cost"] == 60_000  # 72.00 a year: 6.00 a month
    assert keys.loc[("Alpine Ski House", "MANAGED-WS"), "contract_qty"] == 10.0  # 12 less 2 included
    assert keys.loc[("Alpine Ski House", "MANAGED-WS"), "billed_qty"] == 10.0  # 11 billed, 1 credited
    assert keys.loc[("Lakeside Veterinary Clinic", "29683450"), "contract_qty"] == 16.0968  # never 32
    assert ("Northwind Traders", "EXO-P1") not in keys.index or \
        keys.loc[("Northwind Traders", "EXO-P1"), "contract_qty"] == 0  # cancelled on 3/3: whole months only


def test_the_command_line_gives_the_same_findings(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--data", str(MONTH), "--out", str(tmp_path), "--no-store"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "discrepancies.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(findings(written), expected())
