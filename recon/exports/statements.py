"""Client statements: one client's billing findings as a document an account manager can hand over.

``client_statement`` picks the lines from a ``RunView`` (informational findings such as negative margin
are internal and never appear); ``statement_xlsx`` and ``statement_pdf`` render the same statement as
bytes. Money is summed in Int64 units and written from ``Decimal``; the spreadsheet keeps numbers as
numbers (with a currency format) so the client can add them up again.

What a client reads (issue 22 item 5): the MSP's letterhead (``recon.company.Company``: name, address,
logo, set on Settings), the client's name, months in words, product names from the catalog (never SKU
codes), the invoice(s) each line concerns, and the balance as a positive figure with its direction in
words ("Amount due to us: $150.00", "Credit owed to you: $3,550.00"), never a signed net. The PDF numbers
its pages ("Page 1 of 2"); the XLSX has widths fitted to its content, a bold header frozen in place and
a totals row (values, not formulas: exports never hold formulas, ``recon.exports.safe``). In the XLSX the
line differences stay signed numbers (billed minus expected, the sheet says so) so they add up to the
total; the PDF writes each one as a positive amount with its direction.

One invoice line, two findings: a quantity and a price finding on one month and product share one invoice
line (24 billed at $20.00 = $480.00 against 27 used at $22.00). The line's billed and expected amounts are
written on its first finding only (the others leave them blank and say so), so the Billed and Expected
columns and their totals count each line once, as the Difference column counts each finding once.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial

import pandas as pd
import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from recon.company import Company
from recon.exports.safe import SAFE_WORKBOOK_OPTIONS, neutralise, pdf_text
from recon.keys import month_name, to_period
from recon.money import CURRENCY_SYMBOLS, display_money, exact_sum, to_decimal
from recon.rules import INFORMATIONAL_TYPES, OWN_AMOUNT_TYPES, finding_names
from recon.views import RunView

STATEMENT_COLUMNS = ("period", "product", "invoices", "finding", "billed_qty", "expected_qty", "billed_amount",
                     "expected_amount", "difference")
NOT_INVOICED = "not invoiced"  # a finding with no invoice line behind it, in the Invoice column
HEADINGS = ("Month", "Product", "Invoice", "Finding", "Billed qty", "Expected qty", "Billed", "Expected",
            "Difference")
TOTAL_LABEL = "Total"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
DUE_TO_US, CREDIT_TO_YOU, SETTLED = "Amount due to us", "Credit owed to you", "Nothing due either way"
SIGN_NOTE = ("Difference is what was billed minus what should have been billed: a negative difference was "
             "under-billed (due to us), a positive one over-billed (a credit owed to you).")
SAME_LINE_NOTE = ("A line with more than one finding shows its billed and expected amounts once, on its first "
                  "finding.")


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
    company: Company = field(default_factory=Company)

    @property
    def billed_total(self) -> int:
        """What was billed on the lines the statement concerns, each invoice line once."""
        return exact_sum(self.lines["billed_amount"])

    @property
    def expected_total(self) -> int:
        """What should have been billed on those lines, each line once."""
        return exact_sum(self.lines["expected_amount"])

    @property
    def net(self) -> int:
        """Billed minus expected over every line (negative: the client was under-billed)."""
        return self.over_billed - self.under_billed

    @property
    def balance(self) -> tuple[str, int]:
        """The balance in words and as a positive amount: due to the MSP, owed to the client, or none."""
        if self.net < 0:
            return DUE_TO_US, -self.net
        return (CREDIT_TO_YOU, self.net) if self.net > 0 else (SETTLED, 0)

    @property
    def span(self) -> str:
        if not self.period_from:
            return "no months"
        first, last = month_name(self.period_from), month_name(self.period_to)
        return first if first == last else f"{first} to {last}"

    @property
    def title(self) -> str:
        return f"Billing review for {self.client}, {self.span}"


def client_statement(view: RunView, client: str, prepared_on: date, invoices: pd.DataFrame | None = None,
                     company: Company | None = None) -> Statement:
    """The statement of ``client`` over the view's periods (the view's other filters apply too), its lines
    naming the invoices of ``invoices`` (the run's canonical invoice lines) billed for the same month and
    product."""
    found = view.discrepancies
    rows = found[(found["client"] == client) & ~found["type"].isin(INFORMATIONAL_TYPES)]
    rows = rows.sort_values(["period", "product", "type"], kind="stable")
    product = rows["product"].astype("string").fillna(rows["sku"].astype("string"))
    repeat = repeated_line(rows)
    lines = pd.DataFrame({
        "period": rows["period"], "sku": rows["sku"], "product": product,
        "finding": finding_names(rows["type"]),
        "billed_qty": rows["billed_qty"], "expected_qty": rows["expected_qty"],
        "billed_amount": rows["billed_amount"].astype("Int64").mask(repeat),
        "expected_amount": rows["expected_amount"].astype("Int64").mask(repeat),
        "difference": rows["variance"],
    }).reset_index(drop=True)
    references = invoice_references(invoices, client)
    lines = lines.merge(references, on=["period", "sku"], how="left").reindex(columns=list(STATEMENT_COLUMNS))
    lines["invoices"] = lines["invoices"].astype("string").fillna("")
    managers = view.keys.loc[view.keys["client"] == client, "account_manager"].dropna()
    variance = rows["variance"]
    return Statement(
        client=client, account_manager=str(managers.iloc[0]) if len(managers) else None,
        period_from=view.periods[0] if view.periods else "",
        period_to=view.periods[-1] if view.periods else "", currency=view.currency, prepared_on=prepared_on,
        lines=lines, under_billed=exact_sum(-variance[variance < 0]), over_billed=exact_sum(variance[variance > 0]),
        company=company or Company())


def repeated_line(findings: pd.DataFrame) -> pd.Series:
    """True for a finding whose invoice line (period, client, sku) an earlier finding in ``findings`` already
    carries: its billed and expected amounts are that line's again. A duplicate's extra lines and unbilled
    hours (``OWN_AMOUNT_TYPES``) carry amounts of their own and never repeat a line."""
    shares = ~findings["type"].isin(OWN_AMOUNT_TYPES)
    line = findings[["period", "client", "sku"]].astype("string").fillna("").assign(shares=shares)
    return shares & line.duplicated(keep="first")


def invoice_references(invoices: pd.DataFrame | None, client: str) -> pd.DataFrame:
    """``period, sku, invoices``: the invoice numbers of ``client`` per month (of the service period, else
    the invoice date) and product, sorted and joined with commas."""
    if invoices is None or invoices.empty:
        return pd.DataFrame({"period": pd.Series(dtype="string"), "sku": pd.Series(dtype="string"),
                             "invoices": pd.Series(dtype="string")})
    mine = invoices[(invoices["client"] == client).fillna(False).to_numpy(bool)]
    dated = mine["period_start"].fillna(mine["invoice_date"])
    numbered = pd.DataFrame({"period": to_period(dated), "sku": mine["sku"].astype("string"),
                             "invoice": mine["invoice_number"].astype("string")}).dropna()
    grouped = numbered.drop_duplicates().sort_values("invoice").groupby(["period", "sku"], sort=False)["invoice"]
    return grouped.agg(", ".join).rename("invoices").reset_index().astype("string")


def _amount(units: object) -> Decimal | None:
    return to_decimal(_units(units))


def _quantity(value: object) -> float | None:
    return None if value is None or pd.isna(value) else round(float(str(value)), 4)


def _summary_rows(statement: Statement) -> list[tuple[str, int]]:
    """The summary as positive amounts with their direction in words (the balance last)."""
    return [("Under-billed (due to us)", statement.under_billed),
            ("Over-billed (credit owed to you)", statement.over_billed),
            statement.balance]


def _from_line(company: Company) -> str:
    return ", ".join(part for part in (company.name, *company.address_lines) if part)


def _line_texts(line: object) -> tuple[str, str, str, str]:
    period, product, invoices, finding = (getattr(line, name) for name in ("period", "product", "invoices",
                                                                            "finding"))
    return (month_name(str(period)), _text(product), _text(invoices), _text(finding))


def _text(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(value)


# -------------------------------------------------------------------------------------------- XLSX

def _excel_money_format(currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), f"{currency.upper()} ").replace('"', "")
    return f'"{symbol}"#,##0.00;[Red]-"{symbol}"#,##0.00;"{symbol}"0.00'


HEADER_ROW = 5  # zero-based: title, from, prepared, balance, blank, then the header (frozen beneath it)


def statement_xlsx(statement: Statement) -> bytes:
    """The statement as an .xlsx workbook (one sheet, ``Statement``): the letterhead and balance, then a
    bold header frozen in place, one row per finding with quantities and money as numbers, a totals row and
    the breakdown of the balance."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, SAFE_WORKBOOK_OPTIONS)
    sheet = workbook.add_worksheet("Statement")
    money_format = _excel_money_format(statement.currency)
    bold = workbook.add_format({"bold": True})
    title = workbook.add_format({"bold": True, "font_size": 14})
    money = workbook.add_format({"num_format": money_format})
    money_bold = workbook.add_format({"num_format": money_format, "bold": True})
    total_money = workbook.add_format({"num_format": money_format, "bold": True, "top": 1})
    total_text = workbook.add_format({"bold": True, "top": 1})
    header = workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#EEF2F7", "text_wrap": True})
    sheet.write_string(0, 0, neutralise(statement.title), title)
    sender = _from_line(statement.company)
    if sender:  # no letterhead saved: no "From: -" line in front of the client (the PDF has none either)
        sheet.write_string(1, 0, neutralise(f"From: {sender}"))
    sheet.write_string(2, 0, neutralise(f"Account manager: {statement.account_manager or '-'} · Prepared on "
                                        f"{statement.prepared_on.isoformat()} · Amounts in {statement.currency}"))
    label, units = statement.balance
    sheet.write_string(3, 0, label, bold)
    sheet.write_number(3, 1, float(to_decimal(units) or 0), money_bold)
    sheet.write_row(HEADER_ROW, 0, HEADINGS, header)
    widths = [len(heading) for heading in HEADINGS]
    row_number = HEADER_ROW
    for row_number, line in enumerate(statement.lines.itertuples(index=False), start=HEADER_ROW + 1):
        for column, text in enumerate(_line_texts(line)):
            text = text or (NOT_INVOICED if column == 2 else "")  # the Invoice column says so, as the PDF
            sheet.write_string(row_number, column, neutralise(text))
            widths[column] = max(widths[column], len(text))
        for column, value in ((4, _quantity(line.billed_qty)), (5, _quantity(line.expected_qty))):
            sheet.write(row_number, column, value)
        for column, cell in ((6, line.billed_amount), (7, line.expected_amount), (8, line.difference)):
            amount = _amount(cell)
            sheet.write(row_number, column, None if amount is None else float(amount), money)
            widths[column] = max(widths[column], len(display_money(_units(cell), statement.currency)) + 1)
    if statement.lines.empty:
        row_number = HEADER_ROW + 1
        sheet.write_string(row_number, 1, "No billing differences in this period.")
    total = row_number + 1
    sheet.write_string(total, 0, TOTAL_LABEL, total_text)
    for column in range(1, 6):
        sheet.write_blank(total, column, None, total_text)
    for column, summed in ((6, statement.billed_total), (7, statement.expected_total), (8, statement.net)):
        sheet.write_number(total, column, float(to_decimal(summed) or 0), total_money)
        widths[column] = max(widths[column], len(display_money(summed, statement.currency)) + 1)
    for offset, (words, figure) in enumerate(_summary_rows(statement)[:2], start=2):
        sheet.write_string(total + offset, 0, words, bold)
        sheet.write_number(total + offset, 1, float(to_decimal(figure) or 0), money_bold)
    sheet.write_string(total + 5, 0, SIGN_NOTE)
    sheet.write_string(total + 6, 0, SAME_LINE_NOTE)
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    for column, width in enumerate(widths):
        sheet.set_column(column, column, min(width + 2, 60))
    workbook.close()
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------- PDF

class _NumberedCanvas(pdf_canvas.Canvas):
    """A canvas that writes "Page n of m" (and the MSP's name) at the foot of every page once it knows m."""

    def __init__(self, *args: object, footer: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pages: list[dict[str, object]] = []
        self._footer = footer

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        count = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont("Helvetica", 8)
            self.setFillColor(colors.grey)
            width = self._pagesize[0]
            self.drawRightString(width - 0.5 * inch, 0.3 * inch, f"Page {self._pageNumber} of {count}")
            self.drawString(0.5 * inch, 0.3 * inch, self._footer)
            super().showPage()
        super().save()


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF (US Letter, landscape): letterhead with the logo, the balance in words, the
    lines with a totals row, and "Page n of m" at the foot of every page."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    author = statement.company.name or statement.account_manager or ""
    document = SimpleDocTemplate(buffer, pagesize=landscape(letter), title=statement.title, author=author,
                                 leftMargin=0.5 * inch, rightMargin=0.5 * inch, topMargin=0.5 * inch,
                                 bottomMargin=0.6 * inch)
    footer = " · ".join(part for part in (statement.company.name, statement.client, statement.span) if part)
    cell = ParagraphStyle("cell", parent=styles["Normal"], fontSize=8, leading=10)
    story = [
        _letterhead(statement, styles),
        Spacer(1, 0.15 * inch),
        Paragraph(_escape(statement.title), styles["Title"]),
        Paragraph(_escape(f"Account manager: {statement.account_manager or '-'}. Prepared on "
                          f"{statement.prepared_on.strftime('%d %B %Y').lstrip('0')}. Amounts in "
                          f"{statement.currency}."), styles["Normal"]),
        Spacer(1, 0.2 * inch),
        _summary_table(statement),
        Spacer(1, 0.25 * inch),
        _lines_table(statement, cell),
        Spacer(1, 0.1 * inch),
        Paragraph("Each difference is what was billed against what should have been billed under the agreement "
                  f"and the vendor's usage. {SAME_LINE_NOTE}",
                  ParagraphStyle("note", parent=styles["Normal"], fontSize=8, textColor=colors.grey)),
    ]
    document.build(story, canvasmaker=partial(_NumberedCanvas, footer=_CONTROL_CHARS.sub("", footer)))
    return buffer.getvalue()


def _escape(text: str) -> str:
    return pdf_text(text)


LOGO_BOX = (1.8 * inch, 0.8 * inch)  # the largest a logo is drawn (its proportions kept)


def _logo(company: Company) -> Flowable | None:
    if company.logo is None:
        return None
    from PIL import Image as PillowImage

    with PillowImage.open(io.BytesIO(company.logo)) as picture:
        width, height = picture.size
    scale = min(LOGO_BOX[0] / width, LOGO_BOX[1] / height)
    return Image(io.BytesIO(company.logo), width=width * scale, height=height * scale, hAlign="LEFT")


def _letterhead(statement: Statement, styles: dict[str, ParagraphStyle]) -> Flowable:  # type: ignore[type-arg]
    """Logo, then the MSP's name and address; the client addressed on the right."""
    company = statement.company
    name_style = ParagraphStyle("company", parent=styles["Normal"], fontName="Helvetica-Bold", fontSize=13,
                                leading=16)
    small = ParagraphStyle("address", parent=styles["Normal"], fontSize=9, leading=11)
    right = ParagraphStyle("to", parent=small, alignment=2)
    mine = [Paragraph(_escape(company.name or "Billing review"), name_style),
            *[Paragraph(_escape(line), small) for line in company.address_lines]]
    theirs = [Paragraph("Prepared for", right), Paragraph(f"<b>{_escape(statement.client)}</b>", right)]
    logo = _logo(company)
    cells: list[object] = [logo, mine, theirs] if logo is not None else [mine, theirs]
    widths = [LOGO_BOX[0] + 0.15 * inch, 4.5 * inch, 3.5 * inch] if logo is not None else [6.5 * inch, 3.5 * inch]
    table = Table([cells], colWidths=widths, hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                               ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.HexColor("#CBD5E1")),
                               ("BOTTOMPADDING", (0, 0), (-1, 0), 8)]))
    return table


