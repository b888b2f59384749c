"""The rule language in one page: parse, evaluate one record and a whole table, explain, convert.

Run: ``python examples/rules_quickstart.py``
"""

from __future__ import annotations

from datetime import datetime, timezone

from user_ops import Rule, RuleTypeError, Schema

AS_OF = datetime(2024, 6, 30, 12, tzinfo=timezone.utc)


def main() -> None:
    rule = Rule.parse(
        'orders_90d >= 3 and (city in ["北京", "上海"] or days_since(last_order_at) <= 7)'
    )
    customer = {
        "orders_90d": 2,
        "city": "杭州",
        "last_order_at": datetime(2024, 6, 28, tzinfo=timezone.utc),
    }
    print("one customer:", rule.evaluate_one(customer, as_of=AS_OF))
    print(rule.explain_one(customer, as_of=AS_OF))

    table = {
        "orders_90d": [5, 3, 1, 4],
        "city": ["北京", "杭州", "上海", None],
        "last_order_at": [
            datetime(2024, 6, 1, tzinfo=timezone.utc),
            datetime(2024, 6, 29, tzinfo=timezone.utc),
            None,
            datetime(2024, 1, 1, tzinfo=timezone.utc),
        ],
    }
    print("\nall customers:", rule.evaluate(table, as_of=AS_OF))
    print(rule.explain(table, as_of=AS_OF))

    print("\ncanonical text:", rule.to_text())
    print(
        "JSON AST kinds:",
        rule.to_dict()["kind"],
        [item["kind"] for item in rule.to_dict()["items"]],
    )
    imported = Rule.from_jsonlogic(
        {"and": [{">=": [{"var": "orders_90d"}, 3]}, {"==": [{"var": "city"}, "北京"]}]}
    )
    print("from JsonLogic:", imported.to_text())

    try:
        Rule.parse("orders_90d >= '3'", schema=Schema({"orders_90d": "int"}))
    except RuleTypeError as exc:
        print("\na type error, caught when the rule is built:\n" + str(exc))


if __name__ == "__main__":
    main()
