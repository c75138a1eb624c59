"""Queue ETA: the wait to tell a visitor in a given place, as pure functions over plain data.

Used by the routing board and the Redis router alike (so one desk gives one answer, whichever
backend holds its queue), and measured against the real wait by ``chatserver simulate``.

The model, in order of what it corrects (docs/routing.md has the measured errors):
- **Work ahead, weighted by shared slots.** A chat ahead of mine counts for the share of its
  agents' slots that can also serve me: cap(pool_mine & pool_its) / cap(pool_its). In one pool
  every chat ahead counts 1 (the old ``position``); a tech chat that one generalist of five tech
  agents could also give to me counts 1/5. The chat is through when ``units`` = weighted ahead
  + 1 have been served.
- **Service rate by relaxation step.** Slots able to serve it free at rate slots / h (h: the
  mean handle time). The rate changes when a relaxation step widens the pool, so a pool that
  grows later drains faster; a step nobody online could serve is skipped at once, as routing
  does (``routing.step_in_force``), so no chat waits for a step for nobody.
- **Abandonment ahead.** Visitors ahead leave at the desk's measured patience rate theta each;
  given that this visitor is answered (the only waits anyone can measure), it moves up at
  rate slots/h + (j + 1) theta with j ahead, the Erlang A phases.
- **The median, not the mean.** The wait is about a sum of ``units`` exponential phases: a
  gamma whose median is (k - 1/3 + 8/(405 k)) / k of its mean. A visitor told "about N
  minutes" is told the typical wait; the mean overstates it for the first places
  (ln 2 = 0.69 of it at place 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import mul
from typing import TypeVar

from chatserver.core.routing import (
    Requirement,
    RoutingRules,
    Servable,
    Waiting,
    first_servable_step,
    requirements,
    step_in_force,
    step_index,
)

Sig = TypeVar("Sig")  # what a chat asks now; any hashable the caller uses
LaterCache = dict[tuple[object, ...], list[tuple[float, tuple[Requirement, None]]]]


def median_factor(units: float) -> float:
    """Median / mean of a gamma of shape ``units`` (Choi's approximation, within 0.3 %)."""
    return 1.0 - 1.0 / (3.0 * units) + 8.0 / (405.0 * units * units)


def wait_estimate(units: float, pieces: Sequence[tuple[float, float]],
                  patience_rate: float = 0.0) -> float | None:
    """Seconds until ``units`` of work (this chat and the weighted chats ahead) are served.

    ``pieces``: (seconds from now, service rate per second from then on), the first at 0, in
    increasing order. Within a piece the work left x shrinks as dx/dt = -(r + theta (x + 1/2))
    (the Erlang A phases r + (j + 1) theta, taken at mid-phase); in a piece of rate 0 only the
    chats ahead can leave. The time spent being served is scaled to the median. None when no
    piece has a rate: nobody online could ever serve it.
    """
    theta = patience_rate
    x = units
    waited = 0.0  # in pieces nobody could serve: a plain delay, not scaled
    served = 0.0
    for i, (start, rate) in enumerate(pieces):
        end = pieces[i + 1][0] if i + 1 < len(pieces) else math.inf
        span = end - start
        if rate <= 0:
            if math.isinf(span):
                return None
            if theta > 0 and x > 1:
                x = 1 + (x - 1) * math.exp(-theta * span)
            waited += span
            continue
        need = (x / rate if theta <= 0 else
                math.log((rate + theta * (x + 0.5)) / (rate + theta * 0.5)) / theta)
        if need <= span:
            return waited + (served + need) * median_factor(units)
        if theta > 0:
            x = (x + 0.5 + rate / theta) * math.exp(-theta * span) - 0.5 - rate / theta
        else:
            x -= rate * span
        served += span
    return None


def patience_rate(exits: Iterable[tuple[float, bool]]) -> float:
    """Abandonments per second of waiting (the exponential patience's MLE) from queue exits
    (seconds waited, left unanswered); 0 before anyone has left."""
    waited = left = 0.0
    for seconds, abandoned in exits:
        waited += seconds
        left += abandoned
    return left / waited if waited > 0 and left else 0.0


def later_asks(w: Waiting, now: float, rules: RoutingRules, cache: LaterCache,
               servable: Servable | None = None
               ) -> list[tuple[float, tuple[Requirement, None]]]:
    """(seconds from now, (requirements, no pin)) of the chat's relaxation steps still to come;
    ``cache`` (one dict per pass) keeps it to one ``requirements`` per kind of chat and step.

    With ``servable`` (who is online) the steps follow ``routing.step_in_force``: one nobody
    online could serve is skipped, so the chat asks from each later step's time what the first
    servable step from there asks; steps already skipped past are not to come."""
    clock = step_index(w, now, rules)
    if clock + 1 >= len(rules.steps):
        return []
    # The pin counts at the first step only; what is online is the same for the whole pass.
    key = (tuple(sorted(w.needs.skills.items())), w.needs.language, clock,
           w.target if clock == 0 else None)
    asks = cache.get(key)
    if asks is None:
        asks = cache[key] = []
        start = max(clock, step_in_force(w, now, rules, servable)) + 1
        for i in range(start, len(rules.steps)):
            step = i if servable is None else first_servable_step(w, i, rules, servable)
            asks.append((rules.steps[i].after_seconds,
                         (requirements(w.needs, rules.steps[step], rules), None)))
    return [(w.enqueued_at + after - now, sig) for after, sig in asks]


class Pools:
    """Online agents as bit sets, and the slots (capacity) of any set of them."""

    def __init__(self, agents: Iterable[tuple[int, int, Mapping[str, int]]]) -> None:
        """From (agent id, capacity, skills) of the online agents."""
        self.bits: dict[int, int] = {}
        self.masks: dict[tuple[str, int], int] = {("", 0): 0}
        self.by_capacity: dict[int, int] = {}
        for agent_id, capacity, skills in agents:
            bit = self.bits[agent_id] = 1 << len(self.bits)
            self.masks[("", 0)] |= bit
            self.by_capacity[capacity] = self.by_capacity.get(capacity, 0) | bit
            for skill, level in skills.items():
                for at_least in range(1, level + 1):
                    self.masks[(skill, at_least)] = self.masks.get((skill, at_least), 0) | bit

    def mask(self, req: Iterable[tuple[str, int]], target: int | None) -> int:
        """Agents able to serve these requirements (or only the pinned target)."""
        if target is not None:
            return self.bits.get(target, 0)
        m = self.masks[("", 0)]
        for skill, level in req:
            m &= self.masks.get((skill, max(level, 1)), 0)
        return m

    def slots(self, mask: int) -> int:
        """Summed capacity of these agents."""
        if len(self.by_capacity) == 1:  # the usual desk: one capacity for all
            for capacity in self.by_capacity:
                return capacity * mask.bit_count()
        total = 0
        for capacity, agents in self.by_capacity.items():
            total += capacity * (mask & agents).bit_count()
        return total


def queue_etas(chats: Sequence[tuple[str, Sig, Sequence[tuple[float, Sig]]]],
               mask_of: Callable[[Sig], int], slots_of: Callable[[int], int],
               handle_seconds: float, patience: float = 0.0) -> dict[str, float | None]:
    """ETA of every waiting chat, given in queue order as (id, what it asks now, [(seconds
    from now, what it will ask from then on)] for its later relaxation steps).

    Cost: distinct asks squared for the weights; then the first chat of each ask sums over
    the asks seen so far, and each later one only over the chats since the previous one of
    its ask (summed in C), about 40 ms for 10,000 waiting chats of 340 kinds.
    """
    index: dict[Sig, int] = {}
    for _, sig, _ in chats:
        index.setdefault(sig, len(index))
    sigs = list(index)
    masks = [mask_of(s) for s in sigs]
    caps = [slots_of(m) for m in masks]
    # weights[i][j]: how much one chat asking j, ahead, holds back a chat asking i.
    weights: list[list[float]] = []
    for i, mine in enumerate(masks):
        row = [0.0] * len(masks)
        for j, theirs in enumerate(masks):
            shared = mine & theirs
            if shared:
                row[j] = 1.0 if shared == theirs else slots_of(shared) / caps[j] if caps[j] else 0.0
        row[i] = 1.0  # a chat nobody can serve is held back by its own kind
        weights.append(row)
    rate_of: dict[Sig, float] = {}

    def rate(sig: Sig) -> float:
        if sig not in rate_of:
            rate_of[sig] = slots_of(mask_of(sig)) / handle_seconds
        return rate_of[sig]

    seen = [0] * len(sigs)
    log: list[int] = []  # the ask of each chat so far, in queue order
    last = [-1] * len(sigs)  # where in the log the previous chat of each ask is
    held_back = [0.0] * len(sigs)  # the weighted chats ahead of that previous chat
    result: dict[str, float | None] = {}
    for cid, sig, later in chats:
        i = index[sig]
        row = weights[i]
        if last[i] < 0:
            ahead = sum(map(mul, row, seen))
        else:
            ahead = held_back[i] + sum(map(row.__getitem__, log[last[i]:]))
        held_back[i], last[i] = ahead, len(log)
        log.append(i)
        seen[i] += 1
        pieces = [(0.0, caps[i] / handle_seconds)]
        pieces += [(max(at, 0.0), rate(s)) for at, s in later]
        result[cid] = wait_estimate(ahead + 1.0, pieces, patience)
    return result


@dataclass(frozen=True)
class EtaAccuracy:
    """How right the ETAs shown were, over answered chats (the simulator's and the live
    log's): ``count`` ETAs, the median of the absolute percentage error |eta - actual| /
    actual, the share within +-30 % and the median signed error (eta - actual) / actual
    (positive: it promised longer than it took)."""

    count: int
    median_ape: float
    within_30: float
    median_bias: float

    @classmethod
    def of(cls, errors: Sequence[float]) -> EtaAccuracy:
        """From signed relative errors (eta - actual) / actual."""
        if not errors:
            return cls(0, math.nan, math.nan, math.nan)
        absolute = sorted(abs(e) for e in errors)
        n = len(absolute)
        return cls(n, _median(absolute), sum(e <= 0.3 for e in absolute) / n,
                   _median(sorted(errors)))


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
