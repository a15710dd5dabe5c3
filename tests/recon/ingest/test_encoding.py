"""Encodings decided per file, with evidence (issue 24, items 7 and 10; issue 23, item 5).

A stray byte in a UTF-8 file used to send the whole file down the Windows-1252 path: every accented
client name became mojibake (``CafÃ© LumiÃ¨re``), the clients stopped matching, and the run reported
108 findings instead of 60 without a word. UTF-16 was refused with garbled column names.
"""

from __future__ import annotations

import codecs

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.errors import SourceError
from recon.ingest.encoding import _not_utf8
from recon.ingest.files import load_file

CONTRACTS = ("client,sku,unit_price,quantity,start_date,description\n"
             "Café Lumière Bistro,M365-BP,20.90,15,2021-12-04,Microsoft 365 Business Premium\n"
             "Zoë's Bakery,EXO-P1,3.80,4,2021-12-04,Exchange Online (Plan 1)\n"
             "Acme Construction LLC,M365-BS,11.00,9,2021-12-04,Microsoft 365 Business Standard\n")


def test_one_stray_byte_quarantines_its_line_and_keeps_every_name_intact() -> None:
    data = CONTRACTS.encode().replace(b"Standard", b"Standard \x96 note")  # a cp1252 dash pasted in
    loaded = load_file(data, "contracts.csv", "contracts")
    assert loaded.frame["client"].tolist() == ["Café Lumière Bistro", "Zoë's Bakery"]
    assert loaded.issues[["line", "reason"]].to_dict("records") == [
        {"line": 4, "reason": "byte 0x96 is not UTF-8, in a file that otherwise is (byte 82 of the row)"}]
    assert loaded.report.encoding.startswith("UTF-8 (")
    assert "1 stray byte(s) that are not, the first at line 4, byte 82 (0x96)" in loaded.report.encoding


def test_a_windows_1252_file_is_read_as_such_and_says_why() -> None:
    loaded = load_file(CONTRACTS.encode("cp1252"), "contracts.csv", "contracts")
    assert loaded.frame["client"].tolist()[:2] == ["Café Lumière Bistro", "Zoë's Bakery"]
    assert loaded.report.encoding == "Windows-1252 (none of its 3 bytes above 0x7F forms a UTF-8 character)"


def test_a_file_mixing_utf8_and_windows_1252_is_refused_asking_for_its_encoding() -> None:
    data = CONTRACTS.encode() + "Ölund Ärzte,X,1.00,1,2021-12-04,a\n".encode("cp1252") * 3
    with pytest.raises(SourceError, match=r"mixes encodings: 3 UTF-8 characters and 6 bytes that are not UTF-8"):
        load_file(data, "contracts.csv", "contracts")


def test_an_encoding_the_profile_names_is_used_as_given() -> None:
    from recon.ingest.reading import ReadOptions

    data = CONTRACTS.encode() + b"Bad\x96,X,1.00,1,2021-12-04,a\n"
    loaded = load_file(data, "contracts.csv", "contracts", ReadOptions(encoding="utf-8"))
    assert loaded.report.rows_quarantined == 1
    with pytest.raises(SourceError, match=r"line 2, byte 4 \(0xc3\) is not ascii, the encoding profile.toml names"):
        load_file(CONTRACTS.encode(), "contracts.csv", "contracts", ReadOptions(encoding="ascii"))


@pytest.mark.parametrize(("codec", "mark"), [("utf-16", "byte order mark"), ("utf-16-le", "every second byte is zero"),
                                             ("utf-16-be", "every other byte is zero"), ("utf-32", "byte order mark")])
def test_utf16_and_utf32_are_read_by_name(codec: str, mark: str) -> None:
    loaded = load_file(CONTRACTS.encode(codec), "contracts.csv", "contracts")
    assert loaded.frame["client"].tolist() == ["Café Lumière Bistro", "Zoë's Bakery", "Acme Construction LLC"]
    assert mark in loaded.report.encoding
    assert loaded.report.line_counts.lines == 4


def test_a_utf8_byte_order_mark_keeps_the_first_column_name() -> None:
    loaded = load_file(codecs.BOM_UTF8 + CONTRACTS.encode(), "contracts.csv", "contracts")
    assert loaded.report.rows_used == 3 and loaded.report.encoding == "UTF-8 (byte order mark)"


@given(st.binary(max_size=24) | st.lists(st.sampled_from([0x41, 0x0A, 0x80, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0, 0xE2,
                                                         0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x90, 0x8F, 0xA0]),
                                        max_size=16).map(bytes))
def test_stray_bytes_are_exactly_those_python_cannot_decode(data: bytes) -> None:
    expected, position = [], 0
    while position < len(data):
        try:
            data[position:].decode("utf-8")
            break
        except UnicodeDecodeError as error:
            expected += range(position + error.start, position + error.end)
            position += error.end
    raw = np.frombuffer(data, dtype=np.uint8)
    assert _not_utf8(raw, np.flatnonzero(raw >= 0x80)).tolist() == expected
