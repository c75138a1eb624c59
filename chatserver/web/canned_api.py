"""The canned-responses HTTP API: every staff user reads the team's and their own; admins change
the team's (each change in the audit log), everyone changes only their own
(service/canned.py decides). Changes need the session's CSRF token; errors name the field,
and for a placeholder the placeholder."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.core.canned import NAME_FALLBACK, PLACEHOLDERS, CannedError
from chatserver.core.errors import BadFrame
from chatserver.privacy import audit
from chatserver.service.canned import CannedResponses, Record

from . import http_fields
from .auth import require
from .kb_api import hub_of, json_body

STAFF = ("agent", "supervisor", "admin")
SCOPES = ("team", "personal")
MAX_QUERY = 200  # a search box, not a document


def invalid(error: CannedError) -> Response:
    body = {"error": "invalid", "field": error.field, "message": error.message}
    if error.placeholder is not None:
        body["placeholder"] = error.placeholder
    return JSONResponse(body, status_code=422)


def _canned(request: Request) -> CannedResponses:
    hub = hub_of(request)
    return CannedResponses(hub.store, max_text=hub.config.limits.max_text_chars)


def _id(request: Request) -> int:
    return http_fields.row_id(request, "response_id", "canned response")


def _audit(request: Request, user: Any, action: str, **extra: Any) -> Record:
    """The audit entry of a change, written with it; the service writes it for team responses
    only (a user's own are theirs, like a draft)."""
    address, clock = audit.address_of(request), hub_of(request).service.clock
    return lambda canned: audit.entry_job(
        user, action, f"canned:{canned.id}",
        {"version": canned.version, "shortcut": canned.shortcut, **extra}, address,
        now_ms=clock())


async def list_responses(request: Request) -> Response:
    """The team's and the user's own (`?scope=` one list, `?q=` words), with what the console
    needs to fill them: the desk's language, the name's fallback per language, placeholders."""
    user = await require(request, *STAFF)
    params = http_fields.query(request)
    scope, query = params.get("scope") or None, params.get("q", "").strip()
    if scope is not None and scope not in SCOPES:
        raise BadFrame("scope must be team or personal")
    if len(query) > MAX_QUERY:
        raise BadFrame(f"q must be at most {MAX_QUERY} characters")
    responses = await _canned(request).visible(user["id"], scope=scope, query=query or None)
    return JSONResponse({"responses": responses,
                         "default_language": hub_of(request).config.desk.language,
                         "name_fallback": NAME_FALLBACK, "placeholders": list(PLACEHOLDERS)},
                        headers={"cache-control": "no-store"})


async def create_response(request: Request) -> Response:
    """`scope` "team" (admins) or "personal" (the default: least privilege)."""
    user = await require(request, *STAFF)
    body = await json_body(request)
    scope = body.pop("scope", "personal")
    if scope not in SCOPES:
        return invalid(CannedError("scope", "must be team or personal"))
    try:
        made = await _canned(request).create(body, user, team=scope == "team",
                                             now_ms=hub_of(request).service.clock(),
                                             record=_audit(request, user, "canned.create"))
    except CannedError as e:
        return invalid(e)
    return JSONResponse(made, status_code=201)


async def get_response(request: Request) -> Response:
    user = await require(request, *STAFF)
    return JSONResponse(await _canned(request).get(_id(request), user))


async def update_response(request: Request) -> Response:
    user = await require(request, *STAFF)
    body = await json_body(request)
    try:
        changed = await _canned(request).update(_id(request), body, user,
                                                hub_of(request).service.clock(),
                                                _audit(request, user, "canned.update"))
    except CannedError as e:
        return invalid(e)
    return JSONResponse(changed)


async def delete_response(request: Request) -> Response:
    user = await require(request, *STAFF)
    await _canned(request).delete(_id(request), user, hub_of(request).service.clock(),
                                  _audit(request, user, "canned.delete"))
    return Response(status_code=204)


async def response_history(request: Request) -> Response:
    user = await require(request, *STAFF)
    return JSONResponse({"versions": await _canned(request).history(_id(request), user)})


async def restore_response(request: Request) -> Response:
    user = await require(request, *STAFF)
    version = (await json_body(request)).get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
        return invalid(CannedError("version", "must be a version number from the history"))
    try:
        restored = await _canned(request).restore(
            _id(request), version, user, hub_of(request).service.clock(),
            _audit(request, user, "canned.restore", restored_version=version))
    except CannedError as e:
        return invalid(e)
    return JSONResponse(restored)


routes = [
    Route("/api/canned", list_responses, methods=["GET"]),
    Route("/api/canned", create_response, methods=["POST"]),
    Route("/api/canned/{response_id:int}", get_response, methods=["GET"]),
    Route("/api/canned/{response_id:int}", update_response, methods=["PUT", "PATCH"]),
    Route("/api/canned/{response_id:int}", delete_response, methods=["DELETE"]),
    Route("/api/canned/{response_id:int}/history", response_history, methods=["GET"]),
    Route("/api/canned/{response_id:int}/restore", restore_response, methods=["POST"]),
]
