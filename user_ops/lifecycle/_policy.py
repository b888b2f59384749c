"""``Stage`` and ``LifecyclePolicy``: ordered, rule-defined lifecycle stages (first match wins)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from pydantic import Field, PrivateAttr, field_validator, model_validator

from user_ops._money import Currency
from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops._time import TzLike
from user_ops.exceptions import ConfigError, DataError, _UnknownNameError, value_repr
from user_ops.rules import Explanation, Rule

__all__ = ["RESERVED_CODES", "LifecyclePolicy", "Stage", "StageResult", "StageTable"]

#: Codes no stage may take: [`user_ops.lifecycle.transitions`][] uses them for customers found in
#: only one of two snapshots.
RESERVED_CODES: frozenset[str] = frozenset({"new", "gone"})

#: The label columns [`LifecyclePolicy.classify`][] writes, in order (after ``customer_id``).
STAGE_COLUMNS: tuple[str, ...] = ("stage", "stage_en", "stage_zh", "action", "action_en", "action_zh")


class Stage(PolicyModel):
    """One lifecycle stage: who is in it (``when``) and what to do about them (``action``).

    Parameters
    ----------
    code:
        Identifier written into result tables (``dormancy``).
    label_en, label_zh:
        What a person reads (``Dormancy`` / ``休眠期``).
    action:
        Identifier of the action the stage calls for (``wake_up``).
    action_en, action_zh:
        The action as a person reads it (``Wake up`` / ``唤醒``).
    when:
        The condition over per-customer columns, as rule text or a JSON AST (see the rule language);
        ``None`` marks the fallback, which must be the policy's last stage.
    description:
        A longer explanation for people.

    Examples
    --------
    >>> s = Stage(code="dormancy", label_en="Dormancy", label_zh="休眠期", action="wake_up",
    ...           action_en="Wake up", action_zh="唤醒", when="recency_days > 60")
    >>> s.when.fields, s.is_fallback
    (('recency_days',), False)
    """

    code: str = Field(min_length=1, max_length=100)
    label_en: str = Field(min_length=1)
    label_zh: str = Field(min_length=1)
    action: str = Field(min_length=1, max_length=100)
    action_en: str = Field(min_length=1)
    action_zh: str = Field(min_length=1)
    when: Rule | None = None
    description: str = ""

    @field_validator("code", "action")
    @classmethod
    def _identifier(cls, code: str) -> str:
        if not code.isidentifier():
            raise ValueError(f"stage and action codes must be identifiers like 'wake_up', got {code!r}")
        return code

    @field_validator("code")
    @classmethod
    def _not_reserved(cls, code: str) -> str:
        if code in RESERVED_CODES:
            raise ValueError(
                f"stage code {code!r} is reserved: transitions() names customers found only in the later "
                "snapshot 'new' and those only in the earlier one 'gone'"
            )
        return code

    @field_validator("when")
    @classmethod
    def _no_tags(cls, when: Rule | None) -> Rule | None:
        if when is not None and "has_tag" in when.functions:
            raise ValueError("stage rules cannot use has_tag(): add the tag as a column of the table instead")
        return when

    @property
    def is_fallback(self) -> bool:
        """Whether this is the fallback stage (no rule)."""
        return self.when is None

    def label(self, lang: str = "en") -> str:
        """The stage label in ``"en"`` or ``"zh"``."""
        return self.label_zh if _lang(lang) == "zh" else self.label_en

    def action_label(self, lang: str = "en") -> str:
        """The action label in ``"en"`` or ``"zh"``."""
        return self.action_zh if _lang(lang) == "zh" else self.action_en


def _lang(lang: object) -> str:
    if not (isinstance(lang, str) and lang in ("en", "zh")):
        raise ConfigError(f"lang must be 'en' or 'zh', got {value_repr(lang)}")
    return lang


class _Labels:
    """The policy's label lookup arrays (object arrays indexed by stage position). Compares equal to
    any other holder so that a computed cache never makes two equal policies compare unequal."""

    __slots__ = ("arrays",)

    def __init__(self) -> None:
        self.arrays: tuple[npt.NDArray[Any], ...] | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Labels)

    __hash__ = None  # type: ignore[assignment]


class LifecyclePolicy(PolicyModel):
    """An ordered list of lifecycle stages: the first stage whose rule matches wins.

    The last stage is the fallback (``when=None``), so every customer gets exactly one stage. Checked
    when built: at least one stage, unique codes, exactly one fallback and it is last, no reserved
    codes (``new``, ``gone``), no ``has_tag()`` in a rule.

    Parameters
    ----------
    stages:
        The stages in order (positional, or ``stages=`` as in a JSON document).
    name:
        A name for people and admin UIs (``"default"`` for [`default`][]).
    lifecycle_order:
        Every stage code once, in the order a customer moves through the stages (``prospect`` →
        ``introduction`` → ... → ``churn``): the order stage summaries, charts and transitions show.
        The rules are still tried in ``stages`` order (the evaluation priority, often the reverse: a
        lapsed customer is checked before a growing one). Default ``None``: the ``stages`` order.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = LifecyclePolicy([
    ...     Stage(code="lapsed", label_en="Lapsed", label_zh="流失", action="win_back",
    ...           action_en="Win back", action_zh="挽回", when="recency_days > 180"),
    ...     Stage(code="active", label_en="Active", label_zh="活跃", action="retain",
    ...           action_en="Retain", action_zh="留存"),
    ... ], name="two stages")
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> policy.classify_one({"recency_days": 200}, as_of=as_of).stage
    'lapsed'
    >>> policy.classify({"recency_days": [200, 3, None]}, as_of=as_of)["stage"].tolist()
    ['lapsed', 'active', 'active']
    """

    name: str = "custom"
    stages: tuple[Stage, ...]
    lifecycle_order: tuple[str, ...] | None = None
    _labels: _Labels = PrivateAttr(default_factory=_Labels)

    def __init__(self, stages: Sequence[Stage] | None = None, /, **data: Any) -> None:
        if stages is not None:
            data["stages"] = tuple(stages)
        super().__init__(**data)

    @model_validator(mode="after")
    def _check(self) -> LifecyclePolicy:
        if not self.stages:
            raise ValueError("stages: a lifecycle policy needs at least one stage (the fallback)")
        codes = [s.code for s in self.stages]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate stage codes: {duplicates}")
        fallbacks = [s.code for s in self.stages if s.when is None]
        if not fallbacks:
            raise ValueError(
                "a lifecycle policy needs a fallback stage: give its last stage no 'when' rule, so every "
                "customer gets a stage"
            )
        if len(fallbacks) > 1:
            raise ValueError(
                f"only the last stage may be the fallback (no 'when'), found several: {fallbacks}"
            )
        if self.stages[-1].when is not None:
            raise ValueError(
                f"the fallback stage {fallbacks[0]!r} (no 'when') must be the last stage; "
                f"the last stage is {self.stages[-1].code!r}"
            )
        if self.lifecycle_order is not None:
            order = list(self.lifecycle_order)
            repeated = sorted({c for c in order if order.count(c) > 1})
            unknown = [c for c in order if c not in codes]
            missing = [c for c in codes if c not in order]
            if repeated or unknown or missing:
                problems = [
                    f"{what} {found}"
                    for what, found in (
                        ("repeats", repeated),
                        ("names unknown stages", unknown),
                        ("lacks", missing),
                    )
                    if found
                ]
                raise ValueError(f"lifecycle_order must list every stage once; it {'; '.join(problems)}")
        return self

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def default(
        cls,
        *,
        population_cycle_days: float = 30.0,
        dormancy_multiple: float = 2.0,
        churn_multiple: float = 4.0,
        dormancy_min_days: int = 30,
        churn_min_days: int = 90,
        dormancy_max_days: int | None = None,
        churn_max_days: int | None = 365,
        mature_orders: int = 4,
        mature_tenure_days: int = 90,
        mature_monetary: float | None = None,
        p_alive_below: float | None = None,
    ) -> LifecyclePolicy:
        """The seeds' lifecycle: prospect, churn, dormancy, introduction, maturity, growth, unclassified.

        Every threshold is a parameter; the result is plain rules (print it, store it as JSON). See
        [`user_ops.lifecycle.default_policy`][] for the meaning of each parameter and
        ``docs/lifecycle.md`` for the table of rules.

        Examples
        --------
        >>> policy = LifecyclePolicy.default(population_cycle_days=45)
        >>> policy.codes
        ('prospect', 'churn', 'dormancy', 'introduction', 'maturity', 'growth', 'unclassified')
        >>> policy["dormancy"].when.to_text()
        'recency_days > max(2 * coalesce(repurchase_cycle_days, 45), 30)'
        """
        from user_ops.lifecycle._default import default_policy

        return default_policy(
            population_cycle_days=population_cycle_days,
            dormancy_multiple=dormancy_multiple,
            churn_multiple=churn_multiple,
            dormancy_min_days=dormancy_min_days,
            churn_min_days=churn_min_days,
            dormancy_max_days=dormancy_max_days,
            churn_max_days=churn_max_days,
            mature_orders=mature_orders,
            mature_tenure_days=mature_tenure_days,
            mature_monetary=mature_monetary,
            p_alive_below=p_alive_below,
        )

    @classmethod
    def default_for(cls, metrics: Any, **thresholds: Any) -> LifecyclePolicy:
        """[`default`][] with the population cycle measured on ``metrics``.

        The population cycle is [`user_ops.lifecycle.population_cycle`][] of the table (the median
        ``repurchase_cycle_days`` of its repeat buyers), rounded for the rule text a person reads:
        to whole days from 10 days up, else to two significant digits (a median of 36.39 days is
        36, of 7.24 days 7.2). Other thresholds pass through.

        Examples
        --------
        >>> LifecyclePolicy.default_for({"repurchase_cycle_days": [10.0, 20.0, None, 40.0]})[
        ...     "dormancy"].when.to_text()
        'recency_days > max(2 * coalesce(repurchase_cycle_days, 20), 30)'
        >>> LifecyclePolicy.default_for({"repurchase_cycle_days": [30.1, 36.392872106481484, 50.0]})[
        ...     "dormancy"].when.to_text()
        'recency_days > max(2 * coalesce(repurchase_cycle_days, 36), 30)'
        """
        from user_ops.lifecycle._default import population_cycle, readable_cycle

        if "population_cycle_days" not in thresholds:
            thresholds["population_cycle_days"] = readable_cycle(population_cycle(metrics))
        return cls.default(**thresholds)

    # -- structure ----------------------------------------------------------------------------------
    @property
    def codes(self) -> tuple[str, ...]:
        """Stage codes in order."""
        return tuple(s.code for s in self.stages)

    @property
    def lifecycle_codes(self) -> tuple[str, ...]:
        """Stage codes in lifecycle order (``lifecycle_order``, else the rule order of ``stages``).

        Examples
        --------
        >>> policy = LifecyclePolicy.default()
        >>> policy.codes[:3], policy.lifecycle_codes[:3]
        (('prospect', 'churn', 'dormancy'), ('prospect', 'introduction', 'growth'))
        """
        return self.lifecycle_order if self.lifecycle_order is not None else self.codes

    @property
    def fallback(self) -> Stage:
        """The fallback (last) stage."""
        return self.stages[-1]

    @property
    def fields(self) -> tuple[str, ...]:
        """The columns the policy's rules read, in order of first use."""
        names: dict[str, None] = {}
        for stage in self.stages:
            if stage.when is not None:
                names.update(dict.fromkeys(stage.when.fields))
        return tuple(names)

    def __getitem__(self, code: str) -> Stage:
        return self.stages[self.index(code)]

    def __len__(self) -> int:
        return len(self.stages)

    def index(self, code: str) -> int:
        """Position of stage ``code`` (an unknown code raises a ConfigError, also a KeyError, naming the
        stages)."""
        if isinstance(code, str) and code in self.codes:
            return self.codes.index(code)
        raise _UnknownNameError(
            f"no stage {value_repr(code)} in this policy (stages: {', '.join(self.codes)})"
        )

    def describe(self) -> Table:
        """The policy as a table: code, labels, action, action labels and rule text, in order.

        Examples
        --------
        >>> LifecyclePolicy.default().describe()["when"][-1]
        '(fallback)'
        """
        return Table(
            {
                "stage": list(self.codes),
                "label_en": [s.label_en for s in self.stages],
                "label_zh": [s.label_zh for s in self.stages],
                "action": [s.action for s in self.stages],
                "action_en": [s.action_en for s in self.stages],
                "action_zh": [s.action_zh for s in self.stages],
                "when": [s.when.to_text() if s.when is not None else "(fallback)" for s in self.stages],
            }
        )

    def _label_arrays(self) -> tuple[npt.NDArray[Any], ...]:
        arrays = self._labels.arrays
        if arrays is None:
            values = [
                [s.code for s in self.stages],
                [s.label_en for s in self.stages],
                [s.label_zh for s in self.stages],
                [s.action for s in self.stages],
                [s.action_en for s in self.stages],
                [s.action_zh for s in self.stages],
            ]
            built = []
            for column in values:
                array = np.empty(len(column), dtype=object)
                array[:] = column
                built.append(array)
            arrays = self._labels.arrays = tuple(built)
        return arrays

    # -- classification -----------------------------------------------------------------------------
    def stage_index(self, table: Any, *, as_of: datetime, tz: TzLike | None = None) -> npt.NDArray[np.intp]:
        """Position (in [`codes`][]) of every row's stage: the vectorized core of [`classify`][].

        Each stage's rule is evaluated once over the whole table; rows take the first stage whose
        rule matched (an unknown result does not match), else the fallback.
        """
        data = Table.coerce(table)
        missing = [name for name in self.fields if name not in data]
        if missing:
            raise DataError(
                f"the policy's rules read columns the table lacks: {missing} "
                f"(it has: {', '.join(data.columns) or 'no columns'})"
            )
        last = len(self.stages) - 1
        index = np.full(len(data), last, dtype=np.intp)
        # Latest first: an earlier stage overwrites a later one, so the first match wins.
        for position in range(last - 1, -1, -1):
            rule = self.stages[position].when
            assert rule is not None
            np.copyto(index, position, where=rule.evaluate(data, as_of=as_of, tz=tz))
        return index

    def classify(self, table: Any, *, as_of: datetime, tz: TzLike | None = None) -> StageTable:
        """Every customer's stage and action, vectorized.

        Parameters
        ----------
        table:
            Per-customer columns (a ``Table``, a dict of columns, records or a DataFrame), e.g. the
            output of [`user_ops.customer_metrics`][].
        as_of:
            The evaluation instant (timezone-aware).
        tz:
            Business time zone for calendar rules (default: ``as_of``'s zone).

        Returns
        -------
        StageTable
            ``customer_id`` (when the input has it), ``stage``, ``stage_en``, ``stage_zh``,
            ``action``, ``action_en``, ``action_zh``; ``counts()`` and ``summary()``.
        """
        data = Table.coerce(table)
        index = self.stage_index(data, as_of=as_of, tz=tz)
        columns: dict[str, Any] = {}
        if "customer_id" in data:
            columns["customer_id"] = data["customer_id"]
        for name, labels in zip(STAGE_COLUMNS, self._label_arrays(), strict=True):
            columns[name] = labels[index]
        result = cast(StageTable, StageTable._trusted(columns))
        result.policy = self
        result.index = index
        index.flags.writeable = False
        return result

    def classify_one(
        self, record: Mapping[str, Any], *, as_of: datetime, tz: TzLike | None = None
    ) -> StageResult:
        """One customer's stage and action, with the rule that put them there.

        Rules are evaluated in order and evaluation stops at the first match. The result's
        ``explanation`` (the matched rule, leaf by leaf) and ``rejected`` (why each earlier stage's
        rule did not match) are computed on first access, so the hot path stays fast.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> policy = LifecyclePolicy.default()
        >>> record = {"frequency": 3, "recency_days": 75, "repurchase_cycle_days": 20.0,
        ...           "first_order_at": datetime(2023, 5, 1, tzinfo=timezone.utc)}
        >>> result = policy.classify_one(record, as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
        >>> result.stage, result.action_zh, result.matched_rule
        ('dormancy', '唤醒', 'recency_days > max(2 * coalesce(repurchase_cycle_days, 30), 30)')
        >>> [code for code, _ in result.rejected]
        ['prospect', 'churn']
        """
        stages = self.stages
        last = len(stages) - 1
        position = last
        for i in range(last):
            rule = stages[i].when
            assert rule is not None
            if rule.evaluate_one(record, as_of=as_of, tz=tz):
                position = i
                break
        stage = stages[position]
        return StageResult(
            stage=stage.code,
            stage_en=stage.label_en,
            stage_zh=stage.label_zh,
            action=stage.action,
            action_en=stage.action_en,
            action_zh=stage.action_zh,
            matched_rule=stage.when.to_text() if stage.when is not None else None,
            position=position,
            _source=(self, dict(record), as_of, tz),
        )

    # -- display ------------------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{i + 1}</td><td><code>{html.escape(s.code)}</code></td>"
            f"<td>{html.escape(s.label_en)}</td><td>{html.escape(s.label_zh)}</td><td>{html.escape(s.action_en)}</td>"
            f"<td>{html.escape(s.action_zh)}</td>"
            f"<td><code>{html.escape(_rule_text(s))}</code></td></tr>"
            for i, s in enumerate(self.stages)
        )
        return (
            f"<div class='user-ops-lifecycle'><p><b>{html.escape(self.name)}</b> — first matching stage wins"
            "</p><table><thead><tr><th>#</th><th>stage</th><th>label</th><th>阶段</th><th>action</th>"
            f"<th>动作</th><th>when</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


def _rule_text(stage: Stage) -> str:
    return stage.when.to_text() if stage.when is not None else "(fallback)"


class StageTable(Table):
    """The result of [`LifecyclePolicy.classify`][]: a Table that remembers its policy.

    ``index`` holds each row's stage position in the policy (``policy.codes[index]`` is ``stage``).

    Columns: ``customer_id`` (when the input has it), ``stage``, ``stage_en``, ``stage_zh``,
    ``action``, ``action_en``, ``action_zh``.

    Attributes
    ----------
    policy:
        The [`LifecyclePolicy`][] that classified the rows.
    index:
        Each row's stage position in ``policy.codes`` (read-only int array).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = LifecyclePolicy([
    ...     Stage(code="lapsed", label_en="Lapsed", label_zh="流失", action="win_back",
    ...           action_en="Win back", action_zh="挽回", when="recency_days > 180"),
    ...     Stage(code="active", label_en="Active", label_zh="活跃", action="retain",
    ...           action_en="Retain", action_zh="留存"),
    ... ])
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> stages = policy.classify({"customer_id": [1, 2, 3], "recency_days": [200, 3, None]}, as_of=as_of)
    >>> stages["stage_zh"].tolist(), stages.index.tolist()
    (['流失', '活跃', '活跃'], [0, 1, 1])
    >>> stages.counts()
    {'lapsed': 1, 'active': 2}
    """

    __slots__ = ("index", "policy")
    policy: LifecyclePolicy | None
    index: npt.NDArray[np.intp] | None

    def counts(self) -> dict[str, int]:
        """Customers per stage, in the policy's lifecycle order (stages without customers included, as 0).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> policy = LifecyclePolicy.default()
        >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
        >>> table = {"frequency": [0, 0, 1], "recency_days": [None, None, 3],
        ...          "first_order_at": [None, None, as_of], "repurchase_cycle_days": [None, None, None]}
        >>> counts = policy.classify(table, as_of=as_of).counts()
        >>> counts["prospect"], counts["introduction"], counts["churn"]
        (2, 1, 0)
        """
        policy = getattr(self, "policy", None)
        index = getattr(self, "index", None)
        if policy is not None and index is not None:
            counts = np.bincount(index, minlength=len(policy.stages))
            by_code = {code: int(n) for code, n in zip(policy.codes, counts, strict=True)}
            return {code: by_code[code] for code in policy.lifecycle_codes}
        codes, found = np.unique(np.asarray(self["stage"]).astype(str), return_counts=True)
        return {str(c): int(n) for c, n in zip(codes, found, strict=True)}

    def summary(self, metrics: Any = None, *, currency: str | Currency = "CNY") -> Table:
        """[`user_ops.lifecycle.stage_summary`][] of this classification (money rounded to ``currency``)."""
        from user_ops.lifecycle._summary import stage_summary

        return stage_summary(self, metrics, currency=currency)


@dataclass(frozen=True)
class StageResult:
    """One customer's stage, from [`LifecyclePolicy.classify_one`][].

    Attributes
    ----------
    stage, stage_en, stage_zh:
        The stage code and labels.
    action, action_en, action_zh:
        The action code and labels.
    matched_rule:
        The text of the rule that matched, or ``None`` when the customer fell through to the fallback.
    position:
        The stage's position in the policy.
    explanation:
        (computed on first access) the matched rule explained leaf by leaf with the rule language's
        ``explain_one``; ``None`` for the fallback.
    rejected:
        (computed on first access) ``(stage code, Explanation)`` for every earlier stage, each
        showing why its rule did not match.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = LifecyclePolicy([
    ...     Stage(code="lapsed", label_en="Lapsed", label_zh="流失", action="win_back",
    ...           action_en="Win back", action_zh="挽回", when="recency_days > 180"),
    ...     Stage(code="active", label_en="Active", label_zh="活跃", action="retain",
    ...           action_en="Retain", action_zh="留存"),
    ... ])
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> result = policy.classify_one({"recency_days": 20}, as_of=as_of)
    >>> result.stage, result.action_zh, result.is_fallback
    ('active', '留存', True)
    >>> print(result)
    active (Active 活跃) → retain (Retain 留存)
    not lapsed:
      recency_days > 180 → false (recency_days = 20)   ✗
    active: no earlier stage matched (fallback)
    """

    stage: str
    stage_en: str
    stage_zh: str
    action: str
    action_en: str
    action_zh: str
    matched_rule: str | None
    position: int
    _source: tuple[LifecyclePolicy, dict[str, Any], datetime, TzLike | None] = field(
        repr=False, compare=False
    )

    @property
    def is_fallback(self) -> bool:
        """Whether no stage rule matched (the customer is in the fallback stage)."""
        return self.matched_rule is None

    @cached_property
    def explanation(self) -> Explanation | None:
        """The matched rule explained for this customer; ``None`` for the fallback stage."""
        policy, record, as_of, tz = self._source
        rule = policy.stages[self.position].when
        return None if rule is None else rule.explain_one(record, as_of=as_of, tz=tz)

    @cached_property
    def rejected(self) -> tuple[tuple[str, Explanation], ...]:
        """Every earlier stage with the explanation of why its rule did not match."""
        policy, record, as_of, tz = self._source
        out = []
        for stage in policy.stages[: self.position]:
            assert stage.when is not None
            out.append((stage.code, stage.when.explain_one(record, as_of=as_of, tz=tz)))
        return tuple(out)

    def to_dict(self) -> dict[str, str]:
        """The stage and action columns of [`LifecyclePolicy.classify`][] for this customer."""
        return {name: getattr(self, name) for name in STAGE_COLUMNS}

    def __str__(self) -> str:
        head = f"{self.stage} ({self.stage_en} {self.stage_zh}) → {self.action} "
        lines = [head + f"({self.action_en} {self.action_zh})"]
        for code, why in self.rejected:
            lines.append(f"not {code}:")
            lines.extend("  " + line for line in str(why).splitlines())
        if self.explanation is not None:
            lines.append(f"{self.stage}:")
            lines.extend("  " + line for line in str(self.explanation).splitlines())
        else:
            lines.append(f"{self.stage}: no earlier stage matched (fallback)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>{html.escape(self.stage_en)} {html.escape(self.stage_zh)}</b> "
            f"(<code>{html.escape(self.stage)}</code>) → {html.escape(self.action_en)} "
            f"{html.escape(self.action_zh)}</p>"
        )
        parts = [head]
        if self.explanation is not None:
            parts.append(self.explanation._repr_html_())
        else:
            parts.append("<p>No earlier stage matched: the fallback stage.</p>")
        if self.rejected:
            items = "".join(
                f"<li>not <code>{html.escape(code)}</code>: {why._repr_html_()}</li>"
                for code, why in self.rejected
            )
            parts.append(f"<details><summary>earlier stages</summary><ul>{items}</ul></details>")
        return "".join(parts)
