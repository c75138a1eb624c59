"""`/ws/visitor`: the widget's socket. Glue only: frames in, service calls, frames out.

The endpoint is a handshake (origin check, accept) and then a `VisitorSocket`: the socket's
state and one small method per frame type, dispatched through a table, so each frame's glue
reads on its own and the shared steps (the open conversation, consent, ownership) are named once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket

from chatserver.cluster.connections import Connection
from chatserver.core import frames
from chatserver.core.conversation import Conversation, State
from chatserver.core.errors import (
    CLOSE_POLICY,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    error_frame,
)
from chatserver.core.frames import Frame, encode
from chatserver.service import identity
from chatserver.tokens import new_id

from .sockets import Handler, receive_loop

# A returning visitor's last_seen_ms moves at most this often: it serves retention and the
# privacy export, which count in days, and a reconnect storm (a deploy, a network blip) then
# costs no write, no fsync and no wait for one per socket (docs/performance.md).
SEEN_EVERY_MS = 5 * 60_000
# A returning visitor's row and their open chat in one read: every reconnect makes it, and in
# a reconnect storm each read waits its turn at the store's reader (docs/performance.md).
VISITOR_AND_OPEN_CHAT = (
    "SELECT v.*, c.id AS open_id, c.state AS open_state, c.last_seq AS open_seq "
    "FROM visitors v LEFT JOIN conversations c ON c.id = (SELECT id FROM conversations "
    "WHERE visitor_id = v.id AND state != 'closed' ORDER BY created_ms DESC LIMIT 1) "
    "WHERE v.id = ?")

if TYPE_CHECKING:
    from sqlite3 import Row

    from .hub import Hub


@dataclass
class VisitorSession:
    """What this socket knows about its visitor: set by hello, moved by start and close."""

    visitor_id: str = ""
    name: str = ""
    language: str = ""
    topic: str = ""
    page_url: str = ""
    conversation_id: str | None = None
    last_conversation_id: str | None = None  # the one just closed, for the survey
    consented: bool = False
    # Earlier visitor ids of this socket whose open chat followed it to a verified id (the
    # same person): lines a process addressed to them before the move still reach it.
    former_ids: list[str] = field(default_factory=list)


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Visitor sockets accept the configured widget origins (any, when none are configured)."""
    if not allowed:
        return True
    if origin is None:
        return False
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in allowed


async def handshake(websocket: WebSocket, hub: Hub) -> bool:
    """Accept the socket if its origin may embed the widget; refuse it (1008) otherwise."""
    if not origin_allowed(websocket.headers.get("origin"), hub.config.server.allowed_origins):
        await websocket.close(CLOSE_POLICY, "origin not allowed")
        return False
    await websocket.accept()
    return True


async def visitor_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    if await handshake(websocket, hub):
        await VisitorSocket(hub, websocket).run()


