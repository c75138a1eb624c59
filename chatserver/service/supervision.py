"""A supervisor's hand in a chat an agent holds: a whisper only the agent (and supervisors) see,
and taking the chat over, a transfer to themselves.

Both go through the journal like every change (store, apply, publish): durable before the ack,
numbered, de-duplicated by the frame's id. The audit entry is written in the same transaction
as the event (`record`, made by the socket from privacy/audit.py), so neither is kept without
the other and a retried frame adds neither again.

A whisper is a `whisper` event, payload `{author, author_id, to_agent, text}`: never in
VISITOR_EVENTS, so no visitor socket, resume or widget transcript carries it. A take-over is a
`transferred` event (`take_over: true`, `by`: who took it) and an `assigned` one to the
supervisor, in one append: the previous agent hears who took the chat, the visitor sees only
that a person joined, and the chat is in the supervisor's console at once (no offer to accept).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any

from chatserver.cluster.connections import Connection
from chatserver.cluster.router import Router
from chatserver.core import routing
from chatserver.core.conversation import Conversation, State
from chatserver.core.errors import Conflict, Forbidden
from chatserver.core.msgids import N_
from chatserver.store.store import Conn, NewEvent

from .agent_side import AgentProfile, not_now
from .dispatcher import Dispatcher, needs
from .event_frames import ack_for
from .journal import Journal, Outcome

Detail = Mapping[str, Any]
# Given the entry's facts (ids only, never the whisper's words), the write of one audit entry.
Record = Callable[[Detail], Callable[[Conn], object]]
# The events of a change and its audit facts, from the sender's profile and the chat.
Build = Callable[[AgentProfile, Conversation], tuple[list[NewEvent], Detail]]


_NOT_YOURS = {"whisper": N_("only supervisors and admins may whisper"),
              "take over": N_("only supervisors and admins may take over")}


def _refusal(conv: Conversation, verb: str, client_id: str) -> Conflict:
    """Why a supervisor cannot whisper to or take over this chat (a fixed sentence)."""
    return Conflict(not_now(verb, conv.state), frame_id=client_id)


class Supervision:
    """Whisper and take-over, for the agent socket of a supervisor or admin."""

    def __init__(self, journal: Journal, router: Router, dispatcher: Dispatcher,
                 agents: dict[int, AgentProfile],
                 reload: Callable[[int], Awaitable[bool]] | None = None) -> None:
        self.journal = journal
        self.router = router
        self.dispatcher = dispatcher
        self.agents = agents  # connected agents' live profiles, shared with the service
        # Reads a user's row again into their live profile (AgentSide.reload_profile): False
        # when the account is disabled or gone.
        self.reload = reload

    def _supervisor(self, staff_id: int, verb: str, client_id: str) -> AgentProfile:
        """The live profile (an admin may have changed the role since the socket opened)."""
        profile = self.agents.get(staff_id)
        if profile is None or profile.role not in ("supervisor", "admin"):
            raise Forbidden(_NOT_YOURS[verb], frame_id=client_id)
        return profile

    async def _change(self, staff_id: int, cid: str, client_id: str, verb: str,
                      build: Build, record: Record, origin: Connection | None,
                      then: Callable[[Conversation], Awaitable[None]] | None = None,
                      check: Callable[[Conversation], Awaitable[Conflict | None]] | None = None
                      ) -> Outcome:
        """Check, store with its audit entry, publish, then (only when new) `then`, under the
        chat's lock. Only a chat another agent holds may be changed (and `check` may refuse
        more); a retry of a frame stored before the chat moved on gets its ack again; anything
        else is a refusal."""
        # The role as stored, not as this process last heard it: an admin's change made
        # through another process reaches the live profile here (rare frames: one read each).
        if self.reload is not None and not await self.reload(staff_id):
            raise Forbidden(N_("this account is disabled"), frame_id=client_id)
        profile = self._supervisor(staff_id, verb, client_id)
        journal = self.journal
        async with journal.lock(cid):
            conv = await journal.conversation(cid)
            refusal = None
            if conv.state is not State.ASSIGNED or conv.agent_id in (None, staff_id):
                refusal = _refusal(conv, verb, client_id)
            elif check is not None:
                refusal = await check(conv)
            if refusal is not None:
                replay = await journal.replayed(conv, client_id, origin)
                if replay is not None:
                    return replay
                raise refusal
            events, detail = build(profile, conv)
            conv, stored, duplicate = await journal.append(
                conv, events, client_id, origin, also=record({"conversation_id": cid, **detail}))
            if then is not None and not duplicate:
                await then(conv)
        return Outcome(ack_for(client_id, stored[0]), stored)

    async def whisper(self, staff_id: int, cid: str, client_id: str, text: str, *,
                      record: Record, origin: Connection | None = None) -> Outcome:
        """A note to the agent holding the chat: they and supervisors see it, never the visitor."""
        def build(profile: AgentProfile, conv: Conversation) -> tuple[list[NewEvent], Detail]:
            payload = {"author": profile.display_name, "author_id": staff_id,
                       "to_agent": conv.agent_id, "text": text}
            return ([NewEvent("whisper", f"agent:{staff_id}", payload)],
                    {"to_agent": conv.agent_id})

        return await self._change(staff_id, cid, client_id, "whisper", build, record, origin)

    async def take_over(self, staff_id: int, cid: str, client_id: str, *, record: Record,
                        origin: Connection | None = None,
                        from_agent: int | None = None) -> Outcome:
        """Transfer the chat to the sender, who holds it from now on: only from `from_agent`,
        the agent they saw holding it, so that of two supervisors pressing Take over at once
        one wins. Without it (an older client) never from someone who took it over."""
        async def check(conv: Conversation) -> Conflict | None:
            if from_agent is not None and conv.agent_id != from_agent:
                return Conflict(N_("cannot take over: someone else holds this chat now"),
                                frame_id=client_id)
            if from_agent is None and await self._taken_over(conv):
                return Conflict(N_("cannot take over: a supervisor has just taken this chat over"),
                                frame_id=client_id)
            return None

        def build(profile: AgentProfile, conv: Conversation) -> tuple[list[NewEvent], Detail]:
            moved = {"from_agent": conv.agent_id, "to_agent": staff_id, "to_skill": None,
                     "note": "", "take_over": True, "by": profile.display_name}
            assigned = {"agent_id": staff_id, "agent": profile.display_name, "take_over": True}
            return ([NewEvent("transferred", f"agent:{staff_id}", moved),
                     NewEvent("assigned", f"agent:{staff_id}", assigned)],
                    {"from_agent": conv.agent_id})

        return await self._change(staff_id, cid, client_id, "take over", build, record,
                                  origin, then=lambda conv: self._route_to(conv, staff_id),
                                  check=check)

    async def _taken_over(self, conv: Conversation) -> bool:
        """Whether the chat's holder took it over (the last `assigned` event says so)."""
        row = await self.journal.store.fetchone(
            "SELECT payload FROM events WHERE conversation_id = ? AND type = 'assigned' "
            "ORDER BY seq DESC LIMIT 1", (conv.id,))
        return row is not None and bool(json.loads(row["payload"]).get("take_over"))

    async def _route_to(self, conv: Conversation, staff_id: int) -> None:
        """The router's hold moves from the previous agent to the supervisor: released (their
        slot frees; the part they handled feeds the ETA like any handle time) and held again,
        with nothing queued between, so no offer can go out for it meanwhile."""
        now = self.journal.clock() / 1000
        with suppress(routing.NotAssigned):  # not routed here (their hold lapsed): none to free
            await self.router.release(conv.id, now)
        await self.router.restore_assigned(conv.id, staff_id, needs(conv), conv.priority, now)
        self.dispatcher.kick()  # the previous agent has room for the next chat
