"""The conversation service: check, store, apply, publish — in that order, every time.

Each change to a conversation runs under that conversation's lock: the pure state machine
says whether it is legal, the store appends the events (committed before anything else
happens), the projection folds them in, and only then are acks sent and frames published.
Routing decisions come from the pure Board; this module carries them out.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from . import conversation as cv
from . import routing
from .bus import Bus, RedisBus
from .config import DeskConfig, SurveyConfig
from .connections import Ack, Connection, Registry
from .conversation import Conversation, Event, State
from .dispatcher import Dispatcher
from .errors import CLOSE_POLICY, Conflict, Forbidden, NotFound, Unavailable
from .event_frames import (
    ack_for,
    answer_line,
    event_frame,
    skills_from_json,
    survey_request,
)
from .frames import encode
from .messages import say
from .router import Router
from .store import NewEvent, StaleState, Store
from .telemetry import Telemetry, log_event
from .tokens import new_id

log = logging.getLogger(__name__)


class BotLike(Protocol):
    """What the service needs of the knowledge-base bot (bot.Bot satisfies it)."""

    def decide(self, text: str, language: str, failed_rounds: int = 0,
               previous: Sequence[str] = (), name: str = "") -> Any: ...


@dataclass
class AgentProfile:
    id: int
    username: str
    display_name: str
    role: str
    skills: dict[str, int]
    capacity: int
    status: str = "offline"


@dataclass
class Outcome:
    """What a client's request produced: the ack to send back (after commit)."""

    ack: dict[str, Any]
    events: list[Event] = field(default_factory=list)


def still_allowed(events: Sequence[NewEvent], before: Conversation,
                  after: Conversation) -> bool:
    """After losing a race to another process: may these events still go on top?

    If nobody changed who holds the chat or its state, the caller's checks still hold. If they
    did, lines and notes are still fine while their author may post (a visitor's line while
    the chat moved from offered to assigned, say); any state transition must be decided anew.
    """
    if (after.state, after.agent_id) == (before.state, before.agent_id):
        return True
    for event in events:
        sender = event.payload.get("from")
        if event.type == "note":
            continue
        if event.type != "message" or sender not in ("visitor", "agent"):
            return False
        if not cv.can_post(after.state, sender):
            return False
        if sender == "agent" and after.agent_id != before.agent_id:
            return False
    return True


# A repeated question is looked for among the visitor's last 3 lines (the bot's replies in
# between make up the rest of the 12 events read): an older one is a new topic coming back.
REPEAT_LINES = 3
REPEAT_WINDOW = 12

# Redelivery after a Redis outage starts this long before the outage was noticed: a
# publication can be lost a moment before the subscriber sees the connection drop.
REDELIVER_MARGIN_MS = 5000


def now_ms() -> int:
    return int(time.time() * 1000)


