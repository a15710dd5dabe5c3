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
from recon.money import exact_sum, format_units, from_decimal, to_decimal
from recon.receivables import AGING_BUCKETS, unapplied_payments
from recon.rules import INFORMATIONAL_TYPES
from recon.schema import LABOR_SKU, money_columns, money_places
from recon.status import with_status

RECOVERED_STATUSES = frozenset({"billed", "credited"})
MONEY_FIGURES = ("expected_revenue", "billed_revenue", "leakage", "overcharge", "net_variance",
                 "vendor_cost", "gross_margin")


def describe_findings(actionable: int, informational: int = 0) -> str:
    """A count of findings in words, the same on every page and in the CLI: ``60``, or ``60 actionable +
    6 informational`` when there are informational ones (negative margin), which count as no money."""
    return f"{actionable:,}" if not informational else f"{actionable:,} actionable + {informational:,} informational"


def counted(found: pd.DataFrame) -> pd.DataFrame:
    """Discrepancies that count as money at stake (informational ones, negative margin, do not)."""
    return found[~found["type"].isin(INFORMATIONAL_TYPES)]


def with_money_at_stake(found: pd.DataFrame) -> pd.DataFrame:
    """``found`` (counted findings) with each one's ``leakage`` (an under-billed variance, as a positive
    amount) and ``overcharge`` (an over-billed one), 0 for the other (PRODUCT.md section 5)."""
    return found.assign(leakage=-found["variance"].where(found["variance"] < 0, 0),
                        overcharge=found["variance"].where(found["variance"] > 0, 0))


def money_at_stake(found: pd.DataFrame) -> tuple[int, int]:
    """The leakage and overcharge of ``found`` (any findings: informational ones count no money), Int64 units."""
    sums = with_money_at_stake(counted(found).astype({"variance": "Int64"}))[["leakage", "overcharge"]].sum()
    return int(sums["leakage"]), int(sums["overcharge"])


HOUR_FIGURES = ("hours_worked", "hours_billable", "hours_invoiced", "hours_billed", "unbilled_hours")
HOUR_UNITS = 10_000  # labour hours are summed in 1/10,000 h: exact, so sums of parts add up to the whole


def key_sums(keys: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The keys' additive figures per group of ``by`` (one row, index ``_one``, for ``[]``): expected and
    billed revenue and vendor cost (Int64 units), the number of keys, and the labour keys' hours (int64,
    1/10,000 h) and billed amount. Sums of integers: the sums of any split of the keys (a range of clients
    on Spark) add up to the sums of the whole."""
    return grouped_sums(keys, _per_key_sums(keys), by)


def grouped_sums(keys: pd.DataFrame, per_key: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``per_key`` (``_per_key_sums`` of ``keys``) summed per group of ``keys``' columns ``by``."""
    if by:
        return per_key.assign(**{name: keys[name] for name in by}).groupby(by, observed=True).sum()
    return _total(per_key)


def _per_key_sums(keys: pd.DataFrame) -> pd.DataFrame:
    """The integers ``key_sums`` adds up, one row per key (built once when several groupings need them)."""
    labour = keys["sku"].eq(LABOR_SKU).fillna(False).to_numpy(bool)
    return pd.DataFrame({
        "expected_revenue": keys["expected_amount"].astype("Int64"),
        "billed_revenue": (keys["billed_amount"] + keys["duplicate_amount"]).astype("Int64"),
        "vendor_cost": keys["vendor_cost_amount"].fillna(0).astype("Int64"),
        "keys": np.ones(len(keys), dtype=np.int64),
        **{name: np.where(labour, _hour_units(keys[name]), 0) for name in HOUR_FIGURES},
        "billed_labour": keys["billed_amount"].where(labour, 0).astype("Int64"),
        **_usage_note_sums(keys),
    }, index=keys.index)


QUANTITY_UNITS = 10_000  # trial seats summed in 1/10,000 seat, exactly


