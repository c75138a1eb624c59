"""The search tokeniser, query and snippets (chatserver/core/search_text.py): pure, no store."""

from __future__ import annotations

import sqlite3
import sys

import pytest

from chatserver.core.search_text import (
    MAX_QUERY,
    BadSearch,
    Query,
    line_terms,
    parse_filters,
    parse_query,
    snippet,
    terms_of,
)
from chatserver.store.schema import MIGRATIONS


def finds(query: str, line: str) -> bool:
    return parse_query(query).matches(line_terms(line).split())


@pytest.mark.parametrize(("query", "line"), [
    # Persian: ZWNJ, no space, a space; Arabic yeh/kaf typed for Persian ones and back
    ("می‌خواهم", "میخواهم سفارشم را لغو کنم"),
    ("میخواهم", "من می‌خواهم سفارشم را لغو کنم"),
    ("می خواهم", "من می‌خواهم سفارشم را لغو کنم"),
    ("کیف", "كيف يمكنني استرداد المبلغ"),
    ("كتاب", "این کتاب را می‌خواهم"),
    ("یک", "يك طلب"),
    # diacritics and tatweel are decoration
    ("محمد", "مُحَمَّد"),
    ("جميل", "جمـــيل"),
    # Arabic article and Persian plural
    ("طلب", "أريد إلغاء الطلب"),
    ("کتاب", "کتاب‌ها رسید"),
    # Chinese: no spaces, a 2-character query inside a longer run; one character alone
    ("退款", "我要退款"),
    ("退", "我要退款"),
    ("订单号", "订单号是4711"),
    ("退款", "我要退款，謝謝"),  # traditional folds to simplified in the line too
    ("謝謝", "谢谢你"),
    # Latin: case, accents, prefix of the last word
    ("REFUND", "where is my refund"),
    ("refund", "Where is my REFUND?"),
    ("cafe", "Café au lait"),
    ("refu", "where is my refund"),
    ("order refu", "refund for order 9"),
    # digits however written
    ("4711", "order #4711"),
    ("#4711", "order 4711"),
    ('"4711"', "order number: 4711."),
    ("4711", "سفارش ۴۷۱۱"),
    ("۴۷۱۱", "order 4711"),
    ("4711", "订单号是4711"),
])
def test_a_query_finds_the_line_however_either_is_written(query: str, line: str) -> None:
    assert finds(query, line)


@pytest.mark.parametrize(("query", "line"), [
    ("退款", "我要退货，款到了"),  # both characters, never side by side
    ("refund order", "where is my refund"),  # every word must be there
    ("order", "reorder the list"),  # words match whole, only the last as a prefix
    ("4711", "order 14711"),
    ("a", "apple"),  # a one-letter last word is not a prefix: it would match everything
    ("خواهم", "خواهش میکنم"),
])
def test_a_query_does_not_find_what_it_does_not_say(query: str, line: str) -> None:
    assert not finds(query, line)


def test_the_last_word_is_a_prefix_unless_chinese_or_one_letter() -> None:
    assert parse_query("order 47") == Query(("order",), ("47",))
    assert parse_query("退款") == Query(("退款",))
    assert parse_query("plan a") == Query(("plan", "a"))


@pytest.mark.parametrize(("query", "line"), [
    ("الكت", "أريد إلغاء الكتاب"),  # the line's word is indexed without its article: کتاب
    ("بالكت", "بالكتاب"),
    ("میخو", "من میخواهم"),  # and without the Persian verbal prefix: می خواهم
    ("الكتا", "الكتاب"),
])
def test_a_prefix_is_also_tried_without_the_arabic_article_or_persian_prefix(
        query: str, line: str) -> None:
    assert finds(query, line)


def test_a_prefix_keeps_two_letters_after_its_article_is_tried_off() -> None:
    assert parse_query("الكت").prefix == ("الکت", "کت")
    assert parse_query("الک").prefix == ("الک",)  # ک alone would begin half the words


def test_a_conversation_holds_the_words_across_its_lines() -> None:
    """Every word in some line: the conversation's terms together (the store's rule)."""
    query = parse_query("refund 4711")
    lines = [line_terms("I want a refund please").split(), line_terms("order 4711").split()]
    assert query.matches(t for line in lines for t in line)
    assert [query.touches(line) for line in lines] == [True, True]
    assert not query.matches(lines[0])


def test_noncharacters_are_dropped_so_a_word_stays_one_term() -> None:
    assert line_terms("my parcel\ufffeqzv is late") == "my parcelqzv is late"
    assert parse_query("order\uffff4711") == Query((), ("order4711",))
    assert terms_of("a\U0010ffffb") == ["ab"]


