"""SQLiteRedemptionStore under hostile conditions: a full disk, a fork while a thread is inside the store."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from user_ops.coupons import CounterMove, RedemptionError, RedemptionIntent, SQLiteRedemptionStore

TTL = timedelta(minutes=15)


def order(number: int) -> RedemptionIntent:
    """One use of coupon x by customer ``number`` (a long key, so the file grows quickly)."""
    return RedemptionIntent(
        counters=(
            CounterMove(key="coupon:x:total", amount=1, limit=None),
            CounterMove(key=f"coupon:x:customer:{number:06d}-{'c' * 200}", amount=1, limit=1),
        )
    )


def _connection_of(store: SQLiteRedemptionStore) -> sqlite3.Connection:
    # The store's own connection for this thread: max_page_count is a per-connection setting.
    return store._connection()


# -- a full disk ------------------------------------------------------------------------------------------


def test_a_full_disk_is_reported_as_such_and_moves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    with SQLiteRedemptionStore(path) as store:
        connection = _connection_of(store)
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        # SQLite answers SQLITE_FULL once the file would grow past max_page_count: a full disk, honestly.
        connection.execute(f"PRAGMA max_page_count = {pages + 2}")
        reserved = 0
        with pytest.raises(RedemptionError, match="database or disk is full") as raised:
            for number in range(10_000):
                assert store.reserve(order(number), f"order-{number}", TTL).ok
                reserved += 1
        assert reserved < 10_000
        assert str(path) in str(raised.value)
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        # All or nothing: the failed reserve moved no counter and left no reservation behind.
        assert store.status(f"order-{reserved}") is None
        assert store.used("coupon:x:total") == reserved
        # Space freed: the store works again on the same connection.
        connection.execute("PRAGMA max_page_count = 1073741823")
        assert store.reserve(order(reserved), f"order-{reserved}", TTL).ok
        assert store.used("coupon:x:total") == reserved + 1


def test_a_locked_database_is_a_redemption_error_naming_the_cause(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with SQLiteRedemptionStore(path, busy_timeout=timedelta(0)) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        try:
            with pytest.raises(RedemptionError, match="database is locked"):
                store.reserve(order(1), "order-1", TTL)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.reserve(order(1), "order-1", TTL).ok


# -- fork while a thread is inside the store (prefork servers: gunicorn --preload) -----------------------

CHILD_TIMEOUT = 20.0  # seconds; a child that deadlocks is killed, never waited on forever


class _GatedClock:
    """A clock that, for the thread named ``holder``, blocks until released: that thread then sits
    inside the store's call (holding its lock and SQLite's write transaction) for as long as we like."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> datetime:
        if threading.current_thread().name == "holder" and not self.release.is_set():
            self.inside.set()
            self.release.wait(CHILD_TIMEOUT)
        return datetime(2024, 5, 1, tzinfo=timezone.utc)


def _wait_for_child(pid: int, timeout: float) -> int | None:
    """The child's exit code, or None (after killing it) when it has not finished within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def _child_uses_the_store(store: SQLiteRedemptionStore, number: int) -> int:
    """Runs in the forked child: 0 when reserve, commit and used work, else a code saying what failed."""
    try:
        key = f"child-{number}"
        if not store.reserve(order(number), key, TTL).ok:
            return 3
        if store.commit(key).status.value != "committed":
            return 4
        return 0 if store.used(order(number).counters[1].key) == 1 else 5
    except BaseException:
        traceback.print_exc()  # shows in the test's captured output
        return 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
@pytest.mark.parametrize("round_", range(3))
def test_a_child_forked_while_a_thread_is_inside_the_store_can_use_it(tmp_path: Path, round_: int) -> None:
    clock = _GatedClock()
    with SQLiteRedemptionStore(
        tmp_path / "fork.db", clock=clock, busy_timeout=timedelta(seconds=10)
    ) as store:
        assert store.reserve(order(0), "parent-0", TTL).ok  # the forking thread has a connection too
        holder = threading.Thread(
            target=store.reserve, args=(order(1), "parent-1", TTL), name="holder", daemon=True
        )
        holder.start()
        try:
            assert clock.inside.wait(CHILD_TIMEOUT), "the holder thread never entered the store"
            # The holder stays inside its call (holding the store's lock and SQLite's write transaction)
            # for another 0.2 s after the fork starts.
            threading.Timer(0.2, clock.release.set).start()
            pid = os.fork()
            if pid == 0:  # the child: use the store, then leave without running the parent's cleanup
                code = 1
                try:
                    code = _child_uses_the_store(store, 2)
                finally:
                    os._exit(code)
            exit_code = _wait_for_child(pid, CHILD_TIMEOUT)
        finally:
            clock.release.set()
            holder.join(CHILD_TIMEOUT)
        assert exit_code is not None, f"the child deadlocked (killed after {CHILD_TIMEOUT} s)"
        assert exit_code == 0, f"the child failed with code {exit_code}"
        # Parent and child share the file: both saw each other's counters, and the parent still works.
        assert store.status("parent-1") is not None and store.status("child-2") is not None
        assert store.used("coupon:x:total") == 3
        assert store.reserve(order(3), "parent-3", TTL).ok


_FORKED_STORE: list[SQLiteRedemptionStore] = []


def _worker_uses_the_store(number: int) -> int:
    return _child_uses_the_store(_FORKED_STORE[0], number)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_prefork_workers_share_the_store_opened_by_the_master(tmp_path: Path) -> None:
    """gunicorn --preload: the master opens the store, a thread of it is busy in it, workers are forked."""
    clock = _GatedClock()
    with SQLiteRedemptionStore(
        tmp_path / "pool.db", clock=clock, busy_timeout=timedelta(seconds=10)
    ) as store:
        holder = threading.Thread(
            target=store.reserve, args=(order(0), "master", TTL), name="holder", daemon=True
        )
        holder.start()
        try:
            assert clock.inside.wait(CHILD_TIMEOUT)
            _FORKED_STORE.append(store)  # workers inherit it, like a module-level store of a web app
            threading.Timer(0.2, clock.release.set).start()
            pool = multiprocessing.get_context("fork").Pool(2)
            try:
                pending = pool.map_async(_worker_uses_the_store, range(1, 5))
                codes = pending.get(timeout=CHILD_TIMEOUT)  # raises TimeoutError if a worker deadlocked
            finally:
                pool.terminate()
                pool.join()
        finally:
            clock.release.set()
            holder.join(CHILD_TIMEOUT)
            _FORKED_STORE.clear()
        assert codes == [0, 0, 0, 0]
        assert store.used("coupon:x:total") == 5
