"""Segment maps: ordered, rule-defined names for RFM scores (first match wins, a fallback last)."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, PrivateAttr, field_validator, model_validator

from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, _UnknownNameError, value_repr
from user_ops.rfm._binning import MAX_LEVELS
from user_ops.rules import Rule, Schema

__all__ = [
    "NEVER_BOUGHT",
    "SCORE_FIELDS",
    "Segment",
    "SegmentMap",
]

#: The fields a segment rule may read: the three scores and the three-digit code.
SCORE_FIELDS: dict[str, str] = {"r": "int", "f": "int", "m": "int", "rfm_code": "str"}
_SCHEMA = Schema(SCORE_FIELDS)
# Segment rules read scores only, so they are time-free; the rule engine still wants an instant.
RULE_AS_OF = datetime(2000, 1, 1, tzinfo=timezone.utc)
# Functions whose answer depends on the clock or on tags: meaningless over scores.
_TIME_FUNCTIONS = frozenset(
    {
        "now",
        "today",
        "days_since",
        "days_between",
        "within",
        "year",
        "month",
        "day",
        "weekday",
        "hour",
        "has_tag",
    }
)

NEVER_BOUGHT = ("never_bought", "Never bought", "潜在用户", "Convert: first-order offer", "转化：首单礼")
"""Code, labels and actions of customers without a purchase (null recency): outside every map."""


class Segment(PolicyModel):
    """One segment of a map.

    Parameters
    ----------
    code:
        Identifier written into score tables (``champions``).
    label_en, label_zh:
        What a person reads.
    action_en, action_zh:
        The suggested action.
    when:
        Rule over ``r``, ``f``, ``m`` (ints) and ``rfm_code`` (a string like ``"545"``); ``None``
        marks the fallback, which must be the map's last segment.

    Examples
    --------
    >>> Segment(code="vip", label_en="VIP", label_zh="贵宾", when="r >= 4 and m == 5").when.fields
    ('r', 'm')
    """

    code: str = Field(min_length=1, max_length=100)
    label_en: str
    label_zh: str
    action_en: str = ""
    action_zh: str = ""
    when: Rule | None = None

    @field_validator("code")
    @classmethod
    def _identifier(cls, code: str) -> str:
        if not code.isidentifier():
            raise ValueError(f"segment code must be an identifier like 'champions', got {code!r}")
        if code == NEVER_BOUGHT[0]:
            raise ValueError(f"segment code {code!r} is reserved for customers without a purchase")
        return code

    @field_validator("when")
    @classmethod
    def _over_scores(cls, when: Rule | None) -> Rule | None:
        if when is None:
            return None
        when.check(_SCHEMA)  # unknown fields and type errors surface now, not at scoring time
        used = sorted(_TIME_FUNCTIONS.intersection(when.functions))
        if used:
            raise ValueError(f"segment rules read scores only; {', '.join(used)}() has no meaning here")
        return when

    def label(self, lang: str = "en") -> str:
        """The label in ``"en"`` or ``"zh"``."""
        if not (isinstance(lang, str) and lang in ("en", "zh")):
            raise ConfigError(f"lang must be 'en' or 'zh', got {value_repr(lang)}")
        return self.label_zh if lang == "zh" else self.label_en


def _rule_items(rules: Any) -> list[tuple[str, str]]:
    """``{code: rule text}`` or ``[(code, rule text), ...]`` as a list of pairs (ConfigError otherwise)."""
    if isinstance(rules, Mapping):
        return list(rules.items())
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Iterable):
        raise ConfigError(f"rules must map segment codes to rule text, got {value_repr(rules)}")
    items = list(rules)
    for position, item in enumerate(items):
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2:
            raise ConfigError(f"rules[{position}] must be a pair (code, rule text), got {value_repr(item)}")
    return [(code, text) for code, text in items]


class _GridCache:
    """Holder of a map's lookup table. It compares equal to any other holder, so that a computed
    cache never makes two equal maps (or models holding them) compare unequal."""

    __slots__ = ("grid", "segments")

    def __init__(self) -> None:
        self.grid: npt.NDArray[np.int64] | None = None
        self.segments: tuple[Segment, ...] | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _GridCache)

    __hash__ = None  # type: ignore[assignment]


class SegmentMap(PolicyModel):
    """An ordered list of segments over RFM scores: the first whose rule matches wins.

    The last segment is the fallback (``when=None``) so every score combination has a segment.
    ``levels`` names the score scale the rules were written for (5 means scores 1..5); a model
    checks it against its own scale. Built-ins: [`classic`][], [`cn8`][], [`pymc`][].

    Parameters
    ----------
    name:
        The map's name (``classic``, ``cn8``, ``pymc`` for the built-ins).
    levels:
        The score scale the rules were written for, 2 to 9; ``None``: not stated (any scale).
    segments:
        The [`Segment`][] entries in the order they are tried, the last one the fallback.

    Examples
    --------
    >>> m = SegmentMap(name="mine", segments=[
    ...     Segment(code="best", label_en="Best", label_zh="最佳", when="r + f + m >= 13"),
    ...     Segment(code="rest", label_en="Rest", label_zh="其他"),
    ... ])
    >>> m.segment_of(5, 4, 4), m.segment_of(1, 1, 1)
    ('best', 'rest')
    """

    name: str = "custom"
    levels: int | None = Field(default=None, ge=2, le=MAX_LEVELS)
    segments: tuple[Segment, ...]
    _cache: _GridCache = PrivateAttr(default_factory=_GridCache)

    @model_validator(mode="after")
    def _check(self) -> SegmentMap:
        if not self.segments:
            raise ValueError("segments: a segment map needs at least one segment (the fallback)")
        duplicates = sorted(c for c, n in Counter(s.code for s in self.segments).items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate segment codes: {duplicates}")
        if self.segments[-1].when is not None:
            raise ValueError(
                "the last segment must be the fallback (when=None) so that every score has a segment"
            )
        early = [s.code for s in self.segments[:-1] if s.when is None]
        if early:
            raise ValueError(f"only the last segment may be the fallback; {early} have no rule")
        return self

    # -- structure ----------------------------------------------------------------------------------
    @property
    def codes(self) -> tuple[str, ...]:
        """Segment codes in map order."""
        return tuple(s.code for s in self.segments)

    def __getitem__(self, code: str) -> Segment:
        for segment in self.segments if isinstance(code, str) else ():
            if segment.code == code:
                return segment
        raise _UnknownNameError(  # a ConfigError that is also the KeyError of a mapping
            f"no segment {value_repr(code)} in map {self.name!r} (segments: {', '.join(self.codes)})"
        )

    @property
    def fields(self) -> frozenset[str]:
        """Score fields the rules read (``r``, ``f``, ``m``, ``rfm_code``)."""
        return frozenset(f for s in self.segments if s.when is not None for f in s.when.fields)

    # -- evaluation ---------------------------------------------------------------------------------
    def segment_of(self, r: int, f: int, m: int) -> str:
        """Code of the segment of one score triple (rules evaluated one by one, first match wins).

        Scores are ints from 1 to 9; anything else is a ``DataError`` naming the score.
        """
        for name, score in (("r", r), ("f", f), ("m", m)):
            if isinstance(score, (bool, np.bool_)) or not isinstance(score, (int, np.integer)):
                raise DataError(
                    f"score {name} must be an int from 1 to {MAX_LEVELS}, got {value_repr(score)}"
                )
            if not 1 <= score <= MAX_LEVELS:
                raise DataError(f"score {name} must be from 1 to {MAX_LEVELS}, got {score}")
        r, f, m = int(r), int(f), int(m)
        record = {"r": r, "f": f, "m": m, "rfm_code": f"{r}{f}{m}"}
        for segment in self.segments[:-1]:
            assert segment.when is not None  # checked when built
            if segment.when.evaluate_one(record, as_of=RULE_AS_OF):
                return segment.code
        return self.segments[-1].code

    def lookup(self) -> npt.NDArray[np.int64]:
        """Segment index of every code ``100 r + 10 f + m`` (scores 1..9; -1 elsewhere), cached.

        The rules are evaluated once, in batch, on the table of all 729 score triples: a population
        of any size then needs one array lookup per customer, and gets exactly the answers of the
        same rules.
        """
        cache = self._cache
        if cache.grid is None or cache.segments is not self.segments:  # model_copy may change them
            cache.grid, cache.segments = self._evaluate_grid(), self.segments
        return cache.grid

    def _evaluate_grid(self) -> npt.NDArray[np.int64]:
        axis = np.arange(1, MAX_LEVELS + 1, dtype=np.int64)
        r, f, m = (a.ravel() for a in np.meshgrid(axis, axis, axis, indexing="ij"))
        codes = 100 * r + 10 * f + m
        grid = Table({"r": r, "f": f, "m": m, "rfm_code": CODE_TEXT[codes]})
        index = np.full(len(codes), len(self.segments) - 1, dtype=np.int64)
        taken = np.zeros(len(codes), dtype=np.bool_)
        for position, segment in enumerate(self.segments[:-1]):
            assert segment.when is not None
            hit = segment.when.evaluate(grid, as_of=RULE_AS_OF) & ~taken
            index[hit] = position
            taken |= hit
        out = np.full(1000, -1, dtype=np.int64)
        out[codes] = index
        out.flags.writeable = False
        return out

    # -- built-ins ----------------------------------------------------------------------------------
    @classmethod
    def classic(cls) -> SegmentMap:
        """The 11-segment RF grid over R and F scores 1..5 (M is not read); see ``docs/rfm.md``.

        Examples
        --------
        >>> classic = SegmentMap.classic()
        >>> classic.segment_of(5, 5, 1), classic.segment_of(1, 5, 5), classic.segment_of(1, 1, 5)
        ('champions', 'cant_lose_them', 'lost')
        """
        return cls(name="classic", levels=5, segments=_build(_CLASSIC))

    @classmethod
    def cn8(cls, levels: int = 2) -> SegmentMap:
        """The Chinese 8-class model: high/low of R, F, M (重要价值客户 … 一般挽留客户).

        A score is *high* when it is at least ``levels // 2 + 1`` — 2 of 1..2 (the mean split), 3 of
        1..5 or 1..4: the middle score of an odd scale counts as high.

        Examples
        --------
        >>> SegmentMap.cn8().segment_of(2, 2, 2), SegmentMap.cn8(5).segment_of(3, 2, 5)
        ('important_value', 'important_develop')
        >>> SegmentMap.cn8(5)["important_value"].label_zh
        '重要价值客户'
        """
        if isinstance(levels, (bool, np.bool_)) or not isinstance(levels, (int, np.integer)):
            raise ConfigError(f"levels must be an int from 2 to {MAX_LEVELS}, got {value_repr(levels)}")
        if not 2 <= levels <= MAX_LEVELS:
            raise ConfigError(f"levels must be between 2 and {MAX_LEVELS}, got {levels}")
        high = levels // 2 + 1
        segments = []
        for code, (r_up, f_up, m_up), en, zh, action_en, action_zh in _CN8:
            parts = [
                f"{dim} {'>=' if up else '<'} {high}" for dim, up in (("r", r_up), ("f", f_up), ("m", m_up))
            ]
            when = None if code == "general_winback" else " and ".join(parts)
            segments.append(_segment(code, en, zh, action_en, action_zh, when))
        return cls(name=f"cn8_{levels}", levels=levels, segments=tuple(segments))

    @classmethod
    def pymc(cls) -> SegmentMap:
        """PyMC-Marketing's default ``rfm_segments`` map over quartile scores 1..4 (R: 4 = recent).

        Codes are listed exactly as in ``pymc_marketing.clv.utils._default_rfm_segment_config``;
        every other code is ``other``.

        Examples
        --------
        >>> SegmentMap.pymc().segment_of(4, 4, 4), SegmentMap.pymc().segment_of(3, 4, 2)
        ('premium_customer', 'other')
        """
        segments = [
            _segment(code, en, zh, action_en, action_zh, _code_rule(codes))
            for code, en, zh, action_en, action_zh, codes in _PYMC
        ]
        segments.append(
            _segment("other", "Other", "其他客户", "Review: no default action", "观察：暂无默认动作", None)
        )
        return cls(name="pymc", levels=4, segments=tuple(segments))

    @classmethod
    def from_rules(
        cls,
        rules: Mapping[str, str] | Sequence[tuple[str, str]],
        *,
        fallback: str = "other",
        labels: Mapping[str, tuple[str, str]] | None = None,
        name: str = "custom",
        levels: int | None = None,
    ) -> SegmentMap:
        """A map from ``{code: rule text}`` in order, plus a fallback code.

        Examples
        --------
        >>> m = SegmentMap.from_rules({"vip": "m == 5 and f >= 4"}, fallback="regular",
        ...                           labels={"vip": ("VIP", "贵宾")})
        >>> m.segment_of(1, 4, 5), m["vip"].label_zh, m["regular"].label_zh
        ('vip', '贵宾', 'regular')
        """
        items = _rule_items(rules)
        if labels is not None and not isinstance(labels, Mapping):
            raise ConfigError(f"labels must map codes to (English, Chinese), got {value_repr(labels)}")
        if not isinstance(fallback, str):
            raise ConfigError(f"fallback must be a segment code (str), got {value_repr(fallback)}")
        names = labels or {}

        def make(code: str, when: str | None) -> Segment:
            pair = names.get(code, (code, code))
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ConfigError(
                    f"labels[{code!r}] must be a pair (English, Chinese), got {value_repr(pair)}"
                )
            return Segment(code=code, label_en=pair[0], label_zh=pair[1], when=when)

        segments = [make(code, text) for code, text in items] + [make(fallback, None)]
        return cls(name=name, levels=levels, segments=tuple(segments))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(s.code)}</code></td><td>{html.escape(s.label_en)}</td>"
            f"<td>{html.escape(s.label_zh)}</td>"
            f"<td><code>{html.escape(s.when.to_text() if s.when is not None else '(otherwise)')}</code></td>"
            f"<td>{html.escape(s.action_en)}</td><td>{html.escape(s.action_zh)}</td></tr>"
            for s in self.segments
        )
        return (
            f"<p><b>segment map {html.escape(self.name)}</b> (scores 1..{self.levels or '?'})</p>"
            "<table class='user-ops-segment-map'><thead><tr><th>segment</th><th>label</th><th>标签</th>"
            f"<th>when</th><th>action</th><th>动作</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def _segment(code: str, en: str, zh: str, action_en: str, action_zh: str, when: str | None) -> Segment:
    return Segment(code=code, label_en=en, label_zh=zh, action_en=action_en, action_zh=action_zh, when=when)


def _build(rows: Sequence[tuple[str, str, str, str, str, str | None]]) -> tuple[Segment, ...]:
    return tuple(_segment(*row) for row in rows)


def _code_rule(codes: Sequence[str]) -> str:
    return "rfm_code in [" + ", ".join(f'"{c}"' for c in codes) + "]"


def _code_text() -> npt.NDArray[Any]:
    """``CODE_TEXT[100 r + 10 f + m]`` is ``"rfm"`` as text (object array, shared str objects)."""
    out = np.empty(1000, dtype=object)
    for code in range(1000):
        out[code] = f"{code:03d}"
    return out


CODE_TEXT = _code_text()

# The RF grid (R across, F up), first match wins:
#        R1           R2           R3              R4                   R5
#   F5   cant_lose    cant_lose    loyal           champions            champions
#   F4   at_risk      at_risk      loyal           champions            champions
#   F3   at_risk      at_risk      need_attention  potential_loyalist   potential_loyalist
#   F2   lost         hibernating  about_to_sleep  potential_loyalist   potential_loyalist
#   F1   lost         hibernating  about_to_sleep  promising            new_customers
_CLASSIC: tuple[tuple[str, str, str, str, str, str | None], ...] = (
    ("champions", "Champions", "冠军客户",
     "Reward; early access, ask for reviews and referrals", "奖励：新品优先体验，邀请评价与转介绍",
     "r >= 4 and f >= 4"),
    ("loyal", "Loyal", "忠诚客户",
     "Upsell higher-value products; membership benefits", "向上销售高价值商品，强化会员权益",
     "r == 3 and f >= 4"),
    ("potential_loyalist", "Potential Loyalist", "潜力忠诚客户",
     "Offer membership or a loyalty programme; recommend", "邀请入会或加入积分计划，个性化推荐",
     "r >= 4 and f >= 2"),
    ("new_customers", "New Customers", "新客户",
     "Onboard; make the second order easy", "新客引导：降低第二单门槛",
     "r == 5 and f == 1"),
    ("promising", "Promising", "有潜力客户",
     "Build awareness; a free trial or small gift", "加深品牌认知：试用装或小礼品",
     "r == 4 and f == 1"),
    ("need_attention", "Need Attention", "需要关注",
     "Limited-time offer based on past purchases", "基于历史购买的限时优惠",
     "r == 3 and f == 3"),
    ("about_to_sleep", "About to Sleep", "即将沉睡",
     "Share popular products; a reactivation discount", "推送热销商品与唤醒优惠",
     "r == 3"),
    ("cant_lose_them", "Can't Lose Them", "不能失去的客户",
     "Win back in person; new products, no generic mass offers", "一对一挽回：新品与专属关怀",
     "r <= 2 and f == 5"),
    ("at_risk", "At Risk", "流失风险客户",
     "Personal win-back messages and offers", "个性化召回消息与优惠",
     "r <= 2 and f >= 3"),
    ("hibernating", "Hibernating", "沉睡客户",
     "Relevant offers; reconnect at low cost", "低成本触达相关优惠，重建联系",
     "r == 2"),
    ("lost", "Lost", "已流失客户",
     "Low-cost reactivation attempt, otherwise leave alone", "低成本尝试激活，否则不再打扰",
     None),
)  # fmt: skip

# (code, (R high, F high, M high), en, zh, action en, action zh) in the glossary's order.
_CN8: tuple[tuple[str, tuple[bool, bool, bool], str, str, str, str], ...] = (
    ("important_value", (True, True, True), "Important value", "重要价值客户",
     "Keep: VIP service and exclusive benefits", "重点维护：VIP 服务与专属权益"),
    ("important_develop", (True, False, True), "Important to develop", "重要发展客户",
     "Raise frequency: membership, repurchase offers", "提升频次：入会与复购激励"),
    ("important_retain", (False, True, True), "Important to retain", "重要保持客户",
     "Reach out before they lapse", "主动联系，防止流失"),
    ("important_winback", (False, False, True), "Important to win back", "重要挽留客户",
     "Win back with a strong personal offer", "重点挽回：个性化强力优惠"),
    ("general_value", (True, True, False), "General value", "一般价值客户",
     "Raise spend: bundles and cross-sell", "提升客单价：组合购与交叉销售"),
    ("general_develop", (True, False, False), "General to develop", "一般发展客户",
     "Nurture: second-order coupon", "培育：复购券"),
    ("general_retain", (False, True, False), "General to retain", "一般保持客户",
     "Light-touch reminders", "低频提醒"),
    ("general_winback", (False, False, False), "General to win back", "一般挽留客户",
     "Low-cost recall, or leave alone", "低成本召回或不再打扰"),
)  # fmt: skip

# pymc_marketing.clv.utils._default_rfm_segment_config (R, F, M quartiles, R reversed: 4 = recent).
_PYMC: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("premium_customer", "Premium Customer", "优质客户",
     "Reward and retain", "奖励并维护",
     ("334", "443", "444", "344", "434", "433", "343", "333")),
    ("repeat_customer", "Repeat Customer", "复购客户",
     "Raise spend: cross-sell", "提升客单价：交叉销售",
     ("244", "234", "232", "332", "143", "233", "243")),
    ("top_spender", "Top Spender", "高消费客户",
     "Bring back more often: reminders and benefits", "提升频次：提醒与权益",
     ("424", "414", "144", "314", "324", "124", "224", "423", "413", "133", "323", "313", "134")),
    ("at_risk_customer", "At Risk Customer", "流失风险客户",
     "Win back with an offer", "优惠召回",
     ("422", "223", "212", "122", "222", "132", "322", "312", "412", "123", "214")),
    ("inactive_customer", "Inactive Customer", "不活跃客户",
     "Low-cost reactivation", "低成本唤醒",
     ("411", "111", "113", "114", "112", "211", "311")),
)  # fmt: skip
