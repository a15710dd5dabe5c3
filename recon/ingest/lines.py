"""Physical lines and records of delimited text, found on the bytes with numpy (no Python loop per line).

A *physical line* ends at a line break: ``\\n``, ``\\r\\n`` or a lone ``\\r`` (what CSV readers, Arrow's
among them, split on). A *record* is what a CSV reader makes one row of: a line, or several when a quoted
value holds line breaks. Loading accounts for every physical line of a file (header, rows used, rows
quarantined, blank lines), so this module says which lines each record spans and how many fields it has
before any parser allocates a row.

Quotes are read the way Arrow's reader (and Python's ``csv``) reads them: a ``"`` at the start of a field
opens a quoted value, ``""`` inside one is a quote, and the next single ``"`` closes it. When every quote
of a file sits where RFC 4180 puts it (at a field's start or end, or doubled inside a value), whether a
byte is inside quotes is the parity of the quotes before it, computed for all bytes at once. Otherwise (an
inch mark in an unquoted value, ``24" monitor``; text after a closing quote) the quotes are walked one by
one: a loop over the quote characters only, never over lines. ``tests/recon/ingest/test_lines.py``
checks both against Python's ``csv`` module and Arrow's reader.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from functools import cached_property

import numpy as np

QUOTE = 0x22
LF = 0x0A
CR = 0x0D
_WINDOW = 1 << 20


@dataclass(frozen=True)
class Buffer:
    """Text bytes from ``start`` on (``start`` skips a byte order mark without copying a mapped file)."""

    data: bytes | mmap.mmap
    start: int = 0

    @cached_property
    def raw(self) -> np.ndarray:
        """The bytes as a read-only numpy ``uint8`` array (no copy)."""
        return np.frombuffer(self.data, dtype=np.uint8)[self.start:]

    def __len__(self) -> int:
        return len(self.data) - self.start

    def has(self, needle: bytes) -> bool:
        """Whether the text holds ``needle`` (memchr: far quicker than a numpy pass)."""
        return self.data.find(needle, self.start) >= 0

    def find(self, needle: bytes, offset: int = 0) -> int:
        """Where ``needle`` first is at or after ``offset`` (-1: nowhere); offsets count from ``start``."""
        found = self.data.find(needle, self.start + offset)
        return found - self.start if found >= 0 else -1

    def text(self, begin: int, end: int) -> bytes:
        return bytes(self.data[self.start + begin:self.start + end])


def count_lines(buffer: Buffer) -> int:
    """Physical lines: line breaks, plus one for a last line without one. Counted in 1 MB windows (the
    comparison's temporary stays in cache): a few hundredths of a second for a 170 MB file."""
    raw = buffer.raw
    breaks = sum(int(np.count_nonzero(raw[start:start + _WINDOW] == LF)) for start in range(0, len(raw), _WINDOW))
    if buffer.has(b"\r"):
        breaks += len(_lone_cr(raw))
    return breaks + int(bool(len(raw)) and raw[-1] != LF and raw[-1] != CR)


def low_bytes(buffer: Buffer) -> frozenset[int]:
    """The control characters the text holds: the byte values below 0x20 (line breaks and tabs among
    them), DEL (0x7f) and the C1 controls U+0080-U+009F (UTF-8 ``C2 80`` to ``C2 9F``, by code point).
    One comparison per byte in 1 MB windows, a count of the few bytes below 0x20, and a memchr for DEL
    and for ``C2`` (a lead byte only: Latin-1's letters and signs, rare in most exports). Loading looks
    for control characters and odd whitespace in the cells only when the file holds such a character."""
    raw = buffer.raw
    seen = np.zeros(0x20, dtype=bool)
    for start in range(0, len(raw), _WINDOW):
        window = raw[start:start + _WINDOW]
        low = window[window < 0x20]
        if len(low):
            seen |= np.bincount(low, minlength=0x20).astype(bool)
    found = frozenset(np.flatnonzero(seen).tolist()) | ({0x7F} if buffer.has(b"\x7f") else set())
    return found | (_c1_controls(raw) if buffer.has(b"\xc2") else frozenset())


def _c1_controls(raw: np.ndarray) -> frozenset[int]:
    """The C1 control code points (0x80-0x9f) UTF-8 text holds: a ``C2`` byte followed by 0x80-0x9f
    (in 1 MB windows, as ``low_bytes``)."""
    found: set[int] = set()
    for start in range(0, len(raw) - 1, _WINDOW):
        leads = np.flatnonzero(raw[start:min(start + _WINDOW, len(raw) - 1)] == 0xC2) + start
        following = raw[leads + 1]
        found.update(np.unique(following[following < 0xA0]).tolist())
    return frozenset(found)


def _lone_cr(raw: np.ndarray) -> np.ndarray:
    """Positions of carriage returns not followed by a line feed (old Mac line ends)."""
    cr = np.flatnonzero(raw == CR)
    following = raw[np.minimum(cr + 1, len(raw) - 1)]
    return cr[(following != LF) | (cr + 1 >= len(raw))]


def line_breaks(buffer: Buffer) -> tuple[np.ndarray, np.ndarray]:
    """(position, length) of every line break, in order: ``\\r\\n`` is one break of 2 bytes at its CR."""
    raw = buffer.raw
    lf = np.flatnonzero(raw == LF)
    if not buffer.has(b"\r"):
        return lf, np.ones(len(lf), dtype=np.int64)
    lone = _lone_cr(raw)
    cr = np.flatnonzero(raw == CR)
    paired = np.setdiff1d(cr, lone, assume_unique=True)
    lf_alone = np.setdiff1d(lf, paired + 1, assume_unique=True)
    positions = np.concatenate([paired, lone, lf_alone])
    lengths = np.concatenate([np.full(len(paired), 2), np.ones(len(lone) + len(lf_alone), dtype=np.int64)])
    order = np.argsort(positions, kind="stable")
    return positions[order], lengths[order]


@dataclass(frozen=True)
class Quoting:
    """Where the quoted values are. ``toggles`` are the positions of the quotes that open or close a
    quoted value (sorted): a byte is inside quotes when an odd number of toggles come before it.
    ``misplaced`` are closing quotes followed by more text (``"2"x``, which readers take as ``2x``);
    ``unclosed`` is the position of a quote that opens a value no quote closes (-1: none)."""

    toggles: np.ndarray
    misplaced: np.ndarray
    unclosed: int

    def inside(self, positions: np.ndarray) -> np.ndarray:
        """Per position, whether it is inside a quoted value."""
        if not len(self.toggles):
            return np.zeros(len(positions), dtype=bool)
        return np.searchsorted(self.toggles, positions, side="left") % 2 == 1


_NONE = np.empty(0, dtype=np.int64)
NO_QUOTES = Quoting(_NONE, _NONE, -1)


def quoting(buffer: Buffer, delimiter: int) -> Quoting:
    """The quoted values of the text (see ``Quoting``)."""
    if not buffer.has(b'"'):
        return NO_QUOTES
    raw = buffer.raw
    quotes = np.flatnonzero(raw == QUOTE)
    openings = _conformant_openings(raw, quotes, delimiter)
    if openings is None:
        return _walk(raw, quotes, delimiter)
    unclosed = int(quotes[openings[-1]]) if len(quotes) % 2 and len(openings) else -1
    return Quoting(quotes, _NONE, unclosed)


def _conformant_openings(raw: np.ndarray, quotes: np.ndarray, delimiter: int) -> np.ndarray | None:
    """When every quote is where RFC 4180 puts it, the ranks of the quotes that open a value; else
    ``None``. Taken in order, a quote of even rank opens a value (at a field's start) or is the second of
    a doubled quote; one of odd rank closes it (at a field's end) or is the first of a doubled quote."""
    size = len(raw)
    even = np.arange(len(quotes)) % 2 == 0
    previous = raw[np.maximum(quotes - 1, 0)]
    at_start = (quotes == 0) | (previous == delimiter) | (previous == LF) | (previous == CR)
    after_quote = np.zeros(len(quotes), dtype=bool)
    after_quote[1:] = quotes[1:] == quotes[:-1] + 1
    following = raw[np.minimum(quotes + 1, size - 1)]
    at_end = (quotes == size - 1) | (following == delimiter) | (following == LF) | (following == CR)
    before_quote = np.zeros(len(quotes), dtype=bool)
    before_quote[:-1] = after_quote[1:]
    if not np.all(np.where(even, at_start | after_quote, at_end | before_quote)):
        return None
    return np.flatnonzero(even & ~after_quote)


def _walk(raw: np.ndarray, quotes: np.ndarray, delimiter: int) -> Quoting:
    """Quotes read one by one as Arrow's reader reads them: a quote opens a value only at a field's
    start, ``""`` inside a value is a quote, any other quote closes it (a loop over quotes, not lines)."""
    size = len(raw)
    field_starts = {delimiter, LF, CR}
    positions = quotes.tolist()
    toggles: list[int] = []
    misplaced: list[int] = []
    inside = False
    number = 0
    while number < len(positions):
        position = positions[number]
        if not inside:
            if position == 0 or int(raw[position - 1]) in field_starts:
                inside = True
                toggles.append(position)
            number += 1
        elif number + 1 < len(positions) and positions[number + 1] == position + 1:
            number += 2  # "" inside a quoted value: one quote
        else:
            inside = False
            toggles.append(position)
            if position + 1 < size and int(raw[position + 1]) not in field_starts:
                misplaced.append(position)
            number += 1
    return Quoting(np.array(toggles, dtype=np.int64), np.array(misplaced, dtype=np.int64),
                   toggles[-1] if inside else -1)


@dataclass(frozen=True)
class Records:
    """The records of a text, in order. A record's text is ``raw[starts[i]:ends[i]]`` (``ends`` is where
    its line break starts) and the next record starts at ``next_starts[i]``. ``first_lines`` count from
    1; ``spans`` are the physical lines of each record; ``fields`` its delimiters outside quotes, plus
    one. ``lines`` is the text's physical line count."""

    starts: np.ndarray
    ends: np.ndarray
    next_starts: np.ndarray
    first_lines: np.ndarray
    spans: np.ndarray
    fields: np.ndarray
    lines: int
    quoting: Quoting

    def __len__(self) -> int:
        return len(self.starts)

    def containing(self, positions: np.ndarray) -> np.ndarray:
        """The record each byte position belongs to."""
        return np.searchsorted(self.next_starts, positions, side="right")


def records(buffer: Buffer, delimiter: int, quotes: Quoting | None = None) -> Records:
    """Split the text into records (a quote left open runs to the end of the text)."""
    raw = buffer.raw
    quotes = quoting(buffer, delimiter) if quotes is None else quotes
    breaks, lengths = line_breaks(buffer)
    lines = len(breaks) + int(bool(len(raw)) and (not len(breaks) or breaks[-1] + lengths[-1] < len(raw)))
    outside = ~quotes.inside(breaks)
    ends, next_starts = breaks[outside], breaks[outside] + lengths[outside]
    if len(raw) and (not len(ends) or next_starts[-1] < len(raw)):  # a last record without a line break
        ends, next_starts = np.append(ends, len(raw)), np.append(next_starts, len(raw))
    starts = np.concatenate(([0], next_starts[:-1])).astype(np.int64) if len(ends) else _NONE
    before = np.searchsorted(breaks, starts, side="left")
    through = np.searchsorted(breaks, ends, side="left")
    fields = _fields(raw, delimiter, quotes, next_starts)
    return Records(starts, ends.astype(np.int64), next_starts.astype(np.int64), (before + 1).astype(np.int64),
                   (through - before + 1).astype(np.int64), fields, lines, quotes)


def _fields(raw: np.ndarray, delimiter: int, quotes: Quoting, next_starts: np.ndarray) -> np.ndarray:
    """Fields per record: delimiters outside quotes, plus one."""
    delimiters = np.flatnonzero(raw == delimiter)
    delimiters = delimiters[~quotes.inside(delimiters)]
    counts = np.bincount(np.searchsorted(next_starts, delimiters, side="right"), minlength=len(next_starts))
    return counts[:len(next_starts)].astype(np.int64) + 1


def quoted_delimiters_per_line(buffer: Buffer, delimiter: int, quotes: Quoting) -> np.ndarray:
    """Per physical line (line 1 first), the delimiters on it that belong to a quoted value begun on an
    earlier line (the stretch from the line's start to the quote closing that value, or to its end): a
    line that a quoted value holds whole, with a row's worth of delimiters, is a row of its own that a
    stray quote swallowed."""
    breaks, lengths = line_breaks(buffer)
    starts = np.concatenate(([0], breaks + lengths)).astype(np.int64)
    ends = np.append(breaks, len(buffer.raw)).astype(np.int64)
    counts = np.zeros(len(starts), dtype=np.int64)
    continued = np.flatnonzero(quotes.inside(starts) & (starts < ends))
    if not len(continued):
        return counts
    delimiters = np.flatnonzero(buffer.raw == delimiter)
    closing = quotes.toggles[np.minimum(np.searchsorted(quotes.toggles, starts[continued]), len(quotes.toggles) - 1)]
    stop = np.where(closing >= starts[continued], np.minimum(closing, ends[continued]), ends[continued])
    counts[continued] = np.searchsorted(delimiters, stop) - np.searchsorted(delimiters, starts[continued])
    return counts
