"""user_ops.plots: every plot renders to a PNG of the expected size and shows exactly its input data."""

from __future__ import annotations

import itertools
import math
import os
import re
import subprocess
import sys
import warnings
from datetime import date, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from matplotlib.image import imread

from user_ops import (
    ConfigError,
    DataError,
    LifecyclePolicy,
    RFMModel,
    Table,
    Transactions,
    UserOpsWarning,
    customer_metrics,
)
from user_ops.datasets import synthetic_shop
from user_ops.lifecycle import stage_summary, transitions
from user_ops.plots import (
    CJK_FONTS,
    INSTALL_HINT,
    pareto_curve,
    points_expiring,
    rfm_grid,
    segment_treemap,
    squarify,
    stage_bars,
    tier_distribution,
    transition_flows,
)
from user_ops.plots._common import installed_family
from user_ops.rfm import pareto, segment_summary

ROOT = Path(__file__).resolve().parents[1]
UTC = timezone.utc
POLICY = LifecyclePolicy.default()


@pytest.fixture(scope="module")
def shop() -> dict[str, Any]:
    """A small synthetic shop with metrics, RFM scores and two lifecycle snapshots."""
    data = synthetic_shop(400, seed=5)
    log = Transactions(data.lines)
    metrics = customer_metrics(log, as_of=data.as_of, customers=data.customers)
    earlier = data.as_of - timedelta(days=60)
    before = customer_metrics(log, as_of=earlier, customers=data.customers)
    model = RFMModel.quantile(bins=5).fit(metrics)
    return {
        "metrics": metrics,
        "model": model,
        "scores": model.score(metrics),
        "stages": POLICY.classify(metrics, as_of=data.as_of),
        "stages_before": POLICY.classify(before, as_of=earlier),
    }


def png(ax: Any) -> Any:
    """Render the axes' figure to PNG bytes and decode them: the image, rows from the top."""
    buffer = BytesIO()
    ax.figure.savefig(buffer, format="png")
    data = buffer.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    image = imread(BytesIO(data), format="png")
    assert float(image[..., :3].std()) > 0  # something was drawn, not a blank canvas
    width, height = ax.figure.get_size_inches() * ax.figure.dpi
    assert image.shape == (round(height), round(width), 4)
    return image


def render(ax: Any) -> tuple[int, ...]:
    """Render the axes' figure to PNG bytes, decode them, and return the image's shape."""
    return tuple(png(ax).shape)


def crop(image: Any, box: Any) -> Any:
    """The pixels of ``image`` (rows from the top) inside a display-space bbox (y from the bottom)."""
    top = image.shape[0]
    return image[int(top - box.y1) : math.ceil(top - box.y0), int(box.x0) : math.ceil(box.x1), :3]


def gids(patches: Any) -> list[str]:
    return [p.get_gid() for p in patches if p.get_gid() is not None]


def heights(ax: Any) -> list[float]:
    return [float(p.get_height()) for p in ax.patches]


# -- laziness and the missing extra ----------------------------------------------------------------
def test_importing_the_plots_room_does_not_import_matplotlib() -> None:
    code = (
        "import sys, user_ops, user_ops.plots\n"
        "from user_ops.plots import rfm_grid, squarify\n"
        "squarify([3, 1])\n"
        "print(sorted(m for m in sys.modules if m == 'matplotlib' or m.startswith('matplotlib.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_missing_matplotlib_is_a_config_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import matplotlib.figure` fail
    with pytest.raises(ConfigError, match=r'pip install "user_ops\[plot\]"'):
        pareto_curve(pareto([1.0, 2.0, 3.0]))
    with pytest.raises(ConfigError, match="plots need matplotlib, which is not installed"):
        tier_distribution({"gold": 1}, order=["gold"])
    assert INSTALL_HINT == 'pip install "user_ops[plot]"'


# -- RFM grid ---------------------------------------------------------------------------------------
def test_rfm_grid_counts_every_scored_customer_in_its_cell(shop: dict[str, Any]) -> None:
    scores = shop["scores"]
    ax = rfm_grid(scores)
    grid = np.ma.filled(ax.images[0].get_array(), np.nan)
    assert grid.shape == (5, 5)
    r, f = np.ma.getdata(scores["r"]), np.ma.getdata(scores["f"])
    bought = ~np.ma.getmaskarray(scores["r"])
    for row, column in itertools.product(range(5), range(5)):
        expected = int(np.sum(bought & (f == row + 1) & (r == column + 1)))
        assert grid[row, column] == expected
    assert grid.sum() == bought.sum() < len(scores)  # never-bought customers are left out
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5"]
    assert render(ax) == (450, 550, 4)


def test_rfm_grid_mean_monetary_and_blank_cells() -> None:
    metrics = {
        "recency_days": [3, 3, 100, 200, None],
        "frequency": [5, 1, 1, 1, 0],
        "monetary": [900.0, 50.0, 70.0, 30.0, 0.0],
    }
    scores = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500]).score(metrics)
    ax = rfm_grid(scores, metrics, value="monetary", lang="zh")
    grid = ax.images[0].get_array()
    assert grid.tolist() == [[50.0, 50.0], [None, 900.0]]  # (70 + 30) / 2 in cell R1 F1; R1 F2 empty
    assert ax.get_title() == "R×F 平均消费金额"
    assert [t.get_text() for t in ax.texts] == ["50", "50", "900"]
    render(ax)


