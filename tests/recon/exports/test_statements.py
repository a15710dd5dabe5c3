"""recon.exports.statements: the statement's lines and totals, and both documents read back from their bytes
(issue 22 item 5: a statement ready to hand to a client). The PDF is also rendered to PNG with pdftoppm into
``test-artifacts/statements/`` for a person to look at."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

import recon
from recon import views
from recon.company import Company
from recon.exports import statements
from recon.money import to_decimal
from tests.recon.exports.logo import png_logo

ROOT = Path(__file__).resolve().parents[3]
MINI_MSP = ROOT / "tests" / "fixtures" / "mini_msp"
ARTIFACTS = ROOT / "test-artifacts" / "statements"
ACME = "Acme Corporation"
COMPANY = Company(name="Northwind IT Services", address="12 Harbour Road\nBristol BS1 4QA", logo=png_logo())


@pytest.fixture(scope="module")
def run() -> recon.Reconciliation:
    return recon.reconcile(recon.load_directory(MINI_MSP))


@pytest.fixture(scope="module")
def acme(run) -> views.RunView:
    return views.filter_run(run, views.Filters(clients=(ACME,)))


@pytest.fixture(scope="module")
def statement(run, acme) -> statements.Statement:
    return statements.client_statement(acme, ACME, prepared_on=date(2026, 5, 4), invoices=run.resolved["invoices"],
                                       company=COMPANY)


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def test_statement_lines_and_totals(statement):
    assert statement.title == f"Billing review for {ACME}, Jan 2026 to Apr 2026"
    assert statement.account_manager == "Dana Lee"
    assert list(statement.lines["finding"]) == ["Invoiced below the agreed price", "Fewer units invoiced than used",
                                                "Invoiced after the agreement ended"]
    # 24 billed at 20.00 against 22.00 agreed: (20 - 22) x 24 = -48; 27 used, 24 billed at 22.00: -66
    assert (statement.under_billed, statement.over_billed) == (1_140_000, 3_000_000)
    assert statement.net == int(statement.lines["difference"].sum())
    assert statement.balance == ("Credit owed to you", 1_860_000)


def total_row(sheet) -> list[object]:
    return next([cell.value for cell in row] for row in sheet.iter_rows() if row[0].value == "Total")


def test_totals_count_each_invoice_line_once(statement):
    """Review at 1024 px (issue 22): M365 in February 2026 has a price and a quantity finding on one invoice
    line (24 billed at $20.00 = $480.00; 27 used at $22.00 = $594.00). Billed and Expected count that line
    once ($480.00 + the $300.00 line = $780.00; $594.00), as Difference counts each finding once."""
    sheet = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))["Statement"]
    total = total_row(sheet)
    assert [Decimal(str(value)).quantize(Decimal("0.01")) for value in total[6:9]] == \
        [Decimal("780.00"), Decimal("594.00"), Decimal("186.00")]
    header = header_row(sheet)
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=header + 1, max_row=header + 3)]
    for column in (6, 7):  # each column adds up to its total: the shared line's amounts are written once
        assert sum(Decimal(str(row[column] or 0)) for row in rows) == Decimal(str(total[column]))
    assert "Total $780.00 $594.00 $186.00 credit to you" in pdf_text(statements.statement_pdf(statement))
    assert (statement.billed_total, statement.expected_total) == (7_800_000, 5_940_000)


LINES = [("2026-01", "M365-BP"), ("2026-01", "EDR"), ("2026-02", "M365-BP")]
TYPES = ["quantity_under_billed", "price_below_contract", "price_above_contract", "unbilled_usage",
         "duplicate_charge", "unbilled_time"]
finding = st.tuples(st.sampled_from(range(len(LINES))), st.sampled_from(TYPES),
                    st.integers(1, 10**9), st.integers(1, 10**9), st.integers(-10**9, 10**9).filter(bool))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(found=st.lists(finding, max_size=12, unique_by=lambda item: (item[0], item[1])),
       line_amounts=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=3, max_size=3))
def test_statement_totals_are_the_sum_over_distinct_lines(acme, found, line_amounts):
    """Whatever findings share lines: Billed and Expected totals are each line's amounts once plus the own
    amounts of duplicates and unbilled hours; Difference the sum of every finding's variance."""
    rows = []
    for line, kind, own_billed, own_expected, variance in found:
        billed, expected = (own_billed, own_expected) if kind in {"duplicate_charge", "unbilled_time"} \
            else line_amounts[line]
        rows.append({"period": LINES[line][0], "client": ACME, "sku": LINES[line][1], "product": LINES[line][1],
                     "type": kind, "billed_qty": 1.0, "expected_qty": 1.0, "billed_amount": billed,
                     "expected_amount": expected, "variance": variance})
    columns = ["period", "client", "sku", "product", "type", "billed_qty", "expected_qty", "billed_amount",
               "expected_amount", "variance"]
    frame = pd.DataFrame(rows, columns=columns).astype({"billed_amount": "Int64", "expected_amount": "Int64",
                                                        "variance": "Int64", "billed_qty": "float64",
                                                        "expected_qty": "float64"})
    statement = statements.client_statement(dataclasses.replace(acme, discrepancies=frame), ACME, date(2026, 5, 4))
    own = [item for item in found if item[1] in {"duplicate_charge", "unbilled_time"}]
    shared = {item[0] for item in found if item[1] not in {"duplicate_charge", "unbilled_time"}}
    assert statement.billed_total == sum(item[2] for item in own) + sum(line_amounts[line][0] for line in shared)
    assert statement.expected_total == sum(item[3] for item in own) + sum(line_amounts[line][1] for line in shared)
    assert statement.net == sum(item[4] for item in found)
    total = total_row(openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))["Statement"])
    assert [Decimal(str(value)) for value in total[6:9]] == \
        [to_decimal(statement.billed_total), to_decimal(statement.expected_total), to_decimal(statement.net)]


