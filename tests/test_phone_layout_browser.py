"""The staff pages and the widget on a phone (390x844, and held sideways at 844x390), in light
and dark, left to right and right to left: each page fits the screen, its controls are 44 px
touch targets, the transcript stays readable sideways, and an offer that comes while a chat is
open is seen. Real server, real visitor sockets, Chromium's mobile emulation."""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import pytest

from .harness import Server, add_user
from .test_alerts_browser import alerting, go_online, taken, visitor
from .test_console_browser import log_in
from .test_console_i18n_browser import SMALL_TARGETS

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LANDSCAPE = {"width": 844, "height": 390}
TOUCH = {"is_mobile": True, "has_touch": True}
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    """One server for the module: each test signs in its own user, and its visitors end their
    chats as they leave, so no test is offered another's visitor."""
    return shared_server


def user(server: Server, name: str, role: str = "agent", *, english: bool = True) -> str:
    """A new user of `role` shown as `name`; returns the username (unique on the server)."""
    username = f"{name.lower()}{next(_names)}"
    add_user(server.db, username, role=role, skills={"lang:en": 5} if english else {},
             display_name=name)
    return username


# The page's width and what lies outside the phone's `w` px: the elements whose right (or, in
# right to left, left) edge is beyond it. (Chromium's mobile emulation, like a phone, widens the
# layout viewport to the content and zooms the page out: innerWidth is no yardstick.)
WIDER = """(w) => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !el.checkVisibility()) continue;
    if (r.right > w + 1 || r.left < -1) {
      out.push(`${el.tagName.toLowerCase()}#${el.id}.${String(el.className).split(' ')[0]}`
               + ` ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  return [document.scrollingElement.scrollWidth, w, out.slice(0, 6)];
}"""


def page_width(page, device: int = PHONE["width"]) -> tuple[int, int, list[str]]:
    width, window, wider = page.evaluate(WIDER, device)
    return width, window, wider


@contextmanager
def signed_in(browser, server: Server, username: str, path: str, ready: str, **options):
    """`username`'s `path` on a phone (390x844 and touch unless `options` say otherwise), once
    `ready` is drawn."""
    context = browser.new_context(**{"viewport": PHONE, **TOUCH, **options})
    try:
        page = context.new_page()
        log_in(page, server, username)
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(server.url + path)
        page.wait_for_selector(ready)
        yield page
    finally:
        context.close()


@contextmanager
def in_a_chat(context, server: Server):
    """A new agent online in `context`, Sara's chat accepted and on screen: the page and Sara."""
    try:
        page = context.new_page()
        go_online(page, server, user(server, "Nadia"))
        with visitor(server, "Sara") as sara:
            page.wait_for_selector(".offer")
            page.tap(".offer .btn-primary")
            page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor")
            yield page, sara
    finally:
        context.close()


@pytest.mark.parametrize(("role", "scheme", "locale"),
                         [("admin", "light", "en-US"), ("admin", "dark", "ar"),
                          ("supervisor", "dark", "fa-IR")])
def test_the_supervisor_view_fits_a_phone(server: Server, browser, role: str, scheme: str,
                                          locale: str) -> None:
    """A supervisor opens the supervisor view on a 390x844 phone: the page was 430-515 px
    wide, so the agents table's name column and the first stat cards were cut off at the
    screen's edge and the whole page slid sideways under a finger. It fits 390 px like the
    console and the admin pages."""
    sue = user(server, "Sue", role, english=False)
    user(server, "Maryam")
    with signed_in(browser, server, sue, "/console/supervisor", '#conn[data-state="online"]',
                   color_scheme=scheme, locale=locale) as page:
        page.wait_for_timeout(500)
        width, window, wider = page_width(page)
        assert width <= window, f"the supervisor view is {width} px wide in {window}: {wider}"


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_the_account_page_fits_a_phone_and_its_buttons_can_be_tapped(server: Server, browser,
                                                                      role: str) -> None:
    """An agent opens /account on a 390x844 phone to turn the sound off: Save language, Save
    alerts, Change password were 34 px high buttons, and for an admin the page was wider than
    the screen (the top bar's menu). The page fits the screen and its buttons and switches are
    44 px targets, as on the console and the admin pages."""
    nadia = user(server, "Nadia", role)
    with signed_in(browser, server, nadia, "/account", "#alert-switches:not([disabled])",
                   color_scheme="dark", locale="fa-IR") as page:
        width, window, wider = page_width(page)
        problems = [] if width <= window else [f"page {width} px wide in {window}: {wider}"]
        # A switch is tapped on its label (the label wraps the box): the label's height counts.
        for name in ("sound", "desktop", "title"):
            hit = page.locator(f"#alerts-form input[name='{name}']").evaluate(
                "b => { const r = (b.closest('label') || b).getBoundingClientRect();"
                " return [Math.round(r.width), Math.round(r.height)]; }")
            if hit[1] < 43.5:
                problems.append(f"switch {name}: {hit[0]}x{hit[1]} px")
        small = [s for s in page.evaluate(SMALL_TARGETS) if "btn" in str(s[0])]
        problems += [f"button {s[0]}: {round(s[1])} px high" for s in small]
        assert problems == [], "; ".join(problems)


