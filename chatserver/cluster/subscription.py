"""The bus's subscription: one Redis connection subscribed to one channel, read by a small
RESP reader of its own instead of redis-py's.

Every process reads every publication, its own included. redis-py spent ~50 µs of CPU on each
one it handed over (a pure-Python parser, a retry wrapper and a timeout per message, a dict
per message); this reader is an asyncio Protocol that cuts the publications out of each chunk
the socket gives and passes them on in the same callback, a few µs each
(docs/performance.md). It speaks RESP2, the protocol every Redis server since 2.0 accepts.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, cast

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


class Subscription(asyncio.Protocol):
    """The connection: publications go to `receive` as they arrive; `watch` returns never and
    raises ConnectionError once the connection is lost or stops answering."""

    def __init__(self, receive: Callable[[bytes], None]) -> None:
        self.receive = receive
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.heard = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

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


async def subscribe(client: aioredis.Redis, channel: str,
                    receive: Callable[[bytes], None]) -> Subscription:
    """A subscription to `channel` on the server the client's pool connects to (its address,
    TLS, user and password), confirmed by Redis."""
    pool = client.connection_pool
    kwargs: dict[str, Any] = pool.connection_kwargs
    loop = asyncio.get_running_loop()

    def made() -> Subscription:
        return Subscription(receive)

    async def connect() -> Subscription:
        if issubclass(pool.connection_class, UnixDomainSocketConnection):
            _, sub = await loop.create_unix_connection(made, kwargs["path"])
        else:
            tls = _tls(kwargs) if issubclass(pool.connection_class, SSLConnection) else None
            _, sub = await loop.create_connection(
                made, kwargs.get("host", "localhost"), kwargs.get("port", 6379), ssl=tls)
        assert sub.transport is not None
        password, username = kwargs.get("password"), kwargs.get("username")
        if password:
            sub.transport.write(command("AUTH", *([username] if username else []), password))
        sub.transport.write(command("SUBSCRIBE", channel))
        await sub.subscribed
        return sub

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
