"""Dialect and regional words meet the standard forms a knowledge base is written in."""

from __future__ import annotations

import pytest

from bot import Bot, Entry
from bot.hanzi import mainland
from bot.lexicon import AR, FA, FA_VERBS, ZH, standardize
from bot.normalize import words


@pytest.mark.parametrize(
    ("colloquial", "written", "lang"),
    [
        ("میخوام", "می‌خواهم", "fa"),
        ("می‌خوام", "میخواهم", "fa"),  # the prefix joined, apart or with ZWNJ
        ("نمی تونم", "نمی‌توانم", "fa"),
        ("این به درد نمیخوره", "این به درد نمی‌خورد", "fa"),
        ("سفارشم کجاس", "سفارشم کجاست", "fa"),
        ("بگین", "بگویید", "fa"),
        ("رمزمو عوض کنم", "رمزم را عوض کنم", "fa"),
        ("عايز ألغي الطلب", "أريد ألغي الطلب", "ar"),  # Egyptian
        ("ابغى الغي الطلب", "أريد الغي الطلب", "ar"),  # Gulf
        ("بدي الغي الطلب", "أريد الغي الطلب", "ar"),  # Levantine
        ("وين طلبي", "أين طلبي", "ar"),
        ("الطلب لسه ما وصل", "الطلب بعد ما وصل", "ar"),
        ("شلون أغير العنوان", "كيف أغير العنوان", "ar"),
        ("كيفاش نبدل العنوان", "كيف نبدل العنوان", "ar"),  # Maghrebi
        ("ليش انرفضت البطاقة", "لماذا انرفضت البطاقة", "ar"),
        ("هلق", "الآن", "ar"),
        ("الطلب لسه موصلش", "الطلب بعد لا وصل", "ar"),  # negation circumfix ما...ش
        ("ماوصلتش الفلوس", "لا وصلت الأموال", "ar"),
        ("ولسه مرجعتوش", "و بعد لا رجعتو", "ar"),  # the conjunction on a dialect word
        ("ينفع ارجع حاجة", "يمكن ارجع شيء", "ar"),
        ("الكرتونة جت مضروبة", "الكرتونة وصلت تالف", "ar"),
        ("كيفاش نلغي الكوموند", "كيف نلغي الطلب", "ar"),  # Maghrebi, from French commande
        ("ما وصلت لهلق", "ما وصلت ل الآن", "ar"),  # a preposition on a dialect word
        ("保固期多久", "保修期多久", "zh"),
        ("禮物卡餘額", "礼品卡余额", "zh"),
        ("電子郵件", "邮件", "zh"),
        ("點樣登入帳號", "怎么登录账号", "zh"),
        ("網路", "网络", "zh"),
    ],
)
def test_dialect_words_take_the_standard_form(colloquial: str, written: str, lang: str) -> None:
    assert words(standardize(colloquial, lang)) == words(standardize(written, lang))


def test_a_country_name_is_kept_and_followed_by_the_word_country() -> None:
    for text in ("للمغرب", "المغرب", "بالمغرب", "مغرب"):
        assert words(standardize(text, "ar")) == ("مغرب", "دوله"), text
    assert words(standardize("لمصر", "ar")) == ("ل", "مصر", "دوله")


def test_english_shop_words_in_an_arabic_sentence_take_the_arabic_form() -> None:
    assert words(standardize("الgift card مش شغالة", "ar"))[:2] == ("بطاقه", "هدایا")
    assert words(standardize("الorder اتأخر", "ar"))[0] == "طلب"
    assert "cardigan" in standardize("الcardigan وصل", "ar")  # whole words only
    # An English message (on an Arabic page) stays English: it is matched as English.
    assert standardize("where is my order", "ar") == "where is my order"


def test_standard_words_are_left_alone() -> None:
    # إلى (to) folds like the misspelling الي: neither may become الذي; وجه is not و + جه;
    # لدي "I have" and بده "he wants" are not ل/ب + دي/ده (a preposition needs 3 letters after).
    for text in ("إلى", "الي", "وجه", "مشمش", "كيف", "بيانات", "لدي", "بده"):
        assert standardize(text, "ar") == standardize(text, "fa"), text


def test_tables_are_per_language() -> None:
    # Arabic بدي "I want" is Persian بدی "you give"; Gulf ابي "I want" is Persian آبی "blue".
    assert words(standardize("میشه پول رو بدی", "fa"))[-1] == "بدی"
    assert words(standardize("رنگ ابی", "fa"))[-1] == "ابی"
    assert standardize("where is my order", "en") == "where is my order"


def test_persian_verb_stems_change_only_after_the_prefix() -> None:
    assert words(standardize("ده تا", "fa")) == ("ده", "تا")  # "ten", not the verb "gives"
    assert words(standardize("یادم رفته", "fa")) == ("یادم", "رفته")
    assert words(standardize("میده", "fa")) == ("می", "دهد")


def test_tables_never_map_a_word_to_itself_or_rewrite_a_common_simplified_character() -> None:
    from bot.normalize import normalize

    for table in (FA, FA_VERBS, AR):
        for key, value in table.items():
            assert normalize(key) != normalize(value), key
    # Chinese meets the table after OpenCC's Taiwan-to-mainland conversion: a word it already
    # converts (登入, 網路) has no business in the table.
    for key, value in ZH.items():
        assert normalize(mainland(key)) != normalize(mainland(value)), key
    # 係 folds to 系 (联系, 系统): it must not be a key.
    assert all("系" not in normalize(key) for key in ZH)
    assert standardize("联系客服", "zh") == "联系客服"


def test_dialect_question_finds_the_entry_written_in_the_standard_language() -> None:
    bot = Bot()
    bot.upsert(Entry(1, "ar", "إلغاء الطلب", ("أريد إلغاء طلبي", "كيف ألغي الطلب"), "…"))
    bot.upsert(Entry(2, "ar", "تتبع الطلب", ("أين طلبي", "حالة الطلب"), "…"))
    bot.upsert(Entry(3, "fa", "لغو سفارش", ("می‌خواهم سفارشم را لغو کنم",), "…"))
    bot.upsert(Entry(4, "fa", "پیگیری", ("سفارشم کجاست",), "…"))
    bot.upsert(Entry(5, "zh", "保修", ("这个商品有保修吗", "保修期多长"), "…"))
    bot.upsert(Entry(6, "zh", "礼品卡", ("怎么查礼品卡余额",), "…"))
    assert bot.search("عايز الغي طلبي", "ar")[0].entry_id == 1
    assert bot.search("وين طلبي", "ar")[0].entry_id == 2
    assert bot.search("میخوام سفارشمو لغو کنم", "fa")[0].entry_id == 3
    assert bot.search("سفارشم کجاس", "fa")[0].entry_id == 4
    assert bot.search("保固期多久", "zh")[0].entry_id == 5
    assert bot.search("禮物卡餘額怎麼查", "zh")[0].entry_id == 6


def test_a_country_the_entries_never_name_finds_the_entry_that_names_others() -> None:
    bot = Bot()
    bot.upsert(Entry(1, "ar", "الشحن الدولي", ("هل تشحنون إلى فرنسا", "الشحن إلى النمسا"), "…"))
    bot.upsert(Entry(2, "ar", "مدة التوصيل", ("كم يستغرق التوصيل", "متى يصل طلبي"), "…"))
    bot.upsert(Entry(3, "ar", "تتبع الطلب", ("أين طلبي", "حالة الطلب"), "…"))
    assert bot.search("بتوصلوا لمصر؟", "ar")[0].entry_id == 1
    assert bot.search("واش كتوصلو للمغرب", "ar")[0].entry_id == 1
