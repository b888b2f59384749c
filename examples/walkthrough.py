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
# # user_ops walk-through: from a purchase log to who to reach, and how
#
# A notebook as a plain script (jupytext "percent" format: open it with `jupytext --to ipynb` or run
# its cells in VS Code). It tells the whole story twice — on the synthetic shop that ships with the
# library and on the real CDNOW sample — with the plots of `user_ops.plots`:
#
# metrics (用户基础数据) → tags (标签) → RFM scores → segments (分群) → Pareto (二八) →
# lifecycle stages (生命周期) → transitions between two snapshots → member tiers and points (会员与积分) →
# targeted coupons and a cart's quote (定向发券与用券).
#
# Run it as a script with `python examples/walkthrough.py`. The figures go into the folder named by
# the `USER_OPS_PLOTS_DIR` environment variable, or a new temporary folder (never into the repository).

# %%
from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from user_ops import (
    DataError,
    LifecyclePolicy,
    RFMModel,
    Transactions,
    customer_metrics,
    default_tags,
)
from user_ops.datasets import MEMBER_TIERS, load_cdnow, synthetic_shop
from user_ops.lifecycle import stage_summary, transitions
from user_ops.plots import (
    pareto_curve,
    rfm_grid,
    segment_treemap,
    stage_bars,
    tier_distribution,
    transition_flows,
)
from user_ops.rfm import pareto, segment_summary

OUT = Path(os.environ.get("USER_OPS_PLOTS_DIR") or tempfile.mkdtemp(prefix="user_ops_walkthrough_"))
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures go to {OUT}")


def save(ax: Any, name: str) -> None:
    """Write the figure of ``ax`` as ``<name>.png`` (no pyplot: the figure renders itself)."""
    path = OUT / f"{name}.png"
    ax.figure.savefig(path, dpi=80)
    print(f"  saved {path.name}")


# %% [markdown]
# ## 1. The synthetic shop: order lines → per-customer metrics
#
# `synthetic_shop` is a deterministic shop (customers, order lines with refunds, seasonality).
# `Transactions` validates the log; `customer_metrics` gives one row per customer: recency,
# frequency, monetary, windows, repurchase cycle (复购周期) and more. Passing the customers adds
# those who registered but never bought.

# %%
shop = synthetic_shop(3000, seed=11)
as_of = shop.as_of
metrics = customer_metrics(Transactions(shop.lines), as_of=as_of, customers=shop.customers)
buyers = metrics["frequency"] > 0
print(f"1. {shop!r}")
print(f"   {len(metrics):,} customers, {int(buyers.sum()):,} with a purchase")

# %% [markdown]
# ## 2. Tags (标签化管理)
#
# The default tag set names high/low frequency and spend, recent and lapsed buyers, promotion-driven
# (活动喜好型) and premium-minded customers. One boolean column per tag, for every customer at once.

# %%
tags = default_tags()
tagged = tags.evaluate(metrics, as_of=as_of)
top_tags = sorted(tagged.counts().items(), key=lambda item: -item[1])[:4]
print(
    "2. most common tags:", ", ".join(f"{tags[name].label_zh} {count}" for name, count in top_tags)
)

# %% [markdown]
# ## 3. RFM scores and 4. segments
#
# Tie-aware quantiles score R, F and M from 1 to 5 (5 = best; R5 = most recent). The classic RF grid
# names segments (Champions 冠军客户, At Risk, ...) with the suggested action. The grid plot counts
# customers per R and F score; the treemap shows segment sizes and the revenue they bring.

# %%
model = RFMModel.quantile(bins=5).fit(metrics)
scores = model.score(metrics)
summary = segment_summary(scores, metrics)
largest = max(summary.to_dicts(), key=lambda row: row["revenue"])
print(f"3. cut-points of F: {model.frequency_cuts_}; of R (days): {model.recency_cuts_}")
print(
    f"4. {largest['label_en']} ({largest['label_zh']}) bring "
    f"{largest['revenue_share']:.1%} of revenue"
)
save(rfm_grid(scores), "shop_rfm_grid")
save(rfm_grid(scores, metrics, value="monetary", lang="zh"), "shop_rfm_grid_monetary")
save(segment_treemap(summary), "shop_segments_treemap")
save(segment_treemap(summary, value="revenue", lang="zh", currency="CNY"), "shop_segments_revenue")

# %% [markdown]
# ## 5. Pareto (二八法则)
#
# How concentrated is spend, really? The curve reads the share of revenue the top x % of buyers bring;
# the marker is the real "20 %" of the 80/20 rule, and the title gives the Gini coefficient.

# %%
figures = pareto(metrics["monetary"][buyers], clip_negative=True)
print(f"5. top 20 % of buyers bring {figures.top20_share:.1%} of revenue; Gini {figures.gini:.3f}")
save(pareto_curve(figures), "shop_pareto")

