"""The validation report names a column of an export format that a file lacks, where a finding depends on it
(PRODUCT.md section 9: nothing is dropped silently).

On the code before this file, an optional column deleted in a spreadsheet (or left out of the export) loaded
without a word: ``recon.ingest.normalise`` filled its field all-missing, and the findings changed (a Pax8 file
without ``subscriptionId`` adds up rows of one subscription instead of replacing them in time; without
``endPeriod`` every row runs to the end of its month; without ``type`` no row is a seat). The file is still
used; the report says which column is missing and what that means. A column the format's header does not
have (an older export's, a newer field) is never missed: every fixture and sample file loads without one.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.ingest.directory import inspect_directory
from recon.ingest.files import load_file, load_source, pulled
from recon.ingest.presets import PRESETS, columns_read, fold
from recon.ingest.profile import SourceEntry
from recon.schema import WITHOUT_FIELD
from recon.sources import AbsentColumn
from recon.views import validation_summary

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
PAX8 = FIXTURES / "presets" / "pax8-invoice-items.csv"  # the header PRODUCT.md section 2 lists
MICROSOFT = FIXTURES / "real_month" / "microsoft-recon-2026-03.csv"  # Partner Center's full header
PAX8_ENTRY = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items")
MICROSOFT_ENTRY = SourceEntry(path="microsoft.csv", kind="usage", preset="microsoft-nce-recon")
DIRECTORIES = [ROOT / "sample_data", FIXTURES / "presets", FIXTURES / "real_month",
               FIXTURES / "real_exports" / "exports", FIXTURES / "real_exports" / "canonical", FIXTURES / "mini_msp"]
MARK = "which this export format has"  # in every warning of a missing column, in no other


def without(path: Path, column: str) -> bytes:
    """``path``'s CSV with ``column`` deleted (as a spreadsheet deletes it: header and cells)."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    at = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[cell for index, cell in enumerate(row) if index != at]
                                                    for row in rows])
    return out.getvalue().encode()


def test_a_pax8_export_without_subscription_id_says_what_its_absence_means() -> None:
    whole = load_source(PAX8.read_bytes(), "pax8.csv", PAX8_ENTRY)
    loaded = load_source(without(PAX8, "subscriptionId"), "pax8.csv", PAX8_ENTRY)
    assert loaded.report.rows_used == whole.report.rows_used  # still used
    assert loaded.report.absent_columns == (
        AbsentColumn("subscriptionId", "subscription_id", WITHOUT_FIELD["usage"]["subscription_id"]),)
    assert loaded.report.warnings == (
        "no column 'subscriptionId' (subscription_id), which this export format has: rows of one subscription are "
        "added up instead of replacing one another in time, and refunds are not paired with their charges; if the "
        "export left it out, export the file again with it",)
    assert whole.report.absent_columns == () and whole.report.warnings == ()


@pytest.mark.parametrize(("column", "field_name"), [("endPeriod", "period_end"), ("type", "row_type"),
                                                    ("term", "row_type"), ("cost", "unit_cost"),
                                                    ("costTotal", "cost_amount")])
def test_a_pax8_column_a_field_is_derived_from_is_missed_too(column: str, field_name: str) -> None:
    loaded = load_source(without(PAX8, column), "pax8.csv", PAX8_ENTRY)
    assert [(absent.column, absent.field) for absent in loaded.report.absent_columns] == [(column, field_name)]
    assert loaded.report.warnings[-1].startswith(f"no column {column!r} ({field_name}), {MARK}: "
                                                 f"{WITHOUT_FIELD['usage'][field_name]}")


def test_a_microsoft_export_without_charge_end_date_says_rows_run_to_the_end_of_their_month() -> None:
    loaded = load_source(without(MICROSOFT, "ChargeEndDate"), "microsoft.csv", MICROSOFT_ENTRY)
    assert [(absent.column, absent.field) for absent in loaded.report.absent_columns] == [("ChargeEndDate",
                                                                                           "period_end")]
    assert "each row counts from its start to the end of that month" in loaded.report.warnings[0]
    assert load_source(MICROSOFT.read_bytes(), "microsoft.csv", MICROSOFT_ENTRY).report.warnings == ()


def test_the_report_exports_and_tabulates_the_missing_columns() -> None:
    loaded = load_source(without(PAX8, "endPeriod"), "pax8.csv", PAX8_ENTRY)
    means = WITHOUT_FIELD["usage"]["period_end"]
    assert loaded.report.to_dict()["absent_columns"] == [{"column": "endPeriod", "field": "period_end", "means": means}]
    assert validation_summary([loaded.report])["absent_columns"].tolist() == [f"'endPeriod' (period_end): {means}"]


