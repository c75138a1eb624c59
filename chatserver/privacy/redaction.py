"""Masking card numbers (and, when asked, emails and phone numbers) in free text.

Visitors paste card numbers into chats; a stored card number puts every copy of the database
(backups included) in PCI DSS scope, and a logged one does the same to the log archive. Cards are
masked by default; emails and phone numbers only when the operator turns it on, because agents
often need them to help. Pure: plain strings in, plain strings out.

A card is 13-19 digits (single spaces or dashes allowed between them) that passes the Luhn check
and starts with 2-6 (the major networks' ranges: Mir 2, Amex/Diners/JCB 3, Visa 4, Mastercard and
Maestro 5, Discover/UnionPay/Shetab 6). Random digit strings pass both tests about 1 time in 20,
and order numbers under 13 digits never match, so order and tracking numbers survive.
Digits of any script count (a Persian visitor may type ۶۰۳۷...), as Python's `\\d` does.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatserver.core.api_tokens import PREFIX
from chatserver.core.api_tokens import mask as mask_api_token

if TYPE_CHECKING:
    from chatserver.config import PrivacyConfig

MASK = "•"  # not "*": agents' text may be read as Markdown, where "****" is emphasis
KEEP_LAST = 4  # PCI DSS allows showing the last four; agents use them ("the card ending 1111")
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

# Digit runs with single space/dash separators and no digit on either side. Each repetition is
# one optional separator then one digit, so matching stays linear on any input.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}(?!\d)")
_GROUP_SPLIT = re.compile(r"[ -]")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone: an international prefix (+ or 00), or at least one separator between digit groups.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{5,}\d(?![\w])")
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number carries in its last digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)  # int() reads any script's decimal digit
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """13-19 digits, a major network's first digit (2-6), and a valid Luhn check digit."""
    return 13 <= len(digits) <= 19 and int(digits[0]) in range(2, 7) and luhn_valid(digits)


def _mask_digits(text: str) -> str:
    """Every digit but the last four becomes MASK; separators stay, so the shape is kept."""
    total = sum(ch.isdigit() for ch in text)
    seen, out = 0, []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - KEEP_LAST else MASK)
        else:
            out.append(ch)
    return "".join(out)


def _mask_run(run: str) -> str:
    """Mask every card inside one digit run. A run can hold a card beside other numbers
    ("1234 5678 4111 1111 1111 1111": an order number, then a card), so each window of
    consecutive digit groups of 13-19 digits is tried, and the union of the windows that are
    cards is masked: when a chance window overlaps the real card, more is hidden, never less."""
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    regions: list[list[int]] = []  # [start, end) character ranges to mask, merged as found
    for i, (start, _) in enumerate(groups):
        count = 0
        for j in range(i, len(groups)):
            count += groups[j][1] - groups[j][0]
            if count > 19:  # the longest card number: past it no window can be one
                break
            end = groups[j][1]
            if count >= 13 and is_card_number("".join(
                    ch for ch in run[start:end] if ch.isdigit())):
                if regions and start <= regions[-1][1]:
                    regions[-1][1] = max(regions[-1][1], end)
                else:
                    regions.append([start, end])
    out, last = [], 0
    for start, end in regions:
        out += [run[last:start], _mask_digits(run[start:end])]
        last = end
    out.append(run[last:])
    return "".join(out)


def mask_cards(text: str) -> str:
    return _DIGIT_RUN.sub(lambda m: _mask_run(m.group()), text)


def mask_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL_MASK, text)


def _phone(match: re.Match[str]) -> str:
    candidate = match.group()
    digits = sum(ch.isdigit() for ch in candidate)
    international = candidate.startswith(("+", "00"))
    separated = any(ch in " ().-" for ch in candidate)
    # 7 digits: the shortest local number; 15: E.164's maximum. A date is not a phone.
    if not 7 <= digits <= 15 or _DATE_LIKE.fullmatch(candidate.strip()):
        return candidate
    if international or separated:
        return PHONE_MASK
    return candidate  # a bare digit run is more often an order or tracking number


def mask_phones(text: str) -> str:
    return _PHONE.sub(_phone, text)


@dataclass(frozen=True)
class Redactor:
    """Applies the masks the configuration turned on; `redactor(text)` is the whole API."""

    cards: bool = True
    emails: bool = False
    phones: bool = False

    @classmethod
    def from_config(cls, privacy: PrivacyConfig) -> Redactor:
        return cls(cards=privacy.redact_cards, emails=privacy.redact_emails,
                   phones=privacy.redact_phones)

    @property
    def enabled(self) -> bool:
        return self.cards or self.emails or self.phones

    def __call__(self, text: str) -> str:
        # Cards first: the phone pattern would otherwise take a spaced card for a phone number.
        if self.cards:
            text = mask_cards(text)
        if self.emails:
            text = mask_emails(text)
        if self.phones:
            text = mask_phones(text)
        return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks each record's final message (arguments included), so a
    card number a visitor typed never reaches a log file or a log shipper."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # An API token, whatever the settings: a logged one is a leaked one (core/api_tokens).
        masked = mask_api_token(message) if PREFIX in message else message
        if self.redactor.enabled:
            masked = self.redactor(masked)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_redaction(redactor: Redactor, logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root by default). Handler filters, not
    logger filters: records from child loggers reach handlers without passing the root's."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))
