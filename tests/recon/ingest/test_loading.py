"""Loading real-world files: encodings, delimiters, money and date formats, and the quarantine."""

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from recon.errors import MissingSourceError, SourceError
from recon.ingest import reading
from recon.ingest.directory import load_directory
from recon.ingest.files import load_file
from recon.ingest.reading import ReadOptions
from recon.money import from_decimal

USAGE = "client,sku,quantity,period_start\nAcme,X,3,2026-01-05\n"


def test_bom_cp1252_and_semicolons_are_read() -> None:
    text = "client;sku;unit_price;start_date\nCafé Müller;M365-BP;1.234,50;15/01/2026\n"
    loaded = load_file(text.encode("cp1252"), "contracts.csv", "contracts",
                       ReadOptions(decimal=",", date_format="%d/%m/%Y"))
    row = loaded.frame.iloc[0]
    assert row["client"] == "Café Müller"
    assert row["unit_price"] == from_decimal("1234.50")
    assert row["start_date"] == pd.Timestamp("2026-01-15")
    bom = load_file(b"\xef\xbb\xbf" + USAGE.encode(), "usage.csv", "usage")
    assert list(bom.frame["client"]) == ["Acme"]


def test_tabs_us_dates_dollars_and_parentheses() -> None:
    text = ("invoice_number\tinvoice_date\tclient\tsku\tquantity\tunit_price\tamount\n"
            "INV-1\t3/7/2026\t  Acme   Corp \tM365-BP\t2\t$1,234.56\t(2,469.12)\n\n\n")
    loaded = load_file(text.encode(), "invoices.tsv", "invoices")
    row = loaded.frame.iloc[0]
    assert row["invoice_date"] == pd.Timestamp("2026-03-07")
    assert row["client"] == "Acme Corp"
    assert row["amount"] == from_decimal("-2469.12")
    assert loaded.record.blank_rows == 2 and loaded.record.rows_in == 1


def test_bad_rows_go_to_quarantine_with_line_column_and_reason() -> None:
    text = ("client,sku,quantity,period_start\nAcme,X,3,2026-01-05\nBeta,Y,lots,2026-01-05\n"
            ",Z,1,2026-01-05\nclient,sku,quantity,period_start\nGamma,W,2,someday\n")
    loaded = load_file(text.encode(), "usage_pax8.csv", "usage")
    issues = loaded.issues.set_index("line")
    # Each reason names the field, what is wrong, and the expectation of the quality suite that failed.
    assert issues.loc[3, "reason"] == "quantity: cannot read quantity 'lots' (expect_column_values_to_not_be_null)"
    assert issues.loc[4, "reason"] == "client: required value is empty (expect_column_values_to_not_be_null)"
    assert issues.loc[5, "reason"] == "repeated header row"
    assert issues.loc[6, "column"] == "period_start"
    record = loaded.record
    assert record.rows_in == record.rows_loaded + record.rows_quarantined == 5


def test_missing_required_columns_are_named_all_at_once() -> None:
    with pytest.raises(SourceError, match="invoice_number, invoice_date") as error:
        load_file(b"client,sku,quantity,unit_price\nA,B,1,2\n", "invoices.csv", "invoices")
    assert "invoices.csv" in str(error.value)


def test_defaults_fill_amount_and_periods() -> None:
    text = "invoice_number,invoice_date,client,sku,quantity,unit_price\nINV-1,2026-02-14,A,B,3,2.50\n"
    row = load_file(text.encode(), "invoices.csv", "invoices").frame.iloc[0]
    assert row["amount"] == from_decimal("7.50")
    assert (row["period_start"], row["period_end"]) == (pd.Timestamp("2026-02-01"), pd.Timestamp("2026-02-28"))


def test_xlsx_is_read(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["client", "sku", "quantity", "period_start"])
    sheet.append(["Acme", "X", 4, "2026-01-01"])
    path = tmp_path / "usage.xlsx"
    book.save(path)
    loaded = load_file(path.read_bytes(), path.name, "usage")
    assert loaded.frame["quantity"].tolist() == [4.0]


