import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from recon.money import (
    HEADROOM,
    MONEY_SCALE,
    DecimalEvidence,
    decimal_evidence,
    exact_decimals,
    exact_sum,
    format_units,
    from_decimal,
    headroom_problem,
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


@pytest.mark.parametrize(("amount", "quantity", "expected"), [
    (100, 8.0, 13),         # one cent over 8: 12.5 units, half up (half to even gave 12)
    (-100, 8.0, -13),       # a credit rounds away from zero
    (100, -8.0, -13),
    (-100, -8.0, 13),
    (300, 8.0, 38),         # 37.5: even was 38 already
    (5, 0.4, 13),           # 12.5 over a quantity with decimals
    (1, 0.0003, 3333),      # 3333.33...
    (2, 0.0003, 6667),      # 6666.66...
    (100, 0.1 + 0.2, 333),  # a float sum of four-place quantities is read at four places (0.3)
])
def test_unit_price_rounds_half_away_from_zero(amount: int, quantity: float, expected: int) -> None:
    price = unit_price_from_amount(pd.Series([amount], dtype="Int64"), pd.Series([quantity]))
    assert price.iloc[0] == expected


def test_unit_price_is_missing_for_missing_inputs_and_exact_for_huge_amounts() -> None:
    huge = HEADROOM - 1  # past what x 10,000 holds in int64: exact integers still
    price = unit_price_from_amount(pd.Series([pd.NA, 100, huge, huge], dtype="Int64"),
                                   pd.Series([1.0, float("nan"), 3.0, 0.0001]))
    assert price.isna().tolist() == [True, True, False, True]  # the last is past what money holds
    assert price.iloc[2] == (huge + 1) // 3


@given(st.integers(-(10**14), 10**14) | st.integers(-1000, 1000),  # small amounts: ties are frequent
       st.decimals(min_value=Decimal("-1e8"), max_value=Decimal("1e8"), places=4, allow_nan=False)
       | st.integers(-64, 64).map(Decimal))
@example(100, Decimal(8)).via("a tie")
@example(-5, Decimal("-0.4")).via("a tie")
@example(10**14 - 1, Decimal("0.0002")).via("a ratio past what float64 holds exactly")
def test_unit_price_is_the_exact_ratio_rounded_half_up(amount: int, quantity: Decimal) -> None:
    price = unit_price_from_amount(pd.Series([amount], dtype="Int64"), pd.Series([float(quantity)]))
    if quantity == 0:
        assert price.isna().all()
        return
    exact = (Decimal(amount) / quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert price.iloc[0] == int(exact)


# ----------------------------------------------------------------------- issue 24: numbers never guessed

@pytest.mark.parametrize(("text", "decimal"), [("12,50", "."), ("€3,50", "."), ("1,2345", "."), (",50", "."),
                                               ("12.50", ","), ("1,234.56", ",")])
def test_a_separator_that_does_not_group_thousands_is_not_a_number(text: str, decimal: str) -> None:
    """``12,50`` was read as 1250 and ``€3,50`` as 350: a thousands separator groups digits by three."""
    assert parse_money(pd.Series([text]), decimal).isna().all()


@pytest.mark.parametrize(("cells", "decimal", "evidence"), [
    (["3668,30", "927,80", "12"], ".", DecimalEvidence(2, "3668,30")),
    (["1,234", "2,500"], ".", DecimalEvidence(0, "", 2, "1,234")),
    (["1,234", "2.50"], ".", DecimalEvidence()),  # a decimal point shows: the comma groups thousands
    (["12.50"], ",", DecimalEvidence(1, "12.50")),
    (["1.234", "2,50"], ",", DecimalEvidence()),
])
def test_decimal_evidence_tells_a_mistaken_mark_from_an_ambiguous_one(cells: list[str], decimal: str,
                                                                      evidence: DecimalEvidence) -> None:
    assert decimal_evidence(pd.Series(cells, dtype="string"), decimal) == evidence


def test_a_product_past_what_money_holds_is_missing_never_an_overflow_error() -> None:
    amount = money_times_quantity(pd.Series([99_999_999_999_999.0, 2.0]),
                                  pd.Series([999_999_999_999_990_000, 10_000], dtype="Int64"))
    assert amount.isna().iloc[0] and amount.iloc[1] == 20_000


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60))
def test_exact_sum_is_the_sum_of_python_integers_at_the_int64_bounds(values: list[int]) -> None:
    assert exact_sum(pd.Series(values, dtype="Int64")) == sum(values)


limit_units = 10**16  # 10^12 currency units, max_line_amount's default


@given(st.lists(st.integers(-limit_units, limit_units), max_size=600), st.integers(1, 600))
def test_totals_that_could_wrap_are_refused_and_those_that_cannot_are_exact(amounts: list[int], copies: int) -> None:
    """Money past 2^62 units in total is refused before a sum is taken; below it, every total is exact."""
    series = pd.Series(amounts * copies, dtype="Int64")
    problem = headroom_problem([series], [])
    magnitude = sum(abs(value) for value in amounts) * copies
    assert (problem is not None) == (magnitude >= HEADROOM)
    if problem is None:
        assert exact_sum(series) == sum(amounts) * copies == int(series.sum())


def test_quantities_times_prices_that_could_overflow_are_refused() -> None:
    prices = pd.Series([10**16], dtype="Int64")
    assert headroom_problem([prices], [pd.Series([100.0])]) is None
    problem = headroom_problem([prices], [pd.Series([10**12, 1.0])])
    assert problem is not None and "quantities in these files add up to 1,000,000,000,001" in problem


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


@given(st.lists(st.text("0123456789.,-()$ €", max_size=12) | st.decimals(-10**15, 10**15, allow_nan=False).map(str),
                min_size=1, max_size=30))
def test_exact_decimals_reads_what_parse_money_reads_with_every_place(cells: list[str]) -> None:
    # None exactly where parse_money gives <NA>; elsewhere the same number, only not rounded to four places
    text = pd.Series(cells, dtype="string")
    exact, units = exact_decimals(text), parse_money(text)
    assert [value is None for value in exact] == units.isna().tolist()
    assert [from_decimal(value) for value in exact if value is not None] == units.dropna().tolist()


def test_exact_decimals_keeps_every_place() -> None:
    cells = pd.Series(["0.923456", "2.9032258064516", "(1,234.567891)", "12.99999-", "n/a", ""], dtype="string")
    assert exact_decimals(cells) == [Decimal("0.923456"), Decimal("2.9032258064516"), Decimal("-1234.567891"),
                                     Decimal("-12.99999"), None, None]
