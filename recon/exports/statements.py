"""Client statements: one client's billing findings as a document an account manager can send.

``client_statement`` picks the lines from a ``RunView`` (informational findings such as negative margin
are internal and never appear); ``statement_xlsx`` and ``statement_pdf`` render the same statement as
bytes. Money is summed in Int64 units and written from ``Decimal``; the spreadsheet keeps numbers as
numbers (with a currency format) so the client can add them up again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from recon.exports.safe import SAFE_WORKBOOK_OPTIONS, neutralise, pdf_text
from recon.money import CURRENCY_SYMBOLS, display_money, to_decimal
from recon.rules import INFORMATIONAL_TYPES, finding_names
from recon.views import RunView

STATEMENT_COLUMNS = ("period", "sku", "product", "finding", "billed_qty", "expected_qty", "billed_amount",
                     "expected_amount", "difference")
HEADINGS = ("Period", "SKU", "Product", "Finding", "Billed qty", "Expected qty", "Billed", "Expected",
            "Difference")


@dataclass(frozen=True)
class Statement:
    """What a client statement says. Money in Int64 units; ``difference`` is billed minus expected, so
    an under-billed line is negative (owed to the MSP) and an over-billed line positive (a credit)."""

    client: str
    account_manager: str | None
    period_from: str
    period_to: str
    currency: str
    prepared_on: date
    lines: pd.DataFrame
    under_billed: int
    over_billed: int

    @property
    def net(self) -> int:
        """Billed minus expected over every line (negative: the client was under-billed)."""
        return self.over_billed - self.under_billed

    @property
    def title(self) -> str:
        span = self.period_from
        if self.period_to != self.period_from:
            span = f"{self.period_from} to {self.period_to}"
        return f"Billing review for {self.client}, {span}"


def client_statement(view: RunView, client: str, prepared_on: date) -> Statement:
    """The statement of ``client`` over the view's periods (the view's other filters apply too)."""
    found = view.discrepancies
    rows = found[(found["client"] == client) & ~found["type"].isin(INFORMATIONAL_TYPES)]
    rows = rows.sort_values(["period", "sku", "type"], kind="stable")
    lines = pd.DataFrame({
        "period": rows["period"], "sku": rows["sku"], "product": rows["product"],
        "finding": finding_names(rows["type"]),
        "billed_qty": rows["billed_qty"], "expected_qty": rows["expected_qty"],
        "billed_amount": rows["billed_amount"], "expected_amount": rows["expected_amount"],
        "difference": rows["variance"],
    }).reset_index(drop=True)
    managers = view.keys.loc[view.keys["client"] == client, "account_manager"].dropna()
    variance = rows["variance"]
    return Statement(
        client=client, account_manager=str(managers.iloc[0]) if len(managers) else None,
        period_from=view.periods[0] if view.periods else "",
        period_to=view.periods[-1] if view.periods else "", currency=view.currency, prepared_on=prepared_on,
        lines=lines.reindex(columns=list(STATEMENT_COLUMNS)),
        under_billed=int(-variance[variance < 0].sum()), over_billed=int(variance[variance > 0].sum()))


def _amount(units: object) -> Decimal | None:
    return to_decimal(_units(units))


def _quantity(value: object) -> float | None:
    return None if value is None or pd.isna(value) else round(float(str(value)), 4)


SIGN_NOTE = ("Difference is billed minus expected: a negative difference was under-billed (owed to us), "
             "a positive one over-billed (a credit due to you).")


def _summary_rows(statement: Statement) -> list[tuple[str, int]]:
    net = "Net: credit due to you" if statement.net > 0 else "Net: owed to us" if statement.net < 0 else "Net"
    return [("Under-billed (owed to us)", -statement.under_billed),
            ("Over-billed (credit due to you)", statement.over_billed),
            (net, statement.net)]


# -------------------------------------------------------------------------------------------- XLSX

def _excel_money_format(currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), f"{currency.upper()} ").replace('"', "")
    return f'"{symbol}"#,##0.00;[Red]-"{symbol}"#,##0.00;"{symbol}"0.00'


def statement_xlsx(statement: Statement) -> bytes:
    """The statement as an .xlsx workbook (one sheet, ``Statement``): heading, summary, then one row per
    finding with quantities and money as numbers."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, SAFE_WORKBOOK_OPTIONS)
    sheet = workbook.add_worksheet("Statement")
    bold = workbook.add_format({"bold": True})
    title = workbook.add_format({"bold": True, "font_size": 14})
    money = workbook.add_format({"num_format": _excel_money_format(statement.currency)})
    money_bold = workbook.add_format({"num_format": _excel_money_format(statement.currency), "bold": True})
    header = workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#EEF2F7"})
    sheet.write_string(0, 0, neutralise(statement.title), title)
    sheet.write_string(1, 0, neutralise(f"Account manager: {statement.account_manager or '-'}"))
    sheet.write_string(2, 0, f"Prepared on {statement.prepared_on.isoformat()}; amounts in {statement.currency}")
    sheet.write_string(3, 0, SIGN_NOTE)
    for offset, (label, units) in enumerate(_summary_rows(statement)):
        sheet.write(4 + offset, 0, label, bold)
        sheet.write_number(4 + offset, 1, float(to_decimal(units) or 0), money_bold)
    first = 8
    sheet.write_row(first, 0, HEADINGS, header)
    for row_number, line in enumerate(statement.lines.itertuples(index=False), start=first + 1):
        for column, text in enumerate((line.period, line.sku, line.product, line.finding)):
            sheet.write_string(row_number, column, neutralise("" if pd.isna(text) else str(text)))
        for column, value in ((4, _quantity(line.billed_qty)), (5, _quantity(line.expected_qty))):
            sheet.write(row_number, column, value)
        for column, units in ((6, line.billed_amount), (7, line.expected_amount), (8, line.difference)):
            amount = _amount(units)
            sheet.write(row_number, column, None if amount is None else float(amount), money)
    sheet.set_column(0, 1, 14)
    sheet.set_column(2, 3, 34)
    sheet.set_column(4, 8, 14)
    workbook.close()
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------- PDF

