"""Cut-points and scores of one RFM dimension: fitting (quantile, mean) and assigning (batch, scalar).

A fitted dimension is two tuples: ``cuts`` (strictly increasing, in the metric's own units) and
``scores`` (one per interval, ``len(cuts) + 1``). A value's interval is the number of cut-points it
*reaches* — for frequency and monetary a value reaches a cut-point when it is ``>=`` it, for recency
(days, fewer is better) when it is ``<=`` it — so a value equal to a cut-point always gets the better
of the two scores. Scores rise with frequency and monetary and fall with recency days.

Fitting works in *goodness* space (``g = value`` for F and M, ``g = -days`` for R) so one algorithm
serves all three dimensions; the result is converted back to natural units before it is stored.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops.exceptions import UserOpsWarning

__all__ = [
    "MAX_LEVELS",
    "assign",
    "assign_one",
    "check_dimension",
    "fit_mean",
    "fit_quantile",
    "spread_scores",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_LEVELS = 9
"""Scores are single digits so that an RFM code such as ``"545"`` is three characters."""


def fit_quantile(
    values: FloatArray, bins: int, *, reverse: bool, name: str
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Tie-aware quantile cut-points: every tie group stays in one bin, the rest still split evenly.

    Parameters
    ----------
    values:
        Finite values of the fitted population (no nulls), any order.
    bins:
        Number of scores wanted (2 .. 9).
    reverse:
        True for recency (fewer days is better).
    name:
        Column name for the warning.

    Returns
    -------
    cuts, scores
        In natural units, as stored on the model.

    Examples
    --------
    Half the customers bought once; the other half still spread over scores 2..5:

    >>> f = np.array([1.0] * 10 + [2, 2, 3, 3, 4, 5, 6, 8, 9, 12])
    >>> fit_quantile(f, 5, reverse=False, name="frequency")
    ((2.0, 3.0, 5.0, 8.0), (1, 2, 3, 4, 5))
    >>> fit_quantile(np.array([3.0, 10.0, 40.0, 200.0]), 2, reverse=True, name="recency_days")
    ((10.0,), (2, 1))
    """
    goodness = -values if reverse else values
    distinct, counts = np.unique(goodness, return_counts=True)
    levels = min(bins, len(distinct))
    ends = _group_ends(np.cumsum(counts), levels)
    # ends[b] is the index of the last tie group of bin b; the next bin starts at the next group.
    cuts_g = [float(distinct[end + 1]) for end in ends[:-1]]
    scores = spread_scores(levels, bins)
    if levels == 1:
        _warn_single_value(name, float(values[0]), scores[0])
    if reverse:  # back to days: cut -g, intervals in ascending days, scores falling
        return tuple(-c for c in reversed(cuts_g)), tuple(reversed(scores))
    return tuple(cuts_g), scores


def _group_ends(cumulative: IntArray, levels: int) -> list[int]:
    """Last tie-group index of each of ``levels`` bins, chosen greedily from the low end.

    Bin ``b`` aims at an equal share of the customers *not yet binned*: its end is the tie-group
    boundary nearest to ``start + remaining / bins_left`` (the lower one on a tie), kept at least
    one group past the previous end and leaving one group for every later bin. So a tie group
    holding half the population fills one bin, and the other half still splits over the rest.
    """
    total = int(cumulative[-1])
    groups = len(cumulative)
    ends: list[int] = []
    done, previous = 0, -1
    for b in range(levels - 1):
        target = done + (total - done) / (levels - b)
        upper = int(np.searchsorted(cumulative, target, side="left"))  # first group reaching target
        lower = upper - 1
        low_bound, high_bound = previous + 1, groups - (levels - b)
        upper = min(max(upper, low_bound), high_bound)
        lower = min(max(lower, low_bound), high_bound)
        end = lower if abs(cumulative[lower] - target) <= abs(cumulative[upper] - target) else upper
        ends.append(end)
        done, previous = int(cumulative[end]), end
    ends.append(groups - 1)
    return ends


