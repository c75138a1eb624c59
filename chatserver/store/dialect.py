"""The store's SQL is written once, in the subset SQLite and PostgreSQL share; this module
turns it into PostgreSQL's spelling where the two still differ.

Four differences remain, each cheaper to translate than to write twice:
- placeholders: `?` becomes `%s`, and a literal `%` is doubled (psycopg reads `%` as the start
  of a placeholder);
- `json_extract(column, '$.key')` becomes `(column::json ->> 'key')` (`#>>` for a nested
  path): payloads are stored as text on both backends, so writes never pay for parsing JSON;
- `LIKE` becomes `ILIKE`: SQLite's LIKE ignores ASCII case, and searches rely on that;
- `rowid` becomes `ctid`: both name a row's physical place, for deleting in batches.

Everything else (ON CONFLICT, RETURNING, window functions, CASE) is already common; SQL that
is not must be rewritten in the shared subset, not added here. `--` comments are dropped.
"""

from __future__ import annotations

import functools
import re

_JSON_EXTRACT = re.compile(r"json_extract\(\s*([\w.]+)\s*,\s*'\$\.([\w.]+)'\s*\)")
_LIKE = re.compile(r"\bLIKE\b")
_ROWID = re.compile(r"\browid\b")
# A quoted literal, a -- comment, or a run of anything else.
_TOKENS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|[^'-]+|-")


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """The same statement in PostgreSQL's spelling (cached: statements are string constants).

    `json_extract` gives text on PostgreSQL (SQLite gives the JSON value's own type): compare
    it with a number through CAST(... AS INTEGER), which both read alike."""
    out = []
    for token in _TOKENS.findall(sql):
        if token.startswith("--"):
            continue  # a comment: its words are neither placeholders nor literals
        token = token.replace("%", "%%")
        if not token.startswith("'"):
            token = token.replace("?", "%s")
            token = _LIKE.sub("ILIKE", _ROWID.sub("ctid", token))
        out.append(token)
    return _JSON_EXTRACT.sub(_json_path, "".join(out))


def _json_path(match: re.Match[str]) -> str:
    column, path = match.group(1), match.group(2).split(".")
    if len(path) == 1:
        return f"({column}::json ->> '{path[0]}')"
    return f"({column}::json #>> '{{{','.join(path)}}}')"
