"""Cost of the bot as the knowledge base grows: query latency, update time, memory.

``python bench/bot_bench.py [--quick] [--json]``; a bench runner may call :func:`run`.

Entries are synthesized from the English datasets in ../shared/datasets (Banking77, CLINC150):
each entry takes ten questions of one intent, spliced from the first half of one real question
and the second half of another, so a 10,000-entry KB has realistic vocabulary and realistic
near-duplicate entries (hundreds per intent) -- the hard case for an inverted index, because
common words have long postings.  Queries are the datasets' valid questions.  Falls back to
generated text when the datasets are absent.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import Bot, Entry

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
QUESTIONS = 10
RUNS = 3  # repeat the query pass; report the median of each percentile


def _rss_bytes() -> int:
    """Resident set size now (Linux /proc; 0 elsewhere, reported as n/a)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


def _load(name: str) -> list[tuple[str, str]]:
    path = DATASETS / name
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            rows.append((obj["text"], obj["label"]))
    return rows


def _corpus() -> tuple[dict[str, list[str]], list[str]]:
    """(questions by intent, query texts)."""
    try:
        train = _load("banking77_en.train.jsonl") + _load("clinc150_en.train.jsonl")
        valid = _load("banking77_en.valid.jsonl") + _load("clinc150_en.valid.jsonl")
        queries = [text for text, _ in valid]
    except OSError:
        rng = random.Random(7)
        vocab = [f"w{i}" for i in range(5000)]
        train = [(" ".join(rng.choices(vocab, k=9)), f"l{i % 200}") for i in range(20_000)]
        queries = [" ".join(rng.choices(vocab, k=9)) for _ in range(2000)]
    by_label: dict[str, list[str]] = {}
    for text, label in train:
        by_label.setdefault(label, []).append(text)
    return by_label, queries


def _splice(rng: random.Random, pool: list[str]) -> str:
    a, b = rng.choice(pool).split(), rng.choice(pool).split()
    return " ".join(a[: max(1, len(a) // 2)] + b[len(b) // 2 :])


def _entries(n: int, by_label: dict[str, list[str]], seed: int = 1) -> list[Entry]:
    rng = random.Random(seed)
    labels = sorted(by_label)
    out = []
    for i in range(n):
        pool = by_label[labels[i % len(labels)]]
        questions = tuple(_splice(rng, pool) for _ in range(QUESTIONS))
        out.append(Entry(i, "en", questions[0], questions, f"answer {i}"))
    return out


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
    )


def measure(size: int, by_label: dict[str, list[str]], queries: list[str]) -> dict[str, float]:
    """Build a KB of *size* entries and time queries and single-entry updates on it."""
    entries = _entries(size, by_label)
    gc.collect()
    rss0 = _rss_bytes()
    bot = Bot()
    start = time.perf_counter()
    for entry in entries:
        bot.upsert(entry)
    build_s = time.perf_counter() - start
    gc.collect()
    rss = _rss_bytes() - rss0

    sample = queries[:1000]
    for text in sample[:100]:  # warm caches the way a running server would have them
        bot.decide(text, "en")
    p50s, p99s, cpu50s, cpu99s = [], [], [], []
    for _ in range(RUNS):
        times, cpu = [], []
        for text in sample:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            bot.decide(text, "en")
            times.append((time.perf_counter() - t0) * 1000.0)
            cpu.append((time.thread_time() - c0) * 1000.0)
        p50, p99 = _percentiles(times)
        p50s.append(p50)
        p99s.append(p99)
        p50, p99 = _percentiles(cpu)
        cpu50s.append(p50)
        cpu99s.append(p99)

    rng = random.Random(3)
    edit_ms, add_ms, remove_ms = [], [], []
    for i in range(50):
        victim = entries[rng.randrange(size)]
        edited = Entry(victim.id, "en", victim.title, tuple(reversed(victim.questions)), "edited")
        t0 = time.perf_counter()
        bot.upsert(edited)
        edit_ms.append((time.perf_counter() - t0) * 1000.0)
        new = _entries(1, by_label, seed=100 + i)[0]
        new = Entry(size + i, "en", new.title, new.questions, new.answer)
        t0 = time.perf_counter()
        bot.upsert(new)
        add_ms.append((time.perf_counter() - t0) * 1000.0)
        t0 = time.perf_counter()
        bot.remove(new.id)
        remove_ms.append((time.perf_counter() - t0) * 1000.0)
    return {
        "entries": size,
        "questions": size * QUESTIONS,
        "build_s": round(build_s, 2),
        "query_p50_ms": round(statistics.median(p50s), 3),
        "query_p99_ms": round(statistics.median(p99s), 3),
        # CPU time of the query thread: what one dedicated core would see, without the
        # preemption by other processes that inflates wall-clock p99 on a shared machine.
        "cpu_p50_ms": round(statistics.median(cpu50s), 3),
        "cpu_p99_ms": round(statistics.median(cpu99s), 3),
        "add_ms": round(statistics.median(add_ms), 3),
        "edit_ms": round(statistics.median(edit_ms), 3),
        "remove_ms": round(statistics.median(remove_ms), 3),
        "memory_mb": round(rss / 1e6, 1) if rss0 else float("nan"),
    }


def run(quick: bool) -> dict[str, object]:
    """Measure every size; ``quick`` stops at 1,000 entries (a few seconds)."""
    by_label, queries = _corpus()
    rows = [measure(n, by_label, queries) for n in (QUICK_SIZES if quick else SIZES)]
    return {"bench": "bot", "python": sys.version.split()[0], "results": rows}


def _table(report: dict[str, object]) -> str:
    rows = report["results"]
    assert isinstance(rows, list)
    cols = list(rows[0])
    lines = ["  ".join(f"{c:>12}" for c in cols)]
    lines += ["  ".join(f"{row[c]:>12}" for c in cols) for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 entries only")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    report = run(args.quick)
    print(json.dumps(report) if args.json else _table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
