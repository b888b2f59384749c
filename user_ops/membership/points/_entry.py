"""``LedgerEntry``: one fact of a customer's points history (积分流水), validated on the way in.

The host stores entries append-only; [`user_ops.membership.replay`][] folds them into a state. Every
entry carries an idempotency key (幂等键): writing the same entry twice changes nothing, and two
different entries under one key are a [`DataError`][].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, cast, get_args

import numpy as np

from user_ops._json_text import dumps, json_object
from user_ops._time import require_aware
from user_ops.exceptions import DataError

__all__ = ["ENTRY_KINDS", "INT64_MAX", "KIND_ORDER", "EntryKind", "LedgerEntry", "coerce_entry"]

EntryKind = Literal["earn", "adjust", "refund", "revert", "expire", "redeem"]

#: Every entry kind, in the order entries at the same instant are applied: credits first (so points
#: earned at an instant can be spent at it when nothing holds them back), then clawbacks, then explicit
#: expiry records (an expiry at an instant precedes what happens at it, as the policy's expiry does),
#: redemptions last. Ties within a kind are broken by the idempotency key. A refund of a redemption at
#: its very instant is the exception: it follows the redemptions (see ``replay``).
ENTRY_KINDS: tuple[EntryKind, ...] = cast("tuple[EntryKind, ...]", get_args(EntryKind))
KIND_ORDER: dict[str, int] = {kind: rank for rank, kind in enumerate(ENTRY_KINDS)}
#: Points and every points total live in int64 (the batch path's columns): beyond it is refused.
INT64_MAX = 2**63 - 1

# Kinds that must point at an earlier entry (``ref``), and what that entry must be.
_REF_TARGETS: dict[str, tuple[str, ...]] = {
    "refund": ("redeem",),
    "revert": ("earn",),
    "expire": ("earn", "adjust", "refund"),
}


def _check_points(kind: str, points: Any, where: str) -> int:
    if isinstance(points, bool) or not isinstance(points, int):
        raise DataError(
            f"{where}: points must be an int (points are whole numbers), got {type(points).__name__} "
            f"{points!r}"
        )
    if kind == "adjust":
        if points == 0:
            raise DataError(f"{where}: an adjust entry needs non-zero points (+ to grant, - to deduct)")
    elif points <= 0:
        raise DataError(f"{where}: {kind} points must be positive, got {points}")
    if not -INT64_MAX <= points <= INT64_MAX:
        raise DataError(f"{where}: points {points} are outside the int64 range (|points| <= {INT64_MAX})")
    return int(points)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One points-ledger entry (积分流水).

    Parameters
    ----------
    key:
        Idempotency key, unique per customer ledger (e.g. ``"earn:order-1001"``).
    kind:
        ``earn`` (spend or event reward), ``redeem`` (抵扣/兑换), ``refund`` (a redemption given back;
        ``ref`` = the redeem's key), ``revert`` (earned points clawed back on an order refund, 退款回收;
        ``ref`` = the earn's key), ``adjust`` (manual ± correction) or ``expire`` (an explicit expiry
        record; optional, see [`replay`][]).
    points:
        A positive int; for ``adjust`` a non-zero signed int. At most ``2**63 - 1`` either way (int64).
    at:
        When it happened (timezone-aware).
    ref:
        Key of the entry a ``refund``, ``revert`` or ``expire`` refers to.
    order_id, customer_id:
        Host identifiers, kept for reporting (``customer_id`` groups the batch path).
    event:
        For an event reward (``"check_in"``, 签到): the event name from the policy; daily caps apply.
    available_at, expires_at:
        Override the policy's pending period / expiry for the lot this entry creates (credits only).
    note:
        Free text (an operator's reason for an adjustment).

    Raises
    ------
    DataError
        For a float or bool ``points``, a non-positive amount, points beyond int64, a naive ``at``, a
        missing ``ref``, an unknown kind, or an override on a debit.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 3, 1, tzinfo=timezone.utc)
    >>> e = LedgerEntry(key="earn:1001", kind="earn", points=120, at=t)
    >>> e.points, e.is_credit
    (120, True)
    >>> LedgerEntry.from_json(e.to_json()) == e
    True
    """

    key: str
    kind: EntryKind
    points: int
    at: datetime
    ref: str | None = None
    order_id: str | None = None
    customer_id: str | int | None = None
    event: str | None = None
    available_at: datetime | None = None
    expires_at: datetime | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.points, np.integer):  # from a numpy column: an exact integer too
            object.__setattr__(self, "points", int(self.points))
        self._validate("entry")

    def _validate(self, where: str) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise DataError(
                f"{where}: key must be a non-empty string (the idempotency key), got {self.key!r}"
            )
        where = f"{where} {self.key!r}"
        if self.kind not in KIND_ORDER:
            raise DataError(f"{where}: unknown kind {self.kind!r}; expected one of {', '.join(ENTRY_KINDS)}")
        _check_points(self.kind, self.points, where)
        require_aware(self.at, name=f"{where}: at")
        for name in ("available_at", "expires_at"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.kind not in ("earn", "adjust") or (self.kind == "adjust" and self.points < 0):
                raise DataError(
                    f"{where}: {name} only applies to entries that create points (earn, + adjust)"
                )
            require_aware(value, name=f"{where}: {name}")
        if (
            self.expires_at is not None
            and self.available_at is not None
            and self.expires_at < self.available_at
        ):
            raise DataError(f"{where}: expires_at is before available_at")
        targets = _REF_TARGETS.get(self.kind)
        if targets is not None and (not isinstance(self.ref, str) or not self.ref):
            raise DataError(
                f"{where}: a {self.kind} entry needs ref= the key of the {' or '.join(targets)} entry"
            )
        if self.ref is not None and not isinstance(self.ref, str):
            raise DataError(f"{where}: ref must be a string key, got {self.ref!r}")
        if self.event is not None and (self.kind != "earn" or not isinstance(self.event, str)):
            raise DataError(f"{where}: event names an earn entry's reward event (a string)")

    @property
    def is_credit(self) -> bool:
        """Whether the entry adds points (earn, refund of a redemption, positive adjust)."""
        return self.kind in ("earn", "refund") or (self.kind == "adjust" and self.points > 0)

    @property
    def signed_points(self) -> int:
        """Points with the sign of their effect on the balance (``expire`` counts as a debit)."""
        if self.kind == "adjust":
            return self.points
        return self.points if self.is_credit else -self.points

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (datetimes as ISO 8601 text; ``None`` fields left out).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> LedgerEntry("r1", "redeem", 50, datetime(2024, 3, 2, tzinfo=timezone.utc)).to_dict()
        {'key': 'r1', 'kind': 'redeem', 'points': 50, 'at': '2024-03-02T00:00:00+00:00'}
        """
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or (item.name == "note" and not value):
                continue
            out[item.name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        """The entry as JSON text ([`to_dict`][]'s fields), e.g. one line of a JSON Lines log.

        Until the next release the text also answers the dict-like uses of the old ``to_json()``
        (which returned what [`to_dict`][] returns now), each with a ``DeprecationWarning``.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> LedgerEntry("r1", "redeem", 50, datetime(2024, 3, 2, tzinfo=timezone.utc)).to_json()
        '{"key": "r1", "kind": "redeem", "points": 50, "at": "2024-03-02T00:00:00+00:00"}'
        """
        return dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> LedgerEntry:
        """Rebuild from [`to_json`][] text or [`to_dict`][] output (ISO 8601 text or datetimes).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> entry = LedgerEntry("r1", "redeem", 50, datetime(2024, 3, 2, tzinfo=timezone.utc))
        >>> LedgerEntry.from_json(entry.to_json()) == LedgerEntry.from_json(entry.to_dict()) == entry
        True
        """
        return coerce_entry(json_object(data, what="ledger entry"), position=None)


_FIELD_NAMES = frozenset(
    (
        "key",
        "kind",
        "points",
        "at",
        "ref",
        "order_id",
        "customer_id",
        "event",
        "available_at",
        "expires_at",
        "note",
    )
)
_INSTANTS = ("at", "available_at", "expires_at")
_DEFAULTS = tuple((item.name, item.default) for item in fields(LedgerEntry))


def coerce_entry(value: Any, *, position: int | None) -> LedgerEntry:
    """A [`LedgerEntry`][] from an entry or a mapping; errors name the position in the input."""
    where = "entry" if position is None else f"entry at position {position}"
    if isinstance(value, LedgerEntry):
        return value
    if not isinstance(value, Mapping):
        raise DataError(f"{where}: expected a LedgerEntry or a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - _FIELD_NAMES)
    if unknown:
        raise DataError(f"{where}: unknown fields {unknown}")
    missing = [name for name in ("key", "kind", "points", "at") if value.get(name) is None]
    if missing:
        raise DataError(f"{where}: missing {missing}")
    data = dict(value)
    if isinstance(data["points"], np.integer):  # a Table row or a numpy record: an exact integer too
        data["points"] = int(data["points"])
    for name in _INSTANTS:
        text = data.get(name)
        if isinstance(text, str):
            try:
                data[name] = datetime.fromisoformat(text)
            except ValueError:
                raise DataError(f"{where}: {name} {text!r} is not an ISO 8601 datetime") from None
    entry = object.__new__(LedgerEntry)
    for name, default in _DEFAULTS:
        object.__setattr__(entry, name, data.get(name, default))
    entry._validate(where)
    return entry
