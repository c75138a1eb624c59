"""`/ws/visitor`: the widget's socket. Glue only: frames in, service calls, frames out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket

from . import frames
from .connections import Connection
from .conversation import Conversation, State
from .errors import (
    CLOSE_POLICY,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    error_frame,
)
from .frames import Frame, encode
from .sockets import receive_loop
from .tokens import new_id

if TYPE_CHECKING:
    from .hub import Hub


@dataclass
class VisitorSession:
    visitor_id: str = ""
    name: str = ""
    language: str = ""
    topic: str = ""
    page_url: str = ""
    conversation_id: str | None = None
    last_conversation_id: str | None = None  # the one just closed, for the survey
    consented: bool = False


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Visitor sockets accept the configured widget origins (any, when none are configured)."""
    if not allowed:
        return True
    if origin is None:
        return False
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in allowed


async def visitor_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    if not origin_allowed(websocket.headers.get("origin"), hub.config.server.allowed_origins):
        await websocket.close(CLOSE_POLICY, "origin not allowed")
        return
    await websocket.accept()
    service = hub.service
    conn = Connection(websocket, hub.config.limits.send_queue, "visitor",
                      service.visitor_backlog)
    session = VisitorSession()
    address = websocket.client.host if websocket.client else None

    async def current(start: bool) -> Conversation | None:
        """The visitor's open conversation; a new one when `start` and none is open."""
        if session.conversation_id is not None:
            conv = await service.conversation(session.conversation_id)
            if conv.state is not State.CLOSED:
                return conv
            session.last_conversation_id, session.conversation_id = conv.id, None
        if not start:
            return None
        if not hub.bus.healthy:
            raise Unavailable("chat is briefly unavailable; please try again in a moment")
        hub.abuse.conversation(address, time.monotonic())
        conv = await service.start(session.visitor_id, {
            "name": session.name, "language": session.language, "topic": session.topic,
            "page_url": session.page_url})
        session.conversation_id = conv.id
        return conv

    async def hello(frame: Frame) -> dict[str, Any] | None:
        if session.visitor_id:
            raise Unauthorized("hello was already sent on this socket")
        token = frame.get("visitor_token")
        visitor_id = hub.visitor_signer.unsign(token) if token else None
        if token and visitor_id is None:
            conn.preface(encode(error_frame(Unauthorized(
                "visitor token not recognised; a new visitor was started"))))
        known = await hub.store.visitor(visitor_id) if visitor_id is not None else None
        if known is not None and known["erased_ms"] is not None:
            known = None  # an erased visitor starts afresh
        if known is None:  # new: nothing stored yet, so nothing to read back
            hub.abuse.visitor_session(address, time.monotonic())
            visitor_id = new_id()
        assert visitor_id is not None
        profile = {k: frame[k] for k in ("name", "email", "language") if frame.get(k)}
        await hub.store.upsert_visitor(visitor_id, profile, service.clock())
        open_row = await hub.store.open_conversation_of(visitor_id) if known else None
        # Greeted only once the visitor is stored: a hello that failed leaves the socket as it
        # was, and the client may send it again (not "already sent", no conversation without
        # its visitor row).
        session.visitor_id = visitor_id
        session.topic = frame.get("topic") or ""
        session.page_url = frame.get("page_url") or ""
        session.name = profile.get("name") or (known["name"] if known else "")
        session.language = profile.get("language") or (known["language"] if known else "")
        conversation = None
        if open_row is not None:
            session.conversation_id = open_row["id"]
            conversation = {"id": open_row["id"], "state": open_row["state"],
                            "seq": open_row["last_seq"]}
        if conversation is not None:  # its live events wait for the client's resume
            conn.hold({conversation["id"]: conversation["seq"]})
        hub.registry.add_visitor(visitor_id, conn)
        if conversation is not None:  # waiting for a person: where it stands, after welcome
            service.dispatcher.visitor_back(visitor_id, conversation["id"],
                                            conversation["state"])
        welcome = {"type": "welcome", "visitor_token": hub.visitor_signer.sign(visitor_id),
                   "conversation": conversation,
                   "agents_online": await service.agents_online(session.language,
                                                                   session.topic)}
        privacy = hub.config.privacy
        if privacy.require_consent:
            session.consented = known is not None and await service.has_consented(visitor_id)
            welcome["consent"] = {"required": True, "notice_url": privacy.notice_url,
                                  "given": session.consented}
        return welcome

    def needs_consent() -> None:
        """Nothing the visitor writes is stored before they accept the privacy notice."""
        if hub.config.privacy.require_consent and not session.consented:
            raise Forbidden("please accept the privacy notice first")

    async def consent(frame: Frame) -> dict[str, Any] | None:
        conv = await current(start=True)
        assert conv is not None
        outcome = await service.consent(conv, frame.key, hub.config.privacy.notice_url,
                                        origin=conn)
        session.consented = True
        return outcome.ack

    async def message(frame: Frame) -> dict[str, Any] | None:
        needs_consent()
        conv = await current(start=True)
        assert conv is not None
        return (await service.visitor_message(conv, frame.key, hub.redactor(frame["text"]),
                                              session.name, origin=conn)).ack

    async def typing(frame: Frame) -> dict[str, Any] | None:
        conv = await current(start=False)
        if conv is not None:
            hub.bus.to_watchers(service.holders(conv), encode({
                "type": "typing", "conversation_id": conv.id, "from": "visitor",
                "on": frame["on"]}))
        return None

    async def read(frame: Frame) -> dict[str, Any] | None:
        conv = await current(start=False)
        if conv is not None:
            hub.bus.to_watchers(service.holders(conv), encode({
                "type": "read", "conversation_id": conv.id, "from": "visitor",
                "seq": frame["seq"]}))
        return None

    async def choose(frame: Frame) -> dict[str, Any] | None:
        conv = await current(start=False)
        if conv is None:
            raise NotFound("no open conversation to answer in")
        return (await service.choose(conv, frame.key, frame["entry_id"], origin=conn)).ack

    async def request_human(frame: Frame) -> dict[str, Any] | None:
        needs_consent()
        conv = await current(start=True)
        assert conv is not None
        return (await service.request_human(conv, frame.key, origin=conn)).ack

    async def resume(frame: Frame) -> dict[str, Any] | None:
        conv = await owned(frame["conversation_id"])
        await conn.resume(conv.id, min(frame["after_seq"], conv.last_seq))
        return None

    async def owned(conversation_id: str) -> Conversation:
        """A conversation of this visitor's; anyone else's is reported as not existing."""
        try:
            conv = await service.conversation(conversation_id)
        except NotFound:
            conv = None
        if conv is None or conv.visitor_id != session.visitor_id:
            raise NotFound("no such conversation")
        return conv

    async def survey(frame: Frame) -> dict[str, Any] | None:
        target = frame.get("conversation_id") or session.last_conversation_id \
            or session.conversation_id
        if target is None:
            raise NotFound("no conversation to rate")
        conv = await owned(target)
        answer = dict(frame.fields)
        if isinstance(answer.get("comment"), str):
            answer["comment"] = hub.redactor(answer["comment"])
        return (await service.survey(conv, frame.key, answer, origin=conn)).ack

    async def close(frame: Frame) -> dict[str, Any] | None:
        target = session.conversation_id or session.last_conversation_id
        if target is None:
            raise NotFound("no open conversation to close")
        conv = await owned(target)
        outcome = await service.close_by_visitor(conv, frame.key, origin=conn)
        session.last_conversation_id, session.conversation_id = conv.id, None
        return outcome.ack

    async def offline_message(frame: Frame) -> dict[str, Any] | None:
        needs_consent()
        fields = {"email": frame["email"], "text": hub.redactor(frame["text"]),
                  "language": session.language, "page_url": session.page_url}
        return (await service.offline_message(session.visitor_id, frame.key, fields)).ack

    handlers = {"hello": hello, "message": message, "typing": typing, "read": read,
                "choose": choose, "request_human": request_human, "resume": resume,
                "survey": survey, "close": close, "offline_message": offline_message,
                "consent": consent}
    try:
        await receive_loop(websocket, conn, frames.VISITOR_FRAMES, handlers, hub.config.limits,
                           greeted=lambda: bool(session.visitor_id),
                           errors=service.telemetry.errors)
    finally:
        if session.visitor_id:
            hub.registry.remove_visitor(session.visitor_id, conn)
        await conn.wait_closed() if conn.closed else await conn.stop()
