"""``recon``: the engine without the browser, for scheduled billing close (PRODUCT.md section 8)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from recon import access
from recon.errors import ReconError
from recon.memory import with_lean_allocator
from recon.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from recon.connectors.frames import PullResult
    from recon.engine import Mappings, Reconciliation
    from recon.ingest.directory import Inspection
    from recon.ingest.guard import UploadLimits
    from recon.sources import Sources
    from recon.spark import SparkRun
    from recon.spark.reconcile import HistoryReader
    from recon.store import Store
    from recon.store.fixes import FixLedger

ENV_URL = "RECON_DATABASE_URL"

# Every command imports what it uses when it runs (issue 25): `recon --help` and a command's own help
# load typer and nothing of pandas, Arrow, the engine or Great Expectations. The engine's entry points
# are module functions here, so a test can still replace them.


def reconcile(*args: Any, **kwargs: Any) -> Reconciliation:
    """``recon.engine.reconcile``, imported when first called."""
    from recon.engine import reconcile as engine_reconcile

    return engine_reconcile(*args, **kwargs)


_LAZY_RECONCILE = reconcile


def _engine_entry(function: Any) -> Any:
    """``function``, or the engine's own entry point when it is one of the wrappers above: a call made to
    it directly leaves the engine the only holder of what it is handed, which it can then free (the
    stored charges of a second month at 1M, once resolved: 250 MB of its peak)."""
    if function is _LAZY_RECONCILE:  # (a test may have put another function in its place)
        from recon.engine import reconcile as engine_reconcile

        return engine_reconcile
    return function


def load_directory(directory: Path, limits: UploadLimits | None = None) -> Sources:
    """``recon.ingest.directory.load_directory``, imported when first called."""
    from recon.ingest.directory import load_directory as load

    return load(directory, limits=limits)


def inspect_directory(directory: Path, limits: UploadLimits | None = None) -> Inspection:
    """``recon.ingest.directory.inspect_directory``, imported when first called."""
    from recon.ingest.directory import inspect_directory as inspect

    return inspect(directory, limits=limits)


def describe_findings(actionable: int, informational: int = 0) -> str:
    """``recon.metrics.describe_findings``, imported when first called."""
    from recon.metrics import describe_findings as described

    return described(actionable, informational)


def money_text(units: int | None) -> str:
    """``recon.exports.formatting.money_text``, imported when first called."""
    from recon.exports.formatting import money_text as text

    return text(units)


def redact(message: str) -> str:
    """``recon.exports.safe.redact``, imported when first called."""
    from recon.exports.safe import redact as masked

    return masked(message)

app = typer.Typer(help="MSP Billing Recon: contracts vs vendor usage vs invoices.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="markdown")

DataOption = Annotated[Path, typer.Option("--data", help="Directory of source files (contracts.csv, ...).")]
ConnectionOption = Annotated[list[str] | None, typer.Option(
    "--connection", help="A named connection of connections.toml to pull from; repeat for several.")]
ConnectionsFileOption = Annotated[Path | None, typer.Option(
    "--connections", help="The connections file (default: $RECON_CONNECTIONS_FILE, else ./connections.toml).")]
ByOption = Annotated[str, typer.Option("--by", help="Who is doing this (kept in the audit trail).")]


@app.callback()
def main(
    ctx: typer.Context,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="RECON_DATABASE_URL", show_envvar=True,
        help="Where runs and resolutions are stored (default: sqlite:///recon.db in the working "
             "directory; e.g. postgresql://user:password@127.0.0.1/recon).")] = None,
) -> None:
    """MSP Billing Recon: contracts vs vendor usage vs invoices."""
    ctx.obj = {"database_url": database_url}


def open_store(ctx: typer.Context) -> Store:
    """The store named by ``--database-url`` / ``RECON_DATABASE_URL`` (a clear error when unusable)."""
    from recon.store import Store

    try:
        return Store((ctx.obj or {}).get("database_url"))
    except ReconError as error:
        fail(str(error))
        raise  # unreachable: fail() exits


class TerminalSteps:
    """What a long command is doing, for the person waiting at a terminal: one line per step on standard error,
    with the seconds since the command began (a million-row ``recon run`` takes 10 to 30 s, issue 25).
    Redirected or piped (a scheduled close, a log, a script) it says nothing: stdout and stderr read as
    before."""

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self._started = self._clock()
        self._shown = sys.stderr.isatty()
        self._last_pull_step = ""

    def step(self, message: str) -> None:
        if self._shown:
            typer.echo(f"[{self._clock() - self._started:5.1f} s] {redact(message)}", err=True)

    def pulling(self, step: str, fraction: float) -> None:
        """A connector's ``progress(step, fraction)``: each step said once, as it begins (an API's pages can
        take minutes)."""
        if step != self._last_pull_step:
            self._last_pull_step = step
            name, _, what = step.rpartition(": ")  # (``cw: invoices``: ``recon.connectors.pull_named``)
            self.step(f"pulled {name}".rstrip() if what == "done" else f"pulling {step}")


def fail(message: str) -> None:
    """One clear line on stderr and a non-zero exit; never a traceback for bad input (and never a
    password: database URLs are redacted)."""
    typer.echo(f"error: {redact(message)}", err=True)
    raise typer.Exit(code=2)


def _valid_period(value: str) -> str:
    try:
        date.fromisoformat(value + "-01")
    except ValueError:
        fail(f"--period must be YYYY-MM, got {value!r}")
    return value


def _valid_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be YYYY-MM-DD, got {value!r}")
        raise  # unreachable: fail() exits


def _os_error(error: OSError) -> str:
    """A file that cannot be read or written, in the system's words with its name (no traceback)."""
    return f"cannot use {error.filename or 'a file'}: {error.strerror or error}"


