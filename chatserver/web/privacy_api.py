"""The data-rights and audit HTTP API, for admins only (POSTs also need the CSRF token).

Every export and erasure is written to the audit log with counts, never with the personal data
itself, and searches are not logged at all: a search term is often the very email being erased.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatserver.core.errors import BadFrame, NotFound
from chatserver.privacy import audit
from chatserver.privacy import data_rights as privacy

from . import http_fields
from .auth import require

if TYPE_CHECKING:
    from .hub import Hub


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def find_visitors(request: Request) -> Response:
    """`?q=` an email, part of a name, a visitor id, or the visitor token from the widget."""
    await require(request, "admin")
    hub = hub_of(request)
    q = http_fields.query(request).get("q", "").strip()
    if not 2 <= len(q) <= 320:  # 320: the longest valid email address
        raise BadFrame("q: give an email, a name (2+ characters), a visitor id or token")
    token_id = hub.visitor_signer.unsign(q) if "." in q else None
    return JSONResponse({"visitors": await privacy.find_visitors(hub.store, q,
                                                                 token_id=token_id)})


async def export_visitor(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    visitor_id = http_fields.path(request, "visitor_id")
    now = hub.service.clock()
    data = await privacy.export_visitor(hub.store, visitor_id, now)
    if data is None:
        raise NotFound("no data is held about this visitor")
    await audit.record(hub.store, user, "privacy.export", visitor_id,
                       privacy.export_counts(data), audit.address_of(request), now_ms=now)
    # Streamed: the files' bytes are read and encoded one file at a time as it is sent.
    return StreamingResponse(privacy.export_json(hub.store, data),
                             media_type="application/json", headers={
        "content-disposition": f'attachment; filename="visitor-{visitor_id}.json"',
        "cache-control": "no-store"})


async def erase_visitor(request: Request) -> Response:
    user = await require(request, "admin")
    hub = hub_of(request)
    visitor_id = http_fields.path(request, "visitor_id")
    now = hub.service.clock()
    erased = await privacy.erase_visitor(hub.store, visitor_id, now,
                                         batch_size=hub.config.retention.batch_size)
    if erased is None:
        raise NotFound("no data is held about this visitor")
    await audit.record(hub.store, user, "privacy.erase", visitor_id, erased.as_dict(),
                       audit.address_of(request), now_ms=now)
    return JSONResponse(erased.as_dict())


def _int(params: QueryParams, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise BadFrame(f"{name}: must be a whole number")
    return int(value)


async def audit_log(request: Request) -> Response:
    """`?action=kb.` (a group) or `kb.update`, `user=`, `target=`, `since=`/`until=` (ms),
    `before=` (an entry id, to page back), `limit=` (at most 500)."""
    await require(request, "admin")
    params = http_fields.query(request)
    limit = _int(params, "limit") or 100
    found = await audit.entries(
        hub_of(request).store, action=params.get("action") or None,
        username=params.get("user") or None, target=params.get("target") or None,
        since_ms=_int(params, "since"), until_ms=_int(params, "until"),
        before_id=_int(params, "before"), limit=limit)
    more = len(found) == min(limit, audit.MAX_LIMIT)
    return JSONResponse({"entries": found,
                         "next_before": found[-1]["id"] if found and more else None})


routes = [
    Route("/api/privacy/visitors", find_visitors, methods=["GET"]),
    Route("/api/privacy/visitors/{visitor_id}/export", export_visitor, methods=["GET"]),
    Route("/api/privacy/visitors/{visitor_id}/erase", erase_visitor, methods=["POST"]),
    Route("/api/audit", audit_log, methods=["GET"]),
]
