"""Plugins: registered functions in both paths, the row-wise fallback, errors, entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from user_ops import DataError, PluginError, Rule, RuleTypeError, UserOpsWarning
from user_ops.plugins import function_names, load_entry_points, register_function, unregister_function

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin_example"


@pytest.fixture
def plugin_names() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        unregister_function(name)


def test_plugin_with_batch_agrees_in_both_paths(plugin_names: list[str]) -> None:
    plugin_names.append(
        register_function(
            "clip01",
            lambda x: min(max(x, 0.0), 1.0),
            params=["float"],
            returns="float",
            batch=lambda x: np.clip(x, 0.0, 1.0),
        )
    )
    rule = Rule.parse("clip01(share) >= 1")
    data = {"share": [0.5, 3.0, None, -1.0]}
    scalar = [rule.value_one({"share": v}, as_of=AS_OF) for v in data["share"]]
    values, unknown = rule.values(data, as_of=AS_OF)
    assert scalar == [False, True, None, False]
    assert [None if u else bool(v) for v, u in zip(values, unknown)] == scalar


def test_plugin_without_batch_falls_back_row_by_row_and_warns(plugin_names: list[str]) -> None:
    plugin_names.append(register_function("initial", lambda s: s[:1], params=["str"], returns="str"))
    rule = Rule.parse('initial(name) == "A"')
    with pytest.warns(UserOpsWarning, match="row by row"):
        result = rule.evaluate({"name": ["Ann", "Bob", None]}, as_of=AS_OF)
    assert result.tolist() == [True, False, False]


def test_plugin_is_type_checked_like_a_built_in(plugin_names: list[str]) -> None:
    plugin_names.append(register_function("twice", lambda x: 2 * x, params=["int"], returns="int"))
    with pytest.raises(RuleTypeError, match=r"argument 1 of twice\(\) must be int, got str"):
        Rule.parse('twice("x") > 1', schema={})
    with pytest.raises(RuleTypeError, match="takes 1 argument"):
        Rule.parse("twice(1, 2) > 1", schema={})


def test_plugin_results_are_checked(plugin_names: list[str]) -> None:
    plugin_names.append(
        register_function("bad", lambda x: "oops", params=["int"], returns="int", batch=lambda x: np.zeros(3))
    )
    rule = Rule.parse("bad(x) > 0")
    with pytest.raises(DataError, match="returned a bad value"):
        rule.evaluate_one({"x": 1}, as_of=AS_OF)
    with pytest.raises(DataError, match=r"returned shape \(3,\)"):
        rule.evaluate({"x": [1, 2]}, as_of=AS_OF)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "not a name"}, "identifier"),
        ({"name": "within"}, "identifier"),
        ({"name": "days_since"}, "built-in"),
        ({"params": ["money"]}, "unknown type"),
        ({"returns": "complex"}, "unknown return type"),
        ({"scalar": 42}, "callable"),
    ],
)
def test_bad_registrations_raise_plugin_error(kwargs: dict[str, object], message: str) -> None:
    options: dict[str, object] = {
        "name": "ok_name",
        "scalar": lambda x: x,
        "params": ["int"],
        "returns": "int",
    }
    options.update(kwargs)
    with pytest.raises(PluginError, match=message):
        register_function(options.pop("name"), options.pop("scalar"), **options)  # type: ignore[arg-type]
    assert "ok_name" not in function_names()


def test_registering_twice_needs_replace(plugin_names: list[str]) -> None:
    plugin_names.append(register_function("dup", lambda x: x, params=["int"], returns="int"))
    with pytest.raises(PluginError, match="already registered"):
        register_function("dup", lambda x: x, params=["int"], returns="int")
    register_function("dup", lambda x: x + 1, params=["int"], returns="int", replace=True)
    assert Rule.parse("dup(1) == 2").evaluate_one({}, as_of=AS_OF)


def test_built_ins_cannot_be_unregistered() -> None:
    with pytest.raises(PluginError):
        unregister_function("days_since")


def test_missing_entry_point_is_named() -> None:
    with pytest.raises(PluginError, match="no installed plugin named"):
        load_entry_points(names=["surely_not_installed"])


def test_example_plugin_installs_and_loads_from_its_entry_point(tmp_path: Path) -> None:
    install = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        str(EXAMPLE),
    ]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    try:
        script = textwrap.dedent(
            """
            import warnings
            from datetime import datetime, timezone
            import user_ops
            from user_ops.membership import BenefitTable, CustomBenefit, TierBenefits, benefits_for
            from user_ops.plugins import benefit_type_names, function_names, load_entry_points
            assert "safe_ratio" not in function_names(), "plugins must not load at import"
            assert "lounge" not in benefit_type_names(), "plugins must not load at import"
            assert load_entry_points() == ["example"] or "example" in load_entry_points()
            rule = user_ops.Rule.parse('safe_ratio(spend, orders) > 100 and email_domain(email) == "qq.com"')
            as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
            assert rule.evaluate_one({"spend": 500.0, "orders": 2, "email": "A@QQ.com"}, as_of=as_of)
            assert not rule.evaluate_one({"spend": 500.0, "orders": 0, "email": "a@qq.com"}, as_of=as_of)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                data = {"spend": [500.0, 50.0], "orders": [2, 0], "email": ["a@qq.com", "b@qq.com"]}
                got = rule.evaluate(data,
                                    as_of=as_of)
            assert got.tolist() == [True, False]
            assert any("row by row" in str(w.message) for w in caught)
            assert "lounge" in benefit_type_names()
            lounge = CustomBenefit(type="lounge", params={"visits_per_year": 4})
            assert lounge.label("zh") == "机场贵宾厅每年4次", lounge.label("zh")
            granted = benefits_for(BenefitTable(tiers=[TierBenefits(tier="gold", benefits=[lounge])]), "gold")
            assert granted.labels("en") == ["4 airport lounge visits a year"]
            try:
                CustomBenefit(type="lounge", params={"visits_per_year": 0})
            except user_ops.ConfigError as exc:
                assert "visits_per_year" in str(exc)
            else:
                raise AssertionError("the plugin's model validates the parameters")
            print("ok")
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ok"
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-q", "-y", "user-ops-example-plugin"],
            capture_output=True,
            timeout=120,
        )
