"""``TagRule`` and ``TagSet``: named rules over a customer, with groups, priorities and tag-of-tag rules."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from pydantic import Field, PrivateAttr, field_validator, model_validator

from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops._time import TzLike
from user_ops.exceptions import ConfigError, _UnknownNameError, value_repr
from user_ops.rules import CallNode, Explanation, Rule, StrLit

__all__ = ["TagExplanation", "TagRule", "TagSet", "TagTable"]


class TagRule(PolicyModel):
    """A tag (标签): a named condition over one customer.

    Parameters
    ----------
    name:
        The tag's code (an identifier, e.g. ``high_spender``).
    when:
        The condition, as rule text or a JSON AST; may use ``has_tag("other_tag")``.
    label_en, label_zh:
        What a person reads (default: the name).
    description:
        A longer explanation for people.
    group:
        Tags sharing a group are mutually exclusive: a customer gets the matching one with the
        highest ``priority``.
    priority:
        Rank inside the group (higher wins; an int, not a bool or a float); ties inside a group are
        rejected.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> tag = TagRule(name="vip", when="spend_365d >= 5000", label_zh="贵宾")
    >>> tag.when.evaluate_one({"spend_365d": 6000.0}, as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
    True
    """

    name: str = Field(min_length=1, max_length=100)
    when: Rule
    label_en: str | None = None
    label_zh: str | None = None
    description: str = ""
    group: str | None = None
    priority: int = Field(default=0, strict=True)  # strict: True or 2.5 is no rank
    # Derived from ``when`` when the tag is built, never later: pydantic compares private attributes,
    # so a cache filled on first use would make a used tag differ from an identical fresh one.
    _references: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not name.isidentifier():
            raise ValueError(f"tag name must be an identifier like 'high_spender', got {name!r}")
        return name

    @model_validator(mode="after")
    def _find_references(self) -> TagRule:
        self._references = _has_tag_names(self.when)
        return self

    def label(self, lang: str = "en") -> str:
        """The label in ``"en"`` or ``"zh"`` (falling back to the other, then to the name)."""
        _check_lang(lang)
        first, second = (self.label_zh, self.label_en) if lang == "zh" else (self.label_en, self.label_zh)
        return first or second or self.name

    @property
    def references(self) -> tuple[str, ...]:
        """Tags this rule reads with ``has_tag``."""
        return self._references


def _check_lang(lang: object) -> None:
    if not (isinstance(lang, str) and lang in ("en", "zh")):
        raise ConfigError(f"lang must be 'en' or 'zh', got {lang!r}")


def _has_tag_names(rule: Rule) -> tuple[str, ...]:
    calls = (node for node in rule.walk() if isinstance(node, CallNode) and node.fn == "has_tag")
    return tuple(
        dict.fromkeys(c.args[0].value for c in calls if len(c.args) == 1 and isinstance(c.args[0], StrLit))
    )


class TagSet(PolicyModel):
    """A set of tags evaluated together: one customer at a time, or a whole table at once.

    Built as ``TagSet([TagRule(...), ...])``. Checked when built: unique names, ``has_tag`` references
    to tags of the set, no reference cycles (the error names the cycle), no priority ties inside a
    group. Tags are evaluated in dependency order; ``has_tag("x")`` sees ``x`` after its group was
    resolved.

    Parameters
    ----------
    tags:
        The [`TagRule`][] entries (positional, or ``tags=``).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> tags = TagSet([
    ...     TagRule(name="spend_high", when="monetary >= 2000", group="spend", priority=2),
    ...     TagRule(name="spend_low", when="monetary > 0", group="spend", priority=1),
    ...     TagRule(name="big_loyal", when='has_tag("spend_high") and frequency >= 5'),
    ... ])
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> sorted(tags.evaluate_one({"monetary": 3000.0, "frequency": 6}, as_of=as_of))
    ['big_loyal', 'spend_high']
    >>> tags.evaluate({"monetary": [3000.0, 50.0], "frequency": [6, 9]}, as_of=as_of).counts()
    {'spend_high': 1, 'spend_low': 1, 'big_loyal': 1}
    """

    tags: tuple[TagRule, ...]
    _order: tuple[tuple[str, ...], ...] = PrivateAttr(default=())
    _by_name: dict[str, TagRule] = PrivateAttr(default_factory=dict)

    def __init__(self, tags: Sequence[TagRule] | None = None, /, **data: Any) -> None:
        if tags is not None:
            if isinstance(tags, (str, bytes, Mapping)) or not isinstance(tags, Iterable):
                raise ConfigError(
                    f"TagSet takes a list of TagRule, got {type(tags).__name__}: {value_repr(tags)}"
                )
            data["tags"] = tuple(tags)
        super().__init__(**data)

    @model_validator(mode="after")
    def _check(self) -> TagSet:
        # Every check is linear in the number of tags: sets of thousands are built from admin UIs.
        duplicates = sorted(name for name, count in Counter(t.name for t in self.tags).items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate tag names: {duplicates}")
        # The caches are filled here, not on first use: pydantic compares private attributes, and a
        # used set must still equal an identical fresh one.
        by_name = self._by_name = {t.name: t for t in self.tags}
        for tag in self.tags:
            unknown = [r for r in tag.references if r not in by_name]
            if unknown:
                raise ValueError(f"tag {tag.name!r} uses has_tag() on unknown tag(s) {unknown}")
        _check_priorities(self.tags)
        self._order = self._order_units()  # raises on a cycle
        return self

    @property
    def _evaluation_order(self) -> tuple[tuple[str, ...], ...]:
        if not self._order:  # only for a set made without validation (model_construct)
            self._order = self._order_units()
        return self._order

    # -- structure ----------------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Tag names in definition order."""
        return tuple(t.name for t in self.tags)

    def __getitem__(self, name: str) -> TagRule:
        tag = self._rules_by_name.get(name) if isinstance(name, str) else None
        if tag is None:  # a ConfigError that is also the KeyError of a mapping
            raise _UnknownNameError(f"no tag {value_repr(name)} in this set (tags: {', '.join(self.names)})")
        return tag

    def __len__(self) -> int:
        return len(self.tags)

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Group name to its tags, highest priority first."""
        out: dict[str, list[TagRule]] = {}
        for tag in self.tags:
            if tag.group is not None:
                out.setdefault(tag.group, []).append(tag)
        return {g: tuple(t.name for t in sorted(ts, key=lambda t: -t.priority)) for g, ts in out.items()}

    def _units(self) -> list[tuple[str, ...]]:
        """Evaluation units: a group (members by priority) or a single ungrouped tag."""
        units: list[tuple[str, ...]] = []
        seen_groups = set()
        groups = self.groups()
        for tag in self.tags:
            if tag.group is None:
                units.append((tag.name,))
            elif tag.group not in seen_groups:
                seen_groups.add(tag.group)
                units.append(groups[tag.group])
        return units

    def _order_units(self) -> tuple[tuple[str, ...], ...]:
        units = self._units()
        unit_of = {name: index for index, unit in enumerate(units) for name in unit}
        by_name = self._rules_by_name
        needs = {
            index: sorted({unit_of[r] for name in unit for r in by_name[name].references})
            for index, unit in enumerate(units)
        }
        order: list[int] = []
        state: dict[int, int] = {}  # 1: visiting, 2: done
        for start in range(len(units)):
            _visit(start, needs, state, order, units, by_name)
        return tuple(units[i] for i in order)

    # -- evaluation ---------------------------------------------------------------------------------
    def evaluate_one(
        self, record: Mapping[str, Any], *, as_of: datetime, tz: TzLike | None = None
    ) -> frozenset[str]:
        """The tags one customer has.

        Parameters
        ----------
        record:
            The customer's fields (see the metric names in the docs).
        as_of:
            Evaluation instant (timezone-aware).
        tz:
            Business time zone (default: ``as_of``'s zone).
        """
        return self._tags_until(record, None, as_of=as_of, tz=tz)

    def _tags_until(
        self, record: Mapping[str, Any], stop: str | None, *, as_of: datetime, tz: TzLike | None
    ) -> frozenset[str]:
        """Tags of one customer from the units before the one holding ``stop`` (all units if None)."""
        ctx = Rule._context(as_of, tz)  # one context: windows and dates are derived once per customer
        rules = self._rules_by_name
        have: set[str] = set()
        for unit in self._evaluation_order:
            if stop in unit:
                break
            for name in unit:  # highest priority first: the first match wins its group
                rule = rules[name]
                # A rule sees only the tags it reads (all evaluated before it): copying every tag
                # found so far for each rule would make a large set quadratic.
                ctx.tags = frozenset(r for r in rule.references if r in have)
                if rule.when._value_in(record, ctx) is True:
                    have.add(name)
                    break
        return frozenset(have)

    @property
    def _rules_by_name(self) -> dict[str, TagRule]:
        if not self._by_name:
            self._by_name = {tag.name: tag for tag in self.tags}
        return self._by_name

    def evaluate(
        self,
        table: Any,
        *,
        as_of: datetime,
        tz: TzLike | None = None,
        id_column: str | None = "customer_id",
    ) -> TagTable:
        """Every customer's tags: the id column, then one boolean column per tag (in definition order).

        Parameters
        ----------
        table:
            Per-customer columns (a ``Table``, a dict of columns, records or a DataFrame), e.g. the
            output of [`user_ops.customer_metrics`][].
        as_of:
            Evaluation instant (timezone-aware).
        tz:
            Business time zone (default: ``as_of``'s zone).
        id_column:
            Column copied in front when the input has it, as in every batch result (``None``: never).

        Returns
        -------
        TagTable
            ``id_column`` (when the input has it), then the tags; ``counts()`` and ``summary()``.

        Raises
        ------
        ConfigError
            When ``id_column`` is not a string or names a tag of the set.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> tags = TagSet([TagRule(name="loyal", when="frequency >= 5")])
        >>> result = tags.evaluate({"customer_id": [7, 8], "frequency": [6, 1]},
        ...                        as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
        >>> result.columns, result["customer_id"].tolist(), result.counts()
        (('customer_id', 'loyal'), [7, 8], {'loyal': 1})
        """
        self._check_id_column(id_column)
        data = Table.coerce(table)
        columns: dict[str, npt.NDArray[np.bool_]] = {}
        rules = self._rules_by_name
        for unit in self._evaluation_order:
            taken = np.zeros(len(data), dtype=np.bool_)
            for name in unit:
                rule = rules[name]
                read = {r: columns[r] for r in rule.references}  # not every column: that is quadratic
                matched = rule.when.evaluate(data, as_of=as_of, tz=tz, tags=read)
                columns[name] = matched & ~taken
                taken |= matched
        ordered: dict[str, Any] = {}
        kept_id = id_column if id_column is not None and id_column in data else None
        if kept_id is not None:
            ordered[kept_id] = data[kept_id]
        ordered.update((name, columns[name]) for name in self.names)
        result = cast(TagTable, TagTable._trusted(ordered))
        result.tag_set = self
        result.id_column = kept_id
        return result

    def _check_id_column(self, id_column: object) -> None:
        if id_column is not None and not isinstance(id_column, str):
            raise ConfigError(
                f"id_column must be a column name or None, got {type(id_column).__name__} "
                f"{value_repr(id_column)}"
            )
        if id_column is not None and id_column in self._rules_by_name:
            raise ConfigError(
                f"id_column {id_column!r} is also the name of a tag of this set; pass another "
                "id_column, or id_column=None"
            )

    def explain_one(
        self, record: Mapping[str, Any], tag: str, *, as_of: datetime, tz: TzLike | None = None
    ) -> TagExplanation:
        """Why one customer has ``tag`` or not: its rule explained, and the tag that won its group."""
        rule = self[tag]
        earlier = self._tags_until(record, tag, as_of=as_of, tz=tz)
        explanation = rule.when.explain_one(record, as_of=as_of, tz=tz, tags=earlier)
        have = self.evaluate_one(record, as_of=as_of, tz=tz)
        shadowed_by = None
        if explanation.matched and tag not in have and rule.group is not None:
            shadowed_by = next(n for n in self.groups()[rule.group] if n in have)
        return TagExplanation(tag=tag, has_tag=tag in have, rule=explanation, shadowed_by=shadowed_by)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(t.name)}</code></td><td>{html.escape(t.label('en'))}</td>"
            f"<td>{html.escape(t.label('zh'))}</td><td>{html.escape(t.group or '')}</td><td>{t.priority}</td>"
            f"<td><code>{html.escape(t.when.to_text())}</code></td></tr>"
            for t in self.tags
        )
        return (
            "<table class='user-ops-tagset'><thead><tr><th>tag</th><th>label</th><th>标签</th><th>group</th>"
            f"<th>priority</th><th>when</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def _visit(
    index: int,
    needs: dict[int, list[int]],
    state: dict[int, int],
    order: list[int],
    units: list[tuple[str, ...]],
    by_name: Mapping[str, TagRule],
) -> None:
    # Iterative depth-first search: a deep chain of has_tag references must not hit the recursion limit.
    stack: list[tuple[int, int]] = [(index, 0)]
    path: list[int] = []
    while stack:
        node, position = stack.pop()
        if position == 0:
            if state.get(node) == 2:
                continue
            if state.get(node) == 1:
                cycle = path[path.index(node) :] + [node]
                raise ValueError("has_tag() references form a cycle: " + _cycle_text(cycle, units, by_name))
            state[node] = 1
            path.append(node)
        if position < len(needs[node]):
            stack.append((node, position + 1))
            target = needs[node][position]
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                raise ValueError("has_tag() references form a cycle: " + _cycle_text(cycle, units, by_name))
            if state.get(target) != 2:
                stack.append((target, 0))
        else:
            state[node] = 2
            path.pop()
            order.append(node)


def _cycle_text(cycle: list[int], units: list[tuple[str, ...]], by_name: Mapping[str, TagRule]) -> str:
    def label(index: int) -> str:
        unit = units[index]
        group = by_name[unit[0]].group
        return unit[0] if len(unit) == 1 and group is None else f"group {group!r} ({', '.join(unit)})"

    return " → ".join(label(i) for i in cycle)


def _check_priorities(tags: Sequence[TagRule]) -> None:
    seen: dict[tuple[str, int], str] = {}
    for tag in tags:
        if tag.group is None:
            continue
        key = (tag.group, tag.priority)
        if key in seen:
            raise ValueError(
                f"tags {seen[key]!r} and {tag.name!r} in group {tag.group!r} share priority {tag.priority}; "
                "give them different priorities (higher wins)"
            )
        seen[key] = tag.name


class TagTable(Table):
    """The result of [`TagSet.evaluate`][]: the id column and one boolean column per tag.

    A [`Table`][user_ops.Table] whose columns are the id column (when the input had it), then the tags
    in definition order ([`tag_names`][]); a customer has at most one tag of each group.

    Attributes
    ----------
    tag_set:
        The [`TagSet`][] that produced it (its labels and groups feed [`summary`][]).
    id_column:
        The id column copied from the input (``None`` when there is none).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> tags = TagSet([
    ...     TagRule(name="spend_high", when="monetary >= 2000", group="spend", priority=2, label_zh="高消费"),
    ...     TagRule(name="spend_low", when="monetary > 0", group="spend", priority=1, label_zh="低消费"),
    ... ])
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> table = tags.evaluate({"customer_id": [1, 2, 3], "monetary": [3000.0, 50.0, 0.0]}, as_of=as_of)
    >>> table.columns, table.tag_names
    (('customer_id', 'spend_high', 'spend_low'), ('spend_high', 'spend_low'))
    >>> table["spend_high"], table.counts()
    (array([ True, False, False]), {'spend_high': 1, 'spend_low': 1})
    >>> table.summary()["label_zh"].tolist()
    ['高消费', '低消费']
    """

    __slots__ = ("id_column", "tag_set")
    tag_set: TagSet | None
    id_column: str | None

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The tag columns, in tag order (every column but the id column)."""
        id_column = getattr(self, "id_column", None)
        return tuple(name for name in self.columns if name != id_column)

    def counts(self) -> dict[str, int]:
        """Customers per tag, in tag order."""
        return {name: int(np.count_nonzero(self[name])) for name in self.tag_names}

    def summary(self) -> Table:
        """A table: tag, English and Chinese labels, group, count and share of customers."""
        counts = self.counts()
        total = max(len(self), 1)
        tag_set = getattr(self, "tag_set", None)
        rules = {t.name: t for t in tag_set.tags} if tag_set is not None else {}
        names = list(counts)
        return Table(
            {
                "tag": names,
                "label_en": [rules[n].label("en") if n in rules else n for n in names],
                "label_zh": [rules[n].label("zh") if n in rules else n for n in names],
                "group": [rules[n].group if n in rules else None for n in names],
                "count": [counts[n] for n in names],
                "share": [counts[n] / total for n in names],
            }
        )


@dataclass(frozen=True)
class TagExplanation:
    """Why a customer has a tag or not.

    Attributes
    ----------
    tag:
        The tag explained.
    has_tag:
        Whether the customer has it.
    rule:
        The explanation of the tag's rule for this customer.
    shadowed_by:
        When the rule matched but a higher-priority tag of the same group won, that tag.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> tags = TagSet([
    ...     TagRule(name="spend_high", when="monetary >= 2000", group="spend", priority=2, label_zh="高消费"),
    ...     TagRule(name="spend_low", when="monetary > 0", group="spend", priority=1, label_zh="低消费"),
    ... ])
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> why = tags.explain_one({"monetary": 3000.0}, "spend_low", as_of=as_of)
    >>> why.has_tag, why.rule.matched, why.shadowed_by
    (False, True, 'spend_high')
    >>> print(why)
    spend_low: no (its rule matched, but 'spend_high' has a higher priority in the group)
    monetary > 0 → true (monetary = 3000.0)
    """

    tag: str
    has_tag: bool
    rule: Explanation
    shadowed_by: str | None = None

    def __str__(self) -> str:
        head = f"{self.tag}: {'yes' if self.has_tag else 'no'}"
        if self.shadowed_by is not None:
            head += f" (its rule matched, but {self.shadowed_by!r} has a higher priority in the group)"
        return f"{head}\n{self.rule}"

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(str(self).splitlines()[0])}</b></p>{self.rule._repr_html_()}"
