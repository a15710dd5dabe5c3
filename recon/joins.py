"""Joining frames on categorical codes: the plumbing under ``recon.keys``.

A key's columns are categoricals sharing one vocabulary across the frames joined (``recon.keys.coded``);
their codes combine into one int64 per row (``key_codes``), so grouping (``per_key``) and joining
(``outer_join``, ``left_lookup``, ``has_key``) a million keys compares small integers, not strings, and
a run's keys, spanning a narrow range of codes, are addressed directly instead of hashed or sorted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

from recon.cells import TEXT, arrow_text, text_series

ArrayLike: TypeAlias = ExtensionArray | np.ndarray


def dictionary_encoded(column: pd.Series) -> pa.DictionaryArray:
    """A text column dictionary-encoded (a categorical one as it is: its codes and categories)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.array.codes, dtype=np.int32)
        categories = arrow_text(pd.Series(column.cat.categories, dtype="string")).combine_chunks()
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), categories)
    return pc.dictionary_encode(arrow_text(column)).combine_chunks()


def recoded(encoded: pa.DictionaryArray, dtype: pd.CategoricalDtype, index: pd.Index) -> pd.Series:
    """A dictionary-encoded column as a categorical of ``dtype`` (its dictionary holds only categories)."""
    to_category = pc.index_in(encoded.dictionary, value_set=pa.array(dtype.categories, TEXT))
    to_category = np.append(np.asarray(pc.fill_null(to_category, -1), dtype=np.int64), -1)  # last: missing
    indices = np.asarray(pc.fill_null(encoded.indices, len(encoded.dictionary)), dtype=np.int64)
    codes = to_category[indices]
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=index)



def vocabulary(columns: list[pd.Series]) -> pd.CategoricalDtype:
    """Every value of ``columns`` once, in string order (so codes sort as the text does)."""
    values = pd.concat([column.drop_duplicates().astype("string") for column in columns], ignore_index=True)
    return pd.CategoricalDtype(pd.Index(sorted(values.dropna().unique()), dtype="string"))


