"""Labels: the rules for a label's name and colour, and a conversation's labels as a fold of
its `label` events. Pure: the web layer validates with it, reports and the console fold with
the same meaning (the last event for a label wins).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

MAX_NAME = 40  # fits a chip in the console's rail and a column in a spreadsheet
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


class LabelError(ValueError):
    """A label field that breaks a rule; `field` names it for the admin's form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def clean_name(value: Any) -> str:
    """A label's name, trimmed and NFC-normalised: 1-40 characters, no control or invisible
    format characters. Two names that look the same would be two labels nobody can tell apart
    in the picker, a report's filter or a CSV: "é" typed as one character or as e + U+0301
    is one name, and a zero-width space is refused."""
    if not isinstance(value, str):
        raise LabelError("name", "must be text")
    name = unicodedata.normalize("NFC", value.strip())
    if not 1 <= len(name) <= MAX_NAME:
        raise LabelError("name", f"must be 1-{MAX_NAME} characters")
    for i, char in enumerate(name):
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            raise LabelError("name", f"contains an invisible or control character "
                                     f"(U+{ord(char):04X} at position {i})")
    return name


def name_key(name: str) -> str:
    """What two label names clash on: the name case-folded (Unicode's full folding: "Straße"
    and "STRASSE" clash), NFC again after folding. Folded here, not by the database's lower():
    SQLite's folds ASCII only and PostgreSQL's maps "İ" to "i", so the backends would
    disagree; the unique index is on this stored key instead."""
    return unicodedata.normalize("NFC", name.casefold())


def clean_colour(value: Any) -> str:
    """`#rrggbb`, lower-cased so one colour is stored one way."""
    if not isinstance(value, str) or not COLOUR.fullmatch(value):
        raise LabelError("colour", "must be a colour written #rrggbb, e.g. #1a73e8")
    return value.lower()


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of `#rrggbb`."""
    channels = []
    for i in (1, 3, 5):
        c = int(colour[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_colour(background: str) -> str:
    """Black or white, whichever has the higher WCAG contrast ratio on `background`."""
    lum = _luminance(background)
    on_black = (lum + 0.05) / 0.05
    on_white = 1.05 / (lum + 0.05)
    return "#000000" if on_black >= on_white else "#ffffff"


def fold(payloads: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """The labels on a conversation after its `label` events in seq order: id -> name as
    last set. Adding twice is one label; removing one that is not there changes nothing."""
    on: dict[int, str] = {}
    for p in payloads:
        label_id = p.get("label_id")
        if not isinstance(label_id, int):
            continue
        if p.get("on"):
            on[label_id] = str(p.get("name", ""))
        else:
            on.pop(label_id, None)
    return on