# %% [markdown]
# ## 6. Lifecycle stages (用户生命周期)
#
# The default policy, with its cycle fitted to this shop's median repurchase cycle, puts every customer
# in a stage (引入期 introduction … 流失期 churn) with the action it calls for.

# %%
policy = LifecyclePolicy.default_for(metrics)
stages = policy.classify(metrics, as_of=as_of)
by_stage = stage_summary(stages, metrics)
print(
    "6. stages:",
    ", ".join(f"{row['label_zh']} {row['count']}" for row in by_stage.to_dicts() if row["count"]),
)
save(stage_bars(by_stage), "shop_stages")
save(stage_bars(by_stage, value="revenue_share", lang="zh", hide_empty=True), "shop_stages_revenue")

# %% [markdown]
# ## 7. Transitions between two snapshots
#
# The same policy a quarter earlier, then now: who moved where, who is new and who left. The matrix
# counts from → to; the band chart draws the same flows, thickness proportional to customers.

# %%
earlier = as_of - timedelta(days=90)
metrics_before = customer_metrics(Transactions(shop.lines), as_of=earlier, customers=shop.customers)
moves = transitions(policy.classify(metrics_before, as_of=earlier), stages)
print(f"7. {moves.total:,} customers: {moves.stayed:,} kept their stage, {moves.new:,} are new")
save(transition_flows(moves, dates=(earlier, as_of)), "shop_transitions_matrix")
save(
    transition_flows(moves, kind="bands", lang="zh", dates=(earlier, as_of)),
    "shop_transitions_bands",
)

# %% [markdown]
# The synthetic customers also carry a membership tier (会员等级): the tier plot takes plain codes.

# %%
tier_labels = {
    "red": ("Red", "红海"),
    "silver": ("Silver", "银海"),
    "gold": ("Gold", "金海"),
    "black": ("Black", "黑海"),
}
tiers = shop.customers["member_tier"]
save(tier_distribution(tiers, order=MEMBER_TIERS, labels=tier_labels, lang="zh"), "shop_tiers")

# %% [markdown]
# ## 8. The same story on CDNOW
#
# CDNOW is a real purchase log (2,357 customers of a CD shop, 1997–1998) read from
# `../shared/data/cdnow` next to the repository (`CDNOW_sample.txt`, or the full `CDNOW_master.txt`:
# both are on Bruce Hardie's page of data sets, see docs/datasets.md). Without it this section says
# so and is skipped.

# %%
try:
    cdnow = Transactions(load_cdnow())
except DataError as missing:
    print(f"8. CDNOW skipped: {missing}")
    print("   (get CDNOW_sample.txt from Bruce Hardie's data sets page: see docs/datasets.md)")
else:
    cd_as_of = datetime(1998, 7, 1, tzinfo=timezone.utc)
    cd_metrics = customer_metrics(cdnow, as_of=cd_as_of)
    cd_scores = RFMModel.quantile(bins=5).fit(cd_metrics).score(cd_metrics)
    cd_pareto = pareto(cd_metrics["monetary"], clip_negative=True)
    print(f"8. CDNOW: {len(cd_metrics):,} customers; top 20 % bring {cd_pareto.top20_share:.1%}")
    save(rfm_grid(cd_scores), "cdnow_rfm_grid")
    save(
        segment_treemap(cd_scores, cd_metrics, value="revenue", currency="USD"),
        "cdnow_segments_revenue",
    )
    save(pareto_curve(cd_pareto), "cdnow_pareto")
    cd_policy = LifecyclePolicy.default_for(cd_metrics)
    cd_stages = cd_policy.classify(cd_metrics, as_of=cd_as_of)
    save(stage_bars(cd_stages, cd_metrics, hide_empty=True), "cdnow_stages")
    cd_earlier = cd_as_of - timedelta(days=180)
    cd_before = cd_policy.classify(customer_metrics(cdnow, as_of=cd_earlier), as_of=cd_earlier)
    cd_moves = transitions(cd_before, cd_stages)
    print(
        f"   half a year earlier → now: {cd_moves.stayed:,} kept their stage, "
        f"{cd_moves.new:,} are new"
    )
    save(
        transition_flows(cd_moves, kind="bands", dates=(cd_earlier, cd_as_of)),
        "cdnow_transitions_bands",
    )

# %% [markdown]
# ## 9. Membership: tiers (会员等级) and points (积分)
#
# A four-tier programme on 12-month spend. Money is exact, so the spend column is converted once to
# integer fen; `evaluate` places every customer and says what the next tier takes. The points ledger
# is replayed per customer from their orders (1 point per yuan, expiring at the end of the month after
# twelve months); the plot shows how many points lapse each month unless customers spend them.

