"""An agent works the console with the keyboard alone, in Chromium against the real server.

No clicks and no scripted focus: Tab, Shift+Tab, Enter, Escape and the arrows sign in,
go Online, accept a real visitor's chat, reply, insert a canned response, transfer the chat to
a colleague (a second agent's real socket accepts it) and close a second chat. At each step the
focus is where the agent's next keystroke belongs: the composer after accepting, inside a dialog
once it opens, back on the button that opened it when it closes, and on the ended chat's bar
(not lost on the page) once the chat has left the agent's hands.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from websockets.sync.client import connect

from .harness import PASSWORD, Server, add_user
from .test_console_browser import next_frame, visitor

pytestmark = pytest.mark.browser

FOCUSED = """() => { const el = document.activeElement;
  return el ? `${el.tagName.toLowerCase()}#${el.id}.${el.className}` : "nothing"; }"""


def focused(page: Any, selector: str) -> bool:
    return bool(page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)",
                              selector))


def tab_to(page: Any, selector: str, *, back: bool = False, most: int = 60) -> int:
    """Press Tab (Shift+Tab with `back`) until `selector` has the focus; how many presses."""
    key = "Shift+Tab" if back else "Tab"
    for presses in range(most):
        if focused(page, selector):
            return presses
        page.keyboard.press(key)
    raise AssertionError(f"{selector} not reached in {most} x {key}; focus on "
                         f"{page.evaluate(FOCUSED)}")


def assert_focus(page: Any, selector: str, why: str) -> None:
    """The focus is on `selector` (within 5 s: some steps wait for the server's answer)."""
    try:
        page.wait_for_function("s => !!document.activeElement && "
                               "document.activeElement.matches(s)", arg=selector, timeout=5000)
    except PlaywrightTimeout:
        raise AssertionError(f"{why}: focus on {page.evaluate(FOCUSED)}") from None


def test_an_agent_works_a_chat_with_the_keyboard_alone(shared_server: Server, page) -> None:
    desk = shared_server
    add_user(desk.db, "maryam", skills={"lang:en": 5}, display_name="Maryam")
    add_user(desk.db, "omid", skills={"lang:en": 5}, capacity=1, display_name="Omid")
    page.set_default_timeout(10_000)

    page.goto(desk.url + "/login")
    tab_to(page, 'input[name="username"]')
    page.keyboard.type("maryam")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console")
    page.wait_for_selector('#conn[data-state="online"]')

    # Online: the status switch is one radio group, one Tab stop (on Away); an arrow chooses.
    tab_to(page, '.status-switch [aria-checked="true"]')
    assert focused(page, "#status-away")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    assert_focus(page, "#status-online", "the arrow moves the focus with the choice")

    with visitor(desk, "Sara", "How do I reset my password?") as sara:
        page.wait_for_selector(".offer")
        # The offer does not take the focus from what the agent is doing; Tab reaches Accept.
        assert_focus(page, "#status-online", "an offer stole the focus")
        tab_to(page, ".offer .btn-primary")
        page.keyboard.press("Enter")
        assert_focus(page, "#composer-text", "after Accept the reply box")
        page.wait_for_selector(".transcript:not([hidden]) .line-bot")

        page.keyboard.type("Let me check that for you.")
        page.keyboard.press("Enter")
        assert next_frame(sara, "message", **{"from": "agent"})["text"] == (
            "Let me check that for you.")

        # A canned response: "/" opens the picker, the arrows move in it, Enter inserts.
        page.keyboard.type("/")
        page.wait_for_selector("#canned-picker:not([hidden])")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowUp")
        first = page.locator('#canned-picker [aria-selected="true"] .pick-key').inner_text()
        page.keyboard.press("Enter")
        assert page.locator("#canned-picker").is_hidden()
        inserted = page.input_value("#composer-text")
        assert inserted and not inserted.startswith("/"), (first, inserted)
        assert_focus(page, "#composer-text", "after inserting a canned response")
        page.keyboard.press("Enter")
        assert next_frame(sara, "message", **{"from": "agent"})["text"] == inserted.strip()

        cookie = "; ".join(f"{k}={v}" for k, v in desk.login("omid").items())
        with connect(desk.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as omid:
            omid.send(json.dumps({"type": "hello"}))
            omid.send(json.dumps({"type": "status", "status": "online"}))
            next_frame(omid, "status")

            # Transfer: the dialog takes the focus, Escape closes it and gives it back.
            tab_to(page, "#transfer-btn", back=True)
            page.keyboard.press("Enter")
            page.wait_for_selector("#transfer-dialog[open]")
            page.wait_for_selector("#transfer-agent option", state="attached")
            assert_focus(page, "#transfer-dialog *", "the open transfer dialog")
            page.keyboard.press("Escape")
            page.wait_for_selector("#transfer-dialog:not([open])", state="attached")
            assert_focus(page, "#transfer-btn", "after Escape, the button that opened it")
            page.keyboard.press("Enter")
            page.wait_for_selector("#transfer-dialog[open]")
            page.wait_for_selector("#transfer-agent option", state="attached")
            tab_to(page, "#transfer-agent")
            assert page.locator("#transfer-agent option:checked").inner_text().startswith("Omid")
            tab_to(page, "#transfer-note")
            page.keyboard.type("Wants the reset link again")
            tab_to(page, "#transfer-ok")
            page.keyboard.press("Enter")
            offer = next_frame(omid, "offer")
            omid.send(json.dumps({"type": "accept", "id": str(uuid.uuid4()),
                                  "conversation_id": offer["conversation"]["id"]}))
            next_frame(omid, "ack")
            page.wait_for_selector("#closed-bar:not([hidden]) >> text=Transferred")
            assert_focus(page, "#closed-bar button", "once the chat was transferred")

            # A second chat, closed: Shift+Tab back to its offer, then to Close chat.
            with visitor(desk, "Tom", "where is my parcel") as tom:
                page.wait_for_selector(".offer")
                tab_to(page, ".offer .btn-primary", back=True)
                page.keyboard.press("Enter")
                assert_focus(page, "#composer-text", "after accepting the second chat")
                page.wait_for_selector("#chat-name >> text=Tom")
                tab_to(page, "#close-btn", back=True)
                page.keyboard.press("Enter")
                page.wait_for_selector("#close-dialog[open]")
                assert_focus(page, "#close-dialog *", "the open close dialog")
                page.keyboard.press("Escape")
                assert_focus(page, "#close-btn", "after Escape, Close chat again")
                page.keyboard.press("Enter")
                page.wait_for_selector("#close-dialog[open]")
                tab_to(page, "#close-resolved")
                page.keyboard.press("Enter")
                assert next_frame(tom, "closed")["by"] == "agent"
                page.wait_for_selector("#closed-bar:not([hidden]) >> text=You closed this chat")
                assert_focus(page, "#closed-bar button", "once the chat was closed")
