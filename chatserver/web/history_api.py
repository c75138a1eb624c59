"""A visitor's history for staff: their earlier conversations and, read-only, each transcript.

Least privilege: an agent reads the history of a visitor whose chat is offered to them or
theirs right now (the one they are about to serve), and the transcripts of that visitor's
conversations or of a conversation they served themselves; supervisors and admins read any.
Anything else answers 404, as for a visitor or conversation that does not exist, so an agent
cannot learn which ids are real. Erased visitors have no history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.core.errors import BadFrame, NotFound
from chatserver.service import visitor_history as history
from chatserver.service.event_frames import event_frame, shown_to_staff
from chatserver.store.store import Row, Store

from . import http_fields
from .auth import require
from .openapi import Param, api

if TYPE_CHECKING:
    from .hub import Hub

STAFF = ("agent", "supervisor", "admin")
NO_STORE = {"cache-control": "no-store"}


async def may_read(store: Store, user: Row, visitor_id: str) -> bool:
    """Supervisors and admins always; an agent while a chat of this visitor is offered to or
    held by them."""
    if user["role"] != "agent":
        return True
    row = await store.fetchone(
        "SELECT 1 FROM conversations WHERE visitor_id = ? AND agent_id = ? AND "
        "state IN ('offered', 'assigned') LIMIT 1", (visitor_id, user["id"]))
    return row is not None


@api("A visitor's earlier conversations, a page at a time", scope="read",
     params=(Param("cursor", "the `next` of the previous page"),))
async def visitor_history(request: Request) -> Response:
    """`GET /api/visitors/{visitor_id}/history[?cursor=]`: who, at a glance, and a page."""
    user = await require(request, *STAFF)
    hub: Hub = request.app.state.hub
    visitor_id = http_fields.path_id(request, "visitor_id", "visitor")
    cursor = http_fields.query(request).get("cursor", "")
    before = history.parse_cursor(cursor) if cursor else None
    if cursor and before is None:
        raise BadFrame("cursor: give the `next` of the previous page")
    profile = await history.profile(hub.store, visitor_id)
    if profile is None or not await may_read(hub.store, user, visitor_id):
        raise NotFound("no such visitor")
    page, after = await history.conversations(hub.store, visitor_id, before=before)
    return JSONResponse({"visitor": profile,
                         "summary": await history.summary(hub.store, visitor_id),
                         "conversations": page, "next": after}, headers=NO_STORE)


@api("A conversation's transcript: every event as the console's frames", scope="read")
async def transcript(request: Request) -> Response:
    """`GET /api/conversations/{conversation_id}/transcript`: every event as the console's
    frames (notes included: staff only; a whisper for its addressee and supervisors), to
    show read-only."""
    user = await require(request, *STAFF)
    hub: Hub = request.app.state.hub
    cid = http_fields.path_id(request, "conversation_id", "conversation")
    row = await hub.store.fetchone(
        "SELECT c.id, c.visitor_id, c.state, c.agent_id, c.created_ms, c.closed_ms, c.topic, "
        "c.language, c.resolved, u.display_name AS agent FROM conversations c "
        "LEFT JOIN users u ON u.id = c.agent_id WHERE c.id = ?", (cid,))
    if row is None or await history.profile(hub.store, row["visitor_id"]) is None:
        raise NotFound("no such conversation")
    if row["agent_id"] != user["id"] and not await may_read(hub.store, user, row["visitor_id"]):
        raise NotFound("no such conversation")
    events = await hub.store.events_after(cid, 0, limit=100_000)
    # A whisper only for the agent it was sent to and supervisors (event_frames.shown_to_staff).
    shown = (event_frame(e, for_visitor=False) for e in events
             if shown_to_staff(e, int(user["id"]), user["role"]))
    frames = [f for f in shown if f is not None]
    return JSONResponse({"conversation": {
        "id": row["id"], "visitor_id": row["visitor_id"], "state": row["state"],
        "started_ms": row["created_ms"], "closed_ms": row["closed_ms"], "topic": row["topic"],
        "language": row["language"], "agent": row["agent"] or "",
        "resolved": None if row["resolved"] is None else bool(row["resolved"])},
        "events": frames}, headers=NO_STORE)


routes = [
    Route("/api/visitors/{visitor_id}/history", visitor_history, methods=["GET"]),
    Route("/api/conversations/{conversation_id}/transcript", transcript, methods=["GET"]),
]