def test_a_column_only_a_fuller_header_of_the_format_has_is_not_missed() -> None:
    """Partner Center's older header (PRODUCT.md section 2's list) has no SubscriptionStartDate, Publisher
    or ProductQualifiers: a file of it lacks nothing. The same columns missing from a file of the full header are."""
    older = load_source((FIXTURES / "presets" / "microsoft-nce-recon.csv").read_bytes(), "older.csv", MICROSOFT_ENTRY)
    assert older.report.absent_columns == ()
    full = load_source(without(MICROSOFT, "ProductQualifiers"), "microsoft.csv", MICROSOFT_ENTRY)
    assert [(absent.column, absent.field) for absent in full.report.absent_columns] == [("ProductQualifiers",
                                                                                        "row_type")]


def test_a_field_given_by_another_column_is_not_missing() -> None:
    """A profile that maps the field to a column of the file's own (or a column named as the field) reads it."""
    renamed = PAX8.read_text(encoding="utf-8").replace("subscriptionId", "Subscription", 1).encode()
    mapped = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items",
                         columns={"subscription_id": "Subscription"})
    assert load_source(renamed, "pax8.csv", mapped).report.warnings == ()
    canonical_name = PAX8.read_text(encoding="utf-8").replace("subscriptionId", "subscription_id", 1).encode()
    assert load_source(canonical_name, "pax8.csv", PAX8_ENTRY).report.absent_columns == ()


def test_a_canonical_file_with_only_its_required_columns_is_not_warned_about() -> None:
    """The canonical format's optional fields have the defaults PRODUCT.md section 2 gives them (a hand-made
    file of the required columns is well formed): only an export format's columns are missed."""
    loaded = load_file(b"client,sku,quantity,period_start\nAcme,M365-BP,3,2026-01-05\n", "usage.csv", "usage")
    assert loaded.report.absent_columns == () and loaded.report.warnings == ()


def test_a_pulled_table_is_not_warned_about_a_field_the_api_left_out() -> None:
    loaded = pulled(load_source(without(PAX8, "subscriptionId"), "pax8:items", PAX8_ENTRY))
    assert loaded.report.absent_columns == () and loaded.report.warnings == ()


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_sample_or_fixture_file_lacks_a_column(directory: Path) -> None:
    inspection = inspect_directory(directory)
    assert inspection.reports
    assert [(report.file, report.absent_columns) for report in inspection.reports if report.absent_columns] == []
    assert not [warning for report in inspection.reports for warning in report.warnings if MARK in warning]


def test_the_generated_sample_lacks_no_column(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["sample", "--out", str(tmp_path)]).exit_code == 0
    assert [report.file for report in inspect_directory(tmp_path).reports if report.absent_columns] == []


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_column_a_derived_field_is_declared_from_is_documented_and_read_by_the_rule(preset: str) -> None:
    """``Preset.derived_from`` says which columns a rule reads a field from: hold it to the rule, so a rule
    that stops reading a column (or a name that drifts) fails here, not in a silent load."""
    spec = PRESETS[preset]
    documented = {fold(column) for header in (spec.known_columns, *spec.variants) for column in header}
    declared = {fold(column) for groups in spec.derived_from.values() for names in groups for column in names}
    assert declared <= documented
    assert set(spec.derived_from) <= set(WITHOUT_FIELD[spec.kind])
    for header in (spec.known_columns, *spec.variants):  # a file of each documented header
        with columns_read() as read:
            spec.prepare(pd.DataFrame({column: pd.Series([""], dtype="string") for column in header}))
        assert declared & {fold(column) for column in header} <= {fold(column) for column in read.found}


def sample_with_pax8_missing(tmp_path: Path, column: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "real_exports" / "exports", data)
    pax8 = data / "pax8_invoice_items_2026-03.csv"
    pax8.write_bytes(without(pax8, column))
    return data


def test_recon_run_and_validate_print_the_missing_column(tmp_path: Path) -> None:
    data = sample_with_pax8_missing(tmp_path, "subscriptionId")
    run = CliRunner().invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out"), "--no-store"])
    assert run.exit_code == 0, run.output
    assert ("  warning: pax8_invoice_items_2026-03.csv: no column 'subscriptionId' (subscription_id), which this "
            "export format has: rows of one subscription are added up") in run.output
    validate = CliRunner().invoke(app, ["validate", "--data", str(data)])
    assert "  warning: no column 'subscriptionId' (subscription_id), which this export format has" in validate.output
    whole = CliRunner().invoke(app, ["run", "--data", str(FIXTURES / "real_exports" / "exports"),
                                     "--out", str(tmp_path / "whole"), "--no-store"])
    assert whole.exit_code == 0, whole.output
    assert MARK not in whole.output
