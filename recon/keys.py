"""Resolved rows -> one row of facts per key (period, client, sku) (PRODUCT.md section 4).

The facts per key: ``usage_qty`` U (prorated by covered days), ``contract_qty`` C and
``contract_unit_price`` Pc (billable lines active in the period), ``billed_qty`` B and ``billed_amount``
A (invoice lines of that service period, duplicates removed), ``billed_unit_price`` Pb = A / B, the
vendor-tracked flag, and from them the expected quantity E, the expected unit price P (with
``price_source``) and the expected amount. Duplicate lines and unbilled time are summarised per key too,
so that every rule in ``recon.rules`` reads one frame. Money is Int64 units (``recon.money``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.money import money_times_quantity, unit_price_from_amount
from recon.schema import LABOR_SKU

KEY = ["period", "client", "sku"]
CLIENT_SKU = ["client", "sku"]


def to_period(dates: pd.Series) -> pd.Series:
    """Dates -> ``YYYY-MM`` strings."""
    return dates.dt.strftime("%Y-%m").astype("string")


def period_bounds(periods: list[str]) -> pd.DataFrame:
    """``YYYY-MM`` -> first day, last day and number of days of each month."""
    starts = pd.to_datetime(pd.Series(periods, dtype="string") + "-01", format="%Y-%m-%d")
    ends = starts + pd.offsets.MonthEnd(0)
    return pd.DataFrame({"period": pd.Series(periods, dtype="string"), "month_start": starts,
                         "month_end": ends, "days_in_month": starts.dt.days_in_month})


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
    expanded = usage.iloc[row].reset_index(drop=True)
    expanded["period"] = pd.Series(np.datetime_as_string(month, unit="M"), dtype="string")
    expanded["prorated_qty"] = np.round(quantity * covered / days_in_month, 4)
    return expanded


def usage_by_key(usage: pd.DataFrame) -> pd.DataFrame:
    """Per key: ``usage_qty`` U, ``vendor_cost_amount`` (prorated qty x unit cost), the quantity-weighted
    ``vendor_unit_cost``, and the first ``vendor`` / ``product_name`` seen (for charts)."""
    rows = prorate_usage(usage)
    rows["vendor_cost_amount"] = money_times_quantity(rows["prorated_qty"], rows["unit_cost"])
    grouped = rows.groupby(KEY, sort=False, observed=True)
    facts = grouped.agg(usage_qty=("prorated_qty", "sum"), vendor_cost_amount=("vendor_cost_amount", "sum"),
                        vendor=("vendor", "min"), product_name=("product_name", "min"),
                        usage_rows=("prorated_qty", "size")).reset_index()
    facts["usage_qty"] = facts["usage_qty"].round(4)
    has_cost = grouped["unit_cost"].count().to_numpy() > 0
    facts["vendor_cost_amount"] = facts["vendor_cost_amount"].astype("Int64").where(has_cost)
    facts["vendor_unit_cost"] = unit_price_from_amount(facts["vendor_cost_amount"], facts["usage_qty"])
    return facts


# ------------------------------------------------------------------------------------------- contracts

def active_contract_lines(contracts: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Billable contract lines x the periods in which each is expected: started by the month's end, not
    ended before its start; an annual line only in the months of its start anniversary."""
    bounds = period_bounds(periods)
    lines = contracts[contracts["billable"].fillna(True).astype(bool)]
    pairs = lines.merge(bounds, how="cross")
    active = (pairs["start_date"] <= pairs["month_end"]) & (
        pairs["end_date"].isna() | (pairs["end_date"] >= pairs["month_start"]))
    annual = pairs["billing_frequency"].eq("annual").fillna(False)
    anniversary = pairs["start_date"].dt.month == pairs["month_start"].dt.month
    return pairs[active & (~annual | anniversary)].reset_index(drop=True)


