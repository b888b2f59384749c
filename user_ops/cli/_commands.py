"""The data and policy commands of the command line: ``metrics``, ``rfm``, ``tags``, ``lifecycle``,
``schema`` and ``validate`` (``demo`` lives in [`user_ops.cli`][]; ``tiers``, ``points``, ``issue``
and ``coupons`` in [`user_ops.cli._rooms`][]), and what every data command shares: reading the
input with its options, file lines in messages, the ``--as-of`` instant, atomic output.

Each ``run_*`` function takes the parsed arguments and the output stream and returns the exit code;
bad input raises a [`UserOpsError`][], which [`user_ops.cli.main`][] prints as one line.

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
import difflib
import json
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from user_ops._table import Table
from user_ops._table_io import (
    CLI,
    CsvOptions,
    at_file_lines,
    check_writable_format,
    located,
    read_csv_text,
    read_file,
    write_table,
    write_text,
)
from user_ops._time import get_tz, require_aware
from user_ops.cli._policies import (
    available_policy_types,
    check_policy_text,
    policy_schema,
    resolve_policy_type,
)
from user_ops.cli._progress import Progress
from user_ops.exceptions import ConfigError, DataError

__all__ = ["Context", "add_commands", "add_data_options", "load_policy", "parse_as_of", "write_json"]

_TRANSACTION_MARKERS = ("ordered_at", "amount")
_TIME_COLUMNS = ("ordered_at", "registered_at", "at", "until", "available_at", "expires_at")
_NUMBER_COLUMNS = ("amount", "discount", "unit_price", "quantity")
# Library messages name Python keywords; the command line's users know the flags.
_FLAGS = (("population_cycle_days=...", "--population-cycle-days N"),)


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


def add_data_options(
    parser: argparse.ArgumentParser, *, what: str, windows: bool = True, optional_input: bool = False
) -> None:
    """The options every data command shares: INPUT, --out, --column, --tz, --encoding, --date-format,
    --quiet (and --windows for the commands that turn transactions into metrics)."""
    parser.add_argument(
        "input",
        metavar="INPUT",
        nargs="?" if optional_input else None,
        help=f"a .csv or .parquet file of {what} ('-': CSV on stdin)",
    )
    parser.add_argument(
        "--out",
        "-o",
        metavar="FILE",
        help="write a .csv or .parquet file, atomically (default: CSV on stdout; Parquet needs the "
        "arrow extra)",
    )
    parser.add_argument(
        "--column",
        "-c",
        action="append",
        default=[],
        type=_column_pair,
        metavar="NAME=COLUMN",
        help="read the input's COLUMN as NAME (repeatable), e.g. --column customer_id=cust",
    )
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="business time zone (IANA name) for calendar days; also the zone of date-times in the "
        "input without a UTC offset (default: the zone of --as-of)",
    )
    parser.add_argument(
        "--encoding",
        default="utf-8",
        metavar="NAME",
        help="the CSV file's encoding (utf-8, a byte-order mark is fine; gb18030 or gbk for Excel in China)",
    )
    parser.add_argument(
        "--date-format",
        metavar="FORMAT",
        help="strptime format of the date columns when not ISO 8601, e.g. %%Y%%m%%d (CDNOW) or "
        "'%%d/%%m/%%Y %%H:%%M'",
    )
    if windows:
        parser.add_argument(
            "--windows",
            metavar="LIST",
            default=None,
            help="metric windows when the input is transactions, comma-separated (default: 30d,90d,365d)",
        )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress line and no notes on stderr")


def _data_parser(commands: Any, name: str, *, help: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=description)
    add_data_options(parser, what="transactions or metrics")
    return parser


def add_as_of(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The --as-of option (``required``, or only needed for transactions)."""
    needed = "" if required else " (needed when the input is transactions)"
    parser.add_argument(
        "--as-of",
        required=required,
        metavar="TIME",
        help=f"timezone-aware ISO 8601 evaluation instant, e.g. 2024-06-30T00:00:00+08:00{needed}",
    )


