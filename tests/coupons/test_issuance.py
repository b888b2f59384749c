"""Targeted issuance (定向发券): reasons, caps, budget, priority, bad input, scalar/batch agreement."""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Money, Table, TagRule, TagSet
from user_ops._scale import in_memory_pair_reducer, split_by_key
from user_ops.coupons import (
    Benefit,
    CouponTemplate,
    FrequencyCap,
    IssuanceBudget,
    IssuanceCaps,
    IssuanceReason,
    Validity,
    plan_issuance,
    plan_issuance_one,
)
from user_ops.coupons.partitioned import plan_issuance_partitioned

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_issuance

AS_OF = datetime(2024, 7, 1, tzinfo=timezone.utc)
OFF20 = CouponTemplate(id="back20", currency="CNY", benefit=Benefit(kind="amount_off", amount="20 CNY"))
PCT = CouponTemplate(id="pct", currency="CNY", benefit=Benefit(kind="percent_off", percent="10"))


def days_ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def reasons(plan: Any) -> list[str]:
    return list(plan.table["reason"])


# -- every reason, in check order ----------------------------------------------------------------------------


def test_each_check_gives_its_reason_and_the_first_failing_check_wins() -> None:
    customers = {
        "customer_id": [1, 2, 3, 4, 5, 6, 7, 8],
        "stage": [
            "active",
            "churning",
            "churning",
            "churning",
            "churning",
            "churning",
            "churning",
            "churning",
        ],
        "dnd": [False, False, True, False, False, False, False, False],
        "monetary": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 300.0, 200.0],
    }
    history = {
        "customer_id": [5, 6, 6, 1],
        "at": [days_ago(1), days_ago(10), days_ago(20), days_ago(1)],
        "campaign": ["a", "b", "c", "d"],
    }
    plan = plan_issuance(
        OFF20,
        customers,
        audience='stage == "churning"',
        as_of=AS_OF,
        contact_history=history,
        caps=IssuanceCaps(
            quiet_period="3d", frequency=(FrequencyCap(limit=2, window="30d"),), opt_out_column="dnd"
        ),
        budget=IssuanceBudget(count=2, value="1000 CNY", priority="monetary"),
        holders=[4, 3],
    )
    assert reasons(plan) == [
        "NOT_IN_AUDIENCE",  # 1: also quiet, but the audience check runs first
        "BUDGET_COUNT",  # 2: eligible, rank 3 with a budget of 2
        "OPTED_OUT",  # 3: also a holder
        "ALREADY_HOLDS",
        "QUIET_PERIOD",
        "FREQUENCY_CAP",  # 6: two campaigns in 30 days
        "SELECTED",
        "SELECTED",
    ]
    assert list(plan.table["rank"].filled(0)) == [0, 3, 0, 0, 0, 0, 1, 2]
    assert list(plan.table["selected"]) == [False] * 6 + [True] * 2
    assert plan.counts["SELECTED"] == plan.selected == 2 and sum(plan.counts.values()) == 8
    assert list(plan.counts) == [reason.value for reason in IssuanceReason]
    assert plan.face_value_total == Money("40", "CNY")
    assert list(plan.selected_ids()) == [7, 8]
    assert "back20: 2 of 8 customers selected (face value 40.00 CNY)" in plan.summary()
    assert "user-ops-issuance" in plan._repr_html_()


def test_the_template_audience_must_match_too() -> None:
    vip_only = CouponTemplate(
        id="vip",
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount="5 CNY"),
        audience='tier == "gold"',
    )
    customers = {
        "customer_id": ["a", "b", "c"],
        "tier": ["gold", "gold", "silver"],
        "segment": ["x", "y", "x"],
    }
    plan = plan_issuance(vip_only, customers, audience='segment == "x"', as_of=AS_OF)
    assert reasons(plan) == ["SELECTED", "NOT_IN_AUDIENCE", "NOT_IN_AUDIENCE"]


def test_audience_over_tags_lists() -> None:
    customers = {"customer_id": [1, 2, 3], "tags": [["vip", "new"], [], None]}
    plan = plan_issuance(OFF20, customers, audience='tags contains "vip"', as_of=AS_OF)
    assert reasons(plan) == ["SELECTED", "NOT_IN_AUDIENCE", "NOT_IN_AUDIENCE"]


# -- audiences over tags (has_tag) ----------------------------------------------------------------------
SHOP_TAGS = TagSet(
    [
        TagRule(name="spend_high", when="monetary >= 1000", group="spend", priority=2),
        TagRule(name="spend_mid", when="monetary >= 300", group="spend", priority=1),
        TagRule(name="lapsing", when='stage == "churning"'),
        TagRule(
            name="win_back", when='has_tag("lapsing") and (has_tag("spend_high") or has_tag("spend_mid"))'
        ),
    ]
)


