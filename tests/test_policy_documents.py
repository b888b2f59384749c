"""Policies as versioned documents: envelope, version checks, hash checks, schema of the envelope."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from user_ops import ConfigError, LifecyclePolicy, RFMModel, SegmentMap, TagRule, TagSet
from user_ops._policy import PolicyModel
from user_ops.datasets import synthetic_customers


def _fitted_rfm() -> RFMModel:
    table = synthetic_customers(500, seed=3)
    return RFMModel().fit(table)


POLICIES: dict[str, Any] = {
    "TagSet": lambda: TagSet([TagRule(name="vip", when="monetary >= 1000")]),
    "SegmentMap": SegmentMap.classic,
    "LifecyclePolicy": LifecyclePolicy.default,
    "RFMModel": _fitted_rfm,
}


@pytest.fixture(params=sorted(POLICIES))
def policy(request: pytest.FixtureRequest) -> PolicyModel:
    made = POLICIES[request.param]()
    assert isinstance(made, PolicyModel)
    return made


def test_documents_round_trip_and_validate_against_their_schema(policy: PolicyModel) -> None:
    document = policy.to_document()
    assert document["type"] == type(policy).__name__
    assert document["content_hash"] == policy.content_hash()
    assert type(policy).from_document(document) == policy
    assert type(policy).from_document(json.dumps(document)) == policy
    jsonschema.validate(json.loads(json.dumps(document)), type(policy).document_json_schema())


def test_a_document_of_another_type_is_refused(policy: PolicyModel) -> None:
    document = {**policy.to_document(), "type": "Something"}
    with pytest.raises(ConfigError, match="holds a 'Something'"):
        type(policy).from_document(document)


def test_a_newer_schema_version_is_refused_with_advice(policy: PolicyModel) -> None:
    document = {**policy.to_document(), "schema_version": type(policy).schema_version + 1}
    with pytest.raises(ConfigError, match=r"newer than this user_ops understands.*upgrade"):
        type(policy).from_document(document)


def test_an_edited_policy_must_drop_its_stale_hash() -> None:
    document = TagSet([TagRule(name="vip", when="monetary >= 1000")]).to_document()
    document["policy"]["tags"][0]["when"] = "monetary >= 2000"
    with pytest.raises(ConfigError, match="content_hash does not match"):
        TagSet.from_document(document)
    del document["content_hash"]
    assert TagSet.from_document(document)["vip"].when.to_text() == "monetary >= 2000"


@pytest.mark.parametrize(
    ("document", "match"),
    [
        ("{not json", r"not JSON \(Expecting property name enclosed in double quotes at line 1 column 2\)"),
        ("[1]", "expected a JSON object, got list"),
        ({"type": "TagSet", "policy": {}}, r"missing \['schema_version'\]"),
        ({"type": "TagSet", "schema_version": 1, "policy": {}, "extra": 1}, r"unknown keys \['extra'\]"),
        ({"type": "TagSet", "schema_version": "1", "policy": {}}, "schema_version must be a positive int"),
        ({"type": "TagSet", "schema_version": 1, "policy": {"tags": 3}}, r"^invalid TagSet: tags: "),
    ],
)
def test_bad_documents_raise_config_errors_that_say_what_is_wrong(document: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TagSet.from_document(document)
