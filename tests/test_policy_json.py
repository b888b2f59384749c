"""``to_json()`` is JSON text, ``to_dict()`` the dict, on every policy; the old dict uses warn for a release.

A user writes ``open(path, "w").write(policy.to_json())`` (as the CLI docs say) and reads it back with
``from_json``; code written when ``to_json()`` returned a dict keeps working, each dict-like use with
a ``DeprecationWarning`` naming ``to_dict()``, or fails loudly — never silently.
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from user_ops import ConfigError, DataError, LifecyclePolicy, Money, Rule, RuleSyntaxError, TagRule, TagSet
from user_ops.membership import (
    BenefitTable,
    CardEntry,
    FreeShipping,
    LedgerEntry,
    TierBenefits,
    benefits_for,
)

from .test_error_contract import EXAMPLES, MODELS, _lounge_benefit_type  # noqa: F401 - its fixture

AT = datetime(2024, 3, 2, tzinfo=timezone.utc)


@contextmanager
def no_warnings() -> Iterator[None]:
    """The new API says nothing: any warning inside is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _tags() -> TagSet:
    return TagSet([TagRule(name="vip", when="monetary >= 1000", label_zh="大客户")])


# -- the new behaviour -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(n for n in EXAMPLES if hasattr(MODELS[n], "to_dict")))
def test_every_policy_writes_json_text_to_a_file_and_reads_it_back(name: str, tmp_path: Path) -> None:
    model = MODELS[name]
    policy = model.model_validate(EXAMPLES[name])
    path = tmp_path / f"{name}.json"
    with no_warnings():
        text = policy.to_json()
        assert isinstance(text, str)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)  # failed when to_json() returned a dict
        assert json.loads(path.read_text(encoding="utf-8")) == policy.to_dict()
        assert isinstance(policy.to_dict(), dict)
        assert model.from_json(path.read_text(encoding="utf-8")) == policy
        assert model.from_json(policy.to_dict()) == policy
        assert model.from_json(path.read_bytes()) == policy
        pretty = policy.to_json(indent=2)
        assert "\n  " in pretty and model.from_json(pretty) == policy


def test_json_text_keeps_chinese_and_behaves_as_text_without_warnings() -> None:
    tags = _tags()
    with no_warnings():
        text = tags.to_json()
        assert "大客户" in str(text)  # not \\u escapes: what a person reads in the file
        assert text[0] == "{" and text[:9] == '{"tags": ' and text.startswith("{")
        assert len(text) == len(str(text)) and text == str(text) and hash(text) == hash(str(text))
        assert f"{text}" == str(text) and text.encode("utf-8").decode("utf-8") == text
        assert pickle.loads(pickle.dumps(text)) == text
        assert '"tags"' in text and "tags" in text  # a substring test, as the old key test answered
        assert tags.to_json() == _tags().to_json()  # equal policies, equal text


def test_content_hash_and_documents_follow_the_dict() -> None:
    tags = _tags()
    document = tags.to_document()
    assert document["policy"] == tags.to_dict()
    assert TagSet.from_document(json.dumps(document)) == tags


def test_rule_has_documents_like_policies() -> None:
    rule = Rule.parse('frequency >= 3 and city in ["北京", "上海"]')
    with no_warnings():
        assert json.loads(rule.to_json()) == rule.to_dict()
        assert Rule.from_json(rule.to_json()) == Rule.from_json(rule.to_dict()) == rule
        document = rule.to_document()
    assert document["type"] == "Rule" and document["schema_version"] == Rule.schema_version
    assert document["content_hash"] == rule.content_hash() == Rule.parse(rule.to_text()).content_hash()
    assert document["policy"] == rule.to_dict()
    assert Rule.from_document(document) == rule
    assert Rule.from_document(json.dumps(document, ensure_ascii=False)) == rule
    assert Rule.from_document(json.dumps(document).encode("utf-8")) == rule
    schema_checked = Rule.from_document(document, {"frequency": "int", "city": "str"})
    assert schema_checked.schema is not None
    jsonschema.validate(json.loads(json.dumps(document)), Rule.document_json_schema())
    assert Rule.parse("a >= 1").content_hash() != Rule.parse("a >= 2").content_hash()


def test_rule_documents_are_checked_like_policy_documents() -> None:
    rule = Rule.parse("frequency >= 3")
    edited = rule.to_document()
    edited["policy"]["right"]["value"] = 4
    with pytest.raises(ConfigError, match="content_hash does not match"):
        Rule.from_document(edited)
    del edited["content_hash"]
    assert Rule.from_document(edited) == Rule.parse("frequency >= 4")
    with pytest.raises(ConfigError, match="holds a 'TagSet', not a 'Rule'"):
        Rule.from_document(_tags().to_document())
    with pytest.raises(ConfigError, match="newer than this user_ops understands"):
        Rule.from_document({**rule.to_document(), "schema_version": 2})
    with pytest.raises(ConfigError, match="not JSON"):
        Rule.from_document("{nope")
    with pytest.raises(RuleSyntaxError):
        Rule.from_document({"type": "Rule", "schema_version": 1, "policy": {"kind": "nope"}})


