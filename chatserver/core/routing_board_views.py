"""What the routing board tells without deciding: states, snapshots, positions and ETAs.

``BoardViews`` reads the ``BoardState`` (the queue frames' positions and ETAs, the offline
message's servable checks, the hub's timers); the only thing it changes is running due
relaxation timers first, so a view never shows a chat filed for a step it has passed.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from operator import attrgetter

from chatserver.core.routing import (
    Agent,
    Needs,
    Offer,
    UnknownConversation,
    Waiting,
    can_serve,
    requirements,
    returning_status,
)
from chatserver.core.routing_board_state import BoardState, _Group

from . import eta

_queue_order = attrgetter("key")


class BoardViews(BoardState):
    """Read side of the board; ``routing_board.Board`` adds the moves."""

    def next_wakeup(self) -> float | None:
        """Earliest time a timer could matter: an offer deadline, a grace end, a relaxation
        step or an exclusion end."""
        while self._deadlines and self._stale_deadline(*self._deadlines[0]):
            heapq.heappop(self._deadlines)
        while self._timers and self._timers[0][1] not in self._queue:
            heapq.heappop(self._timers)
        times = [t for t in (self._deadlines[0][0] if self._deadlines else None,
                             self._timers[0][0] if self._timers else None) if t is not None]
        times += [a.grace_until for a in self._agents.values() if a.grace_until is not None
                  and not a.connected]
        return min(times) if times else None

    def state_of(self, conversation_id: str) -> str | None:
        """"queued", "offered", "assigned" or None (unknown to the board)."""
        if conversation_id in self._queue:
            return "queued"
        if conversation_id in self._offers:
            return "offered"
        return "assigned" if conversation_id in self._held else None

    def agent_of(self, conversation_id: str) -> int | None:
        """The agent holding or offered the chat."""
        if conversation_id in self._offers:
            return self._offers[conversation_id][0].agent_id
        held = self._held.get(conversation_id)
        return held.agent_id if held else None

    def agent(self, agent_id: int) -> Agent:
        """The routing view of one agent (status reads offline while disconnected)."""
        return self._agent(agent_id).view()

    def snapshot(self) -> tuple[list[Waiting], list[Agent]]:
        """The plain data ``choose`` takes: waiting chats and agents with their loads."""
        return ([q.waiting for q in self._queue.values()],
                [a.view() for a in self._agents.values()])

    def offers(self) -> list[Offer]:
        """Outstanding offers."""
        return [offer for offer, _ in self._offers.values()]

    def assignments(self) -> dict[str, int]:
        """Assigned chats and their agents."""
        return {cid: held.agent_id for cid, held in self._held.items()}

    def waiting_summary(self, now: float) -> tuple[int, float]:
        """(waiting count, longest wait in seconds) for the agents' queue snapshot."""
        if not self._queue:
            return 0, 0.0
        return len(self._queue), now - min(q.waiting.enqueued_at for q in self._queue.values())

    def positions(self, now: float) -> dict[str, int]:
        """1-based place of each waiting chat among those it competes with.

        Two chats compete when some online agent could serve both at their current step
        (skills and pins only; load and exclusions pass). A chat no online agent can serve
        competes with the chats of the same needs. Worked out with the ETAs
        (``queue_status``), which cost little more.
        """
        return {cid: place for cid, (place, _) in self.queue_status(now).items()}

    def eta_seconds(self, conversation_id: str, now: float) -> float | None:
        """Seconds this waiting chat can expect to wait (``chatserver.core.eta``); None when nobody
        online could serve it even fully relaxed."""
        if conversation_id not in self._queue:
            raise UnknownConversation(f"conversation {conversation_id} is not queued")
        return self.queue_status(now)[conversation_id][1]

    def queue_status(self, now: float) -> dict[str, tuple[int, float | None]]:
        """(position, ETA seconds) of every waiting chat in one pass: the queue frames.

        What each chat asks now and will ask at its later steps is its group's (one kind of
        chat, one relaxation clock: the timers run first), so it is worked out per group, not
        per chat; the online agents' pools are kept until one of them changes. ~40 ms of CPU
        for 10,000 waiting of 340 kinds, ~50 after an agent changed (bench/routing_bench.py),
        so the hub refreshes queue frames at most about once a second when the queue is long.
        """
        self._run_timers(now)
        if self._pools is None:
            self._pools = eta.Pools((a.id, a.capacity, a.skills) for a in self._agents.values()
                                    if a.online)
        steps = len(self.rules.steps)
        kinds: dict[_Group, tuple[eta.Ask, list[tuple[float, eta.Ask]]]] = {}
        chats: list[tuple[str, eta.Ask, list[tuple[float, eta.Ask]]]] = []
        for queued in sorted(self._queue.values(), key=_queue_order):
            group, w = queued.group, queued.waiting
            kind = kinds.get(group)
            if kind is None:
                if group.later is None:
                    group.later = [] if group.clock + 1 >= steps else eta.later_steps(
                        group.sample, group.clock, self.rules, self._servable)
                kind = kinds[group] = ((group.req, group.target), group.later)
            ask, asks = kind
            chats.append((w.conversation_id, ask,
                          [(w.enqueued_at + after - now, a) for after, a in asks]
                          if asks else asks))
        if self._patience is None:
            self._patience = eta.patience_rate(self._exits)
        return eta.queue_status(chats, self._pools, self._mean_handle(), self._patience)

    def _mean_handle(self) -> float:
        return eta.mean_handle_seconds(self._handle_times, self.rules.assumed_handle_seconds)

    def servable(self, conversation_id: str) -> bool:
        """Whether some online agent could serve the chat once fully relaxed."""
        queued = self._queue.get(conversation_id)
        if queued is not None:
            return self.servable_needs(queued.waiting.needs)
        if conversation_id in self._offers:
            return self.servable_needs(self._offers[conversation_id][1].needs)
        if conversation_id in self._held:
            return self.servable_needs(self._held[conversation_id].waiting.needs)
        raise UnknownConversation(f"conversation {conversation_id} is unknown")

    def servable_needs(self, needs: Needs, *, exclude: Collection[int] = ()) -> bool:
        """Whether anyone online (but ``exclude``) could serve these needs fully relaxed (else:
        the offline message; with ``exclude``: whether a silent agent's chat can go elsewhere,
        the agents it was taken from for silence aside)."""
        req = requirements(needs, self.rules.steps[-1], self.rules)
        return any(a.online and a.id not in exclude and can_serve(a.skills, req)
                   for a in self._agents.values())

    def returning_status(self, agent_id: int, now: float) -> str:
        """The status a new socket of this agent starts with (``routing.returning_status``)."""
        state = self._agents.get(agent_id)
        if state is None:
            return returning_status(None, False, None, now)
        return returning_status(state.status, state.connected, state.grace_until, now)
