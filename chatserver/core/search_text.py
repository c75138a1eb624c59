"""Search over conversations, the pure part: the one tokeniser both store backends index with,
the query parsed into required terms, and hits marked in a line for its snippet.

A line's terms are the bot's word tokens (`bot.normalize.words`): NFKC and case folding, Persian
and Arabic letter variants, ZWNJ and diacritics folded, digits of every script made ASCII, and
runs of Chinese (which has no spaces) cut into single characters and overlapping bigrams, so a
two-character query such as 退款 finds 我要退款. The store keeps them as one space-separated
string per line; SQLite's FTS5 and PostgreSQL's tsvector both index exactly those tokens (no
tokeniser of their own decides anything), so both backends find the same lines.

A query matches a conversation whose lines, together, hold every one of its terms ("refund
4711" finds "I want a refund" ... "order 4711"); its last word also matches as a prefix
(as-you-type: "refu" finds "refund"), unless it is a single character or Chinese. A prefix
starting with an Arabic article or the Persian verbal prefix is also tried without it, as a
line's words are indexed without them (الكت finds الكتاب, indexed کتاب).

Only tokens SQLite's FTS5 keeps whole are emitted: its unicode61 tokeniser, with the categories
migration 11 gives it, splits on nothing words() keeps but U+FFFE and U+FFFF (checked over every
code point, tests/test_search.py), so those two are dropped before tokenising.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from bot.normalize import AR_ARTICLES, normalize, unspaced, words

# A term longer than this is cut to it, on both sides alike: PostgreSQL refuses lexemes over
# 2 KB, and no one types 64 characters of one word into a search box.
MAX_TERM = 64
MAX_QUERY = 200  # characters of the text query
MAX_TERMS = 24  # terms after tokenising: 12 Chinese characters make 11 bigrams
MAX_FIELD = 120  # characters of the visitor / agent / label filters
SNIPPET_WIDTH = 160  # characters of a line around its first hit
SNIPPET_BEFORE = 40  # of which before the hit
_CURSOR = re.compile(r"^(\d{1,15})~([A-Za-z0-9_.:-]{1,100})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadSearch(ValueError):
    """A search parameter that cannot be used; the message says which and why."""


# Noncharacters dropped before tokenising: FTS5's unicode61 splits a word on U+FFFE and
# U+FFFF (words() keeps them in it), so "parcel\ufffeqzv" is one term on both backends; and
# U+10FFFF, so that no term holds the top code point the visitor filter's ranges end with.
_DROPPED = {0xFFFE: None, 0xFFFF: None, 0x10FFFF: None}


def terms_of(text: str) -> list[str]:
    """The distinct terms of a text, in order: the one tokeniser of lines, queries and the
    visitor filter's names and e-mails."""
    return list(dict.fromkeys(t[:MAX_TERM] for t in words(text.translate(_DROPPED))))


def line_terms(text: str) -> str:
    """The index form of a line: its distinct terms, space-separated ('' for none)."""
    return " ".join(terms_of(text))


_STRIPPED = (*AR_ARTICLES, "نمی", "می")  # the line's words are indexed without them


