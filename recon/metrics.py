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


HOUR_FIGURES = ("hours_worked", "hours_billable", "hours_invoiced", "hours_billed", "unbilled_hours")
HOUR_UNITS = 10_000  # labour hours are summed in 1/10,000 h: exact, so sums of parts add up to the whole


def key_sums(keys: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The keys' additive figures per group of ``by`` (one row, index ``_one``, for ``[]``): expected and
    billed revenue and vendor cost (Int64 units), the number of keys, and the labour keys' hours (int64,
    1/10,000 h) and billed amount. Sums of integers: the sums of any split of the keys (a range of clients
    on Spark) add up to the sums of the whole."""
    labour = keys["sku"].eq(LABOR_SKU).fillna(False).to_numpy(bool)
    sums = pd.DataFrame({
        "expected_revenue": keys["expected_amount"].astype("Int64"),
        "billed_revenue": (keys["billed_amount"] + keys["duplicate_amount"]).astype("Int64"),
        "vendor_cost": keys["vendor_cost_amount"].fillna(0).astype("Int64"),
        "keys": np.ones(len(keys), dtype=np.int64),
        **{name: np.where(labour, _hour_units(keys[name]), 0) for name in HOUR_FIGURES},
        "billed_labour": keys["billed_amount"].where(labour, 0).astype("Int64"),
    }, index=keys.index)
    if by:
        return sums.assign(**{name: keys[name] for name in by}).groupby(by, observed=True).sum()
    return _total(sums)


def _hour_units(hours: pd.Series) -> np.ndarray:
    return np.round(hours.astype("Float64").fillna(0).to_numpy(float) * HOUR_UNITS).astype(np.int64)


def _total(sums: pd.DataFrame) -> pd.DataFrame:
    """One row (index ``_one`` = 1) of the column sums of ``sums`` (zeros when it has no rows)."""
    totals = {name: pd.array([sums[name].sum()], dtype=_sum_dtype(sums[name])) for name in sums.columns}
    return pd.DataFrame(totals, index=pd.Index([1], name="_one"))


def figures(keys: pd.DataFrame, found: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Money figures and rates grouped by ``by`` (``[]`` for one overall row). Money in Int64 units."""
    return figures_of(key_sums(keys, by), found, by)


