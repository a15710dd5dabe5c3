"""Presets: how to read the real exports MSPs have (PRODUCT.md sections 2 and 4a), so nobody edits a file by hand.

A preset names the canonical source an export feeds, which export column gives each canonical field
(several candidates where exports differ; the first present wins; names compare case-, space- and
underscore-insensitively), the read options the format needs, constant fields, and, where the format's
rows mean something the columns alone do not say, a small pure ``transform`` on the text frame (same
rows, same order, new ``<field> (recon)`` columns only). Every reading of what a row *means* lives here
(and in ``recon.effect`` / ``recon.keys``), so a downloaded file and an API pull of the same data (the
connectors emit the vendors' documented field names and name the preset) are read identically.
docs/semantics.md says the same with the sources.

- ``microsoft-nce-recon`` (the new-commerce reconciliation file, or the billed reconciliation API's JSON
  lines: the same names in camelCase): the product is ``ProductId:SkuId``; the quantity is
  ``BillableQuantity``, negative where the row is a credit (a negative ``Subtotal``: the refund half of
  a seat change, ``Cancel``, ``cancelImmediate``); ``row_type``: ``customerCredit`` is a cost credit, a
  credit row ``credit``, ``ProductQualifiers`` with ``Trial`` a trial, ``BillingFrequency`` one-time a
  one-time charge, a metered row (``MeterDescription``) consumption, every other row (``New``,
  ``cycleCharge``, ``renew``, the new-quantity half of ``addQuantity`` / ``removeQuantity``,
  ``Convert``, ``trialConversion``) the seats ``recurring`` over its charge period;
  ``EffectiveUnitPrice`` is the price for the charge period in the pricing currency, so the monthly
  cost of a unit in the billing currency is ROUNDDOWN(``EffectiveUnitPrice`` x ``PCToBCExchangeRate``, 2)
  (exact, from every place of both cells) divided by the months the charge period covers (half up to
  the unit of money, in integers); a metered row's is the price x rate of a unit used, to the unit of
  money (Microsoft rounds such a row only in its total); a blank rate is 1 where ``PricingCurrency`` and
  ``Currency`` (the billing currency) are the same, and no rate where they differ or where a row leaves
  either cell blank (no unit cost from the row, as for an unreadable rate: the catalog's applies; the
  file's report counts such rows), nor in a file of the full header that lacks either column (the file
  is warned about: nothing says the two are the same; Microsoft writes a rate of 1 where they are, so a
  whole file loses only its blank rates); an older header (``Currency``, neither ``PricingCurrency``
  nor a rate) reads a blank rate as 1, as it always did; without
  ``BillableQuantity`` the quantity is ``Quantity``, the units bought, which on a metered row is not
  the quantity billed (the file is warned about); the vendor is ``PublisherName``; the subscription's
  life is ``SubscriptionStartDate`` - ``SubscriptionEndDate``.
- ``pax8-invoice-items``: ``type`` and ``term`` say what a line is: ``subscription`` the seats held
  (``term`` ``Trial``: trial seats; ``Arrears``: ``arrears``, a usage-based product's use of the span
  billed after the fact, the total the vendor posted last for it), ``prorate`` a change
  of seats for part of the period (added to the subscription's), ``one-time`` / ``service-charge`` (or
  ``term`` ``One-Time`` / ``Activation``) a one-time charge, ``rebate`` / ``payment-credit`` /
  ``service-credit`` / ``invoice-credit`` (or ``term`` ``Rebate``) a cost credit; a negative ``total``
  (else ``subTotal``, of the same sign: a file without ``total`` reads the same) makes the quantity
  negative, whatever its own sign. ``cost`` is the unit cost for the term: a month's is ``cost`` / 12 for
  ``Annual``, / 24 for ``2 Year``, / 36 for ``3 Year``. ``endPeriod`` on the first of a month after
  ``startPeriod`` is exclusive: the line ends the day before.
- ``connectwise-additions`` (the Agreement Additions list view: Company Name, Agreement Name,
  Effective, Cancelled, Price, Prorate Price, Bill...; and the older labels Company, Agreement, Unit
  Price, Effective Date, Cancelled Date, Bill Customer) and ``connectwise-additions-api``
  (``/finance/agreements/{id}/additions`` flattened with dots, the agreement's fields under
  ``agreement.``): billable quantity = quantity - ``lessIncluded``; only Billable additions are expected
  (``billCustomer``, or ``Bill`` True); an addition ends at its cancelled date and at its agreement's
  cancellation or end date; an addition or agreement that is cancelled, expired or inactive with no
  date known is not expected; ``agreement_id`` is the agreement's id (the list view has only its name,
  which stands in for it); ``billingCycle`` gives the billing frequency (the price is per cycle);
  ``prorateCurrentPeriodFlag`` (or a non-zero Prorate Price) says a partial month is billed prorated,
  otherwise ConnectWise bills whole cycles only.
- ``connectwise-time`` (the Time list view: Member Name, Date, Bill B/NB/NC, Rate, WIP Hrs, Invoice
  Nbr; the older labels Member, Actual Hours, Billable Option...) and ``connectwise-time-api``
  (``/time/entries`` flattened: company.name, member.identifier, timeStart, billableOption...).
- ``connectwise-invoices`` (the Invoices list view: one row per invoice, its total) and
  ``connectwise-invoice-lines-api`` (product lines flattened with their invoice under ``invoice.``): a
  product line's amount is price x quantity less its discount; a credit memo's lines count negative;
  an agreement invoice's total (``agreementAmount``, or an Agreement invoice's total in the list view)
  is a line of its own (``line_type`` ``agreement_total``) compared with its agreement's additions,
  never rebuilt from them; another invoice's total is kept for receivables only.
- ``autotask-contract-units``: one row per service, billing period and adjustment; rows of one
  contract service (``contractServiceID``) replace one another from their start date on; ``units`` is
  the quantity, ``price`` the unit price; the client is ``companyName`` (Contracts -> Companies, which
  the Autotask connector adds), else a ``[source.client_lookup]`` from ``contractID``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import NamedTuple

import numpy as np
import pandas as pd

from recon.money import (
    CENT,
    exact_decimals,
    format_units,
    money_times_quantity,
    parse_money,
    parse_quantity,
    round_half_up_div,
)
from recon.schema import AGREEMENT_SKU_PREFIX, SOURCES, WITHOUT_FIELD
from recon.sources import AbsentColumn

DETECTION_THRESHOLD = 0.5  # share of a preset's known columns a header must have to be read as it
DERIVED_SUFFIX = " (recon)"  # columns a preset or profile adds to a file are named "<field> (recon)"
_INT64_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class Preset:
    """How to read one real export format into one canonical source."""

    name: str
    kind: str
    title: str
    columns: Mapping[str, tuple[str, ...]]  # canonical field -> export column candidates, first present wins
    known_columns: tuple[str, ...]  # the export's columns as documented (header detection)
    date_format: str | None = None  # None: ISO 8601, then M/D/YYYY
    decimal: str | None = None  # None: "."
    constants: Mapping[str, str] = field(default_factory=dict)  # canonical field -> value on every row
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    client_key: str | None = None  # no client column: the profile maps this column's values to clients
    variants: tuple[tuple[str, ...], ...] = ()  # other documented headers of the same export (detection)
    # rows of an API's JSON, flattened: every other field is the API's own (a report names them as not
    # needed, never as a column someone renamed)
    api: bool = False
    # derived field -> the export columns its rule reads it from, each a tuple of the names one column has
    # in the format's documented headers (where ``WITHOUT_FIELD`` or ``without_column`` says what the
    # absence means): a file that lacks one the format has is warned about (``absent``)
    derived_from: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # a column (as documented) whose absence means something else than its field's ``WITHOUT_FIELD``
    # clause says (or that a field without a clause, such as a required one, is read from) -> what it means
    without_column: Mapping[str, str] = field(default_factory=dict)
    # a column whose absence matters only in a documented header that has these columns too (Microsoft's
    # Currency says a blank rate is 1 only beside PricingCurrency): in another header it is not missed
    missed_beside: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def prepare(self, text: pd.DataFrame) -> pd.DataFrame:
        """The text frame with the format's rule applied and its constant columns added (a new frame). The
        format's columns are noted as known while ``columns_read`` collects (and its fields' as wanted)."""
        mark_known([*self.known_columns, *(column for variant in self.variants for column in variant),
                    *(text.columns if self.api else ())])
        mark_known((column for candidates in self.columns.values() for column in candidates
                    if not column.endswith(DERIVED_SUFFIX)), wanted=True)
        mark_absent(self.absent(text.columns))
        out = self.transform(text) if self.transform else text.copy()
        for name, value in self.constants.items():
            out[derived_column(name)] = pd.Series(value, index=out.index, dtype="string")
        return out

    def documented_header(self, header: Iterable[str]) -> tuple[str, ...]:
        """The documented header (``known_columns`` or a variant) that ``header`` is: the one with the most
        of its columns present, the shortest of those where several have as many (a file of an older,
        shorter header is that one, not the newest with columns missing)."""
        present = {fold(column) for column in header}
        return max((self.known_columns, *self.variants),
                   key=lambda known: (sum(fold(column) in present for column in known), -len(known)))

    def read_from(self) -> dict[str, tuple[tuple[str, ...], ...]]:
        """Canonical field -> the export columns it is read from, each as the names one column may have: a
        field's own candidates, or, for a field the rule derives, ``derived_from``."""
        direct = {name: (candidates,) for name, candidates in self.columns.items()
                  if not candidates[0].endswith(DERIVED_SUFFIX)}
        return direct | dict(self.derived_from)

    def absent(self, header: Iterable[str]) -> list[AbsentColumn]:
        """Each column the file's documented header has and ``header`` lacks, that a field the findings
        depend on (``WITHOUT_FIELD``) is read from, or that has a clause of its own (``without_column``),
        with what its absence means. A column the format's header does not have (a newer export's, an
        API's other fields) is never missed."""
        header = list(header)
        present = {fold(column) for column in header}
        documented = {fold(column): column for column in self.documented_header(header)}
        missed = []
        for name, columns in self.read_from().items():
            for names in columns:
                named = [documented[fold(column)] for column in names if fold(column) in documented]
                beside = self.missed_beside.get(named[0], ()) if named else ()
                if named and not any(fold(column) in present for column in names) and all(
                        fold(column) in documented for column in beside):
                    means = self.without_column.get(named[0], WITHOUT_FIELD.get(self.kind, {}).get(name))
                    if means:
                        missed.append(AbsentColumn(named[0], name, means))
        return missed

    def mapping(self, header: Iterable[str]) -> dict[str, str]:
        """Canonical field -> the column of ``header`` that gives it (first candidate present; case and
        spaces ignored); constants map to their added columns."""
        by_folded = {fold(column): column for column in header}
        found = {name: next(by_folded[fold(c)] for c in candidates if fold(c) in by_folded)
                 for name, candidates in self.columns.items()
                 if any(fold(c) in by_folded for c in candidates)}
        return found | {name: derived_column(name) for name in self.constants}


