"""Live sockets: each with a bounded send queue, and the registry that finds them.

A client that cannot keep up fills its own queue and is closed with a reason; it never stalls
the sender of a message or the other recipients (the advice of python-websockets' docs).
Frames are encoded once by the caller and the same text is queued for every recipient.

Each socket also keeps, per conversation it follows, the range of seqs it already has, so that
live delivery, `resume` and redelivery after an outage send each event once and in seq order:
what it has is skipped, and a gap (a publication lost or overtaken) is filled from the log
before anything later goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from .errors import CLOSE_TRY_AGAIN

log = logging.getLogger(__name__)

# A conversation's stored events after a seq, as this socket's audience sees them: (seq, the
# encoded frame, or None for an event it is not shown). Read from the log; see `Connection`.
Backlog = Callable[[str, int], Awaitable[Sequence[tuple[int, str | None]]]]

# 2 s: a client resumes within one round trip of `welcome` (the widget and the console send
# `resume` first); one that never does gets live events from the welcome's seq after this.
HOLD_SECONDS = 2.0
# Conversations whose seqs a socket remembers; a supervisor's socket sees every chat, and the
# oldest is forgotten first (a forgotten one is followed again from its next event).
FOLLOW_LIMIT = 1000


class _Follow:
    """What a socket has of one conversation: every event in [low, high] (0, 0: nothing yet).

    `held` collects live events while the log is being read for this socket (a resume, a gap,
    or the wait for a resume after `welcome`), by seq: what the live path gave this socket for
    an event stands for the log's frame of it (its own line is its ack, say). `hold_after` is
    where that wait for a resume would start."""

    __slots__ = ("held", "high", "hold_after", "low", "task")

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.held: dict[int, list[str]] | None = None
        self.hold_after: int | None = None
        self.task: asyncio.Task[None] | None = None


class Connection:
    """One WebSocket: `send` never blocks.

    A frame goes to the socket at once when nothing is waiting and the socket takes it without
    waiting (the common case: no task, no queue; a task per frame was a tenth of the server's
    CPU per message). Otherwise frames wait in order in a bounded queue and a task drains it;
    that task exists only while frames are waiting, so an idle socket costs no task (it matters
    at 10,000 idle visitors: measured in docs/performance.md)."""

    __slots__ = ("_backlog", "_follows", "_hold_timer", "_limit", "_pending", "_reason",
                 "_task", "close_code", "closed", "label", "last_ack", "websocket")

    def __init__(self, websocket: WebSocket, queue_size: int, label: str,
                 backlog: Backlog) -> None:
        self.websocket = websocket
        self.label = label
        self._limit = queue_size
        self._pending: deque[str | None] = deque()  # None: close after what came before
        self._task: asyncio.Task[None] | None = None
        self._reason = ""
        self.closed = False
        self.close_code: int | None = None
        self._backlog = backlog
        self._follows: dict[str, _Follow] = {}
        self._hold_timer: asyncio.TimerHandle | None = None
        self.last_ack: str | None = None  # the id of the frame being handled, once acked

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

    # --- conversation events: each once, in seq order ---------------------------------------

    def deliver(self, cid: str, seq: int, text: str | None) -> None:
        """A stored event of conversation `cid`: `text` is its frame, or None when this socket
        is not shown it."""
        self._take(cid, seq, () if text is None else (text,))

    def acknowledge(self, client_id: str, cid: str, seq: int, ack: str,
                    text: str | None) -> None:
        """This socket's own change, stored as event `seq`: its ack, then its frame unless it
        is the client's own words (the ack is its copy). Both are sent as soon as it is
        stored, before any frame that follows it (the receive loop sends the ack only once)."""
        self.last_ack = client_id
        follow = self._follows.get(cid)
        if follow is not None and follow.held is None and seq <= follow.high:
            self.send(ack)  # the log was quicker to bring the event; the ack is still owed
            return
        self._take(cid, seq, (ack,) if text is None else (ack, text))

    def _take(self, cid: str, seq: int, texts: tuple[str, ...]) -> None:
        follow = self._follows.get(cid)
        if follow is None:  # first sight: followed from here on
            self._follow(cid, _Follow(seq, seq))
        elif follow.held is not None:  # the log is being read: wait for it, in seq order
            follow.held.setdefault(seq, []).extend(texts)
            return
        elif seq <= follow.high:
            return
        elif seq > follow.high + 1:  # something before it is missing here: read it first
            follow.held = {seq: list(texts)}
            follow.task = asyncio.create_task(self._catch_up(cid, follow, follow.high))
            return
        else:
            follow.high = seq
        for text in texts:
            self.send(text)

    def hold(self, positions: dict[str, int]) -> None:
        """After `welcome`: hold live events of these conversations until the client resumes
        them (or sends anything else, or HOLD_SECONDS pass: then from the seq it was told)."""
        for cid, seq in positions.items():
            follow = _Follow(0, 0)
            follow.held, follow.hold_after = {}, seq
            self._follow(cid, follow)
        if positions:
            self._hold_timer = asyncio.get_running_loop().call_later(HOLD_SECONDS, self.release)

    def release(self) -> None:
        """End every hold still waiting for a resume: send from the seq `welcome` gave."""
        if self._hold_timer is None:
            return
        self._hold_timer.cancel()
        self._hold_timer = None
        for cid, follow in self._follows.items():
            if follow.hold_after is not None:
                after, follow.hold_after = follow.hold_after, None
                follow.task = asyncio.create_task(self._catch_up(cid, follow, after))

    async def resume(self, cid: str, after: int) -> None:
        """The client asks for what it missed after `after`: everything this socket has not
        sent it, in order; then live events go on from there."""
        follow = self._follows.get(cid)
        if follow is None:
            follow = self._follow(cid, _Follow(0, 0))
        while follow.task is not None:  # a read for this socket is under way: let it finish
            await asyncio.wait({follow.task})
        follow.hold_after = None
        if follow.held is None:
            follow.held = {}
        await self._catch_up(cid, follow, after)

    def refresh(self, cid: str, first: int) -> None:
        """Events of `cid` from seq `first` on may not have reached this socket (the bus was
        down): send what it lacks, from what it has, or from `first` if it had nothing."""
        follow = self._follows.get(cid)
        if follow is None:
            follow = self._follow(cid, _Follow(0, 0))
        elif follow.held is not None:
            return  # a read of the log is under way or waiting for a resume: it covers these
        after = follow.high if follow.high else first - 1
        follow.held = {}
        follow.task = asyncio.create_task(self._catch_up(cid, follow, after))

    def _follow(self, cid: str, follow: _Follow) -> _Follow:
        if len(self._follows) >= FOLLOW_LIMIT:
            for old, stale in self._follows.items():
                if stale.held is None:
                    del self._follows[old]
                    break
        self._follows[cid] = follow
        return follow

    async def _catch_up(self, cid: str, follow: _Follow, after: int) -> None:
        """Send from the log what this socket lacks after `after`, then the live events held
        meanwhile; a gap among those is read again. Live delivery resumes when none is left.

        A long history reaches a client that reads at its own pace: sending pauses whenever
        half the queue is full (the queue limit is for clients that do not read at all)."""
        held = follow.held
        assert held is not None
        try:
            if follow.high == 0:  # nothing sent yet: the client says it has up to `after`
                follow.low = 1
            follow.high = max(follow.high, after)
            while not self.closed:
                before = follow.high
                for seq, text in await self._backlog(cid, after):
                    live = held.pop(seq, None)
                    await self._send_once(follow, seq, live if live is not None else
                                          () if text is None else (text,))
                follow.low = min(follow.low, after + 1)
                while held and not self.closed:
                    seq = min(held)
                    # Still a gap: read the log again from what was sent; but when the last
                    # read brought nothing new, the log lacks it too: go on without it.
                    if seq > follow.high + 1 and follow.high > before:
                        break
                    await self._send_once(follow, seq, held.pop(seq))
                if not held:  # no await since the check: nothing arrives unseen
                    break
                after = follow.high
        except Exception as error:  # the log could not be read: the client resumes again
            log.warning("catching up %s on %s failed: %r", self.label, cid, error)
            self.close(CLOSE_TRY_AGAIN, "could not read the conversation; reconnect")
        finally:
            follow.held = None
            follow.task = None

    async def _send_once(self, follow: _Follow, seq: int, texts: Sequence[str]) -> None:
        if follow.low <= seq <= follow.high:
            return
        for text in texts:
            while (self._task is not None and not self.closed
                   and len(self._pending) >= self._limit // 2):
                await asyncio.wait({self._task})  # the drain task ends when the queue is empty
            self.send(text)
        follow.high = max(follow.high, seq)

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
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        for follow in self._follows.values():
            if follow.task is not None:
                follow.task.cancel()
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


@dataclass(frozen=True, slots=True)
class Ack:
    """A client's change as stored: its socket, the frame's id and the encoded ack; `own`
    when the event is the client's own words (the ack is then its only copy of them)."""

    conn: Connection
    client_id: str
    text: str
    own: bool


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

    def to_conversation(self, cid: str, seq: int, agent_ids: Iterable[int],
                        agent_text: str | None, visitor_id: str, visitor_text: str | None,
                        ack: Ack | None = None) -> None:
        """A stored event to the chat's watchers and its visitor's sockets, each socket taking
        it once and in order (`Connection.deliver`). The visitor's sockets learn of events
        they are not shown too, so that those are not taken for gaps. `ack`: the event is a
        client's change, and its socket gets the ack first."""
        recipients = [(conn, visitor_text) for conn in self.visitors.get(visitor_id, ())]
        if agent_text is not None:
            recipients += [(conn, agent_text) for agent_id in set(agent_ids) | self.supervisors
                           for conn in self.agents.get(agent_id, ())]
        acked = ack is None
        for conn, text in recipients:
            if ack is not None and conn is ack.conn:
                conn.acknowledge(ack.client_id, cid, seq, ack.text, None if ack.own else text)
                acked = True
            else:
                conn.deliver(cid, seq, text)
        if not acked:  # the sender does not follow this chat (an agent declining an offer)
            assert ack is not None
            ack.conn.last_ack = ack.client_id
            ack.conn.send(ack.text)

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
