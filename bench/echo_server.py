"""The baseline: a bare uvicorn + Starlette WebSocket server that does no work of its own.

`/ws/echo` sends every text frame back. `/ws/fanout?room=R` sends every text frame a
sender writes to the listeners of room R and of room `*` (`&listen=1` makes a socket a
listener) -- the shape of the chat's typing fan-out (the holding agent plus every supervisor),
without parsing, state or storage. Run with exactly the chat server's uvicorn settings
(chatserver/cli.py), so the difference between the two is the chat server's own work.

    python -m bench.echo_server --port 8765
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

_listeners: defaultdict[str, set[WebSocket]] = defaultdict(set)


async def readyz(request: Request) -> Response:
    return JSONResponse({"status": "ready"})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def fanout(websocket: WebSocket) -> None:
    room = websocket.query_params.get("room", "")
    listening = websocket.query_params.get("listen") == "1"
    await websocket.accept()
    if listening:
        _listeners[room].add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for target in (*_listeners.get(room, ()), *_listeners.get("*", ())):
                if target is not websocket:
                    await target.send_text(text)
    except WebSocketDisconnect:
        pass
    finally:
        _listeners[room].discard(websocket)


app = Starlette(routes=[Route("/readyz", readyz), WebSocketRoute("/ws/echo", echo),
                        WebSocketRoute("/ws/fanout", fanout)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same settings as `chatserver serve` (chatserver/cli.py), frame limit included.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning",
                ws_max_size=65536, ws_per_message_deflate=False,
                ws_ping_interval=20.0, ws_ping_timeout=20.0, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
