"""The bus's two Redis connections, spoken to in RESP by this module instead of redis-py: one
subscribed to the channel, one that publishes on it.

Every process reads every publication, its own included. redis-py spent ~47 µs of CPU on each
one it handed over in bursts, ~259 µs on one arriving alone (a pure-Python parser, a retry
wrapper, a timeout and a task wake per message); this reader is an asyncio Protocol that cuts
the publications out of each chunk the socket gives and passes them on in the same callback:
~14 and ~114 µs (docs/performance.md). It speaks RESP2, which every Redis server since 2.0
accepts.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection

# 5 s: the bound the pool's connections have on connecting (web/app.py).
CONNECT_SECONDS = 5.0


def command(*parts: str | bytes) -> bytes:
    """One command in RESP."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def replies(buffer: bytearray) -> tuple[list[list[bytes] | bytes], int]:
    """The complete replies at the start of `buffer` and how many bytes they took: an array
    (a publication, a subscription's confirmation, a PING's answer) as its items, a simple
    reply (+OK, -ERR ...) as its line."""
    found: list[list[bytes] | bytes] = []
    pos, size = 0, len(buffer)
    while pos < size:
        start = pos
        end = buffer.find(b"\r\n", pos)
        if end < 0:
            break
        if buffer[pos] != 0x2A:  # not "*": a simple reply, an error or an integer
            found.append(bytes(buffer[pos:end]))
            pos = end + 2
            continue
        count = int(buffer[pos + 1:end])
        pos = end + 2
        items: list[bytes] = []
        while len(items) < count:
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                break
            if buffer[pos] == 0x24:  # "$": a bulk string of that many bytes
                first = end + 2
                last = first + int(buffer[pos + 1:end])
                if last + 2 > size:
                    break
                items.append(bytes(buffer[first:last]))
                pos = last + 2
            else:  # ":": an integer (a subscription count)
                items.append(bytes(buffer[pos + 1:end]))
                pos = end + 2
        if len(items) < count:  # the rest is still on its way
            pos = start
            break
        found.append(items)
    return found, pos


class _Resp(asyncio.Protocol):
    transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass


P = TypeVar("P", bound=_Resp)


