"""The one money formatter: how a frame of the engine leaves the product as text (CSV, XLSX, JSON).

In: any frame of the engine, the store or a view (money in Int64 units of 1/10,000, quantities float64,
counts, dates, categoricals). Out: the same columns with money as exact decimal strings with the places
``recon.schema`` declares for each column (unit prices 4, amounts 2: ``"-1234.50"``), counts as integers
(a count with a missing cell is not written ``1.0``), dates as ISO text and categoricals as plain text.
Vectorised from the integer units (``recon.money.format_units``: integer arithmetic, no float, no Python
call per cell). Every CSV the dashboard offers, every file ``recon run`` writes and every audit-pack or
statement cell is formatted from here or from the same schema; nothing else decides which columns are
money.
"""

from __future__ import annotations

import pandas as pd

from recon.cells import categoricals_as_text
from recon.money import format_units, to_decimal
from recon.schema import COUNT, column_kind, money_columns


def export_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` ready to be written: money as exact decimal strings with the schema's places,
    counts as ``Int64``, dates as ISO text, categoricals as text (an export holds the values shown, not a
    categorical's whole vocabulary). Columns the schema does not know are left as they are."""
    out = categoricals_as_text(frame).copy()
    for column, places in money_columns(out.columns).items():
        out[column] = format_units(out[column].astype("Int64"), places)
    for column in out.columns:
        values = out[column]
        if column_kind(str(column)) == COUNT and pd.api.types.is_float_dtype(values):
            out[column] = values.round().astype("Int64")
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[column] = iso_text(values)
    return out


def iso_text(moments: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD``; moments with a time of day (a run's creation, an access-log entry) as
    ``YYYY-MM-DD HH:MM:SS`` (UTC when they carry a zone)."""
    if getattr(moments.dt, "tz", None) is not None:
        moments = moments.dt.tz_convert("UTC")
    timed = bool((moments.dropna() != moments.dropna().dt.normalize()).any())
    return moments.dt.strftime("%Y-%m-%d %H:%M:%S" if timed else "%Y-%m-%d")


def money_text(units: int | None, column: str = "amount") -> str:
    """One amount of ``column`` (an amount unless said otherwise) as the exact decimal text a CSV holds
    (``"-1234.50"``); ``""`` for none. For the CLI's and a summary's single figures."""
    if units is None or pd.isna(units):
        return ""
    kind = column_kind(column)
    return str(to_decimal(int(units), kind.places if kind is not None and kind.is_money else 2))


__all__ = ["export_frame", "iso_text", "money_text"]
