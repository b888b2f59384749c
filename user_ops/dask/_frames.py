"""Moving data between Dask partitions (pandas) and the core's Tables; the Dask Reducer.

Dask is imported inside the functions only: importing ``user_ops.dask`` never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from user_ops._scale import Reducer
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError

__all__ = ["as_dask_frame", "dask_reducer", "empty_table", "map_tables", "to_pandas", "to_table"]

T = TypeVar("T")


def require_dask() -> Any:
    """The ``dask.dataframe`` module, or a ConfigError naming the extra to install."""
    try:
        import dask.dataframe as dd
    except ImportError as error:  # pragma: no cover - the test environment has dask
        raise ConfigError(
            "user_ops.dask needs Dask: pip install 'user_ops[dask]' (dask[dataframe,distributed])"
        ) from error
    return dd


def as_dask_frame(frame: Any, name: str) -> Any:
    """``frame`` if it is a Dask DataFrame; a DataError naming the argument otherwise."""
    dd = require_dask()
    if not isinstance(frame, dd.DataFrame):
        raise DataError(
            f"{name} must be a dask DataFrame, got {type(frame).__name__}; "
            "use dask.dataframe.from_pandas(df, npartitions=...) or the core user_ops functions"
        )
    return frame


def to_pandas(table: Table, index: Any = None) -> Any:
    """A pandas frame whose dtypes do not depend on the partition's data (the ``meta`` contract).

    Integer and bool columns are always nullable (``Int64``, ``boolean``): a partition without nulls
    and one with nulls must have the same dtypes.
    """
    frame = table.to_pandas()
    for name in table.columns:
        kind = table.kind(name)
        if kind == "int":
            frame[name] = frame[name].astype("Int64")
        elif kind == "bool":
            frame[name] = frame[name].astype("boolean")
    if index is not None:
        frame.index = index
    return frame


def table_of(frame: Any) -> Table:
    """A pandas partition as a Table (the index is ignored).

    Dask turns text columns into pyarrow-backed strings; they are read through ``object`` here
    because ``Table.from_frame`` fails on the chunked arrays they hold (see the scaling docs).
    """
    import pandas as pd

    strings = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    if strings:
        frame = frame.astype(dict.fromkeys(strings, object))
    return Table.from_frame(frame)


def empty_table(frame: Any) -> Table:
    """The empty Table of a Dask frame's ``meta``: the columns and kinds, no rows."""
    return table_of(frame._meta)


def _run(task: Callable[[Table], T], frame: Any) -> T:
    return task(table_of(frame))


def dask_reducer(frame: Any, columns: Sequence[str] | None = None) -> Reducer:
    """A ``Reducer`` over the partitions of a Dask DataFrame.

    Each task runs where the partition lives (with the scheduler in effect: synchronous, threads,
    processes or a ``distributed`` cluster) and only its result travels back.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd
    >>> frame = dd.from_pandas(pd.DataFrame({"x": [1, 2, 3]}), npartitions=2)
    >>> dask_reducer(frame)(len)
    [2, 1]
    """
    from dask.base import compute
    from dask.delayed import delayed

    selected = frame if columns is None else frame[list(columns)]
    parts = selected.to_delayed()

    def reduce(task: Callable[[Table], T], /) -> list[T]:
        results = [delayed(_run)(task, part) for part in parts]
        return list(compute(*results))  # type: ignore[no-untyped-call]

    return reduce


def _apply(frame: Any, kernel: Callable[..., Table], *args: Any) -> Any:
    return to_pandas(kernel(table_of(frame), *args), index=frame.index)


def map_tables(frame: Any, kernel: Callable[..., Table], *args: Any) -> Any:
    """``kernel(Table, *args) -> Table`` on every partition, row for row (no shuffle).

    ``meta`` comes from running the kernel on the frame's empty meta (real column kinds, no rows), so
    Dask never calls the kernel on made-up data; the output keeps each partition's index.
    """
    meta = to_pandas(kernel(empty_table(frame), *args))
    return frame.map_partitions(_apply, kernel, *args, meta=meta, align_dataframes=False)


def to_table(frame: Any, *, sort_by: str | None = None) -> Table:
    """Compute a Dask DataFrame into one [`Table`][] (optionally sorted by a column).

    ``customer_metrics`` on one machine returns customers sorted by id; a Dask result comes in
    partition order, so ``to_table(result, sort_by="customer_id")`` gives the same table.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd
    >>> frame = dd.from_pandas(pd.DataFrame({"id": [3, 1, 2]}), npartitions=2)
    >>> to_table(frame, sort_by="id")["id"].tolist()
    [1, 2, 3]
    """
    computed = frame.compute()
    if sort_by is not None:
        computed = computed.sort_values(sort_by, kind="stable")
    return table_of(computed.reset_index(drop=True))
