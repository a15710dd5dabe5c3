"""Reading never guesses (issue 24, items 1, 6, 8, 9; issue 23, item 5): every physical line of a file is
a header line, a row used, a row quarantined with its reason, or a blank line, and a file that cannot be
read that way is refused with one sentence.

Each case reproduces what a fuzzing tester found: on the code before this file, the row was padded,
merged, shifted or dropped without a word (or the reader crashed or froze).
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.errors import SourceError
from recon.ingest.files import load_file
from recon.ingest.reading import column_names, read_text_table, sniff_delimiter
from recon.sources import ValidationReport

USAGE = "client,sku,quantity,period_start,vendor\n"
ROWS = ["Acme,M365-BP,3,2026-01-05,Pax8", "Bravo,M365-BP,4,2026-01-05,Pax8", "Coastal,EXO-P1,5,2026-01-05,Pax8",
        "Delta,EXO-P1,6,2026-01-05,Pax8"]
INVOICE_HEADER = "invoice_number,invoice_date,client,sku,quantity,unit_price,amount,line_id\n"


def lines_balance(report: ValidationReport) -> None:
    counts = report.line_counts
    assert report.rows_in == report.rows_used + report.rows_quarantined
    assert counts.lines == counts.header + counts.used + counts.quarantined + counts.blank


def physical_lines(data: bytes) -> int:
    text = data.decode("utf-8")
    return len(io.StringIO(text, newline="").readlines())


# ------------------------------------------------------------------------------------------- issue 24.1

@pytest.mark.parametrize("header", [
    "client,sku,quantity,period_start,client ",  # a trailing space: the same name once stripped
    " client,sku,quantity,period_start,client",
])
def test_a_header_name_repeated_once_stripped_is_refused_not_a_traceback(header: str) -> None:
    data = (header + "\n" + "Acme,M365-BP,3,2026-01-05,Bravo\n").encode()
    with pytest.raises(SourceError) as refused:
        load_file(data, "usage.csv", "usage")
    assert "2 columns are named 'client' (columns 1, 5): which one holds client would be a guess" in str(refused.value)


def test_names_that_differ_only_in_case_are_refused_where_they_would_hold_a_field() -> None:
    data = b"client,sku,quantity,period_start,Client\nAcme,M365-BP,3,2026-01-05,Bravo\n"
    with pytest.raises(SourceError, match=r"columns 'client', 'Client' all read as client"):
        load_file(data, "usage.csv", "usage")


def test_blank_and_repeated_names_that_hold_no_field_are_kept_apart() -> None:
    data = b"client,sku,quantity,period_start, ,  ,note,note\nAcme,M365-BP,3,2026-01-05,a,b,c,d\n"
    table = read_text_table(data, "usage.csv")
    assert list(table.frame.columns)[4:] == ["unnamed column 5", "unnamed column 6", "note", "note (column 8)"]
    assert table.layout.duplicates == (("note", (7, 8)),)
    assert load_file(data, "usage.csv", "usage").report.rows_used == 1


def test_column_names_are_stripped_before_repeats_are_looked_for() -> None:
    names, repeated = column_names(["a ", "a", " b", "", "unnamed column 4"])
    assert names == ["a", "a (column 2)", "b", "unnamed column 4", "unnamed column 4 #5"]
    assert repeated == (("a", (1, 2)),)


@pytest.mark.parametrize(("name", "code"), [("agr\x07eement", "0x07"), ("vendo\x0br", "0x0b"), ("sk\x7fu", "0x7f")])
def test_a_control_character_inside_a_header_name_refuses_the_file_naming_the_column(name: str, code: str) -> None:
    """A bell in ``agreement.billingCycle.name`` made the column unknown: a quarterly agreement read as
    monthly, and a vertical tab in ``vendor_sku`` dropped the column, both without a word (fuzz, seed 24).
    A name holding one cannot be matched to a field, so which column holds what would be a guess."""
    data = (f"client,sku,quantity,period_start,{name}\n" + ROWS[0] + "\n").encode()
    with pytest.raises(SourceError) as refused:
        load_file(data, "usage.csv", "usage")
    assert str(refused.value) == (f"usage.csv: the name of column 5 in the header (line 1) holds a control character "
                                  f"({code}); check the file's header")
    spaced = (" \x0bclient,sku,quantity,period_start,vendor\x0c\n" + ROWS[0] + "\n").encode()
    assert load_file(spaced, "usage.csv", "usage").report.rows_used == 1  # around a name: whitespace


# ------------------------------------------------------------------------------------------- issue 24.6

def test_a_stray_quote_in_the_header_refuses_the_file_naming_its_lines() -> None:
    data = ('client,sku,quantity,"period_start,vendor\n' + "\n".join(ROWS) + '\nEcho,X,1,2026-01-05,"Pax8"\n').encode()
    with pytest.raises(SourceError, match=r"the header runs over lines 1 to \d+: a quote in it opens a value"):
        load_file(data, "usage.csv", "usage")


def test_a_quote_that_swallows_lines_looking_like_rows_quarantines_them() -> None:
    """Four data lines read as one row (the fuzzer's case): the field count fits, but the quoted value
    takes in lines that hold a row's worth of delimiters each."""
    rows = [ROWS[0][:-len("Pax8")] + '"Pax8', *ROWS[1:3], ROWS[3] + '"']
    data = (USAGE + "\n".join(rows) + "\nEcho,M365-BP,2,2026-01-05,Pax8\n").encode()
    loaded = load_file(data, "usage.csv", "usage")
    assert (loaded.report.rows_in, loaded.report.rows_used, loaded.report.rows_quarantined) == (2, 1, 1)
    assert loaded.frame["client"].tolist() == ["Echo"]
    issue = loaded.issues.iloc[0]
    assert issue["line"] == 2
    assert "lines 2 to 5 read as one row: a quote on line 2 opens a value that takes in lines" in issue["reason"]
    lines_balance(loaded.report)
    assert loaded.report.line_counts.lines == physical_lines(data) == 6


def test_a_quote_that_never_closes_refuses_the_file_naming_the_line() -> None:
    data = (USAGE + ROWS[0] + "\n" + ROWS[1][:-4] + '"Pax8\n' + "\n".join(ROWS[2:]) + "\n").encode()
    with pytest.raises(SourceError, match=r"line 3: a quote opens a value that never closes; it would take in the 2"):
        load_file(data, "usage.csv", "usage")


def test_a_legitimate_line_break_in_a_quoted_value_is_one_row_spanning_two_lines() -> None:
    data = (INVOICE_HEADER.replace(",line_id", ",description") +
            'INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50,"two\nlines"\n'
            'INV-1,2026-01-31,Acme,EXO-P1,1,4.00,4.00,one line\n').encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    assert loaded.frame["description"].tolist() == ["two lines", "one line"]
    assert loaded.frame["source_line"].tolist() == [2, 4]
    counts = loaded.report.line_counts
    assert (counts.lines, counts.header, counts.used) == (4, 1, 3)


def test_text_after_a_closing_quote_is_quarantined_not_glued_on() -> None:
    data = (USAGE + '"Acme"Corp,M365-BP,3,2026-01-05,Pax8\n' + ROWS[1] + "\n").encode()
    loaded = load_file(data, "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Bravo"]
    assert "a closing quote is followed by more text in the same value" in loaded.issues["reason"].iloc[0]


def test_an_inch_mark_inside_an_unquoted_value_is_text() -> None:
    data = (USAGE + 'Acme,DELL-24,3,2026-01-05,Dell 24" monitor\n' + ROWS[1] + "\n").encode()
    loaded = load_file(data, "usage.csv", "usage")
    assert loaded.frame["vendor"].tolist() == ['Dell 24" monitor', "Pax8"]
    lines_balance(loaded.report)


# ------------------------------------------------------------------------------------------- issue 24.8

def test_a_truncated_last_line_is_quarantined_saying_the_file_looks_cut_off() -> None:
    """``...,150.00,63`` cut from ``...,150.00,637.50``: billed revenue dropped by 574.50 without a word."""
    data = (INVOICE_HEADER + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50,1\n"
            "INV-1,2026-01-31,Acme,LABOR,4.25,150.00,63").encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    assert loaded.frame["amount"].tolist() == [375_000]
    reason = loaded.issues["reason"].iloc[0]
    assert reason == ("7 fields where the header has 8 (the last line, with no line break after it: the file looks "
                      "cut off)")
    lines_balance(loaded.report)


AMOUNT_LAST = "invoice_number,invoice_date,client,sku,quantity,unit_price,amount\n"
NOTE = "INV-0,2026-01-31,\"Acme\nHQ\",M365-BP,1,1.00,1.00\n"  # a quoted line break: the scanned read


@pytest.mark.parametrize("before", ["", NOTE], ids=["one parse", "scanned"])
def test_a_last_line_cut_inside_its_last_value_is_loaded_with_a_warning_naming_the_line(before: str) -> None:
    """The issue's own case: ``...,150.00,63`` cut from ``...,150.00,637.50`` where ``amount`` is the last
    column. The row has every field, so nothing tells a cut value from a real one: the row is loaded (a
    file without a final line break is common), and the report says that line has no line break after it
    and names the value that may be incomplete; it loaded without a word before."""
    data = (AMOUNT_LAST + before + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\n"
            "INV-1,2026-01-31,Acme,LABOR,4.25,150.00,63").encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    last = 3 + before.count("\n")
    assert loaded.frame["amount"].tolist()[-2:] == [375_000, 630_000]
    assert loaded.report.warnings == (
        f"line {last} (the last) has no line break after it: if the file was cut off, its last value "
        "(amount '63') may be incomplete; compare that row with the source or export the file again",)
    lines_balance(loaded.report)


@pytest.mark.parametrize("text", [
    AMOUNT_LAST + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\n",       # a final line break
    AMOUNT_LAST + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\r\n",     # CRLF
    AMOUNT_LAST + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\r",       # a lone CR
    AMOUNT_LAST.rstrip("\n"),                                           # a header only
    AMOUNT_LAST + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\n   ",    # a blank last line
    AMOUNT_LAST + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\n,,",     # a blank last line (delimiters only)
])
def test_a_last_line_that_ends_or_holds_no_row_gets_no_warning(text: str) -> None:
    loaded = load_file(text.encode(), "invoices.csv", "invoices")
    assert loaded.report.warnings == ()


def test_a_cut_last_line_with_too_few_fields_is_quarantined_without_a_second_warning() -> None:
    data = (AMOUNT_LAST + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50\nINV-1,2026-01-31,Acme,LAB").encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    assert loaded.issues["reason"].tolist() == [
        "4 fields where the header has 7 (the last line, with no line break after it: the file looks cut off)"]
    assert loaded.report.warnings == ()


@pytest.mark.parametrize(("row", "reason"), [
    ("INV-2,2026-01-31,Acme,EXO-P1,1,4.00", "6 fields where the header has 8"),
    ("INV-2,2026-01-31,Acme,EXO-P1,1,4.00,4.00,2,extra,fields",
     "10 fields where the header has 8 (values beyond the header's columns would be lost)"),
])
def test_rows_with_too_few_or_too_many_fields_are_quarantined_never_padded(row: str, reason: str) -> None:
    data = (INVOICE_HEADER + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50,1\n" + row + "\n").encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    assert loaded.frame["invoice_number"].tolist() == ["INV-1"]
    assert loaded.issues[["line", "reason"]].to_dict("records") == [{"line": 3, "reason": reason}]
    lines_balance(loaded.report)


def test_extra_fields_on_the_first_data_row_never_shift_the_columns() -> None:
    """pandas made a first data row's extra leading fields an index: every row's columns shifted."""
    data = (INVOICE_HEADER + "INV-1,2026-01-31,Acme,M365-BP,3,12.50,37.50,1,x,y\n"
            "INV-2,2026-01-31,Bravo,EXO-P1,1,4.00,4.00,2\n").encode()
    loaded = load_file(data, "invoices.csv", "invoices")
    assert loaded.frame[["invoice_number", "client"]].to_dict("records") == [{"invoice_number": "INV-2",
                                                                              "client": "Bravo"}]
    assert loaded.report.rows_quarantined == 1


def test_blank_and_whitespace_lines_are_counted_as_blank_lines() -> None:
    data = (USAGE + ROWS[0] + "\n\n   \n,,,,\n,,,\n" + ROWS[1] + "\n\n").encode()
    loaded = load_file(data, "usage.csv", "usage")
    report = loaded.report
    assert (report.rows_in, report.rows_used, report.blank_rows) == (2, 2, 5)
    assert report.line_counts.describe() == "lines 8 = header 1 + used 2 + quarantined 0 + blank 5"


# ------------------------------------------------------------------------------------------- issue 24.9

@pytest.mark.parametrize("separator", ["\u0085", "\u2028"])
def test_unicode_line_separators_are_line_breaks_in_a_file_without_cr_or_lf(separator: str) -> None:
    data = separator.join([USAGE.strip(), *ROWS]).encode()
    loaded = load_file(data, "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Acme", "Bravo", "Coastal", "Delta"]
    assert "not CR or LF: read as line breaks" in loaded.report.warnings[0]
    assert loaded.report.line_counts.lines == 5


# ------------------------------------------------------------------------------------------- issue 23.5

def test_a_header_of_quotes_and_commas_is_refused_for_its_width_without_a_backtracking_sniffer() -> None:
    """64 KB of ``,"`` froze the server for 44.6 s in ``csv.Sniffer``'s regular expression."""
    with pytest.raises(SourceError, match=r"columns, more than the limit of 1,000 \(max_upload_columns"):
        load_file(b',"' * 32_768 + b"\n", "catalog.csv", "catalog")
    assert sniff_delimiter(b',"' * 200_000) == ","


def test_a_row_of_twenty_thousand_fields_is_quarantined_not_read_as_three_columns() -> None:
    wide = ",".join(['"x"'] * 20_001)
    data = (USAGE + wide + "\n" + ROWS[0] + "\n").encode()
    loaded = load_file(data, "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Acme"]
    reason = loaded.issues["reason"].iloc[0]
    assert reason == "20,001 fields where the header has 5 (values beyond the header's columns would be lost)"
    assert len(loaded.issues["raw"].iloc[0]) < 600  # the quarantine keeps the start of the line, not all of it


def test_a_nul_byte_inside_a_value_quarantines_its_row() -> None:
    data = (USAGE + "Ac\x00me,M365-BP,3,2026-01-05,Pax8\n" + ROWS[1] + "\n").encode()
    loaded = load_file(data, "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Bravo"]
    assert loaded.issues["reason"].iloc[0] == "a NUL byte (0x00): binary data in a text file (byte 3 of the row)"


@pytest.mark.parametrize("text", ["client;sku;quantity;period_start\nAcme;X;3,5;2026-01-05\n",
                                  "client\tsku\tquantity\tperiod_start\nA, Inc\tX\t3\t2026-01-05\n",
                                  'client,sku,quantity,period_start\n"Acme; Co",X,3,2026-01-05\n',
                                  "client|sku|quantity|period_start\nAcme|X|3|2026-01-05\n"])
def test_the_delimiter_is_the_one_that_splits_the_header_and_rows_alike(text: str) -> None:
    assert sniff_delimiter(text) == text[6]


# ------------------------------------------------------------------------------------------ every line

line_text = st.text(alphabet=st.sampled_from(list('ab,"\n\r ')), max_size=40)


@given(st.lists(line_text, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_every_physical_line_is_accounted_for(bodies: list[str], newline: str, final_newline: bool) -> None:
    data = (newline.join(["client,sku,quantity,period_start", *bodies]) + (newline if final_newline else "")).encode()
    try:
        loaded = load_file(data, "usage.csv", "usage")
    except SourceError as error:
        assert str(error).startswith("usage.csv: ") and "\n" not in str(error)
        return
    report = loaded.report
    lines_balance(report)
    assert report.line_counts.lines == physical_lines(data)
    reference = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert report.rows_in + report.blank_rows <= max(len(reference) - 1, 0) + report.line_counts.blank
