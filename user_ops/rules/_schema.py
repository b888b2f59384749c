"""Field types and the ``Schema`` that rules are type-checked against."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from user_ops._policy import ValidatedModel
from user_ops._table import Table
from user_ops.exceptions import DataError

__all__ = ["FIELD_TYPES", "FieldType", "Schema"]

#: The type of a field (column) a rule reads: what [`Schema`][] maps each field name to.
FieldType = Literal[
    "int", "float", "decimal", "str", "bool", "datetime", "date", "duration", "list[str]", "null"
]
#: Every [`FieldType`][], as a tuple of strings (the types a plugin function may take and return).
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)


class Schema(ValidatedModel):
    """The fields a rule may reference, with their types.

    Types: ``int``, ``float``, ``decimal``, ``str``, ``bool``, ``datetime`` (aware instant), ``date``,
    ``duration``, ``list[str]`` and ``null`` (a field whose values are all missing, so of no known type).

    Parameters
    ----------
    fields:
        ``{field name: type}`` (positional, or ``fields=``).

    Examples
    --------
    >>> s = Schema({"orders_90d": "int", "city": "str"})
    >>> s.fields["city"]
    'str'
    >>> Schema.infer({"spend": [1.5, 2.0]}).fields
    {'spend': 'float'}
    """

    fields: dict[str, FieldType]

    def __init__(self, fields: Mapping[str, str] | None = None, /, **data: Any) -> None:
        if fields is not None:
            data["fields"] = dict(fields)
        super().__init__(**data)

    @classmethod
    def infer(cls, table: Any) -> Schema:
        """The schema of a Table (or anything ``Table.coerce`` accepts): one field per column."""
        table = Table.coerce(table)
        return cls({name: table.kind(name) for name in table.columns})

    @classmethod
    def infer_record(cls, record: Mapping[str, Any]) -> Schema:
        """The schema of a single record (a missing or ``None`` value is typed ``null``)."""
        if not isinstance(record, Mapping):
            raise DataError(f"a record must be a mapping, got {type(record).__name__}")
        return cls.infer(Table.from_records([record]))

    def get(self, name: str) -> str | None:
        """The type of ``name``, or ``None`` when the schema has no such field."""
        return self.fields.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.fields
