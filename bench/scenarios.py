"""The scenarios: each runs the chat server and the echo baseline in A B B A slices.

Every scenario is bounded in count (a `Scale`) and in time (deadlines on every wait), starts
its own servers on loopback and always stops them.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from .load import Recorder, Sender, drive, sent_time
from .population import (
    ChatPopulation,
    EchoPopulation,
    close_all,
    new_id,
    open_chat,
    open_echo,
    open_visitor,
    prepare_chat,
)
from .servers import (
    REDIS_SERVER,
    ChatServer,
    EchoServer,
    RedisServer,
    cpu_seconds,
    self_cpu_seconds,
)
from .stats import CHAT, ECHO, abba, percentile, summarize
from .wsclient import WSConn, connect, connect_many

TEXT = b"Hi, my order 4711 has not arrived yet, can you check where it is?"


@dataclass(frozen=True)
class Scale:
    """How big and how long; `standard` is the issue's targets on a 2-core machine."""

    name: str
    idle: int
    conversations: int
    rate: float  # messages/s offered over all conversations, both sides together
    storm: int
    typing_conversations: int
    supervisors: int
    typing_rate: float  # typing frames/s over all visitors
    warmup: float
    window: float
    reps: int
    max_messages: int | None = None
    # redis_two_process: the offered rate climbs from ramp_start by ramp_factor until delivery
    # falls behind, then `ramp_refine` bisections; at most ramp_steps steps of ramp_window s.
    ramp_start: float = 1000.0
    ramp_factor: float = 1.5
    ramp_refine: int = 2
    ramp_steps: int = 9
    ramp_warmup: float = 1.0
    ramp_window: float = 3.0


SCALES = {
    "tiny": Scale("tiny", idle=5, conversations=5, rate=10, storm=5, typing_conversations=3,
                  supervisors=1, typing_rate=10, warmup=0.2, window=1.0, reps=1,
                  max_messages=20, ramp_start=10, ramp_factor=2, ramp_refine=0, ramp_steps=2,
                  ramp_warmup=0.2, ramp_window=1.0),
    "quick": Scale("quick", idle=1000, conversations=200, rate=400, storm=500,
                   typing_conversations=100, supervisors=3, typing_rate=200, warmup=1.0,
                   window=3.0, reps=3, ramp_start=400, ramp_refine=1, ramp_steps=6,
                   ramp_window=2.0),
    "standard": Scale("standard", idle=10_000, conversations=1000, rate=2000, storm=5000,
                      typing_conversations=500, supervisors=5, typing_rate=1000, warmup=2.0,
                      window=8.0, reps=3, ramp_start=500),
}
DRAIN = 3.0  # seconds to wait for frames sent at the end of a window


def _result(name: str, scale: Scale, params: dict[str, Any], slices: list[dict[str, Any]],
            metrics: list[str], notes: str = "",
            kinds: tuple[str, str] = (CHAT, ECHO)) -> dict[str, Any]:
    return {"scenario": name, "scale": asdict(scale), "params": params, "slices": slices,
            "summary": summarize(slices, metrics, kinds), "notes": notes, "kinds": list(kinds)}


# --- 1. idle visitors -------------------------------------------------------------------------

async def idle(scale: Scale) -> dict[str, Any]:
    """N visitors connect, say hello and stay: RSS per connection and handshakes/s."""
    slices = []
    for server_kind in abba(scale.reps):
        slices.append(await _idle_slice(server_kind, scale.idle))
    return _result("idle", scale, {"connections": scale.idle}, slices,
                   ["rss_kb_per_conn", "handshakes_per_s", "cpu_us_per_handshake",
                    "client_cpu_pct"],
                   "chat: upgrade + hello/welcome (a visitor row is written); "
                   "echo: upgrade + one echoed frame")


