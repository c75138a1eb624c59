"""The Bot facade: matching across scripts, updates, language filtering, decisions."""

from __future__ import annotations

import pytest

from bot import Bot, BotSettings, Entry, MatchSettings, primary_language
from bot.index import Index

SHOP = [
    Entry(
        1,
        "en",
        "Where is my order",
        (
            "where is my order",
            "track my parcel",
            "my package has not arrived",
            "when will my order be delivered",
        ),
        "Track it here.",
        skill="orders",
    ),
    Entry(
        2,
        "en",
        "Refunds",
        (
            "how do i get a refund",
            "i want my money back",
            "refund for a returned item",
            "how long does a refund take",
        ),
        "Refunds take 5 days.",
        skill="billing",
    ),
    Entry(
        3,
        "en",
        "Reset password",
        ("i forgot my password", "reset my password", "cannot log in to my account"),
        "Use the reset link.",
    ),
    Entry(10, "fa", "کارت بانکی", ("کارت بانکی من کی می‌رسد", "کارت من هنوز نرسیده"), "۵ روز"),
    Entry(11, "fa", "رمز عبور", ("رمز عبورم را فراموش کرده‌ام", "تغییر رمز عبور"), "لینک"),
    Entry(20, "ar", "استرداد", ("أريد استرداد أموالي", "كيف أسترد المبلغ"), "خمسة أيام"),
    Entry(21, "ar", "بطاقة", ("متى تصل بطاقتي الجديدة", "لم تصل البطاقة"), "أسبوع"),
    Entry(30, "zh", "订单", ("我的订单什么时候发货", "查询订单状态", "订单在哪里"), "三天"),
    Entry(31, "zh", "退款", ("我要退款", "退款多久到账"), "七天"),
]


@pytest.fixture
def bot() -> Bot:
    b = Bot()
    for entry in SHOP:
        b.upsert(entry)
    return b


def top(bot: Bot, text: str, language: str) -> int | None:
    found = bot.search(text, language, k=1)
    return found[0].entry_id if found else None


def test_english_paraphrase_finds_its_entry(bot: Bot) -> None:
    assert top(bot, "My parcel still hasn't arrived, where is it?", "en") == 1
    assert top(bot, "I'd like a refund please", "en") == 2


def test_persian_with_arabic_keyboard_letters_matches_persian_entry(bot: Bot) -> None:
    assert top(bot, "كارت بانكي من كي ميرسد؟", "fa") == 10


def test_diacritised_arabic_matches_plain_entry(bot: Bot) -> None:
    assert top(bot, "مَتَى تَصِلُ بِطَاقَتِي؟", "ar") == 21


def test_traditional_chinese_query_matches_simplified_entry(bot: Bot) -> None:
    assert top(bot, "我的訂單什麼時候發貨？", "zh") == 30
    assert top(bot, "退款多久到賬", "zh") == 31


