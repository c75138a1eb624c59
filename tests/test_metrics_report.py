"""Aggregations: rates with their denominators, percentiles, breakdowns, FCR, period change.

Expected values are worked out by hand in the comments; times are seconds after T0.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from chatserver.core.metrics import ConversationFacts
from chatserver.core.metrics_report import (
    DAY_MS,
    Change,
    Stats,
    Thresholds,
    breakdown,
    by_agent,
    by_day,
    by_hour,
    by_language,
    by_skill,
    by_topic,
    change,
    describe,
    mark_repeat_contacts,
    percentile,
    period_change,
    summarize,
)
from tests.test_metrics import T0, Log

T = Thresholds(answer_within_s=60.0, short_abandon_s=5.0)


def test_percentile_is_nearest_rank() -> None:
    ten = [float(v) for v in range(10, 0, -1)]  # 10..1, unsorted on purpose
    assert percentile(ten, 90) == 9.0  # ⌈0.90 · 10⌉ = 9th smallest
    assert percentile(ten, 95) == 10.0  # ⌈0.95 · 10⌉ = ⌈9.5⌉ = 10th
    assert percentile(ten, 50) == 5.0  # ⌈5⌉ = 5th; the median below is 5.5
    assert percentile([7.0], 1) == 7.0
    five = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(five, 90) == 50.0  # ⌈4.5⌉ = 5th
    assert percentile(five, 20) == 15.0  # ⌈1.0⌉ = 1st
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 0)


def test_describe() -> None:
    assert describe([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]) == Stats(
        10, 5.5, 5.5, 9.0, 10.0)  # mean 55/10; median (5+6)/2
    assert describe([]) == Stats(0, None, None, None, None)


def queue_day() -> list[ConversationFacts]:
    """Four requests for a person: answered in 20 s and 120 s, abandoned after 3 s and 90 s."""
    return [
        Log("fast").queued(0).assigned(20, 1).agent(25, 1).closed(100).facts(),
        Log("slow").queued(0).assigned(120, 1).agent(130, 1).closed(200).facts(),
        Log("short").queued(0).closed(3, by="visitor").facts(),
        Log("long").queued(0).closed(90, by="visitor").facts(),
    ]


def test_service_level_asa_and_abandonment() -> None:
    s = summarize(queue_day(), T)
    assert (s.asked, s.answered, s.abandoned, s.short_abandoned) == (4, 2, 2, 1)
    assert s.queue_base == 3  # 2 answered + 1 long abandon; the 3 s one is left out
    assert s.service_level == pytest.approx(1 / 3)  # only "fast" (20 ≤ 60) of 3
    assert s.abandon_rate == pytest.approx(1 / 3)  # (2 abandoned − 1 short) / 3
    assert s.asa_s == 70.0  # (20 + 120) / 2
    assert s.first_response.mean == 77.5  # ((25 − 0) + (130 − 0)) / 2 = 155 / 2
    assert s.first_response_after_assign.mean == 7.5  # (5 + 10) / 2
    assert s.handle.mean == 80.0  # (100 − 20 + 200 − 120) / 2
    assert s.containment_base == 4 and s.contained == 0  # all four asked for a person


def test_the_threshold_edges() -> None:
    at_t = Log("a").queued(0).assigned(60, 1).facts()  # exactly T: within
    at_n = Log("b").queued(0).closed(5, by="visitor").facts()  # exactly N: not short
    s = summarize([at_t, at_n], T)
    assert s.short_abandoned == 0 and s.queue_base == 2
    assert s.service_level == 0.5 and s.abandon_rate == 0.5  # 1 of 2 each
    assert summarize([at_t], Thresholds(answer_within_s=59.9)).service_level == 0.0


def test_containment_and_handoff() -> None:
    facts = [
        Log("bot").visitor(1).bot(2).closed(9, by="visitor").facts(),  # contained
        Log("handoff").visitor(1).bot(2, "handoff").queued(2, "low_confidence")
        .closed(30, by="visitor").facts(),  # the bot gave up
        Log("asked").queued(1, "asked").assigned(5, 1).closed(30).facts(),  # no line, but asked
        Log("nobot").queued(1, "no_bot").assigned(5, 1).closed(30).facts(),  # bot never had it
        Log("empty").closed(4, by="visitor").facts(),  # opened and shut: nothing to contain
        Log("open").visitor(1).bot(2).facts(),  # still going: not yet decided
    ]
    s = summarize(facts, T)
    assert (s.containment_base, s.contained) == (3, 1)  # bot, handoff, asked
    assert s.containment_rate == pytest.approx(1 / 3)
    assert s.handoff_rate == pytest.approx(2 / 3)
    assert s.conversations == 6 and s.closed == 5


def test_surveys_csat_nps_and_response_rate() -> None:
    facts = [
        Log("a").queued(0).assigned(5, 1).closed(60).survey(61, 5, 10).survey(62, 1, 0).facts(),
        Log("b").queued(0).assigned(5, 1).closed(60).survey(61, 3, 7).facts(),
        Log("c").queued(0).assigned(5, 1).closed(60).survey(61, 4, 3).facts(),
        Log("d").queued(0).assigned(5, 1).closed(60).facts(),  # no survey
        Log("bot").visitor(1).bot(2).closed(9).survey(10, 1).facts(),  # rated, no person
    ]
    s = summarize(facts, T)
    assert (s.survey_base, s.surveyed) == (4, 3)  # a, b, c of the person-handled a..d
    assert s.survey_response_rate == 0.75
    # ratings 5 (a's first answer only), 3, 4, 1 (the bot's): 4–5 are 2 of 4.
    assert (s.ratings, s.csat) == (4, 0.5)
    # nps 10 (promoter), 7 (passive), 3 (detractor): 100 · (1 − 1) / 3 = 0
    assert (s.nps_answers, s.nps) == (3, 0.0)
    none = summarize([facts[3]], T)
    assert none.csat is None and none.nps is None and none.survey_response_rate == 0.0


def test_transfer_rate_and_per_agent_attribution() -> None:
    moved = (Log("moved").queued(0, skills=("billing", "lang:fa"))
             .assigned(10, 1).visitor(12).agent(16, 1)   # agent 1: 4 s
             .transferred(20, 1).assigned(50, 2).visitor(60).agent(62, 2)  # agent 2: 2 s
             .closed(100, resolved=True).survey(101, 5, 10)).facts()
    plain = (Log("plain", language="fa").queued(0).assigned(30, 2).visitor(31).agent(41, 2)
             .closed(90).facts())  # agent 2: 10 s
    s = summarize([moved, plain], T)
    assert (s.handled, s.transferred, s.transfer_rate) == (2, 1, 0.5)
    assert s.response.count == 3 and s.response.mean == pytest.approx(16 / 3)  # (4+2+10)/3

    agents = breakdown([moved, plain], by_agent, T)
    one, two = agents["1"], agents["2"]
    assert (one.handled, one.transferred, one.transfer_rate) == (1, 1, 1.0)
    assert (two.handled, two.transferred, two.transfer_rate) == (2, 0, 0.0)
    assert one.response.mean == 4.0 and two.response.mean == 6.0  # (2 + 10) / 2
    assert one.handle.mean == 10.0  # 20 − 10
    assert two.handle.mean == 55.0  # (100 − 50 + 90 − 30) / 2
    assert one.asa_s == 10.0  # agent 1 took "moved" from the queue
    assert two.asa_s == 30.0  # only "plain" was agent 2's from the queue
    assert (one.survey_base, two.survey_base, two.csat) == (0, 2, 1.0)  # agent 2 closed both
    assert one.containment_base == 0  # containment is the bot's, never an agent's

    skills = breakdown([moved, plain], by_skill, T)
    assert sorted(skills) == ["billing", "lang:fa"]  # the transfer's "tech" is no request
    assert skills["billing"].conversations == 2 and skills["lang:fa"].conversations == 1
    langs = breakdown([moved, plain], by_language, T)
    assert {k: v.conversations for k, v in langs.items()} == {"en": 1, "fa": 1}


def test_breakdowns_add_up_to_the_whole() -> None:
    facts = [*queue_day(), Log("x", topic="").visitor(1).bot(2).closed(5).facts()]
    topics = breakdown(facts, by_topic, T)
    assert {k: v.conversations for k, v in topics.items()} == {"": 1, "billing": 4}
    assert sum(v.asked for v in topics.values()) == summarize(facts, T).asked


def test_hour_and_day_in_a_time_zone() -> None:
    # T0 is 09:00 UTC on 2 Nov 2026; 14.5 h later is 23:30 UTC.
    late = Log("late", at=14.5 * 3600).closed(14.5 * 3600 + 60).facts()
    assert list(breakdown([late], by_hour())) == [23]
    assert list(breakdown([late], by_day())) == [date(2026, 11, 2)]
    # New York is UTC−5 in November (DST ended 1 Nov): 18:30 the same day.
    assert list(breakdown([late], by_hour(ZoneInfo("America/New_York")))) == [18]
    # Tokyo is UTC+9: 08:30 the next day.
    tokyo = ZoneInfo("Asia/Tokyo")
    assert list(breakdown([late], by_hour(tokyo))) == [8]
    assert list(breakdown([late], by_day(tokyo))) == [date(2026, 11, 3)]
    hours = [Log(f"h{h}", at=h * 3600 - 9 * 3600).facts() for h in (10, 2, 23)]
    assert list(breakdown(hours, by_hour())) == [2, 10, 23]  # numeric order, not "10" < "2"


def test_eta_error() -> None:
    facts = [
        Log("a").queued(0).eta(1, 60.0).assigned(50, 1).facts(),  # 50 − 60 = −10
        Log("b").queued(0).eta(1, 20.0).assigned(30, 1).facts(),  # 30 − 20 = +10
        Log("c").queued(0).eta(1, 10.0).assigned(40, 1).facts(),  # 40 − 10 = +30
        Log("d").queued(0).eta(1, 10.0).closed(40, by="visitor").facts(),  # abandoned: no wait
    ]
    s = summarize(facts, T)
    assert s.eta.count == 3
    assert s.eta.mean == pytest.approx(50 / 3)  # (10 + 10 + 30) / 3 absolute
    assert s.eta_bias_s == pytest.approx(10.0)  # (−10 + 10 + 30) / 3: we promise too short


def handled(cid: str, visitor: str, topic: str, day: float, resolved: bool | None = True
            ) -> ConversationFacts:
    start = day * 86_400
    return (Log(cid, visitor, topic, at=start).queued(start).assigned(start + 10, 1)
            .closed(start + 100, resolved=resolved).facts())


def test_first_contact_resolution_with_a_returning_visitor() -> None:
    facts = [
        handled("a", "v1", "billing", 0),    # v1 is back on billing 3 days later: repeat
        handled("b", "v1", "billing", 3),    # resolved, nothing after: first-contact
        handled("c", "v1", "shipping", 1),   # another topic: not a repeat of "a"
        handled("d", "v2", "billing", 0, resolved=False),  # not resolved
        handled("e", "v3", "billing", 0),
        handled("f", "v3", "billing", 9),    # 9 days after "e" closed: outside 7 days
        handled("g", "v4", "billing", 28),   # closed 2 days before as-of: window still open
        handled("h", "", "billing", 0),      # unknown visitor: never judged
        handled("i", "", "billing", 1),
    ]
    marked = {f.conversation_id: f for f in
              mark_repeat_contacts(facts, window_days=7, as_of_ms=T0 + 30 * DAY_MS)}
    assert marked["a"].repeat_contact is True
    assert [marked[c].repeat_contact for c in "bcdef"] == [False] * 5
    assert marked["g"].repeat_contact is None and marked["h"].repeat_contact is None
    s = summarize(marked.values(), T)
    # judged: a b c d e f = 6; first-contact: b c e f (a repeated, d unresolved) = 4
    assert (s.fcr_base, s.first_contact_resolved) == (6, 4)
    assert s.fcr_rate == pytest.approx(4 / 6)
    assert summarize(facts, T).fcr_rate is None  # not marked: not guessed


def test_a_repeat_found_before_the_window_closes_is_already_known() -> None:
    facts = [handled("a", "v1", "billing", 0), handled("b", "v1", "billing", 1)]
    marked = mark_repeat_contacts(facts, window_days=7, as_of_ms=T0 + 2 * DAY_MS)
    assert [f.repeat_contact for f in marked] == [True, None]


def test_change_from_the_previous_period() -> None:
    week = 7 * DAY_MS
    facts = [
        handled("old1", "v1", "billing", 1), handled("old2", "v2", "billing", 2),  # before
        handled("new", "v3", "billing", 8),                                          # current
        handled("far", "v4", "billing", 20),                                         # neither
    ]
    delta = period_change(facts, T0 + week, T0 + 2 * week, T)
    assert delta["conversations"] == Change(1, 2)
    assert delta["conversations"].delta == -1 and delta["conversations"].relative == -0.5
    assert delta["asa_s"] == Change(10.0, 10.0) and delta["asa_s"].relative == 0.0
    assert delta["queue_wait.p95"].delta == 0.0
    assert delta["nps"].delta is None  # no answers either side
    assert Change(3.0, 0.0).relative is None  # from zero: no "infinitely better"
    same = summarize(facts, T)
    assert all(c.delta in (0, None) for c in change(same, same).values())
