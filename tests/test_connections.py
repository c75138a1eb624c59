"""A socket's bookkeeping of what it has, driven directly: a fake socket and a fake log."""

from __future__ import annotations

import asyncio

import pytest

from chatserver.cluster.connections import Connection

pytestmark = pytest.mark.anyio


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.scope: dict[str, object] = {}  # no WRITE_TEXT: frames go through send_text

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


class Log:
    """The stored events; with `slow` set, a read takes its rows, then waits for it."""

    def __init__(self, *seqs: int) -> None:
        self.seqs = list(seqs)
        self.slow: asyncio.Event | None = None

    async def backlog(self, cid: str, after: int) -> list[tuple[int, str | None]]:
        rows = [(s, f"e{s}") for s in self.seqs if s > after]
        if self.slow is not None:
            await self.slow.wait()
        return rows


def socket_and_log(*seqs: int) -> tuple[Connection, FakeSocket, Log]:
    ws, log = FakeSocket(), Log(*seqs)
    conn = Connection(ws, 64, "test", log.backlog)  # type: ignore[arg-type]
    for seq in seqs:
        conn.deliver("c", seq, f"e{seq}")
    return conn, ws, log


async def test_a_gap_is_filled_from_the_log_before_what_follows_it() -> None:
    conn, ws, log = socket_and_log(1, 2, 3)
    log.seqs += [4, 5]
    conn.deliver("c", 5, "e5")  # 4's publication was lost
    conn.deliver("c", 4, "e4")  # ... or comes late: not sent twice
    await asyncio.sleep(0.05)
    assert ws.sent == ["e1", "e2", "e3", "e4", "e5"]


async def test_events_missed_while_a_read_is_under_way_are_read_too() -> None:
    conn, ws, log = socket_and_log(1, 2, 3, 4, 5)
    log.seqs += [6, 7]
    log.slow = asyncio.Event()
    conn.deliver("c", 7, "e7")  # 6 overtaken: a read starts (it will see 6 and 7)
    await asyncio.sleep(0)
    log.seqs.append(8)  # stored by another process while the bus was down
    conn.refresh("c", 8)  # the bus is back
    log.slow.set()
    await asyncio.sleep(0.05)
    assert ws.sent == [f"e{s}" for s in range(1, 9)]


async def test_an_event_overtaken_during_a_resume_is_not_dropped() -> None:
    conn, ws, log = socket_and_log(1, 2, 3, 4, 5)
    log.slow = asyncio.Event()
    resume = asyncio.create_task(conn.resume("c", 5))  # its read finds nothing after 5
    await asyncio.sleep(0)
    log.seqs += [6, 7]  # then 6 and 7 are stored, and 7's publication arrives first
    conn.deliver("c", 7, "e7")
    log.slow.set()
    await resume
    conn.deliver("c", 6, "e6")
    await asyncio.sleep(0.05)
    assert ws.sent == [f"e{s}" for s in range(1, 8)]


async def test_nothing_goes_out_before_the_welcome_but_a_warning_about_the_hello() -> None:
    conn, ws, _ = socket_and_log()
    conn.gate()
    conn.send("live")
    conn.preface("warning")
    conn.greet("welcome")
    await asyncio.sleep(0.01)
    assert ws.sent == ["warning", "welcome", "live"]


async def test_a_retrys_ack_is_the_copy_of_its_line_and_always_goes_out() -> None:
    """A line stored though its answer was lost reached no socket; its retry's ack stands for
    it. Where the socket lacks the line, a later event's gap is read from the log without
    sending the line again; where it has it (a read under way too), the ack still goes."""
    conn, ws, log = socket_and_log(1, 2)
    log.seqs += [3, 4, 5]
    conn.acknowledge_retry("id4", "c", 4, "ack4")  # 3 missing here: read first, 4 not again
    await asyncio.sleep(0.05)
    conn.deliver("c", 5, "e5")
    await asyncio.sleep(0.05)
    assert ws.sent == ["e1", "e2", "e3", "ack4", "e5"]
    log.seqs += [6, 7]
    log.slow = asyncio.Event()
    conn.deliver("c", 7, "e7")  # a read starts
    await asyncio.sleep(0)
    conn.acknowledge_retry("id3", "c", 3, "ack3")  # the socket has 3: the ack goes at once
    log.slow.set()
    await asyncio.sleep(0.05)
    assert ws.sent[5:] == ["ack3", "e6", "e7"]
    assert conn.last_ack == "id3"
