"""The widget's "e-mail me this chat" (docs/email.md): over HTTP with the visitor token, as
the widget's uploads are, so the offer lives in the lazily loaded forms.js and costs the
start bundle nothing.

GET says where it would go (the address on the visitor's profile, masked) with the offer's
words in `?lang=`, or why it cannot (404: this server sends no mail; 409 `no_address`). POST
(X-Conversation-Id: an ended chat of theirs) queues it: 202. Only to the visitor's own
address, never one typed here: an address field would let anyone mail anyone a text of their
making from the shop's server.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.core.errors import BadFrame, ChatError, Forbidden, Unauthorized
from chatserver.core.mail_words import offer_words
from chatserver.privacy.iplimits import KeyedLimiter, Throttled, address_key
from chatserver.service.mail import Mailer, masked

from . import http_fields
from .attachments_api import bound_conversation, cors, error_response, hub_of, preflight
from .attachments_api import visitor_of as token_visitor

HOUR_S = 3600.0


def mailer_of(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


def limiter_of(request: Request) -> KeyedLimiter:
    """Transcripts asked per address per hour, in this process (app.py makes it)."""
    limiter: KeyedLimiter = request.app.state.transcripts_per_ip
    return limiter


async def _visitor(request: Request) -> str:
    hub = hub_of(request)
    visitor_id = token_visitor(request, hub)
    if visitor_id is None:
        raise Unauthorized("send the visitor token from welcome: Authorization: Bearer …")
    return visitor_id


async def where(request: Request) -> Response:
    headers = cors(request, hub_of(request))
    if headers is None:
        return error_response(Forbidden("this site may not embed the chat"), {})
    try:
        mailer = mailer_of(request)
        visitor_id = await _visitor(request)
        if not mailer.enabled:
            return JSONResponse({"error": "not_found", "message": "this server sends no e-mail"},
                                status_code=404, headers=headers)
        shown = masked(await mailer.address_of(visitor_id))
        words = offer_words(http_fields.query(request).get("lang", ""), shown)
        return JSONResponse({"email": shown, "words": words}, headers=headers)
    except ChatError as error:
        return error_response(error, headers)


async def send(request: Request) -> Response:
    headers = cors(request, hub_of(request))
    if headers is None:
        return error_response(Forbidden("this site may not embed the chat"), {})
    try:
        visitor_id = await _visitor(request)
        conversation_id = bound_conversation(request)
        if conversation_id is None:
            raise BadFrame("X-Conversation-Id: name the chat whose transcript you want")
        # The client's address as the other per-address limits read it (uvicorn takes it from
        # X-Forwarded-For of a trusted proxy), and like them not for the exempt addresses: a
        # local proxy that sends no X-Forwarded-For makes every visitor 127.0.0.1.
        host = request.client.host if request.client else None
        if host not in hub_of(request).abuse.exempt:
            verdict = limiter_of(request).hit(address_key(host), time.monotonic())
            if not verdict.allowed:
                raise Throttled("too many transcripts asked from this address",
                                verdict.retry_after)
        answer = await mailer_of(request).request_transcript(visitor_id, conversation_id)
        return JSONResponse(answer, status_code=202, headers=headers)
    except ChatError as error:
        return error_response(error, headers)


routes = [
    Route("/api/visitor/transcript-email", where, methods=["GET"]),
    Route("/api/visitor/transcript-email", send, methods=["POST"]),
    Route("/api/visitor/transcript-email", preflight, methods=["OPTIONS"]),
]
