"""Whisper and take-over in Chromium against the real server (issue 20 part 6): Sue, a
supervisor who reads the pages in Persian, watches Maryam's chat on the supervisor view,
whispers to her (Maryam's console shows the whisper, marked as the supervisor's, with an alert;
the visitor hears nothing), then takes the chat over: Maryam's console says who took it, Sue's
own console opens it at once, and she answers the visitor from there."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from .browser import screenshot
from .harness import Server, add_user, sql
from .test_alerts_browser import go_online
from .test_console_browser import log_in, next_frame, visitor

pytestmark = pytest.mark.browser

TIP = "Offer her the refund — order #4711"


def heard(ws) -> list[dict]:
    """Every frame the visitor's socket holds until it goes quiet for a second."""
    frames = []
    while True:
        try:
            frames.append(json.loads(ws.recv(timeout=1)))
        except (TimeoutError, ConnectionClosed):
            return frames


def test_a_supervisor_whispers_then_takes_the_chat_over(server: Server, browser) -> None:
    add_user(server.db, "maryam", skills={"lang:en": 5}, display_name="Maryam")
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'sue'")
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    boss = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        console = agent.new_page()
        go_online(console, server, "maryam")
        watcher = boss.new_page()
        log_in(watcher, server, "sue")
        watcher.wait_for_url("**/console/supervisor")
        assert watcher.evaluate("document.documentElement.dir") == "rtl"
        watcher.wait_for_selector('#conn[data-state="online"]')
        with visitor(server, "Sara", "my parcel never came") as sara:
            console.wait_for_selector(".offer")
            console.click(".offer .btn-primary")
            console.wait_for_selector('.tab[aria-selected="true"] >> text=Sara')
            next_frame(sara, "assigned")

            # Sue watches the chat; once Maryam holds it, the whisper form is hers to use.
            watcher.click("#convs-table tbody tr >> text=Sara")
            send = watcher.locator("#whisper-send")
            send.wait_for()
            watcher.wait_for_function("() => !document.getElementById('whisper-send').disabled")
            assert send.inner_text() == "نجوا"
            watcher.fill("#whisper-text", TIP)
            send.click()

            # Sue's transcript shows it as her whisper, in Persian.
            mine = watcher.locator("#watch-transcript .line-whisper")
            mine.wait_for()
            assert mine.locator(".bubble").inner_text() == TIP
            assert "نجوای سرپرست" in mine.locator(".author").inner_text()

            # Maryam sees it in her transcript, marked as Sue's whisper, and a toast alerts her.
            line = console.locator(".transcript:not([hidden]) .line-whisper")
            line.wait_for()
            assert line.locator(".author").inner_text() == "Supervisor's whisper · Sue"
            assert line.locator(".bubble").inner_text() == TIP
            assert line.evaluate("n => getComputedStyle(n.querySelector('.bubble'))"
                                 ".borderTopStyle") == "dashed"
            console.locator(".toast", has_text=f"Sue whispered: {TIP}").wait_for()
            screenshot(console, "supervision_whisper_console")
            screenshot(watcher, "supervision_whisper_supervisor_fa")

            # The visitor heard nothing of it.
            assert TIP not in json.dumps(heard(sara), ensure_ascii=False)

            # Sue's console is open in another tab when she takes the chat over.
            own = boss.new_page()
            own.goto(server.url + "/console")
            own.wait_for_selector('#conn[data-state="online"]')
            watcher.once("dialog", lambda dialog: dialog.accept())
            watcher.click("#take-over")
            watcher.locator(".toast", has_text="این گفت‌وگو اکنون با شماست").wait_for()
            watcher.locator("#watch-transcript .line-system",
                            has_text="Sue گفت‌وگو را در دست گرفت").wait_for()

            # Maryam is told who took it; the chat has left her hands.
            console.locator("#closed-bar",
                            has_text="Sue took over this chat. It has left your list.").wait_for()
            assert console.locator("#composer").is_hidden()
            joined = next_frame(sara, "assigned")
            assert joined["agent"] == "Sue"

            # Sue's console opened it at once, with what was said and her whisper, and she
            # answers the visitor from there.
            own.locator(".tab >> text=Sara").wait_for()
            own.locator(".transcript:not([hidden]) .bubble-visitor",
                        has_text="my parcel never came").wait_for()
            own.locator(".transcript:not([hidden]) .line-whisper").wait_for()
            own.fill("#composer-text", "Hello Sara, Sue here: the refund is on its way.")
            own.keyboard.press("Enter")
            answer = next_frame(sara, "message", **{"from": "agent"})
            assert answer["author"] == "Sue" and "refund" in answer["text"]
            screenshot(own, "supervision_taken_over_console_fa")
        rows = sql(server.db, "SELECT action FROM audit_log WHERE action LIKE 'supervisor.%' "
                              "ORDER BY id")
        assert [r[0] for r in rows] == ["supervisor.whisper", "supervisor.take_over"]
    finally:
        agent.close()
        boss.close()
