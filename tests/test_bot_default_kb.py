"""Every phrasing of every default knowledge-base entry answers its own entry (issue 15), the
small-talk entries included: a greeting phrasing gets the greeting reply, not a question's."""

from __future__ import annotations

import pytest

from bot import Bot, Entry
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
