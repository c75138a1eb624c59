"""The safe Markdown subset: what renders, and that nothing hostile gets through."""

from __future__ import annotations

import html
import time
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base.markdown import LINK_ATTRIBUTES, is_safe_url, to_html, to_plain_text


def link(url: str, text: str) -> str:
    return f'<a href="{url}" {LINK_ATTRIBUTES}>{text}</a>'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain text", "<p>plain text</p>"),
        ("one\ntwo", "<p>one<br>\ntwo</p>"),
        ("one\n\n\ntwo", "<p>one</p>\n<p>two</p>"),
        ("**bold** and *italic*", "<p><strong>bold</strong> and <em>italic</em></p>"),
        ("`a < b` **`x`**", "<p><code>a &lt; b</code> <strong><code>x</code></strong></p>"),
        ("`**not bold**`", "<p><code>**not bold**</code></p>"),
        ("**a *b* c**", "<p><strong>a <em>b</em> c</strong></p>"),
        ("- a\n* b\n+ c", "<ul><li>a</li><li>b</li><li>c</li></ul>"),
        ("1. a\n2) b", "<ol><li>a</li><li>b</li></ol>"),
        ("3. c\n4. d", '<ol start="3"><li>c</li><li>d</li></ol>'),
        (
            "Steps:\n1. a\n   more\nDone.",
            "<p>Steps:</p>\n<ol><li>a<br>\nmore</li></ol>\n<p>Done.</p>",
        ),
        ("- a\n1. b", "<ul><li>a</li></ul>\n<ol><li>b</li></ol>"),
        ("[Orders](https://x.example/o)", "<p>" + link("https://x.example/o", "Orders") + "</p>"),
        ("[Mail](mailto:help@x.example)", "<p>" + link("mailto:help@x.example", "Mail") + "</p>"),
        (
            "[**B**](http://x.example)",
            "<p>" + link("http://x.example", "<strong>B</strong>") + "</p>",
        ),
        ("# Not a heading", "<p># Not a heading</p>"),
        ("2 * 3 * 4 = 24", "<p>2 * 3 * 4 = 24</p>"),
        ("snake_case_name", "<p>snake_case_name</p>"),
        ("", ""),
    ],
)
def test_renders_the_subset(source: str, expected: str) -> None:
    assert to_html(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<img src=x onerror="alert(1)">', "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>"),
        ("**<b>x</b>**", "<p><strong>&lt;b&gt;x&lt;/b&gt;</strong></p>"),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
        ("[x](JaVaScRiPt:alert)", "<p>[x](JaVaScRiPt:alert)</p>"),
        ("[x](data:text/html,hi)", "<p>[x](data:text/html,hi)</p>"),
        ("[x](//evil.example)", "<p>[x](//evil.example)</p>"),
        ("[x](/relative)", "<p>[x](/relative)</p>"),
        ("[x](javascript&#58;alert)", "<p>[x](javascript&amp;#58;alert)</p>"),
        (
            "![img](https://x.example/a.png)",
            "<p>!" + link("https://x.example/a.png", "img") + "</p>",
        ),
        ("&lt;already&gt;", "<p>&amp;lt;already&amp;gt;</p>"),
        ("nul\x00byte", "<p>nul\ufffdbyte</p>"),
    ],
)
def test_hostile_input_stays_text(source: str, expected: str) -> None:
    assert to_html(source) == expected


def test_quotes_in_a_url_cannot_break_out_of_the_attribute() -> None:
    rendered = to_html('[x](https://x.example/"onmouseover="alert\'&q=1)')
    assert rendered == (
        "<p>" + link("https://x.example/&quot;onmouseover=&quot;alert&#x27;&amp;q=1", "x") + "</p>"
    )


def test_unbalanced_and_crossed_markers_give_well_nested_html() -> None:
    assert to_html("**open and *half") == "<p>**open and *half</p>"
    assert to_html("*a **b** c*") == "<p>*a <strong>b</strong> c*</p>"
    assert to_html("***x***") == "<p><strong>*x</strong>*</p>"
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
                                    "https://good.example\\@evil.example/"])
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


def test_hostile_repetition_renders_in_linear_time() -> None:
    # Patterns that make naive regex Markdown renderers backtrack quadratically or worse.
    for source in ("**a " * 2500, "*a " * 3300, "[a](" * 2500, "`" * 10_000, "[" * 10_000):
        started = time.perf_counter()
        to_html(source)
        to_plain_text(source)
        assert time.perf_counter() - started < 0.5, source[:10]


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
