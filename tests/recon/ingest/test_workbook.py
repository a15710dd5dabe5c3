"""XLSX read within its limits while it is read (issue 23, item 1; deliverable 2).

A 4.9 KB workbook with one cell at ``XFD1048576`` passed the zip checks and grew the server to 3.3 GB in
19 s: the column limit was not applied to XLSX and the row limit only after the sheet was parsed into a
rectangle. The limits now hold while the cells are parsed, each refusal naming its setting.
"""

from __future__ import annotations

import io
import resource
import subprocess
import sys
from datetime import datetime

import openpyxl
import pytest

from recon.errors import SourceError
from recon.ingest.files import load_file
from recon.ingest.guard import UploadLimits
from recon.ingest.workbook import cell_text, read_sheet
from recon.settings import Settings


def workbook(rows: list[list[object]], far: str | None = None, title: str = "Usage") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    if far:
        sheet[far] = "x"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


USAGE = [["client", "sku", "quantity", "period_start"], ["Acme", "M365-BP", 3, "2026-01-05"],
         ["Bravo", "EXO-P1", 4.5, datetime(2026, 1, 5)]]


def test_a_cell_at_xfd1048576_is_refused_within_a_small_memory_cap() -> None:
    """Read in a child process capped at 1 GB of address space: before the fix it ran out of memory."""
    data = workbook(USAGE, far="XFD1048576")
    assert len(data) < 10_000
    code = ("import sys\nfrom recon.ingest.files import load_file\nfrom recon.errors import SourceError\n"
            "try:\n    load_file(sys.stdin.buffer.read(), 'usage.xlsx', 'usage')\n"
            "except SourceError as error:\n    print(error)\n")

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    done = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, preexec_fn=cap,
                          timeout=600, check=False)
    assert done.stdout.decode().strip() == ("usage.xlsx: has a value at XFD1048576 (column 16,384), more than the "
                                            "limit of 1,000 columns (max_upload_columns in the settings)")


def test_the_row_limit_holds_while_the_sheet_is_read() -> None:
    limits = UploadLimits.from_settings(Settings(max_upload_rows=100))
    with pytest.raises(SourceError, match=r"has a value in row 1,048,576, more than the limit of 100 rows "
                                          r"\(max_upload_rows in the settings\)"):
        load_file(workbook(USAGE, far="A1048576"), "usage.xlsx", "usage", limits=limits)


def test_a_value_right_of_the_header_quarantines_its_row_and_the_lines_add_up() -> None:
    data = workbook([*USAGE, [], ["Coastal", "X", 1, "2026-01-05", None, "stray"]])
    loaded = load_file(data, "usage.xlsx", "usage")
    assert loaded.frame["client"].tolist() == ["Acme", "Bravo"]
    assert loaded.issues[["line", "reason"]].to_dict("records") == [
        {"line": 5, "reason": "row 5 has a value in column F, right of the header's last column (4 columns)"}]
    counts = loaded.report.line_counts
    assert (counts.lines, counts.header, counts.used, counts.quarantined, counts.blank) == (5, 1, 2, 1, 1)


def test_cells_read_as_the_text_pandas_gave_them_and_errors_keep_their_text() -> None:
    data = workbook([*USAGE, ["Coastal", "#DIV/0!", 2, "2026-01-05"]])
    loaded = load_file(data, "usage.xlsx", "usage")
    assert loaded.frame["quantity"].tolist() == [3.0, 4.5, 2.0]
    assert loaded.frame["period_start"].dt.strftime("%Y-%m-%d").tolist() == ["2026-01-05"] * 3
    assert loaded.frame["sku"].tolist()[-1] == "#DIV/0!"


def test_small_and_large_numbers_load_as_the_decimals_the_cells_hold() -> None:
    """openpyxl gives a number cell as a float, and ``str`` wrote 0.00005 (an Azure meter price) as
    ``5e-05``, which the money reader refuses: the row was quarantined. Every finite float is now written
    as the plain decimal of its shortest repr; whole numbers and dates are written as before."""
    header = ["client", "sku", "quantity", "period_start", "unit_cost"]
    costs = [0.00005, 1e-7, 123456789.5, 999999999999.0]
    data = workbook([header, *(["Acme", f"SKU-{n}", 5e-5, datetime(2026, 1, 5), cost]
                               for n, cost in enumerate(costs))])
    sheet = read_sheet(data, None, 100, 100)
    assert [row[2:] for row in sheet.rows] == [["0.00005", "2026-01-05 00:00:00", text] for text in
                                               ["0.00005", "0.0000001", "123456789.5", "999999999999"]]
    loaded = load_file(data, "usage.xlsx", "usage")
    assert loaded.issues.empty, loaded.issues
    # four places kept, the fifth rounding half up (recon.money.parse_money)
    assert loaded.frame["unit_cost"].tolist() == [1, 0, 1_234_567_895_000, 9_999_999_999_990_000]
    assert loaded.frame["quantity"].tolist() == [0.0001] * 4


@pytest.mark.parametrize(("value", "text"), [
    (14.0, "14"), (1e16, "10000000000000000"), (2.5e-5, "0.000025"), (-1e-7, "-0.0000001"), (20.9, "20.9"),
    (14, "14"), (True, "True"), (datetime(2025, 11, 1), "2025-11-01 00:00:00"), ("5e-05", "5e-05"),
])
def test_cell_text_writes_numbers_plainly_and_everything_else_as_before(value: object, text: str) -> None:
    assert cell_text(value) == text
