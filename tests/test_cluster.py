"""Several server processes, one service: Redis carries fan-out, the queue and presence.

Each test runs its own `redis-server` on a free port (never the machine's shared one), so a
test can kill and restart it. The tests taking a `database` run twice: one machine (both
processes open one SQLite file) and two machines (each process in a folder of its own, nothing
shared but a PostgreSQL database and Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from .databases import BACKENDS, postgres_database
from .harness import Client, Server, add_user, agent, free_port, sql, visitor

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


class Redis:
    def __init__(self, tmp: Path) -> None:
        self.port, self.tmp, self.proc = free_port(), tmp, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done = subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                  capture_output=True, text=True)
            if done.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@contextlib.contextmanager
def running_redis(folder: Path) -> Iterator[Redis]:
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed (make test installs it as root)")
    r = Redis(folder)
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    with running_redis(tmp_path) as r:
        yield r


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """One Redis for the module's shared pairs (tests that kill Redis take `redis`)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as r:
        yield r


@pytest.fixture(scope="module", params=BACKENDS)
def shared_pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                module_redis: Redis) -> Iterator[tuple[Server, Server]]:
    """Two processes per backend for the whole module (a pair costs two starts, ~3 s of CPU),
    for tests that kill nothing and need no setting of their own. Each test uses agents and a
    language of its own, so no other test's chat is offered to them, and asserts on its own
    chats only."""
    folder = tmp_path_factory.mktemp(f"pair-{request.param}")
    with contextlib.ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(postgres_database())
        yield stack.enter_context(pair(folder, module_redis, url))


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The pair's store: None for a SQLite file in the test's folder, else the URL of a new
    database on the shared PostgreSQL (dropped after the pair has stopped)."""
    if request.param == "sqlite":
        yield None
    else:
        with postgres_database() as url:
            yield url


@contextlib.contextmanager
def pair(tmp_path: Path, redis: Redis, database: str | None = None,
         **env: str) -> Iterator[tuple[Server, Server]]:
    """Two processes on one database and one Redis, stopped afterwards.

    On SQLite both run in `tmp_path` and open its file, as on one machine. Given a PostgreSQL
    URL, each runs in a folder of its own, as on two machines: a file either process wrote
    where the other can read it would make the test pass for the wrong reason."""
    settings = {"CHATSERVER_CLUSTER_BACKEND": "redis",
                "CHATSERVER_CLUSTER_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
                "CHATSERVER_LIMITS_FRAMES_PER_SECOND": "200",
                "CHATSERVER_LIMITS_FRAME_BURST": "400", **env}
    if database is None:
        a, b = Server(tmp_path, **settings), Server(tmp_path, **settings)
        b.log = tmp_path / "server-b.log"
    else:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a, b = (Server(tmp_path / name, database, **settings) for name in "ab")
    a.start()
    try:
        b.start()
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


async def test_a_visitor_on_one_process_chats_with_an_agent_on_the_other(
        shared_pair: tuple[Server, Server], clients: list) -> None:
    a, b = shared_pair
    add_user(a.db, "una_nl", skills={"lang:nl": 5}, display_name="Una")  # only she reads Dutch
    una = await agent(b, "una_nl")
    sara = await visitor(a, name="Sara", language="nl")
    clients += [una, sara]
    assert sara.welcome["agents_online"] is True  # knows about an agent on the other
    cid = (await sara.request("request_human"))["conversation_id"]
    offer = await una.expect("offer")
    assert offer["conversation"]["id"] == cid
    await una.request("accept", conversation_id=cid)
    assert (await sara.expect("assigned"))["agent"] == "Una"
    await sara.request("message", text="hello from A")
    got = await una.expect("message", where=lambda f: f["from"] == "visitor")
    assert got["text"] == "hello from A"
    await una.request("message", conversation_id=cid, text="hello from B")
    line = await sara.expect("message", where=lambda f: f["from"] == "agent")
    assert line["text"] == "hello from B"
    await sara.send({"type": "typing", "on": True})
    assert (await una.expect("typing"))["from"] == "visitor"


async def test_200_requests_across_two_processes_each_go_to_one_agent_within_capacity(
        shared_pair: tuple[Server, Server], clients: list) -> None:
    a, b = shared_pair
    capacity = 3
    names = [f"ag{i}" for i in range(10)]
    for name in names:
        add_user(a.db, name, skills={"lang:sv": 5}, capacity=capacity)  # only they: Swedish
    agents = [await agent(a if i % 2 else b, name) for i, name in enumerate(names)]
    clients += agents
    visitors = [await visitor(a if i % 2 else b, language="sv") for i in range(200)]
    clients += visitors
    acks = await asyncio.gather(*(v.request("request_human") for v in visitors))
    wanted = {ack["conversation_id"] for ack in acks}
    assert len(wanted) == 200

    holding: dict[int, set[str]] = defaultdict(set)  # agent -> conversations it holds
    served: dict[str, int] = {}

    async def work(i: int, client) -> None:
        while len(served) < 200:
            try:
                offer = await client.expect("offer", timeout=1)
            except (AssertionError, TimeoutError):
                continue
            cid = offer["conversation"]["id"]
            assert cid not in served, f"{cid} offered again after it was taken"
            holding[i].add(cid)
            assert len(holding[i]) <= capacity, "agent above capacity"
            ack = await client.request("accept", conversation_id=cid)
            if ack["type"] == "error":  # withdrawn meanwhile: it must come back to someone
                assert ack["code"] == "conflict", ack
                holding[i].discard(cid)
                continue
            served[cid] = i
            await client.request("close", conversation_id=cid, resolved=True)
            holding[i].discard(cid)

    try:
        await asyncio.wait_for(
            asyncio.gather(*(work(i, c) for i, c in enumerate(agents))), 90)
    except TimeoutError:
        missing = wanted - set(served)
        marks = ",".join("?" * len(missing))
        states = sql(a.db, f"SELECT state, count(*) FROM conversations WHERE id IN "
                           f"({marks}) GROUP BY state", tuple(missing))
        raise AssertionError(f"{len(missing)} never served; states {states}") from None
    assert set(served) == wanted
    assigned = sql(a.db, f"SELECT conversation_id, count(*) FROM events WHERE type = "
                         f"'assigned' AND conversation_id IN ({','.join('?' * len(wanted))}) "
                         f"GROUP BY conversation_id", tuple(wanted))
    assert len(assigned) == 200 and all(n == 1 for _, n in assigned)
    # Closed here, all at once, while the servers still answer: closed one by one by the
    # fixture after the servers had gone, the 210 took 20 s of teardown on PostgreSQL.
    await asyncio.gather(*(client.ws.close() for client in clients))


async def test_a_killed_process_loses_nothing_the_visitor_resumes_on_the_other(
        tmp_path: Path, redis: Redis, clients: list) -> None:
    with pair(tmp_path, redis, CHATSERVER_ROUTING_GRACE_SECONDS="30") as (a, b):
        add_user(a.db, "vic", skills={"lang:en": 5})
        vic = await agent(b, "vic")
        clients.append(vic)
        sara = await visitor(a, name="Sara", language="en")
        cid = (await sara.request("request_human"))["conversation_id"]
        await vic.expect("offer")
        await vic.request("accept", conversation_id=cid)
        acked = [await sara.request("message", text=f"line {i}") for i in range(5)]
        a.kill()  # the visitor's process dies mid-conversation
        await vic.request("message", conversation_id=cid, text="are you still there?")
        back = await visitor(b, visitor_token=sara.welcome["visitor_token"])
        clients.append(back)
        assert back.welcome["conversation"]["id"] == cid
        await back.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
        texts = []
        while "are you still there?" not in texts:
            texts.append((await back.expect("message"))["text"])
        assert [t for t in texts if t.startswith("line")] == [f"line {i}" for i in range(5)]
        assert all(ack["type"] == "ack" for ack in acked)
        reply = await back.request("message", text="yes!")
        assert (await vic.expect("message", where=lambda f: f["text"] == "yes!"))
        assert reply["type"] == "ack"


async def test_service_recovers_when_redis_restarts(tmp_path: Path, redis: Redis,
                                                    clients: list) -> None:
    with pair(tmp_path, redis) as (a, b):
        add_user(a.db, "wes", skills={"lang:en": 5})
        wes = await agent(b, "wes")
        clients.append(wes)
        sara = await visitor(a, name="Sara", language="en")
        clients.append(sara)
        cid = (await sara.request("request_human"))["conversation_id"]
        await wes.expect("offer")
        await wes.request("accept", conversation_id=cid)
        await sara.request("message", text="before")

        redis.stop()
        deadline = time.monotonic() + 10
        while httpx.get(a.url + "/readyz").status_code == 200:
            assert time.monotonic() < deadline, "readiness never noticed Redis was gone"
            await asyncio.sleep(0.2)
        refused = await visitor(a, language="en")
        clients.append(refused)
        error = await refused.request("request_human")
        assert error["type"] == "error" and error["code"] == "unavailable"

        redis.start()  # empty: it kept nothing
        deadline = time.monotonic() + 15
        while httpx.get(a.url + "/readyz").status_code != 200:
            assert time.monotonic() < deadline, "did not recover"
            await asyncio.sleep(0.2)
        ok = await sara.request("message", text="after")
        assert ok["type"] == "ack"
        got = await wes.expect("message", where=lambda f: f["text"] == "after", timeout=10)
        assert got["conversation_id"] == cid
        newcomer = await visitor(b, language="en")
        clients.append(newcomer)
        assert (await newcomer.request("request_human"))["type"] == "ack"
        texts = [r[0] for r in sql(
            a.db, "SELECT json_extract(payload, '$.text') FROM events WHERE conversation_id = ? "
                  "AND type = 'message' ORDER BY seq", (cid,))]
        assert texts == ["before", "after"]



# Each process keeps conversations in memory and reads the log again only for those the bus
# says another process wrote to. These tests change a chat on one process, then act on it on
# the other, which holds it in memory: a stale copy would answer wrongly unless the bus (or,
# before its message arrives, the append's check of the seq it builds on) brings it up to date.

async def _assigned_across(a: Server, b: Server, clients: list, una_name: str = "una",
                           language: str = "en") -> tuple[Client, Client, str]:
    """Una on B holds a chat whose visitor, Sara, is on A (so A has it in memory); on a
    shared pair, under a name and in a language no other test uses."""
    add_user(a.db, una_name, skills={f"lang:{language}": 5}, display_name="Una")
    una = await agent(b, una_name)
    sara = await visitor(a, name="Sara", language=language)
    clients += [una, sara]
    cid = (await sara.request("request_human"))["conversation_id"]
    await una.expect("offer")
    assert (await una.request("accept", conversation_id=cid))["type"] == "ack"
    await sara.expect("assigned")
    assert (await sara.request("message", text="before"))["type"] == "ack"
    await una.expect("message", where=lambda f: f["text"] == "before")
    return una, sara, cid


async def test_after_a_transfer_on_one_process_the_other_routes_lines_to_the_new_agent(
        shared_pair: tuple[Server, Server], clients: list) -> None:
    a, b = shared_pair
    una, sara, cid = await _assigned_across(a, b, clients, "una_fr", "fr")
    ola_id = add_user(a.db, "ola_fr", skills={"lang:fr": 5}, display_name="Ola")
    ola = await agent(a, "ola_fr")
    clients.append(ola)
    moved = await una.request("transfer", conversation_id=cid, to_agent=ola_id)
    assert moved["type"] == "ack"
    # At once, on A: it may not have heard of the transfer yet, and must still not send
    # the line to Una, who no longer holds the chat.
    assert (await sara.request("message", text="meanwhile"))["type"] == "ack"
    offer = await ola.expect("offer")
    assert offer["conversation"]["id"] == cid
    # The offer was recorded by whichever process made it; A, where Ola accepts, must
    # know the chat is offered to her and not still held by Una.
    assert (await ola.request("accept", conversation_id=cid))["type"] == "ack"
    assert (await sara.expect("assigned"))["agent"] == "Ola"
    assert (await sara.request("message", text="for Ola"))["type"] == "ack"
    await ola.expect("message", where=lambda f: f["text"] == "for Ola")
    await una.nothing("message", seconds=1.0)
    refused = await una.request("message", conversation_id=cid, text="still mine?")
    assert refused["type"] == "error"


async def test_after_a_close_on_one_process_the_other_knows_it_is_closed(
        shared_pair: tuple[Server, Server], clients: list) -> None:
    a, b = shared_pair
    una, sara, cid = await _assigned_across(a, b, clients, "una_de", "de")
    assert (await una.request("close", conversation_id=cid, resolved=True))["type"] == "ack"
    await sara.expect("closed")
    await sara.expect("survey_request")
    # The first thing A does with the chat after the close, and no append can notice a
    # stale copy first: the survey is accepted only if A knows the chat is closed.
    answer = await sara.request("survey", conversation_id=cid, rating=5)
    assert answer["type"] == "ack", answer
    line = await sara.request("message", text="one more thing")
    assert line["type"] == "ack" and line["conversation_id"] != cid  # a new chat
    types = [r[0] for r in sql(a.db, "SELECT type FROM events WHERE conversation_id = ? "
                                     "ORDER BY seq", (cid,))]
    assert types[-2:] == ["closed", "survey"]


async def test_a_line_sent_as_the_other_process_closes_the_chat_is_not_stored_in_it(
        shared_pair: tuple[Server, Server], clients: list) -> None:
    a, b = shared_pair
    una, sara, cid = await _assigned_across(a, b, clients, "una_es", "es")
    closing = asyncio.create_task(una.request("close", conversation_id=cid,
                                              resolved=True))
    late = await sara.request("message", text="too late?")
    assert (await closing)["type"] == "ack"
    rows = sql(a.db, "SELECT type, json_extract(payload, '$.text') FROM events "
                     "WHERE conversation_id = ? ORDER BY seq", (cid,))
    assert rows[-1][0] == "closed"  # nothing after the close
    if late["type"] == "ack" and late["conversation_id"] == cid:  # stored before it
        assert ("message", "too late?") in rows
    else:  # refused, or the first line of a new chat
        assert ("message", "too late?") not in rows
        assert late.get("code") == "conflict" or late["conversation_id"] != cid, late


async def test_lines_sent_at_once_from_both_processes_are_each_stored_once(
        shared_pair: tuple[Server, Server], clients: list) -> None:
    """Interleaved writes from both processes: each goes on top of the other's."""
    a, b = shared_pair
    una, sara, cid = await _assigned_across(a, b, clients, "una_it", "it")
    for i in range(20):
        visitor_ack, agent_ack = await asyncio.gather(
            sara.request("message", text=f"v{i}"),
            una.request("message", conversation_id=cid, text=f"u{i}"))
        assert visitor_ack["type"] == agent_ack["type"] == "ack", (visitor_ack, agent_ack)
    for i in range(20):
        await una.expect("message", where=lambda f, i=i: f["text"] == f"v{i}")
        await sara.expect("message", where=lambda f, i=i: f["text"] == f"u{i}")
    texts = [r[0] for r in sql(
        a.db, "SELECT json_extract(payload, '$.text') FROM events WHERE conversation_id = ? "
              "AND type = 'message' ORDER BY seq", (cid,))]
    assert sorted(texts) == sorted(["before"] + [f"{who}{i}" for who in "uv"
                                                 for i in range(20)])


