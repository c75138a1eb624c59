"""The cost of counting on the hot path: chatserver/telemetry.py's prometheus_client instruments
beside the hand-written counters they replaced (read from git as of HAND_WRITTEN_COMMIT).

``python bench/telemetry_bench.py``: nanoseconds a call, best of 25 rounds of 40,000, of a
labelled ``inc()`` (``messages.inc(sender=…)``), an unlabelled ``inc()`` and an ``observe()``.
Each way runs in a child process of its own: ``hand-written``, ``prometheus_client`` (one
process: values in memory) and ``multiprocess`` (PROMETHEUS_MULTIPROC_DIR set before the
import, as ``serve --workers N`` sets it: every count also writes a memory-mapped file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import timeit
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HAND_WRITTEN_COMMIT = "7a1c47a"  # the last commit with the hand-written telemetry.py
WAYS = ("hand-written", "prometheus_client", "multiprocess")
ROUNDS, CALLS = 25, 40_000


def telemetry(way: str) -> Any:
    if way != "hand-written":
        from chatserver.telemetry import Telemetry

        return Telemetry()
    source = subprocess.run(["git", "show", f"{HAND_WRITTEN_COMMIT}:chatserver/telemetry.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("telemetry_hand_written")
    sys.modules[module.__name__] = module
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    return module.Telemetry()


def measure(way: str) -> dict[str, float]:
    t = telemetry(way)
    calls = {"inc(sender=…)": lambda: t.messages.inc(sender="visitor"),
             "inc()": lambda: t.conversations.inc(),
             "observe()": lambda: t.response.observe(12.3)}
    return {name: min(timeit.repeat(call, number=CALLS, repeat=ROUNDS)) / CALLS * 1e9
            for name, call in calls.items()}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--way":
        print(json.dumps(measure(sys.argv[2])))
        return
    print(f"{'ns a call':20s}" + "".join(f"{name:>16s}" for name in
                                         ("inc(sender=…)", "inc()", "observe()")))
    for way in WAYS:
        with tempfile.TemporaryDirectory() as files:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            if way == "multiprocess":
                env["PROMETHEUS_MULTIPROC_DIR"] = files
            out = subprocess.run([sys.executable, __file__, "--way", way], env=env,
                                 capture_output=True, text=True, check=True).stdout
        figures = json.loads(out)
        print(f"{way:20s}" + "".join(f"{v:16.0f}" for v in figures.values()))


if __name__ == "__main__":
    main()
