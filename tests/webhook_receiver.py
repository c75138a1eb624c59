"""A real HTTP receiver for webhook tests: an asyncio server on a free local port that keeps
every request it gets (headers, body) and answers with the status the test sets, or never
(`hang`: accepts the connection, reads, answers nothing). Connections are kept alive, as
most receivers' servers do."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from chatserver.core.webhooks import verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    port: int = 0
    status: int = 200
    hang: bool = False
    got: list[Received] = field(default_factory=list)
    connections: int = 0  # connections accepted
    _server: asyncio.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/chat?source=test"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        self.connections += 1
        try:
            while True:  # requests one after another on a kept-alive connection
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                assert lines[0].startswith("POST /hooks/chat?source=test HTTP/1.1"), lines[0]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers["content-length"]))
                if self.hang:
                    await asyncio.sleep(3600)
                self.got.append(Received(headers, body))
                self._arrived.set()
                writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 2\r\n\r\n"
                             "no".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()

    def drop_connections(self) -> None:
        """Close every open connection, as a server does with idle ones."""
        for writer in list(self._open):
            writer.close()

    def ids(self) -> list[str]:
        return [r.event["id"] for r in self.got]

    def verified(self, secret: str, now: float) -> bool:
        return all(verify(secret, r.headers["x-chatserver-signature"], r.body, now)
                   for r in self.got)

    async def until(self, check: Any, timeout: float = 30.0) -> None:
        """Wait until `check()` holds, re-checked on every arrival and every 0.1 s."""
        async with asyncio.timeout(timeout):
            while not check():
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.1)
