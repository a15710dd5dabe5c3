"""What real exports contain: encodings, BOMs, delimiters, money and date formats, stray rows."""

from pathlib import Path

import pandas as pd
import pytest

from recon.errors import SourceError
from recon.ingest.files import load_file, load_source
from recon.ingest.profile import SourceEntry
from recon.ingest.reading import ReadOptions
from recon.money import from_decimal

CONTRACTS = "client;sku;unit_price;quantity;start_date\n"


def test_cp1252_with_accented_client_names() -> None:
    text = (
        "client,sku,unit_price,start_date\n"
        "Café Núñez Ltd,M365-BP,22.00,2026-01-01\n"
        "Zürich Ärzte AG,EDR,6.50,2026-01-01\n"
    )
    loaded = load_file(text.encode("cp1252"), "contracts.csv", "contracts")
    assert loaded.frame["client"].tolist() == ["Café Núñez Ltd", "Zürich Ärzte AG"]


def test_utf8_with_bom_keeps_the_first_column_name() -> None:
    text = "client,sku,quantity,period_start\nÅland Shipping,X,3,2026-01-05\n"
    loaded = load_file(b"\xef\xbb\xbf" + text.encode(), "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Åland Shipping"]


def test_semicolons_with_decimal_commas_and_thousands_dots() -> None:
    text = CONTRACTS + "Acme;M365-BP;1.234,56;2,5;15/01/2026\nAcme;EDR;6,50;30;01/02/2026\n"
    entry = SourceEntry(path="contracts.csv", kind="contracts", decimal=",", date_format="%d/%m/%Y")
    loaded = load_source(text.encode(), "contracts.csv", entry)
    assert loaded.frame["unit_price"].tolist() == [from_decimal("1234.56"), from_decimal("6.50")]
    assert loaded.frame["quantity"].tolist() == [2.5, 30.0]
    assert loaded.frame["start_date"].tolist() == [pd.Timestamp("2026-01-15"), pd.Timestamp("2026-02-01")]


def test_dollar_signs_thousands_separators_and_parenthesised_negatives() -> None:
    text = (
        "invoice_number,invoice_date,client,sku,quantity,unit_price,amount\n"
        'INV-1,3/7/2026,Acme,X,1,"$1,234.56","$1,234.56"\n'
        "INV-2,3/7/2026,Acme,CREDIT,1,12.00,(12.00)\n"
    )
    loaded = load_file(text.encode(), "invoices.csv", "invoices")
    assert loaded.frame["unit_price"].tolist() == [from_decimal("1234.56"), from_decimal("12.00")]
    assert loaded.frame["amount"].tolist() == [from_decimal("1234.56"), from_decimal("-12.00")]
    assert loaded.frame["invoice_date"].tolist() == [pd.Timestamp("2026-03-07")] * 2


def test_a_negative_price_in_parentheses_is_quarantined_not_flipped() -> None:
    text = "client,sku,unit_price,start_date\nAcme,X,(12.00),2026-01-01\n"
    loaded = load_file(text.encode(), "contracts.csv", "contracts")
    assert loaded.issues["reason"].tolist() == [
        "unit_price: '(12.00)' is negative (expect_column_values_to_be_between)"
    ]


def test_trailing_blank_rows_are_skipped_and_counted() -> None:
    text = "client,sku,quantity,period_start\nAcme,X,3,2026-01-05\n,,,\n\n;;;\n"
    loaded = load_file(text.encode(), "usage.csv", "usage", ReadOptions(delimiter=","))
    record = loaded.record
    assert (record.rows_in, record.rows_loaded, record.blank_rows) == (2, 1, 2)
    assert loaded.issues["line"].tolist() == [5]  # ";;;" is not blank: it is a row nobody can read