def test_rfm_grid_bad_input() -> None:
    scores = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500]).score(
        {"recency_days": [3], "frequency": [5], "monetary": [9.0]}
    )
    with pytest.raises(ConfigError, match="value='monetary' needs the scored metrics"):
        rfm_grid(scores, value="monetary")
    with pytest.raises(ConfigError, match="value must be one of 'count', 'monetary', got 'mean'"):
        rfm_grid(scores, value="mean")
    with pytest.raises(ConfigError, match="lang must be 'en' or 'zh', got 'fr'"):
        rfm_grid(scores, lang="fr")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs a 'f' score column"):
        rfm_grid({"r": [1, 2]})
    with pytest.raises(DataError, match="'r' score 0 is outside the scale"):
        rfm_grid({"r": [0, 2], "f": [1, 1]})
    with pytest.raises(DataError, match="metrics have 2 rows but the scores 1"):
        rfm_grid(scores, {"monetary": [1.0, 2.0]}, value="monetary")
    with pytest.raises(ConfigError, match="ax must be a matplotlib Axes"):
        rfm_grid(scores, ax="here")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"cmap must be the name of a matplotlib colour map .*'nope'"):
        rfm_grid(scores, cmap="nope")


# -- squarify and the treemap ----------------------------------------------------------------------
def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(width, 0.0) * max(height, 0.0)


def assert_tiles(rects: list[tuple[float, ...]], values: list[float], x: float, y: float, w: float, h: float):
    total = sum(values)
    for rect, value in zip(rects, values, strict=True):
        assert rect[2] > 0 and rect[3] > 0
        assert math.isclose(rect[2] * rect[3], value / total * w * h, rel_tol=1e-9, abs_tol=1e-12)
        assert rect[0] >= x - 1e-12 and rect[1] >= y - 1e-12
        assert rect[0] + rect[2] <= x + w + 1e-9 and rect[1] + rect[3] <= y + h + 1e-9
    for a, b in itertools.combinations(rects, 2):
        assert overlap(a, b) <= 1e-9 * w * h
    assert math.isclose(sum(r[2] * r[3] for r in rects), w * h, rel_tol=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.floats(0.001, 1e6, allow_nan=False), min_size=1, max_size=25),
    w=st.floats(0.1, 20),
    h=st.floats(0.1, 20),
)
def test_squarify_tiles_the_rectangle_with_proportional_areas(
    values: list[float], w: float, h: float
) -> None:
    rects = squarify(values, x=1.0, y=-2.0, width=w, height=h)
    assert_tiles(rects, values, 1.0, -2.0, w, h)


def test_squarify_known_layout_and_bad_values() -> None:
    assert squarify([1, 2, 1]) == [(0.5, 0.0, 0.5, 0.5), (0.0, 0.0, 0.5, 1.0), (0.5, 0.5, 0.5, 0.5)]
    rects = squarify([6, 6, 4, 3, 2, 2, 1], width=6, height=4)  # the paper's example
    worst = max(max(w / h, h / w) for _, _, w, h in rects)
    assert worst < 3  # squarified: far from the slivers of a slice layout (24:1 here)
    with pytest.raises(DataError, match=r"value 1 is 0\.0"):
        squarify([1.0, 0.0])
    with pytest.raises(DataError, match="value 0 is nan"):
        squarify([float("nan")])
    with pytest.raises(DataError, match="at least one value"):
        squarify([])
    with pytest.raises(DataError, match="rectangle with area"):
        squarify([1.0], width=0.0)


def test_segment_treemap_areas_are_segment_sizes_and_tile_the_square(shop: dict[str, Any]) -> None:
    summary = segment_summary(shop["scores"], shop["metrics"])
    ax = segment_treemap(summary)
    counts = dict(zip(summary["segment"].tolist(), summary["count"].tolist(), strict=True))
    shown = [code for code in summary["segment"].tolist() if counts[code] > 0]
    assert gids(ax.patches) == shown  # every non-empty segment, in summary order
    rects = [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in ax.patches]
    assert_tiles(rects, [float(counts[c]) for c in shown], 0.0, 0.0, 1.0, 1.0)
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    render(ax)


def test_segment_treemap_from_scores_by_revenue_in_chinese(shop: dict[str, Any]) -> None:
    scores, metrics = shop["scores"], shop["metrics"]
    ax = segment_treemap(scores, metrics, value="revenue", lang="zh")
    summary = segment_summary(scores, metrics)
    revenue = dict(zip(summary["segment"].tolist(), summary["revenue"].tolist(), strict=True))
    positive = [code for code, value in revenue.items() if value > 0]
    assert gids(ax.patches) == positive
    total = sum(revenue[c] for c in positive)
    for patch in ax.patches:
        assert math.isclose(patch.get_width() * patch.get_height(), revenue[patch.get_gid()] / total)
    captions = {t.get_text().split("\n")[0] for t in ax.texts}
    assert "冠军客户" in captions
    render(ax)


