"""The webhook deliverer: leases endpoints in the store and sends each its outbox in order.

Off the chat path entirely: appends only write outbox rows (store.py); this runs in its own
tasks, one per leased endpoint, so a slow or dead endpoint holds up nothing but itself. Each
endpoint's task takes up to `concurrency` x ROUND conversations with a due row and up to
CHAIN rows of each, sends each conversation's rows in order (conversations in parallel,
`concurrency` requests at a time), and settles the round in one write.

Several processes: each renews its leases every third of `lease_seconds`; an endpoint is
delivered by the one process holding its lease, and a process that died loses its leases when
they run out. A clean stop gives them up at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable

from chatserver.config import WebhooksConfig
from chatserver.core import webhooks as rules
from chatserver.store.store import Store

from . import webhook_outbox as outbox
from .webhook_client import Pool

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 60.0  # the delivery log is cut to its last KEPT_DELIVERIES this often
ERROR_PAUSE_S = 1.0
# A round takes this many conversations per request in flight, and up to CHAIN rows of each
# (sent in order). One write settles the round, so the writer sees one job per round rather
# than one per event, and a busy chat's lines are not held to one per round.
ROUND = 8
CHAIN = 32  # after the database failed a round (an outage): try again this soon


def _now_ms() -> int:
    return int(time.time() * 1000)


class Webhooks:
    """Runs in the app's lifespan: `start()`, `stop()`; `changed()` after an admin's edit."""

    def __init__(self, store: Store, config: WebhooksConfig,
                 clock: Callable[[], int] = _now_ms) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.owner = uuid.uuid4().hex  # this process, as lease holder
        self._tasks: dict[int, tuple[outbox.Leased, asyncio.Task[None]]] = {}
        self._leaser: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._random = random.Random()
        self.delivered = 0  # 2xx answers, for /metrics and the benchmark
        self.failed = 0

    async def start(self) -> None:
        self._leaser = asyncio.create_task(self._lease_loop(), name="webhook leases")

    async def stop(self) -> None:
        tasks = [t for t in (self._leaser, *(t for _, t in self._tasks.values())) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):  # the database is gone: the leases run out
            await outbox.release(self.store, self.owner)

    def changed(self) -> None:
        """An endpoint was added, edited or enabled here: look at the leases now."""
        self._wake.set()

    async def _lease_loop(self) -> None:
        lease_ms = int(self.config.lease_seconds * 1000)
        while True:
            try:
                held = await outbox.lease(self.store, self.owner, self.clock(), lease_ms)
            except Exception as error:  # an outage: keep what runs, try again soon
                log.warning("webhook leases not renewed: %s", error)
                held = [leased for leased, _ in self._tasks.values()]
            self._reconcile(held)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.lease_seconds / 3)

    def _reconcile(self, held: list[outbox.Leased]) -> None:
        """One task per endpoint held, restarted when its URL or secret changed."""
        wanted = {leased.id: leased for leased in held}
        for endpoint_id, (leased, task) in list(self._tasks.items()):
            if wanted.get(endpoint_id) != leased or task.done():
                task.cancel()
                del self._tasks[endpoint_id]
        for endpoint_id, leased in wanted.items():
            if endpoint_id not in self._tasks:
                task = asyncio.create_task(self._endpoint_loop(leased),
                                           name=f"webhook {endpoint_id}")
                self._tasks[endpoint_id] = (leased, task)

    async def _endpoint_loop(self, endpoint: outbox.Leased) -> None:
        where = rules.destination(endpoint.url)
        gate = asyncio.Semaphore(self.config.concurrency)
        pool = Pool(where, allow_private=self.config.allow_private,
                    connect_timeout=self.config.connect_timeout_seconds,
                    size=self.config.concurrency)
        try:
            await self._rounds(endpoint, where, gate, pool)
        finally:
            pool.close()

    async def _rounds(self, endpoint: outbox.Leased, where: rules.Destination,
                      gate: asyncio.Semaphore, pool: Pool) -> None:
        pruned = time.monotonic()
        while True:
            try:
                chains = await outbox.due(self.store, endpoint.id, self.clock(),
                                          self.config.concurrency * ROUND, CHAIN,
                                          held=(self.owner, endpoint))
                if chains is None:  # changed, disabled or deleted since it was leased
                    self.changed()  # the leases are looked at now; this task ends
                    return
                if not chains:
                    await asyncio.sleep(self.config.poll_ms / 1000)
                    continue
                sent = await asyncio.gather(*(self._chain(endpoint, rows, gate, pool)
                                              for rows in chains))
                outcomes = [outcome for done in sent for outcome in done]
                prune = time.monotonic() - pruned > PRUNE_EVERY_S
                pruned = time.monotonic() if prune else pruned
                disabled = await outbox.settle(
                    self.store, endpoint.id, outcomes, self.clock(),
                    int(self.config.disable_after_hours * 3_600_000), prune)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database, mostly: the rows stay in the outbox
                log.warning("webhook endpoint %d: round failed: %s", endpoint.id, error)
                await asyncio.sleep(ERROR_PAUSE_S)
                continue
            if disabled:
                log.warning("webhook endpoint %d (%s) disabled: failing for %g hours; events "
                            "keep waiting for it until an admin enables it again",
                            endpoint.id, where.host, self.config.disable_after_hours)
                self._tasks.pop(endpoint.id, None)
                return

    async def _chain(self, endpoint: outbox.Leased, rows: list[outbox.Due],
                     gate: asyncio.Semaphore, pool: Pool) -> list[outbox.Outcome]:
        """One conversation's rows in order, up to the first that fails."""
        outcomes = []
        for row in rows:
            outcomes.append(await self._send(endpoint, row, gate, pool))
            answer = outcomes[-1].answer
            if answer is not None and not answer.ok:
                break
        return outcomes

    async def _send(self, endpoint: outbox.Leased, row: outbox.Due, gate: asyncio.Semaphore,
                    pool: Pool) -> outbox.Outcome:
        if row.kind is None:  # erased from the log since it was written: nothing to send
            return outbox.Outcome(row, None)
        body = rules.body(row.conversation_id, row.seq, row.kind, row.author, row.payload,
                          row.ts_ms)
        headers = {
            rules.SIGNATURE_HEADER: rules.signature(endpoint.secret, int(time.time()), body),
            rules.EVENT_ID_HEADER: rules.event_id(row.conversation_id, row.seq),
            rules.EVENT_TYPE_HEADER: row.kind,
        }
        async with gate:
            answer = await pool.post(body, headers, timeout=self.config.timeout_seconds)
        if answer.ok:
            self.delivered += 1
            return outbox.Outcome(row, answer)
        self.failed += 1
        wait = rules.backoff_seconds(row.attempts + 1, self._random.random(),
                                     self.config.retry_first_seconds,
                                     self.config.retry_max_seconds)
        return outbox.Outcome(row, answer, self.clock() + int(wait * 1000))
