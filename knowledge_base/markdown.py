"""The safe Markdown subset answers are written in, rendered to HTML or to plain text.

The parser is markdown-it-py, a CommonMark implementation tested against the specification,
with only the rules the subset needs: paragraphs, line breaks (a newline is a break),
**bold**, *italic* (and `__`/`_`), `code`, backslash escapes, bullet and numbered lists, and
[links](url) to http, https and mailto URLs only, absolute and without a backslash. Raw HTML,
images, headings, quotes, entities, autolinks and other URL schemes come out as the literal text
the author typed, HTML-escaped. It replaced a hand-written renderer that read `*a **b** c*`,
`_x_` and links with parentheses wrongly (bench/markdown_bench.py, docs/bot.md).

One change to CommonMark: an emphasis marker next to a Chinese, Japanese or Korean character
counts as if a space were there, so `**注意：**请` is bold as a Chinese author means it (plain
CommonMark leaves the asterisks, because its rule for punctuation before a closing marker
assumes words are separated by spaces).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import isMdAsciiPunct, isPunctChar, isWhiteSpace
from markdown_it.rules_inline.state_inline import Delimiter, StateInline
from markdown_it.token import Token

LINK_ATTRIBUTES = 'rel="noopener noreferrer nofollow" target="_blank"'
MAX_URL = 2000  # longer than any URL worth clicking in a chat answer; browsers cap near 2 KB too

_SAFE_URL = re.compile(r"(?:https?://[^\s/?#]+|mailto:[^\s@]+@)[^\s]*", re.IGNORECASE)
_RULES = ["list", "newline", "escape", "backticks", "emphasis", "link"]


def is_safe_url(url: str) -> bool:
    """Whether a link target may become an href: http(s) with a host, or mailto with an
    address, and nothing that a browser would strip or reinterpret (`javascript:`, `data:`,
    relative and protocol-relative URLs never pass). No backslash anywhere, raw or as the %5C
    the parser writes for it: browsers read it as "/" in http(s) URLs, other parsers do not,
    so `https://good.example\\@evil.example` names a different host to each."""
    return (len(url) <= MAX_URL and _SAFE_URL.fullmatch(url) is not None and url.isprintable()
            and "\\" not in url and "%5c" not in url.lower())


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _emphasis(state: StateInline, silent: bool) -> bool:
    """markdown-it's emphasis rule with CommonMark's flanking test, except that a CJK
    character beside the run counts as a space for the punctuation clause (see above)."""
    start, marker = state.pos, state.src[state.pos]
    if silent or marker not in ("_", "*"):
        return False
    end = start
    while end < state.posMax and state.src[end] == marker:
        end += 1
    last = state.src[start - 1] if start > 0 else " "
    after = state.src[end] if end < state.posMax else " "
    last_punct = isMdAsciiPunct(ord(last)) or isPunctChar(last)
    next_punct = isMdAsciiPunct(ord(after)) or isPunctChar(after)
    last_space, next_space = isWhiteSpace(ord(last)), isWhiteSpace(ord(after))
    left = not next_space and (not next_punct or last_space or last_punct or _wide(last))
    right = not last_space and (not last_punct or next_space or next_punct or _wide(after))
    split = marker == "*"
    can_open = left and (split or not right or last_punct)
    can_close = right and (split or not left or next_punct)
    for _ in range(end - start):
        token = state.push("text", "", 0)
        token.content = marker
        state.delimiters.append(Delimiter(ord(marker), end - start, len(state.tokens) - 1, -1,
                                          can_open, can_close))
    state.pos = end
    return True


def _link_open(_renderer: object, tokens: Sequence[Token], index: int, *_: object) -> str:
    # Only the href (already escaped by the renderer's attribute quoting) and our attributes:
    # a title or anything else an author adds is dropped.
    href = tokens[index].attrs["href"]
    return f'<a href="{_MD.utils.escapeHtml(str(href))}" {LINK_ATTRIBUTES}>'


_MD = MarkdownIt("zero", {"breaks": True, "html": False}).enable(_RULES)
_MD.inline.ruler.at("emphasis", _emphasis)
_MD.validateLink = is_safe_url  # type: ignore[method-assign]
_MD.add_render_rule("link_open", _link_open)


def to_html(source: str) -> str:
    """Render the safe subset to an HTML fragment; any other markup shows as escaped text."""
    return str(_MD.render(source)).rstrip("\n")


@functools.lru_cache(maxsize=256)  # every bot line sends one of a few hundred answers
def to_plain_text(source: str) -> str:
    """The answer as plain text for transcripts, e-mails and search: markers removed, links as
    "text (url)", bullets as "•", numbered items keep their numbers (nested lists flattened)."""
    blocks: list[str] = []
    lines: list[str] = []  # the open top-level list's lines
    counters: list[int | None] = []  # per open list: the next number, None for bullets
    marker = ""
    for token in _MD.parse(source):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            ordered = token.type == "ordered_list_open"
            counters.append(int(str(token.attrGet("start") or 1)) if ordered else None)
        elif token.type.endswith("_list_close"):
            counters.pop()
            if not counters:
                blocks.append("\n".join(lines))
                lines = []
        elif token.type == "list_item_open":
            number = counters[-1]
            marker = "•" if number is None else f"{number}."
            counters[-1] = None if number is None else number + 1
        elif token.type == "inline":
            text = _inline_text(token.children or [])
            if not counters:
                blocks.append(text)
                continue
            lines.append((f"{marker} " if marker else "   ") + text.replace("\n", "\n   "))
            marker = ""
    return "\n\n".join(blocks)


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    link_start, target = 0, ""
    for token in children:
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif token.type == "link_open":
            link_start, target = len(parts), _MD.normalizeLinkText(str(token.attrGet("href")))
        elif token.type == "link_close":
            label = "".join(parts[link_start:])
            del parts[link_start:]
            if target.lower().startswith("mailto:"):
                target = target[len("mailto:") :]
            parts.append(label if label == target else f"{label} ({target})")
    return "".join(parts)