def test_fts5_keeps_every_term_whole_across_the_bmp() -> None:
    """Each code point between two letters, tokenised by line_terms, then by FTS5's unicode61
    with migration 11's options: FTS5 must see the same terms (one split or folded otherwise
    would be found differently on SQLite than on PostgreSQL). The whole range up to U+10FFFF
    was checked once (25 s): only U+FFFE and U+FFFF differed, now dropped."""
    options = MIGRATIONS[10].split("tokenize = ")[1].split("\n")[0]
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = {options})")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    rows = {cp: line_terms(f"q{chr(cp)}z") for cp in range(0x80, 0x10000)
            if not 0xD800 <= cp < 0xE000}
    db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", rows.items())
    seen: dict[int, list[str]] = {}
    for term, doc in db.execute("SELECT term, doc FROM v ORDER BY doc, offset"):
        seen.setdefault(doc, []).append(term)
    assert [hex(cp) for cp, terms in rows.items() if seen.get(cp, []) != terms.split()] == []
    assert sys.maxunicode == 0x10FFFF


def test_the_index_form_is_distinct_folded_terms() -> None:
    assert line_terms("Refund REFUND refund!") == "refund"
    assert line_terms("我要退款") == "我 要 退 款 我要 要退 退款"
    assert line_terms("سفارش ۴۷۱۱") == "سفارش 4711"
    assert line_terms("?!… —") == ""
    assert len(line_terms("x" * 5000)) == 64


def test_the_query_reaches_each_backend_verbatim() -> None:
    query = parse_query("order 退款 47")
    assert query.fts5() == ['"order"', '"退款"', '"47"*']
    assert query.tsquery() == ["'order'", "'退款'", "'47':*"]
    article = parse_query("الكت")
    assert article.fts5() == ['"الکت"* OR "کت"*']
    assert article.tsquery() == ["'الکت':* | 'کت':*"]


@pytest.mark.parametrize(("params", "message"), [
    ({"q": "?!؟، …"}, "q: give a word"),
    ({"q": "x" * (MAX_QUERY + 1)}, "q: at most"),
    ({"q": " ".join(f"w{i}" for i in range(30))}, "q: at most 24 words"),
    ({"rating": "6"}, "rating"),
    ({"rating": "0"}, "rating"),
    ({"rating": "4.5"}, "rating"),
    ({"from": "2026-13-01"}, "from: 2026-13-01 is not a date"),
    ({"to": "yesterday"}, "to: a date"),
    ({"from": "2026-03-05", "to": "2026-03-01"}, "from: must not be after to"),
    ({"cursor": "abc"}, "cursor"),
    ({"visitor": "v" * 121}, "visitor: at most"),
    ({"visitor": "@."}, "visitor: give a letter or digit"),
])
def test_bad_parameters_are_refused_with_a_reason(params: dict[str, str], message: str) -> None:
    with pytest.raises(BadSearch, match=message):
        parse_filters(params)


def test_dates_are_whole_utc_days() -> None:
    f = parse_filters({"from": "2026-03-01", "to": "2026-03-01", "rating": "5"})
    assert (f.from_ms, f.to_ms, f.rating) == (1772323200000, 1772409600000, 5)


def hit_text(segments: list[dict[str, object]]) -> list[str]:
    return [str(s["text"]) for s in segments if s["hit"]]


def test_snippets_mark_the_hits_in_the_words_as_written() -> None:
    assert hit_text(snippet("Where is my REFUND for order #4711?",
                            parse_query("refund 4711"))) == ["REFUND", "4711"]
    assert hit_text(snippet("我要退款，谢谢", parse_query("退款"))) == ["退款"]
    assert hit_text(snippet("كيف يمكنني", parse_query("کیف"))) == ["كيف"]
    assert hit_text(snippet("أريد إلغاء الطلب", parse_query("طلب"))) == ["الطلب"]
    assert hit_text(snippet("سفارش ۴۷۱۱ رسید", parse_query("4711"))) == ["۴۷۱۱"]
    assert hit_text(snippet("where is my refund", parse_query("refu"))) == ["refund"]
    segments = snippet("plain <b>text</b> & refund", parse_query("refund"))
    assert "".join(str(s["text"]) for s in segments) == "plain <b>text</b> & refund"


def test_a_long_line_is_cut_around_its_first_hit() -> None:
    line = "a" * 300 + " refund " + "b" * 300
    segments = snippet(line, parse_query("refund"))
    assert segments[0] == {"text": "…", "hit": False}
    assert segments[-1] == {"text": "…", "hit": False}
    assert hit_text(segments) == ["refund"]
    assert sum(len(str(s["text"])) for s in segments[1:-1]) == 160
