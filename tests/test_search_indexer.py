"""Search indexing out of the line's transaction (issue 22), on SQLite and PostgreSQL.

The append leaves each message line's key in `search_pending` in the line's own transaction;
the indexer (store/search.py) turns waiting keys into terms in bulk a second later, and a
search first indexes whatever waits. What a user would notice: a line is found by a search made
right after it was acknowledged, and by an index built while nobody searched; a line erased or
purged before its turn is never indexed; a key survives a crash of the process that stored it.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from chatserver.store.search import index_new_lines, index_waiting_lines
from chatserver.store.search_index import TOMBSTONE
from chatserver.store.store import NewEvent, Store

from .databases import db_location

__all__ = ["db_location"]  # the fixture: each test below runs on SQLite and PostgreSQL
NOW = 1_760_000_000_000
pytestmark = pytest.mark.anyio


async def chat(store: Store, cid: str, *texts: str) -> None:
    await store.upsert_visitor(f"v-{cid}", {"name": cid}, NOW)
    await store.create_conversation(cid, f"v-{cid}", {"language": "en"}, NOW)
    for n, text in enumerate(texts):
        await store.append(cid, [NewEvent("message", "visitor", {"from": "visitor",
                                                                 "text": text})],
                           now_ms=NOW + n, client_id=f"{cid}-{n}")


async def indexed(store: Store) -> set[tuple[str, int, str]]:
    return {(r[0], r[1], r[2]) for r in await store.fetchall(
        "SELECT conversation_id, seq, terms FROM search_lines")}


async def waiting(store: Store) -> int:
    row = await store.fetchone("SELECT count(*) FROM search_pending")
    assert row is not None
    return int(row[0])


async def test_lines_wait_in_their_own_transaction_and_are_indexed_in_bulk(
        db_location: str) -> None:
    store = Store(db_location)
    await store.open()
    try:
        await chat(store, "c1", "my parcel is late", "hello?")
        await store.append("c1", [NewEvent("typing", "visitor", {})], now_ms=NOW + 9)
        # The append wrote keys, no terms: the two lines (not the typing event) wait.
        assert await indexed(store) == set() and await waiting(store) == 2
        await index_waiting_lines(store)
        assert {(cid, seq) for cid, seq, _ in await indexed(store)} == {("c1", 2), ("c1", 3)}
        assert any("parcel" in terms for *_, terms in await indexed(store))
        assert await waiting(store) == 0
        await index_waiting_lines(store)  # nothing waits: nothing changes
        assert len(await indexed(store)) == 2
    finally:
        await store.close()


async def test_the_background_indexer_takes_new_lines_without_a_search(
        db_location: str) -> None:
    store = Store(db_location)
    await store.open()
    indexer = asyncio.create_task(index_new_lines(store, interval_s=0.05))
    try:
        await chat(store, "c2", "where is my refund")
        for _ in range(100):
            if await indexed(store):
                break
            await asyncio.sleep(0.05)
        assert [cid for cid, *_ in await indexed(store)] == ["c2"]
        assert await waiting(store) == 0
    finally:
        indexer.cancel()
        await store.close()


async def test_a_line_erased_or_purged_before_its_turn_is_never_indexed(
        db_location: str) -> None:
    store = Store(db_location)
    await store.open()
    try:
        await chat(store, "c3", "card 4111 secret words", "kept words")
        await chat(store, "c4", "purged words")
        # what the privacy code does to an erased line, and the retention purge to old ones
        await store.write(lambda conn: conn.execute(
            "UPDATE events SET payload = ? WHERE conversation_id = 'c3' AND seq = 2",
            (json.dumps({"from": "visitor", "text": TOMBSTONE}),)))
        await store.write(lambda conn: conn.execute(
            "DELETE FROM events WHERE conversation_id = 'c4' AND seq = 2"))
        await index_waiting_lines(store)
        assert {(cid, seq) for cid, seq, _ in await indexed(store)} == {("c3", 3)}
        assert await waiting(store) == 0  # their keys are gone too
    finally:
        await store.close()


async def test_keys_of_a_store_that_stopped_before_indexing_are_indexed_by_the_next(
        db_location: str) -> None:
    first = Store(db_location)
    await first.open()
    try:
        await chat(first, "c5", "the blender arrived broken")
    finally:
        await first.close()  # as a crash would: nothing indexed, the key on disk
    second = Store(db_location)
    await second.open()
    try:
        assert await waiting(second) == 1
        await index_waiting_lines(second)
        assert [cid for cid, *_ in await indexed(second)] == ["c5"]
    finally:
        await second.close()
