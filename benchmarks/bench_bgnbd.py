"""BG/NBD: fit time on CDNOW and on a million synthetic customers, against lifetimes' BetaGeoFitter.

Run ``python benchmarks/bench_bgnbd.py [--rows N] [--scalar-rows N] [--no-lifetimes]``. In one run it
reports:

* ``BGNBD().fit`` on the CDNOW summary (2,357 customers, weeks): time, parameters and log-likelihood
  against the published Fader, Hardie & Lee (2005) values and against lifetimes 0.11 when installed;
* the same on ``--rows`` customers simulated from a BG/NBD process with known parameters
  (:func:`simulate`): time, the parameters recovered with their standard errors, and lifetimes;
* ``p_alive`` and ``expected_purchases`` over all of them, and the ``..._one`` methods per record.

:func:`simulate` draws each customer's rate λ ~ Gamma(r, rate α) and dropout probability
p ~ Beta(a, b), a potential number of repeat purchases J ~ Geometric(p) on 1, 2, ... (the customer
drops out right after the J-th), the purchases K ~ Poisson(λT) in (0, T] of a process that never
stops, and keeps x = min(J, K); the time of the x-th of K uniform arrivals in (0, T] is
T · Beta(x, K − x + 1). ``check(n)`` asserts that a fit recovers the parameters within four standard
errors; the test suite runs it (``tests/lifecycle/test_bgnbd.py``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

from user_ops.lifecycle._bgnbd import BGNBD, PARAMS

TRUE = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
CDNOW_SUMMARY = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cdnow" / "cdnow_customers_summary.csv"
)


def simulate(
    n: int, params: dict[str, float] | None = None, *, seed: int = 11, max_age: float = 78.0
) -> dict[str, Any]:
    """``n`` customers of a BG/NBD process: ``frequency``, ``recency``, ``T`` (ages uniform in
    ``[1, max_age]`` periods, i.e. first purchases spread over the observation window)."""
    p = TRUE if params is None else params
    rng = np.random.default_rng(seed)
    big_t = rng.uniform(1.0, max_age, n)
    rate = rng.gamma(p["r"], 1.0 / p["alpha"], n)
    drop = rng.beta(p["a"], p["b"], n)
    potential = rng.geometric(np.clip(drop, 1e-300, 1.0))  # repeat purchases before dropping out
    arrivals = rng.poisson(rate * big_t)
    x = np.minimum(potential, arrivals)
    tx = np.zeros(n)
    bought = x > 0
    tx[bought] = big_t[bought] * rng.beta(x[bought], arrivals[bought] - x[bought] + 1)
    return {"frequency": x.astype(np.int64), "recency": tx, "T": big_t}


def check(n: int = 50_000, *, seed: int = 11) -> BGNBD:
    """Fit simulated data and assert each true parameter is within four standard errors."""
    data = simulate(n, seed=seed)
    model = BGNBD().fit(**data)
    assert model.params_ is not None and model.standard_errors_ is not None
    for name in PARAMS:
        se = model.standard_errors_[name]
        assert se is not None, name
        assert abs(model.params_[name] - TRUE[name]) < 4 * se, (name, model.params_[name], TRUE[name], se)
    return model


def _lifetimes() -> Any:
    try:
        import lifetimes
    except ImportError:
        return None
    return lifetimes


def _fit_rows(
    label: str, data: dict[str, Any], truth: dict[str, float], use_lifetimes: bool
) -> list[list[Any]]:
    seconds, model = best_of(lambda: BGNBD().fit(**data), repeat=3)
    rows = [[label, "user_ops BGNBD", f"{seconds:.3f}", *_param_cells(model.params_, model.standard_errors_)]]
    rows[0].append(f"{model.log_likelihood_:.1f}")
    lifetimes = _lifetimes() if use_lifetimes else None
    if lifetimes is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lt_seconds, fitter = best_of(
                lambda: lifetimes.BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"]),
                repeat=1 if len(data["T"]) > 100_000 else 3,
            )
        params = {k: float(fitter.params_[k]) for k in PARAMS}
        errors = {k: float(fitter.standard_errors_[k]) for k in PARAMS}
        ll = _log_likelihood(params, data)
        rows.append(
            [label, f"lifetimes {lifetimes.__version__}", f"{lt_seconds:.3f}", *_param_cells(params, errors)]
        )
        rows[-1].append(f"{ll:.1f}")
    rows.append([label, "truth" if truth is TRUE else "published (FHL 2005)", "", *_param_cells(truth, None)])
    rows[-1].append(f"{truth['log_likelihood']:.1f}" if "log_likelihood" in truth else "")
    return rows


def _log_likelihood(params: dict[str, float], data: dict[str, Any]) -> float:
    from user_ops.lifecycle._bgnbd import _Likelihood

    x = np.asarray(data["frequency"], dtype=np.float64)
    problem = _Likelihood(x, np.asarray(data["recency"], float), np.asarray(data["T"], float), 0.0)
    return problem.log_likelihood(np.array([params[k] for k in PARAMS]))[0]


def _param_cells(params: Any, errors: Any) -> list[str]:
    cells = []
    for name in PARAMS:
        text = f"{params[name]:.4f}"
        if errors is not None and errors.get(name) is not None:
            text += f" ± {errors[name]:.4f}"
        cells.append(text)
    return cells


def _cdnow() -> dict[str, Any] | None:
    if not CDNOW_SUMMARY.is_file():
        return None
    raw = np.genfromtxt(CDNOW_SUMMARY, delimiter=",", skip_header=1)
    return {"frequency": raw[:, 1].astype(np.int64), "recency": raw[:, 2], "T": raw[:, 3]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scalar-rows", type=int, default=100_000)
    parser.add_argument("--no-lifetimes", action="store_true", help="do not time lifetimes")
    args = parser.parse_args(argv)
    import scipy

    lifetimes = None if args.no_lifetimes else _lifetimes()
    extra = [f"scipy {scipy.__version__}"] + ([f"lifetimes {lifetimes.__version__}"] if lifetimes else [])
    print(f"machine: {machine_description(extra)}\n")
    header = ["data", "fitter", "fit s", "r", "alpha", "a", "b", "log-likelihood"]
    rows: list[list[Any]] = []
    cdnow = _cdnow()
    if cdnow is None:
        print(f"(CDNOW summary not found at {CDNOW_SUMMARY}: skipped)\n")
    else:
        rows += _fit_rows("CDNOW, 2,357", cdnow, PUBLISHED, lifetimes is not None)
    data = simulate(args.rows)
    print(
        f"simulated {args.rows:,} customers, true parameters {TRUE}, "
        f"{np.mean(data['frequency'] == 0):.0%} without a repeat purchase\n"
    )
    rows += _fit_rows(f"synthetic, {args.rows:,}", data, TRUE, lifetimes is not None)
    print("## Fit (best of 3; lifetimes on more than 100,000 rows: one run)\n")
    print_table(header, rows)

    model = BGNBD().fit(**data)
    p_s, _ = best_of(lambda: model.p_alive(**data))
    e_s, _ = best_of(lambda: model.expected_purchases(52, **data))
    records = [
        {"repeat_frequency": int(f), "recency_age": float(r), "T": float(t)}
        for f, r, t in zip(
            data["frequency"][: args.scalar_rows],
            data["recency"][: args.scalar_rows],
            data["T"][: args.scalar_rows],
        )
    ]
    p1_s, _ = best_of(lambda: [model.p_alive_one(rec) for rec in records])
    e1_s, _ = best_of(lambda: [model.expected_purchases_one(52, rec) for rec in records])
    score_rows = [
        ["p_alive (batch)", f"{args.rows:,}", f"{p_s * 1e3:.1f}", f"{p_s / args.rows * 1e9:.0f} ns"],
        [
            "expected_purchases(52) (batch)",
            f"{args.rows:,}",
            f"{e_s * 1e3:.1f}",
            f"{e_s / args.rows * 1e9:.0f} ns",
        ],
        ["p_alive_one", f"{len(records):,}", f"{p1_s * 1e3:.1f}", f"{p1_s / len(records) * 1e6:.2f} µs"],
        [
            "expected_purchases_one(52)",
            f"{len(records):,}",
            f"{e1_s * 1e3:.1f}",
            f"{e1_s / len(records) * 1e6:.2f} µs",
        ],
    ]
    if lifetimes is not None:
        fitter = lifetimes.BetaGeoFitter()
        import pandas as pd

        fitter.params_ = pd.Series(model.params_)
        args3 = (data["frequency"], data["recency"], data["T"])
        lp_s, _ = best_of(lambda: fitter.conditional_probability_alive(*args3))
        le_s, _ = best_of(lambda: fitter.conditional_expected_number_of_purchases_up_to_time(52, *args3))
        score_rows.append(
            ["lifetimes conditional_probability_alive", f"{args.rows:,}", f"{lp_s * 1e3:.1f}", ""]
        )
        score_rows.append(
            [
                "lifetimes conditional_expected_number_of_purchases_up_to_time(52)",
                f"{args.rows:,}",
                f"{le_s * 1e3:.1f}",
                "",
            ]
        )
    print("\n## Scoring\n")
    print_table(["step", "customers", "total ms", "per customer"], score_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
