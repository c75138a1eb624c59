"""Small talk: what counts as it in four languages, what is stripped before matching, and the
engine answering it from knowledge-base entries (never from code, never by queueing)."""

from __future__ import annotations

import pytest

from bot import Bot, Entry
from bot.smalltalk import KINDS, Detector, fill_name, kind_of

SMALL_TALK = [
    ("hi", "greeting"), ("Hello there!", "greeting"), ("how are you?", "greeting"),
    ("Thanks!!", "thanks"), ("thank you so much 🙏", "thanks"), ("ok thanks", "thanks"),
    ("bye", "goodbye"), ("thanks, bye", "goodbye"), ("are you a bot?", "bot_question"),
    ("Am I talking to a real person?", "bot_question"), ("ok", "ack"), ("👍", "ack"),
    ("haha", "laughter"), ("hahahaha lol", "laughter"), ("😂", "laughter"), ("sorry", "apology"),
    ("سلام", "greeting"), ("سلام وقت بخیر", "greeting"), ("مرسی", "thanks"),
    ("خیلی ممنون", "thanks"), ("خداحافظ", "goodbye"), ("ربات هستی؟", "bot_question"),
    ("تو هوش مصنوعی هستی", "bot_question"), ("باشه", "ack"), ("خخخخ", "laughter"),
    ("ببخشید", "apology"), ("عذر می‌خوام", "apology"), ("عذر میخوام", "apology"),
    ("عذر می خوام", "apology"),  # ZWNJ, joined, spaced: one phrase
    ("مرحبا", "greeting"), ("السَّلامُ عَلَيْكُم", "greeting"), ("شكرا جزيلا", "thanks"),
    ("مع السلامة", "goodbye"), ("هل أنت روبوت؟", "bot_question"), ("تمام", "ack"),
    ("ههههه", "laughter"), ("آسف", "apology"), ("اسف", "apology"),
    ("你好", "greeting"), ("在吗？", "greeting"), ("謝謝", "thanks"), ("再见", "goodbye"),
    ("你是机器人吗？", "bot_question"), ("你是真人吗", "bot_question"), ("好的", "ack"),
    ("哈哈哈", "laughter"), ("不好意思", "apology"),
    ("salam", "greeting"), ("merci", "thanks"), ("shukran", "thanks"),
]


@pytest.mark.parametrize(("text", "kind"), SMALL_TALK)
def test_small_talk_is_recognised(text: str, kind: str) -> None:
    assert Detector().read(text).kind == kind


@pytest.mark.parametrize(("text", "rest"), [
    ("hi, where is my order?", "where is my order"),
    ("Hello! how do I return an item? thanks a lot", "how do i return an item"),
    ("سلام، سفارشم کجاس؟", "سفارشم کجاس"),
    ("سلام وقت بخیر سفارشم کجاست", "سفارشم کجاست"),
    ("مرحبا، أين طلبي؟", "این طلبی"),
    ("您好，我的订单在哪？", "我的订单在哪"),
    ("我的订单在哪谢谢", "我的订单在哪"),
    # An apology glued to Chinese words is the sentence's predicate ("the size was sent wrong").
    ("尺码发错了", "尺码发错了"),
    ("不好意思，尺码错了", "尺码错了"),
])
def test_a_greeting_around_a_question_is_stripped_and_the_question_kept(
        text: str, rest: str) -> None:
    reading = Detector().read(text)
    assert reading.kind is None
    assert reading.rest == rest


@pytest.mark.parametrize("text", [
    "好像不对", "hiking boots", "no refund yet", "okay so how long does delivery take",
    "Is it ok to return a worn item?", "thanks to your app my card was charged twice",
    "?", "خرید من کجاست",
])
def test_questions_are_not_small_talk(text: str) -> None:
    assert Detector().read(text).kind is None


def test_the_language_of_the_words_is_read_when_only_one_language_has_them() -> None:
    detector = Detector()
    assert detector.read("مرسی").language == "fa"
    assert detector.read("شكرا").language == "ar"
    assert detector.read("谢谢").language == "zh"
    assert detector.read("سلام").language == ""  # Persian and Arabic both say it


