"""Which encoding a text file is in, decided per file from its bytes, with the evidence in words.

In order (``decide``, then ``undeclared`` when a file taken for UTF-8 turns out not to be):

1. An encoding ``profile.toml`` names (``encoding = "cp1252"``) is used as given; a byte it cannot read
   refuses the file, naming the line and byte.
2. A byte order mark says UTF-8, UTF-16 or UTF-32.
3. Without one, UTF-16 shows as a zero in every second byte of ASCII text (``a,b`` is
   ``61 00 2C 00 62 00``): read as UTF-16LE or UTF-16BE, and the report says why.
4. Otherwise the file is read as UTF-8 (Arrow's reader checks every value). If it is not UTF-8, its bytes
   above 0x7F are sorted into those that form UTF-8 characters and those that cannot:

   * none forms a UTF-8 character: the file is Windows-1252 (Excel's "CSV" on Windows), read as such;
     a byte Windows-1252 leaves undefined refuses the file;
   * at least as many UTF-8 characters as stray bytes: the file is UTF-8 with a few stray bytes (a value
     pasted from another program). It is read as UTF-8 and each line holding a stray byte is
     quarantined, naming the byte and where it is. It is never re-decoded whole as Windows-1252, which
     turns every accented name into mojibake (``CafÃ© LumiÃ¨re``) so that they stop matching;
   * more stray bytes than UTF-8 characters: the file mixes encodings; it is refused, asking for its
     encoding in ``profile.toml``.

Line ends: some programs end lines with NEL (U+0085) or the Unicode line separator (U+2028). A file with
no CR or LF at all whose text holds one of these is read with it as the line break, and the report says
so; in a file that has CR or LF they are text (and NEL, a C1 control character, quarantines its row:
``recon.cells.CONTROL``).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

import numpy as np

from recon.errors import EncodingError
from recon.ingest.lines import Buffer

UTF8_BOM = codecs.BOM_UTF8
_MARKS = (  # (byte order mark, codec, name): UTF-32LE's mark starts with UTF-16LE's, so it comes first
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32BE"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16BE"),
)
_UNICODE_LINE_ENDS = (("\u0085", "NEL (U+0085)"), ("\u2028", "LINE SEPARATOR (U+2028)"),
                      ("\u2029", "PARAGRAPH SEPARATOR (U+2029)"))
STRAY_REPLACEMENT = ord("?")  # one byte for one byte: the positions of everything else stay where they were
_NO_STRAY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Decoded:
    """A file as UTF-8 text for the parser, how it was read, and why. ``stray`` are the offsets (in the
    buffer) of bytes that were not UTF-8 and now read ``?``: their lines are quarantined. ``checked``:
    whether the text is known to be UTF-8 (else the parser's check decides)."""

    buffer: Buffer
    encoding: str
    evidence: str = ""
    stray: np.ndarray = field(default_factory=lambda: _NO_STRAY)
    checked: bool = True
    stray_values: np.ndarray = field(default_factory=lambda: _NO_STRAY)  # what the stray bytes were

    @property
    def description(self) -> str:
        """How the file was read, in words: ``UTF-8``, ``UTF-16LE (no byte order mark; ...)``."""
        return self.encoding + (f" ({self.evidence})" if self.evidence else "")


def where(data: bytes, offset: int) -> str:
    """``offset`` in ``data`` as a line (from 1) and a byte in that line (from 1)."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line:,}, byte {offset - line_start + 1:,}"


def decide(data: bytes | Buffer, encoding: str | None = None) -> Decoded:
    """How to read ``data`` as text (the module's steps 1 to 3; else UTF-8, ``checked=False``).
    Raises ``EncodingError``."""
    buffer = data if isinstance(data, Buffer) else Buffer(data)
    if encoding:
        return _declared(buffer, encoding)
    return _by_mark(buffer) or _utf16_without_mark(buffer) or Decoded(buffer, "UTF-8", checked=False)


def _declared(buffer: Buffer, encoding: str) -> Decoded:
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        marked = buffer.text(0, 3) == UTF8_BOM
        return Decoded(Buffer(buffer.data, buffer.start + 3 * marked), "UTF-8", "as profile.toml says",
                       checked=False)
    raw = buffer.text(0, len(buffer))
    try:
        text = raw.decode(name)
    except UnicodeDecodeError as error:
        raise EncodingError(f"{where(raw, error.start)} (0x{raw[error.start]:02x}) is not {encoding}, the "
                              "encoding profile.toml names for it") from None
    return _as_utf8(text, encoding, "as profile.toml says")


def _by_mark(buffer: Buffer) -> Decoded | None:
    head = buffer.text(0, 4)
    if head.startswith(UTF8_BOM):
        return Decoded(Buffer(buffer.data, buffer.start + len(UTF8_BOM)), "UTF-8", "byte order mark",
                       checked=False)
    for mark, codec, name in _MARKS:
        if head.startswith(mark):
            return _unicode(buffer, codec, name, "byte order mark", len(mark))
    return None


def _utf16_without_mark(buffer: Buffer) -> Decoded | None:
    """UTF-16 without a byte order mark, told by the zeros of ASCII text in its first 4 KB."""
    head = np.frombuffer(buffer.text(0, 4096), dtype=np.uint8)
    head = head[:len(head) // 2 * 2]
    if len(head) < 4:
        return None
    zero_even, zero_odd = float(np.mean(head[0::2] == 0)), float(np.mean(head[1::2] == 0))
    if zero_odd >= 0.9 and zero_even <= 0.1:
        return _unicode(buffer, "utf-16-le", "UTF-16LE", "no byte order mark; every second byte is zero", 0)
    if zero_even >= 0.9 and zero_odd <= 0.1:
        return _unicode(buffer, "utf-16-be", "UTF-16BE", "no byte order mark; every other byte is zero", 0)
    return None


def _unicode(buffer: Buffer, codec: str, name: str, evidence: str, skip: int) -> Decoded:
    raw = buffer.text(skip, len(buffer))
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as error:
        raise EncodingError(f"starts as {name} ({evidence}), but byte {error.start + skip + 1:,} "
                              f"(0x{raw[error.start]:02x}) is not {name}") from None
    return _as_utf8(text, name, evidence)


def _as_utf8(text: str, name: str, evidence: str) -> Decoded:
    return Decoded(Buffer(text.encode("utf-8")), name, evidence)


def undeclared(buffer: Buffer, declared_utf8: bool = False) -> Decoded:
    """A text taken for UTF-8 that may not be: UTF-8, Windows-1252, or UTF-8 with stray bytes (the
    module's step 4). Raises ``EncodingError`` for a file that mixes encodings. ``declared_utf8``
    (profile.toml says UTF-8): stray bytes quarantine their lines however many there are."""
    raw = buffer.raw
    high = np.flatnonzero(raw >= 0x80)
    stray = _not_utf8(raw, high)
    if not len(stray):
        return Decoded(buffer, "UTF-8")
    characters = int(np.count_nonzero(raw[np.setdiff1d(high, stray, assume_unique=True)] >= 0xC0))
    if not characters and not declared_utf8:
        return _windows_1252(buffer, len(high))
    whole = buffer.text(0, len(buffer))
    first = f"{where(whole, int(stray[0]))} (0x{raw[stray[0]]:02x})"
    if len(stray) > characters and not declared_utf8:
        raise EncodingError(f"mixes encodings: {characters:,} UTF-8 characters and {len(stray):,} bytes that "
                              f"are not UTF-8, the first at {first}; name its encoding in profile.toml "
                              "(encoding = \"utf-8\" or \"cp1252\")")
    cleaned = raw.copy()
    cleaned[stray] = STRAY_REPLACEMENT
    evidence = (f"{characters:,} UTF-8 characters and {len(stray):,} stray byte(s) that are not, the first at "
                f"{first}: their lines are quarantined")
    return Decoded(Buffer(cleaned.tobytes()), "UTF-8", evidence, stray, stray_values=raw[stray].astype(np.int64))


def _windows_1252(buffer: Buffer, high_bytes: int) -> Decoded:
    raw = buffer.text(0, len(buffer))
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as error:
        raise EncodingError(f"is not UTF-8, and {where(raw, error.start)} (0x{raw[error.start]:02x}) is not "
                              "Windows-1252 either; name its encoding in profile.toml") from None
    return _as_utf8(text, "Windows-1252", f"none of its {high_bytes:,} bytes above 0x7F forms a UTF-8 character")


def _not_utf8(raw: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Offsets of the bytes above 0x7F that are not part of a well-formed UTF-8 character (RFC 3629: no
    overlong forms, no surrogates, nothing past U+10FFFF), computed on those bytes only."""
    size = len(raw)
    lead = raw[high]
    length = np.select([(lead >= 0xC2) & (lead <= 0xDF), (lead >= 0xE0) & (lead <= 0xEF),
                        (lead >= 0xF0) & (lead <= 0xF4)], [2, 3, 4], 0)
    whole = length > 0
    for offset in (1, 2, 3):
        following = raw[np.minimum(high + offset, size - 1)]
        low, top = _continuation_range(lead, offset)
        whole &= (length <= offset) | ((high + offset < size) & (following >= low) & (following <= top))
    covered = np.zeros(len(high), dtype=bool)
    for offset in range(4):
        starts = high[whole & (length > offset)] + offset
        covered |= np.isin(high, starts)
    return high[~covered]


def _continuation_range(lead: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """The allowed values of the byte ``offset`` places after each ``lead`` (RFC 3629's table)."""
    low = np.full(len(lead), 0x80, dtype=np.int64)
    top = np.full(len(lead), 0xBF, dtype=np.int64)
    if offset == 1:
        low[lead == 0xE0], top[lead == 0xED], low[lead == 0xF0], top[lead == 0xF4] = 0xA0, 0x9F, 0x90, 0x8F
    return low, top


def unicode_line_ends(decoded: Decoded) -> tuple[Decoded, str]:
    """The text with NEL, U+2028 or U+2029 read as line breaks when it has no CR or LF (else as it is),
    and a note saying so (empty when nothing changed)."""
    buffer = decoded.buffer
    if buffer.has(b"\n") or buffer.has(b"\r"):
        return decoded, ""
    for character, name in _UNICODE_LINE_ENDS:
        encoded = character.encode("utf-8")
        if buffer.has(encoded):
            text = buffer.text(0, len(buffer)).replace(encoded, b"\n")
            return Decoded(Buffer(text), decoded.encoding, decoded.evidence, checked=decoded.checked), \
                f"its lines end with {name}, not CR or LF: read as line breaks"
    return decoded, ""
