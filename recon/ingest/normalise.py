"""Normalising: a frame of text cells -> a canonical frame + quarantine rows (PRODUCT.md sections 2, 9).

Columns are matched to canonical fields (an explicit mapping, else the canonical name), each field is
parsed by its type (money and quantities exactly, dates as the profile says), defaults are applied
(amount = quantity x unit price, service period = the invoice month), and the source's expectation
suite (``recon.ingest.quality``) decides which rows go to quarantine with the file, line, column and
reason. Rows in = rows loaded + rows quarantined, always.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.cells import (
    WHITESPACE,
    arrow_text,
    as_numpy_bool,
    concat,
    constant_text,
    per_distinct,
    text_series,
    tidy_with,
)
from recon.errors import SourceError
from recon.ingest import quality
from recon.ingest.columns import unused_columns, unused_warning
from recon.ingest.guard import UploadLimits
from recon.ingest.presets import columns_read, derived_column
from recon.ingest.reading import Layout, ReadOptions, TextTable, table_layout
from recon.money import MONEY_SCALE, decimal_evidence, money_times_quantity, parse_money, parse_quantity
from recon.schema import (
    CHOICE_WORDS,
    ISSUE_COLUMNS,
    PANDAS_DTYPES,
    SOURCES,
    Field,
    canonical_dtypes,
)
from recon.sources import AbsentColumn, ImportRecord, Lines, UnusedColumn, ValidationReport

Prepare = Callable[[pd.DataFrame], pd.DataFrame]
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "billable", "x"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "donotbill", "nocharge", "nodefault", ""})
Parser = Callable[[pd.Series, "ReadOptions"], pd.Series]
FREQUENCY_WORDS = CHOICE_WORDS["billing_frequency"]


@dataclass(frozen=True)
class LoadedSource:
    """One file normalised: the canonical rows, its quarantined rows, its import record and its
    validation report."""

    frame: pd.DataFrame
    issues: pd.DataFrame
    record: ImportRecord
    report: ValidationReport

# ----------------------------------------------------------------------------------------- normalising

def match_columns(columns: Iterable[str], kind: str,
                  mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Canonical field -> file column: an explicit ``mapping`` first, then the canonical name itself
    (case, spaces and underscores ignored)."""
    by_folded = {_fold(column): column for column in columns}
    matched: dict[str, str] = {}
    for spec in SOURCES[kind]:
        explicit = (mapping or {}).get(spec.name)
        if explicit is not None and explicit in by_folded.values():
            matched[spec.name] = explicit
        elif explicit is None and _fold(spec.name) in by_folded:
            matched[spec.name] = by_folded[_fold(spec.name)]
    return matched


def column_list(columns: Iterable[object], shown: int = 30) -> str:
    """Column names for a message: the first ``shown``, each cut to 60 characters."""
    names = [str(column)[:60] for column in columns]
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _fold(name: str) -> str:
    return name.strip().casefold().replace(" ", "").replace("_", "")


def missing_required(kind: str, matched: dict[str, str]) -> list[str]:
    return [spec.name for spec in SOURCES[kind] if spec.required and spec.name not in matched]


def normalise(raw: pd.DataFrame | TextTable, kind: str, file_name: str, options: ReadOptions = ReadOptions(),
              mapping: Mapping[str, str] | None = None, prepare: Prepare | None = None,
              limits: UploadLimits | None = None) -> LoadedSource:
    """Text cells (a ``TextTable`` read from a file, or a frame: a pulled table) -> canonical frame of
    ``kind`` plus quarantined rows and the validation report.

    ``prepare`` (a preset's or profile's rule: text frame -> text frame, same rows) runs on the data rows
    before the columns are matched. Raises ``SourceError`` naming every missing required column, or a
    field that two columns could hold (a guess). Blank rows are skipped (counted as ``blank_rows``); a
    row the reader quarantined (``Layout.rejected``), a repeated header row, a row with an amount or
    quantity beyond ``limits.max_line_amount`` or a control character, and any row that fails an
    expectation of the source's suite (``recon.ingest.quality``: unreadable or missing required values,
    negative quantities, dates out of range, ...) goes to quarantine, one issue per row with all its
    reasons. Every physical line of a file is accounted for in ``ImportRecord.line_counts``. Columns no
    field (nor ``prepare``) reads are named in the report (``recon.ingest.columns``), and so are the
    columns a preset's export format has that the file lacks where a finding depends on them
    (``Preset.absent``), each in a warning saying what its absence means.
    """
    parsed = parse_cells(raw, kind, file_name, options, mapping, prepare, limits)
    return with_verdict(parsed, quality.validate(kind, parsed.judged, parsed.cells))