def statement_pdf(statement: Statement) -> bytes:
    """The statement as a one-table PDF (US Letter, landscape) with the summary above the lines."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=landscape(letter), title=statement.title,
                                 author=statement.account_manager or "", leftMargin=0.5 * inch,
                                 rightMargin=0.5 * inch, topMargin=0.5 * inch, bottomMargin=0.5 * inch)
    story = [
        Paragraph(_escape(statement.title), styles["Title"]),
        Paragraph(_escape(f"Account manager: {statement.account_manager or '-'}. Prepared on "
                          f"{statement.prepared_on.isoformat()}. Amounts in {statement.currency}."),
                  styles["Normal"]),
        Spacer(1, 0.2 * inch),
        _summary_table(statement),
        Spacer(1, 0.25 * inch),
        _lines_table(statement, ParagraphStyle("cell", parent=styles["Normal"], fontSize=8, leading=10)),
        Spacer(1, 0.1 * inch),
        Paragraph(SIGN_NOTE, ParagraphStyle("note", parent=styles["Normal"], fontSize=8, textColor=colors.grey)),
    ]
    document.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return pdf_text(text)


def _summary_table(statement: Statement) -> Flowable:
    rows = [[label, display_money(units, statement.currency)] for label, units in _summary_rows(statement)]
    table = Table(rows, hAlign="LEFT")
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), "Helvetica-Bold"),
                               ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                               ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.grey)]))
    return table


# Column widths (inches) fitting landscape Letter inside half-inch margins; text cells wrap, never cut.
_COLUMN_INCHES = (0.65, 1.05, 2.3, 2.1, 0.65, 0.75, 0.8, 0.8, 0.85)


def _lines_table(statement: Statement, cell: ParagraphStyle) -> Flowable:
    currency = statement.currency
    rows: list[list[object]] = [list(HEADINGS)]
    rows.extend([str(line.period), *[Paragraph(_escape(text), cell) for text in (line.sku, line.product,
                                                                              line.finding)],
                 _quantity_text(line.billed_qty), _quantity_text(line.expected_qty),
                 display_money(_units(line.billed_amount), currency),
                 display_money(_units(line.expected_amount), currency),
                 display_money(_units(line.difference), currency, signed=True)]
                for line in statement.lines.itertuples(index=False))
    if len(rows) == 1:
        rows.append(["", "", "No billing differences in this period.", "", "", "", "", "", ""])
    table = Table(rows, colWidths=[width * inch for width in _COLUMN_INCHES], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF2F7")), ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F8FAFC")]),
    ]))
    return table


def _units(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(str(value))


def _quantity_text(value: object) -> str:
    quantity = _quantity(value)
    return "" if quantity is None else f"{quantity:,.4f}".rstrip("0").rstrip(".")


__all__ = ["Statement", "client_statement", "statement_pdf", "statement_xlsx"]