def test_the_canned_responses_editor_fits_a_phone(server: Server, browser) -> None:
    """An admin opens Canned responses (/admin/canned) on a 390x844 phone: the page was 453 px
    wide (in Arabic 429 px), the top bar's menu running off the side and pulling the page
    sideways. It fits the screen like the other admin pages."""
    ada = user(server, "Ada", "admin", english=False)
    with signed_in(browser, server, ada, "/admin/canned", "#canned-new") as page:
        page.wait_for_timeout(300)
        width, window, wider = page_width(page)
        assert width <= window, f"/admin/canned is {width} px wide in {window}: {wider}"


def test_on_a_landscape_phone_the_transcript_can_be_read(server: Server, browser) -> None:
    """An agent turns the phone sideways (844x390) in a chat: the top bar, the chat's header
    and the composer took nearly all the height, and the transcript, what the agent is there
    to read, was a strip some 37 px high: one line's tail at best. At least a few lines (here
    120 px) stay in view above the composer."""
    context = browser.new_context(viewport=LANDSCAPE, **TOUCH, color_scheme="dark", locale="fa-IR")
    with in_a_chat(context, server) as (page, sara):
        sara.say("my order 1043 never came")
        page.locator(".transcript:not([hidden]) >> text=1043").wait_for()
        height = page.locator(".transcript:not([hidden])").evaluate(
            "t => Math.round(t.getBoundingClientRect().height)")
        assert height >= 120, f"the transcript is {height} px high on a 390 px high screen"


def test_on_a_landscape_phone_the_console_controls_are_touch_targets(server: Server,
                                                                     browser) -> None:
    """The same phone held sideways (844x390, a touch screen), in Sara's chat when Omar's
    offer comes: console_phone.css gave 44 px targets only up to 700 px wide, so here Accept
    and Decline were 28 px high, Send, Transfer, Close chat, Online/Away 33-34 px, the label
    picker 24 px. A phone is a phone either way up: the targets are 44 px by (pointer: coarse)
    as well as by width."""
    context = browser.new_context(viewport=LANDSCAPE, **TOUCH, color_scheme="dark")
    with in_a_chat(context, server) as (page, _), visitor(server, "Omar"):
        page.wait_for_selector(".offer:has-text('Omar') .btn-primary")
        small = page.evaluate(SMALL_TARGETS)
        assert small == [], f"under 44 px at 844x390: {small}"


def test_on_a_phone_an_offer_that_comes_while_a_chat_is_open_is_seen(server: Server,
                                                                     browser) -> None:
    """On a 390x844 phone the agent is in Sara's chat (the chat view) when Omar's offer comes.
    The offer is drawn in the chat list, which is not on screen; the title's count is not
    shown by a phone's browser; the desktop notification for an offer is skipped while the
    page has focus. So nothing on the screen said a visitor was waiting, and the offer ran
    out. A banner in the chat tells of it, and its Accept opens Omar's chat."""
    context = alerting(browser, server, viewport=PHONE, **TOUCH)
    with in_a_chat(context, server) as (page, _):
        assert page.locator("#console").get_attribute("data-view") == "chat"
        taken(page, "notes")
        with visitor(server, "Omar"):
            page.wait_for_selector(".offer:has-text('Omar')", state="attached")
            page.wait_for_timeout(300)
            assert page.locator("#console").get_attribute("data-view") == "chat"
            # The words a reader sees: text nodes drawn inside the screen.
            seen = page.evaluate("""() => {
              const out = [];
              const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
              for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                const p = n.parentElement;
                const shown = p.checkVisibility({ visibilityProperty: true });
                if (!n.textContent.trim() || !shown) continue;
                const r = document.createRange(); r.selectNodeContents(n);
                const b = r.getBoundingClientRect();
                const inside = b.width && b.bottom > 0 && b.top < innerHeight;
                if (inside) out.push(n.textContent.trim());
              }
              return out.join(' | ');
            }""")
            notes = taken(page, "notes")
            assert page.evaluate("document.hasFocus()")  # the agent is looking at the page
            told = ["Omar" in seen or "Incoming" in seen or "Accept" in seen, bool(notes)]
            assert any(told), f"nothing on screen or notified tells of Omar's offer: {seen!r}"

            # Accepted from where the agent is: Omar's chat on screen, nothing left waiting.
            page.tap("#offer-banner-accept")
            page.wait_for_selector(".tab[aria-selected='true'] >> text=Omar", state="attached")
            assert page.locator("#console").get_attribute("data-view") == "chat"
            assert page.locator("#chat-name").inner_text() == "Omar"
            assert not page.locator("#offer-banner").is_visible()