def test_an_audience_can_use_tags_of_a_tag_set_evaluated_first() -> None:
    # 沉默用户召回: churning customers who spent at least 300 (the tag set's win_back), gold tier excluded.
    customers = {
        "customer_id": [1, 2, 3, 4, 5],
        "stage": ["churning", "churning", "active", "churning", None],
        "monetary": [1200.0, 250.0, 5000.0, 300.0, 900.0],
        "tier": ["silver", "silver", "gold", "gold", "silver"],
    }
    audience = 'has_tag("win_back") and tier != "gold"'
    plan = plan_issuance(OFF20, customers, audience=audience, as_of=AS_OF, tags=SHOP_TAGS)
    # 1: lapsing + spend_high → win_back; 2: spend below 300; 3: active; 4: gold; 5: stage null.
    assert reasons(plan) == [
        "SELECTED",
        "NOT_IN_AUDIENCE",
        "NOT_IN_AUDIENCE",
        "NOT_IN_AUDIENCE",
        "NOT_IN_AUDIENCE",
    ]
    for row, record in enumerate(Table(customers).to_dicts()):
        one = plan_issuance_one(OFF20, record, audience=audience, as_of=AS_OF, tags=SHOP_TAGS)
        assert one.reason.value == reasons(plan)[row]
    # The template's own audience may use the tags too.
    vip = CouponTemplate(
        id="vip",
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount="20 CNY"),
        audience='has_tag("spend_high")',
    )
    assert plan_issuance(vip, customers, as_of=AS_OF, tags=SHOP_TAGS).selected_ids().tolist() == [1, 3]


def test_has_tag_without_the_tag_set_or_the_tag_is_a_config_error() -> None:
    customers = {"customer_id": [1], "monetary": [10.0], "stage": ["new"]}
    with pytest.raises(ConfigError, match=r"has_tag\('win_back'\).*tags=TagSet"):
        plan_issuance(OFF20, customers, audience='has_tag("win_back")', as_of=AS_OF)
    with pytest.raises(ConfigError, match=r"has_tag\('win_back'\).*tags=TagSet"):
        plan_issuance_one(OFF20, customers, audience='has_tag("win_back")', as_of=AS_OF)
    with pytest.raises(ConfigError, match=r"no tag 'platinum' in tags"):
        plan_issuance(OFF20, customers, audience='has_tag("platinum")', as_of=AS_OF, tags=SHOP_TAGS)
    with pytest.raises(ConfigError, match=r"no tag 'platinum' in tags"):
        plan_issuance_one(OFF20, {}, audience='has_tag("platinum")', as_of=AS_OF, tags=SHOP_TAGS)
    with pytest.raises(DataError, match="tags must be a TagSet"):
        plan_issuance(OFF20, customers, as_of=AS_OF, tags=["vip"])  # type: ignore[arg-type]


# -- frequency caps and quiet periods ------------------------------------------------------------------------


def test_windows_are_half_open_at_both_ends() -> None:
    customers = {"customer_id": [1, 2, 3]}
    history = {"customer_id": [1, 2, 3], "at": [days_ago(7), days_ago(7) + timedelta(microseconds=1), AS_OF]}
    plan = plan_issuance(
        OFF20, customers, as_of=AS_OF, contact_history=history, caps=IssuanceCaps(quiet_period="7d")
    )
    # 7 days ago exactly is inside [as_of - 7d, as_of); a contact at as_of itself is not in the past yet.
    assert reasons(plan) == ["QUIET_PERIOD", "QUIET_PERIOD", "SELECTED"]
    later = plan_issuance(
        OFF20, customers, as_of=AS_OF, contact_history=history, caps=IssuanceCaps(quiet_period="6d")
    )
    assert reasons(later) == ["SELECTED", "SELECTED", "SELECTED"]


