"""The agent console in Persian, Chinese and Arabic, on a phone and in the dark, in Chromium
against the real server with real visitor sockets: go online, accept an offer, read the
transcript, reply (the visitor receives it), insert a canned response (the "/" picker and the
side list), close.

Each view is checked as a reader would: nothing wider than the window, no English left in what
the page shows (text and the aria-label/title/placeholder of visible elements; Latin letters
only in data the test put there or in the exceptions named in ALLOWED), Persian digits and the
Persian calendar in fa, the chat list and the back button on the right in right-to-left, and on
a phone touch targets at least 44 px high.

DOCS_SCREENSHOTS=1 also writes the README's and docs/console.md's pictures of the Persian
console (docs/screenshots/console-fa*.png) from these runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .browser import screenshot
from .harness import Server, add_user
from .test_console_browser import log_in, next_frame, visitor
from .test_offline_messages import leave_message

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Latin words a translated console still shows, and why: key caps as printed on keyboards
# (Enter, Shift, Alt: the desktop's shortcut help and composer hint; both hidden on a phone),
# PDF (a file format's name, in the attach button's title) and the visitor's language tag in
# "فارسی (fa)" (languageName, common.js, so that staff see the code the widget sent).
ALLOWED = {"Enter", "Shift", "Alt", "PDF", "fa", "ar", "zh", "CN"}

# Every piece of text a reader meets on the page as it is: visible text nodes, and the
# aria-label, title and placeholder of visible elements, with the element's class for the
# message. Canned responses' shortcuts and titles are the desk's data (the seeded set is
# titled in English), like the visitor's name; they are left out.
READ = """() => {
  const out = [];
  const data = '.pick-key, .pick-title, .canned-item, .canned-row';
  const shown = (el) => el.checkVisibility({ visibilityProperty: true });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || !n.textContent.trim() || p.closest('script, style') || p.closest(data)) continue;
    if (!shown(p)) continue;
    out.push([n.textContent.trim(), `${p.tagName.toLowerCase()}.${p.className}`]);
  }
  for (const el of document.body.querySelectorAll('[aria-label], [title], [placeholder]')) {
    if (!shown(el) || el.closest(data)) continue;
    for (const a of ['aria-label', 'title', 'placeholder']) {
      if (el.getAttribute(a)) out.push([el.getAttribute(a), `${el.tagName.toLowerCase()}[${a}]`]);
    }
  }
  out.push([document.title, 'title']);
  return out;
}"""

# Controls one taps, on screen and smaller than 44 px high (WCAG 2.5.5).
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'button, a[href], select, textarea, summary, [role="tab"], [role="radio"], [role="option"]')]
  .filter((el) => el.checkVisibility({ visibilityProperty: true }))
  .map((el) => [el.id || el.className || el.tagName, el.getBoundingClientRect().height])
  .filter(([, h]) => h > 0 && h < 43.5)"""


def english_left(page, *data: str) -> list[str]:
    """Latin words the page shows that are neither `data` the test put there nor ALLOWED."""
    # The open chat's conversation id, whose start the visitor panel shows.
    cid = page.evaluate("(document.querySelector('.tab[aria-selected=\"true\"]') || {dataset: {}})"
                        ".dataset.cid || ''")
    found = []
    for text, where in page.evaluate(READ):
        for value in (*data, cid[:8]):
            if value:
                text = text.replace(value, " ")
        words = [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED]
        if words:
            found.append(f"{where}: {text!r}")
    return found