def as_categorical(column: pd.Series, dtype: pd.CategoricalDtype) -> pd.Series:
    """``column.astype(dtype)``, with the codes looked up by Arrow's hash kernel."""
    if column.dtype == dtype:
        return column
    if isinstance(column.dtype, pd.CategoricalDtype):  # recode its categories, not its rows
        return pd.Series(recoded(dictionary_encoded(column), dtype, column.index).array, index=column.index,
                         name=column.name)
    codes = pc.index_in(arrow_text(column.astype("string")), value_set=pa.array(dtype.categories, TEXT))
    codes_array = np.asarray(pc.fill_null(codes, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return pd.Series(pd.Categorical.from_codes(codes_array, dtype=dtype), index=column.index, name=column.name)



def as_text(column: pd.Series) -> pd.Series:
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype("string")
    codes = np.asarray(column.array.codes)
    labels = pc.take(pa.array(column.cat.categories, TEXT), pa.array(codes, mask=codes < 0))
    return text_series(labels, column.index)



# ------------------------------------------------------------------------------------ joining on codes

def key_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One int64 per row combining the categorical codes of ``columns``: equal keys get equal codes, and
    codes sort like the keys' text (missing values last). The columns must share dtypes across the
    frames compared (see ``coded``)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        categorical = frame[column].array
        size = len(categorical.categories)
        codes = np.asarray(categorical.codes, dtype=np.int64)
        combined = combined * (size + 1) + np.where(codes < 0, size, codes)
    return combined


def key_columns(combined: np.ndarray, dtypes: dict[str, pd.CategoricalDtype]) -> dict[str, pd.Categorical]:
    """The inverse of ``key_codes``: the key columns (of these dtypes, in this order) of each code."""
    columns = {}
    for name, dtype in reversed(dtypes.items()):
        size = len(dtype.categories)
        combined, codes = np.divmod(combined, size + 1)
        columns[name] = pd.Categorical.from_codes(np.where(codes == size, -1, codes), dtype=dtype)
    return dict(reversed(columns.items()))


def per_key(frame: pd.DataFrame, on: list[str], **aggregations: tuple[str, str]) -> pd.DataFrame:
    """``frame.groupby(on, sort=False, observed=True).agg(**aggregations).reset_index()`` for coded key
    columns, grouped on their one combined code (about half the cost of grouping on several
    categoricals). Rows with a missing key are left out, as groupby leaves them out."""
    codes = key_codes(frame, on)
    complete = np.ones(len(frame), dtype=bool)
    for name in on:
        complete &= np.asarray(frame[name].array.codes) >= 0
    rows = frame if complete.all() else frame[complete]
    facts = rows.assign(_key=codes[complete]).groupby("_key", sort=False).agg(**aggregations)
    keys = key_columns(facts.index.to_numpy(), {name: frame[name].dtype for name in on})
    return pd.concat([pd.DataFrame(keys, copy=False), facts.reset_index(drop=True)], axis=1)


def outer_join(frames: list[pd.DataFrame], on: list[str]) -> pd.DataFrame:
    """The outer join on ``on`` of frames in each of which ``on`` is unique: one row per key found in
    any frame, in key order, with every frame's other columns (missing where it has no such key). Each
    column is aligned once, where a chain of merges would copy the growing result at every step."""
    frames = _with_common_dtypes(frames, on)
    union, position = distinct_codes(np.concatenate([key_codes(frame, on) for frame in frames]))
    columns: dict[str, ArrayLike | None] = dict(key_columns(union, {name: frames[0][name].dtype for name in on}))
    wanted: list[tuple[pd.Series, np.ndarray]] = []
    start = 0
    for frame in frames:
        indexer = np.full(len(union), -1, dtype=np.intp)
        indexer[position[start:start + len(frame)]] = np.arange(len(frame))
        start += len(frame)
        for name in frame.columns.difference(on, sort=False):
            if name in columns:
                raise ValueError(f"outer_join: column {name!r} is in more than one frame")
            columns[name] = None  # its place, in frame order; filled below
            wanted.append((frame[name], indexer))
    # two columns at a time: numpy's and Arrow's takes release the GIL
    with ThreadPoolExecutor(2) as pool:
        aligned = list(pool.map(lambda item: _aligned(*item), wanted))
    columns |= {column.name: values for (column, _), values in zip(wanted, aligned, strict=True)}
    return pd.DataFrame(columns, copy=False)


def left_lookup(frame: pd.DataFrame, table: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``table``'s other columns for each row of ``frame`` (``on`` unique in ``table``; missing where
    it has no such key): a left join that leaves ``frame`` where it is."""
    frame_keys, table_keys = _with_common_dtypes([frame[on], table[on]], on)
    return _lookup_codes(key_codes(frame_keys, on), key_codes(table_keys, on), table, on, frame.index)


def _lookup_codes(wanted: np.ndarray, table_codes: np.ndarray, table: pd.DataFrame, on: list[str],
                  index: pd.Index) -> pd.DataFrame:
    """``table``'s other columns at the row whose code is each ``wanted`` code (missing where none)."""
    indexer = code_rows(table_codes, wanted)
    aligned = {name: _aligned(table[name], indexer) for name in table.columns.difference(on, sort=False)}
    return pd.DataFrame(aligned, index=index, copy=False)


def has_key(frame: pd.DataFrame, table: pd.DataFrame, on: list[str]) -> np.ndarray:
    """For each row of ``frame``, whether ``table`` has a row with the same ``on`` values."""
    frame_keys, table_keys = _with_common_dtypes([frame[on], table[on]], on)
    return code_rows(key_codes(table_keys, on), key_codes(frame_keys, on)) >= 0


def distinct_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct codes in order, the position of each code among them), as
    ``np.unique(codes, return_inverse=True)`` gives. A run's key codes span a narrow range (a few
    months x its clients x its skus), which is addressed directly: no hashing and no sorting."""
    if _narrow(codes, codes):
        low = codes.min()
        present = np.zeros(codes.max() - low + 1, dtype=bool)
        present[codes - low] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present) + low, rank[codes - low]
    position, union = pd.factorize(codes, sort=True)
    return union, position


def code_rows(table_codes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each wanted code, the row of ``table_codes`` (unique; negative ones never match) holding it,
    -1 where none does: a direct-address table over a narrow range, else a sorted search."""
    rows = np.flatnonzero(table_codes >= 0)
    codes = table_codes[rows]
    indexer = np.full(len(wanted), -1, dtype=np.intp)
    if not len(codes) or not len(wanted):
        return indexer
    if _narrow(codes, wanted):
        low = min(codes.min(), wanted.min())
        table = np.full(max(codes.max(), wanted.max()) - low + 1, -1, dtype=np.intp)
        table[codes - low] = rows
        return table[wanted - low]
    order = np.argsort(codes, kind="stable")
    position = np.searchsorted(codes[order], wanted)
    found = position < len(codes)
    found[found] = codes[order][position[found]] == wanted[found]
    indexer[found] = rows[order[position[found]]]
    return indexer


