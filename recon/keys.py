"""Resolved rows -> one row of facts per key (period, client, sku) (PRODUCT.md section 4).

The facts per key: ``usage_qty`` U (prorated by covered days), ``contract_qty`` C and
``contract_unit_price`` Pc (billable lines active in the period), ``billed_qty`` B and ``billed_amount``
A (invoice lines of that service period, duplicates removed), ``billed_unit_price`` Pb = A / B, the
vendor-tracked flag, and from them the expected quantity E, the expected unit price P (with
``price_source``) and the expected amount. Duplicate lines and unbilled time are summarised per key too,
so that every rule in ``recon.rules`` reads one frame. Money is Int64 units (``recon.money``).
"""

from __future__ import annotations

from itertools import pairwise
from typing import TypeAlias

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from recon.cells import text_series
from recon.joins import as_categorical, as_text, dictionary_encoded, has_key, left_lookup, per_key, recoded, vocabulary
from recon.money import money_times_quantity, unit_price_from_amount
from recon.schema import LABOR_SKU

ArrayLike: TypeAlias = ExtensionArray | np.ndarray
KEY = ["period", "client", "sku"]
CLIENT_SKU = ["client", "sku"]

# Inside the engine a period is categorical over every month a datetime64[ns] can hold, and clients and
# skus are categorical over the run's names (``coded``): grouping and joining a million keys then
# compares small integers, not strings. Categories are in string order, so sorting is unchanged, and
# ``decoded`` turns the finished keys back into text.
_MONTHS = np.arange(np.datetime64("1677-09"), np.datetime64("2262-05"), dtype="datetime64[M]")
PERIODS = pd.CategoricalDtype(pd.Index(np.datetime_as_string(_MONTHS, unit="M"), dtype="string"))


def month_periods(dates: pd.Series) -> pd.Series:
    """Dates -> ``YYYY-MM`` periods as ``PERIODS`` categoricals (NaT -> NaN)."""
    return _periods_of_months(dates.to_numpy("datetime64[ns]").astype("datetime64[M]"), dates.index)


