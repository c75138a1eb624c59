"""The routing board: offers, answers, expiry, presence, grace, transfer, queue positions."""

from __future__ import annotations

import pytest

from chatserver.core.eta import median_factor
from chatserver.core.routing import (
    AlreadyRouted,
    Needs,
    NotAssigned,
    NotOffered,
    Offer,
    OfferExpired,
    RoutingError,
    RoutingRules,
    UnknownAgent,
    UnknownConversation,
)
from chatserver.core.routing_board import Board, ExpireResult

FA = Needs({"billing": 3}, "lang:fa")
EN = Needs({"billing": 3}, "lang:en")


def board(*agents: tuple[int, dict[str, int], int], rules: RoutingRules | None = None) -> Board:
    b = Board(rules)
    for agent_id, skills, capacity in agents:
        b.upsert_agent(agent_id, capacity=capacity, skills=skills, now=0.0, status="online")
    return b


def test_offer_accept_release_lifecycle_feeds_free_since_and_eta() -> None:
    b = board((1, {"billing": 4, "lang:fa": 5}, 1))
    b.enqueue("a", FA, 0, 1.0)
    b.enqueue("b", FA, 0, 2.0)
    assert b.dispatch(3.0) == [Offer("a", 1, 23.0)]
    assert b.state_of("a") == "offered" and b.agent(1).load == 1
    assert b.dispatch(4.0) == []  # nothing changed
    b.accept("a", 1, 10.0)
    assert b.state_of("a") == "assigned" and b.assignments() == {"a": 1}
    assert b.positions(10.0) == {"b": 1}
    # The median of one exponential handle time, the assumed 300 s, on the one slot.
    assert b.eta_seconds("b", 10.0) == pytest.approx(300.0 * median_factor(1))
    b.release("a", 70.0)
    assert b.state_of("a") is None and b.agent(1).free_since == 70.0
    assert b.dispatch(70.0) == [Offer("b", 1, 90.0)]
    b.accept("b", 1, 71.0)
    b.enqueue("c", FA, 0, 72.0)
    assert b.eta_seconds("c", 72.0) == pytest.approx(60.0 * median_factor(1))  # the real one


def test_wrong_moves_raise() -> None:
    b = board((1, {"billing": 4, "lang:fa": 5}, 1), (2, {"lang:fa": 1}, 1))
    b.enqueue("a", FA, 0, 0.0)
    with pytest.raises(AlreadyRouted):
        b.enqueue("a", FA, 0, 0.0)
    [offer] = b.dispatch(0.0)
    with pytest.raises(NotOffered):
        b.accept("a", 2, 1.0)
    with pytest.raises(OfferExpired):
        b.accept("a", 1, offer.expires_at)
    with pytest.raises(NotAssigned):
        b.release("a", 1.0)
    with pytest.raises(UnknownConversation):
        b.withdraw("zzz")
    with pytest.raises(UnknownAgent):
        b.set_status(9, "online", 0.0)
    with pytest.raises(ValueError, match="status"):
        b.set_status(1, "busy", 0.0)
    b.accept("a", 1, 1.0)
    with pytest.raises(RoutingError):
        b.transfer("a", 2.0, to_agent=1)
    with pytest.raises(RoutingError):
        b.transfer("a", 2.0, to_agent=2, to_skill="x")
    with pytest.raises(UnknownAgent):
        b.transfer("a", 2.0, to_agent=7)


def test_decline_keeps_the_place_and_skips_the_agent_for_a_while() -> None:
    rules = RoutingRules()
    b = board((1, {"billing": 4, "lang:fa": 5}, 1), rules=rules)
    b.enqueue("a", FA, 0, 0.0)
    b.enqueue("b", FA, 0, 1.0)
    b.dispatch(2.0)
    b.decline("a", 1, 3.0)
    assert b.positions(3.0) == {"a": 1, "b": 2}
    assert b.dispatch(3.0) == [Offer("b", 1, 23.0)]  # a is not offered to 1 again yet
    b.decline("b", 1, 4.0)
    assert b.dispatch(4.0) == []
    later = 3.0 + rules.reoffer_after_seconds
    assert b.dispatch(later) == [Offer("a", 1, later + 20.0)]


