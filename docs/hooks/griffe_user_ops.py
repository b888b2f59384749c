"""Griffe extensions for the API reference (listed under the mkdocstrings handler's ``extensions``).

``PydanticSignatures``
    A policy is a pydantic model built from keyword arguments, one per field. Its ``__init__`` is the
    base class's ``(**data: Any)``, so the reference showed that signature and a parameters table
    marking every field "required" with no type. This extension gives every such model the
    constructor pydantic actually accepts: one keyword-only parameter per field, with the field's
    annotation (a linked type) and its default; a field without a default is required. A model with
    its own ``__init__(self, tags=None, /, **data)`` keeps its positional parameter, followed by the
    fields ``**data`` stands for (pydantic's own ``__signature__`` does the same). The numpy-style
    parameters table of the model's docstring takes its types and defaults from it.
    Required-or-not comes from the imported model (``model_fields``), so the page says what the
    constructor does; the annotation and default are shown as written in the source.

    The table lists every field, each with its own type and default: a field the docstring does not
    describe gets a row, described by a base class's docstring (``at`` and ``key`` of every tier
    event, once) or its ``Field(description=...)``, if any; fields described in an ``Attributes``
    section move to the table; a line describing several fields at once (``label_en, label_zh:``)
    becomes one row per field (the docstring parser would give them all the first one's type and
    default); a type the docstring writes for a field gives way to the field's annotation.

``SphinxComments``
    Module constants and class attributes are documented in this code base with ``#:`` comments
    above the assignment (the Sphinx convention); griffe reads only a string after it. This
    extension makes the comment the attribute's docstring, so constants such as
    ``user_ops.metrics.DEFAULT_WINDOWS`` are documented on their room's page.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from griffe import (
    Attribute,
    Class,
    Docstring,
    Expr,
    ExprCall,
    ExprKeyword,
    ExprSubscript,
    ExprTuple,
    Extension,
    Function,
    GriffeLoader,
    Module,
    Object,
    Parameter,
    ParameterKind,
    Parameters,
)

_ANNOTATED = {"typing.Annotated", "typing_extensions.Annotated"}
_FIELD = {"pydantic.Field", "pydantic.fields.Field"}
# An empty container reads better as its literal than as the call that makes it.
_FACTORY_LITERALS = {"list": "[]", "dict": "{}", "tuple": "()", "set": "set()", "frozenset": "frozenset()"}


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


def _runtime_class(cls: Class) -> Any:
    """The class itself, imported; ``None`` when it cannot be (the reference then keeps what it has)."""
    module_path = cls.module.path
    try:
        value: Any = importlib.import_module(module_path)
        for part in cls.path[len(module_path) + 1 :].split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError):
        return None
    return value


def _is_model(value: Any) -> bool:
    try:
        from pydantic import BaseModel
    except ImportError:
        return False
    return isinstance(value, type) and issubclass(value, BaseModel)


def _own_parameters(cls: Class, model: Any) -> list[Parameter] | None:
    """The parameters of the model's own ``__init__`` before its ``**data``, or ``None`` when it
    takes only the fields (pydantic's base ``__init__``, marked ``__pydantic_base_init__``, which
    ``user_ops``' validating base class sets too) or has no ``**data`` (its signature is the truth).
    """
    if getattr(model.__init__, "__pydantic_base_init__", False):
        return []
    init = cls.all_members.get("__init__")
    parameters = list(getattr(init, "parameters", ()))
    if not parameters or parameters[-1].kind is not ParameterKind.var_keyword:
        return None
    # self and the positional ones (``TagSet([...])``), copied: they belong to the class's __init__
    return [
        Parameter(
            parameter.name, annotation=parameter.annotation, kind=parameter.kind, default=parameter.default
        )
        for parameter in parameters[:-1]
    ]


def _field_call(value: Any) -> ExprCall | None:
    if isinstance(value, ExprCall) and value.function.canonical_path in _FIELD:
        return value
    return None


def _strip_annotated(annotation: Any) -> tuple[Any, ExprCall | None]:
    """``Annotated[T, Field(...), ...]`` → ``(T, the Field call)``; anything else → ``(it, None)``."""
    if (
        isinstance(annotation, ExprSubscript)
        and annotation.canonical_path in _ANNOTATED
        and isinstance(annotation.slice, ExprTuple)
        and annotation.slice.elements
    ):
        elements = annotation.slice.elements
        calls = [call for element in elements[1:] if (call := _field_call(element)) is not None]
        return elements[0], (calls[0] if calls else None)
    return annotation, None


def _default_of_field_call(call: ExprCall) -> str | Expr | None:
    """The default a ``Field(...)`` call gives, as source: its default, or the call of its factory."""
    positional = [argument for argument in call.arguments if not isinstance(argument, ExprKeyword)]
    if positional and positional[0] != "...":
        return positional[0]
    keywords = {
        argument.name: argument.value for argument in call.arguments if isinstance(argument, ExprKeyword)
    }
    if "default" in keywords:
        return keywords["default"]
    factory = keywords.get("default_factory")
    if not isinstance(factory, Expr):
        return factory
    literal = _FACTORY_LITERALS.get(str(factory))
    if literal is not None:
        return literal
    return ExprCall(factory, [])  # the class called with no argument, still a link


def _runtime_default(field: Any) -> str:
    """What the imported field says when the source does not show the default plainly."""
    factory = field.default_factory
    if factory is None:
        return repr(field.default)
    name = getattr(factory, "__name__", "")
    if name in _FACTORY_LITERALS:
        return _FACTORY_LITERALS[name]
    return f"{name}()" if name and name != "<lambda>" else "<factory>"


def _field_parameter(cls: Class, name: str, field: Any) -> Parameter:
    member = cls.all_members.get(name)
    annotation: Any = getattr(member, "annotation", None)
    annotation, annotated_call = _strip_annotated(annotation)
    if annotation is None:
        annotation = getattr(field.annotation, "__name__", None) or repr(field.annotation)
    default: str | Expr | None = None
    if not field.is_required():
        value = getattr(member, "value", None)
        call = _field_call(value) or annotated_call
        if call is not None:
            default = _default_of_field_call(call)
        elif value is not None:
            default = value
        if default is None:
            default = _runtime_default(field)
    return Parameter(name, annotation=annotation, kind=ParameterKind.keyword_only, default=default)


_DASHES = re.compile(r"-{3,}")
_UNTYPED_NAMES = re.compile(r"(\w+(?:\s*,\s*\w+)*)\s*:?\s*")


def _items(lines: list[str]) -> list[list[str]]:
    """The items of a numpy-style section body: a line at the margin and the lines under it."""
    items: list[list[str]] = []
    for line in lines:
        if line.strip() and not line[0].isspace():
            items.append([line])
        elif items:
            items[-1].append(line)
    for item in items:
        while item and not item[-1].strip():
            item.pop()
    return items


def _names(item: list[str]) -> list[str]:
    """The names an item's first line documents (``a, b:`` or ``a : type``)."""
    return [name.strip() for name in item[0].split(" : ")[0].rstrip(":").split(",") if name.strip()]


def _section_bounds(lines: list[str]) -> dict[str, tuple[int, int]]:
    """``{title: (header line, end)}`` of each numpy-style section (title, dashes, body)."""
    headers = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip() and not lines[i][0].isspace() and _DASHES.fullmatch(lines[i + 1].strip())
    ]
    ends = [*headers[1:], len(lines)]
    bounds: dict[str, tuple[int, int]] = {}
    for header, end in zip(headers, ends):
        bounds.setdefault(lines[header].strip(), (header, end))
    return bounds


