"""Worst cases for ``Rule.parse`` at the default ``Limits``: how long the slowest legal rule takes.

Run ``python benchmarks/bench_parse_worst.py [--repeat N]``. Each case is the largest rule of its
shape that the default limits accept (``CASES``); the script prints the best-of-N seconds of
``Rule.parse`` for each (parse, AST validation and the checks done when a rule is built, no schema),
as CPU time of this process (``time.process_time``: on a shared machine wall-clock time mostly
measures the other processes) and as wall-clock time. The target is at most 1 second for every case;
``docs/rules.md`` (Safety and limits) quotes the figures.

``tests/rules/test_parser.py`` checks, untimed, that every case here is accepted by the default limits.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_description, print_table

from user_ops import Rule
from user_ops.rules import DEFAULT_LIMITS, Limits

__all__ = ["CASES", "worst_cases"]


def _fit_terms(
    term: str, separator: str, nodes_per_term: int, limits: Limits, *, extra_nodes: int = 1
) -> int:
    """Most copies of ``term`` a chain can hold within the node and text limits."""
    by_nodes = (limits.max_nodes - extra_nodes) // nodes_per_term
    by_text = (limits.max_text_length + len(separator)) // (len(term) + len(separator))
    return min(by_nodes, by_text)


def _chain(term: str, word: str, nodes_per_term: int, limits: Limits) -> str:
    separator = f" {word} "
    return separator.join([term] * _fit_terms(term, separator, nodes_per_term, limits))


def _long_list(item: str, limits: Limits) -> str:
    count = min(limits.max_list_items, limits.max_nodes - 3, (limits.max_text_length - 10) // (len(item) + 1))
    return "x in [" + ",".join([item] * count) + "]"


def _many_lists(limits: Limits) -> str:
    """As many full lists as the node limit allows, joined by or."""
    per_list = min(limits.max_list_items, 10_000)
    lists = (limits.max_nodes - 1) // (per_list + 3)
    one = "x in [" + ",".join(["1"] * per_list) + "]"
    return " or ".join([one] * lists)


def _strings(body: str, limits: Limits) -> str:
    """String literals of the longest allowed body, or-ed until the text limit."""
    term = f'x == "{body}"'
    return _chain(term, "or", 3, limits)


def _deep(limits: Limits) -> str:
    """Nesting to max_depth at every branch of a wide chain: nested parentheses and not."""
    depth = limits.max_depth - 3  # or, and the comparison take three levels
    inner = "not " * depth + "a"
    return _chain(f"({inner})", "or", depth + 1, limits)


def _deep_arithmetic(limits: Limits) -> str:
    """Left-deep arithmetic as deep as allowed, in a wide chain."""
    depth = limits.max_depth - 2
    inner = " + ".join(["a"] * depth) + " > 0"
    return _chain(f"({inner})", "or", 2 * depth + 1, limits)


def _json_chain(limits: Limits) -> dict[str, object]:
    """The canonical JSON AST of the longest or-chain of comparisons within the node limit."""
    term = {
        "kind": "cmp",
        "op": "==",
        "left": {"kind": "field", "name": "a"},
        "right": {"kind": "int", "value": 1},
    }
    return {"kind": "or", "items": [term] * ((limits.max_nodes - 1) // 3)}


def _jsonlogic_chain(limits: Limits) -> dict[str, object]:
    return {"or": [{"==": [{"var": "a"}, 1]}] * ((limits.max_nodes - 1) // 3)}


#: Documents for ``Rule.from_json`` and ``Rule.from_jsonlogic`` (decoded: the JSON text of the first
#: is longer than max_text_length, which bounds text, not documents).
DOCUMENT_CASES: dict[str, tuple[str, Callable[[Limits], dict[str, object]]]] = {
    "JSON AST or-chain of comparisons": ("json", _json_chain),
    "JsonLogic or-chain of comparisons": ("jsonlogic", _jsonlogic_chain),
}


def worst_cases(limits: Limits = DEFAULT_LIMITS) -> dict[str, str]:
    """The rule texts of ``CASES``, built for ``limits``."""
    return {name: build(limits) for name, build in CASES.items()}


CASES: dict[str, Callable[[Limits], str]] = {
    "or-chain of fields (a or a ...)": lambda limits: _chain("a", "or", 1, limits),
    "or-chain of comparisons (a == 1 or ...)": lambda limits: _chain("a == 1", "or", 3, limits),
    "and-chain of calls (f(a) > 1 and ...)": lambda limits: _chain("lower(a) == b", "and", 4, limits),
    "one list of ints (x in [1,1,...])": lambda limits: _long_list("1", limits),
    "one list of datetimes": lambda limits: _long_list("2024-06-18T20:00:00+08:00", limits),
    "one list of decimals": lambda limits: _long_list("1.5", limits),
    "one list of strings": lambda limits: _long_list('"北京"', limits),
    "lists of 10,000 ints, or-ed": _many_lists,
    "10,000-character strings, or-ed": lambda limits: _strings("x" * 10_000, limits),
    "strings of \\n escapes, or-ed": lambda limits: _strings("\\n" * 10_000, limits),
    "strings of \\u escapes, or-ed": lambda limits: _strings("\\u4e2d" * 10_000, limits),
    "not-nesting to max_depth, or-ed": _deep,
    "left-deep a + a + ... to max_depth, or-ed": _deep_arithmetic,
    "backquoted names, or-ed": lambda limits: _chain("`a b`", "or", 1, limits),
    "dotted names, or-ed": lambda limits: _chain("a.b.c.d.e.f.g.h", "or", 1, limits),
    "unary minus runs, or-ed": lambda limits: _chain("- " * 60 + "a", "or", 61, limits),
    "redundant parentheses, or-ed": lambda limits: _chain(
        "(" * (2 * limits.max_depth - 1) + "a" + ")" * (2 * limits.max_depth - 1), "or", 1, limits
    ),
    "whitespace between tokens": lambda limits: _chain("a", " " * 1_000 + "or", 1, limits),
}


def time_parse(text: str, repeat: int, limits: Limits = DEFAULT_LIMITS) -> tuple[float, float]:
    """Best CPU and best wall-clock seconds of ``Rule.parse(text)`` over ``repeat`` runs."""
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        Rule.parse(text, limits=limits)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall


def time_document(form: str, document: dict[str, object], repeat: int) -> tuple[float, float]:
    """Best CPU and wall-clock seconds of ``Rule.from_json`` / ``Rule.from_jsonlogic``."""
    read = Rule.from_json if form == "json" else Rule.from_jsonlogic
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        read(document)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    rows = []
    for name, text in worst_cases().items():
        if args.only not in name:
            continue
        cpu, wall = time_parse(text, args.repeat)
        rows.append([name, f"{len(text):,}", f"{cpu:.3f}", f"{wall:.3f}"])
    for name, (form, build) in DOCUMENT_CASES.items():
        if args.only not in name:
            continue
        cpu, wall = time_document(form, build(DEFAULT_LIMITS), args.repeat)
        rows.append([name, "(a document)", f"{cpu:.3f}", f"{wall:.3f}"])
    print(machine_description())
    print(DEFAULT_LIMITS)
    print_table(["case (default limits)", "characters", "CPU s", "wall s"], rows)


if __name__ == "__main__":
    main()
