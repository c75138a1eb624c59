"""The small-talk replies reach a knowledge base seeded before they existed, once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot import Bot
from bot.smalltalk import kind_of
from chatserver.store.kb_store import SEEDED, SMALLTALK_SEEDED, KnowledgeBase
from chatserver.store.store import Store

pytestmark = pytest.mark.anyio


async def _load(path: Path) -> tuple[KnowledgeBase, Bot]:
    store = Store(str(path))
    await store.open()
    bot = Bot()
    kb = KnowledgeBase(store, bot)
    await kb.load(1000)
    await store.close()
    return kb, bot


async def test_an_old_knowledge_base_gets_the_small_talk_entries_once(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    await _load(db)
    with sqlite3.connect(db) as conn:  # as a knowledge base seeded before issue 15 was
        rows = conn.execute("SELECT id, tags FROM kb_entries").fetchall()
        talk = [i for i, tags in rows if kind_of(json.loads(tags))]
        assert len(talk) == 28
        marks = ",".join("?" * len(talk))
        conn.execute(f"DELETE FROM kb_versions WHERE entry_id IN ({marks})", talk)
        conn.execute(f"DELETE FROM kb_entries WHERE id IN ({marks})", talk)
        conn.execute("DELETE FROM meta WHERE key = ?", (SMALLTALK_SEEDED,))
        assert conn.execute("SELECT 1 FROM meta WHERE key = ?", (SEEDED,)).fetchone()
    _, bot = await _load(db)
    assert bot.decide("hi", "en").action == "smalltalk"
    with sqlite3.connect(db) as conn:
        count = conn.execute("SELECT COUNT(*) FROM kb_entries WHERE deleted = 0").fetchone()[0]
    assert count == 4 * 25 + 28  # the ordinary entries untouched, no duplicates
    # An admin who deletes a reply afterwards is not overruled at the next start.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE kb_entries SET deleted = 1 WHERE title = 'Small talk: greeting'")
    _, bot = await _load(db)
    assert bot.decide("hi", "en").action != "smalltalk"