# %%
import numpy as np  # noqa: E402

from user_ops import Money, Tier, TierPolicy  # noqa: E402
from user_ops.membership import OrderLine, PointsPolicy, replay  # noqa: E402
from user_ops.plots import points_expiring  # noqa: E402

programme = TierPolicy(
    [
        Tier(code="red", label_en="Red", label_zh="红海", entry="0 CNY"),
        Tier(
            code="silver", label_en="Silver", label_zh="银海", entry="1000 CNY", retention="800 CNY"
        ),
        Tier(code="gold", label_en="Gold", label_zh="金海", entry="3000 CNY", retention="2000 CNY"),
        Tier(
            code="black", label_en="Black", label_zh="黑海", entry="8000 CNY", retention="6000 CNY"
        ),
    ],
    column="spend_fen",
    window="rolling",
    window_length="12mo",
)
spend = np.nan_to_num(np.ma.filled(np.ma.asarray(metrics["spend_365d"], dtype=float), 0.0))
member_tiers = programme.evaluate(
    metrics.with_columns({"spend_fen": np.rint(spend * 100).astype(np.int64)}), as_of=as_of
)
print("9. tiers:", member_tiers.counts())
save(
    tier_distribution(member_tiers["tier"], order=programme.codes, labels=tier_labels, lang="zh"),
    "shop_member_tiers",
)

points = PointsPolicy(
    earn_points=1,
    earn_per=Money("1.00", "CNY"),
    expiry="end_of_month",
    expiry_after="12mo",
    tz="Asia/Shanghai",
)
lines = shop.lines.to_dicts()
orders: dict[tuple[int, int], list[dict[str, Any]]] = {}
for line in lines:
    orders.setdefault((line["customer_id"], line["order_id"]), []).append(line)
ledgers: dict[int, list[Any]] = {}
for (customer, order_id), order_lines in orders.items():
    priced = [
        OrderLine(Money(f"{max(row['amount'], 0.0):.2f}", "CNY"), category=row["category"])
        for row in order_lines
    ]
    ledgers.setdefault(customer, []).extend(
        points.earn_entries(
            priced, order_id=f"{customer}-{order_id}", at=order_lines[0]["ordered_at"]
        )
    )
expiring_at, expiring_points = [], []
for entries in ledgers.values():
    state = replay(entries, as_of=as_of, policy=points)
    for lot in state.lots:
        if lot.expires_at is not None and lot.remaining > 0:
            expiring_at.append(lot.expires_at)
            expiring_points.append(lot.remaining)
print(f"   {len(ledgers):,} ledgers replayed; {sum(expiring_points):,} points open")
save(
    points_expiring(expiring_at, expiring_points, tz="Asia/Shanghai", as_of=as_of, months=18),
    "shop_points_expiring",
)

# %% [markdown]
# ## 10. Coupons (优惠券): who gets one, and what a cart pays
#
# A win-back coupon (满199减30) for customers in the churn and dormancy stages, highest spend first,
# within a budget of 200 coupons; then the best combination of coupons for one cart, with the exact
# split of every discount over the lines.

# %%
from user_ops.coupons import (  # noqa: E402
    Benefit,
    Cart,
    CartLine,
    Conditions,
    CouponTemplate,
    CustomerContext,
    IssuanceBudget,
    best_combination,
    plan_issuance,
)

winback = CouponTemplate(
    id="winback-199-30",
    currency="CNY",
    benefit=Benefit(kind="amount_off", amount="30 CNY"),
    conditions=Conditions(min_subtotal="199 CNY"),
)
with_stage = metrics.with_columns({"stage": stages["stage"]})
plan = plan_issuance(
    winback,
    with_stage,
    audience='stage in ["churn", "dormancy"]',
    as_of=as_of,
    budget=IssuanceBudget(count=200, priority="monetary"),
)
print("10.", plan.summary().splitlines()[0])
cart = Cart(
    currency="CNY",
    lines=[
        CartLine(sku="tea-gift-box", category="tea", unit_price="168.00 CNY", quantity=1),
        CartLine(sku="snack-pack", category="snacks", unit_price="39.90 CNY", quantity=2),
    ],
)
wallet = [
    winback,
    CouponTemplate(
        id="tea-10pct",
        currency="CNY",
        target="items",
        benefit=Benefit(kind="percent_off", percent="10", cap="20 CNY"),
        conditions=Conditions(include_categories=("tea",)),
    ),
]
best = best_combination(cart, CustomerContext(id="c1", order_count=3), wallet, as_of=as_of)
print(f"    best: {', '.join(best.keys)} save {best.discount}; pay {best.quote.total}")
for applied in best.quote.applied:
    print(f"    {applied.key}: " + ", ".join(f"{a.line_id} -{a.discount}" for a in applied.lines))
