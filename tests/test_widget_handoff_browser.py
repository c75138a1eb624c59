"""From "Talk to a person" to a person, on a 375×667 phone (issue 16 item 1): the status line
always says where the visitor is — connecting while an agent is asked (and again after a
decline), place and ETA while queued, the agent's name once they join — within 1 s of the tap,
and the "Talk to a person" control is gone once asked. Real server, real agent socket,
Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .harness import Server
from .test_widget_browser import Agent, Site, embed, host_page, part, staffed

pytestmark = pytest.mark.browser

expect.set_options(timeout=5000)

MOBILE = '<meta name="viewport" content="width=device-width, initial-scale=1">'
# widget/i18n.js: "Talk to a person", "Connecting you to an agent…", the place in line
HUMAN = {"en": "Talk to a person", "zh": "转人工客服", "fa": "صحبت با پشتیبان",
         "ar": "التحدث إلى موظف"}
CONNECTING = {"en": "Connecting you to an agent…", "zh": "正在为您转接客服…",
              "fa": "در حال اتصال شما به پشتیبان…", "ar": "جارٍ توصيلك بموظف…"}
FIRST_IN_LINE = "You are number 1 in line"
# Every text the status line shows, with the page's clock, from before the tap on.
WATCH = """() => {
    const status = document.querySelector('chat-widget').shadowRoot.querySelector('.status');
    window.statusLog = [];
    new MutationObserver(() => window.statusLog.push([performance.now(), status.textContent]))
        .observe(status, {childList: true, characterData: true, subtree: true});
    return performance.now();
}"""


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Agent]]:
    """Ann online, one chat at a time; a declined chat may come back to her after 1 s."""
    with staffed(tmp_path_factory.mktemp("handoff"), "ann", {f"lang:{x}": 5 for x in HUMAN},
                 "Ann", capacity=1, CHATSERVER_ROUTING_REOFFER_AFTER_SECONDS="1") as staff:
        yield staff


def ask_for_a_person(page, site: Site, server: Server, lang: str, path: str) -> float:
    """Open the widget, tap "Talk to a person"; returns the page time of the tap."""
    host_page(page, site, path, embed(server, lang=lang, head=MOBILE))
    part(page, ".launcher").tap()
    human = part(page, ".foot .row button", has_text=HUMAN[lang])
    expect(human).to_be_visible()
    expect(part(page, ".status")).to_have_text("")  # online: nothing to say yet
    start = page.evaluate(WATCH)
    human.tap()
    expect(human).to_be_hidden()  # asked: the control is gone
    return float(start)


def shown_after(page, start: float, text: str) -> float:
    """Seconds from the tap until the status line first read `text` (or anything, if '')."""
    page.wait_for_function("t => window.statusLog.some(([, s]) => t ? s.includes(t) : s)", arg=text)
    log = page.evaluate("window.statusLog")
    return min(t for t, s in log if (text in s if text else s)) / 1000 - start / 1000


@pytest.mark.parametrize("lang", ["en", "zh", "fa", "ar"])
def test_connecting_shows_within_a_second_then_the_agent(desk, site, phone, lang: str) -> None:
    server, ann = desk
    start = ask_for_a_person(phone, site, server, lang, f"/{lang}/ask")
    cid = ann.expect("offer")["conversation"]["id"]
    first = shown_after(phone, start, "")
    assert first <= 1.0, first
    expect(part(phone, ".status")).to_have_text(CONNECTING[lang])
    print(f"{lang}: first visible state {first * 1000:.0f} ms after the tap")
    ann.request("accept", conversation_id=cid)
    expect(part(phone, ".status")).to_have_text("Ann")
    expect(part(phone, ".foot .row button", has_text=HUMAN[lang])).to_be_hidden()
    ann.request("close", conversation_id=cid, resolved=True)
    expect(part(phone, ".status")).to_have_text("")


def test_queued_then_offered_again_after_a_decline(desk, site, phone, browser) -> None:
    """Ann busy: the place and ETA, sent by the server, within 1 s; free again: connecting;
    she declines: the place again, then (her exclusion over) connecting again."""
    server, ann = desk
    other = browser.new_context().new_page()  # another visitor takes Ann's only slot
    host_page(other, site, "/en/busy", embed(server, lang="en"))
    part(other, ".launcher").click()
    part(other, ".foot .row button", has_text=HUMAN["en"]).click()
    busy = ann.expect("offer")["conversation"]["id"]
    ann.request("accept", conversation_id=busy)

    start = ask_for_a_person(phone, site, server, "en", "/en/queued")
    placed = shown_after(phone, start, FIRST_IN_LINE)
    assert placed <= 1.0, placed
    expect(part(phone, ".status")).to_contain_text("about")  # an ETA, not "waiting"
    print(f"queued: place and ETA {placed * 1000:.0f} ms after the tap")

    ann.request("close", conversation_id=busy, resolved=True)
    cid = ann.expect("offer")["conversation"]["id"]
    expect(part(phone, ".status")).to_have_text(CONNECTING["en"])
    ann.request("decline", conversation_id=cid)
    expect(part(phone, ".status")).to_contain_text(FIRST_IN_LINE)
    again = ann.expect("offer", timeout=5)["conversation"]["id"]
    assert again == cid
    expect(part(phone, ".status")).to_have_text(CONNECTING["en"])
    ann.request("accept", conversation_id=cid)
    expect(part(phone, ".status")).to_have_text("Ann")
    ann.request("close", conversation_id=cid, resolved=True)
    other.context.close()
