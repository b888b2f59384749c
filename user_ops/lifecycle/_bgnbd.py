"""``BGNBD``: the BG/NBD "buy till you die" model (Fader, Hardie & Lee 2005) — P(alive), expected purchases.

Fitting needs scipy (the ``stats`` extra), imported lazily inside [`BGNBD.fit`][]. Scoring does not:
[`BGNBD.p_alive`][], [`BGNBD.expected_purchases`][] and their ``..._one`` twins use numpy and
``math`` only, so a model fitted in a notebook scores customers in a backend from its JSON alone.

The Gaussian hypergeometric function of FHL eq. (10) is summed by our own power series, the same
sequence of floating-point operations in both paths (so the batch and the scalar answers agree to the
last bit or so), on the Euler-transformed form ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, which
neither overflows nor underflows for large ``x`` and ``T`` (lifetimes' direct form gives ``0 * inf``).
See ``docs/bgnbd.md`` for the equations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, StrictFloat, model_validator

from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, NotFittedError, value_repr

__all__ = ["BGNBD"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Param = Literal["r", "alpha", "a", "b"]
PARAMS: tuple[Param, ...] = ("r", "alpha", "a", "b")

_MISSING_SCIPY = "BGNBD.fit needs scipy: pip install 'user_ops[stats]'"
# Series for 2F1: stop when the bound on the rest is below this fraction of the sum (2**-56 ~ 1.4e-17).
_SERIES_TOL = 2.0**-56
# About 37 * (1 + horizon / (alpha + T)) terms are needed; beyond this many, give up with a DataError.
_MAX_TERMS = 1_000_000
_CHECK_EVERY = 8  # test for convergence every 8th term (both paths alike)
_LOG_BOUND = 30.0  # the optimizer keeps log-parameters in [-30, 30]
_Z95 = 1.959963984540054


class BGNBD(PolicyModel):
    """The BG/NBD model: who is still a customer (``p_alive``) and how much they will buy.

    Each customer buys at a Poisson rate ``λ`` (gamma-distributed across customers: shape ``r``,
    rate ``alpha``) while alive, and after each purchase drops out with probability ``p``
    (beta-distributed: ``a``, ``b``). Fitted by maximum likelihood on the "buy till you die" columns
    of [`user_ops.metrics.customer_metrics`][]: ``repeat_frequency`` (x, repeat purchase periods),
    ``recency_age`` (t_x, age at the last purchase) and ``T`` (age at the end of observation), all in
    one time unit (``btyd_period`` / ``btyd_multiplier``); ``alpha`` and horizons are in that unit.

    Frozen: [`fit`][] returns a *new*, fitted model (``model = model.fit(metrics)``); a fitted model
    round-trips through JSON and scores one customer ([`p_alive_one`][]) without scipy.

    Customers with all three columns null (no purchase before the end of observation) are left out of
    the fit and score null (NaN in arrays, ``None`` from the ``..._one`` methods).

    Parameters
    ----------
    penalizer:
        L2 penalty on the parameters, as lifetimes' ``penalizer_coef``: the optimizer minimises
        ``-LL / n + penalizer * (r² + alpha² + a² + b²)``. ``0`` (default) is plain maximum
        likelihood. ``log_likelihood_`` is always the unpenalised log-likelihood.
    frequency_column, recency_column, T_column:
        Column (record key) names of x, t_x and T.
    period:
        Free text naming the time unit (``"week"``), for documentation only.
    params_:
        Fitted ``{"r", "alpha", "a", "b"}``.
    standard_errors_:
        Their asymptotic standard errors: square roots of the diagonal of the inverse Hessian of the
        negative log-likelihood (penalty included) in the natural parameters, by central differences
        of the analytic gradient. ``None`` for a parameter when the Hessian is not positive definite.
    log_likelihood_:
        Total log-likelihood at ``params_`` (FHL eq. 6 summed over customers).
    n_customers_:
        Customers the model was fitted on.
    converged_:
        Whether the optimizer reported convergence.

    Examples
    --------
    >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, period="week")
    >>> round(model.p_alive_one({"repeat_frequency": 2, "recency_age": 30.43, "T": 38.86}), 4)
    0.7266
    >>> round(model.expected_purchases_one(39, {"repeat_frequency": 2, "recency_age": 30.43, "T": 38.86}), 4)
    1.226
    >>> model.p_alive(frequency=[0, 2, 2], recency=[0.0, 30.43, 5.0], T=[38.86, 38.86, 38.86]).round(4)
    array([1.    , 0.7266, 0.1237])
    """

    penalizer: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    frequency_column: str = "repeat_frequency"
    recency_column: str = "recency_age"
    T_column: str = "T"
    period: str | None = None
    params_: dict[str, StrictFloat] | None = None  # strict: True is no parameter value
    standard_errors_: dict[str, float | None] | None = None
    log_likelihood_: float | None = None
    n_customers_: int | None = Field(default=None, ge=1)
    converged_: bool | None = None

    @classmethod
    def from_params(cls, *, r: float, alpha: float, a: float, b: float, **options: Any) -> BGNBD:
        """A model with known parameters (e.g. published ones), ready to score; nothing is fitted.

        Examples
        --------
        >>> BGNBD.from_params(r=1.0, alpha=2.0, a=0.5, b=3.0).params_
        {'r': 1.0, 'alpha': 2.0, 'a': 0.5, 'b': 3.0}
        """
        return cls(params_={"r": r, "alpha": alpha, "a": a, "b": b}, **options)

    @model_validator(mode="after")
    def _check(self) -> BGNBD:
        if self.params_ is not None:
            if set(self.params_) != set(PARAMS):
                raise ValueError(
                    f"params_ must have exactly the keys r, alpha, a, b; got {sorted(self.params_)}"
                )
            bad = {k: v for k, v in self.params_.items() if not (math.isfinite(v) and v > 0)}
            if bad:
                raise ValueError(f"params_ must be positive finite numbers, got {bad}")
            object.__setattr__(self, "params_", {k: float(self.params_[k]) for k in PARAMS})
        if self.standard_errors_ is not None:
            if self.params_ is None:
                raise ValueError("standard_errors_ without params_")
            if set(self.standard_errors_) != set(PARAMS):
                raise ValueError("standard_errors_ must have exactly the keys r, alpha, a, b")
        fit_fields = (self.log_likelihood_, self.n_customers_, self.converged_)
        if self.params_ is None and any(v is not None for v in fit_fields):
            raise ValueError(
                "fitted state is partial: log_likelihood_/n_customers_/converged_ without params_"
            )
        return self

    # -- state --------------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether parameters are set (by [`fit`][] or [`from_params`][])."""
        return self.params_ is not None

    def _params(self) -> tuple[float, float, float, float]:
        if self.params_ is None:
            raise NotFittedError(
                "this BGNBD model is not fitted yet. fit() returns a new, fitted model and leaves this "
                "one unchanged: write `model = model.fit(metrics)` (or BGNBD.from_params(...)) and score "
                "with it"
            )
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    # -- fitting ------------------------------------------------------------------------------------
    def fit(
        self,
        data: Any = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,  # noqa: N803 - the literature's name
    ) -> BGNBD:
        """Fit by maximum likelihood and return the fitted model (this one is unchanged).

        Parameters
        ----------
        data:
            Per-customer metrics (a Table or anything ``Table.coerce`` accepts) with the columns
            ``frequency_column``, ``recency_column`` and ``T_column``.
        frequency, recency, T:
            Or the three columns as arrays (lifetimes' names), instead of ``data``.

        Raises
        ------
        ConfigError
            When scipy (the ``stats`` extra) is not installed.
        DataError
            For missing columns or bad values (negative, infinite, partly null, non-integral
            frequency, recency > T, recency ≠ 0 without a repeat purchase), naming the first bad
            row; for no customer at all, or no repeat purchase at all (nothing to fit).

        Examples
        --------
        >>> fitted = BGNBD().fit(frequency=[0, 1, 3, 0, 2, 5, 0, 1], recency=[0, 10, 30, 0, 5, 38, 0, 2],
        ...                      T=[40, 40, 40, 20, 20, 40, 10, 30])
        >>> sorted(fitted.params_), fitted.n_customers_, fitted.log_likelihood_ < 0
        (['a', 'alpha', 'b', 'r'], 8, True)
        """
        values = self._read(data, frequency, recency, T, what="fit")
        keep = ~values.never
        x, tx, big_t = values.frequency[keep], values.recency[keep], values.T[keep]
        if x.size == 0:
            raise DataError("cannot fit BG/NBD: no customer has a purchase (every row is null)")
        if not np.any(x > 0):
            raise DataError(
                "cannot fit BG/NBD: no customer made a repeat purchase (every frequency is 0), so the "
                "purchase rate cannot be estimated"
            )
        optimize = _scipy()[0]
        problem = _Likelihood(x, tx, big_t, self.penalizer)
        start = np.log([1.0, max(float(big_t.sum() / x.sum()), 1e-6), 1.0, 1.0])
        result = optimize.minimize(
            problem.objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
        )
        theta = np.exp(problem.newton_polish(np.asarray(result.x, dtype=np.float64)))
        ll, _ = problem.log_likelihood(theta)
        errors = problem.standard_errors(theta)
        params = {name: float(v) for name, v in zip(PARAMS, theta)}
        return self.model_copy(
            update={
                "params_": params,
                "standard_errors_": dict(zip(PARAMS, errors)),
                "log_likelihood_": float(ll),
                "n_customers_": int(x.size),
                "converged_": bool(result.success) and bool(np.all(np.abs(problem.last_gradient) < 1e-6)),
            }
        )

    # -- scoring: batch ------------------------------------------------------------------------------
    def p_alive(
        self,
        data: Any = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,  # noqa: N803
    ) -> FloatArray:
        """P(alive | x, t_x, T) of every customer (FHL 2005 / Fader-Hardie note 021), in log space.

        ``1 / (1 + [x > 0] · a / (b + x − 1) · ((alpha + T) / (alpha + t_x))^(r + x))``; 1 without
        a repeat purchase, NaN for a customer with all three columns null.

        Examples
        --------
        >>> BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426).p_alive(
        ...     {"repeat_frequency": [500], "recency_age": [9000.0], "T": [10000.0]})
        array([8.35...e-21])
        """
        params = self._params()
        values = self._read(data, frequency, recency, T, what="p_alive")
        return _alive(params, values)

    def expected_purchases(
        self,
        horizon: float,
        data: Any = None,
        *,
        frequency: Any = None,
        recency: Any = None,
        T: Any = None,  # noqa: N803
    ) -> FloatArray:
        """Expected repeat purchases of every customer in the next ``horizon`` periods (FHL eq. 10).

        ``E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ·
        2F1(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive)``, lifetimes'
        ``conditional_expected_number_of_purchases_up_to_time``. Exact also at ``a = 1`` (the
        ``a − 1`` cancels analytically) and for large ``x`` and ``T``.

        Examples
        --------
        >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> model.expected_purchases(52, frequency=[0, 2], recency=[0.0, 30.43], T=[38.86, 38.86]).round(4)
        array([0.2521, 1.5587])
        """
        t = _horizon(horizon)
        params = self._params()
        values = self._read(data, frequency, recency, T, what="expected_purchases")
        result = _alive(params, values)
        ok = ~values.never
        result[ok] *= _expected_if_alive(params, t, values.frequency[ok], values.T[ok])
        return result

    def expected_purchases_new(self, t: Any) -> FloatArray:
        """Expected repeat purchases in ``(0, t]`` of a customer who has just made a first purchase
        (FHL eq. 9): ``expected_purchases(t)`` with x = t_x = T = 0. ``t``: a number or an array.

        Examples
        --------
        >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> model.expected_purchases_new([39, 78]).round(4)
        array([1.1967, 1.8605])
        """
        params = self._params()
        times = _times(t)
        if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
            raise DataError(f"t must be finite non-negative numbers, got {t!r}")
        zeros = np.zeros(times.size)
        out = np.empty(times.size)
        for i, ti in enumerate(times.tolist()):  # one series per distinct t; rows share nothing else
            out[i] = _expected_if_alive(params, ti, zeros[i : i + 1], zeros[i : i + 1])[0]
        return out

    def with_p_alive(self, data: Any, *, horizon: float | None = None, column: str = "p_alive") -> Table:
        """``data`` as a Table with a ``p_alive`` column added (what lifecycle policies read), and an
        ``expected_purchases`` column when ``horizon`` is given.

        Examples
        --------
        >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> metrics = {"repeat_frequency": [0, 2], "recency_age": [0.0, 5.0], "T": [10.0, 38.86]}
        >>> t = model.with_p_alive(metrics, horizon=52)
        >>> t.columns, t["p_alive"].round(3).tolist()
        (('repeat_frequency', 'recency_age', 'T', 'p_alive', 'expected_purchases'), [1.0, 0.124])
        """
        if not isinstance(column, str):
            raise ConfigError(f"column must be a column name (str), got {value_repr(column)}")
        table = Table.coerce(data)
        columns: dict[str, Any] = {column: self.p_alive(table)}
        if horizon is not None:
            columns["expected_purchases"] = self.expected_purchases(horizon, table)
        return table.with_columns(columns)

    # -- scoring: one customer -----------------------------------------------------------------------
    def p_alive_one(self, record: Mapping[str, Any]) -> float | None:
        """P(alive) of one customer (``math`` only, no scipy): what [`p_alive`][] gives for the row.

        ``None`` when the three fields are null (no purchase).

        Examples
        --------
        >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> model.p_alive_one({"repeat_frequency": 0, "recency_age": 0.0, "T": 12.0})
        1.0
        """
        params = self._params()
        one = self._read_one(record)
        if one is None:
            return None
        log_odds = _log_odds_dead_one(params, *one)
        return _sigmoid_neg_one(log_odds)

    def expected_purchases_one(self, horizon: float, record: Mapping[str, Any]) -> float | None:
        """Expected repeat purchases of one customer in the next ``horizon`` periods (``math`` only).

        Examples
        --------
        >>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> round(model.expected_purchases_one(52, {"repeat_frequency": 0, "recency_age": 0, "T": 38.86}), 4)
        0.2521
        """
        t = _horizon(horizon)
        params = self._params()
        one = self._read_one(record)
        if one is None:
            return None
        x, tx, big_t = one
        alive = _sigmoid_neg_one(_log_odds_dead_one(params, x, tx, big_t))
        return alive * _expected_if_alive_one(params, t, x, big_t)

    # -- reporting ----------------------------------------------------------------------------------
    def summary(self) -> Table:
        """Parameters with standard errors and 95 % Wald intervals, one row each.

        Examples
        --------
        >>> BGNBD.from_params(r=1.0, alpha=2.0, a=0.5, b=3.0).summary()["parameter"].tolist()
        ['r', 'alpha', 'a', 'b']
        """
        params = self._params()
        errors = self.standard_errors_ or {}
        se = np.array([np.nan if errors.get(k) is None else errors[k] for k in PARAMS], dtype=np.float64)
        estimate = np.array(params, dtype=np.float64)
        return Table(
            {
                "parameter": list(PARAMS),
                "estimate": estimate,
                "standard_error": se,
                "lower_95": estimate - _Z95 * se,
                "upper_95": estimate + _Z95 * se,
            }
        )

    # -- input --------------------------------------------------------------------------------------
    def _read(self, data: Any, frequency: Any, recency: Any, big_t: Any, *, what: str) -> _Values:
        arrays = (frequency, recency, big_t)
        names = (self.frequency_column, self.recency_column, self.T_column)
        if data is not None:
            if any(a is not None for a in arrays):
                raise DataError(f"{what}: pass either a table or frequency=, recency=, T= arrays, not both")
            table = Table.coerce(data)
            columns = [_numeric_column(table, name) for name in names]
        else:
            if any(a is None for a in arrays):
                raise DataError(
                    f"{what}: pass a table with columns {list(names)}, or all three of frequency=, "
                    "recency=, T= as arrays"
                )
            names = ("frequency", "recency", "T")
            columns = [_array_column(a, n) for a, n in zip(arrays, names)]
        return _check_values(*columns, names=names)

    def _read_one(self, record: Mapping[str, Any]) -> tuple[float, float, float] | None:
        if not isinstance(record, Mapping):
            raise DataError(f"a record must be a mapping, got {type(record).__name__}")
        names = (self.frequency_column, self.recency_column, self.T_column)
        values = [_record_value(record, name) for name in names]
        if all(v is None for v in values):
            return None
        if any(v is None for v in values):
            nulls = [n for n, v in zip(names, values) if v is None]
            raise DataError(f"fields {nulls} are null but not all three of {list(names)} are")
        x, tx, big_t = (float(v) for v in values)  # type: ignore[arg-type]
        _check_one(x, tx, big_t, names)
        return x, tx, big_t


