"""The API tokens page in Chromium against the real server: an admin in Persian, on a 390 x 844
phone in the dark, makes a token (shown once, copied with the button), sees it used, and
revokes it; the token works over HTTP until then and is refused after."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from chatserver.core.api_tokens import TOKEN

from .harness import PASSWORD, Server, add_user
from .test_admin_phone_browser import LOCALES, PHONE, assert_fits_the_phone, english_left
from .test_console_browser import log_in, next_frame, visitor

pytestmark = pytest.mark.browser


def test_an_admin_makes_copies_and_revokes_a_token_in_persian_on_a_phone(
        server: Server, browser) -> None:
    add_user(server.db, "root", role="admin", display_name="Rana")
    context = browser.new_context(locale=LOCALES["fa"], color_scheme="dark", **PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    try:
        log_in(page, server, "root")
        page.wait_for_url("**/admin")
        page.click('.nav a[href="/admin/tokens"]')
        page.wait_for_selector("#tokens-table >> text=هنوز توکنی ساخته نشده است")
        assert page.evaluate("document.documentElement.dir") == "rtl"
        # a name is needed: the server's refusal, in Persian, beside the field
        page.click("#t-save")
        page.wait_for_selector('.field-error[data-for="name"] >> text=باید ۱ تا ۶۰ نویسه باشد')
        page.fill("#t-name", "CRM فروش")
        page.check('input[name="scopes"][value="write"]')
        page.click("#t-save")
        page.wait_for_selector(".toast >> text=«CRM فروش» ساخته شد.")
        token = page.locator("#token-value").inner_text()
        assert TOKEN.fullmatch(token)
        assert page.locator("#token-form").is_hidden()
        page.click("#token-copy")
        page.wait_for_selector(".toast >> text=کپی شد.")
        assert page.evaluate("navigator.clipboard.readText()") == token
        assert_fits_the_phone(page)
        assert english_left(page, [".token-value"], {"API", "REST", "Authorization",
                                                     "CRM"}) == []
        # shown once: gone after Done, and not in the list nor on a reload
        page.click("#token-done")
        assert page.locator("#token-made").is_hidden()
        row = page.locator("#tokens-table tbody tr", has_text="CRM فروش")
        assert row.locator("td[data-label='آخرین استفاده']").inner_text() == "هرگز"
        assert [c.strip() for c in row.locator(".token-chip").all_inner_texts()] == [
            "خواندن", "نوشتن"]
        assert token not in page.content()

        used = httpx.get(server.url + "/api/conversations",
                         headers={"authorization": f"Bearer {token}"})
        assert used.status_code == 200
        page.reload()
        row = page.locator("#tokens-table tbody tr", has_text="CRM فروش")
        last_used = row.locator("td[data-label='آخرین استفاده']").inner_text()
        assert last_used != "هرگز" and re.search("[۰-۹]", last_used) and not re.search(
            "[0-9]", last_used)
        assert token not in page.content()

        row.locator(".btn-danger-quiet").click()
        name = "\u2068CRM فروش\u2069"  # isolated inside the Persian sentence
        page.wait_for_selector(f".toast >> text=«{name}» باطل شد.")
        assert asked == [f"توکن «{name}» باطل شود؟ سامانه‌هایی که از آن استفاده می‌کنند از "
                         "درخواست بعدی رد می‌شوند."]
        page.wait_for_selector("#tokens-table tr.token-revoked >> text=باطل‌شده در")
        refused = httpx.get(server.url + "/api/conversations",
                            headers={"authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert_fits_the_phone(page)
    finally:
        context.close()


def test_a_line_an_integration_posts_shows_in_the_console_under_its_name(
        server: Server, browser) -> None:
    add_user(server.db, "root", role="admin")
    add_user(server.db, "maryam", skills={"lang:en": 5}, display_name="Maryam")
    with httpx.Client(base_url=server.url) as admin:
        login = admin.post("/login", data={"username": "root", "password": PASSWORD},
                           headers={"accept": "application/json"})
        made = admin.post("/api/tokens", json={"name": "Order system", "scopes": ["write"]},
                          headers={"x-csrf-token": login.json()["csrf_token"]})
        token = made.json()["token"]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        log_in(page, server, "maryam")
        page.wait_for_selector('#conn[data-state="online"]')
        page.click("#status-online")
        page.wait_for_selector('#status-online[aria-checked="true"]')
        with visitor(server, "Sara", "where is my parcel?") as sara:
            page.click(".offer .btn-primary")
            cid = next_frame(sara, "assigned")["conversation_id"]
            posted = httpx.post(f"{server.url}/api/conversations/{cid}/messages",
                                headers={"authorization": f"Bearer {token}"},
                                json={"id": str(uuid.uuid4()), "text": "Parcel 4711 left today"})
            assert posted.status_code == 201, posted.text
            seen = next_frame(sara, "message", **{"from": "integration"})
            assert (seen["author"], seen["text"]) == ("Order system", "Parcel 4711 left today")
            line = page.locator(".transcript:not([hidden]) .line-integration")
            line.wait_for()
            assert line.locator(".author").inner_text() == "Order system"
            assert line.locator(".bubble-integration").inner_text() == "Parcel 4711 left today"
    finally:
        context.close()