@dataclass(frozen=True)
class ParsedFile:
    """A file's rows parsed into canonical columns, before the quality suite judges them: ``text`` its
    non-blank rows as read (their first lines and spans in ``lines``/``spans``), ``frame`` the parsed
    ones, ``judged``/``cells`` what the suite is handed (the data rows: a repeated header row is not
    judged), ``checked`` the reasons found before the suite (limits, control characters: "" where
    none), ``warnings`` what the report should say about how it was read."""

    kind: str
    file_name: str
    text: pd.DataFrame
    lines: pd.Series
    blank_rows: int
    data_rows: np.ndarray
    frame: pd.DataFrame
    judged: pd.DataFrame
    cells: dict[str, pd.Series]
    spans: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    layout: Layout = field(default_factory=lambda: table_layout(0))
    blank_lines: int = 0
    checked: pd.Series | None = None
    warnings: tuple[str, ...] = ()
    max_line_amount: int = UploadLimits().max_line_amount
    unused_columns: tuple[UnusedColumn, ...] = ()
    absent_columns: tuple[AbsentColumn, ...] = ()


def parse_cells(raw: pd.DataFrame | TextTable, kind: str, file_name: str, options: ReadOptions,
                mapping: Mapping[str, str] | None, prepare: Prepare | None,
                limits: UploadLimits | None = None) -> ParsedFile:
    if kind not in SOURCES:
        raise SourceError(file_name, [f"unknown source kind {kind!r}; expected one of {', '.join(SOURCES)}"])
    table = raw if isinstance(raw, TextTable) else TextTable(raw, table_layout(len(raw)))
    limits = limits or UploadLimits()
    text = table.frame.reset_index(drop=True)
    lines = pd.Series(table.layout.lines, dtype="Int64")
    spans = table.layout.spans
    blank = _rows_equal_to(text, [""] * len(text.columns))
    blank_lines = int(spans[blank].sum())
    if blank.any():
        text, lines, spans = text[~blank].reset_index(drop=True), lines[~blank].reset_index(drop=True), spans[~blank]
    data_rows = ~_repeated_header(text).to_numpy()
    with columns_read() as read:
        prepared = prepare(text).fillna("") if prepare is not None else text
    matched = match_columns(prepared.columns, kind, mapping)
    missing = missing_required(kind, matched)
    if missing:
        raise SourceError(file_name, [f"missing required column(s) for {kind}: {', '.join(missing)}"
                                      f" (found: {column_list(text.columns)})"])
    ambiguous = _ambiguous_columns(prepared.columns, matched, mapping, table.layout.duplicates)
    if ambiguous:
        raise SourceError(file_name, ambiguous)

    frame = _upper_codes(pd.DataFrame({spec.name: _parse_field(
        spec, prepared[matched[spec.name]] if spec.name in matched else None, len(text), options)
        for spec in SOURCES[kind]}, index=text.index, copy=False))
    given = {name: prepared[column] for name, column in matched.items()}
    every_row = bool(data_rows.all())  # the usual case: no row need be picked out (nor copied)
    picked = prepared if every_row else prepared[data_rows]
    cells = {name: picked[column] for name, column in matched.items()}
    unused = unused_columns(text, {*matched.values(), *read.found}, read.known,
                            [*(spec.name for spec in SOURCES[kind] if spec.name not in matched), *read.wanted])
    absent = absent_columns(read.absent, matched)
    return ParsedFile(kind, file_name, text, lines, int(blank.sum()), data_rows, frame,
                      frame if every_row else frame[data_rows], cells, spans, table.layout, blank_lines,
                      _line_checks(kind, frame, given, limits.max_line_amount),
                      (*_decimal_warnings(kind, given, options.decimal), *filter(None, [unused_warning(unused)]),
                       *(column.warning() for column in absent), *read.notes),
                      limits.max_line_amount, unused, absent)