async def _idle_slice(kind: str, count: int) -> dict[str, Any]:
    server: ChatServer | EchoServer = ChatServer() if kind == CHAT else EchoServer()
    server.start()
    conns: list[WSConn] = []
    try:
        async def one(i: int) -> WSConn:
            if kind == CHAT:
                return (await open_visitor(server.port)).conn
            conn = await connect(server.port, "/ws/echo")
            conn.send({"type": "hello"})
            await conn.recv()
            return conn

        for conn in await connect_many(3, one):  # warm: imports and caches on first use
            conn.abort()
        await asyncio.sleep(0.5)
        rss0, cpu0, client0 = server.rss(), server.cpu(), self_cpu_seconds()
        start = time.monotonic()
        conns = await connect_many(count, one, concurrency=200, deadline=start + 300)
        elapsed = time.monotonic() - start
        cpu, client = server.cpu() - cpu0, self_cpu_seconds() - client0
        await asyncio.sleep(1.0)  # let buffers settle
        rss1 = server.rss()
        return {"server": kind, "connections": count, "rss_before_mb": rss0 / 2**20,
                "rss_after_mb": rss1 / 2**20, "rss_kb_per_conn": (rss1 - rss0) / 1024 / count,
                "handshakes_per_s": count / elapsed, "connect_s": elapsed,
                "cpu_us_per_handshake": 1e6 * cpu / count,
                "client_cpu_pct": 100 * client / elapsed}
    finally:
        await close_all(conns)
        server.stop()


# --- 2. active conversations -------------------------------------------------------------------

async def conversations(scale: Scale) -> dict[str, Any]:
    """M visitor-agent pairs, each side sending 1 message per period at `rate` in total."""
    m = scale.conversations
    chat, n_agents = prepare_chat(m)
    echo = EchoServer()
    try:
        chat.start()
        echo.start()
        population = await open_chat(chat, m, n_agents)
        echo_pop = await open_echo(echo, 2 * m)
        slices = []
        for kind in abba(scale.reps):
            runner = _chat_messages if kind == CHAT else _echo_messages
            slices.append({"server": kind, **await runner(
                population if kind == CHAT else echo_pop, scale)})  # type: ignore[arg-type]
        await close_all([v.conn for v in population.visitors] +
                        [a.conn for a in population.agents] + echo_pop.conns)
    finally:
        chat.stop()
        echo.stop()
    return _result("conversations", scale,
                   {"conversations": m, "agents": n_agents, "offered_msgs_per_s": scale.rate},
                   slices, ["cpu_us_per_msg", "latency_p50_ms", "latency_p99_ms",
                            "latency_max_ms", "ack_p99_ms", "delivered_per_s",
                            "server_cpu_pct", "client_cpu_pct", "lost_or_late"],
                   "chat: each message is stored (group commit, synchronous=FULL), acked "
                   "to the sender and delivered to the peer; echo: sent back")


def _chat_messages_handler(recorder: Recorder, peer: bytes) -> Any:
    """Count messages from `peer` ('visitor'/'agent') and acks; ignore the rest."""
    peer_marker = b'"from":"' + peer + b'"'

    def handle(conn: WSConn, payload: bytes) -> None:
        head = payload[:16]
        if head == b'{"type":"message':
            if peer_marker in payload:
                frame_id = json.loads(payload)["id"]
                if frame_id[0] == "m":
                    recorder.delivered(sent_time(frame_id))
        elif head == b'{"type":"ack","i':
            frame_id = json.loads(payload)["id"]
            if frame_id[0] == "m":
                recorder.acked(sent_time(frame_id))

    return handle


