"""Engine-agnostic helpers for running ``user_ops`` over partitioned data (Dask, Spark, ...).

An engine adapter hands the core a [`Reducer`][]: a function that runs a task on every partition
(each partition given as a [`Table`][]) and returns the per-partition results, in
partition order, on the driver. The core never imports an engine; the adapters only move data.

Also here: splitting a Table into partitions (by row ranges or by a hash of a key, so that two
tables are co-partitioned), joining partitions back, and an in-memory reducer for tests and docs.

Examples
--------
>>> from user_ops._table import Table
>>> parts = split_rows(Table({"x": [1, 2, 3, 4, 5]}), 2)
>>> [len(p) for p in parts]
[3, 2]
>>> reduce = in_memory_reducer(parts)
>>> reduce(lambda part: int(part["x"].sum()))
[6, 9]
>>> concat_tables(parts)["x"].tolist()
[1, 2, 3, 4, 5]
"""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from user_ops._table import Table
from user_ops.exceptions import DataError

__all__ = [
    "PairReducer",
    "Reducer",
    "concat_tables",
    "exact_quantile",
    "hash_partition",
    "in_memory_pair_reducer",
    "in_memory_reducer",
    "order_statistics",
    "split_by_key",
    "split_rows",
    "take_rows",
]

T = TypeVar("T")
Array = npt.NDArray[Any]


class Reducer(Protocol):
    """Runs ``task`` on every partition and returns the results in partition order, on the driver.

    Any function ``def reduce(task: Callable[[Table], T]) -> list[T]`` is a Reducer. The task must
    be picklable for engines that run it in other processes (module-level functions and
    ``functools.partial`` of them are; lambdas are not).
    """

    def __call__(self, task: Callable[[Table], T], /) -> list[T]: ...


class PairReducer(Protocol):
    """Runs ``task(left, right)`` on every pair of co-partitioned partitions (``right`` may be None).

    For steps that read two tables partitioned by the same key, e.g. customers and their contact
    history, both split by customer id.
    """

    def __call__(self, task: Callable[[Table, Table | None], T], /) -> list[T]: ...


def in_memory_pair_reducer(left: Sequence[Table], right: Sequence[Table] | None = None) -> PairReducer:
    """A [`PairReducer`][] over co-partitioned partitions in memory (``right`` None: no right table).

    Examples
    --------
    >>> reduce = in_memory_pair_reducer([Table({"x": [1]})], [Table({"y": [1, 2]})])
    >>> reduce(lambda a, b: (len(a), len(b) if b is not None else 0))
    [(1, 2)]
    """
    lefts = list(left)
    rights: list[Table | None] = [None] * len(lefts) if right is None else list(right)
    if len(rights) != len(lefts):
        raise DataError(f"co-partitioned tables need as many partitions: {len(lefts)} and {len(rights)}")

    def reduce(task: Callable[[Table, Table | None], T], /) -> list[T]:
        return [task(a, b) for a, b in zip(lefts, rights)]

    return reduce


def in_memory_reducer(partitions: Sequence[Table]) -> Reducer:
    """A [`Reducer`][] over partitions already in memory (tests, docs, a single machine).

    Examples
    --------
    >>> reduce = in_memory_reducer([Table({"x": [1.0]}), Table({"x": [2.0, 3.0]})])
    >>> reduce(len)
    [1, 2]
    """
    frozen = list(partitions)

    def reduce(task: Callable[[Table], T], /) -> list[T]:
        return [task(part) for part in frozen]

    return reduce


def take_rows(table: Table, index: Array) -> Table:
    """The rows ``index`` (positions or a boolean mask) of ``table``, columns kept canonical.

    Examples
    --------
    >>> take_rows(Table({"a": [1, None, 3]}), np.array([0, 2]))["a"]
    array([1, 3])
    """
    return Table._trusted({name: _canonical(table[name][index]) for name in table.columns})


def concat_tables(tables: Sequence[Table]) -> Table:
    """The rows of ``tables`` one after the other (same column names, in the same order).

    Raises
    ------
    DataError
        When the tables have different columns or a column changes kind.

    Examples
    --------
    >>> concat_tables([Table({"a": [1]}), Table({"a": [None, 2]})])["a"].tolist()
    [1, None, 2]
    """
    if not tables:
        raise DataError("concat_tables needs at least one table")
    names = tables[0].columns
    for position, table in enumerate(tables):
        if table.columns != names:
            raise DataError(
                f"partition {position} has columns {list(table.columns)}, the first one {list(names)}"
            )
    columns: dict[str, Array] = {}
    for name in names:
        parts = [t[name] for t in tables if len(t)]
        if not parts:
            columns[name] = tables[0][name]
            continue
        kinds = {t.kind(name) for t in tables if len(t) and t.kind(name) != "null"}
        if len(kinds) > 1:
            raise DataError(f"column {name!r} has different kinds across partitions: {sorted(kinds)}")
        if any(isinstance(p, np.ma.MaskedArray) for p in parts):
            columns[name] = _canonical(np.ma.concatenate(parts))  # type: ignore[no-untyped-call]
        else:
            columns[name] = np.concatenate(parts)
    return Table._trusted(columns)