# -- the likelihood (fit only: needs scipy.special) ----------------------------------------------------
class _Likelihood:
    """FHL (2005) eq. (6), summed, with its analytic gradient; terms in ``x`` only computed per
    distinct ``x`` (there are few), terms of A4 only for customers with ``x > 0``."""

    def __init__(self, x: FloatArray, tx: FloatArray, big_t: FloatArray, penalizer: float) -> None:
        self.special = _scipy()[1]
        self.n = x.size
        self.penalizer = penalizer
        self.x, self.big_t = x, big_t
        self.x_unique, self.x_counts = np.unique(x, return_counts=True)
        pos = x > 0
        self.xp, self.txp, self.tp = x[pos], tx[pos], big_t[pos]
        self.t0, self.x0_count = big_t[~pos], int(np.count_nonzero(~pos))
        self.last_gradient = np.full(4, np.inf)

    def log_likelihood(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Total LL and its gradient in the natural parameters (r, alpha, a, b)."""
        gammaln, psi = self.special.gammaln, self.special.psi
        r, alpha, a, b = (float(v) for v in theta)
        xu, cu = self.x_unique, self.x_counts
        # Customers without a repeat purchase: A3 only.
        log_at0 = np.log(alpha + self.t0)
        ll = -r * float(log_at0.sum())
        d_r = -float(log_at0.sum())
        d_alpha = -r * float((1.0 / (alpha + self.t0)).sum())
        # With repeats: logaddexp(A3, A4); w is the weight of A4.
        rx = r + self.xp
        log_at = np.log(alpha + self.tp)
        log_atx = np.log(alpha + self.txp)
        a3 = -rx * log_at
        a4 = math.log(a) - np.log(b + self.xp - 1.0) - rx * log_atx
        lse = np.logaddexp(a3, a4)
        w = np.exp(a4 - lse)
        ll += float(lse.sum())
        d_r -= float(((1.0 - w) * log_at + w * log_atx).sum())
        d_alpha -= float((rx * ((1.0 - w) / (alpha + self.tp) + w / (alpha + self.txp))).sum())
        d_a = float(w.sum()) / a
        d_b = -float((w / (b + self.xp - 1.0)).sum())
        # Terms of x alone (A1 + A2), per distinct x.
        ll += float(
            cu
            @ (
                gammaln(r + xu)
                - gammaln(r)
                + gammaln(a + b)
                + gammaln(b + xu)
                - gammaln(b)
                - gammaln(a + b + xu)
            )
        )
        ll += self.n * r * math.log(alpha)
        d_r += float(cu @ (psi(r + xu) - psi(r))) + self.n * math.log(alpha)
        d_alpha += self.n * r / alpha
        d_ab = float(cu @ (psi(a + b) - psi(a + b + xu)))
        d_a += d_ab
        d_b += d_ab + float(cu @ (psi(b + xu) - psi(b)))
        return ll, np.array([d_r, d_alpha, d_a, d_b])

    def _penalized(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Negative LL + n * penalizer * |theta|² and its gradient (natural parameters), totals."""
        ll, grad = self.log_likelihood(theta)
        pen = self.n * self.penalizer
        return -ll + pen * float(theta @ theta), -grad + 2.0 * pen * theta

    def objective(self, log_theta: FloatArray) -> tuple[float, FloatArray]:
        """The optimizer's objective: mean penalised negative LL over log-parameters, with gradient."""
        theta = np.exp(log_theta)
        value, grad = self._penalized(theta)
        self.last_gradient = grad * theta / self.n
        return value / self.n, grad * theta / self.n

    def hessian(self, theta: FloatArray) -> FloatArray:
        """Hessian of the penalised negative LL in the natural parameters (central differences)."""
        hess = np.empty((4, 4))
        for j in range(4):
            step = 1e-5 * theta[j]
            up, down = theta.copy(), theta.copy()
            up[j] += step
            down[j] -= step
            hess[:, j] = (self._penalized(up)[1] - self._penalized(down)[1]) / (2.0 * step)
        symmetric: FloatArray = (hess + hess.T) / 2.0
        return symmetric

    def newton_polish(self, log_theta: FloatArray) -> FloatArray:
        """A few Newton steps in log-parameters from the optimizer's answer (accepted only while the
        objective does not get worse): L-BFGS-B stops on a relative change of the objective, which on
        a flat likelihood leaves the 3rd-4th decimal of the parameters undecided."""
        best, best_value = log_theta, self.objective(log_theta)[0]
        for _ in range(5):
            theta = np.exp(best)
            _, grad = self._penalized(theta)
            # Hessian in log-parameters: D H D + diag(theta * grad).
            hess = self.hessian(theta) * np.outer(theta, theta) + np.diag(theta * grad)
            try:
                step = np.linalg.solve(hess, -grad * theta)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            candidate = np.clip(best + step, -_LOG_BOUND, _LOG_BOUND)
            value = self.objective(candidate)[0]
            if not value <= best_value:
                break
            best, best_value = candidate, value
            if np.max(np.abs(step)) < 1e-12:
                break
        self.objective(best)  # leave last_gradient at the answer
        return best

    def standard_errors(self, theta: FloatArray) -> list[float | None]:
        hess = self.hessian(theta)
        try:
            np.linalg.cholesky(hess)
            covariance = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            return [None] * 4
        diagonal = np.diag(covariance)
        return [float(math.sqrt(v)) if v > 0 and math.isfinite(v) else None for v in diagonal]


def _scipy() -> tuple[Any, Any]:
    """``(scipy.optimize, scipy.special)``, or the ConfigError naming the extra."""
    try:
        import scipy.optimize
        import scipy.special
    except ImportError as exc:
        raise ConfigError(_MISSING_SCIPY) from exc
    return scipy.optimize, scipy.special


# -- P(alive) ------------------------------------------------------------------------------------------
def _alive(params: tuple[float, float, float, float], values: _Values) -> FloatArray:
    """P(alive) per row, NaN for customers who never bought: ``1 / (1 + exp(log_odds))`` with
    ``log_odds = log([x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``, never overflowing."""
    r, alpha, a, b = params
    ok = ~values.never
    everyone = bool(ok.all())
    x, tx, big_t = (
        (values.frequency, values.recency, values.T)
        if everyone
        else (values.frequency[ok], values.recency[ok], values.T[ok])
    )
    log_odds = (
        math.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) + (r + x) * np.log1p((big_t - tx) / (alpha + tx))
    )
    log_odds[x == 0] = -np.inf
    small = np.exp(-np.abs(log_odds))  # 1 / (1 + e^y) = e^-y / (1 + e^-y) for y > 0
    alive: FloatArray = np.where(log_odds > 0, small, 1.0) / (1.0 + small)
    if everyone:
        return alive
    result = np.full(values.never.size, np.nan)
    result[ok] = alive
    return result