def _summary_table(statement: Statement) -> Flowable:
    rows = [[f"{label}:", display_money(units, statement.currency)] for label, units in _summary_rows(statement)]
    table = Table(rows, hAlign="LEFT", colWidths=[2.6 * inch, 1.3 * inch])
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -2), "Helvetica"),
                               ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"), ("FONTSIZE", (0, -1), (-1, -1), 12),
                               ("ALIGN", (1, 0), (1, -1), "RIGHT"), ("TOPPADDING", (0, -1), (-1, -1), 6),
                               ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.grey)]))
    return table


# Column widths (inches) fitting landscape Letter inside half-inch margins; text cells wrap, never cut.
_COLUMN_INCHES = (0.7, 2.0, 0.85, 1.95, 0.7, 0.8, 0.85, 0.85, 1.3)


def _difference_words(units: int | None, currency: str) -> str:
    if units is None or units == 0:
        return display_money(units, currency)
    direction = "due to us" if units < 0 else "credit to you"
    return f"{display_money(abs(units), currency)} {direction}"


def _lines_table(statement: Statement, cell: ParagraphStyle) -> Flowable:
    currency = statement.currency
    rows: list[list[object]] = [list(HEADINGS)]
    for line in statement.lines.itertuples(index=False):
        period, product, invoices, finding = _line_texts(line)
        rows.append([period, *[Paragraph(_escape(text), cell) for text in (product, invoices or NOT_INVOICED,
                                                                            finding)],
                     _quantity_text(line.billed_qty), _quantity_text(line.expected_qty),
                     _line_money(line.billed_amount, currency), _line_money(line.expected_amount, currency),
                     _difference_words(_units(line.difference), currency)])
    if len(rows) == 1:
        rows.append(["", "No billing differences in this period.", "", "", "", "", "", "", ""])
    rows.append([TOTAL_LABEL, "", "", "", "", "",
                 display_money(statement.billed_total, currency),
                 display_money(statement.expected_total, currency),
                 _difference_words(statement.net, currency)])
    table = Table(rows, colWidths=[width * inch for width in _COLUMN_INCHES], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF2F7")), ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#F8FAFC")]),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"), ("LINEABOVE", (0, -1), (-1, -1), 0.75, colors.grey),
    ]))
    return table


def _line_money(value: object, currency: str) -> str:
    """A line's billed or expected amount; blank where an earlier finding already shows the line's."""
    units = _units(value)
    return "" if units is None else display_money(units, currency)


def _units(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(str(value))


def _quantity_text(value: object) -> str:
    quantity = _quantity(value)
    return "" if quantity is None else f"{quantity:,.4f}".rstrip("0").rstrip(".")


__all__ = ["Statement", "client_statement", "invoice_references", "repeated_line", "statement_pdf",
           "statement_xlsx"]
