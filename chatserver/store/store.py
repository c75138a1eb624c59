"""The store: an append-only event log, the projections and accounts beside it, on SQLite
(one machine, the default) or PostgreSQL (several machines), behind one set of methods.

Writes go through one writer thread (store_writer.py) that owns the write connection and
commits jobs in groups, resolving each caller only once its transaction is durable: durable
before acknowledged without one flush per message. Reads go through the backend's readers.

Seq numbers are allocated inside the writer's transaction from the conversation row, so
processes sharing the database still get gapless, unique seqs: on SQLite `BEGIN IMMEDIATE`
serializes writers, on PostgreSQL the row's lock does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from chatserver.core import json_text
from chatserver.core.conversation import Event

from .backend import Backend, Conn, Row, StoreUnavailable
from .search_index import compact_search_index, text_of
from .sqlite import SqliteBackend
from .sqlite import secure_delete as sqlite_secure_delete
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


def _event_from_row(row: Sequence[Any]) -> Event:
    cid, seq, kind, author, payload, client_id, ts_ms = row
    return Event(cid, seq, kind, author, json_text.loads(payload), client_id, ts_ms)


_EVENT_COLUMNS = "conversation_id, seq, type, author, payload, client_id, ts_ms"
# Webhooks: a row per endpoint that takes the event's type, in the event's own transaction,
# so delivery never skips a committed line (migration 15; postgres.py: the same, in one).
_OUTBOX = ("INSERT INTO webhook_outbox (endpoint_id, conversation_id, seq, next_ms) "
           "SELECT endpoint_id, ?, ?, ? FROM webhook_subscriptions WHERE type = ?")
_PENDING = "INSERT INTO search_pending (conversation_id, seq) VALUES (?, ?)"  # search.py
_INSERT = f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_SAME_CLIENT = " ON CONFLICT (conversation_id, client_id) WHERE client_id IS NOT NULL DO NOTHING"


def _append(
    conn: Conn,
    conversation_id: str,
    events: Sequence[NewEvent],
    client_id: str | None,
    expect_seq: int | None,
    now_ms: int,
) -> Appended:
    changes: dict[str, Any] = {}
    for new in events:  # the projection columns depend on the events, not on their seqs
        changes.update(_row_changes(new.type, new.payload, now_ms))
    payloads = [json_text.dumps(new.payload) for new in events]
    in_one_statement = getattr(conn, "append_events", None)  # PostgreSQL: see postgres.py
    if in_one_statement is not None:
        seen, last = in_one_statement(
            conversation_id, [(new.type, new.author, text, bool(text_of(new.type, new.payload)))
                              for new, text in zip(events, payloads, strict=True)],
            client_id, changes, now_ms)
        if seen is not None:
            return _duplicate(conn, conversation_id, client_id)
        if last is None:
            raise KeyError(conversation_id)
        appended = _stored(conversation_id, events, client_id, expect_seq, now_ms, last)
        _project_labels(conn, conversation_id, events, now_ms)
        return appended
    # SQLite: the write lock is ours (BEGIN IMMEDIATE): seqs read, then written, no RETURNING
    found = conn.execute("SELECT last_seq FROM conversations WHERE id = ?",
                         (conversation_id,)).fetchone()
    if found is None:
        raise KeyError(conversation_id)
    last = found[0] + len(events)
    rows = [(conversation_id, last - len(events) + 1 + i, new.type, new.author, text,
             client_id if i == 0 else None, now_ms) for i, (new, text) in enumerate(
                 zip(events, payloads, strict=True))]
    if conn.execute(_INSERT + _SAME_CLIENT, rows[0]).rowcount == 0:  # a retried client id
        return _duplicate(conn, conversation_id, client_id)
    appended = _stored(conversation_id, events, client_id, expect_seq, now_ms, last)
    if len(rows) > 1:
        conn.executemany(_INSERT, rows[1:])
    sets = "".join(f", {column} = ?" for column in changes)
    conn.execute(f"UPDATE conversations SET last_seq = ?, updated_ms = ?{sets} WHERE id = ?",
                 (last, now_ms, *changes.values(), conversation_id))
    types = getattr(conn, "webhook_types", None)  # sqlite.py WriterConnection; None: unknown
    for e in appended.events:
        if types is None or e.type in types:
            conn.execute(_OUTBOX, (conversation_id, e.seq, now_ms, e.type))
        if text_of(e.type, e.payload):  # indexed in bulk
            conn.execute(_PENDING, (conversation_id, e.seq))
    _project_labels(conn, conversation_id, events, now_ms)
    return appended


def _project_labels(conn: Conn, conversation_id: str, events: Sequence[NewEvent],
                    now_ms: int) -> None:
    """`label` events move conversation_labels in the same transaction, as the other events
    move the conversation row: reports filter by it, and it is never ahead of the log."""
    for new in events:
        if new.type != "label":
            continue
        if new.payload["on"]:
            conn.execute(
                "INSERT INTO conversation_labels (conversation_id, label_id, added_ms) "
                "VALUES (?, ?, ?) ON CONFLICT (conversation_id, label_id) DO NOTHING",
                (conversation_id, new.payload["label_id"], now_ms))
        else:
            conn.execute("DELETE FROM conversation_labels WHERE conversation_id = ? AND "
                         "label_id = ?", (conversation_id, new.payload["label_id"]))


def _duplicate(conn: Conn, conversation_id: str, client_id: str | None) -> Appended:
    """The line stored earlier under this client id: a retry stores nothing, gets that."""
    row = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE conversation_id = ? AND client_id = ?",
        (conversation_id, client_id),
    ).fetchone()
    if row is None:  # cannot be: the unique index just said it is there
        raise KeyError(client_id)
    return Appended([_event_from_row(row)], duplicate=True)


def _stored(conversation_id: str, events: Sequence[NewEvent], client_id: str | None,
            expect_seq: int | None, now_ms: int, last_seq: int) -> Appended:
    """The events as stored, given the conversation's new last seq. A stale `expect_seq`
    fails the job, which rolls back what it wrote."""
    first = last_seq - len(events) + 1
    if expect_seq is not None and first - 1 != expect_seq:
        raise StaleState(conversation_id)
    return Appended([
        Event(conversation_id, first + i, new.type, new.author, dict(new.payload),
              client_id if i == 0 else None, now_ms)
        for i, new in enumerate(events)
    ], duplicate=False)


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
        case "rehomed":  # identity.py: the chat followed its visitor to their verified id
            return {"visitor_id": p["visitor_id"]}
        case "survey":
            rating = p.get("rating")
            if isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5:
                return {"rating": rating}
    return {}


class Store:
    """The narrow interface the rest of the server uses; nothing else touches SQL."""

    def __init__(self, location: str, busy_timeout_ms: int = 5000, max_batch: int = 1000,
                 synchronous: str = "full", commit_interval_ms: float = 0.0) -> None:
        """`location`: a SQLite file path (or ":memory:") or a `postgresql://` URL."""
        self.backend: Backend = backend_for(location, busy_timeout_ms, synchronous)
        self.writer = Writer(self.backend, max_batch, commit_interval_ms)

    async def open(self) -> None:
        await asyncio.to_thread(self.writer.start_thread, asyncio.get_running_loop())
        await self.backend.open_reader()

    async def close(self) -> None:
        await self.backend.close_reader()
        await self.writer.stop()

    async def write(self, job: Callable[[Conn], T], lock_key: str = "") -> T:
        """Run `job` in the writer's next group; `lock_key` names the conversation whose row
        it updates, so that every process locks rows in one order (store_writer.py)."""
        with self._outages():
            return await self.writer.run(job, lock_key)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._outages():
            return await self.backend.fetchall(sql, params)

    @contextlib.contextmanager
    def _outages(self) -> Iterator[None]:
        """The database being away or busy, whatever the backend, as StoreUnavailable."""
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as error:
            reason = self.backend.outage(error)
            if reason is None:
                raise
            raise StoreUnavailable(reason) from error

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def ping(self) -> bool:
        return await self.backend.ping()

    async def after_erase(self, tables: Sequence[str]) -> bool:
        """After text was erased from `tables`: push the old copies out of the backend's logs
        and dead row versions (a WAL checkpoint on SQLite, VACUUM on PostgreSQL)."""
        if "search_lines" in tables:
            await self.write(compact_search_index)
        return await asyncio.to_thread(self.backend.after_erase, tables)

    # --- the event log -------------------------------------------------------------------

    async def append(
        self,
        conversation_id: str,
        events: Sequence[NewEvent],
        *,
        now_ms: int,
        client_id: str | None = None,
        expect_seq: int | None = None,
        also: Callable[[Conn], object] | None = None,
    ) -> Appended:
        """Append events with the next seqs; a repeated client id stores nothing. `also`
        writes what the events stand on (an attachment's bytes) in the same transaction,
        only when they are new: the line and its file are kept together or not at all."""
        def job(conn: Conn) -> Appended:
            appended = _append(conn, conversation_id, events, client_id, expect_seq, now_ms)
            if also is not None and not appended.duplicate:
                also(conn)
            return appended

        return await self.write(job, conversation_id)

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

    async def visitor_event_by_client_id(self, visitor_id: str, client_id: str) -> Event | None:
        """The event a visitor's client id made in any of their conversations: a retried
        upload is answered from it even after its chat ended (one index probe per chat)."""
        row = await self.fetchone(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE client_id = ? AND conversation_id IN "
            "(SELECT id FROM conversations WHERE visitor_id = ?) LIMIT 1",
            (client_id, visitor_id),
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

        def job(conn: Conn) -> Event:
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

        return await self.write(job, conversation_id)

    async def conversation_row(self, conversation_id: str) -> Row | None:
        return await self.fetchone("SELECT * FROM conversations WHERE id = ?", (conversation_id,))

    async def mark_agent_read(self, conversation_id: str, seq: int) -> bool:
        """The agent side read the chat up to `seq` (a read receipt): kept when it moves the
        mark forward and names a seq the chat has; True when it did (migration 18)."""

        def job(conn: Conn) -> bool:
            cursor = conn.execute(
                "UPDATE conversations SET agent_read_seq = ? "
                "WHERE id = ? AND agent_read_seq < ? AND last_seq >= ?",
                (seq, conversation_id, seq, seq),
            )
            return cursor.rowcount == 1

        return await self.write(job, conversation_id)

    async def open_conversation_of(self, visitor_id: str) -> Row | None:
        return await self.fetchone(
            "SELECT * FROM conversations WHERE visitor_id = ? AND state != 'closed' "
            "ORDER BY created_ms DESC LIMIT 1",
            (visitor_id,),
        )

    async def open_conversations(self) -> list[Row]:
        return await self.fetchall(
            "SELECT * FROM conversations WHERE state != 'closed' ORDER BY created_ms"
        )

    async def upsert_visitor(
        self, visitor_id: str, fields: Mapping[str, str], now_ms: int
    ) -> None:
        """Create the visitor or update the profile fields the visitor just gave. A verified
        visitor's name and email are the site's (identity.py): typed ones do not replace them."""
        allowed = {k: v for k, v in fields.items() if k in ("name", "email", "language")}

        def job(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO visitors (id, name, email, language, created_ms, last_seen_ms) "
                "VALUES (?, '', '', '', ?, ?) ON CONFLICT(id) DO UPDATE SET last_seen_ms = ?",
                (visitor_id, now_ms, now_ms, now_ms),
            )
            for column, value in allowed.items():  # column names come from the fixed set above
                conn.execute(
                    f"UPDATE visitors SET {column} = ? WHERE id = ? AND (verified = 0 "
                    "OR ? = 'language')",
                    (value, visitor_id, column),
                )

        await self.write(job)

    async def visitor(self, visitor_id: str) -> Row | None:
        return await self.fetchone("SELECT * FROM visitors WHERE id = ?", (visitor_id,))

    async def add_offline_message(
        self, visitor_id: str, client_id: str, fields: Mapping[str, str], now_ms: int,
        also: Callable[[Conn], Any] | None = None,
    ) -> bool:
        """Store a message left while nobody could answer; False when the id was seen before.
        `also` runs in the same transaction when it was stored (the team's e-mail, queued)."""

        def job(conn: Conn) -> bool:
            cursor = conn.execute(
                "INSERT INTO offline_messages (visitor_id, client_id, email, text, language, "
                "page_url, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(visitor_id, client_id) DO NOTHING",
                (
                    visitor_id, client_id, fields["email"], fields["text"],
                    fields.get("language", ""), fields.get("page_url", ""), now_ms,
                ),
            )
            if cursor.rowcount == 1 and also is not None:
                also(conn)
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
        def job(conn: Conn) -> int:
            cursor = conn.execute(
                "INSERT INTO users (username, display_name, role, password_hash, skills, "
                "capacity, created_ms, must_change_password) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (username, display_name, role, password_hash, json.dumps(dict(skills)),
                 capacity, now_ms, int(must_change_password)),
            )
            return int(cursor.fetchone()[0])

        return await self.write(job)

    async def user_by_name(self, username: str) -> Row | None:
        return await self.fetchone("SELECT * FROM users WHERE lower(username) = lower(?)",
                                    (username,))

    async def user(self, user_id: int) -> Row | None:
        return await self.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))

    async def set_preferences(self, user_id: int, language: str | None,
                              preferences: str) -> None:
        """A user's own settings (/account): language None keeps the one stored."""
        await self.write(lambda conn: conn.execute(
            "UPDATE users SET language = COALESCE(?, language), preferences = ? WHERE id = ?",
            (language, preferences, user_id)))

    async def users(self) -> list[Row]:
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

    async def session(self, session_id: str, now_ms: int) -> Row | None:
        return await self.fetchone(
            "SELECT sessions.id AS session_id, sessions.csrf, users.* FROM sessions "
            "JOIN users ON users.id = sessions.user_id "
            "WHERE sessions.id = ? AND sessions.expires_ms > ? AND users.disabled = 0",
            (session_id, now_ms),
        )

    async def delete_session(self, session_id: str) -> None:
        await self.write(lambda conn: conn.execute("DELETE FROM sessions WHERE id = ?",
                                                   (session_id,)))

    async def add_first_admin(self, username: str, display_name: str, password_hash: str,
                              now_ms: int) -> bool:
        """Add an admin who must replace the password at first login, unless the desk has an
        admin; True if added. One statement, so that of two machines starting together on a
        new database one adds it: the other's insert waits for that row and gives way."""
        def job(conn: Conn) -> bool:
            return conn.execute(
                "INSERT INTO users (username, display_name, role, password_hash, capacity, "
                "created_ms, must_change_password) SELECT ?, ?, 'admin', ?, 1, ?, 1 "
                "WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin') "
                "ON CONFLICT DO NOTHING RETURNING id",
                (username, display_name, password_hash, now_ms)).fetchone() is not None

        return await self.write(job)


def backend_for(location: str, busy_timeout_ms: int = 5000, synchronous: str = "full") -> Backend:
    """The backend a location names: a `postgresql://` URL or a SQLite path."""
    if location.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresBackend  # only a PostgreSQL desk needs psycopg

        return PostgresBackend(location, busy_timeout_ms=busy_timeout_ms)
    return SqliteBackend(location, busy_timeout_ms, synchronous)


def migrate_file(location: str, busy_timeout_ms: int = 5000) -> int:
    """Create or upgrade the schema at `location` (a SQLite path or a PostgreSQL URL)."""
    return backend_for(location, busy_timeout_ms).migrate()


def secure_delete(conn: Conn) -> contextlib.AbstractContextManager[None]:
    """Around a job that erases text: on SQLite, freed bytes are overwritten; PostgreSQL
    keeps old row versions until VACUUM, which `Store.after_erase` runs."""
    if isinstance(conn, sqlite3.Connection):
        return sqlite_secure_delete(conn)
    return contextlib.nullcontext()
