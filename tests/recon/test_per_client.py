"""Every rule reads one client's rows only (PRODUCT.md section 4), and what is global is said so.

The Spark engine (``recon.spark``) runs the local engine's own functions on parts of a run: identity
row by row, ranges of whole clients through ``engine.reconcile_clients``, ranges of invoice numbers
through ``receivables``, and puts the parts together. These tests check, without Spark, that any split
gives the whole's answers; a change that makes a rule read across clients fails here first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recon import engine, metrics, receivables, rules
from recon.exports.formatting import export_frame
from recon.ingest.directory import load_directory
from recon.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class Run:
    """The sample MSP resolved and reconciled whole, once per module."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.sources = engine._with_all_kinds(load_directory(ROOT / "sample_data"))
        self.resolved = engine.resolve(self.sources, self.settings)
        self.periods = engine.available_periods(self.resolved)
        self.keys, self.found = engine.reconcile_clients(self.resolved, self.periods, self.settings)
        self.clients = sorted(self.keys["client"].dropna().unique())

    def part(self, clients: set[str]) -> engine.Resolved:
        """The rows of ``clients`` (in their order in the whole), the shared kinds whole."""
        frames = {kind: frame[frame["client"].isin(clients).fillna(False).to_numpy(bool)].reset_index(drop=True)
                  for kind, frame in self.resolved.frames.items() if kind in engine.CLIENT_KINDS}
        frames |= {kind: self.resolved.frames[kind] for kind in engine.SHARED_KINDS}
        return engine.Resolved(frames, self.resolved.unmapped, self.resolved.client_matches)


@pytest.fixture(scope="module")
def run() -> Run:
    return Run()


def as_csv(frame: pd.DataFrame) -> str:
    return export_frame(frame.reset_index(drop=True)).to_csv(index=False)


def split(clients: list[str], seed: int, parts: int) -> list[set[str]]:
    chosen = np.random.default_rng(seed).integers(0, parts, len(clients))
    return [{client for client, part in zip(clients, chosen, strict=True) if part == number}
            for number in range(parts)]


@given(seed=st.integers(0, 2**32 - 1), parts=st.integers(2, 5))
@hypothesis_settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_split_of_the_clients_gives_the_whole_runs_keys_findings_and_figures(run: Run, seed: int,
                                                                                 parts: int) -> None:
    results = [engine.reconcile_clients(run.part(group), run.periods, run.settings)
               for group in split(run.clients, seed, parts) if group]
    keys = pd.concat([keys for keys, _ in results], ignore_index=True).sort_values(
        ["period", "client", "sku"], kind="stable")
    found = rules.in_order(pd.concat([found for _, found in results], ignore_index=True))
    assert as_csv(keys) == as_csv(run.keys)
    assert as_csv(found) == as_csv(run.found)
    whole = metrics.KeyFigures.of(run.keys, run.found)
    combined = metrics.KeyFigures.combine([metrics.KeyFigures.of(*result) for result in results])
    book = metrics.BookFigures(dict.fromkeys(receivables.AGING_BUCKETS, 0), 0, 0)
    summary = {name: metrics.summarise_parts(figures, run.found, 10, 9, book, None, 365).to_dict()
               for name, figures in (("whole", whole), ("combined", combined))}
    assert summary["combined"] == summary["whole"]


def test_resolving_rows_in_pieces_gives_the_whole_resolution(run: Run) -> None:
    found = engine.identify({kind: pd.Series(pd.unique(run.sources[kind]["client"].dropna()), dtype="string")
                             for kind in (*engine.PSA_SOURCES, "usage")},
                            pd.concat([run.sources["contracts"]["sku"], run.sources["invoices"]["sku"]]),
                            run.sources["client_aliases"], run.sources["catalog"], run.settings)
    assert found.client_matches.equals(run.resolved.client_matches)
    for kind in engine.CLIENT_KINDS:
        rows = run.sources[kind]
        pieces = [engine.resolve_rows({kind: rows.iloc[start:start + 97].reset_index(drop=True)}, found)
                  for start in range(0, len(rows), 97)]
        whole = pd.concat([piece.frames[kind] for piece in pieces], ignore_index=True)
        assert as_csv(whole[list(run.resolved.frames[kind].columns)]) == as_csv(run.resolved.frames[kind])
    unmapped = pd.concat([engine.resolve_rows({"usage": run.sources["usage"].iloc[start:start + 97]}, found).unmapped
                          for start in range(0, len(run.sources["usage"]), 97)], ignore_index=True)
    assert as_csv(unmapped) == as_csv(run.resolved.unmapped)


def test_the_runs_months_are_the_union_of_its_pieces_months(run: Run) -> None:
    frames = run.resolved.frames
    pieces = [engine.period_evidence({kind: frames[kind].iloc[start:start + 50]})
              for kind in ("invoices", "usage") for start in range(0, len(frames[kind]), 50)]
    assert engine.periods_in(pieces) == run.periods


