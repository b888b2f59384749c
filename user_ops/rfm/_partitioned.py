"""Fit an ``RFMModel`` over partitioned data with exactly the cut-points of a single-machine fit.

The engine adapters (``user_ops.dask``, ``user_ops.spark``) give [`fit_partitioned`][] a
``Reducer``; the fit runs a few small passes over the partitions, each pass
serving all three dimensions, and only summaries travel to the driver.

Quantile (exact distributed order statistics)
    1. *Summary pass*: per dimension the count, minimum and maximum of the fitted customers (in
       goodness space, see ``_binning``) and the largest ``MAX_LEVELS`` distinct values with their
       counts (they answer the "leave one group for every later bin" rule of ``_group_ends``).
    2. *Histogram pass*: ``[min, max]`` cut into ``bins_per_pass`` equal-width bins; per bin the count,
       minimum and maximum. The bin of a value is a monotone function of the value, so a bin is the
       closed interval between its minimum and maximum, and a bin whose minimum equals its maximum
       is one tie group, however many customers it holds.
    3. *Gather pass*: the distinct values and counts inside the bins the greedy tie-aware algorithm
       of ``_group_ends`` needs (those holding its target ranks and their neighbours). A bin holding
       more than ``gather_limit`` values is refined by another histogram pass instead.
    The driver runs ``_group_ends``'s greedy choice in value space over this partly resolved
    distribution; when it reaches a bin not yet resolved, another pass resolves it. The result is the
    same cut-points as ``fit`` on the whole table, bit for bit (they are values of the data).

Mean
    ``fit`` divides numpy's pairwise sum of the column by the count, and a pairwise float sum depends
    on the order and blocking of the values. For integer-valued columns (days, order counts, and
    money in minor units held as floats) below 2**52 every partial sum is exact, so the partitions'
    sums add up to exactly numpy's sum: one number per partition travels. For other columns the
    values themselves are gathered (8 bytes per customer) in partition order, or sorted by
    ``order_by`` (e.g. the id column: the order ``customer_metrics`` returns), and the mean is taken
    by ``fit`` itself.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from user_ops._scale import Reducer
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError
from user_ops.rfm._binning import MAX_LEVELS, _warn_single_value, fit_mean, spread_scores
from user_ops.rfm._model import Dim, RFMModel

__all__ = ["fit_partitioned"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DIMS: tuple[str, ...] = ("recency", "frequency", "monetary")
_EXACT_SUM_LIMIT = float(2**52)
DEFAULT_GATHER_LIMIT = 100_000
DEFAULT_BINS_PER_PASS = 1024


def fit_partitioned(
    model: RFMModel,
    reduce: Reducer,
    *,
    gather_limit: int = DEFAULT_GATHER_LIMIT,
    bins_per_pass: int = DEFAULT_BINS_PER_PASS,
    order_by: str | None = None,
) -> RFMModel:
    """``model.fit(whole_table)`` computed over partitions: the same fitted model, bit for bit.

    Parameters
    ----------
    model:
        The model to fit (a thresholds model is only checked, as by ``fit``).
    reduce:
        Runs a task on every partition of the per-customer metrics and returns the results (see
        ``user_ops._scale.Reducer``); every customer in exactly one partition.
    gather_limit:
        Most values a bin may hold to have its distinct values gathered to the driver; a fuller bin
        is cut into a finer histogram first.
    bins_per_pass:
        Bins of each histogram pass.
    order_by:
        For ``method="mean"`` on columns that are not integer-valued only: the column whose order
        the single-machine table has (``fit`` sums in row order). ``None``: partition order.

    Returns
    -------
    RFMModel
        Equal (``==``, same ``content_hash``) to ``model.fit`` of the partitions joined in order (for
        quantile and integer-valued mean fits: joined in *any* order).

    Raises
    ------
    DataError
        As ``fit`` does (raised from the partition holding the bad value, so counts in the message
        are that partition's), or when no customer has a purchase.

    Examples
    --------
    >>> from user_ops._scale import in_memory_reducer, split_rows
    >>> from user_ops.datasets import synthetic_customers
    >>> customers = synthetic_customers(2_000)
    >>> model = RFMModel.quantile(bins=5)
    >>> parts = split_rows(customers, 7)
    >>> fit_partitioned(model, in_memory_reducer(parts), gather_limit=50) == model.fit(customers)
    True
    """
    if not isinstance(model, RFMModel):
        raise ConfigError(f"fit_partitioned() takes an RFMModel, got {type(model).__name__}")
    if not callable(reduce):
        raise ConfigError(f"reduce must be a reducer (a callable), got {type(reduce).__name__}")
    if gather_limit < 1 or bins_per_pass < 2:
        raise DataError(
            f"gather_limit must be >= 1 and bins_per_pass >= 2, got {gather_limit}, {bins_per_pass}"
        )
    summaries = reduce(functools.partial(_summarize, model))
    total = sum(s.count for s in summaries)
    if model.method == "thresholds":
        return model
    if total == 0:
        raise DataError("cannot fit an RFM model: no customer has a purchase (every recency is null)")
    update: dict[str, Any] = {"n_fitted_": total}
    if model.method == "mean":
        update.update(_fit_means(model, reduce, summaries, order_by))
    else:
        update.update(_fit_quantiles(model, reduce, summaries, gather_limit, bins_per_pass))
    return model.model_copy(update=update)


# -- partition side ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Summary:
    count: int
    low: dict[str, float]
    high: dict[str, float]
    top_values: dict[str, FloatArray]
    top_counts: dict[str, IntArray]
    integral: dict[str, bool]
    sums: dict[str, int]


def _goodness(model: RFMModel, part: Table, natural: bool = False) -> dict[str, FloatArray]:
    """Per dimension the fitted customers' values: goodness space (``-days`` for recency) or natural."""
    values = model._read(part)  # the same checks, and errors, as fit
    bought = ~values.never
    result = {}
    for dim in _DIMS:
        column = values.column(cast(Dim, dim))[bought]
        result[dim] = column if natural or dim != "recency" else -column
    return result


def _summarize(model: RFMModel, part: Table) -> _Summary:
    goodness = _goodness(model, part)
    count = len(goodness["recency"])
    low, high, top_values, top_counts, integral, sums = {}, {}, {}, {}, {}, {}
    for dim, g in goodness.items():
        if count == 0:
            continue
        low[dim], high[dim] = float(g.min()), float(g.max())
        distinct = np.unique(g)[-MAX_LEVELS:]  # the largest distinct values, not the largest values
        top_values[dim] = distinct
        top_counts[dim] = np.count_nonzero(g[:, None] == distinct[None, :], axis=0).astype(np.int64)
        natural = -g if dim == "recency" else g
        with np.errstate(over="ignore"):  # an infinite sum of huge values is just "not exact"
            magnitude = float(np.abs(natural).sum())
        exact = bool(np.all(natural == np.floor(natural))) and magnitude < _EXACT_SUM_LIMIT
        integral[dim] = exact
        sums[dim] = int(natural.sum()) if exact else 0
    return _Summary(count, low, high, top_values, top_counts, integral, sums)


@dataclass(frozen=True)
class _Request:
    """Resolve the values of ``dim`` in ``[low, high]``: a histogram of ``bins`` bins, or (bins 0) gather."""

    dim: str
    low: float
    high: float
    bins: int


def _bin_of(values: FloatArray, low: float, high: float, bins: int) -> IntArray:
    """Equal-width bin of each value in ``[low, high]``: monotone in the value (halves avoid overflow)."""
    width = high / 2 - low / 2
    position = np.floor((values / 2 - low / 2) / width * bins)
    result: IntArray = np.clip(position, 0, bins - 1).astype(np.int64)
    return result


def _resolve(model: RFMModel, requests: Sequence[_Request], part: Table) -> list[tuple[Any, ...]]:
    goodness = _goodness(model, part)
    answers: list[tuple[Any, ...]] = []
    for request in requests:
        g = goodness[request.dim]
        inside = np.sort(g[(g >= request.low) & (g <= request.high)])
        if request.bins == 0:
            distinct, counts = np.unique(inside, return_counts=True)
            answers.append((distinct, counts.astype(np.int64)))
            continue
        which = _bin_of(inside, request.low, request.high, request.bins)
        counts = np.bincount(which, minlength=request.bins).astype(np.int64)
        starts = np.searchsorted(which, np.arange(request.bins), side="left")
        ends = np.searchsorted(which, np.arange(request.bins), side="right")
        present = counts > 0
        lows = np.full(request.bins, np.inf)
        highs = np.full(request.bins, -np.inf)
        lows[present] = inside[starts[present]]
        highs[present] = inside[ends[present] - 1]
        answers.append((counts, lows, highs))
    return answers


def _gathered(model: RFMModel, order_by: str | None, dims: tuple[str, ...], part: Table) -> dict[str, Any]:
    natural = _goodness(model, part, natural=True)
    result: dict[str, Any] = {dim: natural[dim] for dim in dims}
    if order_by is not None:
        never = model._read(part).never
        result["__order__"] = np.asarray(part[order_by])[~never]
    return result


# -- driver side: mean ---------------------------------------------------------------------------
def _fit_means(
    model: RFMModel, reduce: Reducer, summaries: list[_Summary], order_by: str | None
) -> dict[str, Any]:
    used = [s for s in summaries if s.count]
    total = sum(s.count for s in used)
    exact = {dim for dim in _DIMS if all(s.integral[dim] for s in used)}
    exact = {d for d in exact if sum(abs(s.sums[d]) for s in used) < _EXACT_SUM_LIMIT}
    rest = tuple(d for d in _DIMS if d not in exact)
    gathered = reduce(functools.partial(_gathered, model, order_by, rest)) if rest else []
    update: dict[str, Any] = {}
    for dim in _DIMS:
        reverse = dim == "recency"
        name = model._column_name(cast(Dim, dim))
        if dim in exact:
            mean = float(sum(s.sums[dim] for s in used)) / total
            low = min(s.low[dim] for s in used)  # goodness space: recency's low is -max(days)
            high = max(s.high[dim] for s in used)
            if low == high:
                _warn_single_value(name, -low if reverse else low, 2)
            cuts: tuple[float, ...] = (mean,)
            scores: tuple[int, ...] = (2, 1) if reverse else (1, 2)
        else:
            values = np.concatenate([g[dim] for g in gathered])
            if order_by is not None:
                keys = np.concatenate([g["__order__"] for g in gathered])
                values = values[np.argsort(keys, kind="stable")]
            cuts, scores = fit_mean(values, reverse=reverse, name=name)
        update[f"{dim}_cuts_"], update[f"{dim}_scores_"] = cuts, scores
    return update


# -- driver side: quantile -----------------------------------------------------------------------
@dataclass
class _Segment:
    """A closed interval of goodness holding ``count`` values; resolved when its distinct values are known."""

    low: float
    high: float
    count: int
    distinct: FloatArray | None = None
    counts: IntArray | None = None

    def __post_init__(self) -> None:
        if self.distinct is None and self.low == self.high:  # one tie group, however large
            self.distinct = np.array([self.low])
            self.counts = np.array([self.count], dtype=np.int64)


class _NeedError(Exception):
    def __init__(self, dim: str, index: int) -> None:
        super().__init__(dim, index)
        self.dim, self.index = dim, index


class _Distribution:
    """One dimension's value distribution, resolved bin by bin as the greedy fit asks for it."""

    def __init__(self, dim: str, summaries: list[_Summary]) -> None:
        used = [s for s in summaries if s.count]
        self.dim = dim
        self.total = sum(s.count for s in used)
        low = min(s.low[dim] for s in used)
        high = max(s.high[dim] for s in used)
        self.segments = [_Segment(low, high, self.total)]
        merged, counts = _merge_counts([(s.top_values[dim], s.top_counts[dim]) for s in used])
        # Descending; every partition sent its top MAX_LEVELS, so the global top MAX_LEVELS are exact.
        self.top = merged[::-1][:MAX_LEVELS]
        self.top_counts = counts[::-1][:MAX_LEVELS]
        self._refresh()

    def _refresh(self) -> None:
        self.before = np.concatenate([[0], np.cumsum([s.count for s in self.segments])]).astype(np.int64)
        self.lows = [s.low for s in self.segments]

    def replace(self, index: int, parts: list[_Segment]) -> None:
        self.segments[index : index + 1] = parts
        self._refresh()

    def _resolved(self, index: int) -> tuple[FloatArray, IntArray]:
        segment = self.segments[index]
        if segment.distinct is None or segment.counts is None:
            raise _NeedError(self.dim, index)
        return segment.distinct, segment.counts

    def locate(self, target: float) -> tuple[tuple[float, int] | None, tuple[float, int]]:
        """The last tie group with cumulative count below ``target`` and the first reaching it."""
        after = self.before[1:]
        index = int(np.searchsorted(after, target, side="left"))
        distinct, counts = self._resolved(index)
        cumulative = self.before[index] + np.cumsum(counts)
        k = int(np.searchsorted(cumulative, target, side="left"))
        upper = (float(distinct[k]), int(cumulative[k]))
        if k > 0:
            return (float(distinct[k - 1]), int(cumulative[k - 1])), upper
        if index > 0:
            return (self.segments[index - 1].high, int(self.before[index])), upper
        return None, upper

    def next_distinct(self, value: float) -> float:
        """The smallest distinct value above ``value`` (a value of the data, not the maximum)."""
        top = self.top.tolist()
        if top and value >= top[-1]:
            return float(top[top.index(value) - 1])
        index = bisect.bisect_right(self.lows, value) - 1
        if value == self.segments[index].high:
            return self.segments[index + 1].low
        distinct, _ = self._resolved(index)
        return float(distinct[int(np.searchsorted(distinct, value, side="right"))])

    def wanted(self, bins: int) -> list[int]:
        """Segments holding the even-split target ranks: resolved up front to save passes."""
        ranks = [self.total * b / bins for b in range(1, bins)]
        after = self.before[1:]
        found = {int(np.searchsorted(after, r, side="left")) for r in ranks}
        return sorted(i for i in found if self.segments[i].distinct is None)


def _merge_counts(pairs: Sequence[tuple[FloatArray, IntArray]]) -> tuple[FloatArray, IntArray]:
    values = np.concatenate([v for v, _ in pairs]) if pairs else np.empty(0)
    weights = np.concatenate([c for _, c in pairs]) if pairs else np.empty(0, dtype=np.int64)
    distinct, inverse = np.unique(values, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(distinct))
    return distinct, np.rint(counts).astype(np.int64)


def _greedy_cuts(dist: _Distribution, bins: int) -> tuple[list[float], int]:
    """``_group_ends`` in value space, then the cut-points ``distinct[end + 1]``: goodness cuts, levels."""
    levels = min(bins, len(dist.top))
    total, top, top_counts = dist.total, dist.top.tolist(), dist.top_counts.tolist()
    done, previous = 0, None
    ends: list[float] = []
    for b in range(levels - 1):
        target = done + (total - done) / (levels - b)
        lower, upper = dist.locate(target)
        if lower is None or lower[0] == previous:  # at least one group past the previous end
            lower = upper
        keep = levels - b - 1  # groups to leave for the later bins: the bin may end at top[keep] at most
        high = (float(top[keep]), total - int(sum(top_counts[:keep])))
        upper = high if upper[0] > high[0] else upper
        lower = high if lower[0] > high[0] else lower
        end = lower if abs(float(lower[1]) - target) <= abs(float(upper[1]) - target) else upper
        ends.append(end[0])
        done, previous = end[1], end[0]
    return [dist.next_distinct(v) for v in ends], levels


def _fit_quantiles(
    model: RFMModel, reduce: Reducer, summaries: list[_Summary], gather_limit: int, bins_per_pass: int
) -> dict[str, Any]:
    bins = cast(int, model.bins)
    dists = {dim: _Distribution(dim, summaries) for dim in _DIMS}
    pending = {dim: dist.wanted(bins) for dim, dist in dists.items()}
    results: dict[str, tuple[list[float], int]] = {}
    while True:
        wanted = [(dim, i) for dim, indexes in pending.items() for i in indexes]
        if wanted:
            _resolve_pass(model, reduce, dists, wanted, gather_limit, bins_per_pass)
        pending = {dim: [] for dim in _DIMS}
        for dim in _DIMS:
            if dim in results:
                continue
            try:
                results[dim] = _greedy_cuts(dists[dim], bins)
            except _NeedError as need:  # resolve it, and the refined target bins, in the next pass
                pending[dim] = sorted({need.index, *dists[dim].wanted(bins)})
        if len(results) == len(_DIMS):
            break
    update: dict[str, Any] = {}
    for dim in _DIMS:
        cuts_g, levels = results[dim]
        scores = spread_scores(levels, bins)
        reverse = dim == "recency"
        if levels == 1:
            value = float(dists[dim].top[0])
            _warn_single_value(model._column_name(cast(Dim, dim)), -value if reverse else value, scores[0])
        if reverse:
            cuts, scores = tuple(-c for c in reversed(cuts_g)), tuple(reversed(scores))
        else:
            cuts = tuple(cuts_g)
        update[f"{dim}_cuts_"], update[f"{dim}_scores_"] = cuts, scores
    return update


def _resolve_pass(
    model: RFMModel,
    reduce: Reducer,
    dists: dict[str, _Distribution],
    wanted: list[tuple[str, int]],
    gather_limit: int,
    bins_per_pass: int,
) -> None:
    """One pass over the partitions resolving every wanted segment of every dimension."""
    requests = []
    for dim, index in wanted:
        segment = dists[dim].segments[index]
        width = segment.high / 2 - segment.low / 2
        splittable = bool(np.isfinite(width)) and width > 0
        bins = bins_per_pass if segment.count > gather_limit and splittable else 0
        requests.append(_Request(dim, segment.low, segment.high, bins))
    answers = reduce(functools.partial(_resolve, model, tuple(requests)))
    # Replace from the highest index down so that earlier indexes of the same dimension stay valid.
    order = sorted(range(len(requests)), key=lambda r: (requests[r].dim, -wanted[r][1]))
    for r in order:
        dim, index = wanted[r]
        request = requests[r]
        segment = dists[dim].segments[index]
        if request.bins == 0:
            distinct, counts = _merge_counts([cast(Any, a[r]) for a in answers])
            dists[dim].replace(index, [_Segment(segment.low, segment.high, segment.count, distinct, counts)])
            continue
        counts = np.sum([a[r][0] for a in answers], axis=0)
        lows = np.min([a[r][1] for a in answers], axis=0)
        highs = np.max([a[r][2] for a in answers], axis=0)
        parts = [_Segment(float(lows[b]), float(highs[b]), int(counts[b])) for b in np.flatnonzero(counts)]
        dists[dim].replace(index, parts)
