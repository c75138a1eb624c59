"""Frustration, insults and repeated questions: recognised in four languages and spellings,
never in the default knowledge base's own phrasings, and answered with an offer of a person."""

from __future__ import annotations

import pytest

from bot import Bot, Entry
from bot.frustration import frustration, repeats
from knowledge_base.defaults import load_default_entries

FRUSTRATED = [
    "this is useless", "you didn't answer my question", "That's not what I asked",
    "I already asked that", "thanks for nothing", "i asked about my refund not shipping",
    "none of these", "😡",
    "این به درد نمیخوره", "این به درد نمی‌خوره", "این به درد نمی خوره",  # ZWNJ, joined, spaced
    "اين به درد نميخوره",  # Arabic-keyboard letters
    "جواب سوالمو ندادی", "نمی‌فهمی چی میگم", "خیلی مسخرس", "اینا ربطی به سوالم نداره",
    "هذا ما يفيد", "هذا ما يُفيد", "ما في اي فايدة منك", "انت مش فاهم", "هذا كلام فاضي",
    "没用", "沒用", "答非所问", "你根本不懂", "一点帮助都没有", "我已经说过了",
    "in chera javab nemide", "mafi fayde",
]
INSULTS = ["stupid bot", "you are an idiot", "fuck this", "ربات احمق", "خفه شو", "يا غبي",
           "ايش هالخدمة الزفت", "垃圾客服", "傻逼"]


@pytest.mark.parametrize("text", FRUSTRATED)
def test_frustration_is_recognised(text: str) -> None:
    assert frustration(text) == "frustrated"


@pytest.mark.parametrize("text", INSULTS)
def test_insults_are_recognised(text: str) -> None:
    assert frustration(text) == "insult"


@pytest.mark.parametrize("text", [
    "my discount code doesn't work", "the item arrived broken", "My payment failed",
    "the charger doesn't charge", "خرید من کجاست", "کد تخفیفم کار نمیکنه", "垃圾邮件里也没有",
    "when do shoes come on sale", "the package is damaged 😡 what now, i need a refund asap",
])
def test_complaints_about_products_are_questions(text: str) -> None:
    assert frustration(text) is None


def test_no_default_knowledge_base_phrasing_reads_as_frustration() -> None:
    found = [(e.language, q) for e in load_default_entries() for q in e.questions
             if frustration(q)]
    assert found == []


def test_a_question_asked_again_is_a_repeat_and_another_question_is_not() -> None:
    assert repeats("where is my order", ["hi", "Where is my order??"])
    assert repeats("wheres my order", ["where is my order"])
    assert repeats("سفارش من کجاست", ["سفارشم کجاست"])
    assert repeats("我的订单在哪", ["我的订单在哪里"])
    assert not repeats("where is my refund", ["where is my order"])
    assert not repeats("how do i return a gift card", ["how do i return an item"])
    assert not repeats("ok", ["ok"])  # too short to be a question
    assert not repeats("where is my order", [])


def _bot() -> Bot:
    bot = Bot()
    bot.upsert(Entry(1, "en", "Track your order", ("where is my order", "track my parcel"),
                     "Under My account.", skill="orders"))
    bot.upsert(Entry(2, "en", "Refunds", ("when will i get my refund",), "In 5 days."))
    return bot


def test_the_bot_offers_a_person_to_the_frustrated_the_insulting_and_the_repeating() -> None:
    bot = _bot()
    d = bot.decide("this is useless", "en")
    assert (d.action, d.reason) == ("offer_human", "frustrated")
    assert bot.decide("stupid bot", "en").reason == "insult"
    d = bot.decide("where is my order", "en", previous=["where is my order?"])
    assert (d.action, d.reason) == ("offer_human", "repeated")
    assert d.matches and d.matches[0].entry_id == 1  # the agent still sees the topic
    assert bot.decide("where is my order", "en", previous=["when will i get my refund"]
                      ).action in ("answer", "suggest")


def test_an_explicit_request_still_hands_off_even_when_frustrated() -> None:
    d = _bot().decide("this is useless, let me talk to a human", "en")
    assert (d.action, d.reason) == ("handoff", "asked_for_human")
