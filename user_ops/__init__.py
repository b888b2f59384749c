"""user_ops: decision logic for private-domain user operations (私域用户运营)."""

from user_ops._table import Table
from user_ops._version import __version__
from user_ops.exceptions import (
    ConfigError,
    DataError,
    NotFittedError,
    PluginError,
    RuleError,
    RuleLimitError,
    RuleSyntaxError,
    RuleTypeError,
    UserOpsError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "NotFittedError",
    "PluginError",
    "RuleError",
    "RuleLimitError",
    "RuleSyntaxError",
    "RuleTypeError",
    "Table",
    "UserOpsError",
    "__version__",
]
