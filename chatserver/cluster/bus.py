"""Fan-out: deliver an encoded frame to a visitor, some agents, or a chat's watchers.

`LocalBus` hands frames straight to this process's sockets. `RedisBus` also publishes them on
one Redis channel so every other process delivers them to its own sockets (the broadcaster
pattern: a tiny interface, one backend per file section). The event log stays the truth: a
process that missed a publication still serves `resume` from the store.

Each stored event is published once, with the frames that show it and the event itself, so
the other processes keep their projections current without reading the log again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chatserver.core.conversation import Event
from chatserver.tokens import new_id

from .connections import Ack, Connection, Registry
from .subscription import Publisher, Subscription, publisher, subscribe

log = logging.getLogger(__name__)



class Bus(Protocol):
    healthy: bool

    def to_visitor(self, visitor_id: str, text: str, skip: Connection | None = None
                   ) -> None: ...
    def to_agents(self, agent_ids: Iterable[int], text: str) -> None: ...
    def to_watchers(self, agent_ids: Iterable[int], text: str,
                    skip: Connection | None = None) -> None: ...
    def to_conversation(self, event: Event, agent_ids: Iterable[int], agent_text: str | None,
                        visitor_id: str, visitor_text: str | None,
                        ack: Ack | None = None) -> None: ...
    def to_all_agents(self, text: str) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LocalBus:
    """One process: delivery is a function call."""

    healthy = True

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def to_visitor(self, visitor_id: str, text: str, skip: Connection | None = None) -> None:
        self.registry.to_visitor(visitor_id, text, skip)

    def to_agents(self, agent_ids: Iterable[int], text: str) -> None:
        self.registry.to_agents(agent_ids, text)

    def to_watchers(self, agent_ids: Iterable[int], text: str,
                    skip: Connection | None = None) -> None:
        self.registry.to_watchers(agent_ids, text, skip)

    def to_conversation(self, event: Event, agent_ids: Iterable[int], agent_text: str | None,
                        visitor_id: str, visitor_text: str | None,
                        ack: Ack | None = None) -> None:
        """A stored event: its agents' frame to the holders and supervisors, its visitor's
        frame to the visitor (either may be None: not shown to that side)."""
        self.registry.to_conversation(event.conversation_id, event.seq, agent_ids, agent_text,
                                      visitor_id, visitor_text, ack)

    def to_all_agents(self, text: str) -> None:
        self.registry.to_agents(tuple(self.registry.agents), text)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def deliver(self, envelope: dict[str, Any]) -> None:
        """Hand a published envelope to this process's sockets (never publishes again)."""
        text, registry = envelope.get("f", ""), self.registry
        if "ev" in envelope:  # a stored event (see RedisBus.to_conversation)
            cid, seq = envelope["e"][0], envelope["e"][1]
            agent_text = envelope.get("f")
            visitor_text = agent_text if "vs" in envelope else envelope.get("fv")
            registry.to_conversation(cid, seq, envelope.get("w", ()), agent_text,
                                     envelope["ev"], visitor_text)
            return
        if "w" in envelope:
            registry.to_watchers(envelope["w"], text)
        if "v" in envelope:  # (an event from a process of the previous release: "fv")
            registry.to_visitor(envelope["v"], envelope.get("fv", text))
        if "a" in envelope:
            registry.to_agents(envelope["a"], text)
        if "all" in envelope:
            registry.to_agents(tuple(registry.agents), text)


# 1 s: how soon a lost Redis connection is noticed and retried; short enough that readiness
# and recovery follow within a couple of seconds.
RETRY_SECONDS = 1.0
# Frames waiting to be published before new ones are dropped (and counted): a Redis outage
# must not grow memory without bound; clients recover what they missed with `resume`.
PUBLISH_BACKLOG = 10_000


