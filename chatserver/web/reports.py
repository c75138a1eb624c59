"""The reports page (`/admin/reports`), its JSON API and CSV exports, for supervisors and admins.

Every request parses its query (`reports_query`), then one worker thread computes the report
from the event log (`reports_facts` → `reports_aggregate` → `reports_view`) on its own read-only
connection, one report at a time, so a cold year never stalls the chat sockets. The page is
drawn on the server, charts included (`reports_svg`); it needs no script to read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatserver.core.metrics_report import Thresholds, mark_repeat_contacts
from chatserver.reports import reports_csv, reports_staffing
from chatserver.reports.reports_aggregate import REPEAT_WINDOW_DAYS, DayCache, matches
from chatserver.reports.reports_facts import gc_paused
from chatserver.reports.reports_query import BadParameter, ReportQuery, parse
from chatserver.reports.reports_view import AGENT_COLUMNS, build
from chatserver.store.store import Conn, Store

from . import http_fields, reports_page
from .auth import require
from .openapi import Param, api

if TYPE_CHECKING:
    from .hub import Hub

ROLES = ("supervisor", "admin")
# The query every report and CSV takes (reports_query.parse).
PERIOD = (Param("from", "first day, YYYY-MM-DD (30 days before `to` by default)"),
          Param("to", "last day, YYYY-MM-DD (today in the desk's time zone by default)"),
          *(Param(name, f"only this {name}") for name in ("agent", "skill", "topic",
                                                          "language", "label")))


@dataclass
class Reports:
    """The caches behind every report of one app, and the lock that runs one at a time."""

    days: DayCache = field(default_factory=DayCache)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run(self, store: Store, job: Any) -> Any:
        async with self.lock:
            return await asyncio.to_thread(self._in_thread, store, job)

    def _in_thread(self, store: Store, job: Any) -> Any:
        conn = store.backend.read_only()
        try:
            return job(conn)
        finally:
            conn.close()


def reports_of(request: Request) -> Reports:
    state = request.app.state
    if not hasattr(state, "reports"):
        state.reports = Reports()
    reports: Reports = state.reports
    return reports


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _tz(hub: Hub) -> ZoneInfo:
    return ZoneInfo(hub.config.desk.timezone)


def _today(hub: Hub) -> date:
    return datetime.fromtimestamp(hub.service.clock() / 1000, UTC).astimezone(_tz(hub)).date()


def _names(conn: Conn) -> dict[str, str]:
    return {str(i): name for i, name in conn.execute("SELECT id, display_name FROM users")}


def _label_names(conn: Conn) -> dict[str, str]:
    """Every label's current name, deleted ones too: they stay on the chats of their time."""
    return {str(i): name for i, name in conn.execute("SELECT id, name FROM labels")}


async def compute(request: Request, query: ReportQuery) -> dict[str, Any]:
    """The report for `query` as plain data (what `GET /api/reports` sends)."""
    hub, reports = hub_of(request), reports_of(request)
    tz, now = _tz(hub), hub.service.clock()

    def job(conn: Conn) -> dict[str, Any]:
        prev = query.previous()
        with gc_paused():
            counted = reports.days.count(conn, prev.first, query.last, query.filters,
                                         Thresholds(), tz, now)
            report = build(counted, query, names=_names(conn), timezone=str(tz),
                           label_names=_label_names(conn))
            report.update(reports_staffing.staffing(conn, reports.days.facts,
                                                    *query.bounds_ms(tz), now, tz,
                                                    hub.config.desk))
            return report

    result: dict[str, Any] = await reports.run(hub.store, job)
    return result


def bad_parameter(error: BadParameter) -> Response:
    return JSONResponse({"error": error.code, "field": error.field, "message": error.message},
                        status_code=400)


async def _query(request: Request) -> ReportQuery | Response:
    """The report's period from the query string, for staff allowed to read reports; a bad
    parameter is answered 400 naming it."""
    await require(request, *ROLES)
    try:
        return parse(http_fields.query(request), _today(hub_of(request)))
    except BadParameter as e:
        return bad_parameter(e)


@api("The report of a period: volumes, times, agents, labels, staffing", scope="read",
     params=PERIOD)
