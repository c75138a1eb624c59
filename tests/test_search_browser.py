"""The search page in Chromium: from the console's header to a result with its hits marked,
in Chinese and Persian, and on to the conversation's read-only transcript; at phone size too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chatserver.store.store import NewEvent, Store

from .browser import screenshot
from .harness import PASSWORD, Server, add_user

pytestmark = pytest.mark.browser
T0 = 1_772_323_200_000  # 2026-03-01


async def seed(where: str, ann: int) -> None:
    store = Store(where)
    await store.open()
    try:
        lines = {"c-zh": ("Li Wei", ["我要退款，订单号是4711", "好的，我们马上处理退款。"]),
                 "c-fa": ("سارا", ["سلام، می‌خواهم سفارش ۴۷۱۱ را پیگیری کنم"]),
                 "c-en": ("Sam <b>", ["<img src=x onerror=alert(1)> where is my parcel?"])}
        for n, (cid, (name, texts)) in enumerate(lines.items()):
            start = T0 + n * 86_400_000
            await store.upsert_visitor(f"v-{cid}", {"name": name}, start)
            await store.create_conversation(cid, f"v-{cid}", {"language": "en"}, start)
            await store.append(cid, [NewEvent("assigned", f"agent:{ann}", {
                "agent_id": ann, "agent": "Ann"})], now_ms=start + 1)
            for i, text in enumerate(texts):
                who = "visitor" if i % 2 == 0 else "agent"
                await store.append(cid, [NewEvent("message", who, {
                    "from": who, "author": name if who == "visitor" else "Ann", "text": text})],
                    now_ms=start + 10 + i)
            await store.append(cid, [NewEvent("closed", "system", {
                "by": "agent", "resolved": True})], now_ms=start + 100)
    finally:
        await store.close()


def seeded(tmp_path: Path) -> Iterator[Server]:
    """A server on three closed chats, with Sue (a supervisor) and Ann (an agent)."""
    where = str(tmp_path / "chat.db")
    add_user(where, "sue", "supervisor")
    ann = add_user(where, "ann", "agent", display_name="Ann")
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop holds this thread
        pool.submit(asyncio.run, seed(where, ann)).result()
    server = Server(tmp_path, database=where).start()
    yield server
    server.stop()
    assert "Traceback" not in server.log.read_text()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Server]:
    """A server of its own per test (test_reports_i18n_browser's tests use it)."""
    yield from seeded(tmp_path)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for this module's tests: they only read the chats."""
    yield from seeded(tmp_path_factory.mktemp("search"))


def log_in(page, server: Server, username: str) -> None:
    page.set_default_timeout(10_000)
    page.goto(server.url + "/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_load_state("networkidle")


def test_search_from_the_console_marks_hits_and_opens_the_transcript(searched: Server,
                                                                     page) -> None:
    log_in(page, searched, "sue")
    page.goto(searched.url + "/console")
    page.click('nav.nav a[href="/console/search"]')
    page.wait_for_url("**/console/search")

    page.fill("#s-q", "退款")
    page.click("#s-go")
    page.wait_for_selector("#s-results li.result")
    assert page.locator("#s-results li.result").count() == 1
    assert page.locator("#s-results mark").all_inner_texts() == ["退款", "退款"]  # two lines
    assert page.locator("#s-status").inner_text() == "1 conversation"
    assert "q=%E9%80%80%E6%AC%BE" in page.url  # the search is in the address: reloadable

    page.fill("#s-q", "میخواهم")  # the line has می‌خواهم, with a ZWNJ
    page.click("#s-go")
    page.wait_for_selector("#s-results li.result[data-id='c-fa']")
    snippet = page.locator("#s-results p.snippet").first
    assert snippet.get_attribute("dir") == "auto"
    assert page.locator("#s-results mark").all_inner_texts() == ["می", "خواهم"]
    screenshot(page, "search-persian")

    page.fill("#s-q", "parcel")  # markup in a line or a name is shown as text
    page.click("#s-go")
    page.wait_for_selector("#s-results li.result[data-id='c-en']")
    assert page.locator("#s-results .result-who").inner_text() == "Sam <b>"
    assert "<img src=x" in page.locator("#s-results p.snippet").inner_text()
    assert page.locator("#s-results img").count() == 0

    page.fill("#s-q", "4711")
    page.click("#s-go")
    page.wait_for_selector("#s-results li.result[data-id='c-fa']")
    assert page.locator("#s-results li.result").count() == 2
    page.click("#s-results li.result[data-id='c-zh'] button.result-open")
    page.wait_for_selector("#s-transcript li.line-agent")
    assert page.locator("#s-transcript-title").inner_text() == "Li Wei"
    texts = page.locator("#s-transcript .bubble").all_inner_texts()
    assert texts == ["我要退款，订单号是4711", "好的，我们马上处理退款。"]
    screenshot(page, "search-transcript")


def test_bad_input_is_shown_and_the_form_still_works(searched: Server, page) -> None:
    log_in(page, searched, "sue")
    page.goto(searched.url + "/console/search?q=%3F%21")
    page.wait_for_selector("#s-error:not([hidden])")
    assert "punctuation alone finds nothing" in page.locator("#s-error").inner_text()
    page.fill("#s-q", "")
    page.select_option("#s-rating", "")
    page.fill("#s-visitor", "li wei")
    page.click("#s-go")
    page.wait_for_selector("#s-results li.result[data-id='c-zh']")
    assert page.locator("#s-error").is_hidden()


def test_an_agent_on_a_phone_searches_their_own_chats(searched: Server, browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        log_in(phone, searched, "ann")
        phone.goto(searched.url + "/console/search")
        assert "you were assigned" in phone.locator("#s-scope").inner_text()
        phone.fill("#s-q", "4711")
        phone.click("#s-go")
        phone.wait_for_selector("#s-results li.result")
        assert phone.locator("#s-results li.result").count() == 2
        box = phone.locator("#s-results li.result").first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        screenshot(phone, "search-phone")
    finally:
        context.close()
