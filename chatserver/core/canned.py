"""A canned response: a shortcut, a title and its text in one or more languages, with
placeholders the console fills for the chat at hand.

`validate()` builds a `Canned` from untrusted data (a JSON body, the seed) and names the field
at fault, and for a placeholder the placeholder, in every `CannedError`. The console fills the
text (console_draft.js `fill`): `{visitor.name}` and the rest, `{{` and `}}` for a brace.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from knowledge_base.model import LANGUAGE_PATTERN

from .msgids import N_

# What a desk's replies name, and what each is filled with (docs/console.md lists them).
PLACEHOLDERS: dict[str, str] = {
    "visitor.name": "the visitor's name; an empty one reads as the language's fallback",
    "visitor.first_name": "the first word of the visitor's name (the whole name without a space)",
    "visitor.email": "the e-mail the site verified; left as typed when there is none",
    "agent.name": "your display name",
    "conversation.id": "the chat's reference, to quote in an e-mail or a ticket",
}
# The forms canned.json used (before issue 20), read when seeding and named in a refusal.
LEGACY = {"visitor_name": "visitor.name", "agent_name": "agent.name"}
# {visitor.name} of a visitor who gave none. Persian and Arabic support chats address an
# unnamed customer as "dear friend"/"dear customer"; Chinese shop support says 亲 ("dear").
NAME_FALLBACK: dict[str, str] = {"en": "there", "fa": "دوست عزیز", "ar": "عزيزي العميل",
                                 "zh": "亲"}

# Limits: each bounds a picker row or a chat line.
MAX_SHORTCUT = 32  # typed after "/" mid-sentence: a word, not a phrase
MAX_TITLE = 100  # a picker row and a list row
# One chat line: limits.max_text_chars' default; the desk's own limit is passed to validate().
# The raw text is measured, placeholders as written: a name filled in may make the line a few
# characters longer or shorter (the console shows the filled line, the server's limit decides).
MAX_TEXT = 4000
MAX_VARIANTS = 20  # languages one response is written in
MAX_ROW_ID = 2**53  # the largest integer every JSON client holds exactly
FIELDS = ("shortcut", "title", "entry_id", "variants")

# Letters, digits and marks of any script (a Persian desk types /سلام), ZWNJ inside Persian
# words, and - _ . between words. No space: the picker ends a shortcut at one.
_SHORTCUT_EXTRA = frozenset("-_.\u200c")
# Bidi embeddings and overrides can make shown text differ from what is sent ("Trojan
# Source"); U+2028/U+2029 break lines in transcripts. Marks, isolates and ZWNJ/ZWJ stay.
_REFUSED_FORMAT = frozenset("\u202a\u202b\u202c\u202d\u202e\u2028\u2029")
# A fixed sentence (the editor shows it translated): text pasted from a word processor often
# carries an embedding, invisible to the person who pasted it.
_BIDI_REFUSAL = N_("must not hold a bidi embedding, override or line separator")
# The console's picker ends a shortcut at a space.
_SPACE_REFUSAL = N_("must not hold spaces: a shortcut ends at one")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")
_WHITESPACE_RUN = re.compile(r"\s+")
# What shows on screen: letters, digits, punctuation, symbols (not marks, spaces, format chars).
_VISIBLE = frozenset("LNPS")


class CannedError(ValueError):
    """A field is invalid: `field` names it (`variants.fa`), `placeholder` the placeholder."""

    def __init__(self, field: str, message: str, placeholder: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.placeholder = placeholder


@dataclass(frozen=True, slots=True)
class Canned:
    """One response as stored; `owner_id` None is the team's, else the agent's own."""

    shortcut: str
    title: str
    variants: Mapping[str, str]
    entry_id: int | None = None
    owner_id: int | None = None
    id: int | None = None
    version: int = 1

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "scope": "team" if self.owner_id is None else "personal",
                "owner_id": self.owner_id, "shortcut": self.shortcut, "title": self.title,
                "entry_id": self.entry_id, "variants": dict(self.variants),
                "version": self.version}


def placeholders(text: str) -> list[str]:
    """The placeholders `text` names, in order; CannedError (field "text") on an unknown or
    malformed one. A brace that is text is written twice: `{{` or `}}`."""
    found = []
    for token in _TOKEN.finditer(text):
        whole, name = token.group(), token.group(1)
        if whole in ("{{", "}}"):
            continue
        if name is None:
            raise CannedError("text", f"a lone '{whole}' at character {token.start() + 1} "
                              "(a placeholder reads {visitor.name}; a brace that is text is "
                              "written twice)", whole)
        if name not in PLACEHOLDERS:
            hint = (f"write {{{LEGACY[name]}}}" if name in LEGACY else "known: " + ", ".join(
                f"{{{known}}}" for known in PLACEHOLDERS))
            raise CannedError("text", f"unknown placeholder {whole} ({hint})", whole)
        found.append(name)
    return found


def convert_legacy(text: str) -> str:
    """canned.json's `{visitor_name}`/`{agent_name}` as `{visitor.name}`/`{agent.name}`."""
    for old, new in LEGACY.items():
        text = text.replace(f"{{{old}}}", f"{{{new}}}")
    return text