def test_caps_count_across_campaigns_and_filter_channels_and_kinds() -> None:
    customers = {"customer_id": [1, 2, 3]}
    history = {
        "customer_id": [1, 1, 2, 2, 3, 3],
        "at": [days_ago(d) for d in (1, 2, 1, 2, 1, 40)],
        "campaign": ["spring", "summer", "spring", "spring", "spring", "winter"],
        "channel": ["sms", "wechat", "sms", "sms", "sms", "sms"],
        "kind": ["coupon", "coupon", "coupon", "message", "coupon", "coupon"],
    }
    any_two = IssuanceCaps(frequency=(FrequencyCap(limit=2, window="30d"),))
    assert reasons(plan_issuance(OFF20, customers, as_of=AS_OF, contact_history=history, caps=any_two)) == [
        "FREQUENCY_CAP",
        "FREQUENCY_CAP",
        "SELECTED",  # the second contact is outside the 30-day window
    ]
    sms_two = IssuanceCaps(frequency=(FrequencyCap(limit=2, window="30d", channels=("sms",)),))
    assert reasons(plan_issuance(OFF20, customers, as_of=AS_OF, contact_history=history, caps=sms_two)) == [
        "SELECTED",
        "FREQUENCY_CAP",
        "SELECTED",
    ]
    coupons_two = IssuanceCaps(frequency=(FrequencyCap(limit=2, window="30d", kinds=("coupon",)),))
    assert reasons(
        plan_issuance(OFF20, customers, as_of=AS_OF, contact_history=history, caps=coupons_two)
    ) == [
        "FREQUENCY_CAP",
        "SELECTED",
        "SELECTED",
    ]
    nobody = IssuanceCaps(frequency=(FrequencyCap(limit=0, window="1d"),))
    assert set(
        reasons(plan_issuance(OFF20, customers, as_of=AS_OF, contact_history=history, caps=nobody))
    ) == {"FREQUENCY_CAP"}


def test_calendar_month_windows_use_the_business_time_zone() -> None:
    as_of = datetime(2024, 2, 29, 18, 0, tzinfo=timezone.utc)  # 2024-03-01 02:00 in Shanghai
    history = {"customer_id": [1], "at": [datetime(2024, 1, 30, 12, 0, tzinfo=timezone.utc)]}
    caps = IssuanceCaps(frequency=(FrequencyCap(limit=1, window="1mo"),))
    one = {"customer_id": [1]}
    # Shanghai: one month back is 02-01 02:00 local (01-31 18:00 UTC): the contact is before it.
    shanghai = plan_issuance(OFF20, one, as_of=as_of, contact_history=history, caps=caps, tz="Asia/Shanghai")
    assert reasons(shanghai) == ["SELECTED"]
    # UTC: one month back is 01-29 18:00 UTC: the contact is inside.
    assert reasons(plan_issuance(OFF20, one, as_of=as_of, contact_history=history, caps=caps)) == [
        "FREQUENCY_CAP"
    ]
    # Without tz=, the template's zone (validity.tz), else UTC: never the zone as_of is written in.
    local_as_of = as_of.astimezone(ZoneInfo("Asia/Shanghai"))
    assert reasons(plan_issuance(OFF20, one, as_of=local_as_of, contact_history=history, caps=caps)) == [
        "FREQUENCY_CAP"
    ]
    shop = OFF20.model_copy(update={"validity": Validity(tz="Asia/Shanghai")})
    assert reasons(plan_issuance(shop, one, as_of=as_of, contact_history=history, caps=caps)) == ["SELECTED"]
    assert plan_issuance_one(shop, {}, as_of=as_of, contacts=[{"at": history["at"][0]}], caps=caps).selected


def test_contacts_of_unknown_customers_and_empty_history_are_ignored() -> None:
    history = {"customer_id": [99, 98], "at": [days_ago(1), days_ago(2)]}
    caps = IssuanceCaps(quiet_period="7d")
    assert reasons(
        plan_issuance(OFF20, {"customer_id": [1, 2]}, as_of=AS_OF, contact_history=history, caps=caps)
    ) == [
        "SELECTED",
        "SELECTED",
    ]
    empty = Table(
        {"customer_id": np.zeros(0, dtype=np.int64), "at": np.zeros(0, dtype="datetime64[us]")}, tz="UTC"
    )
    assert (
        plan_issuance(OFF20, {"customer_id": [1]}, as_of=AS_OF, contact_history=empty, caps=caps).selected
        == 1
    )


# -- budget and priority -------------------------------------------------------------------------------------


def test_priority_descending_nulls_last_ties_by_id() -> None:
    customers = {"customer_id": [5, 3, 9, 1, 7], "p_alive": [0.5, None, 0.9, 0.5, 0.1]}
    plan = plan_issuance(OFF20, customers, as_of=AS_OF, budget=IssuanceBudget(priority="p_alive"))
    assert list(plan.table["rank"]) == [3, 5, 1, 2, 4]
    assert list(plan.selected_ids()) == [9, 1, 5, 7, 3]
    ascending = plan_issuance(
        OFF20, customers, as_of=AS_OF, budget=IssuanceBudget(priority="p_alive", ascending=True)
    )
    assert list(ascending.selected_ids()) == [7, 1, 5, 9, 3]
    assert list(plan.table["priority"][:3]) == [0.5, pytest.approx(np.nan, nan_ok=True), 0.9]


