"""Griffe extension for the API reference (listed under the mkdocstrings handler's ``extensions``).

``SphinxComments``
    Module constants and class attributes are documented in this code base with ``#:`` comments
    above the assignment (the Sphinx convention); griffe reads only a string after it. This
    extension makes the comment the attribute's docstring, so constants such as
    ``user_ops.metrics.DEFAULT_WINDOWS`` are documented on their room's page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from griffe import Attribute, Class, Docstring, Extension, GriffeLoader, Module, Object


def _objects(module: Module) -> Iterator[Object]:
    """Every module, class, function and attribute defined in ``module`` and below (not aliases)."""
    yield module
    for member in module.members.values():
        if not isinstance(member, Object):  # an alias: documented where it is defined
            continue
        if isinstance(member, Module):
            yield from _objects(member)
        elif isinstance(member, Class):
            yield from _class_objects(member)
        else:
            yield member


def _class_objects(cls: Class) -> Iterator[Object]:
    yield cls
    for member in cls.members.values():
        if not isinstance(member, Object):
            continue
        if isinstance(member, Class):
            yield from _class_objects(member)
        else:
            yield member


class SphinxComments(Extension):
    """Make the ``#:`` comment lines right above an attribute's assignment its docstring."""

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if isinstance(obj, Attribute) and obj.docstring is None and obj.lineno:
                self._read_comment(obj, loader)

    @staticmethod
    def _read_comment(attr: Attribute, loader: GriffeLoader) -> None:
        filepath = attr.filepath
        if isinstance(filepath, list) or filepath not in attr.lines_collection:
            return
        lines = attr.lines_collection[filepath]
        first = attr.lineno or 0  # 1-based line of the assignment
        comment: list[str] = []
        number = first - 1  # 1-based line above it
        while number >= 1 and lines[number - 1].lstrip().startswith("#:"):
            text = lines[number - 1].lstrip()[2:]
            comment.insert(0, text[1:] if text.startswith(" ") else text)
            number -= 1
        if comment:
            attr.docstring = Docstring(
                "\n".join(comment),
                lineno=number + 1,
                endlineno=first - 1,
                parent=attr,
                parser=loader.docstring_parser,
                parser_options=loader.docstring_options,
            )
