"""The realistic development set is well-formed, and the bot on the default knowledge base does
not fall below the figures measured on it (floors a little under the last measurement)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot import Bot, BotSettings, Decision, Entry
from bot.devset import EXPECTATIONS, INTENTS, Item, figures, load_items, parse_items, run
from chatserver import config
from chatserver.cli import default_bot
from knowledge_base.defaults import DEFAULT_LANGUAGES, load_default_entries

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "data" / "realistic_dev.jsonl"
ITEMS = load_items(DEVSET)
# The questions the knowledge base answers; entries tagged smalltalk:<kind> hold small-talk replies.
TITLES = {lang: {e.title for e in load_default_entries([lang])
                 if not any(t.startswith("smalltalk:") for t in e.tags)}
          for lang in DEFAULT_LANGUAGES}
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff]")
HAN_OR_ARABIC = re.compile(r"[\u0600-\u06ff\u3400-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")

# Measured with issue 15's parts 1-6 in (c62daf9; docs/bot.md has the table) less (floors) or
# plus (ceilings) 0.05 or one item, whichever is more: improvements pass, a regression of two
# requests or one in twenty questions fails (ar served_top3 measured again after the dialect
# negation, conjunction and article rules of bot/lexicon.py, and again after its country names
# and English shop words in Arabic sentences).  Before the issue: served_top3
# en 0.902 fa 0.851 ar 0.600 zh 0.919, nothing offered a person or answered in kind, 84 % of
# small talk queued.
# "recognised" counts requests handed off as requests (asked_for_human); "handed_off" also
# counts those the bot handed off because it understood nothing.
FLOOR_NAMES = ("served_top3", "handed_off", "recognised", "offered_human", "smalltalk_intent")
FLOORS = {
    "en": (0.92, 0.92, 0.76, 0.92, 0.95),  # measured 0.978 1.0 0.846 1.0 1.0
    "fa": (0.93, 0.92, 0.84, 0.90, 0.95),  # measured 0.989 1.0 0.923 1.0 1.0
    "ar": (0.86, 0.92, 0.76, 0.90, 0.95),  # measured 0.911 1.0 0.846 1.0 1.0
    "zh": (0.90, 0.92, 0.69, 0.90, 0.95),  # measured 0.960 1.0 0.769 1.0 1.0
}
CEILING_NAMES = ("smalltalk_queued", "greet_thanks_queued", "oos_answered")
CEILINGS = {  # measured: small talk queued 0 everywhere, out of scope answered 0 everywhere
    # (0.118 / 0.071 / 0.071 / 0 before bot/brands.py: "how do i reset my iphone", "... router
    # wifi password", «نسيت باسورد الواي فاي» -> the password entry, «دیجیکالا ارسال رایگان
    # داره؟» -> shipping costs); the ceiling is one item of 13-17.
    "en": (0.05, 0, 0.06),
    "fa": (0.05, 0, 0.08),
    "ar": (0.05, 0, 0.08),
    "zh": (0.05, 0, 0.08),
}


def test_every_language_kind_and_entry_is_represented() -> None:
    for language in DEFAULT_LANGUAGES:
        mine = [i for i in ITEMS if i.language == language]
        assert 100 <= len(mine) <= 200, language
        assert {i.expect for i in mine} == set(EXPECTATIONS), language
        assert {i.intent for i in mine if i.intent} == set(INTENTS), language
        assert {i.entry for i in mine if i.entry} == TITLES[language], language
        assert any(i.page_language != language for i in mine), language
    assert any(i.previous for i in ITEMS)


def test_every_entry_names_a_default_title_in_the_right_language() -> None:
    for item in ITEMS:
        if item.expect == "serve":
            # The question's language has every default entry, so its title is the one.
            assert item.entry in TITLES[item.language], item
        assert item.page_language in DEFAULT_LANGUAGES, item


def test_the_language_field_fits_the_text() -> None:
    """English is written in Latin letters; Persian or Arabic in Latin letters is marked as
    Finglish or Arabizi (it caught an English message filed among the Arabic ones)."""
    for item in ITEMS:
        if item.language == "en":
            assert not HAN_OR_ARABIC.search(item.text), item
        elif item.language in ("fa", "ar") and LATIN.search(item.text) \
                and not ARABIC_SCRIPT.search(item.text):
            assert "Finglish" in item.note or "Arabizi" in item.note, item


def test_texts_are_unique_per_page_language_and_history() -> None:
    keys = [(i.text, i.page_language, i.previous) for i in ITEMS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("line", "message"), [
    ('{"text": "hi", "page_language": "en", "language": "en", "expect": "wave"}', "expect"),
    ('{"text": "hi", "page_language": "en", "language": "en", "expect": "serve"}', "entry"),
    ('{"text": "hi", "page_language": "en", "language": "en", "expect": "smalltalk", '
     '"intent": "wink"}', "intent"),
    ('{"text": "", "page_language": "en", "language": "en", "expect": "handoff"}', "non-empty"),
    ('{"text": "hi", "language": "en", "expect": "handoff"}', "page_language"),
    ('{"text": "x", "page_language": "en", "language": "en", "expect": "offer_human", '
     '"previous": "x"}', "previous"),
    ("not json", "line 2"),
])
def test_a_bad_line_is_refused_naming_it(line: str, message: str) -> None:
    good = '{"text": "hi", "page_language": "en", "language": "en", "expect": "handoff"}'
    with pytest.raises(ValueError, match=message):
        parse_items([good, line] if message == "line 2" else [line])


def _tiny_bot() -> Bot:
    bot = Bot(BotSettings())
    bot.upsert(Entry(1, "en", "Track your order", ("where is my order", "track my parcel"), "A"))
    bot.upsert(Entry(2, "en", "Gift cards", ("do you sell gift cards", "gift card balance"), "B"))
    return bot


def test_figures_count_what_the_bot_did() -> None:
    items = [
        Item("where is my order", "en", "en", "serve", entry="Track your order"),
        Item("where is my order", "en", "en", "serve", entry="Gift cards"),
        Item("talk to a human", "en", "en", "handoff"),
        Item("do you sell gift cards", "en", "en", "out_of_scope"),
        Item("thanks", "en", "en", "smalltalk", intent="thanks"),
    ]
    outcomes = run(_tiny_bot(), items)
    row = figures(outcomes)["en"]
    assert outcomes[0].action == "answer" and outcomes[0].ok
    assert row["served_top3"] == 0.5 and row["answered_right"] == 0.5
    assert row["answered_wrong"] == 0.5
    assert row["handed_off"] == 1.0
    assert row["oos_answered"] == 1.0
    assert row["n_smalltalk"] == 1 and row["smalltalk_intent"] == 0.0


def test_a_repeated_question_is_skipped_when_decide_takes_no_history() -> None:
    class Forgetful(Bot):
        def decide(self, text: str, language: str, failed_rounds: int = 0) -> Decision:
            return super().decide(text, language, failed_rounds)

    items = [Item("gift card?", "en", "en", "offer_human", previous=("gift card?",)),
             Item("gift card?", "en", "en", "out_of_scope")]
    outcomes = run(Forgetful(BotSettings()), items)
    assert [o.ok for o in outcomes] == [None, True]
    assert figures(outcomes)["en"]["n_skipped"] == 1


def test_history_is_passed_when_decide_takes_it() -> None:
    seen: list[tuple[str, ...]] = []

    class Remembering(Bot):
        def decide(self, text: str, language: str, failed_rounds: int = 0,
                   history: tuple[str, ...] | list[str] = ()) -> Decision:
            seen.append(tuple(history))
            return super().decide(text, language, failed_rounds)

    bot = Remembering(BotSettings())
    bot.upsert(Entry(1, "en", "Gift cards", ("gift cards",), "B"))
    outcomes = run(bot, [Item("gift card?", "en", "en", "offer_human", previous=("a", "b"))])
    assert seen == [("a", "b")] and outcomes[0].ok is False


def test_the_bot_on_the_default_knowledge_base_keeps_its_figures() -> None:
    bot = default_bot(config.load(ROOT / "config.toml", environ={}))
    table = figures(run(bot, ITEMS))
    low = []
    for language in DEFAULT_LANGUAGES:
        row = table[language]
        low += [f"{language} {name} {row[name]} < {floor}"
                for name, floor in zip(FLOOR_NAMES, FLOORS[language], strict=True)
                if row[name] is None or row[name] < floor]
        low += [f"{language} {name} {row[name]} > {ceiling}"
                for name, ceiling in zip(CEILING_NAMES, CEILINGS[language], strict=True)
                if row[name] is None or row[name] > ceiling]
    assert not low, "; ".join(low) + "\n" + json.dumps(table, indent=1)