class Detection(NamedTuple):
    """Which preset a header looks like, how sure, and why (shown to the user); where none fits, the
    closest one (its guesses prefill a column mapping)."""

    preset: str | None
    confidence: float  # share of the preset's known columns found in the header, 0..1
    reason: str
    closest: str | None = None


def fold(name: str) -> str:
    """A column name for comparison: case, spaces and underscores ignored."""
    return str(name).strip().casefold().replace(" ", "").replace("_", "")


def derived_column(name: str) -> str:
    """The name of a column a preset or profile adds for canonical field ``name``."""
    return name + DERIVED_SUFFIX


# ------------------------------------------------------------------------------------------ transforms
# Each reads the file's own columns by folded name (case, spaces and ``_`` ignored: a recon file's
# ``BillableQuantity`` and the API's ``billableQuantity`` alike) and adds ``<field> (recon)`` columns.

@dataclass(frozen=True)
class ColumnsRead:
    """What a preset's rule read while it ran (``columns_read``): the file's columns it read, the names
    it looked for that the file lacks (in the order looked for), and every column name the format
    knows (documented, or looked for: folded), read or not."""

    found: set[str] = field(default_factory=set)
    wanted: list[str] = field(default_factory=list)
    known: set[str] = field(default_factory=set)
    absent: list[AbsentColumn] = field(default_factory=list)  # see ``Preset.absent``
    notes: list[str] = field(default_factory=list)  # what a rule says about the file's rows (``mark_note``)


_READING: ContextVar[ColumnsRead | None] = ContextVar("recon_preset_columns_read", default=None)


@contextmanager
def columns_read() -> Iterator[ColumnsRead]:
    """Collect the columns the rules read inside the ``with`` block (so that a validation report can
    name the columns nothing read: ``recon.ingest.columns``)."""
    collected = ColumnsRead()
    token = _READING.set(collected)
    try:
        yield collected
    finally:
        _READING.reset(token)


def mark_read(*columns: str) -> None:
    """Note that a rule read ``columns`` of the file (see ``columns_read``)."""
    collected = _READING.get()
    if collected is not None:
        collected.found.update(columns)