def test_entry_phrasings_teach_the_detector_and_dropping_them_forgets() -> None:
    detector = Detector()
    assert detector.read("howdy partner").kind is None
    detector.set_entry(7, "greeting", "en", ["howdy partner", "🌞"])
    assert detector.read("Howdy partner!").kind == "greeting"
    assert detector.read("🌞").kind == "greeting"
    detector.drop_entry(7)
    assert detector.read("howdy partner").kind is None


def test_fill_name_is_plain_text_and_the_slot_goes_when_the_name_is_unknown() -> None:
    assert fill_name("Hi {name}! How can I help?", "Sara") == "Hi Sara! How can I help?"
    assert fill_name("Hi {name}! How can I help?", "") == "Hi! How can I help?"
    assert fill_name("You're welcome, {name}!", "") == "You're welcome!"
    assert fill_name("سلام {name}! چطور", "") == "سلام! چطور"
    assert fill_name("您好{name}！", "") == "您好！"
    hostile = fill_name("Hi {name}!", "**Bob** [x](https://evil.example) <b>")
    assert "[" not in hostile and "(" not in hostile and "*" not in hostile and "<" not in hostile
    assert hostile.startswith("Hi Bob x")


def test_kind_of_reads_only_known_kinds() -> None:
    assert kind_of(("returns", "smalltalk:thanks")) == "thanks"
    assert kind_of(("smalltalk:weather",)) is None
    assert set(KINDS) == {"greeting", "thanks", "goodbye", "bot_question", "ack", "laughter",
                          "apology"}


def _bot() -> Bot:
    bot = Bot()
    bot.upsert(Entry(1, "en", "Track your order", ("where is my order", "track my parcel"),
                     "Under My account.", skill="orders"))
    bot.upsert(Entry(2, "en", "Opening hours", ("when are you open", "how are your hours"),
                     "9 to 5.", skill="general"))
    bot.upsert(Entry(10, "en", "Small talk: greeting", ("hi", "hello"),
                     "Hi {name}! Ask me about orders.", tags=("smalltalk:greeting",)))
    bot.upsert(Entry(11, "en", "Small talk: thanks", ("thanks",), "You're welcome, {name}!",
                     tags=("smalltalk:thanks",)))
    bot.upsert(Entry(12, "fa", "سلام", ("سلام",), "سلام {name}!", tags=("smalltalk:greeting",)))
    return bot


def test_the_bot_answers_small_talk_in_kind_by_name_and_never_queues() -> None:
    bot = _bot()
    d = bot.decide("Hello!", "en", name="Sara")
    assert (d.action, d.reason, d.intent) == ("smalltalk", "smalltalk", "greeting")
    assert d.answer == "Hi Sara! Ask me about orders."
    assert d.matches == () and d.entry_id is None
    assert bot.decide("hi", "en", failed_rounds=5).action == "smalltalk"  # not a failure
    assert bot.decide("thanks", "en").answer == "You're welcome!"
    # Said in Persian on an English page: the Persian reply.
    assert bot.decide("درود", "en", name="Sara").answer == "سلام Sara!"


def test_small_talk_entries_are_never_offered_for_questions() -> None:
    bot = _bot()
    for text in ("how are your opening hours", "hi hello", "thanks for the tracking link"):
        assert all(m.entry_id < 10 for m in bot.search(text, "en", k=10))
    d = bot.decide("hi, where is my order", "en")
    assert d.action in ("answer", "suggest") and d.matches[0].entry_id == 1


def test_without_a_reply_entry_small_talk_goes_to_matching_as_before() -> None:
    bot = _bot()
    d = bot.decide("bye", "en")  # no goodbye entry in this knowledge base
    assert d.action != "smalltalk"


def test_retagging_an_entry_moves_it_between_replies_and_questions() -> None:
    bot = _bot()
    bot.upsert(Entry(2, "en", "Opening hours", ("when are you open",), "9 to 5.",
                     tags=("smalltalk:ack",)))
    assert all(m.entry_id != 2 for m in bot.search("when are you open", "en"))
    assert bot.decide("ok", "en").answer == "9 to 5."
    bot.upsert(Entry(2, "en", "Opening hours", ("when are you open",), "9 to 5."))
    assert bot.search("when are you open", "en")[0].entry_id == 2
    assert bot.decide("ok", "en").action != "smalltalk"
    bot.remove(10)
    assert bot.decide("hi", "en").action != "smalltalk"