def _log_odds_dead_one(params: tuple[float, float, float, float], x: float, tx: float, big_t: float) -> float:
    if x == 0:
        return -math.inf
    r, alpha, a, b = params
    return math.log(a) - math.log(b + max(x, 1.0) - 1.0) + (r + x) * math.log1p((big_t - tx) / (alpha + tx))


def _sigmoid_neg_one(y: float) -> float:
    """``1 / (1 + exp(y))`` without overflow: the operations of [`_alive`][] for one value."""
    small = math.exp(-abs(y))
    return (small if y > 0 else 1.0) / (1.0 + small)


# -- expected purchases --------------------------------------------------------------------------------
# With C = a+b+x-1, B = a-1, A = a+b-1-r, z = t/(alpha+T+t), L = log(1-z) = -log1p(t/(alpha+T)):
#   (a+b+x-1)/(a-1) [1 - (1-z)^(r+x) 2F1(r+x, b+x; C; z)]            (FHL eq. 10 without P(alive))
# = (C/B) [1 - (1-z)^B 2F1(A, B; C; z)]                               (Euler's transformation)
# = -C L exprel(B L) - (1-z)^B Q,   Q = sum_{n>=1} C (A)_n (B)_n / ((C)_n n! B) z^n,
# where the B of (B)_n cancels the 1/B: no 0/0 at a = 1, no 0 * inf for large x, no division by C.
def _expected_if_alive(
    params: tuple[float, float, float, float], t: float, x: FloatArray, big_t: FloatArray
) -> FloatArray:
    r, alpha, a, b = params
    big_a, big_b = a + b - 1.0 - r, a - 1.0
    c = a + b + x - 1.0
    z = t / (alpha + big_t + t)
    log_1mz = -np.log1p(t / (alpha + big_t))
    y = big_b * log_1mz
    with np.errstate(divide="ignore", invalid="ignore"):
        exprel = np.where(y == 0.0, 1.0, np.expm1(y) / y)
    series = _series(big_a, big_b, c, z)
    result: FloatArray = -c * log_1mz * exprel - np.exp(y) * series
    return result


