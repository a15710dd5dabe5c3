"""Exact money.

Money is held as integer counts of 1/10,000 of the currency unit (fixed point with four decimal places,
like SQL Server's MONEY): vendors price some SKUs below a cent (backup per GB), so unit prices need four
places, while amounts (quantity x price, invoice totals, variances) are always rounded to whole cents.
Frames carry these integers in nullable ``Int64`` columns, scalars become ``Decimal`` at the edges, and
nothing on the way is ever a float. Quantities are not money: they are float64 rounded to four places.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np
    import pandas as pd
    import pyarrow as pa

# Importing this module loads nothing but ``decimal``: numpy, pandas and Arrow (about half a second) are
# imported by the functions that work on arrays, when first called (Python keeps them loaded after that),
# so ``import recon.money`` and its scalar helpers cost nothing to a command that needs no frame.

MONEY_SCALE = 10_000
CENT = MONEY_SCALE // 100
QUANTITY_PLACES = 4
_QTY_SCALE = 10**QUANTITY_PLACES
_INT64_SAFE = 2**62
_INT64_MAX = 2**63 - 1
OUT_OF_RANGE = -(2**63)  # int64's minimum: a marker no product in range can take

# A number after cleaning: sign, up to 14 whole digits (10^14 currency units, so that units fit int64
# exactly) and decimals. Only the first five decimals are read (four kept, the fifth rounds); any
# digits after them, in any script, are ignored.
_MONEY_PATTERN = r"^(?P<sign>[-+]?)(?P<whole>[0-9]{0,14})(?:\.(?P<frac>[0-9]{5}\p{Nd}*|[0-9]{0,4}))?$"
_CURRENCY_MARKS = r"$€£¥]|USD|EUR|GBP|CAD|AUD|NZD|CHF"  # after the whitespace class of ``recon.cells``
# Whole digits grouped by three with the thousands separator, then (optionally) the decimal part.
_GROUPED = r"^[-+]?[0-9]{{1,3}}(?:{thousands}[0-9]{{3}})+(?:{decimal}[0-9]*)?$"


def float_text(value: float) -> str:
    """A float as the plain decimal of its shortest repr (``5e-05`` -> ``0.00005``, ``1e+16`` ->
    ``10000000000000000``): the number a spreadsheet or database showed, in a form the money and quantity
    readers accept (they refuse exponents). ``inf`` and ``nan`` stay as they are: no number."""
    number = Decimal(repr(value))
    return format(number, "f") if number.is_finite() else str(value)


def round_half_up_div(numerator: np.ndarray, denominator: int | np.ndarray) -> np.ndarray:
    """Integer division rounding half away from zero (the way invoices round), on int64 arrays (the
    denominator positive: one for all, or one per value)."""
    import numpy as np

    magnitude = (np.abs(numerator) + denominator // 2) // denominator
    return np.sign(numerator) * magnitude


def _money_text(text: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Currency marks and spaces stripped, a parenthesised or trailing minus made a leading one; return
    (text, is_negative_by_parentheses). Separators are left as they are."""
    import pyarrow.compute as pc

    from recon.cells import WHITESPACE, concat

    cleaned = pc.replace_substring_regex(pc.utf8_trim_whitespace(text), WHITESPACE[:-1] + _CURRENCY_MARKS, "")
    in_parentheses = pc.and_(pc.starts_with(cleaned, "("), pc.ends_with(cleaned, ")"))
    cleaned = pc.utf8_trim(cleaned, "()")
    trailing_minus = pc.and_(pc.ends_with(cleaned, "-"), pc.invert(pc.starts_with(cleaned, "-")))
    cleaned = pc.if_else(trailing_minus, concat(["-", pc.utf8_rtrim(cleaned, "-")]), cleaned)
    return cleaned, in_parentheses


