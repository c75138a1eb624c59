"""Live sockets: each with a bounded send queue, and the registry that finds them.

A client that cannot keep up fills its own queue and is closed with a reason; it never stalls
the sender of a message or the other recipients (the advice of python-websockets' docs).
Frames are encoded once by the caller and the same text is queued for every recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections import defaultdict, deque
from collections.abc import Awaitable, Coroutine, Generator, Iterable
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from .errors import CLOSE_TRY_AGAIN

log = logging.getLogger(__name__)


class Connection:
    """One WebSocket: `send` never blocks.

    A frame goes to the socket at once when nothing is waiting and the socket takes it without
    waiting (the common case: no task, no queue; a task per frame was a tenth of the server's
    CPU per message). Otherwise frames wait in order in a bounded queue and a task drains it;
    that task exists only while frames are waiting, so an idle socket costs no task (it matters
    at 10,000 idle visitors: measured in docs/performance.md)."""

    __slots__ = ("_limit", "_pending", "_reason", "_task", "close_code", "closed", "label",
                 "websocket")

    def __init__(self, websocket: WebSocket, queue_size: int, label: str) -> None:
        self.websocket = websocket
        self.label = label
        self._limit = queue_size
        self._pending: deque[str | None] = deque()  # None: close after what came before
        self._task: asyncio.Task[None] | None = None
        self._reason = ""
        self.closed = False
        self.close_code: int | None = None

    def send(self, text: str) -> None:
        if self.closed:
            return
        if len(self._pending) >= self._limit:
            log.warning("closing slow client %s: %d frames waiting", self.label, self._limit)
            SLOW_CLOSED.increment()
            self._pending.clear()  # it will not read them; free the memory now
            self.close(CLOSE_TRY_AGAIN, "too slow: send queue full")
            return
        if self._task is None and not self._pending:
            self._send_now(text)
            return
        self._pending.append(text)
        self._wake()

    async def send_backlog(self, texts: Iterable[str]) -> None:
        """Send a backlog (a resume) in order, pausing whenever half the queue is full.

        A long history then reaches a client that reads at its own pace; the queue limit is
        for clients that do not read at all, and a resume must not look like one."""
        for text in texts:
            while (self._task is not None and not self.closed
                   and len(self._pending) >= self._limit // 2):
                await asyncio.wait({self._task})  # the drain task ends when the queue is empty
            self.send(text)

    def _send_now(self, text: str) -> None:
        """Run the send coroutine right here; if the socket makes it wait (its write buffer
        is full), a drain task finishes it and sends whatever is queued after it."""
        step = self.websocket.send_text(text)
        try:
            waiting = step.send(None)
        except StopIteration:
            return
        except (OSError, RuntimeError):
            return  # the peer went away; the receive loop notices and cleans up
        except Exception as error:
            log.debug("send to %s failed: %r", self.label, error)
            return
        self._task = asyncio.ensure_future(self._drain(_resume(step, waiting)))

    def close(self, code: int, reason: str) -> None:
        """Close after what is queued; safe to call more than once."""
        if self.closed:
            return
        self.closed, self.close_code, self._reason = True, code, reason
        self._pending.append(None)
        self._wake()

    def _wake(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=f"send:{self.label}")

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def stop(self) -> None:
        """The receive side ended: stop sending too."""
        self.closed = True
        self._pending.clear()
        if self._task is not None:
            self._task.cancel()
            await self.wait_closed()

    async def _drain(self, unfinished: Awaitable[None] | None = None) -> None:
        ws = self.websocket
        try:
            if unfinished is not None:
                await unfinished
            while self._pending:  # no await between this check and `finally`: no lost wake-up
                text = self._pending.popleft()
                if text is None:
                    if ws.application_state == WebSocketState.CONNECTED:
                        with contextlib.suppress(Exception):
                            await ws.close(self.close_code or 1000, self._reason)
                    return
                await ws.send_text(text)
        except (OSError, RuntimeError):
            return  # the peer went away; the receive loop notices and cleans up
        except Exception as error:
            log.debug("send to %s failed: %r", self.label, error)
        finally:
            self._task = None


@types.coroutine
def _resume(step: Coroutine[Any, Any, None], waiting: Any) -> Generator[Any, None, None]:
    """Finish a send coroutine that `_send_now` started and that yielded `waiting` (the
    future it waits on): wait on that same future inside the drain task, then resume it."""
    yield waiting
    yield from step


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

    def to_visitor(self, visitor_id: str, text: str, skip: Connection | None = None) -> None:
        for conn in tuple(self.visitors.get(visitor_id, ())):
            if conn is not skip:
                conn.send(text)

    def to_agents(self, agent_ids: Iterable[int], text: str,
                  skip: Connection | None = None) -> None:
        for agent_id in agent_ids:
            for conn in tuple(self.agents.get(agent_id, ())):
                if conn is not skip:
                    conn.send(text)

    def to_watchers(self, agent_ids: Iterable[int], text: str,
                    skip: Connection | None = None) -> None:
        """These agents and every supervisor, each once."""
        self.to_agents(set(agent_ids) | self.supervisors, text, skip)

    def agent_online(self, agent_id: int) -> bool:
        return agent_id in self.agents