class VisitorSocket:
    """One accepted visitor socket: its session and the handler of each frame type."""

    def __init__(self, hub: Hub, websocket: WebSocket) -> None:
        self.hub, self.service, self.websocket = hub, hub.service, websocket
        self.conn = Connection(websocket, hub.config.limits.send_queue, "visitor",
                               hub.service.visitor_backlog)
        self.session = VisitorSession()
        self.address = websocket.client.host if websocket.client else None
        self.handlers: dict[str, Handler] = {
            "hello": self.hello, "message": self.message, "typing": self.typing,
            "read": self.read, "choose": self.choose, "request_human": self.request_human,
            "resume": self.resume, "survey": self.survey, "close": self.close,
            "offline_message": self.offline_message, "consent": self.consent,
            "identify": self.identify_frame}

    async def run(self) -> None:
        """Serve frames until the visitor leaves, then take the socket off the registry."""
        session, conn = self.session, self.conn
        try:
            await receive_loop(self.websocket, conn, frames.VISITOR_FRAMES, self.handlers,
                               self.hub.config.limits, greeted=lambda: bool(session.visitor_id),
                               errors=self.service.telemetry.errors)
        finally:
            for visitor_id in {session.visitor_id, *session.former_ids} - {""}:
                self.hub.registry.remove_visitor(visitor_id, conn)
            await conn.wait_closed() if conn.closed else await conn.stop()

    # -- shared steps --

    async def current(self, start: bool) -> Conversation | None:
        """The visitor's open conversation; a new one when `start` and none is open."""
        session, service, hub = self.session, self.service, self.hub
        if session.conversation_id is not None:
            conv = await service.conversation(session.conversation_id)
            if conv.state is not State.CLOSED:
                return conv
            session.last_conversation_id, session.conversation_id = conv.id, None
        if not start:
            return None

        def may_start() -> None:
            if not hub.bus.healthy:
                raise Unavailable("chat is briefly unavailable; please try again in a moment")
            hub.abuse.conversation(self.address, time.monotonic())

        # Perhaps started meanwhile over HTTP (the widget uploaded a file): that one, then.
        conv = await service.open_or_start(session.visitor_id, {
            "name": session.name, "language": session.language, "topic": session.topic,
            "page_url": session.page_url}, may_start)
        session.conversation_id = conv.id
        return conv

    async def started(self) -> Conversation:
        """The open conversation, started now if there is none."""
        conv = await self.current(start=True)
        assert conv is not None
        return conv

    def needs_consent(self) -> None:
        """Nothing the visitor writes is stored before they accept the privacy notice."""
        if self.hub.config.privacy.require_consent and not self.session.consented:
            raise Forbidden("please accept the privacy notice first")

    async def owned(self, conversation_id: str) -> Conversation:
        """A conversation of this visitor's; anyone else's is reported as not existing."""
        try:
            conv = await self.service.conversation(conversation_id)
        except NotFound:
            conv = None
        if conv is None or conv.visitor_id != self.session.visitor_id:
            raise NotFound("no such conversation")
        return conv

    def to_watchers(self, conv: Conversation, frame: dict[str, Any]) -> None:
        """Typing and read marks go to whoever watches the chat; nothing is stored."""
        self.hub.bus.to_watchers(self.service.holders(conv), encode(frame))

    # -- hello --

    async def identify(self, frame: Frame) -> tuple[str, Row | None]:
        """The visitor the token names and their stored row (with their open chat's `open_id`,
        `open_state` and `open_seq`, None when there is none); a new visitor when none is
        valid."""
        hub = self.hub
        token = frame.get("visitor_token")
        visitor_id = hub.visitor_signer.unsign(token) if token else None
        if token and visitor_id is None:
            self.conn.preface(encode(error_frame(Unauthorized(
                "visitor token not recognised; a new visitor was started"))))
        known = (await hub.store.fetchone(VISITOR_AND_OPEN_CHAT, (visitor_id,))
                 if visitor_id is not None else None)
        if known is not None and known["erased_ms"] is not None:
            known = None  # an erased visitor starts afresh
        if known is None:  # new: nothing stored yet, so nothing to read back
            hub.abuse.visitor_session(self.address, time.monotonic())
            visitor_id = new_id()
        assert visitor_id is not None
        return visitor_id, known

    async def hello(self, frame: Frame) -> dict[str, Any] | None:
        session, hub, service = self.session, self.hub, self.service
        if session.visitor_id:
            raise Unauthorized("hello was already sent on this socket")
        visitor_id, known = await self.identify(frame)
        profile = {k: frame[k] for k in ("name", "email", "language") if frame.get(k)}
        now = service.clock()
        # The widget repeats its language (a page its visitor's name) in every hello: only
        # what differs from the row is news.
        wrote = (known is None or any(known[k] != v for k, v in profile.items())
                 or now - (known["last_seen_ms"] or 0) >= SEEN_EVERY_MS)
        if wrote:
            await hub.store.upsert_visitor(visitor_id, profile, now)
        claimed = None
        if frame.get("identity") is not None:  # its own name and email: the site's word
            claimed = await self.claim(visitor_id, frame["identity"])
            if claimed.visitor_id != visitor_id:
                visitor_id, known = claimed.visitor_id, await hub.store.visitor(
                    claimed.visitor_id)
        open_row: Row | dict[str, Any] | None = None
        if known is not None and (wrote or claimed is not None):  # as it is after the writes
            open_row = await hub.store.open_conversation_of(visitor_id)
        elif known is not None and known["open_id"] is not None:  # as read with the visitor
            open_row = {"id": known["open_id"], "state": known["open_state"],
                        "last_seq": known["open_seq"]}
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
            self.conn.hold({conversation["id"]: conversation["seq"]})
        hub.registry.add_visitor(visitor_id, self.conn)
        if conversation is not None:  # waiting for a person: where it stands, after welcome
            service.dispatcher.visitor_back(visitor_id, conversation["id"],
                                            conversation["state"], conversation["seq"])
        welcome = await self.welcome(known, conversation)
        if claimed is not None:
            welcome["verified"] = claimed.verified
        return welcome

    async def claim(self, visitor_id: str, fields: dict[str, Any]) -> identity.Claimed:
        """One identify (hello's or the frame's) for `visitor_id`; identity.py decides."""
        return await identity.claim(self.service.journal, visitor_id, fields,
                                    secret=self.hub.config.identity.secret)

    async def welcome(self, known: Row | None,
                      conversation: dict[str, Any] | None) -> dict[str, Any]:
        """The welcome frame: the visitor's token, their open chat, who is online, consent."""
        session, hub = self.session, self.hub
        welcome = {"type": "welcome", "visitor_token": hub.visitor_signer.sign(session.visitor_id),
                   "conversation": conversation,
                   "agents_online": await self.service.agents_online(session.language,
                                                                        session.topic)}
        # Whether files are taken, so the widget offers its paperclip only where they are.
        files = hub.config.attachments
        welcome["attachments"] = files.enabled and {"max_bytes": files.max_bytes,
                                                    "types": list(files.allowed_types)}
        privacy = hub.config.privacy
        if privacy.require_consent:
            session.consented = known is not None and await self.service.has_consented(
                session.visitor_id)
            welcome["consent"] = {"required": True, "notice_url": privacy.notice_url,
                                  "given": session.consented}
        return welcome

    # -- the other frames --

    async def identify_frame(self, frame: Frame) -> dict[str, Any] | None:
        """The page logged its user in after hello: answered with the token (and open chat)
        of the visitor this socket now speaks for, and whether the identity was proven."""
        session, hub = self.session, self.hub
        claimed = await self.claim(session.visitor_id, frame["identity"])
        if claimed.visitor_id != session.visitor_id:
            if claimed.moved is not None:  # the same person's open chat came along
                session.former_ids.append(session.visitor_id)
            else:  # another customer (or a new visitor after erasure): nothing of the old
                for former in {session.visitor_id, *session.former_ids}:
                    hub.registry.remove_visitor(former, self.conn)
                session.former_ids.clear()
            session.visitor_id = claimed.visitor_id
            hub.registry.add_visitor(claimed.visitor_id, self.conn)
            session.last_conversation_id = None
            if hub.config.privacy.require_consent:
                session.consented = await self.service.has_consented(claimed.visitor_id)
        # The same answer however often it is sent: the open chat of whom the socket is now.
        open_row = await hub.store.open_conversation_of(session.visitor_id)
        session.conversation_id = open_row["id"] if open_row is not None else None
        row = await hub.store.visitor(session.visitor_id)  # the name lines are signed with
        session.name = row["name"] if row is not None and row["name"] else session.name
        return {"type": "ack", "id": frame.key, "verified": claimed.verified,
                "conversation": None if open_row is None else {
                    "id": open_row["id"], "state": open_row["state"],
                    "seq": open_row["last_seq"]},
                "visitor_token": hub.visitor_signer.sign(session.visitor_id)}

    async def consent(self, frame: Frame) -> dict[str, Any] | None:
        conv = await self.started()
        outcome = await self.service.consent(conv, frame.key, self.hub.config.privacy.notice_url,
                                             origin=self.conn)
        self.session.consented = True
        return outcome.ack

    async def message(self, frame: Frame) -> dict[str, Any] | None:
        self.needs_consent()
        conv = await self.started()
        return (await self.service.visitor_message(conv, frame.key, self.hub.redactor(
            frame["text"]), self.session.name, origin=self.conn)).ack

    async def typing(self, frame: Frame) -> dict[str, Any] | None:
        conv = await self.current(start=False)
        if conv is not None:
            self.to_watchers(conv, {"type": "typing", "conversation_id": conv.id,
                                    "from": "visitor", "on": frame["on"]})
        return None

    async def read(self, frame: Frame) -> dict[str, Any] | None:
        conv = await self.current(start=False)
        if conv is not None:
            self.to_watchers(conv, {"type": "read", "conversation_id": conv.id,
                                    "from": "visitor", "seq": frame["seq"]})
        return None

    async def choose(self, frame: Frame) -> dict[str, Any] | None:
        conv = await self.current(start=False)
        if conv is None:
            raise NotFound("no open conversation to answer in")
        return (await self.service.choose(conv, frame.key, frame["entry_id"],
                                          origin=self.conn)).ack

    async def request_human(self, frame: Frame) -> dict[str, Any] | None:
        self.needs_consent()
        conv = await self.started()
        return (await self.service.request_human(conv, frame.key, origin=self.conn)).ack

    async def resume(self, frame: Frame) -> dict[str, Any] | None:
        conv = await self.owned(frame["conversation_id"])
        await self.conn.resume(conv.id, await self.service.resume_point(conv, frame["after_seq"]))
        return None

    async def survey(self, frame: Frame) -> dict[str, Any] | None:
        session = self.session
        target = frame.get("conversation_id") or session.last_conversation_id \
            or session.conversation_id
        if target is None:
            raise NotFound("no conversation to rate")
        conv = await self.owned(target)
        answer = dict(frame.fields)
        if isinstance(answer.get("comment"), str):
            answer["comment"] = self.hub.redactor(answer["comment"])
        return (await self.service.survey(conv, frame.key, answer, origin=self.conn)).ack

    async def close(self, frame: Frame) -> dict[str, Any] | None:
        session = self.session
        target = session.conversation_id or session.last_conversation_id
        if target is None:  # perhaps started over HTTP (the widget uploaded a file)
            opened = await self.hub.store.open_conversation_of(session.visitor_id)
            target = None if opened is None else opened["id"]
        if target is None:
            raise NotFound("no open conversation to close")
        conv = await self.owned(target)
        outcome = await self.service.close_by_visitor(conv, frame.key, origin=self.conn)
        session.last_conversation_id, session.conversation_id = conv.id, None
        return outcome.ack

    async def offline_message(self, frame: Frame) -> dict[str, Any] | None:
        self.needs_consent()
        fields = {"email": frame["email"], "text": self.hub.redactor(frame["text"]),
                  "language": self.session.language, "page_url": self.session.page_url,
                  "topic": self.session.topic}
        return (await self.service.offline_message(self.session.visitor_id, frame.key,
                                                   fields)).ack
