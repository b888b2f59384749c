"""Plumbing shared by the plots: lazy matplotlib, the two languages, quiet CJK text, new axes.

matplotlib is imported here, inside functions, and only when a plot is drawn: ``import user_ops`` and
``import user_ops.plots`` never import it. Figures are built with the object API
(:class:`matplotlib.figure.Figure`), so no GUI backend and no pyplot state are involved.

A Chinese label needs a font with CJK glyphs. When one is installed (Noto Sans CJK, Source Han Sans,
WenQuanYi, SimHei, Microsoft YaHei, PingFang, ...) the plots use it with DejaVu Sans as the fallback.
When none is, the labels render as boxes and matplotlib would warn once per missing glyph, every time
the figure is drawn: those warnings (and only those) are silenced for the axes the plots draw on.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "INSTALL_HINT",
    "Lang",
    "check_choice",
    "check_lang",
    "colormap",
    "finish",
    "float_column",
    "new_axes",
    "quiet_glyphs",
    "require_matplotlib",
    "word",
]

Lang = Literal["en", "zh"]
FloatArray = npt.NDArray[np.float64]

INSTALL_HINT = 'pip install "user_ops[plot]"'
_GLYPH_WARNING = r"Glyph \d+ .*missing from font"
_QUIET_MARK = "_user_ops_quiet_glyphs"
_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Arial Unicode MS",
)

# Axis titles and captions the plots write themselves (data labels come from the data).
_WORDS: dict[str, tuple[str, str]] = {
    "customers": ("Customers", "客户数"),
    "share_of_customers": ("Share of customers", "客户占比"),
    "r_score": ("R score (recency; higher = more recent)", "R 分（最近消费，越高越近）"),
    "f_score": ("F score (frequency)", "F 分（消费频率）"),
    "grid_count": ("Customers by R and F score", "R×F 客户数"),
    "grid_monetary": ("Mean monetary by R and F score", "R×F 平均消费金额"),
    "treemap_count": ("Customers per RFM segment", "RFM 分群客户数"),
    "treemap_revenue": ("Revenue per RFM segment", "RFM 分群消费金额"),
    "top_customers": ("Top customers (share of all)", "头部客户（占全部客户）"),
    "share_of_total": ("Share of total value", "占总价值比例"),
    "equality": ("Equal shares", "完全平均"),
    "pareto_title": ("Pareto (80/20): Gini {gini:.3f}", "二八分析：基尼系数 {gini:.3f}"),
    "pareto_mark": ("top {x:.0%} → {y:.1%}", "前 {x:.0%} → {y:.1%}"),
    "stage_count": ("Customers per lifecycle stage", "各生命周期阶段客户数"),
    "stage_share": ("Share of customers per lifecycle stage", "各生命周期阶段客户占比"),
    "stage_revenue": ("Revenue per lifecycle stage", "各生命周期阶段消费金额"),
    "stage_revenue_share": ("Share of revenue per lifecycle stage", "各生命周期阶段消费金额占比"),
    "revenue": ("Revenue", "消费金额"),
    "revenue_share": ("Share of revenue", "消费金额占比"),
    "from_stage": ("From stage", "原阶段"),
    "to_stage": ("To stage", "新阶段"),
    "transitions": ("Lifecycle transitions", "生命周期阶段迁移"),
    "tiers": ("Customers per membership tier", "各会员等级客户数"),
    "tiers_share": ("Share of customers per membership tier", "各会员等级客户占比"),
    "tier": ("Tier", "会员等级"),
    "points": ("Points", "积分"),
    "expiring": ("Points expiring per month ({tz})", "每月到期积分（{tz}）"),
    "month": ("Month", "月份"),
}


def require_matplotlib() -> Any:
    """The ``matplotlib.figure`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        return importlib.import_module("matplotlib.figure")
    except ImportError:
        raise ConfigError(f"user_ops plots need matplotlib, which is not installed: {INSTALL_HINT}") from None


def check_lang(lang: object) -> Lang:
    """``lang`` itself when it is ``"en"`` or ``"zh"``; a :class:`ConfigError` otherwise."""
    if lang == "en" or lang == "zh":
        return lang
    raise ConfigError(f"lang must be 'en' or 'zh', got {lang!r}")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``; a :class:`ConfigError` naming the option otherwise."""
    if isinstance(value, str) and value in choices:
        return value
    raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def word(key: str, lang: Lang, **fields: Any) -> str:
    """A caption of :data:`_WORDS` in ``lang``, formatted with ``fields``."""
    text = _WORDS[key][0 if lang == "en" else 1]
    return text.format(**fields) if fields else text


def colormap(name: str) -> Any:
    """The matplotlib colour map ``name``; a :class:`ConfigError` for an unknown one."""
    from matplotlib import colormaps

    if not isinstance(name, str) or name not in colormaps:
        raise ConfigError(f"cmap must be the name of a matplotlib colour map (e.g. 'Blues'), got {name!r}")
    return colormaps[name]


def float_column(table: Table, name: str, *, what: str) -> FloatArray:
    """A numeric column as float64, nulls as NaN; a :class:`DataError` naming it otherwise."""
    if name not in table:
        raise DataError(f"{what} needs a {name!r} column (it has: {', '.join(table.columns) or 'none'})")
    kind = table.kind(name)
    if kind == "null":
        return np.full(len(table), np.nan)
    if kind not in ("int", "float", "bool"):
        raise DataError(f"column {name!r} of {what} must be numeric, got {kind}")
    values: FloatArray = np.ma.filled(np.ma.asarray(table[name]).astype(np.float64), np.nan)
    return values


def new_axes(ax: Axes | None, *, size: tuple[float, float]) -> Axes:
    """``ax``, or the axes of a new :class:`~matplotlib.figure.Figure` (no pyplot, no backend)."""
    figure = require_matplotlib()
    if ax is None:
        fig = figure.Figure(figsize=size, layout="constrained")
        created: Axes = fig.add_subplot()
        return created
    from matplotlib.axes import Axes as AxesType

    if not isinstance(ax, AxesType):
        raise ConfigError(f"ax must be a matplotlib Axes (or None for a new figure), got {type(ax).__name__}")
    return ax


@contextmanager
def quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's "Glyph ... missing from font(s)" warnings inside the block only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_GLYPH_WARNING, category=UserWarning)
        yield


@functools.cache
def cjk_family() -> str | None:
    """The first installed font family that has Chinese glyphs, or ``None``."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in _CJK_FAMILIES if family in installed), None)


def finish(ax: Axes, lang: Lang) -> Axes:
    """Route the axes' text to a CJK font when one is installed and Chinese is wanted, and make the
    drawing of these axes quiet about missing glyphs (it happens later, in the caller's ``savefig``).
    """
    family = cjk_family() if lang == "zh" else None
    if family is not None:
        fallback = [family, "DejaVu Sans"]
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for text in texts:
            text.set_fontfamily(fallback)
        try:
            ax.tick_params(labelfontfamily=fallback)
        except (TypeError, ValueError):  # matplotlib < 3.8 has no labelfontfamily: set today's labels
            for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
                label.set_fontfamily(fallback)
    _quiet_drawing(ax)
    return ax


def _quiet_drawing(ax: Any) -> None:
    """Wrap the methods that lay out and draw ``ax``'s text so that missing-glyph warnings stay silent.

    Figure drawing and constrained layout call these methods on each axes, so an instance attribute
    shadowing them covers every later ``savefig`` of the figure, without a global warnings filter.
    """
    if getattr(ax, _QUIET_MARK, False):
        return
    for name in ("draw", "get_tightbbox"):
        setattr(ax, name, _quietly(getattr(ax, name)))
    setattr(ax, _QUIET_MARK, True)


def _quietly(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with quiet_glyphs():
            return method(*args, **kwargs)

    return call
