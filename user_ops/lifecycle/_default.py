"""The seeds' lifecycle policy (用户生命周期), with every threshold a parameter, and the population cycle."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, value_repr
from user_ops.lifecycle._policy import LifecyclePolicy, Stage

__all__ = ["DEFAULT_FIELDS", "default_policy", "population_cycle"]

#: The per-customer metric columns the default policy reads (produced by the metrics room).
DEFAULT_FIELDS: dict[str, str] = {
    "frequency": "int — number of orders (F); 0 for registered customers who never bought",
    "recency_days": "int — calendar days since the last order (R); null for never-bought customers",
    "repurchase_cycle_days": "float — the customer's median days between purchase days (null: < 2)",
    "first_order_at": "datetime — the first order (maturity reads days_since(first_order_at)); null if none",
    "monetary": "float — total net spend (only with mature_monetary=...)",
    "p_alive": "float 0..1 — probability the customer is still active (only with p_alive_below=...)",
}


def _number(value: float) -> str:
    """Rule-text literal of a threshold: ``30`` for 30.0, ``2.5`` for 2.5, ``1E+20`` past int64."""
    if float(value).is_integer() and abs(value) < 2**63:
        return str(int(value))
    return repr(float(value))


def readable_cycle(days: float) -> float:
    """A measured cycle as a person would write it in a rule: whole days from 10 up, else 2 digits.

    A fitted median such as 36.392872106481484 days would otherwise land in the rule text and every
    view of it; the rounding moves a threshold by less than 5 %, well inside the median's own noise.
    """
    if days >= 10:
        return float(round(days))
    if days <= 0 or not math.isfinite(days):
        return days  # default() reports it
    digits = 1 - math.floor(math.log10(days))  # two significant digits
    return round(days, digits)


def _positive(name: str, value: float) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer)):
        raise ConfigError(f"{name} must be a number, got {value_repr(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        number = math.inf
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{name} must be a positive finite number, got {value_repr(value)}")
    return number


def _days(name: str, value: int | None, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**63:
        raise ConfigError(
            f"{name} must be a whole number of days from 0 to 2**63 - 1, got {value_repr(value)}"
        )
    return int(value)


def _threshold(multiple: float, cycle: float, floor: int, cap: int | None) -> str:
    """``min(max(k * coalesce(repurchase_cycle_days, cycle), floor), cap)``, parts left out when idle."""
    text = f"{_number(multiple)} * coalesce(repurchase_cycle_days, {_number(cycle)})"
    if floor > 0:
        text = f"max({text}, {floor})"
    if cap is not None:
        text = f"min({text}, {cap})"
    return text


def default_policy(
    *,
    population_cycle_days: float = 30.0,
    dormancy_multiple: float = 2.0,
    churn_multiple: float = 4.0,
    dormancy_min_days: int = 30,
    churn_min_days: int = 90,
    dormancy_max_days: int | None = None,
    churn_max_days: int | None = 365,
    mature_orders: int = 4,
    mature_tenure_days: int = 90,
    mature_monetary: float | None = None,
    p_alive_below: float | None = None,
) -> LifecyclePolicy:
    """The seeds' lifecycle policy over the metric columns (see ``DEFAULT_FIELDS``).

    Stages, first match wins: ``prospect`` (never bought) → ``churn`` → ``dormancy`` →
    ``introduction`` (one order, not lapsed) → ``maturity`` → ``growth`` (repeat buyer) → the
    fallback ``unclassified`` (rows whose data answer none of the rules, e.g. a null ``frequency``).
    Summaries, charts and transitions show them in lifecycle order (``lifecycle_order``): prospect,
    introduction, growth, maturity, dormancy, churn, unclassified.
    Lapse is measured against each customer's **own** repurchase cycle (复购周期): a customer who buys
    weekly is dormant much sooner than one who buys each quarter.

    Parameters
    ----------
    population_cycle_days:
        The cycle used for customers without one of their own (one purchase day: the metrics leave
        ``repurchase_cycle_days`` null). Measure it with [`population_cycle`][] or use
        [`LifecyclePolicy.default_for`][]. Default 30 (a monthly shop).
    dormancy_multiple, churn_multiple:
        Dormant (休眠) when ``recency_days > dormancy_multiple × cycle``; churned (流失) when
        ``recency_days > churn_multiple × cycle``. Defaults 2 and 4: one missed purchase is normal
        variation, two missed purchases is dormancy, four is loss. ``churn_multiple`` must be larger.
    dormancy_min_days, churn_min_days:
        Floors of the two thresholds in days, so a customer with a 3-day cycle is not dormant after
        a week (defaults 30 and 90).
    dormancy_max_days, churn_max_days:
        Caps in days (``None``: no cap). Default: no dormancy cap (someone who buys twice a year is not
        dormant four months after an order) and churned after at most 365 days without an order
        whatever the cycle (a year of silence is loss in any trade).
    mature_orders, mature_tenure_days, mature_monetary:
        Mature (成熟期) when ``frequency >= mature_orders`` (default 4, the tags' high frequency) and
        ``days_since(first_order_at) >= mature_tenure_days`` (the metrics' ``tenure_days``; default 90:
        a relationship matures over time, four
        orders in a fortnight are growth), and, when given, ``monetary >= mature_monetary``.
    p_alive_below:
        When given, also churned when ``p_alive < p_alive_below`` (a column from a fitted BG/NBD
        model, e.g. ``user_ops.lifecycle.BGNBD``); a null ``p_alive`` leaves the day rule to decide.

    Raises
    ------
    ConfigError
        For a non-positive cycle or multiple, negative days, a churn threshold that is not beyond the
        dormancy one, or ``p_alive_below`` outside (0, 1].

    Examples
    --------
    >>> policy = default_policy(p_alive_below=0.3)
    >>> print(policy["churn"].when)
    recency_days > min(max(4 * coalesce(repurchase_cycle_days, 30), 90), 365) or p_alive < 0.3
    """
    cycle = _positive("population_cycle_days", population_cycle_days)
    k_dormant = _positive("dormancy_multiple", dormancy_multiple)
    k_churn = _positive("churn_multiple", churn_multiple)
    if k_churn <= k_dormant:
        raise ConfigError(
            f"churn_multiple ({churn_multiple}) must be larger than dormancy_multiple ({dormancy_multiple})"
        )
    d_min = _days("dormancy_min_days", dormancy_min_days)
    c_min = _days("churn_min_days", churn_min_days)
    d_max = _days("dormancy_max_days", dormancy_max_days, allow_none=True)
    c_max = _days("churn_max_days", churn_max_days, allow_none=True)
    assert d_min is not None and c_min is not None
    if c_min < d_min:
        raise ConfigError(f"churn_min_days ({c_min}) must be at least dormancy_min_days ({d_min})")
    for name, cap, floor in (("dormancy", d_max, d_min), ("churn", c_max, c_min)):
        if cap is not None and cap < floor:
            raise ConfigError(f"{name}_max_days ({cap}) is below {name}_min_days ({floor})")
    if (
        isinstance(mature_orders, bool)
        or not isinstance(mature_orders, int)
        or not 2 <= mature_orders < 2**63
    ):
        raise ConfigError(
            f"mature_orders must be an integer >= 2 (growth starts at 2), got {mature_orders!r}"
        )
    _days("mature_tenure_days", mature_tenure_days)
    if mature_monetary is not None:
        _positive("mature_monetary", mature_monetary)
    if p_alive_below is not None:
        _positive("p_alive_below", p_alive_below)
        if p_alive_below > 1:
            raise ConfigError(f"p_alive_below is a probability threshold in (0, 1], got {p_alive_below!r}")

    churn_after = _threshold(k_churn, cycle, c_min, c_max)
    dormant_after = _threshold(k_dormant, cycle, d_min, d_max)
    churn_rule = f"recency_days > {churn_after}"
    churn_text = (
        f"No order for more than {_number(k_churn)}× the customer's repurchase cycle (population cycle "
        f"{_number(cycle)} days for one-purchase customers), at least {c_min} days"
        + (f", at most {c_max} days" if c_max is not None else "")
    )
    if p_alive_below is not None:
        churn_rule += f" or p_alive < {_number(p_alive_below)}"
        churn_text += f"; or P(alive) below {_number(p_alive_below)}"
    dormancy_text = (
        f"No order for more than {_number(k_dormant)}× the customer's repurchase cycle (population cycle "
        f"{_number(cycle)} days for one-purchase customers), at least {d_min} days"
        + (f", at most {d_max} days" if d_max is not None else "")
        + "; not yet churned"
    )
    maturity_rule = f"frequency >= {mature_orders} and days_since(first_order_at) >= {mature_tenure_days}"
    maturity_text = f"{mature_orders} or more orders over at least {mature_tenure_days} days"
    if mature_monetary is not None:
        maturity_rule += f" and monetary >= {_number(mature_monetary)}"
        maturity_text += f", spend of {_number(mature_monetary)} or more"
    stages = [
        Stage(
            code="prospect",
            label_en="Prospect",
            label_zh="潜在用户",
            action="first_order",
            action_en="First-order incentive",
            action_zh="首单激励",
            when="frequency == 0",
            description="Registered or followed, but no order yet.",
        ),
        Stage(
            code="churn",
            label_en="Churn",
            label_zh="流失期",
            action="win_back",
            action_en="Win back",
            action_zh="挽回",
            when=churn_rule,
            description=churn_text + ".",
        ),
        Stage(
            code="dormancy",
            label_en="Dormancy",
            label_zh="休眠期",
            action="wake_up",
            action_en="Wake up",
            action_zh="唤醒",
            when=f"recency_days > {dormant_after}",
            description=dormancy_text + ".",
        ),
        Stage(
            code="introduction",
            label_en="Introduction",
            label_zh="引入期",
            action="activate",
            action_en="Activate",
            action_zh="激活",
            when="frequency == 1",
            description="A new buyer: one order so far, and not lapsed.",
        ),
        Stage(
            code="maturity",
            label_en="Maturity",
            label_zh="成熟期",
            action="retain",
            action_en="Retain",
            action_zh="留存",
            when=maturity_rule,
            description=maturity_text + "; buying on cycle.",
        ),
        Stage(
            code="growth",
            label_en="Growth",
            label_zh="成长期",
            action="convert",
            action_en="Convert",
            action_zh="转化",
            when="frequency >= 2",
            description="A repeat buyer on cycle, not yet mature.",
        ),
        Stage(
            code="unclassified",
            label_en="Unclassified",
            label_zh="未分类",
            action="review",
            action_en="Review data",
            action_zh="核查数据",
            description="No rule could decide (e.g. null frequency or recency): check the data.",
        ),
    ]
    # The rules above are tried lapsed-first; people read the stages in the order customers live them.
    order = ("prospect", "introduction", "growth", "maturity", "dormancy", "churn", "unclassified")
    return LifecyclePolicy(stages, name="default", lifecycle_order=order)


def population_cycle(metrics: Any, *, column: str = "repurchase_cycle_days", quantile: float = 0.5) -> float:
    """The shop's typical repurchase cycle: a quantile (default the median) of the customers' own cycles.

    Only customers with a cycle (two or more purchase days) count. Use it as the default policy's
    ``population_cycle_days``, the cycle assumed for one-purchase customers.

    Raises
    ------
    DataError
        When no customer has a cycle (no repeat buyers), or the column is missing or not numeric.

    Examples
    --------
    >>> population_cycle({"repurchase_cycle_days": [10.0, None, 30.0, 14.0]})
    14.0
    """
    if isinstance(quantile, (bool, np.bool_)) or not isinstance(quantile, (int, float, np.integer)):
        raise ConfigError(f"quantile must be a number in [0, 1], got {value_repr(quantile)}")
    if not 0 <= quantile <= 1:
        raise ConfigError(f"quantile must be in [0, 1], got {quantile!r}")
    if not isinstance(column, str):
        raise ConfigError(f"column must be a column name (str), got {value_repr(column)}")
    table = Table.coerce(metrics)
    if table.kind(column) not in ("float", "int", "null"):
        raise DataError(f"column {column!r} must be numeric, got {table.kind(column)}")
    present = np.empty(0)
    if table.kind(column) != "null":
        values = np.ma.filled(np.ma.asarray(table[column]).astype(np.float64), np.nan)
        present = values[np.isfinite(values) & (values > 0)]
    if present.size == 0:
        raise DataError(f"no customer has a {column!r} (no repeat buyers): pass population_cycle_days=...")
    return float(np.quantile(present, quantile))
