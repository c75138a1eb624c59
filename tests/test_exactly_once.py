"""Every event reaches each client once and in seq order, under traffic and through faults.

Each client tallies the seqs it receives per conversation (its own lines count through their
acks): a seq seen again is a duplicate, one below the highest seen is out of order. Traffic is
steady (agent lines at 250 a second, visitor lines besides) while visitors resume mid-stream,
one of two processes is killed, or Redis is killed and started again. Every tally must end at
0 and 0, and every acknowledged line must have reached the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .harness import Server, add_user, agent, visitor
from .test_cluster import Redis, pair, redis  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

FAST = {"CHATSERVER_LIMITS_FRAMES_PER_SECOND": "2000", "CHATSERVER_LIMITS_FRAME_BURST": "2000"}
CONVERSATION_FRAMES = {"message", "note", "assigned", "closed", "event", "ack"}


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the tests that kill nothing (a start costs ~1.5 s of CPU): each uses
    agents and a language of its own, so no other test's chat reaches them."""
    srv = Server(tmp_path_factory.mktemp("server"), **FAST)
    yield srv.start()
    srv.stop()


class Tally:
    """The seqs one client has received, per conversation, with what was wrong with them."""

    def __init__(self) -> None:
        self.seqs: defaultdict[str, set[int]] = defaultdict(set)
        self.high: defaultdict[str, int] = defaultdict(int)
        self.duplicates: list[tuple[str, int]] = []
        self.out_of_order: list[tuple[str, int]] = []
        self.texts: defaultdict[str, set[str]] = defaultdict(set)
        self.acked: dict[str, str] = {}  # client id -> the text it carried

    def add(self, frame: dict[str, Any]) -> None:
        cid, seq = frame.get("conversation_id"), frame.get("seq")
        if frame["type"] not in CONVERSATION_FRAMES or cid is None or seq is None:
            return
        if seq in self.seqs[cid]:
            self.duplicates.append((cid, seq))
        elif seq < self.high[cid]:
            self.out_of_order.append((cid, seq))
        self.seqs[cid].add(seq)
        self.high[cid] = max(self.high[cid], seq)
        if frame["type"] == "message":
            self.texts[cid].add(frame["text"])


class Peer:
    """A client that reads everything into its tally and sends lines without waiting."""

    def __init__(self, ws: Any, tally: Tally) -> None:
        self.ws, self.tally = ws, tally
        self.pending: dict[str, str] = {}  # client id -> text, until acked
        self.refused: set[str] = set()  # pending ids answered with an error: to send again
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = json.loads(raw)
                self.tally.add(frame)
                if frame["type"] == "ack" and frame.get("id") in self.pending:
                    self.tally.acked[frame["id"]] = self.pending.pop(frame["id"])
                    self.refused.discard(frame["id"])
                elif frame["type"] == "error" and frame.get("id") in self.pending:
                    self.refused.add(frame["id"])

    async def line(self, text: str, **fields: Any) -> None:
        frame_id = str(uuid.uuid4())
        self.pending[frame_id] = text
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps({"type": "message", "id": frame_id, "text": text,
                                           **fields}))

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


