"""The widget in the dark and in the light (issue 20), on a site owner's page in Chromium against
the real server with a real agent: in English on a desktop and in Persian (right to left) on a
390×844 phone, the panel follows `prefers-color-scheme`, and every text a visitor reads (the
bot's answer with its link, their own line, the agent's, the composer and its placeholder, the
buttons, a refused file's reason, the survey) reads at 4.5:1 at least against what it is drawn
on, as Chromium computed it; the field borders, the star outlines and the focus outline at 3:1
(WCAG 1.4.3, 1.4.11). Chosen stars are filled and the others an outline: told apart by shape,
not by colour alone. A site's own colour (`data-color`) keeps its text readable in both schemes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from .browser import screenshot
from .harness import Server
from .test_widget_attach_browser import EXE, payload
from .test_widget_browser import Agent, embed, host_page, part, say, staffed

pytestmark = pytest.mark.browser

expect.set_options(timeout=5000)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
MOBILE = '<meta name="viewport" content="width=device-width, initial-scale=1">'
# A default knowledge-base answer with bold, italic and a link, in each language.
QUESTION = {"en": "Can I cancel my order?", "fa": "می‌توانم سفارشم را لغو کنم؟"}
HUMAN = {"en": "Talk to a person", "fa": "صحبت با پشتیبان"}
PLACEHOLDER = {"en": "Type your message…", "fa": "پیام خود را بنویسید…"}

# For one element: its colour `prop` (of a pseudo-element when given) and the background it is
# drawn on, both as the eye gets them: semi-transparent layers and opacity composited down to
# the first opaque background, walking up out of the shadow root to the host page (white when
# nothing is opaque). `outside`: drawn around the element (an outline), so on its parent's
# background rather than its own.
COLOURS = """(el, [prop, pseudo, outside]) => {
  const rgba = (c) => {
    const m = c.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1];
  };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
  const up = (n) => n.parentElement || n.getRootNode().host || null;
  const layers = [];
  let alpha = 1;
  for (let n = outside ? up(el) : el; n; n = up(n)) {
    const style = getComputedStyle(n);
    const c = rgba(style.backgroundColor);
    if (c[3] > 0) layers.push(c);
    else if (!layers.length) alpha *= Number(style.opacity);
    if (c[3] === 1) break;
  }
  if (!outside) alpha *= Number(getComputedStyle(el).opacity);
  let bg = [255, 255, 255];
  for (const layer of layers.reverse()) bg = over(layer, bg);
  const fg = rgba(getComputedStyle(el, pseudo).getPropertyValue(prop));
  return [over([...fg.slice(0, 3), fg[3] * alpha], bg), bg];
}"""


def luminance(rgb: list[float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour in 0-255."""
    lin = [v / 255 / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4
           for v in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def ratio(a: list[float], b: list[float]) -> float:
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return round((hi + 0.05) / (lo + 0.05), 2)


def contrast(locator, prop: str = "color", pseudo: str | None = None,
             outside: bool = False) -> float:
    fg, bg = locator.evaluate(COLOURS, [prop, pseudo, outside])
    return ratio(fg, bg)


def background_luminance(locator) -> float:
    return luminance(locator.evaluate(COLOURS, ["color", None, False])[1])


def focus_ring(page, locator) -> float:
    """The contrast of the element's focus outline, focused as from the keyboard."""
    page.keyboard.press("Shift")  # a key pressed: the next focus() shows its ring
    locator.focus()
    assert locator.evaluate("e => e.matches(':focus-visible')")
    return contrast(locator, "outline-color", outside=True)


def readable(checks: dict[str, float], least: float) -> None:
    low = {name: r for name, r in checks.items() if r < least}
    assert not low, f"under {least}:1: {low}"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Agent]]:
    """A server with Sara online, who speaks English and Persian."""
    with staffed(tmp_path_factory.mktemp("dark"), "sara", {"lang:en": 5, "lang:fa": 5}, "Sara",
                 capacity=10) as staff:
        yield staff


