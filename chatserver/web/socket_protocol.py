"""uvicorn's sans-I/O WebSocket protocol, writing the frames of one loop turn in one write.

A socket write is the main thread's largest single cost per message (a system call that also
wakes the reader; docs/performance.md). The frames the application sends to one socket during
one turn of the event loop (an agent's share of a store commit: acks and lines of several
chats) are framed at once, as uvicorn does, and reach the transport together at the end of the
turn. A `Connection` hands its frames over through the `WRITE_TEXT` scope extension, without
the three coroutines of Starlette's and uvicorn's `send`. Everything else — the handshake,
close, pings, backpressure (`writable`), a peer that left — is uvicorn's own code, and
whatever else it writes takes the waiting frames first, in order.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

from chatserver.cluster.connections import WRITE_TEXT


class TurnWriteProtocol(WebSocketsSansIOProtocol):
    """`websocket.send` frames the text now and writes it at the end of the loop turn."""

    flush_due = False

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # the application's task has not run yet
            self.scope["extensions"][WRITE_TEXT] = self.write_text  # type: ignore[index]

    def write_text(self, text: str) -> bool:
        """Frame `text` for this turn's write; False when the socket cannot take it now (not
        accepted, closing, gone, or its buffer full): uvicorn's `send` then decides."""
        if (not self.handshake_complete or self.close_sent or self.disconnected
                or self.initial_response is not None or not self.writable.is_set()):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        if not self.flush_due:
            self.flush_due = True
            self.loop.call_soon(self.flush)
        return True

    async def send(self, message: Any) -> None:
        text = message.get("text") if message["type"] == "websocket.send" else None
        if text is None or message.get("bytes") is not None or not self.write_text(text):
            await super().send(message)

    def flush(self) -> None:
        """Write what this turn framed (nothing if uvicorn's own writes took it already)."""
        self.flush_due = False
        output = self.conn.data_to_send()
        if output and not self.transport.is_closing():
            self.transport.write(b"".join(output))