def _spark_failure(error: Exception) -> ReconError | None:
    """``recon.spark.spark_failure``, imported when first called."""
    from recon.spark import spark_failure

    return spark_failure(error)


EngineOption = Annotated[str, typer.Option(
    "--engine", help="`local` (this process) or `spark` (a Spark cluster, chosen by --master; the same answers).")]
MasterOption = Annotated[str | None, typer.Option(
    "--master", help="(spark) The cluster: `local[*]` (the default), `spark://host:7077`, `yarn`, `k8s://...`; "
                     "without it, Spark's own setting (spark-submit, spark-defaults.conf, $MASTER).")]
SparkConfOption = Annotated[list[str] | None, typer.Option(
    "--spark-conf", help="(spark) A Spark setting as KEY=VALUE, e.g. `spark.driver.memory=1g`; repeat for several.")]
FormatOption = Annotated[str, typer.Option(
    "--format", help="`csv` (the default) or `parquet` (the same tables, for large runs).")]


@app.command()
def run(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the results to.")],
    data: Annotated[str | None, typer.Option(
        "--data", help="Directory of source files (contracts.csv, ...); with --engine spark also any URI "
                       "Spark reads (`s3a://bucket/msp/2026-11`).")] = None,
    connection: ConnectionOption = None,
    connections: ConnectionsFileOption = None,
    period: Annotated[list[str] | None, typer.Option("--period", help="YYYY-MM; repeat for several.")] = None,
    as_of: Annotated[str | None,
                     typer.Option("--as-of", help="Receivables as of this date (YYYY-MM-DD).")] = None,
    by: ByOption = "",
    label: Annotated[str, typer.Option("--label", help="A note on the stored run, e.g. 'after fixes'.")] = "",
    store: Annotated[bool, typer.Option(
        "--store/--no-store", help="Store the run in the database (default) or only write files.")] = True,
    quantity_basis: Annotated[str | None, typer.Option(
        "--quantity-basis", help="day_weighted (a quantity held part of a month counts for its days) or "
                                 "period_end (the quantity on the month's last day counts in full); default: "
                                 "the stored setting.")] = None,
    engine: EngineOption = "local",
    master: MasterOption = None,
    spark_conf: SparkConfOption = None,
    file_format: FormatOption = "csv",
    keys: Annotated[bool, typer.Option(
        "--keys", help="Also write keys.csv: every period, client and sku of the run (large: a million rows "
                       "at 1M invoice lines). With --format parquet keys.parquet is always written.")] = False,
) -> None:
    """Reconcile a data directory (--data) or a month pulled straight from connections (--connection), store
    the run, and write discrepancies (with their resolution status), summary, receivables, unmapped and
    quarantine (every key too with `--keys`). Vendor charges kept from earlier stored imports count where they
    cover the run's months (an annual charge bought in March counts in November). With `--engine spark` the
    data directory is read and reconciled on Spark without drawing on the stored charges (the run says so when
    the store holds some for its months); its own usage rows are stored as charge history all the same."""
    from recon.exports import report

    periods = [_valid_period(value) for value in period or []]
    receivables_as_of = _valid_date(as_of, "--as-of") if as_of else None
    if (data is None) == (not connection):
        fail("give exactly one of --data DIR or --connection NAME")
    if connection and len(periods) != 1:
        fail("--connection needs exactly one --period YYYY-MM: the month to pull")
    if engine not in ENGINES or file_format not in report.FILE_FORMATS:
        fail(f"--engine is one of {', '.join(ENGINES)} and --format one of {', '.join(report.FILE_FORMATS)}")
    if engine == "spark" and connection:
        fail("--engine spark reads a data directory (--data), not a --connection")
    from recon.exports.outputs import check_folder

    try:
        check_folder(out, report.OUTPUT_NAMES)  # before any work: the results replace the folder whole
    except ReconError as error:
        fail(str(error))
    progress = TerminalSteps()
    if engine == "local" and data is not None:  # Great Expectations' import (seconds) and its suites run in a
        from recon.ingest.quality import start_worker, stop_worker  # worker process, while this one reads files

        if start_worker():
            ctx.call_on_close(stop_worker)
    database = open_store(ctx) if store else None
    run_id, seen, spark_run = None, [], None
    try:
        settings = database.load_settings() if database else Settings()
        if receivables_as_of:
            settings = settings.replace(as_of=receivables_as_of)
        if quantity_basis:
            settings = settings.replace(quantity_basis=quantity_basis)
        resolutions = database.resolutions() if database else None
        adjustments = database.agreement_adjustments() if database else None
        mappings = database.mappings() if database else None
        if engine == "spark":
            progress.step(f"reconciling {data} on Spark" + (", with any charges stored by earlier imports"
                                                            if database else ""))
            spark_run = _on_spark(data or "", settings, periods, mappings, resolutions, adjustments, master,
                                  spark_conf or [], database.charge_history if database else None)
            result = spark_run.result
        else:
            from recon.ingest.guard import UploadLimits

            limits = UploadLimits.from_settings(settings)
            if data is not None:
                progress.step(f"reading the files of {data}")
            sources = load_directory(Path(data), limits=limits) if data is not None else _pulled_sources(
                connection or [], periods[0], connections, progress)
            progress.step(f"reconciling {_rows_read(sources)}"
                          + (", with any charges stored by earlier imports" if database else ""))
            # the stored charges are handed over, not kept here: the engine frees them once they are resolved
            result = _engine_entry(reconcile)(
                sources, settings, periods or None, mappings=mappings, resolutions=resolutions,
                history=database.history_for(sources, periods) if database else None,
                adjustments=adjustments)
        if database:
            seen = [record.file for record in result.imports if database.find_import(record.sha256)]
            progress.step(f"storing the run ({len(result.discrepancies):,} findings) in {database.shown_url}")
            run_id = database.save_run(result, by=by, label=label,
                                       charges=spark_run.charge_chunks() if spark_run is not None else None)
        progress.step(f"writing the results to {out}/")
        if spark_run is not None:
            spark_run.write_outputs(out, resolutions, file_format, keys=keys)
        else:
            report.write_outputs(result, out, resolutions, file_format=file_format, keys=keys)
    except ReconError as error:
        fail(str(error))
    except Exception as error:
        # Spark failing anywhere in the run (reading, storing the charges, writing the ranges): one sentence
        failure = _spark_failure(error) if engine == "spark" else None
        if failure is not None:
            fail(str(failure))
        if not isinstance(error, OSError):
            raise
        fail(_os_error(error))  # a data file that cannot be read, an output that cannot be written
    for line in spark_run.summary_lines() if spark_run is not None else report.summary_lines(result):
        typer.echo(redact(line))
    for line in report.unused_column_lines(sources.reports) if spark_run is None else []:
        typer.echo(redact(line))
    if database and run_id is not None:
        typer.echo(f"Stored as run {run_id} ({database.shown_url}).")
        if seen:
            typer.echo(f"  already imported before (same SHA-256): {', '.join(seen)}")
        if result.history_imports:
            typer.echo("  stored charges drawn on: " + ", ".join(record.file for record in result.history_imports))
    typer.echo(f"Results written to {out}/")
    if database is None:
        _ENDS_AT_ONCE.append(True)  # (``entry``: the program may end without tearing the run down)


