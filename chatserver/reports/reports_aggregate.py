"""The numbers of one report, kept per local day so a year is a merge, not a recount.

A report is tallies (`metrics_report._Tally`: counts plus the durations percentiles need) for
the whole range, each hour of the day and each agent. Tallies add up, so each local day's are
computed once and kept; a year is then 365 merges and a few `summary()` calls. A day is
recounted only when its fingerprint (count, seq sum, last update of its chats: any append moves
it) changes, or while it is *unsettled*: a chat still open, or a closed one whose repeat-contact
window (first-contact resolution) is still running.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from chatserver.core.metrics import ConversationFacts
from chatserver.core.metrics_report import DAY_MS, Summary, Thresholds, _Tally, mark_repeat_contacts

from .reports_facts import FactsCache, Reader, Slot, gc_paused, slots
from .reports_query import Filters, ReportQuery

REPEAT_WINDOW_DAYS = 7  # a repeat contact within a week undoes first-contact resolution
MAX_DAYS_KEPT = 6000  # day tallies kept (LRU): e.g. two years for 8 filter combinations
ALL = "all"
Keep = Callable[[Hashable], Collection[str] | None]  # which durations a key's total keeps


def merge(tallies: Iterable[_Tally], t: Thresholds,
          durations: Collection[str] | None = None) -> _Tally:
    """One tally holding every count and duration of the given ones. `durations` keeps only
    those (and no ETA errors): a chart that reads only the queue wait need not sort replies."""
    out = _Tally(t)
    for tally in tallies:
        for name, n in tally.n.items():
            out.n[name] = out.n.get(name, 0) + n
        for name, values in tally.durations.items():
            if durations is None or name in durations:
                out.durations.setdefault(name, []).extend(values)
        if durations is None:
            out.eta_errors.extend(tally.eta_errors)
    return out


def local_day(ts_ms: int, tz: tzinfo) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(tz).date()


def day_start_ms(day: date, tz: tzinfo) -> int:
    return ReportQuery(day, day).bounds_ms(tz)[0]


def matches(f: ConversationFacts, filters: Filters) -> ConversationFacts | None:
    """The facts a filtered report counts: an agent filter keeps only that agent's share."""
    if filters.topic is not None and f.topic != filters.topic:
        return None
    if filters.language is not None and f.language != filters.language:
        return None
    if filters.skill is not None and filters.skill not in f.skills:
        return None
    if filters.label is not None and filters.label not in f.labels:
        return None
    if filters.agent is not None:
        return f.for_agent(filters.agent) if filters.agent in f.agents else None
    return f


@dataclass
class DayTallies:
    """One local day: the whole day, each hour of it, each agent."""

    fingerprint: tuple[int, int, int]
    settled: bool
    tallies: dict[Hashable, _Tally] = field(default_factory=dict)


def count_day(facts: Iterable[ConversationFacts], filters: Filters, t: Thresholds,
              tz: tzinfo) -> dict[Hashable, _Tally]:
    tallies: dict[Hashable, _Tally] = {}

    def add(key: Hashable, f: ConversationFacts) -> None:
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally(t)
        tally.add(f)

    for fact in facts:
        f = matches(fact, filters)
        if f is None:
            continue
        add(ALL, f)
        add(("hour", datetime.fromtimestamp(f.started_ms / 1000, tz=UTC).astimezone(tz).hour),
            f)
        for agent in f.agents if filters.agent is None else (filters.agent,):
            add(("agent", agent), f.for_agent(agent) if f.agent_view is None else f)
        for label in f.labels:
            add(("label", label), f)
    return tallies


@dataclass
class Counted:
    """A report's tallies: per day over [first, last], merged on demand."""

    days: dict[date, dict[Hashable, _Tally]]
    t: Thresholds

    def total(self, first: date, last: date, key: Hashable = ALL,
              durations: Collection[str] | None = None) -> _Tally:
        return merge((d[key] for day, d in self.days.items()
                      if first <= day <= last and key in d), self.t, durations)

    def totals(self, first: date, last: date, durations: Keep) -> dict[Hashable, _Tally]:
        """Every key's tally over [first, last], in one walk over the days."""
        parts: dict[Hashable, list[_Tally]] = {}
        for day, tallies in self.days.items():
            if first <= day <= last:
                for key, tally in tallies.items():
                    parts.setdefault(key, []).append(tally)
        return {key: merge(found, self.t, durations(key)) for key, found in parts.items()}


