"""The admin's inbox of phrasings learnt from agents, and the questions no entry answers.

Admins only (the inbox shows visitors' words), with the session's CSRF token on every change,
like the knowledge-base API; approving and rejecting go to the audit log with ids only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.core.errors import BadFrame
from chatserver.privacy import audit
from knowledge_base.model import EntryError

from . import http_fields
from .auth import require
from .kb_api import hub_of, invalid, json_body

STATUSES = ("pending", "approved", "rejected", "expired")


def _id(request: Request) -> int:
    return http_fields.row_id(request, "proposal_id", "proposal")


async def list_proposals(request: Request) -> Response:
    await require(request, "admin")
    status = http_fields.query(request).get("status", "pending")
    if status not in STATUSES:
        raise BadFrame(f"status must be one of: {', '.join(STATUSES)}")
    learning = hub_of(request).learning
    return JSONResponse({"proposals": await learning.proposals(status),
                         "pending": await learning.pending_count()})


async def _record(request: Request, user: Any, action: str, proposal: dict[str, Any],
                  **extra: Any) -> None:
    await audit.record(hub_of(request).store, user, action, f"kb:{proposal['entry_id']}",
                       {"proposal": proposal["id"], **extra}, audit.address_of(request))


async def approve(request: Request) -> Response:
    """Body `{}` adds the visitor's words as they are; `{"text": "…"}` adds the admin's edit."""
    user = await require(request, "admin")
    hub = hub_of(request)
    body = await json_body(request)
    text = body.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        return invalid(EntryError("text", "must be the phrasing to add, or left out"))
    try:
        proposal, entry = await hub.learning.approve(_id(request), user, hub.service.clock(),
                                                     text)
    except EntryError as e:
        return invalid(e)
    await _record(request, user, "kb.learn.approve", proposal, version=entry.version,
                  edited=text is not None and proposal["added_text"] != proposal["text"])
    return JSONResponse({"proposal": proposal, "entry": entry.to_dict()})


async def reject(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    proposal = await hub.learning.reject(_id(request), user, hub.service.clock())
    await _record(request, user, "kb.learn.reject", proposal)
    return JSONResponse({"proposal": proposal})


async def unanswered(request: Request) -> Response:
    await require(request, "admin")
    try:
        days = int(http_fields.query(request).get("days", "30"))
    except ValueError:
        raise BadFrame("days must be a whole number of days") from None
    if not 1 <= days <= 365:
        raise BadFrame("days must be between 1 and 365")
    hub = hub_of(request)
    return JSONResponse({"days": days, "groups": await hub.learning.unanswered(
        hub.service.clock(), days=days)})


routes = [
    Route("/api/kb/proposals", list_proposals, methods=["GET"]),
    Route("/api/kb/proposals/{proposal_id:int}/approve", approve, methods=["POST"]),
    Route("/api/kb/proposals/{proposal_id:int}/reject", reject, methods=["POST"]),
    Route("/api/kb/unanswered", unanswered, methods=["GET"]),
]