def absent_columns(absent: Iterable[AbsentColumn], matched: Mapping[str, str]) -> tuple[AbsentColumn, ...]:
    """The columns a preset's format has that the file lacks (``Preset.absent``), but for a field the file
    still gives from another column (a profile's mapping, or its canonical name)."""
    return tuple(column for column in absent
                 if matched.get(column.field, derived_column(column.field)) == derived_column(column.field))


def with_verdict(parsed: ParsedFile, validation: quality.Validation) -> LoadedSource:
    """The parsed file with the suite's verdict: good rows in canonical dtypes, the others quarantined
    (with the rows the reader quarantined), and every physical line accounted for."""
    kind, file_name, text, lines, data_rows = (parsed.kind, parsed.file_name, parsed.text, parsed.lines,
                                               parsed.data_rows)
    if data_rows.all():
        reasons = validation.reasons.set_axis(text.index)
    else:
        reasons = constant_text("repeated header row", text.index)
        reasons[data_rows] = validation.reasons.to_numpy()
    frame = _apply_defaults(kind, parsed.frame)
    reasons = _joined_reasons(reasons, parsed.checked, _computed_beyond(kind, parsed.frame, frame,
                                                                         parsed.max_line_amount))
    frame["source_file"] = constant_text(file_name, frame.index)
    frame["source_line"] = lines
    bad = reasons.ne("").to_numpy()
    # (a boolean pick of no rows still has Arrow concatenate every text column: slice when none is bad)
    picked_rows = (lambda frame: frame[bad]) if bad.any() else (lambda frame: frame.iloc[:0])
    rejected = parsed.layout.rejected
    issues = _issues_frame(kind, file_name, picked_rows(lines), picked_rows(reasons), picked_rows(text))
    if len(rejected):
        issues = pd.concat([issues, _rejected_issues(kind, file_name, parsed.layout)], ignore_index=True)
        issues = issues.sort_values("line", kind="stable", ignore_index=True)
    good = (frame[~bad].reset_index(drop=True) if bad.any() else frame).astype(canonical_dtypes(kind))
    quarantined = int(bad.sum()) + len(rejected)
    counts = _line_counts(parsed, bad)
    record = ImportRecord(kind, file_name, "", len(text) + len(rejected), len(good), quarantined, parsed.blank_rows
                          + parsed.layout.blank_rows, counts)
    report = ValidationReport(kind, file_name, record.rows_in, record.rows_loaded, record.rows_quarantined,
                              record.blank_rows, validation.outcomes, line_counts=counts,
                              encoding=parsed.layout.encoding, warnings=(*parsed.layout.warnings, *parsed.warnings),
                              unused_columns=parsed.unused_columns, absent_columns=parsed.absent_columns)
    return LoadedSource(good, issues, record, report)


def _line_counts(parsed: ParsedFile, bad: np.ndarray) -> Lines:
    layout = parsed.layout
    if layout.physical_lines is None:
        return Lines()
    spans = parsed.spans
    return Lines(layout.physical_lines, layout.header_lines, int(spans[~bad].sum()),
                 int(spans[bad].sum()) + int(layout.rejected.spans.sum()), layout.blank_lines + parsed.blank_lines)


def _rejected_issues(kind: str, file_name: str, layout: Layout) -> pd.DataFrame:
    rejected = layout.rejected
    count = len(rejected)
    return pd.DataFrame({
        "source": pd.Series([kind] * count, dtype="string"), "file": pd.Series([file_name] * count, dtype="string"),
        "line": pd.array(rejected.lines, dtype="Int64"), "column": pd.Series([""] * count, dtype="string"),
        "reason": pd.Series(list(rejected.reasons), dtype="string"),
        "raw": pd.Series(list(rejected.raw), dtype="string")}, columns=list(ISSUE_COLUMNS))


