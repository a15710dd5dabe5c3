"""Done-when of issue 4: real-format exports plus profile.toml reconcile to the same discrepancies as the
same month in canonical form; and how a data directory's files are claimed."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from recon import load_directory, reconcile
from recon.errors import MissingSourceError, ProfileError, SourceError
from recon.exports.formatting import export_frame
from recon.ingest.directory import inspect_directory
from tests.fixtures import make_real_exports

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "real_exports"
PRESETS = Path(__file__).resolve().parents[1] / "fixtures" / "presets"

EXPECTED = [
    ("Acme Corporation", "LABOR", "unbilled_time", "-225.00"),
    ("Acme Corporation", "M365-BP", "quantity_under_billed", "-44.00"),
    ("Acme Corporation", "MANAGED-SVC", "missed_recurring_charge", "-1125.00"),
    ("Brightwave Dental", "M365-E3", "price_below_contract", "-20.00"),
    ("Brightwave Dental", "M365-E3", "quantity_over_billed", "27.87"),  # the credit of 2 seats from 3/20 nets
    ("Café Núñez Ltd", "EDR", "billed_outside_contract", "32.50"),
    ("Café Núñez Ltd", "EXO-P1", "quantity_under_billed", "-4.13"),
    ("Oakridge Legal", "29683450", "duplicate_charge", "750.00"),
    ("Oakridge Legal", "29683450", "price_below_contract", "-75.00"),
    ("Oakridge Legal", "BACKUP-M365", "unbilled_usage", "-36.00"),
    ("Oakridge Legal", "LABOR", "unbilled_time", "-337.50"),
]


@pytest.fixture(scope="module")
def runs():
    return reconcile(load_directory(ROOT / "canonical")), reconcile(load_directory(ROOT / "exports"))


def test_real_exports_reconcile_to_the_same_discrepancies_as_canonical_files(runs) -> None:
    canonical, exports = runs
    pd.testing.assert_frame_equal(
        exports.discrepancies.reset_index(drop=True), canonical.discrepancies.reset_index(drop=True)
    )
    found = export_frame(exports.discrepancies)
    assert list(zip(found["client"], found["sku"], found["type"], found["variance"], strict=True)) == EXPECTED
    assert exports.metrics.to_dict() == canonical.metrics.to_dict()
    assert len(exports.quarantine) == len(canonical.quarantine) == 1  # the unknown contract (credits net)


def test_every_export_file_is_read_as_its_profile_entry_says() -> None:
    reports = {report.file: report for report in inspect_directory(ROOT / "exports").reports}
    assert reports["microsoft_recon_2026-03.csv"].read_as.startswith(
        "preset microsoft-nce-recon (profile.toml line"
    )
    assert reports["psa_invoices.csv"].read_as.startswith("invoices with a column mapping")
    assert reports["catalog.csv"].read_as == "canonical columns"
    assert all(report.balanced for report in reports.values())
    assert len(reports) == 8


def test_fixture_files_are_what_the_builder_writes(tmp_path: Path) -> None:
    make_real_exports.write(tmp_path)
    for folder in ("canonical", "exports"):
        written = {path.name: path.read_bytes() for path in (tmp_path / folder).iterdir()}
        committed = {path.name: path.read_bytes() for path in (ROOT / folder).iterdir()}
        assert written == committed, f"run python tests/fixtures/make_real_exports.py ({folder} is stale)"


def test_without_a_profile_preset_exports_are_detected_from_their_headers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "exports", data)
    (data / "profile.toml").unlink()
    (data / "autotask_contract_units.csv").unlink()  # needs the profile's client lookup
    (data / "psa_invoices.csv").unlink()
    shutil.copy(ROOT / "canonical" / "invoices.csv", data / "invoices.csv")
    (data / "answer_key.csv").write_text("period,client,type\n2026-03,Acme,x\n")
    inspection = inspect_directory(data)
    reports = {report.file: report for report in inspection.reports}
    assert reports["pax8_invoice_items_2026-03.csv"].read_as.startswith(
        "preset detected from the header: Pax8 invoice items (pax8-invoice-items): 16 of 16 known columns"
    )
    assert reports["connectwise_additions.csv"].source == "contracts"
    assert inspection.ignored == (
        "answer_key.csv: no profile entry, not a canonical name, and no preset fits: "
        "closest is pax8-invoice-items with 1 of 16 known columns; missing companyName, "
        "sku, startPeriod",
    )
    assert not inspection.refused and inspection.missing_kinds() == []


def test_a_canonically_named_file_in_a_preset_format_is_read_with_the_preset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "canonical", data)
    shutil.copy(PRESETS / "pax8-invoice-items.csv", data / "usage_pax8.csv")
    reports = {report.file: report for report in inspect_directory(data).reports}
    assert reports["usage_pax8.csv"].read_as.startswith("preset detected from the header: Pax8")


def test_refused_files_are_reported_and_load_directory_names_them_all(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "canonical", data)
    (data / "payments.csv").write_text("invoice,paid\nINV-1,10\n")
    (data / "catalog.csv").write_text("description\nx\n")
    inspection = inspect_directory(data)
    refused = {report.file: report for report in inspection.refused}
    assert set(refused) == {"payments.csv", "catalog.csv"}
    assert (
        "missing required column(s) for payments: invoice_number, payment_date, amount"
        in refused["payments.csv"].problems[0]
    )
    with pytest.raises(SourceError) as error:
        load_directory(data)
    assert "catalog.csv: missing required column(s) for catalog: sku" in str(error.value)
    assert "payments.csv: missing required column(s)" in str(error.value)


def test_a_profile_entry_matching_no_file_is_noted_and_a_bad_profile_stops_the_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "exports", data)
    with (data / "profile.toml").open("a") as profile:
        profile.write('\n[[source]]\npath = "halo_*.csv"\nkind = "invoices"\n')
    assert inspect_directory(data).unused_entries == (
        "profile.toml line 45: path 'halo_*.csv' matched no file",
    )
    (data / "profile.toml").write_text('[[source]]\npath = "x.csv"\nkind = "usage"\nencodng = "cp1252"\n')
    with pytest.raises(ProfileError, match="line 4: \\[\\[source\\]\\] #1: unknown key 'encodng'"):
        load_directory(data)


def test_missing_required_sources_are_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "canonical", data)
    (data / "usage.csv").unlink()
    with pytest.raises(MissingSourceError, match=r"usage\*\.csv"):
        load_directory(data)


def test_a_detected_export_that_cannot_be_used_is_refused_under_its_kind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "canonical", data)
    shutil.copy(PRESETS / "autotask-contract-units.csv", data / "autotask.csv")
    (refused,) = inspect_directory(data).refused
    assert (refused.file, refused.source) == ("autotask.csv", "contracts")
    assert refused.read_as.startswith("preset detected from the header: Autotask contract service units")
    assert "give the profile a client column or a [source.client_lookup] table" in refused.problems[0]
