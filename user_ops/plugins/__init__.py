"""Plugins: add functions to the rule language, from code or from installed packages' entry points.

A plugin function has a scalar implementation (plain Python values in, a value out) and, ideally, a
batch implementation (numpy arrays in, one array out). Without the batch one, batch evaluation calls
the scalar one row by row and warns with [`UserOpsWarning`][]. Null arguments give a null
result without calling either implementation (unless ``propagate_nulls=False``).

Installed packages offer plugins through the entry-point group ``user_ops.plugins``; they are loaded
only by [`load_entry_points`][], never at import. Each entry point names a callable that registers
its functions (or a module that does so when imported).

Examples
--------
>>> import numpy as np
>>> from datetime import datetime, timezone
>>> from user_ops import Rule
>>> from user_ops.plugins import register_function, unregister_function
>>> _ = register_function(
...     "ratio", lambda a, b: None if b == 0 else a / b,
...     params=["float", "float"], returns="float",
...     batch=lambda a, b: np.divide(a, b, out=np.full(len(a), np.nan), where=b != 0),
... )
>>> Rule.parse("ratio(spend, orders) > 100").evaluate_one(
...     {"spend": 500.0, "orders": 2.0}, as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
True
>>> unregister_function("ratio")
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from user_ops.exceptions import PluginError
from user_ops.rules._functions import REGISTRY, FunctionSpec
from user_ops.rules._schema import FIELD_TYPES

__all__ = [
    "ENTRY_POINT_GROUP",
    "function_names",
    "load_entry_points",
    "register_function",
    "unregister_function",
]

#: The entry-point group [`load_entry_points`][] reads: a package offers plugins by declaring entry
#: points in it (``[project.entry-points."user_ops.plugins"]`` in its ``pyproject.toml``).
ENTRY_POINT_GROUP = "user_ops.plugins"
_RESERVED = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "contains", "within"})


def register_function(
    name: str,
    scalar: Callable[..., Any],
    *,
    params: Sequence[str],
    returns: str,
    batch: Callable[..., Any] | None = None,
    propagate_nulls: bool = True,
    replace: bool = False,
    doc: str = "",
) -> str:
    """Make ``name(...)`` callable from rules.

    Parameters
    ----------
    name:
        Function name used in rules (an identifier, not a keyword or a built-in's name).
    scalar:
        ``scalar(*values) -> value``; receives Python values (``datetime``, ``Decimal``, ``tuple`` of str...).
    params:
        Argument types, e.g. ``["float", "float"]``; a type may be a union ``"int|float"``.
    returns:
        The result type (one of the schema types).
    batch:
        ``batch(*arrays) -> array`` of the same length (see the rule-language docs for representations).
    propagate_nulls:
        Null arguments give a null result without calling the function (default).
    replace:
        Replace an earlier plugin function of the same name.
    doc:
        One line shown in function listings.

    Returns
    -------
    str
        The registered name.

    Raises
    ------
    PluginError
        Bad name or types, a clash with a built-in, or a non-callable implementation.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops import Rule
    >>> register_function("km", lambda m: m / 1000, params=["int|float"], returns="float",
    ...                   batch=lambda m: m / 1000, doc="metres to kilometres")
    'km'
    >>> Rule.parse("km(distance_m) < 3").evaluate({"distance_m": [1200, 5000]},
    ...                                           as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
    array([ True, False])
    >>> unregister_function("km")
    """
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or keyword.iskeyword(name)
        or name.lower() in _RESERVED
    ):
        raise PluginError(f"plugin function name must be an identifier that is not a keyword, got {name!r}")
    if not callable(scalar) or (batch is not None and not callable(batch)):
        raise PluginError(f"plugin function {name!r}: scalar (and batch, if given) must be callable")
    allowed = tuple(_parse_param(name, index, p) for index, p in enumerate(params))
    if returns not in FIELD_TYPES or returns == "null":
        raise PluginError(f"plugin function {name!r}: unknown return type {returns!r}")
    spec = FunctionSpec(
        name, allowed, returns, scalar, batch, propagate_nulls=propagate_nulls, doc=doc, plugin=True
    )
    REGISTRY.add(spec, replace=replace)
    return name


def _parse_param(name: str, index: int, param: str) -> frozenset[str]:
    kinds = frozenset(part.strip() for part in str(param).split("|"))
    unknown = sorted(k for k in kinds if k not in FIELD_TYPES or k == "null")
    if unknown:
        raise PluginError(f"plugin function {name!r}: parameter {index + 1} has unknown type(s) {unknown}")
    return kinds


def unregister_function(name: str) -> None:
    """Remove a plugin function (built-ins cannot be removed).

    Parameters
    ----------
    name:
        The name given to [`register_function`][].

    Raises
    ------
    PluginError
        When ``name`` is a built-in function or no plugin of that name is registered.

    Examples
    --------
    >>> _ = register_function("halve", lambda x: x / 2, params=["float"], returns="float")
    >>> "halve" in function_names()
    True
    >>> unregister_function("halve")
    >>> "halve" in function_names()
    False
    """
    REGISTRY.remove(name)


def function_names() -> list[str]:
    """Names of every function rules can call: built-ins and registered plugins.

    Returns
    -------
    list of str
        The names, sorted.

    Examples
    --------
    >>> names = function_names()
    >>> "days_since" in names, names == sorted(names)
    (True, True)
    """
    return REGISTRY.names()


def load_entry_points(*, names: Sequence[str] | None = None, group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Load installed plugins from the ``user_ops.plugins`` entry-point group.

    Parameters
    ----------
    names:
        Load only these entry points (default: all in the group).
    group:
        The entry-point group.

    Returns
    -------
    list of str
        The entry points loaded.

    Raises
    ------
    PluginError
        When an entry point fails to import or to register, naming it; or a requested name is absent.

    Examples
    --------
    A group nobody installed plugins into loads nothing; asking for a missing plugin by name fails:

    >>> load_entry_points(group="user_ops.example_group")
    []
    >>> try:
    ...     load_entry_points(names=["geo"], group="user_ops.example_group")
    ... except PluginError as exc:
    ...     print(exc)
    no installed plugin named ['geo'] in entry-point group 'user_ops.example_group'
    """
    found = {ep.name: ep for ep in metadata.entry_points(group=group)}
    wanted = list(found) if names is None else list(names)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise PluginError(f"no installed plugin named {missing} in entry-point group {group!r}")
    loaded = []
    for entry_name in wanted:
        entry = found[entry_name]
        try:
            target = entry.load()
            if callable(target):
                target()
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {entry_name!r} ({entry.value}) failed to load: {exc!r}") from exc
        loaded.append(entry_name)
    return loaded
