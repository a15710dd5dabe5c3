"""The benchmark (issue 6): the engine against a DuckDB reference on generated MSPs of growing size.

    make bench                      # 10k, 100k and 1M invoice lines
    make bench SIZES=1M REPEAT=3    # one size, three measurements (best and median reported)

For each size it generates the sample MSP once (``recon sample --usage-sites 2``: about as many usage
rows as invoice lines; cached as CSV under ``bench/data/``, keyed by size, seed and sites) and measures,
each measurement in a fresh subprocess so that peaks do not mix:

* loading: ``recon.load_directory`` (typed, validated, quarantined, hashed) against
  ``pandas.read_csv(engine="pyarrow")`` of the same files (read only, types guessed), and Arrow's reader
  with every column as text (where ``recon``'s reading starts);
* the engine: ``recon.reconcile`` from the loaded sources to discrepancies, metrics and receivables;
* the reference: the core comparison (usage vs contract vs billed per period, client and sku, with the
  presence, quantity and price rules) as one DuckDB query (``bench/reference.sql``) over the engine's
  own resolved frames, in the same process; both must report the same discrepancies.

Peak memory is the process's resident high-water mark after loading and reconciling (before DuckDB
runs). The last line printed for each size is ``SIZE rows: engine S s, duckdb S s, ratio R, peak M MB``.

Then, end to end (issue 25): ``recon run`` as a finance team runs it, from the files to every output
written (``--no-store``, then storing into SQLite, and PostgreSQL with ``--postgres URL``, each store then
given a second month: the usage files with other bytes, drawing on the first month's stored charges), each a fresh
process timed by this one from start to exit (peak from the kernel's accounting of the child), each
preceded by the floor: DuckDB in a fresh process reading the same CSV files and putting usage, contract
and billed side by side per month, client and sku (``bench/floor.sql``: no identity resolution, no
validation, nothing written). Interleaved, so a shared machine's load weighs on both alike; the ratio of
the medians is the figure. A profile of the run's steps follows (one process, in-process clocks).
``SIZE end to end: recon S s, duckdb floor S s, ratio R, peak M MB`` per variant; ``--end-to-end-only``
skips the engine measurements above. After each store variant, the next month's read of the charges it
stored (``Store.charge_history``, one process, in-process clock) against DuckDB reading the same rows from
a Parquet file written in the same run: ``SIZE reading N stored charges back (...)``; for SQLite also from a
copy of the store holding a year of them (``a_year_of``: each usage import twelve times, a month apart).
Last, what the second core can give the engine: its per-client part on every client in one process, on
each half of the clients alone, and on both halves at once in two processes (``measure_cores``):
``SIZE what the second core gives the engine (...)``.
No timing is asserted anywhere: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH = ROOT / "bench"
DATA = BENCH / "data"
REFERENCE_SQL = BENCH / "reference.sql"
FLOOR_SQL = BENCH / "floor.sql"
RESULTS = BENCH / "results.md"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
INVOICE_LINES_PER_CLIENT = 73  # the sample MSP bills about 6.1 lines a client a month over 12 months
# Vendors report each subscription month per site, in two rows: as many usage rows as invoice lines
# (the target is 1M invoice lines plus 1M usage rows), with the keys, totals and findings of one row.
USAGE_SITES = 2
SEED = 7
SQL_TYPES = ("unbilled_usage", "billed_without_usage", "quantity_under_billed", "quantity_over_billed",
             "missed_recurring_charge", "billed_outside_contract", "price_below_contract",
             "price_above_contract")
MEASURE_MARK = "BENCH-RESULT "


# ------------------------------------------------------------------------------------------- the data

def data_dir(size: str, seed: int = SEED) -> Path:
    """The cached sample for ``size`` (generated on first use in a subprocess; ``complete`` marks a
    finished write, so an interrupted one is redone)."""
    directory = DATA / f"{size}-seed{seed}-sites{USAGE_SITES}"
    if not (directory / "complete").exists():
        clients = math.ceil(SIZES[size] / INVOICE_LINES_PER_CLIENT)
        print(f"generating the {size} sample ({clients:,} clients, seed {seed}, usage per site x{USAGE_SITES}) "
              f"into {directory} ...", flush=True)
        subprocess.run([sys.executable, "-m", "recon.cli", "sample", "--out", str(directory), "--clients",
                        str(clients), "--seed", str(seed), "--usage-sites", str(USAGE_SITES)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        (directory / "complete").write_text(f"{clients} clients, seed {seed}, {USAGE_SITES} sites\n")
    return directory


def source_csvs(directory: Path) -> list[Path]:
    """The files ``load_directory`` reads (the answer key and expected-unmapped list are not sources)."""
    from recon.ingest.directory import source_files

    return [path for paths in source_files(directory).values() for path in paths]


# ---------------------------------------------------------------------------------- in the subprocess

def peak_mb() -> int:
    """Resident-set high-water mark of this process, in MB (``ru_maxrss`` is KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def measure_pandas(directory: Path) -> dict[str, Any]:
    """Seconds for ``pandas.read_csv(engine="pyarrow")`` of every source file."""
    import io

    import pandas as pd

    pd.read_csv(io.BytesIO(b"a,b\n1,2\n"), engine="pyarrow")  # its imports are not the files' cost
    paths = source_csvs(directory)  # (listing them imports recon: not pandas' cost either)
    started = time.perf_counter()
    rows = sum(len(pd.read_csv(path, engine="pyarrow")) for path in paths)
    return {"pandas_seconds": time.perf_counter() - started, "pandas_rows": rows}


def measure_arrow_text(directory: Path) -> dict[str, Any]:
    """Seconds for Arrow's CSV reader to read every source file with every column as text (no types
    guessed, nothing parsed, no hash): where ``recon``'s reading starts, its floor."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    paths = source_csvs(directory)
    started = time.perf_counter()
    rows = 0
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle))
        text = pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.large_string()), null_values=[],
                                     strings_can_be_null=False)
        rows += pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(block_size=4 * 2**20),
                                convert_options=text).num_rows
    return {"arrow_text_seconds": time.perf_counter() - started, "arrow_text_rows": rows}


def measure_engine(directory: Path) -> dict[str, Any]:
    """Load, reconcile, then run the DuckDB reference on the resolved frames and compare."""
    from recon import load_directory, reconcile

    quality_seconds = time_quality_suite()
    started, started_cpu = time.perf_counter(), time.process_time()
    sources = load_directory(directory)
    loaded, loaded_cpu = time.perf_counter(), time.process_time()
    result = reconcile(sources)
    reconciled, reconciled_cpu = time.perf_counter(), time.process_time()
    figures = {
        "load_seconds": loaded - started, "engine_seconds": reconciled - loaded, "peak_mb": peak_mb(),
        "load_cpu_seconds": loaded_cpu - started_cpu, "engine_cpu_seconds": reconciled_cpu - loaded_cpu,
        "gx_import_seconds": quality_seconds["import"], "quality_seconds": quality_seconds["suites"],
        "rows": {kind: len(frame) for kind, frame in sources.frames.items()},
        "keys": len(result.keys), "discrepancies": len(result.discrepancies),
    }
    reference, duckdb_seconds = run_reference(result)
    return figures | {"duckdb_seconds": duckdb_seconds, "agreement": agreement(result.discrepancies, reference)}


def measure_parsing(directory: Path) -> dict[str, Any]:
    """``recon.load_directory`` with the quality suite switched off (every row passes): what reading and
    parsing the files into canonical columns costs on its own, the work ``pandas.read_csv`` compares to."""
    import pandas as pd

    from recon import load_directory
    from recon.ingest import quality

    def every_row_passes(kind: str, frame: pd.DataFrame, cells: Any) -> quality.Validation:
        return quality.Validation(pd.Series("", index=frame.index, dtype="string"), ())

    quality.validate = every_row_passes
    quality.validate_together = lambda kind, parts, **_: [every_row_passes(kind, *part) for part in parts]
    started = time.perf_counter()
    load_directory(directory)
    return {"parse_seconds": time.perf_counter() - started}


def clocked(call: Any, spent: dict[str, float], part: str, once: bool = False) -> Any:
    """``call``, adding the wall seconds each call takes to ``spent[part]`` (``once``: keeping the longest,
    for a one-off that several threads may wait for together)."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            spent[part] = max(spent[part], elapsed) if once else spent[part] + elapsed
    return wrapper


def time_quality_suite() -> dict[str, float]:
    """Time Great Expectations from now on, in this process: its one-off import, and the suites it runs
    (one at a time: ``recon.ingest.quality`` serialises them) with the picking of the rows each judges (one
    of each look, on the file's own loading thread). Returns the dict the seconds are added to."""
    from recon.ingest import quality

    spent = {"import": 0.0, "suites": 0.0}
    quality._gx = clocked(quality._gx, spent, "import", once=True)  # type: ignore[assignment]
    quality._run_locked = clocked(quality._run_locked, spent, "suites")  # type: ignore[assignment]
    quality._looks = clocked(quality._looks, spent, "suites")  # type: ignore[assignment]
    return spent


def time_quality_worker() -> dict[str, float]:
    """Start the Great Expectations worker process as ``recon run`` does (``quality.start_worker``: GX is
    imported and its suites run there, beside the parsing) and time, from now on, what loading spends on
    it: waiting for the worker's verdicts and picking the rows it judges (one of each look). Returns the
    dict the seconds are added to; the worker ends with this process."""
    from recon.ingest import quality

    spent = {"waiting": 0.0, "picking": 0.0}
    if not quality.start_worker():
        raise SystemExit("could not start the Great Expectations worker process")
    quality._Worker.run = clocked(quality._Worker.run, spent, "waiting")  # type: ignore[method-assign]
    quality._looks = clocked(quality._looks, spent, "picking")  # type: ignore[assignment]
    return spent


def run_reference(result: Any) -> tuple[Any, float]:
    """The DuckDB query over the engine's resolved frames: (its findings, seconds incl. registering)."""
    import duckdb
    import numpy as np

    from recon.cells import categoricals_as_text
    from recon.keys import period_bounds

    settings = result.settings
    # DuckDB at its best: plain text columns, as it reads from files (a categorical would register as
    # an ENUM that every join casts back to text); converted before the clock starts.
    frames = {name: categoricals_as_text(frame) for name, frame in result.resolved.items()}
    started = time.perf_counter()
    connection = duckdb.connect()
    for name in ("usage", "invoices"):
        connection.register(name, frames[name])
    for name in ("contracts", "catalog"):
        connection.register(name, frames[name].assign(line_order=np.arange(len(frames[name]))))
    connection.register("run_periods", period_bounds(list(result.periods)))
    sql = REFERENCE_SQL.read_text().format(
        quantity_tolerance=float(settings.quantity_tolerance),
        price_tolerance_pct=f"{float(settings.price_tolerance_pct)}::DOUBLE",
        price_tolerance_min=settings.price_tolerance_min_units,
        amount_tolerance=settings.amount_tolerance_units)
    found = connection.execute(sql).df()  # the macros, then the one query whose result this is
    seconds = time.perf_counter() - started
    connection.close()
    return found, seconds


def agreement(engine: Any, reference: Any) -> dict[str, Any]:
    """Compare (period, client, sku, type, variance) of the rule types the query covers."""

    columns = ["period", "client", "sku", "type"]
    ours = engine[engine["type"].isin(SQL_TYPES)][[*columns, "variance"]].astype({"variance": "int64"})
    theirs = reference.astype({"period": "string", "client": "string", "sku": "string", "type": "string",
                               "variance": "int64"})
    ours = ours.astype(dict.fromkeys(columns, "string"))
    both = ours.merge(theirs, on=columns, how="outer", suffixes=("_engine", "_duckdb"), indicator=True)
    same = both["_merge"].eq("both") & both["variance_engine"].eq(both["variance_duckdb"])
    differing = both[~same.fillna(False).astype(bool)]
    return {"engine": len(ours), "duckdb": len(theirs), "identical": int(same.fillna(False).sum()),
            "examples": differing.head(5).astype(str).to_dict(orient="records"),
            "by_type": ours["type"].value_counts().sort_index().to_dict()}


def measure_floor(directory: Path) -> dict[str, Any]:
    """The floor of ``recon run`` (``bench/floor.sql``): DuckDB reading the same CSV files and putting
    usage, contract and billed side by side per month, client and sku. Timed by the parent, as a process."""
    import duckdb

    def quoted(path: Path) -> str:
        return "'" + str(path).replace("'", "''") + "'"

    usage = "[" + ", ".join(quoted(path) for path in sorted(directory.glob("usage*.csv"))) + "]"
    sql = FLOOR_SQL.read_text().format(usage=usage, invoices=quoted(directory / "invoices.csv"),
                                       contracts=quoted(directory / "contracts.csv"))
    connection = duckdb.connect()
    connection.execute(sql)
    keys, gaps = connection.execute("SELECT count(*), count(*) FILTER (WHERE quantity_gap <> 0) FROM keys").fetchone()
    return {"floor_keys": keys, "floor_gaps": gaps}


def measure_phases(directory: Path) -> dict[str, Any]:
    """Where ``recon run --no-store`` spends its time, step by step in one process, as the CLI runs them
    (the imports, loading with Great Expectations in its worker process as ``recon run`` has it, the time
    waiting for its verdicts apart, the engine, each output),
    with ``malloc`` and the garbage collector set as the ``recon`` program sets them (``child_main``)."""
    started = time.perf_counter()
    from recon.engine import reconcile
    from recon.exports import report
    from recon.ingest.directory import load_directory

    phases: dict[str, float] = {"import recon": time.perf_counter() - started}
    quality = time_quality_worker()
    clock = time.perf_counter()
    sources = load_directory(directory)
    phases["load_directory"] = time.perf_counter() - clock
    phases["  of which waiting for the GX worker's verdicts (summed over loading threads)"] = quality["waiting"]
    phases["  of which picking the rows GX judges (summed over loading threads)"] = quality["picking"]
    clock = time.perf_counter()
    result = reconcile(sources)
    phases["reconcile"] = time.perf_counter() - clock
    write_csv, write_text = report._write_csv, Path.write_text

    def timed_csv(path: Path, frames: Any) -> Path:
        clock = time.perf_counter()
        try:
            return write_csv(path, frames)
        finally:
            phases[f"write {path.name}"] = time.perf_counter() - clock

    def timed_text(path: Path, *args: Any, **kwargs: Any) -> int:
        clock = time.perf_counter()
        try:
            return write_text(path, *args, **kwargs)
        finally:
            phases[f"write {path.name}"] = time.perf_counter() - clock

    report._write_csv = timed_csv  # type: ignore[assignment]
    Path.write_text = timed_text  # type: ignore[method-assign]
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        clock = time.perf_counter()
        report.write_outputs(result, Path(out))
        phases["write_outputs"] = time.perf_counter() - clock
    Path.write_text = write_text  # type: ignore[method-assign]
    return {"phases": phases, "total": time.perf_counter() - started, "peak_mb": peak_mb()}


def measure_saving(directory: Path) -> dict[str, Any]:
    """Where storing a run goes (issue 25): ``Store.save_run`` of the run of ``directory`` into the empty store
    ``RECON_DATABASE_URL`` names, in one process (loading and the engine are not timed), split into its
    usage charges (``_store_charges``: the database's insert of every usage row), its proposed fixes
    (``fixes.after_run``: worded, stored, earlier ones verified) and the rest (the run, its findings and
    imports, and the commit)."""
    from recon.engine import reconcile
    from recon.ingest.directory import load_directory
    from recon.store import Store, database

    result = reconcile(load_directory(directory))
    store = Store(os.environ["RECON_DATABASE_URL"])
    parts: dict[str, float] = {}

    def timed(owner: Any, name: str) -> None:
        function = getattr(owner, name)

        def measured(*args: Any, **kwargs: Any) -> Any:
            clock = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - clock

        setattr(owner, name, measured)

    timed(database, "_store_charges")
    timed(database.fix_ledger, "after_run")
    clock = time.perf_counter()
    store.save_run(result)
    seconds = time.perf_counter() - clock
    store.close()
    return {"save_seconds": seconds, "charges_seconds": parts["_store_charges"], "fixes_seconds": parts["after_run"],
            "charges": len(result.charges), "findings": len(result.discrepancies)}


def saving_line(size: str, variant: str, figures: dict[str, Any]) -> str:
    """``measure_saving``'s figures in words."""
    seconds, charges, fixes = figures["save_seconds"], figures["charges_seconds"], figures["fixes_seconds"]
    return (f"{size} storing one run ({variant}, save_run in one process): {seconds:.2f} s: its "
            f"{figures['charges']:,} usage charges {charges:.2f} s, its proposed fixes (of "
            f"{figures['findings']:,} findings) {fixes:.2f} s, the run, findings, imports and the commit "
            f"{seconds - charges - fixes:.2f} s (load average {os.getloadavg()[0]:.1f})")


def measure_history(directory: Path) -> dict[str, Any]:
    """A second month's read of the first month's stored charges (issue 25): ``Store.charge_history`` for the
    month after the newest stored run, from the store ``RECON_DATABASE_URL`` names (an in-process clock; peak
    is the resident high-water mark's growth during the read), against DuckDB reading the same rows and
    columns from a Parquet file of them written here first (filtered by the same dates, in the same order,
    into an Arrow table). ``directory`` is not read: the store holds the run of it."""
    import tempfile

    import duckdb
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from recon.store import Store, tables
    from recon.store.database import HISTORY_DAYS_AFTER, HISTORY_DAYS_BEFORE

    store = Store()
    run = tables.table(tables.Run)
    with store.engine.connect() as connection:
        periods = connection.execute(sa.select(run.c.periods).where(run.c.complete)
                                     .order_by(run.c.id.desc()).limit(1)).scalar_one()
    month = pd.Period(max(periods), "M") + 1
    before = peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    history = store.charge_history([str(month)])
    seconds, cpu_seconds, grown = time.perf_counter() - started, time.process_time() - cpu, peak_mb() - before
    usage = history["usage"] if history is not None else pd.DataFrame()
    first = month.start_time - pd.Timedelta(days=HISTORY_DAYS_BEFORE)
    last = month.end_time.normalize() + pd.Timedelta(days=HISTORY_DAYS_AFTER)
    with tempfile.TemporaryDirectory(prefix="recon-bench-history-") as scratch:
        parquet = Path(scratch) / "charges.parquet"
        pq.write_table(pa.Table.from_pandas(usage, preserve_index=False), parquet)
        started = time.perf_counter()
        # (in the file's order: DuckDB keeps a scan's order unless preserve_insertion_order is turned off)
        bounds = {"path": str(parquet), "first": first.to_pydatetime(), "last": last.to_pydatetime()}
        table = duckdb.connect().sql("SELECT * FROM read_parquet($path) WHERE period_end >= $first AND "
                                     "period_start <= $last", params=bounds).to_arrow_table()
        duckdb_seconds = time.perf_counter() - started
    return {"history_seconds": seconds, "history_cpu_seconds": cpu_seconds, "history_rows": len(usage),
            "history_peak_growth_mb": grown, "duckdb_parquet_seconds": duckdb_seconds, "duckdb_rows": table.num_rows}


def measure_cores(directory: Path) -> dict[str, Any]:
    """What the second core can give the engine (issue 25). The engine's per-client part
    (``engine.reconcile_clients``: keys and findings, most of ``reconcile``) is timed on every client in one
    process, on each half of the clients one after the other, and on both halves at once in two processes
    (this one and a fork of it, so the rows are shared and nothing is copied in; the halves' results are not
    handed back either: the best case for a parallel engine). Each half's rows are taken before the clocks
    start."""
    from recon import engine
    from recon.ingest.directory import load_directory
    from recon.spark.buckets import even_ranges

    result = engine.reconcile(load_directory(directory))
    resolved = engine.Resolved(result.resolved, result.unmapped, result.client_matches)
    periods, settings = list(result.periods), result.settings
    ranges = even_ranges(resolved.frames["invoices"]["client"].unique(), 2)
    halves = [engine.Resolved({kind: frame[ranges.of(frame["client"]) == number].reset_index(drop=True)
                               if kind in engine.CLIENT_KINDS else frame
                               for kind, frame in resolved.frames.items()}, resolved.unmapped, resolved.client_matches)
              for number in range(2)]

    def seconds(clients: Any) -> float:
        clock = time.perf_counter()
        engine.reconcile_clients(clients, periods, settings)
        return time.perf_counter() - clock

    whole = seconds(resolved)
    apart = [seconds(half) for half in halves]
    reader, writer = os.pipe()
    clock = time.perf_counter()
    child = os.fork()
    if child == 0:  # the other half, in the fork; it ends without the interpreter's teardown
        os.close(reader)
        os.write(writer, str(seconds(halves[1])).encode())
        os._exit(0)
    os.close(writer)
    mine = seconds(halves[0])
    theirs = float(os.read(reader, 64).decode())
    os.waitpid(child, 0)
    together = time.perf_counter() - clock
    return {"whole_seconds": whole, "apart_seconds": apart, "together_seconds": together,
            "together_each_seconds": [mine, theirs], "clients": [int(half.frames["invoices"]["client"].nunique())
                                                                 for half in halves]}


def cores_line(size: str, figures: dict[str, Any]) -> str:
    """``measure_cores``' figures in words."""
    apart, each = figures["apart_seconds"], figures["together_each_seconds"]
    return (f"{size} what the second core gives the engine (keys and findings, `reconcile_clients`): every client "
            f"in one process {figures['whole_seconds']:.2f} s; each half of the clients alone {apart[0]:.2f} + "
            f"{apart[1]:.2f} s; both halves at once in two processes {figures['together_seconds']:.2f} s "
            f"({each[0]:.2f} and {each[1]:.2f} s, a fork sharing the rows, no result handed back): "
            f"x{sum(apart) / figures['together_seconds']:.2f} over the halves one after the other, "
            f"x{figures['whole_seconds'] / figures['together_seconds']:.2f} over one process "
            f"(load average {os.getloadavg()[0]:.1f})")


RECON_MODES = ("parse", "engine", "phases", "saving", "cores")  # the measurements that load or reconcile with recon


def child_main(mode: str, directory: Path) -> None:
    measure = {"pandas": measure_pandas, "arrow": measure_arrow_text, "parse": measure_parsing,
               "engine": measure_engine, "floor": measure_floor, "phases": measure_phases,
               "history": measure_history, "saving": measure_saving, "cores": measure_cores}[mode]
    if mode in RECON_MODES:  # malloc and the garbage collector as the ``recon`` program sets them
        from recon.memory import fewer_collections, one_heap

        one_heap()
        fewer_collections()
    figures = measure(directory)
    print(MEASURE_MARK + json.dumps(figures, default=str), flush=True)


# ------------------------------------------------------------------------------------ in the parent

@dataclass(frozen=True)
class SizeResult:
    size: str
    runs: list[dict[str, Any]]
    pandas_seconds: float
    parse_seconds: float
    arrow_text_seconds: float

    def median(self, name: str) -> float:
        return statistics.median(run[name] for run in self.runs)

    def best(self, name: str) -> float:
        return min(run[name] for run in self.runs)

    @property
    def invoice_lines(self) -> int:
        return int(self.runs[0]["rows"]["invoices"])

    @property
    def input_rows(self) -> int:
        return int(sum(self.runs[0]["rows"].values()))

    def summary_line(self) -> str:
        engine, duckdb = self.median("engine_seconds"), self.median("duckdb_seconds")
        return (f"{self.size} rows: engine {_seconds(engine)} s, duckdb {_seconds(duckdb)} s, "
                f"ratio {engine / duckdb:.2f}, peak {round(self.median('peak_mb'))} MB")


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def run_child(mode: str, directory: Path, database: str | None = None) -> dict[str, Any]:
    """One measurement in a fresh interpreter (its own peak memory; ``database`` as its store's URL); returns
    its figures."""
    from recon.memory import with_lean_allocator

    env = with_lean_allocator(os.environ)  # Arrow's allocator, as `recon dashboard`
    if database:
        env = {**env, "RECON_DATABASE_URL": database}
    completed = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode, str(directory)],
                               cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    marked = [line for line in completed.stdout.splitlines() if line.startswith(MEASURE_MARK)]
    if completed.returncode != 0 or not marked:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(f"the {mode} measurement failed for {directory}")
    return json.loads(marked[-1][len(MEASURE_MARK):])


