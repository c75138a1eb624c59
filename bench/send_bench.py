"""The send path alone: main-thread CPU per frame from `Connection.send` to a real socket.

Compares uvicorn's sans-I/O WebSocket protocol (each frame through Starlette's and uvicorn's
`send`, one write each) with the server's `TurnWriteProtocol` (chatserver/web/socket_protocol.py:
framed at once, one write per socket per loop turn), in alternating runs of one process: the
app sends `burst` frames to one socket per loop turn, `turns` times, over a socket pair whose
other end this loop reads and discards (its reads count too, alike for both). Medians.

    .venv/bin/python -m bench.send_bench [--burst 3] [--turns 1000] [--reps 6]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import time
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from chatserver.cluster.connections import Connection
from chatserver.web.socket_protocol import TurnWriteProtocol

FRAME = ('{"type":"message","conversation_id":"NexwtAPl","seq":12,'
         '"ts":"2026-12-06T22:00:00.000Z","id":"m1_1","from":"visitor","author":"Visitor",'
         '"text":"Hi, my order 4711 has not arrived yet, can you check where it is?"}')
HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
PROTOCOLS: dict[str, type[WebSocketsSansIOProtocol]] = {
    "uvicorn": WebSocketsSansIOProtocol, "turn-write": TurnWriteProtocol}


async def one_run(protocol: type[WebSocketsSansIOProtocol], burst: int, turns: int) -> float:
    """Thread CPU µs per frame sent through one protocol instance."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[float] = loop.create_future()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()

        async def no_backlog(cid: str, after: int) -> list[tuple[int, str | None]]:
            return []

        conn = Connection(websocket, 1_000_000, "bench", no_backlog)
        start = time.thread_time()
        for _ in range(turns):
            for _ in range(burst):
                conn.send(FRAME)
            await asyncio.sleep(0)  # the turn ends: the writes go out
        result.set_result((time.thread_time() - start) / (turns * burst) * 1e6)
        await websocket.close()

    config = Config(app=app, ws=protocol, ws_per_message_deflate=False, lifespan="off",
                    log_level="warning")
    config.load()
    ours, theirs = socket.socketpair()
    handler = protocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    await loop.connect_accepted_socket(lambda: handler, ours)
    theirs.setblocking(False)
    await loop.sock_sendall(theirs, HANDSHAKE)
    try:
        while not result.done():  # read and discard what the server writes
            if not await loop.sock_recv(theirs, 1 << 20):
                break
        return await result
    finally:
        theirs.close()


async def main(burst: int, turns: int, reps: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
    for rep in range(reps):  # A B, B A, ...: a drift in machine speed hits both alike
        for name in list(PROTOCOLS)[::1 if rep % 2 == 0 else -1]:
            runs[name].append(await one_run(PROTOCOLS[name], burst, turns))
    return runs


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=3, help="frames per socket per turn")
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=6)
    args = parser.parse_args()
    try:
        import uvloop
        runs = uvloop.run(main(args.burst, args.turns, args.reps))
    except ImportError:
        runs = asyncio.run(main(args.burst, args.turns, args.reps))
    for name, values in runs.items():
        print(f"{name:>10}: {statistics.median(values):6.1f} µs CPU per frame (median of "
              f"{len(values)}: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    run()