def test_exclusion_end_alone_brings_the_agent_back() -> None:
    b = board((1, {"lang:fa": 5}, 1))
    b.enqueue("a", FA, 0, 0.0)
    assert b.dispatch(100.0) == [Offer("a", 1, 120.0)]  # past every relaxation step
    b.decline("a", 1, 101.0)
    assert b.dispatch(101.0) == []
    assert b.dispatch(220.9) == []
    assert b.dispatch(221.0) == [Offer("a", 1, 241.0)]


def test_expiry_requeues_and_repeated_misses_set_the_agent_away() -> None:
    b = board((1, {"lang:fa": 5}, 2), rules=RoutingRules(max_missed_offers=2))
    b.enqueue("a", FA, 0, 0.0)
    b.enqueue("b", FA, 0, 0.0)
    b.enqueue("c", FA, 0, 0.0)
    assert b.dispatch(90.0) == [Offer("a", 1, 110.0), Offer("b", 1, 110.0)]  # topic dropped
    b.decline("b", 1, 95.0)  # a deliberate decline is not a miss
    assert b.dispatch(95.0) == [Offer("c", 1, 115.0)]
    result = b.expire(110.0)
    assert result == ExpireResult(expired=(Offer("a", 1, 110.0),))
    assert b.agent(1).status == "online"
    assert b.dispatch(110.0) == []  # b and a both skip agent 1 for now
    result = b.expire(115.0)
    assert result.expired == (Offer("c", 1, 115.0),) and result.set_away == (1,)
    assert b.agent(1).status == "away" and b.agent(1).load == 0
    assert b.positions(115.0) == {"a": 1, "b": 2, "c": 3}


def test_going_away_revokes_pending_offers_but_not_chats() -> None:
    b = board((1, {"billing": 3, "lang:fa": 1}, 2))
    b.enqueue("a", FA, 0, 0.0)
    b.enqueue("b", FA, 0, 0.0)
    b.dispatch(0.0)
    b.accept("a", 1, 1.0)
    assert b.set_status(1, "away", 2.0) == [Offer("b", 1, 20.0)]
    assert b.state_of("b") == "queued" and b.assignments() == {"a": 1}
    assert b.set_status(1, "online", 3.0) == []
    assert b.dispatch(3.0) == [Offer("b", 1, 23.0)]


def test_disconnect_keeps_chats_through_grace_then_rescues_them_at_the_head() -> None:
    b = board((1, {"billing": 3, "lang:fa": 1}, 2), (2, {"billing": 3, "lang:fa": 1}, 1))
    b.enqueue("a", FA, 0, 0.0)
    b.enqueue("b", FA, 0, 0.0)
    b.enqueue("c", FA, 0, 0.0)
    # Ties at load 0 go to the lower id: a -> 1, b -> 2, then c -> 1 (1/2 beats full).
    assert [(o.conversation_id, o.agent_id) for o in b.dispatch(0.0)] == [
        ("a", 1), ("b", 2), ("c", 1)]
    for offer in b.offers():
        b.accept(offer.conversation_id, offer.agent_id, 1.0)
    b.enqueue("d", FA, 0, 2.0)
    assert b.dispatch(2.0) == []
    assert b.agent_disconnected(1, 3.0) == []
    assert b.agent(1).status == "offline" and b.assignments()["a"] == 1
    assert b.grace_expired(62.9) == []
    b.agent_reconnected(1, 10.0)
    b.agent_disconnected(1, 20.0)
    b.agent_disconnected(1, 30.0)  # a second drop does not extend the grace
    assert b.grace_expired(79.9) == []
    assert b.grace_expired(80.0) == ["a", "c"]
    assert b.state_of("a") == "queued" and b.agent(1).load == 0
    assert b.positions(80.0) == {"a": 1, "c": 2, "d": 3}  # ahead of d, who waited longer
    b.release("b", 81.0)
    assert b.dispatch(81.0) == [Offer("a", 2, 101.0)]


