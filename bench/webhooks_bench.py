"""Webhooks: what the outbox adds to each appended line, and delivery latency under chat load.

1. Append cost: the store's append job alone on the writer's connection (2,000 lines in one
   transaction, rolled back), without and with one endpoint: the work the outbox adds per line.
   Then the store as the server uses it (no sockets), 4,000 lines over 100 chats from 200 concurrent
   callers, with no endpoint and with one endpoint taking `message` (an outbox row per line,
   written in the line's transaction). Runs interleaved A B B A; medians of lines/s; the
   difference in µs per line is what the outbox costs the append path.
2. Delivery latency: the real server with agents and visitors in assigned chats (no bot), both
   sides sending lines at `--rate` in all (open loop, bench/load.py), one endpoint taking
   `message` at a receiver in this process. Latency is from the line's send on its socket to
   the webhook's arrival at the receiver (one monotonic clock), and from the line's commit (its
   ts_ms) to arrival: the webhook path alone. p50/p99 per run; medians of runs.

    .venv/bin/python -m bench.webhooks_bench [--postgres] [--rate 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from typing import Any

import httpx

from chatserver.core.webhooks import EVENT_TYPES
from chatserver.service import webhook_outbox
from chatserver.store.store import NewEvent, Store, _append, migrate_file

from .load import Recorder, Sender, drive
from .population import close_all, open_chat, prepare_chat
from .servers import PASSWORD, PostgresDatabase, scratch_database
from .stats import latency_ms, percentile

LINES, CHATS, CALLERS = 4000, 100, 200
TEXT = "Hi, my order 4711 has not arrived yet, can you check where it is?"


# --- 1. the append path ---------------------------------------------------------------------

async def append_rate(location: str, endpoints: int) -> float:
    """Lines/s of the store alone, with `endpoints` endpoints taking `message`."""
    store = Store(location)
    await store.open()
    try:
        for n in range(endpoints):
            await webhook_outbox.create(store, f"https://hooks.example/{n}", "", "whsec_x" * 3,
                                        ["message"], None, 0)
        stamp = time.time_ns()
        cids = [f"b{stamp}-{i}" for i in range(CHATS)]
        for cid in cids:
            await store.upsert_visitor(f"v-{cid}", {}, 0)
            await store.create_conversation(cid, f"v-{cid}", {"language": "en"}, 0)
        queue = list(range(LINES))

        async def caller() -> None:
            while queue:
                i = queue.pop()
                await store.append(cids[i % CHATS], [NewEvent(
                    "message", "visitor", {"from": "visitor", "text": f"{TEXT} {i}"})],
                    now_ms=i, client_id=f"c{i}")

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(CALLERS)))
        return LINES / (time.perf_counter() - started)
    finally:
        await store.close()


async def append_cost(postgres: bool, runs: int) -> dict[str, Any]:
    rates: dict[int, list[float]] = {0: [], 1: []}
    for run in range(runs):
        for endpoints in ((0, 1) if run % 2 == 0 else (1, 0)):
            with scratch_database(postgres) as (location, _database):
                rates[endpoints].append(await append_rate(location, endpoints))
    without, with_one = statistics.median(rates[0]), statistics.median(rates[1])
    return {"lines_per_s_without": without, "lines_per_s_with_one": with_one,
            "us_per_line_added": 1e6 / with_one - 1e6 / without,
            "runs_without": rates[0], "runs_with_one": rates[1]}


def job_time(location: str, endpoints: int, lines: int = 2000) -> float:
    """Seconds per line of the store's own append job (`_append`), run `lines` times in one
    transaction that is then rolled back: the work on the writer thread, without fsync or
    queueing, with `endpoints` endpoints taking `message`."""
    store = Store(location)
    backend = store.backend
    conn = backend.writer_connection()
    try:
        conn, _waited = backend.begin(conn)
        for n in range(endpoints):
            conn.execute("INSERT INTO webhook_endpoints (url, secret, created_ms) VALUES "
                         "(?, 'whsec_xxxxxxxxxxxxxxxx', 0)", (f"https://h.example/{n}",))
            conn.execute("INSERT INTO webhook_subscriptions (type, endpoint_id) SELECT "
                         "'message', max(id) FROM webhook_endpoints")
        conn.execute("INSERT INTO visitors (id, created_ms, last_seen_ms) VALUES ('v', 0, 0)")
        conn.execute("INSERT INTO conversations (id, visitor_id, state, created_ms, updated_ms) "
                     "VALUES ('c', 'v', 'bot', 0, 0)")
        started = time.perf_counter()
        for i in range(lines):
            _append(conn, "c", [NewEvent("message", "visitor", {
                "from": "visitor", "text": f"{TEXT} {i}"})], f"c{i}", None, i)
        spent = time.perf_counter() - started
        conn.execute("ROLLBACK")
        return spent / lines
    finally:
        conn.close()


def job_cost(postgres: bool, runs: int) -> dict[str, float]:
    """Median µs per line of the append job without and with one endpoint, interleaved."""
    times: dict[int, list[float]] = {0: [], 1: []}
    with scratch_database(postgres) as (location, _database):
        migrate_file(location)
        for run in range(runs):
            for endpoints in ((0, 1) if run % 2 == 0 else (1, 0)):
                times[endpoints].append(job_time(location, endpoints))
    without, with_one = statistics.median(times[0]), statistics.median(times[1])
    return {"us_without": 1e6 * without, "us_with_one": 1e6 * with_one,
            "us_added": 1e6 * (with_one - without)}


# --- 2. delivery latency --------------------------------------------------------------------

class Receiver:
    """An HTTP endpoint in this process: records each webhook's latency from the send time
    the line's text carries (`t<monotonic ns in hex>`: in decimal it is a card number's
    length, which the server masks)."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.from_store_ms: list[float] = []  # from the line's commit (its ts_ms) to arrival
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests one after another on a kept-alive connection, each answered 204."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                event = json.loads(await reader.readexactly(length))
                text = event["data"].get("text", "")
                if text.startswith("t"):
                    sent = int(text[1:].split(" ", 1)[0], 16)
                    if self.recorder.start_ns <= sent < self.recorder.end_ns:
                        self.from_store_ms.append(time.time() * 1000 - event["ts_ms"])
                    self.recorder.delivered(sent)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError,
                asyncio.CancelledError):  # the run is over
            pass
        finally:
            writer.close()


