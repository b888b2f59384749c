"""Membership plots, generic over plain columns: customers per tier, points expiring per month.

They take arrays, Table columns or Series (not the membership room's objects), so a shop can plot its
own tier codes and points ledger whatever produced them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from user_ops._table import Table, normalize_column
from user_ops._time import TzLike, as_utc_us, get_tz, local_us, require_aware
from user_ops.exceptions import ConfigError, DataError
from user_ops.plots._common import FontOption, Lang, check_lang, choose_font, finish, new_axes, word

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["points_expiring", "tier_distribution"]

IntArray = npt.NDArray[np.int64]
TierLabel = str | tuple[str, str]


def tier_distribution(
    tiers: Any,
    *,
    order: Sequence[Any],
    labels: Mapping[Any, TierLabel] | None = None,
    normalize: bool = False,
    lang: Lang = "en",
    color: str = "#c08a2b",
    font: FontOption = None,
    ax: Axes | None = None,
) -> Axes:
    """Bars of customers per membership tier (会员等级), in tier order.

    Parameters
    ----------
    tiers:
        Either each customer's tier code (a list, numpy array, Table column or Series of str or int
        codes, no nulls), or a mapping of tier code to number of customers.
    order:
        The tier codes from lowest to highest; every code of ``tiers`` must be one of them (tiers
        without customers get an empty bar).
    labels:
        Tier code to its label: a string, or an ``(english, chinese)`` pair chosen by ``lang``
        (default: the codes).
    normalize:
        Plot shares of all customers instead of counts.
    lang:
        ``"en"`` or ``"zh"``.
    color:
        The bars' colour.
    font:
        Font family name(s) or font file(s), first installed wins (default: for ``lang="zh"`` the first
        installed of [`CJK_FONTS`][]).
    ax:
        The matplotlib axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; ``ax.patches`` are the bars in ``order``, each with its tier code as gid.

    Raises
    ------
    ConfigError
        For an empty or repeated ``order``, or an unknown ``lang``.
    DataError
        For a null code (naming the row), a code outside ``order``, or a count that is not a
        non-negative integer.

    Examples
    --------
    >>> ax = tier_distribution(["gold", "silver", "gold", "red"], order=["red", "silver", "gold", "black"],
    ...                        labels={"red": ("Red", "红海"), "gold": ("Gold", "金海")}, lang="zh")
    >>> [float(bar.get_height()) for bar in ax.patches]
    [1.0, 1.0, 2.0, 0.0]
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['红海', 'silver', '金海', 'black']
    """
    language = check_lang(lang)
    codes = _tier_order(order)
    counts = _tier_counts(tiers, codes)
    total = int(counts.sum())
    heights = counts / total if normalize and total > 0 else counts.astype(np.float64)
    names = [_tier_label(code, labels, language) for code in codes]
    fonts = choose_font(font, language)
    axes = new_axes(ax, size=(6.0, 4.0))
    bars = axes.bar(range(len(codes)), heights, color=color)
    for bar, code in zip(bars, codes, strict=True):
        bar.set_gid(str(code))
    shown = [f"{h:.1%}" if normalize else f"{int(c):,}" for h, c in zip(heights, counts, strict=True)]
    axes.bar_label(bars, labels=shown, fontsize=8)
    axes.set_xticks(range(len(codes)), names)
    axes.set_xlabel(word("tier", language))
    axes.set_ylabel(word("share_of_customers" if normalize else "customers", language))
    axes.set_title(word("tiers_share" if normalize else "tiers", language))
    if normalize:
        from matplotlib.ticker import PercentFormatter

        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    return finish(axes, fonts)


def _tier_order(order: Sequence[Any]) -> list[Any]:
    if isinstance(order, (str, bytes)) or not isinstance(order, Sequence):
        raise ConfigError(f"order must be a sequence of tier codes, lowest first, got {order!r}")
    codes = list(order)
    if not codes:
        raise ConfigError("order must name at least one tier")
    repeated = sorted({str(c) for c in codes if codes.count(c) > 1})
    if repeated:
        raise ConfigError(f"order repeats tier codes: {repeated}")
    return codes


def _tier_counts(tiers: Any, codes: list[Any]) -> IntArray:
    position = {code: index for index, code in enumerate(codes)}
    counts = np.zeros(len(codes), dtype=np.int64)
    if isinstance(tiers, Mapping):
        for code, number in tiers.items():
            if code not in position:
                raise DataError(f"tier {code!r} is not in order ({', '.join(map(str, codes))})")
            if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < 0:
                raise DataError(f"the count of tier {code!r} must be a non-negative integer, got {number!r}")
            counts[position[code]] = int(number)
        return counts
    table = Table({"tiers": tiers})
    kind = table.kind("tiers")
    if kind not in ("str", "int", "null"):
        raise DataError(f"tiers must hold tier codes (str or int), got {kind} values")
    nulls = table.null_mask("tiers")
    if nulls is not None and nulls.any():
        raise DataError(f"tiers has no tier code at row {int(np.flatnonzero(nulls)[0])}")
    column = table["tiers"]
    if len(column) == 0:
        return counts
    found, number = np.unique(np.asarray(np.ma.getdata(column)), return_counts=True)
    unknown = [value for value in found.tolist() if value not in position]
    if unknown:
        raise DataError(f"tiers {unknown[:5]} are not in order ({', '.join(map(str, codes))})")
    for value, how_many in zip(found.tolist(), number.tolist(), strict=True):
        counts[position[value]] = how_many
    return counts


def _tier_label(code: Any, labels: Mapping[Any, TierLabel] | None, lang: Lang) -> str:
    label = (labels or {}).get(code, str(code))
    if isinstance(label, tuple):
        if len(label) != 2:
            raise ConfigError(
                f"the label of tier {code!r} must be a string or an (en, zh) pair, got {label!r}"
            )
        return str(label[0 if lang == "en" else 1])
    return str(label)


def points_expiring(
    expires_at: Any,
    points: Any,
    *,
    tz: TzLike,
    as_of: datetime | None = None,
    months: int | None = None,
    lang: Lang = "en",
    color: str = "#2b7bba",
    font: FontOption = None,
    ax: Axes | None = None,
) -> Axes:
    """Bars of points expiring per calendar month (积分到期) in the business time zone.

    A lot counts in the month of the last moment it can be spent: its expiry instant is the exclusive
    end of its validity (the ledger's ``[earned_at, expires_at)``), so points that expire "at the end
    of June" — at 1 July 00:00 — are June's, one microsecond before that instant.

    Parameters
    ----------
    expires_at:
        When each lot of points expires: aware datetimes (or ISO 8601 strings with an offset, or a
        UTC ``datetime`` Table column), no nulls. Points are gone *at* that instant.
    points:
        The points of each lot: non-negative integers, as many as ``expires_at``.
    tz:
        The business time zone whose calendar months the lots are bucketed by.
    as_of:
        Optional aware instant: lots that expire at or before it (already gone) are left out, and
        the bars start with its month.
    months:
        How many months to show from the first (default: through the last expiry).
    lang:
        ``"en"`` or ``"zh"``.
    color:
        The bars' colour.
    font:
        Font family name(s) or font file(s), first installed wins (default: for ``lang="zh"`` the first
        installed of [`CJK_FONTS`][]).
    ax:
        The matplotlib axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; one bar per month (empty months included), its gid the month ``"YYYY-MM"``.

    Raises
    ------
    DataError
        For naive or null instants, points that are not non-negative integers, columns of different
        lengths, a naive ``as_of``, or nothing to draw.
    ConfigError
        For ``months`` below 1 or an unknown ``lang``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> end_of_june = datetime(2024, 6, 30, 16, tzinfo=timezone.utc)   # 1 July 00:00 in Shanghai
    >>> when = [end_of_june, datetime(2024, 6, 30, 17, tzinfo=timezone.utc),
    ...         datetime(2024, 8, 15, tzinfo=timezone.utc)]
    >>> ax = points_expiring(when, [100, 40, 5], tz="Asia/Shanghai")
    >>> [(bar.get_gid(), int(bar.get_height())) for bar in ax.patches]
    [('2024-06', 100), ('2024-07', 40), ('2024-08', 5)]
    """
    language = check_lang(lang)
    if months is not None and (isinstance(months, bool) or not isinstance(months, int) or months < 1):
        raise ConfigError(f"months must be a positive integer, got {months!r}")
    zone = get_tz(tz)
    instants, amounts = _expiry_columns(expires_at, points)
    first: int | None = None
    if as_of is not None:
        moment = require_aware(as_of)
        later = instants > as_utc_us(moment)
        instants, amounts = instants[later], amounts[later]
        first = int(_months(np.array([as_utc_us(moment)], dtype=np.int64), zone)[0])
    month = _months(instants - 1, zone)  # the last spendable microsecond: an expiry ends its month
    if first is None:
        if len(month) == 0:
            raise DataError("nothing to draw: no points expire (pass as_of=... to show empty months)")
        first = int(month.min())
    last = first + months - 1 if months is not None else max(int(month.max()) if len(month) else first, first)
    inside = (month >= first) & (month <= last)
    totals = np.zeros(last - first + 1, dtype=np.int64)
    np.add.at(totals, month[inside] - first, amounts[inside])
    names = [str(m) for m in np.arange(first, last + 1).astype("datetime64[M]")]
    fonts = choose_font(font, language)
    axes = new_axes(ax, size=(max(6.0, 0.45 * len(names)), 4.0))
    bars = axes.bar(range(len(names)), totals, color=color)
    for bar, name in zip(bars, names, strict=True):
        bar.set_gid(name)
    step = max(1, len(names) // 12)  # at most about a dozen month labels
    axes.set_xticks(range(0, len(names), step), names[::step], rotation=45, ha="right")
    axes.set_xlabel(word("month", language))
    axes.set_ylabel(word("points", language))
    axes.set_title(word("expiring", language, tz=getattr(zone, "key", str(zone))))
    return finish(axes, fonts)


def _expiry_columns(expires_at: Any, points: Any) -> tuple[IntArray, IntArray]:
    instants = normalize_column(expires_at, name="expires_at")
    amounts = normalize_column(points, name="points")
    if len(instants) != len(amounts):
        raise DataError(f"expires_at has {len(instants)} values but points {len(amounts)}")
    if len(instants) and instants.dtype.kind != "M":
        raise DataError(f"expires_at must hold aware datetimes, got {instants.dtype} values")
    if len(amounts) and (amounts.dtype.kind != "i"):
        raise DataError(f"points must be integers, got {amounts.dtype} values")
    us = np.asarray(instants, dtype="datetime64[us]").astype(np.int64)
    missing = np.isnat(np.asarray(instants, dtype="datetime64[us]"))
    if missing.any():
        raise DataError(f"expires_at is null at row {int(np.flatnonzero(missing)[0])}")
    lots = np.asarray(np.ma.getdata(amounts), dtype=np.int64)
    nulls = np.ma.getmaskarray(amounts)
    if nulls.any():
        raise DataError(f"points is null at row {int(np.flatnonzero(nulls)[0])}")
    negative = lots < 0
    if negative.any():
        row = int(np.flatnonzero(negative)[0])
        raise DataError(f"points must not be negative; row {row} is {int(lots[row])}")
    return us, lots


def _months(instants_us: IntArray, zone: Any) -> IntArray:
    """Calendar month (months since 1970-01) of each UTC instant on ``zone``'s wall clock."""
    wall = local_us(instants_us, zone).astype("datetime64[us]")
    months: IntArray = wall.astype("datetime64[M]").astype(np.int64)
    return months