def test_transfer_to_skill_and_to_agent() -> None:
    b = board((1, {"billing": 3, "lang:fa": 1}, 1), (2, {"tax": 5, "lang:fa": 1}, 1),
              (3, {"billing": 5, "lang:fa": 5}, 1))
    b.enqueue("a", FA, 0, 0.0)
    assert b.dispatch(0.0) == [Offer("a", 3, 20.0)]
    b.accept("a", 3, 1.0)
    b.transfer("a", 5.0, to_skill="tax")
    assert b.dispatch(5.0) == [Offer("a", 2, 25.0)]
    b.accept("a", 2, 6.0)
    b.transfer("a", 7.0, to_agent=1)
    assert b.dispatch(7.0) == [Offer("a", 1, 27.0)]
    b.decline("a", 1, 8.0)  # the target passed: the pin falls away, needs stay "tax"
    assert b.dispatch(8.0) == []  # 2 handed it off and is excluded for now
    assert b.state_of("a") == "queued"


def test_withdraw_from_queue_and_from_offer() -> None:
    b = board((1, {"billing": 3, "lang:fa": 1}, 1))
    b.enqueue("a", FA, 0, 0.0)
    b.enqueue("b", FA, 0, 0.0)
    b.dispatch(0.0)
    assert b.withdraw("b") is None
    assert b.withdraw("a") == Offer("a", 1, 20.0)
    assert b.agent(1).load == 0 and b.snapshot()[0] == []


def test_positions_count_only_competitors() -> None:
    b = board((1, {"billing": 3, "lang:fa": 1}, 1), (2, {"billing": 3, "lang:en": 1}, 1))
    b.upsert_agent(3, capacity=1, skills={"lang:de": 1}, now=0.0)  # offline
    for cid, needs in [("fa1", FA), ("en1", EN), ("fa2", FA), ("de1", Needs({}, "lang:de")),
                       ("en2", EN), ("de2", Needs({}, "lang:de"))]:
        b.enqueue(cid, needs, 0, 0.0)
    b.set_status(1, "away", 0.0)
    b.set_status(2, "away", 0.0)
    b.upsert_agent(4, capacity=1, skills={"billing": 5, "lang:fa": 1, "lang:en": 1}, now=0.0,
                   status="online")
    b.dispatch(0.0)  # fa1 -> 4
    # Agent 4 serves fa and en alike, so they compete; de has nobody online but its own kind.
    assert b.positions(0.0) == {"en1": 1, "fa2": 2, "de1": 1, "en2": 3, "de2": 2}
    assert b.eta_seconds("de1", 0.0) is None
    status = b.queue_status(0.0)
    assert {cid: pos for cid, (pos, _) in status.items()} == b.positions(0.0)
    assert status["en2"] == (3, pytest.approx(3 * 300.0 / 1 * median_factor(3)))
    assert status["de2"] == (2, None)
    assert b.eta_seconds("en2", 0.0) == status["en2"][1]
    assert not b.servable("de1") and b.servable("fa2")
    assert b.servable_needs(Needs({"anything": 5}, "lang:en"))  # fully relaxed: language only
    assert b.waiting_summary(10.0) == (5, 10.0)


def test_auto_accept_assigns_at_dispatch() -> None:
    b = board((1, {"lang:fa": 1}, 1), rules=RoutingRules(auto_accept=True))
    b.enqueue("a", Needs({}, "lang:fa"), 0, 0.0)
    assert b.dispatch(0.0) == [Offer("a", 1, 20.0)]
    assert b.assignments() == {"a": 1} and b.offers() == []
    assert b.expire(100.0) == ExpireResult()


def test_relaxation_happens_on_time_without_other_events() -> None:
    b = board((1, {"billing": 2, "lang:fa": 1}, 1), (2, {"billing": 5, "lang:fa": 1}, 1))
    b.restore_assigned("held", 2, FA, 0, 0.0)  # the expert is busy: the first step is worth it
    b.enqueue("a", Needs({"billing": 5}, "lang:fa"), 0, 0.0)
    assert b.dispatch(29.0) == []
    assert b.dispatch(30.0) == [Offer("a", 1, 50.0)]


def test_profile_change_can_make_a_match() -> None:
    b = board((1, {"lang:en": 1}, 1))
    b.enqueue("a", FA, 0, 0.0)
    assert b.dispatch(0.0) == []
    b.upsert_agent(1, capacity=1, skills={"billing": 3, "lang:fa": 1}, now=1.0)
    assert b.dispatch(1.0) == [Offer("a", 1, 21.0)]


