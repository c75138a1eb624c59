"""The agent's side of a chat: presence and status, the offer accepted or declined, lines and
notes, the transfer and the close; what a console shows after a reconnect.

Each change takes the conversation's lock, checks it, and goes through the journal (store,
apply, publish); the router hears of it, and the dispatcher is kicked when the queue may move.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from chatserver.cluster.connections import Backlog, Connection, Registry
from chatserver.cluster.router import Router
from chatserver.core import conversation as cv
from chatserver.core.conversation import Conversation, Event, State
from chatserver.core.errors import CLOSE_POLICY, Conflict, Forbidden, NotFound
from chatserver.core.frames import encode
from chatserver.core.msgids import N_
from chatserver.store.store import NewEvent, Row

from .dispatcher import Dispatcher
from .event_frames import ack_for, event_frame, shown_to_staff, skills_from_json
from .handoff import Handoff
from .journal import Journal, Outcome

log = logging.getLogger(__name__)

# Why an agent's line (text or file) or transfer, or a supervisor's whisper or take-over (of a
# chat another agent must hold), does not fit the chat's state (None: any state not named):
# fixed sentences, so the console and the supervisor view show them in their language.
_NOT_NOW: dict[tuple[str, State | None], str] = {
    ("send", State.CLOSED): N_("cannot send: this chat has ended"),
    ("send", State.OFFERED): N_("cannot send: accept the chat first"),
    ("send", None): N_("cannot send: the chat is waiting for an agent"),
    ("transfer", State.CLOSED): N_("cannot transfer: this chat has ended"),
    ("transfer", State.OFFERED): N_("cannot transfer: accept the chat first"),
    ("transfer", None): N_("cannot transfer: the chat is waiting for an agent"),
    ("whisper", State.ASSIGNED): N_("cannot whisper: you hold this chat yourself"),
    ("whisper", State.CLOSED): N_("cannot whisper: the conversation is closed"),
    ("whisper", None): N_("cannot whisper: no agent holds this chat yet"),
    ("take over", State.ASSIGNED): N_("cannot take over: you hold this chat yourself"),
    ("take over", State.CLOSED): N_("cannot take over: the conversation is closed"),
    ("take over", None): N_("cannot take over: no agent holds this chat yet"),
}


def not_now(action: str, state: State) -> str:
    """Why `action` ("send", "transfer", "whisper", "take over") is refused in `state`."""
    return _NOT_NOW.get((action, state)) or _NOT_NOW[(action, None)]


@dataclass
class AgentProfile:
    id: int
    username: str
    display_name: str
    role: str
    skills: dict[str, int]
    capacity: int
    status: str = "offline"


class AgentSide:
    """Everything an agent's socket (and the admin's user page) asks of the service."""

    def __init__(self, journal: Journal, handoff: Handoff, router: Router,
                 dispatcher: Dispatcher, agents: dict[int, AgentProfile],
                 registry: Registry) -> None:
        self.journal = journal
        self.handoff = handoff
        self.router = router
        self.dispatcher = dispatcher
        self.agents = agents  # connected agents' profiles, shared with the service
        self.registry = registry
        self._presence: dict[int, str] = {}  # each agent's last status in agent_presence
        # Told when an agent answers a chat with a knowledge-base entry (the line's entry_id, or
        # the one named at close): (conversation id, entry id, "message" | "close", agent id,
        # now ms). app.py sets it to learning.Learning.agent_used.
        self.on_entry_used: Callable[[str, int, str, int, int], Awaitable[Any]] | None = None
        # Asked before a line or close naming an entry is stored: (conversation id, entry id)
        # -> may the entry be named there? An entry that may not is dropped from the line (it
        # never fails it, docs/protocol.md). app.py sets it to learning.Learning.entry_fits.
        self.entry_fits: Callable[[str, int], Awaitable[bool]] | None = None

    def _now(self) -> float:
        return self.journal.clock() / 1000

    # --- presence -----------------------------------------------------------------------------

    async def agent_connected(self, profile: AgentProfile) -> None:
        """A socket of this agent is in: a reload or a second tab carries on with the status
        they had; a first login, or one after longer than the grace period, starts away."""
        now = self._now()
        profile.status = await self.router.returning_status(profile.id, now)
        self.agents[profile.id] = profile
        revoked = await self.router.upsert_agent(profile.id, capacity=profile.capacity,
                                                 skills=dict(profile.skills), now=now,
                                                 status=profile.status)
        await self.router.agent_reconnected(profile.id, now)
        self.dispatcher.requeue_all(revoked, "revoke", "agent_status")
        await self.record_presence(profile.id, profile.status)

    async def update_profile(self, user: Row) -> None:
        """An admin changed a user: a connected agent's routing follows at once; a disabled
        one is disconnected (their sessions are already gone)."""
        profile = self.agents.get(int(user["id"]))
        if profile is None:
            return
        if user["disabled"]:
            for conn in tuple(self.registry.agents.get(profile.id, ())):
                conn.close(CLOSE_POLICY, "account disabled")
            return
        profile.display_name, profile.role = user["display_name"], user["role"]
        self.registry.watch_all(profile.id, profile.role != "agent")  # a demoted one stops
        profile.skills, profile.capacity = skills_from_json(user["skills"]), user["capacity"]
        revoked = await self.router.upsert_agent(profile.id, capacity=profile.capacity,
                                                 skills=dict(profile.skills),
                                                 now=self._now(), status=profile.status)
        self.dispatcher.requeue_all(revoked, "revoke", "agent_status")

    async def refresh_profile(self, user: Row) -> None:
        """What the store says of a connected user, read by another process's socket (its
        periodic session check, a supervisor's frame): an admin's change made through
        another process reaches this one's live profile (role, name, routing) too."""
        profile = self.agents.get(int(user["id"]))
        if profile is not None and (
                user["disabled"] or (profile.role, profile.display_name, profile.capacity,
                                     profile.skills) != (user["role"], user["display_name"],
                                                         user["capacity"],
                                                         skills_from_json(user["skills"]))):
            await self.update_profile(user)

    async def reload_profile(self, agent_id: int) -> bool:
        """Read the user again and refresh the live profile; False when the account is gone
        or disabled (its sockets are closing)."""
        user = await self.journal.store.user(agent_id)
        if user is None:
            return False
        await self.refresh_profile(user)
        return not user["disabled"]

    def backlog_for(self, agent_id: int) -> Backlog:
        """What this agent's sockets catch up from: every staff frame, a whisper only when
        it was for them or they oversee the desk (their live role, at the time of reading)."""
        def shown(event: Event) -> bool:
            profile = self.agents.get(agent_id)
            return shown_to_staff(event, agent_id, "agent" if profile is None else profile.role)

        return partial(self.journal.backlog, for_visitor=False, shown=shown)

    async def agent_disconnected(self, agent_id: int) -> None:
        """The agent's last socket closed: offers go back now, chats after the grace period."""
        revoked = await self.router.agent_disconnected(agent_id, self._now())
        self.dispatcher.requeue_all(revoked, "revoke", "agent_disconnected")
        await self.record_presence(agent_id, "offline")

    async def set_status(self, agent_id: int, status: str) -> None:
        profile = self.agents[agent_id]
        profile.status = status
        revoked = await self.router.set_status(agent_id, status, self._now())
        self.dispatcher.requeue_all(revoked, "revoke", "agent_status")
        await self.record_presence(agent_id, status)

    async def record_presence(self, agent_id: int, status: str) -> None:
        """Append the agent's routing status to agent_presence when it changed: the staffing
        advice counts the agents online per hour from these rows (chatserver/core/staffing.py)."""
        if self._presence.get(agent_id) == status:
            return
        self._presence[agent_id] = status
        row = (agent_id, self.journal.clock(), status)
        await self.journal.store.write(lambda conn: conn.execute(
            "INSERT INTO agent_presence (agent_id, ts_ms, status) VALUES (?, ?, ?)", row))

    # --- reading ------------------------------------------------------------------------------

    async def agent_view(self, agent_id: int, cid: str, *, holder: bool) -> Conversation:
        conv = await self.journal.conversation(cid)
        profile = self.agents.get(agent_id)
        allowed = conv.agent_id == agent_id or (
            not holder and (agent_id in conv.participants
                            or (profile is not None and profile.role != "agent"))
        )
        if not allowed:
            raise NotFound(N_("no such conversation"))  # never reveal others' conversations
        return conv

    async def open_conversations_of(self, agent_id: int) -> list[dict[str, Any]]:
        """The chats an agent holds or has been offered, for the console after a reconnect."""
        rows = await self.journal.store.fetchall(
            "SELECT id, visitor_id, state, last_seq, language, topic, agent_read_seq "
            "FROM conversations "
            "WHERE agent_id = ? AND state IN ('offered', 'assigned') ORDER BY created_ms",
            (agent_id,),
        )
        # read_seq: how far the agent side has read it (on any device: the console counts and
        # alerts only the visitor's lines after it)
        return [{"id": r["id"], "state": r["state"], "seq": r["last_seq"],
                 "language": r["language"], "topic": r["topic"],
                 "visitor_id": r["visitor_id"], "read_seq": r["agent_read_seq"]} for r in rows]

    # --- changes ------------------------------------------------------------------------------

    async def _offer_gone(self, conv: Conversation, client_id: str) -> Outcome:
        """The offer an accept or decline answers is not this agent's any more: a retry of
        one already stored gets its ack again; anything else is a conflict."""
        replay = await self.journal.replayed(conv, client_id)
        if replay is None:
            raise Conflict(N_("this offer is no longer yours"), frame_id=client_id)
        return replay

    async def accept(self, agent_id: int, cid: str, client_id: str,
                     origin: Connection | None = None) -> Outcome:
        journal = self.journal
        async with journal.lock(cid):
            conv = await journal.conversation(cid)
            if conv.state is not State.OFFERED or conv.agent_id != agent_id:
                return await self._offer_gone(conv, client_id)
            await self.router.accept(cid, agent_id, self._now())
            profile = self.agents[agent_id]
            payload = {"agent_id": agent_id, "agent": profile.display_name}
            conv, events, _ = await journal.append(
                conv, [NewEvent("assigned", f"agent:{agent_id}", payload)], client_id, origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def decline(self, agent_id: int, cid: str, client_id: str,
                      origin: Connection | None = None) -> Outcome:
        journal = self.journal
        async with journal.lock(cid):
            conv = await journal.conversation(cid)
            if conv.state is not State.OFFERED or conv.agent_id != agent_id:
                return await self._offer_gone(conv, client_id)
            await self.router.decline(cid, agent_id, self._now())
            conv, events, _ = await journal.append(
                conv, [NewEvent("queued", f"agent:{agent_id}",
                                {"reason": "declined", "skills": list(conv.skills),
                                 "language": conv.language})], client_id, origin)
            self.dispatcher.kick()
            return Outcome(ack_for(client_id, events[0]), events)

    async def agent_message(
        self, agent_id: int, cid: str, client_id: str, text: str, *, note: bool,
        origin: Connection | None = None, entry_id: int | None = None,
    ) -> Outcome:
        journal = self.journal
        async with journal.lock(cid):
            conv = await self.agent_view(agent_id, cid, holder=not note)
            if not note and not cv.can_post(conv.state, "agent"):
                # A retry of a line stored before the chat moved on gets its ack again;
                # the happy path needs no lookup (the append itself spots a repeated id).
                replay = await journal.replayed(conv, client_id, origin)
                if replay is not None:
                    return replay
                raise Conflict(not_now("send", conv.state), frame_id=client_id)
            profile = self.agents[agent_id]
            kind = "note" if note else "message"
            line: dict[str, Any] = {"from": "agent", "author": profile.display_name,
                                    "text": text}
            if not note:
                entry_id = await self._fitting(cid, entry_id)
            if entry_id is not None and not note:  # the line came from this entry
                line["entry_id"] = entry_id
            conv, events, duplicate = await journal.append(
                conv, [NewEvent(kind, f"agent:{agent_id}", line)], client_id, origin)
            if note and agent_id not in journal.holders(conv):  # e.g. the agent before a transfer
                journal.bus.to_agents([agent_id], encode(
                    event_frame(events[0], for_visitor=False) or {}))
        if "entry_id" in line and not duplicate:
            await self._entry_used(cid, entry_id, "message", agent_id)
        return Outcome(ack_for(client_id, events[0]), events)

    async def _fitting(self, cid: str, entry_id: int | None) -> int | None:
        """The entry id if it may be named in this chat, else None (dropped, never an error)."""
        if entry_id is None or self.entry_fits is None:
            return entry_id
        try:
            return entry_id if await self.entry_fits(cid, entry_id) else None
        except Exception:
            log.exception("could not check entry %s for conversation %s", entry_id, cid)
            return None

    async def _entry_used(self, cid: str, entry_id: int | None, source: str,
                          agent_id: int) -> None:
        """After the agent's change is stored and acked: a proposal is a by-product, and
        a failure to make one must never fail the agent's line or close."""
        if self.on_entry_used is None or entry_id is None:
            return
        try:
            await self.on_entry_used(cid, entry_id, source, agent_id, self.journal.clock())
        except Exception:
            log.exception("could not propose a phrasing from conversation %s", cid)

    async def transfer(
        self, agent_id: int, cid: str, client_id: str, *, to_agent: int | None,
        to_skill: str | None, note: str | None, origin: Connection | None = None,
    ) -> Outcome:
        journal = self.journal
        async with journal.lock(cid):
            conv = await self.agent_view(agent_id, cid, holder=True)
            if conv.state is not State.ASSIGNED:
                replay = await journal.replayed(conv, client_id)
                if replay is not None:
                    return replay
                raise Conflict(not_now("transfer", conv.state), frame_id=client_id)
            if to_agent is not None and await journal.store.user(to_agent) is None:
                raise NotFound(N_("no such agent"), frame_id=client_id)
            skills = [to_skill] if to_skill else list(conv.skills)
            moved = {"from_agent": agent_id, "to_agent": to_agent, "to_skill": to_skill,
                     "note": note or ""}
            queued = {"reason": "transfer", "skills": skills, "language": conv.language}
            conv, events, _ = await journal.append(conv, [
                NewEvent("transferred", f"agent:{agent_id}", moved),
                NewEvent("queued", f"agent:{agent_id}", queued)], client_id, origin)
            await self.router.transfer(cid, self._now(), to_agent=to_agent, to_skill=to_skill)
            journal.bus.to_agents([agent_id], encode(
                event_frame(events[0], for_visitor=False) or {}))
            self.dispatcher.kick()
            return Outcome(ack_for(client_id, events[0]), events)

    async def close_by_agent(
        self, agent_id: int, cid: str, client_id: str, resolved: bool,
        origin: Connection | None = None, entry_id: int | None = None,
    ) -> Outcome:
        async with self.journal.lock(cid):
            conv = await self.agent_view(agent_id, cid, holder=False)
            if conv.state is State.CLOSED:
                replay = await self.journal.replayed(conv, client_id)
                if replay is not None:
                    return replay
            held = conv.state is State.ASSIGNED and conv.agent_id == agent_id
            if self.agents[agent_id].role == "agent" and not held:
                if conv.agent_id != agent_id:
                    raise Forbidden(N_("only the agent holding the chat may close it"),
                                    frame_id=client_id)
                if conv.state is State.OFFERED:  # never accepted: not theirs to end
                    raise Conflict(N_("this chat is only offered to you: decline it instead"),
                                   frame_id=client_id)
            cv.transition(conv.state, "close")
            entry_id = await self._fitting(cid, entry_id)
            outcome = await self.handoff.close(conv, client_id, by="agent", resolved=resolved,
                                               origin=origin, entry_id=entry_id)
        if held:  # a supervisor closing someone else's chat answered nobody with the entry
            await self._entry_used(cid, entry_id, "close", agent_id)
        return outcome
