"""A lean WebSocket client for load: raw frames on an asyncio Protocol, no per-frame tasks.

The websockets library's client costs a task, a queue and a few layers per frame; at 10,000
sockets and thousands of frames a second on a 2-core machine that would make the load
generator, not the server, the bottleneck. This client does only what a load generator must:
the HTTP upgrade, unfragmented text frames out, text/ping/close frames in.

Frames out carry the all-zero masking key, so the payload needs no XOR on our side (RFC 6455
wants an unpredictable key to protect proxies; on loopback there are none, and the server
unmasks every frame the same way whatever the key).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key; the server's answer is not checked
_ZERO_MASK = b"\x00\x00\x00\x00"

Handler = Callable[["WSConn", bytes], None]


def encode_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked (with the zero key) frame."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return header + _ZERO_MASK + payload


class WSConn(asyncio.Protocol):
    """One client socket. Frames go to `handler` when set, else queue for `recv()`."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {_KEY}\r\nSec-WebSocket-Version: 13\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.handler: Handler | None = None
        self.inbox: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._buf = bytearray()
        self._upgraded = False
        self.state: Any = None  # scenario-owned data (ids, counters)

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.open.done():
            self.open.set_exception(ConnectionError(f"closed before the upgrade: {exc!r}"))
        self._wake()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:12])
            del buf[:end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self.open.set_exception(ConnectionError(f"upgrade refused: {status!r}"))
                self.abort()
                return
            self._upgraded = True
            self.open.set_result(None)
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n, head = b1 & 0x7F, 2
            if n == 126:
                if size - pos < 4:
                    break
                n, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            if size - pos < head + n:
                break
            payload = bytes(buf[pos + head:pos + head + n])
            pos += head + n
            opcode = b0 & 0x0F
            if opcode == 0x1:
                if self.handler is not None:
                    self.handler(self, payload)
                else:
                    self.inbox.append(payload)
                    self._wake()
            elif opcode == 0x9:  # ping: the server closes peers that do not answer
                self.write(encode_frame(payload, 0xA))
            elif opcode == 0x8:
                self.closed = True
                self.write(encode_frame(payload[:2], 0x8))
                self._wake()
        if pos:
            del buf[:pos]

    # --- use ---------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send(self, frame: dict[str, Any]) -> None:
        self.write(encode_frame(json.dumps(frame, separators=(",", ":")).encode()))

    async def recv(self, seconds: float = 10.0) -> dict[str, Any]:
        """The next frame not taken by `handler`, decoded."""
        deadline = time.monotonic() + seconds
        while not self.inbox:
            if self.closed:
                raise ConnectionError("socket closed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame in time")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._waiter = None
        return dict(json.loads(self.inbox.popleft()))

    async def expect(self, type_: str, seconds: float = 10.0,
                     where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """Skip frames until one of `type_` (matching `where`) arrives."""
        deadline = time.monotonic() + seconds
        while True:
            frame = await self.recv(max(0.0, deadline - time.monotonic()))
            if frame.get("type") == type_ and (where is None or where(frame)):
                return frame
            if frame.get("type") == "error":
                raise RuntimeError(f"server refused a frame: {frame}")

    def abort(self) -> None:
        """Drop like a lost network: RST, no close handshake, no TIME_WAIT left behind."""
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
        self.closed = True

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


async def connect(port: int, path: str, headers: dict[str, str] | None = None,
                  seconds: float = 30.0) -> WSConn:
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(loop.create_connection(
        lambda: WSConn("127.0.0.1", port, path, headers or {}), "127.0.0.1", port), seconds)
    await asyncio.wait_for(conn.open, seconds)
    return conn


async def connect_many(count: int, make: Callable[[int], Any], concurrency: int = 200,
                       deadline: float | None = None) -> list[Any]:
    """Run `make(i)` for i < count with at most `concurrency` in flight; results in order."""
    results: list[Any] = [None] * count
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            i = next_index
            next_index += 1
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"connecting took too long ({i}/{count})")
            results[i] = await make(i)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return results