async def api_report(request: Request) -> Response:
    query = await _query(request)
    if isinstance(query, Response):
        return query
    return JSONResponse(await compute(request, query), headers={"cache-control": "no-store"})


def _csv(name: str, query: ReportQuery, body: str) -> Response:
    filename = f"{name}-{query.first.isoformat()}-{query.last.isoformat()}.csv"
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{filename}"',
        "cache-control": "no-store"})


@api("Download the agents' table of a period as CSV", scope="read", params=PERIOD,
     response_type="text/csv")
async def agents_csv(request: Request) -> Response:
    query = await _query(request)
    if isinstance(query, Response):
        return query
    report = await compute(request, query)
    header = ["agent_id", "agent", *(key for key, _, _ in AGENT_COLUMNS)]
    rows = [[a["id"], a["name"], *(a[key] for key, _, _ in AGENT_COLUMNS)]
            for a in report["agents"]]
    return _csv("agents", query, reports_csv.table(header, rows))


@api("Download the staffing table of a period as CSV", scope="read", params=PERIOD,
     response_type="text/csv")
async def staffing_csv(request: Request) -> Response:
    query = await _query(request)
    if isinstance(query, Response):
        return query
    report = await compute(request, query)
    return _csv("staffing", query, reports_csv.table(reports_staffing.CSV_COLUMNS,
                                                     reports_staffing.csv_rows(report)))


@api("Download every conversation of a period as CSV, a row each", scope="read",
     params=PERIOD, response_type="text/csv")
async def conversations_csv(request: Request) -> Response:
    query = await _query(request)
    if isinstance(query, Response):
        return query
    hub, reports = hub_of(request), reports_of(request)
    tz, now = _tz(hub), hub.service.clock()
    start, end = query.bounds_ms(tz)

    def job(conn: Conn) -> str:
        window = REPEAT_WINDOW_DAYS * 86_400_000
        facts = reports.days.facts.facts(conn, start, max(end, min(end + 2 * window, now + 1)))
        names, labels = _names(conn), _label_names(conn)
        with gc_paused():
            marked = mark_repeat_contacts(facts, window_days=REPEAT_WINDOW_DAYS, as_of_ms=now)
            rows = [reports_csv.conversation_row(f, names, tz, labels) for f in
                    (matches(m, query.filters) for m in marked if start <= m.started_ms < end)
                    if f is not None]
        return reports_csv.table(reports_csv.CONVERSATION_COLUMNS, rows)

    return _csv("conversations", query, await reports.run(hub.store, job))


async def options(request: Request) -> Mapping[str, list[tuple[str, str, bool]]]:
    """What the filter menus offer, as (value, text, deleted): the team, the desk's topics and
    skills, seen languages, and every label (deleted ones last: past periods still carry
    them; the page says "deleted" in its language)."""
    hub = hub_of(request)
    users = await hub.store.fetchall(
        "SELECT id, display_name FROM users ORDER BY lower(display_name)")
    languages = await hub.store.fetchall(
        "SELECT DISTINCT language FROM conversations WHERE language != '' ORDER BY language")
    labels = await hub.store.fetchall(
        "SELECT id, name, deleted FROM labels ORDER BY deleted, lower(name), id")
    topics = hub.config.desk.topics
    langs = [r["language"] for r in languages]
    skills = sorted({*topics.values(), *(f"lang:{code}" for code in langs)})
    return {"agent": [(str(r["id"]), r["display_name"], False) for r in users],
            "topic": [(t, t, False) for t in topics],
            "skill": [(s, s, False) for s in skills],
            "language": [(code, code, False) for code in langs],
            "label": [(str(r["id"]), r["name"], bool(r["deleted"])) for r in labels]}


async def page(request: Request) -> Response:
    return await reports_page.page(request, compute, options, _today(hub_of(request)), ROLES)


routes: list[BaseRoute] = [
    Route("/admin/reports", page, methods=["GET"]),
    Route("/api/reports", api_report, methods=["GET"]),
    Route("/admin/reports/agents.csv", agents_csv, methods=["GET"]),
    Route("/admin/reports/conversations.csv", conversations_csv, methods=["GET"]),
    Route("/admin/reports/staffing.csv", staffing_csv, methods=["GET"]),
]
