"""The knowledge base's storage on both backends (a real SQLite file, a real PostgreSQL
database): versions kept, concurrent edits caught, soft delete and restore, search that treats
wildcards as text, imports. test_kb_api.py covers the HTTP side."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator

import pytest

from bot import Bot
from chatserver.core.errors import Conflict, NotFound
from chatserver.store.kb_store import KnowledgeBase
from chatserver.store.store import Store
from knowledge_base.model import validate

from .databases import db_location

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

NEW = {"title": "Zebracorn vouchers 100% off?", "language": "en",
       "questions": ["Do zebracorn_vouchers expire?"], "answer": "Zebracorn vouchers last."}


@pytest.fixture
async def kb(db_location: str):
    store = Store(db_location)
    await store.open()
    knowledge = KnowledgeBase(store, Bot())
    await knowledge.load(1)
    yield knowledge
    await store.close()


async def test_every_change_is_a_version_and_a_stale_edit_is_refused(kb: KnowledgeBase) -> None:
    entry = await kb.create(NEW, None, 10)
    assert entry.id is not None and entry.version == 1 and entry.status == "draft"
    assert entry.id not in kb.answers  # a draft: the bot does not know it
    edited = await kb.update(entry.id, {"answer": "They expire after 5 years.", "version": 1},
                             None, 11)
    with pytest.raises(Conflict):
        await kb.update(entry.id, {"answer": "stale", "version": 1}, None, 12)
    published = await kb.publish(entry.id, None, 13)
    assert (edited.version, published.version) == (2, 3) and entry.id in kb.answers
    restored = await kb.restore(entry.id, 1, None, 14)
    assert restored.answer == NEW["answer"] and restored.version == 4
    assert restored.status == "draft" and entry.id not in kb.answers  # version 1 was a draft
    history = await kb.history(entry.id)
    assert [(v["version"], v["action"]) for v in history] == [
        (4, "restore"), (3, "publish"), (2, "update"), (1, "create")]
    await kb.delete(entry.id, None, 15)
    with pytest.raises(NotFound):
        await kb.get(entry.id)
    assert (await kb.history(entry.id))[0]["action"] == "delete"  # history outlives the entry
    with pytest.raises(NotFound):
        await kb.restore(entry.id, 9, None, 16)
    back = await kb.restore(entry.id, 3, None, 17)  # a deleted entry comes back, published
    assert back.version == 6 and entry.id in kb.answers and await kb.get(entry.id) == back


async def test_search_ignores_case_and_takes_wildcards_literally(kb: KnowledgeBase) -> None:
    entry = await kb.create(NEW, None, 10)
    for query in ("ZEBRACORN VOUCHERS", "100%", "zebracorn_vouchers", "vouchers last"):
        assert [e.id for e in await kb.entries(query=query)] == [entry.id], query
    for query in ("100_", "%%", "zebracorn%vouchers"):
        assert await kb.entries(query=query) == [], query
    assert len(await kb.entries(status="published", language="en")) == 25 + 7  # the defaults


async def test_an_import_adds_new_published_entries_the_bot_knows(kb: KnowledgeBase) -> None:
    before = len(await kb.entries())
    fresh = [validate({**NEW, "title": f"Imported {i}", "status": "published"})
             for i in range(3)]
    stored = await kb.import_entries(fresh, None, 20)
    assert [e.version for e in stored] == [1, 1, 1] and all(e.id in kb.answers for e in stored)
    assert len(await kb.entries()) == before + 3


async def test_two_machines_starting_together_seed_the_default_entries_once(
        db_location: str) -> None:
    """Two machines starting on one fresh database: at PostgreSQL's READ COMMITTED both would
    read 'not seeded' and both insert the defaults, unless the seed is claimed first."""
    stores = [Store(db_location), Store(db_location)]
    for store in stores:
        await store.open()
    try:
        first, second = (KnowledgeBase(store, Bot()) for store in stores)
        await asyncio.gather(first.load(1), second.load(1))
        (count,) = await stores[0].fetchone("SELECT count(*) FROM kb_entries")
        titles = await stores[0].fetchall(
            "SELECT title, language FROM kb_entries GROUP BY title, language "
            "HAVING count(*) > 1")
        assert count > 0 and titles == [], f"{len(titles)} default entries stored twice"
    finally:
        for store in stores:
            await store.close()


@contextlib.contextmanager
def holding_the_entry(location: str, entry_id: int) -> Iterator[None]:
    """Another connection holds the entry's row (PostgreSQL) or the write lock (SQLite) until
    the block ends, so that both machines' edits start from the same version."""
    if location.startswith("postgresql://"):
        import psycopg

        conn = psycopg.connect(location, autocommit=True)
        conn.execute("BEGIN")
        conn.execute("SELECT 1 FROM kb_entries WHERE id = %s FOR UPDATE", (entry_id,))
    else:
        conn = sqlite3.connect(location, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_two_machines_editing_one_entry_get_a_conflict_not_a_database_error(
        db_location: str) -> None:
    """Two machines edit version 1 at once: one edit is stored, the other is a Conflict (409,
    'reload and edit again'; learning retries on it). Read-then-write in the job let both
    read version 1 on PostgreSQL, and the second's kb_versions insert collided (a 500)."""
    stores = [Store(db_location), Store(db_location)]
    for store in stores:
        await store.open()
    try:
        first, second = (KnowledgeBase(store, Bot()) for store in stores)
        entry = await first.create(NEW, None, 10)
        assert entry.id is not None
        with holding_the_entry(db_location, entry.id):
            edits = [asyncio.create_task(kb.update(entry.id, {"answer": f"edit {i}",
                                                              "version": 1}, None, 11))
                     for i, kb in enumerate((first, second))]
            await asyncio.sleep(1)  # both jobs have read version 1 and wait for the row
        outcomes = await asyncio.gather(*edits, return_exceptions=True)
        kinds = sorted(type(o).__name__ for o in outcomes)
        assert kinds == ["Conflict", "Entry"], outcomes
    finally:
        for store in stores:
            await store.close()