async def delivery_run(postgres: bool, rate: float, chats: int, window: float,
                       concurrency: int) -> dict[str, Any]:
    with scratch_database(postgres) as (location, database):
        env = {"CHATSERVER_WEBHOOKS_ALLOW_PRIVATE": "true",
               "CHATSERVER_WEBHOOKS_CONCURRENCY": str(concurrency)}
        server, n_agents = prepare_chat(chats, extra_env=env,
                                        db=location if postgres else None)
        server.add_users(["hookadmin"], role="admin", capacity=1)
        receiver = Receiver()
        await receiver.start()
        try:
            server.start()
            await _register(server, f"http://127.0.0.1:{receiver.port}/hooks")
            population = await open_chat(server, chats, n_agents)
            senders = []
            for cid, (visitor, agent) in population.by_conversation.items():
                visitor.conn.handler = agent.conn.handler = _ignore
                senders.append(Sender(visitor.conn, _visitor_line))
                senders.append(Sender(agent.conn, lambda i, c=cid: _agent_line(c, i)))
            result = await drive(senders, rate, warmup=3.0, window=window, drain=10.0,
                                 recorder=receiver.recorder, server_pid=server.pid,
                                 db_cpu=database.backend_cpu if database else None)
            with contextlib.suppress(OSError):  # a socket the server already closed
                await close_all([v.conn for v in population.visitors] +
                                [a.conn for a in population.agents])
            stored = sorted(receiver.from_store_ms)
            return {**latency_ms(receiver.recorder.latencies),
                    "stored_p50_ms": percentile(stored, 50),
                    "stored_p99_ms": percentile(stored, 99),
                    "delivered_per_s": result["delivered_per_s"],
                    "lost_or_late": result["lost_or_late"],
                    "server_cpu_pct": result["server_cpu_pct"],
                    "client_cpu_pct": result["client_cpu_pct"]}
        finally:
            server.stop()
            if receiver.server is not None:
                receiver.server.close()


