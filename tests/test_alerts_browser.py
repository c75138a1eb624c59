"""The console's alerts in Chromium against the real server (issue 20 item 4): a visitor's line in
a chat that is not on screen counts in the tab's title and the chat's tab, beeps (softer than an
offer) and raises a desktop notification whose click opens that chat; reading it clears the
count and tells the visitor. Each alert is switched off on /account, and an open console follows
at once; the switches outlive a reload.

Chromium's own Notification and AudioContext run; an init script wraps them to note what the
page asked for (headless Chromium shows no notification and plays to no speaker)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .harness import Server, add_user
from .test_console_browser import log_in
from .test_console_handoff_browser import Visitor
from .test_console_handoff_browser import visitor as asking

pytestmark = pytest.mark.browser

# Each notification made (title, body, tag) and each tone started (its frequency and the peak
# of the gain it plays through), in window.__notes and window.__tones.
CAPTURE = """
(() => {
  window.__notes = [];
  window.__tones = [];
  const RealNotification = window.Notification;
  window.Notification = class extends RealNotification {
    constructor(title, options = {}) {
      super(title, options);
      window.__notes.push({ title, body: options.body || "", tag: options.tag || "" });
      window.__lastNote = this;
    }
  };
  const RealAudio = window.AudioContext;
  window.AudioContext = class extends RealAudio {
    createGain() {
      const node = super.createGain();
      const ramp = node.gain.exponentialRampToValueAtTime.bind(node.gain);
      node.gain.exponentialRampToValueAtTime = (value, at) => {
        node.peak = Math.max(node.peak || 0, value);
        return ramp(value, at);
      };
      return node;
    }
    createOscillator() {
      const osc = super.createOscillator();
      const connect = osc.connect.bind(osc);
      osc.connect = (node, ...rest) => { osc.through = node; return connect(node, ...rest); };
      const start = osc.start.bind(osc);
      osc.start = (...args) => {
        window.__tones.push({ freq: osc.frequency.value, peak: (osc.through || {}).peak || 0 });
        return start(...args);
      };
      return osc;
    }
  };
})();
"""


@pytest.fixture(scope="module")
def desk(shared_server: Server) -> Server:
    """One server for the module: each test signs in its own agent, and its visitors end their
    chats as they leave (`visitor`), so no offer of one test waits in the next."""
    return shared_server


@contextmanager
def visitor(server: Server, name: str) -> Iterator[Visitor]:
    """A visitor who asks for a person, and ends the chat when the test is done with it (on a
    server tests share, it would be offered to the next test's agent)."""
    with asking(server, name) as v:
        try:
            yield v
        finally:
            v.ws.send(json.dumps({"type": "close", "id": "bye"}))
            v.next("ack", id="bye")


def alerting(browser, server: Server, **options):
    """A browser context whose pages may notify, with the page's alerts noted."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
    context.grant_permissions(["notifications"], origin=server.url)
    context.add_init_script(CAPTURE)
    return context


def taken(page, name: str) -> list[dict]:
    """What the page noted in window.__<name> since the last call."""
    return page.evaluate(f"(() => {{ const x = window.__{name}; window.__{name} = []; "
                         "return x; })()")


def read_by_agent(v: Visitor, seq: int, seconds: float = 5) -> None:
    """Wait for the agent's read receipt covering `seq` (a receipt covers every earlier line)."""
    deadline = time.monotonic() + seconds
    while not any(s >= seq for s in v.receipts):
        v.next("read", timeout=max(0.01, deadline - time.monotonic()))
    v.receipts.clear()


def unread_by_agent(v: Visitor, seq: int) -> bool:
    """No receipt covers `seq` within half a second (older receipts may still come in)."""
    return all(s < seq for s in v.reads(0.5))


def go_online(page, server: Server, username: str) -> None:
    log_in(page, server, username)
    page.wait_for_url("**/console")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")  # a click: the page may start audio from here on
    page.wait_for_selector('#status-online[aria-checked="true"]')


def accept(page, name: str) -> None:
    page.click(f".offer:has-text('{name}') .btn-primary")
    page.wait_for_selector(f".tab[aria-selected='true'] >> text={name}")


def test_a_line_off_screen_counts_beeps_and_notifies_until_it_is_read(desk: Server,
                                                                        browser) -> None:
    server = desk
    add_user(server.db, "nadia", skills={"lang:en": 5}, display_name="Nadia")
    context = alerting(browser, server)
    page = context.new_page()
    try:
        go_online(page, server, "nadia")
        with visitor(server, "Sara") as sara, visitor(server, "Omar") as omar:
            page.wait_for_selector(".offer >> nth=1")
            assert page.title() == "(2) Console · Helpdesk"  # two offers wait
            offer_tones = taken(page, "tones")
            assert offer_tones, "an offer beeps"
            accept(page, "Sara")
            accept(page, "Omar")
            assert page.title() == "Console · Helpdesk"
            taken(page, "notes")
            taken(page, "tones")

            # Omar's chat is on screen; Sara writes.
            seq = sara.say("is my refund done?")
            sara_tab = page.locator(".tab:has-text('Sara')")
            sara_tab.locator(".unread").wait_for()
            assert sara_tab.locator(".unread").inner_text() == "1"
            assert page.title() == "(1) Console · Helpdesk"
            notes = taken(page, "notes")
            assert [(n["title"], n["body"]) for n in notes] == [
                ("New message from Sara", "is my refund done?")]
            line_tones = taken(page, "tones")
            assert line_tones, "a line beeps"
            assert max(t["peak"] for t in line_tones) < min(t["peak"] for t in offer_tones)
            assert unread_by_agent(sara, seq)  # not on screen: not read

            # A click on the notification opens Sara's chat: read, the counts gone.
            page.evaluate("window.__lastNote.dispatchEvent(new Event('click'))")
            page.wait_for_selector(".tab[aria-selected='true'] >> text=Sara")
            assert page.title() == "Console · Helpdesk"
            assert sara_tab.locator(".unread").count() == 0
            read_by_agent(sara, seq)

            # A line in the chat on screen, the tab in view: read at once, no alert.
            seq = sara.say("order 1043")
            page.locator(".transcript:not([hidden]) >> text=order 1043").wait_for()
            read_by_agent(sara, seq)
            assert taken(page, "notes") == [] and taken(page, "tones") == []
            assert page.title() == "Console · Helpdesk"

            # Omar writes twice: his tab counts both, one notification per chat (its tag).
            omar.say("hello?")
            omar.say("anyone there?")
            page.wait_for_function("() => document.title.startsWith('(2)')")
            assert page.locator(".tab:has-text('Omar') .unread").inner_text() == "2"
            notes = taken(page, "notes")
            assert [n["body"] for n in notes] == ["hello?", "anyone there?"]
            assert len({n["tag"] for n in notes}) == 1
            page.click(".tab:has-text('Omar')")
            page.wait_for_function("() => document.title === 'Console · Helpdesk'")
    finally:
        context.close()


def save_switches(account, **switches: bool) -> None:
    """Set the alert switches on /account and save them."""
    account.wait_for_selector("#alert-switches:not([disabled])")
    for name, on in switches.items():
        account.set_checked(f"#alerts-form input[name='{name}']", on)
    with account.expect_response("**/api/account/preferences") as saved:
        account.click("#alerts-form button[type='submit']")
    assert saved.value.ok
    account.wait_for_selector("#alerts-done:visible")


def test_each_alert_is_switched_off_on_account_and_the_open_console_follows(
        desk: Server, browser) -> None:
    server = desk
    add_user(server.db, "nadine", skills={"lang:en": 5}, display_name="Nadine")
    context = alerting(browser, server)
    page = context.new_page()
    try:
        go_online(page, server, "nadine")
        account = context.new_page()
        account.goto(server.url + "/account")
        account.wait_for_selector("#alert-switches:not([disabled])")
        for name in ("sound", "desktop", "title"):  # all on to begin with
            assert account.is_checked(f"#alerts-form input[name='{name}']")
        with visitor(server, "Sara") as sara, visitor(server, "Omar") as omar:
            page.wait_for_selector(".offer >> nth=1")
            accept(page, "Sara")
            accept(page, "Omar")
            sara_tab = page.locator(".tab:has-text('Sara')")

            def sara_writes(text: str) -> tuple[list, list, str]:
                """Sara's line with Omar's chat on screen: the notes, the tones, the title."""
                taken(page, "notes")
                taken(page, "tones")
                sara.say(text)
                sara_tab.locator(".unread").wait_for()
                noted = (taken(page, "notes"), taken(page, "tones"), page.title())
                page.click(".tab:has-text('Sara')")  # read it, and back to Omar
                page.click(".tab:has-text('Omar')")
                sara_tab.locator(".unread").wait_for(state="detached")
                return noted

            save_switches(account, sound=False)
            notes, tones, title = sara_writes("one")
            assert tones == [] and len(notes) == 1 and title == "(1) Console · Helpdesk"

            save_switches(account, sound=True, desktop=False)
            notes, tones, title = sara_writes("two")
            assert tones and notes == [] and title == "(1) Console · Helpdesk"

            save_switches(account, desktop=True, title=False)
            notes, tones, title = sara_writes("three")
            assert len(notes) == 1 and title == "Console · Helpdesk"

            # The switches are the user's: a reloaded console and /account read them back.
            page.reload()
            page.wait_for_selector('#conn[data-state="online"]')
            page.wait_for_selector(".tab:has-text('Omar')")
            page.click(".tab:has-text('Omar')")
            sara.say("four")
            sara_tab.locator(".unread").wait_for()
            assert page.title() == "Console · Helpdesk"
            account.reload()
            account.wait_for_selector("#alert-switches:not([disabled])")
            assert account.is_checked("#alerts-form input[name='sound']")
            assert not account.is_checked("#alerts-form input[name='title']")
            assert omar
    finally:
        context.close()

