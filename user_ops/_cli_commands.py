"""The data and policy commands of the command line: ``metrics``, ``rfm``, ``tags``, ``lifecycle``,
``schema`` and ``validate`` (``demo`` lives in :mod:`user_ops.cli`).

Each ``run_*`` function takes the parsed arguments and the output stream and returns the exit code;
bad input raises a :class:`~user_ops.UserOpsError`, which :func:`user_ops.cli.main` prints as one line.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="user_ops")
>>> add_commands(parser.add_subparsers(dest="command"), registry={"TagSet": "user_ops.tags:TagSet"})
>>> parser.parse_args(["tags", "m.csv", "--as-of", "2024-06-30T00:00:00+08:00"]).as_of
'2024-06-30T00:00:00+08:00'
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from user_ops._cli_io import check_writable_format, read_table, rename_columns, write_table
from user_ops._cli_policies import (
    available_policy_types,
    check_policy_text,
    policy_schema,
    resolve_policy_type,
)
from user_ops._cli_progress import Progress
from user_ops._table import Table
from user_ops._time import get_tz, require_aware
from user_ops.exceptions import ConfigError, DataError

__all__ = ["add_commands", "parse_as_of"]

_TRANSACTION_MARKERS = ("ordered_at", "amount")


# -- arguments --------------------------------------------------------------------------------------
def add_commands(commands: Any, *, registry: Mapping[str, str]) -> None:
    """Add ``metrics``, ``rfm``, ``tags``, ``lifecycle``, ``schema`` and ``validate`` to a subparsers
    object; ``registry`` maps policy type names to ``"module:attribute"``."""
    _add_metrics(commands)
    _add_rfm(commands)
    _add_tags(commands)
    _add_lifecycle(commands)
    _add_schema(commands, registry)
    _add_validate(commands, registry)


def _data_parser(commands: Any, name: str, *, help: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=description)
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="a .csv or .parquet file of transactions or metrics ('-': CSV on stdin)",
    )
    parser.add_argument(
        "--out",
        "-o",
        metavar="FILE",
        help="write a .csv or .parquet file (default: CSV on stdout; Parquet needs the arrow extra)",
    )
    parser.add_argument(
        "--column",
        "-c",
        action="append",
        default=[],
        type=_column_pair,
        metavar="NAME=THEIRS",
        help="read the input column THEIRS as NAME (repeatable), e.g. --column customer_id=cust",
    )
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="business time zone (IANA name) for calendar days; also the zone of date-times in the "
        "input without a UTC offset (default: the zone of --as-of)",
    )
    parser.add_argument(
        "--windows",
        metavar="LIST",
        default=None,
        help="metric windows when the input is transactions, comma-separated (default: 30d,90d,365d)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress indicator on stderr")
    return parser


def _add_as_of(parser: argparse.ArgumentParser, *, required: bool) -> None:
    needed = "" if required else " (needed when the input is transactions)"
    parser.add_argument(
        "--as-of",
        required=required,
        metavar="TIME",
        help=f"timezone-aware ISO 8601 evaluation instant, e.g. 2024-06-30T00:00:00+08:00{needed}",
    )


def _add_metrics(commands: Any) -> None:
    parser = _data_parser(
        commands,
        "metrics",
        help="transactions in, per-customer metrics (R, F, M, windows, cycle) out",
        description="Read a purchase log (customer_id, ordered_at, amount; optional order_id, "
        "is_promo, discount, unit_price, ...) and write one row of metrics per customer.",
    )
    _add_as_of(parser, required=True)
    parser.set_defaults(run=run_metrics)


def _add_rfm(commands: Any) -> None:
    parser = _data_parser(
        commands,
        "rfm",
        help="RFM scores and segments (fit a model, or score with a saved one)",
        description="Score customers on recency, frequency and monetary value and name their segment. "
        "The input is metrics (recency_days, frequency, monetary) or transactions (turned into metrics).",
    )
    _add_as_of(parser, required=False)
    parser.add_argument(
        "--model", metavar="FILE", help="score with this fitted model (JSON) instead of fitting"
    )
    parser.add_argument("--save-model", metavar="FILE", help="write the fitted model as a JSON document")
    parser.add_argument(
        "--method", choices=("quantile", "mean"), default="quantile", help="how to fit (quantile)"
    )
    parser.add_argument("--bins", type=int, default=5, metavar="N", help="scores per dimension, quantile (5)")
    parser.add_argument("--summary", action="store_true", help="write the per-segment summary instead")
    parser.set_defaults(run=run_rfm)


def _add_tags(commands: Any) -> None:
    parser = _data_parser(
        commands,
        "tags",
        help="tags (标签) of every customer from a tag set",
        description="Evaluate a tag set (JSON; default: the built-in default tags) over per-customer "
        "metrics: one true/false column per tag.",
    )
    _add_as_of(parser, required=True)
    parser.add_argument("--tags", metavar="FILE", help="a TagSet JSON file (default: default_tags())")
    parser.add_argument("--summary", action="store_true", help="write the per-tag counts instead")
    parser.set_defaults(run=run_tags)


def _add_lifecycle(commands: Any) -> None:
    parser = _data_parser(
        commands,
        "lifecycle",
        help="lifecycle stage (生命周期) and action of every customer",
        description="Classify customers into lifecycle stages with a policy (JSON; default: the "
        "built-in policy with the population's repurchase cycle) and name the action for each.",
    )
    _add_as_of(parser, required=True)
    parser.add_argument("--policy", metavar="FILE", help="a LifecyclePolicy JSON file (default: built in)")
    parser.add_argument("--summary", action="store_true", help="write the per-stage summary instead")
    parser.set_defaults(run=run_lifecycle)


def _add_schema(commands: Any, registry: Mapping[str, str]) -> None:
    parser = commands.add_parser(
        "schema",
        help="print the JSON Schema of a policy type",
        description="Print the JSON Schema of a policy type (for admin UIs and validators). Without a "
        "type, list the types available.",
    )
    parser.add_argument("type", nargs="?", metavar="TYPE", help=f"one of {', '.join(sorted(registry))}")
    parser.add_argument(
        "--document",
        action="store_true",
        help="the schema of the versioned document (type, schema_version, content_hash, policy)",
    )
    parser.set_defaults(run=run_schema, registry=registry)


def _add_validate(commands: Any, registry: Mapping[str, str]) -> None:
    parser = commands.add_parser(
        "validate",
        help="check a policy JSON file, printing every problem with its position",
        description="Check a policy JSON file (the policy itself, or its versioned document). Prints "
        "each problem as FILE:LINE:COLUMN: JSON-PATH: message and exits with 1 if there is any.",
    )
    parser.add_argument("type", metavar="TYPE", help=f"one of {', '.join(sorted(registry))}")
    parser.add_argument("file", metavar="FILE", help="the JSON file ('-': stdin)")
    parser.set_defaults(run=run_validate, registry=registry)


def _column_pair(text: str) -> tuple[str, str]:
    ours, sep, theirs = text.partition("=")
    if not sep or not ours.strip() or not theirs.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=THEIRS, e.g. customer_id=cust; got {text!r}")
    return ours.strip(), theirs.strip()


# -- shared steps -----------------------------------------------------------------------------------
def parse_as_of(text: str) -> datetime:
    """The ``--as-of`` value: an ISO 8601 instant with a UTC offset (``Z`` allowed).

    Raises
    ------
    DataError
        For text that is not an ISO 8601 date-time, or one without a UTC offset.

    Examples
    --------
    >>> parse_as_of("2024-06-30T00:00:00+08:00").utcoffset()
    datetime.timedelta(seconds=28800)
    >>> parse_as_of("2024-06-30")
    Traceback (most recent call last):
    ...
    user_ops.exceptions.DataError: --as-of 2024-06-30 has no UTC offset; write e.g. ...
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise DataError(
            f"--as-of {text!r} is not an ISO 8601 date-time (e.g. 2024-06-30T00:00:00+08:00)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise DataError(
            f"--as-of {text} has no UTC offset; write e.g. {value.date().isoformat()}T00:00:00+08:00 or ...Z"
        )
    return require_aware(value, name="--as-of")