def field_items(text: str) -> dict[str, list[str]]:
    """``{name: item lines}`` of the ``Parameters`` and ``Attributes`` items of a numpy docstring."""
    lines = text.split("\n")
    found: dict[str, list[str]] = {}
    for title in ("Attributes", "Parameters"):  # Parameters wins
        if (bounds := _section_bounds(lines).get(title)) is not None:
            for item in _items(lines[bounds[0] + 2 : bounds[1]]):
                found.update({name: [f"{name}:", *item[1:]] for name in _names(item)})
    return found


def complete_parameters(
    text: str, fields: Sequence[str], described: Mapping[str, list[str]] | None = None
) -> str:
    """``text`` (a numpy-style docstring) with a ``Parameters`` section holding one item per field.

    An item naming several fields becomes one item per field (same description), without the type
    the docstring gives (the signature's annotation is the field's type);
    fields described in an ``Attributes`` section move to ``Parameters`` (the table that shows
    their defaults); a field no item names takes its item from ``described`` (what a base class's
    docstring or the field's own ``description`` says), or none. Items follow the field order. The
    section replaces the old ``Parameters`` (or ``Attributes``) section, or goes before the first
    section when the docstring has neither.
    """
    described = described or {}
    lines = text.split("\n")
    bounds = _section_bounds(lines)
    params = bounds.get("Parameters")
    attributes = bounds.get("Attributes")
    items = _items(lines[params[0] + 2 : params[1]]) if params else []
    attribute_items = _items(lines[attributes[0] + 2 : attributes[1]]) if attributes else []
    field_set = set(fields)
    moved = [item for item in attribute_items if _names(item) and set(_names(item)) <= field_set]
    kept = [item for item in attribute_items if item not in moved]

    entries: list[tuple[list[str], list[str]]] = []  # (names, lines), one field each when untyped
    named: set[str] = set()
    for item in [*items, *moved]:
        names = _names(item)
        if item in moved and set(names) <= named:
            continue  # described under Parameters already
        if _UNTYPED_NAMES.fullmatch(item[0]) or (names and set(names) <= field_set):
            # A field's type is its annotation (linked), not what the docstring says of it.
            entries += [([name], [f"{name}:", *item[1:]]) for name in names]
        else:
            entries.append((names, item))
        named.update(names)
    entries += [([field], described.get(field, [f"{field}:"])) for field in fields if field not in named]
    # Rows in the order of the signature; anything else the section names keeps its place after them.
    order = {field: rank for rank, field in enumerate(fields)}
    entries.sort(
        key=lambda entry: min((order.get(name, len(order)) for name in entry[0]), default=len(order))
    )
    section = [line for _, entry_lines in entries for line in entry_lines]
    new = ["Parameters", "----------", *section, ""]
    if kept:
        new += ["Attributes", "----------", *(line for item in kept for line in item), ""]

    removed = sorted(bound for bound in (params, attributes) if bound)
    first_section = min((begin for begin, _ in bounds.values()), default=len(lines))
    at = removed[0][0] if removed else first_section
    out: list[str] = []
    for number, line in enumerate(lines):
        if number == at:
            if out and out[-1].strip():
                out.append("")
            out += new
        if not any(begin <= number < end for begin, end in removed):
            out.append(line)
    if at >= len(lines):
        if out and out[-1].strip():
            out.append("")
        out += new
    return "\n".join(out).rstrip() + "\n"


