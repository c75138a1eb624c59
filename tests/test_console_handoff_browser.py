"""The console through the hand-off moment, in Chromium against the real server with real visitor
sockets and the real widget (issue 16 item 7): what the empty list and pane say while away,
online and offered; the transcript's reasons in words; the time on the agent's own lines; read
receipts both ways."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from websockets.sync.client import ClientConnection, connect

from .browser import screenshot
from .harness import Server, add_user
from .test_console_browser import log_in

pytestmark = pytest.mark.browser


class Visitor:
    """A visitor's socket that keeps every read receipt the agent sends, whatever else it awaits."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.receipts: list[int] = []

    def next(self, kind: str, timeout: float = 5, **where: object) -> dict:
        while True:
            frame = json.loads(self.ws.recv(timeout=timeout))
            if frame["type"] == "read":
                assert frame["from"] == "agent"
                self.receipts.append(frame["seq"])
            if frame["type"] == kind and all(frame.get(k) == v for k, v in where.items()):
                return frame

    def say(self, text: str) -> int:
        """Send a line; its seq once stored."""
        frame_id = str(uuid.uuid4())
        self.ws.send(json.dumps({"type": "message", "id": frame_id, "text": text}))
        return self.next("ack", id=frame_id)["seq"]

    def reads(self, seconds: float) -> list[int]:
        """The read receipts since the last call, waiting `seconds` for more."""
        with contextlib.suppress(TimeoutError):
            self.next("none", timeout=seconds)
        seqs, self.receipts = self.receipts, []
        return seqs


@contextmanager
def visitor(server: Server, name: str) -> Iterator[Visitor]:
    """A visitor who asks the bot, in words, for a person (the bot's reason: asked_for_human)."""
    with connect(server.ws + "/ws/visitor") as ws:
        ws.send(json.dumps({"type": "hello", "name": name, "language": "en"}))
        v = Visitor(ws)
        v.say("I want to talk to a human")
        yield v


def shown(page, when: str) -> list[str]:
    return page.locator(f"[data-when='{when}']:visible").all_inner_texts()


def test_states_reasons_times_and_read_receipts(server: Server, page) -> None:
    add_user(server.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    log_in(page, server, "nadia")
    page.wait_for_selector('#conn[data-state="online"]')
    text = page.locator("main").inner_text
    assert "Go Online to receive them" in text() and "You're away" in text()
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    assert "Go Online" not in text() and "You're all caught up" in text()

    with visitor(server, "Sara") as sara, visitor(server, "Omar") as omar:
        page.wait_for_selector(".offer >> nth=1")
        # Offers count down: nothing says "go online" or "all caught up" to an online agent.
        assert len(shown(page, "offered")) == 2
        assert "Go Online" not in text() and "all caught up" not in text()
        screenshot(page, "console-offered")

        page.click(".offer:has-text('Sara') .btn-primary")
        page.wait_for_selector(".tab[aria-selected='true'] >> text=Sara")
        transcript = page.locator(".transcript:not([hidden])")
        transcript.locator(".line-system >> text=Waiting for a person").wait_for()
        assert "(the visitor asked the bot for a person)" in transcript.inner_text()
        assert "asked_for_human" not in transcript.inner_text()
        first = sara.reads(1.0)
        assert first and max(first) >= 2  # the chat is on screen: her lines were read

        # The agent's own line carries its time, and turns to Read ✓✓ when her widget shows it.
        page.fill("#composer-text", "Hello Sara, I am here")
        page.keyboard.press("Enter")
        mine = transcript.locator(".line-agent").last
        mine.locator(".delivery >> text=Sent ✓").wait_for()
        assert mine.locator("time").inner_text().strip() != ""
        seq = sara.next("message", **{"from": "agent"})["seq"]
        sara.ws.send(json.dumps({"type": "read", "seq": seq}))
        mine.locator(".delivery >> text=Read ✓✓").wait_for()

        # A line in a chat that is not on screen is not read until that chat is opened.
        page.click(".offer:has-text('Omar') .btn-primary")
        page.wait_for_selector(".tab[aria-selected='true'] >> text=Omar")
        sara.reads(0.3)
        later = sara.say("thanks, one more thing")
        page.wait_for_selector(".tab:has-text('Sara') .unread")
        assert sara.reads(0.5) == []
        page.click(".tab:has-text('Sara')")
        assert sara.reads(1.0) == [later]
        screenshot(page, "console-read-receipts")
        assert omar  # held open until the end


def test_the_widget_and_the_console_show_each_others_read_receipts(server: Server, browser,
                                                                    page) -> None:
    """No custom client: the widget's ✓✓ comes from the console, and the console's from it."""
    add_user(server.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    log_in(page, server, "nadia")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')

    shop = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        widget = shop.new_page()
        widget.goto(server.url + "/demo")
        part = lambda css: widget.locator(f"chat-widget {css}")  # noqa: E731
        part(".launcher").click()
        part(".prechat button:has-text('Skip')").click()
        box = part(".composer textarea")
        box.fill("I want to talk to a human")
        box.press("Enter")
        page.click(".offer .btn-primary")
        part(".note:has-text('Nadia joined the chat')").wait_for()

        box.fill("my order 1043 never came")
        box.press("Enter")
        page.locator(".bubble-visitor:has-text('1043')").wait_for()
        expect(part(".msg.mine .tick").last).to_have_text("✓✓")  # the console showed it

        page.fill("#composer-text", "Let me look that up")
        page.keyboard.press("Enter")
        part(".msg.agent:has-text('look that up')").wait_for()
        page.locator(".line-agent .delivery >> text=Read ✓✓").wait_for()  # the widget showed it
    finally:
        shop.close()
