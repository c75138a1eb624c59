"""Per-conversation facts read once from the event log: the ground every metric stands on.

`conversation_facts(events, visitor_id)` folds one log into a `ConversationFacts`; the
aggregations in `metrics_report` only ever read facts, so a year of events is one pass over the
log and then cheap sums. Every duration is defined here, once. Pure: no I/O, no clock.

Ordering rule: events are put in `seq` order (the order things happened as the store saw them);
durations are differences of `ts_ms` (the server clock), clamped at 0 so that a clock step
between two appends never yields a negative wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .conversation import Event
from .labels import fold as fold_labels

# `queued` reasons that put an already-requested chat back in the queue; every other reason
# (asked, no_bot, and the bot's open-ended reasons) is the visitor's request for a person.
REQUEUE_REASONS = frozenset({
    "declined", "offer_expired", "agent_disconnected", "agent_status", "agent_away",
    "agent_left", "transfer", "restart", "silent_agent",
})

# Upper bounds (seconds) for Prometheus histograms of agent response and first-response times.
# Dense from 5 to 120 s, where chat service targets are set (30 s and 60 s are the usual T), so
# that a service level at any of those T reads exactly off one bucket rather than through
# histogram_quantile's linear interpolation; then a sparse tail for slow replies up to 30 min,
# past which a visitor has usually left. 12 bounds keep the series count low per label set.
RESPONSE_TIME_BUCKETS_S: tuple[float, ...] = (
    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0, 1800.0,
)
# Handle times are minutes, not seconds: 1 min to 2 h, roughly doubling.
HANDLE_TIME_BUCKETS_S: tuple[float, ...] = (
    60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 7200.0,
)


def seconds(start_ms: int, end_ms: int) -> float:
    """end − start in seconds, clamped at 0: a clock stepping back is no negative wait."""
    return max(0, end_ms - start_ms) / 1000


@dataclass(frozen=True, slots=True)
class Response:
    """One agent reply to a waiting visitor line, attributed to the agent who wrote it."""

    agent_id: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Span:
    """One agent's hold on the chat: from `assigned` to transfer, re-queue or close."""

    agent_id: str
    start_ms: int
    end_ms: int | None  # None: still held when the log ends
    ended_by: str  # "closed", "transfer", "silent" (re-routed), "requeue", or "" while held
    first_reply_ms: int | None  # the agent's first chat line within this hold

    @property
    def seconds(self) -> float | None:
        return None if self.end_ms is None else seconds(self.start_ms, self.end_ms)


@dataclass(frozen=True, slots=True)
class EtaCheck:
    """The first ETA shown for one queue entry against the wait that followed it."""

    eta_s: float
    actual_s: float  # queue entry → next `assigned`

    @property
    def error_s(self) -> float:
        """Positive: the visitor waited longer than promised."""
        return self.actual_s - self.eta_s


