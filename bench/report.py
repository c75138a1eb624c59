"""The run's record: machine, figures, targets met or not; as JSON and as a Markdown table."""

from __future__ import annotations

import math
import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

# (scenario, metric, target, how to read it) -- the targets on a 2-core machine.
# "ratio" targets compare with the echo baseline measured in the same run.
TARGETS: list[tuple[str, str, str, float, str]] = [
    ("idle", "rss_kb_per_conn", "chat", 28.0, "<= 28 KB per idle visitor at 10,000"),
    ("conversations", "latency_p99_ms", "chat", 50.0, "<= 50 ms delivery p99 at 2,000 msg/s"),
    ("conversations", "server_cpu_pct", "chat", 60.0,
     "server under 60 % of a core at 2,000 msg/s"),
    ("conversations", "cpu_us_per_msg", "ratio", 2.5, "<= 2.5x echo CPU per message"),
    ("conversations", "writer_cpu_us_per_msg", "chat", 25.0,
     "<= 25 µs per message in the store's writer thread"),
    ("conversations", "lost_or_late", "chat", 0.0, "every message delivered"),
    ("storm", "all_caught_up_s", "chat", 6.0, "5,000 resume, all caught up <= 6 s"),
    ("storm", "failed", "chat", 0.0, "no client fails"),
    ("redis_two_process", "cost_us_per_msg", "ratio", 1.15,
     "2 processes on Redis: CPU per message (chat processes + redis) <= 1.15x one"),
    ("pg_two_process", "cost_us_per_msg", "ratio", 1.15,
     "the same on PostgreSQL (its CPU counted too)"),
]


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = {}
    for name in ("uvicorn", "starlette", "websockets", "uvloop", "httptools", "aiosqlite"):
        try:
            packages[name] = version(name)
        except Exception:
            packages[name] = "missing"
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(), "packages": packages,
            "mem_total_mb": _mem_total_mb()}


def _mem_total_mb() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: the figure, the limit, met or not (only at the standard scale)."""
    standard = results.get("scale") == "standard"
    verdicts = []
    for scenario, metric, column, limit, text in TARGETS:
        found = results["scenarios"].get(scenario, {}).get("summary", {}).get(metric)
        value = found[column] if found else math.nan
        met = None if not standard or math.isnan(value) else value <= limit
        verdicts.append({"target": text, "scenario": scenario, "metric": metric,
                         "value": value, "limit": limit, "met": met})
    cluster = results["scenarios"].get("redis_two_process", {}).get("summary", {})
    ratio = cluster["sustained_per_s"]["ratio"] if "sustained_per_s" in cluster else math.nan
    # Reported, no longer a target (issue 22): on 2 cores the two processes, redis-server and
    # the load generator share the cores, so the sustained ratio measures contention.
    verdicts.append({"target": "sustained rate with 2 processes on Redis / 1 (reported only: "
                               "2 cores shared by everything)", "scenario": "redis_two_process",
                     "metric": "sustained_per_s two / one", "value": ratio,
                     "limit": math.nan, "met": None})
    bot = results.get("bot", {})
    rows = [r for r in bot.get("results", []) if isinstance(r, dict)]
    big = [r for r in rows if r.get("entries") == 10_000]
    p99 = big[0]["query_p99_ms"] if big else math.nan
    verdicts.append({"target": "bot <= 5 ms p99 at 10,000 entries", "scenario": "bot",
                     "metric": "query_p99_ms", "value": p99, "limit": 5.0,
                     "met": None if math.isnan(p99) else p99 <= 5.0})
    routing = results.get("routing", {})
    decisions = [v["p95_us"] for k, v in routing.items()
                 if isinstance(v, dict) and "dispatch" in k and "p95_us" in v]
    worst = max(decisions) if decisions else math.nan
    verdicts.append({"target": "routing <= 1 ms per decision (p95, 1,000 agents / 10,000 "
                               "queued)", "scenario": "routing", "metric": "worst p95_us",
                     "value": worst, "limit": 1000.0,
                     "met": None if math.isnan(worst) else worst <= 1000.0})
    return verdicts


def _fmt(value: Any) -> str:
    if value is None:  # NaN after a JSON round trip
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _load(results: dict[str, Any]) -> str:
    """The 1-minute load average at start and end: how busy the shared machine was."""
    start, end = results.get("loadavg_start"), results.get("loadavg_end")
    if not start or not end:
        return ""
    return f", load average {start[0]:.2f} at start, {end[0]:.2f} at end"


_KIND_LABELS = {"two": "two processes", "one": "one process"}  # the cluster scenarios


def markdown(results: dict[str, Any]) -> str:
    """The figures as Markdown: medians per server, chat/echo ratio, then the targets."""
    m = results["machine"]
    lines = [
        f"# Benchmark: scale `{results['scale']}`, {results['reps']} interleaved repetitions "
        f"(A B B A), medians",
        "",
        f"{m['cpus']} CPUs ({m['cpu_model']}), {m['mem_total_mb']:,} MB, Linux {m['kernel']}, "
        f"Python {m['python']}, " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) +
        f". Run {results['started']}, {results['duration_s']:.0f} s" + _load(results) + ".",
        "",
        "| scenario | metric | chat | echo baseline | chat / echo |",
        "|---|---|---:|---:|---:|",
    ]
    clusters = []
    for name, scenario in results["scenarios"].items():
        if scenario.get("kinds", ["chat"])[0] != "chat":
            clusters.append((name, scenario))
            continue
        if "summary" not in scenario:
            lines.append(f"| {name} | {scenario.get('status', 'error')}: "
                         f"{scenario.get('notes', scenario.get('error', ''))} | | | |")
            continue
        for metric, row in scenario["summary"].items():
            lines.append(f"| {name} | {metric} | {_fmt(row['chat'])} | {_fmt(row['echo'])} | "
                         f"{_fmt(row['ratio'])} |")
    for name, scenario in clusters:
        top, base = scenario["kinds"]
        lines += ["", f"{name}: {scenario['notes']}.", "",
                  f"| {name} | metric | {_KIND_LABELS.get(top, top)} | "
                  f"{_KIND_LABELS.get(base, base)} | {top} / {base} |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {name} | {metric} | {_fmt(row[top])} | {_fmt(row[base])} | "
                  f"{_fmt(row['ratio'])} |" for metric, row in scenario["summary"].items()]
    bot = results.get("bot", {})
    if "results" in bot:
        lines += ["", "| bot entries | query p50 ms | query p99 ms | build s | memory MB |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['entries']:,} | {r['query_p50_ms']} | {r['query_p99_ms']} | "
                  f"{r['build_s']} | {r['memory_mb']} |" for r in bot["results"]]
    elif bot:
        lines += ["", f"bot bench: {bot.get('error', bot)}"]
    routing = results.get("routing", {})
    if routing and "error" not in routing:
        lines += ["", "| routing (1,000 agents, 10,000 waiting) | median µs | p95 µs |",
                  "|---|---:|---:|"]
        lines += [f"| {k} | {v['median_us']:.1f} | {v['p95_us']:.1f} |"
                  for k, v in routing.items()]
    elif routing:
        lines += ["", f"routing bench: {routing['error']}"]
    lines += ["", "| target | figure | met |", "|---|---:|---|"]
    for v in results["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a at this scale"}[v["met"]]
        lines.append(f"| {v['target']} | {_fmt(v['value'])} | {met} |")
    return "\n".join(lines) + "\n"
