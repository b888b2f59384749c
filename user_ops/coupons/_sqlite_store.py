"""``SQLiteRedemptionStore``: the redemption protocol on a stdlib ``sqlite3`` file, safe across processes.

Every call is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock, so two processes never
interleave), and a counter moves only through a conditional update that re-checks its limit in SQL::

    UPDATE user_ops_counters SET used = used + :amount
     WHERE key = :key AND used <= :limit - :amount      -- no limit: 2**63 - 1, what SQLite holds

An update that matches no row means the limit would be exceeded: the transaction rolls back, so an
intent moves all its counters or none. SQLite's own failures (a full disk, a lock held past the busy
timeout) raise [`RedemptionError`][] naming the file and SQLite's reason, after
rolling the transaction back. The database runs in WAL mode (readers never block the writer)
with a busy timeout; threads of one process take a process-local lock before the write lock, because
SQLite's own busy handler sleeps in whole milliseconds and would make threads queue slowly.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Literal

from user_ops.coupons._redemption import (
    Clock,
    Moves,
    RedemptionError,
    RedemptionIntent,
    Refund,
    Rejection,
    Reservation,
    ReservationStatus,
    as_fraction,
    check_clock,
    check_intent,
    check_key,
    check_same_intent,
    decode_moves,
    decode_rejection,
    effective_limit,
    encode_moves,
    encode_rejection,
    expiry_us,
    instant,
    next_refunded,
    now_us,
    refund_shares,
    replayed_refund,
    retention_cutoff_us,
    state_error,
    ttl_us,
    utc_now,
)
from user_ops.exceptions import DataError

__all__ = ["SQLiteRedemptionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS user_ops_counters (
    key  TEXT PRIMARY KEY,
    used INTEGER NOT NULL CHECK (used >= 0)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS user_ops_reservations (
    key          TEXT PRIMARY KEY,
    intent_hash  TEXT NOT NULL,
    moves        TEXT NOT NULL,
    status       TEXT NOT NULL,
    expires_us   INTEGER,
    refunded     TEXT NOT NULL DEFAULT '0',
    updated_us   INTEGER,
    rejection    TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS user_ops_reservations_pending
    ON user_ops_reservations (expires_us) WHERE status = 'reserved';
CREATE TABLE IF NOT EXISTS user_ops_refunds (
    reservation  TEXT NOT NULL,
    refund_key   TEXT NOT NULL,
    fraction     TEXT NOT NULL,
    refunded     TEXT NOT NULL,
    restored     TEXT NOT NULL,
    PRIMARY KEY (reservation, refund_key)
) WITHOUT ROWID;
"""

_RESERVED = ReservationStatus.RESERVED.value
_MAX_BUSY_TIMEOUT = timedelta(milliseconds=2**31 - 1)


#: Columns added since the first version: a file written before gets them on opening.
_ADDED_COLUMNS = {"updated_us": "INTEGER", "rejection": "TEXT"}


class _RejectedError(Exception):
    """Raised inside a reserve's transaction to roll it back when a counter would pass its limit."""

    def __init__(self, rejection: Rejection, now: int) -> None:
        super().__init__(rejection.message)
        self.rejection, self.now = rejection, now


