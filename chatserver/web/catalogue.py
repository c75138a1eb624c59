"""The staff pages' words in English, Persian, Arabic and Chinese.

One catalogue per language, kept as several files (`i18n/<lang>/<area>.json`, one area per part
of the product) so that people translating the console and the reports never edit the same file.
Each file maps the English source text (the msgid, what the code says) to the translation; the
English files map each msgid to itself, so that every language has the same keys and a test can
say which one is missing (tests/test_staff_catalogue.py).

Templates call `_("English text", name=value)`; the page's JavaScript gets the language's
messages in a JSON data block and calls `t("English text", {name: value})` (static/common.js).
A msgid the catalogue lacks falls back to its English text: a missing word is a defect the
test catches, never a broken page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from chatserver.core.msgids import N_ as N_  # web modules mark page titles and refusals
from chatserver.core.staff_preferences import LANGUAGES

RIGHT_TO_LEFT = frozenset({"fa", "ar"})
DEFAULT = "en"
# Each language's name in itself: what the language picker shows, whatever the page language.
NATIVE_NAMES = {"en": "English", "fa": "فارسی", "ar": "العربية", "zh": "中文"}
CATALOGUE_DIR = Path(__file__).resolve().parent / "i18n"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def messages(language: str) -> Mapping[str, str]:
    """Every msgid → text of one language, all areas merged (read once per process)."""
    merged: dict[str, str] = {}
    for path in sorted((CATALOGUE_DIR / language).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def translate(language: str, msgid: str, values: Mapping[str, object] | None = None) -> str:
    """`msgid` in `language`, its `{name}` placeholders filled from `values` (others kept)."""
    text = messages(language).get(msgid, msgid) if language != DEFAULT else msgid
    if not values:
        return text
    return _PLACEHOLDER.sub(
        lambda m: str(values[m[1]]) if m[1] in values else m[0], text)


def negotiate(accept_language: str) -> str:
    """The first supported language of an Accept-Language header by its q-values, else English.

    "fa-IR,fa;q=0.9,en;q=0.5" → fa; "zh-TW" → zh (the pages are in simplified Chinese, which
    a Taiwan reader reads better than English); a malformed header → English."""
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        base = tag.strip().split("-")[0].lower()
        if base in LANGUAGES and quality > 0:
            ranked.append((-quality, order, base))
    return min(ranked)[2] if ranked else DEFAULT


def choose(preferred: str, accept_language: str) -> str:
    """The user's own choice if they made one, else what their browser asks for."""
    return preferred if preferred in LANGUAGES else negotiate(accept_language)


class Translator:
    """The `_` a template calls: `_("Hello, {name}", name=user)`; the result is autoescaped
    like any other value, placeholders and all."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.direction = "rtl" if language in RIGHT_TO_LEFT else "ltr"

    def __call__(self, msgid: str, **values: object) -> str:
        return translate(self.language, msgid, values)

    def script_messages(self) -> Mapping[str, str]:
        """What the page's JavaScript needs: nothing in English (t() falls back to the msgid)."""
        return {} if self.language == DEFAULT else messages(self.language)