def contracts_by_key(contracts: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Per key with an active line: ``contract_qty`` C, ``contract_unit_price`` Pc (quantity-weighted over
    the active lines; the latest line's price where no line has a quantity), ``account_manager``,
    ``included_hours`` and ``contract_hourly_rate``."""
    # Lines starting the same day are ordered by their content, never by input order.
    content_order = ["start_date", "unit_price", "quantity", "account_manager"]
    lines = active_contract_lines(contracts, periods).sort_values(content_order, kind="stable")
    lines["line_amount"] = money_times_quantity(lines["quantity"].fillna(0), lines["unit_price"])
    grouped = lines.groupby(KEY, sort=False, observed=True)
    facts = grouped.agg(contract_qty=("quantity", "sum"), contract_amount=("line_amount", "sum"),
                        latest_price=("unit_price", "last"), account_manager=("account_manager", "first"),
                        contract_lines=("unit_price", "size")).reset_index()
    weighted = unit_price_from_amount(facts["contract_amount"].astype("Int64"), facts["contract_qty"])
    facts["contract_unit_price"] = weighted.fillna(facts["latest_price"]).astype("Int64")
    return facts.drop(columns=["contract_amount", "latest_price"])


def labour_terms(contracts: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Per (period, client): hours included by block agreements and the agreement's hourly rate."""
    lines = active_contract_lines(contracts, periods)
    grouped = lines.groupby(["period", "client"], sort=False, observed=True)
    return grouped.agg(included_hours=("included_hours", "sum"),
                       contract_hourly_rate=("hourly_rate", "max")).reset_index()


def account_managers(contracts: pd.DataFrame) -> pd.DataFrame:
    """Per client: the account manager named on its latest contract line."""
    named = contracts.dropna(subset=["account_manager"]).sort_values(["start_date", "account_manager"], kind="stable")
    return named.groupby("client", sort=False)["account_manager"].last().reset_index()


# -------------------------------------------------------------------------------------------- invoices

DUPLICATE_FIELDS = ["client", "sku", "period", "quantity", "unit_price"]


def split_duplicates(invoices: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept lines, extra lines): a line repeating an earlier one's client, sku, period, quantity and
    unit price is an extra. "Earlier" is by invoice date, number and file line, so input order changes
    nothing."""
    lines = invoices.assign(period=to_period(invoices["period_start"]))
    lines = lines.sort_values(["invoice_date", "invoice_number", "source_file", "source_line"], kind="stable")
    extra = lines.duplicated(subset=DUPLICATE_FIELDS, keep="first").to_numpy()
    return lines[~extra], lines[extra]


def invoices_by_key(kept: pd.DataFrame, extras: pd.DataFrame) -> pd.DataFrame:
    """Per key: ``billed_qty`` B, ``billed_amount`` A, Pb, and the duplicates' quantity and amount."""
    billed = kept.groupby(KEY, sort=False, observed=True).agg(
        billed_qty=("quantity", "sum"), billed_amount=("amount", "sum"),
        invoice_lines=("amount", "size")).reset_index()
    billed["billed_qty"] = billed["billed_qty"].round(4)
    billed["billed_unit_price"] = unit_price_from_amount(billed["billed_amount"], billed["billed_qty"])
    duplicates = extras.groupby(KEY, sort=False, observed=True).agg(
        duplicate_qty=("quantity", "sum"), duplicate_amount=("amount", "sum"),
        duplicate_lines=("amount", "size")).reset_index()
    return billed.merge(duplicates, on=KEY, how="outer")


# ---------------------------------------------------------------------------------------------- labour

def time_by_key(time_entries: pd.DataFrame, terms: pd.DataFrame, default_rate: int) -> pd.DataFrame:
    """Per (period, client), sku ``LABOR``: hours worked, billable, invoiced, billed (invoiced or covered by
    a block agreement), and the billable hours left uninvoiced beyond the block's included hours
    (``unbilled_hours``) valued at the entry rate, else the agreement's hourly rate, else ``default_rate``
    (``unbilled_time_amount``, Int64 units)."""
    entries = time_entries.assign(period=to_period(time_entries["date"]))
    entries = entries.merge(terms, on=["period", "client"], how="left")
    billable = entries["billable"].fillna(False).astype(bool)
    uninvoiced = billable & entries["invoice_number"].isna()
    rate = entries["rate"].fillna(entries["contract_hourly_rate"]).fillna(default_rate).astype("Int64")
    entries["hours_billable"] = entries["hours"].where(billable, 0.0)
    entries["hours_invoiced"] = entries["hours"].where(billable & ~uninvoiced, 0.0)
    entries["hours_uninvoiced"] = entries["hours"].where(uninvoiced, 0.0)
    entries["uninvoiced_amount"] = money_times_quantity(entries["hours_uninvoiced"], rate)
    facts = entries.groupby(["period", "client"], sort=False, observed=True).agg(
        hours_worked=("hours", "sum"), hours_billable=("hours_billable", "sum"),
        hours_invoiced=("hours_invoiced", "sum"), hours_uninvoiced=("hours_uninvoiced", "sum"),
        uninvoiced_amount=("uninvoiced_amount", "sum"), included_hours=("included_hours", "first"),
    ).reset_index()
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
    price = pd.Series(pd.NA, index=keys.index, dtype="Int64")
    source = pd.Series(pd.NA, index=keys.index, dtype="string")
    for column, name in (("contract_unit_price", "contract"), ("billed_unit_price", "billed"),
                         ("list_price", "catalog"), ("vendor_unit_cost", "vendor_cost")):
        take = price.isna() & keys[column].notna()
        price = price.where(~take, keys[column])
        source = source.where(~take, name)
    return price, source


def complete_keys(keys: pd.DataFrame, vendor_tracked: pd.DataFrame, had_contract: pd.DataFrame,
                  catalog: pd.DataFrame) -> pd.DataFrame:
    """Add flags, catalog facts, E, P and the expected amount to merged per-key facts (a new frame)."""
    out = keys.merge(vendor_tracked, on=CLIENT_SKU, how="left").merge(had_contract, on=CLIENT_SKU, how="left")
    out = out.merge(catalog, on="sku", how="left")
    for column in ("usage_qty", "contract_qty", "billed_qty", "duplicate_qty"):
        out[column] = out[column].fillna(0.0)
    for column in ("billed_amount", "duplicate_amount"):
        out[column] = out[column].fillna(0).astype("Int64")
    out["vendor_tracked"] = out["vendor_tracked"].fillna(False).astype(bool)
    out["had_contract"] = out["had_contract"].fillna(False).astype(bool)
    out["contract_active"] = out["contract_lines"].fillna(0).gt(0)
    out["vendor_unit_cost"] = out["vendor_unit_cost"].fillna(out["catalog_unit_cost"])
    out["expected_unit_price"], out["price_source"] = expected_price(out)
    return with_expected_amounts(out)


def with_expected_amounts(keys: pd.DataFrame) -> pd.DataFrame:
    """E and the expected amount. Vendor-tracked: E = U. With a contract basis: E = C (B for a
    usage-based line). A charge no
    contract or vendor explains (a one-time project) is expected as billed; a contract that is over
    (billed outside it) expects nothing. Labour adds the unbilled time to what was billed."""
    out = keys.copy()
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