class _Context:
    """What every data command needs: the progress line, the zone, the as-of instant."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        if args.out:
            check_writable_format(args.out)
        self.progress = Progress(sys.stderr, enabled=not args.quiet, prog=args.prog)
        self.as_of = None if getattr(args, "as_of", None) is None else parse_as_of(args.as_of)
        self.tz: tzinfo | None = get_tz(args.tz) if args.tz else None
        if self.tz is None and self.as_of is not None:
            self.tz = self.as_of.tzinfo

    @contextmanager
    def phase(self, message: str) -> Iterator[None]:
        with self.progress.phase(message):
            yield

    def need_as_of(self, why: str) -> datetime:
        if self.as_of is None:
            raise DataError(f"--as-of is needed {why}")
        return self.as_of

    def read_input(self) -> Table:
        path = self.args.input
        with self.phase(f"reading {path}"):
            if path == "-":
                from user_ops._cli_io import read_csv

                table = read_csv(sys.stdin, name="<stdin>", tz=self.tz)
            else:
                table = read_table(path, tz=self.tz)
        return rename_columns(table, dict(self.args.column))

    def metrics(self, table: Table) -> Table:
        """``table`` itself when it holds metrics, else the customer metrics of its transactions."""
        if not all(name in table for name in _TRANSACTION_MARKERS):
            return table
        from user_ops.metrics import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Transactions, customer_metrics

        as_of = self.need_as_of("to compute metrics from transactions")
        known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
        ignored = [name for name in table.columns if name not in known]
        if ignored and not self.args.quiet:
            print(f"{self.args.prog}: note: ignoring columns {', '.join(ignored)}", file=sys.stderr)
        with self.phase(f"computing metrics of {len(table):,} rows"):
            transactions = Transactions(table.select([n for n in table.columns if n in known]), tz=self.tz)
            options: dict[str, Any] = {}
            if self.args.windows:
                options["windows"] = [w.strip() for w in self.args.windows.split(",") if w.strip()]
            result: Table = customer_metrics(transactions, as_of=as_of, tz=self.tz, **options)
        return result

    def write(self, table: Table, out: TextIO) -> int:
        target = self.args.out
        with self.phase(f"writing {target or 'CSV'}"):
            write_table(table, target, stdout=out)
        return 0


def load_policy(cls: Any, path: str) -> Any:
    """A policy of type ``cls`` from a JSON file holding the policy or its versioned document.

    Raises
    ------
    DataError
        For a file that cannot be read.
    ConfigError
        For a file that is not a valid policy: the first problem with its position, on one line.
    """
    text = _read_text(path)
    problems = check_policy_text(text, cls)
    if problems:
        first = problems[0].render(path).splitlines()[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{first}{more}; run 'validate {cls.__name__} {path}' for details")
    data = json.loads(text)
    if isinstance(data, dict) and {"type", "schema_version", "policy"} <= set(data):
        return cls.from_document(data)
    return cls.from_json(data)


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"cannot read {path!r}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"cannot read {path!r}: it is a directory") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {path!r}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(f"cannot read {path!r}: {exc.strerror or exc}") from None


def _with_ids(result: Table, source: Table) -> Table:
    """``result`` with the source's ``customer_id`` in front (when the source has it and result lacks it)."""
    if "customer_id" in result or "customer_id" not in source:
        return result
    return Table._trusted({"customer_id": source["customer_id"], **{n: result[n] for n in result.columns}})


