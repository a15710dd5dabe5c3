"""Presets: how to read the real exports MSPs have (PRODUCT.md section 2), so nobody edits a file by hand.

A preset names the canonical source an export feeds, which export column gives each canonical field
(several candidates where exports differ; the first present wins), the read options the format needs,
constant fields (the vendor of a vendor's own report) and, where the format has a rule of its own, a
small pure ``transform`` on the text frame (same rows, same order, new columns or cells only).

Format rules, per preset:

- ``microsoft-nce-recon``: the quantity is ``BillableQuantity``; the service period is ``ChargeStartDate``
  to ``ChargeEndDate`` (M/D/YYYY, read by the default ISO-then-M/D/YYYY date reading); a line with a
  negative ``Subtotal`` is a credit, so its quantity counts negative (and is quarantined by the
  non-negative quantity expectation, visibly, instead of being added as usage); ``EffectiveUnitPrice`` is
  the price for the charge period, so the monthly unit cost is it divided by the months the period
  covers.
- ``pax8-invoice-items``: the service period is ``startPeriod`` to ``endPeriod``, so a ``prorate`` line
  (a seat change mid-month) counts for the days it covers; ``cost`` is the monthly unit cost; a line with
  a negative ``total`` is a credit (quantity negative, as above).
- ``connectwise-additions``: ``Bill Customer`` DoNotBill / NoCharge lines are read as ``billable`` false
  (kept, but not expected revenue); ``Cancelled Date`` ends the line.
- ``connectwise-time``: ``Billable Option`` gives ``billable`` (only Billable is); the date is ``Date``,
  else ``timeStart``; ``Invoice`` is the invoice number (empty = not invoiced).
- ``autotask-contract-units``: one row per service and billing period. The export names no client: it
  comes from the profile, either a ``client`` column mapping (an export with the account name added)
  or a ``[source.client_lookup]`` table from ``contractID`` to client. ``price`` is read as the unit
  price of the units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from recon.money import format_units, parse_money
from recon.schema import SOURCES

DETECTION_THRESHOLD = 0.5  # share of a preset's known columns a header must have to be read as it
DERIVED_SUFFIX = " (recon)"  # columns a preset or profile adds to a file are named "<field> (recon)"


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

    def prepare(self, text: pd.DataFrame) -> pd.DataFrame:
        """The text frame with the format's rule applied and its constant columns added (a new frame)."""
        out = self.transform(text) if self.transform else text.copy()
        for name, value in self.constants.items():
            out[derived_column(name)] = pd.Series(value, index=out.index, dtype="string")
        return out

    def mapping(self, header: Iterable[str]) -> dict[str, str]:
        """Canonical field -> the column of ``header`` that gives it (first candidate present; case and
        spaces ignored); constants map to their added columns."""
        by_folded = {fold(column): column for column in header}
        found = {name: next(by_folded[fold(c)] for c in candidates if fold(c) in by_folded)
                 for name, candidates in self.columns.items()
                 if any(fold(c) in by_folded for c in candidates)}
        return found | {name: derived_column(name) for name in self.constants}


class Detection(NamedTuple):
    """Which preset a header looks like, how sure, and why (shown to the user)."""

    preset: str | None
    confidence: float  # share of the preset's known columns found in the header, 0..1
    reason: str


def fold(name: str) -> str:
    """A column name for comparison: case, spaces and underscores ignored."""
    return str(name).strip().casefold().replace(" ", "").replace("_", "")


def derived_column(name: str) -> str:
    """The name of a column a preset or profile adds for canonical field ``name``."""
    return name + DERIVED_SUFFIX


# ------------------------------------------------------------------------------------------ transforms

def _is_negative(amounts: pd.Series) -> pd.Series:
    """Whether money text is negative, whichever decimal mark it uses (the sign reads the same)."""
    return parse_money(amounts, ".").lt(0).fillna(False).astype(bool)


def _credits_count_negative(text: pd.DataFrame, quantity: str, amount: str) -> pd.DataFrame:
    """A line whose amount is negative is a credit: its quantity becomes negative if it is not already."""
    out = text.copy()
    if quantity not in out or amount not in out:
        return out
    cells = out[quantity].astype("string")
    flip = _is_negative(out[amount]) & ~cells.str.lstrip().str.startswith("-").fillna(False) & cells.ne("")
    out[quantity] = cells.where(~flip, "-" + cells.str.lstrip())
    return out


