"""Redaction: real-looking card numbers are masked, order and tracking numbers survive."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatserver.config import PrivacyConfig
from chatserver.privacy.redaction import (
    EMAIL_MASK,
    MASK,
    PHONE_MASK,
    RedactingFilter,
    Redactor,
    install_log_redaction,
    is_card_number,
    luhn_valid,
    mask_cards,
)

# The networks' published test numbers, written the ways people type them.
CARDS = [
    ("4111 1111 1111 1111", "1111"),  # Visa
    ("4012-8888-8888-1881", "1881"),  # Visa, dashes
    ("5555555555554444", "4444"),  # Mastercard, no separators
    ("2223 0000 4841 0010", "0010"),  # Mastercard 2-series
    ("3782 822463 10005", "0005"),  # Amex, 4-6-5
    ("6011 1111 1111 1117", "1117"),  # Discover
    ("3530 1113 3330 0000", "0000"),  # JCB
    ("3056 9309 0259 04", "5904"),  # Diners, 14 digits
    ("6200 0000 0000 0005", "0005"),  # UnionPay
    ("6759 6498 2643 8453", "8453"),  # Maestro
]

SURVIVORS = [
    "order 123456789012",  # 12 digits: shorter than any card
    "order #100023456789",  # 12 digits again, with a hash
    "tracking 1Z999AA10123456784",  # UPS: letters inside
    "4111 1111 1111 1112",  # a card's shape, failing the Luhn check
    "9000 0000 0000 0001",  # Luhn-valid, but no network starts with 9
    "1000000000000008",  # Luhn-valid, starts with 1
    "ISBN 978-3-16-148410-0",
    "call me at 2024-05-01 14:30",
    "invoice 98765432109876",  # 14 digits, Luhn-valid, starts with 9
]


@pytest.mark.parametrize(("card", "last4"), CARDS)
def test_real_looking_cards_are_masked_keeping_the_last_four(card: str, last4: str) -> None:
    masked = mask_cards(f"my card is {card}, thanks")
    digits = "".join(ch for ch in card if ch.isdigit())
    assert digits not in "".join(ch for ch in masked if ch.isdigit())
    assert masked.startswith("my card is ") and masked.endswith(", thanks")
    shown = "".join(ch for ch in masked if ch.isdigit())
    assert shown == last4
    assert masked.count(MASK) == len(digits) - 4
    # The shape (separators) is kept, so the agent sees a card was given.
    assert len(masked) == len(f"my card is {card}, thanks")


@pytest.mark.parametrize("text", SURVIVORS)
def test_order_and_tracking_numbers_survive(text: str) -> None:
    assert mask_cards(text) == text
    assert Redactor(cards=True)(text) == text


def test_the_issue_example_masks_the_card_and_keeps_the_order_number() -> None:
    text = "my card 4111 1111 1111 1111 and order 123456789012"
    assert Redactor()(text) == "my card •••• •••• •••• 1111 and order 123456789012"


def test_a_card_right_after_another_number_is_still_found() -> None:
    masked = mask_cards("ref 1234 5678 4111 1111 1111 1111")
    assert "4111 1111 1111 1111" not in masked and masked.endswith("1111")
    assert masked.startswith("ref 1234 5678 ")


def test_cards_typed_in_persian_or_arabic_digits_are_masked() -> None:
    persian = "".join("۰۱۲۳۴۵۶۷۸۹"[int(d)] for d in "6037991234567893")
    masked = mask_cards(f"شماره کارت {persian}")
    assert persian not in masked and masked.endswith(persian[-4:])
    arabic = "".join("٠١٢٣٤٥٦٧٨٩"[int(d)] for d in "4111111111111111")
    assert arabic not in mask_cards(arabic)


def test_cards_inside_chinese_text_with_no_spaces_are_masked() -> None:
    masked = mask_cards("我的卡号是4111111111111111谢谢")
    assert masked == "我的卡号是••••••••••••1111谢谢"


def test_emails_and_phones_are_masked_only_when_asked() -> None:
    text = "mail zed.quimby@example.org or call +44 20 7946 0958 / (555) 123-4567"
    assert Redactor()(text) == text
    both = Redactor(cards=True, emails=True, phones=True)(text)
    assert both == f"mail {EMAIL_MASK} or call {PHONE_MASK} / {PHONE_MASK}"


def test_phone_masking_spares_dates_bare_order_numbers_and_masked_cards() -> None:
    r = Redactor(cards=True, phones=True)
    for text in ("on 2024-05-01", "order 123456789012", "due 01.02.2025"):
        assert r(text) == text
    assert r("card 4111 1111 1111 1111") == "card •••• •••• •••• 1111"


def test_redactor_from_config() -> None:
    r = Redactor.from_config(PrivacyConfig(redact_cards=False, redact_emails=True))
    assert r == Redactor(cards=False, emails=True, phones=False)
    assert r("4111 1111 1111 1111 a@b.io") == f"4111 1111 1111 1111 {EMAIL_MASK}"
    assert not Redactor(False, False, False).enabled


def test_the_log_filter_masks_messages_and_their_arguments() -> None:
    record = logging.LogRecord("chat", logging.INFO, __file__, 1, "visitor said %s (%d)",
                               ("card 4111111111111111", 7), None)
    assert RedactingFilter(Redactor()).filter(record)
    assert record.getMessage() == "visitor said card ••••••••••••1111 (7)"


def test_install_log_redaction_reaches_records_from_child_loggers(
        caplog: pytest.LogCaptureFixture) -> None:
    parent = logging.getLogger("redaction-test")
    parent.addHandler(caplog.handler)
    try:
        install_log_redaction(Redactor(), parent)
        install_log_redaction(Redactor(), parent)  # twice: still one filter
        assert sum(isinstance(f, RedactingFilter) for f in caplog.handler.filters) == 1
        with caplog.at_level(logging.INFO, logger="redaction-test"):
            logging.getLogger("redaction-test.child").info("pay with %s", "5555555555554444")
        assert caplog.messages[-1] == "pay with ••••••••••••4444"
    finally:
        parent.removeHandler(caplog.handler)
        caplog.handler.filters.clear()


def _luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@given(st.text(alphabet="abc ,.", max_size=20),
       st.sampled_from("23456"),
       st.text(alphabet="0123456789", min_size=11, max_size=17),
       st.sampled_from(["", " ", "-"]),
       st.text(alphabet="xyz ,.", max_size=20))
def test_any_valid_card_in_any_text_is_masked(before: str, first: str, body: str, sep: str,
                                              after: str) -> None:
    number = _luhn_complete(first + body)
    typed = sep.join(number[i:i + 4] for i in range(0, len(number), 4))
    masked = mask_cards(f"{before} {typed} {after}")
    assert number not in "".join(ch for ch in masked if ch.isdigit())
    assert is_card_number(number)
    assert mask_cards(masked) == masked  # idempotent: masking twice changes nothing


@given(st.text(max_size=200))
def test_text_without_long_digit_runs_is_unchanged(text: str) -> None:
    if sum(ch.isdigit() for ch in text) < 13:
        assert mask_cards(text) == text
