"""A visitor's earlier conversations, as agents see them beside a new chat: when, about what,
with whom, how it ended and how it was rated, and the visitor's first line.

Read from the conversation rows and the log (a survey event holds the rating, the first
visitor `message` event the first line): nothing is kept twice. "Earlier" means closed; the
open chat is the one on the agent's screen. Erased visitors have no history (`profile` says
so with None). Who may read whose history is the web layer's (history_api.py).
"""

from __future__ import annotations

from typing import Any

from chatserver.store.store import Store

PAGE = 20  # conversations per page: a screenful in the visitor panel
FIRST_LINE_CHARS = 140  # one or two lines of the panel; the transcript has the rest


def first_line(text: str | None) -> str:
    """The visitor's opening words on one line, cut at FIRST_LINE_CHARS with an ellipsis."""
    line = " ".join((text or "").split())
    return line if len(line) <= FIRST_LINE_CHARS else line[:FIRST_LINE_CHARS - 1] + "…"


def _rating(value: Any) -> int | None:
    """A survey rating as read back: JSON's number on SQLite, its text on PostgreSQL."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _resolved(value: Any) -> bool | None:
    return None if value is None else bool(value)


async def profile(store: Store, visitor_id: str) -> dict[str, Any] | None:
    """Who the visitor is, for staff: verified visitors with the site's id and email; None
    for an unknown or erased visitor."""
    row = await store.visitor(visitor_id)
    if row is None or row["erased_ms"] is not None:
        return None
    verified = bool(row["verified"])
    out: dict[str, Any] = {"id": visitor_id, "name": row["name"], "verified": verified}
    if verified:
        out["external_id"] = row["external_id"]
        out["email"] = row["email"]
    return out


async def summary(store: Store, visitor_id: str) -> dict[str, Any]:
    """At a glance: a returning visitor (an earlier chat closed), how many, the last rating."""
    row = await store.fetchone(
        "SELECT (SELECT count(*) FROM conversations WHERE visitor_id = ? AND "
        "state = 'closed'), (SELECT json_extract(e.payload, '$.rating') FROM events e "
        "JOIN conversations c ON c.id = e.conversation_id WHERE c.visitor_id = ? AND "
        "e.type = 'survey' ORDER BY e.ts_ms DESC, e.seq DESC LIMIT 1)",
        (visitor_id, visitor_id))
    count, rating = (int(row[0]), row[1]) if row is not None else (0, None)
    return {"returning": count > 0, "conversations": count, "last_rating": _rating(rating)}


async def visitor_card(store: Store, visitor_id: str) -> dict[str, Any]:
    """What an offer shows of its visitor: who (verified or not) and the history at a glance;
    the visitor panel fetches the list itself (history_api.py)."""
    who = await profile(store, visitor_id) or {"id": visitor_id, "name": "", "verified": False}
    return {**who, **await summary(store, visitor_id)}


def parse_cursor(cursor: str) -> tuple[int, str] | None:
    """A page's `next` ("<created_ms>.<id>") back into its key; None when malformed."""
    created, _, cid = cursor.partition(".")
    # ASCII digits, 15 at most: a time in ms; more would not bind on SQLite (64 bits)
    if not (created.isascii() and created.isdigit() and len(created) <= 15) or not cid or (
            len(cursor) > 100):
        return None
    return int(created), cid


async def conversations(store: Store, visitor_id: str, *, before: tuple[int, str] | None = None,
                        limit: int = PAGE) -> tuple[list[dict[str, Any]], str | None]:
    """One page of earlier conversations, newest first, and the cursor of the next page."""
    created, cid = before if before is not None else (2**62, "")
    rows = await store.fetchall(
        "SELECT c.id, c.created_ms, c.closed_ms, c.topic, c.language, c.resolved, "
        "u.display_name AS agent, "
        "(SELECT json_extract(e.payload, '$.rating') FROM events e WHERE "
        "e.conversation_id = c.id AND e.type = 'survey' ORDER BY e.seq DESC LIMIT 1) "
        "AS rating, "
        "(SELECT json_extract(e.payload, '$.text') FROM events e WHERE "
        "e.conversation_id = c.id AND e.type = 'message' AND e.author = 'visitor' "
        "ORDER BY e.seq LIMIT 1) AS first_line "
        "FROM conversations c LEFT JOIN users u ON u.id = c.agent_id "
        "WHERE c.visitor_id = ? AND c.state = 'closed' AND (c.created_ms < ? OR "
        "(c.created_ms = ? AND (? = '' OR c.id < ?))) "
        "ORDER BY c.created_ms DESC, c.id DESC LIMIT ?",
        (visitor_id, created, created, cid, cid, limit + 1))
    page = [{
        "id": r["id"], "started_ms": r["created_ms"], "closed_ms": r["closed_ms"],
        "topic": r["topic"], "language": r["language"], "agent": r["agent"] or "",
        "rating": _rating(r["rating"]), "resolved": _resolved(r["resolved"]),
        "first_line": first_line(r["first_line"])} for r in rows[:limit]]
    more = len(rows) > limit
    return page, f"{page[-1]['started_ms']}.{page[-1]['id']}" if more else None
