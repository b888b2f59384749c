"""Command line: ``python -m user_ops`` (or the ``user-ops`` script).

Commands: ``demo``; ``metrics``, ``rfm``, ``tags``, ``lifecycle``, ``tiers``, ``points``,
``issue`` (CSV or Parquet in and out); ``coupons check`` / ``coupons quote`` (JSON in and out);
``schema`` (the JSON Schema of a policy type) and ``validate`` (a policy file, with positions). See
``docs/cli.md``.

Exit codes: 0 success; 1 bad input (a missing file, bad data, an invalid policy; one line on stderr,
``validate`` lists the problems on stdout); 2 bad usage (argparse's usage message); 3 an internal error
(one line; set ``USER_OPS_DEBUG=1`` for the traceback); 130 interrupted.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
user_ops ...
0
"""

from typing import Any

from user_ops.cli._main import DEMO_SECTIONS, POLICY_TYPES, main

__all__ = ["DEMO_SECTIONS", "POLICY_TYPES", "main"]


def __getattr__(name: str) -> Any:
    # demo_table moved to the datasets room as Shop.customer_metrics(); the old name works one release.
    if name == "demo_table":
        import warnings

        from user_ops.datasets import synthetic_shop

        warnings.warn(
            "user_ops.cli.demo_table(n, seed=s) is deprecated; use "
            "user_ops.datasets.synthetic_shop(n, seed=s).customer_metrics()",
            DeprecationWarning,
            stacklevel=2,
        )

        def demo_table(customers: int = 2000, *, seed: int = 7) -> Any:
            return synthetic_shop(customers, seed=seed).customer_metrics()

        return demo_table
    raise AttributeError(f"module 'user_ops.cli' has no attribute {name!r}")
