"""Per-conversation facts: every definition on a log small enough to work out by hand.

Times in the logs below are seconds after T0; each expected value shows its arithmetic.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatserver.core.conversation import Event
from chatserver.core.metrics import (
    RESPONSE_TIME_BUCKETS_S,
    ConversationFacts,
    EtaCheck,
    Response,
    Survey,
    agent_names,
    conversation_facts,
    facts_from_events,
    seconds,
)

T0 = 1_793_610_000_000  # 2026-11-02 09:00:00 UTC, a Monday


class Log:
    """A conversation log written the way the service writes one, at seconds after T0."""

    def __init__(self, cid: str = "c1", visitor: str = "v1", topic: str = "billing",
                 language: str = "en", at: float = 0.0) -> None:
        self.cid, self.visitor_id = cid, visitor
        self.events: list[Event] = []
        self.add("started", at, "system", language=language, topic=topic,
                 page_url="/", visitor_name="V")

    def add(self, type: str, at: float, who: str, /, **payload: Any) -> Log:
        self.events.append(Event(self.cid, len(self.events) + 1, type, who, payload,
                                 None, T0 + round(at * 1000)))
        return self

    def visitor(self, at: float) -> Log:
        return self.add("message", at, "visitor", author="V", text="?", **{"from": "visitor"})

    def bot(self, at: float, decision: str = "answer") -> Log:
        return self.add("message", at, "bot", author="Bot", text="!", decision=decision,
                        **{"from": "bot"})

    def agent(self, at: float, agent: int) -> Log:
        return self.add("message", at, f"agent:{agent}", author=f"A{agent}", text="!",
                        **{"from": "agent"})

    def queued(self, at: float, reason: str = "asked", skills: tuple[str, ...] = ("billing",),
               author: str = "system") -> Log:
        return self.add("queued", at, author, reason=reason, skills=list(skills),
                        language="en")

    def eta(self, at: float, eta: float | None, position: int = 1) -> Log:
        return self.add("eta", at, "system", eta_seconds=eta, position=position)

    def assigned(self, at: float, agent: int, name: str = "") -> Log:
        self.add("offered", at, "system", agent_id=agent)
        return self.add("assigned", at, f"agent:{agent}", agent_id=agent,
                        agent=name or f"A{agent}")

    def transferred(self, at: float, agent: int, to_skill: str = "tech") -> Log:
        self.add("transferred", at, f"agent:{agent}", from_agent=agent, to_agent=None,
                 to_skill=to_skill, note="")
        return self.queued(at, "transfer", (to_skill,), author=f"agent:{agent}")

    def closed(self, at: float, by: str = "agent", resolved: bool | None = None) -> Log:
        payload: dict[str, Any] = {"by": by}
        if resolved is not None:
            payload["resolved"] = resolved
        return self.add("closed", at, by, **payload)

    def survey(self, at: float, rating: int, nps: int | None = None) -> Log:
        payload: dict[str, Any] = {"rating": rating}
        if nps is not None:
            payload["nps"] = nps
        return self.add("survey", at, "visitor", **payload)

    def facts(self) -> ConversationFacts:
        return conversation_facts(self.events, self.visitor_id)


def test_a_whole_chat_by_hand() -> None:
    f = (Log().visitor(1).bot(2, "handoff")
         .queued(2, "low_confidence", ("billing", "lang:en")).eta(3, 30.0)
         .assigned(20, 7, "Ann")
         .visitor(25).agent(32, 7)
         .visitor(40).visitor(45).agent(70, 7)
         .closed(100, resolved=True).survey(105, 5, 9)).facts()
    assert f.request_reason == "low_confidence" and f.skills == ("billing", "lang:en")
    assert f.queue_wait_s == 18.0  # assigned 20 − request 2
    assert f.first_response_s == 30.0  # first agent line 32 − request 2
    assert f.first_response_after_assign_s == 12.0  # 32 − assigned 20
    # The line at 1 was the bot's to answer (it did, at 2); 25 → 32 = 7; 40 and 45 wait
    # together from the first, 40 → 70 = 30.
    assert f.responses == (Response("7", 7.0), Response("7", 30.0))
    assert f.handle_s == 80.0  # closed 100 − assigned 20
    assert f.eta_checks == (EtaCheck(30.0, 18.0),)  # actual 20 − 2 = 18 against 30
    assert f.eta_checks[0].error_s == -12.0  # 18 − 30: came sooner than promised
    assert f.survey == Survey(5, 9)
    assert (f.resolved, f.closed_by, f.visitor_lines) == (True, "agent", 4)
    assert not f.transferred and not f.answered_without_reply and not f.abandoned
    assert agent_names([f]) == {"7": "Ann"}


def test_no_agent_reply() -> None:
    f = (Log().queued(0).assigned(10, 3).visitor(12).visitor(20)
         .closed(50, by="visitor")).facts()
    assert f.queue_wait_s == 10.0  # 10 − 0: answered in the queue's sense
    assert f.first_response_s is None and f.first_response_after_assign_s is None
    assert f.responses == ()  # the lines at 12 and 20 were never answered
    assert f.answered_without_reply
    assert f.handle_s == 40.0  # 50 − 10
    assert f.resolved is None  # a visitor's close says nothing about resolution


def test_transfer_mid_chat_splits_the_work_between_the_two_agents() -> None:
    f = (Log().queued(0, "asked", ("billing",))
         .assigned(10, 1).agent(15, 1)       # agent 1 greets: no line was waiting
         .visitor(20).agent(26, 1)           # 26 − 20 = 6, agent 1's
         .visitor(30)                        # waits across the transfer
         .transferred(40, 1)
         .assigned(100, 2).visitor(105).agent(110, 2)  # 110 − max(30, 100) = 10, agent 2's
         .visitor(120).agent(124, 2)         # 124 − 120 = 4
         .closed(200, resolved=True).survey(210, 2)).facts()
    assert f.responses == (Response("1", 6.0), Response("2", 10.0), Response("2", 4.0))
    assert f.agents == ("1", "2") and f.transferred
    assert f.skills == ("billing",)  # the request's, not the transfer's ("tech")
    assert f.queue_wait_s == 10.0 and f.first_response_s == 15.0  # 10 − 0; 15 − 0
    assert f.handle_s == 190.0  # 200 − first assigned 10, the 60 s back in queue included

    one, two = f.for_agent("1"), f.for_agent("2")
    assert [r.seconds for r in one.responses] == [6.0]
    assert [r.seconds for r in two.responses] == [10.0, 4.0]
    assert one.handle_s == 30.0  # 40 − 10
    assert two.handle_s == 100.0  # 200 − 100; together 130 = 190 − 60 s queued
    assert one.transferred and not two.transferred  # agent 1 passed it on
    assert one.owns_queue and not two.owns_queue  # agent 1 took it from the queue
    assert one.queue_wait_s == 10.0 and two.queue_wait_s is None
    assert one.first_response_s == 15.0 and two.first_response_s is None
    assert one.first_response_after_assign_s == 5.0  # 15 − 10
    assert two.first_response_after_assign_s == 10.0  # own acceptance 100 → own line 110
    assert not one.owns_outcome and two.owns_outcome  # agent 2 closed it and was rated


def test_a_silent_hold_before_a_transfer_is_the_first_agents() -> None:
    f = (Log().queued(0).assigned(10, 1).visitor(12).transferred(30, 1)
         .assigned(50, 2).agent(55, 2).closed(60)).facts()
    assert f.first_response_after_assign_s == 45.0  # whole chat: 55 − first assigned 10
    assert f.for_agent("2").first_response_after_assign_s == 5.0  # 55 − own 50
    assert f.for_agent("1").answered_without_reply  # held 10..30 and wrote nothing
    assert not f.for_agent("2").answered_without_reply
    assert f.responses == (Response("2", 5.0),)  # 55 − max(12, 50)


def test_survey_twice_counts_the_first() -> None:
    f = (Log().queued(0).assigned(5, 1).closed(60).survey(61, 5, 10).survey(62, 1, 0)).facts()
    assert f.survey == Survey(5, 10)


def test_survey_values_off_the_scale_are_dropped() -> None:
    f = Log().queued(0).assigned(5, 1).closed(60).add("survey", 61, "visitor", rating=9,
                                                       nps=True).facts()
    assert f.survey == Survey(None, None)  # answered, but nothing usable


def test_no_survey() -> None:
    f = Log().queued(0).assigned(5, 1).closed(60).facts()
    assert f.survey is None and f.owns_outcome


def test_timestamps_out_of_order_follow_seq_and_clamp_at_zero() -> None:
    log = (Log().queued(50)   # the clock stepped: queued says 50 …
           .assigned(40, 1)   # … and the later `assigned` says 40
           .visitor(60).agent(55, 1)  # the reply stamped before the line it answers
           .closed(100))
    f = conversation_facts(log.events, "v1")
    assert f.queue_wait_s == 0.0  # 40 − 50 = −10, clamped
    assert f.responses == (Response("1", 0.0),)  # 55 − max(60, 40) = −5, clamped
    assert f.first_response_s == 5.0  # 55 − 50
    assert f.handle_s == 60.0  # 100 − 40
    shuffled = log.events[:]
    random.Random(7).shuffle(shuffled)
    assert conversation_facts(shuffled, "v1") == f  # seq decides the order, not the list


def test_abandoned_in_queue() -> None:
    short = Log().visitor(0).queued(1).closed(4, by="visitor").facts()
    long = Log().queued(0).eta(1, 30.0).closed(90, by="visitor").facts()
    assert short.abandoned and short.abandon_wait_s == 3.0  # 4 − 1
    assert long.abandoned and long.abandon_wait_s == 90.0  # 90 − 0
    assert long.queue_wait_s is None and long.eta_checks == ()  # no answer, no known wait
    assert not long.handled and long.handle_s is None


def test_bot_only_chat() -> None:
    f = Log().visitor(1).bot(2).visitor(10).bot(11).closed(30, by="visitor").facts()
    assert not f.asked and not f.handled and not f.abandoned
    assert f.responses == () and f.queue_wait_s is None and f.handle_s is None
    assert f.visitor_lines == 2


def test_eta_first_per_queue_entry_against_the_next_acceptance() -> None:
    f = (Log().queued(0).eta(1, 60.0).eta(2, 5.0)  # the second ETA of an entry is ignored
         .add("queued", 30, "agent:4", reason="declined", skills=["billing"], language="en")
         .eta(31, 20.0)
         .assigned(50, 1).closed(90)).facts()
    # entry at 0: waited 50 − 0 = 50 against 60; entry at 30: 50 − 30 = 20 against 20.
    assert f.eta_checks == (EtaCheck(60.0, 50.0), EtaCheck(20.0, 20.0))
    assert f.request_reason == "asked" and f.requested_ms == T0  # the decline is a re-queue
    null = Log().queued(0).eta(1, None).eta(2, 9.0).assigned(10, 1).facts()
    assert null.eta_checks == ()  # "no estimate" was the first shown; nothing to score


def test_a_log_queued_only_by_a_requeue_still_asked() -> None:
    f = Log().queued(5, "restart").assigned(15, 1).facts()
    assert f.request_reason == "restart" and f.queue_wait_s == 10.0  # 15 − 5


def test_open_conversation_leaves_a_hold_open() -> None:
    f = Log().queued(0).assigned(10, 1).agent(12, 1).facts()
    assert f.spans[0].end_ms is None and f.spans[0].seconds is None
    assert f.handle_s is None and f.for_agent("1").handle_s is None and not f.closed


def test_facts_from_a_grouped_stream() -> None:
    a = Log("a", "v1").queued(0).assigned(3, 1).closed(9)
    b = Log("b", "v2").closed(2)
    facts = list(facts_from_events(a.events + b.events, {"a": "v1"}))
    assert [(f.conversation_id, f.visitor_id) for f in facts] == [("a", "v1"), ("b", "")]
    with pytest.raises(ValueError, match="not grouped"):
        list(facts_from_events(a.events[:2] + b.events + a.events[2:], {}))
    with pytest.raises(ValueError):
        conversation_facts([], "v1")


def test_seconds_clamps() -> None:
    assert seconds(1000, 3500) == 2.5 and seconds(3500, 1000) == 0.0


def test_buckets_are_increasing() -> None:
    assert list(RESPONSE_TIME_BUCKETS_S) == sorted(set(RESPONSE_TIME_BUCKETS_S))
    assert {30.0, 60.0} <= set(RESPONSE_TIME_BUCKETS_S)  # the usual service-level targets


# --- properties over random logs -------------------------------------------------------------


@st.composite
def logs(draw: st.DrawFn) -> Log:
    """A random walk through the lifecycle, with the clock sometimes stepping back."""
    log, t = Log(), 0.0
    state, agent = "bot", 0
    for _ in range(draw(st.integers(0, 25))):
        t += draw(st.sampled_from([0.0, 1.0, 7.5, 40.0, -3.0]))
        step = draw(st.sampled_from(["visitor", "bot", "queue", "assign", "agent", "move",
                                     "eta", "close", "survey"]))
        if step == "visitor" and state != "closed":
            log.visitor(t)
        elif step == "bot" and state == "bot":
            log.bot(t)
        elif step == "queue" and state == "bot":
            log.queued(t, draw(st.sampled_from(["asked", "low_confidence"])))
            state = "queued"
        elif step == "eta" and state == "queued":
            log.eta(t, draw(st.sampled_from([None, 10.0, 90.0])))
        elif step == "assign" and state == "queued":
            agent = draw(st.integers(1, 3))
            log.assigned(t, agent)
            state = "assigned"
        elif step == "agent" and state == "assigned":
            log.agent(t, agent)
        elif step == "move" and state == "assigned":
            if draw(st.booleans()):
                log.transferred(t, agent)
            else:
                log.queued(t, "agent_left")
            state = "queued"
        elif step == "close" and state != "closed":
            log.closed(t, resolved=draw(st.sampled_from([None, True, False])))
            state = "closed"
        elif step == "survey" and state == "closed":
            log.survey(t, draw(st.integers(1, 5)), draw(st.integers(0, 10)))
    return log


@settings(max_examples=150, deadline=None)
@given(logs(), st.randoms(use_true_random=False))
def test_facts_hold_their_invariants(log: Log, rnd: random.Random) -> None:
    f = log.facts()
    durations = [f.queue_wait_s, f.first_response_s, f.first_response_after_assign_s,
                 f.handle_s, f.abandon_wait_s, *(r.seconds for r in f.responses),
                 *(c.actual_s for c in f.eta_checks)]
    assert all(d >= 0 for d in durations if d is not None)
    assert f.handled == (f.first_assigned_ms is not None)
    assert not (f.abandoned and f.handled)
    # every response is one agent's, and the agents' shares partition them
    assert sum(len(f.for_agent(a).responses) for a in f.agents) == len(f.responses)
    assert sum(f.for_agent(a).owns_queue for a in f.agents) == (1 if f.handled else 0)
    assert sum(f.for_agent(a).owns_outcome for a in f.agents) <= 1
    shuffled = log.events[:]
    rnd.shuffle(shuffled)
    assert conversation_facts(shuffled, "v1") == f


@settings(max_examples=100, deadline=None)
@given(logs())
def test_agent_holds_fit_inside_the_handle_time_when_the_clock_is_steady(log: Log) -> None:
    steady = [Event(e.conversation_id, e.seq, e.type, e.author, e.payload, None, T0 + e.seq)
              for e in log.events]
    f = conversation_facts(steady, "v1")
    if f.handle_s is not None:
        held = sum(f.for_agent(a).handle_s or 0.0 for a in f.agents)
        assert held <= f.handle_s + 1e-9


def test_silent_agents_nudged_and_rerouted_count_against_that_agent() -> None:
    f = (Log().queued(0).assigned(10, 1)
         .add("silent", 70, "system", agent_id=1, turn="first", waited_seconds=60)
         .queued(130, "silent_agent").assigned(131, 2).agent(135, 2).closed(200)).facts()
    assert f.request_reason == "asked" and f.requested_ms == T0  # a re-queue, not a request
    assert f.nudged and f.rerouted_silent and not f.transferred
    assert f.for_agent("1").nudged and f.for_agent("1").rerouted_silent
    assert not f.for_agent("2").nudged and not f.for_agent("2").rerouted_silent
    assert f.for_agent("1").answered_without_reply
