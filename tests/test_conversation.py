"""The pure conversation state machine: every transition, legal and illegal, and the fold."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from chatserver.core import conversation as cv
from chatserver.core.conversation import Conversation, Event, IllegalTransition, State
from chatserver.core.errors import Conflict

LEGAL = {
    (State.BOT, "handoff"): State.QUEUED,
    (State.BOT, "close"): State.CLOSED,
    (State.QUEUED, "offer"): State.OFFERED,
    (State.QUEUED, "close"): State.CLOSED,
    (State.OFFERED, "accept"): State.ASSIGNED,
    (State.OFFERED, "decline"): State.QUEUED,
    (State.OFFERED, "expire"): State.QUEUED,
    (State.OFFERED, "revoke"): State.QUEUED,
    (State.OFFERED, "close"): State.CLOSED,
    (State.ASSIGNED, "requeue"): State.QUEUED,
    (State.ASSIGNED, "transfer"): State.QUEUED,
    (State.ASSIGNED, "close"): State.CLOSED,
}
ACTIONS = sorted({a for _, a in LEGAL})


@pytest.mark.parametrize(("state", "action"), list(itertools.product(State, ACTIONS)))
def test_every_state_and_action(state: State, action: str) -> None:
    if (state, action) in LEGAL:
        assert cv.transition(state, action) is LEGAL[(state, action)]
    else:
        with pytest.raises(IllegalTransition) as error:
            cv.transition(state, action)
        assert isinstance(error.value, Conflict)  # reaches the client as code "conflict"
        assert action in str(error.value) and str(state) in str(error.value)


def test_closed_is_final() -> None:
    for action in ACTIONS:
        with pytest.raises(IllegalTransition):
            cv.transition(State.CLOSED, action)


def test_an_unknown_action_is_a_bug_not_a_conflict() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        cv.transition(State.BOT, "teleport")


@pytest.mark.parametrize(
    ("state", "author", "allowed"),
    [
        (State.BOT, "visitor", True), (State.QUEUED, "visitor", True),
        (State.ASSIGNED, "visitor", True), (State.CLOSED, "visitor", False),
        (State.BOT, "bot", True), (State.QUEUED, "bot", False),
        (State.ASSIGNED, "agent", True), (State.OFFERED, "agent", False),
        (State.QUEUED, "agent", False), (State.CLOSED, "agent", False),
        (State.QUEUED, "system", True), (State.CLOSED, "system", False),
    ],
)
def test_who_may_post_when(state: State, author: str, allowed: bool) -> None:
    assert cv.can_post(state, author) is allowed


def ev(seq: int, kind: str, **payload: object) -> Event:
    return Event("c1", seq, kind, "system", payload, None, 1_700_000_000_000 + seq)


def test_replay_folds_the_log_into_the_projection() -> None:
    log = [
        ev(1, "started", language="fa", topic="billing"),
        ev(2, "message", **{"from": "visitor", "author": "V", "text": "hi"}),
        ev(3, "message", **{"from": "bot", "author": "Bot", "text": "?", "decision": "suggest"}),
        ev(4, "message", **{"from": "bot", "author": "Bot", "text": "?", "decision": "handoff"}),
        ev(5, "queued", skills=["billing"], reason="bot"),
        ev(6, "offered", agent_id=7),
        ev(7, "queued", skills=["billing"], reason="declined"),
        ev(8, "offered", agent_id=8),
        ev(9, "assigned", agent_id=8, agent="Ann"),
        ev(10, "note", author="Ann", text="x"),
        ev(11, "closed", by="agent", resolved=True),
        ev(12, "survey", rating=5),
    ]
    conv = cv.replay("c1", "v1", log)
    assert conv.state is State.CLOSED and conv.last_seq == 12
    assert conv.language == "fa" and conv.topic == "billing"
    assert conv.skills == ("billing",)
    assert conv.agent_id == 8 and conv.participants == frozenset({8})
    assert conv.bot_failures == 2 and conv.resolved is True and conv.surveyed
    assert conv.closed_ms == log[10].ts_ms


def test_a_confident_answer_resets_the_bot_failure_count() -> None:
    conv = cv.replay("c1", "v1", [
        ev(1, "started"),
        ev(2, "message", **{"from": "bot", "author": "Bot", "text": "?", "decision": "suggest"}),
        ev(3, "message", **{"from": "bot", "author": "Bot", "text": "!", "decision": "answer"}),
    ])
    assert conv.bot_failures == 0


def test_a_gap_in_seq_is_refused() -> None:
    with pytest.raises(ValueError, match="does not follow"):
        cv.apply(Conversation("c1", "v1"), ev(2, "started"))


def test_timestamps_are_iso_utc_with_milliseconds() -> None:
    assert cv.iso_ms(1_700_000_000_007) == "2023-11-14T22:13:20.007Z"
    assert cv.iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert cv.iso_ms(951_868_799_999) == "2000-02-29T23:59:59.999Z"  # a leap day's last ms
    for ts_ms in range(0, 4_102_444_800_000, 7_919_999_999):  # 1970-2100, every ~92 days
        moment = datetime.fromtimestamp(ts_ms // 1000, tz=UTC)
        assert cv.iso_ms(ts_ms) == f"{moment:%Y-%m-%dT%H:%M:%S}.{ts_ms % 1000:03d}Z"


def test_visitors_never_see_notes_or_routing_internals() -> None:
    assert {"note", "queued", "offered", "transferred"}.isdisjoint(cv.VISITOR_EVENTS)


def line(seq: int, sender: str, ts: int) -> Event:
    return Event("c1", seq, "message", sender, {"from": sender, "author": "x", "text": "t"},
                 None, ts)


def test_response_time_runs_from_the_first_unanswered_line_or_the_assignment() -> None:
    conv = cv.replay("c1", "v1", [
        Event("c1", 1, "started", "system", {}, None, 0),
        line(2, "visitor", 1_000),  # waiting in the queue: not the agent's time
        Event("c1", 3, "assigned", "agent:1", {"agent_id": 1, "agent": "A"}, None, 5_000),
    ])
    assert cv.response_seconds(conv, line(4, "agent", 8_000)) == 3.0  # 8 s - 5 s
    conv = cv.apply(conv, line(4, "agent", 8_000))
    assert cv.response_seconds(conv, line(5, "agent", 9_000)) is None  # nobody was waiting
    conv = cv.apply(cv.apply(conv, line(5, "visitor", 10_000)), line(6, "visitor", 12_000))
    assert cv.response_seconds(conv, line(7, "agent", 16_000)) == 6.0  # from the first line


def test_after_losing_a_race_lines_survive_a_state_change_but_transitions_do_not() -> None:
    from chatserver.service.journal import still_allowed
    from chatserver.store.store import NewEvent

    offered = Conversation("c1", "v1", state=State.OFFERED, agent_id=7, last_seq=3)
    assigned = Conversation("c1", "v1", state=State.ASSIGNED, agent_id=7, last_seq=4)
    closed = Conversation("c1", "v1", state=State.CLOSED, agent_id=7, last_seq=5)
    other = Conversation("c1", "v1", state=State.ASSIGNED, agent_id=8, last_seq=6)

    def msg(sender: str) -> NewEvent:
        return NewEvent("message", sender, {"from": sender, "author": "x", "text": "t"})

    assert still_allowed([msg("visitor")], offered, assigned)  # the agent accepted meanwhile
    assert not still_allowed([msg("visitor")], assigned, closed)  # closed meanwhile
    assert not still_allowed([msg("agent")], assigned, other)  # transferred to someone else
    assert still_allowed([NewEvent("note", "agent:7", {"author": "x", "text": "n"})],
                         assigned, closed)
    assert not still_allowed([NewEvent("closed", "agent:7", {"by": "agent"})], offered,
                             assigned)
    assert still_allowed([NewEvent("closed", "agent:7", {"by": "agent"})], assigned,
                         assigned.__class__(**{**assigned.__dict__, "last_seq": 9}))


def test_what_a_silent_agent_owes_and_when_the_nudge_is_forgotten() -> None:
    """Issue 16 part 3: the first line is owed from acceptance, later a reply to the first
    unanswered visitor line (never counted from before acceptance); 0 turns a check off."""
    start = [Event("c1", 1, "started", "system", {}, None, 0), line(2, "visitor", 1_000)]
    assert cv.owed_reply(cv.replay("c1", "v1", start), 60_000, 180_000) is None  # not assigned
    conv = cv.replay("c1", "v1", [*start, Event("c1", 3, "assigned", "agent:1",
                                                {"agent_id": 1, "agent": "A"}, None, 5_000)])
    assert cv.owed_reply(conv, 60_000, 180_000) == ("first", 5_000, 60_000)
    assert cv.owed_reply(conv, 0, 180_000) is None
    conv = cv.apply(conv, Event("c1", 4, "silent", "system", {"agent_id": 1}, None, 65_000))
    assert conv.silent_ms == 65_000
    conv = cv.apply(conv, line(5, "agent", 70_000))
    assert (conv.silent_ms, conv.replied_ms) == (None, 70_000)
    assert cv.owed_reply(conv, 60_000, 180_000) is None  # nothing unanswered
    conv = cv.apply(conv, line(6, "visitor", 80_000))
    assert cv.owed_reply(conv, 60_000, 180_000) == ("reply", 80_000, 180_000)
    assert cv.owed_reply(conv, 60_000, 0) is None
    requeued = cv.apply(conv, Event("c1", 7, "queued", "system", {"reason": "silent_agent"},
                                    None, 90_000))
    assert cv.owed_reply(requeued, 60_000, 180_000) is None