async def _chat_messages(population: ChatPopulation, scale: Scale, rate: float | None = None,
                         other_pids: dict[str, int] | None = None) -> dict[str, Any]:
    """One slice at `rate` (the scale's by default); the ramp's steps use its own timings."""
    recorder = Recorder()
    senders = []
    for agent in population.agents:
        agent.conn.handler = _chat_messages_handler(recorder, b"visitor")
    for cid, (visitor, agent) in population.by_conversation.items():
        visitor.conn.handler = _chat_messages_handler(recorder, b"agent")
        prefix = b'{"type":"message","text":"' + TEXT + b'","id":"'
        senders.append(Sender(visitor.conn, lambda i, p=prefix: p + i + b'"}'))
        agent_prefix = (b'{"type":"message","conversation_id":"' + cid.encode() +
                        b'","text":"' + TEXT + b'","id":"')
        senders.append(Sender(agent.conn, lambda i, p=agent_prefix: p + i + b'"}'))
    if rate is None:
        return await drive(senders, scale.rate, warmup=scale.warmup, window=scale.window,
                           drain=DRAIN, recorder=recorder, server_pid=population.server.pid,
                           max_messages=scale.max_messages)
    return await drive(senders, rate, warmup=scale.ramp_warmup, window=scale.ramp_window,
                       drain=DRAIN, recorder=recorder,
                       server_pid=[server.pid for server in population.servers],
                       max_messages=scale.max_messages, other_pids=other_pids)


async def _echo_messages(population: EchoPopulation, scale: Scale) -> dict[str, Any]:
    recorder = Recorder()

    def handle(conn: WSConn, payload: bytes) -> None:
        recorder.delivered(sent_time(json.loads(payload)["id"]))

    prefix = b'{"type":"message","text":"' + TEXT + b'","id":"'
    senders = []
    for conn in population.conns:
        conn.handler = handle
        senders.append(Sender(conn, lambda i: prefix + i + b'"}'))
    return await drive(senders, scale.rate, warmup=scale.warmup, window=scale.window,
                       drain=DRAIN, recorder=recorder, server_pid=population.server.pid,
                       max_messages=scale.max_messages)


# --- 3. reconnect storm ------------------------------------------------------------------------

async def storm(scale: Scale) -> dict[str, Any]:
    """Every visitor drops at once, misses one agent message, and resumes at once."""
    n = scale.storm
    chat, n_agents = prepare_chat(n)
    echo = EchoServer()
    try:
        chat.start()
        echo.start()
        population = await open_chat(chat, n, n_agents, deadline_seconds=600)
        echo_pop = await open_echo(echo, n)
        slices = []
        for kind in abba(scale.reps):
            if kind == CHAT:
                slices.append({"server": kind, **await _chat_storm(population)})
            else:
                slices.append({"server": kind, **await _echo_storm(echo_pop)})
        await close_all([v.conn for v in population.visitors] +
                        [a.conn for a in population.agents] + echo_pop.conns)
    finally:
        chat.stop()
        echo.stop()
    return _result("storm", scale, {"clients": n, "agents": n_agents}, slices,
                   ["all_caught_up_s", "caught_up_p50_s", "caught_up_p99_s",
                    "handshakes_per_s", "cpu_ms_total", "client_cpu_pct", "failed"],
                   "chat: reconnect + hello(token) + resume(after_seq) until the missed agent "
                   "message arrives; echo: reconnect + one echoed frame")


async def _chat_storm(population: ChatPopulation, deadline_s: float = 60.0) -> dict[str, Any]:
    for visitor in population.visitors:
        visitor.conn.abort()
    await asyncio.sleep(0.5)
    # While they are away, every agent answers each chat it holds: the events to be missed.
    acks = 0
    all_acked = asyncio.Event()

    def count_acks(conn: WSConn, payload: bytes) -> None:
        nonlocal acks
        if payload.startswith(b'{"type":"ack"'):
            acks += 1
            if acks == len(population.by_conversation):
                all_acked.set()

    missed: dict[str, str] = {}
    for cid, (_, agent) in population.by_conversation.items():
        agent.conn.handler = count_acks
        missed[cid] = new_id("s")
        agent.conn.send({"type": "message", "id": missed[cid], "conversation_id": cid,
                         "text": "Are you still there? Your parcel left the depot."})
    await asyncio.wait_for(all_acked.wait(), deadline_s)
    await asyncio.sleep(0.2)
    return await _storm(population.server.pid, population.visitors,
                        lambda v: _resume_visitor(population.server.port, v,
                                                  missed[v.conversation_id]), deadline_s)


