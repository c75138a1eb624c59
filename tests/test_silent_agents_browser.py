"""A silent agent, in Chromium (issue 16 part 3): the console shows the nudge (a line in the
transcript, the chat's tab marked until the agent writes) and the supervisor view flags the
chat. Real server with a 1 s first-reply limit, a real visitor socket."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from .browser import screenshot
from .harness import Server, add_user
from .test_console_browser import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(tmp_path) -> Iterator[Server]:
    server = Server(tmp_path, CHATSERVER_ROUTING_FIRST_REPLY_SECONDS="1").start()
    yield server
    server.stop()


def test_the_console_shows_the_nudge_and_the_supervisor_flags_it(desk: Server, browser,
                                                                 page) -> None:
    add_user(desk.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    add_user(desk.db, "sue", role="supervisor", display_name="Sue")
    log_in(page, desk, "nadia")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    boss = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        log_in(boss, desk, "sue")
        boss.wait_for_url("**/console/supervisor")
        with connect(desk.ws + "/ws/visitor") as ws:
            ws.send(json.dumps({"type": "hello", "name": "Sara", "language": "en"}))
            ws.send(json.dumps({"type": "request_human", "id": str(uuid.uuid4())}))
            page.click(".offer:has-text('Sara') .btn-primary")
            transcript = page.locator(".transcript:not([hidden])")
            transcript.locator(".line-system >> text=No reply for").wait_for()
            assert "the visitor is waiting for a first line" in transcript.inner_text()
            tab = page.locator(".tab:has-text('Sara')")
            tab.locator("text=waiting for your reply").wait_for()
            boss.locator("#convs-table .state-silent").wait_for()
            assert "no reply" in boss.locator("#convs-table").inner_text()
            screenshot(page, "console-silent-nudge")
            screenshot(boss, "supervisor-silent-flag")

            page.fill("#composer-text", "Hello Sara, sorry for the wait")
            page.keyboard.press("Enter")
            tab.locator("text=waiting for your reply").wait_for(state="detached")
            boss.locator("#convs-table .state-silent").wait_for(state="detached")
    finally:
        boss.context.close()
