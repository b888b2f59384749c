"""The fold every membership history starts with: deduplicate, put in order, split at ``as_of``.

A points ledger, a stored-value card and a tier history are append-only lists the host stores, in any
order and possibly with repeats. Their engines read them the same way:

* **Deduplicate** by idempotency key ([`Deduplicator`][]): the first occurrence counts, an identical
  repeat changes nothing (it is counted), a key reused for other content is a ``DataError`` naming both
  positions. An empty key (a tier event may have none) identifies nothing.
* **Order** by instant, then by the rank of the entry's kind (the order kinds apply in at one instant),
  then by key; except that an entry referring (``ref``) to an entry at the same instant that would
  apply after it applies right after that entry instead, for the pairs of kinds a history names (a
  refund of a redemption made at that very instant follows it).
* **Split at** ``as_of``: later entries are left out, and listed by key.

The points ledger and the stored-value card take all three steps ([`deduplicate`][] and
[`order_and_split`][]). A tier history takes the first one only: its metric events count up to
``as_of`` exclusive and its overrides at one instant apply in the order given, which the tier walk
keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from user_ops._time import as_utc_us
from user_ops.exceptions import DataError

__all__ = ["Deduplicator", "Keyed", "deduplicate", "order_and_split"]

T = TypeVar("T")


class _Entry(Protocol):
    """What ordering reads of an entry (a ledger entry or a card entry)."""

    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def ref(self) -> str | None: ...


E = TypeVar("E", bound=_Entry)
#: ``(at in UTC microseconds, rank, key, entry)``: sorted, entries apply in this order.
Keyed = tuple[int, int, str, E]


class Deduplicator(Generic[T]):
    """Which items of a history count, taken one at a time in the host's order.

    ``conflict(position, earlier_position, earlier, item)`` words the error for a key reused with
    other content.
    """

    def __init__(self, conflict: Callable[[int, int, T, T], str]) -> None:
        self.conflict = conflict
        self.duplicates = 0
        self._seen: dict[str, tuple[T, int]] = {}

    def first(self, key: str, item: T, position: int) -> bool:
        """True when ``item`` counts; False for an identical repeat of an earlier item."""
        if not key:
            return True
        earlier = self._seen.get(key)
        if earlier is None:
            self._seen[key] = (item, position)
            return True
        if earlier[0] == item:
            self.duplicates += 1
            return False
        raise DataError(self.conflict(position, earlier[1], earlier[0], item))


def deduplicate(
    records: Iterable[Any],
    coerce: Callable[[Any, int], E],
    *,
    what: str,
    difference: Callable[[E, E], str] | None = None,
) -> tuple[list[E], int]:
    """The entries that count, each coerced (``coerce(record, position)``), and how many repeats.

    A key reused with other content raises ``DataError`` naming ``what`` and both positions, and the
    fields that differ when ``difference`` tells them.
    """

    def conflict(position: int, earlier_position: int, earlier: E, entry: E) -> str:
        detail = f" ({difference(earlier, entry)})" if difference is not None else ""
        return (
            f"{what} at position {position}: idempotency key {entry.key!r} was already used at position "
            f"{earlier_position} for a different entry{detail}"
        )

    keys = Deduplicator(conflict)
    unique = []
    for position, record in enumerate(records):
        entry = coerce(record, position)
        if keys.first(entry.key, entry, position):
            unique.append(entry)
    return unique, keys.duplicates


def order_and_split(
    entries: Sequence[E], *, as_of_us: int, kinds: Sequence[str], follows: Mapping[str, str]
) -> tuple[list[Keyed[E]], tuple[str, ...]]:
    """The entries at or before ``as_of_us`` in the order they apply, and the keys of the later ones.

    ``kinds`` lists the kinds in the order they apply at one instant. ``follows`` maps a kind to the
    kind of entry its ``ref`` may name: an entry referring to such an entry at the same instant, which
    would apply after it, applies right after it instead. The rules apply in the mapping's order, so a
    rule may follow an entry an earlier rule moved.
    """
    step = len(follows) + 1  # room after each kind's rank for the entries moved right behind one
    rank = {kind: position * step for position, kind in enumerate(kinds)}
    keyed: list[Keyed[E]] = [(as_utc_us(entry.at), rank[entry.kind], entry.key, entry) for entry in entries]
    if any(entry.kind in follows for entry in entries):
        where = {item[2]: item for item in keyed}
        for kind, target_kind in follows.items():
            for at_us, own, key, entry in keyed:
                target = where.get(entry.ref or "") if entry.kind == kind else None
                if target and target[0] == at_us and target[3].kind == target_kind and target[1] > own:
                    where[key] = (at_us, target[1] + 1, key, entry)
        keyed = [where[item[2]] for item in keyed]
    ignored = tuple(sorted(item[2] for item in keyed if item[0] > as_of_us))
    applied = sorted((item for item in keyed if item[0] <= as_of_us), key=lambda item: item[:3])
    return applied, ignored
