"""mkdocs hook: the API reference of a room, grouped, with a summary table at the top.

A page of ``docs/reference/`` names its room on a line of its own::

    <!-- reference: user_ops.coupons -->

and the hook writes, in its place: the room's docstring; a summary table per group (each public
name of the room's ``__all__``, linked, with the first paragraph of its docstring); then each
group's objects, rendered by mkdocstrings one by one. Groups come in the order a reader looks for
them: functions, models (pydantic: policies and validated data), other classes, enumerations,
errors and warnings, constants and types, then the room's submodules (``user_ops.coupons.testing``),
each like a room of its own. Within a group, names keep their ``__all__`` order.

A name whose home is another room (``user_ops.Rule`` is ``user_ops.rules.Rule``) is listed in the
summary with a link to its home and documented there only: an object is rendered once in the
site. Its home is the room of the module that defines it (the longest room name its
``__module__`` starts with), provided that room exports it too.

A second marker on a page (the top-level page also shows ``user_ops.exceptions``) is a room of its
own under a heading one level up.
"""

from __future__ import annotations

import enum
import functools
import importlib
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- reference: ([\w.]+) -->$", re.MULTILINE)
GROUPS = (
    "Functions",
    "Models",
    "Classes",
    "Enumerations",
    "Errors and warnings",
    "Constants and types",
    "Modules",
)
_LINK = re.compile(r"\[([^\]]*)\]\[[^\]]*\]")


@dataclass(frozen=True)
class Entry:
    """One public name of a room: its group, its documented path and its one-line summary."""

    name: str
    group: str
    home: str  # the room that documents it
    summary: str

    @property
    def path(self) -> str:
        return f"{self.home}.{self.name}" if self.group != "Modules" else self.home


