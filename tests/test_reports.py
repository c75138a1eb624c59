"""Reports: real conversations over real sockets show up in the JSON API, the CSVs and the page;
roles and parameters are checked; the cached, trimmed read of the log equals a plain fold."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from bench.reports_bench import generate
from chatserver.core.conversation import Event
from chatserver.core.metrics import facts_from_events
from chatserver.core.metrics_report import Thresholds, summarize
from chatserver.reports.reports_aggregate import DayCache
from chatserver.reports.reports_csv import BOM, cell
from chatserver.reports.reports_facts import FactsCache
from chatserver.reports.reports_query import BadParameter, Filters, parse
from chatserver.reports.reports_view import build
from chatserver.store import copy
from chatserver.store.store import backend_for

from .databases import BACKENDS, postgres_database
from .harness import Server, add_user
from .store_rows import connection

# --- the pure parts ------------------------------------------------------------------------


def test_query_defaults_to_the_last_seven_days_and_names_bad_parameters() -> None:
    today = date(2026, 3, 10)
    q = parse({}, today)
    assert (q.first, q.last, q.days) == (date(2026, 3, 4), today, 7)
    assert q.previous().last == date(2026, 3, 3) and q.previous().days == 7
    start, end = parse({"from": "2026-03-29", "to": "2026-03-29"}, today).bounds_ms(
        ZoneInfo("Europe/Berlin"))
    assert end - start == 23 * 3_600_000  # the spring-forward day has 23 hours
    for params, field in [({"from": "2026-13-01"}, "from"), ({"to": "yesterday"}, "to"),
                          ({"from": "2026-03-05", "to": "2026-03-01"}, "from"),
                          ({"from": "2020-01-01"}, "from"), ({"agent": "ana"}, "agent"),
                          ({"topic": "<script>"}, "topic"), ({"language": "x" * 65}, "language")]:
        with pytest.raises(BadParameter) as e:
            parse(params, today)
        assert e.value.field == field and e.value.message.startswith(field)


def test_csv_cells_never_start_a_formula() -> None:
    assert [cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "plain", "آنا")] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain", "آنا"]
    assert [cell(v) for v in (None, True, 1.23456, -3)] == ["", "yes", 1.235, -3]


@pytest.fixture(scope="module", params=BACKENDS)
def year_db(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, datetime]]:
    """A year of a desk in a SQLite file, or moved from one into a PostgreSQL database by
    `chatserver db copy`."""
    end = datetime(2026, 3, 1, tzinfo=UTC)
    db = tmp_path_factory.mktemp("year") / "chat.db"
    generate(db, target_events=6000, end=end, seed=3)
    if request.param == "sqlite":
        yield str(db), end
        return
    with postgres_database() as url:
        messages = io.StringIO()
        assert copy.run(str(db), url, messages, messages) == 0, messages.getvalue()
        yield url, end


def test_trimmed_cached_read_gives_the_same_facts_as_a_plain_fold(year_db) -> None:
    db, _ = year_db
    with connection(db) as conn:
        rows = conn.execute("SELECT conversation_id, seq, type, author, payload, client_id, "
                            "ts_ms FROM events ORDER BY conversation_id, seq").fetchall()
        visitors = dict(conn.execute("SELECT id, visitor_id FROM conversations"))
    plain = {f.conversation_id: f for f in facts_from_events(
        (Event(c, s, t, a, json.loads(p), i, ts) for c, s, t, a, p, i, ts in rows), visitors)}
    cache = FactsCache()
    conn = backend_for(db).read_only()
    try:
        cold = cache.facts(conn, 0, 2**62)
        assert cache.reads == len(plain) > 300
        warm = cache.facts(conn, 0, 2**62)
        assert cache.reads == len(plain)  # every closed chat came from the cache
        assert {f.conversation_id: f for f in cold} == plain == {
            f.conversation_id: f for f in warm}
        one_pass = FactsCache(range_pass_over=0).facts(conn, 0, 2**62)  # not by id: one scan
        assert {f.conversation_id: f for f in one_pass} == plain
        # A late survey moves last_seq: that chat alone is read again.
        cid = next(iter(plain))
        with connection(db) as rw:
            seq = rw.execute("SELECT last_seq FROM conversations WHERE id = ?",
                             (cid,)).fetchone()[0]
            rw.execute("INSERT INTO events VALUES (?, ?, 'survey', 'visitor', ?, NULL, ?)",
                       (cid, seq + 1, '{"rating": 1}', plain[cid].started_ms + 10**6))
            rw.execute("UPDATE conversations SET last_seq = ? WHERE id = ?", (seq + 1, cid))
        again = {f.conversation_id: f for f in cache.facts(conn, 0, 2**62)}
        assert cache.reads == len(plain) + 1
        assert again[cid].survey is not None and again[cid].survey.rating in (1, 2, 3, 4, 5)
    finally:
        conn.close()


def test_day_tallies_merge_to_the_plain_summary_and_are_reused(year_db) -> None:
    db, end = year_db
    tz = ZoneInfo("America/New_York")
    now_ms = int(end.timestamp() * 1000)
    today = end.astimezone(tz).date()
    q = parse({"from": (today - timedelta(days=364)).isoformat()}, today)
    days = DayCache()
    conn = backend_for(db).read_only()
    try:
        counted = days.count(conn, q.previous().first, q.last, Filters(), Thresholds(), tz,
                             now_ms)
        first = days.recounted
        report = build(counted, q, names={}, timezone=str(tz))
        days.count(conn, q.previous().first, q.last, Filters(), Thresholds(), tz, now_ms)
        assert days.recounted - first <= 8  # only days whose repeat window is still open
        start, stop = q.bounds_ms(tz)
        facts = [f for f in days.facts.facts(conn, 0, 2**62) if start <= f.started_ms < stop]
    finally:
        conn.close()
    plain = summarize(replace(f, repeat_contact=None) for f in facts)
    ours = report["summary"]
    for key in ("conversations", "asked", "answered", "abandoned", "service_level",
                "queue_wait.p90", "response.median", "handle.p95", "csat", "nps",
                "containment_rate"):
        assert ours[key] == pytest.approx(plain.as_dict()[key]), key
    assert ours["fcr_base"] > 0  # repeat contacts were marked
    assert sum(h["conversations"] for h in report["by_hour"]) == ours["conversations"]
    assert sum(p["conversations"] for p in report["series"]["points"]) == ours["conversations"]
    assert report["series"]["unit"] == "week"
    assert sum(b["count"] for b in report["response_times"]["buckets"]) == ours[
        "response.count"]


# --- the real server -----------------------------------------------------------------------


def send(ws: ClientConnection, **frame) -> None:
    ws.send(json.dumps(frame))


def until(ws: ClientConnection, kind: str, **match) -> dict:
    while True:
        frame = json.loads(ws.recv(timeout=10))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


def visitor_hello(ws: ClientConnection, name: str) -> None:
    send(ws, type="hello", name=name, language="en")
    until(ws, "welcome")


def login(server: Server, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, cookies=server.login(username))
    return client


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory):
    """A server where three real chats happened: answered and rated 5, abandoned, bot-only."""
    server = Server(tmp_path_factory.mktemp("reports"))
    add_user(server.db, "ana", skills={"lang:en": 5}, display_name="=Ana آنا")
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    add_user(server.db, "root", role="admin")
    add_user(server.db, "bob", role="agent")
    server.start()
    cookie = "; ".join(f"{k}={v}" for k, v in server.login("ana").items())
    with connect(server.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as agent:
        send(agent, type="hello")
        send(agent, type="status", status="online")
        until(agent, "status")
        # 1. Answered by Ana, resolved, rated 5 with NPS 10.
        with connect(server.ws + "/ws/visitor") as rita:
            visitor_hello(rita, "Rita")
            send(rita, type="request_human", id=str(uuid.uuid4()))
            cid = until(agent, "offer")["conversation"]["id"]
            send(agent, type="accept", id=str(uuid.uuid4()), conversation_id=cid)
            until(rita, "assigned")
            send(rita, type="message", id=str(uuid.uuid4()), text="Where is my parcel?")
            until(agent, "message", **{"from": "visitor"})
            send(agent, type="message", id=str(uuid.uuid4()), conversation_id=cid,
                 text="On its way.")
            until(rita, "message", **{"from": "agent"})
            send(agent, type="close", id=str(uuid.uuid4()), conversation_id=cid,
                 resolved=True)
            until(rita, "survey_request")
            send(rita, type="survey", id="s1", rating=5, nps=10)
            until(rita, "ack", id="s1")
        # 2. Abandoned: offered to Ana, the visitor leaves before she accepts.
        with connect(server.ws + "/ws/visitor") as omid:
            visitor_hello(omid, "Omid")
            send(omid, type="request_human", id=str(uuid.uuid4()))
            until(agent, "offer")
            send(omid, type="close", id="c2")
            until(omid, "ack", id="c2")
        # 3. Bot only: a question the knowledge base answers, then goodbye.
        with connect(server.ws + "/ws/visitor") as bea:
            visitor_hello(bea, "Bea")
            send(bea, type="message", id=str(uuid.uuid4()), text="how can I track my order?")
            until(bea, "message", **{"from": "bot"})
            send(bea, type="close", id="c3")
            until(bea, "ack", id="c3")
    yield server
    server.stop()


def test_the_api_counts_what_happened(desk: Server) -> None:
    with login(desk, "sue") as sue:
        report = sue.get("/api/reports").json()
    s = report["summary"]
    assert (s["conversations"], s["closed"], s["asked"], s["answered"], s["abandoned"],
            s["handled"]) == (3, 3, 2, 1, 1, 1)
    assert (s["ratings"], s["csat"], s["nps"]) == (1, 1.0, 100.0)
    assert (s["contained"], s["containment_base"]) == (1, 3)
    assert s["response.count"] == 1 and s["first_response.count"] == 1
    assert report["range"]["days"] == 7 and report["range"]["timezone"] == "UTC"
    tiles = {t["key"]: t for t in report["tiles"]}
    assert tiles["conversations"]["value"] == 3 and tiles["conversations"]["previous"] == 0
    [ana] = report["agents"]
    assert (ana["name"], ana["handled"], ana["ratings"], ana["csat"]) == ("=Ana آنا", 1, 1, 1.0)
    assert sum(h["conversations"] for h in report["by_hour"]) == 3
    assert sum(b["count"] for b in report["response_times"]["buckets"]) == 1


def test_filters_narrow_the_report(desk: Server) -> None:
    with login(desk, "root") as root:
        agent_id = str(root.get("/api/reports").json()["agents"][0]["id"])
        mine = root.get("/api/reports", params={"agent": agent_id}).json()["summary"]
        french = root.get("/api/reports", params={"language": "fr"}).json()["summary"]
        past = root.get("/api/reports", params={"from": "2024-01-01",
                                                "to": "2024-01-31"}).json()
    assert (mine["conversations"], mine["handled"], mine["ratings"]) == (1, 1, 1)
    assert french["conversations"] == 0 and french["csat"] is None
    assert past["summary"]["conversations"] == 0 and past["series"]["unit"] == "day"


def test_csv_exports_match_the_chats(desk: Server) -> None:
    with login(desk, "sue") as sue:
        conversations = sue.get("/admin/reports/conversations.csv")
        agents = sue.get("/admin/reports/agents.csv")
    assert conversations.headers["content-type"].startswith("text/csv")
    assert "attachment" in conversations.headers["content-disposition"]
    assert conversations.text.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(conversations.text.removeprefix(BOM))))
    assert len(rows) == 3
    rated = [r for r in rows if r["rating"]]
    assert len(rated) == 1 and rated[0]["rating"] == "5" and rated[0]["nps"] == "10"
    assert rated[0]["agents"] == "'=Ana آنا" and rated[0]["resolved"] == "yes"
    assert sorted(r["abandoned"] for r in rows) == ["no", "no", "yes"]
    [ana] = list(csv.DictReader(io.StringIO(agents.text.removeprefix(BOM))))
    assert ana["agent"] == "'=Ana آنا" and ana["handled"] == "1" and ana["csat"] == "1.0"


def test_the_page_shows_tiles_charts_and_agents(desk: Server) -> None:
    with login(desk, "sue") as sue:
        page = sue.get("/admin/reports")
        bad = sue.get("/admin/reports", params={"from": "soon"})
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    html = page.text
    assert 'href="/admin/reports" aria-current="page"' in html
    assert html.count('<svg class="chart"') == 5 and "<script" not in html.split(
        "</main>")[0]
    assert '<div class="tile" data-key="csat"' in html and "100.0%" in html
    assert "=Ana آنا" in html and "Conversations CSV" in html
    assert bad.status_code == 400 and "From: not a date" in bad.text


@pytest.mark.parametrize("path", ["/admin/reports", "/api/reports",
                                  "/admin/reports/agents.csv",
                                  "/admin/reports/conversations.csv"])
def test_only_supervisors_and_admins_see_reports(desk: Server, path: str) -> None:
    with login(desk, "bob") as bob:
        assert bob.get(path).status_code == 403
    anonymous = httpx.get(desk.url + path)
    if path == "/admin/reports":
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    else:
        assert anonymous.status_code == 401


def test_bad_parameters_are_400_naming_the_parameter(desk: Server) -> None:
    with login(desk, "sue") as sue:
        for params, field in [({"from": "2026-02-30"}, "from"), ({"to": "x"}, "to"),
                              ({"skill": "a b"}, "skill"), ({"agent": "-1"}, "agent")]:
            response = sue.get("/api/reports", params=params)
            assert response.status_code == 400
            assert response.json()["field"] == field
