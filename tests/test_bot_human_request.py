"""Requests for a person fire in four languages; ordinary questions about people do not."""

from __future__ import annotations

import pytest

from bot.human_request import wants_human

REQUESTS = [
    ("en", "Can I talk to a person?"),
    ("en", "I want to speak with a human"),
    ("en", "connect me to an agent please"),
    ("en", "put me through to an operator"),
    ("en", "I need a representative"),
    ("en", "Agent"),
    ("en", "human please"),
    ("fa", "می‌خواهم با اپراتور صحبت کنم"),
    ("fa", "ميخوام با يه آدم واقعي حرف بزنم"),  # Arabic-keyboard letters
    ("fa", "لطفا به کارشناس وصلم کنید"),
    ("fa", "اپراتور"),
    ("ar", "أريد التحدث مع موظف"),
    ("ar", "أُرِيدُ التَّحَدُّثَ مَعَ مُوَظَّفٍ"),
    ("ar", "حولني إلى خدمة العملاء"),
    ("ar", "أبي أكلم شخص حقيقي"),
    ("zh", "转人工"),
    ("zh", "我要人工客服"),
    ("zh", "我想和真人聊天"),
    ("zh", "請幫我轉接人工客服"),  # traditional
    ("zh", "联系客服"),
]

ORDINARY = [
    ("en", "Can another person use my card?"),
    ("en", "How do I transfer money to someone?"),
    ("en", "What is the age limit for a person to open an account?"),
    ("en", "How many people can share an account"),
    ("fa", "آیا شخص دیگری میتواند از کارت من استفاده کند؟"),
    ("fa", "چطور پول به شخص دیگری انتقال بدهم"),
    ("ar", "هل يمكن لشخص آخر استخدام بطاقتي؟"),
    ("ar", "أريد الدفع المباشر"),
    ("zh", "人工智能是什么"),
    ("zh", "客服电话是多少"),
    ("zh", "今天会下雨吗"),
]


@pytest.mark.parametrize(("language", "text"), REQUESTS)
def test_request_for_a_person_is_recognised(language: str, text: str) -> None:
    assert wants_human(text, language)


@pytest.mark.parametrize(("language", "text"), ORDINARY)
def test_ordinary_question_is_not_a_request(language: str, text: str) -> None:
    assert not wants_human(text, language)


def test_request_is_recognised_whatever_the_stated_language() -> None:
    assert wants_human("talk to an agent", "fa")