ENGINES = ("local", "spark")


def _rows_read(sources: Sources) -> str:
    """The rows a run reconciles, in words: "1,027,607 usage rows, 1 payment, ..."."""
    said = []
    for kind, frame in sources.frames.items():
        if len(frame):
            one, many = _ROW_WORDS.get(kind, (f"{kind} row", f"{kind} rows"))
            said.append(f"{len(frame):,} {one if len(frame) == 1 else many}")
    return ", ".join(said) or "no rows"


_ROW_WORDS = {"contracts": ("contract line", "contract lines"), "usage": ("usage row", "usage rows"),
              "invoices": ("invoice line", "invoice lines"), "time_entries": ("time entry", "time entries"),
              "payments": ("payment", "payments"), "catalog": ("catalog row", "catalog rows"),
              "client_aliases": ("client alias", "client aliases")}


def _on_spark(data: str, settings: Settings, periods: list[str], mappings: Mappings | None,
              resolutions: pd.DataFrame | None, adjustments: pd.DataFrame | None, master: str | None,
              conf: list[str], history: HistoryReader | None = None) -> SparkRun:
    """The run on Spark (``recon.spark``), drawing on the store's charge ``history`` (``Store.charge_history``)
    as a local run does (``run`` says Spark's own failures in one sentence)."""
    from recon.spark import reconcile_on_spark

    settings_given = dict(item.split("=", 1) for item in conf if "=" in item)
    if len(settings_given) != len(conf):
        fail("--spark-conf takes KEY=VALUE")
    return reconcile_on_spark(data, settings, periods or None, mappings, resolutions, adjustments,
                              master=master, conf=settings_given, history=history)


