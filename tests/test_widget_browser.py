"""The widget in real Chromium against the real server, with a real agent on the other socket.

Host pages are the server's `/demo`, or small pages served from another origin (a second local
HTTP server) that embed `SERVER/widget.js` as a site owner's page would: so the loader, the
cross-origin module imports and `/ws/visitor` are exercised exactly as in production. (Pages
fulfilled by Playwright routing cannot be used: Chromium's local-network-access checks then
refuse their sockets to 127.0.0.1.)
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from websockets.sync.client import ClientConnection, connect

from .browser import Site, screenshot
from .harness import Server, add_user

pytestmark = pytest.mark.browser

expect.set_options(timeout=5000)

XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> & done'


class Agent:
    """An agent on /ws/agent through the sync client: Playwright's sync API owns the loop."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.unread: list[dict[str, Any]] = []
        self.send({"type": "hello"})
        self.expect("welcome")
        self.send({"type": "status", "status": "online"})
        self.expect("status")

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def request(self, type: str, **fields: Any) -> dict[str, Any]:
        frame_id = uuid.uuid4().hex
        self.send({"type": type, "id": frame_id, **fields})
        ack = self.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert ack["type"] == "ack", ack
        return ack

    def expect(self, types: str | tuple[str, ...], where: Any = None,
               timeout: float = 5.0) -> dict[str, Any]:
        types = (types,) if isinstance(types, str) else types
        match = lambda f: f["type"] in types and (where is None or where(f))  # noqa: E731
        for i, f in enumerate(self.unread):
            if match(f):
                return self.unread.pop(i)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                f = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                break
            if match(f):
                return f
            self.unread.append(f)
        raise AssertionError(f"no {types} within {timeout}s; unread: {self.unread}")

    def visitor_lines(self, seconds: float) -> list[str]:
        """Every visitor chat line that arrives within `seconds` (and those already waiting)."""
        lines = []
        while True:
            try:
                f = self.expect("message", where=lambda f: f["from"] == "visitor",
                                timeout=seconds)
            except AssertionError:
                return lines
            lines.append(f["text"])


@pytest.fixture(scope="module")
def alices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Agent]]:
    """A server with Alice, an agent, online: for the tests whose visitor asks for a person
    (`shared_server` has nobody online); each test's visitor is its own."""
    with staffed(tmp_path_factory.mktemp("alice"), "alice", {"lang:en": 5, "orders": 5},
                 "Alice") as desk:
        yield desk


def part(page, css: str, **options: Any):
    """A locator inside the widget (Playwright's CSS pierces open shadow roots)."""
    return page.locator(f"chat-widget {css}", **options)


def say(page, text: str) -> None:
    box = part(page, ".composer textarea")
    box.fill(text)
    box.press("Enter")


@contextlib.contextmanager
def staffed(tmp: Path, username: str, skills: dict[str, int], display_name: str,
            capacity: int = 3, **env: str) -> Iterator[tuple[Server, Agent]]:
    """A server with one agent, whose socket the test drives by hand (the console's part)."""
    server = Server(tmp, **env).start()
    add_user(server.db, username, skills=skills, capacity=capacity, display_name=display_name)
    cookie = "; ".join(f"{k}={v}" for k, v in server.login(username).items())
    try:
        with connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as ws:
            yield server, Agent(ws)
    finally:
        server.stop()


def host_page(page, site: Site, path: str, html: str) -> None:
    site.pages[path] = html
    page.goto(site.url + path)


def embed(server: Server, lang: str = "en", head: str = "", attrs: str = "",
          body: str = "") -> str:
    """A site owner's page with the embed snippet pointing at `server`."""
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
            f'<body><h1>Shop</h1><p>Hello</p>{body}<script src="{server.url}/widget.js" '
            f'data-site="t" {attrs} async></script></body></html>')


