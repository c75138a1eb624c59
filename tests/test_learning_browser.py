"""The bot learning from the agents, in Chromium against the real server: the console's Insert
marks the reply with its entry and the close dialog offers the entries; the admin's inbox
approves an edited phrasing (the bot answers it at once), rejects another, and turns a group of
unanswered questions into a prefilled new entry. Visitors' words stay text."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import pytest
from playwright.sync_api import expect

from .browser import screenshot
from .test_console_browser import log_in, next_frame, visitor

from .harness import Server, add_user  # isort: skip

pytestmark = pytest.mark.browser

QUESTION = "the courier threw my box over the fence and it broke"
EVIL = "<img src=x onerror=alert(1)> my box arrived crushed, the courier dropped it"


def entry_id(server: Server, title: str) -> int:
    with sqlite3.connect(server.db) as db:
        return int(db.execute("SELECT id FROM kb_entries WHERE title = ? AND language = 'en'",
                              (title,)).fetchone()[0])


def test_insert_sends_the_entry_and_the_close_dialog_offers_it(server: Server, page) -> None:
    add_user(server.db, "maryam", skills={"lang:en": 5}, display_name="Maryam")
    log_in(page, server, "maryam")
    page.wait_for_url("**/console")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    damaged = entry_id(server, "Wrong or damaged item")

    with visitor(server, "Sara", QUESTION) as sara:
        page.click(".offer .btn-primary")
        item = page.locator(".assist-item", has_text="Wrong or damaged item")
        item.locator("button").click()
        expect(page.locator("#composer-text")).to_have_value(re.compile("replace", re.I))
        page.click("#send-btn")
        line = next_frame(sara, "message", **{"from": "agent"})
        assert "entry_id" not in line
        with sqlite3.connect(server.db) as db:
            payload = json.loads(db.execute(
                "SELECT payload FROM events WHERE conversation_id = ? AND seq = ?",
                (line["conversation_id"], line["seq"])).fetchone()[0])
        assert payload["entry_id"] == damaged
        # A line typed by hand carries no entry.
        page.fill("#composer-text", "Anything else?")
        page.click("#send-btn")
        typed = next_frame(sara, "message", **{"from": "agent"})
        with sqlite3.connect(server.db) as db:
            assert "entry_id" not in json.loads(db.execute(
                "SELECT payload FROM events WHERE conversation_id = ? AND seq = ?",
                (typed["conversation_id"], typed["seq"])).fetchone()[0])

        page.click("#close-btn")
        page.wait_for_selector("#close-entry-row:not([hidden])")
        options = page.locator("#close-entry option").all_inner_texts()
        assert options[:2] == ["None", "Wrong or damaged item"]
        page.select_option("#close-entry", str(damaged))
        page.click("#close-resolved")
        next_frame(sara, "closed")
    with sqlite3.connect(server.db) as db:
        closed = db.execute("SELECT payload FROM events WHERE type = 'closed'").fetchone()[0]
        proposals = db.execute("SELECT text, source FROM kb_proposals").fetchall()
    assert json.loads(closed)["entry_id"] == damaged
    assert proposals == [(QUESTION, "message")]  # the close named the same entry: one proposal


def seed(server: Server) -> int:
    """Two proposals waiting, and two visitors whose questions no entry answered."""
    damaged = entry_id(server, "Wrong or damaged item")
    now = int(time.time() * 1000)
    with sqlite3.connect(server.db) as db:
        for n, (cid, text) in enumerate([("c1", EVIL), ("c2", "where do I send the invoice")]):
            db.execute("INSERT INTO visitors (id, created_ms, last_seen_ms) VALUES (?, ?, ?)",
                       (f"v{cid}", now, now))
            db.execute("INSERT INTO conversations (id, visitor_id, state, language, created_ms, "
                       "updated_ms) VALUES (?, ?, 'closed', 'en', ?, ?)",
                       (cid, f"v{cid}", now, now))
            db.execute("INSERT INTO kb_proposals (entry_id, conversation_id, language, text, "
                       "source, created_ms) VALUES (?, ?, 'en', ?, 'message', ?)",
                       (damaged, cid, text, now - n))  # newest first: EVIL on top
        for cid, text in (("u1", "do you sell llama saddles"), ("u2", "llama saddles for sale")):
            db.execute("INSERT INTO visitors (id, created_ms, last_seen_ms) VALUES (?, ?, ?)",
                       (f"v{cid}", now, now))
            db.execute("INSERT INTO conversations (id, visitor_id, state, language, created_ms, "
                       "updated_ms, last_seq) VALUES (?, ?, 'bot', 'en', ?, ?, 2)",
                       (cid, f"v{cid}", now, now))
            for seq, author, payload in (
                    (1, "visitor", {"from": "visitor", "author": "Kim", "text": text}),
                    (2, "bot", {"from": "bot", "author": "Bot", "text": "A person will help",
                                "decision": "handoff", "reason": "low_confidence"})):
                db.execute("INSERT INTO events (conversation_id, seq, type, author, payload, "
                           "ts_ms) VALUES (?, ?, 'message', ?, ?, ?)",
                           (cid, seq, author, json.dumps(payload), now))
    return damaged


def test_admin_approves_an_edit_rejects_one_and_starts_an_entry(server: Server, page) -> None:
    add_user(server.db, "root", role="admin", display_name="Rana")
    damaged = seed(server)
    log_in(page, server, "root")
    page.wait_for_url("**/admin")
    page.wait_for_selector("#proposals .proposal >> nth=1")
    assert page.locator("#learn-count").inner_text() == "2"
    assert page.locator("#proposals img").count() == 0  # the visitor's words are text
    assert page.locator(".proposal textarea").first.input_value() == EVIL
    screenshot(page, "admin_learning_inbox")

    # Edit out what should not be kept, then approve: the bot knows it at once.
    first = page.locator(".proposal").first
    first.locator("textarea").fill("my box arrived crushed, the courier dropped it")
    first.locator('[data-action="approve"]').click()
    page.wait_for_selector(".toast >> text=the bot knows it now")
    expect(page.locator("#proposals .proposal")).to_have_count(1)
    remaining = page.locator(".proposal textarea").first
    assert remaining.input_value() == "where do I send the invoice"  # still waiting
    page.fill("#try-text", "my box arrived crushed, the courier dropped it")
    page.click("#try-go")
    page.wait_for_selector("#try-result:not([hidden])")
    assert page.locator("#try-decision").inner_text() == "answer"
    assert page.locator("#try-matches li").first.inner_text().startswith("Wrong or damaged item")

    page.locator(".proposal").first.locator('[data-action="reject"]').click()
    page.wait_for_selector("#proposals >> text=Nothing to review.")
    assert page.locator("#learn-count").inner_text() == "0"
    with sqlite3.connect(server.db) as db:
        rows = db.execute("SELECT conversation_id, status, decided_by_name, added_text "
                          "FROM kb_proposals ORDER BY id").fetchall()
        questions = json.loads(db.execute("SELECT questions FROM kb_entries WHERE id = ?",
                                          (damaged,)).fetchone()[0])
    assert rows == [("c1", "approved", "root", "my box arrived crushed, the courier dropped it"),
                    ("c2", "rejected", "root", None)]
    assert questions[-1] == "my box arrived crushed, the courier dropped it"
    assert not any("invoice" in q or "<img" in q for q in questions)

    # The entry's history says what was learnt.
    page.locator("#kb-list button", has_text="Wrong or damaged item").click()
    page.wait_for_selector("#versions button >> text=Learned a phrasing")

    # The unanswered llama questions: one group, one click from a new entry.
    group = page.locator(".unanswered-group", has_text="llama")
    assert group.locator(".group-meta").inner_text().startswith("2 visitors")
    group.locator('[data-action="new-entry"]').click()
    assert page.locator("#kb-heading").inner_text() == "New entry"
    assert sorted(page.input_value("#f-questions").split("\n")) == [
        "do you sell llama saddles", "llama saddles for sale"]
    assert page.input_value("#f-language") == "en"
    screenshot(page, "admin_learning_new_entry")