def test_integer_and_decimal_priorities_and_default_id_order() -> None:
    ints = {"customer_id": ["b", "a", "c"], "orders": [2, 2, 2**62]}
    assert list(
        plan_issuance(OFF20, ints, as_of=AS_OF, budget=IssuanceBudget(priority="orders")).selected_ids()
    ) == [
        "c",
        "a",
        "b",
    ]
    decimals = {"customer_id": [1, 2, 3], "monetary": [Decimal("10.5"), None, Decimal("99")]}
    plan = plan_issuance(OFF20, decimals, as_of=AS_OF, budget=IssuanceBudget(count=2, priority="monetary"))
    assert reasons(plan) == ["SELECTED", "BUDGET_COUNT", "SELECTED"]
    no_nulls = {"customer_id": [1, 2, 3], "monetary": [Decimal("10.5"), Decimal("0.1"), Decimal("99")]}
    plan = plan_issuance(OFF20, no_nulls, as_of=AS_OF, budget=IssuanceBudget(priority="monetary"))
    assert list(plan.selected_ids()) == [3, 1, 2]
    all_null = {"customer_id": [2, 1], "monetary": [None, None]}
    plan = plan_issuance(OFF20, all_null, as_of=AS_OF, budget=IssuanceBudget(priority="monetary"))
    assert list(plan.selected_ids()) == [1, 2]
    by_id = plan_issuance(OFF20, {"customer_id": [3, 1, 2]}, as_of=AS_OF, budget=IssuanceBudget(count=2))
    assert reasons(by_id) == ["BUDGET_COUNT", "SELECTED", "SELECTED"]


def test_value_budget_is_face_value_times_coupons_and_the_smaller_quota_names_the_reason() -> None:
    customers = {"customer_id": list(range(10))}
    by_value = plan_issuance(OFF20, customers, as_of=AS_OF, budget=IssuanceBudget(count=5, value="79.99 CNY"))
    assert by_value.selected == 3 and by_value.counts["BUDGET_VALUE"] == 7
    by_count = plan_issuance(OFF20, customers, as_of=AS_OF, budget=IssuanceBudget(count=3, value="80 CNY"))
    assert by_count.selected == 3 and by_count.counts["BUDGET_COUNT"] == 7
    zero = plan_issuance(OFF20, customers, as_of=AS_OF, budget=IssuanceBudget(count=0))
    assert zero.selected == 0 and zero.face_value_total == Money("0", "CNY")
    assert plan_issuance(PCT, customers, as_of=AS_OF).face_value_total is None


def test_value_budget_needs_a_face_value_in_the_template_currency() -> None:
    with pytest.raises(ConfigError, match="has none"):
        plan_issuance(PCT, {"customer_id": [1]}, as_of=AS_OF, budget=IssuanceBudget(value="10 CNY"))
    with pytest.raises(ConfigError, match=r"budget\.value is in USD"):
        plan_issuance(OFF20, {"customer_id": [1]}, as_of=AS_OF, budget=IssuanceBudget(value="10 USD"))


def test_plan_does_not_depend_on_row_order() -> None:
    rng = random.Random(3)
    ids = list(range(200))
    monetary = [float(rng.randint(0, 20)) for _ in ids]
    history_ids = [rng.choice(ids) for _ in range(300)]
    history_at = [days_ago(rng.uniform(0, 20)) for _ in history_ids]
    options: dict[str, Any] = {
        "as_of": AS_OF,
        "caps": IssuanceCaps(quiet_period="2d", frequency=(FrequencyCap(limit=2, window="14d"),)),
        "budget": IssuanceBudget(count=40, priority="monetary"),
    }
    first = plan_issuance(
        OFF20,
        {"customer_id": ids, "monetary": monetary},
        contact_history={"customer_id": history_ids, "at": history_at},
        **options,
    )
    order = list(range(200))
    rng.shuffle(order)
    second = plan_issuance(
        OFF20,
        {"customer_id": [ids[i] for i in order], "monetary": [monetary[i] for i in order]},
        contact_history={"customer_id": history_ids[::-1], "at": history_at[::-1]},
        **options,
    )
    decided = dict(
        zip(first.table["customer_id"].tolist(), zip(reasons(first), first.table["rank"].tolist()))
    )
    again = dict(
        zip(second.table["customer_id"].tolist(), zip(reasons(second), second.table["rank"].tolist()))
    )
    assert decided == again and first.selected == 40


