"""Plumbing shared by the plots: lazy matplotlib, the two languages, fonts for Chinese text, new axes.

matplotlib is imported here, inside functions, and only when a plot is drawn: ``import user_ops`` and
``import user_ops.plots`` never import it. Figures are built with the object API
(``matplotlib.figure.Figure``), so no GUI backend and no pyplot state are involved.

A Chinese label needs a font with CJK glyphs. ``lang="zh"`` plots take the first installed family of
[`CJK_FONTS`][] (or of the plot's ``font=`` option), with DejaVu Sans as the fallback for what it
lacks. When none is installed the labels would render as boxes ("tofu"): the plot says so once, with a
[`UserOpsWarning`][] naming the fonts tried and how to install one, and keeps matplotlib's
per-glyph warnings (one per character, each time the figure is drawn) out of the drawing of *those*
axes only. With a CJK font in use nothing is silenced: a glyph that font lacks still warns.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from user_ops._money import _SYMBOLS, CURRENCY_EXPONENTS, Currency
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, UserOpsWarning

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CJK_FONTS",
    "CJK_INSTALL_HINT",
    "INSTALL_HINT",
    "FontChoice",
    "FontOption",
    "Lang",
    "MoneyStyle",
    "check_choice",
    "check_lang",
    "choose_font",
    "colormap",
    "finish",
    "float_column",
    "installed_family",
    "money_style",
    "new_axes",
    "quiet_glyphs",
    "require_matplotlib",
    "word",
]

Lang = Literal["en", "zh"]
#: The ``font=`` option of the plots: a family name or font file, or a sequence of them.
FontOption = str | Sequence[str] | None
FloatArray = npt.NDArray[np.float64]

#: How to install what the plots need (matplotlib): the command the missing-matplotlib error names.
INSTALL_HINT = 'pip install "user_ops[plot]"'
_GLYPH_WARNING = r"Glyph \d+ .*missing from font"
_DRAW_MARK = "_user_ops_draws_within_fonts"
#: The font families ``lang="zh"`` plots try, first installed wins: Noto Sans CJK / Source Han Sans
#: (the same design; Linux packages), WenQuanYi (Linux), PingFang (macOS), Microsoft YaHei and SimHei
#: (Windows). Pass ``font=`` to a plot to try others (family names or font files).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "PingFang SC",
    "Microsoft YaHei",
    "SimHei",
    "Heiti SC",
    "Noto Sans CJK JP",  # older matplotlib reads only the first face of Noto's .ttc: Han glyphs all the same
    "Source Han Sans",
    "Arial Unicode MS",
)
CJK_INSTALL_HINT = (
    "on Debian/Ubuntu `sudo apt install fonts-noto-cjk` (or the smaller fonts-wqy-zenhei), on Fedora "
    "`sudo dnf install google-noto-sans-cjk-fonts`; macOS (PingFang SC) and Windows (Microsoft YaHei) "
    "have one already; or pass font='/path/to/NotoSansSC-Regular.otf'"
)
_FALLBACK_FAMILY = "DejaVu Sans"  # matplotlib's own font: digits, Latin and signs a CJK font may lack
_FONT_FILE_SUFFIXES = (".ttf", ".otf", ".ttc")

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
    "revenue_in": ("Revenue ({unit})", "消费金额（{unit}）"),
    "mean_monetary": ("Mean spend", "平均消费金额"),
    "mean_monetary_in": ("Mean spend ({unit})", "平均消费金额（{unit}）"),
    "revenue_share": ("Share of revenue", "消费金额占比"),
    "from_stage": ("From stage", "原阶段"),
    "to_stage": ("To stage", "新阶段"),
    "from_stage_dated": ("From stage ({date})", "原阶段（{date}）"),
    "to_stage_dated": ("To stage ({date})", "新阶段（{date}）"),
    "transitions": ("Lifecycle transitions", "生命周期阶段迁移"),
    "transitions_dated": (
        "Lifecycle transitions, {before} → {after}",
        "生命周期阶段迁移（{before} → {after}）",
    ),
    "tiers": ("Customers per membership tier", "各会员等级客户数"),
    "tiers_share": ("Share of customers per membership tier", "各会员等级客户占比"),
    "tier": ("Tier", "会员等级"),
    "points": ("Points", "积分"),
    "expiring": ("Points expiring per month ({tz})", "每月到期积分（{tz}）"),
    "month": ("Month", "月份"),
}


def require_matplotlib() -> Any:
    """The ``matplotlib.figure`` module, or a [`ConfigError`][] saying how to install it."""
    try:
        return importlib.import_module("matplotlib.figure")
    except ImportError:
        raise ConfigError(f"user_ops plots need matplotlib, which is not installed: {INSTALL_HINT}") from None


def check_lang(lang: object) -> Lang:
    """``lang`` itself when it is ``"en"`` or ``"zh"``; a [`ConfigError`][] otherwise."""
    if lang == "en" or lang == "zh":
        return lang
    raise ConfigError(f"lang must be 'en' or 'zh', got {lang!r}")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``; a [`ConfigError`][] naming the option otherwise."""
    if isinstance(value, str) and value in choices:
        return value
    raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def word(key: str, lang: Lang, **fields: Any) -> str:
    """A caption of [`_WORDS`][] in ``lang``, formatted with ``fields``."""
    text = _WORDS[key][0 if lang == "en" else 1]
    return text.format(**fields) if fields else text


