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

from chatserver.core.errors import CLOSE_TRY_AGAIN

log = logging.getLogger(__name__)

# A conversation's stored events after a seq, as this socket's audience sees them: (seq, the
# encoded frame, or None for an event it is not shown). Read from the log; see `Connection`.
Backlog = Callable[[str, int], Awaitable[Sequence[tuple[int, str | None]]]]

# 3 s after `welcome`: a client resumes within one round trip of it (the widget and the console
# send `resume` first); one that never does gets live events from the welcome's seq after this.
# A resume that comes later still gets everything after its `after_seq`.
HOLD_SECONDS = 3.0
# Conversations whose seqs a socket remembers; a supervisor's socket sees every chat, and the
# oldest is forgotten first (a forgotten one is followed again from its next event).
FOLLOW_LIMIT = 1000
# The ASGI scope extension a server may offer to take a text frame without a coroutine:
# `write(text) -> bool`, False when the socket cannot take it now (then `send_text` is used).
WRITE_TEXT = "chat.write_text"


class _Follow:
    """What a socket has of one conversation: every event up to seq `high` (0: nothing).

    While the log is read for this socket (a resume, a gap, a redelivery) live events wait in
    `held`, by seq: what the live path gave this socket for an event stands for the log's frame
    of it (its own line is its ack). `arrived` says during which read each came, so a gap is
    passed over only when a read begun after its event came still lacks what is missing.
    `hold_after` marks the wait for a resume after `welcome`; `again` asks the read under way
    for one more pass (events were missed meanwhile)."""

    __slots__ = ("again", "arrived", "held", "high", "hold_after", "reads", "task")

    def __init__(self, high: int) -> None:
        self.high = high
        self.held: dict[int, list[str]] | None = None
        self.arrived: dict[int, int] = {}
        self.reads = 0
        self.again = False
        self.hold_after: int | None = None
        self.task: asyncio.Task[None] | None = None


