"""A staff user's own settings: the language of the pages and which alerts reach them.

Stored on the user's row (`users.language`, `users.preferences` as JSON) and changed only by
that user on /account. Pure: parsing what is stored and checking what a request asks for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Alerts for offers and for new lines in held chats: a beep, a desktop notification, and the
# count of unread lines in the tab's title. All on until the user switches one off.
ALERTS = ("sound", "desktop", "title")
LANGUAGES = ("en", "fa", "ar", "zh")


class PreferenceError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def alerts(stored: str) -> dict[str, bool]:
    """The stored switches, each missing or unreadable one on."""
    try:
        raw = json.loads(stored or "{}")
    except ValueError:
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    return {name: raw.get(name) is not False for name in ALERTS}


def changes(body: Mapping[str, Any], stored: str) -> tuple[str | None, str]:
    """(the new language or None to keep it, the preferences JSON to store) from a request.

    `language` is "" (follow the browser) or one of LANGUAGES; `alerts` maps some of ALERTS to
    booleans. Anything else is refused with the field named."""
    unknown = set(body) - {"language", "alerts"}
    if unknown:
        raise PreferenceError(sorted(unknown)[0], "is not a preference")
    language = body.get("language")
    if language is not None and language not in ("", *LANGUAGES):
        raise PreferenceError("language", "must be one of en, fa, ar, zh or empty")
    current = alerts(stored)
    asked = body.get("alerts", {})
    if not isinstance(asked, dict):
        raise PreferenceError("alerts", "must be an object of switches")
    for name, on in asked.items():
        if name not in ALERTS:
            raise PreferenceError(f"alerts.{name}", "is not an alert")
        if not isinstance(on, bool):
            raise PreferenceError(f"alerts.{name}", "must be true or false")
        current[name] = on
    return language, json.dumps(current, sort_keys=True)
