"""Discrete-event simulation of a chat desk running the real routing board, beside Erlang.

Virtual time, one ``heapq`` of events: Poisson arrivals, exponential handle times, optional
exponential patience (a visitor leaves the queue when it runs out). Every arrival is enqueued on
a real ``routing_board.Board`` and every free slot is found by its ``dispatch``; offers are
accepted at once (``auto_accept``). Figures are measured over chats arriving after the warm-up,
with 95 % confidence intervals by batch means (the measured span cut into equal batches, a
Student t over the batch figures). A proportion's interval is cut to [0, 1]; ASA's is taken on
a log scale, since waits are never negative and their batch means are skewed right. For a
single-skill pool it prints the Erlang C prediction (Erlang A when patience is set) beside each
figure.

    python -m chatserver.core.simulation --agents 10 --arrival-rate 0.0444 --handle-time 180 \
        --threshold 20 --duration 400000 --seed 1
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chatserver.core.erlang import QueueMetrics, erlang_a_metrics, erlang_c_metrics
from chatserver.core.eta import EtaAccuracy
from chatserver.core.routing import Needs, RoutingRules
from chatserver.core.routing_board import Board

KEYS = ("p_wait", "service_level", "asa", "abandon_rate", "occupancy")
SKILL = "chat"  # the one skill of a single pool
# Student t 0.975 quantiles by degrees of freedom; past 30, 1.96 + 2.5/df is within 0.002.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
ARRIVE, DONE, ABANDON, TICK = range(4)


def t975(df: int) -> float:
    """Two-sided 95 % Student t quantile."""
    return T975[df - 1] if df <= len(T975) else 1.96 + 2.5 / df


@dataclass(frozen=True)
class SimConfig:
    """One simulated desk. Without ``agent_skills``/``needs_mix`` it is a single-skill pool."""

    agents: int = 10
    arrival_rate: float = 8 / 180  # per second
    handle_time: float = 180.0  # mean seconds per chat
    threshold: float = 20.0  # service-level target: answered within this many seconds
    duration: float = 400_000.0  # measured span, seconds of virtual time
    concurrency: int = 1  # chats per agent at once
    patience: float | None = None  # mean seconds a visitor waits before leaving; None = forever
    warmup: float | None = None  # default: 20 handle times, enough to forget the empty start
    batches: int = 20  # batch means: 20 batches give t(19) = 2.09
    agent_skills: Sequence[Mapping[str, int]] | None = None
    needs_mix: Sequence[tuple[float, Needs]] | None = None  # (weight, needs) per arrival
    rules: RoutingRules = field(default_factory=lambda: RoutingRules(auto_accept=True))
    # Handle-time spread: None draws exponential times (the Erlang models' assumption); a
    # number draws lognormal times of that coefficient of variation (sd / mean), as real chats.
    handle_cv: float | None = None
    track_eta: bool = False  # record every ETA shown and the wait that followed (slower)

    @property
    def single_pool(self) -> bool:
        return self.agent_skills is None and self.needs_mix is None


@dataclass(frozen=True)
class Estimate:
    """A measured figure and its 95 % confidence interval [low, high]."""

    value: float
    low: float
    high: float

    def covers(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass(frozen=True)
class SimResult:
    """Measured figures, the model's prediction (single pool only) and the sample size;
    with ``track_eta``, the accuracy of the ETAs shown at entry and at every update."""

    customers: int
    estimates: Mapping[str, Estimate]
    model: QueueMetrics | None
    model_name: str | None
    eta_entry: EtaAccuracy | None = None
    eta_all: EtaAccuracy | None = None


def model_for(config: SimConfig) -> tuple[str, QueueMetrics] | None:
    """Erlang C (or A with patience) for a single pool of agents x concurrency slots."""
    if not config.single_pool:
        return None
    slots = config.agents * config.concurrency
    if config.patience is not None:
        return "erlang_a", erlang_a_metrics(slots, config.arrival_rate, config.handle_time,
                                            config.patience, config.threshold)
    if config.arrival_rate * config.handle_time >= slots:
        return None
    return "erlang_c", erlang_c_metrics(slots, config.arrival_rate, config.handle_time,
                                        config.threshold)


def simulate(config: SimConfig, rng: random.Random) -> SimResult:
    """Run the desk; deterministic for a given ``rng`` seed."""
    warmup = 20 * config.handle_time if config.warmup is None else config.warmup
    end = warmup + config.duration
    nb = config.batches
    width = config.duration / nb
    board = Board(config.rules)
    skills = config.agent_skills or [{SKILL: 1}] * config.agents
    for agent_id, agent_skills in enumerate(skills, 1):
        board.upsert_agent(agent_id, capacity=config.concurrency, skills=agent_skills, now=0.0,
                           status="online")
    mix = config.needs_mix or [(1.0, Needs({SKILL: 1}))]
    weights = [w for w, _ in mix]
    slots = len(skills) * config.concurrency
    ticks = not config.single_pool and len(config.rules.steps) > 1

    arrivals = [0] * nb
    waited = [0] * nb
    in_time = [0] * nb
    answered = [0] * nb
    wait_sum = [0.0] * nb
    abandoned = [0] * nb
    busy_time = [0.0] * nb
    busy = 0
    last = 0.0
    arrived: dict[str, float] = {}  # waiting chat -> arrival time
    shown: dict[str, tuple[int, int | None]] = {}  # waiting chat -> (position, ETA) last shown
    etas: dict[str, list[tuple[float, float | None]]] = {}  # waiting chat -> (when, ETA) shown
    entry_errors: list[float] = []
    all_errors: list[float] = []
    if config.handle_cv is None:
        def handle_time() -> float:
            return rng.expovariate(1.0 / config.handle_time)
    else:
        sigma2 = math.log1p(config.handle_cv ** 2)  # lognormal of that mean and sd / mean
        mu, sigma = math.log(config.handle_time) - sigma2 / 2, math.sqrt(sigma2)

        def handle_time() -> float:
            return rng.lognormvariate(mu, sigma)
    events: list[tuple[float, int, int, str]] = []
    seq = 0

    def push(t: float, kind: int, cid: str) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, cid))

    bounds = [warmup + j * width for j in range(nb)] + [end]

    def batch(t: float) -> int:
        """Index of the batch holding t (bounds[i] <= t < bounds[i+1]), -1 outside."""
        return -1 if t < warmup or t >= end else bisect_right(bounds, t) - 1

    def account(t: float) -> None:
        """Busy slot-seconds of [last, t] into the batches they fall in."""
        nonlocal last
        a, b = max(last, warmup), min(t, end)
        while a < b:
            i = bisect_right(bounds, a) - 1
            edge = min(b, bounds[i + 1])
            busy_time[i] += busy * (edge - a)
            a = edge
        last = t

    def serve(now: float) -> None:
        nonlocal busy
        for offer in board.dispatch(now):
            cid = offer.conversation_id
            if not config.rules.auto_accept:
                board.accept(cid, offer.agent_id, now)
            t0 = arrived.pop(cid)
            busy += 1
            i = batch(t0)
            if i >= 0:
                answered[i] += 1
                wait_sum[i] += now - t0
                waited[i] += now > t0
                in_time[i] += now - t0 <= config.threshold
            shown.pop(cid, None)
            for j, (at, eta) in enumerate(etas.pop(cid, ())):
                if i >= 0 and eta is not None and now > at:
                    error = (eta - (now - at)) / (now - at)
                    all_errors.append(error)
                    if j == 0:
                        entry_errors.append(error)
            push(now + handle_time(), DONE, cid)

    def show(now: float) -> None:
        """What the live dispatcher does: a queue frame whenever (position, ETA) changes."""
        for cid, (position, eta) in board.queue_status(now).items():
            frame = (position, None if eta is None else round(eta))
            if shown.get(cid) != frame:
                shown[cid] = frame
                etas.setdefault(cid, []).append((now, eta))

    push(rng.expovariate(config.arrival_rate), ARRIVE, "c1")
    while events:
        now, _, kind, cid = heapq.heappop(events)
        account(now)
        if kind == ARRIVE:
            n = int(cid[1:])
            if now < end:
                push(now + rng.expovariate(config.arrival_rate), ARRIVE, f"c{n + 1}")
            else:
                continue
            i = batch(now)
            if i >= 0:
                arrivals[i] += 1
            arrived[cid] = now
            needs = mix[0][1] if len(mix) == 1 else rng.choices(mix, weights)[0][1]
            board.enqueue(cid, needs, 0, now)
            if config.patience is not None:
                push(now + rng.expovariate(1.0 / config.patience), ABANDON, cid)
            if ticks:
                for step in config.rules.steps[1:]:
                    push(now + step.after_seconds, TICK, cid)
            serve(now)
        elif kind == DONE:
            board.release(cid, now)
            busy -= 1
            serve(now)
        elif kind == ABANDON:
            if cid in arrived:
                t0 = arrived.pop(cid)
                board.withdraw(cid, now)
                shown.pop(cid, None)
                etas.pop(cid, None)  # the wait it would have had is unknown
                i = batch(t0)
                if i >= 0:
                    abandoned[i] += 1
                    waited[i] += 1
        else:
            serve(now)
        if config.track_eta and arrived:
            show(now)
        if now >= end and not arrived:
            # Every measured chat is answered or gone: the rest cannot change a figure.
            break

    per_batch = {
        "p_wait": [w / n for w, n in zip(waited, arrivals, strict=True) if n],
        "service_level": [s / n for s, n in zip(in_time, arrivals, strict=True) if n],
        "asa": [w / a for w, a in zip(wait_sum, answered, strict=True) if a],
        "abandon_rate": [x / n for x, n in zip(abandoned, arrivals, strict=True) if n],
        "occupancy": [b / (slots * width) for b in busy_time],
    }
    total = sum(arrivals)
    point = {
        "p_wait": sum(waited) / total if total else 0.0,
        "service_level": sum(in_time) / total if total else 0.0,
        "asa": sum(wait_sum) / sum(answered) if sum(answered) else 0.0,
        "abandon_rate": sum(abandoned) / total if total else 0.0,
        "occupancy": sum(busy_time) / (slots * config.duration),
    }
    estimates = {key: _estimate(point[key], per_batch[key], log_scale=key == "asa")
                 for key in KEYS}
    model = model_for(config)
    eta = (EtaAccuracy.of(entry_errors), EtaAccuracy.of(all_errors)) if config.track_eta else (
        None, None)
    return SimResult(total, estimates, model[1] if model else None, model[0] if model else None,
                     *eta)


def _half_width(values: list[float]) -> float:
    """95 % half-width from batch figures (inf with fewer than two batches)."""
    n = len(values)
    if n < 2:
        return math.inf
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return t975(n - 1) * math.sqrt(var / n)


def _estimate(value: float, batches: list[float], *, log_scale: bool) -> Estimate:
    """The 95 % interval around `value`: a proportion's cut to [0, 1]; a positive, skewed
    figure (ASA) on a log scale, value / f to value * f with f = exp(half-width / value)
    (the delta method), so it never goes below 0 and reaches further above than below."""
    half = _half_width(batches)
    if not log_scale:
        return Estimate(value, max(0.0, value - half), min(1.0, value + half))
    if value <= 0 or math.isinf(half):  # nobody waited, or too few batches to say
        return Estimate(value, 0.0, 0.0 if half == 0 else math.inf)
    spread = math.exp(min(half / value, 700.0))  # 700: exp() stays a finite float
    return Estimate(value, value / spread, value * spread)


# Command line -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``chatserver simulate``."""
    d = SimConfig()
    parser.add_argument("--agents", type=int, default=d.agents, help="agents in the pool")
    parser.add_argument("--arrival-rate", type=float, default=d.arrival_rate,
                        help="chats per second (Poisson)")
    parser.add_argument("--handle-time", type=float, default=d.handle_time,
                        help="mean handle time in seconds (exponential)")
    parser.add_argument("--threshold", type=float, default=d.threshold,
                        help="service level: answered within this many seconds")
    parser.add_argument("--duration", type=float, default=d.duration,
                        help="measured seconds of virtual time")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same run)")
    parser.add_argument("--concurrency", type=int, default=1, help="chats per agent at once")
    parser.add_argument("--patience", type=float, default=None,
                        help="mean seconds a visitor waits before leaving (exponential)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds simulated before measuring (default 20 handle times)")
    parser.add_argument("--batches", type=int, default=d.batches, help="batches for the CIs")
    parser.add_argument("--handle-cv", type=float, default=None,
                        help="lognormal handle times of this sd / mean (default exponential)")
    parser.add_argument("--eta", action="store_true",
                        help="also measure the ETAs shown against the waits that followed")
    parser.add_argument("--json", action="store_true", help="print JSON")


