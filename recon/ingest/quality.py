"""Data quality: a Great Expectations suite per canonical source, run on every import (PRODUCT.md section 9).

``io.normalise`` parses a file's text cells into canonical columns and hands the parsed rows here. The
suite of the source kind runs once per file on that frame with Great Expectations (GX Core 1.x in an
in-memory *ephemeral* context: no project directory, no stores on disk, analytics off), and its result
decides quarantine: every row an expectation lists as unexpected gets a reason that names the field,
what is wrong with the cell and the expectation, e.g. ``quantity: '-3' is negative
(expect_column_values_to_be_between)``. The per-file ``ValidationReport`` lists every expectation with
the rows it checked and failed, for the CLI and the dashboard.

A cell that cannot be parsed is ``<NA>`` in the parsed frame, so "parseable" is
``expect_column_values_to_not_be_null``: for a required field on every row, for an optional field on the
rows where the file gave a value: GX checks the field's ``given_<field>`` column, which holds the
field's parsed values where the file gave one and a present stand-in value elsewhere (``_for_gx``; GX's
own row conditions filter the frame with ``pandas.query`` for every metric of the expectation, a fifth of
a suite's time).

Cost: importing GX takes about two seconds, once per process, and is deferred to the first validation
(``import_in_background`` starts it on a thread). ``recon run`` and the dashboard's server run the suites in
a worker process instead (``start_worker``, issue 25): it imports GX on the other core while the files are parsed
here (a file waiting for its verdict gives way to the next: ``giving_way``), is handed only the rows GX
judges and the checks as descriptions (``_Expectation``), and hands back what this module reads of GX's
results (``_Result``), so the verdicts are those of GX in this process. scipy's statistics and altair,
which GX imports for expectations no suite uses, are left to their first use (``_deferred``: a third of
GX's import); the worker also goes without SQLAlchemy (``_without``). A suite costs GX's plumbing per
expectation (issue 25 cut it by half: each expectation's configuration built once while a suite runs,
``_configurations_built_once``, and no row conditions) plus time in the rows it is handed, so a large
file's rows are not all handed to it: each check's verdict on a row depends only on the values it reads,
and GX judges one row of each look per check, its verdicts spread back over the rows alike (``_Looks``; a
million-line directory: 8.5 s of suites -> 2.8 s, the same reasons and counts, which
``tests/recon/test_quality.py`` checks against judging every row). ``bench/validation.py`` measures it.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import pandas as pd

from recon.errors import QualityError
from recon.ingest import gxprocess
from recon.schema import CHOICES, SOURCES, Field
from recon.sources import ExpectationOutcome

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)

# Which money and quantity fields must not be negative: only what a source cannot have (a contract
# line's quantity or price, a time entry's hours). Vendor and invoice credits are negative by nature
# (PRODUCT.md 4a and 9): a refund's quantity, a rebate's cost, a credit memo's lines.
NON_NEGATIVE: dict[str, tuple[str, ...]] = {
    "contracts": ("unit_price", "quantity", "included_hours", "hourly_rate"),
    "usage": (),
    "invoices": (),
    "time_entries": ("hours", "rate"),
    "payments": (),
    "catalog": ("list_price", "unit_cost"),
    "client_aliases": (),
}
# Keys that identify one row. Invoice lines without a ``line_id`` are not checked: two equal charges
# are a ``duplicate_charge`` finding for the rules, not bad data.
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "invoices": ("invoice_number", "line_id"),
    "time_entries": ("entry_id",),
    "catalog": ("sku",),
    "client_aliases": ("alias",),
}
# (start, end) pairs where the end must not come before the start.
DATE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "contracts": (("start_date", "end_date"),),
    "usage": (("period_start", "period_end"),),
    "invoices": (("period_start", "period_end"), ("invoice_date", "due_date")),
}
CURRENCY_FIELD = "currency"

# Active ISO 4217 codes (the fund, metal and testing codes left out: nobody bills in them).
_ISO_4217_TEXT = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD
CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ
GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL
THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VED VND VUV WST XAF XCD XCG XOF XPF YER ZAR
ZMW ZWG ZWL
"""
ISO_4217 = frozenset(_ISO_4217_TEXT.split())

# How GX names each canonical column's type: the numpy scalar type behind the pandas dtype.
GX_TYPES = {"text": "str", "choice": "str", "money": "int64", "quantity": "float64", "date": "datetime64",
            "flag": "bool"}
TYPE_WORDS = {"text": "text", "choice": "one of its values", "money": "money",
              "quantity": "a number", "date": "a date", "flag": "true or false"}


def type_words(spec: Field) -> str:
    """What a readable value of ``spec`` is, in words (a choice field lists its vocabulary)."""
    if spec.type == "choice":
        return "one of " + ", ".join(CHOICES[spec.name])
    return TYPE_WORDS[spec.type]


RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}



@dataclass(frozen=True)
class Validation:
    """The suite's verdict on a parsed frame: a reason per row (``""`` when it passed everything) and
    the outcome of every expectation."""

    reasons: pd.Series
    outcomes: tuple[ExpectationOutcome, ...]


# ------------------------------------------------------------------------------------------- the suite