def test_accepts_dataframes_and_records() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"customer_id": [1, 2], "stage": ["churning", "active"]})
    records = [{"customer_id": 1, "stage": "churning"}, {"customer_id": 2, "stage": "active"}]
    for data in (frame, records):
        assert reasons(plan_issuance(OFF20, data, audience='stage == "churning"', as_of=AS_OF)) == [
            "SELECTED",
            "NOT_IN_AUDIENCE",
        ]


# -- policies are data ---------------------------------------------------------------------------------------


def test_caps_and_budget_round_trip_and_export_a_schema() -> None:
    caps = IssuanceCaps(
        quiet_period="48h", frequency=(FrequencyCap(limit=3, window="1mo", channels=("sms",)),)
    )
    budget = IssuanceBudget(count=10, value="99.50 CNY", priority="monetary", ascending=True)
    assert IssuanceCaps.from_json(caps.to_json()) == caps
    assert IssuanceBudget.from_json(budget.to_json()) == budget
    assert caps.content_hash() == IssuanceCaps.from_json(caps.to_json()).content_hash()
    assert "frequency" in IssuanceCaps.json_schema()["properties"]
    assert "priority" in IssuanceBudget.json_schema()["properties"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FrequencyCap(limit=1, window="soon"), "window"),
        (lambda: FrequencyCap(limit=-1, window="7d"), "limit"),
        (lambda: IssuanceCaps(quiet_period="3 days"), "quiet_period"),
        (lambda: IssuanceCaps(unknown=1), "unknown"),
        (lambda: IssuanceBudget(count=-1), "count"),
        (lambda: IssuanceBudget(value="-1 CNY"), "negative"),
        (lambda: IssuanceBudget(count=True), "count: .*not a boolean"),
        (lambda: IssuanceBudget(count=False), "count: .*not a boolean"),
        (lambda: FrequencyCap(limit=False, window="7d"), "limit: .*not a boolean"),
    ],
)
def test_bad_options_are_config_errors(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


# -- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customers", "history", "options", "message"),
    [
        ({"id": [1]}, None, {}, "has no 'customer_id' column"),
        ({"customer_id": [1, 2, 1]}, None, {}, "duplicate id 1 \\(rows 0 and 2\\)"),
        ({"customer_id": [1, None]}, None, {}, "null at row 1"),
        ({"customer_id": [1.5]}, None, {}, "int or str ids"),
        (
            {"customer_id": [1]},
            {"customer_id": ["1"], "at": [AS_OF]},
            {},
            "holds str ids, customers_table int",
        ),
        ({"customer_id": [1]}, {"customer_id": [1]}, {}, "no 'at' column"),
        ({"customer_id": [1]}, {"customer_id": [1], "at": ["yesterday"]}, {}, "at"),
        (
            {"customer_id": [1]},
            {"customer_id": [1, 1], "at": [AS_OF, None]},
            {},
            "contact_history.at is null at row 1",
        ),
        ({"customer_id": [1]}, None, {"budget": IssuanceBudget(priority="monetary")}, "no 'monetary' column"),
        ({"customer_id": [1], "m": ["x"]}, None, {"budget": IssuanceBudget(priority="m")}, "must be numeric"),
        (
            {"customer_id": [1], "dnd": [1]},
            None,
            {"caps": IssuanceCaps(opt_out_column="dnd")},
            "must be a bool",
        ),
        ({"customer_id": [1]}, None, {"caps": IssuanceCaps(opt_out_column="dnd")}, "no 'dnd' column"),
        ({"customer_id": [1]}, None, {"holders": ["1"]}, "holders\\[0\\] is '1'; customer ids are int"),
        ({"customer_id": [1]}, None, {"audience": 42}, "audience must be a Rule"),
        ({"customer_id": [1]}, None, {"budget": {"count": 1}}, "budget must be an IssuanceBudget"),
    ],
)
def test_bad_input_is_a_data_error_naming_the_problem(
    customers: Any, history: Any, options: dict[str, Any], message: str
) -> None:
    caps = options.pop("caps", IssuanceCaps(quiet_period="7d"))
    with pytest.raises(DataError, match=message):
        plan_issuance(OFF20, customers, as_of=AS_OF, contact_history=history, caps=caps, **options)


def test_a_cap_on_channels_needs_a_channel_column() -> None:
    caps = IssuanceCaps(frequency=(FrequencyCap(limit=1, window="7d", channels=("sms",)),))
    with pytest.raises(DataError, match="no 'channel' column"):
        plan_issuance(
            OFF20,
            {"customer_id": [1]},
            as_of=AS_OF,
            contact_history={"customer_id": [1], "at": [AS_OF]},
            caps=caps,
        )


