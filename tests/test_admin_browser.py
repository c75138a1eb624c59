"""The admin pages in Chromium against the real server: edit a knowledge-base entry, publish
it, see the bot use the change at once, read the history and restore the old text."""

from __future__ import annotations

import pytest

from .browser import screenshot
from .harness import PASSWORD, Server, add_user

pytestmark = pytest.mark.browser

QUESTION = "can I bring my pet llama into the showroom"
EVIL_TITLE = "<img src=x onerror=alert(1)> Llamas in the showroom"


def log_in(page, server: Server, username: str) -> None:
    page.set_default_timeout(10_000)
    page.goto(server.url + "/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')


def try_the_bot(page, text: str) -> None:
    page.fill("#try-text", text)
    page.click("#try-go")
    page.wait_for_selector("#try-result:not([hidden])")


def test_admin_edits_publishes_tries_and_restores_an_entry(server: Server, page) -> None:
    add_user(server.db, "root", role="admin", display_name="Rana")
    log_in(page, server, "root")
    page.wait_for_url("**/admin")
    page.wait_for_selector("#kb-list li button")

    # A new entry starts as a draft; a missing field is named beside it.
    page.click("#kb-new")
    page.fill("#f-title", EVIL_TITLE)
    page.fill("#f-language", "en")
    page.fill("#f-questions", f"{QUESTION}\nare llamas allowed in the showroom")
    page.click("#kb-save")
    page.wait_for_selector('.field-error[data-for="answer"]:not(:empty)')
    page.fill("#f-answer", "Llamas are welcome on Tuesdays.")
    page.click("#kb-save")
    page.wait_for_selector("#kb-badge >> text=draft")
    page.wait_for_selector("#kb-version >> text=version 1")
    # Titles with HTML are text in the list and the heading.
    assert page.locator("#kb-heading").inner_text() == EVIL_TITLE
    assert page.locator("#kb-list img, #kb-form img").count() == 0

    page.click("#kb-publish")
    page.wait_for_selector("#kb-badge >> text=published")
    try_the_bot(page, QUESTION)
    assert page.locator("#try-matches li").first.inner_text().startswith(EVIL_TITLE)
    assert page.locator("#try-answer").inner_text() == "Llamas are welcome on Tuesdays."

    page.fill("#f-answer", "Llamas are welcome every day.")
    page.click("#kb-save")
    page.wait_for_selector("#kb-version >> text=version 3")
    try_the_bot(page, QUESTION)
    page.wait_for_selector("#try-answer >> text=every day")
    screenshot(page, "admin_kb_editor")

    # History: v3 edited, v2 published, v1 created; the diff shows the answer change.
    page.wait_for_selector("#versions li >> nth=2")
    page.click("#versions button >> text=v2")
    page.wait_for_selector("#diff >> text=Changes from v1 to v2")
    page.click("#versions button >> text=v3")
    page.wait_for_selector("#diff .del >> text=Tuesdays")
    page.wait_for_selector("#diff .add >> text=every day")
    screenshot(page, "admin_kb_history")
    page.click("#versions button >> text=v2")
    page.click("#restore-btn")
    page.wait_for_selector("#kb-version >> text=version 4")
    assert page.input_value("#f-answer") == "Llamas are welcome on Tuesdays."
    try_the_bot(page, QUESTION)
    page.wait_for_selector("#try-answer >> text=Tuesdays")


def test_admin_adds_a_team_member_who_can_then_sign_in(server: Server, page, browser) -> None:
    add_user(server.db, "root", role="admin")
    log_in(page, server, "root")
    page.goto(server.url + "/admin/users")
    page.wait_for_selector("#users-table tbody tr")
    page.fill("#u-username", "leila")
    page.fill("#u-display", "Leila")
    page.fill("#u-skills", "lang:fa:5, billing")
    page.fill("#u-password", "short")
    page.click("#u-save")
    page.wait_for_selector('.field-error[data-for="password"]:not(:empty)')
    page.fill("#u-password", "a long enough password")
    page.click("#u-save")
    page.wait_for_selector("#users-table >> text=leila")
    screenshot(page, "admin_team")

    other = browser.new_context()
    try:
        agent_page = other.new_page()
        agent_page.set_default_timeout(10_000)
        agent_page.goto(server.url + "/login")
        agent_page.fill('input[name="username"]', "leila")
        agent_page.fill('input[name="password"]', "a long enough password")
        agent_page.click('button[type="submit"]')
        agent_page.wait_for_url("**/console")
        # An agent is refused the admin pages.
        assert agent_page.goto(server.url + "/admin").status == 403
    finally:
        other.close()
