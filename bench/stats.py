"""Percentiles, the A B B A slice order, and medians with ratios to the baseline."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

CHAT, ECHO = "chat", "echo"


def abba(reps: int) -> list[str]:
    """chat echo echo chat chat echo ...: each server gets `reps` slices, evenly placed in time,
    so a drift in machine speed (another tenant, thermal) hits both alike."""
    pattern = [CHAT, ECHO, ECHO, CHAT]
    return [pattern[i % 4] for i in range(2 * reps)]


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples (nan when empty)."""
    if not sorted_samples:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_samples)))
    return float(sorted_samples[rank - 1])


def latency_ms(samples_ns: Iterable[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {"p50_ms": percentile(ordered, 50) / 1e6, "p99_ms": percentile(ordered, 99) / 1e6,
            "max_ms": (ordered[-1] / 1e6) if ordered else math.nan, "samples": len(ordered)}


def summarize(slices: list[dict[str, Any]], metrics: Sequence[str],
              kinds: tuple[str, str] = (CHAT, ECHO)) -> dict[str, Any]:
    """Per metric: the median over each kind's slices, and the first kind / the second
    (chat / echo; for the cluster, two processes / one)."""
    out: dict[str, Any] = {}
    for metric in metrics:
        row: dict[str, Any] = {}
        for server in kinds:
            values = [s[metric] for s in slices if s["server"] == server
                      and isinstance(s.get(metric), int | float) and not math.isnan(s[metric])]
            row[server] = statistics.median(values) if values else math.nan
            row[f"{server}_all"] = values
        top, base = row[kinds[0]], row[kinds[1]]
        row["ratio"] = top / base if base and not math.isnan(base) else math.nan
        out[metric] = row
    return out
