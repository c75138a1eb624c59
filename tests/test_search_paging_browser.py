"""The search page in Chromium: "More results" and slow answers never mix pages or titles."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from chatserver.store.store import NewEvent, Store

from .harness import PASSWORD, Server, add_user

pytestmark = pytest.mark.browser
T0 = 1_772_323_200_000  # 2026-03-01
CHATS = 25  # more than one page of 20


async def seed(where: str) -> None:
    store = Store(where)
    await store.open()
    try:
        await store.upsert_visitor("v-many", {"name": "Many"}, T0)
        for n in range(CHATS):
            cid, start = f"p-{n:02d}", T0 + n * 60_000
            await store.create_conversation(cid, "v-many", {"language": "en"}, start)
            await store.append(cid, [NewEvent("message", "visitor", {
                "from": "visitor", "author": "Many", "text": f"pagination test {n}"})],
                now_ms=start + 1)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: its tests only read the chats."""
    tmp_path = tmp_path_factory.mktemp("paging")
    where = str(tmp_path / "chat.db")
    add_user(where, "sue", "supervisor")
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop holds this thread
        pool.submit(asyncio.run, seed(where)).result()
    server = Server(tmp_path, database=where).start()
    yield server
    server.stop()
    assert "Traceback" not in server.log.read_text()


def test_more_results_clicked_twice_shows_each_conversation_once(desk: Server, page) -> None:
    page.set_default_timeout(10_000)
    page.goto(desk.url + "/login")
    page.fill('input[name="username"]', "sue")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_load_state("networkidle")
    page.goto(desk.url + "/console/search?q=pagination")
    page.wait_for_selector("#s-more:not([hidden])")
    assert page.locator("#s-results li.result").count() == 20
    page.dblclick("#s-more")  # an impatient double click, or two clicks on a slow network
    page.wait_for_selector("#s-more", state="hidden")
    page.wait_for_load_state("networkidle")
    ids = page.locator("#s-results li.result").evaluate_all(
        "items => items.map((li) => li.dataset.id)")
    assert len(ids) == len(set(ids)) == CHATS, ids


def log_in(page, server: Server) -> None:
    page.set_default_timeout(10_000)
    page.goto(server.url + "/login")
    page.fill('input[name="username"]', "sue")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_load_state("networkidle")


def test_a_slow_earlier_search_does_not_mix_into_a_newer_one(desk: Server, page) -> None:
    log_in(page, desk)
    held = []
    page.route(lambda url: "/api/search?q=pagination" in url, lambda route: held.append(route))
    page.goto(desk.url + "/console/search")
    page.fill("#s-q", "pagination")
    page.click("#s-go")
    page.wait_for_function("() => document.getElementById('s-status').textContent !== ''")
    assert len(held) == 1  # the first search waits on a slow network
    page.fill("#s-q", "24")
    page.click("#s-go")
    page.wait_for_selector("#s-results li.result")
    held[0].continue_()  # then its answer arrives
    page.wait_for_load_state("networkidle")
    assert page.locator("#s-results li.result").evaluate_all(
        "items => items.map((li) => li.dataset.id)") == ["p-24"]
    assert page.locator("#s-status").inner_text() == "1 conversation"
    assert page.locator("#s-more").is_hidden()


def test_a_slow_transcript_does_not_land_under_another_result(desk: Server, page) -> None:
    log_in(page, desk)
    held = []
    page.route(lambda url: "/api/conversations/p-24/transcript" in url,
               lambda route: held.append(route))
    page.goto(desk.url + "/console/search?q=pagination")
    page.wait_for_selector("#s-results li.result")
    page.click('.result[data-id="p-24"] .result-open')  # its transcript is slow
    page.click('.result[data-id="p-23"] .result-open')  # so another is opened meanwhile
    page.wait_for_selector("#s-transcript li")
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_load_state("networkidle")
    text = page.locator("#s-transcript").inner_text()
    assert "pagination test 23" in text and "pagination test 24" not in text
