"""What an integration (an API token) does to a chat: post a line under its own name, close.

The same path as a person's change: the conversation's lock, the state machine's check, the
journal (stored, then applied and published), so a line is durable before the API answers,
and a retry with the same client id stores and sends nothing twice (the store's unique
client id per conversation) but gets the first answer again. Only a retry does: an id that
holds another request (another kind, another text or author, another token's line) is a
conflict naming it, never an answer for a request that was not carried out.
"""

from __future__ import annotations

from typing import Any

from chatserver.core import conversation as cv
from chatserver.core.conversation import State
from chatserver.core.errors import Conflict
from chatserver.store.store import Event, NewEvent

from .event_frames import ack_for
from .handoff import Handoff
from .journal import Journal, Outcome

FROM = "integration"  # a line's `from`: the widget shows its author's name, like an agent's


class Integrations:
    """Lines and closes by API tokens; `token_id` is the token's row id (the event's author)."""

    def __init__(self, journal: Journal, handoff: Handoff) -> None:
        self.journal = journal
        self.handoff = handoff

    async def post(self, cid: str, client_id: str, text: str, author: str,
                   token_id: int) -> Outcome:
        """A line the visitor sees from `author`, in any open state (a bot's chat, the queue
        or an agent's); a retry of a stored line gets its ack again, even after the close."""
        journal = self.journal
        async with journal.lock(cid):
            conv = await journal.conversation(cid)
            replay = await journal.replayed(conv, client_id)
            if replay is not None:
                return _same(replay, client_id, "message", f"{FROM}:{token_id}",
                             {"author": author, "text": text})
            if not cv.can_post(conv.state, FROM):
                raise Conflict(f"cannot send to a conversation that is {conv.state}")
            line = {"from": FROM, "author": author, "text": text}
            conv, events, _ = await journal.append(
                conv, [NewEvent("message", f"{FROM}:{token_id}", line)], client_id)
        return Outcome(ack_for(client_id, events[0]), events)

    async def close(self, cid: str, client_id: str, resolved: bool | None) -> Outcome:
        """End the chat as an agent's close would (routing left, survey asked); closing a
        closed chat is a conflict unless it is this same request again."""
        async with self.journal.lock(cid):
            conv = await self.journal.conversation(cid)
            replay = await self.journal.replayed(conv, client_id)
            if replay is not None:
                return _same(replay, client_id, "closed", FROM, {"resolved": resolved})
            if conv.state is State.CLOSED:
                raise Conflict("the conversation is already closed")
            return await self.handoff.close(conv, client_id, by=FROM, resolved=resolved)


def _same(replay: Outcome, client_id: str, kind: str, author: str,
          fields: dict[str, Any]) -> Outcome:
    """The stored answer when the event under `client_id` is this very request again."""
    event: Event = replay.events[0]
    if (event.type != kind or event.author != author
            or any(event.payload.get(k) != v for k, v in fields.items())):
        raise Conflict(f"id {client_id!r} was already used in this conversation for another "
                       "request: choose a new id for a new request")
    return replay
