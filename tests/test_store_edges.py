"""The store's edges that PostgreSQL sharpens (found in review of issue 18): the database
password never shown, a lock held by a frozen machine bounded, a job that caught its own
database error never acknowledged for writes PostgreSQL rolled back, the SQL translation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver import config as config_module
from chatserver.store.backend import StoreUnavailable
from chatserver.store.dialect import to_postgres
from chatserver.store.store import NewEvent, Store

from .databases import db_location
from .harness import ROOT

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

PASSWORD_IN_URL = "s3cret-pw"


def test_the_storage_url_is_hidden_from_the_config_repr() -> None:
    """secret_key, the cluster token and redis_url are `repr=False`; storage.url is not, so
    any log line or traceback that shows the config shows the database password."""
    config = config_module.load(environ={
        "CHATSERVER_STORAGE_BACKEND": "postgres",
        "CHATSERVER_STORAGE_URL": f"postgresql://chat:{PASSWORD_IN_URL}@db:5432/chat"})
    assert PASSWORD_IN_URL not in repr(config)


@pytest.mark.parametrize("url", [
    # libpq echoes the part it cannot parse: a password with a space, or the whole URI
    f"postgresql://chat:{PASSWORD_IN_URL} x@127.0.0.1:5432/chat",
    f"postgresql://chat:{PASSWORD_IN_URL}@[::1/chat",
])
def test_db_migrate_with_a_malformed_url_does_not_print_the_password(tmp_path: Path,
                                                                   url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatserver", "db", "migrate"], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CHATSERVER_STORAGE_BACKEND": "postgres",
             "CHATSERVER_STORAGE_URL": url},
        capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert PASSWORD_IN_URL not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, "an operator error, not a crash: " + done.stderr[-300:]


def swallowing(conn) -> str:
    """A job that catches its own failed statement and carries on."""
    conn.execute("INSERT INTO meta (key, value) VALUES ('mine', '1')")
    try:
        conn.execute("INSERT INTO meta (key, value) VALUES ('taken', '2')")
    except Exception:
        return "taken"
    return "inserted"


async def test_a_job_that_handles_its_own_error_is_acknowledged_only_if_kept(
        db_location: str) -> None:
    """On SQLite a failed statement undoes itself alone: the job's other write commits and
    its answer is returned. On PostgreSQL it aborts the transaction, so nothing of the job can
    commit: the caller must get an error, never an answer for writes that are gone (before
    the fix the writer sent COMMIT, PostgreSQL answered ROLLBACK, the caller got "taken")."""
    store = Store(db_location)
    await store.open()
    try:
        await store.write(lambda conn: conn.execute(
            "INSERT INTO meta (key, value) VALUES ('taken', '1')"))
        try:
            answer: str | None = await store.write(swallowing)
        except Exception:
            answer = None
        kept = await store.fetchone("SELECT 1 FROM meta WHERE key = 'mine'") is not None
        assert (answer == "taken") == kept, "acknowledged, yet the job's write is gone"
        assert kept == db_location.endswith(".db")
        await store.write(lambda conn: conn.execute(  # and the writer goes on
            "INSERT INTO meta (key, value) VALUES ('after', '1')"))
    finally:
        await store.close()


async def test_in_a_group_a_job_is_not_told_success_for_writes_rolled_back(
        db_location: str) -> None:
    """In a group, such a job's savepoint could not be released after its success was
    recorded: the caller got the success, its writes were gone, and the group went on."""
    store = Store(db_location)
    await store.open()
    try:
        await store.write(lambda conn: conn.execute(
            "INSERT INTO meta (key, value) VALUES ('taken', '1')"))

        def other(i: int):
            return lambda conn: conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, '1')", (f"other{i}",))

        results = await asyncio.gather(store.write(swallowing),
                                       *[store.write(other(i)) for i in range(20)],
                                       return_exceptions=True)
        kept = await store.fetchone("SELECT 1 FROM meta WHERE key = 'mine'") is not None
        assert (results[0] == "taken") == kept, "acknowledged, yet the job's write is gone"
        others = await store.fetchall("SELECT key FROM meta WHERE key LIKE 'other%'")
        assert len(others) == 20 and not any(isinstance(r, Exception) for r in results[1:])
    finally:
        await store.close()


def test_a_storage_url_without_the_postgres_backend_is_refused() -> None:
    """CHATSERVER_STORAGE_URL set and CHATSERVER_STORAGE_BACKEND forgotten: each machine
    silently runs on its own local SQLite file (data/chat.db), a split desk nobody notices."""
    with pytest.raises(config_module.ConfigError):
        config_module.load(environ={
            "CHATSERVER_STORAGE_URL": "postgresql://chat@db:5432/chat"})


@pytest.mark.parametrize("sql", [
    # json_extract is text on PostgreSQL: a number is compared through CAST on both
    "SELECT count(*) FROM events WHERE CAST(json_extract(payload, '$.rating') AS INTEGER) >= ?",
    # a nested path
    "SELECT count(*) FROM events "
    "WHERE CAST(json_extract(payload, '$.answers.rating') AS INTEGER) >= ?",
])
async def test_json_extract_of_a_number_compares_as_a_number(db_location: str, sql: str) -> None:
    store = Store(db_location)
    await store.open()
    try:
        await store.upsert_visitor("v1", {}, 1)
        await store.create_conversation("c1", "v1", {}, 1)
        await store.append("c1", [NewEvent("survey", "visitor",
                                           {"rating": 5, "answers": {"rating": 5}})], now_ms=2)
        (count,) = await store.fetchone(sql, (4,))
        assert count == 1
    finally:
        await store.close()


def test_an_apostrophe_in_a_comment_does_not_hide_the_placeholders_after_it() -> None:
    translated = to_postgres("SELECT id FROM users -- the agent's id\n"
                             "WHERE id = ? AND role = 'admin' AND capacity > ?")
    assert "?" not in translated


async def test_a_write_blocked_by_another_machines_lock_gives_up(db_location: str) -> None:
    """SQLite's writer gives up after busy_timeout_ms (5 s) and the callers get an error they
    retry. On PostgreSQL there is no lock_timeout/statement_timeout: a machine that froze or
    lost its network mid-transaction (its locks stay until TCP keepalive notices, ~2 h by
    default) stalls every other machine's single writer thread, for every conversation."""
    store = Store(db_location)
    await store.open()
    try:
        await store.upsert_visitor("v1", {}, 1)
        await store.create_conversation("c1", "v1", {}, 1)
        await store.create_conversation("c2", "v1", {}, 1)
        if db_location.startswith("postgresql://"):
            import psycopg

            frozen = psycopg.connect(db_location, autocommit=True)
            frozen.execute("BEGIN")
            frozen.execute("UPDATE conversations SET updated_ms = 5 WHERE id = 'c1'")
        else:
            frozen = sqlite3.connect(db_location, isolation_level=None)
            frozen.execute("BEGIN IMMEDIATE")
        try:
            line = NewEvent("message", "visitor", {"from": "visitor", "text": "hi"})
            # StoreUnavailable: the web layer answers "retry" and logs one line, no traceback
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(store.append("c1", [line], now_ms=2), 15)
        finally:
            frozen.execute("ROLLBACK")
            frozen.close()
    finally:
        await store.close()


