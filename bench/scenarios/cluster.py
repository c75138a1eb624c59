"""The cluster scenarios: one chat process on the redis backend against two sharing one Redis
and one database (a SQLite file, or a PostgreSQL database), the offered rate ramped until
delivery falls behind."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from ..population import ChatPopulation, close_all, open_chat, prepare_chat
from ..servers import REDIS_SERVER, ChatServer, PostgresDatabase, RedisServer, cpu_seconds
from ..stats import CHAT, abba
from .chat_vs_echo import chat_messages
from .scale import Scale, scenario_result

# --- 5. two processes sharing Redis and the database ----------------------------------------

ONE, TWO = "one", "two"  # one chat process on the redis backend / two of them, one service
P99_BOUND_MS = 100.0  # above this delivery p99, a step has fallen behind
# Agents send 1/(2 * conversations / agents) of the messages each; at the ramp's top rates
# that is hundreds of frames/s per agent socket, so the flood limits are lifted further.
RAMP_LIMITS = {"CHATSERVER_LIMITS_FRAMES_PER_SECOND": "10000",
               "CHATSERVER_LIMITS_FRAME_BURST": "20000",
               "CHATSERVER_LIMITS_SEND_QUEUE": "8192"}


async def redis_two_process(scale: Scale) -> dict[str, Any]:
    """The conversations load on one chat process with the redis backend, then on two
    processes sharing one Redis and one SQLite file (visitors and agents half on each); the
    offered rate climbs until delivery falls behind. The figure: sustained rate, two / one.

    Each configuration has its own private redis-server (free port, nothing saved, never the
    machine's 6379). Both configurations stay up for the whole scenario and their ramps are
    interleaved one two two one one two, so machine drift hits both alike.
    """
    return await _two_process("redis_two_process", scale, postgres=False)


async def pg_two_process(scale: Scale) -> dict[str, Any]:
    """`redis_two_process` with the store on PostgreSQL: each configuration has a database of
    its own (created on the service, dropped after) that its one or two processes share. The
    PostgreSQL backends' CPU is measured too (`db_cpu_pct`, `total_cpu_us_per_msg`)."""
    reason = PostgresDatabase.unavailable()
    if reason:
        return {"scenario": "pg_two_process", "status": "skipped", "notes": reason}
    return await _two_process("pg_two_process", scale, postgres=True)


async def _two_process(name: str, scale: Scale, *, postgres: bool) -> dict[str, Any]:
    if not RedisServer.available():
        return {"scenario": name, "status": "skipped",
                "notes": f"redis-server not found ({REDIS_SERVER}); install it to run this"}
    m = scale.conversations
    started: list[Any] = []
    databases: dict[str, PostgresDatabase] = {}
    try:
        populations: dict[str, ChatPopulation] = {}
        redis: dict[str, RedisServer] = {}
        n_agents = 0
        for kind, processes in ((ONE, 1), (TWO, 2)):
            redis[kind] = RedisServer().start()
            started.append(redis[kind])
            env = {**RAMP_LIMITS, "CHATSERVER_CLUSTER_BACKEND": "redis",
                   "CHATSERVER_CLUSTER_REDIS_URL": redis[kind].url}
            if postgres:
                databases[kind] = PostgresDatabase().create()
            url = databases[kind].url if postgres else None
            first, n_agents = prepare_chat(m, extra_env=env, min_agents=2, db=url)
            servers = [first] + [ChatServer(env, db=first.db) for _ in range(processes - 1)]
            for server in servers:  # one after the other: the first one makes the schema
                started.append(server)
                server.start()
            populations[kind] = await open_chat(first, m, n_agents, deadline_seconds=600,
                                                spread=servers)
        slices = []
        for kind in abba(scale.reps):
            kind = ONE if kind == CHAT else TWO
            database = databases.get(kind)
            db_cpu = database.backend_cpu if database is not None else None
            ramp = await _ramp(populations[kind], scale, redis[kind].pid, db_cpu)
            slices.append({"server": kind, **ramp, **await _cost(
                populations[kind], scale, redis[kind].pid, db_cpu)})
        two = populations[TWO]
        cross = sum(v.home != a.home for v, a in two.pairs()) / max(1, len(two.pairs()))
        for population in populations.values():
            await close_all([v.conn for v in population.visitors] +
                            [a.conn for a in population.agents])
    finally:
        for child in reversed(started):  # the second process before the database's owner
            child.stop()
        for created in databases.values():
            created.drop()
    store = "one PostgreSQL database" if postgres else "one SQLite file"
    return scenario_result(
        name, scale,
        {"conversations": m, "agents": n_agents, "p99_bound_ms": P99_BOUND_MS,
         "ramp_start": scale.ramp_start, "ramp_factor": scale.ramp_factor,
         "ramp_refine": scale.ramp_refine, "ramp_window_s": scale.ramp_window,
         "cross_process_share": cross},
        slices, ["sustained_per_s", "sustained_p99_ms", "first_behind_offered",
                 "cpu_us_per_msg", "total_cpu_us_per_msg", "server_cpu_pct", "db_cpu_pct",
                 "redis_cpu_pct", "client_cpu_pct", "steps", "cost_us_per_msg",
                 "cost_p99_ms", "cost_lost_or_late"],
        f"sustained = delivered/s at the highest offered rate with nothing lost or late and "
        f"delivery p99 <= {P99_BOUND_MS:.0f} ms; two processes share one Redis and {store}, "
        f"visitors and agents half on each ({100 * cross:.0f} % of chats cross "
        f"processes). On 2 cores the two processes, redis-server and the load generator share "
        f"the same cores: the ratio measures contention as much as scaling", kinds=(TWO, ONE))


async def _cost(population: ChatPopulation, scale: Scale, redis_pid: int,
                db_cpu: Callable[[], dict[int, float]] | None) -> dict[str, Any]:
    """The scaling cost: one slice at the scale's rate (which one process sustains), CPU per
    delivered message summed over the chat processes, redis-server and (on PostgreSQL) the
    database; two processes / one at the same offered load is the price of spreading out."""
    await settle([s.pid for s in population.servers], pause=scale.pause)
    at = await chat_messages(population, scale, rate=scale.rate,
                             other_pids={"redis": redis_pid}, db_cpu=db_cpu)
    redis_us = (1e4 * at["redis_cpu_pct"] / at["delivered_per_s"]
                if at["delivered_per_s"] else math.nan)
    return {"cost_offered_per_s": scale.rate,
            "cost_us_per_msg": at["total_cpu_us_per_msg"] + redis_us,
            "cost_p99_ms": at["latency_p99_ms"], "cost_lost_or_late": at["lost_or_late"]}


def _kept_up(step: dict[str, Any]) -> bool:
    p99 = step["latency_p99_ms"]
    return step["lost_or_late"] == 0 and not math.isnan(p99) and p99 <= P99_BOUND_MS


async def _ramp(population: ChatPopulation, scale: Scale, redis_pid: int,
                db_cpu: Callable[[], dict[int, float]] | None) -> dict[str, Any]:
    """Climb the offered rate geometrically until a step falls behind (or, when the first
    step already does, descend until one keeps up: a slower store must not read as 0), then
    bisect between the highest step that kept up and the lowest that did not."""
    steps: list[dict[str, Any]] = []
    good: dict[str, Any] | None = None
    bad: dict[str, Any] | None = None
    rate = scale.ramp_start

    async def step(offered: float) -> dict[str, Any]:
        await settle([s.pid for s in population.servers], pause=scale.pause)
        result = await chat_messages(population, scale, rate=offered,
                                     other_pids={"redis": redis_pid}, db_cpu=db_cpu)
        result["kept_up"] = _kept_up(result)
        steps.append(result)
        return result

    while len(steps) < scale.ramp_steps:
        result = await step(rate)
        if result["kept_up"]:
            good = result
            if bad is not None:  # descending: the first rate that keeps up
                break
            rate *= scale.ramp_factor
        else:
            bad = result
            if good is not None:  # climbing: the first rate that falls behind
                break
            rate /= scale.ramp_factor
    for _ in range(scale.ramp_refine):
        if good is None or bad is None or len(steps) >= scale.ramp_steps:
            break
        result = await step((good["offered_per_s"] + bad["offered_per_s"]) / 2)
        if result["kept_up"]:
            good = result
        else:
            bad = result
    at = good or {}
    return {"sustained_per_s": at.get("delivered_per_s", 0.0),
            "sustained_offered": at.get("offered_per_s", 0.0),
            "sustained_p99_ms": at.get("latency_p99_ms", math.nan),
            "first_behind_offered": bad["offered_per_s"] if bad else math.nan,
            "cpu_us_per_msg": at.get("cpu_us_per_msg", math.nan),
            "total_cpu_us_per_msg": at.get("total_cpu_us_per_msg", math.nan),
            "server_cpu_pct": at.get("server_cpu_pct", math.nan),
            "db_cpu_pct": at.get("db_cpu_pct", math.nan),
            "redis_cpu_pct": at.get("redis_cpu_pct", math.nan),
            "client_cpu_pct": at.get("client_cpu_pct", math.nan),
            "processes": len(population.servers), "steps": len(steps),
            "ramp": [{k: v for k, v in s.items() if k in _STEP_KEYS} for s in steps]}


_STEP_KEYS = {"offered_per_s", "sent", "delivered_per_s", "lost_or_late", "latency_p50_ms",
              "latency_p99_ms", "latency_max_ms", "server_cpu_pct", "redis_cpu_pct",
              "db_cpu_pct", "client_cpu_pct", "cpu_us_per_msg", "total_cpu_us_per_msg",
              "kept_up"}


async def settle(pids: list[int], limit_s: float = 15.0, *, pause: float = 1.0) -> None:
    """Wait until the servers are idle (a step that fell behind leaves a backlog), so late
    frames of one step are not counted as deliveries of the next: below 15 % of a core each
    over a look of 0.3 s (`pause` of that at a small scale, whose steps leave no backlog)."""
    look = 0.3 * pause
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in pids)
        await asyncio.sleep(look)
        if sum(cpu_seconds(pid) for pid in pids) - before < look * 0.15 * len(pids):
            return