async def _resume_visitor(port: int, visitor: Any, missed_id: str) -> float:
    """Reconnect, hello with the token, resume; the time the missed message arrived."""
    fresh = await open_visitor(port, {"visitor_token": visitor.token})
    visitor.conn = fresh.conn
    welcomed = time.monotonic()
    if fresh.conversation_id != visitor.conversation_id:
        raise RuntimeError("welcome did not bring the open conversation back")
    fresh.conn.send({"type": "resume", "conversation_id": visitor.conversation_id,
                     "after_seq": visitor.last_seq})
    frame = await fresh.conn.expect("message", seconds=60,
                                    where=lambda f: f.get("id") == missed_id)
    visitor.last_seq = frame["seq"]
    return welcomed


async def _echo_storm(population: EchoPopulation, deadline_s: float = 60.0) -> dict[str, Any]:
    for conn in population.conns:
        conn.abort()
    await asyncio.sleep(0.5)
    port = population.server.port
    index = {id(c): i for i, c in enumerate(population.conns)}

    async def resume(conn: WSConn) -> float:
        fresh = await connect(port, "/ws/echo", seconds=60)
        population.conns[index[id(conn)]] = fresh
        welcomed = time.monotonic()
        fresh.send({"type": "resume", "after_seq": 1})
        await fresh.recv(seconds=60)
        return welcomed

    return await _storm(population.server.pid, list(population.conns), resume, deadline_s)


async def _storm(pid: int, clients: list[Any], resume: Any, deadline_s: float) -> dict[str, Any]:
    """Resume every client at once; per client, the time until it had everything."""
    cpu0, client0 = cpu_seconds(pid), self_cpu_seconds()
    start = time.monotonic()

    async def one(client: Any) -> tuple[float, float]:
        welcomed = await resume(client)
        return welcomed - start, time.monotonic() - start

    results = await asyncio.wait_for(
        asyncio.gather(*(one(c) for c in clients), return_exceptions=True), deadline_s)
    elapsed = time.monotonic() - start
    done = sorted(r[1] for r in results if isinstance(r, tuple))
    welcomed = sorted(r[0] for r in results if isinstance(r, tuple))
    failed = [r for r in results if not isinstance(r, tuple)]
    return {"clients": len(clients), "failed": len(failed),
            "first_error": repr(failed[0])[:200] if failed else "",
            "all_caught_up_s": done[-1] if done and not failed else float("nan"),
            "caught_up_p50_s": percentile(done, 50), "caught_up_p99_s": percentile(done, 99),
            "handshakes_per_s": len(welcomed) / welcomed[-1] if welcomed else 0.0,
            "cpu_ms_total": 1e3 * (cpu_seconds(pid) - cpu0),
            "client_cpu_pct": 100 * (self_cpu_seconds() - client0) / elapsed}


# --- 4. typing indicators: the broadcast-heavy case -------------------------------------------