def mark_known(names: Iterable[str], wanted: bool = False) -> None:
    """Note column names the format knows (and, ``wanted``, that a field would be read from where present)."""
    collected = _READING.get()
    if collected is not None:
        names = list(names)
        collected.known.update(fold(name) for name in names)
        if wanted:
            collected.wanted.extend(names)


def mark_absent(absent: Iterable[AbsentColumn]) -> None:
    """Note the format's columns the file lacks (``Preset.absent``)."""
    collected = _READING.get()
    if collected is not None:
        collected.absent.extend(absent)


def mark_note(note: str) -> None:
    """Note what a rule says about the file's rows (a count of rows read differently): the file's report
    warns with it."""
    collected = _READING.get()
    if collected is not None:
        collected.notes.append(note)


def _column(text: pd.DataFrame, *names: str) -> pd.Series | None:
    """The first of ``names`` present in ``text`` (folded comparison), as text; None when none is."""
    by_folded = {fold(column): column for column in text.columns}
    for name in names:
        if fold(name) in by_folded:
            mark_read(by_folded[fold(name)])
            mark_known(names)
            return text[by_folded[fold(name)]].astype("string").fillna("").str.strip()
    mark_known(names, wanted=True)
    return None


def _cells(text: pd.DataFrame, *names: str) -> pd.Series:
    found = _column(text, *names)
    return found if found is not None else pd.Series("", index=text.index, dtype="string")


def _words(text: pd.DataFrame, *names: str) -> pd.Series:
    """A column's cells folded for comparison: ``Semi-Annual`` -> ``semiannual``."""
    return _cells(text, *names).str.casefold().str.replace(r"[\s_-]", "", regex=True)


def _money(text: pd.DataFrame, *names: str) -> pd.Series:
    return parse_money(_cells(text, *names), ".")


def _number(text: pd.DataFrame, *names: str) -> pd.Series:
    return parse_quantity(_cells(text, *names), ".")


def _dates(text: pd.DataFrame, *names: str) -> pd.Series:
    """ISO or M/D/YYYY dates (a time and zone after them ignored: the date is the one written)."""
    cells = _cells(text, *names).str.split(r"[ T]", n=1, regex=True).str[0]
    iso = pd.to_datetime(cells, format="%Y-%m-%d", errors="coerce")
    return iso.fillna(pd.to_datetime(cells, format="%m/%d/%Y", errors="coerce"))


def _iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype("string").fillna("")


def _iso_else_written(dates: pd.Series, written: pd.Series) -> pd.Series:
    """``_iso(dates)``, but where a cell held text that is no date, that text: the source's checks then
    quarantine the row saying what it holds ("cannot read date '31/31/2026'"), where an empty value would
    read "required value is empty", or, for an end date, leave the line open-ended with no word."""
    written = written.fillna("").str.strip()
    return _iso(dates).where(dates.notna() | written.eq(""), written)


def _quantity_text(values: pd.Series) -> pd.Series:
    return pd.Series(np.round(values.to_numpy(dtype=float, na_value=np.nan), 4), index=values.index) \
        .map(lambda value: "" if np.isnan(value) else f"{value:.4f}".rstrip("0").rstrip(".")).astype("string")


def _money_text(units: pd.Series) -> pd.Series:
    return format_units(units.astype("Int64"), 4).astype("string").fillna("")


def _with(text: pd.DataFrame, **fields: pd.Series | str) -> pd.DataFrame:
    """``text`` with ``<field> (recon)`` columns added."""
    out = text.copy()
    for name, values in fields.items():
        out[derived_column(name)] = values if isinstance(values, pd.Series) else \
            pd.Series(values, index=text.index, dtype="string")
    return out


def months_covered(start: pd.Series, end: pd.Series) -> pd.Series:
    """How many months a charge period covers (the last day inclusive), counted by anniversary: 1.0 for
    3/20-4/19 or 3/1-3/31, 12.0 for a year; what is left after the whole months counts as its days /
    the days of the month it falls in (3/15-4/4: 21 / 31). NaN where a date is missing."""
    numerator, denominator = _months_fraction(start, end)
    covered = numerator / np.where(denominator > 0, denominator, 1)
    return pd.Series(np.where(denominator > 0, covered, np.nan), index=start.index, dtype="float64")