def _pulled_sources(names: list[str], period: str, connections_file: Path | None, progress: TerminalSteps) -> Sources:
    from recon.connectors import pull_sources

    sources, results = pull_sources(names, period, connections_file, progress.pulling)
    for result in results:
        _echo_counts(result)
    return sources


def _echo_counts(result: PullResult) -> None:
    typer.echo(f"Pulled {result.connection} for {result.period}:")
    for record in result.imports:
        typer.echo(f"  {record.source:<15} in {record.rows_in:>7}  loaded {record.rows_loaded:>7}"
                   f"  quarantined {record.rows_quarantined:>5}  sha256 {record.sha256[:12]}")


@app.command()
def pull(
    ctx: typer.Context,
    connection: Annotated[list[str], typer.Option("--connection", help="A named connection; repeat for several.")],
    period: Annotated[str, typer.Option("--period", help="The month to pull, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Data directory to write the canonical CSVs into.")] = Path("data"),
    connections: ConnectionsFileOption = None,
    store: Annotated[bool, typer.Option(
        "--store/--no-store", help="Record the pulled imports (with their SHA-256) in the database.")] = True,
) -> None:
    """Pull one month from connections into a data directory (canonical CSVs ``recon run --data`` reads),
    printing each pulled source's validation report as ``recon validate`` does for a file; the pulls are
    recorded as imports with their hash."""
    from recon.connectors import pull_clashes, pull_named, write_pull
    from recon.exports import report

    month = _valid_period(period)
    progress = TerminalSteps()
    database = open_store(ctx) if store else None
    seen: list[str] = []
    try:
        results = pull_named(connection, month, connections, progress.pulling)
        clashes = pull_clashes(results, out)
        if clashes:  # nothing written: a file of the folder is never lost to a pull
            fail("; ".join(clashes))
        for result in results:
            write_pull(result, out)
            if database:
                seen += [record.file for record in result.imports if database.record_import(record).duplicate]
    except ReconError as error:
        fail(str(error))
    except OSError as error:  # the output directory cannot be written
        fail(_os_error(error))
    for result in results:
        typer.echo(f"Pulled {result.connection} for {result.period}:")
        for loaded in result.loaded:
            for line in [*report.validation_lines(loaded.report, loaded.issues), f"  sha256 {loaded.record.sha256}"]:
                typer.echo(redact(line))
    if seen:
        typer.echo(f"  already imported before (same SHA-256): {', '.join(seen)}")
    typer.echo(f"Canonical sources written to {out}/")


@app.command()
def runs(ctx: typer.Context) -> None:
    """List the stored runs, newest first."""
    listed = open_store(ctx).list_runs()
    if not len(listed):
        typer.echo("No stored runs yet (recon run stores one).")
        return
    typer.echo(f"{'id':>5}  {'created (UTC)':<16}  {'periods':<20}  {'found (actionable + informational)':>34}  "
               f"{'leakage':>12}  {'overcharge':>12}  by / label")
    for item in listed.itertuples():
        periods = item.periods if len(item.periods) <= 20 else item.periods[:17] + "..."
        who = " / ".join(text for text in (item.by, item.label) if text)
        found = describe_findings(item.discrepancies - item.informational, item.informational)
        typer.echo(f"{item.id:>5}  {item.created_at:%Y-%m-%d %H:%M}  {periods:<20}  {found:>34}  "
                   f"{money_text(item.leakage):>12}  {money_text(item.overcharge):>12}  {who}")


@app.command()
def resolve(
    ctx: typer.Context,
    fingerprints: Annotated[list[str], typer.Argument(help="Fingerprint(s) of the discrepancies (see "
                                                           "discrepancies.csv).")],
    status: Annotated[str, typer.Option("--status", help="open, billed, credited, accepted or disputed.")],
    note: Annotated[str, typer.Option("--note", help="Why (credit memo number, ticket, ...).")] = "",
    by: ByOption = "",
) -> None:
    """Record a resolution for one or more discrepancies (kept in an append-only history)."""
    try:
        open_store(ctx).resolve(fingerprints, status, note=note, by=by)
    except ReconError as error:
        fail(str(error))
    typer.echo(f"Marked {len(set(fingerprints))} discrepancy(ies) {status.strip().lower()}.")


@app.command()
def history(
    ctx: typer.Context,
    fingerprint: Annotated[str | None, typer.Argument(help="One fingerprint (default: every one).")] = None,
) -> None:
    """Show the resolution history (who set which status when, with the note), oldest first."""
    events = open_store(ctx).history(fingerprint)
    if not len(events):
        typer.echo("No resolutions recorded.")
    for event in events.itertuples():
        note = f": {event.note}" if event.note else ""
        typer.echo(f"{event.at:%Y-%m-%d %H:%M:%S} UTC  {event.fingerprint}  {event.status:<9} "
                   f"by {event.by or '?'}{note}")


