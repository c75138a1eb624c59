"""The safe Markdown subset answers are written in, rendered to HTML or to plain text.

Supported: paragraphs (blank line), line breaks (newline), **bold**, *italic*, `code`, bullet
lists (`- `, `* `, `+ `), numbered lists (`1. ` or `1) `) and [links](url) to http, https and
mailto URLs only, absolute and without a backslash. Nothing else: raw HTML, images, headings,
relative links and other URL schemes come out as the literal text the author typed. Every piece
of text is HTML-escaped as it is emitted, so no input can produce a tag or attribute that this
module did not write itself.

Both renderers share one parser, so what the widget shows as text and what the console shows as
HTML never disagree about what a marker meant. Inline markup stays within one line and does not
nest a construct inside itself; every pattern stops at the next marker, so rendering is linear
in the input (no regex backtracking blow-up on hostile answers).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TypeAlias

LINK_ATTRIBUTES = 'rel="noopener noreferrer nofollow" target="_blank"'
MAX_URL = 2000  # longer than any URL worth clicking in a chat answer; browsers cap near 2 KB too

_SAFE_URL = re.compile(r"(?:https?://[^\s/?#]+|mailto:[^\s@]+@)[^\s]*", re.IGNORECASE)

# Inline patterns. The content of each stops at the next marker of its own kind, which keeps
# every search linear: `**` content never contains `**`, `*` content never contains `*`.
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\[\]]+)\]\(([^()\s]+)\)")
_STRONG = re.compile(r"\*\*(?=\S)((?:[^*]|\*(?!\*))+?)(?<=\S)\*\*")
_EMPHASIS = re.compile(r"\*(?=[^\s*])([^*]+?)(?<=\S)\*")

_BULLET = re.compile(r"[-*+][ \t]+(?=\S)(.*)")
_NUMBERED = re.compile(r"([0-9]{1,9})[.)][ \t]+(?=\S)(.*)")


# --- the parsed form: a few plain node types -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Strong:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Emphasis:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    children: tuple[Inline, ...]


Inline: TypeAlias = Text | Code | Strong | Emphasis | Link
Line: TypeAlias = tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Paragraph:
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class ListBlock:
    ordered: bool
    start: int
    items: tuple[tuple[Line, ...], ...]  # each item: its lines


Block: TypeAlias = Paragraph | ListBlock


# --- public API --------------------------------------------------------------------------------


def to_html(source: str) -> str:
    """Render the safe subset to an HTML fragment; any other markup shows as escaped text."""
    parts: list[str] = []
    for block in parse(source):
        if isinstance(block, Paragraph):
            parts.append(f"<p>{_lines_html(block.lines)}</p>")
        else:
            tag = "ol" if block.ordered else "ul"
            start = f' start="{block.start}"' if block.ordered and block.start != 1 else ""
            items = "".join(f"<li>{_lines_html(item)}</li>" for item in block.items)
            parts.append(f"<{tag}{start}>{items}</{tag}>")
    return "\n".join(parts)


def to_plain_text(source: str) -> str:
    """The answer as plain text for the widget, transcripts and emails: markers removed,
    links as "text (url)", bullets as "•", numbered items keep their numbers."""
    parts: list[str] = []
    for block in parse(source):
        if isinstance(block, Paragraph):
            parts.append(_lines_text(block.lines))
            continue
        items = []
        for number, item in enumerate(block.items, start=block.start):
            marker = f"{number}." if block.ordered else "•"
            items.append(f"{marker} " + _lines_text(item).replace("\n", "\n   "))
        parts.append("\n".join(items))
    return "\n\n".join(parts)


def parse(source: str) -> list[Block]:
    """Split the source into paragraphs and lists, each line parsed into inline nodes.

    A blank line ends a block. A line starting with a list marker (at any indentation: nested
    lists are flattened) is a list item; an indented line after an item continues that item;
    any other line belongs to a paragraph, which also ends an open list.
    """
    blocks: list[Block] = []
    paragraph: list[str] = []
    items: list[list[str]] = []
    ordered, start = False, 1

    def flush() -> None:
        if paragraph:
            blocks.append(Paragraph(tuple(_parse_inline(line) for line in paragraph)))
            paragraph.clear()
        if items:
            parsed = tuple(tuple(_parse_inline(line) for line in item) for item in items)
            blocks.append(ListBlock(ordered, start, parsed))
            items.clear()

    for raw in _clean(source).split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif item := _list_item(line):
            is_ordered, number, text = item
            if paragraph or (items and is_ordered != ordered):
                flush()
            if not items:
                ordered, start = is_ordered, number
            items.append([text])
        elif items and raw[:1] in (" ", "\t"):
            items[-1].append(line)
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return blocks


def _list_item(line: str) -> tuple[bool, int, str] | None:
    """(ordered, number, text) when the line starts with a list marker."""
    if numbered := _NUMBERED.fullmatch(line):
        return True, int(numbered.group(1)), numbered.group(2)
    if bullet := _BULLET.fullmatch(line):
        return False, 1, bullet.group(1)
    return None


# --- inline parsing ----------------------------------------------------------------------------

_PATTERNS = (_CODE, _LINK, _STRONG, _EMPHASIS)  # on a tie at one position, earlier wins


def _parse_inline(text: str, allowed: frozenset[re.Pattern[str]] = frozenset(_PATTERNS)) -> Line:
    """Parse one line; `allowed` shrinks inside a construct so none nests in itself."""
    nodes: list[Inline] = []
    position = 0
    # The next match of each pattern at or after `position`; a pattern with no match at some
    # position has none later either, so it is dropped for good: every pattern is searched
    # O(matches) times, never once per character.
    pending: dict[re.Pattern[str], re.Match[str]] = {}
    for pattern in _PATTERNS:
        if pattern in allowed and (match := pattern.search(text)):
            pending[pattern] = match
    while pending:
        pattern, match = min(pending.items(), key=lambda item: (item[1].start(), _rank(item[0])))
        node = _inline_node(pattern, match, allowed)
        if node is None:  # a link with an unsafe URL: its text stays literal, retry after "["
            _advance(pending, text, match.start() + 1)
            continue
        if match.start() > position:
            nodes.append(Text(text[position : match.start()]))
        nodes.append(node)
        position = match.end()
        _advance(pending, text, position)
    if position < len(text):
        nodes.append(Text(text[position:]))
    return tuple(_merge_text(nodes))


def _rank(pattern: re.Pattern[str]) -> int:
    return _PATTERNS.index(pattern)


def _advance(pending: dict[re.Pattern[str], re.Match[str]], text: str, position: int) -> None:
    for pattern, match in list(pending.items()):
        if match.start() < position:
            following = pattern.search(text, position)
            if following is None:
                del pending[pattern]
            else:
                pending[pattern] = following


def _inline_node(
    pattern: re.Pattern[str], match: re.Match[str], allowed: frozenset[re.Pattern[str]]
) -> Inline | None:
    if pattern is _CODE:
        return Code(match.group(1))
    if pattern is _LINK:
        url = match.group(2)
        if not is_safe_url(url):
            return None
        return Link(url, _parse_inline(match.group(1), allowed - {_LINK}))
    inner = _parse_inline(match.group(1), allowed - {pattern})
    return Strong(inner) if pattern is _STRONG else Emphasis(inner)


def is_safe_url(url: str) -> bool:
    """Whether a link target may become an href: http(s) with a host, or mailto with an
    address, and nothing that a browser would strip or reinterpret (spaces, controls, quotes
    are escaped anyway; `javascript:`, `data:`, relative and protocol-relative URLs never pass).
    No backslash anywhere: browsers read it as "/" in http(s) URLs, other parsers do not, so
    `https://good.example\\@evil.example` names a different host to each."""
    return (len(url) <= MAX_URL and _SAFE_URL.fullmatch(url) is not None and url.isprintable()
            and "\\" not in url)


def _merge_text(nodes: list[Inline]) -> list[Inline]:
    merged: list[Inline] = []
    for node in nodes:
        if isinstance(node, Text) and merged and isinstance(merged[-1], Text):
            merged[-1] = Text(merged[-1].text + node.text)
        else:
            merged.append(node)
    return merged


def _clean(source: str) -> str:
    # NUL has no business in text and some HTML parsers mangle it: show a replacement char.
    return source.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")


# --- emitters ----------------------------------------------------------------------------------


def _lines_html(lines: tuple[Line, ...]) -> str:
    return "<br>\n".join(_inline_html(line) for line in lines)


def _inline_html(nodes: Line) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Text):
            out.append(html.escape(node.text))
        elif isinstance(node, Code):
            out.append(f"<code>{html.escape(node.text)}</code>")
        elif isinstance(node, Strong):
            out.append(f"<strong>{_inline_html(node.children)}</strong>")
        elif isinstance(node, Emphasis):
            out.append(f"<em>{_inline_html(node.children)}</em>")
        else:
            href = html.escape(node.url, quote=True)
            out.append(f'<a href="{href}" {LINK_ATTRIBUTES}>{_inline_html(node.children)}</a>')
    return "".join(out)


def _lines_text(lines: tuple[Line, ...]) -> str:
    return "\n".join(_inline_text(line) for line in lines)


def _inline_text(nodes: Line) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            out.append(node.text)
        elif isinstance(node, Strong | Emphasis):
            out.append(_inline_text(node.children))
        else:
            label = _inline_text(node.children)
            target = node.url
            if target.lower().startswith("mailto:"):
                target = target[len("mailto:") :]
            out.append(label if label == target else f"{label} ({target})")
    return "".join(out)
