"""One line per finding with the arithmetic behind it, in the words of the rule that raised it
("usage 17 x $22.00 = $374.00; invoiced 0"): what the Discrepancies page shows beside each selected
finding and what a statement line can say.

In: findings in the discrepancy schema (``recon.schema.DISCREPANCY_COLUMNS``: quantities as floats, money as
Int64 units of 1/10,000). Out: a text Series on the same index. Meant for the rows a person reads (a
selection, a client's statement): one small function per finding type, as ``recon.rules`` has one per rule;
a type without one (added later) says its ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from recon.money import MONEY_SCALE, display_money
from recon.rules import carried_adjustments

Row = dict[str, Any]


def _quantity(value: object) -> str:
    """``17``, ``2.5``, ``0.3333``: a quantity without trailing zeros; a missing one is 0."""
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return "0"
    return f"{float(value):,.4f}".rstrip("0").rstrip(".")  # type: ignore[arg-type]


def price_text(units: object, currency: str, signed: bool = False) -> str:
    """A unit price as money: two places when it is whole cents (``$22.00``), up to four when it is not
    (``$0.085``); an em dash when missing."""
    if units is None or pd.isna(units):  # type: ignore[call-overload]
        return "—"
    value = int(units)  # type: ignore[call-overload]
    places = 2 if value % (MONEY_SCALE // 100) == 0 else 4
    text = display_money(value, currency, places=places, signed=signed)
    return text.rstrip("0") if places == 4 else text


def _money(units: object, currency: str, signed: bool = False) -> str:
    return "—" if units is None or pd.isna(units) else display_money(int(units), currency, signed=signed)  # type: ignore[call-overload]


def _invoiced(row: Row, currency: str) -> str:
    return (f"invoiced {_quantity(row['billed_qty'])} x {price_text(row['billed_unit_price'], currency)} = "
            f"{_money(row['billed_amount'], currency)}")


def _basis(row: Row) -> str:
    """Where the expected quantity came from: vendor usage when the product is tracked by a vendor (then
    usage is above zero for a quantity rule), else the contract."""
    usage = row.get("usage_qty")
    return "usage" if usage is not None and not pd.isna(usage) and float(usage) > 0 else "contract"


def _unbilled_usage(row: Row, currency: str) -> str:
    return (f"usage {_quantity(row['usage_qty'])} x {price_text(row['expected_unit_price'], currency)} = "
            f"{_money(row['expected_amount'], currency)}; invoiced 0")


def _missed_recurring(row: Row, currency: str) -> str:
    return (f"contract {_quantity(row['contract_qty'])} x {price_text(row['expected_unit_price'], currency)} = "
            f"{_money(row['expected_amount'], currency)}; invoiced 0")


def _billed_without_usage(row: Row, currency: str) -> str:
    return f"{_invoiced(row, currency)}; usage 0"


def _quantity_gap(row: Row, currency: str) -> str:
    gap = float(row["billed_qty"] or 0) - float(row["expected_qty"] or 0)
    return (f"{_basis(row)} {_quantity(row['expected_qty'])}, invoiced {_quantity(row['billed_qty'])}: "
            f"{'+' if gap > 0 else '-'}{_quantity(abs(gap))} x {price_text(row['expected_unit_price'], currency)} = "
            f"{_money(row['variance'], currency, signed=True)}")


def _outside_contract(row: Row, currency: str) -> str:
    return f"{_invoiced(row, currency)}; no contract line in effect that month"


def _price_gap(row: Row, currency: str) -> str:
    difference = _difference(row["billed_unit_price"], row["expected_unit_price"])
    return (f"invoiced {_quantity(row['billed_qty'])} at {price_text(row['billed_unit_price'], currency)}, "
            f"agreed {price_text(row['expected_unit_price'], currency)}: {_quantity(row['billed_qty'])} x "
            f"{price_text(difference, currency, signed=True)} = {_money(row['variance'], currency, signed=True)}")


def _duplicate(row: Row, currency: str) -> str:
    return (f"{_money(row['variance'], currency)} invoiced again on another line for the same product, "
            "quantity and price")


def _unbilled_time(row: Row, currency: str) -> str:
    hours = float(row["expected_qty"] or 0)
    rate = round(int(row["expected_amount"]) / hours) if hours and not pd.isna(row["expected_amount"]) else None
    return (f"{_quantity(hours)} billable hours x {price_text(rate, currency)} = "
            f"{_money(row['expected_amount'], currency)}; invoiced 0")


def _negative_margin(row: Row, currency: str) -> str:
    difference = _difference(row["billed_unit_price"], row["expected_unit_price"])
    return (f"invoiced at {price_text(row['billed_unit_price'], currency)} a unit, vendor cost "
            f"{price_text(row['expected_unit_price'], currency)}: {_quantity(row['billed_qty'])} x "
            f"{price_text(difference, currency, signed=True)} = {_money(row['variance'], currency, signed=True)} "
            "of margin (not owed by anyone)")


def _agreement_total(row: Row, currency: str) -> str:
    """The total against what was expected of it: its additions, and (where the total carries them) the
    agreement adjustments the fixes applied, each with its amount (``recon.rules.carried_adjustments``)."""
    total, expected = _money(row["billed_amount"], currency), row["expected_amount"]
    variance = _money(row["variance"], currency, signed=True)
    carried = carried_adjustments(row.get("detail"))
    if not carried or expected is None or pd.isna(expected):
        return f"agreement invoice total {total}, its additions expected {_money(expected, currency)}: {variance}"
    additions = int(expected) - carried
    kind = "charges" if carried > 0 else "credits"
    return (f"agreement invoice total {total}, expected {_money(expected, currency)}: its additions "
            f"{_money(additions, currency)} {'plus' if carried > 0 else 'less'} {_money(abs(carried), currency)} "
            f"of agreement {kind} on this invoice: {variance}")


def _difference(billed: object, expected: object) -> int | None:
    if billed is None or expected is None or pd.isna(billed) or pd.isna(expected):  # type: ignore[call-overload]
        return None
    return int(billed) - int(expected)  # type: ignore[call-overload]


EXPLANATIONS: dict[str, Callable[[Row, str], str]] = {
    "unbilled_usage": _unbilled_usage,
    "missed_recurring_charge": _missed_recurring,
    "billed_without_usage": _billed_without_usage,
    "quantity_under_billed": _quantity_gap,
    "quantity_over_billed": _quantity_gap,
    "billed_outside_contract": _outside_contract,
    "price_below_contract": _price_gap,
    "price_above_contract": _price_gap,
    "duplicate_charge": _duplicate,
    "unbilled_time": _unbilled_time,
    "negative_margin": _negative_margin,
    "agreement_total_mismatch": _agreement_total,
}


def explain(found: pd.DataFrame, currency: str = "USD") -> pd.Series:
    """One line of arithmetic per finding of ``found`` (same index), in ``currency``."""
    lines = [_line(row, currency) for row in found.to_dict("records")]
    return pd.Series(lines, index=found.index, dtype="string")


def _line(row: Row, currency: str) -> str:
    explain_type = EXPLANATIONS.get(str(row["type"]))
    detail = row.get("detail")
    if explain_type is None:
        return "" if detail is None or pd.isna(detail) else str(detail)
    return explain_type(row, currency)


__all__ = ["EXPLANATIONS", "explain", "price_text"]
