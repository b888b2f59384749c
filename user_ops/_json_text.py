"""What ``to_json()`` returns: JSON text, which for one release still answers the old dict-like uses.

``to_json()`` used to return a JSON-compatible dict (now [`to_dict`][]), so writing it to a file
failed. It now returns a ``str`` — [`JSONText`][], a subclass that a host treats as plain text
(``open(...).write(policy.to_json())``, ``Path.write_text``, ``json.loads``, ``from_json``). Code
written for the old dict keeps working for one release, with a ``DeprecationWarning`` naming the
replacement, wherever Python lets a ``str`` tell a dict-like use from a text one:

- ``text["field"]``, ``.get()``, ``.keys()``, ``.values()``, ``.items()``, ``.copy()``,
  ``dict(text)``, ``{**text}``, ``Policy(**text)``: the old dict's answer;
- ``for key in text``, ``text == {...}``: the old dict's answer (iterating JSON text character by
  character has no use that this would hide);
- ``Policy.model_validate(text)``: the policy, as ``from_json`` would read it;
- changing it (``text["x"] = 1``, ``.update``, ``.pop``, ...): a ``TypeError`` naming ``to_dict()``.

``"field" in text`` is a substring test, which a text user needs; for a field name it gives the old
answer (every field appears in the text). Two uses cannot be caught, because Python's ``json``
encoder and ``len`` never call back into a ``str``: ``json.dumps(policy.to_json())`` now encodes the
text as a JSON *string*, and ``len(policy.to_json())`` counts characters. The library's own readers
recognise the first (``from_json``/``from_document`` given JSON text that holds a JSON string of a
document read the inner document, with the same warning), so a policy stored that way still loads.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from user_ops.exceptions import DataError, UserOpsError

__all__ = ["JSONText", "dumps", "json_object", "unwrap_double_encoded"]

_ADVICE = (
    "to_json() returns JSON text now; use to_dict() for the dict (this use stops working in the next release)"
)


class JSONText(str):
    """JSON text from ``to_json()``; its old dict-like uses still work, each with a DeprecationWarning.

    Examples
    --------
    >>> import warnings
    >>> text = JSONText('{"name": "vip", "priority": 0}')
    >>> text.startswith("{") and isinstance(text, str)
    True
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     text["name"]
    'vip'
    >>> caught[0].category.__name__
    'DeprecationWarning'
    """

    __slots__ = ()

    def _old(self, use: str) -> Any:
        """The value the old ``to_json()`` returned, after warning that ``use`` is deprecated."""
        warnings.warn(f"{use} on to_json() output: {_ADVICE}", DeprecationWarning, stacklevel=3)
        return json.loads(str(self))

    def _is_array(self) -> bool:
        return self.lstrip().startswith("[")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) or (self._is_array() and isinstance(key, (int, slice))):
            return self._old(f"indexing [{key!r}]")[key]
        return str.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Deprecated: the old dict's ``get`` (use ``to_dict().get``)."""
        return self._old(".get()").get(key, default)

    def keys(self) -> Any:
        """Deprecated: the old dict's keys (use ``to_dict().keys()``)."""
        return self._old(".keys()").keys()

    def values(self) -> Any:
        """Deprecated: the old dict's values (use ``to_dict().values()``)."""
        return self._old(".values()").values()

    def items(self) -> Any:
        """Deprecated: the old dict's items (use ``to_dict().items()``)."""
        return self._old(".items()").items()

    def copy(self) -> Any:
        """Deprecated: a copy of the old dict (use ``to_dict()``, a new dict each call)."""
        return self._old(".copy()")

    def __iter__(self) -> Iterator[Any]:
        return iter(self._old("iterating"))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Mapping, list, tuple)):
            return bool(self._old("comparing with a dict") == other)
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if isinstance(other, (Mapping, list, tuple)):
            return bool(self._old("comparing with a dict") != other)
        return str.__ne__(self, other)

    __hash__ = str.__hash__

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"to_json() output cannot be changed: {_ADVICE}")

    __setitem__ = __delitem__ = _immutable
    update = pop = popitem = setdefault = clear = append = extend = _immutable


def dumps(value: Any, *, indent: int | None = None) -> JSONText:
    """``value`` as JSON text (UTF-8 characters kept, as the documents are read), for ``to_json()``."""
    return JSONText(json.dumps(value, ensure_ascii=False, indent=indent))


def unwrap_double_encoded(data: Any, *, what: str, error: type[UserOpsError], stacklevel: int = 3) -> Any:
    """``data``, or the document inside it when it is JSON text holding a JSON string of a document.

    That is what ``json.dumps(policy.to_json())`` wrote while ``to_json()`` returned a dict: it still
    loads, with a ``DeprecationWarning`` attributed ``stacklevel`` frames up (the reader's caller).
    Anything else is returned as it is.
    """
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            return data  # the reader reports it
    if not isinstance(data, str) or not data.lstrip().startswith('"'):
        return data
    try:
        inner = json.loads(data)
    except (ValueError, RecursionError):
        return data  # the reader reports it
    if not isinstance(inner, str) or not inner.lstrip().startswith(("{", "[")):
        raise error(f"invalid {what}: the JSON holds a string, not a JSON object")
    warnings.warn(
        f"{what}: the JSON text holds the document as a JSON string (json.dumps() of to_json() "
        "output, written while to_json() returned a dict); read as the document inside. Write "
        "to_json() as it is, or json.dumps(to_dict()); this stops working in the next release",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return inner


def json_object(data: Any, *, what: str) -> Any:
    """``data`` decoded when it is JSON text or UTF-8 bytes (a ``DataError`` naming ``what`` if not JSON).

    For records that ``from_json`` reads as a dict or as text; a mapping is returned as it is, and
    anything else is left for the record's own checks to report.
    """
    data = unwrap_double_encoded(data, what=what, error=DataError, stacklevel=4)
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"invalid {what}: the JSON bytes are not UTF-8 (byte {exc.start})") from None
    if not isinstance(data, str):
        return data
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"invalid {what}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"invalid {what}: not JSON a record can hold ({type(exc).__name__})") from None
