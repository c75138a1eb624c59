"""The chat-versus-echo scenarios: idle visitors, conversations, a reconnect storm, typing.

Each runs the chat server and the echo baseline in A B B A slices; every one is bounded in
count (a `Scale`) and in time (deadlines on every wait), starts its own servers on loopback and
always stops them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from ..load import Recorder, Sender, drive, sent_time
from ..population import (
    ChatPopulation,
    EchoPopulation,
    close_all,
    new_id,
    open_chat,
    open_echo,
    open_visitor,
    prepare_chat,
)
from ..servers import ChatServer, EchoServer, cpu_seconds, self_cpu_seconds
from ..stats import CHAT, abba, percentile
from ..wsclient import WSConn, connect, connect_many
from .scale import DRAIN, Scale, scenario_result

TEXT = b"Hi, my order 4711 has not arrived yet, can you check where it is?"


# --- 1. idle visitors -------------------------------------------------------------------------

async def idle(scale: Scale) -> dict[str, Any]:
    """N visitors connect, say hello and stay: RSS per connection and handshakes/s."""
    slices = []
    for server_kind in abba(scale.reps):
        slices.append(await _idle_slice(server_kind, scale.idle, scale.pause))
    return scenario_result(
        "idle", scale, {"connections": scale.idle}, slices,
        ["rss_kb_per_conn", "handshakes_per_s", "cpu_us_per_handshake",
         "client_cpu_pct"],
        "chat: upgrade + hello/welcome (a visitor row is written); "
        "echo: upgrade + one echoed frame")


async def _idle_slice(kind: str, count: int, pause: float) -> dict[str, Any]:
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
        await asyncio.sleep(0.5 * pause)
        rss0, cpu0, client0 = server.rss(), server.cpu(), self_cpu_seconds()
        start = time.monotonic()
        conns = await connect_many(count, one, concurrency=200, deadline=start + 300)
        elapsed = time.monotonic() - start
        cpu, client = server.cpu() - cpu0, self_cpu_seconds() - client0
        await asyncio.sleep(1.0 * pause)  # let buffers settle
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
            runner = chat_messages if kind == CHAT else _echo_messages
            slices.append({"server": kind, **await runner(
                population if kind == CHAT else echo_pop, scale)})  # type: ignore[arg-type]
        await close_all([v.conn for v in population.visitors] +
                        [a.conn for a in population.agents] + echo_pop.conns)
    finally:
        chat.stop()
        echo.stop()
    return scenario_result(
        "conversations", scale,
        {"conversations": m, "agents": n_agents, "offered_msgs_per_s": scale.rate},
        slices, ["cpu_us_per_msg", "main_cpu_us_per_msg", "writer_cpu_us_per_msg",
                 "latency_p50_ms", "latency_p99_ms",
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


async def chat_messages(population: ChatPopulation, scale: Scale, rate: float | None = None,
                        other_pids: dict[str, int] | None = None,
                        db_cpu: Callable[[], dict[int, float]] | None = None) -> dict[str, Any]:
    """One slice at `rate` (the scale's by default); the ramp's steps use its own timings.
    `db_cpu`: the PostgreSQL backends' CPU (see `drive`)."""
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
                           max_messages=scale.max_messages, db_cpu=db_cpu)
    return await drive(senders, rate, warmup=scale.ramp_warmup, window=scale.ramp_window,
                       drain=DRAIN, recorder=recorder,
                       server_pid=[server.pid for server in population.servers],
                       max_messages=scale.max_messages, other_pids=other_pids, db_cpu=db_cpu)


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
                slices.append({"server": kind, **await _chat_storm(population, scale.pause)})
            else:
                slices.append({"server": kind, **await _echo_storm(echo_pop, scale.pause)})
        await close_all([v.conn for v in population.visitors] +
                        [a.conn for a in population.agents] + echo_pop.conns)
    finally:
        chat.stop()
        echo.stop()
    return scenario_result(
        "storm", scale, {"clients": n, "agents": n_agents}, slices,
        ["all_caught_up_s", "caught_up_p50_s", "caught_up_p99_s",
         "handshakes_per_s", "cpu_ms_total", "client_cpu_pct", "failed"],
        "chat: reconnect + hello(token) + resume(after_seq) until the missed agent "
        "message arrives; echo: reconnect + one echoed frame")


async def _chat_storm(population: ChatPopulation, pause: float,
                      deadline_s: float = 60.0) -> dict[str, Any]:
    for visitor in population.visitors:
        visitor.conn.abort()
    await asyncio.sleep(0.5 * pause)
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
    await asyncio.sleep(0.2 * pause)
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


async def _echo_storm(population: EchoPopulation, pause: float,
                      deadline_s: float = 60.0) -> dict[str, Any]:
    for conn in population.conns:
        conn.abort()
    await asyncio.sleep(0.5 * pause)
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
    return scenario_result(
        "typing", scale, {"conversations": m, "agents": n_agents,
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
