"""The agent console in Chromium against the real server, with real visitor sockets: log in, go
online, accept offers, read the bot's transcript, canned replies, notes, transfer, close."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from websockets.sync.client import connect

from .browser import screenshot
from .harness import PASSWORD, Server, add_user

pytestmark = pytest.mark.browser


def log_in(page, server: Server, username: str) -> None:
    page.set_default_timeout(10_000)
    page.goto(server.url + "/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')


@contextmanager
def visitor(server: Server, name: str, *lines: str, language: str = "en"):
    """A visitor who says `lines` to the bot, then asks for a person."""
    with connect(server.ws + "/ws/visitor") as ws:
        ws.send(json.dumps({"type": "hello", "name": name, "language": language}))
        for text in lines:
            ws.send(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": text}))
        ws.send(json.dumps({"type": "request_human", "id": str(uuid.uuid4())}))
        yield ws


def next_frame(ws, kind: str, **where) -> dict:
    while True:
        frame = json.loads(ws.recv(timeout=5))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in where.items()):
            return frame


@pytest.fixture(scope="module")
def desk(shared_server: Server) -> Server:
    """One server for the tests that do not restart it: each signs in its own agent, names its
    own visitors, and asks the database about its own chats; `ending` visitors close their
    chats as they leave, so none is queued for a later test's agent."""
    return shared_server


@contextmanager
def ending(server: Server, name: str, *lines: str) -> Iterator[object]:
    """`visitor`, who ends the chat when the test is done with it (if the agent has not)."""
    with visitor(server, name, *lines) as ws:
        try:
            yield ws
        finally:
            ws.send(json.dumps({"type": "close", "id": "bye"}))
            while json.loads(ws.recv(timeout=5)).get("id") != "bye":  # its ack or error
                pass


VISITORS_CHATS = "SELECT c.id FROM conversations c JOIN visitors v ON v.id = c.visitor_id " \
                 "WHERE v.name = ?"


def test_agent_handles_a_chat_from_offer_to_close(desk: Server, page) -> None:
    server = desk
    add_user(server.db, "maryam", role="agent", skills={"lang:en": 5, "billing": 3},
             display_name="Maryam")
    log_in(page, server, "maryam")
    page.wait_for_url("**/console")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')

    with ending(server, "Sara", "How do I reset my password?") as sara:
        offer = page.wait_for_selector(".offer")
        assert "Sara" in offer.inner_text()
        assert page.locator(".offer .countdown").inner_text().endswith("s")
        page.click(".offer .btn-primary")

        # The whole transcript, with what the bot answered and which entries it tried.
        page.wait_for_selector('.tab[aria-selected="true"] >> text=Sara')
        page.wait_for_selector(".transcript:not([hidden]) .line-bot")
        sara.send(json.dumps({"type": "message", "id": str(uuid.uuid4()),
                              "text": "<b>still</b> stuck"}))
        page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor >> text=stuck")
        assert page.locator(".transcript:not([hidden]) .line-bot .tried-box").count() >= 1
        assert page.locator("#chat-name").inner_text() == "Sara"
        assert "English" in page.locator("#chat-meta").inner_text()
        # HTML a visitor typed is shown as text, never as markup.
        bubble = page.locator(".transcript:not([hidden]) .bubble-visitor").last
        assert bubble.inner_text() == "<b>still</b> stuck"
        assert bubble.locator("b").count() == 0
        assert bubble.get_attribute("dir") == "auto"
        # Agent assist: the knowledge base's closest entries for the last visitor line.
        page.wait_for_selector("#assist .assist-item")

        # A canned response picked with "/", addressed to the visitor by name.
        page.click("#composer-text")
        page.keyboard.type("/hi")
        page.wait_for_selector("#canned-picker:not([hidden])")
        page.keyboard.press("Enter")
        assert page.input_value("#composer-text").startswith("Hi Sara,")
        page.keyboard.press("Enter")
        page.wait_for_selector(".line-agent .delivery >> text=Sent ✓")
        said = next_frame(sara, "message", **{"from": "agent"})
        assert said["text"].startswith("Hi Sara,") and said["author"] == "Maryam"

        # The visitor's typing shows; a private note never reaches the visitor.
        sara.send(json.dumps({"type": "typing", "on": True}))
        page.wait_for_selector("#typing:not([hidden]) >> text=Sara is typing")
        page.keyboard.press("Alt+KeyN")
        page.keyboard.type("Customer verified by email")
        page.keyboard.press("Enter")
        page.wait_for_selector(".line-note .delivery >> text=Sent ✓")
        assert page.locator(".line-note").count() == 1
        page.click("#mode-reply")
        screenshot(page, "console_live_chat")

        page.click("#close-btn")
        page.click("#close-resolved")
        page.wait_for_selector("#closed-bar:not([hidden])")
        assert next_frame(sara, "closed")["by"] == "agent"

    with sqlite3.connect(server.db) as db:
        (resolved,), = db.execute(f"SELECT resolved FROM conversations WHERE state = 'closed' "
                                  f"AND id IN ({VISITORS_CHATS})", ("Sara",)).fetchall()
        notes = db.execute(f"SELECT COUNT(*) FROM events WHERE type = 'note' "
                           f"AND conversation_id IN ({VISITORS_CHATS})", ("Sara",)).fetchone()[0]
    assert resolved == 1 and notes == 1