def test_restart_restores_places_and_assignments() -> None:
    b = board((1, {"billing": 3, "lang:fa": 1}, 1))
    b.enqueue("new", FA, 0, 100.0)
    b.enqueue("old", FA, 0, 100.0, since=10.0)  # queued before the restart
    b.restore_assigned("held", 1, FA, 0, 100.0)
    assert b.positions(100.0) == {"old": 1, "new": 2}
    assert b.dispatch(100.0) == [] and b.agent(1).load == 1
    b.agent_disconnected(1, 100.0)
    assert b.grace_expired(160.0) == ["held"]
    with pytest.raises(AlreadyRouted):
        b.restore_assigned("held", 1, FA, 0, 160.0)


def test_next_wakeup_names_the_earliest_timer() -> None:
    b = board((1, {"lang:fa": 1}, 1))
    assert b.next_wakeup() is None
    b.enqueue("a", FA, 0, 0.0)
    assert b.next_wakeup() == 30.0  # first relaxation step
    b.dispatch(90.0)
    assert b.next_wakeup() == 110.0  # the offer's deadline
    b.accept("a", 1, 91.0)
    b.agent_disconnected(1, 95.0)
    assert b.next_wakeup() == 155.0  # the answered offer's deadline no longer counts


RETURNS = Needs({"returns": 1}, "lang:en")


def test_a_step_nobody_online_could_serve_is_skipped_and_counted_in_the_eta() -> None:
    """Topic `returns`, only an English agent online: offered at once, not after 90 s."""
    b = board((1, {"lang:en": 5}, 1))
    b.enqueue("r", RETURNS, 0, 0.0)
    assert b.dispatch(0.0) == [Offer("r", 1, 20.0)]
    # Busy: the visitor waits for that agent, with an ETA of one handle time (not None, and
    # no 90 s of relaxation for nobody in it).
    b.enqueue("r2", RETURNS, 0, 1.0)
    assert b.dispatch(1.0) == []
    assert b.queue_status(1.0)["r2"] == (1, pytest.approx(300 * median_factor(1)))
    # Nobody online at all: no ETA.
    b.set_status(1, "away", 2.0)
    assert b.queue_status(2.0)["r2"][1] is None


def test_who_comes_online_or_leaves_decides_which_steps_are_skipped() -> None:
    b = board((1, {"lang:en": 5}, 1), (2, {"returns": 3, "lang:en": 5}, 1))
    b.restore_assigned("held", 2, RETURNS, 0, 0.0)  # the specialist is busy: worth waiting for
    b.enqueue("r", RETURNS, 0, 0.0)
    assert b.dispatch(1.0) == []
    assert b.positions(1.0) == {"r": 1}
    # The specialist leaves: nobody online has the topic, so it goes to the English agent now.
    b.set_status(2, "away", 5.0)
    assert b.dispatch(5.0) == [Offer("r", 1, 25.0)]
    # And back: a new chat of the kind waits for the specialist again (the English agent is
    # busy anyway); when the specialist disconnects, the English agent's pool is its own.
    b.set_status(2, "online", 6.0)
    b.enqueue("r3", RETURNS, 0, 6.0)
    assert b.dispatch(6.0) == []
    b.accept("r", 1, 7.0)
    b.release("r", 8.0)
    assert b.dispatch(8.0) == []  # step 0 holds: the specialist is online, only busy
    b.agent_disconnected(2, 9.0)
    assert b.dispatch(9.0) == [Offer("r3", 1, 29.0)]


def test_a_transfer_to_an_agent_who_is_not_online_is_not_waited_for() -> None:
    b = board((1, {"lang:en": 5}, 1), (2, {"lang:en": 5}, 1), (3, {"lang:en": 5}, 1))
    b.enqueue("t", Needs({}, "lang:en"), 0, 0.0)
    assert b.dispatch(0.0) == [Offer("t", 1, 20.0)]
    b.accept("t", 1, 1.0)
    b.set_status(3, "away", 1.0)
    b.transfer("t", 2.0, to_agent=3)
    assert b.dispatch(2.0) == [Offer("t", 2, 22.0)]


# Silent agents (issue 16 review): a re-route keeps the clock, earlier silent agents stay
# excluded, and it counts as a missed offer.

