"""A report as plain data: headline tiles with their change, the chart series, the agent table.

`build(counted, query, ...)` reads the day tallies of `reports_aggregate` and returns the dict
the JSON API sends and the page renders; every number is a `Summary` field (docs/metrics.md).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chatserver.core.metrics import RESPONSE_TIME_BUCKETS_S
from chatserver.core.metrics_report import Change, _Tally, change

from .reports_aggregate import ALL, Counted
from .reports_query import ReportQuery

QUEUE = ("queue_wait",)
WEEKLY_OVER_DAYS = 62  # past two months a point a day is noise: the series goes weekly


@dataclass(frozen=True)
class Tile:
    key: str  # a `Summary.as_dict` name
    label: str
    unit: str  # "count", "rate" (0..1), "seconds", "points"
    better: str  # "up" or "down": which way is good news
    help: str


TILES = (
    Tile("conversations", "Conversations", "count", "", "Chats started in the range"),
    Tile("service_level", "Service level", "rate", "up",
         "Answered within the target / answered + abandoned after the short-abandon cut"),
    Tile("asa_s", "Average speed of answer", "seconds", "down",
         "Mean wait from asking for a person to an agent accepting"),
    Tile("abandon_rate", "Abandoned", "rate", "down",
         "Left the queue before anyone accepted (short abandons excluded)"),
    Tile("first_response.median", "First response", "seconds", "down",
         "Median time from asking for a person to the first agent line"),
    Tile("handle.median", "Handle time", "seconds", "down",
         "Median time from acceptance to close"),
    Tile("csat", "CSAT", "rate", "up", "Share of survey ratings that are 4 or 5"),
    Tile("nps", "NPS", "points", "up", "% promoters (9-10) - % detractors (0-6)"),
    Tile("containment_rate", "Bot containment", "rate", "up",
         "Closed chats the bot handled without a person"),
    Tile("fcr_rate", "First-contact resolution", "rate", "up",
         "Resolved and no repeat chat on the topic within 7 days"),
)

# The per-agent table: (Summary.as_dict name, column title, unit).
AGENT_COLUMNS = (
    ("handled", "Chats", "count"),
    ("queue_wait.mean", "ASA", "seconds"),
    ("first_response.median", "First response", "seconds"),
    ("response.median", "Response (median)", "seconds"),
    ("response.p90", "Response (p90)", "seconds"),
    ("handle.median", "Handle time", "seconds"),
    ("transfer_rate", "Transferred", "rate"),
    ("answered_without_reply", "No reply", "count"),
    ("nudged", "Silent", "count"),
    ("rerouted_silent", "Re-routed for silence", "count"),
    ("ratings", "Ratings", "count"),
    ("csat", "CSAT", "rate"),
    ("fcr_rate", "FCR", "rate"),
)


def _change_json(c: Change) -> dict[str, float | None]:
    return {"value": c.current, "previous": c.previous, "delta": c.delta,
            "relative": c.relative}


def _buckets(first: date, last: date) -> list[tuple[date, date]]:
    """Days, or Monday-first weeks (clipped to the range) past WEEKLY_OVER_DAYS."""
    if (last - first).days + 1 <= WEEKLY_OVER_DAYS:
        return [(first + timedelta(i), first + timedelta(i))
                for i in range((last - first).days + 1)]
    out, start = [], first
    while start <= last:
        end = min(last, start + timedelta(days=6 - start.weekday()))
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def histogram(values: list[float]) -> list[dict[str, Any]]:
    """Counts per RESPONSE_TIME_BUCKETS_S bound (`le`: at most), the last bucket open-ended."""
    ordered = sorted(values)
    below = [bisect_right(ordered, le) for le in RESPONSE_TIME_BUCKETS_S] + [len(ordered)]
    counts = [n - (below[i - 1] if i else 0) for i, n in enumerate(below)]
    bounds: list[float | None] = [*RESPONSE_TIME_BUCKETS_S, None]
    return [{"le": le, "count": n} for le, n in zip(bounds, counts, strict=True)]


def _kept(key: object) -> tuple[str, ...] | None:
    """The durations a key's total needs: the hour chart reads only the queue wait, the
    label table none (its tallies skip sorting every reply again); the rest, all."""
    if isinstance(key, tuple) and key[0] == "hour":
        return QUEUE
    if isinstance(key, tuple) and key[0] == "label":
        return ()
    return None


def label_rows(totals: Mapping[Any, _Tally], label_names: Mapping[str, str]
               ) -> list[dict[str, Any]]:
    """Chats per label in the range (a chat with two labels counts under each), with
    their outcome and CSAT; most used first."""
    rows = []
    for key, tally in totals.items():
        if not (isinstance(key, tuple) and key[0] == "label"):
            continue
        s = tally.summary()
        rows.append({"id": int(key[1]) if key[1].isdigit() else key[1],
                     "name": label_names.get(key[1], f"#{key[1]}"),
                     "conversations": s.conversations, "handled": s.handled,
                     "fcr_rate": s.fcr_rate, "ratings": s.ratings,
                     "csat": s.csat})
    rows.sort(key=lambda r: (-r["conversations"], r["name"].lower()))
    return rows


def build(counted: Counted, query: ReportQuery, *, names: Mapping[str, str],
          timezone: str, label_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    t = counted.t
    prev = query.previous()
    totals = counted.totals(query.first, query.last, _kept)
    current_tally = totals.get(ALL) or _Tally(t)
    current = current_tally.summary()
    previous = counted.total(prev.first, prev.last).summary()
    changes = change(current, previous)
    tiles = [{"key": tile.key, "label": tile.label, "unit": tile.unit, "better": tile.better,
              "help": tile.help, **_change_json(changes[tile.key])} for tile in TILES]

    hours = []
    for hour in range(24):
        s = (totals.get(("hour", hour)) or _Tally(t)).summary()
        hours.append({"hour": hour, "conversations": s.conversations, "asked": s.asked,
                      "service_level": s.service_level, "asa_s": s.asa_s,
                      "queue_wait_p90_s": s.queue_wait.p90})
    series = []
    for start, end in _buckets(query.first, query.last):
        s = counted.total(start, end, durations=QUEUE).summary()
        series.append({"start": start.isoformat(), "end": end.isoformat(),
                       "conversations": s.conversations, "service_level": s.service_level,
                       "asa_s": s.asa_s, "csat": s.csat, "ratings": s.ratings,
                       "queue_base": s.queue_base})
    agents = []
    for key, tally in totals.items():
        if not (isinstance(key, tuple) and key[0] == "agent"):
            continue
        s = tally.summary()
        agents.append({"id": key[1], "name": names.get(key[1], f"#{key[1]}"),
                       **{name: s.as_dict()[name] for name, _, _ in AGENT_COLUMNS}})
    agents.sort(key=lambda a: (-(a["handled"] or 0), a["name"].lower()))
    responses = current_tally.durations.get("response", [])
    return {
        "range": {"from": query.first.isoformat(), "to": query.last.isoformat(),
                  "days": query.days, "timezone": timezone,
                  "previous_from": prev.first.isoformat(), "previous_to": prev.last.isoformat()},
        "filters": query.filters.as_params(),
        "thresholds": {"answer_within_s": t.answer_within_s,
                       "short_abandon_s": t.short_abandon_s},
        "tiles": tiles,
        "summary": current.as_dict(),
        "previous": previous.as_dict(),
        "by_hour": hours,
        "series": {"unit": "day" if len(series) == query.days else "week", "points": series},
        "response_times": {"count": current.response.count, "median": current.response.median,
                           "p90": current.response.p90, "buckets": histogram(responses)},
        "agent_columns": [{"key": k, "label": label, "unit": unit}
                          for k, label, unit in AGENT_COLUMNS],
        "agents": agents,
        "labels": label_rows(totals, label_names or {}),
    }

