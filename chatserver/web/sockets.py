"""The receive loop both socket endpoints share: parse, rate-limit, dispatch, answer errors.

A bad frame gets an `error` frame and the socket stays open; only abuse closes it (a flood
past the limit: 1008; a frame over the hard size limit is closed 1009 by the server itself).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from chatserver.cluster.connections import Connection
from chatserver.config import LimitsConfig
from chatserver.core.errors import (
    CLOSE_POLICY,
    ChatError,
    RateLimited,
    Unauthorized,
    Unavailable,
    error_frame,
)
from chatserver.core.frames import Frame, Limits, Spec, encode, parse
from chatserver.privacy.ratelimit import TokenBucket
from chatserver.store.store import StoreUnavailable
from chatserver.telemetry import Counter

from .log_hygiene import database_unavailable

log = logging.getLogger(__name__)

Handler = Callable[[Frame], Awaitable[dict[str, Any] | None]]


async def receive_loop(
    websocket: WebSocket,
    conn: Connection,
    table: Mapping[str, Spec],
    handlers: Mapping[str, Handler],
    limits: LimitsConfig,
    *,
    greeted: Callable[[], bool],
    errors: Counter,
) -> None:
    """Read frames until the peer leaves; each handler returns the ack to send (or None)."""
    frame_limits = Limits(max_text_chars=limits.max_text_chars)
    bucket = TokenBucket(limits.frames_per_second, limits.frame_burst)
    refused_in_a_row = 0
    hello_deadline = time.monotonic() + limits.hello_timeout_seconds
    while not conn.closed:
        try:
            if greeted():
                message = await websocket.receive()
            else:
                async with asyncio.timeout(max(0.0, hello_deadline - time.monotonic())):
                    message = await websocket.receive()  # no task per frame, unlike wait_for
        except TimeoutError:
            conn.close(CLOSE_POLICY, "hello not sent in time")
            return
        except WebSocketDisconnect:
            return
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        frame_id = None
        try:
            if not bucket.allow(time.monotonic()):
                refused_in_a_row += 1
                if refused_in_a_row >= limits.flood_close_after:
                    conn.close(CLOSE_POLICY, "flood: too many frames")
                    return
                raise RateLimited("slow down: too many frames")
            refused_in_a_row = 0
            frame = parse(raw, table, frame_limits)
            frame_id = frame.id
            if frame.type != "hello" and not greeted():
                raise Unauthorized("send hello first")
            if frame.type == "hello":
                conn.gate()  # nothing reaches the client before its welcome
            elif frame.type != "resume":
                conn.release()  # it did not resume first: held events go out from welcome's
            conn.last_ack = None
            ack = await handlers[frame.type](frame)
            if frame.type == "hello":
                conn.greet(encode(ack) if ack else None)
            elif ack and (frame.id is None or frame.id != conn.last_ack):
                conn.send(encode(ack))  # (else the service sent it the moment it stored)
        except ChatError as error:
            conn.greet(None)
            if error.frame_id is None and frame_id is not None:
                error.frame_id = frame_id
            errors.inc(code=error.code)
            conn.send(encode(error_frame(error)))
        except StoreUnavailable as outage:  # the client retries with the same id
            conn.greet(None)
            database_unavailable(log, str(outage))
            conn.send(encode(error_frame(Unavailable(
                "the server could not store this; retry with the same id", frame_id=frame_id))))
        except Exception:  # a bug: the client may retry with the same id
            conn.greet(None)
            log.exception("handling a frame failed")
            conn.send(encode(error_frame(Unavailable(
                "the server could not store this; retry with the same id", frame_id=frame_id))))
