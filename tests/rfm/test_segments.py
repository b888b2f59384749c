"""Segment maps: coverage, reachability, the built-ins' definitions, custom rules, both paths."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from user_ops import ConfigError, Table
from user_ops.rfm import NEVER_BOUGHT, RFMModel, Segment, SegmentMap
from user_ops.rfm._segments import RULE_AS_OF

# PyMC-Marketing's pymc_marketing/clv/utils.py: _default_rfm_segment_config, copied verbatim.
PYMC_CONFIG = {
    "Premium Customer": ["334", "443", "444", "344", "434", "433", "343", "333"],
    "Repeat Customer": ["244", "234", "232", "332", "143", "233", "243"],
    "Top Spender": [
        "424",
        "414",
        "144",
        "314",
        "324",
        "124",
        "224",
        "423",
        "413",
        "133",
        "323",
        "313",
        "134",
    ],
    "At Risk Customer": ["422", "223", "212", "122", "222", "132", "322", "312", "412", "123", "214"],
    "Inactive Customer": ["411", "111", "113", "114", "112", "211", "311"],
}


def triples(levels: int) -> list[tuple[int, int, int]]:
    return list(itertools.product(range(1, levels + 1), repeat=3))


def all_maps() -> list[SegmentMap]:
    return [SegmentMap.classic(), SegmentMap.pymc(), *(SegmentMap.cn8(n) for n in range(2, 10))]


@pytest.mark.parametrize("segment_map", all_maps(), ids=lambda m: m.name)
def test_every_segment_is_reachable_and_every_triple_has_a_segment(segment_map: SegmentMap) -> None:
    levels = segment_map.levels
    assert levels is not None
    reached = {segment_map.segment_of(*t) for t in triples(levels)}
    assert reached == set(segment_map.codes)
    lookup = segment_map.lookup()
    for r, f, m in triples(levels):  # batch grid and scalar rules agree
        assert segment_map.codes[lookup[100 * r + 10 * f + m]] == segment_map.segment_of(r, f, m)


def test_classic_grid() -> None:
    classic = SegmentMap.classic()
    grid = {(r, f): classic.segment_of(r, f, 3) for r in range(1, 6) for f in range(1, 6)}
    assert [grid[(r, 5)] for r in range(1, 6)] == [
        "cant_lose_them",
        "cant_lose_them",
        "loyal",
        "champions",
        "champions",
    ]
    assert [grid[(r, 4)] for r in range(1, 6)] == ["at_risk", "at_risk", "loyal", "champions", "champions"]
    assert [grid[(r, 3)] for r in range(1, 6)] == [
        "at_risk",
        "at_risk",
        "need_attention",
        "potential_loyalist",
        "potential_loyalist",
    ]
    assert [grid[(r, 2)] for r in range(1, 6)] == [
        "lost",
        "hibernating",
        "about_to_sleep",
        "potential_loyalist",
        "potential_loyalist",
    ]
    assert [grid[(r, 1)] for r in range(1, 6)] == [
        "lost",
        "hibernating",
        "about_to_sleep",
        "promising",
        "new_customers",
    ]
    assert all(
        classic.segment_of(r, f, 1) == classic.segment_of(r, f, 5) for r, f, _ in triples(5)
    )  # M unread
    assert len(classic.segments) == 11
    assert classic["cant_lose_them"].label_en == "Can't Lose Them"


def test_cn8_high_is_at_least_the_middle_score() -> None:
    cn8 = SegmentMap.cn8(5)
    assert cn8.segment_of(3, 3, 3) == "important_value"  # R↑F↑M↑ champions
    assert cn8["important_value"].label_zh == "重要价值客户"
    assert cn8.segment_of(2, 2, 2) == "general_winback"
    expected = {
        (True, True, True): "重要价值客户",
        (True, False, True): "重要发展客户",
        (False, True, True): "重要保持客户",
        (False, False, True): "重要挽留客户",
        (True, True, False): "一般价值客户",
        (True, False, False): "一般发展客户",
        (False, True, False): "一般保持客户",
        (False, False, False): "一般挽留客户",
    }
    for highs, label in expected.items():
        r, f, m = (5 if h else 1 for h in highs)
        assert cn8[cn8.segment_of(r, f, m)].label_zh == label
        r, f, m = (2 if h else 1 for h in highs)
        two = SegmentMap.cn8()
        assert two[two.segment_of(r, f, m)].label_zh == label
    assert SegmentMap.cn8(4).segment_of(3, 3, 3) == "important_value"
    assert SegmentMap.cn8(4).segment_of(2, 3, 3) == "important_retain"


def test_pymc_map_equals_pymc_marketing_definition() -> None:
    codes = [c for config in PYMC_CONFIG.values() for c in config]
    assert len(codes) == len(set(codes))  # disjoint: PyMC's assignment order does not matter
    pymc = SegmentMap.pymc()
    labels = {s.code: s.label_en for s in pymc.segments}
    for r, f, m in triples(4):
        code = f"{r}{f}{m}"
        theirs = next((name for name, config in PYMC_CONFIG.items() if code in config), "Other")
        assert labels[pymc.segment_of(r, f, m)] == theirs, code


def test_pymc_map_on_scored_customers() -> None:
    model = RFMModel.quantile(bins=4, segments=SegmentMap.pymc())
    table = {"recency_days": [1, 2, 50, 60], "frequency": [9, 8, 1, 1], "monetary": [900.0, 800.0, 5.0, 6.0]}
    scores = model.fit(table).score(table)
    # Hand-computed: F has 3 distinct values, spread over 1..4 as 1, 3, 4; M and R have 4 each.
    assert scores["rfm_code"].tolist() == ["444", "333", "211", "112"]
    assert scores["segment_en"].tolist() == [
        "Premium Customer",
        "Premium Customer",
        "Inactive Customer",
        "Inactive Customer",
    ]


def test_custom_map_from_rules() -> None:
    custom = SegmentMap.from_rules(
        [("whales", "m == 5"), ("fans", 'f >= 4 or rfm_code in ["155", "255"]')],
        fallback="others",
        labels={"whales": ("Whales", "大客户"), "fans": ("Fans", "粉丝"), "others": ("Others", "其他")},
        levels=5,
    )
    assert custom.segment_of(1, 1, 5) == "whales"  # first match wins
    assert custom.segment_of(1, 4, 1) == "fans"
    assert custom.segment_of(3, 3, 3) == "others"
    model = RFMModel.thresholds(
        recency=[1, 2, 3, 4], frequency=[1, 2, 3, 4], monetary=[1, 2, 3, 4], segments=custom
    )
    assert model.score_one({"recency_days": 9, "frequency": 9, "monetary": 0.0}).segment_zh == "粉丝"
    assert SegmentMap.from_json(custom.to_json()) == custom
    assert custom.content_hash() == SegmentMap.from_json(custom.to_json()).content_hash()


def test_bad_maps_are_rejected() -> None:
    fallback = Segment(code="rest", label_en="Rest", label_zh="其他")
    with pytest.raises(ConfigError, match="fallback"):
        SegmentMap(segments=[Segment(code="a", label_en="A", label_zh="甲", when="r >= 1")])
    with pytest.raises(ConfigError, match="only the last"):
        SegmentMap(segments=[fallback, fallback.model_copy(update={"code": "rest2"})])
    with pytest.raises(ConfigError, match="duplicate"):
        SegmentMap(segments=[Segment(code="rest", label_en="", label_zh="", when="r > 1"), fallback])
    with pytest.raises(ConfigError, match="unknown field 'monetary'"):
        Segment(code="a", label_en="A", label_zh="甲", when="monetary > 100")
    with pytest.raises(ConfigError, match="today"):
        Segment(code="a", label_en="A", label_zh="甲", when="r > 1 and year(today()) > 2020")
    with pytest.raises(ConfigError, match="reserved"):
        Segment(code=NEVER_BOUGHT[0], label_en="", label_zh="")
    with pytest.raises(ConfigError, match="identifier"):
        Segment(code="not an id", label_en="", label_zh="")


def test_batch_segments_use_rule_evaluate_semantics() -> None:
    rule = SegmentMap.classic()["champions"].when
    assert rule is not None
    table = Table({"r": [5, 3], "f": [4, 5], "m": [1, 1], "rfm_code": ["541", "351"]})
    assert rule.evaluate(table, as_of=RULE_AS_OF).tolist() == [True, False]
    assert int((SegmentMap.classic().lookup() >= 0).sum()) == 729
    assert not np.any(SegmentMap.classic().lookup()[:111] >= 0)
