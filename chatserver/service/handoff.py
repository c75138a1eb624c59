"""Into the people's queue and out of it: the hand-off (or the offline line when nobody could
answer), the returning visitor's priority, and the close that takes a chat out of routing.

Both sides of a chat end up here — the visitor asks for a person or the bot gives up; either
side closes — so these steps live once, below `visitor_side` and `agent_side`.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from chatserver.cluster.connections import Connection
from chatserver.cluster.router import Router
from chatserver.config import DeskConfig, SurveyConfig
from chatserver.core import routing
from chatserver.core.conversation import Conversation, Event, State
from chatserver.core.frames import encode
from chatserver.core.messages import say
from chatserver.store.store import NewEvent

from .dispatcher import Dispatcher, needs, needs_of
from .event_frames import ack_for, survey_request
from .journal import Journal, Outcome


class Handoff:
    """Puts a chat in the router's queue, and takes it out when the chat closes."""

    def __init__(self, journal: Journal, router: Router, dispatcher: Dispatcher,
                 desk: DeskConfig, survey: SurveyConfig) -> None:
        self.journal = journal
        self.router = router
        self.dispatcher = dispatcher
        self.desk = desk
        self.survey_config = survey
        self.hours = routing.Schedule.parse(desk.hours, desk.closed_dates)

    async def queue(
        self, conv: Conversation, reason: str, *, skill: str | None,
        client_id: str | None = None, origin: Connection | None = None,
    ) -> Outcome:
        """Hand the chat to a person: queued and routed, or told at once nobody could come."""
        journal = self.journal
        skills = tuple(s for s in (self.desk.topics.get(conv.topic), skill) if s)
        queued: dict[str, Any] = {"reason": reason, "skills": list(dict.fromkeys(skills)),
                                  "language": conv.language}
        now = journal.clock() / 1000
        why = await self.offline_reason(needs_of(skills, conv.language), now)
        if why is not None:
            # Nobody could answer: say so now (and offer the message form) instead of queueing.
            offline, message = why
            line = {"from": "system", "author": "", "text": say(message, conv.language),
                    "offline": offline}
            conv, events, _ = await journal.append(
                conv, [NewEvent("message", "system", line)], client_id, origin)
            journal.bus.to_visitor(conv.visitor_id, encode(
                {"type": "offline", "conversation_id": conv.id, "reason": offline}))
            journal.telemetry.offline.inc(reason=offline)
            return Outcome(ack_for(client_id, events[0]) if client_id else {}, events)
        priority = await self.priority(conv)
        if priority:
            queued["priority"] = priority
        conv, events, duplicate = await journal.append(
            conv, [NewEvent("queued", "system", queued)], client_id, origin)
        try:
            await self.router.enqueue(conv.id, needs(conv), priority, now)
        except routing.AlreadyRouted:
            if not duplicate:  # else a retry that found its hand-off stored: routed by `found`
                raise
        self.dispatcher.kick()
        return Outcome(ack_for(client_id, events[0]) if client_id else {}, events)

    async def found(self, conv: Conversation, events: list[Event]) -> None:
        """A hand-off the log holds though its append was told it failed (`Journal.on_found`):
        the chat reads queued, but nobody told the router (the bot's `queued` is never
        retried), so it would be offered to nobody until a restart. Routed now, waiting since
        it was stored; a re-queue the router made itself is routed already."""
        if conv.state is not State.QUEUED or all(e.type != "queued" for e in events):
            return
        since = None if conv.queued_ms is None else conv.queued_ms / 1000
        with contextlib.suppress(routing.AlreadyRouted):
            await self.router.enqueue(conv.id, needs(conv), conv.priority,
                                      self.journal.clock() / 1000, since=since)
        self.dispatcher.kick()

    async def offline_reason(self, wanted: routing.Needs, now: float
                             ) -> tuple[str, str] | None:
        """Why no person can take a chat now, as (wire reason, message key), or None. The
        message tells "nobody online speaks your language" apart; the wire reason stays
        "no_agents" so v1 clients see nothing new."""
        if self.desk.hours and not routing.is_open(
                self.hours, datetime.fromtimestamp(now, UTC), self.desk.timezone):
            return "closed", "offline_closed"
        if not await self.router.servable_needs(wanted):
            if wanted.language is not None and await self.router.servable_needs(
                    routing.Needs(wanted.skills)):
                return "no_agents", "offline_no_language"
            return "no_agents", "offline_no_agents"
        return None

    async def priority(self, conv: Conversation) -> int:
        """Returning visitors whose last chat ended unresolved go ahead (bounded by rules)."""
        if not self.desk.returning_unresolved_priority:
            return 0
        row = await self.journal.store.fetchone(
            "SELECT resolved FROM conversations WHERE visitor_id = ? AND id != ? "
            "AND state = 'closed' ORDER BY closed_ms DESC LIMIT 1", (conv.visitor_id, conv.id))
        if row is not None and row["resolved"] == 0:
            return self.desk.returning_unresolved_priority
        return 0

    async def close(
        self, conv: Conversation, client_id: str | None, *, by: str, resolved: bool | None,
        origin: Connection | None = None, entry_id: int | None = None,
    ) -> Outcome:
        """Store the close (the caller checked it is legal), leave routing, ask the survey."""
        was, agent = conv.state, conv.agent_id
        payload: dict[str, Any] = {"by": by}
        if resolved is not None:
            payload["resolved"] = resolved
        if entry_id is not None:  # the entry that answered the visitor, named at close
            payload["entry_id"] = entry_id
        conv, events, duplicate = await self.journal.append(
            conv, [NewEvent("closed", by if by != "agent" else f"agent:{agent}", payload)],
            client_id, origin,
        )
        outcome = Outcome(ack_for(client_id, events[0]) if client_id else {}, events)
        if duplicate and was is State.CLOSED:
            return outcome  # a retry of a close whose steps were taken
        try:
            await self._leave_routing(conv.id, was, agent)
        except (routing.RoutingError, routing.UnknownConversation):
            # A retry that found its close stored while the chat looked open here: the first
            # try's COMMIT went through but its answer was lost, and these steps with it; or
            # another process took them and its word has not reached this one yet (routing
            # no longer holds the chat, and the survey is asked again).
            if not duplicate:
                raise
        if self.wants_survey(conv):
            self.journal.bus.to_visitor(conv.visitor_id, encode(
                survey_request(conv, self.survey_config)))
        return outcome

    async def _leave_routing(self, cid: str, was: State, agent: int | None) -> None:
        now = self.journal.clock() / 1000
        if was is State.ASSIGNED:
            await self.router.release(cid, now)
        elif was in (State.QUEUED, State.OFFERED):
            await self.router.withdraw(cid, now)
            if was is State.OFFERED and agent is not None:
                self.journal.bus.to_agents([agent], encode(
                    {"type": "offer_revoked", "conversation_id": cid, "reason": "withdrawn"}))
        self.dispatcher.kick()

    def wants_survey(self, conv: Conversation) -> bool:
        """After a person's chat, or a bot-only one too, as configured."""
        if conv.participants:
            return self.survey_config.after_agent
        return self.survey_config.after_bot_only
