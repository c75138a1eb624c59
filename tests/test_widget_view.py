"""The widget view's `rich()` renderer of bot answers, run in Chromium as the browser loads it:
the knowledge base's Markdown subset becomes the elements the server's renderer makes
(tests/data/markdown_corpus.json, shared with test_knowledge_base_markdown); only http(s) and
mailto links become anchors, never a target a browser reads as another host (a backslash
reads as "/", so "/" + backslash is "//evil.example")."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from knowledge_base.defaults import load_default_entries
from knowledge_base.markdown import to_html

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


def test_http_links_render_and_relative_ones_stay_text_as_on_the_server(view) -> None:
    assert links(view, "see [orders](https://shop.example/o) or [help](/help)") == [
        "https://shop.example/o"]


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


A = 'target="_blank" rel="noreferrer"'


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


CORPUS = json.loads((Path(__file__).parent / "data" / "markdown_corpus.json").read_text())


def test_the_shared_corpus_shows_as_the_corpus_says(view) -> None:
    """Each case's `widget`: the server's `html` without its blocks (paragraphs and numbered
    lists as typed, bullets as •), never a marker the server read as markup, never a link the
    server refused."""
    shown = view.evaluate(
        """async (texts) => {
            const v = await import('/widget/view.js');
            return texts.map((t) => {
                const box = document.createElement('div');
                box.append(...v.rich(t));
                return box.innerHTML;
            });
        }""", [case["source"] for case in CORPUS])
    assert {c["why"]: s for c, s in zip(CORPUS, shown, strict=True)} == {
        c["why"]: c["widget"] for c in CORPUS}
    for case in CORPUS:
        inline = re.sub(r"</?(p|ul|ol|li)( start=\S+)?>|<br>|\n", "", case["html"])
        inline = inline.replace(' rel="noopener noreferrer nofollow" target="_blank"', "")
        widget = re.sub(r"• |\n", "", case["widget"]).replace(f" {A}", "")
        assert re.findall(r"<(\w+)", widget) == re.findall(r"<(\w+)", inline), case["why"]
        assert re.findall(r'href="([^"]*)"', widget) == [
            h.replace("%22", '"') for h in re.findall(r'href="([^"]*)"', inline)], case["why"]
        assert _text(case["widget"]) == _text(case["html"]).replace("\ufffd", "\x00"), case["why"]


def _text(markup: str) -> str:
    """What a reader sees, less line breaks, indentation, bullets and the numbers of numbered
    lists (the widget shows them as typed, the server's list element makes them)."""
    text = re.sub(r"<[^>]+>|^ *((\d+\.|•) )?", "", markup.replace("<br>", ""), flags=re.MULTILINE)
    return html.unescape(text.replace("\n", ""))


INLINE = re.compile(r"<(strong|em|code|a)\b")


def test_every_default_answer_renders_as_the_server_renders_it(view) -> None:
    """In en, fa, ar and zh: the same inline elements as knowledge_base/markdown.py makes, and
    no marker left over as a literal character."""
    answers = [e.answer for e in load_default_entries()]
    counted = view.evaluate(
        """async (answers) => {
            const v = await import('/widget/view.js');
            return answers.map((a) => {
                const box = document.createElement('div');
                box.append(...v.rich(a));
                return [[...box.querySelectorAll('*')].map((e) => e.tagName.toLowerCase()),
                        box.textContent];
            });
        }""", answers)
    assert len(answers) > 40
    for answer, (tags, text) in zip(answers, counted, strict=True):
        assert tags == INLINE.findall(to_html(answer)), answer
        assert "*" not in text and "`" not in text and "](" not in text, answer


def test_a_hostile_answer_at_the_length_limit_renders_in_time(view) -> None:
    """Runs of markers with no closer, at MAX_ANSWER (10,000 characters, as an admin or an
    import may save): the emphasis pattern looked for a closer to the end of the text from
    every marker, 0.7-4 s of the visitor's page frozen per answer (the server's parser, linear,
    takes 0.1 s); bounded, under 0.2 s on the loaded test box."""
    took = view.evaluate(
        """async (sources) => {
            const v = await import('/widget/view.js');
            return sources.map((s) => {
                const started = performance.now();
                v.rich(s);
                return performance.now() - started;
            });
        }""", [(p * 10_000)[:10_000] for p in ("*", "*_", "**a*", "***a", " *a", "**_")])
    assert max(took) < 1000, took
