"""The API tokens page in Chromium against the real server: an admin in Persian, on a 390 x 844
phone in the dark, makes a token (shown once, copied with the button), sees it used, and
revokes it; the token works over HTTP until then and is refused after."""

from __future__ import annotations

import re

import httpx
import pytest

from chatserver.core.api_tokens import TOKEN

from .harness import Server, add_user
from .test_admin_phone_browser import LOCALES, PHONE, assert_fits_the_phone, english_left
from .test_console_browser import log_in

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
        page.wait_for_selector(".toast >> text=«CRM فروش» باطل شد.")
        assert asked == ["توکن «CRM فروش» باطل شود؟ سامانه‌هایی که از آن استفاده می‌کنند از "
                         "درخواست بعدی رد می‌شوند."]
        page.wait_for_selector("#tokens-table tr.token-revoked >> text=باطل‌شده در")
        refused = httpx.get(server.url + "/api/conversations",
                            headers={"authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert_fits_the_phone(page)
    finally:
        context.close()
