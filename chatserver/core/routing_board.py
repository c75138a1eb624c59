"""The routing board: in-memory state the hub drives, with incremental, indexed dispatch.

No I/O and no clock: every method that depends on time takes ``now``. The hub stores events
first, then calls the board, then carries out what it returns (send offers, revoke, re-queue).

Driving it (one ``Board`` per desk, touched under one lock):
- agents: ``upsert_agent(id, capacity=, skills=, now=, status=)`` on login or profile edit;
  ``set_status``; ``agent_disconnected`` / ``agent_reconnected`` for the socket (a new login
  of a known agent is ``agent_reconnected``). Methods that take offers back return them.
- chats: ``enqueue`` (``since=`` restores a place after a restart), ``restore_assigned``,
  ``accept``, ``decline``, ``release`` (closed), ``withdraw`` (visitor left the queue),
  ``transfer(cid, now, to_agent=|to_skill=)``, ``reroute_silent`` (an agent kept silent).
- after every change, ``dispatch(now)`` and send the offers it returns; on a timer at
  ``next_wakeup()`` call ``expire(now)``, ``grace_expired(now)`` and ``dispatch(now)``.
- queue frames: ``queue_status(now)`` (position and ETA of all waiting chats in one pass;
  ``positions``/``eta_seconds`` for one-offs), at most about once a second when the queue is
  long (~40 ms for 10,000 waiting); the offline-message
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
from collections.abc import Mapping
from dataclasses import dataclass, replace

from chatserver.core.routing import (
    OFFLINE,
    ONLINE,
    STATUSES,
    AlreadyRouted,
    Needs,
    NotAssigned,
    Offer,
    OfferExpired,
    QueueKey,
    RoutingError,
    UnknownConversation,
    Waiting,
    can_serve,
)
from chatserver.core.routing_board_state import ANY, _AgentState, _Group, _Held, _Queued
from chatserver.core.routing_board_views import BoardViews


@dataclass(frozen=True)
class ExpireResult:
    """What ``expire`` did: lapsed offers (re-queued), offers revoked from agents it set away."""

    expired: tuple[Offer, ...] = ()
    revoked: tuple[Offer, ...] = ()
    set_away: tuple[int, ...] = ()


class Board(BoardViews):
    """Agents, queue, offers and assignments; see the module docstring for the dispatch idea.

    The moves live here; the state and its indexes are ``BoardState``, the read side
    ``BoardViews`` (layers over one object: see ``BoardState`` for why).
    """

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
                at_head: bool = False, since: float | None = None,
                excluded: Mapping[int, float] | None = None) -> None:
        """Queue a chat for a person. ``since`` (after a restart: the stored queued time)
        keeps its old place and relaxation clock; ``excluded`` (id -> until, after a restart:
        the chat's earlier silent agents) keeps those agents from it until then."""
        if self.state_of(conversation_id) is not None:
            raise AlreadyRouted(f"conversation {conversation_id} is already routed")
        start = now if since is None else min(since, now)
        until = {a: u for a, u in (excluded or {}).items() if u > now}
        waiting = self._fresh(Waiting(conversation_id, needs, priority, excluded=until), start,
                              head=at_head, keep_excluded=True)
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
        if not self._dirty_agents and not self._dirty_chats and not self._dirty_groups:
            return []
        agents = [self._agents[i] for i in sorted(self._dirty_agents) if i in self._agents]
        chats = sorted((self._queue[c].key, c) for c in self._dirty_chats if c in self._queue)
        dirty = {c for _, c in chats}
        groups = sorted(self._dirty_groups, key=lambda g: g.chats[0])
        self._dirty_agents.clear()
        self._dirty_chats.clear()
        self._dirty_groups.clear()
        streams: list[list[tuple[QueueKey, str]]] = [chats]
        watchers: list[list[_AgentState]] = [[]]
        # A dirty group (its kind re-filed) is scanned while a free agent able to serve what
        # it asks is; these streams come before the buckets', so a chat in both is first
        # judged among all free agents (a bucket's watchers may be only some of them).
        for group in groups:
            able = self._able(group)
            if able:
                streams.append(group.chats)
                watchers.append(able)
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
                self._record_exit(now - queued.waiting.enqueued_at, False)
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

    def reroute_silent(self, conversation_id: str, now: float, *, since: float,
                       excluded: Mapping[int, float] | None = None) -> ExpireResult:
        """A silent agent's chat to someone else (docs/routing.md): ahead of ordinary chats on
        its old relaxation clock (``since``), the holder and every earlier silent agent
        (``excluded``: id -> until) excluded, and a missed offer for the holder, so repeated
        silence sets them away like lapsed offers (their revoked offers are returned)."""
        held = self._held.get(conversation_id)
        if held is None:
            raise NotAssigned(f"conversation {conversation_id} is not assigned")
        self._take_held(conversation_id, now)
        until = {a: u for a, u in (excluded or {}).items() if u > now}
        until[held.agent_id] = now + self.rules.reoffer_after_seconds
        self._seq += 1
        self._push(replace(held.waiting, enqueued_at=min(since, now), head=True, seq=self._seq,
                           excluded=until, target=None), now)
        state = self._agents[held.agent_id]
        state.missed += 1
        if state.missed >= self.rules.max_missed_offers and state.status == ONLINE:
            return ExpireResult(revoked=tuple(self.set_status(held.agent_id, "away", now)),
                                set_away=(held.agent_id,))
        return ExpireResult()

    def withdraw(self, conversation_id: str, now: float | None = None) -> Offer | None:
        """The visitor left (or closed) before a person took it; returns a revoked offer.
        With ``now`` it counts as an abandonment, which the ETA's patience learns from."""
        queued = self._queue.get(conversation_id)
        if queued is not None:
            self._dequeue(conversation_id)
            self._unbucket(queued)
            if now is not None:
                self._record_exit(max(0.0, now - queued.waiting.enqueued_at), True)
            return None
        if conversation_id in self._offers:
            offer, waiting = self._offers.pop(conversation_id)
            if now is not None:
                self._record_exit(max(0.0, now - waiting.enqueued_at), True)
            state = self._agents[offer.agent_id]
            state.pending.discard(conversation_id)
            self._reindex(state)
            return offer
        raise UnknownConversation(f"conversation {conversation_id} is not queued or offered")

    def record_handle_time(self, seconds: float) -> None:
        """Feed a handle time to the ETA (release does it; the hub may seed from history)."""
        if seconds >= 0:
            self._handle_times.append(seconds)

    # Internals ----------------------------------------------------------------------------

    def _able(self, group: _Group) -> list[_AgentState]:
        """Free agents able to serve what a group asks (exclusions aside)."""
        if group.target is not None:
            return [self._agents[group.target]] if group.target in self._free else []
        if not group.req:
            return [self._agents[i] for i in self._free]
        pool = min((self._free_by_skill.get(skill, set()) for skill, _ in group.req), key=len)
        return [self._agents[i] for i in pool if can_serve(self._agents[i].skills, group.req)]

    def _best(self, queued: _Queued, now: float,
              among: set[int] | None = None) -> _AgentState | None:
        """The best eligible free agent, looked for in ``among`` (else the free indexes)."""
        req, target = queued.group.req, queued.group.target
        if among is not None:
            candidates = among
        elif target is not None:
            candidates = self._free & {target}
        elif req:
            candidates = min((self._free_by_skill.get(skill, set()) for skill, _ in req),
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
            if not (agent_id == target if target is not None
                    else can_serve(state.skills, req)):
                continue
            skills = state.skills
            rank = (state.load / state.capacity, -sum(skills.get(s, 0) for s, _ in req),
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
