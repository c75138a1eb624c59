"""Carries out the router's decisions: offers, expiries, grace, re-queues, queue positions.

One task per process runs `Dispatcher.run`: it wakes when something changed (`kick`), at the
router's next deadline, or every second, asks the router what to do, and records each step in
the conversation's log (through `Conversations`, the journal) before telling anyone.

It knows the service only through that narrow interface and the router, agents and sockets it
is handed: the service's parts call the dispatcher (`kick`, `requeue_all`), never the reverse,
so there is no import circle between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from chatserver.core import conversation as cv
from chatserver.core import routing
from chatserver.core.conversation import Conversation, State
from chatserver.core.errors import Conflict
from chatserver.core.frames import encode
from chatserver.store.store import NewEvent

from .event_frames import event_frame
from .visitor_history import visitor_card

if TYPE_CHECKING:
    from chatserver.cluster.bus import Bus
    from chatserver.cluster.connections import Registry
    from chatserver.cluster.router import Router
    from chatserver.store.store import Store

log = logging.getLogger(__name__)

# Past this many waiting, positions are recomputed at most once a second (see _send_positions).
LONG_QUEUE = 200
# Re-routes for silence per chat: two silent agents already cost the visitor 4 limits of
# waiting (~8 min at 60/180 s); after that the chat stays with its agent, flagged for the
# supervisor, rather than be passed on again.
MAX_SILENT_REROUTES = 2


def needs_of(skills: Sequence[str], language: str) -> routing.Needs:
    """What a chat with these skills and this language asks of the router."""
    lang = f"lang:{language.split('-')[0].lower()}" if language else None
    return routing.Needs(skills=dict.fromkeys(skills, 1), language=lang)


def needs(conv: Conversation) -> routing.Needs:
    return needs_of(conv.skills, conv.language)


def silent_exclusions(conv: Conversation, now_ms: int, reoffer_ms: float) -> dict[int, float]:
    """Every agent the chat was taken from for silence, still kept from it: id -> until
    (seconds), `reoffer_ms` from that re-route (read from its `queued` events, so a restart
    keeps them)."""
    return {a: (ts + reoffer_ms) / 1000 for a, ts, _ in conv.silent_reroutes
            if ts + reoffer_ms > now_ms}


def kept_clock_ms(conv: Conversation) -> tuple[int | None, bool]:
    """The relaxation clock of the chat's current wait (None: not queued yet) and whether it
    is one kept through a silent re-route (that wait began at one: ahead of ordinary chats)."""
    last = conv.silent_reroutes[-1] if conv.silent_reroutes else None
    if last is not None and last[1] == conv.queued_ms:
        return last[2], True
    return conv.queued_ms, False


class Staff(Protocol):
    """What the dispatcher reads and sets of a connected agent (agent_side.AgentProfile)."""

    display_name: str
    status: str


class Conversations(Protocol):
    """What the dispatcher needs of the conversations (journal.Journal is the one)."""

    store: Store
    bus: Bus
    clock: Callable[[], int]

    def lock(self, conversation_id: str) -> asyncio.Lock: ...

    async def conversation(self, conversation_id: str, *, fresh: bool = False
                           ) -> Conversation: ...

    async def append(self, conv: Conversation, events: Sequence[NewEvent]) -> tuple[
        Conversation, list[cv.Event], bool]: ...

    def cached(self, conversation_id: str) -> Conversation | None: ...

    def cached_all(self) -> list[Conversation]: ...


class Dispatcher:
    def __init__(self, conversations: Conversations, router: Router,
                 agents: Mapping[int, Staff], registry: Registry) -> None:
        self.conversations = conversations
        self.router = router
        self.agents = agents  # the service's profiles of connected agents (shared dict)
        self.registry = registry
        self.bus = conversations.bus
        self.clock = conversations.clock
        self.queue_summary: tuple[int, float] = (0, 0.0)  # for gauges: (waiting, oldest)
        self._wake: asyncio.Event | None = None
        self._sent_positions: dict[str, tuple[int, int | None]] = {}
        self._eta_logged: set[str] = set()  # queue entries whose first ETA is in the log
        self._sent_snapshot: tuple[int, int] = (0, 0)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._positions_at = 0.0  # when queue positions were last computed
        self._silence_busy: set[str] = set()  # chats a nudge or re-route is under way for
        # The presence log's writer (agent_side.AgentSide.record_presence; set by the facade).
        self.record_presence: Callable[[int, str], Awaitable[None]] = _no_presence_log

    def requeue_all(self, offers: list[routing.Offer], action: str, reason: str) -> None:
        """Offers the Board took back: record each in its log (in the background), then route."""
        for offer in offers:
            self._spawn(self._requeue(offer.conversation_id, action, reason, offer.agent_id))
        self.kick()

    def kick(self) -> None:
        """Ask the dispatcher to look at the queue now (it also looks every second)."""
        if self._wake is not None:
            self._wake.set()

    async def run(self, tick_seconds: float = 1.0) -> None:
        self._wake = asyncio.Event()
        self._sent_positions = {}
        while True:
            # Wake for the next offer deadline, grace end or relaxation step, or the tick.
            wakeup = self.router.next_wakeup()
            timeout = tick_seconds if wakeup is None else min(
                tick_seconds, max(0.0, wakeup - self.clock() / 1000) + 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            try:
                await self.dispatch_once()
            except Exception:
                log.exception("dispatcher pass failed; retrying on the next tick")

    async def dispatch_once(self) -> None:
        now = self.clock() / 1000
        lapsed = await self.router.expire(now)
        await _together(self._requeue(offer.conversation_id, "expire", "offer_expired",
                                      offer.agent_id) for offer in lapsed.expired)
        await _together(self._requeue(offer.conversation_id, "revoke", "agent_away",
                                      offer.agent_id) for offer in lapsed.revoked)
        await self._set_away(lapsed.set_away)
        await _together(self._requeue(cid, "requeue", "agent_left")
                        for cid in await self.router.grace_expired(now))
        await _together(self._offer(offer) for offer in await self.router.dispatch(now))
        await self._send_positions(now)
        await self._send_snapshot(now)
        self._check_silence(now)

    async def _set_away(self, agent_ids: Iterable[int]) -> None:
        """Agents the router set away for missed offers (lapsed, or silent in a chat): their
        console is told, and the presence log (the staffing report) records it."""
        for agent_id in agent_ids:
            if agent_id in self.agents:
                self.agents[agent_id].status = "away"
                self.bus.to_agents([agent_id], encode(
                    {"type": "status", "status": "away", "reason": "missed_offers"}))
            await self.record_presence(agent_id, "away")

    async def _send_snapshot(self, now: float) -> None:
        """Agents see the queue's size live: on every change, and every 5 s while anyone waits
        (the oldest wait keeps growing)."""
        snapshot = await self.queue_snapshot()
        key = (snapshot["waiting"], snapshot["oldest_wait_seconds"] // 5)
        if key != self._sent_snapshot:
            self._sent_snapshot = key
            self.bus.to_all_agents(encode(snapshot))

    async def _requeue(self, cid: str, action: str, reason: str, agent: int | None = None
                       ) -> None:
        async with self.conversations.lock(cid):
            # Fresh: the router may have heard of a change before this process's bus did.
            conv = await self.conversations.conversation(cid, fresh=True)
            try:
                cv.transition(conv.state, action)
            except Conflict:
                return  # it moved on meanwhile (accepted, closed): nothing to undo
            offered_to = conv.agent_id
            await self.conversations.append(conv, [NewEvent("queued", "system", {
                "reason": reason, "skills": list(conv.skills), "language": conv.language})])
            if action in ("expire", "revoke") and offered_to is not None:
                self.bus.to_agents([agent or offered_to], encode(
                    {"type": "offer_revoked", "conversation_id": cid, "reason": reason}))

    async def _offer(self, offer: routing.Offer) -> None:
        cid = offer.conversation_id
        async with self.conversations.lock(cid):
            # Fresh: another process may have queued it (a transfer) and told the router
            # before its bus message reached us; a stale "assigned" must not withdraw it.
            conv = await self.conversations.conversation(cid, fresh=True)
            if conv.state is not State.QUEUED:
                await self.router.withdraw(cid)
                return
            conv, _, _ = await self.conversations.append(conv, [NewEvent("offered", "system",
                                                           {"agent_id": offer.agent_id})])
            frame = await self.offer_frame(conv, offer)
            self.bus.to_agents([offer.agent_id], encode(frame))
            if not self.router.rules.auto_accept:
                self.bus.to_visitor(conv.visitor_id, offered_frame(cid, conv.last_seq))
            else:  # the Board already holds it for the agent
                profile = self.agents.get(offer.agent_id)
                name = profile.display_name if profile else ""
                await self.conversations.append(conv, [NewEvent(
                    "assigned", f"agent:{offer.agent_id}",
                    {"agent_id": offer.agent_id, "agent": name, "auto": True})])

    async def offer_frame(self, conv: Conversation, offer: routing.Offer) -> dict[str, Any]:
        events = await self.conversations.store.events_after(conv.id, 0)
        visitor = await self.conversations.store.visitor(conv.visitor_id)
        transcript = [f for f in (event_frame(e, for_visitor=False) for e in events
                                  if e.type == "message") if f is not None]
        return {
            "type": "offer",
            "expires_in": max(0, round(offer.expires_at - self.clock() / 1000)),
            "conversation": {
                "id": conv.id,
                "visitor_name": visitor["name"] if visitor else "",
                "language": conv.language,
                "topic": conv.topic,
                "skills": list(conv.skills),
                "transcript": transcript,
                "visitor": await visitor_card(self.conversations.store, conv.visitor_id),
            },
        }

    async def _send_positions(self, now: float) -> None:
        """Tell each waiting visitor their place and ETA, whenever either changes.

        With a long queue this costs tens of ms (at 10,000 waiting ~40 ms of CPU, ~50 after an
        agent came or left: docs/performance.md), so it runs at most once a second then; a
        short queue is answered at every change."""
        waiting = self.queue_summary[0]
        if waiting > LONG_QUEUE and now - self._positions_at < 1.0:
            return
        self._positions_at = now
        positions = await self.router.queue_status(now)
        for cid, (position, eta) in positions.items():
            conv = self.conversations.cached(cid)
            if conv is None or conv.state is not State.QUEUED:
                continue
            shown = (position, None if eta is None else round(eta))
            if self._sent_positions.get(cid) != shown:
                self._sent_positions[cid] = shown
                self.bus.to_visitor(conv.visitor_id, encode({
                    "type": "queue", "conversation_id": cid, "state": "queued",
                    "position": position, "eta_seconds": shown[1], "seq": conv.last_seq}))
                if cid not in self._eta_logged:  # the first ETA, to measure it against reality
                    self._eta_logged.add(cid)
                    self._spawn(self._log_eta(cid, shown[1], position))
        for cid in set(self._sent_positions) - positions.keys():
            del self._sent_positions[cid]
            self._eta_logged.discard(cid)

    def visitor_back(self, visitor_id: str, cid: str, state: str, seq: int) -> None:
        """A visitor's new socket (a reload, another page) is told at once where their
        waiting chat stands; frames sent before the welcome wait for it."""
        if state == State.OFFERED:
            self.bus.to_visitor(visitor_id, offered_frame(cid, seq))
        elif state == State.QUEUED:
            self._sent_positions.pop(cid, None)  # the next pass sends place and ETA
            self.kick()

    # --- silent agents: nudged, flagged, re-routed (docs/routing.md) ------------------------

    def _check_silence(self, now: float) -> None:
        """Chats whose agent owes the visitor a line past `first_reply_seconds` /
        `reply_seconds`: nudge (a `silent` event), then with `reroute_silent`, as long again
        later, offer the chat to someone else. Only the process holding the agent's socket
        looks (an agent who dropped is the grace period's business, not silence)."""
        rules = self.router.rules
        limits = (round(rules.first_reply_seconds * 1000), round(rules.reply_seconds * 1000))
        if not any(limits):
            return
        now_ms = round(now * 1000)
        for conv in self.conversations.cached_all():
            if conv.state is not State.ASSIGNED or conv.id in self._silence_busy:
                continue
            owed = cv.owed_reply(conv, *limits)
            if owed is None or conv.agent_id not in self.registry.agents:
                continue
            _, since, limit = owed
            if conv.silent_ms is None and now_ms >= since + limit:
                step = self._nudge(conv.id)
            elif conv.silent_ms is not None and rules.reroute_silent and (
                    now_ms >= conv.silent_ms + limit) and (
                    len(conv.silent_reroutes) < MAX_SILENT_REROUTES):
                step = self._reroute(conv.id)
            else:
                continue
            self._silence_busy.add(conv.id)
            self._spawn(step)

    async def _owed(self, cid: str) -> tuple[Conversation, tuple[str, int, int]] | None:
        """The chat afresh (under its lock) and what its agent owes, if anything."""
        rules = self.router.rules
        conv = await self.conversations.conversation(cid, fresh=True)
        owed = cv.owed_reply(conv, round(rules.first_reply_seconds * 1000),
                             round(rules.reply_seconds * 1000))
        return None if owed is None else (conv, owed)

    async def _nudge(self, cid: str) -> None:
        try:
            async with self.conversations.lock(cid):
                found = await self._owed(cid)
                now_ms = self.clock()
                if found is None or found[0].silent_ms is not None:
                    return
                conv, (turn, since, limit) = found
                if now_ms < since + limit:
                    return
                await self.conversations.append(conv, [NewEvent("silent", "system", {
                    "agent_id": conv.agent_id, "turn": turn,
                    "waited_seconds": round((now_ms - since) / 1000)})])
        finally:
            self._silence_busy.discard(cid)

    async def _reroute(self, cid: str) -> None:
        """Still silent as long again after the nudge: to another agent who could serve it,
        ahead of ordinary chats on its old relaxation clock, every agent it was taken from for
        silence excluded for `reoffer_after_seconds` from that re-route (read from the chat's
        `queued` events, so a restart keeps them); a missed offer for the silent agent; at
        most MAX_SILENT_REROUTES per chat."""
        try:
            async with self.conversations.lock(cid):
                found = await self._owed(cid)
                now_ms = self.clock()
                if found is None or found[0].silent_ms is None:
                    return
                conv, (_, _, limit) = found
                agent = conv.agent_id
                assert agent is not None and conv.silent_ms is not None
                if now_ms < conv.silent_ms + limit or (
                        len(conv.silent_reroutes) >= MAX_SILENT_REROUTES):
                    return
                earlier = silent_exclusions(conv, now_ms,
                                            self.router.rules.reoffer_after_seconds * 1000)
                if not await self.router.servable_needs(needs(conv),
                                                        exclude={agent, *earlier}):
                    return  # nobody else could take it: it stays flagged
                # The clock the chat kept through an earlier silent re-route, if this wait
                # began at one; else when this wait began.
                kept, _ = kept_clock_ms(conv)
                since_ms = now_ms if kept is None else kept
                cv.transition(conv.state, "requeue")
                conv, events, _ = await self.conversations.append(conv, [NewEvent(
                    "queued", "system", {
                        "reason": "silent_agent", "skills": list(conv.skills),
                        "language": conv.language, "from_agent": agent,
                        "since_ms": since_ms})])
                away = await self.router.reroute_silent(cid, now_ms / 1000,
                                                        since=since_ms / 1000, excluded=earlier)
                # The chat leaves their console (they no longer hold it, so see no more).
                self.bus.to_agents([agent], encode(
                    event_frame(events[0], for_visitor=False) or {}))
            self.requeue_all(list(away.revoked), "revoke", "agent_away")
            await self._set_away(away.set_away)
            self.kick()
        finally:
            self._silence_busy.discard(cid)

    async def _log_eta(self, cid: str, eta: int | None, position: int) -> None:
        async with self.conversations.lock(cid):
            conv = await self.conversations.conversation(cid)
            if conv.state is State.QUEUED:
                await self.conversations.append(conv, [NewEvent("eta", "system", {
                    "eta_seconds": eta, "position": position})])

    async def queue_snapshot(self) -> dict[str, Any]:
        waiting, oldest = await self.router.waiting_summary(self.clock() / 1000)
        self.queue_summary = (waiting, oldest)
        return {"type": "queue_snapshot", "waiting": waiting, "oldest_wait_seconds": round(oldest)}

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- reading -----------------------------------------------------------------------------


def offered_frame(cid: str, seq: int) -> str:
    """The visitor's `queue` frame while an agent is being asked (docs/protocol.md): place 1
    and no wait left, so a client that reads only those shows "next in line"; `seq` is the
    conversation's when built, so a client can tell a frame older than the agent's join."""
    return encode({"type": "queue", "conversation_id": cid, "state": "offered", "position": 1,
                   "eta_seconds": 0, "seq": seq})


async def _no_presence_log(agent_id: int, status: str) -> None:
    """Until the facade wires the agent side's presence log (a dispatcher alone in a test)."""


async def _together(steps: Iterable[Awaitable[None]]) -> None:
    """Run one pass's steps side by side: each is about its own conversation (and takes its
    lock), and their events then share group commits. One after the other, a surge of 5,000
    offers took one commit each and the last ones expired before they were sent."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, Exception):
            log.error("a dispatcher step failed", exc_info=outcome)