def test_directory_needs_the_three_required_sources(tmp_path: Path) -> None:
    (tmp_path / "usage.csv").write_text(USAGE)
    with pytest.raises(MissingSourceError, match=r"contracts\.csv, invoices\.csv"):
        load_directory(tmp_path)


def test_unreadable_file_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"broken\.xlsx"):
        load_file(b"PK\x03\x04 not really a zip", "broken.xlsx", "usage")


def test_a_bug_in_the_reader_is_not_reported_as_a_bad_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser refusing the bytes is a bad file (above); an error of our own code (injected here) is
    raised as the bug it is, not turned into "unreadable as CSV" (issue 19)."""
    def broken(*_args: object, **_kwargs: object) -> None:
        raise AttributeError("'NoneType' object has no attribute 'columns'")

    monkeypatch.setattr(reading, "_read_delimited", broken)
    with pytest.raises(AttributeError):
        load_file(USAGE.encode(), "usage.csv", "usage")


def test_timestamps_with_a_time_zone_keep_the_written_date() -> None:
    from recon.ingest.normalise import parse_dates

    cells = pd.Series(["2026-02-10T14:00:00Z", "2026-02-28T23:30:00-05:00", "2026-02-01T00:00:00.5+0100",
                       "2026-02-01", "bad"])
    parsed = parse_dates(cells)
    assert list(parsed[:4].dt.strftime("%Y-%m-%d")) == ["2026-02-10", "2026-02-28", "2026-02-01", "2026-02-01"]
    assert pd.isna(parsed[4])


def test_a_file_whose_non_utf8_byte_comes_late_is_read_as_cp1252_whole() -> None:
    """Only a UTF-8 file's head is decoded before Arrow reads it (Arrow checks the rest): a cp1252
    byte far past that head must still send the whole file down the cp1252 path, not lose a row."""
    rows = "".join(f"Client {i},M365-BP,1,2026-01-05\n" for i in range(40_000))  # well past the head
    text = "client,sku,quantity,period_start\n" + rows + "Café Müller,M365-BP,2,2026-01-05\n"
    loaded = load_file(text.encode("cp1252"), "usage.csv", "usage")
    assert len(loaded.frame) == 40_001
    assert loaded.frame["client"].iloc[-1] == "Café Müller"


def test_a_file_that_is_not_text_is_refused_saying_where() -> None:
    """0x81 is neither UTF-8 (a continuation byte with nothing before it) nor in Windows-1252: a file
    with no UTF-8 character is refused naming the line and the byte. In a file that is otherwise UTF-8
    (``Café``), the same byte quarantines its line instead (issue 24: encodings decided with evidence)."""
    data = b"client,sku,quantity,period_start\nCafe,X,3,2026-01-05\nAcme,X\x81,3,2026-01-05\n"
    with pytest.raises(SourceError) as refused:
        load_file(data, "usage.csv", "usage")
    assert str(refused.value) == ("usage.csv: is not UTF-8, and line 3, byte 7 (0x81) is not Windows-1252 either; "
                                  "name its encoding in profile.toml")
    loaded = load_file(data.replace(b"Cafe", "Café".encode()), "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Café"]
    assert loaded.issues["reason"].tolist() == [
        "byte 0x81 is not UTF-8, in a file that otherwise is (byte 7 of the row)"]


def _workbook(*sheets: tuple[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_workbook_is_read_from_its_first_sheet_with_a_header() -> None:
    """A report exported with a cover sheet first: the table is found on the sheet after it, unless a
    sheet is named (a profile's ``sheet``), which is read as asked."""
    data = _workbook(("Summary", [["Usage report, generated 2026-02-01"], [], ["Prepared by: Pax8"]]),
                     ("Usage", [["client", "sku", "quantity", "period_start"], ["Acme", "X", 3, "2026-01-05"]]))
    assert load_file(data, "usage.xlsx", "usage").frame["client"].tolist() == ["Acme"]
    with pytest.raises(SourceError, match="missing required column"):
        load_file(data, "usage.xlsx", "usage", ReadOptions(sheet="Summary"))
    single = _workbook(("Only", [["client"], ["Acme"]]))  # no sheet names two columns: the first is read
    with pytest.raises(SourceError, match=r"found: client\)"):
        load_file(single, "usage.xlsx", "usage")


def test_a_header_longer_than_the_sniffed_head_is_read_whole() -> None:
    padding = [f"extra_column_{i:05d}" for i in range(600)]  # about 12,000 characters of header
    header = ",".join(["client", "sku", "quantity", "period_start", *padding])
    row = ",".join(["Acme", "X", "3", "2026-01-05", *[""] * len(padding)])
    loaded = load_file(f"{header}\n{row}\n".encode(), "usage.csv", "usage")
    assert list(loaded.frame["client"]) == ["Acme"]


def test_a_directory_reads_its_files_as_the_same_bytes_uploaded_would_be(tmp_path: Path) -> None:
    """Files of a data directory are mapped into memory rather than copied (``io._mapped``): a BOM, a
    cp1252 file, a quoted line break, an empty file and a workbook must load exactly as their bytes do
    when uploaded, hash included."""
    files = {
        "contracts.csv": b"\xef\xbb\xbfclient,sku,quantity,unit_price,start_date\nAcme,M365-BP,3,12.50,2026-01-01\n",
        "usage.csv": "client,sku,quantity,period_start\nCafé Müller,M365-BP,3,2026-01-05\n".encode("cp1252"),
        "invoices.csv": (b'invoice_number,invoice_date,client,sku,quantity,unit_price,description\n'
                         b'INV-1,2026-01-31,Acme,M365-BP,3,12.50,"two\nlines"\n'),
        "payments.csv": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    book = openpyxl.Workbook()
    book.active.append(["client", "sku", "quantity", "period_start"])
    book.active.append(["Acme", "X", 4, "2026-01-01"])
    book.save(tmp_path / "usage_extra.xlsx")

    from recon.ingest.directory import inspect_directory

    inspection = inspect_directory(tmp_path)
    loaded = {item.record.file: item for item in inspection.loaded}
    assert inspection.refused == ()  # (an empty optional file reads as no rows: issue 24)
    assert sorted(loaded) == ["contracts.csv", "invoices.csv", "payments.csv", "usage.csv", "usage_extra.xlsx"]
    assert loaded.pop("payments.csv").report.warnings == ("is empty (0 bytes): read as no payments rows",)
    for name, item in loaded.items():
        uploaded = load_file((tmp_path / name).read_bytes(), name, item.record.source)
        pd.testing.assert_frame_equal(item.frame, uploaded.frame)
        assert item.record.sha256 == uploaded.record.sha256
    assert loaded["usage.csv"].frame["client"].tolist() == ["Café Müller"]
    assert loaded["invoices.csv"].frame["description"].tolist() == ["two lines"]  # read whole, then tidied


def test_small_files_are_loaded_right_after_the_largest_for_the_gx_worker_to_judge_meanwhile() -> None:
    # At 1M invoice lines the small files (contracts, payments, catalog...) were parsed last, so their
    # suites ran one after another in the GX worker once everything else was loaded. Now: the largest file
    # first, the small ones (smallest first, as many as may wait together: WAITING_BYTES), then the rest
    # largest first.
    from recon.ingest.directory import WAITING_BYTES, loading_order

    mb = 1 << 20
    sizes = [11 * mb, 180 * mb, 6 * mb, 68 * mb, 57 * mb, 1300, 300_000, 0, 39 * mb, 20 * mb]
    assert 32 * mb == WAITING_BYTES
    assert loading_order(sizes) == [1, 7, 5, 6, 2, 0, 3, 4, 8, 9]
    assert loading_order([]) == [] and loading_order([5]) == [0]
    assert sorted(loading_order(sizes)) == list(range(len(sizes)))