def _joined_reasons(reasons: pd.Series, *more: pd.Series | None) -> pd.Series:
    """Each row's reasons joined with ``; `` (the suite's first)."""
    for extra in more:
        if extra is None or not extra.ne("").any():
            continue
        extra = extra.set_axis(reasons.index)
        both = reasons.ne("") & extra.ne("")
        reasons = reasons.where(~extra.ne(""), extra).where(~both, reasons + "; " + extra)
    return reasons


def _ambiguous_columns(columns: Iterable[str], matched: Mapping[str, str], mapping: Mapping[str, str] | None,
                       duplicates: tuple[tuple[str, tuple[int, ...]], ...]) -> list[str]:
    """A field that two columns could hold is a guess: a column name that repeats in the header (``client``
    and ``client ``), or names that only differ in case, spaces or underscores (``Client``, ``client``)
    where the field is found by its canonical name."""
    repeated = dict(duplicates)
    problems = [f"{len(repeated[column])} columns are named {column!r} (columns "
                f"{', '.join(str(number) for number in repeated[column])}): which one holds {name} would be a "
                "guess; rename or remove the others" for name, column in matched.items() if column in repeated]
    folded: dict[str, list[str]] = {}
    for column in columns:
        folded.setdefault(_fold(column), []).append(column)
    explicit = mapping or {}
    problems += [f"columns {', '.join(repr(column) for column in folded[_fold(name)])} all read as {name}: which "
                 "one holds it would be a guess; rename or remove the others, or map the field in profile.toml"
                 for name in matched if name not in explicit and len(folded.get(_fold(name), [])) > 1]
    return problems


def _line_checks(kind: str, frame: pd.DataFrame, given: Mapping[str, pd.Series], max_units: int) -> pd.Series | None:
    """Reasons found before the suite, per row ("" where none; ``None`` when no row has one): a money
    amount or quantity beyond the per-line limit, or too long to be money at all. (A control character
    in a value is found while reading: ``recon.ingest.reading``.)"""
    reasons = None
    for spec in SOURCES[kind]:
        if spec.name not in given or spec.type not in ("money", "quantity"):
            continue
        cells = given[spec.name]
        found = _beyond_limit(spec, frame[spec.name], cells, max_units)
        if found.any():
            start = pd.Series("", index=frame.index, dtype="string") if reasons is None else reasons
            reasons = _joined_reasons(start, _reasons_at(found, cells, _beyond_reason(spec.name, max_units)))
    return reasons


def _beyond_reason(name: str, max_units: int) -> Callable[[str], str]:
    def reason(text: str) -> str:
        return (f"{name}: '{text[:40]}' is beyond the limit of {max_units // MONEY_SCALE:,} per line "
                "(max_line_amount in the settings)")
    return reason


def _beyond_limit(spec: Field, parsed: pd.Series, cells: pd.Series, max_units: int) -> np.ndarray:
    if spec.type not in ("money", "quantity"):
        return np.zeros(len(parsed), dtype=bool)
    limit = max_units if spec.type == "money" else max_units / MONEY_SCALE
    values = parsed.to_numpy(dtype="float64", na_value=np.nan) if spec.type == "quantity" else \
        parsed.to_numpy(dtype="int64", na_value=0)
    beyond = np.abs(values) > limit
    unread = parsed.isna().to_numpy()
    if unread.any():  # too many digits for money to hold: unreadable, and beyond the limit as well
        long_numbers = cells[unread].str.contains(r"[0-9]{15}", regex=True).fillna(False).to_numpy(dtype=bool)
        beyond[np.flatnonzero(unread)[long_numbers]] = True
    return beyond


def _reasons_at(rows: np.ndarray, cells: pd.Series, reason: Callable[[str], str]) -> pd.Series | None:
    if not rows.any():
        return None
    out = pd.Series("", index=cells.index, dtype="string")
    texts = cells[rows].fillna("").astype(str)
    out[rows] = [reason(text) for text in texts]
    return out


