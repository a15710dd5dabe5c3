"""The audit pack: one stored run as an XLSX an auditor can read without the tool (PRODUCT.md section 7).

Sheets: ``summary`` (the run and its figures), ``discrepancies`` (every finding with its current status
and its resolution history), ``history`` (every resolution event of those findings, oldest first),
``inputs`` (the files read, with SHA-256 and row counts), ``settings``, ``fixes`` (the PSA fixes proposed
for the run's findings, with their status and who proposed and approved them) and ``fix_history`` (every
step of those fixes: proposed, approved, dry run, sent, accepted with the PSA's id or refused with its
message, verified by a later run, with the exact request and the answer as JSON). Money cells are numbers with
a money format, written from the exact decimal values (the totals come from the engine, never from
summing cells); text is always written as text, so a name like ``=HYPERLINK(...)`` stays inert.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd
import xlsxwriter

from recon.exports.formatting import iso_text
from recon.exports.outputs import replace_file
from recon.exports.safe import neutralise
from recon.money import to_decimal
from recon.schema import money_places

if TYPE_CHECKING:
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

    from recon.store import Store, StoredRun

SHEETS = ("summary", "discrepancies", "history", "inputs", "settings", "fixes", "fix_history")
FIX_SHEET_COLUMNS = ("fix_key", "status", "period", "client", "sku", "finding_type", "kind", "agreement_id", "line_id",
                     "before_qty", "after_qty", "unit_price", "amount", "monthly_change", "effective_date",
                     "description", "proposed_by", "proposed_at", "approved_by", "approved_at", "fingerprint")
FIX_EVENT_COLUMNS = ("fix_key", "at", "event", "by", "quantity", "effective_date", "amount", "connection", "psa_id",
                     "note", "request", "response")
_HISTORY_CONTEXT = ("period", "client", "sku", "type")


def export_audit_pack(store: Store, run_id: int, path: Path) -> Path:
    """Write the audit pack of stored run ``run_id`` to ``path`` (XLSX: summary, discrepancies with status
    and resolution history, history, inputs with hashes, settings), in one step: built in memory, then a
    file beside ``path`` renamed over it (``recon.exports.outputs.replace_file``), so that a failure
    leaves no half-written pack. Its folder is created when missing. Returns ``path``; raises ``OSError``
    when ``path`` cannot be written (a folder, no permission)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_file(target, audit_pack(store, run_id))
    return target


def audit_pack(store: Store, run_id: int) -> bytes:
    """The audit pack of stored run ``run_id`` as XLSX bytes (for a download button)."""
    buffer = io.BytesIO()
    _write_run(store, run_id, buffer)
    return buffer.getvalue()


def _write_run(store: Store, run_id: int, target: Path | BinaryIO) -> None:
    from recon.store.fixes import FixLedger

    stored = store.load_run(run_id)
    events = store.history()
    ledger = FixLedger(store)
    write_audit_pack(stored, events[events["fingerprint"].isin(set(stored.discrepancies["fingerprint"]))], target,
                     fixes=ledger.fixes(run_id), fix_events=ledger.events(run_id=run_id))


