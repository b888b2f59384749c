# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quick start on CDNOW: metrics, RFM, P(alive), lifecycle
#
# The classic first hour with a purchase log, as in the lifetimes and PyMC-Marketing quick starts,
# on the same real data: the CDNOW sample of Fader and Hardie (2,357 customers of an online CD shop
# who first bought in the first quarter of 1997, followed to the end of June 1998).
#
# purchase log → per-customer metrics (R, F, M and the "buy till you die" columns) → RFM scores and
# segments → the BG/NBD model's P(alive) (未流失概率) → lifecycle stages (生命周期) → Pareto (二八).
#
# A jupytext "percent" script: run it with `python examples/cdnow_quickstart.py` from the repository
# root, or open its cells as a notebook. It reads `../shared/data/cdnow/CDNOW_sample.txt` beside the
# repository (or the file that the `USER_OPS_CDNOW` environment variable names: the full 4-column
# `CDNOW_master.txt` works too); without it, the first cell says how to get it and the script stops
# there.
# Figures go into the folder named by `USER_OPS_PLOTS_DIR`, or a new temporary folder.

# %%
from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from user_ops import DataError, RFMModel, Transactions, customer_metrics
from user_ops.datasets import load_cdnow
from user_ops.lifecycle import BGNBD, LifecyclePolicy, stage_summary
from user_ops.plots import pareto_curve, rfm_grid, segment_treemap, stage_bars
from user_ops.rfm import pareto, segment_summary

OUT = Path(os.environ.get("USER_OPS_PLOTS_DIR") or tempfile.mkdtemp(prefix="user_ops_cdnow_"))
OUT.mkdir(parents=True, exist_ok=True)


def save(ax: Any, name: str) -> None:
    """Write the figure of ``ax`` as ``<name>.png`` (no pyplot: the figure renders itself)."""
    ax.figure.savefig(OUT / f"{name}.png", dpi=80)


try:  # USER_OPS_CDNOW names the file when it lives elsewhere
    purchases = load_cdnow(os.environ.get("USER_OPS_CDNOW") or None)
except DataError as missing:
    print(f"The CDNOW sample is not here: {missing}")
    print("To run this quick start, get a CDNOW file (whitespace-separated, header optional):")
    print(
        "  - CDNOW_sample.txt (6,919 purchases, 5 columns) or CDNOW_master.txt (69,659, 4 columns)"
    )
    print("    from Bruce Hardie's page of data sets (brucehardie.com, 'Datasets': CDNOW);")
    print("  - the sample also ships in the `lifetimes` package (MIT licence),")
    print("    as lifetimes/datasets/CDNOW_sample.txt.")
    print("Put it in ../shared/data/cdnow/ beside the repository, or name it:")
    print("  USER_OPS_CDNOW=path/to/CDNOW_master.txt python examples/cdnow_quickstart.py")
    raise SystemExit(0) from None  # the rest needs the data: stop here, without an error
print(f"{len(purchases):,} purchases, columns {purchases.columns}")
print(purchases.row(0))

# %% [markdown]
# ## 1. One row per customer
#
# `Transactions` validates the log (ids, timezone-aware instants, finite amounts); `customer_metrics`
# gives recency, frequency and monetary value, windows, the repurchase cycle (复购周期) and the three
# "buy till you die" columns of lifetimes' `summary_data_from_transaction_data` — here in weeks
# (`btyd_multiplier=7`), as in the BG/NBD paper. We observe everyone up to 1 July 1998.

# %%
as_of = datetime(1998, 7, 1, tzinfo=timezone.utc)
log = Transactions(purchases)
metrics = customer_metrics(log, as_of=as_of, btyd_multiplier=7)
once = int((metrics["frequency"] == 1).sum())
print(f"{len(metrics):,} customers; {once:,} ({once / len(metrics):.0%}) bought only once")
for row in (metrics.row(i) for i in range(3)):
    print(
        f"  customer {row['customer_id']}: R {row['recency_days']} days, F {row['frequency']}, "
        f"M {row['monetary']:.2f} USD; x {row['repeat_frequency']}, t_x {row['recency_age']:.1f}, "
        f"T {row['T']:.1f} weeks"
    )

