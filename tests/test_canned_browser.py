"""Canned responses in Chromium against the real server: an admin writes one in English and
Persian on /admin/canned (a misspelt placeholder is refused beside the Persian text), edits and
restores it from its history; an agent inserts it with "/" in a chat with a Persian visitor and
the visitor gets the Persian text with their name; an agent saves a reply of their own from the
composer mid-chat, finds it first in the picker, and edits it."""

from __future__ import annotations

import json
import uuid

import pytest

from .browser import screenshot
from .harness import Server, add_user, sql
from .test_console_browser import log_in, next_frame, visitor
from .test_kb_api import Session

pytestmark = pytest.mark.browser

EN = "Your parcel is on its way, {visitor.name}. Quote {conversation.id} if you write to us."
FA = ("{visitor.name} عزیز، بسته‌تان در راه است. اگر برایمان نوشتید، شماره {conversation.id} "
      "را ذکر کنید.")


@pytest.fixture(scope="module")
def desk(shared_server: Server) -> Server:
    """One server for the module, with Root, an admin: each test's agent and visitor are its
    own (a Persian, then a Chinese one), and no test reads a response another one wrote."""
    add_user(shared_server.db, "root", role="admin")
    return shared_server


def go_online(page, server: Server, username: str) -> None:
    log_in(page, server, username)
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')


def accept(page) -> str:
    """Take the offer; the id of the chat it opens."""
    page.wait_for_selector(".offer")
    page.click(".offer .btn-primary")
    return page.get_attribute('.tab[aria-selected="true"]', "data-cid")


def test_an_admin_writes_a_response_in_two_languages_and_a_persian_visitor_gets_hers(
        desk: Server, browser) -> None:
    server = desk
    add_user(server.db, "maryam", skills={"lang:fa": 5, "lang:en": 5}, display_name="Maryam")
    admin = browser.new_context(viewport={"width": 1280, "height": 900})
    agent = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = admin.new_page()
        log_in(page, server, "root")
        page.wait_for_url("**/admin")
        page.click('.nav a[href="/admin/canned"]')
        page.wait_for_selector("#canned-list .kb-item-title >> text=Greeting")  # the seed
        page.click("#canned-new")
        page.fill("#canned-shortcut", "parcel")
        page.fill("#canned-title", "Parcel on its way")
        page.fill("#canned-text-en", EN)
        page.click("#canned-tab-fa")
        assert page.get_attribute("#canned-text-fa", "dir") == "rtl"
        page.fill("#canned-text-fa", FA.replace("{visitor.name}", "{visitor.nam}"))
        page.click("#canned-tab-en")
        page.click("#canned-save")
        # Refused beside the Persian text, its tab opened, naming the placeholder.
        error = page.locator('.field-error[data-for="variants.fa"]')
        error.wait_for()
        page.wait_for_selector('#canned-tab-fa[aria-selected="true"]')
        assert "{visitor.nam}" in error.inner_text()
        page.fill("#canned-text-fa", FA)
        page.click("#canned-save")
        page.wait_for_selector("#canned-version >> text=version 1")
        row = page.locator("#canned-list button", has_text="Parcel on its way")
        row.wait_for()
        assert row.locator(".canned-lang").all_inner_texts() == ["EN", "FA"]

        # Edited, then version 1 restored from the history (as version 3).
        page.fill("#canned-title", "Parcel shipped")
        page.click("#canned-save")
        page.wait_for_selector("#canned-version >> text=version 2")
        page.click('#canned-versions button[data-version="1"]')
        assert "Parcel on its way" in page.inner_text("#canned-version-view")
        page.click("#canned-restore")
        page.wait_for_selector("#canned-version >> text=version 3")
        assert page.input_value("#canned-title") == "Parcel on its way"
        screenshot(page, "canned_admin")

        console = agent.new_page()
        console.clock.install()  # to move the console's clock a minute on, below
        go_online(console, server, "maryam")
        with visitor(server, "سارا", "بسته من کجاست؟", language="fa") as sara:
            cid = accept(console)
            console.click("#composer-text")
            console.keyboard.type("/par")
            option = console.locator('#canned-picker li[data-shortcut="parcel"]')
            option.wait_for()
            assert "سارا عزیز" in option.locator(".pick-text").inner_text()
            console.keyboard.press("Enter")
            text = console.input_value("#composer-text")
            assert text == FA.replace("{visitor.name}", "سارا").replace("{conversation.id}", cid)
            console.keyboard.press("Enter")
            said = next_frame(sara, "message", **{"from": "agent"})
            assert said["text"] == text and cid in said["text"]

            # An admin's edit reaches the open console when its picker next opens a minute on.
            root = Session(server, "root")
            parcel = root.get("/api/canned", params={"q": "parcel"}).json()["responses"][0]
            changed = root.send("PUT", f"/api/canned/{parcel['id']}", json={
                "variants": {"fa": "بسته‌تان امروز ارسال شد، {visitor.name}."}, "version": 3})
            root.close()
            assert changed.status_code == 200, changed.text
            console.clock.fast_forward(61_000)
            console.keyboard.type("/par")
            console.wait_for_selector("#canned-picker li .pick-text >> text=امروز ارسال شد، سارا")
    finally:
        admin.close()
        agent.close()