def test_an_inserted_answer_reaches_the_visitor_as_text_not_markdown(desk: Server,
                                                                     page) -> None:
    """Assist's Insert put the entry's Markdown source in the composer; an agent's line is
    plain text in the widget, so the visitor read "**60 minutes**" and "[sign-in page](…)"
    (25 of the 32 English default answers have such marks). The answer as the bot's plain
    text instead: the link's address after its words, no markers."""
    server = desk
    add_user(server.db, "ines", role="agent", skills={"lang:en": 5}, display_name="Ines")
    log_in(page, server, "ines")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    with ending(server, "Tom", "How do I reset my password?") as tom:
        page.click(".offer .btn-primary")
        page.wait_for_selector('.tab[aria-selected="true"] >> text=Tom')
        page.click("#assist .assist-item:has-text('Reset your password') button")
        # Insert fetches the entry first: the composer fills when its answer arrives.
        page.wait_for_function("() => document.getElementById('composer-text').value !== ''")
        text = page.input_value("#composer-text")
        assert text.startswith("On the sign-in page (https://northwind-market.example/login) "
                               "choose Forgot password?"), text
        assert "**" not in text and "](" not in text
        page.click("#composer-text")
        page.keyboard.press("Enter")
        said = next_frame(tom, "message", **{"from": "agent"})
        assert said["text"] == text


def test_agent_holds_two_chats_and_transfers_one_with_a_note(desk: Server, page) -> None:
    server = desk
    add_user(server.db, "omid", role="agent", skills={"lang:en": 5, "billing": 2},
             display_name="Omid")
    log_in(page, server, "omid")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    with ending(server, "Reza", "my invoice is wrong") as reza, \
            ending(server, "Lina", "where is my parcel") as lina:
        page.wait_for_selector(".offer >> nth=1")
        page.keyboard.press("Alt+KeyA")
        page.locator(".offer >> nth=1").wait_for(state="detached")  # string predicates need eval
        page.click(".offer .btn-primary")
        page.wait_for_selector(".tab >> nth=1")
        # A message in the chat that is not on screen shows as an unread count.
        reza_tab = page.locator(".tab", has_text="Reza")
        behind = "Lina" if reza_tab.get_attribute("aria-selected") == "true" else "Reza"
        (lina if behind == "Lina" else reza).send(json.dumps(
            {"type": "message", "id": str(uuid.uuid4()), "text": "hello?"}))
        page.wait_for_selector(f".tab:has-text('{behind}') .unread")
        assert page.locator(f".tab:has-text('{behind}') .unread").inner_text() == "1"

        reza_tab.click()
        page.click("#transfer-btn")
        page.check('#transfer-form input[value="skill"]')
        page.select_option("#transfer-skill", "billing")
        page.fill("#transfer-note", "Invoice 1043 is double-charged")
        page.click("#transfer-ok")
        page.wait_for_selector("#closed-bar:not([hidden]) >> text=Transferred")

    with sqlite3.connect(server.db) as db:
        (payload,), = db.execute(f"SELECT payload FROM events WHERE type = 'transferred' AND "
                                 f"conversation_id IN ({VISITORS_CHATS})", ("Reza",)).fetchall()
    moved = json.loads(payload)
    assert moved["to_skill"] == "billing" and moved["note"] == "Invoice 1043 is double-charged"


def test_supervisor_sees_queue_and_team_and_watches_a_chat(desk: Server, page) -> None:
    server = desk
    add_user(server.db, "sofia", role="supervisor", display_name="Sofia")
    add_user(server.db, "kian", role="agent", skills={"lang:en": 5}, capacity=1,
             display_name="Kian")
    cookie = "; ".join(f"{k}={v}" for k, v in server.login("kian").items())
    with connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as kian:
        kian.send(json.dumps({"type": "hello"}))
        kian.send(json.dumps({"type": "status", "status": "online"}))
        next_frame(kian, "status")
        with ending(server, "Sahar", "where is my parcel"), \
                ending(server, "Teo", "<i>refund</i> please"):
            offer = next_frame(kian, "offer")
            kian.send(json.dumps({"type": "accept", "id": str(uuid.uuid4()),
                                  "conversation_id": offer["conversation"]["id"]}))
            next_frame(kian, "ack")
            log_in(page, server, "sofia")
            page.wait_for_url("**/console/supervisor")
            page.wait_for_selector("#stat-waiting >> text=1")
            page.wait_for_selector("#agents-table >> text=Kian")
            assert "1/1" in page.locator("#agents-table tr", has_text="Kian").inner_text()
            page.click("#convs-table tbody tr:has-text('Teo')")
            line = page.wait_for_selector("#watch-transcript .bubble-visitor")
            assert line.inner_text() == "<i>refund</i> please"
            assert page.locator("#watch-transcript i").count() == 0
            page.wait_for_selector("#watch-transcript .line-bot")
            screenshot(page, "supervisor_overview")


def test_the_console_goes_to_login_once_its_session_has_ended(server: Server, page) -> None:
    add_user(server.db, "nina", role="agent", skills={"lang:en": 5})
    log_in(page, server, "nina")
    page.wait_for_url("**/console")
    page.wait_for_selector('#conn[data-state="online"]')
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert httpx.post(server.url + "/logout", cookies=cookies).status_code == 303  # elsewhere
    server.kill()  # the socket drops, and the console reconnects to a restarted server
    server.start()
    # From the socket's close, within 12 s: well before the console's 30 s poll of
    # /api/offline-messages, whose 401 would send it there too. Not "Reconnecting…" for ever.
    page.wait_for_url("**/login", timeout=12_000)
