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
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH = ROOT / "bench"
DATA = BENCH / "data"
REFERENCE_SQL = BENCH / "reference.sql"
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


def time_quality_suite() -> dict[str, float]:
    """Time Great Expectations from now on: its one-off import, and the suites it runs (one at a time:
    ``recon.ingest.quality`` serialises them) with the picking of the rows each judges (one of each look, on
    the file's own loading thread). Returns the dict the seconds are added to."""
    from recon.ingest import quality

    spent = {"import": 0.0, "suites": 0.0}
    import_gx, run_suite, pick_rows = quality._gx, quality._run_locked, quality._looks

    def timed(part: str, call: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                # the import: two loading threads may wait for the same one; count it once
                spent[part] = max(spent[part], elapsed) if part == "import" else spent[part] + elapsed
        return wrapper

    quality._gx = timed("import", import_gx)  # type: ignore[assignment]
    quality._run_locked = timed("suites", run_suite)  # type: ignore[assignment]
    quality._looks = timed("suites", pick_rows)  # type: ignore[assignment]
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


def child_main(mode: str, directory: Path) -> None:
    measure = {"pandas": measure_pandas, "arrow": measure_arrow_text, "parse": measure_parsing,
               "engine": measure_engine}[mode]
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


def run_child(mode: str, directory: Path) -> dict[str, Any]:
    """One measurement in a fresh interpreter (its own peak memory); returns its figures."""
    from recon.memory import with_lean_allocator

    completed = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode, str(directory)],
                               cwd=ROOT, capture_output=True, text=True, check=False,
                               env=with_lean_allocator(os.environ))  # Arrow's allocator, as `recon dashboard`
    marked = [line for line in completed.stdout.splitlines() if line.startswith(MEASURE_MARK)]
    if completed.returncode != 0 or not marked:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(f"the {mode} measurement failed for {directory}")
    return json.loads(marked[-1][len(MEASURE_MARK):])


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
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{start}\n{end}\n"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    path.write_text(f"{before}{start}\n{results_block(results)}{end}{after}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated, of: " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size (best and median)")
    parser.add_argument("--results", type=Path, default=None, help="update this results file's table")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child[0], Path(args.child[1]))
        return
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    results: list[SizeResult] = []
    for size in sizes:
        results.append(measure_size(size, max(args.repeat, 1), results[-1] if results else None))
    if args.results:
        write_results(results, args.results)


if __name__ == "__main__":
    main()
