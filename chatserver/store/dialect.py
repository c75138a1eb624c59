"""The store's SQL is written once, in the subset SQLite and PostgreSQL share; this module
turns it into PostgreSQL's spelling where the two still differ.

Four differences remain, each cheaper to translate than to write twice:
- placeholders: `?` becomes `%s`, and a literal `%` is doubled (psycopg reads `%` as the start
  of a placeholder);
- `json_extract(column, '$.key')` becomes `(column::json ->> 'key')`: payloads are stored as
  text on both backends, so writes never pay for parsing JSON;
- `LIKE` becomes `ILIKE`: SQLite's LIKE ignores ASCII case, and searches rely on that;
- `rowid` becomes `ctid`: both name a row's physical place, for deleting in batches.

Everything else (ON CONFLICT, RETURNING, window functions, CASE) is already common; SQL that
is not must be rewritten in the shared subset, not added here.
"""

from __future__ import annotations

import functools
import re

_JSON_EXTRACT = re.compile(r"json_extract\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)")
_LIKE = re.compile(r"\bLIKE\b")
_ROWID = re.compile(r"\browid\b")


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """The same statement in PostgreSQL's spelling (cached: statements are string constants)."""
    parts = re.split(r"('(?:[^']|'')*')", sql)  # odd parts are quoted literals
    out = []
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        if i % 2 == 0:
            part = part.replace("?", "%s")
            part = _LIKE.sub("ILIKE", _ROWID.sub("ctid", part))
        out.append(part)
    return _JSON_EXTRACT.sub(r"(\1::json ->> '\2')", "".join(out))
