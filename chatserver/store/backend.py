"""What the `Store` and its writer need from a database: the seam between the one store
contract and its two backends (`sqlite.py`, `postgres.py`).

Jobs — the functions the writer runs inside its group transaction — see a `Conn`: `execute`
and `executemany` with `?` placeholders, returning a cursor with `fetchone`, `fetchall`,
`rowcount` and iteration. A `sqlite3.Connection` is one as it is; the PostgreSQL backend wraps
its connection to translate the SQL (`dialect.py`). Rows read by position or by column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol


class StoreError(Exception):
    """The database cannot be reached or opened; the message is fit to show (no password)."""


class StoreUnavailable(StoreError):
    """A read or write failed because the database is away or busy past the timeout, not
    because of what was asked: the caller may retry later. Raised by `Store` so that the web
    layer answers "retry" and logs one line, not a traceback per refused frame."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection as jobs use it (`sqlite3.Connection` satisfies it as it is)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...

    def close(self) -> None: ...


class Row(Protocol):
    """A result row: `row[0]` or `row["column"]`, `row.keys()`, unpacked like a tuple."""

    def __getitem__(self, key: int | str) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Backend(Protocol):
    """One database: how to open it for the writer and for readers, and its peculiarities."""

    name: str  # "sqlite" or "postgres"
    errors: tuple[type[Exception], ...]  # what a failing statement raises

    def describe(self) -> str:
        """Where the data lives, fit for a log line (no password)."""

    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version reached."""

    def writer_connection(self) -> Conn:
        """The writer thread's connection, schema up to date."""

    def begin(self, conn: Conn) -> tuple[Conn, float]:
        """Open the writer's transaction, reconnecting first if the connection was lost;
        returns the connection to use and the seconds spent waiting for a lock."""

    def retryable(self, error: Exception) -> bool:
        """A failure of this transaction alone (a deadlock between processes): run it again."""

    def outage(self, error: BaseException) -> str | None:
        """Why the database could not serve, as one line without a password, when `error`
        means it is away or busy (not a bug in the statement); else None."""

    def aborted(self, conn: Conn) -> bool:
        """The open transaction can no longer commit (PostgreSQL, after a failed statement a
        job caught): the job must be reported failed, never acknowledged."""

    async def open_reader(self) -> None: ...

    async def close_reader(self) -> None: ...

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]: ...

    async def ping(self) -> bool:
        """Can the database be read now? Quick, for /readyz."""

    def read_only(self) -> Conn:
        """A new read-only connection for a thread (reports), closed by the caller."""

    def after_erase(self, tables: Sequence[str]) -> bool:
        """Blocking: push erased text out of logs and dead row versions; False if it could not
        finish (it will happen later on its own)."""
