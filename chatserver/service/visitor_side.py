"""The visitor's side of a chat: start, lines and the bot's turn, the suggestion picked, the
person asked for, consent, close, survey, and the message left while nobody is in.

Each request takes the conversation's lock, checks it with the pure state machine, and changes
it only through the journal (store, apply, publish); the hand-off and close steps shared with
the agent side are `handoff.Handoff`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

from chatserver.cluster.connections import Connection
from chatserver.cluster.router import Router
from chatserver.core import conversation as cv
from chatserver.core.conversation import Conversation, Event, State
from chatserver.core.errors import Conflict, NotFound
from chatserver.core.messages import say
from chatserver.store import mail_outbox as outbox
from chatserver.store.store import NewEvent
from chatserver.tokens import new_id

from .dispatcher import needs_of
from .event_frames import ack_for, answer_line
from .handoff import Handoff
from .journal import Journal, Outcome

# A repeated question is looked for among the visitor's last 3 lines (the bot's replies in
# between make up the rest of the 12 events read): an older one is a new topic coming back.
REPEAT_LINES = 3
REPEAT_WINDOW = 12


class BotLike(Protocol):
    """What the service needs of the knowledge-base bot (bot.Bot satisfies it)."""

    def decide(self, text: str, language: str, failed_rounds: int = 0,
               previous: Sequence[str] = (), name: str = "") -> Any: ...


class VisitorSide:
    """Everything a visitor's socket asks of the service."""

    def __init__(self, journal: Journal, handoff: Handoff, router: Router, *,
                 bot: BotLike | None, answers: Mapping[int, tuple[str, str]]) -> None:
        self.journal = journal
        self.handoff = handoff
        self.router = router
        self.bot = bot
        self.answers = answers  # entry id -> (title, answer)
        # Encodes a visitor's message for the bot's semantic re-ranker before the bot reads it
        # (off the event loop); app.py sets it to embeddings.Embeddings.prepare when on.
        self.prepare_message: Callable[[str], Awaitable[None]] | None = None
        # The team's e-mail for an offline message (mail.Mailer, set by app.py when [email] is
        # on): composed here, queued in the message's own transaction, then the sender woken.
        self.offline_mail: Callable[[str, str, Mapping[str, str], int], Any] | None = None
        self.mail_queued: Callable[[], None] | None = None
        # Per visitor starting a chat: its lock and how many wait on it (dropped at none).
        self._starting: dict[str, list[Any]] = {}

    async def open_or_start(self, visitor_id: str, profile: Mapping[str, str],
                            may_start: Callable[[], None]) -> Conversation:
        """The visitor's open conversation, or one started now (after `may_start`, which
        raises to refuse): one step per visitor in this process, so the socket's first line
        and the widget's upload of a file sent with it (or two files dropped at once) end up
        in one chat, never two."""
        entry = self._starting.setdefault(visitor_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                opened = await self.journal.store.open_conversation_of(visitor_id)
                if opened is not None:
                    return await self.journal.conversation(opened["id"])
                may_start()
                return await self.start(visitor_id, profile)
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._starting[visitor_id]

    async def start(self, visitor_id: str, profile: Mapping[str, str]) -> Conversation:
        """Open a new conversation for a visitor who has none open."""
        journal = self.journal
        cid = new_id()
        started = {k: v for k, v in profile.items() if k in ("language", "topic", "page_url")}
        started["visitor_name"] = profile.get("name", "")
        event = await journal.store.create_conversation(cid, visitor_id, started,
                                                        journal.clock())
        journal.telemetry.conversations.inc()
        conv = cv.apply(Conversation(cid, visitor_id), event)
        journal.keep(conv)
        return conv

    async def visitor_message(
        self, conv: Conversation, client_id: str, text: str, name: str,
        origin: Connection | None = None,
    ) -> Outcome:
        journal = self.journal
        async with journal.lock(conv.id):
            conv = await journal.conversation(conv.id)
            if not cv.can_post(conv.state, "visitor"):
                raise Conflict("this conversation is closed; start a new one")
            line = {"from": "visitor", "author": name or "Visitor", "text": text}
            conv, events, duplicate = await journal.append(
                conv, [NewEvent("message", "visitor", line)], client_id, origin
            )
            outcome = Outcome(ack_for(client_id, events[0]), events)
            if conv.state is not State.BOT:
                return outcome
            if duplicate and not self._unread(conv, events[0]):
                return outcome
            await self._bot_turn(conv, text, name)
        return outcome

    def _unread(self, conv: Conversation, line: Event) -> bool:
        """Whether a retried line found stored still waits for the bot: its first append's
        COMMIT went through but the answer was lost, and the bot's turn with it, when the line
        is still the log's last event (the journal read the retry's way to the log's end).
        Anything after it (the bot's answer, whose ack alone was lost, or a later line) and it
        is answered, or moot. One process only: with several, the first attempt's turn may
        still be under way in another."""
        return not self.journal.shared and conv.last_seq == line.seq

    async def file_turn(self, conv: Conversation) -> None:
        """A visitor's file while the bot answers (the caller holds the chat's lock): the bot
        cannot read it, says so and offers a person (a button, like a frustrated visitor's
        offer, and no failed round); without a bot the chat goes to the queue as a line
        would. With a person here or on the way, their answer is the answer: nothing."""
        if conv.state is not State.BOT:
            return
        if self.bot is None:
            await self.handoff.queue(conv, "no_bot", skill=None)
            return
        text = say("cannot_read_files", conv.language or "en")
        line = {"from": "bot", "author": "Bot", "text": text,
                "decision": "offer_human", "reason": "file", "actions": ["human"]}
        await self.journal.append(conv, [NewEvent("message", "bot", line)])

    async def _earlier_lines(self, conv: Conversation) -> list[str]:
        """The visitor's lines before the one just stored, newest last (a repeated question)."""
        events = await self.journal.store.events_after(
            conv.id, max(0, conv.last_seq - REPEAT_WINDOW))
        lines = [e.payload.get("text", "") for e in events
                 if e.type == "message" and e.payload.get("from") == "visitor"]
        return lines[:-1][-REPEAT_LINES:]

    async def _bot_turn(self, conv: Conversation, text: str, name: str = "") -> None:
        if self.bot is None:
            await self.handoff.queue(conv, "no_bot", skill=None)
            return
        previous = await self._earlier_lines(conv)
        if self.prepare_message is not None:
            await self.prepare_message(text)
        decision = self.bot.decide(text, conv.language or "en", conv.bot_failures,
                                   previous=previous, name=name)
        line = bot_line(decision, self.answers, conv.language)
        conv, _, _ = await self.journal.append(conv, [NewEvent("message", "bot", line)])
        if line["decision"] == "handoff":  # whatever else the bot decided comes to this
            # Asked outright for a person: route by language and the pre-chat topic only. The
            # bot's topic guess for "a person, please" is phrasing noise (it matched "opening
            # hours" at 0.40, above real topics like "a person about my refund" at 0.23), and
            # a skill nobody holds would hold the visitor until relaxation drops it.
            skill = None if decision.reason == "asked_for_human" else decision.skill
            await self.handoff.queue(conv, decision.reason, skill=skill)

    async def choose(self, conv: Conversation, client_id: str, entry_id: int,
                     origin: Connection | None = None) -> Outcome:
        """The visitor picked one of the bot's suggestions: answer with that entry."""
        journal = self.journal
        async with journal.lock(conv.id):
            conv = await journal.conversation(conv.id)
            if entry_id not in self.answers or (self.bot is not None
                                                 and self.bot.is_smalltalk(entry_id)):
                # a small-talk entry's answer is a reply template, never a suggestion
                raise NotFound("no such knowledge-base entry", frame_id=client_id)
            title, answer = self.answers[entry_id]
            line = {**answer_line(answer), "decision": "answer", "entry_id": entry_id,
                    "chosen": True, "title": title}
            conv, events, _ = await journal.append(conv, [NewEvent("message", "bot", line)],
                                                   client_id, origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def request_human(self, conv: Conversation, client_id: str,
                            origin: Connection | None = None) -> Outcome:
        async with self.journal.lock(conv.id):
            conv = await self.journal.conversation(conv.id)
            if conv.state is not State.BOT:
                existing = await self.journal.replayed(conv, client_id)
                if existing is not None:
                    return existing
                raise Conflict(f"already {conv.state}: a person is on the way",
                               frame_id=client_id)
            return await self.handoff.queue(conv, "asked", skill=None, client_id=client_id,
                                            origin=origin)

    async def close_by_visitor(self, conv: Conversation, client_id: str,
                               origin: Connection | None = None) -> Outcome:
        async with self.journal.lock(conv.id):
            conv = await self.journal.conversation(conv.id)
            if conv.state is State.CLOSED:
                replay = await self.journal.replayed(conv, client_id)
                if replay is not None:
                    return replay
            cv.transition(conv.state, "close")
            return await self.handoff.close(conv, client_id, by="visitor", resolved=None,
                                            origin=origin)

    async def survey(
        self, conv: Conversation, client_id: str, answer: Mapping[str, Any],
        origin: Connection | None = None,
    ) -> Outcome:
        journal, config = self.journal, self.handoff.survey_config
        async with journal.lock(conv.id):
            conv = await journal.conversation(conv.id)
            replay = await journal.replayed(conv, client_id)
            if replay is not None:
                return replay
            if conv.state is not State.CLOSED:
                raise Conflict("the survey follows the end of the chat", frame_id=client_id)
            if not self.handoff.wants_survey(conv):
                raise Conflict("this conversation has no survey", frame_id=client_id)
            window_ms = config.window_hours * 3600 * 1000
            if conv.closed_ms is not None and journal.clock() - conv.closed_ms > window_ms:
                raise Conflict("the survey for this conversation has closed",
                               frame_id=client_id)
            if conv.surveyed:
                raise Conflict("this conversation's survey is already answered",
                               frame_id=client_id)
            fields = ("rating", "nps", "comment") if config.nps else ("rating", "comment")
            payload = {k: answer[k] for k in fields if k in answer}
            conv, events, _ = await journal.append(
                conv, [NewEvent("survey", "visitor", payload)], client_id, origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def consent(self, conv: Conversation, client_id: str, notice_url: str,
                      origin: Connection | None = None) -> Outcome:
        """The visitor accepted the privacy notice: recorded in the log like everything else."""
        journal = self.journal
        async with journal.lock(conv.id):
            conv = await journal.conversation(conv.id)
            conv, events, _ = await journal.append(
                conv, [NewEvent("consent", "visitor", {"notice_url": notice_url})], client_id,
                origin)
            return Outcome(ack_for(client_id, events[0]), events)

    async def has_consented(self, visitor_id: str) -> bool:
        row = await self.journal.store.fetchone(
            "SELECT 1 FROM events JOIN conversations ON conversations.id = "
            "events.conversation_id WHERE conversations.visitor_id = ? AND "
            "events.type = 'consent' LIMIT 1", (visitor_id,))
        return row is not None

    async def offline_message(
        self, visitor_id: str, client_id: str, fields: Mapping[str, str]
    ) -> Outcome:
        now = self.journal.clock()
        mail = self.offline_mail(visitor_id, client_id, fields, now) if self.offline_mail else None
        queue = None if mail is None else partial(outbox.enqueue, mail=mail, now_ms=now)
        stored = await self.journal.store.add_offline_message(visitor_id, client_id, fields,
                                                              now, also=queue)
        if stored and queue is not None and self.mail_queued is not None:
            self.mail_queued()
        return Outcome({"type": "ack", "id": client_id})

    async def agents_online(self, language: str, topic: str) -> bool:
        """Whether someone online (on any process) could serve a visitor with this language
        and pre-chat topic, as `request_human` would find it; no when Redis is unreachable."""
        if not self.journal.bus.healthy:
            return False
        skills = tuple(s for s in (self.handoff.desk.topics.get(topic),) if s)
        return await self.router.servable_needs(needs_of(skills, language))


def bot_line(decision: Any, answers: Mapping[int, tuple[str, str]],
             language: str) -> dict[str, Any]:
    """The bot's line for its decision (answer, small talk, offer of a person, suggestions,
    or the hand-off's announcement); plain data, so the bot's turn is only store and route."""
    matches = [
        {"entry_id": m.entry_id, "title": m.title, "score": round(m.score, 3)}
        for m in decision.matches
    ]
    if decision.action == "answer":
        entry_id = decision.entry_id
        _, answer = answers.get(entry_id, (decision.matches[0].title, ""))
        asked = getattr(decision, "question_language", None)
        if asked and decision.language and asked != decision.language:
            # The knowledge base has no entries in the visitor's language: the answer is
            # the page language's, and a line in theirs says so (bot/script.py).
            answer = f"{say('other_language', asked)}\n\n{answer}"
        return {**answer_line(answer), "decision": "answer", "entry_id": entry_id,
                "matches": matches}
    if decision.action == "smalltalk":
        # Small talk is answered in kind and is no failed round; after thanks or goodbye
        # the line offers to end the chat (docs/protocol.md, "actions").
        line = {**answer_line(decision.answer or ""), "decision": "smalltalk",
                "intent": decision.intent}
        if decision.intent in ("thanks", "goodbye"):
            line["actions"] = ["close"]
        return line
    if decision.action == "offer_human":
        # Frustrated, insulting or asking again: apologise and offer a person with a
        # button in the line; nobody is queued until the visitor presses it.
        key = "offer_human_repeated" if decision.reason == "repeated" else "offer_human"
        return {"from": "bot", "author": "Bot", "text": say(key, language),
                "decision": "offer_human", "reason": decision.reason, "matches": matches,
                "actions": ["human"]}
    if decision.action == "suggest":
        return {
            "from": "bot", "author": "Bot", "text": say("suggest", language),
            "decision": "suggest",
            "suggestions": [{"entry_id": m["entry_id"], "title": m["title"]}
                            for m in matches[:3]],
            "matches": matches,
        }
    return {"from": "bot", "author": "Bot", "text": say("handoff", language),
            "decision": "handoff", "reason": decision.reason, "matches": matches}
