"""The tie-aware quantile algorithm, the spread of few distinct values, and the other fits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import UserOpsWarning
from user_ops.rfm._binning import assign, fit_mean, fit_quantile, spread_scores


def test_half_the_customers_bought_once_still_gives_every_score() -> None:
    f = np.array([1.0] * 10 + [2, 2, 3, 3, 4, 5, 6, 8, 9, 12])
    cuts, scores = fit_quantile(f, 5, reverse=False, name="frequency")
    # Hand-computed: bin 1 = the tie group {1} (10 of 20); the other 10 split 2/3/2/3.
    assert cuts == (2.0, 3.0, 5.0, 8.0)
    assert scores == (1, 2, 3, 4, 5)
    got = assign(f, cuts, scores, reverse=False)
    assert np.bincount(got).tolist() == [0, 10, 2, 3, 2, 3]


def test_equal_sized_bins_without_ties() -> None:
    values = np.arange(1.0, 11.0)
    cuts, scores = fit_quantile(values, 5, reverse=False, name="monetary")
    assert cuts == (3.0, 5.0, 7.0, 9.0)
    assert np.bincount(assign(values, cuts, scores, reverse=False)).tolist() == [0, 2, 2, 2, 2, 2]


def test_recency_is_reversed_and_a_cut_belongs_to_the_recent_side() -> None:
    days = np.array([1.0, 2, 5, 9, 20, 40, 60, 100, 300, 500])
    cuts, scores = fit_quantile(days, 5, reverse=True, name="recency_days")
    assert cuts == (2.0, 9.0, 40.0, 100.0)
    assert scores == (5, 4, 3, 2, 1)
    assert assign(days, cuts, scores, reverse=True).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # Between fitted values a customer gets the worse score; on a cut-point the better one.
    assert assign(np.array([9.0, 10.0]), cuts, scores, reverse=True).tolist() == [4, 3]


def test_a_tie_group_is_never_split() -> None:
    values = np.array([1.0, 2, 2, 2, 2, 2, 2, 3, 4, 5])
    cuts, scores = fit_quantile(values, 3, reverse=False, name="x")
    got = assign(values, cuts, scores, reverse=False)
    assert len(set(got[values == 2].tolist())) == 1


def test_heavy_tie_at_the_top_keeps_the_scale() -> None:
    values = np.array([1.0, 2, 3, 4] + [5] * 16)
    cuts, scores = fit_quantile(values, 5, reverse=False, name="x")
    assert cuts == (2.0, 3.0, 4.0, 5.0)  # one bin per distinct value: the only way to keep 5 scores
    assert assign(np.array([5.0]), cuts, scores, reverse=False).tolist() == [5]


def test_fewer_distinct_values_than_bins_spread_over_the_whole_scale() -> None:
    values = np.array([1.0, 1, 1, 2, 2, 3])
    cuts, scores = fit_quantile(values, 5, reverse=False, name="frequency")
    assert cuts == (2.0, 3.0)
    assert scores == (1, 3, 5)
    assert spread_scores(4, 5) == (1, 2, 4, 5)
    assert spread_scores(2, 9) == (1, 9)


def test_single_value_warns_and_scores_the_middle() -> None:
    with pytest.warns(UserOpsWarning, match=r"'frequency' has a single value \(1\).*scores 3"):
        cuts, scores = fit_quantile(np.array([1.0, 1.0]), 5, reverse=False, name="frequency")
    assert (cuts, scores) == ((), (3,))
    with pytest.warns(UserOpsWarning, match="scores 2"):
        assert fit_quantile(np.array([4.0]), 4, reverse=True, name="recency_days") == ((), (2,))


def test_mean_split_ties_at_the_mean_are_high() -> None:
    assert fit_mean(np.array([1.0, 2.0, 3.0]), reverse=False, name="f") == ((2.0,), (1, 2))
    assert assign(np.array([2.0]), (2.0,), (1, 2), reverse=False).tolist() == [2]
    assert fit_mean(np.array([10.0, 30.0]), reverse=True, name="r") == ((20.0,), (2, 1))
    assert assign(np.array([20.0, 21.0]), (20.0,), (2, 1), reverse=True).tolist() == [2, 1]
    with pytest.warns(UserOpsWarning):
        fit_mean(np.array([3.0, 3.0]), reverse=False, name="f")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=200),
    st.integers(2, 9),
    st.booleans(),
)
def test_quantile_invariants(raw: list[int], bins: int, reverse: bool) -> None:
    values = np.array(raw, dtype=np.float64)
    distinct = len(set(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserOpsWarning)
        cuts, scores = fit_quantile(values, bins, reverse=reverse, name="x")
    got = assign(values, cuts, scores, reverse=reverse)
    # As many levels as possible, each used, top and bottom of the scale used.
    assert len(set(got.tolist())) == min(bins, distinct)
    if distinct > 1:
        assert {1, bins} <= set(got.tolist())
    # Cut-points are data values, and scores are monotone in the value.
    assert set(cuts) <= set(values.tolist())
    order = np.argsort(values, kind="stable")
    steps = np.diff(got[order])
    assert bool((steps <= 0).all()) if reverse else bool((steps >= 0).all())
