"""The implementation of the command line: the parser, ``main`` and the demo (see [`user_ops.cli`][])."""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from user_ops._table import Table
from user_ops._version import __version__
from user_ops.cli._commands import add_commands
from user_ops.cli._rooms import add_room_commands
from user_ops.datasets import DEFAULT_AS_OF, synthetic_shop
from user_ops.exceptions import RuleError, UserOpsError
from user_ops.lifecycle import LifecyclePolicy
from user_ops.membership import Tier, TierPolicy
from user_ops.rfm import RFMModel, pareto, segment_summary
from user_ops.tags import default_tags

__all__ = ["DEMO_SECTIONS", "POLICY_TYPES", "main"]

POLICY_TYPES: dict[str, str] = {
    "Rule": "user_ops.rules:Rule",
    "TagRule": "user_ops.tags:TagRule",
    "TagSet": "user_ops.tags:TagSet",
    "Segment": "user_ops.rfm:Segment",
    "SegmentMap": "user_ops.rfm:SegmentMap",
    "RFMModel": "user_ops.rfm:RFMModel",
    "Stage": "user_ops.lifecycle:Stage",
    "LifecyclePolicy": "user_ops.lifecycle:LifecyclePolicy",
    "BGNBD": "user_ops.lifecycle:BGNBD",
    "TierPolicy": "user_ops.membership:TierPolicy",
    "PointsPolicy": "user_ops.membership:PointsPolicy",
    "CouponTemplate": "user_ops.coupons:CouponTemplate",
    "IssuedCoupon": "user_ops.coupons:IssuedCoupon",
    "Cart": "user_ops.coupons:Cart",
    "CustomerContext": "user_ops.coupons:CustomerContext",
}
"""Policy types of ``schema`` and ``validate``: name → ``"module:attribute"``, imported only when used,
so a type whose room is not installed (or not built yet) fails alone, with a clear message."""

_LABEL_WIDTH = 42  # display columns (a Chinese character takes two)
_VALUE_WIDTH = 14


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code.

    Exit codes: 0 success, 1 a ``user_ops`` error (message on stderr), 2 bad usage.

    Examples
    --------
    >>> main(["demo", "--customers", "0"])
    2
    """
    prog = _prog()
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: return the code, don't exit
        return _exit_code(exc)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{prog}: error: choose a command, e.g. 'demo' (see --help)", file=sys.stderr)
        return 2
    args.prog = prog
    out = _tolerant(sys.stdout)
    try:
        code: int = args.run(args, out)
    except UserOpsError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        for line in getattr(exc, "detail", ()):  # a rule's caret snippet, under the error line
            print(line, file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error. Point stdout at devnull so the
        # interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, unless the user asks for the traceback
        if os.environ.get("USER_OPS_DEBUG"):
            raise
        detail = _one_line(exc) or type(exc).__name__
        print(f"{prog}: internal error: {detail} (set USER_OPS_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3
    return code


def _prog() -> str:
    """``user-ops`` when run as the console script, else ``user_ops`` (``python -m user_ops``)."""
    return "user-ops" if Path(sys.argv[0]).stem == "user-ops" else "user_ops"


def _one_line(exc: BaseException) -> str:
    """The first line of an error (a rule error's caret snippet becomes its line and column)."""
    text = (str(exc).splitlines() or [""])[0]
    if isinstance(exc, RuleError) and exc.line is not None:
        text += f" (line {exc.line}, column {exc.column})"
    return text


def _parser(prog: str = "user_ops") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Decision logic for private-domain user operations (私域用户运营).",
    )
    parser.add_argument("--version", action="version", version=f"user_ops {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="summarise the synthetic shop data set",
        description="Build the synthetic shop data set and print a short summary of it.",
    )
    demo.add_argument(
        "--customers", type=_positive_int, default=2000, metavar="N", help="number of customers (2000)"
    )
    demo.add_argument("--seed", type=_non_negative_int, default=7, help="random seed (7)")
    demo.set_defaults(run=_run_demo)
    add_commands(commands, registry=POLICY_TYPES)
    add_room_commands(commands)
    return parser


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def _tolerant(stream: TextIO) -> TextIO:
    """Let a console that cannot show Chinese print replacement marks instead of failing."""
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    reconfigure = getattr(stream, "reconfigure", None)
    if encoding not in ("utf8", "utf16", "utf32", "gb18030") and reconfigure is not None:
        reconfigure(errors="replace")
    return stream


