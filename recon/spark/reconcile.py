"""The driver of a Spark run: what is global is done here, on small tables; the rows stay in Spark.

Global, on the driver (each is small, and each is the local engine's own function):

* identity: the client directory and SKU lookup from every file's distinct names in file order
  (``recon.engine.identify``), fuzzy suggestions included; sent to the executors with the stage;
* the run's periods (``recon.engine.periods_in`` over each piece's distinct dates) and the as-of date;
* the store's charge history for those months, read by the driver as the local engine's caller reads it
  (``history``: ``Store.charge_history``) and handed to Spark as pieces of rows, resolved and split by
  client range like the run's own; which stored charges count is decided per range
  (``recon.spark.stages.with_stored_charges``), and for those that map to no client on the driver, from
  their identities alone;
* the ranges of clients and of invoice numbers the work is split by (``recon.spark.buckets``);
* the figures: the parts each range returns (``recon.metrics.KeyFigures`` and ``BookFigures``: sums,
  one row per client, labelled findings) combined into the run's ``Metrics``;
* the findings, unmapped and quarantined rows, import records (collected: they are the evidence).

Per client, so inside a range of clients (``recon.engine.reconcile_clients``): the keys' facts, duplicate
detection (a duplicate repeats a line of the same client), every rule, each client's account manager and
the labels of its findings. Per invoice number, so inside a range of invoice numbers: receivables and
the payments that name no invoice. ``tests/recon/test_per_client.py`` checks each split gives the whole.

Keys and receivables (one row per key and per invoice: millions) are never collected: they are written
range by range, one Spark partition at a time (``SparkRun.write_outputs``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from recon import engine, metrics, rules
from recon.cells import distinct_cells
from recon.engine import Mappings, Reconciliation
from recon.exports import report
from recon.ingest.directory import require_sources
from recon.ingest.reading import ReadOptions
from recon.schema import OPTIONAL_SOURCES, REQUIRED_SOURCES
from recon.settings import Settings
from recon.sources import ImportRecord, Sources, ValidationReport, combine, empty_source
from recon.spark import files as data_files
from recon.spark import stages
from recon.spark.buckets import Ranges, even_ranges, partitions_for
from recon.spark.payload import ENVELOPE, ENVELOPE_COLUMNS, concat_in_order, frame_bytes, frame_of, value_of
from recon.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROWS_PER_PARTITION = 250_000
# Frames kept between stages live on the executors' local disks, not in their heap: each holds the whole
# data set once (as lz4 Arrow payloads of up to CHUNK_ROWS rows), and two are kept at once while one is
# derived from the other. Held in memory, that filled a 2.3 GB executor heap at 10M invoice lines
# (bench/results.md) and the next large row copied out of the cache failed with "Java heap space".
STORAGE = "DISK_ONLY"
# The store's charge history for a run over some months, leaving out the imports of the given SHA-256 (the
# run's own files): ``Store.charge_history``.
HistoryReader = Callable[[Sequence[str], Sequence[str]], "Sources | None"]


@dataclass(frozen=True)
class _Piece:
    """A file's import as the driver sees it (``recon.sources.combine`` reads these)."""

    frame: pd.DataFrame
    issues: pd.DataFrame
    record: ImportRecord
    report: ValidationReport