def colormap(name: str) -> Any:
    """The matplotlib colour map ``name``; a [`ConfigError`][] for an unknown one."""
    from matplotlib import colormaps

    if not isinstance(name, str) or name not in colormaps:
        raise ConfigError(f"cmap must be the name of a matplotlib colour map (e.g. 'Blues'), got {name!r}")
    return colormaps[name]


def float_column(table: Table, name: str, *, what: str) -> FloatArray:
    """A numeric column as float64, nulls as NaN; a [`DataError`][] naming it otherwise."""
    if name not in table:
        raise DataError(f"{what} needs a {name!r} column (it has: {', '.join(table.columns) or 'none'})")
    kind = table.kind(name)
    if kind == "null":
        return np.full(len(table), np.nan)
    if kind not in ("int", "float", "bool"):
        raise DataError(f"column {name!r} of {what} must be numeric, got {kind}")
    values: FloatArray = np.ma.filled(np.ma.asarray(table[name]).astype(np.float64), np.nan)
    return values


_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class MoneyStyle:
    """How the plots write amounts of money: thousands separators, and the currency when it is known
    (``¥12,345``; ``12,345 XTS`` for a currency without a symbol; ``12,345`` for an unknown one)."""

    code: str | None = None
    exponent: int = 2

    def text(self, value: float, *, decimals: int = 0) -> str:
        """``value`` with thousands separators, ``decimals`` decimals and the currency; NaN is blank."""
        if not math.isfinite(value):
            return ""
        number = f"{abs(value):,.{decimals}f}"
        sign = "-" if value < 0 and number.strip("0.,") else ""
        symbol = _SYMBOLS.get(self.code) if self.code is not None else None
        if symbol is not None:
            return f"{sign}{symbol}{number}"
        return f"{sign}{number} {self.code}" if self.code is not None else f"{sign}{number}"

    def label(self, key: str, lang: Lang) -> str:
        """The caption ``key`` with the currency code when known: ``Revenue (CNY)``, ``消费金额（CNY）``."""
        return word(f"{key}_in", lang, unit=self.code) if self.code is not None else word(key, lang)

    def ticks(self) -> Any:
        """A matplotlib tick formatter writing [`text`][]: whole amounts when every tick is whole,
        else the currency's decimals for all ticks (``¥0``, ``¥2.50``, ``¥5.00``, never a mix)."""
        from matplotlib.ticker import Formatter

        style = self

        class MoneyTicks(Formatter):
            def __call__(self, x: float, pos: int | None = None) -> str:
                return style.text(x, decimals=style._decimals([x]))

            def format_ticks(self, values: Any) -> list[str]:
                decimals = style._decimals(values)
                return [style.text(float(v), decimals=decimals) for v in values]

        return MoneyTicks()

    def _decimals(self, values: Any) -> int:
        whole = all(math.isclose(float(v), round(float(v)), abs_tol=1e-9) for v in values)
        return 0 if whole else self.exponent


