"""Rule text -> AST: a hand-written lexer and Pratt parser that records the source span of every node.

The grammar (keywords are case-insensitive)::

    rule      := or_expr
    or_expr   := and_expr ("or" and_expr)*          flat OrNode
    and_expr  := not_expr ("and" not_expr)*         flat AndNode
    not_expr  := "not" not_expr | predicate
    predicate := sum [cmp_op sum | ["not"] "in" sum | "is" ["not"] "null"
                      | "contains" sum | "within" sum]          (no chaining)
    sum       := product (("+" | "-") product)*     left-associative
    product   := unary (("*" | "/" | "%") unary)*   left-associative
    unary     := "-" unary | primary                "-" glued to a number folds into the literal
    primary   := literal | list | call | field | "(" rule ")"
    call      := name "(" [rule ("," rule)*] ")"
               | ("and" | "or") "(" rule ("," rule)* ")"   n-ary form; the printer uses it for
                                                           one-item and/or nodes
    field     := name
    name      := IDENT ("." IDENT)* | `backquoted`          no keyword as a segment of a plain name
    list      := "[" [literal ("," literal)* [","]] "]"     literals only, "-3" included

Lexical details:

* Strings take double or single quotes and JSON's escapes, plus backslash before a single quote or a
  backquote; a ``\\u`` surrogate pair is combined, a lone one is an error; a raw line break inside
  is an unterminated literal. Backquoted names use the same escapes.
* At a digit the lexer tries datetime, date, duration, decimal, then int. A datetime needs an offset
  (``Z``, ``+08:00``, or ``+05:30:15[.ffffff]``, since Python offsets may have seconds). A literal
  glued to letters (``30days``, ``1.5x``) is an error, not two tokens.
* Whitespace is anything ``str.isspace`` accepts (ideographic space included); lines are counted like
  ``str.splitlines`` so positions match the caret snippet of [`RuleError`][].

Design notes:

* The lexer is lazy (one token of lookahead) so a pathological text fails at the first problem
  without tokenizing the rest.
* Rules have no comments: a glued ``--`` is refused (``a > 1 -- note`` would otherwise read as
  ``a > 1 - -note``); two minus signs need a space or parentheses between them.
* Precedence climbing keeps Python recursion to two or three frames per nesting level, and runs of
  ``not``, unary ``-`` and ``(`` are read in loops. Every construct that recurses (``(``, ``not``, ``-``,
  calls) counts one level of *nesting*; nesting is capped at ``2 * max_depth``, which any AST within
  ``max_depth`` fits into when printed (each parent-child step adds at most an operator and a pair of
  parentheses). The AST depth itself is checked exactly against ``max_depth`` as each node is built,
  which is what rejects a 10,000-term ``a + a + ...`` (a deep left-leaning tree) while a 10,000-term
  ``or`` chain (one flat node) passes.
* Only small anchored regexes whose alternatives cannot overlap touch user text.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Union, cast

from pydantic import BaseModel, ValidationError

from user_ops._time import parse_duration
from user_ops.exceptions import DataError, RuleError, RuleLimitError, RuleSyntaxError
from user_ops.rules._ast import (
    AndNode,
    ArithNode,
    BoolLit,
    CallNode,
    CmpNode,
    DateLit,
    DateTimeLit,
    DecimalLit,
    DurationLit,
    FieldNode,
    InNode,
    IntLit,
    IsNullNode,
    ListLit,
    NegNode,
    Node,
    NotNode,
    NullLit,
    OrNode,
    StrLit,
)
from user_ops.rules._limits import DEFAULT_LIMITS, Limits

__all__ = ["KEYWORDS", "Parsed", "is_plain_name", "line_col", "parse_text", "syntax_error"]

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "contains", "within"})
"""Reserved words (case-insensitive); a field or function with such a name must be backquoted."""

# Binding powers, loosest first; shared with the printer so both sides agree on precedence.
PREC_OR = 1
PREC_AND = 2
PREC_NOT = 3
PREC_PREDICATE = 4
PREC_SUM = 5
PREC_PRODUCT = 6
PREC_UNARY = 7
PREC_PRIMARY = 8

_INFIX_PREC: dict[str, int] = {
    "or": PREC_OR,
    "and": PREC_AND,
    "not": PREC_PREDICATE,  # only as "not in"
    "in": PREC_PREDICATE,
    "is": PREC_PREDICATE,
    "contains": PREC_PREDICATE,
    "within": PREC_PREDICATE,
    "==": PREC_PREDICATE,
    "!=": PREC_PREDICATE,
    "<": PREC_PREDICATE,
    "<=": PREC_PREDICATE,
    ">": PREC_PREDICATE,
    ">=": PREC_PREDICATE,
    "+": PREC_SUM,
    "-": PREC_SUM,
    "*": PREC_PRODUCT,
    "/": PREC_PRODUCT,
    "%": PREC_PRODUCT,
}

# Token kinds.
_EOF = "eof"
_OP = "op"
_KEYWORD = "keyword"
_NAME = "name"  # a plain dotted name: a.b.c
_QNAME = "qname"  # a backquoted name
_INT = "int"
_DECIMAL = "decimal"
_STRING = "string"
_DURATION = "duration"
_DATE = "date"
_DATETIME = "datetime"
_LITERAL_KINDS = frozenset({_INT, _DECIMAL, _STRING, _DURATION, _DATE, _DATETIME})

_SPACE_RE = re.compile(r"\s+")
_OPERATOR_RE = re.compile(r"==|!=|<=|>=|<>|[=<>()\[\],+\-*/%]")
_OPERATOR_ALIASES = {"=": "==", "<>": "!="}
# One-character tokens that no longer operator starts with, and their binding power (none).
_SINGLE_CHAR_TOKENS = {"(": 0, ")": 0, "[": 0, "]": 0, ",": 0}
_DATETIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{6})?)?)?"
)
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DURATION_RE = re.compile(r"(?:[0-9]+(?:min|mo|y|w|d|h|s))+")
_DECIMAL_RE = re.compile(r"[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)")
_INT_RE = re.compile(r"[0-9]+")
_NUMBER_PATTERNS = (
    (_DATETIME, _DATETIME_RE),
    (_DATE, _DATE_RE),
    (_DURATION, _DURATION_RE),
    (_DECIMAL, _DECIMAL_RE),
    (_INT, _INT_RE),
)
_DURATION_LIKE_RE = re.compile(r"[0-9]+[A-Za-z][0-9A-Za-z]*")
_EXPONENT_LIKE_RE = re.compile(r"[0-9]+[eE][+-]?[0-9]")
_ASCII_NAME_RUN_RE = re.compile(r"[A-Za-z0-9_]*")
_HEX4_RE = re.compile(r"[0-9A-Fa-f]{4}")
# The same line breaks as str.splitlines, which RuleError uses to draw its caret snippet.
_LINE_BREAK_RE = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A literal may not contain a raw newline: an unterminated one then fails on its own line.
_QUOTED_RUN_RE = {
    '"': re.compile(r'[^"\\\n\r]*'),
    "'": re.compile(r"[^'\\\n\r]*"),
    "`": re.compile(r"[^`\\\n\r]*"),
}
_SIMPLE_ESCAPES = {
    "\\": "\\",
    '"': '"',
    "'": "'",
    "`": "`",
    "/": "/",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
}
_CHARACTER_HINTS = {
    "!": "; use 'not' for negation or '!=' for inequality",
    "&": "; use 'and'",
    "|": "; use 'or'",
    ".": "; a decimal needs a digit before the point (0.5) and a dotted name no spaces (a.b)",
}
# How the AST validators' complaints are introduced to a human.
_NODE_WHAT: dict[type[BaseModel], str] = {
    FieldNode: "field name",
    CallNode: "function name",
    StrLit: "string literal",
    IntLit: "integer literal",
    DecimalLit: "decimal literal",
    DurationLit: "duration literal",
    DateLit: "date literal",
    DateTimeLit: "datetime literal",
}
_INT64_DIGITS = 19
_MAX_DECIMAL_EXPONENT = 1000
_SHORT = 40


class Parsed(NamedTuple):
    """The result of [`parse_text`][].

    Attributes
    ----------
    node:
        The rule's AST.
    spans:
        ``id(node) -> (start, end)`` character offsets (end exclusive) in the parsed text, for every
        node of ``node``'s tree; a parenthesized sub-expression's span excludes its parentheses.
    """

    node: Node
    spans: dict[int, tuple[int, int]]


class _Token(NamedTuple):
    kind: str
    text: str  # the source text, for messages
    start: int
    end: int
    value: Union[str, date, datetime]  # decoded value; keywords lower-case, operators canonical
    prec: int = 0  # binding power when the token is an infix operator, else 0


class _Expr(NamedTuple):
    """A parsed sub-expression: its node, outer span (parentheses included) and AST depth."""

    node: Node
    start: int
    end: int
    depth: int


# --------------------------------------------------------------------------------------------------
# Positions and errors


def line_col(text: str, offset: int) -> tuple[int, int]:
    """The 1-based ``(line, column)`` of a character offset, counting lines like ``str.splitlines``.

    Parameters
    ----------
    text:
        The rule text.
    offset:
        A character offset into ``text`` (clamped to ``0 .. len(text)``).

    Returns
    -------
    tuple[int, int]
        Line and column, both starting at 1.

    Examples
    --------
    >>> line_col("a and\\n  b", 8)
    (2, 3)
    """
    offset = max(0, min(offset, len(text)))
    head = text[:offset]
    lines = head.splitlines()
    if head and head[-1] in _LINE_BREAKS:
        return len(lines) + 1, 1
    if not lines:
        return 1, 1
    return len(lines), len(lines[-1]) + 1


def syntax_error(
    message: str, text: str, start: int, end: int, cls: type[RuleError] = RuleSyntaxError
) -> RuleError:
    """Build (not raise) a rule error located at ``text[start:end]``.

    Parameters
    ----------
    message:
        What is wrong, for a human.
    text:
        The whole rule text.
    start, end:
        Character offsets of the offending text (end exclusive). When the span runs past the end of
        its first line, the caret stops at that line's end.
    cls:
        The error class, [`RuleSyntaxError`][] by default.

    Returns
    -------
    RuleError
        An error with 1-based ``line``, ``column`` and ``end_column``.

    Examples
    --------
    >>> err = syntax_error("unexpected ')'", "a == 1)", 6, 7)
    >>> (err.line, err.column, err.end_column)
    (1, 7, 8)
    """
    line, column = line_col(text, start)
    line_break = _LINE_BREAK_RE.search(text, max(0, start))
    line_end = line_break.start() if line_break is not None else len(text)
    end_column = column + max(1, min(end, line_end) - start)
    return cls(message, text=text, line=line, column=column, end_column=end_column)


def _shorten(text: str, width: int = _SHORT) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _describe(token: _Token) -> str:
    return "the end of the rule" if token.kind == _EOF else f"'{_shorten(token.text)}'"


def _position_text(text: str, offset: int, relative_to: int) -> str:
    """ "column 5", or "line 2, column 5" when ``offset`` is on another line than ``relative_to``."""
    line, column = line_col(text, offset)
    if line == line_col(text, relative_to)[0]:
        return f"column {column}"
    return f"line {line}, column {column}"


# --------------------------------------------------------------------------------------------------
# Names


def _is_keyword(word: str) -> bool:
    return word.lower() in KEYWORDS


def _is_name_char(char: str) -> bool:
    """True for a character that may continue an identifier (ASCII fast path first)."""
    if char < "\x80":
        return char.isalnum() or char == "_"
    return ("a" + char).isidentifier()


def is_plain_name(name: str) -> bool:
    """True when ``name`` can be written without backquotes: dotted identifiers, none a keyword.

    Parameters
    ----------
    name:
        A field or function name.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_plain_name("user.消费金额"), is_plain_name("user.in"), is_plain_name("a b")
    (True, False, False)
    """
    return all(part.isidentifier() and not _is_keyword(part) for part in name.split("."))


# --------------------------------------------------------------------------------------------------
# Lexer


class _Lexer:
    """Produces one token at a time; ``last_end`` places the end-of-rule token after the last token."""

    __slots__ = ("last_end", "length", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.length = len(text)
        self.pos = 0
        self.last_end = 0

    def error(self, message: str, start: int, end: int) -> RuleError:
        return syntax_error(message, self.text, start, end)

    def next(self) -> _Token:
        text, pos = self.text, self.pos
        if pos < self.length and text[pos].isspace():
            space = _SPACE_RE.match(text, pos)
            pos = space.end() if space is not None else pos
        if pos >= self.length:
            self.pos = pos
            return _Token(_EOF, "", self.last_end, self.last_end, "")
        char = text[pos]
        single = _SINGLE_CHAR_TOKENS.get(char)
        if single is not None:  # a bracket or comma: the commonest tokens, no regex needed
            self.pos = self.last_end = pos + 1
            return _Token(_OP, char, pos, pos + 1, char, single)
        if "0" <= char <= "9":
            token = self._number(pos)
        elif char in "\"'":
            value, end = self._quoted(pos, char)
            token = _Token(_STRING, text[pos:end], pos, end, value)
        elif char == "`":
            token = self._backquoted_name(pos)
        elif char.isidentifier():
            token = self._word(pos)
        else:
            token = self._operator(pos)
        self.pos = self.last_end = token.end
        return token

    def _operator(self, pos: int) -> _Token:
        match = _OPERATOR_RE.match(self.text, pos)
        if match is None:
            char = self.text[pos]
            shown = repr(char) if char.isprintable() else f"{char!r} (U+{ord(char):04X})"
            raise self.error(f"unexpected character {shown}{_CHARACTER_HINTS.get(char, '')}", pos, pos + 1)
        if self.text.startswith("--", pos):
            # SQL habit: "a > 1 -- note" would otherwise read as "a > 1 - -note".
            raise self.error(
                "'--' is not a comment (rules have no comments); to negate twice or subtract a "
                "negative, put a space or parentheses between the minus signs: a - -b, a - (-b)",
                pos,
                pos + 2,
            )
        op = _OPERATOR_ALIASES.get(match.group(), match.group())
        return _Token(_OP, match.group(), pos, match.end(), op, _INFIX_PREC.get(op, 0))

    # names ----------------------------------------------------------------------------------------

    def _identifier_end(self, pos: int) -> int:
        """End of the identifier starting at ``pos`` (whose first character is an identifier start)."""
        text, end = self.text, pos + 1
        while True:
            run = _ASCII_NAME_RUN_RE.match(text, end)
            end = run.end() if run is not None else end
            if end < self.length and text[end] >= "\x80" and _is_name_char(text[end]):
                end += 1
                continue
            return end

    def _word(self, start: int) -> _Token:
        text = self.text
        end = self._identifier_end(start)
        while end + 1 < self.length and text[end] == "." and text[end + 1].isidentifier():
            end = self._identifier_end(end + 1)
        word = text[start:end]
        if "." not in word and _is_keyword(word):
            keyword = word.lower()
            return _Token(_KEYWORD, word, start, end, keyword, _INFIX_PREC.get(keyword, 0))
        for part in word.split("."):
            if _is_keyword(part):
                raise self.error(
                    f"'{part}' is a keyword and cannot be part of a plain name; write the name in "
                    f"backquotes: `{_shorten(word)}`",
                    start,
                    end,
                )
        return _Token(_NAME, word, start, end, word)

    def _backquoted_name(self, start: int) -> _Token:
        value, end = self._quoted(start, "`")
        if not value:
            raise self.error("empty backquoted name", start, end)
        return _Token(_QNAME, self.text[start:end], start, end, value)

    # quoted text ----------------------------------------------------------------------------------

    def _quoted(self, start: int, quote: str) -> tuple[str, int]:
        """Decode a string or backquoted name starting at the quote ``text[start]``; (value, end)."""
        text, run_re = self.text, _QUOTED_RUN_RE[quote]
        parts: list[str] = []
        pos = start + 1
        while True:
            run = run_re.match(text, pos)
            if run is not None:
                parts.append(run.group())
                pos = run.end()
            if pos >= self.length or text[pos] in "\n\r":
                raise self._unterminated(quote, start, pos)
            if text[pos] == quote:
                return "".join(parts), pos + 1
            pos = self._escape(pos, parts, start, quote)

    def _unterminated(self, quote: str, start: int, end: int) -> RuleError:
        what = "backquoted name" if quote == "`" else "string literal"
        return self.error(f"unterminated {what} (missing closing {quote})", start, end)

    def _escape(self, pos: int, parts: list[str], start: int, quote: str) -> int:
        """Decode the escape sequence at ``text[pos] == '\\\\'`` into ``parts``; return the next offset."""
        text = self.text
        if pos + 1 >= self.length:
            raise self._unterminated(quote, start, pos + 1)
        code = text[pos + 1]
        simple = _SIMPLE_ESCAPES.get(code)
        if simple is not None:
            parts.append(simple)
            return pos + 2
        if code == "u" and _HEX4_RE.match(text, pos + 2):
            unit = int(text[pos + 2 : pos + 6], 16)
            # Combine a JSON-style surrogate pair (\ud83d\ude00) into one character.
            if 0xD800 <= unit < 0xDC00 and text[pos + 6 : pos + 8] == "\\u" and _HEX4_RE.match(text, pos + 8):
                low = int(text[pos + 8 : pos + 12], 16)
                if 0xDC00 <= low < 0xE000:
                    parts.append(chr(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)))
                    return pos + 12
            if 0xD800 <= unit < 0xE000:
                raise self.error(
                    f"unpaired surrogate {text[pos : pos + 6]!r}: write the character itself, or a high "
                    "and a low surrogate escape together",
                    pos,
                    pos + 6,
                )
            parts.append(chr(unit))
            return pos + 6
        shown = text[pos : pos + 6] if code == "u" else text[pos : pos + 2]
        raise self.error(
            f"invalid escape sequence {shown!r}; use \\\\ \\\" \\' \\n \\t \\r or \\uXXXX",
            pos,
            pos + len(shown),
        )

    # numbers, dates, durations --------------------------------------------------------------------

    def _number(self, start: int) -> _Token:
        text = self.text
        for kind, pattern in _NUMBER_PATTERNS:
            match = pattern.match(text, start)
            if match is None:
                continue
            end = match.end()
            self._require_literal_end(start, end)
            raw = match.group()
            if kind == _DATETIME:
                return _Token(kind, raw, start, end, self._datetime_value(match))
            if kind == _DATE:
                return _Token(kind, raw, start, end, self._date_value(match))
            if kind == _DURATION:
                try:
                    parse_duration(raw)
                except DataError as exc:
                    raise self.error(str(exc), start, end) from None
            return _Token(kind, raw, start, end, raw)
        raise self.error("invalid number", start, start + 1)  # unreachable: _INT_RE matches a digit

    def _require_literal_end(self, start: int, end: int) -> None:
        """Reject a literal glued to letters or digits (``30days``, ``1.5x``, ``2024-06-18T20``)."""
        text = self.text
        if end >= self.length or not _is_name_char(text[end]):
            return
        stop = end
        while stop < self.length and _is_name_char(text[stop]):
            stop += 1
        raise self.error(_bad_literal_message(text[start:stop]), start, stop)

    def _date_value(self, match: re.Match[str]) -> date:
        year, month, day = match.groups()
        try:
            return date(int(year), int(month), int(day))
        except ValueError as exc:
            raise self.error(f"invalid date {match.group()!r}: {exc}", match.start(), match.end()) from None

    def _datetime_value(self, match: re.Match[str]) -> datetime:
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        if offset is None:
            raise self.error("datetime literal needs a UTC offset (Z or +08:00)", match.start(), match.end())
        try:
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                int((fraction or "0").ljust(6, "0")),
                tzinfo=_utc_offset(offset),
            )
        except ValueError as exc:
            raise self.error(
                f"invalid datetime {match.group()!r}: {exc}", match.start(), match.end()
            ) from None


def _utc_offset(text: str) -> timezone:
    """``Z`` or ``+HH:MM[:SS[.ffffff]]`` as a fixed-offset zone; ValueError when out of range."""
    if text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    hours, minutes, *rest = text[1:].split(":")
    seconds, _, micros = (rest[0] if rest else "0").partition(".")
    if int(minutes) > 59 or int(seconds) > 59:
        raise ValueError(f"UTC offset {text} has minutes or seconds above 59")
    delta = timedelta(
        hours=int(hours), minutes=int(minutes), seconds=int(seconds), microseconds=int(micros or 0)
    )
    return timezone(sign * delta)


def _bad_literal_message(word: str) -> str:
    shown = _shorten(word)
    if _DATE_RE.match(word):
        return (
            f"invalid date or datetime {shown!r}: write YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.ffffff]] "
            "followed by Z or an offset like +08:00"
        )
    if _DURATION_LIKE_RE.fullmatch(word) and not _EXPONENT_LIKE_RE.match(word):
        try:
            parse_duration(word)
        except DataError as exc:
            return str(exc)
    return f"invalid number {shown!r}"


# --------------------------------------------------------------------------------------------------
# Parser


class _Parser:
    """Precedence climbing over the lazy token stream; see the module docstring for the grammar."""

    __slots__ = ("count", "lexer", "limits", "max_nesting", "nesting", "prev", "spans", "text", "tok")

    def __init__(self, text: str, limits: Limits) -> None:
        self.text = text
        self.limits = limits
        self.lexer = _Lexer(text)
        self.spans: dict[int, tuple[int, int]] = {}
        self.count = 0
        self.nesting = 0
        # Printing adds at most an operator and a parenthesis per parent-child step, so any AST within
        # max_depth prints to text within this nesting; the exact depth check is done on the AST.
        self.max_nesting = 2 * limits.max_depth
        self.prev: _Token | None = None
        self.tok = _Token(_EOF, "", 0, 0, "")

    # helpers --------------------------------------------------------------------------------------

    def error(self, message: str, start: int, end: int, cls: type[RuleError] = RuleSyntaxError) -> RuleError:
        return syntax_error(message, self.text, start, end, cls)

    def advance(self) -> _Token:
        """Consume the current token and return it."""
        token = self.tok
        self.prev = token
        self.tok = self.lexer.next()
        return token

    def at(self, kind: str, value: str) -> bool:
        return self.tok.kind == kind and self.tok.value == value

    def enter(self, token: _Token) -> None:
        """Count one level of nesting before recursing into ``token``'s operand."""
        self.nesting += 1
        if self.nesting > self.max_nesting:
            raise self.error(
                f"rule is nested too deeply: more than {self.max_nesting} levels of parentheses, "
                f"'not', '-' and calls (max_depth={self.limits.max_depth})",
                token.start,
                token.end,
                RuleLimitError,
            )

    def make(self, cls: type[BaseModel], start: int, end: int, depth: int, **fields: object) -> Node:
        """Build a node, enforcing the node-count and depth limits and recording its span."""
        self.count += 1
        if self.count > self.limits.max_nodes:
            raise self.error(
                f"rule has more than {self.limits.max_nodes:,} nodes (max_nodes)", start, end, RuleLimitError
            )
        if depth > self.limits.max_depth:
            raise self.error(
                f"rule is nested too deeply: depth {depth} exceeds max_depth={self.limits.max_depth}",
                start,
                end,
                RuleLimitError,
            )
        try:
            # The model's own validator: pydantic's error, with no user_ops wrapping to undo.
            node = cls.__pydantic_validator__.validate_python(fields)
        except ValidationError as exc:
            problem = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            what = _NODE_WHAT.get(cls, cls.__name__)
            raise self.error(f"invalid {what}: {_shorten(problem, 200)}", start, end) from None
        self.spans[id(node)] = (start, end)
        return cast("Node", node)

    def expected_expression(self) -> RuleError:
        token, prev = self.tok, self.prev
        if token.kind == _EOF:
            if prev is None:
                return self.error("empty rule: expected an expression", 0, 0)
            message = f"unexpected end of rule: expected an expression after {_describe(prev)}"
        elif prev is None:
            message = f"unexpected {_describe(token)}: expected an expression"
        else:
            message = f"expected an expression after {_describe(prev)}, found {_describe(token)}"
        return self.error(message, token.start, token.end)

    # entry ----------------------------------------------------------------------------------------

    def parse(self) -> _Expr:
        self.tok = self.lexer.next()
        expr = self.expression(0)
        token = self.tok
        if token.kind == _EOF:
            return expr
        if token.kind == _OP and token.value == ")":
            raise self.error("unexpected ')' with no matching '('", token.start, token.end)
        raise self.error(
            f"unexpected {_describe(token)}; expected an operator or the end of the rule",
            token.start,
            token.end,
        )

    # precedence climbing --------------------------------------------------------------------------

    def expression(self, min_prec: int) -> _Expr:
        """Parse operators binding at least as tightly as ``min_prec``."""
        return self.infix(self.prefix(min_prec), min_prec)

    def infix(self, left: _Expr, min_prec: int) -> _Expr:
        """Continue the expression that starts with ``left``, at binding power ``min_prec``."""
        while True:
            prec = self.tok.prec
            if prec == 0 or prec < min_prec:
                return left
            if prec <= PREC_AND:
                left = self.chain(left, prec)
            elif prec == PREC_PREDICATE:
                left = self.predicate(left)
            else:
                left = self.arithmetic(left, prec)

    def chain(self, first: _Expr, prec: int) -> _Expr:
        """A flat ``a or b or c`` / ``a and b and c`` chain."""
        word = "or" if prec == PREC_OR else "and"
        items = [first]
        while self.at(_KEYWORD, word):
            self.advance()
            items.append(self.expression(prec + 1))
        depth = 1 + max(item.depth for item in items)
        cls = OrNode if prec == PREC_OR else AndNode
        start, end = first.start, items[-1].end
        node = self.make(cls, start, end, depth, items=tuple(item.node for item in items))
        return _Expr(node, start, end, depth)

    def arithmetic(self, left: _Expr, prec: int) -> _Expr:
        op = self.advance()
        right = self.expression(prec + 1)
        depth = 1 + max(left.depth, right.depth)
        node = self.make(
            ArithNode, left.start, right.end, depth, op=op.value, left=left.node, right=right.node
        )
        return _Expr(node, left.start, right.end, depth)

    def predicate(self, left: _Expr) -> _Expr:
        """Comparison, [not] in, is [not] null, contains, within; they do not chain."""
        op = self.advance()
        word = op.value
        if op.kind == _OP:
            right = self.expression(PREC_SUM)
            expr = self.binary(CmpNode, left, right, op=word, left=left.node, right=right.node)
        elif word in ("in", "not"):
            negated = word == "not"
            if negated:
                if not self.at(_KEYWORD, "in"):
                    raise self.error(
                        f"expected 'in' after 'not', found {_describe(self.tok)}",
                        self.tok.start,
                        self.tok.end,
                    )
                self.advance()
            right = self.expression(PREC_SUM)
            expr = self.binary(InNode, left, right, item=left.node, values=right.node, negated=negated)
        elif word == "is":
            expr = self.is_null(left)
        else:  # contains / within
            right = self.expression(PREC_SUM)
            expr = self.binary(CallNode, left, right, fn=word, args=(left.node, right.node))
        token = self.tok
        if token.prec == PREC_PREDICATE:
            raise self.error(
                "comparisons do not chain; use 'and' (a < b and b < c) or parentheses",
                token.start,
                token.end,
            )
        return expr

    def binary(self, cls: type[BaseModel], first: _Expr, last: _Expr, /, **fields: object) -> _Expr:
        """A node spanning from operand ``first`` to operand ``last``; ``fields`` are its fields."""
        depth = 1 + max(first.depth, last.depth)
        node = self.make(cls, first.start, last.end, depth, **fields)
        return _Expr(node, first.start, last.end, depth)

    def is_null(self, left: _Expr) -> _Expr:
        negated = self.at(_KEYWORD, "not")
        if negated:
            self.advance()
        if not self.at(_KEYWORD, "null"):
            after = "'is not'" if negated else "'is'"
            expected = "'null'" if negated else "'null' or 'not null'"
            raise self.error(
                f"expected {expected} after {after}, found {_describe(self.tok)}",
                self.tok.start,
                self.tok.end,
            )
        end = self.advance().end
        node = self.make(IsNullNode, left.start, end, left.depth + 1, item=left.node, negated=negated)
        return _Expr(node, left.start, end, left.depth + 1)

    # prefix operators -----------------------------------------------------------------------------

    def prefix(self, min_prec: int) -> _Expr:
        token = self.tok
        if token.kind == _KEYWORD and token.value == "not":
            if min_prec > PREC_NOT:
                raise self.error(
                    f"expected an expression after {_describe(self.prev or token)}, found 'not'; "
                    "put 'not ...' in parentheses",
                    token.start,
                    token.end,
                )
            return self.negations()
        if token.kind == _OP and token.value == "-":
            return self.minuses()
        if token.kind == _OP and token.value == "(":
            return self.group()
        return self.primary()

    def negations(self) -> _Expr:
        """A run of ``not``; read in a loop so ``not not ... x`` costs no recursion per ``not``."""
        starts: list[int] = []
        while self.at(_KEYWORD, "not"):
            self.enter(self.tok)
            starts.append(self.advance().start)
        operand = self.expression(PREC_PREDICATE)
        self.nesting -= len(starts)
        return self.wrap(NotNode, starts, operand)

    def minuses(self) -> _Expr:
        """A run of unary ``-``; the last one folds into a number literal glued to it (``-3``)."""
        minus_tokens: list[_Token] = []
        while self.at(_OP, "-"):
            self.enter(self.tok)
            minus_tokens.append(self.advance())
        self.nesting -= len(minus_tokens)
        last = minus_tokens[-1]
        if self.tok.kind in (_INT, _DECIMAL) and self.tok.start == last.end:
            minus_tokens.pop()
            operand = self.number(self.advance(), last.start)
        else:
            self.nesting += len(minus_tokens)
            operand = self.expression(PREC_UNARY)
            self.nesting -= len(minus_tokens)
        return self.wrap(NegNode, [token.start for token in minus_tokens], operand)

    def wrap(self, cls: type[NotNode] | type[NegNode], starts: list[int], operand: _Expr) -> _Expr:
        """Apply prefix operators starting at ``starts`` (outermost first) to ``operand``."""
        expr = operand
        for start in reversed(starts):
            depth = expr.depth + 1
            node = self.make(cls, start, expr.end, depth, item=expr.node)
            expr = _Expr(node, start, expr.end, depth)
        return expr

    def group(self) -> _Expr:
        """A parenthesized expression; a run of ``(`` is read in a loop, not one recursion each."""
        openings: list[_Token] = []
        while self.at(_OP, "("):
            self.enter(self.tok)
            openings.append(self.advance())
        expr = self.expression(0)
        for index in range(len(openings) - 1, -1, -1):
            opening = openings[index]
            closing = self.expect_closing(")", opening, "expected ')'")
            self.nesting -= 1
            expr = _Expr(expr.node, opening.start, closing.end, expr.depth)
            if index:  # still inside an outer parenthesis, where the expression may go on: ((a) or b)
                expr = self.infix(expr, 0)
        return expr

    def expect_closing(self, char: str, opening: _Token, expected: str) -> _Token:
        token = self.tok
        if token.kind == _OP and token.value == char:
            return self.advance()
        where = _position_text(self.text, opening.start, token.start)
        if token.kind == _EOF:
            message = f"unexpected end of rule: unclosed '{opening.text}' opened at {where}"
        else:
            message = f"{expected} to close '{opening.text}' opened at {where}, found {_describe(token)}"
        raise self.error(message, token.start, token.end)

    # primaries ------------------------------------------------------------------------------------

    def primary(self) -> _Expr:
        token = self.tok
        kind = token.kind
        if kind in _LITERAL_KINDS or (kind == _KEYWORD and token.value in ("true", "false", "null")):
            return self.literal()
        if kind in (_NAME, _QNAME):
            self.advance()
            if self.at(_OP, "("):
                return self.call(token)
            node = self.make(FieldNode, token.start, token.end, 1, name=token.value)
            return _Expr(node, token.start, token.end, 1)
        if kind == _KEYWORD and token.value in ("and", "or"):
            error = self.expected_expression()
            self.advance()
            if self.at(_OP, "("):
                return self.call(token)
            raise error
        if kind == _OP and token.value == "[":
            return self.list_literal()
        raise self.expected_expression()

    def literal(self) -> _Expr:
        """A scalar literal token (not a list)."""
        token = self.advance()
        kind, start, end = token.kind, token.start, token.end
        if kind in (_INT, _DECIMAL):
            return self.number(token, start)
        if kind == _STRING:
            node: Node = self.make(StrLit, start, end, 1, value=token.value)
        elif kind == _DURATION:
            node = self.make(DurationLit, start, end, 1, value=token.value)
        elif kind == _DATE:
            node = self.make(DateLit, start, end, 1, value=token.value)
        elif kind == _DATETIME:
            node = self.make(DateTimeLit, start, end, 1, value=token.value)
        elif token.value == "null":
            node = self.make(NullLit, start, end, 1)
        else:
            node = self.make(BoolLit, start, end, 1, value=token.value == "true")
        return _Expr(node, start, end, 1)

    def number(self, token: _Token, start: int) -> _Expr:
        """An int or decimal literal; negative when ``start`` is a glued minus before ``token``."""
        negative = start != token.start
        text = str(token.value)
        shown = _shorten(self.text[start : token.end])
        if token.kind == _INT:
            digits = text.lstrip("0") or "0"
            # Checked on the digit count first: int() refuses strings of more than 4300 digits.
            value = int(digits) if len(digits) <= _INT64_DIGITS else 2**64
            value = -value if negative else value
            if not -(2**63) <= value < 2**63:
                raise self.error(f"integer literal {shown} is outside the int64 range", start, token.end)
            node: Node = self.make(IntLit, start, token.end, 1, value=value)
        else:
            try:
                decimal = Decimal("-" + text if negative else text)
            except InvalidOperation:  # an exponent beyond what the decimal module can represent
                decimal = Decimal("Infinity")
            if not decimal.is_finite() or (
                decimal != 0 and not -_MAX_DECIMAL_EXPONENT <= decimal.adjusted() <= _MAX_DECIMAL_EXPONENT
            ):
                raise self.error(
                    f"decimal literal {shown} is out of range (|exponent| > {_MAX_DECIMAL_EXPONENT})",
                    start,
                    token.end,
                )
            node = self.make(DecimalLit, start, token.end, 1, value=decimal)
        return _Expr(node, start, token.end, 1)

    def call(self, name: _Token) -> _Expr:
        """``name(args)``; ``and(...)`` / ``or(...)`` build the n-ary logical nodes."""
        opening = self.tok
        self.enter(opening)
        self.advance()
        args: list[_Expr] = []
        if not self.at(_OP, ")"):
            while True:
                args.append(self.expression(0))
                if not self.at(_OP, ","):
                    break
                self.advance()
        closing = self.expect_closing(")", opening, "expected ',' or ')'")
        self.nesting -= 1
        start, end = name.start, closing.end
        depth = 1 + max((arg.depth for arg in args), default=0)
        nodes = tuple(arg.node for arg in args)
        if name.kind == _KEYWORD:
            if not nodes:
                raise self.error(f"'{name.text}()' needs at least one condition", start, end)
            cls = AndNode if name.value == "and" else OrNode
            node: Node = self.make(cls, start, end, depth, items=nodes)
        else:
            node = self.make(CallNode, start, end, depth, fn=name.value, args=nodes)
        return _Expr(node, start, end, depth)

    def list_literal(self) -> _Expr:
        opening = self.advance()
        items: list[_Expr] = []
        while not self.at(_OP, "]") and self.tok.kind != _EOF:
            item = self.list_item()
            items.append(item)
            if len(items) > self.limits.max_list_items:
                raise self.error(
                    f"list has more than {self.limits.max_list_items:,} items (max_list_items)",
                    item.start,
                    item.end,
                    RuleLimitError,
                )
            if not self.at(_OP, ","):
                break
            self.advance()
        closing = self.expect_closing("]", opening, "expected ',' or ']' (lists hold literals only)")
        start, end = opening.start, closing.end
        depth = 2 if items else 1
        node = self.make(ListLit, start, end, depth, items=tuple(item.node for item in items))
        return _Expr(node, start, end, depth)

    def list_item(self) -> _Expr:
        token = self.tok
        kind = token.kind
        if kind in _LITERAL_KINDS or (kind == _KEYWORD and token.value in ("true", "false", "null")):
            return self.literal()
        if kind == _OP and token.value == "-":
            self.advance()
            if self.tok.kind in (_INT, _DECIMAL) and self.tok.start == token.end:
                return self.number(self.advance(), token.start)
            raise self.error(
                "lists hold literals only; a negative number is written with the '-' glued to it (-3)",
                token.start,
                token.end,
            )
        if kind == _OP and token.value == ",":
            raise self.error("expected a list item before ','", token.start, token.end)
        raise self.error(f"lists hold literals only; found {_describe(token)}", token.start, token.end)


