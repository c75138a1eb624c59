"""Queueing models for staffing a chat desk: Erlang C (M/M/c) and Erlang A (M/M/c+M).

All arithmetic is stable for hundreds of servers: Erlang B by its recursion (never a
factorial), Erlang A's birth-death distribution in log space, truncated where the tail is
negligible. No numpy/scipy: the sums are short.

Conventions (the simulator measures the same things):
- ``servers`` is chat *slots*: c agents each handling k chats at once are c*k servers, which is
  exact when a chat's handle time does not depend on how many others the agent has open.
- ``handle_time`` is the mean handle time 1/mu in seconds; ``arrival_rate`` is lambda per second;
  the offered load A = lambda * handle_time in Erlangs.
- ``p_wait``: share of arrivals that find every slot busy (PASTA).
- ``service_level``: share of *all* arrivals answered within ``threshold`` seconds (an abandoned
  chat counts as not answered in time, however early it left).
- ``asa``: mean wait of the answered chats, zero waits included (average speed of answer).
- ``abandon_rate``: share of arrivals that leave before being answered.
- ``occupancy``: mean share of slots busy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LOG_TAIL = 50.0  # stop the state space where p_n < e^-50 ~ 2e-22 of the peak: below double noise
POISSON_TAIL_SIGMAS = 10.0  # uniformization steps: mean + 10 sd of the Poisson count (~1e-23 left)


@dataclass(frozen=True)
class QueueMetrics:
    """The five figures a desk is judged by (see the module docstring for definitions)."""

    p_wait: float
    service_level: float
    asa: float
    abandon_rate: float
    occupancy: float


def _check(servers: int, arrival_rate: float, handle_time: float) -> None:
    if servers < 1:
        raise ValueError("servers must be >= 1")
    if arrival_rate < 0 or handle_time <= 0:
        raise ValueError("arrival_rate must be >= 0 and handle_time > 0")


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/c/c by the recursion B(n) = A B(n-1) / (n + A B(n-1))."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must be >= 0")
    b = 1.0
    for n in range(1, servers + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability an arrival waits in M/M/c; 1.0 when load >= servers (the queue grows)."""
    if load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    rho = load / servers
    return b / (1.0 - rho * (1.0 - b))


def erlang_c_metrics(servers: int, arrival_rate: float, handle_time: float,
                     threshold: float) -> QueueMetrics:
    """Erlang C figures; needs a stable queue (load < servers)."""
    _check(servers, arrival_rate, handle_time)
    load = arrival_rate * handle_time
    if load >= servers:
        raise ValueError(f"unstable: load {load:.3g} Erlangs >= {servers} servers")
    c = erlang_c(servers, load)
    drain = (servers - load) / handle_time  # c*mu - lambda: rate the queue empties at
    return QueueMetrics(
        p_wait=c,
        service_level=1.0 - c * math.exp(-drain * threshold),
        asa=c / drain,
        abandon_rate=0.0,
        occupancy=load / servers,
    )


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(math.fsum(math.exp(v - top) for v in values))


def erlang_a_distribution(servers: int, arrival_rate: float, handle_time: float,
                          patience: float) -> list[float]:
    """Stationary probabilities p_0..p_N of M/M/c+M (death rate min(n,c) mu + (n-c)+ theta),
    computed in log space and truncated where p_n falls LOG_TAIL below the peak."""
    _check(servers, arrival_rate, handle_time)
    if patience <= 0:
        raise ValueError("patience must be > 0 (use Erlang C for infinitely patient visitors)")
    if arrival_rate == 0:
        return [1.0]
    mu, theta = 1.0 / handle_time, 1.0 / patience
    log_lambda = math.log(arrival_rate)
    logs = [0.0]
    peak = 0.0
    n = 0
    while True:
        n += 1
        death = min(n, servers) * mu + max(n - servers, 0) * theta
        logs.append(logs[-1] + log_lambda - math.log(death))
        peak = max(peak, logs[-1])
        # Past the servers and the mode the terms only shrink, so the tail can be cut.
        if n > servers and arrival_rate < death and logs[-1] < peak - LOG_TAIL:
            break
    total = _logsumexp(logs)
    return [math.exp(v - total) for v in logs]


