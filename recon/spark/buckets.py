"""Ranges: which partition a client (or an invoice number) goes to.

Partitions are contiguous ranges in text order, not hashes: each partition's keys, findings and
receivables come out already in the run's order within it, so the outputs are written partition after
partition without a global sort (and without collecting them on the driver). A client is in exactly one
range, so every rule sees all of its rows (PRODUCT.md section 4: every rule reads one client's rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recon.cells import distinct_cells


@dataclass(frozen=True)
class Ranges:
    """``len(bounds) + 1`` ranges: range ``i`` holds the values from ``bounds[i - 1]`` (inclusive) to
    ``bounds[i]`` (exclusive), in Python's string order (the order ``recon`` sorts text in). A missing
    value goes to range 0."""

    bounds: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.bounds) + 1

    def of(self, values: pd.Series) -> np.ndarray:
        """The range of each value (int64), computed once per distinct value."""
        codes, distinct = distinct_cells(values)
        cuts = np.array(self.bounds, dtype=object)
        found = np.searchsorted(cuts, np.array([str(value) for value in distinct], dtype=object), side="right")
        return np.where(codes < 0, 0, np.append(found, 0)[codes]).astype(np.int64)


def even_ranges(values: list[str] | pd.Series, count: int) -> Ranges:
    """About ``count`` ranges holding about as many of ``values`` (distinct, any order) each."""
    ordered = sorted({str(value) for value in values if value is not None and not pd.isna(value)})
    count = max(1, min(count, len(ordered)))
    step = len(ordered) / count
    bounds = sorted({ordered[math.floor(step * number)] for number in range(1, count)})
    return Ranges(tuple(bounds))


def partitions_for(rows: int, rows_per_partition: int, parallelism: int) -> int:
    """How many partitions: enough that each holds about ``rows_per_partition`` input rows (the
    engine's cost per call is about a quarter second whatever the rows, so not fewer rows than that),
    and at least two per core so that a slow one does not leave the cluster idle."""
    return max(2 * parallelism, math.ceil(rows / max(rows_per_partition, 1)))
