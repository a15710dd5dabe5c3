"""Text cells as Arrow arrays: the vectorised string operations loading needs, with Python's meaning.

Loading a million-row file is a handful of passes over each text column, so each pass has to run in
Arrow's C++ kernels rather than as a Python call per cell. pandas hands a regular expression to Arrow's
RE2 engine only when RE2 would match like Python's ``re``; ``\\s`` is one of the exceptions (RE2's
misses ``"\\x0b"`` and every non-ASCII space), so pandas falls back to Python for it. ``WHITESPACE``
spells out Python's whitespace as an explicit RE2 character class instead: the same meaning, at Arrow's
speed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Exactly the characters ``str.isspace`` (and so Python's ``\\s``) accepts, as an RE2 character class;
# tests/recon/test_cells.py checks it against every code point.
WHITESPACE = (r"[\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
              r"\x{205f}\x{3000}]")


TEXT = pa.large_string()  # what pandas' ``string`` dtype holds


def arrow_text(cells: pd.Series) -> pa.ChunkedArray:
    """The cells as an Arrow ``large_string`` array (no copy when they already are one; ``<NA>`` is
    null)."""
    strings = cells if isinstance(cells.dtype, pd.StringDtype) and cells.dtype.storage == "pyarrow" \
        else cells.astype(pd.StringDtype("pyarrow"))
    array = pa.array(strings.array)
    chunked = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
    return chunked if chunked.type == TEXT else chunked.cast(TEXT)


def text_series(array: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """An Arrow string array back as a pandas ``string`` series on ``index``."""
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([array]) if isinstance(array, pa.Array)
                                                 else array), index=index)


def constant_text(value: str, index: pd.Index) -> pd.Series:
    """A ``string`` series holding ``value`` on every row of ``index`` (built by Arrow at once)."""
    return text_series(pa.repeat(pa.scalar(value, TEXT), len(index)), index)


def untidy_cells(text: pa.ChunkedArray) -> np.ndarray:
    """Per cell, whether stripping or collapsing whitespace might change it: it holds a byte that is
    not printable ASCII, two spaces in a row, or a space at either end. ``False`` is certain (``True``
    may be a false alarm). Computed with numpy on the raw bytes, so the usual tidy column costs a few
    byte passes instead of a string kernel that rebuilds every cell."""
    if not text.num_chunks:
        return np.zeros(0, dtype=bool)
    return np.concatenate([_untidy_in_chunk(chunk) for chunk in text.chunks])


def _untidy_in_chunk(chunk: pa.Array) -> np.ndarray:
    offsets, data = _raw_strings(chunk)
    body = data[offsets[0]:offsets[-1]]
    if not len(body) or (body.min() > 0x20 and body.max() < 0x7F):
        return np.zeros(len(offsets) - 1, dtype=bool)  # no space, control or non-ASCII byte: all tidy
    odd, has_space = _odd_bytes(data, int(offsets[0]), int(offsets[-1]))
    untidy = np.zeros(len(offsets) - 1, dtype=bool)
    if has_space:  # (codes, numbers and dates usually have none: then no cell starts or ends with one)
        starts, ends = offsets[:-1], offsets[1:]
        last_byte = len(data) - 1
        untidy = (ends > starts) & ((data[np.minimum(starts, last_byte)] == 0x20)
                                    | (data[np.maximum(ends - 1, 0)] == 0x20))
    if len(odd):
        untidy[np.searchsorted(offsets, odd, side="right") - 1] = True
    return untidy


_SCAN_WINDOW = 1 << 18


def _odd_bytes(data: np.ndarray, start: int, end: int) -> tuple[np.ndarray, bool]:
    """(positions in ``data[start:end]`` of a byte that is not printable ASCII or of a second space in
    a row, whether there is a space at all). Scanned in windows of 256 KB: the passes' temporaries stay
    in cache and are reused, where whole-column ones (three times a column's bytes) would be fresh
    pages to fault in every time."""
    found = []
    has_space = False
    for low in range(start, end, _SCAN_WINDOW):
        window = data[low:min(low + _SCAN_WINDOW, end)]
        shifted = window - np.uint8(0x20)  # printable ASCII -> 0..0x5e, space -> 0 (DEL 0x7f is not printable)
        odd = shifted >= 0x5F
        spaces = shifted == 0
        odd[1:] |= spaces[1:] & spaces[:-1]
        odd[0] |= bool(low > start and spaces[0] and data[low - 1] == 0x20)
        has_space = has_space or bool(spaces.any())
        if odd.any():
            found.append(np.flatnonzero(odd) + low)
    return (np.concatenate(found) if found else np.empty(0, dtype=np.int64)), has_space


def _raw_strings(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array chunk: cell ``i`` is ``bytes[offsets[i]:offsets[i + 1]]``."""
    offsets_buffer, data_buffer = chunk.buffers()[1:3]
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    # All cells empty: one zero byte keeps the first/last byte lookups of empty cells in range.
    data = data if len(data) else np.zeros(1, np.uint8)
    return offsets.astype(np.int64, copy=False), data


def tidy_with(text: pa.ChunkedArray, clean: Callable[[pa.Array], pa.Array],
              untidy: np.ndarray | None = None) -> pa.ChunkedArray:
    """``clean(text)`` for a whitespace cleaner (strip, collapse) that leaves tidy cells as they are:
    ``clean`` runs on the untidy cells only (``untidy_cells``, or ``untidy`` when the caller has it),
    usually none."""
    untidy = untidy_cells(text) if untidy is None else untidy
    if not untidy.any():
        return text
    mask = pa.array(untidy)
    suspects = pc.filter(text, mask)
    cleaned = clean(suspects)
    if pc.all(pc.equal(cleaned, suspects)).as_py() is not False:  # false alarms only (say, accented names)
        return text
    cleaned = cleaned.combine_chunks() if isinstance(cleaned, pa.ChunkedArray) else cleaned
    return pa.chunked_array([pc.replace_with_mask(text.combine_chunks(), mask, cleaned)])


# Control characters that are not whitespace (tab, line breaks and the separators 0x1c-0x1f are: tidying
# turns them into spaces), DEL among them: a value holding one is binary data or terminal escapes, not text.
# The C1 controls U+0080-U+009F too (NEL, U+0085, among them: in a file with CR or LF line ends it is not a
# line break): a value holding one is almost always text decoded with the wrong encoding (Windows-1252's
# euro sign, 0x80, read as Latin-1), or an 8-bit terminal escape (U+009B). (The same class in Python's
# ``re`` and Arrow's RE2, which read ``\x80`` as the code point.)
CONTROL = r"[\x00-\x08\x0e-\x1b\x7f\x80-\x9f]"
C1_CONTROLS = frozenset(range(0x80, 0xA0))
# Whitespace to Python that is a control character too: vertical tab, form feed and the file, group,
# record and unit separators. Read as a space like any whitespace (some systems write a vertical tab for
# a line break inside a value), but loading says where (issue 24: no change without a word).
ODD_SPACE = r"[\x0b\x0c\x1c-\x1f]"
ODD_SPACE_BYTES = frozenset({0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F})
CONTROL_BYTES = frozenset(range(0x09)) | frozenset(range(0x0E, 0x1C)) | {0x7F} | C1_CONTROLS


def describe_control(code: int) -> str:
    """A control character for a message: ``a control character (0x1b)``; a C1 one by its code point
    and what it usually means (``U+0080, a C1 control character (...)``)."""
    if code in C1_CONTROLS:
        return (f"U+{code:04X}, a C1 control character (a sign of the wrong encoding: a Windows-1252 or UTF-8 "
                "file read as Latin-1?)")
    return f"a control character (0x{code:02x})"


def control_characters(text: pa.ChunkedArray, untidy: np.ndarray | None = None) -> np.ndarray:
    """Per cell, whether it holds a control character (``CONTROL``). Only cells ``untidy_cells`` flags
    (a byte that is not printable ASCII; ``untidy`` when the caller has it) are searched: for the usual
    column, none."""
    return _matching(text, CONTROL, untidy)


def odd_spaces(text: pa.ChunkedArray, untidy: np.ndarray | None = None) -> np.ndarray:
    """Per cell, whether it holds a vertical tab, form feed or separator character (``ODD_SPACE``);
    searched like ``control_characters``."""
    return _matching(text, ODD_SPACE, untidy)


def _matching(text: pa.ChunkedArray, pattern: str, untidy: np.ndarray | None) -> np.ndarray:
    suspects = untidy_cells(text) if untidy is None else untidy
    if not suspects.any():
        return suspects
    rows = np.flatnonzero(suspects)
    found = np.zeros(len(text), dtype=bool)
    found[rows] = as_numpy_bool(pc.match_substring_regex(pc.take(text, pa.array(rows)), pattern))
    return found


def holds_byte(text: pa.ChunkedArray, value: int) -> bool:
    """Whether any cell holds the byte ``value`` (one numpy pass over the cells' bytes, no string kernel)."""
    for chunk in text.chunks:
        offsets, data = _raw_strings(chunk)
        if len(offsets) > 1 and np.any(data[offsets[0]:offsets[-1]] == value):
            return True
    return False


def as_numpy_bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean array as numpy, null read as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def concat(parts: list[pa.ChunkedArray | str], separator: str = "") -> pa.ChunkedArray:
    """Element-wise concatenation of ``large_string`` arrays and constants (null where a part is null)."""
    values = [pa.scalar(part, TEXT) if isinstance(part, str) else part for part in parts]
    return pc.binary_join_element_wise(*values, pa.scalar(separator, TEXT))


def is_in(cells: pd.Series, values: pd.Series) -> np.ndarray:
    """``cells.isin(values)`` for text, in Arrow: pandas builds the lookup set one Python object per
    value, which for a million invoice numbers is most of a reconciliation's run time."""
    value_set = pc.unique(arrow_text(values))
    return as_numpy_bool(pc.is_in(arrow_text(cells), value_set=value_set.combine_chunks()
                                  if isinstance(value_set, pa.ChunkedArray) else value_set))


def map_distinct(cells: pd.Series, table: pd.Series | dict[str, object]) -> pd.Series:
    """``cells.map(table)``, looked up once per distinct cell."""
    return per_distinct(lambda distinct: distinct.map(table), cells)


def per_distinct(parse: Callable[[pd.Series], pd.Series], cells: pd.Series) -> pd.Series:
    """``parse(cells)`` computed once per distinct cell and spread back over the rows.

    Exact for any ``parse`` that reads each cell on its own (every cell parser does), and its cost
    follows the number of distinct values: a million invoice dates are a few hundred distinct days.
    """
    codes, distinct = distinct_cells(cells)
    if len(distinct) * 2 > len(cells):
        return parse(cells)
    return spread(parse(distinct), codes, cells.index)


def distinct_cells(cells: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code per row, the distinct cells in order of appearance): ``cells`` is ``distinct[codes]``
    (code -1 for a missing cell)."""
    if isinstance(cells.dtype, pd.StringDtype) and cells.dtype.storage == "pyarrow" and len(cells):
        # Arrow's dictionary encoding: the chunks share one dictionary, in order of first appearance
        encoded = pc.dictionary_encode(arrow_text(cells))
        indices = [chunk.indices if not chunk.null_count else pc.fill_null(chunk.indices, -1)
                   for chunk in encoded.chunks]  # (filling nulls copies: only where there are some)
        codes = np.concatenate([index.to_numpy() for index in indices]).astype(np.intp, copy=False)
        dictionary = encoded.chunk(0).dictionary
        return codes, text_series(dictionary, pd.RangeIndex(len(dictionary))).astype(cells.dtype)
    codes, distinct = pd.factorize(cells, use_na_sentinel=True)
    return codes, pd.Series(distinct, dtype=cells.dtype)


def as_labels(cells: pd.Series) -> pd.Series:
    """Text cells as a categorical over their distinct values (Arrow's dictionary encoding): a column
    that repeats a few thousand names over a million rows then holds each name once, and a subset of
    its rows copies codes, not strings."""
    if isinstance(cells.dtype, pd.CategoricalDtype):
        return cells
    codes, distinct = distinct_cells(cells)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(distinct)), index=cells.index,
                     name=cells.name)


def categoricals_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its categorical columns as ``string`` ones (the other columns not copied)."""
    categorical = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(categorical, "string")) if categorical else frame


def labels(values: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """``spread`` into a categorical: ``values`` (one per distinct cell; they may repeat or be missing)
    at ``codes`` (-1: missing), without a string per row."""
    value_codes, categories = pd.factorize(values, use_na_sentinel=True)
    row_codes = np.append(value_codes, -1)[codes]  # code -1 picks the appended missing value
    return pd.Series(pd.Categorical.from_codes(row_codes, categories=pd.Index(categories, dtype="string")),
                     index=index, name=values.name)


def spread(values: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Values per distinct cell back over the rows (missing where the code is -1)."""
    missing = bool(len(codes)) and int(codes.min()) < 0  # (taking with fill checks every code: only if needed)
    return pd.Series(values.array.take(codes, allow_fill=missing), index=index, name=values.name, copy=False)