class SQLiteRedemptionStore:
    """A [`RedemptionStore`][] in a SQLite file, usable from many threads and processes.

    Each thread gets its own connection; every process opening the same file sees the same counters.
    A store opened before ``fork`` (a prefork web server's master, ``multiprocessing``) works in the
    children: each child reopens its connections and locks, even if another thread was inside the store
    when the process forked. A file written by an earlier version is upgraded when opened.

    Parameters
    ----------
    path : str or Path
        The database file (created with its tables if missing). Not ``":memory:"``: an in-memory
        database is private to one connection; use [`MemoryRedemptionStore`][].
    clock : callable, optional
        Returns the current aware datetime (inject a fake one in tests). Default: UTC now.
    busy_timeout : timedelta, optional
        How long a call waits for another process's write lock before raising
        [`RedemptionError`][] ("database is locked").
    synchronous : {"FULL", "NORMAL"}
        SQLite's ``PRAGMA synchronous``. ``FULL`` (default) syncs every commit to disk; ``NORMAL`` is
        faster in WAL mode and never corrupts, but the last commits can be lost on power failure.

    Examples
    --------
    >>> import tempfile, os
    >>> from datetime import timedelta
    >>> from user_ops.coupons import CounterMove, RedemptionIntent
    >>> folder = tempfile.mkdtemp()
    >>> store = SQLiteRedemptionStore(os.path.join(folder, "redemptions.db"))
    >>> intent = RedemptionIntent(counters=(CounterMove(key="coupon:spring:total", amount=1, limit=100),))
    >>> store.reserve(intent, "order-1", timedelta(minutes=15)).ok
    True
    >>> store.reserve(intent, "order-1", timedelta(minutes=15)).replayed   # a retry moves nothing
    True
    >>> store.commit("order-1").status.value, store.used("coupon:spring:total")
    ('committed', 1)
    >>> store.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = utc_now,
        busy_timeout: timedelta = timedelta(seconds=30),
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        self.path = _file_path(path)
        if synchronous not in ("FULL", "NORMAL"):
            raise DataError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        if not isinstance(busy_timeout, timedelta) or not timedelta(0) <= busy_timeout <= _MAX_BUSY_TIMEOUT:
            raise DataError(
                f"busy_timeout must be a timedelta from 0 to {_MAX_BUSY_TIMEOUT} (SQLite counts it in "
                f"milliseconds in a 32-bit int), got {busy_timeout!r}"
            )
        self._clock = check_clock(clock)
        self._timeout = busy_timeout.total_seconds()
        self._synchronous = synchronous
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        _OPEN_STORES.add(self)
        try:
            connection = self._connection()
            with self._lock:
                connection.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
                connection.execute("BEGIN IMMEDIATE")
                try:
                    _add_missing_columns(connection, self._clock)
                    connection.execute("COMMIT")
                except BaseException:
                    _roll_back(connection)
                    raise
        except sqlite3.Error as exc:  # a missing folder, a read-only file, not a database
            raise RedemptionError(
                f"cannot open the SQLite redemption store at {str(self.path)!r}: {exc}"
            ) from exc

    # -- the protocol --------------------------------------------------------------------------------

    def reserve(self, intent: RedemptionIntent, idempotency_key: str, ttl: timedelta) -> Reservation:
        """Hold every counter of ``intent`` for ``ttl``, or none (see ``RedemptionStore``)."""
        check_intent(intent)
        check_key(idempotency_key, name="idempotency_key")
        lifetime = ttl_us(ttl)
        fingerprint = intent.fingerprint()
        try:
            with self._transaction() as connection:
                now = self._sweep(connection)
                row = _reservation_row(connection, idempotency_key)
                if row is not None:
                    check_same_intent(idempotency_key, row[0], intent, fingerprint)
                    return _reservation(idempotency_key, row, replayed=True)
                expires = expiry_us(now, lifetime)
                for move in intent.counters:
                    rejection = _move_within_limit(
                        connection, move.key, move.amount, effective_limit(move.limit)
                    )
                    if rejection is not None:  # roll the whole transaction back: no counter moved
                        raise _RejectedError(rejection, now)
                connection.execute(
                    "INSERT INTO user_ops_reservations "
                    "(key, intent_hash, moves, status, expires_us, updated_us) VALUES (?, ?, ?, ?, ?, ?)",
                    (idempotency_key, fingerprint, encode_moves(intent.moves()), _RESERVED, expires, now),
                )
                return Reservation(idempotency_key, ReservationStatus.RESERVED, expires_at=instant(expires))
        except _RejectedError as rejected:  # no counter moved
            return self._remember_rejection(intent, idempotency_key, fingerprint, rejected)

    def _remember_rejection(
        self, intent: RedemptionIntent, idempotency_key: str, fingerprint: str, rejected: _RejectedError
    ) -> Reservation:
        """Store a rejection for its retries, in a transaction of its own that does not wait for the disk.

        A rejection moves no counter: if a power cut loses its record, a retry merely decides again.
        So it is not worth an fsync each, which under ``synchronous="FULL"`` would make a flash sale
        (thousands of rejections for every success) several times slower. If another call stored this
        key in the meantime, its outcome stands, as if it had come first.
        """
        with self._transaction(durable=False) as connection:
            stored = connection.execute(
                "INSERT OR IGNORE INTO user_ops_reservations "
                "(key, intent_hash, moves, status, updated_us, rejection) VALUES (?, ?, '[]', ?, ?, ?)",
                (
                    idempotency_key,
                    fingerprint,
                    ReservationStatus.REJECTED.value,
                    rejected.now,
                    encode_rejection(rejected.rejection),
                ),
            ).rowcount
            row = _reservation_row(connection, idempotency_key)
            if not stored:
                assert row is not None  # the insert was ignored because the key exists
                check_same_intent(idempotency_key, row[0], intent, fingerprint)
            return _reservation(idempotency_key, row, replayed=not stored)

    def commit(self, idempotency_key: str) -> Reservation:
        """Make a reservation permanent; a second commit returns the same result."""
        check_key(idempotency_key, name="idempotency_key")
        with self._transaction() as connection:
            now = self._sweep(connection)
            row = _reservation_row(connection, idempotency_key)
            status = None if row is None else ReservationStatus(row[2])
            if row is None or status not in (ReservationStatus.RESERVED, ReservationStatus.COMMITTED):
                raise state_error("commit", idempotency_key, status)
            connection.execute(
                "UPDATE user_ops_reservations SET status = ?, expires_us = NULL, updated_us = ? "
                "WHERE key = ? AND status = ?",
                (ReservationStatus.COMMITTED.value, now, idempotency_key, _RESERVED),
            )
            return _reservation(
                idempotency_key, _reservation_row(connection, idempotency_key), replayed=False
            )

    def release(self, idempotency_key: str) -> Reservation:
        """Free a reservation's counters; harmless when already released, expired or rejected."""
        check_key(idempotency_key, name="idempotency_key")
        released = ReservationStatus.RELEASED.value
        with self._transaction() as connection:
            now = self._sweep(connection)
            row = _reservation_row(connection, idempotency_key)
            if row is None:  # a tombstone: a reserve arriving late with this key does nothing
                connection.execute(
                    "INSERT INTO user_ops_reservations (key, intent_hash, moves, status, updated_us) "
                    "VALUES (?, '', '[]', ?, ?)",
                    (idempotency_key, released, now),
                )
            elif row[2] == ReservationStatus.COMMITTED.value:
                raise state_error("release", idempotency_key, ReservationStatus.COMMITTED)
            elif row[2] == _RESERVED:
                _give_back(connection, decode_moves(row[1]))
                connection.execute(
                    "UPDATE user_ops_reservations SET status = ?, expires_us = NULL, updated_us = ? "
                    "WHERE key = ?",
                    (released, now, idempotency_key),
                )
            return _reservation(
                idempotency_key, _reservation_row(connection, idempotency_key), replayed=False
            )

    def revert(self, idempotency_key: str, fraction: Fraction | int | str, *, refund_key: str) -> Refund:
        """Give back ``fraction`` of a committed redemption, once per ``refund_key``."""
        check_key(idempotency_key, name="idempotency_key")
        check_key(refund_key, name="refund_key")
        share = as_fraction(fraction)
        with self._transaction() as connection:
            now = self._sweep(connection)
            row = _reservation_row(connection, idempotency_key)
            if row is None or row[2] != ReservationStatus.COMMITTED.value:
                raise state_error(
                    "revert", idempotency_key, None if row is None else ReservationStatus(row[2])
                )
            done = _refund_row(connection, idempotency_key, refund_key)
            if done is not None:
                return replayed_refund(done, share)
            moves, before = decode_moves(row[1]), Fraction(row[4])
            after = next_refunded(idempotency_key, before, share)
            restored = refund_shares(moves, before, after)
            _give_back(connection, restored)
            connection.execute(
                "UPDATE user_ops_reservations SET refunded = ?, updated_us = ? WHERE key = ?",
                (str(after), now, idempotency_key),
            )
            connection.execute(
                "INSERT INTO user_ops_refunds VALUES (?, ?, ?, ?, ?)",
                (idempotency_key, refund_key, str(share), str(after), encode_moves(restored)),
            )
            return Refund(idempotency_key, refund_key, share, after, restored)

    def used(self, key: str) -> int:
        """The current value of counter ``key`` (0 if never moved)."""
        check_key(key, name="key")
        with self._transaction() as connection:
            self._sweep(connection)
            row = connection.execute("SELECT used FROM user_ops_counters WHERE key = ?", (key,)).fetchone()
            return 0 if row is None else int(row[0])

    def status(self, idempotency_key: str) -> ReservationStatus | None:
        """The status of a reservation, ``None`` if the key is unknown."""
        check_key(idempotency_key, name="idempotency_key")
        with self._transaction() as connection:
            self._sweep(connection)
            row = _reservation_row(connection, idempotency_key)
            return None if row is None else ReservationStatus(row[2])

    def prune(self, *, older_than: timedelta) -> int:
        """Forget idempotency keys whose last change is more than ``older_than`` ago; how many.

        As [`MemoryRedemptionStore.prune`][user_ops.coupons.MemoryRedemptionStore.prune]: held
        reservations stay; committed, released, expired and rejected keys go with their refund keys.
        One transaction that scans the reservations (run it from a periodic job, off peak).

        Examples
        --------
        >>> import tempfile, os
        >>> from datetime import timedelta
        >>> with SQLiteRedemptionStore(os.path.join(tempfile.mkdtemp(), "r.db")) as store:
        ...     store.release("abandoned-cart").status.value, store.prune(older_than=timedelta(days=30))
        ('released', 0)
        """
        with self._transaction() as connection:
            cutoff = retention_cutoff_us(self._sweep(connection), older_than)
            old = "SELECT key FROM user_ops_reservations WHERE status != ? AND updated_us < ?"
            connection.execute(
                f"DELETE FROM user_ops_refunds WHERE reservation IN ({old})", (_RESERVED, cutoff)
            )
            pruned = connection.execute(
                "DELETE FROM user_ops_reservations WHERE status != ? AND updated_us < ?", (_RESERVED, cutoff)
            ).rowcount
            return int(pruned)

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> SQLiteRedemptionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------------

    def _before_fork(self) -> None:
        """Wait until no thread is inside a call: the child must not inherit a half-done transaction
        (SQLite keeps the process's locks in memory, which the child would copy and never release)."""
        self._lock.acquire()
        self._connections_lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._connections_lock.release()
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        """Fresh locks and no connections: SQLite forbids using a connection opened before a fork (even
        closing one could write to the parent's WAL index), so each thread of the child opens its own."""
        self._lock = threading.Lock()
        self._connections_lock = threading.Lock()
        _INHERITED_CONNECTIONS.extend(self._connections)
        self._connections = []
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (a forked child opens its own: connections must not cross fork)."""
        cached: tuple[int, sqlite3.Connection] | None = getattr(self._local, "connection", None)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        # Autocommit mode: transactions are begun explicitly with BEGIN IMMEDIATE below.
        connection = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        self._local.connection = (os.getpid(), connection)
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT``; SQLite's own errors become [`RedemptionError`][].

        ``durable=False`` commits without waiting for the disk (``synchronous=NORMAL``: the commit may
        be lost on power failure, never corrupted) for writes that are harmless to lose.
        """
        try:
            connection = self._connection()
            relaxed = not durable and self._synchronous != "NORMAL"
            with self._lock:
                if relaxed:  # may not change inside a transaction
                    connection.execute("PRAGMA synchronous = NORMAL")
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    try:
                        yield connection
                        connection.execute("COMMIT")
                    except BaseException:
                        _roll_back(connection)
                        raise
                finally:
                    if relaxed and not connection.in_transaction:  # (else a failed ROLLBACK is reported)
                        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.Error as exc:  # a full disk, a lock held past busy_timeout, a damaged file, ...
            raise RedemptionError(f"the SQLite redemption store at {str(self.path)!r} failed: {exc}") from exc

    def _sweep(self, connection: sqlite3.Connection) -> int:
        """Expire reservations whose ttl elapsed (expiry instant <= now), freeing their counters."""
        now = now_us(self._clock)
        expired = connection.execute(
            "SELECT key, moves FROM user_ops_reservations WHERE status = 'reserved' AND expires_us <= ?",
            (now,),
        ).fetchall()
        for key, moves in expired:
            _give_back(connection, decode_moves(moves))
            connection.execute(  # the last change is the expiry instant, whenever a call noticed it
                "UPDATE user_ops_reservations SET status = ?, updated_us = expires_us WHERE key = ?",
                (ReservationStatus.EXPIRED.value, key),
            )
        return now