async def typing(scale: Scale) -> dict[str, Any]:
    """Visitors type (on/off) into chats; each frame goes to the agent and every supervisor."""
    m, sup = scale.typing_conversations, scale.supervisors
    chat, n_agents = prepare_chat(m, supervisors=sup)
    echo = EchoServer()
    try:
        chat.start()
        echo.start()
        population = await open_chat(chat, m, n_agents, supervisors=sup)
        echo_listeners = [await connect(echo.port, f"/ws/fanout?room={a}&listen=1")
                          for a in range(n_agents)]
        echo_listeners += [await connect(echo.port, "/ws/fanout?room=*&listen=1")
                           for _ in range(sup)]
        pairs = population.pairs()
        agent_index = {id(a): i for i, a in enumerate(population.agents)}
        echo_senders = [await connect(echo.port, f"/ws/fanout?room={agent_index[id(a)]}")
                        for _, a in pairs]
        slices = []
        for kind in abba(scale.reps):
            if kind == CHAT:
                senders = [(v.conn, v.conversation_id, False) for v, _ in pairs]
                listeners = [a.conn for a in population.agents] + population.supervisors
                pid = chat.pid
            else:
                senders = [(c, f"c{i}", True) for i, c in enumerate(echo_senders)]
                listeners, pid = echo_listeners, echo.pid
            slices.append({"server": kind, **await _typing_slice(senders, listeners, pid,
                                                                 scale)})
        await close_all([v.conn for v in population.visitors] + population.supervisors +
                        [a.conn for a in population.agents] + echo_listeners + echo_senders)
    finally:
        chat.stop()
        echo.stop()
    return _result("typing", scale, {"conversations": m, "agents": n_agents,
                                     "supervisors": sup, "offered_typing_per_s":
                                     scale.typing_rate, "fanout": 1 + sup},
                   slices, ["cpu_us_per_msg", "latency_p50_ms", "latency_p99_ms",
                            "latency_max_ms", "delivered_per_s", "server_cpu_pct",
                            "client_cpu_pct"],
                   "each typing frame reaches the holding agent and every supervisor; "
                   "nothing is stored. Latency matches the k-th frame a listener gets for a "
                   "chat with the k-th one sent (both in order, nothing dropped)")


async def _typing_slice(senders: list[tuple[WSConn, str, bool]], listeners: list[WSConn],
                        pid: int, scale: Scale) -> dict[str, Any]:
    recorder = Recorder()
    sent: dict[str, list[int]] = {cid: [] for _, cid, _ in senders}
    received: dict[tuple[int, str], int] = {}

    def handle(conn: WSConn, payload: bytes) -> None:
        if not payload.startswith(b'{"type":"typing"'):
            return
        cid = json.loads(payload)["conversation_id"]
        key = (id(conn), cid)
        k = received.get(key, 0)
        received[key] = k + 1
        times = sent.get(cid)
        if times is not None and k < len(times):
            recorder.delivered(times[k])

    for conn in listeners:
        conn.handler = handle
    typing_on: dict[str, bool] = {}
    frames = []
    for conn, cid, with_cid in senders:
        def build(frame_id: bytes, cid: str = cid, with_cid: bool = with_cid) -> bytes:
            on = typing_on[cid] = not typing_on.get(cid, False)
            extra = b'"conversation_id":"' + cid.encode() + b'",' if with_cid else b""
            return b'{"type":"typing",' + extra + (b'"on":true}' if on else b'"on":false}')
        frames.append(Sender(conn, build))
    by_conn = {id(s.conn): cid for s, (_, cid, _) in zip(frames, senders, strict=True)}

    def on_send(sender: Sender, frame_id: bytes) -> None:
        sent[by_conn[id(sender.conn)]].append(time.monotonic_ns())

    return await drive(frames, scale.typing_rate, warmup=scale.warmup, window=scale.window,
                       drain=DRAIN, recorder=recorder, server_pid=pid,
                       max_messages=scale.max_messages, on_send=on_send,
                       copies=1 + scale.supervisors)


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
    if not RedisServer.available():
        return {"scenario": "redis_two_process", "status": "skipped",
                "notes": f"redis-server not found ({REDIS_SERVER}); install it to run this"}
    m = scale.conversations
    started: list[Any] = []
    try:
        populations: dict[str, ChatPopulation] = {}
        redis: dict[str, RedisServer] = {}
        n_agents = 0
        for kind, processes in ((ONE, 1), (TWO, 2)):
            redis[kind] = RedisServer().start()
            started.append(redis[kind])
            env = {**RAMP_LIMITS, "CHATSERVER_CLUSTER_BACKEND": "redis",
                   "CHATSERVER_CLUSTER_REDIS_URL": redis[kind].url}
            first, n_agents = prepare_chat(m, extra_env=env, min_agents=2)
            servers = [first] + [ChatServer(env, db=first.db) for _ in range(processes - 1)]
            for server in servers:  # one after the other: the first one makes the schema
                started.append(server)
                server.start()
            populations[kind] = await open_chat(first, m, n_agents, deadline_seconds=600,
                                                spread=servers)
        slices = []
        for kind in abba(scale.reps):
            kind = ONE if kind == CHAT else TWO
            slices.append({"server": kind, **await _ramp(populations[kind], scale,
                                                          redis[kind].pid)})
        two = populations[TWO]
        cross = sum(v.home != a.home for v, a in two.pairs()) / max(1, len(two.pairs()))
        for population in populations.values():
            await close_all([v.conn for v in population.visitors] +
                            [a.conn for a in population.agents])
    finally:
        for child in reversed(started):  # the second process before the database's owner
            child.stop()
    return _result(
        "redis_two_process", scale,
        {"conversations": m, "agents": n_agents, "p99_bound_ms": P99_BOUND_MS,
         "ramp_start": scale.ramp_start, "ramp_factor": scale.ramp_factor,
         "ramp_refine": scale.ramp_refine, "ramp_window_s": scale.ramp_window,
         "cross_process_share": cross},
        slices, ["sustained_per_s", "sustained_p99_ms", "first_behind_offered",
                 "cpu_us_per_msg", "server_cpu_pct", "redis_cpu_pct", "client_cpu_pct",
                 "steps"],
        f"sustained = delivered/s at the highest offered rate with nothing lost or late and "
        f"delivery p99 <= {P99_BOUND_MS:.0f} ms; two processes share one Redis and one SQLite "
        f"file, visitors and agents half on each ({100 * cross:.0f} % of chats cross "
        f"processes). On 2 cores the two processes, redis-server and the load generator share "
        f"the same cores: the ratio measures contention as much as scaling", kinds=(TWO, ONE))


