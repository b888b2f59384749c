"""The data and policy commands of the command line: metrics, rfm, tags, lifecycle, schema, validate."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from user_ops import LifecyclePolicy, RFMModel, Rule, Table, TagRule, TagSet, default_tags
from user_ops.cli import POLICY_TYPES, main
from user_ops.cli._policies import json_positions
from user_ops.cli._progress import Progress
from user_ops.datasets import synthetic_shop
from user_ops.exceptions import DataError
from user_ops.metrics import Transactions, customer_metrics

REPO_ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2024-06-30T00:00:00+08:00"


@pytest.fixture(scope="module")
def shop() -> Any:
    return synthetic_shop(300, seed=4)


@pytest.fixture(scope="module")
def files(shop: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shop's order lines as CSV, written with the standard library alone (not our writer)."""
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "transactions.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(shop.lines.columns))
        writer.writeheader()
        for row in shop.lines.to_dicts():
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return {"folder": folder, "transactions": path}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return repr(value) if isinstance(value, float) else str(value)


@pytest.fixture(scope="module")
def expected_metrics(shop: Any) -> Table:
    return customer_metrics(Transactions(shop.lines), as_of=shop.as_of)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _csv_table(text: str) -> Table:
    return Table.read_csv(io.StringIO(text))


def read_csv(stream: Any, **options: Any) -> Table:
    return Table.read_csv(stream, **options)


def read_table(path: Path) -> Table:
    return Table.read_parquet(path) if path.suffix == ".parquet" else Table.read_csv(path)


def write_csv(table: Table, stream: Any) -> None:
    table.to_csv(stream)


def _same_values(got: Table, expected: Table, columns: Any = None) -> None:
    """Equal values column by column (a CSV cannot tell an all-null column's kind, so compare values)."""
    names = list(columns or expected.columns)
    assert list(got.columns) == names
    for name in names:
        left = [_plain(v) for v in got.select([name]).to_dicts()]
        right = [_plain(v) for v in expected.select([name]).to_dicts()]
        assert left == right, name


def _plain(row: dict[str, Any]) -> Any:
    ((name, value),) = row.items()
    if name == "rfm_code" and value is not None:
        return int(value)  # "355" in CSV reads back as a number
    return None if isinstance(value, float) and math.isnan(value) else value