# ---------------------------------------------------------------------------------- end to end (issue 25)

@dataclass(frozen=True)
class EndToEnd:
    """``recon run`` from the files to every output, against the DuckDB floor in the same run (each a fresh
    process, timed from start to exit by the parent, peak from the kernel's accounting of the child)."""
    size: str
    variant: str  # "no store", "sqlite", "postgresql", and for a store ", a second month" after it
    recon_seconds: list[float]
    floor_seconds: list[float]
    recon_peak_mb: list[int]
    load: float

    @property
    def ratio(self) -> float:
        return statistics.median(self.recon_seconds) / statistics.median(self.floor_seconds)

    def line(self) -> str:
        store = "" if self.variant == "no store" else f" with the store ({self.variant})"
        return (f"{self.size} end to end{store}: recon {_seconds(statistics.median(self.recon_seconds))} s, "
                f"duckdb floor {_seconds(statistics.median(self.floor_seconds))} s, ratio {self.ratio:.2f}, "
                f"peak {round(statistics.median(self.recon_peak_mb))} MB")


def timed_process(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``command`` (output discarded) and return (wall seconds from start to exit, peak resident MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{errors}")
    return seconds, usage.ru_maxrss // 1024


def recon_run_command(directory: Path, out: Path, database_url: str | None) -> list[str]:
    store = ["--database-url", database_url] if database_url else []
    return [sys.executable, "-m", "recon.cli", *store, "run", "--data", str(directory), "--out", str(out),
            *([] if database_url else ["--no-store"])]


def measure_end_to_end(size: str, repeat: int, postgres_url: str | None) -> tuple[list[EndToEnd], list[str]]:
    """Each variant ``repeat`` times, a floor run before each recon run (interleaved, so that the load on a
    shared machine weighs on both alike); with a store, each time into an empty one, then a second month
    into the last of them."""
    import tempfile

    directory = data_dir(size)
    floor = [sys.executable, str(Path(__file__).resolve()), "--child", "floor", str(directory)]
    results = []
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as scratch:
        variants: list[tuple[str, str | None]] = [("no store", None), ("sqlite", "sqlite")]
        if postgres_url:
            variants.append(("postgresql", postgres_url))
        for variant, url in variants:
            with empty_stores(url, Path(scratch) / variant, repeat) as databases:
                months = [("", directory)] + ([(", a second month", second_month(directory, Path(scratch)))]
                                              if url else [])
                for month, files in months:
                    # each first month into an empty store (a repeat into the same one would be a re-run,
                    # its charges stored already); the second month into the last of them
                    stores = databases if not month else databases[-1:]
                    recon_seconds, floor_seconds, peaks = [], [], []
                    for database in stores:
                        floor_seconds.append(timed_process(floor)[0])
                        seconds, peak = timed_process(recon_run_command(files, Path(scratch) / "out", database))
                        recon_seconds.append(seconds)
                        peaks.append(peak)
                    results.append(EndToEnd(size, variant + month, recon_seconds, floor_seconds, peaks,
                                            os.getloadavg()[0]))
                    print(results[-1].line() + f"  (load average {results[-1].load:.1f})", flush=True)
                    if url and not month:  # the store holds the first month's charges: read them back alone
                        lines.append(history_line(size, variant, run_child("history", directory, stores[-1])))
                        print(lines[-1], flush=True)
                    if url == "sqlite" and not month and stores[-1]:  # and from a store of a year of them
                        with a_year_of(stores[-1], Path(scratch) / "year") as year:
                            lines.append(history_line(size, "sqlite, a year of them: 12 imports of each usage file",
                                                      run_child("history", directory, year)))
                        print(lines[-1], flush=True)
            if url:  # where storing a month goes, into an empty store of its own
                with empty_stores(url, Path(scratch) / f"{variant}-saving", 1) as (database,):
                    lines.append(saving_line(size, variant, run_child("saving", directory, database)))
                    print(lines[-1], flush=True)
    profile = run_child("phases", directory)
    line = (f"{size} profile of recon run --no-store (one process, {profile['total']:.1f} s, peak "
            f"{profile['peak_mb']} MB, load average {os.getloadavg()[0]:.1f}): "
            + ", ".join(f"{name.strip()} {seconds:.2f} s" for name, seconds in profile["phases"].items()))
    print(line, flush=True)
    lines.append(cores_line(size, run_child("cores", directory)))
    print(lines[-1], flush=True)
    return results, [line, *lines]


@contextmanager
def empty_stores(url: str | None, scratch: Path, count: int) -> Iterator[list[str | None]]:
    """``count`` empty stores with their tables made, as a finance team's store exists (not timed): SQLite
    files under ``scratch`` for ``url`` "sqlite", fresh schemas of PostgreSQL ``url`` (dropped after), or
    ``count`` times None (no store)."""
    if url is None:
        yield [None] * count
        return
    if url == "sqlite":
        scratch.mkdir(parents=True, exist_ok=True)
        databases = [f"sqlite:///{scratch}/{number}.db" for number in range(count)]
        schemas: list[str] = []
    else:
        import uuid

        import sqlalchemy as sa

        admin = sa.create_engine(url)
        schemas = [f"recon_bench_{uuid.uuid4().hex[:12]}" for _ in range(count)]
        with admin.begin() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        databases = [sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
                     .render_as_string(hide_password=False) for schema in schemas]
    try:
        for database in databases:
            timed_process([sys.executable, "-m", "recon.cli", "--database-url", database, "runs"])
        yield list(databases)
    finally:
        if schemas:
            with admin.begin() as connection:
                for schema in schemas:
                    connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


@contextmanager
def a_year_of(url: str, scratch: Path, months: int = 12) -> Iterator[str]:
    """A copy of SQLite store ``url`` (one run stored) holding ``months`` times its charges: each usage import
    again ``months - 1`` times, as new imports whose charges (and their pairs) are the same rows a month, two
    months, ... earlier
    (the store of a year of monthly runs, issue 25), built in SQL (a minute at 1M charges; not timed). The
    file is removed after."""
    import sqlite3

    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / "year.db"
    shutil.copyfile(url.removeprefix("sqlite:///"), path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        usage = [row[0] for row in connection.execute("SELECT id FROM import_file WHERE source = 'usage'")]
        step = 1 + connection.execute("SELECT max(id) FROM import_file").fetchone()[0]
        marks = ", ".join("?" * len(usage))
        for back in range(1, months):
            shifted = f"'-{back} months'"
            connection.execute("BEGIN")
            connection.execute(
                "INSERT INTO import_file (id, source, file, sha256, rows_in, rows_loaded, rows_quarantined, "
                "blank_rows, imported_at) SELECT id + ?, source, file || ?, printf('%064d', id + ?), rows_in, "
                f"rows_loaded, rows_quarantined, blank_rows, imported_at FROM import_file WHERE id IN ({marks})",
                [step * back, f" ({back} months back)", step * back, *usage])
            connection.execute(
                "INSERT INTO usage_charge (import_id, line, client, sku, quantity, period_start, period_end, vendor, "
                "unit_cost, subscription_id, product_name, row_type, subscription_start, subscription_end, "
                f"cost_amount) SELECT import_id + ?, line, client, sku, quantity, date(period_start, {shifted}), "
                f"date(period_end, '+1 day', {shifted}, '-1 day'), vendor, unit_cost, subscription_id, product_name, "
                f"row_type, date(subscription_start, {shifted}), date(subscription_end, '+1 day', {shifted}, "
                f"'-1 day'), cost_amount FROM usage_charge WHERE import_id IN ({marks}) ORDER BY id",
                [step * back, *usage])
            connection.execute(
                "INSERT INTO usage_charge_pair (import_id, client, sku, vendor, product_name, period_start, "
                f"period_end) SELECT import_id + ?, client, sku, vendor, product_name, date(period_start, {shifted}), "
                f"date(period_end, '+1 day', {shifted}, '-1 day') FROM usage_charge_pair "
                f"WHERE import_id IN ({marks}) ORDER BY id", [step * back, *usage])
            connection.execute("COMMIT")
    finally:
        connection.close()
    try:
        yield f"sqlite:///{path}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def history_line(size: str, variant: str, figures: dict[str, Any]) -> str:
    """The read of a store's charge history (``measure_history``) against DuckDB's read of them from Parquet."""
    seconds, duckdb_seconds = figures["history_seconds"], figures["duckdb_parquet_seconds"]
    return (f"{size} reading {figures['history_rows']:,} stored charges back ({variant}, the next month's "
            f"charge_history): {seconds:.2f} s ({figures['history_cpu_seconds']:.2f} s CPU in the process, peak "
            f"+{figures['history_peak_growth_mb']} MB), DuckDB reading them from Parquet {duckdb_seconds:.2f} s, "
            f"ratio {seconds / duckdb_seconds:.1f} (load average {os.getloadavg()[0]:.1f})")


def second_month(directory: Path, scratch: Path) -> Path:
    """The files of ``directory`` as next month's: the usage files with other bytes (a line ending added),
    so that they are new imports whose charges replace the stored ones, drawn on as a finance team's
    second month draws on the first's; every other file the same (already imported), PSA exports such as
    ``contracts_autotask.csv`` too (``source_csvs`` lists only the canonical names). Linked, not copied,
    where unchanged."""
    month = scratch / "second-month"
    month.mkdir(exist_ok=True)
    for path in sorted(path for path in directory.iterdir() if path.is_file() and not path.name.startswith(".")):
        target = month / path.name
        if target.exists():
            continue
        if path.name.startswith("usage"):
            target.write_bytes(path.read_bytes() + b"\n")
            continue
        try:
            os.link(path, target)
        except OSError:  # (another file system)
            shutil.copyfile(path, target)
    return month


def end_to_end_block(results: list[EndToEnd], profiles: list[str]) -> str:
    """The end-to-end table of results.md."""
    def each(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} ({', '.join(f'{value:.1f}' for value in values)})"

    rows = [f"| {result.size} | {result.variant} | {each(result.recon_seconds)} | {each(result.floor_seconds)} | "
            f"{result.ratio:.2f} | {round(statistics.median(result.recon_peak_mb))} | {result.load:.1f} |"
            for result in results]
    return ("| size | store | recon run s median (each) | DuckDB floor s median (each) | ratio | peak MB | load |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n```\n"
            + "\n".join(result.line() for result in results) + "\n```\n\nWhere the time goes:\n\n"
            + "".join(f"- {line}\n" for line in profiles))


def measure_size(size: str, repeat: int, previous: SizeResult | None) -> SizeResult:
    directory = data_dir(size)
    pandas_seconds = min(run_child("pandas", directory)["pandas_seconds"] for _ in range(repeat))
    arrow_text_seconds = min(run_child("arrow", directory)["arrow_text_seconds"] for _ in range(repeat))
    parse_seconds = min(run_child("parse", directory)["parse_seconds"] for _ in range(repeat))
    runs = [run_child("engine", directory) for _ in range(repeat)]
    result = SizeResult(size, runs, pandas_seconds, parse_seconds, arrow_text_seconds)
    print_size(result, previous, directory)
    return result


def print_size(result: SizeResult, previous: SizeResult | None, directory: Path) -> None:
    rows = result.runs[0]["rows"]
    engine = result.median("engine_seconds")
    load = result.median("load_seconds")
    print(f"== {result.size}: {rows['invoices']:,} invoice lines, {rows['usage']:,} usage rows, "
          f"{result.input_rows:,} input rows in all ({directory.relative_to(ROOT)})")
    quality, gx_import = result.median("quality_seconds"), result.median("gx_import_seconds")
    print(f"load:   recon.load_directory {load:.2f} s ({result.input_rows / load:,.0f} rows/s), Great Expectations "
          f"included: its import {gx_import:.2f} s, its suites {quality:.2f} s (one file at a time, while the next "
          f"is parsed); reading and parsing alone (suite off) {result.parse_seconds:.2f} s "
          f"({result.input_rows / result.parse_seconds:,.0f} rows/s); pandas.read_csv(engine='pyarrow') of the "
          f"same files {result.pandas_seconds:.2f} s (parsing / pandas: "
          f"{result.parse_seconds / result.pandas_seconds:.2f}); Arrow's reader with every column as text "
          f"{result.arrow_text_seconds:.2f} s (where parsing starts)")
    print(f"engine: reconcile {engine:.2f} s ({result.input_rows / engine:,.0f} rows/s, "
          f"{result.invoice_lines / engine:,.0f} invoice lines/s); "
          f"{result.median('engine_cpu_seconds'):.2f} s CPU; duckdb {result.median('duckdb_seconds'):.2f} s; "
          f"{result.runs[0]['keys']:,} keys, {result.runs[0]['discrepancies']:,} discrepancies")
    if len(result.runs) > 1:
        print(f"repeats: {len(result.runs)}; engine best {result.best('engine_seconds'):.2f} s median "
              f"{engine:.2f} s; duckdb best {result.best('duckdb_seconds'):.2f} s median "
              f"{result.median('duckdb_seconds'):.2f} s; load best {result.best('load_seconds'):.2f} s; "
              f"peak best {result.best('peak_mb'):.0f} MB")
    match = result.runs[0]["agreement"]
    verdict = "agree" if match["identical"] == match["engine"] == match["duckdb"] else "DISAGREE"
    print(f"check:  engine and duckdb {verdict}: {match['identical']:,} identical of {match['engine']:,} "
          f"(engine) / {match['duckdb']:,} (duckdb) presence, quantity and price discrepancies")
    for example in match["examples"]:
        print(f"        differs: {example}")
    if previous is not None:
        growth = result.input_rows / previous.input_rows
        print(f"growth: {previous.size} -> {result.size}: rows x{growth:.1f}, engine "
              f"x{engine / previous.median('engine_seconds'):.1f} (CPU "
              f"x{result.median('engine_cpu_seconds') / previous.median('engine_cpu_seconds'):.1f}), reading and "
              f"parsing x{result.parse_seconds / previous.parse_seconds:.1f}, quality suites "
              f"x{quality / previous.median('quality_seconds'):.1f}, duckdb "
              f"x{result.median('duckdb_seconds') / previous.median('duckdb_seconds'):.1f}")
    print(result.summary_line(), flush=True)


# ---------------------------------------------------------------------------------------- results.md

def machine() -> str:
    """One line describing the machine and the versions measured."""
    import duckdb
    import pandas as pd
    import pyarrow as pa

    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    return (f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GB RAM, {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}, pandas {pd.__version__}, "
            f"pyarrow {pa.__version__}, duckdb {duckdb.__version__}; {date.today().isoformat()}, "
            f"load average {os.getloadavg()[0]:.1f} at the end")


def results_block(results: list[SizeResult]) -> str:
    header = ("| size | invoice lines | input rows | load s (of which GX import + suites) | read+parse s "
              "(pandas pyarrow; Arrow text read) | "
              "engine s median (best) | duckdb s median (best) | ratio | peak MB | agreement |\n"
              "|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for result in results:
        match = result.runs[0]["agreement"]
        rows.append(
            f"| {result.size} | {result.invoice_lines:,} | {result.input_rows:,} | "
            f"{result.median('load_seconds'):.2f} ({result.median('gx_import_seconds'):.2f} + "
            f"{result.median('quality_seconds'):.2f}) | {result.parse_seconds:.2f} ({result.pandas_seconds:.2f}; "
            f"{result.arrow_text_seconds:.2f}) | "
            f"{result.median('engine_seconds'):.2f} ({result.best('engine_seconds'):.2f}) | "
            f"{result.median('duckdb_seconds'):.2f} ({result.best('duckdb_seconds'):.2f}) | "
            f"{result.median('engine_seconds') / result.median('duckdb_seconds'):.2f} | "
            f"{result.median('peak_mb'):.0f} | {match['identical']:,}/{match['engine']:,} |")
    lines = "\n".join(result.summary_line() for result in results)
    return (f"Machine: {machine()}. Repeats per size: {len(results[0].runs)}.\n\n{header}" + "\n".join(rows)
            + f"\n\n```\n{lines}\n```\n")


def write_results(results: list[SizeResult], path: Path) -> None:
    """Replace the generated block of ``path`` (between the bench markers) with these results."""
    write_block(path, "bench", results_block(results))


def write_block(path: Path, marker: str, block: str) -> None:
    """Replace the block between ``<!-- MARKER:start -->`` and ``<!-- MARKER:end -->`` of ``path`` (added
    at the end when missing)."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    path.write_text(f"{before}{start}\n{block}{end}{after}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated, of: " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size (best and median)")
    parser.add_argument("--results", type=Path, default=None, help="update this results file's table")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--end-to-end-only", action="store_true",
                        help="only recon run from files to outputs against the DuckDB floor")
    parser.add_argument("--postgres", default=os.environ.get("RECON_BENCH_POSTGRES_URL"),
                        help="also time recon run storing into this PostgreSQL database "
                             "(default $RECON_BENCH_POSTGRES_URL)")
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child[0], Path(args.child[1]))
        return
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    results: list[SizeResult] = []
    end_to_end: list[EndToEnd] = []
    profiles: list[str] = []
    for size in sizes:
        if not args.end_to_end_only:
            results.append(measure_size(size, max(args.repeat, 1), results[-1] if results else None))
        measured, lines = measure_end_to_end(size, max(args.repeat, 1), args.postgres)
        end_to_end += measured
        profiles += lines
    if args.results:
        if results:
            write_results(results, args.results)
        write_block(args.results, "bench-e2e", f"Machine: {machine()}.\n\n{end_to_end_block(end_to_end, profiles)}")


if __name__ == "__main__":
    main()
