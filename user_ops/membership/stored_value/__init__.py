"""Stored-value cards (储值卡): top-ups with a bonus, spending, refunds and withdrawals, in exact money.

A part of the ``user_ops.membership`` room, whose door exports every name listed here: import them
from there.
"""

from user_ops.membership.stored_value._cards import (
    CARD_ENTRY_KINDS,
    BonusTier,
    CardEntry,
    CardState,
    SpendQuote,
    StoredValuePolicy,
    quote_spend,
    replay_card,
)

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