async def test_a_retried_line_stored_though_its_answer_was_lost_reaches_its_sender_once(
        shared_pair: tuple[Server, Server], clients: list) -> None:
    """Una's line is committed but its answer lost (the database dropped the connection after
    COMMIT: here the row goes straight into the log), so B never applied or published it.
    Her retry with the same id gets the ack, which is her copy of the line; Sara's next line,
    stored on A, then reaches Una's socket with that line missing before it, and the gap is
    read from the log: it must not send Una her own line again (docs/protocol.md: "Your own
    ack counts as your copy of your own line"). The PostgreSQL crash test hit this in three
    runs of ten."""
    a, b = shared_pair
    una, sara, cid = await _assigned_across(a, b, clients, "una_pt", "pt")
    ((seq,),) = sql(a.db, "SELECT last_seq FROM conversations WHERE id = ?", (cid,))
    ((una_id,),) = sql(a.db, "SELECT id FROM users WHERE username = 'una_pt'")
    frame_id = str(uuid.uuid4())
    line = {"from": "agent", "author": "Una", "text": "stored, answer lost"}
    sql(a.db, "INSERT INTO events (conversation_id, seq, type, author, payload, client_id, "
              "ts_ms) VALUES (?, ?, 'message', ?, ?, ?, ?)",
        (cid, seq + 1, f"agent:{una_id}", json.dumps(line), frame_id, int(time.time() * 1000)))
    sql(a.db, "UPDATE conversations SET last_seq = ? WHERE id = ?", (seq + 1, cid))
    await una.send({"type": "message", "id": frame_id, "conversation_id": cid,
                    "text": line["text"]})
    ack = await una.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
    assert (ack["type"], ack.get("seq")) == ("ack", seq + 1), ack
    assert (await sara.request("message", text="after"))["seq"] == seq + 2
    await una.expect("message", where=lambda f: f["text"] == "after")
    again = [f for f in una.seen if f.get("seq") == seq + 1 and f is not ack]
    assert again == [], f"Una was sent her own line besides its ack: {again}"
    await sara.expect("message", where=lambda f: f["text"] == line["text"])


