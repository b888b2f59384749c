"""``aipl_policy``: the AIPL staging (认知 → 兴趣 → 购买 → 忠诚) as a ready [`LifecyclePolicy`][].

The stages are plain rules over the columns of [`engagement_metrics`][user_ops.metrics.engagement_metrics], in
first-match order from the deepest stage: loyalty, purchase, interest, awareness, and the fallback
``unaware``. ``docs/aipl.md`` has the table of rules and a worked example.
"""

from __future__ import annotations

from user_ops._time import parse_duration
from user_ops.exceptions import ConfigError, DataError, value_repr
from user_ops.lifecycle._policy import LifecyclePolicy, Stage

__all__ = ["AIPL_INTEREST_EVENTS", "aipl_policy"]

#: The event types whose windowed counts make up interest (兴趣): click, favourite, add to cart.
AIPL_INTEREST_EVENTS: tuple[str, ...] = ("click", "favorite", "add_to_cart")


def aipl_policy(
    *,
    window: str = "30d",
    interest_events: int = 2,
    loyal_purchases: int = 2,
    members_are_loyal: bool = True,
    awareness_window: str | None = None,
) -> LifecyclePolicy:
    """The AIPL lifecycle: awareness 认知 → interest 兴趣 → purchase 购买 → loyalty 忠诚.

    Stages, first match wins (each rule reads columns of
    [`engagement_metrics`][user_ops.metrics.engagement_metrics]):

    ==============  ======  ====================================================  ===========================
    stage           中文    when                                                  action
    ==============  ======  ====================================================  ===========================
    ``loyalty``     忠诚    ``purchases >= 2 or (is_member and purchases >= 1)``  ``retain`` 会员运营
    ``purchase``    购买    ``purchases >= 1``                                    ``repurchase`` 促复购
    ``interest``    兴趣    ``click_30d + favorite_30d + add_to_cart_30d >= 2``   ``convert`` 促转化
    ``awareness``   认知    ``first_event_at is not null``                        ``engage`` 种草/内容触达
    ``unaware``     未触达  (fallback)                                            ``reach`` 拉新触达
    ==============  ======  ====================================================  ===========================

    Parameters
    ----------
    window:
        The interest window: clicks, favourites and adds to cart count when they fall in
        ``[as_of - window, as_of)``. The metrics must have this window (``engagement_metrics(...,
        windows=[window, ...])``; the default windows include ``"30d"``).
    interest_events:
        Interest events in the window from which a customer is interested (>= 1).
    loyal_purchases:
        Purchases from which a customer is loyal (a repeat purchase, 复购; >= 2).
    members_are_loyal:
        Whether a member (``member_join`` seen) with at least one purchase is loyal too.
    awareness_window:
        ``None`` (default): any event ever makes a customer aware. A duration such as ``"180d"``:
        only customers with an event in that window are aware (``last_event_at within 180d``); older
        contacts fall back to ``unaware``, to be reached again.

    Returns
    -------
    LifecyclePolicy
        Named ``"aipl"``; plain rules (print it, store it as JSON, edit it).

    Raises
    ------
    ConfigError
        For a window that is not a positive duration, or a threshold out of range.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = aipl_policy(window="7d", interest_events=3)
    >>> policy.codes
    ('loyalty', 'purchase', 'interest', 'awareness', 'unaware')
    >>> policy["interest"].when.to_text()
    'click_7d + favorite_7d + add_to_cart_7d >= 3'
    >>> record = {"purchases": 0, "is_member": False, "click_7d": 2, "favorite_7d": 0,
    ...           "add_to_cart_7d": 1, "first_event_at": datetime(2024, 6, 1, tzinfo=timezone.utc)}
    >>> result = policy.classify_one(record, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc))
    >>> result.stage, result.action, result.action_zh
    ('interest', 'convert', '促转化')
    """
    window_text = _window("window", window)
    aware_text = None if awareness_window is None else _window("awareness_window", awareness_window)
    interest = _count("interest_events", interest_events, minimum=1)
    loyal = _count("loyal_purchases", loyal_purchases, minimum=2)
    if not isinstance(members_are_loyal, bool):
        raise ConfigError(f"members_are_loyal must be True or False, got {members_are_loyal!r}")

    loyalty_rule = f"purchases >= {loyal}"
    loyalty_text = f"{loyal} or more purchases (a repeat purchase, 复购)"
    if members_are_loyal:
        loyalty_rule += " or (is_member and purchases >= 1)"
        loyalty_text += ", or a member who has bought at least once"
    interest_rule = " + ".join(f"{event}_{window_text}" for event in AIPL_INTEREST_EVENTS)
    interest_rule += f" >= {interest}"
    if aware_text is None:
        awareness_rule = "first_event_at is not null"
        awareness_text = "Any engagement event before as_of (a view or anything that implies one)."
        unaware_text = "No engagement event yet: known to the shop (e.g. a follower), never reached."
    else:
        awareness_rule = f"last_event_at within {aware_text}"
        awareness_text = f"An engagement event within the last {aware_text}."
        unaware_text = f"No engagement event within the last {aware_text}, or none at all."

    return LifecyclePolicy(
        [
            Stage(
                code="loyalty",
                label_en="Loyalty",
                label_zh="忠诚",
                action="retain",
                action_en="Retain: loyalty programme",
                action_zh="会员运营",
                when=loyalty_rule,
                description=loyalty_text[0].upper() + loyalty_text[1:] + ".",
            ),
            Stage(
                code="purchase",
                label_en="Purchase",
                label_zh="购买",
                action="repurchase",
                action_en="Drive a repeat purchase",
                action_zh="促复购",
                when="purchases >= 1",
                description="At least one purchase, not yet loyal.",
            ),
            Stage(
                code="interest",
                label_en="Interest",
                label_zh="兴趣",
                action="convert",
                action_en="Convert to a first purchase (e.g. a coupon)",
                action_zh="促转化",
                when=interest_rule,
                description=(
                    f"No purchase, but {interest} or more clicks, favourites and adds to cart within the "
                    f"last {window_text}."
                ),
            ),
            Stage(
                code="awareness",
                label_en="Awareness",
                label_zh="认知",
                action="engage",
                action_en="Engage with content",
                action_zh="种草/内容触达",
                when=awareness_rule,
                description=awareness_text,
            ),
            Stage(
                code="unaware",
                label_en="Not yet reached",
                label_zh="未触达",
                action="reach",
                action_en="Reach out (acquisition)",
                action_zh="拉新触达",
                description=unaware_text,
            ),
        ],
        name="aipl",
        # tried deepest-first; read in the order a customer goes through them (认知 → 兴趣 → 购买 → 忠诚)
        lifecycle_order=("unaware", "awareness", "interest", "purchase", "loyalty"),
    )


def _window(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a duration like '30d', got {value!r}")
    try:
        duration = parse_duration(value)
    except DataError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    if duration.months == duration.days == duration.seconds == 0:
        raise ConfigError(f"{name} {value!r} is empty; use a positive duration like '30d'")
    return value


def _count(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**63:
        raise ConfigError(f"{name} must be an int from {minimum} to 2**63 - 1, got {value_repr(value)}")
    return value
