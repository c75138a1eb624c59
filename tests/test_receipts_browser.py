"""Read receipts both ways in Chromium, the real widget against the real console (issue 20 item
4): the widget hears `read` only once the agent had the visitor's line on screen; the console
says "Read" only once the visitor's open widget showed the agent's line; both survive the
console's reload, and a colleague who takes the chat over sees what the visitor already read.
In Persian the mark is a Persian word, and the alerts speak Persian."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .harness import Server, add_user
from .test_alerts_browser import (
    accept,
    alerting,
    go_online,
    read_by_agent,
    taken,
    unread_by_agent,
    visitor,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def desk(shared_server: Server) -> Server:
    """One server for the module: each test signs in its own agents, and every chat is ended
    when its test is done with it, so no offer of one test waits in the next."""
    return shared_server


def open_widget_chat(shop, server: Server):
    """The demo site's widget, asking for a person; its parts by CSS."""
    widget = shop.new_page()
    widget.goto(server.url + "/demo")
    part = lambda css: widget.locator(f"chat-widget {css}")  # noqa: E731
    part(".launcher").click()
    part(".prechat input[name='name']").fill("Sara")
    part(".prechat button[type='submit']").click()
    box = part(".composer textarea")
    box.fill("I want to talk to a human")
    box.press("Enter")
    return part


def delivery(line) -> str:
    """What a console line's delivery mark says to a screen reader: the ticks are hidden."""
    return line.locator(".delivery").evaluate(
        "d => Array.from(d.childNodes).filter(n => !(n.getAttribute && n.getAttribute("
        "'aria-hidden') === 'true')).map(n => n.textContent).join('').trim()")


