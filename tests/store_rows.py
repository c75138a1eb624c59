"""Rows in a test's database on either backend, below the store: seed states the server only
reaches over time (a year of traffic, a knowledge base from before a release), look at every
value held, copy a generated SQLite desk into a PostgreSQL database."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from chatserver.store import postgres
from chatserver.store.backend import Conn
from chatserver.store.store import migrate_file

# The store's tables, each after the ones its foreign keys name.
TABLES = ("visitors", "users", "sessions", "conversations", "events", "offline_messages",
          "kb_entries", "kb_versions", "meta", "audit_log", "kb_proposals", "agent_presence")
# Tables whose `id` is an identity column on PostgreSQL: copied ids do not move its sequence.
IDENTITY_TABLES = ("users", "offline_messages", "kb_entries", "audit_log", "kb_proposals")


def is_postgres(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


@contextlib.contextmanager
def connection(location: str) -> Iterator[Conn]:
    """An autocommit connection speaking the store's SQL (`?` placeholders) on either backend,
    as another process would hold one; `BEGIN`/`COMMIT` group statements."""
    conn: Conn = (postgres.connect(location) if is_postgres(location)
                  else sqlite3.connect(location, isolation_level=None))
    try:
        yield conn
    finally:
        conn.close()


def table_names(conn: Conn) -> list[str]:
    """Every table in the database, the backend's bookkeeping ones included."""
    if isinstance(conn, sqlite3.Connection):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    else:
        sql = ("SELECT table_name FROM information_schema.tables "
               "WHERE table_schema = 'public' ORDER BY table_name")
    return [row[0] for row in conn.execute(sql)]


def columns_and_rows(conn: Conn, table: str) -> tuple[list[str], list[Any]]:
    cursor = conn.execute(f'SELECT * FROM "{table}"')
    return [d[0] for d in cursor.description], cursor.fetchall()


def copy(source: str, target: str) -> dict[str, int]:
    """Every row of the store's tables from `source` into `target` (migrated first, empty);
    returns the rows copied per table."""
    migrate_file(target)
    counts = {}
    with connection(source) as src, connection(target) as dst:
        dst.execute("BEGIN")
        for table in TABLES:
            columns, rows = columns_and_rows(src, table)
            marks = ", ".join("?" * len(columns))
            dst.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            [tuple(r) for r in rows])
            counts[table] = len(rows)
        if is_postgres(target):
            for table in IDENTITY_TABLES:
                dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
        dst.execute("COMMIT")
    return counts