def split_rows(table: Table, partitions: int) -> list[Table]:
    """``table`` cut into ``partitions`` contiguous row ranges of near-equal size (some may be empty).

    Examples
    --------
    >>> [len(p) for p in split_rows(Table({"a": [1, 2, 3]}), 4)]
    [1, 1, 1, 0]
    """
    _check_partitions(partitions)
    bounds = [-(-len(table) * i // partitions) for i in range(partitions + 1)]  # ceil: first parts fuller
    return [take_rows(table, np.arange(a, b)) for a, b in itertools.pairwise(bounds)]


def hash_partition(keys: Array, partitions: int) -> npt.NDArray[np.int64]:
    """Partition number of every key: equal keys always land in the same partition.

    Integer keys use ``key mod partitions``; other keys a CRC-32 of their text, so two tables split
    with the same ``partitions`` are co-partitioned by key whatever their row order.

    Examples
    --------
    >>> hash_partition(np.array([0, 5, 7, -1]), 4).tolist()
    [0, 1, 3, 3]
    """
    _check_partitions(partitions)
    data = np.ma.getdata(keys)
    if data.dtype.kind in "iu":
        result: npt.NDArray[np.int64] = np.mod(data.astype(np.int64), partitions)
        return result
    codes = [zlib.crc32(str(k).encode()) % partitions for k in data.tolist()]
    return np.asarray(codes, dtype=np.int64).reshape(len(data))


def split_by_key(table: Table, column: str, partitions: int) -> list[Table]:
    """``table`` split into ``partitions`` by [`hash_partition`][] of ``column`` (row order kept).

    Examples
    --------
    >>> parts = split_by_key(Table({"id": [1, 2, 1, 4]}), "id", 2)
    >>> [p["id"].tolist() for p in parts]
    [[2, 4], [1, 1]]
    """
    where = hash_partition(table[column], partitions)
    return [take_rows(table, np.flatnonzero(where == p)) for p in range(partitions)]


def _check_partitions(partitions: int) -> None:
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise DataError(f"partitions must be a positive integer, got {partitions!r}")


def _canonical(column: Array) -> Array:
    """Table's canonical form: an int/bool column is masked only when it holds a null."""
    if isinstance(column, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(column)
        if not mask.any():
            plain: Array = np.ma.getdata(column).copy()
            return plain
        return np.ma.MaskedArray(np.ma.getdata(column).copy(), mask=mask.copy())
    return column


# -- exact order statistics over partitions ----------------------------------------------------------
FloatArray = npt.NDArray[np.float64]
ValuesOf = Callable[[Table], FloatArray]


def order_statistics(
    reduce: Reducer,
    values_of: ValuesOf,
    ranks: Sequence[int],
    *,
    gather_limit: int = 100_000,
    bins: int = 1024,
) -> tuple[int, list[float]]:
    """The count of values and the values at 0-based ``ranks`` of the sorted values, exactly.

    ``values_of(partition)`` gives a partition's values (finite floats or NaN, which are left out).
    Passes: count/min/max; then, per pass, a histogram of the interval still holding each rank (bin
    counts, minima and maxima), until that interval holds at most ``gather_limit`` values, which are
    then gathered and sorted. Every rank is served by the same passes.

    Examples
    --------
    >>> parts = [Table({"x": [5.0, 1.0]}), Table({"x": [3.0, float("nan"), 2.0]})]
    >>> order_statistics(in_memory_reducer(parts), _column_x, [0, 3], gather_limit=1, bins=2)
    (4, [1.0, 5.0])
    """
    firsts = reduce(functools.partial(_count_min_max, values_of))
    used = [f for f in firsts if f[0]]
    count = sum(f[0] for f in used)
    if any(not 0 <= r < count for r in ranks):
        raise DataError(f"ranks {list(ranks)} out of range for {count} values")
    if not ranks:
        return count, []
    low, high = min(f[1] for f in used), max(f[2] for f in used)
    # Per rank: the closed interval holding it, the values below the interval, the values inside.
    state = dict.fromkeys(ranks, (low, high, 0, count))
    found: dict[int, float] = {}
    while len(found) < len(state):
        open_ranks = [r for r in state if r not in found]
        requests = []
        for r in open_ranks:
            lo, hi, _, inside = state[r]
            width = hi / 2 - lo / 2
            split = inside > gather_limit and bool(np.isfinite(width)) and width > 0
            requests.append((lo, hi, bins if split else 0))
        answers = reduce(functools.partial(_histograms, values_of, tuple(requests)))
        for position, r in enumerate(open_ranks):
            lo, hi, below, _ = state[r]
            if requests[position][2] == 0:
                gathered = np.sort(np.concatenate([a[position][0] for a in answers]))
                found[r] = float(gathered[r - below])
                continue
            counts = np.sum([a[position][0] for a in answers], axis=0)
            lows = np.min([a[position][1] for a in answers], axis=0)
            highs = np.max([a[position][2] for a in answers], axis=0)
            cumulative = below + np.cumsum(counts)
            b = int(np.searchsorted(cumulative, r, side="right"))  # first bin whose end passes rank r
            start = int(cumulative[b] - counts[b])
            state[r] = (float(lows[b]), float(highs[b]), start, int(counts[b]))
            if lows[b] == highs[b]:
                found[r] = float(lows[b])
    return count, [found[r] for r in ranks]


def exact_quantile(
    reduce: Reducer, values_of: ValuesOf, q: float, *, gather_limit: int = 100_000, bins: int = 1024
) -> float | None:
    """``float(np.quantile(all_values, q))`` (linear method) over partitions, bit for bit; None if empty.

    The two order statistics around ``(n - 1) * q`` come from [`order_statistics`][]; the
    interpolation repeats numpy's own (``a + (b - a) * g``, or ``b - (b - a) * (1 - g)`` from
    ``g >= 0.5``).

    Examples
    --------
    >>> parts = [Table({"x": [5.0, 1.0]}), Table({"x": [3.0, 2.0, 8.0]})]
    >>> exact_quantile(in_memory_reducer(parts), _column_x, 0.9) == float(np.quantile([5, 1, 3, 2, 8], 0.9))
    True
    """
    count, _ = order_statistics(reduce, values_of, [])
    if count == 0:
        return None
    virtual = np.float64(count - 1) * np.float64(q)
    previous = min(int(np.floor(virtual)), count - 1)
    following = min(previous + 1, count - 1)
    _, (a_value, b_value) = order_statistics(
        reduce, values_of, [previous, following], gather_limit=gather_limit, bins=bins
    )
    if virtual >= count - 1:
        return b_value  # numpy takes the last value
    a, b = np.float64(a_value), np.float64(b_value)
    gamma = virtual - np.float64(previous)
    difference = b - a
    result = b - difference * (1 - gamma) if gamma >= 0.5 else a + difference * gamma
    return float(result)


def _column_x(table: Table) -> FloatArray:
    """The ``x`` column as floats (the docstring examples' ``values_of``)."""
    return np.asarray(table["x"], dtype=np.float64)


def _finite(values_of: ValuesOf, part: Table) -> FloatArray:
    values = np.asarray(values_of(part), dtype=np.float64)
    return values[~np.isnan(values)]


def _count_min_max(values_of: ValuesOf, part: Table) -> tuple[int, float, float]:
    values = _finite(values_of, part)
    if len(values) == 0:
        return 0, np.inf, -np.inf
    return len(values), float(values.min()), float(values.max())


def _histograms(
    values_of: ValuesOf, requests: tuple[tuple[float, float, int], ...], part: Table
) -> list[tuple[Any, ...]]:
    values = _finite(values_of, part)
    answers: list[tuple[Any, ...]] = []
    for low, high, bins in requests:
        inside = np.sort(values[(values >= low) & (values <= high)])
        if bins == 0:
            answers.append((inside,))
            continue
        # Equal-width bins, monotone in the value (halves keep the width finite).
        position = np.floor((inside / 2 - low / 2) / (high / 2 - low / 2) * bins)
        which = np.clip(position, 0, bins - 1).astype(np.int64)
        counts = np.bincount(which, minlength=bins).astype(np.int64)
        starts = np.searchsorted(which, np.arange(bins), side="left")
        present = counts > 0
        lows, highs = np.full(bins, np.inf), np.full(bins, -np.inf)
        lows[present] = inside[starts[present]]
        highs[present] = inside[starts[present] + counts[present] - 1]
        answers.append((counts, lows, highs))
    return answers
