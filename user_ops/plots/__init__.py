"""Plots (the ``plot`` extra): RFM grid and treemap, Pareto curve, lifecycle stages and transitions,
membership tiers and expiring points.

Each function draws on ``ax`` (or a new ``matplotlib.figure.Figure``, without pyplot or a GUI
backend) and returns the axes. matplotlib is imported when a plot is drawn, never by
``import user_ops.plots``; without it a plot raises [`ConfigError`][] saying
``pip install "user_ops[plot]"``. Labels come from the data in English or Chinese (``lang="en"`` or
``"zh"``); Chinese text is written with the first installed font of [`CJK_FONTS`][] (or of a plot's
``font=``), and a plot warns once, saying how to install one, when there is none. See ``docs/plots.md``.

Examples
--------
>>> from io import BytesIO
>>> from user_ops.plots import tier_distribution
>>> ax = tier_distribution({"silver": 3, "gold": 1}, order=["silver", "gold"])
>>> buffer = BytesIO()
>>> ax.figure.savefig(buffer, format="png")
>>> buffer.getvalue()[:4]
b'\\x89PNG'
"""

from user_ops.plots._common import CJK_FONTS, INSTALL_HINT
from user_ops.plots._lifecycle import stage_bars, transition_flows
from user_ops.plots._membership import points_expiring, tier_distribution
from user_ops.plots._rfm import pareto_curve, rfm_grid, segment_treemap
from user_ops.plots._squarify import Rect, squarify

__all__ = [
    "CJK_FONTS",
    "INSTALL_HINT",
    "Rect",
    "pareto_curve",
    "points_expiring",
    "rfm_grid",
    "segment_treemap",
    "squarify",
    "stage_bars",
    "tier_distribution",
    "transition_flows",
]
