"""One webhook POST over asyncio's streams: resolve, check, connect to the checked address.

The standard library rather than httpx: the check and the connection must be about the same
address (a name that resolves to a public address when checked and to 127.0.0.1 when httpx
resolves it again is DNS rebinding), so this connects to the address it checked itself and
hands TLS the URL's host name for SNI and the certificate check. It follows no redirect (a
3xx is a failed delivery), bounds connecting and the whole exchange, and reads at most
`HEAD_MAX` bytes of the answer's head and `BODY_MAX` of its body.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass

from chatserver.core.webhooks import Destination, refused_address

HEAD_MAX = 16 * 1024  # status line and headers
BODY_MAX = 512  # of a refusal's body, kept as the delivery's error for the admin page
USER_AGENT = "chatserver-webhooks/1"
_TLS = ssl.create_default_context()


class Refused(Exception):
    """The destination may not be called (its address, or its name does not resolve)."""


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
        raise Refused(f"the host name does not resolve ({error})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise Refused("the host name does not resolve")
    if not allow_private:
        for address in addresses:
            if reason := refused_address(address):
                raise Refused(f"{address} is a {reason} address")
    return addresses[0]


async def post(where: Destination, body: bytes, headers: dict[str, str], *,
               allow_private: bool, connect_timeout: float, timeout: float  # noqa: ASYNC109
               ) -> Answer:
    """POST `body`; the answer's status, or why there is none. Never raises for the network."""
    started = time.monotonic()

    def answer(status: int | None, error: str = "") -> Answer:
        return Answer(status, int((time.monotonic() - started) * 1000), error[:BODY_MAX])

    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            address = await checked_address(where, allow_private)
            tls = where.scheme == "https"
            reader, stream = await asyncio.wait_for(asyncio.open_connection(
                address, where.port, ssl=_TLS if tls else None,
                server_hostname=where.host if tls else None, limit=HEAD_MAX), connect_timeout)
            writer = stream
            lines = [f"POST {where.target} HTTP/1.1", f"Host: {where.host_header}",
                     "Content-Type: application/json", f"Content-Length: {len(body)}",
                     f"User-Agent: {USER_AGENT}", "Connection: close",
                     *(f"{name}: {value}" for name, value in headers.items())]
            stream.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            await stream.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            version, _, rest = status_line.partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not code.isdigit():
                return answer(None, f"not an HTTP answer: {status_line[:80]!r}")
            status = int(code)
            if 200 <= status < 300:
                return answer(status)
            text = await _some(reader)
            return answer(status, f"HTTP {status}" + (f": {text}" if text else ""))
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
    finally:
        if writer is not None:
            writer.close()


async def _some(reader: asyncio.StreamReader) -> str:
    """The start of a refusal's body, if it comes at once (a receiver's reason)."""
    try:
        data = await asyncio.wait_for(reader.read(BODY_MAX), 0.5)
    except (TimeoutError, OSError):
        return ""
    return data.decode("utf-8", "replace").strip()
