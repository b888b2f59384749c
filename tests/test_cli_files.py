"""The command line as a user meets it: ``python -m user_ops`` in a subprocess, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from user_ops import LifecyclePolicy, Table
from user_ops.datasets import synthetic_shop
from user_ops.metrics import Transactions, customer_metrics

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("USER_OPS_SHARED", REPO_ROOT.parent / "shared"))
CDNOW = SHARED / "data" / "cdnow" / "CDNOW_sample.txt"
AS_OF = "2024-06-30T00:00:00+08:00"


def run(*argv: Any, stdin: bytes | None = None, **options: Any) -> subprocess.CompletedProcess[str]:
    """``python -m user_ops ARGV`` in a fresh interpreter, outside any terminal."""
    return subprocess.run(
        [sys.executable, "-m", "user_ops", *map(str, argv)],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
        **options,
    )


def text(result: subprocess.CompletedProcess[Any]) -> tuple[int, str, str]:
    out, err = result.stdout, result.stderr
    decode = (lambda b: b.decode("utf-8")) if isinstance(out, bytes) else (lambda s: s)
    return result.returncode, decode(out), decode(err)


@pytest.fixture(scope="module")
def shop() -> Any:
    return synthetic_shop(150, seed=2)


@pytest.fixture(scope="module")
def orders(shop: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "orders.csv"
    shop.lines.select(["customer_id", "order_id", "ordered_at", "amount"]).to_csv(path)
    return path


def metrics_of(path: Path, *extra: Any) -> tuple[int, str, str]:
    return text(run("metrics", path, "--as-of", AS_OF, *extra))


# -- --as-of ----------------------------------------------------------------------------------------
def test_rows_after_as_of_are_counted_on_stderr(shop: Any, orders: Path) -> None:
    as_of = "2024-03-01T00:00:00+08:00"
    code, out, err = text(run("metrics", orders, "--as-of", as_of))
    after = int(np.count_nonzero(shop.lines["ordered_at"] >= np.datetime64("2024-02-29T16:00:00", "us")))
    assert code == 0 and after > 0
    assert err == (
        f"user_ops: note: left out {after:,} rows at or after --as-of {as_of} "
        f"({len(shop.lines) - after:,} of {len(shop.lines):,} used)\n"
    )
    assert out.count("\n") > 1


def test_no_row_before_as_of_is_an_error_not_an_empty_file(orders: Path, tmp_path: Path) -> None:
    target = tmp_path / "m.csv"
    code, out, err = text(run("metrics", orders, "--as-of", "2000-01-01T00:00:00Z", "-o", target))
    assert code == 1 and out == "" and not target.exists()
    assert err.count("\n") == 1 and "so no row is used; choose a later --as-of" in err


@pytest.mark.parametrize("command", ["metrics", "tags", "lifecycle", "points"])
def test_a_header_only_input_is_an_error(command: str, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("customer_id,ordered_at,amount\n")
    code, out, err = text(run(command, path, "--as-of", AS_OF))
    assert (code, out) == (1, "")
    assert err == f"user_ops: error: {path} has no rows (only a header): nothing to compute\n"


# -- file lines in messages -------------------------------------------------------------------------
def test_a_non_numeric_amount_is_named_by_its_file_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    # a blank line and a quoted cell over two lines: row numbers and file lines part ways
    path.write_text(
        'customer_id,ordered_at,amount,note\n1,2024-06-01T10:00:00Z,12.5,"two\nlines"\n\n'
        "2,2024-06-02T10:00:00Z,30,\n3,2024-06-03T10:00:00Z,n/a,\n4,2024-06-04T10:00:00Z,oops,\n",
        encoding="utf-8",
    )
    code, _, err = metrics_of(path)
    assert code == 1
    assert err.endswith(f"user_ops: error: {path} line 6: column 'amount' holds 'n/a', not a number\n")
    mapped = tmp_path / "mapped.csv"
    mapped.write_text(path.read_text(encoding="utf-8").replace(",amount,", ",Sales,"), encoding="utf-8")
    code, _, err = metrics_of(mapped, "-c", "amount=Sales")
    assert "line 6: column 'Sales' (--column amount=Sales) holds 'n/a'" in err


def test_library_errors_name_file_lines_and_speak_cli(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,ordered_at,amount\n1,2024-06-01T10:00:00Z,1\n\n2,2024-06-02T10:00:00Z,inf\n",
        encoding="utf-8",
    )
    code, _, err = metrics_of(path)
    assert code == 1 and f"{path} line 4: column 'amount': inf is not finite" in err
    naive = tmp_path / "bad_time.csv"
    naive.write_text("customer_id,ordered_at,amount\n1,2024-06-01T10:00:00Z,1\n2,2024-13-45T10:00,2\n")
    code, _, err = metrics_of(naive)
    assert code == 1 and "line 3" in err and "2024-13-45" in err
    for message in (err,):
        assert "columns=" not in message and "tz=" not in message


# -- --encoding, --date-format, --tz ------------------------------------------------------------------
def test_gb18030_and_bom_files_read_like_utf8(tmp_path: Path) -> None:
    rows = (
        "customer_id,ordered_at,amount,city\n"
        "张三,2024-06-01T10:00:00+08:00,9.5,北京\n李四,2024-06-02,30,上海\n"
    )
    plain, bom, chinese = tmp_path / "u.csv", tmp_path / "bom.csv", tmp_path / "gb.csv"
    plain.write_bytes(rows.encode("utf-8"))
    bom.write_bytes(rows.encode("utf-8-sig"))
    chinese.write_bytes(rows.encode("gb18030"))
    code, expected, _ = metrics_of(plain)
    assert code == 0 and "张三" in expected
    assert metrics_of(bom)[:2] == (0, expected)
    code, _, err = metrics_of(chinese)
    assert code == 1 and err.count("\n") == 1
    assert f"{chinese} line 2: not utf-8 text" in err and "--encoding" in err and "gb18030" in err
    assert metrics_of(chinese, "--encoding", "gb18030")[:2] == (0, expected)
    piped = run("metrics", "-", "--as-of", AS_OF, "--encoding", "gb18030", stdin=chinese.read_bytes())
    assert text(piped)[:2] == (0, expected)
    code, _, err = metrics_of(chinese, "--encoding", "klingon")
    assert code == 1 and "unknown --encoding 'klingon'" in err


def test_date_format_reads_cdnow_style_dates(tmp_path: Path) -> None:
    iso, compact = tmp_path / "iso.csv", tmp_path / "compact.csv"
    iso.write_text("cust,date,amount\n00004,1997-01-01,29.33\n00004,1997-01-18,29.73\n00005,1997-01-02,8\n")
    compact.write_text("cust,date,amount\n00004,19970101,29.33\n00004,19970118,29.73\n00005,19970102,8\n")
    argv = ["--as-of", "1997-07-01T00:00:00Z", "-c", "customer_id=cust", "-c", "ordered_at=date"]
    code, expected, err = text(run("metrics", iso, *argv))
    assert code == 0, err
    assert text(run("metrics", compact, *argv, "--date-format", "%Y%m%d"))[:2] == (0, expected)
    code, _, err = text(run("metrics", compact, *argv))
    assert code == 1 and "line 2: column 'date' (--column ordered_at=date) holds 19970101, not a date" in err
    assert "--date-format" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("cust,date,amount\n1,19970101,2\n2,19971301,3\n")
    code, _, err = text(run("metrics", bad, *argv, "--date-format", "%Y%m%d"))
    assert (
        code == 1
        and f"{bad} line 3: column 'date' holds '19971301', which does not match --date-format" in err
    )


@pytest.mark.skipif(not CDNOW.exists(), reason=f"the CDNOW sample is not at {CDNOW}")
def test_the_real_cdnow_sample_through_the_command_line(tmp_path: Path) -> None:
    from user_ops.datasets import load_cdnow

    cells = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    path = tmp_path / "cdnow.csv"
    path.write_text("id,date,quantity,amount\n" + "".join(",".join(c[1:]) + "\n" for c in cells))
    argv = [
        "metrics",
        path,
        "--as-of",
        "1998-07-01T00:00:00Z",
        "-c",
        "customer_id=id",
        "-c",
        "ordered_at=date",
    ]
    code, out, err = text(run(*argv, "--date-format", "%Y%m%d", "--tz", "UTC"))
    assert code == 0, err
    got = Table.read_csv(__import__("io").StringIO(out))
    expected = customer_metrics(
        Transactions(load_cdnow(CDNOW).select(["customer_id", "ordered_at", "amount"])),
        as_of=datetime(1998, 7, 1, tzinfo=timezone.utc),
        tz="UTC",
    )
    assert len(got) == len(expected)
    assert got["frequency"].tolist() == expected["frequency"].tolist()


def test_tz_names_the_zone_of_naive_times(tmp_path: Path) -> None:
    aware, naive = tmp_path / "aware.csv", tmp_path / "naive.csv"
    aware.write_text(
        "customer_id,ordered_at,amount\n1,2024-06-01T23:30:00+08:00,5\n1,2024-06-20T01:00:00+08:00,5\n"
    )
    naive.write_text("customer_id,ordered_at,amount\n1,2024-06-01 23:30,5\n1,2024-06-20 01:00,5\n")
    expected = text(run("metrics", aware, "--as-of", "2024-06-30T00:00:00Z", "--tz", "Asia/Shanghai"))
    assert expected[0] == 0
    assert (
        text(run("metrics", naive, "--as-of", "2024-06-30T00:00:00Z", "--tz", "Asia/Shanghai"))[:2]
        == expected[:2]
    )
    in_utc = text(run("metrics", naive, "--as-of", "2024-06-30T00:00:00Z"))  # the zone of --as-of: UTC
    assert in_utc[0] == 0 and in_utc[1] != expected[1]


def test_column_refuses_names_the_command_does_not_read(orders: Path) -> None:
    code, out, err = metrics_of(orders, "-c", "orderd_at=ordered_at")
    assert (code, out) == (1, "")
    assert (
        "--column orderd_at=ordered_at: metrics reads no column 'orderd_at'; did you mean 'ordered_at'?"
        in err
    )
    code, _, err = metrics_of(orders, "-c", "amount=Sales")
    assert code == 1 and "--column amount=Sales: no column 'Sales'" in err


# -- atomic output ----------------------------------------------------------------------------------
def _limited_file_size(limit: int) -> Any:
    def apply() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_a_write_failing_midway_leaves_the_old_file_intact(orders: Path, tmp_path: Path) -> None:
    target = tmp_path / "metrics.csv"
    target.write_text("the old file\n")
    result = run("metrics", orders, "--as-of", AS_OF, "-o", target, preexec_fn=_limited_file_size(4096))
    code, _, err = text(result)
    assert code == 1 and f"cannot write '{target}'" in err and err.count("\n") == 1
    assert target.read_text() == "the old file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]  # no temporary file left
    assert metrics_of(orders, "-o", target)[0] == 0 and target.read_text().startswith("customer_id,")


# -- progress ---------------------------------------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
@pytest.mark.parametrize("csv_to_the_terminal", [True, False])
def test_progress_never_mixes_with_csv_on_the_terminal(
    orders: Path, tmp_path: Path, csv_to_the_terminal: bool
) -> None:
    import pty

    leader, follower = pty.openpty()
    piped_to = tmp_path / "stdout.csv"  # a file, not a pipe: nothing can block while the pty is read
    stdout: Any = follower if csv_to_the_terminal else open(piped_to, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "user_ops", "metrics", str(orders), "--as-of", AS_OF],
        cwd=REPO_ROOT,
        stdout=stdout,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: every process writing to it has ended
            break
        if not chunk:
            break
        screen += chunk
    assert process.wait(timeout=120) == 0
    if not csv_to_the_terminal:
        stdout.close()
    piped = b"" if csv_to_the_terminal else piped_to.read_bytes()
    os.close(leader)
    shown = screen.decode("utf-8", "replace")
    if csv_to_the_terminal:
        assert "customer_id," in shown and "reading " not in shown and "\r" not in shown.replace("\r\n", "")
    else:
        assert "reading " in shown and "computing metrics of " in shown  # stderr is the terminal
        assert piped.startswith(b"customer_id,") and b"reading" not in piped


# -- lifecycle policy round trip --------------------------------------------------------------------
def test_lifecycle_saves_the_policy_it_used_and_reads_an_edited_one(
    shop: Any, orders: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "policy.json"
    code, first, err = text(
        run("lifecycle", orders, "--as-of", AS_OF, "--population-cycle-days", "45", "--save-policy", saved)
    )
    assert code == 0, err
    policy = LifecyclePolicy.from_document(saved.read_text(encoding="utf-8"))
    assert policy == LifecyclePolicy.default(population_cycle_days=45)
    document = json.loads(saved.read_text(encoding="utf-8"))
    for stage in document["policy"]["stages"]:
        if stage["code"] == "churn":
            stage["action_en"] = "Send the big coupon"
    assert set(document) == {"type", "schema_version", "policy"}  # no hash for an edit to break
    saved.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code, edited, err = text(run("lifecycle", orders, "--as-of", AS_OF, "--policy", saved))
    assert code == 0, err
    assert "Send the big coupon" in edited and "Send the big coupon" not in first
    assert edited.count("\n") == first.count("\n")


def test_print_policy_needs_no_data_with_a_population_cycle() -> None:
    code, out, _ = text(run("lifecycle", "--print-policy", "--population-cycle-days", "45"))
    assert code == 0
    assert LifecyclePolicy.from_document(out) == LifecyclePolicy.default(population_cycle_days=45)
    code, _, err = text(run("lifecycle", "--print-policy"))
    assert code == 1 and "lifecycle needs an INPUT file" in err


def test_print_policy_with_data_measures_the_population_cycle(shop: Any, orders: Path) -> None:
    from user_ops.lifecycle import population_cycle

    code, out, _ = text(run("lifecycle", orders, "--as-of", AS_OF, "--print-policy"))
    metrics = customer_metrics(Transactions(shop.lines), as_of=shop.as_of)
    assert code == 0
    assert LifecyclePolicy.from_document(out) == LifecyclePolicy.default(
        population_cycle_days=population_cycle(metrics)
    )


# -- schema and validate ----------------------------------------------------------------------------
def test_schema_names_are_case_insensitive() -> None:
    code, out, _ = text(run("schema", "tagset"))
    assert code == 0 and json.loads(out)["title"] == "TagSet"
    code, _, err = text(run("schema", "tagsett"))
    assert code == 1 and "did you mean 'TagSet'?" in err
    code, _, err = text(run("schema", "qqqq"))
    assert code == 1 and "did you mean" not in err


def test_validate_reports_every_problem_of_a_tag_file(tmp_path: Path) -> None:
    path = tmp_path / "tags.json"
    path.write_text(
        '{"tags": [\n'
        '  {"name": "vip", "when": "monetary >= 3000", "group": "value", "priority": 1},\n'
        '  {"name": "vip", "when": "monetary >= 2000"},\n'
        '  {"name": "big", "when": "monetary >= 1000", "group": "value", "priority": 1},\n'
        '  {"name": "loyal", "when": "has_tag(\\"vipp\\") and frequency > 3"},\n'
        '  {"name": "bad", "when": "frequency > > 3"}\n'
        "]}\n",
        encoding="utf-8",
    )
    code, out, _ = text(run("validate", "TagSet", path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{path}:3:12: $.tags[1].name (tag 'vip'): duplicate tag name 'vip' (also tags[0])"
    assert lines[1].startswith(
        f"{path}:4:77: $.tags[2].priority (tag 'big'): shares priority 1 with tag 'vip'"
    )
    assert lines[2] == (
        f"{path}:5:29: $.tags[3].when (tag 'loyal'): has_tag('vipp'): no tag 'vipp' in this set; "
        "did you mean 'vip'?"
    )
    assert lines[3] == f"{path}:6:40: $.tags[4].when (tag 'bad'): expected an expression after '>', found '>'"
    assert lines[4:] == ["    frequency > > 3", "                ^", f"{path}: 4 problems"]


def test_a_bad_tag_file_names_the_tag_and_shows_the_rule(orders: Path, tmp_path: Path) -> None:
    path = tmp_path / "tags.json"
    path.write_text(
        json.dumps(
            {"tags": [{"name": "ok", "when": "frequency > 1"}, {"name": "whale", "when": "monetary >= >= 5"}]}
        )
    )
    code, _, err = text(run("tags", orders, "--as-of", AS_OF, "--tags", path))
    assert code == 1
    first, rule, caret = err.splitlines()
    assert first.startswith(f"user_ops: error: {path}:1:") and "$.tags[1].when (tag 'whale'): " in first
    assert rule == "    monetary >= >= 5" and caret == " " * 16 + "^^"


# -- the other rooms --------------------------------------------------------------------------------
def _tier_policy() -> Any:
    from user_ops.membership import Tier, TierPolicy

    return TierPolicy(
        [
            Tier(code="red", label_en="Red", label_zh="红海", entry="0 CNY"),
            Tier(code="gold", label_en="Gold", label_zh="金海", entry="500 CNY", retention="300 CNY"),
        ],
        window="rolling",
        window_length="12mo",
    )


def test_tiers_from_metrics_and_from_history(tmp_path: Path) -> None:
    policy = _tier_policy()
    policy_file = tmp_path / "tiers.json"
    policy_file.write_text(json.dumps(policy.to_document()))
    as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    metrics = Table({"member": [1, 2, 3], "spend": [10_000, 60_000, 0]})
    metrics_file = tmp_path / "m.csv"
    metrics.to_csv(metrics_file)
    argv = ["--policy", policy_file, "--as-of", "2024-06-30T00:00:00Z"]
    code, out, err = text(
        run("tiers", metrics_file, *argv, "-c", "customer_id=member", "-c", f"{policy.metric_column}=spend")
    )
    assert code == 0, err
    got = Table.read_csv(__import__("io").StringIO(out))
    renamed = Table({"customer_id": [1, 2, 3], policy.metric_column: [10_000, 60_000, 0]})
    assert (
        got["tier"].tolist()
        == policy.evaluate(renamed, as_of=as_of)["tier"].tolist()
        == ["red", "gold", "red"]
    )

    history = tmp_path / "history.csv"
    history.write_text(
        "customer_id,at,kind,amount_minor\n1,2024-01-05T00:00:00Z,purchase,60000\n"
        "2,2024-02-01T00:00:00Z,purchase,1000\n2,2024-08-01T00:00:00Z,purchase,90000\n"
    )
    code, out, err = text(run("tiers", history, *argv))
    assert code == 0, err
    assert err == "user_ops: note: left out 1 row at or after --as-of 2024-06-30T00:00:00Z (2 of 3 used)\n"
    got = Table.read_csv(__import__("io").StringIO(out))
    assert got["customer_id"].tolist() == [1, 2] and got["tier"].tolist() == ["gold", "red"]
    assert got["to_next"].tolist()[1] == 49_000
    bad = tmp_path / "bad_history.csv"
    bad.write_text(
        "customer_id,at,kind,amount_minor\n1,2024-01-05T00:00:00Z,purchase,600\n1,2024-01-06T00:00:00Z,buy,9\n"
    )
    code, _, err = text(run("tiers", bad, *argv))
    assert code == 1 and f"{bad}: line 3.kind: expected one of" in err


def test_points_balances_from_a_ledger_file(tmp_path: Path) -> None:
    from user_ops.membership import balances

    ledger = Table(
        {
            "customer_id": [1, 1, 2],
            "key": ["e1", "r1", "e1"],
            "kind": ["earn", "redeem", "earn"],
            "points": [100, 30, 50],
            "at": [datetime(2024, 1, 1, tzinfo=timezone.utc)] * 3,
        }
    )
    path = tmp_path / "ledger.csv"
    ledger.to_csv(path)
    code, out, err = text(run("points", path, "--as-of", "2024-06-30T00:00:00Z"))
    assert code == 0, err
    expected = balances(ledger, as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
    assert Table.read_csv(__import__("io").StringIO(out)).equals(expected)
    code, _, err = text(run("points", path, "--as-of", "2023-06-30T00:00:00Z"))
    assert code == 1 and "no row is used" in err


def _template() -> Any:
    from user_ops.coupons import Benefit, Conditions, CouponTemplate

    return CouponTemplate(
        id="w30",
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount="30 CNY"),
        conditions=Conditions(min_subtotal="199 CNY"),
    )


def test_issue_plans_from_a_customers_file(tmp_path: Path) -> None:
    from user_ops.coupons import IssuanceBudget, plan_issuance

    template_file, customers_file = tmp_path / "tpl.json", tmp_path / "customers.csv"
    template_file.write_text(json.dumps(_template().to_document()))
    customers = Table(
        {"customer_id": [1, 2, 3, 4], "frequency": [3, 1, 5, 2], "monetary": [80.0, 10.0, 900.0, 50.0]}
    )
    customers.to_csv(customers_file)
    code, out, err = text(
        run(
            "issue",
            customers_file,
            "--template",
            template_file,
            "--as-of",
            AS_OF,
            "--audience",
            "frequency >= 2",
            "--max-count",
            2,
            "--priority",
            "monetary",
        )
    )
    assert code == 0, err
    plan = plan_issuance(
        _template(),
        customers,
        audience="frequency >= 2",
        as_of=datetime(2024, 6, 30, tzinfo=timezone.utc),
        budget=IssuanceBudget(count=2, priority="monetary"),
    )
    got = Table.read_csv(__import__("io").StringIO(out))
    assert got["reason"].tolist() == plan.table["reason"].tolist()
    assert got["selected"].tolist() == [True, False, True, False]


def test_coupons_check_and_quote_write_json(tmp_path: Path) -> None:
    from user_ops.coupons import Cart, CartLine, CustomerContext, check, quote

    cart = Cart(
        currency="CNY",
        shipping_fee="10 CNY",
        lines=[CartLine(sku="a", category="food", unit_price="48 CNY", quantity=5)],
    )
    cart_file, coupon_file, out_file = tmp_path / "cart.json", tmp_path / "c.json", tmp_path / "quote.json"
    cart_file.write_text(cart.model_dump_json())
    coupon_file.write_text(json.dumps([_template().to_dict()]))
    as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    code, out, err = text(run("coupons", "check", cart_file, coupon_file, "--as-of", "2024-06-30T00:00:00Z"))
    assert code == 0, err
    (result,) = json.loads(out)
    expected = check(_template(), cart, CustomerContext(id="anonymous"), as_of=as_of)
    assert result["eligible"] is expected.eligible is True and result["discount"] == str(expected.discount)
    code, out, err = text(
        run("coupons", "quote", cart_file, coupon_file, "--as-of", "2024-06-30T00:00:00Z", "-o", out_file)
    )
    assert (code, out) == (0, "")
    priced = quote(cart, CustomerContext(id="anonymous"), [_template()], as_of=as_of)
    assert json.loads(out_file.read_text())["total"] == str(priced.total) == "220.00 CNY"
    code, _, err = text(run("coupons", "quote", cart_file, coupon_file, "--as-of", "2024-06-30"))
    assert code == 1 and "has no UTC offset" in err
    argv = ["coupons", "check", cart_file, coupon_file, "--as-of", "2024-06-30T00:00:00Z", "-o", "x.csv"]
    code, _, err = text(run(*argv))
    assert code == 1 and "name the --out file *.json" in err


# -- the public reader and writer -------------------------------------------------------------------
def test_table_read_csv_takes_the_cli_options(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("客户,日期,金额\n张三,20240601,9.5\n李四,20240602,\n".encode("gb18030"))
    table = Table.read_csv(
        path,
        encoding="gb18030",
        date_format="%Y%m%d",
        columns={"customer_id": "客户", "ordered_at": "日期", "amount": "金额"},
    )
    assert table.columns == ("customer_id", "ordered_at", "amount")
    assert table.kind("ordered_at") == "date" and table["customer_id"].tolist() == ["张三", "李四"]
    with pytest.raises(Exception, match=r"line 1: not utf-8 text.*encoding="):
        Table.read_csv(path)
    out = tmp_path / "back.csv"
    table.to_csv(out)
    assert Table.read_csv(out).equals(table)
    parquet = tmp_path / "x.parquet"
    table.to_parquet(parquet)
    assert Table.read_parquet(parquet).equals(table)


@pytest.mark.parametrize(
    "call",
    [
        lambda: Table.read_csv(123),
        lambda: Table.read_csv(__import__("io").BytesIO(b"a,b\n")),
        lambda: Table.read_csv(__import__("io").StringIO("a\n1\n"), encoding="klingon"),
        lambda: Table.read_csv(__import__("io").StringIO("a\n1\n"), date_format="Ymd"),
        lambda: Table.read_csv("no/such/file.csv"),
        lambda: Table({"a": [1]}).to_csv(5),
        lambda: Table({"a": [1]}).to_parquet(None),
        lambda: Table({"a": [1]}).to_csv("no/such/folder/x.csv"),
    ],
)
def test_table_file_methods_refuse_garbage_with_user_ops_errors(call: Any) -> None:
    from user_ops import UserOpsError

    with pytest.raises(UserOpsError):
        call()
