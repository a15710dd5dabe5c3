"""The reconciliation rules, one small pure function per discrepancy type (PRODUCT.md section 4).

Each rule has the signature ``rule(keys, settings) -> DataFrame`` over the per-key facts built by
``recon.keys`` and returns rows in the fixed discrepancy schema (``DISCREPANCY_COLUMNS``). Variance is
billed minus expected, in Int64 money units; ``direction`` follows its sign. The registries below read
like the table in the spec, in its order of precedence:

    type                        when                                               variance
    duplicate_charge            a line repeats client, sku, period, qty, price     + amount of each extra
    unbilled_usage              vendor-tracked, U > 0, B = 0                       - U x P
    billed_without_usage        vendor-tracked, U = 0, B > 0                       + A
    quantity_under_billed       0 < B < E beyond tolerance                         - (E - B) x P
    quantity_over_billed        B > E > 0 beyond tolerance                         + (B - E) x P
    missed_recurring_charge     not vendor-tracked, C > 0, B = 0                   - C x Pc
    billed_outside_contract     not vendor-tracked, B > 0, had a line, none active + A
    price_below/above_contract  B > 0, contract active, Pb differs beyond tol.     (Pb - Pc) x B
    unbilled_time               billable time uninvoiced beyond block hours        - hours x rate
    negative_margin             Pb below vendor unit cost (informational)          (Pb - cost) x B
    agreement_total_mismatch    an agreement invoice's total differs from the      A - expected amount
                                expected amount of its agreement's lines (4a)

Quantity variances are the difference of two cent-rounded amounts, B x P - E x P, and price variances
A - B x Pc (= (Pb - Pc) x B exactly, since A = Pb x B), so that per key the variances add up to
billed minus expected to the cent.

PRODUCT.md 4a: a quantity and a price finding on one key whose variances cancel (the billed amount is
the expected amount, within the amount tolerance) are how a correctly prorated line reads (2 seats at a
prorated 12.06 beside a contract price of 22.00), not money: neither is raised. Keys billed inside an
agreement invoice's total (``in_agreement_total``) raise no presence, quantity or price finding: the
total is judged as a key of its own (``agreement_total_mismatch``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd

from recon.money import MONEY_SCALE, display_money, money_times_quantity
from recon.schema import DISCREPANCY_COLUMNS
from recon.settings import Settings

Rule = Callable[[pd.DataFrame, Settings], pd.DataFrame]
OUTPUT_COLUMNS = (*DISCREPANCY_COLUMNS, "fingerprint")
INFORMATIONAL_TYPES = frozenset({"negative_margin"})
# Findings whose billed and expected amounts are their own (a duplicate's extra lines, the uninvoiced hours).
# Every other finding carries its key's invoice line (period, client, sku), which a quantity and a price
# finding share: a total of billed or expected amounts counts each key's line once (``recon.exports.statements``).
OWN_AMOUNT_TYPES = frozenset({"duplicate_charge", "unbilled_time"})
HALF_CENT = 50  # money units (1/10,000)


def _discrepancies(keys: pd.DataFrame, mask: pd.Series, type_name: str, variance: pd.Series,
                   **overrides: pd.Series | float | str) -> pd.DataFrame:
    """Rows of the discrepancy schema for the keys where ``mask`` holds."""
    picked = keys[mask.to_numpy(bool)]
    out = pd.DataFrame({
        "period": picked["period"], "client": picked["client"], "sku": picked["sku"],
        "type": type_name, "direction": "",
        "expected_qty": picked["expected_qty"], "billed_qty": picked["billed_qty"],
        "usage_qty": picked["usage_qty"], "contract_qty": picked["contract_qty"],
        "expected_unit_price": picked["expected_unit_price"],
        "billed_unit_price": picked["billed_unit_price"], "price_source": picked["price_source"].astype("string"),
        "expected_amount": picked["expected_amount"], "billed_amount": picked["billed_amount"],
        "variance": variance[mask.to_numpy(bool)].astype("Int64"), "detail": "",
    })
    for column, value in overrides.items():
        # a series may cover every key or only the picked ones (text worth formatting only for those)
        out[column] = value.reindex(picked.index) if isinstance(value, pd.Series) else value
    return out


def _quantity_gap(keys: pd.DataFrame, settings: Settings) -> pd.Series:
    """B - E, with gaps inside the quantity tolerance set to 0."""
    gap = keys["billed_qty"] - keys["expected_qty"]
    return gap.where(gap.abs() > float(settings.quantity_tolerance), 0.0)


def _billed_at_expected_price(keys: pd.DataFrame) -> pd.Series:
    """B x P; where P is the billed price itself, exactly A."""
    at_price = money_times_quantity(keys["billed_qty"], keys["expected_unit_price"])
    return at_price.where(keys["price_source"].ne("billed"), keys["billed_amount"]).fillna(0)


# ------------------------------------------------------------------ presence and quantity (one per key)

def unbilled_usage(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    mask = keys["vendor_tracked"] & (keys["usage_qty"] > 0) & (keys["billed_qty"] == 0)
    return _discrepancies(keys, mask, "unbilled_usage", -keys["expected_amount"])


def billed_without_usage(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    mask = keys["vendor_tracked"] & (keys["usage_qty"] == 0) & (keys["billed_qty"] > 0)
    return _discrepancies(keys, mask, "billed_without_usage", keys["billed_amount"])


def quantity_under_billed(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    gap = _quantity_gap(keys, settings)
    mask = (keys["billed_qty"] > 0) & (gap < 0) & (keys["expected_qty"] > 0)
    variance = _billed_at_expected_price(keys) - keys["expected_amount"]
    return _discrepancies(keys, mask, "quantity_under_billed", variance)


def quantity_over_billed(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    gap = _quantity_gap(keys, settings)
    mask = (keys["expected_qty"] > 0) & (gap > 0)
    variance = _billed_at_expected_price(keys) - keys["expected_amount"]
    return _discrepancies(keys, mask, "quantity_over_billed", variance)


def missed_recurring_charge(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    mask = ~keys["vendor_tracked"] & (keys["contract_qty"] > 0) & (keys["billed_qty"] == 0)
    return _discrepancies(keys, mask, "missed_recurring_charge", -keys["expected_amount"])


def billed_outside_contract(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    mask = (~keys["vendor_tracked"] & (keys["billed_qty"] > 0) & keys["had_contract"]
            & ~keys["contract_active"])
    return _discrepancies(keys, mask, "billed_outside_contract", keys["billed_amount"])


# ----------------------------------------------------------------------------- price (one per key)

def _price_gap(keys: pd.DataFrame, settings: Settings) -> tuple[pd.Series, pd.Series]:
    """(A - B x Pc, whether Pb is beyond the price tolerance of Pc), for billed keys under contract."""
    contract_price = keys["contract_unit_price"]
    tolerance = np.maximum(contract_price.abs().fillna(0).to_numpy(float) * float(settings.price_tolerance_pct),
                           settings.price_tolerance_min_units)
    price_gap = (keys["billed_unit_price"] - contract_price).astype("Float64")
    # Where nothing was expected (E = 0) the presence rule already values the whole billed amount;
    # a price finding on top would count the same money twice.
    applies = (keys["billed_qty"] > 0) & (keys["expected_qty"] > 0) & keys["contract_active"] & price_gap.notna()
    beyond = applies & (price_gap.abs() > tolerance).fillna(False)
    variance = keys["billed_amount"] - money_times_quantity(keys["billed_qty"], contract_price)
    return variance, beyond.astype(bool)


def price_below_contract(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    variance, beyond = _price_gap(keys, settings)
    mask = beyond & (keys["billed_unit_price"] < keys["contract_unit_price"]).fillna(False)
    return _discrepancies(keys, mask, "price_below_contract", variance,
                          expected_unit_price=keys["contract_unit_price"], price_source="contract")


def price_above_contract(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    variance, beyond = _price_gap(keys, settings)
    mask = beyond & (keys["billed_unit_price"] > keys["contract_unit_price"]).fillna(False)
    return _discrepancies(keys, mask, "price_above_contract", variance,
                          expected_unit_price=keys["contract_unit_price"], price_source="contract")


# -------------------------------------------------------------------- accompanying (any key, any time)

AGREEMENT_TOTAL_DETAIL = "agreement invoice total vs its additions' expected amount"
_CARRIED = re.compile(r" plus ([+-])\D*([\d,]+\.\d+) of agreement adjustments the fixes applied$")


def agreement_total_mismatch(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    totals = keys["agreement_total"].fillna(False).astype(bool) if "agreement_total" in keys \
        else pd.Series(False, index=keys.index)
    variance = keys["billed_amount"] - keys["expected_amount"]
    # text for the totals' keys only (a few in a million keys)
    adjusted = keys["billed_adjustments"][totals].fillna(0).astype("Int64") if "billed_adjustments" in keys \
        else pd.Series(0, index=keys.index[totals.to_numpy(bool)], dtype="Int64")
    detail = pd.Series(AGREEMENT_TOTAL_DETAIL, index=adjusted.index, dtype=object)
    # the agreement adjustments fixes wrote that the total carries are expected of it too (recon.keys)
    carrying = adjusted.ne(0).to_numpy(bool)
    if carrying.any():
        detail[carrying] = [f"{AGREEMENT_TOTAL_DETAIL} plus {display_money(int(units), settings.currency, signed=True)}"
                            " of agreement adjustments the fixes applied" for units in adjusted[carrying]]
    return _discrepancies(keys, totals, "agreement_total_mismatch", variance, detail=detail.astype("string"))


def carried_adjustments(detail: object) -> int | None:
    """The agreement adjustments (Int64 units, signed) an ``agreement_total_mismatch``'s ``detail`` says its
    total carries, as ``agreement_total_mismatch`` writes them (also in a stored run); None when it names
    none. Read back exactly (a ``Decimal`` of the written amount)."""
    found = _CARRIED.search(str(detail)) if detail is not None and not pd.isna(detail) else None  # type: ignore[call-overload]
    if found is None:
        return None
    units = int(Decimal(found.group(2).replace(",", "")) * MONEY_SCALE)
    return -units if found.group(1) == "-" else units


def duplicate_charge(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    mask = keys["duplicate_amount"].ne(0) & keys["duplicate_qty"].ne(0)
    detail = keys["duplicate_lines"][mask].fillna(0).astype(int).astype(str) + " extra line(s)"
    return _discrepancies(keys, mask, "duplicate_charge", keys["duplicate_amount"],
                          billed_qty=keys["duplicate_qty"], billed_amount=keys["duplicate_amount"],
                          expected_qty=0.0, expected_amount=pd.Series(0, index=keys.index, dtype="Int64"),
                          detail=detail)


def unbilled_time(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    amount = keys["unbilled_time_amount"].fillna(0).astype("Int64")
    mask = keys["unbilled_hours"].fillna(0).gt(0) & amount.gt(0)
    hours = keys["unbilled_hours"].fillna(0)
    detail = hours[mask].round(2).astype(str) + " billable h uninvoiced beyond included hours"
    return _discrepancies(keys, mask, "unbilled_time", -amount, expected_qty=hours, billed_qty=0.0,
                          expected_amount=amount, billed_amount=pd.Series(0, index=keys.index, dtype="Int64"),
                          expected_unit_price=pd.Series(pd.NA, index=keys.index, dtype="Int64"),
                          price_source="time_rate", detail=detail)


def negative_margin(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    cost = keys["vendor_unit_cost"]
    mask = (keys["billed_qty"] > 0) & (keys["billed_unit_price"] < cost).fillna(False)
    variance = keys["billed_amount"] - money_times_quantity(keys["billed_qty"], cost)
    return _discrepancies(keys, mask, "negative_margin", variance, expected_unit_price=cost,
                          price_source="vendor_cost", detail="informational: billed below vendor cost")


PRESENCE_RULES: tuple[Rule, ...] = (
    unbilled_usage, billed_without_usage, quantity_under_billed, quantity_over_billed,
    missed_recurring_charge, billed_outside_contract,
)
PRICE_RULES: tuple[Rule, ...] = (price_below_contract, price_above_contract)
ACCOMPANYING_RULES: tuple[Rule, ...] = (duplicate_charge, unbilled_time, negative_margin, agreement_total_mismatch)
RULES: tuple[Rule, ...] = (duplicate_charge, *PRESENCE_RULES, *PRICE_RULES, unbilled_time, negative_margin,
                           agreement_total_mismatch)
DISCREPANCY_TYPES = tuple(rule.__name__ for rule in RULES)

# Every finding in words a client or an account manager reads: the one vocabulary of the charts, the
# filters, the tables and the statements (the type id stays the key in files and in the audit pack).
FINDING_NAMES = {
    "duplicate_charge": "Charged twice",
    "unbilled_usage": "In use, not invoiced",
    "billed_without_usage": "Invoiced, not in use",
    "quantity_under_billed": "Fewer units invoiced than used",
    "quantity_over_billed": "More units invoiced than used",
    "missed_recurring_charge": "Recurring charge not invoiced",
    "billed_outside_contract": "Invoiced after the agreement ended",
    "price_below_contract": "Invoiced below the agreed price",
    "price_above_contract": "Invoiced above the agreed price",
    "unbilled_time": "Billable hours not invoiced",
    "negative_margin": "Sold below vendor cost",
    "agreement_total_mismatch": "Agreement invoice total differs from its additions",
}


def finding_name(discrepancy_type: str) -> str:
    """A discrepancy type in words (``FINDING_NAMES``); a type it does not know as its words
    (``some_new_type`` -> "Some new type")."""
    return FINDING_NAMES.get(discrepancy_type) or discrepancy_type.replace("_", " ").capitalize()


def finding_names(types: pd.Series) -> pd.Series:
    """``finding_name`` of each type (once per distinct type), as ``string``."""
    names = {value: finding_name(str(value)) for value in types.dropna().unique()}
    return types.map(names).astype("string")


def _first_claim(found: pd.DataFrame) -> pd.DataFrame:
    """At most one row per key: the rule earliest in its registry wins (precedence)."""
    return found.drop_duplicates(subset=["period", "client", "sku"], keep="first")


def apply_rules(keys: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Run every rule over the keys: at most one presence-or-quantity and one price finding per key,
    accompanied by duplicates, unbilled time and negative margin. Findings whose variance is inside the
    amount tolerance are dropped. Returns ``OUTPUT_COLUMNS`` sorted by period, client, sku, type."""
    judged = _per_product(keys)
    quantity = _first_claim(_concat([rule(judged, settings) for rule in PRESENCE_RULES]))
    price = _first_claim(_concat([rule(judged, settings) for rule in PRICE_RULES]))
    quantity, price = _without_proration_splits(quantity, price, settings)
    found = _concat([quantity, price, *[rule(keys, settings) for rule in ACCOMPANYING_RULES]])
    found = found[found["variance"].abs() >= settings.amount_tolerance_units]
    found = found.assign(direction=np.where(found["variance"] < 0, "under", "over"),
                         fingerprint=fingerprints(found))
    return in_order(found)


