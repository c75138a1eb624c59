"""The search index's rows: each `message` line's terms (core/search_text.py), written in the
line's own transaction by the store's append, removed when the line's text is erased.

Apart from search.py because the store's append needs it and search.py needs the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from chatserver.core.search_text import line_terms

from .backend import Conn
from .sqlite import secure_delete


def text_of(kind: str, payload: Mapping[str, Any]) -> str:
    """The searchable text of an event: a message's text, nothing for other events."""
    text = payload.get("text") if kind == "message" else None
    return text if isinstance(text, str) else ""


def index_lines(conn: Conn, rows: Iterable[tuple[str, int, str]]) -> None:
    """Index (conversation_id, seq, text) lines; a line already indexed is left as it is."""
    terms = [(cid, seq, t) for cid, seq, text in rows if (t := line_terms(text))]
    if terms:
        conn.executemany("INSERT INTO search_lines (conversation_id, seq, terms) "
                         "VALUES (?, ?, ?) ON CONFLICT (conversation_id, seq) DO NOTHING", terms)


def forget_lines(conn: Conn, keys: Iterable[tuple[str, int]]) -> None:
    """Drop (conversation_id, seq) lines from the index: their text was erased."""
    conn.executemany("DELETE FROM search_lines WHERE conversation_id = ? AND seq = ?",
                     list(keys))


def compact_search_index(conn: Conn) -> None:
    """After an erasure, on SQLite: rewrite the full-text index into one segment, its freed
    pages overwritten. FTS5 drops a deleted line's terms only when merging the segment that
    holds them (SQLite 3.40 has no secure-delete option), so without this the erased words
    would stay in the file. About 0.4 s for a million lines (docs/performance.md). PostgreSQL
    needs nothing here: VACUUM of search_lines follows (Store.after_erase)."""
    if isinstance(conn, sqlite3.Connection):
        with secure_delete(conn):
            conn.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
