"""The server's refusals a staff page shows, in the page's language (issue 20): a refused
whisper or take-over, a line refused because the chat ended, the canned editor's shortcut and
text refusals, the forbidden page's title and the Arabic status switch.

Each reads what the page would show: the server's message through the language's catalogue,
as the pages' t() does (the msgid itself when the catalogue lacks it).
"""

from __future__ import annotations

import re

import httpx
import pytest

from chatserver.web import catalogue

from .harness import Client, Server, add_user, sql
from .harness import agent as agent_socket
from .test_kb_api import Session
from .test_supervision import desk, handed_to

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def persian(msgid: str) -> str:
    """What the page's t() shows a Persian reader for `msgid` (the msgid itself if missing)."""
    return catalogue.messages("fa").get(msgid, msgid)


@pytest.mark.anyio
async def test_a_refused_whisper_or_take_over_is_shown_in_the_supervisors_language(
        tmp_path, clients: list[Client]) -> None:
    """A Persian supervisor watches a chat and whispers to the agent just as the chat ends (or
    presses Take over a moment too late). supervisor.js shows the refusal as
    toast(t(frame.message)), and the server's sentence "cannot whisper: the conversation is
    closed" is in no catalogue: the toast is English on a right-to-left Persian page. It should
    say, in Persian, that the chat has ended (by the error's code or a pattern, as admin_text.js
    does for the admin pages)."""
    server = desk(tmp_path)
    try:
        ana = await agent_socket(server, "ana")
        sue = await agent_socket(server, "sue", online=False)
        clients += [ana, sue]
        _sara, cid = await handed_to(server, clients, ana, "Sara")
        await ana.request("close", conversation_id=cid, resolved=True)
        shown = {}
        for kind, fields in (("whisper", {"text": "اول شماره سفارش را بپرسید"}), ("take_over", {})):
            error = await sue.request(kind, conversation_id=cid, **fields)
            assert error["type"] == "error", error
            shown[kind] = persian(error["message"])  # supervisor.js: toast(t(frame.message))
        assert not any(LATIN_WORD.search(text) for text in shown.values()), shown
    finally:
        server.stop()


@pytest.mark.anyio
async def test_a_line_refused_because_the_chat_ended_says_why_in_persian(
        tmp_path, clients: list[Client]) -> None:
    """A Persian agent sends a reply while the visitor is closing the chat. The console marks
    the line failed with t("Not sent: {reason}", {reason: t(frame.message)})
    (console_dispatch.js:86); the reason "cannot send to a conversation that is closed" is in no
    catalogue, so the agent reads «ارسال نشد: cannot send to a conversation that is closed».
    The same happens without a race: a line written while the console shows "Reconnecting…"
    waits in AgentSocket's outbox and is sent on the next welcome (agent_socket.js:29), by which
    time the visitor may have left. It should be all Persian (the chat has ended)."""
    server = desk(tmp_path)
    try:
        ana = await agent_socket(server, "ana")
        clients.append(ana)
        sara, cid = await handed_to(server, clients, ana, "Sara")
        await sara.request("close")
        await ana.expect("closed", where=lambda f: f.get("conversation_id") == cid)
        error = await ana.request("message", conversation_id=cid, text="سفارش شما فردا می‌رسد")
        assert error["type"] == "error", error
        reason = persian(error["message"])
        label = catalogue.translate("fa", "Not sent: {reason}", {"reason": reason})
        assert not LATIN_WORD.search(label), label
    finally:
        server.stop()


# --- HTTP refusals the admin pages show through t() ------------------------------------------

def test_the_canned_editor_says_why_a_shortcut_is_refused_in_persian(server: Server) -> None:
    """A Persian admin on /admin/canned makes a response with the shortcut "hi" (the team
    already has /hi) or with a space in it ("order status"). canned_editor.showError passes the
    server's message through showErrors → t(message) (a placeholder refusal alone is worded
    by the page), so under the Shortcut field they read "another response of the same list has
    this shortcut" / "' ' is not allowed: use letters, digits, - _ or . (…)" in English; a
    Persian text pasted with a right-to-left embedding (U+202B) is refused under the Persian tab
    with "must not hold U+202B (a bidi override or line separator)". They should read each in
    Persian."""
    add_user(server.db, "root", role="admin")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'root'")
    root = Session(server, "root")
    try:
        shown = {}
        for shortcut in ("hi", "order status"):
            response = root.send("POST", "/api/canned", json={
                "scope": "team", "shortcut": shortcut, "title": "سلام",
                "variants": {"fa": "سلام {visitor.name}"}})
            assert response.status_code == 422, response.text
            data = response.json()
            assert data["field"] == "shortcut" and not data.get("placeholder"), data
            shown[shortcut] = persian(data["message"])
        # Persian text pasted from a word processor often carries an embedding (U+202B … U+202C).
        response = root.send("POST", "/api/canned", json={
            "scope": "team", "shortcut": "salam", "title": "سلام",
            "variants": {"fa": "\u202bسلام {visitor.name}\u202c"}})
        assert response.status_code == 422, response.text
        shown["embedding"] = persian(response.json()["message"])
        assert not any(LATIN_WORD.search(text) for text in shown.values()), shown
    finally:
        root.close()


def test_the_forbidden_page_is_not_titled_sign_in(server: Server) -> None:
    """An agent (Persian) follows a link to /admin: the page says «برای نقش شما نیست» (not for
    your role) but the browser tab and history say «ورود · میز پشتیبانی» ("Sign in ·
    Helpdesk") – she is signed in, and the tab lies (in every language). forbidden.html is
    rendered without a title (pages.py:82), so base.html's default "Sign in" is used. The tab
    should name the page she sees."""
    add_user(server.db, "ana")
    sql(server.db, "UPDATE users SET language = 'fa' WHERE username = 'ana'")
    response = httpx.get(server.url + "/admin", cookies=server.login("ana"))
    assert response.status_code == 403
    title = re.search(r"<title>(.*?)</title>", response.text, re.S)[1]
    assert "برای نقش شما نیست" in response.text  # the page body is right …
    assert not title.startswith(persian("Sign in")), title  # … its title is not


def test_the_arabic_status_switch_says_i_am_online_not_they_are(server: Server) -> None:
    """An Arabic agent's own status switch in the console reads «متصلون» ("they are
    connected", plural) beside «بعيد»: the msgid "Online" serves both the console's status
    button (console.html:5, the agent's own state) and the reports' staffing column (how many
    agents are online, reports.html:74); it lives in ar/reports.json, translated for the
    column. The same console's lists say «متصل» for t("online"). One msgid, two meanings: the
    button should be singular (its own msgid)."""
    add_user(server.db, "huda", display_name="هدى")
    sql(server.db, "UPDATE users SET language = 'ar' WHERE username = 'huda'")
    page = httpx.get(server.url + "/console", cookies=server.login("huda")).text
    button = re.search(r'id="status-online">(?:<span[^>]*></span>)?([^<]*)</button>', page)
    assert button is not None, page[:500]
    assert button[1].strip() == catalogue.messages("ar")["online"], button[1]


