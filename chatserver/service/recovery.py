"""Putting routing back after a restart or a Redis outage: the waiting chats re-queued in
order, held chats back with their agents, and the events a lost publication never delivered
sent again to this process's sockets.
"""

from __future__ import annotations

from collections.abc import Mapping

from chatserver.cluster.connections import Registry
from chatserver.cluster.router import Router
from chatserver.core import routing
from chatserver.core.conversation import Conversation, State
from chatserver.store.store import NewEvent

from .agent_side import AgentProfile
from .dispatcher import Dispatcher, kept_clock_ms, needs, silent_exclusions
from .event_frames import skills_from_json
from .journal import Journal

# Redelivery after a Redis outage starts this long before the outage was noticed: a
# publication can be lost a moment before the subscriber sees the connection drop.
REDELIVER_MARGIN_MS = 5000


class Recovery:
    """Restore (after a restart) and resync (after Redis came back); both idempotent."""

    def __init__(self, journal: Journal, router: Router, dispatcher: Dispatcher,
                 agents: Mapping[int, AgentProfile], registry: Registry) -> None:
        self.journal = journal
        self.router = router
        self.dispatcher = dispatcher
        self.agents = agents
        self.registry = registry

    async def resync(self, lost_at: float | None = None) -> None:
        """Redis was (re)reached: it may have lost everything, so put this process's agents
        and every open conversation back. Idempotent: what the router still has stays.

        Publications made while this process was not subscribed are gone (pub/sub keeps
        nothing), so it redelivers to its own sockets every event stored since shortly before
        it lost Redis; clients drop what they already have (by seq and id). For the same
        reason every cached projection may be stale: each is read again before its next use."""
        self.journal.mark_all_stale()
        if lost_at is not None:
            await self._redeliver_since(int(lost_at * 1000) - REDELIVER_MARGIN_MS)
        now = self.journal.clock() / 1000
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
        rows = await self.journal.store.fetchall(
            "SELECT conversation_id, min(seq) AS first FROM events WHERE ts_ms >= ? "
            "GROUP BY conversation_id", (since_ms,))
        registry = self.registry
        for row in rows:
            cid = row["conversation_id"]
            conv = await self.journal.conversation(cid)
            watchers = set(self.journal.holders(conv)) | registry.supervisors
            conns = [*registry.visitors.get(conv.visitor_id, ()),
                     *(c for a in watchers for c in registry.agents.get(a, ()))]
            for conn in conns:
                conn.refresh(cid, row["first"])

    async def restore(self) -> None:
        """After a restart: put every waiting conversation back in the queue, in order.

        A chat re-routed for silence keeps its relaxation clock, its place ahead of ordinary
        chats and its silent agents excluded, as the dispatcher's re-route made them.
        With a shared router another process may already route some of them; those are
        left as they are (the router says they are already routed)."""
        journal = self.journal
        now_ms = journal.clock()
        now = now_ms / 1000
        reoffer_ms = self.router.rules.reoffer_after_seconds * 1000
        for row in await journal.store.open_conversations():
            conv = await journal.conversation(row["id"])
            kept, rerouted = kept_clock_ms(conv)
            since = None if kept is None else kept / 1000
            try:
                if conv.state in (State.QUEUED, State.OFFERED):
                    await self.router.enqueue(conv.id, needs(conv), conv.priority, now,
                                              at_head=rerouted, since=since,
                                              excluded=silent_exclusions(conv, now_ms,
                                                                         reoffer_ms))
                elif conv.state is State.ASSIGNED and conv.agent_id is not None:
                    await self._restore_assigned(conv, now)
            except routing.AlreadyRouted:
                continue  # another process routes it; nothing was lost
            if conv.state is State.OFFERED:  # the offer died with the process that made it
                async with journal.lock(conv.id):
                    await journal.append(conv, [NewEvent("queued", "system", {
                        "reason": "restart", "skills": list(conv.skills),
                        "language": conv.language})])

    async def _restore_assigned(self, conv: Conversation, now: float) -> None:
        """The agent gets the grace period to come back, as after any dropped socket."""
        assert conv.agent_id is not None
        try:
            await self.router.restore_assigned(conv.id, conv.agent_id, needs(conv),
                                               conv.priority, now)
        except routing.UnknownAgent:  # not connected anywhere since the start: add them offline
            user = await self.journal.store.user(conv.agent_id)
            if user is None:
                return
            await self.router.upsert_agent(conv.agent_id, capacity=user["capacity"],
                                           skills=skills_from_json(user["skills"]), now=now,
                                           status="offline")
            await self.router.restore_assigned(conv.id, conv.agent_id, needs(conv),
                                               conv.priority, now)
