"""``PolicyModel``: the base of every policy (frozen pydantic, no unknown fields, JSON, content hash)."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from user_ops._json_text import JSONText, dumps, unwrap_double_encoded
from user_ops.exceptions import ConfigError, UserOpsError

if TYPE_CHECKING:
    from typing_extensions import Self

_T = TypeVar("_T")

__all__ = [
    "PolicyModel",
    "ValidatedModel",
    "canonical_hash",
    "check_content_hash",
    "document_schema",
    "read_document",
    "validation_cause",
    "validation_message",
]


class ValidatedModel(BaseModel):
    """A frozen pydantic model whose invalid input raises a ``user_ops`` error naming the field path.

    Every way of building one — the constructor, ``model_validate``, ``model_validate_json``,
    ``model_validate_strings`` — raises [`invalid_input_error`][] (``ConfigError`` unless a subclass
    says otherwise) instead of pydantic's ``ValidationError`` or a ``RecursionError``. The base of
    [`PolicyModel`][] and of the rule language's AST nodes.

    Examples
    --------
    >>> from user_ops import ConfigError
    >>> from user_ops.rules import Limits
    >>> try:
    ...     Limits(max_depth="deep")
    ... except ConfigError as exc:
    ...     print(exc)
    invalid Limits: max_depth: Input should be a valid integer, unable to parse string as an integer
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The error invalid input raises: configuration by default; events and other data say ``DataError``.
    invalid_input_error: ClassVar[type[UserOpsError]] = ConfigError

    def __init__(self, /, **data: Any) -> None:
        _reporting(type(self), data, lambda: super(ValidatedModel, self).__init__(**data))

    # Only wraps errors: pydantic may validate nested models without calling it, as for BaseModel's.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Any = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """pydantic's ``model_validate``, reporting invalid input as a ``user_ops`` error."""
        if isinstance(obj, JSONText):  # to_json() output, which was a dict: read it, and say so
            warnings.warn(
                f"{cls.__name__}.model_validate(to_json() output): to_json() returns JSON text now; "
                "pass to_dict() output, or read the text with from_json() (this stops working in the "
                "next release)",
                DeprecationWarning,
                stacklevel=2,
            )
            obj = json.loads(obj)
        options = {
            "strict": strict,
            "extra": extra,
            "context": context,
            "by_alias": by_alias,
            "by_name": by_name,
        }
        validate = super().model_validate
        return _reporting(cls, obj, lambda: validate(obj, from_attributes=from_attributes, **options))

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: Any = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """pydantic's ``model_validate_json``, reporting invalid input as a ``user_ops`` error."""
        options = {
            "strict": strict,
            "extra": extra,
            "context": context,
            "by_alias": by_alias,
            "by_name": by_name,
        }
        validate = super().model_validate_json
        return _reporting(cls, None, lambda: validate(json_data, **options))

    @classmethod
    def model_validate_strings(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Any = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """pydantic's ``model_validate_strings``, reporting invalid input as a ``user_ops`` error."""
        options = {
            "strict": strict,
            "extra": extra,
            "context": context,
            "by_alias": by_alias,
            "by_name": by_name,
        }
        validate = super().model_validate_strings
        return _reporting(cls, obj, lambda: validate(obj, **options))


class PolicyModel(ValidatedModel):
    """A frozen policy: ``to_json``/``from_json`` round-trip, ``json_schema()``, ``content_hash()``.

    ``to_json()`` is the policy as JSON text (write it to a file as it is), ``to_dict()`` the same as a
    JSON-compatible dict, ``to_document()`` a versioned envelope around it; ``from_json`` reads a dict,
    text or UTF-8 bytes, ``from_document`` the envelope.

    Every way of building one (the constructor, ``model_validate``, ``model_validate_json``,
    [`from_json`][], [`from_document`][]) reports invalid input as a ``user_ops`` error naming the
    class and the field path: [`ConfigError`][] for policies and options, or the class's
    ``invalid_input_error`` (``DataError`` for events, which are data). pydantic's
    ``ValidationError``, ``RecursionError`` and JSON decoding errors never leave it.

    Examples
    --------
    >>> from user_ops import ConfigError, TagRule
    >>> try:
    ...     TagRule(name="vip", when="monetary >=")
    ... except ConfigError as exc:
    ...     print(str(exc).splitlines()[0])
    invalid TagRule: when: unexpected end of rule: expected an expression after '>='
    >>> rule = TagRule(name="vip", when="monetary >= 1000")
    >>> rule.to_json()[:38]
    '{"name": "vip", "when": "monetary >= 1'
    >>> TagRule.from_json(rule.to_json()) == TagRule.from_json(rule.to_dict()) == rule
    True
    """

    #: Version of this policy type's document layout; bumped (with a migration) when fields change meaning.
    schema_version: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        """The policy as a JSON-compatible dict (what ``json.dumps`` takes, and [`from_json`][]).

        Examples
        --------
        >>> from user_ops import TagRule
        >>> TagRule(name="vip", when="monetary >= 1000", label_zh="大客户").to_dict()["when"]
        'monetary >= 1000'
        """
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = None) -> str:
        """The policy as JSON text, ready to write to a file; [`from_json`][] reads it back.

        ``indent`` pretty-prints (``json.dumps``'s meaning); Chinese text is kept as it is. Until the
        next release the text also answers the dict-like uses of the old ``to_json()`` (which returned
        what [`to_dict`][] returns now), each with a ``DeprecationWarning``.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from user_ops import TagRule
        >>> rule = TagRule(name="vip", when="monetary >= 1000", label_zh="大客户")
        >>> path = Path(tempfile.mkdtemp()) / "vip.json"
        >>> _ = path.write_text(rule.to_json(indent=2), encoding="utf-8")
        >>> TagRule.from_json(path.read_text(encoding="utf-8")) == rule
        True
        """
        return dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, data: dict[str, Any] | str | bytes) -> Self:
        """Rebuild from [`to_json`][] text (or UTF-8 bytes) or [`to_dict`][] output.

        Invalid input raises ``invalid_input_error`` (``ConfigError`` for policies) naming the field
        path; bytes that are not UTF-8 and JSON nested too deeply are invalid input like any other.

        Examples
        --------
        >>> from user_ops import TagRule
        >>> TagRule.from_json('{"name": "vip", "when": "monetary >= 1000"}').name
        'vip'
        """
        data = unwrap_double_encoded(data, what=cls.__name__, error=cls.invalid_input_error)
        if isinstance(data, (bytes, bytearray)):
            data = _utf8_text(cls, data)
        if isinstance(data, str):
            return cls.model_validate_json(data)
        return cls.model_validate(data)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """JSON Schema of the policy document (for admin UIs)."""
        return cls.model_json_schema()

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys): equal policies hash equal, across processes."""
        return canonical_hash(self.to_dict())

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
            "policy": self.to_dict(),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any] | str | bytes) -> Self:
        """Read [`to_document`][] output, checking its type, version and (when present) content hash.

        A document from a newer ``schema_version`` than this library knows, of another policy type, or
        whose policy no longer matches its ``content_hash`` (edited by hand) raises
        [`ConfigError`][]; so does an invalid policy, naming the fields.
        """
        version, policy, expected = read_document(
            cls.__name__, document, newest=cls.schema_version, error=cls.invalid_input_error
        )
        loaded = cls.model_validate(cls.migrate_document(policy, from_version=version))
        check_content_hash(cls.__name__, expected, loaded.content_hash())
        return loaded

    @classmethod
    def migrate_document(cls, policy: Any, *, from_version: int) -> Any:
        """Bring an older document's policy up to [`schema_version`][] (identity until a type changes)."""
        return policy

    @classmethod
    def document_json_schema(cls) -> dict[str, Any]:
        """JSON Schema of [`to_document`][] output (the policy's schema inside a versioned envelope)."""
        return document_schema(cls.__name__, cls.schema_version, cls.json_schema())


