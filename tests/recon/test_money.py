import subprocess
import sys
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.money import (
    MONEY_SCALE,
    format_units,
    from_decimal,
    money_times_quantity,
    parse_money,
    parse_quantity,
    to_decimal,
    unit_price_from_amount,
)


@pytest.mark.parametrize(("text", "decimal", "expected"), [
    ("$1,234.56", ".", Decimal("1234.56")),
    ("(12.00)", ".", Decimal("-12.00")),
    ("1.234,56", ",", Decimal("1234.56")),
    ("-0.5", ".", Decimal("-0.5")),
    (" 7 ", ".", Decimal("7")),
    ("€ 19,80", ",", Decimal("19.80")),
    ("0.02499", ".", Decimal("0.0250")),   # a fifth place rounds half up
    ("12-", ".", Decimal("-12")),          # trailing minus, as some ERPs export
    ("USD 5.10", ".", Decimal("5.10")),
])
def test_parse_money_reads_real_export_formats(text: str, decimal: str, expected: Decimal) -> None:
    assert parse_money(pd.Series([text]), decimal).iloc[0] == from_decimal(expected)


@pytest.mark.parametrize("text", ["abc", "", "1.2.3", "--5", "$"])
def test_parse_money_leaves_unreadable_cells_missing(text: str) -> None:
    assert parse_money(pd.Series([text])).isna().all()


def test_quantities_are_rounded_to_four_places() -> None:
    assert parse_quantity(pd.Series(["2.66666", "3"])).tolist() == [2.6667, 3.0]


@given(st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False))
def test_money_round_trips_exactly_through_text(value: Decimal) -> None:
    units = parse_money(pd.Series([str(value)]))
    assert to_decimal(int(units.iloc[0]), places=4) == value
    assert format_units(units, places=4).iloc[0] == f"{value:.4f}"


@given(st.integers(0, 10**6), st.integers(-10**8, 10**8))
def test_quantity_times_price_is_exact_half_up_to_the_cent(quantity_e2: int, price: int) -> None:
    quantity = quantity_e2 / 100
    amount = money_times_quantity(pd.Series([quantity]), pd.Series([price], dtype="Int64")).iloc[0]
    exact = Decimal(quantity_e2) / 100 * Decimal(price) / MONEY_SCALE
    assert to_decimal(int(amount)) == exact.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def test_huge_products_fall_back_to_exact_integers() -> None:
    amount = money_times_quantity(pd.Series([900_000.0]), pd.Series([9 * 10**12], dtype="Int64"))
    assert to_decimal(int(amount.iloc[0])) == Decimal("810000000000000.00")


def test_unit_price_from_amount_handles_zero_quantity() -> None:
    price = unit_price_from_amount(pd.Series([1000000, 5], dtype="Int64"), pd.Series([3.0, 0.0]))
    assert price.iloc[0] == 333333 and price.isna().iloc[1]


def test_importing_money_loads_no_array_library() -> None:
    """``import recon.money`` stays fast (issue 19: under 0.3 s): numpy, pandas and Arrow are loaded by the
    functions that work on arrays, not by the import; the scalar helpers work without them."""
    code = ("import sys, recon.money as money\n"
            "print(money.display_money(-123456789), money.to_decimal(1140000), money.from_decimal('1.5'))\n"
            "print(','.join(sorted(m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["-$12,345.68 114.00 15000", ""]


@given(st.lists(st.none() | st.integers(-10**17, 10**17), max_size=40), st.sampled_from([0, 2, 4]))
def test_format_units_writes_what_decimal_writes(units: list[int | None], places: int) -> None:
    """The vectorised formatter (issue 25) against ``Decimal`` one cell at a time: the same text, a
    negative amount that rounds to zero written ``0.00`` (no ``-0.00``), a missing amount empty."""
    series = pd.Series(units, dtype="Int64", index=[10 + i for i in range(len(units))])
    text = format_units(series, places)
    expected = ["" if value is None else str(to_decimal(value, places) + 0) for value in units]
    assert text.tolist() == expected
    assert text.index.equals(series.index)
    assert text.dtype == pd.StringDtype("pyarrow")
