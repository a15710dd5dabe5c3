"""Metrics (PRODUCT.md section 5): money figures overall, per period, per client, per type and vendor.

All money is summed as Int64 units and reported as decimal strings; rates are ratios (floats rounded to
four places), never money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from recon.joins import text_lookup
from recon.money import format_units, to_decimal
from recon.receivables import AGING_BUCKETS, unapplied_payments
from recon.rules import INFORMATIONAL_TYPES
from recon.schema import LABOR_SKU

RECOVERED_STATUSES = frozenset({"billed", "credited"})
MONEY_FIGURES = ("expected_revenue", "billed_revenue", "leakage", "overcharge", "net_variance",
                 "vendor_cost", "gross_margin")


def counted(found: pd.DataFrame) -> pd.DataFrame:
    """Discrepancies that count as money at stake (informational ones, negative margin, do not)."""
    return found[~found["type"].isin(INFORMATIONAL_TYPES)]


def figures(keys: pd.DataFrame, found: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Money figures and rates grouped by ``by`` (``[]`` for one overall row). Money in Int64 units."""
    at_stake = counted(found)
    key_money = keys.assign(
        billed_revenue=keys["billed_amount"] + keys["duplicate_amount"], _one=1,
        vendor_cost=keys["vendor_cost_amount"].fillna(0).astype("Int64"))
    group = by or ["_one"]
    per_key = _summed(key_money, group, expected_revenue="expected_amount", billed_revenue="billed_revenue",
                      vendor_cost="vendor_cost", keys="_one")
    # Every finding is about one of the keys: count the flagged keys on the findings, not on all keys.
    flagged = at_stake[list(dict.fromkeys(["period", "client", "sku", *by]))].drop_duplicates(
        ["period", "client", "sku"])
    per_key = per_key.join(flagged.assign(_one=1).groupby(group, observed=True).size().rename("keys_flagged"))
    variance = at_stake.assign(_one=1, leakage=-at_stake["variance"].where(at_stake["variance"] < 0, 0),
                               overcharge=at_stake["variance"].where(at_stake["variance"] > 0, 0))
    per_finding = variance.groupby(group, observed=True).agg(
        leakage=("leakage", "sum"), overcharge=("overcharge", "sum"), discrepancies=("_one", "size"))
    out = per_key.join(per_finding, how="outer").fillna(0)
    return _with_rates(out).reset_index().drop(columns=["_one"], errors="ignore")


def _summed(frame: pd.DataFrame, group: list[str], **sums: str) -> pd.DataFrame:
    """``frame.groupby(group).agg(name=(column, "sum"), ...)``; for the overall row (``group`` is the
    constant ``_one``) the columns are summed directly rather than grouped."""
    if group != ["_one"]:
        return frame.groupby(group, observed=True).agg(**{name: (column, "sum") for name, column in sums.items()})
    totals = {name: pd.array([frame[column].sum()], dtype=_sum_dtype(frame[column])) for name, column in sums.items()}
    return pd.DataFrame(totals, index=pd.Index([1], name="_one"))


def _sum_dtype(column: pd.Series) -> str:
    return "Int64" if str(column.dtype) == "Int64" else "int64"


def _with_rates(out: pd.DataFrame) -> pd.DataFrame:
    for column in ("expected_revenue", "billed_revenue", "vendor_cost", "leakage", "overcharge"):
        out[column] = out[column].astype("Int64")
    out = out.astype({"keys": "int64", "keys_flagged": "int64", "discrepancies": "int64"})
    out["net_variance"] = out["overcharge"] - out["leakage"]
    out["gross_margin"] = out["billed_revenue"] - out["vendor_cost"]
    out["leakage_rate"] = _ratio(out["leakage"], out["expected_revenue"])
    out["billing_accuracy"] = _ratio(out["keys"] - out["keys_flagged"], out["keys"])
    out["gross_margin_pct"] = _ratio(out["gross_margin"], out["billed_revenue"])
    return out


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    denominator = denominator.astype("Float64")
    return (numerator.astype("Float64") / denominator.where(denominator != 0)).round(4).astype("Float64")


