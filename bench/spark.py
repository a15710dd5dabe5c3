"""The Spark engine against the local one (issue 20), on generated MSPs in Parquet.

    make bench-spark SIZES=1M,10M

For each size it generates the sample MSP as Parquet once (``recon sample --format parquet
--usage-sites 2``, cached under ``bench/data/``); 10M is ten copies of the 1M sample whose clients and
invoice numbers are renamed apart (``recon sample`` for 137,000 clients in one process needs about 18 GB,
more than this machine can spare), each copy's tables in part files that a ``profile.toml`` names.
Then, each in a fresh process:

* local: ``recon.load_directory`` + ``recon.reconcile`` + ``write_outputs`` (seconds, peak RSS);
* spark: ``reconcile_on_spark`` + ``SparkRun.write_outputs`` on ``local-cluster[2,1,MB]`` (two executor
  JVMs beside the driver, so that the driver's memory is the driver's alone: its Python process plus its
  JVM, whose heap ``spark.driver.memory`` bounds), seconds without the session's start;
* the outputs of both compared byte for byte (discrepancies, summary, receivables).

The local engine is skipped where the machine has not the memory it would need (``LOCAL_GB_PER_M``
per million invoice lines free). The last line per size is ``SIZE rows: local S s, spark S s, peak M MB
(driver)``. No timing is asserted anywhere: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results.md"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
INVOICE_LINES_PER_CLIENT = 73
USAGE_SITES = 2
SEED = 7
COPIES = 10  # 10M: copies of the 1M sample
LOCAL_GB_PER_M = 2.5  # the local engine's peak per million invoice lines (bench/results.md), plus margin
DRIVER_MEMORY = "1g"
EXECUTOR_MEMORY_MB = 3072
COMPARED = ("discrepancies.csv", "summary.json", "receivables.csv")
MEASURE_MARK = "BENCH-RESULT "


# ------------------------------------------------------------------------------------------- the data

def data_dir(size: str) -> Path:
    directory = DATA / f"parquet-{size}-seed{SEED}-sites{USAGE_SITES}"
    if (directory / "complete").exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    if size == "10M":
        _copies(data_dir("1M"), directory, COPIES)
    else:
        clients = -(-SIZES[size] // INVOICE_LINES_PER_CLIENT)
        print(f"generating the {size} sample as Parquet ({clients:,} clients) into {directory} ...", flush=True)
        subprocess.run([sys.executable, "-m", "recon.cli", "sample", "--out", str(directory), "--clients",
                        str(clients), "--seed", str(SEED), "--usage-sites", str(USAGE_SITES), "--format", "parquet"],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    (directory / "complete").write_text(f"{size}, seed {SEED}, {USAGE_SITES} sites\n")
    return directory


CLIENT_COLUMNS = {"contracts": ("client",), "invoices": ("client",), "time_entries": ("client",),
                  "client_aliases": ("alias", "client"), "usage": ("client",)}
INVOICE_COLUMNS = {"invoices": "invoice_number", "payments": "invoice_number", "time_entries": "invoice_number"}


def _copies(source: Path, target: Path, copies: int) -> None:
    """``copies`` copies of ``source``'s tables with their clients and invoice numbers renamed apart
    (copy ``n``: ``Cn `` before a client's name, after a leading "The", ``cn`` before a tenant domain,
    ``Cn-`` before an invoice number), each table's copies as part files of a folder that
    ``profile.toml`` names; the catalog once."""
    import pyarrow.parquet as pq

    print(f"building {target.name}: {copies} renamed copies of {source.name} ...", flush=True)
    target.mkdir(parents=True)
    entries = []
    for path in sorted(source.glob("*.parquet")):
        kind = "usage" if path.stem.startswith("usage") else path.stem
        if kind == "catalog":
            shutil.copy(path, target / path.name)
            continue
        folder = target / path.stem
        folder.mkdir()
        frame = pq.read_table(path).to_pandas()
        for copy in range(copies):
            renamed = _renamed(frame, kind, copy)
            renamed.to_parquet(folder / f"part-{copy:05d}.parquet", index=False)
        entries.append(f'[[source]]\npath = "{path.stem}/*.parquet"\nkind = "{kind}"\n')
    (target / "profile.toml").write_text("\n".join(entries))


def _renamed(frame: Any, kind: str, copy: int) -> Any:
    out = frame.copy()
    for column in CLIENT_COLUMNS.get(kind, ()):
        out[column] = _client_names(out[column], copy)
    if kind in INVOICE_COLUMNS:
        column = INVOICE_COLUMNS[kind]
        out[column] = out[column].where(out[column].fillna("") == "", f"C{copy}-" + out[column].fillna(""))
    return out


def _client_names(names: Any, copy: int) -> Any:
    text = names.fillna("")
    domain = text.str.contains(r"^\S+\.\S+$", regex=True)
    the = text.str.match(r"(?i)the ")
    renamed = (f"C{copy} " + text).where(~the, text.str[:4] + f"C{copy} " + text.str[4:])
    return renamed.where(~domain, f"c{copy}" + text).where(text != "", text)


# ---------------------------------------------------------------------------------- in the subprocess

def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def measure_local(directory: Path, out: Path) -> dict[str, Any]:
    from recon import load_directory, reconcile
    from recon.exports.report import write_outputs

    started = time.perf_counter()
    result = reconcile(load_directory(directory))
    write_outputs(result, out)
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb(), "keys": len(result.keys),
            "discrepancies": len(result.discrepancies),
            "rows": sum(record.rows_loaded for record in result.imports),
            "invoice_lines": sum(record.rows_loaded for record in result.imports if record.source == "invoices")}


def measure_spark(directory: Path, out: Path, master: str) -> dict[str, Any]:
    from recon.spark import reconcile_on_spark, spark_session

    started = time.perf_counter()
    spark = spark_session(master, {"spark.driver.memory": DRIVER_MEMORY,
                                   "spark.executor.memory": f"{EXECUTOR_MEMORY_MB * 3 // 4}m",
                                   "spark.ui.enabled": "false"})
    session_seconds = time.perf_counter() - started
    started = time.perf_counter()
    run = reconcile_on_spark(str(directory), spark=spark)
    run.write_outputs(out)
    seconds = time.perf_counter() - started
    jvm_mb = _driver_jvm_peak_mb()
    figures = {"seconds": seconds, "session_seconds": session_seconds, "python_peak_mb": peak_mb(),
               "jvm_peak_mb": jvm_mb, "cores": spark.sparkContext.defaultParallelism,
               "discrepancies": len(run.result.discrepancies),
               "rows": sum(record.rows_loaded for record in run.result.imports)}
    spark.stop()
    return figures


def _driver_jvm_peak_mb() -> int:
    """The resident high-water mark of the driver's JVM: this process's java child (executors are the
    JVM's own children)."""
    import psutil

    javas = [child for child in psutil.Process().children() if "java" in child.name()]
    for java in javas:
        status = Path(f"/proc/{java.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def child_main(mode: str, directory: Path, out: Path, master: str) -> None:
    figures = measure_local(directory, out) if mode == "local" else measure_spark(directory, out, master)
    print(MEASURE_MARK + json.dumps(figures), flush=True)


# ------------------------------------------------------------------------------------ in the parent

def run_child(mode: str, directory: Path, out: Path, master: str) -> dict[str, Any]:
    from recon.memory import with_lean_allocator

    shutil.rmtree(out, ignore_errors=True)
    completed = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode, str(directory),
                                str(out), master], cwd=ROOT, capture_output=True, text=True, check=False,
                               env=with_lean_allocator(os.environ))
    marked = [line for line in completed.stdout.splitlines() if line.startswith(MEASURE_MARK)]
    if completed.returncode != 0 or not marked:
        sys.stderr.write(completed.stdout[-5000:] + completed.stderr[-5000:])
        raise SystemExit(f"the {mode} measurement failed for {directory}")
    return dict(json.loads(marked[-1][len(MEASURE_MARK):]))


