"""Every phrasing of every default knowledge-base entry answers its own entry (issue 15), the
small-talk entries included: a greeting phrasing gets the greeting reply, not a question's."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import Bot, Entry
from bot.evaluate import load_rows
from bot.smalltalk import fill_name, kind_of
from knowledge_base.defaults import load_default_entries

ENTRIES = load_default_entries()
BOT = Bot()
for _number, _entry in enumerate(ENTRIES, 1):
    BOT.upsert(Entry(_number, _entry.language, _entry.title, _entry.questions, _entry.answer,
                     _entry.skill, _entry.tags))

def _cases() -> list[object]:
    return [pytest.param(number, question, id=f"{entry.language}-{number}-{question[:30]}")
            for number, entry in enumerate(ENTRIES, 1) for question in entry.questions]


@pytest.mark.parametrize(("number", "question"), _cases())
def test_every_default_phrasing_answers_its_own_entry(number: int, question: str) -> None:
    entry = ENTRIES[number - 1]
    d = BOT.decide(question, entry.language)
    kind = kind_of(entry.tags)
    if kind is not None:
        assert (d.action, d.intent) == ("smalltalk", kind)
        assert d.answer == fill_name(entry.answer, "")
    else:
        assert (d.action, d.entry_id) == ("answer", number), (d.action, d.matches[:2])


def test_every_language_has_every_small_talk_reply() -> None:
    kinds = {(e.language, kind_of(e.tags)) for e in ENTRIES if kind_of(e.tags)}
    assert len(kinds) == 4 * 7


def test_taiwan_and_hong_kong_questions_find_the_simplified_entries() -> None:
    """tests/data/zh_tw_hk.jsonl: 54 questions in Taiwan and Hong Kong words (保固, 禮物卡,
    登入, 帳號, 宅配; Cantonese 點樣, 冇, 俾), written before measuring.  Measured 50 right at
    top 1 and 53 in the top 3 (docs/bot.md); without the traditional folding 49 and 50."""
    rows = load_rows(Path(__file__).parent / "data" / "zh_tw_hk.jsonl")
    titles = {number: entry.title for number, entry in enumerate(ENTRIES, 1)}
    ranked = [[titles[m.entry_id] for m in BOT.search(r.text, "zh", k=3)] for r in rows]
    top1 = sum(bool(found) and found[0] == r.label for found, r in zip(ranked, rows, strict=True))
    top3 = sum(r.label in found for found, r in zip(ranked, rows, strict=True))
    assert top1 >= 50, [r.text for f, r in zip(ranked, rows, strict=True) if f[:1] != [r.label]]
    assert top3 >= 53
