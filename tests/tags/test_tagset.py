"""Tags: groups and priorities, tag-of-tag references, cycles, both paths, the defaults."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, Table, TagRule, TagSet, default_tags
from user_ops.datasets import synthetic_customers
from user_ops.tags import METRIC_FIELDS

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)


def spend_tags() -> TagSet:
    return TagSet(
        [
            TagRule(name="spend_high", when="monetary >= 2000", group="spend", priority=3),
            TagRule(name="spend_medium", when="monetary >= 500", group="spend", priority=2),
            TagRule(name="spend_low", when="monetary > 0", group="spend", priority=1),
            TagRule(name="loyal_big", when='has_tag("spend_high") and frequency >= 5'),
            TagRule(name="not_big", when='not has_tag("loyal_big")'),
        ]
    )


def test_group_gives_the_highest_priority_match_only() -> None:
    tags = spend_tags()
    assert tags.evaluate_one({"monetary": 2500.0, "frequency": 1}, as_of=AS_OF) == {"spend_high", "not_big"}
    assert tags.evaluate_one({"monetary": 700.0, "frequency": 9}, as_of=AS_OF) == {"spend_medium", "not_big"}
    assert tags.evaluate_one({"monetary": 0.0, "frequency": 0}, as_of=AS_OF) == {"not_big"}


def test_priority_decides_not_definition_order() -> None:
    tags = TagSet(
        [
            TagRule(name="low", when="x > 0", group="g", priority=1),
            TagRule(name="high", when="x > 10", group="g", priority=5),
        ]
    )
    assert tags.evaluate_one({"x": 20}, as_of=AS_OF) == {"high"}
    assert tags.groups() == {"g": ("high", "low")}


def test_tag_of_tag_is_evaluated_after_its_dependency_whatever_the_order() -> None:
    tags = TagSet(
        [
            TagRule(name="b", when='has_tag("a") and y > 1'),
            TagRule(name="a", when="x > 1"),
        ]
    )
    assert tags.evaluate_one({"x": 2, "y": 2}, as_of=AS_OF) == {"a", "b"}
    assert tags.evaluate({"x": [2, 0], "y": [2, 2]}, as_of=AS_OF).counts() == {"b": 1, "a": 1}


def test_cycle_is_rejected_and_named() -> None:
    with pytest.raises(ConfigError, match=r"cycle: a → b → c → a"):
        TagSet(
            [
                TagRule(name="a", when='has_tag("b")'),
                TagRule(name="b", when='has_tag("c")'),
                TagRule(name="c", when='has_tag("a")'),
            ]
        )
    with pytest.raises(ConfigError, match="cycle"):
        TagSet([TagRule(name="a", when='has_tag("a")')])


def test_cycle_through_a_group_is_rejected() -> None:
    with pytest.raises(ConfigError, match="group 'g'"):
        TagSet(
            [
                TagRule(name="x", when='has_tag("other")', group="g", priority=1),
                TagRule(name="other", when='has_tag("y")'),
                TagRule(name="y", when="v > 0", group="g", priority=2),
            ]
        )


def test_long_dependency_chain_does_not_recurse() -> None:
    chain = [TagRule(name="t0", when="x > 0")]
    chain += [TagRule(name=f"t{i}", when=f'has_tag("t{i - 1}")') for i in range(1, 2000)]
    tags = TagSet(list(reversed(chain)))
    assert len(tags.evaluate_one({"x": 1}, as_of=AS_OF)) == 2000


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (lambda: [TagRule(name="a", when="x > 0"), TagRule(name="a", when="x > 1")], "duplicate tag names"),
        (lambda: [TagRule(name="a", when='has_tag("nope")')], "unknown tag"),
        (
            lambda: [TagRule(name="a", when="x > 0", group="g"), TagRule(name="b", when="x > 1", group="g")],
            "share priority 0",
        ),
    ],
)
def test_bad_sets_are_rejected_with_the_reason(tags: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TagSet(tags())


def test_bad_tag_names_and_rules_are_rejected() -> None:
    with pytest.raises(ConfigError, match="identifier"):
        TagRule(name="high spender", when="x > 0")
    with pytest.raises(ConfigError, match="expected"):
        TagRule(name="a", when="x >")
    with pytest.raises(ConfigError, match="colour: unknown field"):
        TagRule(name="a", when="x > 0", colour="red")  # type: ignore[call-arg]


def test_has_tag_outside_a_tag_set_is_a_clear_error() -> None:
    from user_ops import DataError, Rule

    with pytest.raises(DataError, match="only available"):
        Rule.parse('has_tag("vip")').evaluate_one({}, as_of=AS_OF)


records = st.fixed_dictionaries(
    {
        "monetary": st.one_of(st.none(), st.floats(-10, 5000, allow_nan=False)),
        "frequency": st.one_of(st.none(), st.integers(0, 12)),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(records, min_size=1, max_size=20))
def test_scalar_and_batch_agree(rows: list[dict[str, Any]]) -> None:
    tags = spend_tags()
    result = tags.evaluate(Table.from_records(rows), as_of=AS_OF)
    for index, row in enumerate(rows):
        expected = tags.evaluate_one(row, as_of=AS_OF)
        assert {name for name in tags.names if result[name][index]} == expected


def test_json_round_trip_and_hash() -> None:
    tags = spend_tags()
    again = TagSet.from_json(tags.model_dump_json())
    assert again == tags
    assert again.content_hash() == tags.content_hash()
    assert tags.to_dict()["tags"][3]["when"] == 'has_tag("spend_high") and frequency >= 5'
    changed = TagSet([*tags.tags[:-1], TagRule(name="not_big", when='not has_tag("spend_high")')])
    assert changed.content_hash() != tags.content_hash()
    schema = TagSet.json_schema()
    assert "tags" in schema["properties"]


def test_rule_accepts_the_json_ast_in_documents() -> None:
    tag = TagRule.model_validate(
        {
            "name": "a",
            "when": {
                "kind": "cmp",
                "op": ">",
                "left": {"kind": "field", "name": "x"},
                "right": {"kind": "int", "value": 1},
            },
        }
    )
    assert tag.when.to_text() == "x > 1"


def test_explain_one_names_the_failing_leaf_and_the_winner() -> None:
    tags = spend_tags()
    record = {"monetary": 3000.0, "frequency": 2}
    why = tags.explain_one(record, "loyal_big", as_of=AS_OF)
    assert not why.has_tag
    assert [c.text for c in why.rule.culprits] == ["frequency >= 5"]
    assert "frequency = 2" in str(why)
    shadowed = tags.explain_one(record, "spend_medium", as_of=AS_OF)
    assert shadowed.rule.matched and not shadowed.has_tag and shadowed.shadowed_by == "spend_high"


def test_summary_has_labels_counts_and_shares() -> None:
    tags = default_tags()
    result = tags.evaluate(
        {
            "frequency": [5, 1],
            "monetary": [3000.0, 100.0],
            "recency_days": [3, 400],
            "orders_90d": [2, 0],
            "spend_90d": [1.0, 0.0],
            "max_order_value": [2000.0, 100.0],
            "promo_spend_share": [0.1, 0.9],
            "top_price_share": [0.5, 0.0],
            "repurchase_cycle_days": [30.0, None],
            "registered_at": [AS_OF.replace(month=6, day=20), AS_OF.replace(year=2020)],
            "first_order_at": [AS_OF.replace(month=6, day=21), AS_OF.replace(year=2021)],
        },
        as_of=AS_OF,
    )
    summary = result.summary().to_dicts()
    by_tag = {row["tag"]: row for row in summary}
    assert by_tag["spend_high"]["label_zh"] == "消费金额高" and by_tag["spend_high"]["count"] == 1
    assert by_tag["new_member"]["share"] == 0.5
    assert by_tag["promotion_driven"]["count"] == 1
    assert by_tag["lapsed_buyer"]["count"] == 1


def test_default_tags_read_only_documented_metrics_and_have_both_labels() -> None:
    tags = default_tags()
    for tag in tags.tags:
        assert set(tag.when.fields) <= set(METRIC_FIELDS), tag.name
        assert tag.label_en and tag.label_zh


def test_default_tags_thresholds_are_parameters() -> None:
    tags = default_tags(frequency_high=10, promo_share=0.75, new_member_window="7d")
    assert tags["frequency_high"].when.to_text() == "frequency >= 10"
    assert tags["promotion_driven"].when.to_text() == "promo_spend_share >= 0.75"
    assert tags["new_member"].when.to_text() == "registered_at within 1w"


def test_default_tags_on_the_synthetic_shop_agree_in_both_paths() -> None:
    customers = synthetic_customers(300)
    tags = default_tags()
    result = tags.evaluate(customers, as_of=AS_OF)
    counts = result.counts()
    assert 0 < counts["frequency_low"] < 300
    for index, row in enumerate(customers.to_dicts()[:120]):
        assert {n for n in tags.names if result[n][index]} == tags.evaluate_one(row, as_of=AS_OF)


def test_a_used_set_still_equals_an_identical_fresh_one() -> None:
    tags = spend_tags()
    tags.evaluate_one({"monetary": 3000.0, "frequency": 6}, as_of=AS_OF)
    tags.evaluate({"monetary": [3000.0], "frequency": [6]}, as_of=AS_OF)
    assert tags["loyal_big"].references == ("spend_high",)
    assert tags == spend_tags()
    assert tags.tags[3] == TagRule(name="loyal_big", when='has_tag("spend_high") and frequency >= 5')


# -- the id column, as in every batch result ---------------------------------------------------------
def test_evaluate_returns_the_id_column_like_the_other_batch_results() -> None:
    """A user joins tags back to customers by id, as with RFM scores and lifecycle stages."""
    from user_ops import LifecyclePolicy, RFMModel

    customers = synthetic_customers(300, seed=4)
    tags = spend_tags()
    result = tags.evaluate(customers, as_of=AS_OF)
    assert result.columns == ("customer_id", *tags.names)
    assert result.tag_names == tags.names
    assert result["customer_id"].tolist() == customers["customer_id"].tolist()
    # Same place as the other rooms' batch results put it.
    stages = LifecyclePolicy.default().classify(customers, as_of=AS_OF)
    scores = RFMModel.quantile(bins=5).fit(customers).score(customers)
    assert result.columns[0] == stages.columns[0] == scores.columns[0] == "customer_id"
    # counts() and summary() are about tags only.
    assert list(result.counts()) == list(tags.names)
    assert result.summary()["tag"].tolist() == list(tags.names)
    for index in (0, 17, 299):
        row = customers.row(index)
        have = {name for name in tags.names if result[name][index]}
        assert have == tags.evaluate_one(row, as_of=AS_OF)


def test_evaluate_id_column_is_configurable() -> None:
    data = {"member_no": ["m1", "m2"], "monetary": [2500.0, 0.0], "frequency": [6, 0]}
    tags = spend_tags()
    named = tags.evaluate(data, as_of=AS_OF, id_column="member_no")
    assert named.columns[0] == "member_no" and named["member_no"].tolist() == ["m1", "m2"]
    assert named.id_column == "member_no"
    # The default id is absent here: only tags, as before.
    assert tags.evaluate(data, as_of=AS_OF).columns == tags.names
    with_id = {"customer_id": [1, 2], **data}
    assert tags.evaluate(with_id, as_of=AS_OF, id_column=None).columns == tags.names


def test_evaluate_id_column_that_is_a_tag_or_not_a_name_is_a_config_error() -> None:
    tags = TagSet([TagRule(name="customer_id", when="frequency > 0")])
    with pytest.raises(ConfigError, match="'customer_id' is also the name of a tag"):
        tags.evaluate({"frequency": [1]}, as_of=AS_OF)
    assert tags.evaluate({"frequency": [1]}, as_of=AS_OF, id_column="id").columns == ("customer_id",)
    with pytest.raises(ConfigError, match="id_column must be a column name or None, got int"):
        spend_tags().evaluate({"monetary": [1.0], "frequency": [1]}, as_of=AS_OF, id_column=3)  # type: ignore[arg-type]


def test_references_follow_the_rule_text() -> None:
    tag = TagRule(name="mixed", when='has_tag("b") or (x > 1 and has_tag("a")) or has_tag("b")')
    assert tag.references == ("b", "a")
    assert TagRule(name="plain", when="x > 1").references == ()
