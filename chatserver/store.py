"""SQLite store: versioned schema, an append-only event log, and a group-committing writer.

Writes go through one writer thread that owns the write connection: it takes every job that
arrived while the last commit ran, runs them in one transaction (each inside a savepoint, so
one bad job cannot spoil the others), commits, and only then resolves the callers' futures.
That is "durable before acknowledged" without one fsync per message. Reads use aiosqlite on
a second connection; WAL lets them run while the writer commits.

Seq numbers are allocated inside the writer's transaction from the conversation row, so two
processes sharing the file still get gapless, unique seqs (BEGIN IMMEDIATE serializes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from .conversation import Event
from .schema import MIGRATIONS

T = TypeVar("T")
LOCK_POLL_SECONDS = 0.0002
Job = Callable[[sqlite3.Connection], Any]


@dataclass(frozen=True)
class NewEvent:
    """An event to append; the store gives it its seq and server time."""

    type: str
    author: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Appended:
    events: list[Event]
    duplicate: bool  # True when the client id was seen before: nothing new was stored


class StaleState(Exception):
    """The conversation moved on (another process wrote to it) since the caller last looked."""


def _connect(path: str, busy_timeout_ms: int, synchronous: str = "full") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
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


class Writer:
    """The single writer: a thread with its own connection, committing jobs in groups."""

    def __init__(self, path: str, busy_timeout_ms: int, max_batch: int,
                 synchronous: str = "full", commit_interval_ms: float = 0.0) -> None:
        self._path, self._busy, self._max_batch = path, busy_timeout_ms, max_batch
        self._synchronous = synchronous
        self._interval = commit_interval_ms / 1000
        self._jobs: queue.SimpleQueue[tuple[Job, asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0  # transactions committed, for /metrics and the benchmark
        self.lock_wait_seconds = 0.0  # time spent waiting for another process's write lock

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        conn = _connect(self._path, self._busy, self._synchronous)
        migrate(conn)
        conn.execute("PRAGMA busy_timeout = 0")  # from here on `_begin` waits, see there
        self._thread = threading.Thread(target=self._run, args=(conn,), name="store-writer")
        self._thread.daemon = True
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` in the next committed group; returns once its transaction is on disk."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("store writer is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((job, future))
        return await future

    def _run(self, conn: sqlite3.Connection) -> None:
        last_commit, last_size = 0.0, 0
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                # Under load (the last group had company) gather for the rest of the interval:
                # one fsync and one write of each touched page for many events. A lone caller
                # writing one thing after another is never made to wait.
                pause = last_commit + self._interval - time.monotonic()
                if last_size > 1 and pause > 0:
                    time.sleep(pause)
                # The lock first: what arrives while another process holds it joins this group.
                try:
                    self._begin(conn)
                    failed: Exception | None = None
                except sqlite3.Error as error:
                    failed = error
                batch = self._gather(first)
                last_commit, last_size = time.monotonic(), len(batch)
                self._commit(conn, batch, failed)
        finally:
            conn.close()

    def _gather(self, first: tuple[Job, asyncio.Future[Any]]
                ) -> list[tuple[Job, asyncio.Future[Any]]]:
        """`first` and every job waiting behind it, up to the batch limit."""
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._jobs.put(None)  # finish this batch, then stop
                break
            batch.append(item)
        return batch

    def _commit(
        self, conn: sqlite3.Connection, batch: list[tuple[Job, asyncio.Future[Any]]],
        failed: Exception | None,
    ) -> None:
        """Run the batch inside the transaction `_begin` opened (or report why it could not
        open one), commit, and hand each caller its outcome."""
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        # Savepoints keep one failing job from spoiling the others; a job alone needs none
        # (its failure rolls back the transaction), which saves two statements per commit.
        isolate = len(batch) > 1
        try:
            if failed is not None:
                raise failed
            for job, future in batch:
                if isolate:
                    conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((future, True, job(conn)))
                    if isolate:
                        conn.execute("RELEASE job")
                except Exception as error:  # the job's own failure, reported to its caller
                    conn.execute("ROLLBACK TO job" if isolate else "ROLLBACK")
                    if isolate:
                        conn.execute("RELEASE job")
                    outcomes.append((future, False, error))
            if conn.in_transaction:
                conn.execute("COMMIT")
                self.commits += 1
        except Exception as error:  # the transaction as a whole failed: nobody is acked
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            outcomes = [(future, False, error) for _, future in batch]
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, outcomes)

    def _begin(self, conn: sqlite3.Connection) -> None:
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
        if started is not None:
            self.lock_wait_seconds += time.monotonic() - started


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _event_from_row(row: Sequence[Any]) -> Event:
    cid, seq, kind, author, payload, client_id, ts_ms = row
    return Event(cid, seq, kind, author, json.loads(payload), client_id, ts_ms)


_EVENT_COLUMNS = "conversation_id, seq, type, author, payload, client_id, ts_ms"


def _append(
    conn: sqlite3.Connection,
    conversation_id: str,
    events: Sequence[NewEvent],
    client_id: str | None,
    expect_seq: int | None,
    now_ms: int,
) -> Appended:
    if client_id is not None:
        row = conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE conversation_id = ? AND client_id = ?",
            (conversation_id, client_id),
        ).fetchone()
        if row is not None:
            return Appended([_event_from_row(row)], duplicate=True)
    changes: dict[str, Any] = {}
    for new in events:  # the projection columns depend on the events, not on their seqs
        changes.update(_row_changes(new.type, new.payload, now_ms))
    sets = "".join(f", {column} = ?" for column in changes)
    # One statement allocates the seqs and moves the projection: the row lock is ours until
    # commit, and a failure below rolls both back with the job's savepoint.
    found = conn.execute(
        f"UPDATE conversations SET last_seq = last_seq + ?, updated_ms = ?{sets} "
        "WHERE id = ? RETURNING last_seq",
        (len(events), now_ms, *changes.values(), conversation_id),
    ).fetchone()
    if found is None:
        raise KeyError(conversation_id)
    first = found[0] - len(events) + 1
    if expect_seq is not None and first - 1 != expect_seq:
        raise StaleState(conversation_id)
    stored = [
        Event(conversation_id, first + i, new.type, new.author, dict(new.payload),
              client_id if i == 0 else None, now_ms)
        for i, new in enumerate(events)
    ]
    conn.executemany(
        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(conversation_id, e.seq, e.type, e.author,
          json.dumps(e.payload, ensure_ascii=False), e.client_id, now_ms) for e in stored],
    )
    return Appended(stored, duplicate=False)


def _row_changes(kind: str, p: Mapping[str, Any], ts_ms: int) -> dict[str, Any]:
    """The conversation row is a projection of the log: the columns each event moves."""
    match kind:
        case "queued":
            return {"state": "queued", "agent_id": None}
        case "offered":
            return {"state": "offered", "agent_id": p["agent_id"]}
        case "assigned":
            return {"state": "assigned", "agent_id": p["agent_id"]}
        case "closed":
            resolved = p.get("resolved")
            return {
                "state": "closed",
                "closed_ms": ts_ms,
                "resolved": None if resolved is None else int(resolved),
            }
    return {}


class Store:
    """The narrow interface the rest of the server uses; nothing else touches SQL."""

    def __init__(self, path: str, busy_timeout_ms: int = 5000, max_batch: int = 1000,
                 synchronous: str = "full", commit_interval_ms: float = 0.0) -> None:
        self.path = path
        self._busy = busy_timeout_ms
        self.writer = Writer(path, busy_timeout_ms, max_batch, synchronous, commit_interval_ms)
        self._reader: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.writer.start()
        self._reader = await aiosqlite.connect(self.path)
        await self._reader.execute(f"PRAGMA busy_timeout = {int(self._busy)}")

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        await self.writer.stop()

    async def write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await self.writer.run(job)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        assert self._reader is not None, "store is not open"
        self._reader.row_factory = sqlite3.Row
        async with self._reader.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def ping(self) -> bool:
        try:
            await self.fetchone("SELECT 1")
        except (sqlite3.Error, ValueError, AssertionError):
            return False
        return True

    # --- the event log -------------------------------------------------------------------

    async def append(
        self,
        conversation_id: str,
        events: Sequence[NewEvent],
        *,
        now_ms: int,
        client_id: str | None = None,
        expect_seq: int | None = None,
    ) -> Appended:
        """Append events with the next seqs; a repeated client id stores nothing."""
        return await self.write(
            lambda conn: _append(conn, conversation_id, events, client_id, expect_seq, now_ms)
        )

    async def events_after(
        self, conversation_id: str, after_seq: int, limit: int = 10_000
    ) -> list[Event]:
        rows = await self.fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE conversation_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        )
        return [_event_from_row(tuple(r)) for r in rows]

    async def event_by_client_id(self, conversation_id: str, client_id: str) -> Event | None:
        row = await self.fetchone(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE conversation_id = ? AND client_id = ?",
            (conversation_id, client_id),
        )
        return None if row is None else _event_from_row(tuple(row))

    # --- conversations and visitors ------------------------------------------------------

    async def create_conversation(
        self,
        conversation_id: str,
        visitor_id: str,
        started: Mapping[str, Any],
        now_ms: int,
    ) -> Event:
        """Create the conversation row and its first event (`started`, seq 1) together."""

        def job(conn: sqlite3.Connection) -> Event:
            conn.execute(
                "INSERT INTO conversations (id, visitor_id, state, last_seq, language, topic, "
                "page_url, created_ms, updated_ms) VALUES (?, ?, 'bot', 0, ?, ?, ?, ?, ?)",
                (
                    conversation_id, visitor_id, started.get("language", ""),
                    started.get("topic", ""), started.get("page_url", ""), now_ms, now_ms,
                ),
            )
            appended = _append(
                conn, conversation_id, [NewEvent("started", "system", started)], None, 0, now_ms
            )
            return appended.events[0]

        return await self.write(job)

    async def conversation_row(self, conversation_id: str) -> sqlite3.Row | None:
        return await self.fetchone("SELECT * FROM conversations WHERE id = ?", (conversation_id,))

    async def open_conversation_of(self, visitor_id: str) -> sqlite3.Row | None:
        return await self.fetchone(
            "SELECT * FROM conversations WHERE visitor_id = ? AND state != 'closed' "
            "ORDER BY created_ms DESC LIMIT 1",
            (visitor_id,),
        )

    async def open_conversations(self) -> list[sqlite3.Row]:
        return await self.fetchall(
            "SELECT * FROM conversations WHERE state != 'closed' ORDER BY created_ms"
        )

    async def upsert_visitor(
        self, visitor_id: str, fields: Mapping[str, str], now_ms: int
    ) -> None:
        """Create the visitor or update the profile fields the visitor just gave."""
        allowed = {k: v for k, v in fields.items() if k in ("name", "email", "language")}

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO visitors (id, name, email, language, created_ms, last_seen_ms) "
                "VALUES (?, '', '', '', ?, ?) ON CONFLICT(id) DO UPDATE SET last_seen_ms = ?",
                (visitor_id, now_ms, now_ms, now_ms),
            )
            for column, value in allowed.items():  # column names come from the fixed set above
                conn.execute(
                    f"UPDATE visitors SET {column} = ? WHERE id = ?",
                    (value, visitor_id),
                )

        await self.write(job)

    async def visitor(self, visitor_id: str) -> sqlite3.Row | None:
        return await self.fetchone("SELECT * FROM visitors WHERE id = ?", (visitor_id,))

    async def add_offline_message(
        self, visitor_id: str, client_id: str, fields: Mapping[str, str], now_ms: int
    ) -> bool:
        """Store a message left while nobody could answer; False when the id was seen before."""

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO offline_messages (visitor_id, client_id, email, text, language, "
                "page_url, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(visitor_id, client_id) DO NOTHING",
                (
                    visitor_id, client_id, fields["email"], fields["text"],
                    fields.get("language", ""), fields.get("page_url", ""), now_ms,
                ),
            )
            return cursor.rowcount == 1

        return await self.write(job)

    # --- users and sessions --------------------------------------------------------------

    async def add_user(
        self,
        username: str,
        *,
        role: str,
        password_hash: str,
        display_name: str,
        skills: Mapping[str, int],
        capacity: int,
        now_ms: int,
        must_change_password: bool = False,
    ) -> int:
        def job(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO users (username, display_name, role, password_hash, skills, "
                "capacity, created_ms, must_change_password) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (username, display_name, role, password_hash, json.dumps(dict(skills)),
                 capacity, now_ms, int(must_change_password)),
            )
            return int(cursor.lastrowid or 0)

        return await self.write(job)

    async def user_by_name(self, username: str) -> sqlite3.Row | None:
        return await self.fetchone("SELECT * FROM users WHERE username = ?", (username,))

    async def user(self, user_id: int) -> sqlite3.Row | None:
        return await self.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))

    async def users(self) -> list[sqlite3.Row]:
        return await self.fetchall("SELECT * FROM users ORDER BY id")

    async def has_admin(self) -> bool:
        return await self.fetchone("SELECT 1 FROM users WHERE role = 'admin'") is not None

    async def add_session(
        self, session_id: str, user_id: int, csrf: str, now_ms: int, expires_ms: int
    ) -> None:
        await self.write(
            lambda conn: conn.execute(
                "INSERT INTO sessions (id, user_id, csrf, created_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, user_id, csrf, now_ms, expires_ms),
            )
        )

    async def session(self, session_id: str, now_ms: int) -> sqlite3.Row | None:
        return await self.fetchone(
            "SELECT sessions.id AS session_id, sessions.csrf, users.* FROM sessions "
            "JOIN users ON users.id = sessions.user_id "
            "WHERE sessions.id = ? AND sessions.expires_ms > ? AND users.disabled = 0",
            (session_id, now_ms),
        )

    async def delete_session(self, session_id: str) -> None:
        await self.write(lambda conn: conn.execute("DELETE FROM sessions WHERE id = ?",
                                                   (session_id,)))


def migrate_file(path: str, busy_timeout_ms: int = 5000) -> int:
    """Create or upgrade the schema of the database at `path` (used by the CLI)."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path, busy_timeout_ms)
    try:
        return migrate(conn)
    finally:
        conn.close()
