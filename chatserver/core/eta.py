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
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter, mul, truediv

from chatserver.core.routing import (
    Requirement,
    RoutingRules,
    Servable,
    Waiting,
    first_servable_step,
    requirements,
    step_index,
)

Ask = tuple[Requirement, "int | None"]  # what a chat asks: requirements, or a pinned agent
LaterCache = dict[tuple[object, ...], list[tuple[float, Ask]]]
# Asks ``Pools`` keeps rows for beyond those of the latest pass (gone from the queue): with
# the bench's 342 (6 MB of pools and rows), 542 x 542 entries, ~16 MB; starting again costs
# one pass the ~17 ms of a cold one.
FORGET_AFTER = 200


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
        need = _serve_time(x, rate, theta)
        if need <= span:
            return waited + (served + need) * median_factor(units)
        if theta > 0:
            x = (x + 0.5 + rate / theta) * math.exp(-theta * span) - 0.5 - rate / theta
        else:
            x -= rate * span
        served += span
    return None


def _serve_time(x: float, rate: float, theta: float) -> float:
    """Seconds to serve ``x`` of work at ``rate`` (> 0) with patience ``theta`` ahead."""
    return (x / rate if theta <= 0 else
            math.log((rate + theta * (x + 0.5)) / (rate + theta * 0.5)) / theta)


# The shortest mean handle time an ETA assumes: chats accepted and closed within the same
# millisecond (a bulk close of spam) would otherwise make it 0, and every ETA a division by it.
MIN_HANDLE_SECONDS = 1.0


def mean_handle_seconds(recent: Sequence[float], assumed: float) -> float:
    """The mean of the recent handle times (``assumed`` before there are any), at least
    ``MIN_HANDLE_SECONDS``."""
    mean = sum(recent) / len(recent) if recent else assumed
    return max(mean, MIN_HANDLE_SECONDS)


def patience_rate(exits: Iterable[tuple[float, bool]]) -> float:
    """Abandonments per second of waiting (the exponential patience's MLE) from queue exits
    (seconds waited, left unanswered); 0 before anyone has left."""
    waited = left = 0.0
    for seconds, abandoned in exits:
        waited += seconds
        left += abandoned
    return left / waited if waited > 0 and left else 0.0


def later_steps(w: Waiting, clock: int, rules: RoutingRules, servable: Servable | None = None
                ) -> list[tuple[float, Ask]]:
    """(seconds after ``enqueued_at``, (requirements, no pin)) of the relaxation steps still
    to come for a chat whose clock stands at ``clock``; the same for every chat of its needs,
    pin and clock.

    With ``servable`` (who is online) the steps follow ``routing.step_in_force``: one nobody
    online could serve is skipped, so the chat asks from each later step's time what the first
    servable step from there asks; steps already skipped past are not to come."""
    if servable is None:
        start = clock + 1
    else:
        start = max(clock, first_servable_step(w, clock, rules, servable)) + 1
    asks: list[tuple[float, Ask]] = []
    for i in range(start, len(rules.steps)):
        step = i if servable is None else first_servable_step(w, i, rules, servable)
        asks.append((rules.steps[i].after_seconds,
                     (requirements(w.needs, rules.steps[step], rules), None)))
    return asks


def later_asks(w: Waiting, now: float, rules: RoutingRules, cache: LaterCache,
               servable: Servable | None = None) -> list[tuple[float, Ask]]:
    """(seconds from now, (requirements, no pin)) of the chat's relaxation steps still to come
    (``later_steps``); ``cache`` (one dict per pass) keeps it to one ``later_steps`` per kind
    of chat and step."""
    clock = step_index(w, now, rules)
    if clock + 1 >= len(rules.steps):
        return []
    # The pin counts at the first step only; what is online is the same for the whole pass.
    key = (tuple(sorted(w.needs.skills.items())), w.needs.language, clock,
           w.target if clock == 0 else None)
    asks = cache.get(key)
    if asks is None:
        asks = cache[key] = later_steps(w, clock, rules, servable)
    return [(w.enqueued_at + after - now, sig) for after, sig in asks]