# %% [markdown]
# ## 2. RFM scores and segments
#
# Tie-aware quantiles score R, F and M from 1 to 5 (5 = best). Half the customers bought once, so
# F has fewer than five distinct scores: the model says so with its cut-points instead of splitting
# equal values apart. The classic RF grid names the segments.

# %%
model = RFMModel.quantile(bins=5).fit(metrics)
scores = model.score(metrics)
summary = segment_summary(scores, metrics)
print(f"cut-points of F: {model.frequency_cuts_}")
largest = sorted(summary.to_dicts(), key=lambda row: -row["revenue"])[:5]
for row in largest:
    print(
        f"  {row['label_en']:<22} {row['label_zh']:<6} {row['count']:>5} customers, "
        f"{row['revenue_share']:.1%} of revenue"
    )
save(rfm_grid(scores), "cdnow_rfm_grid")
save(segment_treemap(summary, value="revenue"), "cdnow_segments_revenue")

# %% [markdown]
# ## 3. P(alive) with the BG/NBD model
#
# Fitted on the first 39 weeks (to 30 September 1997), the BG/NBD model gives the published
# parameters (r 0.243, α 4.414, a 0.793, b 2.426). Refitted on the whole period, it gives every
# customer the probability that they are still a customer (`p_alive`) and the repeat purchases to
# expect in the next 26 weeks. The picture is lifetimes' probability-alive matrix: P(alive) for a
# customer observed 78 weeks, by their repeat purchases (x) and the age at their last one (t_x).

# %%
calibration = customer_metrics(
    log, as_of=datetime(1997, 10, 1, tzinfo=timezone.utc), btyd_multiplier=7
)
paper = BGNBD(period="week").fit(calibration)
print("fit to 1997-09-30:", {name: round(value, 3) for name, value in paper.params_.items()})

bgnbd = BGNBD(period="week").fit(metrics)
scored = bgnbd.with_p_alive(metrics, horizon=26)
p_alive = scored["p_alive"]
repeat = metrics["repeat_frequency"] > 0
print(f"repeat buyers' median P(alive): {np.nanmedian(p_alive[repeat]):.2f}")
print(f"customers with P(alive) below 0.3: {int((p_alive < 0.3).sum()):,}")
print(f"expected repeat purchases in 26 weeks: {np.nansum(scored['expected_purchases']):,.0f}")

x, t_x = np.meshgrid(np.arange(0, 21), np.arange(0, 79))
recency = np.where(x == 0, 0, t_x)  # no repeat purchase has no recency: P(alive) is 1 there
grid = bgnbd.p_alive(frequency=x.ravel(), recency=recency.ravel(), T=np.full(x.size, 78.0))
matrix = grid.reshape(x.shape)
figure = Figure(figsize=(6, 4.5), layout="constrained")
ax = figure.subplots()
image = ax.imshow(matrix, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1)
figure.colorbar(image, ax=ax, label="P(alive)")
ax.set(xlabel="repeat purchases x", ylabel="age at last purchase t_x (weeks)")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_title("P(alive) after 78 weeks, by x and t_x")
save(ax, "cdnow_p_alive_matrix")

# %% [markdown]
# ## 4. Lifecycle stages with P(alive)
#
# The default lifecycle policy, fitted to CDNOW's median repurchase cycle, with one more churn
# signal: a customer is also churned (流失期) when P(alive) falls below 0.3. A null `p_alive` leaves
# the day rules to decide.

# %%
policy = LifecyclePolicy.default_for(scored, p_alive_below=0.3)
stages = policy.classify(scored, as_of=as_of)
by_stage = stage_summary(stages, scored)
for row in by_stage.to_dicts():
    if row["count"]:
        print(
            f"  {row['label_en']:<13} {row['label_zh']:<4} {row['count']:>5} ({row['share']:.0%})"
        )
save(stage_bars(by_stage, hide_empty=True), "cdnow_stages")

# %% [markdown]
# ## 5. Pareto (二八法则)
#
# How much of the revenue do the best customers bring? The curve reads the share of revenue of the
# top x % of customers; the title gives the Gini coefficient.

# %%
figures = pareto(metrics["monetary"], clip_negative=True)
print(f"top 20 % of customers bring {figures.top20_share:.1%} of revenue; Gini {figures.gini:.3f}")
save(pareto_curve(figures), "cdnow_pareto")
print(f"figures saved in {OUT}")
