"""The reference of every setting in docs/configuration.md, generated from config.toml.

config.toml is the one place a setting is described (its comments); this turns each comment and
the keys under it into a paragraph and a list of each key, its default and its environment
variable set to that default.
`python -m chatserver.config_reference` rewrites the reference between the markers in the doc;
tests/test_config.py fails when the doc is out of date.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ENV_PREFIX

ROOT = Path(__file__).resolve().parents[1]
BEGIN = ("<!-- The reference below is generated from config.toml by "
         "`python -m chatserver.config_reference`: edit config.toml, then run that. -->")
END = "<!-- End of the generated reference. -->"
KEY_LINE = re.compile(r"([a-z_][a-z0-9_]*)\s*=")


@dataclass
class Group:
    """One comment in config.toml and the keys written under it."""

    section: str
    comment: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def groups(toml_text: str) -> list[Group]:
    """The file's commented groups of keys, in order (the header before any section skipped)."""
    found: list[Group] = []
    section = ""
    for line in toml_text.splitlines():
        if line.startswith("[") and line.rstrip().endswith("]"):
            section = line.strip()[1:-1]
            found.append(Group(section))
        elif not section:
            continue
        elif line.startswith("#"):
            if found[-1].keys:  # a comment after keys starts the next group
                found.append(Group(section))
            found[-1].comment.append(line[1:].removeprefix(" ").rstrip())
        elif key := KEY_LINE.match(line):
            found[-1].keys.append(key.group(1))
        # anything else continues a value written over several lines
    return [g for g in found if g.keys]


def env_name(key: str) -> str:
    """`bot.match.k1` -> `CHATSERVER_BOT_MATCH_K1`."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def toml_value(value: Any) -> str:
    """A default as config.toml writes it, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return f"{{ {inner} }}" if inner else "{}"
    return repr(value)


def env_value(value: Any) -> str:
    """A value as an environment variable writes it: lists of text comma-separated, tables and
    lists of tables as JSON (config_values._parse_env reads them back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _prose(comment: list[str]) -> list[str]:
    """Comment lines as markdown: text as a paragraph, indented lines as a TOML example."""
    out: list[str] = []
    text: list[str] = []
    code: list[str] = []
    for line in [*comment, ""]:
        if line.startswith("  "):
            if text:
                out += [" ".join(text), ""]
                text = []
            code.append(line.strip())
            continue
        if code:
            out += ["```toml", *code, "```", ""]
            code = []
        if line:
            text.append(line)
    if text:
        out += [" ".join(text), ""]
    return out


def markdown(toml_text: str) -> str:
    """The reference: per section, each group's comment and a list of its keys."""
    values = tomllib.loads(toml_text)
    lines = [BEGIN, ""]
    section = None
    for group in groups(toml_text):
        table = values
        for part in group.section.split("."):
            table = table[part]
        if group.section != section:
            section = group.section
            lines += [f"### `[{section}]`", ""]
        lines += _prose(group.comment)
        for key in group.keys:
            dotted = f"{section}.{key}"
            env = f"{env_name(dotted)}={shlex.quote(env_value(table[key]))}"
            lines.append(f"- `{dotted}` = `{toml_value(table[key])}` · `{env}`")
        lines.append("")
    return "\n".join([*lines, END])


def rewrite(doc: str, toml_text: str) -> str:
    """`doc` with the text between the markers (markers included) replaced by the reference."""
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    return doc[:start] + markdown(toml_text) + doc[end:]


def main() -> int:
    doc = ROOT / "docs" / "configuration.md"
    doc.write_text(rewrite(doc.read_text(), (ROOT / "config.toml").read_text()))
    print(f"wrote the reference of every setting into {doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