class Connection:
    """One WebSocket: `send` never blocks.

    A frame goes to the socket at once when nothing is waiting and the socket takes it without
    waiting (the common case: no task, no queue; a task per frame was a tenth of the server's
    CPU per message). Otherwise frames wait in order in a bounded queue and a task drains it;
    that task exists only while frames are waiting, so an idle socket costs no task (it matters
    at 10,000 idle visitors: measured in docs/performance.md)."""

    __slots__ = ("_backlog", "_follows", "_gated", "_hold_timer", "_limit", "_pending",
                 "_prefaced", "_reason", "_task", "_write", "close_code", "closed", "label",
                 "last_ack", "websocket")

    def __init__(self, websocket: WebSocket, queue_size: int, label: str,
                 backlog: Backlog) -> None:
        self.websocket = websocket
        self._write: Callable[[str], bool] | None = websocket.scope.get(
            "extensions", {}).get(WRITE_TEXT)
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
        self._gated = False  # while a hello is handled: frames wait for the welcome
        self._prefaced = 0  # frames that go before the welcome (see `preface`)
        self.last_ack: str | None = None  # the id of the frame being handled, once acked

    def send(self, text: str) -> None:
        if self.closed:
            return
        if len(self._pending) >= self._limit:
            self._too_slow()
            return
        if self._task is None and not self._pending and not self._gated:
            self._send_now(text)
            return
        self._pending.append(text)
        if not self._gated:
            self._wake()

    def _too_slow(self) -> None:
        log.warning("closing slow client %s: %d frames waiting", self.label, self._limit)
        SLOW_CLOSED.increment()
        self._pending.clear()  # it will not read them; free the memory now
        self.close(CLOSE_TRY_AGAIN, "too slow: send queue full")

    # --- hello: the welcome is the first frame ----------------------------------------------

    def gate(self) -> None:
        """A hello is being handled: what is sent meanwhile waits for `greet`, so the welcome
        reaches the client first (a console's welcome resets its offers and chats)."""
        self._gated, self._prefaced = True, 0

    def preface(self, text: str) -> None:
        """A frame that goes before the welcome (a warning about the hello itself)."""
        if not self._gated:
            self.send(text)
            return
        self._pending.insert(self._prefaced, text)
        self._prefaced += 1

    def greet(self, welcome: str | None) -> None:
        """Send the welcome (None: the hello failed), then what waited for it; the hold on
        the chats it names starts counting now."""
        if not self._gated:
            return
        if welcome is not None:
            self._pending.insert(self._prefaced, welcome)
        self._gated, self._prefaced = False, 0
        if self._pending:
            self._wake()
        if any(f.hold_after is not None for f in self._follows.values()):
            self._hold_timer = asyncio.get_running_loop().call_later(HOLD_SECONDS,
                                                                     self.release)

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
            self.send(ack)  # it has the event (a resume asked past it); the ack is still owed
            return
        self._take(cid, seq, (ack,) if text is None else (ack, text))

    def acknowledge_retry(self, client_id: str, cid: str, seq: int, ack: str) -> None:
        """A retry's ack of the client's own words, stored before (the first answer was
        lost): its copy of event `seq`, taken in seq order where the socket lacks it, so the
        log does not send the line too when a later event shows the gap. Sent at once where
        the socket has it, or does not follow the chat."""
        follow = self._follows.get(cid)
        if follow is None or seq <= follow.high:
            self.last_ack = client_id
            self.send(ack)
            return
        self.acknowledge(client_id, cid, seq, ack, None)

    def _take(self, cid: str, seq: int, texts: tuple[str, ...]) -> None:
        follows = self._follows
        follow = follows.get(cid)
        if follow is None:  # first sight: followed from here on
            self._follow(cid, _Follow(seq))
        else:
            if len(follows) > 1:  # most recent last: the quietest chat is forgotten first
                follows[cid] = follows.pop(cid)
            if follow.held is not None:  # the log is being read: wait for it, in seq order
                self._hold_back(follow, seq, texts)
                return
            if seq <= follow.high:
                return
            if seq > follow.high + 1:  # something before it is missing here: read it first
                follow.held = {}
                self._hold_back(follow, seq, texts)
                follow.task = asyncio.create_task(self._catch_up(cid, follow))
                return
            follow.high = seq
        for text in texts:
            self.send(text)

    def _hold_back(self, follow: _Follow, seq: int, texts: tuple[str, ...]) -> None:
        assert follow.held is not None
        waiting = follow.held.get(seq)
        if waiting is not None:
            waiting.extend(texts)
        elif len(follow.held) >= self._limit:  # it reads nothing while it catches up
            self._too_slow()
        else:
            follow.held[seq] = list(texts)
            follow.arrived[seq] = follow.reads

    def hold(self, positions: dict[str, int]) -> None:
        """A hello names these conversations (with the seq it tells the client): hold their
        live events until the client resumes them, or sends anything else, or HOLD_SECONDS
        pass after the welcome (then they go out from that seq). Call before the socket is
        registered, so that nothing of them was sent yet."""
        for cid, seq in positions.items():
            follow = self._follow(cid, _Follow(seq))
            follow.held, follow.hold_after = {}, seq

    def release(self) -> None:
        """End every hold still waiting for a resume: send from the seq `welcome` gave."""
        if self._hold_timer is None:
            return
        self._hold_timer.cancel()
        self._hold_timer = None
        for cid, follow in self._follows.items():
            if follow.hold_after is not None and follow.task is None:
                follow.hold_after = None
                follow.task = asyncio.create_task(self._catch_up(cid, follow))

    async def resume(self, cid: str, after: int) -> None:
        """The client has everything up to `after` and asks for the rest: every later event
        it may see, in order; live events that arrive meanwhile follow them, each once."""
        follow = self._follows.get(cid)
        if follow is None:
            follow = self._follow(cid, _Follow(after))
        while follow.task is not None:  # a read for this socket is under way: let it finish
            await asyncio.wait({follow.task})
        follow.hold_after, follow.high = None, after
        if follow.held is None:
            follow.held = {}
        await self._catch_up(cid, follow)

    def refresh(self, cid: str, first: int) -> None:
        """Events of `cid` from seq `first` on may not have reached this socket (the bus was
        down): send what it lacks, from what it has, or from `first` if it had nothing."""
        follow = self._follows.get(cid)
        if follow is None:
            follow = self._follow(cid, _Follow(first - 1))
        elif follow.held is not None:  # a read is under way (or waits for a resume): one
            follow.again = True  # more pass when it ends, in case it began before these
            return
        follow.held = {}
        follow.task = asyncio.create_task(self._catch_up(cid, follow))

    def _follow(self, cid: str, follow: _Follow) -> _Follow:
        if len(self._follows) >= FOLLOW_LIMIT:
            for old, stale in self._follows.items():
                if stale.held is None:
                    del self._follows[old]
                    break
        self._follows[cid] = follow
        return follow

    async def _catch_up(self, cid: str, follow: _Follow) -> None:
        """Send from the log what this socket lacks after `follow.high`, then the live events
        held meanwhile; a gap among those is read again. Live delivery resumes when none is
        left.

        A long history reaches a client that reads at its own pace: sending pauses whenever
        half the queue is full (the queue limit is for clients that do not read at all)."""
        held = follow.held
        assert held is not None
        try:
            while not self.closed:
                follow.again = False
                follow.reads += 1
                for seq, text in await self._backlog(cid, follow.high):
                    live = held.pop(seq, None)
                    await self._send_once(follow, seq, live if live is not None else
                                          () if text is None else (text,))
                while held and not self.closed:
                    seq = min(held)
                    # A gap still: if its event came during the last read, that read may
                    # have begun before what is missing was stored: read again. Otherwise
                    # the log lacks it too (erased): go on without it.
                    if seq > follow.high + 1 and follow.arrived.get(seq, 0) >= follow.reads:
                        break
                    await self._send_once(follow, seq, held.pop(seq))
                if not held and not follow.again:  # no await since: nothing comes unseen
                    break
        except Exception as error:  # the log could not be read: the client resumes again
            log.warning("catching up %s on %s failed: %r", self.label, cid, error)
            self.close(CLOSE_TRY_AGAIN, "could not read the conversation; reconnect")
        finally:
            follow.held, follow.task = None, None
            follow.arrived.clear()

    async def _send_once(self, follow: _Follow, seq: int, texts: Sequence[str]) -> None:
        if seq <= follow.high:
            return
        follow.high = seq  # before any pause: a live event of this seq is not sent again
        for text in texts:
            while (self._task is not None and not self.closed
                   and len(self._pending) >= self._limit // 2):
                await asyncio.wait({self._task})  # the drain task ends when the queue is empty
            self.send(text)

    def _send_now(self, text: str) -> None:
        """Run the send coroutine right here; if the socket makes it wait (its write buffer
        is full), a drain task finishes it and sends whatever is queued after it."""
        if self._write is not None and self._write(text):
            return
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
            while self._pending and not self._gated:  # no await between this check and
                # `finally`: no lost wake-up
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

    def watch_all(self, agent_id: int, supervisor: bool) -> None:
        """A connected agent's role changed: every chat's events reach them, or no longer."""
        if supervisor and agent_id in self.agents:
            self.supervisors.add(agent_id)
        else:
            self.supervisors.discard(agent_id)

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
