"""The PostgreSQL backend: the store for several machines sharing one database.

The writer thread keeps one synchronous psycopg connection and runs the same jobs as on SQLite
(the SQL translated by `dialect.py`); readers share a small async pool. Seqs stay gapless and
unique across machines because each append moves its conversation's row (`UPDATE ... RETURNING
last_seq`), which holds that row's lock until commit. When the database goes away, statements
fail (nothing is acknowledged); the next transaction reconnects, so the chat processes recover
without a restart.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast
from urllib.parse import unquote

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors

from .backend import Conn, Row, StoreError
from .dialect import to_postgres
from .schema_postgres import MIGRATIONS

log = logging.getLogger("chatserver.store")
# Any constant: the advisory lock that lets one process at a time migrate the schema.
MIGRATION_LOCK = 7_273_100
CONNECT_TIMEOUT_SECONDS = 5
PING_TIMEOUT_SECONDS = 1.0
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 15, "keepalives_interval": 5,
              "keepalives_count": 3}
# The database away, not a bug: OperationalError is a connection that failed or was lost (its
# server-sent kinds too: AdminShutdown 57P01 from pg_terminate_backend or a fast shutdown,
# CrashShutdown 57P02, CannotConnectNow 57P03, class 08), a lock or statement timeout, disk or
# memory short (class 53), the reader pool's timeout; StoreError, a connection not made. An
# InterfaceError naming the connection is psycopg finding one unusable mid-call ("cannot
# execute operations: the connection is in status ..."); its others are bugs (a value with no
# dumper), as are InternalError's (a statement after a failed one, XX000).
OUTAGES: tuple[type[Exception], ...] = (psycopg.OperationalError, StoreError)
ERASE_WAIT_SECONDS = 5.0
# Rebuilt after an erasure: B-tree pivots keep erased names live. 0.7 s and 0.1 s at 100,000
# visitors (500,000 terms), measured on 2 shared cores; neither blocks reads or writes.
REINDEXED = ("TABLE CONCURRENTLY visitor_terms", "INDEX CONCURRENTLY visitors_verified")


_USERINFO_PASSWORD = re.compile(r"^(\w+://[^:@/?]*:)([^@/?]*)@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def _passwords(url: str) -> set[str]:
    found = set()
    for pattern in (_USERINFO_PASSWORD, _QUERY_PASSWORD):
        for match in pattern.finditer(url):
            if match.group(2):
                found |= {match.group(2), unquote(match.group(2))}
    return found


def redact(url: str) -> str:
    """The URL with its password masked, for logs; never raises, whatever libpq accepts
    (several hosts, a `password=` parameter, a malformed URL)."""
    url = _USERINFO_PASSWORD.sub(r"\1***@", url)
    return _QUERY_PASSWORD.sub(r"\1***", url)


def scrub(message: str, url: str) -> str:
    """A message with the URL's password masked, for errors that may repeat it (libpq quotes
    the part of a URL it cannot parse)."""
    for secret in sorted(_passwords(url), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


class PgRow:
    """A row read by position or by column name, as `sqlite3.Row` is."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index, self._values = index, values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, PgRow | tuple) else NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=True))!r})"


def _rows(cursor: Any) -> Any:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: PgRow(index, values)


_APPEND = """
WITH dup AS (
    SELECT seq FROM events WHERE conversation_id = %(cid)s AND client_id = %(client_id)s
), moved AS (
    UPDATE conversations SET last_seq = last_seq + %(count)s, updated_ms = %(now)s{sets}
    WHERE id = %(cid)s AND NOT EXISTS (SELECT 1 FROM dup) RETURNING last_seq
), inserted AS (
    INSERT INTO events (conversation_id, seq, type, author, payload, client_id, ts_ms)
    SELECT %(cid)s, moved.last_seq - %(count)s + e.ord, e.type, e.author, e.payload,
           CASE WHEN e.ord = 1 THEN %(client_id)s END, %(now)s
    FROM moved, unnest(%(types)s::text[], %(authors)s::text[], %(payloads)s::text[])
         WITH ORDINALITY AS e(type, author, payload, ord)
), pending AS (
    INSERT INTO search_pending (conversation_id, seq)
    SELECT %(cid)s, moved.last_seq - %(count)s + e.ord
    FROM moved, unnest(%(searchable)s::bool[]) WITH ORDINALITY AS e(searchable, ord)
    WHERE e.searchable
), hooked AS (
    INSERT INTO webhook_outbox (endpoint_id, conversation_id, seq, next_ms)
    SELECT s.endpoint_id, %(cid)s, moved.last_seq - %(count)s + e.ord, %(now)s
    FROM moved CROSS JOIN unnest(%(types)s::text[]) WITH ORDINALITY AS e(type, ord)
         JOIN webhook_subscriptions s ON s.type = e.type
)
SELECT (SELECT seq FROM dup), (SELECT last_seq FROM moved)
"""