def _kept_up(step: dict[str, Any]) -> bool:
    p99 = step["latency_p99_ms"]
    return step["lost_or_late"] == 0 and not math.isnan(p99) and p99 <= P99_BOUND_MS


async def _ramp(population: ChatPopulation, scale: Scale, redis_pid: int) -> dict[str, Any]:
    """Climb the offered rate geometrically until a step falls behind, then bisect between
    the last step that kept up and the first that did not."""
    steps: list[dict[str, Any]] = []
    good: dict[str, Any] | None = None
    bad: dict[str, Any] | None = None
    rate = scale.ramp_start

    async def step(offered: float) -> dict[str, Any]:
        await _settle([s.pid for s in population.servers])
        result = await _chat_messages(population, scale, rate=offered,
                                      other_pids={"redis": redis_pid})
        result["kept_up"] = _kept_up(result)
        steps.append(result)
        return result

    while len(steps) < scale.ramp_steps:
        result = await step(rate)
        if not result["kept_up"]:
            bad = result
            break
        good = result
        rate *= scale.ramp_factor
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
            "server_cpu_pct": at.get("server_cpu_pct", math.nan),
            "redis_cpu_pct": at.get("redis_cpu_pct", math.nan),
            "client_cpu_pct": at.get("client_cpu_pct", math.nan),
            "processes": len(population.servers), "steps": len(steps),
            "ramp": [{k: v for k, v in s.items() if k in _STEP_KEYS} for s in steps]}


_STEP_KEYS = {"offered_per_s", "sent", "delivered_per_s", "lost_or_late", "latency_p50_ms",
              "latency_p99_ms", "latency_max_ms", "server_cpu_pct", "redis_cpu_pct",
              "client_cpu_pct", "cpu_us_per_msg", "kept_up"}


async def _settle(pids: list[int], limit_s: float = 15.0) -> None:
    """Wait until the servers are idle (a step that fell behind leaves a backlog), so late
    frames of one step are not counted as deliveries of the next."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in pids)
        await asyncio.sleep(0.3)
        if sum(cpu_seconds(pid) for pid in pids) - before < 0.3 * 0.15 * len(pids):
            return


SCENARIOS = {"idle": idle, "conversations": conversations, "storm": storm, "typing": typing,
             "redis_two_process": redis_two_process}
