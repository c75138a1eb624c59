"""Files in chats over HTTP: the widget's upload (the visitor token), the console's (session
cookie and CSRF token), and the download both read from (docs/protocol.md, Attachments).

The widget runs on other sites' pages, so the visitor's endpoints answer CORS for the origins
`server.allowed_origins` allows, errors included (a refusal the widget cannot read is no clear
error). The body is read up to `[attachments] max_bytes` and no further; the decision is
`chatserver.attachments.policy.accept`, in a thread (Pillow), and nothing is stored unless it
accepts. Served files carry a sandboxing CSP, nosniff, and `Content-Disposition: attachment`
for all but the re-encoded images.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.attachments import policy
from chatserver.attachments.links import Links, staff_fields
from chatserver.attachments.sniff import IMAGE_TYPES, TEXT, WEBP
from chatserver.config import AttachmentsConfig
from chatserver.core import frames
from chatserver.core.conversation import Conversation
from chatserver.core.errors import (
    BadFrame,
    ChatError,
    Conflict,
    ConsentRequired,
    Forbidden,
    NotFound,
    PasswordChangeRequired,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from chatserver.privacy.iplimits import KeyedLimiter, Throttled
from chatserver.service.attachment_lines import File
from chatserver.store.store import Row
from chatserver.tokens import new_id

from . import auth, http_fields
from .history_api import may_read
from .visitor_socket import origin_allowed

if TYPE_CHECKING:
    from .hub import Hub

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
UPLOAD_HEADERS = "Authorization, Content-Type, X-Client-Id, X-File-Name, X-Conversation-Id"
# Served files do nothing: no script, no plugin, no form, no frame; a direct visit to an image
# shows it (its viewer needs inline style), anything else downloads.
FILE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
# Images decoded at once per process: one of max_pixels' default 25 million is at most about
# 350 MB while re-encoded (docs/deploy.md).
DECODERS = 2


class Uploads:
    """Per app: the limits, the per-visitor rate limit and the decoders' turnstile."""

    def __init__(self, config: AttachmentsConfig) -> None:
        self.config = config
        self.limits = policy.Limits(config.max_bytes, frozenset(config.allowed_types),
                                    config.max_pixels)
        self.per_visitor = KeyedLimiter(config.uploads_per_visitor,
                                        config.uploads_period_seconds)
        self.decoders = asyncio.Semaphore(DECODERS)

    async def accept(self, request: Request, name: str) -> File:
        """The body read (never past the limit) and judged; the file as it will be kept."""
        body = await read_body(request, self.limits.max_bytes)
        async with self.decoders:
            kept = await asyncio.to_thread(policy.accept, body, name, self.limits)
        return File(new_id(), kept.name, kept.media_type, kept.data, kept.width, kept.height,
                    kept.thumbnail)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def uploads_of(request: Request) -> Uploads:
    uploads: Uploads = request.app.state.uploads
    return uploads


def links_of(hub: Hub) -> Links:
    links = hub.service.journal.links
    assert links is not None  # app.py sets it
    return links


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes `limit`: a 1 GB upload costs at
    most `limit` bytes of memory, and a declared length over it is refused unread."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the file is larger than the {limit:,} bytes accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the file is larger than the {limit:,} bytes accepted")
        chunks.append(chunk)
    return b"".join(chunks)


def upload_fields(request: Request) -> tuple[str, str]:
    """(client id, file name) from X-Client-Id and the percent-encoded UTF-8 X-File-Name."""
    client_id = request.headers.get("x-client-id", "")
    if not _ID.fullmatch(client_id):
        raise BadFrame("X-Client-Id: give the line's id (1-64 letters, digits, - or _)")
    raw = request.headers.get("x-file-name", "")
    try:
        name = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadFrame("X-File-Name: percent-encode the name as UTF-8") from None
    if problem := frames.refused_character(name, multiline=False):
        raise BadFrame(f"X-File-Name {problem}")
    if len(name) > 1000:
        raise BadFrame("X-File-Name: at most 1000 characters")
    return client_id, name


def bound_conversation(request: Request) -> str | None:
    """The optional X-Conversation-Id: the chat the file was attached in."""
    value = request.headers.get("x-conversation-id")
    if value is not None and not _ID.fullmatch(value):
        raise BadFrame("X-Conversation-Id: give the conversation's id from welcome or a line")
    return value


def error_response(error: ChatError, headers: dict[str, str]) -> Response:
    """The JSON error every API answers (app.chat_error's shape), with the CORS headers."""
    if isinstance(error, Throttled):
        headers = {**headers, "retry-after": str(error.retry_after)}
    return JSONResponse({"error": error.code, "message": error.message},
                        status_code=error.http_status, headers=headers)


