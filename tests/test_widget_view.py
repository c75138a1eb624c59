"""The widget view's `rich()` renderer of bot answers, run in Chromium as the browser loads it:
the knowledge base's whole Markdown subset becomes elements, as the server's parser reads it;
only http(s), mailto and same-site path links become anchors, never a target a browser reads
as another host (a backslash reads as "/", so "/" + backslash is "//evil.example")."""

from __future__ import annotations

import pytest

from knowledge_base.defaults import load_default_entries
from knowledge_base.markdown import Code, Emphasis, Link, Paragraph, Strong, parse

from .browser import widget_modules

pytestmark = pytest.mark.browser



@pytest.fixture
def view(page):
    return widget_modules(page)


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


def markup(page, text: str) -> str:
    """rich(text) as HTML, so the elements it made and their nesting show."""
    return page.evaluate(
        """async (text) => {
            const v = await import('/widget/view.js');
            const box = document.createElement('div');
            box.append(...v.rich(text));
            return box.innerHTML;
        }""", text)


A = 'target="_blank" rel="noopener noreferrer"'


@pytest.mark.parametrize(("text", "html"), [
    ("choose *Return items* now", "choose <em>Return items</em> now"),
    ("**within 1 hour** of `ORDER-1`", "<strong>within 1 hour</strong> of <code>ORDER-1</code>"),
    ("**bold *and italic* here**", "<strong>bold <em>and italic</em> here</strong>"),
    ("[**My account**](https://x.example/a) → *订单*",
     f'<a href="https://x.example/a" {A}><strong>My account</strong></a> → <em>订单</em>'),
    ("[mail us](mailto:help@shop.example)", f'<a href="mailto:help@shop.example" {A}>mail us</a>'),
    ("- one\n* two\n  + three\n1. four", "• one\n• two\n• three\n1. four"),
    ("`**kept**` and 2 * 3 * 4", "<code>**kept**</code> and 2 * 3 * 4"),
    ("<b>x</b> & *<i>y</i>*", "&lt;b&gt;x&lt;/b&gt; &amp; <em>&lt;i&gt;y&lt;/i&gt;</em>"),
])
def test_the_markdown_subset_renders_as_elements(view, text: str, html: str) -> None:
    assert markup(view, text) == html


def _marks(nodes, counts: dict[str, int]) -> dict[str, int]:
    """Add up the inline elements the server's parser finds in these nodes, nested ones too."""
    for node in nodes:
        tag = {Code: "CODE", Strong: "STRONG", Emphasis: "EM", Link: "A"}.get(type(node))
        if tag:
            counts[tag] = counts.get(tag, 0) + 1
        _marks(getattr(node, "children", ()), counts)
    return counts


def test_every_default_answer_renders_as_the_server_parses_it(view) -> None:
    """In en, fa, ar and zh: the same elements as knowledge_base/markdown.py finds, and no
    marker left over as a literal character."""
    answers = [e.answer for e in load_default_entries()]
    counted = view.evaluate(
        """async (answers) => {
            const v = await import('/widget/view.js');
            return answers.map((a) => {
                const box = document.createElement('div');
                box.append(...v.rich(a));
                const n = {};
                for (const e of box.querySelectorAll('*')) n[e.tagName] = (n[e.tagName] || 0) + 1;
                return [n, box.textContent];
            });
        }""", answers)
    assert len(answers) > 40
    for answer, (counts, text) in zip(answers, counted, strict=True):
        expected: dict[str, int] = {}
        for block in parse(answer):
            lines = block.lines if isinstance(block, Paragraph) else [
                line for item in block.items for line in item]
            for line in lines:
                _marks(line, expected)
        assert counts == expected, answer
        assert "*" not in text and "`" not in text and "](" not in text, answer