def check_captions(ax: Any, labels: dict[str, str], numbers: dict[str, str]) -> dict[str, str]:
    """Render the treemap to PNG and check its captions as drawn: each inside its rectangle, none
    overlapping another, ink where they are; every segment fully captioned or in the legend with its
    full label and value. Returns each drawn caption by segment code."""
    image = png(ax)
    rooms = {p.get_gid(): p.get_window_extent() for p in ax.patches}
    captions = {t.get_gid().removeprefix("caption:"): t for t in ax.texts if t.get_gid()}
    assert set(captions) == set(rooms)
    drawn = {code: t for code, t in captions.items() if t.get_visible() and t.get_text()}
    boxes = {code: t.get_window_extent() for code, t in drawn.items()}  # as that rendering measured them
    for code, box in boxes.items():
        room = rooms[code]
        assert room.x0 <= box.x0 and box.x1 <= room.x1 and room.y0 <= box.y0 and box.y1 <= room.y1, code
        assert float(crop(image, box).mean(axis=2).min()) < 0.35  # dark text drew there
    for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
        overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert overlap_w <= 0 or overlap_h <= 0, (a, b)
    full = {code for code, t in drawn.items() if t.get_text() == f"{labels[code]}\n{numbers[code]}"}
    legend = ax.get_legend()
    listed = [t.get_text() for t in legend.get_texts()] if legend is not None else []
    assert listed == [f"{labels[code]}  {numbers[code]}" for code in rooms if code not in full]
    for code, text in drawn.items():  # a shortened caption is the label, or its start and "…"
        caption = text.get_text()
        assert (
            code in full
            or caption == labels[code]
            or (caption.endswith("…") and labels[code].startswith(caption[:-1]))
        )
    return {code: t.get_text() for code, t in drawn.items()}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_treemap_captions_fit_inside_their_rectangles_and_the_rest_are_in_the_legend(
    shop: dict[str, Any], lang: str
) -> None:
    summary = segment_summary(shop["scores"], shop["metrics"])
    ax = segment_treemap(summary, lang=lang)
    codes = summary["segment"].tolist()
    labels = dict(zip(codes, summary[f"label_{lang}"].tolist(), strict=True))
    numbers = {code: f"{count:,}" for code, count in zip(codes, summary["count"].tolist(), strict=True)}
    drawn = check_captions(ax, labels, numbers)
    assert len(drawn) >= len(ax.patches) // 2  # most segments of the shop are captioned in full


def test_treemap_shortens_or_drops_captions_that_do_not_fit() -> None:
    codes = ["big", "long", "tiny", "speck"]
    labels = {
        "big": "Champions",
        "long": "Customers we really cannot afford to lose",
        "tiny": "Hibernating",
        "speck": "About to sleep",
    }
    sizes = {"big": 9000, "long": 700, "tiny": 120, "speck": 6}
    summary = {
        "segment": codes,
        "label_en": [labels[c] for c in codes],
        "label_zh": ["冠军客户", "不能失去的客户", "沉睡客户", "即将沉睡"],
        "count": [sizes[c] for c in codes],
        "revenue": [1234567.0, 80000.0, 4500.0, 12.0],
    }
    figure = Figure(figsize=(4, 3), layout="constrained")  # a small figure: little room
    ax = segment_treemap(summary, value="revenue", currency="CNY", ax=figure.add_subplot())
    numbers = {"big": "¥1,234,567", "long": "¥80,000", "tiny": "¥4,500", "speck": "¥12"}
    drawn = check_captions(ax, labels, numbers)
    assert drawn["big"] == "Champions\n¥1,234,567"
    assert "speck" not in drawn  # nothing fits a sliver
    assert "long" in [
        code for code in codes if code not in drawn or drawn[code] != f"{labels[code]}\n{numbers[code]}"
    ]
    legend = ax.get_legend()
    assert legend is not None and "About to sleep  ¥12" in [t.get_text() for t in legend.get_texts()]


def test_segment_treemap_bad_input(shop: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="value='revenue' needs revenue per segment"):
        segment_treemap(shop["scores"], value="revenue")
    with pytest.raises(DataError, match="nothing to draw: no segment has a positive count"):
        segment_treemap({"segment": ["a"], "label_en": ["A"], "label_zh": ["甲"], "count": [0]})
    with pytest.raises(DataError, match="segment_summary table or RFM scores"):
        segment_treemap({"customer_id": [1]})


# -- Pareto -----------------------------------------------------------------------------------------
def line(ax: Any, gid: str) -> Any:
    return next(item for item in ax.lines if item.get_gid() == gid)


def test_pareto_curve_draws_the_result_and_marks_the_top_20_percent(shop: dict[str, Any]) -> None:
    result = pareto(shop["metrics"]["monetary"], clip_negative=True)
    ax = pareto_curve(result)
    curve = line(ax, "curve")
    np.testing.assert_array_equal(curve.get_xdata(), result.curve_x)
    np.testing.assert_array_equal(curve.get_ydata(), result.curve_y)
    mark = line(ax, "mark")
    assert mark.get_xdata().tolist() == [0.2] and mark.get_ydata().tolist() == [result.top20_share]
    assert line(ax, "equality").get_ydata().tolist() == [0, 1]
    assert f"{result.gini:.3f}" in ax.get_title()
    assert f"{result.top20_share:.1%}" in ax.texts[0].get_text()
    render(ax)


def test_pareto_curve_other_marks_values_and_bad_mark() -> None:
    ax = pareto_curve([10.0, 0.0, 0.0, 0.0], mark=0.5, lang="zh")  # raw values go through pareto()
    assert line(ax, "mark").get_ydata().tolist() == [1.0]
    assert ax.get_title().startswith("二八分析")
    result = pareto([5.0, 3.0, 2.0], shares=(0.2,), points=None)
    ax = pareto_curve(result, mark=0.5)  # not reported: read off the curve between 1/3 and 2/3
    assert math.isclose(line(ax, "mark").get_ydata()[0], 0.5 + 0.3 * 0.5)
    for bad in (0, 1.5, True, "20%"):
        with pytest.raises(ConfigError, match="mark must be a fraction"):
            pareto_curve(result, mark=bad)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="positive total"):
        pareto_curve([0.0, 0.0])


# -- lifecycle --------------------------------------------------------------------------------------
LIVED = ["prospect", "introduction", "growth", "maturity", "dormancy", "churn", "unclassified"]