def spread_scores(levels: int, bins: int) -> tuple[int, ...]:
    """Scores of ``levels`` ordered groups on the scale 1..bins, lowest 1 and highest ``bins``.

    With fewer distinct values than bins the groups are spread evenly (rounding half up), so the top
    group still scores ``bins``; a single group scores the middle, ``(bins + 1) // 2``.

    Examples
    --------
    >>> spread_scores(5, 5), spread_scores(3, 5), spread_scores(2, 5), spread_scores(1, 5)
    ((1, 2, 3, 4, 5), (1, 3, 5), (1, 5), (3,))
    """
    if levels == 1:
        return ((bins + 1) // 2,)
    step = (bins - 1) / (levels - 1)
    return tuple(1 + math.floor(i * step + 0.5) for i in range(levels))


def fit_mean(values: FloatArray, *, reverse: bool, name: str) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """High (2) / low (1) against the population mean; a value equal to the mean is high.

    Examples
    --------
    >>> fit_mean(np.array([1.0, 1.0, 4.0]), reverse=False, name="frequency")
    ((2.0,), (1, 2))
    """
    mean = _mean(values)
    if float(np.min(values)) == float(np.max(values)):
        _warn_single_value(name, float(values[0]), 2)
    return (mean,), ((2, 1) if reverse else (1, 2))


def _mean(values: FloatArray) -> float:
    """numpy's mean; when the sum passes float64's range (values near 1e308), the mean of the values
    divided by their count first, which is finite and within the values' range like the true mean."""
    with np.errstate(over="ignore"):
        mean = float(np.mean(values))
    if np.isfinite(mean):
        return mean
    scaled = float(np.sum(values / len(values)))
    return min(max(scaled, float(np.min(values))), float(np.max(values)))


def _warn_single_value(name: str, value: float, score: int) -> None:
    warnings.warn(
        f"column {name!r} has a single value ({value:g}) in the fitted population: it tells customers "
        f"apart in no way, and every one of them scores {score} on it",
        UserOpsWarning,
        stacklevel=5,
    )


def assign(
    values: FloatArray, cuts: tuple[float, ...], scores: tuple[int, ...], *, reverse: bool
) -> IntArray:
    """Scores of many values (vectorized); nulls are the caller's business.

    Examples
    --------
    >>> assign(np.array([0.0, 7, 8, 200]), (7.0, 30.0), (3, 2, 1), reverse=True)
    array([3, 3, 2, 1])
    """
    table = np.asarray(scores, dtype=np.int64)
    index = np.searchsorted(np.asarray(cuts, dtype=np.float64), values, side="left" if reverse else "right")
    result: IntArray = table[index]
    return result


def assign_one(value: float, cuts: tuple[float, ...], scores: tuple[int, ...], *, reverse: bool) -> int:
    """Score of one value: exactly [`assign`][] for one element.

    Examples
    --------
    >>> assign_one(7, (7.0, 30.0), (3, 2, 1), reverse=True), assign_one(2, (2.0,), (1, 2), reverse=False)
    (3, 2)
    """
    index = bisect.bisect_left(cuts, value) if reverse else bisect.bisect_right(cuts, value)
    return scores[index]


def check_dimension(cuts: Any, scores: Any, *, reverse: bool, name: str) -> None:
    """Raise ``ValueError`` unless ``cuts``/``scores`` are a consistent fitted dimension."""
    if any(not math.isfinite(c) for c in cuts):
        raise ValueError(f"{name} cut-points must be finite numbers, got {list(cuts)}")
    if any(b <= a for a, b in itertools.pairwise(cuts)):
        raise ValueError(f"{name} cut-points must be strictly increasing, got {list(cuts)}")
    if len(scores) != len(cuts) + 1:
        raise ValueError(f"{name} needs one score per interval ({len(cuts) + 1}), got {len(scores)} scores")
    if any(not 1 <= s <= MAX_LEVELS for s in scores):
        raise ValueError(f"{name} scores must be between 1 and {MAX_LEVELS}, got {list(scores)}")
    steps = [b - a for a, b in itertools.pairwise(scores)]
    if any((s >= 0) if reverse else (s <= 0) for s in steps):
        direction = "fall" if reverse else "rise"
        raise ValueError(
            f"{name} scores must strictly {direction} from interval to interval, got {list(scores)}"
        )
