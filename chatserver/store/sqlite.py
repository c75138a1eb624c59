"""The SQLite backend: one file, WAL so readers run while the writer commits, the default.

Several processes on one machine may share the file: `BEGIN IMMEDIATE` serializes their
writers (see `begin`), and seqs are allocated inside that transaction.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import aiosqlite

from .backend import Conn, Row
from .schema import MIGRATIONS

log = logging.getLogger("chatserver.store")
# 0.2 ms between tries for another process's write lock: a commit holds it about 1 ms.
LOCK_POLL_SECONDS = 0.0002


def _connect(path: str, busy_timeout_ms: int, synchronous: str = "full",
             factory: type[sqlite3.Connection] = sqlite3.Connection) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=factory)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: each commit reaches the disk before we ack; group commit keeps that affordable.
    # NORMAL (in WAL mode): safe against a crashed process, not against a crashed machine.
    mode = {"full": "FULL", "normal": "NORMAL"}[synchronous]
    conn.execute(f"PRAGMA synchronous = {mode}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; returns the version reached."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the lock: another process may have migrated meanwhile.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _statements(script: str) -> Iterable[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""


_OUTAGES = ("locked", "busy", "disk I/O error", "unable to open", "disk is full")


class SqliteBackend:
    """A database file (or ":memory:"), written by the store's writer thread."""

    name = "sqlite"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: str, busy_timeout_ms: int = 5000, synchronous: str = "full") -> None:
        self.path, self._busy, self._synchronous = path, busy_timeout_ms, synchronous
        self._reader: aiosqlite.Connection | None = None

    def describe(self) -> str:
        return f"sqlite:{self.path}"


    def outage(self, error: BaseException) -> str | None:
        # Only the messages of a busy or failing disk: "no such table" and the like are bugs.
        if isinstance(error, sqlite3.OperationalError) and any(
                m in str(error) for m in _OUTAGES):
            return str(error)
        return None
    def _open(self, factory: type[sqlite3.Connection] = sqlite3.Connection
              ) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return _connect(self.path, self._busy, self._synchronous, factory)

    def migrate(self) -> int:
        conn = self._open()
        try:
            return migrate(conn)
        finally:
            conn.close()

    def writer_connection(self) -> Conn:
        conn = self._open(WriterConnection)
        migrate(conn)
        conn.execute("PRAGMA busy_timeout = 0")  # from here on `begin` waits, see there
        cast(WriterConnection, conn).watch_subscriptions()
        return cast(Conn, conn)

    def begin(self, conn: Conn) -> tuple[Conn, float]:
        """Take the write lock, polling every 0.2 ms while another process holds it.

        SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ms... between tries, so with two
        processes on one file the lock would sit free for most of each sleep and their group
        commits would serialize with gaps. A commit holds the lock for about a millisecond."""
        started: float | None = None
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                now = time.monotonic()
                started = now if started is None else started
                if now - started >= self._busy / 1000:
                    raise
                time.sleep(LOCK_POLL_SECONDS)
        if isinstance(conn, WriterConnection):
            conn.know_subscriptions()
        return conn, 0.0 if started is None else time.monotonic() - started

    def retryable(self, error: Exception) -> bool:
        return False  # one writer at a time: nothing to deadlock with

    def aborted(self, conn: Conn) -> bool:
        return False  # a failed statement undoes itself alone; the transaction goes on

    async def open_reader(self) -> None:
        self._reader = await aiosqlite.connect(self.path)
        self._reader.row_factory = sqlite3.Row
        await self._reader.execute(f"PRAGMA busy_timeout = {int(self._busy)}")

    async def close_reader(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        assert self._reader is not None, "store is not open"
        return cast(list[Row], list(await self._reader.execute_fetchall(sql, params)))

    async def ping(self) -> bool:
        try:
            await self.fetchall("SELECT 1", ())
        except (sqlite3.Error, ValueError, AssertionError):
            return False
        return True

    def read_only(self) -> Conn:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy)}")
        return cast(Conn, conn)

    def after_erase(self, tables: Sequence[str]) -> bool:
        """Copy the WAL into the database and truncate it, so replaced text leaves the log
        file; False when a reader kept it from finishing (the next automatic checkpoint will).
        Waits up to 5 s for readers on old snapshots."""
        if self.path == ":memory:":
            return True
        try:
            conn = sqlite3.connect(self.path, timeout=5)
            try:
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as error:
            log.warning("WAL checkpoint after erasure failed: %s", error)
            return False
        if busy:
            log.warning("WAL checkpoint after erasure could not finish: a reader held it")
        return not busy


class WriterConnection(sqlite3.Connection):
    """The writer's connection, knowing within each transaction which event types a webhook
    takes, so an append skips the outbox statement for the others (~13 µs a line). Exact,
    not a guess: the transaction holds the write lock from `begin` to commit, so only this
    connection can change the subscriptions meanwhile, and a trigger tells it when it does;
    what other connections committed before shows in `PRAGMA data_version`, read at `begin`."""

    webhook_types: frozenset[str] | None = None  # None: not known, run the statement
    _seen_version = -1

    def watch_subscriptions(self) -> None:
        self.create_function("forget_webhook_types", 0, self._forget, deterministic=False)
        for change in ("INSERT", "UPDATE", "DELETE"):
            self.execute(f"CREATE TEMP TRIGGER webhook_types_{change.lower()} AFTER {change} "
                         "ON main.webhook_subscriptions BEGIN SELECT forget_webhook_types(); END")

    def _forget(self) -> None:
        self.webhook_types = None

    def know_subscriptions(self) -> None:
        """Inside a transaction that holds the write lock: bring `webhook_types` up to date."""
        version = self.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version or self.webhook_types is None:
            self.webhook_types = frozenset(row[0] for row in self.execute(
                "SELECT DISTINCT type FROM webhook_subscriptions"))
            self._seen_version = version


@contextlib.contextmanager
def secure_delete(conn: sqlite3.Connection) -> Iterator[None]:
    """Overwrite freed bytes while a job runs (some SQLite builds default to off), then leave
    the writer's connection as it was for the other jobs of the group."""
    before = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(before)}")
