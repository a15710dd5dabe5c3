"""recon.effect: quantities in effect (PRODUCT.md 4a), by example and against a day-by-day oracle written
from the module's rules (a plain loop over days, independent of the vectorised sweep)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recon import effect
from recon.effect import ADDS, HOLDS, REFUNDS

NAT = np.iinfo(np.int64).min


def day(iso: str) -> int:
    return int(np.datetime64(iso, "D").astype(np.int64))


WINDOW = (day("2026-01-01"), day("2026-03-31"))


@dataclass(frozen=True)
class Row:
    series: int
    kind: int
    first: str
    last: str
    quantity: float
    life_first: str = ""
    life_last: str = ""


def held(rows: list[Row], window: tuple[int, int] = WINDOW, carry: bool = True) -> effect.Held:
    def days_of(values: list[str]) -> np.ndarray:
        return np.array([day(value) if value else NAT for value in values], dtype=np.int64)

    return effect.held_by_month(
        np.array([row.series for row in rows], dtype=np.int64), np.array([row.kind for row in rows], dtype=np.int8),
        days_of([row.first for row in rows]), days_of([row.last for row in rows]),
        np.array([row.quantity for row in rows], dtype=float), days_of([row.life_first for row in rows]),
        days_of([row.life_last for row in rows]), window, carry)


def monthly(result: effect.Held, column: str = "quantity_days") -> dict[tuple[int, str], float]:
    frame = result.held
    return {(int(series), str(month)[:7]): float(value)
            for series, month, value in zip(frame["series"], frame["month"], frame[column], strict=True)}


# ------------------------------------------------------------------------------------------- by example

def test_a_row_that_follows_replaces_the_one_before_from_its_first_day() -> None:
    """Autotask: 15 units, then a row with 17 from the 15th: 14 x 15 + 17 x 17, never 32 units."""
    result = held([Row(0, HOLDS, "2026-01-01", "2026-01-31", 15), Row(0, HOLDS, "2026-01-15", "2026-01-31", 17)])
    assert monthly(result)[0, "2026-01"] == 14 * 15 + 17 * 17
    assert list(result.effective_last) == [day("2026-01-14"), day("2026-01-31")]


def test_a_seat_changes_refund_is_absorbed_by_the_new_quantity() -> None:
    """NCE: the cycle charge of 10, then on 1/15 a refund of the 10 and a charge of 12 for the rest."""
    result = held([Row(0, HOLDS, "2026-01-01", "2026-01-31", 10), Row(0, REFUNDS, "2026-01-15", "2026-01-31", 10),
                   Row(0, HOLDS, "2026-01-15", "2026-01-31", 12)])
    assert monthly(result)[0, "2026-01"] == 14 * 10 + 17 * 12
    assert not result.unmatched.any()


def test_a_credit_nets_its_charge_and_a_credit_without_one_is_unmatched() -> None:
    result = held([Row(0, HOLDS, "2026-01-01", "2026-01-31", 5), Row(0, REFUNDS, "2026-01-21", "2026-01-31", 5),
                   Row(1, REFUNDS, "2026-01-01", "2026-01-31", 3)])
    assert monthly(result)[0, "2026-01"] == 20 * 5
    assert (1, "2026-01") not in monthly(result) or monthly(result)[1, "2026-01"] == 0
    assert list(result.unmatched) == [0.0, 0.0, 3.0]


def test_an_exact_refund_cancels_its_charge_one_for_one() -> None:
    result = held([Row(0, HOLDS, "2026-01-01", "2026-01-31", 4), Row(0, HOLDS, "2026-01-01", "2026-01-31", 4),
                   Row(0, REFUNDS, "2026-01-01", "2026-01-31", 4)])
    assert monthly(result)[0, "2026-01"] == 31 * 4  # one charge of two is refunded
    assert not result.unmatched.any()


def test_days_without_a_charge_inside_the_life_are_carried_from_the_nearest_charge() -> None:
    """Charges 1/1-1/10 (6) and 1/21-1/31 (8): the gap 1/11-1/20 is carried half from each side."""
    result = held([Row(0, HOLDS, "2026-01-01", "2026-01-10", 6), Row(0, HOLDS, "2026-01-21", "2026-01-31", 8)])
    assert monthly(result)[0, "2026-01"] == 15 * 6 + 16 * 8
    assert monthly(result, "carried_days")[0, "2026-01"] == 10
    assert monthly(held([Row(0, HOLDS, "2026-01-01", "2026-01-10", 6),
                         Row(0, HOLDS, "2026-01-21", "2026-01-31", 8)], carry=False), "carried_days")[0, "2026-01"] == 0


def test_a_known_life_carries_before_the_first_and_after_the_last_charge() -> None:
    result = held([Row(0, HOLDS, "2026-02-20", "2026-03-19", 10, "2025-03-20", "2027-03-19")])
    assert monthly(result)[0, "2026-02"] == 28 * 10 and monthly(result, "carried_days")[0, "2026-02"] == 19
    assert monthly(result, "carried_days")[0, "2026-03"] == 12


def test_the_quantity_on_a_months_last_day() -> None:
    result = held([Row(0, HOLDS, "2026-01-01", "2026-01-31", 10), Row(0, HOLDS, "2026-01-15", "2026-01-31", 12)])
    assert monthly(result, "last_day_quantity")[0, "2026-01"] == 12


def test_contract_lines_of_one_service_replace_one_another() -> None:
    last = effect.replaced_last(np.array([0, 0, 1]), np.array([day("2026-01-01"), day("2026-01-15"),
                                                                day("2026-01-01")]),
                                np.array([day("2026-12-31")] * 3), np.array([15.0, 17.0, 2.0]))
    assert list(last) == [day("2026-01-14"), day("2026-12-31"), day("2026-12-31")]


# ------------------------------------------------------------------------------------------- the oracle

def oracle(rows: list[Row], window: tuple[int, int]) -> tuple[dict[tuple[int, str], list[float]], list[float]]:
    """Per (series, month): [quantity-days, days with a quantity, carried days, last day's quantity], and
    the unmatched quantity per row, by walking the days."""
    unmatched = [0.0] * len(rows)
    out: dict[tuple[int, str], list[float]] = {}
    by_series: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_series[row.series].append(index)
    for series, indexes in by_series.items():
        ordered = sorted(indexes, key=lambda i: (day(rows[i].first), day(rows[i].last), rows[i].quantity))
        live = set(ordered)
        for refund in [i for i in ordered if rows[i].kind == REFUNDS]:
            match = next((i for i in ordered if i in live and rows[i].kind == HOLDS
                          and (rows[i].first, rows[i].last) == (rows[refund].first, rows[refund].last)
                          and round(rows[i].quantity, 6) == round(abs(rows[refund].quantity), 6)), None)
            if match is not None and refund in live:
                live -= {match, refund}
        holds = [i for i in ordered if i in live and rows[i].kind == HOLDS]
        effective = {i: day(rows[i].last) for i in ordered}
        for position, i in enumerate(holds[:-1]):
            effective[i] = min(day(rows[i].last), day(rows[holds[position + 1]].first) - 1)
        hold_starts = [day(rows[i].first) for i in holds]
        refunds = [i for i in ordered if i in live and rows[i].kind == REFUNDS]
        absorbed = [i for i in refunds if day(rows[i].first) in hold_starts]
        netted = [i for i in refunds if i not in absorbed]
        adds = [i for i in ordered if i in live and rows[i].kind == ADDS]
        for i in absorbed:
            j = hold_starts.index(day(rows[i].first))
            replaced = 0.0
            if j > 0:
                before = holds[j - 1]
                if (day(rows[before].first) < day(rows[i].first) and effective[before] >= day(rows[i].first) - 1
                        and effective[before] >= day(rows[before].first)):
                    replaced = rows[before].quantity
            unmatched[i] = max(abs(rows[i].quantity) - replaced, 0.0)
        value: dict[int, float] = defaultdict(float)
        covering: dict[int, int] = defaultdict(int)
        for i in holds:
            for d in range(day(rows[i].first), effective[i] + 1):
                value[d] += rows[i].quantity
                covering[d] += 1
        for i in adds:
            for d in range(day(rows[i].first), day(rows[i].last) + 1):
                value[d] += rows[i].quantity
                covering[d] += 1
        for i in netted:
            for d in range(day(rows[i].first), day(rows[i].last) + 1):
                value[d] -= abs(rows[i].quantity)
        swept = bool(netted or adds)
        for i in netted:
            span = range(day(rows[i].first), day(rows[i].last) + 1)
            unmatched[i] = max([max(-round(value[d], 6), 0.0) for d in span])
        charged = {d: (max(round(value[d], 6), 0.0) if swept else value[d]) for d in covering if covering[d] > 0}
        charges = [i for i in ordered if i in live and rows[i].kind != REFUNDS]
        quantity_on: dict[int, tuple[float, bool]] = {d: (q, False) for d, q in charged.items()}
        if charged and charges:
            lows = [min(day(rows[i].life_first), day(rows[i].first)) if rows[i].life_first else day(rows[i].first)
                    for i in charges]
            highs = [max(day(rows[i].life_last), day(rows[i].last)) if rows[i].life_last else day(rows[i].last)
                     for i in charges]
            covered = sorted(charged)
            for d in range(min(lows), max(highs) + 1):
                if d in charged:
                    continue
                before = [c for c in covered if c < d]
                after = [c for c in covered if c > d]
                if before and after:
                    gap_lo, gap_hi = before[-1] + 1, after[0] - 1
                    side = before[-1] if d <= gap_lo + (gap_hi - gap_lo) // 2 else after[0]
                else:
                    side = before[-1] if before else after[0]
                quantity_on[d] = (charged[side], True)
        for d, (quantity, carried) in quantity_on.items():
            if not window[0] <= d <= window[1]:
                continue
            date = np.datetime64(d, "D")
            month = str(date.astype("datetime64[M]"))
            figures = out.setdefault((series, month), [0.0, 0.0, 0.0, 0.0])
            figures[0] += quantity
            figures[1] += 1
            figures[2] += carried
            if (date + 1).astype("datetime64[M]") != date.astype("datetime64[M]"):
                figures[3] += quantity
    return out, unmatched


DATES = pd.date_range("2025-12-10", "2026-04-20").strftime("%Y-%m-%d").tolist()


@st.composite
def series_rows(draw: st.DrawFn) -> list[Row]:
    rows = []
    for series in range(draw(st.integers(1, 3))):
        life = draw(st.sampled_from([("", ""), ("2025-12-01", ""), ("", "2026-04-30"), ("2025-11-15", "2026-05-05")]))
        for _ in range(draw(st.integers(1, 5))):
            kind = draw(st.sampled_from([HOLDS, HOLDS, HOLDS, REFUNDS, ADDS]))
            first = draw(st.integers(0, len(DATES) - 1))
            last = draw(st.integers(first, min(first + 70, len(DATES) - 1)))
            quantity = float(draw(st.integers(-5, 5) if kind == ADDS else st.integers(0, 20)))
            rows.append(Row(series, kind, DATES[first], DATES[last], quantity, *life))
    # now and then a refund copying a charge (an exact refund) or starting with one (a seat change)
    refunded = [row for row in rows if row.kind == HOLDS and draw(st.booleans())]
    rows.extend(Row(row.series, REFUNDS, row.first, row.last, row.quantity, row.life_first, row.life_last)
                for row in refunded)
    return draw(st.permutations(rows))


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series_rows())
def test_held_by_month_agrees_with_the_day_by_day_oracle(rows: list[Row]) -> None:
    result = held(rows)
    expected, unmatched = oracle(rows, WINDOW)
    got = {key: [float(v) for v in values] for key, values in zip(
        zip(result.held["series"].astype(int), result.held["month"].astype(str).str[:7], strict=True),
        result.held[["quantity_days", "days", "carried_days", "last_day_quantity"]].to_numpy(), strict=True)}
    assert set(got) == set(expected)
    for key, values in expected.items():
        assert np.allclose(got[key], values), (key, got[key], values)
    assert np.allclose(result.unmatched, unmatched)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series_rows())
def test_the_order_of_the_rows_changes_nothing(rows: list[Row]) -> None:
    forward, backward = held(rows), held(rows[::-1])
    pd.testing.assert_frame_equal(forward.held, backward.held)
    assert np.allclose(forward.unmatched, backward.unmatched[::-1])
