"""The command line: ``python -m user_ops``."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from user_ops import __version__
from user_ops.cli import DEMO_SECTIONS, main
from user_ops.datasets import synthetic_shop

REPO_ROOT = Path(__file__).resolve().parents[1]


def _value(output: str, label: str) -> str:
    """The value printed on the row whose label is ``label``."""
    match = re.search(rf"^  {re.escape(label)} +(\S+)", output, flags=re.MULTILINE)
    assert match is not None, f"no row {label!r} in:\n{output}"
    return match.group(1)


def _terminal_columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _number(output: str, label: str) -> int:
    return int(_value(output, label).replace(",", ""))


def test_demo_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "300"]) == 0
    out = capsys.readouterr().out
    for title in ("Customers 用户", "Spend 消费 (CNY)", "Customers per city 城市分布"):
        assert f"\n{title}\n" in out
    assert "300 customers, seed 7, as of 2024-06-30 00:00+08:00" in out


def test_demo_numbers_match_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "300", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    table = synthetic_shop(300, seed=5).customer_metrics()
    buyers = int((table["frequency"] > 0).sum())
    assert _number(out, "rows 行数") == 300
    assert _number(out, "buyers 购买用户") == buyers
    assert _number(out, "prospects 潜在用户") == 300 - buyers
    assert _value(out, "total spend 消费总额") == f"¥{table['monetary'].sum():,.2f}"
    median = np.median(table["frequency"][table["frequency"] > 0])
    assert float(_value(out, "median frequency 消费频次中位数")) == median
    city_rows = out.split("Customers per city 城市分布\n")[1].split("\n\n")[0].strip().splitlines()
    counts = [int(row.split()[1]) for row in city_rows]
    assert sum(counts) == 300
    assert counts == sorted(counts, reverse=True)


def test_demo_rows_are_aligned(capsys: pytest.CaptureFixture[str]) -> None:
    # Chinese characters take two columns: every value must still end in the same column.
    main(["demo", "--customers", "400"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("  ") and not line.startswith("   ")]
    assert len(rows) > 12
    ends = set()
    for row in rows:
        # label, 2+ spaces, value (single-spaced words such as "67.1 %"), then 2+ spaces or the end
        match = re.match(r"  \S.*?\s{2,}\S+(?: \S+)*?(?=\s{2,}|$)", row)
        assert match is not None, row
        ends.add(_terminal_columns(match.group(0)))
    assert len(ends) == 1, ends


def test_demo_sections_print_to_the_given_stream() -> None:
    table = synthetic_shop(50).customer_metrics()
    for section in DEMO_SECTIONS:
        stream = io.StringIO()
        section(table, stream)
        text = stream.getvalue()
        assert text.startswith("\n") and len(text.strip().splitlines()) >= 2, section.__name__


def test_demo_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--customers", "250", "--seed", "9"])
    first = capsys.readouterr().out
    main(["demo", "--customers", "250", "--seed", "9"])
    assert capsys.readouterr().out == first
    main(["demo", "--customers", "250", "--seed", "10"])
    assert capsys.readouterr().out != first


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"user_ops {__version__}"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["demo", "--customers", "0"],
        ["demo", "--customers", "-3"],
        ["demo", "--customers", "many"],
        ["demo", "--seed", "-1"],
        ["demo", "--unknown"],
    ],
)
def test_bad_arguments_exit_with_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "usage:" in captured.err
    assert captured.out == ""


def test_library_errors_exit_with_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "10000001"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("user_ops: error:") and "Traceback" not in err


def test_python_dash_m_runs_the_demo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "user_ops", "demo", "--customers", "200"],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    out = result.stdout.decode("utf-8")
    assert "buyers 购买用户" in out
    assert _number(out, "rows 行数") == 200


def test_demo_prints_the_default_tag_counts_and_an_explanation(capsys: pytest.CaptureFixture[str]) -> None:
    from user_ops import default_tags
    from user_ops.datasets import DEFAULT_AS_OF, synthetic_shop

    assert main(["demo", "--customers", "300", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    metrics = synthetic_shop(300, seed=5).customer_metrics()
    counts = default_tags().evaluate(metrics, as_of=DEFAULT_AS_OF).counts()
    section = out.split("Default tags 默认标签\n")[1].split("\n\n")[0].splitlines()
    parsed = [re.search(r"\s([\d,]+)\s+[\d.]+ %\s+(\w+)$", row) for row in section]
    printed = {m.group(2): int(m.group(1).replace(",", "")) for m in parsed if m is not None}
    assert printed == counts
    assert "frequency >= 4 → false (frequency = " in out


def test_demo_whose_reader_has_gone_exits_cleanly() -> None:
    import subprocess
    import sys

    # The read end is closed before the demo writes, so every write meets a broken pipe.
    process = subprocess.Popen(
        [sys.executable, "-m", "user_ops", "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    code = process.wait(timeout=120)
    stderr = process.stderr.read().decode()
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_demo_prints_rfm_segments_and_the_pareto_figures(capsys: pytest.CaptureFixture[str]) -> None:
    from user_ops import RFMModel
    from user_ops.rfm import pareto

    assert main(["demo", "--customers", "400", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    section = out.split("RFM segments RFM分层 (quantile, 5 bins)\n")[1].split("\n\n")[0].splitlines()
    counts = [int(re.search(r"\s([\d,]+)\s+[\d.]+ %", row).group(1).replace(",", "")) for row in section]  # type: ignore[union-attr]
    assert sum(counts) == 400
    table = synthetic_shop(400, seed=3).customer_metrics()
    scores = RFMModel.quantile(bins=5).fit(table).score(table)
    assert max(counts) == max(scores.counts().values())
    top20 = pareto(table["monetary"][table["frequency"] > 0]).top20_share
    assert f"{100 * top20:5.1f} %" in out.split("Revenue concentration 二八法则")[1]


def test_demo_metrics_section_matches_customer_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "300", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    table = synthetic_shop(300, seed=5).customer_metrics()
    buyers = table["frequency"] > 0
    active = int((table["orders_90d"][buyers] > 0).sum())
    assert _number(out, "bought in the last 90 days 近90天购买") == active
    assert float(_value(out, "median recency R 最近消费天数")) == np.median(
        np.ma.getdata(table["recency_days"])[buyers]
    )


def test_demo_prints_the_lifecycle_stage_table(capsys: pytest.CaptureFixture[str]) -> None:
    from user_ops import LifecyclePolicy
    from user_ops.datasets import DEFAULT_AS_OF

    assert main(["demo", "--customers", "300", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    section = out.split("Lifecycle stages 生命周期 → action 运营动作\n")[1].split("\n\n")[0].splitlines()
    table = synthetic_shop(300, seed=5).customer_metrics()
    counts = LifecyclePolicy.default_for(table).classify(table, as_of=DEFAULT_AS_OF).counts()
    assert sum(int(re.search(r"\s([\d,]+)\s+[\d.]+ %", row).group(1)) for row in section) == 300  # type: ignore[union-attr]
    assert len(section) == sum(1 for c in counts.values() if c)
    assert "Wake up" in out or "唤醒" in out
    # in the order customers live the stages, not the order the policy tries its rules (churn first)
    lived = ["Prospect", "Introduction", "Growth", "Maturity", "Dormancy", "Churn", "Unclassified"]
    shown = [row.split()[0] for row in section]
    assert shown == [label for label in lived if label in shown] and len(shown) >= 5


def test_demo_tiers_match_the_policy_and_sum_to_the_population() -> None:
    from user_ops.cli._main import _section_membership, demo_tier_policy

    table = synthetic_shop(400, seed=3).customer_metrics()
    stream = io.StringIO()
    _section_membership(table, stream)
    printed = {
        tier.code: int(re.search(rf"{tier.label_zh}\s+([\d,]+)", stream.getvalue()).group(1).replace(",", ""))  # type: ignore[union-attr]
        for tier in demo_tier_policy().tiers
    }
    spend_fen = np.rint(np.nan_to_num(np.ma.filled(table["spend_365d"], 0.0)) * 100).astype(np.int64)
    by_hand = np.searchsorted([0, 100_000, 300_000, 800_000], spend_fen, side="right") - 1
    assert list(printed.values()) == np.bincount(by_hand, minlength=4).tolist()


def test_demo_issuance_and_cart_quote_add_up() -> None:
    from user_ops.cli._main import _section_coupons

    table = synthetic_shop(400, seed=3).customer_metrics()
    stream = io.StringIO()
    _section_coupons(table, stream)
    text = stream.getvalue()
    reasons = re.findall(r"^  ([A-Z_]+)\s+([\d,]+)\s", text, flags=re.MULTILINE)
    assert sum(int(n.replace(",", "")) for _, n in reasons) == len(table)
    subtotal, shipping = (
        float(x) for x in re.search(r"subtotal ([\d.]+) CNY, shipping ([\d.]+)", text).groups()
    )  # type: ignore[union-attr]
    discounts = [float(x) for x in re.findall(r"-([\d.]+) CNY", text)]
    to_pay = float(re.search(r"to pay 实付\s+([\d.]+) CNY", text).group(1))  # type: ignore[union-attr]
    assert round(subtotal + shipping - sum(discounts), 2) == to_pay


def test_demo_table_moved_to_the_datasets_room_and_warns() -> None:
    import user_ops.cli

    with pytest.warns(DeprecationWarning, match=r"synthetic_shop\(n, seed=s\)\.customer_metrics\(\)"):
        demo_table = user_ops.cli.demo_table
    assert demo_table(120, seed=4).equals(synthetic_shop(120, seed=4).customer_metrics())
