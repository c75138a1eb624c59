"""Normalization: the spellings visitors really type must meet the entries' spelling."""

from __future__ import annotations

import pytest

from bot.hanzi import mainland, simplified
from bot.normalize import char_ngrams, normalize, words


def test_persian_typed_with_arabic_yeh_and_kaf_equals_persian_letters() -> None:
    arabic_keyboard = "كارت بانكي من كي مي‌رسد"  # ك and ي from an Arabic layout
    persian = "کارت بانکی من کی می‌رسد"
    assert normalize(arabic_keyboard) == normalize(persian)
    assert "ي" not in normalize(arabic_keyboard)


@pytest.mark.parametrize("spelling", ["می‌خواهم", "میخواهم", "می خواهم"])
def test_zwnj_joined_and_spaced_persian_tokenize_alike(spelling: str) -> None:
    assert words(spelling) == ("می", "خواهم")


def test_persian_plural_suffix_with_and_without_zwnj() -> None:
    assert words("کتاب‌ها") == words("کتابها") == words("کتاب ها")


def test_arabic_diacritics_tatweel_and_alef_variants_are_folded() -> None:
    assert normalize("أُرِيدُ بِطَاقَةً جَدِيدَةً") == normalize("اريد بطاقه جديده")
    assert normalize("مـــرحبا") == normalize("مرحبا")
    assert normalize("إلى") == normalize("الی")


def test_digits_of_every_script_become_ascii() -> None:
    assert normalize("١٢٣ ۴۵۶ ７８９ ०१") == "123 456 789 01"


def test_punctuation_of_every_script_becomes_space() -> None:
    assert normalize("سلام، خوبی؟") == "سلام خوبی"
    assert normalize("你好！请问。") == "你好 请问"
    assert normalize("Hello,world!!") == "hello world"


def test_case_accents_width_and_apostrophes() -> None:
    assert normalize("CAFÉ Ｃａｒｄ don't") == "cafe card dont"


def test_traditional_chinese_folds_to_simplified() -> None:
    assert normalize("請問我的訂單什麼時候發貨") == "请问我的订单什么时候发货"
    assert normalize("鬧鐘") == "闹钟"


def test_characters_the_old_hand_written_table_lacked_fold_too() -> None:
    # 襪, 錶, 廚, 擺, 飾 were not among the 758 characters of the table OpenCC replaced.
    assert normalize("襪子 錶帶 廚具 擺飾") == "袜子 表带 厨具 摆饰"


def test_simplified_text_is_left_as_it_is() -> None:
    from knowledge_base.defaults import load_default_entries

    texts = [t for e in load_default_entries(["zh"]) for t in (e.title, *e.questions, e.answer)]
    assert all(simplified(t) == t for t in texts)
    assert simplified("order 4711 نه") == "order 4711 نه"  # no Han character: not converted


def test_zhang_is_written_as_shops_write_it() -> None:
    # OpenCC writes 帳 as 帐; the knowledge base (and the table before it) writes 账.
    assert normalize("帳號 帐号 账号") == "账号 账号 账号"


def test_taiwan_words_become_the_mainland_ones_only_for_chinese_matching() -> None:
    assert mainland("設定鬧鐘，新增這首歌，軟體登入") == "设置闹钟，添加这首歌，软件登录"
    # normalize (which staff search indexes with) changes characters, never words.
    assert normalize("設定鬧鐘") == "设定闹钟"


def test_unspaced_scripts_give_character_unigrams_and_bigrams() -> None:
    assert words("取消闹钟") == ("取", "消", "闹", "钟", "取消", "消闹", "闹钟")
    mixed = words("设置闹钟 7am")
    assert "闹钟" in mixed and "7am" in mixed


def test_char_ngrams_span_words_and_pass_unspaced_tokens_through() -> None:
    grams = char_ngrams(("card", "fee"))
    assert " c" in grams and "ard " in grams and "d f" in grams and "fee " in grams
    assert max(len(g) for g in grams) == 4
    assert char_ngrams(("闹", "钟", "闹钟", "7am")) == [
        "闹",
        "钟",
        "闹钟",
        " 7",
        "7a",
        "am",
        "m ",
        " 7a",
        "7am",
        "am ",
        " 7am",
        "7am ",
    ]


def test_arabic_definite_article_is_dropped_from_longer_words() -> None:
    assert words("البطاقة والحساب") == words("بطاقة حساب")
    assert words("الان") == ("الان",)  # too short to hold an article
