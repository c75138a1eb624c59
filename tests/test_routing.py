"""The pure routing decision: order, eligibility, relaxation, tie-breaks, business hours."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chatserver.core.errors import ChatError
from chatserver.core.routing import (
    Agent,
    Needs,
    NotOffered,
    Offer,
    RelaxStep,
    RoutingRules,
    Schedule,
    UnknownConversation,
    Waiting,
    boost,
    choose,
    current_requirements,
    is_open,
    online_servable,
    queue_key,
    step_in_force,
)

RULES = RoutingRules()
BILLING = Needs({"billing": 4}, "lang:fa")


def agent(id: int, skills: dict[str, int] | None = None, **kw: object) -> Agent:
    return Agent(id, skills={"billing": 4, "lang:fa": 5} if skills is None else skills,
                 **kw)  # type: ignore[arg-type]


def wait(cid: str, t: float = 0.0, needs: Needs = BILLING, **kw: object) -> Waiting:
    return Waiting(cid, needs, enqueued_at=t, seq=int(t * 1000), **kw)  # type: ignore[arg-type]


def pairs(offers: list[Offer]) -> list[tuple[str, int]]:
    return [(o.conversation_id, o.agent_id) for o in offers]


def test_fifo_and_offer_deadline() -> None:
    offers = choose([wait("b", 2), wait("a", 1)], [agent(1)], 5.0, RULES)
    assert offers == [Offer("a", 1, 5.0 + RULES.offer_timeout_seconds)]


def test_priority_boost_moves_ahead_by_its_seconds_and_is_bounded() -> None:
    assert boost(1, RULES) == 60 and boost(100, RULES) == 300 and boost(-100, RULES) == -300
    old, vip = wait("old", 0), wait("vip", 50, priority=1)
    assert pairs(choose([old, vip], [agent(1)], 60, RULES)) == [("vip", 1)]
    # The bound: a VIP never overtakes more than five minutes of waiting.
    ancient, vvip = wait("ancient", 0), wait("vvip", 301, priority=99)
    assert pairs(choose([vvip, ancient], [agent(1)], 302, RULES)) == [("ancient", 1)]


def test_head_band_goes_first() -> None:
    rescued = wait("rescued", 10, head=True)
    assert queue_key(rescued, RULES) < queue_key(wait("early", 0, priority=5), RULES)
    assert pairs(choose([wait("early", 0), rescued], [agent(1)], 11, RULES)) == [("rescued", 1)]


def test_scarce_skill_does_not_block_the_rest() -> None:
    scarce = wait("fa-tax", 0, Needs({"tax": 5}, "lang:fa"))
    busy_expert = agent(2, {"tax": 5, "lang:fa": 5}, load=1)
    offers = choose([scarce, wait("b", 1)], [agent(1), busy_expert], 2, RULES)
    assert pairs(offers) == [("b", 1)]


def test_capacity_counts_pending_offers_and_reservations_in_the_same_scan() -> None:
    assert choose([wait("a", 0)], [agent(1, capacity=2, load=2)], 1, RULES) == []
    offers = choose([wait("a", 0), wait("b", 1), wait("c", 2)],
                    [agent(1, capacity=2, load=1), agent(2, capacity=1)], 3, RULES)
    # a -> 2 (load 0/1 beats 1/2), b -> 1 (now 1/2 vs full), c: nobody left.
    assert pairs(offers) == [("a", 2), ("b", 1)]


def test_only_online_agents() -> None:
    away, offline = agent(1, status="away"), agent(2, status="offline")
    assert choose([wait("a")], [away, offline], 1, RULES) == []


@pytest.mark.parametrize(
    ("agents", "winner"),
    [
        ([agent(1, capacity=2, load=1), agent(2, capacity=3, load=1)], 2),  # lower load ratio
        ([agent(1, {"billing": 4, "lang:fa": 3}), agent(2, {"billing": 5, "lang:fa": 3})], 2),
        ([agent(1, free_since=20.0), agent(2, free_since=10.0)], 2),  # idle longest
        ([agent(2), agent(1)], 1),  # lowest id last
    ],
)
def test_tie_breaks(agents: list[Agent], winner: int) -> None:
    assert pairs(choose([wait("a")], agents, 1, RULES)) == [("a", winner)]


def test_relaxation_steps_lower_the_level_then_drop_the_topic_but_keep_the_language() -> None:
    junior = agent(1, {"billing": 2, "lang:fa": 2})
    linguist = agent(2, {"lang:fa": 5})
    english = agent(3, {"billing": 5, "lang:en": 5})
    busy_expert = agent(4, {"billing": 5, "lang:fa": 5}, load=1)  # every step has someone
    agents = [junior, linguist, english, busy_expert]
    w = wait("a", 0)
    assert current_requirements(w, 0, RULES) == (("billing", 4), ("lang:fa", 1))
    assert choose([w], agents, 29.9, RULES) == []
    assert current_requirements(w, 30, RULES) == (("billing", 2), ("lang:fa", 1))
    assert pairs(choose([w], agents, 30, RULES)) == [("a", 1)]
    assert pairs(choose([w], [linguist, english, busy_expert], 89, RULES)) == []
    assert pairs(choose([w], [linguist, english, busy_expert], 90, RULES)) == [("a", 2)]
    relaxed = RoutingRules(relax_language=True)
    assert pairs(choose([w], [english, busy_expert], 90, relaxed)) == [("a", 3)]
    # A level already below the cap is not raised by it.
    assert current_requirements(wait("b", 0, Needs({"x": 1})), 30, RULES) == (("x", 1),)


def test_a_step_nobody_online_could_serve_is_skipped_at_once() -> None:
    """Topic `returns` with only an English agent online: no 90 s wait for nobody (issue 16)."""
    returns = wait("r", 0, Needs({"returns": 1}, "lang:en"))
    english = agent(1, {"lang:en": 5})
    assert pairs(choose([returns], [english], 0.0, RULES)) == [("r", 1)]
    servable = online_servable([english])
    assert step_in_force(returns, 0.0, RULES, servable) == 2
    assert current_requirements(returns, 0.0, RULES, servable) == (("lang:en", 1),)
    # Someone online with the skill, even busy, holds the chat to its step: worth waiting for.
    busy = agent(2, {"returns": 3, "lang:en": 5}, load=1)
    assert choose([returns], [english, busy], 0.0, RULES) == []
    assert step_in_force(returns, 0.0, RULES, online_servable([english, busy])) == 0
    # Skipping goes to the first step someone could serve, not straight to the last.
    junior = agent(3, {"returns": 2, "lang:en": 1})
    hard = wait("h", 0, Needs({"returns": 4}, "lang:en"))
    assert pairs(choose([hard], [english, junior], 0.0, RULES)) == [("h", 3)]
    assert step_in_force(hard, 0.0, RULES, online_servable([english, junior])) == 1
    # Away agents serve nobody; nobody at all: the clock's step (nothing to skip to).
    assert step_in_force(hard, 0.0, RULES, online_servable([agent(5, status="away")])) == 0
    assert step_in_force(hard, 35.0, RULES, online_servable([])) == 1

def test_excluded_agents_wait_out_their_exclusion() -> None:
    w = wait("a", 0, excluded={1: 100.0})
    assert pairs(choose([w], [agent(1), agent(2, capacity=1, load=1)], 50, RULES)) == []
    assert pairs(choose([w], [agent(1)], 100, RULES)) == [("a", 1)]


def test_transfer_target_is_pinned_during_the_first_step_only() -> None:
    w = wait("a", 0, needs=Needs({"tax": 5}), target=2)
    agents = [agent(1, {"tax": 5}), agent(2, {})]
    assert pairs(choose([w], agents, 1, RULES)) == [("a", 2)]
    busy_target = agent(2, {}, load=1)
    assert pairs(choose([w], [agents[0], busy_target], 1, RULES)) == []
    assert pairs(choose([w], [agents[0], busy_target], 30, RULES)) == [("a", 1)]
    # A target who is not online is not waited for: the first step is skipped at once.
    assert pairs(choose([w], [agents[0], agent(2, {}, status="away")], 1, RULES)) == [("a", 1)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"steps": ()},
        {"steps": (RelaxStep(5),)},
        {"steps": (RelaxStep(0), RelaxStep(30), RelaxStep(30))},
        {"offer_timeout_seconds": 0},
        {"grace_seconds": -1},
        {"max_missed_offers": 0},
    ],
)
def test_rules_refuse_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="routing"):
        RoutingRules(**kwargs)  # type: ignore[arg-type]


def test_errors_belong_to_the_one_exception_tree() -> None:
    assert issubclass(NotOffered, ChatError) and NotOffered.code == "conflict"
    assert UnknownConversation.code == "not_found"


# Business hours -------------------------------------------------------------------------

HOURS = Schedule.parse({"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"],
                        "fri": ["22:00-02:00"], "sun": ["00:00-24:00"]},
                       closed=["2026-12-25"])


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "tz", "expected"),
    [
        (at(2026, 11, 23, 8, 59), "UTC", False),  # Monday before opening
        (at(2026, 11, 23, 9, 0), "UTC", True),
        (at(2026, 11, 23, 17, 0), "UTC", False),  # closing time is exclusive
        (at(2026, 11, 24, 12, 30), "UTC", False),  # Tuesday lunch break
        (at(2026, 11, 27, 23, 0), "UTC", True),  # Friday night shift
        (at(2026, 11, 28, 1, 59), "UTC", True),  # ... spilling into Saturday
        (at(2026, 11, 28, 2, 0), "UTC", False),
        (at(2026, 11, 29, 23, 59), "UTC", True),  # Sunday around the clock
        (at(2026, 11, 23, 8, 30), "Asia/Tehran", True),  # 12:00 in Tehran (UTC+3:30)
        (at(2026, 11, 23, 14, 0), "America/New_York", True),  # 09:00 EST
        (at(2026, 7, 6, 13, 0), "America/New_York", True),  # 09:00 EDT: DST followed
        (at(2026, 12, 25, 10, 0), "UTC", False),  # a Friday holiday
    ],
)
def test_is_open(when: datetime, tz: str, expected: bool) -> None:
    assert is_open(HOURS, when, tz) is expected


def test_holiday_closes_the_night_shift_that_opens_on_it() -> None:
    assert date(2026, 12, 25).weekday() == 4  # a Friday
    assert not is_open(HOURS, at(2026, 12, 26, 1, 0), "UTC")


def test_schedule_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"routing\.hours"):
        Schedule.parse({"mnd": ["09:00-17:00"]})
    with pytest.raises(ValueError, match=r"routing\.hours\.mon"):
        Schedule.parse({"mon": ["9-5"]})
    with pytest.raises(ValueError, match="aware"):
        is_open(HOURS, datetime(2026, 11, 23, 10, 0), "UTC")