# -- demo -------------------------------------------------------------------------------------------
Section = Callable[[Table, TextIO], None]


def _run_demo(args: argparse.Namespace, out: TextIO) -> int:
    table = synthetic_shop(args.customers, seed=args.seed).customer_metrics()
    as_of = DEFAULT_AS_OF.isoformat(sep=" ", timespec="minutes")
    print(f"user_ops {__version__} demo: synthetic shop 合成店铺数据", file=out)
    print(f"{_count(len(table))} customers, seed {args.seed}, as of {as_of}", file=out)
    print("order lines → Transactions → customer_metrics → tags and RFM", file=out)
    for section in DEMO_SECTIONS:
        section(table, out)
    return 0


def _section_customers(table: Table, out: TextIO) -> None:
    """Rows, buyers vs prospects, and how often buyers buy."""
    frequency = table["frequency"]
    buyers = frequency > 0
    n, n_buyers = len(table), int(buyers.sum())
    _title(out, "Customers 用户")
    _row(out, "rows 行数", _count(n))
    _row(out, "buyers 购买用户", _count(n_buyers), _percent(n_buyers, n))
    _row(out, "prospects 潜在用户", _count(n - n_buyers), _percent(n - n_buyers, n) + " never bought")
    if n_buyers:
        once = int((frequency[buyers] == 1).sum())
        _row(out, "one-time buyers 一次购买用户", _count(once), _percent(once, n_buyers) + " of buyers")
        _row(out, "median frequency 消费频次中位数", f"{np.median(frequency[buyers]):g}", "orders per buyer")