#: Every store of this process, so that a forked child can reset them all (see ``_after_fork_in_child``).
_OPEN_STORES: weakref.WeakSet[SQLiteRedemptionStore] = weakref.WeakSet()
#: Connections a forked child inherited: kept referenced so that they are never used, not even closed.
_INHERITED_CONNECTIONS: list[sqlite3.Connection] = []


#: The stores whose locks ``_before_fork`` took, in order: released after the fork.
_FORKING: list[SQLiteRedemptionStore] = []


def _before_fork() -> None:
    _FORKING[:] = list(_OPEN_STORES)
    for store in _FORKING:
        store._before_fork()


def _after_fork_in_parent() -> None:
    for store in reversed(_FORKING):
        store._after_fork_in_parent()
    _FORKING.clear()


def _after_fork_in_child() -> None:
    for store in _FORKING:
        store._after_fork_in_child()
    _FORKING.clear()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )


def _add_missing_columns(connection: sqlite3.Connection, clock: Clock) -> None:
    """Upgrade a file written by an earlier version (inside the caller's transaction)."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(user_ops_reservations)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in present:
            connection.execute(f"ALTER TABLE user_ops_reservations ADD COLUMN {name} {kind}")
    if "updated_us" not in present:  # the retention of keys stored before counts from the upgrade
        connection.execute("UPDATE user_ops_reservations SET updated_us = ?", (now_us(clock),))


def _move_within_limit(connection: sqlite3.Connection, key: str, amount: int, limit: int) -> Rejection | None:
    connection.execute("INSERT OR IGNORE INTO user_ops_counters (key, used) VALUES (?, 0)", (key,))
    # ``used <= limit - amount``, not ``used + amount <= limit``: the sum could pass 2**63 - 1, which
    # SQLite would turn into an inexact REAL; the difference of two values in [0, 2**63 - 1] cannot.
    moved = connection.execute(
        "UPDATE user_ops_counters SET used = used + ? WHERE key = ? AND used <= ? - ?",
        (amount, key, limit, amount),
    ).rowcount
    if moved:
        return None
    (used,) = connection.execute("SELECT used FROM user_ops_counters WHERE key = ?", (key,)).fetchone()
    return Rejection(key=key, used=int(used), limit=limit, amount=amount)


def _roll_back(connection: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already (it rolls back by itself on SQLITE_FULL and
    a few other errors: a second ROLLBACK would then hide the real cause behind "no transaction")."""
    if connection.in_transaction:
        with suppress(sqlite3.Error):  # the error being handled is the one to report
            connection.execute("ROLLBACK")


