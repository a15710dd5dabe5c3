"""The validation report names the columns a file has that nothing reads (PRODUCT.md section 9).

On the code before this file, an optional column renamed by hand (``vendr``) or a column of someone's
own loaded without a word: the field stayed empty and the user never learned that a column they expected
to count was dropped (fuzz campaign: header_rename and header_blank mutations loaded "silent"). The file
is still used; the report says which columns were not, with a "did you mean" for a likely misspelling.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.ingest.directory import inspect_directory
from recon.ingest.files import load_file, load_source, pulled
from recon.ingest.presets import PRESETS
from recon.ingest.profile import SourceEntry
from recon.sources import UnusedColumn
from recon.views import validation_summary

ROWS = "Acme,M365-BP,3,2026-01-05,Pax8\nBravo,EXO-P1,4,2026-01-05,Pax8\n"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PAX8 = FIXTURES / "presets" / "pax8-invoice-items.csv"
SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"


def usage(header: str, rows: str = ROWS) -> bytes:
    return (header + "\n" + rows).encode()


def test_a_renamed_optional_column_loads_and_the_report_says_did_you_mean() -> None:
    loaded = load_file(usage("client,sku,quantity,period_start,vendr"), "usage.csv", "usage")
    assert loaded.report.rows_used == 2  # not refused
    assert loaded.frame["vendor"].isna().all() or loaded.frame["vendor"].eq("").all()
    assert loaded.report.unused_columns == (UnusedColumn("vendr", "vendor"),)
    assert loaded.report.warnings == ("1 column(s) not used, their values not read: 'vendr' (did you mean vendor?); "
                                      "if one holds a field, rename it in the file or map it in profile.toml",)


def test_an_unknown_column_is_named_without_a_guess_and_a_misspelt_one_with_one() -> None:
    rows = "Acme,M365-BP,3,2026-01-05,call Bob,19.80\n"
    loaded = load_file(usage("client,sku,quantity,period_start,Notes,Unit Cst", rows), "usage.csv", "usage")
    assert loaded.report.unused_columns == (UnusedColumn("Notes"), UnusedColumn("Unit Cst", "unit_cost"))
    assert "2 column(s) not used, their values not read: 'Notes', 'Unit Cst' (did you mean unit_cost?)" in \
        loaded.report.warnings[0]


def test_a_file_whose_columns_are_all_used_says_nothing_new() -> None:
    loaded = load_file(usage("client,sku,quantity,period_start,vendor"), "usage.csv", "usage")
    assert loaded.report.unused_columns == ()
    assert loaded.report.warnings == ()


def test_a_column_without_a_name_counts_only_when_it_holds_a_value() -> None:
    trailing = load_file(usage("client,sku,quantity,period_start,", "Acme,M365-BP,3,2026-01-05,\n"), "usage.csv",
                         "usage")
    assert trailing.report.unused_columns == ()
    filled = load_file(usage("client,sku,quantity,period_start,", "Acme,M365-BP,3,2026-01-05,Pax8\n"), "usage.csv",
                       "usage")
    assert filled.report.unused_columns == (UnusedColumn("unnamed column 5"),)


def pax8(header_from: str, header_to: str) -> bytes:
    text = PAX8.read_text()
    first, rest = text.split("\n", 1)
    return ("\n".join([first.replace(header_from, header_to), rest])).encode()


def test_a_preset_file_with_a_misspelt_column_its_rule_reads_gets_did_you_mean() -> None:
    entry = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items")
    loaded = load_source(pax8(",term,", ",trm,"), "pax8.csv", entry)
    unknown = tuple(column for column in loaded.report.unused_columns if not column.known)
    assert unknown == (UnusedColumn("trm", "term"),)
    assert "'trm' (did you mean term?)" in loaded.report.warnings[0]
    # (and the next says what reading the file without its term column means: test_absent_columns.py)
    assert loaded.report.warnings[1].startswith("no column 'term' (row_type), which this export format has")


def test_a_preset_file_names_the_documented_columns_it_does_not_need_without_a_warning() -> None:
    entry = SourceEntry(path="pax8.csv", kind="usage", preset="pax8-invoice-items")
    loaded = load_source(PAX8.read_bytes(), "pax8.csv", entry)
    unused = loaded.report.unused_columns
    assert unused and all(column.known for column in unused)
    assert {column.column for column in unused} <= set(PRESETS["pax8-invoice-items"].known_columns)
    assert not any("not used" in warning for warning in loaded.report.warnings)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_no_preset_fixture_warns_of_a_column_its_rule_reads(preset: str) -> None:
    path = FIXTURES / "presets" / f"{preset}.csv"
    lookup = {"1": "Acme"} if PRESETS[preset].client_key else {}  # (Autotask units name no client)
    entry = SourceEntry(path=path.name, kind=PRESETS[preset].kind, preset=preset, client_lookup=lookup)
    loaded = load_source(path.read_bytes(), path.name, entry)
    assert not any("not used" in warning for warning in loaded.report.warnings), loaded.report.unused_columns


def test_the_sample_msp_has_no_unknown_column() -> None:
    inspection = inspect_directory(SAMPLE)
    assert [report.file for report in inspection.reports if any(not c.known for c in report.unused_columns)] == []


def test_the_report_exports_and_tabulates_the_columns_not_used() -> None:
    loaded = load_file(usage("client,sku,quantity,period_start,vendr"), "usage.csv", "usage")
    assert loaded.report.to_dict()["unused_columns"] == [{"column": "vendr", "did_you_mean": "vendor", "known": False}]
    summary = validation_summary([loaded.report])
    assert summary["unused_columns"].tolist() == ["'vendr' (did you mean vendor?)"]
    assert isinstance(summary, pd.DataFrame)


def test_a_pulled_table_names_the_fields_nothing_read_as_the_apis_own_without_a_warning() -> None:
    """An API renames nothing by hand: its extra fields (Autotask's companyID, ...) are no misspelling."""
    rows = "Acme,M365-BP,3,2026-01-05,7\n"
    loaded = pulled(load_file(usage("client,sku,quantity,period_start,companyID", rows), "at:units", "usage"))
    assert loaded.report.unused_columns == (UnusedColumn("companyID", None, known=True),)
    assert loaded.report.warnings == ()


runner = CliRunner()


def data_with_renamed_vendor(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "real_exports" / "canonical", data)
    usage_file = data / "usage.csv"
    first, rest = usage_file.read_text().split("\n", 1)
    usage_file.write_text(first.replace(",vendor,", ",vendr,") + "\n" + rest)
    return data


def test_recon_validate_names_the_column_not_used(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--data", str(data_with_renamed_vendor(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "  warning: 1 column(s) not used, their values not read: 'vendr' (did you mean vendor?)" in result.output


def test_recon_run_names_the_column_not_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--data", str(data_with_renamed_vendor(tmp_path)), "--out", str(out),
                                 "--no-store"])
    assert result.exit_code == 0, result.output
    assert ("  warning: usage.csv: 1 column(s) not used, their values not read: 'vendr' (did you mean vendor?)"
            in result.output)
