"""The store's single writer: one thread, one connection, jobs committed in groups.

It takes every job that arrived while the last commit ran, runs them in one transaction (each
inside a savepoint, so one bad job cannot spoil the others), commits, and only then resolves
the callers' futures: "durable before acknowledged" without one fsync per message. It knows
nothing of the schema: the backend opens the database, ready to write, and opens each
transaction (taking SQLite's write lock, or reconnecting to PostgreSQL after it restarted).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .backend import Backend, Conn, StoreError

T = TypeVar("T")
Job = Callable[[Conn], Any]
# A job, its caller's future, and the conversation whose row it locks ("" for none).
Item = tuple[Job, "asyncio.Future[Any]", str]
# A transaction that lost a deadlock between processes is run again, at most this many times.
RETRIES = 3


class Writer:
    """The single writer: a thread with its own connection, committing jobs in groups."""

    def __init__(self, backend: Backend, max_batch: int, commit_interval_ms: float = 0.0) -> None:
        self._backend, self._max_batch = backend, max_batch
        self._interval = commit_interval_ms / 1000
        self._jobs: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0  # transactions committed, for /metrics and the benchmark
        self.lock_wait_seconds = 0.0  # time spent waiting for another process's write lock

    def start_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """Blocking (opens and migrates the database): call it off the event loop."""
        self._loop = loop
        conn = self._backend.writer_connection()
        self._thread = threading.Thread(target=self._run, args=(conn,), name="store-writer")
        self._thread.daemon = True
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def run(self, job: Callable[[Conn], T], lock_key: str = "") -> T:
        """Run `job` in the next committed group; returns once its transaction is on disk.
        `lock_key`: the conversation whose row the job locks (see `_jobs_in`)."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("store writer is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((job, future, lock_key))
        return await future

    def _run(self, conn: Conn) -> None:
        _name_os_thread(b"store-writer")
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
                # The transaction first: what arrives while another process holds SQLite's
                # write lock joins this group.
                conn, failed = self._begin(conn)
                batch = self._gather(first)
                last_commit, last_size = time.monotonic(), len(batch)
                conn = self._commit(conn, batch, failed)
        finally:
            conn.close()

    def _begin(self, conn: Conn) -> tuple[Conn, Exception | None]:
        """Open the transaction; the error instead when the database cannot be reached."""
        try:
            conn, waited = self._backend.begin(conn)
        except (*self._backend.errors, OSError) as error:
            return conn, error
        self.lock_wait_seconds += waited
        return conn, None

    def _gather(self, first: Item) -> list[Item]:
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

    def _commit(self, conn: Conn, batch: list[Item], failed: Exception | None) -> Conn:
        """Run the batch inside the transaction `_begin` opened (or report why it could not
        open one), commit, and hand each caller its outcome. A transaction that lost a
        deadlock to another process is rolled back and run again, jobs and all; so is a
        group one of whose jobs failed, then with a savepoint around each job (`_jobs_in`)."""
        isolate = False
        for attempt in range(RETRIES + 2):
            try:
                if failed is not None:
                    raise failed
                outcomes = self._jobs_in(conn, batch, isolate)
                if conn.in_transaction:
                    conn.execute("COMMIT")
                    self.commits += 1
                break
            except _Spoiled:
                with contextlib.suppress(*self._backend.errors):
                    conn.execute("ROLLBACK")
                isolate = True
                conn, failed = self._begin(conn)
            except Exception as error:  # the transaction as a whole failed: nobody is acked
                with contextlib.suppress(*self._backend.errors):
                    conn.execute("ROLLBACK")
                if failed is None and attempt < RETRIES and self._backend.retryable(error):
                    conn, failed = self._begin(conn)
                    continue
                outcomes = [(future, False, error) for _, future, _ in batch]
                break
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, outcomes)
        return conn

    def _jobs_in(self, conn: Conn, batch: list[Item], isolate: bool
                 ) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        """Run the jobs in order of the conversation rows they lock (a stable sort: one
        conversation's jobs keep their order, and jobs in one group were concurrent, so any
        order between conversations is one their callers could have seen). Every process
        then takes row locks in the same order, so two processes' groups cannot deadlock
        on each other's rows.

        A savepoint around each job keeps one failing job from spoiling the others, but
        costs two statements a job (on PostgreSQL two round trips, as many as the job's own
        work). Jobs rarely fail, so a group first runs without them; when a job fails, the
        group is rolled back (`_Spoiled`) and run again with them (`isolate`). A job alone
        needs none: its failure rolls back the transaction."""
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        alone = len(batch) == 1
        for job, future, _ in sorted(batch, key=lambda item: item[2]):
            if isolate:
                conn.execute("SAVEPOINT job")
            try:
                result = job(conn)
                if self._backend.aborted(conn):  # it caught a failed statement: all undone
                    raise StoreError("a statement of this job failed; nothing of it was kept")
                if isolate:
                    conn.execute("RELEASE job")
                outcomes.append((future, True, result))
            except Exception as error:  # the job's own failure, reported to its caller
                if self._backend.retryable(error):
                    raise  # a deadlock: the whole transaction runs again
                if not (isolate or alone):
                    raise _Spoiled from error
                conn.execute("ROLLBACK TO job" if isolate else "ROLLBACK")
                if isolate:
                    conn.execute("RELEASE job")
                outcomes.append((future, False, error))
        return outcomes


def _name_os_thread(name: bytes) -> None:
    """Give the thread its name in the kernel too (Python 3.11 does not), so `top -H` and the
    benchmark (which reads the writer's own CPU from /proc) can tell the writer apart."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(15, name)  # PR_SET_NAME


class _Spoiled(Exception):
    """A job of a group run without savepoints failed: the group runs again with them."""


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

