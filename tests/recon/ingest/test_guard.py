"""Hostile uploads: whatever the bytes, one clear ``SourceError`` or a normal load, never a traceback,
and nothing a workbook could run or fetch (issue 7)."""

from __future__ import annotations

import functools
import io
import time
import zipfile
import zlib

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.errors import SourceError
from recon.ingest.files import load_file
from recon.ingest.guard import UploadLimits, safe_file_name
from recon.settings import Settings

USAGE = b"client,sku,quantity,period_start\nAcme,X,3,2026-01-05\n"


@functools.cache  # the same bytes for a whole run (openpyxl stamps the time): fuzzed cases reproduce
def workbook_bytes(rows: int = 2) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["client", "sku", "quantity", "period_start"])
    for row in range(rows):
        sheet.append([f"Client {row}", "X", row, "2026-01-01"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_members(data: bytes, extra: dict[str, bytes], replace: dict[str, bytes] | None = None) -> bytes:
    """A copy of the zip ``data`` with members added (or replaced)."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, (replace or {}).get(info.filename, source.read(info.filename)))
        for name, content in extra.items():
            target.writestr(name, content)
    return out.getvalue()


def refusal(data: bytes, name: str, limits: UploadLimits | None = None) -> str:
    with pytest.raises(SourceError) as error:
        load_file(data, name, "usage", limits=limits)
    message = str(error.value)
    assert len(message) < 600 and "Traceback" not in message
    return message


# ----------------------------------------------------------------------------------------- limits

def test_size_and_row_limits_come_from_the_settings() -> None:
    limits = UploadLimits.from_settings(Settings(max_upload_mb=1, max_upload_rows=3))
    assert (limits.max_bytes, limits.max_rows) == (2**20, 3)
    big = USAGE + b"Acme,X,3,2026-01-05\n" * 60_000
    assert "MB, more than the limit of 1 MB (max_upload_mb in the settings)" in refusal(big, "usage.csv", limits)
    four_rows = USAGE + b"Acme,X,3,2026-01-05\n" * 3
    assert "has 4 rows, more than the limit of 3" in refusal(four_rows, "usage.csv", limits)
    assert load_file(USAGE * 1, "usage.csv", "usage", limits=limits).record.rows_in == 1


def test_limits_must_be_positive() -> None:
    with pytest.raises(Exception, match="max_upload_rows must be a positive whole number"):
        Settings(max_upload_rows=0)


def test_a_huge_line_is_refused_quickly() -> None:
    data = b"client,sku,quantity,period_start\n" + b"A" * 3_000_000 + b"\n"
    started = time.perf_counter()
    assert "line 2 is 3,000,000 characters long" in refusal(data, "usage.csv")
    assert time.perf_counter() - started < 5


def test_too_many_columns_are_refused() -> None:
    data = (",".join(f"c{i}" for i in range(5_000)) + "\n").encode()
    assert "has 5,000 columns, more than the limit of 1,000" in refusal(data, "usage.csv")


@pytest.mark.parametrize("data", [
    b'"' * 200_000,
    b"client,sku,quantity,period_start\n" + b'"' * 100_000 + b"a" + b'"' * 99_999 + b",X,1,2026-01-01\n",
    b'client,sku,quantity,period_start\n"Acme, "Inc"", "X""",1,2026-01-01\n' * 1000,
    b"client,sku,quantity,period_start\n" + b'"""' * 30_000 + b"\n",
])
def test_deeply_nested_quotes_give_a_clear_message_or_load(data: bytes) -> None:
    started = time.perf_counter()
    try:
        loaded = load_file(data, "usage.csv", "usage")
    except SourceError as error:
        assert str(error).startswith("usage.csv: ")
    else:
        record = loaded.record
        assert record.rows_in == record.rows_loaded + record.rows_quarantined
    assert time.perf_counter() - started < 10


# -------------------------------------------------------------------------------------------- XLSX

def test_a_zip_bomb_is_refused_before_it_is_opened() -> None:
    bomb = with_members(workbook_bytes(), {"xl/worksheets/sheet2.xml": b"\0" * 30_000_000})
    assert len(bomb) < 200_000
    assert "which only a zip bomb does" in refusal(bomb, "usage.xlsx")
    small_limit = UploadLimits(max_unzipped_bytes=10_000)
    assert "unpacks to" in refusal(workbook_bytes(200), "usage.xlsx", small_limit)


@pytest.mark.parametrize(("member", "reason"), [
    ("xl/externalLinks/externalLink1.xml", "external links"),
    ("xl/vbaProject.bin", "macros"),
    ("xl/activeX/activeX1.xml", "ActiveX"),
    ("xl/embeddings/oleObject1.bin", "embedded objects"),
])
def test_workbooks_that_could_run_or_fetch_something_are_refused(member: str, reason: str) -> None:
    assert reason in refusal(with_members(workbook_bytes(), {member: b"<x/>"}), "usage.xlsx")