@dataclass
class SparkRun:
    """A run on Spark. ``result`` is a ``Reconciliation`` like the local engine's, with findings,
    unmapped and quarantined rows, metrics and imports; its ``keys`` and ``receivables`` have no rows
    and ``resolved`` is empty (they stay in Spark: ``key_chunks`` and ``receivable_chunks`` stream them,
    ``write_outputs`` writes them). Its ``charges`` have no rows either: ``charge_chunks`` streams them, for
    the store (``Store.save_run(run.result, charges=run.charge_chunks())``). ``close`` frees what Spark
    keeps for the run."""

    result: Reconciliation
    billed_periods: frozenset[str]
    spark: SparkSession
    _ranges: DataFrame
    _book: DataFrame
    _files: DataFrame
    _kept: list[DataFrame] = field(default_factory=list)

    def key_chunks(self) -> Iterator[pd.DataFrame]:
        """The run's keys in key order (period, client, sku), one period of one client range at a time."""
        yield self.result.keys
        rows = self._ranges.filter("tag = 'keys'").select("position", "bucket", "payload")
        for row in rows.orderBy("position", "bucket").toLocalIterator(prefetchPartitions=False):
            yield frame_of(row["payload"])

    def receivable_chunks(self) -> Iterator[pd.DataFrame]:
        """The run's receivables in invoice-number order, one range of invoice numbers at a time."""
        yield self.result.receivables
        rows = self._book.filter("tag = 'receivables'").select("bucket", "payload")
        for row in rows.orderBy("bucket").toLocalIterator(prefetchPartitions=False):
            yield frame_of(row["payload"])

    def charge_chunks(self) -> Iterator[pd.DataFrame]:
        """The usage rows of the run's files as read, what a local run of the same files holds as
        ``Reconciliation.charges`` (the store's charge history), in file order, one piece of one file at a
        time (``recon.spark.files.CHUNK_ROWS`` rows at most): never all on the driver at once."""
        rows = self._files.filter("tag = 'rows' and kind = 'usage'").select("position", "payload")
        for row in rows.orderBy("position").toLocalIterator(prefetchPartitions=False):
            yield frame_of(row["payload"])

    def write_outputs(self, out_dir: Path, resolutions: pd.DataFrame | None = None,
                      file_format: str = "csv", keys: bool = False) -> list[Path]:
        """``recon.exports.report.write_outputs`` for this run (the same files, byte for byte)."""
        return report.write_outputs(self.result, out_dir, resolutions, file_format=file_format, keys=keys,
                                    chunks={"keys": self.key_chunks(), "receivables": self.receivable_chunks()})

    def summary_lines(self) -> list[str]:
        return report.summary_lines(self.result, self.billed_periods)

    def close(self) -> None:
        for frame in self._kept:
            frame.unpersist()


def reconcile_on_spark(data: str | Path, settings: Settings | None = None, periods: Sequence[str] | None = None,
                       mappings: Mappings | None = None, resolutions: pd.DataFrame | None = None,
                       adjustments: pd.DataFrame | None = None, *,
                       spark: SparkSession | None = None, master: str | None = None,
                       conf: Mapping[str, str] | None = None, options: ReadOptions = ReadOptions(),
                       rows_per_partition: int = ROWS_PER_PARTITION,
                       history: HistoryReader | None = None) -> SparkRun:
    """Reconcile the data directory ``data`` (a local path or any URI the Spark session reads) on Spark,
    as ``recon.reconcile(recon.load_directory(data), ...)`` does locally, with the same answers.

    ``spark``: a session to use (else one is started: ``master``, ``conf``, see
    ``recon.spark.session``). ``rows_per_partition``: input rows per client range (the unit of work of
    one task). ``adjustments``: the agreement adjustments fixes wrote, as ``recon.reconcile`` takes them.
    ``history``: where the store's charge history is read (``Store.charge_history``); called once, with the
    months a local run asks it for (``periods``, else the months of the files' rows: ``Store.history_for``)
    and the SHA-256 of the run's files; the run draws on it as ``recon.reconcile(..., history=...)`` does.
    Raises what ``load_directory`` raises for missing or refused files."""
    settings = settings or Settings()
    mappings = mappings or Mappings()
    spark = spark or spark_session(master, conf)
    kept: list[DataFrame] = []
    listing = data_files.list_data_files(spark, str(data))
    files, sources = _read(spark, str(data), listing, options, kept)
    stored = _stored_charges(history, periods, sources)
    found_identity = _identity(sources, settings, mappings, stored.rows if stored else None)
    parallelism = spark.sparkContext.defaultParallelism
    rows_in = sum(record.rows_loaded for record in sources.imports) + (len(stored.rows) if stored else 0)
    clients = even_ranges(found_identity.client_matches["client"].dropna(),
                          partitions_for(rows_in, rows_per_partition, parallelism))
    invoices = _invoice_ranges(sources, rows_per_partition, parallelism)
    rows = files.filter(f"tag = 'rows' and kind in {_sql_list(_PIECE_KINDS)}")
    if stored:  # (the rows are Spark's from here: the driver keeps the import records only)
        rows = rows.union(_history_pieces(spark, stored.rows, len(listing.files)))
    candidates, history_imports = (stored.candidates, stored.imports) if stored else (None, ())
    del stored
    pieces = _keep(rows.mapInPandas(
        _resolving(stages.ResolveStage(found_identity, clients, invoices)), ENVELOPE), kept)
    meta = _collected(pieces.filter("tag in ('unmapped', 'evidence', 'mapped')"))
    chosen = sorted(set(periods)) if periods else engine.periods_in(
        [value_of(payload) for payload in meta.loc[meta["tag"] == "evidence", "payload"]])
    if not chosen:
        raise engine.no_month_error(sum(len(frame_of(payload))
                                        for payload in meta.loc[meta["tag"] == "unmapped", "payload"]))
    as_of = engine.run_as_of(settings, chosen)
    base = _base_frames(found_identity, sources)
    ranges = _keep(pieces.filter("tag = 'clients'").groupBy("bucket").applyInPandas(
        _reconciling(stages.ClientStage(chosen, settings, base, adjustments,
                                        tuple(candidates) if candidates is not None else None)), ENVELOPE), kept)
    book = _keep(pieces.filter("tag = 'book'").groupBy("bucket").applyInPandas(
        _booking(stages.BookStage(settings, as_of, {kind: base[kind] for kind in stages.RECEIVABLE_KINDS})),
        ENVELOPE), kept)
    collected = _collected(ranges.filter("tag in ('found', 'figures', 'billed', 'drawn')"))
    book_parts = [value_of(payload) for payload in _collected(book.filter("tag = 'book_figures'"))["payload"]]
    drawn_on = _drawn_on(collected, history_imports) if candidates is not None else ()
    result = _result(collected, meta, book_parts, sources, found_identity, base, chosen, settings, as_of,
                     resolutions, drawn_on)
    billed = [value_of(payload) for payload in collected.loc[collected["tag"] == "billed", "payload"]]
    return SparkRun(result, frozenset().union(*billed), spark, ranges, book, files, kept)


