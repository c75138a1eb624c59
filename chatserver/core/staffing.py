"""Staffing advice from the desk's own log: for each hour of the week, the demand, the handle
time and the patience measured, the agents Erlang C and Erlang A say the service-level goal
needs, and the agents who were actually online. Pure: facts, presence rows and times in.

Formulas (docs/metrics.md, "Staffing advice"):
- requests(cell) = requests for a person whose request fell in that hour of the week; the
  arrival rate is requests / hours of that kind in the range (a 14-day range holds two
  Monday 09:00 hours).
- handle time h = mean ``handle_s`` of the cell's handled chats, else the range's mean.
- patience = seconds waited by every request (answered: its wait, abandoned: until it left)
  / abandonments: the exponential patience's maximum-likelihood mean. Per cell when someone
  left in it; Erlang A uses the range's figure for a cell without one (and Erlang C's answer
  when nobody ever left: infinitely patient visitors).
- needed = ``erlang.staff_for``: the fewest agents of ``concurrency`` slots each whose
  service level (answered within T / all requests) reaches the target.
- online(cell) = agent-seconds online in that hour of the week / its seconds in the range:
  the mean number of agents available to routing (status online and connected).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from .erlang import staff_for
from .eta import EtaAccuracy
from .metrics import ConversationFacts

SLOT_MS = 900_000  # 15 min: every time zone's hour starts on one (offsets are 1/4 h steps)
ONLINE = "online"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Goal:
    """The service-level goal: ``target`` of requests answered within ``answer_within_s``."""

    answer_within_s: float = 20.0
    target: float = 0.8
    concurrency: int = 1  # chats an agent takes at once (the desk's typical capacity)


@dataclass(frozen=True)
class HourOfWeek:
    """One hour of the week (local time) over the report's range."""

    weekday: int  # Monday = 0
    hour: int
    hours: int  # how many such hours the range holds
    requests: int
    arrivals_per_hour: float
    handle_s: float | None
    patience_s: float | None  # None: nobody left in this hour
    erlang_c: int | None  # agents needed; None without a handle time
    erlang_a: int | None
    online: float  # mean agents online

    @property
    def label(self) -> str:
        return f"{DAYS[self.weekday]} {self.hour:02d}:00"


def _cell(ts_ms: int, tz: tzinfo) -> int:
    local = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(tz)
    return local.weekday() * 24 + local.hour


def presence_intervals(rows: Iterable[tuple[int, int, str]], start_ms: int, end_ms: int
                       ) -> list[tuple[int, int, int]]:
    """(agent, from, to) online, clipped to [start, end), from presence rows (agent, ts,
    status) in any order: online from an ``online`` row to the agent's next row of another
    status, or to ``end`` when none follows (still online, or the process ended unseen)."""
    by_agent: dict[int, list[tuple[int, str]]] = {}
    for agent, ts, status in rows:
        by_agent.setdefault(agent, []).append((ts, status))
    out = []
    for agent, changes in by_agent.items():
        changes.sort()
        since: int | None = None
        for ts, status in changes:
            if status == ONLINE and since is None:
                since = ts
            elif status != ONLINE and since is not None:
                if min(ts, end_ms) > max(since, start_ms):
                    out.append((agent, max(since, start_ms), min(ts, end_ms)))
                since = None
        if since is not None and end_ms > max(since, start_ms):
            out.append((agent, max(since, start_ms), end_ms))
    return out


def hour_seconds(start_ms: int, end_ms: int, tz: tzinfo,
                 into: list[float] | None = None) -> list[float]:
    """Seconds of each hour of the week inside [start, end), walked in 15-minute slots (added
    to ``into`` when given)."""
    seconds = [0.0] * 168 if into is None else into
    slot = start_ms - start_ms % SLOT_MS
    while slot < end_ms:
        a, b = max(slot, start_ms), min(slot + SLOT_MS, end_ms)
        if b > a:
            seconds[_cell(a, tz)] += (b - a) / 1000
        slot += SLOT_MS
    return seconds


def advice(facts: Iterable[ConversationFacts], presence: Sequence[tuple[int, int, int]],
           start_ms: int, end_ms: int, tz: tzinfo, goal: Goal) -> list[HourOfWeek]:
    """The 168 hours of the week, Monday 00:00 first, for requests in [start, end)."""
    span = hour_seconds(start_ms, end_ms, tz)
    online_s = [0.0] * 168
    for _, a, b in presence:
        hour_seconds(a, b, tz, online_s)
    requests = [0] * 168
    handle: list[list[float]] = [[] for _ in range(168)]
    waited = [0.0] * 168
    left = [0] * 168
    for f in facts:
        if f.requested_ms is None or not start_ms <= f.requested_ms < end_ms:
            continue
        cell = _cell(f.requested_ms, tz)
        requests[cell] += 1
        if f.handle_s is not None:
            handle[cell].append(f.handle_s)
        waited[cell] += f.queue_wait_s or f.abandon_wait_s or 0.0
        left[cell] += f.abandoned
    all_handle = [h for cell in handle for h in cell]
    mean_handle = sum(all_handle) / len(all_handle) if all_handle else None
    desk_patience = sum(waited) / sum(left) if sum(left) else None
    out = []
    for cell in range(168):
        hours = round(span[cell] / 3600)
        rate = requests[cell] / (span[cell] / 3600) if span[cell] else 0.0
        h = sum(handle[cell]) / len(handle[cell]) if handle[cell] else mean_handle
        patience = waited[cell] / left[cell] if left[cell] else None
        need_c = need_a = None
        if h is not None and h > 0:
            need_c = _needed(rate, h, goal, None)
            theirs = patience or desk_patience
            need_a = need_c if theirs is None else _needed(rate, h, goal, theirs)
        elif rate == 0:
            need_c = need_a = 0
        out.append(HourOfWeek(cell // 24, cell % 24, hours, requests[cell], rate, h, patience,
                              need_c, need_a, online_s[cell] / span[cell] if span[cell] else 0.0))
    return out


def _needed(per_hour: float, handle_s: float, goal: Goal, patience_s: float | None) -> int:
    if per_hour <= 0:
        return 0
    return staff_for(per_hour / 3600, handle_s, goal.answer_within_s, goal.target,
                     concurrency=goal.concurrency, patience=patience_s)


def eta_accuracy(facts: Iterable[ConversationFacts]) -> EtaAccuracy:
    """The live ETAs in the simulator's terms: each queue entry's first ETA against the wait
    that followed (answered entries with a non-null ETA and a wait above 0)."""
    return EtaAccuracy.of([(c.eta_s - c.actual_s) / c.actual_s
                           for f in facts for c in f.eta_checks if c.actual_s > 0])
