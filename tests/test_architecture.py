"""The import rule of the house: a room is entered through its door (issue 14).

A room is a subpackage of ``user_ops`` (``rules``, ``tags``, ``coupons``, ...); its door is its
``__init__.py`` and ``__all__``, its private modules and names start with ``_``. No module outside a
room may import the room's private modules (``from user_ops.rules._ast import ...``,
``from user_ops.rules import _ast``, ``import user_ops.rules._ast``) or private names through its
door (``from user_ops.rules import _REGISTRY``); modules of the room itself may. The floors, the
top-level modules (``user_ops._time``, ``_money``, ``_table``, ``_policy``, ``exceptions``, ...),
are shared: any room may import them, private names included. Every module of the package is
parsed with ``ast``, so imports inside functions and under ``TYPE_CHECKING`` count too, and so do
dotted strings naming a private module (``"user_ops.rules._ast:Node"``, as lazy imports write them).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "user_ops"

_DOTTED = re.compile(r"^user_ops(\.\w+)+(:\w+)?$")


def _rooms(package: Path = PACKAGE) -> frozenset[str]:
    return frozenset(
        path.name
        for path in package.iterdir()
        if path.is_dir() and (path / "__init__.py").exists() and not path.name.startswith("_")
    )


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every dotted name a module imports (``a.b`` for ``from a import b``), with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node)
            yield node.lineno, source
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{source}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.match(node.value):
            yield node.lineno, node.value.replace(":", ".")


def _private_part(dotted: str, rooms: frozenset[str]) -> str | None:
    """The room whose private module or name ``dotted`` reaches, or None."""
    parts = dotted.split(".")
    if len(parts) < 3 or parts[0] != "user_ops" or parts[1] not in rooms:
        return None
    if any(part.startswith("_") and not part.startswith("__") for part in parts[2:]):
        return parts[1]
    return None


def violations(package: Path = PACKAGE) -> dict[tuple[str, str], list[str]]:
    """``{(importing module, room): ["file:line: imported name", ...]}`` for every import across a door."""
    rooms = _rooms(package)
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, package)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        own = module.split(".")[1] if module.count(".") >= 1 else None
        for line, dotted in _imported_names(tree, module, path.name == "__init__.py"):
            room = _private_part(dotted, rooms)
            if room is not None and room != own:
                where = f"{path.relative_to(package.parent)}:{line}: {dotted}"
                found.setdefault((module, room), []).append(where)
    return found


def test_the_rule_sees_the_rooms_and_their_private_imports() -> None:
    # A guard against a walk that silently checks nothing.
    rooms = _rooms()
    assert {"rules", "tags", "coupons", "membership", "plugins"} <= rooms
    assert _private_part("user_ops.rules._ast.Node", rooms) == "rules"
    assert _private_part("user_ops.rules._REGISTRY", rooms) == "rules"
    assert _private_part("user_ops.rules.Rule", rooms) is None
    assert _private_part("user_ops._table._trusted", rooms) is None  # a floor
    assert _private_part("user_ops.exceptions._UnknownNameError", rooms) is None  # a floor


def test_no_module_imports_another_rooms_private_modules() -> None:
    found = violations()
    listing = "\n".join(line for lines in found.values() for line in lines)
    assert not found, f"imports of another room's private modules (use its door):\n{listing}"


def test_the_rule_catches_each_spelling(tmp_path: Path) -> None:
    package = tmp_path / "user_ops"
    for room in ("rules", "tags"):
        (package / room).mkdir(parents=True)
        (package / room / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "rules" / "_ast.py").write_text("")
    (package / "tags" / "_tagset.py").write_text(
        "from user_ops.rules._ast import Node\n"
        "from user_ops.rules import _ast, Rule\n"
        "import user_ops.rules._ast as A\n"
        "def f():\n"
        "    from user_ops.rules import _REGISTRY\n"
        "LAZY = 'user_ops.rules._ast:Node'\n"
        "from user_ops.tags import _tagset\n"  # its own room: allowed
        "from user_ops._table import _check_name\n"  # a floor: allowed
    )
    (package / "rules" / "_rule.py").write_text("from . import _ast\nfrom ..tags import _tagset\n")
    found = violations(package)
    assert sorted(found) == [("user_ops.rules._rule", "tags"), ("user_ops.tags._tagset", "rules")]
    named = {line.split(": ")[1] for line in found[("user_ops.tags._tagset", "rules")]}
    assert named == {"user_ops.rules._ast", "user_ops.rules._ast.Node", "user_ops.rules._REGISTRY"}
    assert len(found[("user_ops.tags._tagset", "rules")]) == 6  # each of the five spellings seen