def _months_fraction(start: pd.Series, end: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``months_covered`` as an exact fraction of int64 arrays: (whole months x the days of the month
    the rest falls in + the rest's days, those days). The denominator is 0 where a date is missing."""
    first = start.to_numpy("datetime64[D]")
    after = end.to_numpy("datetime64[D]") + np.timedelta64(1, "D")
    months = (after.astype("datetime64[M]") - first.astype("datetime64[M]")).astype(np.int64)
    day_of = (first - first.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    after_day = (after - after.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    whole = months - (after_day < day_of)
    anniversary_month = first.astype("datetime64[M]") + whole.astype("timedelta64[M]")
    month_start = anniversary_month.astype("datetime64[D]")
    month_days = ((anniversary_month + 1).astype("datetime64[D]") - month_start).astype(np.int64)
    anniversary = month_start + np.minimum(day_of, month_days - 1).astype("timedelta64[D]")
    rest = (after - anniversary).astype(np.int64)
    missing = np.isnat(first) | np.isnat(after)
    return np.where(missing, 0, whole * month_days + rest), np.where(missing, 0, month_days)


def _monthly_cost(cost_for_period: pd.Series, numerator: np.ndarray, denominator: np.ndarray) -> pd.Series:
    """A unit's cost for a period (Int64 units) -> per month, the period being ``numerator / denominator``
    months: cost x denominator / numerator, rounded half up to the unit like all money
    (``recon.money``), in integers. ``<NA>`` where the cost is, where the period is not positive or
    known, or where the monthly cost would not fit an int64."""
    numerator, denominator = np.asarray(numerator, np.int64), np.asarray(denominator, np.int64)
    usable = cost_for_period.notna().to_numpy() & (numerator > 0) & (denominator > 0)
    cost = cost_for_period.to_numpy(np.int64, na_value=0)
    numerator, denominator = np.where(usable, numerator, 1), np.where(usable, denominator, 1)
    # |cost| = whole x numerator + rest: cost x denominator / numerator without a product past int64
    whole, rest = np.divmod(np.abs(cost), numerator)
    fits = whole <= (_INT64_MAX - denominator) // denominator
    monthly = np.where(fits, whole, 0) * denominator + round_half_up_div(rest * denominator, numerator)
    return pd.Series(np.sign(cost) * monthly, index=cost_for_period.index, dtype="Int64").mask(~(usable & fits))


# Microsoft -------------------------------------------------------------------------------------------

MICROSOFT_ONE_TIME = frozenset({"onetime", "perpetual"})


def billing_unit_price(price: pd.Series, rate: pd.Series, metered: pd.Series,
                       converted: pd.Series | None = None) -> pd.Series:
    """A unit's price in the billing currency (Int64 units), from the cells' text, as Microsoft computes a
    row's Subtotal: a seat costs ROUNDDOWN(price x rate, 2), and a metered row is rounded only in its total
    (ROUNDDOWN(ROUNDDOWN(price x quantity, 2) x rate, 2)), so a unit of use costs price x rate (half up to
    the unit of money: 0.045 per GB stays 0.045, not 0.04). Microsoft multiplies EffectiveUnitPrice by
    PCToBCExchangeRate with all their places (0.923456, 2.9032258064516), so neither is rounded first and
    no float is involved. Once per distinct (price, rate, metered, converted) (a file has few). A blank
    rate is 1, except on a ``converted`` row (priced in another currency than it is billed in), where it
    is unknown; an unknown or unreadable price or rate, or a product past int64, gives ``<NA>`` (no unit
    cost, never one in the wrong currency: the row is kept)."""
    converted = pd.Series(False, index=price.index) if converted is None else converted
    codes, distinct = pd.MultiIndex.from_arrays([price, rate, metered, converted]).factorize()
    prices = exact_decimals(pd.Series(distinct.get_level_values(0), dtype="string"))
    rate_text = pd.Series(distinct.get_level_values(1), dtype="string")
    rates = exact_decimals(rate_text)
    blank = rate_text.fillna("").str.strip().eq("").to_numpy(bool)
    units = [_unit_price_units(one_price, (None if between else Decimal(1)) if no_rate else one_rate, bool(per_use))
             for one_price, one_rate, no_rate, per_use, between
             in zip(prices, rates, blank, distinct.get_level_values(2), distinct.get_level_values(3), strict=True)]
    return pd.Series(pd.array(units, dtype="Int64").take(codes), index=price.index)


def _unit_price_units(price: Decimal | None, rate: Decimal | None, metered: bool) -> int | None:
    if price is None or rate is None:
        return None
    with localcontext(Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)):  # every digit of the product
        if metered:
            units = int((price * rate).scaleb(4).to_integral_value(rounding=ROUND_HALF_UP))
        else:
            units = int((price * rate).scaleb(2).to_integral_value(rounding=ROUND_DOWN)) * CENT
    return units if abs(units) <= _INT64_MAX else None


def _converted(text: pd.DataFrame, blank_rate: pd.Series) -> pd.Series:
    """The rows whose blank rate is no rate, not 1 (``billing_unit_price``'s ``converted``): priced in one
    currency, billed in another; in a file that has both currency columns, a row whose cell of either is
    blank (nothing says the two are alike); every row of a file whose header has both but lacks one (the
    file is warned about: ``Preset.absent``). The rows of the first two whose rate is blank and price given
    (their cost is unknown only for the blank rate) are counted in the file's report (``mark_note``). An
    older header (Currency, no PricingCurrency nor rate) reads a blank rate as 1."""
    if {absent.column for absent in MICROSOFT_NCE.absent(text.columns)} & {"PricingCurrency", "Currency"}:
        return pd.Series(True, index=text.index)
    pricing, billed_in = _words(text, "PricingCurrency"), _words(text, "Currency")
    between = pricing.ne("") & billed_in.ne("") & pricing.ne(billed_in)
    present = {fold(column) for column in text.columns}
    unsaid = (pricing.eq("") | billed_in.eq("")) & all(fold(name) in present for name in ("PricingCurrency",
                                                                                          "Currency"))
    for rows, note in ((unsaid, MICROSOFT_UNSAID_ROWS), (between, MICROSOFT_BETWEEN_ROWS)):
        count = int((rows & blank_rate).sum())
        if count:
            mark_note(note.format(count=count))
    return between | unsaid


_CATALOG_STANDS_IN = ("the catalog's unit cost is used for them (none where the catalog has none), so their margins "
                      "and negative_margin findings follow the catalog")
MICROSOFT_UNSAID_ROWS = ("{count:,} row(s) with a blank PCToBCExchangeRate leave PricingCurrency or Currency blank: "
                         "the currency a row is priced or billed in is not known, and a blank rate is 1 only where "
                         "the two are the same, so these rows have no unit cost: " + _CATALOG_STANDS_IN)
MICROSOFT_BETWEEN_ROWS = ("{count:,} row(s) priced in another currency than they are billed in have a blank "
                          "PCToBCExchangeRate, so no unit cost: " + _CATALOG_STANDS_IN)


def microsoft_rows(text: pd.DataFrame) -> pd.DataFrame:
    """What a reconciliation row is and holds (see the module docstring): the product, the signed
    quantity, the row type, the monthly unit cost in the billing currency, the row's cost, the vendor."""
    amount = _money(text, "Subtotal")
    amount = amount.fillna(_money(text, "Total", "TotalForCustomer"))
    billable = _number(text, "BillableQuantity", "Quantity")
    credit = amount.lt(0).fillna(False) | billable.lt(0).fillna(False)
    quantity = billable.abs().where(~credit, -billable.abs())
    charge = _words(text, "ChargeType")
    qualifiers = _words(text, "ProductQualifiers")
    billing = _words(text, "BillingFrequency")
    term = _words(text, "TermAndBillingCycle")
    metered = _cells(text, "MeterDescription").ne("")
    row_type = pd.Series("recurring", index=text.index, dtype="string")
    row_type = row_type.mask(metered, "usage")
    row_type = row_type.mask(billing.isin(MICROSOFT_ONE_TIME) | term.str.contains("onetime|perpetual", regex=True),
                             "one_time")
    row_type = row_type.mask(qualifiers.str.contains("trial", regex=False) & charge.ne("trialconversion"), "trial")
    row_type = row_type.mask(credit, "credit")
    row_type = row_type.mask(charge.eq("customercredit"), "cost")
    product, plan = _cells(text, "ProductId"), _cells(text, "SkuId")
    price, rate = _cells(text, "EffectiveUnitPrice"), _cells(text, "PCToBCExchangeRate")
    billing_price = billing_unit_price(price, rate, metered, _converted(text, price.ne("") & rate.eq("")))
    # a seat's price is for its charge period, spread over the months it covers; a unit of use is priced as used
    months = _months_fraction(_dates(text, "ChargeStartDate"), _dates(text, "ChargeEndDate"))
    per_use = metered.to_numpy(bool)
    unit_cost = _monthly_cost(billing_price, *(np.where(per_use, 1, part) for part in months)).abs()
    publisher = _cells(text, "PublisherName")
    return _with(text, sku=(product + (":" + plan).where(plan.ne(""), "")).astype("string"),
                 quantity=_quantity_text(quantity), row_type=row_type, unit_cost=_money_text(unit_cost),
                 cost_amount=_money_text(amount), vendor=publisher.where(publisher.ne(""), "Microsoft"))


# Pax8 ------------------------------------------------------------------------------------------------

PAX8_TERM_MONTHS = {"monthly": 1, "annual": 12, "1year": 12, "2year": 24, "3year": 36}
PAX8_COST_TYPES = frozenset({"rebate", "paymentcredit", "servicecredit", "invoicecredit"})
PAX8_ONE_TIME_TYPES = frozenset({"onetime", "servicecharge"})


def pax8_rows(text: pd.DataFrame) -> pd.DataFrame:
    """What an invoice item is (``type``, ``term``), its signed quantity, its monthly unit cost and its
    real last day (``endPeriod`` on the first of a month is exclusive)."""
    kind, term = _words(text, "type"), _words(text, "term")
    total = _money(text, "total").fillna(_money(text, "subTotal"))
    negative = total.lt(0).fillna(False)
    quantity = _number(text, "quantity")
    quantity = quantity.abs().where(~negative, -quantity.abs())
    row_type = pd.Series("usage", index=text.index, dtype="string")
    row_type = row_type.mask(kind.eq("subscription"), "recurring")
    row_type = row_type.mask(kind.eq("subscription") & negative, "credit")
    row_type = row_type.mask(kind.eq("prorate"), "adjustment")
    row_type = row_type.mask(term.eq("arrears"), "arrears")
    row_type = row_type.mask(kind.isin(PAX8_ONE_TIME_TYPES) | term.isin({"onetime", "activation"}), "one_time")
    row_type = row_type.mask(kind.isin(PAX8_COST_TYPES) | term.eq("rebate"), "cost")
    row_type = row_type.mask(term.eq("trial"), "trial")
    term_months = term.map(PAX8_TERM_MONTHS).fillna(1).to_numpy(np.int64)
    unit_cost = _monthly_cost(_money(text, "cost"), term_months, np.ones_like(term_months))
    start, end = _dates(text, "startPeriod"), _dates(text, "endPeriod")
    exclusive = end.dt.day.eq(1).fillna(False) & (end > start).fillna(False)
    end = end.where(~exclusive, end - pd.Timedelta(days=1))
    cost = _money(text, "costTotal")
    return _with(text, quantity=_quantity_text(quantity), row_type=row_type, unit_cost=_money_text(unit_cost),
                 period_end=_iso_else_written(end, _cells(text, "endPeriod")), cost_amount=_money_text(cost))


# ConnectWise -----------------------------------------------------------------------------------------

CW_ENDED = frozenset({"cancelled", "canceled", "expired", "inactive"})
CW_BILLABLE = frozenset({"billable", "true", "yes", "y", "1", "x"})


def connectwise_additions(text: pd.DataFrame) -> pd.DataFrame:
    """ConnectWise agreement additions (list view or API): billable quantity, whether the addition is
    expected at all, when it ends, whether partial months are prorated, the agreement's billing cycle."""
    quantity = _number(text, "quantity", "Quantity") - _number(text, "lessIncluded", "Less Included").fillna(0.0)
    bill = _words(text, "billCustomer", "Bill Customer", "Bill")
    cancelled_on = _dates(text, "cancelledDate", "Cancelled", "Cancelled Date")
    ends = [cancelled_on]
    cancelled_agreement = _words(text, "agreement.cancelledFlag").isin({"true", "1", "yes"})
    agreement_cancelled_on = _dates(text, "agreement.dateCancelled")
    ends.append(agreement_cancelled_on.where(cancelled_agreement | agreement_cancelled_on.notna()))
    open_ended = _words(text, "agreement.noEndingDateFlag").isin({"true", "1", "yes"})
    ends.append(_dates(text, "agreement.endDate", "Agreement End Date").where(~open_ended))
    end = pd.concat(ends, axis=1).min(axis=1)
    status = _words(text, "Addition Status")
    agreement_status = _words(text, "agreement.agreementStatus", "agreementStatus", "Agreement Status")
    ended_unknown = (status.isin(CW_ENDED) | agreement_status.isin(CW_ENDED) | cancelled_agreement) & end.isna()
    # ConnectWise makes an addition billable unless told otherwise, as a canonical contract line is: a file
    # without the column (or a blank cell) expects revenue, never none at all
    billable = (bill.eq("") | bill.isin(CW_BILLABLE)) & ~ended_unknown
    prorate_flag = _words(text, "prorateCurrentPeriodFlag").isin({"true", "1", "yes"})
    prorate = prorate_flag | _money(text, "proratePrice", "Prorate Price").fillna(0).gt(0)
    start = _dates(text, "effectiveDate", "Effective", "Effective Date")
    start = start.fillna(_dates(text, "agreement.startDate"))
    agreement = _cells(text, "agreementId", "agreement.id", "Agreement ID")
    agreement = agreement.where(agreement.ne(""), _cells(text, "Agreement Name", "Agreement", "agreement.name"))
    cancelled = _cells(text, "cancelledDate", "Cancelled", "Cancelled Date").str.strip()
    end_date = _iso(end).where(cancelled_on.notna() | cancelled.eq(""), cancelled)  # an unreadable one is said
    start_date = _iso_else_written(start, _cells(text, "effectiveDate", "Effective", "Effective Date"))
    return _with(text, quantity=_quantity_text(quantity), end_date=end_date, start_date=start_date,
                 billable=billable.map({True: "true", False: "false"}).astype("string"),
                 prorate=prorate.map({True: "true", False: "false"}).astype("string"), agreement_id=agreement)


CW_BILL_CODES = {"b": "Billable", "nb": "DoNotBill", "nc": "NoCharge"}


def connectwise_time(text: pd.DataFrame) -> pd.DataFrame:
    """ConnectWise time entries (list view or API): ``Bill`` B / NB / NC read as Billable / DoNotBill /
    NoCharge; a ticket from ``chargeToId`` where the entry is charged to a service ticket."""
    bill = _cells(text, "billableOption", "Billable Option", "Bill")
    coded = bill.str.casefold().map(CW_BILL_CODES)
    ticket = _cells(text, "ticket.id", "Ticket", "Ticket #", "Service ID")
    charged = _cells(text, "chargeToId").where(_words(text, "chargeToType").eq("serviceticket"), "")
    name = _cells(text, "member.name", "Member Name", "Member", "Resource")
    return _with(text, billable=coded.fillna(bill).astype("string"),
                 ticket=ticket.where(ticket.ne(""), charged),
                 technician=name.where(name.ne(""), _cells(text, "member.identifier")))


def connectwise_invoices(text: pd.DataFrame) -> pd.DataFrame:
    """The Invoices list view: one row per invoice, known by its total. An Agreement invoice's total is
    compared with the client's agreement additions (``agreement_total``); any other total counts for
    receivables only (``invoice_total``)."""
    agreement = _words(text, "Invoice Type", "Type").eq("agreement")
    total = _cells(text, "Invoice Total", "Total")
    return _with(text, line_type=pd.Series("invoice_total", index=text.index, dtype="string").mask(
                     agreement, "agreement_total"),
                 sku=pd.Series("INVOICE", index=text.index, dtype="string").mask(agreement, AGREEMENT_SKU_PREFIX),
                 quantity="1", unit_price=total, amount=total,
                 description=pd.Series("invoice total", index=text.index, dtype="string").mask(
                     agreement, "agreement invoice total"))


def connectwise_invoice_lines(text: pd.DataFrame) -> pd.DataFrame:
    """Invoice product lines with their invoice (API, flattened): amount = price x quantity - discount; a
    credit memo's lines count negative; an invoice's ``agreementAmount`` on a row without a product is
    the agreement invoice's total (``agreement_total``)."""
    item = _cells(text, "catalogItem.identifier")
    has_item = item.ne("")
    credit_memo = _words(text, "invoice.type").eq("creditmemo")
    quantity = _number(text, "quantity")
    price = _money(text, "price")
    amount = money_times_quantity(quantity, price) - _money(text, "discount").fillna(0)
    agreement_amount = _money(text, "invoice.agreementAmount")
    total = ~has_item & agreement_amount.fillna(0).ne(0)
    quantity = quantity.where(has_item, 1.0)
    amount = amount.where(has_item, agreement_amount.fillna(_money(text, "invoice.total")).fillna(0))
    flip = credit_memo & amount.gt(0).fillna(False)
    quantity, amount = quantity.where(~flip, -quantity), amount.where(~flip, -amount)
    unit_price = price.where(has_item, amount)
    unit_price = unit_price.where(~flip | ~has_item, -unit_price)
    agreement = _cells(text, "invoice.agreement.id")
    sku = item.where(has_item, (AGREEMENT_SKU_PREFIX + ("-" + agreement).where(agreement.ne(""), "")))
    line_type = pd.Series("item", index=text.index, dtype="string").mask(~has_item, "invoice_total") \
        .mask(total, "agreement_total")
    return _with(text, sku=sku.astype("string"), quantity=_quantity_text(quantity),
                 unit_price=_money_text(unit_price), amount=_money_text(amount), line_type=line_type)


# Autotask --------------------------------------------------------------------------------------------

def autotask_units(text: pd.DataFrame) -> pd.DataFrame:
    """ContractServiceUnits: rows of one contract service (``contractServiceID``, else contract and
    service) replace one another in time."""
    service = _cells(text, "contractServiceID")
    fallback = _cells(text, "contractID") + "-" + _cells(text, "serviceID")
    return _with(text, service_id=service.where(service.ne(""), fallback).astype("string"))


# --------------------------------------------------------------------------------------------- presets

def _derived(*names: str) -> dict[str, tuple[str, ...]]:
    return {name: (derived_column(name),) for name in names}


MICROSOFT_COLUMNS = (
    "PartnerId", "CustomerId", "CustomerName", "CustomerDomainName", "CustomerCountry", "InvoiceNumber",
    "MpnId", "ResellerMpnId", "OrderId", "OrderDate", "ProductId", "SkuId", "AvailabilityId", "SkuName",
    "ProductName", "ChargeType", "UnitPrice", "Quantity", "Subtotal", "TaxTotal", "Total", "Currency",
    "PriceAdjustmentDescription", "PublisherName", "PublisherId", "SubscriptionDescription",
    "SubscriptionId", "ChargeStartDate", "ChargeEndDate", "TermAndBillingCycle", "EffectiveUnitPrice",
    "UnitType", "AlternateId", "BillableQuantity", "BillingFrequency", "PricingCurrency",
    "PCToBCExchangeRate", "PCToBCExchangeRateDate", "MeterDescription", "ReservationOrderId",
    "CreditReasonCode", "SubscriptionStartDate", "SubscriptionEndDate", "ReferenceId", "ProductQualifiers",
    "PromotionId", "ProductCategory",
)
MICROSOFT_NCE = Preset(
    name="microsoft-nce-recon", kind="usage",
    title="Microsoft Partner Center new-commerce invoice reconciliation",
    columns={"client": ("CustomerName",), "period_start": ("ChargeStartDate",),
             "period_end": ("ChargeEndDate",), "subscription_id": ("SubscriptionId",),
             "product_name": ("ProductName", "SkuName"), "subscription_start": ("SubscriptionStartDate",),
             "subscription_end": ("SubscriptionEndDate",),
             **_derived("sku", "quantity", "row_type", "unit_cost", "cost_amount", "vendor")},
    known_columns=MICROSOFT_COLUMNS,
    derived_from={"row_type": (("ChargeType",), ("ProductQualifiers",), ("BillingFrequency",), ("MeterDescription",),
                               ("TermAndBillingCycle",)),
                  "unit_cost": (("EffectiveUnitPrice",), ("PCToBCExchangeRate",), ("PricingCurrency",),
                                ("Currency",)),
                  "cost_amount": (("Subtotal", "Total"),), "quantity": (("BillableQuantity",),)},
    # a blank rate is no rate on a row priced in another currency than it is billed in, and on every row of a
    # file without one of the two currencies that its header has (``microsoft_rows``);
    # Quantity is "units bought", 1 on Microsoft's example metered row whose BillableQuantity is 0.005001
    without_column={"PCToBCExchangeRate": "a row priced in another currency than it is billed in has no unit cost: "
                                          "the catalog's unit cost is used for it (none where the catalog has "
                                          "none), so its margins and negative_margin findings follow the catalog",
                    **{column: f"the currency a row is {verb} in is not known, so a row whose PCToBCExchangeRate "
                                "is blank has no unit cost (a blank rate is 1 only where the row is priced in the "
                                "currency it is billed in): the catalog's unit cost is used for it (none where the "
                                "catalog has none), so its margins and negative_margin findings follow the catalog"
                       for column, verb in (("PricingCurrency", "priced"), ("Currency", "billed"))},
                    "BillableQuantity": "Quantity (the units bought) is read instead: on a metered (consumption) "
                                        "row that is not the quantity billed, so that product's usage is wrong: "
                                        "over- and under-billing findings on it are false or missed, and so is a "
                                        "loss on its margin"},
    # an older header (Currency, no PricingCurrency nor rate) reads a blank rate as 1 with or without Currency
    missed_beside={"Currency": ("PricingCurrency",)},
    # the columns PRODUCT.md section 2 lists (older files and hand-made extracts carry these)
    variants=(("PartnerId", "CustomerId", "CustomerName", "CustomerDomainName", "CustomerCountry",
               "InvoiceNumber", "MpnId", "ResellerMpnId", "OrderId", "OrderDate", "ProductId", "SkuId",
               "AvailabilityId", "SkuName", "ProductName", "ChargeType", "UnitPrice", "EffectiveUnitPrice",
               "Quantity", "BillableQuantity", "Subtotal", "TaxTotal", "Total", "Currency", "SubscriptionId",
               "ChargeStartDate", "ChargeEndDate", "TermAndBillingCycle"),),
    transform=microsoft_rows,
)

PAX8_COLUMNS = (
    "id", "purchaseOrderNumber", "type", "companyId", "externalId", "companyName", "startPeriod",
    "endPeriod", "quantity", "unitOfMeasure", "term", "sku", "description", "details", "rateType",
    "chargeType", "price", "subTotal", "cost", "costTotal", "offeredBy", "billedByPax8", "total",
    "productId", "productName", "billingFee", "billingFeeRate", "amountDue", "currencyCode", "salesTax",
    "subscriptionId", "vendorName",
)
PAX8_INVOICE_ITEMS = Preset(
    name="pax8-invoice-items", kind="usage", title="Pax8 invoice items",
    columns={"client": ("companyName",), "sku": ("sku",), "period_start": ("startPeriod",),
             "vendor": ("vendorName",), "subscription_id": ("subscriptionId",), "product_name": ("productName",),
             **_derived("quantity", "period_end", "row_type", "unit_cost", "cost_amount")},
    known_columns=PAX8_COLUMNS,
    derived_from={"period_end": (("endPeriod",),), "row_type": (("type",), ("term",)), "unit_cost": (("cost",),),
                  "cost_amount": (("costTotal",),), "quantity": (("total", "subTotal"),)},
    # the term also says how many months a line's cost is for; a line's sign is its total's, else its
    # subTotal's (the same sign: without total alone no finding changes, and nothing is said)
    without_column={"term": "rows are not told apart by their term (trials, one-time fees, arrears, rebates), so "
                            "some count as the wrong kind, and an annual or multi-year cost counts as one month's: "
                            "margins read too low (false negative_margin findings)",
                    "total": "credits and seat decreases are not told from charges: their seats read as added, so "
                             "usage reads too high and correct bills read as under-billed"},
    variants=(("companyName", "sku", "productName", "vendorName", "quantity", "startPeriod", "endPeriod",
               "price", "cost", "costTotal", "subTotal", "total", "type", "term", "subscriptionId",
               "currencyCode"),),
    transform=pax8_rows,
)

_ADDITION_FIELDS = _derived("quantity", "start_date", "end_date", "billable", "prorate", "agreement_id")
CONNECTWISE_ADDITIONS = Preset(
    name="connectwise-additions", kind="contracts", title="ConnectWise PSA agreement additions (list view)",
    columns={"client": ("Company Name", "Company"), "sku": ("Product ID",), "description": ("Description",),
             "unit_price": ("Price", "Unit Price"), "billing_frequency": ("Billing Cycle",), **_ADDITION_FIELDS},
    known_columns=("Company Name", "Agreement Name", "Agreement Type", "Agreement Status", "Addition Status",
                   "Sequence", "Effective", "Cancelled", "Product ID", "Description", "Quantity", "Price",
                   "Ext Price", "Prorate Price", "Bill", "Tax", "Cost", "Ext Cost"),
    variants=(("Company", "Agreement", "Product ID", "Description", "Quantity", "Unit Price", "Unit Cost",
               "Effective Date", "Cancelled Date", "Bill Customer"),),
    derived_from={"quantity": (("Quantity",),), "end_date": (("Cancelled", "Cancelled Date"),),
                  "billable": (("Bill", "Bill Customer"),), "prorate": (("Prorate Price",),)},
    # this header has Addition Status: an addition it says is cancelled, with no date, is not expected
    without_column={"Cancelled": "the date an addition was cancelled is not read: one whose status says "
                                 "cancelled is not expected at all, not even before that date, and one whose "
                                 "status does not is still expected after it"},
    transform=connectwise_additions,
)
CONNECTWISE_ADDITIONS_API = Preset(
    name="connectwise-additions-api", kind="contracts",
    title="ConnectWise PSA agreement additions (REST API, flattened)",
    columns={"client": ("agreement.company.name", "company.name"), "sku": ("product.identifier",),
             "description": ("invoiceDescription", "description"), "unit_price": ("unitPrice",),
             "billing_frequency": ("agreement.billingCycle.name",), "service_id": ("id",), **_ADDITION_FIELDS},
    known_columns=("id", "agreementId", "product.identifier", "description", "quantity", "lessIncluded",
                   "unitPrice", "unitCost", "billCustomer", "effectiveDate", "cancelledDate",
                   "prorateCurrentPeriodFlag", "proratePrice", "agreement.name", "agreement.company.name",
                   "agreement.billingCycle.name"),
    derived_from={"quantity": (("quantity",), ("lessIncluded",)), "end_date": (("cancelledDate",),),
                  "billable": (("billCustomer",),), "prorate": (("prorateCurrentPeriodFlag",), ("proratePrice",))},
    without_column={"lessIncluded": "the included quantity is not taken off: each addition expects its whole "
                                    "quantity, so one billed net of it reads as under-billed"},
    transform=connectwise_additions,
    api=True,
)

_TIME_FIELDS = _derived("billable", "ticket", "technician")
CONNECTWISE_TIME = Preset(
    name="connectwise-time", kind="time_entries", title="ConnectWise PSA time entries (list view)",
    columns={"client": ("Company Name", "Company"), "date": ("Date", "timeStart"),
             "hours": ("Actual Hours", "WIP Hrs", "Hours"),
             "rate": ("Hourly Rate", "Rate"), "invoice_number": ("Invoice", "Invoice Nbr", "Invoice #"),
             "work_type": ("Work Type",), "entry_id": ("Time RecId", "Entry ID"), **_TIME_FIELDS},
    known_columns=("Member Name", "Company Name", "Date", "Bill", "Rate", "WIP Hrs", "WIP Amt", "Inv Hrs",
                   "Inv Amt", "Status", "Work Type", "Service ID", "Invoice Nbr", "Agreement", "Time RecId"),
    variants=(("Company", "Member", "Date", "Actual Hours", "Billable Option", "Hourly Rate", "Invoice",
               "Work Type", "Ticket"),),
    transform=connectwise_time,
)
CONNECTWISE_TIME_API = Preset(
    name="connectwise-time-api", kind="time_entries", title="ConnectWise PSA time entries (REST API, flattened)",
    columns={"client": ("company.name",), "date": ("timeStart",), "hours": ("actualHours",), "rate": ("hourlyRate",),
             "invoice_number": ("invoice.identifier",), "work_type": ("workType.name",), "entry_id": ("id",),
             **_TIME_FIELDS},
    known_columns=("id", "company.name", "member.identifier", "timeStart", "actualHours", "billableOption",
                   "hourlyRate", "invoice.identifier", "workType.name", "chargeToId", "chargeToType"),
    transform=connectwise_time,
    api=True,
)
CONNECTWISE_INVOICES = Preset(
    name="connectwise-invoices", kind="invoices", title="ConnectWise PSA invoices (list view: invoice totals)",
    columns={"invoice_number": ("Invoice", "Invoice #"), "invoice_date": ("Date", "Invoice Date"),
             "due_date": ("Due Date",), "client": ("Company Name", "Company", "Bill To"), "status": ("Status",),
             **_derived("line_type", "sku", "quantity", "unit_price", "amount", "description")},
    known_columns=("Invoice", "Company Name", "Invoice Type", "Date", "Due Date", "Status", "Invoice Total",
                   "Invoice Balance", "Paid Amount", "Credit Amount", "Agreement Type"),
    derived_from={"line_type": (("Invoice Type",),)},
    transform=connectwise_invoices,
)
CONNECTWISE_INVOICE_LINES_API = Preset(
    name="connectwise-invoice-lines-api", kind="invoices",
    title="ConnectWise PSA invoice lines (REST API, flattened, with their invoice)",
    columns={"invoice_number": ("invoice.invoiceNumber", "invoice.identifier"),
             "invoice_date": ("invoice.date",), "due_date": ("invoice.dueDate",),
             "status": ("invoice.status.name",), "client": ("invoice.company.name",),
             "description": ("description",), "line_id": ("id",), "agreement_id": ("invoice.agreement.id",),
             "discount": ("discount",), **_derived("sku", "quantity", "unit_price", "amount", "line_type")},
    known_columns=("id", "catalogItem.identifier", "description", "quantity", "price", "discount",
                   "invoice.invoiceNumber", "invoice.type", "invoice.date", "invoice.company.name",
                   "invoice.agreement.id", "invoice.agreementAmount"),
    derived_from={"line_type": (("invoice.agreementAmount",),)},
    transform=connectwise_invoice_lines,
    api=True,
)

AUTOTASK_CONTRACT_UNITS = Preset(
    name="autotask-contract-units", kind="contracts", title="Autotask contract service units",
    columns={"client": ("companyName", "Company Name", "Company"), "agreement_id": ("contractID",),
             "sku": ("serviceID",), "start_date": ("startDate",), "end_date": ("endDate",),
             "quantity": ("units",), "unit_price": ("price",), **_derived("service_id")},
    known_columns=("id", "contractID", "contractServiceID", "serviceID", "startDate", "endDate", "units",
                   "price", "cost", "internalCurrencyPrice", "approveAndPostDate"),
    variants=(("contractID", "serviceID", "startDate", "endDate", "units", "price", "cost"),),
    transform=autotask_units,
    client_key="contractID",
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    MICROSOFT_NCE, PAX8_INVOICE_ITEMS, CONNECTWISE_ADDITIONS, CONNECTWISE_ADDITIONS_API, CONNECTWISE_TIME,
    CONNECTWISE_TIME_API, CONNECTWISE_INVOICES, CONNECTWISE_INVOICE_LINES_API, AUTOTASK_CONTRACT_UNITS)}


def preset_names(kind: str | None = None) -> list[str]:
    """The presets' names, all or those feeding ``kind``."""
    return [name for name, preset in PRESETS.items() if kind is None or preset.kind == kind]


# ------------------------------------------------------------------------------------------- detection

def _required_candidates(preset: Preset) -> list[tuple[str, ...]]:
    """The export columns each required field needs (a derived column needs nothing: the preset's rule
    adds it; a client the profile can look up needs no column)."""
    required = [spec.name for spec in SOURCES[preset.kind] if spec.required
                and not (spec.name == "client" and preset.client_key)]
    return [preset.columns[name] for name in required
            if name in preset.columns and not preset.columns[name][0].endswith(DERIVED_SUFFIX)]


def _fit(preset: Preset, header: set[str]) -> tuple[float, list[str]]:
    """(share of known columns present, for the documented header that fits best; the columns for
    required fields that are missing)."""
    share = max(sum(fold(column) in header for column in known) / len(known)
                for known in (preset.known_columns, *preset.variants))
    missing = [candidates[0] for candidates in _required_candidates(preset)
               if not any(fold(c) in header for c in candidates)]
    return share, missing


def detect_preset(columns: Iterable[str]) -> Detection:
    """Which preset a file's header belongs to: the one with the largest share of its known columns
    present (at least ``DETECTION_THRESHOLD``) and every column it needs for a required field. The
    reason names what was found or what is missing."""
    header = {fold(column) for column in columns}
    fits = sorted(((*_fit(preset, header), preset) for preset in PRESETS.values()),
                  key=lambda item: (not item[1], item[0]), reverse=True)
    share, missing, best = fits[0]
    if share >= DETECTION_THRESHOLD and not missing:
        return Detection(best.name, share, f"{best.title} ({best.name}): {_share_words(best, header)} found")
    closest = max(fits, key=lambda item: item[0])
    share, missing, best = closest
    lacking = f"; missing {', '.join(missing)}" if missing else ""
    return Detection(None, share, f"no preset fits: closest is {best.name} with {_share_words(best, header)}"
                                  f"{lacking}", best.name)


def _share_words(preset: Preset, header: set[str]) -> str:
    """``12 of 18 known columns`` for the documented header of ``preset`` that fits ``header`` best."""
    known = max((preset.known_columns, *preset.variants),
                key=lambda columns: sum(fold(column) in header for column in columns) / len(columns))
    return f"{sum(fold(column) in header for column in known)} of {len(known)} known columns"


__all__ = ["PRESETS", "Detection", "Preset", "detect_preset", "fold", "months_covered", "preset_names"]