def test_ledger_and_card_entries_and_benefit_sets_follow_the_same_names() -> None:
    entry = LedgerEntry("r1", "redeem", 50, AT)
    card = CardEntry("t1", "topup", Money("100.00"), AT)
    effective = benefits_for(BenefitTable(tiers=[TierBenefits(tier="a", benefits=[FreeShipping()])]), "a")
    with no_warnings():
        assert json.loads(entry.to_json()) == entry.to_dict()
        assert LedgerEntry.from_json(entry.to_json()) == LedgerEntry.from_json(entry.to_dict()) == entry
        assert json.loads(card.to_json()) == card.to_dict()
        assert CardEntry.from_json(card.to_json().encode("utf-8")) == card
        assert json.loads(effective.to_json()) == effective.to_dicts()
    with pytest.raises(DataError, match="invalid ledger entry: not JSON"):
        LedgerEntry.from_json("{oops")


# -- the deprecated behaviour: the old dict uses warn, and still answer as the dict did ---------------
DICT_USES: dict[str, Any] = {
    "index": lambda text: text["tags"],
    "get": lambda text: text.get("tags"),
    "keys": lambda text: list(text.keys()),
    "values": lambda text: list(text.values()),
    "items": lambda text: dict(text.items()),
    "copy": lambda text: text.copy(),
    "dict()": dict,
    "unpack": lambda text: {**text},
    "iterate": list,
    "==": lambda text: text == _tags().to_dict(),
    "!=": lambda text: text != _tags().to_dict(),
}


@pytest.mark.parametrize("use", sorted(DICT_USES))
def test_old_dict_uses_of_to_json_warn_and_answer_as_the_dict_did(use: str) -> None:
    tags = _tags()
    old = tags.to_dict()  # what to_json() returned before
    with pytest.warns(DeprecationWarning, match=r"to_json\(\) returns JSON text now; use to_dict\(\)"):
        got = DICT_USES[use](tags.to_json())
    assert got == DICT_USES[use](old)


def test_old_constructor_and_model_validate_uses_warn_and_build_the_policy() -> None:
    tags = _tags()
    with pytest.warns(DeprecationWarning, match="to_dict"):
        assert TagSet(**tags.to_json()) == tags
    with pytest.warns(DeprecationWarning, match=r"model_validate\(to_json\(\) output\)"):
        assert TagSet.model_validate(tags.to_json()) == tags


def test_the_warning_points_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        _tags().to_json()["tags"]
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    "change",
    [
        lambda text: text.__setitem__("tags", []),
        lambda text: text.__delitem__("tags"),
        lambda text: text.update({"tags": []}),
        lambda text: text.pop("tags"),
        lambda text: text.setdefault("tags", []),
    ],
)
def test_changing_to_json_output_fails_loudly_naming_to_dict(change: Any) -> None:
    with pytest.raises(TypeError, match=r"use to_dict\(\)"):
        change(_tags().to_json())


def test_old_uses_of_rule_and_entries_warn_too() -> None:
    rule = Rule.parse("frequency >= 3")
    with pytest.warns(DeprecationWarning, match="to_dict"):
        assert rule.to_json()["op"] == ">="
    entry = LedgerEntry("r1", "redeem", 50, AT)
    with pytest.warns(DeprecationWarning, match="to_dict"):
        assert entry.to_json()["points"] == 50
    effective = benefits_for(BenefitTable(tiers=[TierBenefits(tier="a", benefits=[FreeShipping()])]), "a")
    with pytest.warns(DeprecationWarning, match="to_dict"):
        assert effective.to_json()[0] == effective.to_dicts()[0]  # the old list's first item
    with pytest.warns(DeprecationWarning, match="to_dict"):
        assert effective.to_json() == effective.to_dicts()


def test_a_policy_stored_with_json_dumps_of_to_json_still_loads_with_a_warning(tmp_path: Path) -> None:
    """Old code wrote json.dumps(policy.to_json()): now a JSON string holding the policy's JSON."""
    policy = LifecyclePolicy.default()
    stored = json.dumps(policy.to_json())
    assert json.loads(stored) == policy.to_json()  # a string: the one use that cannot warn
    with pytest.warns(DeprecationWarning, match=r"json\.dumps\(\) of to_json\(\) output"):
        assert LifecyclePolicy.from_json(stored) == policy
    with pytest.warns(DeprecationWarning, match=r"json\.dumps\(\) of to_json\(\) output"):
        assert LifecyclePolicy.from_json(stored.encode("utf-8")) == policy
    document = json.dumps(json.dumps(policy.to_document()))
    with pytest.warns(DeprecationWarning, match=r"json\.dumps\(\) of to_json\(\) output"):
        assert LifecyclePolicy.from_document(document) == policy
    rule = Rule.parse("frequency >= 3")
    with pytest.warns(DeprecationWarning, match=r"json\.dumps\(\) of to_json\(\) output"):
        assert Rule.from_json(json.dumps(rule.to_json())) == rule
    # A JSON string that holds no document is still an error, not a policy.
    with pytest.raises(ConfigError, match="holds a string, not a JSON object"):
        LifecyclePolicy.from_json('"stages"')