class PgConnection:
    """A psycopg connection speaking the store's SQL (`?` placeholders, see `dialect.py`)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return self.raw.closed or self.raw.broken

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(to_postgres(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(to_postgres(sql), rows)
        return cursor

    def close(self) -> None:
        self.raw.close()

    def append_events(self, conversation_id: str, rows: Sequence[tuple[str, str, str, bool]],
                      client_id: str | None, changes: dict[str, Any], now_ms: int
                      ) -> tuple[int | None, int | None]:
        """The store's append in one statement, one round trip instead of three: look up the
        client id, move the conversation's row (allocating the seqs under its lock) and insert
        the (type, author, payload, searchable) rows, the searchable ones' keys for the search
        indexer (search.py) and their webhook outbox rows (store.py `_OUTBOX`), unless the
        client id was seen.
        Returns (the seen line's seq, None) for a repeat, (None, the new last seq), or
        (None, None) when there is no such conversation."""
        sets = "".join(f", {column} = %(set_{column})s" for column in changes)
        params = {"cid": conversation_id, "client_id": client_id, "count": len(rows),
                  "now": now_ms, "types": [r[0] for r in rows],
                  "authors": [r[1] for r in rows], "payloads": [r[2] for r in rows],
                  "searchable": [r[3] for r in rows],
                  **{f"set_{column}": value for column, value in changes.items()}}
        row = self.raw.execute(_APPEND.format(sets=sets), params).fetchone()
        return (None, None) if row is None else (row[0], row[1])


def connect(url: str, *, read_only: bool = False, lock_timeout_ms: int = 0) -> PgConnection:
    """A connection in autocommit mode: the store issues BEGIN and COMMIT itself.

    `lock_timeout_ms`: how long a statement waits for a row another machine holds (the
    writer's, as SQLite's busy timeout): a machine that froze mid-transaction must not stall
    every other machine's writer. TCP keepalives notice a peer that vanished within a minute
    instead of the kernel's two hours."""
    options = ["-c default_transaction_read_only=on"] if read_only else []
    if lock_timeout_ms:
        options.append(f"-c lock_timeout={int(lock_timeout_ms)}")
    try:
        raw = psycopg.connect(url, autocommit=True, row_factory=_rows,
                              connect_timeout=CONNECT_TIMEOUT_SECONDS,
                              options=" ".join(options) or None, **KEEPALIVES)
    except (psycopg.Error, ValueError) as error:
        raise StoreError(f"cannot connect to {redact(url)}: "
                         f"{scrub(str(error).strip(), url)}") from None
    return PgConnection(raw)


def migrate(conn: PgConnection) -> int:
    """Bring the schema to the newest version under an advisory lock (several processes may
    start at once); returns the version reached."""
    raw = conn.raw
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        row = raw.execute("SELECT max(version) FROM schema_version").fetchone()
        version = int(row[0] or 0) if row else 0
        for number, script in enumerate(MIGRATIONS, start=1):
            if number > version:
                raw.execute(script)  # several statements, no parameters
                raw.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
                version = number
    return version


class PostgresBackend:
    """A PostgreSQL database named by a `postgresql://` URL."""

    name = "postgres"
    errors: tuple[type[Exception], ...] = (psycopg.Error, StoreError)

    def __init__(self, url: str, pool_size: int = 4, busy_timeout_ms: int = 5000) -> None:
        self.url, self._pool_size, self._busy = url, pool_size, busy_timeout_ms
        self._pool: psycopg_pool.AsyncConnectionPool[Any] | None = None

    def describe(self) -> str:
        return redact(self.url)

    def migrate(self) -> int:
        conn = connect(self.url)
        try:
            return migrate(conn)
        except psycopg.Error as error:
            raise StoreError(f"migrating {redact(self.url)} failed: "
                             f"{scrub(str(error).strip(), self.url)}") from None
        finally:
            conn.close()

    def writer_connection(self) -> Conn:
        conn = connect(self.url, lock_timeout_ms=self._busy)
        migrate(conn)
        return conn

    def begin(self, conn: Conn) -> tuple[Conn, float]:
        """Open a transaction, on a new connection when the last one broke. A connection the
        server ended while it sat idle (a restart, pg_terminate_backend) looks whole until
        used: its BEGIN fails, having done nothing, and is tried once on a new one."""
        pg = cast(PgConnection, conn)
        for attempt in (1, 2):
            if pg.broken:  # the database restarted or the network dropped: start afresh
                with contextlib.suppress(psycopg.Error):
                    pg.close()
                pg = connect(self.url, lock_timeout_ms=self._busy)
                log.info("store: reconnected to %s", self.describe())
            try:
                pg.execute("BEGIN")
            except psycopg.Error:
                if attempt == 2 or not pg.broken:
                    raise
                continue
            break
        return pg, 0.0

    def retryable(self, error: Exception) -> bool:
        return isinstance(error, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)

    def outage(self, error: BaseException) -> str | None:
        if isinstance(error, OUTAGES) or (isinstance(error, psycopg.InterfaceError)
                                          and "connection" in str(error)):
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return scrub(first or type(error).__name__, self.url)
        return None

    def aborted(self, conn: Conn) -> bool:
        """A statement failed inside the transaction: PostgreSQL will commit none of it, even
        if the job caught the error and carried on."""
        status = cast(PgConnection, conn).raw.info.transaction_status
        return status == psycopg.pq.TransactionStatus.INERROR

    async def open_reader(self) -> None:
        self._pool = psycopg_pool.AsyncConnectionPool(
            # timeout: a read waits busy_timeout_ms for a pooled connection (5 s by default)
            # before the database counts as away
            self.url, min_size=1, max_size=self._pool_size, open=False,
            timeout=self._busy / 1000,
            # prepare_threshold None: every read is planned for its own parameters. A
            # prepared statement's generic plan, chosen after 5 runs, suits one search and
            # not the next of the same shape (a common word walks the newest chats, a rare
            # one starts from its few lines: 5 ms planned for it, 280 ms on the generic plan).
            kwargs={"autocommit": True, "row_factory": _rows, "prepare_threshold": None,
                    "connect_timeout": CONNECT_TIMEOUT_SECONDS, **KEEPALIVES})
        await self._pool.open(wait=False)

    async def close_reader(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        assert self._pool is not None, "store is not open"
        query = to_postgres(sql)
        # A connection the database dropped (a restart, pg_terminate_backend) fails its next
        # statement and the pool discards it; every pooled one may have been dropped at once,
        # so try up to one more than the pool holds before reporting the failure.
        for attempt in range(self._pool_size + 1):
            dropped = False
            try:
                async with self._pool.connection() as conn:
                    try:
                        cursor = await conn.execute(query, params)
                        return cast(list[Row], await cursor.fetchall())
                    except psycopg.Error:
                        dropped = conn.broken
                        raise
            except psycopg.Error:
                if not dropped or attempt == self._pool_size:
                    raise
        raise AssertionError("unreachable")

    async def ping(self) -> bool:
        """One quick round trip: /readyz must answer within a second while the database is
        away, not wait out the pool's timeout."""
        assert self._pool is not None, "store is not open"
        try:
            async with self._pool.connection(timeout=PING_TIMEOUT_SECONDS) as conn:
                await conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def read_only(self) -> Conn:
        return connect(self.url, read_only=True)

    def after_erase(self, tables: Sequence[str]) -> bool:
        """VACUUM the tables an erase rewrote: the replaced rows' old versions (which still
        hold the original text) are removed from the table files. A transaction that began
        before the erase (a long report) keeps them visible, and VACUUM then cannot remove
        them: wait up to 5 s for such transactions to end, as SQLite's checkpoint waits for
        its readers; False when one outlasted the wait (autovacuum removes them later). The
        write-ahead log and backups keep old versions until recycled (docs/privacy.md).
        The small indexes on erased names are then rebuilt (REINDEXED), once no older
        transaction is left to wait for."""
        try:
            conn = connect(self.url)
            try:
                settled = self._older_transactions_end(conn)
                for table in tables:  # names come from the store's own fixed list
                    conn.raw.execute(f"VACUUM {table}")
                if settled and "visitor_terms" in tables:
                    self._reindex(conn)
            finally:
                conn.close()
        except psycopg.Error as error:
            log.warning("VACUUM after erasure failed: %s", error)
            return False
        if not settled:
            log.warning("VACUUM after erasure: a transaction older than the erasure was still "
                        "open after %s s; its snapshot keeps the old row versions until the "
                        "next vacuum", ERASE_WAIT_SECONDS)
        return settled

    @staticmethod
    def _reindex(conn: PgConnection) -> None:
        """Rebuild the indexes whose inner pages keep copies of erased names: a B-tree's pivot
        keys are copied from a leaf when it splits and VACUUM never removes them while the leaf
        lives. CONCURRENTLY: reads and writes go on meanwhile; on a failure (a lock not had in
        lock_timeout) the half-built copies are dropped and the next erasure tries again."""
        try:
            conn.raw.execute(f"SET lock_timeout = {int(ERASE_WAIT_SECONDS * 1000)}")  # ms
            for target in REINDEXED:  # names from the fixed list above
                conn.raw.execute(f"REINDEX {target}")
        except psycopg.Error as error:
            log.warning("REINDEX after erasure failed: %s", error)
            for (name,) in conn.raw.execute(
                    "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid "
                    "AND indrelid IN ('visitor_terms'::regclass, 'visitors'::regclass) "
                    "AND indexrelid::regclass::text LIKE '%\\_ccnew%'").fetchall():
                conn.raw.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")

    @staticmethod
    def _older_transactions_end(conn: PgConnection) -> bool:
        """Wait until no other transaction of this database began before now; False if one
        still runs after ERASE_WAIT_SECONDS."""
        started = time.monotonic()
        now = conn.raw.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        while True:
            row = conn.raw.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid != pg_backend_pid() AND xact_start < %s "
                "AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)", (now,)).fetchone()
            if row is None or row[0] == 0:
                return True
            if time.monotonic() - started > ERASE_WAIT_SECONDS:
                return False
            time.sleep(0.05)
