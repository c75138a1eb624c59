"""The widget's files as the real server sends them: size budget, headers, nothing else served.

Sync on purpose: an asyncio test cannot run in a session where Playwright's sync API (the
browser tests) already runs its own loop.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator

import httpx
import pytest

from chatserver.web.widget_routes import LANGUAGE_FILES, LAZY, MODULES, WIDGET_DIR, lean, lean_css

BUDGET = 15 * 1024  # issue 5: every widget file a visitor downloads at start, gzipped, together
# What is loaded on first use, kept small too, as a visitor waits for it then: the attachment
# code, and the survey, leave-a-message and e-mail-me-this-chat forms (forms.js: 1,834 bytes
# before that offer, 2,261 with it on 6 Dec 2026, its words coming from the server; 2,554 with
# the transcript's download, moved out of the start bundle for issue 24; 2,545 with the
# leave-a-message form's "←" named "Back" and its "Send message" i18n.js's "Send"; 2,565 with
# a message of spaces named as missing instead of ignored: the budget went from 2,560 to 2,600).
LAZY_BUDGETS = {("attach.js", "attach.css"): 5 * 1024, ("forms.js",): 2600}


@pytest.fixture
def http(shared_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url) as client:
        yield client


def gzipped_sizes(http) -> dict[str, int]:
    sizes = {}
    for path in ["/widget.js", *(f"/widget/{name}" for name in MODULES)]:
        response = http.get(path, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200, path
        sizes[path.rsplit("/", 1)[-1]] = int(response.headers["content-length"])
    return sizes


def test_what_a_visitor_loads_at_start_fits_the_gzip_budget(http):
    """The loader, the modules app.js imports, the stylesheet and the visitor's language (the
    largest counted): 15,339 bytes on 6 Dec 2026 (21 to spare); 15,181 (Arabic's, 179 to
    spare) with the dark scheme, once the survey and the leave-a-message form were no longer
    loaded at start; 15,354 (6 to spare) with issue 24's accessibility, the transcript's
    download moved to forms.js; 15,359 with the message list's focus ring drawn inside it. The
    attachment code and those forms are not loaded at start."""
    sizes = gzipped_sizes(http)
    start = {name: n for name, n in sizes.items() if name not in LAZY | LANGUAGE_FILES}
    largest = max(LANGUAGE_FILES, key=sizes.__getitem__)
    assert sum(start.values()) + sizes[largest] <= BUDGET, sizes
    assert {name for names in LAZY_BUDGETS for name in names} == LAZY
    for names, budget in LAZY_BUDGETS.items():
        assert sum(sizes[name] for name in names) <= budget, sizes


def static_imports(name: str) -> set[str]:
    return set(re.findall(r'from "\./([\w.-]+)"', (WIDGET_DIR / name).read_text()))


def test_every_module_the_widget_imports_is_served():
    imported = set()
    for name in ["app.js", *MODULES]:
        if name.endswith(".js"):
            source = (WIDGET_DIR / name).read_text()
            imported |= static_imports(name)
            imported |= set(re.findall(r'import\(\s*"\./([\w.-]+)"', source))
    assert imported <= set(MODULES)
    assert {"attach.js", "forms.js"} <= imported
    languages = re.search(r"LANGUAGES = \[(.*?)\]", (WIDGET_DIR / "i18n.js").read_text())
    assert languages is not None
    files = {f"i18n-{lang}.js" for lang in re.findall(r'"(\w+)"', languages[1])}
    assert files == LANGUAGE_FILES | {"i18n-en.js"}  # English is in i18n.js itself


def test_nothing_loaded_at_start_imports_the_lazy_files():
    """Only a dynamic import() reaches attach.js; a static one would load it for everyone."""
    seen, todo = set(), ["app.js"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(static_imports(name))
    assert seen == {"app.js", "reducer.js", "transport.js", "view.js", "i18n.js"}
    assert not seen & (LAZY | LANGUAGE_FILES)


def test_loader_and_modules_have_the_right_headers(http):
    loader = http.get("/widget.js")
    assert loader.headers["content-type"] == "text/javascript; charset=utf-8"
    assert loader.headers["cache-control"] == "public, max-age=300"
    module = http.get("/widget/app.js")
    assert module.headers["access-control-allow-origin"] == "*"
    assert http.get("/widget/widget.css").headers["content-type"].startswith("text/css")
    again = http.get("/widget/app.js", headers={"if-none-match": module.headers["etag"]})
    assert again.status_code == 304
    assert http.get("/demo").headers["content-type"].startswith("text/html")


def test_only_the_listed_files_are_served(http):
    for name in ["demo.html", "..%2Fpyproject.toml", "loader.js", "nope.js"]:
        assert http.get(f"/widget/{name}").status_code == 404


def test_gzip_is_what_is_sent_when_accepted(http):
    raw = http.get("/widget/view.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    body = lean((WIDGET_DIR / "view.js").read_text()).encode()
    assert raw.content == body
    zipped = http.get("/widget/view.js", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == body  # httpx decodes it; the bytes on the wire were gzip
    assert int(zipped.headers["content-length"]) == len(gzip.compress(body, 9, mtime=0))


def test_lean_drops_only_whole_line_comments_and_indentation():
    source = 'const a = 1; // kept\n  // gone\n/* gone\n   too */\n  const u = "http://x";\n\n'
    assert lean(source) == 'const a = 1; // kept\nconst u = "http://x";\n'
    # Inside a template literal a line is the string's own text: kept as it is.
    source = "  const t = `a\n  // b\n    c`;\n  f(`x`); // `y`\n    g();\n"
    assert lean(source) == "const t = `a\n  // b\n    c`;\nf(`x`); // `y`\ng();\n"


def test_lean_css_drops_the_spaces_around_punctuation_and_keeps_strings():
    source = ('.a > b, .c :focus {\n  font: 1px "Segoe UI", x;\n  /* note */\n}\n'
              '@media (max-width: 9px) { }\n')
    assert lean_css(source) == '.a>b,.c :focus{font:1px "Segoe UI",x;}@media (max-width:9px){}'
    css = (WIDGET_DIR / "widget.css").read_text()
    served = lean_css(css)
    assert re.findall(r'"[^"]*"', served) == re.findall(r'"[^"]*"', lean(css))


def test_lean_strips_every_widget_file_whole():
    """A stray backtick (in a regex, say) would make lean() keep the rest of a file as if it
    were a string, comments and all: write one as \\x60. The one line kept today is view.js's
    status text, whose template literal spans two lines."""
    kept = [line for name in ["loader.js", *MODULES]
            for line in lean((WIDGET_DIR / name).read_text()).splitlines()
            if line[:1].isspace() or line.lstrip().startswith(("//", "/*"))]
    assert len(kept) <= 3, kept


def test_every_refusal_of_a_file_has_a_sentence_in_each_language():
    """A refusal code the widget does not know reads as the general "could not be sent": each
    reason the server gives for refusing a file (the ChatErrors of chatserver/core/errors.py
    an upload raises) must tell the visitor why, in their language."""
    from chatserver.core import errors

    server = WIDGET_DIR.parent / "chatserver"
    upload_code = "".join(p.read_text() for p in [
        *sorted((server / "attachments").glob("*.py")), server / "web" / "attachments_api.py",
        server / "service" / "attachment_lines.py"])
    file_codes = {cls.code for name, cls in vars(errors).items() if isinstance(cls, type)
                  and issubclass(cls, errors.ChatError) and re.search(rf"\b{name}\b", upload_code)}
    assert {"pdf_script", "polyglot", "damaged_file", "too_many_pixels", "too_large"} <= file_codes
    # the widget's own mistakes (the general sentence fits), staff only, retried (503)
    file_codes -= {"bad_frame", "not_found", "password_change_required", "unavailable"}
    source = (WIDGET_DIR / "attach.js").read_text()
    blocks = re.split(r"\n  (en|fa|ar|zh): \{", source)[1:]
    languages = dict(zip(blocks[::2], blocks[1::2], strict=True))
    assert set(languages) == {"en", "fa", "ar", "zh"}
    for lang, block in languages.items():
        block = block.split("\n  },")[0]
        missing = sorted(code for code in file_codes if not re.search(rf"\b{code}:", block))
        assert not missing, (lang, missing)