def _expected_if_alive_one(
    params: tuple[float, float, float, float], t: float, x: float, big_t: float
) -> float:
    r, alpha, a, b = params
    big_a, big_b = a + b - 1.0 - r, a - 1.0
    c = a + b + x - 1.0
    z = t / (alpha + big_t + t)
    log_1mz = -math.log1p(t / (alpha + big_t))
    y = big_b * log_1mz
    exprel = 1.0 if y == 0.0 else math.expm1(y) / y
    return -c * log_1mz * exprel - math.exp(y) * _series_one(big_a, big_b, c, z)


def _first_check(big_a: float) -> int:
    """Terms before which the tail bound is not trusted: past a negative ``A`` the ratios settle."""
    return 1 + max(0, math.ceil(-big_a))


def _series(big_a: float, big_b: float, c: FloatArray, z: FloatArray) -> FloatArray:
    """Q for many rows: the same operations, in the same order, as [`_series_one`][] per row."""
    out = np.zeros(z.size)
    idx = np.arange(z.size)
    term = big_a * z
    total = term.copy()
    cw, zw = c, z
    first = _first_check(big_a)
    n = 1
    while idx.size:
        ratio = (big_a + n) * (big_b + n) * zw / ((cw + n) * (n + 1))
        if n >= first and n % _CHECK_EVERY == 0:
            bound = np.maximum(zw, np.abs(ratio))
            done = (bound < 1.0) & (np.abs(term) * bound <= _SERIES_TOL * (1.0 - bound) * np.abs(total))
            if done.any():
                out[idx[done]] = total[done]
                keep = ~done
                idx, term, total, ratio, cw, zw = (
                    idx[keep],
                    term[keep],
                    total[keep],
                    ratio[keep],
                    cw[keep],
                    zw[keep],
                )
                if not idx.size:
                    break
        if n >= _MAX_TERMS:
            raise _too_long(float(zw[0]), int(idx[0]))
        term = term * ratio
        total = total + term
        n += 1
    return out