def _computed_beyond(kind: str, parsed: pd.DataFrame, frame: pd.DataFrame, max_units: int) -> pd.Series | None:
    """An amount computed from quantity x unit price (none given) beyond the per-line limit, or too large
    for money to hold at all."""
    if kind != "invoices":
        return None
    computed = parsed["amount"].isna() & parsed["quantity"].notna() & parsed["unit_price"].notna()
    beyond = computed & (frame["amount"].isna() | frame["amount"].abs().gt(max_units).fillna(True))
    if not beyond.any():
        return None
    out = pd.Series("", index=frame.index, dtype="string")
    out[beyond.to_numpy(dtype=bool)] = (f"amount: quantity x unit price is beyond the limit of "
                                        f"{max_units // MONEY_SCALE:,} per line (max_line_amount in the settings)")
    return out


def _decimal_warnings(kind: str, given: Mapping[str, pd.Series], decimal: str) -> tuple[str, ...]:
    """Warnings naming the profile setting where a money or number column looks written with the other
    decimal mark (``12,50`` read with ``.``), or could be (``1,234``)."""
    other = "," if decimal == "." else "."
    warnings = []
    for spec in SOURCES[kind]:
        if spec.type not in ("money", "quantity") or spec.name not in given:
            continue
        evidence = decimal_evidence(given[spec.name], decimal)
        setting = f'set decimal = "{other}" for this file in profile.toml'
        if evidence.mistaken:
            warnings.append(f"{spec.name}: {evidence.mistaken:,} value(s) such as '{evidence.mistaken_example}' "
                            f"look written with a decimal '{other}', but the file is read with '{decimal}': "
                            f"those rows are quarantined; if the file uses decimal '{other}', {setting}")
        if evidence.ambiguous:
            warnings.append(f"{spec.name}: {evidence.ambiguous:,} value(s) such as '{evidence.ambiguous_example}' "
                            f"were read with '{other}' as a thousands separator; if the file uses decimal "
                            f"'{other}' instead, {setting}")
    return tuple(warnings)


def _upper_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """Currency codes are compared upper-case ("usd" is USD)."""
    if "currency" not in frame:
        return frame
    return frame.assign(currency=frame["currency"].str.upper())


def _repeated_header(text: pd.DataFrame) -> pd.Series:
    """A copy-paste often leaves the header row again inside the data: quarantine it as such."""
    return pd.Series(_rows_equal_to(text, [str(column) for column in text.columns]), index=text.index)


def _rows_equal_to(text: pd.DataFrame, values: list[str]) -> np.ndarray:
    """Rows whose cells equal ``values`` column by column (a missing cell counts as equal). Each column
    is compared on the rows still matching, so a million-row file costs about one column's pass."""
    matching = np.arange(len(text))
    for column, value in zip(text.columns, values, strict=True):
        cells = arrow_text(text[column] if len(matching) == len(text) else text[column].iloc[matching])
        if len(matching) == len(text) and not cells.null_count and _holds_no(cells, value):
            return np.zeros(len(text), dtype=bool)  # the usual answer, from one scan without a mask
        matching = matching[as_numpy_bool(pc.fill_null(pc.equal(cells, value), True))]
        if not len(matching):
            break
    rows = np.zeros(len(text), dtype=bool)
    rows[matching] = True
    return rows


def _holds_no(cells: pa.ChunkedArray, value: str) -> bool:
    """Whether no cell is ``value`` (an empty value: whether no cell is empty)."""
    if not len(cells):
        return True
    if value == "":
        return bool(pc.min(pc.binary_length(cells)).as_py())
    return pc.index(cells, value).as_py() < 0


def _parse_field(spec: Field, cells: pd.Series | None, length: int, options: ReadOptions) -> pd.Series:
    """Parse one column; a cell that cannot be read (or is blank) is ``<NA>``, which the quality suite
    turns into a reason when the value was required or given."""
    if cells is None:
        return _empty_column(spec, length)
    if spec.type == "choice":
        return per_distinct(lambda distinct: parse_choice(distinct, spec.name), cells)
    return _PARSERS[spec.type](cells, options)