_PIECE_KINDS = tuple(dict.fromkeys((*engine.CLIENT_KINDS, *stages.RECEIVABLE_KINDS)))


def _collected(frame: DataFrame) -> pd.DataFrame:
    """The (small) parcels of ``frame`` on the driver (as rows: a few per file or range, where pandas'
    conversion of the whole would go through Arrow for nothing)."""
    rows = [tuple(row) for row in frame.collect()]
    return pd.DataFrame(rows, columns=list(ENVELOPE_COLUMNS)).astype({"bucket": "int64", "position": "int64"})


def _sql_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _keep(frame: DataFrame, kept: list[DataFrame]) -> DataFrame:
    kept.append(frame.persist(_storage()))
    return frame


def _storage() -> Any:
    from pyspark import StorageLevel

    return getattr(StorageLevel, STORAGE)


# ---------------------------------------------------------------------------------------- the files

def _read(spark: SparkSession, data: str, listing: data_files.Listing, options: ReadOptions,
          kept: list[DataFrame]) -> tuple[DataFrame, Any]:
    """Every listed file read by one task; returns the parcels (kept in Spark) and the run's
    ``Sources`` as the driver holds it: import records, reports and quarantined rows, and the small
    kinds' rows (catalog, aliases); the other kinds' frames have no rows here."""
    by_uri = {item.uri: item for item in listing.files}
    raw = spark.read.format("binaryFile").load([_literal(uri) for uri in by_uri]).select("path", "content")
    parcels = _keep(raw.mapInPandas(_file_reader(by_uri, options), ENVELOPE), kept)
    small = _collected(parcels.filter(f"tag != 'rows' or kind in {_sql_list(data_files.SMALL_KINDS)}"))
    small = small.sort_values("position", kind="stable")
    refused = [value_of(payload) for payload in small.loc[small["tag"] == "refused", "payload"]]
    pieces = _imports(small)
    require_sources(data, [piece.report for piece in pieces], refused)
    sources = combine(pieces, (*REQUIRED_SOURCES, *OPTIONAL_SOURCES))
    frames = dict(sources.frames)
    for kind in data_files.SMALL_KINDS:
        rows = small[(small["tag"] == "rows") & (small["kind"] == kind)]
        frames[kind] = concat_in_order(rows, empty_source(kind)) if len(rows) else frames[kind]
    return parcels, _SourcesOnDriver(frames, sources.issues, sources.imports, small)


def _literal(uri: str) -> str:
    """``uri`` with Hadoop's glob characters escaped: Spark reads a path given to it as a pattern."""
    return "".join("\\" + char if char in "\\*?[]{}" else char for char in uri)


