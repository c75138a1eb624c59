"""Open-loop load: frames sent on a fixed schedule whatever the server does, and a recorder.

The schedule does not wait for answers (a closed loop would slow down with the server and hide
its latency). One ticker sends every frame that is due, round-robin over the senders, so each
sender keeps an exact period and no task exists per socket. A slice is: warm-up, a measured
window (server CPU from /proc, client CPU from getrusage, frames delivered), then a drain so
frames sent late in the window still count.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .servers import (
    cpu_seconds,
    cpu_since,
    main_thread_cpu_seconds,
    self_cpu_seconds,
    thread_cpu_seconds,
)
from .stats import latency_ms
from .wsclient import WSConn, encode_frame

TICK = 0.002  # 2 ms: the ticker's resolution, well under the latencies measured


@dataclass
class Recorder:
    """Counts what arrives; latencies only of frames sent inside the window."""

    start_ns: int = 1 << 62  # nothing counts until the window opens
    end_ns: int = 1 << 62
    latencies: list[int] = field(default_factory=list)
    delivered_in_window: int = 0
    acks: list[int] = field(default_factory=list)
    sent_in_window: int = 0

    def delivered(self, sent_ns: int) -> None:
        now = time.monotonic_ns()
        if self.start_ns <= now < self.end_ns:
            self.delivered_in_window += 1
        if self.start_ns <= sent_ns < self.end_ns:
            self.latencies.append(now - sent_ns)

    def acked(self, sent_ns: int) -> None:
        if self.start_ns <= sent_ns < self.end_ns:
            self.acks.append(time.monotonic_ns() - sent_ns)


@dataclass
class Sender:
    """A socket and how to build its next frame's JSON bytes from an id."""

    conn: WSConn
    build: Callable[[bytes], bytes]


def id_with_time(counter: int) -> bytes:
    """A frame id that carries its send time: `m<counter>_<monotonic ns>`."""
    return b"m%d_%d" % (counter, time.monotonic_ns())


def sent_time(frame_id: str) -> int:
    return int(frame_id.rsplit("_", 1)[1])


async def drive(senders: Sequence[Sender], rate: float, *, warmup: float, window: float,
                drain: float, recorder: Recorder, server_pid: int | Sequence[int],
                max_messages: int | None = None, copies: int = 1,
                on_send: Callable[[Sender, bytes], None] | None = None,
                other_pids: dict[str, int] | None = None,
                db_cpu: Callable[[], dict[int, float]] | None = None) -> dict[str, float]:
    """Send at `rate` frames/s over all senders; measure the window; return the figures.

    `server_pid`: one server process, or several whose CPU is added up (a cluster).
    `copies`: deliveries each frame makes (a broadcast reaches several listeners).
    `other_pids`: more processes (e.g. redis) whose CPU is reported as `<name>_cpu_pct`.
    `db_cpu`: the database's processes (PostgreSQL backends, `PostgresDatabase.backend_cpu`),
    reported as `db_cpu_pct` and added to the servers' in `total_cpu_us_per_msg` (on SQLite
    the database works inside the server process: the total is the server's).
    """
    pids = [server_pid] if isinstance(server_pid, int) else list(server_pid)
    others = other_pids or {}

    def server_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    def writer_cpu() -> float:
        return sum(thread_cpu_seconds(pid, "store-writer") for pid in pids)

    def main_cpu() -> float:
        return sum(main_thread_cpu_seconds(pid) for pid in pids)

    def other_cpu() -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in others.items()}

    def database_cpu() -> dict[int, float]:
        return db_cpu() if db_cpu is not None else {}

    order = list(senders)
    random.Random(len(order)).shuffle(order)
    loop_start, loop_start_ns = time.monotonic(), time.monotonic_ns()
    window_start, window_end = loop_start + warmup, loop_start + warmup + window
    sent = 0
    cpu0 = client0 = writer0 = main0 = 0.0
    other0: dict[str, float] = {}
    db0: dict[int, float] = {}
    in_window = False
    limit = max_messages if max_messages is not None else 1 << 62
    while sent < limit:
        now = time.monotonic()
        if now >= window_end:
            break
        if not in_window and now >= window_start:
            in_window = True
            recorder.start_ns = time.monotonic_ns()
            cpu0, client0, other0 = server_cpu(), self_cpu_seconds(), other_cpu()
            db0, writer0, main0 = database_cpu(), writer_cpu(), main_cpu()
        due = min(int((now - loop_start) * rate), limit) - sent
        for _ in range(due):
            sender = order[sent % len(order)]
            frame_id = id_with_time(sent)
            sender.conn.write(encode_frame(sender.build(frame_id)))
            if on_send is not None:
                on_send(sender, frame_id)
            if in_window:
                recorder.sent_in_window += 1
            sent += 1
        await asyncio.sleep(TICK)
    if not in_window:  # a tiny run may end before the window opens: measure what there was
        recorder.start_ns = loop_start_ns
        cpu0, client0, other0 = server_cpu(), self_cpu_seconds(), other_cpu()
        db0, writer0, main0 = database_cpu(), writer_cpu(), main_cpu()
        recorder.sent_in_window = sent
    recorder.end_ns = time.monotonic_ns()
    elapsed = (recorder.end_ns - recorder.start_ns) / 1e9
    cpu = server_cpu() - cpu0
    writer = writer_cpu() - writer0
    main = main_cpu() - main0
    client = self_cpu_seconds() - client0
    other = {name: value - other0.get(name, value) for name, value in other_cpu().items()}
    db = cpu_since(db0, database_cpu())
    deadline = time.monotonic() + drain
    expected = copies * recorder.sent_in_window
    # The protocol callbacks bump a counter; polling it every 10 ms is cheap and bounded.
    while time.monotonic() < deadline and len(recorder.latencies) < expected:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    delivered = recorder.delivered_in_window
    return {
        "offered_per_s": rate,
        "window_s": elapsed,
        "sent": recorder.sent_in_window,
        "delivered": delivered,
        "delivered_per_s": delivered / elapsed if elapsed else 0.0,
        "lost_or_late": copies * recorder.sent_in_window - len(recorder.latencies),
        "server_cpu_pct": 100 * cpu / elapsed if elapsed else 0.0,
        "client_cpu_pct": 100 * client / elapsed if elapsed else 0.0,
        "cpu_us_per_msg": 1e6 * cpu / delivered if delivered else float("nan"),
        # the store's writer thread alone (part of cpu_us_per_msg; 0 for the echo server)
        "writer_cpu_us_per_msg": 1e6 * writer / delivered if delivered else float("nan"),
        # the main thread alone (the event loop: sockets, frames, the service)
        "main_cpu_us_per_msg": 1e6 * main / delivered if delivered else float("nan"),
        "total_cpu_us_per_msg": 1e6 * (cpu + db) / delivered if delivered else float("nan"),
        "db_cpu_pct": 100 * db / elapsed if elapsed else 0.0,
        **{f"{name}_cpu_pct": 100 * value / elapsed if elapsed else 0.0
           for name, value in other.items()},
        **{f"latency_{k}": v for k, v in latency_ms(recorder.latencies).items()},
        **{f"ack_{k}": v for k, v in latency_ms(recorder.acks).items()},
    }
