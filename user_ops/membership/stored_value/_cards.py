"""Stored-value cards (储值卡): top-ups with a bonus (充100送20), spending, refunds, in exact money.

A card holds two balances: **principal** (本金, what the customer paid) and **bonus** (赠送金, what the
shop added). The split matters: a refund pays back principal only, accounting treats them differently,
and the order in which a purchase uses them is a business rule ([`StoredValuePolicy.spend_order`][]).
Like the points ledger, the card's state is replayed from an append-only list of entries.

Entry kinds, in the order entries at one instant apply: ``topup`` (充值), ``refund`` (a spend given
back to the card, ``ref`` = the spend), ``spend`` (消费), ``withdraw`` (an unspent top-up refunded to
the customer: principal back, that top-up's bonus forfeited; ``ref`` = the top-up). A refund of a
spend at that spend's very instant follows the spends (it cannot precede what it gives back), before
the withdrawals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, cast, get_args

from pydantic import Field, model_validator

from user_ops._json_text import dumps, json_object
from user_ops._money import Currency, Money, Rounding, allocate, round_ratio
from user_ops._policy import PolicyModel
from user_ops._table import record_list
from user_ops._time import as_utc_us, require_aware
from user_ops.exceptions import DataError
from user_ops.membership._history import deduplicate, order_and_split

__all__ = [
    "CARD_ENTRY_KINDS",
    "BonusTier",
    "CardEntry",
    "CardState",
    "SpendQuote",
    "StoredValuePolicy",
    "quote_spend",
    "replay_card",
]

CardEntryKind = Literal["topup", "refund", "spend", "withdraw"]
#: Entry kinds in the order entries at the same instant are applied (then by key); a refund of a spend
#: at that spend's own instant comes right after the spends.
CARD_ENTRY_KINDS: tuple[CardEntryKind, ...] = cast("tuple[CardEntryKind, ...]", get_args(CardEntryKind))
_KINDS = frozenset(CARD_ENTRY_KINDS)
# At one instant a refund of a spend made at that instant follows it (it cannot give back what was not
# spent yet).
_FOLLOWS = {"refund": "spend"}


class BonusTier(PolicyModel):
    """A top-up bonus step: top up at least ``topup``, get ``bonus`` (充 ``topup`` 送 ``bonus``).

    Parameters
    ----------
    topup:
        The smallest top-up the step applies to.
    bonus:
        The bonus credited with it (赠送金: a refund pays back principal only, never the bonus).

    Examples
    --------
    >>> BonusTier(topup=Money("100.00"), bonus=Money("20.00")).bonus
    Money('20.00', 'CNY')
    """

    topup: Money
    bonus: Money


class StoredValuePolicy(PolicyModel):
    """Bonus rules and spending order of a stored-value card programme.

    Parameters
    ----------
    currency:
        The card's currency (every amount must be in it).
    bonus_tiers:
        Bonus steps; the highest step whose ``topup`` the amount reaches applies.
    bonus_mode:
        ``highest_tier`` (充500送120: one bonus per top-up) or ``per_multiple`` (每充100送20: the step's
        bonus for every whole multiple of its ``topup``).
    spend_order:
        How a spend splits between principal and bonus: ``proportional`` to the two balances (exact,
        largest remainder; a tie in the last cent goes to principal), ``principal_first`` or
        ``bonus_first``.
    min_topup:
        Smallest top-up [`topup_entry`][] accepts.

    Examples
    --------
    >>> policy = StoredValuePolicy(bonus_tiers=[BonusTier(topup=Money("100.00"), bonus=Money("20.00")),
    ...                                         BonusTier(topup=Money("500.00"), bonus=Money("120.00"))])
    >>> policy.bonus_for(Money("300.00")), policy.bonus_for(Money("500.00")), policy.bonus_for(Money("99.99"))
    (Money('20.00', 'CNY'), Money('120.00', 'CNY'), Money('0.00', 'CNY'))
    >>> StoredValuePolicy.from_json(policy.to_json()) == policy
    True
    """

    currency: str = "CNY"
    bonus_tiers: tuple[BonusTier, ...] = ()
    bonus_mode: Literal["highest_tier", "per_multiple"] = "highest_tier"
    spend_order: Literal["proportional", "principal_first", "bonus_first"] = "proportional"
    min_topup: Money | None = Field(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> StoredValuePolicy:
        try:
            unit = Currency(self.currency)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        steps = [tier.topup.minor for tier in self.bonus_tiers]
        for position, tier in enumerate(self.bonus_tiers):
            for name, amount in (("topup", tier.topup), ("bonus", tier.bonus)):
                if amount.currency != unit:
                    raise ValueError(f"bonus_tiers[{position}].{name} {amount} is not in {self.currency}")
            if tier.topup.minor <= 0 or tier.bonus.minor < 0:
                raise ValueError(f"bonus_tiers[{position}]: topup must be positive and bonus not negative")
        if len(set(steps)) != len(steps):
            raise ValueError("bonus_tiers: two steps with the same topup amount")
        if self.min_topup is not None and (self.min_topup.currency != unit or self.min_topup.minor <= 0):
            raise ValueError(f"min_topup must be a positive amount in {self.currency}")
        return self

    @property
    def unit(self) -> Currency:
        """The card's [`Currency`][]."""
        return Currency(self.currency)

    def bonus_for(self, amount: Money) -> Money:
        """The bonus a top-up of ``amount`` earns (a positive amount)."""
        self._check(amount, "top-up")
        if amount.minor <= 0:
            raise DataError(f"top-up must be positive, got {amount}")
        reached = [tier for tier in self.bonus_tiers if tier.topup.minor <= amount.minor]
        if not reached:
            return Money.zero(self.unit)
        tier = max(reached, key=lambda step: step.topup.minor)
        if self.bonus_mode == "highest_tier":
            return tier.bonus
        return tier.bonus * (amount.minor // tier.topup.minor)

    def topup_entry(
        self, amount: Money, *, key: str, at: datetime, customer_id: str | int | None = None
    ) -> CardEntry:
        """A ``topup`` entry with its bonus stamped from this policy.

        Examples
        --------
        >>> from datetime import timezone
        >>> p = StoredValuePolicy(bonus_tiers=[BonusTier(topup=Money("100.00"), bonus=Money("20.00"))])
        >>> p.topup_entry(Money("100.00"), key="t1", at=datetime(2024, 5, 1, tzinfo=timezone.utc)).bonus
        Money('20.00', 'CNY')
        """
        self._check(amount, "top-up")
        if amount.minor <= 0:
            raise DataError(f"top-up must be positive, got {amount}")
        if self.min_topup is not None and amount < self.min_topup:
            raise DataError(f"top-up {amount} is below the minimum {self.min_topup}")
        return CardEntry(
            key=key, kind="topup", amount=amount, at=at, bonus=self.bonus_for(amount), customer_id=customer_id
        )

    def split_spend(self, amount: int, principal: int, bonus: int) -> tuple[int, int]:
        """``(from principal, from bonus)`` minor units of a spend of ``amount`` (at most the balance).

        Examples
        --------
        >>> StoredValuePolicy().split_spend(5000, 10000, 2000)     # proportional: 100 : 20
        (4167, 833)
        >>> StoredValuePolicy(spend_order="bonus_first").split_spend(5000, 10000, 2000)
        (3000, 2000)
        """
        for name, value in (("amount", amount), ("principal", principal), ("bonus", bonus)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DataError(
                    f"split_spend: {name} must be a non-negative int of minor units, got {value!r}"
                )
        if amount > principal + bonus:
            raise DataError(f"a spend of {amount} minor units exceeds the balance {principal + bonus}")
        if self.spend_order == "principal_first":
            from_principal = min(amount, principal)
            return from_principal, amount - from_principal
        if self.spend_order == "bonus_first":
            from_bonus = min(amount, bonus)
            return amount - from_bonus, from_bonus
        if principal + bonus == 0:
            return 0, 0
        first, second = allocate(amount, [principal, bonus])
        return first, second

    def _check(self, amount: Any, what: str) -> None:
        if not isinstance(amount, Money):
            raise DataError(f"{what}: amount must be a Money, got {type(amount).__name__} {amount!r}")
        if amount.currency != self.unit:
            raise DataError(f"{what}: {amount} is not in the card's currency {self.currency}")


@dataclass(frozen=True, slots=True)
class CardEntry:
    """One stored-value card entry (储值流水).

    Parameters
    ----------
    key:
        Idempotency key (unique per card).
    kind:
        ``topup``, ``spend``, ``refund`` (of a spend, ``ref`` = its key) or ``withdraw`` (an unspent
        top-up paid back, ``ref`` = the top-up's key).
    amount:
        A positive [`Money`][] (for ``withdraw``: the principal paid back).
    at:
        When (timezone-aware).
    bonus:
        For ``topup``: the bonus granted (``None``: the policy's [`bonus_for`][StoredValuePolicy.bonus_for]).

    Examples
    --------
    >>> from datetime import timezone
    >>> CardEntry("s1", "spend", Money("30.00"), datetime(2024, 5, 2, tzinfo=timezone.utc)).amount.minor
    3000
    """

    key: str
    kind: CardEntryKind
    amount: Money
    at: datetime
    ref: str | None = None
    bonus: Money | None = None
    customer_id: str | int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _validate_card_entry(self, "card entry")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (amounts as ``"12.50 CNY"`` text, instants as ISO 8601).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> entry = CardEntry("t1", "topup", Money("100.00"), datetime(2024, 3, 2, tzinfo=timezone.utc))
        >>> entry.to_dict()
        {'key': 't1', 'kind': 'topup', 'amount': '100.00 CNY', 'at': '2024-03-02T00:00:00+00:00'}
        """
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or (item.name == "note" and not value):
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Money):
                value = str(value)
            out[item.name] = value
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        """The entry as JSON text ([`to_dict`][]'s fields).

        Until the next release the text also answers the dict-like uses of the old ``to_json()``
        (which returned what [`to_dict`][] returns now), each with a ``DeprecationWarning``.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> entry = CardEntry("t1", "topup", Money("100.00"), datetime(2024, 3, 2, tzinfo=timezone.utc))
        >>> CardEntry.from_json(entry.to_json()) == entry
        True
        """
        return dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> CardEntry:
        """Rebuild from [`to_json`][] text or [`to_dict`][] output.

        Examples
        --------
        >>> CardEntry.from_json('{"key": "t1", "kind": "topup", "amount": "100.00 CNY", '
        ...                     '"at": "2024-03-02T00:00:00+00:00"}').amount
        Money('100.00', 'CNY')
        """
        return _coerce_card_entry(json_object(data, what="card entry"), position=None)


def _validate_card_entry(entry: CardEntry, where: str) -> None:
    if not isinstance(entry.key, str) or not entry.key:
        raise DataError(f"{where}: key must be a non-empty string, got {entry.key!r}")
    where = f"{where} {entry.key!r}"
    if entry.kind not in _KINDS:
        raise DataError(
            f"{where}: unknown kind {entry.kind!r}; expected one of {', '.join(CARD_ENTRY_KINDS)}"
        )
    if not isinstance(entry.amount, Money):
        raise DataError(
            f"{where}: amount must be a Money (exact minor units), got {type(entry.amount).__name__} "
            f"{entry.amount!r}"
        )
    if entry.amount.minor <= 0:
        raise DataError(f"{where}: amount must be positive, got {entry.amount}")
    require_aware(entry.at, name=f"{where}: at")
    if entry.bonus is not None:
        if entry.kind != "topup":
            raise DataError(f"{where}: only a topup carries a bonus")
        if not isinstance(entry.bonus, Money) or entry.bonus.minor < 0:
            raise DataError(f"{where}: bonus must be a non-negative Money, got {entry.bonus!r}")
        if entry.bonus.currency != entry.amount.currency:
            raise DataError(f"{where}: bonus {entry.bonus} and amount {entry.amount} differ in currency")
    needs_ref = entry.kind in ("refund", "withdraw")
    if needs_ref and (not isinstance(entry.ref, str) or not entry.ref):
        raise DataError(f"{where}: a {entry.kind} entry needs ref= the key of its {_REF_KIND[entry.kind]}")


_REF_KIND = {"refund": "spend", "withdraw": "topup"}


def _coerce_card_entry(value: Any, *, position: int | None) -> CardEntry:
    where = "card entry" if position is None else f"card entry at position {position}"
    if isinstance(value, CardEntry):
        return value
    if not isinstance(value, Mapping):
        raise DataError(f"{where}: expected a CardEntry or a mapping, got {type(value).__name__}")
    names = {item.name for item in fields(CardEntry)}
    unknown = sorted(set(value) - names)
    if unknown:
        raise DataError(f"{where}: unknown fields {unknown}")
    data = dict(value)
    for name in ("amount", "bonus"):
        text = data.get(name)
        if isinstance(text, str):
            amount, _, code = text.strip().partition(" ")
            data[name] = Money(amount, code.strip() or "CNY")
    if isinstance(data.get("at"), str):
        try:
            data["at"] = datetime.fromisoformat(data["at"])
        except ValueError:
            raise DataError(f"{where}: at {data['at']!r} is not an ISO 8601 datetime") from None
    missing = [name for name in ("key", "kind", "amount", "at") if data.get(name) is None]
    if missing:
        raise DataError(f"{where}: missing {missing}")
    entry = object.__new__(CardEntry)
    for item in fields(CardEntry):
        object.__setattr__(entry, item.name, data.get(item.name, item.default))
    _validate_card_entry(entry, where)
    return entry


@dataclass(frozen=True)
class CardState:
    """A card at ``as_of``: principal and bonus balances and the totals that explain them.

    ``principal == topped_up - spent_principal + refunded_principal - withdrawn`` and
    ``bonus == bonus_granted - spent_bonus + refunded_bonus - bonus_forfeited`` always hold.
    ``bonus_unrecovered`` is bonus a withdrawal should have forfeited but that was already spent.

    Examples
    --------
    >>> from datetime import timezone
    >>> t = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> s = replay_card([CardEntry("t", "topup", Money("100.00"), t, bonus=Money("20.00"))], as_of=t)
    >>> str(s.balance), str(s.principal), str(s.bonus)
    ('120.00 CNY', '100.00 CNY', '20.00 CNY')
    """

    as_of: datetime
    policy: StoredValuePolicy
    principal: Money
    bonus: Money
    topped_up: Money
    bonus_granted: Money
    spent_principal: Money
    spent_bonus: Money
    refunded_principal: Money
    refunded_bonus: Money
    withdrawn: Money
    bonus_forfeited: Money
    bonus_unrecovered: Money
    entries_applied: int
    duplicates: int
    ignored_after_as_of: tuple[str, ...]

    @property
    def balance(self) -> Money:
        """Principal plus bonus: what the card can pay."""
        return self.principal + self.bonus

    def to_dict(self) -> dict[str, Any]:
        """Every amount as a [`Money`][], plus the bookkeeping counts."""
        out = {item.name: getattr(self, item.name) for item in fields(self) if item.name != "policy"}
        out["balance"] = self.balance
        return out


@dataclass
class _TopUp:
    principal_left: int
    bonus_left: int


@dataclass
class _Spend:
    principal_left: int  # spent principal not refunded yet
    bonus_left: int


class _CardFold:
    def __init__(self, policy: StoredValuePolicy) -> None:
        self.policy = policy
        self.principal = 0
        self.bonus = 0
        self.totals = dict.fromkeys(
            (
                "topped_up",
                "bonus_granted",
                "spent_principal",
                "spent_bonus",
                "refunded_principal",
                "refunded_bonus",
                "withdrawn",
                "bonus_forfeited",
                "bonus_unrecovered",
            ),
            0,
        )
        self.topups: dict[str, _TopUp] = {}
        self.spends: dict[str, _Spend] = {}

    def apply(self, entry: CardEntry) -> None:
        amount = entry.amount.minor
        if entry.kind == "topup":
            # A stamped bonus, even 0.00, is what the top-up earned; the policy decides only without one.
            stamped = entry.bonus if entry.bonus is not None else self.policy.bonus_for(entry.amount)
            bonus = stamped.minor
            self.principal += amount
            self.bonus += bonus
            self.totals["topped_up"] += amount
            self.totals["bonus_granted"] += bonus
            self.topups[entry.key] = _TopUp(amount, bonus)
        elif entry.kind == "spend":
            if amount > self.principal + self.bonus:
                raise DataError(
                    f"card entry {entry.key!r}: spend of {entry.amount} exceeds the card balance "
                    f"{Money.from_minor(self.principal + self.bonus, self.policy.unit)} "
                    f"at {entry.at.isoformat()}"
                )
            from_principal, from_bonus = self.policy.split_spend(amount, self.principal, self.bonus)
            self.principal -= from_principal
            self.bonus -= from_bonus
            self.totals["spent_principal"] += from_principal
            self.totals["spent_bonus"] += from_bonus
            self.spends[entry.key] = _Spend(from_principal, from_bonus)
        elif entry.kind == "refund":
            spend = self._target(entry, self.spends, "spend")
            left = spend.principal_left + spend.bonus_left
            if amount > left:
                raise DataError(
                    f"card entry {entry.key!r}: refunds {entry.amount} of spend {entry.ref!r}, but only "
                    f"{Money.from_minor(left, self.policy.unit)} of it is left to refund"
                )
            # Back in the proportions the spend took them, exactly: a full refund restores both parts.
            back_principal, back_bonus = allocate(amount, [spend.principal_left, spend.bonus_left])
            spend.principal_left -= back_principal
            spend.bonus_left -= back_bonus
            self.principal += back_principal
            self.bonus += back_bonus
            self.totals["refunded_principal"] += back_principal
            self.totals["refunded_bonus"] += back_bonus
        else:
            topup = self._target(entry, self.topups, "topup")
            if amount > topup.principal_left or amount > self.principal:
                raise DataError(
                    f"card entry {entry.key!r}: withdraws {entry.amount} of top-up {entry.ref!r}, but only "
                    f"{Money.from_minor(min(topup.principal_left, self.principal), self.policy.unit)} of its "
                    "principal is unspent"
                )
            # That top-up's bonus goes with it, pro rata, rounded against the card (up).
            due = round_ratio(topup.bonus_left * amount, topup.principal_left, Rounding.UP)
            forfeited = min(due, self.bonus)
            topup.principal_left -= amount
            topup.bonus_left -= due
            self.principal -= amount
            self.bonus -= forfeited
            self.totals["withdrawn"] += amount
            self.totals["bonus_forfeited"] += forfeited
            self.totals["bonus_unrecovered"] += due - forfeited

    def _target(self, entry: CardEntry, known: Mapping[str, Any], what: str) -> Any:
        ref = entry.ref
        if ref is None or ref not in known:
            raise DataError(
                f"card entry {entry.key!r}: {entry.kind} refers to {ref!r}, which is not a {what} "
                "applied before it"
            )
        return known[ref]


def replay_card(
    entries: Iterable[CardEntry | Mapping[str, Any]],
    *,
    as_of: datetime,
    policy: StoredValuePolicy | None = None,
) -> CardState:
    """A stored-value card's state at ``as_of`` from its entries (any input order).

    Entries are deduplicated by key (identical repeats change nothing; a reused key with other
    content is a [`DataError`][]), entries after ``as_of`` are left out and listed, the
    rest applied in ``(at, kind, key)`` order — except that a refund at the very instant of the spend
    it refunds comes right after the spends at that instant.

    Raises
    ------
    DataError
        For a bad entry (naming its position), an amount in another currency, a spend above the
        balance, or a refund / withdrawal larger than what is left of its target.

    Examples
    --------
    >>> from datetime import timezone
    >>> policy = StoredValuePolicy(bonus_tiers=[BonusTier(topup=Money("100.00"), bonus=Money("20.00"))])
    >>> t = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> entries = [policy.topup_entry(Money("100.00"), key="t1", at=t),
    ...            CardEntry("s1", "spend", Money("60.00"), t)]
    >>> state = replay_card(entries, as_of=t, policy=policy)
    >>> str(state.principal), str(state.bonus)     # 60.00 split 100 : 20 -> 50.00 + 10.00
    ('50.00 CNY', '10.00 CNY')
    """
    as_of = require_aware(as_of)
    policy = StoredValuePolicy() if policy is None else policy
    if not isinstance(policy, StoredValuePolicy):
        raise DataError(f"policy must be a StoredValuePolicy, got {type(policy).__name__}")
    unit = policy.unit

    def entry_at(record: Any, position: int) -> CardEntry:
        entry = _coerce_card_entry(record, position=position)
        if entry.amount.currency != unit:
            raise DataError(
                f"card entry at position {position} {entry.key!r}: {entry.amount} is not in the card's "
                f"currency {policy.currency}"
            )
        return entry

    unique, duplicates = deduplicate(record_list(entries, what="card entries"), entry_at, what="card entry")
    applied, ignored = order_and_split(
        unique, as_of_us=as_utc_us(as_of), kinds=CARD_ENTRY_KINDS, follows=_FOLLOWS
    )
    fold = _CardFold(policy)
    for *_, entry in applied:
        fold.apply(entry)
    money = {name: Money.from_minor(value, unit) for name, value in fold.totals.items()}
    return CardState(
        as_of=as_of,
        policy=policy,
        principal=Money.from_minor(fold.principal, unit),
        bonus=Money.from_minor(fold.bonus, unit),
        entries_applied=len(applied),
        duplicates=duplicates,
        ignored_after_as_of=ignored,
        **money,
    )


@dataclass(frozen=True, slots=True)
class SpendQuote:
    """How a spend of ``amount`` would split, or why it cannot be paid by the card.

    ``reason`` is ``NOT_POSITIVE`` or ``INSUFFICIENT_BALANCE`` (with ``shortfall``: pay it another way).

    Attributes
    ----------
    ok:
        True when the card can pay ``amount``.
    amount:
        The spend asked for.
    principal, bonus:
        How much of it comes out of principal (本金) and bonus (赠送金), by the policy's
        ``spend_order`` (zero when not ``ok``).
    reason, shortfall:
        Why not, and what the card is short of.

    Examples
    --------
    >>> from datetime import timezone
    >>> policy = StoredValuePolicy(spend_order="bonus_first")
    >>> t = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> card = replay_card([CardEntry("t1", "topup", Money("100.00"), t, bonus=Money("20.00"))],
    ...                    as_of=t, policy=policy)
    >>> q = quote_spend(card, Money("50.00"))
    >>> q.ok, str(q.principal), str(q.bonus)
    (True, '30.00 CNY', '20.00 CNY')
    >>> q = quote_spend(card, Money("130.00"))
    >>> q.ok, q.reason, q.shortfall
    (False, 'INSUFFICIENT_BALANCE', Money('10.00', 'CNY'))
    """

    ok: bool
    amount: Money
    principal: Money
    bonus: Money
    reason: Literal["NOT_POSITIVE", "INSUFFICIENT_BALANCE"] | None = None
    shortfall: Money | None = None


def quote_spend(state: CardState, amount: Money) -> SpendQuote:
    """The principal / bonus split of a spend of ``amount`` now (the state's policy), or why the card
    cannot pay it.

    Examples
    --------
    >>> from datetime import timezone
    >>> t = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> s = replay_card([CardEntry("t", "topup", Money("100.00"), t, bonus=Money("20.00"))], as_of=t)
    >>> q = quote_spend(s, Money("12.00"))
    >>> q.ok, str(q.principal), str(q.bonus)
    (True, '10.00 CNY', '2.00 CNY')
    >>> quote_spend(s, Money("150.00")).shortfall
    Money('30.00', 'CNY')
    """
    if not isinstance(state, CardState):
        raise DataError(f"quote_spend needs a CardState from replay_card(), got {type(state).__name__}")
    policy = state.policy
    policy._check(amount, "spend")
    zero = Money.zero(policy.unit)
    if amount.minor <= 0:
        return SpendQuote(False, amount, zero, zero, "NOT_POSITIVE")
    if amount > state.balance:
        return SpendQuote(False, amount, zero, zero, "INSUFFICIENT_BALANCE", amount - state.balance)
    principal, bonus = policy.split_spend(amount.minor, state.principal.minor, state.bonus.minor)
    return SpendQuote(
        True, amount, Money.from_minor(principal, policy.unit), Money.from_minor(bonus, policy.unit)
    )
