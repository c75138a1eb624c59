"""The widget's "e-mail me this chat" in real Chromium, on another site's page, against the real
server and a real SMTP server: offered after the chat ends, in the page's language, to the
address of the visitor the site signed in; one click queues it and the mail arrives; nothing is
offered to a visitor who only typed an address."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from .browser import Site, screenshot
from .harness import Server
from .smtp_sink import SmtpSink
from .test_identity import IDENTITY_SECRET, signed
from .test_identity_browser import eventually
from .test_widget_browser import embed, host_page, part, say

pytestmark = pytest.mark.browser


@pytest.fixture
def mailing(tmp_path):
    sink = SmtpSink().start()
    server = Server(tmp_path, **sink.env(CHATSERVER_IDENTITY_SECRET=IDENTITY_SECRET)).start()
    yield server, sink
    server.stop()
    sink.stop()


def end_chat(page) -> None:
    part(page, "button", has_text="پایان گفتگو").first.click()
    expect(part(page, ".note").last).to_have_text("گفتگو به پایان رسید")


def test_a_persian_visitor_mails_themselves_the_chat_after_it_ends(mailing, site: Site,
                                                                   page) -> None:
    server, sink = mailing
    host_page(page, site, "/fa/shop", embed(server, lang="fa"))
    # Signed in on the shop: the page identifies her with the shop server's signature, the
    # only kind of address a transcript goes to (docs/email.md).
    eventually(lambda: page.evaluate("() => !!window.ChatWidget && !window.ChatWidget._q"))
    page.evaluate("c => ChatWidget.identify(c)", {"id": "cust-mina", "name": "مینا",
                                                  "email": "mina@example.com",
                                                  "hash": signed("cust-mina")})
    part(page, ".launcher").click()
    say(page, "سفارشم کجاست؟")
    expect(part(page, ".msg.bot").last).to_be_visible()
    end_chat(page)
    offer = part(page, "button", has_text="ارسال این گفتگو به ایمیلم (m***@example.com)")
    expect(offer).to_be_visible()
    offer.click()
    expect(part(page, "button", has_text="به m***@example.com فرستاده شد.")).to_be_disabled()
    screenshot(page, "widget-fa-transcript-mailed")
    (mail,) = sink.wait_for(1)
    assert mail["To"] == "mina@example.com" and mail["Subject"] == "متن گفتگوی شما"
    assert "سفارشم کجاست؟" in mail.get_body(("plain",)).get_content()


def test_no_offer_to_an_address_typed_in_the_form(mailing, site: Site, page) -> None:
    """An address typed in the pre-chat form proves nothing (anyone can type anyone's)."""
    server, sink = mailing
    host_page(page, site, "/fa/other", embed(server, lang="fa", attrs='data-prechat="true"'))
    part(page, ".launcher").click()
    part(page, ".prechat input[name=name]").fill("مینا")
    part(page, ".prechat input[name=email]").fill("mina@example.com")
    part(page, ".prechat button[type=submit]").click()
    say(page, "سلام")
    expect(part(page, ".msg.bot").last).to_be_visible()
    end_chat(page)
    expect(part(page, "button", has_text="گفتگوی تازه")).to_be_visible()
    time.sleep(0.5)  # the server's answer (409 no_address) has come and shown nothing
    expect(part(page, "button", has_text="ایمیلم")).to_have_count(0)
    assert sink.messages == []