def figures_of(sums: pd.DataFrame, found: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``figures`` from the keys' sums per group of ``by`` (``key_sums``, or sums of its parts)."""
    at_stake = counted(found)
    group = by or ["_one"]
    per_key = sums[["expected_revenue", "billed_revenue", "vendor_cost", "keys"]]
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
    return vendor_figures(labelled_findings(keys, found))


def labelled_findings(keys: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """The counted findings with their key's ``vendor`` and ``sku_description`` (per client: the
    findings of a range of clients are labelled from that range's keys)."""
    labels = keys[["period", "client", "sku", "vendor", "sku_description"]]
    findings = counted(found).reset_index(drop=True)
    found_labels = text_lookup(findings, labels, ["period", "client", "sku"]).astype("string")
    return pd.concat([findings, found_labels], axis=1)


def vendor_figures(tagged: pd.DataFrame) -> pd.DataFrame:
    """``by_vendor_product`` from ``labelled_findings`` (of the whole run, or its parts put together)."""
    tagged = tagged.copy()
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
    return labour_of(key_sums(keys, []).iloc[0])


def labour_of(sums: pd.Series) -> dict[str, Any]:
    """``labour_figures`` from the keys' overall sums (``key_sums``): each labour key's hours to
    1/10,000 h, summed exactly."""
    hours = {name: int(sums[name]) for name in HOUR_FIGURES}
    billed_labour = int(sums["billed_labour"])
    return {
        **{name: round(units / HOUR_UNITS, 2) for name, units in hours.items()},
        "billed_labour": billed_labour,
        "effective_hourly_rate": _per_hour(billed_labour, hours["hours_worked"]),
        "realisation": round(hours["hours_billed"] / hours["hours_billable"], 4) if hours["hours_billable"] else None,
    }


def _per_hour(amount: int, hour_units: int) -> int | None:
    """Money units per hour (``hour_units`` in 1/10,000 h), exact to the unit (Decimal division, half up)."""
    if not hour_units:
        return None
    return int((Decimal(amount) * HOUR_UNITS / Decimal(hour_units)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
    return BookFigures.of(book).receivable_figures(billed_revenue, days_in_run)


@dataclass(frozen=True)
class BookFigures:
    """The receivables' additive figures (Int64 units and counts): the open balance per aging bucket,
    short-paid and open invoices, and payments naming no known invoice. Parts (ranges of invoice
    numbers on Spark) add up to the whole (``combine``)."""

    aging: dict[str, int]
    short_paid_invoices: int
    open_invoices: int
    unapplied_payments: int = 0
    unapplied_amount: int = 0

    @classmethod
    def of(cls, book: pd.DataFrame, unapplied: pd.DataFrame | None = None) -> BookFigures:
        """From receivables (``recon.receivables.receivables``) and the payments naming none of their
        invoices (``unapplied_payments``)."""
        open_items = book[book["aging_bucket"] != "paid"]
        aging = {bucket: int(open_items.loc[open_items["aging_bucket"] == bucket, "balance"].sum())
                 for bucket in AGING_BUCKETS}
        unapplied_count = 0 if unapplied is None else len(unapplied)
        unapplied_amount = 0 if unapplied is None else int(unapplied["amount"].sum())
        return cls(aging, int(book["short_paid"].sum()), len(open_items), unapplied_count, unapplied_amount)

    @classmethod
    def combine(cls, parts: list[BookFigures]) -> BookFigures:
        return cls({bucket: sum(part.aging[bucket] for part in parts) for bucket in AGING_BUCKETS},
                   sum(part.short_paid_invoices for part in parts), sum(part.open_invoices for part in parts),
                   sum(part.unapplied_payments for part in parts), sum(part.unapplied_amount for part in parts))

    def receivable_figures(self, billed_revenue: int, days_in_run: int) -> dict[str, Any]:
        """AR balance, overdue balance, balance per aging bucket, DSO, short-paid count."""
        balance = sum(self.aging.values())
        return {
            "ar_balance": balance, "overdue_balance": balance - self.aging["current"], "aging": dict(self.aging),
            "dso": round(balance / billed_revenue * days_in_run, 1) if billed_revenue else None,
            "short_paid_invoices": self.short_paid_invoices, "open_invoices": self.open_invoices,
        }


@dataclass(frozen=True)
class KeyFigures:
    """What the figures need from the keys: their sums per period and per client (``key_sums``), each
    client's account manager, and the counted findings labelled with vendor and product
    (``labelled_findings``). Each part is per client, so the figures of ranges of clients (Spark) put
    together with ``combine`` are the figures of the whole."""

    by_period: pd.DataFrame
    by_client: pd.DataFrame
    managers: pd.DataFrame
    labelled: pd.DataFrame

    @classmethod
    def of(cls, keys: pd.DataFrame, found: pd.DataFrame) -> KeyFigures:
        managers = keys[["client", "account_manager"]].drop_duplicates("client").astype({"account_manager": "string"})
        return cls(key_sums(keys, ["period"]), key_sums(keys, ["client"]), managers.reset_index(drop=True),
                   labelled_findings(keys, found))

    @classmethod
    def combine(cls, parts: list[KeyFigures]) -> KeyFigures:
        """The figures of disjoint sets of clients put together."""
        by_period = pd.concat([part.by_period for part in parts]).groupby(level=0).sum()
        by_client = pd.concat([part.by_client for part in parts]).sort_index()
        managers = pd.concat([part.managers for part in parts], ignore_index=True)
        return cls(by_period, by_client, managers, pd.concat([part.labelled for part in parts], ignore_index=True))

    @property
    def overall(self) -> pd.DataFrame:
        return _total(self.by_period)


def summarise(keys: pd.DataFrame, found: pd.DataFrame, usage_rows: int, usage_rows_mapped: int,
              book: pd.DataFrame, invoices: pd.DataFrame, payments: pd.DataFrame,
              resolutions: pd.DataFrame | None, days_in_run: int) -> Metrics:
    """Every figure of section 5 for one run."""
    return summarise_parts(KeyFigures.of(keys, found), found, usage_rows, usage_rows_mapped,
                           BookFigures.of(book, unapplied_payments(invoices, payments)), resolutions, days_in_run)


def summarise_parts(key_figures: KeyFigures, found: pd.DataFrame, usage_rows: int, usage_rows_mapped: int,
                    book: BookFigures, resolutions: pd.DataFrame | None, days_in_run: int) -> Metrics:
    """``summarise`` from the additive parts of the keys' and the receivables' figures (``KeyFigures``,
    ``BookFigures``) and the findings."""
    overall_sums = key_figures.overall
    rows = figures_of(overall_sums, found, []).to_dict(orient="records")
    overall_row = rows[0] if rows else _no_figures()
    overall: dict[str, Any] = {name: overall_row[name] for name in (
        *MONEY_FIGURES, "leakage_rate", "billing_accuracy", "gross_margin_pct", "keys", "keys_flagged",
        "discrepancies")}
    overall["mapping_coverage"] = round(usage_rows_mapped / usage_rows, 4) if usage_rows else None
    overall |= {"usage_rows": usage_rows, "usage_rows_mapped": usage_rows_mapped}
    overall |= labour_of(overall_sums.iloc[0]) | exposure(found, resolutions)
    overall |= book.receivable_figures(int(overall["billed_revenue"]), days_in_run)
    overall |= {"unapplied_payments": book.unapplied_payments, "unapplied_amount": book.unapplied_amount}
    by_client = figures_of(key_figures.by_client, found, ["client"])
    return Metrics(_json_ready(overall), figures_of(key_figures.by_period, found, ["period"]),
                   by_client.merge(key_figures.managers, on="client", how="left"), by_type(found),
                   vendor_figures(key_figures.labelled))


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
