"""Writing a run's evidence to a directory (what ``recon run --out`` produces)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recon.engine import Reconciliation
from recon.exports.csvfile import write_csv
from recon.exports.formatting import export_frame, money_text
from recon.exports.outputs import folder_replaced
from recon.keys import describe_periods
from recon.metrics import TRIAL_WEIGHTING, describe_findings
from recon.rules import INFORMATIONAL_TYPES
from recon.sources import ValidationReport, unused_warning
from recon.status import with_status

OUTPUT_FILES = ("discrepancies.csv", "summary.json", "receivables.csv", "unmapped.csv", "quarantine.csv",
                "keys.csv")


FILE_FORMATS = ("csv", "parquet")
TABLES = ("discrepancies", "receivables", "unmapped", "quarantine", "keys", "unmatched_credits")
# What a run may have left in its folder (any format): a folder holding anything else is not replaced.
OUTPUT_NAMES = ("summary.json", *(f"{table}.{file_format}" for table in TABLES for file_format in FILE_FORMATS))


def write_outputs(result: Reconciliation, out_dir: Path, resolutions: pd.DataFrame | None = None, *,
                  file_format: str = "csv", chunks: Mapping[str, Iterable[pd.DataFrame]] | None = None,
                  keys: bool = False) -> list[Path]:
    """Write every output file of a run into ``out_dir`` as one step; returns the paths. Text cells are
    neutralised against spreadsheet formulas (``recon.exports.safe``).

    The files are written into a new folder beside ``out_dir`` and that folder is then moved into place
    (``recon.exports.outputs``): a crash at any moment leaves either the previous outputs or the
    complete new ones, never a mix. ``out_dir`` must be absent, empty, or hold only a previous run's
    outputs (``OUTPUT_NAMES``; ``OutputError`` otherwise: the folder is replaced whole).

    ``discrepancies.csv`` carries a ``status`` column: the latest of ``resolutions`` (``fingerprint``,
    ``status``, as ``Store.resolutions()`` gives) per fingerprint, else ``open``. ``file_format``
    ``parquet`` writes the same tables (the same columns and values) as ``.parquet`` files. ``chunks``
    gives a table (``keys``, ``receivables``) as frames in order instead of ``result``'s, written one
    after another: the Spark engine's tables too large to hold at once.

    Every key of the run (``keys``: a row per period, client and sku, a million at 1M invoice lines) is
    written as ``keys.csv`` only when ``keys`` is asked for, and always as ``keys.parquet`` (issue 25: the
    CSV took most of a large run's time and memory, and the findings, receivables and summary are what a
    close needs; the dashboard and the store hold the keys too).
    """
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file format must be one of {', '.join(FILE_FORMATS)}, not {file_format!r}")
    tables: dict[str, Iterable[pd.DataFrame]] = {
        "discrepancies": [with_status(result.discrepancies, resolutions)], "receivables": [result.receivables],
        "unmapped": [result.unmapped], "quarantine": [result.quarantine], "keys": [result.keys],
        "unmatched_credits": [result.unmatched_credits],
        **(chunks or {}),
    }
    if not keys and file_format == "csv":
        del tables["keys"]
    write = _write_parquet if file_format == "parquet" else _write_csv
    with folder_replaced(out_dir, OUTPUT_NAMES) as staging:
        names = [write(staging / f"{name}.{file_format}", frames).name for name, frames in tables.items()]
        write_json(staging / "summary.json", result.to_dict())
    return [out_dir / name for name in (*names, "summary.json")]


def write_json(path: Path, value: object) -> None:
    """``value`` as indented JSON and a line break, streamed to ``path``: the text of a large run's summary
    (68 MB at 10M invoice lines, its clients' figures) is never held whole, nor the encoder's million
    pieces of it (``json.dumps`` with an indent joins them all: 400 MB of the Spark driver's peak)."""
    with path.open("w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, default=str)
        handle.write("\n")


def _write_csv(path: Path, frames: Iterable[pd.DataFrame]) -> Path:
    """The frames one after another as one CSV (one header): the bytes ``safe_csv`` gives the whole,
    streamed (``recon.exports.csvfile``)."""
    with path.open("wb") as handle:
        for number, frame in enumerate(frames):
            write_csv(export_frame(frame), handle, header=number == 0)
    return path


def _write_parquet(path: Path, frames: Iterable[pd.DataFrame]) -> Path:
    """The frames one after another as one Parquet file (a row group each), with the CSV's values; its
    column types are the first frame's with rows (a frame of no rows says nothing of its types)."""
    writer = None
    last = None
    try:
        for frame in frames:
            last = frame
            if not len(frame):
                continue
            table = pa.Table.from_pandas(export_frame(frame), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, _typed(table.schema))
            writer.write_table(table.cast(writer.schema))
        if writer is None and last is not None:  # no rows at all: the columns
            table = pa.Table.from_pandas(export_frame(last), preserve_index=False)
            pq.write_table(table.cast(_typed(table.schema)), path)
    finally:
        if writer is not None:
            writer.close()
    return path


def _typed(schema: pa.Schema) -> pa.Schema:
    """``schema`` without pandas' metadata, a column of no known type (all missing) as text."""
    return pa.schema([field.with_type(pa.string()) if pa.types.is_null(field.type) else field
                      for field in schema]).remove_metadata()


def summary_lines(result: Reconciliation, billed: Iterable[str] | None = None) -> list[str]:
    """A short human summary of a run (what the CLI prints). ``billed``: the periods that saw an invoice
    line or a usage row (``billed_periods``), where ``result.keys`` does not hold every key (Spark)."""
    overall = result.metrics.overall
    currency = result.settings.currency
    periods = describe_periods(result.periods)
    rate = overall.leakage_rate
    informational = int(result.discrepancies["type"].isin(INFORMATIONAL_TYPES).sum())
    return [
        f"Reconciled {periods}: {overall.keys:,} keys, {describe_findings(overall.discrepancies, informational)} "
        "discrepancies.",
        f"  billed {grouped(overall.billed_revenue)} {currency}, "
        f"expected {grouped(overall.expected_revenue)} {currency}",
        f"  leakage {grouped(overall.leakage)} {currency}" + (f" ({rate:.2%} of expected)" if rate is not None else ""),
        f"  overcharge {grouped(overall.overcharge)} {currency}, "
        f"net variance {grouped(overall.net_variance)} {currency}",
        f"  unmapped usage rows {len(result.unmapped):,}, quarantined rows {len(result.quarantine):,}",
        *usage_note_lines(result),
        *[f"  warning: {period} has no invoice line and no vendor usage in the data, so every contract line "
          "in it counts as not billed (a month not yet invoiced, or a mistyped --period?)"
          for period in periods_without_billing(result, billed)],
    ]


def grouped(units: int | None, column: str = "amount") -> str:
    """``money_text`` (the schema's places for ``column``) with its thousands marked, as a person reads an
    amount in a line of text: ``1,163,208.92`` (the files keep ``1163208.92``, which a spreadsheet reads as a
    number); an em dash for none."""
    text = money_text(units, column)
    return f"{Decimal(text):,}" if text else "—"


def unused_column_lines(reports: Iterable[ValidationReport]) -> list[str]:
    """Per file with columns its format does not know and nothing read (an optional column renamed?), the
    report's sentence naming them, and one per column its export format has that it lacks where the
    findings depend on it (deleted, or left out of the export): what ``recon run`` prints under its
    summary."""
    warned = [(file_report.file, warning) for file_report in reports
              for warning in (unused_warning(file_report.unused_columns),
                              *(column.warning() for column in file_report.absent_columns))]
    return printable([f"  warning: {file}: {warning}" for file, warning in warned if warning])


def usage_note_lines(result: Reconciliation) -> list[str]:
    """What reading the vendor rows found (PRODUCT.md 4a), when there is something to say: days carried
    from the nearest charge, trial seats not expected to be billed, credits whose charge is not loaded."""
    overall = result.metrics.overall
    lines = []
    if overall.carried_days:
        lines.append(f"  {overall.carried_days} day(s) on {overall.carried_keys} key(s) no loaded charge "
                     "covers carried the nearest charge's quantity (load the earlier month's file to see them)")
    if overall.trial_keys:
        lines.append(f"  trial seats ({TRIAL_WEIGHTING}), not expected to be billed: {overall.trial_seats} on "
                     f"{overall.trial_keys} key(s)")
    if overall.unmatched_credits:
        lines.append(f"  {overall.unmatched_credits} credit row(s) refund a charge that is not among the "
                     "loaded rows (unmatched_credits.csv)")
    return lines


def periods_without_billing(result: Reconciliation, billed: Iterable[str] | None = None) -> list[str]:
    """The run's periods in which no invoice line and no usage row fell: asked for by mistake, or not
    billed yet, and either way not a month whose leakage means anything."""
    seen = set(billed) if billed is not None else billed_periods(result.keys)
    return [period for period in result.periods if period not in seen]


def billed_periods(keys: pd.DataFrame) -> set[str]:
    """The periods of ``keys`` that have an invoice line or a usage row (per client: the union over
    ranges of clients is the whole's)."""
    active = keys["invoice_lines"].fillna(0).gt(0) | keys["usage_rows"].fillna(0).gt(0)
    # each period once (a million keys read into a set one by one: 0.65 to 0.9 s of `recon run`, issue 25)
    return set(keys.loc[active.to_numpy(dtype=bool), "period"].drop_duplicates().astype(str))


def validation_lines(file_report: ValidationReport, issues: pd.DataFrame | None = None,
                     all_expectations: bool = False, limit: int = 20) -> list[str]:
    """One file's validation report as text (what ``recon validate`` prints): how it was read, the row
    counts, the failed (or all) expectations and up to ``limit`` quarantined rows with their reasons."""
    head = f"{file_report.file}  [{file_report.source}]"
    head += f"  read as {file_report.read_as}" if file_report.read_as else ""
    if file_report.refused:
        return printable([head, *[f"  REFUSED: {problem}" for problem in file_report.problems]])
    blank = f" ({file_report.blank_rows} blank rows skipped)" if file_report.blank_rows else ""
    lines = [head,
             f"  rows in {file_report.rows_in} = used {file_report.rows_used} + quarantined "
             f"{file_report.rows_quarantined}{blank}"]
    lines += [f"  {file_report.line_counts.describe()}"] if file_report.line_counts.lines is not None else []
    lines += [f"  encoding: {file_report.encoding}"] if file_report.encoding not in ("", "UTF-8") else []
    lines += [f"  warning: {warning}" for warning in file_report.warnings]
    known = [column.describe() for column in file_report.unused_columns if column.known]
    lines += [f"  not used (the format has them, nothing here needs them): {', '.join(known)}"] if known else []
    lines += [f"  expectations: {len(file_report.passed)} passed, {len(file_report.failed)} failed"]
    shown = file_report.expectations if all_expectations else file_report.failed
    lines += [f"    {'ok    ' if outcome.success else 'FAILED'} {outcome.rule:<48} {outcome.expectation}"
              f"  ({outcome.failed} of {outcome.checked} rows)" for outcome in shown]
    if issues is not None and len(issues):
        lines.append("  quarantined:")
        lines += [f"    line {issue.line}: {issue.reason}" for issue in issues.head(limit).itertuples()]
        if len(issues) > limit:
            lines.append(f"    ... and {len(issues) - limit} more "
                         "(recon run writes them all to quarantine.csv)")
    return printable(lines)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0, DEL and C1 (U+009B is an 8-bit escape)


def printable(lines: list[str]) -> list[str]:
    """Lines safe to print on a terminal: a control character from a file (an escape sequence, a
    carriage return that would overwrite the line, a C1 control) is shown as ``\\xNN``."""
    return [_CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", line) for line in lines]
