"""``PolicyModel``: the base of every policy (frozen pydantic, no unknown fields, JSON, content hash)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from user_ops.exceptions import ConfigError

__all__ = ["PolicyModel", "StrictPolicyModel"]

P = TypeVar("P", bound="PolicyModel")


class PolicyModel(BaseModel):
    """A frozen policy: ``to_json``/``from_json`` round-trip, ``json_schema()``, ``content_hash()``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Version of this policy type's document layout; bumped (with a migration) when fields change meaning.
    schema_version: ClassVar[int] = 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict of this policy."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls: type[P], data: dict[str, Any] | str | bytes) -> P:
        """Rebuild from :meth:`to_json` output (a dict or a JSON string)."""
        if isinstance(data, (str, bytes)):
            return cls.model_validate_json(data)
        return cls.model_validate(data)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """JSON Schema of the policy document (for admin UIs)."""
        return cls.model_json_schema()

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys): equal policies hash equal, across processes."""
        canonical = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_document(self) -> dict[str, Any]:
        """A versioned, self-describing document: type, ``schema_version``, content hash and the policy.

        Examples
        --------
        >>> from user_ops import TagRule, TagSet
        >>> tags = TagSet([TagRule(name="vip", when="monetary >= 1000")])
        >>> document = tags.to_document()
        >>> sorted(document), document["type"], document["schema_version"]
        (['content_hash', 'policy', 'schema_version', 'type'], 'TagSet', 1)
        >>> TagSet.from_document(document) == tags
        True
        """
        return {
            "type": type(self).__name__,
            "schema_version": self.schema_version,
            "content_hash": self.content_hash(),
            "policy": self.to_json(),
        }

    @classmethod
    def from_document(cls: type[P], document: dict[str, Any] | str | bytes) -> P:
        """Read :meth:`to_document` output, checking its type, version and (when present) content hash.

        A document from a newer ``schema_version`` than this library knows, of another policy type, or
        whose policy no longer matches its ``content_hash`` (edited by hand) raises
        :class:`~user_ops.ConfigError`; so does an invalid policy, naming the fields.
        """
        data = _load_document(cls.__name__, document)
        version = data["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigError(f"invalid {cls.__name__} document: schema_version must be a positive int")
        if version > cls.schema_version:
            raise ConfigError(
                f"invalid {cls.__name__} document: schema_version {version} is newer than this user_ops "
                f"understands ({cls.schema_version}); upgrade user_ops"
            )
        policy = cls.migrate_document(data["policy"], from_version=version)
        try:
            loaded = cls.model_validate(policy)
        except ValidationError as exc:
            raise _config_error(cls.__name__, exc) from None
        expected = data.get("content_hash")
        if expected is not None and expected != loaded.content_hash():
            raise ConfigError(
                f"invalid {cls.__name__} document: content_hash does not match the policy (edited after it "
                "was written?); remove content_hash to accept the edit"
            )
        return loaded

    @classmethod
    def migrate_document(cls, policy: Any, *, from_version: int) -> Any:
        """Bring an older document's policy up to :attr:`schema_version` (identity until a type changes)."""
        return policy

    @classmethod
    def document_json_schema(cls) -> dict[str, Any]:
        """JSON Schema of :meth:`to_document` output (the policy's schema inside a versioned envelope)."""
        policy = cls.json_schema()
        definitions = policy.pop("$defs", None)  # refs are "#/$defs/...": they must sit at the root
        envelope: dict[str, Any] = {
            "title": f"{cls.__name__} document",
            "type": "object",
            "properties": {
                "type": {"const": cls.__name__},
                "schema_version": {"type": "integer", "minimum": 1, "maximum": cls.schema_version},
                "content_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "policy": policy,
            },
            "required": ["type", "schema_version", "policy"],
            "additionalProperties": False,
        }
        if definitions is not None:
            envelope["$defs"] = definitions
        return envelope


class StrictPolicyModel(PolicyModel):
    """A policy whose bad options raise :class:`~user_ops.ConfigError` (naming the class and fields).

    For fitted models built in code, where a pydantic ``ValidationError`` would be a leak from
    inside; rules documents keep pydantic's error.
    """

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _config_error(type(self).__name__, exc) from None

    @classmethod
    def from_json(cls: type[P], data: dict[str, Any] | str | bytes) -> P:
        """Rebuild from :meth:`to_json` output; an inconsistent document raises ``ConfigError``."""
        try:
            return super().from_json(data)
        except ValidationError as exc:
            raise _config_error(cls.__name__, exc) from None


def _load_document(name: str, document: dict[str, Any] | str | bytes) -> dict[str, Any]:
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"invalid {name} document: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"invalid {name} document: expected a JSON object, got {type(document).__name__}")
    missing = [key for key in ("type", "schema_version", "policy") if key not in document]
    unknown = sorted(set(document) - {"type", "schema_version", "content_hash", "policy"})
    if missing or unknown:
        problem = f"missing {missing}" if missing else f"unknown keys {unknown}"
        raise ConfigError(f"invalid {name} document: {problem}")
    if document["type"] != name:
        raise ConfigError(f"invalid {name} document: it holds a {document['type']!r}, not a {name!r}")
    return document


def _config_error(name: str, exc: ValidationError) -> ConfigError:
    parts = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        message = str(cause) if cause is not None else error["msg"]
        message = message.removeprefix("Value error, ").removeprefix(f"invalid {name}: ")  # already said
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return ConfigError(f"invalid {name}: " + "; ".join(parts))
