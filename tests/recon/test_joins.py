"""Joining and grouping on key codes gives what pandas' merges and groupbys on the text keys give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon import joins
from recon import keys as keyfacts

CLIENTS = ("Acme", "Beta", "Zed", "Äpfel GmbH")
SKUS = ("M365-BP", "EDR", "LABOR")
PERIODS = ("2025-12", "2026-01", "2026-02")

key_rows = st.lists(st.tuples(st.sampled_from(PERIODS), st.sampled_from(CLIENTS), st.sampled_from(SKUS)),
                    unique=True, max_size=12)


def facts(rows: list[tuple[str, str, str]], name: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=keyfacts.KEY, dtype="string")
    return frame.assign(**{name: pd.array(range(len(frame)), dtype="Int64"),
                           f"{name}_qty": [float(number) / 3 for number in range(len(frame))]})


def coded(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    clients = pd.CategoricalDtype(pd.Index(sorted(CLIENTS), dtype="string"))
    skus = pd.CategoricalDtype(pd.Index(sorted(SKUS), dtype="string"))
    return [frame.assign(period=frame["period"].astype(keyfacts.PERIODS), client=frame["client"].astype(clients),
                         sku=frame["sku"].astype(skus)) for frame in frames]


@given(key_rows, key_rows, key_rows)
def test_outer_join_is_a_chain_of_outer_merges_in_key_order(first: list, second: list, third: list) -> None:
    frames = [facts(first, "a"), facts(second, "b"), facts(third, "c")]
    expected = frames[0].merge(frames[1], on=keyfacts.KEY, how="outer").merge(frames[2], on=keyfacts.KEY,
                                                                               how="outer")
    expected = expected.sort_values(keyfacts.KEY).reset_index(drop=True)
    joined = keyfacts.decoded(joins.outer_join(coded(*frames), keyfacts.KEY))
    pd.testing.assert_frame_equal(joined, expected)


def test_outer_join_refuses_a_column_two_frames_both_have() -> None:
    rows = [("2026-01", "Acme", "EDR")]
    with pytest.raises(ValueError, match="'a' is in more than one frame"):
        joins.outer_join(coded(facts(rows, "a"), facts(rows, "a")), keyfacts.KEY)


@given(key_rows, key_rows)
def test_left_lookup_is_a_left_merge_in_place(left: list, right: list) -> None:
    frame, table = facts(left, "a"), facts(right, "b")
    expected = frame.merge(table, on=keyfacts.KEY, how="left")[["b", "b_qty"]]
    looked_up = joins.left_lookup(*coded(frame, table), keyfacts.KEY)
    pd.testing.assert_frame_equal(looked_up, expected)
    assert list(joins.has_key(*coded(frame, table), keyfacts.KEY)) == expected["b"].notna().tolist()


@given(st.lists(st.tuples(st.sampled_from(PERIODS), st.sampled_from(CLIENTS), st.sampled_from(SKUS)),
                max_size=30))
def test_per_key_is_a_groupby_on_the_keys(rows: list) -> None:
    frame = facts(rows, "a")
    expected = frame.groupby(keyfacts.KEY, sort=True).agg(total=("a_qty", "sum"), first=("a", "first"),
                                                          lines=("a", "size")).reset_index()
    grouped = keyfacts.decoded(joins.per_key(coded(frame)[0], keyfacts.KEY, total=("a_qty", "sum"),
                                                first=("a", "first"), lines=("a", "size")))
    grouped = grouped.sort_values(keyfacts.KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(grouped, expected)


@given(key_rows, key_rows)
def test_text_lookup_is_a_left_merge_on_text_keys(left: list, right: list) -> None:
    frame, table = facts(left, "a"), facts(right, "b")
    expected = frame.merge(table, on=keyfacts.KEY, how="left")[["b", "b_qty"]]
    pd.testing.assert_frame_equal(joins.text_lookup(frame, table, keyfacts.KEY), expected)


codes = st.lists(st.one_of(st.integers(0, 40), st.integers(0, 10**12)), max_size=30)


@given(codes)
def test_distinct_codes_is_numpys_unique_narrow_or_wide(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    union, position = joins.distinct_codes(array)
    expected_union, expected_position = np.unique(array, return_inverse=True)
    assert union.tolist() == expected_union.tolist() and position.tolist() == expected_position.tolist()


@given(st.lists(st.one_of(st.integers(-1, 40), st.integers(0, 10**12)), unique=True, max_size=20), codes)
def test_code_rows_finds_each_code_in_the_table(table: list[int], wanted: list[int]) -> None:
    rows = joins.code_rows(np.array(table, dtype=np.int64), np.array(wanted, dtype=np.int64))
    expected = [table.index(code) if code in table and code >= 0 else -1 for code in wanted]
    assert rows.tolist() == expected