@dataclass(frozen=True, slots=True)
class Survey:
    """The first survey answer; a value outside its scale is kept as None, not guessed."""

    rating: int | None  # 1..5
    nps: int | None  # 0..10


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """What one conversation's log says, read once; every metric is a function of these.

    `agent_view` narrows the facts to one agent's share (see `for_agent`): the properties then
    answer for that agent alone, so the same aggregation code serves a whole desk or one agent.
    """

    conversation_id: str
    visitor_id: str
    started_ms: int
    language: str
    topic: str
    skills: tuple[str, ...]  # asked for by the request for a person
    visitor_lines: int
    request_reason: str | None  # None: never queued for a person
    requested_ms: int | None
    first_assigned_ms: int | None
    first_reply_ms: int | None  # first agent chat line
    first_responder: str | None
    closed_ms: int | None
    closed_by: str | None  # "visitor", "agent" or "system"
    resolved: bool | None
    spans: tuple[Span, ...]
    all_responses: tuple[Response, ...]
    eta_checks: tuple[EtaCheck, ...]
    survey: Survey | None
    agent_names: tuple[tuple[str, str], ...]  # (agent id, display name) as last assigned
    silences: tuple[str, ...] = ()  # the agent of each `silent` event (nudged for silence)
    labels: tuple[str, ...] = ()  # label ids on the chat at the end of its log (`label` events)
    repeat_contact: bool | None = None  # set by `mark_repeat_contacts`; None: not yet known
    agent_view: str | None = None

    # --- who answers for what -------------------------------------------------------------

    def for_agent(self, agent_id: str) -> ConversationFacts:
        """These facts as one agent's share: their replies, holds, transfers out, and the
        queue or outcome only when theirs (first to accept; holding the chat at the close)."""
        return replace(self, agent_view=agent_id)

    @property
    def agents(self) -> tuple[str, ...]:
        """Every agent who accepted the chat, in order of first acceptance."""
        return tuple(dict.fromkeys(s.agent_id for s in self.spans))

    @property
    def owns_queue(self) -> bool:
        """Queue wait, service level and ETA belong to the agent who first accepted."""
        if self.agent_view is None:
            return True
        return bool(self.spans) and self.spans[0].agent_id == self.agent_view

    @property
    def owns_outcome(self) -> bool:
        """Resolution and survey belong to whoever held the chat when it closed."""
        if self.agent_view is None:
            return True
        last = self.spans[-1] if self.spans else None
        return last is not None and last.agent_id == self.agent_view and last.ended_by == "closed"

    # --- the per-conversation definitions -------------------------------------------------

    @property
    def asked(self) -> bool:
        return self.request_reason is not None

    @property
    def handled(self) -> bool:
        """A person accepted the chat at least once."""
        return bool(self.spans)

    @property
    def closed(self) -> bool:
        return self.closed_ms is not None

    @property
    def abandoned(self) -> bool:
        """Asked for a person, then closed before anyone accepted."""
        return self.asked and self.closed and not self.handled

    @property
    def abandon_wait_s(self) -> float | None:
        """How long an abandoned chat waited: request → close."""
        if not self.abandoned or self.requested_ms is None or self.closed_ms is None:
            return None
        return seconds(self.requested_ms, self.closed_ms)

    @property
    def queue_wait_s(self) -> float | None:
        """Request for a person → first `assigned` (the speed of answer); None if unanswered."""
        if self.requested_ms is None or self.first_assigned_ms is None or not self.owns_queue:
            return None
        return seconds(self.requested_ms, self.first_assigned_ms)

    @property
    def first_response_s(self) -> float | None:
        """Request for a person → first agent chat line; credited to the agent who wrote it."""
        if self.requested_ms is None or self.first_reply_ms is None:
            return None
        if self.agent_view is not None and self.first_responder != self.agent_view:
            return None
        return seconds(self.requested_ms, self.first_reply_ms)

    @property
    def first_response_after_assign_s(self) -> float | None:
        """First `assigned` → first agent chat line; for one agent, their own acceptance →
        their own first line, so a colleague's silent hold before a transfer is not theirs."""
        if self.agent_view is None:
            if self.first_assigned_ms is None or self.first_reply_ms is None:
                return None
            return seconds(self.first_assigned_ms, self.first_reply_ms)
        for span in self.spans:
            if span.agent_id == self.agent_view and span.first_reply_ms is not None:
                return seconds(span.start_ms, span.first_reply_ms)
        return None

    @property
    def responses(self) -> tuple[Response, ...]:
        if self.agent_view is None:
            return self.all_responses
        return tuple(r for r in self.all_responses if r.agent_id == self.agent_view)

    @property
    def handle_s(self) -> float | None:
        """First `assigned` → `closed`; for one agent, the sum of their holds (None while any
        of them is still open), so a transferred chat's time is split, not counted twice."""
        if self.agent_view is None:
            if self.first_assigned_ms is None or self.closed_ms is None:
                return None
            return seconds(self.first_assigned_ms, self.closed_ms)
        mine = [s.seconds for s in self.spans if s.agent_id == self.agent_view]
        if not mine or any(s is None for s in mine):
            return None
        return sum(s for s in mine if s is not None)

    @property
    def transferred(self) -> bool:
        """Passed on by a person at least once (for one agent: passed on by them)."""
        return any(s.ended_by == "transfer" for s in self.spans
                   if self.agent_view is None or s.agent_id == self.agent_view)

    @property
    def nudged(self) -> bool:
        """An agent was nudged for keeping the visitor waiting (for one agent: they were)."""
        return any(self.agent_view is None or a == self.agent_view for a in self.silences)

    @property
    def rerouted_silent(self) -> bool:
        """Taken from a silent agent and offered to another (for one agent: from them)."""
        return any(s.ended_by == "silent" for s in self.spans
                   if self.agent_view is None or s.agent_id == self.agent_view)

    @property
    def answered_without_reply(self) -> bool:
        """Closed after a person accepted it, with no agent line ever written (for one agent:
        none by them while they held it)."""
        if not (self.handled and self.closed):
            return False
        if self.agent_view is None:
            return self.first_reply_ms is None
        return all(s.first_reply_ms is None for s in self.spans if s.agent_id == self.agent_view)


