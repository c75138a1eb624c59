"""Verified visitor identity: the site's own user id, signed by the site's server.

`ChatWidget.identify({id, hash})` with `hash = HMAC-SHA256(identity secret, id)` proves the
visitor is that user of the site, so one visitor row holds each verified id and every device
that proves it speaks for that row (docs/widget.md, "Verified identity"). Without a valid hash
an identify only fills in the name and email of the visitor the socket already is: it never
claims an id, verified or not, so a guesser learns nothing and takes nothing.

When a browser's anonymous visitor proves an id that another visitor row already holds, the
browser becomes that visitor and brings its chats along: its closed conversations join the
verified visitor's history, and its open one too unless the verified visitor already has one
open (then it stays where it was, with the agent serving it, and the widget shows the
verified visitor's). The emptied anonymous row is left to the retention purge.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatserver.store.backend import Conn
from chatserver.store.store import Store
from chatserver.tokens import new_id

from .journal import Journal


def signature(secret: str, external_id: str) -> str:
    """The hash a site's server computes for its user id: HMAC-SHA256, lowercase hex."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def is_signed(secret: str, external_id: str, given: str | None) -> bool:
    """Whether `given` is the id's signature; never with verification off (empty secret).
    Compared in constant time on bytes (a non-ASCII str would raise in compare_digest)."""
    if not secret or not given:
        return False
    expected = signature(secret, external_id).encode()
    return hmac.compare_digest(expected, given.strip().lower().encode())


@dataclass(frozen=True)
class Claimed:
    """Who the socket speaks for after an identify, and whether that identify was proven."""

    visitor_id: str
    verified: bool
    moved: str | None = None  # the open conversation that followed the visitor here


async def claim(journal: Journal, current_id: str, identity: Mapping[str, Any], *,
                secret: str) -> Claimed:
    """Apply one identify for the visitor `current_id` (see the module's docstring)."""
    store = journal.store
    profile = {k: identity[k] for k in ("name", "email") if identity.get(k)}
    now = journal.clock()
    if not is_signed(secret, identity["id"], identity.get("hash")):
        await store.write(lambda conn: _fill_unverified(conn, current_id, profile, now))
        return Claimed(current_id, verified=False)
    open_row = await store.open_conversation_of(current_id)
    if open_row is None:
        return await _claim_once_more(store, current_id, identity["id"], profile, now)
    cid = open_row["id"]
    async with journal.lock(cid):  # no line lands on the conversation while it moves
        claimed = await _claim_once_more(store, current_id, identity["id"], profile, now)
        if claimed.moved == cid:
            journal.rehome(cid, claimed.visitor_id)
    return claimed


async def _claim_once_more(store: Store, current_id: str, external_id: str,
                           profile: Mapping[str, str], now: int) -> Claimed:
    """The claim's transaction, run again if it fails once: two machines proving a new id at
    the same moment (PostgreSQL, READ COMMITTED) both find no holder, and the second's write
    meets the first's row in the unique index; run again, it finds that row."""
    def job(conn: Conn) -> Claimed:
        return _claim_job(conn, current_id, external_id, profile, now)

    try:
        return await store.write(job)
    except store.backend.errors:
        return await store.write(job)


def _fill_unverified(conn: Conn, visitor_id: str, profile: Mapping[str, str],
                     now: int) -> None:
    """Name and email as typed: kept on an unverified visitor; a verified visitor's come
    from the site (a verified identify) only."""
    for column, value in profile.items():  # column names from the fixed pair above
        conn.execute(f"UPDATE visitors SET {column} = ?, last_seen_ms = ? "  # noqa: S608
                     "WHERE id = ? AND verified = 0", (value, now, visitor_id))


def _claim_job(conn: Conn, current_id: str, external_id: str, profile: Mapping[str, str],
               now: int) -> Claimed:
    """One transaction: find or make the verified visitor for `external_id`, bring the
    anonymous visitor's chats to it, and store the profile the site gave."""
    holder = conn.execute("SELECT id FROM visitors WHERE external_id = ? AND verified = 1",
                          (external_id,)).fetchone()
    current = conn.execute("SELECT verified FROM visitors WHERE id = ?",
                           (current_id,)).fetchone()
    anonymous = current is not None and not current[0]
    moved = None
    if holder is not None:
        target = str(holder[0])
        if target != current_id and anonymous:
            moved = _move_conversations(conn, current_id, target)
    elif anonymous:  # the first device to prove this id: this visitor becomes it
        target = current_id
        conn.execute("UPDATE visitors SET external_id = ?, verified = 1 WHERE id = ?",
                     (external_id, target))
    else:  # this browser is another verified user (an account switch): a visitor of its own
        target = new_id()
        conn.execute(
            "INSERT INTO visitors (id, name, email, language, created_ms, last_seen_ms, "
            "external_id, verified) VALUES (?, '', '', '', ?, ?, ?, 1)",
            (target, now, now, external_id))
    conn.execute("UPDATE visitors SET last_seen_ms = ? WHERE id = ?", (now, target))
    for column, value in profile.items():  # column names from the fixed pair in `claim`
        conn.execute(f"UPDATE visitors SET {column} = ? WHERE id = ?",  # noqa: S608
                     (value, target))
    return Claimed(target, verified=True, moved=moved)


def _move_conversations(conn: Conn, from_id: str, to_id: str) -> str | None:
    """The anonymous visitor's chats become the verified visitor's; returns the open one
    moved, if any (not when the verified visitor already has one open)."""
    mine = conn.execute("SELECT id FROM conversations WHERE visitor_id = ? AND "
                        "state != 'closed'", (from_id,)).fetchone()
    theirs = conn.execute("SELECT 1 FROM conversations WHERE visitor_id = ? AND "
                          "state != 'closed'", (to_id,)).fetchone()
    moved = str(mine[0]) if mine is not None and theirs is None else None
    conn.execute("UPDATE attachments SET visitor_id = ? WHERE visitor_id = ? AND "
                 "conversation_id IN (SELECT id FROM conversations WHERE visitor_id = ? AND "
                 "(state = 'closed' OR id = ?))", (to_id, from_id, from_id, moved or ""))
    conn.execute("UPDATE conversations SET visitor_id = ? WHERE visitor_id = ? AND "
                 "(state = 'closed' OR id = ?)", (to_id, from_id, moved or ""))
    return moved