def _add_metrics(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "metrics",
        help="transactions in, per-customer metrics (R, F, M, windows, cycle) out",
        description="Read a purchase log (customer_id, ordered_at, amount; optional order_id, "
        "is_promo, discount, unit_price, ...) and write one row of metrics per customer. Rows at or "
        "after --as-of are left out, with a note on stderr.",
    )
    add_data_options(parser, what="transactions")
    add_as_of(parser, required=True)
    parser.set_defaults(run=run_metrics)


def _add_rfm(commands: Any) -> None:
    parser = _data_parser(
        commands,
        "rfm",
        help="RFM scores and segments (fit a model, or score with a saved one)",
        description="Score customers on recency, frequency and monetary value and name their segment. "
        "The input is metrics (recency_days, frequency, monetary) or transactions (turned into metrics).",
    )
    add_as_of(parser, required=False)
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
    add_as_of(parser, required=True)
    parser.add_argument("--tags", metavar="FILE", help="a TagSet JSON file (default: default_tags())")
    parser.add_argument("--summary", action="store_true", help="write the per-tag counts instead")
    parser.set_defaults(run=run_tags)


def _add_lifecycle(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "lifecycle",
        help="lifecycle stage (生命周期) and action of every customer",
        description="Classify customers into lifecycle stages with a policy (JSON; default: the "
        "built-in policy with the population's repurchase cycle) and name the action for each. "
        "--print-policy / --save-policy show the policy used, to edit into a --policy file.",
    )
    add_data_options(parser, what="transactions or metrics", optional_input=True)
    add_as_of(parser, required=False)
    parser.add_argument("--policy", metavar="FILE", help="a LifecyclePolicy JSON file (default: built in)")
    parser.add_argument(
        "--population-cycle-days",
        type=_positive_float,
        metavar="DAYS",
        help="the built-in policy's population cycle (default: the median repurchase cycle of the "
        "input's repeat buyers)",
    )
    parser.add_argument(
        "--print-policy",
        action="store_true",
        help="print the policy used (a JSON document) instead of the stages",
    )
    parser.add_argument("--save-policy", metavar="FILE", help="also write the policy used to FILE (JSON)")
    parser.add_argument("--summary", action="store_true", help="write the per-stage summary instead")
    parser.set_defaults(run=run_lifecycle)


