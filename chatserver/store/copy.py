"""`chatserver db copy`: move a desk from its SQLite file into an empty PostgreSQL database,
then check that every table holds as many rows on both sides.

Stop the server first: the source is read as one snapshot, so lines written while the copy
runs would not be carried over. The source is opened read-only and never changed.

- The tables are the source's own (`sqlite_master`), each after the tables its foreign keys
  name (`PRAGMA foreign_key_list`): a table a later migration adds is copied without editing
  this file, and the two schemas must agree column by column or nothing is copied.
- Rows go in through COPY (psycopg's `cursor.copy()`): 200,000 events in 5-6.6 s and 3 s of
  CPU (0.5 client, 2.5 PostgreSQL), against 11.7-12.2 s and 8.3 s of CPU (3.2 + 5) with
  `executemany` of INSERTs (psycopg pipelines those, still a statement per row); measured on
  a busy 2-core machine, same transaction, the schema's indexes in place.
- One transaction for the whole desk: a copy that fails part-way (network, a row PostgreSQL
  refuses, a count that differs) leaves the target as empty as it was, so the same command
  can simply be run again. PostgreSQL puts no limit on a transaction's size that a desk nears.
- The identity sequences move past the largest copied id, so the next user, KB entry or
  audit row the server adds does not collide with a copied one.
"""

from __future__ import annotations

import graphlib
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from . import schema
from .backend import StoreError
from .postgres import PgConnection, connect, migrate, redact, scrub

# Rows read from SQLite at a time: memory stays bounded whatever a table's size.
BATCH_ROWS = 10_000
SCHEMES = ("postgresql", "postgres")


class CopyError(Exception):
    """Why the copy stopped before anything was kept, told to the operator in one line."""


def open_source(path: str) -> sqlite3.Connection:
    """The SQLite desk, read-only, which must be at this chatserver's schema version."""
    file = Path(path)
    if not file.is_file():
        raise CopyError(f"no SQLite database at {path}")
    conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as error:
        conn.close()
        raise CopyError(f"{path} is not a SQLite database ({error})") from None
    newest = len(schema.MIGRATIONS)
    if version != newest:
        conn.close()
        if version == 0:
            raise CopyError(f"{path} holds no chatserver database")
        advice = ("upgrade it first: chatserver db migrate" if version < newest
                  else "it was written by a newer chatserver")
        raise CopyError(f"{path} is at schema version {version}, this chatserver's is "
                        f"{newest}: {advice}")
    return conn


def check_url(url: str) -> None:
    """A `postgresql://` URL whose parts parse, so that `redact` can show it."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise CopyError("--to must be a postgresql:// URL, e.g. postgresql://chat@db:5432/chat")
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise CopyError("the port in the --to URL is not a number") from None


def tables(source: sqlite3.Connection) -> list[str]:
    """Every table of the source, each after the tables it references. SQLite's full-text
    index (a virtual table and its shadow tables) is not copied: PostgreSQL indexes the same
    rows (search_lines) its own way."""
    virtual = [row[0] for row in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'")]
    names = [row[0] for row in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name")
        if not any(row[0] == v or row[0].startswith(f"{v}_") for v in virtual)]
    references = {name: {row[2] for row in source.execute(
        f"PRAGMA foreign_key_list({quoted(name)})")} - {name} for name in names}
    return list(graphlib.TopologicalSorter(references).static_order())


def source_columns(source: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in source.execute(f"PRAGMA table_info({quoted(table)})")]


def target_columns(target: PgConnection, table: str) -> set[str]:
    return {row[0] for row in target.raw.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s", (table,))}


def quoted(name: str) -> str:
    """A table or column name from the schema as an SQL identifier, for either database."""
    return '"' + name.replace('"', '""') + '"'


def count(conn: Any, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0])  # noqa: S608


def copy_rows(source: sqlite3.Connection, target: PgConnection, table: str,
              columns: Sequence[str]) -> None:
    """Stream one table through COPY, `BATCH_ROWS` source rows at a time."""
    names = ", ".join(map(quoted, columns))
    rows = source.execute(f"SELECT {names} FROM {quoted(table)}")  # noqa: S608
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with target.raw.cursor() as cursor, cursor.copy(statement) as copy:
        while batch := rows.fetchmany(BATCH_ROWS):
            for row in batch:
                copy.write_row(row)


def reset_sequences(target: PgConnection) -> None:
    """Set every identity column's next value past the largest id copied into it."""
    identities = target.raw.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall()
    for table, column in identities:
        target.raw.execute(sql.SQL(
            "SELECT setval(pg_get_serial_sequence({name}, {column}), "
            "coalesce(max({id}), 0) + 1, false) FROM {table}").format(
                name=sql.Literal(sql.Identifier(table).as_string(target.raw)),
                column=sql.Literal(column), id=sql.Identifier(column),
                table=sql.Identifier(table)))