def _clean_money_text(text: pa.ChunkedArray, decimal: str) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Strip currency marks and thousands separators; return (plain text, is_negative_by_parentheses).
    A thousands separator must group whole digits by three (``1,234,567.89``): text that uses it any
    other way (``12,50`` with ``.`` as the decimal mark, ``1,2345``) is not a number, never read as one
    with the separator dropped (``12,50`` is not 1250)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cleaned, in_parentheses = _money_text(text)
    thousands = "." if decimal == "," else ","
    grouped = _GROUPED.format(thousands=re.escape(thousands), decimal=re.escape(decimal))
    misgrouped = pc.and_(pc.match_substring(cleaned, thousands), pc.invert(pc.match_substring_regex(cleaned, grouped)))
    cleaned = pc.if_else(misgrouped, pa.scalar(None, cleaned.type), cleaned)
    cleaned = pc.replace_substring(cleaned, thousands, "")
    if decimal != ".":
        cleaned = pc.replace_substring(cleaned, decimal, ".")
    return cleaned, in_parentheses


def parse_money(text: pd.Series, decimal: str = ".") -> pd.Series:
    """Parse money text (``$1,234.56``, ``(12.00)``, ``1.234,56`` with ``decimal=","``) into Int64 units.

    Returns an ``Int64`` series in 1/10,000 units; unparseable or blank cells are ``<NA>`` (the caller
    decides whether that is a quarantine reason), and so is an amount of 10^14 or more. Digits past the
    fourth place round half up. Exact integer arithmetic on Arrow string kernels: no floats, no Python
    call per cell.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from recon.cells import arrow_text, as_numpy_bool, concat

    cleaned, negative = _clean_money_text(arrow_text(text), decimal)
    parts = pc.extract_regex(cleaned, _MONEY_PATTERN)
    sign, whole, fraction = (pc.struct_field(parts, name) for name in ("sign", "whole", "frac"))
    has_digits = pc.or_(pc.not_equal(whole, ""), pc.not_equal(fraction, ""))
    fraction = pc.utf8_rpad(fraction, width=5, padding="0")
    digits = concat([whole, pc.utf8_slice_codeunits(fraction, 0, 4)])
    magnitude = pc.fill_null(pc.cast(digits, pa.int64()), 0).to_numpy()
    magnitude = magnitude + as_numpy_bool(pc.greater_equal(pc.utf8_slice_codeunits(fraction, 4, 5), "5"))
    minus = as_numpy_bool(pc.equal(sign, "-")) ^ as_numpy_bool(negative)
    valid = as_numpy_bool(pc.and_(pc.is_valid(parts), has_digits))
    units = np.where(minus, -magnitude, magnitude)
    return pd.Series(pd.arrays.IntegerArray(units, ~valid), index=text.index)


def exact_decimals(text: pd.Series, decimal: str = ".") -> list[Decimal | None]:
    """Each cell as ``parse_money`` reads it (the same cleaning; ``None`` exactly where it gives ``<NA>``),
    with every decimal place kept: for a formula that rounds only at its end (Microsoft's
    ROUNDDOWN(EffectiveUnitPrice x PCToBCExchangeRate, 2)). One ``Decimal`` per cell: give it distinct cells."""
    import pyarrow.compute as pc

    from recon.cells import arrow_text

    cleaned, negative = _clean_money_text(arrow_text(text), decimal)
    parts = pc.extract_regex(cleaned, _MONEY_PATTERN).to_pylist()
    values: list[Decimal | None] = []
    for part, parenthesised in zip(parts, negative.to_pylist(), strict=True):
        if part is None or not (part["whole"] or part["frac"]):
            values.append(None)
            continue
        value = Decimal(f"{part['whole'] or 0}.{part['frac'] or 0}")
        values.append(-value if (part["sign"] == "-") != bool(parenthesised) else value)
    return values


_OTHER_MARK = {  # decimal mark -> (written with the other mark, either mark could be meant)
    ".": (r"^-?(?:[0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+),[0-9]{1,2}$", r"^-?[0-9]{1,3},[0-9]{3}$"),
    ",": (r"^-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)\.[0-9]{1,2}$", r"^-?[0-9]{1,3}\.[0-9]{3}$"),
}


@dataclass(frozen=True)
class DecimalEvidence:
    """What a column's numbers say about its decimal mark, read with ``decimal``: cells written with the
    other mark (``12,50`` read with ``.``: unreadable, so quarantined) and cells whose one separator
    could be either (``1,234``: read as a thousands separator) while no cell shows the decimal mark.
    Counts, and an example of each."""

    mistaken: int = 0
    mistaken_example: str = ""
    ambiguous: int = 0
    ambiguous_example: str = ""


def decimal_evidence(text: pd.Series, decimal: str = ".") -> DecimalEvidence:
    """See ``DecimalEvidence``; cheap when no cell holds the other mark (the usual case)."""
    import pyarrow.compute as pc

    from recon.cells import arrow_text, as_numpy_bool, holds_byte

    other = "," if decimal == "." else "."
    cells = arrow_text(text)
    if not len(cells) or not holds_byte(cells, ord(other)):
        return DecimalEvidence()
    holding = pc.fill_null(pc.match_substring(cells, other), False)
    candidates, _ = _money_text(pc.filter(cells, holding))
    mistaken_pattern, ambiguous_pattern = _OTHER_MARK[decimal]
    mistaken = as_numpy_bool(pc.match_substring_regex(candidates, mistaken_pattern))
    ambiguous = as_numpy_bool(pc.match_substring_regex(candidates, ambiguous_pattern))
    shows_decimal = pc.any(pc.fill_null(pc.match_substring(cells, decimal), False)).as_py()
    originals = pc.filter(cells, holding)
    ambiguous = ambiguous & (not shows_decimal)
    return DecimalEvidence(int(mistaken.sum()), _first(originals, mistaken), int(ambiguous.sum()),
                           _first(originals, ambiguous))


def _first(cells: pa.ChunkedArray, picked: np.ndarray) -> str:
    import pyarrow as pa

    return str(cells.filter(pa.array(picked))[0]) if picked.any() else ""


def parse_quantity(text: pd.Series, decimal: str = ".") -> pd.Series:
    """Parse quantity text into float64 rounded to four places; unparseable cells are NaN."""
    units = parse_money(text, decimal)
    return (units.astype("Float64") / MONEY_SCALE).round(QUANTITY_PLACES).astype("float64")


def money_times_quantity(quantity: pd.Series, unit_price: pd.Series) -> pd.Series:
    """Amount = quantity x unit price, rounded half up to whole cents; exact integer arithmetic.

    ``quantity`` is float64 (four places), ``unit_price`` Int64 units; returns Int64 units (a multiple of
    one cent). Missing inputs give ``<NA>``, and so does a product too large for money to hold (past
    2^63 units): never a wrapped number, never an ``OverflowError``.
    """
    import numpy as np
    import pandas as pd

    missing = quantity.isna().to_numpy() | unit_price.isna().to_numpy()
    quantity_scaled = np.rint(quantity.fillna(0).to_numpy(float) * _QTY_SCALE).astype(np.int64)
    price = unit_price.fillna(0).to_numpy(np.int64)
    if len(price) and int(np.abs(quantity_scaled).max()) * int(np.abs(price).max()) >= _INT64_SAFE:
        cents = _exact_product_in_cents(quantity_scaled, price)
        missing |= cents == OUT_OF_RANGE
        cents = np.where(cents == OUT_OF_RANGE, 0, cents)
    else:
        cents = round_half_up_div(quantity_scaled * price, _QTY_SCALE * CENT)
    return pd.Series(cents * CENT, index=quantity.index, dtype="Int64").mask(missing)


def _exact_product_in_cents(quantity_scaled: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Fallback for products past int64: Python integers (arbitrary precision), still exact. A product
    whose units would not fit an int64 comes back as ``OUT_OF_RANGE`` (the caller makes it ``<NA>``)."""
    products = [int(q) * int(p) for q, p in zip(quantity_scaled, price, strict=True)]
    return _exact_half_up(products, [_QTY_SCALE * CENT] * len(products), unit=CENT)


