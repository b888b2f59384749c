"""``aipl_policy``: its rules, stage by stage, bad parameters, JSON, and both paths agreeing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, UserOpsError
from user_ops.datasets import synthetic_events
from user_ops.lifecycle._aipl import AIPL_INTEREST_EVENTS, aipl_policy
from user_ops.lifecycle._policy import LifecyclePolicy
from user_ops.metrics import (
    EVENT_TYPES,
    engagement_metrics,
    engagement_metrics_one,
)

UTC = timezone.utc
AS_OF = datetime(2024, 7, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _stage(events: list[tuple[str, timedelta]], policy: LifecyclePolicy | None = None, **options: Any) -> str:
    """The stage of one customer whose events happened ``ago`` before AS_OF, checked on both paths."""
    policy = policy or aipl_policy()
    rows = [{"customer_id": 1, "event": e, "occurred_at": AS_OF - ago} for e, ago in events]
    record = engagement_metrics_one(rows, as_of=AS_OF, **options)
    one = policy.classify_one(record, as_of=AS_OF).stage
    batch = engagement_metrics(rows, as_of=AS_OF, customers=[1], **options)
    assert policy.classify(batch, as_of=AS_OF)["stage"].tolist() == [one]
    return one


def test_structure_labels_and_actions() -> None:
    policy = aipl_policy()
    assert policy.name == "aipl"
    assert policy.codes == ("loyalty", "purchase", "interest", "awareness", "unaware")
    assert [s.label_zh for s in policy.stages] == ["忠诚", "购买", "兴趣", "认知", "未触达"]
    assert [s.action for s in policy.stages] == ["retain", "repurchase", "convert", "engage", "reach"]
    assert [s.action_zh for s in policy.stages] == [
        "会员运营",
        "促复购",
        "促转化",
        "种草/内容触达",
        "拉新触达",
    ]
    assert all(s.description for s in policy.stages)
    assert policy.fallback.code == "unaware"
    texts = {s.code: s.when.to_text() for s in policy.stages if s.when is not None}
    assert texts == {
        "loyalty": "purchases >= 2 or is_member and purchases >= 1",
        "purchase": "purchases >= 1",
        "interest": "click_30d + favorite_30d + add_to_cart_30d >= 2",
        "awareness": "first_event_at is not null",
    }
    assert AIPL_INTEREST_EVENTS == ("click", "favorite", "add_to_cart")


def test_parameters_change_the_rules() -> None:
    policy = aipl_policy(
        window="7d", interest_events=3, loyal_purchases=4, members_are_loyal=False, awareness_window="180d"
    )
    assert policy["loyalty"].when is not None
    assert policy["loyalty"].when.to_text() == "purchases >= 4"
    assert policy["interest"].when is not None
    assert policy["interest"].when.to_text() == "click_7d + favorite_7d + add_to_cart_7d >= 3"
    assert policy["awareness"].when is not None
    assert policy["awareness"].when.to_text() == "last_event_at within 180d"
    assert "180d" in policy["unaware"].description


def test_parameters_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        aipl_policy("30d")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "options",
    [
        {"window": "30x"},
        {"window": "0d"},
        {"window": 30},
        {"awareness_window": ""},
        {"interest_events": 0},
        {"interest_events": 1.5},
        {"interest_events": True},
        {"loyal_purchases": 1},
        {"members_are_loyal": "yes"},
    ],
)
def test_bad_parameters(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        aipl_policy(**options)


# -- stage by stage -----------------------------------------------------------------------------------
def test_unaware_without_events() -> None:
    assert _stage([]) == "unaware"


def test_awareness_from_any_event() -> None:
    assert _stage([("view", 200 * DAY)]) == "awareness"
    assert _stage([("click", 200 * DAY)]) == "awareness"  # old interest only: still aware
    assert _stage([("member_join", 5 * DAY)]) == "awareness"  # a member who never bought


def test_interest_needs_enough_events_in_the_window() -> None:
    assert _stage([("view", DAY), ("click", DAY)]) == "awareness"  # one event: below the default 2
    assert _stage([("click", DAY), ("favorite", 2 * DAY)]) == "interest"
    assert _stage([("add_to_cart", DAY), ("add_to_cart", 29 * DAY)]) == "interest"
    assert _stage([("click", DAY), ("click", 31 * DAY)]) == "awareness"  # one of them is outside 30d
    assert _stage([("view", DAY)] * 5) == "awareness"  # views are not interest
    strict = aipl_policy(interest_events=3)
    assert _stage([("click", DAY), ("favorite", DAY)], strict) == "awareness"
    assert _stage([("click", DAY), ("favorite", DAY), ("add_to_cart", DAY)], strict) == "interest"


def test_interest_window_must_exist_in_the_metrics() -> None:
    wide = aipl_policy(window="7d")
    assert _stage([("click", DAY), ("click", 6 * DAY)], wide, windows=["7d"]) == "interest"
    assert _stage([("click", DAY), ("click", 8 * DAY)], wide, windows=["7d"]) == "awareness"
    metrics = engagement_metrics(
        [{"customer_id": 1, "event": "click", "occurred_at": AS_OF - DAY}], as_of=AS_OF, windows=["30d"]
    )
    with pytest.raises(UserOpsError, match="click_7d"):
        wide.classify(metrics, as_of=AS_OF)


def test_purchase_and_loyalty() -> None:
    assert _stage([("purchase", 400 * DAY)]) == "purchase"
    assert _stage([("purchase", 10 * DAY), ("purchase", 3 * DAY)]) == "loyalty"
    assert _stage([("member_join", 50 * DAY), ("purchase", 3 * DAY)]) == "loyalty"
    assert _stage(
        [("member_join", 50 * DAY), ("purchase", 3 * DAY)], aipl_policy(members_are_loyal=False)
    ) == ("purchase")
    three = aipl_policy(loyal_purchases=3)
    assert _stage([("purchase", DAY), ("purchase", DAY)], three) == "purchase"
    assert _stage([("purchase", DAY)] * 3, three) == "loyalty"
    assert _stage([("purchase", -DAY), ("purchase", DAY)]) == "purchase"  # the later one is after as_of


def test_awareness_window() -> None:
    recent = aipl_policy(awareness_window="90d")
    assert _stage([("view", 10 * DAY)], recent) == "awareness"
    assert _stage([("view", 100 * DAY)], recent) == "unaware"
    assert _stage([("purchase", 100 * DAY)], recent) == "purchase"


def test_explanations_name_the_rule() -> None:
    policy = aipl_policy()
    rows = [
        {"event": "click", "occurred_at": AS_OF - DAY},
        {"event": "add_to_cart", "occurred_at": AS_OF - DAY},
    ]
    result = policy.classify_one(engagement_metrics_one(rows, as_of=AS_OF), as_of=AS_OF)
    assert result.stage == "interest"
    assert result.matched_rule == "click_30d + favorite_30d + add_to_cart_30d >= 2"
    assert [code for code, _ in result.rejected] == ["loyalty", "purchase"]
    text = str(result)
    assert "click_30d = 1" in text and "add_to_cart_30d = 1" in text
    fallback = policy.classify_one(engagement_metrics_one([], as_of=AS_OF), as_of=AS_OF)
    assert fallback.stage == "unaware" and fallback.matched_rule is None


def test_json_round_trip_and_hash() -> None:
    policy = aipl_policy(window="7d", awareness_window="1y")
    again = LifecyclePolicy.from_json(policy.to_json())
    assert again == policy
    assert again.content_hash() == policy.content_hash()
    assert aipl_policy().content_hash() == aipl_policy().content_hash()
    assert aipl_policy().content_hash() != policy.content_hash()


def test_synthetic_population_reaches_every_stage() -> None:
    log = synthetic_events(400, seed=2)
    metrics = engagement_metrics(log, as_of=AS_OF, customers=range(1000, 1400))
    stages = aipl_policy().classify(metrics, as_of=AS_OF)
    counts = stages.counts()
    assert set(counts) == set(aipl_policy().codes)
    assert all(n > 0 for n in counts.values()), counts
    assert sum(counts.values()) == 400
    assert stages["customer_id"].tolist() == list(range(1000, 1400))


# -- batch = scalar -----------------------------------------------------------------------------------
@st.composite
def populations(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 30))
    rows = [
        {
            "customer_id": draw(st.integers(0, 5)),
            "event": draw(st.sampled_from(EVENT_TYPES)),
            "occurred_at": AS_OF - timedelta(hours=draw(st.integers(-48, 24 * 100))),
        }
        for _ in range(n)
    ]
    policy = aipl_policy(
        window=draw(st.sampled_from(["30d", "7d", "1mo"])),
        interest_events=draw(st.integers(1, 4)),
        loyal_purchases=draw(st.integers(2, 4)),
        members_are_loyal=draw(st.booleans()),
        awareness_window=draw(st.sampled_from([None, "60d"])),
    )
    return {"rows": rows, "policy": policy, "tz": draw(st.sampled_from([None, "Asia/Shanghai"]))}


@settings(max_examples=150, deadline=None)
@given(populations())
def test_classify_equals_classify_one(population: dict[str, Any]) -> None:
    policy: LifecyclePolicy = population["policy"]
    interest = policy["interest"].when
    assert interest is not None
    window = interest.fields[0].removeprefix("click_")
    options = {"as_of": AS_OF, "windows": [window], "tz": population["tz"]}
    rows = population["rows"]
    metrics = engagement_metrics(rows, customers=range(6), **options)
    batch = policy.classify(metrics, as_of=AS_OF, tz=population["tz"])
    for i in range(len(metrics)):
        customer = int(metrics["customer_id"][i])
        mine = [r for r in rows if r["customer_id"] == customer]
        record = engagement_metrics_one(mine, customer_id=customer, **options)
        one = policy.classify_one(record, as_of=AS_OF, tz=population["tz"])
        assert one.stage == batch["stage"][i]
        assert one.action == batch["action"][i]
        assert policy.classify_one(metrics.row(i), as_of=AS_OF, tz=population["tz"]).stage == one.stage


def test_engagement_names_moved_to_metrics_and_the_old_ones_warn() -> None:
    import user_ops.lifecycle
    import user_ops.metrics

    for name in ("engagement_metrics", "engagement_metrics_one", "EVENT_TYPES", "EngagementMetrics"):
        with pytest.warns(DeprecationWarning, match=f"user_ops.metrics.{name}"):
            old = getattr(user_ops.lifecycle, name)
        assert old is getattr(user_ops.metrics, name)