def _periods_of_months(months: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    codes = np.where(np.isnat(months), -1, (months - _MONTHS[0]).astype(np.int64))
    return pd.Series(pd.Categorical.from_codes(codes, dtype=PERIODS), index=index)


def to_period(dates: pd.Series) -> pd.Series:
    """Dates -> ``YYYY-MM`` strings (``<NA>`` for NaT)."""
    return month_periods(dates).astype("string")


def describe_periods(periods: tuple[str, ...] | list[str]) -> str:
    """``YYYY-MM`` months in words: ``2025-11 to 2026-10`` when consecutive, else listed."""
    if not periods:
        return "no periods"
    months = [pd.Period(period, freq="M") for period in periods]
    consecutive = all((later - earlier).n == 1 for earlier, later in pairwise(months))
    return f"{periods[0]} to {periods[-1]}" if consecutive and len(periods) > 1 else ", ".join(periods)


def month_name(period: str) -> str:
    """A ``YYYY-MM`` month as a person reads it: ``Oct 2026``."""
    return pd.Period(period, freq="M").strftime("%b %Y")


def period_bounds(periods: list[str]) -> pd.DataFrame:
    """``YYYY-MM`` -> first day, last day and number of days of each month (``period`` as ``PERIODS``)."""
    starts = pd.to_datetime(pd.Series(periods, dtype="string") + "-01", format="%Y-%m-%d")
    ends = starts + pd.offsets.MonthEnd(0)
    return pd.DataFrame({"period": pd.Series(periods, dtype="string").astype(PERIODS), "month_start": starts,
                         "month_end": ends, "days_in_month": starts.dt.days_in_month})


def coded(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The frames with ``client`` and ``sku`` as categoricals shared by all of them (new frames; the
    other columns are not copied). Each column is hashed once (Arrow's dictionary encoding); the shared
    vocabulary is then built from the small dictionaries."""
    encoded = {(kind, name): dictionary_encoded(frame[name])
               for kind, frame in frames.items() for name in ("client", "sku") if name in frame}
    extra = {"client": [], "sku": [LABOR_SKU]}
    dtypes = {name: vocabulary([text_series(array.dictionary, pd.RangeIndex(len(array.dictionary)))
                                for (_, column), array in encoded.items() if column == name]
                               + [pd.Series(extra[name], dtype="string")])
              for name in ("client", "sku")}
    out = {}
    for kind, frame in frames.items():
        codes = {name: recoded(encoded[kind, name], dtypes[name], frame.index)
                 for name in ("client", "sku") if name in frame}
        out[kind] = frame.assign(**codes)
    return out


CLIENT_KINDS = ("usage", "contracts", "invoices", "time_entries")
SKU_KINDS = ("usage", "contracts", "invoices", "catalog")


def decoded(keys: pd.DataFrame) -> pd.DataFrame:
    """``period``, ``client`` and ``sku`` back to ``string`` columns."""
    return keys.assign(**{name: as_text(keys[name]) for name in KEY})




# ----------------------------------------------------------------------------------------------- usage

def prorate_usage(usage: pd.DataFrame) -> pd.DataFrame:
    """One row per usage row and calendar month it covers, with ``prorated_qty`` = quantity x covered
    days / days in month (four places). A row inside one month whose dates cover it whole keeps its
    quantity."""
    start = usage["period_start"].to_numpy("datetime64[D]")
    end = np.maximum(usage["period_end"].fillna(usage["period_start"]).to_numpy("datetime64[D]"), start)
    first_month = start.astype("datetime64[M]")
    month_count = (end.astype("datetime64[M]") - first_month).astype(np.int64) + 1
    row = np.repeat(np.arange(len(usage)), month_count)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(month_count) - month_count, month_count)
    month = first_month[row] + offset.astype("timedelta64[M]")
    month_start = month.astype("datetime64[D]")
    next_month_start = (month + 1).astype("datetime64[D]")
    covered = (np.minimum(end[row] + 1, next_month_start) - np.maximum(start[row], month_start)).astype(np.int64)
    days_in_month = (next_month_start - month_start).astype(np.int64)
    quantity = usage["quantity"].to_numpy(float)[row]
    # Usually every row lies inside one month: then the rows need no copying.
    expanded = usage.reset_index(drop=True) if len(row) == len(usage) else usage.iloc[row].reset_index(drop=True)
    expanded["period"] = _periods_of_months(month)
    expanded["prorated_qty"] = np.round(quantity * covered / days_in_month, 4)
    return expanded


def usage_by_key(usage: pd.DataFrame) -> pd.DataFrame:
    """Per key: ``usage_qty`` U, ``vendor_cost_amount`` (prorated qty x unit cost), the quantity-weighted
    ``vendor_unit_cost``, and the first ``vendor`` / ``product_name`` seen (for charts)."""
    rows = prorate_usage(usage[[*CLIENT_SKU, "quantity", "period_start", "period_end", "unit_cost", "vendor",
                                "product_name"]])
    rows["vendor_cost_amount"] = money_times_quantity(rows["prorated_qty"], rows["unit_cost"])
    # The first name in text order, taken on ordered codes: a string "min" per group goes through Python
    # objects (a million of them, and 200 MB more at the peak).
    rows["vendor"], rows["product_name"] = (_ordered_codes(rows[name]) for name in ("vendor", "product_name"))
    facts = per_key(rows, KEY, usage_qty=("prorated_qty", "sum"), vendor_cost_amount=("vendor_cost_amount", "sum"),
                    vendor=("vendor", "min"), product_name=("product_name", "min"),
                    usage_rows=("prorated_qty", "size"), cost_rows=("unit_cost", "count"))
    # kept as categoricals: a few hundred names over a million keys (labels; see ``complete_keys``)
    facts["vendor"], facts["product_name"] = (facts[name].cat.as_unordered() for name in ("vendor", "product_name"))
    facts["usage_qty"] = facts["usage_qty"].round(4)
    # a nullable count, as invoice_lines: a key without usage has none (not a float 1.0 for every other
    # key, which pandas would make of it only where some key of the frame lacks usage)
    facts["usage_rows"] = facts["usage_rows"].astype("Int64")
    has_cost = facts.pop("cost_rows").to_numpy() > 0
    facts["vendor_cost_amount"] = facts["vendor_cost_amount"].astype("Int64").where(has_cost)
    facts["vendor_unit_cost"] = unit_price_from_amount(facts["vendor_cost_amount"], facts["usage_qty"])
    return facts


def _ordered_codes(column: pd.Series) -> pd.Series:
    """Text as an ordered categorical over its own values in text order (``min`` is the first name)."""
    dtype = pd.CategoricalDtype(vocabulary([column]).categories, ordered=True)
    return as_categorical(column, dtype)


# ------------------------------------------------------------------------------------------- contracts

def active_contract_lines(contracts: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Billable contract lines x the periods in which each is expected: started by the month's end, not
    ended before its start; an annual line only in the months of its start anniversary. Each pair has
    the ``LINE_TERMS`` of its line and the period's bounds (the dates that chose them are not copied)."""
    bounds = period_bounds(periods)
    lines = contracts[contracts["billable"].fillna(True).astype(bool).to_numpy()]
    start = lines["start_date"].to_numpy("datetime64[ns]")[:, None]
    end = lines["end_date"].to_numpy("datetime64[ns]")[:, None]
    month_start = bounds["month_start"].to_numpy("datetime64[ns]")[None, :]
    active = (start <= bounds["month_end"].to_numpy("datetime64[ns]")[None, :]) & (np.isnat(end) | (end >= month_start))
    annual = lines["billing_frequency"].eq("annual").fillna(False).to_numpy(bool)[:, None]
    anniversary = lines["start_date"].dt.month.to_numpy()[:, None] == bounds["month_start"].dt.month.to_numpy()[None, :]
    line, period = np.nonzero(active & (~annual | anniversary))  # line by line, months in order
    pairs = lines[LINE_TERMS].iloc[line].reset_index(drop=True)
    return pd.concat([pairs, bounds.iloc[period].reset_index(drop=True)], axis=1)


LINE_TERMS = [*CLIENT_SKU, "quantity", "unit_price", "included_hours", "hourly_rate"]
CONTRACT_FACTS = [*CLIENT_SKU, "quantity", "unit_price", "start_date", "end_date", "billing_frequency",
                  "billable", "included_hours", "hourly_rate"]


def contracts_by_key(active_lines: pd.DataFrame) -> pd.DataFrame:
    """Per key with an active line (``active_contract_lines`` of contracts in start-date order):
    ``contract_qty`` C, ``contract_lines`` and ``contract_unit_price`` Pc (quantity-weighted over the
    active lines; the latest line's price where no line has a quantity)."""
    lines = active_lines.assign(line_amount=money_times_quantity(active_lines["quantity"].fillna(0),
                                                                 active_lines["unit_price"]))
    facts = per_key(lines, KEY, contract_qty=("quantity", "sum"), contract_amount=("line_amount", "sum"),
                    latest_price=("unit_price", "last"), contract_lines=("unit_price", "size"))
    weighted = unit_price_from_amount(facts["contract_amount"].astype("Int64"), facts["contract_qty"])
    facts["contract_unit_price"] = weighted.fillna(facts["latest_price"]).astype("Int64")
    return facts.drop(columns=["contract_amount", "latest_price"])


def labour_terms(active_lines: pd.DataFrame) -> pd.DataFrame:
    """Per (period, client) with active contract lines (``active_contract_lines``): hours included by block
    agreements and the agreement's hourly rate."""
    return per_key(active_lines, ["period", "client"], included_hours=("included_hours", "sum"),
                   contract_hourly_rate=("hourly_rate", "max"))


def account_managers(contracts: pd.DataFrame) -> pd.DataFrame:
    """Per client: the account manager named on its latest contract line."""
    named = contracts.dropna(subset=["account_manager"]).sort_values(["start_date", "account_manager"], kind="stable")
    return named.groupby("client", sort=False)["account_manager"].last().reset_index()


# -------------------------------------------------------------------------------------------- invoices

DUPLICATE_FIELDS = ["client", "sku", "period", "quantity", "unit_price"]


def duplicate_lines(invoices: pd.DataFrame) -> np.ndarray:
    """Which lines are extras: a line repeating an earlier one's client, sku, period, quantity and unit
    price. "Earlier" is by invoice date, number and file line, so input order changes nothing.
    ``invoices`` needs a ``period`` column."""
    # Only lines that repeat some other line can be extras: order just those (a few in a hundred).
    repeating = np.flatnonzero(invoices.duplicated(subset=DUPLICATE_FIELDS, keep=False).to_numpy())
    candidates = invoices.iloc[repeating].reset_index(drop=True).sort_values(
        ["invoice_date", "invoice_number", "source_file", "source_line"], kind="stable")
    later = candidates.duplicated(subset=DUPLICATE_FIELDS, keep="first").to_numpy()
    extra = np.zeros(len(invoices), dtype=bool)
    extra[repeating[candidates.index.to_numpy()[later]]] = True
    return extra


def invoices_by_key(invoices: pd.DataFrame) -> pd.DataFrame:
    """Per key (period of the service start): ``billed_qty`` B and ``billed_amount`` A of the lines kept,
    Pb, and the quantity, amount and number of the extra (duplicate) lines, missing where there are
    none. Kept lines are summed by masking the extras out, so the million lines are not copied."""
    lines = invoices.assign(period=month_periods(invoices["period_start"]))
    extra = duplicate_lines(lines)
    kept = lines.assign(kept_qty=lines["quantity"].where(~extra, 0.0), kept_amount=lines["amount"].where(~extra, 0),
                        kept=~extra)
    facts = per_key(kept, KEY, billed_qty=("kept_qty", "sum"), billed_amount=("kept_amount", "sum"),
                    invoice_lines=("kept", "sum")).astype({"invoice_lines": "Int64"})  # a nullable count
    facts["billed_qty"] = facts["billed_qty"].round(4)
    facts["billed_unit_price"] = unit_price_from_amount(facts["billed_amount"], facts["billed_qty"])
    duplicates = per_key(lines[extra], KEY, duplicate_qty=("quantity", "sum"), duplicate_amount=("amount", "sum"),
                         duplicate_lines=("amount", "size"))
    return pd.concat([facts, left_lookup(facts, duplicates, KEY)], axis=1)


# ---------------------------------------------------------------------------------------------- labour

def time_by_key(time_entries: pd.DataFrame, terms: pd.DataFrame, default_rate: int) -> pd.DataFrame:
    """Per (period, client), sku ``LABOR``: hours worked, billable, invoiced, billed (invoiced or covered by
    a block agreement), and the billable hours left uninvoiced beyond the block's included hours
    (``unbilled_hours``) valued at the entry rate, else the agreement's hourly rate, else ``default_rate``
    (``unbilled_time_amount``, Int64 units)."""
    entries = time_entries[["date", "client", "hours", "billable", "rate", "invoice_number"]]
    entries = entries.assign(period=month_periods(entries["date"]))
    entries = pd.concat([entries, left_lookup(entries, terms, ["period", "client"])], axis=1)
    billable = entries["billable"].fillna(False).astype(bool)
    uninvoiced = billable & entries["invoice_number"].isna()
    rate = entries["rate"].fillna(entries["contract_hourly_rate"]).fillna(default_rate).astype("Int64")
    entries["hours_billable"] = entries["hours"].where(billable, 0.0)
    entries["hours_invoiced"] = entries["hours"].where(billable & ~uninvoiced, 0.0)
    entries["hours_uninvoiced"] = entries["hours"].where(uninvoiced, 0.0)
    entries["uninvoiced_amount"] = money_times_quantity(entries["hours_uninvoiced"], rate)
    facts = per_key(entries, ["period", "client"], hours_worked=("hours", "sum"),
                    hours_billable=("hours_billable", "sum"), hours_invoiced=("hours_invoiced", "sum"),
                    hours_uninvoiced=("hours_uninvoiced", "sum"), uninvoiced_amount=("uninvoiced_amount", "sum"),
                    included_hours=("included_hours", "first"))
    facts["unbilled_hours"] = (facts["hours_uninvoiced"] - facts["included_hours"].fillna(0)).clip(lower=0).round(4)
    # Hours a block agreement covers are paid for by its fee: they count as billed.
    facts["hours_billed"] = (facts["hours_invoiced"] + facts["hours_uninvoiced"] - facts["unbilled_hours"]).round(4)
    average_rate = unit_price_from_amount(facts["uninvoiced_amount"].astype("Int64"), facts["hours_uninvoiced"])
    facts["unbilled_time_amount"] = money_times_quantity(facts["unbilled_hours"], average_rate).fillna(0)
    facts["sku"] = pd.Series(LABOR_SKU, index=facts.index, dtype="string")
    return facts.drop(columns=["uninvoiced_amount", "included_hours"])


# ------------------------------------------------------------------------------------------ assembling

def expected_price(keys: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """P and where it came from: the contract price where a line is active, else the billed price,
    else the catalog list price, else the vendor unit cost."""
    sources = {"contract_unit_price": "contract", "billed_unit_price": "billed", "list_price": "catalog",
               "vendor_unit_cost": "vendor_cost"}
    candidates = [keys[column].astype("Int64") for column in sources]
    present = np.column_stack([candidate.notna().to_numpy(bool) for candidate in candidates])
    first = np.where(present.any(axis=1), present.argmax(axis=1), -1)
    values = np.column_stack([candidate.to_numpy(np.int64, na_value=0) for candidate in candidates])
    chosen = values[np.arange(len(keys)), np.maximum(first, 0)]
    price = pd.Series(pd.arrays.IntegerArray(chosen, first < 0), index=keys.index)
    labels = pd.Categorical.from_codes(first, categories=pd.Index(list(sources.values()), dtype="string"))
    return price, pd.Series(labels, index=keys.index)


def complete_keys(keys: pd.DataFrame, vendor_tracked: pd.DataFrame, had_contract: pd.DataFrame,
                  catalog: pd.DataFrame) -> pd.DataFrame:
    """Add flags, catalog facts, E, P and the expected amount to merged per-key facts (a new frame).

    The key table's descriptive text (``vendor``, ``product_name``, ``sku_description``,
    ``account_manager``, ``price_source``) is categorical: a few hundred values over up to millions of
    keys, where text columns would hold each name once per key (over 100 MB at a million keys)."""
    flags = pd.DataFrame({"vendor_tracked": has_key(keys, vendor_tracked, CLIENT_SKU),
                          "had_contract": has_key(keys, had_contract, CLIENT_SKU)}, index=keys.index)
    out = pd.concat([keys, flags, left_lookup(keys, catalog, ["sku"])], axis=1)
    for column in ("usage_qty", "contract_qty", "billed_qty", "duplicate_qty"):
        out[column] = out[column].fillna(0.0)
    for column in ("billed_amount", "duplicate_amount"):
        out[column] = out[column].fillna(0).astype("Int64")
    out["contract_active"] = out["contract_lines"].fillna(0).gt(0)
    out["vendor_unit_cost"] = out["vendor_unit_cost"].fillna(out["catalog_unit_cost"])
    out["expected_unit_price"], out["price_source"] = expected_price(out)
    return with_expected_amounts(out)


def with_expected_amounts(keys: pd.DataFrame) -> pd.DataFrame:
    """E and the expected amount. Vendor-tracked: E = U. With a contract basis: E = C (B for a
    usage-based line). A charge no
    contract or vendor explains (a one-time project) is expected as billed; a contract that is over
    (billed outside it) expects nothing. Labour adds the unbilled time to what was billed."""
    out = keys.copy(deep=False)
    basis = out["vendor_tracked"] | out["had_contract"]
    # A usage-based line (no quantity) with no vendor report to measure it: the billed quantity stands.
    usage_based = out["contract_active"] & out["contract_qty"].eq(0) & ~out["vendor_tracked"]
    contract_qty = out["contract_qty"].where(~usage_based, out["billed_qty"])
    out["expected_qty"] = np.where(out["vendor_tracked"], out["usage_qty"],
                                   np.where(basis, contract_qty, out["billed_qty"]))
    amount = money_times_quantity(out["expected_qty"], out["expected_unit_price"]).fillna(0)
    out["expected_amount"] = amount.where(basis, out["billed_amount"]).astype("Int64")
    # Unbilled time raises the labour key's expected amount, not its expected quantity: the hours are
    # judged by the unbilled_time rule, so the quantity rules must not judge them again.
    unbilled_amount = out["unbilled_time_amount"].fillna(0).astype("Int64")
    out["expected_amount"] = out["expected_amount"] + unbilled_amount.where(out["sku"].eq(LABOR_SKU), 0)
    return out