class ConversationService:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        bus: Bus,
        router: Router,
        *,
        bot: BotLike | None = None,
        answers: Mapping[int, tuple[str, str]] | None = None,
        desk: DeskConfig | None = None,
        survey: SurveyConfig | None = None,
        shared: bool = False,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.registry = registry
        self.bus = bus
        self.router = router
        self.queue_summary: tuple[int, float] = (0, 0.0)  # for gauges: (waiting, oldest)
        self.bot = bot
        self.answers = answers if answers is not None else {}  # entry id -> (title, answer)
        self.clock = clock
        self.agents: dict[int, AgentProfile] = {}
        self._presence: dict[int, str] = {}  # each agent's last status in agent_presence
        self._convs: dict[str, Conversation] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.desk = desk or DeskConfig()
        self.survey_config = survey or SurveyConfig()
        self.shared = shared  # other processes write to the same store
        # Cached conversations another process has written past without this process seeing
        # the event (a publication lost or out of order): only these are read again before
        # use. Shared mode comes with the Redis bus (app.py), which carries every event.
        self._stale: set[str] = set()
        if shared and isinstance(bus, RedisBus):
            bus.on_stored = self._written_elsewhere
        self.hours = routing.Schedule.parse(self.desk.hours, self.desk.closed_dates)
        self.telemetry = Telemetry()
        self.dispatcher = Dispatcher(self)
        # What each socket catches up from (one callable per audience, not one per socket).
        self.visitor_backlog = partial(self.backlog, for_visitor=True)
        self.agent_backlog = partial(self.backlog, for_visitor=False)
        # Told when an agent answers a chat with a knowledge-base entry (the line's entry_id, or
        # the one named at close): (conversation id, entry id, "message" | "close", agent id,
        # now ms). app.py sets it to learning.Learning.agent_used.
        self.on_entry_used: Callable[[str, int, str, int, int], Awaitable[Any]] | None = None
        # Encodes a visitor's message for the bot's semantic re-ranker before the bot reads it
        # (off the event loop); app.py sets it to embeddings.Embeddings.prepare when on.
        self.prepare_message: Callable[[str], Awaitable[None]] | None = None

    # --- loading ---------------------------------------------------------------------------

    async def conversation(self, conversation_id: str, *, fresh: bool = False) -> Conversation:
        """The projection, current with the log as far as this process knows.

        Other processes may write to the log too (shared mode). The bus brings what they
        store and it is applied as it comes, so a cached projection is read again only when
        marked stale (a gap), while Redis is unreachable (then nothing comes), or when the
        caller asks (`fresh`): it learnt of a change some other way. A write whose event has
        not arrived yet is caught by `append`, which stores only on top of the seq it was
        given."""
        conv = self._convs.get(conversation_id)
        if conv is not None and self.shared and (
                fresh or conversation_id in self._stale or not self.bus.healthy):
            return await self._catch_up(conv)
        if conv is None:
            self._stale.discard(conversation_id)
            row = await self.store.conversation_row(conversation_id)
            if row is None:
                raise NotFound("no such conversation")
            events = await self.store.events_after(conversation_id, 0)
            conv = cv.replay(conversation_id, row["visitor_id"], events)
            self._keep(conv)
        return conv

    async def _catch_up(self, conv: Conversation) -> Conversation:
        # Unmarked before the read: a gap noticed during it marks the conversation again.
        self._stale.discard(conv.id)
        for event in await self.store.events_after(conv.id, conv.last_seq):
            conv = cv.apply(conv, event)
        if conv.id in self._convs:  # else an append here closed it during the read
            self._keep(conv)
        return conv

    def _keep(self, conv: Conversation) -> None:
        """Cache a projection read from the log, unless the cache already holds a newer one:
        a read made without the lock can end after an append made with it."""
        cached = self._convs.get(conv.id)
        if cached is not None and cached.last_seq >= conv.last_seq:
            return
        if conv.state is State.CLOSED:  # final: nothing more to read
            self._convs.pop(conv.id, None)
            self._stale.discard(conv.id)
        else:
            self._convs[conv.id] = conv

    def _written_elsewhere(self, event: Event) -> None:
        """Another process stored `event` (the bus carries it): the next one for this
        process's projection is applied at once; after a gap (a lost publication) the
        projection is marked stale and the log is read before its next use."""
        conv = self._convs.get(event.conversation_id)
        if conv is None or event.seq <= conv.last_seq:
            return
        if event.seq == conv.last_seq + 1 and conv.id not in self._stale:
            self._keep(cv.apply(conv, event))
        else:
            self._stale.add(conv.id)

    def lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    async def resync(self, lost_at: float | None = None) -> None:
        """Redis was (re)reached: it may have lost everything, so put this process's agents
        and every open conversation back. Idempotent: what the router still has stays.

        Publications made while this process was not subscribed are gone (pub/sub keeps
        nothing), so it redelivers to its own sockets every event stored since shortly before
        it lost Redis; clients drop what they already have (by seq and id). For the same
        reason every cached projection may be stale: each is read again before its next use."""
        self._stale = set(self._convs)
        if lost_at is not None:
            await self._redeliver_since(int(lost_at * 1000) - REDELIVER_MARGIN_MS)
        now = self.clock() / 1000
        for profile in list(self.agents.values()):
            if self.registry.agent_online(profile.id):
                await self.router.upsert_agent(profile.id, capacity=profile.capacity,
                                               skills=dict(profile.skills), now=now,
                                               status=profile.status)
        await self.restore()
        self.dispatcher.kick()

    async def _redeliver_since(self, since_ms: int) -> None:
        """Each local socket of a chat written since `since_ms` catches up from what it has
        (from the first of those events when it had nothing of the chat): nothing twice."""
        rows = await self.store.fetchall(
            "SELECT conversation_id, min(seq) AS first FROM events WHERE ts_ms >= ? "
            "GROUP BY conversation_id", (since_ms,))
        registry = self.registry
        for row in rows:
            cid = row["conversation_id"]
            conv = await self.conversation(cid)
            watchers = set(self.holders(conv)) | registry.supervisors
            conns = [*registry.visitors.get(conv.visitor_id, ()),
                     *(c for a in watchers for c in registry.agents.get(a, ()))]
            for conn in conns:
                conn.refresh(cid, row["first"])

    async def restore(self) -> None:
        """After a restart: put every waiting conversation back in the queue, in order.

        With a shared router another process may already route some of them; those are
        left as they are (the router says they are already routed)."""
        now = self.clock() / 1000
        for row in await self.store.open_conversations():
            conv = await self.conversation(row["id"])
            since = None if conv.queued_ms is None else conv.queued_ms / 1000
            needs = self._needs(conv)
            try:
                if conv.state in (State.QUEUED, State.OFFERED):
                    await self.router.enqueue(conv.id, needs, conv.priority, now, since=since)
                elif conv.state is State.ASSIGNED and conv.agent_id is not None:
                    await self._restore_assigned(conv, now)
            except routing.AlreadyRouted:
                continue  # another process routes it; nothing was lost
            if conv.state is State.OFFERED:  # the offer died with the process that made it
                async with self.lock(conv.id):
                    await self.append(conv, [NewEvent("queued", "system", {
                        "reason": "restart", "skills": list(conv.skills),
                        "language": conv.language})])

    async def _restore_assigned(self, conv: Conversation, now: float) -> None:
        """The agent gets the grace period to come back, as after any dropped socket."""
        assert conv.agent_id is not None
        try:
            await self.router.restore_assigned(conv.id, conv.agent_id, self._needs(conv),
                                               conv.priority, now)
        except routing.UnknownAgent:  # not connected anywhere since the start: add them offline
            user = await self.store.user(conv.agent_id)
            if user is None:
                return
            await self.router.upsert_agent(conv.agent_id, capacity=user["capacity"],
                                           skills=skills_from_json(user["skills"]), now=now,
                                           status="offline")
            await self.router.restore_assigned(conv.id, conv.agent_id, self._needs(conv),
                                               conv.priority, now)

    # --- appending -------------------------------------------------------------------------

    async def append(
        self,
        conv: Conversation,
        events: Sequence[NewEvent],
        client_id: str | None = None,
        origin: Connection | None = None,
    ) -> tuple[Conversation, list[Event], bool]:
        """Store, apply and publish; the caller holds the conversation's lock.

        With several processes, the append only succeeds on top of the log the caller saw.
        If another process wrote in between without changing who holds the chat or its
        state (the caller's checks still hold), try again on top; otherwise it is a conflict."""
        for _ in range(5):
            try:
                appended = await self.store.append(
                    conv.id, events, now_ms=self.clock(), client_id=client_id,
                    expect_seq=conv.last_seq if self.shared else None)
                break
            except StaleState:
                newer = await self.conversation(conv.id, fresh=True)
                if not still_allowed(events, conv, newer):
                    raise Conflict("the conversation changed meanwhile; look again",
                                   frame_id=client_id) from None
                conv = newer
        else:
            raise Unavailable("too busy to store this now; retry with the same id",
                              frame_id=client_id)
        if appended.duplicate:
            return conv, appended.events, True
        ack = None
        if origin is not None and client_id is not None:
            # The sender hears its change was stored before any frame that follows it; its
            # own words need no copy besides the ack, what else it caused (an answer, a
            # system line, `assigned`) is sent to it too.
            first = appended.events[0]
            own = first.type in ("message", "note") and first.author not in ("bot", "system")
            ack = Ack(origin, client_id, encode(ack_for(client_id, first)), own)
        for event in appended.events:
            self._observe(conv, event)
            conv = cv.apply(conv, event)
            self.publish(conv, event, ack if event.client_id else None)
        if conv.state is State.CLOSED:
            self._convs.pop(conv.id, None)
            self._locks.pop(conv.id, None)
            self._stale.discard(conv.id)
        else:
            self._convs[conv.id] = conv
        return conv, appended.events, False

    def _observe(self, before: Conversation, event: Event) -> None:
        """Count and log what just happened; `before` is the projection it applies to."""
        t, p = self.telemetry, event.payload
        match event.type:
            case "message":
                t.messages.inc(sender=p["from"])
                seconds = cv.response_seconds(before, event)
                if seconds is not None:
                    t.response.observe(seconds)
                    log_event("response_time", conversation_id=event.conversation_id,
                              agent_id=before.agent_id, seconds=seconds)
            case "queued" if p.get("reason") not in cv.REQUEUE_REASONS:
                t.handoffs.inc(reason=p.get("reason", ""))
            case "queued" if p.get("reason") in ("declined", "offer_expired"):
                t.offers.inc(outcome=p["reason"])
            case "assigned":
                t.offers.inc(outcome="accepted")
                if before.queued_ms is not None:
                    t.queue_wait.observe(max(0, event.ts_ms - before.queued_ms) / 1000)
            case "closed":
                t.closed.inc(by=p["by"], resolved=str(p.get("resolved", "")).lower())
                handle = None
                if before.assigned_ms is not None:
                    handle = max(0, event.ts_ms - before.assigned_ms) / 1000
                    t.handle.observe(handle)
                log_event("conversation_closed", conversation_id=event.conversation_id,
                          by=p["by"], resolved=p.get("resolved"), agent_id=before.agent_id,
                          handle_seconds=handle, language=before.language,
                          topic=before.topic, messages=before.last_seq)
            case "survey":
                t.surveys.inc(rating=str(p["rating"]))

    def publish(self, conv: Conversation, event: Event, ack: Ack | None = None) -> None:
        """Deliver one stored event to whoever may see it; each frame is encoded once."""
        agent_frame = event_frame(event, for_visitor=False)
        agent_text = None if agent_frame is None else encode(agent_frame)
        visitor_text = None
        if event.type in cv.VISITOR_EVENTS:
            visitor_frame = event_frame(event, for_visitor=True)
            if visitor_frame is not None:  # visitor and agent lines: one encoding
                visitor_text = (agent_text if visitor_frame == agent_frame and agent_text
                                else encode(visitor_frame))
        self.bus.to_conversation(event, self.holders(conv), agent_text, conv.visitor_id,
                                 visitor_text, ack)

    @staticmethod
    def holders(conv: Conversation) -> tuple[int, ...]:
        """The agent who holds (or held, until it closed) the chat; supervisors see it too."""
        if conv.agent_id is not None and conv.state in (State.ASSIGNED, State.CLOSED):
            return (conv.agent_id,)
        return ()

    # --- visitors ---------------------------------------------------------------------------

    async def start(
        self, visitor_id: str, profile: Mapping[str, str]
    ) -> Conversation:
        """Open a new conversation for a visitor who has none open."""
        cid = new_id()
        started = {k: v for k, v in profile.items() if k in ("language", "topic", "page_url")}
        started["visitor_name"] = profile.get("name", "")
        event = await self.store.create_conversation(cid, visitor_id, started, self.clock())
        self.telemetry.conversations.inc()
        conv = cv.apply(Conversation(cid, visitor_id), event)
        self._convs[cid] = conv
        return conv

    async def visitor_message(
        self, conv: Conversation, client_id: str, text: str, name: str,
        origin: Connection | None = None,
    ) -> Outcome:
        async with self.lock(conv.id):
            conv = await self.conversation(conv.id)
            if not cv.can_post(conv.state, "visitor"):
                raise Conflict("this conversation is closed; start a new one")
            line = {"from": "visitor", "author": name or "Visitor", "text": text}
            conv, events, duplicate = await self.append(
                conv, [NewEvent("message", "visitor", line)], client_id, origin
            )
            outcome = Outcome(ack_for(client_id, events[0]), events)
            if duplicate or conv.state is not State.BOT:
                return outcome
            await self._bot_turn(conv, text, name)
        return outcome

    async def _earlier_lines(self, conv: Conversation) -> list[str]:
        """The visitor's lines before the one just stored, newest last (a repeated question)."""
        events = await self.store.events_after(conv.id, max(0, conv.last_seq - REPEAT_WINDOW))
        lines = [e.payload.get("text", "") for e in events
                 if e.type == "message" and e.payload.get("from") == "visitor"]
        return lines[:-1][-REPEAT_LINES:]

    async def _bot_turn(self, conv: Conversation, text: str, name: str = "") -> None:
        if self.bot is None:
            await self._handoff(conv, "no_bot", skill=None)
            return
        previous = await self._earlier_lines(conv)
        if self.prepare_message is not None:
            await self.prepare_message(text)
        decision = self.bot.decide(text, conv.language or "en", conv.bot_failures,
                                   previous=previous, name=name)
        matches = [
            {"entry_id": m.entry_id, "title": m.title, "score": round(m.score, 3)}
            for m in decision.matches
        ]
        if decision.action == "answer":
            entry_id = decision.entry_id
            _, answer = self.answers.get(entry_id, (decision.matches[0].title, ""))
            asked = getattr(decision, "question_language", None)
            if asked and decision.language and asked != decision.language:
                # The knowledge base has no entries in the visitor's language: the answer is
                # the page language's, and a line in theirs says so (bot/script.py).
                answer = f"{say('other_language', asked)}\n\n{answer}"
            line = {**answer_line(answer), "decision": "answer", "entry_id": entry_id,
                    "matches": matches}
            await self.append(conv, [NewEvent("message", "bot", line)])
        elif decision.action == "smalltalk":
            # Small talk is answered in kind and is no failed round; after thanks or goodbye
            # the line offers to end the chat (docs/protocol.md, "actions").
            line = {**answer_line(decision.answer or ""), "decision": "smalltalk",
                    "intent": decision.intent}
            if decision.intent in ("thanks", "goodbye"):
                line["actions"] = ["close"]
            await self.append(conv, [NewEvent("message", "bot", line)])
        elif decision.action == "offer_human":
            # Frustrated, insulting or asking again: apologise and offer a person with a
            # button in the line; nobody is queued until the visitor presses it.
            key = "offer_human_repeated" if decision.reason == "repeated" else "offer_human"
            line = {"from": "bot", "author": "Bot", "text": say(key, conv.language),
                    "decision": "offer_human", "reason": decision.reason, "matches": matches,
                    "actions": ["human"]}
            await self.append(conv, [NewEvent("message", "bot", line)])
        elif decision.action == "suggest":
            line = {
                "from": "bot", "author": "Bot", "text": say("suggest", conv.language),
                "decision": "suggest",
                "suggestions": [{"entry_id": m["entry_id"], "title": m["title"]}
                                for m in matches[:3]],
                "matches": matches,
            }
            await self.append(conv, [NewEvent("message", "bot", line)])
        else:
            line = {"from": "bot", "author": "Bot", "text": say("handoff", conv.language),
                    "decision": "handoff", "reason": decision.reason, "matches": matches}
            conv, _, _ = await self.append(conv, [NewEvent("message", "bot", line)])
            # Asked outright for a person: route by language and the pre-chat topic only. The
            # bot's topic guess for "a person, please" is phrasing noise (it matched "opening
            # hours" at 0.40, above real topics like "a person about my refund" at 0.23), and
            # a skill nobody holds would hold the visitor until relaxation drops it.
            skill = None if decision.reason == "asked_for_human" else decision.skill
            await self._handoff(conv, decision.reason, skill=skill)

    async def choose(self, conv: Conversation, client_id: str, entry_id: int,
                     origin: Connection | None = None) -> Outcome:
        """The visitor picked one of the bot's suggestions: answer with that entry."""
        async with self.lock(conv.id):
            conv = await self.conversation(conv.id)
            if entry_id not in self.answers:
                raise NotFound("no such knowledge-base entry", frame_id=client_id)
            title, answer = self.answers[entry_id]
            line = {**answer_line(answer), "decision": "answer", "entry_id": entry_id,
                    "chosen": True, "title": title}
            conv, events, _ = await self.append(conv, [NewEvent("message", "bot", line)],
                                                client_id, origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def request_human(self, conv: Conversation, client_id: str,
                            origin: Connection | None = None) -> Outcome:
        async with self.lock(conv.id):
            conv = await self.conversation(conv.id)
            if conv.state is not State.BOT:
                existing = await self._replayed(conv, client_id)
                if existing is not None:
                    return existing
                raise Conflict(f"already {conv.state}: a person is on the way",
                               frame_id=client_id)
            return await self._handoff(conv, "asked", skill=None, client_id=client_id,
                                       origin=origin)

    async def _replayed(self, conv: Conversation, client_id: str | None) -> Outcome | None:
        """A retried frame whose first attempt was stored gets the same ack, and nothing else."""
        if client_id is None:
            return None
        event = await self.store.event_by_client_id(conv.id, client_id)
        return None if event is None else Outcome(ack_for(client_id, event), [event])

    async def _handoff(
        self, conv: Conversation, reason: str, *, skill: str | None,
        client_id: str | None = None, origin: Connection | None = None,
    ) -> Outcome:
        skills = tuple(s for s in (self.desk.topics.get(conv.topic), skill) if s)
        queued: dict[str, Any] = {"reason": reason, "skills": list(dict.fromkeys(skills)),
                                  "language": conv.language}
        now = self.clock() / 1000
        why = await self._offline_reason(self._needs_of(skills, conv.language), now)
        if why is not None:
            # Nobody could answer: say so now (and offer the message form) instead of queueing.
            offline, message = why
            line = {"from": "system", "author": "", "text": say(message, conv.language),
                    "offline": offline}
            conv, events, _ = await self.append(conv, [NewEvent("message", "system", line)],
                                                client_id, origin)
            self.bus.to_visitor(conv.visitor_id, encode(
                {"type": "offline", "conversation_id": conv.id, "reason": offline}))
            self.telemetry.offline.inc(reason=offline)
            return Outcome(ack_for(client_id, events[0]) if client_id else {}, events)
        priority = await self.priority(conv)
        if priority:
            queued["priority"] = priority
        conv, events, _ = await self.append(conv, [NewEvent("queued", "system", queued)],
                                            client_id, origin)
        await self.router.enqueue(conv.id, self._needs(conv), priority, now)
        self.dispatcher.kick()
        return Outcome(ack_for(client_id, events[0]) if client_id else {}, events)

    async def _offline_reason(self, needs: routing.Needs, now: float
                              ) -> tuple[str, str] | None:
        """Why no person can take a chat now, as (wire reason, message key), or None. The
        message tells "nobody online speaks your language" apart; the wire reason stays
        "no_agents" so v1 clients see nothing new."""
        if self.desk.hours and not routing.is_open(
                self.hours, datetime.fromtimestamp(now, UTC), self.desk.timezone):
            return "closed", "offline_closed"
        if not await self.router.servable_needs(needs):
            if needs.language is not None and await self.router.servable_needs(
                    routing.Needs(needs.skills)):
                return "no_agents", "offline_no_language"
            return "no_agents", "offline_no_agents"
        return None

    async def close_by_visitor(self, conv: Conversation, client_id: str,
                               origin: Connection | None = None) -> Outcome:
        async with self.lock(conv.id):
            conv = await self.conversation(conv.id)
            if conv.state is State.CLOSED:
                replay = await self._replayed(conv, client_id)
                if replay is not None:
                    return replay
            cv.transition(conv.state, "close")
            return await self._close(conv, client_id, by="visitor", resolved=None,
                                     origin=origin)

    async def _close(
        self, conv: Conversation, client_id: str | None, *, by: str, resolved: bool | None,
        origin: Connection | None = None, entry_id: int | None = None,
    ) -> Outcome:
        was, agent = conv.state, conv.agent_id
        payload: dict[str, Any] = {"by": by}
        if resolved is not None:
            payload["resolved"] = resolved
        if entry_id is not None:  # the entry that answered the visitor, named at close
            payload["entry_id"] = entry_id
        conv, events, duplicate = await self.append(
            conv, [NewEvent("closed", by if by != "agent" else f"agent:{agent}", payload)],
            client_id, origin,
        )
        if not duplicate:
            await self._leave_routing(conv.id, was, agent)
            if self.wants_survey(conv):
                self.bus.to_visitor(conv.visitor_id, encode(
                    survey_request(conv, self.survey_config)))
        return Outcome(ack_for(client_id, events[0]) if client_id else {}, events)

    async def _leave_routing(self, cid: str, was: State, agent: int | None) -> None:
        now = self.clock() / 1000
        if was is State.ASSIGNED:
            await self.router.release(cid, now)
        elif was in (State.QUEUED, State.OFFERED):
            await self.router.withdraw(cid, now)
            if was is State.OFFERED and agent is not None:
                self.bus.to_agents([agent], encode(
                    {"type": "offer_revoked", "conversation_id": cid, "reason": "withdrawn"}))
        self.dispatcher.kick()

    async def survey(
        self, conv: Conversation, client_id: str, answer: Mapping[str, Any],
        origin: Connection | None = None,
    ) -> Outcome:
        async with self.lock(conv.id):
            conv = await self.conversation(conv.id)
            replay = await self._replayed(conv, client_id)
            if replay is not None:
                return replay
            if conv.state is not State.CLOSED:
                raise Conflict("the survey follows the end of the chat", frame_id=client_id)
            if not self.wants_survey(conv):
                raise Conflict("this conversation has no survey", frame_id=client_id)
            window_ms = self.survey_config.window_hours * 3600 * 1000
            if conv.closed_ms is not None and self.clock() - conv.closed_ms > window_ms:
                raise Conflict("the survey for this conversation has closed",
                               frame_id=client_id)
            if conv.surveyed:
                raise Conflict("this conversation's survey is already answered",
                               frame_id=client_id)
            fields = ("rating", "nps", "comment") if self.survey_config.nps else (
                "rating", "comment")
            payload = {k: answer[k] for k in fields if k in answer}
            conv, events, _ = await self.append(conv, [NewEvent("survey", "visitor", payload)],
                                                client_id, origin)
            return Outcome(ack_for(client_id, events[0]), events)

    # --- agents -----------------------------------------------------------------------------

    async def agent_connected(self, profile: AgentProfile) -> None:
        """A socket of this agent is in: a reload or a second tab carries on with the status
        they had; a first login, or one after longer than the grace period, starts away."""
        now = self.clock() / 1000
        profile.status = await self.router.returning_status(profile.id, now)
        self.agents[profile.id] = profile
        revoked = await self.router.upsert_agent(profile.id, capacity=profile.capacity,
                                           skills=dict(profile.skills), now=now,
                                           status=profile.status)
        await self.router.agent_reconnected(profile.id, now)
        self.dispatcher.requeue_all(revoked, "revoke", "agent_status")
        await self.record_presence(profile.id, profile.status)

    async def update_profile(self, user: sqlite3.Row) -> None:
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
        profile.skills, profile.capacity = skills_from_json(user["skills"]), user["capacity"]
        revoked = await self.router.upsert_agent(profile.id, capacity=profile.capacity,
                                          skills=dict(profile.skills),
                                          now=self.clock() / 1000, status=profile.status)
        self.dispatcher.requeue_all(revoked, "revoke", "agent_status")

    async def agent_disconnected(self, agent_id: int) -> None:
        """The agent's last socket closed: offers go back now, chats after the grace period."""
        now = self.clock() / 1000
        self.dispatcher.requeue_all(await self.router.agent_disconnected(agent_id, now), "revoke",
                          "agent_disconnected")
        await self.record_presence(agent_id, "offline")

    async def set_status(self, agent_id: int, status: str) -> None:
        profile = self.agents[agent_id]
        profile.status = status
        revoked = await self.router.set_status(agent_id, status, self.clock() / 1000)
        self.dispatcher.requeue_all(revoked, "revoke", "agent_status")
        await self.record_presence(agent_id, status)

    async def record_presence(self, agent_id: int, status: str) -> None:
        """Append the agent's routing status to agent_presence when it changed: the staffing
        advice counts the agents online per hour from these rows (chatserver/staffing.py)."""
        if self._presence.get(agent_id) == status:
            return
        self._presence[agent_id] = status
        row = (agent_id, self.clock(), status)
        await self.store.write(lambda conn: conn.execute(
            "INSERT INTO agent_presence (agent_id, ts_ms, status) VALUES (?, ?, ?)", row))

    async def agent_view(self, agent_id: int, cid: str, *, holder: bool) -> Conversation:
        conv = await self.conversation(cid)
        profile = self.agents.get(agent_id)
        allowed = conv.agent_id == agent_id or (
            not holder and (agent_id in conv.participants
                            or (profile is not None and profile.role != "agent"))
        )
        if not allowed:
            raise NotFound("no such conversation")  # never reveal others' conversations
        return conv

    async def open_conversations_of(self, agent_id: int) -> list[dict[str, Any]]:
        """The chats an agent holds or has been offered, for the console after a reconnect."""
        rows = await self.store.fetchall(
            "SELECT id, state, last_seq, language, topic FROM conversations "
            "WHERE agent_id = ? AND state IN ('offered', 'assigned') ORDER BY created_ms",
            (agent_id,),
        )
        return [{"id": r["id"], "state": r["state"], "seq": r["last_seq"],
                 "language": r["language"], "topic": r["topic"]} for r in rows]

    async def accept(self, agent_id: int, cid: str, client_id: str,
                     origin: Connection | None = None) -> Outcome:
        async with self.lock(cid):
            conv = await self.conversation(cid)
            if conv.state is not State.OFFERED or conv.agent_id != agent_id:
                replay = await self._replayed(conv, client_id)
                if replay is not None:
                    return replay
                raise Conflict("this offer is no longer yours", frame_id=client_id)
            await self.router.accept(cid, agent_id, self.clock() / 1000)
            profile = self.agents[agent_id]
            payload = {"agent_id": agent_id, "agent": profile.display_name}
            conv, events, _ = await self.append(conv, [NewEvent("assigned", f"agent:{agent_id}",
                                                                payload)], client_id, origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def decline(self, agent_id: int, cid: str, client_id: str,
                      origin: Connection | None = None) -> Outcome:
        async with self.lock(cid):
            conv = await self.conversation(cid)
            if conv.state is not State.OFFERED or conv.agent_id != agent_id:
                replay = await self._replayed(conv, client_id)
                if replay is not None:
                    return replay
                raise Conflict("this offer is no longer yours", frame_id=client_id)
            await self.router.decline(cid, agent_id, self.clock() / 1000)
            conv, events, _ = await self.append(
                conv, [NewEvent("queued", f"agent:{agent_id}",
                                {"reason": "declined", "skills": list(conv.skills),
                                 "language": conv.language})], client_id, origin)
            self.dispatcher.kick()
            return Outcome(ack_for(client_id, events[0]), events)

    async def agent_message(
        self, agent_id: int, cid: str, client_id: str, text: str, *, note: bool,
        origin: Connection | None = None, entry_id: int | None = None,
    ) -> Outcome:
        async with self.lock(cid):
            conv = await self.agent_view(agent_id, cid, holder=not note)
            if not note and not cv.can_post(conv.state, "agent"):
                # A retry of a line stored before the chat moved on gets its ack again;
                # the happy path needs no lookup (the append itself spots a repeated id).
                replay = await self._replayed(conv, client_id)
                if replay is not None:
                    return replay
                raise Conflict(f"cannot send to a conversation that is {conv.state}",
                               frame_id=client_id)
            profile = self.agents[agent_id]
            kind = "note" if note else "message"
            line: dict[str, Any] = {"from": "agent", "author": profile.display_name,
                                    "text": text}
            if entry_id is not None and not note:  # the line came from this entry
                line["entry_id"] = entry_id
            conv, events, duplicate = await self.append(
                conv, [NewEvent(kind, f"agent:{agent_id}", line)], client_id, origin)
            if note and agent_id not in self.holders(conv):  # e.g. the agent before a transfer
                self.bus.to_agents([agent_id], encode(event_frame(events[0], for_visitor=False)
                                                      or {}))
        if "entry_id" in line and not duplicate:
            await self._entry_used(cid, entry_id, "message", agent_id)
        return Outcome(ack_for(client_id, events[0]), events)

    async def _entry_used(self, cid: str, entry_id: int | None, source: str,
                          agent_id: int) -> None:
        """After the agent's change is stored and acked: a proposal is a by-product, and
        a failure to make one must never fail the agent's line or close."""
        if self.on_entry_used is None or entry_id is None:
            return
        try:
            await self.on_entry_used(cid, entry_id, source, agent_id, self.clock())
        except Exception:
            log.exception("could not propose a phrasing from conversation %s", cid)

    async def transfer(
        self, agent_id: int, cid: str, client_id: str, *, to_agent: int | None,
        to_skill: str | None, note: str | None, origin: Connection | None = None,
    ) -> Outcome:
        async with self.lock(cid):
            conv = await self.agent_view(agent_id, cid, holder=True)
            if conv.state is not State.ASSIGNED:
                replay = await self._replayed(conv, client_id)
                if replay is not None:
                    return replay
                raise Conflict(f"cannot transfer a conversation that is {conv.state}",
                               frame_id=client_id)
            if to_agent is not None and await self.store.user(to_agent) is None:
                raise NotFound("no such agent", frame_id=client_id)
            skills = [to_skill] if to_skill else list(conv.skills)
            moved = {"from_agent": agent_id, "to_agent": to_agent, "to_skill": to_skill,
                     "note": note or ""}
            queued = {"reason": "transfer", "skills": skills, "language": conv.language}
            conv, events, _ = await self.append(conv, [
                NewEvent("transferred", f"agent:{agent_id}", moved),
                NewEvent("queued", f"agent:{agent_id}", queued)], client_id, origin)
            await self.router.transfer(cid, self.clock() / 1000, to_agent=to_agent,
                                to_skill=to_skill)
            self.bus.to_agents([agent_id], encode(event_frame(events[0], for_visitor=False)
                                                       or {}))
            self.dispatcher.kick()
            return Outcome(ack_for(client_id, events[0]), events)

    async def close_by_agent(
        self, agent_id: int, cid: str, client_id: str, resolved: bool,
        origin: Connection | None = None, entry_id: int | None = None,
    ) -> Outcome:
        async with self.lock(cid):
            conv = await self.agent_view(agent_id, cid, holder=False)
            if conv.state is State.CLOSED:
                replay = await self._replayed(conv, client_id)
                if replay is not None:
                    return replay
            if conv.agent_id != agent_id and self.agents[agent_id].role == "agent":
                raise Forbidden("only the agent holding the chat may close it",
                                frame_id=client_id)
            cv.transition(conv.state, "close")
            outcome = await self._close(conv, client_id, by="agent", resolved=resolved,
                                        origin=origin, entry_id=entry_id)
        await self._entry_used(cid, entry_id, "close", agent_id)
        return outcome

    # --- routing: one dispatcher task carries out the Board's decisions ----------------------

    def _needs(self, conv: Conversation) -> routing.Needs:
        return self._needs_of(conv.skills, conv.language)

    @staticmethod
    def _needs_of(skills: Sequence[str], language: str) -> routing.Needs:
        lang = f"lang:{language.split('-')[0].lower()}" if language else None
        return routing.Needs(skills=dict.fromkeys(skills, 1), language=lang)

    async def priority(self, conv: Conversation) -> int:
        """Returning visitors whose last chat ended unresolved go ahead (bounded by rules)."""
        if not self.desk.returning_unresolved_priority:
            return 0
        row = await self.store.fetchone(
            "SELECT resolved FROM conversations WHERE visitor_id = ? AND id != ? "
            "AND state = 'closed' ORDER BY closed_ms DESC LIMIT 1", (conv.visitor_id, conv.id))
        if row is not None and row["resolved"] == 0:
            return self.desk.returning_unresolved_priority
        return 0

    async def backlog(self, cid: str, after_seq: int, *, for_visitor: bool
                      ) -> list[tuple[int, str | None]]:
        """Every stored event after `after_seq` in order, each with the frame this audience
        is shown (None when it sees nothing of it): what a socket catches up from."""
        # Under the chat's lock: never between an append's commit and its ack, which stands
        # for the sender's copy of its own line (the log must not send it that line again).
        lock = self.lock(cid)
        async with lock:
            events = await self.store.events_after(cid, after_seq)
        if events and events[-1].type == "closed" and not lock.locked():
            self._locks.pop(cid, None)  # final: no append will want it
        rows: list[tuple[int, str | None]] = []
        for event in events:
            frame = None
            if not for_visitor or event.type in cv.VISITOR_EVENTS:
                frame = event_frame(event, for_visitor=for_visitor)
            rows.append((event.seq, None if frame is None else encode(frame)))
        return rows

    async def consent(self, conv: Conversation, client_id: str, notice_url: str,
                      origin: Connection | None = None) -> Outcome:
        """The visitor accepted the privacy notice: recorded in the log like everything else."""
        async with self.lock(conv.id):
            conv = await self.conversation(conv.id)
            conv, events, _ = await self.append(
                conv, [NewEvent("consent", "visitor", {"notice_url": notice_url})], client_id,
                origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def has_consented(self, visitor_id: str) -> bool:
        row = await self.store.fetchone(
            "SELECT 1 FROM events JOIN conversations ON conversations.id = "
            "events.conversation_id WHERE conversations.visitor_id = ? AND "
            "events.type = 'consent' LIMIT 1", (visitor_id,))
        return row is not None

    async def offline_message(
        self, visitor_id: str, client_id: str, fields: Mapping[str, str]
    ) -> Outcome:
        await self.store.add_offline_message(visitor_id, client_id, fields, self.clock())
        return Outcome({"type": "ack", "id": client_id})

    def wants_survey(self, conv: Conversation) -> bool:
        """After a person's chat, or a bot-only one too, as configured."""
        if conv.participants:
            return self.survey_config.after_agent
        return self.survey_config.after_bot_only

    async def agents_online(self, language: str, topic: str) -> bool:
        """Whether someone online (on any process) could serve a visitor with this language
        and pre-chat topic, as `request_human` would find it; no when Redis is unreachable."""
        if not self.bus.healthy:
            return False
        skills = tuple(s for s in (self.desk.topics.get(topic),) if s)
        return await self.router.servable_needs(self._needs_of(skills, language))
