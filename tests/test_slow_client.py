"""A visitor who stops reading is closed (1013) without stalling anyone, and loses nothing.

One scenario on a real server, asserted from three sides. Agent Alice holds two chats: Sam's
client stops reading (a plain TCP socket with a small receive window, driven through
websockets' sans-I/O protocol, so the test alone decides when bytes are read) while Alice
writes long lines to him; Fay, in the other chat, reads normally. Sam reads at last, then
reconnects with his token and resumes after the last line he really got.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from .harness import Client, Server, add_user, agent, visitor

TOKEN = "scrape-token-for-slow-client-tests-0123456789"
SEND_QUEUE = 16  # frames queued for one socket before it is closed as too slow
RCVBUF = 4096  # the slow visitor's receive buffer, set before connecting: a small TCP window
# The segment size the slow visitor announces, as on a real network link. On loopback the
# kernel sizes the server's send buffer from a 64 KiB segment size and grows it to megabytes,
# so the server's own queue would only fill after several MB.
MSS = 1024
MAX_TEXT = 4000  # the server's default limits.max_text_chars
MAX_LINES = 400  # 1.6 MB: far more than the kernel, uvicorn and the send queue hold
AFTER_CLOSE = 3  # lines the agent writes once the visitor has been closed
FAST_EVERY = 4  # every 4th slow line, the other chat gets a line too
TIMEOUT = 10.0  # generous: a loaded 2-core machine, and no timing is asserted


def long_line(i: int) -> str:
    """Line `i`, exactly the longest text the server accepts."""
    head = f"line {i:04d} "
    return head + "x" * (MAX_TEXT - len(head))


class RawVisitor:
    """A visitor socket read only when the test says so (no background reader at all)."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock = sock
        self.protocol = protocol
        self.loop = asyncio.get_running_loop()
        self.events: deque[Response | Frame] = deque()
        self.eof = False

    @classmethod
    async def open(cls, server: Server, rcvbuf: int) -> RawVisitor:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if hasattr(socket, "TCP_MAXSEG"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
            sock.setblocking(False)
            raw = cls(sock, ClientProtocol(parse_uri(server.ws + "/ws/visitor"), max_size=2**20))
            await asyncio.wait_for(raw.loop.sock_connect(sock, ("127.0.0.1", server.port)),
                                   TIMEOUT)
            raw.protocol.send_request(raw.protocol.connect())
            await raw.flush()
            response = await raw.next_event(TIMEOUT)
            assert isinstance(response, Response) and response.status_code == 101, response
        except BaseException:
            sock.close()
            raise
        return raw

    def close(self) -> None:
        self.sock.close()

    async def flush(self) -> None:
        """Write what the protocol has to say (the request, frames, pongs, the close reply)."""
        data = b"".join(self.protocol.data_to_send())
        if data:
            with contextlib.suppress(OSError):  # the server may already have hung up
                await self.loop.sock_sendall(self.sock, data)

    async def send(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        await self.flush()

    async def next_event(self, timeout: float) -> Response | Frame | None:
        """The next handshake response or frame; None once the server has closed TCP."""
        deadline = time.monotonic() + timeout
        while not self.events:
            if self.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"nothing from the server within {timeout}s")
            try:
                data = await asyncio.wait_for(self.loop.sock_recv(self.sock, 1 << 16),
                                              remaining)
            except TimeoutError:
                raise AssertionError(f"nothing from the server within {timeout}s") from None
            except ConnectionResetError:
                data = b""
            if data:
                self.protocol.receive_data(data)
            else:
                self.eof = True
                self.protocol.receive_eof()
            self.events.extend(self.protocol.events_received())
            await self.flush()
        return self.events.popleft()

    async def next_frame(self, timeout: float = TIMEOUT) -> dict[str, Any] | Close | None:
        """The next JSON frame, or the server's Close, or None on a TCP close without one."""
        while True:
            event = await self.next_event(timeout)
            if event is None:
                return None
            assert isinstance(event, Frame), event
            if event.opcode is Opcode.TEXT:
                assert event.fin, "the server does not fragment frames"
                frame: dict[str, Any] = json.loads(event.data)
                return frame
            if event.opcode is Opcode.CLOSE:
                return Close.parse(event.data)
            # pings are answered by the protocol; nothing else is expected

    async def expect(self, type: str) -> dict[str, Any]:
        while True:
            frame = await self.next_frame()
            assert isinstance(frame, dict), f"socket closed while waiting for {type}: {frame}"
            if frame["type"] == type:
                return frame

    async def request(self, type: str, frame_id: str) -> dict[str, Any]:
        await self.send({"type": type, "id": frame_id})
        while True:
            frame = await self.next_frame()
            assert isinstance(frame, dict), f"socket closed while waiting for an ack: {frame}"
            if frame["type"] in ("ack", "error") and frame.get("id") == frame_id:
                return frame

    async def read_to_close(self) -> tuple[list[dict[str, Any]], Close | None]:
        """Everything the server buffered for this socket, then how it ended."""
        frames: list[dict[str, Any]] = []
        while True:
            try:
                frame = await self.next_frame()
            except AssertionError:
                raise AssertionError(f"the socket is still open after {len(frames)} frames: "
                                     f"no close frame within {TIMEOUT}s") from None
            if not isinstance(frame, dict):
                return frames, frame
            frames.append(frame)


@dataclass
class Run:
    """What each party saw; the tests below assert on it."""

    acks: list[dict[str, Any]] = field(default_factory=list)  # Alice's lines to Sam, acked
    closed_after: int = 0  # lines Alice had written when /metrics first counted Sam closed
    fay_acks: list[dict[str, Any]] = field(default_factory=list)  # Alice's lines to Fay
    fay_got: list[dict[str, Any]] = field(default_factory=list)  # what Fay received
    sam_assigned_seq: int = 0
    sam_frames: list[dict[str, Any]] = field(default_factory=list)  # what Sam read at last
    sam_close: Close | None = None
    slow_closed_before_resume: float = 0.0
    welcome_back: dict[str, Any] = field(default_factory=dict)
    resumed_after: int = 0
    resumed: list[dict[str, Any]] = field(default_factory=list)
    resumed_extra: list[dict[str, Any]] = field(default_factory=list)
    slow_closed_at_end: float = 0.0

    @property
    def sam_lines(self) -> list[dict[str, Any]]:
        return [f for f in self.sam_frames if f["type"] == "message"]


def line_number(frame: dict[str, Any]) -> int:
    """Which `long_line` a message frame carries (checking the whole text came through)."""
    number = int(frame["text"].split()[1])
    assert frame["text"] == long_line(number), f"line {number} arrived altered"
    return number


async def slow_clients_closed(http: httpx.AsyncClient, server: Server) -> float:
    response = await http.get(server.url + "/metrics",
                              headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    match = re.search(r"^chat_slow_clients_closed (\S+)$", response.text, re.MULTILINE)
    assert match, "chat_slow_clients_closed not in /metrics"
    return float(match.group(1))


async def acked(alice: Client, what: str, **fields: Any) -> dict[str, Any]:
    """Alice's request and its ack; no ack in time means Alice's socket is stalled."""
    try:
        ack = await alice.request("message", **fields)
    except (AssertionError, TimeoutError):
        raise AssertionError(f"{what}: no ack within {TIMEOUT}s; the sender is stalled") from None
    assert ack["type"] == "ack", ack
    return ack


async def open_chat(alice: Client, start: Any) -> str:
    """The visitor asked for a person (`start` is its ack); Alice accepts the offer."""
    ack = await start
    assert ack["type"] == "ack", ack
    cid: str = ack["conversation_id"]
    await alice.expect("offer", where=lambda f: f["conversation"]["id"] == cid,
                       timeout=TIMEOUT)
    accepted = await alice.request("accept", conversation_id=cid)
    assert accepted["type"] == "ack", accepted
    return cid


async def messages(client: Client, count: int) -> list[dict[str, Any]]:
    """Up to `count` message frames, fewer if the server stops sending them."""
    got: list[dict[str, Any]] = []
    with contextlib.suppress(AssertionError, TimeoutError):
        while len(got) < count:
            got.append(await client.expect("message", timeout=TIMEOUT))
    return got


async def play(server: Server) -> Run:
    run = Run()
    add_user(server.db, "alice", skills={"lang:en": 5}, capacity=3, display_name="Alice")
    alice = await agent(server, "alice")
    fay: Client | None = None
    sam = await RawVisitor.open(server, RCVBUF)
    try:
        await sam.send({"type": "hello", "name": "Sam", "language": "en"})
        token = (await sam.expect("welcome"))["visitor_token"]
        sam_cid = await open_chat(alice, sam.request("request_human", "sam-asks"))
        run.sam_assigned_seq = (await sam.expect("assigned"))["seq"]
        # From here on Sam reads nothing until Alice is done.

        fay = await visitor(server, name="Fay", language="en")
        fay_cid = await open_chat(alice, fay.request("request_human"))
        await fay.expect("assigned", timeout=TIMEOUT)

        async def alice_writes() -> None:
            i = len(run.acks)
            run.acks.append(await acked(alice, f"Alice's line {i} to Sam",
                                        conversation_id=sam_cid, text=long_line(i)))
            if i % FAST_EVERY == 0:
                assert fay is not None
                n = len(run.fay_acks)
                run.fay_acks.append(await acked(alice, f"Alice's line {n} to Fay",
                                                conversation_id=fay_cid, text=f"to Fay {n}"))
                run.fay_got += await messages(fay, 1)

        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            assert await slow_clients_closed(http, server) == 0
            while await slow_clients_closed(http, server) == 0:
                if len(run.acks) >= MAX_LINES:
                    pytest.fail(f"{MAX_LINES} lines of {MAX_TEXT} characters to a visitor who "
                                f"reads nothing, and the server never closed it as too slow "
                                f"(send_queue={SEND_QUEUE})")
                for _ in range(FAST_EVERY):
                    await alice_writes()
            run.closed_after = len(run.acks)
            for _ in range(AFTER_CLOSE):  # Sam is gone; Alice goes on writing to both
                await alice_writes()

            # Sam reads at last: what was already on its way, then how the socket ended.
            run.sam_frames, run.sam_close = await sam.read_to_close()
            run.slow_closed_before_resume = await slow_clients_closed(http, server)

            back = await visitor(server, visitor_token=token)
            try:
                run.welcome_back = back.welcome  # type: ignore[attr-defined]
                lines = run.sam_lines
                run.resumed_after = lines[-1]["seq"] if lines else run.sam_assigned_seq
                await back.send({"type": "resume", "conversation_id": sam_cid,
                                 "after_seq": run.resumed_after})
                run.resumed = await messages(back, len(run.acks) - len(lines))
                with contextlib.suppress(AssertionError, TimeoutError):
                    run.resumed_extra.append(await back.expect("message", timeout=0.5))
            finally:
                await back.ws.close()
            run.slow_closed_at_end = await slow_clients_closed(http, server)
    finally:
        sam.close()
        if fay is not None:
            await fay.ws.close()
        await alice.ws.close()
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The scenario, played once for the three tests."""
    server = Server(
        tmp_path_factory.mktemp("slow"),
        CHATSERVER_LIMITS_SEND_QUEUE=str(SEND_QUEUE),
        # Alice writes far faster than a person: lift the per-socket rate limit.
        CHATSERVER_LIMITS_FRAMES_PER_SECOND="1000",
        CHATSERVER_LIMITS_FRAME_BURST="1000",
        CHATSERVER_METRICS_TOKEN=TOKEN,
    )
    server.start()
    try:
        yield asyncio.run(play(server))
    finally:
        server.stop()


def test_a_visitor_who_stops_reading_gets_what_was_sent_then_a_1013_close(run: Run) -> None:
    assert isinstance(run.sam_close, Close), (
        f"the server ended the TCP connection without a close frame after "
        f"{len(run.sam_frames)} frames")
    assert run.sam_close.code == 1013, run.sam_close
    assert "too slow" in run.sam_close.reason, run.sam_close
    assert run.slow_closed_before_resume == 1  # /metrics: one socket closed as too slow
    # What reached Sam is the start of what Alice wrote: in order, whole, no gap, no repeat...
    numbers = [line_number(f) for f in run.sam_lines]
    assert numbers == list(range(len(numbers)))
    assert [f["seq"] for f in run.sam_lines] == [a["seq"] for a in run.acks[: len(numbers)]]
    # ...and not all of it: the lines queued past the limit were never sent to this socket.
    assert len(numbers) < run.closed_after


def test_the_agent_and_another_visitor_are_not_held_up_by_the_slow_one(run: Run) -> None:
    # Every line Alice wrote was acknowledged (`play` fails at the first missing ack), before
    # and after the server gave up on Sam.
    assert len(run.acks) == run.closed_after + AFTER_CLOSE
    assert [a["seq"] for a in run.acks] == sorted({a["seq"] for a in run.acks})
    # Fay received each of her lines, in order, while Sam's socket was stuck.
    assert [(f["text"], f["seq"], f["from"]) for f in run.fay_got] == [
        (f"to Fay {n}", a["seq"], "agent") for n, a in enumerate(run.fay_acks)]
    assert len(run.fay_acks) == len(range(0, len(run.acks), FAST_EVERY))


def test_the_slow_visitor_gets_every_missed_line_when_it_resumes(run: Run) -> None:
    conversation = run.welcome_back["conversation"]
    assert conversation["id"] == run.acks[0]["conversation_id"]
    assert conversation["seq"] == run.acks[-1]["seq"]
    missed = run.acks[len(run.sam_lines):]
    assert missed, "Sam missed nothing: the scenario did not exercise the slow path"
    numbers = [line_number(f) for f in run.resumed]
    assert numbers == list(range(len(run.sam_lines), len(run.acks)))
    assert [f["seq"] for f in run.resumed] == [a["seq"] for a in missed]
    assert all(f["seq"] > run.resumed_after for f in run.resumed)
    assert run.resumed_extra == []  # each line once
    assert run.slow_closed_at_end == 1  # the resumed socket kept up: it was not closed too


def test_a_long_resume_reaches_a_client_that_reads_at_its_own_pace(tmp_path: Any) -> None:
    """A backlog far larger than the send queue is paced, not taken for a stuck client."""
    backlog = 60  # 240 KB of lines: past uvicorn's write buffer and 3.75x the send queue

    async def scenario(server: Server) -> tuple[list[dict[str, Any]], Close | None]:
        add_user(server.db, "alice", skills={"lang:en": 5}, capacity=3, display_name="Alice")
        alice = await agent(server, "alice")
        sam = await visitor(server, name="Sam", language="en")
        token = sam.welcome["visitor_token"]  # type: ignore[attr-defined]
        cid = await open_chat(alice, sam.request("request_human"))
        after = (await sam.expect("assigned", timeout=TIMEOUT))["seq"]
        await sam.ws.close()  # Sam is away while Alice writes
        for i in range(backlog):
            await acked(alice, f"Alice's line {i}", conversation_id=cid, text=long_line(i))
        # Sam is back on a real-network-sized window, reading all the time.
        back = await RawVisitor.open(server, 65536)
        try:
            await back.send({"type": "hello", "visitor_token": token})
            await back.expect("welcome")
            await back.send({"type": "resume", "conversation_id": cid, "after_seq": after})
            got: list[dict[str, Any]] = []
            while len(got) < backlog:
                frame = await back.next_frame()
                if not isinstance(frame, dict):
                    return got, frame  # the server closed the socket
                if frame["type"] == "message":
                    got.append(frame)
            return got, None
        finally:
            back.close()
            await alice.ws.close()

    server = Server(tmp_path, CHATSERVER_LIMITS_SEND_QUEUE=str(SEND_QUEUE),
                    CHATSERVER_LIMITS_FRAMES_PER_SECOND="1000",
                    CHATSERVER_LIMITS_FRAME_BURST="1000")
    server.start()
    try:
        got, close = asyncio.run(scenario(server))
    finally:
        server.stop()
    assert close is None, f"closed after {len(got)} of {backlog} lines: {close}"
    assert [line_number(f) for f in got] == list(range(backlog))