def test_each_side_reads_only_what_was_shown_and_keeps_it_over_reload_and_transfer(
        desk: Server, browser, page) -> None:
    server = desk
    add_user(server.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    add_user(server.db, "bahram", skills={"lang:en": 1}, display_name="Bahram")
    go_online(page, server, "nadia")
    shop = browser.new_context(viewport={"width": 1280, "height": 800})
    colleague = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        part = open_widget_chat(shop, server)
        accept(page, "Sara")
        part(".note:has-text('Nadia joined the chat')").wait_for()
        with visitor(server, "Omar") as omar:
            accept(page, "Omar")  # Omar's chat on screen now

            # The visitor writes while the agent has another chat on screen: sent, not read.
            part(".composer textarea").fill("my order 1043 never came")
            part(".composer textarea").press("Enter")
            page.locator(".tab:has-text('Sara') .unread").wait_for()
            tick = part(".msg.mine .tick").last
            expect(tick).to_have_accessible_name("Sent")
            page.click(".tab:has-text('Sara')")
            expect(tick).to_have_accessible_name("Read")
            expect(tick).to_have_text("✓✓")

            # The widget's panel closed: the agent's line reaches it, but nobody read it.
            part(".launcher").click()
            page.fill("#composer-text", "Let me look that up")
            page.keyboard.press("Enter")
            mine = page.locator(".transcript:not([hidden]) .line-agent").last
            mine.locator(".delivery >> text=Sent").wait_for()
            expect(part(".launcher .badge")).to_be_visible()  # the widget has it, unread
            assert delivery(mine).startswith("Sent")
            part(".launcher").click()
            mine.locator(".delivery >> text=Read").wait_for()
            assert delivery(mine) == "Read"
            assert mine.locator(".delivery [aria-hidden='true']").inner_text() == "✓✓"

            # A reload: the console still knows what the visitor read, and counts nothing
            # the agent had read as unread.
            page.reload()
            page.wait_for_selector(".tab:has-text('Sara')")
            page.wait_for_selector(".tab:has-text('Omar')")
            page.locator(".line-agent:has-text('look that up') .delivery >> text=Read").wait_for(
                state="attached")
            assert page.locator(".tab .unread").count() == 0
            assert page.title() == "Console · Helpdesk"

            # Handed to a colleague while the visitor's panel is closed: his console marks
            # Nadia's line read too (the widget repeats what it read when he joins).
            part(".launcher").click()
            theirs = colleague.new_page()
            go_online(theirs, server, "bahram")
            page.click(".tab:has-text('Sara')")
            page.click("#transfer-btn")
            page.locator("#transfer-agent option:has-text('Bahram')").wait_for(state="attached")
            page.select_option("#transfer-agent", index=0)  # the only colleague
            page.click("#transfer-ok")
            accept(theirs, "Sara")
            line = theirs.locator(".transcript:not([hidden]) .line-agent:has-text('look that up')")
            line.locator(".delivery >> text=Read").wait_for()
            assert omar
            theirs.click("#close-btn")  # the widget's chat ends here: the next test's agent
            theirs.click("#close-resolved")  # is offered none of this one's
            theirs.wait_for_selector("#closed-bar:not([hidden])")
    finally:
        shop.close()
        colleague.close()


def test_in_persian_the_marks_and_alerts_are_persian(desk: Server, browser) -> None:
    server = desk
    add_user(server.db, "nadia-fa", skills={"lang:fa": 5, "lang:en": 5}, display_name="نادیا")
    context = alerting(browser, server, locale="fa-IR")
    page = context.new_page()
    try:
        go_online(page, server, "nadia-fa")
        assert page.evaluate("document.documentElement.dir") == "rtl"
        with visitor(server, "Sara") as sara, visitor(server, "Omar") as omar:
            page.wait_for_selector(".offer >> nth=1")
            accept(page, "Sara")
            page.fill("#composer-text", "سلام، در خدمتم")
            page.keyboard.press("Enter")
            seq = sara.next("message", **{"from": "agent"})["seq"]
            sara.ws.send(json.dumps({"type": "read", "seq": seq}))
            mine = page.locator(".transcript:not([hidden]) .line-agent").last
            mine.locator(".delivery >> text=خوانده شد").wait_for()
            assert delivery(mine) == "خوانده شد"

            accept(page, "Omar")
            taken(page, "notes")
            sara.say("سفارش ۱۰۴۳ کجاست؟")
            page.locator(".tab:has-text('Sara') .unread").wait_for()
            assert page.title() == "(۱) کنسول · میز پشتیبانی"
            notes = taken(page, "notes")
            assert [(n["title"], n["body"]) for n in notes] == [
                ("پیام تازه از Sara", "سفارش ۱۰۴۳ کجاست؟")]
            assert omar
    finally:
        context.close()


def test_on_a_phone_a_line_is_read_when_its_chat_is_the_view_on_screen(desk: Server,
                                                                       browser) -> None:
    """390 × 844: the open chat behind the chat list (or the visitor panel) is not on screen."""
    server = desk
    add_user(server.db, "nadia-phone", skills={"lang:en": 5}, display_name="Nadia")
    context = alerting(browser, server, viewport={"width": 390, "height": 844},
                       is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        go_online(page, server, "nadia-phone")
        with visitor(server, "Sara") as sara:
            page.wait_for_selector(".offer")
            page.click(".offer .btn-primary")
            page.wait_for_selector("#console[data-view='chat']")
            page.click("#back-btn")  # the list: Sara's chat is still the open one
            page.wait_for_selector("#console[data-view='list']")
            seq = sara.say("still there?")
            tab = page.locator(".tab:has-text('Sara')")
            tab.locator(".unread").wait_for()
            assert page.title() == "(1) Console · Helpdesk"
            assert [n["body"] for n in taken(page, "notes")] == ["still there?"]
            assert unread_by_agent(sara, seq)

            tab.click()
            page.wait_for_selector("#console[data-view='chat']")
            read_by_agent(sara, seq)
            assert page.title() == "Console · Helpdesk"

            page.click("#visitor-btn")  # the visitor panel takes the chat's place
            page.wait_for_selector("#console[data-view='visitor']")
            seq = sara.say("my order is 1043")
            page.wait_for_function("() => document.title.startsWith('(1)')")
            assert unread_by_agent(sara, seq)
            page.click("#side-back")
            page.wait_for_selector("#console[data-view='chat']")
            read_by_agent(sara, seq)
            page.wait_for_function("() => document.title === 'Console · Helpdesk'")
    finally:
        context.close()
