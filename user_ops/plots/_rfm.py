"""RFM plots: the R×F segment grid, the segment treemap and the Pareto (二八) curve."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError
from user_ops.plots._common import (
    FontChoice,
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
from user_ops.plots._squarify import squarify
from user_ops.rfm import ParetoResult, pareto, segment_summary

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["pareto_curve", "rfm_grid", "segment_treemap"]

_GRID_VALUES = ("count", "monetary")
_TREEMAP_VALUES = ("count", "revenue")
_CAPTION_PAD_PX = 2.0  # a caption keeps this far (in pixels at the figure's dpi) inside its rectangle


def rfm_grid(
    scores: Any,
    metrics: Any = None,
    *,
    value: str = "count",
    lang: Lang = "en",
    annotate: bool = True,
    colorbar: bool = True,
    cmap: str = "Blues",
    currency: Any = None,
    font: FontOption = None,
    ax: Axes | None = None,
) -> Axes:
    """The R×F segment grid: a heatmap of customers (or their mean spend) per R and F score.

    Columns are R scores (right = more recent), rows F scores (up = more frequent); customers without
    a purchase (null scores) are left out. The scale is the model's (``scores.model.levels``) when the
    scores carry it, else the highest score found.

    Parameters
    ----------
    scores:
        The result of [`user_ops.rfm.RFMModel.score`][], or any table with int ``r`` and ``f``.
    metrics:
        The scored metrics, row for row: needed for ``value="monetary"`` (its monetary column is the
        model's ``monetary_column``, else ``monetary``).
    value:
        ``"count"`` (customers per cell) or ``"monetary"`` (their mean spend; empty cells are blank).
    lang:
        ``"en"`` or ``"zh"``: the language of the titles.
    annotate:
        Write each cell's number in it.
    colorbar:
        Add a colour bar next to the axes.
    cmap:
        A matplotlib colour map name.
    currency:
        With ``value="monetary"``: the currency of the amounts (a code such as ``"CNY"`` or a
        [`Currency`][]), written on the colour bar and the cells (``¥1,234``). Default: the
        ``currency`` column of ``metrics`` when it has one, else amounts without a currency.
    font:
        Font family name(s) or font file(s) to write with, first installed wins (default: for
        ``lang="zh"`` the first installed of [`CJK_FONTS`][]; see ``docs/plots.md``).
    ax:
        The matplotlib axes to draw on (default: a new ``Figure``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; ``ax.images[0].get_array()`` holds the grid (``F levels × R levels``).

    Raises
    ------
    DataError
        For missing columns, scores outside the scale, or metrics of another length.
    ConfigError
        For an unknown ``value`` or ``lang``, or ``value="monetary"`` without ``metrics``.

    Examples
    --------
    >>> from user_ops.rfm import RFMModel
    >>> metrics = {"recency_days": [3, 3, 100, None], "frequency": [5, 1, 1, 0],
    ...            "monetary": [900.0, 50.0, 70.0, 0.0]}
    >>> scores = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500]).score(metrics)
    >>> ax = rfm_grid(scores)
    >>> ax.images[0].get_array().tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    >>> rfm_grid(scores, metrics, value="monetary").images[0].get_array().tolist()
    [[70.0, 50.0], [None, 900.0]]
    """
    language = check_lang(lang)
    kind = check_choice("value", value, _GRID_VALUES)
    table = Table.coerce(scores)
    model = getattr(scores, "model", None)
    money = money_style(currency)  # checked whatever the value; the metrics' currency below
    r, f = _scores(table, "r"), _scores(table, "f")
    scored = ~(np.isnan(r) | np.isnan(f))
    r_levels = _levels(model, "recency", r[scored])
    f_levels = _levels(model, "frequency", f[scored])
    _check_scale(r[scored], r_levels, "r")
    _check_scale(f[scored], f_levels, "f")
    cell = ((f[scored] - 1) * r_levels + (r[scored] - 1)).astype(np.intp)
    counts = np.bincount(cell, minlength=r_levels * f_levels).astype(np.float64)
    if kind == "count":
        grid = counts
    else:
        data = _metrics_table(metrics, len(table))
        money = money_style(currency, data)
        spend = _monetary(data, model)[scored]
        present = ~np.isnan(spend)
        sums = np.bincount(cell[present], weights=spend[present], minlength=r_levels * f_levels)
        seen = np.bincount(cell[present], minlength=r_levels * f_levels)
        with np.errstate(invalid="ignore", divide="ignore"):
            grid = np.where(seen > 0, sums / np.maximum(seen, 1), np.nan)
    values = np.ma.masked_invalid(grid.reshape(f_levels, r_levels))
    fonts = choose_font(font, language)
    axes = new_axes(ax, size=(5.5, 4.5))
    image = axes.imshow(values, origin="lower", cmap=colormap(cmap), aspect="auto")
    axes.set_xticks(range(r_levels), [str(i) for i in range(1, r_levels + 1)])
    axes.set_yticks(range(f_levels), [str(i) for i in range(1, f_levels + 1)])
    axes.set_xlabel(word("r_score", language))
    axes.set_ylabel(word("f_score", language))
    axes.set_title(word(f"grid_{kind}", language))
    if annotate:
        _annotate_cells(axes, values, money=None if kind == "count" else money)
    if colorbar:
        bar = axes.figure.colorbar(image, ax=axes)
        if kind == "count":
            bar.set_label(word("customers", language))
        else:
            bar.formatter = money.ticks()
            bar.set_label(money.label("mean_monetary", language))
        finish(bar.ax, fonts)
    return finish(axes, fonts)


def _scores(table: Table, name: str) -> Any:
    if name not in table:
        raise DataError(
            f"the RFM grid needs a {name!r} score column (the output of RFMModel.score); "
            f"got {', '.join(table.columns) or 'no columns'}"
        )
    if table.kind(name) not in ("int", "null"):
        raise DataError(f"the {name!r} scores must be integers, got {table.kind(name)}")
    return float_column(table, name, what="the RFM grid")


def _levels(model: Any, dimension: str, found: Any) -> int:
    if model is not None:
        return int(model.levels[dimension])
    return max(int(found.max()), 1) if found.size else 1


def _check_scale(found: Any, levels: int, name: str) -> None:
    outside = (found < 1) | (found > levels)
    if outside.any():
        raise DataError(f"{name!r} score {int(found[outside][0])} is outside the scale 1..{levels}")


def _metrics_table(metrics: Any, rows: int) -> Table:
    if metrics is None:
        raise ConfigError("value='monetary' needs the scored metrics: rfm_grid(scores, metrics, ...)")
    data = Table.coerce(metrics)
    if len(data) != rows:
        raise DataError(f"metrics have {len(data)} rows but the scores {rows}: pass the scored table")
    return data


def _monetary(data: Table, model: Any) -> Any:
    return float_column(data, getattr(model, "monetary_column", "monetary"), what="the RFM grid")


def _annotate_cells(axes: Axes, values: np.ma.MaskedArray[Any, Any], *, money: MoneyStyle | None) -> None:
    """Each cell's number in it: a count, or an amount of money (``money``)."""
    finite = values.compressed()
    middle = (float(finite.min()) + float(finite.max())) / 2 if finite.size else 0.0
    for (row, column), number in np.ndenumerate(values.filled(np.nan)):
        if np.isnan(number):
            continue
        text = f"{int(number):,}" if money is None else money.text(float(number))
        color = "white" if number > middle else "black"
        axes.text(column, row, text, ha="center", va="center", fontsize=8, color=color)