def command(args: argparse.Namespace) -> int:
    """Run one simulation from parsed options and print it; returns the exit status."""
    config = SimConfig(agents=args.agents, arrival_rate=args.arrival_rate,
                       handle_time=args.handle_time, threshold=args.threshold,
                       duration=args.duration, concurrency=args.concurrency,
                       patience=args.patience, warmup=args.warmup, batches=args.batches,
                       handle_cv=args.handle_cv, track_eta=args.eta)
    result = simulate(config, random.Random(args.seed))
    print(json.dumps(as_dict(result), indent=2) if args.json else format_table(result))
    return 0


def as_dict(result: SimResult) -> dict[str, object]:
    """``--json``: each figure, its 95 % CI and ``erlang_<key>`` beside it."""
    out: dict[str, object] = {"customers": result.customers, "model": result.model_name}
    for key in KEYS:
        est = result.estimates[key]
        out[key] = est.value
        out[f"{key}_ci95"] = [est.low, est.high]
        out[f"erlang_{key}"] = getattr(result.model, key) if result.model else None
    for name, eta in (("eta_entry", result.eta_entry), ("eta_all", result.eta_all)):
        if eta is not None:
            out[name] = {"count": eta.count, "median_ape": eta.median_ape,
                         "within_30": eta.within_30, "median_bias": eta.median_bias}
    return out


def format_table(result: SimResult) -> str:
    """A plain table: figure, simulated value with its 95 % CI, the model's value."""
    name = result.model_name or "model"
    lines = [f"{result.customers} chats measured",
             f"{'figure':<14} {'simulated':>10} {'95% CI':>22} {name:>10}"]
    for key in KEYS:
        est = result.estimates[key]
        ci = f"[{est.low:.4f}, {est.high:.4f}]"
        model = f"{getattr(result.model, key):.4f}" if result.model else "-"
        lines.append(f"{key:<14} {est.value:>10.4f} {ci:>22} {model:>10}")
    for name, eta in (("at entry", result.eta_entry), ("every update", result.eta_all)):
        if eta is not None:
            lines.append(f"ETA {name}: {eta.count} shown, median error {eta.median_ape:.1%}, "
                         f"{eta.within_30:.1%} within 30 %, median bias {eta.median_bias:+.1%}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatserver simulate", description=__doc__.split(
        "\n\n")[0] if __doc__ else None)
    add_arguments(parser)
    return command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
