"""Exports: what leaves the product for people to read (PRODUCT.md sections 6 to 8).

In: a ``Reconciliation`` or a stored run. Out: files: the run's outputs (``report``: discrepancies.csv,
summary.json, ...), the auditor's pack (``audit``), a client statement (``statements``: XLSX and PDF).
``formatting`` is the one money formatter (money as exact decimals with the places ``recon.schema``
declares, dates ISO) every download and file goes through; ``safe`` makes every CSV, XLSX and PDF
inert (no formula, no markup) and every message free of secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import lazy

if TYPE_CHECKING:
    from recon.exports.audit import (
        SHEETS as SHEETS,
    )
    from recon.exports.audit import (
        discrepancy_rows as discrepancy_rows,
    )
    from recon.exports.audit import (
        history_rows as history_rows,
    )
    from recon.exports.audit import (
        summary_rows as summary_rows,
    )
    from recon.exports.audit import (
        write_audit_pack as write_audit_pack,
    )
    from recon.exports.formatting import (
        export_frame as export_frame,
    )
    from recon.exports.formatting import (
        iso_text as iso_text,
    )
    from recon.exports.formatting import (
        money_text as money_text,
    )
    from recon.exports.report import (
        OUTPUT_FILES as OUTPUT_FILES,
    )
    from recon.exports.report import (
        periods_without_billing as periods_without_billing,
    )
    from recon.exports.report import (
        summary_lines as summary_lines,
    )
    from recon.exports.report import (
        validation_lines as validation_lines,
    )
    from recon.exports.report import (
        write_outputs as write_outputs,
    )
    from recon.exports.safe import (
        ESCAPE_PREFIX as ESCAPE_PREFIX,
    )
    from recon.exports.safe import (
        FORMULA_TRIGGERS as FORMULA_TRIGGERS,
    )
    from recon.exports.safe import (
        REDACTED as REDACTED,
    )
    from recon.exports.safe import (
        SAFE_WORKBOOK_OPTIONS as SAFE_WORKBOOK_OPTIONS,
    )
    from recon.exports.safe import (
        XLSX_MAX_CELL as XLSX_MAX_CELL,
    )
    from recon.exports.safe import (
        XLSX_SHEET_NAME_MAX as XLSX_SHEET_NAME_MAX,
    )
    from recon.exports.safe import (
        RedactingFilter as RedactingFilter,
    )
    from recon.exports.safe import (
        download_name as download_name,
    )
    from recon.exports.safe import (
        install_log_redaction as install_log_redaction,
    )
    from recon.exports.safe import (
        is_formula_like as is_formula_like,
    )
    from recon.exports.safe import (
        markdown_text as markdown_text,
    )
    from recon.exports.safe import (
        neutralise as neutralise,
    )
    from recon.exports.safe import (
        neutralise_text as neutralise_text,
    )
    from recon.exports.safe import (
        pdf_text as pdf_text,
    )
    from recon.exports.safe import (
        redact as redact,
    )
    from recon.exports.safe import (
        safe_csv as safe_csv,
    )
    from recon.exports.safe import (
        safe_frame as safe_frame,
    )
    from recon.exports.safe import (
        safe_sheet_name as safe_sheet_name,
    )
    from recon.exports.safe import (
        safe_xlsx as safe_xlsx,
    )
    from recon.exports.statements import (
        HEADINGS as HEADINGS,
    )
    from recon.exports.statements import (
        SIGN_NOTE as SIGN_NOTE,
    )
    from recon.exports.statements import (
        STATEMENT_COLUMNS as STATEMENT_COLUMNS,
    )
    from recon.exports.statements import (
        Statement as Statement,
    )
    from recon.exports.statements import (
        client_statement as client_statement,
    )
    from recon.exports.statements import (
        statement_pdf as statement_pdf,
    )
    from recon.exports.statements import (
        statement_xlsx as statement_xlsx,
    )

_EXPORTS = {
    "ESCAPE_PREFIX": "recon.exports.safe",
    "FORMULA_TRIGGERS": "recon.exports.safe",
    "REDACTED": "recon.exports.safe",
    "RedactingFilter": "recon.exports.safe",
    "SAFE_WORKBOOK_OPTIONS": "recon.exports.safe",
    "XLSX_MAX_CELL": "recon.exports.safe",
    "XLSX_SHEET_NAME_MAX": "recon.exports.safe",
    "download_name": "recon.exports.safe",
    "install_log_redaction": "recon.exports.safe",
    "is_formula_like": "recon.exports.safe",
    "markdown_text": "recon.exports.safe",
    "neutralise": "recon.exports.safe",
    "neutralise_text": "recon.exports.safe",
    "pdf_text": "recon.exports.safe",
    "redact": "recon.exports.safe",
    "safe_csv": "recon.exports.safe",
    "safe_frame": "recon.exports.safe",
    "safe_sheet_name": "recon.exports.safe",
    "safe_xlsx": "recon.exports.safe",
    "OUTPUT_FILES": "recon.exports.report",
    "export_frame": "recon.exports.formatting",
    "iso_text": "recon.exports.formatting",
    "money_text": "recon.exports.formatting",
    "periods_without_billing": "recon.exports.report",
    "summary_lines": "recon.exports.report",
    "validation_lines": "recon.exports.report",
    "write_outputs": "recon.exports.report",
    "SHEETS": "recon.exports.audit",
    "discrepancy_rows": "recon.exports.audit",
    "history_rows": "recon.exports.audit",
    "summary_rows": "recon.exports.audit",
    "write_audit_pack": "recon.exports.audit",
    "HEADINGS": "recon.exports.statements",
    "SIGN_NOTE": "recon.exports.statements",
    "STATEMENT_COLUMNS": "recon.exports.statements",
    "Statement": "recon.exports.statements",
    "client_statement": "recon.exports.statements",
    "statement_pdf": "recon.exports.statements",
    "statement_xlsx": "recon.exports.statements",
}
__getattr__, __dir__ = lazy.exports(globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)
