"""Numbers a person reads: money in summaries to the minor unit, fitted thresholds rounded at the source,
floats printed shortest round-trip (never ``36.392872106481484`` in a rule, never ``np.float64(...)``)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pytest

from user_ops import ConfigError, LifecyclePolicy, RFMModel
from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers
from user_ops.lifecycle import stage_summary
from user_ops.rfm import segment_summary
from user_ops.rules import ExplainNode

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
#: A float with more digits than a person writes (a fitted median, a sum with binary noise).
LONG_FLOAT = re.compile(r"\d+\.\d{6,}")


def _noisy_customers() -> dict[str, list[object]]:
    """Customers whose median repurchase cycle is a long float, and whose spend sums carry noise."""
    cycles = [30.5, 36.392872106481484, 50.25, None, None]
    return {
        "customer_id": [1, 2, 3, 4, 5],
        "frequency": [3, 5, 2, 1, 0],
        "recency_days": [10, 200, 40, 5, None],
        "monetary": [0.1, 0.2, 1234.565, 99.99, 0.0],
        "repurchase_cycle_days": cycles,
        "first_order_at": [AS_OF.replace(year=2023)] * 4 + [None],
    }


def test_default_for_writes_the_fitted_cycle_as_whole_days_in_rules_labels_and_views() -> None:
    customers = _noisy_customers()
    policy = LifecyclePolicy.default_for(customers)
    texts = [stage.when.to_text() for stage in policy.stages if stage.when is not None]
    assert any("coalesce(repurchase_cycle_days, 36)" in text for text in texts)
    shown = [*texts, *(stage.description or "" for stage in policy.stages), policy._repr_html_()]
    for text in shown:
        assert not LONG_FLOAT.search(text), text
    result = policy.classify_one({key: values[3] for key, values in customers.items()}, as_of=AS_OF)
    assert result.matched_rule is not None
    for line in [result.matched_rule, *(str(why) for _, why in result.rejected)]:
        assert "36.39" not in line and not LONG_FLOAT.search(line), line
    # A short cycle keeps two significant digits; an explicit one is the caller's and is kept.
    short = LifecyclePolicy.default_for({"repurchase_cycle_days": [7.2449, 7.25, 9.0]})
    assert "coalesce(repurchase_cycle_days, 7.2)" in short["dormancy"].when.to_text()
    exact = LifecyclePolicy.default_for(customers, population_cycle_days=36.5)
    assert "coalesce(repurchase_cycle_days, 36.5)" in exact["dormancy"].when.to_text()


def test_stage_summary_rounds_money_to_the_currency_minor_unit() -> None:
    customers = _noisy_customers()
    stages = LifecyclePolicy.default().classify(customers, as_of=AS_OF)
    summary = stage_summary(stages, customers)
    by_stage = {row["stage"]: row for row in summary.to_dicts()}
    spent = np.array(customers["monetary"], dtype=float)
    for code, row in by_stage.items():
        in_stage = np.asarray(stages["stage"]) == code
        assert row["revenue"] == round(float(spent[in_stage].sum()), 2)
        if in_stage.any():
            assert row["mean_monetary"] == round(float(spent[in_stage].mean()), 2)
    for name in ("revenue", "mean_monetary"):
        values = [v for v in summary[name].tolist() if v == v]  # NaN: an empty stage
        assert all(round(v, 2) == v for v in values) and not any(LONG_FLOAT.search(repr(v)) for v in values)
    # The shares keep every digit (they are not money) and come from the exact amounts.
    assert summary["revenue_share"].tolist() == stage_summary(stages, customers)["revenue_share"].tolist()
    yen = stages.summary(customers, currency="JPY")
    assert all(float(v).is_integer() for v in yen["revenue"].tolist())
    with pytest.raises(ConfigError, match="currency"):
        stage_summary(stages, customers, currency="yen")


def test_segment_summary_rounds_money_on_a_real_sized_population() -> None:
    customers = synthetic_customers(2000, seed=1)
    scores = RFMModel.quantile().fit(customers).score(customers)
    summary = segment_summary(scores, customers)
    segments = np.asarray(scores["segment"])
    spent = np.nan_to_num(np.ma.filled(np.ma.asarray(customers["monetary"]).astype(float), np.nan))
    for row in summary.to_dicts():
        mask = segments == row["segment"]
        assert row["revenue"] == round(float(spent[mask].sum()), 2)
        for name in ("revenue", "mean_monetary"):
            assert not LONG_FLOAT.search(repr(row[name])), (name, row[name])
    html = summary._repr_html_()
    revenue_cells = re.findall(r"<td>(\d+\.\d+)</td>", html)
    assert revenue_cells  # the view shows them as shortest round-trip text
    assert scores.summary(customers, currency="USD").equals(summary)  # USD has two decimals too
    with pytest.raises(ConfigError, match="currency"):
        segment_summary(scores, customers, currency=3)  # type: ignore[arg-type]


def test_demo_sections_built_on_the_summaries_show_no_long_floats() -> None:
    customers = synthetic_customers(1000, seed=3)
    policy = LifecyclePolicy.default_for(customers)
    summary = policy.classify(customers, as_of=DEFAULT_AS_OF).summary(customers)
    for row in summary.to_dicts():
        for name in ("revenue", "mean_monetary"):
            value = row[name]
            assert value != value or not LONG_FLOAT.search(repr(value)), (name, value)


def test_explanations_print_numpy_numbers_as_a_person_writes_them() -> None:
    node = ExplainNode(
        text="x > 1",
        kind="cmp",
        type="bool",
        value=False,
        culprit=True,
        inputs=(("x", np.float64(0.1)), ("n", np.int64(3)), ("f", np.float32(0.1)), ("b", np.bool_(True))),
    )
    line = node.line()
    assert "x = 0.1" in line and "n = 3" in line and "f = 0.1" in line and "b = true" in line
    assert "np." not in line
