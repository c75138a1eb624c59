"""`python -m bench [--scale tiny|quick|standard] [--only idle,storm] [--out DIR]`.

Runs each scenario against the chat server and the echo baseline (interleaved A B B A),
then the bot and routing micro-benchmarks, writes `<out>/<scale>-<time>.json`,
`<out>/latest.json` and `<out>/latest.md`, and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .report import judge, machine, markdown
from .scenarios import SCENARIOS
from .scenarios.scale import SCALES, Scale
from .servers import freeze_source, raise_fd_limit

RESULTS = Path(__file__).resolve().parent / "results"


def _loop_runner(coro: Any) -> Any:
    """uvloop when installed (the server uses it too), so the client stays cheap."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run(scale: Scale, only: list[str] | None = None, out: Path = RESULTS,
        micro: bool = True, reps: int | None = None,
        source: Path | None = None) -> dict[str, Any]:
    """Run the scenarios (all, or `only`) and write the results; returns them."""
    if reps is not None:
        scale = dataclasses.replace(scale, reps=reps)
    raise_fd_limit()
    frozen = freeze_source(source)
    started = time.time()
    results: dict[str, Any] = {
        "scale": scale.name, "reps": scale.reps, "machine": machine(),
        "source": {"path": str(frozen), **_revision()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "loadavg_start": os.getloadavg(),  # others' work on a shared machine shows here
        "scenarios": {},
    }
    try:
        for name, scenario in SCENARIOS.items():
            if only and name not in only:
                continue
            t0 = time.monotonic()
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            try:
                results["scenarios"][name] = _loop_runner(scenario(scale))
            except Exception as error:
                traceback.print_exc()
                results["scenarios"][name] = {"status": "error", "error": repr(error)[:500]}
            print(f"[bench] {name} done in {time.monotonic() - t0:.0f} s", file=sys.stderr,
                  flush=True)
        if micro and not only:
            quick = scale.name != "standard"
            results["bot"] = _micro("bot_bench", quick)
            results["routing"] = _micro("routing_bench", quick)
    finally:
        if source is None:  # our own copy of the tree
            shutil.rmtree(frozen, ignore_errors=True)
    results["duration_s"] = time.time() - started
    results["loadavg_end"] = os.getloadavg()
    results["targets"] = judge(results)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_json_safe(results), indent=1, default=str)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    (out / f"{scale.name}-{stamp}.json").write_text(text)
    (out / "latest.json").write_text(text)
    (out / "latest.md").write_text(markdown(results))
    return results


def _revision() -> dict[str, Any]:
    """The commit and whether the tree had uncommitted changes (read-only git calls)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=RESULTS.parents[1], capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def _micro(module: str, quick: bool) -> dict[str, Any]:
    """bench/bot_bench.py and bench/routing_bench.py, owned elsewhere: `run(quick)`."""
    print(f"[bench] {module} ...", file=sys.stderr, flush=True)
    try:
        mod = __import__(f"bench.{module}", fromlist=["run"])
        return dict(mod.run(quick))
    except Exception as error:  # another engineer's bench in progress must not sink the run
        traceback.print_exc()
        return {"error": repr(error)[:500]}


def _json_safe(value: Any) -> Any:
    """NaN (a figure that could not be measured) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="standard")
    parser.add_argument("--only", default="", help="comma-separated scenarios: "
                        + ", ".join(SCENARIOS))
    parser.add_argument("--reps", type=int, default=None, help="repetitions per server")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--source", type=Path, default=None,
                        help="run the servers from this tree (default: a copy of the working "
                        "tree taken at start)")
    parser.add_argument("--no-micro", action="store_true", help="skip the bot/routing benches")
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s] or None
    unknown = set(only or ()) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    results = run(SCALES[args.scale], only, args.out, micro=not args.no_micro, reps=args.reps,
                  source=args.source)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
