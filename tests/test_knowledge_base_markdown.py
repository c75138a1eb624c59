"""The safe Markdown subset: what renders, and that nothing hostile gets through."""

from __future__ import annotations

import html
import json
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base.markdown import LINK_ATTRIBUTES, is_safe_url, to_html, to_plain_text


def link(url: str, text: str) -> str:
    return f'<a href="{url}" {LINK_ATTRIBUTES}>{text}</a>'


CORPUS = json.loads((Path(__file__).parent / "data" / "markdown_corpus.json").read_text())


@pytest.mark.parametrize("case", CORPUS, ids=[c["why"] for c in CORPUS])
def test_renders_the_shared_corpus(case: dict[str, str]) -> None:
    """The same cases test_widget_view checks the widget's rich() against."""
    assert to_html(case["source"]) == case["html"]


def test_a_title_or_autolink_adds_nothing() -> None:
    assert to_html('[x](https://x.example "t")') == "<p>" + link("https://x.example", "x") + "</p>"
    assert to_html("<https://x.example>") == "<p>&lt;https://x.example&gt;</p>"


def test_quotes_in_a_url_cannot_break_out_of_the_attribute() -> None:
    rendered = to_html('[x](https://x.example/"onmouseover="alert\'&q=1)')
    assert rendered == (
        "<p>" + link("https://x.example/%22onmouseover=%22alert'&amp;q=1", "x") + "</p>"
    )


def test_unbalanced_and_crossed_markers_give_well_nested_html() -> None:
    assert to_html("**open and *half") == "<p>**open and *half</p>"
    assert to_html("*a **b** c*") == "<p><em>a <strong>b</strong> c</em></p>"
    assert to_html("***x***") == "<p><em><strong>x</strong></em></p>"
    assert to_html("**a *b**") == "<p>*<em>a <em>b</em></em></p>"
    assert to_html("`unclosed **code") == "<p>`unclosed **code</p>"
    assert (
        to_html("[a [b](https://x.example)") == "<p>[a " + link("https://x.example", "b") + "</p>"
    )


@pytest.mark.parametrize(
    "url",
    ["https://x.example", "http://x.example/a?b=c#d", "HTTPS://X.EXAMPLE", "mailto:a@x.example"],
)
def test_safe_urls(url: str) -> None:
    assert is_safe_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "vbscript:x",
        "data:text/html;base64,PHNjcmlwdD4=",
        "https:x.example",
        "https://",
        "mailto:",
        "ftp://x.example",
        "https://x.example/\u202e",
        "https://x.example/" + "a" * 2000,
        # Browsers read a backslash as "/" in http(s) URLs (a relative "/" + backslash is
        # "//evil.example"), and other URL parsers read it differently: none passes.
        "/\\evil.example/phish",
        "//evil.example/phish",
        "\\\\evil.example/phish",
        "https:\\\\evil.example",
        "https:/\\evil.example",
        "https://\\evil.example",
        "https://good.example\\@evil.example/",
        "https://good.example/path\\..\\x",
        "mailto:a@x.example\\",
    ],
)
def test_unsafe_urls(url: str) -> None:
    assert not is_safe_url(url)


@pytest.mark.parametrize("target", ["/\\evil.example/phish", "//evil.example/phish",
                                    "https://good.example/a\\b"])
def test_a_backslash_or_protocol_relative_target_stays_text(target: str) -> None:
    source = f"[x]({target})"
    assert to_html(source) == f"<p>{html.escape(source)}</p>"
    assert to_plain_text(source) == source


def test_plain_text() -> None:
    source = (
        "Hi **there**, see *this*:\n\n"
        "- [Orders](https://x.example/o)\n"
        "- [help@x.example](mailto:help@x.example)\n\n"
        "1. `first`\n2. [bad](javascript:x)\n\n<b>raw</b>"
    )
    assert to_plain_text(source) == (
        "Hi there, see this:\n\n"
        "• Orders (https://x.example/o)\n"
        "• help@x.example\n\n"
        "1. first\n2. [bad](javascript:x)\n\n<b>raw</b>"
    )


def test_a_backslash_escape_in_a_url_is_the_character_it_escapes() -> None:
    """CommonMark reads \\@ as "@": the href has no backslash, so browsers and other URL
    parsers agree on its host (the one after the "@", as for any user@host URL)."""
    assert to_html("[x](https://good.example\\@evil.example/)") == (
        "<p>" + link("https://good.example@evil.example/", "x") + "</p>")


def test_hostile_repetition_at_the_answer_limit_renders_in_time() -> None:
    # Patterns that make naive regex Markdown renderers backtrack quadratically or worse, at
    # MAX_ANSWER (10,000 characters). markdown-it-py is near-quadratic on runs of "[" (0.19 s
    # at 10,000 here, 0.62 s at 20,000), so the bound is 2 s a source (2 shared cores), not a
    # linear-time one: answers are written by admins, and plain text is cached per answer.
    for source in ("**a " * 2500, "*a " * 3300, "[a](" * 2500, "`" * 10_000, "[" * 10_000):
        started = time.perf_counter()
        to_html(source)
        to_plain_text(source)
        assert time.perf_counter() - started < 2.0, source[:10]


ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "ul", "ol", "li", "a"}


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            if tag == "a" and name == "href":
                if not (value or "").lower().startswith(("http://", "https://", "mailto:")):
                    self.problems.append(f"href {value}")
            elif (tag, name) not in {("a", "rel"), ("a", "target"), ("ol", "start")}:
                self.problems.append(f"attribute {name} on {tag}")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<",
                ">",
                '"',
                "'",
                "&",
                "*",
                "**",
                "`",
                "[",
                "]",
                "(",
                ")",
                "\n",
                "\n\n",
                "- ",
                "1. ",
                "  ",
                "javascript:",
                "https://x.example",
                "mailto:a@b.c",
                "<script>",
                "onerror=",
                "a",
                "ب",
                "\x00",
            ]
        )
        | st.text(max_size=5),
        max_size=40,
    ).map("".join)
)
def test_any_input_yields_only_allowed_tags_and_attributes(source: str) -> None:
    inspector = _Inspector()
    inspector.feed(to_html(source))
    inspector.close()
    assert inspector.problems == []
