"""Member benefits (会员权益): typed benefit models, inheritance up the tiers, and a comparison table.

A benefit is a frozen model with a ``kind`` (the discriminator of its JSON document). A tier lists the
benefits it grants; a higher tier inherits every benefit of the tiers below it unless it grants a
benefit with the same [`key`][MemberDiscount.key] itself (then its own one overrides), or revokes it
with [`Revoke`][]. [`benefits_for`][] resolves a tier's effective set and [`compare_benefits`][]
lays the tiers side by side for a shop's membership page.

Custom benefit types (a lounge visit, a free dessert) are registered with
[`register_benefit_type`][], which names a pydantic model for their parameters; a
[`CustomBenefit`][] then validates its ``params`` against it.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol, Union, runtime_checkable

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator, model_validator

from user_ops._json_text import dumps
from user_ops._money import Money
from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, PluginError, value_repr

__all__ = [
    "Benefit",
    "BenefitSet",
    "BenefitTable",
    "BirthdayBenefit",
    "CouponGrant",
    "CustomBenefit",
    "FreeShipping",
    "MemberDiscount",
    "MemberPrice",
    "PointsMultiplier",
    "PriorityService",
    "Revoke",
    "TierBenefits",
    "benefit_type_names",
    "benefits_for",
    "compare_benefits",
    "register_benefit_type",
    "unregister_benefit_type",
]


def _plain(value: Decimal) -> str:
    """``Decimal`` without exponent or trailing zeros: ``0.950`` → ``0.95``, ``2.0`` → ``2``."""
    return format(value.normalize(), "f")


class _BenefitBase(PolicyModel):
    """Common behaviour: the inheritance key and the labels a person reads.

    Parameters
    ----------
    kind:
        The benefit type, fixed by the class: what a JSON document names it (``{"kind": "discount"}``).
    """

    @property
    def key(self) -> str:
        """Identity for inheritance: a higher tier's benefit with the same key overrides a lower one's."""
        kind: str = self.kind  # type: ignore[attr-defined]  # every subclass declares it
        return kind

    def label(self, lang: str = "en") -> str:
        """What a member reads, in ``"en"`` or ``"zh"``."""
        en, zh = self._labels()
        if lang not in ("en", "zh"):
            raise DataError(f"lang must be 'en' or 'zh', got {lang!r}")
        return en if lang == "en" else zh

    def _labels(self) -> tuple[str, str]:
        raise NotImplementedError


class MemberDiscount(_BenefitBase):
    """会员折扣: members pay ``rate`` of the price (``Decimal("0.95")`` is 95 % of it, 九五折).

    Examples
    --------
    >>> MemberDiscount(rate="0.88").label("zh")
    '会员8.8折'
    """

    kind: Literal["discount"] = "discount"
    rate: Decimal = Field(gt=0, le=1, description="share of the price the member pays, e.g. 0.95")

    @field_validator("rate", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(f"pass the rate as a string or Decimal, not float ({value!r})")
        return value

    def _labels(self) -> tuple[str, str]:
        off = _plain((1 - self.rate) * 100)
        return f"{off}% member discount", f"会员{_plain(self.rate * 10)}折"


class MemberPrice(_BenefitBase):
    """会员价: whether the member may buy at member prices.

    Parameters
    ----------
    eligible:
        False to state that this tier does not get member prices.

    Examples
    --------
    >>> MemberPrice().label()
    'member prices'
    """

    kind: Literal["member_price"] = "member_price"
    eligible: bool = True

    def _labels(self) -> tuple[str, str]:
        return ("member prices", "享会员价") if self.eligible else ("no member prices", "不享会员价")


class PointsMultiplier(_BenefitBase):
    """积分倍率: points earned are multiplied by ``multiplier`` (``"1.5"`` is 1.5×).

    Parameters
    ----------
    multiplier:
        Above 0, at most 100; a string or ``Decimal`` (a float is refused: ``"1.1"`` stays exact).

    Examples
    --------
    >>> PointsMultiplier(multiplier="1.5").label("zh")
    '1.5倍积分'
    """

    kind: Literal["points_multiplier"] = "points_multiplier"
    multiplier: Decimal = Field(gt=0, le=100)

    @field_validator("multiplier", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(f"pass the multiplier as a string or Decimal, not float ({value!r})")
        return value

    def _labels(self) -> tuple[str, str]:
        m = _plain(self.multiplier)
        return f"{m}x points", f"{m}倍积分"


class FreeShipping(_BenefitBase):
    """包邮: free shipping, on every order or from a ``threshold`` order value (满X包邮).

    Parameters
    ----------
    threshold:
        The order value from which shipping is free; ``None`` (or zero): every order.

    Examples
    --------
    >>> FreeShipping(threshold="99 CNY").label("zh")
    '满99.00元包邮'
    >>> FreeShipping().label()
    'free shipping'
    """

    kind: Literal["free_shipping"] = "free_shipping"
    threshold: Money | None = None

    @field_validator("threshold")
    @classmethod
    def _non_negative(cls, value: Money | None) -> Money | None:
        if value is not None and value.minor < 0:
            raise ValueError(f"threshold must not be negative, got {value}")
        return value

    def _labels(self) -> tuple[str, str]:
        if self.threshold is None or self.threshold.minor == 0:
            return "free shipping", "包邮"
        amount = self.threshold.format(symbol=False)
        return f"free shipping from {self.threshold}", f"满{amount}元包邮"


class CouponGrant(_BenefitBase):
    """优惠券礼包: ``count`` coupons of the template ``template_id`` every month, quarter or year.

    Grants of different templates are different benefits (the key includes the template id).

    Parameters
    ----------
    template_id:
        The coupon template granted (the id of a [`CouponTemplate`][user_ops.coupons.CouponTemplate]).
    count:
        How many coupons per period, 1 to 1000.
    period:
        ``"month"``, ``"quarter"`` or ``"year"``.

    Examples
    --------
    >>> grant = CouponGrant(template_id="hotpot-20-off", count=2, period="month")
    >>> grant.key, grant.label("zh")
    ('coupon_grant:hotpot-20-off', '每月2张优惠券 hotpot-20-off')
    """

    kind: Literal["coupon_grant"] = "coupon_grant"
    template_id: str = Field(min_length=1, max_length=200)
    count: int = Field(ge=1, le=1000)
    period: Literal["month", "quarter", "year"] = "month"

    @property
    def key(self) -> str:
        """``coupon_grant:{template_id}``: grants of different templates are inherited side by side."""
        return f"coupon_grant:{self.template_id}"

    def _labels(self) -> tuple[str, str]:
        zh_period = {"month": "每月", "quarter": "每季度", "year": "每年"}[self.period]
        plural = "coupon" if self.count == 1 else "coupons"
        return (
            f"{self.count} {plural} {self.template_id} per {self.period}",
            f"{zh_period}{self.count}张优惠券 {self.template_id}",
        )


class BirthdayBenefit(_BenefitBase):
    """生日权益: on the member's birthday, a coupon, a points multiplier and/or a gift.

    At least one of the three is needed.

    Parameters
    ----------
    coupon_template_id:
        A coupon template given on the birthday.
    points_multiplier:
        Points earned on the birthday are multiplied by it (above 0, at most 100).
    gift_en:
        The gift, in English; ``gift_zh`` goes with it.
    gift_zh:
        The gift, in Chinese.

    Examples
    --------
    >>> BirthdayBenefit(gift_en="free dessert", gift_zh="生日甜品").label("zh")
    '生日礼：生日甜品'
    """

    kind: Literal["birthday"] = "birthday"
    coupon_template_id: str | None = Field(default=None, min_length=1)
    points_multiplier: Decimal | None = Field(default=None, gt=0, le=100)
    gift_en: str | None = Field(default=None, min_length=1)
    gift_zh: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _something(self) -> BirthdayBenefit:
        if self.coupon_template_id is None and self.points_multiplier is None and self.gift_en is None:
            raise ValueError("a birthday benefit needs coupon_template_id, points_multiplier or gift_en")
        if (self.gift_en is None) != (self.gift_zh is None):
            raise ValueError("gift_en and gift_zh go together (labels in both languages)")
        return self

    def _labels(self) -> tuple[str, str]:
        en: list[str] = []
        zh: list[str] = []
        if self.gift_en is not None and self.gift_zh is not None:
            en.append(self.gift_en)
            zh.append(self.gift_zh)
        if self.coupon_template_id is not None:
            en.append(f"coupon {self.coupon_template_id}")
            zh.append(f"优惠券 {self.coupon_template_id}")
        if self.points_multiplier is not None:
            m = _plain(self.points_multiplier)
            en.append(f"{m}x points")
            zh.append(f"{m}倍积分")
        return "birthday: " + ", ".join(en), "生日礼：" + "，".join(zh)


class PriorityService(_BenefitBase):
    """优先服务: priority queueing / booking / customer service (``channels`` says which).

    Parameters
    ----------
    channels:
        What the member gets first, in the host's words (``"queue"``, ``"booking"``, ...); at least one.

    Examples
    --------
    >>> PriorityService(channels=("queue", "booking")).label()
    'priority service (queue, booking)'
    """

    kind: Literal["priority_service"] = "priority_service"
    channels: tuple[str, ...] = Field(default=("queue",), min_length=1)

    def _labels(self) -> tuple[str, str]:
        names = ", ".join(self.channels)
        return f"priority service ({names})", f"优先服务（{names}）"


class Revoke(_BenefitBase):
    """Withdraw a benefit a lower tier grants (by its key) instead of inheriting it.

    Parameters
    ----------
    target:
        The key of the benefit withdrawn (a kind, or ``coupon_grant:{template_id}``).

    Examples
    --------
    >>> Revoke(target="member_price").key
    'member_price'
    """

    kind: Literal["revoke"] = "revoke"
    target: str = Field(min_length=1)

    @property
    def key(self) -> str:
        """The key of the benefit it withdraws (``target``), so it takes that benefit's place."""
        return self.target

    def _labels(self) -> tuple[str, str]:
        return f"(no {self.target})", f"（无 {self.target}）"