class RedisBus(LocalBus):
    """Deliver here at once, and publish for the other processes (which skip their own)."""

    def __init__(self, registry: Registry, client: aioredis.Redis, channel: str) -> None:
        super().__init__(registry)
        self.client = client
        self.channel = channel
        self.origin = new_id(6)
        self._prefix = self.origin + " "
        self._own = self._prefix.encode()
        self.healthy = False
        self.dropped = 0
        # Called each time the subscription is (re)established, with when it was lost (None
        # the first time): the service rebuilds routing state from the log, since Redis may
        # have lost it, and redelivers what its sockets may have missed meanwhile.
        self.on_recovered: Callable[[float | None], Awaitable[None]] | None = None
        # Called with each event another process stored, before its frames go out here.
        self.on_stored: Callable[[Event], None] | None = None
        self._lost_at: float | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(PUBLISH_BACKLOG)
        self._tasks: list[asyncio.Task[None]] = []

    def _publish(self, envelope: dict[str, Any]) -> None:
        # "<origin> <json>": a process recognises its own messages without parsing them.
        try:
            self._outbox.put_nowait(self._prefix + json.dumps(
                envelope, ensure_ascii=False, separators=(",", ":")))
        except asyncio.QueueFull:
            self.dropped += 1

    def to_visitor(self, visitor_id: str, text: str, skip: Connection | None = None) -> None:
        super().to_visitor(visitor_id, text, skip)
        self._publish({"v": visitor_id, "f": text})

    def to_agents(self, agent_ids: Iterable[int], text: str) -> None:
        ids = list(agent_ids)
        super().to_agents(ids, text)
        self._publish({"a": ids, "f": text})

    def to_watchers(self, agent_ids: Iterable[int], text: str,
                    skip: Connection | None = None) -> None:
        ids = list(agent_ids)
        super().to_watchers(ids, text, skip)
        self._publish({"w": ids, "f": text})

    def to_conversation(self, event: Event, agent_ids: Iterable[int], agent_text: str | None,
                        visitor_id: str, visitor_text: str | None,
                        ack: Ack | None = None) -> None:
        """One publication for both sides (a chat line used to make two, and every other
        process parsed both), carrying the event too: see `on_stored`. It names the visitor
        ("ev") even when they are not shown the event, so their sockets see no gap in the
        seqs; "vs" says the visitor's frame is the agents' one ("f"), "fv" carries a different
        one. ("ev", not "v": a process of the previous release, during a rolling restart,
        would send "v" the agents' frame, private notes included.)"""
        ids = list(agent_ids)
        super().to_conversation(event, ids, agent_text, visitor_id, visitor_text, ack)
        envelope: dict[str, Any] = {"e": [event.conversation_id, event.seq, event.type,
                                          event.author, event.payload, event.client_id,
                                          event.ts_ms], "ev": visitor_id}
        if agent_text is not None:
            envelope.update(w=ids, f=agent_text)
        if visitor_text is not None:
            if visitor_text == agent_text:
                envelope["vs"] = 1
            else:
                envelope["fv"] = visitor_text
        self._publish(envelope)  # even with no frame: the other processes learn of the event

    def to_all_agents(self, text: str) -> None:
        super().to_all_agents(text)
        self._publish({"all": 1, "f": text})

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._publisher(), name="bus-publish"),
                       asyncio.create_task(self._subscriber(), name="bus-subscribe")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.aclose()

    async def _publisher(self) -> None:
        connection: Publisher | None = None
        try:
            while True:
                message = await self._outbox.get()
                batch = [message]
                while not self._outbox.empty() and len(batch) < 500:
                    batch.append(self._outbox.get_nowait())
                while True:
                    try:
                        if connection is None or connection.failed is not None:
                            connection = await publisher(self.client)
                        await connection.publish(self.channel, batch)
                        break
                    except (RedisError, OSError) as error:
                        self.healthy = False
                        log.warning("publishing to Redis failed (%s); retrying", error)
                        await asyncio.sleep(RETRY_SECONDS)
        finally:
            if connection is not None:
                connection.close()

    async def _subscriber(self) -> None:
        while True:
            subscription: Subscription | None = None
            try:
                subscription = await subscribe(self.client, self.channel, self._receive)
                subscription.pause()  # what comes meanwhile waits for the service to catch up
                await self.client.ping()
                self.healthy = True
                lost_at, self._lost_at = self._lost_at, None
                if self.on_recovered is not None:
                    await self.on_recovered(lost_at)
                subscription.resume()
                await subscription.watch(RETRY_SECONDS)
            except (RedisError, OSError) as error:
                if self.healthy:
                    log.warning("lost Redis (%s); reconnecting", error)
                    self._lost_at = time.time()
                self.healthy = False
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                if subscription is not None:
                    subscription.close()

    def _receive(self, data: bytes) -> None:
        """One publication. Ours were delivered when published; another process's may name a
        stored event, reported before the frame goes out, so an operation a client makes on
        seeing the frame finds the conversation already known to be stale."""
        if data.startswith(self._own):
            return
        try:
            envelope = json.loads(data.split(b" ", 1)[1])
            if "e" in envelope and self.on_stored is not None:
                self.on_stored(Event(*envelope["e"]))
            self.deliver(envelope)
        except Exception:  # one bad publication must not end the subscription
            log.exception("a publication on %s could not be delivered", self.channel)
