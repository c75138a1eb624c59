"""Search on both backends: the query, and the background indexing of lines. The index itself
(`search_lines`, migration 11) is written by search_index.py.

The store's append leaves each `message` line's key in `search_pending`, in the line's own
transaction, so no line is ever left out; `index_new_lines` turns waiting keys into terms
(core/search_text.py, one pure tokeniser) a second later, thousands per transaction, and a
search first indexes whatever waits, so it finds every line stored before it. (Indexing a line
at a time inside its own transaction cost the writer more than everything else the line needs:
docs/performance.md.) SQLite indexes the terms with FTS5 (an external-content table kept by
triggers); PostgreSQL with a GIN index over `array_to_tsvector` of the same tokens. Neither
database's own tokeniser decides anything, so the two find the same lines (docs/console.md,
"Search").

A conversation matches when its lines, together, hold every word of the query: one condition
per word (a set of conversations through the index), the page read newest first.

An erased or retention-scrubbed line loses its row (`forget_lines`, called where the text is
rewritten); conversations of an erased visitor are never answered.

The visitor filter finds each of its words as the beginning of a term of the visitor's name or
e-mail (`visitor_terms`, the same tokeniser, so "zoe" finds Zoë and علی finds علي), through the
table's primary key on both backends; visitors named since the last search are indexed first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from chatserver.core.labels import name_key
from chatserver.core.search_text import Filters, Query, cursor, snippet, terms_of

from .backend import Conn, Row
from .search_index import TOMBSTONE, index_lines, index_visitors, index_waiting, text_of
from .search_refold import refold
from .store import Store

log = logging.getLogger("chatserver.search")
BACKFILL_MARK = "search_backfill"  # in `meta` while lines stored before migration 11 wait
BACKFILL_BATCH = 500
# Waiting lines indexed per write turn: a turn delays the chat lines committed in its group,
# and its cost per line grows with its size. Loaded machine, one turn: 500 lines 60-78 ms
# (every frame above the quick bench's p99 was sent during one), 100 lines 8.5 ms, 50 lines
# 2.6-4 ms (issue 22).
WAITING_BATCH = 50
INDEX_INTERVAL_S = 1.0  # how long a new line waits for the indexer, unless someone searches
PAGE = 20  # conversations per page of results
SNIPPETS = 3  # matching lines shown per conversation
# Lines read per conversation for the first visitor line shown when there is no text query.
LINES_READ = 400
VISITORS_BATCH = 2000  # visitors indexed per write turn
SEARCH_BATCHES = 5  # of visitors a visitor search indexes first, at most
MAX_VISITOR_TERMS = 8  # words of the visitor filter looked up (a name and an e-mail)


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
    # A line the retention purge or an erasure already emptied is not indexed: its tombstone
    # is not the visitor's words (a line erased after migration 11 loses its row alike).
    index_lines(conn, ((r[0], r[1], t) for r in rows
                       if (t := text_of("message", json.loads(r[2]))) != TOMBSTONE))
    if len(rows) < limit:
        conn.execute("DELETE FROM meta WHERE key = ?", (BACKFILL_MARK,))
        return False
    conn.execute("UPDATE meta SET value = ? WHERE key = ?",
                 (f"{rows[-1][0]}\n{rows[-1][1]}", BACKFILL_MARK))
    return True


async def backfill(store: Store, batch: int = BACKFILL_BATCH, pause_s: float = 0.01) -> None:
    """At start-up: index again what an earlier Chinese folding indexed otherwise
    (search_refold.py), index the visitors not indexed yet, then the lines a database held
    before search existed, a batch per writer turn, with a pause between (the chats' own
    writes go first). Resumes where it stopped; several processes may run it at once (a line
    or a visitor is indexed once)."""
    try:
        await refold(store, batch, pause_s)
        await index_named(store, pause_s=pause_s)
        while await store.write(  # noqa: ASYNC110 -- the pause lets the chats' writes in
                lambda conn: _backfill_batch(conn, batch)):
            await asyncio.sleep(pause_s)
    except Exception as error:  # the database went away: the mark keeps the place
        log.warning("search: indexing earlier lines stopped (%s); the next start resumes it",
                    error)


async def index_new_lines(store: Store, interval_s: float = INDEX_INTERVAL_S) -> None:
    """For the server's life: every `interval_s`, index the lines stored since (several
    processes may run it at once: a line is indexed once, its key deleted once). A failed
    turn (the database away) is tried again at the next."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await index_waiting_lines(store)
        except Exception as error:  # the keys stay; the next turn takes them
            log.warning("search: indexing new lines failed (%s); retrying", error)


