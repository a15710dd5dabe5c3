"""What the executors run: ``recon``'s own functions on parts of the data, wrapped for Spark.

* ``resolve_pieces`` (``mapInPandas`` over each file's pieces of rows): identity applied row by row
  (``recon.engine.resolve_rows``, with the tables the driver built from every file's names), then each
  piece split by client range and, for invoices and payments, by invoice-number range.
* ``reconcile_range`` (``groupBy(client range).applyInPandas``): the clients of one range, their rows in
  the local engine's order, with the stored charges of earlier imports that count for them
  (``with_stored_charges``: the local engine's ``recon.engine.counted_history``), through
  ``recon.engine.reconcile_clients`` (keys and findings) and ``recon.metrics.KeyFigures`` (the figures'
  additive parts).
* ``receivables_range`` (``groupBy(invoice range).applyInPandas``): ``recon.receivables`` on the invoices
  and payments of one range of invoice numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from recon import engine, metrics, receivables
from recon.exports import report
from recon.settings import Settings
from recon.spark.buckets import Ranges
from recon.spark.payload import Parcel, concat_in_order, envelope, frame_bytes, frame_of, value_bytes

RECEIVABLE_KINDS = ("invoices", "payments")
# The store's charge history (usage rows of earlier imports, ``recon.engine.HISTORY_COLUMN`` set): resolved as
# usage rows, but kept apart from the run's own until a range decides which of them count.
HISTORY_KIND = "history"
# What decides whether a stored charge counts (``recon.engine.counted_history``), as the files wrote it.
STORED_IDENTITY = (*engine.CHARGE_IDENTITY, "source_file", engine.PAIR_COLUMN)


@dataclass(frozen=True)
class ResolveStage:
    identity: engine.Identity
    clients: Ranges
    invoices: Ranges


def resolve_pieces(batches: Iterator[pd.DataFrame], stage: ResolveStage) -> Iterator[pd.DataFrame]:
    for batch in batches:
        for position, kind, payload in zip(batch["position"], batch["kind"], batch["payload"], strict=True):
            yield envelope(piece_parcels(int(position), str(kind), frame_of(payload), stage))


def piece_parcels(position: int, kind: str, rows: pd.DataFrame, stage: ResolveStage) -> list[Parcel]:
    """One piece of a file resolved: its unmapped usage rows, the evidence of its periods, its rows by
    client range (client-bearing kinds) and by invoice range (invoices, payments)."""
    if kind == HISTORY_KIND:
        return stored_parcels(position, rows, stage)
    parcels = []
    if kind in engine.CLIENT_KINDS:
        resolved = engine.resolve_rows({kind: rows}, stage.identity)
        rows = resolved.frames[kind]
        if len(resolved.unmapped):
            parcels.append(Parcel("unmapped", frame_bytes(resolved.unmapped), position=position, kind=kind))
        evidence = engine.period_evidence({kind: rows})
        parcels.append(Parcel("evidence", value_bytes(evidence), position=position, kind=kind))
        parcels.append(Parcel("mapped", value_bytes(len(rows)), position=position, kind=kind))
        parcels += _split(rows, stage.clients.of(rows["client"]), "clients", position, kind)
    if kind in RECEIVABLE_KINDS:
        parcels += _split(rows, stage.invoices.of(rows["invoice_number"]), "book", position, kind)
    return parcels


def stored_parcels(position: int, rows: pd.DataFrame, stage: ResolveStage) -> list[Parcel]:
    """A piece of the store's charge history resolved: its rows that map to a client and sku by client range
    (each range decides which count, ``with_stored_charges``). The others count for nothing, as in a local
    run, and were listed as unmapped when their own files were reconciled. Neither evidence of the run's
    months nor mapped rows: the run's own files alone give those."""
    usage = engine.resolve_rows({"usage": rows}, stage.identity).frames["usage"]
    return _split(usage, stage.clients.of(usage["client"]), "clients", position, HISTORY_KIND)


def with_stored_charges(own: pd.DataFrame, stored: pd.DataFrame, candidates: list[str]) -> tuple[pd.DataFrame,
                                                                                                   list[str]]:
    """``recon.engine._with_history`` for the clients of one range, on their resolved usage rows: the run's
    own (``own``) flagged, then those of the stored ones (``stored``, in the history's order) that count
    (``recon.engine.counted_history``, on the charges as their files wrote them); and the ``source_file`` of
    the stored charges that count. A charge is its client and sku as written, which resolve alike wherever
    they are, so a range holds every charge of a stored one's identity: its part of the whole's answer."""
    own = own.assign(**{engine.HISTORY_COLUMN: False})
    if not len(stored):
        return own, []
    counted = stored.take(engine.counted_history(_as_written(own), _as_written(stored), candidates))
    counted = counted.drop(columns=[engine.PAIR_COLUMN])
    usage = pd.concat([own, counted], ignore_index=True) if len(counted) else own
    return usage, engine.drawn_files(usage)


