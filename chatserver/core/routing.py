"""Skill-based routing: which free agent is offered which waiting chat, as a pure decision.

Plain data in, plain data out; no clock (``now`` is passed in), no I/O, no randomness, so the
hub can call it under its lock and tests can drive it exhaustively.

The contract
------------
- ``Agent(id, status, capacity, skills, load, free_since)``: ``skills`` maps a skill to a
  proficiency 1..5 (``{"billing": 4, "lang:fa": 5}``); ``load`` counts active chats *and* pending
  offers, so an offer reserves a slot until it is accepted, declined or expires.
- ``Needs(skills, language)``: the topic skills a chat needs with their minimum proficiency, and
  the language skill key (``"lang:fa"``), needed at proficiency >= 1.
- ``Waiting(conversation_id, needs, priority, enqueued_at, head, seq, excluded, target)``: one
  queued chat. ``excluded`` maps agent id -> time until which that agent is not offered it again
  (they declined or let the offer lapse). ``target`` pins a transfer to one agent.
- ``choose(waiting, agents, now, rules) -> list[Offer]``: the decision. Conversations are scanned
  in queue order (``queue_key``: rescued/transferred chats first, then enqueue time minus a bounded
  priority boost, then arrival sequence); one no free agent can serve is skipped, so a scarce
  skill never blocks the rest. The eligible agents are online, below capacity, hold every required
  skill at the level the relaxation step in force asks (``step_in_force``: the clock's step, or
  the first later one some online agent could serve) and are not excluded; the best is the one
  with the lowest load/capacity, then the highest proficiency summed over the required skills,
  then the longest idle (smallest ``free_since``), then the smallest id.
- ``RoutingRules``: every tunable with its default (the ``[routing]`` section of config.toml).
- ``Schedule`` and ``is_open(schedule, now_utc, tz)``: business hours.

The stateful holder the hub drives (agents, queue, offers, assignments, grace, ETA) is
``chatserver.core.routing_board.Board``; its ``dispatch`` gives the same offers as ``choose``
over its snapshot, found incrementally through skill indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from chatserver.core.errors import Conflict, NotFound

ONLINE = "online"
AWAY = "away"
OFFLINE = "offline"
STATUSES = frozenset({ONLINE, AWAY, OFFLINE})
MIN_LEVEL = 1  # proficiency scale 1..5: 1 = can handle it, 5 = expert
MAX_LEVEL = 5

Requirement = tuple[tuple[str, int], ...]  # sorted (skill, minimum proficiency) pairs
QueueKey = tuple[int, float, int]  # (band, enqueue time minus boost, arrival sequence)


class RoutingError(Conflict):
    """An illegal routing move (maps to the protocol's ``conflict`` error)."""


class NotOffered(RoutingError):
    """Accept/decline of a chat that is not offered to that agent (any more)."""


class OfferExpired(NotOffered):
    """Accept that arrived at or after the offer's deadline."""


class NotAssigned(RoutingError):
    """Release/transfer of a chat no agent holds."""


class AlreadyRouted(RoutingError):
    """Enqueue of a chat the board already holds (queued, offered or assigned)."""


class UnknownConversation(NotFound):
    """A conversation id the board does not hold."""


class UnknownAgent(NotFound):
    """An agent id the board does not hold."""


@dataclass(frozen=True)
class Agent:
    """An agent as routing sees them: profile plus the load the board tracks."""

    id: int
    status: str = ONLINE
    capacity: int = 1
    skills: Mapping[str, int] = field(default_factory=dict)
    load: int = 0  # active chats + pending offers
    free_since: float = 0.0  # when the agent last finished a chat or came online


@dataclass(frozen=True)
class Needs:
    """What a chat asks of its agent; the language survives relaxation unless rules say not."""

    skills: Mapping[str, int] = field(default_factory=dict)  # topic skill -> min proficiency
    language: str | None = None  # language skill key, e.g. "lang:fa"


def returning_status(status: str | None, connected: bool, grace_until: float | None,
                     now: float) -> str:
    """The status a new socket of an agent starts with: the one they chose (online or away)
    while another of their sockets is open or until ``grace_seconds`` after the last closed
    (a reload, a dropped connection, a second tab); otherwise away, so that nobody starts
    taking chats without choosing to."""
    if status in (ONLINE, AWAY) and (connected or (grace_until is not None and now < grace_until)):
        return status
    return AWAY


def languages(skills: Mapping[str, int]) -> tuple[str, ...]:
    """The languages an agent serves: their ``lang:`` skills. A chat that names a language
    needs one, so an agent with none serves only chats that name no language."""
    return tuple(sorted(skill[5:] for skill in skills if skill.startswith("lang:")))


@dataclass(frozen=True)
class Waiting:
    """A queued chat. A re-queued chat keeps ``enqueued_at``/``seq``, so it keeps its place."""

    conversation_id: str
    needs: Needs = field(default_factory=Needs)
    priority: int = 0
    enqueued_at: float = 0.0  # starts the relaxation clock and orders the queue
    head: bool = False  # rescued (agent vanished) or transferred: ahead of ordinary chats
    seq: int = 0  # arrival order, breaks ties so equal chats stay FIFO
    excluded: Mapping[int, float] = field(default_factory=dict)  # agent id -> not before
    target: int | None = None  # transfer to this agent (only during the first step)


@dataclass(frozen=True)
class Offer:
    """A chat offered to one agent until ``expires_at`` (server time, seconds)."""

    conversation_id: str
    agent_id: int
    expires_at: float


@dataclass(frozen=True)
class RelaxStep:
    """From ``after_seconds`` of waiting on, required levels are capped and topics may go."""

    after_seconds: float
    level_cap: int | None = None  # required proficiency lowered to at most this
    drop_topics: bool = False  # any agent speaking the language will do


DEFAULT_STEPS = (
    RelaxStep(0.0),  # first the specialists the chat asked for
    RelaxStep(30.0, level_cap=2),  # 30 s: half a minute of silence is when visitors start to leave
    RelaxStep(90.0, drop_topics=True),  # 90 s: anyone who speaks the language beats nobody
)


@dataclass(frozen=True)
class RoutingRules:
    """Routing tunables; each default carries its reason (config.toml ``[routing]``)."""

    # 60 s per priority level: one level overtakes one minute of queue.
    priority_boost_seconds: float = 60.0
    # 300 s: a VIP overtakes at most five minutes of waiting, so nobody starves behind VIPs.
    priority_boost_max_seconds: float = 300.0
    steps: tuple[RelaxStep, ...] = DEFAULT_STEPS
    # False: a chat in a language its agent cannot read is worse than waiting longer.
    relax_language: bool = False
    # 20 s: long enough to notice a console tab, short enough that a visitor barely waits.
    offer_timeout_seconds: float = 20.0
    # 3 missed offers in a row: the agent has most likely walked away; set them away.
    max_missed_offers: int = 3
    # 120 s: a declined/missed agent may get the same chat again, so two agents can never
    # strand a visitor by each declining once.
    reoffer_after_seconds: float = 120.0
    # 60 s: covers a page reload or a Wi-Fi hiccup without handing the chat to someone else.
    grace_seconds: float = 60.0
    # False: an agent confirms each chat; True assigns straight away (dispatch = assignment).
    auto_accept: bool = False
    # 300 s: typical chat handle time, used for ETAs until real chats have closed.
    assumed_handle_seconds: float = 300.0
    # 50 chats: recent enough to follow the day, many enough to be steady.
    eta_window: int = 50
    # 60 s: a visitor who hears nothing for a minute after an agent took the chat starts to
    # doubt anyone is there; the agent is nudged and supervisors see it flagged. 0: off.
    first_reply_seconds: float = 60.0
    # 180 s for a later line of the visitor's: an answer may need looking up. 0: off.
    reply_seconds: float = 180.0
    # False: a nudge and a flag only. True: a chat still silent as long again after the nudge
    # goes to another agent who could serve it (with the transcript), if one is online.
    reroute_silent: bool = False

    def __post_init__(self) -> None:
        if not self.steps or self.steps[0].after_seconds != 0:
            raise ValueError("routing.steps: the first step must start at 0 seconds")
        times = [s.after_seconds for s in self.steps]
        if times != sorted(times) or len(set(times)) != len(times):
            raise ValueError("routing.steps: after_seconds must be strictly increasing")
        for name in ("priority_boost_seconds", "priority_boost_max_seconds", "grace_seconds",
                     "reoffer_after_seconds", "first_reply_seconds", "reply_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"routing.{name} must be >= 0")
        for name in ("offer_timeout_seconds", "assumed_handle_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"routing.{name} must be > 0")
        if self.max_missed_offers < 1 or self.eta_window < 1:
            raise ValueError("routing.max_missed_offers and routing.eta_window must be >= 1")


def boost(priority: int, rules: RoutingRules) -> float:
    """Seconds a priority moves a chat forward, bounded so no one starves behind it."""
    cap = rules.priority_boost_max_seconds
    return max(-cap, min(cap, priority * rules.priority_boost_seconds))


def queue_key(w: Waiting, rules: RoutingRules) -> QueueKey:
    """Sort key of the queue: head band first, then boosted enqueue time, then arrival."""
    return (0 if w.head else 1, w.enqueued_at - boost(w.priority, rules), w.seq)


def step_index(w: Waiting, now: float, rules: RoutingRules) -> int:
    """Index of the relaxation step the clock has reached (``enqueued_at + after <= now``, as
    timers use); ``step_in_force`` skips from there the steps nobody online could serve."""
    index = 0
    for i, step in enumerate(rules.steps):
        if w.enqueued_at + step.after_seconds <= now:
            index = i
    return index


# Whether some online agent could serve these requirements (or is the pinned target), load
# and exclusions aside: what decides that a relaxation step is skipped.
Servable = Callable[[Requirement, "int | None"], bool]


def first_servable_step(w: Waiting, start: int, rules: RoutingRules,
                        servable: Servable) -> int:
    """The first step from ``start`` on that someone online could serve; ``start`` when none
    could (nobody online can serve the chat at all: it waits for the clock as before)."""
    for i in range(start, len(rules.steps)):
        target = w.target if i == 0 else None
        if servable(requirements(w.needs, rules.steps[i], rules), target):
            return i
    return start


def step_in_force(w: Waiting, now: float, rules: RoutingRules,
                  servable: Servable | None = None) -> int:
    """The relaxation step in force: the clock's, or the first later one someone online could
    serve when nobody online could serve it (a visitor never waits out a step for nobody).
    Without ``servable``, the clock's step alone."""
    index = step_index(w, now, rules)
    return index if servable is None else first_servable_step(w, index, rules, servable)


def online_servable(agents: Iterable[Agent]) -> Servable:
    """``Servable`` over these agents' online ones (memoised: build one per decision)."""
    online = [a for a in agents if a.status == ONLINE]
    ids = {a.id for a in online}
    memo: dict[tuple[Requirement, int | None], bool] = {}

    def servable(req: Requirement, target: int | None) -> bool:
        key = (req, target)
        if key not in memo:
            memo[key] = (target in ids if target is not None
                         else any(can_serve(a.skills, req) for a in online))
        return memo[key]

    return servable


def requirements(needs: Needs, step: RelaxStep, rules: RoutingRules) -> Requirement:
    """The (skill, level) pairs an agent must hold at this step."""
    req: dict[str, int] = {}
    if not step.drop_topics:
        for skill, level in needs.skills.items():
            capped = level if step.level_cap is None else min(level, step.level_cap)
            req[skill] = max(req.get(skill, MIN_LEVEL), capped, MIN_LEVEL)
    if needs.language is not None and not (step.drop_topics and rules.relax_language):
        req[needs.language] = max(req.get(needs.language, MIN_LEVEL), MIN_LEVEL)
    return tuple(sorted(req.items()))


def current_requirements(w: Waiting, now: float, rules: RoutingRules,
                         servable: Servable | None = None) -> Requirement:
    """Requirements of a waiting chat at ``now`` (at the step in force, see ``step_in_force``)."""
    return requirements(w.needs, rules.steps[step_in_force(w, now, rules, servable)], rules)


def pinned(w: Waiting, now: float, rules: RoutingRules,
           servable: Servable | None = None) -> int | None:
    """The transfer target, honoured during the first step only so a target who never
    comes back cannot strand the chat (one who is not online is skipped at once)."""
    return w.target if w.target is not None and step_in_force(
        w, now, rules, servable) == 0 else None


def can_serve(skills: Mapping[str, int], req: Requirement) -> bool:
    """Whether these skills meet every requirement."""
    return all(skills.get(skill, 0) >= level for skill, level in req)


def proficiency(skills: Mapping[str, int], req: Requirement) -> int:
    """Summed proficiency in the required skills: the tie-break that prefers experts."""
    return sum(skills.get(skill, 0) for skill, _ in req)


def agent_rank(agent: Agent, req: Requirement) -> tuple[float, int, float, int]:
    """Smaller is better: least loaded, most proficient, idle longest, lowest id."""
    return (agent.load / agent.capacity, -proficiency(agent.skills, req), agent.free_since,
            agent.id)


def is_free(agent: Agent) -> bool:
    """Online and with a slot left (pending offers count against capacity)."""
    return agent.status == ONLINE and agent.load < agent.capacity


def eligible(agent: Agent, w: Waiting, now: float, rules: RoutingRules,
             servable: Servable | None = None) -> bool:
    """Whether this agent may be offered this chat now (``servable``: who is online, for the
    step in force; without it, the clock's step)."""
    step = step_in_force(w, now, rules, servable)
    return _eligible_at(agent, w, now, requirements(w.needs, rules.steps[step], rules),
                        w.target if step == 0 else None)


def _eligible_at(agent: Agent, w: Waiting, now: float, req: Requirement,
                 target: int | None) -> bool:
    """``eligible`` with the chat's requirements and pin at the step in force worked out."""
    if not is_free(agent) or w.excluded.get(agent.id, float("-inf")) > now:
        return False
    if target is not None:
        return agent.id == target
    return can_serve(agent.skills, req)


def choose(waiting: Iterable[Waiting], agents: Iterable[Agent], now: float,
           rules: RoutingRules) -> list[Offer]:
    """Offers for the queue in order, each reserving its agent's slot for the rest of the scan.

    The reference decision: O(waiting x agents). ``Board.dispatch`` reaches the same offers
    through indexes; the property tests hold the two together.
    """
    pool = {a.id: a for a in agents}
    servable = online_servable(pool.values())
    offers: list[Offer] = []
    expires = now + rules.offer_timeout_seconds
    for w in sorted(waiting, key=lambda w: queue_key(w, rules)):
        step = step_in_force(w, now, rules, servable)
        req = requirements(w.needs, rules.steps[step], rules)
        target = w.target if step == 0 else None
        best: Agent | None = None
        for agent in pool.values():
            if _eligible_at(agent, w, now, req, target) and (
                    best is None or agent_rank(agent, req) < agent_rank(best, req)):
                best = agent
        if best is not None:
            pool[best.id] = Agent(best.id, best.status, best.capacity, best.skills,
                                  best.load + 1, best.free_since)
            offers.append(Offer(w.conversation_id, best.id, expires))
    return offers


# Business hours ---------------------------------------------------------------------------

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order


@dataclass(frozen=True)
class Schedule:
    """Weekly opening hours in local time. A range whose close <= open runs past midnight
    and belongs to the day it opens on; closed dates (holidays) close the ranges opening then."""

    weekly: Mapping[int, Sequence[tuple[dtime, dtime]]]  # weekday (Mon = 0) -> ranges
    closed_dates: frozenset[date] = frozenset()

    @classmethod
    def parse(cls, spec: Mapping[str, Sequence[str]], closed: Iterable[str] = ()) -> Schedule:
        """From config: ``{"mon": ["09:00-17:00"], "sat": ["22:00-02:00"]}``, ISO dates."""
        weekly: dict[int, list[tuple[dtime, dtime]]] = {}
        for day, ranges in spec.items():
            if day.lower() not in DAYS:
                raise ValueError(f"routing.hours: unknown day {day!r} (use {', '.join(DAYS)})")
            for text in ranges:
                try:
                    start, end = (_parse_time(part) for part in text.split("-"))
                except ValueError as exc:
                    raise ValueError(f"routing.hours.{day}: bad range {text!r} "
                                     "(want HH:MM-HH:MM)") from exc
                weekly.setdefault(DAYS.index(day.lower()), []).append((start, end))
        return cls(weekly, frozenset(date.fromisoformat(d) for d in closed))


def _parse_time(text: str) -> dtime:
    """HH:MM, with 24:00 meaning the end of the day."""
    hours, minutes = (int(part) for part in text.strip().split(":"))
    if (hours, minutes) == (24, 0):
        return dtime.max
    return dtime(hours, minutes)


def is_open(schedule: Schedule, now_utc: datetime, tz: str | ZoneInfo) -> bool:
    """Whether the desk is open at this aware instant, read on the desk's local clock."""
    if now_utc.tzinfo is None:
        raise ValueError("is_open needs an aware datetime (UTC)")
    local = now_utc.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))
    today, clock = local.date(), local.time().replace(tzinfo=None)
    yesterday = today - timedelta(days=1)
    if today not in schedule.closed_dates:
        for start, end in schedule.weekly.get(today.weekday(), ()):
            if (start <= clock < end) if start < end else (clock >= start):
                return True
    if yesterday not in schedule.closed_dates:
        for start, end in schedule.weekly.get(yesterday.weekday(), ()):
            if end <= start and clock < end:  # overnight range spilling into today
                return True
    return False