# -- metrics ----------------------------------------------------------------------------------------
def test_metrics_round_trip_through_csv(
    files: dict[str, Path], expected_metrics: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    out = files["folder"] / "metrics.csv"
    code, stdout, err = _run(
        ["metrics", str(files["transactions"]), "--as-of", AS_OF, "--out", str(out)], capsys
    )
    assert (code, stdout, err) == (0, "", "")
    _same_values(read_table(out), expected_metrics)


def test_metrics_to_stdout_and_to_parquet_agree(
    files: dict[str, Path], expected_metrics: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = _run(["metrics", str(files["transactions"]), "--as-of", AS_OF], capsys)
    assert code == 0
    _same_values(_csv_table(stdout), expected_metrics)
    parquet = files["folder"] / "metrics.parquet"
    assert main(["metrics", str(files["transactions"]), "--as-of", AS_OF, "-o", str(parquet)]) == 0
    assert read_table(parquet).equals(expected_metrics)  # Parquet keeps every kind: exactly equal


def test_metrics_with_column_mapping_windows_and_tz(
    shop: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = Table.from_frame(
        shop.lines, columns={"cust": "customer_id", "paid": "ordered_at", "total": "amount"}
    )
    path = tmp_path / "renamed.csv"
    with open(path, "w", encoding="utf-8") as handle:
        write_csv(renamed, handle)
    argv = ["metrics", str(path), "--as-of", AS_OF, "--tz", "UTC", "--windows", "7d,1mo"]
    argv += ["--column", "customer_id=cust", "-c", "ordered_at=paid", "--column", "amount=total"]
    code, stdout, _ = _run(argv, capsys)
    assert code == 0
    tx = Transactions(
        Table.from_frame(renamed, columns={"customer_id": "cust", "ordered_at": "paid", "amount": "total"})
    )
    expected = customer_metrics(tx, as_of=shop.as_of, tz="UTC", windows=["7d", "1mo"])
    got = _csv_table(stdout)
    assert "orders_7d" in got and "spend_1mo" in got
    _same_values(got, expected)


def test_extra_transaction_columns_are_ignored_with_a_note(
    shop: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "extra.csv"
    with open(path, "w", encoding="utf-8") as handle:
        write_csv(
            shop.lines.select(["customer_id", "ordered_at", "amount"]).with_columns(
                {"note": ["x"] * len(shop.lines)}
            ),
            handle,
        )
    code, stdout, err = _run(["metrics", str(path), "--as-of", AS_OF], capsys)
    assert code == 0 and "frequency" in stdout.splitlines()[0]
    assert err == "user_ops: note: ignoring columns note\n"
    assert _run(["metrics", str(path), "--as-of", AS_OF, "--quiet"], capsys)[2] == ""


# -- rfm, tags, lifecycle ---------------------------------------------------------------------------
def test_rfm_from_transactions_equals_the_library(
    files: dict[str, Path], expected_metrics: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = _run(["rfm", str(files["transactions"]), "--as-of", AS_OF], capsys)
    assert code == 0
    scores = RFMModel.quantile(bins=5).fit(expected_metrics).score(expected_metrics)
    _same_values(_csv_table(stdout), scores)


def test_rfm_saves_a_model_that_scores_the_same_later(
    files: dict[str, Path], expected_metrics: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = files["folder"] / "m_for_rfm.csv"
    model_path = files["folder"] / "model.json"
    assert main(["metrics", str(files["transactions"]), "--as-of", AS_OF, "-o", str(metrics)]) == 0
    code, fitted_out, _ = _run(
        ["rfm", str(metrics), "--method", "mean", "--save-model", str(model_path)], capsys
    )
    assert code == 0
    expected_model = RFMModel.mean().fit(expected_metrics)
    assert RFMModel.from_document(model_path.read_text(encoding="utf-8")) == expected_model
    code, scored_out, _ = _run(["rfm", str(metrics), "--model", str(model_path)], capsys)
    assert code == 0 and scored_out == fitted_out
    _same_values(_csv_table(scored_out), expected_model.score(expected_metrics))


def test_rfm_summary(
    files: dict[str, Path], expected_metrics: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = _run(
        ["rfm", str(files["transactions"]), "--as-of", AS_OF, "--summary", "--bins", "4"], capsys
    )
    assert code == 0
    scores = RFMModel.quantile(bins=4).fit(expected_metrics).score(expected_metrics)
    _same_values(_csv_table(stdout), scores.summary(expected_metrics))


def test_rfm_refuses_an_unfitted_model(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = files["folder"] / "unfitted.json"
    path.write_text(RFMModel.quantile().to_json(), encoding="utf-8")
    code, _, err = _run(["rfm", str(files["transactions"]), "--as-of", AS_OF, "--model", str(path)], capsys)
    assert code == 1 and "not fitted" in err and err.count("\n") == 1


def test_tags_default_and_custom(
    files: dict[str, Path], shop: Any, expected_metrics: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = _run(["tags", str(files["transactions"]), "--as-of", AS_OF], capsys)
    assert code == 0
    expected = default_tags().evaluate(expected_metrics, as_of=shop.as_of)
    got = _csv_table(stdout)
    assert got["customer_id"].tolist() == expected_metrics["customer_id"].tolist()
    _same_values(got.select(expected.columns), expected)

    custom = TagSet(
        [TagRule(name="vip", when="monetary >= 3000"), TagRule(name="fresh", when="recency_days <= 7")]
    )
    tag_file = files["folder"] / "tags.json"
    tag_file.write_text(json.dumps(custom.to_document()), encoding="utf-8")
    code, stdout, _ = _run(
        ["tags", str(files["transactions"]), "--as-of", AS_OF, "--tags", str(tag_file), "--summary"], capsys
    )
    assert code == 0
    _same_values(_csv_table(stdout), custom.evaluate(expected_metrics, as_of=shop.as_of).summary())


def test_lifecycle_default_and_custom(
    files: dict[str, Path], shop: Any, expected_metrics: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics_file = files["folder"] / "m_for_lifecycle.parquet"
    assert main(["metrics", str(files["transactions"]), "--as-of", AS_OF, "-o", str(metrics_file)]) == 0
    code, stdout, _ = _run(["lifecycle", str(metrics_file), "--as-of", AS_OF], capsys)
    assert code == 0
    expected = LifecyclePolicy.default_for(expected_metrics).classify(expected_metrics, as_of=shop.as_of)
    _same_values(_csv_table(stdout), expected)

    policy = LifecyclePolicy.default(population_cycle_days=10, churn_min_days=60)
    policy_file = files["folder"] / "policy.json"
    policy_file.write_text(policy.to_json(), encoding="utf-8")
    code, stdout, _ = _run(
        ["lifecycle", str(metrics_file), "--as-of", AS_OF, "--policy", str(policy_file), "--summary"], capsys
    )
    assert code == 0
    summary = policy.classify(expected_metrics, as_of=shop.as_of).summary(expected_metrics)
    _same_values(_csv_table(stdout), summary)


# -- schema and validate ----------------------------------------------------------------------------
def test_schema_lists_the_types_available(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(["schema"], capsys)
    listed = stdout.split()
    assert code == 0 and {"Rule", "TagSet", "RFMModel", "SegmentMap", "LifecyclePolicy"} <= set(listed)
    assert listed == sorted(listed) and set(listed) <= set(POLICY_TYPES)


def test_schema_prints_each_types_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(["schema"], capsys)
    for name in stdout.split():
        code, printed, _ = _run(["schema", name], capsys)
        assert code == 0, name
        module, _, attribute = POLICY_TYPES[name].partition(":")
        cls = getattr(__import__(module, fromlist=[attribute]), attribute)
        assert json.loads(printed) == cls.json_schema()
        jsonschema.Draft202012Validator.check_schema(json.loads(printed))


def test_schema_of_documents_validates_a_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(["schema", "TagSet", "--document"], capsys)
    assert code == 0
    jsonschema.validate(default_tags().to_document(), json.loads(stdout))
    code, stdout, _ = _run(["schema", "Rule", "--document"], capsys)  # rules have documents too
    assert code == 0
    jsonschema.validate(Rule.parse("orders_90d >= 3").to_document(), json.loads(stdout))


def test_schema_of_a_type_not_installed_fails_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(POLICY_TYPES, "FuturePolicy", "user_ops.not_a_room:FuturePolicy")
    code, _, err = _run(["schema", "FuturePolicy"], capsys)
    assert code == 1
    assert err == (
        "user_ops: error: policy type 'FuturePolicy' is not available in this installation "
        "(user_ops.not_a_room:FuturePolicy not found)\n"
    )
    assert "FuturePolicy" not in _run(["schema"], capsys)[1].split()
    assert _run(["schema", "TagSet"], capsys)[0] == 0


def test_validate_a_valid_policy_and_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain, document = tmp_path / "plain.json", tmp_path / "document.json"
    plain.write_text(default_tags().to_json(), encoding="utf-8")
    document.write_text(json.dumps(default_tags().to_document(), indent=2), encoding="utf-8")
    for path in (plain, document):
        assert _run(["validate", "TagSet", str(path)], capsys) == (0, f"{path}: a valid TagSet\n", "")


def test_validate_prints_every_problem_with_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tags.json"
    path.write_text(
        '{"tags": [\n'
        '  {"name": "vip", "when": "monetary >= "},\n'
        '  {"name": "x", "when": "frequency > 2", "colour": 1},\n'
        '  {"when": "frequency > 1"}\n'
        "]}\n",
        encoding="utf-8",
    )
    code, stdout, _ = _run(["validate", "TagSet", str(path)], capsys)
    assert code == 1
    assert stdout.splitlines() == [
        f"{path}:2:39: $.tags[0].when (tag 'vip'): unexpected end of rule: expected an expression after '>='",
        "    monetary >= ",
        "               ^",
        f"{path}:3:52: $.tags[1].colour (tag 'x'): unknown field 'colour'",
        f"{path}:4:3: $.tags[2].name: missing required field 'name'",
        f"{path}: 3 problems",
    ]


def test_validate_points_into_a_rule_on_a_later_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.json"
    policy = LifecyclePolicy.default().to_dict()
    policy["stages"][1]["when"] = "recency_days > > 3"
    text = json.dumps(policy, indent=2, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    code, stdout, _ = _run(["validate", "LifecyclePolicy", str(path)], capsys)
    assert code == 1
    where = stdout.splitlines()[0].split(": $")[0]
    line, column = map(int, where.rsplit(":", 2)[1:])
    assert text.splitlines()[line - 1][column - 1] == ">"  # the second '>'
    assert text.splitlines()[line - 1][column - 3 : column] == "> >"
    assert ": $.stages[1].when (stage 'churn'): " in stdout


def test_validate_reports_json_syntax_errors_with_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"tags": [\n  {"name": "vip",}\n]}', encoding="utf-8")
    code, stdout, _ = _run(["validate", "TagSet", str(path)], capsys)
    assert code == 1
    assert (
        stdout.splitlines()[0]
        == f"{path}:2:18: $: not JSON: Expecting property name enclosed in double quotes"
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            {"schema_version": 99},
            "$.schema_version: schema_version 99 is newer than this user_ops understands",
        ),
        ({"content_hash": "0" * 64}, "$.content_hash: content_hash does not match the policy"),
        ({"type": "SegmentMap"}, "$.type: it holds a 'SegmentMap', not a 'TagSet'"),
    ],
)
def test_validate_checks_the_document_envelope(
    edit: dict[str, Any], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({**default_tags().to_document(), **edit}), encoding="utf-8")
    code, stdout, _ = _run(["validate", "TagSet", str(path)], capsys)
    assert code == 1 and expected in stdout.splitlines()[0]


def test_validate_a_rule_as_text_or_json_ast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad, ast = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "ast.json"
    good.write_text('"orders_90d >= 3"', encoding="utf-8")
    bad.write_text('"orders_90d >= 3 and and"', encoding="utf-8")
    ast.write_text(json.dumps({"kind": "nope"}), encoding="utf-8")
    assert _run(["validate", "Rule", str(good)], capsys)[0] == 0
    code, stdout, _ = _run(["validate", "Rule", str(bad)], capsys)
    assert code == 1 and stdout.startswith(f"{bad}:1:22: $: ")
    code, stdout, _ = _run(["validate", "Rule", str(ast)], capsys)
    assert code == 1 and stdout.startswith(f"{ast}:1:1: $")


def test_validate_a_rule_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rule.json"
    document = Rule.parse("orders_90d >= 3").to_document()
    path.write_text(json.dumps(document), encoding="utf-8")
    assert _run(["validate", "Rule", str(path)], capsys)[0] == 0
    document["policy"]["right"]["value"] = 4  # edited by hand: the hash no longer matches
    path.write_text(json.dumps(document), encoding="utf-8")
    code, stdout, _ = _run(["validate", "Rule", str(path)], capsys)
    assert code == 1 and "content_hash does not match" in stdout
    path.write_text(json.dumps({**document, "policy": {"kind": "nope"}}), encoding="utf-8")
    code, stdout, _ = _run(["validate", "Rule", str(path)], capsys)
    assert code == 1 and ": $" in stdout.splitlines()[0]


def test_json_positions() -> None:
    text = '{\n  "a": [1, {"b": "x\\"y"}],\n  "c": null, "d": -1.5e3}'
    positions = json_positions(text)
    assert positions[()] == (1, 1)
    assert positions[("a",)] == (2, 8)
    assert positions[("a", 1, "b")] == (2, 18)
    assert positions[("c",)] == (3, 8) and positions[("d",)] == (3, 19)


# -- bad input: one line, never a traceback ---------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["metrics", "missing.csv", "--as-of", AS_OF], "cannot read 'missing.csv': no such file"),
        (["metrics", "{tx}", "--as-of", "yesterday"], "--as-of 'yesterday' is not an ISO 8601 date-time"),
        (
            ["metrics", "{tx}", "--as-of", "2024-06-30T00:00:00"],
            "--as-of 2024-06-30T00:00:00 has no UTC offset",
        ),
        (["metrics", "{tx}", "--as-of", AS_OF, "--column", "customer_id=cust"], "no column 'cust'"),
        (["metrics", "{tx}", "--as-of", AS_OF, "--tz", "Mars/Olympus"], "Mars/Olympus"),
        (["metrics", "{tx}", "--as-of", AS_OF, "--windows", "30x"], "30x"),
        (["metrics", "{tx}", "--as-of", AS_OF, "--out", "m.xlsx"], "cannot tell the format of 'm.xlsx'"),
        (["tags", "{tx}", "--as-of", AS_OF, "--tags", "{bad_json}"], "not JSON: Expecting"),
        (
            ["tags", "{tx}", "--as-of", AS_OF, "--tags", "{bad_rule}"],
            "$.tags[0].when (tag 'a'): unexpected end of rule",
        ),
        (["rfm", "{tx}"], "--as-of is needed to compute metrics from transactions"),
        (["schema", "TagSett"], "unknown policy type 'TagSett'; did you mean 'TagSet'?"),
        (["validate", "Nope", "{bad_json}"], "unknown policy type 'Nope'"),
        (["validate", "TagSet", "missing.json"], "cannot read 'missing.json': no such file"),
        (["lifecycle", "{ragged}", "--as-of", AS_OF], "line 3: 2 cells, but the header has 3"),
        (["tags", "{naive}", "--as-of", AS_OF, "--tz", "UTC"], None),
    ],
)
def test_bad_input_exits_1_with_one_line(
    argv: list[str],
    message: str | None,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = {
        "tx": files["transactions"],
        "bad_json": tmp_path / "bad.json",
        "bad_rule": tmp_path / "rule.json",
        "ragged": tmp_path / "ragged.csv",
        "naive": tmp_path / "naive.csv",
    }
    paths["bad_json"].write_text("{", encoding="utf-8")
    paths["bad_rule"].write_text('{"tags": [{"name": "a", "when": "x >"}]}', encoding="utf-8")
    paths["ragged"].write_text("a,b,c\n1,2,3\n4,5\n", encoding="utf-8")
    paths["naive"].write_text("customer_id,ordered_at,amount\n1,2024-06-01T10:00,9.5\n", encoding="utf-8")
    code, stdout, err = _run([arg.format(**paths) for arg in argv], capsys)
    if message is None:  # naive times with --tz are fine: the control case
        assert code == 0 and stdout.startswith("customer_id,frequency_high"), err
        return
    assert code == 1, stdout
    first, *rest = err.splitlines()
    assert first.startswith("user_ops: error: ") and message in first, err
    assert all(line.startswith("    ") for line in rest), err  # only a rule's caret snippet follows
    assert "Traceback" not in err


def test_parquet_without_pyarrow_is_one_clear_line(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow...` raise ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    code, _, err = _run(["metrics", str(files["transactions"]), "--as-of", AS_OF, "-o", "m.parquet"], capsys)
    assert code == 1
    assert err == "user_ops: error: Parquet files need the arrow extra: pip install 'user_ops[arrow]'\n"
    code, _, err = _run(["tags", "metrics.parquet", "--as-of", AS_OF], capsys)
    assert code == 1 and "arrow extra" in err


def test_an_internal_error_is_one_line_unless_debugging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import user_ops.cli._commands as commands

    def broken(args: Any, out: Any) -> int:
        raise RuntimeError("a bug\nwith detail")

    monkeypatch.setattr(commands, "run_schema", broken)
    monkeypatch.delenv("USER_OPS_DEBUG", raising=False)
    code, _, err = _run(["schema"], capsys)
    assert code == 3
    assert err == "user_ops: internal error: a bug (set USER_OPS_DEBUG=1 for the traceback)\n"
    monkeypatch.setenv("USER_OPS_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        main(["schema"])


@pytest.mark.parametrize("command", ["demo", "metrics", "rfm", "tags", "lifecycle", "schema", "validate"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run([command, "--help"], capsys)
    assert code == 0 and stdout.startswith(f"usage: user_ops {command}")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["metrics", "x.csv"], capsys)[0] == 2  # --as-of is required
    code, _, err = _run(["metrics", "x.csv", "--as-of", AS_OF, "--column", "nonsense"], capsys)
    assert code == 2 and "expected NAME=COLUMN" in err


# -- progress ---------------------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_only_and_not_when_quiet(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["metrics", str(files["transactions"]), "--as-of", AS_OF]) == 0
    drawn = terminal.getvalue()
    assert "user_ops: " in drawn and "reading " in drawn and "computing metrics of " in drawn
    assert drawn.endswith("\r") and "\n" not in drawn  # one status line, cleared at the end
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["metrics", str(files["transactions"]), "--as-of", AS_OF, "--quiet"]) == 0
    assert quiet.getvalue() == ""
    monkeypatch.undo()
    assert main(["metrics", str(files["transactions"]), "--as-of", AS_OF]) == 0
    assert capsys.readouterr().err == ""  # captured stderr is no terminal


def test_progress_spinner_redraws_while_a_phase_runs() -> None:
    import time

    terminal = _Terminal()
    progress = Progress(terminal, prog="user-ops")
    with progress.phase("working"):
        time.sleep(0.35)
    frames = terminal.getvalue().split("\r")
    assert sum("user-ops: " in frame and "working (" in frame for frame in frames) >= 3
    assert frames[-1] == ""


# -- CSV typing -------------------------------------------------------------------------------------
def test_csv_columns_are_typed_by_their_cells() -> None:
    text = (
        "id,code,spend,vip,day,seen,city,empty\n"
        "1,007,9.5,true,2024-06-01,2024-06-01T08:00:00+08:00,北京,\n"
        "2,010,,FALSE,,2024-06-02T00:00:00Z,,\n"
        "3,100,1e3,false,2024-06-03,,上海,\n"
    )
    table = read_csv(io.StringIO(text))
    kinds = {name: table.kind(name) for name in table.columns}
    assert kinds == {
        "id": "int", "code": "str", "spend": "float", "vip": "bool", "day": "date",
        "seen": "datetime", "city": "str", "empty": "null",
    }  # fmt: skip
    assert table["code"].tolist() == ["007", "010", "100"]  # leading zeros: a code, not a number
    assert table["spend"].tolist()[2] == 1000.0 and np.isnan(table["spend"][1])
    assert table["seen"].tolist()[:2] == [np.datetime64("2024-06-01T00:00:00", "us").item()] * 1 + [
        np.datetime64("2024-06-02T00:00:00", "us").item()
    ]
    assert table["city"].tolist() == ["北京", None, "上海"]


def test_csv_integers_beyond_int64_stay_text() -> None:
    table = read_csv(io.StringIO("id,n\n99999999999999999999,-5\n1,+7\n"))
    assert table.kind("id") == "str" and table["id"].tolist() == ["99999999999999999999", "1"]
    assert table["n"].tolist() == [-5, 7]


def test_csv_naive_datetimes_need_a_zone() -> None:
    text = "t\n2024-06-01T08:00\n"
    with pytest.raises(DataError, match="has no UTC offset"):
        read_csv(io.StringIO(text))
    assert (
        read_csv(io.StringIO(text), tz="Asia/Shanghai")["t"].tolist()[0].isoformat() == "2024-06-01T00:00:00"
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "is empty"), ("a,,b\n1,2,3\n", "header cell 2 is empty"), ("a,a\n1,2\n", "'a' appears twice")],
)
def test_csv_bad_headers(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_csv(io.StringIO(text))


def test_csv_writer_round_trips_floats_exactly() -> None:
    values = np.random.default_rng(3).normal(size=200) * 1e3
    table = Table({"x": values, "n": [None if i % 7 == 0 else i for i in range(200)]})
    stream = io.StringIO()
    write_csv(table, stream)
    back = read_csv(io.StringIO(stream.getvalue()))
    assert back.equals(table)


# -- subprocess -------------------------------------------------------------------------------------
def test_python_dash_m_pipes_csv_through_stdin(files: dict[str, Path], expected_metrics: Table) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "user_ops", "metrics", "-", "--as-of", AS_OF],
        input=files["transactions"].read_bytes(),
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert result.stderr == b""  # no terminal: no progress
    _same_values(_csv_table(result.stdout.decode("utf-8")), expected_metrics)


def test_python_dash_m_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "user_ops", "tags", str(tmp_path / "nope.csv"), "--as-of", "2024-06-30"],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    err = result.stderr.decode("utf-8")
    assert result.returncode == 1
    advice = "write e.g. 2024-06-30T00:00:00+08:00 or ...Z"
    assert err == f"user_ops: error: --as-of 2024-06-30 has no UTC offset; {advice}\n"
