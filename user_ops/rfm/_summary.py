"""``segment_summary`` (who is in each segment, what they bring) and ``pareto`` (二八: how concentrated)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops._money import Currency, round_to_minor_unit, summary_currency
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, value_repr
from user_ops.rfm._segments import NEVER_BOUGHT, SegmentMap

__all__ = ["ParetoResult", "pareto", "segment_summary"]

FloatArray = npt.NDArray[np.float64]
_DEFAULT_SHARES = (0.01, 0.05, 0.1, 0.2, 0.5)


def segment_summary(
    scores: Any,
    metrics: Any = None,
    *,
    segment_map: SegmentMap | None = None,
    currency: str | Currency = "CNY",
) -> Table:
    """Per segment, in map order: size, revenue and profile, with the suggested action.

    Parameters
    ----------
    scores:
        The result of [`RFMModel.score`][] (or a table with its ``segment``, ``r``, ``f``, ``m``
        columns).
    metrics:
        The per-customer metrics that were scored, row for row (checked on the id column when both
        have it). Adds ``revenue``, ``revenue_share`` and the mean of each metric column.
    segment_map:
        The map (default: the scoring model's).
    currency:
        The currency of the monetary column (a code such as ``"USD"``, or a ``Currency``): ``revenue``
        and the mean of the monetary column are rounded to its minor unit (default ``"CNY"``, two
        decimals; ``"JPY"``: whole yen). Shares and other means are not money and keep every digit.

    Returns
    -------
    Table
        One row per segment of the map (empty segments included, count 0), then ``never_bought``
        when there are customers without a purchase: ``segment``, ``label_en``, ``label_zh``,
        ``count``, ``share`` (of all rows), [``revenue``, ``revenue_share``], ``mean_r``,
        ``mean_f``, ``mean_m``, [``mean_<column>`` for recency, frequency and monetary],
        ``action_en``, ``action_zh``. Means leave nulls out (NaN for an empty segment);
        ``revenue_share`` is NaN when total revenue is not positive.

    Examples
    --------
    >>> from user_ops.rfm import RFMModel
    >>> metrics = {"recency_days": [3, 100, None], "frequency": [5, 1, 0], "monetary": [900.0, 100.0, 0.0]}
    >>> model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500])
    >>> summary = segment_summary(model.score(metrics), metrics)
    >>> summary["segment"][[0, -1]].tolist(), summary["count"].tolist()
    (['important_value', 'never_bought'], [1, 0, 0, 0, 0, 0, 0, 1, 1])
    >>> float(summary["revenue_share"][0])
    0.9
    >>> more = {"recency_days": [3, 5, 100], "frequency": [5, 6, 1], "monetary": [0.1, 0.2, 10.0]}
    >>> [r for r in segment_summary(model.score(more), more)["revenue"].tolist() if r]  # not 0.300...04
    [0.3, 10.0]
    """
    money = summary_currency(currency)
    table = Table.coerce(scores)
    model = getattr(scores, "model", None)
    if segment_map is not None and not isinstance(segment_map, SegmentMap):
        raise ConfigError(f"segment_map must be a SegmentMap, got {type(segment_map).__name__}")
    if segment_map is None:
        if model is None:
            raise ConfigError(
                "segment_summary needs segment_map=... for scores that do not carry their model"
            )
        segment_map = model.segment_map
    n = len(table)
    if n == 0:
        raise DataError("segment_summary of an empty population")
    codes = list(segment_map.codes) + [NEVER_BOUGHT[0]]
    group = _group_index(table["segment"], codes)
    counts = np.bincount(group, minlength=len(codes))
    keep = counts > 0
    keep[: len(segment_map.segments)] = True  # every map segment, empty or not; never_bought if present
    columns: dict[str, Any] = {
        "segment": codes,
        "label_en": [s.label_en for s in segment_map.segments] + [NEVER_BOUGHT[1]],
        "label_zh": [s.label_zh for s in segment_map.segments] + [NEVER_BOUGHT[2]],
        "count": counts,
        "share": counts / n,
    }
    raw_means: dict[str, Any] = {}
    if metrics is not None:
        revenue, revenue_share, raw_means = _metric_columns(
            table, Table.coerce(metrics), group, len(codes), model
        )
        columns.update({"revenue": round_to_minor_unit(revenue, money), "revenue_share": revenue_share})
        monetary = f"mean_{getattr(model, 'monetary_column', 'monetary')}"
        if monetary in raw_means:
            raw_means[monetary] = round_to_minor_unit(raw_means[monetary], money)
    for letter in ("r", "f", "m"):
        columns[f"mean_{letter}"] = _group_mean(table, letter, group, len(codes))
    columns.update(raw_means)
    columns["action_en"] = [s.action_en for s in segment_map.segments] + [NEVER_BOUGHT[3]]
    columns["action_zh"] = [s.action_zh for s in segment_map.segments] + [NEVER_BOUGHT[4]]
    return Table({name: np.asarray(_as_column(values))[keep] for name, values in columns.items()})


def _as_column(values: Any) -> Any:
    if isinstance(values, list):
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return values


def _group_index(segments: Any, codes: list[str]) -> npt.NDArray[np.int64]:
    position = {code: index for index, code in enumerate(codes)}
    unique, inverse = np.unique(np.asarray(segments).astype(str), return_inverse=True)
    unknown = [str(u) for u in unique if str(u) not in position]
    if unknown:
        raise DataError(f"segments {unknown} are not in the segment map ({', '.join(codes)})")
    table = np.array([position[str(u)] for u in unique], dtype=np.int64)
    result: npt.NDArray[np.int64] = table[inverse.ravel()]
    return result


def _group_mean(table: Table, name: str, group: npt.NDArray[np.int64], size: int) -> FloatArray:
    """Mean of a numeric column per group, nulls left out; NaN for a group without values."""
    values = _numbers(table, name)
    nulls = table.null_mask(name)
    present = ~np.isnan(values) if nulls is None else ~nulls & ~np.isnan(values)
    sums = np.bincount(group[present], weights=values[present], minlength=size)
    _refuse_overflow(sums, f"column {name!r}")
    counts = np.bincount(group[present], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return result


def _numbers(table: Table, name: str) -> FloatArray:
    """A numeric column as float64 (nulls as NaN; DataError for another kind)."""
    kind = table.kind(name)
    if kind not in ("int", "float", "decimal", "null"):
        raise DataError(f"column {name!r} must hold numbers, got {kind}")
    column = table[name]
    if kind == "decimal":
        return np.array([np.nan if v is None else float(v) for v in column.tolist()], dtype=np.float64)
    values = np.array(np.ma.getdata(column), dtype=np.float64)
    nulls = table.null_mask(name)
    if nulls is not None:
        values[nulls] = np.nan
    return values


def _metric_columns(
    scores: Table, metrics: Table, group: npt.NDArray[np.int64], size: int, model: Any
) -> tuple[FloatArray, FloatArray, dict[str, FloatArray]]:
    if len(metrics) != len(scores):
        raise DataError(
            f"metrics have {len(metrics)} rows but the scores {len(scores)}: pass the scored table"
        )
    id_column = getattr(model, "id_column", "customer_id")
    aligned = id_column is None or id_column not in scores or id_column not in metrics
    if not aligned and scores[id_column].tolist() != metrics[id_column].tolist():
        raise DataError(f"metrics and scores are not in the same order ({id_column!r} differs)")
    names = [
        getattr(model, "recency_column", "recency_days"),
        getattr(model, "frequency_column", "frequency"),
        getattr(model, "monetary_column", "monetary"),
    ]
    monetary = _numbers(metrics, names[2])
    spent = np.where(np.isnan(monetary), 0.0, monetary)
    revenue = np.bincount(group, weights=spent, minlength=size).astype(np.float64)
    _refuse_overflow(revenue, f"column {names[2]!r}")
    total = _finite_sum(spent, f"column {names[2]!r}")
    share = revenue / total if total > 0 else np.full(size, np.nan)
    raw = {f"mean_{name}": _group_mean(metrics, name, group, size) for name in names if name in metrics}
    return revenue, share, raw


@dataclass(frozen=True)
class ParetoResult:
    """How concentrated revenue is (二八法则): the real share the top customers bring.

    Attributes
    ----------
    n:
        Customers counted.
    total:
        Sum of their values.
    top_share:
        Fraction of customers → share of the total the top fraction brings.
    top20_share:
        ``top_share[0.2]``: the real "20 %" of the 二八 rule.
    gini:
        Gini coefficient, 0 (everyone equal) .. (n-1)/n (one customer brings everything).
    curve_x, curve_y:
        The concentration curve: the top ``curve_x`` fraction of customers brings ``curve_y`` of
        the total (from (0, 0) to (1, 1), concave).

    Examples
    --------
    >>> result = pareto([50.0, 30.0, 10.0, 5.0, 5.0], shares=(0.2, 0.4), points=None)
    >>> print(result)
    5 customers, total 100.00; top 20%: 50.0%, top 40%: 80.0%; Gini 0.460
    >>> result.curve_x.tolist(), result.curve_y.tolist()
    ([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], [0.0, 0.5, 0.8, 0.9, 0.95, 1.0])
    """

    n: int
    total: float
    top_share: dict[float, float]
    top20_share: float
    gini: float
    curve_x: FloatArray = field(repr=False)
    curve_y: FloatArray = field(repr=False)

    def __str__(self) -> str:
        shares = ", ".join(f"top {x:.0%}: {y:.1%}" for x, y in self.top_share.items())
        return f"{self.n:,} customers, total {self.total:,.2f}; {shares}; Gini {self.gini:.3f}"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>top {x:.0%}</td><td>{y:.1%}</td></tr>" for x, y in self.top_share.items())
        points = " ".join(f"{x * 200:.1f},{200 - y * 200:.1f}" for x, y in zip(self.curve_x, self.curve_y))
        svg = (
            "<svg width='210' height='210' viewBox='-5 -5 210 210'>"
            "<rect x='0' y='0' width='200' height='200' fill='none' stroke='#ccc'/>"
            "<line x1='0' y1='200' x2='200' y2='0' stroke='#ccc' stroke-dasharray='4'/>"
            f"<polyline points='{points}' fill='none' stroke='#d62728' stroke-width='2'/></svg>"
        )
        return (
            f"<div class='user-ops-pareto'><p><b>{html.escape(str(self.n))} customers</b>, Gini "
            f"{self.gini:.3f}; the top 20 % bring {self.top20_share:.1%} (二八)</p>"
            f"<table><thead><tr><th>customers</th><th>share of total</th></tr></thead><tbody>{rows}"
            f"</tbody></table>{svg}</div>"
        )


def pareto(
    values: Any,
    *,
    shares: Sequence[float] = _DEFAULT_SHARES,
    points: int | None = 101,
    clip_negative: bool = False,
) -> ParetoResult:
    """Revenue concentration: top-x % shares, the real 二八 share, Gini and the concentration curve.

    Sort the values from largest to smallest; the concentration curve joins ``(k/n, S_k/S)`` for
    ``k = 0..n`` (``S_k`` the sum of the ``k`` largest, ``S`` the total) with straight lines.
    ``top_share[x]`` reads the curve at ``x``: exactly the top ``x·n`` customers' share when ``x·n``
    is whole, with the boundary customer counted fractionally otherwise. The Gini coefficient is
    ``G = Σ_i Σ_j |x_i - x_j| / (2 n² μ)`` — twice the area between the curve and the diagonal — so 0
    when everyone is equal and ``(n-1)/n`` when one customer brings everything.

    Parameters
    ----------
    values:
        Per-customer values (spend), any 1-D array-like or a numeric Table column.
    shares:
        Fractions of customers (0 < x <= 1) to report; 0.2 is always included.
    points:
        Evenly spaced points of the returned curve (``None``: every customer, ``n + 1`` points).
    clip_negative:
        Count negative values (net refunds) as 0 instead of raising ``DataError``.

    Raises
    ------
    DataError
        For an empty input, NaN, infinite or (without ``clip_negative``) negative values, or a total
        that is not positive.

    Examples
    --------
    >>> result = pareto([10.0] * 5)
    >>> result.gini, result.top20_share
    (0.0, 0.2)
    >>> result = pareto([0.0, 0.0, 0.0, 0.0, 100.0], shares=(0.2, 0.4))
    >>> result.top_share, round(result.gini, 3)
    ({0.2: 1.0, 0.4: 1.0}, 0.8)
    """
    if not isinstance(clip_negative, (bool, np.bool_)):
        raise ConfigError(f"clip_negative must be True or False, got {value_repr(clip_negative)}")
    data = _pareto_values(values, clip_negative)
    fractions = _fractions(shares)
    _check_points(points)
    n = len(data)
    ordered = np.sort(data)[::-1]
    total = _finite_sum(ordered, "pareto values")
    if not total > 0:
        raise DataError(f"pareto needs a positive total, got {total:g} (refunds exceed sales?)")
    cumulative = np.concatenate(([0.0], np.cumsum(ordered) / total))
    cumulative[-1] = 1.0  # the last point is the whole, whatever the float rounding
    grid = np.arange(n + 1, dtype=np.float64) / n
    top = {x: float(np.interp(x, grid, cumulative)) for x in fractions}
    ascending = ordered[::-1]
    ranks = np.arange(1, n + 1, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        gini = float(2.0 * np.dot(ranks, ascending) / (n * total) - (n + 1) / n)
    if not np.isfinite(gini):  # values near float64's limit overflow the sums: weigh shares instead
        gini = float(2.0 * np.dot(ranks, ascending / total) / n - (n + 1) / n)
    gini = min(max(gini, 0.0), 1.0)  # rounding only: the formula is within [0, (n-1)/n]
    if points is None:
        curve_x, curve_y = grid, cumulative
    else:
        curve_x = np.linspace(0.0, 1.0, points)
        curve_y = np.interp(curve_x, grid, cumulative)
    return ParetoResult(n, total, top, top[0.2], gini, curve_x, curve_y)


def _finite_sum(values: FloatArray, what: str) -> float:
    with np.errstate(over="ignore"):
        total = float(values.sum())
    _refuse_overflow(np.array([total]), what)
    return total


def _refuse_overflow(sums: npt.NDArray[Any], what: str) -> None:
    """A sum of finite values that is infinite went past float64's range: no answer, not ``inf``."""
    if np.isinf(sums).any():
        raise DataError(f"{what}: the values sum beyond the float range (about ±1.8e308); check their unit")