def cors(request: Request, hub: Hub) -> dict[str, str] | None:
    """CORS headers for a widget origin; None when the request's origin may not embed it."""
    origin = request.headers.get("origin")
    if origin is None:
        return {}
    if not origin_allowed(origin, hub.config.server.allowed_origins):
        return None
    return {"access-control-allow-origin": origin, "vary": "Origin",
            # the widget reads when to retry a 429 (not a header CORS shows scripts by default)
            "access-control-expose-headers": "Retry-After",
            "cross-origin-resource-policy": "cross-origin"}


async def preflight(request: Request) -> Response:
    """The browser's OPTIONS before a widget's upload or a download with a token."""
    headers = cors(request, hub_of(request))
    if headers is None:
        return Response(status_code=403)
    return Response(status_code=204, headers={
        **headers, "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": UPLOAD_HEADERS,
        "access-control-max-age": "600"})


# --- the visitor's upload ----------------------------------------------------------------------

def visitor_of(request: Request, hub: Hub) -> str | None:
    """The visitor an `Authorization: Bearer <visitor token>` names, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return hub.visitor_signer.unsign(token.strip())


async def visitor_upload(request: Request) -> Response:
    hub = hub_of(request)
    headers = cors(request, hub)
    if headers is None:
        return error_response(Forbidden("this site may not embed the chat"), {})
    try:
        return JSONResponse(await _visitor_upload(request, hub), headers=headers)
    except ChatError as error:
        return error_response(error, headers)


async def _visitor_upload(request: Request, hub: Hub) -> dict[str, Any]:
    uploads = uploads_of(request)
    if not uploads.config.enabled:
        raise Forbidden("files cannot be sent in this chat")
    visitor_id = visitor_of(request, hub)
    visitor = await hub.store.visitor(visitor_id) if visitor_id else None
    if visitor is None or visitor["erased_ms"] is not None:
        raise Unauthorized("send the visitor token from welcome: Authorization: Bearer …")
    assert visitor_id is not None
    client_id, name = upload_fields(request)
    bound = bound_conversation(request)
    if hub.config.privacy.require_consent and not await hub.service.has_consented(visitor_id):
        raise ConsentRequired("please accept the privacy notice first")
    # A retry (its answer was lost) gets its stored line back, in whichever of the visitor's
    # chats it went to: the chat may have ended since, and the retry opens no new one.
    earlier = await hub.store.visitor_event_by_client_id(visitor_id, client_id)
    if earlier is None or "attachment" not in earlier.payload:
        opened = await chat_of(hub, visitor_id, bound)
        verdict = uploads.per_visitor.hit(visitor_id, time.monotonic())
        if not verdict.allowed:
            raise Throttled("too many files sent", verdict.retry_after)
        # The name is the visitor's words too: masked like a message (a card number in it).
        file = await uploads.accept(request, hub.redactor(name))
        conv = await open_conversation(request, hub, visitor_id, visitor, opened)
        earlier = await hub.service.attachments.visitor_file(conv, client_id, file,
                                                             visitor["name"])
    return {"conversation_id": earlier.conversation_id, "seq": earlier.seq,
            "attachment": links_of(hub).visitor_fields(earlier.payload["attachment"],
                                                       earlier.conversation_id)}


async def chat_of(hub: Hub, visitor_id: str, bound: str | None) -> Any:
    """The row of the chat the file goes to: the visitor's open one (None: one is started),
    or with X-Conversation-Id that one or none, refused before the body is read. A file
    attached in a chat that has ended since is refused, never put in a new chat that nobody
    was offered for it."""
    if bound is None:
        return await hub.store.open_conversation_of(visitor_id)
    row = await hub.store.conversation_row(bound)
    if row is None or row["visitor_id"] != visitor_id:
        raise NotFound("no such conversation")
    if row["state"] == "closed":
        raise Conflict("the chat this file was attached in has ended")
    return row


async def open_conversation(request: Request, hub: Hub, visitor_id: str, visitor: Any,
                            opened: Any) -> Conversation:
    """The visitor's open conversation (`opened`, its row), or, after the decode, the one
    they have now or one started as a `message` would start it: in the same serialized step
    as the socket's, so a file sent with the first line (or two at once) makes one chat."""
    if opened is not None:
        return await hub.service.conversation(opened["id"])

    def may_start() -> None:
        if not hub.bus.healthy:
            raise Unavailable("chat is briefly unavailable; please try again in a moment")
        hub.abuse.conversation(request.client.host if request.client else None,
                               time.monotonic())

    return await hub.service.open_or_start(visitor_id, {"name": visitor["name"],
                                                        "language": visitor["language"]},
                                           may_start)


# --- the agent's upload ------------------------------------------------------------------------