def canonical_hash(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON (sorted keys, no spaces, UTF-8): a policy's content hash."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def document_schema(name: str, newest: int, policy: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of a ``name`` document (versions 1..``newest``) wrapping the ``policy`` schema."""
    policy = dict(policy)
    definitions = policy.pop("$defs", None)  # refs are "#/$defs/...": they must sit at the root
    envelope: dict[str, Any] = {
        "title": f"{name} document",
        "type": "object",
        "properties": {
            "type": {"const": name},
            "schema_version": {"type": "integer", "minimum": 1, "maximum": newest},
            "content_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "policy": policy,
        },
        "required": ["type", "schema_version", "policy"],
        "additionalProperties": False,
    }
    if definitions is not None:
        envelope["$defs"] = definitions
    return envelope


def read_document(
    name: str, document: Any, *, newest: int, error: type[UserOpsError] = ConfigError
) -> tuple[int, Any, str | None]:
    """Check a ``name`` document's envelope: its ``schema_version``, policy and content hash (if any).

    Raises ``ConfigError`` for a document of another type, with missing or unknown keys, or a
    ``schema_version`` that is not 1..``newest``; ``error`` for one that is not UTF-8 or not JSON.
    """
    data = _load_document(name, document, error=error)
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"invalid {name} document: schema_version must be a positive int")
    if version > newest:
        raise ConfigError(
            f"invalid {name} document: schema_version {version} is newer than this user_ops "
            f"understands ({newest}); upgrade user_ops"
        )
    return version, data["policy"], data.get("content_hash")


def check_content_hash(name: str, expected: str | None, actual: str) -> None:
    """Raise ``ConfigError`` when a document's ``content_hash`` (if any) is not the policy's."""
    if expected is not None and expected != actual:
        raise ConfigError(
            f"invalid {name} document: content_hash does not match the policy (edited after it "
            "was written?); remove content_hash to accept the edit"
        )


def _load_document(name: str, document: Any, *, error: type[UserOpsError]) -> dict[str, Any]:
    what = f"{name} document"
    # Frames up: unwrap, _load_document, read_document, from_document, the caller.
    document = unwrap_double_encoded(document, what=what, error=error, stacklevel=5)
    if isinstance(document, (bytes, bytearray)):
        document = _utf8(document, what=what, error=error)
    if isinstance(document, str):
        document = _json_loads(document, what=what, error=error)
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