def segment_treemap(
    data: Any,
    metrics: Any = None,
    *,
    value: str = "count",
    lang: Lang = "en",
    cmap: str = "tab20",
    currency: Any = None,
    font: FontOption = None,
    ax: Axes | None = None,
) -> Axes:
    """A treemap of the RFM segments: one rectangle per segment, its area proportional to its size.

    The rectangles tile the unit square of the axes (see [`squarify`][]); segments with a zero or
    negative value are left out (they have no area). Each rectangle is captioned with its label and
    value when they fit inside it, measured with the renderer at the figure's size; otherwise with the
    label alone, or the label shortened (``Champ…``), or nothing, and the legend under the axes then
    lists that segment with its full label, value and colour. No caption crosses its rectangle's edge.

    Parameters
    ----------
    data:
        A [`user_ops.rfm.segment_summary`][] table, or the scores of [`RFMModel.score`][] (their
        summary is computed, with ``metrics``).
    metrics:
        The scored metrics (only with scores): gives each segment's revenue.
    value:
        ``"count"`` (customers) or ``"revenue"`` (needs a summary with revenue).
    lang:
        ``"en"`` or ``"zh"``: segment labels from ``label_en`` / ``label_zh``, and the title.
    cmap:
        A qualitative matplotlib colour map name.
    currency:
        With ``value="revenue"``: the currency of the amounts (a code such as ``"CNY"`` or a
        [`Currency`][]), written as ``¥12,345``. Default: the ``currency`` column of the
        summary or the metrics when one has it, else amounts without a currency.
    font:
        Font family name(s) or font file(s), first installed wins (default: for ``lang="zh"`` the first
        installed of [`CJK_FONTS`][]).
    ax:
        The matplotlib axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; ``ax.patches`` are the segment rectangles, in summary order, each labelled with
        its segment code (``patch.get_gid()``); ``ax.texts`` their captions (gid ``caption:<code>``,
        hidden when nothing fits); ``ax.get_legend()`` the segments not fully captioned, or ``None``.

    Raises
    ------
    DataError
        For a table that is neither a summary nor scores, or when no segment has a positive value.
    ConfigError
        For an unknown ``value`` or ``lang``, or ``value="revenue"`` without revenue.

    Examples
    --------
    >>> summary = {"segment": ["a", "b", "c"], "label_en": ["A", "B", "C"], "label_zh": ["甲", "乙", "丙"],
    ...            "count": [50, 25, 25]}
    >>> ax = segment_treemap(summary)
    >>> [(p.get_gid(), p.get_width() * p.get_height()) for p in ax.patches]
    [('a', 0.5), ('b', 0.25), ('c', 0.25)]
    >>> [text.get_text().splitlines() for text in ax.texts]
    [['A', '50'], ['B', '25'], ['C', '25']]
    """
    language = check_lang(lang)
    kind = check_choice("value", value, _TREEMAP_VALUES)
    summary = _segment_summary(data, metrics)
    if kind not in summary:
        raise ConfigError(
            "value='revenue' needs revenue per segment: pass the scored metrics, "
            "segment_treemap(scores, metrics, value='revenue')"
        )
    sizes = float_column(summary, kind, what="the segment treemap")
    keep = np.isfinite(sizes) & (sizes > 0)
    if not keep.any():
        raise DataError(f"nothing to draw: no segment has a positive {kind}")
    # the data's currency matters to revenue only; a bad currency option is an error either way
    money = (
        money_style(currency, summary, _table_or_none(metrics))
        if kind == "revenue"
        else money_style(currency)
    )
    codes = [str(code) for code in np.asarray(summary["segment"])[keep]]
    label_column = f"label_{language}"
    labels = [str(v) for v in np.asarray(summary[label_column])[keep]] if label_column in summary else codes
    shown = sizes[keep]
    numbers = [money.text(float(size)) if kind == "revenue" else f"{size:,.0f}" for size in shown]
    fonts = choose_font(font, language)
    from matplotlib.patches import Rectangle

    colors = colormap(cmap)
    axes = new_axes(ax, size=(7.0, 5.0))
    cells: list[_Cell] = []
    for index, ((x, y, w, h), code, label, number) in enumerate(
        zip(squarify(shown), codes, labels, numbers, strict=True)
    ):
        color = colors(index % colors.N)
        patch = Rectangle((x, y), w, h, facecolor=color, edgecolor="white", linewidth=1.5, gid=code)
        axes.add_patch(patch)
        caption = axes.text(
            x + w / 2, y + h / 2, "", ha="center", va="center", fontsize=8, gid=f"caption:{code}"
        )
        caption.set_in_layout(False)  # inside the axes by construction: no say in the layout
        cells.append(_Cell(patch, caption, label, number, color))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_axis_off()
    axes.set_title(word(f"treemap_{kind}", language))
    finish(axes, fonts)  # the captions are measured in the fonts they will be drawn with
    with fonts.drawing():
        _fit_captions(axes, cells, fonts)
    return finish(axes, fonts)