def _series_one(big_a: float, big_b: float, c: float, z: float) -> float:
    term = big_a * z
    total = term
    first = _first_check(big_a)
    n = 1
    while True:
        ratio = (big_a + n) * (big_b + n) * z / ((c + n) * (n + 1))
        if n >= first and n % _CHECK_EVERY == 0:
            bound = max(z, abs(ratio))
            if bound < 1.0 and abs(term) * bound <= _SERIES_TOL * (1.0 - bound) * abs(total):
                return total
        if n >= _MAX_TERMS:
            raise _too_long(z, None)
        term = term * ratio
        total = total + term
        n += 1


def _too_long(z: float, row: int | None) -> DataError:
    where = "" if row is None else f" (row {row})"
    return DataError(
        f"expected_purchases: the horizon is too long for this customer's alpha + T{where}: "
        f"t / (alpha + T + t) = {z:.9f}, the hypergeometric series would need more than {_MAX_TERMS:,} "
        "terms; use a shorter horizon"
    )


def _times(t: Any) -> FloatArray:
    """``t`` of [`BGNBD.expected_purchases_new`][] as a float array (DataError for non-numbers)."""
    try:
        raw = np.asarray(t)
    except (TypeError, ValueError):  # ragged nesting
        raw = np.asarray(None)
    if raw.dtype.kind not in "iuf":  # bools, strings, datetimes, objects: not times
        raise DataError(f"t must be finite non-negative numbers, got {value_repr(t)}")
    return np.atleast_1d(raw.astype(np.float64))


