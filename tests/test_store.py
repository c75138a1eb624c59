"""The store contract, run against both backends (a real SQLite file and a real PostgreSQL
database): group commit, atomic seqs, idempotent client ids, races between processes,
recovery after the database drops the connection. SQLite's write lock has its own tests."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from chatserver.store.schema import MIGRATIONS
from chatserver.store.store import NewEvent, StaleState, Store, StoreUnavailable

from .databases import db_location

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]


@pytest.fixture
async def store(db_location: str):
    s = Store(db_location)
    await s.open()
    await s.upsert_visitor("v1", {"name": "Sara"}, 1)
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path):
    s = Store(str(tmp_path / "chat.db"))
    await s.open()
    await s.upsert_visitor("v1", {"name": "Sara"}, 1)
    yield s
    await s.close()


def line(i: int) -> NewEvent:
    return NewEvent("message", "visitor", {"from": "visitor", "author": "V", "text": f"m{i}"})


async def test_concurrent_appends_get_gapless_seqs_in_fewer_commits(store: Store) -> None:
    await store.create_conversation("c1", "v1", {}, 1)
    commits_before = store.writer.commits
    results = await asyncio.gather(*[
        store.append("c1", [line(i)], now_ms=2, client_id=f"id{i}") for i in range(500)])
    seqs = sorted(r.events[0].seq for r in results)
    assert seqs == list(range(2, 502))
    commits = store.writer.commits - commits_before
    assert commits < 500 / 5, f"{commits} commits for 500 appends: not grouped"


async def test_under_load_the_writer_gathers_for_the_commit_interval(db_location: str) -> None:
    paced = Store(db_location, commit_interval_ms=100)
    await paced.open()
    try:
        await paced.upsert_visitor("v1", {}, 1)
        await paced.create_conversation("c1", "v1", {}, 1)
        before = paced.writer.commits
        appends = []
        for i in range(200):  # a busy stream: two lines every 3 ms for 0.3 s
            appends.append(asyncio.ensure_future(
                paced.append("c1", [line(i)], now_ms=2, client_id=f"id{i}")))
            if i % 2:
                await asyncio.sleep(0.003)
        await asyncio.gather(*appends)
        # Unpaced, each commit takes what arrived during the last one: dozens of small groups.
        # Paced, the writer gathers 100 ms at a time once it sees company.
        assert paced.writer.commits - before <= 8
        assert len(await paced.events_after("c1", 0)) == 1 + 200
    finally:
        await paced.close()


async def test_a_lone_writer_is_never_held_back_by_the_interval(db_location: str) -> None:
    paced = Store(db_location, commit_interval_ms=1000)
    await paced.open()
    try:
        await paced.upsert_visitor("v1", {}, 1)
        await paced.create_conversation("c1", "v1", {}, 1)
        started = asyncio.get_running_loop().time()
        for i in range(5):  # each alone in its group: no second of waiting between them
            await paced.append("c1", [line(i)], now_ms=2)
        assert asyncio.get_running_loop().time() - started < 3
    finally:
        await paced.close()


async def test_the_writer_waits_for_another_process_write_lock(sqlite_store: Store) -> None:
    store = sqlite_store
    await store.create_conversation("c1", "v1", {}, 1)
    other = sqlite3.connect(store.backend.path, isolation_level=None)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    try:
        pending = asyncio.ensure_future(store.append("c1", [line(1)], now_ms=2))
        await asyncio.sleep(0.2)
        assert not pending.done()  # held back by the lock, not failed
    finally:
        other.execute("COMMIT")
        other.close()
    appended = await asyncio.wait_for(pending, 5)
    assert appended.events[0].seq == 2
    assert store.writer.lock_wait_seconds >= 0.15


async def test_what_arrives_while_another_process_holds_the_lock_joins_one_group(
        sqlite_store: Store) -> None:
    store = sqlite_store
    await store.create_conversation("c1", "v1", {}, 1)
    other = sqlite3.connect(store.backend.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    before = store.writer.commits
    try:
        first = asyncio.ensure_future(store.append("c1", [line(0)], now_ms=2))
        await asyncio.sleep(0.1)  # the writer now waits for the lock, holding line 0
        rest = [asyncio.ensure_future(store.append("c1", [line(i)], now_ms=2))
                for i in range(1, 50)]
        await asyncio.sleep(0.1)
    finally:
        other.execute("COMMIT")
        other.close()
    await asyncio.gather(first, *rest)
    assert store.writer.commits - before == 1  # not 1 + the 49 that queued behind the lock


async def test_a_write_lock_held_past_the_busy_timeout_fails_the_group(tmp_path: Path) -> None:
    impatient = Store(str(tmp_path / "chat.db"), busy_timeout_ms=100)
    await impatient.open()
    other = sqlite3.connect(impatient.backend.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            await asyncio.wait_for(impatient.upsert_visitor("v1", {}, 1), 5)
        other.execute("ROLLBACK")
        await impatient.upsert_visitor("v1", {}, 1)  # the writer goes on once it is free
    finally:
        other.close()
        await impatient.close()


async def test_a_repeated_client_id_stores_nothing_and_returns_the_original(store: Store) -> None:
    await store.create_conversation("c1", "v1", {}, 1)
    first = await store.append("c1", [line(1)], now_ms=2, client_id="same")
    again = await store.append("c1", [line(2)], now_ms=3, client_id="same")
    assert again.duplicate and again.events == first.events
    assert len(await store.events_after("c1", 0)) == 2  # started + one message


async def test_one_failing_job_does_not_spoil_its_group(store: Store) -> None:
    await store.create_conversation("c1", "v1", {}, 1)
    good, stale, missing = await asyncio.gather(
        store.append("c1", [line(1)], now_ms=2),
        store.append("c1", [line(2)], now_ms=2, expect_seq=99),
        store.append("nope", [line(3)], now_ms=2),
        return_exceptions=True,
    )
    assert not isinstance(good, Exception)
    assert isinstance(stale, StaleState) and isinstance(missing, KeyError)
    events = await store.events_after("c1", 0)
    assert [e.seq for e in events] == [1, 2]


async def test_the_conversation_row_follows_the_log(store: Store) -> None:
    await store.create_conversation("c1", "v1", {"language": "fa"}, 1)
    await store.append("c1", [NewEvent("queued", "system", {}),
                              NewEvent("offered", "system", {"agent_id": 4}),
                              NewEvent("assigned", "agent:4", {"agent_id": 4, "agent": "A"})],
                       now_ms=5)
    row = await store.conversation_row("c1")
    assert row["state"] == "assigned" and row["agent_id"] == 4 and row["last_seq"] == 4
    await store.append("c1", [NewEvent("closed", "agent:4", {"by": "agent", "resolved": True})],
                       now_ms=9)
    row = await store.conversation_row("c1")
    assert row["state"] == "closed" and row["closed_ms"] == 9 and row["resolved"] == 1


async def test_database_is_in_wal_mode_with_the_latest_schema(sqlite_store: Store,
                                                              tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "chat.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_a_job_failing_alone_is_rolled_back_and_the_writer_goes_on(store: Store) -> None:
    await store.create_conversation("c1", "v1", {}, 1)

    def half_then_fail(conn):
        conn.execute("UPDATE conversations SET topic = 'half-done' WHERE id = 'c1'")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await store.write(half_then_fail)
    row = await store.conversation_row("c1")
    assert row["topic"] == ""  # nothing of the failed job was committed
    ok = await store.append("c1", [line(1)], now_ms=2)
    assert ok.events[0].seq == 2


async def test_two_processes_writers_racing_on_the_same_chats_get_gapless_seqs(
        db_location: str) -> None:
    """Two stores on one database, as two server processes (or machines) have: lines to the
    same ten chats from both at once, in opposite orders so their group transactions lock
    rows crosswise (on PostgreSQL a deadlock, which the writer resolves by running the losing
    group again). Every line is stored once, every chat's seqs are 1..n."""
    first, second = Store(db_location), Store(db_location)
    await first.open()
    await second.open()
    try:
        await first.upsert_visitor("v1", {}, 1)
        chats = [f"c{i}" for i in range(10)]
        for cid in chats:
            await first.create_conversation(cid, "v1", {}, 1)

        async def burst(store: Store, order: list[str], tag: str) -> None:
            await asyncio.gather(*[
                store.append(cid, [line(i)], now_ms=2, client_id=f"{tag}{i}-{cid}")
                for i in range(30) for cid in order])

        await asyncio.gather(burst(first, chats, "a"), burst(second, chats[::-1], "b"))
        for cid in chats:
            events = await second.events_after(cid, 0)
            assert [e.seq for e in events] == list(range(1, 62))
            assert len({e.client_id for e in events[1:]}) == 60
    finally:
        await first.close()
        await second.close()


async def test_the_same_client_id_from_two_processes_at_once_is_stored_once(
        db_location: str) -> None:
    first, second = Store(db_location), Store(db_location)
    await first.open()
    await second.open()
    try:
        await first.upsert_visitor("v1", {}, 1)
        await first.create_conversation("c1", "v1", {}, 1)
        results = await asyncio.gather(
            *[store.append("c1", [line(i)], now_ms=2, client_id=f"id{i}")
              for i in range(50) for store in (first, second)], return_exceptions=True)
        stored = await first.events_after("c1", 0)
        assert len(stored) == 51 and [e.seq for e in stored] == list(range(1, 52))
        # The loser of each race either saw the original (duplicate) or failed unacked, and
        # its retry sees the original: never a second copy.
        for i in range(50):
            again = await second.append("c1", [line(i)], now_ms=3, client_id=f"id{i}")
            assert again.duplicate
        assert all(not isinstance(r, Exception) or "unique" in str(r).lower()
                   or "UNIQUE" in str(r) for r in results)
    finally:
        await first.close()
        await second.close()
