"""Rows in a test's database on either backend, below the store: seed states the server only
reaches over time (a knowledge base from before a release, a week of staffing), look at every
value held."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from chatserver.store import postgres
from chatserver.store.backend import Conn


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

