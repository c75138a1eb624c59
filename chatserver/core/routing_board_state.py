"""The routing board's state: agents, waiting chats and the indexes kept true over them.

``BoardState`` owns every structure the board decides from (agents with their free and online
indexes, the queue with its buckets and relaxation timers, offers, held chats) and the small
moves that keep them consistent (``_push``/``_refile``, ``_file`` for a group of chats of one
kind, ``_reindex``, the servable-step memo).
It decides nothing: who gets which chat is ``routing_board.Board``; what the queue looks like
from outside (positions, ETAs) is ``routing_board_views.BoardViews``. See ``routing_board`` for
why dispatch is incremental and what the indexes are for.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, field, replace

from chatserver.core.eta import Pools
from chatserver.core.routing import (
    OFFLINE,
    ONLINE,
    Agent,
    NotAssigned,
    NotOffered,
    Offer,
    QueueKey,
    Requirement,
    RoutingRules,
    UnknownAgent,
    Waiting,
    can_serve,
    queue_key,
    requirements,
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


@dataclass(eq=False)
class _Group:
    """Waiting chats of one kind whose relaxation clock stood at one step when filed: they
    ask the same (requirements, pin) and sit in the same bucket, in queue order. When the
    kind's servable steps change the group is filed again whole, not chat by chat."""

    kind: _Kind
    clock: int
    sample: Waiting  # any chat of the kind: its needs and pin are the kind's
    bucket: str = ""
    req: Requirement = ()
    target: int | None = None
    chats: list[tuple[QueueKey, str]] = field(default_factory=list)
    # The ETA's (seconds after enqueue, ask) of its later steps (``eta.later_steps``), worked
    # out by the first queue_status after each filing: only a filing changes them.
    later: list[tuple[float, _Sig]] | None = None


@dataclass
class _Queued:
    """A waiting chat and its group (what it asks now, refreshed by timers, and where)."""

    waiting: Waiting
    key: QueueKey
    group: _Group

    @property
    def req(self) -> Requirement:
        return self.group.req

    @property
    def target(self) -> int | None:
        return self.group.target


@dataclass(frozen=True)
class _Held:
    """An assigned chat: who holds it since when (handle time), and how to re-queue it."""

    agent_id: int
    since: float
    waiting: Waiting  # kept for re-queueing with the same needs and priority