def _empty_column(spec: Field, length: int) -> pd.Series:
    """An absent optional column: all missing, in the field's dtype."""
    return pd.Series([None] * length, dtype=object).astype(PANDAS_DTYPES[spec.type])


# The text mark a spreadsheet shows nothing of: recon writes a ' before text a spreadsheet would run as a
# formula (recon.exports.safe.neutralise, every CSV it writes: pulled sources too); reading drops one, so
# a name comes back as it was written ("'=x" -> "=x", "''=x" -> "'=x").
_TEXT_MARK = "^'('*[ \n\u00a0\u3000]*[=+@\t\r-])"


def without_text_marks(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """``text`` with one spreadsheet text mark dropped where it stands before a formula character."""
    if not pc.any(pc.starts_with(text, "'")).as_py():
        return text
    return pc.replace_substring_regex(text, _TEXT_MARK, "\\1")


def _parse_text(cells: pd.Series, options: ReadOptions) -> pd.Series:
    text = arrow_text(cells)
    collapsed = tidy_with(text, lambda untidy: pc.replace_substring_regex(untidy, WHITESPACE + "+", " "))
    collapsed = without_text_marks(collapsed)
    if len(text) and pc.min(pc.binary_length(text)).as_py():  # no empty cell: nothing to blank out
        return text_series(collapsed, cells.index)
    return text_series(pc.if_else(pc.equal(text, ""), pa.scalar(None, collapsed.type), collapsed), cells.index)


def _parse_money(cells: pd.Series, options: ReadOptions) -> pd.Series:
    return parse_money(cells, options.decimal)


def _parse_quantity(cells: pd.Series, options: ReadOptions) -> pd.Series:
    return parse_quantity(cells, options.decimal)


_TIME_ZONE_SUFFIX = r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:Z|[+-]\d{2}:?\d{2})$"


def parse_dates(cells: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates: the profile's format when given; else ISO 8601 ``YYYY-MM-DD``, then M/D/YYYY (a time part,
    with or without a zone, is ignored: the date is the one written)."""
    text = cells.astype("string").str.strip()
    text = text.where(text.str.contains(r"[0-9]", regex=True).fillna(False))  # "today", "now": words, not dates
    # A timestamp's zone (``Z``, ``+02:00``) is dropped: the date is the one written (APIs send UTC stamps).
    text = text.str.replace(_TIME_ZONE_SUFFIX, r"\1", regex=True)
    if date_format:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
        return _in_ns_range(parsed.dt.tz_localize(None).dt.normalize())
    day = text.str.split(r"[T ]", n=1, regex=True).str[0]
    iso = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    us = pd.to_datetime(day, format="%m/%d/%Y", errors="coerce")
    return _in_ns_range(iso.fillna(us))


def _in_ns_range(dates: pd.Series) -> pd.Series:
    """Canonical dates are datetime64[ns] (years 1678 to 2261); a date outside cannot be read."""
    inside = dates.between(pd.Timestamp.min, pd.Timestamp.max).fillna(False)
    return dates.where(inside).astype("datetime64[ns]")


def _parse_date(cells: pd.Series, options: ReadOptions) -> pd.Series:
    return parse_dates(cells, options.date_format)


def _parse_flag(cells: pd.Series, options: ReadOptions) -> pd.Series:
    folded = cells.str.casefold().str.replace(r"[\s_-]", "", regex=True)
    values = pd.Series(pd.NA, index=cells.index, dtype="boolean")
    values[folded.isin(TRUE_WORDS).fillna(False).to_numpy()] = True
    values[folded.isin(FALSE_WORDS).fillna(False).to_numpy() & cells.ne("").to_numpy()] = False
    return values


def parse_choice(cells: pd.Series, name: str) -> pd.Series:
    """Choice field ``name``'s cells -> its vocabulary (``recon.schema.CHOICES``; case, spaces, ``-`` and
    ``_`` ignored, synonyms such as ``Semi-Annual`` or ``yearly`` read); ``<NA>`` where not one of them."""
    folded = cells.astype("string").str.casefold().str.replace(r"[\s_-]", "", regex=True)
    return folded.map(CHOICE_WORDS[name]).astype("string")


def _once_per_distinct(parse: Parser) -> Parser:
    """``parse`` run on each distinct cell once (see ``recon.cells.per_distinct``): a column of a
    million cells holds a few hundred dates, prices or flags."""
    def parse_distinct(cells: pd.Series, options: ReadOptions) -> pd.Series:
        return per_distinct(lambda distinct: parse(distinct, options), cells)
    return parse_distinct


_PARSERS: dict[str, Parser] = {
    "text": _parse_text, "money": _once_per_distinct(_parse_money),
    "quantity": _once_per_distinct(_parse_quantity), "date": _once_per_distinct(_parse_date),
    "flag": _once_per_distinct(_parse_flag),
}


def _apply_defaults(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Defaults PRODUCT.md sections 2 and 4a give: monthly billing, billable and prorated lines,
    whole-month periods, consumption rows, item lines, and an invoice amount of quantity x unit price
    less the discount."""
    out = frame.copy(deep=False)
    if kind == "contracts":
        out["billing_frequency"] = out["billing_frequency"].fillna("monthly")
        out["billable"] = out["billable"].fillna(True)
        out["prorate"] = out["prorate"].fillna(True)
    if kind == "usage":
        _fill_missing(out, "period_end", lambda rows: month_end(rows["period_start"]))
        out["row_type"] = out["row_type"].fillna("usage")
    if kind == "invoices":
        out["line_type"] = out["line_type"].fillna("item")
        _fill_missing(out, "amount", lambda rows: money_times_quantity(rows["quantity"], rows["unit_price"])
                      - rows["discount"].fillna(0))
        _fill_missing(out, "period_start", lambda rows: month_start(rows["invoice_date"]))
        _fill_missing(out, "period_end", lambda rows: month_end(rows["period_start"]))
    return out