def _as_written(usage: pd.DataFrame) -> pd.DataFrame:
    """What decides whether a stored charge counts (``STORED_IDENTITY``) of resolved usage rows: the client
    and sku as the file wrote them (``client_raw``, ``sku_raw``)."""
    named = {"client": usage["client_raw"], "sku": usage["sku_raw"],
             "source_file": usage["source_file"].astype("string")}
    return pd.DataFrame({name: named[name] if name in named else usage[name]
                         for name in STORED_IDENTITY if name in named or name in usage})


def _split(rows: pd.DataFrame, ranges: np.ndarray, tag: str, position: int, kind: str) -> list[Parcel]:
    return [Parcel(tag, frame_bytes(rows[ranges == number]), bucket=int(number), position=position, kind=kind)
            for number in np.unique(ranges)]


@dataclass(frozen=True)
class ClientStage:
    periods: list[str]
    settings: Settings
    base: dict[str, bytes]  # per kind, the frame a range starts from: resolved with no rows; the catalog whole
    adjustments: pd.DataFrame | None = None  # agreement adjustments fixes wrote (``engine.reconcile``'s)
    # the stored imports the run may draw on (``engine.history_candidates``), else None (no stored charges)
    history: tuple[str, ...] | None = None


def reconcile_range(pieces: pd.DataFrame, stage: ClientStage) -> pd.DataFrame:
    """The clients of one range: keys (one parcel per period, so the writer can go period by period),
    findings, the figures' parts and the periods that saw an invoice line or a usage row; with stored
    charges, the files of those that count (``drawn``)."""
    bucket = int(pieces["bucket"].iloc[0])
    frames = {kind: concat_in_order(pieces[pieces["kind"] == kind], frame_of(base))
              for kind, base in stage.base.items()}
    drawn: list[Parcel] = []
    if stage.history is not None:
        stored = concat_in_order(pieces[pieces["kind"] == HISTORY_KIND], frame_of(stage.base["usage"]))
        frames["usage"], files = with_stored_charges(frames["usage"], stored, list(stage.history))
        drawn.append(Parcel("drawn", value_bytes(files), bucket=bucket))
    resolved = engine.Resolved(frames, pd.DataFrame(), pd.DataFrame())  # (unmapped rows and matches: the driver's)
    keys, found = engine.reconcile_clients(resolved, stage.periods, stage.settings, stage.adjustments)
    parcels = [Parcel("found", frame_bytes(found), bucket=bucket),
               Parcel("figures", value_bytes(metrics.KeyFigures.of(keys, found)), bucket=bucket),
               Parcel("billed", value_bytes(report.billed_periods(keys)), bucket=bucket), *drawn]
    by_period = keys.groupby("period", sort=False, observed=True).indices
    parcels += [Parcel("keys", frame_bytes(keys.iloc[by_period[period]]), bucket=bucket, position=number)
                for number, period in enumerate(stage.periods) if period in by_period]
    return envelope(parcels)


@dataclass(frozen=True)
class BookStage:
    settings: Settings
    as_of: date
    base: dict[str, bytes]  # invoices and payments with no rows


def receivables_range(pieces: pd.DataFrame, stage: BookStage) -> pd.DataFrame:
    """The invoices and payments of one range of invoice numbers: their receivables (in invoice-number
    order) and the receivables figures' parts (balances, aging, unapplied payments)."""
    bucket = int(pieces["bucket"].iloc[0])
    invoices, payments = (concat_in_order(pieces[pieces["kind"] == kind], frame_of(stage.base[kind]))
                          for kind in RECEIVABLE_KINDS)
    # A range may hold payments only (naming invoices nobody billed): no receivables, every payment unapplied.
    book = receivables.receivables(invoices, payments, stage.settings, stage.as_of) if len(invoices) else no_book()
    parts = metrics.BookFigures.of(book, receivables.unapplied_payments(invoices, payments))
    return envelope([Parcel("receivables", frame_bytes(book), bucket=bucket),
                     Parcel("book_figures", value_bytes(parts), bucket=bucket)])


def no_book() -> pd.DataFrame:
    """Receivables with no invoice: the columns, no rows."""
    return pd.DataFrame({name: pd.Series(dtype="object") for name in receivables.RECEIVABLE_COLUMNS})