class Subscription(_Resp):
    """The connection: publications go to `receive` as they arrive; `watch` returns never and
    raises ConnectionError once the connection is lost or stops answering."""

    def __init__(self, receive: Callable[[bytes], None]) -> None:
        self.receive = receive
        self.buffer = bytearray()
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.heard = False

    def data_received(self, data: bytes) -> None:
        self.heard = True
        self.buffer += data
        found, used = replies(self.buffer)
        del self.buffer[:used]
        for reply in found:
            if type(reply) is list:
                if reply[0] == b"message":
                    self.receive(reply[2])
                elif reply[0] == b"subscribe" and not self.subscribed.done():
                    self.subscribed.set_result(None)
            elif reply[:1] == b"-":  # refused (a wrong password, say): give up this one
                self._fail(ConnectionError(f"Redis refused: {reply[1:].decode(errors='replace')}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"subscription lost: {exc or 'closed by Redis'}"))

    def _fail(self, error: ConnectionError) -> None:
        for waiter in (self.subscribed, self.lost):
            if not waiter.done():
                waiter.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    async def watch(self, quiet_seconds: float) -> None:
        """Wait for the connection to fail. After `quiet_seconds` of silence a PING asks
        whether it still stands; no answer by the next look and it is taken for lost."""
        asked = False
        while True:
            self.heard = False
            done, _ = await asyncio.wait({self.lost}, timeout=quiet_seconds)
            if done:
                self.lost.result()  # raises why
            if self.heard:
                asked = False
            elif asked:
                self._fail(ConnectionError("Redis did not answer a PING"))
            else:
                assert self.transport is not None
                self.transport.write(command("PING"))
                asked = True

    def pause(self) -> None:
        """Publications wait in the socket (while the service catches up after a loss)."""
        assert self.transport is not None
        self.transport.pause_reading()

    def resume(self) -> None:
        assert self.transport is not None
        self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        for waiter in (self.subscribed, self.lost):
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # retrieved: why it failed was reported by its waiter


class Publisher(_Resp):
    """A connection that only publishes: a batch's PUBLISH commands are written at once and
    its replies (one integer each) counted; redis-py spent ~200 µs of CPU on a pipeline of
    one (docs/performance.md)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiting: deque[list[Any]] = deque()  # [replies still owed, future], in order
        self.failed: ConnectionError | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        found, used = replies(self.buffer)
        del self.buffer[:used]
        for reply in found:
            if isinstance(reply, bytes) and reply[:1] == b"-":
                self._fail(ConnectionError(f"Redis refused: {reply[1:].decode(errors='replace')}"))
                return
            if self.waiting:
                owed = self.waiting[0]
                owed[0] -= 1
                if owed[0] == 0:
                    self.waiting.popleft()
                    if not owed[1].done():
                        owed[1].set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"publishing connection lost: {exc or 'closed by Redis'}"))

    def _fail(self, error: ConnectionError) -> None:
        self.failed = error
        while self.waiting:
            future = self.waiting.popleft()[1]
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    async def send(self, commands: bytes, replies_owed: int) -> None:
        """Write `commands` and wait until Redis has answered each; ConnectionError if the
        connection fails first or Redis takes longer than CONNECT_SECONDS."""
        if self.failed is not None:
            raise self.failed
        assert self.transport is not None
        done = asyncio.get_running_loop().create_future()
        self.waiting.append([replies_owed, done])
        self.transport.write(commands)
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                await done
        except TimeoutError:
            self._fail(ConnectionError("Redis did not answer in time"))
            raise self.failed from None

    async def publish(self, channel: str, messages: list[str]) -> None:
        """Publish each message on `channel`, in order."""
        name = channel.encode()
        head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(name), name)
        parts = []
        for message in messages:
            data = message.encode()
            parts.append(b"%s$%d\r\n%s\r\n" % (head, len(data), data))
        await self.send(b"".join(parts), len(messages))

    def close(self) -> None:
        self._fail(ConnectionError("closed"))


async def _connect(client: aioredis.Redis, made: Callable[[], P]) -> tuple[P, bytes]:
    """A connection to the server the client's pool connects to (its address, TLS), and the
    AUTH command to send first (empty without a password)."""
    pool = client.connection_pool
    kwargs: dict[str, Any] = pool.connection_kwargs
    loop = asyncio.get_running_loop()
    if issubclass(pool.connection_class, UnixDomainSocketConnection):
        _, protocol = await loop.create_unix_connection(made, kwargs["path"])
    else:
        tls = _tls(kwargs) if issubclass(pool.connection_class, SSLConnection) else None
        _, protocol = await loop.create_connection(
            made, kwargs.get("host", "localhost"), kwargs.get("port", 6379), ssl=tls)
    password, username = kwargs.get("password"), kwargs.get("username")
    auth = command("AUTH", *([username] if username else []), password) if password else b""
    return protocol, auth


async def subscribe(client: aioredis.Redis, channel: str,
                    receive: Callable[[bytes], None]) -> Subscription:
    """A subscription to `channel`, confirmed by Redis."""

    async def connect() -> Subscription:
        sub, auth = await _connect(client, lambda: Subscription(receive))
        assert sub.transport is not None
        sub.transport.write(auth + command("SUBSCRIBE", channel))  # AUTH's +OK is passed over
        await sub.subscribed
        return sub

    return await asyncio.wait_for(connect(), CONNECT_SECONDS)


async def publisher(client: aioredis.Redis) -> Publisher:
    """A connection to publish on, its AUTH (if any) answered."""

    async def connect() -> Publisher:
        pub, auth = await _connect(client, Publisher)
        if auth:
            await pub.send(auth, 1)
        return pub

    return await asyncio.wait_for(connect(), CONNECT_SECONDS)


def _tls(kwargs: dict[str, Any]) -> ssl.SSLContext:
    """The TLS the pool's connections use, from the URL's options (rediss://)."""
    context = ssl.create_default_context(cafile=kwargs.get("ssl_ca_certs"))
    if kwargs.get("ssl_certfile"):
        context.load_cert_chain(kwargs["ssl_certfile"], kwargs.get("ssl_keyfile"))
    if kwargs.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif kwargs.get("ssl_check_hostname") is False:
        context.check_hostname = False
    return context
