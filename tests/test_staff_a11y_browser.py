"""Every staff page passes axe-core's WCAG 2.1 A/AA rules, with real content, in Chromium.

One server and one browser for the module; each user signs in once and later pages reuse the
session (Playwright's storage state). Each page is audited as a person meets it: the sign-in
form and its error, the console with a visitor's bot answer, an offer, a chat open and its
transfer and close dialogs, the supervisor view watching it, the knowledge base with an entry's
history and the learning inbox, and every admin page with something on it. English at desktop
and phone size (375 x 667), light and dark; Persian and Arabic (right to left) and Chinese on a
representative set. A failure lists each rule, where, and the elements to fix.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from websockets.sync.client import connect

from .axe_check import describe, violations
from .harness import PASSWORD, Server, add_user, sql
from .test_console_browser import next_frame, visitor
from .test_learning_browser import seed

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Admins in four languages, agents, a supervisor; a chat the bot answered, a label, a
    token, a webhook (to a local port: private addresses allowed), an entry with history and
    proposals to review, beside the canned responses and entries the server ships."""
    server = Server(tmp_path_factory.mktemp("a11y"), CHATSERVER_WEBHOOKS_ALLOW_PRIVATE="true")
    server.start()
    add_user(server.db, "root", role="admin", display_name="Root", skills={"lang:en": 5})
    add_user(server.db, "maryam", skills={"lang:en": 5, "billing": 3}, display_name="Maryam")
    add_user(server.db, "omid", skills={"lang:en": 5, "billing": 3}, display_name="Omid")
    add_user(server.db, "sofia", role="supervisor", display_name="Sofia")
    add_user(server.db, "nika", skills={"lang:fa": 5}, display_name="Nika")  # English pages
    for username, language, name in (("reza", "fa", "رضا"), ("leila", "ar", "ليلى"),
                                     ("wei", "zh", "伟")):
        add_user(server.db, username, role="admin", display_name=name,
                 skills={f"lang:{language}": 5})
        sql(server.db, "UPDATE users SET language = ? WHERE username = ?", (language, username))
    seed(server)
    with connect(server.ws + "/ws/visitor") as ws:  # a chat today: the reports have charts
        ws.send(json.dumps({"type": "hello", "name": "Ana", "language": "en"}))
        ws.send(json.dumps({"type": "message", "id": str(uuid.uuid4()),
                            "text": "How do I reset my password?"}))
        next_frame(ws, "message", **{"from": "bot"})
    with httpx.Client(base_url=server.url) as root:
        login = root.post("/login", data={"username": "root", "password": PASSWORD},
                          headers={"accept": "application/json"})
        root.headers["x-csrf-token"] = login.json()["csrf_token"]
        assert root.post("/api/labels", json={"name": "Billing", "colour": "#ffeb3b"}
                         ).status_code == 201
        assert root.post("/api/tokens", json={"name": "Order system", "scopes": ["write"]}
                         ).status_code == 201
        entry = root.post("/api/kb", json={
            "title": "Gift wrapping", "language": "en",
            "questions": ["can you gift wrap my order"],
            "answer": "We wrap gifts on Tuesdays."}).json()
        root.post(f"/api/kb/{entry['id']}/publish", json={"version": entry["version"]})
        assert root.post("/api/webhooks", json={
            "url": "http://127.0.0.1:9/hooks", "events": ["started", "message", "closed"],
            "description": "Order system"}).status_code == 201
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sessions(desk: Server) -> dict[str, Any]:
    """Each user's signed-in storage state, made once (scrypt is slow on purpose) by the
    sign-in form's JSON answer, without loading each home page."""
    return {username: {"cookies": [
        {"name": name, "value": value, "domain": "127.0.0.1", "path": "/", "expires": -1,
         "httpOnly": True, "secure": False, "sameSite": "Strict"}
        for name, value in desk.login(username).items()], "origins": []}
        for username in ("root", "maryam", "sofia", "reza", "leila", "wei", "nika")}