def in_order(found: pd.DataFrame) -> pd.DataFrame:
    """Findings in the run's order (period, client, sku, type: one finding per type and key), with the
    ``OUTPUT_COLUMNS``: findings found apart (per range of clients) put together as one pass finds them."""
    found = found.sort_values(["period", "client", "sku", "type"], kind="stable").reset_index(drop=True)
    return found.reindex(columns=list(OUTPUT_COLUMNS))


def _per_product(keys: pd.DataFrame) -> pd.DataFrame:
    """The keys the presence, quantity and price rules judge: not those billed inside an agreement
    invoice's total, nor the totals themselves."""
    inside = pd.Series(False, index=keys.index)
    for column in ("in_agreement_total", "agreement_total"):
        if column in keys:
            inside |= keys[column].fillna(False).astype(bool)
    return keys if not inside.any() else keys[~inside.to_numpy()]


def _without_proration_splits(quantity: pd.DataFrame, price: pd.DataFrame,
                              settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop a quantity finding and a price finding of the same key whose variances cancel: the billed
    amount is the expected one, split differently (a prorated line: full quantity at a prorated price).
    "Cancel" allows what a unit price written to the cent introduces: the amount tolerance, plus half a
    cent per billed unit, plus the expected price x 0.00005 (the quantity in effect to four places)."""
    quantity_types = {"quantity_under_billed", "quantity_over_billed"}
    both = quantity[quantity["type"].isin(quantity_types)].merge(
        price[["period", "client", "sku", "variance"]], on=["period", "client", "sku"], suffixes=("", "_price"))
    rounding = (both["billed_qty"].abs().to_numpy(float) * HALF_CENT
                + both["expected_unit_price"].astype("Float64").abs().fillna(0).to_numpy(float) * 0.00005)
    allowed = settings.amount_tolerance_units + np.ceil(rounding)
    cancel = both[(both["variance"] + both["variance_price"]).abs().to_numpy(float) <= allowed]
    if not len(cancel):
        return quantity, price
    split = pd.MultiIndex.from_frame(cancel[["period", "client", "sku"]].astype(str))

    def kept(found: pd.DataFrame, types: set[str] | None) -> pd.DataFrame:
        keys = pd.MultiIndex.from_frame(found[["period", "client", "sku"]].astype(str))
        drop = keys.isin(split) & (found["type"].isin(types).to_numpy() if types else True)
        return found[~drop]

    return kept(quantity, quantity_types), kept(price, None)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    non_empty = [frame for frame in frames if len(frame)]
    if not non_empty:
        return frames[0].iloc[0:0] if frames else pd.DataFrame(columns=list(DISCREPANCY_COLUMNS))
    return pd.concat(non_empty, ignore_index=True)


def fingerprints(found: pd.DataFrame) -> pd.Series:
    """Stable id of a finding: (period, client, sku, type) hashed, so a resolution carries over when the
    same period is reconciled again."""
    text = found["period"].astype(str) + "|" + found["client"].astype(str) + "|" + found["sku"].astype(str) \
        + "|" + found["type"].astype(str)
    return pd.Series([hashlib.sha256(value.encode()).hexdigest()[:16] for value in text.tolist()],
                     index=found.index, dtype="string")