# -- commands ---------------------------------------------------------------------------------------
def run_metrics(args: argparse.Namespace, out: TextIO) -> int:
    """``metrics``: transactions in, per-customer metrics out."""
    context = _Context(args)
    table = context.read_input()
    if not all(name in table for name in _TRANSACTION_MARKERS):
        missing = [n for n in ("customer_id", *_TRANSACTION_MARKERS) if n not in table]
        raise DataError(
            f"{args.input} has no column {', '.join(map(repr, missing))}: transactions need customer_id, "
            "ordered_at and amount (map yours with --column customer_id=THEIRS)"
        )
    return context.write(context.metrics(table), out)


def run_rfm(args: argparse.Namespace, out: TextIO) -> int:
    """``rfm``: scores and segments, from a fitted model file or fitted here."""
    from user_ops.rfm import RFMModel, segment_summary

    context = _Context(args)
    metrics = context.metrics(context.read_input())
    if args.model:
        model = load_policy(RFMModel, args.model)
        if not model.is_fitted:
            raise ConfigError(
                f"{args.model} holds an RFM model that is not fitted; fit one with --save-model"
            )
    else:
        options: dict[str, Any] = {"bins": args.bins} if args.method == "quantile" else {}
        with context.phase(f"fitting RFM ({args.method}) on {len(metrics):,} customers"):
            model = RFMModel(method=args.method, **options).fit(metrics)
    if args.save_model:
        _write_json(model.to_document(), args.save_model)
    with context.phase(f"scoring {len(metrics):,} customers"):
        scores = model.score(metrics)
        result = segment_summary(scores, metrics) if args.summary else scores
    return context.write(result, out)


