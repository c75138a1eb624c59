"""Reading `ConversationFacts` for a range of start times, fast enough for a year of a busy desk.

One SQL pass streams the log `ORDER BY conversation_id, seq` (the events primary key, so no sort)
into `metrics.facts_from_events`. Facts of closed conversations are kept in memory keyed by
id and `last_seq`: a closed chat only changes when a survey arrives, which moves `last_seq`.

Runs in a worker thread on its own read-only connection (WAL lets it read while the writer
commits), so a cold year (seconds of CPU) never stalls the event loop's sockets.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, cast

from chatserver.core.conversation import Event
from chatserver.core.metrics import ConversationFacts, facts_from_events

SLOT_MS = 900_000  # 15 min: every time zone's midnight falls on one (offsets are ¼ h steps)
CHUNK = 500  # ids per `IN (…)`: below SQLite's default limit of 999 bound parameters
# Past this many uncached chats one pass over the whole range beats lookups by id.
RANGE_PASS_OVER = 2000

# No metric reads `offered`, `note` or `whisper` events, and a message counts only by who wrote
# it, so the text and the bot's match list (most of a log's bytes) are never sent to Python, let
# alone parsed.
_EVENTS = (
    "SELECT conversation_id, seq, type, author, "
    "CASE type WHEN 'message' THEN json_extract(payload, '$.from') ELSE payload END, ts_ms "
    "FROM events WHERE type NOT IN ('offered', 'note', 'whisper') AND "
)


class _Row(NamedTuple):
    """An `Event` as the fold reads it, built 5x faster than the frozen dataclass: the cold
    read of a year is a million of these. Same field names, so `conversation_facts` takes it."""

    conversation_id: str
    seq: int
    type: str
    author: str
    payload: Mapping[str, Any]
    client_id: str | None
    ts_ms: int


_MESSAGE_PAYLOADS: dict[str | None, Mapping[str, Any]] = {}  # one shared {"from": x} per sender
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # C scanner, no wrapping


def _payload(kind: str, raw: str | None) -> Mapping[str, Any]:
    if kind == "message":
        shared = _MESSAGE_PAYLOADS.get(raw)
        if shared is None:
            shared = _MESSAGE_PAYLOADS.setdefault(raw, MappingProxyType({"from": raw}))
        return shared
    value = _scan(raw, 0)[0] if raw else None
    return value if isinstance(value, dict) else {}


# A 15-minute slot's fingerprint: (start ms, chats, seq sum, last update, still open, last
# close). Any append moves the seq sum and last update. Plain tuples: a year is 35,000 slots.
Slot = tuple[int, int, int, int, int, int | None]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Building a million small objects triggers a full collection every few thousand;
    pausing the collector for the fold makes it 2-3x faster (nothing built here is cyclic)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Reader(Protocol):
    """A read-only connection to the store, on either backend (`?` placeholders): the web
    layer opens it (`Store.backend.read_only()`), so reports never import the store."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


def slots(conn: Reader, start_ms: int, end_ms: int) -> list[Slot]:
    """Fingerprints of every slot with chats in [start, end), in time order."""
    return [tuple(row) for row in conn.execute(
        "SELECT created_ms / ? * ? AS slot, count(*), sum(last_seq), max(updated_ms), "
        "sum(CASE WHEN state != 'closed' THEN 1 ELSE 0 END), max(closed_ms) FROM conversations "
        "WHERE created_ms >= ? AND created_ms < ? GROUP BY slot ORDER BY slot",
        (SLOT_MS, SLOT_MS, start_ms, end_ms)).fetchall()]


def _events(rows: Iterable[Sequence[Any]]) -> Iterator[Event]:
    for cid, seq, kind, author, payload, ts in rows:
        yield cast(Event, _Row(cid, seq, kind, author, _payload(kind, payload), None, ts))


class FactsCache:
    """Facts by conversation; closed ones cached until their `last_seq` moves."""

    def __init__(self, range_pass_over: int = RANGE_PASS_OVER) -> None:
        """`range_pass_over`: how many uncached chats make one pass over the range cheaper
        than lookups by id (a parameter so that tests take both paths)."""
        self.range_pass_over = range_pass_over
        self._closed: dict[str, tuple[int, ConversationFacts]] = {}
        self.reads = 0  # conversations folded from the log, for tests and the benchmark

    def __len__(self) -> int:
        return len(self._closed)

    def facts(self, conn: Reader, start_ms: int, end_ms: int
              ) -> list[ConversationFacts]:
        """Every chat started in [start, end), in start order."""
        rows = conn.execute(
            "SELECT id, visitor_id, last_seq, state FROM conversations "
            "WHERE created_ms >= ? AND created_ms < ? ORDER BY created_ms, id",
            (start_ms, end_ms)).fetchall()
        found: dict[str, ConversationFacts] = {}
        missing: dict[str, str] = {}
        for cid, visitor, last_seq, _state in rows:
            hit = self._closed.get(cid)
            if hit is not None and hit[0] == last_seq:
                found[cid] = hit[1]
            else:
                missing[cid] = visitor
        if missing:
            with gc_paused():
                for f in self._read(conn, missing, start_ms, end_ms):
                    found[f.conversation_id] = f
        state = {cid: (last_seq, st) for cid, _v, last_seq, st in rows}
        for cid in missing:
            fact = found.get(cid)
            last_seq, st = state[cid]
            if fact is not None and st == "closed":
                self._closed[cid] = (last_seq, fact)
        return [found[cid] for cid, *_ in rows if cid in found]

    def _read(self, conn: Reader, missing: dict[str, str], start_ms: int,
              end_ms: int) -> Iterator[ConversationFacts]:
        if len(missing) > self.range_pass_over:
            cursor = conn.execute(
                _EVENTS + "conversation_id IN (SELECT id FROM conversations "  # noqa: S608
                "WHERE created_ms >= ? AND created_ms < ?) ORDER BY conversation_id, seq",
                (start_ms, end_ms))
            for f in facts_from_events(_events(cursor), missing):
                if f.conversation_id in missing:  # the rest are cached and unchanged
                    self.reads += 1
                    yield f
            return
        ids = sorted(missing)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            cursor = conn.execute(
                f"{_EVENTS}conversation_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY conversation_id, seq", chunk)
            for f in facts_from_events(_events(cursor), missing):
                self.reads += 1
                yield f

    def forget(self) -> None:
        self._closed.clear()
