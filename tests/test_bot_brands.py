"""A question naming a product or company the knowledge base never mentions is not answered
outright: "how do i reset my iphone" gets suggestions, "how do i reset my password" an answer."""

from __future__ import annotations

import pytest

from bot import Bot, BotSettings, Entry
from bot.brands import BRANDS, FOREIGN_CONFIDENCE, mentioned, names_in


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("how do i reset my iphone", {"iphone"}),
        ("how do i change my router wifi password", {"router", "wifi"}),
        ("tried the Wi-Fi twice", {"wifi"}),
        ("my iPhones", {"iphone"}),  # plural
        ("نسيت باسورد الواي فاي", {"وایفای"}),  # article glued, a space inside the name
        ("دیجی‌کالا ارسال رایگان داره؟", {"دیجیکالا"}),  # with or without ZWNJ
        ("دیجیکالا ارسال رایگان داره؟", {"دیجیکالا"}),
        ("آیفونم خراب شد", {"ایفون"}),  # a possessive ending
        ("iphone怎么截图", {"iphone"}),  # Latin glued to Chinese
        ("我的路由器坏了", {"路由器"}),
        ("can i pay with klarna", set()),  # payment providers ask about the shop
        ("تقبلون ابل باي", set()),
        ("is there a warranty on the blender", set()),
        ("قابل للإرجاع", set()),  # letters of a name inside a word are not the name
    ],
)
def test_names_are_found_in_every_script_with_their_clitics(text: str, names: set[str]) -> None:
    assert names_in(text) == names


def test_every_listed_name_is_found_on_its_own() -> None:
    for name in BRANDS:
        assert names_in(name) == {name}, name


def _bot(answer: str = "Use the reset link we email you.") -> Bot:
    bot = Bot(BotSettings())
    bot.upsert(Entry(1, "en", "Reset your password",
                     ("how do i reset my password", "forgot my password", "reset password"),
                     answer))
    bot.upsert(Entry(2, "en", "Track your order", ("where is my order", "track my parcel"), "…"))
    return bot


IPHONE = "how do i reset my iphone"


def test_a_name_the_knowledge_base_never_mentions_lowers_confidence_to_suggestions() -> None:
    named = _bot().decide(IPHONE, "en")
    assert named.action == "suggest"
    assert named.matches[0].entry_id == 1  # still offered first
    # Answers are not matched, so an answer that mentions the name changes nothing but that.
    mine = _bot(answer="On an iPhone, open Settings and tap Reset password.").decide(IPHONE, "en")
    assert mine.action == "answer"
    assert named.confidence == pytest.approx(mine.confidence * FOREIGN_CONFIDENCE, abs=1e-3)


def test_what_the_knowledge_base_mentions_follows_its_edits() -> None:
    bot = _bot(answer="On an iPhone, open Settings and tap Reset password.")
    assert bot.decide(IPHONE, "en").action == "answer"
    bot.upsert(Entry(1, "en", "Reset your password",
                     ("how do i reset my password", "forgot my password", "reset password"),
                     "Use the reset link we email you."))  # the mention edited away
    assert bot.decide(IPHONE, "en").action == "suggest"
    bot.upsert(Entry(3, "en", "Phones", ("which phones do you sell",), "iPhone and Pixel."))
    assert bot.decide(IPHONE, "en").action == "answer"
    bot.remove(3)
    assert bot.decide(IPHONE, "en").action == "suggest"


def test_mentions_come_from_every_text_of_an_entry() -> None:
    assert mentioned(("Phones", "do you sell them", "We sell Samsung and iPhone models")) == {
        "samsung", "iphone"}