def _exact_half_up(numerators: list[int], divisors: Iterable[int] | np.ndarray, unit: int = 1) -> np.ndarray:
    """Each numerator / divisor (positive) in Python integers, rounded half away from zero, as int64;
    ``OUT_OF_RANGE`` where the quotient times ``unit`` (what it is counted in) would not fit an int64."""
    import numpy as np

    quotients = [(abs(n) + int(d) // 2) // int(d) * (1 if n >= 0 else -1)
                 for n, d in zip(numerators, divisors, strict=True)]
    return np.array([value if abs(value) * unit <= _INT64_MAX else OUT_OF_RANGE for value in quotients],
                    dtype=np.int64)


def unit_price_from_amount(amount: pd.Series, quantity: pd.Series) -> pd.Series:
    """Unit price = amount / quantity in Int64 units, rounded half away from zero; exact integer arithmetic.

    ``amount`` is Int64 units, ``quantity`` float64 read at four places as ``money_times_quantity`` reads
    it (every caller's quantity is a sum of four-place values, so this recovers it exactly from float
    error). ``<NA>`` where an input is missing, the quantity is 0, or the price is past what money holds.
    """
    import numpy as np
    import pandas as pd

    quantity_scaled = np.rint(quantity.fillna(0).to_numpy(float) * _QTY_SCALE).astype(np.int64)
    missing = amount.isna().to_numpy() | (quantity_scaled == 0)
    # round_half_up_div wants a positive divisor: a negative quantity moves its sign to the amount
    divisor = np.where(quantity_scaled == 0, 1, np.abs(quantity_scaled))
    units = amount.to_numpy(dtype="int64", na_value=0) * np.sign(quantity_scaled)
    if len(units) and int(np.abs(units).max()) * _QTY_SCALE >= _INT64_SAFE:
        price = _exact_ratio(units, divisor)
        missing |= price == OUT_OF_RANGE
        price = np.where(price == OUT_OF_RANGE, 0, price)
    else:  # |price| <= |amount| x 10,000 (the divisor is at least 1): nothing here can wrap
        price = round_half_up_div(units * _QTY_SCALE, divisor)
    return pd.Series(price, index=amount.index, dtype="Int64").mask(missing)


def _exact_ratio(units: np.ndarray, divisor: np.ndarray) -> np.ndarray:
    """Fallback for amounts whose x 10,000 is past int64 (as ``_exact_product_in_cents``): Python
    integers, half away from zero; a price that would not fit an int64 comes back as ``OUT_OF_RANGE``."""
    return _exact_half_up([int(u) * _QTY_SCALE for u in units], divisor)


HEADROOM = 2**62  # every total and product the engine forms stays below this (int64 holds 2^63 - 1)


def exact_sum(units: np.ndarray | pd.Series) -> int:
    """The exact sum of int64 values as a Python integer (which cannot wrap; ``<NA>`` counts 0). Each
    value is split into its high and low 32 bits, whose int64 sums cannot wrap for fewer than 2^31
    values: one vectorised pass, where numpy's own int64 sum wraps silently past 2^63."""
    import numpy as np
    import pandas as pd

    values = units.to_numpy(dtype="int64", na_value=0) if isinstance(units, pd.Series) else \
        np.asarray(units, dtype=np.int64)
    high = values >> 32
    low = values & 0xFFFFFFFF
    return int(high.sum(dtype=np.int64)) * 2**32 + int(low.sum(dtype=np.int64))


def headroom_problem(amounts: list[pd.Series], quantities: list[pd.Series]) -> str | None:
    """Why a run's money could overflow a 64-bit total or product, or ``None`` when it cannot.

    Conservative bounds, each a few vectorised passes: every total the engine forms is at most the sum
    of the absolute values of every amount (``amounts``: Int64 units), and every amount it computes
    (quantity x price, added up per key) at most all quantities added up times the largest price. Below
    ``HEADROOM`` both, no sum or product can wrap; the per-line limit (``max_line_amount``) keeps real
    data far below it."""
    import numpy as np

    magnitudes = [np.abs(series.to_numpy(dtype="int64", na_value=0)) for series in amounts]
    total = sum(exact_sum(values) for values in magnitudes)
    if total >= HEADROOM:
        return (f"the amounts in these files add up to {Decimal(total) / MONEY_SCALE:,.2f}, beyond what money can "
                "be summed exactly in (about 4.6 x 10^14); check the files for absurd amounts")
    largest = max((int(values.max()) for values in magnitudes if len(values)), default=0)
    counted = sum(float(np.abs(series.to_numpy(dtype="float64", na_value=0.0)).sum()) for series in quantities)
    if counted * largest >= HEADROOM:
        return (f"the quantities in these files add up to {counted:,.0f} and a price reaches "
                f"{Decimal(largest) / MONEY_SCALE:,.2f}: amounts computed from them could exceed what money can "
                "hold (about 4.6 x 10^14); check the files for absurd quantities or prices")
    return None


def to_decimal(units: int | None, places: int = 2) -> Decimal | None:
    """Int64 units to a ``Decimal`` with ``places`` decimals (half up); ``None`` (or pandas' NA) gives
    ``None``."""
    if units is None or _is_pandas_na(units):
        return None
    exponent = Decimal(1).scaleb(-places)
    return (Decimal(int(units)) / MONEY_SCALE).quantize(exponent, rounding=ROUND_HALF_UP)


def _is_pandas_na(value: object) -> bool:
    """``value is pd.NA``, without importing pandas (a value cannot be its NA if pandas is not loaded)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and value is pandas.NA


def from_decimal(value: Decimal | int | str) -> int:
    """A decimal amount (``Decimal("12.50")``) to Int64 units, half up past four places."""
    scaled = (Decimal(value) * MONEY_SCALE).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(scaled)


def format_units(units: pd.Series, places: int = 2) -> pd.Series:
    """Int64 units to decimal strings with ``places`` decimals (``"-1234.50"``); NA becomes ``""``.

    Vectorised and exact: the units are rounded half up and split into whole and fractional parts with
    integer arithmetic, and Arrow writes the digits (integers cast to text, the fraction padded with
    zeros, the parts joined): no float and no Python object per cell (issue 25: a million keys' money
    columns in about a second, where pandas' string concatenation took 30). An amount that rounds to
    zero is ``0.00``, never ``-0.00``.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    text_type = pa.large_string()
    step = MONEY_SCALE // 10**places
    present = units.notna().to_numpy()
    rounded = round_half_up_div(units.to_numpy(dtype=np.int64, na_value=0), step)
    whole, fraction = np.divmod(np.abs(rounded), 10**places)
    empty = pa.scalar("", text_type)
    parts = [pc.if_else(pa.array(rounded < 0), pa.scalar("-", text_type), empty),
             pc.cast(pa.array(whole), text_type)]
    if places:
        parts += [pa.scalar(".", text_type),
                  pc.utf8_lpad(pc.cast(pa.array(fraction), text_type), width=places, padding="0")]
    text = pc.if_else(pa.array(present), pc.binary_join_element_wise(*parts, empty), empty)
    return pd.Series(pd.arrays.ArrowStringArray(text), index=units.index)


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "JPY": "¥"}


def display_money(units: int | None, currency: str = "USD", places: int = 2, signed: bool = False) -> str:
    """Int64 units as a person reads money: ``-$1,234.56`` (a loss keeps its minus sign in front of the
    symbol), ``+$12.00`` with ``signed=True``, ``CHF 5.00`` for currencies without a symbol here.
    ``None`` / NA give an em dash. Exact: formatted from a ``Decimal``, never a float."""
    amount = to_decimal(units, places)
    if amount is None:
        return "—"
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), f"{currency.upper()} ")
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}{symbol}{abs(amount):,.{places}f}"