def _file_path(path: object) -> Path:
    """The store's file as a ``Path``; a non-path, an unencodable name or ``:memory:`` raise DataError."""
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"path must be a str or os.PathLike naming the database file, got {path!r}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise DataError(f"path must name the file as text, got {text!r}")
    try:
        os.fsencode(text)
    except UnicodeEncodeError as exc:
        raise DataError(f"path {text!r} cannot be encoded as a file name ({exc.reason})") from None
    if text == ":memory:" or text.startswith("file::memory:"):
        raise DataError("SQLiteRedemptionStore needs a file path; use MemoryRedemptionStore in memory")
    return Path(text)


def _give_back(connection: sqlite3.Connection, moves: Moves) -> None:
    connection.executemany(
        "UPDATE user_ops_counters SET used = used - ? WHERE key = ?",
        [(amount, key) for key, amount in moves if amount],
    )


_Row = tuple[str, str, str, int | None, str, str | None]


def _reservation_row(connection: sqlite3.Connection, idempotency_key: str) -> _Row | None:
    row: _Row | None = connection.execute(
        "SELECT intent_hash, moves, status, expires_us, refunded, rejection FROM user_ops_reservations "
        "WHERE key = ?",
        (idempotency_key,),
    ).fetchone()
    return row


def _reservation(idempotency_key: str, row: _Row | None, *, replayed: bool) -> Reservation:
    assert row is not None  # callers read the row inside the transaction that wrote it
    status = ReservationStatus(row[2])
    return Reservation(
        idempotency_key,
        status,
        replayed=replayed,
        expires_at=instant(row[3]) if status is ReservationStatus.RESERVED else None,
        rejection=decode_rejection(row[5]),
        refunded=Fraction(row[4]),
    )


def _refund_row(connection: sqlite3.Connection, idempotency_key: str, refund_key: str) -> Refund | None:
    row = connection.execute(
        "SELECT fraction, refunded, restored FROM user_ops_refunds WHERE reservation = ? AND refund_key = ?",
        (idempotency_key, refund_key),
    ).fetchone()
    if row is None:
        return None
    return Refund(idempotency_key, refund_key, Fraction(row[0]), Fraction(row[1]), decode_moves(row[2]))
