"""API tokens for admins: the page `/admin/tokens` and `/api/tokens` behind it.

A token is shown once, in the answer that made it; the store keeps its digest (service/
api_tokens.py). Making and revoking one are audited by name and id, never the token. Only an
admin's session manages tokens: a token can neither make nor revoke one (no route here
declares a scope), so a leaked token cannot mint itself a successor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatserver.core import api_tokens as shape
from chatserver.core.errors import NotFound
from chatserver.privacy import audit
from chatserver.service.api_tokens import ApiTokens

from . import http_fields
from .auth import require
from .catalogue import N_
from .kb_api import json_body
from .openapi import api
from .pages import page_user, render

if TYPE_CHECKING:
    from .hub import Hub

TOKEN = {"type": "object", "properties": {
    "id": {"type": "integer"}, "prefix": {"type": "string"}, "name": {"type": "string"},
    "scopes": {"type": "array", "items": {"type": "string", "enum": list(shape.SCOPES)}},
    "created_by": {"type": ["integer", "null"]}, "created_ms": {"type": "integer"},
    "last_used_ms": {"type": ["integer", "null"]}, "revoked_ms": {"type": ["integer", "null"]},
    "revoked": {"type": "boolean"}}}


def tokens_of(request: Request) -> ApiTokens:
    tokens: ApiTokens = request.app.state.api_tokens
    return tokens


def invalid(error: shape.TokenFieldError) -> Response:
    return JSONResponse({"error": "invalid", "field": error.field, "message": error.message},
                        status_code=422)


@api("Every API token (never the secret): live ones first, newest first",
     response={"type": "object", "properties": {"tokens": {"type": "array", "items": TOKEN}}})
async def list_tokens(request: Request) -> Response:
    await require(request, "admin")
    return JSONResponse({"tokens": await tokens_of(request).listing()},
                        headers={"cache-control": "no-store"})


@api("Make a token; the answer's `token` is the only time it is shown",
     body={"type": "object", "required": ["name", "scopes"], "properties": {
         "name": {"type": "string", "maxLength": shape.MAX_NAME},
         "scopes": {"type": "array", "items": {"type": "string", "enum": list(shape.SCOPES)}}}},
     response={"allOf": [TOKEN, {"type": "object", "properties": {
         "token": {"type": "string"}}}]}, status=201, responses={422: "A field is not valid"})
async def create_token(request: Request) -> Response:
    me = await require(request, "admin")
    hub: Hub = request.app.state.hub
    body = await json_body(request)
    try:
        name, scopes = shape.clean_name(body.get("name")), shape.clean_scopes(body.get("scopes"))
    except shape.TokenFieldError as e:
        return invalid(e)
    row, token = await tokens_of(request).create(name, scopes, int(me["id"]))
    await audit.record(hub.store, me, "token.create", f"token:{row['id']}",
                       {"name": name, "scopes": list(scopes), "prefix": row["prefix"]},
                       audit.address_of(request))
    return JSONResponse({**row, "token": token}, status_code=201,
                        headers={"cache-control": "no-store"})


@api("Revoke a token: refused from the next request on, in every process", response=TOKEN)
async def revoke_token(request: Request) -> Response:
    me = await require(request, "admin")
    hub: Hub = request.app.state.hub
    row_id = http_fields.row_id(request, "token_id", "token")
    before = await tokens_of(request).get(row_id)
    if before is None:
        raise NotFound("no such token")
    row = await tokens_of(request).revoke(row_id, int(me["id"]))
    assert row is not None
    if not before["revoked"]:
        await audit.record(hub.store, me, "token.revoke", f"token:{row_id}",
                           {"name": row["name"], "prefix": row["prefix"]},
                           audit.address_of(request))
    return JSONResponse(row)


async def tokens_page(request: Request) -> Response:
    user = await page_user(request, "admin")
    if isinstance(user, Response):
        return user
    return render("tokens.html", request, user=user, csrf=user["csrf"], title=N_("API tokens"))


routes: list[BaseRoute] = [
    Route("/admin/tokens", tokens_page, methods=["GET"]),
    Route("/api/tokens", list_tokens, methods=["GET"]),
    Route("/api/tokens", create_token, methods=["POST"]),
    Route("/api/tokens/{token_id:int}", revoke_token, methods=["DELETE"]),
]
