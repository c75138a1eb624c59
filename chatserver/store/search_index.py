"""The search index's rows: each `message` line's terms (core/search_text.py), written in bulk
from the keys the store's append leaves in `search_pending` (index_waiting), removed when the
line's text is erased; and each visitor's name and e-mail terms (`visitor_terms`), written after
the fact (index_visitors).

Apart from search.py because the store's append needs it and search.py needs the store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from chatserver.core.search_text import line_terms, terms_of

from .backend import Conn
from .sqlite import secure_delete

# What an erased line's text becomes (privacy/data_rights.TOMBSTONE, which the store may not
# import; tests/test_search_server.py checks they agree): never indexed.
TOMBSTONE = "[erased]"


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


def index_waiting(conn: Conn, limit: int, lock: str = "") -> int:
    """Index up to `limit` of the lines waiting in `search_pending`, oldest first; returns how
    many keys it took. A line erased meanwhile (its text is the tombstone) or purged (no row)
    is not indexed. Each key is deleted by its id, not by a range: on PostgreSQL a smaller id
    can commit after a larger one, and must still be found by the next turn.

    `lock`: " FOR SHARE OF e" on PostgreSQL, where an erasure may run beside the indexer: the
    lines read stay as read until the indexer commits, so an erasure waits and then removes
    what was indexed (SQLite's single writer never runs the two at once)."""
    keys = [r[0] for r in conn.execute(
        "SELECT id FROM search_pending ORDER BY id LIMIT ?", (limit,)).fetchall()]
    if not keys:
        return 0
    rows = conn.execute(
        "SELECT e.conversation_id, e.seq, e.payload FROM search_pending p JOIN events e "  # noqa: S608
        "ON e.conversation_id = p.conversation_id AND e.seq = p.seq "
        f"WHERE p.id IN ({', '.join('?' * len(keys))}) ORDER BY e.conversation_id, e.seq{lock}",
        keys).fetchall()  # in one order, so indexers in two processes never deadlock
    index_lines(conn, ((r[0], r[1], text) for r in rows
                       if (text := text_of("message", json.loads(r[2]))) != TOMBSTONE))
    conn.executemany("DELETE FROM search_pending WHERE id = ?", [(k,) for k in keys])
    return len(keys)


def index_visitors(conn: Conn, limit: int) -> int:
    """Index up to `limit` visitors whose name or e-mail changed since they were indexed (or
    never were): their terms into visitor_terms, the terms as their search_key. Returns how
    many; a trigger of migration 11 unindexes a visitor on every change."""
    rows = conn.execute("SELECT id, name, email FROM visitors WHERE search_key IS NULL "
                        "LIMIT ?", (limit,)).fetchall()
    for visitor_id, name, email in rows:
        terms = terms_of(f"{name or ''} {email or ''}")
        conn.executemany("INSERT INTO visitor_terms (term, visitor_id) VALUES (?, ?) "
                         "ON CONFLICT (term, visitor_id) DO NOTHING",
                         [(t, visitor_id) for t in terms])
        conn.execute("UPDATE visitors SET search_key = ? WHERE id = ?",
                     (" ".join(terms), visitor_id))
    return len(rows)


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
