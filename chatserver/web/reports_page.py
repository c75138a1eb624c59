"""The reports page as HTML: number formatting, the charts, and the template around them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chatserver.reports import reports_svg as svg
from chatserver.reports.reports_query import BadParameter, ReportQuery, parse

from . import http_fields
from .catalogue import N_
from .pages import ENV, NO_STORE, page_context, page_user

PRESETS = (("7 days", 7), ("30 days", 30), ("90 days", 90), ("12 months", 365))


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "seconds":
        s = round(value)
        if s < 60:
            return f"{value:.0f}s" if value >= 10 else f"{value:.1f}s"
        if s < 3600:
            return f"{s // 60}m {s % 60:02d}s"
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if unit == "points":
        return f"{value:+.0f}"
    return f"{value:,.0f}"


def delta(tile: Mapping[str, Any]) -> tuple[str, str]:
    """The change from the previous period as text and a class: good, bad or flat."""
    d, rel, unit = tile["delta"], tile["relative"], tile["unit"]
    if d is None:
        return "no earlier data", "flat"
    if unit == "rate":
        text = f"{d * 100:+.1f} pts"
    elif unit == "points":
        text = f"{d:+.0f} pts"
    elif rel is None:
        text = f"{d:+,.0f}" if unit == "count" else f"{d:+.0f}s"
    else:
        text = f"{rel * 100:+.0f}%"
    text = text.replace("-", "−")
    if not any(ch in "123456789" for ch in text) or not tile["better"]:  # rounds to nothing
        return text, "flat"
    good = (d > 0) == (tile["better"] == "up")
    return text, "good" if good else "bad"


def _short(day: str) -> str:
    return date.fromisoformat(day).strftime("%b %-d")


def charts(report: Mapping[str, Any]) -> dict[str, Markup]:
    hours = report["by_hour"]
    points = report["series"]["points"]
    unit = report["series"]["unit"]
    target = report["thresholds"]["answer_within_s"]
    every = max(1, len(points) // 8)
    rt = report["response_times"]
    labels = [f"≤{b['le']:g}s" if b["le"] is not None and b["le"] < 60 else
              (f"≤{b['le'] / 60:g}m" if b["le"] is not None else ">30m") for b in rt["buckets"]]
    return {
        "volume": svg.bars_and_line(
            "Volume and wait by hour of day",
            [svg.Point(f"{h['hour']:02d}", h["conversations"],
                       f"{h['asked']} asked for a person") for h in hours], "chats",
            [svg.Point(f"{h['hour']:02d}", h["asa_s"]) for h in hours],
            "avg wait", lambda v: fmt(v, "seconds"), every=3),
        "service": svg.lines(
            f"Service level by {unit} (answered within {target:g}s)",
            [svg.Point(_short(p["start"]), p["service_level"],
                       f"{p['queue_base']} in the queue") for p in points],
            "service level", lambda v: f"{v * 100:.0f}%", target=0.8, every=every),
        "responses": svg.histogram(
            "Agent response times",
            [svg.Point(label, b["count"]) for label, b in zip(labels, rt["buckets"],
                                                              strict=True)], "replies"),
        "csat": svg.lines(
            f"CSAT by {unit}",
            [svg.Point(_short(p["start"]), p["csat"], f"{p['ratings']} ratings")
             for p in points], "CSAT", lambda v: f"{v * 100:.0f}%", every=every),
        "staffing": staffing_chart(report),
    }


def staffing_chart(report: Mapping[str, Any]) -> Markup:
    """Agents online per hour of the week (bars) beside those Erlang C and A say are needed."""
    hours = report["staffing"]["hours"]
    label = [h["label"][:3] if h["hour"] == 0 else h["label"] for h in hours]
    return svg.staffing(
        "Agents online and needed by hour of the week",
        [svg.Point(x, h["online"], f"{h['requests']} requests") for x, h in zip(
            label, hours, strict=True)],
        [(name, [svg.Point(x, h[key]) for x, h in zip(label, hours, strict=True)])
         for name, key in (("needed (Erlang C)", "erlang_c"), ("needed (Erlang A)", "erlang_a"))])


def presets(query: ReportQuery, today: date) -> list[tuple[str, str, bool]]:
    out = []
    for label, days in PRESETS:
        first = today - timedelta(days=days - 1)
        q = ReportQuery(first, today, query.filters)
        out.append((label, q.query_string(), (query.first, query.last) == (first, today)))
    return out


Compute = Callable[[Request, ReportQuery], Awaitable[dict[str, Any]]]
Options = Callable[[Request], Awaitable[Mapping[str, Sequence[tuple[str, str]]]]]


async def page(request: Request, compute: Compute, options: Options, today: date,
               roles: Sequence[str]) -> Response:
    user = await page_user(request, *roles)
    if isinstance(user, Response):
        return user
    error, status = None, 200
    try:
        query = parse(http_fields.query(request), today)
    except BadParameter as e:
        error, status = e, 400
        query = parse({}, today)
    report = await compute(request, query)
    context = {
        **page_context(request, user),
        "user": user, "csrf": user["csrf"], "title": N_("Reports"), "report": report,
        "query": query,
        "error": error, "options": await options(request), "charts": charts(report),
        "presets": presets(query, today), "fmt": fmt, "delta": delta,
        "qs": query.query_string(),
    }
    html = ENV.get_template("reports.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=NO_STORE)