class Pools:
    """Online agents as bit sets, the slots (capacity) of any set of them, and what a pass over
    the queue needs of each ask (requirements, pin) met so far: its agents, slots and its
    weight and rivalry against every other ask. Kept while the online agents stay the same
    (the board keeps one until someone comes online, leaves or changes skills or capacity),
    so a pass computes the pairs of asks new since the last one only."""

    def __init__(self, agents: Iterable[tuple[int, int, Mapping[str, int]]]) -> None:
        """From (agent id, capacity, skills) of the online agents."""
        self.bits: dict[int, int] = {}
        self.masks: dict[tuple[str, int], int] = {("", 0): 0}
        self.by_capacity: dict[int, int] = {}
        self._capacity: list[int] = []  # by bit
        for agent_id, capacity, skills in agents:
            bit = self.bits[agent_id] = 1 << len(self.bits)
            self._capacity.append(capacity)
            self.masks[("", 0)] |= bit
            self.by_capacity[capacity] = self.by_capacity.get(capacity, 0) | bit
            for skill, level in skills.items():
                for at_least in range(1, level + 1):
                    self.masks[(skill, at_least)] = self.masks.get((skill, at_least), 0) | bit
        self._slots_of: dict[Ask, int] = {}
        # Per agent (by bit), a field per ask it can serve (``_add``), each wide enough for
        # the slots of every agent: bytes of an array type code.
        self._fields = [bytearray() for _ in self.bits]
        need = max(1, (sum(self._capacity).bit_length() + 7) // 8)
        self._typecode = next(code for code in "BHILQ" if array(code).itemsize >= need)
        self._width = array(self._typecode).itemsize
        # Per ask met in a pass, by its number here (``numbers``): agents, slots, and the rows
        # ``weights[k][l]`` (how much one chat asking l, ahead, holds back a chat asking k) and
        # ``rivals[k][l]`` (whether some agent could serve both, or k == l).
        self._number: dict[Ask, int] = {}
        self._asks: list[int] = []
        self.caps: list[int] = []
        self.weights: list[list[float]] = []
        self.rivals: list[list[bool]] = []

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

    def slots_of(self, ask: Ask) -> int:
        """Summed capacity of the agents able to serve this ask (memoised)."""
        slots = self._slots_of.get(ask)
        if slots is None:
            slots = self._slots_of[ask] = self.slots(self.mask(*ask))
        return slots

    def numbers(self, asks: Sequence[Ask]) -> list[int]:
        """The number of each ask in ``weights``/``rivals``, first adding the rows and columns
        of the asks not met before."""
        new = list(dict.fromkeys(ask for ask in asks if ask not in self._number))
        if new and len(self._asks) + len(new) > len(asks) + FORGET_AFTER:
            # Asks gone from the queue (old pins, kinds no longer waiting) still hold rows;
            # past this the tables start again from this pass's asks, so memory stays bounded.
            self._number.clear()
            self._asks, self.caps, self.weights, self.rivals = [], [], [], []
            self._fields = [bytearray() for _ in self._fields]
            new = list(dict.fromkeys(asks))
        if new:
            self._add(new)
        return [self._number[ask] for ask in asks]

    def _add(self, new: Sequence[Ask]) -> None:
        """Rows and columns of new asks. The slots two asks share come from packed sums: every
        agent holds a field per ask it can serve, so the sum over an ask's agents of their
        fields times their capacity holds its shared slots with every ask, one per field
        (big-int adds over an ask's agents, not a set intersection per pair: 340 asks of 1,000
        agents in ~17 ms of CPU, not 28)."""
        masks, caps, fields, width = self._asks, self.caps, self._fields, self._width
        first = len(masks)
        members = []
        for ask in new:
            self._number[ask] = len(masks)
            mask = self.mask(*ask)
            masks.append(mask)
            caps.append(self.slots(mask))
            members.append(_positions(mask))
        for field in fields:
            field.extend(bytes(width * len(new)))
        for k, agents in enumerate(members, first):
            for agent in agents:
                fields[agent][k * width] = 1
        packed = [capacity * int.from_bytes(field, "little")
                  for capacity, field in zip(self._capacity, fields, strict=True)]
        divisors = [cap or 1 for cap in caps]
        no_slots = [j for j, cap in enumerate(caps) if not cap]
        slots_of = []
        for k, agents in enumerate(members, first):
            total = sum(map(packed.__getitem__, agents))
            shared = array(self._typecode, total.to_bytes(len(masks) * width, "little"))
            if sys.byteorder == "big":
                shared.byteswap()
            slots = shared.tolist()
            slots_of.append(slots)
            # Of one chat asking j ahead, the share of j's slots that could serve k: 1 when
            # all of them could (a chat nobody can serve is held back by its own kind).
            row = list(map(truediv, slots, divisors))
            for j in no_slots:
                row[j] = _whole(masks[k], masks[j])
            rivals = (list(map(bool, slots)) if 0 not in self.by_capacity
                      else list(map(bool, map(masks[k].__and__, masks))))
            row[k], rivals[k] = 1.0, True
            self.weights.append(row)
            self.rivals.append(rivals)
        for j in range(first):  # the older asks' columns for the new ones
            self.weights[j].extend(slots[j] / caps[k] if caps[k] else _whole(masks[j], masks[k])
                                   for k, slots in enumerate(slots_of, first))
            self.rivals[j].extend(self.rivals[k][j] for k in range(first, len(masks)))


def _positions(mask: int) -> list[int]:
    """The set bits of a mask, lowest first."""
    bits = format(mask, "b")[::-1]
    found = []
    at = bits.find("1")
    while at >= 0:
        found.append(at)
        at = bits.find("1", at + 1)
    return found


def _whole(mine: int, theirs: int) -> float:
    """Weight of a chat ahead whose agents have no slots: 1 if all of them could serve mine."""
    return 1.0 if mine & theirs and mine & theirs == theirs else 0.0


def queue_status(chats: Sequence[tuple[str, Ask, Sequence[tuple[float, Ask]]]], pools: Pools,
                 handle_seconds: float, patience: float = 0.0
                 ) -> dict[str, tuple[int, float | None]]:
    """(position, ETA) of every waiting chat, given in queue order as (id, what it asks now,
    [(seconds from now, what it will ask from then on)] for its later relaxation steps).

    The position is 1 + the chats ahead it competes with (some online agent could serve both,
    or they ask the same); the ETA counts each chat ahead by its weight (the module docstring).
    Both are kept per ask: the first chat of an ask sums over the asks seen so far, and each
    later one adds the chats since the previous one of its ask (summed in C). Cost: the pairs
    of asks new to ``pools``, then 2-4 ms per 1,000 waiting chats of 340 kinds.
    """
    order = list(dict.fromkeys([sig for _, sig, _ in chats]))
    number = dict(zip(order, pools.numbers(order), strict=True))
    weights, rivals = pools.weights, pools.rivals
    rates = [cap / handle_seconds for cap in pools.caps]
    n = len(rates)
    seen = [0] * n
    met: list[int] = []  # the asks met so far, in order of their first chat
    log: list[int] = []  # the ask of each chat so far, in queue order
    last = [-1] * n  # where in the log the previous chat of each ask is
    held_back = [0.0] * n  # the weighted chats ahead of that previous chat
    competing = [0] * n  # and the chats ahead it competes with
    result: dict[str, tuple[int, float | None]] = {}
    for cid, sig, later in chats:
        i = number[sig]
        start = last[i]
        if start < 0:  # over the asks met so far, in that order (an ask not met counts 0)
            counts = list(map(seen.__getitem__, met))
            ahead = sum(map(mul, map(weights[i].__getitem__, met), counts))
            place = sum(map(mul, map(rivals[i].__getitem__, met), counts))
            met.append(i)
        elif start == len(log) - 1:  # right behind one of its ask
            ahead = held_back[i] + weights[i][i]
            place = competing[i] + rivals[i][i]
        else:
            since = itemgetter(*log[start:])  # a tuple of each row's items in one call
            ahead = held_back[i] + sum(since(weights[i]))
            place = competing[i] + sum(since(rivals[i]))
        held_back[i], competing[i], last[i] = ahead, place, len(log)
        log.append(i)
        seen[i] += 1
        units = ahead + 1.0
        rate = rates[i]
        if later:
            result[cid] = (place + 1, wait_estimate(units, [(0.0, rate)] + [
                (max(at, 0.0), pools.slots_of(s) / handle_seconds) for at, s in later],
                patience))
        else:  # wait_estimate of the one piece [(0.0, rate)], without building it
            result[cid] = (place + 1, _serve_time(units, rate, patience) * median_factor(units)
                           if rate > 0 else None)
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