def test_stage_bars_are_the_summary_counts_in_lifecycle_order(shop: dict[str, Any]) -> None:
    summary = stage_summary(shop["stages"], shop["metrics"])
    assert summary["stage"].tolist() == LIVED  # the order customers live, not the rules' (churn 2nd)
    ax = stage_bars(summary)
    assert heights(ax) == [float(c) for c in summary["count"]]
    assert gids(ax.patches) == LIVED
    assert [t.get_text() for t in ax.get_xticklabels()] == summary["label_en"].tolist()
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["Prospect", "Introduction", "Growth"]
    render(ax)
    zh = stage_bars(shop["stages"], shop["metrics"], value="revenue_share", lang="zh", hide_empty=True)
    kept = summary["count"] > 0
    assert not kept.all()  # unclassified is empty: hidden
    assert gids(zh.patches) == [code for code, keep in zip(LIVED, kept, strict=True) if keep]
    assert heights(zh) == [float(v) for v in summary["revenue_share"][kept]]
    assert [t.get_text() for t in zh.get_xticklabels()] == summary["label_zh"][kept].tolist()
    assert zh.get_title() == "各生命周期阶段消费金额占比"
    render(zh)


def tick_texts(axis: Any) -> list[tuple[float, str]]:
    """The (value, text) of each major tick of ``axis`` as drawn in the figure's last rendering."""
    return [(float(tick.get_loc()), tick.label1.get_text()) for tick in axis.get_major_ticks()]


def money_value(text: str, prefix: str = "", suffix: str = "") -> float:
    """The number in a money label, checking its form: prefix, thousands groups of three, suffix."""
    assert re.fullmatch(rf"-?{re.escape(prefix)}\d{{1,3}}(,\d{{3}})*(\.\d+)?{re.escape(suffix)}", text), text
    return float(text.replace(prefix, "").replace(suffix, "").replace(",", ""))


def test_stage_revenue_axis_carries_the_currency_and_thousands_separators() -> None:
    summary = {
        "stage": ["new", "active", "lapsed"],
        "label_en": ["New", "Active", "Lapsed"],
        "label_zh": ["新客", "活跃", "流失"],
        "count": [3, 5, 2],
        "revenue": [1200.0, 123456.0, 80.4],
    }
    ax = stage_bars(summary, value="revenue", currency="CNY")
    render(ax)
    ticks = [(value, text) for value, text in tick_texts(ax.yaxis) if text]
    assert len(ticks) >= 3
    for value, text in ticks:
        assert money_value(text, prefix="¥") == value  # "¥120,000" at 120000
    assert "¥120,000" in [text for _, text in ticks]
    assert [t.get_text() for t in ax.texts] == ["¥1,200", "¥123,456", "¥80"]  # the bars, whole yuan
    assert ax.get_ylabel() == "Revenue (CNY)"
    zh = stage_bars({**summary, "currency": ["USD"] * 3}, value="revenue", lang="zh")  # from the data
    render(zh)
    assert zh.get_ylabel() == "消费金额（USD）"
    assert all(money_value(text, prefix="$") == value for value, text in tick_texts(zh.yaxis) if text)
    unknown = stage_bars(summary, value="revenue", currency="XTS")  # no symbol: the code after
    render(unknown)
    assert [t.get_text() for t in unknown.texts][1] == "123,456 XTS"
    plain = stage_bars(summary, value="revenue")  # no currency known: separators only
    render(plain)
    assert plain.get_ylabel() == "Revenue"
    assert all(money_value(text) == value for value, text in tick_texts(plain.yaxis) if text)
    small = stage_bars({**summary, "revenue": [1.5, 2.0, 0.5]}, value="revenue", currency="CNY")
    render(small)
    texts = [text for _, text in tick_texts(small.yaxis) if text]
    assert all(re.fullmatch(r"¥\d\.\d\d", text) for text in texts), texts  # fractions: all two decimals
    with pytest.raises(DataError, match=r"several currencies \(CNY, USD\)"):
        stage_bars({**summary, "currency": ["CNY", "USD", "CNY"]}, value="revenue")
    with pytest.raises(ConfigError, match="currency must be a three-letter code like 'CNY'"):
        stage_bars(summary, value="revenue", currency="yuan")
    with pytest.raises(ConfigError, match="currency must be a three-letter code"):
        stage_bars(summary, currency="yuan")  # a bad option whatever is shown
    counts = stage_bars({**summary, "currency": ["CNY", "USD", "CNY"]})  # counts: currencies do not matter
    assert heights(counts) == [3.0, 5.0, 2.0]


def test_mean_spend_grid_writes_money_in_its_cells_and_colour_bar() -> None:
    metrics = {
        "recency_days": [3, 3, 100, 200],
        "frequency": [5, 1, 1, 1],
        "monetary": [12500.0, 50.0, 3070.0, 30.0],
        "currency": ["USD"] * 4,
    }
    scores = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500]).score(metrics)
    ax = rfm_grid(scores, metrics, value="monetary")  # the currency column of the metrics
    render(ax)
    assert [t.get_text() for t in ax.texts] == ["$1,550", "$50", "$12,500"]  # (3070 + 30) / 2 in R1 F1
    bar = ax.figure.axes[1]
    assert bar.get_ylabel() == "Mean spend (USD)"
    ticks = [(value, text) for value, text in tick_texts(bar.yaxis) if text]
    assert len(ticks) >= 3 and all(money_value(text, prefix="$") == value for value, text in ticks)
    zh = rfm_grid(scores, metrics, value="monetary", lang="zh", currency="CNY")  # the option wins
    render(zh)
    assert zh.figure.axes[1].get_ylabel() == "平均消费金额（CNY）" and zh.texts[0].get_text() == "¥1,550"