#: How many policy validations are running in this context: only the outermost reports the error.
_VALIDATING: ContextVar[int] = ContextVar("user_ops_policy_validating", default=0)


def _reporting(cls: type[ValidatedModel], data: Any, validate: Callable[[], _T]) -> _T:
    """Run ``validate`` (pydantic's validation of ``cls`` from ``data``), raising its user_ops error."""
    depth = _VALIDATING.get()
    token = _VALIDATING.set(depth + 1)
    try:
        return validate()
    except (ValidationError, RecursionError, UnicodeEncodeError) as exc:
        raise _user_ops_error(cls, exc, data, nested=depth > 0) from None
    finally:
        _VALIDATING.reset(token)


def _user_ops_error(cls: type[ValidatedModel], exc: Exception, data: Any, *, nested: bool) -> Exception:
    """The ``user_ops`` error for ``exc`` raised while validating ``cls`` from ``data``.

    Inside another model's validation (``nested``) the pydantic error is returned as it is: pydantic
    merges it into the outer model's errors with their full paths, and only the outermost reports.
    """
    if nested:
        return exc
    if isinstance(exc, ValidationError):
        message = validation_message(cls.__name__, exc)
        return cls.invalid_input_error(f"invalid {cls.__name__}: {message}")
    if isinstance(exc, UnicodeEncodeError):
        # pydantic cannot carry a message that quotes a lone surrogate: name the field that holds one.
        where = _surrogate_path(data)
        where = f"{where}: " if where else ""
        bad = exc.object[exc.start : exc.end]
        return cls.invalid_input_error(
            f"invalid {cls.__name__}: {where}text holds a lone surrogate ({bad!r}), not valid Unicode"
        )
    where = _too_deep(data)
    where = f"{where}: " if where else ""
    return cls.invalid_input_error(f"invalid {cls.__name__}: {where}the input is nested too deeply")


#: Nesting beyond which a value is named as the culprit of a RecursionError (real policies stay far below).
_DEEP = 200


def _too_deep(data: Any) -> str:
    """The dotted path of the first value in ``data`` nested deeper than [`_DEEP`][] ("" if none).

    Only called after a ``RecursionError``, so it walks iteratively and stops at the first culprit.
    """
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > _DEEP:
            return path.split(".", 1)[0] if "." in path else path
        if isinstance(value, dict):
            stack.extend(
                (item, f"{path}.{key}" if path else str(key), depth + 1) for key, item in value.items()
            )
        elif isinstance(value, (list, tuple)):
            stack.extend(
                (item, f"{path}.{index}" if path else str(index), depth + 1)
                for index, item in enumerate(value)
            )
    return ""


def _surrogate_path(data: Any) -> str:
    """The top-level field of ``data`` whose text (at any depth) holds a lone surrogate ("" if none)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, field, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return field
        elif depth < _DEEP and isinstance(value, dict):
            stack.extend((item, field or str(key), depth + 1) for key, item in value.items())
            stack.extend((key, field or str(key), depth + 1) for key in value if isinstance(key, str))
        elif depth < _DEEP and isinstance(value, (list, tuple)):
            stack.extend((item, field or str(index), depth + 1) for index, item in enumerate(value))
    return ""


def validation_cause(error: BaseException) -> ValidationError | None:
    """The pydantic error a policy's ``user_ops`` error was raised from, for tools that list every problem.

    The policy error is raised ``from None`` (a user sees one clear message, not pydantic's traceback);
    Python still records the original as ``__context__``.
    """
    cause = error.__context__
    return cause if isinstance(cause, ValidationError) else None


def validation_message(name: str, exc: ValidationError) -> str:
    """pydantic's errors as ``path: message; ...``, with the cause's own words where a validator raised.

    ``name`` is the model's class name: a nested ``invalid {name}: `` prefix is not repeated.
    """
    parts = []
    for error in exc.errors(include_url=False):
        cause = (error.get("ctx") or {}).get("error")
        message = str(cause) if cause is not None else error["msg"]
        message = message.removeprefix("Value error, ").removeprefix(f"invalid {name}: ")
        if error["type"] == "json_invalid":
            message = "not valid JSON: " + message.removeprefix("Invalid JSON: ")
        elif error["type"] == "extra_forbidden":
            message = "unknown field (not part of this policy)"
        elif error["type"] == "missing":
            message = "required field is missing"
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _utf8_text(cls: type[ValidatedModel], data: bytes | bytearray) -> str:
    return _utf8(data, what=cls.__name__, error=cls.invalid_input_error)


def _utf8(data: bytes | bytearray, *, what: str, error: type[UserOpsError]) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"invalid {what}: the JSON bytes are not UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None


def _json_loads(text: str, *, what: str, error: type[UserOpsError]) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"invalid {what}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise error(f"invalid {what}: the JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python's int-string digit limit
        raise error(f"invalid {what}: {exc}") from None