def test_a_duplicated_header_row_from_a_copy_paste_is_quarantined_as_such() -> None:
    text = (
        "client,sku,quantity,period_start\nAcme,X,3,2026-01-05\n"
        "client,sku,quantity,period_start\nBeta,Y,4,2026-01-05\n"
    )
    loaded = load_file(text.encode(), "usage.csv", "usage")
    assert loaded.issues["reason"].tolist() == ["repeated header row"]
    assert loaded.issues["line"].tolist() == [3]
    assert loaded.frame["client"].tolist() == ["Acme", "Beta"]
    assert loaded.report.rows_quarantined == 1 and loaded.report.balanced


def test_a_repeated_header_inside_a_preset_export_is_recognised_too() -> None:
    header = "Company,Member,Date,Actual Hours,Billable Option\n"
    text = header + "Acme,jdoe,3/4/2026,2,Billable\n" + header + "Acme,jdoe,3/5/2026,1,Billable\n"
    entry = SourceEntry(path="t.csv", kind="time_entries", preset="connectwise-time")
    loaded = load_source(text.encode(), "t.csv", entry)
    assert loaded.issues["reason"].tolist() == ["repeated header row"]


def test_stray_spaces_and_case_in_names_and_headers() -> None:
    text = " Client , SKU ,Quantity, Period_Start \n  Acme   Corp ,X, 3 , 2026-01-05 \n"
    loaded = load_file(text.encode(), "usage.csv", "usage")
    row = loaded.frame.iloc[0]
    assert (row["client"], row["quantity"], row["period_start"]) == (
        "Acme Corp",
        3.0,
        pd.Timestamp("2026-01-05"),
    )


def test_iso_timestamps_with_zones_read_as_their_written_date() -> None:
    text = (
        "client,sku,quantity,period_start,period_end\nAcme,X,1,2026-03-01T00:00:00Z,2026-03-31T23:59:59-05:00\n"
        "Acme,Y,1,2026-03-01 08:00,3/31/2026\n"
    )
    frame = load_file(text.encode(), "usage.csv", "usage").frame
    assert frame["period_start"].tolist() == [pd.Timestamp("2026-03-01")] * 2
    assert frame["period_end"].tolist() == [pd.Timestamp("2026-03-31")] * 2


def test_tab_separated_and_excel_files(tmp_path: Path) -> None:
    tsv = "client\tsku\tquantity\tperiod_start\nAcme\tX\t3\t2026-01-05\n"
    assert len(load_file(tsv.encode(), "usage.tsv", "usage").frame) == 1
    frame = pd.DataFrame(
        {
            "Company": ["Acme"],
            "Product ID": ["EDR"],
            "Unit Price": ["6.50"],
            "Effective Date": ["2026-01-01"],
            "Bill Customer": ["NoCharge"],
        }
    )
    path = tmp_path / "additions.xlsx"
    frame.to_excel(path, index=False, sheet_name="Additions")
    entry = SourceEntry(
        path="additions.xlsx", kind="contracts", preset="connectwise-additions", sheet="Additions"
    )
    row = load_source(path.read_bytes(), "additions.xlsx", entry).frame.iloc[0]
    assert row["client"] == "Acme" and bool(row["billable"]) is False


def test_a_mapped_column_missing_from_the_file_is_named() -> None:
    entry = SourceEntry(path="a.csv", kind="usage", columns={"client": "Customer", "quantity": "Seats"})
    with pytest.raises(SourceError, match=r"mapped column\(s\) not in the file: 'Customer' \(for client\)"):
        load_source(b"client,sku,Qty,period_start\nA,X,1,2026-01-01\n", "a.csv", entry)


def test_missing_required_columns_are_refused_naming_them() -> None:
    with pytest.raises(
        SourceError, match="missing required column\\(s\\) for invoices: invoice_number, invoice_date"
    ):
        load_file(b"client,sku,quantity,unit_price\nA,B,1,2\n", "invoices.csv", "invoices")


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02garbage", b"\xff\xfe\xfa not text at all \x81\x8d"])
def test_unreadable_bytes_are_a_source_error_never_a_crash(data: bytes) -> None:
    with pytest.raises(SourceError):
        load_file(data, "usage.csv", "usage")
