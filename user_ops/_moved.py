"""Names that moved to another module keep working from their old door for one release, with a warning.

A door that lost names sets ``__getattr__ = moved_names(__name__, {"old_name": "new.module"})``:
Python calls it only for a name the module does not define, so the door's own names cost nothing.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["moved_names"]


def moved_names(door: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each moved name in its new module, with a DeprecationWarning.

    Examples
    --------
    >>> import warnings
    >>> lookup = moved_names("user_ops.somewhere", {"Table": "user_ops._table"})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     lookup("Table").__name__
    'Table'
    >>> print(caught[0].message)
    user_ops.somewhere.Table moved to user_ops._table.Table; the old name works for one more release
    """
    table = dict(moved)

    def module_getattr(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {door!r} has no attribute {name!r}")
        warnings.warn(
            f"{door}.{name} moved to {target}.{name}; the old name works for one more release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(target), name)

    return module_getattr