def _agent_id(event: Event) -> str:
    """The agent an event is by: `assigned` names them in its payload, other events by author."""
    agent = event.payload.get("agent_id")
    if agent is not None:
        return str(agent)
    return event.author.removeprefix("agent:")


def _survey(payload: Mapping[str, Any]) -> Survey:
    def score(key: str, low: int, high: int) -> int | None:
        value = payload.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return value if ok else None
    return Survey(score("rating", 1, 5), score("nps", 0, 10))


def conversation_facts(events: Iterable[Event], visitor_id: str) -> ConversationFacts:
    """Fold one conversation's log (any order; sorted by seq here) into its facts."""
    log = sorted(events, key=lambda e: e.seq)
    if not log:
        raise ValueError("a conversation log has at least its `started` event")
    cid = log[0].conversation_id
    started_ms, language, topic = log[0].ts_ms, "", ""
    skills: tuple[str, ...] = ()
    first_queued: tuple[str, int, tuple[str, ...]] | None = None
    request_reason: str | None = None
    requested_ms = first_assigned_ms = first_reply_ms = closed_ms = None
    first_responder = closed_by = None
    resolved: bool | None = None
    survey: Survey | None = None
    visitor_lines = 0
    spans: list[Span] = []
    holder: Span | None = None  # the open hold, appended to `spans` when it ends
    responses: list[Response] = []
    waiting_since: int | None = None  # ts of the first visitor line no one has answered yet
    entry_ms: int | None = None  # ts of the current queue entry
    entry_has_eta = False
    pending_etas: list[tuple[float, int]] = []  # (eta, entry ts) awaiting the next `assigned`
    etas: list[EtaCheck] = []
    names: dict[str, str] = {}
    silences: list[str] = []
    label_changes: list[Mapping[str, Any]] = []  # `label` payloads, folded at the end

    def release(ts_ms: int, why: str) -> None:
        nonlocal holder
        if holder is not None:
            spans.append(replace(holder, end_ms=ts_ms, ended_by=why))
            holder = None

    for e in log:
        if e.conversation_id != cid:
            raise ValueError(f"events of {e.conversation_id} in the log of {cid}")
        p, ts = e.payload, e.ts_ms
        match e.type:
            case "started":
                started_ms = ts
                language, topic = str(p.get("language", "")), str(p.get("topic", ""))
            case "queued":
                reason = str(p.get("reason", ""))
                if first_queued is None:
                    first_queued = (reason, ts, tuple(p.get("skills", ())))
                if request_reason is None and reason not in REQUEUE_REASONS:
                    request_reason, requested_ms = reason, ts
                    skills = tuple(p.get("skills", ()))
                release(ts, {"transfer": "transfer", "silent_agent": "silent"}.get(reason,
                                                                                  "requeue"))
                entry_ms, entry_has_eta = ts, False
            case "eta":
                eta = p.get("eta_seconds")
                if eta is not None and entry_ms is not None and not entry_has_eta:
                    pending_etas.append((float(eta), entry_ms))
                entry_has_eta = True  # a null ETA was still the first one shown
            case "assigned":
                release(ts, "requeue")  # never in a real log: assigned follows a queue entry
                agent = _agent_id(e)
                names[agent] = str(p.get("agent", agent))
                holder = Span(agent, ts, None, "", None)
                if first_assigned_ms is None:
                    first_assigned_ms = ts
                etas.extend(EtaCheck(eta, seconds(entry, ts)) for eta, entry in pending_etas)
                pending_etas.clear()
            case "transferred":
                release(ts, "transfer")
            case "silent":
                silences.append(_agent_id(e))
            case "message":
                sender = p.get("from")
                if sender == "visitor":
                    visitor_lines += 1
                    if waiting_since is None:
                        waiting_since = ts
                elif sender == "bot":
                    waiting_since = None  # the bot answered it; no person was expected to
                elif sender == "agent" or e.author.startswith("agent:"):
                    agent = _agent_id(e)
                    if first_reply_ms is None:
                        first_reply_ms, first_responder = ts, agent
                    if holder is not None and holder.first_reply_ms is None:
                        holder = replace(holder, first_reply_ms=ts)
                    if waiting_since is not None:
                        # The clock runs only while a line waits AND a person holds the chat:
                        # time spent queued is the queue's, measured by queue wait and TTFR.
                        start = waiting_since if holder is None else max(
                            waiting_since, holder.start_ms)
                        responses.append(Response(agent, seconds(start, ts)))
                        waiting_since = None
            case "closed":
                if closed_ms is None:
                    closed_ms, closed_by = ts, str(p.get("by", "")).split(":")[0]
                    resolved = p.get("resolved")
                    release(ts, "closed")
            case "survey":
                if survey is None:  # a second answer is a duplicate, not a change of mind
                    survey = _survey(p)
            case "label":
                label_changes.append(p)
            case _:
                pass  # offered, note, and any future type: no metric reads them
    if holder is not None:
        spans.append(holder)
    if request_reason is None and first_queued is not None:
        # Only a truncated or hand-built log is queued by a re-queue alone; it still waited.
        request_reason, requested_ms, skills = first_queued
    return ConversationFacts(
        conversation_id=cid, visitor_id=visitor_id, started_ms=started_ms,
        language=language, topic=topic, skills=skills, visitor_lines=visitor_lines,
        request_reason=request_reason, requested_ms=requested_ms,
        first_assigned_ms=first_assigned_ms, first_reply_ms=first_reply_ms,
        first_responder=first_responder, closed_ms=closed_ms, closed_by=closed_by,
        resolved=resolved if isinstance(resolved, bool) else None, spans=tuple(spans),
        all_responses=tuple(responses), eta_checks=tuple(etas), survey=survey,
        agent_names=tuple(names.items()), silences=tuple(silences),
        labels=tuple(str(label) for label in fold_labels(label_changes)) if label_changes
        else (),
    )


def facts_from_events(
    events: Iterable[Event], visitor_ids: Mapping[str, str]
) -> Iterator[ConversationFacts]:
    """Facts for a stream grouped by conversation (`ORDER BY conversation_id, seq`), holding
    one conversation in memory at a time; an interleaved stream is an error, not a slow path."""
    done: set[str] = set()
    group: list[Event] = []
    for event in events:
        if group and event.conversation_id != group[0].conversation_id:
            done.add(group[0].conversation_id)
            yield conversation_facts(group, visitor_ids.get(group[0].conversation_id, ""))
            group = []
        if event.conversation_id in done:
            raise ValueError(f"events of {event.conversation_id} are not grouped together")
        group.append(event)
    if group:
        yield conversation_facts(group, visitor_ids.get(group[0].conversation_id, ""))


def agent_names(facts: Sequence[ConversationFacts]) -> dict[str, str]:
    """Agent id → display name, the latest seen wins (names can be edited)."""
    names: dict[str, str] = {}
    for f in sorted(facts, key=lambda f: f.started_ms):
        names.update(f.agent_names)
    return names