def test_stage_bars_bad_input(shop: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="value='revenue' needs revenue per stage"):
        stage_bars(shop["stages"], value="revenue")
    with pytest.raises(ConfigError, match="value must be one of"):
        stage_bars(shop["stages"], value="customers")
    with pytest.raises(DataError, match="stage_summary table or classified stages"):
        stage_bars({"segment": ["a"]})


def test_transition_matrix_is_the_counts_of_non_empty_states(shop: dict[str, Any]) -> None:
    moves = transitions(shop["stages_before"], shop["stages"])
    ax = transition_flows(moves)
    rows = moves.counts.sum(axis=1) > 0
    columns = moves.counts.sum(axis=0) > 0
    np.testing.assert_array_equal(ax.images[0].get_array(), moves.counts[rows][:, columns])
    labels = [moves.labels[c][0] for c, keep in zip(moves.sources, rows, strict=True) if keep]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    render(ax)
    assert labels[:3] == ["Prospect", "Introduction", "Growth"]  # lifecycle order
    full = transition_flows(moves, hide_empty=False, lang="zh")
    np.testing.assert_array_equal(full.images[0].get_array(), moves.counts)
    assert [t.get_text() for t in full.get_xticklabels()][-1] == "离开"
    render(full)


def test_transition_flows_say_from_and_to_with_the_two_dates(shop: dict[str, Any]) -> None:
    moves = transitions(shop["stages_before"], shop["stages"])
    earlier = datetime(2024, 5, 1, tzinfo=timezone(timedelta(hours=8)))
    dates = (earlier, date(2024, 6, 30))
    ax = transition_flows(moves, dates=dates)
    assert ax.get_title() == "Lifecycle transitions, 2024-05-01 → 2024-06-30"
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("From stage (2024-05-01)", "To stage (2024-06-30)")
    render(ax)
    zh = transition_flows(moves, kind="bands", lang="zh", dates=dates)
    assert zh.get_title() == "生命周期阶段迁移（2024-05-01 → 2024-06-30）"
    heads = {t.get_gid(): t for t in zh.texts if t.get_gid() in ("from", "to")}
    assert (
        heads["from"].get_text() == "原阶段（2024-05-01）"
        and heads["to"].get_text() == "新阶段（2024-06-30）"
    )
    assert (
        heads["from"].get_position()[0] < 0.5 < heads["to"].get_position()[0]
    )  # over the left / right stack
    render(zh)
    undated = transition_flows(moves, kind="bands")
    assert {t.get_gid(): t.get_text() for t in undated.texts if t.get_gid()} == {
        "from": "From stage",
        "to": "To stage",
    }
    assert undated.get_title() == "Lifecycle transitions"
    at_noon = transition_flows(moves, dates=(date(2024, 5, 1), datetime(2024, 6, 30, 12, 30, tzinfo=UTC)))
    assert at_noon.get_xlabel() == "To stage (2024-06-30 12:30)"
    with pytest.raises(ConfigError, match=r"dates must be \(before, after\) in order"):
        transition_flows(moves, dates=(date(2024, 6, 30), date(2024, 5, 1)))
    with pytest.raises(ConfigError, match=r"dates must be \(before, after\)"):
        transition_flows(moves, dates=date(2024, 6, 30))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dates must be dates or aware datetimes, got '2024-05-01'"):
        transition_flows(moves, dates=("2024-05-01", date(2024, 6, 30)))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="naive"):
        transition_flows(moves, dates=(datetime(2024, 5, 1), date(2024, 6, 30)))


def test_transition_bands_have_the_thickness_of_their_flow(shop: dict[str, Any]) -> None:
    moves = transitions(shop["stages_before"], shop["stages"])
    ax = transition_flows(moves, kind="bands")
    flows = moves.flows
    expected = {
        f"{s}->{t}": c
        for s, t, c in zip(
            flows["source"].tolist(), flows["target"].tolist(), flows["count"].tolist(), strict=True
        )
    }
    bands = {p.get_gid(): p for p in ax.patches if p.get_gid() is not None}
    assert set(bands) == set(expected)
    thickness = {}
    for gid, band in bands.items():
        xy = band.get_xy()
        left = xy[np.isclose(xy[:, 0], xy[:, 0].min()), 1]
        right = xy[np.isclose(xy[:, 0], xy[:, 0].max()), 1]
        thickness[gid] = left.max() - left.min()
        assert math.isclose(thickness[gid], right.max() - right.min(), rel_tol=1e-9)
    scale = thickness[next(iter(thickness))] / expected[next(iter(thickness))]
    for gid, count in expected.items():
        assert math.isclose(thickness[gid], count * scale, rel_tol=1e-9)
    gaps = max(int((moves.counts.sum(axis=1) > 0).sum()), int((moves.counts.sum(axis=0) > 0).sum())) - 1
    assert math.isclose(scale * moves.total + 0.02 * gaps, 1.0)  # the stages fill the height
    render(ax)


def test_transition_flows_bad_input(shop: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"takes the result of user_ops\.lifecycle\.transitions"):
        transition_flows(shop["stages"])  # type: ignore[arg-type]
    moves = transitions(shop["stages_before"], shop["stages"])
    with pytest.raises(ConfigError, match="kind must be one of 'matrix', 'bands', got 'sankey'"):
        transition_flows(moves, kind="sankey")
    empty = {"customer_id": np.array([], dtype=np.int64), "stage": np.array([], dtype=object)}
    with pytest.raises(DataError, match="nothing to draw"):
        transition_flows(transitions(empty, empty, policy=POLICY))


