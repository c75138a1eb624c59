"""Chat lines that carry a file: a visitor's (the widget uploads it) and an agent's (the
console does). The line is a `message` event whose payload holds the file's fields; the bytes
go into the `attachments` table in the same transaction (`Journal.append(also=...)`), so a
line never points at a file that was not kept, and a retried upload stores neither again.

The bot does not read files: a file sent while the bot answers stays in the transcript for
the person the chat goes to, and the bot says it cannot read it and offers a person
(`VisitorSide.file_turn`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatserver.core import conversation as cv
from chatserver.core.conversation import Conversation, Event, State
from chatserver.core.errors import Conflict, Forbidden, NotFound
from chatserver.core.msgids import N_
from chatserver.store.store import Conn, NewEvent, Row

from .agent_side import not_now
from .journal import Journal

_COLUMNS = ("id, conversation_id, visitor_id, author, name, media_type, size, width, height, "
            "data, thumbnail, created_ms")


@dataclass(frozen=True)
class File:
    """A file as it will be kept (chatserver.attachments.policy.Accepted has these fields)."""

    id: str
    name: str
    media_type: str
    data: bytes
    width: int | None
    height: int | None
    thumbnail: bytes | None

    def fields(self) -> dict[str, Any]:
        """The attachment's fields in the line's payload (docs/protocol.md, Attachments)."""
        found: dict[str, Any] = {"id": self.id, "name": self.name,
                                 "media_type": self.media_type, "size": len(self.data)}
        if self.width is not None:
            found["width"], found["height"] = self.width, self.height
        return found


class AttachmentLines:
    """Posts files as lines, and finds a stored file for whoever may read it."""

    def __init__(self, journal: Journal,
                 after_file: Callable[[Conversation], Awaitable[None]] | None = None) -> None:
        self.journal = journal
        # What follows a visitor's new file under the chat's lock (the bot's word on it).
        self.after_file = after_file

    async def visitor_file(self, conv: Conversation, client_id: str, file: File,
                           name: str) -> Event:
        """The visitor's file as a line in their open conversation; a retry of a stored one
        gets that line back and stores nothing."""
        journal = self.journal
        async with journal.lock(conv.id):
            conv = await journal.conversation(conv.id)
            if not cv.can_post(conv.state, "visitor"):
                return await self._replayed(conv, client_id, "this conversation is closed; "
                                            "start a new one")
            line = {"from": "visitor", "author": name or "Visitor", "text": "",
                    "attachment": file.fields()}
            conv, events, duplicate = await journal.append(
                conv, [NewEvent("message", "visitor", line)], client_id,
                also=self._keep(file, conv, "visitor"))
            if duplicate:
                return _a_file(events[0])
            if self.after_file is not None:
                await self.after_file(conv)
            return events[0]

    async def agent_file(self, user: Row, cid: str, client_id: str, file: File) -> Event:
        """The agent's file as a line in a chat they hold (only they may post there)."""
        journal, agent_id = self.journal, int(user["id"])
        async with journal.lock(cid):
            conv = await journal.conversation(cid)
            if conv.agent_id != agent_id or conv.state not in (State.ASSIGNED, State.CLOSED):
                if user["role"] == "agent":
                    raise NotFound(N_("no such conversation"))  # never reveal others' chats
                raise Forbidden(N_("only the agent in this chat may send files in it"))
            if not cv.can_post(conv.state, "agent"):
                return await self._replayed(conv, client_id, not_now("send", conv.state))
            line = {"from": "agent", "author": user["display_name"], "text": "",
                    "attachment": file.fields()}
            _, events, _ = await journal.append(
                conv, [NewEvent("message", f"agent:{agent_id}", line)], client_id,
                also=self._keep(file, conv, "agent"))
            return _a_file(events[0])

    async def _replayed(self, conv: Conversation, client_id: str, refusal: str) -> Event:
        """A retry of a file stored before the chat moved on gets its line again."""
        replay = await self.journal.replayed(conv, client_id)
        if replay is None:
            raise Conflict(refusal)
        return _a_file(replay.events[0])

    def _keep(self, file: File, conv: Conversation, author: str) -> Callable[[Conn], object]:
        row = (file.id, conv.id, conv.visitor_id, author, file.name, file.media_type,
               len(file.data), file.width, file.height, file.data, file.thumbnail,
               self.journal.clock())
        insert = f"INSERT INTO attachments ({_COLUMNS}) VALUES ({', '.join('?' * 12)})"  # noqa: S608
        return lambda conn: conn.execute(insert, row)

    async def stored(self, attachment_id: str, *, thumbnail: bool) -> Mapping[str, Any] | None:
        """The file (or its thumbnail) with what decides who may read it: its conversation
        (what a visitor's URL is signed for) and that conversation's visitor now, not the
        uploader's id (a verified identity can move a chat)."""
        column = "attachments.thumbnail" if thumbnail else "attachments.data"
        return await self.journal.store.fetchone(
            f"SELECT attachments.name, attachments.media_type, {column} AS body, "  # noqa: S608
            "attachments.conversation_id, conversations.visitor_id FROM attachments "
            "JOIN conversations ON conversations.id = attachments.conversation_id "
            "WHERE attachments.id = ?",
            (attachment_id,))


def _a_file(event: Event) -> Event:
    """The stored line a retry names, if it is a file's: a client id a text line (or another
    frame) already used is a conflict, not that line's answer."""
    if event.type != "message" or "attachment" not in event.payload:
        raise Conflict(N_("this id was used for another line"))
    return event