def test_lines_name_products_and_invoices_never_sku_codes(statement):
    assert set(statement.lines["product"]) <= {"Microsoft 365 Business Premium", "Endpoint detection and response",
                                               "Phone support add-on", "Managed services (flat)"}
    assert "sku" not in statement.lines
    assert list(statement.lines["invoices"]) == ["INV-1006"] * 3


def test_the_balance_is_a_positive_figure_with_its_direction_in_words(run):
    cobalt = "Cobalt Logistics"  # hours and a flat fee not invoiced: $4,850.00 due to the MSP
    view = views.filter_run(run, views.Filters(clients=(cobalt,)))
    owed = statements.client_statement(view, cobalt, date(2026, 5, 4), run.resolved["invoices"], COMPANY)
    assert owed.balance == ("Amount due to us", 48_500_000)
    assert list(owed.lines["invoices"]) == ["INV-1013", ""]
    text = pdf_text(statements.statement_pdf(owed))
    assert f"Amount due to us: ${to_decimal(-owed.net):,.2f}" in text
    assert "-$" not in text  # every figure a client reads is positive, its direction in words
    assert "not invoiced" in text
    sheet = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(owed)))["Statement"]
    assert (sheet["A4"].value, Decimal(str(sheet["B4"].value))) == ("Amount due to us", to_decimal(-owed.net))


def test_internal_findings_never_reach_a_client(run):
    evergreen = "Evergreen Clinic"
    view = views.filter_run(run, views.Filters(clients=(evergreen,)))
    assert "negative_margin" in set(view.discrepancies["type"])
    statement = statements.client_statement(view, evergreen, prepared_on=date(2026, 5, 4))
    assert "Sold below vendor cost" not in set(statement.lines["finding"])
    assert len(statement.lines) == 1  # billed_without_usage only


def header_row(sheet) -> int:
    return next(row for row in range(1, 20) if sheet.cell(row, 1).value == "Month")


def test_xlsx_has_a_frozen_bold_header_fitted_widths_and_a_totals_row(statement):
    workbook = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))
    sheet = workbook["Statement"]
    assert sheet["A1"].value == statement.title
    assert sheet["A2"].value == "From: Northwind IT Services, 12 Harbour Road, Bristol BS1 4QA"
    assert (sheet["A4"].value, Decimal(str(sheet["B4"].value))) == ("Credit owed to you", Decimal("186.00"))
    header = header_row(sheet)
    assert [sheet.cell(header, column).value for column in range(1, 10)] == list(statements.HEADINGS)
    assert all(sheet.cell(header, column).font.b for column in range(1, 10))
    assert sheet.freeze_panes == f"A{header + 1}"
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=header + 1, max_row=header + 3)]
    assert [row[3] for row in rows] == list(statement.lines["finding"])
    assert [row[1] for row in rows] == list(statement.lines["product"])
    differences = [Decimal(str(row[8])).quantize(Decimal("0.01")) for row in rows]
    assert differences == [to_decimal(int(units)) for units in statement.lines["difference"]]
    assert "$" in sheet.cell(header + 1, 9).number_format
    total = [cell.value for cell in sheet[header + 4]]
    assert total[0] == "Total" and sheet.cell(header + 4, 1).font.b
    assert Decimal(str(total[8])).quantize(Decimal("0.01")) == Decimal("186.00") == sum(differences)
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDI"}
    longest_product = max(len(text) for text in statement.lines["product"])
    assert widths["B"] >= longest_product and widths["D"] >= len("Invoiced after the agreement ended")
    assert all(width < 65 for width in widths.values())