def months_covered(start: pd.Series, end: pd.Series) -> pd.Series:
    """How many months a date range covers, counting a partial month as covered days / days in month
    (1.0 for one whole month; NaN where a date is missing)."""
    start_month, end_month = start.dt.to_period("M"), end.dt.to_period("M")
    first_month_end = start_month.dt.end_time.dt.normalize()
    first = ((np.minimum(end, first_month_end) - start).dt.days + 1) / start.dt.days_in_month
    span = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
    middle = (span - 1).clip(lower=0)
    last = ((end - end_month.dt.start_time).dt.days + 1) / end.dt.days_in_month
    return (first + middle + last.where(span > 0, 0.0)).astype("float64")


def microsoft_credits_and_monthly_cost(text: pd.DataFrame) -> pd.DataFrame:
    """Microsoft NCE recon rows: credits (negative ``Subtotal``) count negative, and the monthly unit
    cost is ``EffectiveUnitPrice`` (the price for the charge period) divided by the months it covers."""
    out = _credits_count_negative(text, "BillableQuantity", "Subtotal")
    needed = ("EffectiveUnitPrice", "ChargeStartDate", "ChargeEndDate")
    if not all(column in out for column in needed):
        return out
    start, end = (_us_or_iso_dates(out[column]) for column in needed[1:])
    months = months_covered(start, end)
    price = parse_money(out["EffectiveUnitPrice"], ".").astype("Float64").to_numpy(float, na_value=np.nan)
    monthly = np.round(price / np.where(months.to_numpy() > 0, months.to_numpy(), np.nan))
    units = pd.Series(monthly, index=out.index).astype("Int64")
    out[derived_column("unit_cost")] = format_units(units, 4).astype("string")
    return out


def _us_or_iso_dates(cells: pd.Series) -> pd.Series:
    text = cells.astype("string").str.strip().str.split(r"[ T]", regex=True).str[0]
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    return iso.fillna(pd.to_datetime(text, format="%m/%d/%Y", errors="coerce"))


def pax8_credits(text: pd.DataFrame) -> pd.DataFrame:
    """Pax8 invoice items: a line with a negative ``total`` is a credit (its quantity counts negative)."""
    return _credits_count_negative(text, "quantity", "total")


# --------------------------------------------------------------------------------------------- presets

MICROSOFT_NCE = Preset(
    name="microsoft-nce-recon", kind="usage",
    title="Microsoft Partner Center new-commerce invoice reconciliation",
    columns={"client": ("CustomerName",), "sku": ("ProductId",), "quantity": ("BillableQuantity",),
             "period_start": ("ChargeStartDate",), "period_end": ("ChargeEndDate",),
             "unit_cost": (derived_column("unit_cost"),), "subscription_id": ("SubscriptionId",),
             "product_name": ("ProductName", "SkuName")},
    known_columns=("PartnerId", "CustomerId", "CustomerName", "CustomerDomainName", "CustomerCountry",
                   "InvoiceNumber", "MpnId", "ResellerMpnId", "OrderId", "OrderDate", "ProductId", "SkuId",
                   "AvailabilityId", "SkuName", "ProductName", "ChargeType", "UnitPrice",
                   "EffectiveUnitPrice", "Quantity", "BillableQuantity", "Subtotal", "TaxTotal", "Total",
                   "Currency", "SubscriptionId", "ChargeStartDate", "ChargeEndDate", "TermAndBillingCycle"),
    constants={"vendor": "Microsoft"},
    transform=microsoft_credits_and_monthly_cost,
)

PAX8_INVOICE_ITEMS = Preset(
    name="pax8-invoice-items", kind="usage", title="Pax8 invoice items",
    columns={"client": ("companyName",), "sku": ("sku",), "quantity": ("quantity",),
             "period_start": ("startPeriod",), "period_end": ("endPeriod",), "vendor": ("vendorName",),
             "unit_cost": ("cost",), "subscription_id": ("subscriptionId",),
             "product_name": ("productName",)},
    known_columns=("companyName", "sku", "productName", "vendorName", "quantity", "startPeriod", "endPeriod",
                   "price", "cost", "costTotal", "subTotal", "total", "type", "term", "subscriptionId",
                   "currencyCode"),
    transform=pax8_credits,
)

