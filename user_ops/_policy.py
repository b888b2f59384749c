"""``PolicyModel``: the base of every policy (frozen pydantic, no unknown fields, JSON, content hash)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from user_ops.exceptions import ConfigError

__all__ = ["PolicyModel", "StrictPolicyModel"]

P = TypeVar("P", bound="PolicyModel")


class PolicyModel(BaseModel):
    """A frozen policy: ``to_json``/``from_json`` round-trip, ``json_schema()``, ``content_hash()``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


def _config_error(name: str, exc: ValidationError) -> ConfigError:
    parts = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        message = str(cause) if cause is not None else error["msg"]
        message = message.removeprefix("Value error, ").removeprefix(f"invalid {name}: ")  # already said
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return ConfigError(f"invalid {name}: " + "; ".join(parts))