def test_scores_are_in_unit_interval_and_ranked(bot: Bot) -> None:
    found = bot.search("refund my money", "en", k=3)
    assert all(0.0 <= m.score <= 1.0 for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_edited_entry_is_matched_at_once_and_removed_one_never(bot: Bot) -> None:
    assert bot.search("gift card balance", "en")[0].score < 0.2
    bot.upsert(Entry(3, "en", "Gift cards", ("check my gift card balance",), "See account."))
    assert top(bot, "gift card balance", "en") == 3
    assert bot.search("gift card balance", "en")[0].score > 0.6
    assert top(bot, "i forgot my password", "en") != 3  # old questions are gone
    bot.remove(3)
    assert all(m.entry_id != 3 for m in bot.search("gift card balance", "en"))
    bot.remove(3)  # removing twice is harmless


def test_language_filter_keeps_other_languages_out(bot: Bot) -> None:
    assert all(m.entry_id < 10 for m in bot.search("refund", "en"))
    assert all(10 <= m.entry_id < 20 for m in bot.search("کارت", "fa-IR"))


def test_neutral_entry_matches_every_language(bot: Bot) -> None:
    bot.upsert(Entry(99, "", "IBAN", ("IBAN DE89370400440532013000",), "Our IBAN."))
    assert top(bot, "IBAN", "fa") == 99
    assert top(bot, "IBAN", "en") == 99


def test_language_without_entries_falls_back_to_all(bot: Bot) -> None:
    assert top(bot, "reset my password", "de") == 3


def test_moving_an_entry_to_another_language(bot: Bot) -> None:
    bot.upsert(Entry(1, "fa", "سفارش", ("سفارش من کجاست",), "..."))
    assert all(m.entry_id != 1 for m in bot.search("where is my order", "en"))
    assert top(bot, "سفارش من کجاست", "fa") == 1


def test_primary_language() -> None:
    assert primary_language("fa-IR") == "fa"
    assert primary_language("zh_Hant_TW") == "zh"
    assert primary_language("EN") == "en"
    assert primary_language("") == ""


def test_confident_query_is_answered_with_entry_and_skill(bot: Bot) -> None:
    d = bot.decide("how long does a refund take", "en")
    assert (d.action, d.reason, d.entry_id) == ("answer", "confident", 2)
    assert d.skill == "billing"
    assert d.answer == "Refunds take 5 days."


def test_partial_query_gets_suggestions(bot: Bot) -> None:
    d = bot.decide("my order and my refund", "en")
    assert (d.action, d.reason) == ("suggest", "unsure"), d
    assert d.entry_id is None
    assert 1 <= len(d.matches) <= 3


def test_unrelated_query_is_handed_off(bot: Bot) -> None:
    d = bot.decide("what is the capital of mongolia", "en")
    assert (d.action, d.reason) == ("handoff", "low_confidence")
    assert d.entry_id is None
    assert d.skill is None  # the best match is noise: no topic to route on


def test_second_failure_in_a_row_hands_off(bot: Bot) -> None:
    assert bot.decide("my order and my refund", "en", failed_rounds=1).reason == "second_failure"
    # ... but a confident answer still wins on the second round
    assert bot.decide("reset my password", "en", failed_rounds=1).action == "answer"


def test_asking_for_a_person_hands_off_with_topic_skill(bot: Bot) -> None:
    d = bot.decide("I want to talk to a person about my refund", "en")
    assert (d.action, d.reason) == ("handoff", "asked_for_human")
    assert d.skill == "billing"


def test_empty_knowledge_base_hands_off() -> None:
    d = Bot().decide("hello", "en")
    assert (d.action, d.matches, d.skill) == ("handoff", (), None)


def test_thresholds_come_from_settings(bot: Bot) -> None:
    eager = Bot(BotSettings(answer_threshold=0.0))
    for entry in SHOP:
        eager.upsert(entry)
    assert eager.decide("my order and my refund", "en").action == "answer"


def test_optional_fuzzy_rerank_keeps_scores_in_range() -> None:
    fuzzy = Bot(BotSettings(match=MatchSettings(fuzzy=0.5)))
    for entry in SHOP:
        fuzzy.upsert(entry)
    found = fuzzy.search("how long does a refund take", "en", k=3)
    assert found[0].entry_id == 2
    assert all(0.0 <= m.score <= 1.0 for m in found)


CARDS = [
    Entry(
        10,
        "en",
        "",
        (
            "my virtual card is not working",
            "virtual card does not work online",
            "the virtual card got declined",
            "why is my virtual card not working",
        ),
        "Virtual cards …",
    ),
    Entry(
        11,
        "en",
        "",
        (
            "card stopped",
            "card is broken",
            "card refused at a shop",
            "card not accepted",
        ),
        "Cards …",
    ),
]


def _cards(missing_signature: float, monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setattr(Index, "missing_signature", missing_signature)
    bot = Bot()
    for entry in CARDS:
        bot.upsert(entry)
    return bot


def test_missing_signature_word_counts_against_an_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # "virtual" is in every phrasing of entry 10: a query without it is about some other card.
    query = "my card is not working"
    plain = {m.entry_id: m.score for m in _cards(0.0, monkeypatch).search(query, "en", k=2)}
    penalized = {m.entry_id: m.score for m in _cards(0.06, monkeypatch).search(query, "en", k=2)}
    assert penalized[10] < plain[10]
    assert penalized[11] == pytest.approx(plain[11])  # its signature, "card", is there
    # A query that has the signature word (here as a prefix: "virtual" in "virtually") keeps
    # the full score.
    query = "virtually my card is not working"
    plain = {m.entry_id: m.score for m in _cards(0.0, monkeypatch).search(query, "en", k=2)}
    penalized = {m.entry_id: m.score for m in _cards(0.06, monkeypatch).search(query, "en", k=2)}
    assert penalized[10] == pytest.approx(plain[10])


def test_signatures_follow_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    bot = _cards(0.06, monkeypatch)
    bot.upsert(Entry(10, "en", "", ("physical card lost", "lost my physical card"), "Lost …"))
    assert bot.search("lost my physical card", "en", k=1)[0].entry_id == 10
    bot.remove(10)
    assert [m.entry_id for m in bot.search("virtual card not working", "en", k=2)] == [11]
    assert all(0.0 <= m.score <= 1.0 for m in bot.search("card", "en", k=2))
