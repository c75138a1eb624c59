"""One webhook POST over asyncio's streams: resolve, check, connect to the checked address.

The standard library rather than httpx: the check and the connection must be about the same
address (a name that resolves to a public address when checked and to 127.0.0.1 when httpx
resolves it again is DNS rebinding), so this connects to the address it checked itself and
hands TLS the URL's host name for SNI and the certificate check. It follows no redirect (a
3xx is a failed delivery), bounds connecting and the whole exchange, and reads at most
`HEAD_MAX` bytes of the answer's head and `BODY_MAX` of its body. Connections are kept alive
per endpoint (a new TCP and TLS handshake per event would cost more than the event), each
still to the address checked when it was opened.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from dataclasses import dataclass

from chatserver.core.msgids import N_
from chatserver.core.webhooks import Destination, refused_address

HEAD_MAX = 16 * 1024  # status line and headers
BODY_MAX = 512  # of a refusal's body, kept as the delivery's error for the admin page
USER_AGENT = "chatserver-webhooks/1"
# 60 s: a kept connection is not reused past this, so a changed DNS answer is looked up (and
# checked) again within a minute.
KEEP_SECONDS = 60.0


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's CA certificates, loaded at the first https connection rather than at import:
    loading them was 30-45 ms of CPU in every start, also of servers that send no webhook."""
    return ssl.create_default_context()


# Why a destination is refused, as the admin page words it (refused_address's reasons).
REFUSALS = {
    "loopback": N_("refused: {address} is a loopback address"),
    "link-local": N_("refused: {address} is a link-local address"),
    "multicast": N_("refused: {address} is a multicast address"),
    "unspecified": N_("refused: {address} is an unspecified address"),
    "site-local": N_("refused: {address} is a site-local address"),
    "reserved": N_("refused: {address} is a reserved address"),
    "private": N_("refused: {address} is a private address"),
    "not public": N_("refused: {address} is not a public address"),
}
UNRESOLVED = N_("refused: the host name does not resolve ({error})")


class Refused(Exception):
    """The destination may not be called (its address, or its name does not resolve):
    `message` is a msgid with {placeholders} filled from `values`."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message, self.values = message, values


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer
    duration_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def checked_address(where: Destination, allow_private: bool) -> str:
    """The address to connect to: every address the name has must be allowed (an attacker's
    name with one public and one private address must not pass), the first one is used."""
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(where.host, where.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(UNRESOLVED, error=str(error)) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise Refused(UNRESOLVED, error="no address")
    if not allow_private:
        for address in addresses:
            if reason := refused_address(address):
                raise Refused(REFUSALS[reason], address=address)
    return addresses[0]


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened: float  # monotonic


class Pool:
    """One endpoint's connections, kept alive between requests (at most `size` idle), each to
    the address checked when it was opened; none is reused after KEEP_SECONDS, so a changed
    DNS answer is resolved and checked again."""

    def __init__(self, where: Destination, *, allow_private: bool, connect_timeout: float,
                 size: int) -> None:
        self.where, self.allow_private = where, allow_private
        self.connect_timeout, self.size = connect_timeout, size
        self._idle: list[_Connection] = []

    def close(self) -> None:
        for connection in self._idle:
            connection.writer.close()
        self._idle.clear()

    async def _open(self) -> _Connection:
        where = self.where
        address = await checked_address(where, self.allow_private)
        tls = where.scheme == "https"
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            address, where.port, ssl=tls_context() if tls else None,
            server_hostname=where.host if tls else None, limit=HEAD_MAX), self.connect_timeout)
        return _Connection(reader, writer, time.monotonic())

    def _take(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if (time.monotonic() - connection.opened < KEEP_SECONDS
                    and not connection.reader.at_eof() and not connection.writer.is_closing()):
                return connection
            connection.writer.close()
        return None

    async def post(self, body: bytes, headers: dict[str, str], *,
                   timeout: float) -> Answer:  # noqa: ASYNC109
        """POST `body`; the answer's status, or why there is none. Never raises for the
        network. A kept connection the server closed meanwhile is replaced once."""
        started = time.monotonic()

        def answer(status: int | None, error: str = "") -> Answer:
            return Answer(status, int((time.monotonic() - started) * 1000), error[:BODY_MAX])

        connection: _Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                for attempt in range(2):
                    kept = self._take() if attempt == 0 else None
                    connection = kept or await self._open()
                    try:
                        status, keep, error = await self._exchange(connection, body, headers)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        if kept is None:
                            raise
                        connection.writer.close()  # stale: the server had closed it
                        connection = None
                        continue
                    if keep and len(self._idle) < self.size:
                        self._idle.append(connection)
                        connection = None
                    return answer(status, error)
                return answer(None, "no connection")
        except Refused as error:
            return answer(None, str(error))
        except TimeoutError:
            return answer(None, f"no answer within {timeout:g} s")
        except asyncio.LimitOverrunError:
            return answer(None, f"the answer's headers are over {HEAD_MAX} bytes")
        except asyncio.IncompleteReadError:
            return answer(None, "the connection closed before an answer")
        except (OSError, ssl.SSLError) as error:
            return answer(None, f"{type(error).__name__}: {error}")
        except ValueError as error:  # a malformed answer
            return answer(None, str(error)[:200])
        finally:
            if connection is not None:
                connection.writer.close()

    async def _exchange(self, connection: _Connection, body: bytes, headers: dict[str, str]
                        ) -> tuple[int | None, bool, str]:
        """Send the request, read the answer's head and (a little of) its body: the status,
        whether the connection can be kept, and the error to record."""
        where, (reader, writer) = self.where, (connection.reader, connection.writer)
        lines = [f"POST {where.target} HTTP/1.1", f"Host: {where.host_header}",
                 "Content-Type: application/json", f"Content-Length: {len(body)}",
                 f"User-Agent: {USER_AGENT}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, _, rest = head.partition("\r\n")
        version, _, after = status_line.partition(" ")
        code = after[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            return None, False, f"not an HTTP answer: {status_line[:80]!r}"
        status = int(code)
        fields = {k.strip().lower(): v.strip() for k, _, v in
                  (line.partition(":") for line in rest.split("\r\n") if line)}
        length = fields.get("content-length", "")
        known = status in (204, 304) or (length.isdigit() and int(length) <= BODY_MAX)
        text = ""
        if known and length.isdigit() and int(length):
            text = (await reader.readexactly(int(length))).decode("utf-8", "replace").strip()
        elif not known and not 200 <= status < 300:
            text = await _some(reader)
        keep = (known and version == "HTTP/1.1"
                and fields.get("connection", "").lower() != "close")
        if 200 <= status < 300:
            return status, keep, ""
        return status, keep, f"HTTP {status}" + (f": {text}" if text else "")


async def _some(reader: asyncio.StreamReader) -> str:
    """The start of a refusal's body, if it comes at once (a receiver's reason)."""
    try:
        data = await asyncio.wait_for(reader.read(BODY_MAX), 0.5)
    except (TimeoutError, OSError):
        return ""
    return data.decode("utf-8", "replace").strip()