@app.command()
def export(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="The stored run (see recon runs).")],
    out: Annotated[Path, typer.Option("--out", help="The XLSX file to write.")] = Path("audit.xlsx"),
) -> None:
    """Write a stored run's audit pack (summary, discrepancies with resolution history, inputs with
    hashes, settings) as XLSX."""
    from recon.exports.audit import export_audit_pack

    try:
        written = export_audit_pack(open_store(ctx), run_id, out)
    except ReconError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    typer.echo(f"Audit pack of run {run_id} written to {written}")


def _stored_limits(ctx: typer.Context) -> UploadLimits:
    """The limits of the stored settings when a store exists (``recon run`` applies the same ones); the
    defaults otherwise (``recon validate`` never creates a database)."""
    from recon.ingest.guard import UploadLimits

    url = (ctx.obj or {}).get("database_url") or "sqlite:///recon.db"
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return UploadLimits()
    return UploadLimits.from_settings(open_store(ctx).load_settings())


@app.command()
def validate(
    ctx: typer.Context,
    data: DataOption,
    all_expectations: Annotated[bool, typer.Option("--all", help="List passed expectations too.")] = False,
    limit: Annotated[int, typer.Option(min=0, help="Quarantined rows to print per file.")] = 20,
) -> None:
    """Read and check every source file (profile.toml, presets, expectation suites) and print the report
    per file: expectations passed and failed, quarantined rows with reasons, rows in = used +
    quarantined, and the physical lines they came from. The limits are the stored settings' (as for
    ``recon run``) when a store exists. Exits 1 when a file is refused or a required source is missing."""
    from recon.exports import report

    try:
        inspection = inspect_directory(data, limits=_stored_limits(ctx))
    except ReconError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(code=1) from None
    issues = {item.record.file: item.issues for item in inspection.loaded}
    for file_report in inspection.reports:
        file_issues = issues.get(file_report.file)
        for line in report.validation_lines(file_report, file_issues, all_expectations, limit):
            typer.echo(redact(line))
    for line in [*inspection.ignored, *inspection.unused_entries]:
        typer.echo(f"note: {line}")
    missing = inspection.missing_kinds()
    if missing:
        typer.echo(f"refused: no file provides the required source(s): {', '.join(missing)}", err=True)
    if inspection.refused or missing:
        raise typer.Exit(code=1)


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the sample MSP into.")],
    clients: Annotated[int, typer.Option(min=1, help="Number of clients.")] = 40,
    months: Annotated[int, typer.Option(min=1, max=120, help="Number of months.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    usage_sites: Annotated[int, typer.Option(
        min=1, max=100, help="Usage rows per subscription and month (vendors reporting per site).")] = 1,
    file_format: Annotated[str, typer.Option(
        "--format", help="`csv` (the default) or `parquet` (the same tables as Parquet files).")] = "csv",
) -> None:
    """Write a realistic sample MSP (every discrepancy type planted) and its answer key."""
    from recon.sample import write_sample

    if file_format not in ("csv", "parquet"):
        fail("--format is csv or parquet")
    generated = write_sample(out, clients=clients, months=months, seed=seed, usage_sites=usage_sites,
                             file_format=file_format)
    typer.echo(f"Sample MSP written to {out}/: {len(generated.answer_key)} planted discrepancies.")


@app.command()
def dashboard(ctx: typer.Context, port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501) -> None:
    """Start the dashboard (Streamlit behind the app's guard, ``dashboard/server.py``), on 127.0.0.1
    unless ``STREAMLIT_SERVER_ADDRESS`` says otherwise. On the very first start, creates the user
    ``admin`` and prints its one-time password here, once."""
    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "server.py"
    if not app_path.exists():
        fail(f"dashboard not found at {app_path}")
    store = open_store(ctx)
    announce_first_admin(store)
    store.close()
    env = with_lean_allocator({**os.environ, **({ENV_URL: ctx.obj["database_url"]}
                                                if (ctx.obj or {}).get("database_url") else {}),
                               # uvicorn would rewrite the client address from X-Forwarded-For of any
                               # local peer; the guard does it, for the proxies RECON_TRUSTED_PROXIES names
                               "FORWARDED_ALLOW_IPS": ""})
    command = [sys.executable, "-m", "streamlit", "run", str(app_path), "--server.port", str(port)]
    if os.name == "posix":  # become the server: a stop signal (Ctrl-C, systemd, docker stop) reaches it
        sys.stdout.flush()  # (the banner above, when stdout is a pipe or a file)
        os.execve(sys.executable, command, env)
    raise typer.Exit(subprocess.call(command, env=env))