def test_macro_enabled_and_old_binary_workbooks_are_refused() -> None:
    assert "macro-enabled" in refusal(workbook_bytes(), "usage.xlsm")
    assert "Excel 97-2003" in refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "usage.xlsx")
    types = zipfile.ZipFile(io.BytesIO(workbook_bytes())).read("[Content_Types].xml")
    relabelled = types.replace(b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")
    macro_typed = with_members(workbook_bytes(), {}, replace={"[Content_Types].xml": relabelled})
    assert "macro-enabled workbook" in refusal(macro_typed, "usage.xlsx")


def test_a_truncated_workbook_is_refused_clearly() -> None:
    data = workbook_bytes(50)
    for cut in (10, len(data) // 2, len(data) - 30):
        assert "usage.xlsx: is not a valid XLSX file" in refusal(data[:cut], "usage.xlsx")


def test_entity_expansion_in_a_workbook_is_refused() -> None:
    """A billion-laughs DTD in the sheet: refused, or at worst never expanded; never a hang."""
    entities = b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, 10))
    dtd = b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol0 "lol">' + entities + b"]>"
    sheet = zipfile.ZipFile(io.BytesIO(workbook_bytes())).read("xl/worksheets/sheet1.xml")
    assert b"Client 0" in sheet
    laughs = dtd + sheet.replace(b"Client 0", b"&lol9;")
    data = with_members(workbook_bytes(), {}, replace={"xl/worksheets/sheet1.xml": laughs})
    started = time.perf_counter()
    message = refusal(data, "usage.xlsx")
    assert message.startswith("usage.xlsx: unreadable as XLSX")
    assert time.perf_counter() - started < 10


# ------------------------------------------------------------------------------------------- names

@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\usage.csv", "usage.csv"),
    ("/abs/usage.csv", "usage.csv"),
    ("..", "upload"),
    ("usage\x00.csv", "usage.csv"),
    ("a" * 500 + ".csv", "a" * 190 + ".csv"),
])
def test_file_names_are_labels_never_paths(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


def test_a_path_in_the_upload_name_never_reaches_the_record() -> None:
    loaded = load_file(USAGE, "../../../tmp/evil/usage.csv", "usage")
    assert loaded.record.file == "usage.csv"
    assert set(loaded.frame["source_file"]) == {"usage.csv"}


# -------------------------------------------------------------------------------------------- fuzz

def load_or_refuse(data: bytes, name: str) -> None:
    """The contract: a normal load whose rows add up, or a ``SourceError`` naming the file."""
    try:
        loaded = load_file(data, name, "usage")
    except SourceError as error:
        assert str(error).startswith(f"{name}: ") and len(str(error)) < 600
    else:
        record = loaded.record
        assert record.rows_in == record.rows_loaded + record.rows_quarantined


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4_000), name=st.sampled_from(["usage.csv", "usage.xlsx", "usage.tsv"]))
def test_random_bytes_never_raise_anything_else(data: bytes, name: str) -> None:
    load_or_refuse(data, name)


CSV_PIECES = st.sampled_from(['"', '""', ",", ";", "\t", "\n", "\r\n", "\r", "client", "sku", "quantity",
                              "period_start", "Acme", "3", "2026-01-05", "=1+1", "\x00", "é", " ", "'"])


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(CSV_PIECES, max_size=80))
def test_csv_shaped_noise_never_raises_anything_else(pieces: list[str]) -> None:
    text = "client,sku,quantity,period_start\n" + "".join(pieces)
    load_or_refuse(text.encode("utf-8"), "usage.csv")


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10_000), flip=st.integers(min_value=0, max_value=10_000))
def test_damaged_workbooks_never_raise_anything_else(cut: int, flip: int) -> None:
    data = bytearray(workbook_bytes(20))
    data[flip % len(data)] ^= 0xFF
    load_or_refuse(bytes(data[: max(1, len(data) - cut % len(data))]), "usage.xlsx")


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(st.integers(0, 40), st.sampled_from([b"\n", b"\r\n", b"\r"])), max_size=30),
       limit=st.integers(1, 30))
def test_the_line_length_check_refuses_exactly_the_lines_over_the_limit(
        lines: list[tuple[int, bytes]], limit: int) -> None:
    """The window pre-check may only skip the exact measurement when no line is over the limit."""
    from recon.ingest.guard import check_line_length
    from recon.ingest.lines import Buffer

    data = b"".join(b"a" * length + ending for length, ending in lines)
    longest = max((len(line) for line in data.replace(b"\r", b"\n").split(b"\n")), default=0)
    limits = UploadLimits(max_line_chars=limit)
    if longest > limit:
        with pytest.raises(SourceError, match=r"characters long, more than the limit of .* \(max_line_chars"):
            check_line_length(Buffer(data), limits)
    else:
        check_line_length(Buffer(data), limits)


def test_a_workbook_with_a_damaged_compressed_part_is_refused() -> None:
    """Bytes flipped inside a deflated part: zlib's own error becomes the refusal (found by the fuzz test
    above, cut=0, flip=9757)."""
    data = workbook_bytes(20)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("[Content_Types].xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged_by_zlib = 0
    for position in range(start + 2, start + info.compress_size):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        try:
            zipfile.ZipFile(io.BytesIO(bytes(damaged))).read("[Content_Types].xml")
        except zlib.error:
            damaged_by_zlib += 1
            assert "is not a valid XLSX file" in refusal(bytes(damaged), "usage.xlsx")
        except zipfile.BadZipFile:
            continue
    assert damaged_by_zlib, "no flipped byte made zlib fail: the case is not exercised"