def _described(cls: Class, model: Any) -> dict[str, list[str]]:
    """Descriptions of fields found outside the class's docstring: a base class's docstring (the
    nearest first: ``at`` and ``key`` of every tier event), else the field's ``description``."""
    described = {
        name: [f"{name}:", f"    {field.description}"]
        for name, field in model.model_fields.items()
        if field.description
    }
    for base in reversed(cls.mro()):
        if base.docstring is not None:
            described.update(field_items(base.docstring.value))
    return described


class PydanticSignatures(Extension):
    """Give each pydantic model the signature its constructor accepts: its fields, keyword-only."""

    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if not isinstance(obj, Class):
                continue
            model = _runtime_class(obj)
            if not _is_model(model):
                continue
            own = _own_parameters(obj, model)
            if own is None:
                continue
            # Like pydantic's own __signature__: the fields ``**data`` stands for, keyword-only.
            named = {parameter.name for parameter in own}
            fields = [
                _field_parameter(obj, name, field)
                for name, field in model.model_fields.items()
                if name not in named
            ]
            parameters = own or [Parameter("self", kind=ParameterKind.positional_or_keyword)]
            init = Function(
                "__init__",
                lineno=obj.lineno,
                endlineno=obj.lineno,
                parameters=Parameters(*parameters, *fields),
                returns="None",
            )
            obj.set_member("__init__", init)
            if obj.docstring is not None:
                names = [parameter.name for parameter in init.parameters if parameter.name != "self"]
                obj.docstring.value = complete_parameters(obj.docstring.value, names, _described(obj, model))


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