class BoardState:
    """The board's data and its invariants; subclassed, never used alone.

    The views and the decisions are layers over this one object rather than collaborators
    holding it: the hub touches one board under one lock, and dispatch's inner loop reads these
    indexes a few million times a second, where an attribute hop per read is measurable.
    """

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
        # online, leaves or changes skills: each of its groups is filed again and dirty.
        self._online_by_skill: dict[str, set[int]] = {}
        self._online: set[int] = set()
        self._servable_memo: dict[_Sig, bool] = {}
        # The online agents as the ETA sees them: built by the first queue_status after one
        # comes online, leaves or changes skills or capacity (which unlists them first).
        self._pools: Pools | None = None
        self._kinds: dict[_Kind, dict[int, _Group]] = {}  # kind -> clock -> group
        self._kind_steps: dict[_Kind, tuple[bool, ...]] = {}
        self._steps_stale = False
        self._dirty_agents: set[int] = set()
        self._dirty_chats: set[str] = set()
        self._dirty_groups: set[_Group] = set()  # every chat of these is worth a scan
        self._timers: list[tuple[float, str]] = []  # step changes and exclusion ends
        self._deadlines: list[tuple[float, str, int]] = []  # offer deadlines
        self._handle_times: deque[float] = deque(maxlen=self.rules.eta_window)
        self._exits: deque[tuple[float, bool]] = deque(maxlen=PATIENCE_WINDOW)
        self._patience: float | None = None  # patience_rate(_exits), until the next exit
        self._seq = 0

    def _record_exit(self, waited: float, abandoned: bool) -> None:
        """A chat left the queue, offered or abandoned: the ETA's patience learns from it."""
        self._exits.append((waited, abandoned))
        self._patience = None

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
        groups = self._kinds.get(kind)
        if groups is None:
            groups = self._kinds[kind] = {}
            self._kind_steps[kind] = self._servable_steps(waiting)
        group = groups.get(clock)
        if group is None:
            group = groups[clock] = _Group(kind, clock, waiting)
            self._file(group, self._kind_steps[kind])
        queued = _Queued(waiting, queue_key(waiting, self.rules), group)
        cid = waiting.conversation_id
        self._queue[cid] = queued
        insort(group.chats, (queued.key, cid))
        insort(self._buckets.setdefault(group.bucket, []), (queued.key, cid))
        self._dirty_chats.add(cid)
        if not timers:
            return
        for later in self.rules.steps[clock + 1:]:
            heapq.heappush(self._timers, (waiting.enqueued_at + later.after_seconds, cid))
        for until in waiting.excluded.values():
            if until > at:
                heapq.heappush(self._timers, (until, cid))

    def _file(self, group: _Group, steps: tuple[bool, ...]) -> None:
        """File a group for the first step from its clock someone online could serve (its
        clock's step when none): requirements, pin and bucket. Its chats move between
        buckets in bulk (one filter and one merge of sorted runs, no per-chat work)."""
        clock, sample = group.clock, group.sample
        step = next((i for i in range(clock, len(steps)) if steps[i]), clock)
        req = requirements(sample.needs, self.rules.steps[step], self.rules)
        target = sample.target if step == 0 else None
        if target is not None:
            bucket = f"@{target}"
        else:
            topics = [skill for skill, _ in req if skill != sample.needs.language]
            bucket = (topics or [skill for skill, _ in req] or [ANY])[0]
        if group.chats and bucket != group.bucket:
            old = self._buckets[group.bucket]
            if len(old) == len(group.chats):
                del self._buckets[group.bucket]
            else:
                cids = {cid for _, cid in group.chats}
                old[:] = [entry for entry in old if entry[1] not in cids]
            new = self._buckets.get(bucket)
            self._buckets[bucket] = sorted(new + group.chats) if new else list(group.chats)
        group.bucket, group.req, group.target = bucket, req, target
        group.later = None

    def _unbucket(self, queued: _Queued) -> None:
        """Out of its group (after ``_dequeue``); an emptied group, or kind, goes too."""
        group = queued.group
        entry = (queued.key, queued.waiting.conversation_id)
        bucket = self._buckets[group.bucket]
        bucket.pop(bisect_left(bucket, entry))
        if not bucket:
            del self._buckets[group.bucket]
        chats = group.chats
        chats.pop(bisect_left(chats, entry))
        if chats:
            return
        self._dirty_groups.discard(group)
        groups = self._kinds[group.kind]
        del groups[group.clock]
        if not groups:
            del self._kinds[group.kind]
            self._kind_steps.pop(group.kind, None)

    def _dequeue(self, cid: str) -> None:
        """Out of the queue (the caller unbuckets it)."""
        del self._queue[cid]

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
        for kind, groups in self._kinds.items():
            steps = self._servable_steps(next(iter(groups.values())).sample)
            if steps != self._kind_steps.get(kind):
                self._kind_steps[kind] = steps
                for group in groups.values():
                    self._file(group, steps)
                    self._dirty_groups.add(group)

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
            self._pools = None

    def _reindex(self, state: _AgentState, *, changed: bool = False) -> None:
        """Keep the free and online indexes true; an agent newly free (or changed) is worth a
        scan, and anyone coming online or leaving may change which steps are skipped."""
        if state.online and not state.listed:
            self._online.add(state.id)
            for skill in state.skills:
                self._online_by_skill.setdefault(skill, set()).add(state.id)
            state.listed = True
            self._steps_stale = True
            self._pools = None
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

    def _stale_deadline(self, expires_at: float, conversation_id: str, agent_id: int) -> bool:
        current = self._offers.get(conversation_id)
        return current is None or current[0].agent_id != agent_id or (
            current[0].expires_at != expires_at)

    def _pending_offer(self, conversation_id: str, agent_id: int) -> tuple[Offer, Waiting]:
        current = self._offers.get(conversation_id)
        if current is None or current[0].agent_id != agent_id:
            raise NotOffered(f"conversation {conversation_id} is not offered to agent {agent_id}")
        return current

    def _take_held(self, conversation_id: str, now: float) -> _Held:
        held = self._held.pop(conversation_id, None)
        if held is None:
            raise NotAssigned(f"conversation {conversation_id} is not assigned")
        state = self._agents[held.agent_id]
        state.active.discard(conversation_id)
        state.free_since = now
        self._reindex(state)
        return held
