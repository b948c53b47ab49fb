"""The small-number rule (issue 9): no count of people below the threshold is shown, and
no hidden count can be worked out from what is shown."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from engage_common.disclosure import describe, group_shown, suppress


def test_small_counts_are_hidden_and_zeros_are_not() -> None:
    shown, total = suppress({"leeds": 40, "wakefield": 12, "calderdale": 0, "kirklees": 9})
    assert shown == {"leeds": 40, "wakefield": 12, "calderdale": 0, "kirklees": 9}
    assert total == 61
    assert describe(None) == "fewer than 5" and describe(7) == "7"


def test_one_hidden_count_takes_the_next_smallest_with_it() -> None:
    shown, total = suppress({"leeds": 40, "wakefield": 12, "calderdale": 3, "kirklees": 9})
    assert shown == {"leeds": 40, "wakefield": 12, "calderdale": None, "kirklees": None}
    assert total == 64  # 64 - 52 = 12 between two places: neither is given away


def test_two_hidden_counts_below_the_threshold_between_them_take_a_third() -> None:
    shown, total = suppress({"a": 1, "b": 1, "c": 30, "d": 6})
    assert shown == {"a": None, "b": None, "c": 30, "d": None}
    assert total == 38


def test_when_nothing_can_protect_them_the_total_is_hidden_too() -> None:
    assert suppress({"a": 3, "b": 0}) == ({"a": None, "b": 0}, None)
    assert suppress({"a": 2, "b": 1}) == ({"a": None, "b": None}, None)
    assert suppress({}) == ({}, 0)


def test_a_view_of_one_group_follows_its_breakdown() -> None:
    ages = {"16-24": 3, "25-34": 20, "35-44": 9, "45-54": 0}
    assert not group_shown(ages, "16-24")  # hidden itself
    assert not group_shown(ages, "35-44")  # hidden to protect 16-24
    assert group_shown(ages, "25-34")
    assert group_shown(ages, "45-54") and group_shown(ages, "85-plus")  # nobody: nothing shown


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcdefg"), st.integers(0, 40), max_size=7), st.integers(2, 10)
)
def test_no_hidden_count_can_be_worked_out(counts: dict[str, int], threshold: int) -> None:
    """Every way of filling the hidden cells that agrees with what is shown leaves each
    hidden cell with more than one possible value, or none below the threshold shown."""
    shown, total = suppress(counts, threshold)
    hidden_keys = [k for k, v in shown.items() if v is None]
    for key, value in shown.items():
        assert value is None or not 0 < value < threshold, (key, value)
    if not hidden_keys or total is None:
        return
    remaining = total - sum(v for v in shown.values() if v is not None)
    for key in hidden_keys:
        possible = {
            fill[hidden_keys.index(key)]
            for fill in itertools.product(range(1, remaining + 1), repeat=len(hidden_keys))
            if sum(fill) == remaining
        }
        assert len(possible) > 1, (counts, shown, key, possible)