def _section_spend(table: Table, out: TextIO) -> None:
    """Total spend and how concentrated it is (the 80/20 rule, 二八法则)."""
    monetary = table["monetary"]
    total = float(monetary.sum())
    _title(out, "Spend 消费 (CNY)")
    _row(out, "total spend 消费总额", _money(total))
    buyer_spend = np.sort(monetary[table["frequency"] > 0])[::-1]
    if len(buyer_spend) and total > 0:
        top = buyer_spend[: max(1, len(buyer_spend) // 5)]
        _row(out, "median per buyer 人均消费中位数", _money(float(np.median(buyer_spend))))
        _row(out, "top 20 % of buyers 前20%购买用户", _percent(float(top.sum()), total), "of spend 二八法则")


def _section_cities(table: Table, out: TextIO) -> None:
    """Customers per city, most customers first."""
    names, counts = np.unique(table["city"].astype(str), return_counts=True)
    _title(out, "Customers per city 城市分布")
    for position in np.lexsort((names, -counts)):
        count = int(counts[position])
        _row(out, str(names[position]), _count(count), _percent(count, len(table)))


def _section_metrics(table: Table, out: TextIO) -> None:
    """Purchase metrics (用户基础数据分析): recency, repurchase cycle, windows, shares."""
    buyers = table["frequency"] > 0
    _title(out, "Purchase metrics 消费指标 (buyers)")
    if not buyers.any():
        _row(out, "buyers 购买用户", "0")
        return
    recency = np.ma.getdata(table["recency_days"])[buyers]
    _row(out, "median recency R 最近消费天数", f"{np.median(recency):g}", "days")
    cycle = table["repurchase_cycle_days"][buyers]
    if np.isfinite(cycle).any():
        _row(out, "median repurchase cycle 复购周期", f"{np.nanmedian(cycle):.1f}", "days, repeat buyers")
    active = int((table["orders_90d"][buyers] > 0).sum())
    _row(out, "bought in the last 90 days 近90天购买", _count(active), _percent(active, int(buyers.sum())))
    promo = table["promo_spend_share"][buyers]
    if np.isfinite(promo).any():
        _row(out, "median promo spend share 特价消费占比", _percent(float(np.nanmedian(promo)), 1.0))


def _section_tags(table: Table, out: TextIO) -> None:
    """The default tags (标签) over the customers: how many have each, then why one customer lacks one."""
    tags = default_tags()
    result = tags.evaluate(table, as_of=DEFAULT_AS_OF)
    _title(out, "Default tags 默认标签")
    for tag, count in result.counts().items():
        rule = tags[tag]
        label = f"{rule.label('en')} {rule.label('zh')}"
        _row(out, label, _count(count), f"{_percent(count, len(table))}  {tag}")
    missing = np.flatnonzero(~result["frequency_high"] & (table["frequency"] > 0))
    if len(missing):
        record = table.row(int(missing[0]))
        why = tags.explain_one(record, "frequency_high", as_of=DEFAULT_AS_OF)
        _title(out, f"Why customer {record['customer_id']} is not 'frequency_high' 为什么不是消费频次高")
        for line in str(why.rule).splitlines():
            print(f"    {line}", file=out)


def _section_lifecycle(table: Table, out: TextIO) -> None:
    """Lifecycle stages (用户生命周期) with the action each calls for, the default cycle-aware policy."""
    policy = LifecyclePolicy.default_for(table)
    summary = policy.classify(table, as_of=DEFAULT_AS_OF).summary(table).to_dicts()
    _title(out, "Lifecycle stages 生命周期 → action 运营动作")
    for row in summary:
        if row["count"]:
            label = f"{row['label_en']} {row['label_zh']}"
            note = f"{_percent(row['count'], len(table))}  → {row['action_en']} {row['action_zh']}"
            _row(out, label, _count(int(row["count"])), note)


def _section_rfm(table: Table, out: TextIO) -> None:
    """Quantile RFM segments (RFM 分层): customers and revenue per segment, and the 80/20 figures."""
    model = RFMModel.quantile(bins=5).fit(table)
    summary = segment_summary(model.score(table), table).to_dicts()
    _title(out, "RFM segments RFM分层 (quantile, 5 bins)")
    for row in summary:
        if row["count"]:
            label = f"{row['label_en']} {row['label_zh']}"
            note = f"{_percent(row['count'], len(table))}  revenue {100 * row['revenue_share']:5.1f} %"
            _row(out, label, _count(int(row["count"])), note)
    buyers = table["monetary"][table["frequency"] > 0]
    if len(buyers) and float(buyers.sum()) > 0:
        figures = pareto(buyers)
        _title(out, "Revenue concentration 二八法则")
        _row(out, "top 20 % of buyers bring 前20%用户贡献", _percent(figures.top20_share, 1.0), "of revenue")
        _row(out, "Gini coefficient 基尼系数", f"{figures.gini:.3f}")


def demo_tier_policy() -> TierPolicy:
    """The demo's four-tier programme (红海 → 银海 → 金海 → 黑海) on 12-month spend in fen.

    Examples
    --------
    >>> demo_tier_policy().codes
    ('red', 'silver', 'gold', 'black')
    """
    return TierPolicy(
        [
            Tier(code="red", label_en="Red Sea", label_zh="红海", entry="0 CNY"),
            Tier(
                code="silver", label_en="Silver Sea", label_zh="银海", entry="1000 CNY", retention="800 CNY"
            ),
            Tier(code="gold", label_en="Gold Sea", label_zh="金海", entry="3000 CNY", retention="2000 CNY"),
            Tier(code="black", label_en="Black Sea", label_zh="黑海", entry="8000 CNY", retention="6000 CNY"),
        ],
        column="spend_365d_fen",
        window="rolling",
        window_length="12mo",
    )


def _spend_fen(table: Table) -> Table:
    # The metrics are analytics floats in yuan; tiers compare exact money, so round once to fen.
    spend = np.ma.filled(np.ma.asarray(table["spend_365d"], dtype=np.float64), 0.0)
    return table.with_columns({"spend_365d_fen": np.rint(np.nan_to_num(spend) * 100).astype(np.int64)})


def _section_membership(table: Table, out: TextIO) -> None:
    """Member tiers (会员等级) from 12-month spend, and what one member needs for the next tier."""
    policy = demo_tier_policy()
    priced = _spend_fen(table)
    tiers = policy.evaluate(priced, as_of=DEFAULT_AS_OF)
    counts = tiers.counts()
    _title(out, "Member tiers 会员等级 (12-month spend)")
    for tier in policy.tiers:
        n = counts.get(tier.code, 0)
        _row(
            out,
            f"{tier.label_en} {tier.label_zh}",
            _count(n),
            f"{_percent(n, len(table))}  from {tier.entry}",
        )
    silver = np.flatnonzero(np.asarray(tiers["tier"]) == "silver")
    if len(silver):
        record = priced.row(int(silver[0]))
        state = policy.evaluate_one(record, as_of=DEFAULT_AS_OF)
        _title(out, f"Member {record['customer_id']} 会员示例")
        print(f"    {state.summary('en')}", file=out)
        print(f"    {state.summary('zh')}", file=out)


def _section_coupons(table: Table, out: TextIO) -> None:
    """Targeted issuance (定向发券) of a win-back coupon, and the best coupons for one cart."""
    from user_ops.coupons import (
        Benefit,
        Cart,
        CartLine,
        Conditions,
        CouponTemplate,
        CustomerContext,
        IssuanceBudget,
        IssuanceCaps,
        Stacking,
        best_combination,
        plan_issuance,
    )

    winback = CouponTemplate(
        id="winback-199-30",
        currency="CNY",
        label_zh="满199减30 回归券",
        benefit=Benefit(kind="amount_off", amount="30 CNY"),
        conditions=Conditions(min_subtotal="199 CNY"),
    )
    ids = np.asarray(table["customer_id"])
    contacted = ids[::9]  # a recent campaign reached every ninth customer two days ago
    history = {
        "customer_id": contacted,
        "at": np.full(
            len(contacted), np.datetime64(DEFAULT_AS_OF.replace(tzinfo=None), "us") - np.timedelta64(2, "D")
        ),
    }
    plan = plan_issuance(
        winback,
        table,
        audience="frequency >= 2 and recency_days >= 90",
        as_of=DEFAULT_AS_OF,
        contact_history=Table(history, tz="UTC"),
        caps=IssuanceCaps(quiet_period="3d"),
        budget=IssuanceBudget(count=100, value="3000 CNY", priority="monetary"),
    )
    _title(out, "Targeted issuance 定向发券 (win-back 满199减30, best customers first)")
    for reason, n in plan.counts.items():
        if n:
            _row(out, reason, _count(n), _percent(n, len(table)))
    _row(out, "face value issued 发放面值", str(plan.face_value_total))

    cart = Cart(
        currency="CNY",
        shipping_fee="10.00 CNY",
        lines=[
            CartLine(sku="hotpot-base", category="food", unit_price="48.00 CNY", quantity=3),
            CartLine(sku="beef-roll", category="food", unit_price="68.00 CNY", quantity=2),
            CartLine(sku="apron", category="merch", unit_price="29.90 CNY", quantity=1),
        ],
    )
    customer = CustomerContext(id="demo", tier="gold", order_count=5)
    wallet = [
        winback,
        CouponTemplate(
            id="food-12pct",
            currency="CNY",
            target="items",
            benefit=Benefit(kind="percent_off", percent="12", cap="30 CNY"),
            conditions=Conditions(include_categories=("food",)),
        ),
        CouponTemplate(
            id="gold-ship",
            currency="CNY",
            benefit=Benefit(kind="free_shipping"),
            audience='tier in ["gold", "black"]',
        ),
        CouponTemplate(
            id="big-50",
            currency="CNY",
            benefit=Benefit(kind="amount_off", amount="50 CNY"),
            conditions=Conditions(min_subtotal="300 CNY"),
            stacking=Stacking(exclusive=True),
        ),
    ]
    best = best_combination(cart, customer, wallet, as_of=DEFAULT_AS_OF)
    quote = best.quote
    _title(out, f"Best coupons for one cart 最优用券 (subtotal {cart.subtotal}, shipping {cart.shipping})")
    for applied in quote.applied:
        _row(out, applied.key, f"-{applied.discount}", applied.stage)
    for key, codes in quote.rejected_reasons().items():
        _row(out, key, "not used", ", ".join(codes))
    _row(out, "to pay 实付", str(quote.total), f"saved {best.discount}")


DEMO_SECTIONS: list[Section] = [
    _section_customers,
    _section_spend,
    _section_cities,
    _section_metrics,
    _section_tags,
    _section_lifecycle,
    _section_rfm,
    _section_membership,
    _section_coupons,
]
"""The demo's sections, in order; each prints a titled block about the customer table to a stream."""


# -- formatting -------------------------------------------------------------------------------------
def _title(out: TextIO, text: str) -> None:
    print(f"\n{text}", file=out)


def _row(out: TextIO, label: str, value: str, note: str = "") -> None:
    line = f"  {_pad(label, _LABEL_WIDTH)}{value:>{_VALUE_WIDTH}}"
    print(f"{line}  {note}".rstrip(), file=out)


def _display_width(text: str) -> int:
    """Terminal columns of ``text``: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(1, width - _display_width(text))


def _count(value: int) -> str:
    return f"{value:,}"


def _percent(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:5.1f} %" if whole else "  n/a"


def _money(value: float) -> str:
    return f"¥{value:,.2f}"