_rooms: set[str] = set()
_docstrings: dict[str, str] = {}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    # The user_ops of this tree, whatever the environment has installed (as mkdocstrings reads it).
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    _rooms.clear()
    _docstrings.clear()
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Every room named on a reference page, and the submodules they export, is a room."""
    for file in files.documentation_pages():
        if file.src_uri.startswith("reference/") and file.abs_src_path:
            text = Path(file.abs_src_path).read_text(encoding="utf-8")
            for room in MARKER.findall(text):
                _add_room(room)
    _read_docstrings()
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    rooms = MARKER.findall(markdown)
    for index, room in enumerate(rooms):
        level = 2 if index == 0 else 3  # a second room on the page sits under its own heading
        markdown = markdown.replace(f"<!-- reference: {room} -->", room_markdown(room, level=level), 1)
    return markdown


def _module(room: str) -> ModuleType:
    try:
        return importlib.import_module(room)
    except ImportError as error:
        raise PluginError(f"reference page names {room!r}, which does not import: {error}") from error


def _add_room(room: str) -> None:
    _rooms.add(room)
    module = _module(room)
    for name in _public(module):
        value = getattr(module, name)
        if inspect.ismodule(value) and value.__name__.startswith(room + "."):
            _add_room(value.__name__)


def _public(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        raise PluginError(f"{module.__name__} has no __all__: the reference lists the names it exports")
    return list(names)


def _read_docstrings() -> None:
    """Docstrings as the reference shows them (``#:`` comments included), read by griffe."""
    import griffe

    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        from griffe_user_ops import SphinxComments
    finally:
        sys.path.remove(str(ROOT / "docs" / "hooks"))
    loader = griffe.GriffeLoader(extensions=griffe.load_extensions(SphinxComments), search_paths=[str(ROOT)])
    for package in sorted({room.split(".")[0] for room in _rooms}):
        loader.load(package)
    loader.resolve_aliases(implicit=False, external=False)
    for room in _rooms:
        module = loader.modules_collection[room]
        _docstrings[room] = module.docstring.value if module.docstring else ""
        for name in _public(_module(room)):
            try:
                docstring = module[name].docstring
            except (KeyError, griffe.AliasResolutionError):
                docstring = None
            _docstrings[f"{room}.{name}"] = docstring.value if docstring else ""


def group_of(value: Any) -> str:
    if inspect.ismodule(value):
        return "Modules"
    if inspect.isclass(value):
        if issubclass(value, BaseException):
            return "Errors and warnings"
        if issubclass(value, enum.Enum):
            return "Enumerations"
        if _is_model(value):
            return "Models"
        return "Classes"
    if inspect.isfunction(value) or inspect.isbuiltin(value) or isinstance(value, functools.partial):
        return "Functions"
    return "Constants and types"


def _is_model(value: type) -> bool:
    try:
        from pydantic import BaseModel
    except ImportError:
        return False
    return issubclass(value, BaseModel)


def home_of(room: str, name: str, value: Any) -> str:
    """The room that documents ``value``: the room of its defining module, if that room exports it."""
    if inspect.ismodule(value):
        return value.__name__
    module = getattr(value, "__module__", None) if inspect.isclass(value) or callable(value) else None
    if not isinstance(module, str):
        return room
    candidates = [other for other in _rooms if module == other or module.startswith(other + ".")]
    for other in sorted(candidates, key=len, reverse=True):
        if getattr(_module(other), name, None) is value and name in _public(_module(other)):
            return other
    return room


def summary_of(docstring: str) -> str:
    """The first paragraph of a docstring, on one line, as plain text for a table cell."""
    paragraph = docstring.strip().split("\n\n")[0]
    text = " ".join(line.strip() for line in paragraph.splitlines())
    return _LINK.sub(r"\1", text).replace("|", r"\|")


def entries(room: str) -> list[Entry]:
    module = _module(room)
    found = []
    for name in _public(module):
        value = getattr(module, name)
        group = group_of(value)
        home = home_of(room, name, value)
        key = home if group == "Modules" else f"{home}.{name}"
        found.append(Entry(name=name, group=group, home=home, summary=summary_of(_docstrings.get(key, ""))))
    order = {group: rank for rank, group in enumerate(GROUPS)}
    return sorted(found, key=lambda entry: order[entry.group])  # stable: __all__ order within a group


def room_markdown(room: str, *, level: int) -> str:
    """The markdown of a room's reference, its groups' headings at ``level``."""
    listed = entries(room)
    # The room's docstring; a room inside a page (level 3) also gets its heading, one level up.
    nested = level > 2
    parts = [
        _directive(room, heading_level=level - 1 if nested else level, root_heading=nested, members=False)
    ]
    parts += [_summary_table(room, group, [e for e in listed if e.group == group]) for group in GROUPS]
    for group in GROUPS:
        here = [entry for entry in listed if entry.group == group and entry.home == room]
        if group == "Modules":  # a submodule's home is itself: documented here, under the room
            inside = [entry for entry in listed if entry.group == group and entry.home.startswith(room + ".")]
            parts += [room_markdown(entry.home, level=level + 1) for entry in inside]
        elif here:
            parts.append(f"{'#' * level} {group}")
            parts += [_directive(entry.path, heading_level=level + 1, root_heading=True) for entry in here]
    return "\n\n".join(part for part in parts if part) + "\n"


def _summary_table(room: str, group: str, listed: list[Entry]) -> str:
    if not listed:
        return ""
    rows = [f"| {group} | |", "| --- | --- |"]
    for entry in listed:
        elsewhere = f" *({entry.home})*" if entry.home != room and entry.group != "Modules" else ""
        rows.append(f"| [`{entry.name}`][{entry.path}] | {entry.summary}{elsewhere} |")
    return "\n".join(rows)


def _directive(identifier: str, *, heading_level: int, root_heading: bool, members: bool = True) -> str:
    options = [
        f"show_root_heading: {str(root_heading).lower()}",
        f"heading_level: {max(heading_level, 1)}",
        "show_root_full_path: false" if members else "show_root_full_path: true",
    ]
    if not members:
        options.append("members: false")
    if not root_heading:  # the page's own title names it: no second entry in the table of contents
        options.append("show_root_toc_entry: false")
    lines = [f"::: {identifier}", "    options:", *(f"      {option}" for option in options)]
    return "\n".join(lines)