def query(db, sql: str, *args: Any) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def eventually(check, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return result


def test_bot_then_agent_then_offline_reload_and_survey(alices, page):
    server, agent = alices
    page.goto(server.url + "/demo")
    part(page, ".launcher").click()
    expect(part(page, ".prechat input[name=name]")).to_be_focused()  # the demo asks first
    page.keyboard.type("Mina")
    part(page, ".prechat input[name=email]").fill("mina@example.com")
    part(page, ".prechat select[name=topic]").select_option(label="Orders")
    part(page, ".prechat button", has_text="Start chat").click()
    expect(part(page, ".composer textarea")).to_be_focused()

    say(page, "how do I track my package")
    expect(part(page, ".msg.bot").last).to_contain_text("My account")

    part(page, "button", has_text="Talk to a person").click()
    offer = agent.expect("offer")["conversation"]
    assert (offer["visitor_name"], offer["topic"], offer["language"]) == ("Mina", "orders", "en")
    cid = offer["id"]
    agent.request("accept", conversation_id=cid)
    expect(part(page, ".note").last).to_have_text("Alice joined the chat")
    expect(part(page, ".status")).to_have_text("Alice")

    # Typing, both ways.
    agent.send({"type": "typing", "conversation_id": cid, "on": True})
    expect(part(page, ".typing")).to_have_text("Alice is typing…")
    part(page, ".composer textarea").press_sequentially("h")
    agent.expect("typing", where=lambda f: f["on"] is True)
    part(page, ".composer textarea").fill("")

    # An agent's markup is shown as text: no element made, no script run.
    sent = agent.request("message", conversation_id=cid, text=XSS)
    expect(part(page, ".msg.agent .text").last).to_have_text(XSS)
    expect(part(page, ".typing")).to_have_text("")
    assert part(page, "img").count() == 0
    assert page.evaluate("window.pwned") is None
    agent.expect("read", where=lambda f: f["seq"] >= sent["seq"])  # the visitor saw it

    # The network drops: two lines wait in the outbox, then arrive once each, in order.
    page.context.set_offline(True)
    expect(part(page, ".status")).to_have_text("Reconnecting…")
    say(page, "first while offline")
    say(page, "second while offline")
    expect(part(page, ".msg.mine .tick").last).to_have_text("◷")
    assert agent.visitor_lines(0.5) == []
    page.context.set_offline(False)
    assert agent.visitor_lines(1.5) == ["first while offline", "second while offline"]
    expect(part(page, ".msg.mine .tick").last).to_have_text("✓")
    stored = query(server.db, "SELECT json_extract(payload, '$.text') FROM events "
                   "WHERE conversation_id = ? AND type = 'message' AND author = 'visitor' "
                   "ORDER BY seq", cid)
    assert [t for (t,) in stored] == ["how do I track my package", "first while offline",
                                      "second while offline"]  # each once, in order
    last_seq = query(server.db, "SELECT max(seq) FROM events WHERE conversation_id = ?", cid)[0][0]
    agent.send({"type": "read", "conversation_id": cid, "seq": last_seq})
    expect(part(page, ".msg.mine .tick").last).to_have_text("✓✓")

    # A reload (or another page of the site) brings the same chat back, still open.
    page.reload()
    expect(part(page, ".msg.agent .text").last).to_have_text(XSS)
    expect(part(page, ".msg.mine .text")).to_have_count(3)
    expect(part(page, ".status")).to_have_text("Alice")

    with page.expect_download() as download:
        part(page, "header button[aria-label='Download transcript']").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "You: second while offline" in text and "Alice: " + XSS in text

    # The agent closes; the visitor rates the chat; the answer is stored.
    agent.request("close", conversation_id=cid, resolved=True)
    expect(part(page, ".note").last).to_have_text("The chat has ended")
    part(page, ".star").nth(3).click()
    part(page, "select[name=nps]").select_option("9")
    part(page, "textarea[name=comment]").fill("quick and kind")
    part(page, "button", has_text="Submit").click()
    expect(part(page, ".notice", has_text="Thanks for your feedback!")).to_be_visible()
    rows = eventually(lambda: query(server.db, "SELECT payload FROM events WHERE "
                                    "conversation_id = ? AND type = 'survey'", cid))
    answer = {"rating": 4, "nps": 9, "comment": "quick and kind"}
    assert json.loads(rows[0][0]).items() >= answer.items()
    screenshot(page, "widget-en-survey-done")


def test_persian_page_gets_a_right_to_left_widget(shared_server, site, page):
    host_page(page, site, "/fa/shop", embed(shared_server, lang="fa"))
    part(page, ".launcher").click()
    root = part(page, ".cw")
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", "fa")
    expect(part(page, "h2")).to_have_text("گفتگو با ما")
    say(page, "سفارشم کجاست؟")
    expect(part(page, ".msg.bot").last).to_contain_text("سفارش")
    box = part(page, ".panel").bounding_box()
    assert box is not None and box["x"] < 100  # mirrored: the panel sits on the left
    assert part(page, ".composer textarea").evaluate("e => getComputedStyle(e).direction") == "rtl"
    screenshot(page, "widget-fa-rtl")
    language = query(shared_server.db, "SELECT language FROM conversations "
                     "ORDER BY created_ms DESC LIMIT 1")
    assert language == [("fa",)]  # sent in hello


def test_keyboard_only_open_escape_and_focus(shared_server, site, page):
    host_page(page, site, "/kb", embed(shared_server))
    launcher = part(page, ".launcher")
    launcher.focus()
    page.keyboard.press("Enter")
    # the panel opens at once; under a loaded CI machine the first paint took over 5 s
    expect(part(page, ".composer textarea")).to_be_focused(timeout=15_000)
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(part(page, ".log")).to_have_attribute("role", "log")
    page.keyboard.press("Escape")
    expect(part(page, ".panel")).to_be_hidden()
    expect(launcher).to_be_focused()


HOSTILE = """<style>
  html { font-size: 40px !important; direction: rtl !important; }
  * { font: italic 30px/3 "Comic Sans MS", cursive !important; color: red !important;
      margin: 7px !important; padding: 9px !important; box-sizing: content-box !important;
      letter-spacing: 3px !important; text-transform: uppercase !important; }
  div { display: block !important; background: yellow !important; border: 5px solid green
        !important; position: relative !important; width: 50% !important; }
  button { all: unset !important; background: black !important; width: 300px !important; }
  chat-widget, body > * { display: none !important; transform: scale(.5) !important; }
</style>"""

PROBED = [".launcher", ".panel", "header", "h2", ".composer textarea",
          ".composer button[type=submit]", ".composer .icon", ".log"]
STYLES = ["font-family", "font-size", "line-height", "color", "background-color", "padding",
          "margin", "border", "letter-spacing", "text-transform", "box-sizing", "width"]


def measure(page) -> dict[str, Any]:
    page.wait_for_function("() => window.ChatWidget && !window.ChatWidget._q")
    page.evaluate("ChatWidget.open()")
    expect(part(page, ".composer textarea")).to_be_visible()
    page.wait_for_timeout(50)  # let the stylesheet's hold be lifted and layout settle
    out = {}
    for css in PROBED:
        el = part(page, css)
        out[css] = (el.bounding_box(), el.evaluate(
            "(e, names) => names.map((n) => getComputedStyle(e).getPropertyValue(n))", STYLES))
    return out


def test_host_css_cannot_change_the_widget_and_the_widget_adds_one_global(
        shared_server, site, page):
    host_page(page, site, "/plain", embed(shared_server))
    plain = measure(page)
    twice = f'<script src="{shared_server.url}/widget.js" data-site="t" async></script>'
    host_page(page, site, "/hostile", embed(shared_server, head=HOSTILE, body=twice))
    assert measure(page) == plain
    assert page.locator("chat-widget").count() == 1  # the script twice makes one widget

    host_page(page, site, "/bare", "<!doctype html><title>bare</title><body><p>hi</p>")
    before = set(page.evaluate("Object.keys(window)"))
    page.evaluate("""(src) => new Promise((done) => {
        const s = document.createElement('script');
        s.src = src;
        document.body.append(s);
        const wait = () => (window.ChatWidget && !window.ChatWidget._q ? done() : setTimeout(wait));
        wait();
    })""", shared_server.url + "/widget.js")
    assert set(page.evaluate("Object.keys(window)")) - before == {"ChatWidget"}
    assert page.evaluate("typeof ChatWidget.open + typeof ChatWidget.on") == "functionfunction"


def test_api_queued_before_load_and_events(shared_server, site, page):
    host_page(page, site, "/api", embed(shared_server, body="""<script>
        window.seen = [];
        </script>"""))
    page.wait_for_function("() => window.ChatWidget && !window.ChatWidget._q")
    page.evaluate("""() => {
        ChatWidget.on('open', () => seen.push('open'));
        ChatWidget.on('message', (m) => seen.push(m.from));
        ChatWidget.on('close', () => seen.push('close'));
        ChatWidget.setLanguage('zh');
        ChatWidget.open();
    }""")
    expect(part(page, ".cw")).to_have_attribute("lang", "zh")
    say(page, "怎么退货")
    expect(part(page, ".msg.bot")).to_have_count(1)
    page.evaluate("ChatWidget.close()")
    expect(part(page, ".panel")).to_be_hidden()
    page.wait_for_function("() => seen.length === 3")
    assert page.evaluate("seen") == ["open", "bot", "close"]


def test_greeting_shows_on_matching_pages_only(shared_server, site, page):
    attrs = 'data-greeting="Need a hand?" data-greeting-delay="0.1" data-greeting-path="^/sale"'
    host_page(page, site, "/about", embed(shared_server, attrs=attrs))
    page.wait_for_function("() => window.ChatWidget && !window.ChatWidget._q")
    page.wait_for_timeout(300)
    expect(part(page, ".bubble")).to_be_hidden()
    host_page(page, site, "/sale/today", embed(shared_server, attrs=attrs))
    expect(part(page, ".bubble .greet")).to_have_text("Need a hand?")
    part(page, ".bubble .greet").click()
    expect(part(page, ".bubble")).to_be_hidden()
    expect(part(page, ".composer textarea")).to_be_focused()


def test_nobody_online_leave_a_message(shared_server, site, page):
    host_page(page, site, "/contact", embed(shared_server))
    part(page, ".launcher").click()
    part(page, "button", has_text="Talk to a person").click()
    part(page, ".offline input[name=email]").fill("mina@example.com")
    part(page, "textarea[name=text]").fill("Please call me about order 1234")
    part(page, ".offline button[type=submit]", has_text="Send").click()
    expect(part(page, ".notice", has_text="Thanks! We will get back to you.")).to_be_visible()
    rows = eventually(lambda: query(shared_server.db, "SELECT email, text FROM offline_messages"))
    assert rows == [("mina@example.com", "Please call me about order 1234")]


def test_a_message_of_spaces_is_refused_where_the_visitor_sees_it(shared_server, site, page):
    """The form once did nothing at all for a message of spaces (the field's `required` took
    them as text): now the field is emptied and the browser names it as missing."""
    host_page(page, site, "/contact-blank", embed(shared_server))
    part(page, ".launcher").click()
    part(page, "button", has_text="Talk to a person").click()
    part(page, ".offline input[name=email]").fill("blank@example.com")
    message = part(page, "textarea[name=text]")
    message.fill("   \n  ")
    part(page, ".offline button[type=submit]", has_text="Send").click()
    expect(message).to_be_focused()
    assert message.evaluate("el => el.validity.valueMissing")
    expect(part(page, ".notice", has_text="Thanks!")).to_be_hidden()
    assert query(shared_server.db, "SELECT text FROM offline_messages WHERE email = ?",
                 "blank@example.com") == []


def test_the_form_comes_when_its_file_failed_to_load_once(shared_server, site, page):
    """The leave-a-message form and the survey are in forms.js, loaded when one is first due:
    a server hiccup then (503) delays the form by a few seconds, it does not lose it."""
    refused: list[str] = []

    def once(route) -> None:
        if refused:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.fulfill(status=503, body="busy")

    page.route(f"{shared_server.url}/widget/forms.js*", once)
    host_page(page, site, "/contact-later", embed(shared_server))
    part(page, ".launcher").click()
    part(page, "button", has_text="Talk to a person").click()
    email = part(page, ".offline input[name=email]")
    expect(email).to_be_focused(timeout=10000)
    assert len(refused) == 1


def test_consent_comes_before_the_first_message_and_is_stored(tmp_path, site, page):
    srv = Server(tmp_path, CHATSERVER_PRIVACY_REQUIRE_CONSENT="true",
                 CHATSERVER_PRIVACY_NOTICE_URL="https://shop.example/privacy")
    srv.start()
    try:
        host_page(page, site, "/consent", embed(srv))
        part(page, ".launcher").click()
        notice = part(page, "a", has_text="Privacy notice")
        expect(notice).to_be_visible()
        assert notice.get_attribute("href") == "https://shop.example/privacy"
        expect(part(page, ".composer")).to_be_hidden()  # nothing can be typed before consent
        part(page, "button", has_text="Accept").click()
        say(page, "how can I track my order?")
        expect(part(page, ".msg.bot").first).to_be_visible()
        rows = eventually(lambda: query(srv.db, "SELECT type FROM events WHERE type IN "
                                                "('consent', 'message') ORDER BY seq"))
        assert rows[0] == ("consent",) and ("message",) in rows
    finally:
        srv.stop()


def test_a_shop_with_a_strict_csp_allows_only_the_chat_server(shared_server, site, page):
    """What docs/widget.md asks of a shop's policy is enough: nothing inline, nothing else."""
    policy = (f"default-src 'none'; script-src {shared_server.url}; "
              f"style-src {shared_server.url}; connect-src {shared_server.ws}")
    host_page(page, site, "/strict", embed(
        shared_server, head=f'<meta http-equiv="Content-Security-Policy" content="{policy}">'))
    part(page, ".launcher").click()
    say(page, "how do I track my package")
    expect(part(page, ".msg.bot").last).to_contain_text("My account")
    # widget.css applied, and the hold that hides the widget until then was lifted.
    assert part(page, ".launcher").evaluate("e => getComputedStyle(e).borderRadius") == "50%"
    assert page.locator("chat-widget").evaluate("e => getComputedStyle(e).visibility") == "visible"
    # (no-policy-violations, the browser fixture's check, fails the test on any CSP report)


def test_the_demo_shops_own_inline_script_runs_under_its_policy(shared_server, page):
    page.goto(shared_server.url + "/demo")
    expect(part(page, ".launcher")).to_be_visible()  # loaded (a string wait_for_function is eval)
    page.get_by_role("button", name="فارسی").click()
    expect(part(page, ".cw")).to_have_attribute("lang", "fa")


def test_a_site_given_name_cut_mid_emoji_or_with_controls_still_says_hello(
    shared_server, site, page
):
    """The server refuses a hello holding a lone surrogate or a control character (and sends
    no welcome), so the widget cleans a site's name and cuts it by code points, not halves."""
    host_page(page, site, "/identify", embed(shared_server))
    page.wait_for_function("() => window.ChatWidget && !window.ChatWidget._q")
    name = "a" * 99 + "😀" + "\x00\tz"  # a UTF-16 cut at 100 would keep half the emoji
    page.evaluate("(name) => { ChatWidget.identify({ name }); ChatWidget.open(); }", name)
    say(page, "how do I track my package")
    expect(part(page, ".msg.bot").last).to_contain_text("My account")
    names = query(shared_server.db, "SELECT name FROM visitors WHERE name LIKE 'aaaa%'")
    assert ("a" * 99 + "😀",) in names


def test_small_talk_and_the_talk_to_a_person_button_in_a_frustrated_reply(
        alices, site, page):
    server, alice = alices
    host_page(page, site, "/help", embed(server))
    part(page, ".launcher").click()
    say(page, "hi")
    greeting = part(page, ".msg.bot").last
    expect(greeting).to_contain_text("Northwind Market assistant")
    expect(greeting.locator(".chip")).to_have_count(0)
    say(page, "thanks!")
    expect(part(page, ".msg.bot")).to_have_count(2)
    expect(part(page, ".msg.bot").last.locator(".chip")).to_have_text(["End chat"])

    say(page, "this is useless")
    offer_line = part(page, ".msg.bot").nth(2)
    expect(offer_line).to_contain_text("Would you like to talk to a person?")
    button = offer_line.locator(".chip", has_text="Talk to a person")
    expect(button).to_be_visible()
    with pytest.raises(AssertionError):  # the message itself queued nobody
        alice.expect("offer", timeout=0.3)
    button.click()
    offer = alice.expect("offer")["conversation"]
    bot_lines = [m for m in offer["transcript"] if m["from"] == "bot"]
    assert [m["decision"] for m in bot_lines] == ["smalltalk", "smalltalk", "offer_human"]
    expect(button).to_be_hidden()  # asked once: the line's buttons go, as the footer's does
    expect(part(page, ".msg.bot .chip", has_text="End chat")).to_be_hidden()
    screenshot(page, "widget-offer-human")