def _fill_missing(frame: pd.DataFrame, column: str, default: Callable[[pd.DataFrame], pd.Series]) -> None:
    """Fill ``column``'s missing values with ``default`` computed on those rows only (a file usually
    gives the value on every row, and then nothing is computed)."""
    missing = frame[column].isna().to_numpy()
    if missing.any():
        frame[column] = frame[column].fillna(default(frame[missing]))


def month_start(dates: pd.Series) -> pd.Series:
    """First day of each date's month (NaT stays NaT)."""
    months = dates.to_numpy("datetime64[ns]").astype("datetime64[M]")
    return pd.Series(months.astype("datetime64[ns]"), index=dates.index)


def month_end(dates: pd.Series) -> pd.Series:
    """Last day of each date's month (NaT stays NaT)."""
    next_months = dates.to_numpy("datetime64[ns]").astype("datetime64[M]") + 1
    last_days = next_months.astype("datetime64[D]") - np.timedelta64(1, "D")
    return pd.Series(last_days.astype("datetime64[ns]"), index=dates.index)


def _issues_frame(kind: str, file_name: str, lines: pd.Series, reasons: pd.Series,
                  rows: pd.DataFrame) -> pd.DataFrame:
    raw = _joined_cells(rows) if len(rows) else pd.Series(dtype="string")
    first_column = reasons.str.extract(r"^([a-z_]+):", expand=False)
    return pd.DataFrame({
        "source": pd.Series(kind, index=reasons.index, dtype="string"),
        "file": pd.Series(file_name, index=reasons.index, dtype="string"),
        "line": lines.to_numpy(),
        "column": first_column.fillna("").to_numpy(),
        "reason": reasons.to_numpy(),
        "raw": raw.to_numpy() if len(rows) else pd.Series([], dtype="string"),
    }, columns=list(ISSUE_COLUMNS)).reset_index(drop=True)


def _joined_cells(rows: pd.DataFrame) -> pd.Series:
    """Each row's cells as one ``a | b | c`` text (``<NA>`` for a missing cell), for the quarantine."""
    cells = [pc.fill_null(arrow_text(rows[column]), "<NA>") for column in rows.columns]
    return text_series(concat(cells, " | "), rows.index)



