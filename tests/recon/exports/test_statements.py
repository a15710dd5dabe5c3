"""recon.exports.statements: the statement's lines and totals, and both documents read back from their bytes."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

import recon
from recon import views
from recon.exports import statements
from recon.money import to_decimal

MINI_MSP = Path(__file__).resolve().parents[2] / "fixtures" / "mini_msp"
ACME = "Acme Corporation"


@pytest.fixture(scope="module")
def statement() -> statements.Statement:
    run = recon.reconcile(recon.load_directory(MINI_MSP))
    view = views.filter_run(run, views.Filters(clients=(ACME,)))
    return statements.client_statement(view, ACME, prepared_on=date(2026, 5, 4))


def test_statement_lines_and_totals(statement):
    assert statement.title == f"Billing review for {ACME}, 2026-01 to 2026-04"
    assert statement.account_manager == "Dana Lee"
    assert list(statement.lines["finding"]) == ["Invoiced below the agreed price", "Fewer units invoiced than used",
                                                "Invoiced after the agreement ended"]
    # 24 billed at 20.00 against 22.00 agreed: (20 - 22) x 24 = -48; 27 used, 24 billed at 22.00: -66
    assert (statement.under_billed, statement.over_billed) == (1_140_000, 3_000_000)
    assert statement.net == int(statement.lines["difference"].sum())


def test_internal_findings_never_reach_a_client():
    run = recon.reconcile(recon.load_directory(MINI_MSP))
    evergreen = "Evergreen Clinic"
    view = views.filter_run(run, views.Filters(clients=(evergreen,)))
    assert "negative_margin" in set(view.discrepancies["type"])
    statement = statements.client_statement(view, evergreen, prepared_on=date(2026, 5, 4))
    assert "Sold below vendor cost" not in set(statement.lines["finding"])
    assert len(statement.lines) == 1  # billed_without_usage only


def test_xlsx_reads_back_with_exact_amounts(statement):
    workbook = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))
    sheet = workbook["Statement"]
    assert sheet["A1"].value == statement.title
    summary = {sheet.cell(row, 1).value: sheet.cell(row, 2).value for row in range(5, 8)}
    assert Decimal(str(summary["Under-billed (owed to us)"])) == Decimal("-114.00")
    assert Decimal(str(summary["Over-billed (credit due to you)"])) == Decimal("300.00")
    assert sheet.cell(9, 1).value == "Period"
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=10, max_row=12)]
    assert [row[3] for row in rows] == list(statement.lines["finding"])
    differences = [Decimal(str(row[8])).quantize(Decimal("0.01")) for row in rows]
    assert differences == [to_decimal(int(units)) for units in statement.lines["difference"]]
    assert "$" in sheet.cell(10, 9).number_format


def test_pdf_reads_back(statement):
    data = statements.statement_pdf(statement)
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert statement.title in text.replace("\n", " ")
    assert "-$114.00" in text and "+$300.00" in text
    assert "Invoiced after the agreement ended" in text
    assert reader.metadata.title == statement.title


def test_a_client_with_nothing_to_report_still_gets_a_document():
    run = recon.reconcile(recon.load_directory(MINI_MSP))
    view = views.filter_run(run, views.Filters(clients=("Delta Legal Partners",), period_from="2026-04"))
    statement = statements.client_statement(view, "Delta Legal Partners", prepared_on=date(2026, 5, 4))
    assert statement.lines.empty and statement.net == 0
    reader = PdfReader(io.BytesIO(statements.statement_pdf(statement)))
    assert "No billing differences" in reader.pages[0].extract_text()
    sheet = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))["Statement"]
    assert sheet.cell(10, 1).value is None


def test_pdf_wraps_long_names_instead_of_cutting_them(statement):
    product = "Unlimited remote helpdesk and after-hours emergency support (flat monthly, per site)"
    lines = statement.lines.assign(product=[product] * len(statement.lines))
    long_named = statements.Statement(**{**statement.__dict__, "lines": lines})
    text = " ".join(PdfReader(io.BytesIO(statements.statement_pdf(long_named))).pages[0].extract_text().split())
    assert text.count(product) == len(lines)
    assert "Net: credit due to you $186.00" in text  # 300.00 over-billed - 114.00 under-billed
    assert statements.SIGN_NOTE in text
