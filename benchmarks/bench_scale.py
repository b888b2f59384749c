"""Scaling out: customer metrics + exact RFM fit + scoring, one process (numpy) against Dask and Spark.

Run ``python benchmarks/bench_scale.py [--rows N] [--partitions P] [--workers W]`` (``--rows 10000000``
for the documented figures; the default is a quick run). In one run it reports, on the same synthetic
order lines (``synthetic_shop``, about 10 lines per customer):

* ``numpy``: the core in one process (``customer_metrics``, ``RFMModel.fit``, ``score``);
* ``dask threads``: ``user_ops.dask`` with the threaded scheduler;
* ``dask LocalCluster``: ``user_ops.dask`` on ``LocalCluster(processes=True)``;
* ``spark local``: ``spark_case`` (filled in by the Spark adapter; skipped while it returns None).

with wall-clock seconds, the ratio to the single process, and peak memory (tracemalloc's peak of
numpy and Python allocations in a second, traced run for the in-process cases; the largest worker's
peak RSS for the cluster). The Dask cases include turning the Table into pandas and a Dask frame, and
the result back into Tables.
Every case is checked to give exactly the single-process result.

``check(n)`` asserts that on small data every Dask case equals the core (the test suite runs it).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine_description, print_table

from user_ops import Table
from user_ops.datasets import synthetic_shop
from user_ops.metrics import customer_metrics
from user_ops.rfm import RFMModel

MODEL = RFMModel.quantile(bins=5)


def single_process(lines: Table, as_of: Any) -> tuple[Table, RFMModel, Table]:
    """The core on one machine: metrics, fitted model, scores."""
    metrics = customer_metrics(lines, as_of=as_of)
    model = MODEL.fit(metrics)
    return metrics, model, model.score(metrics)


def dask_case(
    lines: Table, as_of: Any, *, partitions: int, scheduler: Any = "threads"
) -> tuple[Table, RFMModel, Table]:
    """``user_ops.dask`` end to end; ``scheduler`` is a Dask scheduler name or a distributed Client."""
    import dask
    import dask.dataframe as dd

    import user_ops.dask as udask

    frame = dd.from_pandas(lines.to_pandas(), npartitions=partitions, sort=False)
    settings: dict[str, Any] = {"dataframe.shuffle.method": "tasks"}
    if isinstance(scheduler, str):
        settings["scheduler"] = scheduler
    with dask.config.set(settings):
        metrics = udask.customer_metrics(frame, as_of=as_of).persist()
        model = udask.fit_rfm(metrics, MODEL)
        scores = udask.to_table(udask.score_rfm(metrics, model), sort_by="customer_id")
        table = udask.to_table(metrics, sort_by="customer_id")
    return table, model, scores


def spark_case(lines: Table, as_of: Any, *, partitions: int) -> tuple[Table, RFMModel, Table] | None:
    """``user_ops.spark`` end to end on ``local[*]``; None (skipped) without pyspark or Java.

    The lines go to Parquet first (a lake's usual form; Spark reads it in parallel), then: session
    start, ``customer_metrics`` (the exact top-price quantile, the shuffle by customer, the kernel),
    written back to Parquet; ``fit_rfm`` and ``score_rfm`` on the stored metrics; both collected as
    Tables. Prints the steps' seconds and the peak resident memory of the driver process tree (the
    Python driver, the JVM, the Python workers), sampled every 50 ms.
    """
    import os
    import shutil
    import tempfile
    import threading

    try:
        import pyarrow.parquet as pq
        from pyspark.sql import SparkSession
    except ImportError as error:
        print(f"spark local: skipped ({error})")
        return None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        print("spark local: skipped (no Java runtime)")
        return None
    import user_ops.spark as uspark

    def tree_rss(root: int) -> int:
        children: dict[int, list[int]] = {}
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, []))
            try:
                with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                    total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                pass
        return total

    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(os.getpid()))
            done.wait(0.05)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    folder = tempfile.mkdtemp(prefix="user_ops_bench_spark_")
    sampler = threading.Thread(target=sample, daemon=True)
    steps: dict[str, float] = {}
    try:
        start = time.perf_counter()
        pq.write_table(lines.to_arrow(), os.path.join(folder, "lines"), row_group_size=1_000_000)
        steps["to parquet"] = time.perf_counter() - start
        sampler.start()
        start = time.perf_counter()
        spark = (
            SparkSession.builder.master("local[*]")
            .appName("user_ops-bench")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.shuffle.partitions", str(partitions))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        steps["session"] = time.perf_counter() - start
        try:
            start = time.perf_counter()
            frame = spark.read.parquet(os.path.join(folder, "lines"))
            metrics = uspark.customer_metrics(frame, as_of=as_of, partitions=partitions)
            metrics.write.parquet(os.path.join(folder, "metrics"))
            steps["customer_metrics"] = time.perf_counter() - start
            stored = spark.read.parquet(os.path.join(folder, "metrics"))
            start = time.perf_counter()
            model = uspark.fit_rfm(stored, MODEL)
            steps["fit_rfm"] = time.perf_counter() - start
            start = time.perf_counter()
            scores = uspark.to_table(uspark.score_rfm(stored, model), sort_by="customer_id")
            table = uspark.to_table(stored, sort_by="customer_id")
            steps["score + collect"] = time.perf_counter() - start
        finally:
            spark.stop()
    finally:
        done.set()
        if sampler.is_alive():
            sampler.join()
        shutil.rmtree(folder, ignore_errors=True)
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())
    print(f"spark local: {timings}; peak RSS of driver + JVM + workers {peak[0] / 2**20:,.0f} MiB")
    return table, model, scores


def _measured(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    """Seconds of one plain call, tracemalloc's peak bytes of a second call, and the first result.

    Two calls because tracemalloc slows Python-heavy code (Dask's scheduler) many times over.
    """
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak, result


def _worker_peak_rss() -> int:
    """This process's peak resident set in bytes (run on each worker)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _same(expected: tuple[Table, RFMModel, Table], got: tuple[Table, RFMModel, Table]) -> bool:
    return got[0].equals(expected[0]) and got[1] == expected[1] and got[2].equals(expected[2])


def check(n_customers: int = 500) -> int:
    """Assert that the Dask cases (synchronous and threads) equal the core on a small shop; returns n."""
    shop = synthetic_shop(n_customers, seed=3)
    expected = single_process(shop.lines, shop.as_of)
    for scheduler in ("synchronous", "threads"):
        got = dask_case(shop.lines, shop.as_of, partitions=5, scheduler=scheduler)
        assert _same(expected, got), scheduler
    return n_customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="order lines (about 10 per customer)")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    shop = synthetic_shop(max(1, args.rows // 10), seed=7)
    lines, as_of = shop.lines, shop.as_of
    print(machine_description())
    print(f"{len(lines):,} order lines, {len(shop.customers):,} customers, {args.partitions} partitions\n")
    base_s, base_peak, expected = _measured(lambda: single_process(lines, as_of))
    rows = [["numpy (one process)", f"{base_s:.2f}", "1.00", f"{base_peak / 2**20:,.0f}", "reference"]]
    threads_s, threads_peak, got = _measured(lambda: dask_case(lines, as_of, partitions=args.partitions))
    rows.append(
        [
            "dask threads",
            f"{threads_s:.2f}",
            f"{threads_s / base_s:.2f}",
            f"{threads_peak / 2**20:,.0f}",
            str(_same(expected, got)),
        ]
    )
    import distributed

    with (
        distributed.LocalCluster(
            processes=True, n_workers=args.workers, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        start = time.perf_counter()
        got = dask_case(lines, as_of, partitions=args.partitions, scheduler=client)
        cluster_s = time.perf_counter() - start
        worker_peak = max(client.run(_worker_peak_rss).values())
    rows.append(
        [
            f"dask LocalCluster ({args.workers} processes)",
            f"{cluster_s:.2f}",
            f"{cluster_s / base_s:.2f}",
            f"{worker_peak / 2**20:,.0f} (worker RSS)",
            str(_same(expected, got)),
        ]
    )
    start = time.perf_counter()
    spark = spark_case(lines, as_of, partitions=args.partitions)
    if spark is not None:
        spark_s = time.perf_counter() - start
        rows.append(
            ["spark local", f"{spark_s:.2f}", f"{spark_s / base_s:.2f}", "-", str(_same(expected, spark))]
        )
    print_table(["case", "seconds", "x one process", "peak MiB", "identical"], rows)


if __name__ == "__main__":  # LocalCluster starts processes: the guard is required
    main()
