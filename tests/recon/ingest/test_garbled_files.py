"""Property: garbling cells of a valid file loses no row and crashes nothing (PRODUCT.md section 9).

Every data row of the file ends up exactly once either in the canonical frame or in the quarantine (or
is counted as blank), the counts add up (rows in = rows used + rows quarantined) and the report agrees;
the only exception allowed is a ``ReconError`` for a whole-file problem.
"""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.errors import ReconError
from recon.ingest.files import load_file
from recon.ingest.reading import ReadOptions

VALID = {
    "contracts": (
        [
            "client",
            "sku",
            "unit_price",
            "quantity",
            "start_date",
            "end_date",
            "billing_frequency",
            "currency",
            "billable",
            "hourly_rate",
        ],
        ["Acme Corporation", "M365-BP", "22.00", "25", "2026-01-01", "", "monthly", "USD", "true", "150"],
    ),
    "usage": (
        ["client", "sku", "quantity", "period_start", "period_end", "unit_cost"],
        ["Acme Corp", "MS-OFF-BUS-PREM", "27", "2026-03-01", "2026-03-31", "19.80"],
    ),
    "invoices": (
        ["invoice_number", "invoice_date", "client", "sku", "quantity", "unit_price", "amount", "line_id"],
        ["INV-1001", "3/1/2026", "Acme Corporation", "M365-BP", "25", "$22.00", "$550.00", "1"],
    ),
    "time_entries": (
        ["date", "client", "hours", "billable", "rate", "entry_id"],
        ["2026-03-04", "Acme Corporation", "1.5", "Billable", "150.00", "TE-1"],
    ),
}

NASTY_TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "-0.01",
            "(12.00)",
            "$1,234.56",
            "1.234,56",
            "1e308",
            "NaN",
            "inf",
            "-inf",
            "99999999999999999999999",
            "0.00001",
            "12.3.4",
            "--5",
            "5-",
            "$",
            "()",
            "USD",
            "usd",
            "XYZ",
            "2026-02-30",
            "1899-12-31",
            "9999-12-31",
            "31/12/2026",
            "12/31/2026",
            "2026-03-01T25:00:00",
            "2026-03-01T10:00:00+14:00",
            "0000-00-00",
            "true",
            "maybe",
            "DoNotBill",
            "annual",
            "weekly",
            "client",
            "sku",
            "quantity",
            "NULL",
            "None",
            "N/A",
            "#REF!",
            "=SUM(A1:A3)",
            "\t",
            "a;b",
            '"',
            "Café Núñez",
            "ÄÖÜ ß",
            "雪",
            "\u00a0",
            "\x00",
        ]
    ),
    st.text(max_size=12),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@st.composite
def garbled_files(draw: st.DrawFn) -> tuple[str, list[list[str]], list[str]]:
    kind = draw(st.sampled_from(sorted(VALID)))
    header, row = VALID[kind]
    count = draw(st.integers(min_value=1, max_value=12))
    rows = [list(row) for _ in range(count)]
    for _ in range(draw(st.integers(min_value=0, max_value=3 * count))):
        rows[draw(st.integers(0, count - 1))][draw(st.integers(0, len(header) - 1))] = draw(NASTY_TEXT)
    return kind, rows, header


def to_csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # cells holding \r or \n get quoted
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def assert_nothing_lost(loaded, rows: list[list[str]]) -> None:
    record, report = loaded.record, loaded.report
    assert record.rows_in == record.rows_loaded + record.rows_quarantined
    assert record.rows_in + record.blank_rows == len(rows)
    assert (report.rows_in, report.rows_used, report.rows_quarantined) == (
        record.rows_in,
        record.rows_loaded,
        record.rows_quarantined,
    )
    used = loaded.frame["source_line"].tolist()
    quarantined = loaded.issues["line"].tolist()
    assert len(set(used) | set(quarantined)) == len(used) + len(quarantined) == record.rows_in
    assert loaded.issues["reason"].ne("").all()
    for outcome in report.expectations:
        assert 0 <= outcome.failed <= outcome.checked <= record.rows_in or outcome.checked == record.rows_in


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(garbled_files())
def test_garbled_cells_lose_no_row_and_crash_nothing(case: tuple[str, list[list[str]], list[str]]) -> None:
    kind, rows, header = case
    try:
        loaded = load_file(to_csv(header, rows), f"{kind}.csv", kind, ReadOptions(delimiter=","))
    except ReconError:
        return  # a whole-file problem (e.g. a NUL byte making the file unreadable), reported as such
    assert_nothing_lost(loaded, rows)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbled_files(), st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), st.sampled_from([",", ";", "\t"]))
def test_garbled_files_in_any_encoding_and_delimiter_are_read_or_refused(
    case: tuple[str, list[list[str]], list[str]], encoding: str, delimiter: str
) -> None:
    kind, rows, header = case
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding, errors="replace")
    try:
        loaded = load_file(data, f"{kind}.csv", kind)
    except ReconError:
        return
    record = loaded.record
    assert record.rows_in == record.rows_loaded + record.rows_quarantined
    assert len(set(loaded.frame["source_line"]) | set(loaded.issues["line"])) == record.rows_in


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_read_or_refused(data: bytes) -> None:
    try:
        loaded = load_file(b"client,sku,quantity,period_start\n" + data, "usage.csv", "usage")
    except ReconError:
        return
    record = loaded.record
    assert record.rows_in == record.rows_loaded + record.rows_quarantined
