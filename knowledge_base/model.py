"""The knowledge-base entry: one FAQ topic, its example questions and its answer.

Every `Entry` is valid and normalized by construction (`__post_init__` checks and cleans each
field), so the bot, the store and the admin pages never meet a half-checked one. `validate()`
builds an `Entry` from untrusted mapping data (an import row, an admin form, a JSON body) and
names the offending field in every error.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["draft", "published"]
STATUSES: tuple[Status, ...] = ("draft", "published")

# Limits. Each bounds what one entry can cost the matcher, the store and the chat bubble.
MAX_TITLE = 200  # a title is a suggestion button label and an admin list row, not prose
MAX_QUESTIONS = 50  # past ~50 phrasings matching quality stops improving; the index keeps growing
MAX_QUESTION = 500  # longer than any question a visitor types; bounds per-question match cost
MAX_ANSWER = 10_000  # a chat bubble; longer material belongs in a help article linked from it
MAX_TAGS = 20  # tags are filters, not a keyword dump
MAX_TAG = 40  # fits a filter chip; same bound as a skill name
MAX_VERSION = 2**31 - 1  # fits a signed 32-bit column in every SQL backend

SKILL_PATTERN = re.compile(r"[a-z0-9_:-]{1,40}")
# BCP-47 primary language subtag only: the matcher picks normalizers per language, not per region.
LANGUAGE_PATTERN = re.compile(r"[a-z]{2,3}")

# Refused everywhere besides the C0/C1 controls: bidi embeddings/overrides (U+202A-U+202E) can
# make displayed text differ from stored text ("Trojan Source"); U+2028/U+2029 break JavaScript
# string literals in older engines and lines in transcripts. Bidi marks (LRM/RLM), isolates and
# ZWNJ/ZWJ stay allowed: Persian and Arabic text needs them.
_REFUSED_FORMAT = frozenset("\u202a\u202b\u202c\u202d\u202e\u2028\u2029")
_WHITESPACE_RUN = re.compile(r"\s+")

FIELDS = ("id", "title", "questions", "answer", "language", "tags", "skill", "status", "version")
# Fields an admin edits; id and version are bookkeeping and stay out of diffs.
CONTENT_FIELDS = ("title", "questions", "answer", "language", "tags", "skill", "status")


class EntryError(ValueError):
    """A field of an entry is invalid; `field` names it (`questions[2]`), `message` says why.

    `errors` holds every invalid field found in the same check (this error first), so a form
    or an import can report them all at once.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.errors: tuple[EntryError, ...] = (self,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One knowledge-base topic; constructing it validates and normalizes every field.

    Normalization: Unicode NFC; title, questions and tags trimmed with inner whitespace runs
    collapsed to one space; tags lower-cased; questions de-duplicated case-insensitively (first
    kept); answer newlines normalized to "\\n" with trailing spaces and outer blank lines removed;
    an empty skill means None.
    """

    id: int | None = None
    title: str
    questions: tuple[str, ...]
    answer: str
    language: str
    tags: tuple[str, ...] = ()
    skill: str | None = None
    status: Status = "draft"
    version: int = 1

    def __post_init__(self) -> None:
        errors: list[EntryError] = []
        for name, check in _CHECKS:
            try:
                value = check(getattr(self, name))
            except EntryError as error:
                errors.extend(error.errors)
                continue
            object.__setattr__(self, name, value)
        if errors:
            first = errors[0]
            first.errors = tuple(errors)
            raise first

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form; `validate(entry.to_dict()) == entry` always holds."""
        return {
            "id": self.id,
            "title": self.title,
            "questions": list(self.questions),
            "answer": self.answer,
            "language": self.language,
            "tags": list(self.tags),
            "skill": self.skill,
            "status": self.status,
            "version": self.version,
        }


def validate(data: Mapping[str, object]) -> Entry:
    """Build an Entry from untrusted data, raising EntryError that names the bad field.

    Required keys: title, questions, answer, language ("" for language-neutral). Optional:
    id (None), tags (empty), skill (None), status ("draft": an import never publishes by
    accident), version (1). Unknown keys are errors so a typo ("anwser") is not silently lost.
    """
    if not isinstance(data, Mapping):
        raise EntryError("entry", f"must be an object, not {_type_name(data)}")
    errors: list[EntryError] = [
        EntryError(field_label(key), "unknown field") for key in data if key not in FIELDS
    ]
    errors.extend(
        EntryError(name, "is required")
        for name in ("title", "questions", "answer", "language")
        if name not in data
    )
    if errors:
        errors[0].errors = tuple(errors)
        raise errors[0]
    kwargs = {name: data[name] for name in FIELDS if name in data}
    return Entry(**kwargs)  # type: ignore[arg-type]  # each field is checked in __post_init__


def field_label(key: object) -> str:
    """An unknown key as an error names it: as typed when printable, else escaped, so a lone
    surrogate or a control character never reaches a response or a log as itself."""
    text = str(key)
    return text if text.isprintable() else ascii(text)


def question_key(question: str) -> str:
    """The form two questions are compared in: duplicates are equal under it."""
    return _collapse(unicodedata.normalize("NFC", question)).casefold()


def duplicate_questions(entries: Iterable[Entry]) -> list[tuple[int, int, str]]:
    """Questions that appear in two entries of the same language, as (first, second, question).

    Indexes are positions in `entries`. The same question answered by two entries makes the
    bot's choice arbitrary, so imports refuse it and the default KB test checks for it.
    """
    seen: dict[tuple[str, str], int] = {}
    found: list[tuple[int, int, str]] = []
    for index, entry in enumerate(entries):
        for question in entry.questions:
            key = (entry.language, question_key(question))
            first = seen.setdefault(key, index)
            if first != index:
                found.append((first, index, question))
    return found


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field between two versions of an entry, for the admin history view.

    `lines` is a unified diff for `answer`, and "+ item" / "- item" lines for `questions`
    and `tags`; it is empty for single-valued fields, where `old` and `new` say it all.
    """

    field: str
    old: object
    new: object
    lines: tuple[str, ...] = ()


def diff(old: Entry, new: Entry) -> list[FieldChange]:
    """Field-level changes from `old` to `new` in CONTENT_FIELDS order (id/version ignored)."""
    changes: list[FieldChange] = []
    for name in CONTENT_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        lines: tuple[str, ...] = ()
        if name == "answer":
            lines = tuple(
                difflib.unified_diff(
                    before.splitlines(), after.splitlines(), "before", "after", lineterm=""
                )
            )
        elif name in ("questions", "tags"):
            lines = tuple(f"- {item}" for item in before if item not in after) + tuple(
                f"+ {item}" for item in after if item not in before
            )
        changes.append(FieldChange(name, before, after, lines))
    return changes


# --- field checks: each takes the raw value and returns the normalized one or raises ---------


def _check_id(value: object) -> int | None:
    if value is None:
        return None
    number = _require_int("id", value)
    if not 1 <= number <= 2**63 - 1:  # 63 bits: SQLite's and Postgres' largest integer key
        raise EntryError("id", "must be a positive integer")
    return number


def _check_title(value: object) -> str:
    return _single_line("title", value, MAX_TITLE)


def _check_questions(value: object) -> tuple[str, ...]:
    items = _require_list("questions", value)
    if not items:
        raise EntryError("questions", "needs at least one example question")
    if len(items) > MAX_QUESTIONS:
        raise EntryError("questions", f"at most {MAX_QUESTIONS} questions, got {len(items)}")
    questions: dict[str, str] = {}
    errors: list[EntryError] = []
    for index, item in enumerate(items):
        try:
            question = _single_line(f"questions[{index}]", item, MAX_QUESTION)
        except EntryError as error:
            errors.append(error)
            continue
        questions.setdefault(question.casefold(), question)
    if errors:
        errors[0].errors = tuple(errors)
        raise errors[0]
    return tuple(questions.values())


def _check_answer(value: object) -> str:
    if not isinstance(value, str):
        raise EntryError("answer", f"must be a string, not {_type_name(value)}")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    _refuse_controls("answer", text, allowed="\n\t")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    if not text.strip():
        raise EntryError("answer", "must not be empty")
    if len(text) > MAX_ANSWER:
        raise EntryError("answer", f"at most {MAX_ANSWER} characters, got {len(text)}")
    return text


def _check_language(value: object) -> str:
    if not isinstance(value, str):
        raise EntryError("language", f"must be a string, not {_type_name(value)}")
    language = value.strip().lower()
    if language and not LANGUAGE_PATTERN.fullmatch(language):
        primary = language.replace("_", "-").split("-")[0]
        hint = f" such as {primary!r}" if LANGUAGE_PATTERN.fullmatch(primary) else ""
        raise EntryError(
            "language",
            f"must be a primary language tag{hint} (2-3 letters) or empty, got {value!r}",
        )
    return language


def _check_tags(value: object) -> tuple[str, ...]:
    items = _require_list("tags", value)
    if len(items) > MAX_TAGS:
        raise EntryError("tags", f"at most {MAX_TAGS} tags, got {len(items)}")
    tags: dict[str, str] = {}
    for index, item in enumerate(items):
        name = f"tags[{index}]"
        tag = _single_line(name, item, MAX_TAG).lower()
        if ";" in tag:  # the CSV format joins tags with ";"
            raise EntryError(name, "must not contain ';'")
        tags.setdefault(tag, tag)
    return tuple(tags)


def _check_skill(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EntryError("skill", f"must be a string or null, not {_type_name(value)}")
    skill = value.strip()
    if not skill:
        return None
    if not SKILL_PATTERN.fullmatch(skill):
        raise EntryError(
            "skill", f"must be 1-40 of a-z, 0-9, '_', ':', '-' (like 'billing'), got {value!r}"
        )
    return skill


def _check_status(value: object) -> Status:
    for status in STATUSES:
        if value == status:
            return status
    raise EntryError("status", f"must be 'draft' or 'published', got {value!r}")


def _check_version(value: object) -> int:
    number = _require_int("version", value)
    if not 1 <= number <= MAX_VERSION:
        raise EntryError("version", f"must be between 1 and {MAX_VERSION}, got {number}")
    return number


_CHECKS = (
    ("id", _check_id),
    ("title", _check_title),
    ("questions", _check_questions),
    ("answer", _check_answer),
    ("language", _check_language),
    ("tags", _check_tags),
    ("skill", _check_skill),
    ("status", _check_status),
    ("version", _check_version),
)


def _single_line(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise EntryError(name, f"must be a string, not {_type_name(value)}")
    text = unicodedata.normalize("NFC", value)
    # Tabs and newlines are plain whitespace here and collapse; other controls are refused.
    _refuse_controls(name, text, allowed="\t\n\r")
    text = _collapse(text)
    if not text:
        raise EntryError(name, "must not be empty")
    if len(text) > limit:
        raise EntryError(name, f"at most {limit} characters, got {len(text)}")
    return text


def _collapse(text: str) -> str:
    return _WHITESPACE_RUN.sub(" ", text).strip()


def _refuse_controls(name: str, text: str, allowed: str) -> None:
    for position, char in enumerate(text):
        if char in allowed:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or char in _REFUSED_FORMAT:
            what = "unpaired surrogate" if category == "Cs" else "control character"
            raise EntryError(name, f"{what} U+{ord(char):04X} at position {position}")


def _require_int(name: str, value: object) -> int:
    # bool is an int subclass; True as a version is a bug upstream, not the number 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise EntryError(name, f"must be an integer, not {_type_name(value)}")
    return value


def _require_list(name: str, value: object) -> Sequence[object]:
    # A bare string is a Sequence too, and would become one question per character.
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise EntryError(name, f"must be a list of strings, not {_type_name(value)}")
    return value


def _type_name(value: object) -> str:
    names = {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        tuple: "list",
        dict: "object",
    }
    return names.get(type(value), type(value).__name__)
