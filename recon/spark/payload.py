"""Frames as bytes between Spark's stages: an Arrow IPC stream (lz4) that keeps pandas' dtypes.

Every stage of the Spark engine exchanges rows of one fixed shape, ``ENVELOPE``: what the row is
(``tag``), where it goes (``bucket``: a range of clients or of invoice numbers), where it comes from
(``position``: the file's place in the data directory, then its chunk), the source kind, and a frame as
``payload``. Spark moves and groups the rows; only ``recon``'s own functions read the frames. So no
Spark schema repeats the canonical or the key columns: a column the engine adds travels unchanged.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

ENVELOPE = "tag string, bucket int, position long, kind string, payload binary"
ENVELOPE_COLUMNS = ("tag", "bucket", "position", "kind", "payload")
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass(frozen=True)
class Parcel:
    """One envelope row: a frame (or a small Python value) with where it comes from and goes."""

    tag: str
    payload: bytes
    bucket: int = 0
    position: int = 0
    kind: str = ""


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` (index dropped) as Arrow IPC bytes; ``frame_of`` gives it back with the same dtypes."""
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_WRITE_OPTIONS) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def frame_of(payload: bytes) -> pd.DataFrame:
    """The frame ``frame_bytes`` wrote."""
    table = pa.ipc.open_stream(payload).read_all()
    # A table of no rows has no chunks; pandas' joins on such text columns fail: give it one empty chunk.
    return (table.combine_chunks() if not table.num_rows else table).to_pandas()


def value_bytes(value: Any) -> bytes:
    """A small Python value (an import record, a report, a count) as bytes: between our own stages only."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def value_of(payload: bytes) -> Any:
    return pickle.loads(payload)


def envelope(parcels: Iterable[Parcel]) -> pd.DataFrame:
    """Parcels as a frame of ``ENVELOPE`` rows (what a pandas function returns to Spark)."""
    rows = [(parcel.tag, parcel.bucket, parcel.position, parcel.kind, parcel.payload) for parcel in parcels]
    return pd.DataFrame(rows, columns=list(ENVELOPE_COLUMNS)).astype({"bucket": "int32", "position": "int64"})


def frames_in_order(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """The frames of envelope ``rows``, in ``position`` order (file order, then chunk)."""
    ordered = rows.sort_values("position", kind="stable")
    return [frame_of(payload) for payload in ordered["payload"]]


def concat_in_order(rows: pd.DataFrame, empty: pd.DataFrame) -> pd.DataFrame:
    """The frames of ``rows`` one after the other in ``position`` order; ``empty`` when there are none."""
    frames = frames_in_order(rows)
    if not frames:
        return empty
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
