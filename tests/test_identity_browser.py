"""Verified identity and visitor history in Chromium: the demo shop calls
ChatWidget.identify with its server's hash, and the agent console shows the verified mark,
"returning visitor" at a glance on the offer, the visitor's earlier chat in the visitor
panel, and opens it read-only."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from .browser import screenshot
from .harness import Server, add_user, sql
from .test_console_browser import log_in, next_frame
from .test_identity import IDENTITY_SECRET, signed

pytestmark = pytest.mark.browser

expect.set_options(timeout=10_000)

CUSTOMER = {"id": "cust-100", "name": "Ann Lee", "email": "ann@example.com",
            "hash": signed("cust-100")}


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, CHATSERVER_IDENTITY_SECRET=IDENTITY_SECRET)
    add_user(srv.db, "carol", skills={"lang:en": 5}, display_name="Carol")
    add_user(srv.db, "dave", skills={"lang:en": 5}, display_name="Dave")
    yield srv.start()
    srv.stop()
    assert IDENTITY_SECRET not in srv.log.read_text()


def send(ws, kind: str, **fields) -> None:
    ws.send(json.dumps({"type": kind, "id": uuid.uuid4().hex, **fields}))


def earlier_chat(server: Server) -> None:
    """Yesterday, on her phone: Ann (signed in) asked Dave, who solved it; she rated it 4."""
    cookie = "; ".join(f"{k}={v}" for k, v in server.login("dave").items())
    with connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as dave, \
            connect(server.ws + "/ws/visitor") as phone:
        dave.send(json.dumps({"type": "hello"}))
        next_frame(dave, "welcome")
        dave.send(json.dumps({"type": "status", "status": "online"}))
        next_frame(dave, "status")
        phone.send(json.dumps({"type": "hello", "language": "en", "identity": CUSTOMER}))
        assert next_frame(phone, "welcome")["verified"] is True
        send(phone, "request_human")
        cid = next_frame(phone, "ack")["conversation_id"]
        send(phone, "message", text="My first order never came")
        offer = next_frame(dave, "offer")
        assert offer["conversation"]["id"] == cid
        send(dave, "accept", conversation_id=cid)
        send(dave, "message", conversation_id=cid, text="Resent it today, sorry!")
        send(dave, "close", conversation_id=cid, resolved=True)
        next_frame(phone, "survey_request")
        send(phone, "survey", rating=4)
        next_frame(phone, "ack")


def eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return result


def part(page, css: str, **options):
    return page.locator(f"chat-widget {css}", **options)


def test_the_console_shows_the_verified_customer_and_their_history(shop: Server, browser,
                                                                    page) -> None:
    earlier_chat(shop)
    log_in(page, shop, "carol")
    page.wait_for_url("**/console")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')

    # Today, on her laptop (another browser, no token): the shop's page identifies her.
    laptop = browser.new_context(locale="en-US")
    try:
        shop_page = laptop.new_page()
        shop_page.goto(shop.url + "/demo")
        # (polled from here: wait_for_function evaluates a string, which the demo's CSP refuses)
        eventually(lambda: shop_page.evaluate("() => !!window.ChatWidget && !window.ChatWidget._q"))
        shop_page.evaluate("c => ChatWidget.identify(c)", CUSTOMER)
        part(shop_page, ".launcher").click()
        box = part(shop_page, ".composer textarea")
        box.fill("Hello again, about my order")
        box.press("Enter")
        part(shop_page, "button", has_text="Talk to a person").click()

        offer = page.locator(".offer")
        expect(offer).to_contain_text("Ann Lee")
        expect(offer.locator(".id-verified")).to_have_text("✓ Verified")
        expect(offer.locator(".offer-visitor")).to_contain_text(
            "returning visitor · 1 chat · last rating ★4")
        screenshot(page, "identity-offer")
        page.click(".offer .btn-primary")

        # The chat tab carries the mark; the visitor panel the site's id, email and history.
        expect(page.locator('.tab[aria-selected="true"] .id-verified')).to_be_visible()
        facts = page.locator("#visitor-facts")
        expect(facts).to_contain_text("cust-100")
        expect(facts).to_contain_text("ann@example.com")
        item = page.locator("#visitor-history .history-item")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("My first order never came")
        expect(item).to_contain_text("Dave")
        expect(item).to_contain_text("★4")
        expect(page.locator("#visitor-glance")).to_have_text(
            "returning visitor · 1 chat · last rating ★4")
        screenshot(page, "identity-history")

        # Opened read-only: the earlier transcript in a dialog, nothing to write in it.
        item.click()
        dialog = page.locator("#history-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator(".bubble-visitor")).to_have_text("My first order never came")
        expect(dialog.locator(".bubble-agent")).to_have_text("Resent it today, sorry!")
        assert dialog.locator("textarea, input").count() == 0
        page.click("#history-close")
        expect(dialog).to_be_hidden()
        # The chat of today is still the one to answer.
        expect(page.locator(".transcript:not([hidden]) .bubble-visitor").last).to_have_text(
            "Hello again, about my order")
    finally:
        laptop.close()


def test_identify_after_the_chat_started_keeps_the_chat(shop: Server, browser, page) -> None:
    """A shopper chats first and logs in after, as a customer who chatted before on another
    device: the widget reconnects with the identity, takes that customer's token, and the same
    chat goes on, now the customer's (their history holds the earlier one too)."""
    earlier_chat(shop)
    page.set_default_timeout(10_000)
    page.goto(shop.url + "/demo")
    part(page, ".launcher").click()
    part(page, ".prechat input[name=name]").fill("Guest")
    part(page, ".prechat button", has_text="Start chat").click()
    box = part(page, ".composer textarea")
    box.fill("how do I track my package")
    box.press("Enter")
    expect(part(page, ".msg.bot").last).to_contain_text("My account")
    (cid,) = eventually(lambda: sql(shop.db, "SELECT id FROM conversations WHERE "
                                             "state != 'closed'"))
    token = "() => JSON.parse(localStorage.getItem('chatwidget:northwind')).state.token"
    anonymous = page.evaluate(token)

    page.evaluate("c => ChatWidget.identify(c)", CUSTOMER)
    eventually(lambda: sql(shop.db, "SELECT 1 FROM visitors v JOIN conversations c ON "
                                    "c.visitor_id = v.id WHERE c.id = ? AND v.verified = 1 "
                                    "AND v.external_id = 'cust-100'", (cid[0],)))
    eventually(lambda: page.evaluate(token) != anonymous)
    assert sql(shop.db, "SELECT count(*) FROM conversations c JOIN visitors v ON "
                        "c.visitor_id = v.id WHERE v.external_id = 'cust-100'") == [(2,)]
    box.fill("and after")
    box.press("Enter")
    expect(part(page, ".msg.mine").last).to_contain_text("and after")
    eventually(lambda: sql(shop.db, "SELECT 1 FROM events WHERE conversation_id = ? AND "
                                    "payload LIKE '%and after%'", (cid[0],)))
    assert part(page, ".msg.mine").count() == 2  # nothing lost, nothing twice