@pytest.fixture
def signed_in(browser, sessions) -> Iterator[Any]:
    """`signed_in(user)` is a page in a fresh context holding `user`'s session."""
    contexts: list[Any] = []

    def open_as(username: str) -> Any:
        context = browser.new_context(viewport=DESKTOP, storage_state=sessions[username])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_as
    for context in contexts:
        context.close()


def audit(page: Any, state: str, found: list[str], *,
          sizes: tuple[dict[str, int], ...] = (DESKTOP, PHONE),
          schemes: tuple[str, ...] = ("light", "dark")) -> None:
    """axe over `page` at each size in each scheme; what it finds is added to `found`."""
    for size in sizes:
        page.set_viewport_size(size)
        for scheme in schemes:
            page.emulate_media(color_scheme=scheme)
            seen = violations(page)
            if seen:
                found.append(f"{state} at {size['width']} px, {scheme}:\n{describe(seen)}")
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")


def settled(page: Any, selector: str) -> None:
    """`selector` is on the page and done animating in (it arrives at opacity 0)."""
    page.wait_for_selector(selector)
    page.wait_for_function("s => [...document.querySelectorAll(s)].every(n => "
                           "n.getAnimations().length == 0)", arg=selector)


@pytest.mark.parametrize("language", ["en", "fa", "ar", "zh"])
def test_sign_in_and_its_error(desk: Server, page, language: str) -> None:
    found: list[str] = []
    page.goto(f"{desk.url}/login?lang={language}")
    audit(page, f"/login ({language})", found)
    page.fill('input[name="username"]', "root")
    page.fill('input[name="password"]', "not the password")
    page.click('button[type="submit"]')
    page.wait_for_selector('[role="alert"]')
    audit(page, f"/login refused ({language})", found,
          sizes=(DESKTOP, PHONE) if language == "en" else (DESKTOP,))
    assert found == [], "\n".join(found)