def copy_desk(source: sqlite3.Connection, target: PgConnection,
              out: TextIO) -> list[tuple[str, int, int]]:
    """Copy every table in one transaction; (table, source rows, target rows) for each. On a
    differing count the transaction is rolled back, so the target keeps nothing."""
    migrate(target)
    order = tables(source)
    columns = {table: source_columns(source, table) for table in order}
    for table in order:
        found = target_columns(target, table)
        if found != set(columns[table]):
            raise CopyError(f"table {table} differs between the two schemas "
                            f"(SQLite {sorted(columns[table])}, PostgreSQL {sorted(found)})")
    source.execute("BEGIN")  # one snapshot of the source for the rows and their counts
    with target.raw.transaction():
        # Nobody writes to the target until we commit; readers may still look.
        target.raw.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
            sql.SQL(", ").join(map(sql.Identifier, order))))
        holding = [table for table in order if count(target.raw, table)]
        if holding:
            raise CopyError("the target database already holds data (tables: "
                            f"{', '.join(holding)}); copy only into an empty database")
        for table in order:
            print(f"copying {table}…", file=out, flush=True)
            copy_rows(source, target, table, columns[table])
        reset_sequences(target)
        counts = [(table, count(source, table), count(target.raw, table)) for table in order]
        if any(mine != theirs for _, mine, theirs in counts):
            raise psycopg.Rollback()
    source.execute("ROLLBACK")
    return counts


def report(counts: Sequence[tuple[str, int, int]], out: TextIO) -> bool:
    """Print the counts per table; True when every table matches."""
    width = max(len("table"), *(len(table) for table, _, _ in counts))
    print(f"{'table':<{width}}  {'source':>10}  {'target':>10}  ok", file=out)
    for table, mine, theirs in counts:
        print(f"{table:<{width}}  {mine:>10,}  {theirs:>10,}  "
              f"{'yes' if mine == theirs else 'NO'}", file=out)
    return all(mine == theirs for _, mine, theirs in counts)


def run(source_path: str, url: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The command: 0 when every table was copied with equal counts, 1 otherwise."""
    started = time.monotonic()
    try:
        check_url(url)
        print(f"copying {source_path} to {redact(url)} (the server must be stopped)", file=out)
        source = open_source(source_path)
        try:
            target = connect(url)
            try:
                counts = copy_desk(source, target, out)
            finally:
                target.close()
        finally:
            source.close()
    except (CopyError, StoreError) as error:  # StoreError: connect's, password masked
        print(f"error: {error}", file=err)
        return 1
    except (psycopg.Error, sqlite3.Error) as error:
        print(f"error: {scrub(str(error).strip(), url)}; nothing was copied", file=err)
        return 1
    if not report(counts, out):
        print("error: the counts differ; the transaction was rolled back, nothing was kept",
              file=err)
        return 1
    total = sum(mine for _, mine, _ in counts)
    print(f"copied {total:,} rows in {len(counts)} tables in "
          f"{time.monotonic() - started:.1f} s", file=out)
    return 0
