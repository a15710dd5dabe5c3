"""C1 control characters (U+0080-U+009F) are quarantined as C0 ones are.

A cell holding one is almost always text decoded with the wrong encoding: Windows-1252's ``€`` (0x80) or
``’`` (0x92) read as Latin-1 becomes U+0080 or U+0092, and UTF-8's ``’`` (E2 80 99) read as Latin-1
becomes ``â`` + U+0080 + U+0099. On the code before this file such a row loaded, its client name
silently holding an invisible character (and U+0085 at a value's end was stripped as whitespace).
Legitimate text (accents, ``€``, ``£``, non-Latin names) still loads as it is.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.errors import SourceError
from recon.exports.report import printable
from recon.ingest.files import load_file
from recon.ingest.reading import ReadOptions

USAGE = "client,sku,quantity,period_start,vendor\n"
C1 = [chr(code) for code in range(0x80, 0xA0)]
LEGITIMATE = ["Société Générale", "Müller & Söhne GmbH", "Ñandú Café", "株式会社テスト", "Ελληνική Εταιρεία",
              "Ærø Ørsted", "€ Euro Services", "£ Pound Ltd", "Zoë’s “Quoted” Shop", "Łódź Sp. z o.o.",
              "Доверие ООО", "شركة الاختبار"]


def test_a_hostile_file_quarantines_exactly_the_rows_holding_a_c1_control() -> None:
    rows = [
        "Acme,M365-BP,3,2026-01-05,Pax8",
        "Caf\u0080 Lumi\u00e8re,M365-BP,4,2026-01-05,Pax8",  # Windows-1252's euro sign read as Latin-1
        "Bravo,EXO-P1,5,2026-01-05,\u009b31mPax8",  # CSI: an 8-bit terminal escape
        "Coastal,EXO-P1,6,2026-01-05,Pax8\u0085",  # NEL at the end: stripping it would hide it
        "Delta,M365-BP,7,2026-01-05,Pax8",
        "It\u00e2\u0080\u0099s Fine Ltd,M365-BP,2,2026-01-05,Pax8",  # UTF-8's ’ read as Latin-1
    ]
    loaded = load_file((USAGE + "\n".join(rows) + "\n").encode(), "usage.csv", "usage")
    report = loaded.report
    assert loaded.frame["client"].tolist() == ["Acme", "Delta"]
    assert (report.rows_in, report.rows_used, report.rows_quarantined) == (6, 2, 4)
    assert report.line_counts.describe() == "lines 7 = header 1 + used 2 + quarantined 4 + blank 0"
    issues = loaded.issues
    assert issues["line"].tolist() == [3, 4, 5, 7]
    reasons = issues["reason"].tolist()
    assert reasons[0].startswith("client: holds U+0080, a C1 control character")
    assert reasons[1].startswith("vendor: holds U+009B, a C1 control character")
    assert reasons[2].startswith("vendor: holds U+0085, a C1 control character")
    assert reasons[3].startswith("client: holds U+0080, a C1 control character")
    assert all("wrong encoding" in reason for reason in reasons)


@pytest.mark.parametrize("character", C1, ids=[f"U+{ord(character):04X}" for character in C1])
def test_every_c1_control_quarantines_its_row(character: str) -> None:
    data = (USAGE + f"Ac{character}me,M365-BP,3,2026-01-05,Pax8\nBravo,M365-BP,4,2026-01-05,Pax8\n").encode()
    loaded = load_file(data, "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["Bravo"]
    assert loaded.issues["line"].tolist() == [2]
    assert loaded.issues["reason"].iloc[0].startswith(f"client: holds U+{ord(character):04X}, a C1 control")


def test_legitimate_text_still_loads_as_it_is() -> None:
    rows = [f"{name},M365-BP,{number},2026-01-05,Pax8" for number, name in enumerate(LEGITIMATE, start=1)]
    for encoding in ("utf-8", "utf-8-sig", "utf-16"):
        loaded = load_file((USAGE + "\n".join(rows) + "\n").encode(encoding), "usage.csv", "usage")
        assert loaded.frame["client"].tolist() == LEGITIMATE, encoding
        assert loaded.report.rows_quarantined == 0


def test_a_windows_1252_file_still_reads_its_euro_and_curly_quotes() -> None:
    """Read as Windows-1252 (the bytes 0x80-0x9F are its printable characters there), nothing is quarantined."""
    text = USAGE + "€ Euro Services,M365-BP,3,2026-01-05,Pax8\nZoë’s Shop,M365-BP,4,2026-01-05,Pax8\n"
    loaded = load_file(text.encode("cp1252"), "usage.csv", "usage")
    assert loaded.frame["client"].tolist() == ["€ Euro Services", "Zoë’s Shop"]


def test_a_windows_1252_file_declared_latin_1_quarantines_the_rows_it_garbles() -> None:
    data = (USAGE + "€ Euro Services,M365-BP,3,2026-01-05,Pax8\nZoe Shop,M365-BP,4,2026-01-05,Pax8\n").encode("cp1252")
    loaded = load_file(data, "usage.csv", "usage", ReadOptions(encoding="latin-1"))
    assert loaded.frame["client"].tolist() == ["Zoe Shop"]
    assert loaded.issues["reason"].iloc[0].startswith("client: holds U+0080, a C1 control character")


def test_a_c1_control_in_a_header_name_refuses_the_file_naming_the_column() -> None:
    data = ("client,sku,quantity,period_start,vend\u0092or\nAcme,M365-BP,3,2026-01-05,Pax8\n").encode()
    with pytest.raises(SourceError, match=r"the name of column 5 in the header \(line 1\) holds U\+0092, a C1 "
                                          r"control character"):
        load_file(data, "usage.csv", "usage")


CELL_CHARACTERS = st.sampled_from([*"abcXYZ 019-.", *C1, "é", "€", "’", "ß", "Ø", "テ", "Ж", "\u00a0", "£"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(CELL_CHARACTERS, min_size=1, max_size=12), min_size=1, max_size=12),
       st.sampled_from(["utf-8", "utf-16"]))
def test_rows_in_are_rows_used_plus_rows_with_a_c1_control(clients: list[str], encoding: str) -> None:
    clients = [f"x{client}x" for client in clients]  # never blank, never only spaces
    data = (USAGE + "".join(f"{client},M365-BP,1,2026-01-05,Pax8\n" for client in clients)).encode(encoding)
    loaded = load_file(data, "usage.csv", "usage")
    report = loaded.report
    holding = [any(character in C1 for character in client) for client in clients]
    assert report.rows_in == len(clients) == report.rows_used + report.rows_quarantined
    assert report.rows_quarantined == sum(holding)
    assert loaded.issues["line"].tolist() == [line for line, bad in enumerate(holding, start=2) if bad]
    assert len(loaded.frame) == holding.count(False)
    assert not any(character in C1 for client in loaded.frame["client"] for character in client)


def test_a_c1_control_is_shown_escaped_on_a_terminal() -> None:
    """``recon validate`` prints the quarantined rows' reasons and values: U+009B would start an escape."""
    assert printable(["line 3: \u009b31mPax8"]) == ["line 3: \\x9b31mPax8"]