CONNECTWISE_ADDITIONS = Preset(
    name="connectwise-additions", kind="contracts", title="ConnectWise PSA agreement additions",
    columns={"client": ("Company",), "sku": ("Product ID",), "quantity": ("Quantity",),
             "unit_price": ("Unit Price",), "start_date": ("Effective Date",),
             "end_date": ("Cancelled Date",), "billable": ("Bill Customer",), "agreement_id": ("Agreement",),
             "description": ("Description",)},
    known_columns=("Company", "Agreement", "Product ID", "Description", "Quantity", "Unit Price", "Unit Cost",
                   "Effective Date", "Cancelled Date", "Bill Customer"),
)

CONNECTWISE_TIME = Preset(
    name="connectwise-time", kind="time_entries", title="ConnectWise PSA time entries",
    columns={"client": ("Company",), "technician": ("Member",), "date": ("Date", "timeStart"),
             "hours": ("Actual Hours",), "billable": ("Billable Option",), "rate": ("Hourly Rate",),
             "invoice_number": ("Invoice",), "work_type": ("Work Type",), "ticket": ("Ticket",)},
    known_columns=("Company", "Member", "Date", "Actual Hours", "Billable Option", "Hourly Rate", "Invoice",
                   "Work Type", "Ticket"),
)

AUTOTASK_CONTRACT_UNITS = Preset(
    name="autotask-contract-units", kind="contracts", title="Autotask contract service units",
    columns={"agreement_id": ("contractID",), "sku": ("serviceID",), "start_date": ("startDate",),
             "end_date": ("endDate",), "quantity": ("units",), "unit_price": ("price",)},
    known_columns=("contractID", "serviceID", "startDate", "endDate", "units", "price", "cost"),
    client_key="contractID",
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    MICROSOFT_NCE, PAX8_INVOICE_ITEMS, CONNECTWISE_ADDITIONS, CONNECTWISE_TIME, AUTOTASK_CONTRACT_UNITS)}


def preset_names(kind: str | None = None) -> list[str]:
    """The presets' names, all or those feeding ``kind``."""
    return [name for name, preset in PRESETS.items() if kind is None or preset.kind == kind]


# ------------------------------------------------------------------------------------------- detection

def _required_candidates(preset: Preset) -> list[tuple[str, ...]]:
    required = [spec.name for spec in SOURCES[preset.kind] if spec.required]
    return [preset.columns[name] for name in required if name in preset.columns]


def _fit(preset: Preset, header: set[str]) -> tuple[float, list[str]]:
    """(share of known columns present, the columns for required fields that are missing)."""
    found = sum(fold(column) in header for column in preset.known_columns)
    missing = [candidates[0] for candidates in _required_candidates(preset)
               if not any(fold(c) in header for c in candidates)]
    return found / len(preset.known_columns), missing


def detect_preset(columns: Iterable[str]) -> Detection:
    """Which preset a file's header belongs to: the one with the largest share of its known columns
    present (at least ``DETECTION_THRESHOLD``) and every column it needs for a required field. The
    reason names what was found or what is missing."""
    header = {fold(column) for column in columns}
    fits = sorted(((*_fit(preset, header), preset) for preset in PRESETS.values()),
                  key=lambda item: (not item[1], item[0]), reverse=True)
    share, missing, best = fits[0]
    found = round(share * len(best.known_columns))
    if share >= DETECTION_THRESHOLD and not missing:
        return Detection(best.name, share, f"{best.title} ({best.name}): {found} of "
                                           f"{len(best.known_columns)} known columns found")
    closest = max(fits, key=lambda item: item[0])
    share, missing, best = closest
    found = round(share * len(best.known_columns))
    lacking = f"; missing {', '.join(missing)}" if missing else ""
    return Detection(None, share, f"no preset fits: closest is {best.name} with {found} of "
                                  f"{len(best.known_columns)} known columns{lacking}")


__all__ = ["PRESETS", "Detection", "Preset", "detect_preset", "fold", "months_covered", "preset_names"]
