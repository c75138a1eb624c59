"""Re-indexing what an earlier Chinese folding indexed differently, once, at start-up.

Lines and visitors' names are indexed with `bot.normalize`, whose folding of Han characters
changed with OpenCC (issue 23): the 758-character table before it left 帐 (as in 帐号, a
common simplified spelling) and about 3,000 traditional characters (傘, 別, 亂…) as written,
OpenCC's `t2s` folds them. A database indexed before keeps the old terms, while a query is
folded today's way: typing the very words of an old line found nothing. So `refold` walks the
index once per change of `FOLDING` and writes again the terms that come out differently (only
rows holding a Han character can), a batch per writer turn; the `meta` mark says where it is,
so a restart resumes and several processes may run it at once.
"""

from __future__ import annotations

import asyncio
import json
import re
from importlib.metadata import version

from chatserver.core.search_text import line_terms, terms_of

from .backend import Conn
from .search_index import TOMBSTONE, forget_lines, index_lines, text_of
from .store import Store

# Names the folding the index is written with: change it when bot.normalize folds Han
# characters differently, and every database re-indexes at its next start. OpenCC's version
# is part of it, as a new release may bring new dictionaries.
FOLDING = f"opencc-t2s-{version('opencc')}"
FOLDING_MARK = "search_folding"  # in `meta`: FOLDING when done, else FOLDING, line done last
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def refold_lines(conn: Conn, limit: int) -> bool:
    """Index again the next `limit` lines' terms where today's folding writes them otherwise;
    False when every line is done."""
    mark = conn.execute("SELECT value FROM meta WHERE key = ?", (FOLDING_MARK,)).fetchone()
    value = "" if mark is None else str(mark[0])
    if value == FOLDING:
        return False
    version, _, place = value.partition("\n")
    cid, _, seq = place.partition("\n") if version == FOLDING else ("", "", "")
    rows = conn.execute(
        "SELECT l.conversation_id, l.seq, l.terms, e.payload FROM search_lines l "
        "JOIN events e ON e.conversation_id = l.conversation_id AND e.seq = l.seq "
        "WHERE (l.conversation_id, l.seq) > (?, ?) ORDER BY l.conversation_id, l.seq "
        "LIMIT ?", (cid, int(seq or -1), limit)).fetchall()
    changed = [(r[0], r[1], text) for r in rows if _HAN.search(r[2])
               and (text := text_of("message", json.loads(r[3]))) != TOMBSTONE
               and line_terms(text) != r[2]]
    forget_lines(conn, [(c, s) for c, s, _ in changed])  # no UPDATE trigger keeps FTS5 in step
    index_lines(conn, changed)
    more = len(rows) == limit
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                 "SET value = excluded.value",
                 (FOLDING_MARK, f"{FOLDING}\n{rows[-1][0]}\n{rows[-1][1]}" if more else FOLDING))
    return more


def refold_visitors(conn: Conn, after: str, limit: int) -> str | None:
    """Mark unindexed the next `limit` visitors (by id, after `after`) whose name or e-mail
    folds otherwise today, for `index_named` to index again; the last id seen, None at the
    end."""
    rows = conn.execute("SELECT id, name, email, search_key FROM visitors WHERE id > ? "
                        "AND search_key IS NOT NULL ORDER BY id LIMIT ?",
                        (after, limit)).fetchall()
    stale = [(r[0],) for r in rows if _HAN.search(r[3])
             and " ".join(terms_of(f"{r[1] or ''} {r[2] or ''}")) != r[3]]
    conn.executemany("DELETE FROM visitor_terms WHERE visitor_id = ?", stale)
    conn.executemany("UPDATE visitors SET search_key = NULL WHERE id = ?", stale)
    return str(rows[-1][0]) if len(rows) == limit else None


async def refold(store: Store, batch: int, pause_s: float) -> None:
    """Visitors, then lines, a batch per writer turn with a pause between (the chats' own
    writes go first); nothing to do once the mark says FOLDING. Visitors are walked again
    after a restart (the mark holds the lines' place only): a name already refolded is not
    written twice."""
    if await store.fetchone("SELECT 1 FROM meta WHERE key = ? AND value = ?",
                            (FOLDING_MARK, FOLDING)):
        return
    after: str | None = ""
    while after is not None:
        after = await store.write(lambda conn, a=after: refold_visitors(conn, a, batch))
        await asyncio.sleep(pause_s)
    while await store.write(  # noqa: ASYNC110 -- the pause lets the chats' writes in
            lambda conn: refold_lines(conn, batch)):
        await asyncio.sleep(pause_s)
