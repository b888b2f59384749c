"""Records and tables from JSON or CSV carry ISO 8601 text for dates and instants: every entry point that
reads a date or an instant through a rule (rules, tags, lifecycle, ...) reads that text, one record or a
whole table alike; a wall-clock time without an offset and without ``tz=`` is a DataError."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import DataError, LifecyclePolicy, RFMModel, Rule, Table, default_tags
from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers

AS_OF = datetime(2024, 6, 30, 12, tzinfo=timezone.utc)
SHANGHAI = timezone(timedelta(hours=8))


def _as_json(record: dict[str, Any]) -> dict[str, Any]:
    """What a backend receives: the record through JSON, instants as ISO 8601 text with offsets."""
    text = json.dumps(record, default=lambda v: v.isoformat(), ensure_ascii=False)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.fixture(scope="module")
def customers() -> Table:
    return synthetic_customers(400, seed=5)


def test_json_records_are_classified_tagged_and_scored_as_typed_records(customers: Table) -> None:
    policy = LifecyclePolicy.default_for(customers)
    tags = default_tags()
    model = RFMModel.quantile().fit(customers)
    for index in range(0, len(customers), 7):
        typed = customers.row(index)
        record = _as_json(typed)
        assert any(isinstance(v, str) and "T" in v for v in record.values())  # instants as text
        stage = policy.classify_one(record, as_of=DEFAULT_AS_OF)
        assert stage.stage == policy.classify_one(typed, as_of=DEFAULT_AS_OF).stage
        # The reasons (explanations computed on access) read the text too, and show the dates.
        reasons = [str(why) for _, why in stage.rejected]
        if stage.explanation is not None:
            reasons.append(str(stage.explanation))
        assert all("T" not in line or "+00:00" in line or "+08:00" in line for line in reasons)
        assert tags.evaluate_one(record, as_of=DEFAULT_AS_OF) == tags.evaluate_one(typed, as_of=DEFAULT_AS_OF)
        # RFM reads days and amounts only: a JSON record scores as it is.
        assert model.score_one(record) == model.score_one(typed)
    why = tags.explain_one(_as_json(customers.row(0)), "new_member", as_of=DEFAULT_AS_OF)
    assert "registered_at" in str(why)


def test_a_table_of_json_records_gives_what_the_records_give(customers: Table) -> None:
    records = [_as_json(customers.row(i)) for i in range(len(customers))]
    table = Table.from_records(records)
    assert table.kind("first_order_at") == "str"  # text columns, as JSON gives them
    policy = LifecyclePolicy.default_for(customers)
    stages = policy.classify(table, as_of=DEFAULT_AS_OF)
    assert stages["stage"].tolist() == policy.classify(customers, as_of=DEFAULT_AS_OF)["stage"].tolist()
    assert stages["stage"].tolist() == [policy.classify_one(r, as_of=DEFAULT_AS_OF).stage for r in records]
    tags = default_tags()
    tagged = tags.evaluate(table, as_of=DEFAULT_AS_OF)
    typed = tags.evaluate(customers, as_of=DEFAULT_AS_OF)
    assert all(np.array_equal(tagged[name], typed[name]) for name in tags.names)


def test_wall_clock_text_needs_tz_and_then_reads_in_it() -> None:
    rule = Rule.parse("days_since(first_order_at) >= 1")
    record = {"first_order_at": "2024-06-29T23:30:00"}
    with pytest.raises(DataError, match=r"field 'first_order_at': '2024-06-29T23:30:00' has no UTC offset"):
        rule.evaluate_one(record, as_of=AS_OF)
    with pytest.raises(DataError, match=r"'2024-06-29T23:30:00' has no UTC offset.*pass tz="):
        rule.evaluate({"first_order_at": ["2024-06-29T23:30:00"]}, as_of=AS_OF)
    # In Shanghai 23:30 on the 29th is 15:30 UTC; as of 20:00 there on the 30th: one day since.
    assert rule.evaluate_one(record, as_of=AS_OF, tz="Asia/Shanghai")
    explicit = {"first_order_at": "2024-06-29T23:30:00+08:00"}
    assert rule.evaluate_one(explicit, as_of=AS_OF, tz="Asia/Shanghai")
    assert rule.evaluate({"first_order_at": [record["first_order_at"]]}, as_of=AS_OF, tz="Asia/Shanghai")[0]


def test_text_that_is_no_date_is_a_data_error_and_text_fields_stay_text() -> None:
    rule = Rule.parse('registered_at within 1mo and city == "2024-06-01"')
    with pytest.raises(DataError, match=r"field 'registered_at': cannot read 'last tuesday' as ISO 8601"):
        rule.evaluate_one({"registered_at": "last tuesday", "city": "2024-06-01"}, as_of=AS_OF)
    # city is compared with text: its date-like text stays text.
    assert rule.evaluate_one({"registered_at": "2024-06-20T00:00:00Z", "city": "2024-06-01"}, as_of=AS_OF)
    with pytest.raises(DataError, match="mixes dates"):
        mixed = {"registered_at": ["2024-06-20", "2024-06-20T00:00:00Z"], "city": ["a", "b"]}
        rule.evaluate(mixed, as_of=AS_OF)


def test_a_schema_says_which_fields_are_dates() -> None:
    rule = Rule.parse("signup_day >= 2024-06-01", {"signup_day": "date"})
    assert rule.evaluate_one({"signup_day": "2024-06-02"}, as_of=AS_OF)
    with pytest.raises(DataError, match="is a date-time, but the field is a date"):
        rule.evaluate_one({"signup_day": "2024-06-02T10:00:00Z"}, as_of=AS_OF)
    instant = Rule.parse("days_since(seen_at) < 2", {"seen_at": "datetime"})
    with pytest.raises(DataError, match="is a date without a time; pass tz="):
        instant.evaluate_one({"seen_at": "2024-06-29"}, as_of=AS_OF)
    assert instant.evaluate_one({"seen_at": "2024-06-29"}, as_of=AS_OF, tz="UTC")


# -- one meaning, two paths ----------------------------------------------------------------------------
RULES = [
    "days_since(t) >= 3",
    "t within 30d",
    "t >= 2024-06-01",
    "t is null or days_since(t) < 10",
]
instants = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2024, 7, 31),
    timezones=st.sampled_from([timezone.utc, SHANGHAI, timezone(timedelta(hours=-5))]),
)


@settings(max_examples=60, deadline=None)
@given(
    rule_text=st.sampled_from(RULES),
    dates_only=st.booleans(),
    values=st.lists(st.one_of(st.none(), instants), min_size=1, max_size=12),
    zone=st.sampled_from([None, "Asia/Shanghai", "UTC"]),
)
def test_iso_text_agrees_between_one_record_and_a_table(
    rule_text: str, dates_only: bool, values: list[datetime | None], zone: str | None
) -> None:
    rule = Rule.parse(rule_text)
    typed: list[date | datetime | None] = [
        None if v is None else (v.date() if dates_only else v) for v in values
    ]
    texts = [None if v is None else v.isoformat() for v in typed]
    one = [rule.evaluate_one({"t": text}, as_of=AS_OF, tz=zone) for text in texts]
    many = rule.evaluate({"t": texts}, as_of=AS_OF, tz=zone).tolist()
    assert one == many
    # ... and both agree with the typed values.
    assert many == rule.evaluate({"t": typed}, as_of=AS_OF, tz=zone).tolist()
    assert one == [rule.evaluate_one({"t": v}, as_of=AS_OF, tz=zone) for v in typed]
