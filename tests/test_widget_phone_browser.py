"""The widget on a 375×667 phone, in Chinese, Persian and Arabic, against the real server with a
real agent (issue 16 item 6): Send can be tapped and sits on one line, the bot's answer shows
its Markdown as elements under a translated author, and the header forgets the agent at close."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .browser import screenshot
from .harness import Server
from .test_widget_browser import Agent, embed, host_page, part, staffed

pytestmark = pytest.mark.browser

expect.set_options(timeout=5000)

# An answer of the default knowledge base with bold, a link and *italic* in each language.
QUESTION = {"zh": "可以取消订单吗？", "fa": "می‌توانم سفارشم را لغو کنم؟",
            "ar": "هل يمكنني إلغاء طلبي؟"}
# widget/i18n.js: the author label of the bot's lines, "Talk to a person", the chat-ended note
BOT = {"zh": "智能客服", "fa": "ربات", "ar": "المساعد الآلي"}
HUMAN = {"zh": "转人工客服", "fa": "صحبت با پشتیبان", "ar": "التحدث إلى موظف"}
MOBILE = '<meta name="viewport" content="width=device-width, initial-scale=1">'
ENDED = {"zh": "对话已结束", "fa": "گفتگو به پایان رسید", "ar": "انتهت المحادثة"}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Agent]]:
    """A server with Layla online, who speaks the three languages."""
    with staffed(tmp_path_factory.mktemp("phone"), "layla",
                 {"lang:zh": 5, "lang:fa": 5, "lang:ar": 5}, "Layla") as staff:
        yield staff


def tap_centre(page, locator) -> None:
    """A finger on the middle of the element: whatever is on top there gets the tap."""
    box = locator.bounding_box()
    assert box is not None
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


@pytest.mark.parametrize("lang", ["zh", "fa", "ar"])
def test_a_chat_on_a_phone(desk, site, phone, lang: str) -> None:
    server, agent = desk
    page = phone
    host_page(page, site, f"/{lang}/phone", embed(server, lang=lang, head=MOBILE))
    part(page, ".launcher").tap()
    panel = part(page, ".panel")
    expect(panel).to_be_visible()
    assert panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(part(page, ".launcher")).to_be_hidden()  # it sat on Send

    send = part(page, ".composer button[type=submit]")
    lines = send.evaluate("""(b) => {
        const r = document.createRange();
        r.selectNodeContents(b);
        return r.getClientRects().length;
    }""")
    assert lines == 1  # 发送 used to break into 发 / 送

    part(page, ".composer textarea").fill(QUESTION[lang])
    tap_centre(page, send)
    expect(part(page, ".msg.mine")).to_have_count(1)
    expect(panel).to_be_visible()

    answer = part(page, ".msg.bot").last
    expect(answer.locator(".who")).to_have_text(BOT[lang])
    expect(answer.locator(".text em").first).to_be_visible()
    expect(answer.locator(".text strong").first).to_be_visible()
    assert answer.locator(".text a").first.get_attribute("href", timeout=1000).startswith(
        "https://")
    assert "*" not in answer.locator(".text").inner_text()
    screenshot(page, f"widget-phone-{lang}")

    part(page, "button", has_text=HUMAN[lang]).last.tap()
    cid = agent.expect("offer")["conversation"]["id"]
    agent.request("accept", conversation_id=cid)
    expect(part(page, ".status")).to_contain_text("Layla")
    agent.request("close", conversation_id=cid, resolved=True)
    expect(part(page, ".note").last).to_have_text(ENDED[lang])
    expect(part(page, ".status")).not_to_contain_text("Layla")

    part(page, "header .icon").last.tap()  # ×
    expect(panel).to_be_hidden()
    expect(part(page, ".launcher")).to_be_visible()