def parse_text(text: str, *, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """Parse rule text into its AST, with the source span of every node.

    Parameters
    ----------
    text:
        The rule, e.g. ``'orders_90d >= 3 and city in ["北京", "上海"]'``.
    limits:
        Size limits; text longer than ``max_text_length`` is refused before it is read.

    Returns
    -------
    Parsed
        ``(node, spans)``; ``spans[id(n)]`` is the ``(start, end)`` of every node ``n`` in the tree.

    Raises
    ------
    RuleSyntaxError
        Text that is not a rule, with line, column and a caret snippet.
    RuleLimitError
        Text, nesting, node count or a list literal over ``limits``.

    Examples
    --------
    >>> parsed = parse_text("orders_90d >= 3 and spend_90d > 1000.50")
    >>> parsed.node.kind, [item.kind for item in parsed.node.items]
    ('and', ['cmp', 'cmp'])
    >>> parsed.spans[id(parsed.node.items[1])]
    (20, 39)
    """
    if not isinstance(text, str):
        raise RuleSyntaxError(f"rule text must be a str, got {type(text).__name__}")
    if len(text) > limits.max_text_length:
        raise syntax_error(
            f"rule text is {len(text):,} characters long; the limit is {limits.max_text_length:,} "
            "(max_text_length)",
            text,
            limits.max_text_length,
            limits.max_text_length + 1,
            RuleLimitError,
        )
    parser = _Parser(text, limits)
    try:
        expr = parser.parse()
    except RecursionError:
        # Last resort: the nesting cap keeps recursion far below Python's limit unless the caller is
        # already deep in its own stack.
        token = parser.tok
        raise syntax_error(
            "rule is nested too deeply to parse", text, token.start, token.end, RuleLimitError
        ) from None
    return Parsed(expr.node, parser.spans)
