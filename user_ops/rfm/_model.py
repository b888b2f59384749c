"""``RFMModel``: quantile, thresholds or mean scoring of recency, frequency and monetary value."""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from user_ops._money import Currency
from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, NotFittedError, missing_field_error, value_repr
from user_ops.rfm._binning import MAX_LEVELS, assign, assign_one, check_dimension, fit_mean, fit_quantile
from user_ops.rfm._segments import CODE_TEXT, NEVER_BOUGHT, SegmentMap

__all__ = ["RFMModel", "RFMScore", "RFMScores"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Method = Literal["quantile", "thresholds", "mean"]
Dim = Literal["recency", "frequency", "monetary"]
_DIMS: tuple[Dim, ...] = ("recency", "frequency", "monetary")
_LETTER = {"recency": "r", "frequency": "f", "monetary": "m"}
_DEFAULT_BINS = 5


class RFMModel(PolicyModel):
    """RFM scoring (R 最近一次消费, F 消费频率, M 消费金额) with a segment map.

    Frozen: [`fit`][] returns a *new*, fitted model (``model = model.fit(metrics)``). Scores come
    from the fitted cut-points only, so [`score_one`][] in a backend gives exactly what
    [`score`][] gave in a notebook, and a fitted model round-trips through JSON.

    Parameters
    ----------
    method:
        ``"quantile"`` (tie-aware bins of equal size, fitted), ``"thresholds"`` (business
        cut-points, fitted on construction) or ``"mean"`` (high/low against the population mean,
        fitted).
    bins:
        Number of scores for ``"quantile"`` (2..9, default 5); only for that method.
    recency_column, frequency_column, monetary_column:
        Column (record key) names of days since the last purchase, number of purchases and spend.
    id_column:
        Column copied into score tables when present (``None``: never).
    segments:
        The segment map (default: [`SegmentMap.classic`][] for 5-level R and F,
        [`SegmentMap.cn8`][] otherwise, e.g. for ``"mean"``). Stored whole, so a stored model keeps
        scoring the same even if a later version changes a built-in map.
    recency_cuts_, frequency_cuts_, monetary_cuts_:
        Fitted cut-points, strictly increasing, in the column's units.
    recency_scores_, frequency_scores_, monetary_scores_:
        Fitted score of each interval between cut-points (falling for recency, rising otherwise).
    n_fitted_:
        Customers with a purchase the model was fitted on (``None`` for thresholds).

    Examples
    --------
    >>> model = RFMModel.thresholds(recency=[7, 30, 90, 180], frequency=[2, 3, 5, 10],
    ...                             monetary=[100, 300, 1000, 3000])
    >>> model.score_one({"recency_days": 3, "frequency": 6, "monetary": 250.0}).rfm_code
    '542'
    >>> model.score({"recency_days": [3, 200, None], "frequency": [6, 1, 0],
    ...              "monetary": [250.0, 20.0, 0.0]})["segment"].tolist()
    ['champions', 'lost', 'never_bought']
    """

    method: Method = "quantile"
    bins: int | None = Field(default=None, ge=2, le=MAX_LEVELS)
    recency_column: str = "recency_days"
    frequency_column: str = "frequency"
    monetary_column: str = "monetary"
    id_column: str | None = "customer_id"
    segments: SegmentMap | None = None
    recency_cuts_: tuple[float, ...] | None = None
    frequency_cuts_: tuple[float, ...] | None = None
    monetary_cuts_: tuple[float, ...] | None = None
    recency_scores_: tuple[int, ...] | None = None
    frequency_scores_: tuple[int, ...] | None = None
    monetary_scores_: tuple[int, ...] | None = None
    n_fitted_: int | None = None

    # -- validation ---------------------------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        method = data.get("method", "quantile")
        if not isinstance(method, str):
            return data  # pydantic names the bad method
        if method == "quantile" and data.get("bins") is None:
            data["bins"] = _DEFAULT_BINS
        if method == "thresholds":
            for dim in _DIMS:  # business cut-points score 1..k+1 (recency k+1..1)
                cuts = data.get(f"{dim}_cuts_")
                if isinstance(cuts, (list, tuple)) and data.get(f"{dim}_scores_") is None:
                    scores = list(range(1, len(cuts) + 2))
                    data[f"{dim}_scores_"] = scores[::-1] if dim == "recency" else scores
        return data

    @model_validator(mode="after")
    def _check(self) -> RFMModel:
        if self.method != "quantile" and self.bins is not None:
            raise ValueError(f"bins applies to method='quantile' only, not {self.method!r}")
        if self.method == "thresholds":
            _check_thresholds(self)
        state = [f"{d}_{part}_" for part in ("cuts", "scores") for d in _DIMS]
        present = [getattr(self, name) is not None for name in state]
        if any(present) and not all(present):
            given = ", ".join(name for name, there in zip(state, present) if there)
            missing = ", ".join(name for name, there in zip(state, present) if not there)
            raise ValueError(
                f"fitted state is partial: {given} given but {missing} missing; give the cut-points "
                "and scores of all three dimensions"
            )
        if all(present):
            for dim in _DIMS:
                cuts, scores = getattr(self, f"{dim}_cuts_"), getattr(self, f"{dim}_scores_")
                check_dimension(cuts, scores, reverse=dim == "recency", name=dim)
                if max(scores) > self.levels[dim]:
                    raise ValueError(f"{dim} scores {list(scores)} exceed the scale 1..{self.levels[dim]}")
        if self.segments is None:
            object.__setattr__(self, "segments", _default_map(self))  # frozen: resolved once, here
        _check_map_levels(self)
        return self

    # -- convenience constructors -------------------------------------------------------------------
    @classmethod
    def quantile(cls, bins: int = _DEFAULT_BINS, **options: Any) -> RFMModel:
        """A quantile model with ``bins`` scores per dimension (to be fitted).

        Examples
        --------
        >>> RFMModel.quantile(bins=4).segments.name
        'cn8_4'
        """
        return cls(method="quantile", bins=bins, **options)

    @classmethod
    def thresholds(
        cls,
        *,
        recency: list[float] | tuple[float, ...],
        frequency: list[float] | tuple[float, ...],
        monetary: list[float] | tuple[float, ...],
        **options: Any,
    ) -> RFMModel:
        """A model with business cut-points, fitted on construction.

        ``recency=[7, 30, 90, 180]`` scores 5 for at most 7 days, 4 for 8..30, ..., 1 beyond 180;
        ``frequency=[2, 3, 5, 10]`` scores 1 for one purchase, 2 from 2, ..., 5 from 10. Cut-points
        must be non-negative, finite and strictly increasing (``ConfigError`` otherwise).

        Examples
        --------
        >>> RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500]).is_fitted
        True
        """
        cuts = {"recency": recency, "frequency": frequency, "monetary": monetary}
        for dim, values in cuts.items():
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
                raise ConfigError(f"{dim} cut-points must be a list of numbers, got {value_repr(values)}")
        return cls(
            method="thresholds",
            recency_cuts_=tuple(recency),
            frequency_cuts_=tuple(frequency),
            monetary_cuts_=tuple(monetary),
            **options,
        )

    @classmethod
    def mean(cls, **options: Any) -> RFMModel:
        """High/low against the population mean (scores 2/1), segmented by the Chinese 8 classes.

        Examples
        --------
        >>> RFMModel.mean().segments.name
        'cn8_2'
        """
        return cls(method="mean", **options)

    # -- state --------------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether cut-points are set (always for thresholds)."""
        return self.recency_cuts_ is not None

    @property
    def levels(self) -> dict[str, int]:
        """Score scale per dimension: scores run 1..levels."""
        if self.method == "mean":
            return dict.fromkeys(_DIMS, 2)
        if self.method == "quantile":
            return dict.fromkeys(_DIMS, cast(int, self.bins))
        return {dim: len(getattr(self, f"{dim}_cuts_") or ()) + 1 for dim in _DIMS}

    @property
    def segment_map(self) -> SegmentMap:
        """The segment map (resolved at construction)."""
        assert self.segments is not None
        return self.segments

    def _dimension(self, dim: Dim) -> tuple[tuple[float, ...], tuple[int, ...]]:
        cuts, scores = getattr(self, f"{dim}_cuts_"), getattr(self, f"{dim}_scores_")
        if cuts is None or scores is None:
            raise NotFittedError(
                f"this RFMModel (method={self.method!r}) is not fitted yet. fit() returns a new, fitted "
                "model and leaves this one unchanged: write `model = model.fit(metrics)` and score with it"
            )
        return cuts, scores

    # -- fitting ------------------------------------------------------------------------------------
    def fit(self, table: Any) -> RFMModel:
        """Fit cut-points on a population and return the fitted model (this one is unchanged).

        Customers without a purchase (null recency) are left out of the fit. A thresholds model is
        already fitted: its columns are checked and it is returned as is.

        Parameters
        ----------
        table:
            Per-customer metrics: a Table or anything ``Table.coerce`` accepts.

        Raises
        ------
        DataError
            For a missing column, bad values (NaN or negative frequency, ...), or no customer with a
            purchase.

        Examples
        --------
        >>> fitted = RFMModel.mean().fit({"recency_days": [10, 30], "frequency": [1, 3],
        ...                               "monetary": [50.0, 150.0]})
        >>> fitted.frequency_cuts_, fitted.recency_scores_
        ((2.0,), (2, 1))
        """
        values = self._read(Table.coerce(table))
        if self.method == "thresholds":
            return self
        bought = ~values.never
        count = int(np.count_nonzero(bought))
        if count == 0:
            raise DataError("cannot fit an RFM model: no customer has a purchase (every recency is null)")
        update: dict[str, Any] = {"n_fitted_": count}
        for dim in _DIMS:
            cuts, scores = self._fit_dimension(dim, values.column(dim)[bought])
            update[f"{dim}_cuts_"], update[f"{dim}_scores_"] = cuts, scores
        return self.model_copy(update=update)

    def _fit_dimension(self, dim: Dim, values: FloatArray) -> tuple[tuple[float, ...], tuple[int, ...]]:
        name = self._column_name(dim)
        if self.method == "mean":
            return fit_mean(values, reverse=dim == "recency", name=name)
        return fit_quantile(values, cast(int, self.bins), reverse=dim == "recency", name=name)

    # -- scoring ------------------------------------------------------------------------------------
    def score(self, table: Any) -> RFMScores:
        """Scores, code and segment of every customer (vectorized; no per-row Python).

        Returns
        -------
        RFMScores
            A Table: the id column (when present), ``r``, ``f``, ``m`` (int, null for customers
            without a purchase), ``rfm_code`` (``"545"``), ``segment``, ``segment_en``,
            ``segment_zh``. Customers without a purchase get the segment ``never_bought`` (潜在用户).

        Raises
        ------
        NotFittedError
            Before [`fit`][].
        DataError
            For a missing column or bad values.
        """
        dims = {dim: self._dimension(dim) for dim in _DIMS}
        data = Table.coerce(table)
        values = self._read(data)
        scored = ~values.never
        letters: dict[str, npt.NDArray[np.int64]] = {}
        for dim, (cuts, scores) in dims.items():
            column = np.where(scored, values.column(dim), 0.0)  # never-bought rows: any finite value
            letters[_LETTER[dim]] = assign(column, cuts, scores, reverse=dim == "recency")
        code = 100 * letters["r"] + 10 * letters["f"] + letters["m"]
        segment_index = np.where(scored, self.segment_map.lookup()[code], len(self.segment_map.segments))
        columns: dict[str, Any] = {}
        if self.id_column is not None and self.id_column in data:
            columns[self.id_column] = data[self.id_column]
        for letter, array in letters.items():
            columns[letter] = _with_nulls(array, values.never)
        columns["rfm_code"] = np.where(scored, CODE_TEXT[code], None)
        for key, labels in zip(("segment", "segment_en", "segment_zh"), _label_tables(self.segment_map)):
            columns[key] = labels[segment_index]
        result = cast(RFMScores, RFMScores._trusted(columns))
        result.model = self
        return result

    def score_one(self, record: Mapping[str, Any]) -> RFMScore:
        """Scores, code and segment of one customer: exactly what [`score`][] gives for the row.

        Examples
        --------
        >>> model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500])
        >>> model.score_one({"recency_days": 3, "frequency": 1, "monetary": 900.0})
        RFMScore(r=2, f=1, m=2, rfm_code='212', segment='important_develop',
                 segment_en='Important to develop', segment_zh='重要发展客户')
        >>> model.score_one({"recency_days": None, "frequency": 0, "monetary": 0.0}).segment_zh
        '潜在用户'
        """
        dims = {dim: self._dimension(dim) for dim in _DIMS}
        if not isinstance(record, Mapping):
            raise DataError(f"a record must be a mapping, got {type(record).__name__}")
        recency = _record_value(record, self.recency_column, nullable=True)
        if recency is None:
            code, en, zh = NEVER_BOUGHT[:3]
            return RFMScore(None, None, None, None, code, en, zh)
        _check_range(recency, self.recency_column)
        values = {
            "recency": recency,
            "frequency": _record_value(record, self.frequency_column, nullable=False),
            "monetary": _record_value(record, self.monetary_column, nullable=False),
        }
        _check_range(cast(float, values["frequency"]), self.frequency_column)
        r, f, m = (
            assign_one(cast(float, values[dim]), *dims[dim], reverse=dim == "recency") for dim in _DIMS
        )
        segment = self.segment_map[self.segment_map.segment_of(r, f, m)]
        return RFMScore(r, f, m, f"{r}{f}{m}", segment.code, segment.label_en, segment.label_zh)

    # -- input --------------------------------------------------------------------------------------
    def _column_name(self, dim: Dim) -> str:
        return cast(str, getattr(self, f"{dim}_column"))

    def _read(self, data: Table) -> _Values:
        recency, never = _numeric_column(data, self.recency_column)
        frequency, f_null = _numeric_column(data, self.frequency_column)
        monetary, m_null = _numeric_column(data, self.monetary_column)
        bought = ~never
        for name, nulls in ((self.frequency_column, f_null), (self.monetary_column, m_null)):
            bad = int(np.count_nonzero(nulls & bought))
            if bad:
                raise DataError(
                    f"column {name!r} is null (NaN) for {bad} customer(s) with a purchase; RFM needs "
                    "a value for every customer whose recency is known"
                )
        for name, column in ((self.recency_column, recency), (self.frequency_column, frequency)):
            negative = int(np.count_nonzero(bought & (column < 0)))
            if negative:
                raise DataError(
                    f"column {name!r} is negative for {negative} customer(s); it counts days or orders"
                )
        return _Values(recency, frequency, monetary, never)

    # -- display ------------------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        head = f"<p><b>RFMModel</b> method={html.escape(self.method)}"
        head += f", bins={self.bins}" if self.bins is not None else ""
        head += f", fitted on {self.n_fitted_:,} customers" if self.n_fitted_ is not None else ""
        if not self.is_fitted:
            return head + " — not fitted</p>" + self.segment_map._repr_html_()
        rows = "".join(_dimension_row(self, dim) for dim in _DIMS)
        return (
            f"{head}</p><table class='user-ops-rfm'><thead><tr><th>dimension</th><th>column</th>"
            f"<th>cut-points</th><th>scores</th></tr></thead><tbody>{rows}</tbody></table>"
            + self.segment_map._repr_html_()
        )


@dataclass(frozen=True)
class _Values:
    recency: FloatArray
    frequency: FloatArray
    monetary: FloatArray
    never: BoolArray

    def column(self, dim: Dim) -> FloatArray:
        result: FloatArray = getattr(self, dim)
        return result


@dataclass(frozen=True)
class RFMScore:
    """One customer's RFM result (``None`` scores and code for a customer without a purchase).

    The result of [`RFMModel.score_one`][]: the same values as the customer's row of
    [`RFMModel.score`][].

    Attributes
    ----------
    r, f, m:
        Recency, frequency and monetary scores (higher is better for all three).
    rfm_code:
        The three scores as text, e.g. ``"545"``.
    segment, segment_en, segment_zh:
        The segment code and its English and Chinese labels.

    Examples
    --------
    >>> model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500])
    >>> score = model.score_one({"recency_days": 3, "frequency": 1, "monetary": 900.0})
    >>> score.rfm_code, score.segment_zh
    ('212', '重要发展客户')
    >>> score.to_dict()["segment"]
    'important_develop'
    """

    r: int | None
    f: int | None
    m: int | None
    rfm_code: str | None
    segment: str
    segment_en: str
    segment_zh: str

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (the columns of [`RFMModel.score`][], without the id)."""
        return asdict(self)


class RFMScores(Table):
    """The result of [`RFMModel.score`][]: a Table that remembers its model.

    Columns: the id column (when the input has it), ``r``, ``f``, ``m`` (null for customers without a
    purchase), ``rfm_code``, ``segment``, ``segment_en``, ``segment_zh``.

    Attributes
    ----------
    model:
        The fitted [`RFMModel`][] that scored the table (its segment map orders [`counts`][]).

    Examples
    --------
    >>> model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500])
    >>> scores = model.score({"customer_id": [7, 8], "recency_days": [3, None], "frequency": [1, 0],
    ...                       "monetary": [900.0, 0.0]})
    >>> scores["rfm_code"].tolist(), scores["segment_zh"].tolist()
    (['212', None], ['重要发展客户', '潜在用户'])
    >>> scores.model is model
    True
    """

    __slots__ = ("model",)
    model: RFMModel | None

    def counts(self) -> dict[str, int]:
        """Customers per segment, in map order (``never_bought`` last, when present).

        Examples
        --------
        >>> model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500])
        >>> scores = model.score({"recency_days": [3, None], "frequency": [1, 0], "monetary": [9.0, 0.0]})
        >>> scores.counts()["never_bought"], scores.counts()["general_develop"]
        (1, 1)
        """
        segments = self["segment"]
        order = list(self.model.segment_map.codes) if self.model is not None else []
        found = dict.fromkeys(order, 0)
        codes, counts = np.unique(segments.astype(str), return_counts=True)
        found.update({str(c): int(n) for c, n in zip(codes, counts)})
        return found

    def summary(self, metrics: Any = None, *, currency: str | Currency = "CNY") -> Table:
        """[`user_ops.rfm.segment_summary`][] of these scores (money rounded to ``currency``)."""
        from user_ops.rfm._summary import segment_summary

        return segment_summary(self, metrics, currency=currency)


# -- helpers ----------------------------------------------------------------------------------------
def _check_thresholds(model: RFMModel) -> None:
    for dim in _DIMS:
        cuts = getattr(model, f"{dim}_cuts_")
        if not cuts:
            raise ValueError(
                f"method='thresholds' needs {dim} cut-points: use RFMModel.thresholds(recency=[...], "
                "frequency=[...], monetary=[...])"
            )
        if len(cuts) > MAX_LEVELS - 1:
            raise ValueError(
                f"at most {MAX_LEVELS - 1} {dim} cut-points (scores 1..{MAX_LEVELS}), got {len(cuts)}"
            )
        if any(not math.isfinite(c) or c < 0 for c in cuts):
            raise ValueError(f"{dim} cut-points must be non-negative finite numbers, got {list(cuts)}")
        if any(b <= a for a, b in itertools.pairwise(cuts)):
            raise ValueError(
                f"{dim} cut-points must be strictly increasing (sorted, no repeats), got {list(cuts)}"
            )


def _default_map(model: RFMModel) -> SegmentMap:
    levels = model.levels
    if levels["recency"] == levels["frequency"] == 5:
        return SegmentMap.classic()
    if len(set(levels.values())) == 1:
        return SegmentMap.cn8(levels["recency"])
    raise ValueError(
        f"no default segment map for score scales {levels}: pass segments=SegmentMap.from_rules(...) "
        "or give every dimension the same number of levels"
    )


def _check_map_levels(model: RFMModel) -> None:
    wanted = model.segment_map.levels
    if wanted is None:
        return
    read = model.segment_map.fields
    dims = _DIMS if "rfm_code" in read else tuple(d for d in _DIMS if _LETTER[d] in read)
    wrong = {d: model.levels[d] for d in dims if model.levels[d] != wanted}
    if wrong:
        raise ValueError(
            f"segment map {model.segment_map.name!r} is written for scores 1..{wanted}, but this model "
            f"scores {', '.join(f'{d} 1..{n}' for d, n in wrong.items())}; pass a map for this scale "
            "(e.g. segments=SegmentMap.cn8(levels=...))"
        )


def _numeric_column(data: Table, name: str) -> tuple[FloatArray, BoolArray]:
    """A column as float64 (nulls set to NaN) and its null mask; DataError for other kinds."""
    column = data[name]
    kind = data.kind(name)
    nulls = data.null_mask(name)
    mask = np.zeros(len(data), dtype=np.bool_) if nulls is None else nulls
    if kind in ("int", "float"):
        values = np.asarray(np.ma.getdata(column), dtype=np.float64)
    elif kind == "decimal":
        values = np.array(
            [float("nan") if v is None else float(v) for v in column.tolist()], dtype=np.float64
        )
        mask = mask | np.isnan(values)
    elif kind == "null":
        values = np.full(len(data), np.nan)
        mask = np.ones(len(data), dtype=np.bool_)
    else:
        raise DataError(f"column {name!r} must be numeric for RFM, got {kind}")
    infinite = int(np.count_nonzero(np.isinf(values)))
    if infinite:
        raise DataError(f"column {name!r} has {infinite} infinite value(s)")
    return np.where(mask, np.nan, values), mask


def _record_value(record: Mapping[str, Any], name: str, *, nullable: bool) -> float | None:
    if name not in record:
        raise missing_field_error(name, record)
    value = record[name]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if nullable:
            return None
        raise DataError(f"field {name!r} is null; RFM needs a value for every customer with a purchase")
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, Decimal, np.integer, np.floating)
    ):
        raise DataError(f"field {name!r} must be a number for RFM, got {type(value).__name__}: {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        raise DataError(
            f"field {name!r} is beyond the float range (about 1.8e308): {value_repr(value)}"
        ) from None
    if math.isnan(number):
        if nullable:
            return None
        raise DataError(f"field {name!r} is null; RFM needs a value for every customer with a purchase")
    if math.isinf(number):
        raise DataError(f"field {name!r} is infinite")
    return number


def _check_range(value: float, name: str) -> None:
    if value < 0:
        raise DataError(f"field {name!r} is negative ({value:g}); it counts days or orders")


def _with_nulls(values: npt.NDArray[np.int64], nulls: BoolArray) -> Any:
    """Table's canonical int column: masked only when there are nulls."""
    if not nulls.any():
        return values
    return np.ma.MaskedArray(np.where(nulls, 0, values), mask=nulls.copy())


def _label_tables(segment_map: SegmentMap) -> tuple[npt.NDArray[Any], ...]:
    """Object arrays of code, English and Chinese label per segment index, never-bought last."""
    rows = [(s.code, s.label_en, s.label_zh) for s in segment_map.segments] + [NEVER_BOUGHT[:3]]
    tables = []
    for position in range(3):
        table = np.empty(len(rows), dtype=object)
        table[:] = [row[position] for row in rows]
        tables.append(table)
    return tuple(tables)


def _dimension_row(model: RFMModel, dim: Dim) -> str:
    cuts, scores = model._dimension(dim)
    text = ", ".join(f"{c:g}" for c in cuts)
    return (
        f"<tr><td>{dim[0].upper()} {html.escape(dim)}</td><td><code>{html.escape(model._column_name(dim))}"
        f"</code></td><td>{html.escape(text)}</td><td>{', '.join(map(str, scores))}</td></tr>"
    )