def by_type(found: pd.DataFrame) -> pd.DataFrame:
    """Count and variance per discrepancy type and direction."""
    grouped = found.groupby(["type", "direction"], observed=True)
    out = grouped.agg(discrepancies=("variance", "size"), variance=("variance", "sum")).reset_index()
    out["informational"] = out["type"].isin(INFORMATIONAL_TYPES)
    return out


def by_vendor_product(keys: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """Leakage and overcharge per vendor and product (``(no vendor)`` for contract-only SKUs)."""
    labels = keys[["period", "client", "sku", "vendor", "sku_description"]]
    findings = counted(found).reset_index(drop=True)
    found_labels = text_lookup(findings, labels, ["period", "client", "sku"]).astype("string")
    tagged = pd.concat([findings, found_labels], axis=1)
    tagged["vendor"] = tagged["vendor"].fillna("(no vendor)")
    tagged["product"] = tagged["sku_description"].fillna(tagged["sku"])
    tagged["leakage"] = -tagged["variance"].where(tagged["variance"] < 0, 0)
    tagged["overcharge"] = tagged["variance"].where(tagged["variance"] > 0, 0)
    out = tagged.groupby(["vendor", "sku", "product"], observed=True).agg(
        leakage=("leakage", "sum"), overcharge=("overcharge", "sum"), discrepancies=("variance", "size"))
    return out.reset_index().astype({"leakage": "Int64", "overcharge": "Int64"})


@dataclass(frozen=True)
class Metrics:
    """All figures of a run as frames (money in Int64 units) plus the overall dictionary."""

    overall: dict[str, Any]
    by_period: pd.DataFrame
    by_client: pd.DataFrame
    by_type: pd.DataFrame
    by_vendor: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall, "by_period": _records(self.by_period),
                "by_client": _records(self.by_client), "by_type": _records(self.by_type),
                "by_vendor": _records(self.by_vendor)}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: Int64 money as decimal strings, NA as None."""
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype) == "Int64":
            out[column] = format_units(out[column])
    return [{key: (None if pd.isna(value) else value) for key, value in row.items()}
            for row in out.astype(object).to_dict(orient="records")]


def labour_figures(keys: pd.DataFrame) -> dict[str, Any]:
    """Hours worked / billable / invoiced / billed / unbilled, effective hourly rate, and realisation =
    billed hours (invoiced or covered by a block) / billable hours."""
    labour = keys[keys["sku"] == LABOR_SKU]
    worked = float(labour["hours_worked"].fillna(0).sum())
    billable = float(labour["hours_billable"].fillna(0).sum())
    invoiced = float(labour["hours_invoiced"].fillna(0).sum())
    billed = float(labour["hours_billed"].fillna(0).sum())
    billed_labour = int(labour["billed_amount"].sum())
    return {
        "hours_worked": round(worked, 2), "hours_billable": round(billable, 2),
        "hours_invoiced": round(invoiced, 2), "hours_billed": round(billed, 2),
        "unbilled_hours": round(float(labour["unbilled_hours"].fillna(0).sum()), 2),
        "billed_labour": billed_labour,
        "effective_hourly_rate": _per_hour(billed_labour, worked),
        "realisation": round(billed / billable, 4) if billable else None,
    }


def _per_hour(amount: int, hours: float) -> int | None:
    """Money units per hour, exact to the unit (Decimal division, half up)."""
    if not hours:
        return None
    return int((Decimal(amount) / Decimal(str(round(hours, 4)))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def exposure(found: pd.DataFrame, resolutions: pd.DataFrame | None) -> dict[str, int]:
    """Recovered = |variance| of counted findings resolved as billed or credited; open = the rest."""
    at_stake = counted(found)
    status = pd.Series(pd.NA, index=at_stake.index, dtype="string")
    if resolutions is not None and len(resolutions):
        status = at_stake["fingerprint"].map(resolutions.set_index("fingerprint")["status"]).astype("string")
    magnitude = at_stake["variance"].abs()
    recovered_mask = status.isin(RECOVERED_STATUSES).fillna(False).to_numpy(bool)
    return {"recovered": int(magnitude[recovered_mask].sum()), "open_exposure": int(magnitude[~recovered_mask].sum())}


def receivable_figures(book: pd.DataFrame, billed_revenue: int, days_in_run: int) -> dict[str, Any]:
    """AR balance, overdue balance, balance per aging bucket, DSO, short-paid count."""
    open_items = book[book["aging_bucket"] != "paid"]
    balance = int(open_items["balance"].sum())
    aging = {bucket: int(open_items.loc[open_items["aging_bucket"] == bucket, "balance"].sum())
             for bucket in AGING_BUCKETS}
    return {
        "ar_balance": balance, "overdue_balance": balance - aging["current"], "aging": aging,
        "dso": round(balance / billed_revenue * days_in_run, 1) if billed_revenue else None,
        "short_paid_invoices": int(book["short_paid"].sum()), "open_invoices": len(open_items),
    }


def usage_notes(keys: pd.DataFrame) -> dict[str, Any]:
    """What reading the vendor rows found beside the quantities (PRODUCT.md 4a): days carried from the
    nearest charge (and on how many keys) and trial seats, which are not expected to be billed."""
    carried = keys["carried_days"].fillna(0) if "carried_days" in keys else pd.Series(0, index=keys.index)
    trial = keys["trial_qty"].fillna(0.0) if "trial_qty" in keys else pd.Series(0.0, index=keys.index)
    return {"carried_days": int(carried.sum()), "carried_keys": int(carried.gt(0).sum()),
            "trial_seats": round(float(trial.sum()), 2), "trial_keys": int(trial.gt(0).sum())}


def summarise(keys: pd.DataFrame, found: pd.DataFrame, usage_rows: int, usage_rows_mapped: int,
              book: pd.DataFrame, invoices: pd.DataFrame, payments: pd.DataFrame,
              resolutions: pd.DataFrame | None, days_in_run: int, unmatched_credits: int = 0) -> Metrics:
    """Every figure of section 5 for one run."""
    rows = figures(keys, found, []).to_dict(orient="records")
    overall_row = rows[0] if rows else _no_figures()
    overall: dict[str, Any] = {name: overall_row[name] for name in (
        *MONEY_FIGURES, "leakage_rate", "billing_accuracy", "gross_margin_pct", "keys", "keys_flagged",
        "discrepancies")}
    overall["mapping_coverage"] = round(usage_rows_mapped / usage_rows, 4) if usage_rows else None
    overall |= {"usage_rows": usage_rows, "usage_rows_mapped": usage_rows_mapped}
    overall |= usage_notes(keys) | {"unmatched_credits": unmatched_credits}
    overall |= labour_figures(keys) | exposure(found, resolutions)
    overall |= receivable_figures(book, int(overall["billed_revenue"]), days_in_run)
    unapplied = unapplied_payments(invoices, payments)
    overall |= {"unapplied_payments": len(unapplied), "unapplied_amount": int(unapplied["amount"].sum())}
    by_client = figures(keys, found, ["client"])
    managers = keys[["client", "account_manager"]].drop_duplicates("client").astype({"account_manager": "string"})
    return Metrics(_json_ready(overall), figures(keys, found, ["period"]),
                   by_client.merge(managers, on="client", how="left"), by_type(found),
                   by_vendor_product(keys, found))


def _no_figures() -> dict[str, Any]:
    """The overall figures of a run (or a filtered view of one) with no keys at all: zeros, no rates."""
    zeros: dict[str, Any] = dict.fromkeys((*MONEY_FIGURES, "keys", "keys_flagged", "discrepancies"), 0)
    return zeros | dict.fromkeys(("leakage_rate", "billing_accuracy", "gross_margin_pct"))


MONEY_KEYS = frozenset({*MONEY_FIGURES, "billed_labour", "effective_hourly_rate", "recovered",
                        "open_exposure", "ar_balance", "overdue_balance", "unapplied_amount"})


def _json_ready(overall: dict[str, Any]) -> dict[str, Any]:
    """Money (Int64 units) as decimal strings, everything else as plain Python values."""
    out: dict[str, Any] = {}
    for name, value in overall.items():
        if name == "aging":
            out[name] = {bucket: _money(amount) for bucket, amount in value.items()}
        else:
            out[name] = _money(value) if name in MONEY_KEYS else _plain(value)
    return out


def _plain(value: Any) -> Any:
    """numpy / pandas scalars to JSON-ready Python values (NA and NaN to None)."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return value


def _money(units: Any) -> str | None:
    if _plain(units) is None:
        return None
    return str(to_decimal(int(units)))