def money_style(currency: object, *tables: Table | None) -> MoneyStyle:
    """The [`MoneyStyle`][] of the ``currency`` option, else of the ``currency`` column of the tables
    (one code in all their rows), else a style without a currency.
    """
    if currency is not None:
        return MoneyStyle(*_currency_option(currency))
    codes: set[str] = set()
    for table in tables:
        if table is not None and "currency" in table and table.kind("currency") == "str":
            column = np.ma.asarray(table["currency"])
            codes.update(str(code) for code in column.compressed())
    if len(codes) > 1:
        raise DataError(
            f"the amounts are in several currencies ({', '.join(sorted(codes))}): plot one currency at a time"
        )
    if not codes:
        return MoneyStyle()
    code = codes.pop()
    if not _CURRENCY_CODE.match(code):
        raise DataError(f"the 'currency' column must hold three-letter codes like 'CNY', got {code!r}")
    return MoneyStyle(code, CURRENCY_EXPONENTS.get(code, 2))


def _currency_option(currency: object) -> tuple[str, int]:
    if isinstance(currency, Currency):
        return currency.code, currency.exponent
    if isinstance(currency, str) and _CURRENCY_CODE.match(currency):
        return currency, CURRENCY_EXPONENTS.get(currency, 2)
    raise ConfigError(f"currency must be a three-letter code like 'CNY' or a Currency, got {currency!r}")


def new_axes(ax: Axes | None, *, size: tuple[float, float]) -> Axes:
    """``ax``, or the axes of a new ``Figure`` (no pyplot, no backend)."""
    figure = require_matplotlib()
    if ax is None:
        fig = figure.Figure(figsize=size, layout="constrained")
        created: Axes = fig.add_subplot()
        return created
    from matplotlib.axes import Axes as AxesType

    if not isinstance(ax, AxesType):
        raise ConfigError(f"ax must be a matplotlib Axes (or None for a new figure), got {type(ax).__name__}")
    return ax


@contextlib.contextmanager
def quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's "Glyph ... missing from font(s)" warnings inside the block only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_GLYPH_WARNING, category=UserWarning)
        yield


@dataclass(frozen=True)
class FontChoice:
    """The font families a plot's text uses (``None``: matplotlib's default), and whether the drawing
    of its axes should keep quiet about missing glyphs (only after the one warning that said why)."""

    families: list[str] | None
    quiet_glyphs: bool = False

    @contextlib.contextmanager
    def drawing(self) -> Iterator[None]:
        """The context the plot's text is laid out and drawn in: without missing-glyph warnings when
        [`quiet_glyphs`][], and without matplotlib's log line about a weight the chosen family lacks
        (WenQuanYi Zen Hei registers its regular face as weight 500: "Failed to find font weight normal
        for WenQuanYi Zen Hei, now using 500" is expected, not news). Nothing else is silenced.
        """
        with contextlib.ExitStack() as stack:
            if self.quiet_glyphs:
                stack.enter_context(quiet_glyphs())
            if self.families is not None:
                stack.enter_context(_no_weight_notice(self.families[0]))
            yield


def choose_font(font: object, lang: Lang) -> FontChoice:
    """The fonts for a plot in ``lang``; one [`UserOpsWarning`][] when none of the candidates exists.

    ``font`` is ``None`` (Chinese: [`CJK_FONTS`][]; English: matplotlib's default), a family name or
    font file, or a sequence of them (first installed wins).
    """
    candidates = _font_candidates(font)
    if candidates is None:
        if lang == "en":
            return FontChoice(None)
        candidates = CJK_FONTS
    family = installed_family(candidates)
    if family is not None:
        return FontChoice([family, _FALLBACK_FAMILY])
    tried = ", ".join(candidates)
    if lang == "zh":
        message = (
            f"no font with Chinese glyphs is installed (tried: {tried}), so the Chinese labels of this plot "
            f"render as boxes. Install one: {CJK_INSTALL_HINT}"
        )
    else:
        message = f"none of the fonts {tried} is installed: the plot uses matplotlib's default font"
    warnings.warn(message, UserOpsWarning, stacklevel=3)  # 3: the caller of the plot function
    return FontChoice(None, quiet_glyphs=lang == "zh")


