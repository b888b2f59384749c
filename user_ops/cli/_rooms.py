"""Command-line commands for the rooms beyond analytics: ``tiers`` (membership tiers), ``points``
(points balances), ``issue`` (a coupon issuance plan) and ``coupons check`` / ``coupons quote``.

They follow the conventions of the other data commands ([`user_ops.cli._commands`][]): ``--as-of``
with a UTC offset, ``--tz``, ``--column NAME=COLUMN``, ``--encoding``, ``--date-format``, output
written atomically, one-line errors naming file lines, the same exit codes.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="user_ops")
>>> add_room_commands(parser.add_subparsers(dest="command"))
>>> parser.parse_args(["coupons", "quote", "cart.json", "c.json", "--as-of", "2024-06-30T00:00Z"]).coupons
['c.json']
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any, TextIO

import numpy as np

from user_ops._table import Table
from user_ops.cli._commands import (
    Context,
    add_as_of,
    add_data_options,
    load_policy,
    parse_as_of,
    speak,
    write_json,
)
from user_ops.exceptions import DataError, UserOpsError

__all__ = ["add_room_commands"]

_HISTORY = re.compile(r"history\[(\d+)\]")


def add_room_commands(commands: Any) -> None:
    """Add ``tiers``, ``points``, ``issue`` and ``coupons`` to a subparsers object."""
    _add_tiers(commands)
    _add_points(commands)
    _add_issue(commands)
    _add_coupons(commands)


# -- tiers ------------------------------------------------------------------------------------------
def _add_tiers(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "tiers",
        help="membership tier (会员等级) of every member from a TierPolicy",
        description="Evaluate a TierPolicy (JSON) over a metrics file (one row per member, with the "
        "policy's metric column) or a history file (one row per event: customer_id, at, kind, "
        "amount_minor / points / growth ...). Writes one row per member: tier, labels and what the next "
        "tier takes.",
    )
    add_data_options(parser, what="member metrics or tier events", windows=False)
    add_as_of(parser, required=True)
    parser.add_argument("--policy", required=True, metavar="FILE", help="a TierPolicy JSON file")
    parser.add_argument(
        "--current",
        metavar="COLUMN",
        help="metrics input: the column of each member's current tier; makes it a review (保级)",
    )
    parser.set_defaults(run=run_tiers)


def run_tiers(args: argparse.Namespace, out: TextIO) -> int:
    """``tiers``: a tier per member, from metric values or from an event history."""
    from user_ops.membership import TIER_EVENT_COLUMNS, TierPolicy

    context = Context(args, out)
    policy = load_policy(TierPolicy, args.policy)
    as_of = context.need_as_of("for tiers")
    known = {"customer_id", policy.metric_column, *TIER_EVENT_COLUMNS} | (
        {args.current} if args.current else set()
    )
    table = context.read_input(known)
    if "at" in table and "kind" in table:
        if args.current:
            raise DataError("--current applies to a metrics input; a history holds the tier changes itself")
        result = _tiers_of_history(context, policy, table, as_of)
    else:
        with context.phase(f"evaluating tiers of {len(table):,} members"), context.about_input():
            result = policy.evaluate(table, as_of=as_of, current=args.current)
        result = Table._trusted({name: result[name] for name in result.columns})
    return context.write(result, out)


def _tiers_of_history(context: Context, policy: Any, table: Table, as_of: Any) -> Table:
    table["customer_id"]
    _note_rows_after(context, table, "at", as_of)
    ids = np.asarray(table["customer_id"])
    order = np.argsort(ids, kind="stable")
    starts = np.flatnonzero(np.r_[True, ids[order][1:] != ids[order][:-1]]) if len(ids) else np.zeros(0, int)
    groups = np.split(order, starts[1:]) if len(ids) else []
    events = [name for name in table.columns if name != "customer_id"]
    rows = []
    with context.phase(f"replaying the tier history of {len(groups):,} members"):
        for rows_of_member in groups:
            member = Table._trusted({name: table[name][rows_of_member] for name in events})
            try:
                state = policy.evaluate_one(member, as_of=as_of, tz=context.tz)
            except UserOpsError as exc:
                raise DataError(_member_error(context, exc, rows_of_member)) from None
            rows.append(_state_row(ids[rows_of_member[0]], state))
    return Table.from_records(rows, columns=_STATE_COLUMNS)


def _member_error(context: Context, exc: UserOpsError, rows: Any) -> str:
    """A history error named by the file line of the event (``history[3]`` is the member's 4th row)."""
    message = str(exc).splitlines()[0]
    lines = context.lines

    def line(match: re.Match[str]) -> str:
        row = int(rows[int(match.group(1))])
        return f"line {int(lines[row])}" if lines is not None else f"row {row}"

    return f"{context.name}: {speak(_HISTORY.sub(line, message))}"


_STATE_COLUMNS = [
    "customer_id", "tier", "tier_en", "tier_zh", "tier_index", "metric", "since", "next_review",
    "next_tier", "to_next", "to_keep", "summary_en", "summary_zh",
]  # fmt: skip


def _state_row(customer: Any, state: Any) -> dict[str, Any]:
    return {
        "customer_id": customer.item() if isinstance(customer, np.generic) else customer,
        "tier": state.tier,
        "tier_en": state.tier_en,
        "tier_zh": state.tier_zh,
        "tier_index": state.index,
        "metric": state.metric,
        "since": state.since,
        "next_review": state.next_review,
        "next_tier": None if state.to_next is None else state.to_next.tier,
        "to_next": None if state.to_next is None else state.to_next.needed,
        "to_keep": None if state.to_keep is None else state.to_keep.needed,
        "summary_en": state.summary("en"),
        "summary_zh": state.summary("zh"),
    }


def _note_rows_after(context: Context, table: Table, column: str, as_of: Any) -> None:
    """The --as-of convention for event files: a note with the count left out; none used is an error."""
    if table.kind(column) != "datetime" or len(table) == 0:
        return
    cutoff = np.datetime64(int(as_of.timestamp() * 1_000_000), "us")
    after = int(np.count_nonzero(table[column] >= cutoff))
    if after == len(table):
        raise DataError(
            f"{context.name}: every one of its {len(table):,} rows is at or after --as-of "
            f"{context.args.as_of}, so no row is used; choose a later --as-of"
        )
    if after:
        context.note(
            f"left out {after:,} row{'s' if after > 1 else ''} at or after --as-of {context.args.as_of} "
            f"({len(table) - after:,} of {len(table):,} used)"
        )


# -- points -----------------------------------------------------------------------------------------
def _add_points(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "points",
        help="points balances (积分) of every member from a ledger file",
        description="Replay a points ledger (customer_id, key, kind, points, at; optional ref, event, "
        "order_id, available_at, expires_at, note) at --as-of: one row of balances per member.",
    )
    add_data_options(parser, what="ledger entries", windows=False)
    add_as_of(parser, required=True)
    parser.add_argument("--policy", metavar="FILE", help="a PointsPolicy JSON file (default: PointsPolicy())")
    parser.add_argument(
        "--horizon", metavar="DURATION", help="fill the 'expiring' column: points expiring within it (30d)"
    )
    parser.set_defaults(run=run_points)


def run_points(args: argparse.Namespace, out: TextIO) -> int:
    """``points``: balances per member at ``--as-of``."""
    from user_ops.membership import PointsPolicy, balances

    context = Context(args, out)
    policy = load_policy(PointsPolicy, args.policy) if args.policy else PointsPolicy()
    as_of = context.need_as_of("for points")
    known = {"customer_id", "key", "kind", "points", "at", "ref", "event", "order_id"}
    table = context.read_input(known | {"available_at", "expires_at", "note"})
    if "at" in table:
        _note_rows_after(context, table, "at", as_of)
    with context.phase(f"replaying {len(table):,} ledger entries"), context.about_input():
        result = balances(table, as_of=as_of, policy=policy, horizon=args.horizon)
    return context.write(result, out)


# -- issue ------------------------------------------------------------------------------------------
def _add_issue(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "issue",
        help="an issuance plan (定向发券): who gets a coupon template, and why not",
        description="Decide who gets a coupon template (JSON) from a customers file (one row per "
        "customer: customer_id plus the columns the rules read): one row per customer with its reason "
        "(SELECTED, NOT_IN_AUDIENCE, QUIET_PERIOD, BUDGET_COUNT, ...) and rank.",
    )
    add_data_options(parser, what="customers", windows=False)
    add_as_of(parser, required=True)
    parser.add_argument("--template", required=True, metavar="FILE", help="a CouponTemplate JSON file")
    parser.add_argument(
        "--audience", metavar="RULE", help="who the campaign targets, e.g. 'stage == \"churn\"'"
    )
    parser.add_argument(
        "--contacts",
        metavar="FILE",
        help="past contacts (.csv or .parquet: customer_id, at; optional channel, kind) for --quiet-period",
    )
    parser.add_argument("--quiet-period", metavar="DURATION", help="skip customers contacted within it (7d)")
    parser.add_argument("--max-count", type=int, metavar="N", help="issue to at most N customers")
    parser.add_argument(
        "--max-value", metavar="MONEY", help="at most this face value in all, e.g. '3000 CNY'"
    )
    parser.add_argument("--priority", metavar="COLUMN", help="rank customers by this column, highest first")
    parser.set_defaults(run=run_issue)


def run_issue(args: argparse.Namespace, out: TextIO) -> int:
    """``issue``: the plan's table (reason and rank per customer)."""
    from user_ops.coupons import CouponTemplate, IssuanceBudget, IssuanceCaps, plan_issuance
    from user_ops.metrics import column_names
    from user_ops.rules import Rule

    context = Context(args, out)
    template = load_policy(CouponTemplate, args.template)
    as_of = context.need_as_of("for issuance")
    with context.about_input():
        audience = None if args.audience is None else Rule.parse(args.audience)
        caps = IssuanceCaps(quiet_period=args.quiet_period) if args.quiet_period else None
        budget = None
        if args.max_count is not None or args.max_value or args.priority:
            budget = IssuanceBudget(count=args.max_count, value=args.max_value, priority=args.priority)
    fields = set(column_names(["30d", "90d", "365d"])) | {"customer_id", "tags", "segment", "stage", "tier"}
    for rule in (audience, template.audience):
        if rule is not None:
            fields |= set(rule.fields)
    if args.priority:
        fields.add(args.priority)
    customers = context.read_input(fields)
    contacts = _contacts(context, args.contacts) if args.contacts else None
    with context.phase(f"planning issuance over {len(customers):,} customers"), context.about_input():
        plan = plan_issuance(
            template,
            customers,
            audience=audience,
            as_of=as_of,
            contact_history=contacts,
            caps=caps,
            budget=budget,
            tz=context.tz,
        )
    context.note(
        f"{plan.selected:,} of {len(customers):,} customers selected "
        f"({plan.face_value_total or 'no'} face value)"
    )
    return context.write(Table._trusted({name: plan.table[name] for name in plan.table.columns}), out)


def _contacts(context: Context, path: str) -> Table:
    from user_ops._table_io import CLI, CsvOptions, read_file

    options = CsvOptions.make(
        encoding=context.args.encoding,
        date_format=context.args.date_format,
        date_columns=("at",),
        tz=context.tz,
        spelling=CLI,
    )
    table, _lines = read_file(path, options)
    try:
        table["customer_id"]
        table["at"]
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    return table


# -- coupons ----------------------------------------------------------------------------------------
def _add_coupons(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "coupons",
        help="check or quote coupons (优惠券) on one cart (JSON in, JSON out)",
        description="Check coupons one by one against a cart, or price the cart with them.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text, run in (
        (
            "check",
            "is each coupon usable on the cart, and if not, why (reason codes with numbers)",
            run_check,
        ),
        ("quote", "price the cart with the coupons: applied, rejected, per-line split, total", run_quote),
    ):
        action: argparse.ArgumentParser = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("cart", metavar="CART", help="a Cart JSON file ('-': stdin)")
        action.add_argument(
            "coupons",
            nargs="+",
            metavar="COUPON",
            help="CouponTemplate or IssuedCoupon JSON files (a file may hold a list)",
        )
        add_as_of(action, required=True)
        action.add_argument(
            "--customer",
            metavar="FILE",
            help="a CustomerContext JSON file (id, tags, tier, order_count, ...; default: an anonymous "
            "customer)",
        )
        action.add_argument(
            "--out", "-o", metavar="FILE", help="write the JSON to FILE, atomically (default: stdout)"
        )
        action.set_defaults(run=run)


def _cart_inputs(args: argparse.Namespace) -> tuple[Any, Any, list[Any], Any]:
    from user_ops.coupons import Cart, CouponTemplate, CustomerContext, IssuedCoupon

    if args.out and not args.out.lower().endswith(".json"):  # refuse before any work
        raise DataError(f"coupons {args.action} writes JSON: name the --out file *.json, not {args.out!r}")
    as_of = parse_as_of(args.as_of)
    cart = load_policy(Cart, args.cart)
    customer = (
        load_policy(CustomerContext, args.customer) if args.customer else CustomerContext(id="anonymous")
    )
    coupons: list[Any] = []
    for path in args.coupons:
        coupons.extend(_load_coupons(path, CouponTemplate, IssuedCoupon))
    return cart, customer, coupons, as_of


def _load_coupons(path: str, template_type: Any, issued_type: Any) -> list[Any]:
    """A file holding a template, an issued coupon (it has a ``code``), or a list of them."""
    from user_ops.cli._commands import _read_text

    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}:{exc.colno}: $: not JSON: {exc.msg}") from None
    if isinstance(data, list):
        items = data
    else:
        return [load_policy(issued_type if _is_issued(data) else template_type, path)]
    coupons = []
    for index, item in enumerate(items):
        kind = issued_type if _is_issued(item) else template_type
        try:
            coupons.append(kind.from_json(item) if hasattr(kind, "from_json") else kind.model_validate(item))
        except Exception as exc:  # pydantic's or ours: one line naming the item
            first = str(exc).splitlines()[0]
            raise DataError(
                f"{path}: $[{index}]: not a valid {kind.__name__}: {first}; run 'validate "
                f"CouponTemplate' on it alone for every problem"
            ) from None
    return coupons


def _is_issued(data: Any) -> bool:
    return isinstance(data, dict) and "code" in data and "template" in data


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    """``coupons check``: one eligibility per coupon, in the order given."""
    from user_ops.coupons import check

    cart, customer, coupons, as_of = _cart_inputs(args)
    results = [check(coupon, cart, customer, as_of=as_of).to_dict() for coupon in coupons]
    write_json(_plain(results), args.out, out)
    return 0


def run_quote(args: argparse.Namespace, out: TextIO) -> int:
    """``coupons quote``: the priced cart."""
    from user_ops.coupons import quote

    cart, customer, coupons, as_of = _cart_inputs(args)
    write_json(_plain(quote(cart, customer, coupons, as_of=as_of).to_dict()), args.out, out)
    return 0


def _plain(value: Any) -> Any:
    """JSON-ready: money and instants as text, tuples as lists."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
