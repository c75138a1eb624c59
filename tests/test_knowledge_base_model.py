"""The Entry model: every field validated and named in errors, normalization, diff."""

from __future__ import annotations

import dataclasses

import pytest

from knowledge_base.model import (
    MAX_ANSWER,
    MAX_QUESTION,
    MAX_QUESTIONS,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    Entry,
    EntryError,
    FieldChange,
    diff,
    duplicate_questions,
    validate,
)


def data(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": "Track your order",
        "questions": ["Where is my order?", "how do i track my package"],
        "answer": "See **My account**.",
        "language": "en",
        "tags": ["tracking"],
        "skill": "orders",
        "status": "published",
    }
    base.update(changes)
    return base


def error_of(**changes: object) -> EntryError:
    with pytest.raises(EntryError) as caught:
        validate(data(**changes))
    return caught.value


def test_valid_entry_round_trips_through_dict() -> None:
    entry = validate(data(id=7, version=3))
    assert entry.id == 7 and entry.version == 3
    assert entry.questions == ("Where is my order?", "how do i track my package")
    assert validate(entry.to_dict()) == entry
    assert entry.to_dict()["questions"] == list(entry.questions)


def test_optional_fields_take_safe_defaults() -> None:
    entry = validate({"title": "t", "questions": ["q"], "answer": "a", "language": ""})
    assert (entry.id, entry.tags, entry.skill, entry.status, entry.version) == (
        None,
        (),
        None,
        "draft",  # an import without a status must not publish anything
        1,
    )
    assert entry.language == ""


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"id": 0}, "id", "positive"),
        ({"id": "3"}, "id", "integer"),
        ({"id": True}, "id", "integer"),
        ({"title": "   "}, "title", "empty"),
        ({"title": 5}, "title", "string"),
        ({"title": "x" * (MAX_TITLE + 1)}, "title", f"at most {MAX_TITLE}"),
        ({"title": "bad\x07bell"}, "title", "U+0007"),
        ({"questions": []}, "questions", "at least one"),
        ({"questions": "Where is my order?"}, "questions", "list"),
        ({"questions": ["q"] * (MAX_QUESTIONS + 1)}, "questions", f"at most {MAX_QUESTIONS}"),
        ({"questions": ["ok", "fine", " "]}, "questions[2]", "must not be empty"),
        ({"questions": ["ok", None]}, "questions[1]", "string"),
        ({"questions": ["x" * (MAX_QUESTION + 1)]}, "questions[0]", f"at most {MAX_QUESTION}"),
        ({"questions": ["a\x1bb"]}, "questions[0]", "control character"),
        ({"answer": ""}, "answer", "empty"),
        ({"answer": "\n \n"}, "answer", "empty"),
        ({"answer": "x" * (MAX_ANSWER + 1)}, "answer", f"at most {MAX_ANSWER}"),
        ({"answer": "a\x00b"}, "answer", "U+0000"),
        ({"answer": "evil \u202e txt.exe"}, "answer", "U+202E"),
        ({"answer": "lone \ud800 surrogate"}, "answer", "surrogate"),
        ({"language": "english"}, "language", "primary language tag"),
        ({"language": "en-US"}, "language", "such as 'en'"),
        ({"language": None}, "language", "string"),
        ({"tags": "a;b"}, "tags", "list"),
        ({"tags": ["t"] * (MAX_TAGS + 1)}, "tags", f"at most {MAX_TAGS}"),
        ({"tags": ["ok", ""]}, "tags[1]", "empty"),
        ({"tags": ["x" * (MAX_TAG + 1)]}, "tags[0]", f"at most {MAX_TAG}"),
        ({"tags": ["a;b"]}, "tags[0]", "';'"),
        ({"skill": "Billing Team"}, "skill", "a-z"),
        ({"skill": "x" * 41}, "skill", "a-z"),
        ({"skill": 3}, "skill", "string"),
        ({"status": "live"}, "status", "'draft' or 'published'"),
        ({"version": 0}, "version", "between 1"),
        ({"version": 1.0}, "version", "integer"),
        ({"anwser": "typo"}, "anwser", "unknown field"),
    ],
)
def test_each_invalid_field_is_named(changes: dict[str, object], field: str, fragment: str) -> None:
    error = error_of(**changes)
    assert error.field == field
    assert fragment in error.message
    assert str(error).startswith(f"{field}: ")


@pytest.mark.parametrize("missing", ["title", "questions", "answer", "language"])
def test_required_fields(missing: str) -> None:
    values = data()
    del values[missing]
    with pytest.raises(EntryError) as caught:
        validate(values)
    assert (caught.value.field, caught.value.message) == (missing, "is required")


def test_all_bad_fields_are_reported_together() -> None:
    error = error_of(title="", questions=["ok", ""], skill="NO", version=-1)
    assert [e.field for e in error.errors] == ["title", "questions[1]", "skill", "version"]
    assert error.errors[0] is error


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(EntryError) as caught:
        validate(["title"])  # type: ignore[arg-type]
    assert caught.value.field == "entry"


def test_text_is_trimmed_collapsed_and_normalized() -> None:
    entry = validate(
        data(
            title="  Track\t your   order ",
            questions=[" Where is\nmy order? ", "WHERE IS MY ORDER?", "where  is my order?", "b"],
            answer="\r\n\r\nLine one   \r\nLine two\r\n\r\n",
            language=" EN ",
            tags=["Tracking", "tracking ", "Order  Status"],
            skill="  ",
        )
    )
    assert entry.title == "Track your order"
    # duplicates differing only in case or spacing are dropped, the first spelling kept
    assert entry.questions == ("Where is my order?", "b")
    assert entry.answer == "Line one\nLine two"
    assert entry.language == "en"
    assert entry.tags == ("tracking", "order status")
    assert entry.skill is None


def test_unicode_is_nfc_and_persian_joiners_survive() -> None:
    entry = validate(
        data(questions=["cafe\u0301", "می\u200cخواهم سفارشم را لغو کنم"], language="fa")
    )
    assert entry.questions[0] == "caf\u00e9"
    assert "\u200c" in entry.questions[1]  # ZWNJ is part of correct Persian spelling


def test_constructor_validates_too() -> None:
    entry = Entry(title="t", questions=("q",), answer="a", language="en")
    with pytest.raises(EntryError) as caught:
        dataclasses.replace(entry, questions=())
    assert caught.value.field == "questions"
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.title = "changed"  # type: ignore[misc]


def test_duplicate_questions_across_entries_same_language_only() -> None:
    first = validate(data(questions=["Where is my order?"]))
    second = validate(data(questions=["where IS my order?", "other"]))
    persian = validate(data(questions=["Where is my order?"], language="fa"))
    assert duplicate_questions([first, second, persian]) == [(0, 1, "where IS my order?")]


def test_diff_reports_changed_fields_with_line_details() -> None:
    old = validate(data(answer="one\ntwo\nthree", tags=["a", "b"], version=1))
    new = validate(data(answer="one\n2\nthree", tags=["b", "c"], status="draft", version=2))
    changes = diff(old, new)
    assert [change.field for change in changes] == ["answer", "tags", "status"]
    answer = changes[0]
    assert "-two" in answer.lines and "+2" in answer.lines
    assert changes[1] == FieldChange("tags", ("a", "b"), ("b", "c"), ("- a", "+ c"))
    assert changes[2].old == "published" and changes[2].new == "draft"
    assert diff(old, old) == []