def free_gb() -> float:
    import psutil

    return float(psutil.virtual_memory().available / 2**30)


def measure_size(size: str, master: str) -> dict[str, Any]:
    directory = data_dir(size)
    outputs = DATA / "out" / size
    needed = LOCAL_GB_PER_M * SIZES[size] / 1e6
    local = run_child("local", directory, outputs / "local", master) if free_gb() > needed + 2 else None
    spark = run_child("spark", directory, outputs / "spark", master)
    same = None if local is None else all(
        (outputs / "local" / name).read_bytes() == (outputs / "spark" / name).read_bytes() for name in COMPARED)
    figures = {"size": size, "local": local, "spark": spark, "identical": same, "local_needed_gb": needed,
               "driver_peak_mb": spark["python_peak_mb"] + spark["jvm_peak_mb"]}
    print(summary_line(figures), flush=True)
    return figures


def summary_line(figures: dict[str, Any]) -> str:
    local = figures["local"]
    spark = figures["spark"]
    needed = f"local skipped (needs ~{figures['local_needed_gb']:.0f} GB free)"
    local_text = f"local {local['seconds']:.1f} s" if local else needed
    return (f"{figures['size']} rows: {local_text}, spark {spark['seconds']:.1f} s, "
            f"peak {figures['driver_peak_mb']} MB (driver)")


def details(figures: dict[str, Any]) -> str:
    spark, local = figures["spark"], figures["local"]
    rate = spark["rows"] / (spark["seconds"] * spark["cores"])
    text = (f"  {spark['rows']:,} input rows, {spark['discrepancies']:,} discrepancies; spark: driver Python "
            f"{spark['python_peak_mb']} MB + driver JVM {spark['jvm_peak_mb']} MB, session start "
            f"{spark['session_seconds']:.1f} s, {spark['cores']} cores, {rate:,.0f} input rows per core-second")
    if local:
        text += f"; local peak {local['peak_mb']} MB; outputs identical: {figures['identical']}"
    return text


def machine() -> str:
    import pandas as pd
    import pyspark

    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores, {memory_gb:.0f} GB RAM, {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}, pandas {pd.__version__}, pyspark {pyspark.__version__}; "
            f"{date.today().isoformat()}, load average {os.getloadavg()[0]:.1f} at the end")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, of: " + ", ".join(SIZES))
    parser.add_argument("--master", default=f"local-cluster[2,1,{EXECUTOR_MEMORY_MB}]")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "DIR", "OUT", "MASTER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child[0], Path(args.child[1]), Path(args.child[2]), args.child[3])
        return
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    results = [measure_size(size, args.master) for size in sizes]
    print(f"Machine: {machine()}")
    for figures in results:
        print(summary_line(figures))
        print(details(figures))


if __name__ == "__main__":
    main()