def erlang_a_metrics(servers: int, arrival_rate: float, handle_time: float, patience: float,
                     threshold: float) -> QueueMetrics:
    """Erlang A (Palm/Garnett) figures with exponential patience of mean ``patience`` s.

    A chat that arrives with q others waiting ahead moves up at rate c mu + j theta while j are
    ahead and abandons at rate theta; so it is answered with probability
    c mu / (c mu + (q+1) theta) and, given that, waits a sum of exponentials of rates
    c mu + (j+1) theta, j = q..0, whose distribution is found by uniformization (stable: all
    terms positive).
    """
    probs = erlang_a_distribution(servers, arrival_rate, handle_time, patience)
    mu, theta = 1.0 / handle_time, 1.0 / patience
    cmu = servers * mu
    queue_probs = probs[servers:]  # arrival finds q = n - c waiting ahead
    p_wait = math.fsum(queue_probs)
    mean_queue = math.fsum(q * p for q, p in enumerate(queue_probs))
    abandon = theta * mean_queue / arrival_rate if arrival_rate > 0 else 0.0
    busy = math.fsum(min(n, servers) * p for n, p in enumerate(probs))
    served_mass: list[float] = []  # P(arrive with q ahead and be answered)
    answered_wait = 0.0  # E[wait ; answered]
    phase_mean = 0.0
    for q, p in enumerate(queue_probs):
        phase_mean += 1.0 / (cmu + (q + 1) * theta)
        mass = p * cmu / (cmu + (q + 1) * theta)
        served_mass.append(mass)
        answered_wait += mass * phase_mean
    answered = 1.0 - p_wait + math.fsum(served_mass)
    in_time = _answered_within(served_mass, cmu, theta, threshold)
    return QueueMetrics(
        p_wait=p_wait,
        service_level=1.0 - p_wait + in_time,
        asa=answered_wait / answered if answered > 0 else 0.0,
        abandon_rate=abandon,
        occupancy=busy / servers,
    )


def _answered_within(mass: list[float], cmu: float, theta: float, threshold: float) -> float:
    """Sum over q of mass[q] * P(Exp(r_q) + ... + Exp(r_0) <= threshold), r_j = cmu+(j+1)theta.

    Uniformization at rate r_max: each Poisson event moves phase j down with prob r_j / r_max.
    """
    if not mass or threshold <= 0:
        return 0.0
    rates = [cmu + (j + 1) * theta for j in range(len(mass))]
    top = rates[-1]
    moves = [r / top for r in rates]
    x = top * threshold
    steps = int(x + POISSON_TAIL_SIGMAS * math.sqrt(x) + 20)
    v = list(mass)
    absorbed = 0.0
    total = 0.0
    weight_sum = 0.0
    log_x = math.log(x)
    for k in range(steps + 1):
        weight = math.exp(-x + k * log_x - math.lgamma(k + 1))
        total += weight * absorbed
        weight_sum += weight
        # One uniformized step: phase 0 finishes into "answered", phase j moves to j-1.
        absorbed += v[0] * moves[0]
        v = [v[j] * (1 - moves[j]) + v[j + 1] * moves[j + 1] for j in range(len(v) - 1)] + [
            v[-1] * (1 - moves[-1])]
    return total + (1.0 - weight_sum) * absorbed


def staff_for(arrival_rate: float, handle_time: float, threshold: float, target: float, *,
              concurrency: int = 1, patience: float | None = None, max_agents: int = 10_000
              ) -> int:
    """Fewest agents (each with ``concurrency`` slots) meeting the service-level target.

    The search starts at ceil(target x load / concurrency): answering that share needs the
    slots to carry that share of the load, so no smaller desk can meet it (and Erlang A's
    sums, ~1 ms each at ten agents, are not spent on desks far too small)."""
    load = arrival_rate * handle_time
    for agents in range(max(1, math.ceil(target * load / concurrency - 1e-9)), max_agents + 1):
        slots = agents * concurrency
        if patience is None:
            if arrival_rate * handle_time >= slots:
                continue
            metrics = erlang_c_metrics(slots, arrival_rate, handle_time, threshold)
        else:
            metrics = erlang_a_metrics(slots, arrival_rate, handle_time, patience, threshold)
        if metrics.service_level >= target:
            return agents
    raise ValueError(f"no staffing up to {max_agents} agents meets {target:.0%}")
