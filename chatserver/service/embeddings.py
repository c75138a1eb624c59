"""The bot's semantic re-ranker, fed off the event loop (``[bot] semantic``, bot/semantic.py).

The bot's :class:`~bot.semantic.Semantic` keeps vectors and lists the texts that lack one; this
worker encodes them in one background thread, a few at a time, and stores the vectors back on
the event loop, so the bot itself is only ever touched from the loop.  At start every entry is
encoded in the background and the bot answers with BM25 alone until a language is ready; an
edited entry re-encodes only its new phrasings.  A visitor's message is encoded in the same
thread just before the bot reads it.  Imported only when the setting is on (needs numpy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from bot import Bot
from bot.semantic import Encoder, Semantic

log = logging.getLogger(__name__)

# Texts per encoder call: 16 short phrasings take ~0.1-0.2 s on one core, so a visitor's
# message waits at most that long behind the background encoding of the knowledge base.
CHUNK = 16
# A message waits at most this long for its vector; then the bot answers with BM25 alone
# (about 10 ms is usual; a machine busy elsewhere should not hold the visitor up).
QUERY_WAIT_SECONDS = 1.0


class Embeddings:
    """One worker thread running the encoder for the bot; start, then stop on the way out."""

    def __init__(self, bot: Bot, encode: Encoder) -> None:
        self.encode = encode
        self.semantic = Semantic(encode=None)  # never encodes on the loop itself
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False  # after stop() the executor takes no work: BM25 alone
        self.semantic.on_missing = self._wake.set
        bot.use_semantic(self.semantic)

    async def start(self) -> None:
        """Encode what the knowledge base holds now, and every change from then on."""
        self._task = asyncio.create_task(self._run(), name="embeddings")
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            started, done = time.perf_counter(), 0
            try:
                while chunk := self.semantic.missing(CHUNK):
                    vectors = await loop.run_in_executor(self._executor, self.encode, chunk)
                    self.semantic.add_vectors(chunk, vectors)
                    done += len(chunk)
            except Exception:  # a broken encoder leaves the bot on BM25, not the server down
                log.exception("semantic re-ranker: encoding failed; BM25 alone until the "
                              "next change")
                continue
            if done > 1:
                log.info("semantic re-ranker: %d texts encoded in %.1f s", done,
                         time.perf_counter() - started)

    async def prepare(self, text: str) -> None:
        """Encode a visitor's message for the bot's next look at it (cached per text)."""
        if self._stopped or self.semantic.query_vector(text) is not None:
            return
        loop = asyncio.get_running_loop()
        # Never raises: the visitor's line is stored already, and an error here would skip
        # the bot's reply and the ack (the client's retry is a duplicate, never answered).
        try:
            vectors = await asyncio.wait_for(
                loop.run_in_executor(self._executor, self.encode, [text]), QUERY_WAIT_SECONDS)
        except TimeoutError:
            log.warning("semantic re-ranker: a message waited over %.1f s; BM25 alone",
                        QUERY_WAIT_SECONDS)
            return
        except Exception as error:  # a broken encoder, or shut down meanwhile
            log.warning("semantic re-ranker: a message could not be encoded (%r); BM25 alone",
                        error)
            return
        self.semantic.remember(text, vectors[0])

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False, cancel_futures=True)