# -- membership (generic) ---------------------------------------------------------------------------
TIERS = ["red", "silver", "gold", "black"]
CODES = ["gold", "red", "red", "silver", "red", "gold"]


@pytest.mark.parametrize(
    "tiers",
    [
        CODES,
        np.array(CODES, dtype=object),
        Table({"tier": CODES})["tier"],
        pd.Series(CODES),
        pl.Series(CODES),
        {"red": 3, "silver": 1, "gold": 2},
    ],
    ids=["list", "numpy", "table", "pandas", "polars", "mapping"],
)
def test_tier_distribution_counts_each_tier_in_order(tiers: Any) -> None:
    ax = tier_distribution(tiers, order=TIERS, labels={"gold": ("Gold", "金海"), "red": "R"})
    assert heights(ax) == [3.0, 1.0, 2.0, 0.0]
    assert gids(ax.patches) == TIERS
    assert [t.get_text() for t in ax.get_xticklabels()] == ["R", "silver", "Gold", "black"]
    render(ax)


def test_tier_distribution_shares_int_codes_and_chinese() -> None:
    ax = tier_distribution(np.array([1, 2, 2, 3]), order=[1, 2, 3], normalize=True, lang="zh")
    assert heights(ax) == [0.25, 0.5, 0.25]
    assert ax.get_ylabel() == "客户占比"
    render(ax)


def test_tier_distribution_bad_input() -> None:
    with pytest.raises(DataError, match=r"tiers \['diamond'\] are not in order"):
        tier_distribution(["red", "diamond"], order=TIERS)
    with pytest.raises(DataError, match="no tier code at row 1"):
        tier_distribution(["red", None], order=TIERS)
    with pytest.raises(DataError, match="must hold tier codes"):
        tier_distribution([1.5, 2.5], order=TIERS)
    with pytest.raises(DataError, match="count of tier 'red' must be a non-negative integer, got -1"):
        tier_distribution({"red": -1}, order=TIERS)
    with pytest.raises(DataError, match="tier 'gray' is not in order"):
        tier_distribution({"gray": 1}, order=TIERS)
    with pytest.raises(ConfigError, match=r"order repeats tier codes: \['red'\]"):
        tier_distribution(["red"], order=["red", "red"])
    with pytest.raises(ConfigError, match="order must name at least one tier"):
        tier_distribution(["red"], order=[])
    with pytest.raises(ConfigError, match="string or an \\(en, zh\\) pair"):
        tier_distribution(["red"], order=["red"], labels={"red": ("a", "b", "c")})  # type: ignore[dict-item]


def test_points_expiring_buckets_by_calendar_month_in_the_zone() -> None:
    when = [
        datetime(2024, 6, 30, 17, tzinfo=UTC),  # 2024-07-01 01:00 in Shanghai
        datetime(2024, 6, 3, tzinfo=UTC),
        datetime(2024, 9, 15, tzinfo=UTC),
        datetime(2024, 6, 10, tzinfo=UTC),
    ]
    points = [100, 40, 5, 2]
    ax = points_expiring(when, points, tz="Asia/Shanghai")
    assert gids(ax.patches) == ["2024-06", "2024-07", "2024-08", "2024-09"]
    assert heights(ax) == [42.0, 100.0, 0.0, 5.0]  # an empty month keeps its place
    render(ax)
    utc = points_expiring(when, points, tz="UTC")
    assert heights(utc)[:2] == [142.0, 0.0]
    assert utc.get_title() == "Points expiring per month (UTC)"


def test_points_expiring_at_the_end_of_a_month_count_in_that_month() -> None:
    shanghai = timezone(timedelta(hours=8))
    when = [
        datetime(2024, 7, 1, tzinfo=shanghai),  # "end of June": last spendable at 30 June 23:59:59.999999
        datetime(2024, 7, 1, 0, 0, 0, 1, tzinfo=shanghai),  # a microsecond later: spendable on 1 July
        datetime(2024, 8, 1, tzinfo=UTC),  # 1 August 08:00 in Shanghai; in UTC the end of July
        datetime(2024, 6, 1, tzinfo=shanghai),  # the end of May in Shanghai (31 May 16:00 UTC)
    ]
    points = [100, 7, 30, 5]
    ax = points_expiring(when, points, tz="Asia/Shanghai")
    assert gids(ax.patches) == ["2024-05", "2024-06", "2024-07", "2024-08"]
    assert heights(ax) == [5.0, 100.0, 7.0, 30.0]
    render(ax)
    utc = points_expiring(when, points, tz="UTC")  # 30 June 16:00 (+1 µs) UTC: both June; 1 Aug 00:00: July
    assert gids(utc.patches) == ["2024-05", "2024-06", "2024-07"]
    assert heights(utc) == [5.0, 107.0, 30.0]
    last_hour = points_expiring(
        when, points, tz="Asia/Shanghai", as_of=datetime(2024, 6, 30, 23, tzinfo=shanghai)
    )
    assert gids(last_hour.patches)[0] == "2024-06" and heights(last_hour)[:2] == [100.0, 7.0]
    gone = points_expiring(when, points, tz="Asia/Shanghai", as_of=datetime(2024, 7, 1, tzinfo=shanghai))
    assert gids(gone.patches) == ["2024-07", "2024-08"] and heights(gone) == [7.0, 30.0]  # expired at as_of


