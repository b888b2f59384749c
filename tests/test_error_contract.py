"""The error contract, walked over every public pydantic model of every room.

Whatever a host feeds a policy or event model — through the constructor, ``model_validate``,
``model_validate_json``, ``from_json`` or ``from_document`` — only a ``user_ops`` error may come out,
and when one field is at fault the message names it. Wrong types, missing and unknown fields, garbage
text, bytes that are not UTF-8, JSON nested a million deep, integers of thousands of digits, lone
surrogates, NaN and infinities are all fed to every model.

A model added to a room's ``__all__`` without an example here fails
:func:`test_every_public_model_has_an_example`, so the walk cannot silently miss it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from tests.test_docstrings import ROOMS as ALL_ROOMS
from user_ops import UserOpsError

# Every door but those that need an optional engine or only hold errors and plots.
_WITHOUT = {
    "user_ops.exceptions",
    "user_ops.plots",
    "user_ops.datasets",
    "user_ops.plugins",
    "user_ops.dask",
    "user_ops.spark",
    "user_ops.cli",
}
ROOMS = tuple(room for room in ALL_ROOMS if room not in _WITHOUT)

AT = "2025-01-05T10:00:00+08:00"
BENEFIT = {"kind": "amount_off", "amount": "10 CNY"}
TEMPLATE = {"id": "new10", "currency": "CNY", "benefit": BENEFIT}
STAGE = {
    "code": "active",
    "label_en": "Active",
    "label_zh": "活跃",
    "action": "keep",
    "action_en": "Keep",
    "action_zh": "保持",
}
TIER = {"code": "gold", "label_en": "Gold", "label_zh": "金卡", "entry": 1000}
SEGMENT = {"code": "all", "label_en": "All", "label_zh": "全部"}

#: One valid document per public model: the walk replaces one field at a time with a bad value.
EXAMPLES: dict[str, dict[str, Any]] = {
    "Cart": {"currency": "CNY", "lines": [{"sku": "a", "unit_price": "10 CNY", "quantity": 1}]},
    "CouponTemplate": TEMPLATE,
    "CustomerContext": {"id": "c1", "tags": ["vip"], "order_count": 2},
    "IssuedCoupon": {"code": "NEW-1", "template": TEMPLATE, "issued_at": AT, "owner": "c1"},
    "LifecyclePolicy": {"stages": [{**STAGE, "when": None}]},
    "PointsPolicy": {"earn_points": 1, "tz": "Asia/Shanghai"},
    "RFMModel": {"method": "quantile", "bins": 5},
    "Schema": {"fields": {"orders": "int"}},
    "SegmentMap": {"segments": [SEGMENT]},
    "TagRule": {"name": "vip", "when": "monetary >= 1000"},
    "TagSet": {"tags": [{"name": "vip", "when": "monetary >= 1000"}]},
    "Tier": TIER,
    "TierPolicy": {"tiers": [{**TIER, "code": "base", "entry": 0}, TIER]},
    "AndNode": {"items": [{"kind": "bool", "value": True}, {"kind": "bool", "value": False}]},
    "ArithNode": {"op": "+", "left": {"kind": "int", "value": 1}, "right": {"kind": "int", "value": 2}},
    "BoolLit": {"value": True},
    "CallNode": {"fn": "days_since", "args": [{"kind": "field", "name": "last_order_at"}]},
    "CmpNode": {"op": ">", "left": {"kind": "field", "name": "x"}, "right": {"kind": "int", "value": 2}},
    "DateLit": {"value": "2025-01-05"},
    "DateTimeLit": {"value": AT},
    "DecimalLit": {"value": "1.5"},
    "DurationLit": {"value": "30d"},
    "FieldNode": {"name": "orders"},
    "InNode": {
        "item": {"kind": "field", "name": "city"},
        "values": {"kind": "list", "items": [{"kind": "str", "value": "北京"}]},
    },
    "IntLit": {"value": 3},
    "IsNullNode": {"item": {"kind": "field", "name": "city"}},
    "Limits": {"max_depth": 10},
    "ListLit": {"items": [{"kind": "int", "value": 1}]},
    "NegNode": {"item": {"kind": "int", "value": 1}},
    "NotNode": {"item": {"kind": "bool", "value": True}},
    "NullLit": {},
    "OrNode": {"items": [{"kind": "bool", "value": True}, {"kind": "bool", "value": False}]},
    "StrLit": {"value": "北京"},
    "Segment": SEGMENT,
    "BGNBD": {"penalizer": 0.0},
    "Stage": STAGE,
    "BenefitTable": {"tiers": [{"tier": "gold", "benefits": [{"kind": "discount", "rate": "0.95"}]}]},
    "BirthdayBenefit": {"points_multiplier": "2"},
    "BonusTier": {"topup": "100 CNY", "bonus": "10 CNY"},
    "CouponGrant": {"template_id": "new10", "count": 2},
    "CustomBenefit": {"type": "lounge_access"},
    "EventReward": {"points": 10, "daily_limit": 1},
    "FreeShipping": {"threshold": "99 CNY"},
    "GrowthEarned": {"at": AT, "growth": 100},
    "MemberDiscount": {"rate": "0.95"},
    "MemberPrice": {},
    "MetricEvent": {"at": AT, "metric": "nights", "value": 2},
    "PointsEarned": {"at": AT, "points": 100},
    "PointsMultiplier": {"multiplier": "1.5"},
    "PriorityService": {"channels": ["phone"]},
    "Purchase": {"at": AT, "amount": "320 CNY"},
    "Refund": {"at": AT, "amount": "20 CNY"},
    "Revoke": {"target": "free_shipping"},
    "StoredValuePolicy": {"currency": "CNY", "bonus_tiers": [{"topup": "100 CNY", "bonus": "10 CNY"}]},
    "TierBenefits": {"tier": "gold", "benefits": [{"kind": "free_shipping"}]},
    "TierOverride": {"at": AT, "tier": "gold", "reason": "trial", "until": "2025-02-05T10:00:00+08:00"},
    "Benefit": {"kind": "percent_off", "percent": "10", "cap": "30 CNY"},
    "CartLine": {"sku": "tea", "unit_price": "59 CNY", "quantity": 2},
    "Conditions": {"min_subtotal": "99 CNY", "include_categories": ["tea"]},
    "CounterMove": {"key": "coupon:new10:total", "amount": 1, "limit": 100},
    "FrequencyCap": {"limit": 2, "window": "30d"},
    "IssuanceBudget": {"count": 100},
    "IssuanceCaps": {"quiet_period": "7d"},
    "Limits_coupons": {"total": 100, "per_customer": 1},
    "RedemptionIntent": {"counters": [{"key": "coupon:new10:total", "amount": 1, "limit": 100}]},
    "Stacking": {"group": "store", "priority": 1},
    "Validity": {"days": 7, "tz": "Asia/Shanghai"},
}


class _Lounge(BaseModel):
    visits: int = 1


@pytest.fixture(autouse=True)
def _lounge_benefit_type() -> Iterator[None]:
    from user_ops.membership import register_benefit_type, unregister_benefit_type

    register_benefit_type("lounge_access", _Lounge)
    yield
    unregister_benefit_type("lounge_access")


def _deep_list(depth: int) -> list[Any]:
    """A list nested ``depth`` deep, built without recursion."""
    inner: list[Any] = []
    for _ in range(depth):
        inner = [inner]
    return inner


#: Values that are wrong for most fields; a field that accepts one must do so on purpose.
BAD_VALUES: tuple[Any, ...] = (
    None,
    True,
    2**64,
    -(2**63) - 1,
    10**5000,
    math.nan,
    math.inf,
    -math.inf,
    Decimal("NaN"),
    Decimal("Infinity"),
    "\ud800",
    "",
    "x" * 100_000,
    b"\xff\xfe",
    [],
    {},
    {"unexpected": 1},
    object(),
    datetime(2025, 1, 5),  # naive
    datetime.max,
    date.min,
    timedelta.max,
    _deep_list(5000),
)

#: Whole documents that are not a valid policy of any kind.
GARBAGE_DOCUMENTS: tuple[Any, ...] = (
    None,
    1,
    "garbage",
    [],
    {"unexpected": 1},
    _deep_list(100_000),
    {"a": _deep_list(100_000)},
)

GARBAGE_TEXTS: tuple[str | bytes, ...] = (
    "",
    "{",
    "garbage",
    "[" * 1_000_000,
    '{"x": ' + "[" * 1_000_000,
    "9" * 5000,
    '{"schema_version": ' + "9" * 5000 + "}",
    b"\xff\xfe\x00",
    b'{"name": "\xc3\x28"}',
    '"\\ud800"',
    "NaN",
)


def _public_models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for room in ROOMS:
        module = importlib.import_module(room)
        for name in module.__all__:
            value = getattr(module, name)
            if not (inspect.isclass(value) and issubclass(value, BaseModel)):
                continue
            if value in found.values():
                continue
            key = name if name not in found else f"{name}_{room.rsplit('.', 1)[-1]}"
            found[key] = value
    return found


MODELS = _public_models()


def test_every_public_model_has_an_example() -> None:
    assert sorted(set(MODELS) - set(EXAMPLES)) == []
    assert sorted(set(EXAMPLES) - set(MODELS)) == []


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_examples_are_valid(name: str) -> None:
    MODELS[name].model_validate(EXAMPLES[name])


def _entry_points(model: type[BaseModel]) -> Iterator[tuple[str, Callable[[Any], Any]]]:
    yield "model_validate", model.model_validate
    yield "constructor", lambda data: model(**data) if isinstance(data, dict) else model.model_validate(data)
    if hasattr(model, "from_json"):
        yield "from_json", model.from_json
    if hasattr(model, "from_document"):
        yield "from_document", model.from_document


def _outcome(call: Callable[[], Any]) -> BaseException | None:
    """The ``user_ops`` error ``call`` raises (None when it succeeds); any other exception fails the test."""
    problem = _problem(call)
    if isinstance(problem, str):
        pytest.fail(problem)
    return problem


def _show(value: Any) -> str:
    if isinstance(value, int) and abs(value) > 10**40:
        return f"<int of {len(str(abs(value)))} digits>" if abs(value) < 10**4000 else "<huge int>"
    if isinstance(value, list):
        return "<nested list>" if value else "[]"
    return repr(value)[:40]


def _problem(call: Callable[[], Any]) -> BaseException | str | None:
    """The ``user_ops`` error ``call`` raises, None when it succeeds, or a text saying what escaped."""
    try:
        call()
    except UserOpsError as exc:
        return exc
    except BaseException as exc:  # the point of the test: nothing else may escape
        return f"{type(exc).__name__} escaped: {str(exc)[:200]}"
    return None


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_garbage_documents_raise_user_ops_errors(name: str) -> None:
    model = MODELS[name]
    for document in GARBAGE_DOCUMENTS:
        for entry, call in _entry_points(model):
            error = _outcome(lambda call=call, document=document: call(document))
            assert error is not None, f"{name}.{entry} accepted {str(document)[:60]!r}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_garbage_json_text_raises_user_ops_errors(name: str) -> None:
    model = MODELS[name]
    readers: list[tuple[str, Callable[[Any], Any]]] = [("model_validate_json", model.model_validate_json)]
    for reader in ("from_json", "from_document"):
        if hasattr(model, reader):
            readers.append((reader, getattr(model, reader)))
    for text in GARBAGE_TEXTS:
        for entry, read in readers:
            error = _outcome(lambda read=read, text=text: read(text))
            assert error is not None, f"{name}.{entry} accepted {text[:40]!r}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_bad_field_raises_a_user_ops_error_naming_it(name: str) -> None:
    model = MODELS[name]
    example = EXAMPLES[name]
    failures: list[str] = []
    for field in model.model_fields:
        for value in BAD_VALUES:
            document = {**example, field: value}
            for entry, call in _entry_points(model):
                if entry == "from_document":
                    continue
                problem = _problem(lambda call=call, document=document: call(document))
                shown = f"{name}.{entry}({field}={_show(value)})"
                if isinstance(problem, str):
                    failures.append(f"{shown}: {problem}")
                elif problem is not None and field not in str(problem):
                    failures.append(f"{shown}: the error does not name {field!r}: {str(problem)[:200]}")
    assert not failures, "\n".join(sorted(set(failures)))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_an_unknown_or_missing_field_is_named(name: str) -> None:
    model = MODELS[name]
    error = _outcome(lambda: model.model_validate({**EXAMPLES[name], "colour": "red"}))
    assert error is not None and "colour" in str(error)
    for field, info in model.model_fields.items():
        if info.is_required():
            document = {k: v for k, v in EXAMPLES[name].items() if k != field}
            error = _outcome(lambda document=document: model.model_validate(document))
            assert error is not None and field in str(error), f"{name}: missing {field} not named"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_documents_of_valid_examples_round_trip(name: str) -> None:
    model = MODELS[name]
    built = model.model_validate(EXAMPLES[name])
    if hasattr(built, "to_document"):
        assert model.from_document(json.dumps(built.to_document())) == built
        assert model.from_json(built.to_json().encode("utf-8")) == built


def test_tz_of_examples_is_aware() -> None:
    # The example instants carry an offset: a walk with naive instants would test the wrong thing.
    assert datetime.fromisoformat(AT).utcoffset() == timedelta(hours=8)
    assert datetime.fromisoformat(AT).astimezone(timezone.utc).hour == 2
