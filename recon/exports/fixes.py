"""Approved fixes for a PSA no connection writes to (issue 21, item 3): a CSV for the PSA's import screen
and a checklist PDF to tick off by hand.

Both list one row per fix with what to change where: the client, the agreement (ConnectWise) or contract
(Autotask) and the line as the contract export named them, the kind of change in words, the quantity
before and after, the unit price, the one-time amount (positive: charge the client; negative: credit),
the monthly change, the effective date and the reference ``[recon fix <key>]`` to type into the line's or
charge's description, so the next run (and anyone reading the PSA) can tell the change came from this fix.
Money is written with the schema's places (``export_frame``), text made inert for spreadsheets.
"""

from __future__ import annotations

import io

import pandas as pd
from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from recon.exports.formatting import export_frame
from recon.exports.safe import neutralise_text, pdf_text
from recon.fixes import KIND_NAMES, reference
from recon.money import display_money

EXPORT_COLUMNS = ("fix_key", "client", "agreement_id", "line_id", "sku", "change", "before_qty", "after_qty",
                  "unit_price", "amount", "monthly_change", "effective_date", "reference", "description",
                  "finding_type", "period", "status")
_TEXT = ("fix_key", "client", "agreement_id", "line_id", "sku", "change", "reference", "description",
         "finding_type", "period", "status")


def fixes_table(current: pd.DataFrame) -> pd.DataFrame:
    """The fixes (``recon.store.fixes.STATE_COLUMNS`` rows) as the export lists them, money as Int64 units."""
    out = current.assign(change=current["kind"].map(KIND_NAMES).fillna(current["kind"]).astype("string"),
                         reference=current["fix_key"].map(reference).astype("string"))
    return out.reindex(columns=list(EXPORT_COLUMNS)).reset_index(drop=True)


def fixes_csv(current: pd.DataFrame) -> bytes:
    """The fixes as CSV (UTF-8 with a BOM, as spreadsheets and PSA import screens read it)."""
    table = export_frame(fixes_table(current))
    for column in ("before_qty", "after_qty"):  # whole units as a PSA's import screen takes them: 27, not 27.0
        table[column] = table[column].map(_quantity)
    for column in _TEXT:
        table[column] = neutralise_text(table[column].fillna(""))
    return table.to_csv(index=False).encode("utf-8-sig")


_HEADINGS = ("Done", "Client", "Agreement / line", "Change", "Quantity", "One-time", "Monthly", "Effective",
             "Reference")
_COLUMN_INCHES = (0.45, 1.5, 1.3, 2.4, 0.9, 0.85, 0.85, 0.8, 1.4)


def fixes_pdf(current: pd.DataFrame, title: str, currency: str = "USD") -> bytes:
    """The fixes as a checklist to work through in the PSA (US Letter, landscape), one box per fix."""
    styles = getSampleStyleSheet()
    cell = ParagraphStyle("cell", parent=styles["Normal"], fontSize=8, leading=10)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=landscape(letter), title=title, leftMargin=0.5 * inch,
                                 rightMargin=0.5 * inch, topMargin=0.5 * inch, bottomMargin=0.5 * inch)
    rows: list[list[object]] = [list(_HEADINGS)]
    for row in fixes_table(current).to_dict("records"):
        where = " / ".join(str(row[name]) for name in ("agreement_id", "line_id") if _given(row[name])) or "-"
        quantity = (f"{_quantity(row['before_qty'])} -> {_quantity(row['after_qty'])}"
                    if _given(row["after_qty"]) else "")
        change = f"{row['change']}: {row['description']}"
        rows.append(["[ ]", Paragraph(pdf_text(row["client"]), cell), Paragraph(pdf_text(where), cell),
                     Paragraph(pdf_text(change), cell), quantity,
                     display_money(_units(row["amount"]), currency, signed=True) if _given(row["amount"]) else "",
                     display_money(_units(row["monthly_change"]), currency, signed=True)
                     if _given(row["monthly_change"]) else "",
                     pd.Timestamp(row["effective_date"]).date().isoformat() if _given(row["effective_date"]) else "",
                     Paragraph(pdf_text(row["reference"]), cell)])
    if len(rows) == 1:
        rows.append(["", "", "", "No approved fixes.", "", "", "", "", ""])
    table = Table(rows, colWidths=[width * inch for width in _COLUMN_INCHES], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (4, 1), (7, -1), "RIGHT"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey)]))
    note = ("Enter each change in the PSA with its reference in the description, tick it, then record it as "
            "applied by hand (recon fixes done, or the Fixes tab): the next run checks it took.")
    document.build([Paragraph(pdf_text(title), styles["Title"]), Spacer(1, 0.15 * inch), table,
                    Spacer(1, 0.15 * inch), Paragraph(pdf_text(note), cell)])
    return buffer.getvalue()


def _given(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    if isinstance(value, float):
        return value == value  # NaN is not a value
    return str(value) != ""


def _units(value: object) -> int:
    return int(value)  # type: ignore[call-overload]


def _quantity(value: object) -> str:
    return "" if not _given(value) else f"{float(value):g}"  # type: ignore[arg-type]


__all__ = ["EXPORT_COLUMNS", "fixes_csv", "fixes_pdf", "fixes_table"]
