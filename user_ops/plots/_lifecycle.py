"""Lifecycle plots: customers (or revenue) per stage, and the flows between two snapshots."""

from __future__ import annotations

import warnings
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from user_ops._table import Table
from user_ops._time import require_aware
from user_ops.exceptions import ConfigError, DataError
from user_ops.lifecycle import Transitions, stage_summary
from user_ops.plots._common import (
    FontOption,
    Lang,
    MoneyStyle,
    check_choice,
    check_lang,
    choose_font,
    colormap,
    finish,
    float_column,
    money_style,
    new_axes,
    word,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["stage_bars", "transition_flows"]

_STAGE_VALUES = ("count", "share", "revenue", "revenue_share")
_FLOW_KINDS = ("matrix", "bands")
_NODE_WIDTH = 0.05  # of the band chart's unit width
_NODE_GAP = 0.02  # of its unit height, between two nodes of a column
_CURVE_POINTS = 40


def stage_bars(
    summary: Any,
    metrics: Any = None,
    *,
    value: str = "count",
    lang: Lang = "en",
    hide_empty: bool = False,
    cmap: str = "viridis",
    currency: Any = None,
    font: FontOption = None,
    ax: Axes | None = None,
    skip_empty: bool | None = None,
) -> Axes:
    """Bars of customers (or revenue) per lifecycle stage, in lifecycle order.

    The order is the summary's: [`stage_summary`][] lists stages in the policy's
    lifecycle order ([`LifecyclePolicy.lifecycle_codes`][]: prospect, introduction, growth, ... for
    the default policy), not the order its rules are tried in.

    Parameters
    ----------
    summary:
        A [`user_ops.lifecycle.stage_summary`][] table, or the stages of
        [`LifecyclePolicy.classify`][] (summarised here, with ``metrics``).
    metrics:
        The classified metrics (only with stages): gives revenue per stage.
    value:
        ``"count"``, ``"share"``, ``"revenue"`` or ``"revenue_share"`` (the last two need revenue).
    lang:
        ``"en"`` or ``"zh"``: stage labels from ``label_en`` / ``label_zh``, and the titles.
    hide_empty:
        Leave out stages without customers.
    skip_empty:
        Deprecated name of ``hide_empty`` (warns; removed in the next release).
    cmap:
        A matplotlib colour map name (stages take evenly spaced colours in order).
    currency:
        For revenue: the currency of the amounts (a code such as ``"CNY"`` or a
        [`Currency`][]), on the axis label (``Revenue (CNY)``), the ticks and the bars
        (``¥12,345``). Default: the ``currency`` column of the summary or the metrics when one has it,
        else amounts with thousands separators and no currency.
    font:
        Font family name(s) or font file(s), first installed wins (default: for ``lang="zh"`` the first
        installed of [`CJK_FONTS`][]).
    ax:
        The matplotlib axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; ``ax.patches`` are the bars, in stage order, each with its stage code as gid.

    Raises
    ------
    DataError
        For a table that is neither a summary nor stages.
    ConfigError
        For an unknown ``value`` or ``lang``, or revenue asked without revenue in the summary.

    Examples
    --------
    >>> summary = {"stage": ["fresh", "quiet", "lost"], "label_en": ["Fresh", "Quiet", "Lost"],
    ...            "label_zh": ["新", "静", "失"], "count": [3, 0, 1], "revenue": [1200.0, 0.0, 80.0]}
    >>> [(bar.get_gid(), float(bar.get_height())) for bar in stage_bars(summary).patches]
    [('fresh', 3.0), ('quiet', 0.0), ('lost', 1.0)]
    >>> ax = stage_bars(summary, value="revenue", currency="CNY", hide_empty=True)
    >>> [bar.get_gid() for bar in ax.patches], ax.get_ylabel()
    (['fresh', 'lost'], 'Revenue (CNY)')
    """
    language = check_lang(lang)
    kind = check_choice("value", value, _STAGE_VALUES)
    table = _stage_summary(summary, metrics)
    if kind not in table:
        raise ConfigError(
            f"value={kind!r} needs revenue per stage: pass the classified metrics, "
            f"stage_bars(stages, metrics, value={kind!r})"
        )
    heights = float_column(table, kind, what="the stage bars")
    # the data's currency matters to revenue only (a count of mixed-currency customers is fine)
    money = (
        money_style(currency, table, _table_or_none(metrics)) if kind == "revenue" else money_style(currency)
    )
    codes = [str(code) for code in np.asarray(table["stage"])]
    label_column = f"label_{language}"
    labels = [str(v) for v in np.asarray(table[label_column])] if label_column in table else list(codes)
    keep = np.ones(len(codes), dtype=bool)
    if _renamed_hide_empty(skip_empty, hide_empty, where="stage_bars"):
        keep = float_column(table, "count", what="the stage bars") > 0
    palette = colormap(cmap)(np.linspace(0.1, 0.9, max(len(codes), 1)))
    positions = np.flatnonzero(keep)
    fonts = choose_font(font, language)
    axes = new_axes(ax, size=(7.0, 4.0))
    bars = axes.bar(range(len(positions)), heights[positions], color=palette[positions])
    for bar, row in zip(bars, positions.tolist(), strict=True):
        bar.set_gid(codes[row])
    axes.bar_label(bars, labels=[_number(heights[row], kind, money) for row in positions], fontsize=8)
    axes.set_xticks(range(len(positions)), [labels[row] for row in positions], rotation=30, ha="right")
    axes.set_ylabel(_axis_label(kind, language, money))
    axes.set_title(word(f"stage_{kind}", language))
    if kind in ("share", "revenue_share"):
        from matplotlib.ticker import PercentFormatter

        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    elif kind == "revenue":
        axes.yaxis.set_major_formatter(money.ticks())
    return finish(axes, fonts)


def _axis_label(kind: str, lang: Lang, money: MoneyStyle) -> str:
    if kind == "count":
        return word("customers", lang)
    if kind == "share":
        return word("share_of_customers", lang)
    return money.label("revenue", lang) if kind == "revenue" else word("revenue_share", lang)


def _number(value: float, kind: str, money: MoneyStyle) -> str:
    if np.isnan(value):
        return ""
    if kind in ("share", "revenue_share"):
        return f"{value:.1%}"
    return money.text(value) if kind == "revenue" else f"{value:,.0f}"


def _table_or_none(data: Any) -> Table | None:
    return None if data is None else Table.coerce(data)


def _stage_summary(data: Any, metrics: Any) -> Table:
    table = Table.coerce(data)
    if "count" in table and "stage" in table:
        return table
    if "stage" in table:
        return stage_summary(data, metrics)
    raise DataError(
        "stage_bars takes a stage_summary table or classified stages (a 'stage' column); "
        f"got {', '.join(table.columns) or 'no columns'}"
    )


def transition_flows(
    moves: Transitions,
    *,
    kind: str = "matrix",
    lang: Lang = "en",
    dates: tuple[date, date] | None = None,
    hide_empty: bool = True,
    cmap: str = "Purples",
    font: FontOption = None,
    ax: Axes | None = None,
    skip_empty: bool | None = None,
) -> Axes:
    """The migration between two lifecycle snapshots: a from → to matrix, or bands between stages.

    Stages are in the lifecycle order of ``moves`` (see [`user_ops.lifecycle.transitions`][]). The
    chart says which side is which — rows (or the left stack) are the stages *from*, columns (or the
    right stack) the stages *to* — and, with ``dates``, the date of each snapshot, in the title and on
    both sides.

    Parameters
    ----------
    moves:
        The result of [`user_ops.lifecycle.transitions`][] (with its ``new`` and ``gone``).
    kind:
        ``"matrix"``: a heatmap of ``moves.counts`` (rows: from, columns: to). ``"bands"``: a
        Sankey-like chart, the earlier stages on the left, the later on the right, one band per
        non-zero flow, its thickness proportional to the customers who moved.
    lang:
        ``"en"`` or ``"zh"``: stage labels from ``moves.labels``, and the titles.
    dates:
        ``(before, after)``: the ``as_of`` of the two snapshots, as dates or aware datetimes (shown
        as ``2024-06-30``, with the time when it is not midnight).
    hide_empty:
        Leave out states without customers (rows and columns of zeros).
    skip_empty:
        Deprecated name of ``hide_empty`` (warns; removed in the next release).
    cmap:
        A matplotlib colour map name.
    font:
        Font family name(s) or font file(s), first installed wins (default: for ``lang="zh"`` the first
        installed of [`CJK_FONTS`][]).
    ax:
        The matplotlib axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        For ``"matrix"``, ``ax.images[0].get_array()`` holds the counts shown. For ``"bands"``, each
        band is a polygon patch with gid ``"<source>-><target>"``; a band's vertical thickness is
        ``count / moves.total`` of the height left after the gaps between stages; the texts with gids
        ``"from"`` and ``"to"`` head the two stacks.

    Raises
    ------
    ConfigError
        For ``moves`` that are not a [`Transitions`][], an unknown ``kind``
        or ``lang``, or ``dates`` that are not two dates in order.
    DataError
        When there is no customer to draw, or for a naive datetime in ``dates``.

    Examples
    --------
    >>> from datetime import date
    >>> from user_ops.lifecycle import LifecyclePolicy, transitions
    >>> before = {"customer_id": [1, 2, 3], "stage": ["introduction", "growth", "growth"]}
    >>> after = {"customer_id": [2, 3, 4], "stage": ["maturity", "growth", "introduction"]}
    >>> moves = transitions(before, after, policy=LifecyclePolicy.default())
    >>> ax = transition_flows(moves, dates=(date(2024, 3, 31), date(2024, 6, 30)))
    >>> ax.images[0].get_array().tolist()
    [[0, 0, 0, 1], [0, 1, 1, 0], [1, 0, 0, 0]]
    >>> ax.get_title(), ax.get_ylabel(), ax.get_xlabel()
    ('Lifecycle transitions, 2024-03-31 → 2024-06-30', 'From stage (2024-03-31)', 'To stage (2024-06-30)')
    >>> sorted(p.get_gid() for p in transition_flows(moves, kind="bands").patches if p.get_gid())
    ['growth->growth', 'growth->maturity', 'introduction->gone', 'new->introduction']
    """
    language = check_lang(lang)
    chart = check_choice("kind", kind, _FLOW_KINDS)
    if not isinstance(moves, Transitions):
        raise ConfigError(
            "transition_flows takes the result of user_ops.lifecycle.transitions(before, after), "
            f"got {type(moves).__name__}"
        )
    when = _snapshot_dates(dates)
    if moves.total == 0:
        raise DataError("nothing to draw: neither snapshot has a customer")
    rows = np.arange(len(moves.sources))
    columns = np.arange(len(moves.targets))
    if _renamed_hide_empty(skip_empty, hide_empty, where="transition_flows"):
        rows = np.flatnonzero(moves.counts.sum(axis=1) > 0)
        columns = np.flatnonzero(moves.counts.sum(axis=0) > 0)
    counts = moves.counts[np.ix_(rows, columns)]
    side = 0 if language == "en" else 1
    sources = [moves.sources[i] for i in rows.tolist()]
    targets = [moves.targets[j] for j in columns.tolist()]
    source_labels = [moves.labels.get(code, (code, code))[side] for code in sources]
    target_labels = [moves.labels.get(code, (code, code))[side] for code in targets]
    heads = (_side_caption("from_stage", language, when, 0), _side_caption("to_stage", language, when, 1))
    fonts = choose_font(font, language)
    if chart == "matrix":
        axes = new_axes(ax, size=(6.5, 5.0))
        _matrix(axes, counts, source_labels, target_labels, cmap, heads)
    else:
        axes = new_axes(ax, size=(7.0, 5.0))
        _bands(axes, counts, sources, targets, source_labels, target_labels, cmap, heads)
    title = word("transitions", language)
    if when is not None:
        title = word("transitions_dated", language, before=when[0], after=when[1])
    axes.set_title(title)
    return finish(axes, fonts)


def _snapshot_dates(dates: object) -> tuple[str, str] | None:
    """The two snapshot dates as text, checked: two dates or aware datetimes, the earlier first."""
    if dates is None:
        return None
    if not isinstance(dates, (tuple, list)) or len(dates) != 2:
        raise ConfigError(f"dates must be (before, after): the as_of of the two snapshots; got {dates!r}")
    for value in dates:
        if not isinstance(value, date):
            raise ConfigError(f"dates must be dates or aware datetimes, got {value!r}")
        if isinstance(value, datetime):
            require_aware(value, name="dates")
    before, after = dates
    if _day_and_time(before) > _day_and_time(after):
        raise ConfigError(f"dates must be (before, after) in order, got {before} after {after}")
    return _date_text(before), _date_text(after)


def _day_and_time(value: date) -> tuple[date, time]:
    if isinstance(value, datetime):
        return value.date(), value.timetz().replace(tzinfo=None)
    return value, time()


def _date_text(value: date) -> str:
    if isinstance(value, datetime):
        return value.strftime(
            "%Y-%m-%d" if value.timetz().replace(tzinfo=None) == time() else "%Y-%m-%d %H:%M"
        )
    return value.isoformat()


def _side_caption(key: str, lang: Lang, when: tuple[str, str] | None, side: int) -> str:
    return word(key, lang) if when is None else word(f"{key}_dated", lang, date=when[side])


def _matrix(
    axes: Axes,
    counts: npt.NDArray[np.int64],
    source_labels: list[str],
    target_labels: list[str],
    cmap: str,
    heads: tuple[str, str],
) -> None:
    axes.imshow(counts, cmap=colormap(cmap), aspect="auto")
    axes.set_xticks(range(len(target_labels)), target_labels, rotation=30, ha="right")
    axes.set_yticks(range(len(source_labels)), source_labels)
    axes.set_xlabel(heads[1])
    axes.set_ylabel(heads[0])
    middle = float(counts.max()) / 2
    for (row, column), number in np.ndenumerate(counts):
        color = "white" if number > middle else "black"
        axes.text(column, row, f"{int(number):,}", ha="center", va="center", fontsize=8, color=color)


def _bands(
    axes: Axes,
    counts: npt.NDArray[np.int64],
    sources: list[str],
    targets: list[str],
    source_labels: list[str],
    target_labels: list[str],
    cmap: str,
    heads: tuple[str, str],
) -> None:
    """Stages as stacked bars at both sides (top to bottom in order), flows as smooth bands, and the
    two sides headed "from" and "to"."""
    from matplotlib.patches import Polygon, Rectangle

    total = float(counts.sum())
    gaps = max(len(sources), len(targets)) - 1
    scale = (1.0 - _NODE_GAP * gaps) / total  # height per customer, the same on both sides
    left_tops = _node_tops(counts.sum(axis=1), scale)
    right_tops = _node_tops(counts.sum(axis=0), scale)
    palette = colormap(cmap)(np.linspace(0.35, 0.95, max(len(sources), 1)))
    for i, top in enumerate(left_tops):
        height = float(counts[i].sum()) * scale
        axes.add_patch(Rectangle((0, top - height), _NODE_WIDTH, height, color=palette[i]))
        axes.text(
            -0.01, top - height / 2, f"{source_labels[i]} {int(counts[i].sum()):,}", ha="right", va="center"
        )
    for j, top in enumerate(right_tops):
        height = float(counts[:, j].sum()) * scale
        axes.add_patch(Rectangle((1 - _NODE_WIDTH, top - height), _NODE_WIDTH, height, color="0.55"))
        label = f"{target_labels[j]} {int(counts[:, j].sum()):,}"
        axes.text(1.01, top - height / 2, label, ha="left", va="center")
    left_used = np.zeros(len(sources))
    right_used = np.zeros(len(targets))
    t = np.linspace(0.0, 1.0, _CURVE_POINTS)
    ease = t * t * (3 - 2 * t)  # smoothstep: flat at both ends, so bands leave the nodes level
    x = _NODE_WIDTH + (1 - 2 * _NODE_WIDTH) * t
    for i, j in zip(*np.nonzero(counts), strict=True):
        thickness = float(counts[i, j]) * scale
        start = left_tops[i] - left_used[i]
        end = right_tops[j] - right_used[j]
        left_used[i] += thickness
        right_used[j] += thickness
        upper = start + (end - start) * ease
        outline = np.column_stack(
            [np.concatenate([x, x[::-1]]), np.concatenate([upper, (upper - thickness)[::-1]])]
        )
        band = Polygon(outline, closed=True, color=palette[i], alpha=0.45, linewidth=0)
        band.set_gid(f"{sources[i]}->{targets[j]}")
        axes.add_patch(band)
    for middle, head, gid in ((_NODE_WIDTH / 2, heads[0], "from"), (1 - _NODE_WIDTH / 2, heads[1], "to")):
        axes.text(middle, 1.02, head, ha="center", va="bottom", fontweight="bold", gid=gid)
    axes.set_xlim(-0.35, 1.35)
    axes.set_ylim(0, 1.08)
    axes.set_axis_off()


def _node_tops(sizes: npt.NDArray[np.int64], scale: float) -> list[float]:
    """Top edge of each node of a column stacked from the top of the unit height, gaps between."""
    tops: list[float] = []
    top = 1.0
    for size in sizes.tolist():
        tops.append(top)
        top -= size * scale + _NODE_GAP
    return tops


def _renamed_hide_empty(skip_empty: bool | None, hide_empty: bool, *, where: str) -> bool:
    """``skip_empty`` is the old name of ``hide_empty``: it works for one more release, with a warning."""
    if skip_empty is None:
        return hide_empty
    warnings.warn(
        f"{where}(skip_empty=...) is deprecated; use hide_empty=... (same meaning)",
        DeprecationWarning,
        stacklevel=3,
    )
    return skip_empty