def test_naive_as_of_is_a_data_error_on_both_paths() -> None:
    with pytest.raises(DataError, match="naive"):
        plan_issuance(OFF20, {"customer_id": [1]}, as_of=datetime(2024, 7, 1))
    with pytest.raises(DataError, match="naive"):
        plan_issuance_one(OFF20, {}, as_of=datetime(2024, 7, 1))
    with pytest.raises(DataError, match=r"contacts\[0\].at"):
        plan_issuance_one(
            OFF20,
            {},
            as_of=AS_OF,
            contacts=[{"at": datetime(2024, 6, 1)}],
            caps=IssuanceCaps(quiet_period="7d"),
        )


def test_the_scalar_path_applies_the_budget_only_given_a_rank() -> None:
    budget = IssuanceBudget(count=1)
    assert plan_issuance_one(OFF20, {}, as_of=AS_OF, budget=budget).selected
    assert plan_issuance_one(OFF20, {}, as_of=AS_OF, budget=budget, rank=1).selected
    late = plan_issuance_one(OFF20, {}, as_of=AS_OF, budget=budget, rank=2)
    assert (late.selected, late.reason) == (False, IssuanceReason.BUDGET_COUNT)
    assert plan_issuance_one(OFF20, {}, as_of=AS_OF, holds=True).reason is IssuanceReason.ALREADY_HOLDS
    assert plan_issuance_one(
        OFF20, {"dnd": True}, as_of=AS_OF, caps=IssuanceCaps(opt_out_column="dnd")
    ).reason is (IssuanceReason.OPTED_OUT)


def test_the_scalar_path_refuses_a_boolean_rank_or_holds_flag() -> None:
    budget = IssuanceBudget(count=0)
    with pytest.raises(DataError, match=r"rank must be a positive int \(1 is first\) or None, got True"):
        plan_issuance_one(OFF20, {}, as_of=AS_OF, budget=budget, rank=True)
    with pytest.raises(DataError, match=r"rank must be a positive int \(1 is first\) or None, got 0"):
        plan_issuance_one(OFF20, {}, as_of=AS_OF, budget=budget, rank=0)
    with pytest.raises(DataError, match=r"holds must be True or False, got 1"):
        plan_issuance_one(OFF20, {}, as_of=AS_OF, holds=1)  # type: ignore[arg-type]


# -- one meaning, two paths --------------------------------------------------------------------------------


