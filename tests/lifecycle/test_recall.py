"""recall_plan(): lapsed customers grouped by RFM segment or tag, ordered by revenue at stake."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from user_ops import ConfigError, DataError, TagRule, TagSet
from user_ops.datasets import DEFAULT_AS_OF, synthetic_shop
from user_ops.lifecycle import LifecyclePolicy, recall_plan, stage_summary
from user_ops.rfm import RFMModel

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
POLICY = LifecyclePolicy.default()
FIRST = datetime(2021, 1, 1, tzinfo=timezone.utc)
METRICS = {
    "customer_id": [1, 2, 3, 4, 5, 6],
    "frequency": [5, 1, 2, 1, 0, 3],
    "recency_days": [200, 400, 70, 2, None, 500],
    "first_order_at": [FIRST, FIRST, FIRST, FIRST, None, FIRST],
    "repurchase_cycle_days": [40.0, None, 30.0, None, None, 60.0],
    "monetary": [2000.0, 80.0, 300.0, 50.0, 0.0, 900.0],
}


def test_rfm_plan_is_ordered_by_revenue_at_stake_with_sizes_and_audiences() -> None:
    stages = POLICY.classify(METRICS, as_of=AS_OF)
    assert stages["stage"].tolist() == ["churn", "churn", "dormancy", "introduction", "prospect", "churn"]
    scores = RFMModel.thresholds(recency=[90], frequency=[2], monetary=[500]).score(METRICS)
    plan = recall_plan(stages, scores, METRICS)
    assert plan["revenue_at_stake"].tolist() == sorted(plan["revenue_at_stake"].tolist(), reverse=True)
    assert int(plan["size"].sum()) == 4  # dormancy + churn customers, each once
    assert float(plan["revenue_at_stake"].sum()) == 2000.0 + 80.0 + 300.0 + 900.0
    assert abs(float(plan["share"].sum()) - 1.0) < 1e-12
    first = plan.row(0)
    assert (first["stage"], first["segment"], first["size"]) == ("churn", "important_retain", 2)
    assert first["suggestion_en"].startswith("Win back: ") and first["suggestion_zh"].startswith("挽回：")
    assert plan.customers("churn", "important_retain").tolist() == [1, 6]
    audiences = plan.audiences()
    assert sum(len(ids) for ids in audiences.values()) == 4
    assert list(audiences) == list(zip(plan["stage"].tolist(), plan["segment"].tolist(), strict=True))
    with pytest.raises(KeyError, match="no recall group"):
        plan.customers("maturity", "important_retain")


def test_tag_plan_partitions_by_the_first_tag() -> None:
    stages = POLICY.classify(METRICS, as_of=AS_OF)
    tags = TagSet(
        [
            TagRule(name="big", when="monetary >= 800", label_zh="大客户"),
            TagRule(name="repeat", when="frequency >= 2", label_zh="复购"),
        ]
    ).evaluate(METRICS, as_of=AS_OF)
    plan = recall_plan(stages, tags, METRICS)
    groups = {(r["stage"], r["segment"]): r["size"] for r in plan.to_dicts()}
    assert groups == {("churn", "big"): 2, ("dormancy", "repeat"): 1, ("churn", "untagged"): 1}
    assert plan.row(0)["segment_zh"] == "大客户"
    only_repeat = recall_plan(stages, tags, METRICS, tags=["repeat"])
    assert {(r["stage"], r["segment"]) for r in only_repeat.to_dicts()} == {
        ("churn", "repeat"),
        ("churn", "untagged"),
        ("dormancy", "repeat"),
    }


def test_options_and_errors() -> None:
    stages = POLICY.classify(METRICS, as_of=AS_OF)
    scores = RFMModel.thresholds(recency=[90], frequency=[2], monetary=[500]).score(METRICS)
    churn_only = recall_plan(stages, scores, METRICS, stages=["churn"])
    assert set(churn_only["stage"].tolist()) == {"churn"}
    by_value = recall_plan(stages, scores, dict(METRICS, monetary=[1.0, -5.0, None, 0.0, 0.0, 2.0]))
    assert float(by_value["revenue_at_stake"].sum()) == 3.0  # negatives and nulls count as 0
    with pytest.raises(ConfigError, match="not stages of the policy"):
        recall_plan(stages, scores, METRICS, stages=["sleepy"])
    with pytest.raises(DataError, match="rows"):
        recall_plan(stages, scores, {"monetary": [1.0]})
    with pytest.raises(DataError, match="same order"):
        recall_plan(stages, scores, dict(METRICS, customer_id=[6, 5, 4, 3, 2, 1]))
    with pytest.raises(DataError, match="tag table"):
        recall_plan(stages, {"x": [1, 2, 3, 4, 5, 6]}, METRICS)


def test_labels_come_from_the_given_map_or_tag_set_when_segments_are_a_plain_table() -> None:
    stages = POLICY.classify(METRICS, as_of=AS_OF)
    model = RFMModel.thresholds(recency=[90], frequency=[2], monetary=[500])
    scores = model.score(METRICS)
    plain = scores.select(["segment"]).to_dicts()  # what a DataFrame round trip leaves
    bare = recall_plan(stages, {"segment": [r["segment"] for r in plain]}, METRICS)
    assert bare.row(0)["segment_action_en"] == ""
    labelled = recall_plan(stages, {"segment": [r["segment"] for r in plain]}, METRICS, labels=model)
    assert labelled.equals(recall_plan(stages, scores, METRICS))
    assert labelled.equals(
        recall_plan(stages, {"segment": [r["segment"] for r in plain]}, METRICS, labels=model.segment_map)
    )
    tag_set = TagSet([TagRule(name="big", when="monetary >= 800", label_zh="大客户")])
    tags = {"big": tag_set.evaluate(METRICS, as_of=AS_OF)["big"]}
    assert recall_plan(stages, tags, METRICS, labels=tag_set).row(0)["segment_zh"] == "大客户"
    with pytest.raises(ConfigError, match="labels: RFM segments take their labels from a SegmentMap"):
        recall_plan(stages, scores, METRICS, labels=tag_set)
    with pytest.raises(ConfigError, match="labels: a tag table's labels come from a TagSet"):
        recall_plan(stages, tags, METRICS, labels=model)


def test_demo_shop_plan_and_summary_reconcile() -> None:
    metrics = synthetic_shop(2000).customer_metrics()
    stages = LifecyclePolicy.default_for(metrics).classify(metrics, as_of=DEFAULT_AS_OF)
    scores = RFMModel.quantile().fit(metrics).score(metrics)
    plan = recall_plan(stages, scores, metrics)
    summary = stage_summary(stages, metrics)
    lapsed = summary.to_dicts()
    by_stage = {r["stage"]: r for r in lapsed}
    assert int(plan["size"].sum()) == by_stage["dormancy"]["count"] + by_stage["churn"]["count"]
    assert np.isclose(
        plan["revenue_at_stake"].sum(), by_stage["dormancy"]["revenue"] + by_stage["churn"]["revenue"]
    )
    assert int(summary["count"].sum()) == 2000
    assert np.isclose(summary["revenue"].sum(), np.asarray(metrics["monetary"]).sum())
    assert np.isclose(np.nansum(summary["revenue_share"]), 1.0)
    assert np.isclose(summary["share"].sum(), 1.0)


def test_stage_summary_details() -> None:
    stages = POLICY.classify(METRICS, as_of=AS_OF)
    summary = stage_summary(stages, METRICS)
    rows = {r["stage"]: r for r in summary.to_dicts()}
    assert rows["churn"]["count"] == 3 and rows["churn"]["revenue"] == 2980.0
    assert rows["churn"]["mean_recency_days"] == pytest.approx((200 + 400 + 500) / 3)
    assert rows["maturity"]["count"] == 0 and np.isnan(
        summary["mean_monetary"][POLICY.lifecycle_codes.index("maturity")]
    )
    assert rows["dormancy"]["label_zh"] == "休眠期" and rows["dormancy"]["action_zh"] == "唤醒"
    assert summary["stage"].tolist() == list(POLICY.lifecycle_codes)  # the order customers live them
    plain = stage_summary({"stage": ["b", "a", "b"]})
    assert plain["stage"].tolist() == ["a", "b"] and plain["count"].tolist() == [1, 2]
    with pytest.raises(DataError, match="empty"):
        stage_summary({"stage": []}, policy=POLICY)
    with pytest.raises(DataError, match="same order"):
        stage_summary(stages, dict(METRICS, customer_id=[6, 5, 4, 3, 2, 1]))
    assert stages.summary(METRICS).equals(summary)
