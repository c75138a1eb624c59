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
# N_ marks server text in any layer (a refusal raised in chatserver/service or core).
SERVER = sorted(p for p in WEB.parent.rglob("*.py") if "__pycache__" not in p.parts)
_LITERAL = r'"((?:[^"\\]|\\.)*)"'
# The calls that take a msgid: `_(` in templates, `t(` in page scripts, `N_(` on the server.
CALLS = [(TEMPLATES, r"\b_\(\s*"), (SCRIPTS, r"(?<![\w.$])t\(\s*"), (SERVER, r"\bN_\(\s*")]
# Templates not yet translated: each leaves this list when its strings go through _(); the
# list must end empty.
UNTRANSLATED: set[str] = set()


def areas(language: str) -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((catalogue.CATALOGUE_DIR / language).glob("*.json"))}


def used_msgids() -> dict[str, str]:
    """msgid → the first file using it."""
    found: dict[str, str] = {}
    for files, call in CALLS:
        pattern = re.compile(call + _LITERAL)
        for path in files:
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                msgid = json.loads(f'"{match[1]}"')
                found.setdefault(msgid, path.name)
    return found


def other_quotes(call: str, source: str) -> list[str]:
    """Calls of `call` whose msgid is a single-quoted or backtick literal. The scan reads only
    double-quoted ones: those decode as JSON in every file kind, while a single-quoted string's
    escapes differ between JavaScript, Jinja and Python, and a template literal may hold ${…},
    which no msgid can. One form, refused otherwise, keeps every msgid in the scan."""
    return [m[0] for m in re.finditer(call + r"['`][^'`\n]*['`]?", source)]


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

    READ = frozenset({"title", "placeholder", "aria-label", "alt", "label", "aria-description",
                      "aria-valuetext", "aria-roledescription", "aria-placeholder"})
    # These inputs show their value as their caption; a <button>'s value is what it submits
    # (a dialog's returnValue), its caption is its content, and other inputs' values are data.
    CAPTION_INPUTS = frozenset({"submit", "button", "reset"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        caption = tag == "input" and (dict(attrs).get("type") or "").lower() in self.CAPTION_INPUTS
        for name, value in attrs:
            read = name in self.READ or (name == "value" and caption)
            if read and value and _has_letters(value):
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


def test_the_bare_text_check_sees_a_buttons_value(tmp_path: Path) -> None:
    """`<input type="submit" value="Send">` shows "Send" on the button, and an English
    `aria-roledescription` / `aria-valuetext` / `aria-placeholder` is read aloud to a Persian
    screen-reader user; test_staff_catalogue._BareText.READ checks none of them, so a template
    can put English on screen and the catalogue test stays green."""
    page = tmp_path / "x.html"
    page.write_text('<form><input type="submit" value="Send"></form>')
    assert bare_text(page) != [], "value= on a button escapes the catalogue test"
    page.write_text('<div role="slider" aria-valuetext="Medium" '
                    'aria-roledescription="Chat list"></div>')
    assert bare_text(page) != [], "aria-valuetext / aria-roledescription escape it"
    page.write_text('<div role="textbox" aria-placeholder="Search"></div>')
    assert bare_text(page) != [], "aria-placeholder escapes it"
    # A <button>'s value is what it submits (a dialog's returnValue), not what it shows.
    page.write_text('<button value="cancel">{{ _("Cancel") }}</button>'
                    '<input type="text" name="q" value="hello">')
    assert bare_text(page) == []


def test_msgids_are_double_quoted_literals() -> None:
    """The msgid scan only reads double-quoted literals: a `t('Not sent')`, t(`Retry`) or
    `_('Sign in')` would never be checked against the catalogue and could show English on a
    Persian page, so those forms are refused."""
    found = {path.name: calls for files, call in CALLS for path in files
             if (calls := other_quotes(call, path.read_text(encoding="utf-8")))}
    assert not found, found


def test_the_quote_check_sees_single_quoted_and_template_literal_calls() -> None:
    template, script, server = (call for _files, call in CALLS)
    assert other_quotes(script, "toast(t('Retry')); t(`Retry`); x.t('y'); t(\"Fine\")") == [
        "t('Retry'", "t(`Retry`"]
    assert other_quotes(template, "{{ _('Sign in') }} {{ _(\"Fine\") }}") == ["_('Sign in'"]
    assert other_quotes(server, "N_('log in first')") == ["N_('log in first'"]
