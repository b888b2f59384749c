"""BGNBD: the published CDNOW fit, hand-computed scores, recovery, stability, bad input, JSON, no scipy."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, NotFittedError, Table
from user_ops.lifecycle._bgnbd import BGNBD

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = ROOT / ".." / "shared" / "data" / "cdnow" / "cdnow_customers_summary.csv"
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_bgnbd  # noqa: E402

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
UTC = timezone.utc


def cdnow_arrays() -> dict[str, Any]:
    if not SUMMARY.is_file():
        pytest.skip(f"CDNOW summary not available at {SUMMARY} (the shared data folder is absent)")
    raw = np.genfromtxt(SUMMARY, delimiter=",", skip_header=1)
    return {"frequency": raw[:, 1].astype(np.int64), "recency": raw[:, 2], "T": raw[:, 3]}


@pytest.fixture(scope="module")
def cdnow() -> dict[str, Any]:
    return cdnow_arrays()


@pytest.fixture(scope="module")
def fitted(cdnow: dict[str, Any]) -> BGNBD:
    return BGNBD(period="week").fit(**cdnow)


def published() -> BGNBD:
    return BGNBD.from_params(**PUBLISHED)


def record(x: float, tx: float, t: float) -> dict[str, Any]:
    return {"repeat_frequency": x, "recency_age": tx, "T": t}


# -- the published CDNOW result ----------------------------------------------------------------------
def test_cdnow_fit_gives_the_published_parameters(fitted: BGNBD) -> None:
    assert fitted.params_ is not None
    assert {k: round(v, 3) for k, v in fitted.params_.items()} == PUBLISHED
    assert fitted.log_likelihood_ is not None
    assert round(fitted.log_likelihood_, 1) == -9582.4
    assert fitted.n_customers_ == 2357
    assert fitted.converged_ is True
    # Standard errors: the inverse Hessian (values agree with lifetimes 0.11 to 6 digits).
    assert fitted.standard_errors_ is not None
    expected_se = {"r": 0.012557, "alpha": 0.378221, "a": 0.185719, "b": 0.705346}
    for name, se in expected_se.items():
        assert fitted.standard_errors_[name] == pytest.approx(se, rel=1e-4), name


def test_cdnow_fit_from_customer_metrics_reads_the_btyd_columns() -> None:
    from user_ops.datasets import load_cdnow
    from user_ops.metrics import Transactions, customer_metrics

    try:
        table = load_cdnow()
    except DataError as exc:
        pytest.skip(f"CDNOW sample not available: {exc}")
    tx = Transactions.from_frame(table, columns=["customer_id", "ordered_at", "amount"])
    metrics = customer_metrics(tx, as_of=datetime(1997, 10, 1, tzinfo=UTC), btyd_multiplier=7)
    model = BGNBD().fit(metrics)
    assert model.params_ is not None
    assert {k: round(v, 3) for k, v in model.params_.items()} == PUBLISHED
    assert model.log_likelihood_ is not None and round(model.log_likelihood_, 1) == -9582.4
    scored = model.with_p_alive(metrics, horizon=39)
    assert scored.columns[-2:] == ("p_alive", "expected_purchases")
    assert np.all((scored["p_alive"] > 0) & (scored["p_alive"] <= 1))


# Reference values computed independently of our hypergeometric series: E[Y(t)] / P(alive) as the
# integral over the dropout probability p ~ Beta(a, b + x) of (1 - (1 + p t / (alpha + T))^-(r + x)) / p
# (scipy.integrate.quad, relative tolerance 1e-13), with the published parameters.
HAND = [
    # horizon, x, t_x, T, P(alive), E[Y(horizon)]
    (39, 0, 0.0, 38.86, 1.0, 0.19509805201126235),
    (39, 2, 30.43, 38.86, 0.726578570080673, 1.2260281747671449),
    (39, 2, 5.0, 38.86, 0.12367892265004961, 0.20869572822244278),
    (52, 7, 36.0, 38.0, 0.8821969449493415, 5.862967340996322),
    (4, 1, 1.0, 32.0, 0.22253767340895675, 0.02970918674444671),
    (39, 29, 38.0, 38.86, 0.955221721241626, 19.452293843157726),
    (0.5, 3, 20.0, 30.0, 0.6470471312046451, 0.03036813697542433),
    (500, 1, 10.0, 20.0, 0.6137655836206358, 5.027001901693099),
]


@pytest.mark.parametrize(("horizon", "x", "tx", "t", "alive", "expected"), HAND)
def test_hand_computed_scores(
    horizon: float, x: int, tx: float, t: float, alive: float, expected: float
) -> None:
    model = published()
    assert model.p_alive_one(record(x, tx, t)) == pytest.approx(alive, rel=1e-13)
    assert model.expected_purchases_one(horizon, record(x, tx, t)) == pytest.approx(expected, rel=1e-12)
    batch = model.expected_purchases(horizon, frequency=[x], recency=[tx], T=[t])
    assert batch[0] == pytest.approx(expected, rel=1e-12)


def quadrature(params: dict[str, float], horizon: float, x: float, big_t: float) -> float:
    """E[Y(t) | alive] by numerical integration over p (independent of any 2F1)."""
    from scipy import integrate, special

    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    u, k, log_beta = horizon / (alpha + big_t), r + x, special.betaln(a, b + x)

    def smooth(p: float) -> float:  # (1 - (1 + p u)^-k) / p; the Beta density's p^(a-1) (1-p)^(b+x-1)
        return -math.expm1(-k * math.log1p(p * u)) / p if p > 0 else k * u  # is quad's weight

    value, _ = integrate.quad(smooth, 0, 1, weight="alg", wvar=(a - 1, b + x - 1), epsabs=0, epsrel=1e-13)
    return float(value) * math.exp(-log_beta)


@pytest.mark.parametrize(
    "params",
    [
        {"r": 0.243, "alpha": 4.414, "a": 1.0, "b": 2.426},  # a = 1: the (a - 1) of eq. 10 cancels
        {"r": 0.5, "alpha": 2.0, "a": 3.0, "b": 1.5},  # a > r + 2: terms first grow
        {"r": 2.0, "alpha": 10.0, "a": 0.2, "b": 0.3},  # a + b < 1
        {"r": 6.0, "alpha": 0.7, "a": 1.2, "b": 0.4},  # A = a + b - 1 - r < 0
    ],
)
@pytest.mark.parametrize(("horizon", "x", "tx", "big_t"), [(10, 0, 0, 5), (52, 3, 20, 40), (300, 12, 9, 10)])
def test_expected_purchases_agree_with_quadrature(
    params: dict[str, float], horizon: float, x: int, tx: float, big_t: float
) -> None:
    model = BGNBD.from_params(**params)
    alive = model.p_alive_one(record(x, tx, big_t))
    assert alive is not None
    ours = model.expected_purchases_one(horizon, record(x, tx, big_t))
    assert ours == pytest.approx(alive * quadrature(params, horizon, x, big_t), rel=1e-10)


def test_a_equal_to_one_is_continuous() -> None:
    at = BGNBD.from_params(r=0.3, alpha=5.0, a=1.0, b=2.0).expected_purchases_one(40, record(2, 10, 30))
    near = [
        BGNBD.from_params(r=0.3, alpha=5.0, a=1.0 + d, b=2.0).expected_purchases_one(40, record(2, 10, 30))
        for d in (-1e-9, 1e-9)
    ]
    assert at is not None and all(v == pytest.approx(at, rel=1e-8) for v in near)


def test_expected_purchases_new_is_eq9(fitted: BGNBD) -> None:
    new = fitted.expected_purchases_new([0, 10, 39, 78])
    assert new[0] == 0.0
    same = [fitted.expected_purchases(t, frequency=[0], recency=[0], T=[0])[0] for t in (10, 39, 78)]
    assert new[1:].tolist() == pytest.approx(same, rel=1e-15)
    assert fitted.params_ is not None
    assert new[2] == pytest.approx(quadrature(fitted.params_, 39, 0, 0), rel=1e-10)


# -- lifetimes (installed in the dev venv, not a dependency) -------------------------------------------
def test_agrees_with_lifetimes(cdnow: dict[str, Any], fitted: BGNBD) -> None:
    lifetimes = pytest.importorskip("lifetimes", reason="lifetimes is not installed (comparison only)")
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert fitted.params_ is not None and fitted.standard_errors_ is not None
    for name in ("r", "alpha", "a", "b"):
        assert fitted.params_[name] == pytest.approx(float(theirs.params_[name]), rel=1e-5), name
        assert fitted.standard_errors_[name] == pytest.approx(float(theirs.standard_errors_[name]), rel=1e-4)
    # Scores at the same parameters.
    theirs.params_ = pd.Series(fitted.params_)
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose(
        fitted.p_alive(**cdnow), theirs.conditional_probability_alive(*args), rtol=1e-13
    )
    for horizon in (1, 10, 39, 52, 200):
        ours = fitted.expected_purchases(horizon, **cdnow)
        expected = theirs.conditional_expected_number_of_purchases_up_to_time(horizon, *args)
        # lifetimes computes 1 - (...)2F1(...) directly, losing digits to cancellation at short horizons.
        np.testing.assert_allclose(ours, expected, rtol=1e-11)
        assert fitted.expected_purchases_new(horizon)[0] == pytest.approx(
            theirs.expected_number_of_purchases_up_to_time(horizon), rel=1e-11
        )


# -- synthetic recovery ----------------------------------------------------------------------------------
def test_recovers_the_parameters_of_simulated_customers() -> None:
    model = bench_bgnbd.check(50_000, seed=11)
    assert model.converged_ is True


def test_penalizer_shrinks_the_parameters(cdnow: dict[str, Any], fitted: BGNBD) -> None:
    shrunk = BGNBD(penalizer=0.1).fit(**cdnow)
    assert shrunk.params_ is not None and fitted.params_ is not None
    assert sum(v * v for v in shrunk.params_.values()) < sum(v * v for v in fitted.params_.values())
    assert shrunk.log_likelihood_ is not None and fitted.log_likelihood_ is not None
    assert shrunk.log_likelihood_ < fitted.log_likelihood_  # the unpenalised LL at another optimum


# -- numerical stability ---------------------------------------------------------------------------------
def test_large_frequency_and_age_are_stable(fitted: BGNBD) -> None:
    big = {
        "frequency": [500, 500, 0],
        "recency": [9_999.0, 5_000.0, 0.0],
        "T": [10_000.0, 10_000.0, 10_000.0],
    }
    alive = fitted.p_alive(**big)
    assert np.all(np.isfinite(alive)) and alive[0] > 0.99 and 0 < alive[1] < 1e-100 and alive[2] == 1.0
    expected = fitted.expected_purchases(52, **big)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    assert fitted.params_ is not None
    assert expected[0] == pytest.approx(alive[0] * quadrature(fitted.params_, 52, 500, 10_000), rel=1e-10)
    assert fitted.expected_purchases_one(52, record(500, 9_999.0, 10_000.0)) == pytest.approx(
        expected[0], rel=1e-12
    )
    # The likelihood too: fitting scaled-up data works (gammaln / logaddexp, no overflow).
    data = bench_bgnbd.simulate(5_000, {"r": 20.0, "alpha": 2.0, "a": 0.5, "b": 50.0}, seed=3, max_age=500)
    assert int(data["frequency"].max()) > 1_000
    model = BGNBD().fit(**data)
    assert model.log_likelihood_ is not None and math.isfinite(model.log_likelihood_)
    assert model.params_ is not None and model.params_["r"] == pytest.approx(20.0, rel=0.2)


def test_an_absurd_horizon_is_a_clear_error() -> None:
    model = BGNBD.from_params(r=1.0, alpha=1e-6, a=0.5, b=1.0)
    with pytest.raises(DataError, match="horizon is too long"):
        model.expected_purchases_one(1e6, record(0, 0, 0))


# -- scalar and batch agree --------------------------------------------------------------------------------
@st.composite
def customers(draw: st.DrawFn) -> tuple[dict[str, float], float, list[tuple[int, float, float]]]:
    params = {
        "r": draw(st.floats(0.05, 5.0)),
        "alpha": draw(st.floats(0.5, 50.0)),
        "a": draw(st.sampled_from([1.0, draw(st.floats(0.1, 5.0))])),
        "b": draw(st.floats(0.1, 10.0)),
    }
    horizon = draw(st.sampled_from([0.0, 1.0, draw(st.floats(0.0, 100.0))]))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        big_t = draw(st.sampled_from([0.0, draw(st.floats(0.0, 500.0))]))
        x = draw(st.integers(0, 200))
        tx = 0.0 if x == 0 else big_t * draw(st.floats(0.0, 1.0))
        rows.append((x, tx, big_t))
    return params, horizon, rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(customers())
def test_scalar_and_batch_agree(case: tuple[dict[str, float], float, list[tuple[int, float, float]]]) -> None:
    params, horizon, rows = case
    model = BGNBD.from_params(**params)
    table = {
        "repeat_frequency": [r[0] for r in rows] + [None],  # and a customer who never bought
        "recency_age": [r[1] for r in rows] + [None],
        "T": [r[2] for r in rows] + [None],
    }
    alive = model.p_alive(table)
    expected = model.expected_purchases(horizon, table)
    for i, row in enumerate(rows):
        one_alive = model.p_alive_one(record(*row))
        one_expected = model.expected_purchases_one(horizon, record(*row))
        assert one_alive is not None and one_expected is not None
        assert math.isclose(one_alive, alive[i], rel_tol=1e-12, abs_tol=1e-300)
        assert math.isclose(one_expected, expected[i], rel_tol=1e-12, abs_tol=1e-300)
        assert 0.0 <= alive[i] <= 1.0 and expected[i] >= 0.0
    assert math.isnan(alive[-1]) and math.isnan(expected[-1])
    assert model.p_alive_one(record(None, None, None)) is None  # type: ignore[arg-type]
    assert model.expected_purchases_one(horizon, record(None, None, None)) is None  # type: ignore[arg-type]


# -- input --------------------------------------------------------------------------------------------------
def test_fit_reads_custom_columns_and_skips_customers_who_never_bought(
    cdnow: dict[str, Any], fitted: BGNBD
) -> None:
    n = len(cdnow["T"])
    table = Table(
        {
            "f": np.ma.MaskedArray(np.append(cdnow["frequency"], 0), mask=[False] * n + [True]),
            "rec": np.append(cdnow["recency"], np.nan),
            "age": np.append(cdnow["T"], np.nan),
        }
    )
    model = BGNBD(frequency_column="f", recency_column="rec", T_column="age").fit(table)
    assert model.params_ == fitted.params_
    assert model.n_customers_ == n
    assert math.isnan(model.p_alive(table)[-1])


BAD = [
    ({"frequency": [-1], "recency": [0], "T": [5]}, "negative in 1 row"),
    ({"frequency": [1, 2], "recency": [1, 3], "T": [5, math.inf]}, r"infinite .*first at row 1"),
    ({"frequency": [1.5], "recency": [1], "T": [5]}, "not a whole number"),
    ({"frequency": [0, 3], "recency": [0, 6], "T": [5, 5]}, r"recency > T .*first at row 1"),
    ({"frequency": [0], "recency": [2], "T": [5]}, "no repeat purchase has no recency"),
    ({"frequency": [1, np.nan], "recency": [1, 2], "T": [5, 5]}, r"null in some but not all .*row 1"),
    ({"frequency": [1, 2], "recency": [1], "T": [5, 5]}, "different lengths"),
    ({"frequency": [[1]], "recency": [[1]], "T": [[5]]}, "one-dimensional"),
    ({"frequency": ["x"], "recency": [1], "T": [5]}, "must be numbers"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_bad_input_is_a_data_error_naming_the_row(data: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        BGNBD().fit(**data)
    with pytest.raises(DataError, match=message):
        published().p_alive(**data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": [], "recency": [], "T": []}, "no customer has a purchase"),
        ({"frequency": [np.nan], "recency": [np.nan], "T": [np.nan]}, "no customer has a purchase"),
        ({"frequency": [0, 0], "recency": [0, 0], "T": [3, 4]}, "no customer made a repeat purchase"),
        ({"frequency": [1], "recency": [1]}, "all three"),
    ],
)
def test_nothing_to_fit(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        BGNBD().fit(**kwargs)


def test_table_and_arrays_together_or_missing_columns() -> None:
    with pytest.raises(DataError, match="not both"):
        BGNBD().fit({"repeat_frequency": [1]}, frequency=[1], recency=[1], T=[1])
    with pytest.raises(DataError, match="no column 'repeat_frequency'"):
        BGNBD().fit({"frequency": [1], "recency": [1.0], "T": [2.0]})  # lifetimes' names: pass arrays
    with pytest.raises(DataError, match="must be numeric"):
        published().p_alive({"repeat_frequency": ["1"], "recency_age": [1.0], "T": [2.0]})


def test_bad_records_and_horizons() -> None:
    model = published()
    with pytest.raises(DataError, match="mapping"):
        model.p_alive_one([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no field 'T'"):
        model.p_alive_one({"repeat_frequency": 1, "recency_age": 1.0})
    with pytest.raises(DataError, match="must be a number"):
        model.p_alive_one(record(True, 1.0, 2.0))
    with pytest.raises(DataError, match="null but not all three"):
        model.p_alive_one(record(1, None, 2.0))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="recency_age > T"):
        model.p_alive_one(record(1, 3.0, 2.0))
    for horizon in (-1, math.nan, math.inf, "52", True):
        with pytest.raises(DataError, match="horizon"):
            model.expected_purchases_one(horizon, record(1, 1.0, 2.0))  # type: ignore[arg-type]
        with pytest.raises(DataError, match="horizon"):
            model.expected_purchases(horizon, frequency=[1], recency=[1.0], T=[2.0])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="t must be"):
        model.expected_purchases_new(-1)


def test_unfitted_model_says_how_to_fit() -> None:
    model = BGNBD()
    assert not model.is_fitted
    for call in (
        lambda: model.p_alive(frequency=[1], recency=[1], T=[2]),
        lambda: model.expected_purchases(5, frequency=[1], recency=[1], T=[2]),
        lambda: model.p_alive_one(record(1, 1, 2)),
        lambda: model.expected_purchases_one(5, record(1, 1, 2)),
        lambda: model.expected_purchases_new(5),
        model.summary,
    ):
        with pytest.raises(NotFittedError, match=r"model = model\.fit\("):
            call()


@pytest.mark.parametrize(
    "options",
    [
        {"penalizer": -1.0},
        {"penalizer": math.nan},
        {"params_": {"r": 1.0, "alpha": 1.0, "a": 1.0}},
        {"params_": {"r": 1.0, "alpha": -1.0, "a": 1.0, "b": 1.0}},
        {"log_likelihood_": -3.0},
        {"unknown": 1},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="invalid BGNBD"):
        BGNBD(**options)


# -- JSON and the backend -------------------------------------------------------------------------------
def test_json_round_trip_scores_identically(cdnow: dict[str, Any], fitted: BGNBD) -> None:
    document = fitted.to_dict()
    text = fitted.to_json()
    for again in (BGNBD.from_json(document), BGNBD.from_json(text)):
        assert again == fitted
        assert again.content_hash() == fitted.content_hash()
        assert np.array_equal(again.p_alive(**cdnow), fitted.p_alive(**cdnow))
        assert np.array_equal(again.expected_purchases(39, **cdnow), fitted.expected_purchases(39, **cdnow))
    assert set(document) >= {"params_", "standard_errors_", "log_likelihood_", "n_customers_", "period"}
    assert "type" in BGNBD.json_schema()


def test_summary_table(fitted: BGNBD) -> None:
    summary = fitted.summary()
    assert summary.columns == ("parameter", "estimate", "standard_error", "lower_95", "upper_95")
    assert np.all(summary["lower_95"] < summary["estimate"])
    assert np.all(summary["estimate"] < summary["upper_95"])


def _run(script: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def test_without_scipy_fit_names_the_extra_and_scoring_still_works(fitted: BGNBD) -> None:
    lines = _run(
        f"""
        import sys
        sys.modules["scipy"] = None  # simulate the stats extra not being installed
        from user_ops import ConfigError
        from user_ops.lifecycle._bgnbd import BGNBD
        try:
            BGNBD().fit(frequency=[1, 0], recency=[1.0, 0.0], T=[2.0, 3.0])
        except ConfigError as exc:
            print("ERROR", exc)
        model = BGNBD.from_json({fitted.to_json()!r})
        rec = {{"repeat_frequency": 2, "recency_age": 30.43, "T": 38.86}}
        print("ONE", repr(model.p_alive_one(rec)), repr(model.expected_purchases_one(39, rec)))
        batch = model.expected_purchases(39, frequency=[2], recency=[30.43], T=[38.86])
        print("BATCH", repr(float(batch[0])))
        """
    )
    assert lines["ERROR"] == "BGNBD.fit needs scipy: pip install 'user_ops[stats]'"
    rec = record(2, 30.43, 38.86)
    assert lines["ONE"] == f"{fitted.p_alive_one(rec)!r} {fitted.expected_purchases_one(39, rec)!r}"
    assert float(lines["BATCH"]) == pytest.approx(fitted.expected_purchases_one(39, rec), rel=1e-12)


def test_scoring_never_imports_scipy() -> None:
    lines = _run(
        """
        import sys
        from user_ops.lifecycle._bgnbd import BGNBD
        model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        model.p_alive_one({"repeat_frequency": 2, "recency_age": 30.43, "T": 38.86})
        model.with_p_alive({"repeat_frequency": [2], "recency_age": [30.43], "T": [38.86]}, horizon=39)
        print("SCIPY", "scipy" in sys.modules)
        """
    )
    assert lines["SCIPY"] == "False"