# -- custom benefit types ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _BenefitType:
    model: type[BaseModel]
    label: Callable[[BaseModel], tuple[str, str]] | None


_BENEFIT_TYPES: dict[str, _BenefitType] = {}


def register_benefit_type(
    name: str,
    model: type[BaseModel],
    *,
    label: Callable[[Any], tuple[str, str]] | None = None,
    replace: bool = False,
) -> str:
    """Register a custom benefit type: its name and the pydantic model its ``params`` must satisfy.

    Parameters
    ----------
    name:
        Identifier used as the ``type`` of a [`CustomBenefit`][] (``"lounge"``).
    model:
        A pydantic model class validating the benefit's parameters.
    label:
        ``label(params) -> (en, zh)``: what a member reads; defaults to the name and parameters.
    replace:
        Replace an earlier registration of ``name``.

    Examples
    --------
    >>> from pydantic import BaseModel
    >>> class Lounge(BaseModel):
    ...     visits_per_year: int
    >>> register_benefit_type("lounge", Lounge,
    ...     label=lambda p: (f"{p.visits_per_year} lounge visits", f"贵宾室{p.visits_per_year}次"))
    'lounge'
    >>> CustomBenefit(type="lounge", params={"visits_per_year": 4}).label("zh")
    '贵宾室4次'
    >>> unregister_benefit_type("lounge")
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise PluginError(f"benefit type name must be an identifier, got {name!r}")
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise PluginError(f"benefit type {name!r}: model must be a pydantic model class, got {model!r}")
    if name in _BENEFIT_TYPES and not replace:
        raise PluginError(f"benefit type {name!r} is already registered (pass replace=True to replace it)")
    _BENEFIT_TYPES[name] = _BenefitType(model=model, label=label)
    return name


def unregister_benefit_type(name: str) -> None:
    """Remove a custom benefit type (a [`PluginError`][] if it is not registered).

    Examples
    --------
    >>> try:
    ...     unregister_benefit_type("never_registered")
    ... except PluginError as exc:
    ...     print(exc)
    benefit type 'never_registered' is not registered
    """
    if not isinstance(name, str) or name not in _BENEFIT_TYPES:
        raise PluginError(f"benefit type {value_repr(name)} is not registered")
    del _BENEFIT_TYPES[name]


def benefit_type_names() -> list[str]:
    """The registered custom benefit types, sorted.

    Examples
    --------
    >>> isinstance(benefit_type_names(), list)
    True
    """
    return sorted(_BENEFIT_TYPES)


class CustomBenefit(_BenefitBase):
    """A benefit of a registered custom type (see [`register_benefit_type`][]).

    ``params`` are validated by the type's model when the benefit is built or read from JSON; an
    unregistered type is a [`ConfigError`][].

    Parameters
    ----------
    type:
        The name the type was registered under (``"lounge"``).
    params:
        The benefit's parameters, as the type's model reads them.

    Examples
    --------
    >>> try:
    ...     CustomBenefit(type="spa", params={})
    ... except ConfigError as exc:
    ...     print(str(exc).split(' (')[0])
    invalid CustomBenefit: type: benefit type 'spa' is not registered
    """

    kind: Literal["custom"] = "custom"
    type: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in _BENEFIT_TYPES:
            known = ", ".join(benefit_type_names()) or "none"
            raise ValueError(f"benefit type {name!r} is not registered (registered: {known})")
        return name

    @model_validator(mode="after")
    def _valid_params(self) -> CustomBenefit:
        spec = _BENEFIT_TYPES[self.type]
        try:
            spec.model.model_validate(self.params)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"params of benefit type {self.type!r}: {problems}") from None
        return self

    @property
    def key(self) -> str:
        """``custom:{type}``: one benefit per custom type; a higher tier's one overrides a lower's."""
        return f"custom:{self.type}"

    def _labels(self) -> tuple[str, str]:
        spec = _BENEFIT_TYPES.get(self.type)
        if spec is not None and spec.label is not None:
            return spec.label(spec.model.model_validate(self.params))
        detail = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        text = f"{self.type} ({detail})" if detail else self.type
        return text, text


Benefit = Annotated[
    Union[
        MemberDiscount,
        MemberPrice,
        PointsMultiplier,
        FreeShipping,
        CouponGrant,
        BirthdayBenefit,
        PriorityService,
        CustomBenefit,
        Revoke,
    ],
    Field(discriminator="kind"),
]
"""Any benefit model; JSON documents pick the type by their ``kind``."""

_BENEFIT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Benefit)


def check_unique_keys(benefits: Sequence[Any], where: str) -> None:
    seen: set[str] = set()
    for benefit in benefits:
        if benefit.key in seen:
            raise ValueError(f"{where} grants benefit {benefit.key!r} twice")
        seen.add(benefit.key)


class TierBenefits(PolicyModel):
    """The benefits one tier grants itself (before inheritance).

    Parameters
    ----------
    tier:
        The tier code.
    benefits:
        The benefits (models or their JSON documents), one per key.

    Examples
    --------
    >>> TierBenefits(tier="silver", benefits=[{"kind": "discount", "rate": "0.95"}]).benefits[0].rate
    Decimal('0.95')
    """

    tier: str = Field(min_length=1)
    benefits: tuple[Benefit, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> TierBenefits:
        check_unique_keys(self.benefits, f"tier {self.tier!r}")
        return self


class BenefitTable(PolicyModel):
    """Benefits per tier, lowest tier first, independent of a [`TierPolicy`][].

    Parameters
    ----------
    tiers:
        One [`TierBenefits`][] per tier, lowest first, each tier once; a tier inherits the
        benefits of the tiers below it.

    Examples
    --------
    >>> table = BenefitTable(tiers=[
    ...     TierBenefits(tier="red", benefits=[MemberPrice()]),
    ...     TierBenefits(tier="silver", benefits=[MemberDiscount(rate="0.95")]),
    ... ])
    >>> [b.kind for b in benefits_for(table, "silver")]
    ['member_price', 'discount']
    """

    tiers: tuple[TierBenefits, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_tiers(self) -> BenefitTable:
        codes = [t.tier for t in self.tiers]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"tiers: duplicate tier codes {duplicates}")
        return self

    def _tier_benefits(self) -> list[tuple[str, tuple[Any, ...]]]:
        return [(t.tier, t.benefits) for t in self.tiers]


@runtime_checkable
class _HasTierBenefits(Protocol):
    def _tier_benefits(self) -> list[tuple[str, tuple[Any, ...]]]: ...


@dataclass(frozen=True)
class BenefitSet:
    """A tier's effective benefits after inheritance: each benefit and the tier that granted it.

    Iterating gives the benefits (lowest granting tier first, in declaration order).

    Examples
    --------
    >>> table = BenefitTable(tiers=[TierBenefits(tier="a", benefits=[FreeShipping(threshold="99 CNY")]),
    ...                             TierBenefits(tier="b", benefits=[FreeShipping()])])
    >>> effective = benefits_for(table, "b")
    >>> effective.get("free_shipping").threshold is None, effective.granted_by("free_shipping")
    (True, 'b')
    """

    tier: str
    entries: tuple[tuple[Any, str], ...]

    def __iter__(self) -> Iterator[Any]:
        return (benefit for benefit, _ in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return any(benefit.key == key for benefit, _ in self.entries)

    @property
    def keys(self) -> tuple[str, ...]:
        """Keys of the effective benefits."""
        return tuple(benefit.key for benefit, _ in self.entries)

    def get(self, key: str) -> Any:
        """The effective benefit with ``key`` (e.g. ``"discount"``), or ``None``."""
        for benefit, _ in self.entries:
            if benefit.key == key:
                return benefit
        return None

    def granted_by(self, key: str) -> str | None:
        """Code of the tier whose grant is in effect for ``key`` (``None`` when not granted)."""
        for benefit, tier in self.entries:
            if benefit.key == key:
                return tier
        return None

    @property
    def discount_rate(self) -> Decimal:
        """The member discount rate in effect (``Decimal(1)`` when there is none)."""
        discount = self.get("discount")
        return Decimal(1) if discount is None else Decimal(discount.rate)

    @property
    def points_multiplier(self) -> Decimal:
        """The points multiplier in effect (``Decimal(1)`` when there is none)."""
        multiplier = self.get("points_multiplier")
        return Decimal(1) if multiplier is None else Decimal(multiplier.multiplier)

    def labels(self, lang: str = "en") -> list[str]:
        """What a member reads, one line per benefit."""
        return [benefit.label(lang) for benefit in self]

    def to_dicts(self) -> list[dict[str, Any]]:
        """The effective benefits as JSON-compatible dicts, each with ``granted_by``.

        Examples
        --------
        >>> table = BenefitTable(tiers=[TierBenefits(tier="a", benefits=[FreeShipping()])])
        >>> benefits_for(table, "a").to_dicts()[0]["granted_by"]
        'a'
        """
        return [{**benefit.to_dict(), "granted_by": tier} for benefit, tier in self.entries]

    def to_json(self, *, indent: int | None = None) -> str:
        """The effective benefits as JSON text (a JSON array of [`to_dicts`][]' objects).

        Until the next release the text also answers the list-like uses of the old ``to_json()``
        (which returned what [`to_dicts`][] returns now), each with a ``DeprecationWarning``.

        Examples
        --------
        >>> import json
        >>> table = BenefitTable(tiers=[TierBenefits(tier="a", benefits=[FreeShipping()])])
        >>> text = benefits_for(table, "a").to_json()
        >>> json.loads(text) == benefits_for(table, "a").to_dicts()
        True
        """
        return dumps(self.to_dicts(), indent=indent)


def _levels(source: Any) -> list[tuple[str, tuple[Any, ...]]]:
    if isinstance(source, _HasTierBenefits):
        return source._tier_benefits()
    raise DataError(f"benefits_for needs a TierPolicy or a BenefitTable, got {type(source).__name__}")


def benefits_for(source: Any, tier: str) -> BenefitSet:
    """The effective benefits of ``tier``: its own grants plus every lower tier's it does not override.

    Parameters
    ----------
    source:
        A [`TierPolicy`][] (benefits listed on its tiers) or a [`BenefitTable`][].
    tier:
        A tier code of ``source``.

    Raises
    ------
    DataError
        For an unknown tier code.

    Examples
    --------
    >>> table = BenefitTable(tiers=[
    ...     TierBenefits(tier="red", benefits=[MemberPrice(), PointsMultiplier(multiplier="1")]),
    ...     TierBenefits(tier="gold",
    ...                  benefits=[PointsMultiplier(multiplier="1.5"), Revoke(target="member_price")]),
    ... ])
    >>> effective = benefits_for(table, "gold")
    >>> effective.keys, str(effective.points_multiplier)
    (('points_multiplier',), '1.5')
    """
    levels = _levels(source)
    codes = [code for code, _ in levels]
    if tier not in codes:
        raise DataError(f"tier: unknown tier code {tier!r} (known: {', '.join(codes)})")
    order: list[str] = []
    chosen: dict[str, tuple[Any, str]] = {}
    for code, granted in levels[: codes.index(tier) + 1]:
        for benefit in granted:
            if benefit.key not in chosen:
                order.append(benefit.key)
            chosen[benefit.key] = (benefit, code)
    entries = tuple(chosen[key] for key in order if not isinstance(chosen[key][0], Revoke))
    return BenefitSet(tier=tier, entries=entries)


def compare_benefits(source: Any, *, lang: str = "en") -> Table:
    """Tiers side by side: one row per benefit, one column per tier (``"—"`` where not granted).

    The first column, ``benefit``, names the benefit key; each tier column holds what a member of that
    tier reads (inherited grants included). The result is a [`Table`][], which renders as
    an HTML table in notebooks.

    Examples
    --------
    >>> table = BenefitTable(tiers=[
    ...     TierBenefits(tier="red", benefits=[MemberPrice()]),
    ...     TierBenefits(tier="gold", benefits=[MemberDiscount(rate="0.9")]),
    ... ])
    >>> view = compare_benefits(table, lang="zh")
    >>> view.columns
    ('benefit', 'red', 'gold')
    >>> view.to_dicts()[1]
    {'benefit': 'discount', 'red': '—', 'gold': '会员9折'}
    """
    if lang not in ("en", "zh"):
        raise DataError(f"lang must be 'en' or 'zh', got {lang!r}")
    levels = _levels(source)
    effective = [benefits_for(source, code) for code, _ in levels]
    keys: list[str] = []
    for benefit_set in effective:
        keys.extend(key for key in benefit_set.keys if key not in keys)
    columns: dict[str, list[str]] = {"benefit": keys}
    for (code, _), benefit_set in zip(levels, effective, strict=True):
        if code == "benefit":
            raise DataError("a tier coded 'benefit' clashes with the comparison table's first column")
        columns[code] = [benefit_set.get(key).label(lang) if key in benefit_set else "—" for key in keys]
    return Table(columns)


def benefits_html(source: Any, *, lang: str = "en") -> str:
    """A small HTML table of [`compare_benefits`][] (for a membership page or a notebook).

    Examples
    --------
    >>> table = BenefitTable(tiers=[TierBenefits(tier="red", benefits=[MemberPrice()])])
    >>> page = benefits_html(table)
    >>> page[:59]
    '<table><thead><tr><th>benefit</th><th>red</th></tr></thead>'
    >>> "<td>member prices</td>" in page
    True
    """
    view = compare_benefits(source, lang=lang)
    head = "".join(f"<th>{html.escape(name)}</th>" for name in view.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row[name]))}</td>" for name in view.columns) + "</tr>"
        for row in view.to_dicts()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def parse_benefit(data: Mapping[str, Any] | Any) -> Any:
    """Read one benefit from its JSON document (``kind`` picks the type); errors are ``ConfigError``.

    Examples
    --------
    >>> parse_benefit({"kind": "points_multiplier", "multiplier": "2"}).label()
    '2x points'
    """
    try:
        return _BENEFIT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid benefit: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from None