STAGES = ["new", "active", "churning", None]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 25))
    ids = draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n, unique=True))
    use_str = draw(st.booleans())
    customer_ids: list[Any] = [f"c{i}" for i in ids] if use_str else ids
    stage = draw(st.lists(st.sampled_from(STAGES), min_size=n, max_size=n))
    monetary = draw(
        st.lists(st.one_of(st.none(), st.sampled_from([0.0, 1.5, 7.0, 100.0])), min_size=n, max_size=n)
    )
    dnd = draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n))
    pool = customer_ids + (["zz"] if use_str else [999])
    rows = draw(st.integers(0, 50))
    history = {
        "customer_id": draw(st.lists(st.sampled_from(pool), min_size=rows, max_size=rows)),
        "at": [
            AS_OF - timedelta(hours=h)
            for h in draw(st.lists(st.integers(-24, 24 * 45), min_size=rows, max_size=rows))
        ],
        "channel": draw(st.lists(st.sampled_from(["sms", "wechat", None]), min_size=rows, max_size=rows)),
        "kind": draw(st.lists(st.sampled_from(["coupon", "message"]), min_size=rows, max_size=rows)),
    }
    caps = IssuanceCaps(
        quiet_period=draw(st.sampled_from([None, "36h", "2d", "1w"])),
        frequency=tuple(
            FrequencyCap(
                limit=draw(st.integers(0, 3)),
                window=draw(st.sampled_from(["24h", "7d", "1mo"])),
                channels=draw(st.sampled_from([(), ("sms",), ("sms", "wechat")])),
                kinds=draw(st.sampled_from([(), ("coupon",)])),
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
        opt_out_column=draw(st.sampled_from([None, "dnd"])),
    )
    budget = IssuanceBudget(
        count=draw(st.one_of(st.none(), st.integers(0, n + 1))),
        value=draw(st.one_of(st.none(), st.sampled_from(["0 CNY", "39.99 CNY", "100 CNY"]))),
        priority=draw(st.sampled_from([None, "monetary"])),
        ascending=draw(st.booleans()),
    )
    holders = draw(st.lists(st.sampled_from(customer_ids), max_size=3)) if customer_ids else []
    audience = draw(
        st.sampled_from([None, 'stage == "churning"', 'stage in ["new", "churning"] or monetary > 5'])
    )
    customers = {"customer_id": customer_ids, "stage": stage, "monetary": monetary, "dnd": dnd}
    return {
        "customers": customers,
        "history": history,
        "caps": caps,
        "budget": budget,
        "holders": holders,
        "audience": audience,
        "tz": draw(st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York"])),
    }


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_batch_and_scalar_agree_given_the_rank(case: dict[str, Any]) -> None:
    customers, history = case["customers"], case["history"]
    options = {
        "audience": case["audience"],
        "as_of": AS_OF,
        "caps": case["caps"],
        "budget": case["budget"],
        "tz": case["tz"],
    }
    if not customers["customer_id"]:
        customers = Table(
            {name: np.zeros(0, dtype=np.int64) if name == "customer_id" else [] for name in customers}
        )
    plan = plan_issuance(OFF20, customers, contact_history=history, holders=case["holders"], **options)
    table = Table.coerce(customers)
    ranks = plan.table["rank"]
    for row in range(len(table)):
        record = table.row(row)
        contacts = [
            {"at": at, "channel": channel, "kind": kind}
            for cid, at, channel, kind in zip(
                history["customer_id"], history["at"], history["channel"], history["kind"]
            )
            if cid == record["customer_id"]
        ]
        rank = None if np.ma.is_masked(ranks[row]) else int(ranks[row])
        one = plan_issuance_one(
            OFF20,
            record,
            contacts=contacts,
            holds=record["customer_id"] in case["holders"],
            rank=rank,
            **options,
        )
        assert one.reason.value == plan.table["reason"][row], (row, record, contacts)
        assert one.selected == bool(plan.table["selected"][row])
    # The rank order is (priority present, priority in the asked direction, id): check it independently.
    eligible = [row for row in range(len(table)) if not np.ma.is_masked(ranks[row])]
    budget = case["budget"]

    def key(row: int) -> tuple[Any, ...]:
        value = table.row(row).get(budget.priority) if budget.priority else None
        missing = value is None or value != value
        direction = 0.0 if missing else (value if budget.ascending else -value)
        return (missing, direction if budget.priority else 0.0, table.row(row)["customer_id"])

    assert sorted(eligible, key=key) == sorted(eligible, key=lambda row: int(ranks[row]))


ZONES = [
    timezone.utc,
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Pacific/Kiritimati"),
    timezone(timedelta(hours=-9, minutes=-30)),
]


@settings(max_examples=80, deadline=None)
@given(
    scenarios(),
    st.sampled_from(ZONES),
    st.sampled_from(ZONES),
    st.integers(-48, 48),
    st.sampled_from([None, "Asia/Shanghai"]),
    st.sampled_from(
        [
            None,
            "weekday(today()) <= 5",
            "hour(now()) < 12",
            "days_since(last_order_at) <= 1",
            "last_order_at within 1mo",
        ]
    ),
    st.data(),
)
def test_property_the_plan_does_not_depend_on_the_zone_of_as_of(
    case: dict[str, Any],
    zone_a: Any,
    zone_b: Any,
    hours: int,
    template_zone: str | None,
    clock_audience: str | None,
    data: st.DataObject,
) -> None:
    customers = dict(case["customers"])
    n = len(customers["customer_id"])
    if not n:
        return
    offsets = data.draw(st.lists(st.integers(0, 24 * 40), min_size=n, max_size=n))
    customers["last_order_at"] = [AS_OF - timedelta(hours=h) for h in offsets]
    template = OFF20.model_copy(update={"validity": Validity(tz=template_zone), "audience": None})
    instant = AS_OF + timedelta(hours=hours)
    tz = data.draw(st.sampled_from([None, case["tz"]]))
    options = {"audience": clock_audience, "caps": case["caps"], "budget": case["budget"], "tz": tz}

    def plans(zone: Any) -> Any:
        as_of = instant.astimezone(zone)
        plan = plan_issuance(template, customers, as_of=as_of, contact_history=case["history"], **options)
        table = Table(customers)
        history = Table(case["history"])
        reduce = in_memory_pair_reducer(
            split_by_key(table, "customer_id", 3), split_by_key(history, "customer_id", 3)
        )
        partitioned = plan_issuance_partitioned(template, reduce, as_of=as_of, **options)
        first = table.row(0)
        contacts = [
            {"at": at, "channel": channel, "kind": kind}
            for cid, at, channel, kind in zip(
                case["history"]["customer_id"],
                case["history"]["at"],
                case["history"]["channel"],
                case["history"]["kind"],
            )
            if cid == first["customer_id"]
        ]
        one = plan_issuance_one(template, first, as_of=as_of, contacts=contacts, **options)
        order = np.argsort(np.asarray(partitioned.table["customer_id"]), kind="stable")
        return (
            list(plan.table["reason"]),
            np.ma.asarray(plan.table["rank"]).tolist(),
            sorted(
                zip(
                    np.asarray(partitioned.table["customer_id"])[order].tolist(),
                    np.asarray(partitioned.table["reason"])[order].tolist(),
                )
            ),
            one,
        )

    assert plans(zone_a) == plans(zone_b)


@st.composite
def tag_sets(draw: st.DrawFn) -> TagSet:
    threshold = draw(st.sampled_from([0.0, 1.5, 7.0, 100.0]))
    rules = [
        TagRule(name="big", when=f"monetary >= {threshold}", group="spend", priority=2),
        TagRule(name="small", when="monetary > 0", group="spend", priority=1),
        TagRule(
            name="lapsing",
            when=draw(st.sampled_from(['stage == "churning"', 'stage in ["new", "churning"]'])),
        ),
        TagRule(
            name="target",
            when=draw(
                st.sampled_from(
                    ['has_tag("lapsing") and has_tag("big")', 'has_tag("small") or has_tag("lapsing")']
                )
            ),
        ),
    ]
    return TagSet(rules)


@settings(max_examples=80, deadline=None)
@given(
    scenarios(),
    tag_sets(),
    st.sampled_from(
        [
            'has_tag("target")',
            'has_tag("big") and not has_tag("lapsing")',
            'has_tag("small") or stage == "active"',
        ]
    ),
)
def test_property_tag_audiences_agree_on_the_batch_scalar_and_partitioned_paths(
    case: dict[str, Any], tags: TagSet, audience: str
) -> None:
    customers = case["customers"]
    if not customers["customer_id"]:
        return
    options = {
        "audience": audience,
        "as_of": AS_OF,
        "caps": case["caps"],
        "budget": case["budget"],
        "tz": case["tz"],
        "tags": tags,
    }
    plan = plan_issuance(OFF20, customers, contact_history=case["history"], **options)
    table = Table(customers)
    history = case["history"]
    ranks = plan.table["rank"]
    for row in range(len(table)):
        record = table.row(row)
        contacts = [
            {"at": at, "channel": channel, "kind": kind}
            for cid, at, channel, kind in zip(
                history["customer_id"], history["at"], history["channel"], history["kind"]
            )
            if cid == record["customer_id"]
        ]
        rank = None if np.ma.is_masked(ranks[row]) else int(ranks[row])
        one = plan_issuance_one(OFF20, record, contacts=contacts, rank=rank, **options)
        assert one.reason.value == plan.table["reason"][row]
    reduce = in_memory_pair_reducer(
        split_by_key(table, "customer_id", 3), split_by_key(Table(history), "customer_id", 3)
    )
    partitioned = plan_issuance_partitioned(OFF20, reduce, **options)
    assert partitioned.counts == plan.counts
    assert partitioned.selected_ids().tolist() == plan.selected_ids().tolist()


# -- the benchmark's baseline computes the same plan ---------------------------------------------------------


def test_benchmark_baseline_agrees_with_plan_issuance() -> None:
    assert bench_issuance.check(5000, seed=3) > 0


# -- the map/reduce protocol moved to user_ops.coupons.partitioned (issue 14) -----------------------
@pytest.mark.parametrize(
    "name",
    [
        "IssuanceCutoff",
        "issuance_candidates",
        "issuance_cutoff",
        "issuance_finish",
        "issuance_quota",
        "issuance_reasons",
        "plan_issuance_partitioned",
    ],
)
def test_the_old_names_on_the_coupons_door_warn_and_give_the_same_object(name: str) -> None:
    import user_ops.coupons
    from user_ops.coupons import partitioned

    moved = rf"user_ops.coupons.{name} moved to user_ops.coupons.partitioned.{name}"
    with pytest.warns(DeprecationWarning, match=moved):
        value = getattr(user_ops.coupons, name)
    assert value is getattr(partitioned, name)
    assert name not in user_ops.coupons.__all__ and name in partitioned.__all__


def test_the_coupons_door_still_refuses_unknown_names() -> None:
    import user_ops.coupons

    with pytest.raises(AttributeError, match="no attribute 'IssuanceCandidates'"):
        user_ops.coupons.IssuanceCandidates  # noqa: B018  (new in partitioned: no old name to keep)