def no_overflow(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide in a {width[1]} px window"


def box(page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not on the page"
    return found


def shoot(page, name: str) -> None:
    """A test artifact; with DOCS_SCREENSHOTS=1 the docs' picture too."""
    path = screenshot(page, name)
    if os.environ.get("DOCS_SCREENSHOTS"):
        shutil.copyfile(path, DOCS / f"{name}.png")


def say(ws, text: str) -> None:
    ws.send(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": text}))


@contextmanager
def online(browser, server: Server, username: str, **options: Any) -> Iterator[Any]:
    """`username`'s console, Online, in a browser context with `options` (viewport, locale,
    colour scheme); Away again before the context goes, as a closed tab stays online for the
    grace period and would be offered the next test's visitor."""
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        log_in(page, server, username)
        page.wait_for_url("**/console")
        page.wait_for_selector('#conn[data-state="online"]')
        page.click("#status-online")
        page.wait_for_selector('#status-online[aria-checked="true"]')
        yield page
        page.click("#status-away")
        page.wait_for_selector('#status-away[aria-checked="true"]')
    finally:
        context.close()


def close_resolved(page, ws, said: str, *data: str) -> None:
    """Close the open chat as resolved: the dialog in the page language, `said` in the bar
    afterwards, the visitor told."""
    page.click("#close-btn")
    page.wait_for_selector("#close-dialog[open]")
    assert english_left(page, *data) == []
    no_overflow(page)
    page.click("#close-resolved")
    page.wait_for_selector(f"#closed-bar:not([hidden]) >> text={said}")
    assert next_frame(ws, "closed")["by"] == "agent"


@pytest.fixture(scope="module")
def desk(shared_server: Server) -> Server:
    add_user(shared_server.db, "maryam", skills={"lang:fa": 5}, display_name="مریم")
    add_user(shared_server.db, "lin", skills={"lang:zh": 5}, display_name="林晓")
    add_user(shared_server.db, "huda", skills={"lang:ar": 5}, display_name="هدى")
    return shared_server


def test_persian_on_a_phone_in_the_dark_from_offer_to_close(desk: Server, browser) -> None:
    with online(browser, desk, "maryam", viewport=PHONE, is_mobile=True, has_touch=True,
                locale="fa-IR", color_scheme="dark") as page:
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") \
            == ["fa", "rtl"]
        # Dark: the page's background is the dark palette's, not white.
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 23, 32)"
        # The list is the view; the top bar keeps the switch and the queue on screen.
        assert page.locator("#console").get_attribute("data-view") == "list"
        for control in ("#status-online", "#status-away", "#queue-info"):
            place = box(page, control)
            assert place["x"] >= 0 and place["x"] + place["width"] <= PHONE["width"], control
        no_overflow(page)

        with visitor(desk, "رضا", "سلام، سفارش 4711 من نرسیده", language="fa") as reza:
            offer = page.wait_for_selector(".offer")
            assert "رضا" in offer.inner_text()
            assert re.search("[۰-۹]", page.locator(".offer .countdown").inner_text())
            assert english_left(page, "4711") == []
            no_overflow(page)
            assert page.evaluate(SMALL_TARGETS) == []
            screenshot(page, "console_fa_phone_offer")
            page.tap(".offer .btn-primary")

            # The chat is the view now, with the way back on the right (right to left).
            page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor")
            assert page.locator("#console").get_attribute("data-view") == "chat"
            assert not page.locator(".rail").is_visible()
            back = box(page, "#back-btn")
            assert back["x"] > PHONE["width"] / 2, "the back button is not on the right"
            bubble = page.locator(".transcript:not([hidden]) .bubble-visitor").first
            assert bubble.inner_text() == "سلام، سفارش 4711 من نرسیده"
            times = page.locator(".transcript:not([hidden]) .line-head time").all_inner_texts()
            assert times and all(re.fullmatch(r"[۰-۹]{2}:[۰-۹]{2}", t) for t in times), times
            composer = box(page, "#composer")
            assert composer["y"] + composer["height"] <= PHONE["height"], "composer off screen"

            # Reply; the visitor receives it.
            page.tap("#composer-text")
            page.keyboard.type("سلام رضا، الان بررسی می‌کنم.")
            page.tap("#send-btn")
            page.wait_for_selector(".line-agent .delivery >> text=ارسال شد ✓")
            said = next_frame(reza, "message", **{"from": "agent"})
            assert said["text"] == "سلام رضا، الان بررسی می‌کنم." and said["author"] == "مریم"

            # A canned response from the "/" picker, in the visitor's language.
            page.tap("#composer-text")
            page.keyboard.type("/lo")
            page.wait_for_selector("#canned-picker:not([hidden]) li")
            no_overflow(page)
            page.locator("#canned-picker li").first.dispatch_event("mousedown")
            assert page.input_value("#composer-text").startswith("ممنونم رضا")
            page.tap("#send-btn")
            assert "رضا" in next_frame(reza, "message", **{"from": "agent"})["text"]

            # The visitor panel, and a canned response from its list: back to the chat to send.
            say(reza, "سفارش 4711 هنوز نیامده")
            page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor >> nth=1")
            page.tap("#visitor-btn")
            page.wait_for_selector("#visitor-card:not([hidden]) .facts dd")
            assert page.locator("#console").get_attribute("data-view") == "visitor"
            assert not page.locator("#chat-pane").is_visible()
            assert box(page, "#side-back")["x"] > PHONE["width"] / 2
            no_overflow(page)
            assert english_left(page, "4711") == []
            assert page.evaluate(SMALL_TARGETS) == []
            screenshot(page, "console_fa_phone_visitor")
            page.locator(".canned-item", has_text="/wait").tap()
            page.wait_for_selector('#console[data-view="chat"]')
            assert page.input_value("#composer-text").startswith("رضا، هنوز در خدمتتان هستم")
            page.tap("#send-btn")
            next_frame(reza, "message", **{"from": "agent"})
            page.locator(".line-agent.pending").wait_for(state="detached")

            no_overflow(page)
            assert english_left(page, "4711") == []
            assert page.evaluate(SMALL_TARGETS) == []
            shoot(page, "console-fa-dark")
            page.emulate_media(color_scheme="light")
            shoot(page, "console-fa-phone")
            page.emulate_media(color_scheme="dark")

            # Close: the dialog in Persian, the visitor told.
            close_resolved(page, reza, "شما این گفت‌وگو را بستید", "4711")

            # Back to the list: the chat is there, closed.
            page.tap("#back-btn")
            page.wait_for_selector('#console[data-view="list"]')
            assert page.locator(".tab-meta").first.inner_text().endswith(" · بسته")
            assert english_left(page, "4711") == []


def test_persian_on_a_desktop_mirrors_with_persian_dates_and_digits(desk: Server, browser,
                                                                     tmp_path: Path) -> None:
    leave_message(desk, "sara.k@example.com", "لطفاً درباره سفارش 1043 با من تماس بگیرید")
    with online(browser, desk, "maryam", viewport=DESKTOP, locale="fa-IR") as page:
        # A message left offline: the address left to right, the date in Persian digits.
        left = page.locator(".left-message")
        left.wait_for()
        assert left.locator("a").evaluate("a => getComputedStyle(a).direction") == "ltr"
        assert re.search("[۰-۹]", left.locator("time").inner_text())
        assert english_left(page, "sara.k@example.com", "1043") == []
        left.get_by_role("button", name="علامت‌گذاری به‌عنوان پاسخ‌داده‌شده").click()
        page.locator("#left-section").wait_for(state="hidden")
        with visitor(desk, "سارا", "سلام، می‌خواهم سفارش 1043 را لغو کنم",
                     language="fa") as sara:
            page.wait_for_selector(".offer")
            page.click(".offer .btn-primary")
            page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor")
            # The chat list on the right of the chat, the visitor panel on its left.
            rail, pane, side = box(page, ".rail"), box(page, "#chat-pane"), box(page, ".side")
            assert rail["x"] >= pane["x"] + pane["width"] - 1, "the chat list is not on the right"
            assert side["x"] + side["width"] <= pane["x"] + 1
            # A Latin order number inside a Persian line keeps its place (the line is rtl).
            bubble = page.locator(".transcript:not([hidden]) .bubble-visitor").first
            assert bubble.evaluate("b => getComputedStyle(b).direction") == "rtl"
            page.fill("#composer-text", "سارا جان، سفارش 1043 لغو شد.")
            page.keyboard.press("Enter")
            page.wait_for_selector(".line-agent .delivery >> text=ارسال شد ✓")
            assert next_frame(sara, "message", **{"from": "agent"})["text"].endswith("لغو شد.")
            page.wait_for_selector("#assist-card:not([hidden])")
            page.wait_for_selector("#visitor-card:not([hidden]) .facts dd")
            # Persian digits in the times; the typing line names the visitor in Persian.
            assert re.search("[۰-۹]", page.locator(".line-head time").first.inner_text())
            sara.send(json.dumps({"type": "typing", "on": True}))
            page.wait_for_selector("#typing:not([hidden]) >> text=سارا در حال نوشتن است")
            page.mouse.move(0, 0)  # no hover left on a button in the picture
            assert english_left(page, "1043") == []
            no_overflow(page)
            shoot(page, "console-fa")
            # A refused file says why in Persian, though the server's sentence is English.
            svg = tmp_path / "logo.svg"
            svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
            page.set_input_files("#attach-input", str(svg))
            refused = page.wait_for_selector(".line-agent.failed .delivery")
            assert refused.inner_text() == "ارسال نشد: این نوع فایل پذیرفته نمی‌شود"
            # The transfer dialog too.
            page.click("#transfer-btn")
            page.wait_for_selector("#transfer-dialog[open]")
            assert english_left(page, "1043", "logo.svg") == []
            page.keyboard.press("Escape")
            page.click("#close-btn")
            page.click("#close-unresolved")
            page.wait_for_selector("#closed-bar:not([hidden])")
            assert next_frame(sara, "closed")["by"] == "agent"
        # The Persian calendar: this year is 14xx there, not 20xx.
        assert re.search("۱۴[۰-۹]{2}$", page.evaluate("fmtDate(Date.now())"))


def test_chinese_on_a_phone_from_offer_to_close(desk: Server, browser) -> None:
    with online(browser, desk, "lin",
                viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN") as page:
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") \
            == ["zh", "ltr"]
        assert page.locator("#status-online").inner_text().strip() == "在线"
        with visitor(desk, "王芳", "你好，我的订单 A-2231 还没到", language="zh-CN") as wang:
            page.wait_for_selector(".offer")
            assert english_left(page, "A-2231") == []
            page.tap(".offer .btn-primary")
            page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor")
            assert box(page, "#back-btn")["x"] < PHONE["width"] / 2  # left to right: on the left
            page.tap("#composer-text")
            page.keyboard.type("您好，我马上为您查询。")
            page.tap("#send-btn")
            page.wait_for_selector(".line-agent .delivery >> text=已发送 ✓")
            said = next_frame(wang, "message", **{"from": "agent"})
            assert said["text"] == "您好，我马上为您查询。"
            page.tap("#composer-text")
            page.keyboard.type("/")
            page.wait_for_selector("#canned-picker:not([hidden]) li")
            page.locator("#canned-picker li").first.dispatch_event("mousedown")
            assert "王芳" in page.input_value("#composer-text")
            page.tap("#send-btn")
            assert "王芳" in next_frame(wang, "message", **{"from": "agent"})["text"]
            no_overflow(page)
            assert english_left(page, "A-2231") == []
            assert page.evaluate(SMALL_TARGETS) == []
            screenshot(page, "console_zh_phone")
            # The phone's own Back goes back to the list, not away from the console.
            page.go_back()
            page.wait_for_selector('#console[data-view="list"]')
            assert page.url.endswith("/console")
            page.tap(".tab")
            page.wait_for_selector('#console[data-view="chat"]')
            close_resolved(page, wang, "你已结束此会话", "A-2231")
            # A tablet: the list beside the chat, and the visitor panel in the chat's place.
            page.set_viewport_size({"width": 900, "height": 800})
            assert page.locator(".rail").is_visible() and page.locator("#chat-pane").is_visible()
            page.tap("#visitor-btn")
            page.wait_for_selector("#visitor-card .facts dd")
            assert not page.locator("#chat-pane").is_visible()
            page.tap("#side-back")
            page.wait_for_selector("#chat-pane", state="visible")
            no_overflow(page)


def test_arabic_on_a_desktop_from_offer_to_close(desk: Server, browser) -> None:
    with online(browser, desk, "huda", viewport=DESKTOP, locale="ar-EG") as page:
        assert page.evaluate("document.documentElement.dir") == "rtl"
        with visitor(desk, "خالد", "مرحبا، طلبي رقم 8812 لم يصل", language="ar") as khalid:
            page.wait_for_selector(".offer")
            page.click(".offer .btn-primary")
            page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor")
            page.fill("#composer-text", "مرحبا خالد، سأتحقق من الطلب 8812 الآن.")
            page.keyboard.press("Enter")
            page.wait_for_selector(".line-agent .delivery >> text=أُرسلت ✓")
            assert "8812" in next_frame(khalid, "message", **{"from": "agent"})["text"]
            page.wait_for_selector("#visitor-card:not([hidden]) .facts dd")
            assert english_left(page, "8812") == []
            no_overflow(page)
            close_resolved(page, khalid, "لقد أغلقت هذه المحادثة", "8812")
