"""The conversation lifecycle as a pure state machine over its event log.

`transition(state, action)` says whether an action is legal and where it leads; `apply(conv,
event)` folds one stored event into the conversation's projection. The service checks, stores
the event, then applies it, so the projection is always what the log says. No I/O, no clock.

    bot ──handoff──▶ queued ──offer──▶ offered ──accept──▶ assigned ──close──▶ closed
                       ▲                  │                    │
                       └─decline/expire/revoke                 │
                       └────────────────requeue (grace over, silent agent) / transfer
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import Conflict


class State(enum.StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class IllegalTransition(Conflict):
    """The action is not allowed in the conversation's current state."""


TRANSITIONS: Mapping[tuple[State, str], State] = {
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

ACTIONS = frozenset(action for _, action in TRANSITIONS)

# Re-queues keep the chat's place in line; any other `queued` starts a new wait.
REQUEUE_REASONS = frozenset({"declined", "offer_expired", "agent_disconnected", "agent_status",
                             "agent_away", "restart"})

# Events a visitor is shown. Notes and routing internals stay with the agents, so a visitor's
# view of seq may skip numbers; resume still works because it asks for everything after a seq.
VISITOR_EVENTS = frozenset({"message", "assigned", "closed"})


def transition(state: State, action: str) -> State:
    """The state `action` leads to from `state`, or IllegalTransition."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}") from None
        raise IllegalTransition(f"cannot {action} a conversation that is {state}") from None


def can_post(state: State, author: str) -> bool:
    """Whether a chat line from `author` ("visitor", "bot", "agent", "system") fits the state."""
    if state is State.CLOSED:
        return False
    if author == "agent":
        return state is State.ASSIGNED
    if author == "bot":
        return state is State.BOT
    return True


@dataclass(frozen=True)
class Event:
    """One row of the append-only log: the truth every projection is read from."""

    conversation_id: str
    seq: int
    type: str
    author: str  # "visitor", "bot", "system" or "agent:<id>"
    payload: Mapping[str, Any]
    client_id: str | None
    ts_ms: int  # server time, milliseconds since the epoch (UTC)

    @property
    def ts(self) -> str:
        return iso_ms(self.ts_ms)


def iso_ms(ts_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, as the protocol states."""
    seconds, millis = divmod(ts_ms, 1000)  # integers: no float rounding of the milliseconds
    # Day arithmetic: the same text as datetime's isoformat in half the time (every frame
    # sent carries one).
    days, second_of_day = divmod(seconds, 86_400)
    hours, rest = divmod(second_of_day, 3600)
    minutes, secs = divmod(rest, 60)
    day = date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
    return f"{day}T{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}Z"


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class Conversation:
    """The projection of one conversation's log, enough to decide what may happen next."""

    id: str
    visitor_id: str
    state: State = State.BOT
    last_seq: int = 0
    agent_id: int | None = None  # the agent offered to or assigned
    language: str = ""
    topic: str = ""
    skills: tuple[str, ...] = ()  # skills asked for at the last hand-off
    priority: int = 0  # routing priority given at the last hand-off
    queued_ms: int | None = None  # when the current wait for a person began
    assigned_ms: int | None = None  # when the current agent took the chat
    waiting_since_ms: int | None = None  # the first visitor line nobody has answered yet
    replied_ms: int | None = None  # the current agent's last line (None: none since accepted)
    silent_ms: int | None = None  # when the current agent was nudged for silence (`silent`)
    bot_failures: int = 0  # bot rounds in a row that ended without a confident answer
    resolved: bool | None = None
    created_ms: int = 0
    closed_ms: int | None = None
    surveyed: bool = False
    participants: frozenset[int] = field(default_factory=frozenset)  # every agent assigned so far
    # Each re-route for silence (`queued`, reason silent_agent): (from_agent, ts_ms, since_ms),
    # since_ms being the relaxation clock the chat kept; the exclusions and the cap come from it.
    silent_reroutes: tuple[tuple[int, int, int], ...] = ()


_FIELDS = frozenset(Conversation.__dataclass_fields__)


def apply(conv: Conversation, event: Event) -> Conversation:
    """Fold one stored event into the projection. Events are in seq order; no gaps."""
    if event.seq != conv.last_seq + 1:
        raise ValueError(f"event seq {event.seq} does not follow {conv.last_seq}")
    p = event.payload
    match event.type:
        case "started":
            return _with(conv, event, language=p.get("language", ""),
                         topic=p.get("topic", ""), created_ms=event.ts_ms)
        case "queued":
            keeps_place = p.get("reason") in REQUEUE_REASONS and conv.queued_ms is not None
            reroutes = conv.silent_reroutes
            if p.get("reason") == "silent_agent" and p.get("from_agent") is not None:
                reroutes += ((p["from_agent"], event.ts_ms, p.get("since_ms", event.ts_ms)),)
            return _with(
                conv, event, state=State.QUEUED, agent_id=None, silent_ms=None,
                silent_reroutes=reroutes,
                skills=tuple(p.get("skills", ())),
                priority=p.get("priority", conv.priority if keeps_place else 0),
                queued_ms=conv.queued_ms if keeps_place else event.ts_ms,
            )
        case "offered":
            return _with(conv, event, state=State.OFFERED, agent_id=p["agent_id"])
        case "assigned":
            agent = p["agent_id"]
            return _with(conv, event, state=State.ASSIGNED, agent_id=agent,
                         participants=conv.participants | {agent}, assigned_ms=event.ts_ms,
                         replied_ms=None, silent_ms=None)
        case "closed":
            return _with(conv, event, state=State.CLOSED, resolved=p.get("resolved"),
                         closed_ms=event.ts_ms)
        case "message" if p.get("from") == "visitor":
            return _with(conv, event, waiting_since_ms=conv.waiting_since_ms or event.ts_ms)
        case "message" if p.get("from") == "agent":
            return _with(conv, event, waiting_since_ms=None, replied_ms=event.ts_ms,
                         silent_ms=None)
        case "silent":
            return _with(conv, event, silent_ms=event.ts_ms)
        case "message" if p.get("from") == "bot":
            failures = conv.bot_failures
            # Small talk and an offer of a person are no failed round: nothing was asked.
            if p.get("decision") == "answer":
                failures = 0
            elif p.get("decision") in ("suggest", "handoff"):
                failures = conv.bot_failures + 1
            return _with(conv, event, bot_failures=failures, waiting_since_ms=None)
        case "survey":
            return _with(conv, event, surveyed=True)
        case "rehomed":  # the visitor proved who they are: the chat is that visitor's now
            return _with(conv, event, visitor_id=p["visitor_id"])
        case _:
            return _with(conv, event)


def _with(conv: Conversation, event: Event, **changes: Any) -> Conversation:
    """A copy of `conv` at `event`'s seq with some fields changed.

    `dataclasses.replace` re-runs `__init__` over all 18 fields; this runs for every stored
    event, so it copies the field dict instead (a third of the cost). The fields are the same
    ones `replace` would accept: an unknown name is a bug, caught here."""
    unknown = changes.keys() - _FIELDS
    if unknown:
        raise TypeError(f"Conversation has no field {sorted(unknown)}")
    copy = object.__new__(Conversation)
    copy.__dict__.update(conv.__dict__, last_seq=event.seq, **changes)
    return copy


def response_seconds(conv: Conversation, event: Event) -> float | None:
    """How long the visitor waited for this agent line (None if nothing was waiting).

    The wait starts at the first unanswered visitor line, or when the agent took the chat if
    that came later: time in the queue is not the agent's (docs/metrics.md, same rule)."""
    if event.type != "message" or event.payload.get("from") != "agent":
        return None
    if conv.waiting_since_ms is None:
        return None
    start = max(conv.waiting_since_ms, conv.assigned_ms or 0)
    return max(0, event.ts_ms - start) / 1000


def owed_reply(conv: Conversation, first_reply_ms: int, reply_ms: int
               ) -> tuple[str, int, int] | None:
    """What an assigned chat's agent owes the visitor: ("first" | "reply", since when, how
    long they may take), or None (nothing owed, or that check is off: its limit is 0).

    The first line is owed from acceptance; after it, a reply to the first visitor line
    nobody has answered, counted from acceptance at the earliest (the queue's time is not
    the agent's, as in `response_seconds`)."""
    if conv.state is not State.ASSIGNED or conv.assigned_ms is None:
        return None
    if conv.replied_ms is None:
        return ("first", conv.assigned_ms, first_reply_ms) if first_reply_ms > 0 else None
    if conv.waiting_since_ms is None or reply_ms <= 0:
        return None
    return ("reply", max(conv.waiting_since_ms, conv.assigned_ms), reply_ms)


def replay(conversation_id: str, visitor_id: str, events: list[Event]) -> Conversation:
    conv = Conversation(conversation_id, visitor_id)
    for event in events:
        conv = apply(conv, event)
    return conv