class DayCache:
    """Day tallies by (time zone, thresholds, filters, day), least recently used dropped."""

    def __init__(self, facts: FactsCache | None = None, max_days: int = MAX_DAYS_KEPT) -> None:
        self.facts = facts or FactsCache()
        self._days: OrderedDict[tuple[Any, ...], DayTallies] = OrderedDict()
        self._max = max_days
        self.recounted = 0  # days counted from facts, for tests and the benchmark

    def count(self, conn: Reader, first: date, last: date, filters: Filters,
              t: Thresholds, tz: tzinfo, now_ms: int) -> Counted:
        """Tallies of every day in [first, last] on `tz`'s wall clock, as of `now_ms`."""
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        starts = [day_start_ms(d, tz) for d in days] + [day_start_ms(last + timedelta(1), tz)]
        prints = _day_prints(slots(conn, starts[0], starts[-1]), starts)
        window_ms = REPEAT_WINDOW_DAYS * DAY_MS
        out: dict[date, dict[Hashable, _Tally]] = {}
        stale: list[int] = []
        for i, day in enumerate(days):
            key = (str(tz), t, filters, day)
            fp = prints[i][0]
            kept = self._days.get(key)
            if fp[0] == 0:
                out[day] = {}
            elif kept is not None and kept.settled and kept.fingerprint == fp:
                self._days.move_to_end(key)
                out[day] = kept.tallies
            else:
                stale.append(i)
        if stale:
            lo, hi = starts[stale[0]], starts[stale[-1] + 1]
            # Repeat contacts of a day's chats start up to the window after their close.
            # Repeat contacts start up to the window after a close; two windows cover all but
            # chats left open for over a week.
            facts = self.facts.facts(conn, lo, max(hi, min(hi + 2 * window_ms, now_ms + 1)))
            with gc_paused():
                marked = mark_repeat_contacts(facts, window_days=REPEAT_WINDOW_DAYS,
                                              as_of_ms=now_ms)
                by_day: dict[int, list[ConversationFacts]] = {}
                for f in marked:
                    if lo <= f.started_ms < hi:
                        by_day.setdefault(_index(starts, f.started_ms), []).append(f)
                for i in stale:
                    tallies = count_day(by_day.get(i, ()), filters, t, tz)
                    fp, last_closed = prints[i]
                    settled = last_closed is not None and last_closed + window_ms <= now_ms
                    self._keep((str(tz), t, filters, days[i]), DayTallies(fp, settled, tallies))
                    out[days[i]] = tallies
                    self.recounted += 1
        return Counted(out, t)

    def _keep(self, key: tuple[Any, ...], day: DayTallies) -> None:
        self._days[key] = day
        self._days.move_to_end(key)
        while len(self._days) > self._max:
            self._days.popitem(last=False)


def _index(starts: list[int], ts_ms: int) -> int:
    """The day (index into `starts`) a timestamp falls in; `starts` ascend."""
    lo, hi = 0, len(starts) - 1
    while lo < hi - 1:
        mid = (lo + hi) // 2
        if starts[mid] <= ts_ms:
            lo = mid
        else:
            hi = mid
    return lo


def _day_prints(found: list[Slot], starts: list[int]
                ) -> list[tuple[tuple[int, int, int], int | None]]:
    """Per day: (chats, seq sum, last update), and its last close if all its chats are closed
    (None while any is open). Slots and days both ascend: one walk."""
    acc = [[0, 0, 0, 0, 0] for _ in starts[:-1]]
    day = 0
    for start, n, seqs, updated, still_open, last_closed in found:
        while starts[day + 1] <= start:
            day += 1
        a = acc[day]
        a[0] += n
        a[1] += seqs
        a[2] = max(a[2], updated)
        a[3] += still_open
        a[4] = max(a[4], last_closed or 0)
    return [((n, seqs, upd), closed if open_ == 0 else None)
            for n, seqs, upd, open_, closed in acc]


def summaries(tallies: Iterable[tuple[Hashable, _Tally]]) -> Iterator[tuple[Hashable, Summary]]:
    for key, tally in tallies:
        yield key, tally.summary()
