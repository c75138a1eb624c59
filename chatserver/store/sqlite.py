"""SQLite store: versioned schema, an append-only event log, and a group-committing writer.

Writes go through one writer thread (store_writer.py) that owns the write connection and
commits jobs in groups, resolving each caller only once its transaction is on disk: durable
before acknowledged without one fsync per message. Reads use aiosqlite on a second
connection; WAL lets them run while the writer commits.

Seq numbers are allocated inside the writer's transaction from the conversation row, so two
processes sharing the file still get gapless, unique seqs (BEGIN IMMEDIATE serializes them).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from chatserver.core.conversation import Event

from .schema import MIGRATIONS
from .store_writer import Writer

T = TypeVar("T")


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


def _writable(path: str, busy_timeout_ms: int, synchronous: str) -> sqlite3.Connection:
    """The writer's connection: the file opened and its schema brought up to date."""
    conn = _connect(path, busy_timeout_ms, synchronous)
    migrate(conn)
    return conn


def _statements(script: str) -> Iterable[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""


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
        self.writer = Writer(lambda: _writable(path, busy_timeout_ms, synchronous),
                             busy_timeout_ms, max_batch, commit_interval_ms)
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
