"""The service's hold on each conversation: its cached projection, its lock, and the one way
to change it — store, apply, publish, in that order, every time.

Every other part of the service (visitor side, agent side, hand-off, recovery, dispatcher)
changes a conversation only through `Journal.append`, so "durable before acknowledged" holds
in one place: the store commits the events, the projection folds them in, and only then are
acks sent and frames published.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatserver.attachments.links import Links
from chatserver.cluster.bus import Bus, RedisBus
from chatserver.cluster.connections import Ack, Connection
from chatserver.core import conversation as cv
from chatserver.core.conversation import Conversation, Event, State
from chatserver.core.errors import Conflict, NotFound, Unavailable
from chatserver.core.frames import encode
from chatserver.core.msgids import N_
from chatserver.store.store import Appended, Conn, NewEvent, StaleState, Store
from chatserver.telemetry import Telemetry, log_event

from .event_frames import ack_for, event_frame

log = logging.getLogger(__name__)


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
        if event.type in ("note", "label", "rehomed"):  # fit any state, whoever holds it
            continue
        if event.type != "message" or sender not in ("visitor", "agent"):
            return False
        if not cv.can_post(after.state, sender):
            return False
        if sender == "agent" and after.agent_id != before.agent_id:
            return False
    return True


class Journal:
    """Projections cached per conversation, their locks, and append/publish/backlog."""

    def __init__(self, store: Store, bus: Bus, telemetry: Telemetry, *,
                 shared: bool, clock: Callable[[], int]) -> None:
        self.store = store
        self.bus = bus
        self.telemetry = telemetry
        self.shared = shared  # other processes write to the same store
        self.clock = clock
        # Signs visitors' attachment URLs (app.py sets it); without it their lines carry the
        # attachment's fields but no URL.
        self.links: Links | None = None
        self._convs: dict[str, Conversation] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Cached conversations another process has written past without this process seeing
        # the event (a publication lost or out of order): only these are read again before
        # use. Shared mode comes with the Redis bus (app.py), which carries every event.
        self._stale: set[str] = set()
        # Told of the events `_unanswered` applied once the append that found them is applied
        # too: steps their first append's caller never took (handoff.Handoff.found sets it).
        self.on_found: Callable[[Conversation, list[Event]], Awaitable[None]] | None = None
        if shared and isinstance(bus, RedisBus):
            bus.on_stored = self._written_elsewhere

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
                raise NotFound(N_("no such conversation"))
            events = await self.store.events_after(conversation_id, 0)
            conv = cv.replay(conversation_id, row["visitor_id"], events)
            self.keep(conv)
        return conv

    async def resume_point(self, conv: Conversation, after_seq: int) -> int:
        """Where a client's `resume` starts: its `after_seq`, clamped to the end of the log.
        The log's end, not this process's view of it: a process that stored and acknowledged
        a line, then died before publishing it, left the line in the log only, and the client
        that was acked has it; clamping to the stale view would send it again."""
        if after_seq <= conv.last_seq:
            return after_seq
        current = await self.conversation(conv.id, fresh=True)
        return min(after_seq, current.last_seq)

    async def _catch_up(self, conv: Conversation) -> Conversation:
        # Unmarked before the read: a gap noticed during it marks the conversation again.
        self._stale.discard(conv.id)
        for event in await self.store.events_after(conv.id, conv.last_seq):
            conv = cv.apply(conv, event)
        if conv.id in self._convs:  # else an append here closed it during the read
            self.keep(conv)
        return conv

    def keep(self, conv: Conversation) -> None:
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

    def cached(self, conversation_id: str) -> Conversation | None:
        """The projection if this process holds one (open chats only), without reading."""
        return self._convs.get(conversation_id)

    def cached_all(self) -> list[Conversation]:
        """Every open conversation this process holds a projection of."""
        return list(self._convs.values())

    def mark_all_stale(self) -> None:
        """Every cached projection is read again before its next use (Redis came back)."""
        self._stale = set(self._convs)

    def _written_elsewhere(self, event: Event) -> None:
        """Another process stored `event` (the bus carries it): the next one for this
        process's projection is applied at once; after a gap (a lost publication) the
        projection is marked stale and the log is read before its next use."""
        conv = self._convs.get(event.conversation_id)
        if conv is None or event.seq <= conv.last_seq:
            return
        if event.seq == conv.last_seq + 1 and conv.id not in self._stale:
            self.keep(cv.apply(conv, event))
        else:
            self._stale.add(conv.id)

    def lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    # --- appending -------------------------------------------------------------------------

    async def append(
        self,
        conv: Conversation,
        events: Sequence[NewEvent],
        client_id: str | None = None,
        origin: Connection | None = None,
        also: Callable[[Conn], object] | None = None,
    ) -> tuple[Conversation, list[Event], bool]:
        """Store, apply and publish; the caller holds the conversation's lock.

        With several processes, the append only succeeds on top of the log the caller saw.
        If another process wrote in between without changing who holds the chat or its
        state (the caller's checks still hold), try again on top; otherwise it is a conflict."""
        for _ in range(5):
            try:
                appended = await self.store.append(
                    conv.id, events, now_ms=self.clock(), client_id=client_id,
                    expect_seq=conv.last_seq if self.shared else None, also=also)
                break
            except StaleState:
                newer = await self.conversation(conv.id, fresh=True)
                if not still_allowed(events, conv, newer):
                    raise Conflict(N_("the conversation changed meanwhile; look again"),
                                   frame_id=client_id) from None
                conv = newer
        else:
            raise Unavailable(N_("too busy to store this now; retry with the same id"),
                              frame_id=client_id)
        found: list[Event] = []
        # A retry (a duplicate) is read past as well: what its first try stored after the line
        # (the bot's turn, a hand-off) may have had its answer lost too. Rare, so one read.
        if not self.shared and (appended.duplicate
                                or appended.events[0].seq > conv.last_seq + 1):
            conv, found = await self._unanswered(conv, appended, client_id, origin)
        if appended.duplicate:
            _ack_again(appended.events[0], client_id, origin)
            await self._found(conv, found)
            return conv, appended.events, True
        ack = _ack(appended.events[0], client_id, origin)
        for event in appended.events:
            observe(self.telemetry, conv, event)
            conv = cv.apply(conv, event)
            self.publish(conv, event, ack if event.client_id else None)
        if conv.state is State.CLOSED:
            self._convs.pop(conv.id, None)
            self._locks.pop(conv.id, None)
            self._stale.discard(conv.id)
        else:
            self._convs[conv.id] = conv
        await self._found(conv, found)
        return conv, appended.events, False

    async def _found(self, conv: Conversation, found: list[Event]) -> None:
        """`on_found`, once `conv` holds what `_unanswered` found and the append's own events."""
        if found and self.on_found is not None:
            await self.on_found(conv, found)

    async def _unanswered(self, conv: Conversation, appended: Appended, client_id: str | None,
                          origin: Connection | None) -> tuple[Conversation, list[Event]]:
        """Apply and publish what the log holds between the projection and `appended`: lines
        an earlier append committed though its caller was told it failed (the connection
        dropped after COMMIT went out: PostgreSQL committed, the answer was lost), so nobody
        saw them, and the next line would not follow the projection; after a retry, all the
        log holds past the projection. One process only: with several, `expect_seq` keeps
        the log from passing the projection unseen, and the line a duplicate names may be
        another process's, published there. Returns them too."""
        first = appended.events[0]
        found = []
        for event in await self.store.events_after(conv.id, conv.last_seq):
            if event.seq >= first.seq and not appended.duplicate:
                break
            found.append(event)
            observe(self.telemetry, conv, event)
            conv = cv.apply(conv, event)
            own = event.client_id is not None and event.client_id == client_id
            self.publish(conv, event, _ack(event, client_id, origin) if own else None)
            log.info("store: seq %s of %s was committed by an append told it failed; "
                     "published now", event.seq, conv.id)
        self.keep(conv)
        return conv, found

    def publish(self, conv: Conversation, event: Event, ack: Ack | None = None) -> None:
        """Deliver one stored event to whoever may see it; each frame is encoded once."""
        agent_frame = event_frame(event, for_visitor=False)
        agent_text = None if agent_frame is None else encode(agent_frame)
        visitor_text = None
        if event.type in cv.VISITOR_EVENTS:
            visitor_frame = event_frame(event, for_visitor=True, links=self.links)
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

    # --- reading -----------------------------------------------------------------------------

    async def replayed(self, conv: Conversation, client_id: str | None,
                       origin: Connection | None = None) -> Outcome | None:
        """A retried frame whose first attempt was stored gets the same ack, and nothing else."""
        if client_id is None:
            return None
        event = await self.store.event_by_client_id(conv.id, client_id)
        if event is None:
            return None
        _ack_again(event, client_id, origin)
        return Outcome(ack_for(client_id, event), [event])

    async def backlog(self, cid: str, after_seq: int, *, for_visitor: bool,
                      shown: Callable[[Event], bool] | None = None
                      ) -> list[tuple[int, str | None]]:
        """Every stored event after `after_seq` in order, each with the frame this audience
        is shown (None when it sees nothing of it): what a socket catches up from. `shown`:
        whether this reader may see a staff event (a whisper is for its addressee)."""
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
            if (event.type in cv.VISITOR_EVENTS if for_visitor
                    else shown is None or shown(event)):
                frame = event_frame(event, for_visitor=for_visitor, links=self.links)
            rows.append((event.seq, None if frame is None else encode(frame)))
        return rows


def _ack(event: Event, client_id: str | None, origin: Connection | None) -> Ack | None:
    """The sender hears its change was stored before any frame that follows it; its own
    words need no copy besides the ack, what else it caused (an answer, a system line,
    `assigned`) is sent to it too."""
    if origin is None or client_id is None:
        return None
    own = event.type in ("message", "note", "whisper") and event.author not in ("bot", "system")
    return Ack(origin, client_id, encode(ack_for(client_id, event)), own)


def _ack_again(event: Event, client_id: str | None, origin: Connection | None) -> None:
    """A retry of a change stored before gets its ack; for the sender's own words that ack is
    its copy of the line (docs/protocol.md), so the socket counts the seq as had: its first
    answer lost, nobody may have published the line, and a gap read from the log later would
    send it again (the PostgreSQL crash test's duplicate). Other acks go as the caller's
    answer; one sent already (`_unanswered`) is not sent twice."""
    ack = _ack(event, client_id, origin)
    if ack is not None and ack.own and ack.conn.last_ack != client_id:
        ack.conn.acknowledge_retry(ack.client_id, event.conversation_id, event.seq, ack.text)


def observe(t: Telemetry, before: Conversation, event: Event) -> None:
    """Count and log what just happened; `before` is the projection it applies to."""
    p = event.payload
    match event.type:
        case "message":
            t.messages.inc(sender=p["from"])
            seconds = cv.response_seconds(before, event)
            if seconds is not None:
                t.response.observe(seconds)
                log_event("response_time", conversation_id=event.conversation_id,
                          agent_id=before.agent_id, seconds=seconds)
            # TTFR's live form: the first agent's first line, from the request (queued_ms
            # keeps the request through re-queues until someone accepts).
            if (p["from"] == "agent" and before.replied_ms is None
                    and before.queued_ms is not None
                    and before.participants == {before.agent_id}):
                t.first_response.observe(max(0, event.ts_ms - before.queued_ms) / 1000)
        case "queued" if p.get("reason") not in cv.REQUEUE_REASONS:
            t.handoffs.inc(reason=p.get("reason", ""))
        case "queued" if p.get("reason") in ("declined", "offer_expired"):
            t.offers.inc(outcome=p["reason"])
        case "assigned" if not p.get("take_over"):  # a take-over answered no offer, no queue
            t.offers.inc(outcome="accepted")
            if before.queued_ms is not None:
                t.queue_wait.observe(max(0, event.ts_ms - before.queued_ms) / 1000)
        case "closed":
            t.closed.inc(by=p["by"], resolved=str(p.get("resolved", "")).lower())
            handle = None
            if before.assigned_ms is not None:
                handle = max(0, event.ts_ms - before.assigned_ms) / 1000
                t.handle.observe(handle)
            if before.state is State.BOT:  # never queued: the bot's (docs/metrics.md)
                t.contained.inc()
            elif not before.participants and before.queued_ms is not None:
                t.abandoned.observe(max(0, event.ts_ms - before.queued_ms) / 1000)
            log_event("conversation_closed", conversation_id=event.conversation_id,
                      by=p["by"], resolved=p.get("resolved"), agent_id=before.agent_id,
                      handle_seconds=handle, language=before.language,
                      topic=before.topic, messages=before.last_seq)
        case "survey":
            t.surveys.inc(rating=str(p["rating"]))
