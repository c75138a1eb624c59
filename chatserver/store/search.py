"""Search on both backends: the query, and the background indexing of lines stored before
search existed. The index itself (`search_lines`, migration 11) is written by search_index.py.

Each stored `message` line's terms (core/search_text.py, one pure tokeniser) are written in the
same transaction as the line: by `_append` on SQLite, inside the one-statement append on
PostgreSQL. SQLite indexes them with FTS5 (an external-content table kept by triggers);
PostgreSQL with a GIN index over `array_to_tsvector` of the same tokens. Neither database's own
tokeniser decides anything, so the two find the same lines (docs/console.md, "Search").

An erased or retention-scrubbed line loses its row (`forget_lines`, called where the text is
rewritten); conversations of an erased visitor are never answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from chatserver.core.search_text import Filters, Query, cursor, line_terms, snippet

from .backend import Conn, Row
from .search_index import index_lines, text_of
from .store import Store

log = logging.getLogger("chatserver.search")
BACKFILL_MARK = "search_backfill"  # in `meta` while lines stored before migration 11 wait
BACKFILL_BATCH = 500
PAGE = 20  # conversations per page of results
SNIPPETS = 3  # matching lines shown per conversation
# Lines read per conversation to find its snippets: the newest hits of a very long chat may
# be past it; the conversation is still listed.
LINES_READ = 400


def _backfill_batch(conn: Conn, limit: int) -> bool:
    """Index the next `limit` message lines stored before migration 11; False when done."""
    mark = conn.execute("SELECT value FROM meta WHERE key = ?", (BACKFILL_MARK,)).fetchone()
    if mark is None:
        return False
    cid, _, seq = str(mark[0]).partition("\n")
    rows = conn.execute(
        "SELECT conversation_id, seq, payload FROM events WHERE type = 'message' "
        "AND (conversation_id, seq) > (?, ?) ORDER BY conversation_id, seq LIMIT ?",
        (cid, int(seq or -1), limit)).fetchall()
    index_lines(conn, ((r[0], r[1], text_of("message", json.loads(r[2]))) for r in rows))
    if len(rows) < limit:
        conn.execute("DELETE FROM meta WHERE key = ?", (BACKFILL_MARK,))
        return False
    conn.execute("UPDATE meta SET value = ? WHERE key = ?",
                 (f"{rows[-1][0]}\n{rows[-1][1]}", BACKFILL_MARK))
    return True


async def backfill(store: Store, batch: int = BACKFILL_BATCH, pause_s: float = 0.01) -> None:
    """Index the lines a database held before search existed, a batch per writer turn, with
    a pause between (the chats' own writes go first). Resumes where it stopped; several
    processes may run it at once (a line is indexed once)."""
    try:
        while await store.write(  # noqa: ASYNC110 -- the pause lets the chats' writes in
                lambda conn: _backfill_batch(conn, batch)):
            await asyncio.sleep(pause_s)
    except Exception as error:  # the database went away: the mark keeps the place
        log.warning("search: indexing earlier lines stopped (%s); the next start resumes it",
                    error)


# Matching lines counted before choosing how SQLite finds the newest conversations: below
# it, from the matches (sorted after); from it on, newest conversation first, each checked
# against the matches, stopping at a page. Measured on 100,000 chats (docs/performance.md):
# "order" (in half of them) 176 -> 36 ms, a rare word stays under 1 ms.
COMMON_LINES = 2000


def _match(backend: str, common: bool) -> str:
    """The SQL condition on `c` that one of its lines matches the query (one parameter).
    `common`: written so that SQLite walks conversations newest first (the same answer)."""
    if backend == "postgres":  # its planner chooses from the index's statistics
        return ("c.id IN (SELECT l.conversation_id FROM search_lines l WHERE "
                "array_to_tsvector(string_to_array(l.terms, ' ')) @@ CAST(? AS tsquery))")
    if common:
        return ("EXISTS (SELECT 1 FROM search_lines l WHERE l.conversation_id = c.id AND "
                "l.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))")
    return ("c.id IN (SELECT l.conversation_id FROM search_lines l WHERE "
            "l.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))")


async def _common(store: Store, query: Query) -> bool:
    """Whether the query matches at least COMMON_LINES lines (SQLite only; one bounded
    count, about 15 ms for a word in half of 100,000 chats)."""
    if store.backend.name == "postgres":
        return False
    row = await store.fetchone(
        "SELECT count(*) FROM (SELECT rowid FROM search_fts WHERE search_fts MATCH ? "
        "LIMIT ?)", (query.fts5(), COMMON_LINES))
    return row is not None and row[0] >= COMMON_LINES


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(backend: str, f: Filters, only_agent: int | None, common: bool
           ) -> tuple[str, list[Any]]:
    sql: list[str] = ["v.erased_ms IS NULL"]
    params: list[Any] = []
    if f.query is not None:
        sql.append(_match(backend, common))
        params.append(f.query.tsquery() if backend == "postgres" else f.query.fts5())
    if f.visitor:  # the visitors first: then their conversations through visitor_id's index
        sql.append("c.visitor_id IN (SELECT id FROM visitors WHERE name LIKE ? ESCAPE '\\' "
                   "OR email LIKE ? ESCAPE '\\')")
        params += [_like(f.visitor)] * 2
    if f.agent:
        sql.append("c.agent_id IN (SELECT id FROM users WHERE lower(username) = lower(?))")
        params.append(f.agent)
    if only_agent is not None:
        sql.append("c.agent_id = ?")
        params.append(only_agent)
    if f.label:
        sql.append("EXISTS (SELECT 1 FROM conversation_labels cl JOIN labels lb ON "
                   "lb.id = cl.label_id WHERE cl.conversation_id = c.id AND "
                   "lower(lb.name) = lower(?))")
        params.append(f.label)
    if f.from_ms is not None:
        sql.append("c.created_ms >= ?")
        params.append(f.from_ms)
    if f.to_ms is not None:
        sql.append("c.created_ms < ?")
        params.append(f.to_ms)
    if f.rating is not None:
        sql.append("c.rating = ?")
        params.append(f.rating)
    if f.before is not None:
        sql.append("(c.created_ms < ? OR (c.created_ms = ? AND c.id < ?))")
        params += [f.before[0], f.before[0], f.before[1]]
    return " AND ".join(sql), params


async def search(store: Store, f: Filters, *, only_agent: int | None = None,
                 page: int = PAGE) -> dict[str, Any]:
    """A page of conversations matching `f`, newest first, each with its snippets;
    `only_agent`: an agent's search covers the conversations they were assigned."""
    common = f.query is not None and await _common(store, f.query)
    where, params = _where(store.backend.name, f, only_agent, common)
    rows = await store.fetchall(
        "SELECT c.id, c.created_ms, c.state, c.rating, c.language, c.topic, "  # noqa: S608
        "v.name, v.email, u.display_name FROM conversations c JOIN visitors v ON "
        f"v.id = c.visitor_id LEFT JOIN users u ON u.id = c.agent_id WHERE {where} "
        "ORDER BY c.created_ms DESC, c.id DESC LIMIT ?", (*params, page + 1))
    more = len(rows) > page
    rows = rows[:page]
    ids = [r[0] for r in rows]
    labels = await _labels(store, ids)
    lines = await _snippets(store, ids, f.query)
    found = [{
        "id": r[0], "started_ms": r[1], "state": r[2], "rating": r[3], "language": r[4],
        "topic": r[5], "visitor": {"name": r[6], "email": r[7]}, "agent": r[8],
        "labels": labels.get(r[0], []), "snippets": lines.get(r[0], []),
    } for r in rows]
    return {"conversations": found,
            "next_cursor": cursor(rows[-1][1], rows[-1][0]) if more else None}


def _in(ids: Sequence[str]) -> str:
    return ", ".join("?" for _ in ids)


async def _labels(store: Store, ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """Each conversation's labels by name; a deleted label too, as it stays on its chats."""
    out: dict[str, list[dict[str, str]]] = {}
    if not ids:
        return out
    rows: list[Row] = await store.fetchall(
        "SELECT cl.conversation_id, lb.name, lb.colour FROM conversation_labels cl "  # noqa: S608
        f"JOIN labels lb ON lb.id = cl.label_id WHERE cl.conversation_id IN ({_in(ids)}) "
        "ORDER BY lb.name", ids)
    for cid, name, colour in rows:
        out.setdefault(cid, []).append({"name": name, "colour": colour})
    return out


async def _snippets(store: Store, ids: Sequence[str], query: Query | None
                    ) -> dict[str, list[list[dict[str, object]]]]:
    """Up to SNIPPETS lines of each conversation: those the query matches (by the index's own
    rule, on their terms), or with no query its first visitor line."""
    out: dict[str, list[list[dict[str, object]]]] = {}
    if not ids:
        return out
    rows = await store.fetchall(
        "SELECT conversation_id, seq, payload FROM events "  # noqa: S608
        f"WHERE type = 'message' AND conversation_id IN ({_in(ids)}) AND seq <= ? "
        "ORDER BY conversation_id, seq",
        (*ids, LINES_READ))
    for cid, _, raw in rows:
        shown = out.setdefault(cid, [])
        if len(shown) >= (SNIPPETS if query is not None else 1):
            continue
        payload = json.loads(raw)
        text = text_of("message", payload)
        if not text:
            continue
        if query is None and payload.get("from") != "visitor":
            continue
        if query is None or query.matches(line_terms(text).split()):
            shown.append(snippet(text, query))
    return out