def _usage_note_sums(keys: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per key, the integers ``usage_notes`` adds up (zeros where the keys lack the facts)."""
    def column(name: str, fill: float) -> np.ndarray:
        return keys[name].astype("Float64").fillna(fill).to_numpy(float) if name in keys else np.zeros(len(keys))
    carried, trial, unmatched = (column(name, 0) for name in ("carried_days", "trial_qty", "unmatched_credit_rows"))
    return {"carried_days": carried.astype(np.int64), "carried_keys": (carried > 0).astype(np.int64),
            "trial_units": np.round(trial * QUANTITY_UNITS).astype(np.int64),
            "trial_keys": (trial > 0).astype(np.int64),
            "unmatched_credits": unmatched.astype(np.int64)}


def _hour_units(hours: pd.Series) -> np.ndarray:
    return np.round(hours.astype("Float64").fillna(0).to_numpy(float) * HOUR_UNITS).astype(np.int64)


def _total(sums: pd.DataFrame) -> pd.DataFrame:
    """One row (index ``_one`` = 1) of the column sums of ``sums`` (zeros when it has no rows)."""
    totals = {name: pd.array([exact_sum(sums[name])], dtype=_sum_dtype(sums[name])) for name in sums.columns}
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
    variance = with_money_at_stake(at_stake).assign(_one=1)
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
    tagged = with_money_at_stake(tagged)
    out = tagged.groupby(["vendor", "sku", "product"], observed=True).agg(
        leakage=("leakage", "sum"), overcharge=("overcharge", "sum"), discrepancies=("variance", "size"))
    return out.reset_index().astype({"leakage": "Int64", "overcharge": "Int64"})


# What a trial-seat figure is, wherever it is shown: seats weighted by the days of the month they were held
TRIAL_WEIGHTING = "day-weighted: a seat held half the month counts 0.5"


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
    carried_days: int
    carried_keys: int
    trial_seats: float  # day-weighted (PRODUCT.md 4a): TRIAL_WEIGHTING
    trial_keys: int
    unmatched_credits: int
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
    status = with_status(at_stake, resolutions)["status"]
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
        per_key = _per_key_sums(keys)
        return cls(grouped_sums(keys, per_key, ["period"]), grouped_sums(keys, per_key, ["client"]),
                   managers.reset_index(drop=True),
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


def usage_notes(sums: pd.Series) -> dict[str, Any]:
    """What reading the vendor rows found beside the quantities (PRODUCT.md 4a), from the keys' overall
    sums (``key_sums``): days carried from the nearest charge (and on how many keys), trial seats (not
    expected to be billed) and credit rows whose charge is not loaded."""
    return {"carried_days": int(sums["carried_days"]), "carried_keys": int(sums["carried_keys"]),
            "trial_seats": round(int(sums["trial_units"]) / QUANTITY_UNITS, 2), "trial_keys": int(sums["trial_keys"]),
            "unmatched_credits": int(sums["unmatched_credits"])}


def summarise(keys: pd.DataFrame, found: pd.DataFrame, book: pd.DataFrame, frames: Mapping[str, pd.DataFrame],
              unmapped: pd.DataFrame, periods: Sequence[str], resolutions: pd.DataFrame | None) -> Metrics:
    """Every figure of section 5 over ``keys``, their discrepancies ``found`` and the receivables
    ``book``: the one summary the engine (a whole run), the role scope (a principal's clients) and the
    views (the dashboard's filters) compute (``summarise_parts`` puts together Spark's parts).

    ``frames``: canonical frames with the mapped ``usage`` rows (with ``unmapped``, the usage rows
    counted for mapping coverage) and the ``invoices`` and ``payments`` that unapplied payments are
    looked for in. ``periods``: the months summed (days in the run, for DSO). ``resolutions``
    (``fingerprint``, ``status``; the latest per fingerprint counts) splits recovered from open money."""
    usage = frames["usage"]
    # stored charges drawn on (``from_history``) were counted when their own files were reconciled
    stored = usage["from_history"].fillna(False).to_numpy(bool).sum() if "from_history" in usage else 0
    usage_rows_mapped = len(usage) - int(stored)
    days_in_run = sum(pd.Period(period, "M").days_in_month for period in periods)
    unapplied = unapplied_payments(frames["invoices"], frames["payments"])
    return summarise_parts(KeyFigures.of(keys, found), found, usage_rows_mapped + len(unmapped), usage_rows_mapped,
                           BookFigures.of(book, unapplied), resolutions, days_in_run)


def summarise_parts(key_figures: KeyFigures, found: pd.DataFrame, usage_rows: int, usage_rows_mapped: int,
                    book: BookFigures, resolutions: pd.DataFrame | None, days_in_run: int) -> Metrics:
    """``summarise`` from the additive parts of the keys' and the receivables' figures (``KeyFigures``,
    ``BookFigures``) and the findings."""
    overall_sums = key_figures.overall
    rows = figures_of(overall_sums, found, []).to_dict(orient="records")
    overall_row = rows[0] if rows else _no_figures()
    overall: dict[str, Any] = {name: _plain(overall_row[name]) for name in (
        *MONEY_FIGURES, "leakage_rate", "billing_accuracy", "gross_margin_pct", "keys", "keys_flagged",
        "discrepancies")}
    overall["mapping_coverage"] = round(usage_rows_mapped / usage_rows, 4) if usage_rows else None
    overall |= {"usage_rows": usage_rows, "usage_rows_mapped": usage_rows_mapped}
    overall |= usage_notes(overall_sums.iloc[0])
    overall |= labour_of(overall_sums.iloc[0]) | exposure(found, resolutions)
    overall |= book.receivable_figures(int(overall["billed_revenue"]), days_in_run)
    overall |= {"unapplied_payments": book.unapplied_payments, "unapplied_amount": book.unapplied_amount}
    by_client = figures_of(key_figures.by_client, found, ["client"])
    return Metrics(Overall(**overall), figures_of(key_figures.by_period, found, ["period"]),
                   by_client.merge(key_figures.managers, on="client", how="left"), by_type(found),
                   vendor_figures(key_figures.labelled))


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