def _fts5(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class Query:
    """Terms a conversation must all hold (in any of its lines), and the last word's forms
    matched as a prefix: one of them must begin a term (empty: no prefix)."""

    terms: tuple[str, ...]
    prefix: tuple[str, ...] = ()

    def holds_prefix(self, term: str) -> bool:
        return any(term.startswith(p) for p in self.prefix)

    def matches(self, held: Iterable[str]) -> bool:
        """Whether a conversation whose lines hold these terms is a hit: the store's rule."""
        held = set(held)
        return all(t in held for t in self.terms) and (
            not self.prefix or any(self.holds_prefix(t) for t in held))

    def touches(self, line: Iterable[str]) -> bool:
        """Whether a line with these terms holds any word of the query (a snippet's line)."""
        return any(t in self.terms or self.holds_prefix(t) for t in line)

    def fts5(self) -> list[str]:
        """One SQLite FTS5 expression per word, each a line must match for the conversation
        to hold that word: a quoted term, or the prefix's forms starred and OR-ed."""
        parts = [_fts5(t) for t in self.terms]
        if self.prefix:
            parts.append(" OR ".join(_fts5(p) + "*" for p in self.prefix))
        return parts

    def tsquery(self) -> list[str]:
        """The same per word as PostgreSQL tsquery input: quoted lexemes taken as they are."""
        parts = [_lexeme(t) for t in self.terms]
        if self.prefix:
            parts.append(" | ".join(_lexeme(p) + ":*" for p in self.prefix))
        return parts


def parse_query(text: str) -> Query:
    """The text query as terms; BadSearch when it is too long or holds nothing to find."""
    if len(text) > MAX_QUERY:
        raise BadSearch(f"q: at most {MAX_QUERY} characters")
    tokens = terms_of(text)
    if not tokens:
        raise BadSearch("q: give a word or number to find (punctuation alone finds nothing)")
    # A Chinese character inside one of the query's bigrams adds nothing the bigram lacks.
    pairs = [t for t in tokens if len(t) == 2 and unspaced(t)]
    tokens = [t for t in tokens if not (len(t) == 1 and unspaced(t) and
                                        any(t in p for p in pairs))]
    if len(tokens) > MAX_TERMS:
        raise BadSearch(f"q: at most {MAX_TERMS} words")
    last = tokens[-1]
    if len(last) >= 2 and not unspaced(last):
        forms = [last] + [last[len(s):] for s in _STRIPPED
                          if last.startswith(s) and len(last) - len(s) >= 2]
        return Query(tuple(tokens[:-1]), tuple(dict.fromkeys(forms)))
    return Query(tuple(tokens))


@dataclass(frozen=True)
class Filters:
    """One search: the text query (or None: filters only) and the filters, all optional."""

    query: Query | None = None
    visitor: str = ""  # part of the visitor's name or e-mail
    agent: str = ""  # the agent's username
    label: str = ""  # a label's name
    from_ms: int | None = None  # started at or after (UTC midnight of the `from` day)
    to_ms: int | None = None  # started before (UTC midnight after the `to` day)
    rating: int | None = None  # the survey's rating, 1-5
    before: tuple[int, str] | None = None  # the cursor: (started_ms, id) of the last shown


def _day(name: str, value: str) -> int:
    if not _DAY.match(value):
        raise BadSearch(f"{name}: a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadSearch(f"{name}: {value} is not a date") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _field(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if len(value) > MAX_FIELD:
        raise BadSearch(f"{name}: at most {MAX_FIELD} characters")
    return value


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The search the query parameters describe; BadSearch naming the first bad one."""
    q = params.get("q", "").strip()
    query = parse_query(q) if q else None
    from_ms = _day("from", v) if (v := params.get("from", "").strip()) else None
    to_ms = _day("to", v) + 86_400_000 if (v := params.get("to", "").strip()) else None
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise BadSearch("from: must not be after to")
    rating = None
    if raw := params.get("rating", "").strip():
        if raw not in {"1", "2", "3", "4", "5"}:
            raise BadSearch("rating: a whole number from 1 to 5")
        rating = int(raw)
    before = None
    if raw := params.get("cursor", "").strip():
        found = _CURSOR.match(raw)
        if found is None:
            raise BadSearch("cursor: give back the next_cursor of the previous page")
        before = (int(found.group(1)), found.group(2))
    visitor = _field(params, "visitor")
    if visitor and not terms_of(visitor):
        raise BadSearch("visitor: give a letter or digit of the name or e-mail")
    return Filters(query, visitor, _field(params, "agent"),
                   _field(params, "label"), from_ms, to_ms, rating, before)


def cursor(started_ms: int, conversation_id: str) -> str:
    """The cursor that continues after this conversation (parse_filters reads it back)."""
    return f"{started_ms}~{conversation_id}"


# --- snippets ------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _fold(ch: str) -> str | None:
    """One character in matching form: its folded text, '' when folding drops it (a mark,
    tatweel), None when it separates words (space, punctuation, ZWNJ)."""
    if ord(ch) in _DROPPED:
        return ""
    folded = normalize(ch)
    if folded:
        return folded
    return None if normalize(f"a{ch}a") != "aa" else ""


def _runs(text: str) -> list[tuple[str, list[int]]]:
    """The words of `text` in matching form, each with the index in `text` of every
    character of it; a run of Chinese is one word."""
    runs: list[tuple[str, list[int]]] = []
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold(ch)
        # A word ends at a separator, and where Chinese meets another script (订单号是4711).
        if chars and (folded is None or (folded and unspaced(folded[0]) != unspaced(chars[-1]))):
            runs.append(("".join(chars), where))
            chars, where = [], []
        for piece in folded or "":
            chars.append(piece)
            where.append(i)
    if chars:
        runs.append(("".join(chars), where))
    return runs


def hits(text: str, query: Query) -> list[bool]:
    """For each character of `text`, whether it belongs to a hit: a whole word holding one of
    the query's terms (so الطلب lights up for طلب), or a Chinese term where it occurs."""
    marked = [False] * len(text)
    wanted = set(query.terms)
    chinese = [t for t in query.terms if unspaced(t)]
    for run, where in _runs(text):
        tokens = words(run)
        if any(not unspaced(t) and (t[:MAX_TERM] in wanted or (
                query.holds_prefix(t))) for t in tokens):
            for i in where:
                marked[i] = True
        for term in chinese:
            start = run.find(term)
            while start >= 0:
                for i in where[start:start + len(term)]:
                    marked[i] = True
                start = run.find(term, start + 1)
    return marked


def snippet(text: str, query: Query | None) -> list[dict[str, object]]:
    """The line as segments [{"text", "hit"}] around its first hit, cut to SNIPPET_WIDTH
    characters with an ellipsis where cut. Plain text, never HTML: the client escapes."""
    marked = hits(text, query) if query is not None else [False] * len(text)
    first = marked.index(True) if True in marked else 0
    start = max(0, first - SNIPPET_BEFORE) if len(text) > SNIPPET_WIDTH else 0
    end = min(len(text), start + SNIPPET_WIDTH)
    segments: list[dict[str, object]] = []
    if start:
        segments.append({"text": "…", "hit": False})
    i = start
    while i < end:
        j = i
        while j < end and marked[j] == marked[i]:
            j += 1
        segments.append({"text": text[i:j], "hit": marked[i]})
        i = j
    if end < len(text):
        segments.append({"text": "…", "hit": False})
    return segments