def test_on_a_phone_offers_waiting_are_counted_in_the_chat_in_persian(server: Server,
                                                                      browser) -> None:
    """A Persian agent on a phone, in Sara's chat, when Omar and Reza both ask for a person:
    the chat says (in Persian, with Persian digits) that two visitors are waiting, offers no
    Accept that would pick one blindly, and its button goes to the list where both offers are."""
    context = browser.new_context(viewport=PHONE, **TOUCH, locale="fa-IR", color_scheme="dark")
    with in_a_chat(context, server) as (page, _), visitor(server, "Omar"), \
            visitor(server, "Reza"):
        page.locator("#offer-banner >> text=۲ بازدیدکننده منتظر شما هستند").wait_for()
        assert not page.locator("#offer-banner-accept").is_visible()
        page.tap("#offer-banner-show")
        page.wait_for_selector("#console[data-view='list']")
        assert page.locator(".offer:visible").count() == 2


def test_on_a_phone_the_transfer_dialogs_choices_are_touch_targets(server: Server,
                                                                   browser) -> None:
    """On a 390x844 phone the agent opens Transfer: "To a colleague" and "To a team (skill)"
    were 13x13 px radio buttons whose labels were a line of text (23 px) high, well under the
    44 px the rest of the phone console keeps. Each choice (its label) is a 44 px target."""
    context = browser.new_context(viewport=PHONE, **TOUCH, locale="ar", color_scheme="dark")
    with in_a_chat(context, server) as (page, _):
        page.tap("#transfer-btn")
        page.wait_for_selector("input[name='target'][value='skill']")
        sizes = page.locator("input[name='target']").evaluate_all(
            "bs => bs.map(b => { const r = (b.closest('label') || b).getBoundingClientRect();"
            " return [b.value, Math.round(r.width), Math.round(r.height)]; })")
        assert [s for s in sizes if s[2] < 43.5] == [], f"choices (label w x h): {sizes}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_widget_on_a_phone_has_touch_targets(server: Server, browser, scheme: str) -> None:
    """A visitor on a 390x844 phone opens the widget: its close (x) and download buttons were
    32x32 px, "Talk to a person" and "End chat" 28 px high, Send 36 px. The widget fills the
    phone's screen there; its controls are 44 px targets like the console's."""
    context = browser.new_context(viewport=PHONE, **TOUCH, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(server.url + "/demo")
        part = lambda css: page.locator(f"chat-widget {css}")  # noqa: E731
        part(".launcher").tap()
        part(".prechat input[name='name']").fill("Sara")
        part(".prechat button[type='submit']").tap()
        part(".composer textarea").fill("hello")
        part(".composer textarea").press("Enter")
        part(".msg.bot").first.wait_for()
        small = page.evaluate("""() => [...document.querySelector('chat-widget').shadowRoot
            .querySelectorAll('button, a[href], textarea')]
          .filter((b) => b.checkVisibility({ visibilityProperty: true }))
          .map((b) => [b.className + ' ' + (b.getAttribute('aria-label') || b.textContent.trim()),
                       Math.round(b.getBoundingClientRect().width),
                       Math.round(b.getBoundingClientRect().height)])
          .filter(([, w, h]) => h && (h < 43.5 || w < 43.5))""")
        assert small == [], f"widget controls under 44 px (w, h): {small}"
    finally:
        context.close()
