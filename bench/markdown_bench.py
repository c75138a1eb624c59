"""The knowledge base's Markdown renderers compared: correctness, safety, speed, install size.

`python -m bench.markdown_bench` prints one row per renderer: the hand-written renderer that
knowledge_base/markdown.py held until issue 23 (read from git history, so it is not kept as
dead code), markdown-it-py as knowledge_base/markdown.py configures it now, and mistune 3 with
the same subset and allow-list (when installed: `pip install mistune`). Figures: docs/bot.md.
"""

from __future__ import annotations

import html
import importlib.metadata
import json
import re
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from knowledge_base import markdown
from knowledge_base.defaults import load_default_entries

ROOT = Path(__file__).resolve().parent.parent
# The cases the server's and the widget's renderers are tested against (source -> HTML).
CORPUS = json.loads((ROOT / "tests" / "data" / "markdown_corpus.json").read_text())
HAND_WRITTEN = "6c415c1"  # the last commit with the hand-written knowledge_base/markdown.py
ALLOWED = {"p", "br", "strong", "em", "code", "ul", "ol", "li", "a"}
# Every payload an XSS test in tests/ uses, and the link targets a hostile author would try.
_JS = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:x",
       "javascript&#58;alert(1)", "javascript&#x3A;alert(1)", "&#106;avascript:alert(1)",
       "javascript&colon;alert(1)", "javascript%3Aalert(1)", "<javascript:alert(1)>",
       "\\javascript:alert(1)", "vbscript:msgbox(1)", "VBScript:x", "data:text/html,<b>x</b>",
       "data:text/html;base64,PHNjcmlwdD4=", "//evil.example", "/\\evil.example",
       "\\\\evil.example",
       "https:\\\\evil.example", "https:/\\evil.example", "https://\\evil.example",
       "https://good.example/a\\b", "file:///etc/passwd", "/relative", "../up", "ftp://x.example"]
PAYLOADS = [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
    "</svg>", "<iframe src=javascript:alert(1)>", "**<b>x</b>**", "<a href=javascript:x>x</a>",
    '[x](https://x.example/"onmouseover="alert(1))', "[x](https://x.example 'a\" onclick=x')",
    "![x](https://x.example/a.png)", "<https://x.example>", "<javascript:alert(1)>",
    *(f"[x]({target})" for target in _JS), *(f"[x][r]\n\n[r]: {target}" for target in _JS[:4]),
]


class _Inspector(HTMLParser):
    """Counts what a browser would run or follow that the subset does not allow."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED:
            self.problems.append(tag)
        for name, value in attrs:
            if tag == "a" and name == "href":
                if not markdown.is_safe_url(value or ""):
                    self.problems.append(f"href {value}")
            elif name not in ("rel", "target", "start"):
                self.problems.append(name)


def unsafe(rendered: str) -> list[str]:
    inspector = _Inspector()
    inspector.feed(rendered)
    inspector.close()
    return inspector.problems


def shape(rendered: str) -> str:
    """The HTML as a reader sees it: tags, hrefs and text, not spacing or attribute order."""
    rendered = re.sub(r"<br ?/?>", "<br>", rendered)
    rendered = re.sub(r'<a [^>]*href="([^"]*)"[^>]*>', r'<a href="\1">', rendered)
    return re.sub(r"\s*\n\s*", "", rendered.replace("%22", "&quot;")).strip()


def literal_markers(rendered: str) -> bool:
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    return "**" in text or "](" in text or "`" in text or bool(re.search(r"(^|\s)\*\S", text))


def hand_written() -> Callable[[str], str]:
    source = subprocess.run(["git", "show", f"{HAND_WRITTEN}:knowledge_base/markdown.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("markdown_hand_written")
    sys.modules[module.__name__] = module  # its dataclasses look their module up there
    exec(compile(source, "markdown_hand_written", "exec"), module.__dict__)
    return module.to_html  # type: ignore[no-any-return]


def mistune_renderer() -> Callable[[str], str] | None:
    try:
        import mistune  # type: ignore[import-not-found]
    except ImportError:
        return None

    class Renderer(mistune.HTMLRenderer):  # type: ignore[misc]
        def link(self, text: str, url: str, title: str | None = None) -> str:
            if not markdown.is_safe_url(url):
                return f"[{text}]({html.escape(url)})"
            return f'<a href="{html.escape(url)}" {markdown.LINK_ATTRIBUTES}>{text}</a>'

        def safe_url(self, url: str) -> str:
            return str(url)

    block = mistune.BlockParser(list_rules=["list", "blank_line"])
    block.rules = ["list", "blank_line"]
    inline = mistune.InlineParser(hard_wrap=True)
    inline.rules = ["escape", "codespan", "emphasis", "link", "link_close", "linebreak"]
    return mistune.Markdown(Renderer(escape=True), block=block, inline=inline)  # type: ignore[no-any-return]


def install_kb(*distributions: str) -> int:
    total = 0
    for name in distributions:
        for file in importlib.metadata.distribution(name).files or []:
            if "__pycache__" not in str(file) and (path := file.locate()).exists():
                total += Path(path).stat().st_size
    return total // 1024


def measure(render: Callable[[str], str], answers: list[str]) -> dict[str, Any]:
    corpus = sum(shape(render(c["source"])) == shape(c["html"]) for c in CORPUS)
    kb = sum(not literal_markers(render(a)) for a in answers)
    refused = sum(not unsafe(render(p)) for p in PAYLOADS)
    timings = []
    for answer in answers:  # each answer's best of 5 rounds of 10: the machine is shared
        rounds = []
        for _ in range(5):
            started = time.perf_counter_ns()
            for _ in range(10):
                render(answer)
            rounds.append((time.perf_counter_ns() - started) / 10 / 1000)
        timings.append(min(rounds))
    return {"corpus": corpus, "kb": kb, "refused": refused,
            "us": round(statistics.median(timings), 1)}


def main() -> None:
    answers = [e.answer for e in load_default_entries()]
    hand = Path(ROOT / "knowledge_base" / "markdown.py")
    renderers: dict[str, tuple[Callable[[str], str] | None, str]] = {
        "hand-written (until issue 23)": (hand_written(), "12 KB (its one file)"),
        "markdown-it-py (adopted)": (markdown.to_html,
                                     f"{install_kb('markdown-it-py', 'mdurl')} KB with mdurl"),
        "mistune": (mistune_renderer(), ""),
    }
    print(f"{len(CORPUS)} corpus cases, {len(answers)} default answers, {len(PAYLOADS)} payloads;"
          f" knowledge_base/markdown.py now {len(hand.read_text().splitlines())} lines")
    print("| renderer | corpus cases | default answers without stray markers | payloads refused"
          " | µs per answer (median) | installed |")
    print("|---|---|---|---|---|---|")
    for name, (render, size) in renderers.items():
        if render is None:
            print(f"| {name} | not installed |")
            continue
        if name == "mistune":
            size = f"{install_kb('mistune')} KB"
        r = measure(render, answers)
        print(f"| {name} | {r['corpus']}/{len(CORPUS)} | {r['kb']}/{len(answers)} |"
              f" {r['refused']}/{len(PAYLOADS)} | {r['us']} | {size} |")


if __name__ == "__main__":
    main()