BILLING_EN = Needs({"billing": 1}, "lang:en")


def test_a_silent_reroute_keeps_the_relaxation_clock() -> None:
    """Queued at 0, taken from the billing specialist at 200: the English generalist may serve
    it at once (past drop_topics at 90 s), not 90 s after the re-route."""
    b = board((1, {"billing": 3, "lang:en": 3}, 1), (2, {"lang:en": 3}, 1))
    b.enqueue("c", BILLING_EN, 0, now=0)
    [offer] = b.dispatch(0)
    assert offer.agent_id == 1
    b.accept("c", 1, 1)
    assert b.servable_needs(BILLING_EN, exclude={1})
    b.reroute_silent("c", 200, since=0)
    assert b.dispatch(200) == [Offer("c", 2, 220.0)]
    assert b.snapshot()[0] == [] and b.state_of("c") == "offered"


def test_a_silent_reroute_keeps_earlier_silent_agents_excluded() -> None:
    b = board(*((i, {"lang:en": 3}, 1) for i in (1, 2, 3)))
    b.enqueue("c", Needs({}, "lang:en"), 0, now=0)
    [first] = b.dispatch(0)
    b.accept("c", first.agent_id, 1)
    b.reroute_silent("c", 10, since=0)
    [second] = b.dispatch(10)
    assert second.agent_id != first.agent_id
    b.accept("c", second.agent_id, 11)
    assert not b.servable_needs(Needs({}, "lang:en"), exclude={1, 2, 3})
    b.reroute_silent("c", 20, since=0, excluded={first.agent_id: 130.0})
    [third] = b.dispatch(20)
    assert third.agent_id not in (first.agent_id, second.agent_id)
    waiting = b._offers["c"][1]
    assert dict(waiting.excluded) == {first.agent_id: 130.0, second.agent_id: 140.0}
    assert waiting.enqueued_at == 0 and waiting.head


def test_a_silent_reroute_counts_as_a_missed_offer() -> None:
    """With max_missed_offers 2, a lapsed offer and then a silent re-route set the agent
    away, and their pending offer goes back."""
    b = board((1, {"lang:en": 3}, 3), rules=RoutingRules(max_missed_offers=2))
    b.enqueue("a", Needs({}, "lang:en"), 0, now=0)
    b.enqueue("b", Needs({}, "lang:en"), 0, now=0)
    assert {o.agent_id for o in b.dispatch(0)} == {1}
    b.accept("a", 1, 1)
    assert b.expire(20).expired == (Offer("b", 1, 20.0),)  # missed 1
    b.upsert_agent(2, capacity=1, skills={"lang:en": 3}, now=21, status="online")
    assert b.dispatch(21) == [Offer("b", 2, 41.0)]
    b.enqueue("e", Needs({}, "lang:en"), 0, now=22)
    assert b.dispatch(22) == [Offer("e", 1, 42.0)]
    result = b.reroute_silent("a", 23, since=0)  # missed 2
    assert result == ExpireResult(revoked=(Offer("e", 1, 42.0),), set_away=(1,))
    assert b.agent(1).status == "away"


def test_a_silent_reroute_of_an_unassigned_chat_is_refused() -> None:
    b = board((1, {"lang:en": 3}, 1))
    b.enqueue("c", Needs({}, "lang:en"), 0, now=0)
    with pytest.raises(NotAssigned):
        b.reroute_silent("c", 1, since=0)


def test_an_enqueue_after_a_restart_keeps_its_silent_agents_excluded() -> None:
    b = board(*((i, {"lang:en": 3}, 1) for i in (1, 2)))
    b.enqueue("c", Needs({}, "lang:en"), 0, now=100, since=40, at_head=True,
              excluded={1: 150.0, 2: 90.0})  # 2's exclusion is over
    waiting = b.snapshot()[0][0]
    assert dict(waiting.excluded) == {1: 150.0}
    assert waiting.enqueued_at == 40 and waiting.head
    assert b.dispatch(100) == [Offer("c", 2, 120.0)]
    b.decline("c", 2, 101)
    assert b.dispatch(149) == []  # 1 still excluded, 2 just declined
    assert [o.agent_id for o in b.dispatch(150)] == [1]