@pytest.mark.parametrize("url", [
    # libpq takes the password as a query parameter too
    f"postgresql://chat@db:5432/chat?password={PASSWORD_IN_URL}",
    # two hosts (a primary and its standby, libpq tries them in turn): urlsplit cannot parse
    # the port, so describe() raises and start-up ("chatserver ready, database …") fails
    f"postgresql://chat:{PASSWORD_IN_URL}@db1:5432,db2:5432/chat",
])
def test_describe_hides_the_password_of_any_url_libpq_accepts(url: str) -> None:
    from chatserver.store.postgres import PostgresBackend

    shown = PostgresBackend(url).describe()
    assert PASSWORD_IN_URL not in shown



def subscribing(kind: str):
    """A job that registers an endpoint taking events of `kind` (service/webhook_outbox.py)."""
    def job(conn) -> None:
        endpoint = conn.execute("INSERT INTO webhook_endpoints (url, secret, created_ms) VALUES "
                                "('http://127.0.0.1:9/', 's', 0) RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO webhook_subscriptions (type, endpoint_id) VALUES (?, ?)",
                     (kind, endpoint))
    return job


@contextlib.asynccontextmanager
async def two_writers(location: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database: two processes' writers."""
    stores = (Store(location), Store(location))
    async with contextlib.AsyncExitStack() as stack:
        for store in stores:
            await store.open()
            stack.push_async_callback(store.close)
        yield stores


async def test_a_line_after_a_subscription_is_in_the_outbox_whoever_subscribed(
        db_location: str) -> None:
    """The SQLite writer skips the outbox statement for types nobody takes (sqlite.py
    WriterConnection): a subscription made by another process's writer, or by a job of the
    same group as the line, must still get the line."""
    async with two_writers(db_location) as (store, other):
        await store.upsert_visitor("v1", {}, 1)
        await store.create_conversation("c1", "v1", {}, 1)
        await store.append("c1", [NewEvent("message", "visitor", {"text": "a"})], now_ms=2,
                           client_id="x1")  # seq 2, nobody subscribed
        await other.write(subscribing("message"))
        await store.append("c1", [NewEvent("message", "visitor", {"text": "b"})], now_ms=3,
                           client_id="x2")  # seq 3
        await asyncio.gather(store.write(subscribing("note")), store.append(
            "c1", [NewEvent("note", "agent", {"text": "c"})], now_ms=4, client_id="x3"))
        rows = await store.fetchall("SELECT seq FROM webhook_outbox ORDER BY seq")
        assert [row[0] for row in rows] == [3, 4]
