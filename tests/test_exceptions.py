"""The error tree and the public names of every room (documentation and other rooms rely on them)."""

from __future__ import annotations

import importlib

import pytest

import user_ops
from user_ops import exceptions

TREE = {
    "UserOpsError": (Exception,),
    "DataError": (exceptions.UserOpsError, ValueError),
    "ConfigError": (exceptions.UserOpsError, ValueError),
    "NotFittedError": (exceptions.UserOpsError, RuntimeError),
    "PluginError": (exceptions.UserOpsError, RuntimeError),
    "RuleError": (exceptions.UserOpsError, ValueError),
    "RuleSyntaxError": (exceptions.RuleError,),
    "RuleTypeError": (exceptions.RuleError, TypeError),
    "RuleLimitError": (exceptions.RuleError,),
    "UserOpsWarning": (UserWarning,),
}


def test_exceptions_module_exports_exactly_the_tree() -> None:
    assert sorted(exceptions.__all__) == sorted(TREE)


@pytest.mark.parametrize(("name", "bases"), TREE.items())
def test_each_error_has_its_bases_and_is_exported_at_the_top(name: str, bases: tuple[type, ...]) -> None:
    cls = getattr(exceptions, name)
    assert all(issubclass(cls, base) for base in bases)
    assert getattr(user_ops, name) is cls


def test_rule_errors_carry_a_position_and_a_caret() -> None:
    error = exceptions.RuleSyntaxError("unexpected ')'", text="a > 1)", line=1, column=6, end_column=7)
    assert (error.line, error.column, error.message) == (1, 6, "unexpected ')'")
    assert str(error).splitlines()[-2:] == ["    a > 1)", "         ^"]
    assert exceptions.RuleTypeError("bad", path="$.items[0]").path == "$.items[0]"


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("user_ops", {"Table", "Rule", "Schema", "TagRule", "TagSet", "default_tags", "DataError"}),
        ("user_ops.rules", {"Rule", "Schema", "Limits", "Explanation", "PopulationExplanation", "functions"}),
        ("user_ops.tags", {"TagRule", "TagSet", "TagTable", "default_tags", "METRIC_FIELDS"}),
        ("user_ops.plugins", {"register_function", "unregister_function", "load_entry_points"}),
        ("user_ops.rfm", {"RFMModel", "SegmentMap", "segment_summary", "pareto"}),
        (
            "user_ops.lifecycle",
            {
                "LifecyclePolicy",
                "BGNBD",
                "aipl_policy",
                "transitions",
                "stage_summary",
                "recall_plan",
            },
        ),
        (
            "user_ops.metrics",
            {
                "Transactions",
                "customer_metrics",
                "customer_metrics_one",
                "MetricsReport",
                "engagement_metrics",
            },
        ),
        (
            "user_ops.datasets",
            {"synthetic_customers", "synthetic_transactions", "synthetic_events", "load_cdnow"},
        ),
    ],
)
def test_rooms_export_their_public_names(module: str, names: set[str]) -> None:
    room = importlib.import_module(module)
    assert names <= set(room.__all__)
    for name in room.__all__:
        assert hasattr(room, name), f"{module}.__all__ names {name!r}, which it does not define"


def test_strict_policies_raise_config_error_naming_class_and_field_once() -> None:
    from user_ops import ConfigError, RFMModel
    from user_ops.lifecycle import BGNBD

    with pytest.raises(ConfigError, match=r"^invalid RFMModel: bins: "):
        RFMModel(method="quantile", bins=0)
    with pytest.raises(ConfigError, match=r"^invalid BGNBD: penalizer: "):
        BGNBD(penalizer=-1)
    with pytest.raises(ConfigError) as caught:
        RFMModel.from_json('{"method": "nope"}')
    assert str(caught.value).count("invalid RFMModel") == 1
