"""The small-talk replies reach a knowledge base seeded before they existed, once (on both
backends: a real SQLite file, a real PostgreSQL database)."""

from __future__ import annotations

import json

import pytest

from bot import Bot
from bot.smalltalk import kind_of
from chatserver.store.kb_store import SEEDED, SMALLTALK_SEEDED, KnowledgeBase
from chatserver.store.store import Store

from .databases import db_location
from .store_rows import connection

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]


async def _load(location: str) -> tuple[KnowledgeBase, Bot]:
    store = Store(location)
    await store.open()
    bot = Bot()
    kb = KnowledgeBase(store, bot)
    await kb.load(1000)
    await store.close()
    return kb, bot


async def test_an_old_knowledge_base_gets_the_small_talk_entries_once(db_location: str) -> None:
    await _load(db_location)
    with connection(db_location) as conn:  # as a knowledge base seeded before issue 15 was
        rows = conn.execute("SELECT id, tags FROM kb_entries").fetchall()
        talk = [i for i, tags in rows if kind_of(json.loads(tags))]
        assert len(talk) == 28
        marks = ",".join("?" * len(talk))
        conn.execute(f"DELETE FROM kb_versions WHERE entry_id IN ({marks})", talk)
        conn.execute(f"DELETE FROM kb_entries WHERE id IN ({marks})", talk)
        conn.execute("DELETE FROM meta WHERE key = ?", (SMALLTALK_SEEDED,))
        assert conn.execute("SELECT 1 FROM meta WHERE key = ?", (SEEDED,)).fetchone()
    _, bot = await _load(db_location)
    assert bot.decide("hi", "en").action == "smalltalk"
    with connection(db_location) as conn:
        count = conn.execute("SELECT COUNT(*) FROM kb_entries WHERE deleted = 0").fetchone()[0]
    assert count == 4 * 25 + 28  # the ordinary entries untouched, no duplicates
    # An admin who deletes a reply afterwards is not overruled at the next start.
    with connection(db_location) as conn:
        conn.execute("UPDATE kb_entries SET deleted = 1 WHERE title = 'Small talk: greeting'")
    _, bot = await _load(db_location)
    assert bot.decide("hi", "en").action != "smalltalk"
