"""Webhook endpoints over HTTP, for admins (`/api/webhooks`; the page is /admin/webhooks).

An endpoint's secret is shown once, in the answer that made or replaced it; it is never read
back. A URL is refused when its host resolves to a loopback, private, link-local, multicast or
reserved address, unless `[webhooks] allow_private` (checked again at every delivery). Every
change goes to the audit log, without the secret.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatserver.core import webhooks as rules
from chatserver.core.errors import NotFound
from chatserver.privacy import audit
from chatserver.service import webhook_outbox as outbox
from chatserver.service.webhook_client import Refused, checked_address

from . import http_fields
from .auth import require
from .kb_api import json_body

if TYPE_CHECKING:
    from chatserver.service.webhooks import Webhooks

    from .hub import Hub

NO_STORE = {"cache-control": "no-store"}


def invalid(error: rules.WebhookError) -> Response:
    """A refused field: `message` is a fixed msgid, its {placeholders} filled by the page
    from `values` (fmt), so it reads in the admin's language."""
    return JSONResponse({"error": "invalid", "field": error.field, "message": error.message,
                         "values": error.values, "text": str(error)}, status_code=422)


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _changed(request: Request) -> None:
    deliverer: Webhooks | None = getattr(request.app.state, "webhooks", None)
    if deliverer is not None:
        deliverer.changed()


async def _checked_url(request: Request, value: object) -> str:
    """The URL, refused when it cannot be called from here (its addresses, see above)."""
    where = rules.destination(value)
    try:
        await checked_address(where, _hub(request).config.webhooks.allow_private)
    except Refused as error:
        raise rules.WebhookError("url", error.message, **error.values) from None
    return str(value).strip()


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)  # 256 bits


async def _endpoint(request: Request, endpoint_id: int) -> dict[str, Any]:
    for endpoint in await outbox.endpoints(_hub(request).store):
        if endpoint["id"] == endpoint_id:
            return endpoint
    raise NotFound("no such webhook")


async def list_endpoints(request: Request) -> Response:
    await require(request, "admin")
    return JSONResponse({"endpoints": await outbox.endpoints(_hub(request).store),
                         "event_types": list(rules.EVENT_TYPES)}, headers=NO_STORE)


async def create_endpoint(request: Request) -> Response:
    me = await require(request, "admin")
    hub, body = _hub(request), await json_body(request)
    try:
        events = rules.events_of(body.get("events"))
        description = rules.description_of(body.get("description"))
        secret = rules.secret_of(body.get("secret")) or new_secret()
        url = await _checked_url(request, body.get("url"))
    except rules.WebhookError as error:
        return invalid(error)
    endpoint_id = await outbox.create(hub.store, url, description, secret, events, me["id"],
                                      hub.service.clock())
    await audit.record(hub.store, me, "webhook.create", f"webhook:{endpoint_id}",
                       {"url": url, "event_types": ", ".join(events)},
                       audit.address_of(request))
    _changed(request)
    return JSONResponse({"endpoint": await _endpoint(request, endpoint_id), "secret": secret},
                        status_code=201, headers=NO_STORE)


async def update_endpoint(request: Request) -> Response:
    """Change the URL, description or event types, or enable/disable (`enabled`)."""
    me = await require(request, "admin")
    hub = _hub(request)
    endpoint_id = http_fields.row_id(request, "endpoint_id", "webhook")
    old = await _endpoint(request, endpoint_id)
    body = await json_body(request)
    changes: dict[str, Any] = {}
    events = None
    try:
        if "url" in body:
            changes["url"] = await _checked_url(request, body["url"])
        if "description" in body:
            changes["description"] = rules.description_of(body["description"])
        if "events" in body:
            events = rules.events_of(body["events"])
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise rules.WebhookError("enabled", "enabled must be true or false")
            if body["enabled"] != old["enabled"]:
                changes["enabled"] = int(body["enabled"])
    except rules.WebhookError as error:
        return invalid(error)
    if not await outbox.update(hub.store, endpoint_id, changes, events, hub.service.clock()):
        raise NotFound("no such webhook")
    action = {1: "webhook.enable", 0: "webhook.disable"}.get(changes.get("enabled", -1),
                                                              "webhook.update")
    detail = {k: v for k, v in changes.items() if k != "enabled"}
    if events is not None:
        detail["event_types"] = ", ".join(events)
    await audit.record(hub.store, me, action, f"webhook:{endpoint_id}", detail,
                       audit.address_of(request))
    _changed(request)
    return JSONResponse({"endpoint": await _endpoint(request, endpoint_id)}, headers=NO_STORE)


async def replace_secret(request: Request) -> Response:
    """A new secret (the one sent, or a new random one), shown in this answer only."""
    me = await require(request, "admin")
    hub = _hub(request)
    endpoint_id = http_fields.row_id(request, "endpoint_id", "webhook")
    body = await json_body(request)
    try:
        secret = rules.secret_of(body.get("secret")) or new_secret()
    except rules.WebhookError as error:
        return invalid(error)
    if not await outbox.update(hub.store, endpoint_id, {"secret": secret}, None,
                               hub.service.clock()):
        raise NotFound("no such webhook")
    await audit.record(hub.store, me, "webhook.secret", f"webhook:{endpoint_id}", {},
                       audit.address_of(request))
    _changed(request)
    return JSONResponse({"secret": secret}, headers=NO_STORE)


async def delete_endpoint(request: Request) -> Response:
    me = await require(request, "admin")
    hub = _hub(request)
    endpoint_id = http_fields.row_id(request, "endpoint_id", "webhook")
    old = await _endpoint(request, endpoint_id)
    if not await outbox.delete(hub.store, endpoint_id):
        raise NotFound("no such webhook")
    await audit.record(hub.store, me, "webhook.delete", f"webhook:{endpoint_id}",
                       {"url": old["url"]}, audit.address_of(request))
    _changed(request)
    return Response(status_code=204)


async def list_deliveries(request: Request) -> Response:
    await require(request, "admin")
    endpoint_id = http_fields.row_id(request, "endpoint_id", "webhook")
    await _endpoint(request, endpoint_id)
    return JSONResponse({"deliveries": await outbox.deliveries(_hub(request).store,
                                                               endpoint_id)},
                        headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/api/webhooks", list_endpoints, methods=["GET"]),
    Route("/api/webhooks", create_endpoint, methods=["POST"]),
    Route("/api/webhooks/{endpoint_id:int}", update_endpoint, methods=["PATCH"]),
    Route("/api/webhooks/{endpoint_id:int}", delete_endpoint, methods=["DELETE"]),
    Route("/api/webhooks/{endpoint_id:int}/secret", replace_secret, methods=["POST"]),
    Route("/api/webhooks/{endpoint_id:int}/deliveries", list_deliveries, methods=["GET"]),
]
