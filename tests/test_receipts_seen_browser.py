"""Read receipts cover only what was seen (issue 20 review): a line below the reader's fold, in
the console's transcript or in the visitor's widget, is not told read until the reader scrolls
to it; and what the agent read on one device is not counted unread, nor notified, on another
(the server keeps the agent side's read position per conversation)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import Server, add_user
from .test_alerts_browser import alerting, go_online, read_by_agent, taken, unread_by_agent
from .test_console_browser import log_in
from .test_console_handoff_browser import visitor
from .test_receipts_browser import open_widget_chat

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TOUCH = {"is_mobile": True, "has_touch": True}


def test_a_line_below_the_fold_is_not_told_read(server: Server, browser, page) -> None:
    """The agent scrolled up in a long chat to read what the visitor said earlier; the visitor
    writes again. The new line is drawn below, out of view (the transcript does not follow
    when scrolled up), yet the console at once told the visitor's widget "Read" (markRead
    only asked whether the chat is the open one and the tab visible). The visitor must not be
    told "read" for a line the agent has not seen: the receipt waits until the agent scrolls
    down to it."""
    add_user(server.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    go_online(page, server, "nadia")
    page.set_viewport_size(PHONE)
    with visitor(server, "Sara") as sara:
        page.click(".offer .btn-primary")
        page.wait_for_selector("#console[data-view='chat'] .transcript:not([hidden])")
        story = "and then the parcel went back to the depot again, " * 6
        for i in range(6):
            sara.say(f"part {i}: {story}")
        page.locator(".transcript:not([hidden]) >> text=part 5:").wait_for()
        sara.reads(0.5)
        page.locator(".transcript:not([hidden])").evaluate("t => { t.scrollTop = 0; }")
        page.wait_for_timeout(200)
        seq = sara.say("the important new question")
        line = page.locator(".transcript:not([hidden]) >> text=the important new question")
        line.wait_for()
        in_view = line.evaluate("""(n) => {
            const t = n.closest('.transcript').getBoundingClientRect();
            const r = n.getBoundingClientRect(); return r.top < t.bottom && r.bottom > t.top; }""")
        assert not in_view, "the test meant the line to be out of view"
        assert unread_by_agent(sara, seq), "the visitor was told Read for a line below the fold"

        # The agent scrolls down to it: now it is read.
        line.scroll_into_view_if_needed()
        read_by_agent(sara, seq)


def test_the_console_says_read_only_for_a_line_the_visitor_could_see(server: Server,
                                                                     browser) -> None:
    """The visitor, on a 390x844 phone, scrolled up in the widget to find the order number the
    agent asked about earlier; the agent writes again. The widget does not scroll to a new
    line while scrolled up (view.js: `stick`), so the line is below the visitor's fold, yet
    the widget told the console "read" at once (app.js markRead asked only: panel open, chat
    view, tab visible) and the agent's line said "Read ✓✓". The console must show Read only
    for a line the widget showed: the receipt waits until the visitor scrolls to it."""
    add_user(server.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    desk = browser.new_context(viewport={"width": 1280, "height": 800})
    shop = browser.new_context(viewport=PHONE, **TOUCH, color_scheme="dark")
    try:
        page = desk.new_page()
        go_online(page, server, "nadia")
        part = open_widget_chat(shop, server)
        page.click(".offer:has-text('Sara') .btn-primary")
        page.wait_for_selector(".tab[aria-selected='true'] >> text=Sara")
        story = "Here is what I found about your parcel and the depot it went back to. " * 4
        for i in range(6):
            page.fill("#composer-text", f"{i}: {story}")
            page.keyboard.press("Enter")
        part(".msg:has-text('5: Here is')").wait_for()
        last = page.locator(".transcript:not([hidden]) .line-agent").last
        last.locator(".delivery >> text=Read").wait_for()

        part(".log").evaluate("log => { log.scrollTop = 0; }")
        page.wait_for_timeout(300)
        page.fill("#composer-text", "Could you check the number on the label once more?")
        page.keyboard.press("Enter")
        mine = page.locator(".transcript:not([hidden]) .line-agent").last
        shown = part(".msg:has-text('number on the label')")
        shown.wait_for(state="attached")
        in_view = shown.evaluate("""(m) => {
            const box = m.closest('.log').getBoundingClientRect();
            const r = m.getBoundingClientRect();
            return r.top < box.bottom && r.bottom > box.top; }""")
        assert not in_view, "the test meant the line to be below the visitor's fold"
        page.wait_for_timeout(1000)
        said = mine.locator(".delivery").inner_text()
        assert "Read" not in said, f"the console says {said!r} for a line the visitor cannot see"

        # The visitor scrolls down to it: now the console says Read.
        shown.scroll_into_view_if_needed()
        mine.locator(".delivery >> text=Read").wait_for()
    finally:
        desk.close()
        shop.close()


def test_a_second_device_does_not_count_lines_already_read(server: Server, browser) -> None:
    """Nadia reads Sara's lines at her desk (the console told Sara "read"), then picks up her
    phone and opens the console there. The phone counted every visitor line of the chat as
    unread, "(n)" in the title and a badge on Sara's tab, and raised a desktop notification
    for each old line, though she read them all minutes ago: what was read lived only in the
    desk browser's localStorage, and the catch-up `resume` from seq 0 replayed them as new.
    Lines read on one device should not count (or notify) on another."""
    add_user(server.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    desk = alerting(browser, server)
    try:
        page = desk.new_page()
        go_online(page, server, "nadia")
        with visitor(server, "Sara") as sara:
            page.wait_for_selector(".offer")
            page.click(".offer .btn-primary")
            page.wait_for_selector(".tab[aria-selected='true'] >> text=Sara")
            seq = sara.say("my order 1043 never came")
            page.locator(".transcript:not([hidden]) >> text=1043").wait_for()
            read_by_agent(sara, seq)  # read at the desk: the visitor was told so

            phone = alerting(browser, server, viewport=PHONE, **TOUCH)
            try:
                mobile = phone.new_page()
                log_in(mobile, server, "nadia")
                mobile.wait_for_url("**/console")
                mobile.wait_for_selector(".tab:has-text('Sara')")
                mobile.locator(".line-visitor >> text=1043").wait_for(state="attached")
                mobile.wait_for_timeout(500)
                counted = [mobile.title(), mobile.locator(".tab .unread").all_inner_texts(),
                           [n["body"] for n in taken(mobile, "notes")]]
                assert counted == ["Console · Helpdesk", [], []], f"title, badges, notes: {counted}"

                # Both open: a line the desk reads (its chat on screen there) is not left
                # unread on the phone, whichever comes first there, the line or the receipt.
                seq = sara.say("the parcel number is 7781")
                read_by_agent(sara, seq)
                mobile.locator(".line-visitor >> text=7781").wait_for(state="attached")
                expect(mobile).to_have_title("Console · Helpdesk")
                expect(mobile.locator(".tab .unread")).to_have_count(0)

                # The desk closed, a new line is read nowhere: the phone counts it.
                page.close()
                sara.say("are you still there?")
                expect(mobile).to_have_title("(1) Console · Helpdesk")
                expect(mobile.locator(".tab:has-text('Sara') .unread")).to_have_text("1")
            finally:
                phone.close()
    finally:
        desk.close()