def run_tags(args: argparse.Namespace, out: TextIO) -> int:
    """``tags``: one true/false column per tag of a tag set."""
    from user_ops.tags import TagSet, default_tags

    context = _Context(args)
    tag_set = load_policy(TagSet, args.tags) if args.tags else default_tags()
    metrics = context.metrics(context.read_input())
    with context.phase(f"evaluating {len(tag_set)} tags on {len(metrics):,} customers"):
        tags = tag_set.evaluate(metrics, as_of=context.need_as_of("for tags"), tz=context.tz)
        result = tags.summary() if args.summary else _with_ids(tags, metrics)
    return context.write(result, out)


def run_lifecycle(args: argparse.Namespace, out: TextIO) -> int:
    """``lifecycle``: every customer's stage and action."""
    from user_ops.lifecycle import LifecyclePolicy

    context = _Context(args)
    policy = load_policy(LifecyclePolicy, args.policy) if args.policy else None
    metrics = context.metrics(context.read_input())
    if policy is None:
        policy = LifecyclePolicy.default_for(metrics)
    with context.phase(f"classifying {len(metrics):,} customers"):
        stages = policy.classify(metrics, as_of=context.need_as_of("for lifecycle stages"), tz=context.tz)
        result = stages.summary(metrics) if args.summary else stages
    return context.write(result, out)


def run_schema(args: argparse.Namespace, out: TextIO) -> int:
    """``schema``: the JSON Schema of a policy type, or the list of types."""
    if args.type is None:
        for name in available_policy_types(args.registry):
            print(name, file=out)
        return 0
    cls = resolve_policy_type(args.type, args.registry)
    schema = policy_schema(cls, document=args.document)
    print(json.dumps(schema, indent=2, ensure_ascii=False), file=out)
    return 0


def run_validate(args: argparse.Namespace, out: TextIO) -> int:
    """``validate``: every problem of a policy file with its position; exit 1 if there is any."""
    cls = resolve_policy_type(args.type, args.registry)
    text = _read_text(args.file)
    problems = check_policy_text(text, cls)
    name = "<stdin>" if args.file == "-" else args.file
    for problem in problems:
        print(problem.render(name), file=out)
    if problems:
        print(f"{name}: {len(problems)} problem{'s' if len(problems) > 1 else ''}", file=out)
        return 1
    print(f"{name}: a valid {args.type}", file=out)
    return 0


def _write_json(document: Mapping[str, Any], path: str) -> None:
    try:
        Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write {path!r}: {exc.strerror or exc}") from None
