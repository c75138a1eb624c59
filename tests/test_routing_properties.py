"""Random event sequences on the board: invariants, and dispatch == choose over its snapshot."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatserver.core.routing import (
    Agent,
    Needs,
    NotOffered,
    OfferExpired,
    RoutingError,
    RoutingRules,
    Waiting,
    can_serve,
    choose,
    current_requirements,
    eligible,
    online_servable,
    pinned,
    queue_key,
)
from chatserver.core.routing_board import Board

RULES = RoutingRules(max_missed_offers=2)
NEEDS = [
    Needs({"billing": 3}, "lang:fa"),
    Needs({"tech": 4}),
    Needs({}, "lang:fa"),
    Needs({"billing": 1, "tech": 2}, "lang:en"),
    Needs(),
]
SKILLS = ["billing", "tech", "lang:fa", "lang:en"]
STATUSES = ["online", "online", "away", "offline"]
DT = [0.0, 0.5, 5.0, 19.0, 31.0, 65.0, 125.0]  # crosses offer, step, grace, exclusion ends

skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=4)
agents_st = st.lists(st.tuples(skill_maps, st.integers(1, 3)), min_size=1, max_size=3)
OPS = ["enqueue", "enqueue", "dispatch", "dispatch", "dispatch", "accept", "decline", "decline",
       "expire", "disconnect", "reconnect", "grace", "release", "status", "transfer", "withdraw"]
op_st = st.tuples(
    st.sampled_from(OPS),
    st.integers(0, 99), st.integers(0, 99), st.sampled_from(DT))


@dataclass
class Model:
    board: Board
    agent_ids: list[int]
    capacity: dict[int, int]
    live: set[str] = field(default_factory=set)
    now: float = 0.0
    n: int = 0


def check_invariants(m: Model) -> None:
    waiting, agents = m.board.snapshot()
    offers, held = m.board.offers(), m.board.assignments()
    queued = [w.conversation_id for w in waiting]
    everyone = queued + [o.conversation_id for o in offers] + list(held)
    # Nothing lost, nothing held twice.
    assert len(everyone) == len(set(everyone)) and set(everyone) == m.live
    for a in agents:
        mine = sum(o.agent_id == a.id for o in offers) + sum(h == a.id for h in held.values())
        assert a.load == mine <= m.capacity[a.id]
    assert all(a.status == "online" or not any(o.agent_id == a.id for o in offers)
               for a in agents)
    assert m.board.positions(m.now) == brute_positions(waiting, agents, m.now)


def brute_positions(waiting: list[Waiting], agents: list[Agent], now: float) -> dict[str, int]:
    """The documented definition, literally: count earlier chats sharing an online agent."""
    servable = online_servable(agents)

    def able(w: Waiting) -> tuple[object, set[int]]:
        target = pinned(w, now, RULES, servable)
        req = current_requirements(w, now, RULES, servable)
        ids = {a.id for a in agents if a.status == "online"
               and (a.id == target if target is not None else can_serve(a.skills, req))}
        return (req, target), ids

    order = sorted(waiting, key=lambda w: queue_key(w, RULES))
    seen: list[tuple[object, set[int]]] = []
    result = {}
    for w in order:
        sig, ids = able(w)
        result[w.conversation_id] = 1 + sum(1 for s, i in seen if i & ids or s == sig)
        seen.append((sig, ids))
    return result


def check_dispatch(m: Model) -> None:
    waiting, agents = m.board.snapshot()
    expected = choose(waiting, agents, m.now, RULES)
    got = m.board.dispatch(m.now)
    assert got == expected
    # FIFO among equal chats: a later one is served only if the earlier one could not take
    # that agent (it excluded them).
    offered = {o.conversation_id: o.agent_id for o in got}
    order = sorted(waiting, key=lambda w: queue_key(w, RULES))
    for i, later in enumerate(order):
        if later.conversation_id not in offered:
            continue
        for earlier in order[:i]:
            if (earlier.conversation_id not in offered and same_kind(earlier, later)
                    and earlier.enqueued_at <= later.enqueued_at):
                assert earlier.excluded.get(offered[later.conversation_id], -1) > m.now
    # After dispatch no waiting chat has an eligible agent.
    waiting, agents = m.board.snapshot()
    servable = online_servable(agents)
    assert not any(eligible(a, w, m.now, RULES, servable) for w in waiting for a in agents)


def same_kind(a: Waiting, b: Waiting) -> bool:
    return (a.needs == b.needs and a.priority == b.priority and a.head == b.head
            and a.target is None and b.target is None)


def apply(m: Model, op: str, x: int, y: int) -> None:
    b = m.board
    agent_id = m.agent_ids[x % len(m.agent_ids)]
    offers = b.offers()
    held = sorted(b.assignments())
    if op == "enqueue":
        m.n += 1
        cid = f"c{m.n}"
        b.enqueue(cid, NEEDS[x % len(NEEDS)], y % 4 - 1, m.now, at_head=y % 7 == 0)
        m.live.add(cid)
    elif op == "dispatch":
        check_dispatch(m)
    elif op in ("accept", "decline") and offers:
        offer = offers[x % len(offers)]
        who = offer.agent_id if y % 5 else agent_id  # sometimes the wrong agent
        try:
            getattr(b, op)(offer.conversation_id, who, m.now)
        except OfferExpired:
            assert op == "accept" and m.now >= offer.expires_at
        except NotOffered:
            assert who != offer.agent_id
    elif op == "expire":
        result = b.expire(m.now)
        assert all(o.expires_at <= m.now for o in result.expired)
    elif op == "disconnect":
        b.agent_disconnected(agent_id, m.now)
    elif op == "reconnect":
        b.agent_reconnected(agent_id, m.now)
    elif op == "grace":
        for cid in b.grace_expired(m.now):
            assert b.state_of(cid) == "queued"
    elif op == "release" and held:
        b.release(held[x % len(held)], m.now)
        m.live.discard(held[x % len(held)])
    elif op == "status":
        b.set_status(agent_id, STATUSES[y % len(STATUSES)], m.now)
    elif op == "transfer" and held:
        cid = held[x % len(held)]
        try:
            if y % 3 == 0:
                b.transfer(cid, m.now, to_agent=agent_id)
            else:
                b.transfer(cid, m.now, to_skill=SKILLS[y % len(SKILLS)] if y % 3 == 1 else None)
        except RoutingError:
            assert b.assignments()[cid] == agent_id
    elif op == "withdraw" and m.live:
        cid = sorted(m.live)[x % len(m.live)]
        if b.state_of(cid) in ("queued", "offered"):
            b.withdraw(cid)
            m.live.discard(cid)


@settings(max_examples=600, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(agents_st, st.lists(op_st, max_size=80))
def test_random_event_sequences_keep_the_invariants(
        agents: list[tuple[dict[str, int], int]], ops: list[tuple[str, int, int, float]]) -> None:
    board = Board(RULES)
    capacity = {}
    for agent_id, (skills, cap) in enumerate(agents, 1):
        board.upsert_agent(agent_id, capacity=cap, skills=skills, now=0.0, status="online")
        capacity[agent_id] = cap
    m = Model(board, sorted(capacity), capacity)
    for op, x, y, dt in ops:
        m.now += dt
        apply(m, op, x, y)
        check_invariants(m)
    m.now += 1000.0  # every step reached, every exclusion over: time alone must make matches
    check_dispatch(m)
    for agent_id in m.agent_ids:
        board.agent_reconnected(agent_id, m.now)
        board.set_status(agent_id, "online", m.now)
    board.grace_expired(m.now)
    check_dispatch(m)
    check_invariants(m)


def test_dispatch_matches_choose_at_scale() -> None:
    """A bigger random desk, driven for a while, still agrees with the reference scan."""
    rng = random.Random(4)
    board = Board(RULES)
    skills = ["billing", "tech", "tax", "lang:fa", "lang:en", "lang:de"]
    for agent_id in range(1, 61):
        chosen = rng.sample(skills, 3)
        board.upsert_agent(agent_id, capacity=rng.randint(1, 3),
                           skills={s: rng.randint(1, 5) for s in chosen}, now=0.0,
                           status="online")
    now = 0.0
    for n in range(600):
        now += rng.expovariate(2.0)
        needs = Needs({rng.choice(skills[:3]): rng.randint(1, 5)},
                      rng.choice([None, "lang:fa", "lang:en", "lang:de"]))
        board.enqueue(f"c{n}", needs, rng.randint(0, 2), now)
        if n % 10 == 0:
            for offer in board.offers():
                if rng.random() < 0.8:
                    board.accept(offer.conversation_id, offer.agent_id, now)
                else:
                    board.decline(offer.conversation_id, offer.agent_id, now)
            held = sorted(board.assignments())
            for cid in rng.sample(held, len(held) // 3):
                board.release(cid, now)
            waiting, agents = board.snapshot()
            assert board.dispatch(now) == choose(waiting, agents, now, RULES)


def test_long_random_walks_agree_with_choose_after_every_step() -> None:
    """Long seeded walks reach what short examples rarely do (e.g. an exclusion running out
    on a chat past every step, with nothing else happening)."""
    for seed in range(20):
        rng = random.Random(seed)
        board = Board(RULES)
        capacity = {}
        for agent_id in (1, 2):
            skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, 2)}
            capacity[agent_id] = rng.randint(1, 2)
            board.upsert_agent(agent_id, capacity=capacity[agent_id], skills=skills, now=0.0,
                               status="online")
        m = Model(board, [1, 2], capacity)
        for _ in range(400):
            m.now += rng.choice(DT)
            op = rng.choice(OPS)
            apply(m, op, rng.randrange(100), rng.randrange(100))
            check_invariants(m)
            if op != "dispatch" and rng.random() < 0.3:
                check_dispatch(m)
