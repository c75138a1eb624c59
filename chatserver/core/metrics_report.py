"""Aggregations over `ConversationFacts`: one summary, the same by any key, change over periods.

Facts are computed once per conversation (`metrics.conversation_facts`); everything here is a
single pass over facts that keeps counts and the durations percentiles need. A breakdown is a
`Split` that names the key(s) a conversation falls under, so a new breakdown is one function.
Rates are fractions in 0..1; NPS is points in −100..100. A rate with nothing to count is None.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, tzinfo
from typing import TypeVar

from .metrics import ConversationFacts

K = TypeVar("K", bound=Hashable)
Split = Callable[[ConversationFacts], Iterable[tuple[K, ConversationFacts]]]


@dataclass(frozen=True)
class Thresholds:
    """The contact-centre targets a report is measured against; the desk's to choose."""

    answer_within_s: float = 60.0  # service level T: chat targets sit between 30 s and 60 s
    short_abandon_s: float = 5.0  # under this a visitor left before the queue was a wait


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the ⌈p/100 · n⌉-th smallest value. Always a value that was observed, so
    "p95 = 42 s" means some visitor waited 42 s; the usual method of SLA reports."""
    if not values:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError("p is in (0, 100]")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class Stats:
    """Count, mean, median (the middle value, or the mean of the two middle ones) and
    nearest-rank p90 and p95 of a set of durations in seconds; None when there are none."""

    count: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None
    p95: float | None = None


def describe(values: Iterable[float]) -> Stats:
    data = sorted(values)
    if not data:
        return Stats()
    return Stats(len(data), statistics.fmean(data), statistics.median(data),
                 percentile(data, 90), percentile(data, 95))


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Summary:
    """Every headline number for one set of conversations (see docs/metrics.md)."""

    conversations: int
    closed: int
    # the queue
    asked: int  # requested a person (request, not re-queues)
    answered: int  # ... and a person accepted
    abandoned: int  # ... and closed before any acceptance, short ones included
    short_abandoned: int
    queue_base: int  # answered + abandoned after at least short_abandon_s
    service_level: float | None  # answered within T / queue_base
    abandon_rate: float | None  # (abandoned − short_abandoned) / queue_base
    queue_wait: Stats  # its mean is the ASA
    # people
    handled: int
    first_response: Stats
    first_response_after_assign: Stats
    response: Stats
    handle: Stats
    answered_without_reply: int
    transferred: int
    transfer_rate: float | None  # transferred / handled
    nudged: int  # handled chats whose agent was nudged for silence
    rerouted_silent: int  # ... and taken from them for it
    # the bot
    containment_base: int
    contained: int
    containment_rate: float | None
    handoff_rate: float | None
    # outcome
    fcr_base: int
    first_contact_resolved: int
    fcr_rate: float | None
    survey_base: int  # closed, a person handled it
    surveyed: int
    survey_response_rate: float | None
    ratings: int
    csat: float | None  # share of ratings 4–5
    nps_answers: int
    nps: float | None  # % promoters (9–10) − % detractors (0–6)
    # the ETA shown in the queue
    eta: Stats  # of |actual − ETA|; its mean is the mean absolute error
    eta_bias_s: float | None  # mean(actual − ETA): positive means we promise too short

    @property
    def asa_s(self) -> float | None:
        """Average speed of answer: mean request → first acceptance."""
        return self.queue_wait.mean

    def as_dict(self) -> dict[str, float | None]:
        """Flat name → number, Stats as `queue_wait.p90` etc.; what `change` compares."""
        out: dict[str, float | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Stats):
                out.update({f"{f.name}.{s.name}": getattr(value, s.name) for s in fields(value)})
            else:
                out[f.name] = value
        out["asa_s"] = self.asa_s
        return out


@dataclass
class _Tally:
    """Running counts for one key; `summary` turns them into rates and Stats."""

    t: Thresholds
    n: dict[str, int] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)
    eta_errors: list[float] = field(default_factory=list)

    def count(self, name: str, yes: bool = True) -> None:
        if yes:
            self.n[name] = self.n.get(name, 0) + 1

    def keep(self, name: str, value: float | None) -> None:
        if value is not None:
            self.durations.setdefault(name, []).append(value)

    def add(self, f: ConversationFacts) -> None:
        self.count("conversations")
        self.count("closed", f.closed)
        if f.asked and f.owns_queue:
            self.count("asked")
            wait = f.queue_wait_s
            abandon = f.abandon_wait_s
            short = abandon is not None and abandon < self.t.short_abandon_s
            self.count("answered", wait is not None)
            self.count("abandoned", f.abandoned)
            self.count("short_abandoned", short)
            self.count("queue_base", wait is not None or (f.abandoned and not short))
            self.count("within", wait is not None and wait <= self.t.answer_within_s)
            self.keep("queue_wait", wait)
            self.eta_errors.extend(c.error_s for c in f.eta_checks)
        if f.handled:
            self.count("handled")
            self.count("transferred", f.transferred)
            self.count("nudged", f.nudged)
            self.count("rerouted_silent", f.rerouted_silent)
            self.count("answered_without_reply", f.answered_without_reply)
        self.keep("first_response", f.first_response_s)
        self.keep("first_response_after_assign", f.first_response_after_assign_s)
        self.keep("handle", f.handle_s)
        self.durations.setdefault("response", []).extend(r.seconds for r in f.responses)
        if (f.agent_view is None and f.closed and f.request_reason != "no_bot"
                and (f.visitor_lines or f.asked)):  # an empty chat contained nothing
            self.count("containment_base")
            self.count("contained", not f.asked)
        if f.handled and f.closed and f.owns_outcome:
            self.count("survey_base")
            self.count("surveyed", f.survey is not None)
            if f.repeat_contact is not None:
                self.count("fcr_base")
                self.count("fcr", f.resolved is True and not f.repeat_contact)
        if f.survey is not None and f.owns_outcome:
            if f.survey.rating is not None:
                self.count("ratings")
                self.count("satisfied", f.survey.rating >= 4)
            if f.survey.nps is not None:
                self.count("nps_answers")
                self.count("promoters", f.survey.nps >= 9)
                self.count("detractors", f.survey.nps <= 6)

    def summary(self) -> Summary:
        n = self.n.get
        stats = {k: describe(v) for k, v in self.durations.items()}
        nps_n = n("nps_answers", 0)
        contained, base = n("contained", 0), n("containment_base", 0)
        return Summary(
            conversations=n("conversations", 0), closed=n("closed", 0),
            asked=n("asked", 0), answered=n("answered", 0), abandoned=n("abandoned", 0),
            short_abandoned=n("short_abandoned", 0), queue_base=n("queue_base", 0),
            service_level=_rate(n("within", 0), n("queue_base", 0)),
            abandon_rate=_rate(n("abandoned", 0) - n("short_abandoned", 0), n("queue_base", 0)),
            queue_wait=stats.get("queue_wait", Stats()),
            handled=n("handled", 0),
            first_response=stats.get("first_response", Stats()),
            first_response_after_assign=stats.get("first_response_after_assign", Stats()),
            response=stats.get("response", Stats()), handle=stats.get("handle", Stats()),
            answered_without_reply=n("answered_without_reply", 0),
            transferred=n("transferred", 0),
            transfer_rate=_rate(n("transferred", 0), n("handled", 0)),
            nudged=n("nudged", 0), rerouted_silent=n("rerouted_silent", 0),
            containment_base=base, contained=contained,
            containment_rate=_rate(contained, base),
            handoff_rate=_rate(base - contained, base),
            fcr_base=n("fcr_base", 0), first_contact_resolved=n("fcr", 0),
            fcr_rate=_rate(n("fcr", 0), n("fcr_base", 0)),
            survey_base=n("survey_base", 0), surveyed=n("surveyed", 0),
            survey_response_rate=_rate(n("surveyed", 0), n("survey_base", 0)),
            ratings=n("ratings", 0), csat=_rate(n("satisfied", 0), n("ratings", 0)),
            nps_answers=nps_n,
            nps=(100 * (n("promoters", 0) - n("detractors", 0)) / nps_n) if nps_n else None,
            eta=describe(abs(e) for e in self.eta_errors),
            eta_bias_s=statistics.fmean(self.eta_errors) if self.eta_errors else None,
        )


def summarize(facts: Iterable[ConversationFacts], t: Thresholds = Thresholds()) -> Summary:
    tally = _Tally(t)
    for f in facts:
        tally.add(f)
    return tally.summary()


def breakdown(
    facts: Iterable[ConversationFacts], split: Split[K], t: Thresholds = Thresholds()
) -> dict[K, Summary]:
    """One Summary per key, in one pass; a chat under several keys counts in each."""
    tallies: dict[K, _Tally] = {}
    for f in facts:
        for key, share in split(f):
            tally = tallies.get(key)
            if tally is None:
                tally = tallies[key] = _Tally(t)
            tally.add(share)
    try:
        keys = sorted(tallies)  # type: ignore[type-var]  # hours, days, names: all orderable
    except TypeError:  # a split mixing key types still gets a stable order
        keys = sorted(tallies, key=repr)
    return {key: tallies[key].summary() for key in keys}


DAY_MS = 86_400_000


def mark_repeat_contacts(
    facts: Iterable[ConversationFacts], *, window_days: float, as_of_ms: int
) -> list[ConversationFacts]:
    """Set `repeat_contact`: did the same visitor start a chat on the same topic within
    `window_days` of this one closing? None while the window is still open at `as_of_ms`,
    for open chats, and for unknown visitors ("" never matches another "")."""
    window = round(window_days * DAY_MS)
    ordered = sorted(facts, key=lambda f: (f.visitor_id, f.topic, f.started_ms,
                                           f.conversation_id))
    out: list[ConversationFacts] = []
    for i, f in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        same = (nxt is not None and f.visitor_id != ""
                and (nxt.visitor_id, nxt.topic) == (f.visitor_id, f.topic))
        repeat: bool | None
        if f.closed_ms is None or f.visitor_id == "":
            repeat = None
        elif same and nxt is not None and nxt.started_ms <= f.closed_ms + window:
            repeat = True
        elif f.closed_ms + window > as_of_ms:
            repeat = None  # a repeat may still come
        else:
            repeat = False
        out.append(replace(f, repeat_contact=repeat))
    return out


# --- splits: which key(s) a conversation falls under ------------------------------------------


def by_agent(f: ConversationFacts) -> Iterable[tuple[str, ConversationFacts]]:
    """Each agent who accepted the chat, with only their share (`ConversationFacts.for_agent`);
    chats no person accepted fall under no agent."""
    return [(agent, f.for_agent(agent)) for agent in f.agents]


def by_skill(f: ConversationFacts) -> Iterable[tuple[str, ConversationFacts]]:
    """Each skill the request for a person asked for (topic skill and language alike)."""
    return [(skill, f) for skill in dict.fromkeys(f.skills)]


def by_topic(f: ConversationFacts) -> Iterable[tuple[str, ConversationFacts]]:
    return [(f.topic, f)]


def by_language(f: ConversationFacts) -> Iterable[tuple[str, ConversationFacts]]:
    return [(f.language, f)]


def _local(ts_ms: int, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(tz)


def by_hour(tz: tzinfo = UTC) -> Split[int]:
    """Hour of day (0–23) the chat started, on the desk's wall clock (e.g. a ZoneInfo)."""
    def split(f: ConversationFacts) -> Iterable[tuple[int, ConversationFacts]]:
        return [(_local(f.started_ms, tz).hour, f)]
    return split


