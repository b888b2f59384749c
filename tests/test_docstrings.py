"""Every public name has a numpy-style docstring with an example that runs as a doctest (issue 7).

Walks the ``__all__`` of every room's door. Classes and functions need a summary line and an
``Examples`` section holding ``>>>`` examples that pytest's ``--doctest-modules`` collects from the
module defining the name (so they run in CI); constants and type aliases are exempt. Public methods
and properties of those classes need at least a one-line docstring (mkdocstrings renders them).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
from functools import cache
from types import ModuleType
from typing import Any

import pytest

import user_ops

# Every door, by module name. A new room must be added here: test_every_room_is_listed fails until it is.
ROOMS = [
    "user_ops",
    "user_ops.exceptions",
    "user_ops.rules",
    "user_ops.tags",
    "user_ops.metrics",
    "user_ops.rfm",
    "user_ops.lifecycle",
    "user_ops.membership",
    "user_ops.coupons",
    "user_ops.coupons.partitioned",  # a semi-public module: the Dask/Spark map/reduce protocol
    "user_ops.plots",
    "user_ops.datasets",
    "user_ops.plugins",
    "user_ops.cli",
    "user_ops.dask",
    "user_ops.spark",
]

_EXAMPLES_HEADER = re.compile(r"^Examples\n-{8,}$", re.MULTILINE)
_NEXT_SECTION = re.compile(r"^\S[^\n]*\n-{3,}$", re.MULTILINE)


def _import(room: str) -> ModuleType | None:
    try:
        return importlib.import_module(room)
    except ImportError:
        return None


def _documented_names() -> list[tuple[str, str]]:
    """``(room, name)`` for every class and function in a door's ``__all__``."""
    pairs = []
    for room in ROOMS:
        module = _import(room)
        if module is None:
            continue  # test_every_room_imports reports it
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if inspect.isclass(value) or inspect.isfunction(value):
                pairs.append((room, name))
    return pairs


NAMES = _documented_names()
IDS = [f"{room}:{name}" for room, name in NAMES]


def _own_doc(obj: Any) -> str:
    """The object's own docstring, cleaned (``inspect.getdoc`` would inherit a base class's)."""
    doc = obj.__doc__ if isinstance(obj.__doc__, str) else ""
    return inspect.cleandoc(doc) if doc else ""


def _examples_section(doc: str) -> str | None:
    """The text of the numpy-style ``Examples`` section, up to the next section header."""
    header = _EXAMPLES_HEADER.search(doc)
    if header is None:
        return None
    rest = doc[header.end() :]
    following = _NEXT_SECTION.search(rest)
    return rest if following is None else rest[: following.start()]


@cache
def _collected_doctests(module_name: str) -> dict[str, int]:
    """Examples per object that ``--doctest-modules`` collects from one module (by qualified name)."""
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return {test.name: len(test.examples) for test in finder.find(module, module_name)}


def _public_members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties the class itself defines (inherited ones are checked at home)."""
    members = []
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(raw, (staticmethod, classmethod)):
            members.append((name, raw.__func__))
        elif isinstance(raw, property):
            members.append((name, raw.fget))
        elif hasattr(raw, "func") and type(raw).__name__ == "cached_property":
            members.append((name, raw.func))
        elif inspect.isfunction(raw):
            members.append((name, raw))
    return members


def test_every_room_imports() -> None:
    broken = [room for room in ROOMS if _import(room) is None]
    assert not broken, f"rooms listed in ROOMS that do not import: {broken}"


def test_every_room_is_listed() -> None:
    rooms = {
        f"user_ops.{info.name}"
        for info in pkgutil.iter_modules(user_ops.__path__)
        if info.ispkg and not info.name.startswith("_")
    }
    missing = sorted(rooms - set(ROOMS))
    assert not missing, f"add these rooms to ROOMS in tests/test_docstrings.py: {missing}"


def test_the_walk_finds_the_public_api() -> None:
    # A guard against a walk that silently checks nothing (e.g. a door that lost its __all__).
    found = {room for room, _ in NAMES}
    assert {"user_ops", "user_ops.rules", "user_ops.exceptions", "user_ops.plugins"} <= found
    assert ("user_ops.rules", "Rule") in NAMES
    assert ("user_ops.plugins", "register_function") in NAMES
    assert len(NAMES) > 100


@pytest.mark.parametrize(("room", "name"), NAMES, ids=IDS)
def test_public_name_has_a_numpy_docstring_with_an_example(room: str, name: str) -> None:
    obj = getattr(importlib.import_module(room), name)
    doc = _own_doc(obj)
    assert doc, f"{room}.{name} has no docstring"
    summary = doc.splitlines()[0]
    assert summary.strip() and not summary.startswith((">>>", "Examples")), (
        f"{room}.{name}: the docstring must start with a one-line summary"
    )
    section = _examples_section(doc)
    assert section is not None, f"{room}.{name}: no numpy-style 'Examples\\n--------' section"
    examples = doctest.DocTestParser().get_examples(section)
    assert examples, f"{room}.{name}: the Examples section has no '>>>' example"
    # Something is computed and shown, not only a bare name whose repr is printed.
    assert any("(" in example.source or "[" in example.source for example in examples), (
        f"{room}.{name}: the example should call or index something"
    )
    assert any(example.want.strip() for example in examples), (
        f"{room}.{name}: the example should show a result (an expected output)"
    )


@pytest.mark.parametrize(("room", "name"), NAMES, ids=IDS)
def test_public_example_is_collected_as_a_doctest(room: str, name: str) -> None:
    obj = getattr(importlib.import_module(room), name)
    home = obj.__module__
    collected = _collected_doctests(home)
    key = f"{home}.{obj.__qualname__}"
    assert collected.get(key, 0) > 0, (
        f"{room}.{name}: --doctest-modules collects no example for {key} from {home} "
        "(is the docstring on the object itself, defined in that module?)"
    )


@pytest.mark.parametrize(
    ("room", "name"), [(r, n) for r, n in NAMES if inspect.isclass(getattr(importlib.import_module(r), n))]
)
def test_public_methods_have_a_summary(room: str, name: str) -> None:
    cls = getattr(importlib.import_module(room), name)
    bare = [member for member, func in _public_members(cls) if not _own_doc(func).strip()]
    assert not bare, f"{room}.{name}: public methods/properties without a docstring: {bare}"
