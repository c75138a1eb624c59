"""What the routing board tells without deciding: states, snapshots, positions and ETAs.

``BoardViews`` reads the ``BoardState`` (the queue frames' positions and ETAs, the offline
message's servable checks, the hub's timers); the only thing it changes is running due
relaxation timers first, so a view never shows a chat filed for a step it has passed.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection

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
from chatserver.core.routing_board_state import BoardState, _Sig

from . import eta


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
        competes with the chats of the same needs. Cost: O(waiting log waiting + distinct
        needs^2 + waiting x min(rivals, non-rivals)); ~80 ms for 10,000 waiting, so the hub
        should refresh positions at most about once a second, not per event.
        """
        self._run_timers(now)
        masks, bits = self._online_masks()
        sigs = {(q.req, q.target) for q in self._queue.values()}
        sig_mask = {sig: self._mask(masks, bits, *sig) for sig in sigs}
        # Sum over rivals or, when most are rivals (the usual case), subtract the others.
        rivals: dict[_Sig, tuple[bool, list[_Sig]]] = {}
        for s in sigs:
            mine = [t for t in sigs if sig_mask[s] & sig_mask[t] or s == t]
            others = [t for t in sigs if not (sig_mask[s] & sig_mask[t] or s == t)]
            rivals[s] = (True, mine) if len(mine) <= len(others) else (False, others)
        seen = dict.fromkeys(sigs, 0)
        result: dict[str, int] = {}
        for total, (_, queued) in enumerate(sorted((q.key, q) for q in self._queue.values())):
            sig = (queued.req, queued.target)
            direct, group = rivals[sig]
            ahead = sum(seen[t] for t in group)
            result[queued.waiting.conversation_id] = 1 + (ahead if direct else total - ahead)
            seen[sig] += 1
        return result

    def eta_seconds(self, conversation_id: str, now: float) -> float | None:
        """Seconds this waiting chat can expect to wait (``chatserver.core.eta``); None when nobody
        online could serve it even fully relaxed."""
        if conversation_id not in self._queue:
            raise UnknownConversation(f"conversation {conversation_id} is not queued")
        return self.queue_status(now)[conversation_id][1]

    def queue_status(self, now: float) -> dict[str, tuple[int, float | None]]:
        """(position, ETA seconds) of every waiting chat in one pass: the queue frames."""
        positions = self.positions(now)
        pools = eta.Pools((a.id, a.capacity, a.skills) for a in self._agents.values()
                          if a.online)
        cache: eta.LaterCache = {}
        chats = [(q.waiting.conversation_id, (q.req, q.target),
                  eta.later_asks(q.waiting, now, self.rules, cache, self._servable))
                 for _, q in sorted((q.key, q) for q in self._queue.values())]
        etas = eta.queue_etas(chats, lambda sig: pools.mask(*sig), pools.slots,
                              self._mean_handle(), eta.patience_rate(self._exits))
        return {cid: (position, etas[cid]) for cid, position in positions.items()}

    def _mean_handle(self) -> float:
        if not self._handle_times:
            return self.rules.assumed_handle_seconds
        return sum(self._handle_times) / len(self._handle_times)

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
