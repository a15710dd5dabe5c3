"""Numbers and dates never guessed (issue 24, items 2, 5 and 10).

Before: quantity 99999999999999 x unit price 99999999999999 with no amount was an ``OverflowError``
traceback, ten amounts of 99999999999999 wrapped the billed total to -844674407370965.16 with exit 0,
``today`` and ``now`` were dates (the row moved with the day the run happened), ``12,50`` was read as
1250 without a word.
"""

from __future__ import annotations

import pandas as pd
import pytest

from recon.ingest.files import load_file
from recon.ingest.guard import UploadLimits
from recon.ingest.normalise import parse_dates
from recon.ingest.reading import ReadOptions
from recon.settings import Settings

INVOICES = "invoice_number,invoice_date,client,sku,quantity,unit_price,amount\n"
GOOD = "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\n"
PAYMENTS = "invoice_number,payment_date,amount\n"


def test_quantity_times_price_beyond_the_limit_is_quarantined_not_an_overflow_error() -> None:
    data = (INVOICES.replace(",amount", "") + "INV-1,2026-01-31,Acme,M365-BP,3,12.50\n"
            "INV-2,2026-01-31,Acme,M365-BP,99999999999999,99999999999999\n").encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    assert loaded.frame["amount"].tolist() == [375_000]
    reasons = loaded.issues["reason"].iloc[0]
    assert "quantity: '99999999999999' is beyond the limit of 1,000,000,000,000 per line (max_line_amount" in reasons
    assert "amount: quantity x unit price is beyond the limit of 1,000,000,000,000 per line" in reasons


def test_an_amount_beyond_the_limit_is_quarantined_never_summed() -> None:
    data = (INVOICES + GOOD + "INV-1,2026-01-31,Acme,M365-BS,1,1.00,99999999999999\n" * 10).encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    assert loaded.frame["amount"].tolist() == [375_000]
    assert loaded.report.rows_quarantined == 10
    assert set(loaded.issues["reason"]) == {"amount: '99999999999999' is beyond the limit of 1,000,000,000,000 "
                                            "per line (max_line_amount in the settings)"}


def test_the_limit_is_a_setting_and_too_many_digits_for_money_are_beyond_it() -> None:
    limits = UploadLimits.from_settings(Settings(max_line_amount=1000))
    data = (INVOICES + GOOD + "INV-2,2026-01-31,Acme,M365-BS,1,1.00,1000.01\n"
            "INV-3,2026-01-31,Acme,M365-BS,1,1.00,123456789012345678\n").encode()
    loaded = load_file(data, "invoices.csv", "invoices", limits=limits)
    assert loaded.frame["invoice_number"].tolist() == ["INV-1"]
    reasons = loaded.issues["reason"].tolist()
    assert reasons[0] == "amount: '1000.01' is beyond the limit of 1,000 per line (max_line_amount in the settings)"
    assert reasons[1] == ("amount: cannot read money '123456789012345678' (expect_column_values_to_not_be_null); "
                          "amount: '123456789012345678' is beyond the limit of 1,000 per line (max_line_amount in "
                          "the settings)")
    with pytest.raises(Exception, match="max_line_amount must be above 0 and at most 100,000,000,000,000"):
        Settings(max_line_amount=10**15)


@pytest.mark.parametrize("word", ["today", "now", "Today", "yesterday", "tomorrow"])
def test_relative_words_are_not_dates(word: str) -> None:
    data = (PAYMENTS + f"INV-1,{word},10.00\nINV-2,2026-01-06,5.00\n").encode()
    loaded = load_file(data, "payments.csv", "payments")
    assert loaded.frame["invoice_number"].tolist() == ["INV-2"]
    assert f"payment_date: cannot read date '{word}'" in loaded.issues["reason"].iloc[0]
    assert parse_dates(pd.Series([word]), "%d/%m/%Y").isna().all()


def test_a_decimal_comma_read_with_a_decimal_point_is_quarantined_with_a_warning_naming_the_setting() -> None:
    data = b"invoice_number;payment_date;amount\nINV-1;2026-01-06;3668,30\nINV-2;2026-01-06;927,80\n"
    loaded = load_file(data, "payments.csv", "payments")
    assert loaded.report.rows_used == 0 and loaded.report.rows_quarantined == 2
    assert loaded.report.warnings == (
        "amount: 2 value(s) such as '3668,30' look written with a decimal ',', but the file is read with '.': those "
        "rows are quarantined; if the file uses decimal ',', set decimal = \",\" for this file in profile.toml",)
    fixed = load_file(data, "payments.csv", "payments", ReadOptions(decimal=","))
    assert fixed.frame["amount"].tolist() == [36_683_000, 9_278_000] and not fixed.report.warnings


