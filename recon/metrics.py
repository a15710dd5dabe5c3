"""Metrics (PRODUCT.md section 5): money figures overall, per period, per client, per type and vendor.

All money is summed as Int64 units (``Overall`` and the frames hold units; ``to_dict`` writes decimal
strings with the places ``recon.schema`` declares); rates are ratios (floats rounded to four places),
never money.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from recon.joins import text_lookup
from recon.money import format_units, from_decimal, to_decimal
from recon.receivables import AGING_BUCKETS, unapplied_payments
from recon.rules import INFORMATIONAL_TYPES
from recon.schema import LABOR_SKU, money_columns, money_places
from recon.status import with_status

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
class Overall:
    """The headline figures of a run, or of a view of one (PRODUCT.md section 5). Money in Int64 units
    of 1/10,000 (``recon.money``), ratios 0..1 rounded to four places (``None`` where the denominator is
    zero), hours rounded to two places, counts. ``aging``: open balance per aging bucket, in units.
    Formatted only at the edge: ``to_dict()`` (summary.json, the stored run, the audit pack) writes money
    as decimal strings with the places ``recon.schema`` declares; pages format with ``display_money``."""

    expected_revenue: int
    billed_revenue: int
    leakage: int
    overcharge: int
    net_variance: int
    vendor_cost: int
    gross_margin: int
    leakage_rate: float | None
    billing_accuracy: float | None
    gross_margin_pct: float | None
    keys: int
    keys_flagged: int
    discrepancies: int
    mapping_coverage: float | None
    usage_rows: int
    usage_rows_mapped: int
    hours_worked: float
    hours_billable: float
    hours_invoiced: float
    hours_billed: float
    unbilled_hours: float
    billed_labour: int
    effective_hourly_rate: int | None
    realisation: float | None
    recovered: int
    open_exposure: int
    ar_balance: int
    overdue_balance: int
    aging: dict[str, int]
    dso: float | None
    short_paid_invoices: int
    open_invoices: int
    unapplied_payments: int
    unapplied_amount: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures in field order: money as decimal strings (``"1234.50"``), the rest as is."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name == "aging":
                out[item.name] = {bucket: _money_text(units, AGING_PLACES) for bucket, units in value.items()}
            else:
                places = money_places(item.name)
                out[item.name] = value if places is None else _money_text(value, places)
        return out

    @classmethod
    def from_dict(cls, figures: Mapping[str, Any]) -> Overall:
        """The figures ``to_dict`` wrote (a stored run's summary) back, money as units. A figure a run
        stored before it existed is zero (``None`` where it may be missing)."""
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            value = figures.get(item.name)
            if item.name == "aging":
                values[item.name] = {bucket: _units(amount) or 0 for bucket, amount in (value or {}).items()}
            elif money_places(item.name) is not None:
                values[item.name] = _units(value)
            else:
                values[item.name] = value
            if values[item.name] is None and "None" not in str(item.type):
                values[item.name] = 0
        return cls(**values)


AGING_PLACES = 2


def _money_text(units: int | None, places: int) -> str | None:
    return None if units is None else str(to_decimal(units, places))


def _units(value: Any) -> int | None:
    return None if value is None else from_decimal(str(value))


@dataclass(frozen=True)
class Metrics:
    """All figures of a run: the headline ``overall`` and frames per period, client, type and vendor
    (money in Int64 units)."""

    overall: Overall
    by_period: pd.DataFrame
    by_client: pd.DataFrame
    by_type: pd.DataFrame
    by_vendor: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall.to_dict(), "by_period": _records(self.by_period),
                "by_client": _records(self.by_client), "by_type": _records(self.by_type),
                "by_vendor": _records(self.by_vendor)}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: money (``recon.schema``) as decimal strings with its places, NA as None."""
    out = frame.copy()
    for column, places in money_columns(out.columns).items():
        out[column] = format_units(out[column].astype("Int64"), places)
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
    status = with_status(at_stake, resolutions)["status"]
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


def summarise(keys: pd.DataFrame, found: pd.DataFrame, book: pd.DataFrame, frames: Mapping[str, pd.DataFrame],
              unmapped: pd.DataFrame, periods: Sequence[str], resolutions: pd.DataFrame | None) -> Metrics:
    """Every figure of section 5 over ``keys``, their discrepancies ``found`` and the receivables
    ``book``: the one summary the engine (a whole run), the role scope (a principal's clients) and the
    views (the dashboard's filters) compute.

    ``frames``: canonical frames with the mapped ``usage`` rows (with ``unmapped``, the usage rows
    counted for mapping coverage) and the ``invoices`` and ``payments`` that unapplied payments are
    looked for in. ``periods``: the months summed (days in the run, for DSO). ``resolutions``
    (``fingerprint``, ``status``; the latest per fingerprint counts) splits recovered from open money."""
    rows = figures(keys, found, []).to_dict(orient="records")
    overall_row = rows[0] if rows else _no_figures()
    usage_rows_mapped = len(frames["usage"])
    usage_rows = usage_rows_mapped + len(unmapped)
    days_in_run = sum(pd.Period(period, "M").days_in_month for period in periods)
    unapplied = unapplied_payments(frames["invoices"], frames["payments"])
    values: dict[str, Any] = {name: _plain(overall_row[name]) for name in (
        *MONEY_FIGURES, "leakage_rate", "billing_accuracy", "gross_margin_pct", "keys", "keys_flagged",
        "discrepancies")}
    values |= {"mapping_coverage": round(usage_rows_mapped / usage_rows, 4) if usage_rows else None,
               "usage_rows": usage_rows, "usage_rows_mapped": usage_rows_mapped}
    values |= labour_figures(keys) | exposure(found, resolutions)
    values |= receivable_figures(book, int(values["billed_revenue"]), days_in_run)
    values |= {"unapplied_payments": len(unapplied), "unapplied_amount": int(unapplied["amount"].sum())}
    by_client = figures(keys, found, ["client"])
    managers = keys[["client", "account_manager"]].drop_duplicates("client").astype({"account_manager": "string"})
    return Metrics(Overall(**values), figures(keys, found, ["period"]),
                   by_client.merge(managers, on="client", how="left"), by_type(found),
                   by_vendor_product(keys, found))


def _no_figures() -> dict[str, Any]:
    """The overall figures of a run (or a filtered view of one) with no keys at all: zeros, no rates."""
    zeros: dict[str, Any] = dict.fromkeys((*MONEY_FIGURES, "keys", "keys_flagged", "discrepancies"), 0)
    return zeros | dict.fromkeys(("leakage_rate", "billing_accuracy", "gross_margin_pct"))


def _plain(value: Any) -> Any:
    """numpy / pandas scalars to plain Python values (NA and NaN to None)."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return value
