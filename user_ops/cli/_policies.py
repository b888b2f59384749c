"""Policy documents on the command line: look up a policy type by name, print its JSON Schema, and
check a policy JSON file, reporting every problem with its position.

A position is the JSON path of the offending value (``$.tags[0].when``) and its line and column in
the file; for a rule written as text, the column points at the offending character inside the rule,
with the rule's caret snippet below.

Examples
--------
>>> registry = {"TagSet": "user_ops.tags:TagSet"}
>>> resolve_policy_type("TagSet", registry).__name__
'TagSet'
>>> problems = check_policy_text('{"tags": [{"name": "vip", "when": "monetary >= "}]}',
...                              resolve_policy_type("TagSet", registry))
>>> print(problems[0].render("tags.json"))
tags.json:1:47: $.tags[0].when (tag 'vip'): unexpected end of rule: expected an expression after '>='
    monetary >=
               ^
"""

from __future__ import annotations

import difflib
import importlib
import json
import json.decoder
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from user_ops._policy import validation_cause
from user_ops.exceptions import ConfigError, DataError, RuleError, UserOpsError

__all__ = [
    "Problem",
    "check_policy_text",
    "json_positions",
    "policy_schema",
    "resolve_policy_type",
]

Path = tuple[str | int, ...]
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_scanstring: Any = getattr(json.decoder, "scanstring")  # noqa: B009  (not in typeshed: it is public API)
_ENVELOPE_KEYS = frozenset({"type", "schema_version", "policy"})


# -- the registry -----------------------------------------------------------------------------------
def resolve_policy_type(name: str, registry: Mapping[str, str]) -> Any:
    """The class registered as ``name`` (``"module:attribute"``), imported only now.

    Raises
    ------
    DataError
        For a name that is not registered (with a "did you mean").
    ConfigError
        For a registered name whose module or attribute does not exist in this installation (a room
        that is not built yet, or an extra that is missing).
    """
    if name not in registry:
        by_lower = {known.lower(): known for known in registry}
        if name.lower() in by_lower:  # `schema tagset` means TagSet
            name = by_lower[name.lower()]
        else:
            close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
            hint = f"; did you mean {by_lower[close[0]]!r}?" if close else ""
            raise DataError(f"unknown policy type {name!r}{hint} (known: {', '.join(sorted(registry))})")
    module_name, _, attribute = registry[name].partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"policy type {name!r} is not available in this installation ({registry[name]} not found)"
        ) from None


def available_policy_types(registry: Mapping[str, str]) -> list[str]:
    """The registered names that resolve in this installation, sorted.

    Examples
    --------
    >>> available_policy_types({"TagSet": "user_ops.tags:TagSet", "Nope": "user_ops.tags:Nope"})
    ['TagSet']
    """
    found = []
    for name in sorted(registry):
        try:
            resolve_policy_type(name, registry)
        except UserOpsError:
            continue
        found.append(name)
    return found


def policy_schema(cls: Any, *, document: bool = False) -> dict[str, Any]:
    """JSON Schema of a policy type (``document=True``: of its versioned document envelope).

    Examples
    --------
    >>> from user_ops import TagSet
    >>> policy_schema(TagSet)["title"], policy_schema(TagSet, document=True)["title"]
    ('TagSet', 'TagSet document')
    """
    if document:
        make = getattr(cls, "document_json_schema", None)
        if make is None:
            raise ConfigError(f"{cls.__name__} has no document form (only policy models do)")
        result: dict[str, Any] = make()
        return result
    schema: dict[str, Any] = cls.json_schema()
    return schema