def fix_event_rows(fix_events: pd.DataFrame) -> pd.DataFrame:
    """A run's fix events (``FixLedger.events``) for the pack: request and answer as the JSON text stored."""
    out = fix_events.reindex(columns=list(FIX_EVENT_COLUMNS))
    for column in ("request", "response"):
        out[column] = out[column].map(lambda value: "" if value is None or (isinstance(value, float) and value != value)
                                      else value if isinstance(value, str) else json.dumps(value))
    return out


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates and moments as ISO text (``YYYY-MM-DD``; UTC ``YYYY-MM-DD HH:MM:SS`` with a time of day)."""
    moments = [column for column in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[column])]
    return frame.assign(**{column: iso_text(frame[column]) for column in moments})


def write_audit_pack(run: StoredRun, events: pd.DataFrame, target: Path | BinaryIO, *,
                     fixes: pd.DataFrame | None = None, fix_events: pd.DataFrame | None = None) -> None:
    """Write ``run`` and the resolution ``events`` of its fingerprints (``Store.history`` rows) as XLSX
    to ``target``, a path (its directory is created) or a binary buffer; with the run's PSA ``fixes``
    (their state) and ``fix_events`` (who proposed, approved and applied what, when, with the request and
    the PSA's answer)."""
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    destination = str(target) if isinstance(target, Path) else target
    workbook = xlsxwriter.Workbook(destination, {"strings_to_formulas": False, "strings_to_urls": False,
                                                 "strings_to_numbers": False, "in_memory": True})
    formats = {"header": workbook.add_format({"bold": True, "bottom": 1}),
               2: workbook.add_format({"num_format": "#,##0.00"}),
               4: workbook.add_format({"num_format": "#,##0.0000"})}
    sheets: dict[str, pd.DataFrame] = {
        "summary": summary_rows(run), "discrepancies": discrepancy_rows(run.discrepancies, events),
        "history": history_rows(run.discrepancies, events), "inputs": run.imports,
        "settings": pd.DataFrame(list(run.settings.to_dict().items()), columns=["setting", "value"]),
        "fixes": _dated((fixes if fixes is not None else pd.DataFrame()).reindex(columns=list(FIX_SHEET_COLUMNS))),
        "fix_history": _dated(fix_event_rows(fix_events if fix_events is not None else pd.DataFrame())),
    }
    for name in SHEETS:
        _write_sheet(workbook.add_worksheet(name), sheets[name], formats)
    workbook.close()


# What a summary item is called where a person reads it (issue 22 item 6); the rest read as their words.
SUMMARY_WORDS = {
    "created_at": "Created (UTC)", "engine_version": "Engine version", "billed_revenue": "Billed revenue",
    "leakage": "Leakage (under-billed)", "overcharge": "Overcharge (refunds owed)",
    "net_variance": "Net variance (billed - expected)", "ar_balance": "Open balance (accounts receivable)",
    "overdue_balance": "Overdue balance", "dso": "DSO (days sales outstanding)", "discrepancies": "Findings",
    "effective_hourly_rate": "Effective hourly rate", "realisation": "Realisation (billed / worked hours)",
}
_SUMMARY_ACRONYMS = {"sku": "SKU", "skus": "SKUs", "ar": "AR", "dso": "DSO", "psa": "PSA"}


def summary_words(key: str) -> str:
    """``leakage_rate`` -> "Leakage rate", ``aging 1-30`` -> "Aging 1-30 days": a summary item in words."""
    if key in SUMMARY_WORDS:
        return SUMMARY_WORDS[key]
    if key.startswith("aging "):
        bucket = key.removeprefix("aging ")
        return f"Aging {bucket}" + ("" if bucket == "current" else " days")
    words = " ".join(_SUMMARY_ACRONYMS.get(word, word) for word in key.split("_"))
    return words[:1].upper() + words[1:]


def summary_rows(run: StoredRun) -> pd.DataFrame:
    """The run's identity and every overall figure as (item, value, key) rows: ``item`` in words, ``key``
    the figure's name in ``summary.json`` (for a script); money as ``Decimal`` with the places
    ``recon.schema`` declares (``Overall.to_dict``)."""
    rows: list[tuple[str, Any]] = [
        ("run", run.id), ("created_at", _stamp(run.created_at)), ("by", run.by), ("label", run.label),
        ("periods", ", ".join(run.periods)), ("engine_version", run.engine_version),
    ]
    for name, value in run.overall.to_dict().items():
        if isinstance(value, dict):
            rows.extend((f"{name} {key}", _figure(name, inner)) for key, inner in value.items())
        else:
            rows.append((name, _figure(name, value)))
    return pd.DataFrame([(summary_words(key), value, key) for key, value in rows], columns=["item", "value", "key"])


def _figure(name: str, value: Any) -> Any:
    if value is not None and (money_places(name) is not None or name == "aging"):
        return Decimal(str(value))
    return value


def discrepancy_rows(found: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Discrepancies with who resolved them last, when, with what note, and the whole history as text."""
    ordered = _stamped(events)
    latest = ordered.drop_duplicates("fingerprint", keep="last").set_index("fingerprint")
    notes = ordered["note"].map(lambda note: f": {note}" if note else "").astype("string")
    line = ordered["at"] + " " + ordered["status"] + " by " + ordered["by"].replace("", "?") + notes
    story = line.groupby(ordered["fingerprint"]).agg(" | ".join)
    fingerprint = found["fingerprint"]
    return found.assign(
        resolved_by=fingerprint.map(latest["by"]), resolved_at=fingerprint.map(latest["at"]),
        resolution_note=fingerprint.map(latest["note"]), resolution_history=fingerprint.map(story))


def history_rows(found: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Every resolution event, oldest first, with the period, client, sku and type it concerns."""
    context = found[["fingerprint", *_HISTORY_CONTEXT]].drop_duplicates("fingerprint")
    out = _stamped(events).merge(context, on="fingerprint", how="left")
    return out[["id", "at", "fingerprint", *_HISTORY_CONTEXT, "status", "by", "note"]]


def _stamped(events: pd.DataFrame) -> pd.DataFrame:
    """Events oldest first, ``at`` as UTC text (also when there are none: then there is no datetime
    for ``map`` to go through, so the column type is set explicitly)."""
    ordered = events.sort_values("id", kind="stable")
    stamps = pd.Series([_stamp(moment) for moment in ordered["at"]], index=ordered.index, dtype="string")
    return ordered.assign(at=stamps)


def _stamp(moment: Any) -> str:
    if moment is None or moment is pd.NaT or (not isinstance(moment, datetime) and pd.isna(moment)):
        return ""
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def _write_sheet(sheet: Worksheet, frame: pd.DataFrame, formats: dict[Any, Format]) -> None:
    for column, name in enumerate(frame.columns):
        sheet.write_string(0, column, neutralise(str(name)), formats["header"])
        places = money_places(str(name))
        for row, value in enumerate(frame[name].tolist(), start=1):
            _write_cell(sheet, row, column, value, formats.get(places) if places else None, formats)
        sheet.set_column(column, column, _width(str(name), frame[name]))
    sheet.freeze_panes(1, 0)
    if len(frame):
        sheet.autofilter(0, 0, len(frame), max(len(frame.columns) - 1, 0))


def _width(name: str, values: pd.Series, sample: int = 2000) -> int:
    """A column wide enough for its header and its longest text among the first ``sample`` rows
    (client names, fingerprints, resolution notes), from 12 to 60 characters."""
    texts = values.head(sample).dropna().astype(str)
    longest = int(texts.str.len().max()) if len(texts) else 0
    return min(max(len(name), longest, 10) + 2, 60)


def _write_cell(sheet: Worksheet, row: int, column: int, value: Any, money: Format | None,
                formats: dict[Any, Format]) -> None:
    """Money columns hold Int64 units (shown with their places); ``Decimal`` cells are money too, shown
    with as many places as they were written with."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        sheet.write_blank(row, column, None)
    elif money is not None and isinstance(value, int):
        sheet.write_number(row, column, float(to_decimal(value, 4) or 0), money)
    elif isinstance(value, Decimal):
        sheet.write_number(row, column, float(value), formats.get(-int(value.as_tuple().exponent), formats[2]))
    elif isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value)
    elif isinstance(value, datetime):
        sheet.write_string(row, column, _stamp(value))
    else:  # text stays text, and inert if the file is ever re-saved as CSV (recon.exports.safe)
        sheet.write_string(row, column, neutralise(str(value)))
