"""The store's single writer: one thread, one connection, jobs committed in groups.

It takes every job that arrived while the last commit ran, runs them in one transaction (each
inside a savepoint, so one bad job cannot spoil the others), commits, and only then resolves
the callers' futures: "durable before acknowledged" without one fsync per message. It knows
nothing of the schema: the store hands it a function that opens the file, ready to write.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
# 0.2 ms between tries for another process's write lock: a commit holds it about 1 ms.
LOCK_POLL_SECONDS = 0.0002
Job = Callable[[sqlite3.Connection], Any]


class Writer:
    """The single writer: a thread with its own connection, committing jobs in groups."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], busy_timeout_ms: int,
                 max_batch: int, commit_interval_ms: float = 0.0) -> None:
        self._connect, self._busy, self._max_batch = connect, busy_timeout_ms, max_batch
        self._interval = commit_interval_ms / 1000
        self._jobs: queue.SimpleQueue[tuple[Job, asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0  # transactions committed, for /metrics and the benchmark
        self.lock_wait_seconds = 0.0  # time spent waiting for another process's write lock

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        conn = self._connect()  # opened and migrated by the store
        conn.execute("PRAGMA busy_timeout = 0")  # from here on `_begin` waits, see there
        self._thread = threading.Thread(target=self._run, args=(conn,), name="store-writer")
        self._thread.daemon = True
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` in the next committed group; returns once its transaction is on disk."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("store writer is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((job, future))
        return await future

    def _run(self, conn: sqlite3.Connection) -> None:
        last_commit, last_size = 0.0, 0
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                # Under load (the last group had company) gather for the rest of the interval:
                # one fsync and one write of each touched page for many events. A lone caller
                # writing one thing after another is never made to wait.
                pause = last_commit + self._interval - time.monotonic()
                if last_size > 1 and pause > 0:
                    time.sleep(pause)
                # The lock first: what arrives while another process holds it joins this group.
                try:
                    self._begin(conn)
                    failed: Exception | None = None
                except sqlite3.Error as error:
                    failed = error
                batch = self._gather(first)
                last_commit, last_size = time.monotonic(), len(batch)
                self._commit(conn, batch, failed)
        finally:
            conn.close()

    def _gather(self, first: tuple[Job, asyncio.Future[Any]]
                ) -> list[tuple[Job, asyncio.Future[Any]]]:
        """`first` and every job waiting behind it, up to the batch limit."""
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._jobs.put(None)  # finish this batch, then stop
                break
            batch.append(item)
        return batch

    def _commit(
        self, conn: sqlite3.Connection, batch: list[tuple[Job, asyncio.Future[Any]]],
        failed: Exception | None,
    ) -> None:
        """Run the batch inside the transaction `_begin` opened (or report why it could not
        open one), commit, and hand each caller its outcome."""
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        # Savepoints keep one failing job from spoiling the others; a job alone needs none
        # (its failure rolls back the transaction), which saves two statements per commit.
        isolate = len(batch) > 1
        try:
            if failed is not None:
                raise failed
            for job, future in batch:
                if isolate:
                    conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((future, True, job(conn)))
                    if isolate:
                        conn.execute("RELEASE job")
                except Exception as error:  # the job's own failure, reported to its caller
                    conn.execute("ROLLBACK TO job" if isolate else "ROLLBACK")
                    if isolate:
                        conn.execute("RELEASE job")
                    outcomes.append((future, False, error))
            if conn.in_transaction:
                conn.execute("COMMIT")
                self.commits += 1
        except Exception as error:  # the transaction as a whole failed: nobody is acked
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            outcomes = [(future, False, error) for _, future in batch]
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, outcomes)

    def _begin(self, conn: sqlite3.Connection) -> None:
        """Take the write lock, polling every 0.2 ms while another process holds it.

        SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ms... between tries, so with two
        processes on one file the lock would sit free for most of each sleep and their group
        commits would serialize with gaps. A commit holds the lock for about a millisecond."""
        started: float | None = None
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                now = time.monotonic()
                started = now if started is None else started
                if now - started >= self._busy / 1000:
                    raise
                time.sleep(LOCK_POLL_SECONDS)
        if started is not None:
            self.lock_wait_seconds += time.monotonic() - started


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

