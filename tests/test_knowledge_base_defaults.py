"""The shipped knowledge base: loads, validates, and is complete and consistent per language."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from knowledge_base.defaults import DEFAULT_LANGUAGES, DEFAULT_SKILLS, load_default_entries
from knowledge_base.markdown import to_html, to_plain_text
from knowledge_base.model import Entry, duplicate_questions, validate

ALL = load_default_entries()
BY_LANGUAGE = {lang: [e for e in ALL if e.language == lang] for lang in DEFAULT_LANGUAGES}
URL = re.compile(r"\]\(([^)]+)\)")


def test_every_packaged_file_is_loaded() -> None:
    folder = resources.files("knowledge_base") / "default"
    shipped = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    assert shipped == sorted(f"{language}.json" for language in DEFAULT_LANGUAGES)
    assert {e.language for e in ALL} == set(DEFAULT_LANGUAGES)


def test_load_a_subset_and_refuse_unknown_languages() -> None:
    assert load_default_entries(["fa"]) == BY_LANGUAGE["fa"]
    with pytest.raises(ValueError, match="'de'"):
        load_default_entries(["de"])


@pytest.mark.parametrize("language", DEFAULT_LANGUAGES)
def test_language_is_complete(language: str) -> None:
    entries = BY_LANGUAGE[language]
    assert len(entries) >= 20
    for entry in entries:
        assert 8 <= len(entry.questions) <= 12, entry.title
        assert entry.skill in DEFAULT_SKILLS, entry.title
        assert (entry.status, entry.version, entry.id) == ("published", 1, None)
        assert entry.tags, entry.title
        assert validate(entry.to_dict()) == entry
    assert duplicate_questions(entries) == []
    assert len({e.title for e in entries}) == len(entries)


def test_every_skill_is_used_in_every_language() -> None:
    for entries in BY_LANGUAGE.values():
        assert {e.skill for e in entries} == set(DEFAULT_SKILLS)


def test_languages_are_parallel_translations() -> None:
    """Entry i is the same topic in every language: same skill, same links, same contacts."""
    english = BY_LANGUAGE["en"]
    for language, entries in BY_LANGUAGE.items():
        assert len(entries) == len(english), language
        for en, other in zip(english, entries, strict=True):
            assert other.skill == en.skill, (language, other.title)
            assert URL.findall(other.answer) == URL.findall(en.answer), (language, other.title)
            for fact in ("+49 30 555 0142", "support@northwind-market.example"):
                assert (fact in other.answer) == (fact in en.answer), (language, other.title)


def test_answers_use_only_well_formed_markdown() -> None:
    """No marker or link survives as literal text: each was written as the subset intends."""
    for entry in ALL:
        text = to_plain_text(entry.answer)
        assert "**" not in text and "](" not in text and "`" not in text, entry.title
        assert not re.search(r"(^|\s)\*\S", text), entry.title
        assert to_html(entry.answer).startswith(("<p>", "<ul>", "<ol>")), entry.title


def _script_letters(entries: list[Entry]) -> str:
    return "".join(e.title + "".join(e.questions) + e.answer for e in entries)


def test_persian_uses_persian_letters_and_zwnj() -> None:
    text = _script_letters(BY_LANGUAGE["fa"])
    assert "\u064a" not in text and "\u0643" not in text  # Arabic yeh and kaf, not ی and ک
    assert "ی" in text and "ک" in text
    assert "می\u200cخواهم" in text  # the joiner that real Persian spelling needs


def test_arabic_and_chinese_are_in_their_scripts() -> None:
    arabic = _script_letters(BY_LANGUAGE["ar"])
    assert len(re.findall(r"[\u0600-\u06ff]", arabic)) > 0.5 * len(arabic)
    assert "\u06cc" not in arabic and "\u06a9" not in arabic  # Persian yeh and keheh
    chinese = _script_letters(BY_LANGUAGE["zh"])
    assert len(re.findall(r"[\u4e00-\u9fff]", chinese)) > 0.4 * len(chinese)
    # Simplified Chinese: none of these common traditional-only forms.
    assert not set("們訂單號費貨運這麼嗎發還沒問題帳戶碼點擊") & set(chinese)
