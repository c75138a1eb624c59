"""Verified visitor identity: the site's own user id, signed by the site's server.

`ChatWidget.identify({id, hash})` with `hash = HMAC-SHA256(identity secret, id)` proves the
visitor is that user of the site, so one visitor row holds each verified id and every device
that proves it speaks for that row (docs/widget.md, "Verified identity"). Without a valid hash
an identify only fills in the name and email of an unverified visitor the socket already is
(as typed): it never claims an id, verified or not, so a guesser learns nothing and takes
nothing. A verified visitor's name and email are the site's, from a verified identify only;
an erased visitor's row is never written again (a verified identify makes a new visitor).

When a browser's anonymous visitor proves an id that another visitor row already holds, the
browser becomes that visitor and brings its chats along: its closed conversations join the
verified visitor's history, and its open one too unless the verified visitor already has one
open (then it stays where it was, with the agent serving it, and the widget shows the
verified visitor's). The open one moves by a `rehomed` event in its log, so every process's
projection (and the conversation row, in the event's transaction) follows it, and the agents
watching the chat are told. The anonymous row keeps what it typed (name, e-mail, offline
messages, a chat that could not move) and points at the verified one (`merged_into`), so
finding, exporting or erasing that customer covers it (privacy/data_rights.py); the row
itself is left to the retention purge. A visitor being erased is no holder: its erasure's
first job marks it erased, so a login meanwhile makes a new visitor.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from chatserver.core.conversation import State
from chatserver.store.backend import Conn
from chatserver.store.store import NewEvent, Store
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
    merged: bool = False  # an anonymous visitor joined the verified one: the same person
    moved: str | None = None  # the open conversation that followed the visitor here


class _TheirsIsOpen(Exception):
    """The verified visitor opened a chat of their own meanwhile: the open one stays."""


async def claim(journal: Journal, current_id: str, identity: Mapping[str, Any], *,
                secret: str) -> Claimed:
    """Apply one identify for the visitor `current_id` (see the module's docstring)."""
    store = journal.store
    profile = {k: identity[k] for k in ("name", "email") if identity.get(k)}
    now = journal.clock()
    if not is_signed(secret, identity["id"], identity.get("hash")):
        await store.write(lambda conn: _fill_unverified(conn, current_id, profile, now))
        return Claimed(current_id, verified=False)
    claimed = await _claim_once_more(store, current_id, identity["id"], profile, now)
    if claimed.merged:
        open_row = await store.open_conversation_of(current_id)
        if open_row is not None:
            moved = await _rehome(journal, str(open_row["id"]), current_id, claimed.visitor_id)
            claimed = replace(claimed, moved=moved)
    return claimed


async def _rehome(journal: Journal, cid: str, from_id: str, to_id: str) -> str | None:
    """Move the open conversation `cid` to `to_id` by a `rehomed` event (its files with it,
    in the event's transaction); None when it did not move (closed, or the verified visitor
    has an open chat of their own, checked in that transaction)."""
    def files(conn: Conn) -> None:
        if conn.execute("SELECT 1 FROM conversations WHERE visitor_id = ? AND "
                        "state != 'closed' AND id != ?", (to_id, cid)).fetchone() is not None:
            raise _TheirsIsOpen(cid)  # rolls the event back with the job
        conn.execute("UPDATE attachments SET visitor_id = ? WHERE conversation_id = ?",
                     (to_id, cid))

    async with journal.lock(cid):
        conv = await journal.conversation(cid, fresh=True)
        if conv.state is State.CLOSED or conv.visitor_id != from_id:
            return None
        event = NewEvent("rehomed", "system", {"visitor_id": to_id, "from_visitor_id": from_id})
        try:
            await journal.append(conv, [event], also=files)
        except _TheirsIsOpen:
            return None
    return cid


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
    from the site (a verified identify) only, and an erased visitor's are gone for good."""
    for column, value in profile.items():  # column names from the fixed pair above
        conn.execute(f"UPDATE visitors SET {column} = ?, last_seen_ms = ? "  # noqa: S608
                     "WHERE id = ? AND verified = 0 AND erased_ms IS NULL",
                     (value, now, visitor_id))


def _claim_job(conn: Conn, current_id: str, external_id: str, profile: Mapping[str, str],
               now: int) -> Claimed:
    """One transaction: find or make the verified visitor for `external_id`, bring the
    anonymous visitor's closed chats to it, and store the profile the site gave (only that:
    what the anonymous visitor typed is not the site's word)."""
    # An UPDATE, not a SELECT: it locks the holder's row, so on PostgreSQL an erasure's first
    # job (which makes the holder unclaimable) either waits for this claim, whose chats it
    # then walks, or commits first and this finds no holder (READ COMMITTED re-checks it).
    held = conn.execute("UPDATE visitors SET last_seen_ms = ? WHERE external_id = ? AND "
                        "verified = 1 AND erased_ms IS NULL RETURNING id",
                        (now, external_id)).fetchall()  # all: the statement runs to its end
    holder = held[0] if held else None
    current = conn.execute("SELECT verified, erased_ms FROM visitors WHERE id = ?",
                           (current_id,)).fetchone()
    anonymous = current is not None and not current[0] and current[1] is None
    merged = False
    if holder is not None:
        target = str(holder[0])
        merged = target != current_id and anonymous
        if merged:
            _move_closed(conn, current_id, target)
            conn.execute("UPDATE visitors SET merged_into = ? WHERE id = ?",
                         (target, current_id))
    elif anonymous:  # the first device to prove this id: this visitor becomes it
        target = current_id
        conn.execute("UPDATE visitors SET external_id = ?, verified = 1, name = '', "
                     "email = '' WHERE id = ?", (external_id, target))  # typed: not the site's
    else:  # another verified user (an account switch) or an erased visitor: a new visitor
        target = new_id()
        conn.execute(
            "INSERT INTO visitors (id, name, email, language, created_ms, last_seen_ms, "
            "external_id, verified) VALUES (?, '', '', '', ?, ?, ?, 1)",
            (target, now, now, external_id))
    conn.execute("UPDATE visitors SET last_seen_ms = ? WHERE id = ?", (now, target))
    for column, value in profile.items():  # column names from the fixed pair in `claim`
        conn.execute(f"UPDATE visitors SET {column} = ? WHERE id = ?",  # noqa: S608
                     (value, target))
    return Claimed(target, verified=True, merged=merged)


def _move_closed(conn: Conn, from_id: str, to_id: str) -> None:
    """The anonymous visitor's closed chats (and their files) become the verified visitor's
    history; the open one moves by its own event (`_rehome`)."""
    conn.execute("UPDATE attachments SET visitor_id = ? WHERE visitor_id = ? AND "
                 "conversation_id IN (SELECT id FROM conversations WHERE visitor_id = ? AND "
                 "state = 'closed')", (to_id, from_id, from_id))
    conn.execute("UPDATE conversations SET visitor_id = ? WHERE visitor_id = ? AND "
                 "state = 'closed'", (to_id, from_id))