def test_points_expiring_from_as_of_for_some_months() -> None:
    when = np.array(["2024-06-30T16:00", "2024-07-02", "2024-08-01", "2025-01-01"], dtype="datetime64[us]")
    series = pd.Series(when).dt.tz_localize("UTC")
    as_of = datetime(2024, 7, 1, tzinfo=timezone(timedelta(hours=8)))  # 2024-06-30T16:00 UTC: gone
    ax = points_expiring(
        series, pd.Series([7, 8, 9, 10]), tz="Asia/Shanghai", as_of=as_of, months=3, lang="zh"
    )
    assert gids(ax.patches) == ["2024-07", "2024-08", "2024-09"]
    assert heights(ax) == [8.0, 9.0, 0.0]  # expired at as_of left out; 2025 beyond the three months
    assert ax.get_ylabel() == "积分"
    render(ax)
    nothing = points_expiring([], [], tz="UTC", as_of=datetime(2024, 1, 5, tzinfo=UTC))
    assert gids(nothing.patches) == ["2024-01"] and heights(nothing) == [0.0]


def test_points_expiring_bad_input() -> None:
    aware = [datetime(2024, 1, 1, tzinfo=UTC)]
    with pytest.raises(DataError, match=r"without a time zone|naive"):
        points_expiring([datetime(2024, 1, 1)], [1], tz="UTC")
    with pytest.raises(DataError, match="points must not be negative; row 0 is -5"):
        points_expiring(aware, [-5], tz="UTC")
    with pytest.raises(DataError, match="points must be integers"):
        points_expiring(aware, [1.5], tz="UTC")
    with pytest.raises(DataError, match="points is null at row 1"):
        points_expiring(aware * 2, [1, None], tz="UTC")
    with pytest.raises(DataError, match="expires_at has 1 values but points 2"):
        points_expiring(aware, [1, 2], tz="UTC")
    with pytest.raises(DataError, match="expires_at must hold aware datetimes"):
        points_expiring(["soon"], [1], tz="UTC")
    with pytest.raises(DataError, match="as_of is a naive datetime"):
        points_expiring(aware, [1], tz="UTC", as_of=datetime(2024, 1, 1))
    with pytest.raises(DataError, match="nothing to draw"):
        points_expiring([], [], tz="UTC")
    with pytest.raises(ConfigError, match="months must be a positive integer"):
        points_expiring(aware, [1], tz="UTC", months=0)


# -- shared behaviour -------------------------------------------------------------------------------
def test_plots_draw_on_given_axes_of_one_figure(shop: dict[str, Any]) -> None:
    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2)
    assert rfm_grid(shop["scores"], ax=left, colorbar=False) is left
    assert stage_bars(shop["stages"], ax=right) is right
    assert len(figure.axes) == 2 and left.images and right.patches
    render(left)


# -- Chinese text: drawn with a CJK font, or one warning saying how to get one ---------------------
CJK_INSTALLED = [family for family in CJK_FONTS if installed_family([family]) == family]
NO_SUCH_FONTS = ["No Such Font Sans", "Nor This One"]
NO_CJK_FONT = "no CJK font installed: apt install fonts-noto-cjk (or fonts-wqy-zenhei); .ci/run installs one"


def title_cells(ax: Any) -> list[Any]:
    """Render to PNG, decode, and cut the title's ink into one equal cell per character."""
    image = png(ax)
    ink = 1.0 - crop(image, ax.title.get_window_extent()).mean(axis=2)  # measured by that rendering
    edges = np.linspace(0, ink.shape[1], len(ax.title.get_text()) + 1).round().astype(int)
    width = int(np.diff(edges).min())
    return [ink[:, start : start + width] for start in edges[:-1]]


def least_difference(cells: list[Any]) -> float:
    """The mean pixel difference of the two most alike cells (each pair at its best of three 1-px shifts)."""

    def difference(a: Any, b: Any) -> float:
        width = a.shape[1]
        shifted = [(a[:, s:], b[:, : width - s]) for s in (0, 1)] + [(a[:, : width - 1], b[:, 1:])]
        return min(float(np.abs(left - right).mean()) for left, right in shifted)

    return min(difference(a, b) for a, b in itertools.combinations(cells, 2))


def gold(**options: Any) -> Any:
    return tier_distribution({"gold": 2}, order=["gold"], labels={"gold": ("Gold", "金海")}, **options)