@dataclass(frozen=True)
class _Expectation:
    """A Great Expectations expectation described without GX: its class in ``great_expectations.expectations``
    and the keyword arguments it is made with. A description crosses to a worker process (``start_worker``)
    and is made a GX object only where GX runs (``built``), so that the process parsing the files never
    imports GX to know its checks."""

    name: str  # e.g. ExpectColumnValuesToBeBetween
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        """GX's name of the expectation type (``expect_column_values_to_be_between``), as its results say."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()

    def built(self, gx: ModuleType) -> Any:
        """The GX expectation object (a new one on every call)."""
        return getattr(gx.expectations, self.name)(**self.kwargs)


def _expect(name: str, **kwargs: Any) -> _Expectation:
    return _Expectation(name, kwargs)


@dataclass(frozen=True)
class _Check:
    """One expectation of a suite, and how to say what is wrong with a row it rejects."""

    expectation: _Expectation
    field: str  # the field named first in the quarantine reason
    column: str  # the field(s) shown in the report
    rule: str
    # failing rows -> what is wrong with each (None for column-level expectations: no rows to blame)
    explain: Callable[[pd.Index], pd.Series] | None = None
    # What decides the verdict on a row: the values of ``reads`` (only whether they are empty, for a
    # presence check), on the rows whose ``condition`` flag is set; for a uniqueness check, also how often
    # those values occur. No ``reads``: a verdict on the table or a column's type, not on rows.
    reads: tuple[str, ...] = ()
    presence: bool = False
    condition: str | None = None
    unique: bool = False


class _Cells:
    """The text of each mapped field (what the file said), to quote in reasons."""

    def __init__(self, cells: Mapping[str, pd.Series], frame: pd.DataFrame) -> None:
        self._cells = cells
        self._frame = frame

    def quoted(self, name: str, rows: pd.Index) -> pd.Series:
        text = self._cells[name] if name in self._cells else self._frame[name].astype("string")
        return "'" + text.loc[rows].fillna("").astype("string").str.slice(0, 40) + "'"

    def blank(self, name: str, rows: pd.Index) -> pd.Series:
        if name not in self._cells:
            return pd.Series(True, index=rows)
        return self._cells[name].loc[rows].fillna("").eq("")


def suite_checks(kind: str, frame: pd.DataFrame, cells: Mapping[str, pd.Series]) -> list[_Check]:
    """The expectations for a frame of ``kind``: required columns present, values readable and of their
    canonical type, quantities and prices not negative, dates in range and in order, currency codes
    known, row keys unique. ``cells`` holds the text of the fields the file gave; a field it did not give
    is all empty and is not judged (GX spends ~20 ms per expectation, so a suite only has useful ones).
    Making the checks does not import GX."""
    text = _Cells(cells, frame)
    specs = [spec for spec in SOURCES[kind] if spec.required or spec.name in cells]
    given = {spec.name for spec in specs}
    required = [spec.name for spec in specs if spec.required]
    checks = [_Check(_expect("ExpectTableColumnsToMatchSet", column_set=required, exact_match=False), required[0],
                     ", ".join(required), "required columns present")]
    checks += [_presence(spec, text) for spec in specs if spec.required or spec.type != "text"]
    checks += [_Check(_expect("ExpectColumnValuesToBeOfType", column=spec.name, type_=GX_TYPES[spec.type]),
                      spec.name, spec.name, f"{spec.name} is {type_words(spec)}") for spec in specs]
    checks += [_non_negative(name, text) for name in NON_NEGATIVE[kind] if name in given]
    checks += [_in_date_range(spec.name, text) for spec in specs if spec.type == "date"]
    checks += [_in_order(start, end, text) for start, end in DATE_ORDER.get(kind, ())
               if {start, end} <= given]
    checks += [_known_currency(text) for name in given if name == CURRENCY_FIELD]
    if kind in UNIQUE_KEYS and set(UNIQUE_KEYS[kind]) <= given:
        checks.append(_unique(UNIQUE_KEYS[kind], text))
    return checks


def _presence(spec: Field, text: _Cells) -> _Check:
    """Required: every row has a readable value. Optional: where the file gave a value, it is readable
    (an optional text value always is)."""
    name = spec.name
    if spec.required:
        return _Check(_expect("ExpectColumnValuesToNotBeNull", column=name), name, name,
                      f"{name} present and {type_words(spec)}", _unreadable(spec, text, required=True),
                      reads=(name,), presence=True)
    return _Check(_expect("ExpectColumnValuesToNotBeNull", column=given_column(name)), name, name,
                  f"{name} {type_words(spec)} where given", _unreadable(spec, text, required=False),
                  reads=(name,), presence=True, condition=given_column(name))


def given_column(name: str) -> str:
    """The flag column telling whether the file gave a value for field ``name`` (for GX, an optional
    field's values where given: see ``_for_gx``)."""
    return f"given_{name}"


def _unreadable(spec: Field, text: _Cells, required: bool) -> Callable[[pd.Index], pd.Series]:
    def explain(rows: pd.Index) -> pd.Series:
        quoted = text.quoted(spec.name, rows)
        if spec.type == "choice":
            wrong = quoted + f" is not one of {', '.join(CHOICES[spec.name])}"
        else:
            wrong = f"cannot read {spec.type} " + quoted
        if required:
            wrong = wrong.where(~text.blank(spec.name, rows), "required value is empty")
        return wrong
    return explain


def _non_negative(name: str, text: _Cells) -> _Check:
    return _Check(_expect("ExpectColumnValuesToBeBetween", column=name, min_value=0), name, name, f"{name} >= 0",
                  lambda rows: text.quoted(name, rows) + " is negative", reads=(name,))


def _in_date_range(name: str, text: _Cells) -> _Check:
    earliest, latest = pd.Timestamp(EARLIEST_DATE), pd.Timestamp(LATEST_DATE)
    span = f"{EARLIEST_DATE.isoformat()}..{LATEST_DATE.isoformat()}"
    return _Check(_expect("ExpectColumnValuesToBeBetween", column=name, min_value=earliest, max_value=latest),
                  name, name, f"{name} within {span}",
                  lambda rows: text.quoted(name, rows) + f" is outside {span}", reads=(name,))


def _in_order(start: str, end: str, text: _Cells) -> _Check:
    expectation = _expect("ExpectColumnPairValuesAToBeGreaterThanB", column_A=end, column_B=start, or_equal=True,
                          ignore_row_if="either_value_is_missing")
    return _Check(expectation, end, f"{start}, {end}", f"{end} >= {start}",
                  lambda rows: text.quoted(end, rows) + f" is before {start} " + text.quoted(start, rows),
                  reads=(start, end))


def _known_currency(text: _Cells) -> _Check:
    return _Check(_expect("ExpectColumnValuesToBeInSet", column=CURRENCY_FIELD, value_set=sorted(ISO_4217)),
                  CURRENCY_FIELD, CURRENCY_FIELD, "currency is an ISO 4217 code",
                  lambda rows: text.quoted(CURRENCY_FIELD, rows) + " is not an ISO 4217 currency code",
                  reads=(CURRENCY_FIELD,))


def _unique(key: tuple[str, ...], text: _Cells) -> _Check:
    """Every row with a full key has a key of its own; all rows sharing a key go to quarantine (which of
    them is right is for a person to say)."""
    if len(key) == 1:
        expectation = _expect("ExpectColumnValuesToBeUnique", column=key[0])
    else:
        expectation = _expect("ExpectCompoundColumnsToBeUnique", column_list=list(key),
                              ignore_row_if="any_value_is_missing")

    def explain(rows: pd.Index) -> pd.Series:
        quoted = text.quoted(key[0], rows)
        for name in key[1:]:
            quoted = quoted + " / " + text.quoted(name, rows)
        return quoted + " appears more than once in this file"
    return _Check(expectation, key[-1], ", ".join(key), f"{' + '.join(key)} unique", explain, reads=key,
                  unique=True)


# ------------------------------------------------------------------------------------------- running GX

def validate(kind: str, frame: pd.DataFrame, cells: Mapping[str, pd.Series], *,
             representatives: float = 0.5) -> Validation:
    """Run the suite of ``kind`` on ``frame`` (parsed canonical columns, one row per data row) with GX.

    ``cells`` maps each field the file gave to its text cells (same index as ``frame``), used to decide
    which optional values were given and to quote them in reasons. Returns a reason per row and every
    expectation's outcome. Raises ``QualityError`` if GX cannot evaluate an expectation.

    GX judges one row of each look per check (see ``_Looks``) when those rows are fewer than
    ``representatives`` times the rows (0: it judges every row; the verdicts are the same either way).
    """
    checks, _, found = _judge(kind, frame, cells, representatives)
    return Validation(_reasons(checks, found, frame.index), tuple(outcome for outcome, _ in found))


def validate_together(kind: str, parts: list[tuple[pd.DataFrame, Mapping[str, pd.Series]]], *,
                      representatives: float = 0.5) -> list[Validation]:
    """``validate`` of each (frame, cells) part, from one run of the suite over all of them: GX's cost
    is mostly a fixed cost per expectation, and a vendor's usage often comes as several files of one
    kind. The parts must give the same fields, and the suite must have no key check (a key repeats
    within a file, not across files). Each part's outcomes count its own rows."""
    if len(parts) == 1:
        return [validate(kind, *parts[0], representatives=representatives)]
    given = {tuple(cells) for _, cells in parts}
    if len(given) != 1 or kind in UNIQUE_KEYS:
        raise ValueError(f"{kind} parts cannot share a validation: fields {sorted(given)}")
    frame = pd.concat([part for part, _ in parts], ignore_index=True)
    cells = {name: pd.concat([part_cells[name] for _, part_cells in parts], ignore_index=True)
             for name in parts[0][1]}
    checks, judged, found = _judge(kind, frame, cells, representatives)
    reasons = _reasons(checks, found, frame.index)
    validations = []
    ends = np.cumsum([len(part) for part, _ in parts])
    for (part, _), end in zip(parts, ends, strict=True):
        rows = slice(int(end) - len(part), int(end))
        outcomes = tuple(_part_outcome(check, outcome, failing, judged, rows)
                         for check, (outcome, failing) in zip(checks, found, strict=True))
        validations.append(Validation(reasons.iloc[rows].set_axis(part.index), outcomes))
    return validations


def _judge(kind: str, frame: pd.DataFrame, cells: Mapping[str, pd.Series],
           representatives: float) -> tuple[list[_Check], pd.DataFrame, list[tuple[ExpectationOutcome, pd.Index]]]:
    """The checks, the frame GX judged (with the given-flags; row positions), and per check its outcome
    and failing row positions."""
    rows = frame.reset_index(drop=True)
    row_cells = {name: values.reset_index(drop=True) for name, values in cells.items()}
    checks = suite_checks(kind, rows, row_cells)
    judged = _with_given_flags(rows, row_cells)
    looks = _looks(checks, judged, representatives)
    if looks is None:  # few rows look alike: GX judges them all
        results = _run(kind, _for_gx(judged, checks), checks)
        found = [_outcome(check, result, len(rows), _checked_rows(check, judged) if check.condition else None)
                 for check, result in zip(checks, results, strict=True)]
    else:
        results = _run(kind, _for_gx(judged.iloc[looks.rows].reset_index(drop=True), checks), checks)
        found = [_spread_outcome(check, result, looks, number, judged)
                 for number, (check, result) in enumerate(zip(checks, results, strict=True))]
    return checks, judged, found


def _reasons(checks: list[_Check], found: list[tuple[ExpectationOutcome, pd.Index]],
             index: pd.Index) -> pd.Series:
    reasons = pd.Series("", index=pd.RangeIndex(len(index)), dtype="string")
    for check, (_, failing) in zip(checks, found, strict=True):
        if check.explain is not None and len(failing):
            reasons = _add_reason(reasons, failing, check)
    reasons.index = index
    return reasons


def _with_given_flags(frame: pd.DataFrame, cells: Mapping[str, pd.Series]) -> pd.DataFrame:
    flags = {given_column(name): values.ne("").fillna(False).astype(bool) for name, values in cells.items()}
    return frame.assign(**flags)


def _for_gx(judged: pd.DataFrame, checks: list[_Check]) -> pd.DataFrame:
    """The frame GX validates: ``judged`` with, for each check on the rows where a value was given (an
    optional field's presence), the field's given-column holding its values on those rows and a value
    that is present on the others, so that GX's not-null check judges exactly the rows the file gave a
    value on. The columns (and what ``expect_table_columns_to_match_set`` observes) stay the same."""
    stand_ins = {}
    for check in checks:
        if check.condition is not None:
            values = judged[check.reads[0]]
            stand_ins[check.condition] = values.mask(~judged[check.condition].to_numpy(dtype=bool), _present(values))
    return judged.assign(**stand_ins) if stand_ins else judged


def _present(values: pd.Series) -> Any:
    """A value that is not missing, of the type of ``values``."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.Timestamp(EARLIEST_DATE)
    if pd.api.types.is_bool_dtype(values.dtype):
        return False
    if pd.api.types.is_numeric_dtype(values.dtype):
        return 0
    return ""


# ------------------------------------------------------------------------ one row of each look per check
# GX's cost grows with the rows it is handed (about 4 of a million-line directory's 6 s), and a file of a
# million rows holds a few hundred distinct dates, prices and quantities. A check's verdict on a row
# depends only on what it reads (``_Check.reads``), so rows that look the same to it get the same verdict:
# GX judges one row of each look (two of each repeated key, for uniqueness), and its verdicts are spread
# back over the rows they stand for, as the cell parsers do with distinct cells.

@dataclass(frozen=True)
class _Looks:
    """The rows GX is handed (positions, ascending), and per check (by number) a code per row that
    rows looking the same to the check share."""

    rows: np.ndarray
    codes: dict[int, np.ndarray]


def _looks(checks: list[_Check], frame: pd.DataFrame, share: float) -> _Looks | None:
    """The representative rows of ``frame`` for ``checks``; ``None`` when they would not be fewer than
    ``share`` times the rows (a small or varied file: handing GX every row is as cheap)."""
    if share <= 0 or len(frame) < 2:
        return None
    by_view: dict[tuple[tuple[str, bool], ...], np.ndarray] = {}
    by_column: dict[str, np.ndarray] = {}  # a column's codes, for every view reading it (a date: range, order)
    codes: dict[int, np.ndarray] = {}
    picked = [np.zeros(1, dtype=np.intp)]  # a row for the table-level checks
    for number, check in enumerate(checks):
        if not check.reads:
            continue
        view = tuple((name, check.presence) for name in check.reads)
        view += ((check.condition, False),) if check.condition else ()
        if view not in by_view:
            by_view[view] = _look_codes(frame, view, by_column)
        repeated = np.bincount(by_view[view])[by_view[view]] > 1 if check.unique else None
        codes[number] = by_view[view] if repeated is None else _keys_seen(by_view[view], repeated)
        first = _first_of_each(codes[number])
        picked.append(first)
        if repeated is not None:  # and a second row of each repeated key, so that GX sees it repeat
            repeated[first] = False
            later = np.flatnonzero(repeated)
            picked.append(later[_first_of_each(codes[number][later])])
        if sum(len(rows) for rows in picked) > share * len(frame):
            return None
    return _Looks(np.unique(np.concatenate(picked)), codes)


def _look_codes(frame: pd.DataFrame, view: tuple[tuple[str, bool], ...],
                by_column: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """A code per row, equal for rows equal in each viewed column (in whether it is empty, where the
    flag says so; a missing value is a value of its own). Codes stay small: a viewed value column is
    factorized (order of first appearance, below the number of rows; once per ``by_column``), a yes/no
    one only doubles them."""
    codes = np.zeros(len(frame), dtype=np.intp)
    for name, presence_only in view:
        column = frame[name].isna() if presence_only else frame[name]
        if column.dtype == bool:
            codes = codes * 2 + column.to_numpy()
        else:
            known = {} if by_column is None else by_column
            if name not in known:
                known[name] = pd.factorize(column, use_na_sentinel=False)[0]
            column_codes = known[name]
            codes = pd.factorize(codes * (int(column_codes.max()) + 1) + column_codes)[0] if codes.any() \
                else column_codes
    return codes


def _keys_seen(key_codes: np.ndarray, repeated: np.ndarray) -> np.ndarray:
    """For a uniqueness check, what a row looks like: a key found once (one code, whichever the key)
    or the key it repeats (a code of its own), numbered in order of first appearance."""
    return pd.factorize(np.where(repeated, key_codes + 1, 0))[0]


def _first_of_each(codes: np.ndarray) -> np.ndarray:
    """Positions of each code's first row (ascending). A handful of codes (presence, flags) are looked
    for one by one; for codes numbered 0, 1, ... in order of first appearance (as factorizing gives
    them) a row holds a new code exactly when it exceeds every code before it, and codes numbered
    otherwise are renumbered first (a missed look would be a verdict never judged)."""
    if not len(codes):
        return np.zeros(0, dtype=np.intp)
    if int(codes.max()) < _FEW_CODES:
        firsts = []
        for code in range(int(codes.max()) + 1):
            rows = codes == code
            if rows.any():
                firsts.append(int(rows.argmax()))
        return np.sort(np.array(firsts, dtype=np.intp))
    new = np.empty(len(codes), dtype=bool)
    new[0] = True
    new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    first = np.flatnonzero(new)
    if len(first) != int(codes.max()) + 1 or codes[0] != 0:
        return _first_of_each(pd.factorize(codes)[0])
    return first


_FEW_CODES = 16


def _spread_outcome(check: _Check, result: _Result, looks: _Looks, number: int,
                    frame: pd.DataFrame) -> tuple[ExpectationOutcome, pd.Index]:
    """A check's outcome on the representative rows, as it is on all rows: every row that looks like a
    failing one fails; the rows checked are those GX would have judged (on the condition's rows, and
    for a value check those with every value it reads given)."""
    outcome, failing = _outcome(check, result, len(looks.rows))
    if number not in looks.codes:  # on the table or a column's type: the same for any rows, none to blame
        return replace(outcome, checked=len(frame)), pd.Index([], dtype="int64")
    codes = looks.codes[number]
    bad = np.zeros(int(codes.max()) + 1, dtype=bool)
    bad[codes[looks.rows[failing.to_numpy()]]] = True
    rows = pd.Index(np.flatnonzero(bad[codes]), dtype="int64")
    return replace(outcome, checked=int(_checked_rows(check, frame).sum()), failed=len(rows)), rows


def _checked_rows(check: _Check, frame: pd.DataFrame) -> np.ndarray:
    """The rows GX would judge for a check that reads values: those on its condition, and for a value
    check (not a presence one) those with every value it reads given."""
    judged = frame[check.condition].to_numpy(dtype=bool) if check.condition else np.ones(len(frame), bool)
    if not check.presence:  # a value check passes over rows missing a value it reads
        judged = judged & frame[list(check.reads)].notna().all(axis=1).to_numpy()
    return judged


def _part_outcome(check: _Check, outcome: ExpectationOutcome, failing: pd.Index, judged: pd.DataFrame,
                  rows: slice) -> ExpectationOutcome:
    """A check's outcome over all parts, as it is on the part at ``rows``: its failing rows, and its rows
    checked counted as ``_spread_outcome`` counts them (on a table or a column's type: the part's rows)."""
    if not check.reads:
        return replace(outcome, checked=rows.stop - rows.start)
    positions = failing.to_numpy()
    failed = int(((positions >= rows.start) & (positions < rows.stop)).sum())
    return replace(outcome, checked=int(_checked_rows(check, judged.iloc[rows]).sum()), failed=failed,
                   success=not failed)


@dataclass(frozen=True)
class _Result:
    """What ``recon`` reads of GX's result for one expectation (``_outcome``); plain values, so that a worker
    process can hand it back."""

    type: str  # the expectation type, as GX's result names it
    success: bool
    raised: bool  # GX could not evaluate the expectation
    message: str | None  # and why
    unexpected: list[Any]  # GX's unexpected_index_list: the failing rows' positions
    observed: str | None
    element_count: int | None
    missing_count: int | None
    unexpected_count: int | None


def _result(gx_result: Any) -> _Result:
    info = gx_result.exception_info or {}
    details = gx_result.result or {}
    observed = details.get("observed_value")
    return _Result(type=gx_result.expectation_config.type, success=bool(gx_result.success),
                   raised=bool(info.get("raised_exception")), message=info.get("exception_message"),
                   unexpected=list(details.get("unexpected_index_list") or []),
                   observed=None if observed is None else str(observed),
                   element_count=details.get("element_count"), missing_count=details.get("missing_count"),
                   unexpected_count=details.get("unexpected_count"))


def _run(kind: str, frame: pd.DataFrame, checks: list[_Check]) -> list[_Result]:
    """Validate ``frame`` against the checks' expectations; the results in the checks' order. In the GX
    worker process when this process started one (``start_worker``), else in this process."""
    worker = _WORKER[0] if _WORKER else None
    if worker is not None:
        return worker.run(kind, frame, [check.expectation for check in checks])
    gx = _gx()
    with _GX_LOCK:  # one suite at a time: GX's contexts and registries are not made for threads
        return _run_locked(gx, kind, frame, checks)


_GX_LOCK = threading.Lock()


def _run_locked(gx: ModuleType, kind: str, frame: pd.DataFrame, checks: list[_Check]) -> list[_Result]:
    return _results(gx, kind, frame, [check.expectation for check in checks])


def _results(gx: ModuleType, kind: str, frame: pd.DataFrame, described: list[_Expectation]) -> list[_Result]:
    """Run the expectations on ``frame`` with GX, one suite in the context's dataframe asset of ``kind``;
    GX groups the results by column, so each expectation carries its number in ``meta``."""
    batch_definition = _batch_definition(gx, kind)
    expectations = []
    for number, description in enumerate(described):
        expectation = description.built(gx)
        expectation.meta = {"check": number}
        expectations.append(expectation)
    suite = gx.ExpectationSuite(name=f"recon-{kind}", expectations=expectations)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    with _configurations_built_once(gx.expectations.Expectation):
        results = batch.validate(suite, result_format=RESULT_FORMAT).results
    by_number = {result.expectation_config.meta["check"]: result for result in results}
    return [_result(by_number[number]) for number in range(len(described))]


def _batch_definition(gx: ModuleType, kind: str) -> Any:
    """The batch definition of a source kind: one in-memory context for the process, one dataframe asset
    per kind, made once (issue 25: a fresh context per file saved its configuration three times over,
    about a tenth of the suites' time). The frame is given to each validation; nothing is kept between
    them but the asset's name. Called under ``_GX_LOCK``."""
    if kind not in _BATCH_DEFINITIONS:
        if not _SOURCE or _SOURCE[0] is not gx:
            context = gx.get_context(mode="ephemeral", project_config=_project_config())
            _SOURCE[:] = [gx, context.data_sources.add_pandas(name="recon")]
        asset = _SOURCE[1].add_dataframe_asset(name=kind)
        _BATCH_DEFINITIONS[kind] = asset.add_batch_definition_whole_dataframe("file")
    return _BATCH_DEFINITIONS[kind]


_SOURCE: list[Any] = []
_BATCH_DEFINITIONS: dict[str, Any] = {}


@contextmanager
def _configurations_built_once(expectation_class: type) -> Iterator[None]:
    """While a suite runs, each expectation object's ``configuration`` is built once, not every time GX
    reads it. GX 1.x builds it afresh (a pydantic ``dict()`` of the expectation, then a new
    ``ExpectationConfiguration``) on every read: once per domain key, success key and metric of every
    expectation, 90 to 100 builds per expectation and a third of a suite's time. An object's fields do
    not change while it is validated; setting one drops its configuration, to be built again. Called
    under ``_GX_LOCK``, the one place ``recon`` runs GX; the class is as before once the suite is run."""
    built_from = expectation_class.__dict__["configuration"]
    setting: Callable[[Any, str, Any], None] = expectation_class.__setattr__  # type: ignore[assignment]
    own_setting = expectation_class.__dict__.get("__setattr__")
    built: dict[int, tuple[Any, Any]] = {}  # id -> (the object, kept alive so the id is not reused; its configuration)

    def configuration(self: Any) -> Any:
        found = built.get(id(self))
        if found is None or found[0] is not self:
            found = built[id(self)] = (self, built_from.fget(self))
        return found[1]

    def set_field(self: Any, name: str, value: Any) -> None:
        built.pop(id(self), None)
        setting(self, name, value)

    expectation_class.configuration = property(configuration)  # type: ignore[attr-defined]
    expectation_class.__setattr__ = set_field  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        expectation_class.configuration = built_from  # type: ignore[attr-defined]
        if own_setting is None:
            del expectation_class.__setattr__
        else:
            expectation_class.__setattr__ = own_setting  # type: ignore[method-assign]


def _outcome(check: _Check, result: _Result, row_count: int,
             checked_rows: np.ndarray | None = None) -> tuple[ExpectationOutcome, pd.Index]:
    """A check's outcome and failing row positions from GX's result; ``checked_rows`` (the rows it judges,
    for a check on given values only) count its rows checked."""
    if result.raised:
        raise QualityError(f"could not run {result.type} on {check.column}: {result.message}")
    failing = pd.Index(result.unexpected, dtype="int64")
    element_count = row_count if result.element_count is None else result.element_count
    checked = int(element_count) - int(result.missing_count or 0)
    outcome = ExpectationOutcome(
        expectation=result.type, column=check.column, rule=check.rule, success=result.success,
        checked=checked if checked_rows is None else int(checked_rows.sum()),
        failed=int(result.unexpected_count or 0), observed="" if result.observed is None else result.observed)
    return outcome, failing


def _add_reason(reasons: pd.Series, failing: pd.Index, check: _Check) -> pd.Series:
    assert check.explain is not None
    expectation_type = check.expectation.type
    reason = f"{check.field}: " + check.explain(failing).astype("string") + f" ({expectation_type})"
    current = reasons.loc[failing]
    out = reasons.copy()
    out.loc[failing] = np.where(current.eq(""), reason, current + "; " + reason)
    return out


def _gx() -> ModuleType:
    """Great Expectations, imported on first use (it takes seconds) with analytics switched off first;
    a caller arriving while another thread imports it waits for that import."""
    with _GX_IMPORT_LOCK:
        return _imported_gx()


_GX_IMPORT_LOCK = threading.Lock()


def import_in_background() -> threading.Thread:
    """Start importing Great Expectations on a daemon thread. Its import is about 3 s of a first load
    (``bench/results.md``); a server that calls this when its first visitor arrives has it ready by the
    time that visitor, signed in, has files validated."""
    thread = threading.Thread(target=_gx, name="import-great-expectations", daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------------------ GX in a worker process

def start_worker() -> bool:
    """Run this process's suites in a worker process from now on (``recon run``): the worker imports GX
    (about 2 s of CPU) and runs the suites on the other core while this process reads and parses the
    files, instead of both sharing one interpreter's lock. It is handed the few rows GX judges (one of each
    look) and the checks as descriptions (``_Expectation``), and hands back what ``_outcome`` reads
    (``_Result``): the verdicts are those of a suite run here. If the worker fails (it cannot start GX,
    it dies) a validation raises ``QualityError`` saying so. Nothing is started (False) when this process
    has GX already (a test session) or has a worker, or when no process can be started (the
    suites then run here); ``stop_worker`` ends it."""
    if _WORKER or "great_expectations" in sys.modules:
        return False
    try:
        _WORKER.append(_Worker())
    except OSError:  # no interpreter to start (an embedded Python), no processes left
        return False
    return True


def has_worker() -> bool:
    """Whether this process's suites run in a worker process (``start_worker``)."""
    return bool(_WORKER)


def stop_worker() -> None:
    """End the worker process, if this process started one; suites run in this process again."""
    if _WORKER:
        _WORKER.pop().stop()


class _Worker:
    """A Python process running ``_serve`` (``recon.ingest.gxprocess``): requests and replies are pickles on
    its standard input and output."""

    def __init__(self) -> None:
        early = gxprocess.claim()  # started by the ``recon`` program first thing, if it did
        self._process = early if early is not None else gxprocess.spawn()
        self._lock = threading.Lock()
        self._reported_ended = False
        self.pid = self._process.pid

    def run(self, kind: str, frame: pd.DataFrame, expectations: list[_Expectation]) -> list[_Result]:
        place: Place | None = getattr(_GIVING_WAY, "place", None)
        if place is None or not place.give_way():
            return self._run(kind, frame, expectations)
        try:
            return self._run(kind, frame, expectations)
        finally:
            place.take_back()

    def _run(self, kind: str, frame: pd.DataFrame, expectations: list[_Expectation]) -> list[_Result]:
        with self._lock:  # one suite at a time, as in this process
            # A dashboard's server runs for weeks: the suite that found its worker ended failed (below), the
            # next one is judged by a new worker rather than every upload failing until a restart.
            if self._reported_ended:
                self._replace()
            assert self._process.stdin is not None and self._process.stdout is not None
            try:
                pickle.dump((kind, frame, expectations), self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._process.stdin.flush()
                status, reply = pickle.load(self._process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as error:  # it died: its pipes are closed
                self._reported_ended = True
                raise QualityError(f"could not run the {kind} data-quality suite: the Great Expectations worker "
                                   f"process ended ({self._ended()}; {type(error).__name__})") from None
        if status != "ok":
            raise QualityError(f"could not run the {kind} data-quality suite: {reply}")
        return list(reply)

    def _replace(self) -> None:
        self.stop()
        self._process = gxprocess.spawn()
        self._reported_ended = False
        self.pid = self._process.pid

    def _ended(self) -> str:
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return "no reply"
        return f"exit code {code}" if code >= 0 else f"killed by signal {-code}"

    def stop(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                with suppress(OSError):
                    pipe.close()
        self._process.terminate()  # (it would end when its input closes, after tearing GX down: up to 1 s)
        self._process.wait()


_WORKER: list[_Worker] = []
_GIVING_WAY = threading.local()


class Place(Protocol):
    """A loading thread's place among those parsing files (``recon.ingest.directory._Places``)."""

    def give_way(self) -> bool:
        """Let another thread parse while this one waits; False if it may not."""

    def take_back(self) -> None:
        """Wait for a place again (after ``give_way`` returned True)."""


@contextmanager
def giving_way(place: Place) -> Iterator[None]:
    """While this thread waits for the worker process's verdict on a file, it gives ``place`` to another
    thread to parse a file meanwhile (if the place allows), and takes it back before going on."""
    _GIVING_WAY.place = place
    try:
        yield
    finally:
        _GIVING_WAY.place = None


def _serve() -> None:
    """The worker process's loop: import GX, then for each request (a source kind, the frame GX judges and
    the expectations) reply ``("ok", results)`` or ``("error", why)``, until its input closes. Its standard
    output is the reply pipe, so anything else printing there goes to standard error instead."""
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        with _without("sqlalchemy"):
            gx: ModuleType | None = _gx()
        failed = ""
    except Exception as error:  # said to the process that asks, on every request
        gx, failed = None, f"Great Expectations could not be imported: {type(error).__name__}: {error}"
    while True:
        try:
            kind, frame, expectations = pickle.load(requests)
        except EOFError:
            return
        try:
            if gx is None:
                raise RuntimeError(failed)
            with _GX_LOCK:
                reply: tuple[str, Any] = ("ok", _results(gx, kind, frame, expectations))
        except Exception as error:  # any failure is the asking process's QualityError
            reply = ("error", failed or f"{type(error).__name__}: {error}")
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


@cache
def _imported_gx() -> ModuleType:
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    with _without("pyspark"), _deferred(*DEFERRED_BY_GX):
        import great_expectations

    return great_expectations


# What GX imports at module level but uses only inside functions that no suite of ``recon`` calls: scipy's
# statistics (two Kolmogorov-Smirnov metrics and the KL-divergence expectation; with scipy.spatial, about
# half of GX's import) and altair (that expectation's chart renderer).
DEFERRED_BY_GX = ("scipy.stats", "altair")


class _Deferred(ModuleType):
    """Stands in for a module that GX binds at import time: the real module is imported on the first
    attribute anybody reads (``stats.entropy``), and every later read is forwarded to it."""

    def __getattr__(self, attribute: str) -> Any:
        real = self.__dict__.get("_deferred_real")
        if real is None:
            real = _import_for_real(self)
            self.__dict__["_deferred_real"] = real
        return getattr(real, attribute)


def _import_for_real(proxy: _Deferred) -> ModuleType:
    """The module ``proxy`` stands for, imported (no-op if it already is). If GX's import is still under
    way the stand-in leaves ``sys.modules`` first, so the import finds the module, not itself."""
    name = proxy.__name__
    if sys.modules.get(name) is proxy:
        del sys.modules[name]
    import importlib

    return importlib.import_module(name)


@contextmanager
def _deferred(*names: str) -> Iterator[None]:
    """While GX is imported, each of ``names`` not imported yet is a stand-in (``_Deferred``) in
    ``sys.modules``, so GX's ``from scipy import stats`` binds the stand-in without importing scipy's
    statistics. Afterwards the stand-ins leave ``sys.modules`` (and their parent package): the rest of the
    process imports those modules as usual, and only GX's own names hold a stand-in."""
    import importlib.util

    standing_in: dict[str, _Deferred] = {}
    for name in names:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # its package missing or broken: GX's import says so as before
            spec = None
        if spec is not None:
            proxy = _Deferred(name)
            proxy.__spec__ = spec  # (for ``find_spec``; no ``__path__``: importing a submodule reads it, so loads it)
            standing_in[name] = sys.modules.setdefault(name, proxy)  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, proxy in standing_in.items():
            if sys.modules.get(name) is proxy:
                del sys.modules[name]
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and getattr(sys.modules[parent], "__dict__", {}).get(child) is proxy:
                delattr(sys.modules[parent], child)


@contextmanager
def _without(*names: str) -> Iterator[None]:
    """While GX is imported, the packages ``names`` that this process has not imported look absent (``import
    pyspark`` raises ImportError) and GX goes without them as it does when they are not installed.

    pyspark (``recon``'s ``[spark]`` extra) is for Spark data sources ``recon`` never uses: a second more of
    imports, pandas warnings, and under ``python -c`` pyspark's Spark Connect module ends the process (it
    takes itself for a doctest run); a Spark worker that imported pyspark itself keeps it. SQLAlchemy (0.3
    to 0.4 s) is for SQL data sources: only the worker process (``_serve``) goes without it, being the one
    process where no other thread may import it meanwhile (``recon``'s store does)."""
    absent = [name for name in names if name not in sys.modules]
    for name in absent:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in absent:
            sys.modules.pop(name, None)


def _project_config() -> Any:
    """An in-memory project: stores in memory, no data-docs site (no temporary directory), no analytics,
    no progress bars on stderr."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                             analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False))


__all__ = ["ExpectationOutcome", "Validation", "giving_way", "has_worker", "import_in_background", "start_worker",
           "stop_worker", "suite_checks", "validate", "validate_together"]
