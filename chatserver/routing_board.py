"""The routing board: in-memory state the hub drives, with incremental, indexed dispatch.

No I/O and no clock: every method that depends on time takes ``now``. The hub stores events
first, then calls the board, then carries out what it returns (send offers, revoke, re-queue).

Driving it (one ``Board`` per desk, touched under one lock):
- agents: ``upsert_agent(id, capacity=, skills=, now=, status=)`` on login or profile edit;
  ``set_status``; ``agent_disconnected`` / ``agent_reconnected`` for the socket (a new login
  of a known agent is ``agent_reconnected``). Methods that take offers back return them.
- chats: ``enqueue`` (``since=`` restores a place after a restart), ``restore_assigned``,
  ``accept``, ``decline``, ``release`` (closed), ``withdraw`` (visitor left the queue),
  ``transfer(cid, now, to_agent=|to_skill=)``.
- after every change, ``dispatch(now)`` and send the offers it returns; on a timer at
  ``next_wakeup()`` call ``expire(now)``, ``grace_expired(now)`` and ``dispatch(now)``.
- queue frames: ``queue_status(now)`` (position and ETA of all waiting chats in one pass;
  ``positions``/``eta_seconds`` for one-offs), at most about once a second when the queue is
  long (~0.1 s for 10,000 waiting); the offline-message
  decision: ``servable(cid)`` / ``servable_needs(needs)``; ``waiting_summary(now)``.
- illegal moves raise ``routing.RoutingError`` subclasses (``ChatError``s: mapped at the edge).

Why incremental: after ``dispatch`` no waiting chat has an eligible free agent. Only a change
can create a new match: an agent becoming free (release, decline, expiry, coming online,
reconnecting, a profile change) or a chat becoming matchable (enqueued, re-queued, reaching a
relaxation step, an exclusion running out). ``dispatch`` therefore scans, in queue order, only
the changed chats and the queue buckets the newly free agents can serve, and stops a bucket as
soon as its agents are full. Each waiting chat sits in one bucket named after one of the skills
it currently requires (``*`` when none, ``@<id>`` when pinned to an agent), so every agent able
to serve it has that skill. The result equals ``routing.choose`` over ``snapshot`` (tested).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from chatserver import eta
from chatserver.routing import (
    OFFLINE,
    ONLINE,
    STATUSES,
    Agent,
    AlreadyRouted,
    Needs,
    NotAssigned,
    NotOffered,
    Offer,
    OfferExpired,
    QueueKey,
    Requirement,
    RoutingError,
    RoutingRules,
    UnknownAgent,
    UnknownConversation,
    Waiting,
    can_serve,
    queue_key,
    requirements,
    returning_status,
    step_index,
)

ANY = "*"  # bucket of chats that need no particular skill
# Queue exits the ETA's patience is learnt from: at a 10 % abandon rate ~50 abandonments, so
# theta is known to about +-15 % and follows the day.
PATIENCE_WINDOW = 500
_Sig = tuple[Requirement, "int | None"]  # what a chat asks now: requirements, or a pin
# Chats of one kind skip the same relaxation steps: (topic skills, language, transfer target).
_Kind = tuple[tuple[tuple[str, int], ...], "str | None", "int | None"]


@dataclass
class _AgentState:
    """An agent's mutable routing state; ``view()`` is what ``choose`` sees."""

    id: int
    status: str
    capacity: int
    skills: dict[str, int]
    free_since: float
    connected: bool = True
    active: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)
    missed: int = 0  # offers let lapse in a row
    grace_until: float | None = None
    indexed: bool = False  # currently in the free indexes
    listed: bool = False  # currently in the online indexes (which steps anyone could serve)

    @property
    def load(self) -> int:
        return len(self.active) + len(self.pending)

    @property
    def online(self) -> bool:
        return self.status == ONLINE and self.connected

    @property
    def free(self) -> bool:
        return self.online and self.load < self.capacity

    def view(self) -> Agent:
        status = self.status if self.connected else OFFLINE
        return Agent(self.id, status, self.capacity, dict(self.skills), self.load,
                     self.free_since)