class Visitor:
    """A visitor in a chat with a person; `reconnect` is what the widget does after a drop."""

    def __init__(self, token: str, cid: str) -> None:
        self.token, self.cid, self.tally = token, cid, Tally()
        self.peer: Peer | None = None

    async def reconnect(self, server: Server) -> None:
        ws = await connect(server.ws + "/ws/visitor")
        await ws.send(json.dumps({"type": "hello", "visitor_token": self.token}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome" and welcome["conversation"]["id"] == self.cid
        await asyncio.sleep(0.05)  # a phone's round trip: live lines reach it meanwhile
        await ws.send(json.dumps({"type": "resume", "conversation_id": self.cid,
                                  "after_seq": self.tally.high[self.cid]}))
        self.peer = Peer(ws, self.tally)


async def _chats(agent_server: Server, visitor_servers: list[Server], count: int,
                 name: str = "ann", language: str = "en") -> list[Visitor]:
    """`count` chats held by one agent, Ann; visitors spread over `visitor_servers`. Another
    agent's desk needs another language, so that Ann, still online within the grace period
    after this, is not offered its chats."""
    add_user(agent_server.db, name, skills={f"lang:{language}": 5}, capacity=count)
    ann = await agent(agent_server, name)
    chats = []
    for i in range(count):
        v = await visitor(visitor_servers[i % len(visitor_servers)], name=f"V{i}",
                          language=language)
        cid = (await v.request("request_human"))["conversation_id"]
        await ann.expect("offer", where=lambda f, c=cid: f["conversation"]["id"] == c)
        assert (await ann.request("accept", conversation_id=cid))["type"] == "ack"
        await v.expect("assigned")
        await v.ws.close()
        chats.append(Visitor(v.welcome["visitor_token"], cid))
    await ann.ws.close()
    return chats


async def _agent_peer(server: Server, chats: list[Visitor], name: str = "ann",
                      tally: Tally | None = None) -> Peer:
    """Ann's console: hello, then a resume of each chat after what `tally` holds (from the
    start for a new console)."""
    tally = tally or Tally()
    cookie = "; ".join(f"{k}={v}" for k, v in server.login(name).items())
    ws = await connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie})
    await ws.send(json.dumps({"type": "hello"}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    for chat in chats:
        await ws.send(json.dumps({"type": "resume", "conversation_id": chat.cid,
                                  "after_seq": tally.high[chat.cid]}))
    await ws.send(json.dumps({"type": "status", "status": "online"}))
    return Peer(ws, tally)


async def _traffic(ann: Peer, chats: list[Visitor], seconds: float, per_tick: int = 5) -> None:
    """Ann's lines at 50 × `per_tick` a second round the chats; each visitor writes when
    Ann's count reaches a multiple of 50 (every 200 ms at 5 a tick)."""
    loop = asyncio.get_running_loop()
    end, n = loop.time() + seconds, 0
    while loop.time() < end:
        for _ in range(per_tick):
            chat = chats[n % len(chats)]
            await ann.line(f"{chat.cid} agent {n}", conversation_id=chat.cid)
            n += 1
        if n % 50 == 0:
            for chat in chats:
                if chat.peer is not None:
                    await chat.peer.line(f"{chat.cid} visitor {n}")
        await asyncio.sleep(0.02)


def _missing(ann: Tally, chats: list[Visitor]) -> list[str]:
    """Acknowledged lines that have not reached the other side."""
    by_cid = {chat.cid: chat.tally for chat in chats}
    missing = [t for t in ann.acked.values() if t not in by_cid[t.split()[0]].texts[
        t.split()[0]]]
    for chat in chats:
        missing += [t for t in chat.tally.acked.values() if t not in ann.texts[chat.cid]]
    return missing


async def _settle(ann: Tally, chats: list[Visitor], timeout: float = 15) -> None:
    """Until every acknowledged line has reached the other side, or time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _missing(ann, chats) and loop.time() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # anything sent twice arrives meanwhile


def _assert_once_in_order(ann: Tally, chats: list[Visitor]) -> None:
    tallies = [ann, *(chat.tally for chat in chats)]
    duplicates = sum(len(t.duplicates) for t in tallies)
    out_of_order = sum(len(t.out_of_order) for t in tallies)
    lines = len(ann.acked) + sum(len(chat.tally.acked) for chat in chats)
    assert lines >= 400, f"too little traffic to tell: {lines} acknowledged lines"
    assert (duplicates, out_of_order) == (0, 0), (
        f"{duplicates} duplicate and {out_of_order} out-of-order frames, e.g. "
        f"{[t.duplicates[:3] for t in tallies]} {[t.out_of_order[:3] for t in tallies]}")
    assert _missing(ann, chats) == []


async def _stop(ann: Peer, chats: list[Visitor]) -> None:
    for peer in [ann, *(chat.peer for chat in chats)]:
        if peer is not None:
            await peer.close()


async def test_the_ack_of_a_line_comes_before_what_follows_it(fast_server: Server,
                                                               clients: list) -> None:
    server = fast_server
    sara = await visitor(server, name="Sara", language="en")
    clients.append(sara)
    frame_id = str(uuid.uuid4())
    await sara.send({"type": "message", "id": frame_id, "text": "What are your opening hours?"})
    answer = await sara.expect("message", where=lambda f: f["from"] == "bot")
    order = [f["type"] for f in sara.seen]
    assert "ack" in order[:order.index("message")], order  # the ack came before the answer
    ack = next(f for f in sara.seen if f["type"] == "ack")
    assert ack["id"] == frame_id and ack["seq"] == answer["seq"] - 1

    close_id = str(uuid.uuid4())
    await sara.send({"type": "close", "id": close_id})
    await sara.expect("closed")
    after = [f["type"] for f in sara.seen[len(order):]]
    assert after.index("ack") < after.index("closed"), after


async def test_visitors_resuming_mid_stream_get_each_event_once_and_in_order(
        fast_server: Server) -> None:
    server = fast_server
    chats = await _chats(server, [server], 5, "ann_en", "en")
    ann = await _agent_peer(server, chats, "ann_en")
    for chat in chats:
        await chat.reconnect(server)
    traffic = asyncio.create_task(_traffic(ann, chats, 3.0))
    rng = random.Random(7)
    while not traffic.done():  # each visitor drops and resumes, again and again
        await asyncio.sleep(rng.uniform(0.05, 0.3))
        chat = rng.choice(chats)
        assert chat.peer is not None
        await chat.peer.close()
        await chat.reconnect(server)
    await _settle(ann.tally, chats)
    _assert_once_in_order(ann.tally, chats)
    await _stop(ann, chats)


@pytest.mark.redis
async def test_a_process_killed_under_traffic_sends_nothing_twice_or_out_of_order(
        tmp_path: Path, redis: Redis) -> None:  # noqa: F811
    with pair(tmp_path, redis, **FAST) as (a, b):
        chats = await _chats(b, [a, b], 6)
        ann = await _agent_peer(b, chats)
        for i, chat in enumerate(chats):
            await chat.reconnect([a, b][i % 2])
        traffic = asyncio.create_task(_traffic(ann, chats, 3.0))
        await asyncio.sleep(1.2)
        a.kill()  # half the visitors lose their process mid-stream and come back on b
        for i, chat in enumerate(chats):
            if i % 2 == 0:
                assert chat.peer is not None
                await chat.peer.reader
                await chat.reconnect(b)
        await traffic
        await _settle(ann.tally, chats)
        _assert_once_in_order(ann.tally, chats)
        await _stop(ann, chats)


@pytest.mark.redis
async def test_redis_killed_and_restarted_under_traffic_sends_nothing_twice_or_out_of_order(
        tmp_path: Path, redis: Redis) -> None:  # noqa: F811
    with pair(tmp_path, redis, **FAST) as (a, b):
        chats = await _chats(b, [a], 5)  # every line crosses between the processes
        ann = await _agent_peer(b, chats)
        for chat in chats:
            await chat.reconnect(a)
        traffic = asyncio.create_task(_traffic(ann, chats, 4.0))
        await asyncio.sleep(1.0)
        redis.stop()
        await asyncio.sleep(1.5)
        redis.start()
        await traffic
        await _settle(ann.tally, chats, timeout=20)
        _assert_once_in_order(ann.tally, chats)
        await _stop(ann, chats)


# --- the edges of a resume ---------------------------------------------------------------------

async def _frames(client: Any, seconds: float) -> list[dict[str, Any]]:
    """Everything the client receives within `seconds` (what `expect` kept unread first)."""
    frames, client._unread = client._unread, []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            frames.append(json.loads(await asyncio.wait_for(client.ws.recv(), left)))
        except TimeoutError:
            break
    return frames


async def test_a_resume_long_after_welcome_still_gets_everything_it_asks_for(
        fast_server: Server, clients: list) -> None:
    server = fast_server
    sara = await visitor(server, name="Sara", language="en")
    clients.append(sara)
    first = await sara.request("message", text="What are your opening hours?")
    seen = (await sara.expect("message", where=lambda f: f["from"] == "bot"))["seq"]
    for question in ("Do you ship abroad?", "How do I return an item?"):  # in another tab
        await sara.request("message", text=question)
        await sara.expect("message", where=lambda f: f["from"] == "bot")
    later = await visitor(server, visitor_token=sara.welcome["visitor_token"])
    clients.append(later)
    told = later.welcome["conversation"]["seq"]
    await asyncio.sleep(3.5)  # past the hold: a slow phone, a server busy with a storm
    await later.send({"type": "resume", "conversation_id": first["conversation_id"],
                      "after_seq": seen})
    got = [f["seq"] for f in await _frames(later, 1.0) if f["type"] == "message"]
    assert got and got == sorted(got) and max(got) == told
    assert got[0] == seen + 1


async def test_a_supervisor_opening_a_chat_gets_its_transcript_each_time(
        fast_server: Server, clients: list) -> None:
    server = fast_server
    add_user(server.db, "sue", role="supervisor")
    sue = await agent(server, "sue", online=False)
    sara = await visitor(server, name="Sara", language="en")
    clients += [sue, sara]
    ack = await sara.request("message", text="What are your opening hours?")
    await sara.expect("message", where=lambda f: f["from"] == "bot")
    live = [f for f in await _frames(sue, 0.5) if f.get("conversation_id") == ack[
        "conversation_id"]]
    assert live, "a supervisor's socket receives every chat live"
    for _ in range(2):  # the supervisor view opens the chat, another, then this one again
        await sue.send({"type": "resume", "conversation_id": ack["conversation_id"],
                        "after_seq": 0})
        texts = [f.get("text") for f in await _frames(sue, 0.7) if f["type"] == "message"]
        assert "What are your opening hours?" in texts


async def test_a_resume_past_the_end_of_the_log_does_not_silence_the_socket(
        fast_server: Server, clients: list) -> None:
    server = fast_server
    sara = await visitor(server, name="Sara", language="en")
    ack = await sara.request("message", text="What are your opening hours?")
    await sara.expect("message", where=lambda f: f["from"] == "bot")
    await sara.ws.close()
    back = await visitor(server, visitor_token=sara.welcome["visitor_token"])
    clients.append(back)
    told = back.welcome["conversation"]["seq"]
    await back.send({"type": "resume", "conversation_id": ack["conversation_id"],
                     "after_seq": told + 5})  # a restored database, a stale tab
    await back.request("message", text="Do you ship abroad?")
    assert await back.expect("message", where=lambda f: f["from"] == "bot")


async def test_a_console_reloading_under_traffic_gets_nothing_before_welcome_or_twice(
        fast_server: Server) -> None:
    server = fast_server
    chats = await _chats(server, [server], 1, "cleo", "fa")
    sara = chats[0]
    await sara.reconnect(server)
    assert sara.peer is not None
    stop = asyncio.Event()

    async def chatter() -> None:
        n = 0
        while not stop.is_set():
            assert sara.peer is not None
            await sara.peer.line(f"{sara.cid} visitor {n}")
            n += 1
            await asyncio.sleep(0.004)

    task = asyncio.create_task(chatter())
    cookie = "; ".join(f"{k}={v}" for k, v in server.login("cleo").items())
    last, early, tally = 0, [], Tally()
    for _ in range(15):  # reload after reload; each page resumes from what it had
        ws = await connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie})
        await ws.send(json.dumps({"type": "hello"}))
        while (frame := json.loads(await ws.recv()))["type"] != "welcome":
            early.append(frame["type"])
        await ws.send(json.dumps({"type": "resume", "conversation_id": sara.cid,
                                  "after_seq": last}))
        loop = asyncio.get_running_loop()
        end = loop.time() + 0.15
        with contextlib.suppress(TimeoutError):
            while (left := end - loop.time()) > 0:
                tally.add(json.loads(await asyncio.wait_for(ws.recv(), left)))
        last = tally.high[sara.cid]
        await ws.close()
    stop.set()
    await task
    assert early == []
    assert (tally.duplicates, tally.out_of_order) == ([], [])
    assert last > 20
    await sara.peer.close()