def test_console_from_offer_to_the_close_dialog(desk: Server, signed_in) -> None:
    found: list[str] = []
    page = signed_in("maryam")
    page.goto(desk.url + "/console")
    page.wait_for_selector('#conn[data-state="online"]')
    audit(page, "/console away", found, sizes=(DESKTOP,))
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    cookie = "; ".join(f"{k}={v}" for k, v in desk.login("omid").items())
    with connect(desk.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as omid, \
            visitor(desk, "Sara", "How do I reset my password?"):
        settled(page, ".offer")
        audit(page, "/console with an offer", found)
        page.click(".offer .btn-primary")
        page.wait_for_selector(".transcript:not([hidden]) .line-bot")
        page.fill("#composer-text", "Let me check that for you.")
        page.keyboard.press("Enter")
        page.wait_for_selector(".line-agent .delivery >> text=Sent")
        # What a screen reader says for the tick: the word, not "check mark".
        assert page.locator(".line-agent .delivery").last.aria_snapshot() == "- text: Sent"
        with visitor(desk, "Tom", "where is my parcel"):
            settled(page, ".offer")
            # With a chat open the offer is out of the chat pane's hearing: a status says it.
            page.get_by_role("status").filter(has_text="New chat: Tom").wait_for(
                state="attached")
            omid.send(json.dumps({"type": "hello"}))  # online once Tom is Maryam's offer
            omid.send(json.dumps({"type": "status", "status": "online"}))
            page.wait_for_selector("#visitor-card:not([hidden]) .facts dd")
            audit(page, "/console with a chat open and an offer waiting", found)
            supervisor = signed_in("sofia")
            supervisor.goto(desk.url + "/console/supervisor")
            supervisor.wait_for_selector("#agents-table >> text=Maryam")
            supervisor.click("#convs-table tbody tr:has-text('Sara')")
            supervisor.wait_for_selector("#watch-transcript .line-bot")
            audit(supervisor, "/console/supervisor watching a chat", found)
            page.click("#transfer-btn")
            page.wait_for_selector("#transfer-dialog[open]")
            audit(page, "the transfer dialog", found, sizes=(DESKTOP,))
            page.keyboard.press("Escape")
            page.click("#close-btn")
            page.wait_for_selector("#close-dialog[open]")
            audit(page, "the close dialog", found, sizes=(DESKTOP,))
            page.keyboard.press("Escape")
    assert found == [], "\n".join(found)


# What moves on the console: each element's animation and how long it runs in seconds, read
# from its style (not the running animations: a slow machine may see a short one ended).
MOVING = """s => [...document.querySelectorAll(s)].map(n => getComputedStyle(n)).map(c => [
    c.animationName, c.animationIterationCount === "infinite" ? Infinity
        : parseFloat(c.animationIterationCount) * parseFloat(c.animationDuration)
          + parseFloat(c.animationDelay)])"""


def test_console_blinking_ends_within_5_s_and_nothing_moves_with_reduce_motion(
        desk: Server, browser, sessions) -> None:
    """WCAG 2.2.2: the typing dots blinked for as long as a visitor typed (no way to stop
    them); they blink under 5 s now. With the system's "reduce motion" on, nothing moves: not
    the dots, nor an offer or a toast sliding in (2.3.3)."""
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(viewport=DESKTOP, storage_state=sessions["maryam"],
                                      reduced_motion=motion)
        page = context.new_page()
        page.goto(desk.url + "/console")
        page.wait_for_selector('#conn[data-state="online"]')
        page.click("#status-online")
        page.wait_for_selector('#status-online[aria-checked="true"]')
        with visitor(desk, "Lena", "How do I reset my password?") as lena:
            mine = ".offer:has-text('Lena')"  # (not a chat an earlier test left queued)
            page.wait_for_selector(mine)
            offer = page.evaluate(MOVING, ".offer")
            page.click(mine + " .btn-primary")
            page.wait_for_selector(".transcript:not([hidden]) .line-bot")
            # Typing is not stored: one sent before the accept reached every process's view
            # of who holds the chat goes nowhere, so it is sent again until the dots show.
            for _ in range(20):
                lena.send(json.dumps({"type": "typing", "on": True}))
                try:
                    page.wait_for_selector("#typing:not([hidden])", timeout=1000)
                    break
                except PlaywrightTimeout:
                    continue
            page.wait_for_selector("#typing:not([hidden])", timeout=1000)
            dots = page.evaluate(MOVING, ".typing-dots i")
            if motion == "reduce":
                assert {name for name, _ in offer + dots} == {"none"}, (offer, dots)
            else:
                assert {n for n, _ in offer} == {"arrive"} and {n for n, _ in dots} == {"blink"}
                assert all(seconds <= 5 for _, seconds in dots), dots
            page.click("#close-btn")
            page.click("#close-resolved")
            page.wait_for_selector("#closed-bar:not([hidden])")
        context.close()


@pytest.mark.parametrize(("user", "language", "line"), [
    ("reza", "fa", "سلام، رمزم را فراموش کرده‌ام"), ("leila", "ar", "نسيت كلمة المرور"),
    ("wei", "zh", "我忘记密码了")])
def test_console_in_persian_arabic_and_chinese(desk: Server, signed_in, user: str,
                                               language: str, line: str) -> None:
    found: list[str] = []
    page = signed_in(user)
    page.goto(desk.url + "/console")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    with visitor(desk, "Sina", line, language=language):
        settled(page, ".offer")
        page.click(".offer .btn-primary")
        page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor")
        audit(page, f"/console ({language})", found)
        page.click("#close-btn")
        page.click("#close-resolved")
        page.wait_for_selector("#closed-bar:not([hidden])")
    assert found == [], "\n".join(found)


def test_a_visitors_lines_are_marked_in_their_language(desk: Server, signed_in) -> None:
    """WCAG 3.1.2: in an English console a Persian visitor's line and the bot's Persian answer
    carry lang="fa", so a screen reader reads them in a Persian voice, not an English one."""
    page = signed_in("nika")
    page.goto(desk.url + "/console")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')
    with visitor(desk, "Sina", "سلام، رمزم را فراموش کرده‌ام", language="fa"):
        page.wait_for_selector(".offer:has-text('Sina')")
        page.click(".offer:has-text('Sina') .btn-primary")
        page.wait_for_selector(".transcript:not([hidden]) .bubble-bot")
        shown = ".transcript:not([hidden])"
        assert page.get_attribute("html", "lang") == "en"
        assert page.locator(f"{shown} .bubble-visitor").first.get_attribute("lang") == "fa"
        assert page.locator(f"{shown} .bubble-bot").first.get_attribute("lang") == "fa"
        assert page.locator(f"{shown} .author").first.get_attribute("lang") is None
        page.click("#close-btn")
        page.click("#close-resolved")
        page.wait_for_selector("#closed-bar:not([hidden])")


def open_entry_history(page: Any) -> None:
    """The knowledge base with 'Gift wrapping' open and its first change shown."""
    page.wait_for_selector("#proposals .proposal")
    page.click("#kb-list li button:has-text('Gift wrapping')")
    page.wait_for_selector("#versions li >> nth=1")
    page.click("#versions button >> nth=0")
    page.wait_for_selector("#diff .diff-field .add")


ADMIN_PAGES = [
    ("/admin", open_entry_history),
    ("/admin/canned", lambda page: page.wait_for_selector("#canned-list li button")),
    ("/admin/users", lambda page: page.wait_for_selector("#users-table >> text=Maryam")),
    ("/admin/labels", lambda page: page.wait_for_selector("text=Billing")),
    ("/admin/audit", lambda page: page.wait_for_selector("table tbody tr")),
    ("/admin/reports", lambda page: page.wait_for_selector("svg.chart")),
    ("/console/search?q=password", lambda page: page.wait_for_selector("mark")),
    ("/account", lambda page: page.wait_for_selector("form")),
    ("/admin/tokens", lambda page: page.wait_for_selector("text=Order system")),
    ("/admin/webhooks", lambda page: (page.click("#wh-table button >> text=Deliveries"),
                                      page.wait_for_selector("#wh-log tbody tr"))),
    ("/console/supervisor", lambda page: page.wait_for_selector('#conn[data-state="online"]')),
]


@pytest.mark.parametrize(("path", "ready"), ADMIN_PAGES, ids=[p for p, _ in ADMIN_PAGES])
def test_admin_pages(desk: Server, signed_in, path: str, ready: Any) -> None:
    found: list[str] = []
    page = signed_in("root")
    page.goto(desk.url + path)
    ready(page)
    audit(page, path, found)
    assert found == [], "\n".join(found)


# Each language's set: the pages most worked in, and in each script every kind of page once
# (editor, charts, tables, forms); the first at both sizes in both schemes.
LANGUAGE_PAGES = {
    "reza": ("/admin", "/admin/reports", "/console/supervisor", "/admin/users"),
    "leila": ("/admin/reports", "/admin/audit", "/console/search?q=password", "/account"),
    "wei": ("/admin", "/admin/labels", "/account", "/admin/canned"),
}


@pytest.mark.parametrize("user", list(LANGUAGE_PAGES))
def test_admin_pages_in_persian_arabic_and_chinese(desk: Server, signed_in, user: str) -> None:
    found: list[str] = []
    page = signed_in(user)
    ready = dict(ADMIN_PAGES)
    for n, path in enumerate(LANGUAGE_PAGES[user]):
        page.goto(desk.url + path)
        ready[path](page)
        if n == 0:
            audit(page, f"{path} ({user})", found)
        else:
            audit(page, f"{path} ({user})", found, sizes=(DESKTOP,), schemes=("light",))
    assert found == [], "\n".join(found)


def test_the_forbidden_page(desk: Server, signed_in) -> None:
    found: list[str] = []
    page = signed_in("maryam")
    page.goto(desk.url + "/admin/users")
    audit(page, "forbidden", found)
    assert found == [], "\n".join(found)
