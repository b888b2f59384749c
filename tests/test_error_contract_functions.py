"""The error contract, walked over every public function, constructor and ``from_*`` reader.

Each public callable of every room is called with garbage in every required argument (and a valid,
timezone-aware ``as_of`` where it takes one, so that the garbage is what is at fault): only a
``user_ops`` error may come out — never a ``TypeError``, ``KeyError``, ``AttributeError``,
``IndexError`` or a numpy/pydantic error from inside. Succeeding is allowed (some garbage is valid
input for some functions); crashing with something else is not.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from tests.test_docstrings import ROOMS as ALL_ROOMS
from user_ops import UserOpsError

# Every door but those that need an optional engine or only hold errors and plots.
_WITHOUT = {"user_ops.exceptions", "user_ops.plots", "user_ops.dask", "user_ops.spark", "user_ops.cli"}
ROOMS = tuple(room for room in ALL_ROOMS if room not in _WITHOUT)

AS_OF = datetime(2025, 1, 5, 10, tzinfo=timezone.utc)

GARBAGE: tuple[Any, ...] = (
    None,
    "garbage",
    "",
    "\ud800",
    -1,
    2**64,
    math.nan,
    True,
    [],
    [None],
    {},
    {"x": [1, "a", None]},
    b"\xff",
    object(),
    np.array([[1, 2], [3, 4]]),
    datetime(2025, 1, 5),  # naive
)

#: Callables whose contract is not "data in, decision out" and that the walk must not call.
SKIP = {
    "user_ops.plugins.load_entry_points",  # imports whatever is installed
}


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    seen: set[int] = set()
    for room in ROOMS:
        module = importlib.import_module(room)
        for name in module.__all__:
            value = getattr(module, name)
            qualified = f"{room}.{name}"
            if id(value) in seen or qualified in SKIP:
                continue
            seen.add(id(value))
            if inspect.isclass(value):
                if issubclass(value, (BaseException, BaseModel)) or inspect.isabstract(value):
                    continue  # models are walked by test_error_contract.py
                if getattr(value, "_is_protocol", False) or issubclass(value, str):
                    continue
                yield qualified, value
                for attribute, member in vars(value).items():
                    if attribute.startswith("from_") and isinstance(member, classmethod):
                        yield f"{qualified}.{attribute}", getattr(value, attribute)
            elif callable(value):
                yield qualified, value


CALLABLES = dict(_public_callables())


def _required(function: Callable[..., Any]) -> tuple[list[str], list[str]] | None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    positional, keyword = [], []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is not parameter.empty and parameter.name != "as_of":
            continue
        if parameter.kind == parameter.KEYWORD_ONLY:
            keyword.append(parameter.name)
        else:
            positional.append(parameter.name)
    return positional, keyword


def _call(function: Callable[..., Any], positional: list[str], keyword: list[str], value: Any) -> Any:
    args = [value for _ in positional]
    kwargs = {name: (AS_OF if name == "as_of" else value) for name in keyword}
    return function(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_garbage_arguments_raise_user_ops_errors(name: str) -> None:
    function = CALLABLES[name]
    required = _required(function)
    if required is None:
        pytest.skip(f"{name} has no inspectable signature")
    positional, keyword = required
    if not positional and not [k for k in keyword if k != "as_of"]:
        return  # nothing to feed garbage to
    failures = []
    for value in GARBAGE:
        try:
            _call(function, positional, keyword, value)
        except UserOpsError:
            continue
        except BaseException as exc:  # the point: nothing else may escape
            failures.append(f"{name}({value!r:.30}): {type(exc).__name__}: {str(exc)[:160]}")
    assert not failures, "\n".join(failures)
