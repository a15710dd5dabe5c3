"""Facts per key: usage named by its first vendor and product, periods in words."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from recon import keys as keyfacts
from tests.recon.test_joins import CLIENTS, SKUS, coded

NAMES = ("Pax8", "Datto", "Ärzte-Lizenz", "datto", "")


@given(st.lists(st.tuples(st.sampled_from(CLIENTS), st.sampled_from(SKUS), st.sampled_from(NAMES),
                          st.sampled_from((*NAMES, None))), min_size=1, max_size=20))
def test_usage_facts_name_each_key_by_its_first_vendor_and_product_in_text_order(rows: list) -> None:
    """The vendor and product of a key are its smallest names (as pandas' string ``min``), taken on
    ordered codes."""
    frame = pd.DataFrame(rows, columns=["client", "sku", "vendor", "product_name"]).astype("string")
    usage = frame.assign(quantity=1.0, unit_cost=pd.array([100] * len(frame), dtype="Int64"),
                         period_start=pd.Timestamp("2026-01-01"), period_end=pd.Timestamp("2026-01-31"),
                         row_type="usage", subscription_id=pd.NA, subscription_start=pd.NaT, subscription_end=pd.NaT,
                         cost_amount=pd.array([None] * len(frame), dtype="Int64"), source_file="usage.csv",
                         source_line=pd.array(range(2, len(frame) + 2), dtype="Int64"))
    [usage] = coded(usage.assign(period="2026-01"))
    facts, _ = keyfacts.usage_by_key(usage.drop(columns="period"), ["2026-01"])
    expected = frame.groupby(["client", "sku"]).agg(vendor=("vendor", "min"), product_name=("product_name", "min"))
    got = facts.assign(client=facts["client"].astype("string"), sku=facts["sku"].astype("string"))
    got = got.set_index(["client", "sku"])[["vendor", "product_name"]].astype("string").sort_index()
    pd.testing.assert_frame_equal(got, expected.sort_index(), check_dtype=False)


def test_periods_in_words() -> None:
    assert keyfacts.describe_periods(("2025-11", "2025-12", "2026-01")) == "2025-11 to 2026-01"  # across a year
    assert keyfacts.describe_periods(["2026-01", "2026-03"]) == "2026-01, 2026-03"
    assert keyfacts.describe_periods(("2026-01",)) == "2026-01"
    assert keyfacts.describe_periods(()) == "no periods"


@given(expected=st.integers(0, 10**9), amounts=st.lists(st.integers(1, 10**8), min_size=1, max_size=4),
       extra=st.integers(0, 10**8), credit=st.booleans())
def test_an_agreement_total_carrying_its_adjustments_leaves_only_the_rest_to_judge(
        expected: int, amounts: list[int], extra: int, credit: bool) -> None:
    """A total = the additions' expected amount + the adjustments applied in its period + a rest beyond them
    (in their direction): every adjustment counts as carried, and billed - (expected + carried) is the rest.
    A total that moved less than their sum counts none of them."""
    sign = -1 if credit else 1
    made = pd.DataFrame({"period": "2026-03", "client": "Acme", "agreement_id": "11",
                         "amount": pd.array([sign * amount for amount in amounts], dtype="Int64")})
    total = expected + sign * (sum(amounts) + extra)
    judged = pd.DataFrame({"period": ["2026-03"], "client": ["Acme"], "agreement_id": ["11"],
                           "billed_amount": pd.array([total], dtype="Int64"),
                           "expected_amount": pd.array([expected], dtype="Int64")})
    carried = keyfacts.billed_adjustments(judged, made)
    assert carried.tolist() == [sign * sum(amounts)]
    assert total - (expected + int(carried.iloc[0])) == sign * extra
    short = judged.assign(billed_amount=pd.array([expected + sign * (sum(amounts) - 1)], dtype="Int64"))
    assert keyfacts.billed_adjustments(short, made).tolist() == [0]
    elsewhere = made.assign(agreement_id="12")
    assert keyfacts.billed_adjustments(judged, elsewhere).tolist() == [0]
    assert keyfacts.billed_adjustments(judged.assign(agreement_id=""), elsewhere).tolist() == [sign * sum(amounts)]


def _usage_rows(rows: list[tuple[str, str, float, str, str, str | None]]) -> pd.DataFrame:
    """Usage rows (row type, subscription, quantity, first day, last day, unused) of one client and sku."""
    frame = pd.DataFrame(rows, columns=["row_type", "subscription_id", "quantity", "period_start", "period_end",
                                        "unused"]).drop(columns="unused")
    usage = frame.assign(client="Acme", sku="EDR", vendor="Proofpoint", product_name="Essentials",
                         unit_cost=pd.array([34_600] * len(frame), dtype="Int64"),
                         period_start=pd.to_datetime(frame["period_start"]),
                         period_end=pd.to_datetime(frame["period_end"]),
                         subscription_id=frame["subscription_id"].astype("string"),
                         subscription_start=pd.NaT, subscription_end=pd.NaT,
                         cost_amount=pd.array([None] * len(frame), dtype="Int64"), source_file="usage.csv",
                         source_line=pd.array(range(2, len(frame) + 2), dtype="Int64"))
    [coded_usage] = coded(usage.assign(client=usage["client"].astype("string"), sku=usage["sku"].astype("string"),
                                       period="2026-02"))
    return coded_usage.drop(columns="period")


def _usage_qty(rows: list[tuple[str, str, float, str, str, str | None]], periods: list[str]) -> list[float]:
    facts, _ = keyfacts.usage_by_key(_usage_rows(rows), periods)
    return facts.sort_values("period")["usage_qty"].tolist()


def test_an_arrears_row_replaces_the_usage_rows_of_its_subscription_inside_its_span_only() -> None:
    lines = [("usage", "s1", 3.0, f"2026-02-{day:02d}", f"2026-02-{day:02d}", None) for day in range(1, 29)]
    march = [("usage", "s1", 4.0, f"2026-03-{day:02d}", f"2026-03-{day:02d}", None) for day in range(1, 32)]
    billed = ("arrears", "s1", 3.0, "2026-02-01", "2026-02-28", None)
    # March's lines still count (each day 4 x 1/31 to four places, as before)
    assert _usage_qty([*lines, billed, *march], ["2026-02", "2026-03"]) == [3.0, round(31 * round(4 / 31, 4), 4)]
    # another subscription's lines, a correction (negative) and an item without a subscription replace nothing
    other = [("usage", "s2", 1.0, f"2026-02-{day:02d}", f"2026-02-{day:02d}", None) for day in range(1, 29)]
    assert _usage_qty([*lines, billed, *other], ["2026-02"]) == [round(3.0 + 28 * round(1 / 28, 4), 4)]
    two = [("usage", "s2", 2.0, f"2026-02-{day:02d}", f"2026-02-{day:02d}", None) for day in range(1, 29)]
    assert _usage_qty([*two, ("arrears", "s2", -1.0, "2026-02-01", "2026-02-28", None)], ["2026-02"]) == [
        round(28 * round(2 / 28, 4) - 1.0, 4)]
    assert _usage_qty([*other, ("arrears", None, 2.0, "2026-02-01", "2026-02-28", None)], ["2026-02"]) == [
        round(28 * round(1 / 28, 4) + 2.0, 4)]
    # the billed total of a part month counts in full, never by days
    assert _usage_qty([("arrears", "s1", 2.0, "2026-02-15", "2026-02-28", None)], ["2026-02"]) == [2.0]