@dataclass(frozen=True)
class _SourcesOnDriver:
    frames: dict[str, pd.DataFrame]
    issues: pd.DataFrame
    imports: tuple[ImportRecord, ...]
    parcels: pd.DataFrame  # the small parcels: names, samples, ...

    def values(self, tag: str, kind: str | None = None) -> list[Any]:
        rows = self.parcels[(self.parcels["tag"] == tag) & ((self.parcels["kind"] == kind) if kind else True)]
        return [value_of(payload) for payload in rows["payload"]]


def _imports(small: pd.DataFrame) -> list[_Piece]:
    records = small[small["tag"] == "record"]
    issues = {int(position): frame_of(payload) for position, payload in
              zip(small.loc[small["tag"] == "issues", "position"], small.loc[small["tag"] == "issues", "payload"],
                  strict=True)}
    pieces = []
    for position, kind, payload in zip(records["position"], records["kind"], records["payload"], strict=True):
        record, file_report = value_of(payload)
        pieces.append(_Piece(empty_source(kind), issues[int(position)], record, file_report))
    return pieces


# ------------------------------------------------------------------------------------------ identity

def _identity(sources: _SourcesOnDriver, settings: Settings, mappings: Mappings,
              stored: pd.DataFrame | None = None) -> engine.Identity:
    """The local engine's identity tables from every file's names, in file order, then the names of the
    stored charges the run may draw on (``stored``), as the local engine resolves them with the run's own."""
    def distinct(kind: str, column: str) -> pd.Series:
        parts = [names[column] for names in sources.values("names", kind) if column in names]
        combined = pd.concat(parts, ignore_index=True) if parts else pd.Series(dtype="string")
        return pd.Series(pd.unique(combined), dtype="string")

    names = {kind: distinct(kind, "client") for kind in (*engine.PSA_SOURCES, "usage")}
    if stored is not None:
        both = pd.concat([names["usage"], distinct_cells(stored["client"])[1]], ignore_index=True)
        names["usage"] = pd.Series(pd.unique(both), dtype="string")
    skus = pd.concat([distinct(kind, "sku") for kind in ("contracts", "invoices")], ignore_index=True)
    return engine.identify(names, skus, sources.frames["client_aliases"], sources.frames["catalog"], settings,
                           mappings)


# ------------------------------------------------------------------------------------- charge history

@dataclass(frozen=True)
class _Stored:
    candidates: list[str]  # the stored imports the run may draw on (``recon.engine.history_candidates``)
    rows: pd.DataFrame  # their charges and pairs, flagged ``from_history``
    imports: tuple[ImportRecord, ...]  # every stored import read


def _stored_charges(history: HistoryReader | None, periods: Sequence[str] | None,
                    sources: _SourcesOnDriver) -> _Stored | None:
    """The store's charge history as a local run of the same files reads it (``Store.history_for``: over
    ``periods``, else the months of the files' rows, mapped or not), leaving out the run's own imports:
    ``_Stored``; None when there are none."""
    if history is None:
        return None
    asked = list(periods) if periods else engine.periods_in(sources.values("periods"))
    found = history(asked, [record.sha256 for record in sources.imports])
    if found is None or not len(found["usage"]):
        return None
    candidates = engine.history_candidates(sources.imports, found.imports)
    rows = found["usage"]
    rows = rows[rows["source_file"].isin(candidates).to_numpy()].assign(**{engine.HISTORY_COLUMN: True})
    if not len(rows):  # (only the run's own files are stored: nothing to draw on)
        return None
    return _Stored(candidates, rows.reset_index(drop=True), found.imports)


def _history_pieces(spark: SparkSession, rows: pd.DataFrame, files: int) -> DataFrame:
    """The stored charges as envelope rows of ``recon.spark.files.CHUNK_ROWS`` rows each (Arrow payloads,
    as a file's rows travel), after every file's pieces, of kind ``stages.HISTORY_KIND``: one partition
    each, so that a task carries one piece (about 12 MB) whatever the history's size (a task's data travels
    in Spark's messages, at most ``spark.rpc.message.maxSize``, 128 MB)."""
    first = files * data_files.CHUNKS_PER_FILE
    pieces = [("rows", 0, first + number, stages.HISTORY_KIND,
               frame_bytes(rows.iloc[start:start + data_files.CHUNK_ROWS]))
              for number, start in enumerate(range(0, len(rows), data_files.CHUNK_ROWS))]
    return spark.createDataFrame(spark.sparkContext.parallelize(pieces, len(pieces)), ENVELOPE)