def test_pdf_has_the_letterhead_invoices_words_and_page_numbers(statement):
    data = statements.statement_pdf(statement)
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    text = pdf_text(data)
    for expected in (statement.title, "Northwind IT Services", "12 Harbour Road", "Bristol BS1 4QA",
                     "Prepared for", ACME, "Credit owed to you: $186.00", "Under-billed (due to us): $114.00",
                     "Over-billed (credit owed to you): $300.00", "Invoiced after the agreement ended",
                     "Microsoft 365 Business Premium", "$300.00 credit to you", "Page 1 of 1"):
        assert expected in text, expected
    assert all(number in text for number in statement.lines["invoices"].str.split(", ").explode())
    for code in ("M365-BP", "PHONE-SUP", "EDR"):
        assert code not in text
    assert "-$" not in text and "Net:" not in text
    assert reader.metadata.title == statement.title and reader.metadata.author == "Northwind IT Services"
    assert any(page.images for page in reader.pages)  # the logo


def test_a_long_statement_numbers_every_page(statement):
    lines = statement.lines.loc[statement.lines.index.repeat(40)].reset_index(drop=True)
    long = statements.Statement(**{**statement.__dict__, "lines": lines})
    reader = PdfReader(io.BytesIO(statements.statement_pdf(long)))
    count = len(reader.pages)
    assert count > 1
    assert [f"Page {number} of {count}" in page.extract_text() for number, page in
            enumerate(reader.pages, start=1)] == [True] * count


def test_a_client_with_nothing_to_report_still_gets_a_document(run):
    view = views.filter_run(run, views.Filters(clients=("Delta Legal Partners",), period_from="2026-04"))
    statement = statements.client_statement(view, "Delta Legal Partners", prepared_on=date(2026, 5, 4))
    assert statement.lines.empty and statement.net == 0
    assert statement.balance == ("Nothing due either way", 0)
    assert statement.title.endswith(", Apr 2026")
    text = pdf_text(statements.statement_pdf(statement))
    assert "No billing differences" in text and "Billing review" in text  # no letterhead saved yet
    sheet = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))["Statement"]
    header = header_row(sheet)
    assert sheet.cell(header + 1, 2).value == "No billing differences in this period."
    assert sheet.cell(header + 2, 1).value == "Total" and sheet.cell(header + 2, 9).value == 0


def test_pdf_wraps_long_names_instead_of_cutting_them(statement):
    product = "Unlimited remote helpdesk and after-hours emergency support (flat monthly, per site)"
    lines = statement.lines.assign(product=[product] * len(statement.lines))
    long_named = statements.Statement(**{**statement.__dict__, "lines": lines})
    text = pdf_text(statements.statement_pdf(long_named))
    assert text.count(product) == len(lines)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (Debian poppler-utils) is not installed")
def test_the_statement_renders_as_an_image_for_a_person_to_look_at(statement):
    """The PDF rendered to PNG (test-artifacts/statements/statement-1.png): the page must draw, not only
    parse. Looked at by hand for the layout (letterhead, balance, table, page number)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "statement.pdf"
    pdf.write_bytes(statements.statement_pdf(statement))
    (ARTIFACTS / "statement.xlsx").write_bytes(statements.statement_xlsx(statement))
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(ARTIFACTS / "statement")], check=True,
                   timeout=60)
    pages = sorted(ARTIFACTS.glob("statement-*.png"))
    assert pages and all(page.stat().st_size > 10_000 for page in pages)


def test_the_xlsx_says_what_the_pdf_says_before_a_letterhead_is_set(run):
    """Found exporting a statement for a client conversation: with no letterhead saved the workbook's
    second line read 'From: -', and a finding never invoiced had an empty Invoice cell where the PDF says
    'not invoiced'. The workbook now leaves the From line out, as the PDF does, and says 'not invoiced'."""
    client = "Cobalt Logistics"
    view = views.filter_run(run, views.Filters(clients=(client,)))
    statement = statements.client_statement(view, client, prepared_on=date(2026, 5, 4),
                                            invoices=run.resolved["invoices"])
    uninvoiced = statement.lines["invoices"].isna() | statement.lines["invoices"].eq("")
    assert uninvoiced.any()
    sheet = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))["Statement"]
    assert not any(str(cell.value or "").startswith("From:") for cell in sheet["A"])
    header = header_row(sheet)
    cells = [sheet.cell(header + 1 + position, 3).value for position in range(len(statement.lines))]
    assert [cell for cell, empty in zip(cells, uninvoiced, strict=True) if empty] == ["not invoiced"] * int(
        uninvoiced.sum())