def announce_first_admin(store: Store) -> None:
    """Create the first admin on an empty user table and print its one-time password (never stored
    in clear, never printed again)."""
    from recon.access.storage import StoreAuthStorage

    password = access.ensure_first_admin(StoreAuthStorage(store), datetime.now(UTC))
    if password:
        typer.echo(access.first_admin_banner(password))


# ---------------------------------------------------------------------------------------------- users

user_app = typer.Typer(help="Who may sign in to the dashboard, with which role.", no_args_is_help=True,
                       rich_markup_mode="markdown")
app.add_typer(user_app, name="user")


def open_auth(ctx: typer.Context) -> access.AuthStorage:
    from recon.access.storage import StoreAuthStorage

    return StoreAuthStorage(open_store(ctx))


def _new_password(generate: bool) -> tuple[str, bool]:
    """(password, generated): generated and printed once, or prompted twice (hidden)."""
    if generate:
        return access.generate_password(), True
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password), False


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (for the identity provider: the e-mail address).")],
    role: Annotated[str, typer.Option("--role", help="admin, finance, account_manager or auditor.")],
    clients: Annotated[list[str] | None, typer.Option(
        "--clients", help="A client this user may see besides their own (repeat for several).")] = None,
    manager_name: Annotated[str, typer.Option(
        "--manager-name", help="The name contracts use for this person as account manager (default: the "
                               "user name).")] = "",
    generate: Annotated[bool, typer.Option("--generate", help="Generate a one-time password and print it "
                                                              "once (instead of prompting).")] = False,
    identity_provider: Annotated[bool, typer.Option(
        "--identity-provider", help="Signs in through the company identity provider only: no password.")] = False,
    by: ByOption = "cli",
) -> None:
    """Add a user. The password is prompted (hidden, twice), or generated and printed once."""
    storage = open_auth(ctx)
    password, generated = (None, False) if identity_provider else _new_password(generate)
    try:
        user = access.new_user(name, role, password, clients or (), manager_name,
                             now=datetime.now(UTC), must_change_password=generated)
        access.add_user(storage, user, by, datetime.now(UTC))
    except ReconError as error:
        fail(str(error))
    typer.echo(f"Added {user.username} ({user.role}).")
    if generated:
        typer.echo(f"One-time password (shown only now; to be changed at first sign-in): {password}")


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """List the users: name, role, how they sign in, status, extra clients."""
    users = open_auth(ctx).list_users()
    if not users:
        typer.echo("No users yet (the dashboard creates 'admin' at its first start).")
    for user in users:
        how = "password" if user.password_hash else "identity provider"
        state = "disabled" if user.disabled else ("must change password" if user.must_change_password else "active")
        extra = f"  manager name: {user.manager_name}" if user.manager_name else ""
        extra += f"  clients: {', '.join(user.clients)}" if user.clients else ""
        typer.echo(f"{user.username:<32} {user.role:<16} {how:<18} {state}{extra}")


@user_app.command("reset-password")
def user_reset_password(ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")],
                        by: ByOption = "cli") -> None:
    """Give a user a new one-time password (printed once; to be changed at the next sign-in)."""
    try:
        password = access.reset_password(open_auth(ctx), name, by, datetime.now(UTC))
    except ReconError as error:
        fail(str(error))
    typer.echo(f"One-time password for {access.normalise_username(name)} (shown only now): {password}")


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")],
                 enable: Annotated[bool, typer.Option("--enable", help="Enable again instead.")] = False,
                 by: ByOption = "cli") -> None:
    """Disable a user (open sessions end at their next click), or ``--enable`` them again."""
    try:
        user = access.change_user(open_auth(ctx), name, by, datetime.now(UTC), disabled=not enable)
    except ReconError as error:
        fail(str(error))
    typer.echo(f"{user.username} is {'enabled' if enable else 'disabled'}.")