def test_the_console_follows_a_visitor_who_logs_in_mid_chat(shop: Server, browser,
                                                             page) -> None:
    """Carol serves an anonymous shopper, who then logs in as a customer known from another
    device: the chat moves to that customer (a `rehomed` event), and Carol's panel follows at
    once: ✓ Verified, the site's id and email, and the earlier chat (it was "The history could
    not be loaded." under the anonymous id, and Unverified)."""
    earlier_chat(shop)
    log_in(page, shop, "carol")
    page.wait_for_url("**/console")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    tablet = browser.new_context(locale="en-US")
    try:
        shop_page = tablet.new_page()
        shop_page.goto(shop.url + "/demo")
        eventually(lambda: shop_page.evaluate("() => !!window.ChatWidget && !window.ChatWidget._q"))
        part(shop_page, ".launcher").click()
        part(shop_page, ".prechat input[name=name]").fill("Guest")
        part(shop_page, ".prechat button", has_text="Start chat").click()
        box = part(shop_page, ".composer textarea")
        box.fill("where is my refund")
        box.press("Enter")
        part(shop_page, "button", has_text="Talk to a person").click()
        page.click(".offer .btn-primary")
        expect(page.locator("#visitor-facts")).to_contain_text("Unverified")
        expect(page.locator("#visitor-history")).to_contain_text("No earlier conversations.")

        shop_page.evaluate("c => ChatWidget.identify(c)", CUSTOMER)
        facts = page.locator("#visitor-facts")
        expect(facts).to_contain_text("✓ Verified")
        expect(facts).to_contain_text("cust-100")
        expect(facts).to_contain_text("ann@example.com")
        expect(page.locator('.tab[aria-selected="true"] .id-verified')).to_be_visible()
        item = page.locator("#visitor-history .history-item")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("My first order never came")
        expect(page.locator(".transcript:not([hidden])")).to_contain_text(
            "The visitor logged in: the chat moved to their verified identity")
        screenshot(page, "identity-logged-in-mid-chat")
        # The chat goes on both ways.
        page.fill("#composer-text", "Found your refund")
        page.press("#composer-text", "Enter")
        expect(part(shop_page, ".msg.agent").last).to_contain_text("Found your refund")
    finally:
        tablet.close()
