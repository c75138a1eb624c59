"""The durable write alone: CPU of the store's writer thread per stored chat line.

Issue 22's target is ≤ 25 µs per message in the writer. This drives the real `Store.append`
(the job the server runs for each chat line: duplicate check by client id, seq allocation on the
conversation row, the event row, webhook outbox, the key for the search indexer, commit with
fsync) from one event loop, `group` lines at a time as concurrent callers (what 2,000 msg/s with
a 5 ms commit interval gives the writer), and reads the writer thread's own utime+stime from
/proc. Then the same for the search indexer's turn over those lines (store/search.py), which
runs on the same thread a second later, in bulk. Medians over `reps` runs of `lines` lines
each, on a fresh database per run. With `--postgres`, a database of the run's own on the
PostgreSQL service, and its backend processes' CPU is added to the writer thread's: there the
work is split between the two.

    .venv/bin/python -m bench.writer_bench [--lines 20000] [--group 10] [--reps 5] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path

from chatserver.store.search import index_waiting_lines
from chatserver.store.store import NewEvent, Store, migrate_file

from .servers import PostgresDatabase, cpu_since, scratch_database

TEXTS = ["Hi, my order #4411 has not arrived yet, can you check?",
         "سلام، سفارش من هنوز نرسیده است", "我的订单还没有到，请帮我查一下",
         "Thanks! That fixed it.", "مرحبا، أريد تغيير عنوان الشحن"]
TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def one_run(location: str, lines: int, group: int, conversations: int,
                  database: PostgresDatabase | None) -> tuple[float, float]:
    store = Store(location, commit_interval_ms=5)
    await store.open()
    try:
        now = int(time.time() * 1000)
        ids = [uuid.uuid4().hex for _ in range(conversations)]
        for cid in ids:
            await store.upsert_visitor("v-" + cid, {"name": "Sara"}, now)
            await store.create_conversation(cid, "v-" + cid, {"language": "en"}, now)
        thread = store.writer._thread
        assert thread is not None and thread.native_id is not None
        def cpu() -> tuple[float, dict[int, float]]:
            return (thread_cpu_seconds(thread.native_id),  # type: ignore[union-attr]
                    database.backend_cpu() if database is not None else {})

        before = cpu()
        for start in range(0, lines, group):
            await asyncio.gather(*(
                store.append(ids[i % conversations],
                             [NewEvent("message", "visitor", {"text": TEXTS[i % len(TEXTS)]})],
                             now_ms=now + i, client_id=uuid.uuid4().hex)
                for i in range(start, min(start + group, lines))))
        appended = cpu()
        await index_waiting_lines(store)
        indexed = cpu()

        def per_line(start: tuple[float, dict[int, float]],
                     end: tuple[float, dict[int, float]]) -> float:
            return (end[0] - start[0] + cpu_since(start[1], end[1])) / lines * 1e6

        return per_line(before, appended), per_line(appended, indexed)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--group", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--postgres", action="store_true",
                        help="on the PostgreSQL service, its backends' CPU counted")
    args = parser.parse_args()
    runs = []
    for _ in range(args.reps):
        with scratch_database(args.postgres) as (location, database):
            migrate_file(location)
            runs.append(asyncio.run(one_run(location, args.lines, args.group,
                                            args.conversations, database)))
    what = "postgresql writer thread + backends" if args.postgres else "sqlite writer thread"
    for name, figures in (("append", [r[0] for r in runs]),
                          ("search indexer", [r[1] for r in runs])):
        print(f"{what}, {name}: {statistics.median(figures):.1f} µs per line "
              f"(median of {args.reps}: {', '.join(f'{r:.1f}' for r in figures)}; groups of "
              f"{args.group})")


if __name__ == "__main__":
    main()
