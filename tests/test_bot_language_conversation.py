"""Over the real socket: a question is answered in its own language, whatever the page's."""

from __future__ import annotations

import json
import sqlite3

import pytest

from chatserver.core.messages import MESSAGES

from .harness import Server, visitor

pytestmark = pytest.mark.anyio


def stored(server: Server, reply: dict) -> tuple[dict, dict]:
    """(the bot line's stored payload, the entry it answered from)."""
    with sqlite3.connect(server.db) as db:
        db.row_factory = sqlite3.Row
        payload = json.loads(db.execute(
            "SELECT payload FROM events WHERE conversation_id = ? AND seq = ?",
            (reply["conversation_id"], reply["seq"])).fetchone()[0])
        entry = dict(db.execute("SELECT * FROM kb_entries WHERE id = ?",
                                (payload["entry_id"],)).fetchone())
    return payload, entry


async def test_a_persian_question_on_an_english_page_is_answered_from_the_persian_entry(
    shared_server: Server, clients: list
) -> None:
    sara = await visitor(shared_server, name="Sara", language="en")
    clients.append(sara)
    await sara.request("message", text="رمز عبورم را فراموش کرده‌ام، چطور عوضش کنم؟")
    reply = await sara.expect("message", where=lambda f: f["from"] == "bot")
    payload, entry = stored(shared_server, reply)
    assert payload["decision"] == "answer"
    assert (entry["language"], entry["title"]) == ("fa", "بازیابی رمز عبور")
    assert not reply["text"].startswith(MESSAGES["other_language"]["fa"])  # no note needed


async def test_without_entries_in_the_visitors_language_the_answer_carries_a_note(
    server: Server, clients: list
) -> None:
    server.stop()
    with sqlite3.connect(server.db) as db:  # a shop without Arabic entries
        db.execute("UPDATE kb_entries SET status = 'draft' WHERE language = 'ar'")
    server.start()
    omar = await visitor(server, name="Omar", language="fa")
    clients.append(omar)
    await omar.request("message", text="هل تبيعون كارت هدية؟")
    reply = await omar.expect("message", where=lambda f: f["from"] == "bot")
    payload, entry = stored(server, reply)
    assert payload["decision"] == "answer"
    assert (entry["language"], entry["title"]) == ("fa", "کارت هدیه")
    assert reply["text"].startswith(MESSAGES["other_language"]["ar"])  # in the visitor's