def test_an_ambiguous_thousands_comma_is_read_and_warned_about() -> None:
    data = (PAYMENTS + 'INV-1,2026-01-06,"1,234"\nINV-2,2026-01-06,"2,500"\n').encode()
    loaded = load_file(data, "payments.csv", "payments")
    assert loaded.frame["amount"].tolist() == [12_340_000, 25_000_000]
    assert loaded.report.warnings == (
        "amount: 2 value(s) such as '1,234' were read with ',' as a thousands separator; if the file uses decimal "
        "',' instead, set decimal = \",\" for this file in profile.toml",)


@pytest.mark.parametrize(("control", "code"), [("\x1b[31m", "0x1b"), ("\x07", "0x07"), ("\x7f", "0x7f")])
def test_a_control_character_in_a_value_quarantines_its_row(control: str, code: str) -> None:
    """DEL (0x7f) is a control character too: it loaded inside the value without a word (fuzz, seed 24)."""
    data = (PAYMENTS + f"INV-1{control}X,2026-01-06,10.00\nINV-2,2026-01-06,5.00\n").encode()
    loaded = load_file(data, "payments.csv", "payments")
    assert loaded.frame["invoice_number"].tolist() == ["INV-2"]
    assert loaded.issues["reason"].iloc[0] == f"invoice_number: holds a control character ({code}), not text"


@pytest.mark.parametrize(("character", "code"), [("\x0b", "0x0b"), ("\x0c", "0x0c"), ("\x1f", "0x1f")])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_vertical_tab_form_feed_or_separator_in_a_value_is_a_space_the_report_names(
        character: str, code: str, suffix: str) -> None:
    """Python counts these as whitespace, and some systems write a vertical tab for a line break inside a
    value, so ``Blue Heron A<VT>rchitects`` reads ``Blue Heron A rchitects`` (a space, never a quarantine);
    but it no longer does so without a word: the report counts them and names the first line and column.
    (A Parquet table is read cell by cell, not from bytes; XLSX cannot hold these characters.)"""
    rows = [["Acme", "M365-BP", "3", "2026-01-05"], [f"Blue Heron A{character}rchitects", "M365-BP", "2", "2026-01-05"],
            [f"Coastal{character}", "EXO-P1", "1", "2026-01-05"]]
    header = ["client", "sku", "quantity", "period_start"]
    if suffix == ".csv":
        data = "\n".join(",".join(row) for row in [header, *rows]).encode() + b"\n"
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({name: [row[number] for row in rows] for number, name in enumerate(header)}), sink)
        data = sink.getvalue().to_pybytes()
    loaded = load_file(data, "usage" + suffix, "usage")
    assert loaded.frame["client"].tolist() == ["Acme", "Blue Heron A rchitects", "Coastal"]
    assert loaded.report.rows_quarantined == 0
    assert loaded.report.warnings == (
        f"2 value(s) hold a vertical tab, form feed or separator character, read as a space (the first: {code} on "
        "line 3, column client); check them if the file's system did not mean a space or a line break there",)


def test_values_with_tabs_and_ordinary_spaces_get_no_such_warning() -> None:
    data = "client,sku,quantity,period_start\nAcme\tCorp,M365-BP,3,2026-01-05\nBeta  Co ,M365-BP,3,2026-01-05\n"
    loaded = load_file(data.encode(), "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Acme Corp", "Beta Co"]
    assert loaded.report.warnings == ()


def test_a_euro_amount_with_a_decimal_comma_is_never_read_as_350() -> None:
    """Issue 24 case 10 names ``€3,50`` beside ``12,50``: the currency sign changes nothing."""
    data = 'invoice_number,payment_date,amount\nINV-1,2026-01-06,"€3,50"\nINV-2,2026-01-06,5.00\n'.encode()
    loaded = load_file(data, "payments.csv", "payments")
    assert loaded.frame["amount"].tolist() == [50_000]
    assert loaded.issues["reason"].tolist() == [
        "amount: cannot read money '€3,50' (expect_column_values_to_not_be_null)"]
    assert loaded.report.warnings == (
        "amount: 1 value(s) such as '€3,50' look written with a decimal ',', but the file is read with '.': those "
        "rows are quarantined; if the file uses decimal ',', set decimal = \",\" for this file in profile.toml",)
    fixed = load_file(data.replace(b"5.00", b'"5,00"'), "payments.csv", "payments", ReadOptions(decimal=","))
    assert fixed.frame["amount"].tolist() == [35_000, 50_000] and not fixed.report.warnings
