"""The semantic worker (chatserver/service/embeddings.py): a visitor's line is never lost to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from bot import Bot
from chatserver.service.embeddings import Embeddings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def encoder(fail_on: str = "") -> Callable[[Sequence[str]], npt.NDArray[np.float32]]:
    def encode(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if fail_on in texts:
            raise RuntimeError("encoder broke")
        return np.ones((len(texts), 8), dtype=np.float32)
    return encode


async def test_an_encoder_failure_falls_back_to_bm25() -> None:
    """prepare() runs after the visitor's line is stored: raising would skip the bot's reply."""
    worker = Embeddings(Bot(), encoder(fail_on="boom"))
    await worker.start()
    try:
        await worker.prepare("boom")
        assert worker.semantic.query_vector("boom") is None
        await worker.prepare("fine")
        assert worker.semantic.query_vector("fine") is not None
    finally:
        await worker.stop()


async def test_prepare_after_stop_returns_at_once() -> None:
    """A visitor line in flight during shutdown: the executor takes no more work."""
    worker = Embeddings(Bot(), encoder())
    await worker.start()
    await worker.stop()
    await worker.prepare("hello there")
    assert worker.semantic.query_vector("hello there") is None


async def test_the_query_cache_keeps_no_visitor_text() -> None:
    """Erasure and retention never reach this cache, so it holds digests, not words."""
    worker = Embeddings(Bot(), encoder())
    await worker.start()
    try:
        text = "my card 4111 and my address is 1 Main St"
        await worker.prepare(text)
        assert worker.semantic.query_vector(text) is not None
        assert not any(isinstance(k, str) for k in worker.semantic._queries)
        assert not any(b"4111" in bytes(k) for k in worker.semantic._queries)
    finally:
        await worker.stop()