def folded(text: str) -> str:
    """`text` as compared, not shown: compatibility forms (full-width ｈｉ, superscript ᴴᴵ) and
    every script's capitals folded (NFKC_Casefold), so what reads the same matches."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def matches(canned: Canned, query: str) -> bool:
    """Every word of `query` is in the shortcut, the title or a text (folded, as typed:
    quotes included), never in how the response is stored."""
    words = folded(query).split()
    haystack = folded("\n".join((canned.shortcut, canned.title, *canned.variants.values())))
    return all(word in haystack for word in words)


def _shows_something(text: str) -> bool:
    return any(unicodedata.category(char)[0] in _VISIBLE for char in text)


def _shortcut(value: object) -> str:
    if not isinstance(value, str):
        raise CannedError("shortcut", N_("must be text"))
    # Folded: /ｈｉ from a full-width IME is /hi, as typed shortcuts are compared (console).
    text = folded(value.strip().removeprefix("/"))
    if not text:
        raise CannedError("shortcut", N_("must not be empty"))
    if len(text) > MAX_SHORTCUT:
        raise CannedError("shortcut", f"must be 1-{MAX_SHORTCUT} characters")
    if not _shows_something(text):
        raise CannedError("shortcut", N_("must hold a letter or a digit"))
    for char in text:
        if char not in _SHORTCUT_EXTRA and unicodedata.category(char)[0] not in "LNM":
            raise CannedError("shortcut", _SPACE_REFUSAL if char.isspace()
                              else N_("may hold only letters, digits, - _ or ."))
    return text


def _title(value: object) -> str:
    if not isinstance(value, str):
        raise CannedError("title", N_("must be text"))
    if "\n" in value or "\r" in value or "\t" in value:
        raise CannedError("title", N_("must be one line"))
    text = _WHITESPACE_RUN.sub(" ", unicodedata.normalize("NFC", value)).strip()
    if not text:
        raise CannedError("title", N_("must not be empty"))
    if len(text) > MAX_TITLE:
        raise CannedError("title", f"must be 1-{MAX_TITLE} characters")
    if not _shows_something(text):  # a zero-width space alone is an empty picker row
        raise CannedError("title", N_("must hold a visible character"))
    if _REFUSED_FORMAT.intersection(text):
        raise CannedError("title", _BIDI_REFUSAL)
    return text


def _entry_id(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ROW_ID:
        raise CannedError("entry_id", N_("must be a knowledge-base entry's id, or null"))
    return value


def _text(language: str, value: object, max_text: int) -> str:
    name = f"variants.{language}"
    if not isinstance(value, str):
        raise CannedError(name, N_("must be text"))
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    if not _shows_something(text):
        raise CannedError(name, N_("must not be empty (leave the language out instead)"))
    if len(text) > max_text:
        raise CannedError(name, f"must be at most {max_text} characters (one chat line)")
    if _REFUSED_FORMAT.intersection(text):
        raise CannedError(name, _BIDI_REFUSAL)
    try:
        placeholders(text)
    except CannedError as error:
        raise CannedError(name, error.message, error.placeholder) from None
    return text


def _variants(value: object, max_text: int) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise CannedError("variants", N_("must hold the text in at least one language"))
    if len(value) > MAX_VARIANTS:
        raise CannedError("variants", f"at most {MAX_VARIANTS} languages")
    out = {}
    for language, text in value.items():
        if not isinstance(language, str) or not LANGUAGE_PATTERN.fullmatch(language):
            shown = str(language) if str(language).isprintable() else ascii(language)
            raise CannedError("variants", f"'{shown}' is not a language tag: 2-3 lower-case "
                              "letters such as en, fa, ar, zh")
        out[language] = _text(language, text, max_text)
    return dict(sorted(out.items()))


def validate(data: Mapping[str, object], *, owner_id: int | None = None,
             response_id: int | None = None, version: int = 1,
             max_text: int = MAX_TEXT) -> Canned:
    """A Canned from untrusted data; unknown keys are errors so a typo is not lost.
    `max_text`: the desk's limits.max_text_chars, since a text is sent as one chat line."""
    for key in data:
        if key not in FIELDS:
            shown = key if key.isprintable() else ascii(key)
            raise CannedError(shown, "unknown field")
    for key in ("shortcut", "title", "variants"):
        if key not in data:
            raise CannedError(key, "is required")
    return Canned(shortcut=_shortcut(data["shortcut"]), title=_title(data["title"]),
                  variants=_variants(data["variants"], max_text),
                  entry_id=_entry_id(data.get("entry_id")),
                  owner_id=owner_id, id=response_id, version=version)