async def index_waiting_lines(store: Store) -> None:
    """Index every line waiting now, a batch per write turn."""
    lock = " FOR SHARE OF e" if store.backend.name == "postgres" else ""  # search_index.py
    while await store.fetchone("SELECT 1 FROM search_pending LIMIT 1"):
        if await store.write(lambda conn: index_waiting(conn, WAITING_BATCH, lock)
                             ) < WAITING_BATCH:
            return


async def index_named(store: Store, *, batches: int | None = None,
                      pause_s: float = 0.0) -> None:
    """Index the visitors named (or renamed, or created) since the last time, a batch per
    write turn: all of them, or up to `batches` (a search does not wait for the whole desk of
    a database just upgraded, which start-up indexes meanwhile)."""
    done = 0
    while (batches is None or done < batches) and await store.fetchone(
            "SELECT 1 FROM visitors WHERE search_key IS NULL LIMIT 1"):
        if not await store.write(lambda conn: index_visitors(conn, VISITORS_BATCH)):
            return
        done += 1
        await asyncio.sleep(pause_s)


# Matching lines counted before choosing how SQLite finds the newest conversations: below
# it, from the matches (sorted after); from it on, newest conversation first, each checked
# against the matches, stopping at a page. Measured on 100,000 chats (docs/performance.md):
# "order" (in half of them) 176 -> 36 ms, a rare word stays under 1 ms.
COMMON_LINES = 2000


def _match(backend: str, common: bool) -> str:
    """The SQL condition on `c` that one of its lines matches one word of the query (one
    parameter). `common`: written so that SQLite walks conversations newest first, checking
    each (the same answer)."""
    if backend == "postgres":  # its planner chooses from the index's statistics
        return ("c.id IN (SELECT l.conversation_id FROM search_lines l WHERE "
                "array_to_tsvector(string_to_array(l.terms, ' ')) @@ CAST(? AS tsquery))")
    if common:
        return ("EXISTS (SELECT 1 FROM search_lines l WHERE l.conversation_id = c.id AND "
                "l.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))")
    return ("c.id IN (SELECT l.conversation_id FROM search_lines l WHERE "
            "l.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))")


async def _words(store: Store, query: Query) -> list[tuple[str, bool]]:
    """The query's words as (parameter, common), the rarest first. On SQLite, each word's
    matching lines are counted up to COMMON_LINES (a bounded count, about 15 ms for a word in
    half of 100,000 chats): the rarest drives the search, a common one is checked per
    conversation. PostgreSQL's planner chooses from the index's statistics itself."""
    if store.backend.name == "postgres":
        return [(w, False) for w in query.tsquery()]
    counted = []
    for word in query.fts5():
        row = await store.fetchone(
            "SELECT count(*) FROM (SELECT rowid FROM search_fts WHERE search_fts MATCH ? "
            "LIMIT ?)", (word, COMMON_LINES))
        counted.append((row[0] if row else 0, word))
    counted.sort(key=lambda c: c[0])
    rarest_common = counted[0][0] >= COMMON_LINES
    return [(w, rarest_common or i > 0) for i, (_, w) in enumerate(counted)]


def _prefix_range(term: str) -> tuple[str, str]:
    """The terms starting with `term`, as a range of the primary key: code point order on
    both backends (the "C" collation on PostgreSQL), and no term holds U+10FFFF (a
    noncharacter) to fall past the end."""
    return term, term + "\U0010ffff"


