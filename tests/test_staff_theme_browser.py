"""The staff pages in the dark and right to left, in Chromium against the real server.

With `prefers-color-scheme: dark` the console, supervisor view, knowledge-base editor, reports
and sign-in page turn dark, and every main text stays readable: the test measures each text's
contrast against the background it is drawn on (walking up to the first opaque one) in both
schemes. With `<html dir="rtl">` the console mirrors: the chat list on the right, the agent's
own lines and the Send button on the left, and nothing sticks out of a 1280 px window.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from websockets.sync.client import connect

from chatserver.web.pages import HERE

from .browser import screenshot
from .harness import Server, add_user, sql
from .test_console_browser import log_in, next_frame, visitor

STATIC = HERE / "static"

# The WCAG formula, run in the page on what Chromium computed: for each selector, its first
# visible element's text colour (an SVG text's fill) against its background, semi-transparent
# layers composited down to the first opaque ancestor.
CONTRAST = """selectors => {
  const rgba = c => {
    const m = c.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1];
  };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
  const lum = c => {
    const [r, g, b] = c.map(v => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = el => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    let bg = [255, 255, 255];
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  return selectors.map(selector => {
    const el = [...document.querySelectorAll(selector)].find(n => n.getClientRects().length);
    if (!el) return { selector, ratio: 0, missing: true };
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(rgba(el instanceof SVGElement ? style.fill : style.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100;
    return { selector, ratio, bg_luminance: lum(bg) };
  });
}"""

# Elements wider than the window, or pushed past either edge, unless a scrolling or clipping
# box inside the window holds them.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || (r.left >= -1 && r.right <= width + 1)) continue;
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') { clipped = true; break; }
    }
    const name = `${el.tagName.toLowerCase()}#${el.id}.${el.className}`;
    if (!clipped) out.push(`${name} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  const scroll = document.documentElement.scrollWidth;
  if (scroll > width) out.push(`the page is ${scroll} px wide`);
  return out;
}"""

# Chart texts outside their chart's box.
SPILLED = """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].filter(text => {
    const r = text.getBoundingClientRect();
    return r.left < box.left - 1 || r.right > box.right + 1;
  }).map(text => text.textContent);
})"""


def contrast(page, selectors: list[str], scheme: str, minimum: float = 4.5) -> dict[str, float]:
    """Each selector's contrast in `scheme`; fails naming every pair under `minimum`."""
    page.emulate_media(color_scheme=scheme)
    found = page.evaluate(CONTRAST, selectors)
    low = [f"{f['selector']}: {'not on the page' if f.get('missing') else f['ratio']}"
           for f in found if f["ratio"] < minimum]
    assert low == [], f"{page.url} in {scheme}: under {minimum}:1: {low}"
    return {f["selector"]: f["ratio"] for f in found}


def body_luminance(page) -> float:
    return page.evaluate(CONTRAST, ["body"])[0]["bg_luminance"]


def both_schemes(page, selectors: list[str], name: str) -> None:
    """Readable in light and in dark, and dark really is dark (and light light)."""
    contrast(page, selectors, "light")
    assert body_luminance(page) > 0.8, f"{page.url}: the light page is not light"
    contrast(page, selectors, "dark")
    assert body_luminance(page) < 0.02, f"{page.url}: the dark page is not dark"
    screenshot(page, f"theme_dark_{name}")


CONSOLE_TEXT = [
    "body", ".who-name", ".nav a", ".nav a[aria-current]", ".role-tag", ".conn", ".queue-info",
    '.status-switch button[aria-checked="false"]', '.status-switch button[aria-checked="true"]',
    ".rail-title", ".count", '.tab[aria-selected="true"] .tab-name',
    '.tab[aria-selected="true"] .tab-preview', ".rail-help", "kbd", "#chat-name", ".chat-meta",
    ".transcript:not([hidden]) .bubble-visitor", ".transcript:not([hidden]) .bubble-bot",
    ".transcript:not([hidden]) .bubble-agent", ".transcript:not([hidden]) .bubble-note",
    ".transcript:not([hidden]) .line-head", ".transcript:not([hidden]) .line-head .author",
    ".transcript:not([hidden]) .delivery", ".transcript:not([hidden]) .system-text",
    ".transcript:not([hidden]) .chip", ".composer-modes button[aria-selected='true']",
    ".composer-modes button[aria-selected='false']", "#composer-text", ".composer .hint",
    "#send-btn", "#transfer-btn", ".side-card h2", ".facts dt", ".facts dd",
    ".canned-item .pick-key", ".canned-item span + span",
]


@pytest.fixture(scope="module")
def desk(shared_server: Server) -> Server:
    """English Maryam and Root, Reza who chose Persian, Leila (an admin) who chose Arabic, and
    a visitor who talked to the bot today."""
    add_user(shared_server.db, "root", role="admin", display_name="Root")
    add_user(shared_server.db, "maryam", skills={"lang:en": 5}, display_name="Maryam")
    add_user(shared_server.db, "reza", skills={"lang:fa": 5}, display_name="رضا")
    add_user(shared_server.db, "leila", role="admin", display_name="ليلى")
    for username, language in (("reza", "fa"), ("leila", "ar")):
        sql(shared_server.db, "UPDATE users SET language = ? WHERE username = ?",
            (language, username))
    with connect(shared_server.ws + "/ws/visitor") as ws:  # a chat today: the reports have charts
        ws.send(json.dumps({"type": "hello", "name": "Ana", "language": "en"}))
        ws.send(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": "hello"}))
        next_frame(ws, "message", **{"from": "bot"})
    return shared_server


def go_online(page, desk: Server, username: str = "maryam") -> None:
    """`username`'s console, Online."""
    log_in(page, desk, username)
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')


@pytest.mark.browser
def test_the_console_in_the_dark_is_dark_and_readable_in_both_schemes(desk: Server,
                                                                       page) -> None:
    go_online(page, desk)
    with visitor(desk, "Sara", "How do I reset my password?"):
        page.wait_for_selector(".offer")
        # Measured once it has faded in (its arrival animation starts at opacity 0).
        page.wait_for_function(
            "() => document.querySelector('.offer').getAnimations().length == 0")
        both_schemes(page, [".offer-head strong", ".countdown", ".offer-meta", ".offer-visitor",
                            ".offer-preview", ".offer .btn-small:not(.btn-primary)",
                            ".offer .btn-primary", ".rail-empty:not([hidden])",
                            ".empty-state h2", ".empty-state .muted"], "offer")
        page.click(".offer .btn-primary")
        page.wait_for_selector(".transcript:not([hidden]) .line-bot")
        page.fill("#composer-text", "Let me check that for you.")
        page.keyboard.press("Enter")
        page.wait_for_selector(".line-agent .delivery >> text=Sent ✓")
        page.keyboard.press("Alt+KeyN")
        page.keyboard.type("Asked twice already")
        page.keyboard.press("Enter")
        page.wait_for_selector(".line-note .delivery >> text=Sent ✓")
        page.click("#mode-reply")
        page.wait_for_selector("#visitor-card:not([hidden]) .facts dd")
        both_schemes(page, CONSOLE_TEXT, "console")
        page.click("#transfer-btn")
        page.wait_for_selector("#transfer-dialog[open]")
        both_schemes(page, ["#transfer-dialog h2", "#transfer-dialog label",
                            "#transfer-agent", "#transfer-dialog .btn-primary",
                            "#transfer-dialog .btn:not(.btn-primary)"], "dialog")
        page.keyboard.press("Escape")
        page.evaluate("() => { toast('Saved', 'info', 60000); toast('Not sent', 'error', 60000); }")
        page.wait_for_function("() => [...document.querySelectorAll('.toast')]"
                               ".every(n => n.getAnimations().length == 0)")
        both_schemes(page, [".toast-info", ".toast-error"], "toast")
        # Marks one must see, not read: the focus ring and the field's edge, 3:1.
        page.focus("#transfer-btn")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            ring = page.evaluate("""() => {
              const el = document.activeElement, s = getComputedStyle(el);
              return [el.id, s.outlineStyle, s.outlineColor];
            }""")
            assert ring[0] == "transfer-btn" and ring[1] == "solid", ring
            assert ratio(ring[2], page.evaluate(
                "() => getComputedStyle(document.querySelector('.chat-head'))"
                ".backgroundColor")) >= 3
            assert ratio(page.evaluate(
                "() => getComputedStyle(document.querySelector('.composer'))"
                ".borderTopColor"), page.evaluate(
                "() => getComputedStyle(document.querySelector('.composer'))"
                ".backgroundColor")) >= 3


def ratio(a: str, b: str) -> float:
    """Contrast of two opaque `rgb(...)` colours."""
    def lum(colour: str) -> float:
        values = [float(v) / 255 for v in re.findall(r"[\d.]+", colour)[:3]]
        r, g, b = (v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in values)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.browser
def test_supervisor_knowledge_base_reports_and_sign_in_are_dark_and_readable(
        desk: Server, page) -> None:
    page.goto(desk.url + "/login")
    both_schemes(page, ["body", ".login-card h1", ".login-card .muted", ".login-card label",
                        ".btn-primary"], "login")
    page.emulate_media(color_scheme="light")
    log_in(page, desk, "root")
    page.wait_for_url("**/admin")
    page.click("#kb-list li button")
    page.wait_for_selector("#kb-version")
    both_schemes(page, ["body", ".kb-item-title", ".kb-item-meta", ".kb-list .badge",
                        ".kb-filters select", ".editor-head h1", ".try-pane h2",
                        ".try-pane .muted", ".nav a[aria-current]"], "admin")
    page.goto(desk.url + "/admin/canned")
    page.wait_for_selector("#canned-list li button")
    both_schemes(page, ["body", "#canned-list li button", ".canned-lang", "#canned-q"],
                 "canned")
    page.goto(desk.url + "/console/supervisor")
    page.wait_for_selector('#conn[data-state="online"]')
    both_schemes(page, ["body", ".stat-label", ".stat-value", ".table th", ".card h2",
                        "#watch-title", ".skill-bars .muted"], "supervisor")
    page.goto(desk.url + "/admin/reports")
    both_schemes(page, ["body", "h1", "#range-line", ".preset", '.preset[aria-current]',
                        ".tile-label", ".tile-value", ".tile-change", ".chart-card h2",
                        ".chart-card p", ".chart .tick", ".report-filters label",
                        ".report-filters select", ".btn-primary"], "reports")


def side(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on the page"
    return box["x"], box["x"] + box["width"]


@pytest.mark.browser
def test_right_to_left_the_console_mirrors_and_nothing_overflows(desk: Server, page) -> None:
    go_online(page, desk, "reza")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "fa", "rtl"]
    with visitor(desk, "Sina", "سلام، رمزم را فراموش کرده‌ام", language="fa"):
        page.wait_for_selector(".offer")
        page.click(".offer .btn-primary")
        page.wait_for_selector(".transcript:not([hidden]) .bubble-visitor")
        page.fill("#composer-text", "سلام رضا، الان بررسی می‌کنم.")
        page.keyboard.press("Enter")
        page.wait_for_selector(".line-agent .delivery")
        rail_left, _ = side(page, ".rail")
        _, pane_right = side(page, "#chat-pane")
        assert rail_left >= pane_right - 1, "the chat list is not on the right"
        send_left, send_right = side(page, "#send-btn")
        attach_left, _ = side(page, "#attach-btn")
        assert send_right < attach_left, "Send is not on the composer's left"
        composer_left, _ = side(page, ".composer")
        assert send_left - composer_left < 40
        # The agent's own line sits on the left, the visitor's on the right.
        _, visitor_right = side(page, ".transcript:not([hidden]) .line-visitor")
        agent_left, _ = side(page, ".transcript:not([hidden]) .line-agent")
        _, transcript_right = side(page, ".transcript:not([hidden])")
        transcript_left, _ = side(page, ".transcript:not([hidden])")
        assert transcript_right - visitor_right < 40
        assert agent_left - transcript_left < 40
        assert page.evaluate(OVERFLOW) == []
        screenshot(page, "theme_rtl_console")


@pytest.mark.browser
def test_right_to_left_the_other_staff_pages_stay_inside_the_window(desk: Server, page) -> None:
    log_in(page, desk, "leila")
    page.wait_for_url("**/admin")
    for path in ("/admin", "/admin/users", "/admin/labels", "/admin/canned", "/admin/audit",
                 "/admin/reports", "/console/supervisor", "/console/search", "/account"):
        page.goto(desk.url + path)
        assert page.evaluate("document.documentElement.dir") == "rtl"
        assert page.evaluate(OVERFLOW) == [], path
        if path == "/admin/reports":
            # The charts keep their left-to-right axes: no axis title spills out of its chart.
            assert page.locator("svg.chart .axis-title").count() > 0
            assert page.evaluate(SPILLED) == []
    screenshot(page, "theme_rtl_account")


@pytest.mark.browser
@pytest.mark.parametrize("user", ["leila", "root"])
def test_on_a_phone_every_staff_page_fits_its_width(desk: Server, page, user: str) -> None:
    """At 390 px the top bar (brand, menu, the user's name and Log out) and each page's own
    content stay inside the screen: an Arabic supervisor view was 455 px wide, /account 423."""
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, desk, user)
    page.wait_for_url("**/admin")
    for path in ("/admin", "/admin/users", "/admin/labels", "/admin/canned", "/admin/audit",
                 "/admin/reports", "/console", "/console/supervisor", "/console/search",
                 "/account"):
        page.goto(desk.url + path)
        assert page.evaluate(OVERFLOW) == [], path
        assert page.locator(".topbar-user button").is_visible(), path
    screenshot(page, f"phone_account_{user}")


@pytest.mark.browser
@pytest.mark.parametrize(("locale", "face", "leading"), [
    ("fa-IR", "Vazirmatn", 1.7), ("ar-EG", "Vazirmatn", 1.7), ("zh-CN", "PingFang SC", 1.6),
    ("en-US", "system-ui", 1.5)])
def test_persian_arabic_and_chinese_pages_get_a_face_for_their_script(
        desk: Server, browser, locale: str, face: str, leading: float) -> None:
    context = browser.new_context(locale=locale)
    try:
        page = context.new_page()
        page.goto(desk.url + "/login")
        assert page.evaluate("document.documentElement.lang") == locale[:2]
        family, line, size = page.evaluate("""() => { const s = getComputedStyle(document.body);
            return [s.fontFamily, parseFloat(s.lineHeight), parseFloat(s.fontSize)]; }""")
        assert family.strip('"').startswith(face), family
        assert line / size >= leading, (line, size)
    finally:
        context.close()


# Static guards over every staff stylesheet: a physical side does not mirror on fa/ar pages, and
# a colour outside the custom properties does not change in the dark.
PHYSICAL = re.compile(r"(?:margin|padding|border|inset)-(?:left|right)\b"
                      r"|(?<![-\w])(?:left|right)\s*:"
                      r"|text-align:\s*(?:left|right)|float:\s*(?:left|right)"
                      r"|border-(?:top|bottom)-(?:left|right)-radius")
HEX = re.compile(r"#[0-9a-fA-F]{3,8}\b")


def staff_css() -> list[Path]:
    return sorted(STATIC.glob("*.css"))


def test_staff_stylesheets_use_logical_sides_only() -> None:
    found = [f"{path.name}:{n}: {match.group(0)}" for path in staff_css()
             for n, line in enumerate(path.read_text().splitlines(), 1)
             for match in PHYSICAL.finditer(line)]
    assert found == []


def test_staff_colours_live_in_custom_properties_with_a_dark_value() -> None:
    outside = [f"{path.name}:{n}: {line.strip()[:80]}" for path in staff_css()
               for n, line in enumerate(path.read_text().splitlines(), 1)
               if HEX.search(line) and not re.match(r"\s*--[\w-]+\s*:", line)]
    assert outside == []


def test_every_custom_property_a_stylesheet_uses_is_defined() -> None:
    """A misspelt `var(--name)` falls back to nothing, in light and dark alike: each one comes
    from app.css's palette or is set by a page script (style.setProperty)."""
    defined = set(re.findall(r"^\s*(--[\w-]+)\s*:", (STATIC / "app.css").read_text(), re.M))
    defined |= {name for path in STATIC.glob("*.js")
                for name in re.findall(r"setProperty\(\"(--[\w-]+)\"", path.read_text())}
    used = {f"{path.name}: {name}" for path in staff_css()
            for name in re.findall(r"var\((--[\w-]+)", path.read_text()) if name not in defined}
    assert used == set()