class _Cell:
    """A treemap rectangle, its caption artist, and what the caption would say in full."""

    __slots__ = ("caption", "color", "label", "number", "patch")

    def __init__(self, patch: Any, caption: Any, label: str, number: str, color: Any) -> None:
        self.patch, self.caption, self.label, self.number, self.color = patch, caption, label, number, color

    def forms(self) -> list[str]:
        """The captions to try, longest first: label and value, label, label cut short, nothing."""
        cut = [self.label[:n].rstrip() + "…" for n in range(len(self.label) - 1, 0, -1)]
        return [f"{self.label}\n{self.number}", self.label, *cut, ""]


def _fit_captions(axes: Axes, cells: list[_Cell], fonts: FontChoice) -> None:
    """Give each rectangle the longest caption that fits inside it, and list in a legend the segments
    whose caption is not complete.

    The legend takes room from the axes (with a layout engine), which shrinks the rectangles, so the
    captions are fitted again until no caption joins the legend: a caption only ever gets shorter, so
    the legend only grows, and it settles within one round per cell (in practice two or three).
    """
    figure: Any = axes.figure.figure  # the root figure, also when the axes are in a subfigure
    shortened: set[int] = set()
    start = [0] * len(cells)  # the longest form still allowed, per cell
    for _ in range(len(cells) + 1):
        figure.draw_without_rendering()  # lays the figure out: the axes and its rectangles get their size
        for i, cell in enumerate(cells):
            start[i] = _longest_fitting(cell, start[i])
        now = {i for i, first in enumerate(start) if first > 0}
        if now == shortened:
            break
        shortened = now
        _legend(axes, [cells[i] for i in sorted(shortened)], fonts)