def _add_schema(commands: Any, registry: Mapping[str, str]) -> None:
    parser = commands.add_parser(
        "schema",
        help="print the JSON Schema of a policy type",
        description="Print the JSON Schema of a policy type (for admin UIs and validators); the name "
        "is case-insensitive. Without a type, list the types available.",
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
        raise argparse.ArgumentTypeError(f"expected NAME=COLUMN, e.g. customer_id=cust; got {text!r}")
    return ours.strip(), theirs.strip()


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of days, got {text!r}")
    return value


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


def speak(message: str) -> str:
    """A library message in the command line's words: flags, not Python keywords."""
    message = CLI.speak(message)
    for python, flag in _FLAGS:
        message = message.replace(python, flag)
    return message


class Context:
    """What every data command needs: the progress line, the zone, the as-of instant, the input (with
    the file line of each row, for messages) and the output."""

    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.args = args
        if args.out:
            check_writable_format(args.out)
        # The progress line goes to stderr only when it cannot mix with the output: stderr is a
        # terminal, and the CSV goes to a file or a pipe (not to that same terminal).
        to_screen = args.out is None and _is_terminal(out)
        self.progress = Progress(sys.stderr, enabled=not args.quiet and not to_screen, prog=args.prog)
        self.as_of = None if getattr(args, "as_of", None) is None else parse_as_of(args.as_of)
        self.tz: tzinfo | None = get_tz(args.tz) if args.tz else None
        if self.tz is None and self.as_of is not None:
            self.tz = self.as_of.tzinfo
        self.lines: Any = None
        self.name = "<stdin>" if args.input == "-" else str(args.input)

    @contextmanager
    def phase(self, message: str) -> Iterator[None]:
        with self.progress.phase(message):
            yield

    def note(self, message: str) -> None:
        if not self.args.quiet:
            print(f"{self.args.prog}: note: {message}", file=sys.stderr)

    def need_as_of(self, why: str) -> datetime:
        if self.as_of is None:
            raise DataError(f"--as-of is needed {why}")
        return self.as_of

    @contextmanager
    def about_input(self) -> Iterator[None]:
        """Library errors about the input's data: named by the input's file lines, in CLI words."""
        try:
            yield
        except DataError as exc:
            text = str(exc)
            if text.startswith(self.name):
                raise
            raise DataError(located(self.name, speak(at_file_lines(text, self.lines)))) from None
        except ConfigError as exc:
            raise ConfigError(speak(str(exc))) from None

    def read_input(self, known: Collection[str]) -> Table:
        """The input file, its columns renamed by --column (whose names must be among ``known``)."""
        mapping = dict(self.args.column)
        _check_mapping(mapping, known, command=self.args.command)
        options = CsvOptions.make(
            encoding=self.args.encoding,
            date_format=self.args.date_format,
            date_columns=_TIME_COLUMNS,
            tz=self.tz,
            columns=mapping,
            spelling=CLI,
        )
        with self.phase(f"reading {self.name}"):
            if self.args.input == "-":
                table, self.lines = read_csv_text(
                    _string(_stdin_text(options)), name=self.name, options=options
                )
            else:
                table, self.lines = read_file(self.args.input, options)
        if len(table) == 0:  # a header-only result with exit code 0 would look like success
            raise DataError(f"{self.name} has no rows (only a header): nothing to compute")
        return table

    def metrics(self, table: Table) -> Table:
        """``table`` itself when it holds metrics, else the customer metrics of its transactions."""
        if not all(name in table for name in _TRANSACTION_MARKERS):
            return table
        from user_ops.metrics import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Transactions, customer_metrics

        as_of = self.need_as_of("to compute metrics from transactions")
        known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
        ignored = [name for name in table.columns if name not in known]
        if ignored:
            self.note(f"ignoring columns {', '.join(ignored)}")
        for name in _NUMBER_COLUMNS:
            if name in table:
                self._check_numbers(table, name)
        self._check_time_column(table, "ordered_at")
        with self.phase(f"computing metrics of {len(table):,} rows"), self.about_input():
            transactions = Transactions(table.select([n for n in table.columns if n in known]), tz=self.tz)
            options: dict[str, Any] = {}
            if self.args.windows:
                options["windows"] = [w.strip() for w in self.args.windows.split(",") if w.strip()]
            result: Any = customer_metrics(transactions, as_of=as_of, tz=self.tz, **options)
        self._report_as_of(result.report, transactions)
        # From here on a row is a customer, not a line of the file: messages say which.
        self.lines = None
        self.name = f"the customer metrics of {self.name}"
        return Table._trusted({name: result[name] for name in result.columns})

    def _report_as_of(self, report: Any, transactions: Any) -> None:
        """Say how many rows --as-of left out; no row used is an error, never an empty result."""
        stamp = self.args.as_of
        if report.rows and report.rows_used == 0:
            earliest = np.min(transactions.table["ordered_at"]).astype("datetime64[s]")
            raise DataError(
                f"{self.name}: every one of its {report.rows:,} rows is at or after --as-of {stamp} (the "
                f"earliest is {earliest}Z), so no row is used; choose a later --as-of"
            )
        if report.rows_after_as_of:
            rows = report.rows_after_as_of
            self.note(
                f"left out {rows:,} row{'s' if rows > 1 else ''} at or after --as-of {stamp} "
                f"({report.rows_used:,} of {report.rows:,} used)"
            )

    def _check_numbers(self, table: Table, name: str) -> None:
        """A number column typed as text holds a cell that is no number: name the first one."""
        if table.kind(name) != "str":
            return
        for index, cell in enumerate(table[name].tolist()):
            if cell is None:
                continue
            try:
                float(cell)
            except ValueError:
                raise DataError(
                    f"{self.name} line {self._line(index)}: column {self._source(name)} holds {cell!r}, "
                    "not a number"
                ) from None

    def _check_time_column(self, table: Table, name: str) -> None:
        if name in table and table.kind(name) == "int":
            raise DataError(
                f"{self.name} line {self._line(0)}: column {self._source(name)} holds "
                f"{np.ma.getdata(table[name])[0].item()!r}, not a date; name its format with --date-format, "
                "e.g. %Y%m%d"
            )

    def _line(self, index: int) -> int | str:
        return int(self.lines[index]) if self.lines is not None else f"(row {index})"

    def _source(self, name: str) -> str:
        theirs = dict(self.args.column).get(name)
        return repr(name) if theirs is None else f"{theirs!r} (--column {name}={theirs})"

    def write(self, table: Table, out: TextIO) -> int:
        target = self.args.out
        with self.phase(f"writing {target or 'CSV'}"):
            write_table(table, target, stdout=out)
        return 0


def _stdin_text(options: CsvOptions) -> str:
    """Standard input decoded with --encoding (a replaced ``sys.stdin`` has text only: take it as is)."""
    from user_ops._table_io import _decoded

    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:
        return sys.stdin.read()
    return _decoded(raw.read(), "<stdin>", options)


def _string(text: str) -> Any:
    import io

    return io.StringIO(text, newline="")


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _check_mapping(mapping: Mapping[str, str], known: Collection[str], *, command: str) -> None:
    """Refuse a --column NAME the command does not read (a typo would otherwise be ignored)."""
    for ours, theirs in mapping.items():
        if ours in known:
            continue
        close = difflib.get_close_matches(ours, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(sorted(known)[:40])
        raise ConfigError(
            f"--column {ours}={theirs}: {command} reads no column {ours!r}{hint} (it reads: {listing})"
        )


def transaction_names(windows: str | None = None) -> set[str]:
    """Every column name a transactions-or-metrics command reads (for --column)."""
    from user_ops.metrics import DEFAULT_WINDOWS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, column_names

    chosen = [w.strip() for w in windows.split(",") if w.strip()] if windows else list(DEFAULT_WINDOWS)
    try:
        metric_names = set(column_names(chosen))
    except Exception:  # a bad window is reported by the metrics step, with its own message
        metric_names = set(column_names(list(DEFAULT_WINDOWS)))
    return set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | metric_names


class PolicyFileError(ConfigError):
    """A policy file's first problem: one line, then the rule with a caret when the problem is in one."""

    def __init__(self, message: str, detail: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.detail = tuple(detail)


def load_policy(cls: Any, path: str) -> Any:
    """A policy of type ``cls`` from a JSON file holding the policy or its versioned document.

    Raises
    ------
    DataError
        For a file that cannot be read.
    PolicyFileError
        For a file that is not a valid policy: the first problem with its position (and, for a rule,
        the tag or stage it belongs to and the rule with a caret).
    """
    text = _read_text(path)
    problems = check_policy_text(text, cls)
    if problems:
        first = problems[0]
        head = first.render(path).splitlines()[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PolicyFileError(
            f"{head}{more}; run 'validate {cls.__name__} {path}' for every problem", first.detail
        )
    data = json.loads(text)
    if isinstance(data, dict) and {"type", "schema_version", "policy"} <= set(data):
        return cls.from_document(data)
    build = getattr(cls, "from_json", None) or cls.model_validate  # a cart is a model, not a policy
    return build(data)


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


def write_json(document: Any, path: str | None, out: TextIO) -> None:
    """A JSON document to ``path`` (atomically) or, without one, to ``out``."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if path is None:
        out.write(text)
    else:
        write_text(text, path)


# -- commands ---------------------------------------------------------------------------------------
def run_metrics(args: argparse.Namespace, out: TextIO) -> int:
    """``metrics``: transactions in, per-customer metrics out."""
    from user_ops.metrics import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

    context = Context(args, out)
    table = context.read_input(set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS))
    if not all(name in table for name in _TRANSACTION_MARKERS):
        missing = [n for n in ("customer_id", *_TRANSACTION_MARKERS) if n not in table]
        raise DataError(
            f"{context.name} has no column {', '.join(map(repr, missing))}: transactions need "
            "customer_id, ordered_at and amount (map yours with --column customer_id=COLUMN)"
        )
    return context.write(context.metrics(table), out)


def run_rfm(args: argparse.Namespace, out: TextIO) -> int:
    """``rfm``: scores and segments, from a fitted model file or fitted here."""
    from user_ops.rfm import RFMModel, segment_summary

    context = Context(args, out)
    model = load_policy(RFMModel, args.model) if args.model else None
    if model is not None and not model.is_fitted:
        raise ConfigError(f"{args.model} holds an RFM model that is not fitted; fit one with --save-model")
    metrics = context.metrics(context.read_input(transaction_names(args.windows)))
    with context.about_input():
        if model is None:
            options: dict[str, Any] = {"bins": args.bins} if args.method == "quantile" else {}
            with context.phase(f"fitting RFM ({args.method}) on {len(metrics):,} customers"):
                model = RFMModel(method=args.method, **options).fit(metrics)
        with context.phase(f"scoring {len(metrics):,} customers"):
            scores = model.score(metrics)
            result = segment_summary(scores, metrics) if args.summary else scores
    if args.save_model:
        write_json(model.to_document(), args.save_model, out)
    return context.write(result, out)


def run_tags(args: argparse.Namespace, out: TextIO) -> int:
    """``tags``: one true/false column per tag of a tag set."""
    from user_ops.tags import TagSet, default_tags

    context = Context(args, out)
    tag_set = load_policy(TagSet, args.tags) if args.tags else default_tags()
    fields = {name for tag in tag_set.tags for name in tag.when.fields}
    metrics = context.metrics(context.read_input(transaction_names(args.windows) | fields))
    with (
        context.phase(f"evaluating {len(tag_set)} tags on {len(metrics):,} customers"),
        context.about_input(),
    ):
        tags = tag_set.evaluate(metrics, as_of=context.need_as_of("for tags"), tz=context.tz)
        result = tags.summary() if args.summary else _with_ids(tags, metrics)
    return context.write(result, out)


def run_lifecycle(args: argparse.Namespace, out: TextIO) -> int:
    """``lifecycle``: every customer's stage and action (or the policy used, with --print-policy)."""
    from user_ops.lifecycle import LifecyclePolicy

    if args.policy and args.population_cycle_days is not None:
        raise ConfigError("--population-cycle-days sets the built-in policy; it does not apply with --policy")
    policy = load_policy(LifecyclePolicy, args.policy) if args.policy else None
    if policy is None and args.population_cycle_days is not None:
        policy = LifecyclePolicy.default(population_cycle_days=args.population_cycle_days)
    if args.input is None:
        if not (args.print_policy or args.save_policy) or policy is None:
            raise ConfigError(
                "lifecycle needs an INPUT file (without one, only --print-policy or --save-policy with "
                "--population-cycle-days or --policy)"
            )
        _show_policy(policy, args, out)
        return 0
    context = Context(args, out)
    fields = set(policy.fields) if policy is not None else set(LifecyclePolicy.default().fields)
    metrics = context.metrics(context.read_input(transaction_names(args.windows) | fields))
    if policy is None:
        with context.about_input():
            policy = LifecyclePolicy.default_for(metrics)
    if args.print_policy or args.save_policy:
        _show_policy(policy, args, out)
        if args.print_policy:
            return 0
    with context.phase(f"classifying {len(metrics):,} customers"), context.about_input():
        stages = policy.classify(metrics, as_of=context.need_as_of("for lifecycle stages"), tz=context.tz)
        result = stages.summary(metrics) if args.summary else stages
    return context.write(result, out)


def _show_policy(policy: Any, args: argparse.Namespace, out: TextIO) -> None:
    # A document meant to be edited: no content_hash, which the first edit would make stale.
    document = {key: value for key, value in policy.to_document().items() if key != "content_hash"}
    if args.save_policy:
        write_json(document, args.save_policy, out)
    if args.print_policy:
        write_json(document, None, out)


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
    print(f"{name}: a valid {cls.__name__}", file=out)
    return 0
