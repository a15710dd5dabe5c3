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
from typing import NamedTuple, TypeAlias

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from recon import effect
from recon.cells import text_series
from recon.joins import (
    as_categorical,
    as_text,
    dictionary_encoded,
    has_key,
    key_codes,
    left_lookup,
    outer_join,
    per_key,
    recoded,
    text_lookup,
    vocabulary,
)
from recon.money import money_times_quantity, unit_price_from_amount
from recon.schema import AGREEMENT_SKU_PREFIX, CYCLE_MONTHS, LABOR_SKU

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

USAGE_FACTS = [*CLIENT_SKU, "quantity", "period_start", "period_end", "unit_cost", "vendor", "product_name",
               "row_type", "subscription_id", "subscription_start", "subscription_end", "cost_amount",
               "source_file", "source_line"]
# Row types whose rows of one subscription form a series (recon.effect): held, refunded, adjusted.
SERIES_KINDS = {"recurring": effect.HOLDS, "credit": effect.REFUNDS, "adjustment": effect.ADDS}
UNMATCHED_COLUMNS = ("file", "line", "client", "sku", "subscription_id", "period_start", "period_end",
                     "quantity", "unmatched_qty")


def window_of(periods: list[str]) -> tuple[int, int]:
    """The run's first and last day (day numbers) from its ``YYYY-MM`` periods."""
    months = np.array(sorted(periods), dtype="datetime64[M]")
    first = months[0].astype("datetime64[D]")
    last = (months[-1] + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    return int(first.astype(np.int64)), int(last.astype(np.int64))


def prorate_usage(usage: pd.DataFrame) -> pd.DataFrame:
    """One row per usage row and calendar month it covers, with ``prorated_qty`` = quantity x covered
    days / days in month (four places; a row inside one month whose dates cover it whole keeps its
    quantity) and ``on_last_day`` (whether the row covers the month's last day)."""
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
    expanded["on_last_day"] = end[row] + 1 >= next_month_start
    expanded["covered_days"] = covered
    expanded["days_in_month"] = days_in_month
    return expanded


def usage_by_key(usage: pd.DataFrame, periods: list[str], basis: str = "day_weighted") -> tuple[pd.DataFrame,
                                                                                                 pd.DataFrame]:
    """Per key of the run's ``periods``: ``usage_qty`` U (PRODUCT.md 4a; ``basis`` day_weighted or
    period_end), ``carried_days``, ``trial_qty`` (trial seats, apart from U), ``vendor_cost_amount``
    and ``vendor_unit_cost`` (a month's cost, rebates and cost credits included), the first ``vendor`` /
    ``product_name`` seen (for charts), and the unmatched credits (``UNMATCHED_COLUMNS``: credit rows
    whose charge is not among the rows).

    Rows of type recurring / credit / adjustment with a subscription id are one series per (client,
    sku, subscription): what the series holds comes from ``recon.effect`` (replacement in time, credits
    netted, carried days). Other rows (``usage`` and series types without a subscription) are added up
    for the days they cover, trial rows likewise apart; a one-time row counts in full in the month it
    starts; a cost row only adds its ``cost_amount`` to the month it starts. An ``arrears`` row (use billed
    after the fact: its span's total) counts in full in the month it starts, and the ``usage`` rows of its
    (client, sku, subscription) lying inside its span (the running totals of the same use) add nothing."""
    rows = usage[USAGE_FACTS].reset_index(drop=True)
    window = window_of(periods)
    codes, names = pd.factorize(rows["row_type"])  # (a handful of names: no per-row text work)
    kind = np.array([*(str(name) for name in names), "usage"])[codes]  # missing (-1): usage
    in_series = np.isin(kind, list(SERIES_KINDS)) & rows["subscription_id"].notna().to_numpy()
    series = _series_facts(rows, kind, in_series, window, basis)
    expanded = _expanded_rows(rows, kind, in_series, series.effective_last, _billed_in_arrears(rows, kind))
    expanded = expanded[expanded["period"].isin(periods).to_numpy()].reset_index(drop=True)
    counted = expanded["counted_qty"].to_numpy() if basis != "period_end" else expanded["end_qty"].to_numpy()
    facts = per_key(expanded.assign(counted_qty=counted, trial_counted=np.where(
        expanded["is_trial"].to_numpy(), counted, 0.0)), KEY,
        added_qty=("counted_qty", "sum"), trial_qty=("trial_counted", "sum"),
        cost_weight=("cost_weight", "sum"), cost_amount_weighted=("cost_weighted", "sum"),
        cost_only=("cost_only_amount", "sum"), vendor=("vendor", "min"), product_name=("product_name", "min"),
        usage_rows=("prorated_qty", "size"), cost_rows=("unit_cost", "count"))
    facts = outer_join([facts, series.per_key], KEY)
    facts = _usage_key_facts(facts)
    credits, counts = _unmatched_credits(rows, series.unmatched, facts, window)
    facts = outer_join([facts, counts], KEY) if len(counts) else facts.assign(unmatched_credit_rows=0)
    facts = facts.fillna({"usage_qty": 0.0, "usage_deficit": 0.0, "trial_qty": 0.0, "carried_days": 0,
                          "unmatched_credit_rows": 0})
    return facts.astype({"carried_days": "int64", "unmatched_credit_rows": "int64"}), credits


class _SeriesFacts(NamedTuple):
    per_key: pd.DataFrame  # period, client, sku, series_qty, carried_days
    unmatched: np.ndarray  # per row
    effective_last: np.ndarray  # per row: the last day a held row is in effect (its own end otherwise)


def _series_facts(rows: pd.DataFrame, kind: np.ndarray, in_series: np.ndarray, window: tuple[int, int],
                  basis: str) -> _SeriesFacts:
    """What the subscriptions hold per key and month (``recon.effect``)."""
    effective_last = effect.days(rows["period_end"].fillna(rows["period_start"]))
    unmatched = np.zeros(len(rows))
    picked = np.flatnonzero(in_series)
    if not len(picked):
        empty = pd.DataFrame({"period": pd.Series(dtype=PERIODS), "client": rows["client"].iloc[:0],
                              "sku": rows["sku"].iloc[:0], "series_qty": pd.Series(dtype=float),
                              "carried_days": pd.Series(dtype="int64")})
        return _SeriesFacts(empty, unmatched, effective_last)
    part = rows.iloc[picked]
    series = pd.factorize(key_codes(part, CLIENT_SKU) * (len(part) + 1)
                          + pd.factorize(part["subscription_id"])[0], sort=False)[0]
    named = kind[picked]
    kinds = np.select([named == name for name in SERIES_KINDS], list(SERIES_KINDS.values())).astype(np.int8)
    held = effect.held_by_month(
        series.astype(np.int64), kinds, effect.days(part["period_start"]),
        effect.days(part["period_end"].fillna(part["period_start"])), part["quantity"].to_numpy(float),
        effect.days(part["subscription_start"]), effect.days(part["subscription_end"]), window)
    unmatched[picked] = held.unmatched
    effective_last[picked] = held.effective_last
    month = held.held
    first_row = np.zeros(series.max() + 1, dtype=np.int64)
    first_row[series[::-1]] = np.arange(len(series))[::-1]
    owner = part.iloc[first_row[month["series"].to_numpy()]]
    days_in_month = month["month"].dt.days_in_month.to_numpy()
    quantity = (month["last_day_quantity"].to_numpy() if basis == "period_end"
                else month["quantity_days"].to_numpy() / days_in_month)
    frame = pd.DataFrame({"period": _periods_of_months(month["month"].to_numpy("datetime64[M]")).array,
                          "client": owner["client"].array, "sku": owner["sku"].array,
                          "series_qty": quantity, "carried_days": month["carried_days"].to_numpy()})
    return _SeriesFacts(per_key(frame, KEY, series_qty=("series_qty", "sum"), carried_days=("carried_days", "sum")),
                        unmatched, effective_last)


def _billed_in_arrears(rows: pd.DataFrame, kind: np.ndarray) -> np.ndarray:
    """Per row: whether it is a ``usage`` row that an ``arrears`` row of the same (client, sku,
    subscription) bills (its span lies inside the arrears row's span): the vendor's running report of
    use that the billed total replaces (Pax8's usage lines and the next invoice's Arrears item)."""
    superseded = np.zeros(len(rows), dtype=bool)
    subscribed = rows["subscription_id"].notna().to_numpy()
    billed = (kind == "arrears") & subscribed & rows["quantity"].gt(0).fillna(False).to_numpy()
    reported = (kind == "usage") & subscribed
    if not billed.any() or not reported.any():
        return superseded
    picked = np.flatnonzero(billed | reported)
    part = rows.iloc[picked]
    series = pd.factorize(key_codes(part, CLIENT_SKU) * (len(part) + 1)
                          + pd.factorize(part["subscription_id"])[0], sort=False)[0]
    first = effect.days(part["period_start"])
    last = effect.days(part["period_end"].fillna(part["period_start"]))
    spans = pd.DataFrame({"series": series, "first": first, "last": last})
    is_billed = billed[picked]
    pairs = spans[~is_billed].assign(row=picked[~is_billed]).merge(spans[is_billed], on="series",
                                                                   suffixes=("", "_billed"))
    inside = (pairs["first_billed"] <= pairs["first"]) & (pairs["last"] <= pairs["last_billed"])
    superseded[pairs.loc[inside, "row"].to_numpy(np.int64)] = True
    return superseded


def _expanded_rows(rows: pd.DataFrame, kind: np.ndarray, in_series: np.ndarray,
                   effective_last: np.ndarray, superseded: np.ndarray) -> pd.DataFrame:
    """Every row over the months it covers (held rows over the days they are in effect), with what it
    adds to U (``counted_qty`` day-weighted, ``end_qty`` on the month's last day), its cost weight, and
    its trial / cost-only amounts. ``superseded`` rows (``_billed_in_arrears``) add nothing."""
    ends = pd.Series(effective_last.astype("datetime64[D]").astype("datetime64[ns]"), index=rows.index)
    starts = rows["period_start"]
    cost_only, trial = (kind == name for name in ("cost", "trial"))
    one_time = (kind == "one_time") | (kind == "arrears")  # counted once, in full (an arrears row: its total)
    # a row replaced before it starts adds nothing; one-time and cost rows count once, in their first month
    lasting = ends.where(~(one_time | cost_only), starts).where(ends >= starts, starts)
    expanded = prorate_usage(rows[[*CLIENT_SKU, "quantity", "unit_cost", "vendor", "product_name",
                                   "cost_amount"]].assign(period_start=starts, period_end=lasting))
    row = expanded.index.to_numpy() if len(expanded) == len(rows) else np.repeat(
        np.arange(len(rows)), _month_counts(starts, lasting))
    gone = ((ends < starts).to_numpy() | superseded)[row]
    prorated = expanded["prorated_qty"].to_numpy()
    whole = expanded["quantity"].to_numpy(float)
    first_month = np.r_[True, row[1:] != row[:-1]]
    adds = ~(in_series[row] | one_time[row] | cost_only[row] | trial[row] | gone)
    counted = np.where(adds, prorated, 0.0) + np.where(one_time[row] & first_month, whole, 0.0)
    on_end = expanded["on_last_day"].to_numpy()
    end_qty = np.where(adds & on_end, whole, 0.0) + np.where(one_time[row] & first_month, whole, 0.0)
    # trial seats are counted apart, on the same basis
    expanded["is_trial"] = trial[row]
    charge = ~(cost_only[row] | trial[row] | gone)
    weight = np.where(charge, np.abs(np.where(one_time[row], whole * first_month, prorated)), 0.0)
    expanded["counted_qty"] = counted + np.where(trial[row], prorated, 0.0)
    expanded["end_qty"] = end_qty + np.where(trial[row] & on_end, whole, 0.0)
    expanded["cost_weight"] = np.where(expanded["unit_cost"].notna().to_numpy(), weight, 0.0)
    expanded["cost_weighted"] = money_times_quantity(expanded["cost_weight"], expanded["unit_cost"]).fillna(0)
    expanded["cost_only_amount"] = expanded["cost_amount"].where(pd.Series(cost_only[row] & first_month), 0).fillna(0)
    # The first name in text order, taken on ordered codes: a string "min" per group goes through Python
    # objects (a million of them, and 200 MB more at the peak).
    expanded["vendor"], expanded["product_name"] = (_ordered_codes(expanded[name])
                                                    for name in ("vendor", "product_name"))
    return expanded


def _month_counts(starts: pd.Series, ends: pd.Series) -> np.ndarray:
    first = starts.to_numpy("datetime64[D]").astype("datetime64[M]")
    last = np.maximum(ends.to_numpy("datetime64[D]"), starts.to_numpy("datetime64[D]")).astype("datetime64[M]")
    return (last - first).astype(np.int64) + 1


def _usage_key_facts(facts: pd.DataFrame) -> pd.DataFrame:
    """U (never below zero), trial seats, carried days and the month's vendor cost per key."""
    trial = facts.pop("trial_qty").fillna(0.0).round(4)
    raw = (facts.pop("added_qty").fillna(0.0) - trial + facts.pop("series_qty").fillna(0.0)).round(4)
    facts["usage_qty"] = raw.clip(lower=0.0)
    facts["usage_deficit"] = (-raw).clip(lower=0.0)
    facts["trial_qty"] = trial
    facts["carried_days"] = facts["carried_days"].fillna(0).astype("int64")
    # kept as categoricals: a few hundred names over a million keys (labels; see ``complete_keys``), of the
    # names the keys hold: rows outside the run's months (a stored charge's pair) leave no trace in the dtype
    facts["vendor"], facts["product_name"] = (facts[name].cat.as_unordered().cat.remove_unused_categories()
                                              for name in ("vendor", "product_name"))
    has_cost = facts.pop("cost_rows").fillna(0).to_numpy() > 0
    # a nullable count, as invoice_lines: a key without usage has none
    facts["usage_rows"] = facts["usage_rows"].astype("Int64")
    # a sum of four-place weights (prorated_qty is rounded to four places), each read at four places by
    # money_times_quantity in cost_weighted: unit_price_from_amount reads the sum the same way, exactly
    weight = facts.pop("cost_weight").fillna(0.0)
    unit_cost = unit_price_from_amount(facts.pop("cost_amount_weighted").astype("Int64"), weight)
    cost_only = facts.pop("cost_only").fillna(0).astype("Int64")
    amount = money_times_quantity(facts["usage_qty"], unit_cost).fillna(0) + cost_only
    facts["vendor_cost_amount"] = amount.where(has_cost | cost_only.ne(0)).astype("Int64")
    per_unit = unit_price_from_amount(facts["vendor_cost_amount"], facts["usage_qty"])
    facts["vendor_unit_cost"] = per_unit.where(facts["usage_qty"].gt(0), unit_cost).astype("Int64")
    return facts


def _unmatched_credits(rows: pd.DataFrame, unmatched: np.ndarray, facts: pd.DataFrame,
                       window: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Credit rows of the run's months whose charge is not among the loaded rows: a subscription's refund
    left unmatched (``recon.effect``), and negative rows added up below zero on a key. Returns them
    (``UNMATCHED_COLUMNS``) and their count per key (``unmatched_credit_rows``, at the month the credit
    starts, or the run's first)."""
    first_day, last_day = window
    starts = effect.days(rows["period_start"])
    in_window = (effect.days(rows["period_end"].fillna(rows["period_start"])) >= first_day) & (starts <= last_day)
    positions = [np.flatnonzero((unmatched > 0) & in_window)]
    quantities = [unmatched[positions[0]]]
    below = facts[facts["usage_deficit"].gt(0)]
    negative = np.flatnonzero(rows["quantity"].lt(0).to_numpy() & in_window & ~rows["row_type"].astype(
        "string").isin(list(SERIES_KINDS)).fillna(False).to_numpy())
    if len(below) and len(negative):
        deficit = as_text_keys(below[[*CLIENT_SKU, "usage_deficit"]]).groupby(CLIENT_SKU)["usage_deficit"].max()
        keyed = as_text_keys(rows.iloc[negative][CLIENT_SKU]).assign(row=negative).merge(
            deficit.reset_index(), on=CLIENT_SKU)
        positions.append(keyed["row"].to_numpy(dtype=np.int64))
        quantities.append(keyed["usage_deficit"].to_numpy(float))
    position, quantity = np.concatenate(positions), np.concatenate(quantities)
    picked = rows.iloc[position]
    out = pd.DataFrame({"file": picked["source_file"].astype("string"), "line": picked["source_line"],
                        "client": picked["client"].astype("string"), "sku": picked["sku"].astype("string"),
                        "subscription_id": picked["subscription_id"].astype("string"),
                        "period_start": picked["period_start"], "period_end": picked["period_end"],
                        "quantity": picked["quantity"], "unmatched_qty": quantity.round(4)})
    month = np.maximum(starts[position], first_day).astype("datetime64[D]").astype("datetime64[M]")
    counted = pd.DataFrame({"period": _periods_of_months(month).array, "client": picked["client"].array,
                            "sku": picked["sku"].array, "one": np.ones(len(position), dtype=np.int64)})
    counts = per_key(counted, KEY, unmatched_credit_rows=("one", "sum"))
    return out.reindex(columns=list(UNMATCHED_COLUMNS)).reset_index(drop=True), counts


def as_text_keys(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{name: as_text(frame[name]) for name in CLIENT_SKU if name in frame})


def _ordered_codes(column: pd.Series) -> pd.Series:
    """Text as an ordered categorical over its own values in text order (``min`` is the first name)."""
    dtype = pd.CategoricalDtype(vocabulary([column]).categories, ordered=True)
    return as_categorical(column, dtype)


# ------------------------------------------------------------------------------------------- contracts

CONTRACT_FACTS = [*CLIENT_SKU, "quantity", "unit_price", "start_date", "end_date", "billing_frequency",
                  "billable", "included_hours", "hourly_rate", "service_id", "prorate", "agreement_id"]
LINE_TERMS = [*CLIENT_SKU, "agreement_id", "unit_price", "included_hours", "hourly_rate"]


def expected_contract_lines(contracts: pd.DataFrame, periods: list[str], basis: str = "day_weighted") -> pd.DataFrame:
    """Billable contract lines x the periods in which each is expected, with the quantity expected
    (``line_qty``) and the ``LINE_TERMS`` of the line (PRODUCT.md 4a, docs/semantics.md).

    Monthly lines: rows of one contract service (``service_id``) replace one another in time; a line
    is expected for the days it is in effect in the month (``basis`` day_weighted), or in full when in
    effect on the month's last day (period_end); a line whose PSA bills whole cycles only (``prorate``
    false) is expected in full in months it covers whole, and not at all in a partial month. A line
    billed every N months (``billing_frequency``) is expected in full in its billing months (every N
    months from its start) while in effect on the cycle's first day; a ``one_time`` line in the month it
    starts. ``contracts`` comes in start-date order (the latest line of a key comes last)."""
    lines = contracts[contracts["billable"].fillna(True).astype(bool).to_numpy()].reset_index(drop=True)
    months = lines["billing_frequency"].astype("string").fillna("monthly").map(CYCLE_MONTHS).fillna(1).to_numpy()
    monthly = months == 1
    parts = [_monthly_lines(lines[monthly].reset_index(drop=True), periods, basis),
             _cycle_lines(lines[~monthly].reset_index(drop=True), months[~monthly], periods)]
    return pd.concat(parts, ignore_index=True)


def _monthly_lines(lines: pd.DataFrame, periods: list[str], basis: str) -> pd.DataFrame:
    """Monthly lines over the run's months: replaced in time within a contract service, then expected
    per the line's proration and the quantity basis. Interval arithmetic on a lines x months grid of day
    numbers (a contract file has a line per service, the run a dozen months)."""
    bounds = period_bounds(periods)
    _, last_day = window_of(periods)
    start = effect.days(lines["start_date"])
    end = effect.days(lines["end_date"])
    end = np.where(end == np.iinfo(np.int64).min, last_day, end)
    service = lines["service_id"].notna().to_numpy()
    named = lines["client"].astype("string") + "\x1f" + lines["sku"].astype("string") + "\x1f" \
        + lines["service_id"].astype("string")
    series = np.where(service, pd.factorize(named)[0], -1 - np.arange(len(lines))).astype(np.int64)
    whole = lines["quantity"].fillna(0).to_numpy(float)
    effective = effect.replaced_last(series, start, end, whole)[:, None]
    month_first = effect.days(bounds["month_start"])[None, :]
    month_last = effect.days(bounds["month_end"])[None, :]
    days_in_month = bounds["days_in_month"].to_numpy(np.int64)[None, :]
    covered = np.minimum(effective, month_last) - np.maximum(start[:, None], month_first) + 1
    in_month = covered > 0
    full_month = covered == days_in_month
    if basis == "period_end":
        on_end = in_month & (effective >= month_last)
        quantity, active = np.where(on_end, whole[:, None], 0.0), on_end
    else:
        quantity = np.round(whole[:, None] * np.maximum(covered, 0) / days_in_month, 4)
        active = in_month
    prorated = lines["prorate"].fillna(True).astype(bool).to_numpy()[:, None]
    quantity = np.where(prorated, quantity, np.where(full_month, whole[:, None], 0.0))
    line, period = np.nonzero(np.where(prorated, active, full_month))  # line by line, months in order
    terms = lines[LINE_TERMS].iloc[line].reset_index(drop=True)
    return terms.assign(period=bounds["period"].iloc[period].reset_index(drop=True).array,
                        line_qty=quantity[line, period], has_quantity=lines["quantity"].notna().to_numpy()[line])


def _cycle_lines(lines: pd.DataFrame, months: np.ndarray, periods: list[str]) -> pd.DataFrame:
    """Lines billed every N months (or once): expected in full in their billing months."""
    bounds = period_bounds(periods)
    month_number = bounds["month_start"].to_numpy("datetime64[M]").astype(np.int64)[None, :]
    start = lines["start_date"].to_numpy("datetime64[D]")
    start_month = start.astype("datetime64[M]").astype(np.int64)[:, None]
    elapsed = month_number - start_month
    cycle = months[:, None].astype(np.int64)
    billing = (elapsed >= 0) & np.where(cycle > 0, elapsed % np.maximum(cycle, 1) == 0, elapsed == 0)
    # the cycle starts on the start date's day of the billing month (the month's last day if shorter)
    day = (start - start.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)[:, None]
    month_first = bounds["month_start"].to_numpy("datetime64[D]")[None, :]
    month_last = bounds["month_end"].to_numpy("datetime64[D]")[None, :]
    cycle_start = np.minimum(month_first + day.astype("timedelta64[D]"), month_last)
    end = lines["end_date"].to_numpy("datetime64[D]")[:, None]
    in_effect = np.isnat(end) | (end >= cycle_start)
    line, period = np.nonzero(billing & in_effect)
    terms = lines[LINE_TERMS].iloc[line].reset_index(drop=True)
    return terms.assign(period=bounds["period"].iloc[period].reset_index(drop=True).array,
                        line_qty=lines["quantity"].fillna(0).to_numpy(float)[line],
                        has_quantity=lines["quantity"].notna().to_numpy()[line])


def contracts_by_key(expected_lines: pd.DataFrame) -> pd.DataFrame:
    """Per key with an expected line (``expected_contract_lines`` of contracts in start-date order):
    ``contract_qty`` C, ``contract_lines`` and ``contract_unit_price`` Pc (weighted by the quantity
    expected of each line; the latest line's price where no line has a quantity)."""
    lines = expected_lines.assign(line_amount=money_times_quantity(expected_lines["line_qty"],
                                                                   expected_lines["unit_price"]))
    facts = per_key(lines, KEY, contract_qty=("line_qty", "sum"), contract_amount=("line_amount", "sum"),
                    latest_price=("unit_price", "last"), contract_lines=("unit_price", "size"))
    facts["contract_qty"] = facts["contract_qty"].round(4)
    weighted = unit_price_from_amount(facts["contract_amount"].astype("Int64"), facts["contract_qty"])
    facts["contract_unit_price"] = weighted.fillna(facts["latest_price"]).astype("Int64")
    return facts.drop(columns=["contract_amount", "latest_price"])


def labour_terms(expected_lines: pd.DataFrame) -> pd.DataFrame:
    """Per (period, client) with expected contract lines: hours included by block agreements and the
    agreement's hourly rate."""
    return per_key(expected_lines, ["period", "client"], included_hours=("included_hours", "sum"),
                   contract_hourly_rate=("hourly_rate", "max"))


def agreements_by_key(expected_lines: pd.DataFrame) -> pd.DataFrame:
    """Per key with an expected line: the agreement of its latest line (``agreement_id``; missing where
    the lines name none)."""
    named = expected_lines.dropna(subset=["agreement_id"])
    return per_key(named, KEY, agreement_id=("agreement_id", "last"))


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


def item_lines(invoices: pd.DataFrame) -> pd.DataFrame:
    """The invoice lines that bill a product (``line_type`` item): totals stand apart (``agreement_totals``,
    receivables)."""
    if "line_type" not in invoices:
        return invoices
    items = invoices["line_type"].astype("string").fillna("item").eq("item").to_numpy()
    return invoices if items.all() else invoices[items]


def agreement_totals(invoices: pd.DataFrame) -> pd.DataFrame:
    """Per (period of the service start, client, agreement_id): the amount of the agreement invoices'
    totals (``line_type`` agreement_total) and how many there are; ``agreement_id`` missing where the
    totals name no agreement (a list view: the client's agreements together)."""
    totals = invoices[invoices["line_type"].astype("string").eq("agreement_total").fillna(False).to_numpy()]
    out = totals.assign(period=month_periods(totals["period_start"]).astype("string"),
                        client=totals["client"].astype("string"),
                        agreement_id=totals["agreement_id"].astype("string").fillna(""))
    return (out.groupby(["period", "client", "agreement_id"], sort=True)
            .agg(billed_amount=("amount", "sum"), invoice_lines=("amount", "size")).reset_index())


def invoices_by_key(invoices: pd.DataFrame) -> pd.DataFrame:
    """Per key (period of the service start): ``billed_qty`` B and ``billed_amount`` A of the item lines
    kept (credit memos, negative, net against them), Pb, and the quantity, amount and number of the extra
    (duplicate) lines, missing where there are none. Kept lines are summed by masking the extras out, so
    the million lines are not copied."""
    invoices = item_lines(invoices)
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
    for column in ("usage_qty", "contract_qty", "billed_qty", "duplicate_qty", "trial_qty", "usage_deficit"):
        out[column] = out[column].fillna(0.0)
    for column in ("carried_days", "unmatched_credit_rows"):  # counts: a key without usage has none
        out[column] = out[column].fillna(0).astype("int64")
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


# ------------------------------------------------------------------------------------ agreement totals

# The agreement adjustments a run knows it applied (``recon.fixes.agreement_adjustments``): the period they
# are effective in, the client, the agreement and the amount (Int64 units; negative for a credit).
ADJUSTMENT_COLUMNS = ("period", "client", "agreement_id", "amount")


def with_agreement_totals(keys: pd.DataFrame, totals: pd.DataFrame, agreements: pd.DataFrame,
                          adjustments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Keys (text key columns) with agreement invoices' totals compared as keys of their own.

    An agreement invoice known by its total (ConnectWise gives no lines for it) bills the agreement's
    contract lines together: the keys of those lines (``agreements``: period, client, sku ->
    agreement_id; a total naming no agreement covers every contract key of its client that month) are
    flagged ``in_agreement_total`` and their expected amount moves to one key (period, client,
    ``AGREEMENT-<id>``) whose billed amount is the total (``totals``, ``agreement_totals``); the rule
    ``agreement_total_mismatch`` judges it. Nothing on the billed side is rebuilt from the contract.

    ``adjustments`` (``ADJUSTMENT_COLUMNS``) are the one-time agreement adjustments the fixes wrote to the
    PSA; those a total carries (``billed_adjustments``) are expected of it too (see
    ``billed_adjustments``)."""
    out = keys.assign(in_agreement_total=False, agreement_total=False,
                      billed_adjustments=pd.array(np.zeros(len(keys), dtype=np.int64), dtype="Int64"))
    if not len(totals):
        return out
    named = text_lookup(out, agreements.assign(**{name: as_text(agreements[name]) for name in KEY})
                        .astype({"agreement_id": "string"}), KEY)["agreement_id"].astype("string")
    owner = pd.DataFrame({"period": out["period"].astype("string"), "client": out["client"].astype("string"),
                          "agreement_id": named.fillna("")})
    exact = owner.merge(totals[["period", "client", "agreement_id"]], how="left", indicator=True)["_merge"]
    client_wide = totals[totals["agreement_id"].eq("")][["period", "client"]].drop_duplicates()
    by_client = owner[["period", "client"]].merge(client_wide, how="left", indicator=True)["_merge"]
    client_level = by_client.eq("both").to_numpy()
    covered = out["contract_active"].to_numpy(bool) & ((exact.eq("both").to_numpy() & named.notna().to_numpy())
                                                       | client_level)
    target = owner["agreement_id"].where(~client_level, "")
    expected = (pd.DataFrame({"period": owner["period"], "client": owner["client"], "agreement_id": target,
                              "expected_amount": out["expected_amount"]})[covered]
                .groupby(["period", "client", "agreement_id"], sort=True)["expected_amount"].sum().reset_index())
    judged = totals.merge(expected, how="left", on=["period", "client", "agreement_id"])
    judged["expected_amount"] = judged["expected_amount"].fillna(0).astype("Int64")
    judged["billed_adjustments"] = billed_adjustments(judged, adjustments)
    judged["expected_amount"] = judged["expected_amount"] + judged["billed_adjustments"]
    out["in_agreement_total"] = covered
    out["expected_amount"] = out["expected_amount"].where(~covered, 0).astype("Int64")
    return _sorted_keys(pd.concat([out, _agreement_keys(judged, out)], ignore_index=True))


def billed_adjustments(judged: pd.DataFrame, adjustments: pd.DataFrame | None) -> pd.Series:
    """Per agreement total of ``judged`` (period, client, agreement_id, billed_amount, expected_amount): the
    sum of the ``adjustments`` effective in its period on its agreement (every agreement of the client for a
    total naming none) where the total carries them, else 0 (Int64 units).

    ConnectWise invoices an agreement adjustment inside the agreement invoice's total (its API gives no
    lines), so a total differing from its additions by the adjustments a fix wrote is billed as asked. The
    total carries them when it differs from the additions' expected amount in their direction by at least
    their sum (a charge: the total exceeds by it or more; a credit: falls short by it or more); what differs
    beyond them is still a mismatch. A total that moved less than their sum, or the other way, is judged
    against the additions alone: nothing shows the adjustments were billed, and the whole gap is reported."""
    zero = pd.Series(0, index=judged.index, dtype="Int64")
    if adjustments is None or not len(adjustments) or not len(judged):
        return zero
    made = pd.DataFrame({"period": adjustments["period"].astype("string"),
                         "client": adjustments["client"].astype("string"),
                         "agreement_id": adjustments["agreement_id"].astype("string").fillna(""),
                         "amount": adjustments["amount"].astype("Int64")})
    named = made.groupby(["period", "client", "agreement_id"], sort=False)["amount"].sum().reset_index()
    client = made.groupby(["period", "client"], sort=False)["amount"].sum().reset_index()
    where = judged[["period", "client", "agreement_id"]].astype("string").reset_index(drop=True)
    by_agreement = where.merge(named, how="left", on=["period", "client", "agreement_id"])["amount"]
    by_client = where[["period", "client"]].merge(client, how="left", on=["period", "client"])["amount"]
    wanted = by_agreement.where(where["agreement_id"].ne(""), by_client).fillna(0).astype("Int64")
    wanted.index = judged.index
    gap = judged["billed_amount"].astype("Int64") - judged["expected_amount"].astype("Int64")
    carried = wanted.ne(0) & gap.gt(0).eq(wanted.gt(0)) & gap.abs().ge(wanted.abs())
    return wanted.where(carried.fillna(False).to_numpy(bool), 0).astype("Int64")


def agreement_sku(agreement_id: pd.Series) -> pd.Series:
    """The key's sku for an agreement's total: ``AGREEMENT-<id>`` (``AGREEMENT`` when it names none)."""
    suffix = ("-" + agreement_id.astype("string")).where(agreement_id.ne(""), "")
    return (AGREEMENT_SKU_PREFIX + suffix).astype("string")


def _agreement_keys(judged: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    """One key per agreement total: billed = the total, expected = its lines' expected amount."""
    values = {
        "period": judged["period"], "client": judged["client"], "sku": agreement_sku(judged["agreement_id"]),
        "billed_amount": judged["billed_amount"].astype("Int64"),
        "expected_amount": judged["expected_amount"].fillna(0).astype("Int64"),
        "billed_adjustments": judged["billed_adjustments"].astype("Int64"),
        "invoice_lines": judged["invoice_lines"],
        "agreement_total": pd.Series(True, index=judged.index),
        "in_agreement_total": pd.Series(False, index=judged.index),
    }
    rows = pd.DataFrame(index=pd.RangeIndex(len(judged)))
    for column in template.columns:
        dtype = template[column].dtype
        if column in values:
            rows[column] = pd.Series(values[column].to_numpy(), dtype=object).astype(dtype) \
                if not isinstance(dtype, pd.CategoricalDtype) else pd.Series(values[column].to_numpy()).astype(dtype)
        elif pd.api.types.is_bool_dtype(dtype):
            rows[column] = False
        elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_extension_array_dtype(dtype):
            rows[column] = np.zeros(len(judged), dtype=dtype)
        elif dtype == np.float64:
            rows[column] = 0.0 if column.endswith(("_qty", "_hours")) else np.nan
        else:
            rows[column] = pd.Series([pd.NA] * len(judged), dtype=object).astype(dtype) \
                if not isinstance(dtype, pd.CategoricalDtype) else pd.Series([None] * len(judged)).astype(dtype)
    return rows


def _sorted_keys(keys: pd.DataFrame) -> pd.DataFrame:
    return keys.sort_values(KEY, kind="stable").reset_index(drop=True)