@dataclass
class _Queued:
    """A waiting chat with what it asks now (refreshed by timers) and where it is filed."""

    waiting: Waiting
    key: QueueKey
    bucket: str
    req: Requirement
    target: int | None
    kind: _Kind


@dataclass(frozen=True)
class _Held:
    """An assigned chat: who holds it since when (handle time), and how to re-queue it."""

    agent_id: int
    since: float
    waiting: Waiting  # kept for re-queueing with the same needs and priority


@dataclass(frozen=True)
class ExpireResult:
    """What ``expire`` did: lapsed offers (re-queued), offers revoked from agents it set away."""

    expired: tuple[Offer, ...] = ()
    revoked: tuple[Offer, ...] = ()
    set_away: tuple[int, ...] = ()


class Board:
    """Agents, queue, offers and assignments; see the module docstring for the dispatch idea."""

    def __init__(self, rules: RoutingRules | None = None) -> None:
        self.rules = rules or RoutingRules()
        self._agents: dict[int, _AgentState] = {}
        self._queue: dict[str, _Queued] = {}
        self._buckets: dict[str, list[tuple[QueueKey, str]]] = {}
        self._offers: dict[str, tuple[Offer, Waiting]] = {}
        self._held: dict[str, _Held] = {}
        self._free_by_skill: dict[str, set[int]] = {}
        self._free: set[int] = set()
        # Who is online, whatever their load: a relaxation step none of them could serve is
        # skipped. Which steps each kind of waiting chat could be served at is kept per kind
        # and worked out again (re-filing the chats whose answer changed) when someone comes
        # online, leaves or changes skills.
        self._online_by_skill: dict[str, set[int]] = {}
        self._online: set[int] = set()
        self._servable_memo: dict[_Sig, bool] = {}
        self._kinds: dict[_Kind, set[str]] = {}
        self._kind_steps: dict[_Kind, tuple[bool, ...]] = {}
        self._steps_stale = False
        self._dirty_agents: set[int] = set()
        self._dirty_chats: set[str] = set()
        self._timers: list[tuple[float, str]] = []  # step changes and exclusion ends
        self._deadlines: list[tuple[float, str, int]] = []  # offer deadlines
        self._handle_times: deque[float] = deque(maxlen=self.rules.eta_window)
        self._exits: deque[tuple[float, bool]] = deque(maxlen=PATIENCE_WINDOW)
        self._seq = 0

    # Agents -------------------------------------------------------------------------------

    def upsert_agent(self, agent_id: int, *, capacity: int, skills: Mapping[str, int],
                     now: float, status: str | None = None) -> list[Offer]:
        """Add or update an agent's profile; a new agent starts offline unless told."""
        state = self._agents.get(agent_id)
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        if state is None:
            state = _AgentState(agent_id, OFFLINE, capacity, dict(skills), now)
            self._agents[agent_id] = state
        else:
            self._unindex(state)
            self._unlist(state)  # out of the online indexes under the old skills
            state.capacity, state.skills = capacity, dict(skills)
        self._reindex(state, changed=True)
        return self.set_status(agent_id, status, now) if status is not None else []

    def set_status(self, agent_id: int, status: str, now: float) -> list[Offer]:
        """Change presence; leaving ``online`` revokes pending offers (returned, re-queued)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        state = self._agent(agent_id)
        was_online = state.status == ONLINE
        state.status = status
        revoked: list[Offer] = []
        if status == ONLINE and not was_online:
            state.free_since, state.missed = now, 0
        elif status != ONLINE:
            revoked = self._revoke_all(state, now)
        self._reindex(state)
        return revoked

    def agent_disconnected(self, agent_id: int, now: float) -> list[Offer]:
        """Socket dropped: pending offers revoked now; held chats wait ``grace_seconds``."""
        state = self._agent(agent_id)
        if state.connected:  # a second drop does not extend the grace
            state.connected = False
            state.grace_until = now + self.rules.grace_seconds
        revoked = self._revoke_all(state, now)
        self._reindex(state)
        return revoked

    def agent_reconnected(self, agent_id: int, now: float) -> None:
        """Socket back within grace: the agent keeps their chats."""
        state = self._agent(agent_id)
        state.connected, state.grace_until = True, None
        self._reindex(state)

    def grace_expired(self, now: float) -> list[str]:
        """Chats of agents gone past grace, re-queued ahead of ordinary chats (returned)."""
        rescued: list[str] = []
        for state in self._agents.values():
            if state.connected or state.grace_until is None or state.grace_until > now:
                continue
            state.grace_until = None
            for cid in sorted(state.active):
                held = self._held.pop(cid)
                self._push(self._fresh(held.waiting, now, head=True))
                rescued.append(cid)
            state.active.clear()
            self._reindex(state)
        return rescued

    # Conversations ------------------------------------------------------------------------

    def enqueue(self, conversation_id: str, needs: Needs, priority: int, now: float, *,
                at_head: bool = False, since: float | None = None) -> None:
        """Queue a chat for a person. ``since`` (after a restart: the stored queued time)
        keeps its old place and relaxation clock."""
        if self.state_of(conversation_id) is not None:
            raise AlreadyRouted(f"conversation {conversation_id} is already routed")
        start = now if since is None else min(since, now)
        waiting = self._fresh(Waiting(conversation_id, needs, priority), start, head=at_head)
        self._push(waiting, now)

    def restore_assigned(self, conversation_id: str, agent_id: int, needs: Needs,
                         priority: int, now: float) -> None:
        """After a restart: an assigned chat comes back to its agent (who then reconnects
        within grace or loses it like any dropped agent)."""
        if self.state_of(conversation_id) is not None:
            raise AlreadyRouted(f"conversation {conversation_id} is already routed")
        state = self._agent(agent_id)
        state.active.add(conversation_id)
        self._held[conversation_id] = _Held(agent_id, now, Waiting(conversation_id, needs,
                                                                   priority))
        self._reindex(state)

    def dispatch(self, now: float) -> list[Offer]:
        """New offers (slots reserved); with ``auto_accept`` they are already assignments."""
        self._run_timers(now)
        if not self._dirty_agents and not self._dirty_chats:
            return []
        agents = [self._agents[i] for i in sorted(self._dirty_agents) if i in self._agents]
        chats = sorted((self._queue[c].key, c) for c in self._dirty_chats if c in self._queue)
        dirty = {c for _, c in chats}
        self._dirty_agents.clear()
        self._dirty_chats.clear()
        streams: list[list[tuple[QueueKey, str]]] = [chats]
        watchers: list[list[_AgentState]] = [[]]
        by_bucket: dict[str, list[_AgentState]] = {}
        for state in agents:
            if state.free:
                for name in (*state.skills, ANY, f"@{state.id}"):
                    if name in self._buckets:
                        by_bucket.setdefault(name, []).append(state)
        for name, states in by_bucket.items():
            streams.append(self._buckets[name])
            watchers.append(states)
        heap = [(s[0][0], i, 0) for i, s in enumerate(streams) if s]
        heapq.heapify(heap)
        offers: list[Offer] = []
        taken: list[_Queued] = []
        while heap:
            _, i, pos = heap[0]
            # A bucket matters only while one of the agents that led us to it is free.
            if i and not any(s.free for s in watchers[i]):
                heapq.heappop(heap)
                continue
            stream = streams[i]
            cid = stream[pos][1]
            if pos + 1 < len(stream):
                heapq.heapreplace(heap, (stream[pos + 1][0], i, pos + 1))
            else:
                heapq.heappop(heap)
            queued = self._queue.get(cid)
            if queued is None or (i and cid in dirty):  # taken, or seen in stream 0
                continue
            # A chat that did not change can only match one of the agents that did.
            among = None if i == 0 else {s.id for s in watchers[i] if s.free}
            best = self._best(queued, now, among)
            if best is not None:
                self._dequeue(cid)
                taken.append(queued)
                self._exits.append((now - queued.waiting.enqueued_at, False))
                offers.append(self._offer(queued.waiting, best, now))
        for queued in taken:
            self._unbucket(queued)
        return offers

    def accept(self, conversation_id: str, agent_id: int, now: float) -> None:
        """The agent takes the offered chat."""
        offer, waiting = self._pending_offer(conversation_id, agent_id)
        if now >= offer.expires_at:
            raise OfferExpired(f"offer of {conversation_id} expired")
        del self._offers[conversation_id]
        state = self._agents[agent_id]
        state.pending.discard(conversation_id)
        state.active.add(conversation_id)
        state.missed = 0
        self._held[conversation_id] = _Held(agent_id, now, waiting)

    def decline(self, conversation_id: str, agent_id: int, now: float) -> None:
        """The agent passes: the chat goes back to its place, not offered to them for a while."""
        offer, waiting = self._pending_offer(conversation_id, agent_id)
        self._withdraw_offer(offer, waiting, now, exclude=True)

    def expire(self, now: float) -> ExpireResult:
        """Offers at or past their deadline go back; repeated misses set the agent away."""
        expired: list[Offer] = []
        revoked: list[Offer] = []
        away: list[int] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            expires_at, cid, agent_id = heapq.heappop(self._deadlines)
            if self._stale_deadline(expires_at, cid, agent_id):
                continue  # answered, revoked or re-offered since
            current = self._offers[cid]
            self._withdraw_offer(current[0], current[1], now, exclude=True)
            expired.append(current[0])
            state = self._agents[agent_id]
            state.missed += 1
            if state.missed >= self.rules.max_missed_offers and state.status == ONLINE:
                revoked.extend(self.set_status(agent_id, "away", now))
                away.append(agent_id)
        return ExpireResult(tuple(expired), tuple(revoked), tuple(away))

    def release(self, conversation_id: str, now: float) -> None:
        """The chat closed: its slot frees and its handle time feeds the ETA."""
        held = self._take_held(conversation_id, now)
        self.record_handle_time(now - held.since)

    def transfer(self, conversation_id: str, now: float, *, to_agent: int | None = None,
                 to_skill: str | None = None) -> None:
        """Back to the queue (ahead of ordinary chats) for another agent or skill."""
        if to_agent is not None and to_skill is not None:
            raise RoutingError("transfer to an agent or to a skill, not both")
        held = self._held.get(conversation_id)
        if held is None:
            raise NotAssigned(f"conversation {conversation_id} is not assigned")
        if to_agent is not None:
            self._agent(to_agent)
            if to_agent == held.agent_id:
                raise RoutingError("cannot transfer a chat to the agent holding it")
        self._take_held(conversation_id, now)
        waiting = held.waiting
        if to_skill is not None:
            waiting = replace(waiting, needs=Needs({to_skill: 1}, waiting.needs.language))
        waiting = replace(waiting, target=to_agent,
                          excluded={held.agent_id: now + self.rules.reoffer_after_seconds})
        self._push(self._fresh(waiting, now, head=True, keep_excluded=True))

    def withdraw(self, conversation_id: str, now: float | None = None) -> Offer | None:
        """The visitor left (or closed) before a person took it; returns a revoked offer.
        With ``now`` it counts as an abandonment, which the ETA's patience learns from."""
        queued = self._queue.get(conversation_id)
        if queued is not None:
            self._dequeue(conversation_id)
            self._unbucket(queued)
            if now is not None:
                self._exits.append((max(0.0, now - queued.waiting.enqueued_at), True))
            return None
        if conversation_id in self._offers:
            offer, waiting = self._offers.pop(conversation_id)
            if now is not None:
                self._exits.append((max(0.0, now - waiting.enqueued_at), True))
            state = self._agents[offer.agent_id]
            state.pending.discard(conversation_id)
            self._reindex(state)
            return offer
        raise UnknownConversation(f"conversation {conversation_id} is not queued or offered")

    def record_handle_time(self, seconds: float) -> None:
        """Feed a handle time to the ETA (release does it; the hub may seed from history)."""
        if seconds >= 0:
            self._handle_times.append(seconds)

    # Queries ------------------------------------------------------------------------------

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

    def _online_masks(self) -> tuple[dict[tuple[str, int], int], dict[int, int]]:
        """Bit sets of online agents per (skill, level) and ("", 0) for all; agent bits."""
        masks: dict[tuple[str, int], int] = {("", 0): 0}
        bits: dict[int, int] = {}
        for state in self._agents.values():
            if state.online:
                bit = bits[state.id] = 1 << len(bits)
                masks[("", 0)] |= bit
                for skill, level in state.skills.items():
                    for at_least in range(1, level + 1):
                        masks[(skill, at_least)] = masks.get((skill, at_least), 0) | bit
        return masks, bits

    @staticmethod
    def _mask(masks: dict[tuple[str, int], int], bits: dict[int, int], req: Requirement,
              target: int | None) -> int:
        """Online agents able to serve these requirements (or the pinned target)."""
        if target is not None:
            return bits.get(target, 0)
        mask = masks[("", 0)]
        for skill, level in req:
            mask &= masks.get((skill, max(level, 1)), 0)
        return mask

    def eta_seconds(self, conversation_id: str, now: float) -> float | None:
        """Seconds this waiting chat can expect to wait (``chatserver.eta``); None when nobody
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

    def servable_needs(self, needs: Needs, *, exclude: int | None = None) -> bool:
        """Whether anyone online (but ``exclude``) could serve these needs fully relaxed (else:
        the offline message; with ``exclude``: whether a silent agent's chat can go elsewhere)."""
        req = requirements(needs, self.rules.steps[-1], self.rules)
        return any(a.online and a.id != exclude and can_serve(a.skills, req)
                   for a in self._agents.values())

    def returning_status(self, agent_id: int, now: float) -> str:
        """The status a new socket of this agent starts with (``routing.returning_status``)."""
        state = self._agents.get(agent_id)
        if state is None:
            return returning_status(None, False, None, now)
        return returning_status(state.status, state.connected, state.grace_until, now)

    # Internals ----------------------------------------------------------------------------

    def _agent(self, agent_id: int) -> _AgentState:
        state = self._agents.get(agent_id)
        if state is None:
            raise UnknownAgent(f"agent {agent_id} is unknown")
        return state

    @staticmethod
    def _fits(state: _AgentState, req: Requirement, target: int | None) -> bool:
        return state.id == target if target is not None else can_serve(state.skills, req)

    def _fresh(self, waiting: Waiting, now: float, *, head: bool,
               keep_excluded: bool = False) -> Waiting:
        """A new queue entry: fresh place, fresh relaxation clock."""
        self._seq += 1
        return replace(waiting, enqueued_at=now, head=head, seq=self._seq,
                       excluded=waiting.excluded if keep_excluded else {},
                       target=waiting.target if keep_excluded else None)

    def _push(self, waiting: Waiting, now: float | None = None, *, timers: bool = True) -> None:
        """Put a chat into the queue and its bucket; with ``timers``, schedule its future
        step changes and exclusion ends (a timer re-push does not, they are already queued)."""
        at = waiting.enqueued_at if now is None else now
        if self._steps_stale:
            self._refresh_steps(at)
        clock = step_index(waiting, at, self.rules)
        kind = (tuple(sorted(waiting.needs.skills.items())), waiting.needs.language,
                waiting.target)
        steps = self._kind_steps.get(kind)
        if steps is None:
            steps = self._kind_steps[kind] = self._servable_steps(waiting)
        step = next((i for i in range(clock, len(steps)) if steps[i]), clock)
        req = requirements(waiting.needs, self.rules.steps[step], self.rules)
        target = waiting.target if step == 0 else None
        if target is not None:
            bucket = f"@{target}"
        else:
            topics = [skill for skill, _ in req if skill != waiting.needs.language]
            bucket = (topics or [skill for skill, _ in req] or [ANY])[0]
        queued = _Queued(waiting, queue_key(waiting, self.rules), bucket, req, target, kind)
        cid = waiting.conversation_id
        self._queue[cid] = queued
        self._kinds.setdefault(kind, set()).add(cid)
        insort(self._buckets.setdefault(bucket, []), (queued.key, cid))
        self._dirty_chats.add(cid)
        if not timers:
            return
        for later in self.rules.steps[clock + 1:]:
            heapq.heappush(self._timers, (waiting.enqueued_at + later.after_seconds, cid))
        for until in waiting.excluded.values():
            if until > at:
                heapq.heappush(self._timers, (until, cid))

    def _unbucket(self, queued: _Queued) -> None:
        bucket = self._buckets[queued.bucket]
        entry = (queued.key, queued.waiting.conversation_id)
        bucket.pop(bisect_left(bucket, entry))
        if not bucket:
            del self._buckets[queued.bucket]

    def _dequeue(self, cid: str) -> None:
        """Out of the queue (the caller unbuckets it)."""
        queued = self._queue.pop(cid)
        kind = self._kinds[queued.kind]
        kind.discard(cid)
        if not kind:
            del self._kinds[queued.kind]
            self._kind_steps.pop(queued.kind, None)

    def _refile(self, cid: str, now: float) -> None:
        """File a waiting chat again for what it asks at ``now`` (timers already queued)."""
        queued = self._queue[cid]
        self._unbucket(queued)
        self._dequeue(cid)
        self._push(queued.waiting, now, timers=False)

    def _run_timers(self, now: float) -> None:
        """Chats reaching a new step or the end of an exclusion become matchable again; so do
        chats whose steps someone online could serve changed."""
        if self._steps_stale:
            self._refresh_steps(now)
        while self._timers and self._timers[0][0] <= now:
            _, cid = heapq.heappop(self._timers)
            if cid in self._queue:
                self._refile(cid, now)

    def _servable(self, req: Requirement, target: int | None) -> bool:
        """Whether someone online could serve this (``routing.Servable``; load aside)."""
        key = (req, target)
        hit = self._servable_memo.get(key)
        if hit is None:
            if target is not None:
                hit = target in self._online
            elif req:
                pool = min((self._online_by_skill.get(skill, set()) for skill, _ in req),
                           key=len)
                hit = any(can_serve(self._agents[i].skills, req) for i in pool)
            else:
                hit = bool(self._online)
            self._servable_memo[key] = hit
        return hit

    def _servable_steps(self, waiting: Waiting) -> tuple[bool, ...]:
        """For each relaxation step, whether someone online could serve this kind of chat."""
        return tuple(self._servable(requirements(waiting.needs, step, self.rules),
                                    waiting.target if i == 0 else None)
                     for i, step in enumerate(self.rules.steps))

    def _refresh_steps(self, now: float) -> None:
        """Someone came online, left or changed skills: each kind of waiting chat whose
        servable steps changed is filed again (it may skip a step now, or stop skipping)."""
        self._steps_stale = False
        self._servable_memo.clear()
        changed: list[str] = []
        for kind, cids in self._kinds.items():
            any_cid = next(iter(cids))
            steps = self._servable_steps(self._queue[any_cid].waiting)
            if steps != self._kind_steps.get(kind):
                self._kind_steps[kind] = steps
                changed.extend(cids)
        for cid in changed:
            self._refile(cid, now)

    def _best(self, queued: _Queued, now: float,
              among: set[int] | None = None) -> _AgentState | None:
        """The best eligible free agent, looked for in ``among`` (else the free indexes)."""
        if among is not None:
            candidates = among
        elif queued.target is not None:
            candidates = self._free & {queued.target}
        elif queued.req:
            candidates = min((self._free_by_skill.get(skill, set()) for skill, _ in queued.req),
                             key=len)
        else:
            candidates = self._free
        excluded = queued.waiting.excluded
        best: _AgentState | None = None
        best_rank: tuple[float, int, float, int] | None = None
        for agent_id in candidates:
            state = self._agents[agent_id]
            if excluded.get(agent_id, float("-inf")) > now:
                continue
            if not (agent_id == queued.target if queued.target is not None
                    else can_serve(state.skills, queued.req)):
                continue
            skills = state.skills
            rank = (state.load / state.capacity, -sum(skills.get(s, 0) for s, _ in queued.req),
                    state.free_since, agent_id)
            if best_rank is None or rank < best_rank:
                best, best_rank = state, rank
        return best

    def _offer(self, waiting: Waiting, state: _AgentState, now: float) -> Offer:
        cid = waiting.conversation_id
        offer = Offer(cid, state.id, now + self.rules.offer_timeout_seconds)
        if self.rules.auto_accept:
            state.active.add(cid)
            self._held[cid] = _Held(state.id, now, waiting)
        else:
            state.pending.add(cid)
            self._offers[cid] = (offer, waiting)
            heapq.heappush(self._deadlines, (offer.expires_at, cid, state.id))
        self._reindex(state)
        return offer

    def _stale_deadline(self, expires_at: float, conversation_id: str, agent_id: int) -> bool:
        current = self._offers.get(conversation_id)
        return current is None or current[0].agent_id != agent_id or (
            current[0].expires_at != expires_at)

    def _pending_offer(self, conversation_id: str, agent_id: int) -> tuple[Offer, Waiting]:
        current = self._offers.get(conversation_id)
        if current is None or current[0].agent_id != agent_id:
            raise NotOffered(f"conversation {conversation_id} is not offered to agent {agent_id}")
        return current

    def _withdraw_offer(self, offer: Offer, waiting: Waiting, now: float, *,
                        exclude: bool) -> None:
        """Take an offer back and put its chat back in its old place."""
        del self._offers[offer.conversation_id]
        state = self._agents[offer.agent_id]
        state.pending.discard(offer.conversation_id)
        self._reindex(state)
        if exclude:
            until = now + self.rules.reoffer_after_seconds
            target = None if waiting.target == offer.agent_id else waiting.target
            waiting = replace(waiting, excluded={**waiting.excluded, offer.agent_id: until},
                              target=target)
        self._push(waiting, now)

    def _revoke_all(self, state: _AgentState, now: float) -> list[Offer]:
        revoked = []
        for cid in sorted(state.pending):
            offer, waiting = self._offers[cid]
            self._withdraw_offer(offer, waiting, now, exclude=False)
            revoked.append(offer)
        return revoked

    def _take_held(self, conversation_id: str, now: float) -> _Held:
        held = self._held.pop(conversation_id, None)
        if held is None:
            raise NotAssigned(f"conversation {conversation_id} is not assigned")
        state = self._agents[held.agent_id]
        state.active.discard(conversation_id)
        state.free_since = now
        self._reindex(state)
        return held

    def _unindex(self, state: _AgentState) -> None:
        if state.indexed:
            self._free.discard(state.id)
            for skill in state.skills:
                self._free_by_skill[skill].discard(state.id)
            state.indexed = False

    def _unlist(self, state: _AgentState) -> None:
        if state.listed:
            self._online.discard(state.id)
            for skill in state.skills:
                self._online_by_skill[skill].discard(state.id)
            state.listed = False
            self._steps_stale = True

    def _reindex(self, state: _AgentState, *, changed: bool = False) -> None:
        """Keep the free and online indexes true; an agent newly free (or changed) is worth a
        scan, and anyone coming online or leaving may change which steps are skipped."""
        if state.online and not state.listed:
            self._online.add(state.id)
            for skill in state.skills:
                self._online_by_skill.setdefault(skill, set()).add(state.id)
            state.listed = True
            self._steps_stale = True
        elif not state.online and state.listed:
            self._unlist(state)
        if state.free and not state.indexed:
            self._free.add(state.id)
            for skill in state.skills:
                self._free_by_skill.setdefault(skill, set()).add(state.id)
            state.indexed = True
            self._dirty_agents.add(state.id)
        elif not state.free and state.indexed:
            self._unindex(state)
        elif changed and state.free:
            self._dirty_agents.add(state.id)