@pytest.mark.parametrize("family", CJK_INSTALLED or [None])
def test_chinese_labels_draw_as_glyphs_not_boxes(family: str | None) -> None:
    if family is None:
        pytest.skip(NO_CJK_FONT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the font has every glyph: no warning of any kind
        ax = gold(lang="zh", font=family)
        glyphs = title_cells(ax)
    assert ax.title.get_text() == "各会员等级客户数"
    assert ax.title.get_fontfamily() == [family, "DejaVu Sans"]
    assert ax.get_xticklabels()[0].get_fontfamily() == [family, "DejaVu Sans"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boxes = title_cells(gold(lang="zh", font="DejaVu Sans"))  # installed, without Chinese: tofu
    # a font was chosen, so matplotlib's own warning about the glyphs it lacks is heard
    assert any("missing from font" in str(w.message) for w in caught)
    assert least_difference(boxes) < 0.02  # the check can tell: every missing glyph is the same box
    assert least_difference(glyphs) > 0.1  # eight characters drawn as eight different shapes
    assert min(float(cell.mean()) for cell in glyphs) > 0.05  # and each one has ink


def test_chinese_plots_take_the_first_installed_cjk_font_and_english_keeps_the_default() -> None:
    if not CJK_INSTALLED:
        pytest.skip(NO_CJK_FONT)
    ax = gold(lang="zh")
    assert ax.title.get_fontfamily() == [CJK_INSTALLED[0], "DejaVu Sans"]
    render(ax)
    assert gold(lang="en").title.get_fontfamily() == ["sans-serif"]


def test_without_a_cjk_font_one_warning_says_how_to_install_one(shop: dict[str, Any]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        axes = [
            segment_treemap(shop["scores"], lang="zh", font=NO_SUCH_FONTS),  # measures its captions too
            rfm_grid(shop["scores"], lang="zh", font=NO_SUCH_FONTS),  # and a colour bar
        ]
        for ax in axes:
            ax.figure.savefig(BytesIO(), format="png")
            ax.figure.savefig(BytesIO(), format="png", bbox_inches="tight")
    assert [w.category for w in caught] == [UserOpsWarning, UserOpsWarning]  # one per plot, no glyph flood
    message = str(caught[0].message)
    assert "tried: No Such Font Sans, Nor This One" in message
    assert "apt install fonts-noto-cjk" in message
    assert "PingFang SC" in message and "Microsoft YaHei" in message
    assert caught[0].filename == __file__  # it points at the caller's line
    plain = Figure()
    plain.add_subplot().set_title("中文")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain.savefig(BytesIO(), format="png")
    assert any("missing from font" in str(w.message) for w in caught)  # nothing silenced globally
    with pytest.warns(UserOpsWarning, match="none of the fonts No Such Font Sans is installed"):
        english = gold(lang="en", font="No Such Font Sans")
    assert english.title.get_fontfamily() == ["sans-serif"]


def test_a_font_installed_after_matplotlib_listed_the_fonts_is_found(tmp_path: Path) -> None:
    if not CJK_INSTALLED:
        pytest.skip(NO_CJK_FONT)
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    forget = (  # matplotlib's cached font list, as it was before the CJK fonts were installed
        "import matplotlib\n"
        "from pathlib import Path\n"
        "from matplotlib import font_manager as fm\n"
        "from user_ops.plots import CJK_FONTS\n"
        "cjk = {f.fname for f in fm.fontManager.ttflist if f.name in CJK_FONTS}\n"
        "fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if f.fname not in cjk]\n"
        "fm.json_dump(fm.fontManager, Path(matplotlib.get_cachedir()) / "
        "f'fontlist-v{fm.FontManager.__version__}.json')\n"
    )
    plot = (
        "import warnings\n"
        "from matplotlib import font_manager as fm\n"
        "from user_ops.plots import CJK_FONTS, tier_distribution\n"
        "assert not any(f.name in CJK_FONTS for f in fm.fontManager.ttflist), 'the cache was not stale'\n"
        "warnings.simplefilter('error')\n"
        "ax = tier_distribution({'金': 1}, order=['金'], lang='zh')\n"
        "ax.figure.savefig(__import__('io').BytesIO(), format='png')\n"
        "print(ax.title.get_fontfamily()[0])\n"
    )
    for code in (forget, plot):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
        )
        assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == CJK_INSTALLED[0]


def test_font_option_takes_a_font_file_and_rejects_bad_values(tmp_path: Path) -> None:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSansMono.ttf"
    ax = gold(font=str(path))
    assert ax.title.get_fontfamily() == ["DejaVu Sans Mono", "DejaVu Sans"]
    render(ax)
    serif = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSerif.ttf"
    assert gold(font=["no such font", "dejavu serif", str(path)]).title.get_fontfamily()[0] == "DejaVu Serif"
    assert gold(font=[str(serif), "DejaVu Sans Mono"]).title.get_fontfamily()[0] == "DejaVu Serif"  # in order
    with pytest.raises(ConfigError, match=r"font file '/nowhere/NotoSansSC\.otf' does not exist"):
        gold(font="/nowhere/NotoSansSC.otf")
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    with pytest.raises(ConfigError, match="is not a font matplotlib can read"):
        gold(font=str(broken))
    with pytest.raises(ConfigError, match="font must be a font family name, a font file, or a list"):
        gold(font=3)
    with pytest.raises(ConfigError, match="font names must be non-empty strings"):
        gold(font=["Noto Sans CJK SC", ""])


# -- the walk-through notebook ----------------------------------------------------------------------
def test_walkthrough_writes_decodable_figures(tmp_path: Path) -> None:
    # PYTHONPATH: the script imports this tree's user_ops, not whichever one is installed
    env = {**os.environ, "USER_OPS_PLOTS_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    script = ROOT / "examples" / "walkthrough.py"
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "Glyph" not in result.stderr and "findfont" not in result.stderr
    figures = sorted(tmp_path.glob("*.png"))
    names = {f.stem for f in figures}
    assert {"shop_rfm_grid", "shop_segments_treemap", "shop_pareto", "shop_stages"} <= names
    assert {"shop_transitions_matrix", "shop_transitions_bands", "shop_tiers"} <= names
    assert {"shop_member_tiers", "shop_points_expiring"} <= names
    if (ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt").exists():
        assert {"cdnow_rfm_grid", "cdnow_pareto", "cdnow_stages", "cdnow_transitions_bands"} <= names
    for figure in figures:
        assert figure.stat().st_size > 1000
        image = imread(figure)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert float(image[..., :3].std()) > 0
    saved = sum(1 for text in result.stdout.splitlines() if text.strip().startswith("saved "))
    assert saved == len(figures)


def test_walkthrough_is_a_percent_notebook_through_membership_and_coupons() -> None:
    text = (ROOT / "examples" / "walkthrough.py").read_text(encoding="utf-8")
    assert text.count("# %% [markdown]") >= 10
    assert "# %% [markdown]\n# ## 9. Membership" in text
    assert "# %% [markdown]\n# ## 10. Coupons" in text
    assert "TODO" not in text