def by_day(tz: tzinfo = UTC) -> Split[date]:
    """Calendar day the chat started, on the desk's wall clock."""
    def split(f: ConversationFacts) -> Iterable[tuple[date, ConversationFacts]]:
        return [(_local(f.started_ms, tz).date(), f)]
    return split


# --- periods ------------------------------------------------------------------------------------


def in_period(f: ConversationFacts, start_ms: int, end_ms: int) -> bool:
    """A chat belongs to the period it started in, [start, end), with all its outcomes."""
    return start_ms <= f.started_ms < end_ms


@dataclass(frozen=True)
class Change:
    current: float | None
    previous: float | None

    @property
    def delta(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """delta / previous; None from a zero or missing base (no "∞ % better")."""
        if self.delta is None or not self.previous:
            return None
        return self.delta / abs(self.previous)


def change(current: Summary, previous: Summary) -> dict[str, Change]:
    """Every number of two summaries side by side (name as in `Summary.as_dict`)."""
    now, before = current.as_dict(), previous.as_dict()
    return {name: Change(now[name], before[name]) for name in now}


def period_change(
    facts: Iterable[ConversationFacts], start_ms: int, end_ms: int,
    t: Thresholds = Thresholds(),
) -> dict[str, Change]:
    """[start, end) against the period of equal length just before it, in one pass."""
    length = end_ms - start_ms
    current, previous = _Tally(t), _Tally(t)
    for f in facts:
        if in_period(f, start_ms, end_ms):
            current.add(f)
        elif in_period(f, start_ms - length, start_ms):
            previous.add(f)
    return change(current.summary(), previous.summary())
