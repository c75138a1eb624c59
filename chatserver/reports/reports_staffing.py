"""The staffing advice and live ETA accuracy of a report, read from the store (worker thread).

`staffing(conn, facts_cache, start, end, now, tz, desk)` returns the plain data the page, the
JSON API and `staffing.csv` share. The figures are defined in `chatserver/core/staffing.py` and
docs/metrics.md; the desk is read whole (a report's filters do not narrow it: staffing is for
every chat the agents take).
"""

from __future__ import annotations

import math
import statistics
from datetime import tzinfo
from typing import Any

from chatserver.config import DeskConfig
from chatserver.core.staffing import Goal, advice, eta_accuracy, presence_intervals

from .reports_facts import FactsCache, Reader

# Presence rows read before the range: an agent online when it starts went online earlier. A
# week covers any shift; someone online for longer without a change counts from the range's
# eighth day before.
LOOKBACK_MS = 7 * 86_400_000

CSV_COLUMNS = ("weekday", "hour", "hours_in_range", "requests", "arrivals_per_hour",
               "handle_s", "patience_s", "needed_erlang_c", "needed_erlang_a", "online_agents")


def _concurrency(conn: Reader) -> int:
    """The desk's typical capacity: the median of the enabled accounts' chats at once."""
    caps = [c for (c,) in conn.execute("SELECT capacity FROM users WHERE disabled = 0")]
    return max(1, round(statistics.median(caps))) if caps else 1


def _number(value: float | None, digits: int) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def staffing(conn: Reader, facts: FactsCache, start_ms: int, end_ms: int,
             now_ms: int, tz: tzinfo, desk: DeskConfig) -> dict[str, Any]:
    """Staffing per hour of the week over [start, min(end, now)), and the ETA accuracy."""
    end = max(start_ms, min(end_ms, now_ms))
    goal = Goal(desk.service_level_seconds, desk.service_level_target, _concurrency(conn))
    chats = facts.facts(conn, start_ms, end)
    rows = conn.execute("SELECT agent_id, ts_ms, status FROM agent_presence "
                        "WHERE ts_ms >= ? AND ts_ms < ?", (start_ms - LOOKBACK_MS, end))
    presence = presence_intervals(rows, start_ms, end)
    hours = advice(chats, presence, start_ms, end, tz, goal)
    eta = eta_accuracy(chats)
    return {
        "staffing": {
            "goal": {"answer_within_s": goal.answer_within_s, "target": goal.target,
                     "concurrency": goal.concurrency},
            "hours": [{"weekday": h.weekday, "hour": h.hour, "label": h.label,
                       "hours": h.hours, "requests": h.requests,
                       "arrivals_per_hour": _number(h.arrivals_per_hour, 3),
                       "handle_s": _number(h.handle_s, 1),
                       "patience_s": _number(h.patience_s, 1),
                       "erlang_c": h.erlang_c, "erlang_a": h.erlang_a,
                       "online": _number(h.online, 2)} for h in hours],
        },
        "eta_accuracy": {"count": eta.count, "median_ape": _number(eta.median_ape, 4),
                         "within_30": _number(eta.within_30, 4),
                         "median_bias": _number(eta.median_bias, 4)},
    }


def csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """`staffing.csv`: one row per hour of the week, Monday 00:00 first."""
    return [[h["label"][:3], h["hour"], h["hours"], h["requests"], h["arrivals_per_hour"],
             h["handle_s"], h["patience_s"], h["erlang_c"], h["erlang_a"], h["online"]]
            for h in report["staffing"]["hours"]]