@pytest.fixture
def tab(browser) -> Iterator[Callable[[str, dict[str, int]], Any]]:
    """tab(scheme, size): a page in that colour scheme on that screen (a phone's: a touch one)."""
    contexts: list[Any] = []

    def open_tab(scheme: str, size: dict[str, int]) -> Any:
        phone = size == PHONE
        contexts.append(browser.new_context(color_scheme=scheme, viewport=size,
                                            is_mobile=phone, has_touch=phone))
        return contexts[-1].new_page()

    yield open_tab
    for context in contexts:
        context.close()


def filled(star) -> bool:
    """Whether the middle of the star's drawing is painted (its outline alone leaves it empty):
    the pixels around the centre of the box its ink spans, against the button's corner."""
    image = Image.open(io.BytesIO(star.screenshot())).convert("RGB")
    corner = image.getpixel((0, 0))
    ink = [(x, y) for y in range(image.height) for x in range(image.width)
           if sum(abs(a - b) for a, b in zip(image.getpixel((x, y)), corner, strict=True)) > 60]
    xs, ys = [x for x, _ in ink], [y for _, y in ink]
    cx, cy = (min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2
    middle = {(x, y) for x in range(cx - 1, cx + 2) for y in range(cy - 1, cy + 2)}
    painted = len(middle & set(ink))
    assert painted in (0, len(middle)), painted  # all or nothing, no edge in between
    return painted > 0


@pytest.mark.parametrize(("scheme", "size", "lang"), [
    ("light", DESKTOP, "en"), ("dark", DESKTOP, "en"), ("light", PHONE, "fa"),
    ("dark", PHONE, "fa")], ids=["light-en", "dark-en", "light-fa-phone", "dark-fa-phone"])
def test_every_text_reads_in_the_scheme(desk, site, tab, scheme: str, size: dict[str, int],
                                        lang: str) -> None:
    server, agent = desk
    page = tab(scheme, size)
    dark = scheme == "dark"
    host_page(page, site, f"/{lang}/scheme", embed(server, lang=lang, head=MOBILE))
    part(page, ".launcher").click()
    panel = part(page, ".panel")
    expect(panel).to_be_visible()
    if size == PHONE:
        assert panel.bounding_box() == {"x": 0, "y": 0, **PHONE}
    # the panel, the message list and the footer follow the scheme
    shade = [background_luminance(part(page, css)) for css in [".panel", ".log", ".foot"]]
    assert all(y < 0.05 for y in shade) if dark else all(y > 0.9 for y in shade), shade

    say(page, QUESTION[lang])
    bot = part(page, ".msg.bot").last
    expect(bot.locator(".text a").first).to_be_visible()
    part(page, "button", has_text=HUMAN[lang]).last.click()
    cid = agent.expect("offer")["conversation"]["id"]
    agent.request("accept", conversation_id=cid)
    agent.request("message", conversation_id=cid, text="Sara here: let me look at it.")
    expect(part(page, ".msg.agent .text")).to_be_visible()
    part(page, ".composer input[type=file]").set_input_files(
        payload("setup.exe", EXE, "application/octet-stream"))
    refused = part(page, ".msg.mine .error")
    expect(refused).to_be_visible()
    mine = part(page, ".msg.mine").first
    screenshot(page, f"widget-{'dark' if dark else 'light'}-{lang}-chat")

    readable({
        "bot line": contrast(bot.locator(".text")),
        "bot author": contrast(bot.locator(".who")),
        "bot bold": contrast(bot.locator(".text strong").first),
        "bot link": contrast(bot.locator(".text a").first),
        "bot time": contrast(bot.locator("time")),
        "visitor line": contrast(mine.locator(".text")),
        "visitor time": contrast(mine.locator("time")),
        "visitor tick": contrast(mine.locator(".tick")),
        "agent line": contrast(part(page, ".msg.agent .text")),
        "agent author": contrast(part(page, ".msg.agent .who")),
        "joined note": contrast(part(page, ".note").last),
        "refused file": contrast(refused),
        "composer": contrast(part(page, ".composer textarea")),
        "placeholder": contrast(part(page, ".composer textarea"), pseudo="::placeholder"),
        "send": contrast(part(page, ".composer button[type=submit]")),
        "end chat": contrast(part(page, ".foot .link:visible")),
        "title": contrast(part(page, "header h2")),
        "status": contrast(part(page, "header .status")),
        "close": contrast(part(page, "header .icon").last),
    }, 4.5)
    assert part(page, ".composer textarea").get_attribute("placeholder") == PLACEHOLDER[lang]
    readable({
        "composer border": contrast(part(page, ".composer textarea"), "border-top-color",
                                    outside=True),
        "focus in the composer": focus_ring(page, part(page, ".composer textarea")),
        "focus on Send": focus_ring(page, part(page, ".composer button[type=submit]")),
        "focus in the header": focus_ring(page, part(page, "header .icon").last),
        "focus on a link": focus_ring(page, bot.locator(".text a").first),
    }, 3)

    # The chat ends; the survey reads too, and its stars are told apart by their shape.
    agent.request("close", conversation_id=cid, resolved=True)
    stars = part(page, ".star")
    expect(stars).to_have_count(5)
    stars.nth(2).click()
    expect(stars.nth(2)).to_have_attribute("aria-pressed", "true")
    page.mouse.move(0, 0)
    screenshot(page, f"widget-{'dark' if dark else 'light'}-{lang}-survey")
    readable({
        "question": contrast(part(page, ".survey legend")),
        "label": contrast(part(page, ".survey .field span").last),
        "submit": contrast(part(page, ".survey button[type=submit]")),
        "transcript": contrast(part(page, ".foot .link:visible")),
    }, 4.5)
    readable({
        "chosen star": contrast(stars.nth(0)),
        "star outline": contrast(stars.nth(4), "-webkit-text-stroke-color"),
        "comment border": contrast(part(page, ".survey textarea"), "border-top-color",
                                   outside=True),
    }, 3)
    assert [filled(stars.nth(i)) for i in range(5)] == [True, True, True, False, False]


@pytest.mark.parametrize(("scheme", "size"), [("light", DESKTOP), ("dark", PHONE)],
                         ids=["light", "dark-phone"])
def test_the_leave_a_message_form_reads_in_the_scheme(shared_server, site, tab, scheme: str,
                                                      size: dict[str, int]) -> None:
    """Nobody online (the shared server has no agents): the form is loaded on first need."""
    page = tab(scheme, size)
    host_page(page, site, "/offline-scheme", embed(shared_server, head=MOBILE))
    part(page, ".launcher").click()
    part(page, "button", has_text="Talk to a person").click()
    email = part(page, ".offline input[name=email]")
    expect(email).to_be_focused()
    readable({
        "why": contrast(part(page, ".offline p")),
        "label": contrast(part(page, ".offline .field span").first),
        "typed": contrast(email),
        "send": contrast(part(page, ".offline button[type=submit]")),
        "back": contrast(part(page, ".offline .link")),
    }, 4.5)
    readable({"field border": contrast(email, "border-top-color", outside=True),
              "focus": focus_ring(page, email)}, 3)


# A light yellow and a dark brown: white text fails on the first, the colour as a link on
# white fails for the first and on the dark scheme for the second.
@pytest.mark.parametrize("colour", ["#fde047", "#7c2d12"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_sites_own_colour_keeps_its_text_readable(shared_server, site, tab, scheme: str,
                                                    colour: str) -> None:
    page = tab(scheme, DESKTOP)
    host_page(page, site, f"/colour-{colour[1:]}",
              embed(shared_server, attrs=f'data-color="{colour}"'))
    part(page, ".launcher").click()
    header = part(page, "header")
    expect(header).to_be_visible()
    rgb = ", ".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == f"rgb({rgb})"
    readable({
        "title": contrast(part(page, "header h2")),
        "send": contrast(part(page, ".composer button[type=submit]")),
        "talk to a person": contrast(part(page, "button", has_text="Talk to a person")),
    }, 4.5)
    readable({"focus": focus_ring(page, part(page, ".composer textarea")),
              "focus in the header": focus_ring(page, part(page, "header .icon").last)}, 3)
