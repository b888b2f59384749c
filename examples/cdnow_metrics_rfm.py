"""Notebook-style walk-through on real data: CDNOW purchases → metrics → RFM → segments → 二八.

Run: ``python examples/cdnow_metrics_rfm.py`` from the repository root. It reads the CDNOW sample
(``CDNOW_sample.txt``, or the full ``CDNOW_master.txt``) from ``../shared/data/cdnow`` beside the
repository; both are on Bruce Hardie's page of data sets (brucehardie.com, "Datasets": CDNOW), see
docs/datasets.md. Without it the walk-through says so and uses the synthetic shop instead.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from user_ops import DataError, RFMModel, Transactions, customer_metrics, customer_metrics_one
from user_ops.datasets import load_cdnow, synthetic_shop
from user_ops.rfm import pareto, segment_summary


def purchase_log() -> tuple[Transactions, datetime, str]:
    """The CDNOW sample as a purchase log, or the synthetic shop when the file is not there."""
    try:
        return Transactions(load_cdnow()), datetime(1998, 7, 1, tzinfo=timezone.utc), "CDNOW sample"
    except DataError as missing:
        print(f"({missing}; using the synthetic shop)")
        shop = synthetic_shop(3000, seed=11)
        return Transactions(shop.lines), shop.as_of, "synthetic shop"


def main() -> None:
    # 1. The purchase log, validated: ids, aware instants, amounts (refunds are negative).
    log, as_of, name = purchase_log()
    print(f"1. {name}: {len(log):,} purchase rows, as of {as_of.date()}")

    # 2. One row per customer: R, F, M, windows, repurchase cycle, the buy-till-you-die columns.
    metrics = customer_metrics(log, as_of=as_of)
    print(f"2. {metrics!r}")
    buyers = metrics["frequency"] > 0
    once = float((metrics["frequency"][buyers] == 1).mean())
    print(
        f"   {once:.0%} of buyers bought once; median repurchase cycle "
        f"{np.nanmedian(metrics['repurchase_cycle_days']):.0f} days"
    )

    # 3. The same numbers for one customer, as a backend would compute them per request.
    first_id = metrics["customer_id"][0]
    rows = log.table.to_dicts()
    one = customer_metrics_one([r for r in rows if r["customer_id"] == first_id], as_of=as_of)
    assert one["monetary"] == metrics.row(0)["monetary"]
    print(
        f"3. customer {first_id}: frequency {one['frequency']}, monetary {one['monetary']:.2f}, "
        f"recency {one['recency_days']} days"
    )

    # 4. Quantile RFM: tie groups never split, so the many one-time buyers do not collapse F.
    model = RFMModel.quantile(bins=5).fit(metrics)
    scores = model.score(metrics)
    for dimension in ("r", "f", "m"):
        values, counts = np.unique(
            np.ma.compressed(np.ma.masked_invalid(scores[dimension].astype(float))),
            return_counts=True,
        )
        print(
            f"4. {dimension.upper()} scores {values.astype(int).tolist()} with counts {counts.tolist()}"
        )

    # 5. Segments with their revenue share and the suggested action, in English and Chinese.
    print("5. segments (classic RF grid):")
    for row in segment_summary(scores, metrics).to_dicts():
        if row["count"]:
            print(
                f"   {row['label_en']:<20} {row['label_zh']:<8} {row['count']:>5}  "
                f"revenue {row['revenue_share']:6.1%}  → {row['action_en']}"
            )

    # 6. The Chinese 8-class model: high/low of R, F, M against the population mean.
    cn8 = RFMModel.mean().fit(metrics).score(metrics)
    print("6. 8-class model:", dict(sorted(cn8.counts().items(), key=lambda kv: -kv[1])[:4]))

    # 7. 二八法则: the real share of revenue the top 20 % bring, the Gini coefficient.
    figures = pareto(metrics["monetary"][buyers], clip_negative=True)
    print(
        f"7. top 20 % of buyers bring {figures.top20_share:.1%} of revenue; Gini {figures.gini:.3f}"
    )


if __name__ == "__main__":
    main()