def _horizon(horizon: Any) -> float:
    if isinstance(horizon, (bool, np.bool_)) or not isinstance(
        horizon, (int, float, np.integer, np.floating)
    ):
        raise DataError(f"horizon must be a number of periods, got {type(horizon).__name__}: {horizon!r}")
    try:
        value = float(horizon)
    except OverflowError:  # an int beyond float's range
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise DataError(f"horizon must be a finite number >= 0, got {horizon!r}")
    return value


# -- input checks --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Values:
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    never: BoolArray


def _numeric_column(data: Table, name: str) -> FloatArray:
    """A column as float64 with nulls as NaN; DataError for a non-numeric kind."""
    column = data[name]
    kind = data.kind(name)
    if kind == "null":
        return np.full(len(data), np.nan)
    if kind not in ("int", "float"):
        raise DataError(f"column {name!r} must be numeric for BG/NBD, got {kind}")
    values = np.array(np.ma.getdata(column), dtype=np.float64)
    nulls = data.null_mask(name)
    if nulls is not None:
        values[nulls] = np.nan
    return values


def _array_column(values: Any, name: str) -> FloatArray:
    if isinstance(values, Table):
        raise DataError(f"{name}= takes an array, not a Table; pass the table as the first argument")
    if np.ma.isMaskedArray(values):
        mask = np.ma.getmaskarray(values)
        values = np.where(mask, np.nan, np.ma.getdata(values).astype(np.float64))
    if hasattr(values, "to_numpy"):  # pandas / polars Series
        values = values.to_numpy()
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numbers, got {type(values).__name__}") from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _first(mask: BoolArray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_values(x: FloatArray, tx: FloatArray, big_t: FloatArray, *, names: tuple[str, ...]) -> _Values:
    fx, fr, ft = names
    if not (x.size == tx.size == big_t.size):
        raise DataError(f"{fx}, {fr} and {ft} have different lengths: {x.size}, {tx.size}, {big_t.size}")
    nan_x, nan_r, nan_t = np.isnan(x), np.isnan(tx), np.isnan(big_t)
    never = nan_x & nan_r & nan_t
    partial = (nan_x | nan_r | nan_t) & ~never
    if partial.any():
        i = _first(partial)
        raise DataError(
            f"{int(partial.sum())} row(s) are null in some but not all of {fx}, {fr}, {ft}; first at row "
            f"{i}: {fx}={x[i]}, {fr}={tx[i]}, {ft}={big_t[i]}"
        )
    with np.errstate(invalid="ignore"):
        checks: list[tuple[BoolArray, str]] = [
            (np.isinf(x) | np.isinf(tx) | np.isinf(big_t), "infinite"),
            ((x < 0) | (tx < 0) | (big_t < 0), "negative"),
            (x != np.floor(x), f"{fx} not a whole number"),
            (tx > big_t, f"{fr} > {ft}"),
            ((x == 0) & (tx != 0), f"{fr} != 0 with {fx} = 0 (no repeat purchase has no recency)"),
        ]
    for found, why in checks:
        bad = found & ~never
        if bad.any():
            i = _first(bad)
            raise DataError(
                f"bad BG/NBD input: {why} in {int(bad.sum())} row(s); first at row {i}: "
                f"{fx}={x[i]}, {fr}={tx[i]}, {ft}={big_t[i]}"
            )
    return _Values(x, tx, big_t, never)


def _record_value(record: Mapping[str, Any], name: str) -> float | None:
    if name not in record:
        raise DataError(f"record has no field {name!r}; it has {sorted(map(str, record))}")
    value = record[name]
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DataError(f"field {name!r} must be a number for BG/NBD, got {type(value).__name__}: {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        raise DataError(
            f"field {name!r} is beyond the float range (about 1.8e308): {value_repr(value)}"
        ) from None
    return None if math.isnan(number) else number


def _check_one(x: float, tx: float, big_t: float, names: tuple[str, ...]) -> None:
    fx, fr, ft = names
    why = None
    if not (math.isfinite(x) and math.isfinite(tx) and math.isfinite(big_t)):
        why = "infinite"
    elif x < 0 or tx < 0 or big_t < 0:
        why = "negative"
    elif x != math.floor(x):
        why = f"{fx} not a whole number"
    elif tx > big_t:
        why = f"{fr} > {ft}"
    elif x == 0 and tx != 0:
        why = f"{fr} != 0 with {fx} = 0 (no repeat purchase has no recency)"
    if why is not None:
        raise DataError(f"bad BG/NBD input: {why}: {fx}={x}, {fr}={tx}, {ft}={big_t}")