def _font_candidates(font: object) -> tuple[str, ...] | None:
    if font is None:
        return None
    names = (font,) if isinstance(font, str) else font
    if not isinstance(names, Sequence) or isinstance(names, bytes) or not names:
        raise ConfigError(f"font must be a font family name, a font file, or a list of them; got {font!r}")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"font names must be non-empty strings, got {name!r} in font={font!r}")
    return tuple(names)


def installed_family(candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` that matplotlib can use: a font file (added to matplotlib's font
    list), or an installed family name (case-insensitive). ``None`` when there is none.

    matplotlib lists the system fonts once and caches the list on disk, so a font installed after that
    is unknown to it; when no candidate is known, the system fonts missing from the list are added (once
    per process) and the candidates looked up again.
    """
    found = _first_usable(candidates)
    if found is None and _add_new_system_fonts():
        found = _first_usable(candidates)
    return found


def _first_usable(candidates: Sequence[str]) -> str | None:
    from matplotlib import font_manager

    installed = {entry.name.lower(): entry.name for entry in font_manager.fontManager.ttflist}
    for candidate in candidates:
        if candidate.lower().endswith(_FONT_FILE_SUFFIXES):
            return _font_file_family(candidate)
        if candidate.lower() in installed:
            return installed[candidate.lower()]
    return None


def _font_file_family(path: str) -> str:
    from matplotlib import font_manager

    if not os.path.isfile(path):
        raise ConfigError(f"font file {path!r} does not exist")
    try:
        font_manager.fontManager.addfont(path)
        family: str = font_manager.get_font(path).family_name
    except (OSError, RuntimeError, ValueError) as error:
        raise ConfigError(f"font file {path!r} is not a font matplotlib can read: {error}") from None
    return family


@functools.cache
def _add_new_system_fonts() -> bool:
    """Add the system fonts matplotlib's cached font list lacks (installed since it was built)."""
    from matplotlib import font_manager

    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    added = False
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # a broken font file: matplotlib skips those too
                continue
            added = True
    return added


def finish(ax: Axes, fonts: FontChoice) -> Axes:
    """Give every text of the axes the chosen fonts (tick labels made later too), and draw the axes in
    [`FontChoice.drawing`][] (it happens later, in the caller's ``savefig``).
    """
    if fonts.families is not None:
        from matplotlib.text import Text

        for text in ax.findobj(Text):
            text.set_fontfamily(fonts.families)
        # matplotlib < 3.8 has no labelfontfamily: the tick labels made so far are set above
        with contextlib.suppress(TypeError, ValueError):
            ax.tick_params(labelfontfamily=fonts.families)
    if fonts.quiet_glyphs or fonts.families is not None:
        _draw_within(ax, fonts)
    return ax


def _draw_within(ax: Any, fonts: FontChoice) -> None:
    """Wrap the methods that lay out and draw ``ax``'s text in ``fonts.drawing()``.

    Figure drawing and constrained layout call these methods on each axes, so an instance attribute
    shadowing them covers every later ``savefig`` of the figure, without a global warnings filter.
    """
    if getattr(ax, _DRAW_MARK, False):
        return
    for name in ("draw", "get_tightbbox"):
        setattr(ax, name, _within(getattr(ax, name), fonts))
    setattr(ax, _DRAW_MARK, True)


def _within(method: Callable[..., Any], fonts: FontChoice) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with fonts.drawing():
            return method(*args, **kwargs)

    return call


class _WeightNotice(logging.Filter):
    """Drops matplotlib's "Failed to find font weight ... for <family>" record for one family."""

    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        notice = str(record.msg).startswith("findfont: Failed to find font weight")
        return not (notice and len(args) >= 2 and args[1] == self.family)


@contextlib.contextmanager
def _no_weight_notice(family: str) -> Iterator[None]:
    logger = logging.getLogger("matplotlib.font_manager")
    notice = _WeightNotice(family)
    logger.addFilter(notice)
    try:
        yield
    finally:
        logger.removeFilter(notice)