def _where(backend: str, f: Filters, words: list[tuple[str, bool]],
           only_agent: int | None) -> tuple[str, list[Any]]:
    sql: list[str] = ["v.erased_ms IS NULL"]
    params: list[Any] = []
    for word, common in words:
        sql.append(_match(backend, common))
        params.append(word)
    for term in terms_of(f.visitor)[:MAX_VISITOR_TERMS]:
        sql.append("c.visitor_id IN (SELECT visitor_id FROM visitor_terms "
                   "WHERE term >= ? AND term < ?)")
        params += _prefix_range(term)
    if f.agent:  # any agent it was assigned to, before a transfer too (events_assigned)
        sql.append("c.id IN (SELECT e.conversation_id FROM events e WHERE e.type = 'assigned' "
                   "AND e.author IN (SELECT 'agent:' || u.id FROM users u "
                   "WHERE lower(u.username) = lower(?)))")
        params.append(f.agent)
    if only_agent is not None:
        sql.append("c.agent_id = ?")
        params.append(only_agent)
    if f.label:  # on the key folded in Python (core/labels.py), as the backends' lower() differ
        sql.append("EXISTS (SELECT 1 FROM conversation_labels cl JOIN labels lb ON "
                   "lb.id = cl.label_id WHERE cl.conversation_id = c.id AND lb.name_key = ?)")
        params.append(name_key(f.label))
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
    if f.query is not None:
        await index_waiting_lines(store)  # every line stored before this search is found
    words = await _words(store, f.query) if f.query is not None else []
    if f.visitor:
        await index_named(store, batches=SEARCH_BATCHES)
    where, params = _where(store.backend.name, f, words, only_agent)
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
    """Up to SNIPPETS lines of each conversation holding a word of the query (found from the
    index's terms; only those lines are read), or with no query its first visitor line."""
    out: dict[str, list[list[dict[str, object]]]] = {}
    if not ids:
        return out
    if query is not None:
        return await _hit_lines(store, ids, query)
    rows = await store.fetchall(
        "SELECT conversation_id, seq, payload FROM events "  # noqa: S608
        f"WHERE type = 'message' AND conversation_id IN ({_in(ids)}) AND seq <= ? "
        "ORDER BY conversation_id, seq",
        (*ids, LINES_READ))
    for cid, _, raw in rows:
        if cid in out:
            continue
        payload = json.loads(raw)
        if (text := text_of("message", payload)) and payload.get("from") == "visitor":
            out[cid] = [snippet(text, None)]
    return out


async def _hit_lines(store: Store, ids: Sequence[str], query: Query
                     ) -> dict[str, list[list[dict[str, object]]]]:
    """The first SNIPPETS lines of each conversation holding a word of the query: their
    seqs from search_lines' terms (no line re-read or re-tokenised to find them), then those
    lines' text for the snippets."""
    seqs: dict[str, list[int]] = {}
    for cid, seq, terms in await store.fetchall(
            "SELECT conversation_id, seq, terms FROM search_lines "  # noqa: S608
            f"WHERE conversation_id IN ({_in(ids)}) ORDER BY conversation_id, seq", ids):
        chosen = seqs.setdefault(cid, [])
        if len(chosen) < SNIPPETS and query.touches(terms.split(" ")):
            chosen.append(seq)
    keys = [(cid, seq) for cid, chosen in seqs.items() for seq in chosen]
    out: dict[str, list[list[dict[str, object]]]] = {}
    if not keys:
        return out
    rows = await store.fetchall(
        "SELECT conversation_id, seq, payload FROM events WHERE "  # noqa: S608
        + " OR ".join("(conversation_id = ? AND seq = ?)" for _ in keys)
        + " ORDER BY conversation_id, seq", [x for key in keys for x in key])
    for cid, _, raw in rows:
        if text := text_of("message", json.loads(raw)):
            out.setdefault(cid, []).append(snippet(text, query))
    return out