def _narrow(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether the codes span few enough slots for a direct-address table (at most four per code)."""
    if not len(first) or not len(second):
        return False
    span = max(first.max(), second.max()) - min(first.min(), second.min()) + 1
    return bool(span <= 4 * (len(first) + len(second)))


def text_lookup(frame: pd.DataFrame, table: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``left_lookup`` for text key columns, ``frame`` the small side (a run's findings against its
    keys): both are coded over ``frame``'s own values, so the big side is hashed against a few thousand
    names instead of being factorized whole, and its rows holding any other value are out at once."""
    dtypes = {name: vocabulary([frame[name]]) for name in on}
    frame_keys = pd.DataFrame({name: as_categorical(frame[name], dtypes[name]) for name in on}, index=frame.index)
    table_keys = pd.DataFrame({name: as_categorical(table[name], dtypes[name]) for name in on}, index=table.index)
    table_codes = key_codes(table_keys, on)
    for name in on:  # a value that is not missing yet has no code is none of frame's: never matched
        outside = (np.asarray(table_keys[name].array.codes) < 0) & table[name].notna().to_numpy(bool)
        table_codes[outside] = -1
    return _lookup_codes(key_codes(frame_keys, on), table_codes, table, on, frame.index)


def _common_dtype(columns: list[pd.Series]) -> pd.CategoricalDtype:
    """The categorical dtype of the coded columns when it holds every value of the others (a labour
    ``LABOR`` sku, an empty frame), else one over all their values."""
    coded_dtypes = {column.dtype for column in columns if isinstance(column.dtype, pd.CategoricalDtype)}
    if len(coded_dtypes) == 1:
        dtype = coded_dtypes.pop()
        if all(column.dtype == dtype or _fits(column, dtype) for column in columns):
            return dtype
    return vocabulary(columns)


def _fits(column: pd.Series, dtype: pd.CategoricalDtype) -> bool:
    return bool(column.dropna().isin(dtype.categories).all())


def _aligned(column: pd.Series, indexer: np.ndarray) -> ArrayLike:
    """``column``'s values taken at ``indexer`` (-1 gives a missing value, promoting the dtype as a merge
    does)."""
    return pd.api.extensions.take(column.array, indexer, allow_fill=True)


def _with_common_dtypes(frames: list[pd.DataFrame], on: list[str]) -> list[pd.DataFrame]:
    """The frames with each ``on`` column in one categorical dtype (cast only where they differ)."""
    dtypes = {name: _common_dtype([frame[name] for frame in frames]) for name in on}
    return [frame.assign(**{name: as_categorical(frame[name], dtypes[name]) for name in on
                            if frame[name].dtype != dtypes[name]}) for frame in frames]