def test_an_agent_keeps_a_reply_of_their_own_from_the_composer(desk: Server, page) -> None:
    server = desk
    add_user(server.db, "li", skills={"lang:zh": 5, "lang:en": 5}, display_name="Li")
    root = Session(server, "root")  # a team response with no Chinese: the desk's English
    assert root.send("POST", "/api/canned", json={"scope": "team", "shortcut": "track",
                     "title": "Tracking", "variants": {"ar": "تتبع طلبك هنا.",
                                                       "en": "Hi {visitor.name}, track it here."}
                     }).status_code == 201
    root.close()
    go_online(page, server, "li")
    with visitor(server, "", "我的订单在哪里？", language="zh") as wei:
        accept(page)
        # The seeded greeting, for a visitor who gave no name: Chinese, with its fallback.
        page.click("#composer-text")
        page.keyboard.type("/hi")
        page.keyboard.press("Enter")
        assert page.input_value("#composer-text").startswith("亲您好")
        page.fill("#composer-text", "")
        page.keyboard.type("/track")
        page.keyboard.press("Enter")
        assert page.input_value("#composer-text") == "Hi there, track it here."

        # A reply worth keeping: saved from the composer, in the chat's language.
        page.fill("#composer-text", "我们的仓库周日休息，{visitor.name}。")
        page.click("#canned-save-mine")
        page.wait_for_selector("#canned-dialog[open]")
        page.wait_for_selector('#mine-tab-zh[aria-selected="true"]')
        assert page.input_value("#mine-text-zh") == "我们的仓库周日休息，{visitor.name}。"
        page.fill("#mine-shortcut", "sunday two")
        page.fill("#mine-title", "Closed on Sundays")
        page.click("#mine-save")
        page.locator('.field-error[data-for="shortcut"]').wait_for()
        page.fill("#mine-shortcut", "周日")
        page.click("#mine-save")
        page.wait_for_selector("#canned-dialog:not([open])", state="attached")
        mine = page.locator("#canned-list .canned-row").first  # one's own come first
        mine.locator(".canned-mine").wait_for()
        assert "/周日" in mine.inner_text()

        page.fill("#composer-text", "")
        page.click("#composer-text")
        page.keyboard.type("/")
        first = page.locator("#canned-picker li").first
        first.wait_for()
        assert first.get_attribute("data-shortcut") == "周日"
        assert first.locator(".pick-text").inner_text() == "我们的仓库周日休息，亲。"
        page.keyboard.press("Escape")

        # Edited from the list; the picker has the new text at once.
        mine.locator(".canned-edit").click()
        page.wait_for_selector("#canned-dialog[open]")
        page.fill("#mine-text-zh", "我们的仓库周日和节假日休息。")
        page.click("#mine-save")
        page.wait_for_selector("#canned-dialog:not([open])", state="attached")
        page.fill("#composer-text", "")
        page.keyboard.type("/周")
        page.wait_for_selector("#canned-picker li .pick-text >> text=节假日")
        screenshot(page, "canned_console_mine")
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")
        said = next_frame(wei, "message", **{"from": "agent"})
        assert said["text"] == "我们的仓库周日和节假日休息。"
        wei.send(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": "谢谢"}))


def test_the_editor_in_persian_on_a_phone_in_the_dark(desk: Server, browser) -> None:
    """An admin who chose Persian edits the team's greeting at 390x844 in dark mode: the page is
    right to left, the Persian text opens first in a right-to-left box, nothing is wider than
    the screen, and every control is big enough to tap."""
    server = desk
    add_user(server.db, "rana", role="admin")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'rana'")
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark",
                                  has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        log_in(page, server, "rana")
        page.goto(server.url + "/admin/canned")
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.inner_text("#canned-new") == "پاسخ جدید"
        page.locator("#canned-list button", has_text="Greeting").tap()
        page.wait_for_selector('#canned-tab-fa[aria-selected="true"]')
        box = page.locator("#canned-text-fa")
        assert box.get_attribute("dir") == "rtl"
        assert box.input_value().startswith("سلام {visitor.name}، ")
        assert page.inner_text("#canned-version") == "نسخهٔ ۱"  # Persian digits
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        small = page.evaluate("""() => [...document.querySelectorAll(
            '.canned-admin button, .canned-admin select, .canned-admin textarea')]
          .filter((el) => el.checkVisibility()).map((el) => [el.id || el.className,
            el.getBoundingClientRect().height]).filter(([, h]) => h > 0 && h < 43.5)""")
        assert small == [], small
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert sum(int(c) for c in background[4:-1].split(",")[:3]) < 200  # dark
        screenshot(page, "canned_admin_fa_phone_dark")
    finally:
        context.close()