def test_receivables_by_ranges_of_invoice_numbers_are_the_whole_book(run: Run) -> None:
    invoices, payments = run.resolved.frames["invoices"], run.sources["payments"]
    as_of = engine.run_as_of(run.settings, run.periods)
    whole = receivables.receivables(invoices, payments, run.settings, as_of)
    numbers = sorted(invoices["invoice_number"].unique())
    cuts = [numbers[len(numbers) // 3], numbers[2 * len(numbers) // 3]]
    ranges = [lambda values, low=low, high=high: (values >= low) & (values < high)
              for low, high in zip(["", *cuts], [*cuts, "\uffff"], strict=True)]
    books, parts = [], []
    for in_range in ranges:
        part_invoices = invoices[in_range(invoices["invoice_number"]).to_numpy(bool)].reset_index(drop=True)
        part_payments = payments[in_range(payments["invoice_number"]).to_numpy(bool)].reset_index(drop=True)
        books.append(receivables.receivables(part_invoices, part_payments, run.settings, as_of))
        parts.append(metrics.BookFigures.of(books[-1], receivables.unapplied_payments(part_invoices, part_payments)))
    assert as_csv(pd.concat(books, ignore_index=True)) == as_csv(whole)
    assert metrics.BookFigures.combine(parts) == metrics.BookFigures.of(
        whole, receivables.unapplied_payments(invoices, payments))


def test_labour_hours_are_summed_exactly_whatever_the_split() -> None:
    keys = pd.DataFrame({
        "period": ["2026-01"] * 3, "client": ["A", "B", "C"], "sku": ["LABOR"] * 3,
        "expected_amount": pd.array([0, 0, 0], dtype="Int64"), "billed_amount": pd.array([100, 0, 0], dtype="Int64"),
        "duplicate_amount": pd.array([0, 0, 0], dtype="Int64"),
        "vendor_cost_amount": pd.array([None] * 3, dtype="Int64"),
        **{name: [0.1, 0.2, 0.3] for name in metrics.HOUR_FIGURES}})
    whole = metrics.labour_figures(keys)
    assert whole["hours_worked"] == 0.6  # 0.1 + 0.2 + 0.3 is 0.6000000000000001 in floats
    parts = [metrics.key_sums(keys.iloc[[number]], ["period"]) for number in range(3)]
    combined = metrics._total(pd.concat(parts).groupby(level=0).sum())
    assert metrics.labour_of(combined.iloc[0]) == whole


def test_one_clients_keys_have_the_whole_runs_column_types() -> None:
    """A column's type must not depend on which clients share the frame (an int count turning float
    where some key lacks a value): the Spark engine writes ranges of clients one after another."""
    settings = Settings()
    sources = engine._with_all_kinds(load_directory(ROOT / "tests" / "fixtures" / "mini_msp"))
    resolved = engine.resolve(sources, settings)
    periods = engine.available_periods(resolved)
    whole, _ = engine.reconcile_clients(resolved, periods, settings)
    types = {name: str(dtype) for name, dtype in whole.dtypes.items()}
    for client in sorted(whole["client"].dropna().unique()):
        frames = {kind: frame[frame["client"].eq(client).fillna(False).to_numpy(bool)].reset_index(drop=True)
                  for kind, frame in resolved.frames.items() if kind in engine.CLIENT_KINDS}
        part = engine.Resolved(frames | {kind: resolved.frames[kind] for kind in engine.SHARED_KINDS},
                               resolved.unmapped, resolved.client_matches)
        keys, _ = engine.reconcile_clients(part, periods, settings)
        assert {name: str(dtype) for name, dtype in keys.dtypes.items()} == types, client


def test_stored_charges_decided_per_range_of_clients_are_the_whole_runs(run: Run) -> None:
    """The Spark engine decides which stored charges count per range of clients, on resolved rows
    (``recon.spark.stages``: ``stored_parcels``, ``with_stored_charges``), and for those that map to no client
    on the driver (``recon.spark.reconcile._drawn_on``); together they give the local engine's answer
    (``engine._with_history``, resolved): the same usage rows in the same order, the same imports drawn on.

    The history, in import order: an import of the run's own bytes (never drawn on); an older import holding
    every row of the run's files (each taken from the run's file: none counts), the month before of half the
    rows, some charges of a client nobody knows and some pairs; a newer one repeating a quarter of that month
    (taken from the newer only), the unknown client's charges (the older's then count for nothing) and charges
    of the run's files with their client spelt otherwise (the same client, other charges: they count); one of
    copies of the run's own unmapped rows only (not drawn on); one of unknown charges of its own only (not
    drawn on: they map to nothing, as another data set's charges)."""
    from recon.sources import ImportRecord, Sources
    from recon.spark import reconcile as on_spark
    from recon.spark import stages
    from recon.spark.buckets import even_ranges
    from recon.spark.payload import Parcel, concat_in_order, envelope, value_bytes

    usage = run.sources["usage"]
    month_before = usage.assign(period_start=usage["period_start"] - pd.DateOffset(months=1),
                                period_end=usage["period_end"] - pd.DateOffset(months=1))
    unknown = month_before.iloc[:6].assign(client="Nobody Known Ltd")
    # charges of the run's files with the client spelt otherwise: the same client, other charges (as written)
    respelt = usage.iloc[:4].assign(client=usage["client"].iloc[:4].str.lower())
    own_unmapped = usage[~engine.resolve_rows({"usage": usage}, engine.identify(
        {kind: run.sources[kind]["client"] for kind in (*engine.PSA_SOURCES, "usage")},
        pd.concat([run.sources["contracts"]["sku"], run.sources["invoices"]["sku"]]),
        run.sources["client_aliases"], run.sources["catalog"], run.settings)).usage_mapped]
    assert len(own_unmapped)
    pax8 = next(record for record in run.sources.imports if record.file == "usage_pax8.csv")
    imports = {"usage_pax8.csv (stored import 1)": (pax8.sha256, [month_before]),
               "older.csv (stored import 2)": ("a" * 64, [usage, month_before.iloc[::2], unknown,
                                                          month_before.iloc[1::7].assign(quantity=0.0, pair=True)]),
               "newer.csv (stored import 3)": ("b" * 64, [month_before.iloc[::4], unknown, respelt]),
               "copies.csv (stored import 4)": ("c" * 64, [own_unmapped]),
               "unknown.csv (stored import 5)": ("d" * 64, [unknown.assign(subscription_id="elsewhere")])}
    parts = [part.assign(source_file=file) for file, (_, frames) in imports.items() for part in frames]
    rows = pd.concat(parts, ignore_index=True).astype({"source_file": "string"})
    rows = rows.assign(**{engine.PAIR_COLUMN: rows.pop("pair").fillna(False).astype(bool)})
    records = tuple(ImportRecord("usage", file, sha, 0, 0, 0) for file, (sha, _) in imports.items())
    history = Sources({"usage": rows}, run.sources.issues.iloc[0:0], records)

    combined = engine._with_history(run.sources, history)
    whole = engine.resolve(combined, run.settings).frames["usage"]
    drawn_on = engine.drawn_imports(history.imports, engine.drawn_files(whole))
    assert [record.file for record in drawn_on] == ["older.csv (stored import 2)", "newer.csv (stored import 3)"]

    # as the Spark engine does: identity from the run's names, then the stored ones'; the stored charges of
    # the imports it may draw on resolved apart and split by range of clients
    candidates = engine.history_candidates(run.sources.imports, history.imports)
    stored = rows[rows["source_file"].isin(candidates).to_numpy()].assign(**{engine.HISTORY_COLUMN: True})
    names = {kind: run.sources[kind]["client"] for kind in (*engine.PSA_SOURCES, "usage")}
    names["usage"] = pd.concat([names["usage"], stored["client"]], ignore_index=True)
    found = engine.identify(names, pd.concat([run.sources["contracts"]["sku"], run.sources["invoices"]["sku"]]),
                            run.sources["client_aliases"], run.sources["catalog"], run.settings)
    clients = even_ranges(found.client_matches["client"].dropna(), 4)
    stage = stages.ResolveStage(found, clients, even_ranges([], 1))
    stored = stored.reset_index(drop=True)
    parcels = stages.piece_parcels(0, "usage", usage, stage)
    for number, start in enumerate(range(0, len(stored), 500)):  # in pieces, as the driver hands them over
        parcels += stages.stored_parcels(1 + number, stored.iloc[start:start + 500].reset_index(drop=True), stage)
    pieces = envelope(parcels)
    columns = ["source_file", "source_line", "client", "sku", "period_start", "quantity", engine.HISTORY_COLUMN]
    drawn, rows_in_ranges = [], 0
    for bucket in range(clients.count):
        here = pieces[(pieces["tag"] == "clients") & (pieces["bucket"] == bucket)]
        own = concat_in_order(here[here["kind"] == "usage"], whole.iloc[0:0])
        part, files = stages.with_stored_charges(own, concat_in_order(here[here["kind"] == stages.HISTORY_KIND],
                                                                      whole.iloc[0:0]), candidates)
        drawn.append(Parcel("drawn", value_bytes(files), bucket=bucket))
        expected = whole[whole["client"].isin(set(own["client"]) | set(part["client"])).to_numpy(bool)]
        assert as_csv(part[columns]) == as_csv(expected[columns]), bucket
        rows_in_ranges += len(part)
    assert rows_in_ranges == len(whole)
    assert 0 < whole[engine.HISTORY_COLUMN].sum() < len(stored)  # some stored charges count, not all
    assert on_spark._drawn_on(envelope(drawn), history.imports) == drawn_on