async def test_an_agent_who_reloads_onto_the_other_process_keeps_their_status(
        tmp_path: Path, redis: Redis, database: str | None,
        clients: list) -> None:
    """Status follows the agent across processes within the grace period, and only then; a
    visitor's `agents_online` counts their language on whichever process they reach."""
    with pair(tmp_path, redis, database, CHATSERVER_ROUTING_GRACE_SECONDS="1.5") as (a, b):
        add_user(a.db, "una", skills={"lang:fa": 5})
        cookies = a.login("una")
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())

        async def tab(server: Server) -> Client:
            ws = await connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie})
            client = Client(ws)
            clients.append(client)
            await client.send({"type": "hello"})
            client.welcome = await client.expect("welcome")  # type: ignore[attr-defined]
            return client

        first = await tab(a)
        await first.send({"type": "status", "status": "online"})
        await first.expect("status")
        english = await visitor(b, language="en")
        persian = await visitor(b, language="fa")
        clients += [english, persian]
        assert english.welcome["agents_online"] is False  # Una reads no English
        assert persian.welcome["agents_online"] is True
        await first.ws.close()
        second = await tab(b)  # the reload reached the other process
        assert second.welcome["agent"]["status"] == "online"  # type: ignore[attr-defined]
        await second.ws.close()
        await asyncio.sleep(2.5)  # longer than the grace period
        third = await tab(a)
        assert third.welcome["agent"]["status"] == "away"  # type: ignore[attr-defined]