# -- problems ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file: where (path, line, column) and what.

    ``detail`` holds extra lines printed under the message (a rule's caret snippet).
    """

    message: str
    path: Path = ()
    line: int | None = None
    column: int | None = None
    detail: tuple[str, ...] = field(default=())
    rule_position: tuple[int, int] | None = field(default=None, compare=False, repr=False)
    """Line and column inside the rule text, for a problem in a rule (placed in the file later)."""
    owner: str = ""
    """What a person calls the item the path is in (``tag 'vip'``, ``stage 'churn'``), if it has a name."""

    @property
    def json_path(self) -> str:
        """The path in JSONPath form, ``$.tags[0].when``."""
        return json_path(self.path)

    def render(self, filename: str) -> str:
        """``file:line:column: $.path: message`` plus the detail lines."""
        where = filename if self.line is None else f"{filename}:{self.line}:{self.column}"
        owner = f" ({self.owner})" if self.owner else ""
        head = f"{where}: {self.json_path}{owner}: {self.message}"
        return "\n".join([head, *self.detail])


def json_path(path: Path) -> str:
    """``("tags", 0, "when")`` as ``$.tags[0].when`` (keys that are not identifiers quoted).

    Examples
    --------
    >>> json_path(("tags", 0, "when")), json_path(("a b",)), json_path(())
    ('$.tags[0].when', '$["a b"]', '$')
    """
    parts = ["$"]
    for key in path:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif key.isidentifier():
            parts.append(f".{key}")
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False)}]")
    return "".join(parts)


def check_policy_text(text: str, cls: Any) -> list[Problem]:
    """Every problem of ``text`` read as a policy of type ``cls`` (empty: the policy is valid).

    The text may hold the policy itself (``policy.to_json()`` text), a versioned document
    (``policy.to_document()``), or, for ``Rule``, rule text as a JSON string, a rule's JSON AST or
    its document.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [Problem(f"not JSON: {exc.msg}", line=exc.lineno, column=exc.colno)]
    positions = json_positions(text)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        problems = _check_rule(data, cls)
    elif _is_document(data):
        problems = _check_document(data, cls)
    else:
        problems = _check_model(data, cls, prefix=())
    placed = [_owned(_placed(problem, text, data, positions), data) for problem in problems]
    return sorted(placed, key=lambda p: (p.line is None, p.line or 0, p.column or 0))  # in file order


def _owned(problem: Problem, data: Any) -> Problem:
    """The problem with the name of the innermost named item on its path (a tag, a stage, a tier)."""
    owner, current, parent_key = "", data, None
    for key in problem.path:
        if isinstance(current, dict) and key in current:
            current, parent_key = current[key], key
        elif isinstance(current, list) and isinstance(key, int) and 0 <= key < len(current):
            current = current[key]
            if isinstance(current, dict) and isinstance(parent_key, str):
                label = next(
                    (current[k] for k in ("name", "code", "id") if isinstance(current.get(k), str)), None
                )
                if label is not None:
                    owner = f"{parent_key.removesuffix('s')} {label!r}"
        else:
            break
    if not owner:
        return problem
    return Problem(problem.message, problem.path, problem.line, problem.column, problem.detail, owner=owner)


def _is_document(data: Any) -> bool:
    return isinstance(data, dict) and set(data) >= _ENVELOPE_KEYS


def _check_rule(data: Any, cls: Any) -> list[Problem]:
    document = _is_document(data)
    try:
        if isinstance(data, str):
            cls.parse(data)
        elif document:
            cls.from_document(data)  # rule.to_document(): the envelope, then the AST in "policy"
        elif isinstance(data, dict):
            cls.from_json(data)
        else:
            return [Problem(f"a rule is rule text (a JSON string) or a JSON AST object, not {_kind(data)}")]
    except RuleError as exc:
        return [_rule_problem(exc, ("policy",) if document else ())]
    except UserOpsError as exc:  # the document's envelope: type, version, content hash
        message = _first_line(exc).removeprefix(f"invalid {cls.__name__} document: ")
        return [Problem(message, path=_envelope_key(message))]
    return []


def _check_model(data: Any, cls: Any, *, prefix: Path) -> list[Problem]:
    if getattr(cls, "__name__", "") == "TagSet" and isinstance(data, dict):
        problems = _check_tag_set(data, cls, prefix)
        if problems:
            return problems
    try:
        cls.model_validate(data)
    except ValidationError as exc:
        return [_pydantic_problem(error, data, prefix) for error in exc.errors()]
    except UserOpsError as exc:
        cause = validation_cause(exc)
        if cause is not None:
            return [_pydantic_problem(error, data, prefix) for error in cause.errors()]
        return [Problem(_first_line(exc), path=prefix)]
    return []


def _check_tag_set(data: dict[str, Any], cls: Any, prefix: Path) -> list[Problem]:
    """Every problem of a tag set at once: each tag on its own, then the set's rules (unique names,
    ``has_tag`` references, priority ties); a set that passes goes through the model (cycles)."""
    tags = data.get("tags")
    if not isinstance(tags, list):
        return []
    from user_ops.tags import TagRule

    problems = [Problem(f"unknown field {key!r}", path=(*prefix, key)) for key in data if key != "tags"]
    valid: list[tuple[int, Any]] = []
    for index, tag in enumerate(tags):
        found = _check_model(tag, TagRule, prefix=(*prefix, "tags", index))
        problems += found
        if not found:
            valid.append((index, TagRule.model_validate(tag)))
    names = [tag.get("name") for tag in tags if isinstance(tag, dict) and isinstance(tag.get("name"), str)]
    first: dict[str, int] = {}
    ranks: dict[tuple[str, int], str] = {}
    for index, tag in valid:
        here = (*prefix, "tags", index)
        if tag.name in first:
            problems.append(
                Problem(
                    f"duplicate tag name {tag.name!r} (also tags[{first[tag.name]}])", path=(*here, "name")
                )
            )
        first.setdefault(tag.name, index)
        for reference in tag.references:
            if reference not in names:
                close = difflib.get_close_matches(reference, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                message = f"has_tag({reference!r}): no tag {reference!r} in this set{hint}"
                problems.append(Problem(message, path=(*here, "when")))
        if tag.group is not None:
            other = ranks.setdefault((tag.group, tag.priority), tag.name)
            if other != tag.name:
                problems.append(
                    Problem(
                        f"shares priority {tag.priority} with tag {other!r} in group {tag.group!r}; give "
                        "them different priorities (higher wins)",
                        path=(*here, "priority" if "priority" in tags[index] else "group"),
                    )
                )
    return problems


def _check_document(data: dict[str, Any], cls: Any) -> list[Problem]:
    if data.get("type") == cls.__name__:
        problems = _check_model(data["policy"], cls, prefix=("policy",))
        if problems:
            return problems
    try:
        cls.from_document(data)  # envelope: type, version, unknown keys, content hash
    except UserOpsError as exc:
        message = _first_line(exc).removeprefix(f"invalid {cls.__name__} document: ")
        return [Problem(message, path=_envelope_key(message))]
    return []


def _envelope_key(message: str) -> Path:
    if message.startswith("it holds a "):
        return ("type",)
    for key in ("schema_version", "content_hash", "type"):
        if key in message:
            return (key,)
    return ()


def _pydantic_problem(error: Any, data: Any, prefix: Path) -> Problem:
    path = prefix + _data_path(data, error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, RuleError):
        return _rule_problem(cause, path)
    message = str(cause) if cause is not None else error["msg"]
    message = message.removeprefix("Value error, ")
    if error["type"] == "missing":
        message = f"missing required field {error['loc'][-1]!r}"
    elif error["type"] == "extra_forbidden":
        message = f"unknown field {error['loc'][-1]!r}"
    return Problem(_first_line(message), path=path)


def _data_path(data: Any, loc: tuple[Any, ...]) -> Path:
    """The part of a pydantic error location that exists in the data (union tags dropped)."""
    path: list[str | int] = []
    current = data
    for position, key in enumerate(loc):
        inside_dict = isinstance(current, dict) and key in current
        if inside_dict or (isinstance(current, list) and isinstance(key, int) and 0 <= key < len(current)):
            current = current[key]
            path.append(key)
        elif position == len(loc) - 1 and isinstance(current, dict) and isinstance(key, str):
            path.append(key)  # a missing or unknown key: name it
    return tuple(path)


def _rule_problem(exc: RuleError, path: Path) -> Problem:
    detail = tuple(line for line in str(exc).splitlines()[1:] if not line.startswith("  line "))
    inside = (exc.line, exc.column) if exc.line is not None and exc.column is not None else None
    return Problem(exc.message, path=path, detail=detail, rule_position=inside)


def _placed(problem: Problem, text: str, data: Any, positions: Mapping[Path, tuple[int, int]]) -> Problem:
    """The problem with the line and column of its path in the file (the closest enclosing value)."""
    if problem.line is not None:
        return problem
    path = problem.path
    while path not in positions and path:
        path = path[:-1]
    if path not in positions:
        return problem
    line, column = positions[path]
    if problem.rule_position is not None and path == problem.path:
        line, column = _inside_string(text, data, path, line, column, problem.rule_position)
    return Problem(problem.message, problem.path, line, column, problem.detail)


def _inside_string(
    text: str, data: Any, path: Path, line: int, column: int, inside: tuple[int, int]
) -> tuple[int, int]:
    """Where the rule's own line/column falls in the file, when the JSON string holds the rule as is
    (no escapes); else the string's opening quote."""
    value = data
    for key in path:
        value = value[key]
    if not isinstance(value, str) or inside[0] != 1:
        return line, column
    start = _offset(text, line, column) + 1  # after the opening quote
    if text[start : start + len(value)] != value:
        return line, column
    return line, column + inside[1]


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(lines[i]) + 1 for i in range(line - 1)) + column - 1


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _first_line(value: object) -> str:
    return (str(value).splitlines() or [""])[0]


# -- positions of JSON values -----------------------------------------------------------------------
def json_positions(text: str) -> dict[Path, tuple[int, int]]:
    """1-based ``(line, column)`` of every value in a valid JSON text, by path.

    Examples
    --------
    >>> positions = json_positions('{"a": [1,\\n  {"b": true}]}')
    >>> positions[("a",)], positions[("a", 1, "b")]
    ((1, 7), (2, 9))
    """
    starts: dict[Path, int] = {}
    _value(text, _skip(text, 0), (), starts)
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    return {path: _line_column(line_starts, offset) for path, offset in starts.items()}


def _line_column(line_starts: list[int], offset: int) -> tuple[int, int]:
    import bisect

    line = bisect.bisect_right(line_starts, offset)
    return line, offset - line_starts[line - 1] + 1


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _value(text: str, index: int, path: Path, starts: dict[Path, int]) -> int:
    """Record where the value at ``index`` starts; return the index just after it."""
    starts[path] = index
    char = text[index]
    if char == "{":
        return _object(text, index + 1, path, starts)
    if char == "[":
        return _array(text, index + 1, path, starts)
    if char == '"':
        return int(_scanstring(text, index + 1)[1])
    for word in ("true", "false", "null", "NaN", "Infinity", "-Infinity"):
        if text.startswith(word, index):
            return index + len(word)
    match = _NUMBER.match(text, index)
    if match is None:
        raise ValueError(f"not JSON at offset {index}")
    return match.end()


def _object(text: str, index: int, path: Path, starts: dict[Path, int]) -> int:
    index = _skip(text, index)
    if text[index] == "}":
        return index + 1
    while True:
        key, index = _scanstring(text, index + 1)
        index = _skip(text, _skip(text, index) + 1)  # past the colon
        index = _skip(text, _value(text, index, (*path, key), starts))
        if text[index] == "}":
            return index + 1
        index = _skip(text, index + 1)  # past the comma


def _array(text: str, index: int, path: Path, starts: dict[Path, int]) -> int:
    index = _skip(text, index)
    if text[index] == "]":
        return index + 1
    position = 0
    while True:
        index = _skip(text, _value(text, index, (*path, position), starts))
        position += 1
        if text[index] == "]":
            return index + 1
        index = _skip(text, index + 1)
