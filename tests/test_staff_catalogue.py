"""The staff pages' catalogue: every word a page shows exists in en, fa, ar and zh.

Fails when a msgid used by a template (`_("…")`), a page script (`t("…")`) or the server
(`N_("…")`) is missing from the catalogue, when a language lacks a key another has or loses a
placeholder, or when a template shows text that does not go through `_()`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chatserver.web import catalogue

WEB = Path(__file__).resolve().parents[1] / "chatserver" / "web"
TEMPLATES = sorted((WEB / "templates").glob("*.html"))
SCRIPTS = sorted((WEB / "static").glob("*.js"))
SERVER = sorted(WEB.glob("*.py"))
_LITERAL = r'"((?:[^"\\]|\\.)*)"'
# Templates not yet translated: each leaves this list when its strings go through _(); the
# list must end empty.
UNTRANSLATED: set[str] = set()


def areas(language: str) -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((catalogue.CATALOGUE_DIR / language).glob("*.json"))}


def used_msgids() -> dict[str, str]:
    """msgid → the first file using it."""
    found: dict[str, str] = {}
    patterns = [(TEMPLATES, re.compile(r"\b_\(\s*" + _LITERAL)),
                (SCRIPTS, re.compile(r"(?<![\w.$])t\(\s*" + _LITERAL)),
                (SERVER, re.compile(r"\bN_\(\s*" + _LITERAL))]
    for files, pattern in patterns:
        for path in files:
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                msgid = json.loads(f'"{match[1]}"')
                found.setdefault(msgid, path.name)
    return found


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_language_has_the_same_areas_and_keys() -> None:
    english = areas("en")
    assert english, "no English catalogue"
    for language in catalogue.LANGUAGES:
        theirs = areas(language)
        assert theirs.keys() == english.keys(), language
        for area, messages in english.items():
            missing = messages.keys() - theirs[area].keys()
            extra = theirs[area].keys() - messages.keys()
            assert not missing and not extra, (language, area, sorted(missing), sorted(extra))


@pytest.mark.parametrize("language", ["fa", "ar", "zh"])
def test_translations_keep_placeholders_and_are_written(language: str) -> None:
    for area, messages in areas(language).items():
        for msgid, text in messages.items():
            assert text.strip(), (language, area, msgid)
            assert placeholders(text) == placeholders(msgid), (language, area, msgid, text)


def test_english_maps_each_msgid_to_itself_and_no_msgid_is_in_two_areas() -> None:
    seen: dict[str, str] = {}
    for area, messages in areas("en").items():
        for msgid, text in messages.items():
            assert text == msgid, (area, msgid)
            assert msgid not in seen, f"{msgid!r} is in {seen.get(msgid)} and {area}"
            seen[msgid] = area


def test_every_msgid_the_pages_use_is_in_the_catalogue() -> None:
    known = catalogue.messages("en")
    missing = {msgid: where for msgid, where in used_msgids().items() if msgid not in known}
    assert not missing, missing


class _BareText(HTMLParser):
    """Letters a template shows outside `_()`: text, and the attributes people read."""

    READ = frozenset({"title", "placeholder", "aria-label", "alt", "label", "aria-description"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        for name, value in attrs:
            if name in self.READ and value and _has_letters(value):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and _has_letters(data):
            self.found.append(data.strip())


def _has_letters(text: str) -> bool:
    return any(unicodedata.category(c).startswith("L") for c in text)


def bare_text(template: Path) -> list[str]:
    source = template.read_text(encoding="utf-8")
    # The body's class names are markup, not text (base.html puts them in an attribute).
    source = re.sub(r"\{%\s*block body_class\s*%\}.*?\{%\s*endblock\s*%\}", "", source)
    # What jinja fills in is not the template's own text; `·` keeps the markup's shape.
    source = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", "·", source, flags=re.S)
    parser = _BareText()
    parser.feed(source)
    return parser.found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_show_no_text_outside_the_catalogue(template: Path) -> None:
    found = bare_text(template)
    if template.name in UNTRANSLATED:
        assert found, f"{template.name} is translated now: take it off UNTRANSLATED"
        return
    assert not found, found


def test_the_bare_text_check_sees_text_and_read_attributes(tmp_path: Path) -> None:
    page = tmp_path / "x.html"
    page.write_text('<p>{{ _("Fine") }}</p><button title="Close">{{ x }}</button>')
    assert bare_text(page) == ["<button title='Close'>"]
    page.write_text("<p>{{ _('Fine') }} Waiting</p>")
    assert bare_text(page) == ["· Waiting"]
    page.write_text('{% block body_class %}page page-app{% endblock %}'
                    '<p>{{ _("Fine") }} · – 3</p><script>let a = "b";</script>')
    assert bare_text(page) == []