@app.command("access-log")
def access_log(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1, help="How many lines.")] = 50) -> None:
    """Show the access log, newest first: sign-ins, exports, resolutions, user changes."""
    for event in open_auth(ctx).access_log(limit):
        user, action, target, detail, source, outcome = (one_line(text) for text in (
            event.user, event.action, event.target, event.detail, event.source, event.outcome))
        target = f" {target}" if target else ""
        detail = f" ({detail})" if detail else ""
        source = f" from {source}" if source else ""
        typer.echo(f"{event.at:%Y-%m-%d %H:%M:%S} UTC  {user:<24} {action}{target}{detail}{source}  {outcome}")


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """``text`` for one line of a terminal: line breaks, escape sequences and direction overrides shown
    escaped (``\\n``, ``\\x1b``), so a value can never start a line of its own or repaint the screen."""
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def entry() -> None:
    """The ``recon`` program: Arrow's allocator is jemalloc unless the environment names one
    (``recon.memory``: a lower peak for a large run; Arrow reads the choice once, when it loads, and no
    command has loaded it yet), every thread's ``malloc`` from one heap
    (``recon.memory.one_heap``: what the loading threads free is reused by the engine; a run at 1M
    invoice lines peaked 300 to 500 MB higher without), the garbage collector run less often
    (``recon.memory.fewer_collections``: half a second of a run), the Great Expectations worker's process
    started first thing for a ``recon run`` that will want it (``recon.ingest.gxprocess``: its imports beside
    the command's own), then the commands."""
    from recon.memory import ARROW_POOL_ENV, LEAN_ALLOCATOR, fewer_collections, one_heap

    if "pyarrow" not in sys.modules:
        os.environ.setdefault(ARROW_POOL_ENV, LEAN_ALLOCATOR)
    one_heap()
    fewer_collections()
    _ENDS_AT_ONCE.clear()
    if runs_suites_in_a_worker(sys.argv[1:]):
        from recon.ingest.gxprocess import start_early

        start_early()
    try:
        app()
    except SystemExit as ended:
        if _ENDS_AT_ONCE and ended.code in (None, 0):
            end_at_once()
        raise


# Set by a command that is done and holds nothing that needs tearing down (``recon run --no-store``).
_ENDS_AT_ONCE: list[bool] = []


def end_at_once() -> None:
    """End the process now, its work done: exit handlers run and output flushed as at any exit, but without
    the interpreter's teardown, which at 1M invoice lines frees a run's 1.7 GB object by object (0.15 to 0.4 s,
    issue 25). Returns (for the usual exit) if a thread other than the main one is still at work or the
    output cannot be flushed."""
    import atexit
    import threading

    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(0)


def runs_suites_in_a_worker(args: list[str]) -> bool:
    """Whether the program's arguments ask for what starts the GX worker (``run``: ``--data``, the local
    engine, not its help), read from the words alone, before typer parses them. A wrong yes costs a process
    ended unused at exit; a wrong no, the worker started later, as ``run`` does anyway."""
    words = list(args)
    while words and words[0].startswith("-"):  # the program's own options, before the command
        if words.pop(0) == "--database-url" and words:
            words.pop(0)
    if not words or words[0] != "run":
        return False
    options = words[1:]
    engines = [value for word, value in zip(options, [*options[1:], ""], strict=True) if word == "--engine"]
    engines += [word.split("=", 1)[1] for word in options if word.startswith("--engine=")]
    return ("--help" not in options and all(engine == "local" for engine in engines)
            and any(word == "--data" or word.startswith("--data=") for word in options))


# ---------------------------------------------------------------------------------------------- fixes

