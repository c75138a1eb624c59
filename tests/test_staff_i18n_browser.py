"""Staff pages in Persian in the browser (issue 20): the account page's password refusals and
role, the knowledge base's delete question laid out right to left, and the refusals of a stale
tab or a lost role."""

from __future__ import annotations

import re
import unicodedata

import pytest

from chatserver.web import catalogue

from .harness import PASSWORD, Server, add_user, sql

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def persian(msgid: str) -> str:
    """What the page's t() shows a Persian reader for `msgid` (the msgid itself if missing)."""
    return catalogue.messages("fa").get(msgid, msgid)


def _log_in(page, server: Server, username: str, password: str = PASSWORD) -> None:
    page.set_default_timeout(10_000)
    page.goto(server.url + "/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.browser
def test_a_wrong_current_password_is_said_in_persian(server: Server, page) -> None:
    """A Persian agent changes her password on /account and mistypes the current one. Under the
    field she reads "is not your current password" (and, retyping the same password as the
    new one, "must differ from the current one"): pages_api.py:275/281's messages are in no
    catalogue and account.js shows them through showErrors → t(). Both should be Persian."""
    add_user(server.db, "maryam", display_name="مریم")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'maryam'")
    _log_in(page, server, "maryam")
    page.goto(server.url + "/account")
    assert page.get_attribute("html", "dir") == "rtl"
    slot = page.locator('#password-form .field-error[data-for="current_password"]')
    page.fill('input[name="current_password"]', "not my password")
    page.fill('input[name="new_password"]', "a brand new secret")
    page.click("#password-form button[type=submit]")
    page.wait_for_function("(el) => el.textContent.trim() !== ''", arg=slot.element_handle())
    wrong = slot.inner_text()
    page.fill('input[name="current_password"]', PASSWORD)
    page.fill('input[name="new_password"]', PASSWORD)
    page.click("#password-form button[type=submit]")
    new_slot = page.locator('#password-form .field-error[data-for="new_password"]')
    page.wait_for_function("(el) => el.textContent.trim() !== ''", arg=new_slot.element_handle())
    same = new_slot.inner_text()
    assert not LATIN_WORD.search(wrong) and not LATIN_WORD.search(same), (wrong, same)


@pytest.mark.browser
def test_the_account_page_names_the_role_in_the_page_language(server: Server, page) -> None:
    """On /account in Persian, "Your account" lists Role: «admin» – the role's code in English
    (account.html:17 shows {{ user.role }}), while the top bar of the same page says «مدیر» via
    _(user.role). The facts should name the role in Persian too."""
    add_user(server.db, "root", role="admin")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'root'")
    _log_in(page, server, "root")
    page.goto(server.url + "/account")
    facts = page.locator("dl.facts dd").all_inner_texts()
    top = page.inner_text(".role-tag")
    assert top == persian("admin")
    assert facts[-1] == top, facts


def _first_strong(text: str) -> str:
    """UAX #9 rules P2–P3: the bidi class of the first strong character, skipping what an
    isolate (LRI, RLI, FSI … PDI) holds; a dialog's text takes its direction from it."""
    depth = 0
    for char in text:
        if char in "\u2066\u2067\u2068":
            depth += 1
        elif char == "\u2069":
            depth = max(0, depth - 1)
        elif depth == 0 and unicodedata.bidirectional(char) in ("L", "R", "AL"):
            return unicodedata.bidirectional(char)
    return ""


@pytest.mark.browser
def test_deleting_an_entry_with_a_latin_title_asks_right_to_left(server: Server, page) -> None:
    """A Persian admin deletes the knowledge-base entry "Small talk: are you a bot?". The
    confirm() dialog's text is «Small talk: are you a bot?» حذف شود؟ … with the title not
    isolated (admin.js:112): a dialog has no page direction, it takes it from its first strong
    letter, here Latin, so the whole Persian question is laid out left to right (the title's "?"
    lands beside the Persian words, the sentence starts on the wrong side). The canned-response
    pages isolate the name (canned_editor.js slashed(): FSI … PDI) and the label page starts
    with a Persian word, so their dialogs read right to left; this one should too."""
    add_user(server.db, "root", role="admin")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'root'")
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    _log_in(page, server, "root")
    page.goto(server.url + "/admin")
    page.locator("#kb-list button", has_text="Small talk: are you a bot?").click()
    page.wait_for_selector("#kb-form:not([hidden])")
    page.click("#kb-delete")
    page.wait_for_timeout(300)
    assert len(asked) == 1, asked
    assert _first_strong(asked[0]) in ("R", "AL"), (asked[0], _first_strong(asked[0]))


@pytest.mark.browser
def test_a_stale_tab_or_a_lost_role_is_refused_in_the_page_language(server: Server,
                                                                    browser) -> None:
    """A Persian admin keeps /admin/labels open in one tab and signs in again in another (a
    new session, a new CSRF token). Back in the first tab she adds a label: the toast says
    "missing or wrong CSRF token" (auth.py), English and meaningless to her. A colleague demoted
    to agent while his tab is open reads "your role may not do this". Neither server sentence
    is in the catalogue; showErrors → t() falls back to English. They should be Persian (and
    say what to do: reload the page / ask an admin)."""
    add_user(server.db, "root", role="admin")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'root'")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        first = context.new_page()
        _log_in(first, server, "root")
        first.goto(server.url + "/admin/labels")
        second = context.new_page()  # logs out and in again: the first tab's token is stale
        second.goto(server.url + "/account")
        second.click('form[action="/logout"] button')
        second.wait_for_url("**/login")
        _log_in(second, server, "root")
        first.fill("#l-name", "فوری")
        first.click("#l-save")
        first.wait_for_selector(".toast-error")
        stale = first.inner_text(".toast-error")
        # Demoted while the page is open.
        second.goto(server.url + "/admin/labels")
        sql(server.db, "UPDATE users SET role = 'agent' WHERE username = 'root'")
        second.fill("#l-name", "مهم")
        second.click("#l-save")
        second.wait_for_function(
            "() => [...document.querySelectorAll('.toast-error')].length > 0")
        demoted = second.inner_text(".toast-error")
    finally:
        context.close()
    assert not LATIN_WORD.search(stale) and not LATIN_WORD.search(demoted), (stale, demoted)