def _pareto_values(values: Any, clip_negative: bool) -> FloatArray:
    if isinstance(values, Table):
        raise DataError("pareto takes one column of values, e.g. pareto(metrics['monetary'])")
    raw = (
        np.ma.filled(np.ma.asarray(values, dtype=np.float64), np.nan) if np.ma.isMaskedArray(values) else None
    )
    try:
        data = raw if raw is not None else np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"pareto needs numbers: {exc}") from None
    if data.ndim != 1:
        raise DataError(f"pareto needs a 1-D sequence of values, got shape {data.shape}")
    if len(data) == 0:
        raise DataError("pareto of an empty population")
    if np.isnan(data).any():
        raise DataError(f"pareto values contain {int(np.isnan(data).sum())} null/NaN value(s)")
    if np.isinf(data).any():
        raise DataError("pareto values contain infinite values")
    negative = int(np.count_nonzero(data < 0))
    if negative and not clip_negative:
        raise DataError(
            f"{negative} negative value(s) (net refunds): concentration is defined on non-negative values; "
            "pass clip_negative=True to count them as 0"
        )
    result: FloatArray = np.maximum(data, 0.0) if negative else data
    return result


def _check_points(points: Any) -> None:
    if points is None:
        return
    if isinstance(points, (bool, np.bool_)) or not isinstance(points, (int, np.integer)):
        raise ConfigError(f"points must be an int (or None), got {value_repr(points)}")
    if not 2 <= points <= _MAX_POINTS:
        raise ConfigError(f"points must be from 2 to {_MAX_POINTS:,} (or None), got {points}")


_MAX_POINTS = 10_000_000


def _fractions(shares: Sequence[float]) -> tuple[float, ...]:
    if isinstance(shares, (str, bytes, Mapping)) or not isinstance(shares, Iterable):
        raise ConfigError(f"shares must be a list of fractions of customers, got {value_repr(shares)}")
    given = list(shares)
    for x in given:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise ConfigError(f"shares must be numbers in (0, 1], got {value_repr(x)}")
    bad = [x for x in given if not 0 < x <= 1]  # NaN is not in (0, 1] either
    if bad:
        raise ConfigError(f"shares must be fractions of customers in (0, 1], got {bad}")
    return tuple(sorted({float(x) for x in given} | {0.2}))
