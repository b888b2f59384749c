"""Plugins: extend ``user_ops`` from code or from installed packages' entry points.

Two things can be added, each registered with its room and re-exported here, so that a plugin finds
everything it registers in one place:

- **rule functions**: [`register_function`][], [`unregister_function`][] and
  [`function_names`][] are ``user_ops.rules``' own. A plugin function has a scalar implementation
  (plain Python values in, a value out) and, ideally, a batch implementation (numpy arrays in, one
  array out). Without the batch one, batch evaluation calls the scalar one row by row and warns
  with [`UserOpsWarning`][]. Null arguments give a null result without calling either
  implementation (unless ``propagate_nulls=False``).
- **benefit types** of membership tiers: [`register_benefit_type`][],
  [`unregister_benefit_type`][] and [`benefit_type_names`][] are ``user_ops.membership``'s; a
  registered type is used as a [`CustomBenefit`][user_ops.membership.CustomBenefit].

Installed packages offer plugins through the entry-point group ``user_ops.plugins``; they are loaded
only by [`load_entry_points`][], never at import. Each entry point names a callable that registers
the plugin's rule functions and benefit types (or a module that does so when imported).

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

A benefit type names a pydantic model for its parameters:

>>> from pydantic import BaseModel
>>> from user_ops.membership import CustomBenefit
>>> from user_ops.plugins import register_benefit_type, unregister_benefit_type
>>> class Parking(BaseModel):
...     hours: int
>>> register_benefit_type(
...     "parking", Parking, label=lambda p: (f"{p.hours} h free parking", f"免费停车{p.hours}小时"))
'parking'
>>> CustomBenefit(type="parking", params={"hours": 3}).label("zh")
'免费停车3小时'
>>> unregister_benefit_type("parking")
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

from user_ops.exceptions import PluginError
from user_ops.membership import benefit_type_names, register_benefit_type, unregister_benefit_type
from user_ops.rules import function_names, register_function, unregister_function

__all__ = [
    "ENTRY_POINT_GROUP",
    "benefit_type_names",
    "function_names",
    "load_entry_points",
    "register_benefit_type",
    "register_function",
    "unregister_benefit_type",
    "unregister_function",
]

#: The entry-point group [`load_entry_points`][] reads: a package offers plugins by declaring entry
#: points in it (``[project.entry-points."user_ops.plugins"]`` in its ``pyproject.toml``).
ENTRY_POINT_GROUP = "user_ops.plugins"


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