fixes_app = typer.Typer(help="The PSA fixes proposed for a stored run's findings: review, approve, write back "
                             "(dry run unless --apply).", no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(fixes_app, name="fixes")
RunOption = Annotated[int, typer.Option("--run", help="The stored run (see recon runs).")]
KeysArgument = Annotated[list[str] | None, typer.Argument(help="Fix keys (see recon fixes list).")]


def _ledger(ctx: typer.Context) -> FixLedger:
    from recon.store.fixes import FixLedger

    return FixLedger(open_store(ctx))


def _quantity_text(value: object) -> str:
    return "" if value is None or value != value else f"{float(str(value)):g}"


@fixes_app.command("list")
def fixes_list(
    ctx: typer.Context,
    run_id: RunOption,
    status: Annotated[str | None, typer.Option("--status", help="Only fixes with this status.")] = None,
) -> None:
    """List a run's fixes: key, status, the change (quantity before -> after), one-time amount, monthly
    change and effective date."""
    try:
        current = _ledger(ctx).fixes(run_id)
    except ReconError as error:
        fail(str(error))
    if status:
        current = current[current["status"].eq(status.strip().lower())]
    if not len(current):
        typer.echo(f"No fixes{' ' + status if status else ''} in run {run_id}.")
        return
    typer.echo(f"{'fix':<16}  {'status':<9}  {'effective':<10}  {'quantity':>11}  {'one-time':>11}  "
               f"{'monthly':>10}  change")
    for row in current.itertuples():
        quantity = (f"{_quantity_text(row.before_qty)}->{_quantity_text(row.after_qty)}"
                    if row.after_qty == row.after_qty else "")
        typer.echo(f"{row.fix_key:<16}  {row.status:<9}  {row.effective_date:%Y-%m-%d}  {quantity:>11}  "
                   f"{money_text(row.amount):>11}  {money_text(row.monthly_change):>10}  "
                   f"{row.client}: {row.description}")


@fixes_app.command("approve")
def fixes_approve(
    ctx: typer.Context,
    run_id: RunOption,
    keys: KeysArgument = None,
    every: Annotated[bool, typer.Option("--all", help="Every fix of the run that may be approved.")] = False,
    effective_date: Annotated[str | None, typer.Option(
        "--effective-date", help="One effective date for all of them (YYYY-MM-DD).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why (kept in the history).")] = "",
    by: ByOption = "",
) -> None:
    """Approve fixes (named, or --all that are proposed), optionally with one effective date."""
    when = _valid_date(effective_date, "--effective-date") if effective_date else None
    ledger = _ledger(ctx)
    try:
        if every:
            current = ledger.fixes(run_id)
            keys = current.loc[current["status"].isin(["proposed"]), "fix_key"].tolist()
            if not keys:
                typer.echo(f"No proposed fixes in run {run_id}.")
                return
        count = ledger.approve(run_id, keys or [], by, effective_date=when, note=note)
    except ReconError as error:
        fail(str(error))
    typer.echo(f"Approved {count} fix(es) of run {run_id}{f' effective {when}' if when else ''}.")


@fixes_app.command("reject")
def fixes_reject(ctx: typer.Context, run_id: RunOption, keys: KeysArgument = None,
                 note: Annotated[str, typer.Option("--note", help="Why.")] = "", by: ByOption = "") -> None:
    """Decline fixes: they are not written; their findings stay as they are."""
    try:
        count = _ledger(ctx).reject(run_id, keys or [], by, note=note)
    except ReconError as error:
        fail(str(error))
    typer.echo(f"Rejected {count} fix(es) of run {run_id}.")


@fixes_app.command("done")
def fixes_done(ctx: typer.Context, run_id: RunOption, keys: KeysArgument = None,
               note: Annotated[str, typer.Option("--note", help="Where (a ticket, the PSA's id).")] = "",
               by: ByOption = "") -> None:
    """Record exported (or approved) fixes as entered in the PSA by hand; their findings are resolved."""
    try:
        count = _ledger(ctx).applied_by_hand(run_id, keys or [], by, note=note)
    except ReconError as error:
        fail(str(error))
    typer.echo(f"Recorded {count} fix(es) of run {run_id} as applied by hand.")


@fixes_app.command("apply")
def fixes_apply(
    ctx: typer.Context,
    run_id: RunOption,
    keys: KeysArgument = None,
    send: Annotated[bool, typer.Option(
        "--apply/--dry-run", help="Send the requests to the PSA (--apply) or only show and store them "
                                  "(--dry-run, the default).")] = False,
    connections: ConnectionsFileOption = None,
    out: Annotated[Path, typer.Option(
        "--out", help="Where the fixes no connection takes are written (CSV and checklist PDF).")] = Path("fixes"),
    by: ByOption = "",
) -> None:
    """Write a run's approved fixes to the PSA each came from (a dry run unless --apply: the exact requests
    are printed and stored); fixes of a PSA no connection writes to are exported as a CSV and a checklist
    PDF. Applying twice changes nothing."""
    import json

    from recon import connectors
    from recon.connectors import writeback
    from recon.exports.fixes import fixes_csv, fixes_pdf
    from recon.fixes import FixOutcome

    ledger = _ledger(ctx)
    try:
        chosen = ledger.approved(run_id, keys or None)
        if not chosen:
            typer.echo(f"No approved fixes to apply in run {run_id} (recon fixes approve first).")
            return
        defined = connectors.load_connections(connections)
        routed, unrouted = writeback.route(chosen, defined)

        def record(outcome: FixOutcome) -> None:
            ledger.record(run_id, [outcome], by)

        for name, some in routed.items():
            target = defined[name]
            typer.echo(f"{'Applying' if send else 'Dry run (nothing sent)'}: {len(some)} fix(es) to {target.label}")
            for outcome in writeback.apply(some, target, send=send, record=record):
                said = outcome.psa_id or outcome.message
                typer.echo(f"  {outcome.fix_key}  {outcome.event}{f': {said}' if said else ''}")
                for request in outcome.requests if not send else ():
                    typer.echo(f"    {request['method']} {request['url']}")
                    typer.echo(f"    {json.dumps(request['body'], sort_keys=False)}")
        if unrouted:
            current = ledger.fixes(run_id)
            wanted = current[current["fix_key"].isin([fix.fix_key for fix in unrouted])]
            out.mkdir(parents=True, exist_ok=True)
            csv_path, pdf_path = out / f"fixes-run-{run_id}.csv", out / f"fixes-run-{run_id}.pdf"
            csv_path.write_bytes(fixes_csv(wanted))
            pdf_path.write_bytes(fixes_pdf(wanted, f"Fixes of run {run_id} to enter in the PSA"))
            if send:
                ledger.export(run_id, wanted["fix_key"].tolist(), by, note=f"exported to {csv_path.name}")
            typer.echo(f"{len(unrouted)} fix(es) have no PSA connection: written to {csv_path} and {pdf_path} "
                       "(enter them, then recon fixes done).")
    except ReconError as error:
        fail(str(error))
    except OSError as error:
        fail(_os_error(error))


if __name__ == "__main__":
    entry()
