"""Live sockets: each with a bounded send queue, and the registry that finds them.

A client that cannot keep up fills its own queue and is closed with a reason; it never stalls
the sender of a message or the other recipients (the advice of python-websockets' docs).
Frames are encoded once by the caller and the same text is queued for every recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable

from starlette.websockets import WebSocket, WebSocketState

from .errors import CLOSE_TRY_AGAIN

log = logging.getLogger(__name__)


class Connection:
    """One WebSocket: `send` never blocks; a background task drains the queue to the socket."""

    def __init__(self, websocket: WebSocket, queue_size: int, label: str) -> None:
        self.websocket = websocket
        self.label = label
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.close_code: int | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._drain(), name=f"send:{self.label}")

    def send(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("closing slow client %s: send queue full", self.label)
            SLOW_CLOSED.increment()
            self.close(CLOSE_TRY_AGAIN, "too slow: send queue full")

    def close(self, code: int, reason: str) -> None:
        """Ask the socket to close after what is queued; safe to call more than once."""
        if self.closed:
            return
        self.closed, self.close_code = True, code
        self._close_reason = reason
        # Make room for the sentinel so the drain task wakes even when the queue is full.
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def stop(self) -> None:
        """The receive side ended: stop sending too."""
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            await self.wait_closed()

    async def _drain(self) -> None:
        ws = self.websocket
        try:
            while True:
                text = await self._queue.get()
                if text is None:
                    break
                await ws.send_text(text)
        except (OSError, RuntimeError):
            return  # the peer went away; the receive loop notices and cleans up
        except Exception as error:
            log.debug("send to %s failed: %r", self.label, error)
            return
        if ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(self.close_code or 1000, self._close_reason)


class _Counter:
    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1


SLOW_CLOSED = _Counter()


class Registry:
    """Who is connected: visitors by visitor id, agents by user id (several tabs each)."""

    def __init__(self) -> None:
        self.visitors: defaultdict[str, set[Connection]] = defaultdict(set)
        self.agents: defaultdict[int, set[Connection]] = defaultdict(set)
        self.supervisors: set[int] = set()  # connected agents who watch every chat

    def add_visitor(self, visitor_id: str, conn: Connection) -> None:
        self.visitors[visitor_id].add(conn)

    def remove_visitor(self, visitor_id: str, conn: Connection) -> None:
        conns = self.visitors.get(visitor_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.visitors[visitor_id]

    def add_agent(self, agent_id: int, conn: Connection, *, supervisor: bool = False) -> None:
        self.agents[agent_id].add(conn)
        if supervisor:
            self.supervisors.add(agent_id)

    def remove_agent(self, agent_id: int, conn: Connection) -> bool:
        """Forget one agent socket; True when it was that agent's last one."""
        conns = self.agents.get(agent_id)
        if conns is None:
            return True
        conns.discard(conn)
        if conns:
            return False
        del self.agents[agent_id]
        self.supervisors.discard(agent_id)
        return True

    def to_visitor(self, visitor_id: str, text: str) -> None:
        for conn in tuple(self.visitors.get(visitor_id, ())):
            conn.send(text)

    def to_agents(self, agent_ids: Iterable[int], text: str) -> None:
        for agent_id in agent_ids:
            for conn in tuple(self.agents.get(agent_id, ())):
                conn.send(text)

    def to_watchers(self, agent_ids: Iterable[int], text: str) -> None:
        """These agents and every supervisor, each once."""
        self.to_agents(set(agent_ids) | self.supervisors, text)

    def agent_online(self, agent_id: int) -> bool:
        return agent_id in self.agents
