"""The canned response's checks (chatserver/core/canned.py): each field's refusal names the field,
a placeholder's names the placeholder; the seed's old placeholders convert and every seeded
text is valid in each of en/fa/ar/zh."""

from __future__ import annotations

import pytest

from chatserver.core.canned import (
    LEGACY,
    NAME_FALLBACK,
    PLACEHOLDERS,
    CannedError,
    convert_legacy,
    placeholders,
    validate,
)
from chatserver.core.canned_seed import SEED

GOOD = {"shortcut": "hi", "title": "Greeting", "variants": {"en": "Hi {visitor.name}"}}


def refusal(**change: object) -> CannedError:
    with pytest.raises(CannedError) as caught:
        validate({**GOOD, **change})
    return caught.value


def test_a_valid_response_is_normalized() -> None:
    canned = validate({"shortcut": " /Refund ", "title": "  Refund \u00a0 started ",
                       "entry_id": 7, "variants": {"fa": "سلام {visitor.name}\r\n\r\n",
                                                   "en": "Hi {{literally}} {agent.name}"}})
    assert canned.shortcut == "refund" and canned.title == "Refund started"
    assert list(canned.variants) == ["en", "fa"] and canned.variants["fa"] == "سلام {visitor.name}"
    assert canned.entry_id == 7 and canned.owner_id is None


@pytest.mark.parametrize("shortcut", ["سلام", "می‌خواهم", "退款", "order-2", "a_b.c"])
def test_a_shortcut_may_be_a_word_of_any_script(shortcut: str) -> None:
    assert validate({**GOOD, "shortcut": shortcut}).shortcut == shortcut


@pytest.mark.parametrize(("change", "field"), [
    ({"shortcut": "two words"}, "shortcut"), ({"shortcut": ""}, "shortcut"),
    ({"shortcut": "x" * 33}, "shortcut"), ({"shortcut": "a<b"}, "shortcut"),
    ({"shortcut": 5}, "shortcut"), ({"title": ""}, "title"), ({"title": "a\nb"}, "title"),
    ({"title": "t" * 101}, "title"), ({"title": "evil\u202etxt"}, "title"),
    ({"entry_id": "3"}, "entry_id"), ({"entry_id": 0}, "entry_id"),
    ({"entry_id": True}, "entry_id"), ({"variants": {}}, "variants"),
    ({"variants": ["en"]}, "variants"), ({"variants": {"EN": "x"}}, "variants"),
    ({"variants": {"en-US": "x"}}, "variants"), ({"variants": {"en": "  "}}, "variants.en"),
    ({"variants": {"en": "x" * 4001}}, "variants.en"), ({"variants": {"fa": 3}}, "variants.fa"),
    ({"variants": {"en": "a\u2028b"}}, "variants.en"),
    ({"variants": {c: "x" for c in ("aa", "ab", "ac", "ad", "ae", "af", "ag", "ah", "ai",
                                    "aj", "ak", "al", "am", "an", "ao", "ap", "aq", "ar",
                                    "as", "at", "au")}}, "variants"),
    ({"colour": "red"}, "colour"),
])
def test_each_bad_field_is_named(change: dict[str, object], field: str) -> None:
    assert refusal(**change).field == field


def test_a_required_field_left_out_is_named() -> None:
    with pytest.raises(CannedError) as caught:
        validate({"shortcut": "hi", "variants": {"en": "x"}})
    assert caught.value.field == "title"


@pytest.mark.parametrize(("text", "placeholder"), [
    ("Hi {visitor.nmae}", "{visitor.nmae}"), ("Hi {visitor_name}", "{visitor_name}"),
    ("Hi { visitor.name }", "{ visitor.name }"), ("Hi {}", "{}"), ("Hi {visitor.name", "{"),
    ("a } b", "}"), ("{topic}", "{topic}"),
])
def test_an_unknown_or_malformed_placeholder_is_named(text: str, placeholder: str) -> None:
    error = refusal(variants={"en": "fine {agent.name}", "fa": text})
    assert (error.field, error.placeholder) == ("variants.fa", placeholder)
    assert placeholder in error.message


def test_the_old_form_is_refused_with_the_new_one_named() -> None:
    assert "{visitor.name}" in refusal(variants={"en": "Hi {visitor_name}"}).message


def test_placeholders_are_listed_and_doubled_braces_are_text() -> None:
    assert placeholders("{{x}} {visitor.name} {conversation.id}{{") == [
        "visitor.name", "conversation.id"]


def test_legacy_forms_convert_to_known_placeholders() -> None:
    assert convert_legacy("Hi {visitor_name}, I'm {agent_name}") == \
        "Hi {visitor.name}, I'm {agent.name}"
    assert set(LEGACY.values()) <= set(PLACEHOLDERS)


def test_every_seeded_response_is_valid_in_each_staff_language() -> None:
    for item in SEED:
        variants = {k: convert_legacy(v) for k, v in item["variants"].items()}  # type: ignore[attr-defined]
        canned = validate({**item, "variants": variants})
        assert set(canned.variants) == {"en", "fa", "ar", "zh"} == set(NAME_FALLBACK)
        assert all("{visitor.name}" in text for text in canned.variants.values())