async def agent_upload(request: Request) -> Response:
    hub = hub_of(request)
    user = await auth.require(request, *auth.ROLES)
    uploads = uploads_of(request)
    if not uploads.config.enabled:
        raise Forbidden("files cannot be sent in chats here")
    cid = http_fields.path_id(request, "conversation_id", "conversation")
    client_id, name = upload_fields(request)
    file = await uploads.accept(request, name)
    event = await hub.service.attachments.agent_file(user, cid, client_id, file)
    return JSONResponse({"conversation_id": event.conversation_id, "seq": event.seq,
                         "attachment": staff_fields(event.payload["attachment"])})


# --- the download ------------------------------------------------------------------------------

async def download(request: Request) -> Response:
    """A file (or its thumbnail) for the conversation's visitor (`?sig=` from their line, or
    their token) or a staff member who may read its chat (session cookie); nobody else learns
    it exists."""
    hub = hub_of(request)
    headers = cors(request, hub) or {}
    try:
        return await _download(request, hub, headers)
    except ChatError as error:
        return error_response(error, headers)


async def _download(request: Request, hub: Hub, headers: dict[str, str]) -> Response:
    attachment_id = http_fields.path(request, "attachment_id")
    thumbnail = request.url.path.endswith("/thumbnail")
    sig = http_fields.query(request).get("sig", "")
    visitor_id = visitor_of(request, hub)
    staff = None if sig or visitor_id else await auth.current_user(request)
    if not (sig or visitor_id or staff):
        raise Unauthorized("this file is for the people in its chat")
    refused = Forbidden("you may not read this file")
    if not _ID.fullmatch(attachment_id):
        raise NotFound("no such file") if staff else refused
    found = await hub.service.attachments.stored(attachment_id, thumbnail=thumbnail)
    if staff is None:
        owner = "" if found is None else str(found["visitor_id"])
        allowed = found is not None and (
            owner == visitor_id if visitor_id
            else links_of(hub).may_read(str(found["conversation_id"]), attachment_id, sig))
        if not allowed:
            raise refused  # the same for a file that does not exist: no hint
    elif not await staff_may_read(hub, staff, attachment_id):
        raise NotFound("no such file")  # as for one that does not exist
    if found is None or found["body"] is None:
        raise NotFound("no such file")
    media_type = WEBP if thumbnail else str(found["media_type"])
    shown = media_type in IMAGE_TYPES
    disposition = "inline" if shown else "attachment"
    content_type = f"{media_type}; charset=utf-8" if media_type == TEXT else media_type
    name = served_name(str(found["name"]), media_type)
    return Response(bytes(found["body"]), media_type=content_type, headers={
        **headers,
        "content-security-policy": FILE_POLICY,
        "x-content-type-options": "nosniff",
        "content-disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
        "cache-control": "private, max-age=3600",
        "cross-origin-resource-policy": "cross-origin"})


async def staff_may_read(hub: Hub, user: Row, attachment_id: str) -> bool:
    """A staff member reads a file as they read its chat's transcript (history_api): an agent
    the files of chats they hold or held last, or of a visitor whose chat is offered to or
    held by them now; supervisors and admins any. A password still to change reads none."""
    if user["must_change_password"]:
        raise PasswordChangeRequired("choose your own password first (on /account)")
    if user["role"] != "agent":
        return True
    row = await hub.store.fetchone(
        "SELECT conversations.agent_id, conversations.visitor_id FROM attachments JOIN "
        "conversations ON conversations.id = attachments.conversation_id "
        "WHERE attachments.id = ?", (attachment_id,))
    return row is not None and (row["agent_id"] == user["id"]
                                or await may_read(hub.store, user, row["visitor_id"]))


def served_name(stored: str, media_type: str) -> str:
    """The name a download gets: a thumbnail's ends in its own extension (.webp), and text
    in .txt whatever it was stored under (policy.file_name already does so for new files)."""
    stem, dot, _ = stored.rpartition(".")
    if media_type == WEBP and not stored.lower().endswith(".webp"):
        return f"{stem if dot else stored}.webp"
    if media_type == TEXT and not stored.lower().endswith(".txt"):
        return f"{stored}.txt"
    return stored


routes = [
    Route("/api/visitor/attachments", visitor_upload, methods=["POST"]),
    Route("/api/visitor/attachments", preflight, methods=["OPTIONS"]),
    Route("/api/conversations/{conversation_id}/attachments", agent_upload, methods=["POST"]),
    Route("/api/attachments/{attachment_id}", download, methods=["GET"]),
    Route("/api/attachments/{attachment_id}/thumbnail", download, methods=["GET"]),
    Route("/api/attachments/{attachment_id}", preflight, methods=["OPTIONS"]),
    Route("/api/attachments/{attachment_id}/thumbnail", preflight, methods=["OPTIONS"]),
]
