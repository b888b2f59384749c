"""LifecyclePolicy: validation, JSON, first-match semantics, both paths agree, explanations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Table
from user_ops.lifecycle import LifecyclePolicy, Stage, StageTable

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)


def stage(code: str, when: str | None = None) -> Stage:
    return Stage(
        code=code,
        label_en=code.title(),
        label_zh=f"{code}期",
        action=f"do_{code}",
        action_en=f"Do {code}",
        action_zh=f"做{code}",
        when=when,
    )


def small() -> LifecyclePolicy:
    return LifecyclePolicy([stage("hot", "x > 10"), stage("warm", "x > 0 or y"), stage("cold")], name="small")


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        (list, "at least one stage"),
        (lambda: [stage("a", "x > 0")], "needs a fallback stage"),
        (lambda: [stage("a"), stage("b", "x > 0")], "must be the last stage"),
        (lambda: [stage("a"), stage("b")], "only the last stage may be the fallback"),
        (lambda: [stage("a", "x > 0"), stage("a")], r"duplicate stage codes: \['a'\]"),
    ],
)
def test_bad_policies_are_rejected_with_the_reason(stages: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LifecyclePolicy(stages())


def test_bad_stages_are_rejected() -> None:
    with pytest.raises(ConfigError, match="expected"):
        stage("a", "x >")
    with pytest.raises(ConfigError, match="identifiers"):
        stage("two words")
    with pytest.raises(ConfigError, match="reserved"):
        stage("new")
    with pytest.raises(ConfigError, match="has_tag"):
        stage("a", 'has_tag("vip")')
    with pytest.raises(ConfigError, match="colour: unknown field"):
        Stage(code="a", label_en="A", label_zh="甲", action="b", action_en="B", action_zh="乙", colour=1)  # type: ignore[call-arg]


def test_json_round_trip_hash_and_schema() -> None:
    policy = LifecyclePolicy.default(p_alive_below=0.2)
    again = LifecyclePolicy.from_json(policy.model_dump_json())
    assert again == policy and again.content_hash() == policy.content_hash()
    assert policy.to_dict()["stages"][0]["when"] == "frequency == 0"
    assert policy.to_dict()["stages"][-1]["when"] is None
    assert LifecyclePolicy.default(p_alive_below=0.3).content_hash() != policy.content_hash()
    assert "stages" in LifecyclePolicy.json_schema()["properties"]
    assert LifecyclePolicy.from_json(small().to_json()) == small()


def test_lifecycle_order_is_the_display_order_not_the_rule_order() -> None:
    order = ("cold", "warm", "hot")
    policy = LifecyclePolicy(small().stages, lifecycle_order=order)
    stages = policy.classify({"x": [20, 5, 0, 30], "y": [False] * 4}, as_of=AS_OF)
    assert stages["stage"].tolist() == ["hot", "warm", "cold", "hot"]  # rules still tried hot first
    assert policy.lifecycle_codes == order and small().lifecycle_codes == small().codes
    assert list(stages.counts().items()) == [("cold", 1), ("warm", 1), ("hot", 2)]
    assert stages.summary()["stage"].tolist() == list(order)
    assert LifecyclePolicy.from_json(policy.to_json()) == policy
    assert policy.content_hash() != LifecyclePolicy(small().stages).content_hash()
    with pytest.raises(ConfigError, match=r"lifecycle_order must list every stage once; it lacks \['cold'\]"):
        LifecyclePolicy(small().stages, lifecycle_order=("hot", "warm"))
    with pytest.raises(ConfigError, match=r"repeats \['hot'\]; names unknown stages \['lost'\]"):
        LifecyclePolicy(small().stages, lifecycle_order=("hot", "hot", "warm", "cold", "lost"))


def test_first_match_wins_and_fallback_takes_the_rest() -> None:
    policy = small()
    table = {"x": [20, 5, 0, None, None], "y": [False, False, False, True, None]}
    result = policy.classify(table, as_of=AS_OF)
    assert isinstance(result, StageTable)
    assert result["stage"].tolist() == ["hot", "warm", "cold", "warm", "cold"]
    assert result["action_zh"].tolist()[0] == "做hot"
    assert result.counts() == {"hot": 1, "warm": 2, "cold": 2}
    assert result.columns == ("stage", "stage_en", "stage_zh", "action", "action_en", "action_zh")
    with_ids = policy.classify({"customer_id": ["a", "b"], "x": [1, 2], "y": [True, False]}, as_of=AS_OF)
    assert with_ids.columns[0] == "customer_id" and with_ids["customer_id"].tolist() == ["a", "b"]


def test_classify_one_explains_the_matched_rule_and_the_earlier_ones() -> None:
    policy = small()
    result = policy.classify_one({"x": 5, "y": False}, as_of=AS_OF)
    assert (result.stage, result.action, result.matched_rule) == ("warm", "do_warm", "x > 0 or y")
    assert result.explanation is not None and result.explanation.matched
    assert [code for code, _ in result.rejected] == ["hot"]
    assert [c.text for c in result.rejected[0][1].culprits] == ["x > 10"]
    fallback = policy.classify_one({"x": None, "y": None}, as_of=AS_OF)
    assert fallback.stage == "cold" and fallback.matched_rule is None and fallback.explanation is None
    assert fallback.is_fallback and len(fallback.rejected) == 2
    text = str(fallback)
    assert "not hot" in text and "fallback" in text
    assert "<details>" in fallback._repr_html_()


def test_classify_one_stops_at_the_first_match() -> None:
    # the later rule reads a field the record lacks: never evaluated when an earlier stage matched
    policy = LifecyclePolicy([stage("a", "x > 0"), stage("b", "missing > 0"), stage("c")])
    assert policy.classify_one({"x": 1}, as_of=AS_OF).stage == "a"
    with pytest.raises(DataError, match="missing"):
        policy.classify_one({"x": 0}, as_of=AS_OF)


def test_naive_as_of_is_rejected() -> None:
    with pytest.raises(DataError):
        small().classify({"x": [1], "y": [True]}, as_of=datetime(2024, 6, 30))
    with pytest.raises(DataError):
        small().classify_one({"x": 1, "y": True}, as_of=datetime(2024, 6, 30))


def test_structure_and_display() -> None:
    policy = LifecyclePolicy.default()
    assert policy.fallback.code == "unclassified" and policy.index("dormancy") == 2
    assert policy["churn"].action_zh == "挽回"
    assert set(policy.fields) == {"frequency", "recency_days", "repurchase_cycle_days", "first_order_at"}
    with pytest.raises(KeyError, match="no stage 'x'"):
        policy["x"]
    html = policy._repr_html_()
    assert "休眠期" in html and "recency_days &gt;" in html
    assert policy.describe()["stage"].tolist() == list(policy.codes)


records = st.fixed_dictionaries(
    {
        "frequency": st.one_of(st.none(), st.integers(0, 8)),
        "recency_days": st.one_of(st.none(), st.integers(0, 800)),
        "repurchase_cycle_days": st.one_of(st.none(), st.floats(0.5, 400, allow_nan=False)),
        "first_order_days_ago": st.one_of(st.none(), st.integers(0, 900)),
        "p_alive": st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
        "monetary": st.one_of(st.none(), st.floats(0, 5000, allow_nan=False)),
    }
)


def _record(raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    days = out.pop("first_order_days_ago")
    out["first_order_at"] = None if days is None else AS_OF - timedelta(days=days, hours=3)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(records, min_size=1, max_size=25),
    st.sampled_from([{}, {"p_alive_below": 0.25}, {"mature_monetary": 1000.0, "churn_max_days": None}]),
)
def test_classify_and_classify_one_agree(rows: list[dict[str, Any]], options: dict[str, Any]) -> None:
    policy = LifecyclePolicy.default(**options)
    records_ = [_record(r) for r in rows]
    table = Table.from_records(records_)
    result = policy.classify(table, as_of=AS_OF, tz="Asia/Shanghai")
    for index, record in enumerate(records_):
        one = policy.classify_one(record, as_of=AS_OF, tz="Asia/Shanghai")
        assert one.to_dict() == {name: result[name][index] for name in one.to_dict()}
        assert one.position == result.index[index]  # type: ignore[index]
        if one.explanation is not None:
            assert one.explanation.matched
        assert all(not why.matched for _, why in one.rejected)


def test_stage_table_counts_without_policy() -> None:
    table = StageTable({"stage": ["a", "b", "a"]})
    assert table.counts() == {"a": 2, "b": 1}
    assert np.asarray(table["stage"]).dtype == object
