"""The widget view's `rich()` renderer of bot answers, run in Chromium as the browser loads it:
only http(s) and same-site path links become anchors, never a target a browser reads as
another host (a backslash reads as "/", so "/" + backslash is "//evil.example")."""

from __future__ import annotations

import pytest

from chatserver.widget_routes import WIDGET_DIR, lean

pytestmark = pytest.mark.browser

ORIGIN = "http://widget.test"


@pytest.fixture
def view(page):
    def serve(route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        if name.endswith(".js"):
            route.fulfill(body=lean((WIDGET_DIR / name).read_text()),
                          content_type="text/javascript")
        else:
            route.fulfill(body="<!doctype html><title>t</title>", content_type="text/html")

    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/blank.html")
    return page


def rendered(page, text: str) -> list[dict]:
    """What rich(text) makes: strings as {"text"}, anchors as {"href", "text"}."""
    return page.evaluate(
        """async (text) => {
            const v = await import('/widget/view.js');
            return v.rich(text).map((n) => typeof n === 'string' ? { text: n }
                : { tag: n.tagName, href: n.getAttribute('href'), text: n.textContent });
        }""", text)


def links(page, text: str) -> list[str]:
    return [n["href"] for n in rendered(page, text) if n.get("tag") == "A"]


def test_http_and_same_site_links_render(view) -> None:
    assert links(view, "see [orders](https://shop.example/o) or [help](/help)") == [
        "https://shop.example/o", "/help"]


@pytest.mark.parametrize("target", [
    "/\\evil.example/phish", "//evil.example/phish", "\\\\evil.example/x",
    "https:\\\\evil.example", "https://\\evil.example", "https://good.example\\@evil.example/",
    "javascript:alert(1)", "https:/\\evil.example",
])
def test_a_backslash_or_protocol_relative_target_stays_text(view, target: str) -> None:
    text = f"[x]({target}) after"
    assert links(view, text) == []
    assert "".join(n["text"] for n in rendered(view, text)) == text
