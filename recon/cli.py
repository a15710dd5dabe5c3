"""``recon``: the engine without the browser, for scheduled billing close (PRODUCT.md section 8)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from recon import io, report
from recon.engine import reconcile
from recon.errors import ReconError
from recon.money import to_decimal
from recon.settings import Settings

if TYPE_CHECKING:
    from recon.store import Store

app = typer.Typer(help="MSP Billing Recon: contracts vs vendor usage vs invoices.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

DataOption = Annotated[Path, typer.Option("--data", help="Directory of source files (contracts.csv, ...).")]
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


def fail(message: str) -> None:
    """One clear line on stderr and a non-zero exit; never a traceback for bad input."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _valid_period(value: str) -> str:
    try:
        date.fromisoformat(value + "-01")
    except ValueError:
        fail(f"--period must be YYYY-MM, got {value!r}")
    return value


@app.command()
def run(
    ctx: typer.Context,
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the results to.")],
    period: Annotated[list[str] | None, typer.Option("--period", help="YYYY-MM; repeat for several.")] = None,
    as_of: Annotated[str | None,
                     typer.Option("--as-of", help="Receivables as of this date (YYYY-MM-DD).")] = None,
    by: ByOption = "",
    label: Annotated[str, typer.Option("--label", help="A note on the stored run, e.g. 'after fixes'.")] = "",
    store: Annotated[bool, typer.Option(
        "--store/--no-store", help="Store the run in the database (default) or only write files.")] = True,
) -> None:
    """Reconcile a data directory, store the run, and write discrepancies (with their resolution status),
    summary, receivables, unmapped and quarantine."""
    periods = [_valid_period(value) for value in period or []]
    database = open_store(ctx) if store else None
    run_id, seen = None, []
    try:
        settings = database.load_settings() if database else Settings()
        if as_of:
            settings = settings.replace(as_of=date.fromisoformat(as_of))
        resolutions = database.resolutions() if database else None
        result = reconcile(io.load_directory(data), settings, periods or None,
                           mappings=database.mappings() if database else None, resolutions=resolutions)
        if database:
            seen = [record.file for record in result.imports if database.find_import(record.sha256)]
            run_id = database.save_run(result, by=by, label=label)
        report.write_outputs(result, out, resolutions)
    except ReconError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"bad option: {error}")
    except OSError as error:
        fail(f"cannot write results to {out}: {error.strerror or error}")
    for line in report.summary_lines(result):
        typer.echo(line)
    if database and run_id is not None:
        typer.echo(f"Stored as run {run_id} ({database.engine.url.render_as_string(hide_password=True)}).")
        if seen:
            typer.echo(f"  already imported before (same SHA-256): {', '.join(seen)}")
    typer.echo(f"Results written to {out}/")


def _money(units: int | None) -> str:
    return "" if units is None or pd.isna(units) else str(to_decimal(int(units)))


@app.command()
def runs(ctx: typer.Context) -> None:
    """List the stored runs, newest first."""
    listed = open_store(ctx).list_runs()
    if not len(listed):
        typer.echo("No stored runs yet (recon run stores one).")
        return
    typer.echo(f"{'id':>5}  {'created (UTC)':<16}  {'periods':<20}  {'found':>6}  {'leakage':>12}  "
               f"{'overcharge':>12}  by / label")
    for item in listed.itertuples():
        periods = item.periods if len(item.periods) <= 20 else item.periods[:17] + "..."
        who = " / ".join(text for text in (item.by, item.label) if text)
        typer.echo(f"{item.id:>5}  {item.created_at:%Y-%m-%d %H:%M}  {periods:<20}  {item.discrepancies:>6}  "
                   f"{_money(item.leakage):>12}  {_money(item.overcharge):>12}  {who}")


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
    try:
        written = open_store(ctx).export_audit_pack(run_id, out)
    except ReconError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    typer.echo(f"Audit pack of run {run_id} written to {written}")


@app.command()
def validate(data: DataOption) -> None:
    """Read and check every source file; report rows in / loaded / quarantined. Exits 1 when a file is
    refused."""
    try:
        sources = io.load_directory(data)
    except ReconError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(code=1) from None
    for record in sources.imports:
        typer.echo(f"{record.file:<28} {record.source:<15} in {record.rows_in:>7}  loaded {record.rows_loaded:>7}"
                   f"  quarantined {record.rows_quarantined:>5}")
    for issue in sources.issues.head(50).itertuples():
        typer.echo(f"  {issue.file}:{issue.line}: {issue.reason}")
    if len(sources.issues) > 50:
        typer.echo(f"  ... and {len(sources.issues) - 50} more quarantined rows")


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the sample MSP into.")],
    clients: Annotated[int, typer.Option(min=1, help="Number of clients.")] = 40,
    months: Annotated[int, typer.Option(min=1, max=120, help="Number of months.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
) -> None:
    """Write a realistic sample MSP (every discrepancy type planted) and its answer key."""
    from recon.sample import write_sample

    generated = write_sample(out, clients=clients, months=months, seed=seed)
    typer.echo(f"Sample MSP written to {out}/: {len(generated.answer_key)} planted discrepancies.")


@app.command()
def dashboard(port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501) -> None:
    """Start the dashboard (Streamlit)."""
    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    if not app_path.exists():
        fail(f"dashboard not found at {app_path}")
    raise typer.Exit(subprocess.call([sys.executable, "-m", "streamlit", "run", str(app_path),
                                      "--server.port", str(port)]))


if __name__ == "__main__":
    app()