def _sent(frame_id: bytes) -> bytes:
    return b"%x" % int(frame_id.rsplit(b"_", 1)[1])


def _visitor_line(frame_id: bytes) -> bytes:
    sent = _sent(frame_id)
    return (b'{"type":"message","text":"t' + sent + b' ' + TEXT.encode() + b'","id":"' +
            frame_id + b'"}')


def _agent_line(cid: str, frame_id: bytes) -> bytes:
    sent = _sent(frame_id)
    return (b'{"type":"message","conversation_id":"' + cid.encode() + b'","text":"t' + sent +
            b' ' + TEXT.encode() + b'","id":"' + frame_id + b'"}')


def _ignore(conn: Any, payload: bytes) -> None:
    pass


async def _register(server: Any, url: str) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        login = await client.post("/login", data={"username": "hookadmin",
                                                  "password": PASSWORD},
                                  headers={"accept": "application/json"})
        login.raise_for_status()
        made = await client.post("/api/webhooks", json={"url": url, "events": ["message"]},
                                 headers={"x-csrf-token": login.json()["csrf_token"]})
        made.raise_for_status()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--chats", type=int, default=150)  # 3 agents: 83 lines/s each
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8, help="[webhooks] concurrency")
    parser.add_argument("--skip-append", action="store_true")
    args = parser.parse_args()
    if args.postgres and (why := PostgresDatabase.unavailable()):
        raise SystemExit(why)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    if not args.skip_append:
        job = job_cost(args.postgres, 2 * args.runs + 1)
        print(f"{backend} append job (the writer thread's work per line, no fsync): "
              f"{job['us_without']:.1f} µs without an endpoint, {job['us_with_one']:.1f} µs "
              f"with one ({job['us_added']:+.1f} µs; medians of {2 * args.runs + 1} runs "
              "of 2,000 lines)")
    cost = None if args.skip_append else await append_cost(args.postgres, args.runs)
    if cost is not None:
        print(f"{backend} append, {LINES} lines / {CHATS} chats / {CALLERS} callers: "
              f"{cost['lines_per_s_without']:,.0f} lines/s without an endpoint, "
              f"{cost['lines_per_s_with_one']:,.0f} with one "
              f"({cost['us_per_line_added']:+.1f} µs per line; runs "
              f"{[round(r) for r in cost['runs_without']]} / "
              f"{[round(r) for r in cost['runs_with_one']]})")
    runs = [await delivery_run(args.postgres, args.rate, args.chats, args.window,
                               args.concurrency) for _ in range(args.runs)]
    for i, run in enumerate(runs, 1):
        print(f"  run {i}: p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms "
              f"(from the commit: p50 {run['stored_p50_ms']:.1f}, p99 "
              f"{run['stored_p99_ms']:.1f} ms), "
              f"max {run['max_ms']:.1f} ms, {run['samples']} webhooks, "
              f"{run['lost_or_late']} lost or late, server CPU {run['server_cpu_pct']:.0f} %, "
              f"bench client CPU {run['client_cpu_pct']:.0f} %")
    print(f"{backend} webhook delivery at {args.rate:.0f} chat lines/s, concurrency "
          f"{args.concurrency} "
          f"({len(EVENT_TYPES)} types offered, `message` taken): "
          f"p50 {statistics.median(r['p50_ms'] for r in runs):.1f} ms, "
          f"p99 {statistics.median(r['p99_ms'] for r in runs):.1f} ms from the line's send; "
          f"p50 {statistics.median(r['stored_p50_ms'] for r in runs):.1f} ms, "
          f"p99 {statistics.median(r['stored_p99_ms'] for r in runs):.1f} ms from its commit "
          f"(medians of {len(runs)} runs)")


if __name__ == "__main__":
    asyncio.run(main())