def _drawn_on(collected: pd.DataFrame, imports: tuple[ImportRecord, ...]) -> tuple[ImportRecord, ...]:
    """The stored imports the run drew on (``recon.engine.drawn_imports``): those of the stored charges that
    count in some range (``drawn``). A stored charge that maps to no client and sku meets no range and counts
    for nothing, as in a local run."""
    files = {name for payload in collected.loc[collected["tag"] == "drawn", "payload"] for name in value_of(payload)}
    return engine.drawn_imports(imports, files)


def _invoice_ranges(sources: _SourcesOnDriver, rows_per_partition: int,
                    parallelism: int) -> Ranges:
    samples = [number for kind in stages.RECEIVABLE_KINDS for values in sources.values("sample", kind)
               for number in values]
    rows = sum(record.rows_loaded for record in sources.imports if record.source in stages.RECEIVABLE_KINDS)
    return even_ranges(samples, partitions_for(rows, rows_per_partition * 4, parallelism))


def _base_frames(found_identity: engine.Identity, sources: _SourcesOnDriver) -> dict[str, bytes]:
    """What each range starts from: every kind resolved with no rows, and the shared kinds whole."""
    empty = engine.resolve_rows({kind: empty_source(kind) for kind in engine.CLIENT_KINDS}, found_identity).frames
    base = {kind: frame_bytes(empty[kind]) for kind in engine.CLIENT_KINDS}
    base |= {kind: frame_bytes(sources.frames[kind]) for kind in engine.SHARED_KINDS}
    base |= {kind: frame_bytes(empty_source(kind)) for kind in stages.RECEIVABLE_KINDS if kind not in base}
    return base


# ------------------------------------------------------------------------------------------- result

def _result(collected: pd.DataFrame, meta: pd.DataFrame, book_parts: list[metrics.BookFigures],
            sources: _SourcesOnDriver, found_identity: engine.Identity, base: dict[str, bytes], periods: list[str],
            settings: Settings, as_of: date, resolutions: pd.DataFrame | None,
            drawn_on: tuple[ImportRecord, ...] = ()) -> Reconciliation:
    # The frames' columns and dtypes as the local engine makes them: the engine run on no rows.
    no_rows = engine.Resolved({kind: frame_of(payload).iloc[0:0] for kind, payload in base.items()},
                              pd.DataFrame(), pd.DataFrame())
    no_keys, no_found = engine.reconcile_clients(no_rows, periods, settings)
    found = rules.in_order(concat_in_order(collected[collected["tag"] == "found"], no_found))
    key_figures = metrics.KeyFigures.combine(
        [value_of(payload) for payload in collected.loc[collected["tag"] == "figures", "payload"]])
    figures = metrics.summarise_parts(
        key_figures, found, usage_rows=sum(record.rows_loaded for record in sources.imports
                                           if record.source == "usage"),
        usage_rows_mapped=_mapped_usage(meta), book=metrics.BookFigures.combine(book_parts),
        resolutions=resolutions, days_in_run=engine.days_in(periods))
    unmapped = concat_in_order(meta[meta["tag"] == "unmapped"],
                               engine.resolve_rows({"usage": empty_source("usage")}, found_identity).unmapped)
    return Reconciliation(tuple(periods), settings, found, no_keys, unmapped, found_identity.client_matches,
                          sources.issues, stages.no_book(), figures, {}, sources.imports, history_imports=drawn_on,
                          charges_apart=True)


def _mapped_usage(meta: pd.DataFrame) -> int:
    rows = meta[(meta["tag"] == "mapped") & (meta["kind"] == "usage")]
    return int(sum(value_of(payload) for payload in rows["payload"]))


# -------------------------------------------------------------- stage functions (pickled to executors)

def _file_reader(by_uri: dict[str, data_files.DataFile], options: ReadOptions) -> Any:
    def read(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        return data_files.read_files(batches, by_uri, options)
    return read


def _resolving(stage: stages.ResolveStage) -> Any:
    def resolve(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        return stages.resolve_pieces(batches, stage)
    return resolve


def _reconciling(stage: stages.ClientStage) -> Any:
    def run(pieces: pd.DataFrame) -> pd.DataFrame:
        return stages.reconcile_range(pieces, stage)
    return run


def _booking(stage: stages.BookStage) -> Any:
    def run(pieces: pd.DataFrame) -> pd.DataFrame:
        return stages.receivables_range(pieces, stage)
    return run
