"""Rows in and out of the database as frames, shared by the store's modules: money stays Int64 units."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd


def frame_of(rows: Sequence[Any], columns: Sequence[str], dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """Result rows as a frame, column by column: money columns go straight to ``Int64`` (letting pandas
    infer would turn a column of ints with a None into float64 and lose digits past 2**53)."""
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    chosen = dtypes or {}
    return pd.DataFrame({name: pd.Series(list(column), dtype=chosen.get(name, "object"))
                         for name, column in zip(columns, values, strict=True)})


def timestamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")


def text_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    return frame.astype(dict.fromkeys(columns, "string"))