def _longest_fitting(cell: _Cell, first: int) -> int:
    """Set the cell's caption to its longest form (from ``first`` on) that fits; returns its index."""
    forms = cell.forms()
    room = cell.patch.get_window_extent().padded(-_CAPTION_PAD_PX)
    for index in range(first, len(forms)):
        cell.caption.set_text(forms[index])
        if not forms[index]:
            cell.caption.set_visible(False)
            return index
        box = cell.caption.get_window_extent()
        if room.width > 0 and room.height > 0 and _inside(box, room):
            cell.caption.set_visible(True)
            return index
    return len(forms) - 1


def _inside(box: Any, room: Any) -> bool:
    return bool(box.x0 >= room.x0 and box.x1 <= room.x1 and box.y0 >= room.y0 and box.y1 <= room.y1)


def _legend(axes: Axes, cells: list[_Cell], fonts: FontChoice) -> None:
    """The legend under the axes, one entry per segment without its full caption (none: no legend)."""
    old = axes.get_legend()
    if old is not None:
        old.remove()
    if not cells:
        return
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=cell.color, label=f"{cell.label}  {cell.number}") for cell in cells]
    # below the axes: it takes height, not the width a long label would take from every rectangle
    axes.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.01),
        ncols=2 if len(handles) > 3 else 1,
        fontsize=7,
        frameon=False,
        borderaxespad=0.0,
    )
    finish(axes, fonts)


def _table_or_none(data: Any) -> Table | None:
    return None if data is None else Table.coerce(data)


def _segment_summary(data: Any, metrics: Any) -> Table:
    table = Table.coerce(data)
    if "count" in table and "segment" in table:
        return table
    if "segment" in table:
        return segment_summary(data, metrics)
    raise DataError(
        "segment_treemap takes a segment_summary table or RFM scores (a 'segment' column); "
        f"got {', '.join(table.columns) or 'no columns'}"
    )


def pareto_curve(
    result: Any,
    *,
    mark: float = 0.2,
    lang: Lang = "en",
    font: FontOption = None,
    ax: Axes | None = None,
) -> Axes:
    """The concentration (Pareto) curve with the 80/20 marker: the share the top customers bring.

    Parameters
    ----------
    result:
        A [`user_ops.rfm.ParetoResult`][] (from [`user_ops.rfm.pareto`][]), or per-customer
        values to pass to it.
    mark:
        The fraction of customers to mark (0 < mark <= 1; default the 20 % of 二八). Its share is
        ``result.top_share[mark]`` when reported, else read off the curve.
    lang:
        ``"en"`` or ``"zh"``.
    font:
        Font family name(s) or font file(s), first installed wins (default: for ``lang="zh"`` the first
        installed of [`CJK_FONTS`][]).
    ax:
        The matplotlib axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; its lines have gids ``"curve"`` (``result.curve_x`` → ``result.curve_y``),
        ``"equality"`` (the diagonal) and ``"mark"`` (the point ``(mark, share)``).

    Raises
    ------
    ConfigError
        For ``mark`` outside (0, 1] or an unknown ``lang``.
    DataError
        For values [`pareto`][] rejects.

    Examples
    --------
    >>> from user_ops.rfm import pareto
    >>> ax = pareto_curve(pareto([0.0, 0.0, 0.0, 0.0, 100.0]))
    >>> marker = next(line for line in ax.lines if line.get_gid() == "mark")
    >>> marker.get_xdata().tolist(), marker.get_ydata().tolist()
    ([0.2], [1.0])
    """
    language = check_lang(lang)
    if not isinstance(mark, (int, float)) or isinstance(mark, bool) or not 0 < mark <= 1:
        raise ConfigError(f"mark must be a fraction of customers in (0, 1], got {mark!r}")
    figures = result if isinstance(result, ParetoResult) else pareto(result)
    share = figures.top_share.get(mark)
    if share is None:
        share = float(np.interp(mark, figures.curve_x, figures.curve_y))
    from matplotlib.ticker import PercentFormatter

    fonts = choose_font(font, language)
    axes = new_axes(ax, size=(5.5, 4.5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="0.6", label=word("equality", language), gid="equality")
    axes.plot(figures.curve_x, figures.curve_y, color="#d62728", linewidth=2, gid="curve")
    axes.plot([mark, mark, 0], [0, share, share], linestyle=":", color="0.3", gid="guide")
    axes.plot([mark], [share], marker="o", color="#d62728", gid="mark")
    axes.annotate(
        word("pareto_mark", language, x=mark, y=share),
        xy=(mark, share),
        xytext=(mark + 0.08, max(share - 0.15, 0.05)),
        arrowprops={"arrowstyle": "->", "color": "0.3"},
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.xaxis.set_major_formatter(PercentFormatter(xmax=1))
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    axes.set_xlabel(word("top_customers", language))
    axes.set_ylabel(word("share_of_total", language))
    axes.set_title(word("pareto_title", language, gini=figures.gini))
    axes.legend(loc="lower right")
    return finish(axes, fonts)
